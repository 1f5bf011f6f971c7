//! The records of `__consumer_offsets`, in Kafka's format (its
//! OffsetCommitKey/Value and GroupMetadataKey/Value schemas), so a data dir
//! stays Kafka-shaped and Kafka's tools can read it. Big-endian; a string is
//! an i16 length then UTF-8 bytes (-1: null); bytes are an i32 length then
//! the bytes.
//!
//! Offset commit key (Kafka writes version 1; 0 reads the same):
//!   0..2   i16  version = 1
//!   2..    str  group id
//!          str  topic
//!          i32  partition
//!
//! Offset commit value, version 3 (written); 0..=3 are read:
//!   0..2   i16  version = 3
//!   2..10  i64  offset
//!   10..14 i32  leader epoch (-1: none)              (v3 only)
//!   14..   str  metadata
//!          i64  commit timestamp (ms since the epoch)
//!          i64  expire timestamp                      (v1 only)
//!
//! Group metadata key:
//!   0..2   i16  version = 2
//!   2..    str  group id
//!
//! Group metadata value, version 3 (written); 0..=3 are read:
//!   i16  version = 3
//!   str  protocol type
//!   i32  generation
//!   str? protocol (null when none chosen)
//!   str? leader
//!   i64  current state timestamp                      (v2+)
//!   i32  member count, then per member:
//!     str  member id
//!     str? group instance id                          (v3+)
//!     str  client id
//!     str  client host
//!     i32  rebalance timeout                          (v1+)
//!     i32  session timeout
//!     bytes subscription (the chosen protocol's metadata)
//!     bytes assignment
//!
//! A null value is a tombstone: the offset, or the group's metadata, is
//! deleted. Records are plain (uncompressed, non-transactional) batches; a
//! flexible version 4 value, which we never write, is skipped on load with a
//! warning.

use bytes::{BufMut, Bytes, BytesMut};

use strata_protocol::wire;

use super::group::{GroupMetadata, MemberMetadata};

/// What a record of `__consumer_offsets` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OffsetsRecord {
    Offset {
        group: String,
        topic: String,
        partition: i32,
        /// `None`: a tombstone.
        value: Option<OffsetValue>,
    },
    Group {
        group: String,
        value: Option<GroupMetadata>,
    },
    /// A consumer-protocol group's record (see `consumer_records`), its
    /// value still encoded.
    ConsumerGroup {
        key: super::consumer_records::Key,
        value: Option<Bytes>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetValue {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
}

fn put_str(out: &mut BytesMut, s: &str) {
    // Group ids, topics and metadata reach here from requests whose codec
    // already holds them to i16 lengths.
    out.put_i16(s.len().min(i16::MAX as usize) as i16);
    out.put_slice(&s.as_bytes()[..s.len().min(i16::MAX as usize)]);
}

fn put_opt_str(out: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(out, s),
        None => out.put_i16(-1),
    }
}

fn put_bytes(out: &mut BytesMut, b: &Bytes) {
    out.put_i32(b.len() as i32);
    out.put_slice(b);
}

pub fn offset_key(group: &str, topic: &str, partition: i32) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(1);
    put_str(&mut out, group);
    put_str(&mut out, topic);
    out.put_i32(partition);
    out.freeze()
}

pub fn offset_value(v: &OffsetValue) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(3);
    out.put_i64(v.offset);
    out.put_i32(v.leader_epoch);
    put_str(&mut out, &v.metadata);
    out.put_i64(v.commit_timestamp);
    out.freeze()
}

pub fn group_key(group: &str) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(2);
    put_str(&mut out, group);
    out.freeze()
}

