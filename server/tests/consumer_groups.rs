//! Consumer-protocol groups (KIP-848) over loopback: joins, reconciliation
//! through revocation, leaves and session timeouts, member-epoch checks on
//! offset commits and fetches, classic/consumer id conflicts, and the group
//! with its members surviving restarts.

mod common;

use bytes::Bytes;

use strata_protocol::messages::join_group::request::JoinGroupRequestProtocol;
use strata_protocol::messages::offset_commit::request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use strata_protocol::messages::offset_fetch::request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use strata_protocol::messages::*;
use strata_protocol::types::{GroupId, TopicName, Uuid};

use common::*;

const SETTINGS: &[(&str, &str)] = &[
    ("offsets.topic.num.partitions", "3"),
    ("group.consumer.session.timeout.ms", "1500"),
    ("group.consumer.heartbeat.interval.ms", "300"),
];

/// A member as its client tracks it.
struct Member {
    id: String,
    epoch: i32,
    owned: Vec<(Uuid, Vec<i32>)>,
}

impl Member {
    async fn join(c: &mut Client, group: &str, id: &str, topics: &[&str]) -> Member {
        let r = consumer_heartbeat(c, group, id, 0, Some(topics), Some(vec![])).await;
        assert_eq!(r.error_code, 0, "{:?}", r.error_message);
        assert_eq!(r.member_id.as_deref(), Some(id));
        let mut m = Member {
            id: id.into(),
            epoch: r.member_epoch,
            owned: vec![],
        };
        m.take(&r);
        m
    }

    fn take(&mut self, r: &ConsumerGroupHeartbeatResponse) {
        self.epoch = r.member_epoch;
        if let Some(a) = &r.assignment {
            self.owned = a
                .topic_partitions
                .iter()
                .map(|tp| (tp.topic_id, tp.partitions.clone()))
                .collect();
        }
    }

    async fn beat(&mut self, c: &mut Client, group: &str) -> ConsumerGroupHeartbeatResponse {
        let r = consumer_heartbeat(
            c,
            group,
            &self.id,
            self.epoch,
            None,
            Some(self.owned.clone()),
        )
        .await;
        assert_eq!(r.error_code, 0, "{:?}", r.error_message);
        self.take(&r);
        r
    }

    fn count(&self) -> usize {
        self.owned.iter().map(|(_, p)| p.len()).sum()
    }
}

async fn describe(
    c: &mut Client,
    group: &str,
) -> consumer_group_describe::response::DescribedGroup {
    let Response::ConsumerGroupDescribe(r) = c
        .call(
            1,
            Request::ConsumerGroupDescribe(ConsumerGroupDescribeRequest {
                group_ids: vec![GroupId(group.into())],
                ..ConsumerGroupDescribeRequest::default()
            }),
        )
        .await
    else {
        panic!("not a ConsumerGroupDescribe response")
    };
    r.groups.into_iter().next().unwrap()
}

async fn commit(
    c: &mut Client,
    group: &str,
    member_id: &str,
    epoch: i32,
    topic: &str,
    partition: i32,
    offset: i64,
) -> i16 {
    let Response::OffsetCommit(r) = c
        .call(
            9,
            Request::OffsetCommit(OffsetCommitRequest {
                group_id: GroupId(group.into()),
                generation_id_or_member_epoch: epoch,
                member_id: member_id.into(),
                topics: vec![OffsetCommitRequestTopic {
                    name: TopicName(topic.into()),
                    partitions: vec![OffsetCommitRequestPartition {
                        partition_index: partition,
                        committed_offset: offset,
                        committed_leader_epoch: -1,
                        ..OffsetCommitRequestPartition::default()
                    }],
                    ..OffsetCommitRequestTopic::default()
                }],
                ..OffsetCommitRequest::default()
            }),
        )
        .await
    else {
        panic!("not an OffsetCommit response")
    };
    r.topics[0].partitions[0].error_code
}

