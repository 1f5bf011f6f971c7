#!/usr/bin/env bash
# Kafka reads our __consumer_offsets: starts target/debug/strata on a fresh
# data dir, has librdkafka (confluent-kafka) run a classic group and a
# consumer-protocol group (KIP-848) that consume and commit, stops the
# broker, and has Apache Kafka 4.4.0's DumpLogSegments --offsets-decoder
# decode every record of every non-empty __consumer_offsets segment.
#
# Fails when DumpLogSegments exits non-zero, throws or cannot decode a
# record, or when a record type is missing: offset commits (1), classic
# group metadata (2), and the consumer group's records (3 group epoch,
# 5 member, 6 target assignment epoch, 7 target assignment, 8 current
# assignment), with tombstones for the member that left.
#
# Usage: compat-tests/groups/offsets-format.sh   (STRATA_BIN to skip the build)
# Needs: <repo>/.venv-compat with confluent-kafka (compat-tests/run-suite.sh
# makes it) and Kafka's jars (compat-tests/apache-kafka.sh fetch).
set -euo pipefail

SUITE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SUITE/../.." && pwd)
PY=${PYTHON_COMPAT:-$REPO/.venv-compat/bin/python}
log() { echo "offsets-format: $*" >&2; }
fail() { log "FAIL: $1"; [[ -f ${2:-} ]] && cat "$2" >&2; exit 1; }

bin=${STRATA_BIN:-}
if [[ -z $bin ]]; then
    (cd "$REPO" && cargo build -q -p strata-server) || fail "cargo build failed"
    bin=$REPO/target/debug/strata
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-offsets-format.XXXXXX")
PID=
cleanup() {
    [[ -n $PID ]] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --data-dir "$WORK/data" --set "listeners=PLAINTEXT://127.0.0.1:$port" >"$WORK/strata.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
    timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && break
    sleep 0.2
done

log "a classic and a consumer-protocol group consume and commit (librdkafka)"
timeout 120 "$PY" - "127.0.0.1:$port" <<'EOF' || fail "the clients failed" "$WORK/strata.log"
import sys, time
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap = sys.argv[1]
admin = AdminClient({"bootstrap.servers": bootstrap})
admin.create_topics([NewTopic("of", 2, 1)])["of"].result()
p = Producer({"bootstrap.servers": bootstrap})
for i in range(10):
    p.produce("of", value=b"v%d" % i, partition=i % 2)
p.flush()
for group, protocol in (("of-classic", "classic"), ("of-consumer", "consumer")):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "group.protocol": protocol,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe(["of"])
    n, deadline = 0, time.time() + 60
    while n < 10 and time.time() < deadline:
        m = c.poll(1)
        if m is not None and not m.error():
            n += 1
    assert n == 10, f"{group}: consumed {n} of 10"
    c.commit(asynchronous=False)
    c.close()
    print(group, "consumed and committed 10")
EOF
kill -TERM "$PID"
wait "$PID" || true
PID=

mapfile -t LOGS < <(find "$WORK/data" -path '*__consumer_offsets-*' -name '*.log' -size +0c | sort)
((${#LOGS[@]} > 0)) || fail "no __consumer_offsets segment holds records"
OUT=$WORK/dump.txt
IFS=, files="${LOGS[*]}"
timeout 300 "$REPO/compat-tests/apache-kafka.sh" run-class org.apache.kafka.tools.DumpLogSegments \
    --offsets-decoder --files "$files" >"$OUT" 2>&1 || fail "DumpLogSegments exited non-zero" "$OUT"
grep -qE 'Exception|^\s+at [a-z]|Failed to decode|Unknown record type|^Error' "$OUT" \
    && fail "DumpLogSegments could not decode a record" "$OUT"
for type in 1 2 3 5 6 7 8; do
    grep -q "key: {\"type\":\"$type\"" "$OUT" || fail "no record of type $type decoded" "$OUT"
done
grep -q 'key: {"type":"5".*payload: <DELETE>' "$OUT" || fail "no member tombstone decoded" "$OUT"
records=$(grep -c '^| offset: ' "$OUT" || true)
log "ok: DumpLogSegments --offsets-decoder decoded $records records in ${#LOGS[@]} segments, types 1 2 3 5 6 7 8"
