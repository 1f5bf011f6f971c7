//! The admin APIs over loopback: configs, partitions, cluster, log dirs,
//! leader epochs, each checked for what a user of AdminClient would read.

mod common;

use common::{Client, TestBroker, batch, create_topic, fetch_request, produce, start};
use strata_protocol::messages::create_partitions::request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use strata_protocol::messages::describe_configs::request::DescribeConfigsResource;
use strata_protocol::messages::describe_configs::response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use strata_protocol::messages::describe_log_dirs::request::DescribableLogDirTopic;
use strata_protocol::messages::offset_for_leader_epoch::request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use strata_protocol::messages::offset_for_leader_epoch::response::EpochEndOffset;
use strata_protocol::messages::*;
use strata_protocol::records::{Compression, RecordBatchBuilder};
use strata_protocol::types::{BrokerId, TopicName};
use strata_server::config::TOPIC_KEYS;

/// One record of `len` bytes in an uncompressed batch, so its size on the
/// wire is what max.message.bytes sees.
fn plain_batch(len: usize) -> bytes::Bytes {
    let mut b = RecordBatchBuilder::new(Compression::None);
    b.append(
        strata_server::broker::now_ms(),
        None,
        Some(bytes::Bytes::from(vec![b'x'; len])),
        vec![],
    )
    .unwrap();
    b.build().unwrap().into_bytes()
}

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;

fn resource(kind: i8, name: &str, keys: Option<&[&str]>) -> DescribeConfigsResource {
    DescribeConfigsResource {
        resource_type: kind,
        resource_name: name.into(),
        configuration_keys: keys.map(|k| k.iter().map(|s| s.to_string()).collect()),
        ..DescribeConfigsResource::default()
    }
}

async fn describe_at(
    c: &mut Client,
    version: i16,
    resources: Vec<DescribeConfigsResource>,
    synonyms: bool,
    docs: bool,
) -> Vec<DescribeConfigsResult> {
    let Response::DescribeConfigs(r) = c
        .call(
            version,
            Request::DescribeConfigs(DescribeConfigsRequest {
                resources,
                include_synonyms: synonyms,
                include_documentation: docs,
                ..DescribeConfigsRequest::default()
            }),
        )
        .await
    else {
        panic!("not a DescribeConfigs response")
    };
    r.results
}

/// One topic config as DescribeConfigs v4 shows it, with synonyms.
async fn topic_config(c: &mut Client, topic: &str, key: &str) -> DescribeConfigsResourceResult {
    let mut results = describe_at(
        c,
        4,
        vec![resource(TOPIC, topic, Some(&[key]))],
        true,
        false,
    )
    .await;
    assert_eq!(results[0].error_code, 0, "{:?}", results[0].error_message);
    assert_eq!(results[0].configs.len(), 1);
    results.remove(0).configs.remove(0)
}

fn synonyms(entry: &DescribeConfigsResourceResult) -> Vec<(String, Option<String>, i8)> {
    entry
        .synonyms
        .iter()
        .map(|s| (s.name.clone(), s.value.clone(), s.source))
        .collect()
}

fn syn(name: &str, value: &str, source: i8) -> (String, Option<String>, i8) {
    (name.into(), Some(value.into()), source)
}

type Op<'a> = (&'a str, i8, Option<&'a str>);

