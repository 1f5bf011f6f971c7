//! Producer-state snapshots: Kafka's `<offset, 20 digits>.snapshot` files in
//! each partition directory (named by [`crate::names`]), byte-compatible
//! with Kafka 4.x's `ProducerStateManager`.
//!
//! Owns: the file format, a list of entries, each one batch of a producer
//! id as it stood at the snapshot's offset (Kafka writes one per producer;
//! what the list means is [`crate::producer_state`]'s business). Not: when
//! to take or delete snapshots, or how the entries are rebuilt from the log
//! tail after one (recovery's business).
//!
//! Snapshot file, big-endian:
//!
//! ```text
//!   0..2    version, i16, always 1
//!   2..6    CRC-32C (Castagnoli) of bytes 6..end, u32
//!   6..10   N, i32, the number of entries
//!   10..    N entries of 46 bytes each:
//!     +0..8    producer_id               i64
//!     +8..10   producer_epoch            i16
//!     +10..14  last_sequence             i32  last sequence of the last batch
//!     +14..22  last_offset               i64  its last offset; -1: no data batch yet
//!     +22..26  offset_delta              i32  last minus first offset of that batch
//!     +26..34  timestamp                 i64  its max timestamp
//!     +34..38  coordinator_epoch         i32  of the last transaction marker; -1: none
//!     +38..46  current_txn_first_offset  i64  -1: no open transaction
//! ```
//!
//! An empty snapshot is the 10 bytes `00 01 48 67 4b c7 00 00 00 00`.
//!
//! Kafka writes the file in place; we replace it whole through
//! [`write_atomically`], which Kafka reads the same. A snapshot that is
//! short, of another version, fails its CRC or whose count does not match its
//! length is [`Error::Corrupt`]; recovery then drops it and rebuilds from an
//! older snapshot or the log, as Kafka does.

use std::path::Path;

use crate::checkpoint::read_whole_file;
use crate::error::{Error, Result};
use crate::fs::{Fs, write_atomically};

/// The snapshot version Kafka has written since 0.11 and still reads.
pub const SNAPSHOT_VERSION: i16 = 1;

const CRC_AT: usize = 2;
const COUNT_AT: usize = 6;
const HEADER_LEN: usize = 10;
const ENTRY_LEN: usize = 46;

/// What a partition remembers about one producer id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerSnapshotEntry {
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// The last sequence number of the producer's last batch.
    pub last_sequence: i32,
    /// The last offset of that batch; -1 if the producer has written only
    /// transaction markers.
    pub last_offset: i64,
    /// That batch's last offset minus its first.
    pub offset_delta: i32,
    /// That batch's max timestamp.
    pub timestamp: i64,
    /// The coordinator epoch of the producer's last transaction marker; -1
    /// if none.
    pub coordinator_epoch: i32,
    /// The first offset of the producer's open transaction; -1 if none.
    pub current_txn_first_offset: i64,
}

