//! One consumer-protocol group (KIP-848, `group.protocol=consumer`) as a
//! state machine: fed heartbeats, leaves and commit checks plus the time in
//! milliseconds of a monotonic clock, never reading a clock itself.
//!
//! Epochs, as Kafka's `GroupMetadataManager` has them:
//! - the group epoch is bumped when a member joins, leaves, is fenced or
//!   changes its subscription (or assignor), and when a subscribed topic
//!   appears, disappears or gains partitions;
//! - when the group epoch is ahead of the target assignment epoch, the next
//!   heartbeat runs the assignor and the target assignment takes the group
//!   epoch;
//! - each member reconciles towards its target on its own heartbeats
//!   (Kafka's `CurrentAssignmentBuilder`): partitions it must give up are
//!   revoked first, and it stays at its epoch (UNREVOKED_PARTITIONS) until
//!   it reports, in `topic_partitions`, that it no longer owns them; a
//!   partition still owned by another member is withheld
//!   (UNRELEASED_PARTITIONS) until that member has revoked it. A member
//!   reaches the target epoch once nothing is left to revoke.
//!
//! Group states: Empty (no members), Assigning (group epoch ahead of the
//! target), Reconciling (a member not yet at the target), Stable.
//!
//! Timeouts (on [`ConsumerGroup::tick`]): a member without a heartbeat for
//! `group.consumer.session.timeout.ms` is fenced (removed); so is a member
//! that has not revoked within its rebalance timeout.
//!
//! Static members (`instance_id`): leaving with epoch -2 keeps the member
//! and its partitions until its session expires; a new member with the same
//! instance id then takes them over with epoch 0. Joining while the old one
//! has not left: UNRELEASED_INSTANCE_ID.
//!
//! Nothing here is persisted (see the coordinator's `consumer` module).

use std::collections::{BTreeMap, BTreeSet};

use strata_protocol::types::Uuid;

use super::assignor::{Assignment, Assignor, AssignorMember, assign};
use super::group::Millis;
use crate::error_code::ErrorCode;

/// `ConsumerGroupHeartbeatRequest.LEAVE_GROUP_MEMBER_EPOCH`.
pub const LEAVE_EPOCH: i32 = -1;
/// `LEAVE_GROUP_STATIC_MEMBER_EPOCH`.
pub const LEAVE_STATIC_EPOCH: i32 = -2;

/// Consumer group settings, Kafka's keys and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerGroupConfig {
    /// `group.consumer.heartbeat.interval.ms` (5000).
    pub heartbeat_interval_ms: i32,
    /// `group.consumer.session.timeout.ms` (45000).
    pub session_timeout_ms: i32,
    /// `group.consumer.max.size` (unbounded).
    pub max_size: usize,
}

impl Default for ConsumerGroupConfig {
    fn default() -> Self {
        ConsumerGroupConfig {
            heartbeat_interval_ms: 5_000,
            session_timeout_ms: 45_000,
            max_size: i32::MAX as usize,
        }
    }
}

/// A topic as subscriptions see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub id: Uuid,
    pub partitions: i32,
}

/// Every topic by name.
pub type Topics = BTreeMap<String, TopicInfo>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    Stable,
    UnrevokedPartitions,
    UnreleasedPartitions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGroupState {
    Empty,
    Assigning,
    Reconciling,
    Stable,
}

impl ConsumerGroupState {
    /// The name on the wire (ConsumerGroupDescribe, ListGroups).
    pub fn name(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub server_assignor: Option<String>,
    pub subscribed_topic_names: BTreeSet<String>,
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub state: MemberState,
    /// What the member may own now (what the heartbeat answer carries).
    pub assigned: Assignment,
    /// What it still owns and must give up.
    pub pending_revocation: Assignment,
    session_deadline: Millis,
    /// Set while it must revoke: fenced when this passes.
    revocation_deadline: Option<Millis>,
}

impl Member {
    fn new(member_id: &str) -> Member {
        Member {
            member_id: member_id.to_owned(),
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            rebalance_timeout_ms: -1,
            server_assignor: None,
            subscribed_topic_names: BTreeSet::new(),
            member_epoch: 0,
            previous_member_epoch: -1,
            state: MemberState::Stable,
            assigned: Assignment::new(),
            pending_revocation: Assignment::new(),
            session_deadline: 0,
            revocation_deadline: None,
        }
    }

    /// A member as `__consumer_offsets` holds it, before
    /// [`ConsumerGroup::restore`] gives it a session.
    pub fn restored(member_id: &str) -> Member {
        Member::new(member_id)
    }

    fn set_epoch(&mut self, epoch: i32) {
        self.previous_member_epoch = self.member_epoch;
        self.member_epoch = epoch;
    }
}

/// A ConsumerGroupHeartbeat, in the group's terms. `None` / -1: unchanged
/// since the member's last heartbeat.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat {
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Option<Vec<String>>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    /// `topic_partitions`: what the member owns.
    pub owned: Option<Assignment>,
    pub client_id: String,
    pub client_host: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatAnswer {
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// Sent on joins, full requests and changes only.
    pub assignment: Option<Assignment>,
}

/// An error answer: the code and Kafka's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: ErrorCode,
    pub message: String,
}

impl Refusal {
    pub fn new(error: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            error,
            message: message.into(),
        }
    }
}

