//! Writing a batch: header, records, compression, lengths and CRC.

use bytes::{BufMut, Bytes, BytesMut};

use super::batch::{
    ATTR_CONTROL, ATTR_DELETE_HORIZON, ATTR_LOG_APPEND_TIME, ATTR_TRANSACTIONAL, at,
};
use super::compression::{self, Compression};
use super::record::{Header, Record, RecordParts, encode_parts, encode_record};
use super::{
    HEADER_SIZE, LOG_OVERHEAD, MAGIC, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, NO_TIMESTAMP,
    RecordBatch, RecordsError,
};

/// Builds one v2 batch. Header fields default to those of a plain,
/// non-idempotent producer: base offset 0, no producer id, epoch or
/// sequence, partition leader epoch -1, CreateTime.
///
/// Records come either from [`append`](Self::append) (or
/// [`append_parts`](Self::append_parts)), which take absolute timestamps and
/// give consecutive offsets (what a producer does), or from
/// [`push`](Self::push), which takes records with their deltas as they are
/// (what rewriting a read batch does). Each record is encoded as it comes,
/// behind room left for the header, so its bytes are written once and an
/// uncompressed batch is finished in place.
///
/// ```
/// # use strata_protocol::records::*;
/// # use bytes::Bytes;
/// let mut builder = RecordBatchBuilder::new(Compression::Lz4)
///     .base_offset(100)
///     .producer(7, 0, 42);
/// builder.append(1_000, None, Some(Bytes::from("a")), vec![]).unwrap();
/// builder.append(1_005, None, Some(Bytes::from("b")), vec![]).unwrap();
/// let batch = builder.build().unwrap();
/// assert_eq!(batch.last_offset(), 101);
/// assert_eq!(batch.header().max_timestamp(), 1_005);
/// ```
#[derive(Debug, Clone)]
pub struct RecordBatchBuilder {
    compression: Compression,
    base_offset: i64,
    partition_leader_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    control: bool,
    base_timestamp: Option<i64>,
    log_append_time: Option<i64>,
    delete_horizon: bool,
    /// `HEADER_SIZE` bytes of room, then the records encoded so far.
    buf: BytesMut,
    count: usize,
    last_offset_delta: Option<i32>,
    /// The smallest and largest timestamp delta appended.
    timestamp_deltas: Option<(i64, i64)>,
    /// The first record that could not go in: `build` returns it.
    refused: Option<RecordsError>,
}

impl RecordBatchBuilder {
    pub fn new(compression: Compression) -> Self {
        Self::with_capacity(compression, 0)
    }

    /// A builder with room for `capacity` bytes of encoded records before
    /// its buffer grows.
    pub fn with_capacity(compression: Compression, capacity: usize) -> Self {
        let mut buf = BytesMut::with_capacity(HEADER_SIZE + capacity);
        buf.put_bytes(0, HEADER_SIZE);
        RecordBatchBuilder {
            compression,
            base_offset: 0,
            partition_leader_epoch: -1,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            transactional: false,
            control: false,
            base_timestamp: None,
            log_append_time: None,
            delete_horizon: false,
            buf,
            count: 0,
            last_offset_delta: None,
            timestamp_deltas: None,
            refused: None,
        }
    }

    #[must_use]
    pub fn base_offset(mut self, base_offset: i64) -> Self {
        self.base_offset = base_offset;
        self
    }

    #[must_use]
    pub fn partition_leader_epoch(mut self, epoch: i32) -> Self {
        self.partition_leader_epoch = epoch;
        self
    }

    /// Idempotent producer identity and the sequence of the first record.
    #[must_use]
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    #[must_use]
    pub fn transactional(mut self, transactional: bool) -> Self {
        self.transactional = transactional;
        self
    }

    /// Marks the batch as holding control records (see
    /// [`EndTransactionMarker`](super::EndTransactionMarker)).
    #[must_use]
    pub fn control(mut self, control: bool) -> Self {
        self.control = control;
        self
    }

    /// The base every timestamp delta counts from. Defaults to the first
    /// appended timestamp, or to -1 when nothing is appended.
    #[must_use]
    pub fn base_timestamp(mut self, timestamp: i64) -> Self {
        self.base_timestamp = Some(timestamp);
        self
    }

