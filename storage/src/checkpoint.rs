//! Kafka's text checkpoint files: the offset checkpoints each log directory
//! holds for all its partitions, and the leader-epoch checkpoint in each
//! partition directory.
//!
//! Owns: the names and the format of these files, read and written exactly
//! as Kafka 4.x's `CheckpointFile` does, so a data directory moves between
//! Kafka and Strata in either direction. Not: deciding when to write them or
//! what the offsets mean (that is recovery's and retention's business).
//!
//! Format (UTF-8 text, each line ends in `\n`):
//!
//! ```text
//!   line 1    version, always `0`
//!   line 2    N, the number of entry lines that follow
//!   line 3..  N entries, fields separated by one space:
//!               offset checkpoints   `<topic> <partition> <offset>`
//!               leader-epoch         `<leader_epoch> <start_offset>`
//! ```
//!
//! e.g. `recovery-point-offset-checkpoint`: `"0\n1\nsmoke 0 1\n"`.
//!
//! Reading is as lenient as Kafka's and no more: an empty file, or one that
//! ends after the version line or the count line, holds no entries (Kafka
//! creates the file empty before its first write); fields may be separated by
//! any run of whitespace and a line may end in `\r\n`. Anything else (another
//! version, a line that does not parse, a count that does not match) is
//! [`Error::Corrupt`] naming the file and the byte where the bad line starts.
//!
//! Not checksummed. A write replaces the whole file through
//! [`write_atomically`] (temporary file, fsync, rename, directory fsync), so
//! a crash leaves the old checkpoint or the new one; every offset in it is
//! one the log can fall back from (recovery re-scans from the recovery point).

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fs::{Fs, write_atomically};

/// Per log directory: the offset up to which each partition's log is known
/// to be flushed; recovery after an unclean shutdown starts there.
pub const RECOVERY_POINT_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
/// Per log directory: each partition's `log_start_offset`.
pub const LOG_START_OFFSET_CHECKPOINT: &str = "log-start-offset-checkpoint";
/// Per log directory: each partition's `high_watermark`.
pub const REPLICATION_OFFSET_CHECKPOINT: &str = "replication-offset-checkpoint";
/// Per log directory: the offset up to which each compacted partition has
/// been cleaned.
pub const CLEANER_OFFSET_CHECKPOINT: &str = "cleaner-offset-checkpoint";
/// Per partition directory: the offset at which each leader epoch began.
pub const LEADER_EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";

/// The only version of the checkpoint format Kafka has written.
const CHECKPOINT_VERSION: i32 = 0;

/// A partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

/// `topic-partition`, as Kafka prints it and names the partition directory.
impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// One of the per-log-directory offset checkpoints
/// ([`RECOVERY_POINT_CHECKPOINT`] and the others): an offset per partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCheckpoint {
    path: PathBuf,
}

