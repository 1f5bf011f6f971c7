//! What the fuzz targets share: how the first bytes of an input pick an API
//! and version, and the decode, encode, decode-again check.
//!
//! Kept free of `libfuzzer-sys` so that `examples/seeds.rs` links without
//! libFuzzer.

use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use strata_protocol::messages::{ApiKey, Request, Response};

/// Bytes at the start of a `request_by_key` or `response` input that pick
/// the API and version: a big-endian u16 index into [`ApiKey::ALL`] and a
/// big-endian u16 offset from the API's lowest version, both wrapped.
pub const SELECTOR_LEN: usize = 4;

/// Maps any four bytes to an API and one of its versions.
pub fn select_api(selector: [u8; SELECTOR_LEN]) -> (ApiKey, i16) {
    let index = usize::from(u16::from_be_bytes([selector[0], selector[1]])) % ApiKey::ALL.len();
    let api = ApiKey::ALL[index];
    let (min, max) = api.versions();
    let span = i32::from(max) - i32::from(min) + 1;
    let offset = i32::from(u16::from_be_bytes([selector[2], selector[3]])) % span;
    // min + offset <= max, so it fits an i16.
    (api, (i32::from(min) + offset) as i16)
}

/// The selector that [`select_api`] maps to `api` at `version`; for seeds.
pub fn selector(api: ApiKey, version: i16) -> [u8; SELECTOR_LEN] {
    let index = ApiKey::ALL
        .iter()
        .position(|&a| a == api)
        .expect("every ApiKey is in ALL") as u16;
    let (min, _) = api.versions();
    let offset = (i32::from(version) - i32::from(min)) as u16;
    let [a, b] = index.to_be_bytes();
    let [c, d] = offset.to_be_bytes();
    [a, b, c, d]
}

/// Splits an input into its API, version and the bytes after the selector.
pub fn split_selector(data: &[u8]) -> Option<(ApiKey, i16, &[u8])> {
    let (head, rest) = data.split_first_chunk::<SELECTOR_LEN>()?;
    let (api, version) = select_api(*head);
    Some((api, version, rest))
}

/// Panics unless the two values are equal, with two allowances:
///
/// - values that differ only by NaNs (a few messages carry an f64) count as
///   equal when their Debug text is;
/// - the decoder keeps unknown tagged fields in the order they arrive, even
///   out of ascending order, while the encoder writes them sorted (as Kafka
///   requires), so each `unknown_tagged_fields` list is compared sorted by
///   tag. Set `STRATA_FUZZ_STRICT_TAG_ORDER=1` to compare them as decoded.
pub fn assert_same<T: PartialEq + Debug>(first: &T, second: &T, what: &str) {
    if first == second {
        return;
    }
    let (mut a, mut b) = (format!("{first:?}"), format!("{second:?}"));
    if std::env::var_os("STRATA_FUZZ_STRICT_TAG_ORDER").is_none()
        && let (Some(na), Some(nb)) = (sort_unknown_tags(&a), sort_unknown_tags(&b))
    {
        (a, b) = (na, nb);
    }
    assert_eq!(a, b, "{what}: value changed by encode then decode");
}

/// Rewrites the Debug text of a message with every
/// `unknown_tagged_fields: [RawTaggedField { tag: N, data: b"..." }, ...]`
/// list sorted by tag (stable). `None` if the text is not as expected.
pub fn sort_unknown_tags(debug: &str) -> Option<String> {
    const LIST: &str = "unknown_tagged_fields: [";
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(at) = rest.find(LIST) {
        out.push_str(&rest[..at + LIST.len()]);
        rest = &rest[at + LIST.len()..];
        let mut fields: Vec<(u32, &str)> = Vec::new();
        loop {
            if let Some(after) = rest.strip_prefix(']') {
                rest = after;
                break;
            }
            if !fields.is_empty() {
                rest = rest.strip_prefix(", ")?;
            }
            let (tag, field, after) = raw_tagged_field(rest)?;
            fields.push((tag, field));
            rest = after;
        }
        fields.sort_by_key(|&(tag, _)| tag);
        let fields: Vec<&str> = fields.into_iter().map(|(_, field)| field).collect();
        out.push_str(&fields.join(", "));
        out.push(']');
    }
    out.push_str(rest);
    Some(out)
}

