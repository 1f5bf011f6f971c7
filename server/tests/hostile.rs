//! What a broken or hostile client sends: the broker answers or closes that
//! one connection, stays up, and serves everyone else.

mod common;

use bytes::{BufMut, BytesMut};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::*;
use strata_protocol::messages::*;

/// Sends `bytes` on a fresh connection and reports whether the broker
/// closed it within two seconds (rather than answering or waiting).
async fn closes(b: &TestBroker, bytes: &[u8]) -> bool {
    let mut s = TcpStream::connect(b.addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut buf = [0u8; 4096];
    matches!(
        tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

async fn still_serves(b: &TestBroker) {
    let mut c = Client::connect(b).await;
    let Response::ApiVersions(r) = c
        .call(3, Request::ApiVersions(ApiVersionsRequest::default()))
        .await
    else {
        panic!("not ApiVersions")
    };
    assert_eq!(r.error_code, 0);
}

fn header(api_key: i16, version: i16) -> BytesMut {
    let mut h = BytesMut::new();
    h.put_i16(api_key);
    h.put_i16(version);
    h.put_i32(7);
    h.put_i16(-1); // null client id
    h
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as i32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

#[tokio::test]
async fn lying_sizes_truncated_frames_and_garbage_close_only_their_connection() {
    let b = start(&[("socket.request.max.bytes", "1048576")]).await;
    // Negative, huge, and larger-than-sent sizes.
    assert!(closes(&b, &(-5i32).to_be_bytes()).await, "negative size");
    assert!(closes(&b, &i32::MAX.to_be_bytes()).await, "2 GiB claimed");
    assert!(
        closes(&b, &(2i32 << 20).to_be_bytes()).await,
        "over socket.request.max.bytes"
    );
    // A size larger than the data, then the client goes quiet: the broker
    // waits for the rest (that is TCP), and keeps serving others meanwhile.
    let mut waiting = TcpStream::connect(b.addr).await.unwrap();
    waiting.write_all(&[0, 0, 0, 100, 0, 18]).await.unwrap();
    still_serves(&b).await;
    drop(waiting);
    // A frame too short for a request header.
    assert!(closes(&b, &framed(&[0, 18, 0])).await, "truncated header");
    // Random bytes.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20 {
        let mut junk = Vec::new();
        for _ in 0..64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            junk.push(x as u8);
        }
        // Random bytes framed correctly: a header naming junk.
        let _ = closes(&b, &framed(&junk)).await;
    }
    still_serves(&b).await;
}

#[tokio::test]
async fn valid_headers_with_garbage_bodies_and_lying_arrays_are_refused() {
    let b = start(&[]).await;
    // Metadata v12 whose topic array claims 2^31 entries.
    let mut body = header(3, 12);
    body.put_u8(0); // header tagged fields
    body.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x07]);
    assert!(
        closes(&b, &framed(&body)).await,
        "array longer than the frame"
    );
    // CreateTopics v7 with a name whose length runs past the frame.
    let mut body = header(19, 7);
    body.put_u8(0);
    body.put_u8(2); // one topic
    body.put_slice(&[0xff, 0x7f]); // name length 16383 + 1
    body.put_slice(b"abc");
    assert!(
        closes(&b, &framed(&body)).await,
        "string longer than the frame"
    );
    // Produce v9 with a records field that is not a record batch.
    let mut body = header(0, 9);
    body.put_u8(0);
    body.put_u8(0); // null transactional id
    body.put_i16(-1);
    body.put_i32(1000);
    body.put_u8(2); // one topic
    body.put_u8(2);
    body.put_slice(b"t");
    body.put_u8(2); // one partition
    body.put_i32(0);
    body.put_u8(5); // 4 bytes of records
    body.put_slice(b"junk");
    body.put_u8(0);
    body.put_u8(0);
    body.put_u8(0);
    let mut s = TcpStream::connect(b.addr).await.unwrap();
    s.write_all(&framed(&body)).await.unwrap();
    // Either a per-partition error or a closed connection; never a crash.
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
    still_serves(&b).await;
}

