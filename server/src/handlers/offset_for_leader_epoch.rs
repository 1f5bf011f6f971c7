//! OffsetForLeaderEpoch (key 23), versions 2..=4.
//!
//! Every partition has had one leader, this broker, at leader epoch 0, and
//! every batch it stored carries epoch 0. So, as Kafka's epoch cache would
//! answer: epoch 0, once anything was appended, ends at the log end offset
//! (the epoch still being written); an epoch above 0 or -1 is unknown to the
//! cache (leader_epoch -1, end_offset -1, no error); an epoch below -1 is
//! older than the first one, which starts at the log start offset; on a log
//! never written to, every epoch is unknown.
//!
//! UNKNOWN_TOPIC_OR_PARTITION: no such topic or partition.
//! FENCED_LEADER_EPOCH: `current_leader_epoch` is below ours (0), other
//! than -1, which means "not given".
//! UNKNOWN_LEADER_EPOCH: `current_leader_epoch` is above ours.

use std::sync::Arc;

use strata_protocol::messages::offset_for_leader_epoch::response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use strata_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use strata_storage::checkpoint::TopicPartition;

use crate::broker::Broker;
use crate::error_code::ErrorCode;

const LEADER_EPOCH: i32 = 0;
const NO_EPOCH: i32 = -1;

fn end_offset(broker: &Broker, tp: &TopicPartition, current: i32, asked: i32) -> EpochEndOffset {
    let answer = |code: ErrorCode, leader_epoch: i32, end_offset: i64| EpochEndOffset {
        error_code: code.code(),
        partition: tp.partition,
        leader_epoch,
        end_offset,
        ..EpochEndOffset::default()
    };
    let Some(partition) = broker.logs.partition(tp) else {
        return answer(ErrorCode::UnknownTopicOrPartition, NO_EPOCH, -1);
    };
    if current != NO_EPOCH && current < LEADER_EPOCH {
        return answer(ErrorCode::FencedLeaderEpoch, NO_EPOCH, -1);
    }
    if current > LEADER_EPOCH {
        return answer(ErrorCode::UnknownLeaderEpoch, NO_EPOCH, -1);
    }
    let (log_start, log_end) = partition.with_log(|l| (l.log_start_offset(), l.log_end_offset()));
    let written = log_end > 0;
    match asked {
        LEADER_EPOCH if written => answer(ErrorCode::None, LEADER_EPOCH, log_end),
        a if a < NO_EPOCH && written => answer(ErrorCode::None, a, log_start),
        _ => answer(ErrorCode::None, NO_EPOCH, -1),
    }
}

pub async fn handle(
    broker: &Arc<Broker>,
    _version: i16,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
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
                        let tp = TopicPartition::new(topic.topic.0.clone(), p.partition);
                        end_offset(&b, &tp, p.current_leader_epoch, p.leader_epoch)
                    })
                    .collect();
                OffsetForLeaderTopicResult {
                    topic: topic.topic,
                    partitions,
                    ..OffsetForLeaderTopicResult::default()
                }
            })
            .collect();
        OffsetForLeaderEpochResponse {
            topics,
            ..OffsetForLeaderEpochResponse::default()
        }
    })
    .await
    .unwrap_or_default()
}
