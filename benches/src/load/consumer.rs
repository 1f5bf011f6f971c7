//! One consumer: its own connection, a fixed set of partitions (no group:
//! the run splits partitions among consumers), one long-polling Fetch in
//! flight at a time, as Kafka's consumer does per broker.
//!
//! Fetches are sessionless (session id 0, epoch -1: every request names all
//! its partitions, every response answers all of them), at Kafka's consumer
//! defaults: `fetch.max.bytes` 50 MiB, `max.partition.fetch.bytes` 1 MiB,
//! `fetch.min.bytes` 1, and `fetch.max.wait.ms` from the run (500 by default,
//! Kafka's default too).
//!
//! A consumer stops when its partitions reach their targets (a catch-up
//! read), or once the producers are done and a Fetch sent after that shows
//! every partition at its high watermark, or at the drain deadline.

use anyhow::{Context, bail};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::watch;

use strata_protocol::messages::Response;
use strata_protocol::records::{RecordsError, batches};

use super::client::{self, Connection, FETCH_VERSION};
use super::producer::TIMESTAMP_LEN;
use super::stats::{LocalLatencies, Stats};

/// Largest decompressed records section we accept in one batch.
const MAX_DECOMPRESSED: usize = 64 << 20;

/// What one consumer does.
#[derive(Debug, Clone)]
pub struct ConsumerPlan {
    pub id: usize,
    pub bootstrap: String,
    pub topic: String,
    pub partitions: Vec<i32>,
    /// The first offset to fetch, per partition.
    pub start: Vec<i64>,
    /// Stop when every partition reaches its target (a catch-up read).
    pub targets: Option<Vec<i64>>,
    pub max_wait: Duration,
    /// Record end-to-end latency (not in a catch-up read, where records
    /// are as old as the fill).
    pub record_latency: bool,
    /// Every record's value size: a catch-up read counts bytes from it.
    pub message_size: usize,
}

/// Runs one consumer until its stop condition. `done` turns to the drain
/// deadline once every producer has finished.
pub async fn run(
    plan: ConsumerPlan,
    stats: Arc<Stats>,
    mut done: watch::Receiver<Option<Instant>>,
) -> anyhow::Result<()> {
    let mut conn = Connection::connect(&plan.bootstrap, &format!("strata-bench-c{}", plan.id))
        .await
        .context("consumer connection")?;
    let mut offsets = plan.start.clone();
    let mut high_watermarks = vec![-1i64; plan.partitions.len()];
    // Whether a partition's high watermark came from a Fetch sent after the
    // producers finished (only then does reaching it mean "drained").
    let mut final_hwm = vec![false; plan.partitions.len()];
    let mut local = LocalLatencies::new(&stats.e2e);

    loop {
        let deadline = *done.borrow_and_update();
        if let Some(targets) = &plan.targets {
            if offsets.iter().zip(targets).all(|(o, t)| o >= t) {
                break;
            }
        }
        if let Some(deadline) = deadline {
            let drained = final_hwm.iter().all(|&f| f)
                && offsets.iter().zip(&high_watermarks).all(|(o, h)| o >= h);
            if drained || Instant::now() >= deadline {
                break;
            }
        }
        let draining = deadline.is_some();

        let request = client::fetch_request(
            &plan.topic,
            &plan.partitions,
            offsets.iter().copied(),
            plan.max_wait,
        );
        let response = conn.call(FETCH_VERSION, request).await?;
        let Response::Fetch(response) = response else {
            bail!("Fetch was answered with another API");
        };
        let now = stats.clock.now_nanos();
        stats.fetches.fetch_add(1, Ordering::Relaxed);
        if response.error_code != 0 {
            stats.fetch_errors.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let measure_from = stats.measure_from();
        let consume_from = stats.consume_from_ns.load(Ordering::Relaxed);
        let (mut messages, mut bytes, mut measured, mut measured_bytes) = (0u64, 0u64, 0u64, 0u64);
        for partition in response.responses.iter().flat_map(|t| &t.partitions) {
            let Some(i) = plan
                .partitions
                .iter()
                .position(|&p| p == partition.partition_index)
            else {
                continue;
            };
            if partition.error_code != 0 {
                if stats.fetch_errors.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!(
                        "fetch error {} on partition {}",
                        partition.error_code, partition.partition_index
                    );
                }
                continue;
            }
            high_watermarks[i] = partition.high_watermark;
            final_hwm[i] |= draining;
            let Some(records) = partition.records.clone() else {
                continue;
            };
            for batch in batches(records) {
                let batch = match batch {
                    Ok(batch) => batch,
                    // A fetch may end inside a batch; the rest comes next time.
                    Err(RecordsError::PartialBatch { .. }) => break,
                    Err(e) => return Err(e).context("reading a fetched batch"),
                };
                if batch.next_offset() <= offsets[i] {
                    continue;
                }
                if batch.is_control() {
                    offsets[i] = batch.next_offset();
                    continue;
                }
                let base = batch.base_offset();
                if !plan.record_latency && base >= offsets[i] {
                    // A catch-up read needs counts only: take them from the
                    // header instead of decoding every record, so that the
                    // client stays out of the broker's way.
                    let count = u64::try_from(batch.records_count()).unwrap_or(0);
                    messages += count;
                    bytes += count * plan.message_size as u64;
                    if now >= consume_from {
                        measured += count;
                        measured_bytes += count * plan.message_size as u64;
                    }
                    offsets[i] = batch.next_offset();
                    continue;
                }
                for record in batch.records(MAX_DECOMPRESSED)? {
                    let record = record?;
                    if base + i64::from(record.offset_delta) < offsets[i] {
                        continue;
                    }
                    let Some(value) = record.value else { continue };
                    let len = value.len() as u64;
                    messages += 1;
                    bytes += len;
                    let created = value
                        .get(..TIMESTAMP_LEN)
                        .and_then(|b| b.try_into().ok())
                        .map_or(0, u64::from_be_bytes);
                    if plan.record_latency {
                        if created >= measure_from {
                            measured += 1;
                            measured_bytes += len;
                            local.record(now.saturating_sub(created) / 1_000);
                        }
                    } else if now >= consume_from {
                        measured += 1;
                        measured_bytes += len;
                    }
                }
                offsets[i] = batch.next_offset();
            }
        }
        stats.consumed.add(messages, bytes);
        if measured > 0 {
            stats.consumed_measured.add(measured, measured_bytes);
            stats.last_consume_ns.fetch_max(now, Ordering::Relaxed);
        }
        local.tick();
    }
    Ok(())
}
