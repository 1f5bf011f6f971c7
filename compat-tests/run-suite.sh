#!/usr/bin/env bash
# Run the real-client compat suites (compat-tests/python, java, kcat, ...)
# against one broker.
#
# Usage: compat-tests/run-suite.sh kafka|strata [PYTEST_ARGS...]
#
#   kafka   Apache Kafka 4.4.0 via compat-tests/apache-kafka.sh, started with
#           a clean data dir (KAFKA_CLEAN=1) and stopped afterwards. A pass
#           here shows the tests expect Kafka's own behaviour.
#   strata  target/debug/strata (built with `cargo build -p strata-server`),
#           serving from a fresh temporary data dir; killed afterwards.
#
# Steps: make <repo>/.venv-compat and install compat-tests/python/requirements.txt
# into it (again only when that file changes); start the target on a free
# loopback port and wait until it answers; run pytest with KAFKA_BOOTSTRAP
# set; stop the target; exit with pytest's exit code. A JUnit XML report is
# written to target/compat-tests/python-TARGET.xml.
#
# Environment:
#   KAFKA_PORT            port for the kafka target      (19092, or a free one)
#   STRATA_PORT           port for the strata target     (19292, or a free one)
#   STRATA_BIN            use this binary, skip the cargo build
#   START_TIMEOUT         seconds to wait for strata to answer (60)
#   PYTHON                interpreter that makes the venv (python3)
#   COMPAT_SUITES         which suites to run, in order (python java kcat go node groups);
#                         each one but python is compat-tests/NAME/run.sh
#
# Both targets get group.consumer.session.timeout.ms=6000 and
# group.consumer.heartbeat.interval.ms=1000 (Kafka: 45000 and 5000; for Kafka
# also the .min. bounds, which must not be above them), so that the groups
# suite sees a SIGKILLed consumer-protocol member go within seconds.
set -euo pipefail
SUITES=${COMPAT_SUITES:-python java kcat go node groups}
CONSUMER_GROUP_SETTINGS=(group.consumer.session.timeout.ms=6000 group.consumer.heartbeat.interval.ms=1000)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
SUITE="$SCRIPT_DIR/python"
VENV="$REPO_ROOT/.venv-compat"
REQUIREMENTS="$SUITE/requirements.txt"
REPORT_DIR="$REPO_ROOT/target/compat-tests"

log() { echo "run-suite: $*" >&2; }
die() { log "$*"; exit 1; }

usage() { echo "usage: $0 kafka|strata [PYTEST_ARGS...]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
TARGET=$1
shift
case "$TARGET" in kafka | strata) ;; *) usage ;; esac

port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# $1 if nothing listens there, else a port the kernel says is free.
free_port() {
    if ! port_open "$1"; then
        echo "$1"
        return
    fi
    "${PYTHON:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

setup_venv() {
    local stamp="$VENV/.requirements.sha256" want
    want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
    if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    log "installing $REQUIREMENTS into $VENV"
    [[ -x "$VENV/bin/python" ]] || "${PYTHON:-python3}" -m venv "$VENV" || die "could not create $VENV"
    timeout 600 "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS" \
        || die "pip install -r $REQUIREMENTS failed"
    echo "$want" >"$stamp"
}

# --- kafka -------------------------------------------------------------------

KAFKA_SH="$SCRIPT_DIR/apache-kafka.sh"

start_kafka() {
    if "$KAFKA_SH" status >/dev/null 2>&1; then
        die "a Kafka started by apache-kafka.sh is already running; stop it first ($KAFKA_SH stop)"
    fi
    KAFKA_PORT=$(free_port "${KAFKA_PORT:-19092}")
    export KAFKA_PORT
    # The controller port must be free too; only move it when it is taken.
    KAFKA_CONTROLLER_PORT=$(free_port "${KAFKA_CONTROLLER_PORT:-19093}")
    export KAFKA_CONTROLLER_PORT
    STOP_TARGET=stop_kafka
    KAFKA_EXTRA_CONFIG="${KAFKA_EXTRA_CONFIG:+$KAFKA_EXTRA_CONFIG
}group.consumer.min.session.timeout.ms=6000
group.consumer.min.heartbeat.interval.ms=1000
$(printf '%s\n' "${CONSUMER_GROUP_SETTINGS[@]}")"
    export KAFKA_EXTRA_CONFIG
    KAFKA_CLEAN=1 "$KAFKA_SH" start || die "Kafka did not start"
    BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
}

stop_kafka() {
    "$KAFKA_SH" stop || log "stopping Kafka failed"
}

# --- strata ------------------------------------------------------------------

STRATA_PID=
STRATA_DATA=

