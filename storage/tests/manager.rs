//! The log directory as the broker uses it: appends acknowledged through the
//! syncer, group commit, restarts, and a disk that fails or fills.

mod common;

use common::*;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use strata_storage::Error;
use strata_storage::checkpoint::TopicPartition;
use strata_storage::fs::{FaultyFs, Fs, OsFs};
use strata_storage::log::LogConfig;
use strata_storage::manager::{Durability, LogManager, StartupReport};

fn open_with(
    fs: Arc<dyn Fs>,
    dir: &std::path::Path,
    durability: Durability,
) -> (LogManager, StartupReport) {
    LogManager::open(fs, dir, 2, &move |_| (small_config(), durability)).expect("log dir opens")
}

fn tp(i: i32) -> TopicPartition {
    TopicPartition::new("t", i)
}

fn append(m: &LogManager, p: i32, seed: i64) -> Result<strata_storage::log::AppendInfo, Error> {
    m.append(&tp(p), batch_for(seed, 2, 50), 0, NOW)
        .blocking_recv()
        .expect("the storage thread answers")
}

#[test]
fn durable_append_is_acknowledged_once_synced_and_moves_the_high_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _) = open_with(Arc::new(OsFs), dir.path(), Durability::Sync);
    let p = m
        .create_partition(&tp(0), small_config(), Durability::Sync)
        .unwrap();
    let mut hw = p.subscribe_high_watermark();
    let info = append(&m, 0, 1).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (0, 1));
    assert_eq!(
        p.with_log(|l| l.recovery_point()),
        2,
        "on disk before the ack"
    );
    assert_eq!(p.high_watermark(), 2);
    assert!(hw.has_changed().unwrap());
    assert_eq!(*hw.borrow_and_update(), 2);
}

/// Appends into the zeros written ahead of a segment's end are made durable
/// by writing the pages back and one fdatasync (the device flush) per round,
/// not an fdatasync per partition; a segment that grows is fdatasynced.
#[test]
fn rounds_over_written_ahead_blocks_write_back_and_flush_once() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::new();
    let faults = fs.faults.clone();
    if !fs.overwrites_in_place(dir.path()) {
        println!("skipped: {} is not on ext4 or XFS", dir.path().display());
        return;
    }
    let config = LogConfig {
        segment_bytes: 1 << 20,
        ..small_config()
    };
    let (m, _) = open_with(Arc::new(fs), dir.path(), Durability::Sync);
    for i in 0..4 {
        m.create_partition(&tp(i), config.clone(), Durability::Sync)
            .unwrap();
        // The first append grows the new segment (and writes zeros ahead).
        append(&m, i, i64::from(i)).unwrap();
    }
    let write_backs = faults.write_backs.load(Ordering::SeqCst);
    let rounds = m.sync_rounds();
    faults.synced_files.lock().unwrap().clear();
    for r in 0..10 {
        let pending: Vec<_> = (0..4)
            .map(|i| m.append(&tp(i), batch_for(100 + r * 4 + i64::from(i), 2, 50), 0, NOW))
            .collect();
        for rx in pending {
            rx.blocking_recv().unwrap().unwrap();
        }
    }
    let synced = faults.synced_files.lock().unwrap().clone();
    let syncs = synced.len() as u64;
    let write_backs = faults.write_backs.load(Ordering::SeqCst) - write_backs;
    let rounds = m.sync_rounds() - rounds;
    println!("40 appends: {rounds} rounds, {syncs} fdatasyncs, {write_backs} write-backs");
    assert!(
        write_backs >= 40,
        "every append written back: {write_backs}"
    );
    assert!(syncs <= rounds, "{syncs} fdatasyncs in {rounds} rounds");
    // The flush is the fdatasync of a file that never changes, not of a
    // segment, whose zeros may have grown since its last one: that
    // fdatasync would also write its new size and block map.
    let flush_file = dir.path().join(strata_storage::manager::FLUSH_FILE);
    assert!(synced.iter().all(|f| *f == flush_file), "{synced:?}");
    assert_eq!(std::fs::metadata(&flush_file).unwrap().len(), 0);
    for i in 0..4 {
        assert_eq!(m.partition(&tp(i)).unwrap().high_watermark(), 22);
    }
}

#[test]
fn concurrent_appends_across_partitions_share_fsync_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _) = open_with(Arc::new(OsFs), dir.path(), Durability::Sync);
    for i in 0..16 {
        m.create_partition(&tp(i), small_config(), Durability::Sync)
            .unwrap();
    }
    let before = m.sync_rounds();
    let pending: Vec<_> = (0..800)
        .map(|i| m.append(&tp(i % 16), batch_for(i as i64, 1, 20), 0, NOW))
        .collect();
    for rx in pending {
        rx.blocking_recv().unwrap().unwrap();
    }
    let rounds = m.sync_rounds() - before;
    println!("800 durable appends over 16 partitions took {rounds} fsync rounds");
    assert!(
        rounds < 400,
        "{rounds} rounds: appends are not sharing fsyncs"
    );
    for i in 0..16 {
        let p = m.partition(&tp(i)).unwrap();
        assert_eq!(p.high_watermark(), 50, "partition {i}");
    }
}

