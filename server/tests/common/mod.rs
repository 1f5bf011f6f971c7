//! What the loopback tests share: a broker on an ephemeral port in a
//! temporary data dir (restartable), and a client speaking our own codec.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use strata_protocol::frame::{self, split_frame};
use strata_protocol::messages::create_topics::request::CreatableTopic;
use strata_protocol::messages::fetch::request::{FetchPartition, FetchTopic};
use strata_protocol::messages::produce::request::{PartitionProduceData, TopicProduceData};
use strata_protocol::messages::*;
use strata_protocol::records::{Compression, RecordBatch, RecordBatchBuilder, batches};
use strata_protocol::types::TopicName;
use strata_server::broker::Broker;
use strata_server::config::BrokerConfig;

pub struct TestBroker {
    pub addr: std::net::SocketAddr,
    pub dir: tempfile::TempDir,
    config: BrokerConfig,
    /// Held so the broker outlives its connections and closes cleanly.
    broker: Option<Arc<Broker>>,
    stop: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    /// After an injected fault the logs cannot close cleanly; the next
    /// open recovers them, as after a crash.
    pub tolerate_failed_shutdown: bool,
}

async fn serve_on(
    mut config: BrokerConfig,
    fs: Arc<dyn strata_storage::fs::Fs>,
) -> (
    std::net::SocketAddr,
    BrokerConfig,
    Arc<Broker>,
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    config.advertised.host = "127.0.0.1".into();
    config.advertised.port = addr.port();
    let c = config.clone();
    let broker = tokio::task::spawn_blocking(move || Broker::open_with_fs(c, fs))
        .await
        .unwrap()
        .unwrap();
    // As `strata serve` does.
    broker.groups.start_ticker(&broker);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(strata_server::net::serve(broker.clone(), listener, stop_rx));
    (addr, config, broker, stop, server)
}

/// A broker with these `key=value` settings, its data in a fresh temporary dir.
pub async fn start(settings: &[(&str, &str)]) -> TestBroker {
    start_on(settings, Arc::new(strata_storage::fs::OsFs)).await
}

/// [`start`] on a given file system (`FaultyFs` injects faults).
pub async fn start_on(
    settings: &[(&str, &str)],
    fs: Arc<dyn strata_storage::fs::Fs>,
) -> TestBroker {
    let dir = tempfile::tempdir().unwrap();
    let pairs: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = BrokerConfig::from_pairs(&pairs, Some(dir.path().to_owned())).unwrap();
    let (addr, config, broker, stop, server) = serve_on(config, fs).await;
    TestBroker {
        addr,
        dir,
        config,
        broker: Some(broker),
        stop,
        server,
        tolerate_failed_shutdown: false,
    }
}

impl TestBroker {
    /// The broker itself, for tests that drive what a timer would.
    pub fn broker(&self) -> &Arc<Broker> {
        self.broker.as_ref().expect("the broker is open")
    }

    /// Stops the broker cleanly (connections closed, logs shut down) and
    /// opens it again on the same data dir, on a new port, always on the
    /// real file system: clients must reconnect.
    pub async fn restart(&mut self) {
        let _ = self.stop.send(true);
        (&mut self.server).await.unwrap();
        let mut broker = self.broker.take().expect("the broker is open");
        // Connections drop their handle as they see the stop; the data dir
        // must be closed before it is opened again.
        let broker = loop {
            match Arc::try_unwrap(broker) {
                Ok(b) => break b,
                Err(shared) => {
                    broker = shared;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        };
        let closed = tokio::task::spawn_blocking(move || broker.logs.shutdown())
            .await
            .unwrap();
        if !self.tolerate_failed_shutdown {
            closed.unwrap();
        }
        let (addr, config, broker, stop, server) =
            serve_on(self.config.clone(), Arc::new(strata_storage::fs::OsFs)).await;
        self.addr = addr;
        self.config = config;
        self.broker = Some(broker);
        self.stop = stop;
        self.server = server;
    }
}

pub struct Client {
    pub stream: TcpStream,
    pub buf: BytesMut,
    pub correlation: i32,
}

impl Client {
    pub async fn connect(b: &TestBroker) -> Client {
        Client {
            stream: TcpStream::connect(b.addr).await.unwrap(),
            buf: BytesMut::new(),
            correlation: 0,
        }
    }

    pub async fn send(&mut self, version: i16, body: Request) -> i32 {
        self.correlation += 1;
        let header = RequestHeader {
            request_api_key: body.api_key().key(),
            request_api_version: version,
            correlation_id: self.correlation,
            client_id: Some("loopback".into()),
            ..RequestHeader::default()
        };
        let bytes = frame::encode_request(&header, &body).unwrap();
        self.stream.write_all(&bytes).await.unwrap();
        self.correlation
    }

    /// The next frame, or `None` when the broker closed the connection.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        loop {
            if let Some(frame) = split_frame(&mut self.buf, 1 << 30).unwrap() {
                return Some(frame);
            }
            let n =
                tokio::time::timeout(Duration::from_secs(10), self.stream.read_buf(&mut self.buf))
                    .await
                    .expect("the broker answers within 10 s")
                    .unwrap_or(0);
            if n == 0 {
                return None;
            }
        }
    }

