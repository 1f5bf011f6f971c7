//! The batch header, a checked view over one batch, in-place header edits,
//! and splitting a record set into batches.

use bytes::Bytes;

use super::compression::{self, Compression};
use super::record::{Record, Records};
use super::{HEADER_SIZE, LOG_OVERHEAD, MAGIC, RecordsError};

/// Byte positions in the header (see the table in the module root).
pub(crate) mod at {
    pub const BASE_OFFSET: usize = 0;
    pub const BATCH_LENGTH: usize = 8;
    pub const PARTITION_LEADER_EPOCH: usize = 12;
    pub const MAGIC: usize = 16;
    pub const CRC: usize = 17;
    pub const ATTRIBUTES: usize = 21;
    pub const LAST_OFFSET_DELTA: usize = 23;
    pub const BASE_TIMESTAMP: usize = 27;
    pub const MAX_TIMESTAMP: usize = 35;
    pub const PRODUCER_ID: usize = 43;
    pub const PRODUCER_EPOCH: usize = 51;
    pub const BASE_SEQUENCE: usize = 53;
    pub const RECORDS_COUNT: usize = 57;
}

pub(crate) const ATTR_LOG_APPEND_TIME: i16 = 0x08;
pub(crate) const ATTR_TRANSACTIONAL: i16 = 0x10;
pub(crate) const ATTR_CONTROL: i16 = 0x20;
pub(crate) const ATTR_DELETE_HORIZON: i16 = 0x40;

/// What a batch's timestamps mean (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Set by the producer, per record.
    #[default]
    CreateTime,
    /// Set by the broker on append: every record's timestamp is the batch's
    /// `maxTimestamp`.
    LogAppendTime,
}

/// The 61-byte header of a v2 batch, parsed and checked: magic 2, a known
/// codec, a `batchLength` that covers at least the header, non-negative
/// counts. Says nothing of the records or the CRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    base_offset: i64,
    batch_length: i32,
    partition_leader_epoch: i32,
    crc: u32,
    attributes: i16,
    last_offset_delta: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    records_count: i32,
    compression: Compression,
}

fn array<const N: usize>(header: &[u8; HEADER_SIZE], from: usize) -> [u8; N] {
    let mut out = [0; N];
    // Callers pass the constant field positions of `at`, all within the
    // 61-byte header.
    out.copy_from_slice(&header[from..from + N]);
    out
}

impl BatchHeader {
    /// Reads the header at the start of `bytes`, which may hold just the
    /// header (storage scans headers without reading records) or more.
    pub fn parse(bytes: &[u8]) -> Result<Self, RecordsError> {
        // The magic decides the layout, so it is checked before the length:
        // an old-format message set gets the error that names the problem.
        match bytes.get(at::MAGIC) {
            None => {
                return Err(RecordsError::Truncated {
                    field: "batch header",
                    needed: HEADER_SIZE,
                    remaining: bytes.len(),
                });
            }
            Some(&magic) if magic as i8 != MAGIC => {
                return Err(RecordsError::UnsupportedMagic(magic as i8));
            }
            Some(_) => {}
        }
        let h = bytes
            .first_chunk::<HEADER_SIZE>()
            .ok_or(RecordsError::Truncated {
                field: "batch header",
                needed: HEADER_SIZE,
                remaining: bytes.len(),
            })?;
        let header = BatchHeader {
            base_offset: i64::from_be_bytes(array(h, at::BASE_OFFSET)),
            batch_length: i32::from_be_bytes(array(h, at::BATCH_LENGTH)),
            partition_leader_epoch: i32::from_be_bytes(array(h, at::PARTITION_LEADER_EPOCH)),
            crc: u32::from_be_bytes(array(h, at::CRC)),
            attributes: i16::from_be_bytes(array(h, at::ATTRIBUTES)),
            last_offset_delta: i32::from_be_bytes(array(h, at::LAST_OFFSET_DELTA)),
            base_timestamp: i64::from_be_bytes(array(h, at::BASE_TIMESTAMP)),
            max_timestamp: i64::from_be_bytes(array(h, at::MAX_TIMESTAMP)),
            producer_id: i64::from_be_bytes(array(h, at::PRODUCER_ID)),
            producer_epoch: i16::from_be_bytes(array(h, at::PRODUCER_EPOCH)),
            base_sequence: i32::from_be_bytes(array(h, at::BASE_SEQUENCE)),
            records_count: i32::from_be_bytes(array(h, at::RECORDS_COUNT)),
            compression: Compression::None,
        };
        if (header.batch_length as i64) < (HEADER_SIZE - LOG_OVERHEAD) as i64 {
            return Err(RecordsError::Malformed {
                field: "batchLength",
                reason: "shorter than the batch header",
            });
        }
        if header.last_offset_delta < 0 {
            return Err(RecordsError::Malformed {
                field: "lastOffsetDelta",
                reason: "negative",
            });
        }
        if header.records_count < 0 {
            return Err(RecordsError::Malformed {
                field: "recordsCount",
                reason: "negative",
            });
        }
        Ok(BatchHeader {
            compression: Compression::from_attributes(header.attributes)?,
            ..header
        })
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Bytes after the `batchLength` field.
    pub fn batch_length(&self) -> i32 {
        self.batch_length
    }

    /// Bytes of the whole batch, header included.
    pub fn size_in_bytes(&self) -> usize {
        // `parse` refused a batchLength below the header's, so it is positive.
        self.batch_length as usize + LOG_OVERHEAD
    }

    pub fn partition_leader_epoch(&self) -> i32 {
        self.partition_leader_epoch
    }

    pub fn magic(&self) -> i8 {
        MAGIC
    }

    /// The CRC the batch carries; [`RecordBatch::verify_crc`] checks it.
    pub fn crc(&self) -> u32 {
        self.crc
    }

    /// Raw attribute bits; the accessors below decode them.
    pub fn attributes(&self) -> i16 {
        self.attributes
    }

    pub fn compression(&self) -> Compression {
        self.compression
    }

    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & ATTR_LOG_APPEND_TIME != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & ATTR_DELETE_HORIZON != 0
    }

