//! Request bodies of every API and version: the first four bytes pick the
//! API and version (see `strata_fuzz::select_api`), the rest is the body
//! given to `Request::decode`. Whatever decodes must round-trip.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use strata_fuzz::{check_request_body, split_selector};
use strata_protocol::messages::Request;

fuzz_target!(|data: &[u8]| {
    let Some((api, version, body)) = split_selector(data) else {
        return;
    };
    let mut input = Bytes::copy_from_slice(body);
    if let Ok(request) = Request::decode(api, version, &mut input) {
        check_request_body(api, version, &request);
    }
});
