#!/usr/bin/env bash
# Crash torture for strata with real franz-go clients (see README.md).
#
#   compat-tests/torture/run.sh            # short: checker tests, 10 kill cycles, disk-full (CI)
#   compat-tests/torture/run.sh long       # 200 kill cycles
#   compat-tests/torture/run.sh crash -cycles 50 -seed 123    # any crash flags
#   compat-tests/torture/run.sh diskfull -seed 123             # on a fresh 8 MiB tmpfs
#
# Builds target/debug/strata (cargo build -p strata-server) unless STRATA_BIN
# names a binary; fetches the Go modules pinned in go.mod/go.sum (module
# proxy or module cache); builds the harness into target/torture/.
# The disk-full scenario mounts a tmpfs (root only) and unmounts it on any
# exit; when the mount is refused it says so and is skipped.
#
# Environment:
#   STRATA_BIN     strata binary to test (skips the cargo build)
#   TORTURE_SEED   seed for both scenarios (default: a new one, printed)
#   KGO_LOG=debug  log what the franz-go clients do
set -euo pipefail

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$DIR/../.." && pwd)
die() { echo "compat-tests/torture: $*" >&2; exit 1; }
log() { echo "compat-tests/torture: $*" >&2; }

command -v go >/dev/null 2>&1 \
    || die "no 'go' on PATH: install Go 1.26 or newer (https://go.dev/dl/; Debian's golang-go is too old)"
export GOTOOLCHAIN=local
need=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$DIR/go.mod")
have=$(go env GOVERSION | sed 's/^go//')
if [[ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]]; then
    die "go.mod needs Go $need but 'go' is $have: install Go $need or newer (https://go.dev/dl/)"
fi

if [[ -z "${STRATA_BIN:-}" ]]; then
    log "cargo build -p strata-server"
    (cd "$REPO_ROOT" && cargo build -q -p strata-server) || die "cargo build -p strata-server failed"
    STRATA_BIN="$REPO_ROOT/target/debug/strata"
fi
[[ -x "$STRATA_BIN" ]] || die "no strata binary at $STRATA_BIN"
export STRATA_BIN

cd "$DIR"
export GOFLAGS="${GOFLAGS:--mod=mod}"
go mod download -x >/dev/null 2>"$DIR/.mod-download.log" || {
    tail -n 20 "$DIR/.mod-download.log" >&2
    die "go mod download failed: the modules pinned in $DIR/go.mod must come from the Go module proxy (GOPROXY=$(go env GOPROXY)) or be in the module cache ($(go env GOMODCACHE))"
}
rm -f "$DIR/.mod-download.log"
BIN="$REPO_ROOT/target/torture/torture"
mkdir -p "$(dirname "$BIN")"
go build -o "$BIN" . || die "building the harness failed"

seed_args=()
[[ -n "${TORTURE_SEED:-}" ]] && seed_args=(-seed "$TORTURE_SEED")

MOUNT=
cleanup() {
    if [[ -n "$MOUNT" ]]; then
        umount "$MOUNT" 2>/dev/null || umount -l "$MOUNT" 2>/dev/null || log "could not unmount $MOUNT"
        rmdir "$MOUNT" 2>/dev/null || true
        MOUNT=
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

crash() {
    # The harness kills its broker on SIGTERM; timeout bounds the whole run.
    timeout --kill-after=30 "${TORTURE_TIMEOUT:-900}" "$BIN" crash "${seed_args[@]}" "$@"
}

diskfull() {
    MOUNT=$(mktemp -d "${TMPDIR:-/tmp}/strata-torture-full.XXXXXX")
    if ! err=$(mount -t tmpfs -o size=8m tmpfs "$MOUNT" 2>&1); then
        rmdir "$MOUNT"
        MOUNT=
        log "SKIPPED the disk-full scenario: mounting an 8 MiB tmpfs was refused (${err:-no reason given}); it needs root (CI runs as root)"
        return 0
    fi
    local rc=0
    timeout --kill-after=30 300 "$BIN" diskfull "${seed_args[@]}" -dir "$MOUNT" "$@" || rc=$?
    cleanup
    return $rc
}

mode=${1:-short}
[[ $# -gt 0 ]] && shift
case "$mode" in
    short)
        log "checker unit tests"
        go test -count=1 .
        log "crash: 10 kill -9 cycles"
        crash -cycles 10 -cycle-duration 8s "$@"
        log "disk full on a tmpfs"
        diskfull
        ;;
    long)
        TORTURE_TIMEOUT=${TORTURE_TIMEOUT:-14400} crash -cycles 200 -cycle-duration 10s "$@"
        ;;
    crash) crash "$@" ;;
    diskfull) diskfull "$@" ;;
    *) die "unknown mode $mode: short (default), long, crash [FLAGS], diskfull [FLAGS]" ;;
esac
