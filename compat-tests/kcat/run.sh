#!/usr/bin/env bash
# kcat (librdkafka) compat tests against the broker at $KAFKA_BOOTSTRAP.
#
# Usage: KAFKA_BOOTSTRAP=127.0.0.1:19092 compat-tests/kcat/run.sh [TEST...]
#        (no TEST: all; names as listed by `run.sh --list`)
#
# Debian 12's kcat 1.7.1 is built on librdkafka 2.0.2, an OLD librdkafka on
# purpose: many deployed clients are that old, and it decodes some answers
# (e.g. ApiVersions' tagged fields) more strictly than newer clients do.
# When kcat is missing it is installed with apt-get (root only); if that is
# not possible the run fails, it never skips.
#
# Each test prints PASS/FAIL with what differed; the run ends with the line
# "N passed, N failed" and exits non-zero if any failed. Work files (inputs,
# outputs, kcat's stderr) stay in $KCAT_WORK (a fresh temp dir) for a look.
#
# Environment:
#   KAFKA_BOOTSTRAP  host:port of the broker under test (required)
#   KCAT             kcat binary                         (kcat)
#   KCAT_TIMEOUT     seconds for one kcat invocation     (30)
#   KCAT_WORK        folder for work files               (mktemp -d)
#   KCAT_DEBUG       librdkafka debug contexts to log to each test's stderr
#                    file, e.g. "protocol,broker"          (none)
set -uo pipefail

KCAT=${KCAT:-kcat}
T_OUT=${KCAT_TIMEOUT:-30}

log() { echo "kcat-compat: $*" >&2; }
die() { log "$*"; exit 1; }

[[ -n "${KAFKA_BOOTSTRAP:-}" ]] || die "KAFKA_BOOTSTRAP is not set: point it at the broker under test, e.g. KAFKA_BOOTSTRAP=127.0.0.1:19092"
B=$KAFKA_BOOTSTRAP

ensure_kcat() {
    command -v "$KCAT" >/dev/null && return 0
    [[ "$KCAT" == kcat ]] || die "KCAT=$KCAT: not found"
    log "kcat not found; installing Debian's package (apt-get install -y kcat)"
    [[ $(id -u) -eq 0 ]] || die "kcat is not installed and this is not root: run 'sudo apt-get install -y kcat' (Debian 12: kcat 1.7.1, librdkafka 2.0.2)"
    command -v apt-get >/dev/null || die "kcat is not installed and there is no apt-get: install kcat 1.7.x (librdkafka 2.0.x) by hand"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || log "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >&2 \
            || die "FAILED to install kcat with apt-get: the kcat compat tests cannot run"
    fi
    command -v kcat >/dev/null || die "apt-get said kcat is installed but there is no kcat on PATH"
}

ensure_kcat
VERSION_LINE=$("$KCAT" -V 2>&1 | grep -m1 '^Version') || die "'$KCAT -V' failed"
log "$VERSION_LINE"

host=${B%:*}
port=${B##*:}
timeout 5 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null || die "nothing answers at $B"

WORK=${KCAT_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/kcat-compat.XXXXXX")}
mkdir -p "$WORK"
log "work files in $WORK"
RUN_ID=$(date +%s)-$$

# --- helpers -----------------------------------------------------------------

CUR=          # the running test's name
ERRF=         # the running test's stderr file (all kcat stderr goes there)
FAIL_MSG=

# kcat with the bootstrap, a bound on its run time, stderr to the test's file.
k() {
    local dbg=()
    [[ -n "${KCAT_DEBUG:-}" ]] && dbg=(-d "$KCAT_DEBUG")
    echo "+ kcat $*" >>"$ERRF"
    timeout "$T_OUT" "$KCAT" -b "$B" "${dbg[@]}" "$@" 2>>"$ERRF"
}

fail() { FAIL_MSG="$*"; return 1; }

topic_name() { echo "compat-kcat-$1-$RUN_ID"; }

# N lines "key-i:value ..." with some colons inside values, an empty key,
# one 50 kB value, and a value made of every printable ASCII char.
make_input() {
    local n=$1 f=$2
    : >"$f"
    for ((i = 0; i < n; i++)); do
        case $((i % 10)) in
            3) printf ':value-without-key %d\n' "$i" >>"$f" ;;
            5) printf 'key-%d:value:with:colons %d\n' "$i" "$i" >>"$f" ;;
            7) printf 'key-%d:%s\n' "$i" "$(printf '%*s' 100 '' | tr ' ' 'x')$i" >>"$f" ;;
            *) printf 'key-%d:value %d %s\n' "$i" "$i" "$(date -d @$((1700000000 + i)) -u +%FT%T)" >>"$f" ;;
        esac
    done
    printf 'big-key:%s\n' "$(head -c 50000 /dev/zero | tr '\0' 'z')" >>"$f"
    printf 'ascii-key:%s\n' "$(printf '%s' ' !"#$%&'"'"'()*+,-./0123456789;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`abcdefghijklmnopqrstuvwxyz{|}~')" >>"$f"
}

