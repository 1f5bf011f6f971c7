//! `fsync-latency`: how long one durable append takes on a disk, the floor
//! under any broker that acknowledges only what is on disk. Writes
//! `--block` bytes at the end of a file and fdatasyncs it, over and over,
//! for `--seconds`, in two ways:
//! - `growing`: each write makes the file longer, so ext4 commits its
//!   journal on every fdatasync (a log without preallocation);
//! - `written-ahead`: the file was filled with zeros and synced first, so
//!   each write lands inside it (what Strata's segments do).
//!
//! Prints a line for people and one JSON line per way, with the latency
//! percentiles in milliseconds.
//!
//! `fsync-latency --dir /var/lib/strata --seconds 3`

use anyhow::Context;
use clap::Parser;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "fsync-latency",
    about = "Latency of write + fdatasync on a disk"
)]
struct Cli {
    /// A directory on the disk to measure (a scratch file is made there).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Seconds per way.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Bytes per write (a producer's batch: 16 KiB by default).
    #[arg(long, default_value_t = 16 << 10)]
    block: usize,
}

/// Removes the scratch file however the run ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let run_for = Duration::from_secs_f64(cli.seconds.max(0.1));
    let path = cli
        .dir
        .join(format!(".fsync-latency-{}", std::process::id()));
    let _scratch = Scratch(path.clone());
    for (mode, write_ahead) in [("growing", false), ("written-ahead", true)] {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        let mut latencies = measure(&file, cli.block, run_for, write_ahead)
            .with_context(|| format!("writing {}", path.display()))?;
        latencies.sort_unstable();
        let at = |q: f64| {
            let i = ((latencies.len() as f64 * q) as usize).min(latencies.len() - 1);
            latencies[i].as_secs_f64() * 1000.0
        };
        let (p50, p99, p999, max) = (at(0.5), at(0.99), at(0.999), at(1.0));
        println!(
            "{mode}: {} syncs of {} B, p50 {p50:.3} p99 {p99:.3} p99.9 {p999:.3} max {max:.3} ms",
            latencies.len(),
            cli.block
        );
        println!(
            "{{\"tool\":\"fsync-latency\",\"mode\":\"{mode}\",\"block\":{},\"syncs\":{},\"p50_ms\":{p50:.3},\"p99_ms\":{p99:.3},\"p999_ms\":{p999:.3},\"max_ms\":{max:.3}}}",
            cli.block,
            latencies.len()
        );
    }
    Ok(())
}

/// Zeros written ahead at a time, as a busy Strata segment does.
const WRITE_AHEAD: u64 = 4 << 20;

/// Appends `block`-byte writes with an fdatasync after each until
/// `run_for` has passed; the time of each write + fdatasync (with the
/// zeros written ahead when they run short, as Strata's append does).
fn measure(
    file: &File,
    block: usize,
    run_for: Duration,
    write_ahead: bool,
) -> std::io::Result<Vec<Duration>> {
    let data = vec![b'x'; block.max(1)];
    let zeros = vec![0u8; WRITE_AHEAD as usize];
    let mut file_len = 0u64;
    if write_ahead {
        file.write_all_at(&zeros, 0)?;
        file.sync_data()?;
        file_len = WRITE_AHEAD;
    }
    let mut latencies = Vec::new();
    let mut position = 0u64;
    let start = Instant::now();
    while start.elapsed() < run_for {
        let t = Instant::now();
        let end = position + data.len() as u64;
        if write_ahead && end + WRITE_AHEAD / 2 > file_len {
            file.write_all_at(&zeros, file_len)?;
            file_len += WRITE_AHEAD;
        }
        file.write_all_at(&data, position)?;
        file.sync_data()?;
        latencies.push(t.elapsed());
        position = end;
    }
    Ok(latencies)
}
