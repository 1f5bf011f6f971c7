#!/usr/bin/env bash
# Recapture the golden protocol vectors in this folder, in one command:
#
#   protocol/tests/vectors/capture.sh
#
# Starts Apache Kafka 4.4.0 (compat-tests/apache-kafka.sh, its own state in
# .kafka/capture/broker, fresh every run) with advertised.listeners pointing
# at a capture proxy (capture.py proxy), runs each client through the proxy,
# then picks the representative set (capture.py select), rewrites the
# <client>/ folders and manifest.json here, and checks them (capture.py check).
# Kafka and the proxies are stopped on exit, whatever happens.
#
# Needs java 17+, mvn, python3, node + npm; installs the clients itself:
# confluent-kafka into .kafka/capture/venv, kafkajs into
# compat-tests/kafkajs/node_modules, kafka-clients with the broker jars.
#
# Environment:
#   CAPTURE_CLIENTS     clients to run            ("librdkafka java kafkajs")
#   CAPTURE_APIS        API names to keep         (see APIS below; "" = all)
#   CAPTURE_KAFKA_PORT  broker port               (19192; controller is +1)
#   CAPTURE_PROXY_PORT  proxy port, advertised    (19194)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
KAFKA="$ROOT/compat-tests/apache-kafka.sh"
KAFKA_VERSION=4.4.0

CAP="$ROOT/.kafka/capture"
RAW="$CAP/raw"
VENV="$CAP/venv"
CLIENTS=${CAPTURE_CLIENTS:-librdkafka java kafkajs}
APIS=${CAPTURE_APIS-ApiVersions,Metadata,Produce,Fetch,FindCoordinator,JoinGroup,SyncGroup}
KPORT=${CAPTURE_KAFKA_PORT:-19192}
PPORT=${CAPTURE_PROXY_PORT:-19194}

export KAFKA_HOME="$CAP/broker"
export KAFKA_PORT=$KPORT
export KAFKA_CONTROLLER_PORT=$((KPORT + 1))
export KAFKA_ADVERTISED_PORT=$PPORT
export KAFKA_CLEAN=1

log() { echo "capture: $*" >&2; }

PROXY_PID=
stop_proxy() {
    if [[ -n "$PROXY_PID" ]]; then
        kill -TERM "$PROXY_PID" 2>/dev/null || true
        for _ in $(seq 1 20); do
            kill -0 "$PROXY_PID" 2>/dev/null || break
            sleep 0.25
        done
        kill -KILL "$PROXY_PID" 2>/dev/null || true
        wait "$PROXY_PID" 2>/dev/null || true
        PROXY_PID=
    fi
}
cleanup() {
    stop_proxy
    "$KAFKA" stop || true
}
trap cleanup EXIT

# --- clients
"$KAFKA" fetch
mkdir -p "$CAP"
if [[ " $CLIENTS " == *" librdkafka "* ]]; then
    if ! "$VENV/bin/python" -c 'import confluent_kafka' 2>/dev/null; then
        log "installing confluent-kafka into $VENV"
        timeout 120 python3 -m venv "$VENV"
        timeout 600 "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
    fi
fi
if [[ " $CLIENTS " == *" kafkajs "* && ! -d "$ROOT/compat-tests/kafkajs/node_modules/kafkajs" ]]; then
    log "installing kafkajs into compat-tests/kafkajs"
    (cd "$ROOT/compat-tests/kafkajs" && timeout 600 npm ci --no-audit --no-fund)
fi

# --- broker
rm -rf "$RAW" "$CAP/setup"
mkdir -p "$RAW"
start_proxy() { # CLIENT_NAME OUT_DIR
    mkdir -p "$2"
    rm -f "$2/$1.ready"
    python3 "$HERE/capture.py" proxy --listen "127.0.0.1:$PPORT" --upstream "127.0.0.1:$KPORT" \
        --client "$1" --out "$2" --max-seconds 300 --ready-file "$2/$1.ready" &
    PROXY_PID=$!
    for _ in $(seq 1 40); do
        [[ -f "$2/$1.ready" ]] && return 0
        sleep 0.25
    done
    log "proxy did not start"
    exit 1
}

"$KAFKA" start
# Every client, the admin one included, follows advertised.listeners to the
# proxy; the topics are made through a proxy session whose frames are not kept.
start_proxy setup "$CAP/setup"
for c in $CLIENTS; do
    timeout 90 "$KAFKA" run-class org.apache.kafka.tools.TopicCommand \
        --bootstrap-server "127.0.0.1:$KPORT" --create --topic "vectors-$c" \
        --partitions 1 --replication-factor 1
done
# The first FindCoordinator creates __consumer_offsets and is answered
# COORDINATOR_NOT_AVAILABLE; do that here so every client sees the same thing.
timeout 90 "$KAFKA" run-class org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
    --bootstrap-server "127.0.0.1:$KPORT" --describe --group vectors-setup --timeout 60000 \
    >"$CAP/setup/consumer-groups.out" 2>&1 || true # "Group vectors-setup not found" is the expected answer
stop_proxy

# --- one proxy session per client
for c in $CLIENTS; do
    log "capturing $c"
    start_proxy "$c" "$RAW"
    args=("127.0.0.1:$PPORT" "vectors-$c" "vectors-$c-group" "$RAW/$c.json")
    case "$c" in
        librdkafka)
            timeout 180 "$VENV/bin/python" "$HERE/clients/librdkafka.py" "${args[@]}" ;;
        java)
            timeout 180 java -Xmx512m -Dlog4j2.configurationFile="$KAFKA_HOME/tools-log4j2.properties" \
                -cp "$("$KAFKA" classpath)" "$HERE/clients/Capture.java" "${args[@]}" ;;
        kafkajs)
            NODE_PATH="$ROOT/compat-tests/kafkajs/node_modules" \
                timeout 180 node "$HERE/clients/kafkajs.js" "${args[@]}" ;;
        *) log "unknown client $c"; exit 1 ;;
    esac
    sleep 1 # last responses
    stop_proxy
done

# --- pick, write manifest, check
python3 - "$RAW" $CLIENTS <<'PY'
import json, sys
raw, clients = sys.argv[1], sys.argv[2:]
json.dump([json.load(open("%s/%s.json" % (raw, c))) for c in clients], open(raw + "/clients.json", "w"), indent=1)
PY
python3 "$HERE/capture.py" select --raw "$RAW" --out "$HERE" --clients "$RAW/clients.json" \
    --kafka-version "$KAFKA_VERSION" --apis "$APIS"
python3 "$HERE/capture.py" check --dir "$HERE" -v
# and with Kafka's own codec
timeout 120 java -Xmx256m -Dlog4j2.configurationFile="$KAFKA_HOME/tools-log4j2.properties" \
    -cp "$("$KAFKA" classpath)" "$HERE/clients/Decode.java" "$HERE"
log "done; everything captured is in $RAW"
