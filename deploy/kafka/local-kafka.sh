#!/usr/bin/env bash
# A local Apache Kafka 4.4.0 for trying parley: one node, broker and KRaft controller in one
# process, on 127.0.0.1, with transactions (parley's default exactly_once) configured for a
# single broker. The same broker the tests start (processors/testkit/src/kafka.rs).
#
#   deploy/kafka/local-kafka.sh                 # foreground; Ctrl-C stops it
#   deploy/kafka/local-kafka.sh --port 9192     # another listener port (controller: port+1)
#   deploy/kafka/local-kafka.sh --reset         # start from empty storage
#   deploy/kafka/local-kafka.sh --fetch-only    # fetch the jars and exit (CI does)
#
# Needs Java 17 or later and Maven. The first run fetches the broker's jars from Maven
# Central (deploy/kafka/pom.xml) into target/kafka-4.4.0/libs ($PARLEY_KAFKA_HOME/libs if
# set); the data lives in target/kafka-local ($PARLEY_KAFKA_DATA if set) and survives a
# restart.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
home=${PARLEY_KAFKA_HOME:-${CARGO_TARGET_DIR:-$root/target}/kafka-4.4.0}
data=${PARLEY_KAFKA_DATA:-$root/target/kafka-local}
port=9092
reset=false
fetch_only=false
heap=${PARLEY_KAFKA_HEAP:-1g}

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
}

while (($#)); do
  case $1 in
    --port)
      [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "local-kafka: --port needs a number, got '${2:-}'" >&2; exit 2; }
      port=$2
      shift 2
      ;;
    --reset) reset=true; shift ;;
    --fetch-only) fetch_only=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "local-kafka: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
controller=$((port + 1))

command -v java >/dev/null || { echo "local-kafka: java not found: Apache Kafka 4.4 needs Java 17 or later" >&2; exit 1; }
command -v mvn >/dev/null || { echo "local-kafka: mvn not found: Maven fetches the broker from Maven Central" >&2; exit 1; }

libs=$home/libs
if [[ ! -e $home/libs.complete ]]; then
  echo "local-kafka: fetching Apache Kafka 4.4.0 with Maven into $libs"
  mkdir -p "$home"
  rm -rf "$home/libs.partial"
  mvn -B -q -f "$root/deploy/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$home/libs.partial"
  rm -rf "$libs"
  mv "$home/libs.partial" "$libs"
  touch "$home/libs.complete"
fi
if $fetch_only; then
  echo "local-kafka: $(ls "$libs" | wc -l) jars in $libs"
  exit 0
fi

if $reset; then
  rm -rf "$data"
fi
mkdir -p "$data/logs"
cat >"$data/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data/data
# parley creates its topics (parley topics create): a typo must not create one.
auto.create.topics.enable=false
# One broker: internal topics and the transaction state log with one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
cp "$root/deploy/kafka/log4j2.properties" "$data/log4j2.properties"

java_opts=(
  "-Xmx$heap" -Xms256m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
  "-Dkafka.logs.dir=$data/logs" "-Dlog4j2.configurationFile=$data/log4j2.properties"
  -cp "$libs/*"
)
started=$(date +%s%N)
if [[ ! -e $data/data/meta.properties ]]; then
  java "${java_opts[@]}" kafka.tools.StorageTool format \
    -t "$(java "${java_opts[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null)" \
    -c "$data/server.properties" >"$data/logs/format.log" 2>&1 ||
    { cat "$data/logs/format.log" >&2; exit 1; }
fi

java "${java_opts[@]}" kafka.Kafka "$data/server.properties" >"$data/logs/stdout.log" 2>&1 &
kafka=$!
trap 'kill $kafka 2>/dev/null; wait $kafka 2>/dev/null' EXIT INT TERM
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
  if ! kill -0 $kafka 2>/dev/null; then
    echo "local-kafka: the broker exited; see $data/logs/server.log" >&2
    exit 1
  fi
  sleep 0.2
done
elapsed=$((($(date +%s%N) - started) / 100000000))
printf 'local-kafka: Apache Kafka 4.4.0 on 127.0.0.1:%s, ready in %d.%d s (data and logs in %s)\n' \
  "$port" $((elapsed / 10)) $((elapsed % 10)) "$data"
wait $kafka
