//! Metadata (key 3), versions 0..=13.
//!
//! A null topic list (v1+) or an empty one at v0 asks for every topic; an
//! empty list at v1+ asks for none. Topics named by id (v10+) are looked up
//! by id. Unknown topics are created when the broker and the request allow
//! it (v4+ carries the request's permission), else UNKNOWN_TOPIC_OR_PARTITION
//! (by name) or UNKNOWN_TOPIC_ID (by id). INVALID_TOPIC_EXCEPTION: a name
//! Kafka would refuse.

use std::sync::Arc;

use strata_protocol::messages::metadata::response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use strata_protocol::messages::{MetadataRequest, MetadataResponse};
use strata_protocol::types::{BrokerId, TopicName};

use crate::broker::Broker;
use crate::error_code::ErrorCode;
use crate::metadata::{TopicMeta, validate_topic_name};

fn topic_entry(broker: &Broker, t: &TopicMeta) -> MetadataResponseTopic {
    let node = BrokerId(broker.config.node_id);
    MetadataResponseTopic {
        error_code: ErrorCode::None.code(),
        name: Some(TopicName(t.name.clone())),
        topic_id: t.id,
        is_internal: t.name.starts_with("__"),
        partitions: (0..t.partitions)
            .map(|p| MetadataResponsePartition {
                error_code: ErrorCode::None.code(),
                partition_index: p,
                leader_id: node,
                leader_epoch: 0,
                replica_nodes: vec![node],
                isr_nodes: vec![node],
                offline_replicas: vec![],
                ..MetadataResponsePartition::default()
            })
            .collect(),
        ..MetadataResponseTopic::default()
    }
}

fn error_entry(
    name: Option<String>,
    id: strata_protocol::types::Uuid,
    code: ErrorCode,
) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: code.code(),
        name: name.map(TopicName),
        topic_id: id,
        ..MetadataResponseTopic::default()
    }
}

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    request: MetadataRequest,
) -> MetadataResponse {
    let all = match &request.topics {
        None => true,
        Some(list) => version == 0 && list.is_empty(),
    };
    let allow_create = version < 4 || request.allow_auto_topic_creation;
    let topics = if all {
        broker
            .metadata()
            .topics()
            .map(|t| topic_entry(broker, t))
            .collect()
    } else {
        let mut out = Vec::new();
        for wanted in request.topics.unwrap_or_default() {
            let entry = match wanted.name {
                Some(name) if !name.0.is_empty() || wanted.topic_id.is_zero() => {
                    let name = name.0;
                    let existing = broker.metadata().topic(&name).cloned();
                    match existing {
                        Some(t) => topic_entry(broker, &t),
                        None if validate_topic_name(&name).is_err() => error_entry(
                            Some(name),
                            Default::default(),
                            ErrorCode::InvalidTopicException,
                        ),
                        None if allow_create && broker.config.auto_create_topics => {
                            let b = broker.clone();
                            let n = name.clone();
                            match tokio::task::spawn_blocking(move || b.maybe_auto_create(&n))
                                .await
                                .ok()
                                .flatten()
                            {
                                Some(t) => topic_entry(broker, &t),
                                None => error_entry(
                                    Some(name),
                                    Default::default(),
                                    ErrorCode::UnknownTopicOrPartition,
                                ),
                            }
                        }
                        None => error_entry(
                            Some(name),
                            Default::default(),
                            ErrorCode::UnknownTopicOrPartition,
                        ),
                    }
                }
                _ => {
                    let existing = broker.metadata().topic_by_id(&wanted.topic_id).cloned();
                    match existing {
                        Some(t) => topic_entry(broker, &t),
                        None => error_entry(None, wanted.topic_id, ErrorCode::UnknownTopicId),
                    }
                }
            };
            out.push(entry);
        }
        out
    };
    MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: BrokerId(broker.config.node_id),
            host: broker.config.advertised.host.clone(),
            port: i32::from(broker.config.advertised.port),
            rack: None,
            ..MetadataResponseBroker::default()
        }],
        cluster_id: Some(broker.cluster_id()),
        controller_id: BrokerId(broker.config.node_id),
        topics,
        ..MetadataResponse::default()
    }
}
