//! ConsumerGroupDescribe (key 69), versions 0..=1.
//!
//! Each consumer-protocol group with its state (Empty, Assigning,
//! Reconciling, Stable), group epoch, target assignment epoch, assignor,
//! and members: epochs, subscriptions, current and target assignments.
//! GROUP_ID_NOT_FOUND: no such group, or a classic group (Kafka's
//! messages; the Java admin client then falls back on DescribeGroups).
//! `include_authorized_operations` is answered with none (no ACLs).

use std::sync::Arc;

use strata_protocol::messages::consumer_group_describe::response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use strata_protocol::messages::{ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse};
use strata_protocol::types::TopicName;

use crate::broker::Broker;
use crate::coordinator::assignor;

/// KIP-1099 `MemberType`: a member using the consumer protocol.
const CONSUMER_MEMBER: i8 = 1;

fn assignment(broker: &Broker, a: &assignor::Assignment) -> Assignment {
    let metadata = broker.metadata();
    Assignment {
        topic_partitions: a
            .iter()
            .map(|(id, ps)| TopicPartitions {
                topic_id: *id,
                topic_name: TopicName(
                    metadata
                        .topic_by_id(id)
                        .map(|t| t.name.clone())
                        .unwrap_or_default(),
                ),
                partitions: ps.iter().copied().collect(),
                ..TopicPartitions::default()
            })
            .collect(),
        ..Assignment::default()
    }
}

pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    request: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let groups = request
        .group_ids
        .into_iter()
        .map(|id| match broker.groups.consumer_describe(&id.0) {
            Ok(g) => DescribedGroup {
                group_state: g.state().name().to_owned(),
                group_epoch: g.group_epoch(),
                assignment_epoch: g.assignment_epoch(),
                assignor_name: g.assignor().name().to_owned(),
                members: g
                    .members()
                    .map(|m| Member {
                        member_id: m.member_id.clone(),
                        instance_id: m.instance_id.clone(),
                        rack_id: m.rack_id.clone(),
                        member_epoch: m.member_epoch,
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        subscribed_topic_names: m
                            .subscribed_topic_names
                            .iter()
                            .map(|n| TopicName(n.clone()))
                            .collect(),
                        subscribed_topic_regex: None,
                        assignment: assignment(broker, &m.assigned),
                        target_assignment: assignment(broker, &g.target_of(&m.member_id)),
                        member_type: if version >= 1 { CONSUMER_MEMBER } else { -1 },
                        ..Member::default()
                    })
                    .collect(),
                group_id: id,
                ..DescribedGroup::default()
            },
            Err(r) => DescribedGroup {
                group_id: id,
                error_code: r.error.code(),
                error_message: Some(r.message),
                ..DescribedGroup::default()
            },
        })
        .collect();
    ConsumerGroupDescribeResponse {
        groups,
        ..ConsumerGroupDescribeResponse::default()
    }
}
