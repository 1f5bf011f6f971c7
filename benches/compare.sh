#!/usr/bin/env bash
# Strata beside Apache Kafka 4.4.0 on this machine, same workloads, in one
# run, and BENCHMARKS.md written from the results (never edit it by hand).
#
# Usage: benches/compare.sh [--quick] [--repeats N] [--duration S] [--warmup S]
#                           [--catchup-mib N] [--perf-seconds S] [--note TEXT]...
#                           [--out FILE] [--no-build]
#
#   --quick         1 repeat, 5 s runs, 64 MiB catch-up: a few minutes
#   --repeats N     runs per broker and workload (default 3, quick 1)
#   --duration S    measured seconds per run (default 15, quick 5)
#   --warmup S      unmeasured seconds before each run (default 5, quick 2)
#   --catchup-mib N size of the topic read back from the start (default 256,
#                   quick 64; the issue asks 1024, which on a slow disk makes
#                   one fill take minutes per broker and repeat)
#   --perf-seconds S  how long Kafka's ProducerPerformance should run, at
#                   Kafka's measured max rate (default 10, quick 4)
#   --rereads N     catch-up topic reread from offset 0 this many times per
#                   broker after both fills, alternating brokers (default 3,
#                   quick 1; 0: none)
#   --no-controls   leave out the control broker (below)
#   --note TEXT     a line for the Notes section of BENCHMARKS.md
#   --out FILE      where to write the report (default <repo>/BENCHMARKS.md)
#   --no-build      use the release binaries already in target/release
#
# What it does, in order:
# 1. builds `strata` and the bench tools in release mode;
# 2. measures the machine: loopback TCP (benches' tcp-loopback), raw
#    disk writes on the disk the brokers write to (dd: page cache only,
#    with one fdatasync at the end, and with O_DSYNC on every 16 KiB write),
#    and the latency of one 16 KiB write + fdatasync there (benches'
#    fsync-latency, at the start and again at the end);
# 3. for each repeat, both brokers started on fresh data dirs with default
#    settings, and each workload run by one and then the other (Kafka first
#    in odd repeats, Strata first in even ones; max-100b before max-1k in
#    even repeats):
#      max-1k      1 KiB records, 6 partitions, acks=all, max rate
#      max-100b    the same with 100-byte records (per-record overhead)
#      catchup     fill --catchup-mib, then consume it from offset 0, timed
#      catchup-reread  the same topic read again from offset 0, --rereads
#                  times per broker, one broker then the other: one read per
#                  broker swings 4x within minutes on this VM (slow reads
#                  wait on the client socket's lock: benches/FINDINGS.md)
#      fixed-1k    1 KiB records at half Kafka's max-1k rate (latency)
#      kafka-producer-perf-test, kafka-consumer-perf-test (Kafka's own
#                  ProducerPerformance and ConsumerPerformance, 1 KiB records)
#    and, unless --no-controls, a third broker, strata-nosync (Strata that
#    never calls fdatasync), runs max-1k, max-100b, fixed-1k and
#    ProducerPerformance right beside durable Strata: where the two make the
#    same figure, the disk path is not what bounds it;
#    Kafka's max rate is the median of its max-1k runs so far, so both
#    brokers of a repeat run fixed-1k at the same rate. Every run ends
#    with the page cache synced, so no run pays for the writes of the one
#    before (Kafka leaves them unwritten); the data dirs go at the end of
#    the repeat;
# 4. writes the table (bench-report) and the machine into --out.
#
# Strata runs with its defaults, which acknowledge only what is on disk
# (fdatasync before acks=all is answered). Kafka runs with its defaults
# (kafka-server-start.sh's heap and GC flags), which acknowledge what is in
# the page cache. Ports: the first free ones from 29092 (Kafka, then its
# controller) and 29192 (Strata), below Linux's ephemeral range (32768 up)
# so that no client's own socket can hold them when a broker restarts (a
# run once died on that), and apart from the brokers others run (the compat
# tests' Kafka on 19092) are left alone; KAFKA_PORT, KAFKA_CONTROLLER_PORT
# and STRATA_PORT override. State and logs: target/bench-compare/ (BENCH_DIR
# overrides).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
# The command as typed, for the report: arguments with spaces or quotes in
# single quotes.
COMMAND=benches/compare.sh
for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./=:,+-]+$ ]]; then
        COMMAND+=" $arg"
    else
        COMMAND+=" '${arg//\'/\'\\\'\'}'"
    fi
