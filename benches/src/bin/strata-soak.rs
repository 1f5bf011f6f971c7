//! `strata-soak`: hours-long behaviour in minutes. Many connections produce
//! and consume at a fixed rate; every record is checked (count, partition,
//! order) and the broker's RSS and open files are sampled from `/proc`.
//! See `strata_benches::soak` for what a run does; `benches/soak.sh` starts
//! a broker, raises `ulimit -n` and runs this against it.
//!
//! ```sh
//! strata-soak --bootstrap 127.0.0.1:9092 --broker-pid "$(pgrep -n strata)" \
//!     --partitions 1000 --producers 500 --consumers 500 --rate 1000 --duration 600
//! ```
//!
//! Progress goes to stderr every `--sample-secs`; the summary and then one
//! JSON line (starting with `{`) go to stdout. Exits 1 if the run failed.

use anyhow::bail;
use clap::Parser;
use std::time::Duration;

use strata_benches::soak::{self, Config};

#[derive(Debug, Parser)]
#[command(
    name = "strata-soak",
    version,
    about = "Sustained produce and consume with many connections; checks every record and the broker's RSS and open files"
)]
struct Cli {
    /// host:port of the broker.
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap: String,
    /// The broker's process id, for VmRSS and /proc/PID/fd.
    #[arg(long)]
    broker_pid: u32,
    #[arg(long, default_value = "strata-soak")]
    topic: String,
    /// Partitions to create the topic with when it does not exist.
    #[arg(long, default_value_t = 1000)]
    partitions: i32,
    /// Producer connections (partitions are dealt round-robin over them).
    #[arg(long, default_value_t = 500)]
    producers: usize,
    /// Consumer connections (partitions are dealt round-robin over them).
    #[arg(long, default_value_t = 500)]
    consumers: usize,
    /// Records per second over all producers.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Bytes of each record's value (at least 20).
    #[arg(long, default_value_t = 256)]
    message_size: usize,
    /// A producer sends what came due this often (one request in flight).
    #[arg(long, default_value_t = 100)]
    linger_ms: u64,
    /// 0, 1, or all (-1).
    #[arg(long, default_value = "all", value_parser = parse_acks)]
    acks: i16,
    /// Seconds records are created, warm-up included.
    #[arg(long, default_value_t = 600.0)]
    duration: f64,
    /// Seconds at the start left out of the flatness verdict.
    #[arg(long, default_value_t = 60.0)]
    warmup: f64,
    /// Seconds between samples of the broker (and progress lines).
    #[arg(long, default_value_t = 5.0)]
    sample_secs: f64,
    /// Fetch max_wait_ms (long-polling); min_bytes is 1.
    #[arg(long, default_value_t = 500)]
    fetch_max_wait_ms: u64,
    /// Seconds consumers may take to read the last records.
    #[arg(long, default_value_t = 60.0)]
    drain_timeout: f64,
    /// Percent the second half's largest RSS may exceed the first half's.
    #[arg(long, default_value_t = 10.0)]
    rss_tolerance_pct: f64,
    /// How far the open-file count may range over the steady state.
    #[arg(long, default_value_t = 0)]
    fd_tolerance: u64,
}

fn parse_acks(s: &str) -> Result<i16, String> {
    match s {
        "all" | "-1" => Ok(-1),
        "0" => Ok(0),
        "1" => Ok(1),
        other => Err(format!("acks must be 0, 1 or all, not {other:?}")),
    }
}

use strata_benches::load::seconds;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.acks == 0 {
        // Without responses nothing says where records landed.
        bail!("--acks 0 cannot be checked: use 1 or all");
    }
    if !(cli.rss_tolerance_pct.is_finite() && cli.rss_tolerance_pct >= 0.0) {
        bail!("--rss-tolerance-pct must be a non-negative number");
    }
    let config = Config {
        bootstrap: cli.bootstrap,
        topic: cli.topic,
        partitions: cli.partitions,
        producers: cli.producers,
        consumers: cli.consumers,
        rate: cli.rate,
        message_size: cli.message_size,
        linger: Duration::from_millis(cli.linger_ms.max(1)),
        acks: cli.acks,
        duration: seconds("duration", cli.duration)?,
        warmup: seconds("warmup", cli.warmup)?,
        sample_interval: seconds("sample-secs", cli.sample_secs)?.max(Duration::from_millis(100)),
        fetch_max_wait: Duration::from_millis(cli.fetch_max_wait_ms),
        drain_timeout: seconds("drain-timeout", cli.drain_timeout)?,
        broker_pid: cli.broker_pid,
        rss_tolerance: cli.rss_tolerance_pct / 100.0,
        fd_tolerance: cli.fd_tolerance,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(soak::run(config))?;
    print!("{}", report.table());
    println!("{}", report.json_line());
    if !report.passed() {
        std::process::exit(1);
    }
    Ok(())
}
