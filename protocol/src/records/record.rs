//! Records inside a batch: reading them one at a time, and writing them.

use bytes::{BufMut, Bytes, BytesMut};

use super::RecordsError;
use super::batch::BatchHeader;
use crate::error::Malformed;
use crate::wire::{
    get_i8, get_varint, get_varlong, put_varint, put_varlong, varint_len, varlong_len,
};

/// One record. Its offset and timestamp are deltas from the batch's base
/// ([`RecordBatch::offset_of`](super::RecordBatch::offset_of),
/// [`timestamp_of`](super::RecordBatch::timestamp_of)).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub offset_delta: i32,
    pub timestamp_delta: i64,
    /// `None` is a null key, which is not the same as an empty one.
    pub key: Option<Bytes>,
    /// `None` is a null value: a tombstone under compaction.
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
}

/// A record header. The key is UTF-8 by Kafka's contract but kept as bytes,
/// so that passing a record through never fails or rewrites it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    pub key: Bytes,
    pub value: Option<Bytes>,
}

impl Header {
    pub fn new(key: impl Into<Bytes>, value: Option<Bytes>) -> Self {
        Header {
            key: key.into(),
            value,
        }
    }

    /// The key as text, if it is valid UTF-8.
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.key).ok()
    }
}

/// The records of one batch, read lazily from the (decompressed) records
/// section. Yields an error, and then stops, when a record is malformed,
/// when the count differs from the header's `recordsCount`, when bytes are
/// left over, or when offset deltas do not rise strictly within
/// `[0, lastOffsetDelta]` (compaction leaves gaps, so they need not be
/// consecutive; the produce path checks that on its own).
#[derive(Debug, Clone)]
pub struct Records {
    rest: Bytes,
    declared: i32,
    index: usize,
    last_offset_delta: i32,
    previous: Option<i32>,
    done: bool,
}

impl Records {
    pub(crate) fn new(section: Bytes, header: &BatchHeader) -> Self {
        Records {
            rest: section,
            declared: header.records_count(),
            index: 0,
            last_offset_delta: header.last_offset_delta(),
            previous: None,
            done: false,
        }
    }

    fn remaining_count(&self) -> usize {
        // `BatchHeader::parse` refused a negative count.
        (self.declared as usize).saturating_sub(self.index)
    }

    fn next_record(&mut self) -> Result<Option<Record>, RecordsError> {
        if self.remaining_count() == 0 {
            if !self.rest.is_empty() {
                return Err(RecordsError::TrailingBytes {
                    count: self.rest.len(),
                });
            }
            return Ok(None);
        }
        if self.rest.is_empty() {
            return Err(RecordsError::RecordCount {
                declared: self.declared,
                actual: self.index,
            });
        }
        let record = decode_record(&mut self.rest, self.index)?;
        let delta = record.offset_delta;
        if delta < 0
            || delta > self.last_offset_delta
            || self.previous.is_some_and(|previous| delta <= previous)
        {
            return Err(RecordsError::OffsetDelta {
                index: self.index,
                offset_delta: delta,
                previous: self.previous,
                last_offset_delta: self.last_offset_delta,
            });
        }
        self.previous = Some(delta);
        self.index += 1;
        Ok(Some(record))
    }
}

impl Iterator for Records {
    type Item = Result<Record, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_record();
        self.done = !matches!(next, Ok(Some(_)));
        next.transpose()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match (self.done, self.remaining_count()) {
            (true, _) => (0, Some(0)),
            // Only the trailing-bytes error is left to yield, if anything.
            (false, 0) => (0, Some(usize::from(!self.rest.is_empty()))),
            (false, n) => (0, Some(n)),
        }
    }
}

impl std::iter::FusedIterator for Records {}

fn malformed(index: usize, field: &'static str, reason: Malformed) -> RecordsError {
    RecordsError::Record {
        index,
        field,
        reason,
    }
}

/// Reads a varint length and that many bytes; `-1` is null.
fn get_var_bytes(
    body: &mut Bytes,
    index: usize,
    field: &'static str,
) -> Result<Option<Bytes>, RecordsError> {
    let length = get_varint(body).map_err(|e| RecordsError::record(index, field, e))?;
    if length == -1 {
        return Ok(None);
    }
    let length = usize::try_from(length).map_err(|_| {
        malformed(
            index,
            field,
            Malformed::NegativeLength {
                length: i64::from(length),
            },
        )
    })?;
    if length > body.len() {
        return Err(malformed(
            index,
            field,
            Malformed::LengthExceedsInput {
                length,
                remaining: body.len(),
            },
        ));
    }
    Ok(Some(body.split_to(length)))
}

