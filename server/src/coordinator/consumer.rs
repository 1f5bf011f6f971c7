//! Consumer-protocol groups (KIP-848) in the coordinator: where
//! [`ConsumerGroup`] state machines live, how they meet classic groups of
//! the same id, and what feeds them the time and the topics.
//!
//! One id, one kind. A consumer group is created by a heartbeat with epoch
//! 0 when the id is free or names a classic group without members (as
//! Kafka, which replaces an empty classic group); a classic group with
//! members answers GROUP_ID_NOT_FOUND (Kafka would try an online upgrade
//! of a classic group whose members all use the consumer protocol: not
//! done here). A JoinGroup for a consumer group with members answers
//! INCONSISTENT_GROUP_PROTOCOL (Kafka would let the classic member join the
//! consumer group: not done here); an empty consumer group gives way to the
//! classic one.
//!
//! Offsets. Committed offsets stay where classic groups keep them: in the
//! classic [`Group`] of the same id (created empty alongside the consumer
//! group), so commits, fetches, OffsetDelete, DeleteGroups and loading from
//! `__consumer_offsets` work as for any group. Commits and fetches are
//! checked against the consumer group's member epochs first.
//!
//! Persisted. As Kafka, every change of a consumer group is written to
//! `__consumer_offsets` as Kafka's ConsumerGroup* records (see
//! [`super::consumer_records`]): after each heartbeat the keys that changed
//! are appended (under the locks, so in the order of the changes) and the
//! heartbeat is answered once they are durable; fencing on a timeout,
//! deletion and expiry write theirs too. At start-up the group comes back
//! with its members, epochs and assignments, each member with a fresh
//! session, so members that keep heartbeating carry on across a restart.
//! A member's heartbeat with epoch > 0 for a group this broker does not
//! know (deleted, or expired) is answered UNKNOWN_MEMBER_ID, on which the
//! Java client rejoins with epoch 0.
//!
//! Locking: the classic groups' lock is always taken before
//! `consumer_groups`, never the other way round.

use std::collections::BTreeMap;
use std::sync::{Arc, MutexGuard};

use super::GroupCoordinator;
use super::consumer_group::{
    ConsumerGroup, Heartbeat, HeartbeatAnswer, Refusal, TopicInfo, Topics, validate,
};
use super::group::{Group, GroupState};
use crate::broker::{Broker, now_ms};
use crate::error_code::ErrorCode;
use crate::metadata::random_uuid;

pub type ConsumerGroups = BTreeMap<String, ConsumerGroup>;

