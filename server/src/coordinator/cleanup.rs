//! Offset retention, and keeping `__consumer_offsets` bounded until storage
//! has a log cleaner.
//!
//! Retention (`offsets.retention.minutes`, checked every
//! `offsets.retention.check.interval.ms`, Kafka's keys and defaults): which
//! offsets expire is [`Group::expired_offsets`] (Kafka's rules: an Empty
//! group's offsets count from when it became Empty, a simple group's from
//! their commit, a live consumer group keeps the offsets of topics it
//! subscribes to). Expired offsets get tombstones; a group left Empty
//! without offsets is removed and its group record gets a tombstone, as
//! Kafka's cleanup does. Both leave memory at once, as DeleteGroups does: a
//! failed write brings them back at the next start, never the other way.
//!
//! Compaction. A partition of `__consumer_offsets` holds, per key, only its
//! last record that matters: a group's latest group record and the latest
//! commit of each of its partitions, and a consumer-protocol group's
//! current records (its epochs, members and assignments). When a partition holds at least
//! [`COMPACT_MIN_RECORDS`] records and at least [`COMPACT_RATIO`] times as
//! many as it has live keys (checked every [`COMPACT_CHECK_MS`]), it is
//! rewritten in place of a cleaner:
//! 1. under the groups lock, and only when every group on the partition is
//!    settled (no commit appended and not yet applied, so memory says what
//!    the log says): roll the partition, so what follows starts a segment;
//!    then append the live state again: the same values with their
//!    original commit timestamps (so retention is unchanged);
//! 2. once those batches are durable, move the log start offset to the
//!    first of them (DeleteRecords), which deletes every older segment.
//!
//! Everything appended later lands after the copy, because appends to this
//! topic only happen under the groups lock and a partition's appends keep
//! their order. A crash before step 2 leaves the old records and the copy:
//! replaying both gives the same state, the copy being the last word on each
//! key. So a partition stays below about `COMPACT_RATIO` x live keys (or
//! `COMPACT_MIN_RECORDS`) plus what is written between two checks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use strata_storage::checkpoint::TopicPartition;

use super::consumer_records;
use super::group::Group;
use super::records::{self, OffsetValue};
use super::{GroupCoordinator, OFFSETS_TOPIC, batch_of, partition_for};
use crate::broker::{Broker, now_ms};

/// Below this many records a partition is never rewritten.
pub const COMPACT_MIN_RECORDS: i64 = 1_000;
/// Rewrite once records reach this many times the live keys.
pub const COMPACT_RATIO: i64 = 2;
/// How often partitions are looked at for compaction.
pub const COMPACT_CHECK_MS: i64 = 10_000;
/// A rewrite's records go in batches of at most this many records or
/// about this many bytes, well under the topic's `max.message.bytes`.
const COPY_BATCH_RECORDS: usize = 1_000;
const COPY_BATCH_BYTES: usize = 256 * 1024;

/// What one retention pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    pub offsets: usize,
    pub groups: usize,
}

/// What one compaction of a partition did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    pub partition: i32,
    /// Records in the partition before (log end - log start).
    pub records_before: i64,
    /// Live records written again.
    pub live: usize,
    /// The new log start offset.
    pub log_start: i64,
}