done

QUICK=0
REPEATS=
DURATION=
WARMUP=
CATCHUP_MIB=
PERF_SECONDS=
REREADS=
CONTROLS=1
BUILD=1
OUT=$REPO/BENCHMARKS.md
NOTES=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --repeats) REPEATS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --catchup-mib) CATCHUP_MIB=$2; shift ;;
        --perf-seconds) PERF_SECONDS=$2; shift ;;
        --rereads) REREADS=$2; shift ;;
        --note) NOTES+=("$2"); shift ;;
        --out) OUT=$2; shift ;;
        --no-build) BUILD=0 ;;
        --no-controls) CONTROLS=0 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [[ $QUICK == 1 ]]; then
    : "${REPEATS:=1}" "${DURATION:=5}" "${WARMUP:=2}" "${CATCHUP_MIB:=64}" "${PERF_SECONDS:=4}" "${REREADS:=1}"
else
    : "${REPEATS:=3}" "${DURATION:=15}" "${WARMUP:=5}" "${CATCHUP_MIB:=256}" "${PERF_SECONDS:=10}" "${REREADS:=3}"
fi

BENCH_DIR=${BENCH_DIR:-$REPO/target/bench-compare}
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
# The first port from $1 up that nothing listens on (others on this machine
# run brokers of their own).
free_port() {
    local port=$1
    while port_open "$port"; do port=$((port + 1)); done
    echo "$port"
}
STRATA_PORT=${STRATA_PORT:-$(free_port 29192)}
KAFKA_PORT=${KAFKA_PORT:-$(free_port 29092)}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$(free_port $((KAFKA_PORT + 1)))}
KAFKA_SH=$REPO/compat-tests/apache-kafka.sh
# kafka-server-start.sh's heap and kafka-run-class.sh's GC flags.
KAFKA_JVM_OPTS="-Xmx1G -Xms1G -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent"
BIN=$REPO/target/release
RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$BENCH_DIR/results-$RUN_ID.jsonl
LOGS=$BENCH_DIR/logs-$RUN_ID
PARTITIONS=6
# anyhow prints backtraces when RUST_BACKTRACE is set; the message is enough.
export RUST_LIB_BACKTRACE=0

log() { echo "compare.sh [$(date +%T)]: $*" >&2; }
die() { log "$*"; exit 1; }

mkdir -p "$BENCH_DIR" "$LOGS"
: >"$RESULTS"
START_SECONDS=$SECONDS
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)

kafka_env() {
    env KAFKA_HOME="$BENCH_DIR/kafka" KAFKA_PORT=$KAFKA_PORT \
        KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT KAFKA_HEAP_OPTS="$KAFKA_JVM_OPTS" "$@"
}

# Strata brokers by name: "strata" runs with its defaults; "strata-nosync"
# (unless --no-controls) never calls fdatasync (flush.messages at its maximum, as a
# topic that opts out of durable acks), the control that shows how much of a
# figure the disk path is: where it makes what durable Strata makes, no
# faster disk path would move that figure.
declare -A STRATA_PIDS=() STRATA_PORTS=([strata]=$STRATA_PORT)
declare -A STRATA_ARGS=([strata]="" [strata-nosync]="--set log.flush.interval.messages=9223372036854775807")
if [[ $CONTROLS == 1 ]]; then
    STRATA_PORTS[strata-nosync]=${STRATA_NOSYNC_PORT:-$(free_port $((STRATA_PORT + 1)))}
