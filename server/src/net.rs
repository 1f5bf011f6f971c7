//! The network: accept connections, read size-prefixed frames, answer in
//! request order.
//!
//! Responses leave in request order. Kafka handles one request at a time
//! per connection; so do we, except Produce: a producer keeps several in
//! flight, and since an acks=all produce here waits for fdatasync, handling
//! them one at a time would cost a whole sync per request. Produce requests
//! are pipelined instead (see [`requests`]). A frame over `socket.request.max.bytes` is refused
//! from its size prefix alone, before anything is buffered. A malformed
//! frame, or an API or version we do not handle, closes that connection
//! only; an ApiVersions request at a version we do not know is answered
//! with UNSUPPORTED_VERSION at v0, as clients expect.

use bytes::BytesMut;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, watch};

use strata_protocol::frame::{self, peek_request_prefix, split_frame};
use strata_protocol::messages::{ApiKey, Request, Response};

use crate::broker::Broker;
use crate::dispatch::{self, Outcome};
use crate::handlers;
use crate::zero_copy;

/// Accepts connections until `shutdown` turns true.
pub async fn serve(
    broker: Arc<Broker>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let per_ip: Arc<std::sync::Mutex<HashMap<IpAddr, usize>>> = Arc::default();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some(slot) = IpSlot::take(&per_ip, peer.ip(), broker.config.max_connections_per_ip) else {
                        tracing::warn!(%peer, "closing connection: max.connections.per.ip reached");
                        continue;
                    };
                    let broker = broker.clone();
                    let shutdown = shutdown.clone();
                    tokio::spawn(async move {
                        connection(broker, stream, peer, shutdown).await;
                        drop(slot);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => return,
        }
    }
}

