//! The sparse indexes beside each segment, in Kafka's byte format.
//!
//! Offset index (`.index`), one 8-byte entry, big-endian, per
//! `index.interval.bytes` of log:
//!
//! ```text
//!   0..4  last offset of a batch minus the segment's base offset
//!   4..8  byte position of that batch in the .log file
//! ```
//!
//! Time index (`.timeindex`), one 12-byte entry, big-endian, added beside an
//! offset index entry when the segment's largest timestamp has grown:
//!
//! ```text
//!   0..8   largest timestamp in the segment so far
//!   8..12  last offset of the batch holding it, minus the base offset
//! ```
//!
//! Entries only grow: offsets strictly, positions and timestamps too. Neither
//! file is checksummed or fsynced on its own; after an unclean shutdown both
//! are rebuilt from the `.log`. The entries also live in memory (8 or 12
//! bytes each: 2 MiB for a full 1 GiB segment), so a lookup is a binary
//! search with no I/O. The files are written exactly as long as their
//! entries (Kafka preallocates and trims on close; a reader sees the same
//! bytes either way, and a trailing zero entry from Kafka's preallocation is
//! treated as the end).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::fs::{File, Fs};

pub const OFFSET_ENTRY_SIZE: usize = 8;
pub const TIME_ENTRY_SIZE: usize = 12;

fn corrupt(path: &Path, position: u64, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        path: path.to_owned(),
        position,
        reason: reason.into(),
    }
}

fn read_all(file: &dyn File, path: &Path) -> Result<Vec<u8>> {
    let len = file.size().map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, 0)
        .map_err(|e| Error::io(path, e))?;
    Ok(buf)
}

/// Maps offsets to byte positions in the segment's `.log`.
#[derive(Debug)]
pub struct OffsetIndex {
    path: PathBuf,
    file: Arc<dyn File>,
    base_offset: i64,
    /// (relative offset, position), both strictly increasing.
    entries: Vec<(u32, u32)>,
    max_entries: usize,
}

impl OffsetIndex {
    /// Opens (or creates) the index and loads its entries. An entry that
    /// breaks the ordering makes the whole index corrupt: the caller
    /// rebuilds it from the log.
    pub fn open(fs: &dyn Fs, path: &Path, base_offset: i64, max_bytes: usize) -> Result<Self> {
        let file = fs.open(path, true).map_err(|e| Error::io(path, e))?;
        let raw = read_all(file.as_ref(), path)?;
        let mut entries = Vec::with_capacity(raw.len() / OFFSET_ENTRY_SIZE);
        for (i, chunk) in raw.chunks_exact(OFFSET_ENTRY_SIZE).enumerate() {
            let relative = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let position = u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
            if i > 0 && relative == 0 && position == 0 {
                break; // preallocated tail
            }
            if let Some(&(last_rel, last_pos)) = entries.last() {
                if relative <= last_rel || position <= last_pos {
                    return Err(corrupt(
                        path,
                        (i * OFFSET_ENTRY_SIZE) as u64,
                        "offset index entries do not increase",
                    ));
                }
            }
            entries.push((relative, position));
        }
        let index = OffsetIndex {
            path: path.to_owned(),
            file,
            base_offset,
            entries,
            max_entries: (max_bytes / OFFSET_ENTRY_SIZE).max(1),
        };
        // Cut a preallocated or torn tail so that appends land right after
        // the last real entry.
        index.trim()?;
        Ok(index)
    }

    fn trim(&self) -> Result<()> {
        let want = (self.entries.len() * OFFSET_ENTRY_SIZE) as u64;
        if self.file.size().map_err(|e| Error::io(&self.path, e))? != want {
            self.file
                .set_len(want)
                .map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }

    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.max_entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records that the batch ending at `last_offset` starts at `position`.
    pub fn append(&mut self, last_offset: i64, position: u32) -> Result<()> {
        let relative = u32::try_from(last_offset - self.base_offset).map_err(|_| {
            Error::InvalidArgument(format!(
                "offset {last_offset} does not fit the index of segment {}",
                self.base_offset
            ))
        })?;
        if let Some(&(last_rel, last_pos)) = self.entries.last() {
            if relative <= last_rel || position <= last_pos {
                return Err(Error::InvalidArgument(format!(
                    "index entry ({last_offset}, {position}) does not follow ({}, {last_pos})",
                    self.base_offset + i64::from(last_rel)
                )));
            }
        }
        if self.is_full() {
            return Err(Error::InvalidArgument(format!(
                "offset index {} is full",
                self.path.display()
            )));
        }
        let mut entry = [0u8; OFFSET_ENTRY_SIZE];
        entry[..4].copy_from_slice(&relative.to_be_bytes());
        entry[4..].copy_from_slice(&position.to_be_bytes());
        self.file
            .write_all_at(&entry, (self.entries.len() * OFFSET_ENTRY_SIZE) as u64)
            .map_err(|e| Error::io(&self.path, e))?;
        self.entries.push((relative, position));
        Ok(())
    }

    /// The last entry at or below `offset`: `(offset, position)`, or the
    /// segment start when there is none. A scan of the log from there finds
    /// the batch holding `offset`.
    pub fn lookup(&self, offset: i64) -> (i64, u32) {
        let Ok(relative) = u32::try_from(offset - self.base_offset) else {
            return (self.base_offset, 0);
        };
        let i = self.entries.partition_point(|&(rel, _)| rel <= relative);
        match i.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(&(rel, pos)) => (self.base_offset + i64::from(rel), pos),
            None => (self.base_offset, 0),
        }
    }

