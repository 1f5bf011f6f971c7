//! CreateTopics (key 19), versions 2..=7.
//!
//! TOPIC_ALREADY_EXISTS, INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS,
//! INVALID_REPLICATION_FACTOR (this is one broker: only 1 or -1),
//! INVALID_CONFIG (an unknown key or a bad value), INVALID_REPLICA_ASSIGNMENT
//! (assignments naming other brokers). `validate_only` checks and creates
//! nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use strata_protocol::messages::create_topics::response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use strata_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use crate::broker::Broker;
use crate::config::{ConfigSource, TOPIC_KEYS};
use crate::error_code::ErrorCode;

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut results = Vec::new();
    for topic in request.topics {
        let name = topic.name.0.clone();
        let configs: BTreeMap<String, String> = topic
            .configs
            .iter()
            .filter_map(|c| c.value.clone().map(|v| (c.name.clone(), v)))
            .collect();
        let assignment_error = topic.assignments.iter().any(|a| {
            a.broker_ids.iter().any(|b| b.0 != broker.config.node_id) || a.broker_ids.len() != 1
        });
        let (partitions, replication) = if topic.assignments.is_empty() {
            (topic.num_partitions, topic.replication_factor)
        } else {
            (topic.assignments.len() as i32, 1)
        };
        let outcome = if assignment_error {
            Err((
                ErrorCode::InvalidReplicaAssignment,
                "replicas must all be this broker".to_owned(),
            ))
        } else {
            let b = broker.clone();
            let n = name.clone();
            let validate_only = request.validate_only;
            tokio::task::spawn_blocking(move || {
                b.create_topic(&n, partitions, replication, configs, validate_only)
            })
            .await
            .unwrap_or_else(|e| Err((ErrorCode::UnknownServerError, e.to_string())))
        };
        let result = match outcome {
            Ok(meta) => CreatableTopicResult {
                name: topic.name,
                topic_id: meta.id,
                error_code: ErrorCode::None.code(),
                num_partitions: meta.partitions,
                replication_factor: 1,
                configs: Some(
                    TOPIC_KEYS
                        .iter()
                        .map(|k| {
                            let (value, source) = broker.config.resolve(&meta.configs, k);
                            CreatableTopicConfigs {
                                name: k.name.to_owned(),
                                value: Some(value.to_owned()),
                                read_only: false,
                                config_source: match source {
                                    ConfigSource::Topic => 1,
                                    ConfigSource::Broker => 4,
                                    ConfigSource::Default => 5,
                                },
                                is_sensitive: false,
                                ..CreatableTopicConfigs::default()
                            }
                        })
                        .collect(),
                ),
                ..CreatableTopicResult::default()
            },
            Err((code, message)) => CreatableTopicResult {
                name: topic.name,
                error_code: code.code(),
                error_message: Some(message),
                num_partitions: -1,
                replication_factor: -1,
                configs: if version >= 5 { None } else { Some(vec![]) },
                ..CreatableTopicResult::default()
            },
        };
        results.push(result);
    }
    CreateTopicsResponse {
        topics: results,
        ..CreateTopicsResponse::default()
    }
}