fi
# The workloads the control broker runs.
CONTROL_WORKLOADS=" max-1k max-100b fixed-1k perf "
BROKER_PID=
# start_strata NAME REPEAT
start_strata() {
    local name=$1 port=${STRATA_PORTS[$1]} pid
    port_open "$port" && die "127.0.0.1:$port is taken by another process"
    rm -rf "$BENCH_DIR/$name-data"
    mkdir -p "$BENCH_DIR/$name-data"
    # shellcheck disable=SC2086 # the extra arguments are words
    "$BIN/strata" serve --data-dir "$BENCH_DIR/$name-data" \
        --set "listeners=PLAINTEXT://127.0.0.1:$port" ${STRATA_ARGS[$name]} \
        >"$LOGS/$name-$2.log" 2>&1 &
    pid=$!
    STRATA_PIDS[$name]=$pid
    for _ in $(seq 1 100); do
        port_open "$port" && return 0
        [[ -d /proc/$pid ]] || break
        sleep 0.1
    done
    tail -n 20 "$LOGS/$name-$2.log" >&2
    die "$name did not start"
}

# stop_strata NAME
stop_strata() {
    local pid=${STRATA_PIDS[$1]:-}
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        [[ -d /proc/$pid ]] || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    STRATA_PIDS[$1]=
}

start_kafka() {
    port_open $KAFKA_PORT && die "127.0.0.1:$KAFKA_PORT is taken by another process"
    kafka_env KAFKA_CLEAN=1 "$KAFKA_SH" start >"$LOGS/kafka-start-$1.log" 2>&1 \
        || { cat "$LOGS/kafka-start-$1.log" >&2; die "Kafka did not start"; }
    BROKER_PID=$(cat "$BENCH_DIR/kafka/kafka.pid")
}

stop_kafka() { kafka_env "$KAFKA_SH" stop >/dev/null 2>&1 || true; }

# Results and logs stay; the brokers' data (gigabytes) goes.
cleanup() {
    for name in "${!STRATA_PORTS[@]}"; do
        stop_strata "$name"
        rm -rf "${BENCH_DIR:?}/$name-data"
    done
    stop_kafka
    rm -rf "$BENCH_DIR/kafka/data"
}
trap cleanup EXIT

# One strata-bench run; its JSON line goes to the results file.
# bench BROKER WORKLOAD REPEAT BOOTSTRAP ARGS...
bench() {
    local broker=$1 workload=$2 repeat=$3 bootstrap=$4
    shift 4
    local log="$LOGS/$broker-$workload-$repeat.log"
    log "$broker $workload (repeat $repeat)"
    # Bounded twice: by the tool's own flags, and by this timeout.
    if timeout 900 "$BIN/strata-bench" --bootstrap "$bootstrap" --broker-pid "$BROKER_PID" \
        --partitions $PARTITIONS --acks all --warmup "$WARMUP" \
        --tag "broker=$broker" --tag "workload=$workload" --tag "repeat=$repeat" \
        "$@" >"$log" 2>"$log.progress"; then
        grep '^{' "$log" >>"$RESULTS"
        grep -v '^{' "$log" | sed 's/^/    /' >&2
    else
        log "$broker $workload failed; see $log and $log.progress"
        tail -n 5 "$log.progress" >&2
    fi
}

# CPU seconds a process has used so far (user + system), from /proc.
cpu_seconds() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"
}

# Runs a Kafka tool's main class; its output goes to $log, the user +
# system CPU seconds of the JVM to $log.cpu (bash's `time`, which counts
# every process waited for below it) and the broker's over the same time
# to $log.broker-cpu.
run_perf_tool() {
    local log=$1
    shift
    local TIMEFORMAT='%U %S' cpu0 status
    cpu0=$(cpu_seconds "$BROKER_PID")
    { time timeout 300 env KAFKA_HOME="$BENCH_DIR/kafka" "$KAFKA_SH" run-class "$@" >"$log" 2>&1; } \
        2>"$log.time"
    status=$?
    awk '{ printf "%.2f", $1 + $2 }' "$log.time" >"$log.cpu"
    awk -v a="$cpu0" -v b="$(cpu_seconds "$BROKER_PID")" 'BEGIN { printf "%.2f", b - a }' \
        >"$log.broker-cpu"
    return $status
}