    /// When compaction may drop this batch's tombstones and markers; the
    /// `baseTimestamp` field holds it when attribute bit 6 is set.
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        self.has_delete_horizon().then_some(self.base_timestamp)
    }

    pub fn last_offset_delta(&self) -> i32 {
        self.last_offset_delta
    }

    /// Offset of the last record, which compaction keeps even when it
    /// removes that record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// The offset after this batch: where the next batch starts.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    pub fn base_timestamp(&self) -> i64 {
        self.base_timestamp
    }

    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    pub fn producer_id(&self) -> i64 {
        self.producer_id
    }

    pub fn producer_epoch(&self) -> i16 {
        self.producer_epoch
    }

    pub fn base_sequence(&self) -> i32 {
        self.base_sequence
    }

    pub fn records_count(&self) -> i32 {
        self.records_count
    }
}

/// One whole batch in a `Bytes`, header checked, records not yet read.
///
/// Cheap to clone (the bytes are shared). The CRC is checked only on
/// [`verify_crc`](Self::verify_crc): the produce path and recovery check it,
/// the fetch path serves batches as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBatch {
    header: BatchHeader,
    bytes: Bytes,
}

impl RecordBatch {
    /// Checks that `bytes` is exactly one batch: a valid header whose
    /// `batchLength` accounts for every byte.
    pub fn new(bytes: Bytes) -> Result<Self, RecordsError> {
        let header = BatchHeader::parse(&bytes)?;
        if header.size_in_bytes() != bytes.len() {
            return Err(RecordsError::BatchLength {
                batch_length: header.batch_length,
                actual: bytes.len(),
            });
        }
        Ok(RecordBatch { header, bytes })
    }

    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    pub fn size_in_bytes(&self) -> usize {
        self.bytes.len()
    }

    pub fn base_offset(&self) -> i64 {
        self.header.base_offset
    }

    pub fn last_offset(&self) -> i64 {
        self.header.last_offset()
    }

    pub fn next_offset(&self) -> i64 {
        self.header.next_offset()
    }

    pub fn compression(&self) -> Compression {
        self.header.compression
    }

    pub fn is_control(&self) -> bool {
        self.header.is_control()
    }

    pub fn is_transactional(&self) -> bool {
        self.header.is_transactional()
    }

    pub fn records_count(&self) -> i32 {
        self.header.records_count
    }

    /// CRC-32C of the attributes through the end, what `crc` should hold.
    pub fn computed_crc(&self) -> u32 {
        crc32c::crc32c(self.bytes.get(at::ATTRIBUTES..).unwrap_or_default())
    }

