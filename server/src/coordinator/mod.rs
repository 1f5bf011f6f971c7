//! The group coordinator (classic protocol; KIP-848 consumer protocol in
//! [`consumer`]) and committed offsets.
//!
//! Owns: every consumer group this broker coordinates (all of them: one
//! broker), their committed offsets, and the internal topic
//! `__consumer_offsets` that makes both durable.
//!
//! Never: reads a clock inside a group's state machine ([`group`] gets the
//! time passed in), holds its lock across an `.await` or a disk read, or
//! acknowledges a commit before its record is durable.
//!
//! Modules:
//! - [`group`]: one group's state machine (Empty, PreparingRebalance,
//!   CompletingRebalance, Stable, Dead), unit-tested on a driven clock.
//! - [`records`]: the `__consumer_offsets` key/value formats (Kafka's).
//! - [`consumer_group`], [`assignor`], [`consumer`]: consumer-protocol
//!   groups (KIP-848): one group's state machine, the server-side
//!   assignors, and how they sit beside classic groups (in memory only).
//!
//! Storage. `__consumer_offsets` is created on first use with
//! `offsets.topic.num.partitions` partitions (default 50, as Kafka) and
//! `cleanup.policy=compact`; group `g` lives on partition
//! `abs(java_string_hash(g)) % partitions`. Every commit, offset deletion,
//! group deletion, and group record (a generation's assignment, a group
//! becoming empty, a static member replaced) is a batch appended to that
//! partition; a commit is acknowledged once its append is (durable: the
//! topic keeps the broker's default fsync-before-ack). At start-up
//! [`GroupCoordinator::load`] reads every partition from its log start; the
//! last value per key wins, a null value deletes.
//!
//! Growth and retention: [`cleanup`]. Storage has no log cleaner yet, so
//! the coordinator rewrites a partition of the topic itself once most of it
//! is superseded records (copy the live state, then move the log start past
//! the old records), and expires offsets as `offsets.retention.minutes`
//! says. Time and size retention stay off for the topic
//! (`retention.ms=-1`, `retention.bytes=-1`): they would drop live offsets.
//!
//! Locking. One `Mutex` over all groups, held only for in-memory work and
//! for handing batches to the storage thread (`LogManager::append` only
//! queues), so appends reach a partition in the order the state changed.
//! The design's per-partition coordinator tasks would shard this lock; one
//! lock is enough for one broker's groups for now.
//!
//! Timers. A task started at start-up (or on first use) ticks every group
//! every 100 ms: session timeouts, rebalance timeouts, the initial
//! rebalance delay and pending-sync expiry all run from those ticks, and
//! retention and compaction start from them when due.

pub mod assignor;
pub mod cleanup;
pub mod consumer;
pub mod consumer_group;
pub mod consumer_records;
pub mod group;
pub mod records;

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use strata_protocol::records::{Compression, RecordBatchBuilder, batches};
use strata_storage::checkpoint::TopicPartition;
use strata_storage::log::AppendInfo;
use strata_storage::manager::LogManager;

use crate::broker::{Broker, now_ms};
use crate::error_code::{ErrorCode, storage_error_code};
use group::{
    CommittedOffset, Effect, Group, GroupConfig, GroupState, JoinRequest, JoinResult,
    MemberDescription, Millis, SyncResult,
};
use records::{OffsetValue, OffsetsRecord};

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Kafka's broker keys for groups and offsets, with Kafka's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoordinatorConfig {
    /// `offsets.topic.num.partitions` (50).
    pub offsets_topic_partitions: i32,
    /// `group.min.session.timeout.ms` (6000).
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms` (1800000).
    pub max_session_timeout_ms: i32,
    /// `offset.metadata.max.bytes` (4096).
    pub offset_metadata_max_bytes: usize,
    /// `group.initial.rebalance.delay.ms` (3000).
    pub group: GroupConfig,
    /// `group.consumer.*`: consumer-protocol groups.
    pub consumer: consumer_group::ConsumerGroupConfig,
    /// `offsets.retention.minutes` (10080, 7 days), in ms.
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms` (600000).
    pub offsets_retention_check_interval_ms: i64,
    /// `offsets.topic.segment.bytes` (104857600): `segment.bytes` of
    /// `__consumer_offsets` when it is created.
    pub offsets_topic_segment_bytes: i64,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            offsets_topic_partitions: 50,
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            offset_metadata_max_bytes: 4096,
            group: GroupConfig {
                initial_rebalance_delay_ms: 3_000,
            },
            consumer: consumer_group::ConsumerGroupConfig::default(),
            offsets_retention_ms: 10_080 * 60_000,
            offsets_retention_check_interval_ms: 600_000,
            offsets_topic_segment_bytes: 104_857_600,
        }
    }
}

