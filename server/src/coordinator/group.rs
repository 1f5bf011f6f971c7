//! One classic consumer group as a state machine: fed events (join, sync,
//! heartbeat, leave, commit validation, a write finishing) plus the time in
//! milliseconds of a monotonic clock, never reading a clock itself, so tests
//! drive rebalance and session timeouts by passing numbers.
//!
//! States and moves, as Kafka's classic group coordinator has them:
//!
//! ```text
//! Empty ──join──> PreparingRebalance ──all rejoined / rebalance timeout──> CompletingRebalance
//!   ^                 ^     │ (no member left)                                   │ leader's SyncGroup,
//!   └─────────────────┼─────┘                                                    │ assignment stored
//!                     │                                                          v
//!                     └── join with new metadata, leave, expiry ────────────── Stable
//! any state ──DeleteGroups (Empty only)──> Dead
//! ```
//!
//! Answers that must wait (a JoinGroup until the rebalance completes, a
//! SyncGroup until the leader's assignment is stored) go back through a
//! oneshot channel held by the member; everything else answers at once.
//! What must be written to `__consumer_offsets` comes out as [`Effect`]s that
//! the caller drains with [`Group::take_effects`] and appends in order.

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::oneshot;

use crate::error_code::ErrorCode;

/// Milliseconds of a monotonic clock.
pub type Millis = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// The name Kafka uses on the wire (ListGroups, DescribeGroups).
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// Group settings from the broker config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of
    /// an empty group waits for more members.
    pub initial_rebalance_delay_ms: i64,
}

/// A protocol a member supports: its name and its opaque metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    pub name: String,
    pub metadata: Bytes,
}

/// A JoinGroup, in the group's terms.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    /// Empty for a member that does not know its id yet.
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<Protocol>,
    /// v4+ dynamic members get MEMBER_ID_REQUIRED on their first join.
    pub require_known_member_id: bool,
    /// The id a new member gets (the caller draws it: `client_id-uuid`).
    pub new_member_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResult {
    pub error: ErrorCode,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Filled for the leader only.
    pub members: Vec<JoinedMember>,
    pub skip_assignment: bool,
}

impl JoinResult {
    pub fn error(error: ErrorCode, member_id: &str) -> JoinResult {
        JoinResult {
            error,
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            member_id: member_id.to_owned(),
            members: Vec::new(),
            skip_assignment: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResult {
    pub error: ErrorCode,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResult {
    pub fn error(error: ErrorCode) -> SyncResult {
        SyncResult {
            error,
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// An answer now, or one that comes when the group gets there.
#[derive(Debug)]
pub enum Reply<T> {
    Now(T),
    Later(oneshot::Receiver<T>),
}

impl<T> Reply<T> {
    /// Waits for the answer; `gone` if the group dropped the waiter.
    pub async fn wait(self, gone: T) -> T {
        match self {
            Reply::Now(t) => t,
            Reply::Later(rx) => rx.await.unwrap_or(gone),
        }
    }
}

/// What the caller must write for the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Append this group metadata record. `completes_sync`: the generation
    /// whose leader assignment waits for the write; report the outcome with
    /// [`Group::on_group_stored`].
    StoreGroup {
        value: GroupMetadata,
        completes_sync: Option<i32>,
    },
}

/// The group metadata record's content (see `records`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupMetadata {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub current_state_timestamp: i64,
    pub members: Vec<MemberMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberMetadata {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout: i32,
    pub session_timeout: i32,
    pub subscription: Bytes,
    pub assignment: Bytes,
}

/// A committed offset as the group keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
    /// Where its record sits in `__consumer_offsets`: a write that finishes
    /// late never overwrites a newer one.
    pub record_offset: i64,
}

/// A member as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

#[derive(Debug)]
struct Member {
    member_id: String,
    group_instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout_ms: i32,
    rebalance_timeout_ms: i32,
    protocols: Vec<Protocol>,
    assignment: Bytes,
    awaiting_join: Option<oneshot::Sender<JoinResult>>,
    awaiting_sync: Option<oneshot::Sender<SyncResult>>,
    /// Past this, a member that waits for neither a join nor a sync answer
    /// has missed its session timeout.
    heartbeat_deadline: Millis,
}

impl Member {
    fn matches(&self, protocols: &[Protocol]) -> bool {
        self.protocols == protocols
    }

    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| p.metadata.clone())
            .unwrap_or_default()
    }

    /// A member waiting for a join or sync answer cannot heartbeat (its
    /// connection is busy), so it does not expire, as in Kafka.
    fn expired(&self, now: Millis) -> bool {
        self.awaiting_join.is_none()
            && self.awaiting_sync.is_none()
            && now >= self.heartbeat_deadline
    }

    fn answer_join(&mut self, result: JoinResult) {
        if let Some(tx) = self.awaiting_join.take() {
            let _ = tx.send(result);
        }
    }

    fn answer_sync(&mut self, result: SyncResult) {
        if let Some(tx) = self.awaiting_sync.take() {
            let _ = tx.send(result);
        }
    }
}

/// The first rebalance of an empty group waits
/// `group.initial.rebalance.delay.ms` for more members, again while new ones
/// keep coming, up to the rebalance timeout (Kafka's InitialDelayedJoin).
#[derive(Debug, Clone, Copy)]
struct InitialDelay {
    deadline: Millis,
    remaining_ms: i64,
}

#[derive(Debug)]
pub struct Group {
    pub id: String,
    config: GroupConfig,
    state: GroupState,
    state_since_wall_ms: i64,
    generation_id: i32,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    leader: Option<String>,
    /// In join order: the first joined member leads.
    members: Vec<Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with the time by which
    /// they must join again.
    pending_members: BTreeMap<String, Millis>,
    /// Members of this generation that have not sent SyncGroup yet, and by
    /// when they must.
    pending_sync: BTreeSet<String>,
    sync_deadline: Option<Millis>,
    join_deadline: Millis,
    initial_delay: Option<InitialDelay>,
    new_member_added: bool,
    /// The leader's assignment, waiting for its group record to be stored.
    pending_assignment: Option<(i32, BTreeMap<String, Bytes>)>,
    offsets: BTreeMap<(String, i32), CommittedOffset>,
    effects: Vec<Effect>,
    /// The group record last handed to storage (or loaded): what a
    /// compaction of `__consumer_offsets` writes again for this group.
    stored_metadata: Option<GroupMetadata>,
    /// Offset commits and deletions appended but not yet applied here:
    /// until they are, memory is behind the log, so neither retention nor
    /// compaction may judge this group from memory.
    pending_writes: u32,
}

fn error_join(error: ErrorCode, member_id: &str) -> Reply<JoinResult> {
    Reply::Now(JoinResult::error(error, member_id))
}

impl Group {
    pub fn new(id: &str, config: GroupConfig, wall_ms: i64) -> Group {
        Group {
            id: id.to_owned(),
            config,
            state: GroupState::Empty,
            state_since_wall_ms: wall_ms,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: Vec::new(),
            pending_members: BTreeMap::new(),
            pending_sync: BTreeSet::new(),
            sync_deadline: None,
            join_deadline: 0,
            initial_delay: None,
            new_member_added: false,
            pending_assignment: None,
            offsets: BTreeMap::new(),
            effects: Vec::new(),
            stored_metadata: None,
            pending_writes: 0,
        }
    }

    /// A group as its last metadata record left it: Stable with its
    /// members if it had any (each gets a fresh session), else Empty.
    pub fn loaded(
        id: &str,
        config: GroupConfig,
        metadata: Option<GroupMetadata>,
        offsets: BTreeMap<(String, i32), CommittedOffset>,
        now: Millis,
        wall_ms: i64,
    ) -> Group {
        let mut group = Group::new(id, config, wall_ms);
        group.offsets = offsets;
        group.stored_metadata = metadata.clone();
        if let Some(m) = metadata {
            group.protocol_type = (!m.protocol_type.is_empty()).then_some(m.protocol_type);
            group.generation_id = m.generation;
            group.protocol_name = m.protocol.clone();
            group.leader = m.leader;
            if m.current_state_timestamp >= 0 {
                group.state_since_wall_ms = m.current_state_timestamp;
            }
            for mm in m.members {
                group.members.push(Member {
                    member_id: mm.member_id,
                    group_instance_id: mm.group_instance_id,
                    client_id: mm.client_id,
                    client_host: mm.client_host,
                    session_timeout_ms: mm.session_timeout,
                    rebalance_timeout_ms: mm.rebalance_timeout,
                    protocols: vec![Protocol {
                        name: m.protocol.clone().unwrap_or_default(),
                        metadata: mm.subscription,
                    }],
                    assignment: mm.assignment,
                    awaiting_join: None,
                    awaiting_sync: None,
                    heartbeat_deadline: now + i64::from(mm.session_timeout),
                });
            }
            if !group.members.is_empty() && group.protocol_name.is_some() {
                group.state = GroupState::Stable;
            } else {
                group.members.clear();
                group.leader = None;
            }
        }
        group
    }

    pub fn state(&self) -> GroupState {
        self.state
    }

    pub fn generation_id(&self) -> i32 {
        self.generation_id
    }

    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    pub fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }

    pub fn leader(&self) -> Option<&str> {
        self.leader.as_deref()
    }

    pub fn member_ids(&self) -> Vec<String> {
        self.members.iter().map(|m| m.member_id.clone()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// No members, and none on its way in (a member id handed out with
    /// MEMBER_ID_REQUIRED and not used yet).
    pub fn is_idle(&self) -> bool {
        self.members.is_empty() && self.pending_members.is_empty()
    }

    pub fn offsets(&self) -> &BTreeMap<(String, i32), CommittedOffset> {
        &self.offsets
    }

    /// What must be written, in order. Each group record taken here is
    /// the one storage will hold last (see [`Group::stored_metadata`]).
    pub fn take_effects(&mut self) -> Vec<Effect> {
        let effects = std::mem::take(&mut self.effects);
        if let Some(Effect::StoreGroup { value, .. }) = effects.last() {
            self.stored_metadata = Some(value.clone());
        }
        effects
    }

    /// The latest group record handed to storage, if any was.
    pub fn stored_metadata(&self) -> Option<&GroupMetadata> {
        self.stored_metadata.as_ref()
    }

    /// An offset commit or deletion was appended for this group.
    pub fn begin_write(&mut self) {
        self.pending_writes += 1;
    }

    /// ... and has been applied (or failed).
    pub fn end_write(&mut self) {
        self.pending_writes = self.pending_writes.saturating_sub(1);
    }

    /// Whether memory holds everything appended for this group.
    pub fn settled(&self) -> bool {
        self.pending_writes == 0
    }

    fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.member_id == id)
    }

    fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.member_id == id)
    }