/// Kafka's `throwIfConsumerGroupHeartbeatRequestIsInvalid`: checks that need
/// no group. v1+ clients draw their own member id, so it may never be
/// empty; v0 clients join with an empty one and get it from the broker.
pub fn validate(group_id: &str, h: &Heartbeat, api_version: i16) -> Result<(), Refusal> {
    let invalid = |m: &str| Err(Refusal::new(ErrorCode::InvalidRequest, m));
    if (api_version >= 1 || h.member_epoch > 0 || h.member_epoch == LEAVE_EPOCH)
        && h.member_id.is_empty()
    {
        return invalid("MemberId can't be empty.");
    }
    if group_id.is_empty() {
        return invalid("GroupId can't be empty.");
    }
    if h.rack_id.as_deref() == Some("") {
        return invalid("RackId can't be empty.");
    }
    if h.instance_id.as_deref() == Some("") {
        return invalid("InstanceId can't be empty.");
    }
    if h.member_epoch == 0 {
        if h.rebalance_timeout_ms == -1 {
            return invalid("RebalanceTimeoutMs must be provided in first request.");
        }
        if h.owned.as_ref().is_none_or(|o| !o.is_empty()) {
            return invalid("TopicPartitions must be empty when (re-)joining.");
        }
        if h.subscribed_topic_names.is_none() && h.subscribed_topic_regex.is_none() {
            return invalid(
                "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.",
            );
        }
    } else if h.member_epoch == LEAVE_STATIC_EPOCH {
        if h.instance_id.is_none() {
            return invalid("InstanceId can't be null.");
        }
    } else if h.member_epoch < LEAVE_STATIC_EPOCH {
        return invalid("MemberEpoch is invalid.");
    }
    // Kafka resolves regex subscriptions (RE2/J syntax) against the topic
    // list; this broker does not yet (issue #5).
    if h.subscribed_topic_regex
        .as_deref()
        .is_some_and(|r| !r.is_empty())
    {
        return invalid("SubscribedTopicRegex is not supported by this broker yet.");
    }
    if let Some(name) = &h.server_assignor
        && Assignor::from_name(name).is_none()
    {
        let names: Vec<&str> = Assignor::ALL.iter().map(|a| a.name()).collect();
        return Err(Refusal::new(
            ErrorCode::UnsupportedAssignor,
            format!(
                "ServerAssignor {name} is not supported. Supported assignors: {}.",
                names.join(", ")
            ),
        ));
    }
    Ok(())
}

fn contains(a: &Assignment, topic: &Uuid, partition: i32) -> bool {
    a.get(topic).is_some_and(|ps| ps.contains(&partition))
}

/// Whether `owned` (None: not reported) still holds any of `revoking`.
fn owns_any(owned: Option<&Assignment>, revoking: &Assignment) -> bool {
    let Some(owned) = owned else { return true };
    owned
        .iter()
        .any(|(t, ps)| ps.iter().any(|p| contains(revoking, t, *p)))
}

fn is_subset(owned: Option<&Assignment>, of: &Assignment) -> bool {
    let Some(owned) = owned else { return false };
    owned
        .iter()
        .all(|(t, ps)| ps.iter().all(|p| contains(of, t, *p)))
}

#[derive(Debug, Clone)]
pub struct ConsumerGroup {
    pub id: String,
    config: ConsumerGroupConfig,
    group_epoch: i32,
    assignment_epoch: i32,
    members: BTreeMap<String, Member>,
    /// Target assignment by member id.
    target: BTreeMap<String, Assignment>,
    /// The subscribed topics the last epoch was computed for.
    subscribed: BTreeMap<String, TopicInfo>,
    /// The records handed to storage for this group, by key: what
    /// [`ConsumerGroup::take_changes`] diffs against.
    stored: BTreeMap<super::consumer_records::Key, bytes::Bytes>,
    /// Group epoch, assignment epoch and member count when `stored` was
    /// last brought up to date: while they hold, a heartbeat can only have
    /// changed its own member's records.
    stored_shape: (i32, i32, usize),
}

impl ConsumerGroup {
    pub fn new(id: &str, config: ConsumerGroupConfig) -> ConsumerGroup {
        ConsumerGroup {
            id: id.to_owned(),
            config,
            group_epoch: 0,
            assignment_epoch: 0,
            members: BTreeMap::new(),
            target: BTreeMap::new(),
            subscribed: BTreeMap::new(),
            stored: BTreeMap::new(),
            stored_shape: (0, 0, 0),
        }
    }

    /// The group its records in `__consumer_offsets` describe (see
    /// [`super::consumer_records`]); `None` when they hold no group epoch
    /// (only tombstones, or members without their group). Every member gets
    /// a fresh session from `now`, and one still revoking partitions its
    /// rebalance timeout again, so a restart fences no one who keeps
    /// heartbeating. The subscribed topics are resolved against `topics`
    /// as they are now: a topic that changed while the broker was down
    /// moves the group epoch at the next heartbeat, as any change does.
    pub fn restore(
        id: &str,
        config: ConsumerGroupConfig,
        persisted: super::consumer_records::Persisted,
        topics: &Topics,
        now: Millis,
    ) -> Option<ConsumerGroup> {
        let group_epoch = persisted.group_epoch?;
        let mut group = ConsumerGroup::new(id, config);
        group.group_epoch = group_epoch;
        group.assignment_epoch = persisted.assignment_epoch.unwrap_or(0);
        group.target = persisted.target;
        group.members = persisted.members;
        for m in group.members.values_mut() {
            m.session_deadline = now + i64::from(config.session_timeout_ms);
            if m.state == MemberState::UnrevokedPartitions {
                m.revocation_deadline = Some(now + i64::from(m.rebalance_timeout_ms.max(0)));
            }
        }
        group.refresh_subscribed(topics);
        group.stored = group.records();
        group.stored_shape = group.shape();
        Some(group)
    }

    /// The records to append so storage says what memory says (new and
    /// changed keys, tombstones for dropped ones); from now on they count
    /// as stored. Called after every change, in the order of the changes.
    pub fn take_changes(&mut self) -> Vec<(bytes::Bytes, Option<bytes::Bytes>)> {
        let now = self.records();
        let changes = super::consumer_records::diff(&self.stored, &now);
        self.stored = now;
        self.stored_shape = self.shape();
        changes
    }

    /// [`ConsumerGroup::take_changes`] after a heartbeat of `member_id`:
    /// when the epochs and the member count are as stored, only that
    /// member's own records are encoded and compared, not every member's.
    pub fn take_changes_after_heartbeat(
        &mut self,
        member_id: &str,
    ) -> Vec<(bytes::Bytes, Option<bytes::Bytes>)> {
        let Some(m) = self.members.get(member_id) else {
            return self.take_changes();
        };
        if self.shape() != self.stored_shape {
            return self.take_changes();
        }
        let mine: BTreeMap<_, _> = super::consumer_records::member_records(&self.id, m)
            .into_iter()
            .collect();
        let before: BTreeMap<_, _> = mine
            .keys()
            .filter_map(|k| self.stored.get(k).map(|v| (k.clone(), v.clone())))
            .collect();
        let changes = super::consumer_records::diff(&before, &mine);
        self.stored.extend(mine);
        changes
    }

