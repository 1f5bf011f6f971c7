#!/usr/bin/env bash
# Run a real Apache Kafka 4.4.0 broker from its Maven artifacts: one KRaft
# node (process.roles=broker,controller, node.id=1) on 127.0.0.1, to run the
# compat tests against and to capture golden protocol vectors from.
#
# Usage: compat-tests/apache-kafka.sh fetch|start|stop|restart|status|run-class MAIN [ARGS...]
#
#   fetch      resolve the broker, tools and client jars into .kafka/lib with
#              Maven (compat-tests/apache-kafka/pom.xml); skipped when the pom
#              has not changed since the last fetch
#   start      fetch, write .kafka/server.properties, format the storage if
#              needed, start kafka.Kafka in the background and wait until the
#              port answers
#   stop       stop the broker started by `start` and wait for it to exit
#   status     say whether it runs and answers; exit 0 only if it does
#   run-class  run a Kafka main class from the same classpath, e.g.
#                run-class org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:19092 --list
#                run-class org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server 127.0.0.1:19092 --list
#                run-class org.apache.kafka.tools.DumpLogSegments --files .kafka/data/t-0/00000000000000000000.log --print-data-log
#                run-class kafka.tools.StorageTool info -c .kafka/server.properties
#   classpath  print the classpath (for `java -cp "$(... classpath)" ...`)
#
# Environment:
#   KAFKA_PORT             client listener port             (19092)
#   KAFKA_CONTROLLER_PORT  controller listener port         (19093)
#   KAFKA_ADVERTISED_PORT  port put in advertised.listeners (KAFKA_PORT);
#                          point it at a proxy to make clients go through it
#   KAFKA_HOME             state folder: data/, logs/, pid (<repo>/.kafka)
#   KAFKA_LIB              jars                              (<repo>/.kafka/lib)
#   KAFKA_HEAP_OPTS        JVM heap                          (-Xms256m -Xmx1g)
#   KAFKA_CLEAN=1          on start, wipe data/ and logs/ first
#   KAFKA_EXTRA_CONFIG     extra server.properties lines (newline-separated),
#                          appended last so they override the defaults
#   KAFKA_START_TIMEOUT    seconds to wait for the port      (120)
#
# Installs nothing but through Maven; needs java (17+), mvn, and bash.
set -euo pipefail

KAFKA_VERSION=4.4.0
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
POM="$SCRIPT_DIR/apache-kafka/pom.xml"

KAFKA_HOME=${KAFKA_HOME:-$REPO_ROOT/.kafka}
KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
KAFKA_ADVERTISED_PORT=${KAFKA_ADVERTISED_PORT:-$KAFKA_PORT}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-120}
# Fixed so that Metadata/DescribeCluster answers are the same on every run:
# base64url of the 16 bytes "strata-compat-10".
KAFKA_CLUSTER_ID=${KAFKA_CLUSTER_ID:-c3RyYXRhLWNvbXBhdC0xMA}

LIB=${KAFKA_LIB:-$REPO_ROOT/.kafka/lib}
DATA="$KAFKA_HOME/data"
LOGS="$KAFKA_HOME/logs"
PIDFILE="$KAFKA_HOME/kafka.pid"
OUT="$KAFKA_HOME/kafka.out"
PROPS="$KAFKA_HOME/server.properties"
LOG4J="$KAFKA_HOME/log4j2.properties"
TOOLS_LOG4J="$KAFKA_HOME/tools-log4j2.properties"

log() { echo "apache-kafka: $*" >&2; }
die() { log "$*"; exit 1; }

classpath() { echo "$LIB/*"; }

fetch() {
    command -v mvn >/dev/null || die "mvn not found"
    mkdir -p "$KAFKA_HOME" "$(dirname "$LIB")"
    local stamp="$LIB/.pom.sha256" want
    want=$(sha256sum "$POM" | cut -d' ' -f1)
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f "$LIB/kafka_2.13-$KAFKA_VERSION.jar" ]]; then
        return 0
    fi
    log "fetching Kafka $KAFKA_VERSION jars into $LIB"
    rm -rf "$LIB.tmp"
    timeout 900 mvn -B -q -f "$POM" "$DEPENDENCY_PLUGIN:copy-dependencies" \
        -DincludeScope=runtime -DoutputDirectory="$LIB.tmp" >"$KAFKA_HOME/fetch.log" 2>&1 \
        || { tail -n 40 "$KAFKA_HOME/fetch.log" >&2; die "mvn dependency:copy-dependencies failed"; }
    rm -rf "$LIB"
    mv "$LIB.tmp" "$LIB"
    echo "$want" >"$stamp"
    log "$(ls "$LIB" | wc -l) jars in $LIB"
}

