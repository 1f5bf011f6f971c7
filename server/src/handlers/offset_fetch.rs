//! OffsetFetch (key 9), versions 1..=10.
//!
//! Committed offsets of one group (v1-7) or of several (v8+), for the
//! partitions asked, or for every committed partition when `topics` is null
//! (v2+). A partition without a commit gets offset -1, leader epoch -1 and
//! empty metadata, with no error; so does every partition of an unknown
//! group. v10 names topics by id.
//! GROUP_ID_NOT_FOUND: the group is being deleted. UNKNOWN_TOPIC_ID (v10):
//! no topic has that id. Group-level errors sit in the top-level (v2-7) or
//! per-group (v8+) error code; v1 has neither, so they go on each partition.
//! v9+ consumer-protocol groups: a member id and epoch given are checked
//! (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH, as the group-level code).
//! Not yet: `require_stable` (UNSTABLE_OFFSET_COMMIT needs transactions).

use std::collections::BTreeMap;
use std::sync::Arc;

use strata_protocol::messages::offset_fetch::response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use strata_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse};
use strata_protocol::types::{TopicName, Uuid};

use crate::broker::Broker;
use crate::error_code::ErrorCode;

/// One partition's answer.
#[derive(Debug, Clone)]
struct Fetched {
    partition: i32,
    offset: i64,
    leader_epoch: i32,
    metadata: String,
    error: ErrorCode,
}

impl Fetched {
    fn none(partition: i32, error: ErrorCode) -> Fetched {
        Fetched {
            partition,
            offset: -1,
            leader_epoch: -1,
            metadata: String::new(),
            error,
        }
    }
}

/// A topic asked for: by name (v1-9) or id (v10), with its partitions.
type Asked = (String, Uuid, Vec<i32>);
type Answer = Vec<(String, Uuid, Vec<Fetched>)>;

