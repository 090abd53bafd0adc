#!/usr/bin/env bash
# Offline checks of deploy/, run from the repository root: bash deploy/check.sh
#
#   1. every YAML file under deploy/ parses (all documents); compose.yaml's and the
#      Kubernetes manifests' references resolve (deploy/check.py)
#   2. the Prometheus alert rules pass `promtool check rules` and their unit tests
#      (`promtool test rules`); the Prometheus config passes `promtool check config`
#   3. every dashboard JSON parses, and every metric that the dashboards and the alert
#      rules name is a string literal in the Rust sources under processors/
#
# Environment:
#   DEPLOY_CHECK_METRICS=skip  skip step 3's metric lookup (the rest still runs)
#   PARLEY_SOURCES=DIR         where to look the metric names up (default: processors)
#
# Needs python3 with PyYAML and promtool; as root on Debian it installs what is missing
# (`pip install pyyaml`, `apt-get install prometheus`, which provides promtool).
set -euo pipefail

cd "$(dirname "$0")/.."

passed=0
failed=0
skipped=0
failures=()

step() {
  local name=$1
  shift
  printf '\n--- %s\n' "$name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name")
  fi
}

need_pyyaml() {
  python3 -c 'import yaml' 2>/dev/null && return 0
  echo "PyYAML is missing: pip install pyyaml"
  python3 -m pip install --quiet pyyaml
}

need_promtool() {
  command -v promtool >/dev/null && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "promtool is missing: apt-get install prometheus"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  fi
  command -v promtool >/dev/null || {
    echo "FAIL promtool not found; install Debian's prometheus package (or Prometheus' release) first"
    return 1
  }
}

promtool_rules() {
  need_promtool || return 1
  promtool check rules deploy/prometheus/rules/*.yml &&
    promtool test rules deploy/prometheus/tests/*.yml
}

promtool_config() {
  need_promtool || return 1
  promtool check config deploy/prometheus/prometheus.yml
}

kustomize_build() {
  if ! command -v kubectl >/dev/null; then
    echo "skipped: kubectl not installed (deploy/check.py k8s still checked the manifests)"
    return 0
  fi
  local rendered
  rendered=$(kubectl kustomize deploy/k8s) || {
    echo "FAIL kubectl kustomize deploy/k8s failed"
    return 1
  }
  echo "ok   kubectl kustomize deploy/k8s: $(grep -c '^kind:' <<<"$rendered") objects"
}

need_pyyaml
step "YAML parses" python3 deploy/check.py yaml
step "compose references" python3 deploy/check.py compose
step "Kubernetes manifests" python3 deploy/check.py k8s
step "kustomize build" kustomize_build
step "promtool: alert rules and their tests" promtool_rules
step "promtool: Prometheus config" promtool_config
step "dashboards parse" python3 deploy/check.py dashboards
if [[ ${DEPLOY_CHECK_METRICS:-} == skip ]]; then
  printf '\n--- metric names exported by the code\nskipped (DEPLOY_CHECK_METRICS=skip)\n'
  skipped=$((skipped + 1))
else
  step "metric names exported by the code" python3 deploy/check.py metrics
fi

echo
for name in "${failures[@]+"${failures[@]}"}"; do
  echo "failed: $name"
done
echo "deploy: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
