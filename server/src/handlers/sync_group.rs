//! SyncGroup (key 14), versions 0..=5.
//!
//! The leader sends the assignment; every member (the leader too) is
//! answered with its own part once the group record holding it is durable
//! in `__consumer_offsets`. Followers that sync first wait for the leader.
//! In Stable, a sync is answered at once with the member's assignment.
//! UNKNOWN_MEMBER_ID (also for an unknown group), ILLEGAL_GENERATION,
//! REBALANCE_IN_PROGRESS (a rebalance started, rejoin),
//! INCONSISTENT_GROUP_PROTOCOL (v5 protocol type or name differ),
//! FENCED_INSTANCE_ID, COORDINATOR_NOT_AVAILABLE / NOT_COORDINATOR (the
//! group record could not be stored), INVALID_GROUP_ID.

use std::sync::Arc;

use strata_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use crate::broker::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    request: SyncGroupRequest,
) -> SyncGroupResponse {
    let assignments = request
        .assignments
        .into_iter()
        .map(|a| (a.member_id, a.assignment))
        .collect();
    let r = broker
        .groups
        .sync(
            broker,
            &request.group_id.0,
            &request.member_id,
            request
                .group_instance_id
                .as_deref()
                .filter(|_| version >= 3),
            request.generation_id,
            request.protocol_type.as_deref().filter(|_| version >= 5),
            request.protocol_name.as_deref().filter(|_| version >= 5),
            assignments,
        )
        .await;
    SyncGroupResponse {
        error_code: r.error.code(),
        protocol_type: r.protocol_type,
        protocol_name: r.protocol_name,
        assignment: r.assignment,
        ..SyncGroupResponse::default()
    }
}
