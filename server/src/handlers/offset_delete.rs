//! OffsetDelete (key 47), version 0.
//!
//! Deletes committed offsets of a group (tombstones in
//! `__consumer_offsets`, answered once durable). Allowed for an Empty
//! group, and for partitions of topics a consumer group does not subscribe
//! to.
//! GROUP_ID_NOT_FOUND (top level): no such group. NON_EMPTY_GROUP: a group
//! with members that is not a consumer group. GROUP_SUBSCRIBED_TO_TOPIC
//! (per partition): the group's members read that topic.
//! UNKNOWN_TOPIC_OR_PARTITION: no such topic. INVALID_GROUP_ID: empty id.

use std::sync::Arc;

use strata_protocol::messages::offset_delete::response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use strata_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use crate::broker::Broker;
use crate::error_code::ErrorCode;

pub async fn handle(
    broker: &Arc<Broker>,
    _version: i16,
    request: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    if request.group_id.0.is_empty() {
        return OffsetDeleteResponse {
            error_code: ErrorCode::InvalidGroupId.code(),
            ..OffsetDeleteResponse::default()
        };
    }
    let mut topics = Vec::with_capacity(request.topics.len());
    let mut asked = Vec::new();
    let mut placed = Vec::new();
    for (t, topic) in request.topics.into_iter().enumerate() {
        let exists = broker.metadata().topic(&topic.name.0).is_some();
        let mut partitions = Vec::new();
        for p in topic.partitions {
            if exists {
                placed.push((t, partitions.len()));
                asked.push((topic.name.0.clone(), p.partition_index));
            }
            partitions.push(OffsetDeleteResponsePartition {
                partition_index: p.partition_index,
                error_code: if exists {
                    ErrorCode::None.code()
                } else {
                    ErrorCode::UnknownTopicOrPartition.code()
                },
                ..OffsetDeleteResponsePartition::default()
            });
        }
        topics.push(OffsetDeleteResponseTopic {
            name: topic.name,
            partitions,
            ..OffsetDeleteResponseTopic::default()
        });
    }
    match broker
        .groups
        .delete_offsets(broker, &request.group_id.0, &asked)
        .await
    {
        Err(code) => OffsetDeleteResponse {
            error_code: code.code(),
            ..OffsetDeleteResponse::default()
        },
        Ok(codes) => {
            for ((t, p), code) in placed.into_iter().zip(codes) {
                topics[t].partitions[p].error_code = code.code();
            }
            OffsetDeleteResponse {
                error_code: ErrorCode::None.code(),
                topics,
                ..OffsetDeleteResponse::default()
            }
        }
    }
}
