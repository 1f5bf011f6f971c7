//! The broker over loopback, driven with our own codec as the client.

mod common;

use bytes::BytesMut;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

use strata_protocol::frame;
use strata_protocol::messages::fetch::request::FetchPartition;
use strata_protocol::messages::list_offsets::request::{ListOffsetsPartition, ListOffsetsTopic};
use strata_protocol::messages::metadata::request::MetadataRequestTopic;
use strata_protocol::messages::*;
use strata_protocol::types::TopicName;
use strata_server::broker::Broker;
use strata_server::config::BrokerConfig;

use common::*;

#[tokio::test]
async fn api_versions_lists_what_is_implemented_and_answers_unknown_versions_at_v0() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    let Response::ApiVersions(r) = c
        .call(3, Request::ApiVersions(ApiVersionsRequest::default()))
        .await
    else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    let produce = r.api_keys.iter().find(|k| k.api_key == 0).unwrap();
    assert_eq!((produce.min_version, produce.max_version), (0, 13));
    assert!(
        r.api_keys
            .iter()
            .all(|k| strata_server::dispatch::is_supported(k.api_key, k.max_version))
    );
    assert!(
        !r.api_keys
            .iter()
            .any(|k| k.api_key == ApiKey::ShareGroupHeartbeat.key()),
        "not implemented, not advertised"
    );
    // KIP-848: both stable versions.
    let cgh = r
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::ConsumerGroupHeartbeat.key())
        .unwrap();
    assert_eq!((cgh.min_version, cgh.max_version), (0, 1));

    // A version from the future: v0 error response with our ranges.
    let mut raw = BytesMut::new();
    use bytes::BufMut;
    raw.put_i32(10);
    raw.put_i16(18);
    raw.put_i16(99);
    raw.put_i32(42);
    raw.put_i16(-1);
    c.stream.write_all(&raw).await.unwrap();
    let frame = c.read_frame().await.unwrap();
    let (h, r) = frame::decode_response(ApiKey::ApiVersions, 0, frame).unwrap();
    assert_eq!(h.correlation_id, 42);
    let Response::ApiVersions(r) = r else {
        panic!()
    };
    assert_eq!(r.error_code, 35);
    assert!(!r.api_keys.is_empty());
}

#[tokio::test]
async fn produce_then_fetch_returns_the_records_and_empty_partitions_carry_empty_sets() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    let created = create_topic(&mut c, "orders", 2).await;
    assert_eq!(created.topics[0].error_code, 0);
    assert!(!created.topics[0].topic_id.is_zero());
    let r = produce(&mut c, "orders", 1, batch(&["a", "b", "c"]), -1)
        .await
        .unwrap();
    let p = &r.responses[0].partition_responses[0];
    assert_eq!((p.error_code, p.base_offset), (0, 0));
    let r = produce(&mut c, "orders", 1, batch(&["d"]), 1)
        .await
        .unwrap();
    assert_eq!(r.responses[0].partition_responses[0].base_offset, 3);

    let Response::Fetch(f) = c.call(12, fetch_request("orders", 1, 0, 0, 0)).await else {
        panic!()
    };
    let part = &f.responses[0].partitions[0];
    assert_eq!(
        (part.error_code, part.high_watermark, part.log_start_offset),
        (0, 4, 0)
    );
    assert_eq!(
        values_of(part.records.as_ref().unwrap()),
        vec!["a", "b", "c", "d"]
    );
    // From the middle of a batch: the whole batch comes back.
    let Response::Fetch(f) = c.call(12, fetch_request("orders", 1, 1, 0, 0)).await else {
        panic!()
    };
    assert_eq!(
        values_of(f.responses[0].partitions[0].records.as_ref().unwrap()),
        vec!["a", "b", "c", "d"]
    );

    let Response::Fetch(f) = c.call(12, fetch_request("orders", 0, 0, 0, 0)).await else {
        panic!()
    };
    let empty = &f.responses[0].partitions[0];
    assert_eq!(empty.records.as_deref(), Some(&[][..]), "empty, not null");
    assert_eq!(empty.high_watermark, 0);

    let Response::Fetch(f) = c.call(12, fetch_request("orders", 1, 99, 0, 0)).await else {
        panic!()
    };
    assert_eq!(
        f.responses[0].partitions[0].error_code, 1,
        "OFFSET_OUT_OF_RANGE"
    );
}

