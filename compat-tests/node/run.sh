#!/usr/bin/env bash
# Run the KafkaJS compat tests against the broker named by KAFKA_BOOTSTRAP
# (host:port): `npm ci` (kafkajs pinned in package-lock.json), then
# `node --test` over test/*.test.mjs.
#
#   KAFKA_BOOTSTRAP=127.0.0.1:19092 compat-tests/node/run.sh
#   KAFKA_BOOTSTRAP=127.0.0.1:19092 compat-tests/node/run.sh --test-name-pattern=idempotent
#
# Extra arguments go to `node --test`. Starts no broker: start one first
# (compat-tests/apache-kafka.sh start, or target/debug/strata serve ...).
#
# Environment:
#   KAFKA_BOOTSTRAP   broker under test (required)
#   NODE_TEST_TIMEOUT seconds for the whole run (900)
#   KAFKAJS_LOG=debug|info|warn|error   log what KafkaJS does
set -euo pipefail

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "compat-tests/node: $*" >&2; exit 1; }

[[ -n "${KAFKA_BOOTSTRAP:-}" ]] \
    || die "KAFKA_BOOTSTRAP is not set: point it at the broker under test, e.g. KAFKA_BOOTSTRAP=127.0.0.1:19092 $0"

command -v node >/dev/null 2>&1 || die "no 'node' on PATH: install Node.js 20 or newer (https://nodejs.org/, or NodeSource's nodejs package)"
command -v npm >/dev/null 2>&1 || die "no 'npm' on PATH: install npm (it ships with Node.js from nodejs.org)"
major=$(node -p 'process.versions.node.split(".")[0]')
((major >= 20)) || die "node is $(node --version); the tests need Node.js 20 or newer (node:test)"

cd "$DIR"
npm ci --no-audit --no-fund --loglevel=error >"$DIR/.npm-ci.log" 2>&1 || {
    tail -n 20 "$DIR/.npm-ci.log" >&2
    die "npm ci failed: kafkajs (pinned in $DIR/package-lock.json) must come from the npm registry ($(npm config get registry)) or npm's cache"
}
rm -f "$DIR/.npm-ci.log"

echo "compat-tests/node: node --test against $KAFKA_BOOTSTRAP" >&2
exec timeout "${NODE_TEST_TIMEOUT:-900}" node --test "$@" test/*.test.mjs
