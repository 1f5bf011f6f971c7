//! Writes a partition directory with `PartitionLog` for Apache Kafka's tools
//! to read (`storage/tests/kafka-compat.sh` runs Kafka's DumpLogSegments on
//! it).
//!
//! ```text
//! cargo run -p strata-storage --example write_partition -- <dir>
//! ```
//!
//! Creates `<dir>/strata-compat-0/`: 300 batches of 1 to 12 records, the
//! five codecs in turn, keys (some null), values (some null), headers (some
//! with null values), timestamps slightly out of order within and across
//! batches, two leader epochs, 64 KiB segments with an index entry per KiB.
//! The log is closed cleanly. Prints a summary, one `name: value` a line:
//!
//! ```text
//! dir: <dir>/strata-compat-0
//! segments: 6
//! batches: 300
//! records: 2020
//! last_offset: 2019
//! bytes: 356384
//! batches_none: 60
//! ...
//! offset_for_timestamp_1700000001000: 680
//! ```
//!
//! The `offset_for_timestamp_<ts>` lines come from the reopened log. Kafka
//! 4.4.0 answered ListOffsets the same on these files (checked by hand:
//! segments copied into a stopped broker's empty partition of a topic created
//! with `internal.segment.bytes=65536`, broker restarted, then
//! `GetOffsetShell --time <ts>`; its consumer read all 2020 records).
//!
//! The content is a function of the batch number alone, so every run writes
//! the same bytes.

use bytes::Bytes;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use strata_protocol::records::{Compression, Header, RecordBatchBuilder};
use strata_storage::fs::OsFs;
use strata_storage::log::{Checkpoints, LogConfig, PartitionLog};
use strata_storage::segment::SegmentConfig;

const BATCHES: u64 = 300;
const NOW: i64 = 1_700_000_000_000;
const TOPIC_PARTITION: &str = "strata-compat-0";

/// A small deterministic generator (SplitMix64), so runs are repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Batch `n`: its codec, and the bytes a producer would send.
fn batch(n: u64) -> (Compression, usize, Bytes) {
    let mut rng = Rng(n);
    let codec = Compression::ALL[(n % 5) as usize];
    let records = 1 + rng.below(12) as usize;
    let mut builder = RecordBatchBuilder::new(codec);
    for i in 0..records {
        // Within a batch timestamps wander a little; the first record is
        // not always the oldest, nor the last the newest.
        let timestamp = NOW + (n as i64) * 10 + rng.below(15) as i64;
        let key = (rng.below(8) != 0).then(|| Bytes::from(format!("key-{n}-{i}")));
        let value = (rng.below(20) != 0).then(|| {
            // Half text, half noise, so that codecs shrink it but not to nothing.
            let len = 40 + rng.below(300) as usize;
            let mut v = format!("batch {n} record {i} codec {codec} ").into_bytes();
            while v.len() < len {
                v.push(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.below(36) as usize]);
            }
            Bytes::from(v)
        });
        let headers = (0..rng.below(3))
            .map(|h| {
                let value = (rng.below(4) != 0).then(|| Bytes::from(format!("h{h}-of-{n}-{i}")));
                Header::new(Bytes::from(format!("hdr-{h}")), value)
            })
            .collect();
        builder
            .append(timestamp, key, value, headers)
            .expect("timestamps fit");
    }
    let built = builder.build().expect("a valid batch");
    (codec, records, built.into_bytes())
}

fn run(dir: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let dir = dir.join(TOPIC_PARTITION);
    if dir.exists() {
        return Err(format!("{} exists already", dir.display()).into());
    }
    let config = LogConfig {
        segment_bytes: 64 * 1024,
        segment: SegmentConfig {
            index_interval_bytes: 1024,
            max_index_bytes: 1 << 20,
        },
        retention_ms: -1,
        ..LogConfig::default()
    };
    let (mut log, _) = PartitionLog::open(
        Arc::new(OsFs),
        &dir,
        config.clone(),
        Checkpoints::default(),
        true,
    )?;
    let mut records_total = 0usize;
    let mut per_codec = [0usize; 5];
    let mut last_offset = -1;
    for n in 0..BATCHES {
        let (codec, records, bytes) = batch(n);
        let leader_epoch = if n < BATCHES / 2 { 0 } else { 1 };
        // The broker's clock runs a little ahead of the producers'.
        let info = log.append(&bytes, leader_epoch, NOW + (n as i64) * 10 + 50)?;
        assert_eq!(info.last_offset - info.first_offset + 1, records as i64);
        records_total += records;
        per_codec[codec.id() as usize] += 1;
        last_offset = info.last_offset;
    }
    let segments = log.segments().count();
    let size = log.size();
    log.close()?;

    println!("dir: {}", dir.display());
    println!("segments: {segments}");
    println!("batches: {BATCHES}");
    println!("records: {records_total}");
    println!("last_offset: {last_offset}");
    println!("bytes: {size}");
    for codec in Compression::ALL {
        println!(
            "batches_{}: {}",
            codec.name(),
            per_codec[codec.id() as usize]
        );
    }

    // Time lookups, from the files as reopened.
    let (log, _) = PartitionLog::open(Arc::new(OsFs), &dir, config, Checkpoints::default(), true)?;
    for timestamp in [NOW, NOW + 1_000, NOW + 2_000, NOW + 2_990] {
        let offset = log
            .offset_for_timestamp(timestamp)?
            .map_or(-1, |(offset, _)| offset);
        println!("offset_for_timestamp_{timestamp}: {offset}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: write_partition <dir>");
        return ExitCode::from(2);
    };
    match run(PathBuf::from(dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("write_partition: {e}");
            ExitCode::FAILURE
        }
    }
}