#[tokio::test]
async fn fetch_waits_for_data_and_wakes_when_it_arrives() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "waits", 1).await;
    let mut producer = Client::connect(&b).await;
    let fetched =
        tokio::spawn(async move { c.call(12, fetch_request("waits", 0, 0, 30_000, 1)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !fetched.is_finished(),
        "min_bytes=1 and nothing there: the fetch waits"
    );
    produce(&mut producer, "waits", 0, batch(&["late"]), -1)
        .await
        .unwrap();
    let Response::Fetch(f) = tokio::time::timeout(Duration::from_secs(10), fetched)
        .await
        .unwrap()
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        values_of(f.responses[0].partitions[0].records.as_ref().unwrap()),
        vec!["late"]
    );
}

/// A consumer at the high watermark: with min_bytes 0 it is answered at
/// once, with min_bytes 1 after max_wait, both with no records and the
/// partition's high watermark; one partition behind makes the fetch answer
/// at once with its records.
#[tokio::test]
async fn fetch_at_the_high_watermark_answers_empty_at_once_or_after_max_wait() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "tail", 2).await;
    produce(&mut c, "tail", 0, batch(&["a", "b"]), -1)
        .await
        .unwrap();
    let empty_at_hw = |response: Response| {
        let Response::Fetch(f) = response else {
            panic!("{response:?}")
        };
        let p = &f.responses[0].partitions[0];
        assert_eq!((p.error_code, p.high_watermark), (0, 2));
        assert!(p.records.as_ref().is_none_or(|r| r.is_empty()));
    };
    empty_at_hw(c.call(12, fetch_request("tail", 0, 2, 30_000, 0)).await);

    let mut waiting = Client::connect(&b).await;
    let fetched =
        tokio::spawn(async move { waiting.call(12, fetch_request("tail", 0, 2, 600, 1)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !fetched.is_finished(),
        "min_bytes=1 at the high watermark waits"
    );
    empty_at_hw(
        tokio::time::timeout(Duration::from_secs(10), fetched)
            .await
            .unwrap()
            .unwrap(),
    );

    // Partition 0 at its high watermark, partition 1 behind.
    produce(&mut c, "tail", 1, batch(&["c"]), -1).await.unwrap();
    let Request::Fetch(mut request) = fetch_request("tail", 0, 2, 30_000, 1) else {
        unreachable!()
    };
    let mut behind = request.topics[0].partitions[0].clone();
    behind.partition = 1;
    behind.fetch_offset = 0;
    request.topics[0].partitions.push(behind);
    let Response::Fetch(f) =
        tokio::time::timeout(Duration::from_secs(10), c.call(12, Request::Fetch(request)))
            .await
            .expect("answered without waiting for max_wait")
    else {
        panic!()
    };
    let p1 = &f.responses[0].partitions[1];
    assert_eq!(values_of(p1.records.as_ref().unwrap()), vec!["c"]);
}

#[tokio::test]
async fn acks_zero_gets_no_answer_but_the_records_are_written() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "fire", 1).await;
    produce(&mut c, "fire", 0, batch(&["x"]), 0).await;
    // The next answer on this connection is the Metadata one, not a Produce.
    let Response::Metadata(_) = c
        .call(12, Request::Metadata(MetadataRequest::default()))
        .await
    else {
        panic!()
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let Response::Fetch(f) = c.call(12, fetch_request("fire", 0, 0, 1000, 1)).await else {
        panic!()
    };
    assert_eq!(
        values_of(f.responses[0].partitions[0].records.as_ref().unwrap()),
        vec!["x"]
    );
}

#[tokio::test]
async fn list_offsets_finds_earliest_latest_max_and_by_time() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "times", 1).await;
    produce(&mut c, "times", 0, batch(&["a", "b"]), -1)
        .await
        .unwrap();
    let ask = |ts: i64| {
        Request::ListOffsets(ListOffsetsRequest {
            replica_id: strata_protocol::types::BrokerId(-1),
            topics: vec![ListOffsetsTopic {
                name: TopicName("times".into()),
                partitions: vec![ListOffsetsPartition {
                    partition_index: 0,
                    timestamp: ts,
                    ..ListOffsetsPartition::default()
                }],
                ..ListOffsetsTopic::default()
            }],
            ..ListOffsetsRequest::default()
        })
    };
    let mut offsets = Vec::new();
    for ts in [-2, -1, -3, 0, i64::MAX - 1] {
        let Response::ListOffsets(r) = c.call(10, ask(ts)).await else {
            panic!()
        };
        let p = &r.topics[0].partitions[0];
        assert_eq!(p.error_code, 0);
        offsets.push(p.offset);
    }
    assert_eq!(offsets, vec![0, 2, 1, 0, -1]);
}

