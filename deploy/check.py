#!/usr/bin/env python3
"""Offline checks of deploy/, one subcommand per step; deploy/check.sh runs them all.

  python3 deploy/check.py yaml        every YAML file parses (all documents)
  python3 deploy/check.py compose     compose.yaml's references resolve
  python3 deploy/check.py k8s         the manifests are complete and consistent
  python3 deploy/check.py dashboards  every dashboard JSON parses and is well formed
  python3 deploy/check.py metrics     every metric the dashboards and alert rules name
                                      is a string literal in the Rust sources

Each prints what it checked and exits 1 naming the file and the problem on failure.
The metric check reads the sources under $PARLEY_SOURCES (default: processors/).
"""

import json
import os
import re
import sys
import tomllib
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent

# A parley metric name in a PromQL expression. Recording rules are named with colons
# (topic:parley_consumer_lag:sum) and are not metrics of the code: the look-arounds keep
# the name from matching inside them.
METRIC = re.compile(r"(?<![A-Za-z0-9_:])parley_[a-z0-9_]+(?![A-Za-z0-9_:])")
RECORDING = re.compile(r"(?<![A-Za-z0-9_:])[a-z_][a-z0-9_]*:[a-z0-9_:]+(?![A-Za-z0-9_:])")
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


class Failures:
    """Collects problems so one run reports all of them."""

    def __init__(self):
        self.problems = []

    def add(self, path, message):
        self.problems.append(f"{rel(path)}: {message}")

    def mark(self):
        """`ok` before a summary line while nothing failed."""
        return "ok  " if not self.problems else "    "

    def finish(self, what):
        for problem in self.problems:
            print(f"FAIL {problem}")
        if self.problems:
            print(f"{what}: {len(self.problems)} problem(s)")
            sys.exit(1)


