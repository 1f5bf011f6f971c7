//! Produce requests pipelined on one connection: handed to storage in
//! arrival order while earlier ones wait for the disk, answered in request
//! order; every other request waits for what came before it.

mod common;

use bytes::Bytes;
use strata_protocol::frame;
use strata_protocol::messages::produce::request::{PartitionProduceData, TopicProduceData};
use strata_protocol::messages::*;
use strata_protocol::records::{Compression, RecordBatchBuilder};
use strata_protocol::types::TopicName;

use common::*;

const PRODUCE_VERSION: i16 = 12;

/// One Produce request: `(partition, records)` of one topic.
fn produce_request(topic: &str, acks: i16, partitions: Vec<(i32, Bytes)>) -> Request {
    Request::Produce(ProduceRequest {
        acks,
        timeout_ms: 5000,
        topic_data: vec![TopicProduceData {
            name: TopicName(topic.into()),
            partition_data: partitions
                .into_iter()
                .map(|(index, records)| PartitionProduceData {
                    index,
                    records: Some(records),
                    ..PartitionProduceData::default()
                })
                .collect(),
            ..TopicProduceData::default()
        }],
        ..ProduceRequest::default()
    })
}

/// The next Produce response: (correlation id, per partition (index, error, base offset)).
async fn produce_answer(c: &mut Client) -> (i32, Vec<(i32, i16, i64)>) {
    let frame = c.read_frame().await.expect("a Produce response");
    let (header, response) =
        frame::decode_response(ApiKey::Produce, PRODUCE_VERSION, frame).unwrap();
    let Response::Produce(r) = response else {
        panic!("not a Produce response")
    };
    let partitions = r
        .responses
        .iter()
        .flat_map(|t| &t.partition_responses)
        .map(|p| (p.index, p.error_code, p.base_offset))
        .collect();
    (header.correlation_id, partitions)
}

fn idempotent(producer_id: i64, sequence: i32, records: usize) -> Bytes {
    let mut b = RecordBatchBuilder::new(Compression::None).producer(producer_id, 0, sequence);
    for i in 0..records {
        b.append(
            strata_server::broker::now_ms(),
            None,
            Some(Bytes::from(format!("s{}", sequence as usize + i))),
            vec![],
        )
        .unwrap();
    }
    b.build().unwrap().into_bytes()
}

#[tokio::test]
async fn pipelined_produces_are_answered_in_order_with_consecutive_offsets() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "piped", 3).await;
    // More than a connection keeps pending, so the bound is crossed too.
    let requests = 3 * strata_server::net::MAX_PENDING_PRODUCES as i32;
    let mut sent = Vec::new();
    for i in 0..requests {
        let acks = if i % 2 == 0 { -1 } else { 1 };
        let mut partitions = vec![(i % 3, batch(&["a", "b"]))];
        if i % 5 == 0 {
            partitions.push(((i + 1) % 3, batch(&["c"])));
        }
        let expected: Vec<(i32, usize)> = partitions.iter().map(|(p, _)| *p).zip([2, 1]).collect();
        let correlation = c
            .send(PRODUCE_VERSION, produce_request("piped", acks, partitions))
            .await;
        sent.push((correlation, expected));
    }
    let mut next_offset = [0i64; 3];
    for (correlation, expected) in sent {
        let (got, partitions) = produce_answer(&mut c).await;
        assert_eq!(got, correlation, "responses leave in request order");
        assert_eq!(partitions.len(), expected.len());
        for ((index, error, base), (partition, records)) in partitions.into_iter().zip(expected) {
            assert_eq!((index, error), (partition, 0));
            let p = partition as usize;
            assert_eq!(base, next_offset[p], "partition {p} in arrival order");
            next_offset[p] += records as i64;
        }
    }
}

#[tokio::test]
async fn a_fetch_after_pipelined_produces_sees_all_of_them() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "seen", 1).await;
    let values: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
    for v in &values {
        c.send(
            PRODUCE_VERSION,
            produce_request("seen", -1, vec![(0, batch(&[v.as_str()]))]),
        )
        .await;
    }
    // Sent before any produce is answered; answered after all of them.
    let fetch = c.send(12, fetch_request("seen", 0, 0, 0, 0)).await;
    for _ in &values {
        let (_, partitions) = produce_answer(&mut c).await;
        assert_eq!(partitions[0].1, 0);
    }
    let frame = c.read_frame().await.unwrap();
    let (header, response) = frame::decode_response(ApiKey::Fetch, 12, frame).unwrap();
    assert_eq!(header.correlation_id, fetch);
    let Response::Fetch(f) = response else {
        panic!()
    };
    let partition = &f.responses[0].partitions[0];
    assert_eq!(partition.high_watermark, 10, "every acknowledged record");
    assert_eq!(values_of(partition.records.as_ref().unwrap()), values);
}

