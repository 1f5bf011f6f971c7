//! CPU time and memory of a process, read from `/proc/<pid>` (Linux only).
//!
//! `/proc/<pid>/stat` fields 14 and 15 (utime, stime) count clock ticks of
//! all the process's threads; the kernel reports them in USER_HZ, which is
//! 100 on every architecture Linux exposes to user space. `/proc/<pid>/status`
//! gives `VmRSS` (resident now) and `VmHWM` (the peak since the process
//! started, which also covers earlier runs against the same broker; hence
//! the sampled peak over this run as well).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Clock ticks per second in `/proc/<pid>/stat`.
const USER_HZ: f64 = 100.0;
/// How often the sampler reads RSS.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// What one read of `/proc/<pid>` gives.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcSample {
    /// User plus system CPU seconds since the process started.
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    pub hwm_bytes: u64,
}

/// `pid` or `"self"`.
pub fn sample(pid: &str) -> std::io::Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(ProcSample {
        cpu_seconds: parse_cpu_ticks(&stat).ok_or_else(|| malformed(pid, "stat"))? as f64 / USER_HZ,
        rss_bytes: parse_status_kib(&status, "VmRSS:").unwrap_or(0) * 1024,
        hwm_bytes: parse_status_kib(&status, "VmHWM:").unwrap_or(0) * 1024,
    })
}

fn malformed(pid: &str, file: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("/proc/{pid}/{file} is not in the expected format"),
    )
}

/// utime + stime. The command name (field 2) is in parentheses and may hold
/// spaces or parentheses itself, so fields are counted after the last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state is field 3, so utime (14) is the 12th here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// Samples a process every [`SAMPLE_INTERVAL`] in the background and keeps
/// the largest RSS seen since it started (or since [`reset_peak`](Self::reset_peak)).
#[derive(Debug, Clone)]
pub struct Sampler {
    pid: String,
    peak_rss: Arc<AtomicU64>,
    last_rss: Arc<AtomicU64>,
}

impl Sampler {
    /// Starts sampling `pid` on the current tokio runtime; fails if the
    /// process cannot be read now.
    pub fn start(pid: &str) -> std::io::Result<Sampler> {
        let first = sample(pid)?;
        let sampler = Sampler {
            pid: pid.to_owned(),
            peak_rss: Arc::new(AtomicU64::new(first.rss_bytes)),
            last_rss: Arc::new(AtomicU64::new(first.rss_bytes)),
        };
        let s = sampler.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                // Gone: the broker exited; the run reports what it saw.
                let Ok(now) = sample(&s.pid) else { break };
                s.last_rss.store(now.rss_bytes, Ordering::Relaxed);
                s.peak_rss.fetch_max(now.rss_bytes, Ordering::Relaxed);
            }
        });
        Ok(sampler)
    }

    pub fn now(&self) -> Option<ProcSample> {
        sample(&self.pid).ok()
    }

    pub fn peak_rss(&self) -> u64 {
        self.peak_rss.load(Ordering::Relaxed)
    }

    pub fn last_rss(&self) -> u64 {
        self.last_rss.load(Ordering::Relaxed)
    }

    pub fn reset_peak(&self) {
        self.peak_rss
            .store(self.last_rss.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        let stat = "1234 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 8 0 100 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
    }

    #[test]
    fn status_values_are_read_in_kib() {
        let status = "Name:\tstrata\nVmHWM:\t   2048 kB\nVmRSS:\t   1024 kB\n";
        assert_eq!(parse_status_kib(status, "VmRSS:"), Some(1024));
        assert_eq!(parse_status_kib(status, "VmHWM:"), Some(2048));
    }

    #[test]
    fn this_process_can_be_sampled() {
        let s = sample("self").expect("/proc/self is readable");
        assert!(s.rss_bytes > 0);
        assert!(s.hwm_bytes >= s.rss_bytes);
    }
}
