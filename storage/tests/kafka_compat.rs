//! We read Kafka's segments: a partition Apache Kafka 4.4.0 wrote and shut
//! down cleanly (`tests/data/kafka-4.4.0/kafka-written-0/`, whose README says
//! how it was made and what it holds) opens, reads, recovers, answers time
//! lookups and takes appends.
//!
//! The other direction (Kafka reads ours) is `tests/kafka-compat.sh`.

mod common;

use bytes::Bytes;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_protocol::records::{Compression, Header, RecordBatch, RecordBatchBuilder};
use strata_storage::checkpoint::LeaderEpochCheckpoint;
use strata_storage::fs::OsFs;
use strata_storage::log::{Checkpoints, LogConfig, OpenReport, PartitionLog};
use strata_storage::meta::{PARTITION_METADATA_FILE, PartitionMetadata, parse_uuid};
use strata_storage::producer_snapshot::read_snapshot;
use strata_storage::segment::SegmentConfig;
use strata_storage::{MAX_DECOMPRESSED_BATCH, names};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/kafka-4.4.0/kafka-written-0"
);

// The README's figures.
const SEGMENT_BASES: [i64; 3] = [0, 200, 354];
const BATCHES: usize = 29;
const RECORDS: usize = 500;
const LAST_OFFSET: i64 = 499;
const NULL_KEYS: usize = 59;
const NULL_VALUES: usize = 25;
const FIRST_TIMESTAMP: i64 = 1_796_019_207_388;
const LAST_TIMESTAMP: i64 = 1_796_019_218_432;
const FIRST_GZIP_TIMESTAMP: i64 = 1_796_019_210_020;
const TOPIC_ID: &str = "10HA5qQyRkSQAy5xz5CWKw";
/// Batches per codec, and the offsets each codec's producer wrote.
const CODECS: [(Compression, usize, i64); 5] = [
    (Compression::None, 5, 0),
    (Compression::Gzip, 6, 100),
    (Compression::Snappy, 6, 200),
    (Compression::Lz4, 6, 300),
    (Compression::Zstd, 6, 400),
];

/// The topic's settings when Kafka wrote it.
fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 65_536,
        segment: SegmentConfig {
            index_interval_bytes: 1024,
            max_index_bytes: 10 * 1024 * 1024,
        },
        retention_ms: -1,
        ..LogConfig::default()
    }
}

/// A private copy of the fixture: opening may rewrite files.
fn fixture() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let dir = tmp.path().join("kafka-written-0");
    std::fs::create_dir(&dir).expect("create the partition dir");
    for entry in std::fs::read_dir(FIXTURE).expect("the fixture is there") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let to = dir.join(path.file_name().expect("a file name"));
        std::fs::copy(&path, &to).expect("copy a fixture file");
    }
    (tmp, dir)
}

fn open(dir: &Path, clean: bool) -> (PartitionLog, OpenReport) {
    PartitionLog::open(Arc::new(OsFs), dir, config(), Checkpoints::default(), clean)
        .expect("Kafka's partition opens")
}

/// One record as a consumer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    offset: i64,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
    headers: Vec<Header>,
}

/// Every batch from the log start, read the way a fetch reads: by offset,
/// through `read`, a region at a time.
fn read_batches(log: &PartitionLog) -> Vec<RecordBatch> {
    let end = log.log_end_offset();
    let mut offset = log.log_start_offset();
    let mut out = Vec::new();
    while offset < end {
        // Small reads, so that reads start at many batches and in every segment.
        let read = log.read(offset, 4096, end).expect("a readable offset");
        let region = read.region.expect("data below the log end");
        let bytes = region.read_to_bytes().expect("the region reads");
        let asked = offset;
        for (i, batch) in strata_protocol::records::batches(bytes).enumerate() {
            let batch = batch.expect("whole batches");
            if i == 0 {
                assert!(
                    batch.base_offset() <= asked && asked <= batch.last_offset(),
                    "read({asked}) starts with batch {}..={}",
                    batch.base_offset(),
                    batch.last_offset()
                );
            } else {
                assert_eq!(batch.base_offset(), offset, "batches follow on");
            }
            offset = batch.next_offset();
            out.push(batch);
        }
    }
    out
}

