//! The `strata` binary.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

use strata_server::broker::Broker;
use strata_server::config::BrokerConfig;

#[derive(Debug, Parser)]
#[command(name = "strata", version, about = "A Kafka-compatible streaming store")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a single broker. With no options: data in ./strata-data, clients on localhost:9092.
    Serve {
        /// Where the logs and metadata live (Kafka's `log.dirs`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// A Kafka `server.properties` file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// A Kafka config key, e.g. `--set num.partitions=3`; repeatable, wins over --config.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .init();
    match Cli::parse().command {
        Command::Serve {
            data_dir,
            config,
            set,
        } => serve(data_dir, config, set),
    }
}

fn serve(
    data_dir: Option<PathBuf>,
    config: Option<PathBuf>,
    set: Vec<String>,
) -> anyhow::Result<()> {
    let mut pairs = Vec::new();
    if let Some(path) = &config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        pairs.extend(BrokerConfig::parse_properties(&text));
    }
    for kv in &set {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set {kv}: expected KEY=VALUE"))?;
        pairs.push((k.to_owned(), v.to_owned()));
    }
    let config = BrokerConfig::from_pairs(&pairs, data_dir).map_err(anyhow::Error::msg)?;
    if !config.unknown_keys.is_empty() {
        tracing::warn!(keys = ?config.unknown_keys, "these config keys are not used by strata");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listen = (config.listener.host.clone(), config.listener.port);
        let broker = tokio::task::spawn_blocking(move || Broker::open(config)).await??;
        let socket = tokio::net::TcpSocket::new_v4()?;
        // Restarting right after a crash must be able to bind again.
        socket.set_reuseaddr(true)?;
        let addr = tokio::net::lookup_host(&listen)
            .await?
            .find(std::net::SocketAddr::is_ipv4)
            .with_context(|| format!("{}:{} does not resolve to an IPv4 address", listen.0, listen.1))?;
        socket.bind(addr).with_context(|| format!("binding {addr}"))?;
        let listener = socket.listen(1024)?;
        tracing::info!(
            %addr,
            advertised = %format!("{}:{}", broker.config.advertised.host, broker.config.advertised.port),
            data_dir = %broker.config.data_dir.display(),
            "strata is serving"
        );
        // Group timeouts, offset retention and compaction of
        // __consumer_offsets run from the start, not only once a client
        // uses groups.
        broker.groups.start_ticker(&broker);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let server = tokio::spawn(strata_server::net::serve(broker.clone(), listener, stop_rx));
        let retention = {
            let broker = broker.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(broker.config.retention_check_interval);
                loop {
                    tick.tick().await;
                    let b = broker.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        if let Err(e) = b.logs.apply_retention(strata_server::broker::now_ms()) {
                            tracing::warn!(error = %e, "retention failed");
                        }
                        if let Err(e) = b.logs.checkpoint() {
                            tracing::warn!(error = %e, "checkpoint failed");
                        }
                    })
                    .await;
                }
            })
        };
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        retention.abort();
        let _ = server.await;
        // Let in-flight requests finish their appends before the logs close.
        // Requests still running after that (a long-polling Fetch, a group
        // member's timer) keep the broker alive but not the logs: from here
        // they refuse writes, so the shutdown below is clean either way.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let closing = broker.clone();
        tokio::task::spawn_blocking(move || closing.logs.shutdown())
            .await?
            .context("flushing the logs")?;
        tracing::info!("stopped cleanly");
        anyhow::Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
