//! Helpers shared by the storage integration tests.
#![allow(dead_code)]

use bytes::Bytes;
use std::path::Path;
use std::sync::Arc;

use strata_protocol::records::{Compression, RecordBatch, RecordBatchBuilder, batches};
use strata_storage::fs::OsFs;
use strata_storage::log::{Checkpoints, LogConfig, OpenReport, PartitionLog};
use strata_storage::segment::SegmentConfig;

pub const NOW: i64 = 1_700_000_000_000;

/// A batch whose content is a function of `seed` alone, so a test can
/// rebuild exactly what it appended.
pub fn batch_for(seed: i64, records: usize, value_len: usize) -> Bytes {
    let mut builder = RecordBatchBuilder::new(Compression::None);
    for i in 0..records {
        let mut value = format!("seed {seed} record {i} ").into_bytes();
        value.resize(value_len.max(value.len()), b'.');
        builder
            .append(
                NOW + seed,
                Some(Bytes::from(format!("k{seed}-{i}"))),
                Some(Bytes::from(value)),
                vec![],
            )
            .expect("timestamps fit");
    }
    builder.build().expect("a valid batch").into_bytes()
}

pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 8192,
        segment: SegmentConfig {
            index_interval_bytes: 512,
            max_index_bytes: 1 << 20,
        },
        ..LogConfig::default()
    }
}

pub fn open(dir: &Path, config: LogConfig, clean: bool) -> (PartitionLog, OpenReport) {
    PartitionLog::open(Arc::new(OsFs), dir, config, Checkpoints::default(), clean)
        .expect("log opens")
}

/// Every batch in the log from its start, as stored.
pub fn all_batches(log: &PartitionLog) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    while offset < end {
        let read = log.read(offset, 1 << 30, end).expect("readable");
        let Some(region) = read.region else { break };
        for b in batches(region.read_to_bytes().expect("region reads")) {
            let b = b.expect("stored batches are whole");
            offset = b.next_offset();
            out.push(b);
        }
    }
    out
}

/// Whether `stored` is `sent` as the log must keep it: byte for byte but
/// for the base offset and leader epoch the broker sets.
pub fn same_batch(stored: &RecordBatch, sent: &Bytes, base_offset: i64) -> bool {
    let s = stored.as_bytes();
    s.len() == sent.len()
        && s[..8] == base_offset.to_be_bytes()
        && s[8..12] == sent[8..12]
        && s[16..] == sent[16..]
}
