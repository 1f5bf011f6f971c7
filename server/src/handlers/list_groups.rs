//! ListGroups (key 16), versions 0..=5.
//!
//! Every group this broker coordinates, with its protocol type (empty for
//! groups that only hold simple commits); v4+ with its state and filtered
//! by `states_filter`, v5+ with its type ("classic", or "consumer" for
//! KIP-848 groups) and filtered by `types_filter`. Filters compare case-insensitively, as Kafka's parsers.
//! No errors: the coordinator is always loaded by the time it serves.

use std::sync::Arc;

use strata_protocol::messages::list_groups::response::ListedGroup;
use strata_protocol::messages::{ListGroupsRequest, ListGroupsResponse};
use strata_protocol::types::GroupId;

use crate::broker::Broker;
use crate::error_code::ErrorCode;

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    request: ListGroupsRequest,
) -> ListGroupsResponse {
    let states: Vec<String> = if version >= 4 {
        request
            .states_filter
            .iter()
            .map(|s| s.to_lowercase())
            .collect()
    } else {
        Vec::new()
    };
    let types: Vec<String> = if version >= 5 {
        request
            .types_filter
            .iter()
            .map(|s| s.to_lowercase())
            .collect()
    } else {
        Vec::new()
    };
    let groups = broker
        .groups
        .list()
        .into_iter()
        .filter(|g| states.is_empty() || states.contains(&g.state.to_lowercase()))
        .filter(|g| types.is_empty() || types.iter().any(|t| t == g.group_type))
        .map(|g| ListedGroup {
            group_id: GroupId(g.group_id),
            protocol_type: g.protocol_type,
            group_state: g.state.to_owned(),
            group_type: g.group_type.to_owned(),
            ..ListedGroup::default()
        })
        .collect();
    ListGroupsResponse {
        error_code: ErrorCode::None.code(),
        groups,
        ..ListGroupsResponse::default()
    }
}
