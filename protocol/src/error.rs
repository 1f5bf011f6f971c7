//! Codec errors.
//!
//! Two kinds of "not decoded" must never be confused: a frame that has not
//! fully arrived yet (`DecodeError::Incomplete`, wait for more bytes) and a
//! frame that is wrong (`DecodeError::Malformed`, close the connection). Inside
//! a complete frame every shortfall is malformed.

use thiserror::Error;

/// What is wrong with bytes that could not be decoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame is not complete yet; `needed` more bytes at least.
    #[error("incomplete frame: at least {needed} more bytes are needed")]
    Incomplete { needed: usize },
    /// The bytes cannot be what they claim to be.
    #[error("malformed {}: {reason}", field.unwrap_or("input"))]
    Malformed {
        /// The innermost field being read, as `Struct.field`.
        field: Option<&'static str>,
        reason: Malformed,
    },
}

/// Why bytes are malformed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Malformed {
    #[error("{needed} bytes needed but only {remaining} remain")]
    Truncated { needed: usize, remaining: usize },
    #[error("length {length} is negative")]
    NegativeLength { length: i64 },
    #[error("length {length} exceeds the {remaining} bytes that remain")]
    LengthExceedsInput { length: usize, remaining: usize },
    #[error("null where the version does not allow it")]
    UnexpectedNull,
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    #[error("varint is longer than {max_bytes} bytes")]
    VarintTooLong { max_bytes: usize },
    #[error("{count} bytes left over after the message")]
    TrailingBytes { count: usize },
    #[error("API key {api_key} is unknown")]
    UnknownApiKey { api_key: i16 },
    #[error("version {version} of API key {api_key} is not supported")]
    UnsupportedVersion { api_key: i16, version: i16 },
    #[error("frame size {size} is negative")]
    NegativeFrameSize { size: i32 },
    #[error("frame size {size} is over the limit of {limit}")]
    FrameTooLarge { size: usize, limit: usize },
    #[error("tagged field {tag} appears out of order or twice")]
    TagOutOfOrder { tag: u32 },
    #[error("{0}")]
    Other(&'static str),
}

impl DecodeError {
    /// A malformed-input error not yet tied to a field.
    pub fn malformed(reason: Malformed) -> Self {
        DecodeError::Malformed {
            field: None,
            reason,
        }
    }

    /// Names the field being read, unless an inner field already did.
    #[must_use]
    pub fn in_field(self, name: &'static str) -> Self {
        match self {
            DecodeError::Malformed {
                field: None,
                reason,
            } => DecodeError::Malformed {
                field: Some(name),
                reason,
            },
            other => other,
        }
    }
}

/// Why a value cannot be written at the asked version.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// A field holds a non-default value that this version cannot carry, and
    /// dropping it silently would lose what the caller meant.
    #[error("{field} cannot be sent at version {version} and is not at its default")]
    UnsupportedField { field: &'static str, version: i16 },
    #[error("{field} is null, which version {version} does not allow")]
    NullNotAllowed { field: &'static str, version: i16 },
    #[error("{field} is {length} long, over the {max} the wire allows")]
    TooLong {
        field: &'static str,
        length: usize,
        max: usize,
    },
    #[error("version {version} of {message} is not supported")]
    UnsupportedVersion { message: &'static str, version: i16 },
}
