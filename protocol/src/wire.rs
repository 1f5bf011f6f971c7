//! The primitive encodings every message is built from.
//!
//! Classic versions use fixed-width lengths (`i16` for strings, `i32` for
//! bytes and arrays, -1 for null); flexible versions use "compact" lengths,
//! an unsigned varint holding length + 1 (0 for null). Record-level fields use
//! zig-zag varints. All integers are big-endian.
//!
//! Readers take `&mut Bytes` so that byte fields are slices of the frame, not
//! copies. Every length is checked against what remains before anything is
//! allocated.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError, Malformed};

pub(crate) type Result<T> = std::result::Result<T, DecodeError>;

fn need(buf: &Bytes, n: usize) -> Result<()> {
    if buf.remaining() < n {
        return Err(DecodeError::malformed(Malformed::Truncated {
            needed: n,
            remaining: buf.remaining(),
        }));
    }
    Ok(())
}

pub fn get_bool(buf: &mut Bytes) -> Result<bool> {
    need(buf, 1)?;
    Ok(buf.get_u8() != 0)
}

pub fn get_i8(buf: &mut Bytes) -> Result<i8> {
    need(buf, 1)?;
    Ok(buf.get_i8())
}

pub fn get_i16(buf: &mut Bytes) -> Result<i16> {
    need(buf, 2)?;
    Ok(buf.get_i16())
}

pub fn get_u16(buf: &mut Bytes) -> Result<u16> {
    need(buf, 2)?;
    Ok(buf.get_u16())
}

pub fn get_i32(buf: &mut Bytes) -> Result<i32> {
    need(buf, 4)?;
    Ok(buf.get_i32())
}

pub fn get_u32(buf: &mut Bytes) -> Result<u32> {
    need(buf, 4)?;
    Ok(buf.get_u32())
}

pub fn get_i64(buf: &mut Bytes) -> Result<i64> {
    need(buf, 8)?;
    Ok(buf.get_i64())
}

pub fn get_f64(buf: &mut Bytes) -> Result<f64> {
    need(buf, 8)?;
    Ok(buf.get_f64())
}

pub fn get_uuid(buf: &mut Bytes) -> Result<crate::types::Uuid> {
    need(buf, 16)?;
    let mut id = [0u8; 16];
    buf.copy_to_slice(&mut id);
    Ok(crate::types::Uuid(id))
}

/// Unsigned LEB128 varint of at most 5 bytes (Kafka's `readUnsignedVarint`).
pub fn get_uvarint(buf: &mut Bytes) -> Result<u32> {
    let mut value: u32 = 0;
    for i in 0..5 {
        need(buf, 1)?;
        let b = buf.get_u8();
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::malformed(Malformed::VarintTooLong {
        max_bytes: 5,
    }))
}

/// Unsigned LEB128 varint of at most 10 bytes.
pub fn get_uvarlong(buf: &mut Bytes) -> Result<u64> {
    let mut value: u64 = 0;
    for i in 0..10 {
        need(buf, 1)?;
        let b = buf.get_u8();
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::malformed(Malformed::VarintTooLong {
        max_bytes: 10,
    }))
}

