//! The result of a run: a readable table and one JSON line, the line being
//! what `benches/compare.sh` collects and `bench-report` reads back.
//!
//! Units: MiB/s (2^20 bytes, which Kafka's perf tools print as "MB/sec") of
//! record values, latency in milliseconds, memory in MiB.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

pub const MIB: f64 = 1_048_576.0;

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Always "strata-bench", to tell these lines from others in a results file.
    pub tool: &'static str,
    pub tags: BTreeMap<String, String>,
    pub config: ConfigSummary,
    /// Measured records acknowledged, over the time from the end of the
    /// warm-up to the last acknowledgement.
    pub produced: Throughput,
    /// Produce requests sent over the whole run (records per request shows
    /// how well batches fill).
    pub produce_requests: u64,
    /// Measured records consumed, over the consumers' window.
    pub consumed: Throughput,
    /// Fetch responses over the whole run (bytes per fetch shows whether
    /// long-polling returns full or thin responses).
    pub fetches: u64,
    pub e2e_latency_ms: Option<Percentiles>,
    pub ack_latency_ms: Option<Percentiles>,
    /// Produce requests from written to answered (counts requests, not records).
    pub produce_request_latency_ms: Option<Percentiles>,
    pub broker: Option<ProcUsage>,
    pub client: ProcUsage,
    pub elapsed_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigSummary {
    pub bootstrap: String,
    pub topic: String,
    pub partitions: i32,
    pub producers: usize,
    pub consumers: usize,
    pub message_size: usize,
    pub rate: f64,
    pub acks: i16,
    pub compression: String,
    pub batch_bytes: usize,
    pub linger_ms: u64,
    pub max_in_flight: usize,
    pub buffer_memory: usize,
    pub duration_s: Option<f64>,
    pub messages: Option<u64>,
    pub warmup_s: f64,
    pub consume_from_start: bool,
    pub fetch_max_wait_ms: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Throughput {
    pub messages: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub msg_per_s: f64,
    pub mib_per_s: f64,
    pub errors: u64,
}

impl Throughput {
    pub fn new(messages: u64, bytes: u64, seconds: f64, errors: u64) -> Self {
        let per_s = |x: f64| if seconds > 0.0 { x / seconds } else { 0.0 };
        Throughput {
            messages,
            bytes,
            seconds,
            msg_per_s: per_s(messages as f64),
            mib_per_s: per_s(bytes as f64 / MIB),
            errors,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    /// From a histogram in microseconds; `None` when it is empty.
    pub fn of(h: &Histogram<u64>) -> Option<Self> {
        if h.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1_000.0;
        Some(Percentiles {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.50)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        })
    }
}

/// CPU and memory of a process over the run.
#[derive(Debug, Clone, Serialize)]
pub struct ProcUsage {
    pub pid: String,
    /// CPU seconds (user + system) from the end of the warm-up to the end.
    pub cpu_s: f64,
    /// `cpu_s` over that window's length: cores kept busy on average.
    pub cpu_cores: f64,
    /// Largest resident set seen by the 100 ms sampler during the run.
    pub peak_rss_mib: f64,
    /// The kernel's peak resident set since the process started.
    pub vm_hwm_mib: f64,
}

impl RunReport {
    pub fn json_line(&self) -> String {
        // Plain data: numbers, strings and maps serialize without failure.
        serde_json::to_string(self).expect("a report serializes")
    }

    /// A small aligned table, one figure per line.
    pub fn table(&self) -> String {
        let c = &self.config;
        let mut out = String::new();
        let tags: Vec<String> = self.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            out,
            "strata-bench {} | {} partitions, {} producers, {} consumers, {} B records, rate {}, acks={}, {}, batch {} B, linger {} ms{}",
            c.bootstrap,
            c.partitions,
            c.producers,
            c.consumers,
            c.message_size,
            if c.rate > 0.0 {
                format!("{:.0}/s", c.rate)
            } else {
                "max".into()
            },
            c.acks,
            c.compression,
            c.batch_bytes,
            c.linger_ms,
            if tags.is_empty() {
                String::new()
            } else {
                format!(" | {}", tags.join(" "))
            }
        );
        let mut row = |name: &str, value: String| {
            let _ = writeln!(out, "  {name:<22} {value}");
        };
        let t = |t: &Throughput| {
            format!(
                "{:>10.1} MiB/s {:>12.0} msg/s  ({} msgs in {:.2} s{})",
                t.mib_per_s,
                t.msg_per_s,
                t.messages,
                t.seconds,
                if t.errors > 0 {
                    format!(", {} ERRORS", t.errors)
                } else {
                    String::new()
                }
            )
        };
        if c.producers > 0 {
            row("produce", t(&self.produced));
            row("produce requests", format!("{:>10}", self.produce_requests));
        }
        if c.consumers > 0 {
            row(
                if c.consume_from_start {
                    "consume (catch-up)"
                } else {
                    "consume"
                },
                t(&self.consumed),
            );
            row("fetches", format!("{:>10}", self.fetches));
        }
        let p = |p: &Option<Percentiles>| match p {
            Some(p) => format!(
                "p50 {:>8.2}  p99 {:>8.2}  p99.9 {:>8.2}  max {:>8.2} ms  ({} records)",
                p.p50, p.p99, p.p999, p.max, p.count
            ),
            None => "-".into(),
        };
        if c.consumers > 0 && !c.consume_from_start {
            row("end-to-end latency", p(&self.e2e_latency_ms));
        }
        if c.producers > 0 && c.acks != 0 {
            row("ack latency", p(&self.ack_latency_ms));
            if let Some(r) = &self.produce_request_latency_ms {
                row(
                    "produce request rtt",
                    format!(
                        "p50 {:>8.2}  p99 {:>8.2}  p99.9 {:>8.2}  max {:>8.2} ms  ({} requests)",
                        r.p50, r.p99, r.p999, r.max, r.count
                    ),
                );
            }
        }
        let u = |u: &ProcUsage| {
            format!(
                "{:>8.2} CPU s ({:.2} cores)  peak RSS {:>8.1} MiB  (VmHWM {:.1} MiB, pid {})",
                u.cpu_s, u.cpu_cores, u.peak_rss_mib, u.vm_hwm_mib, u.pid
            )
        };
        if let Some(b) = &self.broker {
            row("broker", u(b));
        }
        row("this client", u(&self.client));
        out
    }
}