    fn shape(&self) -> (i32, i32, usize) {
        (self.group_epoch, self.assignment_epoch, self.members.len())
    }

    /// Tombstones for everything stored for this group (it is going away).
    pub fn removal(&self) -> Vec<(bytes::Bytes, Option<bytes::Bytes>)> {
        super::consumer_records::diff(&self.stored, &BTreeMap::new())
    }

    /// What storage holds for this group (a compaction copies it).
    pub fn stored(&self) -> &BTreeMap<super::consumer_records::Key, bytes::Bytes> {
        &self.stored
    }

    /// Every record that describes this group now, by key.
    pub fn records(&self) -> BTreeMap<super::consumer_records::Key, bytes::Bytes> {
        super::consumer_records::records_of(
            &self.id,
            self.group_epoch,
            self.assignment_epoch,
            &self.members,
            &self.target,
        )
    }

    pub fn group_epoch(&self) -> i32 {
        self.group_epoch
    }

    pub fn assignment_epoch(&self) -> i32 {
        self.assignment_epoch
    }

    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    pub fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.get(member_id)
    }

    pub fn target_of(&self, member_id: &str) -> Assignment {
        self.target.get(member_id).cloned().unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.group_epoch > self.assignment_epoch {
            ConsumerGroupState::Assigning
        } else if self
            .members
            .values()
            .any(|m| m.member_epoch != self.assignment_epoch || m.state != MemberState::Stable)
        {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    /// The assignor the members prefer most (ties: Kafka's order), else
    /// the default.
    pub fn assignor(&self) -> Assignor {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = &m.server_assignor {
                *votes.entry(a.as_str()).or_default() += 1;
            }
        }
        Assignor::ALL
            .into_iter()
            .rev()
            .max_by_key(|a| votes.get(a.name()).copied().unwrap_or(0))
            .filter(|a| votes.contains_key(a.name()))
            .unwrap_or(Assignor::ALL[0])
    }

    /// Subscribed topic names of all members, with what they resolve to.
    pub fn subscribed_topics(&self) -> BTreeSet<String> {
        self.members
            .values()
            .flat_map(|m| m.subscribed_topic_names.iter().cloned())
            .collect()
    }

    fn static_member_id(&self, instance_id: &str) -> Option<String> {
        self.members
            .values()
            .find(|m| m.instance_id.as_deref() == Some(instance_id))
            .map(|m| m.member_id.clone())
    }

    /// Kafka's `throwIfConsumerGroupMemberEpochIsInvalid`.
    fn check_epoch(m: &Member, epoch: i32, owned: Option<&Assignment>) -> Result<(), Refusal> {
        if epoch == 0 {
            return Ok(());
        }
        let fenced = |rel: &str| {
            Err(Refusal::new(
                ErrorCode::FencedMemberEpoch,
                format!(
                    "The consumer group member has a {rel} member epoch ({epoch}) than the one known by the group coordinator ({}). The member must abandon all its partitions and rejoin.",
                    m.member_epoch
                ),
            ))
        };
        if epoch > m.member_epoch {
            return fenced("greater");
        }
        if epoch < m.member_epoch
            && (epoch != m.previous_member_epoch || !is_subset(owned, &m.assigned))
        {
            return fenced("smaller");
        }
        Ok(())
    }

    /// A heartbeat with epoch >= 0 (leaves go to [`ConsumerGroup::leave`]).
    /// `new_member_id`: the id a v0 member joining without one gets.
    pub fn heartbeat(
        &mut self,
        h: Heartbeat,
        new_member_id: &str,
        topics: &Topics,
        now: Millis,
    ) -> Result<HeartbeatAnswer, Refusal> {
        if h.member_epoch < 0 {
            return self.leave(&h.member_id, h.instance_id.as_deref(), h.member_epoch);
        }
        if self.members.len() >= self.config.max_size
            && (h.member_id.is_empty() || !self.members.contains_key(&h.member_id))
        {
            return Err(Refusal::new(
                ErrorCode::GroupMaxSizeReached,
                format!(
                    "The consumer group has reached its maximum capacity of {} members.",
                    self.config.max_size
                ),
            ));
        }
        let member_id = if h.member_id.is_empty() {
            new_member_id.to_owned()
        } else {
            h.member_id.clone()
        };
        let owned = h.owned.as_ref();
        let member = match &h.instance_id {
            None => match self.members.get(&member_id) {
                Some(m) => {
                    Self::check_epoch(m, h.member_epoch, owned)?;
                    m.clone()
                }
                None if h.member_epoch == 0 => Member::new(&member_id),
                None => {
                    return Err(Refusal::new(
                        ErrorCode::UnknownMemberId,
                        format!("Member {member_id} is not a member of group {}.", self.id),
                    ));
                }
            },
            Some(instance) => match self.static_member_id(instance) {
                None if h.member_epoch == 0 => self
                    .members
                    .get(&member_id)
                    .cloned()
                    .unwrap_or_else(|| Member::new(&member_id)),
                None => {
                    return Err(Refusal::new(
                        ErrorCode::UnknownMemberId,
                        format!("Instance id {instance} is unknown."),
                    ));
                }
                Some(old_id) if h.member_epoch == 0 => {
                    let old = &self.members[&old_id];
                    if old.member_epoch != LEAVE_STATIC_EPOCH {
                        return Err(Refusal::new(
                            ErrorCode::UnreleasedInstanceId,
                            format!(
                                "Static member {member_id} with instance id {instance} cannot join the group because the instance id is owned by {old_id} member."
                            ),
                        ));
                    }
                    // The new member takes over the old one's partitions
                    // and target under its own id.
                    let mut m = old.clone();
                    m.member_id = member_id.clone();
                    m.member_epoch = 0;
                    m.previous_member_epoch = 0;
                    self.members.remove(&old_id);
                    if let Some(t) = self.target.remove(&old_id) {
                        self.target.insert(member_id.clone(), t);
                    }
                    m
                }
                Some(old_id) => {
                    if old_id != member_id {
                        return Err(Refusal::new(
                            ErrorCode::FencedInstanceId,
                            format!(
                                "Static member {member_id} with instance id {instance} was fenced by member {old_id}."
                            ),
                        ));
                    }
                    let m = &self.members[&old_id];
                    Self::check_epoch(m, h.member_epoch, owned)?;
                    m.clone()
                }
            },
        };

        // 1. Update the member; a new subscription bumps the group epoch.
        let mut updated = member.clone();
        if h.instance_id.is_some() {
            updated.instance_id = h.instance_id.clone();
        }
        if h.rack_id.is_some() {
            updated.rack_id = h.rack_id.clone();
        }
        if h.rebalance_timeout_ms != -1 {
            updated.rebalance_timeout_ms = h.rebalance_timeout_ms;
        }
        if h.server_assignor.is_some() {
            updated.server_assignor = h.server_assignor.clone();
        }
        if let Some(names) = &h.subscribed_topic_names {
            updated.subscribed_topic_names = names.iter().cloned().collect();
        }
        updated.client_id = h.client_id.clone();
        updated.client_host = h.client_host.clone();
        updated.session_deadline = now + i64::from(self.config.session_timeout_ms);
        let mut bump = self.group_epoch == 0
            || updated.subscribed_topic_names != member.subscribed_topic_names
            || updated.server_assignor != member.server_assignor;
        self.members.insert(member_id.clone(), updated);
        if self.refresh_subscribed(topics) {
            bump = true;
        }
        if bump {
            self.group_epoch += 1;
        }

        // 2. A new target assignment when the group epoch moved on.
        if self.group_epoch > self.assignment_epoch {
            self.compute_target();
        }

        // 3. Reconcile the member towards its target.
        let mut updated = self.members[&member_id].clone();
        self.reconcile(&mut updated, owned, now);
        let answer_assignment = h.member_epoch == 0
            || (h.rebalance_timeout_ms != -1
                && (h.subscribed_topic_names.is_some() || h.subscribed_topic_regex.is_some())
                && h.owned.is_some())
            || updated.assigned != member.assigned;
        let answer = HeartbeatAnswer {
            member_id: member_id.clone(),
            member_epoch: updated.member_epoch,
            heartbeat_interval_ms: self.config.heartbeat_interval_ms,
            assignment: answer_assignment.then(|| updated.assigned.clone()),
        };
        self.members.insert(member_id, updated);
        Ok(answer)
    }

    /// Re-resolves the members' subscriptions against the topics; whether
    /// that changed anything (which bumps the group epoch).
    fn refresh_subscribed(&mut self, topics: &Topics) -> bool {
        let now: BTreeMap<String, TopicInfo> = self
            .subscribed_topics()
            .into_iter()
            .filter_map(|n| topics.get(&n).map(|t| (n, t.clone())))
            .collect();
        if now == self.subscribed {
            return false;
        }
        self.subscribed = now;
        true
    }

    fn compute_target(&mut self) {
        let members: Vec<AssignorMember> = self
            .members
            .values()
            .map(|m| AssignorMember {
                member_id: m.member_id.clone(),
                subscribed: m
                    .subscribed_topic_names
                    .iter()
                    .filter_map(|n| self.subscribed.get(n).map(|t| t.id))
                    .collect(),
                current: self.target.get(&m.member_id).cloned().unwrap_or_default(),
            })
            .collect();
        let topics: BTreeMap<Uuid, i32> = self
            .subscribed
            .values()
            .map(|t| (t.id, t.partitions))
            .collect();
        self.target = assign(self.assignor(), &members, &topics);
        self.assignment_epoch = self.group_epoch;
    }

    /// Whether a member other than `member_id` owns the partition (has it
    /// assigned or still has to revoke it).
    fn owned_by_other(&self, member_id: &str, topic: &Uuid, partition: i32) -> bool {
        self.members.values().any(|m| {
            m.member_id != member_id
                && (contains(&m.assigned, topic, partition)
                    || contains(&m.pending_revocation, topic, partition))
        })
    }

    /// Kafka's `CurrentAssignmentBuilder.build`.
    fn reconcile(&self, m: &mut Member, owned: Option<&Assignment>, now: Millis) {
        let target_epoch = self.assignment_epoch;
        let before = (m.member_epoch, m.state);
        match m.state {
            MemberState::Stable if m.member_epoch == target_epoch => {}
            MemberState::Stable | MemberState::UnreleasedPartitions => {
                let epoch = m.member_epoch;
                self.next_assignment(m, epoch, owned);
            }
            MemberState::UnrevokedPartitions => {
                if !owns_any(owned, &m.pending_revocation) {
                    let epoch = (m.member_epoch + 1).min(target_epoch);
                    self.next_assignment(m, epoch, owned);
                }
            }
        }
        if m.state == MemberState::UnrevokedPartitions {
            if before != (m.member_epoch, m.state) || m.revocation_deadline.is_none() {
                let timeout = i64::from(m.rebalance_timeout_ms.max(0));
                m.revocation_deadline = Some(now + timeout);
            }
        } else {
            m.revocation_deadline = None;
        }
    }

    /// Kafka's `CurrentAssignmentBuilder.computeNextAssignment`.
    fn next_assignment(&self, m: &mut Member, member_epoch: i32, owned: Option<&Assignment>) {
        let empty = Assignment::new();
        let target = self.target.get(&m.member_id).unwrap_or(&empty);
        let topics: BTreeSet<Uuid> = target.keys().chain(m.assigned.keys()).copied().collect();
        let mut assigned = Assignment::new();
        let mut revoking = Assignment::new();
        let mut adding = Assignment::new();
        let mut unreleased = false;
        for t in topics {
            let want = target.get(&t).cloned().unwrap_or_default();
            let have = m.assigned.get(&t).cloned().unwrap_or_default();
            let keep: BTreeSet<i32> = have.intersection(&want).copied().collect();
            let give_up: BTreeSet<i32> = have.difference(&keep).copied().collect();
            let mut get: BTreeSet<i32> = want.difference(&keep).copied().collect();
            let before = get.len();
            get.retain(|&p| {
                !self.owned_by_other(&m.member_id, &t, p) || contains(&m.pending_revocation, &t, p)
            });
            unreleased |= get.len() != before;
            if !keep.is_empty() {
                assigned.insert(t, keep);
            }
            if !give_up.is_empty() {
                revoking.insert(t, give_up);
            }
            if !get.is_empty() {
                adding.insert(t, get);
            }
        }
        if !revoking.is_empty() && owns_any(owned, &revoking) {
            m.state = MemberState::UnrevokedPartitions;
            if m.member_epoch != member_epoch {
                m.set_epoch(member_epoch);
            }
            m.assigned = assigned;
            m.pending_revocation = revoking;
            return;
        }
        for (t, ps) in adding {
            assigned.entry(t).or_default().extend(ps);
        }
        m.state = if unreleased {
            MemberState::UnreleasedPartitions
        } else {
            MemberState::Stable
        };
        if m.member_epoch != self.assignment_epoch {
            m.set_epoch(self.assignment_epoch);
        }
        m.assigned = assigned;
        m.pending_revocation = Assignment::new();
    }

    /// A heartbeat with epoch -1 (leave) or -2 (static member leaving for
    /// now).
    pub fn leave(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        epoch: i32,
    ) -> Result<HeartbeatAnswer, Refusal> {
        let answer = |epoch| HeartbeatAnswer {
            member_id: member_id.to_owned(),
            member_epoch: epoch,
            heartbeat_interval_ms: 0,
            assignment: None,
        };
        match instance_id {
            None => {
                if !self.members.contains_key(member_id) {
                    return Err(Refusal::new(
                        ErrorCode::UnknownMemberId,
                        format!("Member {member_id} is not a member of group {}.", self.id),
                    ));
                }
                self.fence(member_id);
                Ok(answer(LEAVE_EPOCH))
            }
            Some(instance) => {
                let Some(id) = self.static_member_id(instance) else {
                    return Err(Refusal::new(
                        ErrorCode::UnknownMemberId,
                        format!("Instance id {instance} is unknown."),
                    ));
                };
                if id != member_id {
                    return Err(Refusal::new(
                        ErrorCode::FencedInstanceId,
                        format!(
                            "Static member {member_id} with instance id {instance} was fenced by member {id}."
                        ),
                    ));
                }
                if epoch == LEAVE_STATIC_EPOCH {
                    // Kept with its partitions until it rejoins or its
                    // session expires.
                    if let Some(m) = self.members.get_mut(&id) {
                        m.set_epoch(LEAVE_STATIC_EPOCH);
                    }
                    Ok(answer(LEAVE_STATIC_EPOCH))
                } else {
                    self.fence(&id);
                    Ok(answer(LEAVE_EPOCH))
                }
            }
        }
    }

    /// Removes a member: its partitions are free at once, and the group
    /// epoch moves on so the others get them.
    fn fence(&mut self, member_id: &str) {
        if self.members.remove(member_id).is_some() {
            self.target.remove(member_id);
            self.group_epoch += 1;
        }
    }

    /// Fences members whose session or revocation deadline passed; their ids.
    pub fn tick(&mut self, now: Millis) -> Vec<String> {
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                now >= m.session_deadline || m.revocation_deadline.is_some_and(|d| now >= d)
            })
            .map(|m| m.member_id.clone())
            .collect();
        for id in &expired {
            self.fence(id);
        }
        expired
    }

    /// OffsetCommit from this group (Kafka's `ConsumerGroup.validateOffsetCommit`).
    pub fn validate_commit(
        &self,
        member_id: &str,
        member_epoch: i32,
        api_version: i16,
    ) -> Result<(), ErrorCode> {
        // Admin tools and consumers without group management may commit
        // while the group has no members.
        if member_epoch < 0 && self.members.is_empty() {
            return Ok(());
        }
        let Some(m) = self.members.get(member_id) else {
            return Err(ErrorCode::UnknownMemberId);
        };
        if api_version < 9 {
            return Err(ErrorCode::UnsupportedVersion);
        }
        if member_epoch != m.member_epoch {
            return Err(ErrorCode::StaleMemberEpoch);
        }
        Ok(())
    }

    /// OffsetFetch v9+ (Kafka's `ConsumerGroup.validateOffsetFetch`).
    pub fn validate_fetch(
        &self,
        member_id: Option<&str>,
        member_epoch: i32,
    ) -> Result<(), ErrorCode> {
        if member_id.is_none() && member_epoch < 0 {
            return Ok(());
        }
        let Some(m) = member_id.and_then(|id| self.members.get(id)) else {
            return Err(ErrorCode::UnknownMemberId);
        };
        if member_epoch != m.member_epoch {
            return Err(ErrorCode::StaleMemberEpoch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: i64 = 45_000;

    fn tid(n: u8) -> Uuid {
        Uuid([n; 16])
    }

    fn topics() -> Topics {
        BTreeMap::from([
            (
                "t".to_owned(),
                TopicInfo {
                    id: tid(1),
                    partitions: 6,
                },
            ),
            (
                "u".to_owned(),
                TopicInfo {
                    id: tid(2),
                    partitions: 2,
                },
            ),
        ])
    }

    fn group() -> ConsumerGroup {
        ConsumerGroup::new("g", ConsumerGroupConfig::default())
    }

    fn join_hb(member: &str) -> Heartbeat {
        Heartbeat {
            member_id: member.into(),
            member_epoch: 0,
            rebalance_timeout_ms: 30_000,
            subscribed_topic_names: Some(vec!["t".into()]),
            owned: Some(Assignment::new()),
            ..Heartbeat::default()
        }
    }

    /// A steady-state heartbeat reporting what the member owns.
    fn hb(member: &str, epoch: i32, owned: &Assignment) -> Heartbeat {
        Heartbeat {
            member_id: member.into(),
            member_epoch: epoch,
            rebalance_timeout_ms: -1,
            owned: Some(owned.clone()),
            ..Heartbeat::default()
        }
    }

    fn parts(a: &Assignment) -> BTreeSet<i32> {
        a.get(&tid(1)).cloned().unwrap_or_default()
    }

    fn n(a: &Assignment) -> usize {
        a.values().map(BTreeSet::len).sum()
    }

    /// A client's view: what it owns and its epoch; it revokes whatever the
    /// answer no longer lists and takes what it lists.
    #[derive(Debug, Clone)]
    struct Client {
        id: String,
        epoch: i32,
        owned: Assignment,
    }

    impl Client {
        fn join(g: &mut ConsumerGroup, id: &str, now: Millis) -> Client {
            let a = g.heartbeat(join_hb(id), "", &topics(), now).unwrap();
            Client {
                id: id.into(),
                epoch: a.member_epoch,
                owned: a.assignment.unwrap(),
            }
        }

        fn beat(&mut self, g: &mut ConsumerGroup, now: Millis) -> HeartbeatAnswer {
            let a = g
                .heartbeat(hb(&self.id, self.epoch, &self.owned), "", &topics(), now)
                .unwrap();
            self.epoch = a.member_epoch;
            if let Some(new) = &a.assignment {
                self.owned = new.clone();
            }
            a
        }
    }

    /// Beats every client in turn until nothing changes.
    fn settle(g: &mut ConsumerGroup, clients: &mut [Client], now: Millis) {
        for _ in 0..10 {
            for c in clients.iter_mut() {
                c.beat(g, now);
            }
            if g.state() == ConsumerGroupState::Stable {
                return;
            }
        }
        panic!("group did not settle: {g:#?}");
    }

    fn assert_disjoint_and_complete(clients: &[Client], total: usize) {
        let mut seen = BTreeSet::new();
        for c in clients {
            for (t, ps) in &c.owned {
                for p in ps {
                    assert!(seen.insert((*t, *p)), "{t}-{p} owned twice");
                }
            }
        }
        assert_eq!(seen.len(), total);
    }

    #[test]
    fn the_per_heartbeat_diff_keeps_storage_what_a_full_encoding_says() {
        let mut g = group();
        let mut clients = Vec::new();
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            clients.push(Client::join(&mut g, id, i as Millis));
            let _ = g.take_changes_after_heartbeat(id);
            assert_eq!(g.stored(), &g.records(), "after {id} joined");
            for c in clients.iter_mut() {
                c.beat(&mut g, 10);
                let _ = g.take_changes_after_heartbeat(&c.id);
                assert_eq!(g.stored(), &g.records(), "after {} beat", c.id);
            }
        }
        // Once stable, a heartbeat changes nothing and writes nothing.
        settle(&mut g, &mut clients, 20);
        let _ = g.take_changes();
        clients[0].beat(&mut g, 30);
        assert!(g.take_changes_after_heartbeat("a").is_empty());
    }

    #[test]
    fn first_member_joins_with_epoch_one_and_gets_everything() {
        let mut g = group();
        let a = g.heartbeat(join_hb("a"), "", &topics(), 0).unwrap();
        assert_eq!(a.member_id, "a");
        assert_eq!(a.member_epoch, 1);
        assert_eq!(a.heartbeat_interval_ms, 5_000);
        assert_eq!(parts(&a.assignment.unwrap()), (0..6).collect());
        assert_eq!((g.group_epoch(), g.assignment_epoch()), (1, 1));
        assert_eq!(g.state(), ConsumerGroupState::Stable);
        // A plain heartbeat with nothing new carries no assignment.
        let mut c = Client {
            id: "a".into(),
            epoch: 1,
            owned: g.member("a").unwrap().assigned.clone(),
        };
        assert_eq!(c.beat(&mut g, 10).assignment, None);
    }

    #[test]
    fn v0_member_without_id_gets_the_brokers() {
        let mut g = group();
        let a = g.heartbeat(join_hb(""), "drawn", &topics(), 0).unwrap();
        assert_eq!(a.member_id, "drawn");
    }

    #[test]
    fn second_member_gets_partitions_only_after_the_first_revokes_them() {
        let mut g = group();
        let mut a = Client::join(&mut g, "a", 0);
        assert_eq!(n(&a.owned), 6);
        // b joins: epoch 2, target 3+3, but a still owns everything.
        let mut b = Client::join(&mut g, "b", 10);
        assert_eq!(g.group_epoch(), 2);
        assert_eq!(b.epoch, 2, "b reaches the target epoch");
        assert!(b.owned.is_empty(), "nothing released yet");
        assert_eq!(
            g.member("b").unwrap().state,
            MemberState::UnreleasedPartitions
        );
        assert_eq!(g.state(), ConsumerGroupState::Reconciling);
        // b heartbeats again: still nothing.
        b.beat(&mut g, 20);
        assert!(b.owned.is_empty());
        // a is told to give up three, staying at epoch 1 until it has.
        let r = a.beat(&mut g, 30);
        assert_eq!(r.member_epoch, 1);
        assert_eq!(n(&r.assignment.unwrap()), 3);
        assert_eq!(
            g.member("a").unwrap().state,
            MemberState::UnrevokedPartitions
        );
        // A heartbeat still claiming them changes nothing.
        let still = g
            .heartbeat(
                hb("a", 1, &BTreeMap::from([(tid(1), (0..6).collect())])),
                "",
                &topics(),
                35,
            )
            .unwrap();
        assert_eq!(still.member_epoch, 1);
        assert!(b.beat(&mut g, 36).assignment.is_none());
        // a reports the revocation: it moves to epoch 2; then b gets its three.
        let r = a.beat(&mut g, 40);
        assert_eq!(r.member_epoch, 2);
        let r = b.beat(&mut g, 50);
        assert_eq!(n(&r.assignment.unwrap()), 3);
        assert_eq!(g.state(), ConsumerGroupState::Stable);
        assert_disjoint_and_complete(&[a, b], 6);
    }

    #[test]
    fn three_members_share_six_partitions_two_each() {
        let mut g = group();
        let mut cs = vec![Client::join(&mut g, "a", 0)];
        cs.push(Client::join(&mut g, "b", 1));
        settle(&mut g, &mut cs, 2);
        cs.push(Client::join(&mut g, "c", 3));
        settle(&mut g, &mut cs, 4);
        for c in &cs {
            assert_eq!(n(&c.owned), 2, "{}", c.id);
            assert_eq!(c.epoch, 3);
        }
        assert_disjoint_and_complete(&cs, 6);
    }

    #[test]
    fn a_leaving_member_frees_its_partitions_for_the_others() {
        let mut g = group();
        let mut cs = vec![Client::join(&mut g, "a", 0), Client::join(&mut g, "b", 1)];
        settle(&mut g, &mut cs, 2);
        let epoch = g.group_epoch();
        let left = g.leave("b", None, LEAVE_EPOCH).unwrap();
        assert_eq!(left.member_epoch, -1);
        assert_eq!(g.group_epoch(), epoch + 1);
        let mut a = cs.remove(0);
        let r = a.beat(&mut g, 3);
        assert_eq!(n(&r.assignment.unwrap()), 6);
        assert_eq!(g.state(), ConsumerGroupState::Stable);
        // Leaving twice: unknown.
        assert_eq!(
            g.leave("b", None, LEAVE_EPOCH).unwrap_err().error,
            ErrorCode::UnknownMemberId
        );
        // The last one leaving empties the group.
        g.leave("a", None, LEAVE_EPOCH).unwrap();
        assert_eq!(g.state(), ConsumerGroupState::Empty);
    }

    #[test]
    fn a_member_that_times_out_is_fenced_and_its_partitions_move() {
        let mut g = group();
        let mut cs = vec![Client::join(&mut g, "a", 0), Client::join(&mut g, "b", 1)];
        settle(&mut g, &mut cs, 2);
        // a keeps heartbeating; b stops.
        let mut a = cs.remove(0);
        a.beat(&mut g, SESSION);
        assert!(g.tick(SESSION).is_empty(), "b's deadline is 2 + session");
        assert_eq!(g.tick(2 + SESSION), vec!["b".to_string()]);
        let r = a.beat(&mut g, 2 + SESSION);
        assert_eq!(n(&r.assignment.unwrap()), 6);
        // b comes back with its old epoch: it no longer exists.
        let e = g
            .heartbeat(hb("b", 2, &Assignment::new()), "", &topics(), 3 + SESSION)
            .unwrap_err();
        assert_eq!(e.error, ErrorCode::UnknownMemberId);
    }

    #[test]
    fn a_member_that_does_not_revoke_in_time_is_fenced() {
        let mut g = group();
        let mut a = Client::join(&mut g, "a", 0);
        let mut b = Client::join(&mut g, "b", 10);
        // a is asked to revoke but never reports it (keeps claiming all six).
        let all = a.owned.clone();
        g.heartbeat(hb("a", 1, &all), "", &topics(), 20).unwrap();
        assert_eq!(
            g.member("a").unwrap().state,
            MemberState::UnrevokedPartitions
        );
        b.beat(&mut g, 25_000);
        g.heartbeat(hb("a", 1, &all), "", &topics(), 25_000)
            .unwrap();
        assert!(g.tick(29_999).is_empty());
        assert_eq!(g.tick(30_020), vec!["a".to_string()]);
        let r = b.beat(&mut g, 30_030);
        assert_eq!(n(&r.assignment.unwrap()), 6);
        a.epoch = 1;
        let _ = a;
    }

    #[test]
    fn epoch_fencing_is_kafkas() {
        let mut g = group();
        let mut cs = vec![Client::join(&mut g, "a", 0), Client::join(&mut g, "b", 1)];
        settle(&mut g, &mut cs, 2);
        let a = &cs[0];
        assert_eq!(a.epoch, 2);
        // Ahead of the coordinator.
        let e = g
            .heartbeat(hb("a", 3, &a.owned), "", &topics(), 3)
            .unwrap_err();
        assert_eq!(e.error, ErrorCode::FencedMemberEpoch);
        // The previous epoch with a subset of the assignment: a lost answer, accepted.
        let ok = g.heartbeat(hb("a", 1, &a.owned), "", &topics(), 4).unwrap();
        assert_eq!(ok.member_epoch, 2);
        // The previous epoch claiming more than assigned: fenced.
        let all = BTreeMap::from([(tid(1), (0..6).collect())]);
        let e = g.heartbeat(hb("a", 1, &all), "", &topics(), 5).unwrap_err();
        assert_eq!(e.error, ErrorCode::FencedMemberEpoch);
        // Epoch 0 from a known member: a rejoin, accepted.
        let e = g.heartbeat(hb("a", 0, &a.owned), "", &topics(), 6);
        assert!(e.is_ok(), "epoch 0 is a rejoin, never fenced");
        // An unknown member with a non-zero epoch.
        let e = g
            .heartbeat(hb("zz", 2, &a.owned), "", &topics(), 7)
            .unwrap_err();
        assert_eq!(e.error, ErrorCode::UnknownMemberId);
    }

    #[test]
    fn static_members_leave_with_minus_two_and_are_replaced() {
        let mut g = group();
        let mut j = join_hb("a1");
        j.instance_id = Some("ia".into());
        let first = g.heartbeat(j.clone(), "", &topics(), 0).unwrap();
        let owned = first.assignment.unwrap();
        // Another member with the same instance id while a1 is in: unreleased.
        let mut j2 = join_hb("a2");
        j2.instance_id = Some("ia".into());
        assert_eq!(
            g.heartbeat(j2.clone(), "", &topics(), 1).unwrap_err().error,
            ErrorCode::UnreleasedInstanceId
        );
        // a2 with a non-zero epoch: fenced instance.
        let mut other = hb("a2", 1, &owned);
        other.instance_id = Some("ia".into());
        assert_eq!(
            g.heartbeat(other, "", &topics(), 1).unwrap_err().error,
            ErrorCode::FencedInstanceId
        );
        // a1 leaves for now: kept, no rebalance.
        let epoch = g.group_epoch();
        let r = g.leave("a1", Some("ia"), LEAVE_STATIC_EPOCH).unwrap();
        assert_eq!(r.member_epoch, -2);
        assert_eq!(g.group_epoch(), epoch);
        // a2 takes over its partitions at once.
        let r = g.heartbeat(j2, "", &topics(), 2).unwrap();
        assert_eq!(r.member_id, "a2");
        assert_eq!(r.assignment.unwrap(), owned);
        assert!(g.member("a1").is_none());
        assert_eq!(g.group_epoch(), epoch, "same subscription: no new epoch");
    }

    #[test]
    fn group_max_size_and_request_validation() {
        let mut g = ConsumerGroup::new(
            "g",
            ConsumerGroupConfig {
                max_size: 1,
                ..ConsumerGroupConfig::default()
            },
        );
        g.heartbeat(join_hb("a"), "", &topics(), 0).unwrap();
        assert_eq!(
            g.heartbeat(join_hb("b"), "", &topics(), 0)
                .unwrap_err()
                .error,
            ErrorCode::GroupMaxSizeReached
        );
        let code = |h: Heartbeat, v: i16| validate("g", &h, v).map_err(|r| r.error);
        assert_eq!(code(join_hb("a"), 1), Ok(()));
        assert_eq!(code(join_hb(""), 1), Err(ErrorCode::InvalidRequest));
        assert_eq!(code(join_hb(""), 0), Ok(()));
        assert_eq!(
            validate("", &join_hb("a"), 1).unwrap_err().error,
            ErrorCode::InvalidRequest
        );
        let mut h = join_hb("a");
        h.rebalance_timeout_ms = -1;
        assert_eq!(code(h, 1), Err(ErrorCode::InvalidRequest));
        let mut h = join_hb("a");
        h.owned = None;
        assert_eq!(code(h, 1), Err(ErrorCode::InvalidRequest));
        let mut h = join_hb("a");
        h.subscribed_topic_names = None;
        assert_eq!(code(h, 1), Err(ErrorCode::InvalidRequest));
        let mut h = join_hb("a");
        h.server_assignor = Some("sticky".into());
        assert_eq!(code(h, 1), Err(ErrorCode::UnsupportedAssignor));
        let mut h = join_hb("a");
        h.server_assignor = Some("range".into());
        assert_eq!(code(h, 1), Ok(()));
        let mut h = hb("a", -2, &Assignment::new());
        assert_eq!(code(h.clone(), 1), Err(ErrorCode::InvalidRequest));
        h.instance_id = Some("i".into());
        assert_eq!(code(h, 1), Ok(()));
        assert_eq!(
            code(hb("a", -3, &Assignment::new()), 1),
            Err(ErrorCode::InvalidRequest)
        );
    }

    #[test]
    fn range_assignor_is_used_when_members_ask_for_it() {
        let mut g = group();
        let mut ja = join_hb("a");
        ja.server_assignor = Some("range".into());
        let mut jb = join_hb("b");
        jb.server_assignor = Some("range".into());
        let a = g.heartbeat(ja, "", &topics(), 0).unwrap();
        assert_eq!(g.assignor(), Assignor::Range);
        let mut ca = Client {
            id: "a".into(),
            epoch: a.member_epoch,
            owned: a.assignment.unwrap(),
        };
        let b = g.heartbeat(jb, "", &topics(), 1).unwrap();
        let mut cb = Client {
            id: "b".into(),
            epoch: b.member_epoch,
            owned: b.assignment.unwrap(),
        };
        let mut cs = vec![ca.clone(), cb.clone()];
        settle(&mut g, &mut cs, 2);
        ca = cs[0].clone();
        cb = cs[1].clone();
        assert_eq!(parts(&ca.owned), BTreeSet::from([0, 1, 2]));
        assert_eq!(parts(&cb.owned), BTreeSet::from([3, 4, 5]));
    }

    #[test]
    fn new_topic_partitions_bump_the_epoch_and_are_assigned() {
        let mut g = group();
        let mut a = Client::join(&mut g, "a", 0);
        let mut more = topics();
        more.get_mut("t").unwrap().partitions = 8;
        let r = g
            .heartbeat(hb("a", a.epoch, &a.owned), "", &more, 1)
            .unwrap();
        assert_eq!(r.member_epoch, 2);
        assert_eq!(parts(&r.assignment.unwrap()).len(), 8);
        a.epoch = 2;
        // Subscribing to one more topic is a new subscription too.
        let mut h = hb("a", 2, &a.owned);
        h.subscribed_topic_names = Some(vec!["t".into(), "u".into()]);
        let r = g.heartbeat(h, "", &more, 2).unwrap();
        assert_eq!(r.member_epoch, 3);
        assert_eq!(n(&r.assignment.unwrap()), 10);
    }

    #[test]
    fn commit_and_fetch_checks_use_the_member_epoch() {
        let mut g = group();
        let a = Client::join(&mut g, "a", 0);
        assert_eq!(g.validate_commit("a", a.epoch, 9), Ok(()));
        assert_eq!(
            g.validate_commit("a", a.epoch + 1, 9),
            Err(ErrorCode::StaleMemberEpoch)
        );
        assert_eq!(
            g.validate_commit("a", a.epoch - 1, 9),
            Err(ErrorCode::StaleMemberEpoch)
        );
        assert_eq!(
            g.validate_commit("a", a.epoch, 8),
            Err(ErrorCode::UnsupportedVersion)
        );
        assert_eq!(
            g.validate_commit("zz", 1, 9),
            Err(ErrorCode::UnknownMemberId)
        );
        assert_eq!(
            g.validate_commit("", -1, 9),
            Err(ErrorCode::UnknownMemberId)
        );
        assert_eq!(g.validate_fetch(None, -1), Ok(()));
        assert_eq!(g.validate_fetch(Some("a"), a.epoch), Ok(()));
        assert_eq!(
            g.validate_fetch(Some("a"), 7),
            Err(ErrorCode::StaleMemberEpoch)
        );
        assert_eq!(
            g.validate_fetch(Some("zz"), 1),
            Err(ErrorCode::UnknownMemberId)
        );
        g.leave("a", None, LEAVE_EPOCH).unwrap();
        assert_eq!(
            g.validate_commit("", -1, 9),
            Ok(()),
            "simple commits once empty"
        );
    }
}
