//! The broker's state: its config, the metadata, and the log directory;
//! topic creation and deletion, which touch both.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use strata_protocol::types::Uuid;
use strata_storage::checkpoint::TopicPartition;
use strata_storage::fs::{Fs, OsFs};
use strata_storage::manager::LogManager;

use crate::config::BrokerConfig;
use crate::coordinator::{CoordinatorConfig, GroupCoordinator, OFFSETS_TOPIC};
use crate::error_code::ErrorCode;
use crate::fetch_session::FetchSessionCache;
use crate::metadata::{MetadataRecord, MetadataStore, TopicMeta, random_uuid, validate_topic_name};

#[derive(Debug)]
pub struct Broker {
    pub config: BrokerConfig,
    pub logs: LogManager,
    metadata: Mutex<MetadataStore>,
    fetch_sessions: Mutex<FetchSessionCache>,
    /// Bounds the request bytes buffered across connections
    /// (`queued.max.request.bytes`).
    pub request_memory: Option<Arc<tokio::sync::Semaphore>>,
    /// Consumer groups and committed offsets (`__consumer_offsets`).
    pub groups: GroupCoordinator,
}

/// Why a topic operation was refused: the wire code and a message.
pub type TopicError = (ErrorCode, String);

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Broker {
    /// Opens the data dir: replays the metadata, recovers the logs, creates
    /// partitions the metadata names but the disk lacks, and removes
    /// partitions of topics that no longer exist (an interrupted delete).
    pub fn open(config: BrokerConfig) -> anyhow::Result<Arc<Broker>> {
        Broker::open_with_fs(config, Arc::new(OsFs))
    }

    /// [`Broker::open`] on a given file system (tests inject faults with
    /// `strata_storage::fs::FaultyFs`).
    pub fn open_with_fs(config: BrokerConfig, fs: Arc<dyn Fs>) -> anyhow::Result<Arc<Broker>> {
        let metadata = MetadataStore::open(&config.data_dir)?;
        let topic_configs: BTreeMap<String, BTreeMap<String, String>> = metadata
            .topics()
            .map(|t| (t.name.clone(), t.configs.clone()))
            .collect();
        let cfg = config.clone();
        let config_of = move |tp: &TopicPartition| {
            let empty = BTreeMap::new();
            cfg.log_config(topic_configs.get(&tp.topic).unwrap_or(&empty))
        };
        let (logs, report) =
            LogManager::open(fs, &config.data_dir, config.storage_threads, &config_of)?;
        tracing::info!(
            dir = %config.data_dir.display(),
            partitions = report.partitions,
            clean_shutdown = report.clean_shutdown,
            "log directory opened"
        );
        for p in logs.partitions() {
            let known = metadata
                .topic(&p.tp.topic)
                .is_some_and(|t| p.tp.partition < t.partitions);
            if !known {
                tracing::info!(partition = %p.tp, "removing a partition of a deleted topic");
                logs.delete_partition(&p.tp)?;
            }
        }
        for t in metadata.topics() {
            let (log_config, durability) = config.log_config(&t.configs);
            for p in 0..t.partitions {
                let tp = TopicPartition::new(t.name.clone(), p);
                if logs.partition(&tp).is_none() {
                    logs.create_partition(&tp, log_config.clone(), durability)?;
                }
                logs.write_partition_identity(&tp, t.id)?;
            }
        }
        logs.write_meta_properties(metadata.cluster_id(), config.node_id, random_uuid())?;
        let topics: crate::coordinator::consumer_group::Topics = metadata
            .topics()
            .map(|t| {
                (
                    t.name.clone(),
                    crate::coordinator::consumer_group::TopicInfo {
                        id: t.id,
                        partitions: t.partitions,
                    },
                )
            })
            .collect();
        let groups = GroupCoordinator::load(
            CoordinatorConfig::from_settings(&config.static_configs),
            &logs,
            metadata.topic(OFFSETS_TOPIC).map(|t| t.partitions),
            &topics,
        );
        let request_memory = config.queued_max_request_bytes.map(|n| {
            Arc::new(tokio::sync::Semaphore::new(
                n.min(tokio::sync::Semaphore::MAX_PERMITS),
            ))
        });
        Ok(Arc::new(Broker {
            config,
            logs,
            groups,
            metadata: Mutex::new(metadata),
            fetch_sessions: Mutex::new(FetchSessionCache::new(1000)),
            request_memory,
        }))
    }

    pub fn metadata(&self) -> MutexGuard<'_, MetadataStore> {
        self.metadata.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn fetch_sessions(&self) -> MutexGuard<'_, FetchSessionCache> {
        self.fetch_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub fn cluster_id(&self) -> String {
        self.metadata().cluster_id().to_owned()
    }

    /// Creates a topic (metadata first, synced; then its partitions).
    /// `validate_only` checks everything and changes nothing.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<TopicMeta, TopicError> {
        validate_topic_name(name).map_err(|m| (ErrorCode::InvalidTopicException, m))?;
        let partitions = if partitions == -1 {
            self.config.num_partitions
        } else {
            partitions
        };
        if partitions < 1 {
            return Err((
                ErrorCode::InvalidPartitions,
                format!("number of partitions must be at least 1, not {partitions}"),
            ));
        }
        let replication_factor = if replication_factor == -1 {
            self.config.default_replication_factor
        } else {
            replication_factor
        };
        if replication_factor != 1 {
            return Err((
                ErrorCode::InvalidReplicationFactor,
                format!(
                    "replication factor: {replication_factor} larger than available brokers: 1."
                ),
            ));
        }
        for (k, v) in &configs {
            BrokerConfig::validate_topic_config(k, v).map_err(|m| (ErrorCode::InvalidConfig, m))?;
        }
        let mut metadata = self.metadata();
        if metadata.topic(name).is_some() {
            return Err((
                ErrorCode::TopicAlreadyExists,
                format!("Topic '{name}' already exists."),
            ));
        }
        let id = random_uuid();
        let meta = TopicMeta {
            name: name.to_owned(),
            id,
            partitions,
            configs: configs.clone(),
        };
        if validate_only {
            return Ok(meta);
        }
        metadata
            .append(MetadataRecord::CreateTopic {
                name: name.to_owned(),
                id: id.to_string(),
                partitions,
                configs: configs.clone(),
            })
            .map_err(|e| (ErrorCode::KafkaStorageError, e.to_string()))?;
        let (log_config, durability) = self.config.log_config(&configs);
        for p in 0..partitions {
            let tp = TopicPartition::new(name, p);
            self.logs
                .create_partition(&tp, log_config.clone(), durability)
                .and_then(|_| self.logs.write_partition_identity(&tp, id))
                .map_err(|e| (crate::error_code::storage_error_code(&e), e.to_string()))?;
        }
        tracing::info!(topic = name, partitions, id = %id, "created topic");
        Ok(meta)
    }

    /// Deletes a topic: metadata first (synced), then its partitions.
    pub fn delete_topic(&self, name: &str) -> Result<Uuid, TopicError> {
        let mut metadata = self.metadata();
        let Some(topic) = metadata.topic(name).cloned() else {
            return Err((
                ErrorCode::UnknownTopicOrPartition,
                "This server does not host this topic-partition.".into(),
            ));
        };
        metadata
            .append(MetadataRecord::DeleteTopic {
                name: name.to_owned(),
            })
            .map_err(|e| (ErrorCode::KafkaStorageError, e.to_string()))?;
        drop(metadata);
        for p in 0..topic.partitions {
            if let Err(e) = self.logs.delete_partition(&TopicPartition::new(name, p)) {
                // The next start-up removes what is left.
                tracing::warn!(topic = name, partition = p, error = %e, "could not remove a deleted partition");
            }
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(topic.id)
    }

    /// Sets a topic's configs to what `change` makes of the current ones,
    /// checking in Kafka's order: the name, the new values (INVALID_CONFIG),
    /// then that the topic exists. The new set is appended to the metadata
    /// log (synced), then applied to every partition's log; both under the
    /// metadata lock, so two changes reach the logs in the order they were
    /// logged. A crash between the two is repaired at start-up, which
    /// configures the logs from the metadata. `validate_only` checks and
    /// changes nothing.
    pub fn alter_topic_configs(
        &self,
        name: &str,
        validate_only: bool,
        change: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, TopicError>,
    ) -> Result<(), TopicError> {
        if name.is_empty() {
            return Err((
                ErrorCode::InvalidRequest,
                "Default topic resources are not allowed.".into(),
            ));
        }
        validate_topic_name(name).map_err(|m| (ErrorCode::InvalidTopicException, m))?;
        let mut metadata = self.metadata();
        let topic = metadata.topic(name).cloned();
        let current = topic
            .as_ref()
            .map(|t| t.configs.clone())
            .unwrap_or_default();
        let configs = change(&current)?;
        for (k, v) in &configs {
            BrokerConfig::validate_topic_config(k, v).map_err(|m| (ErrorCode::InvalidConfig, m))?;
        }
        let Some(topic) = topic else {
            return Err((
                ErrorCode::UnknownTopicOrPartition,
                format!("The topic '{name}' does not exist."),
            ));
        };
        if validate_only || configs == current {
            return Ok(());
        }
        metadata
            .append(MetadataRecord::SetTopicConfigs {
                name: name.to_owned(),
                configs: configs.clone(),
            })
            .map_err(|e| (ErrorCode::KafkaStorageError, e.to_string()))?;
        let (log_config, durability) = self.config.log_config(&configs);
        for p in 0..topic.partitions {
            self.logs.set_config(
                &TopicPartition::new(name, p),
                log_config.clone(),
                durability,
            );
        }
        tracing::info!(topic = name, ?configs, "altered topic configs");
        Ok(())
    }

    /// Raises a topic's partition count to `count`. The new count is
    /// appended to the metadata log (synced), then the new partitions are
    /// created with the topic's log config; a crash between the two is
    /// repaired at start-up, which creates partitions the metadata names but
    /// the disk lacks. `assignments`, when given, lists each new partition's
    /// replicas: this broker, once. Messages are Kafka's.
    pub fn add_partitions(
        &self,
        name: &str,
        count: i32,
        assignments: Option<&[Vec<i32>]>,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let mut metadata = self.metadata();
        let Some(topic) = metadata.topic(name).cloned() else {
            return Err((
                ErrorCode::UnknownTopicOrPartition,
                "This server does not host this topic-partition.".into(),
            ));
        };
        let current = topic.partitions;
        if count == current {
            return Err((
                ErrorCode::InvalidPartitions,
                format!("Topic already has {current} partition(s)."),
            ));
        }
        if count < current {
            return Err((
                ErrorCode::InvalidPartitions,
                format!(
                    "The topic {name} currently has {current} partition(s); {count} would not be an increase."
                ),
            ));
        }
        let additional = count - current;
        if let Some(assignments) = assignments {
            if assignments.len() != additional as usize {
                return Err((
                    ErrorCode::InvalidReplicaAssignment,
                    format!(
                        "Attempted to add {additional} additional partition(s), but only {} assignment(s) were specified.",
                        assignments.len()
                    ),
                ));
            }
            for replicas in assignments {
                let refuse = |m: String| Err((ErrorCode::InvalidReplicaAssignment, m));
                if replicas.is_empty() {
                    return refuse(
                        "The manual partition assignment includes an empty replica list.".into(),
                    );
                }
                let mut sorted = replicas.clone();
                sorted.sort_unstable();
                let mut previous = None;
                for id in sorted {
                    if id != self.config.node_id {
                        return refuse(format!(
                            "The manual partition assignment includes broker {id}, but no such broker is registered."
                        ));
                    }
                    if previous == Some(id) {
                        return refuse(format!(
                            "The manual partition assignment includes the broker {id} more than once."
                        ));
                    }
                    previous = Some(id);
                }
            }
        }
        if validate_only {
            return Ok(());
        }
        metadata
            .append(MetadataRecord::AddPartitions {
                name: name.to_owned(),
                partitions: count,
            })
            .map_err(|e| (ErrorCode::KafkaStorageError, e.to_string()))?;
        let (log_config, durability) = self.config.log_config(&topic.configs);
        for p in current..count {
            let tp = TopicPartition::new(name, p);
            self.logs
                .create_partition(&tp, log_config.clone(), durability)
                .and_then(|_| self.logs.write_partition_identity(&tp, topic.id))
                .map_err(|e| (crate::error_code::storage_error_code(&e), e.to_string()))?;
        }
        tracing::info!(topic = name, from = current, to = count, "added partitions");
        Ok(())
    }

    /// Creates `name` with the broker's defaults if auto-creation is on;
    /// the topic, if it exists afterwards.
    pub fn maybe_auto_create(&self, name: &str) -> Option<TopicMeta> {
        if let Some(t) = self.metadata().topic(name) {
            return Some(t.clone());
        }
        if !self.config.auto_create_topics {
            return None;
        }
        match self.create_topic(name, -1, -1, BTreeMap::new(), false) {
            Ok(t) => Some(t),
            Err((ErrorCode::TopicAlreadyExists, _)) => self.metadata().topic(name).cloned(),
            Err((code, message)) => {
                tracing::info!(topic = name, ?code, message, "auto-creation refused");
                None
            }
        }
    }
}