# A figure from Kafka's client metrics (--print-metrics), e.g.
# producer-metrics request-latency-avg; "null" when absent or NaN.
client_metric() {
    local log=$1 group=$2 name=$3
    grep "^$group:$name:" "$log" | head -n 1 | awk '$NF ~ /^[0-9.]+$/ { v = $NF } END { print (v == "" ? "null" : v) }'
}

# kafka-producer-perf-test: the steady-state line after --warmup-records.
# "N steady state records sent, X records/sec (Y MB/sec), A ms avg latency,
#  M ms max latency, P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th."
# With the client's own request latency and records per request (its
# metrics, averaged over the whole run, warm-up included), and both
# processes' CPU: this Java client sends at most 5 requests at a time, so
# its throughput is ~5 requests / request latency unless its own threads
# are what is busy.
producer_perf() {
    local broker=$1 repeat=$2 bootstrap=$3 records=$4
    local log="$LOGS/$broker-producer-perf-$repeat.log"
    log "$broker kafka-producer-perf-test, $records records (repeat $repeat)"
    "$BIN/strata-bench" --bootstrap "$bootstrap" --topic perf --partitions $PARTITIONS \
        --create-topic-only >/dev/null
    if run_perf_tool "$log" org.apache.kafka.tools.ProducerPerformance --topic perf \
        --num-records "$records" --warmup-records $((records / 4)) --record-size 1024 \
        --throughput -1 --command-property "bootstrap.servers=$bootstrap" acks=all \
        --print-metrics; then
        local broker_cpu client_cpu latency per_request
        broker_cpu=$(cat "$log.broker-cpu")
        client_cpu=$(cat "$log.cpu")
        latency=$(client_metric "$log" producer-metrics request-latency-avg)
        per_request=$(client_metric "$log" producer-metrics records-per-request-avg)
        grep 'steady state records sent' "$log" | tail -n 1 | sed 's/^/    /' >&2
        echo "    request-latency-avg $latency ms, records-per-request-avg $per_request, broker CPU ${broker_cpu} s, client CPU ${client_cpu} s" >&2
        grep 'steady state records sent' "$log" | tail -n 1 | tr -d ',()' | awk \
            -v b="$broker" -v r="$repeat" -v bc="$broker_cpu" -v cc="$client_cpu" \
            -v lat="$latency" -v per="$per_request" '{
            for (i = 2; i <= NF; i++) {
                if ($i == "records/sec") rate = $(i - 1)
                if ($i == "MB/sec") mb = $(i - 1)
                if ($i == "max" && $(i + 1) == "latency") max = $(i - 2)
                if ($i == "50th") p50 = $(i - 2)
                if ($i == "99th") p99 = $(i - 2)
                if ($i ~ /^99\.9th/) p999 = $(i - 2)
            }
            printf "{\"tool\":\"kafka-producer-perf-test\",\"tags\":{\"broker\":\"%s\",\"workload\":\"kafka-producer-perf-test\",\"repeat\":\"%s\"},", b, r
            printf "\"produced\":{\"messages\":%d,\"msg_per_s\":%s,\"mib_per_s\":%s},", $1, rate, mb
            printf "\"ack_latency_ms\":{\"p50\":%s,\"p99\":%s,\"p999\":%s,\"max\":%s},", p50, p99, p999, max
            printf "\"produce_request_latency_ms\":{\"mean\":%s},\"records_per_request\":%s,", lat, per
            printf "\"broker\":{\"cpu_s\":%s},\"client\":{\"cpu_s\":%s}}\n", bc, cc
        }' >>"$RESULTS"
    else
        log "$broker kafka-producer-perf-test failed; see $log"
    fi
}

