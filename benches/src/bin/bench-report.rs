//! `bench-report`: turns the JSON lines `benches/compare.sh` collects into
//! the Markdown tables of `BENCHMARKS.md`: each figure's median for Strata
//! and Kafka, the ratio Strata/Kafka (median of the per-repeat ratios) and
//! its spread (smallest and largest per-repeat ratio), and the machine's
//! limits with our throughput as a fraction of them.
//!
//! ```sh
//! bench-report table results.jsonl > table.md
//! bench-report median results.jsonl kafka max-1k produced.msg_per_s   # one number, for the script
//! ```
//!
//! Input lines (anything else is skipped):
//! - a run: `"tags"` with `broker` (strata|kafka), `workload` and `repeat`,
//!   and figures as nested objects (`produced.mib_per_s`, ...): what
//!   `strata-bench --tag ...` prints, and what compare.sh makes of Kafka's
//!   perf tools' output;
//! - a limit: `{"tool":"limit","name":...,"mib_per_s":...}`;
//! - a disk's sync latency: what `fsync-latency` prints, with `"when"`.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The figures shown, by JSON path, with their labels.
const FIGURES: &[(&str, &str)] = &[
    ("produced.mib_per_s", "produce MiB/s"),
    ("produced.msg_per_s", "produce msg/s"),
    ("rate_achieved", "share of the fixed rate achieved"),
    ("consumed.mib_per_s", "consume MiB/s"),
    ("e2e_latency_ms.p50", "e2e latency p50 ms"),
    ("e2e_latency_ms.p99", "e2e latency p99 ms"),
    ("e2e_latency_ms.p999", "e2e latency p99.9 ms"),
    ("e2e_latency_ms.max", "e2e latency max ms"),
    ("ack_latency_ms.p50", "ack latency p50 ms"),
    ("ack_latency_ms.p99", "ack latency p99 ms"),
    (
        "produce_request_latency_ms.p50",
        "produce request rtt p50 ms",
    ),
    (
        "produce_request_latency_ms.p99",
        "produce request rtt p99 ms",
    ),
    // Kafka's Java client's own figure (request-latency-avg), for its perf tool.
    (
        "produce_request_latency_ms.mean",
        "produce request latency mean ms",
    ),
    ("records_per_request", "records per produce request"),
    ("broker.cpu_s", "broker CPU s"),
    ("client.cpu_s", "client CPU s"),
    ("broker.peak_rss_mib", "broker peak RSS MiB"),
];

/// One run's figures, flattened to dotted paths.
#[derive(Debug)]
struct Run {
    broker: String,
    workload: String,
    repeat: String,
    figures: BTreeMap<String, f64>,
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, f64>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.insert(prefix.to_owned(), x);
            }
        }
        Value::Bool(b) => {
            out.insert(prefix.to_owned(), f64::from(u8::from(*b)));
        }
        _ => {}
    }
}

