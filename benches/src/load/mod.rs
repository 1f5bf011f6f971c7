//! The end-to-end load tool behind `strata-bench`, modelled on the
//! OpenMessaging Benchmark's workloads: N producers and M consumers on one
//! topic of P partitions, through our own codec over TCP, against any
//! Kafka-compatible broker (Strata or Apache Kafka alike).
//!
//! A latency run (the default):
//! 1. create the topic if it is missing (CreateTopics, then Metadata until
//!    every partition has a leader);
//! 2. start the consumers at the log end of their partitions (ListOffsets
//!    latest; partitions dealt round-robin, no group);
//! 3. start the producers; records created in the first `warmup` are sent
//!    and consumed but not measured;
//! 4. producers stop at `duration` or after `messages` measured records,
//!    whichever comes first, and wait for their last acknowledgements;
//! 5. consumers drain to the high watermark, or give up at `drain_timeout`.
//!
//! A catch-up run (`consume_from_start`): the producers fill the topic
//! first with no consumer running (step 3-4 without warm-up), then the
//! consumers read every partition from its log start to the log end seen
//! at that moment, timed, within `catchup_timeout`.
//!
//! Either way the run is bounded: `duration` defaults when neither bound
//! is given, and every wait has a deadline.
//!
//! Modules: [`client`] (connection and the setup calls), [`producer`],
//! [`consumer`], [`stats`] (shared counters and histograms), [`proc`] (CPU
//! and RSS from `/proc`), [`report`] (the table and the JSON line).

pub mod client;
pub mod consumer;
pub mod proc;
pub mod producer;
pub mod report;
pub mod stats;

use anyhow::{Context, ensure};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;

use strata_protocol::records::Compression;

use client::Connection;
use consumer::ConsumerPlan;
use producer::ProducerPlan;
use report::{ConfigSummary, MIB, Percentiles, ProcUsage, RunReport, Throughput};
use stats::{Clock, Stats};

/// Everything a run needs; `strata-bench`'s flags map onto it one to one.
#[derive(Debug, Clone)]
pub struct Config {
    pub bootstrap: String,
    pub topic: String,
    /// Partitions to create the topic with; an existing topic keeps its own.
    pub partitions: i32,
    pub producers: usize,
    pub consumers: usize,
    pub message_size: usize,
    /// Records per second over all producers; 0: as fast as they can.
    pub rate: f64,
    pub acks: i16,
    pub compression: Compression,
    pub batch_bytes: usize,
    pub linger: Duration,
    pub max_in_flight: usize,
    /// Kafka's `buffer.memory` per producer.
    pub buffer_memory: usize,
    pub duration: Option<Duration>,
    pub messages: Option<u64>,
    pub warmup: Duration,
    pub consume_from_start: bool,
    pub fetch_max_wait: Duration,
    pub drain_timeout: Duration,
    pub catchup_timeout: Duration,
    pub broker_pid: Option<u32>,
    pub progress: bool,
    pub tags: BTreeMap<String, String>,
}

impl Config {
    /// When neither `duration` nor `messages` is given.
    pub const DEFAULT_DURATION: Duration = Duration::from_secs(30);

    fn summary(&self, partitions: i32) -> ConfigSummary {
        ConfigSummary {
            bootstrap: self.bootstrap.clone(),
            topic: self.topic.clone(),
            partitions,
            producers: self.producers,
            consumers: self.consumers,
            message_size: self.message_size,
            rate: self.rate,
            acks: self.acks,
            compression: self.compression.name().to_owned(),
            batch_bytes: self.batch_bytes,
            linger_ms: self.linger.as_millis() as u64,
            max_in_flight: self.max_in_flight,
            buffer_memory: self.buffer_memory,
            duration_s: self.duration.map(|d| d.as_secs_f64()),
            messages: self.messages,
            warmup_s: self.warmup.as_secs_f64(),
            consume_from_start: self.consume_from_start,
            fetch_max_wait_ms: self.fetch_max_wait.as_millis() as u64,
        }
    }
}

