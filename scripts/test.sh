#!/usr/bin/env bash
# Runs every test Strata has, on a fresh machine: installs what is missing,
# then format, lints, the generated-code check and the test suites.
# This is the command the README names and .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
if ! command -v cargo >/dev/null; then
  echo "cargo is missing: install Rust with rustup (https://rustup.rs)" >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
if ! command -v mvn >/dev/null || ! command -v unzip >/dev/null || ! command -v java >/dev/null; then
  apt-get update -qq && apt-get install -y -qq maven unzip default-jdk-headless >/dev/null
fi
cargo --version

step "format"
cargo fmt --all -- --check

step "generated code matches Kafka's specs"
protocol/codegen/regenerate.sh
if [ -d .git ] && ! git diff --quiet -- protocol/src/messages; then
  git diff --stat -- protocol/src/messages
  echo "protocol/src/messages differs from what protocol/codegen generates: run protocol/codegen/regenerate.sh and commit" >&2
  exit 1
fi

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "tests"
cargo test --workspace

step "crash torture: kill -9 under franz-go clients, full disk on a tmpfs (compat-tests/torture)"
compat-tests/torture/run.sh short

step "Apache Kafka 4.4.0 reads our segments (DumpLogSegments)"
compat-tests/apache-kafka.sh fetch
storage/tests/kafka-compat.sh

step "compat: every client suite against Strata"
compat-tests/run-suite.sh strata

step "compat: the same suites against Apache Kafka 4.4.0"
compat-tests/run-suite.sh kafka

step "Apache Kafka 4.4.0 decodes our __consumer_offsets (DumpLogSegments --offsets-decoder)"
compat-tests/groups/offsets-format.sh

step "fuzz: every target for ${STRATA_FUZZ_SECONDS:-60}s (fuzz/README.md)"
# cargo-fuzz needs a nightly toolchain (sanitizers); the workspace itself
# builds on stable. The version is pinned so that CI does not change under us.
CARGO_FUZZ_VERSION=0.13.2
if ! cargo +nightly --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
if [ "$(cargo +nightly fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
fuzz/run-all.sh "${STRATA_FUZZ_SECONDS:-60}"

step "soak: 1,000 connections, 1,000 partitions, 60 s (benches/README.md)"
# The debug binaries the tests built; benches/soak.sh raises ulimit -n.
# The 10-minute soak is `benches/soak.sh` (release build).
benches/soak.sh --debug --duration 60 --warmup 20