/// OffsetFetch v9 of all committed partitions: (group error, offsets).
async fn fetch(
    c: &mut Client,
    group: &str,
    member: Option<&str>,
    epoch: i32,
) -> (i16, Vec<(String, i32, i64)>) {
    let Response::OffsetFetch(r) = c
        .call(
            9,
            Request::OffsetFetch(OffsetFetchRequest {
                groups: vec![OffsetFetchRequestGroup {
                    group_id: GroupId(group.into()),
                    member_id: member.map(str::to_owned),
                    member_epoch: epoch,
                    topics: None::<Vec<OffsetFetchRequestTopics>>,
                    ..OffsetFetchRequestGroup::default()
                }],
                ..OffsetFetchRequest::default()
            }),
        )
        .await
    else {
        panic!("not an OffsetFetch response")
    };
    let g = &r.groups[0];
    let offsets = g
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.0.clone(), p.partition_index, p.committed_offset))
        })
        .collect();
    (g.error_code, offsets)
}

#[tokio::test]
async fn two_members_share_partitions_after_revocation_and_commit_with_their_epoch() {
    let b = start(SETTINGS).await;
    let mut c = Client::connect(&b).await;
    assert_eq!(create_topic(&mut c, "t6", 6).await.topics[0].error_code, 0);

    let mut a = Member::join(&mut c, "cg", "member-a", &["t6"]).await;
    assert_eq!((a.epoch, a.count()), (1, 6));
    let d = describe(&mut c, "cg").await;
    assert_eq!((d.error_code, d.group_state.as_str()), (0, "Stable"));
    assert_eq!((d.group_epoch, d.assignment_epoch), (1, 1));
    assert_eq!(d.assignor_name, "uniform");

    // b joins: nothing for it until a has revoked.
    let mut m = Member::join(&mut c, "cg", "member-b", &["t6"]).await;
    assert_eq!((m.epoch, m.count()), (2, 0));
    assert_eq!(describe(&mut c, "cg").await.group_state, "Reconciling");
    let r = a.beat(&mut c, "cg").await;
    assert_eq!(
        (r.member_epoch, a.count()),
        (1, 3),
        "a revokes three, still at 1"
    );
    assert_eq!(r.heartbeat_interval_ms, 300);
    // a's commit at its current epoch is fine; any other epoch is stale.
    assert_eq!(commit(&mut c, "cg", "member-a", 1, "t6", 0, 5).await, 0);
    assert_eq!(commit(&mut c, "cg", "member-a", 2, "t6", 0, 5).await, 113);
    assert_eq!(commit(&mut c, "cg", "nobody", 1, "t6", 0, 5).await, 25);
    let r = a.beat(&mut c, "cg").await;
    assert_eq!(r.member_epoch, 2, "revocation reported");
    let r = m.beat(&mut c, "cg").await;
    assert_eq!((r.member_epoch, m.count()), (2, 3));
    let d = describe(&mut c, "cg").await;
    assert_eq!(d.group_state, "Stable");
    assert_eq!(d.members.len(), 2);
    assert!(
        d.members
            .iter()
            .all(|m| m.member_epoch == 2 && m.member_type == 1)
    );
    assert_eq!(
        d.members[0].assignment.topic_partitions[0].topic_name.0,
        "t6"
    );

    // Fetches: with the right epoch, without member, and stale.
    assert_eq!(commit(&mut c, "cg", "member-b", 2, "t6", 3, 7).await, 0);
    let (err, offsets) = fetch(&mut c, "cg", Some("member-b"), 2).await;
    assert_eq!(err, 0);
    assert!(offsets.contains(&("t6".into(), 0, 5)) && offsets.contains(&("t6".into(), 3, 7)));
    assert_eq!(fetch(&mut c, "cg", None, -1).await.0, 0);
    assert_eq!(fetch(&mut c, "cg", Some("member-b"), 1).await.0, 113);
    assert_eq!(fetch(&mut c, "cg", Some("nobody"), 1).await.0, 25);

    // b leaves: a gets everything back on its next heartbeat.
    let r = consumer_heartbeat(&mut c, "cg", "member-b", -1, None, None).await;
    assert_eq!((r.error_code, r.member_epoch), (0, -1));
    let r = a.beat(&mut c, "cg").await;
    assert_eq!((r.member_epoch, a.count()), (3, 6));
}

