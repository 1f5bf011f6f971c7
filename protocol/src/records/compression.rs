//! The codecs a v2 batch's records section may be compressed with.
//!
//! Every decoder is bounded by a limit its caller passes (a broker uses its
//! largest accepted batch or fetch size): going past it is
//! [`RecordsError::DecompressedTooLarge`], found after at most `limit + 1`
//! bytes have been produced, so a small bomb cannot exhaust memory.
//!
//! Wire formats, as Kafka's clients write them:
//! - gzip: RFC 1952; concatenated members are read as one stream, as Java's
//!   `GZIPInputStream` does.
//! - snappy: the Java client writes snappy-java's ("xerial") framing:
//!
//! ```text
//!   0..8    magic 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
//!   8..12   version              i32, 1
//!   12..16  compatible version   i32, 1
//!   then blocks: [i32 compressed length][raw snappy block], each block
//!   at most 32 KiB uncompressed; a new magic header may restart the stream
//! ```
//!
//!   Other clients (librdkafka among them) write one raw snappy block; the
//!   decoder tells the two apart by the magic, as snappy-java does. We write
//!   xerial.
//! - lz4: the standard LZ4 frame (magic v2 fixed the header checksum that
//!   v0/v1 got wrong). We write independent 64 KiB blocks without checksums,
//!   as Java's `KafkaLZ4BlockOutputStream` does: its reader decodes each block
//!   on its own, so linked blocks would break Java consumers.
//! - zstd: a zstd frame, read as a stream.

use std::fmt;
use std::io::{Read, Write};

use bytes::Bytes;

use super::RecordsError;

/// Compression codec, attribute bits 0-2 of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    /// Every codec, in attribute order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec of attribute bits 0-2; the other bits are ignored.
    pub fn from_attributes(attributes: i16) -> Result<Self, RecordsError> {
        match attributes & 0x07 {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            // Masked to three bits, so the cast keeps the value.
            other => Err(RecordsError::UnknownCompression(other as u8)),
        }
    }

    /// The attribute bits of this codec.
    pub fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// Kafka's `compression.type` name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER_LEN: usize = 16;
/// snappy-java's default block size; keeps each block's buffer small for
/// readers that allocate per block.
const XERIAL_BLOCK: usize = 32 * 1024;
/// Kafka's default zstd level (`compression.zstd.level`).
const ZSTD_LEVEL: i32 = 3;
/// Smallest zstd window a frame may ask for: 8 MiB covers every level up to
/// 19 when the encoder does not know the size in advance, as Java's
/// streaming encoder does not. Larger limits raise it, up to zstd's own 128 MiB.
const ZSTD_MIN_WINDOW_LOG: u32 = 23;
const ZSTD_MAX_WINDOW_LOG: u32 = 27;

/// Compresses `data` with `codec`, as the Java client would.
pub fn compress(codec: Compression, data: &[u8]) -> Result<Bytes, RecordsError> {
    let failed = |e: std::io::Error| RecordsError::Compression {
        codec,
        reason: e.to_string(),
    };
    match codec {
        Compression::None => Ok(Bytes::copy_from_slice(data)),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 2 + 64),
                flate2::Compression::default(),
            );
            enc.write_all(data).map_err(failed)?;
            enc.finish().map(Bytes::from).map_err(failed)
        }
        Compression::Snappy => xerial_compress(data),
        Compression::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(
                info,
                Vec::with_capacity(data.len() / 2 + 64),
            );
            enc.write_all(data).map_err(failed)?;
            enc.finish()
                .map(Bytes::from)
                .map_err(|e| RecordsError::Compression {
                    codec,
                    reason: e.to_string(),
                })
        }
        Compression::Zstd => zstd::bulk::compress(data, ZSTD_LEVEL)
            .map(Bytes::from)
            .map_err(failed),
    }
}

/// Decompresses `data`, refusing to produce more than `limit` bytes.
pub fn decompress(codec: Compression, data: &[u8], limit: usize) -> Result<Bytes, RecordsError> {
    let failed = |e: std::io::Error| RecordsError::Decompression {
        codec,
        reason: e.to_string(),
    };
    match codec {
        Compression::None => {
            if data.len() > limit {
                return Err(RecordsError::DecompressedTooLarge { codec, limit });
            }
            Ok(Bytes::copy_from_slice(data))
        }
        Compression::Gzip => read_bounded(codec, flate2::read::MultiGzDecoder::new(data), limit),
        Compression::Snappy => {
            if data.starts_with(&XERIAL_MAGIC) {
                xerial_decompress(data, limit)
            } else {
                let mut out = Vec::new();
                snappy_block_into(data, limit, &mut out)?;
                Ok(Bytes::from(out))
            }
        }
        Compression::Lz4 => read_bounded(codec, lz4_flex::frame::FrameDecoder::new(data), limit),
        Compression::Zstd => {
            let mut dec = zstd::stream::read::Decoder::with_buffer(data).map_err(failed)?;
            dec.window_log_max(zstd_window_log_max(limit))
                .map_err(failed)?;
            read_bounded(codec, dec, limit)
        }
    }
}