fn incremental(
    kind: i8,
    name: &str,
    ops: &[Op<'_>],
) -> incremental_alter_configs::request::AlterConfigsResource {
    use incremental_alter_configs::request::{AlterConfigsResource, AlterableConfig};
    AlterConfigsResource {
        resource_type: kind,
        resource_name: name.into(),
        configs: ops
            .iter()
            .map(|(k, op, v)| AlterableConfig {
                name: k.to_string(),
                config_operation: *op,
                value: v.map(str::to_owned),
                ..AlterableConfig::default()
            })
            .collect(),
        ..AlterConfigsResource::default()
    }
}

/// IncrementalAlterConfigs v1: each resource's (error code, message).
async fn alter_incremental(
    c: &mut Client,
    resources: Vec<incremental_alter_configs::request::AlterConfigsResource>,
    validate_only: bool,
) -> Vec<(i16, Option<String>)> {
    let Response::IncrementalAlterConfigs(r) = c
        .call(
            1,
            Request::IncrementalAlterConfigs(IncrementalAlterConfigsRequest {
                resources,
                validate_only,
                ..IncrementalAlterConfigsRequest::default()
            }),
        )
        .await
    else {
        panic!("not an IncrementalAlterConfigs response")
    };
    r.responses
        .into_iter()
        .map(|r| (r.error_code, r.error_message))
        .collect()
}

async fn set_topic(c: &mut Client, topic: &str, ops: &[Op<'_>]) -> (i16, Option<String>) {
    alter_incremental(c, vec![incremental(TOPIC, topic, ops)], false)
        .await
        .remove(0)
}

/// AlterConfigs v2 of one resource: (error code, message).
async fn alter_legacy(
    c: &mut Client,
    kind: i8,
    name: &str,
    configs: &[(&str, Option<&str>)],
    validate_only: bool,
) -> (i16, Option<String>) {
    use alter_configs::request::{AlterConfigsResource, AlterableConfig};
    let Response::AlterConfigs(r) = c
        .call(
            2,
            Request::AlterConfigs(AlterConfigsRequest {
                resources: vec![AlterConfigsResource {
                    resource_type: kind,
                    resource_name: name.into(),
                    configs: configs
                        .iter()
                        .map(|(k, v)| AlterableConfig {
                            name: k.to_string(),
                            value: v.map(str::to_owned),
                            ..AlterableConfig::default()
                        })
                        .collect(),
                    ..AlterConfigsResource::default()
                }],
                validate_only,
                ..AlterConfigsRequest::default()
            }),
        )
        .await
    else {
        panic!("not an AlterConfigs response")
    };
    let r = &r.responses[0];
    (r.error_code, r.error_message.clone())
}

async fn partition_count(c: &mut Client, topic: &str) -> usize {
    let Response::Metadata(m) = c
        .call(
            12,
            Request::Metadata(MetadataRequest {
                topics: None,
                ..MetadataRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    m.topics
        .iter()
        .find(|t| t.name.as_ref().is_some_and(|n| n.0 == topic))
        .map_or(0, |t| t.partitions.len())
}

#[tokio::test]
async fn describe_configs_lists_every_topic_key_with_value_source_and_synonyms() {
    let b = start(&[("log.retention.hours", "1")]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "cfg", 1).await;
    let results = describe_at(&mut c, 4, vec![resource(TOPIC, "cfg", None)], true, true).await;
    let r = &results[0];
    assert_eq!(
        (r.error_code, r.resource_type, r.resource_name.as_str()),
        (0, TOPIC, "cfg")
    );
    let names: Vec<&str> = r.configs.iter().map(|e| e.name.as_str()).collect();
    let expected: Vec<&str> = TOPIC_KEYS.iter().map(|k| k.name).collect();
    assert_eq!(names, expected, "every key, in the table's order");
    assert!(r.configs.iter().all(|e| !e.read_only && !e.is_sensitive));
    assert!(
        r.configs.iter().all(
            |e| e.documentation.as_deref().is_some_and(|d| !d.is_empty()) && e.config_type != 0
        )
    );

    // From the broker's file: STATIC_BROKER_CONFIG, with what it overrides.
    let retention = r.configs.iter().find(|e| e.name == "retention.ms").unwrap();
    assert_eq!(retention.value.as_deref(), Some("3600000"));
    assert_eq!(retention.config_source, 4);
    assert_eq!(retention.config_type, 5, "LONG");
    assert_eq!(
        synonyms(retention),
        vec![
            syn("log.retention.hours", "1", 4),
            syn("log.retention.hours", "168", 5)
        ]
    );
    // Nobody set it: DEFAULT_CONFIG, the broker default as its synonym.
    let segment = r
        .configs
        .iter()
        .find(|e| e.name == "segment.bytes")
        .unwrap();
    assert_eq!(
        (
            segment.value.as_deref(),
            segment.config_source,
            segment.config_type
        ),
        (Some("1073741824"), 5, 3)
    );
    assert_eq!(
        synonyms(segment),
        vec![syn("log.segment.bytes", "1073741824", 5)]
    );
    // log.roll.ms has no default, so Kafka lists no synonym at all.
    let roll = r.configs.iter().find(|e| e.name == "segment.ms").unwrap();
    assert_eq!(
        (roll.value.as_deref(), roll.config_source),
        (Some("604800000"), 5)
    );
    assert!(roll.synonyms.is_empty());
    let policy = r
        .configs
        .iter()
        .find(|e| e.name == "cleanup.policy")
        .unwrap();
    assert_eq!(
        (policy.value.as_deref(), policy.config_type),
        (Some("delete"), 7)
    );

    // Without synonyms and documentation; filtered by key (unknown keys vanish).
    let results = describe_at(
        &mut c,
        4,
        vec![resource(
            TOPIC,
            "cfg",
            Some(&["retention.ms", "no.such.key"]),
        )],
        false,
        false,
    )
    .await;
    let configs = &results[0].configs;
    assert_eq!(configs.len(), 1);
    assert_eq!(configs[0].name, "retention.ms");
    assert!(configs[0].synonyms.is_empty());
    assert_eq!(configs[0].documentation, None);
}

#[tokio::test]
async fn describe_configs_errors_and_the_broker_resource() {
    let b = start(&[("num.partitions", "3")]).await;
    let mut c = Client::connect(&b).await;
    let results = describe_at(
        &mut c,
        4,
        vec![
            resource(TOPIC, "missing", None),
            resource(TOPIC, "bad name", None),
            resource(BROKER, "2", None),
            resource(BROKER, "one", None),
            resource(99, "x", None),
            resource(BROKER, "", None),
            resource(BROKER, "1", None),
        ],
        true,
        false,
    )
    .await;
    let codes: Vec<i16> = results.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, vec![3, 17, 42, 42, 42, 0, 0]);
    assert_eq!(
        results[0].error_message, None,
        "Kafka sends no message here"
    );
    assert_eq!(
        results[2].error_message.as_deref(),
        Some("Unexpected broker id, expected 1 or empty string, but received 2")
    );
    assert_eq!(
        results[3].error_message.as_deref(),
        Some("Broker id must be an integer, but it is: one")
    );
    assert!(
        results
            .iter()
            .all(|r| r.error_code == 0 || r.configs.is_empty())
    );
    assert!(results[5].configs.is_empty(), "no dynamic cluster defaults");

    let broker = &results[6].configs;
    let find = |name: &str| broker.iter().find(|e| e.name == name).unwrap();
    let partitions = find("num.partitions");
    assert_eq!(
        (
            partitions.value.as_deref(),
            partitions.config_source,
            partitions.read_only
        ),
        (Some("3"), 4, true)
    );
    assert_eq!(
        synonyms(partitions),
        vec![syn("num.partitions", "3", 4), syn("num.partitions", "1", 5)]
    );
    let segment = find("log.segment.bytes");
    assert_eq!(
        (segment.value.as_deref(), segment.config_source),
        (Some("1073741824"), 5)
    );
    assert_eq!(
        find("log.retention.ms").value,
        None,
        "no default, as in Kafka"
    );
    assert_eq!(find("node.id").value.as_deref(), Some("1"));
    let dirs = find("log.dirs");
    assert_eq!(
        (dirs.value.as_deref(), dirs.config_source),
        (Some(b.dir.path().to_str().unwrap()), 4)
    );
}

#[tokio::test]
async fn incremental_set_shows_as_a_topic_config_survives_a_restart_and_delete_restores_the_default()
 {
    let mut b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "alter", 2).await;
    assert_eq!(
        set_topic(&mut c, "alter", &[("retention.ms", SET, Some("1000"))]).await,
        (0, None)
    );
    let e = topic_config(&mut c, "alter", "retention.ms").await;
    assert_eq!((e.value.as_deref(), e.config_source), (Some("1000"), 1));
    assert_eq!(synonyms(&e), vec![syn("retention.ms", "1000", 1)]);

    b.restart().await;
    let mut c = Client::connect(&b).await;
    let e = topic_config(&mut c, "alter", "retention.ms").await;
    assert_eq!(
        (e.value.as_deref(), e.config_source),
        (Some("1000"), 1),
        "kept across a restart"
    );

    assert_eq!(
        set_topic(&mut c, "alter", &[("retention.ms", DELETE, None)]).await,
        (0, None)
    );
    let e = topic_config(&mut c, "alter", "retention.ms").await;
    assert_eq!(
        (e.value.as_deref(), e.config_source),
        (Some("604800000"), 5)
    );
    // Deleting a key that was never set is not an error.
    assert_eq!(
        set_topic(&mut c, "alter", &[("segment.ms", DELETE, None)]).await,
        (0, None)
    );
}

#[tokio::test]
async fn an_altered_config_applies_to_the_running_partitions() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "small", 1).await;
    let ok = produce(&mut c, "small", 0, plain_batch(4000), -1)
        .await
        .unwrap();
    assert_eq!(ok.responses[0].partition_responses[0].error_code, 0);
    assert_eq!(
        set_topic(&mut c, "small", &[("max.message.bytes", SET, Some("1000"))]).await,
        (0, None)
    );
    let refused = produce(&mut c, "small", 0, plain_batch(4000), -1)
        .await
        .unwrap();
    assert_eq!(
        refused.responses[0].partition_responses[0].error_code, 10,
        "MESSAGE_TOO_LARGE"
    );
}

#[tokio::test]
async fn incremental_alter_configs_errors_are_kafkas_and_change_nothing() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "t", 1).await;

    let (code, message) = set_topic(&mut c, "missing", &[("retention.ms", SET, Some("1"))]).await;
    assert_eq!(
        (code, message.as_deref()),
        (3, Some("The topic 'missing' does not exist."))
    );
    let (code, message) = set_topic(&mut c, "t", &[("retention.ms", SET, Some("soon"))]).await;
    assert_eq!(code, 40, "INVALID_CONFIG");
    assert!(message.unwrap().contains("retention.ms"));
    assert_eq!(
        set_topic(&mut c, "t", &[("no.such.key", SET, Some("1"))])
            .await
            .0,
        40
    );
    let (code, message) = set_topic(&mut c, "t", &[("retention.ms", APPEND, Some("1"))]).await;
    assert_eq!(
        (code, message.as_deref()),
        (
            40,
            Some("Can't APPEND to key retention.ms because its type is not LIST.")
        )
    );
    // One bad key fails the whole resource.
    let (code, _) = set_topic(
        &mut c,
        "t",
        &[
            ("segment.ms", SET, Some("5000")),
            ("segment.bytes", SET, Some("x")),
        ],
    )
    .await;
    assert_eq!(code, 40);
    let (code, message) = set_topic(&mut c, "t", &[("retention.ms", SET, None)]).await;
    assert_eq!(
        (code, message.as_deref()),
        (42, Some("Null value not supported for : retention.ms"))
    );
    let (code, message) = set_topic(
        &mut c,
        "t",
        &[
            ("retention.ms", SET, Some("1")),
            ("retention.ms", DELETE, None),
        ],
    )
    .await;
    assert_eq!(
        (code, message.as_deref()),
        (42, Some("Error due to duplicate config keys"))
    );
    assert_eq!(
        set_topic(&mut c, "t", &[("retention.ms", 9, Some("1"))])
            .await
            .0,
        42
    );
    assert_eq!(
        set_topic(&mut c, "", &[("retention.ms", SET, Some("1"))])
            .await
            .0,
        42
    );
    assert_eq!(
        set_topic(&mut c, "bad name", &[("retention.ms", SET, Some("1"))])
            .await
            .0,
        17
    );

    let twice = alter_incremental(
        &mut c,
        vec![
            incremental(TOPIC, "t", &[("retention.ms", SET, Some("1"))]),
            incremental(TOPIC, "t", &[("segment.ms", SET, Some("1"))]),
        ],
        false,
    )
    .await;
    assert_eq!(
        twice,
        vec![(42, Some("Each resource must appear at most once.".into())); 2]
    );

    // Brokers: not ours, then ours (read only here).
    let r = alter_incremental(
        &mut c,
        vec![
            incremental(BROKER, "7", &[("log.retention.ms", SET, Some("1"))]),
            incremental(BROKER, "1", &[("log.retention.ms", SET, Some("1"))]),
            incremental(BROKER, "", &[("log.retention.ms", SET, Some("1"))]),
        ],
        false,
    )
    .await;
    assert_eq!(
        r[0],
        (
            42,
            Some("Unexpected broker id, expected 1, but received 7".into())
        )
    );
    assert_eq!(r[1].0, 42);
    assert!(
        r[1].1
            .as_deref()
            .unwrap()
            .starts_with("Cannot update these configs dynamically: log.retention.ms")
    );
    assert_eq!(r[2].0, 42);

    // validate_only answers as a real change would, and changes nothing.
    let r = alter_incremental(
        &mut c,
        vec![incremental(
            TOPIC,
            "t",
            &[("retention.ms", SET, Some("1234"))],
        )],
        true,
    )
    .await;
    assert_eq!(r, vec![(0, None)]);

    let all = describe_at(&mut c, 4, vec![resource(TOPIC, "t", None)], false, false).await;
    assert!(
        all[0].configs.iter().all(|e| e.config_source == 5),
        "nothing was set: {:?}",
        all[0]
            .configs
            .iter()
            .filter(|e| e.config_source != 5)
            .collect::<Vec<_>>()
    );

    // APPEND and SUBTRACT on a LIST start from the default.
    assert_eq!(
        set_topic(&mut c, "t", &[("cleanup.policy", APPEND, Some("compact"))]).await,
        (0, None)
    );
    let e = topic_config(&mut c, "t", "cleanup.policy").await;
    assert_eq!(
        (e.value.as_deref(), e.config_source),
        (Some("delete,compact"), 1)
    );
    assert_eq!(
        set_topic(&mut c, "t", &[("cleanup.policy", 3, Some("delete"))]).await,
        (0, None)
    );
    let e = topic_config(&mut c, "t", "cleanup.policy").await;
    assert_eq!(e.value.as_deref(), Some("compact"));
}

