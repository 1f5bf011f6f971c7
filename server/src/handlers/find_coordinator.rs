//! FindCoordinator (key 10), versions 0..=6.
//!
//! This broker coordinates every group: the answer is always itself, after
//! creating `__consumer_offsets` if it does not exist yet. v4+ batches keys
//! (`coordinator_keys`), each answered on its own.
//! COORDINATOR_NOT_AVAILABLE: `__consumer_offsets` cannot be created; also
//! for transaction keys (key type 1): there is no transaction coordinator
//! yet, and clients retry this code rather than fail.
//! INVALID_REQUEST: share-group keys (type 2) and unknown key types.
//! Not yet: transaction and share-group coordinators.

use std::sync::Arc;

use strata_protocol::messages::find_coordinator::response::Coordinator;
use strata_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use strata_protocol::types::BrokerId;

use crate::broker::Broker;
use crate::error_code::ErrorCode;

async fn find(broker: &Arc<Broker>, key_type: i8, key: &str) -> Coordinator {
    let refused = |code: ErrorCode, message: String| Coordinator {
        key: key.to_owned(),
        node_id: BrokerId(-1),
        host: String::new(),
        port: -1,
        error_code: code.code(),
        error_message: Some(message),
        ..Coordinator::default()
    };
    match key_type {
        0 => match broker.groups.ensure_topic(broker).await {
            Ok(_) => Coordinator {
                key: key.to_owned(),
                node_id: BrokerId(broker.config.node_id),
                host: broker.config.advertised.host.clone(),
                port: i32::from(broker.config.advertised.port),
                error_code: ErrorCode::None.code(),
                error_message: None,
                ..Coordinator::default()
            },
            Err(code) => refused(code, "The coordinator is not available.".into()),
        },
        1 => refused(
            ErrorCode::CoordinatorNotAvailable,
            "Transactions are not supported by this broker yet.".into(),
        ),
        other => refused(
            ErrorCode::InvalidRequest,
            format!("Unsupported coordinator key type {other}."),
        ),
    }
}

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    if version >= 4 {
        let mut coordinators = Vec::with_capacity(request.coordinator_keys.len());
        for key in &request.coordinator_keys {
            coordinators.push(find(broker, request.key_type, key).await);
        }
        return FindCoordinatorResponse {
            coordinators,
            ..FindCoordinatorResponse::default()
        };
    }
    let c = find(broker, request.key_type, &request.key).await;
    FindCoordinatorResponse {
        error_code: c.error_code,
        error_message: c.error_message,
        node_id: c.node_id,
        host: c.host,
        port: c.port,
        ..FindCoordinatorResponse::default()
    }
}
