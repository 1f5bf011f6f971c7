//! JoinGroup (key 11), versions 0..=9.
//!
//! Answered when the rebalance completes (long poll), or at once for errors
//! and for members rejoining with nothing changed. The leader's answer lists
//! every member's metadata for the chosen protocol.
//! MEMBER_ID_REQUIRED: first join of a v4+ member without a group instance
//! id; the answer carries the member id to join with.
//! INVALID_GROUP_ID (empty id), INVALID_SESSION_TIMEOUT (outside
//! `group.min/max.session.timeout.ms`), INCONSISTENT_GROUP_PROTOCOL (other
//! protocol type, or no protocol in common), UNKNOWN_MEMBER_ID,
//! FENCED_INSTANCE_ID (static member superseded), COORDINATOR_NOT_AVAILABLE
//! (the group is being deleted, or `__consumer_offsets` is unavailable),
//! REBALANCE_IN_PROGRESS (a newer join of the same member replaced this one).
//! Not yet: `group.max.size` (GROUP_MAX_SIZE_REACHED); the client host is
//! not known to handlers, so DescribeGroups shows it empty.

use std::sync::Arc;

use strata_protocol::messages::join_group::response::JoinGroupResponseMember;
use strata_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use crate::broker::Broker;
use crate::coordinator::group::{JoinRequest, Protocol};
use crate::metadata::random_uuid;

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    client_id: Option<String>,
    client_host: String,
    request: JoinGroupRequest,
) -> JoinGroupResponse {
    let client_id = client_id.unwrap_or_default();
    // v0 has no rebalance timeout: the session timeout stands in, as in Kafka.
    let rebalance_timeout_ms = if version == 0 || request.rebalance_timeout_ms < 0 {
        request.session_timeout_ms
    } else {
        request.rebalance_timeout_ms
    };
    let join = JoinRequest {
        member_id: request.member_id,
        group_instance_id: request.group_instance_id.filter(|_| version >= 5),
        new_member_id: format!("{client_id}-{}", random_uuid()),
        client_id,
        client_host,
        session_timeout_ms: request.session_timeout_ms,
        rebalance_timeout_ms,
        protocol_type: request.protocol_type,
        protocols: request
            .protocols
            .into_iter()
            .map(|p| Protocol {
                name: p.name,
                metadata: p.metadata,
            })
            .collect(),
        // Static members (v5+) never get MEMBER_ID_REQUIRED; the group
        // checks the instance id first.
        require_known_member_id: version >= 4,
    };
    let r = broker.groups.join(broker, &request.group_id.0, join).await;
    let old = version < 7;
    JoinGroupResponse {
        error_code: r.error.code(),
        generation_id: r.generation_id,
        protocol_type: r.protocol_type,
        // Before v7 the name is not nullable: "" when none was chosen.
        protocol_name: if old {
            Some(r.protocol_name.unwrap_or_default())
        } else {
            r.protocol_name
        },
        leader: r.leader,
        skip_assignment: r.skip_assignment,
        member_id: r.member_id,
        members: r
            .members
            .into_iter()
            .map(|m| JoinGroupResponseMember {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                metadata: m.metadata,
                ..JoinGroupResponseMember::default()
            })
            .collect(),
        ..JoinGroupResponse::default()
    }
}
