//! Storage throughput beside the raw speed of the same disk, measured in the
//! same run, printed as ratios.
//!
//! `cargo bench -p strata-benches --bench storage`
//!
//! Environment: `STRATA_BENCH_DIR` (default: under the target dir, on the
//! same disk as the build), `STRATA_BENCH_MB` (data per scenario, default
//! 128; durable single-writer scenarios use a quarter).
//!
//! Scenarios, all with 16 KiB batches of 1 KiB records:
//! - raw: positional writes of 16 KiB to one file, without and with an
//!   fdatasync after each write (the floor for a writer that waits for each
//!   acknowledgement).
//! - strata: `LogManager` appends, durable (acknowledged after fdatasync)
//!   and not, to 1 and 64 partitions, with 1 append in flight per writer or
//!   many (group commit shares fsync rounds between them).
//! - read: the 1-partition log read back from the start, beside a raw
//!   sequential read of a file of the same size.
//! - index: lookups in the offset index of a full 1 GiB segment.

use bytes::Bytes;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_protocol::records::{Compression, RecordBatchBuilder};
use strata_storage::checkpoint::TopicPartition;
use strata_storage::fs::OsFs;
use strata_storage::index::OffsetIndex;
use strata_storage::log::LogConfig;
use strata_storage::manager::{Durability, LogManager};

const RECORD: usize = 1024;
const RECORDS_PER_BATCH: usize = 16;

fn batch() -> Bytes {
    let mut builder = RecordBatchBuilder::new(Compression::None);
    for i in 0..RECORDS_PER_BATCH {
        let value = Bytes::from(vec![b'x'; RECORD]);
        builder
            .append(1_700_000_000_000 + i as i64, None, Some(value), vec![])
            .expect("timestamps fit");
    }
    builder.build().expect("a valid batch").into_bytes()
}

fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64()
}

fn fresh_dir(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

fn raw_write(dir: &Path, total: u64, chunk: usize, sync: bool) -> f64 {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(dir.join("raw"))
        .expect("raw file");
    let buf = vec![b'x'; chunk];
    let start = Instant::now();
    let mut position = 0u64;
    while position < total {
        file.write_all_at(&buf, position).expect("raw write");
        if sync {
            file.sync_data().expect("raw fdatasync");
        }
        position += chunk as u64;
    }
    mb_per_s(position, start.elapsed())
}

fn raw_read(dir: &Path, chunk: usize) -> f64 {
    let file = std::fs::File::open(dir.join("raw")).expect("raw file");
    let len = file.metadata().expect("metadata").len();
    let mut buf = vec![0u8; chunk];
    let start = Instant::now();
    let mut position = 0u64;
    while position < len {
        let n = file.read_at(&mut buf, position).expect("raw read");
        if n == 0 {
            break;
        }
        position += n as u64;
    }
    mb_per_s(position, start.elapsed())
}

/// Appends `total` bytes spread over `partitions`, keeping `in_flight`
/// appends outstanding per partition; returns MB/s and fsync rounds.
fn strata_append(
    dir: &Path,
    total: u64,
    partitions: i32,
    in_flight: usize,
    durability: Durability,
) -> (f64, u64) {
    let config = LogConfig {
        timestamp_after_max_ms: i64::MAX,
        timestamp_before_max_ms: i64::MAX,
        ..LogConfig::default()
    };
    let (manager, _) = LogManager::open(Arc::new(OsFs), dir, 2, &|_| (config.clone(), durability))
        .expect("log dir");
    let tps: Vec<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new("bench", p))
        .collect();
    for tp in &tps {
        manager
            .create_partition(tp, config.clone(), durability)
            .expect("partition");
    }
    let batch = batch();
    let batches = total / batch.len() as u64;
    let rounds_before = manager.sync_rounds();
    let start = Instant::now();
    let mut outstanding = std::collections::VecDeque::new();
    for i in 0..batches {
        let tp = &tps[(i % partitions as u64) as usize];
        outstanding.push_back(manager.append(tp, batch.clone(), 0, 1_700_000_000_000));
        if outstanding.len() >= in_flight * partitions as usize {
            let rx = outstanding.pop_front().expect("not empty");
            rx.blocking_recv().expect("answer").expect("append");
        }
    }
    for rx in outstanding {
        rx.blocking_recv().expect("answer").expect("append");
    }
    let elapsed = start.elapsed();
    let rounds = manager.sync_rounds() - rounds_before;
    manager.shutdown().expect("shutdown");
    (mb_per_s(batches * batch.len() as u64, elapsed), rounds)
}

fn strata_read(dir: &Path) -> f64 {
    let (manager, _) = LogManager::open(Arc::new(OsFs), dir, 1, &|_| {
        (LogConfig::default(), Durability::Sync)
    })
    .expect("log dir");
    let tp = TopicPartition::new("bench", 0);
    let partition = manager
        .partition(&tp)
        .expect("the partition written before");
    let end = partition.with_log(|l| l.log_end_offset());
    let mut offset = 0;
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    let start = Instant::now();
    while offset < end {
        let read = manager.read(&tp, offset, 1 << 20, end).expect("read");
        let Some(region) = read.region else { break };
        // What a fetch does without sendfile: bring the region into memory.
        let len = region.length as usize;
        buf.resize(len, 0);
        region
            .file
            .read_exact_at(&mut buf[..len], region.position)
            .expect("pread");
        bytes += region.length;
        // The next offset follows the last batch; walk the headers to it.
        let mut position = 0;
        let mut next = offset;
        while position < len {
            let header =
                strata_protocol::records::BatchHeader::parse(&buf[position..]).expect("header");
            next = header.next_offset();
            position += header.size_in_bytes();
        }
        offset = next;
    }
    let elapsed = start.elapsed();
    manager.shutdown().expect("shutdown");
    mb_per_s(bytes, elapsed)
}

