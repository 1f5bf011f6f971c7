//! Codec throughput: decoding a Produce request, encoding a Fetch response,
//! and reading the records of a batch, uncompressed and compressed.
//!
//! `cargo bench -p strata-benches --bench codec`; criterion prints MiB/s
//! (and records/s for the `records/*/count` rows).

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata_benches::workload;
use strata_protocol::frame;
use strata_protocol::messages::{ApiKey, Request};
use strata_protocol::records::{self, Compression};

const MIB: usize = 1 << 20;
/// Limit the bench passes when decompressing, as a broker would.
const DECOMPRESSION_LIMIT: usize = 16 * MIB;

/// Produce at the latest version with one 1 MiB uncompressed batch: the
/// decode alone (records stay a slice of the frame), and the decode plus
/// what the produce path does next (split batches, check each CRC).
fn produce_request(c: &mut Criterion) {
    let batch = workload::batch(Compression::None, MIB, 1_000).into_bytes();
    let frame = workload::produce_request_frame(batch);
    let mut group = c.benchmark_group("produce_request");
    group.throughput(Throughput::Bytes(frame.len() as u64));
    group.bench_function("decode", |b| {
        b.iter(|| frame::decode_request(black_box(frame.clone())).expect("decodes"))
    });
    group.bench_function("decode_verify_crc", |b| {
        b.iter(|| {
            let (_, request) = frame::decode_request(black_box(frame.clone())).expect("decodes");
            let Request::Produce(produce) = request else {
                unreachable!("a Produce frame")
            };
            for partition in produce.topic_data.iter().flat_map(|t| &t.partition_data) {
                let set = partition.records.clone().unwrap_or_default();
                for batch in records::batches(set) {
                    batch.expect("batch").verify_crc().expect("crc");
                }
            }
        })
    });
    group.finish();
}

/// Fetch at the latest version: 1 MiB of records over four partitions.
fn fetch_response(c: &mut Criterion) {
    let partitions: Vec<Bytes> = (0..4)
        .map(|_| workload::batch(Compression::None, MIB / 4, 1_000).into_bytes())
        .collect();
    let response = workload::fetch_response(partitions);
    let (_, version) = ApiKey::Fetch.versions();
    let size = frame::encode_response(1, version, &response)
        .expect("encodes")
        .len();
    let mut group = c.benchmark_group("fetch_response");
    group.throughput(Throughput::Bytes(size as u64));
    group.bench_function("encode", |b| {
        b.iter(|| frame::encode_response(1, version, black_box(&response)).expect("encodes"))
    });
    group.finish();
}

/// Reading every record of a 16 KiB batch of 100-byte values: in place
/// when uncompressed, after decompressing the whole section otherwise.
/// Throughput counts the decompressed records section, then records.
fn record_iteration(c: &mut Criterion) {
    let mut group = c.benchmark_group("records_16k");
    for codec in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let batch = workload::batch(codec, 16 * 1024, 100);
        let (bytes, count) = workload::uncompressed_size(&batch);
        let read_all = |batch: &records::RecordBatch| {
            let mut n = 0;
            for record in batch.records(DECOMPRESSION_LIMIT).expect("decompresses") {
                black_box(record.expect("record"));
                n += 1;
            }
            n
        };
        assert_eq!(read_all(&batch), count);
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(format!("{codec}/bytes"), |b| {
            b.iter(|| read_all(black_box(&batch)))
        });
        group.throughput(Throughput::Elements(count as u64));
        group.bench_function(format!("{codec}/count"), |b| {
            b.iter(|| read_all(black_box(&batch)))
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = codec;
    config = config();
    targets = produce_request, fetch_response, record_iteration
}
criterion_main!(codec);