# kafka-consumer-perf-test reading what producer_perf wrote. Its CSV line:
# start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg,
# nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
# The fetch.* figures leave out the group join, as ours leave out setup.
consumer_perf() {
    local broker=$1 repeat=$2 bootstrap=$3 records=$4
    local log="$LOGS/$broker-consumer-perf-$repeat.log"
    log "$broker kafka-consumer-perf-test, $records records (repeat $repeat)"
    if run_perf_tool "$log" org.apache.kafka.tools.ConsumerPerformance \
        --bootstrap-server "$bootstrap" --topic perf --group "perf-$broker-$repeat" \
        --num-records "$records" --timeout 60000; then
        local line broker_cpu client_cpu
        broker_cpu=$(cat "$log.broker-cpu")
        client_cpu=$(cat "$log.cpu")
        line=$(grep -A1 '^start.time' "$log" | tail -n 1)
        echo "    $line (broker CPU ${broker_cpu} s, client CPU ${client_cpu} s)" >&2
        echo "$line" | awk -F', *' -v b="$broker" -v r="$repeat" -v bc="$broker_cpu" -v cc="$client_cpu" 'NF >= 10 {
            printf "{\"tool\":\"kafka-consumer-perf-test\",\"tags\":{\"broker\":\"%s\",\"workload\":\"kafka-consumer-perf-test\",\"repeat\":\"%s\"},", b, r
            printf "\"consumed\":{\"messages\":%d,\"msg_per_s\":%s,\"mib_per_s\":%s},", $5, $10, $9
            printf "\"broker\":{\"cpu_s\":%s},\"client\":{\"cpu_s\":%s}}\n", bc, cc
        }' >>"$RESULTS"
    else
        log "$broker kafka-consumer-perf-test failed; see $log"
    fi
}

# Half Kafka's median max-1k rate so far, and ProducerPerformance's record
# count for --perf-seconds at that max.
RATE=
PERF_RECORDS=
set_rates() {
    local kafka_max
    kafka_max=$("$BIN/bench-report" median "$RESULTS" kafka max-1k produced.msg_per_s 2>/dev/null) \
        || { log "no Kafka max-1k result yet; using 10000 msg/s"; kafka_max=20000; }
    RATE=$(awk -v m="$kafka_max" 'BEGIN { printf "%d", m / 2 }')
    # Bounded: ProducerPerformance has no time limit, and a slower broker
    # takes longer over the same count.
    PERF_RECORDS=$(awk -v m="$kafka_max" -v s="$PERF_SECONDS" -v cap=$((QUICK == 1 ? 100000 : 500000)) \
        'BEGIN { n = int(m * s); if (n < 20000) n = 20000; if (n > cap) n = cap; print n }')
    log "fixed rate: $RATE msg/s (half Kafka's max-1k); perf-test records: $PERF_RECORDS"
}

