//! DeleteTopics (key 20), versions 1..=6.
//!
//! UNKNOWN_TOPIC_OR_PARTITION (by name), UNKNOWN_TOPIC_ID (by id, v6+),
//! TOPIC_DELETION_DISABLED when `delete.topic.enable=false`.

use std::sync::Arc;

use strata_protocol::messages::delete_topics::response::DeletableTopicResult;
use strata_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};
use strata_protocol::types::{TopicName, Uuid};

use crate::broker::Broker;
use crate::error_code::ErrorCode;

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    // Up to v5 topics come by name; v6 names each by name or id.
    let wanted: Vec<(Option<String>, Uuid)> = if version < 6 {
        request
            .topic_names
            .into_iter()
            .map(|n| (Some(n.0), Uuid::ZERO))
            .collect()
    } else {
        request
            .topics
            .into_iter()
            .map(|t| (t.name.map(|n| n.0), t.topic_id))
            .collect()
    };
    let mut responses = Vec::new();
    for (name, id) in wanted {
        let resolved = match &name {
            Some(n) => Some(n.clone()),
            None => broker.metadata().topic_by_id(&id).map(|t| t.name.clone()),
        };
        let result = match resolved {
            None => Err((
                ErrorCode::UnknownTopicId,
                "This server does not host this topic ID.".to_owned(),
            )),
            Some(_) if !broker.config.delete_topic_enable => Err((
                ErrorCode::TopicDeletionDisabled,
                "Topic deletion is disabled.".to_owned(),
            )),
            Some(n) => {
                let b = broker.clone();
                let n2 = n.clone();
                tokio::task::spawn_blocking(move || b.delete_topic(&n2))
                    .await
                    .unwrap_or_else(|e| Err((ErrorCode::UnknownServerError, e.to_string())))
                    .map(|id| (n, id))
            }
        };
        responses.push(match result {
            Ok((n, id)) => DeletableTopicResult {
                name: Some(TopicName(n)),
                topic_id: id,
                error_code: ErrorCode::None.code(),
                ..DeletableTopicResult::default()
            },
            Err((code, message)) => DeletableTopicResult {
                name: name.map(TopicName),
                topic_id: id,
                error_code: code.code(),
                error_message: Some(message),
                ..DeletableTopicResult::default()
            },
        });
    }
    DeleteTopicsResponse {
        responses,
        ..DeleteTopicsResponse::default()
    }
}