impl OffsetCheckpoint {
    /// The checkpoint at `path` (`<log dir>/<one of the names above>`).
    pub fn new(path: impl Into<PathBuf>) -> OffsetCheckpoint {
        OffsetCheckpoint { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The offsets in the file; a missing file holds none. A partition named
    /// twice keeps its last offset, as in Kafka.
    pub fn read(&self, fs: &dyn Fs) -> Result<BTreeMap<TopicPartition, i64>> {
        let Some(bytes) = read_whole_file(fs, &self.path)? else {
            return Ok(BTreeMap::new());
        };
        let entries = decode(
            &self.path,
            &bytes,
            "<topic> <partition> <offset>",
            |fields| match fields {
                [topic, partition, offset] => Some((
                    TopicPartition::new(*topic, partition.parse().ok()?),
                    offset.parse().ok()?,
                )),
                _ => None,
            },
        )?;
        Ok(entries.into_iter().collect())
    }

    /// Replaces the file with `offsets`, atomically.
    pub fn write(&self, fs: &dyn Fs, offsets: &BTreeMap<TopicPartition, i64>) -> Result<()> {
        let mut lines = Vec::with_capacity(offsets.len());
        for (tp, offset) in offsets {
            // Kafka splits the line on whitespace: such a name could not be
            // read back (and is no legal topic name anyway).
            if tp.topic.is_empty() || tp.topic.chars().any(is_java_whitespace) {
                return Err(Error::InvalidArgument(format!(
                    "topic name {:?} cannot be written to {}: it is empty or holds whitespace",
                    tp.topic,
                    self.path.display()
                )));
            }
            lines.push(format!("{} {} {}", tp.topic, tp.partition, offset));
        }
        write_atomically(fs, &self.path, &encode(&lines)).map_err(|e| Error::io(&self.path, e))
    }
}

/// A partition's `leader-epoch-checkpoint`: `(leader_epoch, start_offset)`
/// pairs, oldest epoch first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderEpochCheckpoint {
    path: PathBuf,
}

impl LeaderEpochCheckpoint {
    /// The checkpoint at `path` (`<partition dir>/leader-epoch-checkpoint`).
    pub fn new(path: impl Into<PathBuf>) -> LeaderEpochCheckpoint {
        LeaderEpochCheckpoint { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entries in file order; a missing file holds none.
    pub fn read(&self, fs: &dyn Fs) -> Result<Vec<(i32, i64)>> {
        let Some(bytes) = read_whole_file(fs, &self.path)? else {
            return Ok(Vec::new());
        };
        decode(
            &self.path,
            &bytes,
            "<leader_epoch> <start_offset>",
            |fields| match fields {
                [epoch, start_offset] => Some((epoch.parse().ok()?, start_offset.parse().ok()?)),
                _ => None,
            },
        )
    }

    /// Replaces the file with `entries`, atomically, in the order given.
    pub fn write(&self, fs: &dyn Fs, entries: &[(i32, i64)]) -> Result<()> {
        let lines: Vec<String> = entries
            .iter()
            .map(|(epoch, start_offset)| format!("{epoch} {start_offset}"))
            .collect();
        write_atomically(fs, &self.path, &encode(&lines)).map_err(|e| Error::io(&self.path, e))
    }
}

fn encode(lines: &[String]) -> Vec<u8> {
    let mut out = format!("{CHECKPOINT_VERSION}\n{}\n", lines.len());
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

/// Parses a checkpoint as Kafka's `CheckpointReadBuffer` does; `entry` gets
/// each entry line split on whitespace and says `None` if it is malformed.
fn decode<T>(
    path: &Path,
    bytes: &[u8],
    entry_format: &str,
    entry: impl Fn(&[&str]) -> Option<T>,
) -> Result<Vec<T>> {
    let corrupt = |position: usize, reason: String| Error::Corrupt {
        path: path.to_owned(),
        position: position as u64,
        reason,
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|e| corrupt(e.valid_up_to(), "the text is not UTF-8".to_owned()))?;
    let mut lines = java_lines(text).into_iter();

    let Some((_, version)) = lines.next() else {
        return Ok(Vec::new());
    };
    match version.parse::<i32>() {
        Ok(CHECKPOINT_VERSION) => {}
        Ok(v) => {
            return Err(corrupt(
                0,
                format!("unknown checkpoint version {v} (expected {CHECKPOINT_VERSION})"),
            ));
        }
        Err(_) => return Err(corrupt(0, format!("line 1 is not a version: {version:?}"))),
    }

    let Some((count_at, count)) = lines.next() else {
        return Ok(Vec::new());
    };
    let expected = match count.parse::<i32>() {
        Ok(n) if n >= 0 => n as usize,
        _ => {
            return Err(corrupt(
                count_at,
                format!("line 2 is not an entry count: {count:?}"),
            ));
        }
    };

    let mut entries = Vec::new();
    for (number, (at, line)) in (3..).zip(lines) {
        let parsed = entry(&java_split_whitespace(line)).ok_or_else(|| {
            corrupt(
                at,
                format!("line {number} is not `{entry_format}`: {line:?}"),
            )
        })?;
        entries.push(parsed);
    }
    if entries.len() != expected {
        return Err(corrupt(
            bytes.len(),
            format!(
                "line 2 promises {expected} entries but {} follow",
                entries.len()
            ),
        ));
    }
    Ok(entries)
}

/// The whole file, or `None` if there is no file at `path`.
pub(crate) fn read_whole_file(fs: &dyn Fs, path: &Path) -> Result<Option<Vec<u8>>> {
    let file = match fs.open(path, false) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let len = file.size().map_err(|e| Error::io(path, e))?;
    let len = usize::try_from(len).map_err(|_| {
        Error::io(
            path,
            io::Error::new(io::ErrorKind::OutOfMemory, "file too large to read"),
        )
    })?;
    let mut bytes = vec![0; len];
    file.read_exact_at(&mut bytes, 0)
        .map_err(|e| Error::io(path, e))?;
    Ok(Some(bytes))
}

/// Lines as Java's `BufferedReader.readLine` sees them (ended by `\n`, `\r`
/// or `\r\n`; a last line without an ending still counts), each with the
/// byte position where it starts.
pub(crate) fn java_lines(text: &str) -> Vec<(usize, &str)> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push((start, &text[start..i]));
                i += 1;
                start = i;
            }
            b'\r' => {
                lines.push((start, &text[start..i]));
                i += 1;
                if bytes.get(i) == Some(&b'\n') {
                    i += 1;
                }
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < bytes.len() {
        lines.push((start, &text[start..]));
    }
    lines
}

/// Java's `\s`: space, tab, newline, vertical tab, form feed, carriage return.
fn is_java_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r')
}

/// `line.split("\\s+")` in Java: runs of whitespace separate fields, a line
/// that starts with whitespace has an empty first field, trailing
/// whitespace adds nothing.
fn java_split_whitespace(line: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    if line.starts_with(is_java_whitespace) {
        fields.push("");
    }
    fields.extend(line.split(is_java_whitespace).filter(|f| !f.is_empty()));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{FaultyFs, OsFs};
    use std::sync::atomic::Ordering;

    const KAFKA_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/kafka-4.4.0");

    fn temp_dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("a temp dir")
    }