/// A request's appends handed over together share one round per storage
/// thread, however the threads are scheduled, and each answer comes back
/// in the place of its append, an unknown partition's as an error.
#[test]
fn appends_handed_over_together_share_a_round_per_thread() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _) = open_with(Arc::new(OsFs), dir.path(), Durability::Sync);
    for i in 0..6 {
        m.create_partition(&tp(i), small_config(), Durability::Sync)
            .unwrap();
    }
    for r in 0..20 {
        let before = m.sync_rounds();
        let partitions: Vec<_> = (0..6).map(tp).chain([tp(99)]).collect();
        let appends = partitions
            .iter()
            .map(|p| (p, batch_for(r, 2, 50)))
            .collect();
        let replies: Vec<_> = m
            .append_all(appends, 0, NOW)
            .into_iter()
            .map(|rx| rx.blocking_recv().expect("the storage thread answers"))
            .collect();
        assert_eq!(replies.len(), 7);
        for (i, reply) in replies[..6].iter().enumerate() {
            let info = reply
                .as_ref()
                .unwrap_or_else(|e| panic!("partition {i}: {e}"));
            assert_eq!(info.first_offset, 2 * r, "partition {i}, request {r}");
        }
        assert!(replies[6].is_err(), "partition 99 does not exist");
        // Two storage threads, three of the six partitions each.
        assert_eq!(m.sync_rounds() - before, 2, "request {r}");
    }
    for i in 0..6 {
        assert_eq!(m.partition(&tp(i)).unwrap().high_watermark(), 40);
    }
}

#[test]
fn appends_to_one_partition_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _) = open_with(Arc::new(OsFs), dir.path(), Durability::Sync);
    m.create_partition(&tp(0), small_config(), Durability::Sync)
        .unwrap();
    let pending: Vec<_> = (0..100)
        .map(|i| m.append(&tp(0), batch_for(i, 1, 20), 0, NOW))
        .collect();
    for (i, rx) in pending.into_iter().enumerate() {
        assert_eq!(rx.blocking_recv().unwrap().unwrap().first_offset, i as i64);
    }
}

#[test]
fn clean_shutdown_is_seen_at_the_next_start_and_a_crash_is_too() {
    let dir = tempfile::tempdir().unwrap();
    let (m, report) = open_with(Arc::new(OsFs), dir.path(), Durability::Sync);
    assert!(!report.clean_shutdown);
    m.create_partition(&tp(0), small_config(), Durability::Sync)
        .unwrap();
    for seed in 0..20 {
        append(&m, 0, seed).unwrap();
    }
    m.shutdown().unwrap();
    assert!(dir.path().join(".kafka_cleanshutdown").exists());
    assert!(dir.path().join("recovery-point-offset-checkpoint").exists());

    let (m, report) = open_with(Arc::new(OsFs), dir.path(), Durability::Sync);
    assert!(report.clean_shutdown);
    assert_eq!(report.partitions, 1);
    assert!(
        !dir.path().join(".kafka_cleanshutdown").exists(),
        "removed while running"
    );
    let p = m.partition(&tp(0)).unwrap();
    assert_eq!(p.with_log(|l| l.log_end_offset()), 40);
    append(&m, 0, 99).unwrap();
    drop(m); // a crash: no marker

    let (m, report) = open_with(Arc::new(OsFs), dir.path(), Durability::Sync);
    assert!(!report.clean_shutdown);
    assert_eq!(
        m.partition(&tp(0))
            .unwrap()
            .with_log(|l| l.log_end_offset()),
        42
    );
}

#[test]
fn failed_fsync_takes_the_dir_offline_and_keeps_what_was_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::new();
    let (m, _) = open_with(Arc::new(fs.clone()), dir.path(), Durability::Sync);
    m.create_partition(&tp(0), small_config(), Durability::Sync)
        .unwrap();
    for seed in 0..5 {
        append(&m, 0, seed).unwrap();
    }
    fs.faults.fail_sync.store(true, Ordering::SeqCst);
    assert!(matches!(append(&m, 0, 5), Err(Error::LogDirOffline { .. })));
    assert!(m.is_offline());
    fs.faults.fail_sync.store(false, Ordering::SeqCst);
    // Offline stays offline: no retry after a failed fsync.
    assert!(matches!(append(&m, 0, 6), Err(Error::LogDirOffline { .. })));
    assert!(matches!(
        m.read(&tp(0), 0, 100, 10),
        Err(Error::LogDirOffline { .. })
    ));
    drop(m);
    let (m, _) = open_with(Arc::new(OsFs), dir.path(), Durability::Sync);
    let p = m.partition(&tp(0)).unwrap();
    let stored = p.with_log(all_batches);
    assert!(stored.len() >= 5);
    for (seed, b) in stored.iter().take(5).enumerate() {
        assert!(same_batch(
            b,
            &batch_for(seed as i64, 2, 50),
            2 * seed as i64
        ));
    }
}