    /// Drops entries for offsets at or past `offset`.
    pub fn truncate_to(&mut self, offset: i64) -> Result<()> {
        let keep = match u32::try_from(offset - self.base_offset) {
            Ok(relative) => self.entries.partition_point(|&(rel, _)| rel < relative),
            Err(_) if offset < self.base_offset => 0,
            Err(_) => self.entries.len(),
        };
        self.entries.truncate(keep);
        self.trim()
    }

    /// Keeps the first `len` entries (undoes entries added since the index
    /// held `len`), file included.
    pub fn truncate_entries(&mut self, len: usize) -> Result<()> {
        self.entries.truncate(len);
        self.trim()
    }

    pub fn entries(&self) -> impl Iterator<Item = (i64, u32)> + '_ {
        self.entries
            .iter()
            .map(|&(rel, pos)| (self.base_offset + i64::from(rel), pos))
    }
}

/// Maps timestamps to offsets.
#[derive(Debug)]
pub struct TimeIndex {
    path: PathBuf,
    file: Arc<dyn File>,
    base_offset: i64,
    /// (timestamp, relative offset), both non-decreasing.
    entries: Vec<(i64, u32)>,
    max_entries: usize,
}

impl TimeIndex {
    pub fn open(fs: &dyn Fs, path: &Path, base_offset: i64, max_bytes: usize) -> Result<Self> {
        let file = fs.open(path, true).map_err(|e| Error::io(path, e))?;
        let raw = read_all(file.as_ref(), path)?;
        let mut entries: Vec<(i64, u32)> = Vec::with_capacity(raw.len() / TIME_ENTRY_SIZE);
        for (i, chunk) in raw.chunks_exact(TIME_ENTRY_SIZE).enumerate() {
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&chunk[..8]);
            let timestamp = i64::from_be_bytes(ts);
            let relative = u32::from_be_bytes([chunk[8], chunk[9], chunk[10], chunk[11]]);
            if i > 0 && timestamp == 0 && relative == 0 {
                break; // preallocated tail
            }
            if let Some(&(last_ts, last_rel)) = entries.last() {
                if timestamp < last_ts || relative < last_rel {
                    return Err(corrupt(
                        path,
                        (i * TIME_ENTRY_SIZE) as u64,
                        "time index entries go backwards",
                    ));
                }
            }
            entries.push((timestamp, relative));
        }
        let index = TimeIndex {
            path: path.to_owned(),
            file,
            base_offset,
            entries,
            max_entries: (max_bytes / TIME_ENTRY_SIZE).max(1),
        };
        index.trim()?;
        Ok(index)
    }

    fn trim(&self) -> Result<()> {
        let want = (self.entries.len() * TIME_ENTRY_SIZE) as u64;
        if self.file.size().map_err(|e| Error::io(&self.path, e))? != want {
            self.file
                .set_len(want)
                .map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }

    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.max_entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The newest entry, `(timestamp, offset)`.
    pub fn last_entry(&self) -> Option<(i64, i64)> {
        self.entries
            .last()
            .map(|&(ts, rel)| (ts, self.base_offset + i64::from(rel)))
    }

    /// Adds `(timestamp, offset)` if the timestamp is newer than the last
    /// entry's (Kafka's `maybeAppend`): the index only records growth.
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64) -> Result<()> {
        if let Some(&(last_ts, _)) = self.entries.last() {
            if timestamp <= last_ts {
                return Ok(());
            }
        }
        if self.is_full() {
            return Ok(()); // the segment rolls on a full index before this matters
        }
        let relative = u32::try_from(offset - self.base_offset).map_err(|_| {
            Error::InvalidArgument(format!(
                "offset {offset} does not fit the time index of segment {}",
                self.base_offset
            ))
        })?;
        if let Some(&(_, last_rel)) = self.entries.last() {
            if relative < last_rel {
                return Err(Error::InvalidArgument(format!(
                    "time index offset {offset} goes backwards"
                )));
            }
        }
        let mut entry = [0u8; TIME_ENTRY_SIZE];
        entry[..8].copy_from_slice(&timestamp.to_be_bytes());
        entry[8..].copy_from_slice(&relative.to_be_bytes());
        self.file
            .write_all_at(&entry, (self.entries.len() * TIME_ENTRY_SIZE) as u64)
            .map_err(|e| Error::io(&self.path, e))?;
        self.entries.push((timestamp, relative));
        Ok(())
    }

    /// The offset to start scanning from for the first record at or after
    /// `timestamp`: the entry just before the first one reaching it, or the
    /// segment start.
    pub fn lookup(&self, timestamp: i64) -> i64 {
        let i = self.entries.partition_point(|&(ts, _)| ts < timestamp);
        match i.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(&(_, rel)) => self.base_offset + i64::from(rel),
            None => self.base_offset,
        }
    }

    /// Drops entries for offsets at or past `offset`.
    pub fn truncate_to(&mut self, offset: i64) -> Result<()> {
        let keep = match u32::try_from(offset - self.base_offset) {
            Ok(relative) => self.entries.partition_point(|&(_, rel)| rel < relative),
            Err(_) if offset < self.base_offset => 0,
            Err(_) => self.entries.len(),
        };
        self.entries.truncate(keep);
        self.trim()
    }

    /// Keeps the first `len` entries, file included.
    pub fn truncate_entries(&mut self, len: usize) -> Result<()> {
        self.entries.truncate(len);
        self.trim()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::OsFs;

    #[test]
    fn offset_lookup_finds_the_last_entry_at_or_below() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut index = OffsetIndex::open(&OsFs, &path, 100, 1 << 20).unwrap();
        assert_eq!(index.lookup(150), (100, 0));
        index.append(110, 4096).unwrap();
        index.append(120, 8192).unwrap();
        assert_eq!(index.lookup(99), (100, 0));
        assert_eq!(index.lookup(109), (100, 0));
        assert_eq!(index.lookup(110), (110, 4096));
        assert_eq!(index.lookup(119), (110, 4096));
        assert_eq!(index.lookup(1000), (120, 8192));
        assert!(index.append(115, 9000).is_err(), "offsets only grow");
    }

    #[test]
    fn offset_index_file_is_kafkas_bytes_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut index = OffsetIndex::open(&OsFs, &path, 100, 1 << 20).unwrap();
        index.append(110, 4096).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            vec![0, 0, 0, 10, 0, 0, 0x10, 0]
        );
        index.append(130, 9000).unwrap();
        drop(index);
        let index = OffsetIndex::open(&OsFs, &path, 100, 1 << 20).unwrap();
        assert_eq!(
            index.entries().collect::<Vec<_>>(),
            vec![(110, 4096), (130, 9000)]
        );
    }

    #[test]
    fn preallocated_zero_tail_is_cut_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut raw = vec![0, 0, 0, 5, 0, 0, 0x10, 0];
        raw.resize(64, 0);
        std::fs::write(&path, raw).unwrap();
        let index = OffsetIndex::open(&OsFs, &path, 0, 1 << 20).unwrap();
        assert_eq!(index.len(), 1);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 8);
    }

    #[test]
    fn out_of_order_index_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        std::fs::write(&path, [0, 0, 0, 9, 0, 0, 0, 9, 0, 0, 0, 5, 0, 0, 0, 20]).unwrap();
        assert!(matches!(
            OffsetIndex::open(&OsFs, &path, 0, 1 << 20),
            Err(Error::Corrupt { position: 8, .. })
        ));
    }

    #[test]
    fn truncation_drops_entries_at_and_past_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut index = OffsetIndex::open(&OsFs, &path, 0, 1 << 20).unwrap();
        for i in 1..=5 {
            index.append(i * 10, (i * 100) as u32).unwrap();
        }
        index.truncate_to(30).unwrap();
        assert_eq!(
            index.entries().collect::<Vec<_>>(),
            vec![(10, 100), (20, 200)]
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 16);
        index.append(25, 250).unwrap();
    }

    #[test]
    fn full_index_refuses_entries() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = OffsetIndex::open(&OsFs, &dir.path().join("i"), 0, 16).unwrap();
        index.append(1, 1).unwrap();
        index.append(2, 2).unwrap();
        assert!(index.is_full());
        assert!(index.append(3, 3).is_err());
    }

    #[test]
    fn time_index_records_only_growth_and_looks_up_the_entry_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.timeindex");
        let mut index = TimeIndex::open(&OsFs, &path, 100, 1 << 20).unwrap();
        index.maybe_append(1000, 105).unwrap();
        index.maybe_append(900, 106).unwrap(); // older: ignored
        index.maybe_append(2000, 120).unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(index.lookup(500), 100);
        assert_eq!(index.lookup(1000), 100);
        assert_eq!(index.lookup(1001), 105);
        assert_eq!(index.lookup(5000), 120);
        assert_eq!(index.last_entry(), Some((2000, 120)));
        let raw = std::fs::read(&path).unwrap();
        assert_eq!(&raw[..12], &[0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0, 0, 5]);
        drop(index);
        let mut index = TimeIndex::open(&OsFs, &path, 100, 1 << 20).unwrap();
        assert_eq!(index.last_entry(), Some((2000, 120)));
        index.truncate_to(120).unwrap();
        assert_eq!(index.last_entry(), Some((1000, 105)));
    }
}
