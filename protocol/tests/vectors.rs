//! Golden vectors: frames that real clients (librdkafka, the Java client,
//! kafkajs) and a real Apache Kafka 4.4.0 broker exchanged, captured as
//! `protocol/tests/vectors/README.md` describes. Each must decode, re-encode
//! to the very same bytes, and carry the fields the capture is known to hold.

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use std::path::{Path, PathBuf};
use strata_protocol::frame::{self, SIZE_PREFIX_LEN};
use strata_protocol::messages::{ApiKey, Request, Response};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

struct Vector {
    file: String,
    client: String,
    api: ApiKey,
    version: i16,
    request: bool,
    correlation_id: i32,
    compression: Option<String>,
    bytes: Bytes,
}

fn vectors() -> Vec<Vector> {
    let text =
        std::fs::read_to_string(dir().join("manifest.json")).expect("manifest.json is committed");
    let manifest: Value = serde_json::from_str(&text).expect("manifest.json is JSON");
    let list = manifest["vectors"]
        .as_array()
        .expect("manifest lists vectors");
    let out: Vec<Vector> = list
        .iter()
        .map(|v| {
            let file = v["file"].as_str().expect("file").to_owned();
            let bytes = std::fs::read(dir().join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            Vector {
                client: v["client"].as_str().expect("client").to_owned(),
                api: ApiKey::from_key(v["api_key"].as_i64().expect("api_key") as i16)
                    .expect("known API"),
                version: v["api_version"].as_i64().expect("api_version") as i16,
                request: v["direction"] == "request",
                correlation_id: v["correlation_id"].as_i64().expect("correlation_id") as i32,
                compression: v["compression"].as_str().map(str::to_owned),
                bytes: Bytes::from(bytes),
                file,
            }
        })
        .collect();
    assert!(
        out.len() >= 60,
        "expected the 60 captured frames, found {}",
        out.len()
    );
    out
}

fn unframed(mut framed: BytesMut) -> Bytes {
    let _ = framed.split_to(SIZE_PREFIX_LEN);
    framed.freeze()
}

fn decode_request(v: &Vector) -> Request {
    let (header, body) =
        frame::decode_request(v.bytes.clone()).unwrap_or_else(|e| panic!("{}: {e}", v.file));
    assert_eq!(header.request_api_key, v.api.key(), "{}", v.file);
    assert_eq!(header.request_api_version, v.version, "{}", v.file);
    assert_eq!(header.correlation_id, v.correlation_id, "{}", v.file);
    let again = frame::encode_request(&header, &body).unwrap_or_else(|e| panic!("{}: {e}", v.file));
    assert_eq!(
        unframed(again),
        v.bytes,
        "{}: re-encoded request differs",
        v.file
    );
    body
}

fn decode_response(v: &Vector) -> Response {
    let (header, body) = frame::decode_response(v.api, v.version, v.bytes.clone())
        .unwrap_or_else(|e| panic!("{}: {e}", v.file));
    assert_eq!(header.correlation_id, v.correlation_id, "{}", v.file);
    let again = frame::encode_response(header.correlation_id, v.version, &body)
        .unwrap_or_else(|e| panic!("{}: {e}", v.file));
    assert_eq!(
        unframed(again),
        v.bytes,
        "{}: re-encoded response differs",
        v.file
    );
    body
}

#[test]
fn every_captured_frame_decodes_and_reencodes_to_the_same_bytes() {
    for v in vectors() {
        if v.request {
            decode_request(&v);
        } else {
            decode_response(&v);
        }
    }
}

#[test]
fn api_versions_requests_name_the_client_software() {
    for v in vectors()
        .iter()
        .filter(|v| v.request && v.api == ApiKey::ApiVersions)
    {
        let Request::ApiVersions(body) = decode_request(v) else {
            panic!("{}: not ApiVersions", v.file)
        };
        let expected = match v.client.as_str() {
            "java" => "apache-kafka-java",
            "librdkafka" => "confluent-kafka-python",
            // kafkajs asks at v2, before the software name existed.
            _ => "",
        };
        assert_eq!(body.client_software_name, expected, "{}", v.file);
    }
}

#[test]
fn api_versions_responses_list_produce_and_fetch() {
    for v in vectors()
        .iter()
        .filter(|v| !v.request && v.api == ApiKey::ApiVersions)
    {
        let Response::ApiVersions(body) = decode_response(v) else {
            panic!("{}", v.file)
        };
        assert_eq!(body.error_code, 0, "{}", v.file);
        let produce = body
            .api_keys
            .iter()
            .find(|k| k.api_key == 0)
            .expect("Produce listed");
        // Kafka 4 advertises Produce from v0 for librdkafka's sake (KAFKA-18659).
        assert_eq!(
            (produce.min_version, produce.max_version),
            (0, 13),
            "{}",
            v.file
        );
        assert!(body.api_keys.iter().any(|k| k.api_key == 1), "{}", v.file);
    }
}

#[test]
fn produce_requests_carry_one_partition_of_records_with_acks_all() {
    for v in vectors()
        .iter()
        .filter(|v| v.request && v.api == ApiKey::Produce)
    {
        let Request::Produce(body) = decode_request(v) else {
            panic!("{}", v.file)
        };
        assert_eq!(body.topic_data.len(), 1, "{}", v.file);
        let topic = &body.topic_data[0];
        if v.version >= 13 {
            assert!(
                !topic.topic_id.is_zero(),
                "{}: v13 names topics by id",
                v.file
            );
        } else {
            assert_eq!(topic.name.0, format!("vectors-{}", v.client), "{}", v.file);
        }
        assert_eq!(topic.partition_data.len(), 1, "{}", v.file);
        assert_eq!(topic.partition_data[0].index, 0, "{}", v.file);
        let records = topic.partition_data[0]
            .records
            .as_ref()
            .expect("records present");
        // Magic byte of a v2 batch sits at offset 16.
        assert_eq!(records.get(16), Some(&2), "{}", v.file);
        assert!(v.compression.is_some(), "{}", v.file);
    }
}

#[test]
fn metadata_responses_advertise_the_one_broker() {
    for v in vectors()
        .iter()
        .filter(|v| !v.request && v.api == ApiKey::Metadata)
    {
        let Response::Metadata(body) = decode_response(v) else {
            panic!("{}", v.file)
        };
        assert_eq!(body.brokers.len(), 1, "{}", v.file);
        assert_eq!(body.brokers[0].node_id.0, 1, "{}", v.file);
        assert_eq!(body.brokers[0].host, "127.0.0.1", "{}", v.file);
        assert_eq!(
            body.cluster_id.as_deref(),
            Some("c3RyYXRhLWNvbXBhdC0xMA"),
            "{}",
            v.file
        );
    }
}

#[test]
fn join_group_requests_use_the_consumer_protocol() {
    for v in vectors()
        .iter()
        .filter(|v| v.request && v.api == ApiKey::JoinGroup)
    {
        let Request::JoinGroup(body) = decode_request(v) else {
            panic!("{}", v.file)
        };
        assert_eq!(body.protocol_type, "consumer", "{}", v.file);
        assert!(!body.group_id.0.is_empty(), "{}", v.file);
        assert!(!body.protocols.is_empty(), "{}", v.file);
        // Second join: the member id the broker handed out comes back.
        assert!(!body.member_id.is_empty(), "{}", v.file);
    }
}

#[test]
fn fetch_responses_hold_the_batches_that_were_produced() {
    for v in vectors()
        .iter()
        .filter(|v| !v.request && v.api == ApiKey::Fetch)
    {
        let Response::Fetch(body) = decode_response(v) else {
            panic!("{}", v.file)
        };
        let partitions: Vec<_> = body
            .responses
            .iter()
            .flat_map(|t| t.partitions.iter())
            .collect();
        assert!(!partitions.is_empty(), "{}", v.file);
        let with_data = partitions
            .iter()
            .filter(|p| p.records.as_ref().is_some_and(|r| !r.is_empty()))
            .count();
        assert!(with_data >= 1, "{}: no records fetched", v.file);
        for p in &partitions {
            assert_eq!(p.error_code, 0, "{}", v.file);
            assert!(
                p.high_watermark >= 3,
                "{}: high watermark {}",
                v.file,
                p.high_watermark
            );
        }
    }
}

/// The records each capture produced: key `key-<i>`, value
/// `value-<i> codec=<codec> ` + "strata golden vector " x4, headers
/// `h-index` = i and `h-codec` = codec.
fn check_captured_records(file: &str, batch_bytes: Bytes, codec: &str) {
    use strata_protocol::records::{RecordBatch, batches};
    let mut seen = 0;
    for batch in batches(batch_bytes) {
        let batch: RecordBatch = batch.unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(batch.verify_crc().is_ok(), "{file}: CRC");
        assert_eq!(batch.compression().name(), codec, "{file}: codec");
        for (i, record) in batch
            .records(1 << 20)
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .enumerate()
        {
            let record = record.unwrap_or_else(|e| panic!("{file}: {e}"));
            let value = format!(
                "value-{i} codec={codec} {}",
                "strata golden vector ".repeat(4)
            );
            assert_eq!(
                record.key.as_deref(),
                Some(format!("key-{i}").as_bytes()),
                "{file}"
            );
            assert_eq!(record.value.as_deref(), Some(value.as_bytes()), "{file}");
            let headers: Vec<(&[u8], Option<&[u8]>)> = record
                .headers
                .iter()
                .map(|h| (&h.key[..], h.value.as_deref()))
                .collect();
            assert_eq!(
                headers,
                vec![
                    (&b"h-index"[..], Some(i.to_string().as_bytes())),
                    (&b"h-codec"[..], Some(codec.as_bytes()))
                ],
                "{file}"
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 3, "{file}: three records per batch");
}

#[test]
fn produced_records_read_back_with_every_codec_each_client_wrote() {
    let mut codecs_seen = std::collections::BTreeSet::new();
    for v in vectors()
        .iter()
        .filter(|v| v.request && v.api == ApiKey::Produce)
    {
        let Request::Produce(body) = decode_request(v) else {
            panic!("{}", v.file)
        };
        let codec = v
            .compression
            .clone()
            .expect("produce vectors name their codec");
        let records = body.topic_data[0].partition_data[0]
            .records
            .clone()
            .expect("records");
        check_captured_records(&v.file, records, &codec);
        codecs_seen.insert((v.client.clone(), codec));
    }
    for client in ["java", "librdkafka"] {
        for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
            assert!(
                codecs_seen.contains(&(client.to_owned(), codec.to_owned())),
                "{client} {codec} missing"
            );
        }
    }
}

#[test]
fn fetched_batches_verify_and_decompress() {
    use strata_protocol::records::batches;
    for v in vectors()
        .iter()
        .filter(|v| !v.request && v.api == ApiKey::Fetch)
    {
        let Response::Fetch(body) = decode_response(v) else {
            panic!("{}", v.file)
        };
        let mut records = 0;
        for p in body.responses.iter().flat_map(|t| t.partitions.iter()) {
            let Some(set) = p.records.clone() else {
                continue;
            };
            for batch in batches(set) {
                let batch = batch.unwrap_or_else(|e| panic!("{}: {e}", v.file));
                assert!(batch.verify_crc().is_ok(), "{}", v.file);
                for record in batch
                    .records(1 << 20)
                    .unwrap_or_else(|e| panic!("{}: {e}", v.file))
                {
                    let record = record.unwrap_or_else(|e| panic!("{}: {e}", v.file));
                    assert!(
                        record
                            .key
                            .as_deref()
                            .is_some_and(|k| k.starts_with(b"key-")),
                        "{}",
                        v.file
                    );
                    records += 1;
                }
            }
        }
        assert!(records >= 3, "{}: {records} records", v.file);
    }
}
