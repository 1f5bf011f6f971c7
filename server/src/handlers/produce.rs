//! Produce (key 0), versions 3..=13 (advertised from 0, see ApiVersions).
//!
//! acks 0: nothing is answered; if a partition is refused before its
//! append (unknown topic, bad acks), the connection is closed, as Kafka does,
//! so the producer notices. acks 1 and -1: answered once every
//! partition's append is acknowledged, which for a durable topic means on
//! disk. Batches are stored as sent, but for the base offset and leader
//! epoch the broker sets.
//! UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID (v13 names topics by id),
//! CORRUPT_MESSAGE (bad CRC, torn batch, old magic), MESSAGE_TOO_LARGE
//! (over max.message.bytes), RECORD_LIST_TOO_LARGE (over segment.bytes),
//! INVALID_TIMESTAMP, INVALID_RECORD (control batches from a client),
//! INVALID_REQUIRED_ACKS, INVALID_TOPIC_EXCEPTION (internal topics such as
//! `__consumer_offsets` take no client writes), KAFKA_STORAGE_ERROR (the log dir is offline or
//! the disk is full).
//! Idempotent producers: sequences are checked per partition by storage
//! (OUT_OF_ORDER_SEQUENCE_NUMBER, duplicates answered with their first
//! offsets, INVALID_PRODUCER_EPOCH). Not yet: transactional producers.

use std::sync::Arc;

use strata_protocol::messages::produce::response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use strata_protocol::messages::{ProduceRequest, ProduceResponse};
use strata_storage::checkpoint::TopicPartition;
use strata_storage::log::AppendInfo;

use tokio::sync::oneshot;

use crate::broker::{Broker, now_ms};
use crate::error_code::{ErrorCode, storage_error_code};

fn failed(index: i32, code: ErrorCode, message: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse {
        index,
        error_code: code.code(),
        base_offset: -1,
        log_append_time_ms: -1,
        log_start_offset: -1,
        error_message: message,
        ..PartitionProduceResponse::default()
    }
}

/// What goes back to the client.
#[derive(Debug)]
pub enum Answer {
    Respond(ProduceResponse),
    Nothing,
    CloseConnection,
}

/// A request whose appends are on their storage threads' queues.
#[derive(Debug)]
pub enum Submitted {
    /// acks 1 or -1: the response, once every append is acknowledged.
    Waiting(Acks),
    Nothing,
    CloseConnection,
}

/// The appends of one request, waiting to be acknowledged.
#[derive(Debug)]
pub struct Acks {
    /// Placeholders where `pending` answers.
    topics: Vec<TopicProduceResponse>,
    /// (topic, partition response, partition index, answer).
    pending: Vec<(
        usize,
        usize,
        i32,
        oneshot::Receiver<strata_storage::Result<AppendInfo>>,
    )>,
}

pub async fn handle(broker: &Arc<Broker>, version: i16, request: ProduceRequest) -> Answer {
    match submit(broker, version, request).await {
        Submitted::Waiting(acks) => Answer::Respond(acks.response().await),
        Submitted::Nothing => Answer::Nothing,
        Submitted::CloseConnection => Answer::CloseConnection,
    }
}

