//! CreatePartitions (key 37), versions 0..=3.
//!
//! Raises a topic's partition count: the new count is synced to the
//! metadata log, then the new partitions are created with the topic's log
//! config, before the answer. Assignments, when given, must name only this
//! broker, once per partition. `validate_only` checks and creates nothing.
//!
//! INVALID_PARTITIONS: the count is not larger than the current one.
//! UNKNOWN_TOPIC_OR_PARTITION (no message, as Kafka): no such topic.
//! INVALID_REPLICA_ASSIGNMENT: as many assignments as new partitions are
//! needed, each naming this broker exactly once.
//! INVALID_REQUEST: a topic named twice in the request (answered once).

use std::collections::HashMap;
use std::sync::Arc;

use strata_protocol::messages::create_partitions::response::CreatePartitionsTopicResult;
use strata_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use strata_protocol::types::TopicName;

use crate::broker::Broker;
use crate::error_code::ErrorCode;

pub async fn handle(
    broker: &Arc<Broker>,
    _version: i16,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut times: HashMap<String, usize> = HashMap::new();
    for t in &request.topics {
        *times.entry(t.name.0.clone()).or_default() += 1;
    }
    let mut results = Vec::with_capacity(request.topics.len());
    let mut answered_duplicates = Vec::new();
    for topic in request.topics {
        let name = topic.name.0.clone();
        let outcome = if times[&name] > 1 {
            if answered_duplicates.contains(&name) {
                continue;
            }
            answered_duplicates.push(name.clone());
            Err((
                ErrorCode::InvalidRequest,
                "Duplicate topic name.".to_owned(),
            ))
        } else {
            let b = broker.clone();
            let assignments: Option<Vec<Vec<i32>>> = topic.assignments.map(|list| {
                list.into_iter()
                    .map(|a| a.broker_ids.into_iter().map(|id| id.0).collect())
                    .collect()
            });
            let validate_only = request.validate_only;
            let count = topic.count;
            let n = name.clone();
            tokio::task::spawn_blocking(move || {
                b.add_partitions(&n, count, assignments.as_deref(), validate_only)
            })
            .await
            .unwrap_or_else(|e| Err((ErrorCode::UnknownServerError, e.to_string())))
        };
        let (code, message) = match outcome {
            Ok(()) => (ErrorCode::None, None),
            Err((ErrorCode::UnknownTopicOrPartition, _)) => {
                (ErrorCode::UnknownTopicOrPartition, None)
            }
            Err((code, message)) => (code, Some(message)),
        };
        results.push(CreatePartitionsTopicResult {
            name: TopicName(name),
            error_code: code.code(),
            error_message: message,
            ..CreatePartitionsTopicResult::default()
        });
    }
    CreatePartitionsResponse {
        results,
        ..CreatePartitionsResponse::default()
    }
}
