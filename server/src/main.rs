//! The `strata` binary.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "strata", version, about = "A Kafka-compatible streaming store")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a single broker (not built yet: issue #4).
    Serve,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Serve => {
            eprintln!("strata serve: the broker is not built yet (issue #4); nothing was started");
            ExitCode::FAILURE
        }
    }
}
