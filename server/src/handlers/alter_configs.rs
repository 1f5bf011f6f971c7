//! AlterConfigs (key 33), versions 0..=2.
//!
//! TOPIC resources: the configs given replace the topic's whole set (a key
//! left out goes back to the broker's value or the default), validated,
//! synced to the metadata log and applied to the partitions' logs before
//! the answer. `validate_only` checks and changes nothing.
//!
//! INVALID_CONFIG: an unknown key or a bad value, with the reason.
//! UNKNOWN_TOPIC_OR_PARTITION: no such topic (checked after the values,
//! as Kafka does).
//! INVALID_TOPIC_EXCEPTION: a name no topic can have.
//! INVALID_REQUEST: a resource named twice, a key named twice, a null
//! value, an empty topic name, a resource type Kafka does not alter here
//! (BROKER_LOGGER goes through IncrementalAlterConfigs), and every BROKER
//! resource: Strata reads broker configs only at start-up, so it refuses
//! them as Kafka refuses keys that cannot change dynamically.
//! Not yet: dynamic BROKER configs, CLIENT_METRICS and GROUP resources.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use strata_protocol::messages::alter_configs::response::AlterConfigsResourceResponse;
use strata_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};

use crate::broker::{Broker, TopicError};
use crate::error_code::ErrorCode;
use crate::handlers::describe_configs::{BROKER, CLIENT_METRICS, GROUP, TOPIC, is_this_broker};

/// Indexes of resources that appear more than once: Kafka refuses each.
pub(crate) fn repeated_resources<'a>(
    resources: impl Iterator<Item = (i8, &'a str)>,
) -> HashSet<usize> {
    let mut seen: HashMap<(i8, &str), usize> = HashMap::new();
    let mut repeated = HashSet::new();
    for (i, key) in resources.enumerate() {
        if let Some(first) = seen.insert(key, i) {
            repeated.insert(first);
            repeated.insert(i);
        }
    }
    repeated
}

/// The checks Kafka makes on every resource before its type: each key
/// once, and a value for every key that needs one.
pub(crate) fn check_keys<'a>(
    keys: impl Iterator<Item = (&'a str, bool)> + Clone,
) -> Result<(), TopicError> {
    let mut seen = HashSet::new();
    if !keys.clone().all(|(k, _)| seen.insert(k)) {
        return Err((
            ErrorCode::InvalidRequest,
            "Error due to duplicate config keys".into(),
        ));
    }
    let missing: Vec<&str> = keys.filter(|(_, null)| *null).map(|(k, _)| k).collect();
    if !missing.is_empty() {
        return Err((
            ErrorCode::InvalidRequest,
            format!("Null value not supported for : {}", missing.join(", ")),
        ));
    }
    Ok(())
}

/// The answer to any change of a BROKER resource.
pub(crate) fn refuse_broker_change<'a>(
    broker: &Broker,
    name: &str,
    keys: impl Iterator<Item = &'a str>,
) -> TopicError {
    if let Err(m) = is_this_broker(broker, name, false) {
        return (ErrorCode::InvalidRequest, m);
    }
    let keys: Vec<&str> = keys.collect();
    (
        ErrorCode::InvalidRequest,
        format!(
            "Cannot update these configs dynamically: {}. Strata reads broker configs only at start-up, from its properties file and --set flags.",
            keys.join(", ")
        ),
    )
}

pub(crate) fn not_yet(resource_type: i8) -> TopicError {
    (
        ErrorCode::InvalidRequest,
        format!("Strata does not alter configs of resource type {resource_type} yet"),
    )
}

/// Runs a topic config change on a blocking thread (it syncs the metadata log).
pub(crate) async fn alter_topic(
    broker: &Arc<Broker>,
    name: String,
    validate_only: bool,
    change: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, TopicError>
    + Send
    + 'static,
) -> Result<(), TopicError> {
    let b = broker.clone();
    tokio::task::spawn_blocking(move || b.alter_topic_configs(&name, validate_only, change))
        .await
        .unwrap_or_else(|e| Err((ErrorCode::UnknownServerError, e.to_string())))
}

pub async fn handle(
    broker: &Arc<Broker>,
    _version: i16,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let repeated = repeated_resources(
        request
            .resources
            .iter()
            .map(|r| (r.resource_type, r.resource_name.as_str())),
    );
    let mut responses = Vec::with_capacity(request.resources.len());
    for (i, resource) in request.resources.into_iter().enumerate() {
        let outcome = if repeated.contains(&i) {
            Err((
                ErrorCode::InvalidRequest,
                "Each resource must appear at most once.".to_owned(),
            ))
        } else {
            let checked = check_keys(
                resource
                    .configs
                    .iter()
                    .map(|c| (c.name.as_str(), c.value.is_none())),
            );
            match (checked, resource.resource_type) {
                (Err(e), _) => Err(e),
                (Ok(()), TOPIC) => {
                    let configs: BTreeMap<String, String> = resource
                        .configs
                        .iter()
                        .filter_map(|c| Some((c.name.clone(), c.value.clone()?)))
                        .collect();
                    alter_topic(
                        broker,
                        resource.resource_name.clone(),
                        request.validate_only,
                        move |_| Ok(configs),
                    )
                    .await
                }
                (Ok(()), BROKER) => Err(refuse_broker_change(
                    broker,
                    &resource.resource_name,
                    resource.configs.iter().map(|c| c.name.as_str()),
                )),
                (Ok(()), CLIENT_METRICS | GROUP) => Err(not_yet(resource.resource_type)),
                (Ok(()), other) => Err((
                    ErrorCode::InvalidRequest,
                    format!("Unknown resource type {other}"),
                )),
            }
        };
        let (code, message) = match outcome {
            Ok(()) => (ErrorCode::None, None),
            Err((code, message)) => (code, Some(message)),
        };
        responses.push(AlterConfigsResourceResponse {
            error_code: code.code(),
            error_message: message,
            resource_type: resource.resource_type,
            resource_name: resource.resource_name,
            ..AlterConfigsResourceResponse::default()
        });
    }
    AlterConfigsResponse {
        responses,
        ..AlterConfigsResponse::default()
    }
}
