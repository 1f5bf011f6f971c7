//! LeaveGroup (key 13), versions 0..=5.
//!
//! v0-2: one member, its error at the top level. v3+: a batch of members
//! (by member id, or by group instance id alone to remove a static member),
//! each with its own error; the top level carries group-wide errors only.
//! The group rebalances without the members that left.
//! UNKNOWN_MEMBER_ID (also for an unknown group), FENCED_INSTANCE_ID,
//! COORDINATOR_NOT_AVAILABLE (the group is being deleted), INVALID_GROUP_ID.

use std::sync::Arc;

use strata_protocol::messages::leave_group::response::MemberResponse;
use strata_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use crate::broker::Broker;
use crate::error_code::ErrorCode;

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    request: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let leaving: Vec<(String, Option<String>)> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| (m.member_id.clone(), m.group_instance_id.clone()))
            .collect()
    } else {
        vec![(request.member_id.clone(), None)]
    };
    match broker.groups.leave(broker, &request.group_id.0, &leaving) {
        Err(code) => LeaveGroupResponse {
            error_code: code.code(),
            ..LeaveGroupResponse::default()
        },
        Ok(codes) if version < 3 => LeaveGroupResponse {
            error_code: codes.first().copied().unwrap_or(ErrorCode::None).code(),
            ..LeaveGroupResponse::default()
        },
        Ok(codes) => LeaveGroupResponse {
            error_code: ErrorCode::None.code(),
            members: leaving
                .into_iter()
                .zip(codes)
                .map(|((member_id, group_instance_id), code)| MemberResponse {
                    member_id,
                    group_instance_id,
                    error_code: code.code(),
                    ..MemberResponse::default()
                })
                .collect(),
            ..LeaveGroupResponse::default()
        },
    }
}