/// Every record of `batches`, decompressed, after checking each batch's CRC.
fn records(batches: &[RecordBatch]) -> Vec<Seen> {
    let mut out = Vec::new();
    for batch in batches {
        batch
            .verify_crc()
            .unwrap_or_else(|e| panic!("batch at {}: {e}", batch.base_offset()));
        for record in batch
            .records(MAX_DECOMPRESSED_BATCH)
            .expect("the batch decompresses")
        {
            let record = record.expect("a well-formed record");
            out.push(Seen {
                offset: batch.offset_of(&record),
                timestamp: batch.timestamp_of(&record),
                key: record.key,
                value: record.value,
                headers: record.headers,
            });
        }
    }
    out
}

/// What the README says the partition holds.
fn assert_kafkas_content(log: &PartitionLog) {
    assert_eq!(log.log_start_offset(), 0);
    assert_eq!(log.log_end_offset(), LAST_OFFSET + 1);
    let bases: Vec<i64> = log.segments().map(|s| s.base_offset()).collect();
    assert_eq!(bases, SEGMENT_BASES);

    let batches = read_batches(log);
    assert_eq!(batches.len(), BATCHES);
    for (codec, count, first_offset) in CODECS {
        let of_codec: Vec<&RecordBatch> = batches
            .iter()
            .filter(|b| b.compression() == codec)
            .collect();
        assert_eq!(of_codec.len(), count, "{codec} batches");
        assert_eq!(
            of_codec[0].base_offset(),
            first_offset,
            "first {codec} batch"
        );
        assert_eq!(
            of_codec.last().expect("some").last_offset(),
            first_offset + 99,
            "last {codec} batch"
        );
    }
    for batch in &batches {
        let h = batch.header();
        assert!(!h.is_transactional() && !h.is_control());
        assert_eq!(h.partition_leader_epoch(), 0);
        assert!((2001..=2005).contains(&h.producer_id()), "{h:?}");
        assert_eq!(h.producer_epoch(), 0);
        // One producer per 100 offsets, sequences from 0.
        assert_eq!(h.producer_id(), 2001 + h.base_offset() / 100);
        assert_eq!(i64::from(h.base_sequence()), h.base_offset() % 100);
    }

    let records = records(&batches);
    assert_eq!(records.len(), RECORDS);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.offset, i as i64, "offsets follow on");
    }
    assert_eq!(records.last().map(|r| r.offset), Some(LAST_OFFSET));
    assert_eq!(records[0].timestamp, FIRST_TIMESTAMP);
    assert_eq!(records[RECORDS - 1].timestamp, LAST_TIMESTAMP);
    assert!(records.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    assert_eq!(
        records.iter().filter(|r| r.key.is_none()).count(),
        NULL_KEYS
    );
    assert_eq!(
        records.iter().filter(|r| r.value.is_none()).count(),
        NULL_VALUES
    );

    // Content, as gen.py in the README wrote it.
    let codec_names = ["none", "gzip", "snappy", "lz4", "zstd"];
    for r in &records {
        let (codec, i) = (codec_names[(r.offset / 100) as usize], r.offset % 100);
        if let Some(key) = &r.key {
            assert_eq!(key, format!("key-{codec}-{i}").as_bytes());
        }
        if let Some(value) = &r.value {
            assert!(
                value.starts_with(format!("{codec} record {i} ").as_bytes()),
                "offset {}: {value:?}",
                r.offset
            );
        }
        assert!((1..=3).contains(&r.headers.len()), "offset {}", r.offset);
        for (h, header) in r.headers.iter().enumerate() {
            assert_eq!(header.key_str(), Some(format!("hdr-{h}").as_str()));
            if let Some(v) = &header.value {
                assert_eq!(v, format!("h{h}-{codec}-{i}").as_bytes());
            }
        }
    }
}

