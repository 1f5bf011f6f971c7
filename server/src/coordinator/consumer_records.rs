//! The records a consumer-protocol group (KIP-848) leaves in
//! `__consumer_offsets`, in Kafka's format (the group coordinator's
//! ConsumerGroup* coordinator-key/value schemas, Kafka 4.x), so that a group
//! survives a restart with its members, epochs and assignments.
//!
//! A key is an i16 record type then its fields in the classic encoding (i16
//! string lengths); a value is an i16 version (0) then a flexible body
//! (compact strings and arrays, a tagged-field section per struct). Types:
//!
//! | type | key | value |
//! | --- | --- | --- |
//! | 3 | group id | group epoch |
//! | 5 | group id, member id | instance id?, rack id?, client id, client host, subscribed topic names, subscribed regex?, rebalance timeout, server assignor? |
//! | 6 | group id | assignment epoch |
//! | 7 | group id, member id | target assignment: (topic id, partitions)* |
//! | 8 | group id, member id | member epoch, previous member epoch, state (i8: 0 stable, 1 unrevoked, 2 unreleased), assigned, pending revocation |
//!
//! A null value deletes the key. Type 4 (subscription metadata, which
//! Kafka 4 no longer writes) and 9/10 (regular expressions) are not
//! written; on load they are ignored, as are unknown tagged fields.

use bytes::{BufMut, Bytes, BytesMut};
use std::collections::{BTreeMap, BTreeSet};

use strata_protocol::wire;

use super::assignor::Assignment;
use super::consumer_group::{Member, MemberState};

pub const GROUP_METADATA: i16 = 3;
pub const MEMBER_METADATA: i16 = 5;
pub const TARGET_METADATA: i16 = 6;
pub const TARGET_MEMBER: i16 = 7;
pub const CURRENT_ASSIGNMENT: i16 = 8;

/// Whether a key's record type is one of a consumer group's.
pub fn is_consumer_group_type(record_type: i16) -> bool {
    (3..=10).contains(&record_type)
}

/// What the records of one group say, as [`super::consumer_group::ConsumerGroup::restore`] takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Persisted {
    pub group_epoch: Option<i32>,
    pub assignment_epoch: Option<i32>,
    /// Members with their subscription and current assignment.
    pub members: BTreeMap<String, Member>,
    pub target: BTreeMap<String, Assignment>,
}

/// A key: its record type, group id, and member id (types 5, 7, 8).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub record_type: i16,
    pub group: String,
    pub member: Option<String>,
}

impl Key {
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        out.put_i16(self.record_type);
        put_classic_str(&mut out, &self.group);
        if let Some(m) = &self.member {
            put_classic_str(&mut out, m);
        }
        out.freeze()
    }

    /// `b` after its i16 record type.
    pub fn decode(record_type: i16, mut b: Bytes) -> Result<Key, &'static str> {
        let group = wire::get_string(&mut b, false).map_err(|_| "unreadable group id")?;
        let member = match record_type {
            MEMBER_METADATA | TARGET_MEMBER | CURRENT_ASSIGNMENT => {
                Some(wire::get_string(&mut b, false).map_err(|_| "unreadable member id")?)
            }
            _ => None,
        };
        Ok(Key {
            record_type,
            group,
            member,
        })
    }
}

fn put_classic_str(out: &mut BytesMut, s: &str) {
    let n = s.len().min(i16::MAX as usize);
    out.put_i16(n as i16);
    out.put_slice(&s.as_bytes()[..n]);
}

fn put_compact_str(out: &mut BytesMut, s: Option<&str>) {
    // Ids and names come from requests whose codec bounds them to i16.
    let s = s.map(|s| &s[..floor_char_boundary(s, i16::MAX as usize)]);
    let _ = wire::put_nullable_string(out, s, true, "string");
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    let mut n = s.len().min(max);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    n
}