#[tokio::test]
async fn alter_configs_replaces_the_whole_set() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "t", 1).await;
    set_topic(
        &mut c,
        "t",
        &[
            ("retention.ms", SET, Some("1000")),
            ("segment.ms", SET, Some("5000")),
        ],
    )
    .await;
    assert_eq!(
        alter_legacy(
            &mut c,
            TOPIC,
            "t",
            &[("cleanup.policy", Some("compact"))],
            false
        )
        .await,
        (0, None)
    );
    let e = topic_config(&mut c, "t", "cleanup.policy").await;
    assert_eq!((e.value.as_deref(), e.config_source), (Some("compact"), 1));
    let e = topic_config(&mut c, "t", "retention.ms").await;
    assert_eq!(
        (e.value.as_deref(), e.config_source),
        (Some("604800000"), 5),
        "left out: back to the default"
    );

    assert_eq!(
        alter_legacy(
            &mut c,
            TOPIC,
            "missing",
            &[("retention.ms", Some("1"))],
            false
        )
        .await
        .0,
        3
    );
    assert_eq!(
        alter_legacy(&mut c, TOPIC, "t", &[("retention.ms", Some("soon"))], false)
            .await
            .0,
        40
    );
    assert_eq!(
        alter_legacy(&mut c, TOPIC, "t", &[("retention.ms", None)], false)
            .await
            .0,
        42
    );
    assert_eq!(
        alter_legacy(&mut c, BROKER, "1", &[("num.partitions", Some("2"))], false)
            .await
            .0,
        42
    );
    assert_eq!(
        alter_legacy(&mut c, 8, "1", &[("kafka", Some("DEBUG"))], false).await,
        (42, Some("Unknown resource type 8".into()))
    );
    assert_eq!(alter_legacy(&mut c, TOPIC, "t", &[], true).await, (0, None));
    let e = topic_config(&mut c, "t", "cleanup.policy").await;
    assert_eq!(
        e.value.as_deref(),
        Some("compact"),
        "validate_only changed nothing"
    );
    // An empty set clears every topic config.
    assert_eq!(
        alter_legacy(&mut c, TOPIC, "t", &[], false).await,
        (0, None)
    );
    let e = topic_config(&mut c, "t", "cleanup.policy").await;
    assert_eq!((e.value.as_deref(), e.config_source), (Some("delete"), 5));
}

