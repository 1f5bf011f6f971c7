#!/usr/bin/env bash
# Consumer groups end to end (librdkafka, the Java client with the classic
# and the consumer protocol, franz-go, KafkaJS; at the same time, each in its
# own group): members join, leave and are SIGKILLed while records flow; every
# record is consumed exactly once; kafka-consumer-groups lists and describes
# the groups with their lag; after a broker restart a new member resumes at
# the committed offsets. See README.md and groups_test.py.
#
# Usage:
#   KAFKA_BOOTSTRAP=host:port compat-tests/groups/run.sh
#       the broker is given (compat-tests/run-suite.sh calls it like this, as
#       suite `groups`). To restart it the suite looks at who serves the port:
#       a Kafka of compat-tests/apache-kafka.sh (same KAFKA_HOME/KAFKA_PORT
#       environment) -> `apache-kafka.sh restart`; a `strata serve` process ->
#       SIGTERM it and start the same command line again (same binary, data dir
#       and port); the new process is stopped once its original parent (e.g.
#       run-suite.sh) exits or its data dir is removed. GROUPS_RESTART_CMD
#       overrides this with any shell command.
#   compat-tests/groups/run.sh kafka|strata
#       start a private broker for the run and stop it afterwards: Kafka 4.4.0
#       via apache-kafka.sh with its own KAFKA_HOME (KAFKA_CLEAN=1) on free
#       ports, or target/debug/strata (cargo build -p strata-server, or
#       STRATA_BIN) on a fresh data dir and a free port. Either gets
#       group.consumer.session.timeout.ms and group.consumer.heartbeat.interval.ms
#       (and, for Kafka, the .min. bounds) from GROUPS_CONSUMER_*; a given
#       broker's own values are read with DescribeConfigs (run-suite.sh sets
#       the same ones).
#
# Environment:
#   GROUPS_CLIENTS            which clients ("java-consumer java librdkafka franz-go kafkajs")
#   GROUPS_SERIAL=1           run the clients one after the other, not at the same time
#   GROUPS_SESSION_TIMEOUT_MS session.timeout.ms of the classic members (6000)
#   GROUPS_CONSUMER_SESSION_TIMEOUT_MS  group.consumer.session.timeout.ms of a private broker (6000)
#   GROUPS_CONSUMER_HEARTBEAT_MS        group.consumer.heartbeat.interval.ms of a private broker (1000)
#   GROUPS_RATE               records/s produced per client while members change (20)
#   GROUPS_JAVA_ASSIGNOR      cooperative-sticky | range | roundrobin (cooperative-sticky)
#   GROUPS_JAVA_CONSUMER_ASSIGNOR  uniform | range: the server-side assignor (uniform)
#   GROUPS_FRANZ_BALANCER     cooperative-sticky | sticky | range | roundrobin (cooperative-sticky)
#   GROUPS_LIBRDKAFKA_ASSIGNOR range | roundrobin | cooperative-sticky (range)
#   GROUPS_RESTART_CMD        shell command that restarts the broker
#   GROUPS_STRATA_RESTART_SIGNAL  how a strata restart stops the process (TERM; KILL for kill -9)
#   GROUPS_NO_RESTART=1       skip the restart (the resume still runs)
#   GROUPS_TIMEOUT            seconds for the whole test (480)
#   PYTHON_COMPAT             interpreter with confluent-kafka (<repo>/.venv-compat/bin/python)
#
# Needs: the venv run-suite.sh makes (confluent-kafka), java 17+, Kafka's
# jars in <repo>/.kafka/lib (apache-kafka.sh fetch; Maven only the first time),
# Go (the version compat-tests/groups/go/go.mod names; franz-go from the module
# proxy or cache), Node.js 20+ and npm (KafkaJS from compat-tests/node's
# package-lock.json). A missing one fails the run, saying what to install.
# Logs: compat-tests/groups/target/run-*/ (each member's JSON lines and stderr).
set -euo pipefail

SUITE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SUITE/../.." && pwd)
KAFKA_SH="$REPO/compat-tests/apache-kafka.sh"
PY=${PYTHON_COMPAT:-$REPO/.venv-compat/bin/python}
TARGET_DIR="$SUITE/target"

