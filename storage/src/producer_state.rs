//! Idempotent producers: per partition, each producer id's epoch and its
//! last five batches (sequence range and offsets), as Kafka keeps them, so
//! that a retried batch is acknowledged with its first offsets instead of
//! being written twice, and a gap in sequences is refused.
//!
//! Rules, for a batch from producer `pid` at `epoch` with sequences
//! `first..=last` (Kafka's `ProducerStateManager` / `checkSequence`):
//!
//! | state of `pid`          | batch                          | outcome                     |
//! |-------------------------|--------------------------------|-----------------------------|
//! | unknown                 | any                            | append                      |
//! | epoch e                 | epoch < e                      | INVALID_PRODUCER_EPOCH      |
//! | epoch e                 | epoch > e, first == 0          | append (new epoch)          |
//! | epoch e                 | epoch > e, first != 0          | OUT_OF_ORDER_SEQUENCE       |
//! | epoch e, last seq s     | same range as a kept batch     | duplicate: its offsets back |
//! | epoch e, last seq s     | first == s + 1 (wrapping)      | append                      |
//! | epoch e, last seq s     | anything else                  | OUT_OF_ORDER_SEQUENCE       |
//!
//! An unknown producer's first batch is taken at any sequence, as Kafka
//! does since KIP-360: its state may be gone for good reasons (retention or
//! DeleteRecords removed its batches), and refusing would leave the
//! producer stuck on OUT_OF_ORDER_SEQUENCE with nothing lost.
//!
//! Persistence: a `<offset>.snapshot` (Kafka's format) is written when a
//! segment rolls and at a clean close; after a crash the state is the newest
//! snapshot plus the batches after it. Kafka's snapshot holds one entry, the
//! last batch, per producer; ours holds an entry for each kept batch, oldest
//! first. Kafka's loader keeps a producer's last entry (`Map.put`), so it
//! reads the newest batch as before, and we get all five back: a client that
//! retries its unanswered batches after a restart finds each one recognised,
//! where a one-entry snapshot answers every batch but the last with
//! OUT_OF_ORDER_SEQUENCE (which franz-go reports as data loss).

use std::collections::{HashMap, VecDeque};

use strata_protocol::records::BatchHeader;

use crate::producer_snapshot::ProducerSnapshotEntry;

/// Batches remembered per producer (Kafka's `NUM_BATCHES_TO_RETAIN`).
const KEPT_BATCHES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptBatch {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    pub epoch: i16,
    pub batches: VecDeque<KeptBatch>,
}