fn put_partitions(out: &mut BytesMut, a: &Assignment) {
    wire::put_array_len(out, Some(a.len()), true);
    for (topic, partitions) in a {
        wire::put_uuid(out, topic);
        wire::put_array_len(out, Some(partitions.len()), true);
        for p in partitions {
            out.put_i32(*p);
        }
        out.put_u8(0); // no tagged fields
    }
}

fn value(body: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(0);
    body(&mut out);
    out.put_u8(0); // no tagged fields
    out.freeze()
}

pub fn epoch_value(epoch: i32) -> Bytes {
    value(|out| out.put_i32(epoch))
}

pub fn member_value(m: &Member) -> Bytes {
    value(|out| {
        put_compact_str(out, m.instance_id.as_deref());
        put_compact_str(out, m.rack_id.as_deref());
        put_compact_str(out, Some(&m.client_id));
        put_compact_str(out, Some(&m.client_host));
        wire::put_array_len(out, Some(m.subscribed_topic_names.len()), true);
        for t in &m.subscribed_topic_names {
            put_compact_str(out, Some(t));
        }
        put_compact_str(out, None);
        out.put_i32(m.rebalance_timeout_ms);
        put_compact_str(out, m.server_assignor.as_deref());
    })
}

pub fn target_value(a: &Assignment) -> Bytes {
    value(|out| put_partitions(out, a))
}

pub fn current_value(m: &Member) -> Bytes {
    value(|out| {
        out.put_i32(m.member_epoch);
        out.put_i32(m.previous_member_epoch);
        out.put_i8(match m.state {
            MemberState::Stable => 0,
            MemberState::UnrevokedPartitions => 1,
            MemberState::UnreleasedPartitions => 2,
        });
        put_partitions(out, &m.assigned);
        put_partitions(out, &m.pending_revocation);
    })
}

type Read<T> = Result<T, &'static str>;

fn skip_tagged(b: &mut Bytes) -> Read<()> {
    let n = wire::get_uvarint(b).map_err(|_| "unreadable tagged fields")?;
    for _ in 0..n {
        wire::get_tagged_field(b).map_err(|_| "unreadable tagged field")?;
    }
    Ok(())
}

fn get_i32(b: &mut Bytes) -> Read<i32> {
    wire::get_i32(b).map_err(|_| "truncated")
}

fn get_str(b: &mut Bytes) -> Read<Option<String>> {
    wire::get_nullable_string(b, true).map_err(|_| "unreadable string")
}

fn get_len(b: &mut Bytes) -> Read<usize> {
    let n = wire::get_array_len(b, true)
        .map_err(|_| "unreadable array")?
        .unwrap_or(0);
    // Every element takes at least a byte: a length past the data lies.
    if n > b.len() {
        return Err("array longer than its record");
    }
    Ok(n)
}

fn get_partitions(b: &mut Bytes) -> Read<Assignment> {
    let mut a = Assignment::new();
    for _ in 0..get_len(b)? {
        let topic = wire::get_uuid(b).map_err(|_| "unreadable topic id")?;
        let mut partitions = BTreeSet::new();
        for _ in 0..get_len(b)? {
            partitions.insert(get_i32(b)?);
        }
        skip_tagged(b)?;
        a.insert(topic, partitions);
    }
    Ok(a)
}

fn version0(b: &mut Bytes) -> Read<()> {
    match wire::get_i16(b) {
        Ok(0) => Ok(()),
        Ok(_) => Err("unknown value version"),
        Err(_) => Err("truncated"),
    }
}

