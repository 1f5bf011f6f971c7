//! Record batches, magic v2: the unit a producer sends, the log stores and a
//! consumer fetches.
//!
//! Owns: reading and checking a batch header ([`BatchHeader`], [`RecordBatch`]),
//! the few header edits a broker makes when it appends ([`RecordBatchMut`]),
//! splitting a record set into batches ([`Batches`]), reading records lazily
//! ([`Records`]), building batches ([`RecordBatchBuilder`]), transaction
//! markers ([`control`]) and the compression codecs ([`compression`]).
//!
//! Never: reads magic v0/v1 message sets (refused with
//! [`RecordsError::UnsupportedMagic`]), panics on any input, or decompresses
//! past the limit its caller passes.
//!
//! Batch header, 61 bytes, big-endian:
//!
//! ```text
//!    0..8   baseOffset            i64  offset of the first record
//!    8..12  batchLength           i32  bytes after this field (total - 12)
//!   12..16  partitionLeaderEpoch  i32  set by the leader on append
//!   16..17  magic                 i8   2
//!   17..21  crc                   u32  CRC-32C of bytes 21..end
//!   21..23  attributes            i16  see below
//!   23..27  lastOffsetDelta       i32  offset of the last record - baseOffset
//!   27..35  baseTimestamp         i64  (the delete horizon when bit 6 is set)
//!   35..43  maxTimestamp          i64  (the append time under LogAppendTime)
//!   43..51  producerId            i64  -1 when not idempotent
//!   51..53  producerEpoch         i16  -1 when not idempotent
//!   53..57  baseSequence          i32  -1 when not idempotent
//!   57..61  recordsCount          i32
//!   61..    records, compressed as a whole when the codec is not none
//! ```
//!
//! Attributes: bits 0-2 codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd),
//! bit 3 timestamp type (1 = LogAppendTime), bit 4 transactional, bit 5
//! control, bit 6 hasDeleteHorizonMs; the rest are zero.
//!
//! The CRC starts at the attributes so that the leader can set
//! `baseOffset` and `partitionLeaderEpoch` without recomputing it.
//!
//! Record, every integer a zig-zag varint unless said:
//!
//! ```text
//!   length          varint   bytes after this field
//!   attributes      i8       unused, 0
//!   timestampDelta  varlong  from baseTimestamp
//!   offsetDelta     varint   from baseOffset
//!   keyLength       varint   -1 for a null key
//!   key             bytes
//!   valueLength     varint   -1 for a null value
//!   value           bytes
//!   headersCount    varint
//!   headers: headerKeyLength varint, headerKey (UTF-8),
//!            headerValueLength varint (-1 null), headerValue
//! ```
//!
//! A typical read, as a test or the produce path does it:
//!
//! ```
//! # use strata_protocol::records::*;
//! # use bytes::Bytes;
//! let mut builder = RecordBatchBuilder::new(Compression::Zstd);
//! let (key, value) = (Bytes::from("key"), Bytes::from("value"));
//! builder.append(1_700_000_000_000, Some(key), Some(value), vec![]).unwrap();
//! let bytes = builder.build().unwrap().into_bytes();
//!
//! let batch = RecordBatch::new(bytes).unwrap();
//! batch.verify_crc().unwrap();
//! for record in batch.records(1 << 20).unwrap() {
//!     assert_eq!(record.unwrap().value.as_deref(), Some(&b"value"[..]));
//! }
//! ```

mod batch;
mod builder;
pub mod compression;
pub mod control;
mod record;

pub use batch::{BatchHeader, Batches, RecordBatch, RecordBatchMut, TimestampType, batches};
pub use builder::RecordBatchBuilder;
pub use compression::Compression;
pub use control::{ControlRecordKey, ControlRecordType, EndTransactionMarker};
pub use record::{Header, Record, Records};

use thiserror::Error;

use crate::error::{DecodeError, Malformed};

/// Bytes before `batchLength` counts: baseOffset and batchLength itself.
pub const LOG_OVERHEAD: usize = 12;
/// Size of the v2 batch header; the records start here.
pub const HEADER_SIZE: usize = 61;
/// The only batch format this crate reads or writes.
pub const MAGIC: i8 = 2;
/// The CRC covers the batch from the attributes field to its end.
pub const CRC_RANGE_START: usize = 21;
/// `producerId`, `producerEpoch` and `baseSequence` of a non-idempotent batch.
pub const NO_PRODUCER_ID: i64 = -1;
pub const NO_PRODUCER_EPOCH: i16 = -1;
pub const NO_SEQUENCE: i32 = -1;
/// Timestamp of a batch that has none (an empty one).
pub const NO_TIMESTAMP: i64 = -1;

/// Why a batch, record or compressed payload cannot be read or written.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RecordsError {
    /// Fewer bytes than the field at hand needs, inside a batch that claims
    /// to be complete.
    #[error("{field} needs {needed} bytes but only {remaining} remain")]
    Truncated {
        field: &'static str,
        needed: usize,
        remaining: usize,
    },
    /// A record set ends inside a batch. Fetch responses may end like this
    /// (clients drop the tail); a produce request must not.
    #[error(
        "record set ends inside a batch at byte {position}: {needed} bytes needed, {available} there"
    )]
    PartialBatch {
        position: usize,
        needed: usize,
        available: usize,
    },
    #[error("batch magic {0} is not supported (only magic 2)")]
    UnsupportedMagic(i8),
    #[error("batchLength {batch_length} is not that of a batch of {actual} bytes")]
    BatchLength { batch_length: i32, actual: usize },
    #[error("compression codec {0} is unknown")]
    UnknownCompression(u8),
    #[error("batch CRC is {expected:#010x} but its bytes give {actual:#010x}")]
    CrcMismatch { expected: u32, actual: u32 },
    #[error("{codec} payload cannot be decompressed: {reason}")]
    Decompression { codec: Compression, reason: String },
    #[error("{codec} payload decompresses to more than the {limit}-byte limit")]
    DecompressedTooLarge { codec: Compression, limit: usize },
    #[error("{codec} compression failed: {reason}")]
    Compression { codec: Compression, reason: String },
    /// A record inside the batch is malformed; `index` counts from 0.
    #[error("record {index}: malformed {field}: {reason}")]
    Record {
        index: usize,
        field: &'static str,
        reason: Malformed,
    },
    #[error("the header says {declared} records but the batch holds {actual}")]
    RecordCount { declared: i32, actual: usize },
    #[error("{count} bytes left over after the last record")]
    TrailingBytes { count: usize },
    /// Offset deltas must rise strictly and stay within lastOffsetDelta.
    #[error(
        "record {index} has offset delta {offset_delta} after {previous:?} (lastOffsetDelta {last_offset_delta})"
    )]
    OffsetDelta {
        index: usize,
        offset_delta: i32,
        previous: Option<i32>,
        last_offset_delta: i32,
    },
    #[error("malformed {field}: {reason}")]
    Malformed {
        field: &'static str,
        reason: &'static str,
    },
    /// A value the builder was given does not fit the wire format.
    #[error("{field} is {value}, which a batch cannot carry")]
    TooLarge { field: &'static str, value: u64 },
}

impl RecordsError {
    pub(crate) fn record(index: usize, field: &'static str, err: DecodeError) -> Self {
        let reason = match err {
            DecodeError::Malformed { reason, .. } => reason,
            DecodeError::Incomplete { needed } => Malformed::Truncated {
                needed,
                remaining: 0,
            },
        };
        RecordsError::Record {
            index,
            field,
            reason,
        }
    }
}