/// A topic, its new partition count, and each new partition's replicas.
type NewPartitions<'a> = (&'a str, i32, Option<Vec<Vec<i32>>>);

fn partitions_request(topics: Vec<NewPartitions<'_>>, validate_only: bool) -> Request {
    Request::CreatePartitions(CreatePartitionsRequest {
        topics: topics
            .into_iter()
            .map(|(name, count, assignments)| CreatePartitionsTopic {
                name: TopicName(name.into()),
                count,
                assignments: assignments.map(|list| {
                    list.into_iter()
                        .map(|ids| CreatePartitionsAssignment {
                            broker_ids: ids.into_iter().map(BrokerId).collect(),
                            ..CreatePartitionsAssignment::default()
                        })
                        .collect()
                }),
                ..CreatePartitionsTopic::default()
            })
            .collect(),
        timeout_ms: 5000,
        validate_only,
        ..CreatePartitionsRequest::default()
    })
}

async fn create_partitions(
    c: &mut Client,
    topics: Vec<NewPartitions<'_>>,
    validate_only: bool,
) -> Vec<(String, i16, Option<String>)> {
    let Response::CreatePartitions(r) = c.call(3, partitions_request(topics, validate_only)).await
    else {
        panic!("not a CreatePartitions response")
    };
    r.results
        .into_iter()
        .map(|r| (r.name.0, r.error_code, r.error_message))
        .collect()
}

