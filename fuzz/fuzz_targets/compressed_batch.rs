//! The compression codecs, two ways, picked by the top bit of the first
//! byte:
//!
//! - clear: the low bits pick a codec, the rest of the input is a payload to
//!   decompress with a 1 MiB limit. What decompresses must do so again under
//!   a limit of exactly its size, be refused one byte below, and survive
//!   compress then decompress.
//! - set: the rest of the input describes a batch (codec, header fields,
//!   records); it is built, split off a record set, checked and read back,
//!   and must hold the same records.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use strata_protocol::records::compression::{compress, decompress};
use strata_protocol::records::{
    self, Compression, Header, Record, RecordBatch, RecordBatchBuilder, RecordsError, TimestampType,
};

const DECOMPRESSION_LIMIT: usize = 1 << 20;
const MAX_RECORDS: usize = 64;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector & 0x80 == 0 {
        let codec = Compression::ALL[usize::from(selector) % Compression::ALL.len()];
        check_decompress(codec, rest);
    } else {
        let _ = check_build(&mut Unstructured::new(rest));
    }
});

fn check_decompress(codec: Compression, payload: &[u8]) {
    let Ok(out) = decompress(codec, payload, DECOMPRESSION_LIMIT) else {
        return;
    };
    assert!(out.len() <= DECOMPRESSION_LIMIT);
    assert_eq!(
        decompress(codec, payload, out.len()).as_ref(),
        Ok(&out),
        "{codec}: same output under a limit of exactly its size"
    );
    if let Some(below) = out.len().checked_sub(1) {
        assert_eq!(
            decompress(codec, payload, below),
            Err(RecordsError::DecompressedTooLarge {
                codec,
                limit: below
            }),
            "{codec}: refused one byte below its size"
        );
    }
    let packed = compress(codec, &out).expect("compressing never fails");
    assert_eq!(
        decompress(codec, &packed, out.len()).as_ref(),
        Ok(&out),
        "{codec}: compress then decompress"
    );
}

fn opt_bytes(u: &mut Unstructured<'_>) -> arbitrary::Result<Option<Bytes>> {
    Ok(Option::<&[u8]>::arbitrary(u)?.map(Bytes::copy_from_slice))
}

fn check_build(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let codec = *u.choose(&Compression::ALL)?;
    let base_offset = i64::arbitrary(u)?;
    let (producer_id, producer_epoch, base_sequence) = <(i64, i16, i32)>::arbitrary(u)?;
    let transactional = bool::arbitrary(u)?;
    let control = bool::arbitrary(u)?;
    let base_timestamp = i64::arbitrary(u)?;
    let log_append_time = Option::<i64>::arbitrary(u)?;
    let delete_horizon = bool::arbitrary(u)?;

    let mut builder = RecordBatchBuilder::new(codec)
        .base_offset(base_offset)
        .partition_leader_epoch(i32::arbitrary(u)?)
        .producer(producer_id, producer_epoch, base_sequence)
        .transactional(transactional)
        .control(control)
        .base_timestamp(base_timestamp);
    if let Some(timestamp) = log_append_time {
        builder = builder.log_append_time(timestamp);
    }
    if delete_horizon {
        builder = builder.delete_horizon_ms(base_timestamp);
    }

    let mut pushed = Vec::new();
    let mut offset_delta = i32::from(u8::arbitrary(u)?);
    while pushed.len() < MAX_RECORDS && !u.is_empty() && bool::arbitrary(u)? {
        let mut headers = Vec::new();
        for _ in 0..u.int_in_range(0..=3)? {
            let key = Bytes::copy_from_slice(<&[u8]>::arbitrary(u)?);
            headers.push(Header::new(key, opt_bytes(u)?));
        }
        let record = Record {
            offset_delta,
            timestamp_delta: i64::arbitrary(u)?,
            key: opt_bytes(u)?,
            value: opt_bytes(u)?,
            headers,
        };
        builder.push(record.clone());
        pushed.push(record);
        offset_delta += 1 + i32::from(u8::arbitrary(u)?);
    }

    let batch = match builder.build() {
        Ok(batch) => batch,
        // A timestamp delta that overflows the base: refused, not written.
        Err(RecordsError::TooLarge { .. }) => return Ok(()),
        Err(e) => panic!("{codec}: building {} records failed: {e}", pushed.len()),
    };
    let bytes = batch.clone().into_bytes();

    // As a record set: exactly this one batch.
    let mut set = records::batches(bytes.clone());
    assert_eq!(set.next(), Some(Ok(batch.clone())));
    assert_eq!(set.next(), None);

    let parsed = RecordBatch::new(bytes).expect("a built batch parses");
    parsed.verify_crc().expect("a built batch has a good CRC");
    let h = parsed.header();
    assert_eq!(h.compression(), codec);
    assert_eq!(h.base_offset(), base_offset);
    assert_eq!(h.producer_id(), producer_id);
    assert_eq!(h.producer_epoch(), producer_epoch);
    assert_eq!(h.base_sequence(), base_sequence);
    assert_eq!(h.is_transactional(), transactional);
    assert_eq!(h.is_control(), control);
    assert_eq!(h.has_delete_horizon(), delete_horizon);
    assert_eq!(h.base_timestamp(), base_timestamp);
    assert_eq!(usize::try_from(h.records_count()), Ok(pushed.len()));
    assert_eq!(
        h.last_offset_delta(),
        pushed.last().map_or(0, |r| r.offset_delta)
    );
    match log_append_time {
        Some(timestamp) => {
            assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
            assert_eq!(h.max_timestamp(), timestamp);
        }
        None => assert_eq!(h.timestamp_type(), TimestampType::CreateTime),
    }

    let read: Vec<Record> = parsed
        .records(usize::MAX)
        .expect("a built batch decompresses")
        .collect::<Result<_, _>>()
        .expect("a built batch reads back");
    assert_eq!(read, pushed);
    for record in &read {
        let expected = match log_append_time {
            Some(timestamp) => timestamp,
            None => base_timestamp + record.timestamp_delta,
        };
        assert_eq!(parsed.timestamp_of(record), expected);
        assert_eq!(
            parsed.offset_of(record),
            base_offset.saturating_add(i64::from(record.offset_delta))
        );
    }
    Ok(())
}