# One broker's turn at one workload. Both brokers run through a whole
# repeat (Kafka's JVM warms up as it would in service), and each workload
# is run by one and then the other, so that the two runs of a pair are a
# minute apart at most: this machine's disk and memory drift over minutes,
# and pairs used to be a whole broker's turn (~5 minutes) apart.
# turn BROKER REPEAT WORKLOAD
turn() {
    local broker=$1 repeat=$2 workload=$3 bootstrap
    case "$broker" in
        strata | strata-nosync)
            BROKER_PID=${STRATA_PIDS[$broker]}; bootstrap=127.0.0.1:${STRATA_PORTS[$broker]} ;;
        kafka) BROKER_PID=$KAFKA_PID; bootstrap=127.0.0.1:$KAFKA_PORT ;;
    esac
    case "$workload" in
        max-1k)
            bench "$broker" max-1k "$repeat" "$bootstrap" --topic max-1k --message-size 1024 \
                --duration "$DURATION" ;;
        max-100b)
            bench "$broker" max-100b "$repeat" "$bootstrap" --topic max-100b --message-size 100 \
                --duration "$DURATION" ;;
        catchup)
            bench "$broker" catchup "$repeat" "$bootstrap" --topic catchup --message-size 1024 \
                --messages $((CATCHUP_MIB * 1024)) --consume-from-start --catchup-timeout 300 ;;
        catchup-reread)
            bench "$broker" catchup-reread "$repeat" "$bootstrap" --topic catchup --message-size 1024 \
                --producers 0 --messages $((CATCHUP_MIB * 1024)) --consume-from-start \
                --catchup-timeout 300 ;;
        fixed-1k)
            bench "$broker" fixed-1k "$repeat" "$bootstrap" --topic fixed-1k --message-size 1024 \
                --duration "$DURATION" --rate "$RATE" ;;
        perf)
            producer_perf "$broker" "$repeat" "$bootstrap" "$PERF_RECORDS"
            # The control only writes: reads do not fdatasync.
            [[ $broker == strata-nosync ]] \
                || consumer_perf "$broker" "$repeat" "$bootstrap" "$PERF_RECORDS" ;;
    esac
    # Kafka leaves gigabytes in the page cache unwritten (it does not
    # fsync); left there, the kernel writes them back during the other
    # broker's next run, which then competes with it for the disk. So every
    # run ends with the page cache synced, and the next starts on a quiet disk.
    local t0=$SECONDS
    sync
    log "$broker $workload done, sync took $((SECONDS - t0)) s"
}

# 1. Build.
if [[ $BUILD == 1 ]]; then
    log "building strata and the bench tools (release)"
    (cd "$REPO" && cargo build --release -q -p strata-server --bin strata \
        -p strata-benches --bin strata-bench --bin tcp-loopback --bin fsync-latency \
        --bin bench-report)
fi
kafka_env "$KAFKA_SH" fetch
# The time the report gives is the benchmark's, without the build.
START_SECONDS=$SECONDS