fn decode_record(rest: &mut Bytes, index: usize) -> Result<Record, RecordsError> {
    let length = get_varint(rest).map_err(|e| RecordsError::record(index, "length", e))?;
    let length = usize::try_from(length).map_err(|_| {
        malformed(
            index,
            "length",
            Malformed::NegativeLength {
                length: i64::from(length),
            },
        )
    })?;
    if length > rest.len() {
        return Err(malformed(
            index,
            "length",
            Malformed::LengthExceedsInput {
                length,
                remaining: rest.len(),
            },
        ));
    }
    let mut body = rest.split_to(length);
    // Record attributes are unused; Kafka ignores whatever they hold.
    get_i8(&mut body).map_err(|e| RecordsError::record(index, "attributes", e))?;
    let timestamp_delta =
        get_varlong(&mut body).map_err(|e| RecordsError::record(index, "timestampDelta", e))?;
    let offset_delta =
        get_varint(&mut body).map_err(|e| RecordsError::record(index, "offsetDelta", e))?;
    let key = get_var_bytes(&mut body, index, "key")?;
    let value = get_var_bytes(&mut body, index, "value")?;
    let count =
        get_varint(&mut body).map_err(|e| RecordsError::record(index, "headersCount", e))?;
    let count = usize::try_from(count).map_err(|_| {
        malformed(
            index,
            "headersCount",
            Malformed::NegativeLength {
                length: i64::from(count),
            },
        )
    })?;
    // Each header takes at least two bytes (two lengths), which bounds the
    // allocation by the input.
    if count > body.len() / 2 {
        return Err(malformed(
            index,
            "headersCount",
            Malformed::LengthExceedsInput {
                length: count,
                remaining: body.len(),
            },
        ));
    }
    let mut headers = Vec::with_capacity(count);
    for _ in 0..count {
        let key = get_var_bytes(&mut body, index, "headerKey")?
            .ok_or_else(|| malformed(index, "headerKey", Malformed::UnexpectedNull))?;
        let value = get_var_bytes(&mut body, index, "headerValue")?;
        headers.push(Header { key, value });
    }
    if !body.is_empty() {
        return Err(malformed(
            index,
            "length",
            Malformed::TrailingBytes { count: body.len() },
        ));
    }
    Ok(Record {
        offset_delta,
        timestamp_delta,
        key,
        value,
        headers,
    })
}

/// A record's fields, borrowed, as encoding needs them. The value may come
/// in pieces, written back to back, so that a caller holding it in parts
/// (say, a timestamp and a payload) writes it once, into the batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordParts<'a> {
    pub offset_delta: i32,
    pub timestamp_delta: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [&'a [u8]]>,
    pub headers: &'a [Header],
}

fn var_bytes_len(pieces: Option<&[&[u8]]>, field: &'static str) -> Result<usize, RecordsError> {
    match pieces {
        None => Ok(varint_len(-1)),
        Some(pieces) => {
            let len: usize = pieces.iter().map(|piece| piece.len()).sum();
            let n = i32::try_from(len).map_err(|_| RecordsError::TooLarge {
                field,
                value: len as u64,
            })?;
            Ok(varint_len(n) + len)
        }
    }
}

/// `var_bytes_len` must have checked the length fits an i32.
fn put_var_bytes(out: &mut BytesMut, pieces: Option<&[&[u8]]>) {
    match pieces {
        None => put_varint(out, -1),
        Some(pieces) => {
            let len: usize = pieces.iter().map(|piece| piece.len()).sum();
            put_varint(out, len as i32);
            for piece in pieces {
                out.put_slice(piece);
            }
        }
    }
}

/// Bytes after the record's length field.
fn body_len(record: &RecordParts<'_>) -> Result<usize, RecordsError> {
    let headers_count =
        i32::try_from(record.headers.len()).map_err(|_| RecordsError::TooLarge {
            field: "headersCount",
            value: record.headers.len() as u64,
        })?;
    let mut len = 1
        + varlong_len(record.timestamp_delta)
        + varint_len(record.offset_delta)
        + var_bytes_len(record.key.as_ref().map(std::slice::from_ref), "key")?
        + var_bytes_len(record.value, "value")?
        + varint_len(headers_count);
    for header in record.headers {
        len += var_bytes_len(Some(&[&header.key[..]]), "headerKey")?;
        len += var_bytes_len(
            header.value.as_deref().as_ref().map(std::slice::from_ref),
            "headerValue",
        )?;
    }
    if i32::try_from(len).is_err() {
        return Err(RecordsError::TooLarge {
            field: "record",
            value: len as u64,
        });
    }
    Ok(len)
}