/// One connection's place in the per-address count; freed when dropped.
struct IpSlot {
    counts: Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl IpSlot {
    fn take(
        counts: &Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>,
        ip: IpAddr,
        limit: usize,
    ) -> Option<IpSlot> {
        let mut map = counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            counts: counts.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Produce requests one connection may have waiting for the disk at once.
/// Kafka's producer keeps up to 5 in flight; librdkafka more.
pub const MAX_PENDING_PRODUCES: usize = 16;

/// A Produce request handed to storage, its response not yet written.
struct Pending {
    correlation_id: i32,
    version: i16,
    answer: dispatch::PendingProduce,
    /// Its share of queued.max.request.bytes, freed once answered.
    _memory: Option<OwnedSemaphorePermit>,
}

/// Why a connection stops reading requests.
enum End {
    /// Answer what is pending, then close (the client closed its side, or
    /// sent something we close on: what came before it is still answered,
    /// as when requests were handled one at a time).
    AfterPending,
    /// Close now (broker shutdown, or the socket failed).
    Now,
}

async fn connection(
    broker: Arc<Broker>,
    mut stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    set_buffer_sizes(&stream, &broker.config);
    let mut pending = VecDeque::new();
    let end = requests(&broker, &mut stream, peer, &mut shutdown, &mut pending).await;
    if let End::AfterPending = end {
        let _ = answer_all(&mut stream, &mut pending).await;
    }
}

/// Kafka's `socket.send.buffer.bytes` and `socket.receive.buffer.bytes`
/// (defaults and why: [`crate::config::BrokerConfig::socket_send_buffer`]).
/// A size set turns off the kernel's autotuning for that buffer.
fn set_buffer_sizes(stream: &TcpStream, config: &crate::config::BrokerConfig) {
    let socket = socket2::SockRef::from(stream);
    if let Some(n) = config.socket_send_buffer {
        if let Err(e) = socket.set_send_buffer_size(n) {
            tracing::debug!(error = %e, "socket.send.buffer.bytes not applied");
        }
    }
    if let Some(n) = config.socket_receive_buffer {
        if let Err(e) = socket.set_recv_buffer_size(n) {
            tracing::debug!(error = %e, "socket.receive.buffer.bytes not applied");
        }
    }
}

/// Reads and handles requests until the connection should end.
///
/// Produce requests are pipelined: each one's appends are queued on the
/// storage threads before the next request is read (so per-partition order,
/// and with it idempotence checks, are those of arrival), and up to
/// [`MAX_PENDING_PRODUCES`] wait for the disk together while their responses
/// leave in request order. Every other request waits until everything
/// before it is answered, then is handled alone, as Kafka does.
async fn requests(
    broker: &Arc<Broker>,
    stream: &mut TcpStream,
    peer: SocketAddr,
    shutdown: &mut watch::Receiver<bool>,
    pending: &mut VecDeque<Pending>,
) -> End {
    let limit = broker.config.socket_request_max_bytes;
    let mut received = BytesMut::with_capacity(READ_BUFFER_MIN);
    let mut last_frame = 0;
    loop {
        rewind(&mut received);
        // Held from the moment a frame's size is known until its request is
        // answered: queued.max.request.bytes bounds the request bytes all
        // connections hold at once (beyond each one's 64 KiB read buffer).
        let mut memory_permit: Option<OwnedSemaphorePermit> = None;
        let frame = loop {
            match split_frame(&mut received, limit) {
                Ok(Some(frame)) => {
                    // A frame that arrived whole in one read still waits for
                    // its share before it is handled.
                    if memory_permit.is_none() {
                        match reserve(broker, frame.len(), stream, pending).await {
                            Ok(permit) => memory_permit = permit,
                            Err(end) => return end,
                        }
                    }
                    last_frame = frame.len();
                    break frame;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "closing connection: bad frame");
                    return End::AfterPending;
                }
            }
            let size = frame::frame_size(&received, limit).ok();
            if let (None, Some(size)) = (&memory_permit, size) {
                match reserve(broker, size, stream, pending).await {
                    Ok(permit) => memory_permit = permit,
                    Err(end) => return end,
                }
            }
            make_room(&mut received, size, last_frame);
            let idle = broker.config.connections_max_idle;
            tokio::select! {
                // Answers first: they free memory and in-flight slots.
                biased;
                response = head_answer(pending), if !pending.is_empty() => {
                    if write_head(stream, pending, response).await.is_err() {
                        return End::Now;
                    }
                }
                read = tokio::time::timeout(idle, stream.read_buf(&mut received)) => match read {
                    Ok(Ok(0)) | Ok(Err(_)) => return End::AfterPending,
                    Ok(Ok(_)) => {}
                    Err(_) => {
                        tracing::debug!(%peer, "closing idle connection (connections.max.idle.ms)");
                        return End::Now;
                    }
                },
                // Between requests, a shutdown closes the connection.
                _ = shutdown.changed() => return End::Now,
            }
        };
        let prefix = match peek_request_prefix(&frame) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection: bad request header");
                return End::AfterPending;
            }
        };
        if !dispatch::is_supported(prefix.api_key, prefix.api_version) {
            if prefix.api_key == ApiKey::ApiVersions.key() {
                let body = Response::ApiVersions(handlers::api_versions::unsupported());
                if answer_all(stream, pending).await.is_err()
                    || write_response(stream, prefix.correlation_id, 0, &body)
                        .await
                        .is_err()
                {
                    return End::Now;
                }
                continue;
            }
            tracing::warn!(
                %peer,
                api_key = prefix.api_key,
                api_version = prefix.api_version,
                "closing connection: unsupported API or version"
            );
            return End::AfterPending;
        }
        let (header, request) = match frame::decode_request(frame.clone()) {
            Ok(decoded) => decoded,
            Err(e) => {
                tracing::debug!(%peer, frame = ?&frame[..frame.len().min(512)], "malformed request bytes");
                tracing::warn!(%peer, api_key = prefix.api_key, api_version = prefix.api_version, error = %e, "closing connection: malformed request");
                return End::AfterPending;
            }
        };
        let request = match request {
            Request::Produce(produce) => {
                // A free slot first, so the storage queues stay bounded too.
                while pending.len() >= MAX_PENDING_PRODUCES {
                    let response = head_answer(pending).await;
                    if write_head(stream, pending, response).await.is_err() {
                        return End::Now;
                    }
                }
                let version = header.request_api_version;
                match dispatch::submit_produce(broker, version, produce).await {
                    dispatch::Submitted::Pending(answer) => pending.push_back(Pending {
                        correlation_id: header.correlation_id,
                        version,
                        answer,
                        _memory: memory_permit,
                    }),
                    dispatch::Submitted::Done(Outcome::Close) => {
                        tracing::info!(%peer, "closing connection: an acks=0 produce failed");
                        return End::AfterPending;
                    }
                    // acks=0: nothing goes back.
                    dispatch::Submitted::Done(_) => {}
                }
                continue;
            }
            other => other,
        };
        // Anything else sees every earlier request answered.
        if answer_all(stream, pending).await.is_err() {
            return End::Now;
        }
        match dispatch::dispatch(broker, &header, request, peer).await {
            Outcome::Respond(body) => {
                if write_response(
                    stream,
                    header.correlation_id,
                    header.request_api_version,
                    &body,
                )
                .await
                .is_err()
                {
                    return End::Now;
                }
            }
            Outcome::RespondWithRegions(body, regions) => {
                let version = header.request_api_version;
                let compact = body
                    .api_key()
                    .response_flexible_from()
                    .is_some_and(|f| version >= f);
                let sent = match frame::encode_response(header.correlation_id, version, &body) {
                    Ok(encoded) => match zero_copy::splice(encoded, regions, compact) {
                        Ok(chunks) => zero_copy::write_chunks(stream, chunks).await,
                        Err(e) => Err(std::io::Error::other(e)),
                    },
                    Err(e) => Err(std::io::Error::other(e.to_string())),
                };
                if let Err(e) = sent {
                    tracing::warn!(%peer, error = %e, "closing connection: fetch response not sent");
                    return End::Now;
                }
            }
            Outcome::NoResponse => {}
            Outcome::Close => {
                tracing::info!(%peer, "closing connection: an acks=0 produce failed");
                return End::Now;
            }
        }
        // The request is answered: its bytes may go to another.
        drop(memory_permit);
    }
}

