//! The small identity files Kafka 4.x keeps in log and partition
//! directories, in Kafka's own formats:
//!
//! - `partition.metadata` in each partition directory: the topic id, so a
//!   directory left behind by a deleted topic is not taken for a new topic
//!   of the same name.
//! - `meta.properties` in each log directory: which cluster and node the
//!   directory belongs to, and the directory's own id.
//! - `.kafka_cleanshutdown` in each log directory: the marker that the
//!   broker stopped cleanly, so start-up may skip recovery.
//!
//! Owns: these names and formats, and [`parse_uuid`] (Kafka's base64 form of
//! an id). Not: deciding what a mismatch means (a foreign cluster id, a topic
//! id that changed); callers do.
//!
//! `partition.metadata`, UTF-8 text, no newline after the last line:
//!
//! ```text
//!   version: 0
//!   topic_id: <topic id, 22 characters of unpadded URL-safe base64>
//! ```
//!
//! Read as Kafka reads it: `key: value` with one or more whitespace
//! characters after the colon, any version >= 0 (so a newer Kafka's file
//! still reads), a zero topic id is corrupt, further lines are ignored.
//!
//! `meta.properties`, a Java properties file (ISO-8859-1; we escape anything
//! else as `\uNNNN`, as Java does). Kafka 4.4 wrote, for example:
//!
//! ```text
//!   #
//!   #Mon Nov 30 05:45:20 UTC 2026
//!   node.id=1
//!   directory.id=FI52VnuLTOsqRxvqbiGzEQ
//!   version=1
//!   cluster.id=c3RyYXRhLWNvbXBhdC0xMA
//! ```
//!
//! Keys in any order, comments (`#`, `!`) and Java's escapes and line
//! continuations are read. Only `version=1` (KRaft) is accepted: version 0
//! (ZooKeeper era, `broker.id`) cannot start Kafka 4 either. Other keys are
//! dropped, as Kafka drops them when it rewrites the file.
//!
//! `.kafka_cleanshutdown`, JSON: `{"version":0,"brokerEpoch":472}`. Kafka
//! trusts the file's existence; the broker epoch (KIP-966) is read when it
//! can be and otherwise unknown.
//!
//! All three are replaced whole through [`write_atomically`]; none is
//! checksummed.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use strata_protocol::types::Uuid;

use crate::checkpoint::{java_lines, read_whole_file};
use crate::error::{Error, Result};
use crate::fs::{Fs, write_atomically};

/// In each partition directory.
pub const PARTITION_METADATA_FILE: &str = "partition.metadata";
/// In each log directory.
pub const META_PROPERTIES_FILE: &str = "meta.properties";
/// In each log directory, while the broker is cleanly stopped.
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";

/// Parses an id in Kafka's string form (`Uuid.fromString`): URL-safe base64
/// of the 16 bytes, unpadded (22 characters, as Kafka prints it) or padded
/// with `==`.
pub fn parse_uuid(s: &str) -> Option<Uuid> {
    let s = s.as_bytes();
    let digits = match s.len() {
        22 => s,
        24 if &s[22..] == b"==" => &s[..22],
        _ => return None,
    };
    let mut bytes = [0u8; 16];
    let (mut bits, mut nbits, mut n) = (0u32, 0, 0);
    for &c in digits {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            // 22 digits carry 132 bits: 16 whole bytes, then 4 spare bits
            // that Java's decoder ignores and so do we.
            bytes[n] = (bits >> nbits) as u8;
            n += 1;
            bits &= (1 << nbits) - 1;
        }
    }
    Some(Uuid(bytes))
}

fn corrupt(path: &Path, position: usize, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        path: path.to_owned(),
        position: position as u64,
        reason: reason.into(),
    }
}

/// `partition.metadata`: the topic id of the partition in this directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionMetadata {
    pub topic_id: Uuid,
}

impl PartitionMetadata {
    /// The version we write.
    pub const VERSION: i32 = 0;

    /// The file at `path`, or `None` if there is none.
    pub fn read(fs: &dyn Fs, path: &Path) -> Result<Option<PartitionMetadata>> {
        read_whole_file(fs, path)?
            .map(|bytes| PartitionMetadata::decode(path, &bytes))
            .transpose()
    }