def rel(path):
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def load_yaml_documents(path):
    import yaml

    with open(path, encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def yaml_files():
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yml", ".yaml"))


def check_yaml():
    import yaml

    failures = Failures()
    for path in yaml_files():
        try:
            docs = load_yaml_documents(path)
        except yaml.YAMLError as error:
            failures.add(path, f"does not parse as YAML: {error}")
            continue
        if not docs:
            failures.add(path, "holds no YAML document")
            continue
        print(f"ok   {rel(path)}: {len(docs)} document(s)")
    failures.finish("yaml")


def check_compose():
    failures = Failures()
    path = DEPLOY / "compose.yaml"
    (compose,) = load_yaml_documents(path)
    services = compose.get("services") or {}
    volumes = compose.get("volumes") or {}
    for name, service in services.items():
        if not service.get("image") and not service.get("build"):
            failures.add(path, f"service {name!r} has neither image nor build")
        build = service.get("build")
        if build:
            context = (DEPLOY / build.get("context", ".")).resolve()
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            if not dockerfile.is_file():
                failures.add(path, f"service {name!r} builds with {rel(dockerfile)}, which does not exist")
        depends = service.get("depends_on") or {}
        for other in depends if isinstance(depends, (list, dict)) else []:
            if other not in services:
                failures.add(path, f"service {name!r} depends on {other!r}, which is not a service")
        for mount in service.get("volumes") or []:
            source = mount.split(":", 1)[0] if isinstance(mount, str) else mount.get("source", "")
            if source.startswith((".", "/")):
                if not (DEPLOY / source).exists():
                    failures.add(path, f"service {name!r} mounts {source}, which does not exist")
            elif source not in volumes:
                failures.add(path, f"service {name!r} mounts volume {source!r}, which is not declared")
    print(f"{failures.mark()} {rel(path)}: {len(services)} services, {len(volumes)} volumes")
    failures.finish("compose")


WORKLOADS = ("Deployment", "StatefulSet", "Job")


def check_k8s():
    failures = Failures()
    k8s = DEPLOY / "k8s"
    kustomization_path = k8s / "kustomization.yaml"
    (kustomization,) = load_yaml_documents(kustomization_path)
    docs = []
    for resource in kustomization.get("resources", []):
        path = k8s / resource
        if not path.is_file():
            failures.add(kustomization_path, f"lists {resource}, which does not exist")
            continue
        docs += [(path, doc) for doc in load_yaml_documents(path)]
    # Files not listed (optional resources) must still be sound.
    listed = {k8s / r for r in kustomization.get("resources", [])}
    for path in sorted(k8s.glob("*.yaml")):
        if path not in listed and path != kustomization_path:
            docs += [(path, doc) for doc in load_yaml_documents(path)]

    services = {}
    pod_labels = []
    for path, doc in docs:
        kind, meta = doc.get("kind"), doc.get("metadata") or {}
        name = meta.get("name")
        if not doc.get("apiVersion") or not kind or not name:
            failures.add(path, "a document lacks apiVersion, kind or metadata.name")
            continue
        if "namespace" in meta:
            failures.add(path, f"{kind} {name} sets a namespace; the manifests are namespace-free")
        if kind == "Service":
            services[name] = doc["spec"]
        if kind == "ConfigMap":
            for key, text in (doc.get("data") or {}).items():
                if key.endswith(".toml"):
                    try:
                        tomllib.loads(text)
                    except tomllib.TOMLDecodeError as error:
                        failures.add(path, f"ConfigMap {name} key {key} is not TOML: {error}")
        if kind in WORKLOADS:
            template = doc["spec"]["template"]
            labels = template.get("metadata", {}).get("labels", {})
            pod_labels.append((kind, name, labels))
            selector = doc["spec"].get("selector", {}).get("matchLabels")
            if kind != "Job" and not selector_matches(selector, labels):
                failures.add(path, f"{kind} {name}: selector {selector} does not match its pod labels")
            check_pod(failures, path, doc)
    for path, doc in docs:
        kind, name = doc.get("kind"), doc["metadata"]["name"]
        if kind == "StatefulSet":
            service = services.get(doc["spec"].get("serviceName"))
            if service is None or service.get("clusterIP") != "None":
                failures.add(path, f"StatefulSet {name}: serviceName is not a headless Service here")
            if not doc["spec"].get("volumeClaimTemplates"):
                failures.add(path, f"StatefulSet {name} has no volumeClaimTemplates")
        if kind in ("PodDisruptionBudget", "Service"):
            spec = doc["spec"]
            selector = spec["selector"].get("matchLabels") if kind == "PodDisruptionBudget" else spec["selector"]
            if not any(selector_matches(selector, labels) for _, _, labels in pod_labels):
                failures.add(path, f"{kind} {name}: selector {selector} matches no pod template")
    kinds = sorted({doc["kind"] for _, doc in docs})
    optional = sum(1 for path, _ in docs if path not in listed)
    print(
        f"{failures.mark()} deploy/k8s: {len(docs)} objects ({', '.join(kinds)}), "
        f"{optional} of them in files kustomization.yaml does not list"
    )
    failures.finish("k8s")


def selector_matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_pod(failures, path, doc):
    kind, name = doc["kind"], doc["metadata"]["name"]
    template = doc["spec"]["template"]
    spec = template["spec"]
    annotations = template.get("metadata", {}).get("annotations", {})
    volumes = {v["name"] for v in spec.get("volumes", [])}
    volumes |= {t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates", [])}
    for container in spec["containers"]:
        what = f"{kind} {name} container {container['name']}"
        resources = container.get("resources", {})
        if not resources.get("requests") or not resources.get("limits"):
            failures.add(path, f"{what} lacks resource requests or limits")
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in volumes:
                failures.add(path, f"{what} mounts {mount['name']!r}, neither a volume nor a claim template")
        if kind == "Job":
            continue
        ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
        for probe, path_wanted in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = (container.get(probe) or {}).get("httpGet")
            if not get:
                failures.add(path, f"{what} has no {probe}")
                continue
            if get.get("path") != path_wanted:
                failures.add(path, f"{what} {probe} asks {get.get('path')}, not {path_wanted}")
            port = get.get("port")
            if isinstance(port, str) and port not in ports:
                failures.add(path, f"{what} {probe} names port {port!r}, which the container lacks")
        if annotations.get("prometheus.io/scrape") != "true":
            failures.add(path, f'{kind} {name} is not annotated prometheus.io/scrape: "true"')
        port = annotations.get("prometheus.io/port")
        if port is None or int(port) not in ports.values():
            failures.add(path, f"{kind} {name}: prometheus.io/port {port} is not a container port")


def dashboard_files():
    return sorted((DEPLOY / "grafana").rglob("*.json"))


def walk_queries(node):
    """Yields every PromQL string of a dashboard: targets' expr, variables' query/definition."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "query", "definition") and isinstance(value, str):
                yield value
            else:
                yield from walk_queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_queries(item)


def check_dashboards():
    failures = Failures()
    files = dashboard_files()
    if not files:
        failures.add(DEPLOY / "grafana", "holds no dashboard JSON")
    for path in files:
        try:
            dashboard = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            failures.add(path, f"is not JSON: {error}")
            continue
        for field in ("uid", "title", "panels"):
            if field not in dashboard:
                failures.add(path, f"has no {field!r}")
        panels = list(all_panels(dashboard.get("panels", [])))
        ids = [p.get("id") for p in panels]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            failures.add(path, f"panel ids {duplicates} are used twice")
        for panel in panels:
            if panel.get("type") != "row" and not panel.get("targets"):
                failures.add(path, f"panel {panel.get('title')!r} has no query")
        metrics = sorted(dashboard_metrics(dashboard))
        print(f"{failures.mark()} {rel(path)}: {len(panels)} panels, {len(metrics)} metrics")
    failures.finish("dashboards")


def all_panels(panels):
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def base_name(name):
    for suffix in HISTOGRAM_SERIES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def dashboard_metrics(dashboard):
    return {base_name(m) for query in walk_queries(dashboard) for m in METRIC.findall(query)}


def rule_files():
    return sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))


def rules_metrics(path):
    """The parley metrics an alert rule file reads, and its recording rules' use and names."""
    metrics, used, recorded = set(), set(), set()
    for doc in load_yaml_documents(path):
        for group in doc.get("groups", []):
            for rule in group.get("rules", []):
                if "record" in rule:
                    recorded.add(rule["record"])
                expr = str(rule.get("expr", ""))
                metrics |= {base_name(m) for m in METRIC.findall(expr)}
                used |= set(RECORDING.findall(expr))
    return metrics, used, recorded


def rust_string_literals(text):
    """The contents of every string literal in Rust source, comments skipped."""
    literals, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" or (c == "b" and text.startswith("br", i)):
            start = i + (2 if c == "b" else 1)
            match = re.match(r'(#*)"', text[start:])
            ident_before = i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")
            if match and not ident_before:
                hashes = match.group(1)
                body = start + len(match.group(0))
                end = text.find('"' + hashes, body)
                end = n if end < 0 else end
                literals.append(text[body:end])
                i = end + 1 + len(hashes)
            else:
                i += 1
        elif c == '"':
            j, chunk = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    chunk.append(text[j : j + 2])
                    j += 2
                else:
                    chunk.append(text[j])
                    j += 1
            literals.append("".join(chunk))
            i = j + 1
        elif c == "'":
            # A char literal ('"', '\'', '\u{22}') or a lifetime ('a): skip the former whole.
            if text.startswith("\\", i + 1):
                end = text.find("'", i + 3)
                i = n if end < 0 else end + 1
            elif i + 2 < n and text[i + 2] == "'":
                i += 3
            else:
                i += 1
        else:
            i += 1
    return literals


def check_metrics():
    failures = Failures()
    sources = Path(os.environ.get("PARLEY_SOURCES", ROOT / "processors"))
    rust_files = sorted(sources.rglob("*.rs")) if sources.is_dir() else []
    if not rust_files:
        failures.add(sources, "holds no Rust source (*.rs) to look the metric names up in")
        failures.finish("metrics")
    literals = [lit for path in rust_files for lit in rust_string_literals(path.read_text(encoding="utf-8"))]

    def exported(name):
        short = name[len("parley_") :]
        for candidate in (name, short):
            pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(candidate)}(?![A-Za-z0-9_])")
            if any(pattern.search(lit) for lit in literals):
                return True
        return False

    wanted = {}
    for path in dashboard_files():
        for metric in dashboard_metrics(json.loads(path.read_text(encoding="utf-8"))):
            wanted.setdefault(metric, []).append(path)
    for path in rule_files():
        metrics, used, recorded = rules_metrics(path)
        for metric in metrics:
            wanted.setdefault(metric, []).append(path)
        all_recorded = set().union(*(rules_metrics(p)[2] for p in rule_files()))
        for name in sorted(used - all_recorded):
            failures.add(path, f"reads recording rule {name}, which no rule file records")
    for metric in sorted(wanted):
        where = ", ".join(rel(p) for p in wanted[metric])
        if exported(metric):
            print(f"ok   {metric} (in {where})")
        else:
            for path in wanted[metric]:
                failures.add(
                    path,
                    f"names metric {metric}, which is not a string literal "
                    f"(as {metric} or {metric[len('parley_'):]}) in any {rel(sources)}/**/*.rs",
                )
    print(f"metrics: {len(wanted)} names looked up in {len(rust_files)} Rust files under {rel(sources)}")
    failures.finish("metrics")


STEPS = {
    "yaml": check_yaml,
    "compose": check_compose,
    "k8s": check_k8s,
    "dashboards": check_dashboards,
    "metrics": check_metrics,
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in STEPS:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(STEPS)}")
    import yaml

    try:
        STEPS[sys.argv[1]]()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{rel(mark.name)}:{mark.line + 1}" if mark else "a YAML file"
        print(f"FAIL {where}: does not parse as YAML, so this step cannot run")
        sys.exit(1)
