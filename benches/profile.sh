#!/usr/bin/env bash
# Where a Strata broker spends its CPU under one strata-bench workload:
# starts a release `strata` on a fresh data dir, runs strata-bench against
# it with the arguments given, and samples the broker with `perf record -g`
# while it runs. Writes, under target/profile/<time>/:
#   report.txt      perf report: by thread, then by symbol (kernel and user)
#   flamegraph.svg  when `inferno` is installed (cargo install inferno)
#   bench.txt       strata-bench's table (before.txt: the BEFORE run's)
#
# Usage: benches/profile.sh [strata-bench args...]
#   benches/profile.sh --message-size 1024 --duration 10          # max-1k
#   benches/profile.sh --topic catchup --messages 1048576 --consume-from-start
#
# Needs perf (Debian: linux-perf) and permission to sample (root, or
# kernel.perf_event_paranoid <= 1). PORT overrides the broker's port (29292).
# BEFORE='strata-bench args' runs that workload first on the same broker,
# unprofiled, on a topic of its own (what a workload meets after another:
# on the project's VM, page-cache memory handed back to the host).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
PORT=${PORT:-29292}
OUT=$REPO/target/profile/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
command -v perf >/dev/null || { echo "profile.sh: perf is not installed" >&2; exit 1; }

(cd "$REPO" && cargo build --release -q -p strata-server --bin strata \
    -p strata-benches --bin strata-bench)
DATA=$(mktemp -d)
BROKER_PID=
PERF_PID=
cleanup() {
    [[ -n $PERF_PID ]] && kill -INT "$PERF_PID" 2>/dev/null && wait "$PERF_PID" 2>/dev/null
    [[ -n $BROKER_PID ]] && kill "$BROKER_PID" 2>/dev/null && wait "$BROKER_PID" 2>/dev/null
    rm -rf "$DATA"
}
trap cleanup EXIT

"$REPO/target/release/strata" serve --data-dir "$DATA" \
    --set "listeners=PLAINTEXT://127.0.0.1:$PORT" >"$OUT/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 50); do
    (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done

if [[ -n ${BEFORE:-} ]]; then
    # shellcheck disable=SC2086 # BEFORE is a list of arguments
    "$REPO/target/release/strata-bench" --bootstrap "127.0.0.1:$PORT" --topic profile-before \
        --quiet $BEFORE >"$OUT/before.txt"
fi

perf record -e cpu-clock -F 999 -g -p "$BROKER_PID" -o "$OUT/perf.data" >"$OUT/perf.log" 2>&1 &
PERF_PID=$!
"$REPO/target/release/strata-bench" --bootstrap "127.0.0.1:$PORT" --broker-pid "$BROKER_PID" \
    --quiet "$@" | tee "$OUT/bench.txt"
kill -INT "$PERF_PID"
wait "$PERF_PID" 2>/dev/null || true
PERF_PID=

# `head` closes the pipe early, so perf report may die of SIGPIPE: under
# pipefail that would end the script here, before the flamegraph.
set +o pipefail
{
    echo "# by thread"
    perf report -i "$OUT/perf.data" --no-children --sort comm -g none --stdio 2>/dev/null | grep -v '^$' | head -40
    echo
    echo "# by symbol"
    perf report -i "$OUT/perf.data" --no-children --sort dso,symbol -g none --stdio 2>/dev/null \
        | grep -v '^$' | head -80
} >"$OUT/report.txt"
set -o pipefail
if command -v inferno-collapse-perf >/dev/null && command -v inferno-flamegraph >/dev/null; then
    perf script -i "$OUT/perf.data" 2>/dev/null | inferno-collapse-perf | inferno-flamegraph >"$OUT/flamegraph.svg"
fi
echo "profile.sh: $OUT/report.txt$([[ -f $OUT/flamegraph.svg ]] && echo " and flamegraph.svg")"