/// Folds one record (a value, or `None` for a tombstone) into `p`.
pub fn apply(p: &mut Persisted, key: &Key, value: Option<Bytes>) -> Read<()> {
    let member = key.member.clone().unwrap_or_default();
    let Some(mut b) = value else {
        match key.record_type {
            GROUP_METADATA => p.group_epoch = None,
            TARGET_METADATA => p.assignment_epoch = None,
            MEMBER_METADATA | CURRENT_ASSIGNMENT => {
                p.members.remove(&member);
            }
            TARGET_MEMBER => {
                p.target.remove(&member);
            }
            _ => {}
        }
        return Ok(());
    };
    let b = &mut b;
    match key.record_type {
        GROUP_METADATA => {
            version0(b)?;
            p.group_epoch = Some(get_i32(b)?);
        }
        TARGET_METADATA => {
            version0(b)?;
            p.assignment_epoch = Some(get_i32(b)?);
        }
        MEMBER_METADATA => {
            version0(b)?;
            let m = p
                .members
                .entry(member.clone())
                .or_insert_with(|| Member::restored(&member));
            m.instance_id = get_str(b)?;
            m.rack_id = get_str(b)?;
            m.client_id = get_str(b)?.unwrap_or_default();
            m.client_host = get_str(b)?.unwrap_or_default();
            let mut topics = BTreeSet::new();
            for _ in 0..get_len(b)? {
                topics.extend(get_str(b)?);
            }
            m.subscribed_topic_names = topics;
            let _regex = get_str(b)?;
            m.rebalance_timeout_ms = get_i32(b)?;
            m.server_assignor = get_str(b)?;
        }
        TARGET_MEMBER => {
            version0(b)?;
            p.target.insert(member, get_partitions(b)?);
        }
        CURRENT_ASSIGNMENT => {
            version0(b)?;
            let m = p
                .members
                .entry(member.clone())
                .or_insert_with(|| Member::restored(&member));
            m.member_epoch = get_i32(b)?;
            m.previous_member_epoch = get_i32(b)?;
            m.state = match wire::get_i8(b).map_err(|_| "truncated")? {
                1 => MemberState::UnrevokedPartitions,
                2 => MemberState::UnreleasedPartitions,
                _ => MemberState::Stable,
            };
            m.assigned = get_partitions(b)?;
            m.pending_revocation = get_partitions(b)?;
        }
        _ => {}
    }
    Ok(())
}

/// Every record a group's state needs, by key: what is written after a
/// change (the keys that changed) and what a compaction copies.
pub fn records_of(
    group: &str,
    group_epoch: i32,
    assignment_epoch: i32,
    members: &BTreeMap<String, Member>,
    target: &BTreeMap<String, Assignment>,
) -> BTreeMap<Key, Bytes> {
    let key = |record_type, member: Option<&String>| Key {
        record_type,
        group: group.to_owned(),
        member: member.cloned(),
    };
    let mut out = BTreeMap::new();
    out.insert(key(GROUP_METADATA, None), epoch_value(group_epoch));
    out.insert(key(TARGET_METADATA, None), epoch_value(assignment_epoch));
    for m in members.values() {
        out.extend(member_records(group, m));
    }
    for (id, a) in target {
        out.insert(key(TARGET_MEMBER, Some(id)), target_value(a));
    }
    out
}

/// A member's own records: its metadata and current assignment.
pub fn member_records(group: &str, m: &Member) -> [(Key, Bytes); 2] {
    let key = |record_type| Key {
        record_type,
        group: group.to_owned(),
        member: Some(m.member_id.clone()),
    };
    [
        (key(MEMBER_METADATA), member_value(m)),
        (key(CURRENT_ASSIGNMENT), current_value(m)),
    ]
}

