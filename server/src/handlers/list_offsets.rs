//! ListOffsets (key 2), versions 1..=10.
//!
//! Timestamps: -2 earliest (the log start), -1 latest (the high watermark,
//! which is also the last stable offset while there are no transactions),
//! -3 the record with the largest timestamp, -4 earliest local (the log
//! start: nothing is tiered), a time T >= 0 the first record stamped T or
//! later, below the high watermark; none: offset -1.
//! UNKNOWN_TOPIC_OR_PARTITION, KAFKA_STORAGE_ERROR.

use std::sync::Arc;

use strata_protocol::messages::list_offsets::response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use strata_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use strata_storage::checkpoint::TopicPartition;

use crate::broker::Broker;
use crate::error_code::{ErrorCode, storage_error_code};

const EARLIEST: i64 = -2;
const LATEST: i64 = -1;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;

fn lookup(broker: &Broker, tp: &TopicPartition, timestamp: i64) -> Result<(i64, i64), ErrorCode> {
    let partition = broker
        .logs
        .partition(tp)
        .ok_or(ErrorCode::UnknownTopicOrPartition)?;
    let hw = partition.high_watermark();
    partition.with_log(|log| {
        let found = match timestamp {
            EARLIEST | EARLIEST_LOCAL => Ok(Some((log.log_start_offset(), -1))),
            LATEST => Ok(Some((hw, -1))),
            MAX_TIMESTAMP => log.max_timestamp_offset(),
            t if t >= 0 => log.offset_for_timestamp(t),
            _ => Ok(None),
        };
        match found {
            Ok(Some((offset, ts))) if timestamp < 0 || offset < hw => Ok((offset, ts)),
            Ok(_) => Ok((-1, -1)),
            Err(e) => Err(storage_error_code(&e)),
        }
    })
}

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
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
                        match lookup(&b, &tp, p.timestamp) {
                            Ok((offset, timestamp)) => ListOffsetsPartitionResponse {
                                partition_index: p.partition_index,
                                error_code: ErrorCode::None.code(),
                                timestamp,
                                offset,
                                // The epoch field exists from v4; nothing found: none.
                                leader_epoch: if version < 4 || offset < 0 { -1 } else { 0 },
                                ..ListOffsetsPartitionResponse::default()
                            },
                            Err(code) => ListOffsetsPartitionResponse {
                                partition_index: p.partition_index,
                                error_code: code.code(),
                                timestamp: -1,
                                offset: -1,
                                leader_epoch: -1,
                                ..ListOffsetsPartitionResponse::default()
                            },
                        }
                    })
                    .collect();
                ListOffsetsTopicResponse {
                    name: topic.name,
                    partitions,
                    ..ListOffsetsTopicResponse::default()
                }
            })
            .collect();
        ListOffsetsResponse {
            topics,
            ..ListOffsetsResponse::default()
        }
    })
    .await
    .unwrap_or_default()
}
