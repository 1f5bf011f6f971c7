#!/usr/bin/env bash
# Regenerates protocol/src/messages/ from the message specs inside the pinned
# kafka-clients jar (Maven Central). The JSON is read from a temporary folder
# and never committed. CI runs this and fails if the output differs from what
# is committed.
set -euo pipefail
KAFKA_VERSION=4.4.0
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mvn -q -B dependency:copy \
  -Dartifact="org.apache.kafka:kafka-clients:${KAFKA_VERSION}" \
  -DoutputDirectory="$tmp" -Dmdep.stripVersion=false >/dev/null
(cd "$tmp" && unzip -q "kafka-clients-${KAFKA_VERSION}.jar" 'common/message/*.json')
cargo run -q -p strata-codegen -- --kafka-version "$KAFKA_VERSION" \
  "$tmp/common/message" protocol/src/messages
rustfmt --edition 2024 protocol/src/messages/*.rs
