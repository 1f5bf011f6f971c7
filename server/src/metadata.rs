//! The cluster metadata: topics, their ids, partition counts and configs,
//! kept as a log of records under the data dir and replayed at start-up.
//!
//! `__strata_metadata.log`, one record after another:
//!
//! ```text
//!   0..4   payload length (u32, big-endian)
//!   4..8   CRC-32C of the payload
//!   8..    payload: one JSON object, {"type": ..., ...}
//! ```
//!
//! Every change is appended and fdatasynced before it is acknowledged. At
//! start-up a torn or corrupt tail (a crash mid-append) is cut off: that
//! change was never acknowledged. When brokers form a cluster this log
//! becomes the replicated state machine, with the same records.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use strata_protocol::types::Uuid;

pub const METADATA_LOG: &str = "__strata_metadata.log";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MetadataRecord {
    CreateTopic {
        name: String,
        id: String,
        partitions: i32,
        configs: BTreeMap<String, String>,
    },
    DeleteTopic {
        name: String,
    },
    SetTopicConfigs {
        name: String,
        configs: BTreeMap<String, String>,
    },
    AddPartitions {
        name: String,
        partitions: i32,
    },
    ClusterId {
        id: String,
    },
    /// Producer ids below `end` may have been handed out.
    ProducerIdBlock {
        end: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMeta {
    pub name: String,
    pub id: Uuid,
    pub partitions: i32,
    pub configs: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct MetadataStore {
    path: PathBuf,
    file: std::fs::File,
    topics: BTreeMap<String, TopicMeta>,
    cluster_id: String,
    next_producer_id: i64,
    producer_id_block_end: i64,
}

fn uuid_to_string(id: &Uuid) -> String {
    id.to_string()
}

fn uuid_from_string(s: &str) -> Option<Uuid> {
    strata_storage::meta::parse_uuid(s)
}

/// A random, non-zero id (topic ids, the cluster id).
pub fn random_uuid() -> Uuid {
    let mut bytes = [0u8; 16];
    let filled = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if filled.is_err() || bytes == [0; 16] {
        // No urandom: fall back on the clock and the process id, still unique enough for one broker.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes[..16]
            .copy_from_slice(&(nanos ^ (u128::from(std::process::id()) << 64) | 1).to_be_bytes());
    }
    Uuid(bytes)
}

impl MetadataStore {
    /// Opens (or starts) the metadata log in `dir` and replays it.
    pub fn open(dir: &Path) -> std::io::Result<MetadataStore> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(METADATA_LOG);
        let raw = match std::fs::read(&path) {
            Ok(raw) => raw,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut records = Vec::new();
        let mut position = 0usize;
        while let Some(header) = raw.get(position..position + 8) {
            let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
            let Some(payload) = raw.get(position + 8..position + 8 + len) else {
                break;
            };
            if crc32c::crc32c(payload) != crc {
                break;
            }
            let Ok(record) = serde_json::from_slice::<MetadataRecord>(payload) else {
                break;
            };
            records.push(record);
            position += 8 + len;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)?;
        if position < raw.len() {
            tracing::warn!(path = %path.display(), kept = position, cut = raw.len() - position, "cut a torn metadata log tail");
            file.set_len(position as u64)?;
            file.sync_data()?;
        }
        let mut store = MetadataStore {
            path,
            file,
            topics: BTreeMap::new(),
            cluster_id: String::new(),
            next_producer_id: 0,
            producer_id_block_end: 0,
        };
        for r in records {
            store.apply(r);
        }
        // A restart starts after the last block: its ids may be in use.
        store.next_producer_id = store.producer_id_block_end;
        if store.cluster_id.is_empty() {
            let id = uuid_to_string(&random_uuid());
            store.append(MetadataRecord::ClusterId { id })?;
        }
        Ok(store)
    }

    fn apply(&mut self, record: MetadataRecord) {
        match record {
            MetadataRecord::CreateTopic {
                name,
                id,
                partitions,
                configs,
            } => {
                let id = uuid_from_string(&id).unwrap_or(Uuid::ZERO);
                self.topics.insert(
                    name.clone(),
                    TopicMeta {
                        name,
                        id,
                        partitions,
                        configs,
                    },
                );
            }
            MetadataRecord::DeleteTopic { name } => {
                self.topics.remove(&name);
            }
            MetadataRecord::SetTopicConfigs { name, configs } => {
                if let Some(t) = self.topics.get_mut(&name) {
                    t.configs = configs;
                }
            }
            MetadataRecord::AddPartitions { name, partitions } => {
                if let Some(t) = self.topics.get_mut(&name) {
                    t.partitions = partitions;
                }
            }
            MetadataRecord::ClusterId { id } => self.cluster_id = id,
            MetadataRecord::ProducerIdBlock { end } => {
                // Ids of an earlier run's block may have been used: never again.
                self.next_producer_id = self.producer_id_block_end.max(self.next_producer_id);
                self.producer_id_block_end = end;
            }
        }
    }

    /// Appends and syncs a record, then applies it.
    pub fn append(&mut self, record: MetadataRecord) -> std::io::Result<()> {
        let payload = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
        let mut frame = Vec::with_capacity(payload.len() + 8);
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        frame.extend_from_slice(&crc32c::crc32c(&payload).to_be_bytes());
        frame.extend_from_slice(&payload);
        self.file.write_all(&frame)?;
        self.file.sync_data()?;
        self.apply(record);
        Ok(())
    }

    /// A producer id never handed out before, also across restarts: ids
    /// come from blocks of 1000 whose end is synced before the first use.
    pub fn allocate_producer_id(&mut self) -> std::io::Result<i64> {
        if self.next_producer_id >= self.producer_id_block_end {
            let end = self.producer_id_block_end.max(self.next_producer_id) + 1000;
            self.append(MetadataRecord::ProducerIdBlock { end })?;
        }
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        Ok(id)
    }

    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    pub fn topics(&self) -> impl Iterator<Item = &TopicMeta> {
        self.topics.values()
    }

    pub fn topic(&self, name: &str) -> Option<&TopicMeta> {
        self.topics.get(name)
    }

    pub fn topic_by_id(&self, id: &Uuid) -> Option<&TopicMeta> {
        self.topics.values().find(|t| &t.id == id)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Kafka's rule for topic names.
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("topic name is empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("topic name {name:?} is not allowed"));
    }
    if name.len() > 249 {
        return Err(format!(
            "topic name is {} characters, over the 249 allowed",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "topic name {name:?} has {c:?}; only ASCII letters, digits, '.', '_' and '-' are allowed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_survive_a_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = MetadataStore::open(dir.path()).unwrap();
        let cluster = store.cluster_id().to_owned();
        assert_eq!(cluster.len(), 22);
        let id = random_uuid();
        store
            .append(MetadataRecord::CreateTopic {
                name: "a".into(),
                id: id.to_string(),
                partitions: 3,
                configs: BTreeMap::new(),
            })
            .unwrap();
        store
            .append(MetadataRecord::CreateTopic {
                name: "b".into(),
                id: random_uuid().to_string(),
                partitions: 1,
                configs: BTreeMap::new(),
            })
            .unwrap();
        store
            .append(MetadataRecord::DeleteTopic { name: "b".into() })
            .unwrap();
        drop(store);
        // A crash mid-append leaves half a record.
        let path = dir.path().join(METADATA_LOG);
        let mut raw = std::fs::read(&path).unwrap();
        raw.extend_from_slice(&[0, 0, 0, 50, 1, 2]);
        std::fs::write(&path, raw).unwrap();
        let store = MetadataStore::open(dir.path()).unwrap();
        assert_eq!(store.cluster_id(), cluster);
        assert_eq!(
            store.topics().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            vec!["a"]
        );
        assert_eq!(store.topic("a").unwrap().id, id);
        assert_eq!(store.topic_by_id(&id).unwrap().partitions, 3);
    }

    #[test]
    fn producer_ids_are_never_reused_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = MetadataStore::open(dir.path()).unwrap();
        let a = store.allocate_producer_id().unwrap();
        let b = store.allocate_producer_id().unwrap();
        assert_eq!(b, a + 1);
        drop(store);
        let mut store = MetadataStore::open(dir.path()).unwrap();
        let c = store.allocate_producer_id().unwrap();
        assert!(c > b, "{c} after {b}");
        for _ in 0..1500 {
            store.allocate_producer_id().unwrap();
        }
        let d = store.allocate_producer_id().unwrap();
        assert_eq!(d, c + 1501);
    }

    #[test]
    fn topic_names_follow_kafkas_rule() {
        assert!(validate_topic_name("orders.v1_x-2").is_ok());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name("a b").is_err());
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
    }
}