/// The snapshot's bytes.
pub fn encode_snapshot(entries: &[ProducerSnapshotEntry]) -> Result<Vec<u8>> {
    let count = i32::try_from(entries.len()).map_err(|_| {
        Error::InvalidArgument(format!(
            "{} producers do not fit in a snapshot",
            entries.len()
        ))
    })?;
    let mut out = Vec::with_capacity(HEADER_LEN + ENTRY_LEN * entries.len());
    out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
    out.extend_from_slice(&[0; 4]); // the CRC, filled in below
    out.extend_from_slice(&count.to_be_bytes());
    for e in entries {
        out.extend_from_slice(&e.producer_id.to_be_bytes());
        out.extend_from_slice(&e.producer_epoch.to_be_bytes());
        out.extend_from_slice(&e.last_sequence.to_be_bytes());
        out.extend_from_slice(&e.last_offset.to_be_bytes());
        out.extend_from_slice(&e.offset_delta.to_be_bytes());
        out.extend_from_slice(&e.timestamp.to_be_bytes());
        out.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
        out.extend_from_slice(&e.current_txn_first_offset.to_be_bytes());
    }
    let crc = crc32c::crc32c(&out[COUNT_AT..]);
    out[CRC_AT..COUNT_AT].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

/// Parses a snapshot's bytes; `path` is for the error.
pub fn decode_snapshot(path: &Path, bytes: &[u8]) -> Result<Vec<ProducerSnapshotEntry>> {
    let corrupt = |position: usize, reason: String| Error::Corrupt {
        path: path.to_owned(),
        position: position as u64,
        reason,
    };
    if bytes.len() < HEADER_LEN {
        return Err(corrupt(
            bytes.len(),
            format!(
                "producer snapshot of {} bytes is shorter than its {HEADER_LEN}-byte header",
                bytes.len()
            ),
        ));
    }
    let mut r = Reader { bytes, at: 0 };
    let version = r.i16();
    if version != SNAPSHOT_VERSION {
        return Err(corrupt(
            0,
            format!("unknown producer snapshot version {version} (expected {SNAPSHOT_VERSION})"),
        ));
    }
    let stored = r.u32();
    let computed = crc32c::crc32c(&bytes[COUNT_AT..]);
    if stored != computed {
        return Err(corrupt(
            CRC_AT,
            format!("CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"),
        ));
    }
    let count = r.i32();
    let Ok(count) = usize::try_from(count) else {
        return Err(corrupt(COUNT_AT, format!("negative entry count {count}")));
    };
    let body = bytes.len() - HEADER_LEN;
    // count <= i32::MAX, so this cannot overflow a u64.
    let needed = count as u64 * ENTRY_LEN as u64;
    if needed != body as u64 {
        let position = if needed > body as u64 {
            bytes.len()
        } else {
            HEADER_LEN + needed as usize
        };
        return Err(corrupt(
            position,
            format!("{count} entries need {needed} bytes after the header, but {body} follow"),
        ));
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        entries.push(ProducerSnapshotEntry {
            producer_id: r.i64(),
            producer_epoch: r.i16(),
            last_sequence: r.i32(),
            last_offset: r.i64(),
            offset_delta: r.i32(),
            timestamp: r.i64(),
            coordinator_epoch: r.i32(),
            current_txn_first_offset: r.i64(),
        });
    }
    Ok(entries)
}

/// Writes the snapshot at `path` (replacing any), atomically.
pub fn write_snapshot(fs: &dyn Fs, path: &Path, entries: &[ProducerSnapshotEntry]) -> Result<()> {
    let bytes = encode_snapshot(entries)?;
    write_atomically(fs, path, &bytes).map_err(|e| Error::io(path, e))
}

/// Reads the snapshot at `path`; a missing file is an I/O error (callers
/// list the directory first).
pub fn read_snapshot(fs: &dyn Fs, path: &Path) -> Result<Vec<ProducerSnapshotEntry>> {
    match read_whole_file(fs, path)? {
        Some(bytes) => decode_snapshot(path, &bytes),
        None => Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such producer snapshot"),
        )),
    }
}