#[test]
fn full_disk_refuses_appends_and_recovers_once_space_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultyFs::new();
    let (m, _) = open_with(Arc::new(fs.clone()), dir.path(), Durability::Sync);
    m.create_partition(&tp(0), small_config(), Durability::Sync)
        .unwrap();
    append(&m, 0, 0).unwrap();
    fs.faults.space_left.store(30, Ordering::SeqCst);
    assert!(matches!(append(&m, 0, 1), Err(Error::DiskFull { .. })));
    assert!(!m.is_offline(), "a full disk is not a broken one");
    fs.faults.space_left.store(u64::MAX, Ordering::SeqCst);
    assert_eq!(append(&m, 0, 2).unwrap().first_offset, 2);
    let stored = m.partition(&tp(0)).unwrap().with_log(all_batches);
    assert_eq!(
        stored.iter().map(|b| b.base_offset()).collect::<Vec<_>>(),
        vec![0, 2]
    );
    assert!(same_batch(&stored[1], &batch_for(2, 2, 50), 2));
}

#[test]
fn topics_that_opt_out_of_syncing_are_acknowledged_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let durability = Durability::from_flush_config(Some(10_000), Some(60_000));
    assert!(matches!(
        durability,
        Durability::Async {
            messages: 10_000,
            ..
        }
    ));
    assert_eq!(Durability::from_flush_config(None, None), Durability::Sync);
    assert_eq!(
        Durability::from_flush_config(Some(1), None),
        Durability::Sync
    );
    let (m, _) = open_with(Arc::new(OsFs), dir.path(), durability);
    let p = m
        .create_partition(&tp(0), LogConfig::default(), durability)
        .unwrap();
    append(&m, 0, 0).unwrap();
    assert_eq!(p.high_watermark(), 2, "the log end, as Kafka does");
    // Nothing forced a sync yet (10,000 messages or a minute).
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(p.with_log(|l| l.recovery_point()), 0);
}

#[test]
fn many_partitions_are_appended_and_read_at_once_from_many_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _) = open_with(Arc::new(OsFs), dir.path(), Durability::Sync);
    let m = Arc::new(m);
    for i in 0..8 {
        m.create_partition(&tp(i), small_config(), Durability::Sync)
            .unwrap();
    }
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let m = m.clone();
            std::thread::spawn(move || {
                for i in 0..150 {
                    let p = w * 2 + i % 2;
                    m.append(&tp(p), batch_for(i64::from(w * 1000 + i), 2, 80), 0, NOW)
                        .blocking_recv()
                        .unwrap()
                        .unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..4)
        .map(|r| {
            let m = m.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut reads = 0u64;
                let mut last_hw = [0i64; 8];
                while !done.load(Ordering::SeqCst) || reads < 50 {
                    let p = ((reads as usize + r) % 8) as i32;
                    let hw = m.partition(&tp(p)).unwrap().high_watermark();
                    assert!(hw >= last_hw[p as usize], "high watermark went back");
                    last_hw[p as usize] = hw;
                    let mut offset = 0;
                    while offset < hw {
                        let read = m.read(&tp(p), offset, 4096, hw).unwrap();
                        let Some(region) = read.region else { break };
                        for b in strata_protocol::records::batches(region.read_to_bytes().unwrap())
                        {
                            let b = b.expect("only whole batches are visible");
                            b.verify_crc().unwrap();
                            assert_eq!(b.base_offset(), offset, "contiguous");
                            assert!(b.next_offset() <= hw, "nothing past the high watermark");
                            offset = b.next_offset();
                        }
                    }
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads >= 200);
    for i in 0..8 {
        assert_eq!(
            m.partition(&tp(i)).unwrap().high_watermark(),
            150,
            "partition {i}"
        );
    }
}

#[test]
fn delete_records_moves_the_log_start_and_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _) = open_with(Arc::new(OsFs), dir.path(), Durability::Sync);
    m.create_partition(&tp(0), small_config(), Durability::Sync)
        .unwrap();
    for seed in 0..50 {
        append(&m, 0, seed).unwrap();
    }
    assert!(matches!(
        m.delete_records(&tp(0), 101),
        Err(Error::OffsetOutOfRange { .. })
    ));
    assert_eq!(m.delete_records(&tp(0), 37).unwrap(), 37);
    assert!(matches!(
        m.read(&tp(0), 36, 100, 100),
        Err(Error::OffsetOutOfRange { .. })
    ));
    drop(m); // a crash right after the answer
    let (m, _) = open_with(Arc::new(OsFs), dir.path(), Durability::Sync);
    let p = m.partition(&tp(0)).unwrap();
    assert_eq!(p.with_log(|l| l.log_start_offset()), 37);
}
