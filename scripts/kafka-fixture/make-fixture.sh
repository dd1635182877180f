#!/usr/bin/env bash
# Makes test/fixtures/kafka-4.4-logdir with a real Apache Kafka 4.4 broker:
# resolves Kafka's jars from Maven Central (scripts/kafka/pom.xml), formats and starts a
# single-node KRaft broker (1 GiB heap) in a temp dir, runs Fixture.java
# (topics, records, transactions, a group's commits, and what Kafka's own
# consumer reads back under both isolation levels, into manifest.json), stops
# the broker cleanly (SIGTERM) and copies its log directory and the manifest
# into the fixture, with a sha256 of every file.
# Needs java 17+, javac, mvn and node. Usage: scripts/kafka-fixture/make-fixture.sh [out-dir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/test/fixtures/kafka-4.4-logdir}"
work="$(mktemp -d)"
broker_pid=""
cleanup() {
  if [[ -n "$broker_pid" ]] && kill -0 "$broker_pid" 2>/dev/null; then kill "$broker_pid"; wait "$broker_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

echo "resolving Kafka 4.4.0 from Maven Central (scripts/kafka/pom.xml)"
cp="$(node "$repo/scripts/kafka/kafka.mjs" classpath)"
mkdir -p "$work/classes"
javac -d "$work/classes" -cp "$cp" "$here/Fixture.java"

broker_port="$(free_port)"
controller_port="$(free_port)"
mkdir -p "$work/logs" "$work/metadata"
cat > "$work/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$broker_port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$broker_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$work/logs
# The KRaft metadata log lives apart: its active index files stay preallocated
# (10 MiB each) after a clean shutdown, too big for a fixture.
metadata.log.dir=$work/metadata
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
PROPS
cat > "$work/log4j2.yaml" <<'YAML'
Configuration:
  Appenders:
    File: { name: file, fileName: "${sys:fixture.log}", PatternLayout: { pattern: "%d %p %c - %m%n" } }
  Loggers:
    Root: { level: info, AppenderRef: [{ ref: file }] }
YAML
java_opts=(-Xmx1g -Xms1g -cp "$cp" -Dlog4j2.configurationFile="$work/log4j2.yaml" -Dfixture.log="$work/broker.log")

cluster_id="$(java "${java_opts[@]}" kafka.tools.StorageTool random-uuid)"
java "${java_opts[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$work/server.properties" >&2
java "${java_opts[@]}" kafka.Kafka "$work/server.properties" &
broker_pid=$!

echo "waiting for the broker on 127.0.0.1:$broker_port"
for _ in $(seq 1 120); do
  if grep -q "Kafka Server started" "$work/broker.log" 2>/dev/null; then break; fi
  kill -0 "$broker_pid" || { echo "broker exited; see its log:" >&2; tail -50 "$work/broker.log" >&2; exit 1; }
  sleep 1
done
grep -q "Kafka Server started" "$work/broker.log" || { echo "broker did not start" >&2; exit 1; }

java -Xmx512m -cp "$work/classes:$cp" -Dlog4j2.configurationFile="$work/log4j2.yaml" -Dfixture.log="$work/client.log" \
  Fixture "127.0.0.1:$broker_port" "$work/manifest.json"

echo "stopping the broker (SIGTERM: a clean shutdown)"
kill -TERM "$broker_pid"
wait "$broker_pid" || true
broker_pid=""
grep -qi "shut down completed" "$work/broker.log" || { echo "no clean shutdown in the broker log" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"
cp -a "$work/logs" "$out/logdir"
cp "$work/manifest.json" "$out/manifest.json"
(cd "$out/logdir" && find . -type f | LC_ALL=C sort | xargs sha256sum) > "$out/sha256sums.txt"
echo "wrote $out ($(du -sh "$out" | cut -f1))"
