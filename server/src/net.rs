//! The network: accept connections, read size-prefixed frames, answer in
//! request order.
//!
//! One request at a time per connection, as Kafka does (it stops reading a
//! connection while a request is in flight): responses leave in request
//! order by construction. A frame over `socket.request.max.bytes` is refused
//! from its size prefix alone, before anything is buffered. A malformed
//! frame, or an API or version we do not handle, closes that connection
//! only; an ApiVersions request at a version we do not know is answered
//! with UNSUPPORTED_VERSION at v0, as clients expect.

use bytes::BytesMut;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use strata_protocol::frame::{self, peek_request_prefix, split_frame};
use strata_protocol::messages::{ApiKey, Response};

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

async fn connection(
    broker: Arc<Broker>,
    mut stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let limit = broker.config.socket_request_max_bytes;
    let mut received = BytesMut::with_capacity(READ_BUFFER);
    loop {
        rewind(&mut received);
        // Held from the moment a frame's size is known until its request is
        // answered: queued.max.request.bytes bounds the request bytes all
        // connections hold at once (beyond each one's 64 KiB read buffer).
        let mut memory_permit: Option<tokio::sync::OwnedSemaphorePermit> = None;
        let frame = loop {
            match split_frame(&mut received, limit) {
                Ok(Some(frame)) => {
                    // A frame that arrived whole in one read still waits for
                    // its share before it is handled.
                    if let (None, Some(memory)) = (&memory_permit, &broker.request_memory) {
                        let wanted = frame.len().clamp(1, memory_capacity(&broker)) as u32;
                        match memory.clone().acquire_many_owned(wanted).await {
                            Ok(permit) => memory_permit = Some(permit),
                            Err(_) => return,
                        }
                    }
                    break frame;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "closing connection: bad frame");
                    return;
                }
            }
            if let (None, Some(memory), Ok(size)) = (
                &memory_permit,
                &broker.request_memory,
                frame::frame_size(&received, limit),
            ) {
                let wanted = size.clamp(1, memory_capacity(&broker)) as u32;
                match memory.clone().acquire_many_owned(wanted).await {
                    Ok(permit) => memory_permit = Some(permit),
                    Err(_) => return,
                }
            }
            let idle = broker.config.connections_max_idle;
            tokio::select! {
                read = tokio::time::timeout(idle, stream.read_buf(&mut received)) => match read {
                    Ok(Ok(0)) | Ok(Err(_)) => return,
                    Ok(Ok(_)) => {}
                    Err(_) => {
                        tracing::debug!(%peer, "closing idle connection (connections.max.idle.ms)");
                        return;
                    }
                },
                // Between requests, a shutdown closes the connection.
                _ = shutdown.changed() => return,
            }
        };
        let prefix = match peek_request_prefix(&frame) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection: bad request header");
                return;
            }
        };
        if !dispatch::is_supported(prefix.api_key, prefix.api_version) {
            if prefix.api_key == ApiKey::ApiVersions.key() {
                let body = Response::ApiVersions(handlers::api_versions::unsupported());
                if write_response(&mut stream, prefix.correlation_id, 0, &body)
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            tracing::warn!(
                %peer,
                api_key = prefix.api_key,
                api_version = prefix.api_version,
                "closing connection: unsupported API or version"
            );
            return;
        }
        let (header, request) = match frame::decode_request(frame.clone()) {
            Ok(decoded) => decoded,
            Err(e) => {
                tracing::debug!(%peer, frame = ?&frame[..frame.len().min(512)], "malformed request bytes");
                tracing::warn!(%peer, api_key = prefix.api_key, api_version = prefix.api_version, error = %e, "closing connection: malformed request");
                return;
            }
        };
        match dispatch::dispatch(&broker, &header, request, peer).await {
            Outcome::Respond(body) => {
                if write_response(
                    &mut stream,
                    header.correlation_id,
                    header.request_api_version,
                    &body,
                )
                .await
                .is_err()
                {
                    return;
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
                        Ok(chunks) => zero_copy::write_chunks(&mut stream, chunks).await,
                        Err(e) => Err(std::io::Error::other(e)),
                    },
                    Err(e) => Err(std::io::Error::other(e.to_string())),
                };
                if let Err(e) = sent {
                    tracing::warn!(%peer, error = %e, "closing connection: fetch response not sent");
                    return;
                }
            }
            Outcome::NoResponse => {}
            Outcome::Close => {
                tracing::info!(%peer, "closing connection: an acks=0 produce failed");
                return;
            }
        }
        // The request is answered: its bytes may go to another.
        drop(memory_permit);
    }
}

/// Bytes a connection reads into; a larger frame grows its buffer.
const READ_BUFFER: usize = 64 * 1024;

/// Moves an emptied read buffer's write position back to the start of its
/// allocation. Each frame is split off the front of the buffer, so without
/// this the next read lands after it, and a connection walks through its
/// whole 64 KiB before wrapping: a few small requests a second make every
/// connection's buffer resident within minutes (64 MiB at 1,000
/// connections). Called between requests, when the frames split off have
/// been dropped, `reserve` reuses the allocation without copying anything;
/// if one is still held (an acks=0 append in progress), it allocates anew.
fn rewind(received: &mut BytesMut) {
    if received.is_empty() && received.capacity() < READ_BUFFER {
        received.reserve(READ_BUFFER);
    }
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

    #[test]
    fn rewind_keeps_small_requests_at_the_start_of_the_buffer() {
        let mut received = BytesMut::with_capacity(READ_BUFFER);
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
        let mut received = BytesMut::with_capacity(READ_BUFFER);
        received.extend_from_slice(&[0, 0, 1, 0, 7, 7]);
        let before = received.clone();
        rewind(&mut received);
        assert_eq!(received, before, "a partial frame stays where it is");

        received.extend_from_slice(&[7; 254]);
        let held = split_frame(&mut received, 1 << 20)
            .expect("a well-formed frame")
            .expect("a whole frame");
        rewind(&mut received);
        assert!(received.capacity() >= READ_BUFFER);
        assert_eq!(held.len(), 256, "a frame still in use keeps its bytes");
        assert!(held.iter().all(|&b| b == 7));
    }
}
