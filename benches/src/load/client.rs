//! A minimal Kafka client over our own codec: one TCP connection, requests
//! framed by `strata_protocol::frame`, responses read in order.
//!
//! The connection splits into a [`Sender`] and a [`Receiver`] so that a
//! producer can write request after request while another task reads the
//! answers: a broker answers in request order per connection, so the
//! receiver only has to match correlation ids one by one.
//!
//! The versions are the highest ones that still name topics (Produce v13
//! and Fetch v13 switch to topic ids); Apache Kafka 4.4 and Strata both
//! speak them.

use anyhow::{Context, bail, ensure};
use bytes::{Bytes, BytesMut};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use strata_protocol::frame;
use strata_protocol::messages::create_topics::request::CreatableTopic;
use strata_protocol::messages::list_offsets::request::{ListOffsetsPartition, ListOffsetsTopic};
use strata_protocol::messages::metadata::request::MetadataRequestTopic;
use strata_protocol::messages::{
    ApiKey, CreateTopicsRequest, ListOffsetsRequest, MetadataRequest, Request, RequestHeader,
    Response,
};
use strata_protocol::types::TopicName;

pub const PRODUCE_VERSION: i16 = 12;
pub const FETCH_VERSION: i16 = 12;
const METADATA_VERSION: i16 = 12;
const CREATE_TOPICS_VERSION: i16 = 7;
const LIST_OFFSETS_VERSION: i16 = 7;

/// Largest response frame we accept: a Fetch asks for at most 50 MiB.
const MAX_FRAME: usize = 128 << 20;
/// A broker that does not answer within this long is reported, not waited on.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// Kafka's error code for a topic that already exists (CreateTopics).
const TOPIC_ALREADY_EXISTS: i16 = 36;
/// ListOffsets timestamps that ask for the log end and the log start.
pub const LATEST: i64 = -1;
pub const EARLIEST: i64 = -2;

/// The writing half: frames requests with increasing correlation ids.
#[derive(Debug)]
pub struct Sender {
    writer: OwnedWriteHalf,
    correlation: i32,
    client_id: String,
}

/// The reading half: whole response frames, in the order they arrive.
#[derive(Debug)]
pub struct Receiver {
    reader: OwnedReadHalf,
    buf: BytesMut,
}

/// Both halves, for request-response use (setup and consumers).
#[derive(Debug)]
pub struct Connection {
    pub sender: Sender,
    pub receiver: Receiver,
}

impl Connection {
    pub async fn connect(addr: &str, client_id: &str) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        // Requests are written whole; waiting for more bytes only adds latency.
        stream.set_nodelay(true)?;
        let (reader, writer) = stream.into_split();
        Ok(Connection {
            sender: Sender {
                writer,
                correlation: 0,
                client_id: client_id.to_owned(),
            },
            receiver: Receiver {
                reader,
                buf: BytesMut::with_capacity(1 << 20),
            },
        })
    }

    /// Sends one request and waits for its response.
    pub async fn call(&mut self, version: i16, body: Request) -> anyhow::Result<Response> {
        let api = body.api_key();
        let correlation = self.sender.send(version, &body).await?;
        self.receiver.response(api, version, correlation).await
    }

    /// Creates `topic` with `partitions` partitions unless it exists; either
    /// way returns the partition count the broker reports.
    pub async fn ensure_topic(&mut self, topic: &str, partitions: i32) -> anyhow::Result<i32> {
        let request = Request::CreateTopics(CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: TopicName(topic.into()),
                num_partitions: partitions,
                replication_factor: -1,
                ..CreatableTopic::default()
            }],
            timeout_ms: 30_000,
            ..CreateTopicsRequest::default()
        });
        let Response::CreateTopics(created) = self.call(CREATE_TOPICS_VERSION, request).await?
        else {
            bail!("CreateTopics was answered with another API");
        };
        for result in &created.topics {
            ensure!(
                result.error_code == 0 || result.error_code == TOPIC_ALREADY_EXISTS,
                "creating topic {topic}: error {} ({})",
                result.error_code,
                result.error_message.as_deref().unwrap_or("no message")
            );
        }
        // A fresh topic's partitions take a moment to get a leader, and the
        // leader a moment more to serve them (Kafka answers
        // NOT_LEADER_OR_FOLLOWER meanwhile): wait until ListOffsets works.
        let mut last_error = None;
        for _ in 0..200 {
            let count = self.partition_count(topic).await?;
            if count > 0 {
                let all: Vec<i32> = (0..count).collect();
                match self.list_offsets(topic, &all, LATEST).await {
                    Ok(_) => return Ok(count),
                    Err(e) => last_error = Some(e),
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        match last_error {
            Some(e) => Err(e.context(format!("topic {topic} is not served after 20 s"))),
            None => bail!("topic {topic} has no partitions with a leader after 20 s"),
        }
    }

    /// Partitions of `topic` that have a leader, per Metadata.
    async fn partition_count(&mut self, topic: &str) -> anyhow::Result<i32> {
        let request = Request::Metadata(MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some(TopicName(topic.into())),
                ..MetadataRequestTopic::default()
            }]),
            allow_auto_topic_creation: false,
            ..MetadataRequest::default()
        });
        let Response::Metadata(metadata) = self.call(METADATA_VERSION, request).await? else {
            bail!("Metadata was answered with another API");
        };
        let Some(t) = metadata.topics.first() else {
            return Ok(0);
        };
        if t.error_code != 0 {
            return Ok(0);
        }
        let led = t
            .partitions
            .iter()
            .filter(|p| p.error_code == 0 && p.leader_id.0 >= 0)
            .count();
        Ok(i32::try_from(led).unwrap_or(i32::MAX))
    }

    /// The offset of `timestamp` ([`LATEST`] or [`EARLIEST`]) of each of
    /// `partitions`, in the same order.
    pub async fn list_offsets(
        &mut self,
        topic: &str,
        partitions: &[i32],
        timestamp: i64,
    ) -> anyhow::Result<Vec<i64>> {
        let request = Request::ListOffsets(ListOffsetsRequest {
            replica_id: strata_protocol::types::BrokerId(-1),
            topics: vec![ListOffsetsTopic {
                name: TopicName(topic.into()),
                partitions: partitions
                    .iter()
                    .map(|&p| ListOffsetsPartition {
                        partition_index: p,
                        current_leader_epoch: -1,
                        timestamp,
                        ..ListOffsetsPartition::default()
                    })
                    .collect(),
                ..ListOffsetsTopic::default()
            }],
            ..ListOffsetsRequest::default()
        });
        let Response::ListOffsets(listed) = self.call(LIST_OFFSETS_VERSION, request).await? else {
            bail!("ListOffsets was answered with another API");
        };
        let answers: Vec<_> = listed.topics.iter().flat_map(|t| &t.partitions).collect();
        partitions
            .iter()
            .map(|&p| {
                let a = answers
                    .iter()
                    .find(|a| a.partition_index == p)
                    .with_context(|| format!("ListOffsets did not answer partition {p}"))?;
                ensure!(
                    a.error_code == 0,
                    "ListOffsets partition {p}: error {}",
                    a.error_code
                );
                Ok(a.offset)
            })
            .collect()
    }
}