/// Zig-zag signed varint (record fields).
pub fn get_varint(buf: &mut Bytes) -> Result<i32> {
    let raw = get_uvarint(buf)?;
    Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// Zig-zag signed varlong (record fields).
pub fn get_varlong(buf: &mut Bytes) -> Result<i64> {
    let raw = get_uvarlong(buf)?;
    Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

pub fn put_uvarint(buf: &mut BytesMut, mut value: u32) {
    while value >= 0x80 {
        buf.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

pub fn put_uvarlong(buf: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        buf.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

pub fn put_varint(buf: &mut BytesMut, value: i32) {
    put_uvarint(buf, ((value << 1) ^ (value >> 31)) as u32);
}

pub fn put_varlong(buf: &mut BytesMut, value: i64) {
    put_uvarlong(buf, ((value << 1) ^ (value >> 63)) as u64);
}

/// Bytes a `put_uvarint` of `value` writes.
pub fn uvarint_len(value: u32) -> usize {
    match value {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

/// Bytes a `put_varint` of `value` writes.
pub fn varint_len(value: i32) -> usize {
    uvarint_len(((value << 1) ^ (value >> 31)) as u32)
}

/// Bytes a `put_varlong` of `value` writes.
pub fn varlong_len(value: i64) -> usize {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Reads a length prefix; `None` is null. Compact lengths are varint n+1.
fn get_len(buf: &mut Bytes, compact: bool, wide: bool) -> Result<Option<usize>> {
    let length: i64 = if compact {
        i64::from(get_uvarint(buf)?) - 1
    } else if wide {
        i64::from(get_i32(buf)?)
    } else {
        i64::from(get_i16(buf)?)
    };
    if length == -1 {
        return Ok(None);
    }
    if length < 0 {
        return Err(DecodeError::malformed(Malformed::NegativeLength { length }));
    }
    Ok(Some(length as usize))
}

pub(crate) fn take(buf: &mut Bytes, length: usize) -> Result<Bytes> {
    if length > buf.remaining() {
        return Err(DecodeError::malformed(Malformed::LengthExceedsInput {
            length,
            remaining: buf.remaining(),
        }));
    }
    Ok(buf.split_to(length))
}

pub fn get_nullable_string(buf: &mut Bytes, compact: bool) -> Result<Option<String>> {
    match get_len(buf, compact, false)? {
        None => Ok(None),
        Some(length) => {
            let raw = take(buf, length)?;
            match std::str::from_utf8(&raw) {
                Ok(s) => Ok(Some(s.to_owned())),
                Err(_) => Err(DecodeError::malformed(Malformed::InvalidUtf8)),
            }
        }
    }
}

pub fn get_string(buf: &mut Bytes, compact: bool) -> Result<String> {
    get_nullable_string(buf, compact)?
        .ok_or_else(|| DecodeError::malformed(Malformed::UnexpectedNull))
}

pub fn get_nullable_bytes(buf: &mut Bytes, compact: bool) -> Result<Option<Bytes>> {
    match get_len(buf, compact, true)? {
        None => Ok(None),
        Some(length) => take(buf, length).map(Some),
    }
}

pub fn get_bytes(buf: &mut Bytes, compact: bool) -> Result<Bytes> {
    get_nullable_bytes(buf, compact)?
        .ok_or_else(|| DecodeError::malformed(Malformed::UnexpectedNull))
}

/// Reads an array length; `None` is null. A claimed length larger than the
/// bytes that remain is refused before anything is allocated: every element
/// takes at least one byte (Kafka's own decoder applies the same bound).
pub fn get_array_len(buf: &mut Bytes, compact: bool) -> Result<Option<usize>> {
    match get_len(buf, compact, true)? {
        None => Ok(None),
        Some(length) if length > buf.remaining() => {
            Err(DecodeError::malformed(Malformed::LengthExceedsInput {
                length,
                remaining: buf.remaining(),
            }))
        }
        Some(length) => Ok(Some(length)),
    }
}

pub fn put_bool(buf: &mut BytesMut, v: bool) {
    buf.put_u8(u8::from(v));
}

pub fn put_uuid(buf: &mut BytesMut, v: &crate::types::Uuid) {
    buf.put_slice(&v.0);
}

fn put_len(buf: &mut BytesMut, length: Option<usize>, compact: bool, wide: bool) {
    match (length, compact, wide) {
        (None, true, _) => buf.put_u8(0),
        (None, false, true) => buf.put_i32(-1),
        (None, false, false) => buf.put_i16(-1),
        // Callers check the length against the limit first.
        (Some(n), true, _) => put_uvarint(buf, n as u32 + 1),
        (Some(n), false, true) => buf.put_i32(n as i32),
        (Some(n), false, false) => buf.put_i16(n as i16),
    }
}

pub fn put_nullable_string(
    buf: &mut BytesMut,
    v: Option<&str>,
    compact: bool,
    field: &'static str,
) -> std::result::Result<(), EncodeError> {
    if let Some(s) = v {
        if s.len() > i16::MAX as usize {
            return Err(EncodeError::TooLong {
                field,
                length: s.len(),
                max: i16::MAX as usize,
            });
        }
    }
    put_len(buf, v.map(str::len), compact, false);
    if let Some(s) = v {
        buf.put_slice(s.as_bytes());
    }
    Ok(())
}

pub fn put_nullable_bytes(
    buf: &mut BytesMut,
    v: Option<&[u8]>,
    compact: bool,
    field: &'static str,
) -> std::result::Result<(), EncodeError> {
    if let Some(b) = v {
        if b.len() > i32::MAX as usize - 1 {
            return Err(EncodeError::TooLong {
                field,
                length: b.len(),
                max: i32::MAX as usize - 1,
            });
        }
    }
    put_len(buf, v.map(<[u8]>::len), compact, true);
    if let Some(b) = v {
        buf.put_slice(b);
    }
    Ok(())
}

pub fn put_array_len(buf: &mut BytesMut, length: Option<usize>, compact: bool) {
    put_len(buf, length, compact, true);
}

/// Reads one tagged field's header and takes its data: `(tag, data)`.
pub fn get_tagged_field(buf: &mut Bytes) -> Result<(u32, Bytes)> {
    let tag = get_uvarint(buf)?;
    let size = get_uvarint(buf)? as usize;
    Ok((tag, take(buf, size)?))
}

/// A known tagged field must fill its declared size exactly.
pub fn expect_consumed(buf: &Bytes) -> Result<()> {
    if buf.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::malformed(Malformed::TrailingBytes {
            count: buf.len(),
        }))
    }
}

/// Writes the tagged-field section: known fields (already encoded) and
/// unknown ones kept from decoding, together in ascending tag order, as
/// Kafka's own encoder orders them.
pub fn put_tagged_fields(
    buf: &mut BytesMut,
    mut known: Vec<(u32, BytesMut)>,
    unknown: &[crate::types::RawTaggedField],
) {
    if known.is_empty() && unknown.is_empty() {
        buf.put_u8(0);
        return;
    }
    put_uvarint(buf, (known.len() + unknown.len()) as u32);
    known.sort_by_key(|(tag, _)| *tag);
    let mut unknown: Vec<&crate::types::RawTaggedField> = unknown.iter().collect();
    unknown.sort_by_key(|f| f.tag);
    let (mut k, mut u) = (known.iter().peekable(), unknown.into_iter().peekable());
    loop {
        let take_known = match (k.peek(), u.peek()) {
            (Some((kt, _)), Some(uf)) => *kt <= uf.tag,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let (tag, data): (u32, &[u8]) = if take_known {
            let Some((tag, data)) = k.next() else { break };
            (*tag, data)
        } else {
            let Some(f) = u.next() else { break };
            (f.tag, &f.data)
        };
        put_uvarint(buf, tag);
        put_uvarint(buf, data.len() as u32);
        buf.put_slice(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varint_round_trips_and_len_matches(v: i32) {
            let mut out = BytesMut::new();
            put_varint(&mut out, v);
            prop_assert_eq!(out.len(), varint_len(v));
            let mut input = out.freeze();
            prop_assert_eq!(get_varint(&mut input).unwrap(), v);
            prop_assert!(input.is_empty());
        }

        #[test]
        fn varlong_round_trips_and_len_matches(v: i64) {
            let mut out = BytesMut::new();
            put_varlong(&mut out, v);
            prop_assert_eq!(out.len(), varlong_len(v));
            let mut input = out.freeze();
            prop_assert_eq!(get_varlong(&mut input).unwrap(), v);
            prop_assert!(input.is_empty());
        }

        #[test]
        fn uvarint_round_trips_and_len_matches(v: u32) {
            let mut out = BytesMut::new();
            put_uvarint(&mut out, v);
            prop_assert_eq!(out.len(), uvarint_len(v));
            let mut input = out.freeze();
            prop_assert_eq!(get_uvarint(&mut input).unwrap(), v);
        }
    }

    #[test]
    fn zigzag_matches_kafka_examples() {
        // From the protocol guide: 0 -> 0, -1 -> 1, 1 -> 2, -2 -> 3.
        for (v, byte) in [(0, 0u8), (-1, 1), (1, 2), (-2, 3), (63, 126), (-64, 127)] {
            let mut out = BytesMut::new();
            put_varint(&mut out, v);
            assert_eq!(&out[..], &[byte]);
        }
    }

    #[test]
    fn overlong_varint_is_malformed() {
        let mut input = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert!(matches!(
            get_uvarint(&mut input),
            Err(DecodeError::Malformed {
                reason: Malformed::VarintTooLong { .. },
                ..
            })
        ));
    }

    #[test]
    fn array_longer_than_input_is_refused_before_allocating() {
        let mut input = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0]);
        assert_eq!(
            get_array_len(&mut input, false),
            Err(DecodeError::malformed(Malformed::LengthExceedsInput {
                length: i32::MAX as usize,
                remaining: 2
            }))
        );
    }

    #[test]
    fn null_and_empty_strings_stay_apart() {
        for compact in [false, true] {
            let mut out = BytesMut::new();
            put_nullable_string(&mut out, None, compact, "s").unwrap();
            put_nullable_string(&mut out, Some(""), compact, "s").unwrap();
            let mut input = out.freeze();
            assert_eq!(get_nullable_string(&mut input, compact).unwrap(), None);
            assert_eq!(
                get_nullable_string(&mut input, compact).unwrap(),
                Some(String::new())
            );
        }
    }

    #[test]
    fn negative_string_length_other_than_null_is_malformed() {
        let mut input = Bytes::from_static(&[0xff, 0xfe]);
        assert!(get_nullable_string(&mut input, false).is_err());
    }
}
