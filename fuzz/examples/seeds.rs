//! Writes seed corpora for every fuzz target into `fuzz/corpus/<target>/`:
//! proptest-generated requests and responses of every API at every version,
//! the captured client frames under `protocol/tests/vectors/`, and batches
//! built with each codec.
//!
//! Run from the repository root or from `fuzz/`:
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds`.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::{Buf, Bytes, BytesMut};
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use strata_fuzz::selector;
use strata_protocol::frame;
use strata_protocol::messages::*;
use strata_protocol::records::compression::compress;
use strata_protocol::records::{
    self, Compression, EndTransactionMarker, Header, RecordBatchBuilder,
};

/// Values generated per API and version and direction.
const PER_VERSION: usize = 2;

macro_rules! apis {
    ($($api:ident => $req:ident, $resp:ident;)*) => {
        fn request_strategy(api: ApiKey, version: i16) -> BoxedStrategy<Request> {
            match api {
                $(ApiKey::$api => $req::arbitrary(version).prop_map(Request::$api).boxed(),)*
            }
        }

        fn response_strategy(api: ApiKey, version: i16) -> BoxedStrategy<Response> {
            match api {
                $(ApiKey::$api => $resp::arbitrary(version).prop_map(Response::$api).boxed(),)*
            }
        }
    };
}

apis! {
    Produce => ProduceRequest, ProduceResponse;
    Fetch => FetchRequest, FetchResponse;
    ListOffsets => ListOffsetsRequest, ListOffsetsResponse;
    Metadata => MetadataRequest, MetadataResponse;
    OffsetCommit => OffsetCommitRequest, OffsetCommitResponse;
    OffsetFetch => OffsetFetchRequest, OffsetFetchResponse;
    FindCoordinator => FindCoordinatorRequest, FindCoordinatorResponse;
    JoinGroup => JoinGroupRequest, JoinGroupResponse;
    Heartbeat => HeartbeatRequest, HeartbeatResponse;
    LeaveGroup => LeaveGroupRequest, LeaveGroupResponse;
    SyncGroup => SyncGroupRequest, SyncGroupResponse;
    DescribeGroups => DescribeGroupsRequest, DescribeGroupsResponse;
    ListGroups => ListGroupsRequest, ListGroupsResponse;
    SaslHandshake => SaslHandshakeRequest, SaslHandshakeResponse;
    ApiVersions => ApiVersionsRequest, ApiVersionsResponse;
    CreateTopics => CreateTopicsRequest, CreateTopicsResponse;
    DeleteTopics => DeleteTopicsRequest, DeleteTopicsResponse;
    DeleteRecords => DeleteRecordsRequest, DeleteRecordsResponse;
    InitProducerId => InitProducerIdRequest, InitProducerIdResponse;
    OffsetForLeaderEpoch => OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse;
    AddPartitionsToTxn => AddPartitionsToTxnRequest, AddPartitionsToTxnResponse;
    AddOffsetsToTxn => AddOffsetsToTxnRequest, AddOffsetsToTxnResponse;
    EndTxn => EndTxnRequest, EndTxnResponse;
    WriteTxnMarkers => WriteTxnMarkersRequest, WriteTxnMarkersResponse;
    TxnOffsetCommit => TxnOffsetCommitRequest, TxnOffsetCommitResponse;
    DescribeAcls => DescribeAclsRequest, DescribeAclsResponse;
    CreateAcls => CreateAclsRequest, CreateAclsResponse;
    DeleteAcls => DeleteAclsRequest, DeleteAclsResponse;
    DescribeConfigs => DescribeConfigsRequest, DescribeConfigsResponse;
    AlterConfigs => AlterConfigsRequest, AlterConfigsResponse;
    AlterReplicaLogDirs => AlterReplicaLogDirsRequest, AlterReplicaLogDirsResponse;
    DescribeLogDirs => DescribeLogDirsRequest, DescribeLogDirsResponse;
    SaslAuthenticate => SaslAuthenticateRequest, SaslAuthenticateResponse;
    CreatePartitions => CreatePartitionsRequest, CreatePartitionsResponse;
    CreateDelegationToken => CreateDelegationTokenRequest, CreateDelegationTokenResponse;
    RenewDelegationToken => RenewDelegationTokenRequest, RenewDelegationTokenResponse;
    ExpireDelegationToken => ExpireDelegationTokenRequest, ExpireDelegationTokenResponse;
    DescribeDelegationToken => DescribeDelegationTokenRequest, DescribeDelegationTokenResponse;
    DeleteGroups => DeleteGroupsRequest, DeleteGroupsResponse;
    ElectLeaders => ElectLeadersRequest, ElectLeadersResponse;
    IncrementalAlterConfigs => IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse;
    AlterPartitionReassignments => AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse;
    ListPartitionReassignments => ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse;
    OffsetDelete => OffsetDeleteRequest, OffsetDeleteResponse;
    DescribeClientQuotas => DescribeClientQuotasRequest, DescribeClientQuotasResponse;
    AlterClientQuotas => AlterClientQuotasRequest, AlterClientQuotasResponse;
    DescribeUserScramCredentials => DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse;
    AlterUserScramCredentials => AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse;
    DescribeQuorum => DescribeQuorumRequest, DescribeQuorumResponse;
    UpdateFeatures => UpdateFeaturesRequest, UpdateFeaturesResponse;
    DescribeCluster => DescribeClusterRequest, DescribeClusterResponse;
    DescribeProducers => DescribeProducersRequest, DescribeProducersResponse;
    UnregisterBroker => UnregisterBrokerRequest, UnregisterBrokerResponse;
    DescribeTransactions => DescribeTransactionsRequest, DescribeTransactionsResponse;
    ListTransactions => ListTransactionsRequest, ListTransactionsResponse;
    ConsumerGroupHeartbeat => ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse;
    ConsumerGroupDescribe => ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse;
    GetTelemetrySubscriptions => GetTelemetrySubscriptionsRequest, GetTelemetrySubscriptionsResponse;
    PushTelemetry => PushTelemetryRequest, PushTelemetryResponse;
    ListConfigResources => ListConfigResourcesRequest, ListConfigResourcesResponse;
    DescribeTopicPartitions => DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse;
    ShareGroupHeartbeat => ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse;
    ShareGroupDescribe => ShareGroupDescribeRequest, ShareGroupDescribeResponse;
    ShareFetch => ShareFetchRequest, ShareFetchResponse;
    ShareAcknowledge => ShareAcknowledgeRequest, ShareAcknowledgeResponse;
    AddRaftVoter => AddRaftVoterRequest, AddRaftVoterResponse;
    RemoveRaftVoter => RemoveRaftVoterRequest, RemoveRaftVoterResponse;
    InitializeShareGroupState => InitializeShareGroupStateRequest, InitializeShareGroupStateResponse;
    ReadShareGroupState => ReadShareGroupStateRequest, ReadShareGroupStateResponse;
    WriteShareGroupState => WriteShareGroupStateRequest, WriteShareGroupStateResponse;
    DeleteShareGroupState => DeleteShareGroupStateRequest, DeleteShareGroupStateResponse;
    ReadShareGroupStateSummary => ReadShareGroupStateSummaryRequest, ReadShareGroupStateSummaryResponse;
    StreamsGroupHeartbeat => StreamsGroupHeartbeatRequest, StreamsGroupHeartbeatResponse;
    StreamsGroupDescribe => StreamsGroupDescribeRequest, StreamsGroupDescribeResponse;
    DescribeShareGroupOffsets => DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse;
    AlterShareGroupOffsets => AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse;
    DeleteShareGroupOffsets => DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse;
    StreamsGroupTopologyDescriptionUpdate => StreamsGroupTopologyDescriptionUpdateRequest, StreamsGroupTopologyDescriptionUpdateResponse;
    UnregisterController => UnregisterControllerRequest, UnregisterControllerResponse;
}

fn main() {
    let fuzz_dir = if Path::new("fuzz_targets").is_dir() {
        PathBuf::from(".")
    } else {
        PathBuf::from("fuzz")
    };
    let vectors = fuzz_dir.join("../protocol/tests/vectors");
    let mut seeds = Seeds::new(fuzz_dir.join("corpus"));

    messages(&mut seeds);
    captured(&mut seeds, &vectors);
    batches(&mut seeds);
    codecs(&mut seeds);

    for (target, count) in &seeds.counts {
        println!("{count:5} seeds in corpus/{target}");
    }
}

struct Seeds {
    root: PathBuf,
    counts: Vec<(&'static str, usize)>,
}

impl Seeds {
    fn new(root: PathBuf) -> Self {
        Seeds {
            root,
            counts: Vec::new(),
        }
    }

    fn add(&mut self, target: &'static str, name: &str, data: &[u8]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).expect("create corpus directory");
        fs::write(dir.join(format!("seed-{name}")), data).expect("write seed");
        match self.counts.iter_mut().find(|(t, _)| *t == target) {
            Some((_, count)) => *count += 1,
            None => self.counts.push((target, 1)),
        }
    }
}

fn without_prefix(frame: BytesMut) -> Bytes {
    let mut frame = frame.freeze();
    frame.advance(frame::SIZE_PREFIX_LEN);
    frame
}

fn with_selector(api: ApiKey, version: i16, body: &[u8]) -> Vec<u8> {
    let mut out = selector(api, version).to_vec();
    out.extend_from_slice(body);
    out
}

/// Random values of every request and response at every version.
fn messages(seeds: &mut Seeds) {
    let mut runner = TestRunner::deterministic();
    for &api in ApiKey::ALL {
        let (min, max) = api.versions();
        for version in min..=max {
            for n in 0..PER_VERSION {
                let name = format!("{}-v{version}-{n}", api.name());
                let request = request_strategy(api, version)
                    .new_tree(&mut runner)
                    .expect("request strategy")
                    .current();
                let header = RequestHeader {
                    request_api_key: api.key(),
                    request_api_version: version,
                    correlation_id: n as i32,
                    client_id: Some("seed".into()),
                    unknown_tagged_fields: Vec::new(),
                };
                match frame::encode_request(&header, &request) {
                    Ok(encoded) => {
                        let encoded = without_prefix(encoded);
                        seeds.add("request", &name, &encoded);
                        let mut body = BytesMut::new();
                        request
                            .encode(&mut body, version)
                            .expect("encoded once already");
                        seeds.add("request_by_key", &name, &with_selector(api, version, &body));
                    }
                    Err(e) => eprintln!("skipped request {name}: {e}"),
                }

                let response = response_strategy(api, version)
                    .new_tree(&mut runner)
                    .expect("response strategy")
                    .current();
                match frame::encode_response(n as i32, version, &response) {
                    Ok(encoded) => {
                        let encoded = without_prefix(encoded);
                        seeds.add("response", &name, &with_selector(api, version, &encoded));
                    }
                    Err(e) => eprintln!("skipped response {name}: {e}"),
                }
            }
        }
    }
}

/// Frames captured from real clients (`protocol/tests/vectors/<client>/
/// <Api>-v<version>-<n>.{req,resp}.bin`, size prefix removed), and the
/// record sets inside their Produce requests and Fetch responses.
fn captured(seeds: &mut Seeds, vectors: &Path) {
    let Ok(clients) = fs::read_dir(vectors) else {
        eprintln!("no vectors at {}", vectors.display());
        return;
    };
    for client in clients.flatten() {
        let Ok(files) = fs::read_dir(client.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let client_name = client.file_name().to_string_lossy().into_owned();
            let name = format!("{client_name}-{file_name}");
            let Ok(data) = fs::read(&path) else {
                continue;
            };
            if let Some(stem) = file_name.strip_suffix(".req.bin") {
                seeds.add("request", &name, &data);
                if let Some((api, version)) = parse_stem(stem)
                    && let Ok((_, request)) = frame::decode_request(Bytes::from(data.clone()))
                {
                    let mut body = BytesMut::new();
                    if request.encode(&mut body, version).is_ok() {
                        seeds.add("request_by_key", &name, &with_selector(api, version, &body));
                    }
                    if let Request::Produce(produce) = &request {
                        for (i, records) in produce
                            .topic_data
                            .iter()
                            .flat_map(|t| &t.partition_data)
                            .filter_map(|p| p.records.as_ref())
                            .enumerate()
                        {
                            seeds.add("record_batch", &format!("{name}-{i}"), records);
                        }
                    }
                }
            } else if let Some(stem) = file_name.strip_suffix(".resp.bin") {
                let Some((api, version)) = parse_stem(stem) else {
                    continue;
                };
                seeds.add("response", &name, &with_selector(api, version, &data));
                if let Ok((_, Response::Fetch(fetch))) =
                    frame::decode_response(api, version, Bytes::from(data))
                {
                    for (i, records) in fetch
                        .responses
                        .iter()
                        .flat_map(|t| &t.partitions)
                        .filter_map(|p| p.records.as_ref())
                        .filter(|r| !r.is_empty())
                        .enumerate()
                    {
                        seeds.add("record_batch", &format!("{name}-{i}"), records);
                    }
                }
            }
        }
    }
}

