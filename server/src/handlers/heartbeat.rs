//! Heartbeat (key 12), versions 0..=4.
//!
//! Keeps a member's session alive; tells it when a rebalance started.
//! REBALANCE_IN_PROGRESS (the group prepares a rebalance: rejoin),
//! ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID (also for an unknown or empty
//! group), FENCED_INSTANCE_ID (v3+ static member superseded),
//! COORDINATOR_NOT_AVAILABLE (the group is being deleted), INVALID_GROUP_ID.

use std::sync::Arc;

use strata_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use crate::broker::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    request: HeartbeatRequest,
) -> HeartbeatResponse {
    let code = broker.groups.heartbeat(
        broker,
        &request.group_id.0,
        &request.member_id,
        request
            .group_instance_id
            .as_deref()
            .filter(|_| version >= 3),
        request.generation_id,
    );
    HeartbeatResponse {
        error_code: code.code(),
        ..HeartbeatResponse::default()
    }
}