    fn offsets(entries: &[(&str, i32, i64)]) -> BTreeMap<TopicPartition, i64> {
        entries
            .iter()
            .map(|&(t, p, o)| (TopicPartition::new(t, p), o))
            .collect()
    }

    fn corrupt_position(e: Error) -> (u64, String) {
        match e {
            Error::Corrupt {
                position, reason, ..
            } => (position, reason),
            other => panic!("expected Corrupt, got {other}"),
        }
    }

    #[test]
    fn topic_partition_displays_as_kafka_names_its_directory() {
        assert_eq!(TopicPartition::new("orders", 7).to_string(), "orders-7");
    }

    #[test]
    fn offset_checkpoint_round_trips_and_writes_kafkas_bytes() {
        let dir = temp_dir();
        let cp = OffsetCheckpoint::new(dir.path().join(RECOVERY_POINT_CHECKPOINT));
        let want = offsets(&[
            ("smoke", 0, 1),
            ("__consumer_offsets", 49, 1234567890123),
            ("a.b_c-d", 2, -1),
        ]);
        cp.write(&OsFs, &want).unwrap();
        assert_eq!(cp.read(&OsFs).unwrap(), want);
        assert_eq!(
            std::fs::read_to_string(cp.path()).unwrap(),
            "0\n3\n__consumer_offsets 49 1234567890123\na.b_c-d 2 -1\nsmoke 0 1\n"
        );
    }

    #[test]
    fn offset_checkpoint_written_empty_reads_empty() {
        let dir = temp_dir();
        let cp = OffsetCheckpoint::new(dir.path().join(LOG_START_OFFSET_CHECKPOINT));
        cp.write(&OsFs, &BTreeMap::new()).unwrap();
        assert_eq!(std::fs::read(cp.path()).unwrap(), b"0\n0\n");
        assert!(cp.read(&OsFs).unwrap().is_empty());
    }