fn index_lookup(dir: &Path) -> f64 {
    // A full 1 GiB segment indexed every 4 KiB: 262,144 entries.
    let entries = (1u64 << 30) / 4096;
    let mut index = OffsetIndex::open(&OsFs, &dir.join("00000000000000000000.index"), 0, 10 << 20)
        .expect("index");
    for i in 0..entries {
        index
            .append((i * 4 + 3) as i64, (i * 4096) as u32)
            .expect("entry");
    }
    let lookups = 2_000_000u64;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut sink = 0u64;
    let start = Instant::now();
    for _ in 0..lookups {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let (_, position) = index.lookup((x % (entries * 4)) as i64);
        sink = sink.wrapping_add(u64::from(position));
    }
    let elapsed = start.elapsed();
    assert!(sink > 0);
    elapsed.as_nanos() as f64 / lookups as f64
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing to run.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let root = std::env::var_os("STRATA_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("storage-bench"));
    let mb: u64 = std::env::var("STRATA_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let total = mb << 20;
    let chunk = batch().len();
    println!(
        "storage bench: {mb} MiB per scenario, {chunk}-byte batches of {RECORDS_PER_BATCH} x {RECORD}-byte records, in {}",
        root.display()
    );

    let raw_dir = fresh_dir(&root, "raw");
    // The synced write first: each write truncates the file, and the read
    // needs the full-size one, as large as the log it is compared with.
    let raw_sync = raw_write(&raw_dir, total / 4, chunk, true);
    let raw_nosync = raw_write(&raw_dir, total, chunk, false);
    let raw_read_mb = raw_read(&raw_dir, 1 << 20);

    let mut rows: Vec<(String, f64, &str, f64)> = Vec::new();
    let async_d = Durability::Async {
        messages: u64::MAX,
        interval: Duration::from_secs(3600),
    };
    let (v, _) = strata_append(&fresh_dir(&root, "a1"), total, 1, 8, async_d);
    rows.push((
        "append, not durable, 1 partition".into(),
        v,
        "raw write",
        raw_nosync,
    ));
    let (v, _) = strata_append(&fresh_dir(&root, "a64"), total, 64, 8, async_d);
    rows.push((
        "append, not durable, 64 partitions".into(),
        v,
        "raw write",
        raw_nosync,
    ));
    let (v, r) = strata_append(&fresh_dir(&root, "d1s"), total / 4, 1, 1, Durability::Sync);
    rows.push((
        format!("append, durable, 1 partition, 1 in flight ({r} fsync rounds)"),
        v,
        "raw write+fdatasync each",
        raw_sync,
    ));
    let (v, r) = strata_append(&fresh_dir(&root, "d1"), total, 1, 64, Durability::Sync);
    rows.push((
        format!("append, durable, 1 partition, 64 in flight ({r} fsync rounds)"),
        v,
        "raw write+fdatasync each",
        raw_sync,
    ));
    let (v, r) = strata_append(&fresh_dir(&root, "d64"), total, 64, 4, Durability::Sync);
    rows.push((
        format!("append, durable, 64 partitions, 4 in flight each ({r} fsync rounds)"),
        v,
        "raw write+fdatasync each",
        raw_sync,
    ));
    let read_dir = fresh_dir(&root, "read");
    strata_append(&read_dir, total, 1, 8, async_d);
    let v = strata_read(&read_dir);
    rows.push((
        "sequential read, 1 partition".into(),
        v,
        "raw read",
        raw_read_mb,
    ));

    println!();
    println!(
        "{:<66} {:>10} {:>26} {:>10} {:>7}",
        "scenario", "MB/s", "baseline", "MB/s", "ratio"
    );
    println!(
        "{:<66} {:>10} {:>26} {:>10.1} {:>7}",
        "raw write, no sync", "", "", raw_nosync, ""
    );
    println!(
        "{:<66} {:>10} {:>26} {:>10.1} {:>7}",
        "raw write, fdatasync after each", "", "", raw_sync, ""
    );
    println!(
        "{:<66} {:>10} {:>26} {:>10.1} {:>7}",
        "raw sequential read", "", "", raw_read_mb, ""
    );
    for (name, v, base_name, base) in &rows {
        println!(
            "{name:<66} {v:>10.1} {base_name:>26} {base:>10.1} {:>7.2}",
            v / base
        );
    }
    let ns = index_lookup(&fresh_dir(&root, "index"));
    println!("offset index lookup, full 1 GiB segment (262,144 entries): {ns:.1} ns");
    for (name, v, base_name, base) in &rows {
        println!(
            "{{\"bench\":\"storage\",\"scenario\":{name:?},\"mb_per_s\":{v:.1},\"baseline\":{base_name:?},\"baseline_mb_per_s\":{base:.1},\"ratio\":{:.3}}}",
            v / base
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}
