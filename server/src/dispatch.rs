//! Which APIs this broker answers, at which versions, and the hand-off from
//! a decoded request to its handler.

use std::sync::Arc;

use strata_protocol::messages::{ApiKey, Request, RequestHeader, Response};

use crate::broker::Broker;
use crate::handlers;

/// `(api, min, max)`: the versions handled for real. ApiVersions advertises
/// exactly these (see `advertised_min` for Produce).
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 13),
    (ApiKey::Fetch, 4, 18),
    (ApiKey::ListOffsets, 1, 10),
    (ApiKey::Metadata, 0, 13),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    // v6 is marked unstable in the 4.4.0 specs.
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::DescribeLogDirs, 1, 5),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::DescribeCluster, 0, 2),
    // Consumer groups, classic protocol (coordinator/).
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::OffsetCommit, 2, 10),
    (ApiKey::OffsetFetch, 1, 10),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::DescribeGroups, 0, 6),
    (ApiKey::DeleteGroups, 0, 3),
    // Consumer groups, consumer protocol (KIP-848; coordinator/consumer*.rs):
    // both versions are stable in the 4.4.0 specs.
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
];

/// Kafka 4 advertises Produce from v0 although it refuses v0-2, because
/// librdkafka disables compression when the minimum is higher (KAFKA-18659).
pub fn advertised_min(api: ApiKey, min: i16) -> i16 {
    if api == ApiKey::Produce { 0 } else { min }
}

pub fn is_supported(api_key: i16, version: i16) -> bool {
    SUPPORTED
        .iter()
        .any(|&(api, min, max)| api.key() == api_key && (min..=max).contains(&version))
}

/// What to do with a request.
#[derive(Debug)]
pub enum Outcome {
    Respond(Box<Response>),
    /// A Fetch answer whose record sets are these file regions, in order
    /// (sent with `sendfile`, see `zero_copy`).
    RespondWithRegions(Box<Response>, Vec<strata_storage::segment::FileRegion>),
    /// acks=0 produce: nothing goes back.
    NoResponse,
    /// acks=0 produce that failed: Kafka closes the connection, the only way
    /// such a producer learns of an error.
    Close,
}

/// A Produce request with acks 1 or -1 whose appends are queued: its
/// answer comes when they are acknowledged.
pub type PendingProduce = std::pin::Pin<Box<dyn Future<Output = Response> + Send>>;

/// What became of a Produce request handed to storage.
pub enum Submitted {
    /// The answer, when every append is acknowledged.
    Pending(PendingProduce),
    /// Nothing to wait for (acks=0): `NoResponse` or `Close`.
    Done(Outcome),
}

impl std::fmt::Debug for Submitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Submitted::Pending(_) => f.write_str("Pending"),
            Submitted::Done(outcome) => f.debug_tuple("Done").field(outcome).finish(),
        }
    }
}

/// Produce, split in two: the appends are on their storage threads' queues
/// (in request order) when this returns, so the connection can read its
/// next request while they wait for the disk.
pub async fn submit_produce(
    broker: &Arc<Broker>,
    version: i16,
    request: strata_protocol::messages::ProduceRequest,
) -> Submitted {
    match handlers::produce::submit(broker, version, request).await {
        handlers::produce::Submitted::Waiting(acks) => {
            Submitted::Pending(Box::pin(
                async move { Response::Produce(acks.response().await) },
            ))
        }
        handlers::produce::Submitted::Nothing => Submitted::Done(Outcome::NoResponse),
        handlers::produce::Submitted::CloseConnection => Submitted::Done(Outcome::Close),
    }
}

