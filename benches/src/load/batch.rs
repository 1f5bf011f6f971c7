//! A record batch written record by record straight into the buffer that
//! goes on the wire, for the load tool's producers.
//!
//! [`RecordBatchBuilder`](strata_protocol::records::RecordBatchBuilder)
//! keeps each record (its value a `Bytes` of its own) until `build`, then
//! encodes them and copies the section behind the header. At 100-byte
//! records and a million records a second that is a copy of every value
//! into memory that was just allocated, then two more: 16.5 % of the
//! tool's samples were the first of them. Here the value is written once,
//! where it stays.
//!
//! Only what the tool sends: no key, no headers, no producer id.

use bytes::{BufMut, Bytes, BytesMut};
use strata_protocol::records::{
    Compression, HEADER_SIZE, LOG_OVERHEAD, MAGIC, RecordsError, at, compression,
};
use strata_protocol::wire::{put_varint, put_varlong, varint_len, varlong_len};

/// A batch being filled: the header's room, then the records section.
#[derive(Debug)]
pub struct BatchWriter {
    compression: Compression,
    buf: BytesMut,
    base_timestamp: i64,
    max_timestamp: i64,
    records: i32,
}

impl BatchWriter {
    /// A batch with room for `capacity` bytes of records before it grows.
    pub fn new(compression: Compression, capacity: usize) -> Self {
        let mut buf = BytesMut::with_capacity(HEADER_SIZE + capacity);
        buf.put_bytes(0, HEADER_SIZE);
        BatchWriter {
            compression,
            buf,
            base_timestamp: -1,
            max_timestamp: -1,
            records: 0,
        }
    }

    pub fn records(&self) -> usize {
        self.records as usize
    }

    /// Appends a record with no key and no headers, timestamped `timestamp`
    /// (ms) and valued `prefix` followed by `rest`.
    pub fn append(&mut self, timestamp: i64, prefix: &[u8], rest: &[u8]) {
        if self.records == 0 {
            self.base_timestamp = timestamp;
        }
        self.max_timestamp = self.max_timestamp.max(timestamp);
        let timestamp_delta = timestamp - self.base_timestamp;
        let offset_delta = self.records;
        let value_len = prefix.len() + rest.len();
        // attributes, key length (-1) and header count (0) are a byte each.
        let body_len = 3
            + varlong_len(timestamp_delta)
            + varint_len(offset_delta)
            + varint_len(value_len as i32)
            + value_len;
        self.buf.reserve(body_len + 5);
        put_varint(&mut self.buf, body_len as i32);
        self.buf.put_i8(0);
        put_varlong(&mut self.buf, timestamp_delta);
        put_varint(&mut self.buf, offset_delta);
        put_varint(&mut self.buf, -1);
        put_varint(&mut self.buf, value_len as i32);
        self.buf.put_slice(prefix);
        self.buf.put_slice(rest);
        put_varint(&mut self.buf, 0);
        self.records += 1;
    }

    /// The finished batch: compressed if asked, header and CRC filled in.
    pub fn finish(self) -> Result<Bytes, RecordsError> {
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
        let batch_length = (out.len() - LOG_OVERHEAD) as i32;
        let mut header = &mut out[..HEADER_SIZE];
        header.put_i64(0); // base offset: the broker assigns it
        header.put_i32(batch_length);
        header.put_i32(-1); // partition leader epoch
        header.put_i8(MAGIC);
        header.put_u32(0); // CRC, below
        header.put_i16(i16::from(self.compression.id()));
        header.put_i32((self.records - 1).max(0)); // last offset delta
        header.put_i64(self.base_timestamp);
        header.put_i64(self.max_timestamp);
        header.put_i64(-1); // producer id
        header.put_i16(-1); // producer epoch
        header.put_i32(-1); // base sequence
        header.put_i32(self.records);
        let crc = crc32c::crc32c(&out[at::ATTRIBUTES..]);
        out[at::CRC..at::CRC + 4].copy_from_slice(&crc.to_be_bytes());
        Ok(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_protocol::records::batches;

    /// What a consumer gets back: each record's timestamp and value.
    fn read(batch: Bytes) -> Vec<(i64, Vec<u8>)> {
        let mut out = Vec::new();
        for batch in batches(batch) {
            let batch = batch.expect("a whole batch");
            batch.verify_crc().expect("the CRC matches");
            assert_eq!(batch.base_offset(), 0);
            assert_eq!(batch.header().producer_id(), -1);
            for record in batch.records(1 << 20).expect("records decode") {
                let record = record.expect("a record");
                assert!(record.key.is_none() && record.headers.is_empty());
                let timestamp = batch.timestamp_of(&record);
                out.push((timestamp, record.value.expect("a value").to_vec()));
            }
        }
        out
    }

    #[test]
    fn batches_read_back_as_written_with_every_codec() {
        for codec in Compression::ALL {
            let mut writer = BatchWriter::new(codec, 64);
            let mut expected = Vec::new();
            // Timestamps out of order: the max is not the last one.
            for (i, timestamp) in [1_700_000_000_123, 1_700_000_000_500, 1_700_000_000_200]
                .into_iter()
                .enumerate()
            {
                let prefix = (i as u64).to_be_bytes();
                let rest = vec![b'A' + i as u8; 100 + 100 * i];
                writer.append(timestamp, &prefix, &rest);
                expected.push((timestamp, [&prefix[..], &rest].concat()));
            }
            assert_eq!(writer.records(), 3);
            let batch = writer.finish().expect("the batch finishes");
            let parsed = batches(batch.clone()).next().unwrap().unwrap();
            let header = parsed.header();
            assert_eq!(header.compression(), codec, "{codec:?}");
            assert_eq!(header.last_offset_delta(), 2);
            assert_eq!(header.records_count(), 3);
            assert_eq!(header.max_timestamp(), 1_700_000_000_500);
            assert_eq!(read(batch), expected, "{codec:?}");
        }
    }

    #[test]
    fn a_batch_matches_the_protocol_builders_byte_for_byte() {
        let mut writer = BatchWriter::new(Compression::None, 0);
        let mut builder = strata_protocol::records::RecordBatchBuilder::new(Compression::None);
        for (timestamp, value) in [(5_i64, &b"first"[..]), (3, b"second value")] {
            writer.append(timestamp, &value[..2], &value[2..]);
            builder
                .append(
                    timestamp,
                    None,
                    Some(Bytes::copy_from_slice(value)),
                    Vec::new(),
                )
                .unwrap();
        }
        assert_eq!(
            writer.finish().unwrap(),
            builder.build().unwrap().into_bytes()
        );
    }
}
