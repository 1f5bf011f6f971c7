//! The soak run behind `strata-soak`: many connections producing and
//! consuming at a fixed rate for a long time, checking every record and
//! watching the broker's memory and open files.
//!
//! 1. Create the topic if it is missing (`--partitions`, 1,000 by default)
//!    and read every partition's log end (ListOffsets): producers expect
//!    their records there, consumers start there.
//! 2. Deal the partitions round-robin over the producer connections and,
//!    separately, over the consumer connections, and open them all.
//! 3. Each producer creates records at its share of `rate`, due at fixed
//!    instants (spread over the producers so they do not all fire at
//!    once), and every `linger` sends what came due as one Produce request,
//!    one batch per partition, one request in flight. Each response must
//!    carry no error and the base offset where the partition's previous
//!    records ended.
//! 4. Each consumer long-polls its partitions (one sessionless Fetch in
//!    flight) and checks every record: the next offset, the partition it
//!    was written to, the next sequence number of that partition.
//! 5. Every `sample_interval` the broker's VmRSS and `/proc/<pid>/fd` count
//!    are sampled and a progress line printed.
//! 6. At `duration` the producers stop creating records and wait for their
//!    last acknowledgement; consumers then read until each partition's
//!    consumed count equals its acknowledged count, or `drain_timeout`.
//!
//! The run passes when nothing failed (produce and fetch errors, order
//! errors, connections lost, records not consumed are all counted) and the
//! steady state (after `warmup`) is flat in RSS and open files
//! ([`verdict::flatness`]).
//!
//! Record value, big-endian: `0..8` the partition's sequence number,
//! `8..12` the partition, `12..20` when the record was due (nanoseconds
//! since the run's start), then filler up to `message_size`.

pub mod verdict;

use anyhow::{Context, bail, ensure};
use bytes::{BufMut, Bytes, BytesMut};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;

use strata_protocol::messages::produce::request::{PartitionProduceData, TopicProduceData};
use strata_protocol::messages::{ProduceRequest, Request, Response};
use strata_protocol::records::{Compression, RecordBatchBuilder, RecordsError, batches};
use strata_protocol::types::TopicName;

use crate::load::client::{self, Connection, FETCH_VERSION, PRODUCE_VERSION};
use crate::load::report::MIB;
use crate::load::stats::{Clock, histogram};
use verdict::{Flatness, PartitionOrder, Sample};

/// Bytes of a value before the filler.
pub const VALUE_HEADER: usize = 20;
/// How long after a changed open-file count it is read again.
const FD_RECHECK: Duration = Duration::from_millis(200);
/// Errors of one kind printed before the rest are only counted.
const PRINTED_ERRORS: u64 = 10;
const MAX_DECOMPRESSED: usize = 64 << 20;

/// Everything a soak run needs; `strata-soak`'s flags map onto it.
#[derive(Debug, Clone)]
pub struct Config {
    pub bootstrap: String,
    pub topic: String,
    pub partitions: i32,
    pub producers: usize,
    pub consumers: usize,
    /// Records per second over all producers.
    pub rate: f64,
    pub message_size: usize,
    /// How often a producer sends the records that came due.
    pub linger: Duration,
    pub acks: i16,
    /// How long records are created, warm-up included.
    pub duration: Duration,
    /// The start of the run left out of the flatness verdict.
    pub warmup: Duration,
    pub sample_interval: Duration,
    pub fetch_max_wait: Duration,
    pub drain_timeout: Duration,
    pub broker_pid: u32,
    /// Allowed rise of the second half's largest RSS over the first's (0.1: 10 %).
    pub rss_tolerance: f64,
    /// Allowed spread of the open-file count over the steady state.
    pub fd_tolerance: u64,
}

