//! Injected I/O faults under a running broker (storage's `FaultyFs`): what
//! a client sees when an fsync or a write fails or the disk fills, and that
//! nothing acknowledged is lost.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use strata_protocol::messages::*;
use strata_storage::fs::{Faults, FaultyFs};

use common::*;

const KAFKA_STORAGE_ERROR: i16 = 56;

async fn produce_code(c: &mut Client, value: &str) -> i16 {
    let r = produce(c, "t", 0, batch(&[value]), -1).await.unwrap();
    r.responses[0].partition_responses[0].error_code
}

/// Every value in partition 0 of `t`, read from the start.
async fn all_values(c: &mut Client) -> (i16, Vec<String>) {
    let mut values = Vec::new();
    loop {
        let Response::Fetch(f) = c
            .call(12, fetch_request("t", 0, values.len() as i64, 0, 0))
            .await
        else {
            panic!("not a Fetch response")
        };
        let part = &f.responses[0].partitions[0];
        if part.error_code != 0 {
            return (part.error_code, values);
        }
        let more = values_of(part.records.as_ref().unwrap());
        if more.is_empty() {
            return (0, values);
        }
        values.extend(more);
    }
}

/// Acknowledged produces, then `break_disk`: produces and fetches answer
/// KAFKA_STORAGE_ERROR and keep doing so once the disk is healthy again
/// (a dir that failed stays offline: an fsync error cannot be retried
/// safely). After a restart on the real file system every acknowledged
/// record is there, in order.
async fn fault_takes_the_dir_offline(break_disk: impl Fn(&Faults), heal: impl Fn(&Faults)) {
    let fs = FaultyFs::new();
    let mut b = start_on(&[], Arc::new(fs.clone())).await;
    let mut c = Client::connect(&b).await;
    assert_eq!(create_topic(&mut c, "t", 1).await.topics[0].error_code, 0);
    let acked: Vec<String> = (0..5).map(|i| format!("acked-{i}")).collect();
    for v in &acked {
        assert_eq!(produce_code(&mut c, v).await, 0);
    }

    break_disk(&fs.faults);
    assert_eq!(produce_code(&mut c, "lost-1").await, KAFKA_STORAGE_ERROR);
    heal(&fs.faults);
    assert_eq!(
        produce_code(&mut c, "lost-2").await,
        KAFKA_STORAGE_ERROR,
        "offline stays offline"
    );
    assert_eq!(all_values(&mut c).await.0, KAFKA_STORAGE_ERROR);
    // The broker itself still answers.
    let Response::ApiVersions(v) = c
        .call(3, Request::ApiVersions(ApiVersionsRequest::default()))
        .await
    else {
        panic!()
    };
    assert_eq!(v.error_code, 0);

    b.tolerate_failed_shutdown = true;
    b.restart().await;
    let mut c = Client::connect(&b).await;
    let (code, values) = all_values(&mut c).await;
    assert_eq!(code, 0);
    // A record whose write reached the page cache before the fault may
    // survive; it was never acknowledged, so it may only follow them.
    assert_eq!(values[..acked.len()], acked[..]);
    assert!(values[acked.len()..].iter().all(|v| v == "lost-1"));
    assert_eq!(produce_code(&mut c, "after").await, 0);
}

#[tokio::test]
async fn a_failed_fsync_answers_kafka_storage_error_and_loses_nothing_acknowledged() {
    fault_takes_the_dir_offline(
        |f| f.fail_sync.store(true, Ordering::SeqCst),
        |f| f.fail_sync.store(false, Ordering::SeqCst),
    )
    .await;
}

#[tokio::test]
async fn a_failed_write_answers_kafka_storage_error_and_loses_nothing_acknowledged() {
    fault_takes_the_dir_offline(
        |f| f.fail_write.store(true, Ordering::SeqCst),
        |f| f.fail_write.store(false, Ordering::SeqCst),
    )
    .await;
}

#[tokio::test]
async fn a_full_disk_refuses_produces_and_takes_them_again_once_space_is_back() {
    let fs = FaultyFs::new();
    let mut b = start_on(&[], Arc::new(fs.clone())).await;
    let mut c = Client::connect(&b).await;
    assert_eq!(create_topic(&mut c, "t", 1).await.topics[0].error_code, 0);
    assert_eq!(produce_code(&mut c, "a").await, 0);

    fs.faults.space_left.store(20, Ordering::SeqCst);
    assert_eq!(produce_code(&mut c, "refused").await, KAFKA_STORAGE_ERROR);
    assert_eq!(
        all_values(&mut c).await,
        (0, vec!["a".to_owned()]),
        "reads go on while the disk is full"
    );

    fs.faults.space_left.store(u64::MAX, Ordering::SeqCst);
    assert_eq!(produce_code(&mut c, "b").await, 0, "no restart needed");
    assert_eq!(all_values(&mut c).await, (0, vec!["a".into(), "b".into()]));

    b.restart().await;
    let mut c = Client::connect(&b).await;
    assert_eq!(all_values(&mut c).await, (0, vec!["a".into(), "b".into()]));
}