/// Validates the request and hands each partition's batches to its storage
/// thread, in request order, before returning: a connection may read its
/// next request while these wait for the disk, and the next one's appends
/// still queue behind these.
pub async fn submit(broker: &Arc<Broker>, version: i16, request: ProduceRequest) -> Submitted {
    let acks_valid = matches!(request.acks, -1..=1);
    let mut topics = Vec::new();
    // (topic, partition response, partition index) of each append, and the append.
    let mut places = Vec::new();
    let mut appends = Vec::new();
    for (t, topic) in request.topic_data.into_iter().enumerate() {
        let meta = if version >= 13 {
            broker.metadata().topic_by_id(&topic.topic_id).cloned()
        } else {
            let name = topic.name.0.clone();
            let existing = broker.metadata().topic(&name).cloned();
            match existing {
                Some(m) => Some(m),
                None if broker.config.auto_create_topics => {
                    let b = broker.clone();
                    tokio::task::spawn_blocking(move || b.maybe_auto_create(&name))
                        .await
                        .ok()
                        .flatten()
                }
                None => None,
            }
        };
        let mut responses = Vec::new();
        for p in topic.partition_data {
            let response = match (&meta, p.records) {
                _ if !acks_valid => Some(failed(p.index, ErrorCode::InvalidRequiredAcks, None)),
                (None, _) => Some(failed(
                    p.index,
                    if version >= 13 {
                        ErrorCode::UnknownTopicId
                    } else {
                        ErrorCode::UnknownTopicOrPartition
                    },
                    None,
                )),
                // Internal topics are written by the broker only, as in Kafka.
                (Some(m), _) if m.name.starts_with("__") => Some(failed(
                    p.index,
                    ErrorCode::InvalidTopicException,
                    Some(format!("cannot append to internal topic {}", m.name)),
                )),
                (Some(m), _) if p.index < 0 || p.index >= m.partitions => {
                    Some(failed(p.index, ErrorCode::UnknownTopicOrPartition, None))
                }
                (Some(_), None) => Some(failed(
                    p.index,
                    ErrorCode::CorruptMessage,
                    Some("no records".into()),
                )),
                (Some(m), Some(records)) => {
                    places.push((t, responses.len(), p.index));
                    appends.push((TopicPartition::new(m.name.clone(), p.index), records));
                    None
                }
            };
            // A placeholder holds the partition's place until its append answers.
            responses.push(
                response.unwrap_or_else(|| failed(p.index, ErrorCode::UnknownServerError, None)),
            );
        }
        topics.push(TopicProduceResponse {
            name: topic.name,
            topic_id: topic.topic_id,
            partition_responses: responses,
            ..TopicProduceResponse::default()
        });
    }
    // All at once: each storage thread gets the request's share in one hand-off.
    let (partitions, batches): (Vec<TopicPartition>, Vec<_>) = appends.into_iter().unzip();
    let replies = broker
        .logs
        .append_all(partitions.iter().zip(batches).collect(), 0, now_ms());
    let pending: Vec<_> = places
        .into_iter()
        .zip(replies)
        .map(|((t, i, index), rx)| (t, i, index, rx))
        .collect();
    if request.acks == 0 && acks_valid {
        let refused = topics
            .iter()
            .flat_map(|t| t.partition_responses.iter().enumerate())
            .any(|(i, p)| {
                p.error_code != 0
                    && !pending
                        .iter()
                        .any(|(_, j, index, _)| *j == i && *index == p.index)
            });
        // The appends go on; nobody waits for them.
        return if refused {
            Submitted::CloseConnection
        } else {
            Submitted::Nothing
        };
    }
    Submitted::Waiting(Acks { topics, pending })
}

impl Acks {
    /// The response, once every append of the request is acknowledged.
    pub async fn response(self) -> ProduceResponse {
        let Acks {
            mut topics,
            pending,
        } = self;
        for (t, i, index, rx) in pending {
            let response = match rx.await {
                Ok(Ok(info)) => PartitionProduceResponse {
                    index,
                    error_code: ErrorCode::None.code(),
                    base_offset: info.first_offset,
                    log_append_time_ms: info.log_append_time,
                    log_start_offset: info.log_start_offset,
                    ..PartitionProduceResponse::default()
                },
                Ok(Err(e)) => {
                    tracing::debug!(partition = index, error = %e, "produce refused");
                    failed(index, storage_error_code(&e), Some(e.to_string()))
                }
                Err(_) => failed(
                    index,
                    ErrorCode::KafkaStorageError,
                    Some("the storage thread stopped".into()),
                ),
            };
            topics[t].partition_responses[i] = response;
        }
        ProduceResponse {
            responses: topics,
            ..ProduceResponse::default()
        }
    }
}
