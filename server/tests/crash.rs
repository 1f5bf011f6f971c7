//! Kill -9 the real `strata` binary while a producer writes with acks=all,
//! restart it on the same port at once, again and again; then every
//! acknowledged record must be there, once, at the offset it was given.

use bytes::{Bytes, BytesMut};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_protocol::frame::{self, split_frame};
use strata_protocol::messages::create_topics::request::CreatableTopic;
use strata_protocol::messages::fetch::request::{FetchPartition, FetchTopic};
use strata_protocol::messages::produce::request::{PartitionProduceData, TopicProduceData};
use strata_protocol::messages::*;
use strata_protocol::records::{Compression, RecordBatchBuilder, batches};
use strata_protocol::types::TopicName;

const TOPIC: &str = "crash";
const PARTITIONS: i32 = 3;

/// The tests of this file run one at a time: the kill -9 test frees and
/// takes its port again and again, and a free port picked meanwhile by
/// another test could be that one (seen once: the other test's client was
/// reset by the killed broker).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(dir: &std::path::Path, port: u16) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--set", &format!("listeners=PLAINTEXT://127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strata starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("strata exited at start-up after a crash: {status}");
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        assert!(
            Instant::now() < deadline,
            "strata did not listen within 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Client {
    stream: TcpStream,
    buf: BytesMut,
    correlation: i32,
}

impl Client {
    fn connect(port: u16) -> std::io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Client {
            stream,
            buf: BytesMut::new(),
            correlation: 0,
        })
    }

    /// Writes a request without waiting for its answer.
    fn send(&mut self, version: i16, body: &Request) -> std::io::Result<()> {
        self.correlation += 1;
        let header = RequestHeader {
            request_api_key: body.api_key().key(),
            request_api_version: version,
            correlation_id: self.correlation,
            client_id: Some("crash-test".into()),
            ..RequestHeader::default()
        };
        self.stream
            .write_all(&frame::encode_request(&header, body).expect("encodes"))
    }

    fn call(&mut self, version: i16, body: Request) -> std::io::Result<Response> {
        let api = body.api_key();
        self.send(version, &body)?;
        loop {
            if let Some(f) = split_frame(&mut self.buf, 1 << 30).expect("valid frames") {
                let (_, response) = frame::decode_response(api, version, f).expect("decodes");
                return Ok(response);
            }
            let mut chunk = [0u8; 64 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Creates `TOPIC` with `partitions` partitions; it must not exist yet.
fn create_topic(c: &mut Client, partitions: i32) {
    let Response::CreateTopics(r) = c
        .call(
            7,
            Request::CreateTopics(CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: TopicName(TOPIC.into()),
                    num_partitions: partitions,
                    replication_factor: 1,
                    ..CreatableTopic::default()
                }],
                timeout_ms: 5000,
                ..CreateTopicsRequest::default()
            }),
        )
        .unwrap()
    else {
        panic!("not a CreateTopics response")
    };
    assert_eq!(r.topics[0].error_code, 0);
}

fn batch(values: &[String]) -> Bytes {
    let mut b = RecordBatchBuilder::new(Compression::None);
    for v in values {
        b.append(
            strata_server::broker::now_ms(),
            None,
            Some(Bytes::from(v.clone())),
            vec![],
        )
        .unwrap();
    }
    b.build().unwrap().into_bytes()
}

/// An acks=all Produce of one batch of `values` to `partition`.
fn produce_request(partition: i32, values: &[String]) -> Request {
    Request::Produce(ProduceRequest {
        acks: -1,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            name: TopicName(TOPIC.into()),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(batch(values)),
                ..PartitionProduceData::default()
            }],
            ..TopicProduceData::default()
        }],
        ..ProduceRequest::default()
    })
}

/// (partition, offset, value) of every acknowledged record.
type Acked = Arc<Mutex<Vec<(i32, i64, String)>>>;

fn produce_until_killed(port: u16, cycle: usize, acked: Acked) {
    let Ok(mut c) = Client::connect(port) else {
        return;
    };
    for i in 0.. {
        let partition = (i % PARTITIONS as usize) as i32;
        let values: Vec<String> = (0..3).map(|r| format!("c{cycle}-b{i}-r{r}")).collect();
        let Ok(Response::Produce(r)) = c.call(12, produce_request(partition, &values)) else {
            return;
        };
        let p = &r.responses[0].partition_responses[0];
        if p.error_code == 0 {
            let mut acked = acked.lock().unwrap();
            for (k, v) in values.into_iter().enumerate() {
                acked.push((partition, p.base_offset + k as i64, v));
            }
        }
    }
}