fn zstd_window_log_max(limit: usize) -> u32 {
    let needed = usize::BITS - limit.saturating_sub(1).leading_zeros();
    needed.clamp(ZSTD_MIN_WINDOW_LOG, ZSTD_MAX_WINDOW_LOG)
}

/// Reads at most `limit + 1` bytes so that going over is seen without
/// holding more than that.
fn read_bounded(
    codec: Compression,
    reader: impl Read,
    limit: usize,
) -> Result<Bytes, RecordsError> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| RecordsError::Decompression {
            codec,
            reason: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(RecordsError::DecompressedTooLarge { codec, limit });
    }
    Ok(Bytes::from(out))
}

fn xerial_compress(data: &[u8]) -> Result<Bytes, RecordsError> {
    let mut out = Vec::with_capacity(XERIAL_HEADER_LEN + data.len() / 2 + 64);
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    let mut encoder = snap::raw::Encoder::new();
    for chunk in data.chunks(XERIAL_BLOCK) {
        let block = encoder
            .compress_vec(chunk)
            .map_err(|e| RecordsError::Compression {
                codec: Compression::Snappy,
                reason: e.to_string(),
            })?;
        // A 32 KiB chunk compresses to well under 2 GiB.
        let len = i32::try_from(block.len()).map_err(|_| RecordsError::TooLarge {
            field: "snappy block",
            value: block.len() as u64,
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&block);
    }
    Ok(Bytes::from(out))
}

fn xerial_decompress(data: &[u8], limit: usize) -> Result<Bytes, RecordsError> {
    let malformed = |reason: &'static str| RecordsError::Decompression {
        codec: Compression::Snappy,
        reason: reason.to_owned(),
    };
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.starts_with(&XERIAL_MAGIC) {
            // Version fields are not checked: snappy-java itself only
            // refuses versions it never wrote, and every one it wrote is
            // read the same way.
            rest = rest
                .get(XERIAL_HEADER_LEN..)
                .ok_or_else(|| malformed("xerial header is truncated"))?;
            continue;
        }
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| malformed("xerial block length is truncated"))?;
        let len = usize::try_from(i32::from_be_bytes(*len))
            .map_err(|_| malformed("xerial block length is negative"))?;
        let block = tail
            .get(..len)
            .ok_or_else(|| malformed("xerial block is longer than the payload"))?;
        snappy_block_into(block, limit, &mut out)?;
        rest = &tail[len..];
    }
    Ok(Bytes::from(out))
}