/// Runs the workload of `config` to its end and reports on it.
pub async fn run(config: Config) -> anyhow::Result<RunReport> {
    ensure!(
        config.message_size >= producer::TIMESTAMP_LEN,
        "--message-size must be at least {} bytes (the timestamp)",
        producer::TIMESTAMP_LEN
    );
    ensure!(
        config.message_size + 80 <= config.batch_bytes.max(1 << 20),
        "--message-size does not fit a batch"
    );
    let mut setup = Connection::connect(&config.bootstrap, "strata-bench-setup").await?;
    let partitions = setup
        .ensure_topic(&config.topic, config.partitions)
        .await
        .context("creating the topic")?;
    let all: Vec<i32> = (0..partitions).collect();

    let broker = match config.broker_pid {
        Some(pid) => Some(
            proc::Sampler::start(&pid.to_string())
                .with_context(|| format!("reading /proc/{pid} (--broker-pid)"))?,
        ),
        None => None,
    };
    let client = proc::Sampler::start("self").context("reading /proc/self")?;

    let clock = Clock::start();
    let started = clock.epoch;
    let catch_up = config.consume_from_start;
    let warmup = if catch_up {
        Duration::ZERO
    } else {
        config.warmup
    };
    let measure_from = started + warmup;
    let stats = Arc::new(Stats::new(clock, measure_from));
    let duration = match (config.duration, config.messages) {
        (None, None) => Some(Config::DEFAULT_DURATION),
        (d, _) => d,
    };
    let stop_at = duration.map(|d| measure_from + d);

    let progress = config
        .progress
        .then(|| tokio::spawn(progress_loop(stats.clone(), broker.clone(), measure_from)));

    // Consumers of a latency run start first, at the log end.
    let (done_tx, done_rx) = watch::channel(None::<Instant>);
    let mut consumers = JoinSet::new();
    if !catch_up {
        start_consumers(
            &config,
            &mut setup,
            &all,
            None,
            &stats,
            &done_rx,
            &mut consumers,
        )
        .await?;
    }

    let mut producers = JoinSet::new();
    for (id, quota) in quotas(config.messages, config.producers)
        .into_iter()
        .enumerate()
    {
        let plan = ProducerPlan {
            id,
            bootstrap: config.bootstrap.clone(),
            topic: config.topic.clone(),
            partitions: all.clone(),
            message_size: config.message_size,
            rate: config.rate / config.producers as f64,
            acks: config.acks,
            compression: config.compression,
            batch_bytes: config.batch_bytes,
            linger: config.linger,
            max_in_flight: config.max_in_flight,
            buffer_memory: config.buffer_memory,
            stop_at,
            quota,
        };
        producers.spawn(producer::run(plan, stats.clone()));
    }

    // Usage is measured from the end of the warm-up (from the start of the
    // read in a catch-up run).
    tokio::time::sleep_until(measure_from.into()).await;
    let mut broker_from = broker.as_ref().and_then(|b| b.now());
    let mut client_from = client.now();
    if let Some(b) = &broker {
        b.reset_peak();
    }
    client.reset_peak();

    let mut first_error = None;
    while let Some(joined) = producers.join_next().await {
        if let Err(e) = joined.context("a producer panicked").and_then(|r| r) {
            eprintln!("producer failed: {e:#}");
            first_error.get_or_insert(e);
        }
    }

    let consume_started = if catch_up {
        // The fill is done: read it all back, timed.
        let targets = setup
            .list_offsets(&config.topic, &all, client::LATEST)
            .await?;
        broker_from = broker.as_ref().and_then(|b| b.now());
        client_from = client.now();
        let start = Instant::now();
        stats
            .consume_from_ns
            .store(clock.nanos(start), Ordering::Relaxed);
        start_consumers(
            &config,
            &mut setup,
            &all,
            Some(&targets),
            &stats,
            &done_rx,
            &mut consumers,
        )
        .await?;
        let _ = done_tx.send(Some(start + config.catchup_timeout));
        start
    } else {
        let _ = done_tx.send(Some(Instant::now() + config.drain_timeout));
        measure_from
    };
    while let Some(joined) = consumers.join_next().await {
        if let Err(e) = joined.context("a consumer panicked").and_then(|r| r) {
            eprintln!("consumer failed: {e:#}");
            first_error.get_or_insert(e);
        }
    }
    let finished = Instant::now();
    if let Some(p) = progress {
        p.abort();
    }
    if let Some(e) = first_error {
        return Err(e);
    }

    let secs = |from_ns: u64, to_ns: u64| to_ns.saturating_sub(from_ns) as f64 / 1e9;
    let (acked, acked_bytes) = stats.acked_measured.get();
    let produced = Throughput::new(
        acked,
        acked_bytes,
        secs(
            stats.measure_from(),
            stats.last_ack_ns.load(Ordering::Relaxed),
        ),
        stats.produce_errors.load(Ordering::Relaxed),
    );
    let (consumed, consumed_bytes) = stats.consumed_measured.get();
    let consumed = Throughput::new(
        consumed,
        consumed_bytes,
        secs(
            clock.nanos(consume_started),
            stats.last_consume_ns.load(Ordering::Relaxed),
        ),
        stats.fetch_errors.load(Ordering::Relaxed),
    );
    let (e2e, ack, request) = {
        let e2e = stats
            .e2e
            .lock()
            .map_err(|_| anyhow::anyhow!("a consumer panicked"))?;
        let ack = stats
            .ack
            .lock()
            .map_err(|_| anyhow::anyhow!("a producer panicked"))?;
        let request = stats
            .request
            .lock()
            .map_err(|_| anyhow::anyhow!("a producer panicked"))?;
        (
            Percentiles::of(&e2e.total),
            Percentiles::of(&ack.total),
            Percentiles::of(&request.total),
        )
    };
    let window = finished
        .saturating_duration_since(consume_started)
        .as_secs_f64();
    let usage = |sampler: &proc::Sampler, from: Option<proc::ProcSample>, pid: String| {
        let to = sampler.now().unwrap_or_default();
        let cpu_s = from.map_or(0.0, |f| (to.cpu_seconds - f.cpu_seconds).max(0.0));
        ProcUsage {
            pid,
            cpu_s,
            cpu_cores: if window > 0.0 { cpu_s / window } else { 0.0 },
            peak_rss_mib: sampler.peak_rss().max(to.rss_bytes) as f64 / MIB,
            vm_hwm_mib: to.hwm_bytes as f64 / MIB,
        }
    };
    Ok(RunReport {
        tool: "strata-bench",
        tags: config.tags.clone(),
        config: config.summary(partitions),
        produced,
        produce_requests: stats.requests.load(Ordering::Relaxed),
        consumed,
        fetches: stats.fetches.load(Ordering::Relaxed),
        e2e_latency_ms: if catch_up { None } else { e2e },
        ack_latency_ms: ack,
        produce_request_latency_ms: request,
        broker: broker.as_ref().map(|b| {
            usage(
                b,
                broker_from,
                config.broker_pid.map(|p| p.to_string()).unwrap_or_default(),
            )
        }),
        client: usage(&client, client_from, std::process::id().to_string()),
        elapsed_s: finished.saturating_duration_since(started).as_secs_f64(),
    })
}