#[test]
fn kafka_partition_opens_cleanly_and_reads_whole() {
    let (_tmp, dir) = fixture();
    let (log, report) = open(&dir, true);
    assert_eq!(report.segments, SEGMENT_BASES.len());
    assert_eq!(report.segments_recovered, 0, "{report:?}");
    assert_eq!(report.bytes_truncated, 0);
    assert_eq!(report.segments_removed, 0);
    // Kafka's trimmed indexes are taken as they are.
    for segment in log.segments() {
        assert!(!segment.offset_index().is_empty(), "{segment:?}");
    }
    assert_kafkas_content(&log);
}

#[test]
fn kafka_partition_survives_recovery_whole() {
    let (_tmp, dir) = fixture();
    let (log, report) = open(&dir, false);
    assert_eq!(report.bytes_truncated, 0, "{report:?}");
    assert!(report.truncation_reasons.is_empty(), "{report:?}");
    assert_eq!(report.segments_removed, 0);
    assert_eq!(report.segments_recovered, SEGMENT_BASES.len());
    assert_eq!(report.batches_recovered, BATCHES as u64);
    assert_kafkas_content(&log);

    // Rebuilt with the topic's index.interval.bytes, the offset indexes are
    // Kafka's, byte for byte.
    for base in SEGMENT_BASES {
        let ours = std::fs::read(names::offset_file(&dir, base, names::INDEX)).expect("ours");
        let kafkas = std::fs::read(names::offset_file(Path::new(FIXTURE), base, names::INDEX))
            .expect("Kafka's");
        assert_eq!(ours, kafkas, "offset index of segment {base}");
        let ours = std::fs::read(names::offset_file(&dir, base, names::TIME_INDEX)).expect("ours");
        let kafkas = std::fs::read(names::offset_file(
            Path::new(FIXTURE),
            base,
            names::TIME_INDEX,
        ))
        .expect("Kafka's");
        assert_eq!(ours, kafkas, "time index of segment {base}");
    }
    log.close().expect("closes");

    // And what recovery wrote opens cleanly.
    let (log, report) = open(&dir, true);
    assert_eq!(report.segments_recovered, 0, "{report:?}");
    assert_kafkas_content(&log);
}

#[test]
fn kafka_partition_answers_time_lookups() {
    let (_tmp, dir) = fixture();
    let (log, _) = open(&dir, true);
    let records = records(&read_batches(&log));
    // The first record at or after each target, found the slow way.
    let expected = |target: i64| {
        records
            .iter()
            .find(|r| r.timestamp >= target)
            .map(|r| (r.offset, r.timestamp))
    };
    let mut targets = vec![
        i64::MIN,
        -1,
        0,
        FIRST_TIMESTAMP - 1,
        FIRST_TIMESTAMP,
        FIRST_GZIP_TIMESTAMP - 1,
        FIRST_GZIP_TIMESTAMP,
        LAST_TIMESTAMP,
        LAST_TIMESTAMP + 1,
    ];
    for r in records.iter().step_by(7) {
        targets.extend([r.timestamp - 1, r.timestamp, r.timestamp + 1]);
    }
    for target in targets {
        assert_eq!(
            log.offset_for_timestamp(target).expect("a lookup"),
            expected(target),
            "offset for timestamp {target}"
        );
    }
    // The producers ran one after another: the first gzip record is the
    // first at its time.
    assert_eq!(
        log.offset_for_timestamp(FIRST_GZIP_TIMESTAMP)
            .expect("a lookup"),
        Some((100, FIRST_GZIP_TIMESTAMP))
    );
    assert_eq!(
        log.offset_for_timestamp(LAST_TIMESTAMP + 1)
            .expect("a lookup"),
        None
    );
    assert_eq!(
        log.max_timestamp_offset().expect("a lookup"),
        Some((LAST_OFFSET, LAST_TIMESTAMP))
    );
}

