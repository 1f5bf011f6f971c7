//! DescribeCluster (key 60), versions 0..=2.
//!
//! The cluster id, this broker as the controller (a broker answers with a
//! broker, as Kafka's brokers do), and this broker at its advertised
//! address, never fenced. `include_cluster_authorized_operations`: with no
//! authorizer every cluster operation is allowed, which Kafka reports as
//! the bit set of CLUSTER's operations.
//!
//! MISMATCHED_ENDPOINT_TYPE (v1+; INVALID_REQUEST at v0): the controllers'
//! endpoints (endpoint_type 2) were asked of a broker.
//! UNSUPPORTED_ENDPOINT_TYPE (v1+; INVALID_REQUEST at v0): an endpoint type
//! that is neither 1 (brokers) nor 2 (controllers).

use std::sync::Arc;

use strata_protocol::messages::describe_cluster::response::DescribeClusterBroker;
use strata_protocol::messages::{DescribeClusterRequest, DescribeClusterResponse};
use strata_protocol::types::BrokerId;

use crate::broker::Broker;
use crate::error_code::ErrorCode;

const BROKERS: i8 = 1;
const CONTROLLERS: i8 = 2;

/// CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10,
/// ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12: Kafka's operations on CLUSTER.
const CLUSTER_OPERATIONS: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let refuse = |code: ErrorCode, message: String| DescribeClusterResponse {
        error_code: if version == 0 {
            ErrorCode::InvalidRequest.code()
        } else {
            code.code()
        },
        error_message: Some(message),
        ..DescribeClusterResponse::default()
    };
    match request.endpoint_type {
        BROKERS => {}
        CONTROLLERS => {
            return refuse(
                ErrorCode::MismatchedEndpointType,
                "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER".into(),
            );
        }
        other => {
            return refuse(
                ErrorCode::UnsupportedEndpointType,
                format!("Unsupported endpoint type {other}"),
            );
        }
    }
    let node = broker.config.node_id;
    DescribeClusterResponse {
        error_code: ErrorCode::None.code(),
        error_message: None,
        endpoint_type: BROKERS,
        cluster_id: broker.cluster_id(),
        controller_id: BrokerId(node),
        brokers: vec![DescribeClusterBroker {
            broker_id: BrokerId(node),
            host: broker.config.advertised.host.clone(),
            port: i32::from(broker.config.advertised.port),
            rack: None,
            is_fenced: false,
            ..DescribeClusterBroker::default()
        }],
        cluster_authorized_operations: if request.include_cluster_authorized_operations {
            CLUSTER_OPERATIONS
        } else {
            i32::MIN
        },
        ..DescribeClusterResponse::default()
    }
}
