//! What a soak run concludes, apart from the I/O: whether each partition
//! arrived whole and in order, and whether the broker's memory and open
//! files stayed flat.
//!
//! Flatness, over the steady state (from the end of the warm-up to the end
//! of production), split at its midpoint in time:
//! - RSS is flat when the largest sample of the second half is at most
//!   `1 + rss_tolerance` times the largest of the first half. Comparing
//!   maxima, not single samples, lets allocator churn come and go; a leak
//!   raises every later maximum.
//! - Open files are flat when the largest and smallest steady-state counts
//!   differ by at most `fd_tolerance` (0 by default: connections and
//!   segment files are fixed while the run lasts; a count that moved is
//!   read again 200 ms later and the smaller one kept, so a file held for
//!   a moment does not count).

use serde::Serialize;

/// One look at the broker, `at_s` seconds after the run started.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    pub at_s: f64,
    pub rss_bytes: u64,
    /// The anonymous part of the RSS (the heap, stacks): what a leak grows.
    pub rss_anon_bytes: u64,
    pub fds: u64,
}

/// The steady state's figures and the two verdicts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flatness {
    pub samples: usize,
    /// The first sample after the warm-up, the largest RSS and the most
    /// files of the steady state, and its last sample.
    pub start: Sample,
    pub max_rss_bytes: u64,
    pub max_fds: u64,
    pub min_fds: u64,
    pub end: Sample,
    pub first_half_max_rss_bytes: u64,
    pub second_half_max_rss_bytes: u64,
    /// Second half's maximum over the first half's, minus one (0.05: 5 %).
    pub rss_growth: f64,
    pub rss_flat: bool,
    pub fds_flat: bool,
}

/// Fewer steady-state samples than this say nothing about a trend.
pub const MIN_SAMPLES: usize = 4;

/// Judges the samples taken from `from_s` to `to_s` (inclusive); `None`
/// when fewer than [`MIN_SAMPLES`] fall in that window.
pub fn flatness(
    samples: &[Sample],
    from_s: f64,
    to_s: f64,
    rss_tolerance: f64,
    fd_tolerance: u64,
) -> Option<Flatness> {
    let steady: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.at_s >= from_s && s.at_s <= to_s)
        .collect();
    if steady.len() < MIN_SAMPLES {
        return None;
    }
    let mid = (steady[0].at_s + steady[steady.len() - 1].at_s) / 2.0;
    let (first, second): (Vec<Sample>, Vec<Sample>) = steady.iter().partition(|s| s.at_s < mid);
    if first.is_empty() || second.is_empty() {
        return None;
    }
    let max_rss = |half: &[Sample]| half.iter().map(|s| s.rss_bytes).max().unwrap_or(0);
    let first_max = max_rss(&first);
    let second_max = max_rss(&second);
    let rss_growth = if first_max == 0 {
        0.0
    } else {
        second_max as f64 / first_max as f64 - 1.0
    };
    let max_fds = steady.iter().map(|s| s.fds).max().unwrap_or(0);
    let min_fds = steady.iter().map(|s| s.fds).min().unwrap_or(0);
    Some(Flatness {
        samples: steady.len(),
        start: steady[0],
        max_rss_bytes: max_rss(&steady),
        max_fds,
        min_fds,
        end: steady[steady.len() - 1],
        first_half_max_rss_bytes: first_max,
        second_half_max_rss_bytes: second_max,
        rss_growth,
        rss_flat: second_max as f64 <= first_max as f64 * (1.0 + rss_tolerance),
        fds_flat: max_fds - min_fds <= fd_tolerance,
    })
}

/// What a consumer expects next from one partition: the offset after the
/// last record it read, and the producer's sequence number after the last
/// one. Every record must carry exactly both: no gap, no duplicate, no
/// reordering, and nothing from another partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOrder {
    pub partition: i32,
    pub next_offset: i64,
    pub next_sequence: u64,
}

/// Why a record was not the one expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderError {
    OffsetGap { expected: i64, got: i64 },
    WrongPartition { expected: i32, got: i32 },
    Sequence { expected: u64, got: u64 },
}

impl std::fmt::Display for OrderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OrderError::OffsetGap { expected, got } => {
                write!(f, "expected offset {expected}, read offset {got}")
            }
            OrderError::WrongPartition { expected, got } => {
                write!(
                    f,
                    "a record written to partition {got} was read from {expected}"
                )
            }
            OrderError::Sequence { expected, got } => {
                write!(f, "expected sequence {expected}, read sequence {got}")
            }
        }
    }
}

impl PartitionOrder {
    pub fn new(partition: i32, start_offset: i64) -> Self {
        PartitionOrder {
            partition,
            next_offset: start_offset,
            next_sequence: 0,
        }
    }