#[tokio::test]
async fn create_partitions_adds_partitions_that_take_writes_and_survive_a_restart() {
    let mut b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "grow", 1).await;
    set_topic(&mut c, "grow", &[("max.message.bytes", SET, Some("1000"))]).await;
    assert_eq!(
        create_partitions(&mut c, vec![("grow", 3, None)], false).await,
        vec![("grow".into(), 0, None)]
    );
    assert_eq!(partition_count(&mut c, "grow").await, 3);
    let ok = produce(&mut c, "grow", 2, batch(&["new"]), -1)
        .await
        .unwrap();
    assert_eq!(ok.responses[0].partition_responses[0].error_code, 0);
    // The new partition has the topic's config.
    let refused = produce(&mut c, "grow", 2, plain_batch(4000), -1)
        .await
        .unwrap();
    assert_eq!(refused.responses[0].partition_responses[0].error_code, 10);

    // With an assignment naming this broker.
    assert_eq!(
        create_partitions(&mut c, vec![("grow", 4, Some(vec![vec![1]]))], false).await[0].1,
        0
    );
    b.restart().await;
    let mut c = Client::connect(&b).await;
    assert_eq!(partition_count(&mut c, "grow").await, 4);
}

#[tokio::test]
async fn create_partitions_errors_are_kafkas() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "p", 2).await;
    let r = create_partitions(&mut c, vec![("p", 2, None), ("missing", 3, None)], false).await;
    assert_eq!(
        r,
        vec![
            (
                "p".into(),
                37,
                Some("Topic already has 2 partition(s).".into())
            ),
            ("missing".into(), 3, None),
        ]
    );
    let r = create_partitions(&mut c, vec![("p", 1, None)], false).await;
    assert_eq!(
        r[0].2.as_deref(),
        Some("The topic p currently has 2 partition(s); 1 would not be an increase.")
    );
    assert_eq!(r[0].1, 37);
    let r = create_partitions(&mut c, vec![("p", 3, Some(vec![vec![5]]))], false).await;
    assert_eq!(
        (r[0].1, r[0].2.as_deref()),
        (
            39,
            Some(
                "The manual partition assignment includes broker 5, but no such broker is registered."
            )
        )
    );
    let r = create_partitions(&mut c, vec![("p", 4, Some(vec![vec![1]]))], false).await;
    assert_eq!(
        (r[0].1, r[0].2.as_deref()),
        (
            39,
            Some(
                "Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified."
            )
        )
    );
    let r = create_partitions(&mut c, vec![("p", 3, Some(vec![vec![1, 1]]))], false).await;
    assert_eq!(r[0].1, 39);
    let r = create_partitions(&mut c, vec![("p", 3, None), ("p", 4, None)], false).await;
    assert_eq!(
        r,
        vec![("p".into(), 42, Some("Duplicate topic name.".into()))]
    );
    // validate_only: answered as if done, nothing done.
    let r = create_partitions(&mut c, vec![("p", 5, None)], true).await;
    assert_eq!(r[0].1, 0);
    assert_eq!(partition_count(&mut c, "p").await, 2);
}