# The pid from the pid file, if that process is alive and is our broker.
running_pid() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid=$(cat "$PIDFILE")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "kafka\.Kafka $PROPS" || return 1
    echo "$pid"
}

port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

write_config() {
    mkdir -p "$DATA" "$LOGS"
    cat >"$PROPS" <<EOF
# Written by compat-tests/apache-kafka.sh; rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_ADVERTISED_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA
# A single node: internal topics cannot have more than one replica. These
# are the values of Kafka's own config/server.properties.
num.partitions=1
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
    if [[ -n "${KAFKA_EXTRA_CONFIG:-}" ]]; then
        printf '%s\n' "# KAFKA_EXTRA_CONFIG" "$KAFKA_EXTRA_CONFIG" >>"$PROPS"
    fi
    cat >"$LOG4J" <<EOF
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $LOGS/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
EOF
}

write_tools_log4j() {
    mkdir -p "$KAFKA_HOME"
    [[ -f "$TOOLS_LOG4J" ]] && return 0
    cat >"$TOOLS_LOG4J" <<EOF
status = warn
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
EOF
}

start() {
    command -v java >/dev/null || die "java not found"
    if pid=$(running_pid); then
        log "already running (pid $pid)"
        return 0
    fi
    fetch
    if port_open "$KAFKA_PORT"; then
        die "127.0.0.1:$KAFKA_PORT is already taken by another process"
    fi
    if [[ "${KAFKA_CLEAN:-0}" == 1 ]]; then
        rm -rf "$DATA" "$LOGS"
    fi
    write_config
    write_tools_log4j
    # Formats only an empty log dir; existing data (same cluster id) is kept.
    timeout 120 java -Xmx256m -Dlog4j2.configurationFile="$TOOLS_LOG4J" -cp "$(classpath)" \
        kafka.tools.StorageTool format --ignore-formatted \
        -t "$KAFKA_CLUSTER_ID" -c "$PROPS" >"$LOGS/format.out" 2>&1 \
        || { cat "$LOGS/format.out" >&2; die "storage format failed"; }

    log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (advertised $KAFKA_ADVERTISED_PORT, controller $KAFKA_CONTROLLER_PORT)"
    # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS is a list of JVM flags
    setsid nohup java $KAFKA_HEAP_OPTS -XX:+UseG1GC -Djava.awt.headless=true \
        -Dkafka.logs.dir="$LOGS" -Dlog4j2.configurationFile="$LOG4J" \
        -cp "$(classpath)" kafka.Kafka "$PROPS" \
        >"$OUT" 2>&1 </dev/null &
    echo $! >"$PIDFILE"

    local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if [[ ! -d "/proc/$(cat "$PIDFILE")" ]]; then
            tail -n 40 "$OUT" "$LOGS/server.log" >&2 2>/dev/null || true
            die "Kafka exited during startup"
        fi
        if port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$LOGS/server.log" 2>/dev/null; then
            log "up (pid $(cat "$PIDFILE")); log: $LOGS/server.log"
            return 0
        fi
        sleep 1
    done
    tail -n 40 "$OUT" "$LOGS/server.log" >&2 2>/dev/null || true
    stop || true
    die "Kafka did not answer on 127.0.0.1:$KAFKA_PORT within ${KAFKA_START_TIMEOUT}s"
}

stop() {
    local pid
    if ! pid=$(running_pid); then
        log "not running"
        rm -f "$PIDFILE"
        return 0
    fi
    log "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
        [[ -d "/proc/$pid" ]] || { rm -f "$PIDFILE"; log "stopped"; return 0; }
        sleep 0.5
    done
    log "pid $pid still alive after 30s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do
        [[ -d "/proc/$pid" ]] || break
        sleep 0.5
    done
    rm -f "$PIDFILE"
}

status() {
    local pid
    if pid=$(running_pid); then
        if port_open "$KAFKA_PORT"; then
            echo "running (pid $pid), answering on 127.0.0.1:$KAFKA_PORT"
            return 0
        fi
        echo "running (pid $pid), not answering on 127.0.0.1:$KAFKA_PORT"
        return 1
    fi
    echo "not running"
    return 3
}

run_class() {
    [[ $# -ge 1 ]] || die "usage: $0 run-class MAIN_CLASS [ARGS...]"
    fetch
    write_tools_log4j
    local main=$1
    shift
    # shellcheck disable=SC2086
    exec java ${KAFKA_TOOLS_HEAP_OPTS:--Xmx512m} -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$TOOLS_LOG4J" -cp "$(classpath)" "$main" "$@"
}

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case "$cmd" in
    fetch) fetch ;;
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    status) status ;;
    run-class) run_class "$@" ;;
    classpath) fetch; classpath ;;
    *) echo "usage: $0 fetch|start|stop|restart|status|run-class MAIN [ARGS...]|classpath" >&2; exit 2 ;;
esac