    /// Writes the batch as LogAppendTime with `timestamp` as its
    /// `maxTimestamp`.
    #[must_use]
    pub fn log_append_time(mut self, timestamp: i64) -> Self {
        self.log_append_time = Some(timestamp);
        self
    }

    /// Sets attribute bit 6; `baseTimestamp` then holds `horizon`, and the
    /// records' timestamp deltas count from it (as compaction writes them).
    #[must_use]
    pub fn delete_horizon_ms(mut self, horizon: i64) -> Self {
        self.delete_horizon = true;
        self.base_timestamp = Some(horizon);
        self
    }

    /// Appends a record at the next offset with an absolute timestamp.
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<Bytes>,
        value: Option<Bytes>,
        headers: Vec<Header>,
    ) -> Result<&mut Self, RecordsError> {
        let value = value.as_deref();
        self.append_parts(
            timestamp,
            key.as_deref(),
            value.as_ref().map(std::slice::from_ref),
            &headers,
        )
    }

    /// [`append`](Self::append) with borrowed fields and a value given in
    /// pieces, written back to back.
    pub fn append_parts(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[&[u8]]>,
        headers: &[Header],
    ) -> Result<&mut Self, RecordsError> {
        let base = *self.base_timestamp.get_or_insert(timestamp);
        let timestamp_delta = timestamp.checked_sub(base).ok_or(RecordsError::TooLarge {
            field: "timestampDelta",
            value: timestamp.abs_diff(base),
        })?;
        let offset_delta = match self.last_offset_delta {
            None => 0,
            Some(last) => last.checked_add(1).ok_or(RecordsError::TooLarge {
                field: "offsetDelta",
                value: i32::MAX as u64 + 1,
            })?,
        };
        let record = RecordParts {
            offset_delta,
            timestamp_delta,
            key,
            value,
            headers,
        };
        encode_parts(&mut self.buf, &record)?;
        self.note(offset_delta, timestamp_delta);
        Ok(self)
    }

    /// Appends a record with its deltas as given; [`build`](Self::build)
    /// refuses the batch unless offset deltas rise strictly from 0 or more.
    pub fn push(&mut self, record: Record) -> &mut Self {
        let delta = record.offset_delta;
        if self.refused.is_none()
            && (delta < 0 || self.last_offset_delta.is_some_and(|p| delta <= p))
        {
            self.refused = Some(RecordsError::OffsetDelta {
                index: self.count,
                offset_delta: delta,
                previous: self.last_offset_delta,
                last_offset_delta: delta,
            });
        }
        if let Err(e) = encode_record(&mut self.buf, &record) {
            self.refused.get_or_insert(e);
        }
        self.note(delta, record.timestamp_delta);
        self
    }

    fn note(&mut self, offset_delta: i32, timestamp_delta: i64) {
        self.count += 1;
        self.last_offset_delta = Some(offset_delta);
        let (min, max) = self
            .timestamp_deltas
            .get_or_insert((timestamp_delta, timestamp_delta));
        *min = (*min).min(timestamp_delta);
        *max = (*max).max(timestamp_delta);
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn attributes(&self) -> i16 {
        let mut attributes = i16::from(self.compression.id());
        for (set, bit) in [
            (self.log_append_time.is_some(), ATTR_LOG_APPEND_TIME),
            (self.transactional, ATTR_TRANSACTIONAL),
            (self.control, ATTR_CONTROL),
            (self.delete_horizon, ATTR_DELETE_HORIZON),
        ] {
            if set {
                attributes |= bit;
            }
        }
        attributes
    }

    /// Finishes the batch: compression, then the header with its lengths
    /// and CRC.
    pub fn build(self) -> Result<RecordBatch, RecordsError> {
        if let Some(refused) = self.refused {
            return Err(refused);
        }
        let last_offset_delta = self.last_offset_delta.unwrap_or(0);
        let records_count = i32::try_from(self.count).map_err(|_| RecordsError::TooLarge {
            field: "recordsCount",
            value: self.count as u64,
        })?;
        let base_timestamp = self.base_timestamp.unwrap_or(NO_TIMESTAMP);
        let timestamp_at = |delta: i64| {
            base_timestamp
                .checked_add(delta)
                .ok_or(RecordsError::TooLarge {
                    field: "timestampDelta",
                    value: delta.unsigned_abs(),
                })
        };
        let max_timestamp = match (self.log_append_time, self.timestamp_deltas) {
            (Some(timestamp), _) => timestamp,
            (None, None) => NO_TIMESTAMP,
            // As Kafka's builder: the max starts at NO_TIMESTAMP, so a batch
            // of timestamps below -1 says -1.
            (None, Some((min, max))) => {
                timestamp_at(min)?;
                timestamp_at(max)?.max(NO_TIMESTAMP)
            }
        };
        let attributes = self.attributes();
        let mut out = match self.compression {
            Compression::None => self.buf,
            codec => {
                let section = compression::compress(codec, &self.buf[HEADER_SIZE..])?;
                let mut out = BytesMut::with_capacity(HEADER_SIZE + section.len());
                out.put_bytes(0, HEADER_SIZE);
                out.put_slice(&section);
                out
            }
        };
        let batch_length =
            i32::try_from(out.len() - LOG_OVERHEAD).map_err(|_| RecordsError::TooLarge {
                field: "batchLength",
                value: (out.len() - LOG_OVERHEAD) as u64,
            })?;
        let mut header = &mut out[..HEADER_SIZE];
        header.put_i64(self.base_offset);
        header.put_i32(batch_length);
        header.put_i32(self.partition_leader_epoch);
        header.put_i8(MAGIC);
        header.put_u32(0); // CRC, filled in below
        header.put_i16(attributes);
        header.put_i32(last_offset_delta);
        header.put_i64(base_timestamp);
        header.put_i64(max_timestamp);
        header.put_i64(self.producer_id);
        header.put_i16(self.producer_epoch);
        header.put_i32(self.base_sequence);
        header.put_i32(records_count);
        let crc = crc32c::crc32c(&out[at::ATTRIBUTES..]);
        out[at::CRC..at::CRC + 4].copy_from_slice(&crc.to_be_bytes());
        RecordBatch::new(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{BatchHeader, Records, TimestampType, batches};
    use proptest::collection::vec;
    use proptest::prelude::*;

    const LIMIT: usize = 1 << 20;

    fn codec() -> impl Strategy<Value = Compression> {
        proptest::sample::select(Compression::ALL.to_vec())
    }

    fn opt_bytes(max: usize) -> impl Strategy<Value = Option<Bytes>> {
        proptest::option::of(vec(any::<u8>(), 0..max).prop_map(Bytes::from))
    }

    fn header() -> impl Strategy<Value = Header> {
        ("[a-z.-]{0,12}", opt_bytes(16)).prop_map(|(k, v)| Header::new(k, v))
    }

    /// Records with rising (possibly gapped) offset deltas.
    fn records() -> impl Strategy<Value = Vec<Record>> {
        vec(
            (
                1..4i32,
                -1_000_000..1_000_000i64,
                opt_bytes(40),
                opt_bytes(200),
                vec(header(), 0..3),
            ),
            0..20,
        )
        .prop_map(|raw| {
            let mut offset_delta = -1;
            raw.into_iter()
                .map(|(gap, timestamp_delta, key, value, headers)| {
                    offset_delta += gap;
                    Record {
                        offset_delta,
                        timestamp_delta,
                        key,
                        value,
                        headers,
                    }
                })
                .collect()
        })
    }

    #[derive(Debug, Clone)]
    struct Spec {
        codec: Compression,
        base_offset: i64,
        leader_epoch: i32,
        producer: (i64, i16, i32),
        transactional: bool,
        base_timestamp: i64,
        records: Vec<Record>,
    }

    fn spec() -> impl Strategy<Value = Spec> {
        (
            codec(),
            0..i64::MAX / 2,
            -1..1000i32,
            (-1..1_000_000i64, -1..100i16, -1..1_000_000i32),
            any::<bool>(),
            0..2_000_000_000_000i64,
            records(),
        )
            .prop_map(
                |(
                    codec,
                    base_offset,
                    leader_epoch,
                    producer,
                    transactional,
                    base_timestamp,
                    records,
                )| Spec {
                    codec,
                    base_offset,
                    leader_epoch,
                    producer,
                    transactional,
                    base_timestamp,
                    records,
                },
            )
    }

    fn build(spec: &Spec) -> RecordBatch {
        let mut builder = RecordBatchBuilder::new(spec.codec)
            .base_offset(spec.base_offset)
            .partition_leader_epoch(spec.leader_epoch)
            .producer(spec.producer.0, spec.producer.1, spec.producer.2)
            .transactional(spec.transactional)
            .base_timestamp(spec.base_timestamp);
        for record in &spec.records {
            builder.push(record.clone());
        }
        builder.build().unwrap()
    }

    fn collect(records: Records) -> Result<Vec<Record>, RecordsError> {
        records.collect()
    }

    /// Reads everything a batch holds, the way a produce handler would.
    fn read_fully(bytes: Bytes) -> Result<Vec<Record>, RecordsError> {
        let batch = RecordBatch::new(bytes)?;
        batch.verify_crc()?;
        collect(batch.records(LIMIT)?)
    }

    fn with_crc(mut bytes: Vec<u8>) -> Vec<u8> {
        let crc = crc32c::crc32c(&bytes[at::ATTRIBUTES..]);
        bytes[at::CRC..at::CRC + 4].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    #[test]
    fn append_assigns_consecutive_offsets_and_timestamp_deltas() {
        let mut builder = RecordBatchBuilder::new(Compression::None);
        for timestamp in [100, 90, 130] {
            builder.append(timestamp, None, None, vec![]).unwrap();
        }
        let batch = builder.build().unwrap();
        let h = batch.header();
        assert_eq!((h.base_timestamp(), h.max_timestamp()), (100, 130));
        assert_eq!((h.last_offset_delta(), h.records_count()), (2, 3));
        let records = collect(batch.records(0).unwrap()).unwrap();
        let deltas: Vec<_> = records
            .iter()
            .map(|r| (r.offset_delta, r.timestamp_delta))
            .collect();
        assert_eq!(deltas, [(0, 0), (1, -10), (2, 30)]);
    }

    #[test]
    fn a_value_in_pieces_is_the_same_batch_as_the_value_whole() {
        for codec in Compression::ALL {
            let mut whole = RecordBatchBuilder::new(codec).producer(3, 1, 10);
            let mut parts = RecordBatchBuilder::with_capacity(codec, 16).producer(3, 1, 10);
            let headers = vec![Header::new("h", Some(Bytes::from_static(b"v")))];
            for (timestamp, value) in [(7_i64, &b"0123456789abcdef"[..]), (5, b""), (9, b"xy")] {
                let cut = value.len() / 3;
                whole
                    .append(
                        timestamp,
                        Some(Bytes::from_static(b"k")),
                        Some(Bytes::copy_from_slice(value)),
                        headers.clone(),
                    )
                    .unwrap();
                parts
                    .append_parts(
                        timestamp,
                        Some(b"k"),
                        Some(&[&value[..cut], &value[cut..], b""]),
                        &headers,
                    )
                    .unwrap();
            }
            parts.append_parts(10, None, None, &[]).unwrap();
            whole.append(10, None, None, vec![]).unwrap();
            let (whole, parts) = (whole.build().unwrap(), parts.build().unwrap());
            assert_eq!(whole.as_bytes(), parts.as_bytes(), "{codec:?}");
            let read = read_fully(parts.into_bytes()).unwrap();
            let values: Vec<_> = read.iter().map(|r| r.value.clone()).collect();
            assert_eq!(
                values,
                [
                    Some(Bytes::from_static(b"0123456789abcdef")),
                    Some(Bytes::new()),
                    Some(Bytes::from_static(b"xy")),
                    None
                ]
            );
        }
    }

    #[test]
    fn pushed_offset_deltas_that_do_not_rise_refuse_the_batch() {
        for deltas in [&[0, 0][..], &[3, 1], &[-1], &[0, 2, 2]] {
            let mut builder = RecordBatchBuilder::new(Compression::None);
            for &offset_delta in deltas {
                builder.push(Record {
                    offset_delta,
                    ..Record::default()
                });
            }
            assert!(
                matches!(builder.build(), Err(RecordsError::OffsetDelta { .. })),
                "{deltas:?}"
            );
        }
        // Gaps are fine (compaction leaves them); an append continues after.
        let mut builder = RecordBatchBuilder::new(Compression::None);
        builder.push(Record {
            offset_delta: 2,
            ..Record::default()
        });
        builder.append(0, None, None, vec![]).unwrap();
        let batch = builder.build().unwrap();
        assert_eq!(batch.header().last_offset_delta(), 3);
        assert_eq!(batch.header().records_count(), 2);
    }

    #[test]
    fn timestamps_below_minus_one_leave_the_max_at_no_timestamp() {
        let mut builder = RecordBatchBuilder::new(Compression::None);
        builder.append(-5, None, None, vec![]).unwrap();
        builder.append(-3, None, None, vec![]).unwrap();
        let batch = builder.build().unwrap();
        assert_eq!(batch.header().base_timestamp(), -5);
        assert_eq!(batch.header().max_timestamp(), NO_TIMESTAMP);
    }

    #[test]
    fn empty_batch_has_no_timestamps() {
        let batch = RecordBatchBuilder::new(Compression::None).build().unwrap();
        let h = batch.header();
        assert_eq!(
            (h.base_timestamp(), h.max_timestamp()),
            (NO_TIMESTAMP, NO_TIMESTAMP)
        );
        assert_eq!((h.records_count(), h.last_offset_delta()), (0, 0));
        assert_eq!(batch.size_in_bytes(), HEADER_SIZE);
        assert_eq!(batch.records(0).unwrap().count(), 0);
    }

    #[test]
    fn builder_flags_land_in_the_attributes() {
        let batch = RecordBatchBuilder::new(Compression::Snappy)
            .transactional(true)
            .control(true)
            .log_append_time(55)
            .delete_horizon_ms(44)
            .build()
            .unwrap();
        let h = batch.header();
        assert_eq!(h.attributes(), 0x02 | 0x08 | 0x10 | 0x20 | 0x40);
        assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(h.max_timestamp(), 55);
        assert_eq!(h.delete_horizon_ms(), Some(44));
    }

    #[test]
    fn timestamp_overflow_is_an_error_not_a_panic() {
        let mut builder = RecordBatchBuilder::new(Compression::None).base_timestamp(i64::MIN);
        assert!(builder.append(i64::MAX, None, None, vec![]).is_err());
        let mut builder = RecordBatchBuilder::new(Compression::None).base_timestamp(i64::MAX);
        builder.push(Record {
            timestamp_delta: 1,
            ..Record::default()
        });
        assert!(matches!(
            builder.build(),
            Err(RecordsError::TooLarge { .. })
        ));
    }

    #[test]
    fn compressed_batch_over_the_limit_is_refused() {
        let mut builder = RecordBatchBuilder::new(Compression::Zstd);
        builder
            .append(0, None, Some(Bytes::from(vec![0u8; 100_000])), vec![])
            .unwrap();
        let batch = builder.build().unwrap();
        assert!(matches!(
            batch.records(50_000),
            Err(RecordsError::DecompressedTooLarge {
                codec: Compression::Zstd,
                limit: 50_000
            })
        ));
        assert_eq!(batch.records(200_000).unwrap().count(), 1);
    }

    proptest! {
        // Regressions are not saved: the file would land outside records/.
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn built_batches_read_back_equal_with_every_codec(spec in spec()) {
            let batch = build(&spec);
            batch.verify_crc().unwrap();
            let h = batch.header();
            prop_assert_eq!(h.compression(), spec.codec);
            prop_assert_eq!(h.base_offset(), spec.base_offset);
            prop_assert_eq!(h.partition_leader_epoch(), spec.leader_epoch);
            prop_assert_eq!((h.producer_id(), h.producer_epoch(), h.base_sequence()), spec.producer);
            prop_assert_eq!(h.is_transactional(), spec.transactional);
            prop_assert_eq!(h.records_count() as usize, spec.records.len());
            let last = spec.records.last().map_or(0, |r| r.offset_delta);
            prop_assert_eq!(h.last_offset_delta(), last);
            let max = spec.records.iter().map(|r| spec.base_timestamp + r.timestamp_delta).max();
            prop_assert_eq!(h.max_timestamp(), max.unwrap_or(NO_TIMESTAMP));

            let read = read_fully(batch.as_bytes().clone()).unwrap();
            prop_assert_eq!(&read, &spec.records);

            // Rebuilding from what was read gives the same bytes.
            let again = build(&Spec { records: read, ..spec });
            prop_assert_eq!(again.as_bytes(), batch.as_bytes());
        }

        #[test]
        fn any_flipped_byte_in_the_crc_range_fails_verification(
            spec in spec(),
            mask in 1..=255u8,
        ) {
            let bytes = build(&spec).into_bytes().to_vec();
            // The CRC field itself is included: a flip there must fail too.
            for i in at::CRC..bytes.len() {
                let mut flipped = bytes.clone();
                flipped[i] ^= mask;
                // A flip may also break the header (say, the codec bits);
                // what matters is that the batch is never accepted.
                if let Ok(batch) = RecordBatch::new(Bytes::from(flipped)) {
                    prop_assert!(
                        matches!(batch.verify_crc(), Err(RecordsError::CrcMismatch { .. })),
                        "flip at {} went unnoticed", i
                    );
                }
            }
        }

        #[test]
        fn truncating_a_batch_anywhere_is_an_error(spec in spec()) {
            let batch = build(&spec);
            let bytes = batch.as_bytes();
            for cut in 0..bytes.len() {
                let short = bytes.slice(..cut);
                prop_assert!(RecordBatch::new(short.clone()).is_err());
                match batches(short).last() {
                    None => prop_assert_eq!(cut, 0),
                    Some(last) => prop_assert!(
                        matches!(last, Err(RecordsError::PartialBatch { .. })),
                        "cut at {}: {:?}", cut, last
                    ),
                }
            }
        }

        #[test]
        fn truncated_records_under_a_consistent_header_never_read_as_others(spec in spec()) {
            // Shorten batchLength to match each cut and fix the CRC, so that
            // only the record reader (and the decompressor) can notice. Some
            // codecs tolerate a missing end marker, and an empty section is
            // a valid empty batch, so a cut may read back whole; it must
            // never read back as different records.
            let bytes = build(&spec).into_bytes().to_vec();
            for cut in HEADER_SIZE..bytes.len() {
                let mut short = bytes[..cut].to_vec();
                short[at::BATCH_LENGTH..at::BATCH_LENGTH + 4]
                    .copy_from_slice(&((cut - LOG_OVERHEAD) as i32).to_be_bytes());
                if let Ok(records) = read_fully(Bytes::from(with_crc(short))) {
                    prop_assert!(spec.codec != Compression::None, "cut at {}", cut);
                    prop_assert_eq!(&records, &spec.records, "cut at {}", cut);
                }
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..300)) {
            for batch in batches(Bytes::from(bytes)).flatten() {
                let _ = batch.verify_crc();
                if let Ok(records) = batch.records(1 << 16) {
                    for _ in records {}
                }
            }
        }

        #[test]
        fn random_records_under_a_valid_header_never_panic(
            codec in codec(),
            count in -2..40i32,
            last_offset_delta in -1..40i32,
            body in vec(any::<u8>(), 0..400),
        ) {
            let mut bytes = RecordBatchBuilder::new(codec).build().unwrap().into_bytes().to_vec();
            bytes.extend_from_slice(&body);
            let batch_length = (bytes.len() - LOG_OVERHEAD) as i32;
            bytes[at::BATCH_LENGTH..at::BATCH_LENGTH + 4].copy_from_slice(&batch_length.to_be_bytes());
            bytes[at::RECORDS_COUNT..at::RECORDS_COUNT + 4].copy_from_slice(&count.to_be_bytes());
            bytes[at::LAST_OFFSET_DELTA..at::LAST_OFFSET_DELTA + 4]
                .copy_from_slice(&last_offset_delta.to_be_bytes());
            let bytes = with_crc(bytes);
            let _ = BatchHeader::parse(&bytes);
            let _ = read_fully(Bytes::from(bytes));
        }

        #[test]
        fn header_counting_one_record_too_many_is_refused(
            records in records(),
        ) {
            // Valid records, but the header counts one more than there are.
            let mut builder = RecordBatchBuilder::new(Compression::None);
            for record in &records {
                builder.push(record.clone());
            }
            let mut bytes = builder.build().unwrap().into_bytes().to_vec();
            let count = records.len() as i32 + 1;
            bytes[at::RECORDS_COUNT..at::RECORDS_COUNT + 4].copy_from_slice(&count.to_be_bytes());
            prop_assert_eq!(
                read_fully(Bytes::from(with_crc(bytes))),
                Err(RecordsError::RecordCount { declared: count, actual: records.len() })
            );
        }
    }
}