/// Deals the partitions round-robin over the consumers, finds where each
/// starts, and spawns them.
async fn start_consumers(
    config: &Config,
    setup: &mut Connection,
    all: &[i32],
    targets: Option<&[i64]>,
    stats: &Arc<Stats>,
    done: &watch::Receiver<Option<Instant>>,
    set: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let consumers = config.consumers.min(all.len());
    let at = if targets.is_some() {
        client::EARLIEST
    } else {
        client::LATEST
    };
    for id in 0..consumers {
        let mine: Vec<i32> = all.iter().copied().skip(id).step_by(consumers).collect();
        let start = setup.list_offsets(&config.topic, &mine, at).await?;
        let plan = ConsumerPlan {
            id,
            bootstrap: config.bootstrap.clone(),
            topic: config.topic.clone(),
            targets: targets.map(|t| mine.iter().map(|&p| t[p as usize]).collect()),
            partitions: mine,
            start,
            max_wait: config.fetch_max_wait,
            record_latency: targets.is_none(),
            message_size: config.message_size,
        };
        set.spawn(consumer::run(plan, stats.clone(), done.clone()));
    }
    Ok(())
}

/// `messages` split over `producers`, the remainder to the first ones.
fn quotas(messages: Option<u64>, producers: usize) -> Vec<Option<u64>> {
    let n = producers as u64;
    (0..n)
        .map(|i| messages.map(|m| m / n + u64::from(i < m % n)))
        .collect()
}

