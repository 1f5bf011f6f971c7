//! Record sets and batches as the produce path, recovery and a consumer read
//! them: split the input into batches, check each header and CRC, edit the
//! header as a leader does on append, read every record with a 1 MiB
//! decompression limit, and rebuild a batch whose records all read back.
//! Nothing may panic; a rebuilt batch must hold the same records.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use strata_protocol::records::{
    self, EndTransactionMarker, RecordBatch, RecordBatchBuilder, RecordBatchMut, RecordsError,
    TimestampType,
};

const DECOMPRESSION_LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let set = Bytes::copy_from_slice(data);
    let mut batches = records::batches(set.clone());
    let mut end = 0;
    for batch in &mut batches {
        let Ok(batch) = batch else {
            break;
        };
        end += batch.size_in_bytes();
        check_batch(&batch);
    }
    assert_eq!(
        batches.position(),
        end,
        "position is where the good batches end"
    );
    assert!(end <= data.len());

    // The whole input as exactly one batch, as storage reads one back.
    if let Ok(batch) = RecordBatch::new(set) {
        check_batch(&batch);
    }
});

fn check_batch(batch: &RecordBatch) {
    let header = *batch.header();
    assert_eq!(header.size_in_bytes(), batch.size_in_bytes());
    let _ = (
        header.last_offset(),
        header.next_offset(),
        header.delete_horizon_ms(),
        header.timestamp_type(),
        header.partition_leader_epoch(),
    );
    let crc_ok = batch.verify_crc().is_ok();
    assert_eq!(crc_ok, batch.computed_crc() == header.crc());

    if batch.is_control() {
        let _ = EndTransactionMarker::from_batch(batch);
    }
    check_header_edits(batch, crc_ok);

    // Records are read whatever the CRC says, so that the fuzzer reaches
    // the record decoder without having to forge CRC-32C.
    let Ok(iter) = batch.records(DECOMPRESSION_LIMIT) else {
        return;
    };
    let mut read = Vec::new();
    for record in iter {
        let Ok(record) = record else {
            return;
        };
        assert!(record.offset_delta >= 0 && record.offset_delta <= header.last_offset_delta());
        let _ = (batch.offset_of(&record), batch.timestamp_of(&record));
        for h in &record.headers {
            let _ = h.key_str();
        }
        read.push(record);
    }
    assert_eq!(Ok(read.len()), usize::try_from(header.records_count()));
    check_rebuild(batch, read);
}

/// The edits a leader makes on append keep the batch readable, and keep a
/// good CRC good.
fn check_header_edits(batch: &RecordBatch, crc_ok: bool) {
    let mut copy = batch.as_bytes().to_vec();
    let mut edit = RecordBatchMut::new(&mut copy).expect("a RecordBatch is a valid RecordBatchMut");
    edit.set_base_offset(1_000);
    edit.set_partition_leader_epoch(7);
    edit.set_max_timestamp_log_append_time(1_700_000_000_000);
    let edited = RecordBatch::new(Bytes::from(copy)).expect("an edited batch parses");
    assert_eq!(edited.base_offset(), 1_000);
    assert_eq!(edited.header().partition_leader_epoch(), 7);
    assert_eq!(
        edited.header().timestamp_type(),
        TimestampType::LogAppendTime
    );
    assert_eq!(edited.header().max_timestamp(), 1_700_000_000_000);
    assert_eq!(edited.records_count(), batch.records_count());
    if crc_ok {
        edited
            .verify_crc()
            .expect("header edits keep a good CRC good");
    }
}

/// Builds the records again with the batch's codec and header fields; they
/// must read back unchanged.
fn check_rebuild(batch: &RecordBatch, read: Vec<records::Record>) {
    let h = batch.header();
    let mut builder = RecordBatchBuilder::new(h.compression())
        .base_offset(h.base_offset())
        .partition_leader_epoch(h.partition_leader_epoch())
        .producer(h.producer_id(), h.producer_epoch(), h.base_sequence())
        .transactional(h.is_transactional())
        .control(h.is_control())
        .base_timestamp(h.base_timestamp());
    if h.timestamp_type() == TimestampType::LogAppendTime {
        builder = builder.log_append_time(h.max_timestamp());
    }
    if h.has_delete_horizon() {
        builder = builder.delete_horizon_ms(h.base_timestamp());
    }
    for record in &read {
        builder.push(record.clone());
    }
    let rebuilt = match builder.build() {
        Ok(rebuilt) => rebuilt,
        // base timestamp plus a delta past i64: readable, not writable.
        Err(RecordsError::TooLarge { .. }) => return,
        Err(e) => panic!("records that read back do not build: {e}"),
    };
    rebuilt.verify_crc().expect("a built batch has a good CRC");
    assert_eq!(rebuilt.base_offset(), h.base_offset());
    assert_eq!(rebuilt.compression(), h.compression());
    assert_eq!(rebuilt.records_count(), h.records_count());
    let again: Vec<_> = rebuilt
        .records(usize::MAX)
        .expect("a built batch decompresses")
        .collect::<Result<_, _>>()
        .expect("a built batch reads back");
    assert_eq!(again, read);
}