/// Counters shared by every task; bumped once per request or response.
#[derive(Debug)]
struct Shared {
    clock: Clock,
    /// Per partition: records acknowledged, and records consumed in order.
    acked: Vec<AtomicU64>,
    consumed: Vec<AtomicU64>,
    produce_requests: AtomicU64,
    fetches: AtomicU64,
    produce_errors: AtomicU64,
    fetch_errors: AtomicU64,
    order_errors: AtomicU64,
    /// Tasks that ended with an error (a lost connection, a timeout).
    failed_tasks: AtomicU64,
    open_connections: AtomicU64,
    /// Due time to acknowledgement, and due time to consumption, in µs.
    ack_delay: Mutex<Histogram<u64>>,
    e2e_delay: Mutex<Histogram<u64>>,
}

impl Shared {
    fn total(counts: &[AtomicU64]) -> u64 {
        counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    fn errors(&self) -> u64 {
        self.produce_errors.load(Ordering::Relaxed)
            + self.fetch_errors.load(Ordering::Relaxed)
            + self.order_errors.load(Ordering::Relaxed)
            + self.failed_tasks.load(Ordering::Relaxed)
    }

    /// Counts an error and prints the first few of its kind.
    fn error(&self, counter: &AtomicU64, n: u64, message: impl FnOnce() -> String) {
        if counter.fetch_add(n, Ordering::Relaxed) < PRINTED_ERRORS {
            eprintln!("error: {}", message());
        }
    }

    fn merge(into: &Mutex<Histogram<u64>>, local: &Histogram<u64>) {
        if local.is_empty() {
            return;
        }
        // Poisoned only if a task panicked, which the run reports anyway.
        if let Ok(mut h) = into.lock() {
            let _ = h.add(local);
        }
    }
}

/// Counts an open connection while it lives.
struct ConnectionGuard<'a>(&'a AtomicU64);

