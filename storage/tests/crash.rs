//! Kill -9 a real process while it appends with durable acks, again and
//! again; every acknowledged batch must be there afterwards, byte for byte,
//! and no partial batch may be visible.
//!
//! The appending process is this same test binary, run with `--ignored
//! --exact crash_child` and the data dir in `STRATA_CRASH_DIR`.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_storage::fs::OsFs;
use strata_storage::log::{Checkpoints, LogConfig, PartitionLog};
use strata_storage::segment::SegmentConfig;

fn config() -> LogConfig {
    LogConfig {
        // Small segments, so kills also land in the middle of rolls.
        segment_bytes: 64 * 1024,
        segment: SegmentConfig {
            index_interval_bytes: 1024,
            max_index_bytes: 1 << 20,
        },
        ..LogConfig::default()
    }
}

/// What the child appends at `base`: a function of the offset alone.
fn expected(base: i64) -> bytes::Bytes {
    batch_for(
        base,
        1 + (base % 4) as usize,
        100 + ((base * 37) % 2000) as usize,
    )
}

fn open_after_crash(dir: &Path) -> PartitionLog {
    PartitionLog::open(Arc::new(OsFs), dir, config(), Checkpoints::default(), false)
        .expect("the log opens after a crash")
        .0
}

#[test]
#[ignore = "run by kill_9_during_durable_appends_loses_no_acknowledged_batch as its child"]
fn crash_child() {
    let Some(dir) = std::env::var_os("STRATA_CRASH_DIR") else {
        panic!("STRATA_CRASH_DIR names the data dir");
    };
    let mut log = open_after_crash(Path::new(&dir));
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let base = log.log_end_offset();
        let info = log.append(&expected(base), 0, NOW).expect("append");
        assert_eq!(info.first_offset, base);
        log.flush().expect("fdatasync");
        // Acknowledged only now that it is on disk.
        println!("acked {} {}", info.first_offset, info.last_offset);
    }
}

#[test]
fn kill_9_during_durable_appends_loses_no_acknowledged_batch() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked: Vec<(i64, i64)> = Vec::new();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let cycles = 50;
    for cycle in 0..cycles {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("STRATA_CRASH_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("acked ") {
                    let mut parts = rest.split(' ').map(|p| p.parse::<i64>().unwrap());
                    lines.push((parts.next().unwrap(), parts.next().unwrap()));
                }
            }
            lines
        });
        // Let it start up, recover and append for a random while.
        std::thread::sleep(Duration::from_millis(30 + rng % 150));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let got = reader.join().unwrap();
        if let (Some(last), Some(first)) = (acked.last(), got.first()) {
            assert!(
                first.0 > last.1,
                "cycle {cycle}: offsets went back after a restart"
            );
        }
        acked.extend(got);
    }
    let log = open_after_crash(dir.path());
    let stored = all_batches(&log);
    let mut lost = 0;
    let by_base: std::collections::HashMap<i64, &strata_protocol::records::RecordBatch> =
        stored.iter().map(|b| (b.base_offset(), b)).collect();
    for &(base, last) in &acked {
        match by_base.get(&base) {
            Some(b) if b.last_offset() == last && same_batch(b, &expected(base), base) => {}
            _ => lost += 1,
        }
    }
    for b in &stored {
        b.verify_crc().expect("every visible batch is whole");
    }
    let mut next = 0;
    for b in &stored {
        assert_eq!(b.base_offset(), next, "offsets are contiguous");
        next = b.next_offset();
    }
    println!(
        "crash test: {cycles} kill -9 cycles, {} batches acknowledged, {} stored, {lost} lost",
        acked.len(),
        stored.len()
    );
    assert!(
        acked.len() > cycles,
        "the child acknowledged too little to mean anything"
    );
    assert_eq!(lost, 0, "acknowledged batches lost");
}