    pub fn verify_crc(&self) -> Result<(), RecordsError> {
        let actual = self.computed_crc();
        if actual != self.header.crc {
            return Err(RecordsError::CrcMismatch {
                expected: self.header.crc,
                actual,
            });
        }
        Ok(())
    }

    /// The records section as stored: compressed unless the codec is none.
    pub fn records_section(&self) -> Bytes {
        self.bytes.slice(HEADER_SIZE..)
    }

    /// Iterates the records. An uncompressed batch is read in place; a
    /// compressed one is first decompressed whole, refusing to produce more
    /// than `max_decompressed` bytes. Keys, values and headers are slices of
    /// the batch (or of the decompressed buffer), never copies.
    pub fn records(&self, max_decompressed: usize) -> Result<Records, RecordsError> {
        let section = self.records_section();
        let section = match self.header.compression {
            // No codec writes an empty stream, but an empty batch (what
            // compaction leaves of one) keeps its codec bits and holds none.
            _ if section.is_empty() => section,
            Compression::None => section,
            codec => compression::decompress(codec, &section, max_decompressed)?,
        };
        Ok(Records::new(section, &self.header))
    }

    /// The record's offset in the partition.
    pub fn offset_of(&self, record: &Record) -> i64 {
        self.header
            .base_offset
            .saturating_add(i64::from(record.offset_delta))
    }

    /// The record's timestamp as a consumer sees it: the batch's
    /// `maxTimestamp` under LogAppendTime, else base plus delta.
    pub fn timestamp_of(&self, record: &Record) -> i64 {
        match self.header.timestamp_type() {
            TimestampType::LogAppendTime => self.header.max_timestamp,
            TimestampType::CreateTime => self
                .header
                .base_timestamp
                .saturating_add(record.timestamp_delta),
        }
    }
}

/// The header edits a leader makes on append, in place on the batch's bytes
/// (a `BytesMut`, a `Vec` or a page buffer: anything that derefs to
/// `&mut [u8]`).
///
/// `baseOffset` and `partitionLeaderEpoch` lie before the CRC range, so
/// setting them keeps the CRC valid. Setting the LogAppendTime changes the
/// attributes and `maxTimestamp`, so the CRC is recomputed: verify the batch
/// first, or a corrupt batch gets a valid CRC.
#[derive(Debug)]
pub struct RecordBatchMut<'a> {
    bytes: &'a mut [u8],
}

impl<'a> RecordBatchMut<'a> {
    /// Checks, as [`RecordBatch::new`] does, that `bytes` is one whole batch.
    pub fn new(bytes: &'a mut [u8]) -> Result<Self, RecordsError> {
        let header = BatchHeader::parse(bytes)?;
        if header.size_in_bytes() != bytes.len() {
            return Err(RecordsError::BatchLength {
                batch_length: header.batch_length,
                actual: bytes.len(),
            });
        }
        Ok(RecordBatchMut { bytes })
    }

    /// The header as it now stands.
    pub fn header(&self) -> BatchHeader {
        // `new` parsed these bytes, and the setters write only values that
        // parse again.
        BatchHeader::parse(self.bytes).expect("header was valid at construction")
    }

    fn put(&mut self, from: usize, value: &[u8]) {
        // Only called with the constant field positions of `at`; `new`
        // checked that the slice holds a whole header.
        self.bytes[from..from + value.len()].copy_from_slice(value);
    }

    pub fn set_base_offset(&mut self, base_offset: i64) {
        self.put(at::BASE_OFFSET, &base_offset.to_be_bytes());
    }

    pub fn set_partition_leader_epoch(&mut self, epoch: i32) {
        self.put(at::PARTITION_LEADER_EPOCH, &epoch.to_be_bytes());
    }

    /// Marks the batch LogAppendTime with `timestamp` as its `maxTimestamp`
    /// and recomputes the CRC; a batch already so marked is left alone, to
    /// spare the CRC pass.
    pub fn set_max_timestamp_log_append_time(&mut self, timestamp: i64) {
        let header = self.header();
        if header.timestamp_type() == TimestampType::LogAppendTime
            && header.max_timestamp == timestamp
        {
            return;
        }
        let attributes = header.attributes | ATTR_LOG_APPEND_TIME;
        self.put(at::ATTRIBUTES, &attributes.to_be_bytes());
        self.put(at::MAX_TIMESTAMP, &timestamp.to_be_bytes());
        let crc = crc32c::crc32c(&self.bytes[at::ATTRIBUTES..]);
        self.put(at::CRC, &crc.to_be_bytes());
    }
}