#[tokio::test]
async fn pipelined_idempotent_batches_get_sequence_errors_in_order() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "idem", 1).await;
    let pid = 7;
    // (first sequence, records) -> (error, base offset) expected.
    let plan: [((i32, usize), (i16, i64)); 6] = [
        ((0, 3), (0, 0)),
        ((3, 2), (0, 3)),
        // A retry of the one before: its offsets, written once.
        ((3, 2), (0, 3)),
        // A gap: OUT_OF_ORDER_SEQUENCE_NUMBER, nothing written.
        ((9, 1), (45, -1)),
        ((5, 1), (0, 5)),
        // A retry of the first, still among the last five.
        ((0, 3), (0, 0)),
    ];
    for ((sequence, records), _) in plan {
        c.send(
            PRODUCE_VERSION,
            produce_request("idem", -1, vec![(0, idempotent(pid, sequence, records))]),
        )
        .await;
    }
    for (i, (_, (error, base))) in plan.into_iter().enumerate() {
        let (_, partitions) = produce_answer(&mut c).await;
        assert_eq!(
            (partitions[0].1, partitions[0].2),
            (error, base),
            "request {i}"
        );
    }
    let Response::Fetch(f) = c.call(12, fetch_request("idem", 0, 0, 0, 0)).await else {
        panic!()
    };
    let partition = &f.responses[0].partitions[0];
    assert_eq!(partition.high_watermark, 6, "duplicates written once");
    assert_eq!(
        values_of(partition.records.as_ref().unwrap()),
        ["s0", "s1", "s2", "s3", "s4", "s5"]
    );
}

#[tokio::test]
async fn errors_and_acks_zero_keep_their_place_among_pipelined_produces() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "mixed", 2).await;
    let first = c
        .send(
            PRODUCE_VERSION,
            produce_request("mixed", -1, vec![(0, batch(&["a"]))]),
        )
        .await;
    // No such partition: refused in its slot, the rest of the request goes on.
    let refused = c
        .send(
            PRODUCE_VERSION,
            produce_request("mixed", -1, vec![(5, batch(&["x"])), (1, batch(&["b"]))]),
        )
        .await;
    // acks=0: written, never answered.
    c.send(
        PRODUCE_VERSION,
        produce_request("mixed", 0, vec![(0, batch(&["c"]))]),
    )
    .await;
    let last = c
        .send(
            PRODUCE_VERSION,
            produce_request("mixed", 1, vec![(0, batch(&["d"]))]),
        )
        .await;
    assert_eq!(produce_answer(&mut c).await, (first, vec![(0, 0, 0)]));
    assert_eq!(
        produce_answer(&mut c).await,
        (refused, vec![(5, 3, -1), (1, 0, 0)])
    );
    assert_eq!(produce_answer(&mut c).await, (last, vec![(0, 0, 2)]));

    // An acks=0 produce that is refused closes the connection, after the
    // answers to what came before it.
    let before = c
        .send(
            PRODUCE_VERSION,
            produce_request("mixed", -1, vec![(1, batch(&["e"]))]),
        )
        .await;
    c.send(
        PRODUCE_VERSION,
        produce_request("mixed", 0, vec![(9, batch(&["y"]))]),
    )
    .await;
    assert_eq!(produce_answer(&mut c).await, (before, vec![(1, 0, 1)]));
    assert!(c.read_frame().await.is_none(), "then closed");
}

#[tokio::test]
async fn a_client_that_stops_sending_still_gets_its_pending_answers() {
    use tokio::io::AsyncWriteExt;
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "halfclosed", 1).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        let v = format!("h{i}");
        sent.push(
            c.send(
                PRODUCE_VERSION,
                produce_request("halfclosed", -1, vec![(0, batch(&[v.as_str()]))]),
            )
            .await,
        );
    }
    c.stream.shutdown().await.unwrap();
    for (i, correlation) in sent.into_iter().enumerate() {
        assert_eq!(
            produce_answer(&mut c).await,
            (correlation, vec![(0, 0, i as i64)])
        );
    }
    assert!(c.read_frame().await.is_none());
}

#[tokio::test]
async fn pipelining_within_a_small_queued_max_request_bytes_does_not_stall() {
    // Room for about two of these requests at a time across the broker.
    let b = start(&[("queued.max.request.bytes", "3000")]).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "tight", 1).await;
    let mut builder = RecordBatchBuilder::new(Compression::None);
    builder
        .append(
            strata_server::broker::now_ms(),
            None,
            Some(Bytes::from(vec![b'z'; 1000])),
            vec![],
        )
        .unwrap();
    let big = builder.build().unwrap().into_bytes();
    let mut sent = Vec::new();
    for _ in 0..20 {
        sent.push(
            c.send(
                PRODUCE_VERSION,
                produce_request("tight", -1, vec![(0, big.clone())]),
            )
            .await,
        );
    }
    for (i, correlation) in sent.into_iter().enumerate() {
        assert_eq!(
            produce_answer(&mut c).await,
            (correlation, vec![(0, 0, i as i64)])
        );
    }
}