fn median(xs: &mut [f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

/// Whether a ratio meets a target.
type Check = fn(f64) -> bool;

/// The issue's target for this figure in this workload, as text and a check.
fn target(path: &str, figures: &BTreeMap<String, f64>) -> Option<(&'static str, Check)> {
    let rate = figures.get("config.rate").copied().unwrap_or(0.0);
    let catch_up = figures.get("config.consume_from_start").copied() == Some(1.0);
    match path {
        "produced.mib_per_s" if rate == 0.0 && !catch_up => Some((">= 1.5", |r| r >= 1.5)),
        "e2e_latency_ms.p99" if rate > 0.0 => Some(("<= 0.2", |r| r <= 0.2)),
        "consumed.mib_per_s" if catch_up => Some((">= 1.5", |r| r >= 1.5)),
        "broker.peak_rss_mib" => Some(("<= 0.1", |r| r <= 0.1)),
        _ => None,
    }
}

fn fmt_num(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "bench-report",
    about = "Tables from benches/compare.sh results"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The Markdown tables: figures side by side, then the machine's limits.
    Table { results: String },
    /// The median of one figure over the runs of a broker and workload.
    Median {
        results: String,
        broker: String,
        workload: String,
        /// Dotted JSON path, e.g. produced.msg_per_s.
        figure: String,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Table { results } => {
            let (runs, limits, workloads) = read(&results)?;
            print!("{}", table(&runs, &limits, &workloads));
            print!("{}", sync_latency(&results, &runs)?);
        }
        Command::Median {
            results,
            broker,
            workload,
            figure,
        } => {
            let (runs, _, _) = read(&results)?;
            let mut xs: Vec<f64> = runs
                .iter()
                .filter(|r| r.broker == broker && r.workload == workload)
                .filter_map(|r| r.figures.get(&figure).copied())
                .collect();
            let Some(m) = median(&mut xs) else {
                bail!("no {figure} for {broker} {workload} in {results}");
            };
            println!("{m}");
        }
    }
    Ok(())
}

type Limits = Vec<(String, f64)>;

/// The runs, the limits, and the workloads in order of first appearance.
fn read(path: &str) -> anyhow::Result<(Vec<Run>, Limits, Vec<String>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let mut runs = Vec::new();
    let mut limits: Vec<(String, f64)> = Vec::new();
    let mut workloads: Vec<String> = Vec::new();
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if value["tool"] == "limit" {
            if let (Some(name), Some(x)) = (value["name"].as_str(), value["mib_per_s"].as_f64()) {
                limits.push((name.to_owned(), x));
            }
            continue;
        }
        let tag = |k: &str| value["tags"][k].as_str().map(str::to_owned);
        let (Some(broker), Some(workload)) = (tag("broker"), tag("workload")) else {
            continue;
        };
        let mut figures = BTreeMap::new();
        flatten("", &value, &mut figures);
        // A run that only read (no producers) has no produce figures.
        if figures.get("config.producers") == Some(&0.0) {
            figures.retain(|k, _| !k.starts_with("produced."));
        }
        // Below 1, the broker could not take the rate and its latency is
        // that of a queue growing for the whole run.
        if let (Some(&rate), Some(&achieved)) = (
            figures.get("config.rate"),
            figures.get("produced.msg_per_s"),
        ) {
            if rate > 0.0 {
                figures.insert("rate_achieved".to_owned(), achieved / rate);
            }
        }
        if !workloads.contains(&workload) {
            workloads.push(workload.clone());
        }
        runs.push(Run {
            broker,
            workload,
            repeat: tag("repeat").unwrap_or_default(),
            figures,
        });
    }
    Ok((runs, limits, workloads))
}

/// The disk's write + fdatasync latency (fsync-latency's lines), and what
/// it means for the fixed-rate latency target.
fn sync_latency(path: &str, runs: &[Run]) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["tool"] == "fsync-latency")
        .collect();
    let mut out = String::new();
    if lines.is_empty() {
        return Ok(out);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "One write + fdatasync on the brokers' disk (`fsync-latency`), the floor under a durable ack:"
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| when | file | write bytes | syncs | p50 ms | p99 ms | p99.9 ms | max ms |"
    );
    let _ = writeln!(
        out,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let num = |v: &Value, k: &str| v[k].as_f64().map_or("-".into(), |x| format!("{x:.2}"));
    for v in &lines {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            v["when"].as_str().unwrap_or("-"),
            v["mode"].as_str().unwrap_or("-"),
            v["block"],
            v["syncs"],
            num(v, "p50_ms"),
            num(v, "p99_ms"),
            num(v, "p999_ms"),
            num(v, "max_ms"),
        );
    }
    let mut kafka_p99: Vec<f64> = runs
        .iter()
        .filter(|r| r.broker == "kafka" && r.figures.get("config.rate").is_some_and(|&x| x > 0.0))
        .filter_map(|r| r.figures.get("e2e_latency_ms.p99").copied())
        .collect();
    let sync_p99: Vec<f64> = lines
        .iter()
        .filter(|v| v["mode"] == "written-ahead")
        .filter_map(|v| v["p99_ms"].as_f64())
        .collect();
    if let (Some(kafka), Some(lo), Some(hi)) = (
        median(&mut kafka_p99),
        sync_p99.iter().copied().reduce(f64::min),
        sync_p99.iter().copied().reduce(f64::max),
    ) {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "The fixed-rate p99 target is {:.2} ms (a fifth of Kafka's median {:.2} ms), for a record \
             that waits for its batch, a request, a fdatasync and a fetch; one write + fdatasync \
             alone had a p99 of {lo:.2}-{hi:.2} ms on this disk in this run.",
            kafka / 5.0,
            kafka
        );
    }
    Ok(out)
}