#[tokio::test]
async fn a_silent_member_is_fenced_after_the_session_timeout() {
    let b = start(SETTINGS).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "t4", 4).await;
    let mut a = Member::join(&mut c, "cg", "a", &["t4"]).await;
    let mut m = Member::join(&mut c, "cg", "b", &["t4"]).await;
    a.beat(&mut c, "cg").await;
    a.beat(&mut c, "cg").await;
    m.beat(&mut c, "cg").await;
    assert_eq!((a.count(), m.count()), (2, 2));
    // b stops; a keeps its session (1.5 s) alive until b is gone.
    let mut alone = false;
    for _ in 0..30 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        a.beat(&mut c, "cg").await;
        if a.count() == 4 {
            alone = true;
            break;
        }
    }
    assert!(alone, "b's partitions came to a");
    let r = consumer_heartbeat(&mut c, "cg", "b", m.epoch, None, Some(m.owned.clone())).await;
    assert_eq!(r.error_code, 25, "UNKNOWN_MEMBER_ID once fenced");
}

#[tokio::test]
async fn request_errors_are_kafkas() {
    let b = start(SETTINGS).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "t1", 1).await;
    // v1: the client draws the member id.
    let r = consumer_heartbeat(&mut c, "cg", "", 0, Some(&["t1"]), Some(vec![])).await;
    assert_eq!(r.error_code, 42, "INVALID_REQUEST");
    assert_eq!(r.error_message.as_deref(), Some("MemberId can't be empty."));
    // Joining without topic_partitions.
    let r = consumer_heartbeat(&mut c, "cg", "m", 0, Some(&["t1"]), None).await;
    assert_eq!(r.error_code, 42);
    let Response::ConsumerGroupHeartbeat(r) = c
        .call(
            1,
            Request::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest {
                group_id: GroupId("cg".into()),
                member_id: "m".into(),
                rebalance_timeout_ms: 1000,
                subscribed_topic_names: Some(vec![TopicName("t1".into())]),
                server_assignor: Some("sticky".into()),
                topic_partitions: Some(vec![]),
                ..ConsumerGroupHeartbeatRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.error_code, 112, "UNSUPPORTED_ASSIGNOR");
    // v0: the broker draws the member id.
    let Response::ConsumerGroupHeartbeat(r) = c
        .call(
            0,
            Request::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest {
                group_id: GroupId("cg0".into()),
                rebalance_timeout_ms: 1000,
                subscribed_topic_names: Some(vec![TopicName("t1".into())]),
                topic_partitions: Some(vec![]),
                ..ConsumerGroupHeartbeatRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    assert!(r.member_id.is_some_and(|id| !id.is_empty()));
    // A heartbeat from a member the group never had.
    let _m = Member::join(&mut c, "cg", "m", &["t1"]).await;
    let r = consumer_heartbeat(&mut c, "cg", "zz", 1, None, Some(vec![])).await;
    assert_eq!(r.error_code, 25);
    // An epoch ahead of the coordinator's.
    let r = consumer_heartbeat(&mut c, "cg", "m", 9, None, Some(vec![])).await;
    assert_eq!(r.error_code, 110, "FENCED_MEMBER_EPOCH");
    // Describe: unknown group.
    assert_eq!(describe(&mut c, "nope").await.error_code, 69);
}

fn classic_join(group: &str) -> Request {
    Request::JoinGroup(JoinGroupRequest {
        group_id: GroupId(group.into()),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 5_000,
        member_id: String::new(),
        group_instance_id: Some("static".into()),
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: Bytes::from_static(b"subscription"),
            ..JoinGroupRequestProtocol::default()
        }],
        ..JoinGroupRequest::default()
    })
}

#[tokio::test]
async fn classic_and_consumer_groups_do_not_share_an_id() {
    let b = start(&[
        ("offsets.topic.num.partitions", "3"),
        ("group.initial.rebalance.delay.ms", "0"),
    ])
    .await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "t1", 1).await;
    // A consumer group with a member: a classic join is refused.
    let _m = Member::join(&mut c, "cons", "m", &["t1"]).await;
    let Response::JoinGroup(r) = c.call(9, classic_join("cons")).await else {
        panic!()
    };
    assert_eq!(r.error_code, 23, "INCONSISTENT_GROUP_PROTOCOL");
    // A classic group with a member: the consumer protocol cannot take it.
    let Response::JoinGroup(r) = c.call(9, classic_join("classic")).await else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    let r = consumer_heartbeat(&mut c, "classic", "x", 0, Some(&["t1"]), Some(vec![])).await;
    assert_eq!(r.error_code, 69, "GROUP_ID_NOT_FOUND");
    let d = describe(&mut c, "classic").await;
    assert_eq!(d.error_code, 69);
    assert_eq!(
        d.error_message.as_deref(),
        Some("Group classic is not a consumer group.")
    );
    // Once the consumer group is empty, a classic member may have the id.
    let r = consumer_heartbeat(&mut c, "cons", "m", -1, None, None).await;
    assert_eq!(r.error_code, 0);
    let Response::JoinGroup(r) = c.call(9, classic_join("cons")).await else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
}