impl GroupCoordinator {
    pub(super) fn consumer_lock(&self) -> MutexGuard<'_, ConsumerGroups> {
        self.consumer_groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// ConsumerGroupHeartbeat: joins, heartbeats and leaves.
    pub async fn consumer_heartbeat(
        &self,
        broker: &Arc<Broker>,
        api_version: i16,
        group_id: &str,
        h: Heartbeat,
    ) -> Result<HeartbeatAnswer, Refusal> {
        validate(group_id, &h, api_version)?;
        if let Err(code) = self.ensure_topic(broker).await {
            return Err(Refusal::new(code, "The coordinator is not available."));
        }
        let topics: Topics = broker
            .metadata()
            .topics()
            .map(|t| {
                (
                    t.name.clone(),
                    TopicInfo {
                        id: t.id,
                        partitions: t.partitions,
                    },
                )
            })
            .collect();
        let (now, wall) = (self.now(), now_ms());
        let (result, stored) = {
            let mut classic = self.lock();
            let mut consumer = self.consumer_lock();
            if !consumer.contains_key(group_id) {
                if h.member_epoch < 0 {
                    return Err(Refusal::new(
                        ErrorCode::GroupIdNotFound,
                        format!("Consumer group {group_id} not found."),
                    ));
                }
                if h.member_epoch > 0 {
                    // See the module doc: a group lost in a restart.
                    return Err(Refusal::new(
                        ErrorCode::UnknownMemberId,
                        format!(
                            "Member {} is not a member of group {group_id}.",
                            h.member_id
                        ),
                    ));
                }
                match classic.get(group_id).map(Group::state) {
                    None => {
                        classic.insert(
                            group_id.to_owned(),
                            Group::new(group_id, self.config.group, wall),
                        );
                    }
                    Some(GroupState::Empty) => {}
                    Some(_) => {
                        return Err(Refusal::new(
                            ErrorCode::GroupIdNotFound,
                            format!(
                                "Group {group_id} is a classic group with members; it cannot become a consumer group."
                            ),
                        ));
                    }
                }
                consumer.insert(
                    group_id.to_owned(),
                    ConsumerGroup::new(group_id, self.config.consumer),
                );
            }
            let Some(group) = consumer.get_mut(group_id) else {
                return Err(Refusal::new(
                    ErrorCode::CoordinatorNotAvailable,
                    "The coordinator is not available.",
                ));
            };
            let new_member_id = random_uuid().to_string();
            let result = group.heartbeat(h, &new_member_id, &topics, now);
            if let Err(r) = &result {
                tracing::debug!(group = group_id, error = ?r.error, message = r.message, "consumer group heartbeat refused");
            }
            // As Kafka: the answer waits until the change is durable.
            let changes = match &result {
                Ok(answer) => group.take_changes_after_heartbeat(&answer.member_id),
                Err(_) => group.take_changes(),
            };
            (
                result,
                self.append_consumer_records(broker, group_id, changes),
            )
        };
        if let Some(rx) = stored {
            match rx.await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(group = group_id, error = %e, "consumer group change not stored");
                    return Err(Refusal::new(
                        super::write_error(crate::error_code::storage_error_code(&e)),
                        "The group's change could not be stored.",
                    ));
                }
                Err(_) => {
                    return Err(Refusal::new(
                        ErrorCode::CoordinatorNotAvailable,
                        "The coordinator is not available.",
                    ));
                }
            }
        }
        result
    }

    /// A copy of a consumer group for ConsumerGroupDescribe.
    pub fn consumer_describe(&self, group_id: &str) -> Result<ConsumerGroup, Refusal> {
        if let Some(g) = self.consumer_lock().get(group_id) {
            return Ok(g.clone());
        }
        let classic = self
            .lock()
            .get(group_id)
            .is_some_and(|g| g.state() != GroupState::Dead);
        Err(Refusal::new(
            ErrorCode::GroupIdNotFound,
            if classic {
                format!("Group {group_id} is not a consumer group.")
            } else {
                format!("Group {group_id} not found.")
            },
        ))
    }

    /// Consumer groups for ListGroups: id and state name.
    pub fn consumer_listing(&self) -> Vec<(String, &'static str)> {
        self.consumer_lock()
            .values()
            .map(|g| (g.id.clone(), g.state().name()))
            .collect()
    }

    /// Session and revocation timeouts of every consumer group.
    pub(super) fn tick_consumer_groups(&self, broker: &Arc<Broker>) {
        let now = self.now();
        for g in self.consumer_lock().values_mut() {
            let fenced = g.tick(now);
            for member in &fenced {
                tracing::info!(group = %g.id, member, "consumer group member fenced: session or rebalance timeout");
            }
            if fenced.is_empty() {
                continue;
            }
            let changes = g.take_changes();
            if let Some(rx) = self.append_consumer_records(broker, &g.id, changes) {
                let id = g.id.clone();
                tokio::spawn(async move {
                    if !matches!(rx.await, Ok(Ok(_))) {
                        tracing::warn!(group = %id, "fencing a consumer group member not stored");
                    }
                });
            }
        }
    }

    /// OffsetCommit against a consumer group; `None` when `group_id` is
    /// not one (the classic checks apply).
    pub(super) fn consumer_commit_check(
        &self,
        group_id: &str,
        member_id: &str,
        member_epoch: i32,
        api_version: i16,
    ) -> Option<Result<(), ErrorCode>> {
        self.consumer_lock()
            .get(group_id)
            .map(|g| g.validate_commit(member_id, member_epoch, api_version))
    }

    /// OffsetFetch v9+ member checks; groups that are not consumer groups
    /// pass.
    pub fn validate_consumer_fetch(
        &self,
        group_id: &str,
        member_id: Option<&str>,
        member_epoch: i32,
    ) -> Result<(), ErrorCode> {
        match self.consumer_lock().get(group_id) {
            Some(g) => g.validate_fetch(member_id, member_epoch),
            None => Ok(()),
        }
    }

    /// Whether a classic JoinGroup may use `group_id`: not while a consumer
    /// group with members holds it; an empty one is dropped.
    pub(super) fn classic_join_refused(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
    ) -> Option<ErrorCode> {
        let mut consumer = self.consumer_lock();
        match consumer.get(group_id) {
            Some(g) if !g.is_empty() => Some(ErrorCode::InconsistentGroupProtocol),
            Some(g) => {
                // Its tombstones land before the classic group's records.
                let _ = self.append_consumer_records(broker, group_id, g.removal());
                consumer.remove(group_id);
                None
            }
            None => None,
        }
    }

    /// DeleteGroups: a consumer group with members is NON_EMPTY_GROUP; an
    /// empty one goes (its offsets go with the classic group).
    pub(super) fn consumer_group_delete(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
    ) -> Result<(), ErrorCode> {
        let mut consumer = self.consumer_lock();
        match consumer.get(group_id) {
            Some(g) if !g.is_empty() => Err(ErrorCode::NonEmptyGroup),
            Some(g) => {
                // Durable once the classic tombstones after them are.
                let _ = self.append_consumer_records(broker, group_id, g.removal());
                consumer.remove(group_id);
                Ok(())
            }
            None => Ok(()),
        }
    }
}