/// Prints one line a second to stderr: rates over the last second, the
/// interval's latency, requests in flight, and the broker's CPU and RSS.
async fn progress_loop(stats: Arc<Stats>, broker: Option<proc::Sampler>, measure_from: Instant) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut last = (stats.acked.get(), stats.consumed.get(), Instant::now());
    let mut last_cpu = broker.as_ref().and_then(|b| b.now()).map(|s| s.cpu_seconds);
    loop {
        tick.tick().await;
        let now = Instant::now();
        let (acked, consumed) = (stats.acked.get(), stats.consumed.get());
        let dt = now.duration_since(last.2).as_secs_f64().max(1e-9);
        let rate = |(m1, b1): (u64, u64), (m0, b0): (u64, u64)| {
            ((m1 - m0) as f64 / dt, (b1 - b0) as f64 / MIB / dt)
        };
        let (pm, pb) = rate(acked, last.0);
        let (cm, cb) = rate(consumed, last.1);
        let e2e = stats.e2e.lock().ok().map(|mut l| {
            let p = Percentiles::of(&l.interval);
            l.interval.reset();
            p
        });
        let latency = match e2e.flatten() {
            Some(p) => format!("e2e p50 {:.1} p99 {:.1} ms", p.p50, p.p99),
            None => "e2e -".into(),
        };
        let broker_usage = broker.as_ref().map_or(String::new(), |b| {
            let cpu = b.now().map(|s| s.cpu_seconds);
            let pct = match (cpu, last_cpu) {
                (Some(c), Some(l)) => format!("{:.0}%", (c - l) / dt * 100.0),
                _ => "-".into(),
            };
            last_cpu = cpu;
            format!(
                " | broker cpu {pct} rss {:.0} MiB",
                b.last_rss() as f64 / MIB
            )
        });
        let phase = if now < measure_from { "warmup" } else { "run" };
        eprintln!(
            "[{:>5.1}s {phase:>6}] produce {pm:>9.0} msg/s {pb:>7.1} MiB/s | consume {cm:>9.0} msg/s {cb:>7.1} MiB/s | {latency} | in flight {}{broker_usage}",
            now.duration_since(stats.clock.epoch).as_secs_f64(),
            stats.in_flight.load(Ordering::Relaxed),
        );
        last = (acked, consumed, now);
    }
}

/// A command-line number of seconds (`--flag`), refused unless finite and
/// not negative.
pub fn seconds(flag: &str, s: f64) -> anyhow::Result<std::time::Duration> {
    if !(s.is_finite() && s >= 0.0) {
        anyhow::bail!("--{flag} must be a non-negative number of seconds");
    }
    Ok(std::time::Duration::from_secs_f64(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_split_messages_with_the_remainder_first() {
        assert_eq!(quotas(Some(10), 3), vec![Some(4), Some(3), Some(3)]);
        assert_eq!(quotas(None, 2), vec![None, None]);
    }
}