impl CoordinatorConfig {
    /// From the broker's `key=value` settings; a value that is not a number
    /// keeps the default (and is logged).
    pub fn from_settings(settings: &BTreeMap<String, String>) -> CoordinatorConfig {
        let d = CoordinatorConfig::default();
        let num = |key: &str, default: i64| -> i64 {
            match settings.get(key).map(|v| v.trim().parse::<i64>()) {
                None => default,
                Some(Ok(v)) => v,
                Some(Err(_)) => {
                    tracing::warn!(key, "not a number; using the default");
                    default
                }
            }
        };
        CoordinatorConfig {
            offsets_topic_partitions: num("offsets.topic.num.partitions", 50).clamp(1, 10_000)
                as i32,
            min_session_timeout_ms: num("group.min.session.timeout.ms", 6_000)
                .clamp(0, i64::from(i32::MAX)) as i32,
            max_session_timeout_ms: num("group.max.session.timeout.ms", 1_800_000)
                .clamp(0, i64::from(i32::MAX)) as i32,
            offset_metadata_max_bytes: num("offset.metadata.max.bytes", 4096).max(0) as usize,
            group: GroupConfig {
                initial_rebalance_delay_ms: num(
                    "group.initial.rebalance.delay.ms",
                    d.group.initial_rebalance_delay_ms,
                )
                .max(0),
            },
            consumer: consumer_group::ConsumerGroupConfig {
                heartbeat_interval_ms: num(
                    "group.consumer.heartbeat.interval.ms",
                    i64::from(d.consumer.heartbeat_interval_ms),
                )
                .clamp(1, i64::from(i32::MAX)) as i32,
                session_timeout_ms: num(
                    "group.consumer.session.timeout.ms",
                    i64::from(d.consumer.session_timeout_ms),
                )
                .clamp(1, i64::from(i32::MAX)) as i32,
                max_size: num("group.consumer.max.size", i64::from(i32::MAX)).max(1) as usize,
            },
            offsets_retention_ms: num("offsets.retention.minutes", 10_080)
                .clamp(1, i64::MAX / 60_000)
                * 60_000,
            offsets_retention_check_interval_ms: num(
                "offsets.retention.check.interval.ms",
                d.offsets_retention_check_interval_ms,
            )
            .max(1),
            // Kafka's lower bound for segment.bytes is 14 (a batch header).
            offsets_topic_segment_bytes: num(
                "offsets.topic.segment.bytes",
                d.offsets_topic_segment_bytes,
            )
            .clamp(14, i64::from(i32::MAX)),
        }
    }
}

/// Java's `String.hashCode` (over UTF-16 code units), which Kafka uses to
/// place a group on a partition of `__consumer_offsets`.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// Kafka's `Utils.abs(groupId.hashCode) % partitions`.
pub fn partition_for(group_id: &str, partitions: i32) -> i32 {
    let h = java_string_hash(group_id);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}

/// One partition's offset to commit.
#[derive(Debug, Clone)]
pub struct CommitItem {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
}

/// A group as DescribeGroups shows it.
#[derive(Debug, Clone)]
pub struct GroupDescription {
    pub state: GroupState,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<MemberDescription>,
}

/// A group as ListGroups shows it.
#[derive(Debug, Clone)]
pub struct GroupListing {
    pub group_id: String,
    pub protocol_type: String,
    /// The state's name in its protocol's vocabulary ("Stable", "Empty",
    /// "Reconciling", ...).
    pub state: &'static str,
    /// "classic" or "consumer" (KIP-848).
    pub group_type: &'static str,
}

/// What a storage failure of a coordinator write tells the client (Kafka's
/// mapping in its group metadata manager).
fn write_error(code: ErrorCode) -> ErrorCode {
    match code {
        ErrorCode::UnknownTopicOrPartition => ErrorCode::CoordinatorNotAvailable,
        ErrorCode::KafkaStorageError => ErrorCode::NotCoordinator,
        ErrorCode::MessageTooLarge | ErrorCode::RecordListTooLarge => {
            ErrorCode::InvalidCommitOffsetSize
        }
        _ => ErrorCode::UnknownServerError,
    }
}