    /// Replaces the file at `path`, atomically.
    pub fn write(&self, fs: &dyn Fs, path: &Path) -> Result<()> {
        if self.topic_id.is_zero() {
            return Err(Error::InvalidArgument(format!(
                "the zero topic id cannot be written to {}: Kafka reads it as corrupt",
                path.display()
            )));
        }
        write_atomically(fs, path, self.encode().as_bytes()).map_err(|e| Error::io(path, e))
    }

    /// The file's text, exactly as Kafka writes it.
    pub fn encode(&self) -> String {
        format!("version: {}\ntopic_id: {}", Self::VERSION, self.topic_id)
    }

    /// Parses the file's bytes; `path` is for the error.
    pub fn decode(path: &Path, bytes: &[u8]) -> Result<PartitionMetadata> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| corrupt(path, e.valid_up_to(), "the text is not UTF-8"))?;
        let lines = java_lines(text);
        let field = |number: usize, key: &str| -> Result<(usize, &str)> {
            let Some(&(at, line)) = lines.get(number - 1) else {
                return Err(corrupt(
                    path,
                    bytes.len(),
                    format!("the file ends before line {number} (`{key}: ...`)"),
                ));
            };
            match split_colon_whitespace(line) {
                Some((k, value)) if k == key => Ok((at, value)),
                _ => Err(corrupt(
                    path,
                    at,
                    format!("line {number} is not `{key}: ...`: {line:?}"),
                )),
            }
        };
        let (at, version) = field(1, "version")?;
        match version.parse::<i32>() {
            Ok(v) if v >= Self::VERSION => {}
            _ => return Err(corrupt(path, at, format!("bad version {version:?}"))),
        }
        let (at, topic_id) = field(2, "topic_id")?;
        match parse_uuid(topic_id) {
            Some(id) if !id.is_zero() => Ok(PartitionMetadata { topic_id: id }),
            Some(_) => Err(corrupt(path, at, "the topic id is the zero id")),
            None => Err(corrupt(path, at, format!("bad topic id {topic_id:?}"))),
        }
    }
}

/// Java's `line.split(":\\s+", 2)`: the text before the first colon that is
/// followed by whitespace, and the text after that whitespace.
fn split_colon_whitespace(line: &str) -> Option<(&str, &str)> {
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r');
    let (at, _) = line
        .char_indices()
        .find(|&(i, c)| c == ':' && line[i + 1..].starts_with(is_space))?;
    Some((&line[..at], line[at + 1..].trim_start_matches(is_space)))
}

/// `meta.properties`: whose log directory this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaProperties {
    pub cluster_id: String,
    pub node_id: i32,
    /// Set by `kafka-storage format` since Kafka 3.7; older directories
    /// have none.
    pub directory_id: Option<Uuid>,
}

impl MetaProperties {
    /// The version we read and write (KRaft).
    pub const VERSION: i32 = 1;

    /// The file at `path`, or `None` if there is none (an unformatted
    /// directory).
    pub fn read(fs: &dyn Fs, path: &Path) -> Result<Option<MetaProperties>> {
        read_whole_file(fs, path)?
            .map(|bytes| MetaProperties::decode(path, &bytes))
            .transpose()
    }

    /// Replaces the file at `path`, atomically, dated now.
    pub fn write(&self, fs: &dyn Fs, path: &Path) -> Result<()> {
        let text = self.encode(SystemTime::now());
        write_atomically(fs, path, text.as_bytes()).map_err(|e| Error::io(path, e))
    }

    /// The file's text as Kafka writes it (`Properties.store` with an empty
    /// comment, in the order Kafka 4.4's hash table iterates), dated `now`
    /// in UTC.
    pub fn encode(&self, now: SystemTime) -> String {
        let mut text = format!("#\n#{}\n", java_date_utc(now));
        let mut put = |key: &str, value: &str| {
            text.push_str(&escape_property(key, true));
            text.push('=');
            text.push_str(&escape_property(value, false));
            text.push('\n');
        };
        put("node.id", &self.node_id.to_string());
        if let Some(id) = self.directory_id {
            put("directory.id", &id.to_string());
        }
        put("version", &Self::VERSION.to_string());
        put("cluster.id", &self.cluster_id);
        text
    }

