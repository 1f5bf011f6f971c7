//! Server-side assignors of the consumer protocol (KIP-848): `uniform` (the
//! default, first in Kafka's `group.consumer.assignors`) and `range`.
//!
//! Both are pure functions of the members' subscriptions, the subscribed
//! topics' partition counts and (for `uniform`) the current target
//! assignment, so the same inputs always give the same answer.
//!
//! - `uniform`: balanced and sticky. Every member keeps what it had, up to
//!   its share (`partitions / members`, one more for the first
//!   `partitions % members` members by id that already hold that many); the
//!   rest goes, partition by partition, to the subscribed member holding the
//!   fewest. With identical subscriptions the counts differ by at most one,
//!   as Kafka's; with different subscriptions it is a greedy balance, not
//!   Kafka's exact heterogeneous algorithm.
//! - `range`: per topic, the subscribed members sorted by id get contiguous
//!   ranges, the first `partitions % members` one partition more. Kafka's
//!   server-side range assignor is the same layout plus stickiness across
//!   rebalances, which this one does not have.

use std::collections::{BTreeMap, BTreeSet};

use strata_protocol::types::Uuid;

/// Partitions by topic id.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignor {
    Uniform,
    Range,
}

impl Assignor {
    /// In Kafka's default `group.consumer.assignors` order: the first is
    /// the default.
    pub const ALL: [Assignor; 2] = [Assignor::Uniform, Assignor::Range];

    pub fn name(self) -> &'static str {
        match self {
            Assignor::Uniform => "uniform",
            Assignor::Range => "range",
        }
    }

    pub fn from_name(name: &str) -> Option<Assignor> {
        Assignor::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// One member as an assignor sees it.
#[derive(Debug, Clone)]
pub struct AssignorMember {
    pub member_id: String,
    /// Subscribed topics that exist.
    pub subscribed: BTreeSet<Uuid>,
    /// Its current target assignment (what stickiness keeps).
    pub current: Assignment,
}

/// The new target assignment of every member (members with nothing get an
/// empty one). `topics`: partition count of each subscribed topic.
pub fn assign(
    assignor: Assignor,
    members: &[AssignorMember],
    topics: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, Assignment> {
    match assignor {
        Assignor::Uniform => uniform(members, topics),
        Assignor::Range => range(members, topics),
    }
}

fn range(members: &[AssignorMember], topics: &BTreeMap<Uuid, i32>) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.member_id.clone(), Assignment::new()))
        .collect();
    for (&topic, &count) in topics {
        let mut subscribers: Vec<&str> = members
            .iter()
            .filter(|m| m.subscribed.contains(&topic))
            .map(|m| m.member_id.as_str())
            .collect();
        subscribers.sort_unstable();
        let n = subscribers.len() as i32;
        if n == 0 || count <= 0 {
            continue;
        }
        let (per, extra) = (count / n, count % n);
        for (i, member) in subscribers.iter().enumerate() {
            let i = i as i32;
            let start = i * per + i.min(extra);
            let len = per + i32::from(i < extra);
            if len == 0 {
                continue;
            }
            if let Some(a) = out.get_mut(*member) {
                a.entry(topic).or_default().extend(start..start + len);
            }
        }
    }
    out
}