pub fn group_value(g: &GroupMetadata) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(3);
    put_str(&mut out, &g.protocol_type);
    out.put_i32(g.generation);
    put_opt_str(&mut out, g.protocol.as_deref());
    put_opt_str(&mut out, g.leader.as_deref());
    out.put_i64(g.current_state_timestamp);
    out.put_i32(g.members.len() as i32);
    for m in &g.members {
        put_str(&mut out, &m.member_id);
        put_opt_str(&mut out, m.group_instance_id.as_deref());
        put_str(&mut out, &m.client_id);
        put_str(&mut out, &m.client_host);
        out.put_i32(m.rebalance_timeout);
        out.put_i32(m.session_timeout);
        put_bytes(&mut out, &m.subscription);
        put_bytes(&mut out, &m.assignment);
    }
    out.freeze()
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

fn bad(e: impl std::fmt::Display) -> Unreadable {
    Unreadable(e.to_string())
}

/// Reads one record. Other key versions (Kafka 4's share and streams
/// records) are `Ok(None)`: not ours to load.
pub fn parse(
    key: Option<Bytes>,
    value: Option<Bytes>,
) -> Result<Option<OffsetsRecord>, Unreadable> {
    let Some(mut key) = key else {
        return Err(Unreadable("a record without a key".into()));
    };
    let version = wire::get_i16(&mut key).map_err(bad)?;
    match version {
        0 | 1 => {
            let group = wire::get_string(&mut key, false).map_err(bad)?;
            let topic = wire::get_string(&mut key, false).map_err(bad)?;
            let partition = wire::get_i32(&mut key).map_err(bad)?;
            let value = value.map(parse_offset_value).transpose()?;
            Ok(Some(OffsetsRecord::Offset {
                group,
                topic,
                partition,
                value,
            }))
        }
        2 => {
            let group = wire::get_string(&mut key, false).map_err(bad)?;
            let value = value.map(parse_group_value).transpose()?;
            Ok(Some(OffsetsRecord::Group { group, value }))
        }
        v if super::consumer_records::is_consumer_group_type(v) => {
            let key = super::consumer_records::Key::decode(v, key).map_err(bad)?;
            Ok(Some(OffsetsRecord::ConsumerGroup { key, value }))
        }
        _ => Ok(None),
    }
}

fn parse_offset_value(mut b: Bytes) -> Result<OffsetValue, Unreadable> {
    let version = wire::get_i16(&mut b).map_err(bad)?;
    if !(0..=3).contains(&version) {
        return Err(Unreadable(format!("offset commit value version {version}")));
    }
    let offset = wire::get_i64(&mut b).map_err(bad)?;
    let leader_epoch = if version >= 3 {
        wire::get_i32(&mut b).map_err(bad)?
    } else {
        -1
    };
    let metadata = wire::get_string(&mut b, false).map_err(bad)?;
    let commit_timestamp = wire::get_i64(&mut b).map_err(bad)?;
    if version == 1 {
        wire::get_i64(&mut b).map_err(bad)?;
    }
    Ok(OffsetValue {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp,
    })
}

