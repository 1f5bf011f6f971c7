//! Size-prefixed frames, request and response headers, and the rule that
//! ties a header version to an API version.
//!
//! Frame layout, big-endian:
//!   0..4   size of what follows (i32; negative or over the limit: refused
//!          before anything is allocated)
//!   4..    header, then body
//!
//! Request header v1: api_key i16, api_version i16, correlation_id i32,
//! client_id nullable string (classic i16 length). v2 adds a tagged-field
//! section; client_id stays a classic string. A request uses v2 at the API's
//! flexible versions, v1 otherwise.
//!
//! Response header v0: correlation_id i32; v1 adds tagged fields. A response
//! uses v1 at flexible versions, except ApiVersions, which always answers
//! with v0 so that a client can read it before it knows our versions.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError, Malformed};
use crate::message::Message;
use crate::messages::{ApiKey, Request, RequestHeader, Response, ResponseHeader};

/// Bytes of the size prefix.
pub const SIZE_PREFIX_LEN: usize = 4;

/// Splits the first whole frame (without its size prefix) off `received`.
/// `Ok(None)`: not all of it has arrived yet. A size that is negative or over
/// `limit` is an error as soon as the prefix is in, so a peer cannot make us
/// buffer more than `limit` bytes.
pub fn split_frame(received: &mut BytesMut, limit: usize) -> Result<Option<Bytes>, DecodeError> {
    match frame_size(received, limit) {
        Ok(size) if received.len() >= SIZE_PREFIX_LEN + size => {
            received.advance(SIZE_PREFIX_LEN);
            Ok(Some(received.split_to(size).freeze()))
        }
        Ok(_) | Err(DecodeError::Incomplete { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The size a frame's prefix announces, checked against `limit`.
pub fn frame_size(received: &[u8], limit: usize) -> Result<usize, DecodeError> {
    let Some(prefix) = received.get(..SIZE_PREFIX_LEN) else {
        return Err(DecodeError::Incomplete {
            needed: SIZE_PREFIX_LEN - received.len(),
        });
    };
    let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    if size < 0 {
        return Err(DecodeError::malformed(Malformed::NegativeFrameSize {
            size,
        }));
    }
    let size = size as usize;
    if size > limit {
        return Err(DecodeError::malformed(Malformed::FrameTooLarge {
            size,
            limit,
        }));
    }
    Ok(size)
}

/// The header version a request of `api` at `version` is sent with.
pub fn request_header_version(api: ApiKey, version: i16) -> i16 {
    match api.request_flexible_from() {
        Some(from) if version >= from => 2,
        _ => 1,
    }
}

/// The header version a response of `api` at `version` is sent with.
pub fn response_header_version(api: ApiKey, version: i16) -> i16 {
    match api.response_flexible_from() {
        _ if api == ApiKey::ApiVersions => 0,
        Some(from) if version >= from => 1,
        _ => 0,
    }
}

/// The fixed start of every request header, readable before the API and
/// version are known to be supported, so that even a refused request can be
/// answered (or logged) by its correlation id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPrefix {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
}

pub fn peek_request_prefix(frame: &[u8]) -> Result<RequestPrefix, DecodeError> {
    let Some(p) = frame.get(..8) else {
        return Err(DecodeError::Malformed {
            field: Some("RequestHeader"),
            reason: Malformed::Truncated {
                needed: 8,
                remaining: frame.len(),
            },
        });
    };
    Ok(RequestPrefix {
        api_key: i16::from_be_bytes([p[0], p[1]]),
        api_version: i16::from_be_bytes([p[2], p[3]]),
        correlation_id: i32::from_be_bytes([p[4], p[5], p[6], p[7]]),
    })
}

/// Decodes a whole request frame (size prefix already removed). Unknown API
/// keys and versions outside the codec's range are malformed here; which
/// versions to accept below that is the broker's decision.
///
/// Bytes after the body are ignored, as Kafka's broker ignores them:
/// librdkafka 2.16 sends three extra bytes after an all-topics Metadata v13
/// request, and Kafka answers it.
pub fn decode_request(mut frame: Bytes) -> Result<(RequestHeader, Request), DecodeError> {
    let prefix = peek_request_prefix(&frame)?;
    let api = ApiKey::from_key(prefix.api_key).ok_or(DecodeError::Malformed {
        field: Some("RequestHeader.request_api_key"),
        reason: Malformed::UnknownApiKey {
            api_key: prefix.api_key,
        },
    })?;
    let (min, max) = api.versions();
    if prefix.api_version < min || prefix.api_version > max {
        return Err(DecodeError::Malformed {
            field: Some("RequestHeader.request_api_version"),
            reason: Malformed::UnsupportedVersion {
                api_key: prefix.api_key,
                version: prefix.api_version,
            },
        });
    }
    let header =
        RequestHeader::decode(&mut frame, request_header_version(api, prefix.api_version))?;
    let body = Request::decode(api, prefix.api_version, &mut frame)?;
    Ok((header, body))
}

/// Encodes a request frame, size prefix included.
pub fn encode_request(header: &RequestHeader, body: &Request) -> Result<BytesMut, EncodeError> {
    let api = body.api_key();
    let version = header.request_api_version;
    let mut out = BytesMut::with_capacity(64);
    out.put_i32(0);
    header.encode(&mut out, request_header_version(api, version))?;
    body.encode(&mut out, version)?;
    patch_size(&mut out)?;
    Ok(out)
}

/// Encodes a response frame, size prefix included.
pub fn encode_response(
    correlation_id: i32,
    version: i16,
    body: &Response,
) -> Result<BytesMut, EncodeError> {
    let api = body.api_key();
    let mut out = BytesMut::with_capacity(64);
    out.put_i32(0);
    let header = ResponseHeader {
        correlation_id,
        ..ResponseHeader::default()
    };
    header.encode(&mut out, response_header_version(api, version))?;
    body.encode(&mut out, version)?;
    patch_size(&mut out)?;
    Ok(out)
}

/// Decodes a whole response frame (size prefix removed) of `api` at `version`.
pub fn decode_response(
    api: ApiKey,
    version: i16,
    mut frame: Bytes,
) -> Result<(ResponseHeader, Response), DecodeError> {
    let header = ResponseHeader::decode(&mut frame, response_header_version(api, version))?;
    let body = Response::decode(api, version, &mut frame)?;
    crate::wire::expect_consumed(&frame).map_err(|e| e.in_field(api.name()))?;
    Ok((header, body))
}

fn patch_size(out: &mut BytesMut) -> Result<(), EncodeError> {
    let size = out.len() - SIZE_PREFIX_LEN;
    let size = i32::try_from(size).map_err(|_| EncodeError::TooLong {
        field: "frame",
        length: size,
        max: i32::MAX as usize,
    })?;
    out[..SIZE_PREFIX_LEN].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::MetadataRequest;

    #[test]
    fn split_frame_waits_for_the_whole_frame() {
        let mut buf = BytesMut::from(&[0u8, 0, 0, 3, 1, 2][..]);
        assert_eq!(split_frame(&mut buf, 100).unwrap(), None);
        buf.extend_from_slice(&[3, 9]);
        assert_eq!(
            split_frame(&mut buf, 100).unwrap().unwrap(),
            &[1u8, 2, 3][..]
        );
        assert_eq!(&buf[..], &[9]);
    }

    #[test]
    fn oversized_and_negative_frames_are_refused_from_the_prefix_alone() {
        let mut big = BytesMut::from(&[0x7fu8, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            split_frame(&mut big, 1 << 20),
            Err(DecodeError::Malformed {
                reason: Malformed::FrameTooLarge { .. },
                ..
            })
        ));
        let mut negative = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xfe][..]);
        assert!(matches!(
            split_frame(&mut negative, 1 << 20),
            Err(DecodeError::Malformed {
                reason: Malformed::NegativeFrameSize { size: -2 },
                ..
            })
        ));
    }

    #[test]
    fn header_versions_follow_flexibility() {
        assert_eq!(request_header_version(ApiKey::Metadata, 8), 1);
        assert_eq!(request_header_version(ApiKey::Metadata, 9), 2);
        assert_eq!(response_header_version(ApiKey::Metadata, 9), 1);
        assert_eq!(response_header_version(ApiKey::ApiVersions, 3), 0);
        assert_eq!(request_header_version(ApiKey::ApiVersions, 3), 2);
    }

    #[test]
    fn request_round_trips_through_a_frame() {
        let header = RequestHeader {
            request_api_key: ApiKey::Metadata.key(),
            request_api_version: 12,
            correlation_id: 7,
            client_id: Some("c".into()),
            ..RequestHeader::default()
        };
        let body = Request::Metadata(MetadataRequest {
            topics: None,
            ..MetadataRequest::default()
        });
        let mut frame = encode_request(&header, &body).unwrap();
        let frame = split_frame(&mut frame, 1 << 20).unwrap().unwrap();
        let (h, b) = decode_request(frame).unwrap();
        assert_eq!(h, header);
        assert_eq!(b, body);
    }

    #[test]
    fn unknown_api_key_and_version_are_named() {
        let mut frame = BytesMut::new();
        frame.put_i16(1000);
        frame.put_i16(0);
        frame.put_i32(1);
        frame.put_i16(-1);
        assert!(matches!(
            decode_request(frame.freeze()),
            Err(DecodeError::Malformed {
                reason: Malformed::UnknownApiKey { api_key: 1000 },
                ..
            })
        ));
        let header = RequestHeader {
            request_api_key: ApiKey::ApiVersions.key(),
            request_api_version: 99,
            ..RequestHeader::default()
        };
        let mut frame = BytesMut::new();
        header.encode(&mut frame, 1).unwrap();
        assert!(matches!(
            decode_request(frame.freeze()),
            Err(DecodeError::Malformed {
                reason: Malformed::UnsupportedVersion { version: 99, .. },
                ..
            })
        ));
    }

    #[test]
    fn trailing_bytes_after_a_request_body_are_ignored_as_kafka_does() {
        // librdkafka 2.16's all-topics Metadata v13 request, three extra bytes included.
        let frame = Bytes::from_static(&[
            0, 3, 0, 13, 0, 0, 0, 3, 0, 7, b'r', b'd', b'k', b'a', b'f', b'k', b'a', 0, 0, 0, 0, 0,
            1, 0, 0,
        ]);
        let (header, body) = decode_request(frame).unwrap();
        assert_eq!(header.client_id.as_deref(), Some("rdkafka"));
        let Request::Metadata(body) = body else {
            panic!("not Metadata")
        };
        assert_eq!(body.topics, None, "null: every topic");
    }
}
