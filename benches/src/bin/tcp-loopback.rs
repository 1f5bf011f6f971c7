//! `tcp-loopback`: how fast this machine moves bytes over loopback TCP, the
//! ceiling for any broker benchmarked on it with the client on the same
//! host. One writer thread sends 256 KiB writes for `--seconds`; one reader
//! thread per connection counts them. Prints a line for people and one JSON
//! line.
//!
//! `tcp-loopback --seconds 3 --connections 1`

use anyhow::Context;
use clap::Parser;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

const CHUNK: usize = 256 << 10;

#[derive(Debug, Parser)]
#[command(name = "tcp-loopback", about = "Loopback TCP throughput")]
struct Cli {
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Parallel connections, each with a writer and a reader thread.
    #[arg(long, default_value_t = 1)]
    connections: usize,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let run_for = Duration::from_secs_f64(cli.seconds.max(0.1));
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
    let addr = listener.local_addr()?;
    let start = Instant::now();
    let mut readers = Vec::new();
    let mut writers = Vec::new();
    for _ in 0..cli.connections.max(1) {
        let mut out = TcpStream::connect(addr).context("connecting over loopback")?;
        let (mut input, _) = listener.accept()?;
        writers.push(std::thread::spawn(move || -> std::io::Result<()> {
            let buf = vec![b'x'; CHUNK];
            while start.elapsed() < run_for {
                out.write_all(&buf)?;
            }
            Ok(())
        }));
        readers.push(std::thread::spawn(move || -> std::io::Result<u64> {
            let mut buf = vec![0u8; CHUNK];
            let mut total = 0u64;
            loop {
                match input.read(&mut buf)? {
                    0 => return Ok(total),
                    n => total += n as u64,
                }
            }
        }));
    }
    for w in writers {
        w.join().expect("writer thread panicked")?;
    }
    let mut bytes = 0;
    for r in readers {
        bytes += r.join().expect("reader thread panicked")?;
    }
    let secs = start.elapsed().as_secs_f64();
    let mib_per_s = bytes as f64 / 1_048_576.0 / secs;
    println!(
        "loopback TCP, {} connection(s): {mib_per_s:.0} MiB/s ({bytes} bytes in {secs:.2} s)",
        cli.connections
    );
    println!(
        "{{\"tool\":\"tcp-loopback\",\"connections\":{},\"mib_per_s\":{mib_per_s:.1},\"seconds\":{secs:.3}}}",
        cli.connections
    );
    Ok(())
}