    /// Checks the record at `offset` that says it is `sequence` of
    /// `partition`, and moves past it either way, so that one fault is
    /// reported once rather than for every record after it.
    pub fn accept(&mut self, offset: i64, partition: i32, sequence: u64) -> Result<(), OrderError> {
        let expected = *self;
        self.next_offset = offset + 1;
        self.next_sequence = sequence + 1;
        if offset != expected.next_offset {
            return Err(OrderError::OffsetGap {
                expected: expected.next_offset,
                got: offset,
            });
        }
        if partition != expected.partition {
            return Err(OrderError::WrongPartition {
                expected: expected.partition,
                got: partition,
            });
        }
        if sequence != expected.next_sequence {
            return Err(OrderError::Sequence {
                expected: expected.next_sequence,
                got: sequence,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn samples(rss_mib: &[u64], fds: &[u64]) -> Vec<Sample> {
        rss_mib
            .iter()
            .zip(fds)
            .enumerate()
            .map(|(i, (&rss, &fds))| Sample {
                at_s: i as f64 * 5.0,
                rss_bytes: rss * MIB,
                rss_anon_bytes: rss * MIB,
                fds,
            })
            .collect()
    }

    #[test]
    fn flatness_accepts_noise_within_the_tolerance() {
        // Warm-up (0 and 5 s) grows; steady state wobbles by 4 %.
        let s = samples(
            &[10, 60, 100, 104, 101, 103, 102, 104],
            &[5, 900, 1010, 1010, 1010, 1010, 1010, 1010],
        );
        let f = flatness(&s, 10.0, 35.0, 0.05, 0).expect("six steady samples");
        assert_eq!(f.samples, 6);
        assert_eq!(f.start, s[2]);
        assert_eq!(f.end, s[7]);
        assert_eq!(f.max_rss_bytes, 104 * MIB);
        assert_eq!(f.first_half_max_rss_bytes, 104 * MIB);
        assert_eq!(f.second_half_max_rss_bytes, 104 * MIB);
        assert!(f.rss_flat && f.fds_flat, "{f:?}");
    }

    #[test]
    fn flatness_flags_steady_rss_growth() {
        let s = samples(&[100, 104, 108, 112, 116, 120], &[10; 6]);
        let f = flatness(&s, 0.0, 25.0, 0.05, 0).expect("six samples");
        assert_eq!(f.first_half_max_rss_bytes, 108 * MIB);
        assert_eq!(f.second_half_max_rss_bytes, 120 * MIB);
        assert!((f.rss_growth - (120.0 / 108.0 - 1.0)).abs() < 1e-9);
        assert!(!f.rss_flat);
        assert!(f.fds_flat);
    }

    #[test]
    fn flatness_flags_a_file_descriptor_leak() {
        let s = samples(&[100; 6], &[1010, 1010, 1011, 1011, 1012, 1013]);
        let f = flatness(&s, 0.0, 25.0, 0.05, 0).expect("six samples");
        assert!(f.rss_flat);
        assert!(!f.fds_flat);
        assert_eq!((f.min_fds, f.max_fds), (1010, 1013));
        let lenient = flatness(&s, 0.0, 25.0, 0.05, 3).expect("six samples");
        assert!(lenient.fds_flat);
    }

    #[test]
    fn flatness_needs_enough_steady_samples() {
        let s = samples(&[100; 6], &[10; 6]);
        // Only 20 s and 25 s are steady.
        assert_eq!(flatness(&s, 20.0, 25.0, 0.05, 0), None);
    }

    #[test]
    fn partition_order_accepts_consecutive_records() {
        let mut p = PartitionOrder::new(7, 100);
        for i in 0..5 {
            assert_eq!(p.accept(100 + i, 7, i as u64), Ok(()));
        }
        assert_eq!(p.next_offset, 105);
        assert_eq!(p.next_sequence, 5);
    }

    #[test]
    fn partition_order_reports_gaps_duplicates_and_strays_once() {
        let mut p = PartitionOrder::new(3, 0);
        assert_eq!(p.accept(0, 3, 0), Ok(()));
        // A lost record: the sequence jumps, then carries on from there.
        assert_eq!(
            p.accept(1, 3, 2),
            Err(OrderError::Sequence {
                expected: 1,
                got: 2
            })
        );
        assert_eq!(p.accept(2, 3, 3), Ok(()));
        // A duplicate.
        assert_eq!(
            p.accept(3, 3, 3),
            Err(OrderError::Sequence {
                expected: 4,
                got: 3
            })
        );
        assert_eq!(
            p.accept(5, 3, 4),
            Err(OrderError::OffsetGap {
                expected: 4,
                got: 5
            })
        );
        assert_eq!(
            p.accept(6, 4, 5),
            Err(OrderError::WrongPartition {
                expected: 3,
                got: 4
            })
        );
        assert_eq!(p.accept(7, 3, 6), Ok(()));
    }
}