#[derive(Debug)]
pub struct GroupCoordinator {
    config: CoordinatorConfig,
    clock_base: Instant,
    groups: Mutex<BTreeMap<String, Group>>,
    /// Partitions of `__consumer_offsets`; 0 until it exists.
    partitions: AtomicI32,
    ticker_started: AtomicBool,
    creating: tokio::sync::Mutex<()>,
    /// Consumer-protocol groups (see [`consumer`]); locked after `groups`.
    consumer_groups: Mutex<consumer::ConsumerGroups>,
    /// Wall-clock ms of the last retention pass and compaction check
    /// ([`cleanup`]), and whether one is running.
    last_retention: AtomicI64,
    last_compaction: AtomicI64,
    retention_running: AtomicBool,
    compaction_running: AtomicBool,
}

type Groups = BTreeMap<String, Group>;

impl GroupCoordinator {
    /// Rebuilds the groups and offsets from `__consumer_offsets` if it
    /// exists (`partitions`). Reads run on the caller's thread (start-up,
    /// off the async runtime). A partition that cannot be read is logged and
    /// what was read before the failure is kept.
    pub fn load(
        config: CoordinatorConfig,
        logs: &LogManager,
        partitions: Option<i32>,
        topics: &consumer_group::Topics,
    ) -> GroupCoordinator {
        let coordinator = GroupCoordinator {
            config,
            clock_base: Instant::now(),
            groups: Mutex::new(BTreeMap::new()),
            partitions: AtomicI32::new(partitions.unwrap_or(0)),
            ticker_started: AtomicBool::new(false),
            creating: tokio::sync::Mutex::new(()),
            consumer_groups: Mutex::new(BTreeMap::new()),
            // As Kafka: the first pass comes one interval after start-up.
            last_retention: AtomicI64::new(now_ms()),
            last_compaction: AtomicI64::new(now_ms()),
            retention_running: AtomicBool::new(false),
            compaction_running: AtomicBool::new(false),
        };
        let Some(partitions) = partitions else {
            return coordinator;
        };
        let mut metadata: BTreeMap<String, Option<group::GroupMetadata>> = BTreeMap::new();
        let mut offsets: BTreeMap<String, BTreeMap<(String, i32), CommittedOffset>> =
            BTreeMap::new();
        let mut persisted: BTreeMap<String, consumer_records::Persisted> = BTreeMap::new();
        let mut records = 0u64;
        for p in 0..partitions {
            let tp = TopicPartition::new(OFFSETS_TOPIC, p);
            read_partition(logs, &tp, |record_offset, record| {
                records += 1;
                match record {
                    OffsetsRecord::Offset {
                        group,
                        topic,
                        partition,
                        value,
                    } => {
                        let map = offsets.entry(group).or_default();
                        match value {
                            Some(v) => {
                                map.insert(
                                    (topic, partition),
                                    CommittedOffset {
                                        offset: v.offset,
                                        leader_epoch: v.leader_epoch,
                                        metadata: v.metadata,
                                        commit_timestamp: v.commit_timestamp,
                                        record_offset,
                                    },
                                );
                            }
                            None => {
                                map.remove(&(topic, partition));
                            }
                        }
                    }
                    OffsetsRecord::Group { group, value } => {
                        metadata.insert(group, value);
                    }
                    OffsetsRecord::ConsumerGroup { key, value } => {
                        let p = persisted.entry(key.group.clone()).or_default();
                        if let Err(reason) = consumer_records::apply(p, &key, value) {
                            tracing::warn!(group = %key.group, offset = record_offset, reason, "skipping a consumer group record");
                        }
                    }
                }
            });
        }
        let now = coordinator.now();
        let wall = now_ms();
        let mut groups = BTreeMap::new();
        let ids: BTreeSet<String> = metadata.keys().chain(offsets.keys()).cloned().collect();
        for id in ids {
            let m = metadata.remove(&id).flatten();
            let o = offsets.remove(&id).unwrap_or_default();
            if m.is_none() && o.is_empty() {
                continue;
            }
            groups.insert(
                id.clone(),
                Group::loaded(&id, config.group, m, o, now, wall),
            );
        }
        let mut consumer_groups = BTreeMap::new();
        for (id, p) in persisted {
            let Some(g) =
                consumer_group::ConsumerGroup::restore(&id, config.consumer, p, topics, now)
            else {
                continue;
            };
            // Its offsets live in the classic group of the same id.
            groups
                .entry(id.clone())
                .or_insert_with(|| Group::new(&id, config.group, wall));
            consumer_groups.insert(id, g);
        }
        tracing::info!(
            groups = groups.len(),
            consumer_protocol_groups = consumer_groups.len(),
            records,
            partitions,
            "loaded consumer groups from {OFFSETS_TOPIC}"
        );
        *coordinator.lock() = groups;
        *coordinator.consumer_lock() = consumer_groups;
        coordinator
    }

    pub fn config(&self) -> &CoordinatorConfig {
        &self.config
    }

