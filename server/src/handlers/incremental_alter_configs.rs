//! IncrementalAlterConfigs (key 44), versions 0..=1.
//!
//! TOPIC resources: each key's operation applies to the topic's current
//! set, which is then validated whole, synced to the metadata log and
//! applied to the partitions' logs before the answer; one bad key fails the
//! resource and changes nothing. `validate_only` checks and changes nothing.
//! SET (0) sets the value; DELETE (1) removes the topic's own value (the
//! broker's or the default applies again; deleting a key never set is
//! fine); APPEND (2) and SUBTRACT (3) add or remove comma-separated items
//! of a LIST key (`cleanup.policy`), starting from Kafka's default when the
//! topic has no value.
//!
//! INVALID_CONFIG: an unknown key or a bad value, with the reason; APPEND
//! or SUBTRACT on a key that is not a LIST.
//! UNKNOWN_TOPIC_OR_PARTITION: no such topic (checked after the values,
//! as Kafka does).
//! INVALID_TOPIC_EXCEPTION: a name no topic can have.
//! INVALID_REQUEST: a resource named twice, a key named twice, a null value
//! for an operation other than DELETE, an unknown operation, an empty topic
//! name, an unknown resource type, and every BROKER resource: Strata reads
//! broker configs only at start-up, so it refuses them as Kafka refuses
//! keys that cannot change dynamically.
//! Not yet: dynamic BROKER configs, BROKER_LOGGER (log levels),
//! CLIENT_METRICS and GROUP resources.

use std::collections::BTreeMap;
use std::sync::Arc;

use strata_protocol::messages::incremental_alter_configs::request::AlterableConfig;
use strata_protocol::messages::incremental_alter_configs::response::AlterConfigsResourceResponse;
use strata_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use crate::broker::{Broker, TopicError};
use crate::config::{ConfigType, topic_key, topic_key_info};
use crate::error_code::ErrorCode;
use crate::handlers::alter_configs::{
    alter_topic, check_keys, not_yet, refuse_broker_change, repeated_resources,
};
use crate::handlers::describe_configs::{BROKER, BROKER_LOGGER, CLIENT_METRICS, GROUP, TOPIC};

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

fn op_name(op: i8) -> &'static str {
    match op {
        SET => "SET",
        DELETE => "DELETE",
        APPEND => "APPEND",
        _ => "SUBTRACT",
    }
}

fn check_ops(configs: &[AlterableConfig]) -> Result<(), TopicError> {
    match configs
        .iter()
        .find(|c| !(SET..=SUBTRACT).contains(&c.config_operation))
    {
        Some(c) => Err((
            ErrorCode::InvalidRequest,
            format!("Unknown operation type {}", c.config_operation),
        )),
        None => Ok(()),
    }
}

/// The topic's configs after `ops` (Kafka's `incrementalAlterConfigResource`).
fn apply(
    current: &BTreeMap<String, String>,
    ops: &[AlterableConfig],
) -> Result<BTreeMap<String, String>, TopicError> {
    let mut configs = current.clone();
    for op in ops {
        let name = &op.name;
        match op.config_operation {
            SET => {
                // check_keys refused null values for SET.
                configs.insert(name.clone(), op.value.clone().unwrap_or_default());
            }
            DELETE => {
                configs.remove(name);
            }
            APPEND | SUBTRACT => {
                if topic_key_info(name).0 != ConfigType::List {
                    return Err((
                        ErrorCode::InvalidConfig,
                        format!(
                            "Can't {} to key {name} because its type is not LIST.",
                            op_name(op.config_operation)
                        ),
                    ));
                }
                let old = configs
                    .get(name)
                    .map(String::as_str)
                    .or_else(|| topic_key(name).map(|k| k.default))
                    .unwrap_or("");
                let mut items: Vec<String> = old
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                for item in op.value.as_deref().unwrap_or("").split(',') {
                    if op.config_operation == APPEND {
                        if !items.iter().any(|i| i == item) {
                            items.push(item.to_owned());
                        }
                    } else if let Some(at) = items.iter().position(|i| i == item) {
                        items.remove(at);
                    }
                }
                configs.insert(name.clone(), items.join(","));
            }
            other => {
                return Err((
                    ErrorCode::InvalidRequest,
                    format!("Unknown operation type {other}"),
                ));
            }
        }
    }
    Ok(configs)
}

pub async fn handle(
    broker: &Arc<Broker>,
    _version: i16,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
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
            let checked = check_keys(resource.configs.iter().map(|c| {
                (
                    c.name.as_str(),
                    c.config_operation != DELETE && c.value.is_none(),
                )
            }))
            .and_then(|()| check_ops(&resource.configs));
            match (checked, resource.resource_type) {
                (Err(e), _) => Err(e),
                (Ok(()), TOPIC) => {
                    let ops = resource.configs.clone();
                    alter_topic(
                        broker,
                        resource.resource_name.clone(),
                        request.validate_only,
                        move |current| apply(current, &ops),
                    )
                    .await
                }
                (Ok(()), BROKER) => Err(refuse_broker_change(
                    broker,
                    &resource.resource_name,
                    resource.configs.iter().map(|c| c.name.as_str()),
                )),
                (Ok(()), BROKER_LOGGER | CLIENT_METRICS | GROUP) => {
                    Err(not_yet(resource.resource_type))
                }
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
    IncrementalAlterConfigsResponse {
        responses,
        ..IncrementalAlterConfigsResponse::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str, operation: i8, value: Option<&str>) -> AlterableConfig {
        AlterableConfig {
            name: name.into(),
            config_operation: operation,
            value: value.map(Into::into),
            ..AlterableConfig::default()
        }
    }

    #[test]
    fn append_and_subtract_work_on_list_items_from_the_default() {
        let none = BTreeMap::new();
        let c = apply(&none, &[op("cleanup.policy", APPEND, Some("compact"))]).unwrap();
        assert_eq!(c["cleanup.policy"], "delete,compact");
        let c = apply(&c, &[op("cleanup.policy", APPEND, Some("compact"))]).unwrap();
        assert_eq!(c["cleanup.policy"], "delete,compact", "no duplicates");
        let c = apply(&c, &[op("cleanup.policy", SUBTRACT, Some("delete"))]).unwrap();
        assert_eq!(c["cleanup.policy"], "compact");
    }

    #[test]
    fn append_to_a_key_that_is_not_a_list_is_invalid_config() {
        let err = apply(&BTreeMap::new(), &[op("retention.ms", APPEND, Some("1"))]).unwrap_err();
        assert_eq!(err.0, ErrorCode::InvalidConfig);
        assert_eq!(
            err.1,
            "Can't APPEND to key retention.ms because its type is not LIST."
        );
    }

    #[test]
    fn set_then_delete_in_one_request_applies_in_order() {
        let c = apply(
            &BTreeMap::new(),
            &[
                op("retention.ms", SET, Some("1000")),
                op("segment.ms", DELETE, None),
            ],
        )
        .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c["retention.ms"], "1000");
    }
}
