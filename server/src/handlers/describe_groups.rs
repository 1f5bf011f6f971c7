//! DescribeGroups (key 15), versions 0..=6.
//!
//! Each group's state, protocol type, and members (id, instance id, client
//! id); the chosen protocol and each member's metadata and assignment only
//! when Stable, as Kafka does. A group that does not exist is described as
//! Dead with no members; v6 also gives it GROUP_ID_NOT_FOUND (KIP-1043).
//! `include_authorized_operations` (v3+): there are no ACLs, so every
//! operation a group supports is reported allowed (READ, DELETE, DESCRIBE,
//! DESCRIBE_CONFIGS, ALTER_CONFIGS).
//! Not yet: client host (handlers do not see the peer address).

use std::sync::Arc;

use strata_protocol::messages::describe_groups::response::{DescribedGroup, DescribedGroupMember};
use strata_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use crate::broker::Broker;
use crate::error_code::ErrorCode;

/// READ (3), DELETE (6), DESCRIBE (8), DESCRIBE_CONFIGS (10), ALTER_CONFIGS (11).
const GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11);

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let operations = if version >= 3 && request.include_authorized_operations {
        GROUP_OPERATIONS
    } else {
        i32::MIN
    };
    let groups = request
        .groups
        .into_iter()
        .map(|id| match broker.groups.describe(&id.0) {
            None => DescribedGroup {
                error_code: if version >= 6 {
                    ErrorCode::GroupIdNotFound.code()
                } else {
                    ErrorCode::None.code()
                },
                error_message: (version >= 6).then(|| format!("Group {} not found.", id.0)),
                group_id: id,
                group_state: "Dead".into(),
                protocol_type: String::new(),
                protocol_data: String::new(),
                members: Vec::new(),
                authorized_operations: operations,
                ..DescribedGroup::default()
            },
            Some(d) => DescribedGroup {
                error_code: ErrorCode::None.code(),
                error_message: None,
                group_id: id,
                group_state: d.state.name().into(),
                protocol_type: d.protocol_type,
                protocol_data: d.protocol,
                members: d
                    .members
                    .into_iter()
                    .map(|m| DescribedGroupMember {
                        member_id: m.member_id,
                        group_instance_id: m.group_instance_id,
                        client_id: m.client_id,
                        client_host: m.client_host,
                        member_metadata: m.metadata,
                        member_assignment: m.assignment,
                        ..DescribedGroupMember::default()
                    })
                    .collect(),
                authorized_operations: operations,
                ..DescribedGroup::default()
            },
        })
        .collect();
    DescribeGroupsResponse {
        groups,
        ..DescribeGroupsResponse::default()
    }
}
