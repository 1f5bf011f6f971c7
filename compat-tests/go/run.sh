#!/usr/bin/env bash
# Run the Go compat tests (franz-go + kadm, IBM/sarama) against the broker
# named by KAFKA_BOOTSTRAP (host:port).
#
#   KAFKA_BOOTSTRAP=127.0.0.1:19092 compat-tests/go/run.sh          # all tests
#   KAFKA_BOOTSTRAP=127.0.0.1:19092 compat-tests/go/run.sh -run Sarama
#
# Extra arguments go to `go test`. Starts no broker: start one first
# (compat-tests/apache-kafka.sh start, or target/debug/strata serve ...).
#
# Environment:
#   KAFKA_BOOTSTRAP   broker under test (required)
#   GO_TEST_TIMEOUT   go test -timeout (10m)
#   KGO_LOG=debug|info|warn|error   log what the franz-go clients do
#   SARAMA_LOG=1      log what sarama does
set -euo pipefail

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "compat-tests/go: $*" >&2; exit 1; }

[[ -n "${KAFKA_BOOTSTRAP:-}" ]] \
    || die "KAFKA_BOOTSTRAP is not set: point it at the broker under test, e.g. KAFKA_BOOTSTRAP=127.0.0.1:19092 $0"

command -v go >/dev/null 2>&1 \
    || die "no 'go' on PATH: install Go 1.26 or newer (https://go.dev/dl/; Debian's golang-go is too old)"
# Use the installed toolchain or fail; never fetch another one behind the user's back.
export GOTOOLCHAIN=local
need=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$DIR/go.mod")
have=$(go env GOVERSION | sed 's/^go//')
if [[ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]]; then
    die "go.mod needs Go $need but 'go' is $have: install Go $need or newer (https://go.dev/dl/)"
fi

cd "$DIR"
export GOFLAGS="${GOFLAGS:--mod=mod}"
# Fetch the pinned modules (go.sum) up front so a missing one fails here, clearly.
go mod download -x >/dev/null 2>"$DIR/.mod-download.log" || {
    tail -n 20 "$DIR/.mod-download.log" >&2
    die "go mod download failed: the modules pinned in $DIR/go.mod (franz-go, kadm, sarama) must come from the Go module proxy (GOPROXY=$(go env GOPROXY)) or be in the module cache ($(go env GOMODCACHE))"
}
rm -f "$DIR/.mod-download.log"

echo "compat-tests/go: go test against $KAFKA_BOOTSTRAP" >&2
exec go test ./... -count=1 -v -timeout "${GO_TEST_TIMEOUT:-10m}" "$@"