fn parse_group_value(mut b: Bytes) -> Result<GroupMetadata, Unreadable> {
    let version = wire::get_i16(&mut b).map_err(bad)?;
    if !(0..=3).contains(&version) {
        return Err(Unreadable(format!(
            "group metadata value version {version}"
        )));
    }
    let protocol_type = wire::get_string(&mut b, false).map_err(bad)?;
    let generation = wire::get_i32(&mut b).map_err(bad)?;
    let protocol = wire::get_nullable_string(&mut b, false).map_err(bad)?;
    let leader = wire::get_nullable_string(&mut b, false).map_err(bad)?;
    let current_state_timestamp = if version >= 2 {
        wire::get_i64(&mut b).map_err(bad)?
    } else {
        -1
    };
    let count = wire::get_array_len(&mut b, false)
        .map_err(bad)?
        .unwrap_or(0);
    let mut members = Vec::with_capacity(count);
    for _ in 0..count {
        let member_id = wire::get_string(&mut b, false).map_err(bad)?;
        let group_instance_id = if version >= 3 {
            wire::get_nullable_string(&mut b, false).map_err(bad)?
        } else {
            None
        };
        let client_id = wire::get_string(&mut b, false).map_err(bad)?;
        let client_host = wire::get_string(&mut b, false).map_err(bad)?;
        let rebalance_timeout = if version >= 1 {
            wire::get_i32(&mut b).map_err(bad)?
        } else {
            -1
        };
        let session_timeout = wire::get_i32(&mut b).map_err(bad)?;
        let subscription = wire::get_bytes(&mut b, false).map_err(bad)?;
        let assignment = wire::get_bytes(&mut b, false).map_err(bad)?;
        members.push(MemberMetadata {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout: if rebalance_timeout < 0 {
                session_timeout
            } else {
                rebalance_timeout
            },
            session_timeout,
            subscription,
            assignment,
        });
    }
    Ok(GroupMetadata {
        protocol_type,
        generation,
        protocol,
        leader,
        current_state_timestamp,
        members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_records_match_kafkas_bytes_and_round_trip() {
        let key = offset_key("g", "t", 3);
        assert_eq!(
            key.as_ref(),
            &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3],
            "version 1, group, topic, partition"
        );
        let v = OffsetValue {
            offset: 42,
            leader_epoch: 7,
            metadata: "m".into(),
            commit_timestamp: 1_000,
        };
        let bytes = offset_value(&v);
        assert_eq!(
            bytes.as_ref(),
            &[
                0, 3, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 7, 0, 1, b'm', 0, 0, 0, 0, 0, 0, 3, 232
            ]
        );
        assert_eq!(
            parse(Some(key.clone()), Some(bytes)).unwrap(),
            Some(OffsetsRecord::Offset {
                group: "g".into(),
                topic: "t".into(),
                partition: 3,
                value: Some(v),
            })
        );
        let Some(OffsetsRecord::Offset { value, .. }) = parse(Some(key), None).unwrap() else {
            panic!()
        };
        assert_eq!(value, None, "tombstone");
    }

    #[test]
    fn old_offset_value_versions_read() {
        // v1: offset, metadata, commit ts, expire ts; no leader epoch.
        let mut b = BytesMut::new();
        b.put_i16(1);
        b.put_i64(9);
        put_str(&mut b, "");
        b.put_i64(5);
        b.put_i64(6);
        let v = parse_offset_value(b.freeze()).unwrap();
        assert_eq!((v.offset, v.leader_epoch, v.commit_timestamp), (9, -1, 5));
    }

    #[test]
    fn group_records_round_trip() {
        let g = GroupMetadata {
            protocol_type: "consumer".into(),
            generation: 4,
            protocol: Some("range".into()),
            leader: Some("a".into()),
            current_state_timestamp: 77,
            members: vec![MemberMetadata {
                member_id: "a".into(),
                group_instance_id: Some("i".into()),
                client_id: "c".into(),
                client_host: "/h".into(),
                rebalance_timeout: 300,
                session_timeout: 100,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::from_static(b"as"),
            }],
        };
        let key = group_key("grp");
        assert_eq!(key.as_ref(), &[0, 2, 0, 3, b'g', b'r', b'p']);
        assert_eq!(
            parse(Some(key), Some(group_value(&g))).unwrap(),
            Some(OffsetsRecord::Group {
                group: "grp".into(),
                value: Some(g),
            })
        );
    }

    #[test]
    fn other_key_versions_are_skipped_and_garbage_is_an_error() {
        // 20: a record type that is not a consumer group's (share groups,
        // streams groups).
        assert_eq!(
            parse(Some(Bytes::from_static(&[0, 20, 1])), None).unwrap(),
            None
        );
        // 3-10: a consumer-protocol group's, whose key must be readable.
        assert!(parse(Some(Bytes::from_static(&[0, 9, 1])), None).is_err());
        assert!(matches!(
            parse(Some(Bytes::from_static(&[0, 3, 0, 1, b'g'])), None),
            Ok(Some(OffsetsRecord::ConsumerGroup { value: None, .. }))
        ));
        assert!(parse(Some(Bytes::from_static(&[0, 1, 0, 9])), None).is_err());
        assert!(parse(None, None).is_err());
    }
}
