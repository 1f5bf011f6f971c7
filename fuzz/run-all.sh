#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS (default 60), one after
# another. Exits non-zero if any target finds a crash, a failed assertion, a
# leak or a timeout; the inputs are left in fuzz/artifacts/<target>/.
#
#   fuzz/run-all.sh 30            # CI
#   fuzz/run-all.sh 600           # ten minutes each
#   fuzz/run-all.sh 60 -jobs=2    # extra arguments go to libFuzzer
#
# Seeds: the first run writes fuzz/corpus/<target>/ with examples/seeds.rs
# (every API and version, the captured vectors, a batch per codec); set
# STRATA_FUZZ_SEEDS=0 to skip that, =1 to rewrite them.

set -uo pipefail

seconds="${1:-60}"
shift || true
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 SECONDS [libfuzzer args...]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
toolchain="${STRATA_FUZZ_TOOLCHAIN:-+nightly}"

if ! cargo "$toolchain" fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
  exit 2
fi

seeds="${STRATA_FUZZ_SEEDS:-auto}"
if [ "$seeds" = 1 ] || { [ "$seeds" = auto ] && [ ! -d fuzz/corpus/request ]; }; then
  cargo "$toolchain" run --quiet --manifest-path fuzz/Cargo.toml --example seeds || exit 1
fi

cargo "$toolchain" fuzz build || exit 1

failed=()
for target in $(cargo "$toolchain" fuzz list); do
  echo "=== $target: ${seconds}s"
  mkdir -p "fuzz/corpus/$target"
  if ! cargo "$toolchain" fuzz run "$target" -- \
      -max_total_time="$seconds" -timeout=30 -print_final_stats=1 "$@"; then
    failed+=("$target")
  fi
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "FAILED: ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
  exit 1
fi
echo "all fuzz targets ran ${seconds}s each without a failure"
