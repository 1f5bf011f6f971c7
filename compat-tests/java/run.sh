#!/usr/bin/env bash
# Run the Java client compat tests (compat-tests/java) against the broker at
# $KAFKA_BOOTSTRAP, once per kafka-clients version.
#
# Usage: KAFKA_BOOTSTRAP=127.0.0.1:19092 compat-tests/java/run.sh [MAVEN_ARGS...]
#   e.g. ... run.sh -Dtest=AdminTest        one class
#        ... run.sh -Dtest='OffsetsTest#adminListOffsets'
#
# Steps: compile the tests once (against the newest client), then run them
# with `mvn surefire:test -Dkafka.version=V` for each version V, so the same
# classes meet each client jar. Prints each version's surefire summary; exits
# non-zero if any test of any version failed (or the build did).
#
# Environment:
#   KAFKA_BOOTSTRAP        host:port of the broker under test (required)
#   JAVA_KAFKA_VERSIONS    client versions to run      ("3.9.2 4.4.0")
#   MVN                    maven command               (mvn)
#   RUN_TIMEOUT            seconds for one version's run (600)
#
# Reports: compat-tests/java/target/surefire-reports-V/ (XML, and each test
# class's client log in *-output.txt); the Maven log of a run in
# compat-tests/java/target/mvn-V.log.
set -euo pipefail

SUITE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MVN=${MVN:-mvn}
VERSIONS=${JAVA_KAFKA_VERSIONS:-3.9.2 4.4.0}

log() { echo "java-compat: $*" >&2; }
die() { log "$*"; exit 1; }

[[ -n "${KAFKA_BOOTSTRAP:-}" ]] || die "KAFKA_BOOTSTRAP is not set: point it at the broker under test, e.g. KAFKA_BOOTSTRAP=127.0.0.1:19092"
command -v java >/dev/null || die "java not found (needs 17+)"
command -v "$MVN" >/dev/null || die "$MVN not found"
export KAFKA_BOOTSTRAP

host=${KAFKA_BOOTSTRAP%:*}
port=${KAFKA_BOOTSTRAP##*:}
timeout 5 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null \
    || die "nothing answers at $KAFKA_BOOTSTRAP"

cd "$SUITE"
mkdir -p target
log "compiling the tests"
timeout 900 "$MVN" -q -B -DskipTests test-compile >target/mvn-compile.log 2>&1 \
    || { tail -n 60 target/mvn-compile.log >&2; die "mvn test-compile failed (log: $SUITE/target/mvn-compile.log)"; }

failed=()
summary=()
for v in $VERSIONS; do
    log "kafka-clients $v against $KAFKA_BOOTSTRAP"
    echo "== kafka-clients $v =="
    rm -rf "target/surefire-reports-$v"
    set +e
    timeout "${RUN_TIMEOUT:-600}" "$MVN" -B -Dkafka.version="$v" -Dstyle.color=never \
        surefire:test "$@" >"target/mvn-$v.log" 2>&1
    rc=$?
    set -e
    # Per-class lines, then surefire's own summary (failures with messages).
    grep -E '^\[(INFO|WARNING|ERROR)\] Tests run: .* -- in ' "target/mvn-$v.log" || true
    sed -n '/^\[[A-Z]*\] Results:/,/^\[[A-Z]*\] BUILD /p' "target/mvn-$v.log"
    total=$(grep -E '^\[(INFO|WARNING|ERROR)\] Tests run: [0-9]+, Failures: [0-9]+, Errors: [0-9]+, Skipped: [0-9]+$' "target/mvn-$v.log" | tail -n 1 | sed 's/^\[[A-Z]*\] //')
    if [[ $rc -ne 0 ]]; then
        if [[ -z "$total" ]]; then
            tail -n 40 "target/mvn-$v.log"
            ((rc == 124)) && log "kafka-clients $v: timed out after ${RUN_TIMEOUT:-600}s"
        fi
        failed+=("$v")
    fi
    summary+=("kafka-clients $v: ${total:-no tests ran} (mvn exit $rc; reports: $SUITE/target/surefire-reports-$v)")
done

echo
echo "== Java compat suite against $KAFKA_BOOTSTRAP =="
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
    log "FAILED for kafka-clients ${failed[*]}"
    exit 1
fi
log "all passed"
