#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS (default 60), one after
# another. Exits non-zero if any target finds a crash, a failed assertion, a
# leak or a timeout, and prints the saved input's path and how to replay it.
#
#   fuzz/run-all.sh 60            # CI (scripts/test.sh)
#   fuzz/run-all.sh 600           # ten minutes each
#   fuzz/run-all.sh 60 -jobs=2    # extra arguments go to libFuzzer
#
# Seeds: the first run writes fuzz/corpus/<target>/ with examples/seeds.rs
# (every API and version, the captured vectors, a batch per codec); set
# STRATA_FUZZ_SEEDS=0 to skip that, =1 to rewrite them. What libFuzzer adds
# to the corpus stays there for the next run; none of it is committed.
#
# Targets run STRATA_FUZZ_PARALLEL at a time (default: the number of CPUs;
# libFuzzer uses one each), so each still gets SECONDS of a core.
#
# libFuzzer's output goes to fuzz/target/run-all/<target>.log (tail -f it
# to watch); a failing target's last lines are printed here. At the end, a
# line per target: runs, runs per second, corpus size, outcome.

set -uo pipefail

seconds="${1:-60}"
shift || true
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 SECONDS [libfuzzer args...]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
toolchain="${STRATA_FUZZ_TOOLCHAIN:-+nightly}"

if ! cargo "$toolchain" fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: cargo install cargo-fuzz --version 0.13.2 --locked" >&2
  exit 2
fi

seeds="${STRATA_FUZZ_SEEDS:-auto}"
if [ "$seeds" = 1 ] || { [ "$seeds" = auto ] && [ ! -d fuzz/corpus/request ]; }; then
  cargo "$toolchain" run --quiet --manifest-path fuzz/Cargo.toml --example seeds || exit 1
fi

cargo "$toolchain" fuzz build || exit 1

logs=fuzz/target/run-all
mkdir -p "$logs"
# Artifacts newer than this file are this run's.
marker="$logs/.started"
: >"$marker"

stat_of() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }

parallel="${STRATA_FUZZ_PARALLEL:-$(nproc 2>/dev/null || echo 1)}"
case "$parallel" in
  '' | *[!0-9]* | 0) parallel=1 ;;
esac

# Runs one target to its end; its exit status is libFuzzer's.
run_target() {
  mkdir -p "fuzz/corpus/$1"
  cargo "$toolchain" fuzz run "$1" -- \
    -max_total_time="$seconds" -timeout=30 -print_final_stats=1 "${@:2}" >"$logs/$1.log" 2>&1
}

# Reports on a finished target: a summary line, and on failure the end of
# its log and the inputs it saved.
report() {
  local target=$1 status=$2 log="$logs/$1.log" runs rate corpus outcome artifacts line
  runs=$(stat_of number_of_executed_units "$log")
  rate=$(stat_of average_exec_per_sec "$log")
  corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
  if [ "$status" -eq 0 ]; then
    outcome=ok
  else
    failed+=("$target")
    outcome="FAILED (exit $status)"
    tail -n 60 "$log" >&2
    artifacts=$(find "fuzz/artifacts/$target" -type f -newer "$marker" 2>/dev/null)
    if [ -n "$artifacts" ]; then
      for a in $artifacts; do
        echo "$target: failing input saved to $a" >&2
        echo "  replay:   cargo $toolchain fuzz run $target $a" >&2
        echo "  minimise: cargo $toolchain fuzz tmin $target $a" >&2
      done
    else
      echo "$target: failed without saving an input; see $log" >&2
    fi
  fi
  line=$(printf '%-17s %12s runs %9s/s  corpus %6s  %s' "$target" "${runs:-?}" "${rate:-?}" "$corpus" "$outcome")
  echo "$line"
  summary+=("$line")
}

# Each target in a process group of its own (cargo-fuzz and the fuzzer
# under it), so that stopping this script stops the round in progress.
set -m
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done' EXIT
trap 'exit 130' INT TERM

failed=()
summary=()
targets=($(cargo "$toolchain" fuzz list))
for ((i = 0; i < ${#targets[@]}; i += parallel)); do
  round=("${targets[@]:i:parallel}")
  pids=()
  for target in "${round[@]}"; do
    echo "=== $target: ${seconds}s (libFuzzer output in $logs/$target.log)"
    run_target "$target" "$@" &
    pids+=($!)
  done
  for j in "${!round[@]}"; do
    status=0
    wait "${pids[$j]}" || status=$?
    report "${round[$j]}" "$status"
  done
  pids=()
done

echo
echo "fuzz summary (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "FAILED: ${failed[*]} (inputs in fuzz/artifacts/<target>/, logs in $logs/)" >&2
  exit 1
fi
echo "all fuzz targets ran ${seconds}s each without a failure"
