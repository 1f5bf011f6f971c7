//! What producers and consumers count while a run goes on, shared between
//! their tasks and the progress line.
//!
//! Counters are atomics bumped once per request or response, not per
//! record. Histograms are in microseconds; tasks fill a local one per
//! response and merge it under the mutex (never held across an `.await`).
//!
//! "Measured" means created at or after the end of the warm-up: those
//! records alone count towards the throughput and latency figures, so a
//! slow start (JIT, page cache, connection setup) does not blur them.

use hdrhistogram::Histogram;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The run's time base: record timestamps in payloads are nanoseconds since
/// `epoch`, which producers and consumers share because they run in this
/// one process.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub epoch: Instant,
    /// Wall-clock milliseconds at `epoch`, for the batch timestamps the
    /// broker validates.
    pub epoch_unix_ms: i64,
}

impl Clock {
    pub fn start() -> Clock {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Clock {
            epoch: Instant::now(),
            epoch_unix_ms: i64::try_from(unix.as_millis()).unwrap_or(i64::MAX),
        }
    }

    pub fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    pub fn now_nanos(&self) -> u64 {
        self.nanos(Instant::now())
    }

    pub fn instant(&self, nanos: u64) -> Instant {
        self.epoch + Duration::from_nanos(nanos)
    }

    /// Wall-clock milliseconds of a payload timestamp.
    pub fn unix_ms(&self, nanos: u64) -> i64 {
        self.epoch_unix_ms + i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX)
    }
}

/// Latency histogram in microseconds: 1 µs to 1 hour, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts (low >= 1, high >= 2 * low).
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// A histogram for the whole run and one for the current progress interval.
#[derive(Debug)]
pub struct Latencies {
    pub total: Histogram<u64>,
    pub interval: Histogram<u64>,
}

impl Latencies {
    fn new() -> Self {
        Latencies {
            total: histogram(),
            interval: histogram(),
        }
    }

    pub fn merge(&mut self, local: &Histogram<u64>) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.total.add(local);
        let _ = self.interval.add(local);
    }
}

/// Messages and payload bytes.
#[derive(Debug, Default)]
pub struct Counter {
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
}

impl Counter {
    pub fn add(&self, messages: u64, bytes: u64) {
        self.messages.fetch_add(messages, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn get(&self) -> (u64, u64) {
        (
            self.messages.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

#[derive(Debug)]
pub struct Stats {
    pub clock: Clock,
    /// Records created at or after this are measured.
    pub measure_from_ns: AtomicU64,
    /// Start of the consumers' throughput window: the end of the warm-up,
    /// or the start of a catch-up read.
    pub consume_from_ns: AtomicU64,
    /// Every acknowledged record, and the measured ones.
    pub acked: Counter,
    pub acked_measured: Counter,
    pub last_ack_ns: AtomicU64,
    pub produce_errors: AtomicU64,
    pub in_flight: AtomicU64,
    pub requests: AtomicU64,
    /// Every consumed record, and those counted in the consumers' window.
    pub consumed: Counter,
    pub consumed_measured: Counter,
    pub last_consume_ns: AtomicU64,
    pub fetch_errors: AtomicU64,
    pub fetches: AtomicU64,
    pub e2e: Mutex<Latencies>,
    pub ack: Mutex<Latencies>,
    /// Produce requests from written to answered: the broker's and the
    /// network's share of the ack latency, without the time records wait
    /// in the producer for a batch, a request or a free in-flight slot.
    pub request: Mutex<Latencies>,
}

impl Stats {
    pub fn new(clock: Clock, measure_from: Instant) -> Stats {
        let from = clock.nanos(measure_from);
        Stats {
            clock,
            measure_from_ns: AtomicU64::new(from),
            consume_from_ns: AtomicU64::new(from),
            acked: Counter::default(),
            acked_measured: Counter::default(),
            last_ack_ns: AtomicU64::new(0),
            produce_errors: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            consumed: Counter::default(),
            consumed_measured: Counter::default(),
            last_consume_ns: AtomicU64::new(0),
            fetch_errors: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
            e2e: Mutex::new(Latencies::new()),
            ack: Mutex::new(Latencies::new()),
            request: Mutex::new(Latencies::new()),
        }
    }

    pub fn measure_from(&self) -> u64 {
        self.measure_from_ns.load(Ordering::Relaxed)
    }

    pub fn record_request(&self, rtt_us: u64) {
        if let Ok(mut l) = self.request.lock() {
            l.total.saturating_record(rtt_us);
            l.interval.saturating_record(rtt_us);
        }
    }
}

/// How often a task adds what it recorded to the shared histograms.
const MERGE_EVERY: Duration = Duration::from_millis(200);

/// Latencies one task records, added to a shared [`Latencies`] at most every
/// [`MERGE_EVERY`] and when dropped. Adding walks every count of both
/// histograms (tens of thousands at 3 significant figures up to an hour):
/// done for each response at 100-byte records, that cost the tool 6 % of
/// its CPU, more than the records it measured.
#[derive(Debug)]
pub struct LocalLatencies<'a> {
    shared: &'a Mutex<Latencies>,
    local: Histogram<u64>,
    merged_at: Instant,
}

impl<'a> LocalLatencies<'a> {
    pub fn new(shared: &'a Mutex<Latencies>) -> Self {
        LocalLatencies {
            shared,
            local: histogram(),
            merged_at: Instant::now(),
        }
    }

    pub fn record(&mut self, us: u64) {
        self.local.saturating_record(us);
    }

    /// Adds what was recorded to the shared histograms if it is time to.
    pub fn tick(&mut self) {
        if self.merged_at.elapsed() >= MERGE_EVERY {
            self.merge();
        }
    }

    pub fn merge(&mut self) {
        self.merged_at = Instant::now();
        if self.local.is_empty() {
            return;
        }
        // A poisoned lock means a task panicked; its figures are lost anyway.
        if let Ok(mut shared) = self.shared.lock() {
            shared.merge(&self.local);
        }
        self.local.reset();
    }
}

impl Drop for LocalLatencies<'_> {
    fn drop(&mut self) {
        self.merge();
    }
}
