//! DescribeConfigs (key 32), versions 1..=4.
//!
//! TOPIC (resource type 2): every key of `config::TOPIC_KEYS`, with the
//! value in force and its source: DYNAMIC_TOPIC_CONFIG (1) when set on the
//! topic, STATIC_BROKER_CONFIG (4) when the broker's file or flags set its
//! `log.*` synonym, else DEFAULT_CONFIG (5). Never read-only or sensitive.
//! `include_synonyms` lists, highest precedence first, the topic's own
//! value, the broker keys set in the file, then the defaults, as Kafka does
//! (`retention.ms` lists no default: Kafka drops synonyms before
//! `log.retention.ms`, which has none). One difference: with only
//! `log.retention.hours` (or `.minutes`, `log.roll.hours`) in the file,
//! Kafka drops those too and calls the value DEFAULT_CONFIG; we say
//! STATIC_BROKER_CONFIG and list them, since that is where it came from.
//! BROKER (4) named by our node id: the keys of `config::BROKER_KEY_TABLE`
//! with the value in force, STATIC_BROKER_CONFIG or DEFAULT_CONFIG, all
//! read-only (no broker config changes without a restart). BROKER named ""
//! is the cluster-wide dynamic defaults, which Kafka lists and which we
//! never have: an empty list.
//! `configuration_keys` null or empty: every key; else only those named.
//! `config_type` and `documentation` (null unless asked) exist from v3.
//!
//! UNKNOWN_TOPIC_OR_PARTITION (no message, as Kafka): no such topic.
//! INVALID_TOPIC_EXCEPTION: a name no topic can have.
//! INVALID_REQUEST: a broker name that is not an integer or not our id;
//! a resource type we do not describe.
//! Not yet: BROKER_LOGGER (8), CLIENT_METRICS (16) and GROUP (32)
//! resources, which Kafka describes (INVALID_REQUEST, saying so).

use std::sync::Arc;

use strata_protocol::messages::describe_configs::request::DescribeConfigsResource;
use strata_protocol::messages::describe_configs::response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use strata_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use crate::broker::Broker;
use crate::config::{
    BROKER_KEY_TABLE, ConfigSource, Synonym, TOPIC_KEYS, TopicKey, topic_key_info,
};
use crate::error_code::ErrorCode;
use crate::metadata::validate_topic_name;

pub const TOPIC: i8 = 2;
pub const BROKER: i8 = 4;
pub const BROKER_LOGGER: i8 = 8;
pub const CLIENT_METRICS: i8 = 16;
pub const GROUP: i8 = 32;

/// Why a resource was refused: the code and Kafka's message, if any.
type ResourceError = (ErrorCode, Option<String>);

fn wanted(resource: &DescribeConfigsResource, name: &str) -> bool {
    match &resource.configuration_keys {
        Some(keys) if !keys.is_empty() => keys.iter().any(|k| k == name),
        _ => true,
    }
}

fn wire_synonyms(list: Vec<Synonym>) -> Vec<DescribeConfigsSynonym> {
    list.into_iter()
        .map(|s| DescribeConfigsSynonym {
            name: s.name.to_owned(),
            value: s.value,
            source: s.source.code(),
            ..DescribeConfigsSynonym::default()
        })
        .collect()
}

fn topic_entry(
    broker: &Broker,
    topic_configs: &std::collections::BTreeMap<String, String>,
    key: &TopicKey,
    include_synonyms: bool,
    include_documentation: bool,
) -> DescribeConfigsResourceResult {
    let (value, source) = broker.config.resolve(topic_configs, key);
    let (config_type, doc) = topic_key_info(key.name);
    let synonyms = if include_synonyms {
        let mut list = Vec::new();
        if source == ConfigSource::Topic {
            list.push(Synonym {
                name: key.name,
                value: Some(value.to_owned()),
                source,
            });
        }
        if let Some(s) = key.broker_synonym {
            list.extend(broker.config.synonyms(s, true));
        }
        wire_synonyms(list)
    } else {
        Vec::new()
    };
    DescribeConfigsResourceResult {
        name: key.name.to_owned(),
        value: Some(value.to_owned()),
        read_only: false,
        config_source: source.code(),
        is_sensitive: false,
        synonyms,
        config_type: config_type.code(),
        documentation: include_documentation.then(|| doc.to_owned()),
        ..DescribeConfigsResourceResult::default()
    }
}

