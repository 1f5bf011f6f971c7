//! Random sequences of append / roll / read / truncate / retention /
//! DeleteRecords / reopen, checked against an in-memory model of the log.

mod common;

use bytes::Bytes;
use common::*;
use proptest::prelude::*;
use strata_storage::Error;
use strata_storage::log::{LogConfig, PartitionLog};

#[derive(Debug, Clone)]
enum Op {
    Append { records: usize, value_len: usize },
    Roll,
    Read { at: u8 },
    Truncate { at: u8 },
    RetainBytes { bytes: u16 },
    DeleteRecords { at: u8 },
    Reopen { clean: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (1usize..5, 0usize..400).prop_map(|(records, value_len)| Op::Append { records, value_len }),
        1 => Just(Op::Roll),
        3 => any::<u8>().prop_map(|at| Op::Read { at }),
        1 => any::<u8>().prop_map(|at| Op::Truncate { at }),
        1 => (2000u16..20000).prop_map(|bytes| Op::RetainBytes { bytes }),
        1 => any::<u8>().prop_map(|at| Op::DeleteRecords { at }),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
    ]
}

/// The model: every batch the log should still hold, with what was sent.
struct Model {
    batches: Vec<(i64, i64, Bytes)>,
    end: i64,
    start: i64,
}

impl Model {
    fn pick(&self, at: u8) -> i64 {
        if self.end == self.start {
            return self.start;
        }
        self.start + i64::from(at) % (self.end - self.start + 1)
    }

    fn drop_below(&mut self, start: i64) {
        self.start = self.start.max(start);
        self.batches.retain(|b| b.1 >= start);
    }
}

fn check(log: &PartitionLog, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(log.log_end_offset(), model.end);
    prop_assert_eq!(log.log_start_offset(), model.start);
    let stored = all_batches(log);
    prop_assert_eq!(stored.len(), model.batches.len());
    for (s, (base, last, sent)) in stored.iter().zip(&model.batches) {
        prop_assert_eq!(s.base_offset(), *base);
        prop_assert_eq!(s.last_offset(), *last);
        prop_assert!(same_batch(s, sent, *base), "batch {} differs", base);
    }
    Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_config();
    let (mut log, _) = open(dir.path(), config.clone(), true);
    let mut model = Model {
        batches: Vec::new(),
        end: 0,
        start: 0,
    };
    let mut seed = 0;
    for op in ops {
        match op {
            Op::Append { records, value_len } => {
                seed += 1;
                let sent = batch_for(seed, records, value_len);
                let info = log.append(&sent, 0, NOW).unwrap();
                prop_assert_eq!(info.first_offset, model.end);
                model
                    .batches
                    .push((info.first_offset, info.last_offset, sent));
                model.end = info.last_offset + 1;
                log.flush().unwrap();
                log.set_high_watermark(model.end);
            }
            Op::Roll => log.roll().unwrap(),
            Op::Read { at } => {
                let offset = model.pick(at);
                let read = log.read(offset, 1, model.end).unwrap();
                match model.batches.iter().find(|b| b.1 >= offset) {
                    None => prop_assert!(read.region.is_none()),
                    Some((base, _, sent)) => {
                        let bytes = read.region.expect("a batch").read_to_bytes().unwrap();
                        let got = strata_protocol::records::RecordBatch::new(bytes).unwrap();
                        prop_assert!(same_batch(&got, sent, *base));
                    }
                }
                if model.start > 0 {
                    let below = log.read(model.start - 1, 1, model.end);
                    prop_assert!(
                        matches!(below, Err(Error::OffsetOutOfRange { .. })),
                        "read below log start"
                    );
                }
            }
            Op::Truncate { at } => {
                let offset = model.pick(at);
                log.truncate_to(offset).unwrap();
                if offset <= model.batches.first().map_or(model.end, |b| b.0) && offset < model.end
                {
                    // Nothing below the cut survives: the log restarts at the offset.
                    model.batches.clear();
                    model.end = offset;
                    model.start = offset;
                } else if let Some(i) = model.batches.iter().position(|b| b.1 >= offset) {
                    model.end = model.batches[i].0;
                    model.batches.truncate(i);
                    model.start = model.start.min(model.end);
                }
            }
            Op::RetainBytes { bytes } => {
                config.retention_bytes = i64::from(bytes);
                log.set_config(config.clone());
                log.apply_retention(NOW).unwrap();
                // Retention stops as soon as dropping the oldest segment would
                // take the log under the limit (or only the active one is left).
                let oldest = log.segments().next().map_or(0, |s| s.size());
                prop_assert!(log.segments().count() == 1 || log.size() - oldest < u64::from(bytes));
                let start = log.log_start_offset();
                model.drop_below(start);
                config.retention_bytes = -1;
                log.set_config(config.clone());
            }
            Op::DeleteRecords { at } => {
                let offset = model.pick(at);
                prop_assert_eq!(log.delete_records(offset).unwrap(), offset.max(model.start));
                model.drop_below(offset);
            }
            Op::Reopen { clean } => {
                if clean {
                    log.close().unwrap();
                } else {
                    log.flush().unwrap();
                    drop(log);
                }
                let checkpoints = strata_storage::log::Checkpoints {
                    recovery_point: None,
                    log_start_offset: Some(model.start),
                };
                log = PartitionLog::open(
                    std::sync::Arc::new(strata_storage::fs::OsFs),
                    dir.path(),
                    config.clone(),
                    checkpoints,
                    clean,
                )
                .unwrap()
                .0;
            }
        }
        check(&log, &model)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn log_matches_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops)?;
    }
}

#[test]
fn default_config_is_kafkas() {
    let c = LogConfig::default();
    assert_eq!(c.segment_bytes, 1 << 30);
    assert_eq!(c.segment.index_interval_bytes, 4096);
    assert_eq!(c.max_message_bytes, 1_048_588);
}
