//! `strata-bench`'s load run against a real broker (in this process, on an
//! ephemeral port): what it reports must be what happened, since
//! `benches/compare.sh` and BENCHMARKS.md are built on these figures.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use strata_benches::load::{self, Config};
use strata_protocol::records::Compression;
use strata_server::broker::Broker;
use strata_server::config::BrokerConfig;

/// A broker at its defaults (durable acks) in a temporary data dir.
async fn broker() -> (
    String,
    tempfile::TempDir,
    tokio::sync::watch::Sender<bool>,
    Arc<Broker>,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = BrokerConfig::from_pairs(&[], Some(dir.path().to_owned())).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    config.advertised.host = "127.0.0.1".into();
    config.advertised.port = addr.port();
    let broker = tokio::task::spawn_blocking(move || Broker::open(config))
        .await
        .unwrap()
        .unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(strata_server::net::serve(broker.clone(), listener, stop_rx));
    (addr.to_string(), dir, stop, broker)
}

fn config(bootstrap: String, topic: &str) -> Config {
    Config {
        bootstrap,
        topic: topic.into(),
        partitions: 3,
        producers: 1,
        consumers: 1,
        message_size: 200,
        rate: 0.0,
        acks: -1,
        compression: Compression::None,
        batch_bytes: 16384,
        linger: Duration::from_millis(5),
        max_in_flight: 5,
        buffer_memory: 1 << 20,
        duration: None,
        messages: None,
        warmup: Duration::ZERO,
        consume_from_start: false,
        fetch_max_wait: Duration::from_millis(500),
        drain_timeout: Duration::from_secs(30),
        catchup_timeout: Duration::from_secs(60),
        broker_pid: None,
        progress: false,
        tags: BTreeMap::new(),
    }
}

/// The partitions' log end offsets, from the broker itself.
fn records_in(broker: &Broker, topic: &str, partitions: i32) -> i64 {
    (0..partitions)
        .map(|p| {
            let tp = strata_storage::checkpoint::TopicPartition::new(topic, p);
            broker
                .logs
                .partition(&tp)
                .map_or(0, |p| p.with_log(|l| l.log_end_offset()))
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counted_run_reports_what_the_broker_stored_and_the_consumer_read() {
    let (bootstrap, _dir, _stop, broker) = broker().await;
    let mut c = config(bootstrap, "counted");
    c.messages = Some(20_000);
    let report = load::run(c).await.expect("the run completes");

    assert_eq!(report.produced.messages, 20_000);
    assert_eq!(report.produced.bytes, 20_000 * 200);
    assert_eq!(report.produced.errors, 0);
    assert_eq!(
        records_in(&broker, "counted", 3),
        20_000,
        "every record stored once"
    );
    assert_eq!(report.consumed.messages, 20_000, "every record read back");
    assert_eq!(report.consumed.errors, 0);
    let e2e = report
        .e2e_latency_ms
        .as_ref()
        .expect("end-to-end latencies");
    let ack = report.ack_latency_ms.as_ref().expect("ack latencies");
    assert_eq!((e2e.count, ack.count), (20_000, 20_000));
    // A record is consumed after it is acknowledged, and a request's round
    // trip is part of its records' ack latency.
    assert!(e2e.max >= ack.p50, "{e2e:?} vs {ack:?}");
    let rtt = report
        .produce_request_latency_ms
        .as_ref()
        .expect("request round trips");
    assert!(rtt.count > 0 && rtt.count <= report.produce_requests);
    assert!(rtt.p50 <= ack.max, "{rtt:?} vs {ack:?}");
    // A request carries at most one batch of 16 KiB per partition.
    assert!(report.produce_requests * 3 * 16384 >= report.produced.bytes);

    // The JSON line compare.sh collects carries the same figures.
    let line: serde_json::Value = serde_json::from_str(&report.json_line()).unwrap();
    assert_eq!(line["produced"]["messages"], 20_000);
    assert_eq!(line["consumed"]["messages"], 20_000);
    assert_eq!(line["produce_request_latency_ms"]["count"], rtt.count);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_run_reads_everything_written_before_it() {
    let (bootstrap, _dir, _stop, broker) = broker().await;
    let mut c = config(bootstrap, "catchup");
    c.messages = Some(10_000);
    c.consume_from_start = true;
    let report = load::run(c).await.expect("the run completes");
    assert_eq!(report.produced.messages, 10_000);
    assert_eq!(records_in(&broker, "catchup", 3), 10_000);
    assert_eq!(report.consumed.messages, 10_000);
    assert_eq!(report.consumed.bytes, 10_000 * 200);
    assert!(
        report.e2e_latency_ms.is_none(),
        "a catch-up read has no e2e latency"
    );
}
