//! Storage errors. Each carries what a person needs to act on it: the file,
//! the position, the offsets.

use std::io;
use std::path::PathBuf;
use thiserror::Error;

use strata_protocol::records::RecordsError;

#[derive(Debug, Error)]
pub enum Error {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the disk holding {path} is full")]
    DiskFull { path: PathBuf },
    #[error("{path} is corrupt at byte {position}: {reason}")]
    Corrupt {
        path: PathBuf,
        position: u64,
        reason: String,
    },
    #[error("offset {requested} is out of range: the log holds {log_start} up to {log_end}")]
    OffsetOutOfRange {
        requested: i64,
        log_start: i64,
        log_end: i64,
    },
    #[error("batch refused: {0}")]
    InvalidBatch(#[from] RecordsError),
    #[error("record refused: {0}")]
    InvalidRecord(String),
    #[error("timestamp {timestamp} is out of the accepted range: {reason}")]
    InvalidTimestamp {
        timestamp: i64,
        reason: &'static str,
    },
    #[error("{0}")]
    OutOfOrderSequence(String),
    #[error("{0}")]
    InvalidProducerEpoch(String),
    #[error("batch of {size} bytes is larger than the limit of {max}")]
    BatchTooLarge { size: usize, max: usize },
    /// The records of one append do not fit in a segment (`segment.bytes`):
    /// Kafka's RECORD_LIST_TOO_LARGE, not MESSAGE_TOO_LARGE.
    #[error("records of {size} bytes do not fit in a segment of {max} bytes")]
    LargerThanSegment { size: usize, max: usize },
    #[error("log directory {path} is offline after an earlier I/O error; it takes no more writes")]
    LogDirOffline { path: PathBuf },
    #[error("{0}")]
    InvalidArgument(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an I/O error, telling a full disk apart (ENOSPC, EDQUOT).
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        let path = path.into();
        match source.raw_os_error() {
            Some(28) | Some(122) => Error::DiskFull { path },
            _ => Error::Io { path, source },
        }
    }

    /// Whether this error means the disk can no longer be trusted with
    /// writes (the log directory goes offline).
    pub fn is_disk_failure(&self) -> bool {
        matches!(self, Error::Io { .. } | Error::LogDirOffline { .. })
    }
}