#[tokio::test]
async fn describe_cluster_names_this_broker_at_every_version() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    let Response::Metadata(m) = c
        .call(12, Request::Metadata(MetadataRequest::default()))
        .await
    else {
        panic!()
    };
    for version in 0..=2 {
        let Response::DescribeCluster(r) = c
            .call(
                version,
                Request::DescribeCluster(DescribeClusterRequest::default()),
            )
            .await
        else {
            panic!()
        };
        assert_eq!(r.error_code, 0);
        assert_eq!(Some(r.cluster_id.clone()), m.cluster_id);
        assert_eq!(r.controller_id, BrokerId(1));
        assert_eq!(r.brokers.len(), 1);
        let broker = &r.brokers[0];
        assert_eq!(
            (
                broker.broker_id,
                broker.host.as_str(),
                broker.port,
                broker.is_fenced
            ),
            (BrokerId(1), "127.0.0.1", i32::from(b.addr.port()), false)
        );
        assert_eq!(r.cluster_authorized_operations, i32::MIN, "not asked");
        if version >= 1 {
            assert_eq!(r.endpoint_type, 1);
        }
    }
    let ask = |endpoint_type: i8, ops: bool| {
        Request::DescribeCluster(DescribeClusterRequest {
            endpoint_type,
            include_cluster_authorized_operations: ops,
            ..DescribeClusterRequest::default()
        })
    };
    let Response::DescribeCluster(r) = c.call(2, ask(1, true)).await else {
        panic!()
    };
    assert_eq!(
        r.cluster_authorized_operations, 8096,
        "every CLUSTER operation"
    );
    let Response::DescribeCluster(r) = c.call(2, ask(2, false)).await else {
        panic!()
    };
    assert_eq!(
        r.error_code, 114,
        "MISMATCHED_ENDPOINT_TYPE: a broker, not a controller"
    );
    let Response::DescribeCluster(r) = c.call(1, ask(7, false)).await else {
        panic!()
    };
    assert_eq!(r.error_code, 115, "UNSUPPORTED_ENDPOINT_TYPE");
}