start_strata() {
    local bin=${STRATA_BIN:-}
    if [[ -z "$bin" ]]; then
        # Always (re)build: cargo is a no-op when nothing changed, and a stale
        # binary would test old code.
        log "cargo build -p strata-server"
        (cd "$REPO_ROOT" && cargo build -q -p strata-server) || die "cargo build -p strata-server failed"
        bin="$REPO_ROOT/target/debug/strata"
    fi
    [[ -x "$bin" ]] || die "no strata binary at $bin"

    local port
    port=$(free_port "${STRATA_PORT:-19292}")
    STRATA_DATA=$(mktemp -d "${TMPDIR:-/tmp}/strata-compat.XXXXXX")
    STRATA_LOG="$STRATA_DATA.log"
    STOP_TARGET=stop_strata
    log "starting $bin on 127.0.0.1:$port (data dir $STRATA_DATA, log $STRATA_LOG)"
    "$bin" serve --data-dir "$STRATA_DATA" --set "listeners=PLAINTEXT://127.0.0.1:$port" \
        "${CONSUMER_GROUP_SETTINGS[@]/#/--set=}" \
        >"$STRATA_LOG" 2>&1 </dev/null &
    STRATA_PID=$!

    local deadline=$((SECONDS + ${START_TIMEOUT:-60}))
    while ! port_open "$port"; do
        if ! kill -0 "$STRATA_PID" 2>/dev/null; then
            wait "$STRATA_PID" 2>/dev/null && rc=0 || rc=$?
            STRATA_PID=
            tail -n 40 "$STRATA_LOG" >&2 || true
            die "strata exited (status $rc) before answering on 127.0.0.1:$port"
        fi
        ((SECONDS < deadline)) || { tail -n 40 "$STRATA_LOG" >&2 || true; die "strata did not answer on 127.0.0.1:$port within ${START_TIMEOUT:-60}s"; }
        sleep 0.2
    done
    log "strata up (pid $STRATA_PID)"
    BOOTSTRAP="127.0.0.1:$port"
}

stop_strata() {
    if [[ -n "$STRATA_PID" ]] && kill -0 "$STRATA_PID" 2>/dev/null; then
        log "stopping strata (pid $STRATA_PID)"
        kill -TERM "$STRATA_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$STRATA_PID" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$STRATA_PID" 2>/dev/null; then
            log "strata (pid $STRATA_PID) still alive after 10s; sending KILL"
            kill -KILL "$STRATA_PID" 2>/dev/null || true
        fi
        wait "$STRATA_PID" 2>/dev/null || true
    fi
    STRATA_PID=
    if [[ -n "$STRATA_DATA" ]]; then
        rm -rf "$STRATA_DATA"
        log "strata log kept at $STRATA_LOG"
    fi
}

# --- run ---------------------------------------------------------------------

STOP_TARGET=:
cleanup() { "$STOP_TARGET"; STOP_TARGET=:; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

setup_venv
"start_$TARGET"

mkdir -p "$REPORT_DIR"
failed=()
if [[ " $SUITES " == *" python "* ]]; then
    log "running compat-tests/python against $TARGET at $BOOTSTRAP"
    set +e
    KAFKA_BOOTSTRAP="$BOOTSTRAP" timeout 900 "$VENV/bin/python" -m pytest -q \
        -c "$SUITE/pytest.ini" --rootdir "$SUITE" -p no:cacheprovider \
        --junitxml "$REPORT_DIR/python-$TARGET.xml" -o junit_suite_name="compat-python-$TARGET" \
        "$SUITE" "$@"
    rc=$?
    set -e
    log "pytest exited $rc against $TARGET (report: $REPORT_DIR/python-$TARGET.xml)"
    [[ $rc -eq 0 ]] || failed+=(python)
fi
# The other clients' suites, each a run.sh reading KAFKA_BOOTSTRAP.
for suite in $SUITES; do
    [[ $suite == python ]] && continue
    runner="$SCRIPT_DIR/$suite/run.sh"
    [[ -x $runner ]] || die "compat-tests/$suite/run.sh is missing"
    log "running compat-tests/$suite against $TARGET at $BOOTSTRAP"
    set +e
    KAFKA_BOOTSTRAP="$BOOTSTRAP" timeout 1200 "$runner"
    rc=$?
    set -e
    log "compat-tests/$suite exited $rc against $TARGET"
    [[ $rc -eq 0 ]] || failed+=("$suite")
done
if [[ ${#failed[@]} -gt 0 ]]; then
    log "FAILED against $TARGET: ${failed[*]}"
    exit 1
fi
log "every suite passed against $TARGET: $SUITES"