/// Splits a record set (the `records` field of Produce and Fetch: zero or
/// more batches back to back) into batches, without copying.
pub fn batches(records: Bytes) -> Batches {
    Batches {
        rest: records,
        position: 0,
        done: false,
    }
}

/// Iterator from [`batches`]. A record set that ends inside a batch yields
/// [`RecordsError::PartialBatch`] last; any error ends the iteration.
#[derive(Debug, Clone)]
pub struct Batches {
    rest: Bytes,
    position: usize,
    done: bool,
}

impl Batches {
    /// Byte position of the next batch in the record set; after an error,
    /// that of the batch that failed (where recovery truncates).
    pub fn position(&self) -> usize {
        self.position
    }

    fn next_batch(&mut self) -> Result<RecordBatch, RecordsError> {
        let available = self.rest.len();
        let partial = |needed| RecordsError::PartialBatch {
            position: self.position,
            needed,
            available,
        };
        let Some(length) = self.rest.get(at::BATCH_LENGTH..LOG_OVERHEAD) else {
            return Err(partial(LOG_OVERHEAD));
        };
        let mut length_bytes = [0; 4];
        length_bytes.copy_from_slice(length);
        let batch_length = i32::from_be_bytes(length_bytes);
        if let Some(&magic) = self.rest.get(at::MAGIC) {
            if magic as i8 != MAGIC {
                return Err(RecordsError::UnsupportedMagic(magic as i8));
            }
        }
        if (batch_length as i64) < (HEADER_SIZE - LOG_OVERHEAD) as i64 {
            return Err(RecordsError::Malformed {
                field: "batchLength",
                reason: "shorter than the batch header",
            });
        }
        // Positive and below 2^31, checked above.
        let size = batch_length as usize + LOG_OVERHEAD;
        if available < size {
            return Err(partial(size));
        }
        let batch = RecordBatch::new(self.rest.split_to(size))?;
        self.position += size;
        Ok(batch)
    }
}

impl Iterator for Batches {
    type Item = Result<RecordBatch, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        let next = self.next_batch();
        self.done = next.is_err();
        Some(next)
    }
}

