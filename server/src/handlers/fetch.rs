//! Fetch (key 1), versions 4..=18.
//!
//! Long-polling: when less than `min_bytes` is there, the request waits on
//! the high watermarks of the partitions it asked for until enough arrives
//! or `max_wait_ms` passes. Every batch returned starts at or before the
//! asked offset (the whole batch holding it) and lies below the high
//! watermark. An empty partition carries a zero-length record set, never a
//! null one (librdkafka rejects the whole response otherwise).
//! `max_bytes` bounds the response, except that the first partition with
//! data always gets at least one whole batch, so a consumer makes progress.
//! OFFSET_OUT_OF_RANGE (with the log start and high watermark),
//! UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID (v13+ names topics by id),
//! KAFKA_STORAGE_ERROR.
//! Fetch sessions (KIP-227, see `fetch_session`): FETCH_SESSION_ID_NOT_FOUND,
//! INVALID_FETCH_SESSION_EPOCH; an incremental answer carries only the
//! partitions with new data, an error, or a moved high watermark or log
//! start. Topics appear in the answer in the order they were asked for.
//! Record sets go out as file regions, sent with `sendfile` (`zero_copy`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_protocol::messages::fetch::response::{FetchableTopicResponse, PartitionData};
use strata_protocol::messages::{FetchRequest, FetchResponse};
use strata_protocol::types::{TopicName, Uuid};
use strata_storage::checkpoint::TopicPartition;

use crate::broker::Broker;
use crate::error_code::{ErrorCode, storage_error_code};
use crate::fetch_session::{CachedPartition, SessionPartition, SessionRequest};
use crate::zero_copy::MARKER;
use strata_storage::segment::FileRegion;

struct Wanted {
    name: Option<String>,
    partition: i32,
    offset: i64,
    max_bytes: i32,
}

fn partition_error(index: i32, code: ErrorCode) -> PartitionData {
    PartitionData {
        partition_index: index,
        error_code: code.code(),
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        records: Some(bytes::Bytes::new()),
        ..PartitionData::default()
    }
}

/// One pass over the partitions: what is there now (records as file
/// regions, sent later without copying), and its size.
fn read_pass(
    broker: &Broker,
    wanted: &[Wanted],
    max_bytes: i32,
    read_committed: bool,
) -> (Vec<(PartitionData, Option<FileRegion>)>, usize) {
    let mut total = 0usize;
    let mut out = Vec::with_capacity(wanted.len());
    for w in wanted {
        let Some(name) = &w.name else {
            out.push((
                partition_error(w.partition, ErrorCode::UnknownTopicId),
                None,
            ));
            continue;
        };
        let tp = TopicPartition::new(name.clone(), w.partition);
        let Some(partition) = broker.logs.partition(&tp) else {
            out.push((
                partition_error(w.partition, ErrorCode::UnknownTopicOrPartition),
                None,
            ));
            continue;
        };
        let hw = partition.high_watermark();
        let budget = (max_bytes as i64 - total as i64).max(0) as u64;
        let limit = (w.max_bytes.max(0) as u64).min(if total == 0 { u64::MAX } else { budget });
        let result = if limit == 0 && total > 0 {
            // The response is full: later partitions wait for the next fetch.
            partition.with_log(|log| log.read(w.offset, 0, w.offset))
        } else {
            broker.logs.read(&tp, w.offset, limit.max(1), hw)
        };
        let entry = match result {
            Ok(r) => {
                total += r.region.as_ref().map_or(0, |region| region.length as usize);
                let records = match &r.region {
                    Some(_) => bytes::Bytes::from_static(&MARKER),
                    None => bytes::Bytes::new(),
                };
                let data = PartitionData {
                    partition_index: w.partition,
                    error_code: ErrorCode::None.code(),
                    high_watermark: hw,
                    last_stable_offset: hw,
                    log_start_offset: r.log_start_offset,
                    aborted_transactions: if read_committed { Some(vec![]) } else { None },
                    preferred_read_replica: strata_protocol::types::BrokerId(-1),
                    records: Some(records),
                    ..PartitionData::default()
                };
                (data, r.region)
            }
            Err(e) => {
                let (log_start, end) =
                    partition.with_log(|l| (l.log_start_offset(), l.high_watermark()));
                let data = PartitionData {
                    high_watermark: end,
                    last_stable_offset: end,
                    log_start_offset: log_start,
                    ..partition_error(w.partition, storage_error_code(&e))
                };
                (data, None)
            }
        };
        out.push(entry);
    }
    (out, total)
}

