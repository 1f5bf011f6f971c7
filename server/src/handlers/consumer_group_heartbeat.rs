//! ConsumerGroupHeartbeat (key 68), versions 0..=1: the consumer protocol
//! of KIP-848 (`group.protocol=consumer`), with server-side assignment.
//!
//! Joins (epoch 0), heartbeats, and leaves (epoch -1; -2 for a static
//! member leaving for now); see `coordinator::consumer_group` for epochs
//! and reconciliation. v1 members draw their own member id; a v0 member
//! joining with an empty one gets the broker's.
//! INVALID_REQUEST: a malformed request (Kafka's checks and messages), and
//! regex subscriptions, which this broker does not resolve yet.
//! UNSUPPORTED_ASSIGNOR: `server_assignor` other than uniform or range.
//! FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID, UNRELEASED_INSTANCE_ID,
//! FENCED_INSTANCE_ID, GROUP_MAX_SIZE_REACHED (`group.consumer.max.size`).
//! GROUP_ID_NOT_FOUND: the id is a classic group with members, or a leave
//! for a group that does not exist. COORDINATOR_NOT_AVAILABLE:
//! `__consumer_offsets` cannot be created.
//! Not yet: rack-aware assignment.

use std::sync::Arc;

use strata_protocol::messages::consumer_group_heartbeat::response::{Assignment, TopicPartitions};
use strata_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};

use crate::broker::Broker;
use crate::coordinator::assignor;
use crate::coordinator::consumer_group::Heartbeat;

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    client_id: Option<String>,
    client_host: String,
    request: ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    let owned = request.topic_partitions.map(|tps| {
        let mut a = assignor::Assignment::new();
        for tp in tps {
            a.entry(tp.topic_id).or_default().extend(tp.partitions);
        }
        a
    });
    let heartbeat = Heartbeat {
        member_id: request.member_id,
        member_epoch: request.member_epoch,
        instance_id: request.instance_id,
        rack_id: request.rack_id,
        rebalance_timeout_ms: request.rebalance_timeout_ms,
        subscribed_topic_names: request
            .subscribed_topic_names
            .map(|names| names.into_iter().map(|n| n.0).collect()),
        subscribed_topic_regex: request.subscribed_topic_regex.filter(|_| version >= 1),
        server_assignor: request.server_assignor,
        owned,
        client_id: client_id.unwrap_or_default(),
        client_host,
    };
    match broker
        .groups
        .consumer_heartbeat(broker, version, &request.group_id.0, heartbeat)
        .await
    {
        Ok(a) => ConsumerGroupHeartbeatResponse {
            member_id: Some(a.member_id),
            member_epoch: a.member_epoch,
            heartbeat_interval_ms: a.heartbeat_interval_ms,
            assignment: a.assignment.map(|parts| Assignment {
                topic_partitions: parts
                    .into_iter()
                    .map(|(topic_id, ps)| TopicPartitions {
                        topic_id,
                        partitions: ps.into_iter().collect(),
                        ..TopicPartitions::default()
                    })
                    .collect(),
                ..Assignment::default()
            }),
            ..ConsumerGroupHeartbeatResponse::default()
        },
        Err(r) => ConsumerGroupHeartbeatResponse {
            error_code: r.error.code(),
            error_message: Some(r.message),
            ..ConsumerGroupHeartbeatResponse::default()
        },
    }
}