/// Splits `RawTaggedField { tag: N, data: b"..." }` off the front of `s`:
/// (tag, the field's text, what follows).
fn raw_tagged_field(s: &str) -> Option<(u32, &str, &str)> {
    let body = s.strip_prefix("RawTaggedField { tag: ")?;
    let digits = body.find(|c: char| !c.is_ascii_digit())?;
    let tag = body[..digits].parse().ok()?;
    let data = body[digits..].strip_prefix(", data: b\"")?;
    let mut escaped = false;
    let mut close = None;
    for (i, c) in data.char_indices() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => {
                close = Some(i);
                break;
            }
            (false, _) => {}
        }
    }
    let after = data[close? + 1..].strip_prefix(" }")?;
    let len = s.len() - after.len();
    Some((tag, &s[..len], after))
}

/// Encodes a decoded request body at `version`, decodes it again and checks
/// that every byte is read and the value is unchanged.
pub fn check_request_body(api: ApiKey, version: i16, first: &Request) {
    assert_eq!(first.api_key(), api);
    let mut out = BytesMut::new();
    if let Err(e) = first.encode(&mut out, version) {
        panic!(
            "{} v{version}: a decoded request does not encode: {e}",
            api.name()
        );
    }
    let mut input: Bytes = out.freeze();
    let second = match Request::decode(api, version, &mut input) {
        Ok(second) => second,
        Err(e) => panic!(
            "{} v{version}: re-encoded request does not decode: {e}",
            api.name()
        ),
    };
    assert!(
        input.is_empty(),
        "{} v{version}: {} bytes left after decoding a re-encoded request",
        api.name(),
        input.len()
    );
    assert_same(first, &second, api.name());
}

/// [`check_request_body`] for responses.
pub fn check_response_body(api: ApiKey, version: i16, first: &Response) {
    assert_eq!(first.api_key(), api);
    let mut out = BytesMut::new();
    if let Err(e) = first.encode(&mut out, version) {
        panic!(
            "{} v{version}: a decoded response does not encode: {e}",
            api.name()
        );
    }
    let mut input: Bytes = out.freeze();
    let second = match Response::decode(api, version, &mut input) {
        Ok(second) => second,
        Err(e) => panic!(
            "{} v{version}: re-encoded response does not decode: {e}",
            api.name()
        ),
    };
    assert!(
        input.is_empty(),
        "{} v{version}: {} bytes left after decoding a re-encoded response",
        api.name(),
        input.len()
    );
    assert_same(first, &second, api.name());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tags_compare_sorted() {
        let a = r#"X { a: [Y { unknown_tagged_fields: [RawTaggedField { tag: 9, data: b"\"}, ]" }, RawTaggedField { tag: 2, data: b"" }] }], unknown_tagged_fields: [] }"#;
        let b = r#"X { a: [Y { unknown_tagged_fields: [RawTaggedField { tag: 2, data: b"" }, RawTaggedField { tag: 9, data: b"\"}, ]" }] }], unknown_tagged_fields: [] }"#;
        assert_ne!(a, b);
        assert_eq!(sort_unknown_tags(a), sort_unknown_tags(b));
        assert_eq!(sort_unknown_tags(b).as_deref(), Some(b));
    }

    #[test]
    fn selector_round_trips() {
        for &api in ApiKey::ALL {
            let (min, max) = api.versions();
            for version in min..=max {
                assert_eq!(select_api(selector(api, version)), (api, version));
            }
        }
    }
}
