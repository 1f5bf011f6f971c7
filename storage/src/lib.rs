//! Partition logs on local disk.
//!
//! Owns: segment files (`{base_offset:020}.log`), the sparse offset and time
//! indexes, checkpoints, recovery after an unclean shutdown, retention and
//! durability (fdatasync with group commit).
//!
//! Never: knows a request or response type, runs a blocking syscall on an
//! async worker thread, or acknowledges a batch that a crash could take back.
//!
//! Modules:
//! - [`error`]: one error type, with paths, positions and offsets.
//! - [`fs`]: file access behind a trait (positional I/O, fdatasync), with a
//!   fault-injecting implementation for tests.
//! - [`names`]: file and directory names, as Kafka spells them.
//! - [`index`]: the sparse offset and time indexes.
//! - [`segment`]: one `.log` with its indexes: append, read, recover, truncate.
//! - [`log`]: a partition's segments and offsets: roll, retention, reads.
//! - [`manager`]: a log directory: storage threads, group commit, checkpoints,
//!   clean shutdown, offline on disk failure.
//! - [`checkpoint`]: Kafka's offset and leader-epoch checkpoint files.
//! - [`meta`]: `partition.metadata`, `meta.properties`, the clean-shutdown marker.
//! - [`producer_snapshot`]: producer-state `.snapshot` files.
//! - [`producer_state`]: idempotent producers' sequences per partition.

pub mod checkpoint;
pub mod error;
pub mod fs;
pub mod index;
pub mod log;
pub mod manager;
pub mod meta;
pub mod names;
pub mod producer_snapshot;
pub mod producer_state;
pub mod segment;

pub use error::{Error, Result};

/// The most a batch may decompress to when storage reads its records (for
/// time lookups): generous, but it keeps a hostile batch from exhausting memory.
pub const MAX_DECOMPRESSED_BATCH: usize = 64 * 1024 * 1024;
