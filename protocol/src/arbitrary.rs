//! Proptest strategies for the primitive field types, used by the generated
//! `arbitrary(version)` constructors.

use bytes::Bytes;
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

use crate::types::{RawTaggedField, Uuid};

pub fn string() -> BoxedStrategy<String> {
    prop_oneof![
        4 => proptest::collection::vec(0x20u8..0x7f, 0..12)
            .prop_map(|v| v.into_iter().map(char::from).collect()),
        1 => proptest::collection::vec(any::<char>(), 0..4).prop_map(|v| v.into_iter().collect()),
    ]
    .boxed()
}

pub fn bytes() -> BoxedStrategy<Bytes> {
    proptest::collection::vec(any::<u8>(), 0..16)
        .prop_map(Bytes::from)
        .boxed()
}

pub fn uuid() -> BoxedStrategy<Uuid> {
    any::<[u8; 16]>().prop_map(Uuid).boxed()
}

/// Finite values only: NaN never equals itself, so it cannot round-trip by `==`.
pub fn f64() -> BoxedStrategy<f64> {
    prop_oneof![Just(0.0), -1e12f64..1e12f64].boxed()
}

/// Unknown tags above every known one, ascending, as an encoder sorts them.
pub fn unknown_tagged_fields(flexible: bool, known: &[u32]) -> BoxedStrategy<Vec<RawTaggedField>> {
    if !flexible {
        return Just(Vec::new()).boxed();
    }
    let first_free = known.iter().max().map_or(0, |m| m + 1) + 100;
    proptest::collection::btree_map(first_free..first_free + 50, bytes(), 0..3)
        .prop_map(|m| {
            m.into_iter()
                .map(|(tag, data)| RawTaggedField { tag, data })
                .collect()
        })
        .boxed()
}