impl std::iter::FusedIterator for Batches {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Header, RecordBatchBuilder};

    /// Bitwise CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), kept
    /// apart from the `crc32c` crate so that the hand-built batch is checked
    /// against an independent computation.
    fn crc32c_bitwise(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// One record, key "key", value "value", written field by field from
    /// the byte table in the module root.
    fn hand_built_batch() -> Vec<u8> {
        let record: &[u8] = &[
            28, // length 14, zig-zag
            0,  // attributes
            0,  // timestampDelta 0
            0,  // offsetDelta 0
            6, b'k', b'e', b'y', // key length 3
            10, b'v', b'a', b'l', b'u', b'e', // value length 5
            0,    // headersCount
        ];
        let mut b = Vec::new();
        b.extend_from_slice(&1234i64.to_be_bytes()); // baseOffset
        b.extend_from_slice(&(49 + record.len() as i32).to_be_bytes()); // batchLength
        b.extend_from_slice(&7i32.to_be_bytes()); // partitionLeaderEpoch
        b.push(2); // magic
        b.extend_from_slice(&[0; 4]); // crc, below
        b.extend_from_slice(&0i16.to_be_bytes()); // attributes
        b.extend_from_slice(&0i32.to_be_bytes()); // lastOffsetDelta
        b.extend_from_slice(&1_600_000_000_000i64.to_be_bytes()); // baseTimestamp
        b.extend_from_slice(&1_600_000_000_000i64.to_be_bytes()); // maxTimestamp
        b.extend_from_slice(&(-1i64).to_be_bytes()); // producerId
        b.extend_from_slice(&(-1i16).to_be_bytes()); // producerEpoch
        b.extend_from_slice(&(-1i32).to_be_bytes()); // baseSequence
        b.extend_from_slice(&1i32.to_be_bytes()); // recordsCount
        b.extend_from_slice(record);
        let crc = crc32c_bitwise(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    fn single_record_batch(codec: Compression) -> RecordBatch {
        let mut builder = RecordBatchBuilder::new(codec).base_offset(10);
        builder
            .append(5, Some(Bytes::from("k")), Some(Bytes::from("v")), vec![])
            .unwrap();
        builder.build().unwrap()
    }

    #[test]
    fn bitwise_crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c_bitwise(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn hand_built_batch_reads_as_documented() {
        let bytes = hand_built_batch();
        assert_eq!(bytes.len(), 76);
        let expected_crc = crc32c_bitwise(&bytes[21..]);
        let batch = RecordBatch::new(Bytes::from(bytes)).unwrap();
        let h = batch.header();
        assert_eq!(h.base_offset(), 1234);
        assert_eq!(h.batch_length(), 64);
        assert_eq!(h.size_in_bytes(), 76);
        assert_eq!(h.partition_leader_epoch(), 7);
        assert_eq!(h.magic(), 2);
        assert_eq!(h.crc(), expected_crc);
        assert_eq!(batch.computed_crc(), expected_crc);
        batch.verify_crc().unwrap();
        assert_eq!(h.attributes(), 0);
        assert_eq!(h.compression(), Compression::None);
        assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
        assert!(!h.is_transactional() && !h.is_control() && !h.has_delete_horizon());
        assert_eq!(h.delete_horizon_ms(), None);
        assert_eq!(
            (h.last_offset_delta(), h.last_offset(), h.next_offset()),
            (0, 1234, 1235)
        );
        assert_eq!(
            (h.base_timestamp(), h.max_timestamp()),
            (1_600_000_000_000, 1_600_000_000_000)
        );
        assert_eq!(
            (h.producer_id(), h.producer_epoch(), h.base_sequence()),
            (-1, -1, -1)
        );
        assert_eq!(h.records_count(), 1);

        let records: Vec<_> = batch.records(0).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].key.as_deref(), Some(&b"key"[..]));
        assert_eq!(records[0].value.as_deref(), Some(&b"value"[..]));
        assert!(records[0].headers.is_empty());
        assert_eq!(batch.offset_of(&records[0]), 1234);
        assert_eq!(batch.timestamp_of(&records[0]), 1_600_000_000_000);
    }

    #[test]
    fn builder_writes_the_hand_built_batch_byte_for_byte() {
        let mut builder = RecordBatchBuilder::new(Compression::None)
            .base_offset(1234)
            .partition_leader_epoch(7);
        builder
            .append(
                1_600_000_000_000,
                Some(Bytes::from("key")),
                Some(Bytes::from("value")),
                vec![],
            )
            .unwrap();
        assert_eq!(
            &builder.build().unwrap().as_bytes()[..],
            &hand_built_batch()[..]
        );
    }

    #[test]
    fn uncompressed_record_fields_are_slices_of_the_batch() {
        let batch = RecordBatch::new(Bytes::from(hand_built_batch())).unwrap();
        let record = batch.records(0).unwrap().next().unwrap().unwrap();
        let range = batch.as_bytes().as_ptr_range();
        let key = record.key.unwrap();
        assert!(range.contains(&key.as_ptr()));
    }

    #[test]
    fn batch_with_bytes_after_it_is_refused() {
        let mut bytes = hand_built_batch();
        bytes.push(0);
        assert_eq!(
            RecordBatch::new(Bytes::from(bytes)),
            Err(RecordsError::BatchLength {
                batch_length: 64,
                actual: 77
            })
        );
    }

    #[test]
    fn old_magic_is_refused_by_name() {
        for magic in [0u8, 1, 3] {
            let mut bytes = hand_built_batch();
            bytes[16] = magic;
            assert_eq!(
                RecordBatch::new(Bytes::from(bytes)),
                Err(RecordsError::UnsupportedMagic(magic as i8))
            );
        }
    }

    fn rewrite(bytes: &mut [u8], from: usize, value: &[u8]) {
        bytes[from..from + value.len()].copy_from_slice(value);
        let crc = crc32c::crc32c(&bytes[21..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    }

    fn read_all(bytes: Vec<u8>) -> Result<Vec<Record>, RecordsError> {
        let batch = RecordBatch::new(Bytes::from(bytes))?;
        batch.verify_crc()?;
        batch.records(1 << 20)?.collect()
    }

    #[test]
    fn record_count_above_the_records_held_is_refused() {
        let mut bytes = hand_built_batch();
        rewrite(&mut bytes, at::RECORDS_COUNT, &2i32.to_be_bytes());
        assert_eq!(
            read_all(bytes),
            Err(RecordsError::RecordCount {
                declared: 2,
                actual: 1
            })
        );
    }

    #[test]
    fn record_count_below_the_records_held_leaves_trailing_bytes() {
        let mut bytes = hand_built_batch();
        rewrite(&mut bytes, at::RECORDS_COUNT, &0i32.to_be_bytes());
        assert_eq!(
            read_all(bytes),
            Err(RecordsError::TrailingBytes { count: 15 })
        );
    }

    #[test]
    fn negative_record_count_is_malformed() {
        let mut bytes = hand_built_batch();
        rewrite(&mut bytes, at::RECORDS_COUNT, &(-1i32).to_be_bytes());
        assert!(matches!(
            read_all(bytes),
            Err(RecordsError::Malformed {
                field: "recordsCount",
                ..
            })
        ));
    }

    #[test]
    fn offset_delta_past_last_offset_delta_is_refused() {
        let mut builder = RecordBatchBuilder::new(Compression::None);
        builder.append(0, None, None, vec![]).unwrap();
        builder.append(0, None, None, vec![]).unwrap();
        let mut bytes = builder.build().unwrap().into_bytes().to_vec();
        rewrite(&mut bytes, at::LAST_OFFSET_DELTA, &0i32.to_be_bytes());
        assert!(matches!(
            read_all(bytes),
            Err(RecordsError::OffsetDelta {
                index: 1,
                offset_delta: 1,
                ..
            })
        ));
    }

    #[test]
    fn offset_deltas_may_have_gaps_but_not_go_back() {
        let mut builder = RecordBatchBuilder::new(Compression::None);
        for delta in [0, 3, 9] {
            builder.push(Record {
                offset_delta: delta,
                ..Record::default()
            });
        }
        let batch = builder.build().unwrap();
        assert_eq!(batch.header().last_offset_delta(), 9);
        assert_eq!(batch.records(0).unwrap().count(), 3);

        let mut builder = RecordBatchBuilder::new(Compression::None);
        for delta in [0, 3, 3] {
            builder.push(Record {
                offset_delta: delta,
                ..Record::default()
            });
        }
        assert!(matches!(
            builder.build(),
            Err(RecordsError::OffsetDelta { index: 2, .. })
        ));
    }

    #[test]
    fn crc_mismatch_names_both_values() {
        let mut bytes = hand_built_batch();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let batch = RecordBatch::new(Bytes::from(bytes)).unwrap();
        let actual = batch.computed_crc();
        assert_eq!(
            batch.verify_crc(),
            Err(RecordsError::CrcMismatch {
                expected: batch.header().crc(),
                actual
            })
        );
    }

    #[test]
    fn leader_edits_outside_the_crc_keep_it_valid() {
        let mut bytes = hand_built_batch();
        let crc = bytes[17..21].to_vec();
        let mut batch = RecordBatchMut::new(&mut bytes).unwrap();
        batch.set_base_offset(99_000);
        batch.set_partition_leader_epoch(12);
        assert_eq!(batch.header().base_offset(), 99_000);
        assert_eq!(&bytes[17..21], &crc[..]);
        let batch = RecordBatch::new(Bytes::from(bytes)).unwrap();
        assert_eq!(
            (batch.base_offset(), batch.header().partition_leader_epoch()),
            (99_000, 12)
        );
        batch.verify_crc().unwrap();
    }

    #[test]
    fn log_append_time_sets_the_bit_and_max_timestamp_and_a_new_crc() {
        let mut bytes = bytes::BytesMut::from(&hand_built_batch()[..]);
        RecordBatchMut::new(&mut bytes)
            .unwrap()
            .set_max_timestamp_log_append_time(1_700_000_000_000);
        let batch = RecordBatch::new(bytes.freeze()).unwrap();
        batch.verify_crc().unwrap();
        assert_eq!(
            batch.header().timestamp_type(),
            TimestampType::LogAppendTime
        );
        assert_eq!(batch.header().attributes(), 0x08);
        assert_eq!(batch.header().max_timestamp(), 1_700_000_000_000);
        let record = batch.records(0).unwrap().next().unwrap().unwrap();
        assert_eq!(batch.timestamp_of(&record), 1_700_000_000_000);
    }

    #[test]
    fn log_append_time_keeps_other_attributes() {
        let mut bytes = single_record_batch(Compression::Gzip).into_bytes().to_vec();
        RecordBatchMut::new(&mut bytes)
            .unwrap()
            .set_max_timestamp_log_append_time(77);
        let batch = RecordBatch::new(Bytes::from(bytes)).unwrap();
        batch.verify_crc().unwrap();
        assert_eq!(batch.compression(), Compression::Gzip);
        assert_eq!(batch.records(1024).unwrap().count(), 1);
    }

    #[test]
    fn mutable_view_refuses_a_slice_that_is_not_one_batch() {
        let mut bytes = hand_built_batch();
        bytes.push(0);
        assert!(RecordBatchMut::new(&mut bytes).is_err());
        assert!(RecordBatchMut::new(&mut bytes[..60]).is_err());
    }

    fn record_set(codecs: &[Compression]) -> (Bytes, Vec<usize>) {
        let mut set = Vec::new();
        let mut starts = Vec::new();
        for &codec in codecs {
            starts.push(set.len());
            set.extend_from_slice(single_record_batch(codec).as_bytes());
        }
        (Bytes::from(set), starts)
    }

    #[test]
    fn splitter_yields_each_batch_as_a_slice_of_the_set() {
        let (set, starts) = record_set(&Compression::ALL);
        let base = set.as_ptr();
        let found: Vec<_> = batches(set.clone()).collect::<Result<_, _>>().unwrap();
        assert_eq!(found.len(), Compression::ALL.len());
        for ((batch, start), codec) in found.iter().zip(&starts).zip(Compression::ALL) {
            assert_eq!(batch.as_bytes().as_ptr(), base.wrapping_add(*start));
            assert_eq!(batch.compression(), codec);
            batch.verify_crc().unwrap();
        }
        assert_eq!(batches(Bytes::new()).count(), 0);
    }

    #[test]
    fn splitter_reports_a_partial_last_batch_after_the_whole_ones() {
        let (set, starts) = record_set(&[Compression::None, Compression::Zstd]);
        let second = starts[1];
        for cut in second + 1..set.len() {
            let mut it = batches(set.slice(..cut));
            assert!(it.next().unwrap().is_ok());
            match it.next() {
                Some(Err(RecordsError::PartialBatch {
                    position,
                    needed,
                    available,
                })) => {
                    assert_eq!(position, second);
                    assert_eq!(available, cut - second);
                    assert!(needed > available);
                }
                other => panic!("cut at {cut}: {other:?}"),
            }
            assert!(it.next().is_none());
            assert_eq!(it.position(), second);
        }
    }

    #[test]
    fn splitter_refuses_old_magic_and_short_lengths() {
        let mut bytes = hand_built_batch();
        bytes[16] = 1;
        assert_eq!(
            batches(Bytes::from(bytes)).next(),
            Some(Err(RecordsError::UnsupportedMagic(1)))
        );
        let mut bytes = hand_built_batch();
        bytes[8..12].copy_from_slice(&48i32.to_be_bytes());
        assert!(matches!(
            batches(Bytes::from(bytes)).next(),
            Some(Err(RecordsError::Malformed {
                field: "batchLength",
                ..
            }))
        ));
    }

    #[test]
    fn empty_batch_with_a_codec_and_no_payload_reads_as_empty() {
        let mut bytes = hand_built_batch()[..HEADER_SIZE].to_vec();
        bytes[at::BATCH_LENGTH..at::BATCH_LENGTH + 4].copy_from_slice(&49i32.to_be_bytes());
        bytes[at::ATTRIBUTES..at::ATTRIBUTES + 2].copy_from_slice(&2i16.to_be_bytes());
        rewrite(&mut bytes, at::RECORDS_COUNT, &0i32.to_be_bytes());
        assert_eq!(read_all(bytes), Ok(vec![]));
    }

    #[test]
    fn record_header_keys_read_as_text() {
        let header = Header::new("trace-id", None);
        assert_eq!(header.key_str(), Some("trace-id"));
        assert_eq!(Header::new(vec![0xff], None).key_str(), None);
    }
}