    /// Parses the file's bytes; `path` is for the error.
    pub fn decode(path: &Path, bytes: &[u8]) -> Result<MetaProperties> {
        let props = parse_java_properties(bytes).map_err(|(at, why)| corrupt(path, at, why))?;
        let get = |key: &str| props.get(key).map(|(at, v)| (*at, v.as_str()));
        let missing = |key: &str| corrupt(path, bytes.len(), format!("no `{key}`"));

        // Kafka: a file without `version` is version 0.
        let (at, version) = get("version").unwrap_or((0, "0"));
        match version.parse::<i32>() {
            Ok(Self::VERSION) => {}
            Ok(0) => {
                return Err(corrupt(
                    path,
                    at,
                    "version 0 (ZooKeeper-era) meta.properties; Kafka 4 and Strata need version=1",
                ));
            }
            _ => return Err(corrupt(path, at, format!("unknown version {version:?}"))),
        }
        let (at, node_id) = get("node.id").ok_or_else(|| missing("node.id"))?;
        let node_id = node_id
            .parse()
            .map_err(|_| corrupt(path, at, format!("node.id {node_id:?} is not a number")))?;
        let (_, cluster_id) = get("cluster.id").ok_or_else(|| missing("cluster.id"))?;
        let directory_id =
            match get("directory.id") {
                None => None,
                Some((at, id)) => Some(parse_uuid(id).ok_or_else(|| {
                    corrupt(path, at, format!("directory.id {id:?} is not an id"))
                })?),
            };
        Ok(MetaProperties {
            cluster_id: cluster_id.to_owned(),
            node_id,
            directory_id,
        })
    }
}

/// Java's `Properties.load(InputStream)`: ISO-8859-1 text, `#`/`!` comment
/// lines, `key=value`, `key: value` or `key value`, backslash escapes and
/// continuation lines. Each key maps to its last value and the byte where
/// its line starts. An error is a byte position and a reason.
fn parse_java_properties(
    bytes: &[u8],
) -> std::result::Result<HashMap<String, (usize, String)>, (usize, String)> {
    // ISO-8859-1: byte i is char i, so char indices are byte positions.
    let chars: Vec<char> = bytes.iter().map(|&b| char::from(b)).collect();
    let is_blank = |c: char| matches!(c, ' ' | '\t' | '\x0C');
    let is_eol = |c: char| matches!(c, '\n' | '\r');
    let mut props = HashMap::new();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && is_blank(chars[i]) {
            i += 1;
        }
        if i == chars.len() {
            break;
        }
        if is_eol(chars[i]) {
            i += 1;
            continue;
        }
        if chars[i] == '#' || chars[i] == '!' {
            while i < chars.len() && !is_eol(chars[i]) {
                i += 1;
            }
            continue;
        }
        // One logical line: natural lines joined while one ends in an odd
        // number of backslashes, the next one's leading blanks dropped.
        let start = i;
        let mut line = Vec::new();
        loop {
            while i < chars.len() && !is_eol(chars[i]) {
                line.push(chars[i]);
                i += 1;
            }
            if i < chars.len() {
                i += if chars[i] == '\r' && chars.get(i + 1) == Some(&'\n') {
                    2
                } else {
                    1
                };
            }
            let backslashes = line.iter().rev().take_while(|&&c| c == '\\').count();
            if backslashes % 2 == 0 {
                break;
            }
            line.pop();
            while i < chars.len() && is_blank(chars[i]) {
                i += 1;
            }
            if i == chars.len() {
                break;
            }
        }
        // The key ends at the first unescaped `=`, `:` or blank; blanks and
        // at most one `=`/`:` separate it from the value.
        let mut key_end = 0;
        let mut escaped = false;
        while key_end < line.len() {
            let c = line[key_end];
            if !escaped && (c == '=' || c == ':' || is_blank(c)) {
                break;
            }
            escaped = c == '\\' && !escaped;
            key_end += 1;
        }
        let mut value_start = key_end;
        let mut separator = false;
        while value_start < line.len() {
            let c = line[value_start];
            if is_blank(c) {
                value_start += 1;
            } else if !separator && (c == '=' || c == ':') {
                separator = true;
                value_start += 1;
            } else {
                break;
            }
        }
        let key = unescape_property(&line[..key_end]).map_err(|why| (start, why))?;
        let value = unescape_property(&line[value_start..]).map_err(|why| (start, why))?;
        props.insert(key, (start, value));
    }
    Ok(props)
}