    pub async fn call(&mut self, version: i16, body: Request) -> Response {
        let api = body.api_key();
        let correlation = self.send(version, body).await;
        let frame = self.read_frame().await.expect("a response");
        let (header, response) = frame::decode_response(api, version, frame).unwrap();
        assert_eq!(header.correlation_id, correlation);
        response
    }
}

pub fn batch(values: &[&str]) -> Bytes {
    let mut b = RecordBatchBuilder::new(Compression::Lz4);
    for (i, v) in values.iter().enumerate() {
        b.append(
            strata_server::broker::now_ms() + i as i64,
            Some(Bytes::from(format!("key-{i}"))),
            Some(Bytes::from(v.to_string())),
            vec![],
        )
        .unwrap();
    }
    b.build().unwrap().into_bytes()
}

pub async fn create_topic(c: &mut Client, name: &str, partitions: i32) -> CreateTopicsResponse {
    let Response::CreateTopics(r) = c
        .call(
            7,
            Request::CreateTopics(CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: TopicName(name.into()),
                    num_partitions: partitions,
                    replication_factor: -1,
                    ..CreatableTopic::default()
                }],
                timeout_ms: 1000,
                ..CreateTopicsRequest::default()
            }),
        )
        .await
    else {
        panic!("not a CreateTopics response")
    };
    r
}

pub async fn produce(
    c: &mut Client,
    topic: &str,
    partition: i32,
    records: Bytes,
    acks: i16,
) -> Option<ProduceResponse> {
    let body = Request::Produce(ProduceRequest {
        acks,
        timeout_ms: 5000,
        topic_data: vec![TopicProduceData {
            name: TopicName(topic.into()),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(records),
                ..PartitionProduceData::default()
            }],
            ..TopicProduceData::default()
        }],
        ..ProduceRequest::default()
    });
    if acks == 0 {
        c.send(12, body).await;
        return None;
    }
    let Response::Produce(r) = c.call(12, body).await else {
        panic!("not a Produce response")
    };
    Some(r)
}

pub fn fetch_request(
    topic: &str,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
    min_bytes: i32,
) -> Request {
    Request::Fetch(FetchRequest {
        max_wait_ms,
        min_bytes,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: TopicName(topic.into()),
            partitions: vec![FetchPartition {
                partition,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..FetchPartition::default()
            }],
            ..FetchTopic::default()
        }],
        ..FetchRequest::default()
    })
}

pub fn values_of(records: &Bytes) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches(records.clone()) {
        let b: RecordBatch = b.unwrap();
        for r in b.records(1 << 20).unwrap() {
            out.push(String::from_utf8(r.unwrap().value.unwrap().to_vec()).unwrap());
        }
    }
    out
}

/// A ConsumerGroupHeartbeat (KIP-848) at v1; `owned` is `topic_partitions`.
#[allow(clippy::too_many_arguments)]
pub async fn consumer_heartbeat(
    c: &mut Client,
    group: &str,
    member_id: &str,
    member_epoch: i32,
    subscribed: Option<&[&str]>,
    owned: Option<Vec<(strata_protocol::types::Uuid, Vec<i32>)>>,
) -> ConsumerGroupHeartbeatResponse {
    use strata_protocol::messages::consumer_group_heartbeat::request::TopicPartitions;
    let joining = member_epoch == 0;
    let Response::ConsumerGroupHeartbeat(r) = c
        .call(
            1,
            Request::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest {
                group_id: strata_protocol::types::GroupId(group.into()),
                member_id: member_id.into(),
                member_epoch,
                rebalance_timeout_ms: if joining { 30_000 } else { -1 },
                subscribed_topic_names: subscribed
                    .map(|s| s.iter().map(|t| TopicName((*t).into())).collect()),
                topic_partitions: owned.map(|o| {
                    o.into_iter()
                        .map(|(topic_id, partitions)| TopicPartitions {
                            topic_id,
                            partitions,
                            ..TopicPartitions::default()
                        })
                        .collect()
                }),
                ..ConsumerGroupHeartbeatRequest::default()
            }),
        )
        .await
    else {
        panic!("not a ConsumerGroupHeartbeat response")
    };
    r
}
