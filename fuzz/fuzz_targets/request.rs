//! The whole request decoder: the input is a frame without its size prefix,
//! as `server::net` hands it to `frame::decode_request`. Whatever decodes
//! must encode again at the same version and decode to the same value.

#![no_main]

use bytes::{Buf, Bytes};
use libfuzzer_sys::fuzz_target;
use strata_fuzz::assert_same;
use strata_protocol::frame;

fuzz_target!(|data: &[u8]| {
    let Ok((header, body)) = frame::decode_request(Bytes::copy_from_slice(data)) else {
        return;
    };
    let api = body.api_key();
    let version = header.request_api_version;
    let encoded = match frame::encode_request(&header, &body) {
        Ok(encoded) => encoded,
        Err(e) => panic!(
            "{} v{version}: a decoded request does not encode: {e}",
            api.name()
        ),
    };
    let mut encoded = encoded.freeze();
    let size = encoded.get_i32();
    assert_eq!(
        usize::try_from(size).ok(),
        Some(encoded.len()),
        "size prefix"
    );
    let (header2, body2) = match frame::decode_request(encoded) {
        Ok(decoded) => decoded,
        Err(e) => panic!(
            "{} v{version}: re-encoded frame does not decode: {e}",
            api.name()
        ),
    };
    assert_same(&header, &header2, "request header");
    assert_same(&body, &body2, api.name());
});