/// Java's `Properties.loadConvert`. Java strings are UTF-16 and a
/// character beyond the BMP arrives as two `\uNNNN` escapes, so this builds
/// UTF-16 and converts at the end (a lone surrogate becomes U+FFFD).
fn unescape_property(chars: &[char]) -> std::result::Result<String, String> {
    let mut units: Vec<u16> = Vec::with_capacity(chars.len());
    let push = |units: &mut Vec<u16>, c: char| {
        let mut buf = [0u16; 2];
        units.extend_from_slice(c.encode_utf16(&mut buf));
    };
    let mut it = chars.iter().copied();
    while let Some(c) = it.next() {
        if c != '\\' {
            push(&mut units, c);
            continue;
        }
        match it.next() {
            Some('t') => units.push(u16::from(b'\t')),
            Some('n') => units.push(u16::from(b'\n')),
            Some('r') => units.push(u16::from(b'\r')),
            Some('f') => units.push(0x0C),
            Some('u') => {
                let hex: String = it.by_ref().take(4).collect();
                let unit = (hex.len() == 4 && hex.chars().all(|c| c.is_ascii_hexdigit()))
                    .then(|| u16::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| format!("malformed \\uxxxx escape: \\u{hex}"))?;
                units.push(unit);
            }
            Some(other) => push(&mut units, other),
            None => {}
        }
    }
    Ok(String::from_utf16_lossy(&units))
}

/// Java's `Properties.saveConvert`, escaping everything outside printable
/// ASCII as `\uNNNN` so that Kafka's ISO-8859-1 reader gets it right.
fn escape_property(s: &str, is_key: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            ' ' if i == 0 || is_key => out.push_str("\\ "),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\x0C' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\\u{unit:04X}");
                }
            }
        }
    }
    out
}

/// `java.util.Date.toString()` in UTC: `Mon Nov 30 05:45:20 UTC 2026`.
fn java_date_utc(time: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[(days + 4).rem_euclid(7) as usize], // 1970-01-01 was a Thursday
        MONTHS[(month - 1) as usize],
        day,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        year
    )
}

fn clean_shutdown_path(log_dir: &Path) -> PathBuf {
    log_dir.join(CLEAN_SHUTDOWN_FILE)
}

/// Marks `log_dir` as cleanly shut down, the last step of a clean stop:
///
/// 1. Every partition's segments, indexes, producer snapshots and the
///    checkpoints are flushed. (A crash here: no marker, recovery runs.)
/// 2. This writes the marker atomically, with the directory synced.
///    (A crash here: the old state or the marker; either is right.)
///
/// `broker_epoch` is the epoch this broker registered with, or -1.
pub fn write_clean_shutdown(fs: &dyn Fs, log_dir: &Path, broker_epoch: i64) -> Result<()> {
    let path = clean_shutdown_path(log_dir);
    let json = format!("{{\"version\":0,\"brokerEpoch\":{broker_epoch}}}");
    write_atomically(fs, &path, json.as_bytes()).map_err(|e| Error::io(&path, e))
}

/// Whether `log_dir` was cleanly shut down (the marker is there).
pub fn clean_shutdown_exists(fs: &dyn Fs, log_dir: &Path) -> bool {
    fs.exists(&clean_shutdown_path(log_dir))
}

/// The broker epoch in the marker; `None` if there is no marker or it holds
/// no readable epoch (Kafka then still trusts the marker itself).
pub fn read_clean_shutdown_broker_epoch(fs: &dyn Fs, log_dir: &Path) -> Result<Option<i64>> {
    let Some(bytes) = read_whole_file(fs, &clean_shutdown_path(log_dir))? else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&bytes);
    const KEY: &str = "\"brokerEpoch\"";
    let Some(at) = text.find(KEY) else {
        return Ok(None);
    };
    let rest = text[at + KEY.len()..].trim_start();
    let Some(rest) = rest.strip_prefix(':') else {
        return Ok(None);
    };
    let rest = rest.trim_start();
    // Jackson also reads a number given as a string.
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(rest.len());
    Ok(rest[..end].parse().ok())
}

