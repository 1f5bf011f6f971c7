//! Domain types for values that are easy to mix up on the wire.
//!
//! The code generator maps a schema field with an `entityType` to one of
//! these, so a broker id cannot be passed where a partition index is wanted
//! and a group id cannot be passed where a topic name is.

use bytes::Bytes;
use std::fmt;

/// A 128-bit id (topic ids, directory ids), as Kafka sends it: 16 raw bytes.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// Kafka's reserved "no id" value.
    pub const ZERO: Uuid = Uuid([0; 16]);

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Kafka prints ids as unpadded URL-safe base64.
impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut bits: u32 = 0;
        let mut nbits = 0;
        for &b in &self.0 {
            bits = (bits << 8) | u32::from(b);
            nbits += 8;
            while nbits >= 6 {
                nbits -= 6;
                f.write_str(
                    std::str::from_utf8(&[ALPHABET[((bits >> nbits) & 63) as usize]])
                        .map_err(|_| fmt::Error)?,
                )?;
            }
        }
        if nbits > 0 {
            let c = ALPHABET[((bits << (6 - nbits)) & 63) as usize];
            f.write_str(std::str::from_utf8(&[c]).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

macro_rules! string_entity {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub String);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

macro_rules! int_entity {
    ($(#[$doc:meta])* $name:ident($int:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $int);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

string_entity!(
    /// A topic's name.
    TopicName
);
string_entity!(
    /// A consumer group's id.
    GroupId
);
string_entity!(
    /// A transactional producer's id.
    TransactionalId
);
int_entity!(
    /// A broker's node id.
    BrokerId(i32)
);
int_entity!(
    /// A producer id handed out by InitProducerId.
    ProducerId(i64)
);

/// A tagged field this codec does not know, kept so it can be sent on as it
/// came (flexible versions only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTaggedField {
    pub tag: u32,
    pub data: Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_prints_as_kafka_base64() {
        // Kafka's Uuid.toString of the id whose bytes are 0..16.
        let id = Uuid(std::array::from_fn(|i| i as u8));
        assert_eq!(id.to_string(), "AAECAwQFBgcICQoLDA0ODw");
        assert_eq!(Uuid::ZERO.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
    }
}