#[tokio::test]
async fn describe_log_dirs_reports_sizes_and_space_of_the_data_dir() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "sized", 2).await;
    create_topic(&mut c, "other", 1).await;
    produce(&mut c, "sized", 0, batch(&["a", "b", "c"]), -1)
        .await
        .unwrap();
    for version in 1..=5 {
        let Response::DescribeLogDirs(r) = c
            .call(
                version,
                Request::DescribeLogDirs(DescribeLogDirsRequest {
                    topics: None,
                    ..DescribeLogDirsRequest::default()
                }),
            )
            .await
        else {
            panic!()
        };
        assert_eq!(r.error_code, 0);
        assert_eq!(r.results.len(), 1);
        let dir = &r.results[0];
        assert_eq!(dir.error_code, 0);
        assert_eq!(std::path::Path::new(&dir.log_dir), b.dir.path());
        let topics: Vec<&str> = dir.topics.iter().map(|t| t.name.0.as_str()).collect();
        assert_eq!(topics, vec!["other", "sized"]);
        let sized = &dir.topics[1].partitions;
        assert_eq!(sized.len(), 2);
        assert!(sized[0].partition_size > 0);
        assert_eq!(sized[1].partition_size, 0);
        assert!(sized.iter().all(|p| p.offset_lag == 0 && !p.is_future_key));
        if version >= 4 {
            assert!(
                dir.total_bytes > 0 && dir.usable_bytes >= 0 && dir.usable_bytes <= dir.total_bytes
            );
        }
    }
    let Response::DescribeLogDirs(r) = c
        .call(
            4,
            Request::DescribeLogDirs(DescribeLogDirsRequest {
                topics: Some(vec![DescribableLogDirTopic {
                    topic: TopicName("sized".into()),
                    partitions: vec![1],
                    ..DescribableLogDirTopic::default()
                }]),
                ..DescribeLogDirsRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    let dir = &r.results[0];
    let sized = dir.topics.iter().find(|t| t.name.0 == "sized").unwrap();
    assert_eq!(
        sized
            .partitions
            .iter()
            .map(|p| p.partition_index)
            .collect::<Vec<_>>(),
        vec![1]
    );
    let other = dir.topics.iter().find(|t| t.name.0 == "other").unwrap();
    assert!(
        other.partitions.is_empty(),
        "listed, as Kafka does, without partitions"
    );
}

async fn epoch_end(
    c: &mut Client,
    version: i16,
    topic: &str,
    partition: i32,
    current: i32,
    asked: i32,
) -> EpochEndOffset {
    let Response::OffsetForLeaderEpoch(mut r) = c
        .call(
            version,
            Request::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest {
                replica_id: BrokerId(-1),
                topics: vec![OffsetForLeaderTopic {
                    topic: TopicName(topic.into()),
                    partitions: vec![OffsetForLeaderPartition {
                        partition,
                        current_leader_epoch: current,
                        leader_epoch: asked,
                        ..OffsetForLeaderPartition::default()
                    }],
                    ..OffsetForLeaderTopic::default()
                }],
                ..OffsetForLeaderEpochRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    r.topics.remove(0).partitions.remove(0)
}

fn outcome(e: &EpochEndOffset) -> (i16, i32, i64) {
    (e.error_code, e.leader_epoch, e.end_offset)
}

#[tokio::test]
async fn offset_for_leader_epoch_answers_epoch_zero_with_the_log_end() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "e", 1).await;
    assert_eq!(
        outcome(&epoch_end(&mut c, 4, "e", 0, 0, 0).await),
        (0, -1, -1),
        "nothing written: no epoch known"
    );
    produce(&mut c, "e", 0, batch(&["a", "b", "c"]), -1)
        .await
        .unwrap();
    for version in 2..=4 {
        assert_eq!(
            outcome(&epoch_end(&mut c, version, "e", 0, 0, 0).await),
            (0, 0, 3)
        );
        assert_eq!(
            outcome(&epoch_end(&mut c, version, "e", 0, -1, 0).await),
            (0, 0, 3)
        );
    }
    assert_eq!(
        outcome(&epoch_end(&mut c, 4, "e", 0, 0, 5).await),
        (0, -1, -1),
        "a later epoch is unknown"
    );
    assert_eq!(
        outcome(&epoch_end(&mut c, 4, "e", 0, 1, 0).await).0,
        75,
        "UNKNOWN_LEADER_EPOCH"
    );
    assert_eq!(
        outcome(&epoch_end(&mut c, 4, "e", 0, -2, 0).await).0,
        74,
        "FENCED_LEADER_EPOCH"
    );
    assert_eq!(outcome(&epoch_end(&mut c, 4, "e", 1, 0, 0).await).0, 3);
    assert_eq!(outcome(&epoch_end(&mut c, 4, "nope", 0, 0, 0).await).0, 3);
}

#[tokio::test]
async fn every_new_api_is_advertised_at_the_versions_it_answers() {
    let b: TestBroker = start(&[]).await;
    let mut c = Client::connect(&b).await;
    let Response::ApiVersions(r) = c
        .call(3, Request::ApiVersions(ApiVersionsRequest::default()))
        .await
    else {
        panic!()
    };
    let range = |api: ApiKey| {
        r.api_keys
            .iter()
            .find(|k| k.api_key == api.key())
            .map(|k| (k.min_version, k.max_version))
    };
    assert_eq!(range(ApiKey::DescribeConfigs), Some((1, 4)));
    assert_eq!(range(ApiKey::AlterConfigs), Some((0, 2)));
    assert_eq!(range(ApiKey::IncrementalAlterConfigs), Some((0, 1)));
    assert_eq!(range(ApiKey::CreatePartitions), Some((0, 3)));
    assert_eq!(range(ApiKey::DescribeCluster), Some((0, 2)));
    assert_eq!(range(ApiKey::DescribeLogDirs), Some((1, 5)));
    assert_eq!(range(ApiKey::OffsetForLeaderEpoch), Some((2, 4)));

    // Each version decodes and answers.
    create_topic(&mut c, "v", 1).await;
    for version in 1..=4 {
        // Documentation can be asked for from v3.
        let docs = version >= 3;
        let r = describe_at(
            &mut c,
            version,
            vec![resource(TOPIC, "v", None)],
            true,
            docs,
        )
        .await;
        assert_eq!(r[0].error_code, 0);
        assert_eq!(r[0].configs.len(), TOPIC_KEYS.len());
    }
    for version in 0..=1 {
        let Response::IncrementalAlterConfigs(r) = c
            .call(
                version,
                Request::IncrementalAlterConfigs(IncrementalAlterConfigsRequest {
                    resources: vec![incremental(TOPIC, "v", &[("retention.ms", SET, Some("5"))])],
                    ..IncrementalAlterConfigsRequest::default()
                }),
            )
            .await
        else {
            panic!()
        };
        assert_eq!(r.responses[0].error_code, 0);
    }
    for version in 0..=2 {
        let Response::AlterConfigs(r) = c
            .call(
                version,
                Request::AlterConfigs(AlterConfigsRequest {
                    resources: vec![alter_configs::request::AlterConfigsResource {
                        resource_type: TOPIC,
                        resource_name: "v".into(),
                        configs: vec![],
                        ..Default::default()
                    }],
                    ..AlterConfigsRequest::default()
                }),
            )
            .await
        else {
            panic!()
        };
        assert_eq!(r.responses[0].error_code, 0);
    }
    for version in 0..=3 {
        let Response::CreatePartitions(r) = c
            .call(
                version,
                partitions_request(vec![("v", 2 + i32::from(version), None)], false),
            )
            .await
        else {
            panic!()
        };
        assert_eq!(
            r.results[0].error_code, 0,
            "{:?}",
            r.results[0].error_message
        );
    }
    assert_eq!(partition_count(&mut c, "v").await, 5);
}

#[tokio::test]
async fn delete_records_moves_the_low_watermark_and_refuses_offsets_past_the_high_watermark() {
    use strata_protocol::messages::delete_records::request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    let mut b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "trim", 1).await;
    for _ in 0..5 {
        produce(&mut c, "trim", 0, batch(&["a", "b"]), -1)
            .await
            .unwrap();
    }
    let ask = |offset: i64| {
        Request::DeleteRecords(DeleteRecordsRequest {
            topics: vec![DeleteRecordsTopic {
                name: TopicName("trim".into()),
                partitions: vec![DeleteRecordsPartition {
                    partition_index: 0,
                    offset,
                    ..DeleteRecordsPartition::default()
                }],
                ..DeleteRecordsTopic::default()
            }],
            timeout_ms: 1000,
            ..DeleteRecordsRequest::default()
        })
    };
    let Response::DeleteRecords(r) = c.call(2, ask(11)).await else {
        panic!()
    };
    assert_eq!(
        r.topics[0].partitions[0].error_code, 1,
        "OFFSET_OUT_OF_RANGE past the high watermark"
    );
    let Response::DeleteRecords(r) = c.call(2, ask(4)).await else {
        panic!()
    };
    let p = &r.topics[0].partitions[0];
    assert_eq!((p.error_code, p.low_watermark), (0, 4));
    let Response::DeleteRecords(r) = c.call(2, ask(-1)).await else {
        panic!()
    };
    assert_eq!(
        r.topics[0].partitions[0].low_watermark, 10,
        "-1: the high watermark"
    );
    b.restart().await;
    let mut c = Client::connect(&b).await;
    let Response::Fetch(f) = c.call(12, fetch_request("trim", 0, 9, 0, 0)).await else {
        panic!()
    };
    assert_eq!(
        f.responses[0].partitions[0].error_code, 1,
        "deleted records stay deleted"
    );
    assert_eq!(f.responses[0].partitions[0].log_start_offset, 10);
}