# 2. The machine's limits, on the disk the brokers write to.
log "machine limits"
loopback=$("$BIN/tcp-loopback" --seconds 3 | grep '^{' | sed 's/.*"mib_per_s":\([0-9.]*\).*/\1/')
echo "{\"tool\":\"limit\",\"name\":\"loopback TCP\",\"mib_per_s\":$loopback}" >>"$RESULTS"
# dd_mib FILE ARGS...: MiB/s of the better of two dd runs (bytes and
# seconds from dd's summary); the first run can pay for block allocation or
# for other processes' dirty pages being written back.
dd_mib() {
    local file=$1 best=0 mib
    shift
    for _ in 1 2; do
        mib=$(timeout 120 dd if=/dev/zero of="$file" "$@" 2>&1 >/dev/null | awk '
            / bytes / && / copied/ { bytes = $1; for (i = 1; i <= NF; i++) if ($i ~ /^s,?$/) secs = $(i - 1) }
            END { if (secs > 0) printf "%.1f", bytes / 1048576 / secs; else print 0 }')
        rm -f "$file"
        best=$(awk -v a="$best" -v b="$mib" 'BEGIN { print (b > a ? b : a) }')
    done
    echo "$best"
}
disk_mib=$((QUICK == 1 ? 256 : 1024))
dd_plain=$(dd_mib "$BENCH_DIR/dd.tmp" bs=1M count=$disk_mib)
dd_fsync=$(dd_mib "$BENCH_DIR/dd.tmp" bs=1M count=$disk_mib conv=fdatasync)
dd_dsync=$(dd_mib "$BENCH_DIR/dd.tmp" bs=16k count=$((QUICK == 1 ? 1024 : 4096)) oflag=dsync)
{
    echo "{\"tool\":\"limit\",\"name\":\"disk write, page cache (dd 1 MiB)\",\"mib_per_s\":$dd_plain}"
    echo "{\"tool\":\"limit\",\"name\":\"disk write + fdatasync at end (dd 1 MiB)\",\"mib_per_s\":$dd_fsync}"
    echo "{\"tool\":\"limit\",\"name\":\"disk write, O_DSYNC each 16 KiB (dd)\",\"mib_per_s\":$dd_dsync}"
} >>"$RESULTS"
log "loopback $loopback MiB/s; disk: $dd_plain (page cache), $dd_fsync (fdatasync at end), $dd_dsync (O_DSYNC 16 KiB) MiB/s"
# The floor under a durable ack: one 16 KiB write + fdatasync, into a file
# that grows and into one written ahead with zeros (as Strata's segments
# are); again at the end, since this disk's latency drifts during a run.
fsync_latency() {
    "$BIN/fsync-latency" --dir "$BENCH_DIR" --seconds 3 | grep '^{' \
        | sed "s/^{/{\"when\":\"$1\",/" >>"$RESULTS"
}
fsync_latency start

# 3. The workloads, each run by both brokers in turn.
for repeat in $(seq 1 "$REPEATS"); do
    if ((repeat % 2 == 1)); then order="kafka strata"; else order="strata kafka"; fi
    # The control runs right beside durable Strata in either order.
    with_control=$order
    if [[ $CONTROLS == 1 ]]; then
        if ((repeat % 2 == 1)); then with_control="$order strata-nosync"; else with_control="strata-nosync $order"; fi
    fi
    start_kafka "$repeat"
    KAFKA_PID=$BROKER_PID
    for name in "${!STRATA_PORTS[@]}"; do start_strata "$name" "$repeat"; done
    log "kafka (pid $KAFKA_PID) and strata (pid ${STRATA_PIDS[strata]}) up, fresh data dirs"
    [[ $CONTROLS == 1 ]] && log "control strata-nosync (pid ${STRATA_PIDS[strata-nosync]}) up"
    # The two max-rate workloads swap places every repeat: on this VM the
    # second one measured slower (page-cache memory handed back to the
    # host, among other things: benches/FINDINGS.md), and neither workload
    # should always be the one that pays for it.
    if ((repeat % 2 == 1)); then max_rate="max-1k max-100b"; else max_rate="max-100b max-1k"; fi
    for workload in $max_rate catchup catchup-reread fixed-1k perf; do
        # Both brokers of a repeat at the same rate, from Kafka's max-1k
        # runs so far (this repeat's included).
        if [[ $workload == fixed-1k ]]; then set_rates; fi
        if [[ $workload == catchup-reread ]]; then
            # Each pair of rereads is a pair of its own (repeat 2.1, 2.2, ...).
            for read in $(seq 1 "$REREADS"); do
                for broker in $order; do
                    turn "$broker" "$repeat.$read" "$workload"
                done
            done
            continue
        fi
        brokers=$order
        [[ $CONTROL_WORKLOADS == *" $workload "* ]] && brokers=$with_control
        for broker in $brokers; do
            turn "$broker" "$repeat" "$workload"
        done
    done
    for name in "${!STRATA_PORTS[@]}"; do
        stop_strata "$name"
        rm -rf "${BENCH_DIR:?}/$name-data"
    done
    stop_kafka
    rm -rf "$BENCH_DIR/kafka/data"
    sync
done

fsync_latency end

# 4. The report.
table=$("$BIN/bench-report" table "$RESULTS")
disk_dev=$(df --output=source "$BENCH_DIR" | tail -n 1)
disk_fs=$(df --output=fstype "$BENCH_DIR" | tail -n 1)
disk_name=$(basename "$disk_dev")
rotational=$(cat "/sys/block/$disk_name/queue/rotational" 2>/dev/null || echo "?")
cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem_total=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
elapsed=$((SECONDS - START_SECONDS))
strata_max=$("$BIN/bench-report" median "$RESULTS" strata max-1k produced.msg_per_s 2>/dev/null || echo 0)
rate_note=$(awk -v r="$RATE" -v m="$strata_max" 'BEGIN {
    if (m > 0) printf "%d msg/s, %.0f%% of Strata'"'"'s median max-1k rate (%d msg/s)", r, 100 * r / m, m
    else printf "%d msg/s", r }')
# The commit measured, and whether the tree differs from it. Found before
# the report is opened (which empties it) and without the report itself,
# which every run rewrites: otherwise every report says it has changes.
commit="$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
not_code=()
[[ $OUT == "$REPO"/* ]] && not_code=(":(exclude)${OUT#"$REPO"/}")
(cd "$REPO" && git diff --quiet HEAD -- . "${not_code[@]}" 2>/dev/null) \
    || commit+=" (with uncommitted changes)"
{
    echo "# Benchmarks: Strata beside Apache Kafka 4.4.0"
    echo
    echo "Generated by \`benches/compare.sh\`; do not edit by hand, run it again."
    echo
    echo "- Command: \`$COMMAND\` ($REPEATS repeat(s), ${DURATION} s measured after ${WARMUP} s warm-up per run, catch-up of ${CATCHUP_MIB} MiB)"
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'), took ${elapsed} s"
    echo "- Commit: $commit"
    echo "- Machine: $(nproc) CPUs ($cpu_model), $mem_total memory, kernel $(uname -r)"
    echo "- Disk of the data dirs: $disk_dev ($disk_fs, rotational=$rotational)"
    echo "- Load average at start (1, 5, 15 min): $LOAD_AT_START; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- Strata: release build, fresh data dir, default settings (acks=all answered after fdatasync)"
    echo "- Kafka: 4.4.0 from Maven, one KRaft node, fresh data dir, default settings (no fsync before acks), JVM: \`$KAFKA_JVM_OPTS -XX:+UseG1GC\`"
    echo "- $(java -version 2>&1 | head -n 1); $(rustc --version 2>/dev/null || echo rustc unknown)"
    if [[ ${#NOTES[@]} -gt 0 ]]; then
        echo
        echo "Notes:"
        echo
        for note in "${NOTES[@]}"; do echo "- $note"; done
    fi
    echo
    echo "## Workloads"
    echo
    echo "All on one topic of $PARTITIONS partitions, acks=all, no compression, batch 16 KiB, linger 5 ms,"
    echo "1 producer and 1 consumer of \`strata-bench\` (our codec over TCP, 5 requests in flight), unless said:"
    echo
    echo "- max-1k: 1 KiB records at max rate; e2e latency is send to consume"
    echo "- max-100b: 100-byte records at max rate (per-record overhead)"
    echo "- catchup: ${CATCHUP_MIB} MiB written first, then read from offset 0; consume MiB/s is that read"
    echo "- catchup-reread: the same ${CATCHUP_MIB} MiB read again from offset 0, ${REREADS} time(s) per broker and repeat, one broker then the other (each pair a pair of its own)"
    echo "- fixed-1k: 1 KiB records at half Kafka's median max-1k msg/s (the latency target); last rate: $rate_note"
    echo "- kafka-producer-perf-test / kafka-consumer-perf-test: Kafka's own tools (Java client), 1 KiB records, acks=all, against both"
    if [[ $CONTROLS == 1 ]]; then
        echo "- control: strata-nosync, Strata with \`log.flush.interval.messages=9223372036854775807\` (it never calls fdatasync), runs max-1k, max-100b, fixed-1k and kafka-producer-perf-test right beside durable Strata (Controls, below)"
    fi
    echo
    echo "Ratios are Strata/Kafka: the median of per-repeat ratios (in each repeat both brokers run each workload, one right after the other),"
    echo "with the smallest and largest as the spread. Throughput in MiB/s of record values."
    echo
    echo "## Results"
    echo
    echo "$table"
    echo
    echo "Raw results: \`${RESULTS#"$REPO"/}\`; per-run logs: \`${LOGS#"$REPO"/}/\`."
} >"$OUT"
log "wrote $OUT in ${elapsed} s"
echo "$table"
