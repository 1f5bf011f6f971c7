//! One producer: its own connection, a sticky partitioner, batches of up to
//! `batch_bytes` sealed when full or after `linger`, and up to
//! `max_in_flight` Produce requests outstanding (Kafka's
//! `max.in.flight.requests.per.connection`, 5 by default).
//!
//! Like Kafka's producer, a request carries at most one batch per
//! partition: every ready batch whose partition is not already in it. The
//! sticky partitioner fills one batch, then moves to the next partition
//! (Kafka's default since 2.4, for records without keys).
//!
//! At max rate records are created until `buffer_memory` bytes of batches
//! wait unacknowledged (sealed, open or in flight), as Kafka's producer
//! blocks `send` once `buffer.memory` (32 MiB by default) is taken. A
//! client that stopped at one request's worth would send a small request
//! into every slot an answer frees, and its throughput would be in-flight
//! slots times a small request over the broker's latency, which no Kafka
//! client is held to.
//!
//! Each value starts with the record's creation time, 8 bytes big-endian,
//! nanoseconds since the run's epoch; the rest is random uppercase letters,
//! as Kafka's `ProducerPerformance` sends, but taken at a random offset of a
//! 1 MiB pool for each record: `ProducerPerformance` repeats one payload,
//! which compressed batches would shrink to almost nothing. Values are
//! written straight into the batch (see [`super::batch`]).
//!
//! At max rate the records of one batch fill share one reading of the
//! clock. At a fixed rate the creation time is
//! the time the record was due, not the time the loop got to it, so a
//! stalled producer shows up as latency instead of hiding it (coordinated
//! omission, as the OpenMessaging Benchmark handles it).
//!
//! A request's records are acknowledged together; the reader task records
//! each one's ack latency (creation to response), as `ProducerPerformance`
//! does per record.

use anyhow::{Context, bail};
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};

use strata_protocol::messages::produce::request::{PartitionProduceData, TopicProduceData};
use strata_protocol::messages::{ApiKey, ProduceRequest, Request, Response};
use strata_protocol::records::{Compression, RecordBatchBuilder};
use strata_protocol::types::TopicName;

use super::client::{Connection, PRODUCE_VERSION, Receiver};
use super::stats::{LocalLatencies, Stats};

/// Bytes a record adds to a batch beyond its value: length, attributes,
/// deltas and key/value/header counts as varints; close enough to seal
/// batches where Kafka would.
const RECORD_OVERHEAD: usize = 10;
/// Bytes of the timestamp at the start of every value.
pub const TIMESTAMP_LEN: usize = 8;
/// Bytes of random letters values are cut from.
const FILLER_POOL: usize = 1 << 20;

/// What one producer does.
#[derive(Debug, Clone)]
pub struct ProducerPlan {
    pub id: usize,
    pub bootstrap: String,
    pub topic: String,
    /// Every partition of the topic; this producer starts at `id % len`.
    pub partitions: Vec<i32>,
    pub message_size: usize,
    /// Records per second for this producer; 0: as fast as it can.
    pub rate: f64,
    pub acks: i16,
    pub compression: Compression,
    pub batch_bytes: usize,
    pub linger: Duration,
    pub max_in_flight: usize,
    /// Kafka's `buffer.memory`: at max rate, bytes of batches that may wait
    /// unacknowledged before record creation pauses.
    pub buffer_memory: usize,
    /// Stop creating records here...
    pub stop_at: Option<Instant>,
    /// ...or after this many measured records, whichever comes first.
    pub quota: Option<u64>,
}

/// A batch being filled.
#[derive(Debug)]
struct OpenBatch {
    partition: i32,
    builder: RecordBatchBuilder,
    bytes: usize,
    opened_at: Instant,
    timestamps: Vec<u64>,
    measured: u64,
}

/// A sealed batch waiting for a request.
#[derive(Debug)]
struct ReadyBatch {
    partition: i32,
    records: Bytes,
    timestamps: Vec<u64>,
    measured: u64,
}

/// Bytes of batches sealed and not yet acknowledged (Kafka's producer frees
/// a batch's buffer memory when its response arrives), and a wake-up for a
/// producer waiting for some to be freed.
#[derive(Debug, Default)]
struct Unacked {
    bytes: AtomicUsize,
    freed: Notify,
}

