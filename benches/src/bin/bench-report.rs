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
    table_head(
        &mut out,
        "One write + fdatasync on the brokers' disk (`fsync-latency`), the floor under a durable ack:",
        "| when | file | write bytes | syncs | p50 ms | p99 ms | p99.9 ms | max ms |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
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

/// The figures a control's table shows (of [`FIGURES`]): what the disk path
/// could move.
const CONTROL_FIGURES: &[&str] = &[
    "produced.mib_per_s",
    "e2e_latency_ms.p50",
    "e2e_latency_ms.p99",
    "produce_request_latency_ms.p50",
    "produce_request_latency_ms.p99",
    "produce_request_latency_ms.mean",
    "broker.cpu_s",
    "client.cpu_s",
];

/// One row per figure both brokers (or either) have for `workload`: each
/// broker's median, the median of the per-repeat ratios `a`/`b` and their
/// spread, and the issue's target where `targets` (the Strata/Kafka table;
/// otherwise only [`CONTROL_FIGURES`]).
fn rows(runs: &[Run], workload: &str, a: &str, b: &str, targets: bool) -> String {
    let mut out = String::new();
    let of = |broker: &str| -> Vec<&Run> {
        runs.iter()
            .filter(|r| r.workload == workload && r.broker == broker)
            .collect()
    };
    let (first, second) = (of(a), of(b));
    for &(path, label) in FIGURES {
        if !targets && !CONTROL_FIGURES.contains(&path) {
            continue;
        }
        let values = |rs: &[&Run]| -> Vec<f64> {
            rs.iter()
                .filter_map(|r| r.figures.get(path).copied())
                .collect()
        };
        let (mut x, mut y) = (values(&first), values(&second));
        if x.is_empty() && y.is_empty() {
            continue;
        }
        // Pair the repeats: each ratio compares runs made back to back.
        let mut ratios: Vec<f64> = first
            .iter()
            .filter_map(|fr| {
                let sr = second.iter().find(|sr| sr.repeat == fr.repeat)?;
                let (p, q) = (fr.figures.get(path)?, sr.figures.get(path)?);
                (*q != 0.0).then(|| p / q)
            })
            .collect();
        let n = ratios.len();
        let ratio = median(&mut ratios);
        let spread = match (ratios.first(), ratios.last()) {
            (Some(lo), Some(hi)) if n > 1 => format!("{:.2}-{:.2} (n={n})", lo, hi),
            _ => format!("n={n}"),
        };
        let target_text = if targets {
            let figures_of = first.first().or(second.first()).map(|r| &r.figures);
            match (figures_of.and_then(|f| target(path, f)), ratio) {
                (Some((text, ok)), Some(r)) => {
                    format!(" {text} {} |", if ok(r) { "met" } else { "**not met**" })
                }
                (Some((text, _)), None) => format!(" {text} |"),
                _ => "  |".to_owned(),
            }
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {workload} | {label} | {} | {} | {} | {spread} |{target_text}",
            median(&mut x).map_or("-".into(), fmt_num),
            median(&mut y).map_or("-".into(), fmt_num),
            ratio.map_or("-".into(), |r| format!("{r:.2}")),
        );
    }
    out
}

/// A table's opening: a blank line, the sentence that says what it shows,
/// a blank line, its header row and its alignment row.
fn table_head(out: &mut String, intro: &str, header: &str, align: &str) {
    let _ = writeln!(out, "\n{intro}\n\n{header}\n{align}");
}

/// The broker every control is set beside.
const CONTROLLED: &str = "strata";

fn table(runs: &[Run], limits: &[(String, f64)], workloads: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| workload | figure | Strata | Kafka | Strata/Kafka | spread | target |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | --- | --- |");
    for workload in workloads {
        out.push_str(&rows(runs, workload, "strata", "kafka", true));
    }

    // Controls: brokers other than the two compared, each beside Strata.
    let mut controls: Vec<&str> = Vec::new();
    for r in runs {
        if r.broker != CONTROLLED && r.broker != "kafka" && !controls.contains(&r.broker.as_str()) {
            controls.push(&r.broker);
        }
    }
    for control in controls {
        table_head(
            &mut out,
            &format!(
                "Control `{control}` beside durable Strata ({control}/Strata: the median of \
                 per-repeat ratios, runs back to back):"
            ),
            &format!("| workload | figure | {control} | Strata | {control}/Strata | spread |"),
            "| --- | --- | ---: | ---: | ---: | --- |",
        );
        for workload in workloads {
            if runs
                .iter()
                .any(|r| &r.workload == workload && r.broker == control)
            {
                out.push_str(&rows(runs, workload, control, CONTROLLED, false));
            }
        }
    }

    if !limits.is_empty() {
        table_head(
            &mut out,
            "Machine limits, measured in the same run:",
            "| limit | MiB/s |",
            "| --- | ---: |",
        );
        for (name, x) in limits {
            let _ = writeln!(out, "| {name} | {} |", fmt_num(*x));
        }
        let header: Vec<&str> = limits.iter().map(|(n, _)| n.as_str()).collect();
        table_head(
            &mut out,
            "Median produce throughput at max rate as a fraction of each limit:",
            &format!(
                "| workload | broker | produce MiB/s | {} |",
                header.join(" | ")
            ),
            &format!("| --- | --- | ---: |{}", " ---: |".repeat(limits.len())),
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
    if let Some(&(_, loopback)) = limits.iter().find(|(name, _)| name == "loopback TCP") {
        out.push_str(&consume_ceiling(runs, workloads, loopback));
    }
    out
}

/// `strata-bench`'s reads from the start against loopback TCP, which every
/// fetch response crosses: loopback / Kafka's median is the largest
/// Strata/Kafka ratio the machine leaves room for, were Strata to read at
/// the loopback's speed. (Kafka's ConsumerPerformance is left out: the Java
/// consumer, not the loopback, bounds it; its CPU is in the main table.)
fn consume_ceiling(runs: &[Run], workloads: &[String], loopback: f64) -> String {
    let mut out = String::new();
    let reads = |workload: &str, broker: &str| -> Vec<f64> {
        runs.iter()
            .filter(|r| r.workload == workload && r.broker == broker)
            .filter(|r| r.figures.get("config.consume_from_start") == Some(&1.0))
            .filter_map(|r| r.figures.get("consumed.mib_per_s").copied())
            .collect()
    };
    let mut lines = Vec::new();
    for workload in workloads {
        let (Some(s), Some(k)) = (
            median(&mut reads(workload, "strata")),
            median(&mut reads(workload, "kafka")),
        ) else {
            continue;
        };
        lines.push(format!(
            "| {workload} | {} | {} | {:.0}% | {:.0}% | {:.2} |",
            fmt_num(s),
            fmt_num(k),
            100.0 * s / loopback,
            100.0 * k / loopback,
            loopback / k,
        ));
    }
    if lines.is_empty() {
        return out;
    }
    table_head(
        &mut out,
        &format!(
            "Reads from the start against loopback TCP ({} MiB/s), which every fetch response \
             crosses; loopback/Kafka is the largest consume ratio this machine leaves room for:",
            fmt_num(loopback)
        ),
        "| workload | Strata MiB/s | Kafka MiB/s | Strata, of loopback | Kafka, of loopback | loopback/Kafka |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    );
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(broker: &str, workload: &str, repeat: &str, figures: &[(&str, f64)]) -> Run {
        Run {
            broker: broker.to_owned(),
            workload: workload.to_owned(),
            repeat: repeat.to_owned(),
            figures: figures.iter().map(|&(k, v)| (k.to_owned(), v)).collect(),
        }
    }

    /// The table row of `workload` and `label` in `text` (first match after
    /// `after`), split into cells.
    fn row<'a>(text: &'a str, after: &str, workload: &str, label: &str) -> Vec<&'a str> {
        let start = text.find(after).expect("section present");
        text[start..]
            .lines()
            .find(|l| l.starts_with(&format!("| {workload} | {label} |")))
            .expect("row present")
            .split('|')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect()
    }

    #[test]
    fn a_control_is_set_beside_strata_repeat_by_repeat() {
        let runs: Vec<Run> = [
            ("strata", "1", 80.0),
            ("kafka", "1", 40.0),
            ("strata-nosync", "1", 120.0),
            ("strata", "2", 100.0),
            ("kafka", "2", 50.0),
            ("strata-nosync", "2", 110.0),
        ]
        .into_iter()
        .map(|(broker, repeat, mib)| {
            // msg/s: a figure the main table shows and a control's does not.
            let figures = [
                ("produced.mib_per_s", mib),
                ("produced.msg_per_s", mib * 1e4),
            ];
            run(broker, "max-100b", repeat, &figures)
        })
        .collect();
        let text = table(&runs, &[], &["max-100b".to_owned()]);
        // The main table is Strata against Kafka only.
        let main = row(&text, "| workload", "max-100b", "produce MiB/s");
        assert_eq!(main[2..5], ["90.0", "45.0", "2.00"]);
        // The control: 120/80 and 110/100, median 1.30.
        let control = row(
            &text,
            "Control `strata-nosync`",
            "max-100b",
            "produce MiB/s",
        );
        assert_eq!(control[2..6], ["115", "90.0", "1.30", "1.10-1.50 (n=2)"]);
        // Figures a control does not speak to are left out of its table.
        let (main_table, controls) = text.split_at(text.find("Control").unwrap());
        assert!(main_table.contains("| max-100b | produce msg/s |"));
        assert!(!controls.contains("| max-100b | produce msg/s |"));
    }

    #[test]
    fn no_control_table_without_a_control() {
        let runs = vec![
            run("strata", "max-1k", "1", &[("produced.mib_per_s", 80.0)]),
            run("kafka", "max-1k", "1", &[("produced.mib_per_s", 40.0)]),
        ];
        let text = table(&runs, &[], &["max-1k".to_owned()]);
        assert!(!text.contains("Control"));
    }

    #[test]
    fn the_consume_ceiling_is_loopback_over_kafkas_read() {
        let from_start = ("config.consume_from_start", 1.0);
        let read = |broker, repeat, mib| {
            run(
                broker,
                "catchup",
                repeat,
                &[from_start, ("consumed.mib_per_s", mib)],
            )
        };
        let runs = vec![
            read("strata", "1", 900.0),
            read("kafka", "1", 1000.0),
            read("strata", "2", 1100.0),
            read("kafka", "2", 1200.0),
            // Not a read from the start: no row.
            run("strata", "max-1k", "1", &[("consumed.mib_per_s", 90.0)]),
            run("kafka", "max-1k", "1", &[("consumed.mib_per_s", 60.0)]),
        ];
        let limits = vec![("loopback TCP".to_owned(), 1650.0)];
        let text = table(&runs, &limits, &["catchup".to_owned(), "max-1k".to_owned()]);
        let ceiling = row(&text, "Reads from the start", "catchup", "1000");
        assert_eq!(ceiling, ["catchup", "1000", "1100", "61%", "67%", "1.50"]);
        let section = &text[text.find("Reads from the start").unwrap()..];
        assert!(!section.contains("| max-1k |"));
    }
}
