//! ApiVersions (key 18), versions 0..=4.
//!
//! Lists exactly the APIs this broker implements (`dispatch::SUPPORTED`).
//! UNSUPPORTED_VERSION: the request's version is past ours; the answer is
//! then written at v0, which every client reads, so it can retry lower.
//! Produce is advertised from v0 although v0-2 are refused, as Kafka 4 does
//! (KAFKA-18659): librdkafka turns compression off when it sees a higher
//! minimum.

use strata_protocol::messages::ApiVersionsResponse;
use strata_protocol::messages::api_versions::response::ApiVersion;

use crate::dispatch;
use crate::error_code::ErrorCode;

pub fn supported_versions() -> Vec<ApiVersion> {
    dispatch::SUPPORTED
        .iter()
        .map(|&(api, min, max)| ApiVersion {
            api_key: api.key(),
            min_version: dispatch::advertised_min(api, min),
            max_version: max,
            ..ApiVersion::default()
        })
        .collect()
}

pub fn handle() -> ApiVersionsResponse {
    ApiVersionsResponse {
        error_code: ErrorCode::None.code(),
        api_keys: supported_versions(),
        ..ApiVersionsResponse::default()
    }
}

/// The answer to an ApiVersions request at a version we do not know.
pub fn unsupported() -> ApiVersionsResponse {
    ApiVersionsResponse {
        error_code: ErrorCode::UnsupportedVersion.code(),
        api_keys: supported_versions(),
        ..ApiVersionsResponse::default()
    }
}