fn table(runs: &[Run], limits: &[(String, f64)], workloads: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| workload | figure | Strata | Kafka | Strata/Kafka | spread | target |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | --- | --- |");
    for workload in workloads {
        let of = |broker: &str| -> Vec<&Run> {
            runs.iter()
                .filter(|r| &r.workload == workload && r.broker == broker)
                .collect()
        };
        let (strata, kafka) = (of("strata"), of("kafka"));
        for &(path, label) in FIGURES {
            let values = |rs: &[&Run]| -> Vec<f64> {
                rs.iter()
                    .filter_map(|r| r.figures.get(path).copied())
                    .collect()
            };
            let (mut s, mut k) = (values(&strata), values(&kafka));
            if s.is_empty() && k.is_empty() {
                continue;
            }
            // Pair the repeats: each ratio compares runs made back to back.
            let mut ratios: Vec<f64> = strata
                .iter()
                .filter_map(|sr| {
                    let kr = kafka.iter().find(|kr| kr.repeat == sr.repeat)?;
                    let (a, b) = (sr.figures.get(path)?, kr.figures.get(path)?);
                    (*b != 0.0).then(|| a / b)
                })
                .collect();
            let n = ratios.len();
            let ratio = median(&mut ratios);
            let spread = match (ratios.first(), ratios.last()) {
                (Some(lo), Some(hi)) if n > 1 => format!("{:.2}-{:.2} (n={n})", lo, hi),
                _ => format!("n={n}"),
            };
            let figures_of = strata.first().or(kafka.first()).map(|r| &r.figures);
            let target_text = match (figures_of.and_then(|f| target(path, f)), ratio) {
                (Some((text, ok)), Some(r)) => {
                    format!("{text} {}", if ok(r) { "met" } else { "**not met**" })
                }
                (Some((text, _)), None) => text.to_owned(),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "| {workload} | {label} | {} | {} | {} | {spread} | {target_text} |",
                median(&mut s).map_or("-".into(), fmt_num),
                median(&mut k).map_or("-".into(), fmt_num),
                ratio.map_or("-".into(), |r| format!("{r:.2}")),
            );
        }
    }

    if !limits.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Machine limits, measured in the same run:");
        let _ = writeln!(out);
        let _ = writeln!(out, "| limit | MiB/s |");
        let _ = writeln!(out, "| --- | ---: |");
        for (name, x) in limits {
            let _ = writeln!(out, "| {name} | {} |", fmt_num(*x));
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Median produce throughput at max rate as a fraction of each limit:"
        );
        let _ = writeln!(out);
        let header: Vec<&str> = limits.iter().map(|(n, _)| n.as_str()).collect();
        let _ = writeln!(
            out,
            "| workload | broker | produce MiB/s | {} |",
            header.join(" | ")
        );
        let _ = writeln!(
            out,
            "| --- | --- | ---: |{}",
            " ---: |".repeat(limits.len())
        );
        for workload in workloads {
            for broker in ["strata", "kafka"] {
                let mut xs: Vec<f64> = runs
                    .iter()
                    .filter(|r| &r.workload == workload && r.broker == broker)
                    .filter(|r| r.figures.get("config.rate").copied().unwrap_or(0.0) == 0.0)
                    .filter_map(|r| r.figures.get("produced.mib_per_s").copied())
                    .collect();
                let Some(m) = median(&mut xs) else { continue };
                let fractions: Vec<String> = limits
                    .iter()
                    .map(|(_, l)| format!("{:.0}%", 100.0 * m / l))
                    .collect();
                let _ = writeln!(
                    out,
                    "| {workload} | {broker} | {} | {} |",
                    fmt_num(m),
                    fractions.join(" | ")
                );
            }
        }
    }
    out
}
