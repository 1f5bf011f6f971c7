//! Workloads for the codec benches: record batches of a given size and
//! codec, and the Produce and Fetch messages that carry them, at the latest
//! version this codec speaks.

use bytes::{Buf, Bytes};
use strata_protocol::frame;
use strata_protocol::messages::fetch::response::{FetchableTopicResponse, PartitionData};
use strata_protocol::messages::produce::request::{PartitionProduceData, TopicProduceData};
use strata_protocol::messages::{
    ApiKey, FetchResponse, ProduceRequest, Request, RequestHeader, Response,
};
use strata_protocol::records::{Compression, RecordBatch, RecordBatchBuilder, compression};
use strata_protocol::types::Uuid;

/// Timestamp of the first record of every built batch.
pub const BASE_TIMESTAMP: i64 = 1_700_000_000_000;

/// A batch of records with `value_size`-byte values (and 8-byte keys)
/// whose uncompressed records section reaches at least `section_bytes`.
/// Values are log-line-like text, so that the codecs have something
/// realistic to chew on: neither random nor all zeros.
pub fn batch(codec: Compression, section_bytes: usize, value_size: usize) -> RecordBatch {
    let mut builder = RecordBatchBuilder::new(codec).producer(4_000, 0, 0);
    let mut rng = Lcg(0x5eed);
    let mut written = 0;
    let mut i: u64 = 0;
    while written < section_bytes {
        let key = Bytes::from(format!("user{:04}", i % 10_000));
        let value = Bytes::from(log_line(&mut rng, value_size));
        written += key.len() + value.len() + 10;
        builder
            .append(
                BASE_TIMESTAMP + i as i64,
                Some(key),
                Some(value),
                Vec::new(),
            )
            .expect("bench records fit a batch");
        i += 1;
    }
    builder.build().expect("bench batch builds")
}

/// Bytes of the records section once decompressed, and the record count.
pub fn uncompressed_size(batch: &RecordBatch) -> (usize, usize) {
    let section = batch.records_section();
    let bytes = match batch.compression() {
        Compression::None => section.len(),
        codec => compression::decompress(codec, &section, usize::MAX)
            .expect("bench batch decompresses")
            .len(),
    };
    let count = usize::try_from(batch.records_count()).expect("non-negative count");
    (bytes, count)
}

/// A Produce request frame (size prefix removed, as `frame::decode_request`
/// takes it) at the latest version, one partition carrying `records`.
pub fn produce_request_frame(records: Bytes) -> Bytes {
    let (_, version) = ApiKey::Produce.versions();
    let header = RequestHeader {
        request_api_key: ApiKey::Produce.key(),
        request_api_version: version,
        correlation_id: 1,
        client_id: Some("strata-bench".to_owned()),
        unknown_tagged_fields: Vec::new(),
    };
    let body = Request::Produce(ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: "bench".into(),
            topic_id: Uuid([7; 16]),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let mut frame = frame::encode_request(&header, &body)
        .expect("bench request encodes")
        .freeze();
    frame.advance(frame::SIZE_PREFIX_LEN);
    frame
}

/// A Fetch response with one topic whose partitions carry the given record
/// sets, as the fetch path would send them.
pub fn fetch_response(partitions: Vec<Bytes>) -> Response {
    let partitions = partitions
        .into_iter()
        .enumerate()
        .map(|(index, records)| PartitionData {
            partition_index: index as i32,
            high_watermark: 1_000_000,
            last_stable_offset: 1_000_000,
            log_start_offset: 0,
            records: Some(records),
            ..Default::default()
        })
        .collect();
    Response::Fetch(FetchResponse {
        session_id: 1,
        responses: vec![FetchableTopicResponse {
            topic: "bench".into(),
            topic_id: Uuid([7; 16]),
            partitions,
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// Text shaped like an application log line, exactly `len` bytes.
fn log_line(rng: &mut Lcg, len: usize) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "GET",
        "POST",
        "/api/v1/orders",
        "/api/v1/users",
        "200",
        "404",
        "latency_ms=",
        "user_id=",
        "region=eu-west-1",
        "status=ok",
        "retry=0",
        "trace=",
    ];
    let mut out = Vec::with_capacity(len + 24);
    while out.len() < len {
        let word = WORDS[(rng.next() % WORDS.len() as u64) as usize];
        out.extend_from_slice(word.as_bytes());
        if word.ends_with('=') {
            out.extend_from_slice((rng.next() % 100_000).to_string().as_bytes());
        }
        out.push(b' ');
    }
    out.truncate(len);
    out
}

/// A small deterministic generator, so every run benches the same bytes.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}