# Waits (bounded) until `kcat -L -t TOPIC` shows partition 0 with a leader.
wait_topic() {
    local t=$1 i
    for ((i = 0; i < 50; i++)); do
        if k -L -t "$t" 2>/dev/null | grep -q 'partition 0, leader [0-9]'; then
            return 0
        fi
        sleep 0.2
    done
    fail "topic $t did not show partition 0 with a leader in -L within 10s"
}

# librdkafka's producer is not idempotent by default (enable.idempotence=false),
# so no test here needs InitProducerId (issue #4).

# Produce FILE's lines to TOPIC partition 0 with the given extra options,
# then read them back and compare byte for byte.
roundtrip() {
    local t=$1 in=$2
    shift 2
    k -P -t "$t" -p 0 -K: "$@" <"$in" || fail "kcat -P $* exited $?" || return 1
    local out="$WORK/$CUR.out"
    k -C -t "$t" -p 0 -o beginning -e -q -K: -X check.crcs=true >"$out" \
        || fail "kcat -C exited $? ($(wc -l <"$out") lines read)" || return 1
    if ! cmp -s "$in" "$out"; then
        fail "consumed bytes differ from produced ($(wc -l <"$in") lines/$(wc -c <"$in") bytes in, $(wc -l <"$out") lines/$(wc -c <"$out") bytes out): $(cmp "$in" "$out" 2>&1 | head -1)"
        return 1
    fi
}

# --- tests -------------------------------------------------------------------

# -L: the broker (with the advertised host:port) and a topic made by producing.
t_metadata() {
    local t
    t=$(topic_name meta)
    echo "hello" | k -P -t "$t" -p 0 || fail "producing to a new topic (auto-create) exited $?" || return 1
    wait_topic "$t" || return 1
    local md="$WORK/$CUR.md"
    k -L >"$md" || fail "kcat -L exited $?" || return 1
    grep -Eq "^ +broker [0-9]+ at $host:$port" "$md" || fail "kcat -L lists no broker at $host:$port: $(grep -m3 broker "$md" | tr '\n' ' ')" || return 1
    grep -q "^  topic \"$t\" with 1 partitions:" "$md" || fail "kcat -L does not list topic $t with 1 partition" || return 1
    grep -Eq "^    partition 0, leader [0-9]+, replicas: [0-9]+, isrs: [0-9]+" "$md" || fail "no partition line with leader/replicas/isrs" || return 1
    # JSON flavour: brokers and the topic
    k -L -J -t "$t" >"$md.json" || fail "kcat -L -J exited $?" || return 1
    python3 - "$md.json" "$t" "$host:$port" <<'EOF' || fail "kcat -L -J: $(cat "$md.json.err")" || return 1
import json, sys
path, topic, addr = sys.argv[1:]
md = json.load(open(path))
err = open(path + ".err", "w")
def bad(msg):
    err.write(msg); sys.exit(1)
if not any(b["name"] == addr for b in md["brokers"]):
    bad(f"no broker {addr} in {md['brokers']}")
ts = [x for x in md["topics"] if x["topic"] == topic]
if len(ts) != 1 or len(ts[0]["partitions"]) != 1 or "error" in ts[0]:
    bad(f"topic entry {ts}")
p = ts[0]["partitions"][0]
if p["leader"] not in [b["id"] for b in md["brokers"]]:
    bad(f"partition leader {p['leader']} is not a broker")
EOF
}