/// Appends one record, length-prefixed, to `out`.
pub(crate) fn encode_record(out: &mut BytesMut, record: &Record) -> Result<(), RecordsError> {
    let value = record.value.as_deref();
    encode_parts(
        out,
        &RecordParts {
            offset_delta: record.offset_delta,
            timestamp_delta: record.timestamp_delta,
            key: record.key.as_deref(),
            value: value.as_ref().map(std::slice::from_ref),
            headers: &record.headers,
        },
    )
}

/// Appends one record given in parts, length-prefixed, to `out`.
pub(crate) fn encode_parts(
    out: &mut BytesMut,
    record: &RecordParts<'_>,
) -> Result<(), RecordsError> {
    let len = body_len(record)?;
    out.reserve(len + 5);
    // `body_len` checked the length fits an i32.
    put_varint(out, len as i32);
    out.put_i8(0);
    put_varlong(out, record.timestamp_delta);
    put_varint(out, record.offset_delta);
    put_var_bytes(out, record.key.as_ref().map(std::slice::from_ref));
    put_var_bytes(out, record.value);
    // `body_len` checked the count fits an i32.
    put_varint(out, record.headers.len() as i32);
    for header in record.headers {
        put_var_bytes(out, Some(&[&header.key[..]]));
        put_var_bytes(
            out,
            header.value.as_deref().as_ref().map(std::slice::from_ref),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_one(bytes: &'static [u8]) -> Result<Record, RecordsError> {
        let mut rest = Bytes::from_static(bytes);
        decode_record(&mut rest, 0)
    }

    #[test]
    fn record_encodes_to_the_documented_bytes() {
        let record = Record {
            offset_delta: 1,
            timestamp_delta: 2,
            key: Some(Bytes::from_static(b"k")),
            value: None,
            headers: vec![Header::new("h", Some(Bytes::from_static(b"v")))],
        };
        let mut out = BytesMut::new();
        encode_record(&mut out, &record).unwrap();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            22,         // length 11, zig-zag
            0,          // attributes
            4,          // timestampDelta 2
            2,          // offsetDelta 1
            2, b'k',    // key length 1, key
            1,          // value length -1: null
            2,          // one header
            2, b'h',    // header key
            2, b'v',    // header value
        ];
        assert_eq!(&out[..], expected);
        assert_eq!(decode_one(expected).unwrap(), record);
    }

    #[test]
    fn empty_and_null_keys_stay_apart() {
        let null = decode_one(&[12, 0, 0, 0, 1, 1, 0]).unwrap();
        assert_eq!(null.key, None);
        let empty = decode_one(&[12, 0, 0, 0, 0, 1, 0]).unwrap();
        assert_eq!(empty.key, Some(Bytes::new()));
    }

    #[test]
    fn record_with_bytes_past_its_body_is_malformed() {
        // Length 7 but the body ends after 6 bytes of fields.
        assert_eq!(
            decode_one(&[14, 0, 0, 0, 1, 1, 0, 9]),
            Err(RecordsError::Record {
                index: 0,
                field: "length",
                reason: Malformed::TrailingBytes { count: 1 }
            })
        );
    }

    #[test]
    fn key_longer_than_record_is_malformed() {
        assert!(matches!(
            decode_one(&[12, 0, 0, 0, 20, 1, 0]),
            Err(RecordsError::Record {
                field: "key",
                reason: Malformed::LengthExceedsInput { .. },
                ..
            })
        ));
    }

    #[test]
    fn null_header_key_is_malformed() {
        assert!(matches!(
            decode_one(&[16, 0, 0, 0, 1, 1, 2, 1, 1]),
            Err(RecordsError::Record {
                field: "headerKey",
                reason: Malformed::UnexpectedNull,
                ..
            })
        ));
    }

    #[test]
    fn huge_header_count_is_refused_before_allocating() {
        // headersCount = i32::MAX.
        assert!(matches!(
            decode_one(&[20, 0, 0, 0, 1, 1, 0xfe, 0xff, 0xff, 0xff, 0x0f]),
            Err(RecordsError::Record {
                field: "headersCount",
                reason: Malformed::LengthExceedsInput { .. },
                ..
            })
        ));
    }

    #[test]
    fn minimal_record_is_seven_bytes() {
        // One byte each: length, attributes, timestampDelta, offsetDelta,
        // keyLength, valueLength, headersCount.
        let mut out = BytesMut::new();
        encode_record(&mut out, &Record::default()).unwrap();
        assert_eq!(&out[..], &[12, 0, 0, 0, 1, 1, 0]);
    }
}
