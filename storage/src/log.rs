//! One partition's log: its segments in offset order, the offsets that
//! bound it, appends, reads, retention and truncation.
//!
//! Offsets, from low to high: `log_start_offset` (the first a consumer may
//! read; DeleteRecords and retention move it) <= `high_watermark` (what
//! consumers may see; on a single broker, what is durable) <=
//! `log_end_offset` (the next offset to assign). `recovery_point` is the
//! offset up to which every byte is known to be on disk.
//!
//! Concurrency: a `PartitionLog` is a plain value; its owner serializes
//! appends (`&mut self`) and may read through `&self` concurrently with
//! other reads. fdatasync runs without the log borrowed: `unflushed()` hands
//! out the files to sync and `mark_flushed()` records the result, so appends
//! continue while a flush is on the disk.
//!
//! Segment deletion (retention, DeleteRecords, truncation), step by step:
//! 1. the segment leaves the in-memory map, so no new read finds it (reads
//!    already holding its file keep a valid descriptor);
//! 2. its files are renamed to `*.deleted` — a crash here leaves files
//!    that start-up removes;
//! 3. the files are removed.

use bytes::Bytes;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_protocol::records::{RecordBatchMut, TimestampType, batches};

use crate::error::{Error, Result};
use crate::fs::{File, Fs};
use crate::names;
use crate::producer_snapshot::{read_snapshot, write_snapshot};
use crate::producer_state::{ProducerChanges, ProducerState, SequenceCheck, SequenceError};
use crate::segment::{BatchMeta, FileRegion, Recovered, Segment, SegmentConfig, SegmentView};
use strata_protocol::records::BatchHeader;

