//! Responses, as a client (or a test) reads them: the first four bytes pick
//! the API and version (see `strata_fuzz::select_api`), the rest is a frame
//! without its size prefix for `frame::decode_response`, header included.
//! Whatever decodes must round-trip.

#![no_main]

use bytes::{Buf, Bytes};
use libfuzzer_sys::fuzz_target;
use strata_fuzz::{assert_same, check_response_body, split_selector};
use strata_protocol::frame;

fuzz_target!(|data: &[u8]| {
    let Some((api, version, frame_bytes)) = split_selector(data) else {
        return;
    };
    let Ok((header, body)) =
        frame::decode_response(api, version, Bytes::copy_from_slice(frame_bytes))
    else {
        return;
    };
    check_response_body(api, version, &body);

    // The frame encoder writes a header with the correlation id alone, so
    // only that and the body are compared.
    let encoded = match frame::encode_response(header.correlation_id, version, &body) {
        Ok(encoded) => encoded,
        Err(e) => panic!(
            "{} v{version}: a decoded response does not encode: {e}",
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
    let (header2, body2) = match frame::decode_response(api, version, encoded) {
        Ok(decoded) => decoded,
        Err(e) => panic!(
            "{} v{version}: re-encoded frame does not decode: {e}",
            api.name()
        ),
    };
    assert_eq!(header.correlation_id, header2.correlation_id);
    assert_same(&body, &body2, api.name());
});
