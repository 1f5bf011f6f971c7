#!/usr/bin/env bash
# Soak: a fresh Strata under 1,000 connections and 1,000 partitions at a
# fixed rate; fails on any error, lost or reordered record, or growth of
# the broker's RSS or open files (see benches/src/soak/mod.rs).
#
# Usage: benches/soak.sh [--debug] [--no-build] [strata-soak options...]
#
#   benches/soak.sh                          # the full soak: release, 600 s
#   benches/soak.sh --debug --duration 60 --warmup 20   # what CI runs
#   benches/soak.sh --rate 2000 --partitions 2000 --producers 1000
#
#   --debug      use target/debug (no release build; what CI has built)
#   --no-build   use the binaries already built
#   anything else goes to strata-soak (--help lists its options; the
#   defaults are 500 producer + 500 consumer connections, 1,000 partitions,
#   1,000 records/s of 256 bytes, acks=all, 600 s with 60 s of warm-up)
#
# It raises `ulimit -n` (the broker holds a socket per connection and
# files per partition; this tool a socket per connection), starts the
# broker on the first free port from 39392 with a fresh data dir under
# target/soak/ (SOAK_DIR overrides), runs strata-soak against it, then
# stops the broker and fails if it crashed or logged a panic or an ERROR.
# The broker's log and the JSON report stay in target/soak/.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)

PROFILE=release
BUILD=1
ARGS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --debug) PROFILE=debug ;;
        --no-build) BUILD=0 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) ARGS+=("$1") ;;
    esac
    shift
done

log() { echo "soak.sh [$(date +%T)]: $*" >&2; }
die() { log "$*"; exit 1; }

# Files the broker and the tool may hold: a socket per connection on each
# side, and per partition a .log, .index, .timeindex and the odd snapshot.
WANT_FILES=16384
if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt $WANT_FILES ]]; then
    hard=$(ulimit -Hn)
    if [[ $hard == unlimited || $hard -ge $WANT_FILES ]]; then
        ulimit -n "$WANT_FILES"
    else
        ulimit -n "$hard"
        log "ulimit -n is capped at $hard (hard limit); 1,000 connections and 1,000 partitions need about $WANT_FILES"
    fi
fi
log "ulimit -n $(ulimit -n)"

cd "$REPO"
if [[ $BUILD == 1 ]]; then
    flags=()
    [[ $PROFILE == release ]] && flags=(--release)
    cargo build "${flags[@]}" -p strata-server --bin strata -p strata-benches --bin strata-soak
fi
BIN=$REPO/target/$PROFILE
for b in strata strata-soak; do
    [[ -x $BIN/$b ]] || die "$BIN/$b is missing: run without --no-build"
done

SOAK_DIR=${SOAK_DIR:-$REPO/target/soak}
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
PORT=${SOAK_PORT:-39392}
while port_open "$PORT"; do PORT=$((PORT + 1)); done
rm -rf "$SOAK_DIR/strata-data"
mkdir -p "$SOAK_DIR/strata-data"
BROKER_LOG=$SOAK_DIR/strata.log
REPORT=$SOAK_DIR/report.json

BROKER_PID=
SOAK_PID=
cleanup() {
    if [[ -n $SOAK_PID ]]; then
        kill -TERM "$SOAK_PID" 2>/dev/null || true
        wait "$SOAK_PID" 2>/dev/null || true
    fi
    stop_broker
}
stop_broker() {
    [[ -n $BROKER_PID ]] || return 0
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$BROKER_PID" 2>/dev/null || { BROKER_PID=; return 0; }
        sleep 0.1
    done
    log "strata did not stop within 10 s of SIGTERM; killing it"
    kill -KILL "$BROKER_PID" 2>/dev/null || true
    BROKER_PID=
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$BIN/strata" serve --data-dir "$SOAK_DIR/strata-data" \
    --set "listeners=PLAINTEXT://127.0.0.1:$PORT" >"$BROKER_LOG" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 100); do
    port_open "$PORT" && break
    kill -0 "$BROKER_PID" 2>/dev/null || { tail -n 20 "$BROKER_LOG" >&2; die "strata exited at start"; }
    sleep 0.1
done
port_open "$PORT" || { tail -n 20 "$BROKER_LOG" >&2; die "strata did not listen on $PORT within 10 s"; }
log "strata ($PROFILE, pid $BROKER_PID) on 127.0.0.1:$PORT, log in $BROKER_LOG"

# In the background so that a signal to this script stops it (and the
# broker) at once; it bounds its own run (--duration, --drain-timeout).
status=0
"$BIN/strata-soak" --bootstrap "127.0.0.1:$PORT" --broker-pid "$BROKER_PID" "${ARGS[@]}" \
    >"$SOAK_DIR/report.txt" &
SOAK_PID=$!
wait "$SOAK_PID" || status=$?
SOAK_PID=
grep -v '^{' "$SOAK_DIR/report.txt" || true
grep '^{' "$SOAK_DIR/report.txt" >"$REPORT" || true

if ! kill -0 "$BROKER_PID" 2>/dev/null; then
    BROKER_PID=
    tail -n 30 "$BROKER_LOG" >&2
    die "FAIL: strata exited during the soak"
fi
stop_broker
if grep -E 'panicked| ERROR ' "$BROKER_LOG" >&2; then
    die "FAIL: the broker logged the errors above ($BROKER_LOG)"
fi
warnings=$(grep -c ' WARN ' "$BROKER_LOG" || true)
[[ $warnings == 0 ]] || log "the broker logged $warnings warnings ($BROKER_LOG)"
[[ $status == 0 ]] || die "FAIL: strata-soak exited with $status (report in $REPORT)"
log "PASS (report in $REPORT)"
