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
//! Not yet: fetch sessions (KIP-227). Every answer carries session id 0, which
//! tells a client to send full fetches; a request naming a session gets
//! FETCH_SESSION_ID_NOT_FOUND.

use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_protocol::messages::fetch::response::{FetchableTopicResponse, PartitionData};
use strata_protocol::messages::{FetchRequest, FetchResponse};
use strata_protocol::types::{TopicName, Uuid};
use strata_storage::checkpoint::TopicPartition;

use crate::broker::Broker;
use crate::error_code::{ErrorCode, storage_error_code};

struct Wanted {
    topic: usize,
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

/// One pass over the partitions: what is there now, and its size.
fn read_pass(
    broker: &Broker,
    wanted: &[Wanted],
    max_bytes: i32,
    read_committed: bool,
) -> (Vec<PartitionData>, usize) {
    let mut total = 0usize;
    let mut out = Vec::with_capacity(wanted.len());
    for w in wanted {
        let Some(name) = &w.name else {
            out.push(partition_error(w.partition, ErrorCode::UnknownTopicId));
            continue;
        };
        let tp = TopicPartition::new(name.clone(), w.partition);
        let Some(partition) = broker.logs.partition(&tp) else {
            out.push(partition_error(
                w.partition,
                ErrorCode::UnknownTopicOrPartition,
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
        let data = match result.and_then(|r| {
            let records = match &r.region {
                Some(region) => region.read_to_bytes()?,
                None => bytes::Bytes::new(),
            };
            Ok((r, records))
        }) {
            Ok((r, records)) => {
                total += records.len();
                PartitionData {
                    partition_index: w.partition,
                    error_code: ErrorCode::None.code(),
                    high_watermark: hw,
                    last_stable_offset: hw,
                    log_start_offset: r.log_start_offset,
                    aborted_transactions: if read_committed { Some(vec![]) } else { None },
                    preferred_read_replica: strata_protocol::types::BrokerId(-1),
                    records: Some(records),
                    ..PartitionData::default()
                }
            }
            Err(e) => {
                let (log_start, end) =
                    partition.with_log(|l| (l.log_start_offset(), l.high_watermark()));
                PartitionData {
                    high_watermark: end,
                    last_stable_offset: end,
                    log_start_offset: log_start,
                    ..partition_error(w.partition, storage_error_code(&e))
                }
            }
        };
        out.push(data);
    }
    (out, total)
}

pub async fn handle(broker: &Arc<Broker>, version: i16, request: FetchRequest) -> FetchResponse {
    if request.session_id != 0 {
        return FetchResponse {
            error_code: ErrorCode::FetchSessionIdNotFound.code(),
            session_id: 0,
            ..FetchResponse::default()
        };
    }
    let by_id = version >= 13;
    let mut topics: Vec<(TopicName, Uuid)> = Vec::new();
    let mut wanted = Vec::new();
    for topic in &request.topics {
        let name = if by_id {
            broker
                .metadata()
                .topic_by_id(&topic.topic_id)
                .map(|t| t.name.clone())
        } else {
            Some(topic.topic.0.clone())
        };
        let index = topics.len();
        topics.push((topic.topic.clone(), topic.topic_id));
        for p in &topic.partitions {
            wanted.push(Wanted {
                topic: index,
                name: name.clone(),
                partition: p.partition,
                offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes,
            });
        }
    }
    let read_committed = request.isolation_level == 1;
    let deadline = Instant::now() + Duration::from_millis(request.max_wait_ms.max(0) as u64);
    // Subscribe before the first read so no append between them is missed.
    let mut watches: Vec<_> = wanted
        .iter()
        .filter_map(|w| {
            let name = w.name.as_ref()?;
            broker
                .logs
                .partition(&TopicPartition::new(name.clone(), w.partition))
        })
        .map(|p| p.subscribe_high_watermark())
        .collect();
    let wanted = Arc::new(wanted);
    let (partitions, _) = loop {
        // Forget what was seen before this read, so only a later move wakes us.
        for w in &mut watches {
            w.mark_unchanged();
        }
        let b = broker.clone();
        let w = wanted.clone();
        let max_bytes = request.max_bytes;
        let (partitions, total) =
            tokio::task::spawn_blocking(move || read_pass(&b, &w, max_bytes, read_committed))
                .await
                .unwrap_or_else(|_| (Vec::new(), 0));
        let errors = partitions.iter().any(|p| p.error_code != 0);
        let now = Instant::now();
        if total >= request.min_bytes.max(0) as usize
            || errors
            || now >= deadline
            || watches.is_empty()
        {
            break (partitions, total);
        }
        let changed =
            futures_util::future::select_all(watches.iter_mut().map(|w| Box::pin(w.changed())));
        if tokio::time::timeout(deadline - now, changed).await.is_err() {
            // One last look: data may have come with the deadline.
            continue;
        }
    };
    let mut responses: Vec<FetchableTopicResponse> = topics
        .into_iter()
        .map(|(topic, topic_id)| FetchableTopicResponse {
            topic,
            topic_id,
            partitions: Vec::new(),
            ..FetchableTopicResponse::default()
        })
        .collect();
    for (w, data) in wanted.iter().zip(partitions) {
        responses[w.topic].partitions.push(data);
    }
    FetchResponse {
        error_code: ErrorCode::None.code(),
        session_id: 0,
        responses,
        ..FetchResponse::default()
    }
}