/// A connection's read buffer: at least this, ...
const READ_BUFFER_MIN: usize = 64 * 1024;
/// ...and at most this, unless one frame needs more.
const READ_BUFFER_MAX: usize = 1 << 20;
/// Free space below which a read is not worth making.
const READ_MIN: usize = 16 * 1024;

/// Makes room in `received` for the next read. Frames are cut from it
/// without copying and live on while their appends wait for the disk, so a
/// full buffer is replaced, not reused, and the partial frame at its end is
/// copied over. Sized for about eight frames like the last one, that copy
/// happens once per several frames instead of about once per frame (and
/// never copies the frames already cut, as growing the buffer in place
/// would).
fn make_room(received: &mut BytesMut, frame_size: Option<usize>, last_frame: usize) {
    let rest_of_frame = frame_size.map_or(0, |size| {
        (frame::SIZE_PREFIX_LEN + size).saturating_sub(received.len())
    });
    let spare = received.capacity() - received.len();
    if spare >= rest_of_frame.max(READ_MIN) {
        return;
    }
    let size = (8 * last_frame).clamp(READ_BUFFER_MIN, READ_BUFFER_MAX);
    let mut fresh = BytesMut::with_capacity(size.max(received.len() + rest_of_frame));
    fresh.extend_from_slice(received);
    *received = fresh;
}

/// Moves an emptied read buffer's write position back to the start of its
/// allocation when no frame cut from it is still alive. Each frame is split
/// off the front of the buffer, so without this the next read lands after
/// it and a connection walks through its whole buffer before `make_room`
/// replaces it: a few small requests a second make every connection's
/// buffer resident within minutes (64 MiB at 1,000 connections; found by
/// the soak). `try_reclaim` never allocates: while a pipelined produce
/// still holds a frame, the buffer is left as it is.
fn rewind(received: &mut BytesMut) {
    if received.is_empty() {
        let _ = received.try_reclaim(READ_BUFFER_MIN);
    }
}

/// This frame's share of queued.max.request.bytes (`None`: unbounded). When
/// none is free, this connection's own pending produces are answered first:
/// they may be what holds it.
async fn reserve(
    broker: &Broker,
    size: usize,
    stream: &mut TcpStream,
    pending: &mut VecDeque<Pending>,
) -> Result<Option<OwnedSemaphorePermit>, End> {
    let Some(memory) = &broker.request_memory else {
        return Ok(None);
    };
    let wanted = size.clamp(1, memory_capacity(broker)) as u32;
    if let Ok(permit) = memory.clone().try_acquire_many_owned(wanted) {
        return Ok(Some(permit));
    }
    if answer_all(stream, pending).await.is_err() {
        return Err(End::Now);
    }
    match memory.clone().acquire_many_owned(wanted).await {
        Ok(permit) => Ok(Some(permit)),
        Err(_) => Err(End::Now),
    }
}

/// Waits for the oldest pending produce's answer (cancel-safe: it stays
/// queued until written).
async fn head_answer(pending: &mut VecDeque<Pending>) -> Response {
    match pending.front_mut() {
        Some(head) => (&mut head.answer).await,
        None => std::future::pending().await,
    }
}