impl GroupCoordinator {
    /// One retention pass at wall-clock time `wall_ms`; answers when the
    /// tombstones are durable (or failed: then logged).
    pub async fn expire_offsets(&self, broker: &Arc<Broker>, wall_ms: i64) -> Expired {
        let Some(n) = self.offsets_partitions() else {
            return Expired::default();
        };
        let retention_ms = self.config.offsets_retention_ms;
        let mut done = Expired::default();
        let mut writes = Vec::new();
        {
            let mut groups = self.lock();
            let mut consumer = self.consumer_lock();
            let mut removed = Vec::new();
            for (id, group) in groups.iter_mut() {
                if !group.settled() {
                    continue;
                }
                let consumer_group = consumer.get(id);
                let subscription = consumer_group.map(|g| g.subscribed_topics());
                let expired = group.expired_offsets(wall_ms, retention_ms, subscription.as_ref());
                let members_left = match consumer_group {
                    Some(g) => !g.is_empty(),
                    None => !group.is_idle(),
                };
                let remove = group.offsets().len() == expired.len()
                    && !members_left
                    && group.state() == super::group::GroupState::Empty;
                if expired.is_empty() && !remove {
                    continue;
                }
                let mut tombstones: Vec<(Bytes, Option<Bytes>)> = expired
                    .iter()
                    .map(|(t, p)| (records::offset_key(id, t, *p), None))
                    .collect();
                if remove {
                    tombstones.push((records::group_key(id), None));
                    removed.push(id.clone());
                }
                tracing::info!(
                    group = %id,
                    offsets = expired.len(),
                    removed = remove,
                    "offsets expired (offsets.retention.minutes)"
                );
                done.offsets += expired.len();
                group.remove_offsets(&expired);
                let tp = TopicPartition::new(OFFSETS_TOPIC, partition_for(id, n));
                writes.push((
                    id.clone(),
                    broker.logs.append(&tp, batch_of(tombstones), 0, now_ms()),
                ));
            }
            for id in removed {
                groups.remove(&id);
                if let Some(g) = consumer.remove(&id) {
                    if let Some(rx) = self.append_consumer_records(broker, &id, g.removal()) {
                        writes.push((id.clone(), rx));
                    }
                }
                done.groups += 1;
            }
        }
        for (id, rx) in writes {
            match rx.await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(group = %id, error = %e, "expired offsets not deleted on disk")
                }
                Err(_) => tracing::warn!(group = %id, "expired offsets not deleted on disk"),
            }
        }
        done
    }

    /// Records in each partition of `__consumer_offsets` and its live keys
    /// (group records and committed offsets of the groups it holds).
    fn partition_usage(&self, broker: &Broker, n: i32) -> BTreeMap<i32, (i64, usize)> {
        let mut live: BTreeMap<i32, usize> = BTreeMap::new();
        for (id, g) in self.lock().iter() {
            *live.entry(partition_for(id, n)).or_default() +=
                g.offsets().len() + usize::from(g.stored_metadata().is_some());
        }
        for (id, g) in self.consumer_lock().iter() {
            *live.entry(partition_for(id, n)).or_default() += g.stored().len();
        }
        (0..n)
            .filter_map(|p| {
                let log = broker
                    .logs
                    .partition(&TopicPartition::new(OFFSETS_TOPIC, p))?;
                let records = log.with_log(|l| l.log_end_offset() - l.log_start_offset());
                Some((p, (records, live.get(&p).copied().unwrap_or(0))))
            })
            .collect()
    }

    /// Compacts every partition that needs it (see the module doc).
    /// Blocking: file I/O and waits for durability; run it off the async
    /// threads.
    pub fn compact_offsets_blocking(&self, broker: &Arc<Broker>) -> Vec<Compacted> {
        let Some(n) = self.offsets_partitions() else {
            return Vec::new();
        };
        let mut done = Vec::new();
        for (p, (records, live)) in self.partition_usage(broker, n) {
            if records >= COMPACT_MIN_RECORDS && records >= COMPACT_RATIO * live as i64 {
                match self.compact_partition_blocking(broker, n, p) {
                    Ok(Some(c)) => {
                        tracing::info!(
                            partition = p,
                            records_before = c.records_before,
                            live = c.live,
                            log_start = c.log_start,
                            "compacted {OFFSETS_TOPIC}"
                        );
                        done.push(c);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(partition = p, error = %e, "compacting {OFFSETS_TOPIC} failed")
                    }
                }
            }
        }
        done
    }

    /// Rewrites partition `p` now, whatever its size; `None` when a group
    /// on it is not settled (try again later).
    pub fn compact_partition_blocking(
        &self,
        broker: &Arc<Broker>,
        n: i32,
        p: i32,
    ) -> Result<Option<Compacted>, String> {
        let tp = TopicPartition::new(OFFSETS_TOPIC, p);
        let Some(log) = broker.logs.partition(&tp) else {
            return Ok(None);
        };
        let (records_before, live, replies) = {
            let groups = self.lock();
            let on_partition: Vec<(&String, &Group)> = groups
                .iter()
                .filter(|(id, _)| partition_for(id, n) == p)
                .collect();
            if on_partition.iter().any(|(_, g)| !g.settled()) {
                return Ok(None);
            }
            let records_before = log.with_log(|l| l.log_end_offset() - l.log_start_offset());
            broker.logs.roll(&tp).map_err(|e| e.to_string())?;
            let mut copy: Vec<(Bytes, Option<Bytes>)> = Vec::new();
            // Consumer-protocol groups first, as their changes were written.
            for (id, g) in self.consumer_lock().iter() {
                if partition_for(id, n) == p {
                    copy.extend(consumer_records::diff(&BTreeMap::new(), g.stored()));
                }
            }
            for (id, g) in on_partition {
                if let Some(m) = g.stored_metadata() {
                    copy.push((records::group_key(id), Some(records::group_value(m))));
                }
                for ((topic, partition), o) in g.offsets() {
                    let value = OffsetValue {
                        offset: o.offset,
                        leader_epoch: o.leader_epoch,
                        metadata: o.metadata.clone(),
                        commit_timestamp: o.commit_timestamp,
                    };
                    copy.push((
                        records::offset_key(id, topic, *partition),
                        Some(records::offset_value(&value)),
                    ));
                }
            }
            let live = copy.len();
            let mut replies = Vec::new();
            let mut batch = Vec::new();
            let mut bytes = 0;
            for (key, value) in copy {
                bytes += key.len() + value.as_ref().map_or(0, Bytes::len);
                batch.push((key, value));
                if batch.len() >= COPY_BATCH_RECORDS || bytes >= COPY_BATCH_BYTES {
                    let records = batch_of(std::mem::take(&mut batch));
                    replies.push(broker.logs.append(&tp, records, 0, now_ms()));
                    bytes = 0;
                }
            }
            if !batch.is_empty() {
                replies.push(broker.logs.append(&tp, batch_of(batch), 0, now_ms()));
            }
            (records_before, live, replies)
        };
        let mut first = None;
        for rx in replies {
            let info = rx
                .blocking_recv()
                .map_err(|_| "the storage thread went away".to_owned())?
                .map_err(|e| e.to_string())?;
            first.get_or_insert(info.first_offset);
        }
        // Nothing live: everything up to the log end goes.
        let start = match first {
            Some(offset) => offset,
            None => log.high_watermark(),
        };
        let log_start = broker
            .logs
            .delete_records(&tp, start)
            .map_err(|e| e.to_string())?;
        Ok(Some(Compacted {
            partition: p,
            records_before,
            live,
            log_start,
        }))
    }

    /// Runs retention and compaction when they are due; called by the
    /// coordinator's timer. At most one of each runs at a time.
    pub(super) fn run_cleanup_if_due(&self, broker: &Arc<Broker>, now: i64) {
        let due = |last: &std::sync::atomic::AtomicI64, every: i64| {
            let before = last.load(Ordering::Acquire);
            now - before >= every
                && last
                    .compare_exchange(before, now, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
        };
        if self.offsets_partitions().is_none() {
            return;
        }
        if due(
            &self.last_retention,
            self.config.offsets_retention_check_interval_ms,
        ) && !self.retention_running.swap(true, Ordering::AcqRel)
        {
            let b = broker.clone();
            tokio::spawn(async move {
                let done = b.groups.expire_offsets(&b, now_ms()).await;
                if done != Expired::default() {
                    tracing::info!(
                        offsets = done.offsets,
                        groups = done.groups,
                        "offset retention"
                    );
                }
                b.groups.retention_running.store(false, Ordering::Release);
            });
        }
        if due(&self.last_compaction, COMPACT_CHECK_MS)
            && !self.compaction_running.swap(true, Ordering::AcqRel)
        {
            let b = broker.clone();
            tokio::task::spawn_blocking(move || {
                b.groups.compact_offsets_blocking(&b);
                b.groups.compaction_running.store(false, Ordering::Release);
            });
        }
    }
}
