//! DescribeLogDirs (key 35), versions 1..=5.
//!
//! The one data directory, by absolute path, with each asked partition's
//! size (the sum of its segment files), offset_lag 0 (there are no future
//! replicas moving between directories), is_future false, and the file
//! system's total and usable bytes (v4+; -1 where statvfs is unavailable).
//! `topics` null asks for every partition. As in Kafka, every topic of the
//! directory is listed and only its asked partitions are in it, so a topic
//! nothing was asked of comes with an empty partition list.
//!
//! KAFKA_STORAGE_ERROR (on the directory): the directory went offline
//! after a write or fsync failed; nothing else is reported for it.
//! Not yet: several data directories (Strata uses one), is_cordoned.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use strata_protocol::messages::describe_log_dirs::response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use strata_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse};
use strata_protocol::types::TopicName;

use crate::broker::Broker;
use crate::error_code::ErrorCode;

/// Total and usable bytes of the file system holding `dir`, as Java's
/// `FileStore` reports them (blocks and blocks available to non-root).
#[cfg(unix)]
fn space(dir: &Path) -> (i64, i64) {
    match rustix::fs::statvfs(dir) {
        Ok(s) => {
            let bytes =
                |blocks: u64| i64::try_from(blocks.saturating_mul(s.f_frsize)).unwrap_or(i64::MAX);
            (bytes(s.f_blocks), bytes(s.f_bavail))
        }
        Err(e) => {
            tracing::debug!(dir = %dir.display(), error = %e, "statvfs failed");
            (-1, -1)
        }
    }
}

#[cfg(not(unix))]
fn space(_dir: &Path) -> (i64, i64) {
    (-1, -1)
}

fn describe(broker: &Broker, wanted: Option<HashSet<(String, i32)>>) -> DescribeLogDirsResult {
    let dir = broker.logs.dir();
    let log_dir = std::path::absolute(dir)
        .unwrap_or_else(|_| dir.to_owned())
        .display()
        .to_string();
    if broker.logs.is_offline() {
        return DescribeLogDirsResult {
            error_code: ErrorCode::KafkaStorageError.code(),
            log_dir,
            ..DescribeLogDirsResult::default()
        };
    }
    let mut topics: BTreeMap<String, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
    for p in broker.logs.partitions() {
        let entry = topics.entry(p.tp.topic.clone()).or_default();
        let asked = wanted
            .as_ref()
            .is_none_or(|w| w.contains(&(p.tp.topic.clone(), p.tp.partition)));
        if asked {
            entry.push(DescribeLogDirsPartition {
                partition_index: p.tp.partition,
                partition_size: i64::try_from(p.with_log(|l| l.size())).unwrap_or(i64::MAX),
                offset_lag: 0,
                is_future_key: false,
                ..DescribeLogDirsPartition::default()
            });
        }
    }
    let (total_bytes, usable_bytes) = space(dir);
    DescribeLogDirsResult {
        error_code: ErrorCode::None.code(),
        log_dir,
        topics: topics
            .into_iter()
            .map(|(name, mut partitions)| {
                partitions.sort_by_key(|p| p.partition_index);
                DescribeLogDirsTopic {
                    name: TopicName(name),
                    partitions,
                    ..DescribeLogDirsTopic::default()
                }
            })
            .collect(),
        total_bytes,
        usable_bytes,
        is_cordoned: false,
        ..DescribeLogDirsResult::default()
    }
}

pub async fn handle(
    broker: &Arc<Broker>,
    _version: i16,
    request: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    let wanted = request.topics.map(|topics| {
        topics
            .into_iter()
            .flat_map(|t| {
                let name = t.topic.0;
                t.partitions.into_iter().map(move |p| (name.clone(), p))
            })
            .collect::<HashSet<_>>()
    });
    let b = broker.clone();
    let result = tokio::task::spawn_blocking(move || describe(&b, wanted))
        .await
        .unwrap_or_else(|_| DescribeLogDirsResult {
            error_code: ErrorCode::UnknownServerError.code(),
            ..DescribeLogDirsResult::default()
        });
    DescribeLogDirsResponse {
        error_code: ErrorCode::None.code(),
        results: vec![result],
        ..DescribeLogDirsResponse::default()
    }
}