/// A topic's log settings (Kafka's keys and defaults).
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `segment.bytes`.
    pub segment_bytes: u64,
    /// `segment.ms`.
    pub segment_ms: i64,
    pub segment: SegmentConfig,
    /// `retention.ms`; negative keeps everything.
    pub retention_ms: i64,
    /// `retention.bytes`; negative keeps everything.
    pub retention_bytes: i64,
    /// `max.message.bytes`: the largest batch accepted.
    pub max_message_bytes: usize,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `message.timestamp.before.max.ms`.
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms` (Kafka 4 default: one hour).
    pub timestamp_after_max_ms: i64,
    /// `cleanup.policy` includes `compact`: every record needs a key.
    pub compact: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            segment: SegmentConfig::default(),
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            max_message_bytes: 1_048_588,
            timestamp_type: TimestampType::CreateTime,
            timestamp_before_max_ms: i64::MAX,
            timestamp_after_max_ms: 3_600_000,
            compact: false,
        }
    }
}

/// What an append assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub first_offset: i64,
    pub last_offset: i64,
    /// The broker's time stamped on the batches, or -1 under CreateTime.
    pub log_append_time: i64,
    pub log_start_offset: i64,
    pub batches: usize,
    pub bytes: usize,
    /// A retried idempotent batch: nothing was written, the offsets are
    /// those of the first write.
    pub duplicate: bool,
}

/// What a read found.
#[derive(Debug, Clone)]
pub struct ReadResult {
    /// `None`: nothing to read at that offset yet.
    pub region: Option<FileRegion>,
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub log_end_offset: i64,
}

/// A read prepared under the log's lock, to be carried out without it.
#[derive(Debug, Clone)]
pub struct ReadView {
    segments: Vec<SegmentView>,
    offset: i64,
    upper: i64,
    log_start_offset: i64,
    high_watermark: i64,
    log_end_offset: i64,
}

impl ReadView {
    pub fn read(&self, max_bytes: u64) -> Result<ReadResult> {
        let mut region = None;
        for segment in &self.segments {
            if let Some(r) = segment.read(self.offset, max_bytes, self.upper)? {
                region = Some(r);
                break;
            }
        }
        Ok(ReadResult {
            region,
            log_start_offset: self.log_start_offset,
            high_watermark: self.high_watermark,
            log_end_offset: self.log_end_offset,
        })
    }
}

/// Offsets the log starts from, kept in checkpoint files beside it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Checkpoints {
    pub recovery_point: Option<i64>,
    pub log_start_offset: Option<i64>,
}

/// What opening the log did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    pub segments: usize,
    pub segments_recovered: usize,
    pub batches_recovered: u64,
    pub bytes_scanned: u64,
    pub bytes_truncated: u64,
    /// Zeros cut after the last batch (the active segment's write-ahead).
    pub zeros_after_end: u64,
    pub segments_removed: usize,
    /// Why recovery cut the log, if it did.
    pub truncation_reasons: Vec<String>,
}

/// Files to sync, and the log end they cover.
#[derive(Debug)]
pub struct Unflushed {
    pub files: Vec<UnflushedFile>,
    pub dir: Option<PathBuf>,
    pub up_to: i64,
    /// The directory change this sync covers (see `PartitionLog::dir_changes`).
    dir_change: u64,
}

/// A segment's `.log` with data not yet known to be on disk.
#[derive(Debug)]
pub struct UnflushedFile {
    pub path: PathBuf,
    pub file: Arc<dyn File>,
    /// Every byte to sync overwrites blocks an earlier fdatasync made part
    /// of the file (zeros written ahead): on a file system that overwrites
    /// in place, writing the pages back and one device flush for the whole
    /// round make it durable. Otherwise this file needs its own fdatasync,
    /// which also commits its new size and blocks.
    pub overwrite_only: bool,
    base_offset: i64,
    /// The file's length when the sync was planned: what an fdatasync
    /// started after this makes durable.
    file_len: u64,
}

#[derive(Debug)]
pub struct PartitionLog {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    config: LogConfig,
    segments: BTreeMap<i64, Segment>,
    log_start_offset: i64,
    high_watermark: i64,
    recovery_point: i64,
    /// Segment files created or removed so far, and how many of those a
    /// directory sync has covered: a count rather than a flag because a
    /// roll may land while a sync of the directory is on the disk, and
    /// that sync does not cover it.
    dir_changes: u64,
    dir_synced: u64,
    scratch: Vec<u8>,
    producers: ProducerState,
}

fn is_leftover(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    [names::DELETED, names::CLEANED, names::SWAP, names::TMP]
        .iter()
        .any(|s| name.ends_with(s))
}

impl PartitionLog {
    /// Opens the log in `dir`, creating it if needed. After an unclean
    /// shutdown (`clean == false`) every segment that may hold offsets past
    /// the recovery point is scanned; the first bad batch and everything
    /// after it is cut, indexes are rebuilt, and the survivors are synced.
    pub fn open(
        fs: Arc<dyn Fs>,
        dir: &Path,
        config: LogConfig,
        checkpoints: Checkpoints,
        clean: bool,
    ) -> Result<(PartitionLog, OpenReport)> {
        fs.create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut report = OpenReport::default();
        let entries = fs.read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut bases = Vec::new();
        for path in &entries {
            if is_leftover(path) {
                fs.remove_file(path).map_err(|e| Error::io(path, e))?;
            } else if let Some(base) = names::parse_offset_file(path, names::LOG) {
                bases.push(base);
            }
        }
        // Index files whose log is gone are leftovers of an interrupted delete.
        for path in &entries {
            for suffix in [names::INDEX, names::TIME_INDEX] {
                if let Some(base) = names::parse_offset_file(path, suffix) {
                    if !bases.contains(&base) {
                        fs.remove_file(path).map_err(|e| Error::io(path, e))?;
                    }
                }
            }
        }
        bases.sort_unstable();

        let recovery_point = checkpoints.recovery_point.unwrap_or(0);
        let mut segments = BTreeMap::new();
        let mut cut = false;
        for (i, &base) in bases.iter().enumerate() {
            if cut {
                // An earlier segment was cut: what follows it cannot be trusted to follow on.
                for path in Self::segment_paths(dir, base) {
                    if fs.exists(&path) {
                        fs.remove_file(&path).map_err(|e| Error::io(&path, e))?;
                    }
                }
                report.segments_removed += 1;
                continue;
            }
            let next_base = bases.get(i + 1).copied().unwrap_or(i64::MAX);
            let must_recover = !clean && next_base > recovery_point;
            let opened = if must_recover {
                None
            } else {
                match Segment::open(fs.as_ref(), dir, base, config.segment) {
                    Ok(segment) => Some(segment),
                    Err(Error::Corrupt { .. }) => None,
                    Err(e) => return Err(e),
                }
            };
            let segment = match opened {
                Some(segment) => segment,
                None => {
                    let mut segment =
                        Segment::create_from_existing(fs.as_ref(), dir, base, config.segment)?;
                    let recovered: Recovered =
                        segment.recover(config.max_message_bytes.max(1 << 20) * 2)?;
                    report.segments_recovered += 1;
                    report.batches_recovered += recovered.batches;
                    report.bytes_scanned += recovered.bytes_scanned;
                    report.bytes_truncated += recovered.bytes_truncated;
                    report.zeros_after_end += recovered.zeros_after_end;
                    let zeros_ahead_of_the_end =
                        next_base == i64::MAX && recovered.zeros_after_end > 0;
                    if let Some(reason) = recovered
                        .stopped_because
                        .filter(|_| !zeros_ahead_of_the_end)
                    {
                        report
                            .truncation_reasons
                            .push(format!("{}: {reason}", segment.log_path().display()));
                        cut = true;
                    }
                    segment
                        .log_file()
                        .sync_data()
                        .map_err(|e| Error::io(segment.log_path(), e))?;
                    segment
                }
            };
            segments.insert(base, segment);
        }
        // A segment that recovery emptied, other than the first, holds nothing.
        while segments.len() > 1 {
            let Some((&base, last)) = segments.last_key_value() else {
                break;
            };
            if !last.is_empty() {
                break;
            }
            let segment = segments.remove(&base).expect("the key was just read");
            for path in segment.paths() {
                fs.remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
            report.segments_removed += 1;
        }
        if segments.is_empty() {
            let base = checkpoints.log_start_offset.unwrap_or(0).max(0);
            segments.insert(
                base,
                Segment::create(fs.as_ref(), dir, base, config.segment)?,
            );
        }
        report.segments = segments.len();
        let first_base = *segments.keys().next().expect("at least one segment");
        let log_end = segments
            .values()
            .next_back()
            .expect("at least one segment")
            .next_offset();
        let log_start = checkpoints
            .log_start_offset
            .unwrap_or(first_base)
            .clamp(first_base, log_end);
        fs.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut log = PartitionLog {
            fs,
            dir: dir.to_owned(),
            config,
            segments,
            log_start_offset: log_start,
            // Everything that survived was just synced (or was closed cleanly).
            high_watermark: log_end,
            recovery_point: log_end,
            dir_changes: 0,
            dir_synced: 0,
            scratch: Vec::new(),
            producers: ProducerState::default(),
        };
        log.rebuild_producer_state()?;
        Ok((log, report))
    }

    fn segment_paths(dir: &Path, base: i64) -> [PathBuf; 3] {
        [
            names::offset_file(dir, base, names::LOG),
            names::offset_file(dir, base, names::INDEX),
            names::offset_file(dir, base, names::TIME_INDEX),
        ]
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset()
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// Moves the high watermark, never past the log end nor backwards.
    pub fn set_high_watermark(&mut self, offset: i64) {
        self.high_watermark = self.high_watermark.max(offset.min(self.log_end_offset()));
    }

    pub fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.segments.values()
    }

    /// Bytes in all segments.
    pub fn size(&self) -> u64 {
        self.segments.values().map(Segment::size).sum()
    }

    fn active(&self) -> &Segment {
        // The map is never empty: open creates a segment and deletions keep the last.
        self.segments
            .values()
            .next_back()
            .expect("a log always has a segment")
    }

    fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .values_mut()
            .next_back()
            .expect("a log always has a segment")
    }

    /// Validates `records` (one or more batches as a producer sent them),
    /// checks idempotent producers' sequences, gives the batches offsets from
    /// the log end and the partition leader epoch, stamps LogAppendTime if
    /// the topic asks for it, and writes them to the active segment, rolling
    /// first if it is due. Nothing is written unless every batch is valid; a
    /// retried batch that was already written is skipped and reported with
    /// its first offsets.
    pub fn append(
        &mut self,
        records: &Bytes,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo> {
        let mut metas: Vec<BatchMeta> = Vec::new();
        let mut next = self.log_end_offset();
        let first_offset = next;
        let log_append_time = match self.config.timestamp_type {
            TimestampType::LogAppendTime => now_ms,
            TimestampType::CreateTime => -1,
        };
        let mut producer_changes = ProducerChanges::default();
        let mut duplicates: Vec<(i64, i64)> = Vec::new();
        // The chunk written: the batches that are not duplicates, back to back.
        self.scratch.clear();
        for batch in batches(records.clone()) {
            let batch = batch?;
            batch.verify_crc()?;
            let header = *batch.header();
            let size = batch.size_in_bytes();
            if size > self.config.max_message_bytes {
                return Err(Error::BatchTooLarge {
                    size,
                    max: self.config.max_message_bytes,
                });
            }
            if header.is_control() {
                return Err(Error::InvalidRecord(
                    "clients may not write control batches".into(),
                ));
            }
            if header.records_count() == 0
                || i64::from(header.records_count()) != i64::from(header.last_offset_delta()) + 1
            {
                return Err(Error::InvalidRecord(format!(
                    "batch holds {} records but its offsets span {}",
                    header.records_count(),
                    i64::from(header.last_offset_delta()) + 1
                )));
            }
            if self.config.timestamp_type == TimestampType::CreateTime {
                for ts in [header.base_timestamp(), header.max_timestamp()] {
                    if ts < 0 {
                        continue;
                    }
                    if now_ms.saturating_sub(ts) > self.config.timestamp_before_max_ms {
                        return Err(Error::InvalidTimestamp {
                            timestamp: ts,
                            reason: "older than message.timestamp.before.max.ms allows",
                        });
                    }
                    if ts.saturating_sub(now_ms) > self.config.timestamp_after_max_ms {
                        return Err(Error::InvalidTimestamp {
                            timestamp: ts,
                            reason: "further ahead than message.timestamp.after.max.ms allows",
                        });
                    }
                }
            }
            if self.config.compact {
                // A compacted log keeps the last record per key: a record
                // without one could never be compacted (Kafka refuses it too).
                for record in batch.records(crate::MAX_DECOMPRESSED_BATCH)? {
                    if record?.key.is_none() {
                        return Err(Error::InvalidRecord(
                            "a compacted topic cannot accept a record without a key".into(),
                        ));
                    }
                }
            }
            if header.producer_id() >= 0 {
                match producer_changes.check(&self.producers, &header) {
                    Ok(SequenceCheck::Append) => {}
                    Ok(SequenceCheck::Duplicate {
                        first_offset,
                        last_offset,
                    }) => {
                        duplicates.push((first_offset, last_offset));
                        continue;
                    }
                    Err(e @ SequenceError::OutOfOrder { .. }) => {
                        return Err(Error::OutOfOrderSequence(e.to_string()));
                    }
                    Err(e @ SequenceError::InvalidEpoch { .. }) => {
                        return Err(Error::InvalidProducerEpoch(e.to_string()));
                    }
                }
            }
            let offset_in_chunk = self.scratch.len();
            self.scratch.extend_from_slice(batch.as_bytes());
            let mut editable = RecordBatchMut::new(&mut self.scratch[offset_in_chunk..])?;
            editable.set_base_offset(next);
            editable.set_partition_leader_epoch(leader_epoch);
            let max_timestamp = if log_append_time >= 0 {
                editable.set_max_timestamp_log_append_time(log_append_time);
                log_append_time
            } else {
                header.max_timestamp()
            };
            let last_offset = next + i64::from(header.last_offset_delta());
            metas.push(BatchMeta {
                offset_in_chunk,
                size,
                last_offset,
                max_timestamp,
            });
            producer_changes.record(&self.producers, &header, next);
            next = last_offset + 1;
        }
        let Some(last) = metas.last() else {
            return match (duplicates.first(), duplicates.last()) {
                (Some(first), Some(last)) => Ok(AppendInfo {
                    first_offset: first.0,
                    last_offset: last.1,
                    log_append_time,
                    log_start_offset: self.log_start_offset,
                    batches: 0,
                    bytes: 0,
                    duplicate: true,
                }),
                _ => Err(Error::InvalidRecord(
                    "no record batch in the request".into(),
                )),
            };
        };
        let total = last.offset_in_chunk + last.size;
        if total as u64 > self.config.segment_bytes {
            return Err(Error::LargerThanSegment {
                size: total,
                max: self.config.segment_bytes as usize,
            });
        }
        let last_offset = last.last_offset;
        self.maybe_roll(total as u64, last_offset, now_ms)?;
        let chunk = std::mem::take(&mut self.scratch);
        let result = self.active_mut().append(&chunk[..total], &metas);
        self.scratch = chunk;
        result?;
        self.producers.apply(producer_changes);
        Ok(AppendInfo {
            first_offset: duplicates.first().map_or(first_offset, |d| d.0),
            last_offset,
            log_append_time,
            log_start_offset: self.log_start_offset,
            batches: metas.len(),
            bytes: total,
            duplicate: false,
        })
    }

    fn maybe_roll(&mut self, incoming: u64, last_offset: i64, now_ms: i64) -> Result<()> {
        let config = self.config.clone();
        let active = self.active();
        if active.is_empty() {
            return Ok(());
        }
        let too_big = active.size() + incoming > config.segment_bytes;
        let too_old = active
            .first_batch_timestamp()
            .is_some_and(|ts| now_ms.saturating_sub(ts) > config.segment_ms);
        let offsets_overflow = last_offset - active.base_offset() > i64::from(i32::MAX);
        if too_big || too_old || active.indexes_full() || offsets_overflow {
            self.roll()?;
        }
        Ok(())
    }

    /// Starts a new active segment at the log end.
    pub fn roll(&mut self) -> Result<()> {
        let base = self.log_end_offset();
        if self.active().base_offset() == base {
            return Ok(()); // already empty and current
        }
        self.active_mut().on_roll()?;
        let segment = Segment::create(self.fs.as_ref(), &self.dir, base, self.config.segment)?;
        self.segments.insert(base, segment);
        self.dir_changes += 1;
        self.write_producer_snapshot()
    }

    /// Writes `<log end>.snapshot` and keeps only the two newest snapshots.
    fn write_producer_snapshot(&mut self) -> Result<()> {
        let existing = self.snapshot_offsets()?;
        if self.producers.is_empty() && existing.is_empty() {
            return Ok(());
        }
        let end = self.log_end_offset();
        let path = names::offset_file(&self.dir, end, names::SNAPSHOT);
        write_snapshot(self.fs.as_ref(), &path, &self.producers.snapshot())?;
        let snapshots = self.snapshot_offsets()?;
        for &old in snapshots.iter().rev().skip(2) {
            let p = names::offset_file(&self.dir, old, names::SNAPSHOT);
            self.fs.remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
        Ok(())
    }

    /// Offsets of the producer snapshots in the directory, ascending.
    fn snapshot_offsets(&self) -> Result<Vec<i64>> {
        let mut out: Vec<i64> = self
            .fs
            .read_dir(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))?
            .iter()
            .filter_map(|p| names::parse_offset_file(p, names::SNAPSHOT))
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// Calls `f` with the header of every batch that ends at or after `from`.
    fn for_each_batch_from(&self, from: i64, mut f: impl FnMut(&BatchHeader)) -> Result<()> {
        for segment in self.segments.values() {
            if segment.next_offset() <= from {
                continue;
            }
            let (_, position) = segment.offset_index().lookup(from);
            let mut position = u64::from(position);
            while let Some(h) = segment.header_at(position)? {
                if h.last_offset() >= from {
                    f(&h);
                }
                position += h.size_in_bytes() as u64;
            }
        }
        Ok(())
    }

    /// The producer state from the newest usable snapshot plus the batches
    /// after it (the whole log when there is no snapshot).
    fn rebuild_producer_state(&mut self) -> Result<()> {
        let end = self.log_end_offset();
        let mut state = ProducerState::default();
        let mut from = self.log_start_offset;
        for offset in self.snapshot_offsets()?.into_iter().rev() {
            let path = names::offset_file(&self.dir, offset, names::SNAPSHOT);
            if offset > end {
                // Taken before a truncation: it describes batches that are gone.
                self.fs
                    .remove_file(&path)
                    .map_err(|e| Error::io(&path, e))?;
                continue;
            }
            match read_snapshot(self.fs.as_ref(), &path) {
                Ok(entries) => {
                    state = ProducerState::from_snapshot(&entries);
                    from = offset;
                    break;
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "ignoring a bad producer snapshot");
                }
            }
        }
        self.for_each_batch_from(from, |h| {
            if h.producer_id() >= 0 && !h.is_control() {
                state.record(h, h.base_offset());
            }
        })?;
        self.producers = state;
        Ok(())
    }

    /// The idempotent producers' state.
    pub fn producer_state(&self) -> &ProducerState {
        &self.producers
    }

    /// Reads from `offset`: at most `max_bytes` (but always the whole first
    /// batch), never a batch at or past `max_offset` (the high watermark for
    /// consumers, the log end for replicas).
    pub fn read(&self, offset: i64, max_bytes: u64, max_offset: i64) -> Result<ReadResult> {
        self.read_view(offset, max_offset)?.read(max_bytes)
    }

    /// The in-memory part of a read (offsets checked, segments chosen); the
    /// file reads happen in [`ReadView::read`], after the caller has let go
    /// of the log, so reads never hold up appends with their I/O.
    pub fn read_view(&self, offset: i64, max_offset: i64) -> Result<ReadView> {
        let log_end = self.log_end_offset();
        if offset < self.log_start_offset || offset > log_end {
            return Err(Error::OffsetOutOfRange {
                requested: offset,
                log_start: self.log_start_offset,
                log_end,
            });
        }
        let upper = max_offset.min(log_end);
        let mut segments = Vec::new();
        if offset < upper {
            let from = self
                .segments
                .range(..=offset)
                .next_back()
                .map_or(i64::MIN, |(&base, _)| base);
            // The offset lies in the segment at or below it, or, when that one
            // ends before it, at the start of the next.
            for segment in self.segments.range(from..).map(|(_, s)| s).take(2) {
                if segment.base_offset() >= upper {
                    break;
                }
                segments.push(segment.view(offset));
            }
        }
        Ok(ReadView {
            segments,
            offset,
            upper,
            log_start_offset: self.log_start_offset,
            high_watermark: self.high_watermark,
            log_end_offset: log_end,
        })
    }

    /// The first record with a timestamp at or after `timestamp`:
    /// `(offset, timestamp)`, or `None` when every record is older.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>> {
        for segment in self.segments.values() {
            if segment.max_timestamp() < timestamp || segment.next_offset() <= self.log_start_offset
            {
                continue;
            }
            if let Some(found) =
                segment.find_offset_by_timestamp(timestamp, self.log_start_offset)?
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The record with the largest timestamp (the first such, if several):
    /// `(offset, timestamp)`.
    pub fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>> {
        let best = self
            .segments
            .values()
            .filter(|s| s.max_timestamp() >= 0 && s.next_offset() > self.log_start_offset)
            .max_by_key(|s| (s.max_timestamp(), std::cmp::Reverse(s.base_offset())));
        match best {
            Some(segment) => {
                segment.find_offset_by_timestamp(segment.max_timestamp(), self.log_start_offset)
            }
            None => Ok(None),
        }
    }

    /// The files holding data that is not yet known to be on disk.
    pub fn unflushed(&self) -> Unflushed {
        let files = self
            .segments
            .values()
            .filter(|s| {
                s.next_offset() > self.recovery_point || s.base_offset() >= self.recovery_point
            })
            .filter(|s| !s.is_empty())
            .map(|s| UnflushedFile {
                path: s.log_path().to_owned(),
                file: s.log_file().clone(),
                overwrite_only: s.overwrites_durable_blocks(),
                base_offset: s.base_offset(),
                file_len: s.file_len(),
            })
            .collect();
        Unflushed {
            files,
            dir: (self.dir_changes > self.dir_synced).then(|| self.dir.clone()),
            up_to: self.log_end_offset(),
            dir_change: self.dir_changes,
        }
    }

    /// Records that what `unflushed` named is on disk. Syncs may finish
    /// out of order: neither the recovery point nor the synced directory
    /// state ever moves back.
    pub fn mark_flushed(&mut self, unflushed: &Unflushed) {
        self.recovery_point = self
            .recovery_point
            .max(unflushed.up_to.min(self.log_end_offset()));
        if unflushed.dir.is_some() {
            self.dir_synced = self.dir_synced.max(unflushed.dir_change);
        }
        for f in &unflushed.files {
            if !f.overwrite_only {
                if let Some(segment) = self.segments.get_mut(&f.base_offset) {
                    segment.note_synced(f.file_len);
                }
            }
        }
    }

    /// Syncs in place, on the calling thread.
    pub fn flush(&mut self) -> Result<()> {
        let unflushed = self.unflushed();
        for f in &unflushed.files {
            f.file.sync_data().map_err(|e| Error::io(&f.path, e))?;
        }
        if let Some(dir) = &unflushed.dir {
            self.fs.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
        }
        self.mark_flushed(&unflushed);
        Ok(())
    }

    /// Removes every batch holding `offset` or later (for replication and
    /// aborted appends). The log then ends at a batch boundary at or below
    /// `offset`.
    pub fn truncate_to(&mut self, offset: i64) -> Result<()> {
        if offset >= self.log_end_offset() {
            return Ok(());
        }
        let first_base = self.segments.keys().next().copied().unwrap_or(0);
        if offset <= first_base {
            // Nothing below `offset` survives: start over there.
            let all: Vec<i64> = self.segments.keys().copied().collect();
            for base in all {
                self.delete_segment(base)?;
            }
            let base = offset.max(0);
            let segment = Segment::create(self.fs.as_ref(), &self.dir, base, self.config.segment)?;
            self.segments.insert(base, segment);
            self.log_start_offset = base;
        } else {
            // Newest first, so the map never empties; `first_base < offset` stays.
            let doomed: Vec<i64> = self
                .segments
                .range(offset..)
                .map(|(&b, _)| b)
                .rev()
                .collect();
            for base in doomed {
                self.delete_segment(base)?;
            }
            self.active_mut().truncate_to(offset)?;
        }
        let end = self.log_end_offset();
        self.high_watermark = self.high_watermark.min(end);
        self.recovery_point = self.recovery_point.min(end);
        self.log_start_offset = self.log_start_offset.min(end);
        self.rebuild_producer_state()
    }

    /// DeleteRecords: moves the log start to `offset` (at most the high
    /// watermark) and deletes segments that lie wholly below it.
    pub fn delete_records(&mut self, offset: i64) -> Result<i64> {
        if offset > self.high_watermark || offset < 0 {
            return Err(Error::OffsetOutOfRange {
                requested: offset,
                log_start: self.log_start_offset,
                log_end: self.high_watermark,
            });
        }
        self.log_start_offset = self.log_start_offset.max(offset);
        self.delete_segments_below_log_start()?;
        Ok(self.log_start_offset)
    }

    fn delete_segments_below_log_start(&mut self) -> Result<()> {
        loop {
            let mut keys = self.segments.keys();
            let (Some(&first), Some(&second)) = (keys.next(), keys.next()) else {
                return Ok(());
            };
            if second > self.log_start_offset {
                return Ok(());
            }
            self.delete_segment(first)?;
        }
    }

    /// Applies `retention.ms` and `retention.bytes`: deletes the oldest
    /// segments (never the active one) while they are expired or the log is
    /// over its size. Returns the segments deleted.
    pub fn apply_retention(&mut self, now_ms: i64) -> Result<usize> {
        let mut deleted = 0;
        let mut size = self.size();
        loop {
            if self.segments.len() < 2 {
                break;
            }
            let Some((&base, oldest)) = self.segments.first_key_value() else {
                break;
            };
            let expired = self.config.retention_ms >= 0
                && oldest.max_timestamp() >= 0
                && now_ms.saturating_sub(oldest.max_timestamp()) > self.config.retention_ms;
            let oversized = self.config.retention_bytes >= 0
                && size.saturating_sub(oldest.size()) >= self.config.retention_bytes as u64;
            // Never delete what consumers have not been allowed to see yet.
            let visible = oldest.next_offset() <= self.high_watermark;
            if !(expired || oversized) || !visible {
                break;
            }
            size -= oldest.size();
            let next_base = oldest.next_offset();
            self.delete_segment(base)?;
            self.log_start_offset = self.log_start_offset.max(next_base);
            deleted += 1;
        }
        Ok(deleted)
    }

    fn delete_segment(&mut self, base: i64) -> Result<()> {
        let Some(segment) = self.segments.remove(&base) else {
            return Ok(());
        };
        for path in segment.paths() {
            let retired = names::with_suffix(&path, names::DELETED);
            self.fs
                .rename(&path, &retired)
                .map_err(|e| Error::io(&path, e))?;
            self.fs
                .remove_file(&retired)
                .map_err(|e| Error::io(&retired, e))?;
        }
        self.dir_changes += 1;
        if let Some(first) = self.segments.keys().next() {
            self.log_start_offset = self.log_start_offset.max(*first);
        }
        Ok(())
    }

    /// Cuts the zeros written ahead off the active segment (a clean start
    /// trusts the file's length as the log's end).
    pub fn trim_active(&mut self) -> Result<()> {
        self.active_mut().trim()
    }

    /// Flushes and writes the final time index entry, as a clean shutdown does.
    pub fn close(mut self) -> Result<()> {
        self.active_mut().on_roll()?;
        self.flush()?;
        self.write_producer_snapshot()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fs::{FaultyFs, OsFs};
    use strata_protocol::records::{Compression, RecordBatch, RecordBatchBuilder};

    pub(crate) const NOW: i64 = 1_700_000_000_000;

    /// A batch of `records` records with `value_len`-byte values, timestamps
    /// `ts`, `ts + 1`, ...
    pub(crate) fn batch(records: usize, value_len: usize, ts: i64) -> Bytes {
        let mut builder = RecordBatchBuilder::new(Compression::None);
        for i in 0..records {
            let value = Bytes::from(vec![b'a' + (i % 26) as u8; value_len]);
            builder
                .append(
                    ts + i as i64,
                    Some(Bytes::from(format!("k{i}"))),
                    Some(value),
                    vec![],
                )
                .expect("timestamps fit");
        }
        builder.build().expect("a valid batch").into_bytes()
    }

    fn small_config() -> LogConfig {
        LogConfig {
            segment_bytes: 4096,
            segment: SegmentConfig {
                index_interval_bytes: 256,
                max_index_bytes: 1 << 20,
            },
            ..LogConfig::default()
        }
    }

    fn open(dir: &Path, config: LogConfig) -> PartitionLog {
        PartitionLog::open(Arc::new(OsFs), dir, config, Checkpoints::default(), true)
            .expect("log opens")
            .0
    }

    /// Base offsets of the batches a read returned.
    fn batch_offsets(result: &ReadResult) -> Vec<(i64, i64)> {
        let Some(region) = &result.region else {
            return vec![];
        };
        batches(region.read_to_bytes().unwrap())
            .map(|b| {
                let b: RecordBatch = b.unwrap();
                (b.base_offset(), b.last_offset())
            })
            .collect()
    }

    #[test]
    fn appends_get_consecutive_offsets_and_reads_return_whole_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default());
        let a = log.append(&batch(3, 10, NOW), 0, NOW).unwrap();
        let b = log.append(&batch(2, 10, NOW), 0, NOW).unwrap();
        assert_eq!((a.first_offset, a.last_offset), (0, 2));
        assert_eq!((b.first_offset, b.last_offset), (3, 4));
        assert_eq!(log.log_end_offset(), 5);
        log.flush().unwrap();
        log.set_high_watermark(5);
        let read = log.read(0, 1 << 20, 5).unwrap();
        assert_eq!(batch_offsets(&read), vec![(0, 2), (3, 4)]);
        // From the middle of a batch: the whole batch holding it comes back.
        let read = log.read(4, 1 << 20, 5).unwrap();
        assert_eq!(batch_offsets(&read), vec![(3, 4)]);
        // At the end: nothing, and no error.
        assert!(log.read(5, 1 << 20, 5).unwrap().region.is_none());
        assert!(matches!(
            log.read(6, 1 << 20, 5),
            Err(Error::OffsetOutOfRange {
                requested: 6,
                log_start: 0,
                log_end: 5
            })
        ));
    }

    #[test]
    fn a_roll_during_a_sync_leaves_the_directory_to_sync_and_late_syncs_never_move_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default());
        log.append(&batch(1, 10, NOW), 0, NOW).unwrap();
        log.roll().unwrap();
        let first = log.unflushed();
        assert!(first.dir.is_some(), "the new segment's directory entry");
        log.append(&batch(1, 10, NOW), 0, NOW).unwrap();
        log.roll().unwrap();
        let second = log.unflushed();
        // The second sync finishes first, then the first.
        log.mark_flushed(&second);
        log.mark_flushed(&first);
        assert_eq!(log.recovery_point(), second.up_to);
        assert!(log.unflushed().dir.is_none());

        // A roll while a sync of the directory is on the disk: that sync
        // does not cover the new segment's entry.
        log.append(&batch(1, 10, NOW), 0, NOW).unwrap();
        log.roll().unwrap();
        let during = log.unflushed();
        assert!(during.dir.is_some());
        log.append(&batch(1, 10, NOW), 0, NOW).unwrap();
        log.roll().unwrap();
        log.mark_flushed(&during);
        assert!(
            log.unflushed().dir.is_some(),
            "the segment created during the sync still needs its directory synced"
        );
    }

    #[test]
    fn reads_stop_at_max_offset_and_max_bytes_but_return_one_batch_at_least() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default());
        for _ in 0..4 {
            log.append(&batch(1, 100, NOW), 0, NOW).unwrap();
        }
        let one = batch(1, 100, NOW).len() as u64;
        assert_eq!(
            batch_offsets(&log.read(0, 1 << 20, 2).unwrap()),
            vec![(0, 0), (1, 1)]
        );
        assert_eq!(
            batch_offsets(&log.read(0, 2 * one, 4).unwrap()),
            vec![(0, 0), (1, 1)]
        );
        assert_eq!(batch_offsets(&log.read(0, 1, 4).unwrap()), vec![(0, 0)]);
        assert!(log.read(2, 1 << 20, 2).unwrap().region.is_none());
    }

    #[test]
    fn batches_are_stored_as_sent_with_only_offset_and_epoch_changed() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default());
        log.append(&batch(1, 5, NOW), 0, NOW).unwrap();
        let sent = batch(2, 7, NOW);
        log.append(&sent, 9, NOW).unwrap();
        let stored = log
            .read(1, 1 << 20, 3)
            .unwrap()
            .region
            .unwrap()
            .read_to_bytes()
            .unwrap();
        assert_eq!(stored.len(), sent.len());
        assert_eq!(&stored[..8], &1i64.to_be_bytes());
        assert_eq!(&stored[12..16], &9i32.to_be_bytes());
        assert_eq!(&stored[16..], &sent[16..], "everything else byte for byte");
        assert_eq!(&stored[8..12], &sent[8..12]);
    }

    #[test]
    fn corrupt_and_invalid_batches_are_refused_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default());
        let mut bad = batch(2, 10, NOW).to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let good_then_bad = [batch(1, 10, NOW).to_vec(), bad.clone()].concat();
        assert!(matches!(
            log.append(&Bytes::from(bad), 0, NOW),
            Err(Error::InvalidBatch(_))
        ));
        assert!(matches!(
            log.append(&Bytes::from(good_then_bad), 0, NOW),
            Err(Error::InvalidBatch(_))
        ));
        assert!(matches!(
            log.append(&Bytes::new(), 0, NOW),
            Err(Error::InvalidRecord(_))
        ));
        let partial = batch(1, 10, NOW).slice(..30);
        assert!(log.append(&partial, 0, NOW).is_err());
        assert_eq!(log.log_end_offset(), 0);
        assert_eq!(log.size(), 0);
        let huge = batch(1, 2 << 20, NOW);
        assert!(matches!(
            log.append(&huge, 0, NOW),
            Err(Error::BatchTooLarge { .. })
        ));
    }

    #[test]
    fn records_larger_than_a_segment_are_told_apart_from_a_too_large_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(
            dir.path(),
            LogConfig {
                segment_bytes: 4096,
                ..LogConfig::default()
            },
        );
        // Under max.message.bytes, over segment.bytes: RECORD_LIST_TOO_LARGE.
        assert!(matches!(
            log.append(&batch(1, 8 << 10, NOW), 0, NOW),
            Err(Error::LargerThanSegment { max: 4096, .. })
        ));
        assert_eq!(log.log_end_offset(), 0);
        log.append(&batch(1, 100, NOW), 0, NOW).unwrap();
    }

    #[test]
    fn timestamps_too_far_ahead_are_refused_and_log_append_time_is_stamped() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default());
        let future = batch(1, 10, NOW + 2 * 3_600_000);
        assert!(matches!(
            log.append(&future, 0, NOW),
            Err(Error::InvalidTimestamp { .. })
        ));
        log.set_config(LogConfig {
            timestamp_type: TimestampType::LogAppendTime,
            ..LogConfig::default()
        });
        let info = log.append(&future, 0, NOW).unwrap();
        assert_eq!(info.log_append_time, NOW);
        let stored = log
            .read(0, 1 << 20, 1)
            .unwrap()
            .region
            .unwrap()
            .read_to_bytes()
            .unwrap();
        let stored = RecordBatch::new(stored).unwrap();
        stored.verify_crc().unwrap();
        assert_eq!(stored.header().max_timestamp(), NOW);
        assert_eq!(
            stored.header().timestamp_type(),
            TimestampType::LogAppendTime
        );
    }

    #[test]
    fn segments_roll_at_segment_bytes_and_reads_cross_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), small_config());
        for _ in 0..40 {
            log.append(&batch(2, 100, NOW), 0, NOW).unwrap();
        }
        assert!(
            log.segments().count() >= 3,
            "{} segments",
            log.segments().count()
        );
        for s in log.segments() {
            assert!(s.size() <= 4096);
        }
        let end = log.log_end_offset();
        assert_eq!(end, 80);
        // Every offset can be read, from whichever segment holds it.
        for offset in 0..end {
            let got = batch_offsets(&log.read(offset, 1, end).unwrap());
            assert_eq!(got.len(), 1);
            assert!(
                got[0].0 <= offset && offset <= got[0].1,
                "offset {offset}: {got:?}"
            );
        }
    }

    /// Lengths of the `.log` files in `dir`, by name.
    fn log_file_lengths(dir: &Path) -> Vec<(String, u64)> {
        let mut lengths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::metadata(&p).unwrap().len())
            })
            .collect();
        lengths.sort();
        lengths
    }

    #[test]
    fn zeros_written_ahead_are_cut_at_roll_and_close_and_read_as_the_end_after_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            segment_bytes: 200_000,
            ..LogConfig::default()
        };
        let mut log = open(dir.path(), config.clone());
        for _ in 0..10 {
            log.append(&batch(4, 1000, NOW), 0, NOW).unwrap();
        }
        let active = log.segments().last().unwrap().size();
        let lengths = log_file_lengths(dir.path());
        assert_eq!(lengths.len(), 1);
        assert!(
            lengths[0].1 >= active + 32 * 1024,
            "the active segment ({active} bytes) has zeros written ahead: {lengths:?}"
        );
        // Past segment.bytes: the old segment is cut to its last batch.
        while log.segments().count() < 2 {
            log.append(&batch(4, 1000, NOW), 0, NOW).unwrap();
        }
        let first = log.segments().next().unwrap().size();
        assert_eq!(log_file_lengths(dir.path())[0].1, first);

        // A crash with zeros after the last batch: the end, nothing cut.
        let end = log.log_end_offset();
        let active = log.segments().last().unwrap().size();
        log.flush().unwrap();
        drop(log);
        assert!(log_file_lengths(dir.path())[1].1 > active);
        let (log, report) = PartitionLog::open(
            Arc::new(OsFs),
            dir.path(),
            config.clone(),
            Checkpoints::default(),
            false,
        )
        .unwrap();
        assert_eq!(log.log_end_offset(), end);
        assert_eq!(report.bytes_truncated, 0, "{report:?}");
        assert!(report.truncation_reasons.is_empty(), "{report:?}");
        let sizes: Vec<u64> = log.segments().map(|s| s.size()).collect();
        let lengths: Vec<u64> = log_file_lengths(dir.path()).iter().map(|l| l.1).collect();
        assert_eq!(lengths, sizes, "recovery cut the zeros off");

        // A clean close leaves every file at its last batch.
        let mut log = log;
        log.append(&batch(4, 1000, NOW), 0, NOW).unwrap();
        log.close().unwrap();
        let log = open(dir.path(), config);
        let sizes: Vec<u64> = log.segments().map(|s| s.size()).collect();
        let lengths: Vec<u64> = log_file_lengths(dir.path()).iter().map(|l| l.1).collect();
        assert_eq!(lengths, sizes);
        assert_eq!(log.log_end_offset(), end + 4);
    }

    /// Past 4 MiB a segment keeps at least half a MiB of zeros ahead (an
    /// eighth of its size), added 256 KiB at a time, each step ending at
    /// the same place past a multiple of 256 KiB; that place differs from
    /// partition to partition, so that partitions growing together grow
    /// their files in different rounds.
    #[test]
    fn zeros_are_added_in_small_steps_that_end_where_each_partition_differs() {
        const STEP: u64 = 256 << 10;
        let dir = tempfile::tempdir().unwrap();
        let mut phases = Vec::new();
        for partition in ["topic-0", "topic-1"] {
            let mut log = open(&dir.path().join(partition), LogConfig::default());
            let mut file_len = 0;
            let mut steps = 0;
            while log.active().size() < 7 << 20 {
                log.append(&batch(16, 1000, NOW), 0, NOW).unwrap();
                let (size, len) = (log.active().size(), log.active().file_len());
                assert!(len >= size + (64 << 10), "{size} {len}");
                if size < 5 << 20 || len == file_len {
                    file_len = len;
                    continue;
                }
                steps += 1;
                assert!(len - file_len <= 2 * STEP, "from {file_len} to {len}");
                assert!(len - size >= size / 8, "{size} {len}");
                phases.push((partition, len % STEP));
                file_len = len;
            }
            assert!(steps >= 6, "{steps} steps");
        }
        let (first, second): (Vec<(&str, u64)>, Vec<_>) =
            phases.into_iter().partition(|p| p.0 == "topic-0");
        assert!(first.iter().all(|p| p.1 == first[0].1), "{first:?}");
        assert!(second.iter().all(|p| p.1 == second[0].1), "{second:?}");
        assert_ne!(first[0].1, second[0].1);
    }

    #[test]
    fn segment_ms_rolls_by_the_first_batch_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            segment_ms: 1000,
            ..LogConfig::default()
        };
        let mut log = open(dir.path(), config);
        log.append(&batch(1, 10, NOW), 0, NOW).unwrap();
        log.append(&batch(1, 10, NOW + 500), 0, NOW + 500).unwrap();
        assert_eq!(log.segments().count(), 1);
        log.append(&batch(1, 10, NOW + 1500), 0, NOW + 1500)
            .unwrap();
        assert_eq!(log.segments().count(), 2);
    }

    #[test]
    fn clean_reopen_keeps_offsets_indexes_and_data() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), small_config());
        for i in 0..30 {
            log.append(&batch(1 + i % 3, 100, NOW + i as i64), 0, NOW)
                .unwrap();
        }
        let end = log.log_end_offset();
        let before: Vec<_> = (0..end)
            .map(|o| batch_offsets(&log.read(o, 1, end).unwrap()))
            .collect();
        log.close().unwrap();
        let log = open(dir.path(), small_config());
        assert_eq!(log.log_end_offset(), end);
        let after: Vec<_> = (0..end)
            .map(|o| batch_offsets(&log.read(o, 1, end).unwrap()))
            .collect();
        assert_eq!(before, after);
    }

    #[test]
    fn offsets_by_time_find_the_first_record_at_or_after() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), small_config());
        // Offsets 0..=59, record i stamped NOW + 10 * i.
        for b in 0..20 {
            log.append(&batch(3, 100, NOW + 30 * b), 0, NOW).unwrap();
        }
        // Batches stamp records ts, ts+1, ts+2: offset 3b+j has NOW + 30b + j.
        assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, NOW)));
        assert_eq!(
            log.offset_for_timestamp(NOW + 31).unwrap(),
            Some((4, NOW + 31))
        );
        assert_eq!(
            log.offset_for_timestamp(NOW + 33).unwrap(),
            Some((6, NOW + 60))
        );
        assert_eq!(log.offset_for_timestamp(NOW + 10_000).unwrap(), None);
        assert_eq!(
            log.max_timestamp_offset().unwrap(),
            Some((59, NOW + 30 * 19 + 2))
        );
    }

    #[test]
    fn retention_by_size_and_time_deletes_whole_old_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), small_config());
        for i in 0..100 {
            log.append(&batch(2, 100, NOW + i), 0, NOW).unwrap();
        }
        log.flush().unwrap();
        log.set_high_watermark(log.log_end_offset());
        let segments = log.segments().count();
        log.set_config(LogConfig {
            retention_bytes: 8192,
            ..small_config()
        });
        let deleted = log.apply_retention(NOW).unwrap();
        assert!(deleted > 0);
        assert_eq!(log.segments().count(), segments - deleted);
        assert!(
            log.size() >= 8192 - 4096 && log.size() <= 8192 + 4096,
            "{}",
            log.size()
        );
        let first = log.segments().next().unwrap().base_offset();
        assert_eq!(log.log_start_offset(), first);
        assert!(matches!(
            log.read(0, 1, 200),
            Err(Error::OffsetOutOfRange { .. })
        ));
        // Deleted files are gone from the directory.
        let logs = std::fs::read_dir(dir.path()).unwrap().filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        });
        assert_eq!(logs.count(), log.segments().count());

        log.set_config(LogConfig {
            retention_ms: 1000,
            ..small_config()
        });
        let deleted = log.apply_retention(NOW + 100_000).unwrap();
        assert!(deleted > 0);
        assert_eq!(
            log.segments().count(),
            1,
            "all but the active segment expired"
        );
    }

    #[test]
    fn delete_records_moves_the_log_start_within_the_high_watermark() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), small_config());
        for _ in 0..40 {
            log.append(&batch(2, 100, NOW), 0, NOW).unwrap();
        }
        log.set_high_watermark(60);
        assert!(matches!(
            log.delete_records(61),
            Err(Error::OffsetOutOfRange { .. })
        ));
        assert_eq!(log.delete_records(45).unwrap(), 45);
        assert_eq!(log.log_start_offset(), 45);
        assert!(log.segments().next().unwrap().base_offset() <= 45);
        assert!(matches!(
            log.read(44, 1, 60),
            Err(Error::OffsetOutOfRange { .. })
        ));
        // The batch holding 45 starts at 44: it comes back whole.
        assert_eq!(batch_offsets(&log.read(45, 1, 60).unwrap()), vec![(44, 45)]);
    }

    #[test]
    fn truncation_removes_the_tail_at_a_batch_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), small_config());
        for _ in 0..40 {
            log.append(&batch(2, 100, NOW), 0, NOW).unwrap();
        }
        log.truncate_to(31).unwrap();
        assert_eq!(
            log.log_end_offset(),
            30,
            "the batch holding 31 starts at 30"
        );
        let info = log.append(&batch(1, 10, NOW), 0, NOW).unwrap();
        assert_eq!(info.first_offset, 30);
        log.truncate_to(0).unwrap();
        assert_eq!(log.log_end_offset(), 0);
        assert_eq!(log.segments().count(), 1);
    }

    #[test]
    fn full_disk_refuses_the_append_and_keeps_what_was_there() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultyFs::new();
        let (mut log, _) = PartitionLog::open(
            Arc::new(fs.clone()),
            dir.path(),
            LogConfig::default(),
            Checkpoints::default(),
            true,
        )
        .unwrap();
        log.append(&batch(2, 100, NOW), 0, NOW).unwrap();
        log.flush().unwrap();
        fs.faults
            .space_left
            .store(50, std::sync::atomic::Ordering::SeqCst);
        assert!(matches!(
            log.append(&batch(2, 100, NOW), 0, NOW),
            Err(Error::DiskFull { .. })
        ));
        assert_eq!(log.log_end_offset(), 2);
        fs.faults
            .space_left
            .store(u64::MAX, std::sync::atomic::Ordering::SeqCst);
        // Space is back: the next append overwrites the torn bytes.
        assert_eq!(
            log.append(&batch(1, 100, NOW), 0, NOW)
                .unwrap()
                .first_offset,
            2
        );
        assert_eq!(
            batch_offsets(&log.read(0, 1 << 20, 3).unwrap()),
            vec![(0, 1), (2, 2)]
        );
    }

    fn open_faulty(fs: &FaultyFs, dir: &Path, config: LogConfig, clean: bool) -> PartitionLog {
        PartitionLog::open(
            Arc::new(fs.clone()),
            dir,
            config,
            Checkpoints::default(),
            clean,
        )
        .expect("log opens")
        .0
    }

    #[test]
    fn full_disk_torn_append_is_not_counted_by_a_clean_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultyFs::new();
        let mut log = open_faulty(&fs, dir.path(), LogConfig::default(), true);
        log.append(&batch(2, 100, NOW), 0, NOW).unwrap();
        log.flush().unwrap();
        // Room for a batch header and a little more: the refused append
        // leaves a whole header past the end of the segment.
        fs.faults
            .space_left
            .store(150, std::sync::atomic::Ordering::SeqCst);
        assert!(matches!(
            log.append(&batch(2, 100, NOW), 0, NOW),
            Err(Error::DiskFull { .. })
        ));
        fs.faults
            .space_left
            .store(u64::MAX, std::sync::atomic::Ordering::SeqCst);
        log.close().unwrap();
        let mut log = open_faulty(&fs, dir.path(), LogConfig::default(), true);
        assert_eq!(log.log_end_offset(), 2, "the refused batch is not there");
        assert_eq!(
            log.append(&batch(1, 100, NOW), 0, NOW)
                .unwrap()
                .first_offset,
            2
        );
        log.flush().unwrap();
        log.set_high_watermark(3);
        assert_eq!(
            batch_offsets(&log.read(0, 1 << 20, 3).unwrap()),
            vec![(0, 1), (2, 2)]
        );
    }

    #[test]
    fn full_disk_torn_append_is_not_kept_in_a_segment_that_rolls() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultyFs::new();
        let config = small_config();
        let mut log = open_faulty(&fs, dir.path(), config.clone(), true);
        log.append(&batch(2, 100, NOW), 0, NOW).unwrap();
        fs.faults
            .space_left
            .store(150, std::sync::atomic::Ordering::SeqCst);
        assert!(log.append(&batch(2, 100, NOW), 0, NOW).is_err());
        fs.faults
            .space_left
            .store(u64::MAX, std::sync::atomic::Ordering::SeqCst);
        // Too big for what is left of the first segment: it rolls, with the
        // refused bytes (if any were kept) at its end.
        log.append(&batch(3, 1300, NOW), 0, NOW).unwrap();
        assert_eq!(log.segments().count(), 2);
        log.flush().unwrap();
        let recovery_point = log.recovery_point();
        drop(log);
        // An unclean start trusts the segments below the recovery point.
        let (mut log, _) = PartitionLog::open(
            Arc::new(fs.clone()),
            dir.path(),
            config,
            Checkpoints {
                recovery_point: Some(recovery_point),
                log_start_offset: Some(0),
            },
            false,
        )
        .unwrap();
        assert_eq!(log.log_end_offset(), 5);
        log.set_high_watermark(5);
        let mut seen = Vec::new();
        let mut offset = 0;
        while offset < 5 {
            let read = batch_offsets(&log.read(offset, 1 << 20, 5).unwrap());
            offset = read.last().unwrap().1 + 1;
            seen.extend(read);
        }
        assert_eq!(seen, vec![(0, 1), (2, 4)]);
    }

    #[test]
    fn full_disk_during_indexing_leaves_the_segment_able_to_append() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultyFs::new();
        // An index entry (and a time index entry) for every batch but the first.
        let config = small_config();
        let mut log = open_faulty(&fs, dir.path(), config, true);
        log.append(&batch(2, 100, NOW), 0, NOW).unwrap();
        let next = batch(2, 100, NOW + 10);
        // The log write and the offset index entry fit; the time index entry
        // does not.
        fs.faults
            .space_left
            .store(next.len() as u64 + 8, std::sync::atomic::Ordering::SeqCst);
        assert!(matches!(
            log.append(&next, 0, NOW),
            Err(Error::DiskFull { .. })
        ));
        assert_eq!(log.log_end_offset(), 2);
        fs.faults
            .space_left
            .store(u64::MAX, std::sync::atomic::Ordering::SeqCst);
        for expected in [2, 4, 6] {
            assert_eq!(log.append(&next, 0, NOW).unwrap().first_offset, expected);
        }
        log.flush().unwrap();
        log.set_high_watermark(8);
        assert_eq!(
            batch_offsets(&log.read(0, 1 << 20, 8).unwrap()),
            vec![(0, 1), (2, 3), (4, 5), (6, 7)]
        );
        assert_eq!(batch_offsets(&log.read(5, 1 << 20, 8).unwrap())[0], (4, 5));
    }

    #[test]
    fn failed_fsync_is_an_error_and_the_recovery_point_stays() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultyFs::new();
        let (mut log, _) = PartitionLog::open(
            Arc::new(fs.clone()),
            dir.path(),
            LogConfig::default(),
            Checkpoints::default(),
            true,
        )
        .unwrap();
        log.append(&batch(2, 100, NOW), 0, NOW).unwrap();
        fs.faults
            .fail_sync
            .store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(log.flush().is_err());
        assert_eq!(log.recovery_point(), 0);
    }

    fn idempotent(pid: i64, epoch: i16, seq: i32, records: usize) -> Bytes {
        let mut builder = RecordBatchBuilder::new(Compression::None).producer(pid, epoch, seq);
        for i in 0..records {
            builder
                .append(NOW + i as i64, None, Some(Bytes::from_static(b"v")), vec![])
                .unwrap();
        }
        builder.build().unwrap().into_bytes()
    }

    #[test]
    fn a_retried_idempotent_batch_is_acknowledged_with_its_first_offsets_and_not_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default());
        let first = log.append(&idempotent(42, 0, 0, 3), 0, NOW).unwrap();
        assert_eq!(
            (first.first_offset, first.last_offset, first.duplicate),
            (0, 2, false)
        );
        let again = log.append(&idempotent(42, 0, 0, 3), 0, NOW).unwrap();
        assert_eq!(
            (again.first_offset, again.last_offset, again.duplicate),
            (0, 2, true)
        );
        assert_eq!(log.log_end_offset(), 3);
        assert!(matches!(
            log.append(&idempotent(42, 0, 5, 1), 0, NOW),
            Err(Error::OutOfOrderSequence(_))
        ));
        assert!(matches!(
            log.append(&idempotent(42, -1, 3, 1), 0, NOW),
            Err(Error::InvalidProducerEpoch(_))
        ));
        assert_eq!(
            log.append(&idempotent(42, 0, 3, 1), 0, NOW)
                .unwrap()
                .first_offset,
            3
        );
        assert_eq!(log.log_end_offset(), 4);
    }

    #[test]
    fn producer_state_survives_clean_and_unclean_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), small_config());
        let mut seq = 0;
        for _ in 0..120 {
            log.append(&idempotent(7, 0, seq, 2), 0, NOW).unwrap();
            seq += 2;
        }
        assert!(
            log.segments().count() > 1,
            "rolled, so a snapshot was written"
        );
        log.close().unwrap();
        let snapshots = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "snapshot")
            })
            .count();
        assert!((1..=2).contains(&snapshots), "{snapshots} snapshots kept");
        let mut log = open(dir.path(), small_config());
        // The last batch is recognised as a retry after the restart.
        let dup = log.append(&idempotent(7, 0, seq - 2, 2), 0, NOW).unwrap();
        assert!(dup.duplicate);
        log.append(&idempotent(7, 0, seq, 2), 0, NOW).unwrap();
        seq += 2;
        log.flush().unwrap();
        drop(log); // no clean close: the state comes from a snapshot and the log after it
        let (mut log, _) = PartitionLog::open(
            Arc::new(OsFs),
            dir.path(),
            small_config(),
            Checkpoints::default(),
            false,
        )
        .unwrap();
        assert!(
            log.append(&idempotent(7, 0, seq - 2, 2), 0, NOW)
                .unwrap()
                .duplicate
        );
        assert!(matches!(
            log.append(&idempotent(7, 0, seq + 2, 1), 0, NOW),
            Err(Error::OutOfOrderSequence(_))
        ));
        assert!(
            !log.append(&idempotent(7, 0, seq, 1), 0, NOW)
                .unwrap()
                .duplicate
        );
    }

    /// Which files a round may only write back: those whose data lies in
    /// blocks an earlier fdatasync made durable.
    #[test]
    fn only_data_inside_synced_blocks_is_left_to_a_write_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default());
        let kinds = |log: &PartitionLog| {
            log.unflushed()
                .files
                .iter()
                .map(|f| f.overwrite_only)
                .collect::<Vec<_>>()
        };
        log.append(&batch(2, 100, NOW), 0, NOW).unwrap();
        assert_eq!(kinds(&log), [false], "a new segment grows: fdatasync");
        let planned = log.unflushed();
        for f in &planned.files {
            f.file.sync_data().unwrap();
        }
        log.mark_flushed(&planned);
        log.append(&batch(2, 100, NOW), 0, NOW).unwrap();
        assert_eq!(
            kinds(&log),
            [true],
            "inside the zeros the fdatasync made durable"
        );
        // More zeros go on before those run out; data past the synced ones
        // needs the fdatasync that commits them.
        let synced_len = planned.files[0].file_len;
        while log.active().size() <= synced_len {
            log.append(&batch(10, 1000, NOW), 0, NOW).unwrap();
            assert!(log.active().file_len() > log.active().size());
        }
        assert_eq!(kinds(&log), [false]);
    }

    #[test]
    fn a_request_refused_for_a_sequence_leaves_the_producers_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default());
        let two = |a: Bytes, b: Bytes| Bytes::from([a.as_ref(), b.as_ref()].concat());
        // Two batches of one producer in one request follow each other.
        let info = log
            .append(&two(idempotent(7, 0, 0, 2), idempotent(7, 0, 2, 1)), 0, NOW)
            .unwrap();
        assert_eq!((info.first_offset, info.last_offset), (0, 2));
        // A good batch followed by a gap: neither is written or remembered.
        assert!(matches!(
            log.append(&two(idempotent(7, 0, 3, 1), idempotent(7, 0, 9, 1)), 0, NOW),
            Err(Error::OutOfOrderSequence(_))
        ));
        assert_eq!(log.log_end_offset(), 3);
        let retry = log.append(&idempotent(7, 0, 3, 1), 0, NOW).unwrap();
        assert_eq!((retry.first_offset, retry.duplicate), (3, false));
    }

    /// A client retries every batch it has no answer for, oldest first; a
    /// restart between the write and the answer must not turn those retries
    /// into OUT_OF_ORDER_SEQUENCE (franz-go calls that data loss).
    #[test]
    fn the_last_five_batches_are_recognised_as_retries_after_a_restart() {
        for clean in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let mut log = open(dir.path(), small_config());
            let mut seq = 0;
            // Write until a roll has just happened, so that the newest
            // snapshot sits right behind the batches a client would retry.
            let rolled_at = loop {
                let segments = log.segments().count();
                log.append(&idempotent(7, 0, seq, 2), 0, NOW).unwrap();
                seq += 2;
                if log.segments().count() > segments && segments > 1 {
                    break seq - 2;
                }
            };
            // One more after the roll: of the last five, three came before it.
            log.append(&idempotent(7, 0, seq, 2), 0, NOW).unwrap();
            seq += 2;
            let end = log.log_end_offset();
            if clean {
                log.close().unwrap();
            } else {
                log.flush().unwrap();
                drop(log);
            }
            let (mut log, _) = PartitionLog::open(
                Arc::new(OsFs),
                dir.path(),
                small_config(),
                Checkpoints::default(),
                clean,
            )
            .unwrap();
            for retried in (seq - 10..seq).step_by(2) {
                let info = log.append(&idempotent(7, 0, retried, 2), 0, NOW);
                assert!(
                    info.as_ref().is_ok_and(|i| i.duplicate),
                    "clean {clean}: the retry of sequence {retried} (roll before {rolled_at}): {info:?}"
                );
            }
            assert_eq!(
                log.log_end_offset(),
                end,
                "clean {clean}: nothing written twice"
            );
            assert!(
                !log.append(&idempotent(7, 0, seq, 1), 0, NOW)
                    .unwrap()
                    .duplicate
            );
        }
    }

    #[test]
    fn a_compacted_log_refuses_records_without_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(
            dir.path(),
            LogConfig {
                compact: true,
                ..LogConfig::default()
            },
        );
        let mut keyless = RecordBatchBuilder::new(Compression::Gzip);
        keyless
            .append(
                NOW,
                Some(Bytes::from_static(b"k")),
                Some(Bytes::from_static(b"v")),
                vec![],
            )
            .unwrap();
        keyless
            .append(NOW, None, Some(Bytes::from_static(b"v")), vec![])
            .unwrap();
        let keyless = keyless.build().unwrap().into_bytes();
        assert!(matches!(
            log.append(&keyless, 0, NOW),
            Err(Error::InvalidRecord(_))
        ));
        assert_eq!(
            log.append(&batch(2, 10, NOW), 0, NOW).unwrap().first_offset,
            0
        );
    }
}