impl Sender {
    /// Writes one request; returns its correlation id.
    pub async fn send(&mut self, version: i16, body: &Request) -> anyhow::Result<i32> {
        self.correlation = self.correlation.wrapping_add(1);
        let header = RequestHeader {
            request_api_key: body.api_key().key(),
            request_api_version: version,
            correlation_id: self.correlation,
            client_id: Some(self.client_id.clone()),
            ..RequestHeader::default()
        };
        let bytes = frame::encode_request(&header, body)
            .with_context(|| format!("encoding {} v{version}", body.api_key().name()))?;
        self.writer
            .write_all(&bytes)
            .await
            .context("writing a request")?;
        Ok(self.correlation)
    }
}

impl Receiver {
    /// The next whole frame, size prefix removed.
    pub async fn read_frame(&mut self) -> anyhow::Result<Bytes> {
        loop {
            if let Some(frame) = frame::split_frame(&mut self.buf, MAX_FRAME)? {
                return Ok(frame);
            }
            let n = tokio::time::timeout(RESPONSE_TIMEOUT, self.reader.read_buf(&mut self.buf))
                .await
                .context("the broker did not answer within 60 s")?
                .context("reading a response")?;
            ensure!(n > 0, "the broker closed the connection");
        }
    }

    /// Reads the next response, which must answer `correlation`.
    pub async fn response(
        &mut self,
        api: ApiKey,
        version: i16,
        correlation: i32,
    ) -> anyhow::Result<Response> {
        let frame = self.read_frame().await?;
        let (header, response) = frame::decode_response(api, version, frame)
            .with_context(|| format!("decoding a {} v{version} response", api.name()))?;
        ensure!(
            header.correlation_id == correlation,
            "expected the answer to request {correlation}, got {}",
            header.correlation_id
        );
        Ok(response)
    }
}

/// Bytes a Fetch may bring back in all, and per partition (the Java
/// consumer's defaults: fetch.max.bytes, max.partition.fetch.bytes).
pub const FETCH_MAX_BYTES: i32 = 50 << 20;
pub const PARTITION_MAX_BYTES: i32 = 1 << 20;

/// A sessionless Fetch of `topic`'s `partitions` from `offsets` (in the
/// same order), long-polling up to `max_wait` for a byte.
pub fn fetch_request(
    topic: &str,
    partitions: &[i32],
    offsets: impl IntoIterator<Item = i64>,
    max_wait: Duration,
) -> strata_protocol::messages::Request {
    use strata_protocol::messages::fetch::request::{FetchPartition, FetchTopic};
    strata_protocol::messages::Request::Fetch(strata_protocol::messages::FetchRequest {
        replica_id: strata_protocol::types::BrokerId(-1),
        max_wait_ms: i32::try_from(max_wait.as_millis()).unwrap_or(i32::MAX),
        min_bytes: 1,
        max_bytes: FETCH_MAX_BYTES,
        isolation_level: 0,
        session_id: 0,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: TopicName(topic.to_owned()),
            partitions: partitions
                .iter()
                .zip(offsets)
                .map(|(&partition, fetch_offset)| FetchPartition {
                    partition,
                    fetch_offset,
                    partition_max_bytes: PARTITION_MAX_BYTES,
                    current_leader_epoch: -1,
                    last_fetched_epoch: -1,
                    log_start_offset: -1,
                    ..FetchPartition::default()
                })
                .collect(),
            ..FetchTopic::default()
        }],
        ..strata_protocol::messages::FetchRequest::default()
    })
}