/// Appends one raw snappy block to `out`; the block states its length up
/// front, so the limit is checked before anything is allocated.
fn snappy_block_into(block: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), RecordsError> {
    let codec = Compression::Snappy;
    let failed = |e: snap::Error| RecordsError::Decompression {
        codec,
        reason: e.to_string(),
    };
    let len = snap::raw::decompress_len(block).map_err(failed)?;
    if len > limit.saturating_sub(out.len()) {
        return Err(RecordsError::DecompressedTooLarge { codec, limit });
    }
    let start = out.len();
    out.resize(start + len, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(failed)?;
    out.truncate(start + written);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i % 251) as u8 ^ (i / 1000) as u8)
            .collect()
    }

    #[test]
    fn every_codec_round_trips_empty_small_and_multi_block_inputs() {
        for codec in Compression::ALL {
            for len in [0, 1, 100, XERIAL_BLOCK, 3 * XERIAL_BLOCK + 7, 200_000] {
                let data = sample(len);
                let packed = compress(codec, &data).unwrap();
                let unpacked = decompress(codec, &packed, len).unwrap();
                assert_eq!(unpacked, data, "{codec} at {len} bytes");
            }
        }
    }

    #[test]
    fn every_codec_refuses_output_one_byte_over_the_limit() {
        for codec in Compression::ALL {
            let data = sample(100_000);
            let packed = compress(codec, &data).unwrap();
            assert_eq!(
                decompress(codec, &packed, data.len() - 1),
                Err(RecordsError::DecompressedTooLarge {
                    codec,
                    limit: data.len() - 1
                }),
                "{codec}"
            );
        }
    }

    #[test]
    fn zip_bomb_is_refused_at_the_limit() {
        // 16 MiB of zeros packs into well under 1 MiB with every codec.
        let zeros = vec![0u8; 16 << 20];
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let packed = compress(codec, &zeros).unwrap();
            assert!(packed.len() < 1 << 20, "{codec}: {}", packed.len());
            assert!(matches!(
                decompress(codec, &packed, 1 << 20),
                Err(RecordsError::DecompressedTooLarge { .. })
            ));
        }
    }

    #[test]
    fn snappy_writes_the_xerial_header_java_writes() {
        let packed = compress(Compression::Snappy, b"hello").unwrap();
        assert_eq!(
            &packed[..16],
            &[
                0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1
            ]
        );
        let block_len = i32::from_be_bytes(packed[16..20].try_into().unwrap());
        assert_eq!(block_len as usize, packed.len() - 20);
    }

    #[test]
    fn snappy_reads_raw_blocks_as_librdkafka_writes_them() {
        let data = sample(5000);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(decompress(Compression::Snappy, &raw, 5000).unwrap(), data);
    }

    #[test]
    fn snappy_reads_concatenated_xerial_streams() {
        let mut packed = compress(Compression::Snappy, b"first,").unwrap().to_vec();
        packed.extend_from_slice(&compress(Compression::Snappy, b"second").unwrap());
        assert_eq!(
            decompress(Compression::Snappy, &packed, 100).unwrap(),
            &b"first,second"[..]
        );
    }

    #[test]
    fn snappy_raw_block_claiming_a_huge_length_is_refused_before_allocating() {
        // Varint length 0x7fffffff, then nothing.
        let bomb = [0xff, 0xff, 0xff, 0xff, 0x07];
        assert!(matches!(
            decompress(Compression::Snappy, &bomb, 1 << 20),
            Err(RecordsError::DecompressedTooLarge { .. })
        ));
    }

    #[test]
    fn xerial_block_longer_than_payload_is_malformed() {
        let mut packed = compress(Compression::Snappy, b"hello").unwrap().to_vec();
        packed.pop();
        assert!(matches!(
            decompress(Compression::Snappy, &packed, 100),
            Err(RecordsError::Decompression { .. })
        ));
    }

    #[test]
    fn lz4_writes_independent_blocks() {
        let packed = compress(Compression::Lz4, &sample(1000)).unwrap();
        assert_eq!(&packed[..4], &[0x04, 0x22, 0x4d, 0x18]);
        // FLG: version 01, block independence set, no checksums or size.
        assert_eq!(packed[4], 0b0110_0000);
        // BD: 64 KiB blocks.
        assert_eq!(packed[5], 0b0100_0000);
    }

    #[test]
    fn zstd_window_follows_the_limit_within_bounds() {
        assert_eq!(zstd_window_log_max(0), ZSTD_MIN_WINDOW_LOG);
        assert_eq!(zstd_window_log_max(1 << 20), ZSTD_MIN_WINDOW_LOG);
        assert_eq!(zstd_window_log_max((1 << 25) + 1), 26);
        assert_eq!(zstd_window_log_max(usize::MAX), ZSTD_MAX_WINDOW_LOG);
    }

    #[test]
    fn unknown_codec_bits_are_refused() {
        for bits in 5..8 {
            assert_eq!(
                Compression::from_attributes(bits),
                Err(RecordsError::UnknownCompression(bits as u8))
            );
        }
        for codec in Compression::ALL {
            assert_eq!(
                Compression::from_attributes(i16::from(codec.id()) | 0x78),
                Ok(codec)
            );
        }
    }

    proptest! {
        // Regressions are not saved: the file would land outside records/.
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn random_bytes_never_panic_any_decoder(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            for codec in Compression::ALL {
                let _ = decompress(codec, &data, 1 << 16);
            }
        }

        #[test]
        fn random_bytes_after_the_xerial_header_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut packed = XERIAL_MAGIC.to_vec();
            packed.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
            packed.extend_from_slice(&data);
            let _ = decompress(Compression::Snappy, &packed, 1 << 16);
        }

        #[test]
        fn every_codec_round_trips_random_input(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            for codec in Compression::ALL {
                let packed = compress(codec, &data).unwrap();
                prop_assert_eq!(&decompress(codec, &packed, data.len()).unwrap()[..], &data[..]);
            }
        }
    }
}
