//! Consumer groups over loopback: membership, rebalances, committed
//! offsets, and offsets surviving a restart.

mod common;

use bytes::Bytes;

use strata_protocol::messages::join_group::request::JoinGroupRequestProtocol;
use strata_protocol::messages::leave_group::request::MemberIdentity;
use strata_protocol::messages::offset_commit::request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use strata_protocol::messages::offset_delete::request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use strata_protocol::messages::offset_fetch::request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use strata_protocol::messages::sync_group::request::SyncGroupRequestAssignment;
use strata_protocol::messages::*;
use strata_protocol::types::{GroupId, TopicName};

use common::*;

/// Few offsets partitions keep topic creation quick; one test uses
/// Kafka's 50.
const SETTINGS: &[(&str, &str)] = &[
    ("offsets.topic.num.partitions", "5"),
    ("group.initial.rebalance.delay.ms", "300"),
];

fn join_request(group: &str, member_id: &str) -> Request {
    Request::JoinGroup(JoinGroupRequest {
        group_id: GroupId(group.into()),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 5_000,
        member_id: member_id.into(),
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: Bytes::from_static(b"subscription"),
            ..JoinGroupRequestProtocol::default()
        }],
        ..JoinGroupRequest::default()
    })
}

async fn join(c: &mut Client, group: &str, member_id: &str) -> JoinGroupResponse {
    let Response::JoinGroup(r) = c.call(9, join_request(group, member_id)).await else {
        panic!("not a JoinGroup response")
    };
    r
}

/// The v4+ dance: MEMBER_ID_REQUIRED, then the real join (which waits for
/// the rebalance).
async fn join_new(c: &mut Client, group: &str) -> JoinGroupResponse {
    let first = join(c, group, "").await;
    assert_eq!(first.error_code, 79, "MEMBER_ID_REQUIRED");
    assert!(first.member_id.starts_with("loopback-"));
    join(c, group, &first.member_id).await
}

async fn sync(
    c: &mut Client,
    group: &str,
    member_id: &str,
    generation: i32,
    assignments: &[(&str, &str)],
) -> SyncGroupResponse {
    let Response::SyncGroup(r) = c
        .call(
            5,
            Request::SyncGroup(SyncGroupRequest {
                group_id: GroupId(group.into()),
                generation_id: generation,
                member_id: member_id.into(),
                protocol_type: Some("consumer".into()),
                protocol_name: Some("range".into()),
                assignments: assignments
                    .iter()
                    .map(|(m, a)| SyncGroupRequestAssignment {
                        member_id: (*m).into(),
                        assignment: Bytes::from(a.to_string()),
                        ..SyncGroupRequestAssignment::default()
                    })
                    .collect(),
                ..SyncGroupRequest::default()
            }),
        )
        .await
    else {
        panic!("not a SyncGroup response")
    };
    r
}

async fn heartbeat(c: &mut Client, group: &str, member_id: &str, generation: i32) -> i16 {
    let Response::Heartbeat(r) = c
        .call(
            4,
            Request::Heartbeat(HeartbeatRequest {
                group_id: GroupId(group.into()),
                generation_id: generation,
                member_id: member_id.into(),
                ..HeartbeatRequest::default()
            }),
        )
        .await
    else {
        panic!("not a Heartbeat response")
    };
    r.error_code
}

