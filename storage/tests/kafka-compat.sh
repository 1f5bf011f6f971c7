#!/usr/bin/env bash
# Kafka reads our segments: writes a partition with PartitionLog
# (storage/examples/write_partition.rs) and has Apache Kafka 4.4.0's
# DumpLogSegments read every file of it.
#
# Usage: storage/tests/kafka-compat.sh
#
# Fails (exit 1, printing the tool's output) when DumpLogSegments
#   - exits non-zero or throws;
#   - reports an invalid batch (isvalid: false), trailing invalid bytes,
#     offsets that do not follow on, an offset index entry that does not
#     point at the batch ending at its offset ("Mismatches in"), a time index
#     entry whose offset is not a batch's last offset ("not found") or whose
#     timestamp is not that batch's largest ("Found timestamp mismatch"), or
#     time index timestamps out of order;
#   - fails an index sanity check (the check a broker runs on start-up);
#   - counts other records, batches, codecs or another last offset than the
#     example says it wrote.
#
# One quirk is tolerated: the 4.x DumpLogSegments starts its "previous
# offset" at -1 for each file, so a segment whose base offset is not 0
# always gets "Non-consecutive offsets in <file> / -1 is followed by <base>",
# Kafka's own segments too. Only that exact pair is allowed.
#
# Environment:
#   KEEP=1   keep the temporary directory (its path is printed)
#   CARGO    cargo binary (cargo)
# The Kafka jars come from compat-tests/apache-kafka.sh (fetched with Maven
# on first use); no broker is started.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KAFKA="$REPO_ROOT/compat-tests/apache-kafka.sh"
CARGO=${CARGO:-cargo}