/// The response, and the file regions that hold its record sets, in the
/// order the response names them.
pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    request: FetchRequest,
) -> (FetchResponse, Vec<FileRegion>) {
    let by_id = version >= 13;
    let resolve = |name: &TopicName, id: &Uuid| -> String {
        if by_id {
            broker
                .metadata()
                .topic_by_id(id)
                .map(|t| t.name.clone())
                .unwrap_or_default()
        } else {
            name.0.clone()
        }
    };
    let mut requested: Vec<(SessionPartition, CachedPartition)> = Vec::new();
    for topic in &request.topics {
        let name = resolve(&topic.topic, &topic.topic_id);
        for p in &topic.partitions {
            requested.push((
                SessionPartition {
                    topic: name.clone(),
                    topic_id: if by_id { topic.topic_id } else { Uuid::ZERO },
                    partition: p.partition,
                },
                CachedPartition {
                    fetch_offset: p.fetch_offset,
                    max_bytes: p.partition_max_bytes,
                    high_watermark: -1,
                    log_start_offset: -1,
                },
            ));
        }
    }
    let forgotten: Vec<SessionPartition> = request
        .forgotten_topics_data
        .iter()
        .flat_map(|t| {
            let name = resolve(&t.topic, &t.topic_id);
            let topic_id = if by_id { t.topic_id } else { Uuid::ZERO };
            t.partitions.iter().map(move |&partition| SessionPartition {
                topic: name.clone(),
                topic_id,
                partition,
            })
        })
        .collect();

    // Which partitions this fetch covers, and what the client was last told.
    let (session_id, incremental, partitions) = {
        let mut cache = broker.fetch_sessions();
        match cache.begin(request.session_id, request.session_epoch, &requested) {
            SessionRequest::Full { session_id } => (session_id, false, requested),
            SessionRequest::Incremental { session_id } => {
                let Some(session) = cache.session_mut(session_id) else {
                    return (session_error(ErrorCode::FetchSessionIdNotFound), Vec::new());
                };
                for (key, update) in requested {
                    let entry = session.partitions.entry(key).or_insert(update);
                    entry.fetch_offset = update.fetch_offset;
                    entry.max_bytes = update.max_bytes;
                }
                for key in &forgotten {
                    session.partitions.remove(key);
                }
                let all = session
                    .partitions
                    .iter()
                    .map(|(k, v)| (k.clone(), *v))
                    .collect();
                (session_id, true, all)
            }
            SessionRequest::NotFound => {
                return (session_error(ErrorCode::FetchSessionIdNotFound), Vec::new());
            }
            SessionRequest::InvalidEpoch => {
                return (
                    session_error(ErrorCode::InvalidFetchSessionEpoch),
                    Vec::new(),
                );
            }
        }
    };

    let wanted: Vec<Wanted> = partitions
        .iter()
        .map(|(key, cached)| Wanted {
            name: (!key.topic.is_empty()).then(|| key.topic.clone()),
            partition: key.partition,
            offset: cached.fetch_offset,
            max_bytes: cached.max_bytes,
        })
        .collect();
    let read_committed = request.isolation_level == 1;
    let deadline = Instant::now() + Duration::from_millis(request.max_wait_ms.max(0) as u64);
    // Subscribe before the first read so no append between them is missed.
    let watched: Vec<_> = wanted
        .iter()
        .filter_map(|w| {
            let name = w.name.as_ref()?;
            broker
                .logs
                .partition(&TopicPartition::new(name.clone(), w.partition))
                .map(|p| (w.offset, p))
        })
        .collect();
    let mut watches: Vec<_> = watched
        .iter()
        .map(|(_, p)| p.subscribe_high_watermark())
        .collect();
    // A consumer at the high watermark of every partition it asks for has
    // nothing to read yet: it waits without a read pass on the blocking pool
    // (two thread hand-offs, on every fetch of a consumer that keeps up).
    let every_partition_known = !watched.is_empty() && watched.len() == wanted.len();
    let at_high_watermark = || {
        every_partition_known
            && request.min_bytes > 0
            && !broker.logs.is_offline()
            && watched
                .iter()
                .all(|(offset, p)| *offset == p.high_watermark())
    };
    let wanted = Arc::new(wanted);
    let data = loop {
        // Forget what was seen before this read, so only a later move wakes us.
        for w in &mut watches {
            w.mark_unchanged();
        }
        let now = Instant::now();
        if now >= deadline || !at_high_watermark() {
            let b = broker.clone();
            let w = wanted.clone();
            let max_bytes = request.max_bytes;
            let (data, total) =
                tokio::task::spawn_blocking(move || read_pass(&b, &w, max_bytes, read_committed))
                    .await
                    .unwrap_or_else(|_| (Vec::new(), 0));
            let errors = data.iter().any(|(p, _)| p.error_code != 0);
            if total >= request.min_bytes.max(0) as usize
                || errors
                || Instant::now() >= deadline
                || watches.is_empty()
            {
                break data;
            }
        }
        let now = Instant::now();
        let changed =
            futures_util::future::select_all(watches.iter_mut().map(|w| Box::pin(w.changed())));
        if tokio::time::timeout(deadline - now, changed).await.is_err() {
            // One last look: data may have come with the deadline.
            continue;
        }
    };

    // An incremental answer carries only what changed since the last one.
    let mut responses: Vec<FetchableTopicResponse> = Vec::new();
    let mut cache = broker.fetch_sessions();
    let mut session = if session_id != 0 {
        cache.session_mut(session_id)
    } else {
        None
    };
    let mut regions = Vec::new();
    for ((key, cached), (pd, region)) in partitions.into_iter().zip(data) {
        let changed = pd.error_code != 0
            || pd.records.as_ref().is_some_and(|r| !r.is_empty())
            || pd.high_watermark != cached.high_watermark
            || pd.log_start_offset != cached.log_start_offset;
        if incremental && !changed {
            continue;
        }
        if let Some(entry) = session.as_mut().and_then(|s| s.partitions.get_mut(&key)) {
            entry.high_watermark = pd.high_watermark;
            entry.log_start_offset = pd.log_start_offset;
        }
        let same_topic = responses.last().is_some_and(|t| {
            if by_id {
                t.topic_id == key.topic_id
            } else {
                t.topic.0 == key.topic
            }
        });
        if !same_topic {
            responses.push(FetchableTopicResponse {
                topic: TopicName(key.topic.clone()),
                topic_id: key.topic_id,
                partitions: Vec::new(),
                ..FetchableTopicResponse::default()
            });
        }
        if let Some(t) = responses.last_mut() {
            t.partitions.push(pd);
            regions.extend(region);
        }
    }
    let response = FetchResponse {
        error_code: ErrorCode::None.code(),
        session_id,
        responses,
        ..FetchResponse::default()
    };
    (response, regions)
}

fn session_error(code: ErrorCode) -> FetchResponse {
    FetchResponse {
        error_code: code.code(),
        session_id: 0,
        ..FetchResponse::default()
    }
}
