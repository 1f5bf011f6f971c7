//! Control records: transaction markers.
//!
//! A control batch (attribute bit 5) holds one record whose key names its
//! type and whose value the type defines. Consumers never see them as data.
//!
//! ```text
//!   key, 4 bytes:    0..2 version i16 (0)   2..4 type i16 (0 abort, 1 commit)
//!   value, 6 bytes:  0..2 version i16 (0)   2..6 coordinatorEpoch i32
//! ```
//!
//! A transaction marker batch is transactional and control, uncompressed,
//! CreateTime, with the producer's id and epoch and no sequence, as
//! Kafka's `MemoryRecords.withEndTransactionMarker` writes it. Readers accept
//! key and value versions above 0 and ignore bytes past the fields they
//! know, as Kafka does, so a newer writer's markers still read.

use bytes::{BufMut, Bytes, BytesMut};

use super::{Compression, NO_SEQUENCE, Record, RecordBatch, RecordBatchBuilder, RecordsError};

/// What a control record is, from its key. Kafka's KRaft metadata log uses
/// other types (leader change, snapshot header and footer, voters) that a
/// data partition never holds; they read as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    Abort,
    Commit,
    Other(i16),
}

impl ControlRecordType {
    pub fn id(self) -> i16 {
        match self {
            ControlRecordType::Abort => 0,
            ControlRecordType::Commit => 1,
            ControlRecordType::Other(id) => id,
        }
    }

    pub fn from_id(id: i16) -> Self {
        match id {
            0 => ControlRecordType::Abort,
            1 => ControlRecordType::Commit,
            other => ControlRecordType::Other(other),
        }
    }
}

/// A control record's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlRecordKey {
    pub version: i16,
    pub kind: ControlRecordType,
}

fn i16_at(bytes: &[u8], from: usize, field: &'static str) -> Result<i16, RecordsError> {
    bytes
        .get(from..from + 2)
        .and_then(|b| b.first_chunk::<2>())
        .map(|b| i16::from_be_bytes(*b))
        .ok_or(RecordsError::Truncated {
            field,
            needed: from + 2,
            remaining: bytes.len(),
        })
}

fn i32_at(bytes: &[u8], from: usize, field: &'static str) -> Result<i32, RecordsError> {
    bytes
        .get(from..from + 4)
        .and_then(|b| b.first_chunk::<4>())
        .map(|b| i32::from_be_bytes(*b))
        .ok_or(RecordsError::Truncated {
            field,
            needed: from + 4,
            remaining: bytes.len(),
        })
}

impl ControlRecordKey {
    pub const CURRENT_VERSION: i16 = 0;

    pub fn new(kind: ControlRecordType) -> Self {
        ControlRecordKey {
            version: Self::CURRENT_VERSION,
            kind,
        }
    }

    pub fn parse(key: &[u8]) -> Result<Self, RecordsError> {
        let version = i16_at(key, 0, "control record key version")?;
        if version < 0 {
            return Err(RecordsError::Malformed {
                field: "control record key version",
                reason: "negative",
            });
        }
        let kind = ControlRecordType::from_id(i16_at(key, 2, "control record type")?);
        Ok(ControlRecordKey { version, kind })
    }

    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(4);
        out.put_i16(self.version);
        out.put_i16(self.kind.id());
        out.freeze()
    }
}

/// The end of a transaction on one partition: COMMIT or ABORT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndTransactionMarker {
    /// `Commit` or `Abort`, never `Other`.
    kind: ControlRecordType,
    pub coordinator_epoch: i32,
}

impl EndTransactionMarker {
    pub const CURRENT_VERSION: i16 = 0;

    pub fn commit(coordinator_epoch: i32) -> Self {
        EndTransactionMarker {
            kind: ControlRecordType::Commit,
            coordinator_epoch,
        }
    }

    pub fn abort(coordinator_epoch: i32) -> Self {
        EndTransactionMarker {
            kind: ControlRecordType::Abort,
            coordinator_epoch,
        }
    }

    pub fn kind(&self) -> ControlRecordType {
        self.kind
    }

    pub fn is_commit(&self) -> bool {
        self.kind == ControlRecordType::Commit
    }

    /// Reads a marker from a control record's key and value.
    pub fn parse(key: &[u8], value: &[u8]) -> Result<Self, RecordsError> {
        let key = ControlRecordKey::parse(key)?;
        if !matches!(
            key.kind,
            ControlRecordType::Abort | ControlRecordType::Commit
        ) {
            return Err(RecordsError::Malformed {
                field: "control record type",
                reason: "not a transaction marker",
            });
        }
        let version = i16_at(value, 0, "transaction marker version")?;
        if version < 0 {
            return Err(RecordsError::Malformed {
                field: "transaction marker version",
                reason: "negative",
            });
        }
        let coordinator_epoch = i32_at(value, 2, "coordinatorEpoch")?;
        Ok(EndTransactionMarker {
            kind: key.kind,
            coordinator_epoch,
        })
    }

    /// Reads a marker from a record of a control batch; a null key or value
    /// is malformed.
    pub fn from_record(record: &Record) -> Result<Self, RecordsError> {
        let missing = |field| RecordsError::Malformed {
            field,
            reason: "null in a control record",
        };
        let key = record.key.as_ref().ok_or(missing("control record key"))?;
        let value = record
            .value
            .as_ref()
            .ok_or(missing("control record value"))?;
        Self::parse(key, value)
    }