/// `peer` is the client's address, as group descriptions show it.
pub async fn dispatch(
    broker: &Arc<Broker>,
    header: &RequestHeader,
    request: Request,
    peer: std::net::SocketAddr,
) -> Outcome {
    // Kafka shows a member's host as "/" and its IP address.
    let client_host = format!("/{}", peer.ip());
    let v = header.request_api_version;
    let response = match request {
        Request::ApiVersions(_) => Response::ApiVersions(handlers::api_versions::handle()),
        Request::Metadata(r) => Response::Metadata(handlers::metadata::handle(broker, v, r).await),
        Request::Produce(r) => match handlers::produce::handle(broker, v, r).await {
            handlers::produce::Answer::Respond(response) => Response::Produce(response),
            handlers::produce::Answer::Nothing => return Outcome::NoResponse,
            handlers::produce::Answer::CloseConnection => return Outcome::Close,
        },
        Request::Fetch(r) => {
            let (response, regions) = handlers::fetch::handle(broker, v, r).await;
            return Outcome::RespondWithRegions(Box::new(Response::Fetch(response)), regions);
        }
        Request::ListOffsets(r) => {
            Response::ListOffsets(handlers::list_offsets::handle(broker, v, r).await)
        }
        Request::CreateTopics(r) => {
            Response::CreateTopics(handlers::create_topics::handle(broker, v, r).await)
        }
        Request::DeleteTopics(r) => {
            Response::DeleteTopics(handlers::delete_topics::handle(broker, v, r).await)
        }
        Request::InitProducerId(r) => {
            Response::InitProducerId(handlers::init_producer_id::handle(broker, v, r).await)
        }
        Request::DeleteRecords(r) => {
            Response::DeleteRecords(handlers::delete_records::handle(broker, v, r).await)
        }
        Request::OffsetForLeaderEpoch(r) => Response::OffsetForLeaderEpoch(
            handlers::offset_for_leader_epoch::handle(broker, v, r).await,
        ),
        Request::DescribeConfigs(r) => {
            Response::DescribeConfigs(handlers::describe_configs::handle(broker, v, r).await)
        }
        Request::AlterConfigs(r) => {
            Response::AlterConfigs(handlers::alter_configs::handle(broker, v, r).await)
        }
        Request::DescribeLogDirs(r) => {
            Response::DescribeLogDirs(handlers::describe_log_dirs::handle(broker, v, r).await)
        }
        Request::CreatePartitions(r) => {
            Response::CreatePartitions(handlers::create_partitions::handle(broker, v, r).await)
        }
        Request::IncrementalAlterConfigs(r) => Response::IncrementalAlterConfigs(
            handlers::incremental_alter_configs::handle(broker, v, r).await,
        ),
        Request::DescribeCluster(r) => {
            Response::DescribeCluster(handlers::describe_cluster::handle(broker, v, r).await)
        }
        Request::FindCoordinator(r) => {
            Response::FindCoordinator(handlers::find_coordinator::handle(broker, v, r).await)
        }
        Request::JoinGroup(r) => Response::JoinGroup(
            handlers::join_group::handle(broker, v, header.client_id.clone(), client_host, r).await,
        ),
        Request::SyncGroup(r) => {
            Response::SyncGroup(handlers::sync_group::handle(broker, v, r).await)
        }
        Request::Heartbeat(r) => {
            Response::Heartbeat(handlers::heartbeat::handle(broker, v, r).await)
        }
        Request::LeaveGroup(r) => {
            Response::LeaveGroup(handlers::leave_group::handle(broker, v, r).await)
        }
        Request::OffsetCommit(r) => {
            Response::OffsetCommit(handlers::offset_commit::handle(broker, v, r).await)
        }
        Request::OffsetFetch(r) => {
            Response::OffsetFetch(handlers::offset_fetch::handle(broker, v, r).await)
        }
        Request::OffsetDelete(r) => {
            Response::OffsetDelete(handlers::offset_delete::handle(broker, v, r).await)
        }
        Request::ListGroups(r) => {
            Response::ListGroups(handlers::list_groups::handle(broker, v, r).await)
        }
        Request::DescribeGroups(r) => {
            Response::DescribeGroups(handlers::describe_groups::handle(broker, v, r).await)
        }
        Request::DeleteGroups(r) => {
            Response::DeleteGroups(handlers::delete_groups::handle(broker, v, r).await)
        }
        Request::ConsumerGroupHeartbeat(r) => Response::ConsumerGroupHeartbeat(
            handlers::consumer_group_heartbeat::handle(
                broker,
                v,
                header.client_id.clone(),
                client_host,
                r,
            )
            .await,
        ),
        Request::ConsumerGroupDescribe(r) => Response::ConsumerGroupDescribe(
            handlers::consumer_group_describe::handle(broker, v, r).await,
        ),
        // `net` refuses every API outside SUPPORTED before decoding it.
        other => unreachable_api(other.api_key()),
    };
    Outcome::Respond(Box::new(response))
}

fn unreachable_api(api: ApiKey) -> Response {
    // Keeping the connection alive with an answer in the right shape is not
    // possible for an API we do not handle; net checks SUPPORTED first, so
    // this only runs if the two lists drift apart. Say so loudly.
    tracing::error!(
        api = api.name(),
        "request for an API outside SUPPORTED reached dispatch"
    );
    Response::ApiVersions(handlers::api_versions::unsupported())
}