#[test]
fn kafka_partition_takes_appends_after_its_last_offset() {
    let (_tmp, dir) = fixture();
    let (mut log, _) = open(&dir, true);
    let now = LAST_TIMESTAMP + 1_000;
    let mut builder = RecordBatchBuilder::new(Compression::Zstd);
    for i in 0..3 {
        builder
            .append(
                now + i,
                Some(Bytes::from(format!("strata-{i}"))),
                Some(Bytes::from(format!("appended by strata {i}"))),
                vec![Header::new("origin", Some(Bytes::from("strata")))],
            )
            .expect("timestamps fit");
    }
    let sent = builder.build().expect("a valid batch").into_bytes();
    let info = log.append(&sent, 1, now).expect("the append");
    assert_eq!((info.first_offset, info.last_offset), (500, 502));
    assert_eq!(log.log_end_offset(), 503);
    assert_eq!(
        log.offset_for_timestamp(LAST_TIMESTAMP + 1)
            .expect("a lookup"),
        Some((500, now))
    );

    let check = |log: &PartitionLog| {
        let read = log
            .read(500, 1 << 20, log.log_end_offset())
            .expect("a read");
        let bytes = read
            .region
            .expect("the new batch")
            .read_to_bytes()
            .expect("reads");
        let batch = RecordBatch::new(bytes).expect("one whole batch");
        assert!(common::same_batch(&batch, &sent, 500));
        assert_eq!(batch.header().partition_leader_epoch(), 1);
        let new: Vec<Seen> = records(std::slice::from_ref(&batch));
        assert_eq!(new.len(), 3);
        assert_eq!(new[2].offset, 502);
        assert_eq!(new[2].value.as_deref(), Some(&b"appended by strata 2"[..]));
        // Kafka's records are still there, in front.
        let all = records(&read_batches(log));
        assert_eq!(all.len(), RECORDS + 3);
        let by_offset: BTreeMap<i64, &Seen> = all.iter().map(|r| (r.offset, r)).collect();
        assert_eq!(by_offset.len(), RECORDS + 3);
        assert_eq!(by_offset.keys().next_back(), Some(&502));
    };
    check(&log);
    log.close().expect("closes");

    // The append is in the last of Kafka's segments, and survives both ways
    // of opening.
    let (log, report) = open(&dir, true);
    assert_eq!(report.segments, SEGMENT_BASES.len());
    check(&log);
    drop(log);
    let (log, report) = open(&dir, false);
    assert_eq!(report.bytes_truncated, 0, "{report:?}");
    check(&log);
}

#[test]
fn kafka_partition_side_files_read() {
    let dir = Path::new(FIXTURE);
    let fs = OsFs;
    let meta = PartitionMetadata::read(&fs, &dir.join(PARTITION_METADATA_FILE))
        .expect("partition.metadata reads")
        .expect("partition.metadata is there");
    assert_eq!(Some(meta.topic_id), parse_uuid(TOPIC_ID));

    let epochs = LeaderEpochCheckpoint::new(dir.join("leader-epoch-checkpoint"))
        .read(&fs)
        .expect("leader-epoch-checkpoint reads");
    assert_eq!(epochs, vec![(0, 0)]);

    // The snapshot Kafka took at shutdown, at the log end: every producer's
    // last batch.
    let snapshot = read_snapshot(&fs, &names::offset_file(dir, 500, names::SNAPSHOT))
        .expect("the snapshot reads");
    let mut last: Vec<(i64, i64, i32)> = snapshot
        .iter()
        .map(|e| (e.producer_id, e.last_offset, e.last_sequence))
        .collect();
    last.sort_unstable();
    assert_eq!(
        last,
        vec![
            (2001, 99, 99),
            (2002, 199, 99),
            (2003, 299, 99),
            (2004, 399, 99),
            (2005, 499, 99)
        ]
    );
    for (base, producers) in [(200, 2), (354, 4)] {
        let snapshot = read_snapshot(&fs, &names::offset_file(dir, base, names::SNAPSHOT))
            .expect("the snapshot reads");
        assert_eq!(snapshot.len(), producers, "snapshot {base}");
    }
}