impl<'a> ConnectionGuard<'a> {
    fn new(count: &'a AtomicU64) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(count)
    }
}

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The end of a run: what was sent and read, what failed, and the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    pub tool: &'static str,
    pub bootstrap: String,
    pub topic: String,
    pub partitions: i32,
    pub producers: usize,
    pub consumers: usize,
    pub connections: usize,
    pub rate: f64,
    pub message_size: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub elapsed_s: f64,
    pub produced: u64,
    pub consumed: u64,
    pub produce_requests: u64,
    pub fetches: u64,
    pub produce_errors: u64,
    pub fetch_errors: u64,
    pub order_errors: u64,
    pub failed_tasks: u64,
    /// Acknowledged records no consumer read by the drain deadline.
    pub missing: u64,
    pub ack_delay_ms: Delays,
    pub e2e_delay_ms: Delays,
    pub flatness: Option<Flatness>,
    pub samples: Vec<Sample>,
    /// Why the run failed; empty when it passed.
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Delays {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Delays {
    fn of(h: &Mutex<Histogram<u64>>) -> Delays {
        let Ok(h) = h.lock() else {
            return Delays::default();
        };
        if h.is_empty() {
            return Delays::default();
        }
        let ms = |us: u64| us as f64 / 1_000.0;
        Delays {
            p50: ms(h.value_at_quantile(0.5)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }
}

impl SoakReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mib = |b: u64| b as f64 / MIB;
        let mut t = String::new();
        let _ = writeln!(
            t,
            "soak: {:.0} s ({:.0} s warm-up), {} connections ({} producers, {} consumers), {} partitions, {:.0} records/s of {} bytes",
            self.duration_s,
            self.warmup_s,
            self.connections,
            self.producers,
            self.consumers,
            self.partitions,
            self.rate,
            self.message_size
        );
        let _ = writeln!(
            t,
            "records:  produced {} consumed {} missing {} ({} produce requests, {} fetches)",
            self.produced, self.consumed, self.missing, self.produce_requests, self.fetches
        );
        let _ = writeln!(
            t,
            "errors:   produce {} fetch {} order {} tasks failed {}",
            self.produce_errors, self.fetch_errors, self.order_errors, self.failed_tasks
        );
        let _ = writeln!(
            t,
            "delay ms: due->ack p50 {:.1} p99 {:.1} max {:.1} | due->consumed p50 {:.1} p99 {:.1} max {:.1}",
            self.ack_delay_ms.p50,
            self.ack_delay_ms.p99,
            self.ack_delay_ms.max,
            self.e2e_delay_ms.p50,
            self.e2e_delay_ms.p99,
            self.e2e_delay_ms.max
        );
        match &self.flatness {
            Some(f) => {
                let _ = writeln!(
                    t,
                    "broker RSS MiB: start {:.1} (at {:.0} s) max {:.1} end {:.1} (at {:.0} s); halves' max {:.1} -> {:.1} ({:+.1} %): {}",
                    mib(f.start.rss_bytes),
                    f.start.at_s,
                    mib(f.max_rss_bytes),
                    mib(f.end.rss_bytes),
                    f.end.at_s,
                    mib(f.first_half_max_rss_bytes),
                    mib(f.second_half_max_rss_bytes),
                    f.rss_growth * 100.0,
                    if f.rss_flat { "flat" } else { "GROWING" }
                );
                let _ = writeln!(
                    t,
                    "broker fds:     start {} max {} end {} (min {}; {} samples): {}",
                    f.start.fds,
                    f.max_fds,
                    f.end.fds,
                    f.min_fds,
                    f.samples,
                    if f.fds_flat { "flat" } else { "CHANGING" }
                );
            }
            None => {
                let _ = writeln!(t, "broker: too few steady-state samples to judge");
            }
        }
        if self.passed() {
            let _ = writeln!(t, "PASS");
        } else {
            for f in &self.failures {
                let _ = writeln!(t, "FAIL: {f}");
            }
        }
        t
    }

    pub fn json_line(&self) -> String {
        // Plain numbers, strings and vectors: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Runs the soak to its end. Errors only for setup failures; what goes
/// wrong during the run is in the report.
pub async fn run(config: Config) -> anyhow::Result<SoakReport> {
    ensure!(config.partitions > 0, "--partitions must be positive");
    ensure!(
        config.producers > 0 && config.consumers > 0,
        "--producers and --consumers must be positive"
    );
    ensure!(
        config.message_size >= VALUE_HEADER,
        "--message-size must be at least {VALUE_HEADER} bytes"
    );
    ensure!(
        config.rate.is_finite() && config.rate > 0.0,
        "--rate must be positive"
    );
    let broker_pid = config.broker_pid.to_string();
    sample(&broker_pid, 0.0).with_context(|| format!("reading /proc/{broker_pid}"))?;
    let connections = config.producers + config.consumers;
    if let Some(limit) = open_files_limit("self") {
        ensure!(
            limit >= connections as u64 + 64,
            "ulimit -n is {limit}, too few for {connections} connections: raise it (benches/soak.sh does)"
        );
    }
    // The broker: a socket per connection, a .log, .index and .timeindex
    // per partition.
    if let Some(limit) = open_files_limit(&broker_pid) {
        let need = connections as u64 + 3 * config.partitions.max(0) as u64 + 64;
        ensure!(
            limit >= need,
            "the broker's open-files limit is {limit}, about {need} are needed: start it with a higher ulimit -n (benches/soak.sh does)"
        );
    }

    let mut setup = Connection::connect(&config.bootstrap, "strata-soak-setup").await?;
    let created = Instant::now();
    let partitions = setup
        .ensure_topic(&config.topic, config.partitions)
        .await
        .context("creating the topic")?;
    eprintln!(
        "topic {} has {partitions} partitions (ready in {:.1} s)",
        config.topic,
        created.elapsed().as_secs_f64()
    );
    let all: Vec<i32> = (0..partitions).collect();
    let start_offsets = setup
        .list_offsets(&config.topic, &all, client::LATEST)
        .await?;
    // Idle for the whole run, it would meet connections.max.idle.ms.
    drop(setup);

    let producers = config.producers.min(all.len());
    let consumers = config.consumers.min(all.len());
    let deal = |n: usize, id: usize| -> Vec<usize> { (id..all.len()).step_by(n).collect() };
    let shared = Arc::new(Shared {
        clock: Clock::start(),
        acked: all.iter().map(|_| AtomicU64::new(0)).collect(),
        consumed: all.iter().map(|_| AtomicU64::new(0)).collect(),
        produce_requests: AtomicU64::new(0),
        fetches: AtomicU64::new(0),
        produce_errors: AtomicU64::new(0),
        fetch_errors: AtomicU64::new(0),
        order_errors: AtomicU64::new(0),
        failed_tasks: AtomicU64::new(0),
        open_connections: AtomicU64::new(0),
        ack_delay: Mutex::new(histogram()),
        e2e_delay: Mutex::new(histogram()),
    });
    let started = shared.clock.epoch;
    let stop_at = started + config.duration;

    // Connections open before the clock's first record is due: the first
    // second is not spent in connect storms.
    let (drain_tx, drain_rx) = watch::channel(None::<Instant>);
    let mut consumer_set = JoinSet::new();
    for id in 0..consumers {
        let mine = deal(consumers, id);
        let plan = ConsumerPlan {
            id,
            partitions: mine.iter().map(|&i| all[i]).collect(),
            start: mine.iter().map(|&i| start_offsets[i]).collect(),
        };
        consumer_set.spawn(consume(
            config.clone(),
            plan,
            shared.clone(),
            drain_rx.clone(),
        ));
    }
    let mut producer_set = JoinSet::new();
    let per_producer = config.rate / producers as f64;
    for id in 0..producers {
        let mine = deal(producers, id);
        let plan = ProducerPlan {
            id,
            partitions: mine.iter().map(|&i| all[i]).collect(),
            start: mine.iter().map(|&i| start_offsets[i]).collect(),
            rate: per_producer,
            // Producer i's records fall i/N of an interval after producer 0's.
            phase: Duration::from_secs_f64(id as f64 / producers as f64 / per_producer),
        };
        producer_set.spawn(produce(config.clone(), plan, shared.clone(), stop_at));
    }

    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = tokio::spawn(sample_loop(
        config.clone(),
        shared.clone(),
        samples.clone(),
        producers + consumers,
    ));

    while let Some(joined) = producer_set.join_next().await {
        task_outcome(&shared, "producer", joined);
    }
    let produced_by = shared.clock.now_nanos() as f64 / 1e9;
    eprintln!("producers done at {produced_by:.1} s; draining");
    let _ = drain_tx.send(Some(Instant::now() + config.drain_timeout));
    while let Some(joined) = consumer_set.join_next().await {
        task_outcome(&shared, "consumer", joined);
    }
    sampler.abort();
    let elapsed = started.elapsed();

    let samples = samples.lock().map(|s| s.clone()).unwrap_or_default();
    let flatness = verdict::flatness(
        &samples,
        config.warmup.as_secs_f64(),
        config.duration.as_secs_f64(),
        config.rss_tolerance,
        config.fd_tolerance,
    );
    let produced = Shared::total(&shared.acked);
    let consumed = Shared::total(&shared.consumed);
    let missing: u64 = shared
        .acked
        .iter()
        .zip(&shared.consumed)
        .map(|(a, c)| {
            a.load(Ordering::Relaxed)
                .saturating_sub(c.load(Ordering::Relaxed))
        })
        .sum();
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let mut failures = Vec::new();
    let expected = (config.rate * config.duration.as_secs_f64()).floor() as u64;
    // Every due record is sent (the last ones at the end), so a shortfall
    // beyond one per producer (rounding) means records were not acknowledged.
    if produced + (producers as u64) < expected {
        failures.push(format!(
            "{produced} records acknowledged, {expected} due at the fixed rate"
        ));
    }
    if missing > 0 {
        failures.push(format!(
            "{missing} acknowledged records were not consumed within the drain timeout"
        ));
    }
    if shared.errors() > 0 {
        failures.push(format!("{} errors", shared.errors()));
    }
    match &flatness {
        None => failures.push(format!(
            "fewer than {} samples after the warm-up: run longer or sample more often",
            verdict::MIN_SAMPLES
        )),
        Some(f) => {
            if !f.rss_flat {
                failures.push(format!(
                    "broker RSS grew {:.1} % from the first half to the second (allowed {:.1} %)",
                    f.rss_growth * 100.0,
                    config.rss_tolerance * 100.0
                ));
            }
            if !f.fds_flat {
                failures.push(format!(
                    "broker open files ranged {}..{} (allowed spread {})",
                    f.min_fds, f.max_fds, config.fd_tolerance
                ));
            }
        }
    }
    Ok(SoakReport {
        tool: "strata-soak",
        bootstrap: config.bootstrap.clone(),
        topic: config.topic.clone(),
        partitions,
        producers,
        consumers,
        connections: producers + consumers,
        rate: config.rate,
        message_size: config.message_size,
        duration_s: config.duration.as_secs_f64(),
        warmup_s: config.warmup.as_secs_f64(),
        elapsed_s: elapsed.as_secs_f64(),
        produced,
        consumed,
        produce_requests: load(&shared.produce_requests),
        fetches: load(&shared.fetches),
        produce_errors: load(&shared.produce_errors),
        fetch_errors: load(&shared.fetch_errors),
        order_errors: load(&shared.order_errors),
        failed_tasks: load(&shared.failed_tasks),
        missing,
        ack_delay_ms: Delays::of(&shared.ack_delay),
        e2e_delay_ms: Delays::of(&shared.e2e_delay),
        flatness,
        samples,
        failures,
    })
}

fn task_outcome(
    shared: &Shared,
    what: &str,
    joined: Result<anyhow::Result<()>, tokio::task::JoinError>,
) {
    let outcome = joined
        .with_context(|| format!("a {what} panicked"))
        .and_then(|r| r);
    if let Err(e) = outcome {
        shared.error(&shared.failed_tasks, 1, || format!("{what}: {e:#}"));
    }
}

/// The soft limit on open files of `pid`, from `/proc/<pid>/limits`
/// (`None` when unlimited or unreadable).
fn open_files_limit(pid: &str) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// One read of the broker's RSS and open files.
fn sample(pid: &str, at_s: f64) -> std::io::Result<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .ok_or_else(|| std::io::Error::other(format!("no {key} in /proc/{pid}/status")))
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64;
    Ok(Sample {
        at_s,
        rss_bytes: kib("VmRSS:")? * 1024,
        rss_anon_bytes: kib("RssAnon:")? * 1024,
        fds,
    })
}

/// Samples the broker every `sample_interval` and prints a progress line.
async fn sample_loop(
    config: Config,
    shared: Arc<Shared>,
    samples: Arc<Mutex<Vec<Sample>>>,
    connections: usize,
) {
    let pid = config.broker_pid.to_string();
    let mut tick = tokio::time::interval(config.sample_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = (0u64, 0u64, Instant::now());
    let mut last_fds = None;
    loop {
        tick.tick().await;
        let now = Instant::now();
        let at_s = shared.clock.nanos(now) as f64 / 1e9;
        let mut s = match sample(&pid, at_s) {
            Ok(s) => s,
            Err(e) => {
                shared.error(&shared.failed_tasks, 1, || {
                    format!("sampling the broker (pid {pid}): {e}")
                });
                return;
            }
        };
        // A file the broker holds for a moment (a checkpoint being written,
        // a directory being synced) is no leak: when the count moved, look
        // again shortly and keep the smaller count. A leaked one stays.
        if last_fds.is_some_and(|fds| fds != s.fds) {
            tokio::time::sleep(FD_RECHECK).await;
            if let Ok(again) = sample(&pid, at_s) {
                s.fds = s.fds.min(again.fds);
            }
        }
        last_fds = Some(s.fds);
        if let Ok(mut all) = samples.lock() {
            all.push(s);
        }
        let produced = Shared::total(&shared.acked);
        let consumed = Shared::total(&shared.consumed);
        let dt = now.duration_since(last.2).as_secs_f64().max(1e-9);
        let phase = if at_s < config.warmup.as_secs_f64() {
            "warmup"
        } else if at_s <= config.duration.as_secs_f64() {
            "steady"
        } else {
            "drain"
        };
        eprintln!(
            "[{at_s:>6.1}s {phase:>6}] acked {produced:>9} ({:>6.0}/s) consumed {consumed:>9} ({:>6.0}/s) lag {:>6} | conns {}/{connections} errors {} | broker rss {:.1} MiB (anon {:.1}) fds {}",
            (produced - last.0) as f64 / dt,
            (consumed - last.1) as f64 / dt,
            produced.saturating_sub(consumed),
            shared.open_connections.load(Ordering::Relaxed),
            shared.errors(),
            s.rss_bytes as f64 / MIB,
            s.rss_anon_bytes as f64 / MIB,
            s.fds,
        );
        last = (produced, consumed, now);
    }
}

#[derive(Debug)]
struct ProducerPlan {
    id: usize,
    partitions: Vec<i32>,
    /// The log end of each partition when the run started.
    start: Vec<i64>,
    rate: f64,
    phase: Duration,
}

/// The value of record `sequence` of `partition`, due at `due_ns`.
pub fn encode_value(sequence: u64, partition: i32, due_ns: u64, size: usize) -> Bytes {
    let mut v = BytesMut::with_capacity(size);
    v.put_u64(sequence);
    v.put_i32(partition);
    v.put_u64(due_ns);
    v.resize(size.max(VALUE_HEADER), b'.');
    v.freeze()
}

/// `(sequence, partition, due_ns)` of a value, `None` if it is too short.
pub fn decode_value(value: &[u8]) -> Option<(u64, i32, u64)> {
    let sequence = u64::from_be_bytes(value.get(0..8)?.try_into().ok()?);
    let partition = i32::from_be_bytes(value.get(8..12)?.try_into().ok()?);
    let due = u64::from_be_bytes(value.get(12..20)?.try_into().ok()?);
    Some((sequence, partition, due))
}

async fn produce(
    config: Config,
    plan: ProducerPlan,
    shared: Arc<Shared>,
    stop_at: Instant,
) -> anyhow::Result<()> {
    let mut conn = Connection::connect(&config.bootstrap, &format!("strata-soak-p{}", plan.id))
        .await
        .with_context(|| format!("producer {}", plan.id))?;
    let _open = ConnectionGuard::new(&shared.open_connections);
    let clock = shared.clock;
    let interval = Duration::from_secs_f64(1.0 / plan.rate);
    let first_due = clock.epoch + plan.phase;
    let n = plan.partitions.len();
    let mut created: u64 = 0;
    let mut next_sequence = vec![0u64; n];
    let mut acked_offset = plan.start.clone();
    let mut ticks = tokio::time::interval_at((first_due + config.linger).into(), config.linger);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut delays = histogram();
    loop {
        ticks.tick().await;
        let now = Instant::now().min(stop_at);
        let last_round = now >= stop_at;
        // Every record due by now (due strictly before stop_at at the end).
        let mut builders: Vec<Option<RecordBatchBuilder>> = (0..n).map(|_| None).collect();
        let mut dues: Vec<Vec<u64>> = vec![Vec::new(); n];
        loop {
            let due = first_due + interval.mul_f64(created as f64);
            if due > now || (last_round && due >= stop_at) {
                break;
            }
            let i = (created % n as u64) as usize;
            let due_ns = clock.nanos(due);
            let value = encode_value(
                next_sequence[i],
                plan.partitions[i],
                due_ns,
                config.message_size,
            );
            builders[i]
                .get_or_insert_with(|| RecordBatchBuilder::new(Compression::None))
                .append(clock.unix_ms(due_ns), None, Some(value), Vec::new())
                .context("appending a record")?;
            dues[i].push(due_ns);
            next_sequence[i] += 1;
            created += 1;
        }
        let mut sent = Vec::new();
        let mut partition_data = Vec::new();
        for (i, builder) in builders.into_iter().enumerate() {
            let Some(builder) = builder else { continue };
            partition_data.push(PartitionProduceData {
                index: plan.partitions[i],
                records: Some(builder.build().context("building a batch")?.into_bytes()),
                ..PartitionProduceData::default()
            });
            sent.push(i);
        }
        if !sent.is_empty() {
            let request = Request::Produce(ProduceRequest {
                acks: config.acks,
                timeout_ms: 30_000,
                topic_data: vec![TopicProduceData {
                    name: TopicName(config.topic.clone()),
                    partition_data,
                    ..TopicProduceData::default()
                }],
                ..ProduceRequest::default()
            });
            let response = conn
                .call(PRODUCE_VERSION, request)
                .await
                .with_context(|| format!("producer {}", plan.id))?;
            shared.produce_requests.fetch_add(1, Ordering::Relaxed);
            let Response::Produce(response) = response else {
                bail!("Produce was answered with another API");
            };
            let answered_at = clock.now_nanos();
            let answers: Vec<_> = response
                .responses
                .iter()
                .filter(|t| t.name.0 == config.topic)
                .flat_map(|t| &t.partition_responses)
                .collect();
            delays.reset();
            for &i in &sent {
                let partition = plan.partitions[i];
                let count = dues[i].len() as u64;
                let Some(answer) = answers.iter().find(|a| a.index == partition) else {
                    shared.error(&shared.produce_errors, count, || {
                        format!("Produce did not answer partition {partition}")
                    });
                    continue;
                };
                if answer.error_code != 0 {
                    shared.error(&shared.produce_errors, count, || {
                        format!(
                            "produce to partition {partition}: error {} ({})",
                            answer.error_code,
                            answer.error_message.as_deref().unwrap_or("no message")
                        )
                    });
                    continue;
                }
                if answer.base_offset != acked_offset[i] {
                    shared.error(&shared.order_errors, 1, || {
                        format!(
                            "produce to partition {partition}: base offset {}, the previous batch ended at {}",
                            answer.base_offset, acked_offset[i]
                        )
                    });
                }
                acked_offset[i] = answer.base_offset + count as i64;
                shared.acked[partition as usize].fetch_add(count, Ordering::Relaxed);
                for &due in &dues[i] {
                    delays.saturating_record(answered_at.saturating_sub(due) / 1_000);
                }
            }
            Shared::merge(&shared.ack_delay, &delays);
        }
        if last_round {
            return Ok(());
        }
    }
}

#[derive(Debug)]
struct ConsumerPlan {
    id: usize,
    partitions: Vec<i32>,
    start: Vec<i64>,
}

async fn consume(
    config: Config,
    plan: ConsumerPlan,
    shared: Arc<Shared>,
    mut drain: watch::Receiver<Option<Instant>>,
) -> anyhow::Result<()> {
    let mut conn = Connection::connect(&config.bootstrap, &format!("strata-soak-c{}", plan.id))
        .await
        .with_context(|| format!("consumer {}", plan.id))?;
    let _open = ConnectionGuard::new(&shared.open_connections);
    let mut order: Vec<PartitionOrder> = plan
        .partitions
        .iter()
        .zip(&plan.start)
        .map(|(&p, &o)| PartitionOrder::new(p, o))
        .collect();
    let mut delays = histogram();
    loop {
        if let Some(deadline) = *drain.borrow_and_update() {
            // The producers are done: their acknowledged counts are final.
            let drained =
                plan.partitions.iter().zip(&order).all(|(&p, o)| {
                    o.next_sequence >= shared.acked[p as usize].load(Ordering::Relaxed)
                });
            if drained || Instant::now() >= deadline {
                return Ok(());
            }
        }
        let request = client::fetch_request(
            &config.topic,
            &plan.partitions,
            order.iter().map(|o| o.next_offset),
            config.fetch_max_wait,
        );
        let response = conn
            .call(FETCH_VERSION, request)
            .await
            .with_context(|| format!("consumer {}", plan.id))?;
        shared.fetches.fetch_add(1, Ordering::Relaxed);
        let Response::Fetch(response) = response else {
            bail!("Fetch was answered with another API");
        };
        if response.error_code != 0 {
            shared.error(&shared.fetch_errors, 1, || {
                format!("fetch: error {}", response.error_code)
            });
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let now = shared.clock.now_nanos();
        delays.reset();
        for answer in response.responses.iter().flat_map(|t| &t.partitions) {
            let Some(i) = plan
                .partitions
                .iter()
                .position(|&p| p == answer.partition_index)
            else {
                continue;
            };
            let partition = plan.partitions[i];
            if answer.error_code != 0 {
                shared.error(&shared.fetch_errors, 1, || {
                    format!("fetch partition {partition}: error {}", answer.error_code)
                });
                continue;
            }
            let Some(records) = answer.records.clone() else {
                continue;
            };
            let mut read = 0u64;
            for batch in batches(records) {
                let batch = match batch {
                    Ok(batch) => batch,
                    // A fetch may end inside a batch; the rest comes next time.
                    Err(RecordsError::PartialBatch { .. }) => break,
                    Err(e) => {
                        shared.error(&shared.fetch_errors, 1, || {
                            format!("partition {partition}: unreadable batch: {e}")
                        });
                        break;
                    }
                };
                if batch.next_offset() <= order[i].next_offset {
                    continue;
                }
                if let Err(e) = batch.verify_crc() {
                    shared.error(&shared.fetch_errors, 1, || {
                        format!("partition {partition}: {e}")
                    });
                    break;
                }
                let base = batch.base_offset();
                for record in batch.records(MAX_DECOMPRESSED)? {
                    let record = record?;
                    let offset = base + i64::from(record.offset_delta);
                    if offset < order[i].next_offset {
                        continue;
                    }
                    let Some((sequence, written_to, due)) =
                        record.value.as_deref().and_then(decode_value)
                    else {
                        shared.error(&shared.order_errors, 1, || {
                            format!("partition {partition} offset {offset}: not a soak record")
                        });
                        order[i].next_offset = offset + 1;
                        continue;
                    };
                    if let Err(e) = order[i].accept(offset, written_to, sequence) {
                        shared.error(&shared.order_errors, 1, || {
                            format!("partition {partition}: {e}")
                        });
                    }
                    read += 1;
                    delays.saturating_record(now.saturating_sub(due) / 1_000);
                }
            }
            shared.consumed[partition as usize].fetch_add(read, Ordering::Relaxed);
        }
        Shared::merge(&shared.e2e_delay, &delays);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_an_open_files_limit() {
        let limit = open_files_limit("self").expect("/proc/self/limits has a number");
        assert!(limit >= 3);
    }

    #[test]
    fn values_carry_sequence_partition_and_due_time() {
        let v = encode_value(41, 999, 123_456_789, 64);
        assert_eq!(v.len(), 64);
        assert_eq!(decode_value(&v), Some((41, 999, 123_456_789)));
        assert_eq!(decode_value(&v[..VALUE_HEADER - 1]), None);
    }
}
