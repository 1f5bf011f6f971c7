//! OffsetCommit (key 8), versions 2..=10.
//!
//! Group commits (generation and member id of the current generation) and
//! "simple" commits (generation -1, no member id: only while the group has
//! no members; they create the group). Answered once the commit's records
//! are durable in `__consumer_offsets`. The commit timestamp is the
//! broker's; v2-4 `retention_time_ms` is ignored, as Kafka 4 does.
//! ILLEGAL_GENERATION: stale generation, or (before v9) a generation for a
//! group that does not exist. GROUP_ID_NOT_FOUND: the latter from v9.
//! UNKNOWN_MEMBER_ID: the member is not in the group, or a simple commit to
//! a group with members. REBALANCE_IN_PROGRESS: the group is between join
//! and sync. FENCED_INSTANCE_ID: a static member superseded.
//! UNKNOWN_TOPIC_OR_PARTITION (v10: UNKNOWN_TOPIC_ID): no such topic.
//! OFFSET_METADATA_TOO_LARGE: over `offset.metadata.max.bytes`.
//! COORDINATOR_NOT_AVAILABLE / NOT_COORDINATOR: the write failed.
//! Consumer-protocol groups (KIP-848): `generation_id_or_member_epoch` is
//! the member epoch and must equal the member's (STALE_MEMBER_EPOCH);
//! UNKNOWN_MEMBER_ID for a member the group does not have; UNSUPPORTED_VERSION
//! for such a member committing below v9; an empty group takes simple
//! commits (epoch -1).

use std::sync::Arc;

use strata_protocol::messages::offset_commit::response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use strata_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use strata_protocol::types::TopicName;

use crate::broker::Broker;
use crate::coordinator::CommitItem;
use crate::error_code::ErrorCode;

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let max_metadata = broker.groups.config().offset_metadata_max_bytes;
    let mut topics = Vec::with_capacity(request.topics.len());
    // (topic index, partition index) of each partition sent to the coordinator.
    let mut placed = Vec::new();
    let mut items = Vec::new();
    for (t, topic) in request.topics.into_iter().enumerate() {
        let meta = if version >= 10 {
            broker.metadata().topic_by_id(&topic.topic_id).cloned()
        } else {
            broker.metadata().topic(&topic.name.0).cloned()
        };
        let missing = if version >= 10 {
            ErrorCode::UnknownTopicId
        } else {
            ErrorCode::UnknownTopicOrPartition
        };
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in topic.partitions {
            let metadata = p.committed_metadata.unwrap_or_default();
            let code = match &meta {
                None => missing,
                Some(_) if metadata.len() > max_metadata => ErrorCode::OffsetMetadataTooLarge,
                Some(m) => {
                    placed.push((t, partitions.len()));
                    items.push(CommitItem {
                        topic: m.name.clone(),
                        partition: p.partition_index,
                        offset: p.committed_offset,
                        leader_epoch: if version >= 6 {
                            p.committed_leader_epoch
                        } else {
                            -1
                        },
                        metadata,
                    });
                    ErrorCode::None
                }
            };
            partitions.push(OffsetCommitResponsePartition {
                partition_index: p.partition_index,
                error_code: code.code(),
                ..OffsetCommitResponsePartition::default()
            });
        }
        topics.push(OffsetCommitResponseTopic {
            name: if version >= 10 {
                TopicName(String::new())
            } else {
                topic.name
            },
            topic_id: topic.topic_id,
            partitions,
            ..OffsetCommitResponseTopic::default()
        });
    }
    let result = broker
        .groups
        .commit(
            broker,
            version,
            &request.group_id.0,
            &request.member_id,
            request
                .group_instance_id
                .as_deref()
                .filter(|_| version >= 7),
            request.generation_id_or_member_epoch,
            items,
        )
        .await;
    if let Err(code) = result {
        for (t, p) in placed {
            topics[t].partitions[p].error_code = code.code();
        }
    }
    OffsetCommitResponse {
        topics,
        ..OffsetCommitResponse::default()
    }
}