    fn has(&self, id: &str) -> bool {
        self.member(id).is_some()
    }

    fn is_leader(&self, id: &str) -> bool {
        self.leader.as_deref() == Some(id)
    }

    fn static_member_id(&self, instance_id: &str) -> Option<String> {
        self.members
            .iter()
            .find(|m| m.group_instance_id.as_deref() == Some(instance_id))
            .map(|m| m.member_id.clone())
    }

    /// Kafka's validateMember: an instance id must map to exactly this
    /// member (FENCED_INSTANCE_ID if to another one), and the member must
    /// exist.
    fn validate_member(&self, member_id: &str, instance_id: Option<&str>) -> Result<(), ErrorCode> {
        if let Some(instance) = instance_id {
            match self.static_member_id(instance) {
                None => return Err(ErrorCode::UnknownMemberId),
                Some(current) if current != member_id => return Err(ErrorCode::FencedInstanceId),
                Some(_) => {}
            }
        }
        if self.has(member_id) {
            Ok(())
        } else {
            Err(ErrorCode::UnknownMemberId)
        }
    }

    fn transition(&mut self, to: GroupState, wall_ms: i64) {
        self.state = to;
        self.state_since_wall_ms = wall_ms;
    }

    /// Protocols every member supports.
    fn candidate_protocols(&self) -> BTreeSet<String> {
        let mut candidates: Option<BTreeSet<String>> = None;
        for m in &self.members {
            let names: BTreeSet<String> = m.protocols.iter().map(|p| p.name.clone()).collect();
            candidates = Some(match candidates {
                None => names,
                Some(c) => c.intersection(&names).cloned().collect(),
            });
        }
        candidates.unwrap_or_default()
    }