async fn commit(
    c: &mut Client,
    version: i16,
    group: &str,
    member_id: &str,
    generation: i32,
    offsets: &[(&str, i32, i64, &str)],
) -> Vec<i16> {
    let Response::OffsetCommit(r) = c
        .call(
            version,
            Request::OffsetCommit(OffsetCommitRequest {
                group_id: GroupId(group.into()),
                generation_id_or_member_epoch: generation,
                member_id: member_id.into(),
                topics: offsets
                    .iter()
                    .map(|(t, p, o, m)| OffsetCommitRequestTopic {
                        name: TopicName((*t).into()),
                        partitions: vec![OffsetCommitRequestPartition {
                            partition_index: *p,
                            committed_offset: *o,
                            committed_leader_epoch: 3,
                            committed_metadata: Some((*m).into()),
                            ..OffsetCommitRequestPartition::default()
                        }],
                        ..OffsetCommitRequestTopic::default()
                    })
                    .collect(),
                ..OffsetCommitRequest::default()
            }),
        )
        .await
    else {
        panic!("not an OffsetCommit response")
    };
    r.topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

/// (partition, offset, leader epoch, metadata, error) of `topic` via v7.
async fn fetch_offsets(
    c: &mut Client,
    group: &str,
    topic: &str,
    partitions: &[i32],
) -> Vec<(i32, i64, i32, String, i16)> {
    let Response::OffsetFetch(r) = c
        .call(
            7,
            Request::OffsetFetch(OffsetFetchRequest {
                group_id: GroupId(group.into()),
                topics: Some(vec![OffsetFetchRequestTopic {
                    name: TopicName(topic.into()),
                    partition_indexes: partitions.to_vec(),
                    ..OffsetFetchRequestTopic::default()
                }]),
                ..OffsetFetchRequest::default()
            }),
        )
        .await
    else {
        panic!("not an OffsetFetch response")
    };
    assert_eq!(r.error_code, 0);
    r.topics[0]
        .partitions
        .iter()
        .map(|p| {
            (
                p.partition_index,
                p.committed_offset,
                p.committed_leader_epoch,
                p.metadata.clone().unwrap_or_default(),
                p.error_code,
            )
        })
        .collect()
}

async fn describe(c: &mut Client, group: &str) -> describe_groups::response::DescribedGroup {
    let Response::DescribeGroups(mut r) = c
        .call(
            5,
            Request::DescribeGroups(DescribeGroupsRequest {
                groups: vec![GroupId(group.into())],
                ..DescribeGroupsRequest::default()
            }),
        )
        .await
    else {
        panic!("not a DescribeGroups response")
    };
    r.groups.remove(0)
}

#[tokio::test]
async fn find_coordinator_names_this_broker_single_and_batched() {
    let b = start(&[]).await;
    let mut c = Client::connect(&b).await;
    let Response::FindCoordinator(r) = c
        .call(
            3,
            Request::FindCoordinator(FindCoordinatorRequest {
                key: "g".into(),
                ..FindCoordinatorRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!((r.error_code, r.port), (0, i32::from(b.addr.port())));
    let Response::FindCoordinator(r) = c
        .call(
            4,
            Request::FindCoordinator(FindCoordinatorRequest {
                coordinator_keys: vec!["a".into(), "b".into()],
                ..FindCoordinatorRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.coordinators.len(), 2);
    assert!(
        r.coordinators
            .iter()
            .all(|c| c.error_code == 0 && c.host == "127.0.0.1")
    );
    // Transactions: no coordinator yet.
    let Response::FindCoordinator(r) = c
        .call(
            4,
            Request::FindCoordinator(FindCoordinatorRequest {
                key_type: 1,
                coordinator_keys: vec!["tx".into()],
                ..FindCoordinatorRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.coordinators[0].error_code, 15);
    // Kafka's 50 partitions, created on first use.
    let Response::Metadata(m) = c
        .call(
            12,
            Request::Metadata(MetadataRequest {
                topics: Some(vec![metadata::request::MetadataRequestTopic {
                    name: Some(TopicName("__consumer_offsets".into())),
                    ..Default::default()
                }]),
                ..MetadataRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(m.topics[0].partitions.len(), 50);
}

#[tokio::test]
async fn two_members_join_sync_heartbeat_then_a_third_triggers_a_rebalance() {
    let b = start(SETTINGS).await;
    let mut a = Client::connect(&b).await;
    let mut bb = Client::connect(&b).await;
    let mut cc = Client::connect(&b).await;
    // Both join within the initial delay: one generation for both.
    let (ja, jb) = tokio::join!(join_new(&mut a, "g"), join_new(&mut bb, "g"));
    assert_eq!((ja.error_code, jb.error_code), (0, 0));
    assert_eq!(ja.generation_id, 1);
    assert_eq!(jb.generation_id, 1);
    assert_eq!(ja.leader, jb.leader);
    assert_eq!(ja.protocol_name.as_deref(), Some("range"));
    let (leader, follower) = if ja.leader == ja.member_id {
        ((&mut a, ja), (&mut bb, jb))
    } else {
        ((&mut bb, jb), (&mut a, ja))
    };
    assert_eq!(leader.1.members.len(), 2, "the leader sees every member");
    assert!(follower.1.members.is_empty());
    let (lid, fid) = (leader.1.member_id.clone(), follower.1.member_id.clone());
    let assignments = [(lid.as_str(), "for-leader"), (fid.as_str(), "for-follower")];
    // The follower's sync waits for the leader's.
    let (sl, sf) = tokio::join!(
        async {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            sync(leader.0, "g", &lid, 1, &assignments).await
        },
        sync(follower.0, "g", &fid, 1, &[])
    );
    assert_eq!(
        (sl.error_code, sl.assignment.as_ref()),
        (0, &b"for-leader"[..])
    );
    assert_eq!(
        (sf.error_code, sf.assignment.as_ref()),
        (0, &b"for-follower"[..])
    );
    assert_eq!(heartbeat(leader.0, "g", &lid, 1).await, 0);
    assert_eq!(heartbeat(follower.0, "g", &fid, 1).await, 0);
    assert_eq!(
        heartbeat(follower.0, "g", &fid, 0).await,
        22,
        "ILLEGAL_GENERATION"
    );
    assert_eq!(
        heartbeat(follower.0, "g", "nobody", 1).await,
        25,
        "UNKNOWN_MEMBER_ID"
    );
    let d = describe(leader.0, "g").await;
    assert_eq!(
        (d.group_state.as_str(), d.protocol_data.as_str()),
        ("Stable", "range")
    );
    assert_eq!(d.members.len(), 2);

    // A third member: the others learn of the rebalance from heartbeats.
    let first = join(&mut cc, "g", "").await;
    assert_eq!(first.error_code, 79);
    let third_id = first.member_id.clone();
    let third = tokio::spawn(async move {
        let r = join(&mut cc, "g", &third_id).await;
        (cc, r)
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        heartbeat(leader.0, "g", &lid, 1).await,
        27,
        "REBALANCE_IN_PROGRESS"
    );
    assert_eq!(heartbeat(follower.0, "g", &fid, 1).await, 27);
    let (jl, jf) = tokio::join!(join(leader.0, "g", &lid), join(follower.0, "g", &fid));
    let (_cc, jc) = third.await.unwrap();
    assert_eq!(
        (jl.generation_id, jf.generation_id, jc.generation_id),
        (2, 2, 2)
    );
    assert_eq!(jl.members.len(), 3);

    // A member leaving (v3+ batch) triggers the next rebalance.
    let Response::LeaveGroup(r) = follower
        .0
        .call(
            5,
            Request::LeaveGroup(LeaveGroupRequest {
                group_id: GroupId("g".into()),
                members: vec![MemberIdentity {
                    member_id: fid.clone(),
                    ..MemberIdentity::default()
                }],
                ..LeaveGroupRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!((r.error_code, r.members[0].error_code), (0, 0));
    let Response::ListGroups(r) = leader
        .0
        .call(
            5,
            Request::ListGroups(ListGroupsRequest {
                states_filter: vec!["preparingrebalance".into()],
                ..ListGroupsRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.groups.len(), 1);
    assert_eq!(
        (
            r.groups[0].group_id.0.as_str(),
            r.groups[0].group_type.as_str()
        ),
        ("g", "classic")
    );
}

#[tokio::test]
async fn committed_offsets_and_the_group_survive_a_restart() {
    let mut b = start(SETTINGS).await;
    let mut c = Client::connect(&b).await;
    assert_eq!(
        create_topic(&mut c, "orders", 3).await.topics[0].error_code,
        0
    );

    // A "simple" commit: no group management, generation -1.
    let codes = commit(
        &mut c,
        8,
        "simple",
        "",
        -1,
        &[("orders", 0, 42, "m0"), ("orders", 2, 7, "")],
    )
    .await;
    assert_eq!(codes, vec![0, 0]);
    assert_eq!(
        commit(&mut c, 8, "simple", "", -1, &[("nope", 0, 1, "")]).await,
        vec![3],
        "UNKNOWN_TOPIC_OR_PARTITION"
    );
    let fetched = fetch_offsets(&mut c, "simple", "orders", &[0, 1, 2]).await;
    assert_eq!(
        fetched,
        vec![
            (0, 42, 3, "m0".to_string(), 0),
            (1, -1, -1, String::new(), 0),
            (2, 7, 3, String::new(), 0)
        ]
    );

    // A group commit from a member of the current generation.
    let j = join_new(&mut c, "members").await;
    let s = sync(
        &mut c,
        "members",
        &j.member_id,
        j.generation_id,
        &[(&j.member_id, "mine")],
    )
    .await;
    assert_eq!(s.error_code, 0);
    assert_eq!(
        commit(
            &mut c,
            8,
            "members",
            &j.member_id,
            j.generation_id,
            &[("orders", 1, 99, "x")]
        )
        .await,
        vec![0]
    );
    assert_eq!(
        commit(
            &mut c,
            8,
            "members",
            &j.member_id,
            j.generation_id + 1,
            &[("orders", 1, 5, "")]
        )
        .await,
        vec![22],
        "ILLEGAL_GENERATION"
    );
    assert_eq!(
        commit(&mut c, 8, "members", "", -1, &[("orders", 1, 5, "")]).await,
        vec![25],
        "UNKNOWN_MEMBER_ID: simple commit to a group with members"
    );
    assert_eq!(
        commit(&mut c, 8, "ghost", "m", 3, &[("orders", 1, 5, "")]).await,
        vec![22]
    );
    assert_eq!(
        commit(&mut c, 9, "ghost", "m", 3, &[("orders", 1, 5, "")]).await,
        vec![69],
        "GROUP_ID_NOT_FOUND from v9"
    );

    b.restart().await;
    let mut c = Client::connect(&b).await;
    let fetched = fetch_offsets(&mut c, "simple", "orders", &[0, 2]).await;
    assert_eq!(
        fetched,
        vec![(0, 42, 3, "m0".to_string(), 0), (2, 7, 3, String::new(), 0)]
    );
    assert_eq!(
        fetch_offsets(&mut c, "members", "orders", &[1]).await[0].1,
        99
    );
    // The group came back Stable with its member and assignment: the
    // member carries on without rejoining.
    let d = describe(&mut c, "members").await;
    assert_eq!(d.group_state, "Stable");
    assert_eq!(d.members[0].member_assignment.as_ref(), b"mine");
    assert_eq!(
        heartbeat(&mut c, "members", &j.member_id, j.generation_id).await,
        0
    );

    // Multi-group fetch (v8) with null topics: every committed partition.
    let Response::OffsetFetch(r) = c
        .call(
            8,
            Request::OffsetFetch(OffsetFetchRequest {
                groups: vec![
                    OffsetFetchRequestGroup {
                        group_id: GroupId("simple".into()),
                        topics: None,
                        ..OffsetFetchRequestGroup::default()
                    },
                    OffsetFetchRequestGroup {
                        group_id: GroupId("members".into()),
                        topics: Some(vec![OffsetFetchRequestTopics {
                            name: TopicName("orders".into()),
                            partition_indexes: vec![0, 1],
                            ..OffsetFetchRequestTopics::default()
                        }]),
                        ..OffsetFetchRequestGroup::default()
                    },
                ],
                ..OffsetFetchRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    let offsets = |g: usize| -> Vec<(i32, i64)> {
        r.groups[g].topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.committed_offset))
            .collect()
    };
    assert_eq!(offsets(0), vec![(0, 42), (2, 7)]);
    assert_eq!(offsets(1), vec![(0, -1), (1, 99)]);
}

#[tokio::test]
async fn delete_groups_and_offsets_only_where_kafka_allows() {
    let mut b = start(SETTINGS).await;
    let mut c = Client::connect(&b).await;
    create_topic(&mut c, "t", 2).await;
    assert_eq!(
        commit(
            &mut c,
            8,
            "empty",
            "",
            -1,
            &[("t", 0, 1, ""), ("t", 1, 2, "")]
        )
        .await,
        vec![0, 0]
    );
    let j = join_new(&mut c, "busy").await;
    sync(&mut c, "busy", &j.member_id, j.generation_id, &[]).await;

    let Response::OffsetDelete(r) = c
        .call(
            0,
            Request::OffsetDelete(OffsetDeleteRequest {
                group_id: GroupId("empty".into()),
                topics: vec![OffsetDeleteRequestTopic {
                    name: TopicName("t".into()),
                    partitions: vec![OffsetDeleteRequestPartition {
                        partition_index: 1,
                        ..OffsetDeleteRequestPartition::default()
                    }],
                    ..OffsetDeleteRequestTopic::default()
                }],
                ..OffsetDeleteRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!((r.error_code, r.topics[0].partitions[0].error_code), (0, 0));
    assert_eq!(
        fetch_offsets(&mut c, "empty", "t", &[0, 1])
            .await
            .iter()
            .map(|p| p.1)
            .collect::<Vec<_>>(),
        vec![1, -1]
    );

    let Response::DeleteGroups(r) = c
        .call(
            3,
            Request::DeleteGroups(DeleteGroupsRequest {
                groups_names: vec![
                    GroupId("busy".into()),
                    GroupId("empty".into()),
                    GroupId("none".into()),
                ],
                ..DeleteGroupsRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    let codes: Vec<i16> = r.results.iter().map(|r| r.error_code).collect();
    assert_eq!(
        codes,
        vec![68, 0, 69],
        "NON_EMPTY_GROUP, deleted, GROUP_ID_NOT_FOUND"
    );
    assert_eq!(describe(&mut c, "empty").await.group_state, "Dead");

    // Deleted stays deleted after a restart (tombstones).
    b.restart().await;
    let mut c = Client::connect(&b).await;
    assert_eq!(fetch_offsets(&mut c, "empty", "t", &[0]).await[0].1, -1);
    let Response::ListGroups(r) = c
        .call(4, Request::ListGroups(ListGroupsRequest::default()))
        .await
    else {
        panic!()
    };
    let names: Vec<&str> = r.groups.iter().map(|g| g.group_id.0.as_str()).collect();
    assert_eq!(names, vec!["busy"]);
}

async fn list_group_ids(c: &mut Client) -> Vec<String> {
    let Response::ListGroups(r) = c
        .call(4, Request::ListGroups(ListGroupsRequest::default()))
        .await
    else {
        panic!("not a ListGroups response")
    };
    let mut ids: Vec<String> = r.groups.into_iter().map(|g| g.group_id.0).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn offsets_expire_after_offsets_retention_minutes_and_stay_expired() {
    const RETENTION_MS: i64 = 2 * 60_000;
    let settings = [SETTINGS, &[("offsets.retention.minutes", "2")]].concat();
    let mut b = start(&settings).await;
    let mut c = Client::connect(&b).await;
    assert_eq!(create_topic(&mut c, "t", 3).await.topics[0].error_code, 0);
    let committed_at = strata_server::broker::now_ms();

    // "simple": only simple commits. "left": a consumer group whose only
    // member left. "live": a member still in the group.
    assert_eq!(
        commit(&mut c, 8, "simple", "", -1, &[("t", 0, 10, "")]).await,
        vec![0]
    );
    let j = join_new(&mut c, "left").await;
    let s = sync(&mut c, "left", &j.member_id, j.generation_id, &[]).await;
    assert_eq!(s.error_code, 0);
    assert_eq!(
        commit(
            &mut c,
            8,
            "left",
            &j.member_id,
            j.generation_id,
            &[("t", 1, 20, "")]
        )
        .await,
        vec![0]
    );
    let Response::LeaveGroup(r) = c
        .call(
            5,
            Request::LeaveGroup(LeaveGroupRequest {
                group_id: GroupId("left".into()),
                members: vec![MemberIdentity {
                    member_id: j.member_id.clone(),
                    ..MemberIdentity::default()
                }],
                ..LeaveGroupRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    let left_at = strata_server::broker::now_ms();
    let mut m = Client::connect(&b).await;
    let j = join_new(&mut m, "live").await;
    let s = sync(&mut m, "live", &j.member_id, j.generation_id, &[]).await;
    assert_eq!(s.error_code, 0);
    assert_eq!(
        commit(
            &mut m,
            8,
            "live",
            &j.member_id,
            j.generation_id,
            &[("t", 2, 30, "")]
        )
        .await,
        vec![0]
    );

    let groups = &b.broker().groups;
    // Not yet: one second short of the retention of the oldest.
    let none = groups
        .expire_offsets(b.broker(), committed_at + RETENTION_MS - 1_000)
        .await;
    assert_eq!((none.offsets, none.groups), (0, 0));
    assert_eq!(list_group_ids(&mut c).await, ["left", "live", "simple"]);

    // Past it: the simple commit and the empty group's offset go, and with
    // them both groups; the live group keeps its offset.
    let gone = groups
        .expire_offsets(b.broker(), left_at.max(committed_at) + RETENTION_MS + 1_000)
        .await;
    assert_eq!((gone.offsets, gone.groups), (2, 2));
    assert_eq!(list_group_ids(&mut c).await, ["live"]);
    assert_eq!(fetch_offsets(&mut c, "simple", "t", &[0]).await[0].1, -1);
    assert_eq!(fetch_offsets(&mut c, "left", "t", &[1]).await[0].1, -1);
    assert_eq!(fetch_offsets(&mut c, "live", "t", &[2]).await[0].1, 30);

    // Their tombstones are durable: a restart does not bring them back.
    b.restart().await;
    let mut c = Client::connect(&b).await;
    assert_eq!(fetch_offsets(&mut c, "simple", "t", &[0]).await[0].1, -1);
    assert_eq!(fetch_offsets(&mut c, "left", "t", &[1]).await[0].1, -1);
    assert_eq!(fetch_offsets(&mut c, "live", "t", &[2]).await[0].1, 30);
    assert_eq!(list_group_ids(&mut c).await, ["live"]);
}

#[tokio::test]
async fn a_grown_offsets_partition_is_compacted_and_keeps_every_latest_offset() {
    use strata_server::coordinator::{OFFSETS_TOPIC, partition_for};
    use strata_storage::checkpoint::TopicPartition;

    let mut b = start(SETTINGS).await;
    let mut c = Client::connect(&b).await;
    assert_eq!(create_topic(&mut c, "t", 50).await.topics[0].error_code, 0);
    // 40 rounds of commits of 50 partitions: 2,000 records, 50 live.
    let commits = |round: i64| -> Vec<(&'static str, i32, i64, &'static str)> {
        (0..50)
            .map(|p| ("t", p, round * 1_000 + i64::from(p), ""))
            .collect()
    };
    for round in 0..40 {
        let codes = commit(&mut c, 8, "big", "", -1, &commits(round)).await;
        assert!(codes.iter().all(|&e| e == 0), "{codes:?}");
    }
    // A deleted group leaves tombstones that compaction drops too.
    assert_eq!(
        commit(&mut c, 8, "gone", "", -1, &[("t", 0, 1, "")]).await,
        vec![0]
    );
    let Response::DeleteGroups(r) = c
        .call(
            2,
            Request::DeleteGroups(DeleteGroupsRequest {
                groups_names: vec![GroupId("gone".into())],
                ..DeleteGroupsRequest::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.results[0].error_code, 0);

    let p = partition_for("big", 5);
    let tp = TopicPartition::new(OFFSETS_TOPIC, p);
    // What the timer does every 10 s once a partition is mostly superseded
    // records; forced here (the timer may have compacted some of it
    // already if this machine is slow).
    let broker = b.broker().clone();
    let big = tokio::task::spawn_blocking(move || {
        broker.groups.compact_partition_blocking(&broker, 5, p)
    })
    .await
    .unwrap()
    .unwrap()
    .expect("every group on the partition is settled");
    assert!(big.records_before >= 50, "{big:?}");
    assert_eq!(big.live, 50, "the latest offset of each partition");
    let broker = b.broker().clone();
    let again =
        tokio::task::spawn_blocking(move || broker.groups.compact_offsets_blocking(&broker))
            .await
            .unwrap();
    assert!(
        again.iter().all(|c| c.partition != p),
        "50 live records of 50 are not worth rewriting: {again:?}"
    );
    let log = b.broker().logs.partition(&tp).unwrap();
    assert_eq!(log.with_log(|l| l.log_start_offset()), big.log_start);
    assert_eq!(
        log.with_log(|l| l.log_end_offset() - l.log_start_offset()),
        50
    );
    let segment_files = std::fs::read_dir(b.dir.path().join(format!("{OFFSETS_TOPIC}-{p}")))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count();
    assert_eq!(segment_files, 1, "the old segments are deleted");

    let latest: Vec<i64> = (0..50).map(|p| 39_000 + p).collect();
    let fetched = fetch_offsets(&mut c, "big", "t", &(0..50).collect::<Vec<_>>()).await;
    assert_eq!(fetched.iter().map(|f| f.1).collect::<Vec<_>>(), latest);

    // Commits go on after it, and a restart replays the copy and them.
    assert_eq!(
        commit(&mut c, 8, "big", "", -1, &[("t", 7, 99_999, "after")]).await,
        vec![0]
    );
    b.restart().await;
    let mut c = Client::connect(&b).await;
    let fetched = fetch_offsets(&mut c, "big", "t", &(0..50).collect::<Vec<_>>()).await;
    let mut expected = latest;
    expected[7] = 99_999;
    assert_eq!(fetched.iter().map(|f| f.1).collect::<Vec<_>>(), expected);
    assert_eq!(fetched[7].3, "after");
    assert_eq!(fetch_offsets(&mut c, "gone", "t", &[0]).await[0].1, -1);
    assert_eq!(list_group_ids(&mut c).await, ["big"]);
}

#[tokio::test]
async fn list_groups_tells_classic_and_consumer_groups_apart() {
    let b = start(SETTINGS).await;
    let mut c = Client::connect(&b).await;
    assert_eq!(create_topic(&mut c, "t", 2).await.topics[0].error_code, 0);
    assert_eq!(
        commit(&mut c, 8, "classic-g", "", -1, &[("t", 0, 1, "")]).await,
        vec![0]
    );
    let r = consumer_heartbeat(&mut c, "consumer-g", "m1", 0, Some(&["t"]), Some(vec![])).await;
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);

    let list = |types: Vec<&str>| {
        Request::ListGroups(ListGroupsRequest {
            types_filter: types.into_iter().map(String::from).collect(),
            ..ListGroupsRequest::default()
        })
    };
    let Response::ListGroups(all) = c.call(5, list(vec![])).await else {
        panic!()
    };
    let mut seen: Vec<(String, String, String)> = all
        .groups
        .iter()
        .map(|g| {
            (
                g.group_id.0.clone(),
                g.group_type.clone(),
                g.protocol_type.clone(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("classic-g".into(), "classic".into(), String::new()),
            ("consumer-g".into(), "consumer".into(), "consumer".into()),
        ]
    );
    let consumer = all
        .groups
        .iter()
        .find(|g| g.group_id.0 == "consumer-g")
        .unwrap();
    assert_ne!(consumer.group_state, "Empty", "it has a member");
    let Response::ListGroups(only) = c.call(5, list(vec!["Consumer"])).await else {
        panic!()
    };
    let ids: Vec<&str> = only.groups.iter().map(|g| g.group_id.0.as_str()).collect();
    assert_eq!(ids, ["consumer-g"]);
}