t_codec() {
    local codec=$1 t in
    t=$(topic_name "$codec")
    in="$WORK/$CUR.in"
    make_input 200 "$in"
    local z=()
    [[ $codec != none ]] && z=(-z "$codec")
    roundtrip "$t" "$in" "${z[@]}"
}
t_codec_none() { t_codec none; }
t_codec_gzip() { t_codec gzip; }
t_codec_snappy() { t_codec snappy; }
t_codec_lz4() { t_codec lz4; }
t_codec_zstd() { t_codec zstd; }

t_acks() {
    local acks=$1 t in
    t=$(topic_name "acks$acks")
    in="$WORK/$CUR.in"
    make_input 50 "$in"
    roundtrip "$t" "$in" -z lz4 -X "acks=$acks"
}
t_acks_0() { t_acks 0; }
t_acks_1() { t_acks 1; }

# Offsets, keys, headers, NULL values (-Z), partition: through -f.
t_format_headers_offsets() {
    local t in out want
    t=$(topic_name fmt)
    in="$WORK/$CUR.in"
    printf 'k0:v0\nk1:\nk2:v2\n:v3\n' >"$in"
    k -P -t "$t" -p 0 -K: -Z -H h1=one -H h2=two -z snappy <"$in" || fail "kcat -P exited $?" || return 1
    out="$WORK/$CUR.out"
    k -C -t "$t" -p 0 -o beginning -e -q -Z -f '%p|%o|%k|%K|%s|%S|%h\n' >"$out" || fail "kcat -C exited $?" || return 1
    # kcat -P -Z makes an empty value NULL; an empty key is sent as NULL too.
    want=$'0|0|k0|2|v0|2|h1=one,h2=two\n0|1|k1|2|NULL|-1|h1=one,h2=two\n0|2|k2|2|v2|2|h1=one,h2=two\n0|3|NULL|-1|v3|2|h1=one,h2=two'
    [[ "$(cat "$out")" == "$want" ]] || fail "got:
$(cat "$out")
want:
$want" || return 1
}

# Timestamps: CreateTime set by librdkafka at produce time; -Q offsets for
# times (ListOffsets), -1 = end, -2 = beginning; -o s@/e@ consume by time.
t_query_offsets_for_times() {
    local t in out before after
    t=$(topic_name query)
    in="$WORK/$CUR.in"
    make_input 10 "$in"
    local n n1
    n=$(wc -l <"$in")
    n1=5
    # Two kcat runs, so the second half's timestamps are later than the first's.
    before=$(($(date +%s%3N) - 1))
    head -n "$n1" "$in" | k -P -t "$t" -p 0 -K: || fail "kcat -P (first half) exited $?" || return 1
    sleep 0.1
    tail -n +$((n1 + 1)) "$in" | k -P -t "$t" -p 0 -K: || fail "kcat -P (second half) exited $?" || return 1
    after=$(($(date +%s%3N) + 1))
    out="$WORK/$CUR.ts"
    k -C -t "$t" -p 0 -o beginning -e -q -f '%o %T\n' >"$out" || fail "kcat -C exited $?" || return 1
    [[ $(wc -l <"$out") -eq $n ]] || fail "read $(wc -l <"$out") of $n messages" || return 1
    awk -v lo="$before" -v hi="$after" '$2 < lo || $2 > hi { print "offset " $1 " timestamp " $2 " outside [" lo ", " hi "]"; bad=1 } END { exit bad }' "$out" >"$out.bad" \
        || fail "$(head -1 "$out.bad")" || return 1
    local ts0 ts2
    ts0=$(awk 'NR==1 { print $2 }' "$out")
    ts2=$(awk -v n1="$n1" '$1 == n1 { print $2 }' "$out")   # first of the second half
    awk -v n1="$n1" -v ts2="$ts2" '$1 < n1 && $2 >= ts2 { bad=1 } END { exit bad }' "$out" \
        || fail "the first half has timestamps >= the second half's first ($ts2)" || return 1
    # query TIMESTAMP -> the offset kcat -Q prints
    query() { k -Q -t "$t:0:$1" | sed -n 's/.* offset \(-\?[0-9]\+\).*/\1/p' | head -1; }
    local got
    got=$(query $((before - 60000)))
    [[ "$got" == 0 ]] || fail "-Q before the first timestamp: offset '$got', want 0" || return 1
    got=$(query "$ts0")
    [[ "$got" == 0 ]] || fail "-Q at the first timestamp $ts0: offset '$got', want 0" || return 1
    got=$(query "$ts2")
    [[ "$got" == "$n1" ]] || fail "-Q at the second half's first timestamp $ts2: offset '$got', want $n1" || return 1
    got=$(query $((after + 3600000)))
    [[ "$got" == -1 ]] || fail "-Q an hour past the last timestamp: offset '$got', want -1 (none)" || return 1
    got=$(query -1)
    [[ "$got" == "$n" ]] || fail "-Q -1 (latest): offset '$got', want $n" || return 1
    got=$(query -2)
    [[ "$got" == 0 ]] || fail "-Q -2 (earliest): offset '$got', want 0" || return 1
    # consume from a time: -o s@TS (offsetsForTimes, then fetch)
    out="$WORK/$CUR.from"
    k -C -t "$t" -p 0 -o "s@$ts2" -e -q -f '%o\n' >"$out" || fail "kcat -C -o s@$ts2 exited $?" || return 1
    [[ "$(head -1 "$out")" == "$n1" && $(wc -l <"$out") -eq $((n - n1)) ]] \
        || fail "-o s@$ts2 gave offsets $(tr '\n' ' ' <"$out"), want $n1..$((n - 1))" || return 1
}

