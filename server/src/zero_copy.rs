//! Fetch responses whose record sets go from segment files to the socket
//! without passing through user space (`sendfile`).
//!
//! The Fetch handler encodes its response with a 16-byte [`MARKER`] where
//! each partition's records belong, and hands over the file regions in the
//! order they appear. [`splice`] cuts the encoded frame at the markers,
//! rewrites each record set's length prefix for the real length, and fixes
//! the frame size; [`write_chunks`] sends the pieces in order, the regions
//! with `sendfile` (resumed whenever the socket is writable again), or by
//! reading them where a file has no descriptor.

use bytes::{BufMut, Bytes, BytesMut};
use std::io;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use strata_storage::segment::FileRegion;

/// Stands in for a record set while the response is encoded. No other
/// Fetch field can hold it: strings are UTF-8 (0xff never occurs) and the
/// only other 16-byte values are topic ids, at odds of 2^-128.
pub const MARKER: [u8; 16] = [
    0xff, 0xfe, b'S', b'T', b'R', b'A', b'T', b'A', 0xfd, b'r', b'e', b'g', b'i', b'o', b'n', 0xff,
];

/// A piece of a response on its way out.
#[derive(Debug)]
pub enum Chunk {
    Bytes(Bytes),
    Region(FileRegion),
}

fn find(haystack: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(MARKER.len())
        .position(|w| w == MARKER)
        .map(|p| p + from)
}

/// Replaces the markers in `frame` (size prefix included) by `regions`, in
/// order. `compact`: the record sets are compact bytes (flexible versions).
pub fn splice(
    frame: BytesMut,
    regions: Vec<FileRegion>,
    compact: bool,
) -> Result<Vec<Chunk>, String> {
    let frame = frame.freeze();
    let old_prefix: &[u8] = if compact {
        &[MARKER.len() as u8 + 1]
    } else {
        &[0, 0, 0, MARKER.len() as u8]
    };
    let mut chunks = Vec::with_capacity(regions.len() * 2 + 2);
    let mut cursor = 4;
    let mut total: u64 = 0;
    for region in regions {
        let at = find(&frame, cursor).ok_or("fewer markers than regions")?;
        let prefix_at = at
            .checked_sub(old_prefix.len())
            .ok_or("marker without a length prefix")?;
        if &frame[prefix_at..at] != old_prefix {
            return Err("marker without the expected length prefix".into());
        }
        let head = frame.slice(cursor..prefix_at);
        let mut prefix = BytesMut::with_capacity(5);
        if compact {
            strata_protocol::wire::put_uvarint(&mut prefix, (region.length + 1) as u32);
        } else {
            prefix.put_i32(region.length as i32);
        }
        total += (head.len() + prefix.len()) as u64 + region.length;
        chunks.push(Chunk::Bytes(head));
        chunks.push(Chunk::Bytes(prefix.freeze()));
        chunks.push(Chunk::Region(region));
        cursor = at + MARKER.len();
    }
    if find(&frame, cursor).is_some() {
        return Err("more markers than regions".into());
    }
    let tail = frame.slice(cursor..);
    total += tail.len() as u64;
    chunks.push(Chunk::Bytes(tail));
    let size =
        i32::try_from(total).map_err(|_| format!("response of {total} bytes is too large"))?;
    chunks.insert(0, Chunk::Bytes(Bytes::copy_from_slice(&size.to_be_bytes())));
    Ok(chunks)
}

/// Writes the chunks in order.
pub async fn write_chunks(stream: &mut TcpStream, chunks: Vec<Chunk>) -> io::Result<()> {
    // The bytes between two regions (a partition's fields and the next
    // one's length prefix) leave in one write: with TCP_NODELAY each write
    // is a packet of its own, and the consumer wakes for each.
    let mut pending = BytesMut::new();
    for chunk in chunks {
        match chunk {
            Chunk::Bytes(b) => pending.extend_from_slice(&b),
            Chunk::Region(region) => {
                if !pending.is_empty() {
                    stream.write_all(&pending).await?;
                    pending.clear();
                }
                send_region(stream, &region).await?;
            }
        }
    }
    if !pending.is_empty() {
        stream.write_all(&pending).await?;
    }
    Ok(())
}

async fn send_region(stream: &mut TcpStream, region: &FileRegion) -> io::Result<()> {
    if region.file.fd().is_none() {
        let bytes = region
            .read_to_bytes()
            .map_err(|e| io::Error::other(e.to_string()))?;
        return stream.write_all(&bytes).await;
    }
    let mut offset = region.position as i64;
    let end = offset + region.length as i64;
    while offset < end {
        stream.writable().await?;
        let sent = stream.try_io(Interest::WRITABLE, || {
            let Some(file_fd) = region.file.fd() else {
                return Err(io::Error::other("file lost its descriptor"));
            };
            let socket_fd = std::os::fd::AsFd::as_fd(&*stream);
            let count = (end - offset) as usize;
            nix::sys::sendfile::sendfile(socket_fd, file_fd, Some(&mut offset), count)
                .map_err(io::Error::from)
        });
        match sent {
            Ok(0) => {
                // The file is shorter than when the read was planned (a
                // truncation raced the fetch): pad, so the frame stays whole;
                // the client sees a broken last batch and fetches again.
                let pad = vec![0u8; (end - offset) as usize];
                stream.write_all(&pad).await?;
                return Ok(());
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use strata_storage::fs::{Fs, OsFs};

    #[test]
    fn splice_rewrites_prefixes_and_the_frame_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = OsFs.open(&path, false).unwrap();
        let region = |position, length| FileRegion {
            file: Arc::clone(&file),
            path: path.clone(),
            position,
            length,
        };
        for compact in [true, false] {
            let mut frame = BytesMut::new();
            frame.put_i32(0);
            frame.put_slice(b"head");
            if compact {
                frame.put_u8(17);
            } else {
                frame.put_i32(16);
            }
            frame.put_slice(&MARKER);
            frame.put_slice(b"mid");
            if compact {
                frame.put_u8(17);
            } else {
                frame.put_i32(16);
            }
            frame.put_slice(&MARKER);
            frame.put_slice(b"tail");
            let chunks = splice(frame, vec![region(2, 3), region(0, 10)], compact).unwrap();
            let mut out = Vec::new();
            for c in chunks {
                match c {
                    Chunk::Bytes(b) => out.extend_from_slice(&b),
                    Chunk::Region(r) => out.extend_from_slice(&r.read_to_bytes().unwrap()),
                }
            }
            let mut expected = Vec::new();
            expected.extend_from_slice(b"head");
            if compact {
                expected.push(4);
            } else {
                expected.extend_from_slice(&3i32.to_be_bytes());
            }
            expected.extend_from_slice(b"234mid");
            if compact {
                expected.push(11);
            } else {
                expected.extend_from_slice(&10i32.to_be_bytes());
            }
            expected.extend_from_slice(b"0123456789tail");
            assert_eq!(&out[4..], &expected[..]);
            assert_eq!(&out[..4], &(expected.len() as i32).to_be_bytes());
        }
    }

    #[test]
    fn splice_refuses_a_marker_count_that_does_not_match() {
        let mut frame = BytesMut::new();
        frame.put_i32(0);
        frame.put_u8(17);
        frame.put_slice(&MARKER);
        assert!(splice(frame.clone(), vec![], true).is_err());
    }
}