#[tokio::test]
async fn metadata_tells_null_from_empty_and_auto_creates() {
    let b = start(&[("num.partitions", "3")]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "known", 1).await;
    let Response::Metadata(all) = c
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
    assert_eq!(all.topics.len(), 1);
    assert_eq!(all.brokers[0].port, i32::from(b.addr.port()));
    let Response::Metadata(none) = c
        .call(
            12,
            Request::Metadata(MetadataRequest {
                topics: Some(vec![]),
                ..MetadataRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert!(none.topics.is_empty());
    let wanted = MetadataRequestTopic {
        name: Some(TopicName("fresh".into())),
        ..MetadataRequestTopic::default()
    };
    let Response::Metadata(r) = c
        .call(
            12,
            Request::Metadata(MetadataRequest {
                topics: Some(vec![wanted]),
                allow_auto_topic_creation: true,
                ..MetadataRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.topics[0].error_code, 0);
    assert_eq!(r.topics[0].partitions.len(), 3, "num.partitions");
    assert!(!r.topics[0].topic_id.is_zero());
}

#[tokio::test]
async fn create_topics_errors_are_kafkas() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    assert_eq!(create_topic(&mut c, "dup", 1).await.topics[0].error_code, 0);
    assert_eq!(
        create_topic(&mut c, "dup", 1).await.topics[0].error_code,
        36,
        "TOPIC_ALREADY_EXISTS"
    );
    assert_eq!(
        create_topic(&mut c, "bad name", 1).await.topics[0].error_code,
        17,
        "INVALID_TOPIC_EXCEPTION"
    );
    assert_eq!(
        create_topic(&mut c, "zero", 0).await.topics[0].error_code,
        37,
        "INVALID_PARTITIONS"
    );
}

#[tokio::test]
async fn a_malformed_frame_closes_only_its_connection() {
    let b = start(&[]).await;
    let mut bad = Client::connect(&b).await;
    let mut good = Client::connect(&b).await;
    // A Metadata v12 header and a topic array claiming 2^31 entries.
    bad.stream
        .write_all(&[
            0, 0, 0, 15, 0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0, 0x8f, 0xff, 0xff, 0xff,
        ])
        .await
        .unwrap();
    assert!(bad.read_frame().await.is_none(), "closed");
    let mut oversized = Client::connect(&b).await;
    oversized
        .stream
        .write_all(&[0x7f, 0xff, 0xff, 0xff])
        .await
        .unwrap();
    assert!(
        oversized.read_frame().await.is_none(),
        "closed before buffering 2 GiB"
    );
    let Response::ApiVersions(r) = good
        .call(3, Request::ApiVersions(ApiVersionsRequest::default()))
        .await
    else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
}

#[tokio::test]
async fn topics_survive_a_restart_of_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let config = BrokerConfig::from_pairs(&[], Some(dir.path().to_owned())).unwrap();
    let c2 = config.clone();
    let broker = tokio::task::spawn_blocking(move || Broker::open(c2))
        .await
        .unwrap()
        .unwrap();
    let id = tokio::task::spawn_blocking({
        let broker = broker.clone();
        move || {
            broker
                .create_topic("kept", 4, 1, Default::default(), false)
                .unwrap()
                .id
        }
    })
    .await
    .unwrap();
    let broker = Arc::try_unwrap(broker).unwrap();
    tokio::task::spawn_blocking(move || broker.logs.shutdown())
        .await
        .unwrap()
        .unwrap();
    let broker = tokio::task::spawn_blocking(move || Broker::open(config))
        .await
        .unwrap()
        .unwrap();
    let meta = broker.metadata().topic("kept").cloned().unwrap();
    assert_eq!((meta.id, meta.partitions), (id, 4));
    assert_eq!(broker.logs.partitions().len(), 4);
    // The files Kafka keeps beside the segments, in Kafka's formats.
    let fs = strata_storage::fs::OsFs;
    let pm = strata_storage::meta::PartitionMetadata::read(
        &fs,
        &dir.path().join("kept-3/partition.metadata"),
    )
    .unwrap()
    .expect("partition.metadata");
    assert_eq!(pm.topic_id, id);
    let epochs = strata_storage::checkpoint::LeaderEpochCheckpoint::new(
        dir.path().join("kept-0/leader-epoch-checkpoint"),
    );
    assert_eq!(epochs.read(&fs).unwrap(), vec![(0, 0)]);
    let props =
        strata_storage::meta::MetaProperties::read(&fs, &dir.path().join("meta.properties"))
            .unwrap()
            .expect("meta.properties");
    assert_eq!(
        (props.node_id, props.cluster_id.as_str()),
        (1, broker.cluster_id().as_str())
    );
    assert!(props.directory_id.is_some());
}

fn session_fetch(topic: &str, partitions: &[(i32, i64)], session_id: i32, epoch: i32) -> Request {
    let Request::Fetch(mut r) = fetch_request(topic, 0, 0, 0, 0) else {
        unreachable!()
    };
    r.session_id = session_id;
    r.session_epoch = epoch;
    if partitions.is_empty() {
        r.topics.clear();
    } else {
        r.topics[0].partitions = partitions
            .iter()
            .map(|&(partition, offset)| FetchPartition {
                partition,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..FetchPartition::default()
            })
            .collect();
    }
    Request::Fetch(r)
}

#[tokio::test]
async fn fetch_sessions_send_only_what_changed() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "sess", 3).await;
    produce(&mut c, "sess", 0, batch(&["p0"]), -1)
        .await
        .unwrap();

    // Full fetch opening a session: every partition comes back.
    let Response::Fetch(full) = c
        .call(12, session_fetch("sess", &[(0, 0), (1, 0), (2, 0)], 0, 0))
        .await
    else {
        panic!()
    };
    assert_eq!(full.error_code, 0);
    assert_ne!(full.session_id, 0);
    assert_eq!(full.responses[0].partitions.len(), 3);
    let session = full.session_id;

    // Nothing new: an incremental fetch answers with no partitions.
    let Response::Fetch(inc) = c
        .call(12, session_fetch("sess", &[(0, 1)], session, 1))
        .await
    else {
        panic!()
    };
    assert_eq!((inc.error_code, inc.session_id), (0, session));
    assert!(
        inc.responses.iter().all(|t| t.partitions.is_empty()),
        "{inc:?}"
    );

    // New data on partition 2 only: just partition 2 comes back.
    produce(&mut c, "sess", 2, batch(&["p2"]), -1)
        .await
        .unwrap();
    let Response::Fetch(inc) = c.call(12, session_fetch("sess", &[], session, 2)).await else {
        panic!()
    };
    let parts: Vec<i32> = inc
        .responses
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.partition_index))
        .collect();
    assert_eq!(parts, vec![2]);
    assert_eq!(
        values_of(inc.responses[0].partitions[0].records.as_ref().unwrap()),
        vec!["p2"]
    );

    // A repeated epoch and an unknown session are refused.
    let Response::Fetch(bad) = c.call(12, session_fetch("sess", &[], session, 2)).await else {
        panic!()
    };
    assert_eq!(bad.error_code, 71, "INVALID_FETCH_SESSION_EPOCH");
    let Response::Fetch(bad) = c.call(12, session_fetch("sess", &[], 777, 1)).await else {
        panic!()
    };
    assert_eq!(bad.error_code, 70, "FETCH_SESSION_ID_NOT_FOUND");

    // Closing the session: a full, sessionless answer.
    let Response::Fetch(closed) = c
        .call(12, session_fetch("sess", &[(0, 0)], session, -1))
        .await
    else {
        panic!()
    };
    assert_eq!(closed.session_id, 0);
    assert_eq!(closed.responses[0].partitions.len(), 1);
}

#[tokio::test]
async fn idle_connections_are_closed_after_connections_max_idle_ms() {
    let b = start(&[("connections.max.idle.ms", "300")]).await;
    let mut idle = Client::connect(&b).await;
    let mut busy = Client::connect(&b).await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let Response::ApiVersions(_) = busy
            .call(3, Request::ApiVersions(ApiVersionsRequest::default()))
            .await
        else {
            panic!()
        };
    }
    assert!(
        idle.read_frame().await.is_none(),
        "closed after 300 ms without a request"
    );
    let Response::ApiVersions(r) = busy
        .call(3, Request::ApiVersions(ApiVersionsRequest::default()))
        .await
    else {
        panic!()
    };
    assert_eq!(r.error_code, 0, "a connection in use stays open");
}