log() { echo "groups: $*" >&2; }
die() { log "$*"; exit 1; }

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/${2:-127.0.0.1}/$1" 2>/dev/null; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- restarting a strata process in place -------------------------------------
# $1: pid of `strata serve`; $2: file to keep the new pid in. Same argv, cwd and
# stdout file; waits until the port answers again.
restart_strata_pid() {
    local pid=$1 pidfile=$2 port=$3
    [[ -r /proc/$pid/cmdline ]] || die "strata pid $pid is gone"
    local -a argv
    mapfile -d '' -t argv <"/proc/$pid/cmdline"
    local cwd out owner data=""
    cwd=$(readlink "/proc/$pid/cwd")
    out=$(readlink "/proc/$pid/fd/1" || true)
    [[ -f "$out" ]] || out="$TARGET_DIR/strata-restarted.log"
    owner=$(awk '{print $4}' "/proc/$pid/stat")
    for ((i = 0; i < ${#argv[@]}; i++)); do
        [[ ${argv[i]} == --data-dir ]] && data=${argv[i + 1]:-}
    done
    local sig=${GROUPS_STRATA_RESTART_SIGNAL:-TERM}
    log "restart: SIG$sig strata pid $pid (${argv[*]})"
    kill -"$sig" "$pid"
    local deadline=$((SECONDS + 30))
    while [[ -d /proc/$pid ]] && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; do
        if ((SECONDS >= deadline)); then
            log "restart: strata pid $pid still alive after 30s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 1
            break
        fi
        sleep 0.1
    done
    deadline=$((SECONDS + 15))
    while port_open "$port" && ((SECONDS < deadline)); do sleep 0.1; done
    echo "--- restarted by compat-tests/groups at $(date -Is) ---" >>"$out"
    (cd "$cwd" && exec "${argv[@]}" >>"$out" 2>&1 </dev/null) &
    local new=$!
    echo "$new" >"$pidfile"
    log "restart: started strata again (pid $new), log $out"
    if [[ -n "${GROUPS_STRATA_WATCH_OWNER:-}" ]]; then
        # Not ours to keep: stop it when whoever started the first one is done.
        setsid bash -c 'while kill -0 "$1" 2>/dev/null && { [[ -z "$2" ]] || [[ -d "$2" ]]; } && ((SECONDS < 3600)); do sleep 1; done
                        kill -TERM "$3" 2>/dev/null; sleep 10; kill -KILL "$3" 2>/dev/null' \
            watchdog "$owner" "$data" "$new" >/dev/null 2>&1 </dev/null &
        log "restart: strata pid $new will be stopped when pid $owner exits or $data is removed"
    fi
    deadline=$((SECONDS + 60))
    until port_open "$port"; do
        [[ -d /proc/$new ]] || die "restarted strata exited; see $out"
        ((SECONDS < deadline)) || die "restarted strata does not answer on port $port within 60s"
        sleep 0.2
    done
}

if [[ ${1:-} == __restart_strata ]]; then
    # internal: called by groups_test.py through GROUPS_RESTART_CMD
    restart_strata_pid "$(cat "$2")" "$2" "$3"
    exit 0
fi

# --- which broker ---------------------------------------------------------------

RUN_DIR="$TARGET_DIR/run-$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$RUN_DIR"
# keep the logs of the last 6 runs
ls -1d "$TARGET_DIR"/run-* 2>/dev/null | head -n -6 | xargs -r rm -rf
[[ -x "$PY" ]] || die "no $PY: run compat-tests/run-suite.sh once (it makes .venv-compat) or set PYTHON_COMPAT"
"$PY" -c 'import confluent_kafka' || die "$PY has no confluent_kafka"

OWN=
OWN_STRATA_PIDFILE=
cleanup() {
    local rc=$?
    if [[ $OWN == kafka ]]; then
        "$KAFKA_SH" stop || true
        log "private Kafka home kept at $KAFKA_HOME (logs/)"
    elif [[ $OWN == strata && -f $OWN_STRATA_PIDFILE ]]; then
        local pid
        pid=$(cat "$OWN_STRATA_PIDFILE")
        if [[ -d /proc/$pid ]]; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do [[ -d /proc/$pid ]] || break; sleep 0.2; done
            [[ -d /proc/$pid ]] && kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -rf "$STRATA_DATA"
        log "strata log kept at $RUN_DIR/strata.log"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

CLIENTS=${GROUPS_CLIENTS:-java-consumer java librdkafka franz-go kafkajs}
export GROUPS_CLIENTS=$CLIENTS
has_client() { [[ " $CLIENTS " == *" $1 "* ]]; }
# The consumer protocol's session timeout is the broker's: a private broker gets
# short ones, so that a SIGKILLed member is noticed in seconds (Kafka: 45 s).
CONSUMER_SESSION_MS=${GROUPS_CONSUMER_SESSION_TIMEOUT_MS:-6000}
CONSUMER_HEARTBEAT_MS=${GROUPS_CONSUMER_HEARTBEAT_MS:-1000}

case "${1:-}" in
    kafka)
        command -v java >/dev/null || die "java not found"
        export KAFKA_HOME="$RUN_DIR/kafka-home"
        export KAFKA_PORT=${KAFKA_PORT:-$(free_port)}
        export KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$(free_port)}
        export KAFKA_ADVERTISED_PORT=$KAFKA_PORT
        OWN=kafka
        # Kafka checks min <= value for both (and heartbeat < session).
        KAFKA_EXTRA_CONFIG="${KAFKA_EXTRA_CONFIG:+$KAFKA_EXTRA_CONFIG
}group.consumer.min.session.timeout.ms=$CONSUMER_SESSION_MS
group.consumer.session.timeout.ms=$CONSUMER_SESSION_MS
group.consumer.min.heartbeat.interval.ms=$CONSUMER_HEARTBEAT_MS
group.consumer.heartbeat.interval.ms=$CONSUMER_HEARTBEAT_MS"
        export KAFKA_EXTRA_CONFIG
        KAFKA_CLEAN=1 "$KAFKA_SH" start || die "Kafka did not start"
        export KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
        GROUPS_RESTART_CMD=${GROUPS_RESTART_CMD:-"KAFKA_CLEAN=0 $(printf %q "$KAFKA_SH") restart"}
        ;;
    strata)
        bin=${STRATA_BIN:-}
        if [[ -z $bin ]]; then
            log "cargo build -p strata-server"
            (cd "$REPO" && cargo build -q -p strata-server) || die "cargo build -p strata-server failed"
            bin="$REPO/target/debug/strata"
        fi
        port=${STRATA_PORT:-$(free_port)}
        STRATA_DATA="$RUN_DIR/strata-data"
        mkdir -p "$STRATA_DATA"
        OWN=strata
        OWN_STRATA_PIDFILE="$RUN_DIR/strata.pid"
        "$bin" serve --data-dir "$STRATA_DATA" --set "listeners=PLAINTEXT://127.0.0.1:$port" \
            --set "group.consumer.session.timeout.ms=$CONSUMER_SESSION_MS" \
            --set "group.consumer.heartbeat.interval.ms=$CONSUMER_HEARTBEAT_MS" \
            >"$RUN_DIR/strata.log" 2>&1 </dev/null &
        echo $! >"$OWN_STRATA_PIDFILE"
        deadline=$((SECONDS + 60))
        until port_open "$port"; do
            [[ -d /proc/$(cat "$OWN_STRATA_PIDFILE") ]] || { tail -n 30 "$RUN_DIR/strata.log" >&2; die "strata exited"; }
            ((SECONDS < deadline)) || die "strata did not answer within 60s"
            sleep 0.2
        done
        log "strata up on 127.0.0.1:$port (pid $(cat "$OWN_STRATA_PIDFILE"), data $STRATA_DATA)"
        export KAFKA_BOOTSTRAP="127.0.0.1:$port"
        GROUPS_RESTART_CMD=${GROUPS_RESTART_CMD:-"$(printf %q "$SUITE/run.sh") __restart_strata $(printf %q "$OWN_STRATA_PIDFILE") $port"}
        ;;
    "")
        [[ -n "${KAFKA_BOOTSTRAP:-}" ]] || die "KAFKA_BOOTSTRAP is not set (or say: run.sh kafka|strata)"
        port=${KAFKA_BOOTSTRAP##*:}
        if [[ -z "${GROUPS_RESTART_CMD:-}" ]]; then
            if "$KAFKA_SH" status >/dev/null 2>&1 && [[ ${KAFKA_PORT:-19092} == "$port" ]]; then
                GROUPS_RESTART_CMD="KAFKA_CLEAN=0 $(printf %q "$KAFKA_SH") restart"
            else
                pid=$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2 || true)
                if [[ -n "$pid" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'strata.* serve'; then
                    echo "$pid" >"$RUN_DIR/strata.pid"
                    export GROUPS_STRATA_WATCH_OWNER=1
                    GROUPS_RESTART_CMD="$(printf %q "$SUITE/run.sh") __restart_strata $(printf %q "$RUN_DIR/strata.pid") $port"
                else
                    log "cannot tell how to restart the broker at $KAFKA_BOOTSTRAP; set GROUPS_RESTART_CMD (the restart check will fail)"
                fi
            fi
        fi
        ;;
    *) die "usage: $0 [kafka|strata]  (or KAFKA_BOOTSTRAP=host:port $0)" ;;
esac
log "broker $KAFKA_BOOTSTRAP; restart with: ${GROUPS_RESTART_CMD:-<none>}"

# --- the Java member, compiled against Kafka's kafka-clients jar ------------------

if has_client java || has_client java-consumer; then
    command -v javac >/dev/null || die "javac not found (needs a JDK 17+)"
    cp=$("$KAFKA_SH" classpath | tail -n 1) || die "apache-kafka.sh classpath failed"
    classes="$TARGET_DIR/classes"
    if [[ ! -f "$classes/GroupWorker.class" || "$SUITE/java/GroupWorker.java" -nt "$classes/GroupWorker.class" ]]; then
        log "javac GroupWorker.java"
        mkdir -p "$classes"
        javac -nowarn -d "$classes" -cp "$cp" "$SUITE/java/GroupWorker.java" \
            || die "javac failed"
    fi
    cat >"$TARGET_DIR/worker-log4j2.properties" <<EOF
status = warn
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
EOF
    GROUPS_JAVA_CMD="java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true"
    GROUPS_JAVA_CMD+=" -Dlog4j2.configurationFile=$(printf %q "$TARGET_DIR/worker-log4j2.properties")"
    GROUPS_JAVA_CMD+=" -cp $(printf %q "$classes:$cp") GroupWorker"
    export GROUPS_JAVA_CMD
fi

# --- the franz-go member, built with the installed Go --------------------------------

if has_client franz-go; then
    command -v go >/dev/null 2>&1 \
        || die "no 'go' on PATH: install Go (https://go.dev/dl/; the version in $SUITE/go/go.mod or newer)"
    export GOTOOLCHAIN=local # never fetch another toolchain behind the user's back
    need=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$SUITE/go/go.mod")
    have=$(go env GOVERSION | sed 's/^go//')
    [[ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" == "$need" ]] \
        || die "$SUITE/go/go.mod needs Go $need but 'go' is $have: install Go $need or newer (https://go.dev/dl/)"
    franz="$TARGET_DIR/franz-worker"
    if [[ ! -x $franz || -n $(find "$SUITE/go" -newer "$franz" -type f 2>/dev/null) ]]; then
        log "go build franz-worker"
        (cd "$SUITE/go" && GOFLAGS=${GOFLAGS:--mod=mod} go build -o "$franz" .) \
            || die "go build in $SUITE/go failed: franz-go (pinned in go.mod/go.sum) must come from the Go module proxy ($(go env GOPROXY)) or the module cache"
    fi
    export GROUPS_FRANZ_CMD=$(printf %q "$franz")
fi

# --- the KafkaJS member: KafkaJS from compat-tests/node ------------------------------

if has_client kafkajs; then
    command -v node >/dev/null 2>&1 || die "no 'node' on PATH: install Node.js 20 or newer (https://nodejs.org/)"
    command -v npm >/dev/null 2>&1 || die "no 'npm' on PATH: install npm (it ships with Node.js from nodejs.org)"
    major=$(node -p 'process.versions.node.split(".")[0]')
    ((major >= 20)) || die "node is $(node --version); the KafkaJS member needs Node.js 20 or newer"
    nodedir="$REPO/compat-tests/node"
    if [[ ! -f $nodedir/node_modules/kafkajs/package.json || $nodedir/package-lock.json -nt $nodedir/node_modules/.package-lock.json ]]; then
        log "npm ci in compat-tests/node (KafkaJS)"
        (cd "$nodedir" && npm ci --no-audit --no-fund --loglevel=error) >"$RUN_DIR/npm-ci.log" 2>&1 || {
            tail -n 20 "$RUN_DIR/npm-ci.log" >&2
            die "npm ci in $nodedir failed: kafkajs (pinned in its package-lock.json) must come from the npm registry ($(npm config get registry)) or npm's cache"
        }
    fi
    export GROUPS_KAFKAJS_CMD="node $(printf %q "$SUITE/node/worker.mjs")"
fi

export GROUPS_TOOL_CMD="$(printf %q "$KAFKA_SH") run-class org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
export KAFKA_TOOLS_HEAP_OPTS=${KAFKA_TOOLS_HEAP_OPTS:-"-Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}
export GROUPS_RESTART_CMD GROUPS_WORK_DIR="$RUN_DIR" KAFKA_BOOTSTRAP

set +e
timeout -k 20 "${GROUPS_TIMEOUT:-480}" "$PY" -u "$SUITE/groups_test.py" 2>&1 | tee "$RUN_DIR/groups_test.log"
rc=${PIPESTATUS[0]}
set -e
((rc == 124)) && log "timed out after ${GROUPS_TIMEOUT:-480}s"
log "exit $rc (logs: $RUN_DIR)"
exit "$rc"