/// Writes the oldest pending produce's `response` and forgets it.
async fn write_head(
    stream: &mut TcpStream,
    pending: &mut VecDeque<Pending>,
    response: Response,
) -> std::io::Result<()> {
    // Only called with an answer taken from the head.
    let Some(head) = pending.pop_front() else {
        return Ok(());
    };
    write_response(stream, head.correlation_id, head.version, &response).await
}

/// Answers every pending produce, in order.
async fn answer_all(
    stream: &mut TcpStream,
    pending: &mut VecDeque<Pending>,
) -> std::io::Result<()> {
    while !pending.is_empty() {
        let response = head_answer(pending).await;
        write_head(stream, pending, response).await?;
    }
    Ok(())
}

fn memory_capacity(broker: &Broker) -> usize {
    broker
        .config
        .queued_max_request_bytes
        .unwrap_or(usize::MAX)
        .min(tokio::sync::Semaphore::MAX_PERMITS)
        .min(u32::MAX as usize)
}

async fn write_response(
    stream: &mut TcpStream,
    correlation_id: i32,
    version: i16,
    body: &Response,
) -> std::io::Result<()> {
    match frame::encode_response(correlation_id, version, body) {
        Ok(bytes) => stream.write_all(&bytes).await,
        Err(e) => {
            // A response we cannot encode is our bug; the client would hang
            // waiting for it, so close the connection instead.
            tracing::error!(api = body.api_key().name(), version, error = %e, "cannot encode response");
            Err(std::io::Error::other(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the next read would land, relative to the allocation start of
    /// the buffer as it was created.
    fn write_position(buf: &mut BytesMut, start: *const u8) -> usize {
        use bytes::BufMut;
        buf.chunk_mut().as_mut_ptr() as usize - start as usize
    }

    #[tokio::test]
    async fn connections_get_the_socket_buffer_sizes_configured() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let pairs = |send: &str, receive: &str| {
            [
                ("socket.send.buffer.bytes".to_owned(), send.to_owned()),
                ("socket.receive.buffer.bytes".to_owned(), receive.to_owned()),
            ]
        };
        let config =
            crate::config::BrokerConfig::from_pairs(&pairs("65536", "98304"), None).unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        set_buffer_sizes(&accepted, &config);
        let socket = socket2::SockRef::from(&accepted);
        // Linux doubles what is set (for its own bookkeeping).
        let send = socket.send_buffer_size().unwrap();
        let receive = socket.recv_buffer_size().unwrap();
        assert!((65536..=2 * 65536).contains(&send), "SO_SNDBUF {send}");
        assert!(
            (98304..=2 * 98304).contains(&receive),
            "SO_RCVBUF {receive}"
        );

        let defaults = crate::config::BrokerConfig::from_pairs(&[], None).unwrap();
        assert_eq!(defaults.socket_send_buffer, Some(102_400));
        assert_eq!(defaults.socket_receive_buffer, None);
        let os = crate::config::BrokerConfig::from_pairs(&pairs("-1", "-1"), None).unwrap();
        assert_eq!(
            (os.socket_send_buffer, os.socket_receive_buffer),
            (None, None)
        );
    }

    #[test]
    fn rewind_keeps_small_requests_at_the_start_of_the_buffer() {
        let mut received = BytesMut::with_capacity(READ_BUFFER_MIN);
        let start = received.as_ptr();
        // 2,000 requests of 300 bytes: 600 KB through a 64 KiB buffer.
        for i in 0..2_000u32 {
            rewind(&mut received);
            assert_eq!(
                write_position(&mut received, start),
                0,
                "request {i} would be read past the start of the buffer"
            );
            received.extend_from_slice(&296u32.to_be_bytes());
            received.extend_from_slice(&[i as u8; 296]);
            let frame = split_frame(&mut received, 1 << 20)
                .expect("a well-formed frame")
                .expect("a whole frame");
            assert_eq!(frame.len(), 296);
            drop(frame);
        }
    }

    #[test]
    fn rewind_leaves_a_partial_frame_and_a_held_frame_alone() {
        let mut received = BytesMut::with_capacity(READ_BUFFER_MIN);
        received.extend_from_slice(&[0, 0, 1, 0, 7, 7]);
        let before = received.clone();
        rewind(&mut received);
        assert_eq!(received, before, "a partial frame stays where it is");

        received.extend_from_slice(&[7; 254]);
        let held = split_frame(&mut received, 1 << 20)
            .expect("a well-formed frame")
            .expect("a whole frame");
        rewind(&mut received);
        assert!(received.is_empty());
        assert_eq!(held.len(), 256, "a frame still in use keeps its bytes");
        assert!(held.iter().all(|&b| b == 7));
    }
}