fn fetch_group(
    broker: &Arc<Broker>,
    by_id: bool,
    group_id: &str,
    asked: Option<Vec<Asked>>,
) -> Result<Answer, ErrorCode> {
    let Some(asked) = asked else {
        let all = broker.groups.fetch(group_id, None)?;
        let mut by_topic: BTreeMap<String, Vec<Fetched>> = BTreeMap::new();
        for (topic, partition, offset) in all {
            let Some(o) = offset else { continue };
            by_topic.entry(topic).or_default().push(Fetched {
                partition,
                offset: o.offset,
                leader_epoch: o.leader_epoch,
                metadata: o.metadata,
                error: ErrorCode::None,
            });
        }
        let metadata = broker.metadata();
        return Ok(by_topic
            .into_iter()
            .filter_map(|(topic, partitions)| {
                let id = metadata.topic(&topic).map(|t| t.id);
                // By id, a commit for a topic that no longer exists has no
                // id to show.
                if by_id && id.is_none() {
                    return None;
                }
                Some((topic, id.unwrap_or_default(), partitions))
            })
            .collect());
    };
    let mut out = Vec::with_capacity(asked.len());
    let mut known = Vec::new();
    for (name, id, partitions) in asked {
        let name = if by_id {
            match broker.metadata().topic_by_id(&id).map(|t| t.name.clone()) {
                Some(n) => n,
                None => {
                    let missing = partitions
                        .iter()
                        .map(|&p| Fetched::none(p, ErrorCode::UnknownTopicId))
                        .collect();
                    out.push((name, id, missing));
                    continue;
                }
            }
        } else {
            name
        };
        known.push((name.clone(), partitions.clone()));
        out.push((name, id, Vec::new()));
    }
    let fetched = broker.groups.fetch(group_id, Some(&known))?;
    for (topic, partition, offset) in fetched {
        let f = match offset {
            Some(o) => Fetched {
                partition,
                offset: o.offset,
                leader_epoch: o.leader_epoch,
                metadata: o.metadata,
                error: ErrorCode::None,
            },
            None => Fetched::none(partition, ErrorCode::None),
        };
        if let Some(entry) = out.iter_mut().find(|(n, _, ps)| {
            *n == topic && !ps.iter().any(|x: &Fetched| x.partition == partition)
        }) {
            entry.2.push(f);
        }
    }
    Ok(out)
}

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    request: OffsetFetchRequest,
) -> OffsetFetchResponse {
    if version >= 8 {
        let by_id = version >= 10;
        let groups = request
            .groups
            .into_iter()
            .map(|g| {
                let asked = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name.0, t.topic_id, t.partition_indexes))
                        .collect()
                });
                // v9+: a consumer-protocol member's id and epoch are checked.
                let checked = if version >= 9 {
                    broker.groups.validate_consumer_fetch(
                        &g.group_id.0,
                        g.member_id.as_deref(),
                        g.member_epoch,
                    )
                } else {
                    Ok(())
                };
                let (topics, error) =
                    match checked.and_then(|()| fetch_group(broker, by_id, &g.group_id.0, asked)) {
                        Ok(a) => (a, ErrorCode::None),
                        Err(e) => (Vec::new(), e),
                    };
                OffsetFetchResponseGroup {
                    group_id: g.group_id,
                    error_code: error.code(),
                    topics: topics
                        .into_iter()
                        .map(|(name, id, ps)| OffsetFetchResponseTopics {
                            name: TopicName(if by_id { String::new() } else { name }),
                            topic_id: id,
                            partitions: ps
                                .into_iter()
                                .map(|f| OffsetFetchResponsePartitions {
                                    partition_index: f.partition,
                                    committed_offset: f.offset,
                                    committed_leader_epoch: f.leader_epoch,
                                    metadata: Some(f.metadata),
                                    error_code: f.error.code(),
                                    ..OffsetFetchResponsePartitions::default()
                                })
                                .collect(),
                            ..OffsetFetchResponseTopics::default()
                        })
                        .collect(),
                    ..OffsetFetchResponseGroup::default()
                }
            })
            .collect();
        return OffsetFetchResponse {
            groups,
            ..OffsetFetchResponse::default()
        };
    }
    // v1 cannot ask for all topics: a null there reads as none.
    let asked: Option<Vec<Asked>> = match request.topics {
        Some(ts) => Some(
            ts.into_iter()
                .map(|t| (t.name.0, Uuid::default(), t.partition_indexes))
                .collect(),
        ),
        None if version < 2 => Some(Vec::new()),
        None => None,
    };
    let asked_copy = asked.clone();
    let to_topics = |answer: Answer| -> Vec<OffsetFetchResponseTopic> {
        answer
            .into_iter()
            .map(|(name, _, ps)| OffsetFetchResponseTopic {
                name: TopicName(name),
                partitions: ps
                    .into_iter()
                    .map(|f| OffsetFetchResponsePartition {
                        partition_index: f.partition,
                        committed_offset: f.offset,
                        committed_leader_epoch: f.leader_epoch,
                        metadata: Some(f.metadata),
                        error_code: f.error.code(),
                        ..OffsetFetchResponsePartition::default()
                    })
                    .collect(),
                ..OffsetFetchResponseTopic::default()
            })
            .collect()
    };
    match fetch_group(broker, false, &request.group_id.0, asked) {
        Ok(answer) => OffsetFetchResponse {
            topics: to_topics(answer),
            error_code: ErrorCode::None.code(),
            ..OffsetFetchResponse::default()
        },
        Err(e) if version >= 2 => OffsetFetchResponse {
            error_code: e.code(),
            ..OffsetFetchResponse::default()
        },
        Err(e) => {
            // v1: no top-level code; every partition asked carries it.
            let answer = asked_copy
                .unwrap_or_default()
                .into_iter()
                .map(|(name, id, ps)| {
                    (
                        name,
                        id,
                        ps.into_iter().map(|p| Fetched::none(p, e)).collect(),
                    )
                })
                .collect();
            OffsetFetchResponse {
                topics: to_topics(answer),
                ..OffsetFetchResponse::default()
            }
        }
    }
}
