//! The traits every generated message implements.

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::messages::ApiKey;

/// A schema struct that reads and writes itself at a given version.
pub trait Message: Sized {
    /// Reads one value; on success `buf` is left just past it.
    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError>;
    /// Appends the value as version `version` writes it.
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError>;
}

/// The body of a request or response of one API.
pub trait ApiMessage: Message {
    const API_KEY: ApiKey;
}

/// Encodes at `version`, decodes back, and checks the value and that every
/// byte was consumed: the property each generated message must hold.
#[cfg(any(test, feature = "arbitrary"))]
pub fn check_round_trip<M>(
    value: &M,
    version: i16,
) -> Result<(), proptest::test_runner::TestCaseError>
where
    M: Message + PartialEq + std::fmt::Debug,
{
    use proptest::prop_assert_eq;
    let mut out = BytesMut::new();
    value
        .encode(&mut out, version)
        .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
    let mut input = out.freeze();
    let back = M::decode(&mut input, version)
        .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(input.len(), 0, "bytes left over");
    prop_assert_eq!(&back, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Malformed;
    use crate::messages::ProduceRequest;

    #[test]
    fn messages_refuse_versions_outside_their_range() {
        // Kafka 4 dropped Produce v0-2; 4.4.0 knows up to v13.
        let mut input = Bytes::from_static(&[0; 64]);
        assert_eq!(
            ProduceRequest::decode(&mut input, 2),
            Err(DecodeError::malformed(Malformed::UnsupportedVersion {
                api_key: 0,
                version: 2
            }))
        );
        let mut out = BytesMut::new();
        assert!(matches!(
            ProduceRequest::default().encode(&mut out, 14),
            Err(EncodeError::UnsupportedVersion { version: 14, .. })
        ));
    }

    #[test]
    fn a_field_the_version_cannot_carry_is_an_error_not_a_silent_drop() {
        use crate::messages::DescribeConfigsRequest;
        // IncludeDocumentation arrived in v3 and is not ignorable.
        let request = DescribeConfigsRequest {
            include_documentation: true,
            ..DescribeConfigsRequest::default()
        };
        let mut out = BytesMut::new();
        assert_eq!(
            request.encode(&mut out, 2),
            Err(EncodeError::UnsupportedField {
                field: "DescribeConfigsRequest.include_documentation",
                version: 2
            })
        );
        let mut out = BytesMut::new();
        assert!(request.encode(&mut out, 3).is_ok());
        let mut out = BytesMut::new();
        assert!(
            DescribeConfigsRequest::default()
                .encode(&mut out, 2)
                .is_ok()
        );
    }
}