/// Big-endian reads over bytes whose length was checked first.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        // The caller checked the length against the entry count; a short
        // read would be a bug here, so it reads zeros rather than panics.
        if let Some(src) = self.bytes.get(self.at..self.at + N) {
            out.copy_from_slice(src);
        }
        self.at += N;
        out
    }

    fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.take())
    }

    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take())
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take())
    }

    fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{FaultyFs, OsFs};
    use proptest::prelude::*;
    use std::path::PathBuf;
    use std::sync::atomic::Ordering;

    fn kafka_file(partition: &str, name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/kafka-4.4.0")
            .join(partition)
            .join(name)
    }

    fn temp_dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("a temp dir")
    }

    fn entry(producer_id: i64) -> ProducerSnapshotEntry {
        ProducerSnapshotEntry {
            producer_id,
            producer_epoch: 3,
            last_sequence: 41,
            last_offset: 1_000_000 + producer_id,
            offset_delta: 4,
            timestamp: 1_796_017_520_000,
            coordinator_epoch: -1,
            current_txn_first_offset: -1,
        }
    }

    fn corrupt_at(e: Error) -> (u64, String) {
        match e {
            Error::Corrupt {
                position, reason, ..
            } => (position, reason),
            other => panic!("expected Corrupt, got {other}"),
        }
    }

    /// Three producers Kafka 4.4 snapshotted at a clean shutdown: an
    /// idempotent one, one whose transaction committed, one whose
    /// transaction was still open.
    fn kafka_three_producers() -> Vec<ProducerSnapshotEntry> {
        vec![
            ProducerSnapshotEntry {
                producer_id: 1000,
                producer_epoch: 0,
                last_sequence: 2,
                last_offset: 2,
                offset_delta: 2,
                timestamp: 0x01a2_2b0d_c445,
                coordinator_epoch: -1,
                current_txn_first_offset: -1,
            },
            ProducerSnapshotEntry {
                producer_id: 1001,
                producer_epoch: 0,
                last_sequence: 1,
                last_offset: 4,
                offset_delta: 1,
                timestamp: 0x01a2_2b0d_ccbd,
                coordinator_epoch: 0,
                current_txn_first_offset: -1,
            },
            ProducerSnapshotEntry {
                producer_id: 1002,
                producer_epoch: 0,
                last_sequence: 0,
                last_offset: 6,
                offset_delta: 0,
                timestamp: 0x01a2_2b0d_cea7,
                coordinator_epoch: -1,
                current_txn_first_offset: 6,
            },
        ]
    }

    #[test]
    fn snapshots_kafka_wrote_are_read_and_rewritten_byte_for_byte() {
        let cases = [
            (
                "strata-fixture-0",
                "00000000000000000007.snapshot",
                kafka_three_producers(),
            ),
            (
                "smoke-0",
                "00000000000000000001.snapshot",
                vec![ProducerSnapshotEntry {
                    producer_id: 0,
                    producer_epoch: 0,
                    last_sequence: 0,
                    last_offset: 0,
                    offset_delta: 0,
                    timestamp: 0x01a2_2afc_d463,
                    coordinator_epoch: -1,
                    current_txn_first_offset: -1,
                }],
            ),
            (
                "__cluster_metadata-0",
                "00000000000000000787.snapshot",
                vec![],
            ),
        ];
        let dir = temp_dir();
        for (partition, name, want) in cases {
            let kafka = kafka_file(partition, name);
            assert_eq!(read_snapshot(&OsFs, &kafka).unwrap(), want, "{partition}");
            let ours = dir.path().join(name);
            write_snapshot(&OsFs, &ours, &want).unwrap();
            assert_eq!(
                std::fs::read(&ours).unwrap(),
                std::fs::read(&kafka).unwrap(),
                "{partition}"
            );
        }
    }

    #[test]
    fn empty_snapshot_is_the_documented_ten_bytes() {
        assert_eq!(
            encode_snapshot(&[]).unwrap(),
            [0x00, 0x01, 0x48, 0x67, 0x4b, 0xc7, 0, 0, 0, 0]
        );
    }

    #[test]
    fn snapshot_round_trips_extreme_values() {
        let dir = temp_dir();
        let path = dir.path().join("00000000000000000042.snapshot");
        let extremes = ProducerSnapshotEntry {
            producer_id: i64::MAX,
            producer_epoch: i16::MIN,
            last_sequence: i32::MAX,
            last_offset: i64::MIN,
            offset_delta: i32::MIN,
            timestamp: -1,
            coordinator_epoch: i32::MAX,
            current_txn_first_offset: i64::MAX,
        };
        let want = vec![entry(1), extremes, entry(-1)];
        write_snapshot(&OsFs, &path, &want).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 10 + 3 * 46);
        assert_eq!(read_snapshot(&OsFs, &path).unwrap(), want);
    }

    #[test]
    fn snapshot_truncated_anywhere_is_corrupt() {
        let bytes = encode_snapshot(&kafka_three_producers()).unwrap();
        for len in 0..bytes.len() {
            let err = decode_snapshot(Path::new("s"), &bytes[..len]).unwrap_err();
            corrupt_at(err);
        }
    }

    #[test]
    fn snapshot_with_any_byte_damaged_is_corrupt() {
        let bytes = encode_snapshot(&kafka_three_producers()).unwrap();
        for at in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[at] ^= flip;
                let (position, why) =
                    corrupt_at(decode_snapshot(Path::new("s"), &damaged).unwrap_err());
                let want = if at < CRC_AT { 0 } else { CRC_AT as u64 };
                assert_eq!(position, want, "byte {at} ^ {flip:#x}: {why}");
            }
        }
    }

    /// A header with a valid CRC over `body` (count first).
    fn with_crc(body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0, 1];
        bytes.extend_from_slice(&crc32c::crc32c(body).to_be_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn snapshot_whose_count_disagrees_with_its_length_is_corrupt() {
        let one = encode_snapshot(&[entry(7)]).unwrap();
        let cases: Vec<(Vec<u8>, u64, &str)> = vec![
            (with_crc(&(-1i32).to_be_bytes()), 6, "negative"),
            (with_crc(&i32::MAX.to_be_bytes()), 10, "need"),
            (
                with_crc(
                    &2i32
                        .to_be_bytes()
                        .into_iter()
                        .chain(one[10..].iter().copied())
                        .collect::<Vec<_>>(),
                ),
                56,
                "need",
            ),
            (with_crc(&[one[6..].to_vec(), vec![0]].concat()), 56, "need"),
            (with_crc(&one[6..51]), 51, "need"),
        ];
        for (bytes, position, reason) in cases {
            let (at, why) = corrupt_at(decode_snapshot(Path::new("s"), &bytes).unwrap_err());
            assert_eq!(at, position, "{why}");
            assert!(why.contains(reason), "{why}");
        }
    }

    #[test]
    fn snapshot_of_another_version_is_corrupt() {
        let mut bytes = encode_snapshot(&[entry(7)]).unwrap();
        bytes[1] = 2;
        let (at, why) = corrupt_at(decode_snapshot(Path::new("s"), &bytes).unwrap_err());
        assert_eq!(at, 0);
        assert!(why.contains("version 2"), "{why}");
    }

    #[test]
    fn missing_snapshot_is_an_io_error() {
        let dir = temp_dir();
        let err =
            read_snapshot(&OsFs, &dir.path().join("00000000000000000000.snapshot")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }

    #[test]
    fn snapshot_failed_fsync_keeps_the_old_file() {
        let dir = temp_dir();
        let path = dir.path().join("00000000000000000007.snapshot");
        write_snapshot(&OsFs, &path, &[entry(1)]).unwrap();
        let fs = FaultyFs::new();
        fs.faults.fail_sync.store(true, Ordering::SeqCst);
        let err = write_snapshot(&fs, &path, &[entry(1), entry(2)]).unwrap_err();
        assert!(err.is_disk_failure(), "{err}");
        assert_eq!(read_snapshot(&OsFs, &path).unwrap(), vec![entry(1)]);
    }

    #[test]
    fn snapshot_on_a_full_disk_keeps_the_old_file() {
        let dir = temp_dir();
        let path = dir.path().join("00000000000000000007.snapshot");
        write_snapshot(&OsFs, &path, &[entry(1)]).unwrap();
        let fs = FaultyFs::new();
        fs.faults.space_left.store(20, Ordering::SeqCst);
        let err = write_snapshot(&fs, &path, &[entry(1), entry(2)]).unwrap_err();
        assert!(matches!(err, Error::DiskFull { .. }), "{err}");
        assert_eq!(read_snapshot(&OsFs, &path).unwrap(), vec![entry(1)]);
    }

    fn any_entry() -> impl Strategy<Value = ProducerSnapshotEntry> {
        (
            any::<i64>(),
            any::<i16>(),
            any::<i32>(),
            any::<i64>(),
            any::<i32>(),
            any::<i64>(),
            any::<i32>(),
            any::<i64>(),
        )
            .prop_map(|(a, b, c, d, e, f, g, h)| ProducerSnapshotEntry {
                producer_id: a,
                producer_epoch: b,
                last_sequence: c,
                last_offset: d,
                offset_delta: e,
                timestamp: f,
                coordinator_epoch: g,
                current_txn_first_offset: h,
            })
    }

    proptest! {
        #[test]
        fn snapshot_round_trips_any_entries(entries in proptest::collection::vec(any_entry(), 0..20)) {
            let bytes = encode_snapshot(&entries).unwrap();
            prop_assert_eq!(bytes.len(), 10 + 46 * entries.len());
            prop_assert_eq!(decode_snapshot(Path::new("s"), &bytes).unwrap(), entries);
        }

        #[test]
        fn snapshot_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_snapshot(Path::new("s"), &bytes);
        }

        #[test]
        fn snapshot_decoder_never_panics_behind_a_valid_crc(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_snapshot(Path::new("s"), &with_crc(&body));
        }
    }
}