    /// Kafka's supportsProtocols: an empty group takes any non-empty type
    /// and list; otherwise the type must match and one of the protocols
    /// must be one every current member supports.
    fn supports_protocols(&self, protocol_type: &str, protocols: &[Protocol]) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        let candidates = self.candidate_protocols();
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|p| candidates.contains(&p.name))
    }

    /// Each member votes for its most preferred protocol among those all
    /// support; the most votes win. Kafka breaks ties by hash-map order; we
    /// break them by the leader's preference order, so the choice is
    /// deterministic.
    fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in &self.members {
            if let Some(p) = m.protocols.iter().find(|p| candidates.contains(&p.name)) {
                *votes.entry(p.name.as_str()).or_default() += 1;
            }
        }
        let best = votes.values().copied().max()?;
        let leader_order = self
            .leader
            .as_deref()
            .and_then(|l| self.member(l))
            .or(self.members.first())
            .map(|m| {
                m.protocols
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        leader_order
            .into_iter()
            .find(|name| votes.get(name) == Some(&best))
            .map(str::to_owned)
    }

    fn max_rebalance_timeout(&self) -> i64 {
        self.members
            .iter()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    // ---- JoinGroup ----------------------------------------------------

    pub fn join(&mut self, req: JoinRequest, now: Millis, wall_ms: i64) -> Reply<JoinResult> {
        let reply = if self.state == GroupState::Dead {
            error_join(ErrorCode::CoordinatorNotAvailable, &req.member_id)
        } else if !self.supports_protocols(&req.protocol_type, &req.protocols) {
            error_join(ErrorCode::InconsistentGroupProtocol, &req.member_id)
        } else if req.member_id.is_empty() {
            self.join_new_member(req, now, wall_ms)
        } else {
            self.join_known_member(req, now, wall_ms)
        };
        self.try_complete_join(now, wall_ms);
        reply
    }

    fn join_new_member(
        &mut self,
        req: JoinRequest,
        now: Millis,
        wall_ms: i64,
    ) -> Reply<JoinResult> {
        let new_id = req.new_member_id.clone();
        if let Some(instance) = req.group_instance_id.clone() {
            return match self.static_member_id(&instance) {
                Some(old) => self.replace_static_member(&old, new_id, req, now, wall_ms),
                None => self.add_member_and_rebalance(new_id, req, now, wall_ms),
            };
        }
        if req.require_known_member_id {
            self.pending_members
                .insert(new_id.clone(), now + i64::from(req.session_timeout_ms));
            return error_join(ErrorCode::MemberIdRequired, &new_id);
        }
        self.add_member_and_rebalance(new_id, req, now, wall_ms)
    }

    fn join_known_member(
        &mut self,
        req: JoinRequest,
        now: Millis,
        wall_ms: i64,
    ) -> Reply<JoinResult> {
        let id = req.member_id.clone();
        if self.pending_members.remove(&id).is_some() {
            return self.add_member_and_rebalance(id, req, now, wall_ms);
        }
        if let Err(e) = self.validate_member(&id, req.group_instance_id.as_deref()) {
            return error_join(e, &id);
        }
        let matches = self.member(&id).is_some_and(|m| m.matches(&req.protocols));
        match self.state {
            GroupState::PreparingRebalance => self.update_member_and_rebalance(req, now, wall_ms),
            GroupState::CompletingRebalance if matches => {
                // It lost the join answer: send the same one again.
                Reply::Now(self.join_result_for(&id, false))
            }
            GroupState::Stable if matches && !self.is_leader(&id) => {
                Reply::Now(self.join_result_for(&id, false))
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member_and_rebalance(req, now, wall_ms)
            }
            GroupState::Empty | GroupState::Dead => error_join(ErrorCode::UnknownMemberId, &id),
        }
    }

    fn join_result_for(&self, member_id: &str, skip_assignment: bool) -> JoinResult {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let members = if self.is_leader(member_id) {
            self.members
                .iter()
                .map(|m| JoinedMember {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    metadata: m.metadata_for(&protocol),
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinResult {
            error: ErrorCode::None,
            generation_id: self.generation_id,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            member_id: member_id.to_owned(),
            members,
            skip_assignment,
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        id: String,
        req: JoinRequest,
        now: Millis,
        wall_ms: i64,
    ) -> Reply<JoinResult> {
        let (tx, rx) = oneshot::channel();
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(id.clone());
        }
        if self.state == GroupState::PreparingRebalance && self.generation_id == 0 {
            self.new_member_added = true;
        }
        self.members.push(Member {
            member_id: id,
            group_instance_id: req.group_instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            session_timeout_ms: req.session_timeout_ms,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            protocols: req.protocols,
            assignment: Bytes::new(),
            awaiting_join: Some(tx),
            awaiting_sync: None,
            heartbeat_deadline: now + i64::from(req.session_timeout_ms),
        });
        self.maybe_prepare_rebalance(now, wall_ms);
        Reply::Later(rx)
    }

    fn update_member_and_rebalance(
        &mut self,
        req: JoinRequest,
        now: Millis,
        wall_ms: i64,
    ) -> Reply<JoinResult> {
        let (tx, rx) = oneshot::channel();
        if let Some(m) = self.member_mut(&req.member_id) {
            // A join that replaces one still waiting: the older request is
            // answered so its connection is not left hanging.
            m.answer_join(JoinResult::error(
                ErrorCode::RebalanceInProgress,
                &req.member_id,
            ));
            m.protocols = req.protocols;
            m.session_timeout_ms = req.session_timeout_ms;
            m.rebalance_timeout_ms = req.rebalance_timeout_ms;
            m.client_id = req.client_id;
            m.client_host = req.client_host;
            m.awaiting_join = Some(tx);
            m.heartbeat_deadline = now + i64::from(req.session_timeout_ms);
        }
        self.maybe_prepare_rebalance(now, wall_ms);
        Reply::Later(rx)
    }

    /// A static member rejoining without its member id (a restarted
    /// process): it takes the old member's place. In Stable with an
    /// unchanged protocol choice there is no rebalance: the member gets the
    /// current generation (the leader with `skip_assignment`), and the group
    /// record is stored with the new member id.
    fn replace_static_member(
        &mut self,
        old_id: &str,
        new_id: String,
        req: JoinRequest,
        now: Millis,
        wall_ms: i64,
    ) -> Reply<JoinResult> {
        let Some(m) = self.member_mut(old_id) else {
            return error_join(ErrorCode::UnknownMemberId, &new_id);
        };
        // The old incarnation's waiting requests are fenced.
        m.answer_join(JoinResult::error(ErrorCode::FencedInstanceId, old_id));
        m.answer_sync(SyncResult::error(ErrorCode::FencedInstanceId));
        m.member_id = new_id.clone();
        m.protocols = req.protocols;
        m.session_timeout_ms = req.session_timeout_ms;
        m.rebalance_timeout_ms = req.rebalance_timeout_ms;
        m.client_id = req.client_id;
        m.client_host = req.client_host;
        m.heartbeat_deadline = now + i64::from(req.session_timeout_ms);
        if self.leader.as_deref() == Some(old_id) {
            self.leader = Some(new_id.clone());
        }
        if self.pending_sync.remove(old_id) {
            self.pending_sync.insert(new_id.clone());
        }
        match self.state {
            GroupState::Stable if self.select_protocol() == self.protocol_name => {
                self.store_group(None);
                let leader = self.is_leader(&new_id);
                Reply::Now(self.join_result_for(&new_id, leader))
            }
            GroupState::PreparingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.member_mut(&new_id) {
                    m.awaiting_join = Some(tx);
                }
                Reply::Later(rx)
            }
            // Stable with a changed protocol choice, or CompletingRebalance
            // (the leader may have assigned to the old id): rebalance.
            _ => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.member_mut(&new_id) {
                    m.awaiting_join = Some(tx);
                }
                self.maybe_prepare_rebalance(now, wall_ms);
                Reply::Later(rx)
            }
        }
    }

    fn maybe_prepare_rebalance(&mut self, now: Millis, wall_ms: i64) {
        if matches!(
            self.state,
            GroupState::Empty | GroupState::Stable | GroupState::CompletingRebalance
        ) {
            self.prepare_rebalance(now, wall_ms);
        }
    }

    fn prepare_rebalance(&mut self, now: Millis, wall_ms: i64) {
        if self.state == GroupState::CompletingRebalance {
            // Members waiting for this generation's assignment must rejoin.
            self.pending_assignment = None;
            for m in &mut self.members {
                m.assignment = Bytes::new();
                m.answer_sync(SyncResult::error(ErrorCode::RebalanceInProgress));
            }
        }
        self.pending_sync.clear();
        self.sync_deadline = None;
        let was_empty = self.state == GroupState::Empty;
        self.transition(GroupState::PreparingRebalance, wall_ms);
        let rebalance_timeout = self.max_rebalance_timeout();
        let delay = self.config.initial_rebalance_delay_ms;
        if was_empty && delay > 0 {
            self.new_member_added = false;
            self.initial_delay = Some(InitialDelay {
                deadline: now + delay.min(rebalance_timeout),
                remaining_ms: (rebalance_timeout - delay).max(0),
            });
        } else {
            self.initial_delay = None;
        }
        self.join_deadline = now + rebalance_timeout;
    }

    fn all_members_joined(&self) -> bool {
        self.pending_members.is_empty() && self.members.iter().all(|m| m.awaiting_join.is_some())
    }

    fn try_complete_join(&mut self, now: Millis, wall_ms: i64) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        if let Some(mut initial) = self.initial_delay {
            if now < initial.deadline {
                return;
            }
            if self.new_member_added && initial.remaining_ms > 0 {
                self.new_member_added = false;
                let delay = self
                    .config
                    .initial_rebalance_delay_ms
                    .min(initial.remaining_ms);
                initial.deadline = now + delay;
                initial.remaining_ms = (initial.remaining_ms - delay).max(0);
                self.initial_delay = Some(initial);
                return;
            }
            self.complete_join(now, wall_ms);
        } else if self.all_members_joined() || now >= self.join_deadline {
            self.complete_join(now, wall_ms);
        }
    }

    /// The rebalance ends: dynamic members that did not rejoin are removed,
    /// the generation moves on, and every joined member gets its answer
    /// (the leader with everyone's metadata).
    fn complete_join(&mut self, now: Millis, wall_ms: i64) {
        let failed: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.awaiting_join.is_none() && m.group_instance_id.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for id in failed {
            self.remove_member(&id);
        }
        self.initial_delay = None;
        if !self.members.is_empty() && !self.elect_joined_leader() {
            // Only static members that have not rejoined are left: wait
            // another rebalance timeout (their sessions expire meanwhile).
            self.join_deadline = now + self.max_rebalance_timeout();
            return;
        }
        self.generation_id += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.leader = None;
            self.transition(GroupState::Empty, wall_ms);
            self.store_group(None);
            return;
        }
        self.protocol_name = self.select_protocol();
        self.transition(GroupState::CompletingRebalance, wall_ms);
        let ids = self.member_ids();
        for id in &ids {
            let result = self.join_result_for(id, false);
            if let Some(m) = self.member_mut(id) {
                m.answer_join(result);
                m.heartbeat_deadline = now + i64::from(m.session_timeout_ms);
            }
        }
        self.pending_sync = ids.into_iter().collect();
        self.sync_deadline = Some(now + self.max_rebalance_timeout());
    }

    /// Keeps the leader if it rejoined, else picks a member that did.
    fn elect_joined_leader(&mut self) -> bool {
        let leader_joined = self
            .leader
            .as_deref()
            .and_then(|l| self.member(l))
            .is_some_and(|m| m.awaiting_join.is_some());
        if leader_joined {
            return true;
        }
        match self.members.iter().find(|m| m.awaiting_join.is_some()) {
            Some(m) => {
                self.leader = Some(m.member_id.clone());
                true
            }
            None => false,
        }
    }

    fn remove_member(&mut self, id: &str) -> Option<Member> {
        let index = self.members.iter().position(|m| m.member_id == id)?;
        let member = self.members.remove(index);
        self.pending_sync.remove(id);
        if self.is_leader(id) {
            self.leader = self
                .members
                .iter()
                .find(|m| m.awaiting_join.is_some())
                .or(self.members.first())
                .map(|m| m.member_id.clone());
        }
        Some(member)
    }

    /// A member leaves or expires: it is answered UNKNOWN_MEMBER_ID if it
    /// still waits, and the group rebalances without it.
    fn remove_member_and_update_group(&mut self, id: &str, now: Millis, wall_ms: i64) {
        if let Some(mut m) = self.remove_member(id) {
            m.answer_join(JoinResult::error(ErrorCode::UnknownMemberId, id));
            m.answer_sync(SyncResult::error(ErrorCode::UnknownMemberId));
        }
        match self.state {
            GroupState::Dead | GroupState::Empty => {}
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance(now, wall_ms)
            }
            GroupState::PreparingRebalance => {}
        }
        self.try_complete_join(now, wall_ms);
    }

    fn store_group(&mut self, completes_sync: Option<i32>) {
        let value = self.metadata_record();
        self.effects.push(Effect::StoreGroup {
            value,
            completes_sync,
        });
    }

    /// The group record: members with the chosen protocol's metadata and
    /// their assignment (the pending one when the leader's sync waits).
    pub fn metadata_record(&self) -> GroupMetadata {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let pending = self.pending_assignment.as_ref().map(|(_, a)| a);
        GroupMetadata {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation_id,
            protocol: self.protocol_name.clone(),
            leader: self.leader.clone(),
            current_state_timestamp: self.state_since_wall_ms,
            members: self
                .members
                .iter()
                .map(|m| MemberMetadata {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout: m.rebalance_timeout_ms,
                    session_timeout: m.session_timeout_ms,
                    subscription: m.metadata_for(&protocol),
                    assignment: pending
                        .and_then(|a| a.get(&m.member_id).cloned())
                        .unwrap_or_else(|| m.assignment.clone()),
                })
                .collect(),
        }
    }

    // ---- SyncGroup ----------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    pub fn sync(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
        now: Millis,
        _wall_ms: i64,
    ) -> Reply<SyncResult> {
        let error = |e| Reply::Now(SyncResult::error(e));
        if self.state == GroupState::Dead {
            return error(ErrorCode::CoordinatorNotAvailable);
        }
        if let Err(e) = self.validate_member(member_id, instance_id) {
            return error(e);
        }
        if generation_id != self.generation_id {
            return error(ErrorCode::IllegalGeneration);
        }
        if protocol_type.is_some_and(|t| self.protocol_type.as_deref() != Some(t))
            || protocol_name.is_some_and(|n| self.protocol_name.as_deref() != Some(n))
        {
            return error(ErrorCode::InconsistentGroupProtocol);
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => error(ErrorCode::UnknownMemberId),
            GroupState::PreparingRebalance => error(ErrorCode::RebalanceInProgress),
            GroupState::CompletingRebalance => {
                self.pending_sync.remove(member_id);
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.member_mut(member_id) {
                    m.answer_sync(SyncResult::error(ErrorCode::RebalanceInProgress));
                    m.awaiting_sync = Some(tx);
                    m.heartbeat_deadline = now + i64::from(m.session_timeout_ms);
                }
                if self.is_leader(member_id) && self.pending_assignment.is_none() {
                    // Members the leader left out get an empty assignment;
                    // ids the group does not know are ignored.
                    let given: BTreeMap<String, Bytes> = assignments.into_iter().collect();
                    let assignment = self
                        .members
                        .iter()
                        .map(|m| {
                            let a = given.get(&m.member_id).cloned().unwrap_or_default();
                            (m.member_id.clone(), a)
                        })
                        .collect();
                    self.pending_assignment = Some((self.generation_id, assignment));
                    self.store_group(Some(self.generation_id));
                }
                Reply::Later(rx)
            }
            GroupState::Stable => {
                self.pending_sync.remove(member_id);
                let result = SyncResult {
                    error: ErrorCode::None,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol_name.clone(),
                    assignment: self
                        .member(member_id)
                        .map(|m| m.assignment.clone())
                        .unwrap_or_default(),
                };
                if let Some(m) = self.member_mut(member_id) {
                    m.heartbeat_deadline = now + i64::from(m.session_timeout_ms);
                }
                Reply::Now(result)
            }
        }
    }

    /// The group record written for the leader's sync of `generation` is
    /// durable (`error` None) or failed. On success the assignment reaches
    /// every member waiting in SyncGroup and the group is Stable; on failure
    /// they get the error and the group rebalances, as in Kafka.
    pub fn on_group_stored(
        &mut self,
        generation: i32,
        error: ErrorCode,
        now: Millis,
        wall_ms: i64,
    ) {
        let current = self.state == GroupState::CompletingRebalance
            && self.generation_id == generation
            && self
                .pending_assignment
                .as_ref()
                .is_some_and(|(g, _)| *g == generation);
        if !current {
            return;
        }
        let Some((_, assignment)) = self.pending_assignment.take() else {
            return;
        };
        if error != ErrorCode::None {
            for m in &mut self.members {
                m.assignment = Bytes::new();
                m.answer_sync(SyncResult::error(error));
            }
            self.prepare_rebalance(now, wall_ms);
            self.try_complete_join(now, wall_ms);
            return;
        }
        let (protocol_type, protocol_name) =
            (self.protocol_type.clone(), self.protocol_name.clone());
        for m in &mut self.members {
            m.assignment = assignment.get(&m.member_id).cloned().unwrap_or_default();
            m.answer_sync(SyncResult {
                error: ErrorCode::None,
                protocol_type: protocol_type.clone(),
                protocol_name: protocol_name.clone(),
                assignment: m.assignment.clone(),
            });
            m.heartbeat_deadline = now + i64::from(m.session_timeout_ms);
        }
        self.transition(GroupState::Stable, wall_ms);
    }

    // ---- Heartbeat, LeaveGroup, expiry ----------------------------------

    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
        now: Millis,
    ) -> ErrorCode {
        if self.state == GroupState::Dead {
            return ErrorCode::CoordinatorNotAvailable;
        }
        if let Err(e) = self.validate_member(member_id, instance_id) {
            return e;
        }
        if generation_id != self.generation_id {
            return ErrorCode::IllegalGeneration;
        }
        if self.state == GroupState::Empty {
            return ErrorCode::UnknownMemberId;
        }
        if let Some(m) = self.member_mut(member_id) {
            m.heartbeat_deadline = now + i64::from(m.session_timeout_ms);
        }
        match self.state {
            GroupState::PreparingRebalance => ErrorCode::RebalanceInProgress,
            _ => ErrorCode::None,
        }
    }

    /// LeaveGroup for each `(member_id, group_instance_id)`; an empty member
    /// id removes the static member with that instance id (admin removal).
    /// `Err`: the whole request fails.
    pub fn leave(
        &mut self,
        leaving: &[(String, Option<String>)],
        now: Millis,
        wall_ms: i64,
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        if self.state == GroupState::Dead {
            return Err(ErrorCode::CoordinatorNotAvailable);
        }
        let mut out = Vec::with_capacity(leaving.len());
        for (member_id, instance_id) in leaving {
            let code = if member_id.is_empty() {
                match instance_id
                    .as_deref()
                    .and_then(|i| self.static_member_id(i))
                {
                    Some(id) => {
                        self.remove_member_and_update_group(&id, now, wall_ms);
                        ErrorCode::None
                    }
                    None => ErrorCode::UnknownMemberId,
                }
            } else if self.pending_members.remove(member_id).is_some() {
                self.try_complete_join(now, wall_ms);
                ErrorCode::None
            } else if instance_id
                .as_deref()
                .and_then(|i| self.static_member_id(i))
                .is_some_and(|current| &current != member_id)
            {
                ErrorCode::FencedInstanceId
            } else if self.has(member_id) {
                self.remove_member_and_update_group(member_id, now, wall_ms);
                ErrorCode::None
            } else {
                ErrorCode::UnknownMemberId
            };
            out.push(code);
        }
        Ok(out)
    }

    /// Timeouts: members past their session, pending member ids never used,
    /// members that did not sync in time, and the rebalance deadline.
    pub fn tick(&mut self, now: Millis, wall_ms: i64) {
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.expired(now))
            .map(|m| m.member_id.clone())
            .collect();
        for id in expired {
            tracing::info!(group = %self.id, member = %id, "member session expired");
            self.remove_member_and_update_group(&id, now, wall_ms);
        }
        let before = self.pending_members.len();
        self.pending_members.retain(|_, deadline| now < *deadline);
        if self.pending_members.len() != before {
            self.try_complete_join(now, wall_ms);
        }
        if let Some(deadline) = self.sync_deadline {
            if self.pending_sync.is_empty() {
                self.sync_deadline = None;
            } else if now >= deadline
                && matches!(
                    self.state,
                    GroupState::CompletingRebalance | GroupState::Stable
                )
            {
                let missing: Vec<String> = self.pending_sync.iter().cloned().collect();
                tracing::info!(group = %self.id, ?missing, "members did not sync in time");
                for id in missing {
                    if let Some(mut m) = self.remove_member(&id) {
                        m.answer_sync(SyncResult::error(ErrorCode::UnknownMemberId));
                    }
                }
                self.prepare_rebalance(now, wall_ms);
            }
        }
        self.try_complete_join(now, wall_ms);
    }

    // ---- Offsets --------------------------------------------------------

    /// Whether an OffsetCommit may go ahead (Kafka's validateOffsetCommit
    /// for classic groups). A generation of -1 with no member is a "simple"
    /// commit, allowed while the group has no members.
    pub fn validate_commit(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), ErrorCode> {
        if self.state == GroupState::Dead {
            return Err(ErrorCode::CoordinatorNotAvailable);
        }
        if generation_id < 0 && self.state == GroupState::Empty {
            return Ok(());
        }
        if generation_id >= 0 || !member_id.is_empty() || instance_id.is_some() {
            self.validate_member(member_id, instance_id)?;
            if generation_id != self.generation_id {
                return Err(ErrorCode::IllegalGeneration);
            }
        } else if self.state != GroupState::Empty {
            return Err(ErrorCode::UnknownMemberId);
        }
        if self.state == GroupState::CompletingRebalance {
            return Err(ErrorCode::RebalanceInProgress);
        }
        Ok(())
    }

    /// A commit's record is durable at `record_offset`.
    pub fn apply_commit(&mut self, topic: &str, partition: i32, value: CommittedOffset) {
        let key = (topic.to_owned(), partition);
        if self
            .offsets
            .get(&key)
            .is_none_or(|old| old.record_offset < value.record_offset)
        {
            self.offsets.insert(key, value);
        }
    }

    /// A tombstone written at `record_offset` is durable.
    pub fn apply_delete(&mut self, topic: &str, partition: i32, record_offset: i64) {
        let key = (topic.to_owned(), partition);
        if self
            .offsets
            .get(&key)
            .is_some_and(|old| old.record_offset < record_offset)
        {
            self.offsets.remove(&key);
        }
    }

    /// Committed offsets whose retention (`offsets.retention.minutes`) has
    /// run out at `wall_ms`, as Kafka's offset expiration condition for
    /// classic groups decides:
    /// - a group with a protocol type that is Empty: every offset, counted
    ///   from when the group became Empty;
    /// - a non-empty "consumer" group whose subscriptions can be read: the
    ///   offsets of topics no member subscribes to, counted from their
    ///   commit;
    /// - any other non-empty group: none;
    /// - a group without a protocol type (only simple commits): each offset
    ///   counted from its commit.
    ///
    /// `consumer_subscription`: when a consumer-protocol group (KIP-848)
    /// holds this id, the topics its members subscribe to; then, as Kafka's
    /// consumer groups, offsets of other topics expire counted from their
    /// commit and subscribed ones never.
    pub fn expired_offsets(
        &self,
        wall_ms: i64,
        retention_ms: i64,
        consumer_subscription: Option<&BTreeSet<String>>,
    ) -> Vec<(String, i32)> {
        let expired = |base: i64| wall_ms.saturating_sub(base) >= retention_ms;
        let by_commit = |subscribed: Option<&BTreeSet<String>>| -> Vec<(String, i32)> {
            self.offsets
                .iter()
                .filter(|((t, _), o)| {
                    !subscribed.is_some_and(|s| s.contains(t)) && expired(o.commit_timestamp)
                })
                .map(|(k, _)| k.clone())
                .collect()
        };
        if let Some(subscribed) = consumer_subscription {
            return by_commit(Some(subscribed));
        }
        if self.protocol_type.is_none() {
            return by_commit(None);
        }
        if self.state == GroupState::Empty {
            return if expired(self.state_since_wall_ms) {
                self.offsets.keys().cloned().collect()
            } else {
                Vec::new()
            };
        }
        match self.subscribed_topics() {
            Some(topics) => by_commit(Some(&topics)),
            None => Vec::new(),
        }
    }

    /// Takes the offsets `expired_offsets` named out of the group (their
    /// tombstones are being written).
    pub fn remove_offsets(&mut self, keys: &[(String, i32)]) {
        for k in keys {
            self.offsets.remove(k);
        }
    }

    /// Topics the members subscribe to, from their "consumer" protocol
    /// metadata; `None` when that cannot be told (not a consumer group, or
    /// metadata we cannot read): then every topic counts as subscribed.
    pub fn subscribed_topics(&self) -> Option<BTreeSet<String>> {
        use strata_protocol::message::Message;
        use strata_protocol::messages::consumer_protocol_subscription::ConsumerProtocolSubscription;
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol_name.clone()?;
        let mut topics = BTreeSet::new();
        for m in &self.members {
            let mut bytes = m.metadata_for(&protocol);
            let version = strata_protocol::wire::get_i16(&mut bytes).ok()?;
            let s = ConsumerProtocolSubscription::decode(&mut bytes, version.clamp(0, 3)).ok()?;
            topics.extend(s.topics);
        }
        Some(topics)
    }

    /// Marks the group deleted (DeleteGroups on an Empty group).
    pub fn delete(&mut self, wall_ms: i64) -> Result<(), ErrorCode> {
        match self.state {
            GroupState::Dead => Err(ErrorCode::GroupIdNotFound),
            GroupState::Empty => {
                self.transition(GroupState::Dead, wall_ms);
                Ok(())
            }
            _ => Err(ErrorCode::NonEmptyGroup),
        }
    }

    /// Members as DescribeGroups shows them: metadata and assignment only
    /// when Stable, as Kafka does.
    pub fn describe_members(&self) -> Vec<MemberDescription> {
        let stable = self.state == GroupState::Stable;
        let protocol = self.protocol_name.clone().unwrap_or_default();
        self.members
            .iter()
            .map(|m| MemberDescription {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                metadata: if stable {
                    m.metadata_for(&protocol)
                } else {
                    Bytes::new()
                },
                assignment: if stable {
                    m.assignment.clone()
                } else {
                    Bytes::new()
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: i32 = 10_000;
    const REBALANCE: i32 = 30_000;

    fn group(delay: i64) -> Group {
        Group::new(
            "g",
            GroupConfig {
                initial_rebalance_delay_ms: delay,
            },
            0,
        )
    }

    fn protocols(names: &[&str]) -> Vec<Protocol> {
        names
            .iter()
            .map(|n| Protocol {
                name: (*n).into(),
                metadata: Bytes::from(format!("meta-{n}")),
            })
            .collect()
    }

    fn join_req(member_id: &str, new_id: &str) -> JoinRequest {
        JoinRequest {
            member_id: member_id.into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: SESSION,
            rebalance_timeout_ms: REBALANCE,
            protocol_type: "consumer".into(),
            protocols: protocols(&["range", "roundrobin"]),
            require_known_member_id: false,
            new_member_id: new_id.into(),
        }
    }

    /// Heartbeats `members` every 3 s from `from`, ticking, then ticks at `to`.
    fn keep_alive(g: &mut Group, members: &[(&str, Option<&str>, i32)], from: Millis, to: Millis) {
        let mut t = from;
        while t < to {
            for (id, instance, generation) in members {
                g.heartbeat(id, *instance, *generation, t);
            }
            g.tick(t, 0);
            t += 3_000;
        }
        g.tick(to, 0);
    }

    fn now_result<T: std::fmt::Debug>(r: Reply<T>) -> T {
        match r {
            Reply::Now(t) => t,
            Reply::Later(_) => panic!("expected an answer now"),
        }
    }

    fn later<T>(r: Reply<T>) -> oneshot::Receiver<T> {
        match r {
            Reply::Later(rx) => rx,
            Reply::Now(_) => panic!("expected a wait"),
        }
    }

    fn ready<T>(rx: &mut oneshot::Receiver<T>) -> T {
        rx.try_recv().expect("answered")
    }

    fn pending<T>(rx: &mut oneshot::Receiver<T>) {
        assert!(matches!(
            rx.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        ));
    }

    /// a and b join (no initial delay), a leads generation 1, a syncs and
    /// the store completes: Stable.
    fn stable_pair() -> Group {
        let mut g = group(0);
        let mut ra = later(g.join(join_req("", "a"), 0, 0));
        // With no delay and one member, the rebalance completes at once.
        let ja = ready(&mut ra);
        assert_eq!(
            (ja.error, ja.generation_id, ja.leader.as_str()),
            (ErrorCode::None, 1, "a")
        );
        // b joins: rebalance; a rejoins.
        let mut rb = later(g.join(join_req("", "b"), 10, 0));
        assert_eq!(g.state(), GroupState::PreparingRebalance);
        pending(&mut rb);
        let mut ra = later(g.join(join_req("a", ""), 20, 0));
        let ja = ready(&mut ra);
        let jb = ready(&mut rb);
        assert_eq!(ja.generation_id, 2);
        assert_eq!(ja.members.len(), 2, "the leader gets everyone");
        assert!(jb.members.is_empty());
        assert_eq!(jb.leader, "a");
        assert_eq!(g.state(), GroupState::CompletingRebalance);
        let mut sb = later(g.sync("b", None, 2, None, None, vec![], 30, 0));
        let mut sa = later(g.sync(
            "a",
            None,
            2,
            Some("consumer"),
            Some("range"),
            vec![
                ("a".into(), Bytes::from("A")),
                ("b".into(), Bytes::from("B")),
            ],
            30,
            0,
        ));
        pending(&mut sa);
        pending(&mut sb);
        let effects = g.take_effects();
        assert!(matches!(
            effects.as_slice(),
            [Effect::StoreGroup {
                completes_sync: Some(2),
                ..
            }]
        ));
        g.on_group_stored(2, ErrorCode::None, 40, 0);
        assert_eq!(ready(&mut sa).assignment, Bytes::from("A"));
        assert_eq!(ready(&mut sb).assignment, Bytes::from("B"));
        assert_eq!(g.state(), GroupState::Stable);
        g
    }

    #[test]
    fn two_members_join_sync_and_become_stable() {
        let g = stable_pair();
        assert_eq!(g.protocol_name(), Some("range"));
        assert_eq!(g.leader(), Some("a"));
    }

    #[test]
    fn first_join_of_v4_member_gets_member_id_required_then_joins() {
        let mut g = group(0);
        let mut req = join_req("", "c-1");
        req.require_known_member_id = true;
        let r = now_result(g.join(req.clone(), 0, 0));
        assert_eq!(r.error, ErrorCode::MemberIdRequired);
        assert_eq!(r.member_id, "c-1");
        assert_eq!(g.state(), GroupState::Empty);
        req.member_id = "c-1".into();
        let mut rx = later(g.join(req, 5, 0));
        let j = ready(&mut rx);
        assert_eq!(
            (j.error, j.member_id.as_str(), j.leader.as_str()),
            (ErrorCode::None, "c-1", "c-1")
        );
    }

    #[test]
    fn pending_member_id_expires_after_the_session_timeout() {
        let mut g = group(0);
        let mut req = join_req("", "p");
        req.require_known_member_id = true;
        now_result(g.join(req.clone(), 0, 0));
        g.tick(i64::from(SESSION), 0);
        req.member_id = "p".into();
        let r = now_result(g.join(req, i64::from(SESSION) + 1, 0));
        assert_eq!(
            r.error,
            ErrorCode::UnknownMemberId,
            "group is Empty, id forgotten"
        );
    }

    #[test]
    fn initial_delay_waits_for_more_members_and_extends_while_they_come() {
        let mut g = group(3_000);
        let mut ra = later(g.join(join_req("", "a"), 0, 0));
        g.tick(2_000, 0);
        let mut rb = later(g.join(join_req("", "b"), 2_000, 0));
        g.tick(3_000, 0);
        // b arrived during the delay: wait another delay.
        pending(&mut ra);
        g.tick(5_999, 0);
        pending(&mut ra);
        g.tick(6_000, 0);
        assert_eq!(ready(&mut ra).members.len(), 2);
        assert_eq!(ready(&mut rb).generation_id, 1);
    }

    #[test]
    fn unknown_protocol_type_or_no_common_protocol_is_inconsistent() {
        let mut g = stable_pair();
        let mut req = join_req("", "x");
        req.protocol_type = "connect".into();
        assert_eq!(
            now_result(g.join(req, 50, 0)).error,
            ErrorCode::InconsistentGroupProtocol
        );
        let mut req = join_req("", "x");
        req.protocols = protocols(&["sticky"]);
        assert_eq!(
            now_result(g.join(req, 50, 0)).error,
            ErrorCode::InconsistentGroupProtocol
        );
        let mut empty = group(0);
        let mut req = join_req("", "x");
        req.protocols.clear();
        assert_eq!(
            now_result(empty.join(req, 0, 0)).error,
            ErrorCode::InconsistentGroupProtocol
        );
    }

    #[test]
    fn protocol_is_the_most_voted_common_one_ties_by_leader_order() {
        let mut g = group(0);
        let mut a = join_req("", "a");
        a.protocols = protocols(&["roundrobin", "range", "sticky"]);
        let mut ra = later(g.join(a.clone(), 0, 0));
        ready(&mut ra);
        let mut b = join_req("", "b");
        b.protocols = protocols(&["range", "roundrobin"]);
        let mut rb = later(g.join(b, 1, 0));
        a.member_id = "a".into();
        let mut ra = later(g.join(a, 2, 0));
        // One vote each: the leader's (a's) order wins.
        assert_eq!(ready(&mut ra).protocol_name.as_deref(), Some("roundrobin"));
        ready(&mut rb);
        // c supports only range: everyone votes for it.
        let mut c = join_req("", "c");
        c.protocols = protocols(&["range"]);
        let mut rc = later(g.join(c, 3, 0));
        let mut ra = later(g.join(
            JoinRequest {
                protocols: protocols(&["roundrobin", "range", "sticky"]),
                ..join_req("a", "")
            },
            4,
            0,
        ));
        let mut rb = later(g.join(join_req("b", ""), 4, 0));
        assert_eq!(ready(&mut rc).protocol_name.as_deref(), Some("range"));
        ready(&mut ra);
        ready(&mut rb);
    }

    #[test]
    fn third_member_triggers_rebalance_and_heartbeats_say_so() {
        let mut g = stable_pair();
        let mut rc = later(g.join(join_req("", "c"), 100, 0));
        assert_eq!(g.state(), GroupState::PreparingRebalance);
        assert_eq!(
            g.heartbeat("a", None, 2, 110),
            ErrorCode::RebalanceInProgress
        );
        assert_eq!(
            g.heartbeat("b", None, 2, 110),
            ErrorCode::RebalanceInProgress
        );
        let mut ra = later(g.join(join_req("a", ""), 120, 0));
        let mut rb = later(g.join(join_req("b", ""), 130, 0));
        assert_eq!(ready(&mut rc).generation_id, 3);
        assert_eq!(ready(&mut ra).members.len(), 3);
        ready(&mut rb);
        assert_eq!(
            g.heartbeat("a", None, 3, 140),
            ErrorCode::None,
            "CompletingRebalance"
        );
    }

    #[test]
    fn rebalance_timeout_removes_members_that_did_not_rejoin() {
        let mut g = stable_pair();
        let mut rc = later(g.join(join_req("", "c"), 100, 0));
        let mut ra = later(g.join(join_req("a", ""), 110, 0));
        // b heartbeats (so it does not expire) but never rejoins.
        keep_alive(
            &mut g,
            &[("b", None, 2)],
            100,
            100 + i64::from(REBALANCE) - 1,
        );
        pending(&mut rc);
        g.tick(100 + i64::from(REBALANCE), 0);
        let ja = ready(&mut ra);
        assert_eq!(ja.generation_id, 3);
        assert_eq!(ja.members.len(), 2);
        ready(&mut rc);
        assert_eq!(g.member_ids(), vec!["a".to_string(), "c".to_string()]);
        assert_eq!(
            g.heartbeat("b", None, 3, 40_000),
            ErrorCode::UnknownMemberId
        );
    }

    #[test]
    fn session_timeout_expires_a_silent_member_and_rebalances() {
        let mut g = stable_pair();
        g.heartbeat("a", None, 2, 9_000);
        g.tick(40 + i64::from(SESSION) - 1, 0);
        assert_eq!(g.state(), GroupState::Stable);
        g.tick(40 + i64::from(SESSION), 0);
        // b expired; a has not rejoined: the group prepares a rebalance.
        assert_eq!(g.member_ids(), vec!["a".to_string()]);
        assert_eq!(g.state(), GroupState::PreparingRebalance);
        let mut ra = later(g.join(join_req("a", ""), 10_100, 0));
        assert_eq!(ready(&mut ra).generation_id, 3);
    }

    #[test]
    fn last_member_expiring_empties_the_group_and_bumps_the_generation() {
        let mut g = group(0);
        let mut ra = later(g.join(join_req("", "a"), 0, 0));
        ready(&mut ra);
        let _sa = later(g.sync("a", None, 1, None, None, vec![], 0, 0));
        g.on_group_stored(1, ErrorCode::None, 0, 0);
        g.take_effects();
        g.tick(i64::from(SESSION), 0);
        assert_eq!(g.state(), GroupState::Empty);
        assert_eq!(g.generation_id(), 2);
        assert!(matches!(
            g.take_effects().as_slice(),
            [Effect::StoreGroup {
                completes_sync: None,
                ..
            }]
        ));
    }

    #[test]
    fn followers_wait_for_the_leaders_sync() {
        let mut g = group(0);
        let mut ra = later(g.join(join_req("", "a"), 0, 0));
        ready(&mut ra);
        let mut rb = later(g.join(join_req("", "b"), 1, 0));
        let mut ra = later(g.join(join_req("a", ""), 2, 0));
        ready(&mut ra);
        ready(&mut rb);
        let mut sb = later(g.sync("b", None, 2, None, None, vec![], 3, 0));
        g.tick(1_000, 0);
        pending(&mut sb);
        assert!(g.take_effects().is_empty(), "only the leader's sync stores");
        let _sa = later(g.sync(
            "a",
            None,
            2,
            None,
            None,
            vec![("b".into(), Bytes::from("x"))],
            4,
            0,
        ));
        g.on_group_stored(2, ErrorCode::None, 5, 0);
        assert_eq!(ready(&mut sb).assignment, Bytes::from("x"));
        // A sync in Stable gets the stored assignment at once.
        let r = now_result(g.sync("b", None, 2, None, None, vec![], 6, 0));
        assert_eq!(r.assignment, Bytes::from("x"));
    }

    #[test]
    fn a_failed_store_fails_the_syncs_and_rebalances() {
        let mut g = group(0);
        let mut ra = later(g.join(join_req("", "a"), 0, 0));
        ready(&mut ra);
        let mut sa = later(g.sync("a", None, 1, None, None, vec![], 1, 0));
        g.on_group_stored(1, ErrorCode::NotCoordinator, 2, 0);
        assert_eq!(ready(&mut sa).error, ErrorCode::NotCoordinator);
        assert_eq!(g.state(), GroupState::PreparingRebalance);
    }

    #[test]
    fn sync_errors_are_kafkas() {
        let mut g = stable_pair();
        let e = |r: Reply<SyncResult>| now_result(r).error;
        assert_eq!(
            e(g.sync("zz", None, 2, None, None, vec![], 50, 0)),
            ErrorCode::UnknownMemberId
        );
        assert_eq!(
            e(g.sync("a", None, 1, None, None, vec![], 50, 0)),
            ErrorCode::IllegalGeneration
        );
        assert_eq!(
            e(g.sync("a", None, 2, Some("connect"), None, vec![], 50, 0)),
            ErrorCode::InconsistentGroupProtocol
        );
        assert_eq!(
            e(g.sync("a", None, 2, None, Some("sticky"), vec![], 50, 0)),
            ErrorCode::InconsistentGroupProtocol
        );
        let _rc = later(g.join(join_req("", "c"), 60, 0));
        assert_eq!(
            e(g.sync("a", None, 2, None, None, vec![], 70, 0)),
            ErrorCode::RebalanceInProgress
        );
        g.state = GroupState::Dead;
        assert_eq!(
            e(g.sync("a", None, 2, None, None, vec![], 70, 0)),
            ErrorCode::CoordinatorNotAvailable
        );
    }

    #[test]
    fn a_join_during_completing_rebalance_fails_pending_syncs() {
        let mut g = group(0);
        let mut ra = later(g.join(join_req("", "a"), 0, 0));
        ready(&mut ra);
        let mut rb = later(g.join(join_req("", "b"), 1, 0));
        let mut ra = later(g.join(join_req("a", ""), 2, 0));
        ready(&mut ra);
        ready(&mut rb);
        let mut sb = later(g.sync("b", None, 2, None, None, vec![], 3, 0));
        let _rc = later(g.join(join_req("", "c"), 4, 0));
        assert_eq!(ready(&mut sb).error, ErrorCode::RebalanceInProgress);
        assert_eq!(g.state(), GroupState::PreparingRebalance);
    }

    #[test]
    fn members_that_never_sync_are_removed_after_the_rebalance_timeout() {
        let mut g = group(0);
        let mut ra = later(g.join(join_req("", "a"), 0, 0));
        ready(&mut ra);
        let mut rb = later(g.join(join_req("", "b"), 1, 0));
        let mut ra = later(g.join(join_req("a", ""), 2, 0));
        ready(&mut ra);
        ready(&mut rb);
        let mut sa = later(g.sync("a", None, 2, None, None, vec![], 3, 0));
        g.on_group_stored(2, ErrorCode::None, 4, 0);
        ready(&mut sa);
        // b never syncs (and heartbeats keep it alive).
        keep_alive(
            &mut g,
            &[("a", None, 2), ("b", None, 2)],
            4,
            2 + i64::from(REBALANCE),
        );
        assert_eq!(g.member_ids(), vec!["a".to_string()]);
        assert_eq!(g.state(), GroupState::PreparingRebalance);
    }

    #[test]
    fn heartbeat_errors_are_kafkas() {
        let mut g = stable_pair();
        assert_eq!(g.heartbeat("a", None, 2, 50), ErrorCode::None);
        assert_eq!(g.heartbeat("zz", None, 2, 50), ErrorCode::UnknownMemberId);
        assert_eq!(g.heartbeat("a", None, 1, 50), ErrorCode::IllegalGeneration);
        assert_eq!(
            g.heartbeat("a", Some("i"), 2, 50),
            ErrorCode::UnknownMemberId
        );
        let mut empty = group(0);
        assert_eq!(empty.heartbeat("a", None, 0, 0), ErrorCode::UnknownMemberId);
        g.state = GroupState::Dead;
        assert_eq!(
            g.heartbeat("a", None, 2, 50),
            ErrorCode::CoordinatorNotAvailable
        );
    }

    #[test]
    fn known_member_rejoin_rules() {
        let mut g = stable_pair();
        // A follower rejoining with the same metadata in Stable: current generation, no rebalance.
        let r = now_result(g.join(join_req("b", ""), 50, 0));
        assert_eq!((r.error, r.generation_id), (ErrorCode::None, 2));
        assert_eq!(g.state(), GroupState::Stable);
        // Unknown id.
        assert_eq!(
            now_result(g.join(join_req("zz", ""), 50, 0)).error,
            ErrorCode::UnknownMemberId
        );
        // The leader rejoining always rebalances.
        let _ra = later(g.join(join_req("a", ""), 60, 0));
        assert_eq!(g.state(), GroupState::PreparingRebalance);
        // Empty group: a known id is unknown.
        let mut empty = group(0);
        assert_eq!(
            now_result(empty.join(join_req("a", ""), 0, 0)).error,
            ErrorCode::UnknownMemberId
        );
        empty.state = GroupState::Dead;
        assert_eq!(
            now_result(empty.join(join_req("", "x"), 0, 0)).error,
            ErrorCode::CoordinatorNotAvailable
        );
    }

    #[test]
    fn leave_rebalances_and_reports_per_member() {
        let mut g = stable_pair();
        let r = g
            .leave(&[("b".into(), None), ("zz".into(), None)], 50, 0)
            .unwrap();
        assert_eq!(r, vec![ErrorCode::None, ErrorCode::UnknownMemberId]);
        assert_eq!(g.state(), GroupState::PreparingRebalance);
        let mut ra = later(g.join(join_req("a", ""), 60, 0));
        assert_eq!(ready(&mut ra).generation_id, 3);
        // The last member leaving empties the group.
        let _sa = later(g.sync("a", None, 3, None, None, vec![], 70, 0));
        g.on_group_stored(3, ErrorCode::None, 70, 0);
        g.leave(&[("a".into(), None)], 80, 0).unwrap();
        assert_eq!(g.state(), GroupState::Empty);
        assert_eq!(g.generation_id(), 4);
        g.state = GroupState::Dead;
        assert_eq!(
            g.leave(&[("a".into(), None)], 90, 0),
            Err(ErrorCode::CoordinatorNotAvailable)
        );
    }

    #[test]
    fn a_member_leaving_while_others_wait_in_join_completes_the_rebalance() {
        let mut g = stable_pair();
        let mut rc = later(g.join(join_req("", "c"), 100, 0));
        let mut ra = later(g.join(join_req("a", ""), 110, 0));
        g.leave(&[("b".into(), None)], 120, 0).unwrap();
        assert_eq!(ready(&mut ra).members.len(), 2);
        ready(&mut rc);
    }

    fn static_req(member_id: &str, new_id: &str, instance: &str) -> JoinRequest {
        JoinRequest {
            group_instance_id: Some(instance.into()),
            require_known_member_id: true,
            ..join_req(member_id, new_id)
        }
    }

    fn stable_static_pair() -> Group {
        let mut g = group(0);
        let mut ra = later(g.join(static_req("", "a1", "ia"), 0, 0));
        ready(&mut ra);
        let mut rb = later(g.join(static_req("", "b1", "ib"), 1, 0));
        let mut ra = later(g.join(static_req("a1", "", "ia"), 2, 0));
        ready(&mut ra);
        ready(&mut rb);
        let _sa = later(g.sync(
            "a1",
            Some("ia"),
            2,
            None,
            None,
            vec![
                ("a1".into(), Bytes::from("A")),
                ("b1".into(), Bytes::from("B")),
            ],
            3,
            0,
        ));
        g.on_group_stored(2, ErrorCode::None, 4, 0);
        g.take_effects();
        assert_eq!(g.state(), GroupState::Stable);
        g
    }

    #[test]
    fn static_member_rejoining_in_stable_replaces_the_old_one_without_rebalance() {
        let mut g = stable_static_pair();
        // No MEMBER_ID_REQUIRED for static members, and no rebalance.
        let r = now_result(g.join(static_req("", "b2", "ib"), 10, 0));
        assert_eq!(
            (r.error, r.generation_id, r.member_id.as_str()),
            (ErrorCode::None, 2, "b2")
        );
        assert!(!r.skip_assignment);
        assert_eq!(g.state(), GroupState::Stable);
        assert!(matches!(
            g.take_effects().as_slice(),
            [Effect::StoreGroup {
                completes_sync: None,
                ..
            }]
        ));
        // It keeps its assignment; the old id is fenced.
        assert_eq!(
            now_result(g.sync("b2", Some("ib"), 2, None, None, vec![], 11, 0)).assignment,
            Bytes::from("B")
        );
        assert_eq!(
            g.heartbeat("b1", Some("ib"), 2, 12),
            ErrorCode::FencedInstanceId
        );
        assert_eq!(
            now_result(g.join(static_req("b1", "", "ib"), 12, 0)).error,
            ErrorCode::FencedInstanceId
        );
        assert_eq!(
            g.leave(&[("b1".into(), Some("ib".into()))], 13, 0).unwrap(),
            vec![ErrorCode::FencedInstanceId]
        );
        assert_eq!(
            g.validate_commit("b1", Some("ib"), 2),
            Err(ErrorCode::FencedInstanceId)
        );
        // The leader's replacement is told to skip the assignment.
        let r = now_result(g.join(static_req("", "a2", "ia"), 14, 0));
        assert!(r.skip_assignment);
        assert_eq!(r.leader, "a2");
        assert_eq!(r.members.len(), 2);
    }

    #[test]
    fn static_members_that_miss_the_rebalance_stay_dynamic_ones_go() {
        let mut g = stable_static_pair();
        let mut rc = later(g.join(join_req("", "c"), 10, 0));
        let mut ra = later(g.join(static_req("a1", "", "ia"), 11, 0));
        keep_alive(
            &mut g,
            &[("b1", Some("ib"), 2)],
            11,
            10 + i64::from(REBALANCE),
        );
        assert_eq!(ready(&mut ra).generation_id, 3);
        ready(&mut rc);
        assert!(g.member_ids().contains(&"b1".to_string()));
        // Leave by instance id alone (admin removal).
        assert_eq!(
            g.leave(&[(String::new(), Some("ib".into()))], 12, 0)
                .unwrap(),
            vec![ErrorCode::None]
        );
        assert!(!g.member_ids().contains(&"b1".to_string()));
    }

    #[test]
    fn commit_validation_covers_simple_and_group_commits() {
        let mut empty = group(0);
        assert_eq!(empty.validate_commit("", None, -1), Ok(()));
        let g = stable_pair();
        assert_eq!(g.validate_commit("a", None, 2), Ok(()));
        assert_eq!(
            g.validate_commit("", None, -1),
            Err(ErrorCode::UnknownMemberId)
        );
        assert_eq!(
            g.validate_commit("zz", None, 2),
            Err(ErrorCode::UnknownMemberId)
        );
        assert_eq!(
            g.validate_commit("a", None, 1),
            Err(ErrorCode::IllegalGeneration)
        );
        let mut g = group(0);
        let mut ra = later(g.join(join_req("", "a"), 0, 0));
        ready(&mut ra);
        assert_eq!(
            g.validate_commit("a", None, 1),
            Err(ErrorCode::RebalanceInProgress)
        );
        g.state = GroupState::Dead;
        assert_eq!(
            g.validate_commit("a", None, 1),
            Err(ErrorCode::CoordinatorNotAvailable)
        );
        empty.apply_commit("t", 0, committed(5, 10));
        empty.apply_commit("t", 0, committed(4, 9));
        assert_eq!(
            empty.offsets()[&("t".into(), 0)].offset,
            5,
            "a late write never wins"
        );
        empty.apply_delete("t", 0, 8);
        assert!(!empty.offsets().is_empty());
        empty.apply_delete("t", 0, 11);
        assert!(empty.offsets().is_empty());
    }

    fn committed(offset: i64, record_offset: i64) -> CommittedOffset {
        CommittedOffset {
            offset,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp: 0,
            record_offset,
        }
    }

    #[test]
    fn offsets_expire_as_kafkas_retention_rules_say() {
        const DAY: i64 = 86_400_000;
        const RETENTION: i64 = 7 * DAY;
        let at = |commit_timestamp: i64, record_offset: i64| CommittedOffset {
            commit_timestamp,
            ..committed(1, record_offset)
        };
        let key = |t: &str| (t.to_owned(), 0);

        // No protocol type (simple commits): each offset from its commit.
        let mut simple = group(0);
        simple.apply_commit("t", 0, at(0, 1));
        simple.apply_commit("u", 0, at(5 * DAY, 2));
        assert!(
            simple
                .expired_offsets(RETENTION - 1, RETENTION, None)
                .is_empty()
        );
        assert_eq!(
            simple.expired_offsets(RETENTION, RETENTION, None),
            vec![key("t")]
        );
        simple.remove_offsets(&[key("t")]);
        assert_eq!(simple.offsets().len(), 1);

        // A live group whose subscriptions cannot be read keeps everything.
        let mut live = stable_pair();
        live.apply_commit("t", 0, at(0, 1));
        live.apply_commit("u", 0, at(0, 2));
        assert!(live.expired_offsets(100 * DAY, RETENTION, None).is_empty());
        // A live consumer-protocol group keeps what it subscribes to; the
        // rest expires from its commit.
        let subscribed = BTreeSet::from(["t".to_owned()]);
        assert!(
            live.expired_offsets(RETENTION - 1, RETENTION, Some(&subscribed))
                .is_empty()
        );
        assert_eq!(
            live.expired_offsets(RETENTION, RETENTION, Some(&subscribed)),
            vec![key("u")]
        );

        // An Empty group with a protocol type: from when it became Empty,
        // however old the commits.
        let left_at = 10 * DAY;
        let leaving = [("a".to_owned(), None), ("b".to_owned(), None)];
        assert!(live.leave(&leaving, 100, left_at).is_ok());
        assert_eq!(live.state(), GroupState::Empty);
        assert!(
            live.expired_offsets(left_at + RETENTION - 1, RETENTION, None)
                .is_empty()
        );
        assert_eq!(
            live.expired_offsets(left_at + RETENTION, RETENTION, None),
            vec![key("t"), key("u")]
        );
    }

    #[test]
    fn the_stored_group_record_and_pending_writes_are_tracked() {
        let mut g = stable_pair();
        let _ = g.take_effects();
        assert_eq!(g.stored_metadata(), Some(&g.metadata_record()));
        assert!(g.settled());
        g.begin_write();
        assert!(!g.settled());
        g.end_write();
        assert!(g.settled());
        let loaded = Group::loaded(
            "g",
            g.config,
            Some(g.metadata_record()),
            BTreeMap::new(),
            0,
            0,
        );
        assert_eq!(loaded.stored_metadata(), Some(&g.metadata_record()));
    }

    #[test]
    fn delete_only_when_empty() {
        let mut g = stable_pair();
        assert_eq!(g.delete(0), Err(ErrorCode::NonEmptyGroup));
        let mut e = group(0);
        assert_eq!(e.delete(0), Ok(()));
        assert_eq!(e.state(), GroupState::Dead);
        assert_eq!(e.delete(0), Err(ErrorCode::GroupIdNotFound));
    }

    #[test]
    fn loaded_group_with_members_is_stable_and_expires_without_heartbeats() {
        let g = stable_pair();
        let record = g.metadata_record();
        let mut loaded = Group::loaded("g", g.config, Some(record), BTreeMap::new(), 1_000, 0);
        assert_eq!(loaded.state(), GroupState::Stable);
        assert_eq!(loaded.generation_id(), 2);
        assert_eq!(
            now_result(loaded.sync("b", None, 2, None, None, vec![], 1_001, 0)).assignment,
            Bytes::from("B")
        );
        assert_eq!(loaded.heartbeat("a", None, 2, 1_002), ErrorCode::None);
        loaded.tick(1_001 + i64::from(SESSION), 0);
        assert_eq!(loaded.member_ids(), vec!["a".to_string()]);
    }

    #[test]
    fn describe_shows_metadata_only_when_stable() {
        let mut g = stable_pair();
        assert_eq!(g.describe_members()[1].assignment, Bytes::from("B"));
        let _rc = later(g.join(join_req("", "c"), 100, 0));
        assert!(g.describe_members().iter().all(|m| m.assignment.is_empty()));
    }
}