/// `Produce-v13-0` -> (Produce, 13).
fn parse_stem(stem: &str) -> Option<(ApiKey, i16)> {
    let (api_name, rest) = stem.split_once("-v")?;
    let version = rest.split('-').next()?.parse().ok()?;
    let api = ApiKey::ALL.iter().copied().find(|a| a.name() == api_name)?;
    Some((api, version))
}

/// Batches with each codec, a record set of several, and a control batch.
fn batches(seeds: &mut Seeds) {
    let mut set = BytesMut::new();
    for codec in Compression::ALL {
        let mut builder = RecordBatchBuilder::new(codec)
            .base_offset(set.len() as i64)
            .producer(1_000, 0, 0);
        for i in 0..5u8 {
            let key = (i % 2 == 0).then(|| Bytes::from(vec![b'k', i]));
            let value = Bytes::from(vec![i; 20 + usize::from(i) * 10]);
            let headers = vec![Header::new("h", Some(Bytes::from_static(b"v")))];
            builder
                .append(1_700_000_000_000 + i64::from(i), key, Some(value), headers)
                .expect("append");
        }
        let batch = builder.build().expect("build").into_bytes();
        seeds.add("record_batch", &format!("batch-{codec}"), &batch);
        set.extend_from_slice(&batch);

        // Build mode of compressed_batch: a codec, then whatever.
        let mut described = vec![0x80, codec.id()];
        described.extend_from_slice(&batch[..]);
        seeds.add("compressed_batch", &format!("build-{codec}"), &described);
    }
    seeds.add("record_batch", "set-all-codecs", &set);
    let marker = EndTransactionMarker::commit(3)
        .build_batch(42, 0, 1_000, 0, 1_700_000_000_000)
        .map(records::RecordBatch::into_bytes);
    match marker {
        Ok(marker) => seeds.add("record_batch", "control-commit", &marker),
        Err(e) => eprintln!("skipped control batch: {e}"),
    }
}

/// Payloads of every codec, for the decompress mode of compressed_batch.
fn codecs(seeds: &mut Seeds) {
    let text: Vec<u8> = (0..3_000u32).flat_map(|i| (i % 97).to_be_bytes()).collect();
    for codec in Compression::ALL {
        for (label, data) in [
            ("empty", &[][..]),
            ("small", b"hello, strata"),
            ("text", &text),
        ] {
            let packed = compress(codec, data).expect("compress");
            let mut seed = vec![codec.id()];
            seed.extend_from_slice(&packed);
            seeds.add("compressed_batch", &format!("{codec}-{label}"), &seed);
        }
    }
    // A raw snappy block, as librdkafka writes it.
    let raw = snap::raw::Encoder::new()
        .compress_vec(&text)
        .expect("snappy");
    let mut seed = vec![Compression::Snappy.id()];
    seed.extend_from_slice(&raw);
    seeds.add("compressed_batch", "snappy-raw-block", &seed);
}