/// The records that take `before` to `after`, in an order Kafka's loader
/// accepts: new and changed values with members before their assignments,
/// then tombstones with assignments before their members and the group's
/// own records last.
pub fn diff(
    before: &BTreeMap<Key, Bytes>,
    after: &BTreeMap<Key, Bytes>,
) -> Vec<(Bytes, Option<Bytes>)> {
    let rank_put = |k: &Key| match k.record_type {
        GROUP_METADATA => 0,
        MEMBER_METADATA => 1,
        TARGET_MEMBER => 2,
        TARGET_METADATA => 3,
        _ => 4,
    };
    let rank_delete = |k: &Key| match k.record_type {
        CURRENT_ASSIGNMENT => 0,
        TARGET_MEMBER => 1,
        MEMBER_METADATA => 2,
        TARGET_METADATA => 3,
        _ => 4,
    };
    let mut puts: Vec<(&Key, &Bytes)> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .collect();
    puts.sort_by_key(|(k, _)| rank_put(k));
    let mut deletes: Vec<&Key> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    deletes.sort_by_key(|k| rank_delete(k));
    puts.into_iter()
        .map(|(k, v)| (k.encode(), Some(v.clone())))
        .chain(deletes.into_iter().map(|k| (k.encode(), None)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_protocol::types::Uuid;

    fn member(id: &str) -> Member {
        let mut m = Member::restored(id);
        m.instance_id = Some("i-1".into());
        m.client_id = "client".into();
        m.client_host = "/127.0.0.1".into();
        m.subscribed_topic_names = ["a".to_owned(), "b".to_owned()].into();
        m.rebalance_timeout_ms = 30_000;
        m.server_assignor = Some("uniform".into());
        m.member_epoch = 7;
        m.previous_member_epoch = 6;
        m.state = MemberState::UnrevokedPartitions;
        let t = Uuid([1; 16]);
        m.assigned = [(t, [0, 2].into())].into();
        m.pending_revocation = [(t, [1].into())].into();
        m
    }

    #[test]
    fn records_round_trip_into_the_same_state() {
        let members: BTreeMap<String, Member> = [("m1".to_owned(), member("m1"))].into();
        let target: BTreeMap<String, Assignment> =
            [("m1".to_owned(), [(Uuid([1; 16]), [0, 1, 2].into())].into())].into();
        let records = records_of("g", 9, 8, &members, &target);
        let mut p = Persisted::default();
        for (key, value) in diff(&BTreeMap::new(), &records) {
            let mut k = key.clone();
            let record_type = wire::get_i16(&mut k).unwrap();
            let key = Key::decode(record_type, k).unwrap();
            assert_eq!(key.group, "g");
            apply(&mut p, &key, value).unwrap();
        }
        assert_eq!(p.group_epoch, Some(9));
        assert_eq!(p.assignment_epoch, Some(8));
        assert_eq!(p.members, members);
        assert_eq!(p.target, target);
    }

    #[test]
    fn a_diff_writes_only_changes_and_deletes_members_assignment_first() {
        let one: BTreeMap<String, Member> = [("m1".to_owned(), member("m1"))].into();
        let mut two = one.clone();
        two.insert("m2".into(), member("m2"));
        let a = records_of("g", 1, 1, &two, &BTreeMap::new());
        let b = records_of("g", 2, 1, &one, &BTreeMap::new());
        let d = diff(&a, &b);
        let types: Vec<(i16, bool)> = d
            .iter()
            .map(|(k, v)| (i16::from_be_bytes([k[0], k[1]]), v.is_some()))
            .collect();
        assert_eq!(
            types,
            [
                (GROUP_METADATA, true),
                (CURRENT_ASSIGNMENT, false),
                (MEMBER_METADATA, false)
            ]
        );
        assert!(diff(&b, &b).is_empty());
    }

    #[test]
    fn lying_or_truncated_values_are_errors_not_panics() {
        let key = Key {
            record_type: CURRENT_ASSIGNMENT,
            group: "g".into(),
            member: Some("m".into()),
        };
        let good = current_value(&member("m"));
        for cut in 0..good.len() {
            let mut p = Persisted::default();
            let _ = apply(&mut p, &key, Some(good.slice(..cut)));
        }
        let mut lying = BytesMut::from(&good[..10]);
        lying.put_u8(0xff);
        lying.put_u8(0x7f);
        assert!(apply(&mut Persisted::default(), &key, Some(lying.freeze())).is_err());
    }
}