    #[test]
    fn offset_checkpoint_missing_file_reads_empty() {
        let dir = temp_dir();
        let cp = OffsetCheckpoint::new(dir.path().join(CLEANER_OFFSET_CHECKPOINT));
        assert!(cp.read(&OsFs).unwrap().is_empty());
    }

    /// What Kafka 4.4 wrote at a clean shutdown: 50 `__transaction_state`
    /// partitions, `smoke-0` and `strata-fixture-0`.
    fn kafka_recovery_points() -> BTreeMap<TopicPartition, i64> {
        let mut want: BTreeMap<TopicPartition, i64> = (0..50)
            .map(|p| (TopicPartition::new("__transaction_state", p), 0))
            .collect();
        want.insert(TopicPartition::new("__transaction_state", 24), 2);
        want.insert(TopicPartition::new("__transaction_state", 28), 4);
        want.insert(TopicPartition::new("smoke", 0), 1);
        want.insert(TopicPartition::new("strata-fixture", 0), 7);
        want
    }

    #[test]
    fn offset_checkpoints_kafka_wrote_are_read() {
        let dir = Path::new(KAFKA_DATA);
        let read = |name| OffsetCheckpoint::new(dir.join(name)).read(&OsFs).unwrap();
        assert_eq!(read(RECOVERY_POINT_CHECKPOINT), kafka_recovery_points());
        assert_eq!(read(REPLICATION_OFFSET_CHECKPOINT), kafka_recovery_points());
        // Kafka 4.4 leaves these as "0\n0\n" and as the empty file it
        // creates before the first write.
        assert_eq!(
            std::fs::read(dir.join(LOG_START_OFFSET_CHECKPOINT)).unwrap(),
            b"0\n0\n"
        );
        assert!(read(LOG_START_OFFSET_CHECKPOINT).is_empty());
        assert_eq!(
            std::fs::read(dir.join(CLEANER_OFFSET_CHECKPOINT)).unwrap(),
            b""
        );
        assert!(read(CLEANER_OFFSET_CHECKPOINT).is_empty());
    }

    #[test]
    fn offset_checkpoint_we_write_matches_kafkas_file_but_for_line_order() {
        // Kafka writes its hash map's order; we write sorted.
        let sorted_lines = |bytes: Vec<u8>| {
            let text = String::from_utf8(bytes).unwrap();
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            lines[2..].sort();
            (text.ends_with('\n'), lines)
        };
        let dir = temp_dir();
        let cp = OffsetCheckpoint::new(dir.path().join(RECOVERY_POINT_CHECKPOINT));
        cp.write(&OsFs, &kafka_recovery_points()).unwrap();
        let kafka = std::fs::read(Path::new(KAFKA_DATA).join(RECOVERY_POINT_CHECKPOINT)).unwrap();
        assert_eq!(
            sorted_lines(std::fs::read(cp.path()).unwrap()),
            sorted_lines(kafka)
        );
    }

