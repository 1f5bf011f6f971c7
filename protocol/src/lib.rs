//! Kafka's wire protocol: bytes in, typed values out.
//!
//! Owns: framing (the 4-byte size prefix), request and response headers,
//! every message of Kafka's client-facing APIs at every version of the pinned
//! release (generated into [`messages`] by `protocol/codegen`), record batches
//! and their compression codecs.
//!
//! Never: does I/O, uses an async runtime or reads a clock; panics or
//! allocates beyond the frame's size on anything a peer sends. Which versions
//! the broker advertises is the server's business, not this crate's.
//!
//! Modules:
//! - [`wire`]: primitive encodings (integers, varints, strings, arrays).
//! - [`types`]: domain types the generated messages use for ids and names.
//! - [`message`]: the `Message` trait the generated types implement.
//! - [`messages`]: generated request and response types, headers, `ApiKey`.
//! - [`records`]: record batches (magic v2), records, compression codecs.
//! - [`frame`]: size-prefixed frames and the header-version rule.
//! - [`error`]: "need more bytes" versus "malformed", with the field named.

#[cfg(any(test, feature = "arbitrary"))]
pub mod arbitrary;
pub mod error;
pub mod frame;
pub mod message;
pub mod messages;
pub mod records;
pub mod types;
pub mod wire;

pub use error::{DecodeError, EncodeError, Malformed};