fn describe_topic(
    broker: &Broker,
    resource: &DescribeConfigsResource,
    include_synonyms: bool,
    include_documentation: bool,
) -> Result<Vec<DescribeConfigsResourceResult>, ResourceError> {
    let name = &resource.resource_name;
    validate_topic_name(name).map_err(|m| (ErrorCode::InvalidTopicException, Some(m)))?;
    let Some(topic) = broker.metadata().topic(name).cloned() else {
        return Err((ErrorCode::UnknownTopicOrPartition, None));
    };
    Ok(TOPIC_KEYS
        .iter()
        .filter(|k| wanted(resource, k.name))
        .map(|k| {
            topic_entry(
                broker,
                &topic.configs,
                k,
                include_synonyms,
                include_documentation,
            )
        })
        .collect())
}

/// Checks that a BROKER resource names us (Kafka's messages); `Ok(false)`
/// for "", the cluster-wide default.
pub fn is_this_broker(broker: &Broker, name: &str, describe: bool) -> Result<bool, String> {
    if name.is_empty() {
        return Ok(false);
    }
    let id: i32 = name.parse().map_err(|_| {
        if describe {
            format!("Broker id must be an integer, but it is: {name}")
        } else {
            format!("Node id must be an integer, but it is: {name}")
        }
    })?;
    let ours = broker.config.node_id;
    if id != ours {
        return Err(if describe {
            format!("Unexpected broker id, expected {ours} or empty string, but received {name}")
        } else {
            format!("Unexpected broker id, expected {ours}, but received {name}")
        });
    }
    Ok(true)
}

fn describe_broker(
    broker: &Broker,
    resource: &DescribeConfigsResource,
    include_synonyms: bool,
    include_documentation: bool,
) -> Result<Vec<DescribeConfigsResourceResult>, ResourceError> {
    let ours = is_this_broker(broker, &resource.resource_name, true)
        .map_err(|m| (ErrorCode::InvalidRequest, Some(m)))?;
    if !ours {
        // Only dynamic cluster-wide defaults are listed here; there are none.
        return Ok(Vec::new());
    }
    Ok(BROKER_KEY_TABLE
        .iter()
        .filter(|k| wanted(resource, k.name))
        .map(|k| {
            let (value, source) = broker.config.broker_value(k);
            DescribeConfigsResourceResult {
                name: k.name.to_owned(),
                value,
                // Nothing changes without a restart.
                read_only: true,
                config_source: source.code(),
                is_sensitive: false,
                synonyms: if include_synonyms {
                    wire_synonyms(broker.config.synonyms(k.name, false))
                } else {
                    Vec::new()
                },
                config_type: k.config_type.code(),
                documentation: include_documentation.then(|| k.doc.to_owned()),
                ..DescribeConfigsResourceResult::default()
            }
        })
        .collect())
}

pub async fn handle(
    broker: &Arc<Broker>,
    _version: i16,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let results = request
        .resources
        .iter()
        .map(|resource| {
            let synonyms = request.include_synonyms;
            let docs = request.include_documentation;
            let outcome = match resource.resource_type {
                TOPIC => describe_topic(broker, resource, synonyms, docs),
                BROKER => describe_broker(broker, resource, synonyms, docs),
                BROKER_LOGGER | CLIENT_METRICS | GROUP => Err((
                    ErrorCode::InvalidRequest,
                    Some(format!(
                        "Strata does not describe configs of resource type {} yet",
                        resource.resource_type
                    )),
                )),
                other => Err((
                    ErrorCode::InvalidRequest,
                    Some(format!("Unsupported resource type: {other}")),
                )),
            };
            let (error_code, error_message, configs) = match outcome {
                Ok(configs) => (ErrorCode::None, None, configs),
                Err((code, message)) => (code, message, Vec::new()),
            };
            DescribeConfigsResult {
                error_code: error_code.code(),
                error_message,
                resource_type: resource.resource_type,
                resource_name: resource.resource_name.clone(),
                configs,
                ..DescribeConfigsResult::default()
            }
        })
        .collect();
    DescribeConfigsResponse {
        results,
        ..DescribeConfigsResponse::default()
    }
}