log() { echo "kafka-compat: $*" >&2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-kafka-compat.XXXXXX")
if [[ "${KEEP:-0}" == 1 ]]; then
    log "keeping $WORK"
else
    trap 'rm -rf "$WORK"' EXIT
fi

fail() {
    log "FAIL: $1"
    if [[ -n "${2:-}" && -f "$2" ]]; then
        echo "----- $2 -----" >&2
        cat "$2" >&2
        echo "-----" >&2
    fi
    exit 1
}

dump() {
    # dump OUT ARGS...: DumpLogSegments with a bounded time; output to OUT.
    local out=$1
    shift
    if ! timeout 300 "$KAFKA" run-class org.apache.kafka.tools.DumpLogSegments "$@" >"$out" 2>&1; then
        fail "DumpLogSegments $* exited non-zero" "$out"
    fi
    if grep -qE 'Exception|^\s+at [a-z]' "$out"; then
        fail "DumpLogSegments threw" "$out"
    fi
}

# --- write the partition -----------------------------------------------------
log "writing a partition with PartitionLog"
(cd "$REPO_ROOT" && timeout 1200 "$CARGO" run -q -p strata-storage --example write_partition -- "$WORK") \
    >"$WORK/summary.txt" || fail "write_partition failed" "$WORK/summary.txt"
cat "$WORK/summary.txt" >&2
want() { sed -n "s/^$1: //p" "$WORK/summary.txt"; }
DIR=$(want dir)
WANT_SEGMENTS=$(want segments)
WANT_BATCHES=$(want batches)
WANT_RECORDS=$(want records)
WANT_LAST=$(want last_offset)

mapfile -t LOGS < <(ls "$DIR"/*.log)
mapfile -t INDEXES < <(ls "$DIR"/*.index "$DIR"/*.timeindex)
((${#LOGS[@]} == WANT_SEGMENTS)) || fail "${#LOGS[@]} .log files, the example said $WANT_SEGMENTS"
((${#INDEXES[@]} == 2 * WANT_SEGMENTS)) || fail "${#INDEXES[@]} index files for $WANT_SEGMENTS segments"
join() { local IFS=,; echo "$*"; }

# --- .log files: every batch and record --------------------------------------
log "DumpLogSegments --deep-iteration --print-data-log on ${#LOGS[@]} .log files"
LOG_OUT="$WORK/dump-log.txt"
dump "$LOG_OUT" --deep-iteration --print-data-log --files "$(join "${LOGS[@]}")"

grep -qE 'isvalid: false|isValid: false' "$LOG_OUT" && fail "a batch failed its CRC check" "$LOG_OUT"
grep -q 'invalid bytes at the end' "$LOG_OUT" && fail "trailing invalid bytes" "$LOG_OUT"
grep -qE '^Error at|Failed to decode|Unknown record type' "$LOG_OUT" && fail "a record failed to decode" "$LOG_OUT"
grep -qiE 'corrupt' "$LOG_OUT" && fail "corrupt data reported" "$LOG_OUT"

# Non-consecutive offsets: only "-1 is followed by <the file's base offset>".
bad_gaps=$(awk '
    /^Non-consecutive offsets in / {
        file = $4; n = split(file, parts, "/"); base = parts[n]; sub(/\.log$/, "", base);
        base = base + 0; in_gaps = 1; next
    }
    in_gaps && /^  -?[0-9]+ is followed by -?[0-9]+$/ {
        if (!($1 == -1 && $5 == base)) print file ": " $0
        next
    }
    { in_gaps = 0 }
' "$LOG_OUT")
[[ -z "$bad_gaps" ]] || fail "offsets do not follow on: $bad_gaps" "$LOG_OUT"

got_batches=$(grep -c '^baseOffset: ' "$LOG_OUT" || true)
got_records=$(grep -c '^| offset: ' "$LOG_OUT" || true)
got_counted=$(awk '/^baseOffset: / { for (i = 1; i < NF; i++) if ($i == "count:") s += $(i + 1) } END { print s + 0 }' "$LOG_OUT")
got_last=$(awk '/^baseOffset: / { for (i = 1; i < NF; i++) if ($i == "lastOffset:" && $(i + 1) + 0 > m) m = $(i + 1) + 0 } END { print m + 0 }' "$LOG_OUT")
got_last_record=$(awk '/^\| offset: / { if ($3 + 0 > m) m = $3 + 0 } END { print m + 0 }' "$LOG_OUT")
log "DumpLogSegments: $got_batches batches, $got_records records (batch counts sum to $got_counted), last offset $got_last (last record $got_last_record)"
((got_batches == WANT_BATCHES)) || fail "DumpLogSegments saw $got_batches batches, we wrote $WANT_BATCHES" "$LOG_OUT"
((got_records == WANT_RECORDS)) || fail "DumpLogSegments saw $got_records records, we wrote $WANT_RECORDS" "$LOG_OUT"
((got_counted == WANT_RECORDS)) || fail "batch counts sum to $got_counted, we wrote $WANT_RECORDS" "$LOG_OUT"
((got_last == WANT_LAST && got_last_record == WANT_LAST)) \
    || fail "DumpLogSegments last offset $got_last / $got_last_record, we wrote up to $WANT_LAST" "$LOG_OUT"
for codec in none gzip snappy lz4 zstd; do
    want_codec=$(want "batches_$codec")
    got_codec=$(grep -c "^baseOffset: .* compresscodec: $codec " "$LOG_OUT" || true)
    ((got_codec == want_codec)) || fail "$got_codec $codec batches, we wrote $want_codec" "$LOG_OUT"
done
# Every segment file starts where its name says.
for f in "${LOGS[@]}"; do
    base=$(basename "$f" .log)
    first=$(awk -v f="$f" '$0 == "Dumping " f { on = 1; next } on && /^baseOffset: / { print $2; exit }' "$LOG_OUT")
    ((10#$base == first)) || fail "$f: first batch at offset $first" "$LOG_OUT"
done

# --- indexes: the broker's start-up sanity check, then entry by entry --------
log "DumpLogSegments --index-sanity-check on ${#INDEXES[@]} index files"
SANITY_OUT="$WORK/dump-sanity.txt"
dump "$SANITY_OUT" --index-sanity-check --files "$(join "${INDEXES[@]}")"
passed=$(grep -c ' passed sanity check\.$' "$SANITY_OUT" || true)
((passed == ${#INDEXES[@]})) || fail "$passed of ${#INDEXES[@]} index files passed the sanity check" "$SANITY_OUT"

log "DumpLogSegments --verify-index-only on ${#INDEXES[@]} index files"
VERIFY_OUT="$WORK/dump-verify.txt"
dump "$VERIFY_OUT" --verify-index-only --files "$(join "${INDEXES[@]}")"
# Anything but the "Dumping <file>" lines is a finding.
if grep -vq '^Dumping ' "$VERIFY_OUT"; then
    fail "index verification reported problems" "$VERIFY_OUT"
fi

# And the entries themselves, to count them.
ENTRIES_OUT="$WORK/dump-indexes.txt"
dump "$ENTRIES_OUT" --files "$(join "${INDEXES[@]}")"
grep -qE 'Mismatches in|not found in|Found timestamp mismatch|Found out of order timestamp' "$ENTRIES_OUT" \
    && fail "index entries do not match the log" "$ENTRIES_OUT"
offset_entries=$(grep -c '^offset: [0-9]* position: ' "$ENTRIES_OUT" || true)
time_entries=$(grep -c '^timestamp: ' "$ENTRIES_OUT" || true)
((offset_entries > 0 && time_entries > 0)) || fail "no index entries to check" "$ENTRIES_OUT"
log "DumpLogSegments: $offset_entries offset index entries, $time_entries time index entries, all consistent"

log "OK: Kafka 4.4.0 reads $WANT_SEGMENTS segments, $WANT_BATCHES batches, $WANT_RECORDS records up to offset $WANT_LAST"