    /// Reads the marker of a control batch: its one record.
    pub fn from_batch(batch: &RecordBatch) -> Result<Self, RecordsError> {
        if !batch.is_control() {
            return Err(RecordsError::Malformed {
                field: "attributes",
                reason: "not a control batch",
            });
        }
        // A marker record is a few dozen bytes; the limit only guards
        // against a compressed control batch that is not one.
        let mut records = batch.records(1 << 16)?;
        let record = records.next().ok_or(RecordsError::RecordCount {
            declared: batch.records_count(),
            actual: 0,
        })??;
        Self::from_record(&record)
    }

    pub fn key(&self) -> Bytes {
        ControlRecordKey::new(self.kind).encode()
    }

    pub fn value(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(6);
        out.put_i16(Self::CURRENT_VERSION);
        out.put_i32(self.coordinator_epoch);
        out.freeze()
    }

    /// The marker as the one record of its batch.
    pub fn to_record(&self) -> Record {
        Record {
            offset_delta: 0,
            timestamp_delta: 0,
            key: Some(self.key()),
            value: Some(self.value()),
            headers: Vec::new(),
        }
    }

    /// The marker batch the leader appends for `producer_id` at
    /// `base_offset`.
    pub fn build_batch(
        &self,
        base_offset: i64,
        partition_leader_epoch: i32,
        producer_id: i64,
        producer_epoch: i16,
        timestamp: i64,
    ) -> Result<RecordBatch, RecordsError> {
        let mut builder = RecordBatchBuilder::new(Compression::None)
            .base_offset(base_offset)
            .partition_leader_epoch(partition_leader_epoch)
            .producer(producer_id, producer_epoch, NO_SEQUENCE)
            .transactional(true)
            .control(true)
            .base_timestamp(timestamp);
        builder.push(self.to_record());
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_marker_batch_has_kafkas_layout() {
        let batch = EndTransactionMarker::commit(5)
            .build_batch(40, 3, 1000, 2, 1_700_000_000_000)
            .unwrap();
        let header = batch.header();
        assert!(header.is_control() && header.is_transactional());
        assert_eq!(header.compression(), Compression::None);
        assert_eq!(
            (
                header.base_offset(),
                header.last_offset_delta(),
                header.records_count()
            ),
            (40, 0, 1)
        );
        assert_eq!(header.partition_leader_epoch(), 3);
        assert_eq!((header.producer_id(), header.producer_epoch()), (1000, 2));
        assert_eq!(header.base_sequence(), NO_SEQUENCE);
        assert_eq!(header.base_timestamp(), 1_700_000_000_000);
        assert_eq!(header.max_timestamp(), 1_700_000_000_000);
        batch.verify_crc().unwrap();

        let record = batch.records(1024).unwrap().next().unwrap().unwrap();
        assert_eq!(record.key.as_deref(), Some(&[0, 0, 0, 1][..]));
        assert_eq!(record.value.as_deref(), Some(&[0, 0, 0, 0, 0, 5][..]));
        assert_eq!(
            EndTransactionMarker::from_batch(&batch).unwrap(),
            EndTransactionMarker::commit(5)
        );
    }

    #[test]
    fn abort_marker_round_trips() {
        let marker = EndTransactionMarker::abort(-1);
        assert_eq!(&marker.key()[..], &[0, 0, 0, 0]);
        assert_eq!(
            EndTransactionMarker::parse(&marker.key(), &marker.value()).unwrap(),
            marker
        );
        assert!(!marker.is_commit());
    }

    #[test]
    fn newer_versions_with_extra_bytes_still_read() {
        let marker =
            EndTransactionMarker::parse(&[0, 1, 0, 1, 9], &[0, 1, 0, 0, 0, 7, 9, 9]).unwrap();
        assert_eq!(marker, EndTransactionMarker::commit(7));
    }

    #[test]
    fn short_or_foreign_control_records_are_refused() {
        assert!(matches!(
            ControlRecordKey::parse(&[0, 0, 0]),
            Err(RecordsError::Truncated { .. })
        ));
        assert!(matches!(
            ControlRecordKey::parse(&[0xff, 0xff, 0, 0]),
            Err(RecordsError::Malformed { .. })
        ));
        assert!(matches!(
            EndTransactionMarker::parse(&[0, 0, 0, 1], &[0, 0, 0, 0, 0]),
            Err(RecordsError::Truncated { .. })
        ));
        // Leader change (3) is a control record but not a marker.
        assert_eq!(
            ControlRecordKey::parse(&[0, 0, 0, 3]).unwrap().kind,
            ControlRecordType::Other(3)
        );
        assert!(EndTransactionMarker::parse(&[0, 0, 0, 3], &[0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn data_batch_is_not_a_marker() {
        let mut builder = RecordBatchBuilder::new(Compression::None);
        builder.push(EndTransactionMarker::commit(1).to_record());
        let batch = builder.build().unwrap();
        assert!(EndTransactionMarker::from_batch(&batch).is_err());
    }
}