/// Removes the marker once start-up has read it, before the directory takes
/// a write: the removal is synced, else a crash could leave a stale marker
/// that skips the recovery of later, unflushed writes. No marker is fine.
pub fn remove_clean_shutdown(fs: &dyn Fs, log_dir: &Path) -> Result<()> {
    let path = clean_shutdown_path(log_dir);
    match fs.remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(&path, e)),
    }
    fs.sync_dir(log_dir).map_err(|e| Error::io(log_dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{FaultyFs, OsFs};
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    const KAFKA_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/kafka-4.4.0");

    fn temp_dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("a temp dir")
    }

    fn id(s: &str) -> Uuid {
        parse_uuid(s).expect("a valid id")
    }

    fn corrupt_at(e: Error) -> (u64, String) {
        match e {
            Error::Corrupt {
                position, reason, ..
            } => (position, reason),
            other => panic!("expected Corrupt, got {other}"),
        }
    }

    /// When Kafka 4.4 wrote the fixture's meta.properties.
    fn fixture_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_796_017_520)
    }

    #[test]
    fn uuid_parses_what_kafka_prints() {
        let counting = Uuid(std::array::from_fn(|i| i as u8));
        assert_eq!(parse_uuid("AAECAwQFBgcICQoLDA0ODw"), Some(counting));
        assert_eq!(parse_uuid("AAECAwQFBgcICQoLDA0ODw=="), Some(counting));
        assert_eq!(parse_uuid("AAAAAAAAAAAAAAAAAAAAAA"), Some(Uuid::ZERO));
        let max = Uuid([0xff; 16]);
        assert_eq!(parse_uuid(&max.to_string()), Some(max));
    }

    #[test]
    fn uuid_rejects_what_kafka_rejects() {
        for bad in [
            "",
            "AAECAwQFBgcICQoLDA0OD",     // 21 digits
            "AAECAwQFBgcICQoLDA0ODwA",   // 23
            "AAECAwQFBgcICQoLDA0ODw=",   // half the padding
            "AAECAwQFBgcICQoLDA0ODw===", // too long
            "AAECAwQFBgcICQoLDA0OD+",    // standard, not URL-safe, alphabet
            "AAECAwQFBgcICQoLDA0OD/",
            "AAECAwQFBgcICQoLDA0OD ",
            "AAECAwQFBgcICQoLDA0ODé",
        ] {
            assert_eq!(parse_uuid(bad), None, "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn uuid_round_trips_through_kafkas_string(bytes in proptest::prelude::any::<[u8; 16]>()) {
            let id = Uuid(bytes);
            proptest::prop_assert_eq!(parse_uuid(&id.to_string()), Some(id));
        }

        #[test]
        fn partition_metadata_decoder_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = PartitionMetadata::decode(Path::new("p"), &bytes);
        }

        #[test]
        fn meta_properties_decoder_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..96)) {
            let _ = MetaProperties::decode(Path::new("m"), &bytes);
        }

        #[test]
        fn meta_properties_round_trip_any_cluster_id(cluster_id in "\\PC{0,24}", node_id in proptest::prelude::any::<i32>()) {
            let meta = MetaProperties { cluster_id, node_id, directory_id: None };
            let text = meta.encode(fixture_time());
            proptest::prop_assert!(text.is_ascii());
            proptest::prop_assert_eq!(MetaProperties::decode(Path::new("m"), text.as_bytes()).unwrap(), meta);
        }
    }

    #[test]
    fn partition_metadata_kafka_wrote_is_read_and_rewritten_byte_for_byte() {
        let dir = temp_dir();
        for (partition, topic_id) in [
            ("smoke-0", "wLcsQjl9RBqqeqcPw9q4jA"),
            ("strata-fixture-0", "LGJ8stsHT3KhAaj8FKN7rA"),
            // Kafka's METADATA_TOPIC_ID.
            ("__cluster_metadata-0", "AAAAAAAAAAAAAAAAAAAAAQ"),
        ] {
            let kafka = Path::new(KAFKA_DATA)
                .join(partition)
                .join(PARTITION_METADATA_FILE);
            let read = PartitionMetadata::read(&OsFs, &kafka).unwrap().unwrap();
            assert_eq!(read.topic_id, id(topic_id), "{partition}");
            let ours = dir.path().join(partition);
            read.write(&OsFs, &ours).unwrap();
            assert_eq!(
                std::fs::read(&ours).unwrap(),
                std::fs::read(&kafka).unwrap()
            );
        }
    }

    #[test]
    fn partition_metadata_round_trips_and_missing_reads_none() {
        let dir = temp_dir();
        let path = dir.path().join(PARTITION_METADATA_FILE);
        assert_eq!(PartitionMetadata::read(&OsFs, &path).unwrap(), None);
        let meta = PartitionMetadata {
            topic_id: Uuid(std::array::from_fn(|i| 0xf0 | i as u8)),
        };
        meta.write(&OsFs, &path).unwrap();
        assert_eq!(PartitionMetadata::read(&OsFs, &path).unwrap(), Some(meta));
    }

    #[test]
    fn partition_metadata_reads_what_kafkas_reader_tolerates() {
        let want = id("wLcsQjl9RBqqeqcPw9q4jA");
        for text in [
            "version: 0\ntopic_id: wLcsQjl9RBqqeqcPw9q4jA\n",
            "version:\t 0\r\ntopic_id:  wLcsQjl9RBqqeqcPw9q4jA",
            "version: 1\ntopic_id: wLcsQjl9RBqqeqcPw9q4jA\nsomething: new\n",
            "version: 0\ntopic_id: wLcsQjl9RBqqeqcPw9q4jA==",
        ] {
            let got = PartitionMetadata::decode(Path::new("p"), text.as_bytes());
            assert_eq!(got.unwrap().topic_id, want, "{text:?}");
        }
    }

    #[test]
    fn partition_metadata_malformed_is_corrupt() {
        let cases: &[(&[u8], u64)] = &[
            (b"", 0),
            (b"version: 0", 10),
            (b"version: 0\n", 11),
            (b"version:0\ntopic_id: wLcsQjl9RBqqeqcPw9q4jA", 0),
            (b"Version: 0\ntopic_id: wLcsQjl9RBqqeqcPw9q4jA", 0),
            (b"version: -1\ntopic_id: wLcsQjl9RBqqeqcPw9q4jA", 0),
            (b"version: x\ntopic_id: wLcsQjl9RBqqeqcPw9q4jA", 0),
            (b"version: 0\ntopic: wLcsQjl9RBqqeqcPw9q4jA", 11),
            (b"version: 0\ntopic_id: wLcsQjl9RBqqeqcPw9q4j", 11),
            (b"version: 0\ntopic_id: wLcsQjl9RBqqeqcPw9q4jA x", 11),
            (b"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA", 11),
            (b"version: 0\ntopic_id: \xffLcsQjl9RBqqeqcPw9q4jA", 21),
        ];
        for (bytes, position) in cases {
            let err = PartitionMetadata::decode(Path::new("p"), bytes).unwrap_err();
            let (at, why) = corrupt_at(err);
            assert_eq!(at, *position, "{:?}: {why}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn partition_metadata_refuses_the_zero_id() {
        let dir = temp_dir();
        let path = dir.path().join(PARTITION_METADATA_FILE);
        let zero = PartitionMetadata {
            topic_id: Uuid::ZERO,
        };
        assert!(matches!(
            zero.write(&OsFs, &path),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn partition_metadata_failed_fsync_keeps_the_old_file() {
        let dir = temp_dir();
        let path = dir.path().join(PARTITION_METADATA_FILE);
        let old = PartitionMetadata {
            topic_id: id("wLcsQjl9RBqqeqcPw9q4jA"),
        };
        old.write(&OsFs, &path).unwrap();
        let fs = FaultyFs::new();
        fs.faults.fail_sync.store(true, Ordering::SeqCst);
        let new = PartitionMetadata {
            topic_id: id("LGJ8stsHT3KhAaj8FKN7rA"),
        };
        assert!(new.write(&fs, &path).unwrap_err().is_disk_failure());
        assert_eq!(PartitionMetadata::read(&OsFs, &path).unwrap(), Some(old));
    }

    fn kafka_meta() -> MetaProperties {
        MetaProperties {
            cluster_id: "c3RyYXRhLWNvbXBhdC0xMA".to_owned(),
            node_id: 1,
            directory_id: Some(id("FI52VnuLTOsqRxvqbiGzEQ")),
        }
    }

    #[test]
    fn meta_properties_kafka_wrote_is_read() {
        let path = Path::new(KAFKA_DATA).join(META_PROPERTIES_FILE);
        assert_eq!(
            MetaProperties::read(&OsFs, &path).unwrap(),
            Some(kafka_meta())
        );
    }

    #[test]
    fn meta_properties_encodes_exactly_as_kafka_did() {
        let kafka =
            std::fs::read_to_string(Path::new(KAFKA_DATA).join(META_PROPERTIES_FILE)).unwrap();
        assert_eq!(kafka_meta().encode(fixture_time()), kafka);
    }

    #[test]
    fn meta_properties_round_trip_and_missing_reads_none() {
        let dir = temp_dir();
        let path = dir.path().join(META_PROPERTIES_FILE);
        assert_eq!(MetaProperties::read(&OsFs, &path).unwrap(), None);
        for meta in [
            kafka_meta(),
            MetaProperties {
                cluster_id: " odd = id: #!\\ é\u{1F600}".to_owned(),
                node_id: -7,
                directory_id: None,
            },
        ] {
            meta.write(&OsFs, &path).unwrap();
            assert_eq!(MetaProperties::read(&OsFs, &path).unwrap(), Some(meta));
        }
    }

    #[test]
    fn meta_properties_reads_java_properties_syntax() {
        let text = b"! another comment\n\n   # indented comment\r\n\
            cluster.id : abc\\\n    def\\u0041\n\
            node.id 12\n\
            version=0\n\
            version\t=\t1\n\
            unknown.key=ignored\n\
            directory.id=FI52VnuLTOsqRxvqbiGzEQ";
        let meta = MetaProperties::decode(Path::new("m"), text).unwrap();
        assert_eq!(
            meta,
            MetaProperties {
                cluster_id: "abcdefA".to_owned(),
                node_id: 12,
                directory_id: Some(id("FI52VnuLTOsqRxvqbiGzEQ")),
            }
        );
        // ISO-8859-1, as Java's Properties.load(InputStream).
        let latin1 = b"version=1\nnode.id=1\ncluster.id=caf\xe9";
        assert_eq!(
            MetaProperties::decode(Path::new("m"), latin1)
                .unwrap()
                .cluster_id,
            "café"
        );
    }

    #[test]
    fn meta_properties_malformed_is_corrupt() {
        let cases: &[(&[u8], u64, &str)] = &[
            (b"node.id=1\ncluster.id=x\n", 0, "version 0"),
            (b"version=0\nbroker.id=1\ncluster.id=x\n", 0, "version 0"),
            (
                b"version=2\nnode.id=1\ncluster.id=x\n",
                0,
                "unknown version",
            ),
            (
                b"version=one\nnode.id=1\ncluster.id=x\n",
                0,
                "unknown version",
            ),
            (b"version=1\ncluster.id=x\n", 23, "no `node.id`"),
            (b"version=1\nnode.id=x1\ncluster.id=x\n", 10, "node.id"),
            (b"version=1\nnode.id=1\n", 20, "no `cluster.id`"),
            (
                b"version=1\nnode.id=1\ncluster.id=x\ndirectory.id=nope\n",
                33,
                "directory.id",
            ),
            (b"version=1\nnode.id=1\ncluster.id=\\u00zz\n", 20, "\\uxxxx"),
            (b"version=1\nnode.id=1\ncluster.id=\\u+abc\n", 20, "\\uxxxx"),
            (b"version=1\nnode.id=1\ncluster.id=\\u0", 20, "\\uxxxx"),
        ];
        for (bytes, position, reason) in cases {
            let err = MetaProperties::decode(Path::new("m"), bytes).unwrap_err();
            let (at, why) = corrupt_at(err);
            assert_eq!(at, *position, "{:?}: {why}", String::from_utf8_lossy(bytes));
            assert!(
                why.contains(reason),
                "{:?}: {why}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn meta_properties_failed_fsync_keeps_the_old_file() {
        let dir = temp_dir();
        let path = dir.path().join(META_PROPERTIES_FILE);
        kafka_meta().write(&OsFs, &path).unwrap();
        let fs = FaultyFs::new();
        fs.faults.fail_sync.store(true, Ordering::SeqCst);
        let other = MetaProperties {
            node_id: 2,
            ..kafka_meta()
        };
        assert!(other.write(&fs, &path).unwrap_err().is_disk_failure());
        assert_eq!(
            MetaProperties::read(&OsFs, &path).unwrap(),
            Some(kafka_meta())
        );
    }

    #[test]
    fn java_date_matches_date_to_string_in_utc() {
        assert_eq!(
            java_date_utc(fixture_time()),
            "Mon Nov 30 05:45:20 UTC 2026"
        );
        assert_eq!(java_date_utc(UNIX_EPOCH), "Thu Jan 01 00:00:00 UTC 1970");
        // 2024-02-29T23:59:59Z, a leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(1_709_251_199);
        assert_eq!(java_date_utc(leap), "Thu Feb 29 23:59:59 UTC 2024");
    }

    #[test]
    fn clean_shutdown_marker_kafka_wrote_is_read() {
        let dir = Path::new(KAFKA_DATA);
        assert!(clean_shutdown_exists(&OsFs, dir));
        assert_eq!(
            read_clean_shutdown_broker_epoch(&OsFs, dir).unwrap(),
            Some(495)
        );
    }

    #[test]
    fn clean_shutdown_marker_is_written_as_kafka_writes_it_and_removed() {
        let dir = temp_dir();
        assert!(!clean_shutdown_exists(&OsFs, dir.path()));
        assert_eq!(
            read_clean_shutdown_broker_epoch(&OsFs, dir.path()).unwrap(),
            None
        );
        write_clean_shutdown(&OsFs, dir.path(), 495).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join(CLEAN_SHUTDOWN_FILE)).unwrap(),
            std::fs::read(Path::new(KAFKA_DATA).join(CLEAN_SHUTDOWN_FILE)).unwrap()
        );
        assert!(clean_shutdown_exists(&OsFs, dir.path()));
        assert_eq!(
            read_clean_shutdown_broker_epoch(&OsFs, dir.path()).unwrap(),
            Some(495)
        );
        remove_clean_shutdown(&OsFs, dir.path()).unwrap();
        assert!(!clean_shutdown_exists(&OsFs, dir.path()));
        remove_clean_shutdown(&OsFs, dir.path()).unwrap();
    }

    #[test]
    fn clean_shutdown_marker_without_a_readable_epoch_still_counts() {
        let dir = temp_dir();
        let path = dir.path().join(CLEAN_SHUTDOWN_FILE);
        for (text, epoch) in [
            ("", None),
            ("not json", None),
            // Kafka 3.7 wrote strings under another key; 4.x cannot read it.
            (r#"{"broker_epoch":"12","version":"0"}"#, None),
            (r#"{ "brokerEpoch" : "12" }"#, Some(12)),
            (r#"{"version":0,"brokerEpoch":-1}"#, Some(-1)),
            (r#"{"brokerEpoch":99999999999999999999}"#, None),
        ] {
            std::fs::write(&path, text).unwrap();
            assert!(clean_shutdown_exists(&OsFs, dir.path()));
            assert_eq!(
                read_clean_shutdown_broker_epoch(&OsFs, dir.path()).unwrap(),
                epoch,
                "{text}"
            );
        }
    }

    #[test]
    fn clean_shutdown_marker_failed_fsync_is_an_error() {
        let dir = temp_dir();
        let fs = FaultyFs::new();
        fs.faults.fail_sync.store(true, Ordering::SeqCst);
        assert!(
            write_clean_shutdown(&fs, dir.path(), 1)
                .unwrap_err()
                .is_disk_failure()
        );
        write_clean_shutdown(&OsFs, dir.path(), 1).unwrap();
        assert!(
            remove_clean_shutdown(&fs, dir.path())
                .unwrap_err()
                .is_disk_failure()
        );
    }
}