# Consuming from an offset in the middle of a compressed batch.
t_consume_from_offset() {
    local t in out
    t=$(topic_name mid)
    in="$WORK/$CUR.in"
    make_input 30 "$in"
    k -P -t "$t" -p 0 -K: -z zstd -X linger.ms=50 <"$in" || fail "kcat -P exited $?" || return 1
    out="$WORK/$CUR.out"
    k -C -t "$t" -p 0 -o 17 -e -q -K: >"$out" || fail "kcat -C -o 17 exited $?" || return 1
    cmp -s <(tail -n +18 "$in") "$out" || fail "from offset 17: $(wc -l <"$out") lines, differ from input lines 18..: $(cmp <(tail -n +18 "$in") "$out" 2>&1 | head -1)" || return 1
    # relative from the end: -o -5 gives the last 5
    k -C -t "$t" -p 0 -o -5 -e -q -K: >"$out" || fail "kcat -C -o -5 exited $?" || return 1
    cmp -s <(tail -n 5 "$in") "$out" || fail "-o -5 did not give the last 5 lines" || return 1
}

ALL_TESTS=(metadata codec_none codec_gzip codec_snappy codec_lz4 codec_zstd acks_0 acks_1
    format_headers_offsets query_offsets_for_times consume_from_offset)

if [[ "${1:-}" == --list ]]; then
    printf '%s\n' "${ALL_TESTS[@]}"
    exit 0
fi
TESTS=("$@")
((${#TESTS[@]})) || TESTS=("${ALL_TESTS[@]}")

passed=0
failed=0
failed_names=()
for name in "${TESTS[@]}"; do
    declare -F "t_$name" >/dev/null || die "no test '$name' (see --list)"
    CUR=$name
    ERRF="$WORK/$name.stderr"
    : >"$ERRF"
    FAIL_MSG=
    start=$SECONDS
    if "t_$name" && [[ -z "$FAIL_MSG" ]]; then
        echo "PASS $name ($((SECONDS - start))s)"
        passed=$((passed + 1))
    else
        echo "FAIL $name ($((SECONDS - start))s): ${FAIL_MSG:-failed}"
        if grep -qv '^+ kcat' "$ERRF"; then
            echo "  kcat stderr ($ERRF):"
            grep -v '^+ kcat' "$ERRF" | tail -n 8 | sed 's/^/    /'
        fi
        failed=$((failed + 1))
        failed_names+=("$name")
    fi
done

echo
echo "kcat compat against $B ($VERSION_LINE)"
((failed)) && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
((failed == 0))
