//! DeleteGroups (key 42), versions 0..=3.
//!
//! Deletes Empty groups: tombstones for the group record and every
//! committed offset go to `__consumer_offsets`; each group is answered once
//! its tombstones are durable.
//! GROUP_ID_NOT_FOUND: no such group. NON_EMPTY_GROUP: it has members.
//! NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE: the write failed (the group
//! is gone from memory but comes back at the next start).
//! v3 adds a message to each error.

use std::sync::Arc;

use strata_protocol::messages::delete_groups::response::DeletableGroupResult;
use strata_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use crate::broker::Broker;
use crate::error_code::ErrorCode;

fn message(code: ErrorCode, group: &str) -> Option<String> {
    match code {
        ErrorCode::None => None,
        ErrorCode::GroupIdNotFound => Some(format!("Group {group} not found.")),
        ErrorCode::NonEmptyGroup => Some(format!("Group {group} is not empty.")),
        _ => Some(format!("Group {group} could not be deleted: {code:?}.")),
    }
}

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(request.groups_names.len());
    for id in request.groups_names {
        let code = broker.groups.delete_group(broker, &id.0).await;
        results.push(DeletableGroupResult {
            error_code: code.code(),
            error_message: if version >= 3 {
                message(code, &id.0)
            } else {
                None
            },
            group_id: id,
            ..DeletableGroupResult::default()
        });
    }
    DeleteGroupsResponse {
        results,
        ..DeleteGroupsResponse::default()
    }
}