impl Unacked {
    fn free(&self, bytes: usize) {
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        self.freed.notify_one();
    }
}

/// A request on the wire, handed to the reader task in send order.
#[derive(Debug)]
struct InFlight {
    correlation: i32,
    timestamps: Vec<u64>,
    measured: u64,
    /// Its batches' bytes, freed when the response arrives.
    bytes: usize,
    /// When it was written to the socket (run clock, ns).
    sent_ns: u64,
    /// Released when the response arrives.
    _permit: OwnedSemaphorePermit,
}

struct Producer {
    plan: ProducerPlan,
    stats: Arc<Stats>,
    /// Random letters the values are cut from.
    filler: Vec<u8>,
    rng: u64,
    next_partition: usize,
    open: Option<OpenBatch>,
    ready: VecDeque<ReadyBatch>,
    unacked: Arc<Unacked>,
    /// Measured records created so far (towards the quota).
    measured_created: u64,
}

/// Runs one producer to its end: creates records until `stop_at` or the
/// quota, then sends what is left and waits for every acknowledgement.
pub async fn run(plan: ProducerPlan, stats: Arc<Stats>) -> anyhow::Result<()> {
    anyhow::ensure!(
        plan.message_size >= TIMESTAMP_LEN,
        "messages must be at least {TIMESTAMP_LEN} bytes to carry their timestamp"
    );
    let conn = Connection::connect(&plan.bootstrap, &format!("strata-bench-p{}", plan.id)).await?;
    let Connection {
        mut sender,
        receiver,
    } = conn;
    let permits = Arc::new(Semaphore::new(plan.max_in_flight.max(1)));
    let (tx, rx) = mpsc::unbounded_channel();
    let unacked = Arc::new(Unacked::default());
    let reader = (plan.acks != 0).then(|| {
        tokio::spawn(read_acks(
            receiver,
            rx,
            stats.clone(),
            unacked.clone(),
            plan.message_size,
        ))
    });

    let mut producer = Producer {
        filler: filler(FILLER_POOL.max(2 * plan.message_size), plan.id as u64),
        rng: (plan.id as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d),
        next_partition: plan.id % plan.partitions.len().max(1),
        open: None,
        ready: VecDeque::new(),
        unacked,
        measured_created: 0,
        stats,
        plan,
    };
    let clock = producer.stats.clock;
    let interval =
        (producer.plan.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / producer.plan.rate));
    let mut next_due = Instant::now();

    loop {
        let now = Instant::now();
        if producer.finished(now) {
            break;
        }
        match interval {
            Some(interval) => {
                // Catch up on every record due, a bounded number per turn so
                // that sending keeps up.
                let mut created = 0;
                while next_due <= now && created < 10_000 && !producer.quota_reached() {
                    producer.append(clock.nanos(next_due));
                    next_due += interval;
                    created += 1;
                }
            }
            None => {
                if producer.has_room() {
                    // Fill until the open batch seals, then try to send it.
                    // The records of one fill are made within microseconds
                    // of each other and share one reading of the clock.
                    let created = clock.now_nanos();
                    let sealed_before = producer.ready.len();
                    while producer.ready.len() == sealed_before && !producer.quota_reached() {
                        producer.append(created);
                    }
                }
            }
        }
        producer.seal_if_lingered(Instant::now());
        while !producer.ready.is_empty() {
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                break;
            };
            producer.send(&mut sender, &tx, permit).await?;
        }

        // Sleep until something is due: the next record, the open batch's
        // linger, the end, or a free slot for a waiting batch.
        let mut wake = producer.plan.stop_at;
        if let Some(_interval) = interval {
            wake = earliest(wake, Some(next_due));
        } else if producer.has_room() && !producer.quota_reached() {
            // Max rate with room to fill: keep going, but let other tasks run.
            tokio::task::yield_now().await;
            continue;
        }
        if let Some(open) = &producer.open {
            wake = earliest(wake, Some(open.opened_at + producer.plan.linger));
        }
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let unacked = producer.unacked.clone();
        if producer.ready.is_empty() {
            tokio::select! {
                () = unacked.freed.notified() => {}
                () = sleep => {}
            }
        } else {
            tokio::select! {
                permit = permits.clone().acquire_owned() => {
                    let permit = permit.context("the in-flight semaphore closed")?;
                    producer.send(&mut sender, &tx, permit).await?;
                }
                () = unacked.freed.notified() => {}
                () = sleep => {}
            }
        }
    }

    // Send what is left, then wait for the last acknowledgements.
    producer.seal();
    while !producer.ready.is_empty() {
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .context("the in-flight semaphore closed")?;
        producer.send(&mut sender, &tx, permit).await?;
    }
    drop(tx);
    if let Some(reader) = reader {
        reader.await.context("the ack reader panicked")??;
    }
    Ok(())
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl Producer {
    fn quota_reached(&self) -> bool {
        self.plan
            .quota
            .is_some_and(|quota| self.measured_created >= quota)
    }

    /// Whether buffer memory is left for another batch at max rate.
    fn has_room(&self) -> bool {
        let open = self.open.as_ref().map_or(0, |open| open.bytes);
        self.unacked.bytes.load(Ordering::Relaxed) + open < self.plan.buffer_memory
    }

    fn finished(&self, now: Instant) -> bool {
        self.quota_reached() || self.plan.stop_at.is_some_and(|stop| now >= stop)
    }

    /// Adds one record created at `created_ns`; seals the batch first if
    /// the record would not fit.
    fn append(&mut self, created_ns: u64) {
        let size = self.plan.message_size + RECORD_OVERHEAD;
        if self
            .open
            .as_ref()
            .is_some_and(|open| open.bytes + size > self.plan.batch_bytes)
        {
            self.seal();
        }
        let measured = created_ns >= self.stats.measure_from();
        let timestamp = self.stats.clock.unix_ms(created_ns);
        let open = match &mut self.open {
            Some(open) => open,
            None => {
                let partition = self.plan.partitions[self.next_partition];
                self.next_partition = (self.next_partition + 1) % self.plan.partitions.len();
                self.open.insert(OpenBatch {
                    partition,
                    builder: RecordBatchBuilder::with_capacity(
                        self.plan.compression,
                        self.plan.batch_bytes,
                    ),
                    bytes: strata_protocol::records::HEADER_SIZE,
                    opened_at: Instant::now(),
                    timestamps: Vec::new(),
                    measured: 0,
                })
            }
        };
        let len = self.plan.message_size - TIMESTAMP_LEN;
        let start = (xorshift(&mut self.rng) % (self.filler.len() - len) as u64) as usize;
        // The value is written once, into the batch, from its two parts.
        let value: [&[u8]; 2] = [&created_ns.to_be_bytes(), &self.filler[start..start + len]];
        if let Err(e) = open
            .builder
            .append_parts(timestamp, None, Some(&value), &[])
        {
            eprintln!("producer {}: cannot append a record: {e}", self.plan.id);
            self.stats.produce_errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
        open.bytes += size;
        open.timestamps.push(created_ns);
        if measured {
            open.measured += 1;
            self.measured_created += 1;
        }
    }

    fn seal_if_lingered(&mut self, now: Instant) {
        if self
            .open
            .as_ref()
            .is_some_and(|open| now >= open.opened_at + self.plan.linger)
        {
            self.seal();
        }
    }

    fn seal(&mut self) {
        let Some(open) = self.open.take() else {
            return;
        };
        // Only a compression codec can fail here.
        let batch = match open.builder.build() {
            Ok(batch) => batch.into_bytes(),
            Err(e) => {
                eprintln!("producer {}: cannot build a batch: {e}", self.plan.id);
                self.stats.produce_errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        self.unacked.bytes.fetch_add(batch.len(), Ordering::Relaxed);
        self.ready.push_back(ReadyBatch {
            partition: open.partition,
            records: batch,
            timestamps: open.timestamps,
            measured: open.measured,
        });
    }

    /// Takes at most one ready batch per partition, oldest first, into one
    /// Produce request and writes it.
    async fn send(
        &mut self,
        sender: &mut super::client::Sender,
        tx: &mpsc::UnboundedSender<InFlight>,
        permit: OwnedSemaphorePermit,
    ) -> anyhow::Result<()> {
        // The queue can hold buffer.memory's worth of batches: look only as
        // far as it takes to find one per partition.
        let mut taken: Vec<ReadyBatch> = Vec::new();
        let mut i = 0;
        while i < self.ready.len() && taken.len() < self.plan.partitions.len() {
            if taken.iter().any(|t| t.partition == self.ready[i].partition) {
                i += 1;
            } else if let Some(batch) = self.ready.remove(i) {
                taken.push(batch);
            }
        }
        if taken.is_empty() {
            return Ok(());
        }
        let mut timestamps = Vec::new();
        let mut measured = 0;
        let mut bytes = 0;
        let partition_data = taken
            .into_iter()
            .map(|b| {
                timestamps.extend_from_slice(&b.timestamps);
                measured += b.measured;
                bytes += b.records.len();
                PartitionProduceData {
                    index: b.partition,
                    records: Some(b.records),
                    ..PartitionProduceData::default()
                }
            })
            .collect();
        let request = Request::Produce(ProduceRequest {
            acks: self.plan.acks,
            timeout_ms: 30_000,
            topic_data: vec![TopicProduceData {
                name: TopicName(self.plan.topic.clone()),
                partition_data,
                ..TopicProduceData::default()
            }],
            ..ProduceRequest::default()
        });
        let correlation = sender.send(PRODUCE_VERSION, &request).await?;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        if self.plan.acks == 0 {
            // No response will come: the request counts as acknowledged once written.
            acknowledge(
                &self.stats,
                &timestamps,
                measured,
                self.plan.message_size,
                None,
            );
            self.unacked.free(bytes);
            return Ok(());
        }
        self.stats.in_flight.fetch_add(1, Ordering::Relaxed);
        tx.send(InFlight {
            correlation,
            timestamps,
            measured,
            bytes,
            sent_ns: self.stats.clock.now_nanos(),
            _permit: permit,
        })
        .ok()
        .context("the ack reader stopped")?;
        Ok(())
    }
}

/// Reads Produce responses in request order and counts what they acknowledge.
async fn read_acks(
    mut receiver: Receiver,
    mut rx: mpsc::UnboundedReceiver<InFlight>,
    stats: Arc<Stats>,
    unacked: Arc<Unacked>,
    message_size: usize,
) -> anyhow::Result<()> {
    let mut local = LocalLatencies::new(&stats.ack);
    while let Some(request) = rx.recv().await {
        let response = receiver
            .response(ApiKey::Produce, PRODUCE_VERSION, request.correlation)
            .await?;
        stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        unacked.free(request.bytes);
        if request.sent_ns >= stats.measure_from() {
            let rtt_us = stats.clock.now_nanos().saturating_sub(request.sent_ns) / 1_000;
            stats.record_request(rtt_us);
        }
        let Response::Produce(response) = response else {
            bail!("Produce was answered with another API");
        };
        let failed: Vec<_> = response
            .responses
            .iter()
            .flat_map(|t| &t.partition_responses)
            .filter(|p| p.error_code != 0)
            .collect();
        if let Some(first) = failed.first() {
            // Not retried: a benchmark reports failures rather than hiding them.
            if stats
                .produce_errors
                .fetch_add(failed.len() as u64, Ordering::Relaxed)
                < 5
            {
                eprintln!(
                    "produce error {} on partition {}: {}",
                    first.error_code,
                    first.index,
                    first.error_message.as_deref().unwrap_or("no message")
                );
            }
            continue;
        }
        acknowledge(
            &stats,
            &request.timestamps,
            request.measured,
            message_size,
            Some(&mut local),
        );
        local.tick();
    }
    Ok(())
}

fn acknowledge(
    stats: &Stats,
    timestamps: &[u64],
    measured: u64,
    message_size: usize,
    latencies: Option<&mut LocalLatencies>,
) {
    let now = stats.clock.now_nanos();
    let size = message_size as u64;
    stats
        .acked
        .add(timestamps.len() as u64, timestamps.len() as u64 * size);
    if measured > 0 {
        stats.acked_measured.add(measured, measured * size);
        stats.last_ack_ns.fetch_max(now, Ordering::Relaxed);
        if let Some(histogram) = latencies {
            let from = stats.measure_from();
            for &created in timestamps.iter().filter(|&&t| t >= from) {
                histogram.record(now.saturating_sub(created) / 1_000);
            }
        }
    }
}

/// `len` random uppercase letters, as `ProducerPerformance` fills its payloads.
fn filler(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| b'A' + (xorshift(&mut x) % 26) as u8)
        .collect()
}

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}