fn read_partition(c: &mut Client, partition: i32) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let request = Request::Fetch(FetchRequest {
            max_wait_ms: 0,
            max_bytes: 1 << 20,
            topics: vec![FetchTopic {
                topic: TopicName(TOPIC.into()),
                partitions: vec![FetchPartition {
                    partition,
                    fetch_offset: offset,
                    partition_max_bytes: 1 << 20,
                    ..FetchPartition::default()
                }],
                ..FetchTopic::default()
            }],
            ..FetchRequest::default()
        });
        let Response::Fetch(f) = c.call(12, request).expect("fetch") else {
            panic!()
        };
        let p = &f.responses[0].partitions[0];
        assert_eq!(p.error_code, 0);
        let records = p.records.clone().unwrap_or_default();
        if records.is_empty() {
            return out;
        }
        for b in batches(records) {
            let b = b.expect("whole batches");
            b.verify_crc().expect("intact");
            for r in b.records(1 << 20).unwrap() {
                let r = r.unwrap();
                let o = b.offset_of(&r);
                if o >= offset {
                    out.push((o, String::from_utf8(r.value.unwrap().to_vec()).unwrap()));
                }
            }
            offset = b.next_offset();
        }
    }
}

#[test]
fn kill_9_during_acks_all_produce_loses_no_acknowledged_record() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let acked: Acked = Arc::new(Mutex::new(Vec::new()));
    let cycles = 20;
    let mut rng = 0x853c_49e6_748f_ea9bu64;
    for cycle in 0..cycles {
        let mut broker = start(dir.path(), port);
        if cycle == 0 {
            create_topic(&mut Client::connect(port).unwrap(), PARTITIONS);
        }
        let producer = {
            let acked = acked.clone();
            std::thread::spawn(move || produce_until_killed(port, cycle, acked))
        };
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(100 + rng % 300));
        broker.kill().unwrap(); // SIGKILL
        broker.wait().unwrap();
        producer.join().unwrap();
    }
    let mut broker = start(dir.path(), port);
    let mut c = Client::connect(port).unwrap();
    let mut stored: Vec<(i32, i64, String)> = Vec::new();
    for p in 0..PARTITIONS {
        stored.extend(
            read_partition(&mut c, p)
                .into_iter()
                .map(|(o, v)| (p, o, v)),
        );
    }
    broker.kill().unwrap();
    broker.wait().unwrap();

    let acked = acked.lock().unwrap();
    let by_position: std::collections::HashMap<(i32, i64), &str> = stored
        .iter()
        .map(|(p, o, v)| ((*p, *o), v.as_str()))
        .collect();
    let lost = acked
        .iter()
        .filter(|(p, o, v)| by_position.get(&(*p, *o)) != Some(&v.as_str()))
        .count();
    let mut seen = std::collections::HashSet::new();
    let duplicated = stored
        .iter()
        .filter(|(_, _, v)| !seen.insert(v.clone()))
        .count();
    println!(
        "broker crash test: {cycles} kill -9 cycles, {} records acknowledged, {} stored, {lost} lost, {duplicated} duplicated",
        acked.len(),
        stored.len()
    );
    assert!(
        acked.len() > 100,
        "too few acknowledged records to mean anything"
    );
    assert_eq!(lost, 0, "acknowledged records lost");
    assert_eq!(duplicated, 0, "records stored twice");
}

#[test]
fn sigterm_shuts_down_cleanly_and_the_next_start_needs_no_recovery() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let broker = start(dir.path(), port);
    let mut c = Client::connect(port).unwrap();
    create_topic(&mut c, 1);
    let values: Vec<String> = (0..3).map(|i| format!("v{i}")).collect();
    let Ok(Response::Produce(r)) = c.call(12, produce_request(0, &values)) else {
        panic!("not a Produce response")
    };
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    // A Fetch long-polling at the log end is still running at SIGTERM:
    // the logs must close cleanly all the same.
    let mut waiting = Client::connect(port).unwrap();
    let fetch = Request::Fetch(FetchRequest {
        max_wait_ms: 15_000,
        min_bytes: 1,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: TopicName(TOPIC.into()),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: 3,
                partition_max_bytes: 1 << 20,
                ..FetchPartition::default()
            }],
            ..FetchTopic::default()
        }],
        ..FetchRequest::default()
    });
    waiting.send(12, &fetch).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let status = Command::new("kill")
        .args(["-TERM", &broker.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut broker = broker;
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = broker.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "strata did not stop within 20 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "exit status {exit}");
    assert!(
        dir.path().join(".kafka_cleanshutdown").exists(),
        "clean-shutdown marker written"
    );
    assert!(dir.path().join("recovery-point-offset-checkpoint").exists());
    // The zeros written ahead of the active segment's end are cut: the
    // file ends at its last batch, as Kafka's tools expect.
    let log = std::fs::read(
        dir.path()
            .join(format!("{TOPIC}-0/00000000000000000000.log")),
    )
    .unwrap();
    let batch_bytes: usize = batches(Bytes::from(log.clone()))
        .map(|b| b.expect("only whole batches").as_bytes().len())
        .sum();
    assert_eq!(batch_bytes, log.len(), "the .log ends at its last batch");
    drop(waiting);
}