    #[test]
    fn offset_checkpoint_reads_what_kafkas_reader_tolerates() {
        let dir = temp_dir();
        let path = dir.path().join("cp");
        let cp = OffsetCheckpoint::new(&path);
        type Entries<'a> = &'a [(&'a str, i32, i64)];
        let cases: &[(&str, Entries)] = &[
            ("", &[]),
            ("0", &[]),
            ("0\n", &[]),
            ("0\n0", &[]),
            ("0\r\n1\r\nt 0 5\r\n", &[("t", 0, 5)]),
            ("0\n1\nt\t 0   5  ", &[("t", 0, 5)]),
            ("0\n2\nt 0 5\nt 0 6\n", &[("t", 0, 6)]),
            ("+0\n+1\nt +3 +7\n", &[("t", 3, 7)]),
        ];
        for (text, want) in cases {
            std::fs::write(&path, text).unwrap();
            assert_eq!(cp.read(&OsFs).unwrap(), offsets(want), "{text:?}");
        }
    }

    #[test]
    fn offset_checkpoint_malformed_is_corrupt_at_the_bad_line() {
        let dir = temp_dir();
        let path = dir.path().join("cp");
        let cp = OffsetCheckpoint::new(&path);
        let cases: &[(&[u8], u64, &str)] = &[
            (b"1\n0\n", 0, "unknown checkpoint version 1"),
            (b"x\n0\n", 0, "line 1"),
            (b"0\nx\n", 2, "line 2"),
            (b"0\n-1\n", 2, "line 2"),
            (b"0\n1\nt 0\n", 4, "line 3"),
            (b"0\n1\nt 0 1 2\n", 4, "line 3"),
            (b"0\n1\n t 0 1\n", 4, "line 3"),
            (b"0\n2\nt 0 1\n\n", 10, "line 4"),
            (b"0\n1\nt x 1\n", 4, "line 3"),
            (b"0\n1\nt 0 99999999999999999999\n", 4, "line 3"),
            (b"0\n1\nt 4294967296 1\n", 4, "line 3"),
            (b"0\n2\nt 0 1\n", 10, "promises 2 entries but 1 follow"),
            (b"0\n0\nt 0 1\n", 10, "promises 0 entries but 1 follow"),
            (b"0\n1\nt\xff 0 1\n", 5, "not UTF-8"),
        ];
        for (bytes, position, reason) in cases {
            std::fs::write(&path, bytes).unwrap();
            let err = cp.read(&OsFs).unwrap_err();
            let shown = err.to_string();
            assert!(shown.contains(&path.display().to_string()), "{shown}");
            let (at, why) = corrupt_position(err);
            assert_eq!(at, *position, "{:?}: {why}", String::from_utf8_lossy(bytes));
            assert!(
                why.contains(reason),
                "{:?}: {why}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn offset_checkpoint_refuses_to_write_an_unreadable_topic() {
        let dir = temp_dir();
        let cp = OffsetCheckpoint::new(dir.path().join("cp"));
        for bad in ["", "a b", "a\nb"] {
            let err = cp.write(&OsFs, &offsets(&[(bad, 0, 1)])).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{bad:?}: {err}");
        }
        assert!(!cp.path().exists());
    }

    #[test]
    fn offset_checkpoint_failed_fsync_keeps_the_old_file() {
        let dir = temp_dir();
        let cp = OffsetCheckpoint::new(dir.path().join(RECOVERY_POINT_CHECKPOINT));
        let old = offsets(&[("t", 0, 10)]);
        cp.write(&OsFs, &old).unwrap();
        let fs = FaultyFs::new();
        fs.faults.fail_sync.store(true, Ordering::SeqCst);
        let err = cp.write(&fs, &offsets(&[("t", 0, 20)])).unwrap_err();
        assert!(err.is_disk_failure(), "{err}");
        assert_eq!(cp.read(&OsFs).unwrap(), old);
    }

    #[test]
    fn leader_epoch_checkpoint_round_trips() {
        let dir = temp_dir();
        let cp = LeaderEpochCheckpoint::new(dir.path().join(LEADER_EPOCH_CHECKPOINT));
        let want = vec![(0, 0), (2, 1), (7, 1 << 40)];
        cp.write(&OsFs, &want).unwrap();
        assert_eq!(cp.read(&OsFs).unwrap(), want);
        assert_eq!(
            std::fs::read_to_string(cp.path()).unwrap(),
            "0\n3\n0 0\n2 1\n7 1099511627776\n"
        );
    }

    #[test]
    fn leader_epoch_checkpoint_missing_file_reads_empty() {
        let dir = temp_dir();
        let cp = LeaderEpochCheckpoint::new(dir.path().join(LEADER_EPOCH_CHECKPOINT));
        assert!(cp.read(&OsFs).unwrap().is_empty());
    }

    #[test]
    fn leader_epoch_checkpoints_kafka_wrote_are_read_and_rewritten_identically() {
        let dir = temp_dir();
        for (partition, want) in [
            ("smoke-0", vec![(0, 0), (4, 1)]),
            ("strata-fixture-0", vec![(0, 0)]),
            (
                "__cluster_metadata-0",
                vec![(1, 0), (2, 20), (3, 468), (4, 492)],
            ),
        ] {
            let kafka = Path::new(KAFKA_DATA)
                .join(partition)
                .join(LEADER_EPOCH_CHECKPOINT);
            let got = LeaderEpochCheckpoint::new(&kafka).read(&OsFs).unwrap();
            assert_eq!(got, want, "{partition}");
            let ours = LeaderEpochCheckpoint::new(dir.path().join(partition));
            ours.write(&OsFs, &got).unwrap();
            assert_eq!(
                std::fs::read(ours.path()).unwrap(),
                std::fs::read(&kafka).unwrap()
            );
        }
    }

    #[test]
    fn leader_epoch_checkpoint_malformed_is_corrupt() {
        let dir = temp_dir();
        let path = dir.path().join("cp");
        let cp = LeaderEpochCheckpoint::new(&path);
        let cases: &[(&[u8], u64)] = &[
            (b"0\n1\n0\n", 4),
            (b"0\n1\n0 0 0\n", 4),
            (b"0\n1\n2147483648 0\n", 4),
            (b"0\n1\na 0\n", 4),
            (b"0\n2\n0 0\n", 8),
            (b"5\n", 0),
        ];
        for (bytes, position) in cases {
            std::fs::write(&path, bytes).unwrap();
            let (at, why) = corrupt_position(cp.read(&OsFs).unwrap_err());
            assert_eq!(at, *position, "{:?}: {why}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn leader_epoch_checkpoint_failed_fsync_keeps_the_old_file() {
        let dir = temp_dir();
        let cp = LeaderEpochCheckpoint::new(dir.path().join(LEADER_EPOCH_CHECKPOINT));
        cp.write(&OsFs, &[(0, 0)]).unwrap();
        let fs = FaultyFs::new();
        fs.faults.fail_sync.store(true, Ordering::SeqCst);
        assert!(cp.write(&fs, &[(0, 0), (1, 5)]).is_err());
        assert_eq!(cp.read(&OsFs).unwrap(), vec![(0, 0)]);
    }

    #[test]
    fn java_line_splitting_matches_buffered_reader() {
        assert_eq!(java_lines(""), vec![]);
        assert_eq!(java_lines("a"), vec![(0, "a")]);
        assert_eq!(java_lines("a\n"), vec![(0, "a")]);
        assert_eq!(
            java_lines("a\r\nb\rc\n\nd"),
            vec![(0, "a"), (3, "b"), (5, "c"), (7, ""), (8, "d")]
        );
        assert_eq!(java_split_whitespace("a  b\t"), vec!["a", "b"]);
        assert_eq!(java_split_whitespace(" a"), vec!["", "a"]);
    }

    proptest::proptest! {
        #[test]
        fn offset_checkpoint_reader_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = decode(Path::new("cp"), &bytes, "", |f: &[&str]| match f {
                [t, p, o] => Some((t.to_string(), p.parse::<i32>().ok()?, o.parse::<i64>().ok()?)),
                _ => None,
            });
        }

        #[test]
        fn offset_checkpoint_round_trips_any_offsets(
            entries in proptest::collection::btree_map(
                ("[a-zA-Z0-9._-]{1,20}", proptest::prelude::any::<i32>()),
                proptest::prelude::any::<i64>(),
                0..20,
            )
        ) {
            let dir = temp_dir();
            let cp = OffsetCheckpoint::new(dir.path().join("cp"));
            let want: BTreeMap<TopicPartition, i64> = entries
                .into_iter()
                .map(|((t, p), o)| (TopicPartition::new(t, p), o))
                .collect();
            cp.write(&OsFs, &want).unwrap();
            proptest::prop_assert_eq!(cp.read(&OsFs).unwrap(), want);
        }
    }
}
