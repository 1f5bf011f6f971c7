//! InitProducerId (key 22), versions 0..=5 (v6 is unstable in the specs).
//!
//! Idempotent producers: a new producer id (never reused, also across
//! restarts) at epoch 0; a producer that names its id and epoch (v3+,
//! KIP-360) gets the same id with the epoch bumped, which fences its older
//! self.
//! Not yet: transactional ids (transactions are a later issue); such a
//! request gets UNSUPPORTED_VERSION, which clients do not retry.

use std::sync::Arc;

use strata_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};
use strata_protocol::types::ProducerId;

use crate::broker::Broker;
use crate::error_code::ErrorCode;

fn failed(code: ErrorCode) -> InitProducerIdResponse {
    InitProducerIdResponse {
        error_code: code.code(),
        producer_id: ProducerId(-1),
        producer_epoch: -1,
        ..InitProducerIdResponse::default()
    }
}

pub async fn handle(
    broker: &Arc<Broker>,
    _version: i16,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    if request
        .transactional_id
        .as_ref()
        .is_some_and(|t| !t.0.is_empty())
    {
        return failed(ErrorCode::UnsupportedVersion);
    }
    let bump = request.producer_id.0 >= 0
        && request.producer_epoch >= 0
        && request.producer_epoch < i16::MAX - 1;
    if bump {
        return InitProducerIdResponse {
            error_code: ErrorCode::None.code(),
            producer_id: request.producer_id,
            producer_epoch: request.producer_epoch + 1,
            ..InitProducerIdResponse::default()
        };
    }
    let b = broker.clone();
    match tokio::task::spawn_blocking(move || b.metadata().allocate_producer_id()).await {
        Ok(Ok(id)) => InitProducerIdResponse {
            error_code: ErrorCode::None.code(),
            producer_id: ProducerId(id),
            producer_epoch: 0,
            ..InitProducerIdResponse::default()
        },
        Ok(Err(e)) => {
            tracing::error!(error = %e, "could not allocate a producer id");
            failed(ErrorCode::KafkaStorageError)
        }
        Err(_) => failed(ErrorCode::UnknownServerError),
    }
}