fn uniform(
    members: &[AssignorMember],
    topics: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, Assignment> {
    let mut sorted: Vec<&AssignorMember> = members.iter().collect();
    sorted.sort_by(|a, b| a.member_id.cmp(&b.member_id));
    let mut out: BTreeMap<String, Assignment> = sorted
        .iter()
        .map(|m| (m.member_id.clone(), Assignment::new()))
        .collect();
    if sorted.is_empty() {
        return out;
    }
    // Every partition someone subscribes to.
    let all: Vec<(Uuid, i32)> = topics
        .iter()
        .filter(|(t, _)| sorted.iter().any(|m| m.subscribed.contains(t)))
        .flat_map(|(&t, &n)| (0..n.max(0)).map(move |p| (t, p)))
        .collect();
    let total = all.len();
    let floor = total / sorted.len();
    let mut extras = total % sorted.len();
    let mut taken: BTreeSet<(Uuid, i32)> = BTreeSet::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    // 1. Keep what each member had, up to its share.
    for m in &sorted {
        let mut kept = 0usize;
        let mut keep: Vec<(Uuid, i32)> = Vec::new();
        for (&t, ps) in &m.current {
            let Some(&n) = topics.get(&t) else { continue };
            if !m.subscribed.contains(&t) {
                continue;
            }
            for &p in ps {
                if p < n && !taken.contains(&(t, p)) {
                    keep.push((t, p));
                }
            }
        }
        let quota = if keep.len() > floor && extras > 0 {
            extras -= 1;
            floor + 1
        } else {
            floor
        };
        for tp in keep.into_iter().take(quota) {
            taken.insert(tp);
            out.entry(m.member_id.clone())
                .or_default()
                .entry(tp.0)
                .or_default()
                .insert(tp.1);
            kept += 1;
        }
        counts.insert(m.member_id.as_str(), kept);
    }
    // 2. The rest to the subscribed member holding the fewest (ties: by id).
    for (t, p) in all {
        if taken.contains(&(t, p)) {
            continue;
        }
        let best = sorted
            .iter()
            .filter(|m| m.subscribed.contains(&t))
            .min_by_key(|m| {
                (
                    counts.get(m.member_id.as_str()).copied().unwrap_or(0),
                    &m.member_id,
                )
            });
        if let Some(m) = best {
            *counts.entry(m.member_id.as_str()).or_default() += 1;
            out.entry(m.member_id.clone())
                .or_default()
                .entry(t)
                .or_default()
                .insert(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(n: u8) -> Uuid {
        Uuid([n; 16])
    }

    fn member(id: &str, topics: &[Uuid], current: &[(Uuid, &[i32])]) -> AssignorMember {
        AssignorMember {
            member_id: id.into(),
            subscribed: topics.iter().copied().collect(),
            current: current
                .iter()
                .map(|(t, ps)| (*t, ps.iter().copied().collect()))
                .collect(),
        }
    }

    fn count(a: &Assignment) -> usize {
        a.values().map(BTreeSet::len).sum()
    }

    #[test]
    fn range_gives_contiguous_ranges_extra_to_the_first() {
        let t = topic(1);
        let topics = BTreeMap::from([(t, 7)]);
        let out = assign(
            Assignor::Range,
            &[
                member("b", &[t], &[]),
                member("a", &[t], &[]),
                member("c", &[t], &[]),
            ],
            &topics,
        );
        assert_eq!(out["a"][&t], BTreeSet::from([0, 1, 2]));
        assert_eq!(out["b"][&t], BTreeSet::from([3, 4]));
        assert_eq!(out["c"][&t], BTreeSet::from([5, 6]));
    }

    #[test]
    fn uniform_balances_and_keeps_what_members_had() {
        let t = topic(1);
        let topics = BTreeMap::from([(t, 6)]);
        let first = assign(Assignor::Uniform, &[member("a", &[t], &[])], &topics);
        assert_eq!(count(&first["a"]), 6);
        let a_now: Vec<i32> = first["a"][&t].iter().copied().collect();
        let second = assign(
            Assignor::Uniform,
            &[member("a", &[t], &[(t, &a_now)]), member("b", &[t], &[])],
            &topics,
        );
        assert_eq!(count(&second["a"]), 3);
        assert_eq!(count(&second["b"]), 3);
        assert!(second["a"][&t].is_subset(&first["a"][&t]));
        // A third member takes one from each: the others keep two of theirs.
        let a2: Vec<i32> = second["a"][&t].iter().copied().collect();
        let b2: Vec<i32> = second["b"][&t].iter().copied().collect();
        let third = assign(
            Assignor::Uniform,
            &[
                member("a", &[t], &[(t, &a2)]),
                member("b", &[t], &[(t, &b2)]),
                member("c", &[t], &[]),
            ],
            &topics,
        );
        for m in ["a", "b", "c"] {
            assert_eq!(count(&third[m]), 2, "{m}");
        }
        assert!(third["a"][&t].is_subset(&second["a"][&t]));
        assert!(third["b"][&t].is_subset(&second["b"][&t]));
    }

    #[test]
    fn uniform_only_gives_members_topics_they_subscribe_to() {
        let (t1, t2) = (topic(1), topic(2));
        let topics = BTreeMap::from([(t1, 2), (t2, 2), (topic(3), 4)]);
        let out = assign(
            Assignor::Uniform,
            &[member("a", &[t1], &[]), member("b", &[t1, t2], &[])],
            &topics,
        );
        assert!(!out["a"].contains_key(&t2));
        assert_eq!(
            count(&out["a"]) + count(&out["b"]),
            4,
            "unsubscribed topic 3 is not assigned"
        );
        assert_eq!(out["b"][&t2].len(), 2);
    }

    #[test]
    fn names_round_trip() {
        for a in Assignor::ALL {
            assert_eq!(Assignor::from_name(a.name()), Some(a));
        }
        assert_eq!(Assignor::from_name("sticky"), None);
    }
}