#[tokio::test]
async fn unknown_apis_and_versions_close_the_connection_and_requests_need_no_api_versions_first() {
    let b = start(&[]).await;
    assert!(
        closes(&b, &framed(&header(9999, 0))).await,
        "unknown API key"
    );
    assert!(
        closes(&b, &framed(&header(3, 99))).await,
        "unknown Metadata version"
    );
    assert!(
        closes(&b, &framed(&header(0, 1))).await,
        "Produce v1, refused as in Kafka 4"
    );
    // A client may skip ApiVersions (kafka-python's older versions do).
    let mut c = Client::connect(&b).await;
    let Response::Metadata(m) = c
        .call(12, Request::Metadata(MetadataRequest::default()))
        .await
    else {
        panic!()
    };
    assert_eq!(m.brokers.len(), 1);
}

#[tokio::test]
async fn a_client_sending_one_byte_at_a_time_is_served_and_blocks_no_one() {
    let b = start(&[]).await;
    let header = RequestHeader {
        request_api_key: ApiKey::ApiVersions.key(),
        request_api_version: 3,
        correlation_id: 5,
        client_id: Some("slow".into()),
        ..RequestHeader::default()
    };
    let frame = strata_protocol::frame::encode_request(
        &header,
        &Request::ApiVersions(ApiVersionsRequest::default()),
    )
    .unwrap();
    let mut slow = TcpStream::connect(b.addr).await.unwrap();
    for byte in frame.iter() {
        slow.write_all(&[*byte]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        if *byte == frame[6] {
            still_serves(&b).await;
        }
    }
    let mut size = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), slow.read_exact(&mut size))
        .await
        .unwrap()
        .unwrap();
    assert!(
        i32::from_be_bytes(size) > 0,
        "answered once the whole frame arrived"
    );
}

#[tokio::test]
async fn a_thousand_idle_connections_do_not_stop_service() {
    let b = start(&[]).await;
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(TcpStream::connect(b.addr).await.unwrap());
    }
    still_serves(&b).await;
    drop(idle);
    still_serves(&b).await;
}

#[tokio::test]
async fn max_connections_per_ip_closes_the_extra_ones() {
    let b = start(&[("max.connections.per.ip", "3")]).await;
    let mut kept = Vec::new();
    for _ in 0..3 {
        let mut c = Client::connect(&b).await;
        let Response::ApiVersions(_) = c
            .call(3, Request::ApiVersions(ApiVersionsRequest::default()))
            .await
        else {
            panic!()
        };
        kept.push(c);
    }
    assert!(
        closes(&b, &framed(&header(18, 0))).await,
        "a fourth connection is closed at once"
    );
    drop(kept.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    still_serves(&b).await;
}

/// An ApiVersions v0 request of exactly `size` bytes (the client id fills it).
fn api_versions_of_size(size: usize, correlation_id: i32) -> Vec<u8> {
    let mut h = BytesMut::new();
    h.put_i16(18);
    h.put_i16(0);
    h.put_i32(correlation_id);
    let id_len = size - 10;
    h.put_i16(id_len as i16);
    h.put_slice(&vec![b'x'; id_len]);
    framed(&h)
}

#[tokio::test]
async fn queued_max_request_bytes_bounds_what_all_connections_buffer() {
    let b = start(&[("queued.max.request.bytes", "1000")]).await;
    let first = api_versions_of_size(800, 1);
    let second = api_versions_of_size(800, 2);
    let mut a = TcpStream::connect(b.addr).await.unwrap();
    let mut c = TcpStream::connect(b.addr).await.unwrap();
    // A announces 800 bytes and sends half: it holds 800 of the 1000.
    a.write_all(&first[..400]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // C's whole 800-byte request must wait: only 200 bytes are free.
    c.write_all(&second).await.unwrap();
    let mut size = [0u8; 4];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), c.read_exact(&mut size))
            .await
            .is_err(),
        "C is not read while A holds the memory"
    );
    a.write_all(&first[400..]).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), a.read_exact(&mut size))
        .await
        .unwrap()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut size))
        .await
        .unwrap()
        .unwrap();
    assert!(
        i32::from_be_bytes(size) > 0,
        "C is answered once A's request is done"
    );
}
