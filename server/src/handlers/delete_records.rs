//! DeleteRecords (key 21), versions 0..=2.
//!
//! Moves each partition's log start offset up to the offset asked (-1: the
//! high watermark) and deletes the segments wholly below it; an offset
//! below the current log start changes nothing. The answer's
//! low_watermark is the log start offset afterwards (a single replica, so
//! it is the low watermark at once). The new log start is checkpointed
//! before the answer, so a crash cannot bring the records back.
//!
//! OFFSET_OUT_OF_RANGE: the offset is above the high watermark, or negative
//! other than -1.
//! UNKNOWN_TOPIC_OR_PARTITION: no such topic or partition.
//! KAFKA_STORAGE_ERROR: the log directory is offline, or deleting a
//! segment failed.

use std::sync::Arc;

use strata_protocol::messages::delete_records::response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use strata_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use strata_storage::checkpoint::TopicPartition;

use crate::broker::Broker;
use crate::error_code::{ErrorCode, storage_error_code};

const HIGH_WATERMARK: i64 = -1;

fn delete(broker: &Broker, tp: &TopicPartition, offset: i64) -> Result<i64, ErrorCode> {
    let partition = broker
        .logs
        .partition(tp)
        .ok_or(ErrorCode::UnknownTopicOrPartition)?;
    let offset = if offset == HIGH_WATERMARK {
        partition.high_watermark()
    } else {
        offset
    };
    if offset < 0 {
        return Err(ErrorCode::OffsetOutOfRange);
    }
    broker.logs.delete_records(tp, offset).map_err(|e| {
        tracing::debug!(partition = %tp, offset, error = %e, "delete records refused");
        storage_error_code(&e)
    })
}

pub async fn handle(
    broker: &Arc<Broker>,
    _version: i16,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let b = broker.clone();
    tokio::task::spawn_blocking(move || {
        let topics = request
            .topics
            .into_iter()
            .map(|topic| {
                let partitions = topic
                    .partitions
                    .iter()
                    .map(|p| {
                        let tp = TopicPartition::new(topic.name.0.clone(), p.partition_index);
                        let (code, low_watermark) = match delete(&b, &tp, p.offset) {
                            Ok(log_start) => (ErrorCode::None, log_start),
                            Err(code) => (code, -1),
                        };
                        DeleteRecordsPartitionResult {
                            partition_index: p.partition_index,
                            low_watermark,
                            error_code: code.code(),
                            ..DeleteRecordsPartitionResult::default()
                        }
                    })
                    .collect();
                DeleteRecordsTopicResult {
                    name: topic.name,
                    partitions,
                    ..DeleteRecordsTopicResult::default()
                }
            })
            .collect();
        DeleteRecordsResponse {
            topics,
            ..DeleteRecordsResponse::default()
        }
    })
    .await
    .unwrap_or_default()
}