/// What to do with an idempotent batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    Append,
    /// Already written: these were its first and last offsets.
    Duplicate {
        first_offset: i64,
        last_offset: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceError {
    OutOfOrder {
        producer_id: i64,
        expected: i32,
        got: i32,
    },
    InvalidEpoch {
        producer_id: i64,
        current: i16,
        got: i16,
    },
}

impl std::fmt::Display for SequenceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SequenceError::OutOfOrder {
                producer_id,
                expected,
                got,
            } => write!(
                f,
                "out of order sequence for producer {producer_id}: expected {expected}, got {got}"
            ),
            SequenceError::InvalidEpoch {
                producer_id,
                current,
                got,
            } => write!(
                f,
                "producer {producer_id} has epoch {current}; a batch at epoch {got} is fenced"
            ),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerState {
    producers: HashMap<i64, ProducerEntry>,
}

fn next_sequence(s: i32) -> i32 {
    if s == i32::MAX { 0 } else { s + 1 }
}

fn last_sequence(header: &BatchHeader) -> i32 {
    let last = i64::from(header.base_sequence()) + i64::from(header.last_offset_delta());
    if last > i64::from(i32::MAX) {
        (last - i64::from(i32::MAX) - 1) as i32
    } else {
        last as i32
    }
}

/// Checks an idempotent batch against its producer's entry (`None`: unknown).
fn check_entry(
    entry: Option<&ProducerEntry>,
    header: &BatchHeader,
) -> Result<SequenceCheck, SequenceError> {
    let pid = header.producer_id();
    let epoch = header.producer_epoch();
    let first = header.base_sequence();
    let last = last_sequence(header);
    let Some(entry) = entry else {
        return Ok(SequenceCheck::Append);
    };
    if epoch < entry.epoch {
        return Err(SequenceError::InvalidEpoch {
            producer_id: pid,
            current: entry.epoch,
            got: epoch,
        });
    }
    if epoch > entry.epoch {
        return if first == 0 {
            Ok(SequenceCheck::Append)
        } else {
            Err(SequenceError::OutOfOrder {
                producer_id: pid,
                expected: 0,
                got: first,
            })
        };
    }
    if let Some(kept) = entry
        .batches
        .iter()
        .find(|b| b.first_sequence == first && b.last_sequence == last)
    {
        return Ok(SequenceCheck::Duplicate {
            first_offset: kept.first_offset,
            last_offset: kept.last_offset,
        });
    }
    let expected = entry
        .batches
        .back()
        .map_or(0, |b| next_sequence(b.last_sequence));
    if first == expected {
        Ok(SequenceCheck::Append)
    } else {
        Err(SequenceError::OutOfOrder {
            producer_id: pid,
            expected,
            got: first,
        })
    }
}

impl KeptBatch {
    fn of(header: &BatchHeader, first_offset: i64) -> KeptBatch {
        KeptBatch {
            first_sequence: header.base_sequence(),
            last_sequence: last_sequence(header),
            first_offset,
            last_offset: first_offset + i64::from(header.last_offset_delta()),
            max_timestamp: header.max_timestamp(),
        }
    }
}

impl ProducerEntry {
    fn new(epoch: i16) -> ProducerEntry {
        ProducerEntry {
            epoch,
            batches: VecDeque::new(),
        }
    }

    /// Appends `batch` to the kept batches; a new epoch starts them afresh.
    fn keep(&mut self, epoch: i16, batch: KeptBatch) {
        if epoch != self.epoch {
            self.epoch = epoch;
            self.batches.clear();
        }
        if self.batches.len() == KEPT_BATCHES {
            self.batches.pop_front();
        }
        self.batches.push_back(batch);
    }
}

/// What one append does to the producers, kept apart until the append
/// succeeds: only the entries it touches are copied, so a refused request
/// leaves the state as it was at a cost that does not grow with the number
/// of producers the partition knows.
#[derive(Debug, Default)]
pub struct ProducerChanges {
    touched: HashMap<i64, ProducerEntry>,
}

impl ProducerChanges {
    /// [`ProducerState::check`] as if these changes were applied.
    pub fn check(
        &self,
        state: &ProducerState,
        header: &BatchHeader,
    ) -> Result<SequenceCheck, SequenceError> {
        let pid = header.producer_id();
        check_entry(
            self.touched.get(&pid).or_else(|| state.producers.get(&pid)),
            header,
        )
    }

    /// [`ProducerState::record`], into these changes.
    pub fn record(&mut self, state: &ProducerState, header: &BatchHeader, first_offset: i64) {
        let pid = header.producer_id();
        if pid < 0 {
            return;
        }
        self.touched
            .entry(pid)
            .or_insert_with(|| {
                state
                    .producers
                    .get(&pid)
                    .cloned()
                    .unwrap_or_else(|| ProducerEntry::new(header.producer_epoch()))
            })
            .keep(header.producer_epoch(), KeptBatch::of(header, first_offset));
    }
}

impl ProducerState {
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn get(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Checks an idempotent batch (`producer_id >= 0`) against the state.
    pub fn check(&self, header: &BatchHeader) -> Result<SequenceCheck, SequenceError> {
        check_entry(self.producers.get(&header.producer_id()), header)
    }

    /// Records a batch that was written at `first_offset`.
    pub fn record(&mut self, header: &BatchHeader, first_offset: i64) {
        let pid = header.producer_id();
        if pid < 0 {
            return;
        }
        self.producers
            .entry(pid)
            .or_insert_with(|| ProducerEntry::new(header.producer_epoch()))
            .keep(header.producer_epoch(), KeptBatch::of(header, first_offset));
    }

    /// Takes in what an append recorded.
    pub fn apply(&mut self, changes: ProducerChanges) {
        self.producers.extend(changes.touched);
    }
    /// Forgets everything at or after `offset` (the log was truncated there).
    pub fn truncate_to(&mut self, offset: i64) {
        for entry in self.producers.values_mut() {
            entry.batches.retain(|b| b.last_offset < offset);
        }
        self.producers.retain(|_, e| !e.batches.is_empty());
    }

    /// The snapshot entries: every kept batch of each producer, oldest
    /// first, so that a reader keeping the last entry per producer (Kafka)
    /// gets the newest.
    pub fn snapshot(&self) -> Vec<ProducerSnapshotEntry> {
        let mut out: Vec<ProducerSnapshotEntry> = self
            .producers
            .iter()
            .flat_map(|(&pid, e)| {
                e.batches.iter().map(move |b| ProducerSnapshotEntry {
                    producer_id: pid,
                    producer_epoch: e.epoch,
                    last_sequence: b.last_sequence,
                    last_offset: b.last_offset,
                    offset_delta: (b.last_offset - b.first_offset) as i32,
                    timestamp: b.max_timestamp,
                    coordinator_epoch: -1,
                    current_txn_first_offset: -1,
                })
            })
            .collect();
        out.sort_by_key(|e| (e.producer_id, e.last_offset));
        out
    }

    /// The state a snapshot describes: entries of one producer are its
    /// batches (one in Kafka's snapshots, up to five in ours); a later
    /// entry at another epoch replaces the earlier ones, as a new epoch does.
    pub fn from_snapshot(entries: &[ProducerSnapshotEntry]) -> ProducerState {
        let mut sorted: Vec<&ProducerSnapshotEntry> =
            entries.iter().filter(|e| e.last_offset >= 0).collect();
        sorted.sort_by_key(|e| (e.producer_id, e.last_offset));
        let mut state = ProducerState::default();
        for e in sorted {
            let first_sequence = {
                let first = i64::from(e.last_sequence) - i64::from(e.offset_delta);
                if first < 0 {
                    (first + i64::from(i32::MAX) + 1) as i32
                } else {
                    first as i32
                }
            };
            state
                .producers
                .entry(e.producer_id)
                .or_insert_with(|| ProducerEntry::new(e.producer_epoch))
                .keep(
                    e.producer_epoch,
                    KeptBatch {
                        first_sequence,
                        last_sequence: e.last_sequence,
                        first_offset: e.last_offset - i64::from(e.offset_delta),
                        last_offset: e.last_offset,
                        max_timestamp: e.timestamp,
                    },
                );
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use strata_protocol::records::{Compression, RecordBatchBuilder};

    fn header(pid: i64, epoch: i16, seq: i32, records: usize) -> BatchHeader {
        let mut b = RecordBatchBuilder::new(Compression::None).producer(pid, epoch, seq);
        for _ in 0..records {
            b.append(1, None, Some(Bytes::from_static(b"v")), vec![])
                .unwrap();
        }
        *b.build().unwrap().header()
    }

    #[test]
    fn sequences_follow_the_table() {
        let mut s = ProducerState::default();
        // Unknown (e.g. retention took its batches): any sequence, as Kafka.
        assert_eq!(s.check(&header(7, 0, 3, 1)), Ok(SequenceCheck::Append));
        let h = header(7, 0, 0, 3);
        assert_eq!(s.check(&h), Ok(SequenceCheck::Append));
        s.record(&h, 100);
        // The retry of the same batch: its offsets, no second write.
        assert_eq!(
            s.check(&h),
            Ok(SequenceCheck::Duplicate {
                first_offset: 100,
                last_offset: 102
            })
        );
        assert_eq!(
            s.check(&header(7, 0, 4, 1)),
            Err(SequenceError::OutOfOrder {
                producer_id: 7,
                expected: 3,
                got: 4
            })
        );
        let next = header(7, 0, 3, 2);
        assert_eq!(s.check(&next), Ok(SequenceCheck::Append));
        s.record(&next, 103);
        assert_eq!(
            s.check(&header(7, -1, 5, 1)),
            Err(SequenceError::InvalidEpoch {
                producer_id: 7,
                current: 0,
                got: -1
            })
        );
        assert_eq!(
            s.check(&header(7, 1, 5, 1)),
            Err(SequenceError::OutOfOrder {
                producer_id: 7,
                expected: 0,
                got: 5
            })
        );
        let bumped = header(7, 1, 0, 1);
        assert_eq!(s.check(&bumped), Ok(SequenceCheck::Append));
        s.record(&bumped, 105);
        assert_eq!(s.get(7).unwrap().epoch, 1);
        assert_eq!(s.get(7).unwrap().batches.len(), 1);
    }

    #[test]
    fn only_the_last_five_batches_are_kept() {
        let mut s = ProducerState::default();
        for i in 0..7 {
            s.record(&header(1, 0, i, 1), i64::from(i));
        }
        let e = s.get(1).unwrap();
        assert_eq!(e.batches.len(), 5);
        assert_eq!(e.batches.front().unwrap().first_sequence, 2);
        // The oldest retried batch is no longer recognised as a duplicate.
        assert!(s.check(&header(1, 0, 0, 1)).is_err());
        assert_eq!(
            s.check(&header(1, 0, 6, 1)),
            Ok(SequenceCheck::Duplicate {
                first_offset: 6,
                last_offset: 6
            })
        );
    }

    #[test]
    fn snapshot_round_trip_keeps_every_kept_batch() {
        let mut s = ProducerState::default();
        s.record(&header(1, 2, 0, 3), 10);
        s.record(&header(1, 2, 3, 2), 20);
        s.record(&header(9, 0, 0, 1), 30);
        let entries = s.snapshot();
        // Oldest first per producer: a reader that keeps the last entry of
        // each producer (Kafka) sees its newest batch.
        let last_of_1 = entries.iter().rfind(|e| e.producer_id == 1).unwrap();
        assert_eq!((last_of_1.last_sequence, last_of_1.last_offset), (4, 21));
        let back = ProducerState::from_snapshot(&entries);
        assert_eq!(back, s);
        assert_eq!(back.check(&header(1, 2, 5, 1)), Ok(SequenceCheck::Append));
        assert_eq!(
            back.check(&header(1, 2, 0, 3)),
            Ok(SequenceCheck::Duplicate {
                first_offset: 10,
                last_offset: 12
            })
        );
        assert_eq!(back.len(), 2);
    }

    #[test]
    fn snapshot_entries_beyond_five_or_at_an_older_epoch_are_dropped() {
        let entry = |epoch: i16, seq: i32, offset: i64| ProducerSnapshotEntry {
            producer_id: 1,
            producer_epoch: epoch,
            last_sequence: seq,
            last_offset: offset,
            offset_delta: 0,
            timestamp: 0,
            coordinator_epoch: -1,
            current_txn_first_offset: -1,
        };
        // Three batches at epoch 0, then six at epoch 1, listed newest first.
        let mut entries: Vec<_> = (0..3).map(|i| entry(0, i, i64::from(i))).collect();
        entries.extend((0..6).map(|i| entry(1, i, 10 + i64::from(i))));
        entries.reverse();
        let back = ProducerState::from_snapshot(&entries);
        let e = back.get(1).unwrap();
        assert_eq!(e.epoch, 1);
        assert_eq!(
            e.batches
                .iter()
                .map(|b| b.last_sequence)
                .collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn truncation_forgets_batches_past_the_cut() {
        let mut s = ProducerState::default();
        s.record(&header(1, 0, 0, 1), 10);
        s.record(&header(1, 0, 1, 1), 11);
        s.truncate_to(11);
        assert_eq!(s.check(&header(1, 0, 1, 1)), Ok(SequenceCheck::Append));
        s.truncate_to(0);
        assert!(s.is_empty());
    }
}
