//! `strata-bench`: end-to-end load against a Kafka-compatible broker (Strata
//! or Apache Kafka), through Strata's own codec. See `strata_benches::load`
//! for what a run does and `benches/README.md` for the workloads.
//!
//! ```sh
//! strata-bench --bootstrap 127.0.0.1:9092 --partitions 6 --message-size 1024 \
//!     --acks all --duration 30 --warmup 5 --broker-pid "$(pgrep -n strata)"
//! ```
//!
//! Progress goes to stderr once a second; the table and then one JSON line
//! (starting with `{`) go to stdout.

use anyhow::bail;
use clap::Parser;
use std::collections::BTreeMap;
use std::time::Duration;

use strata_benches::load::{self, Config};
use strata_protocol::records::Compression;

#[derive(Debug, Parser)]
#[command(
    name = "strata-bench",
    version,
    about = "End-to-end load against a Kafka-compatible broker"
)]
struct Cli {
    /// host:port of the broker (a single node: every partition is led there).
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap: String,
    #[arg(long, default_value = "strata-bench")]
    topic: String,
    /// Partitions to create the topic with when it does not exist.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    #[arg(long, default_value_t = 1)]
    producers: usize,
    #[arg(long, default_value_t = 1)]
    consumers: usize,
    /// Bytes of each record's value (the first 8 carry its send time).
    #[arg(long, default_value_t = 1024)]
    message_size: usize,
    /// Records per second over all producers; 0: as fast as possible.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// 0, 1, or all (-1).
    #[arg(long, default_value = "all", value_parser = parse_acks)]
    acks: i16,
    /// none, gzip, snappy, lz4 or zstd.
    #[arg(long, default_value = "none", value_parser = parse_compression)]
    compression: Compression,
    /// Kafka's batch.size.
    #[arg(long, default_value_t = 16_384)]
    batch_bytes: usize,
    /// Kafka's linger.ms (5 by default since Kafka 4.0).
    #[arg(long, default_value_t = 5)]
    linger_ms: u64,
    /// Produce requests in flight per producer connection (Kafka: 5).
    #[arg(long, default_value_t = 5)]
    max_in_flight: usize,
    /// Kafka's buffer.memory: at max rate, bytes of batches a producer
    /// holds unacknowledged before it stops creating records (Kafka: 32 MiB).
    #[arg(long, default_value_t = 32 << 20)]
    buffer_memory: usize,
    /// Seconds of measured production after the warm-up (30 when neither
    /// this nor --messages is given).
    #[arg(long)]
    duration: Option<f64>,
    /// Measured records to produce over all producers.
    #[arg(long)]
    messages: Option<u64>,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Fill the topic first, then time consumers reading it from offset 0.
    #[arg(long)]
    consume_from_start: bool,
    /// Fetch max_wait_ms (long-polling); min_bytes is 1.
    #[arg(long, default_value_t = 500)]
    fetch_max_wait_ms: u64,
    /// Seconds the consumers may take to catch up once producers are done.
    #[arg(long, default_value_t = 30.0)]
    drain_timeout: f64,
    /// Seconds a --consume-from-start read may take.
    #[arg(long, default_value_t = 600.0)]
    catchup_timeout: f64,
    /// Report this process's CPU seconds and peak RSS (from /proc).
    #[arg(long)]
    broker_pid: Option<u32>,
    /// key=value added to the JSON line's "tags"; repeatable.
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
    /// No progress lines.
    #[arg(long, short)]
    quiet: bool,
    /// Create the topic and exit.
    #[arg(long)]
    create_topic_only: bool,
}

fn parse_acks(s: &str) -> Result<i16, String> {
    match s {
        "all" | "-1" => Ok(-1),
        "0" => Ok(0),
        "1" => Ok(1),
        other => Err(format!("acks must be 0, 1 or all, not {other:?}")),
    }
}

fn parse_compression(s: &str) -> Result<Compression, String> {
    Compression::ALL
        .into_iter()
        .find(|c| c.name() == s)
        .ok_or_else(|| format!("compression must be none, gzip, snappy, lz4 or zstd, not {s:?}"))
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("--tag {s:?}: expected KEY=VALUE"))
}

use strata_benches::load::seconds;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.producers == 0 && !cli.consume_from_start && !cli.create_topic_only {
        bail!("--producers 0 only makes sense with --consume-from-start");
    }
    if !(cli.rate.is_finite() && cli.rate >= 0.0) {
        bail!("--rate must be a non-negative number");
    }
    let config = Config {
        bootstrap: cli.bootstrap,
        topic: cli.topic,
        partitions: cli.partitions,
        producers: cli.producers,
        consumers: cli.consumers,
        message_size: cli.message_size,
        rate: cli.rate,
        acks: cli.acks,
        compression: cli.compression,
        batch_bytes: cli.batch_bytes,
        linger: Duration::from_millis(cli.linger_ms),
        max_in_flight: cli.max_in_flight,
        buffer_memory: cli.buffer_memory,
        duration: cli.duration.map(|d| seconds("duration", d)).transpose()?,
        messages: cli.messages,
        warmup: seconds("warmup", cli.warmup)?,
        consume_from_start: cli.consume_from_start,
        fetch_max_wait: Duration::from_millis(cli.fetch_max_wait_ms),
        drain_timeout: seconds("drain-timeout", cli.drain_timeout)?,
        catchup_timeout: seconds("catchup-timeout", cli.catchup_timeout)?,
        broker_pid: cli.broker_pid,
        progress: !cli.quiet,
        tags: cli.tags.into_iter().collect::<BTreeMap<_, _>>(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        if cli.create_topic_only {
            let mut conn =
                load::client::Connection::connect(&config.bootstrap, "strata-bench-setup").await?;
            let n = conn.ensure_topic(&config.topic, config.partitions).await?;
            println!("topic {} has {n} partitions", config.topic);
            return Ok(());
        }
        let report = load::run(config).await?;
        print!("{}", report.table());
        println!("{}", report.json_line());
        Ok(())
    })
}