    fn now(&self) -> Millis {
        self.clock_base.elapsed().as_millis() as Millis
    }

    fn lock(&self) -> MutexGuard<'_, Groups> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Partitions of `__consumer_offsets`, if it exists yet.
    pub fn offsets_partitions(&self) -> Option<i32> {
        let n = self.partitions.load(Ordering::Acquire);
        (n > 0).then_some(n)
    }

    /// Creates `__consumer_offsets` if it does not exist; its partition
    /// count. Also starts the timer task on first use.
    pub async fn ensure_topic(&self, broker: &Arc<Broker>) -> Result<i32, ErrorCode> {
        self.start_ticker(broker);
        if let Some(n) = self.offsets_partitions() {
            return Ok(n);
        }
        let _creating = self.creating.lock().await;
        if let Some(t) = broker.metadata().topic(OFFSETS_TOPIC) {
            self.partitions.store(t.partitions, Ordering::Release);
            return Ok(t.partitions);
        }
        let b = broker.clone();
        let n = self.config.offsets_topic_partitions;
        let segment_bytes = self.config.offsets_topic_segment_bytes.to_string();
        let configs: BTreeMap<String, String> = [
            ("cleanup.policy", "compact"),
            // Bounded by the coordinator's own compaction (cleanup.rs);
            // time or size retention would lose live offsets.
            ("retention.ms", "-1"),
            ("retention.bytes", "-1"),
            ("segment.bytes", segment_bytes.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let created = tokio::task::spawn_blocking(move || {
            b.create_topic(OFFSETS_TOPIC, n, 1, configs, false)
        })
        .await;
        match created {
            Ok(Ok(meta)) => {
                self.partitions.store(meta.partitions, Ordering::Release);
                Ok(meta.partitions)
            }
            Ok(Err((ErrorCode::TopicAlreadyExists, _))) => {
                let n = broker
                    .metadata()
                    .topic(OFFSETS_TOPIC)
                    .map_or(0, |t| t.partitions);
                self.partitions.store(n, Ordering::Release);
                if n > 0 {
                    Ok(n)
                } else {
                    Err(ErrorCode::CoordinatorNotAvailable)
                }
            }
            Ok(Err((code, message))) => {
                tracing::error!(?code, message, "cannot create {OFFSETS_TOPIC}");
                Err(ErrorCode::CoordinatorNotAvailable)
            }
            Err(_) => Err(ErrorCode::CoordinatorNotAvailable),
        }
    }

    fn offsets_tp(&self, group_id: &str, partitions: i32) -> TopicPartition {
        TopicPartition::new(OFFSETS_TOPIC, partition_for(group_id, partitions))
    }

    /// Starts the timer that runs session timeouts, offset retention and
    /// compaction (once; also started by the first group request).
    pub fn start_ticker(&self, broker: &Arc<Broker>) {
        if self.ticker_started.swap(true, Ordering::AcqRel) {
            return;
        }
        // A weak handle: the timer must not keep a stopped broker alive.
        let weak: Weak<Broker> = Arc::downgrade(broker);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_millis(100));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(broker) = weak.upgrade() else {
                    return;
                };
                broker.groups.tick(&broker);
            }
        });
    }

    /// Runs every group's timeouts.
    pub fn tick(&self, broker: &Arc<Broker>) {
        let now = self.now();
        let wall = now_ms();
        let mut groups = self.lock();
        for group in groups.values_mut() {
            group.tick(now, wall);
            self.flush(broker, group);
        }
        drop(groups);
        self.tick_consumer_groups(broker);
        self.run_cleanup_if_due(broker, wall);
    }

    /// Appends what `group` asked to store, in order. Called with the lock
    /// held: `append` only queues, so the order of the log is the order of
    /// the state changes.
    fn flush(&self, broker: &Arc<Broker>, group: &mut Group) {
        let effects = group.take_effects();
        if effects.is_empty() {
            return;
        }
        let Some(partitions) = self.offsets_partitions() else {
            // Groups exist only after ensure_topic, so this cannot happen;
            // if it did, answering the waiting sync keeps clients moving.
            tracing::error!(group = %group.id, "group write before {OFFSETS_TOPIC} exists");
            return;
        };
        let tp = self.offsets_tp(&group.id, partitions);
        for effect in effects {
            let Effect::StoreGroup {
                value,
                completes_sync,
            } = effect;
            let batch = batch_of(vec![(
                records::group_key(&group.id),
                Some(records::group_value(&value)),
            )]);
            let rx = broker.logs.append(&tp, batch, 0, now_ms());
            let broker = broker.clone();
            let group_id = group.id.clone();
            tokio::spawn(async move {
                let error = match rx.await {
                    Ok(Ok(_)) => ErrorCode::None,
                    Ok(Err(e)) => {
                        tracing::warn!(group = %group_id, error = %e, "storing the group failed");
                        write_error(storage_error_code(&e))
                    }
                    Err(_) => ErrorCode::CoordinatorNotAvailable,
                };
                if let Some(generation) = completes_sync {
                    broker
                        .groups
                        .group_stored(&broker, &group_id, generation, error);
                }
            });
        }
    }

    /// Appends records of a consumer-protocol group. Called with the locks
    /// held, right after the change, so the log keeps the order of the
    /// changes. `None`: nothing to write.
    pub(super) fn append_consumer_records(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Option<tokio::sync::oneshot::Receiver<strata_storage::Result<AppendInfo>>> {
        if records.is_empty() {
            return None;
        }
        let partitions = self.offsets_partitions()?;
        let tp = self.offsets_tp(group_id, partitions);
        Some(broker.logs.append(&tp, batch_of(records), 0, now_ms()))
    }

    fn group_stored(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        generation: i32,
        error: ErrorCode,
    ) {
        let (now, wall) = (self.now(), now_ms());
        let mut groups = self.lock();
        if let Some(group) = groups.get_mut(group_id) {
            group.on_group_stored(generation, error, now, wall);
            self.flush(broker, group);
        }
    }

    /// Runs `f` on the group, creating it (Empty) first if `create`, then
    /// appends what it asked to store. `None`: no such group.
    fn with_group<T>(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        create: bool,
        f: impl FnOnce(&mut Group, Millis, i64) -> T,
    ) -> Option<T> {
        let (now, wall) = (self.now(), now_ms());
        let mut groups = self.lock();
        if create && !groups.contains_key(group_id) {
            groups.insert(
                group_id.to_owned(),
                Group::new(group_id, self.config.group, wall),
            );
        }
        let group = groups.get_mut(group_id)?;
        let out = f(group, now, wall);
        self.flush(broker, group);
        Some(out)
    }

    // ---- membership ----------------------------------------------------

    pub async fn join(&self, broker: &Arc<Broker>, group_id: &str, req: JoinRequest) -> JoinResult {
        if group_id.is_empty() {
            return JoinResult::error(ErrorCode::InvalidGroupId, &req.member_id);
        }
        if req.session_timeout_ms < self.config.min_session_timeout_ms
            || req.session_timeout_ms > self.config.max_session_timeout_ms
        {
            return JoinResult::error(ErrorCode::InvalidSessionTimeout, &req.member_id);
        }
        if let Err(code) = self.ensure_topic(broker).await {
            return JoinResult::error(code, &req.member_id);
        }
        let member_id = req.member_id.clone();
        let create = member_id.is_empty();
        let reply = self.with_group(broker, group_id, create, |g, now, wall| {
            if let Some(code) = self.classic_join_refused(broker, group_id) {
                return group::Reply::Now(JoinResult::error(code, &req.member_id));
            }
            g.join(req, now, wall)
        });
        match reply {
            None => JoinResult::error(ErrorCode::UnknownMemberId, &member_id),
            Some(reply) => {
                reply
                    .wait(JoinResult::error(
                        ErrorCode::CoordinatorNotAvailable,
                        &member_id,
                    ))
                    .await
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn sync(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
    ) -> SyncResult {
        if group_id.is_empty() {
            return SyncResult::error(ErrorCode::InvalidGroupId);
        }
        let reply = self.with_group(broker, group_id, false, |g, now, wall| {
            g.sync(
                member_id,
                instance_id,
                generation_id,
                protocol_type,
                protocol_name,
                assignments,
                now,
                wall,
            )
        });
        match reply {
            None => SyncResult::error(ErrorCode::UnknownMemberId),
            Some(reply) => {
                reply
                    .wait(SyncResult::error(ErrorCode::CoordinatorNotAvailable))
                    .await
            }
        }
    }

    pub fn heartbeat(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> ErrorCode {
        if group_id.is_empty() {
            return ErrorCode::InvalidGroupId;
        }
        self.with_group(broker, group_id, false, |g, now, _| {
            g.heartbeat(member_id, instance_id, generation_id, now)
        })
        .unwrap_or(ErrorCode::UnknownMemberId)
    }

    pub fn leave(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        if group_id.is_empty() {
            return Err(ErrorCode::InvalidGroupId);
        }
        self.with_group(broker, group_id, false, |g, now, wall| {
            g.leave(members, now, wall)
        })
        .unwrap_or(Err(ErrorCode::UnknownMemberId))
    }

    // ---- offsets -------------------------------------------------------

    /// Commits `items` (already checked against the topics that exist and
    /// the metadata size) once they are durable. `Err`: every partition
    /// gets that code.
    #[allow(clippy::too_many_arguments)]
    pub async fn commit(
        &self,
        broker: &Arc<Broker>,
        api_version: i16,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
        items: Vec<CommitItem>,
    ) -> Result<(), ErrorCode> {
        let partitions = self.ensure_topic(broker).await?;
        let tp = self.offsets_tp(group_id, partitions);
        let commit_timestamp = now_ms();
        let values: Vec<OffsetValue> = items
            .iter()
            .map(|i| OffsetValue {
                offset: i.offset,
                leader_epoch: i.leader_epoch,
                metadata: i.metadata.clone(),
                commit_timestamp,
            })
            .collect();
        let rx = {
            let wall = now_ms();
            let mut groups = self.lock();
            if !groups.contains_key(group_id) {
                if generation_id >= 0 {
                    // Kafka: GROUP_ID_NOT_FOUND from v9, ILLEGAL_GENERATION before.
                    return Err(if api_version >= 9 {
                        ErrorCode::GroupIdNotFound
                    } else {
                        ErrorCode::IllegalGeneration
                    });
                }
                // A "simple" commit (no group management) creates the group.
                groups.insert(
                    group_id.to_owned(),
                    Group::new(group_id, self.config.group, wall),
                );
            }
            let Some(group) = groups.get_mut(group_id) else {
                return Err(ErrorCode::CoordinatorNotAvailable);
            };
            match self.consumer_commit_check(group_id, member_id, generation_id, api_version) {
                Some(checked) => checked?,
                None => group.validate_commit(member_id, instance_id, generation_id)?,
            }
            if items.is_empty() {
                return Ok(());
            }
            let batch = batch_of(
                items
                    .iter()
                    .zip(&values)
                    .map(|(i, v)| {
                        (
                            records::offset_key(group_id, &i.topic, i.partition),
                            Some(records::offset_value(v)),
                        )
                    })
                    .collect(),
            );
            group.begin_write();
            broker.logs.append(&tp, batch, 0, now_ms())
        };
        let stored = rx.await;
        let mut groups = self.lock();
        let group = groups.get_mut(group_id);
        let info = match stored {
            Ok(Ok(info)) => info,
            failed => {
                if let Some(group) = group {
                    group.end_write();
                }
                return Err(match failed {
                    Ok(Err(e)) => {
                        tracing::warn!(group = group_id, error = %e, "offset commit not stored");
                        write_error(storage_error_code(&e))
                    }
                    _ => ErrorCode::CoordinatorNotAvailable,
                });
            }
        };
        if let Some(group) = group {
            group.end_write();
            for (n, (item, v)) in items.iter().zip(values).enumerate() {
                group.apply_commit(
                    &item.topic,
                    item.partition,
                    CommittedOffset {
                        offset: v.offset,
                        leader_epoch: v.leader_epoch,
                        metadata: v.metadata,
                        commit_timestamp: v.commit_timestamp,
                        record_offset: info.first_offset + n as i64,
                    },
                );
            }
        }
        Ok(())
    }

    /// Committed offsets of `group_id`: of the partitions asked for (`None`
    /// for each without a commit), or of every committed partition when
    /// `partitions` is `None`. An unknown group has no commits.
    #[allow(clippy::type_complexity)]
    pub fn fetch(
        &self,
        group_id: &str,
        partitions: Option<&[(String, Vec<i32>)]>,
    ) -> Result<Vec<(String, i32, Option<CommittedOffset>)>, ErrorCode> {
        let groups = self.lock();
        let group = groups.get(group_id);
        if group.is_some_and(|g| g.state() == GroupState::Dead) {
            return Err(ErrorCode::GroupIdNotFound);
        }
        let offsets = group.map(|g| g.offsets());
        Ok(match partitions {
            None => offsets
                .into_iter()
                .flatten()
                .map(|((t, p), o)| (t.clone(), *p, Some(o.clone())))
                .collect(),
            Some(asked) => asked
                .iter()
                .flat_map(|(t, ps)| ps.iter().map(move |p| (t, *p)))
                .map(|(t, p)| {
                    let o = offsets.and_then(|o| o.get(&(t.clone(), p)).cloned());
                    (t.clone(), p, o)
                })
                .collect(),
        })
    }

    /// OffsetDelete: per partition, NONE or GROUP_SUBSCRIBED_TO_TOPIC (a
    /// non-empty consumer group still reads that topic). `Err`: the group
    /// (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP when not a consumer group).
    pub async fn delete_offsets(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        partitions: &[(String, i32)],
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        let Some(n) = self.offsets_partitions() else {
            return Err(ErrorCode::GroupIdNotFound);
        };
        let tp = self.offsets_tp(group_id, n);
        let (codes, deleting, rx) = {
            let mut groups = self.lock();
            let Some(group) = groups.get_mut(group_id) else {
                return Err(ErrorCode::GroupIdNotFound);
            };
            let subscribed = match group.state() {
                GroupState::Dead => return Err(ErrorCode::GroupIdNotFound),
                GroupState::Empty => None,
                _ if group.protocol_type() == Some("consumer") => Some(group.subscribed_topics()),
                _ => return Err(ErrorCode::NonEmptyGroup),
            };
            let mut codes = Vec::with_capacity(partitions.len());
            let mut deleting = Vec::new();
            for (topic, partition) in partitions {
                // Unknown subscriptions count as subscribed to everything.
                let in_use = subscribed
                    .as_ref()
                    .is_some_and(|s| s.as_ref().is_none_or(|s| s.contains(topic)));
                if in_use {
                    codes.push(ErrorCode::GroupSubscribedToTopic);
                } else {
                    codes.push(ErrorCode::None);
                    if group.offsets().contains_key(&(topic.clone(), *partition)) {
                        deleting.push((topic.clone(), *partition));
                    }
                }
            }
            if deleting.is_empty() {
                return Ok(codes);
            }
            let batch = batch_of(
                deleting
                    .iter()
                    .map(|(t, p)| (records::offset_key(group_id, t, *p), None))
                    .collect(),
            );
            group.begin_write();
            (codes, deleting, broker.logs.append(&tp, batch, 0, now_ms()))
        };
        let stored = rx.await;
        let mut groups = self.lock();
        let group = groups.get_mut(group_id);
        let info = match stored {
            Ok(Ok(info)) => info,
            failed => {
                if let Some(group) = group {
                    group.end_write();
                }
                return Err(match failed {
                    Ok(Err(e)) => write_error(storage_error_code(&e)),
                    _ => ErrorCode::CoordinatorNotAvailable,
                });
            }
        };
        if let Some(group) = group {
            group.end_write();
            for (n, (t, p)) in deleting.iter().enumerate() {
                group.apply_delete(t, *p, info.first_offset + n as i64);
            }
        }
        Ok(codes)
    }

    // ---- administration ------------------------------------------------

    /// Every live group; a consumer-protocol group (KIP-848) is listed as
    /// such, not as the classic group that holds its offsets.
    pub fn list(&self) -> Vec<GroupListing> {
        let groups = self.lock();
        let consumer: BTreeMap<String, &'static str> =
            self.consumer_listing().into_iter().collect();
        groups
            .values()
            .filter(|g| g.state() != GroupState::Dead)
            .map(|g| match consumer.get(&g.id) {
                Some(state) => GroupListing {
                    group_id: g.id.clone(),
                    protocol_type: "consumer".to_owned(),
                    state,
                    group_type: "consumer",
                },
                None => GroupListing {
                    group_id: g.id.clone(),
                    protocol_type: g.protocol_type().unwrap_or_default().to_owned(),
                    state: g.state().name(),
                    group_type: "classic",
                },
            })
            .collect()
    }

    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        let groups = self.lock();
        let g = groups.get(group_id)?;
        let stable = g.state() == GroupState::Stable;
        Some(GroupDescription {
            state: g.state(),
            protocol_type: g.protocol_type().unwrap_or_default().to_owned(),
            protocol: if stable {
                g.protocol_name().unwrap_or_default().to_owned()
            } else {
                String::new()
            },
            members: g.describe_members(),
        })
    }

    /// DeleteGroups for one group: only an Empty group goes; its metadata
    /// and every offset get tombstones, and it is answered when they are
    /// durable. The group leaves memory at once (a failed write leaves it
    /// on disk, so it comes back at the next start).
    pub async fn delete_group(&self, broker: &Arc<Broker>, group_id: &str) -> ErrorCode {
        let Some(n) = self.offsets_partitions() else {
            return ErrorCode::GroupIdNotFound;
        };
        let tp = self.offsets_tp(group_id, n);
        let rx = {
            let mut groups = self.lock();
            let Some(group) = groups.get_mut(group_id) else {
                return ErrorCode::GroupIdNotFound;
            };
            if let Err(code) = self.consumer_group_delete(broker, group_id) {
                return code;
            }
            if let Err(code) = group.delete(now_ms()) {
                return code;
            }
            let mut tombstones = vec![(records::group_key(group_id), None)];
            tombstones.extend(
                group
                    .offsets()
                    .keys()
                    .map(|(t, p)| (records::offset_key(group_id, t, *p), None)),
            );
            groups.remove(group_id);
            broker.logs.append(&tp, batch_of(tombstones), 0, now_ms())
        };
        match rx.await {
            Ok(Ok(_)) => ErrorCode::None,
            Ok(Err(e)) => write_error(storage_error_code(&e)),
            Err(_) => ErrorCode::CoordinatorNotAvailable,
        }
    }
}

/// One uncompressed batch of `(key, value)` records, as Kafka's coordinator
/// writes them.
fn batch_of(records: Vec<(Bytes, Option<Bytes>)>) -> Bytes {
    let now = now_ms();
    let mut builder = RecordBatchBuilder::new(Compression::None);
    for (key, value) in records {
        // A timestamp equal to the base never overflows a delta.
        let _ = builder.append(now, Some(key), value, vec![]);
    }
    match builder.build() {
        Ok(batch) => batch.into_bytes(),
        Err(e) => {
            // Only bad offset deltas or sizes fail a build; ours are
            // sequential and small. An empty batch is refused by the log.
            tracing::error!(error = %e, "cannot build a {OFFSETS_TOPIC} batch");
            Bytes::new()
        }
    }
}

/// Reads a partition of `__consumer_offsets` from its start, handing each
/// record we know (with its offset) to `apply`.
fn read_partition(
    logs: &LogManager,
    tp: &TopicPartition,
    mut apply: impl FnMut(i64, OffsetsRecord),
) {
    let Some(partition) = logs.partition(tp) else {
        return;
    };
    let mut offset = partition.with_log(|l| l.log_start_offset());
    loop {
        let read = match logs.read(tp, offset, 1 << 20, i64::MAX) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(partition = %tp, offset, error = %e, "cannot read; groups on it may be incomplete");
                return;
            }
        };
        let Some(region) = read.region else {
            return;
        };
        let bytes = match region.read_to_bytes() {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(partition = %tp, offset, error = %e, "cannot read; groups on it may be incomplete");
                return;
            }
        };
        let before = offset;
        for batch in batches(bytes) {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(partition = %tp, offset, error = %e, "unreadable batch");
                    return;
                }
            };
            offset = batch.next_offset();
            // Transactional offset commits are not written by this broker.
            if batch.is_control() || batch.is_transactional() {
                continue;
            }
            let records = match batch.records(64 << 20) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(partition = %tp, error = %e, "unreadable records");
                    continue;
                }
            };
            for record in records {
                let record = match record {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(partition = %tp, error = %e, "unreadable record");
                        break;
                    }
                };
                let at = batch.offset_of(&record);
                match records::parse(record.key, record.value) {
                    Ok(Some(r)) => apply(at, r),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(partition = %tp, offset = at, reason = e.0, "skipping a record")
                    }
                }
            }
        }
        if offset <= before {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_matches_java() {
        // "hello".hashCode() == 99162322; "".hashCode() == 0.
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash(""), 0);
        // Overflow wraps as in Java: "polygenelubricants".hashCode() == Integer.MIN_VALUE.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        // Negative hashes use the absolute value.
        assert_eq!(java_string_hash("my-group"), -1_906_497_762);
        assert_eq!(partition_for("my-group", 50), 12);
        assert_eq!(partition_for("console-consumer-1234", 50), 9);
        for g in ["a", "my-group", "console-consumer-1234", "é"] {
            let p = partition_for(g, 50);
            assert!((0..50).contains(&p));
        }
    }

    #[test]
    fn config_reads_kafkas_keys() {
        let mut m = BTreeMap::new();
        m.insert("offsets.topic.num.partitions".to_owned(), "3".to_owned());
        m.insert(
            "group.initial.rebalance.delay.ms".to_owned(),
            "0".to_owned(),
        );
        m.insert("group.min.session.timeout.ms".to_owned(), "x".to_owned());
        m.insert("offsets.retention.minutes".to_owned(), "2".to_owned());
        m.insert("offsets.topic.segment.bytes".to_owned(), "65536".to_owned());
        let c = CoordinatorConfig::from_settings(&m);
        assert_eq!(c.offsets_retention_ms, 120_000);
        assert_eq!(c.offsets_topic_segment_bytes, 65_536);
        assert_eq!(
            CoordinatorConfig::from_settings(&BTreeMap::new()).offsets_retention_ms,
            7 * 24 * 3_600_000
        );
        assert_eq!(c.offsets_topic_partitions, 3);
        assert_eq!(c.group.initial_rebalance_delay_ms, 0);
        assert_eq!(c.min_session_timeout_ms, 6_000);
    }
}