#[tokio::test]
async fn the_group_its_members_and_offsets_survive_a_restart() {
    let mut b = start(SETTINGS).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "t2", 2).await;
    let mut a = Member::join(&mut c, "cg", "a", &["t2"]).await;
    assert_eq!(a.count(), 2);
    let mut d = Member::join(&mut c, "cg", "d", &["t2"]).await;
    // Reconcile to one partition each: a revokes one, d gets it.
    for _ in 0..4 {
        a.beat(&mut c, "cg").await;
        d.beat(&mut c, "cg").await;
    }
    assert_eq!((a.count(), d.count()), (1, 1));
    assert_eq!(commit(&mut c, "cg", "a", a.epoch, "t2", 1, 42).await, 0);
    let before = describe(&mut c, "cg").await;

    // A clean restart, then one after a kill -9 (no clean shutdown).
    b.restart().await;
    let mut c = Client::connect(&b).await;
    let after = describe(&mut c, "cg").await;
    assert_eq!(after.group_epoch, before.group_epoch);
    assert_eq!(after.assignment_epoch, before.assignment_epoch);
    assert_eq!(after.group_state, before.group_state);
    assert_eq!(after.members.len(), 2);
    // The members carry on with their epochs and partitions.
    let (epoch_a, owned_a) = (a.epoch, a.owned.clone());
    let r = a.beat(&mut c, "cg").await;
    assert_eq!((a.epoch, &a.owned), (epoch_a, &owned_a));
    assert!(r.assignment.is_none(), "nothing changed for it");
    d.beat(&mut c, "cg").await;
    let (err, offsets) = fetch(&mut c, "cg", Some("a"), a.epoch).await;
    assert_eq!(err, 0);
    assert_eq!(offsets, vec![("t2".to_string(), 1, 42)]);

    // Compacting the group's partition of __consumer_offsets keeps it.
    let n = strata_server::coordinator::partition_for("cg", 3);
    let broker = b.broker().clone();
    let compacted = tokio::task::spawn_blocking(move || {
        broker.groups.compact_partition_blocking(&broker, 3, n)
    })
    .await
    .unwrap()
    .unwrap()
    .expect("settled");
    assert!(compacted.live >= 2 + 2 * 3, "{compacted:?}");
    b.restart().await;
    let mut c = Client::connect(&b).await;
    assert_eq!(describe(&mut c, "cg").await.members.len(), 2);
    a.beat(&mut c, "cg").await;
    d.beat(&mut c, "cg").await;

    // d leaves; a takes both partitions; all of it survives again.
    let r = consumer_heartbeat(&mut c, "cg", "d", -1, None, None).await;
    assert_eq!(r.error_code, 0);
    for _ in 0..3 {
        a.beat(&mut c, "cg").await;
    }
    assert_eq!(a.count(), 2);
    b.restart().await;
    let mut c = Client::connect(&b).await;
    let after = describe(&mut c, "cg").await;
    assert_eq!(after.members.len(), 1);
    assert_eq!(after.members[0].member_id, "a");
    let epoch_a = a.epoch;
    a.beat(&mut c, "cg").await;
    assert_eq!((a.epoch, a.count()), (epoch_a, 2));
    let r = consumer_heartbeat(&mut c, "cg", "d", 5, None, Some(vec![])).await;
    assert_eq!(
        r.error_code, 25,
        "UNKNOWN_MEMBER_ID: d left before the restart"
    );

    // A member that stops heartbeating after a restart is fenced after its
    // session timeout (1.5 s here), as before it.
    b.restart().await;
    let mut c = Client::connect(&b).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(describe(&mut c, "cg").await.members.len(), 0);
    let r = consumer_heartbeat(&mut c, "cg", "a", a.epoch, None, Some(a.owned.clone())).await;
    assert_eq!(r.error_code, 25, "UNKNOWN_MEMBER_ID once fenced");
}
