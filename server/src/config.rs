//! Broker and topic configuration, in Kafka's keys.
//!
//! The broker reads a `server.properties` file and `--set key=value` flags
//! (flags win). Keys this broker does not use are reported at start-up, not
//! silently dropped. Topic configs resolve as Kafka does: the topic's own
//! value, else the broker's `log.*` synonym, else the default.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use strata_protocol::records::TimestampType;
use strata_storage::log::LogConfig;
use strata_storage::manager::Durability;
use strata_storage::segment::SegmentConfig;

/// A listener as configured: `PLAINTEXT://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub host: String,
    pub port: u16,
}

impl Listener {
    pub fn parse(text: &str) -> Result<Listener, String> {
        let first = text.split(',').next().unwrap_or("").trim();
        let rest = first
            .split_once("://")
            .map(|(_, r)| r)
            .ok_or_else(|| format!("listener {first:?} is not NAME://host:port"))?;
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("listener {first:?} has no port"))?;
        let port = port
            .parse()
            .map_err(|_| format!("listener {first:?} has a bad port"))?;
        Ok(Listener {
            host: host.trim_matches(['[', ']']).to_owned(),
            port,
        })
    }
}

/// The broker's settings.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub node_id: i32,
    pub listener: Listener,
    pub advertised: Listener,
    pub data_dir: PathBuf,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics: bool,
    pub delete_topic_enable: bool,
    pub socket_request_max_bytes: usize,
    pub storage_threads: usize,
    pub retention_check_interval: Duration,
    /// `connections.max.idle.ms`: a connection with no request for this
    /// long is closed.
    pub connections_max_idle: Duration,
    /// `max.connections.per.ip`: further connections from one address are
    /// closed at once.
    pub max_connections_per_ip: usize,
    /// `queued.max.request.bytes`: request bytes buffered at once across all
    /// connections (`None`: no limit, Kafka's -1).
    pub queued_max_request_bytes: Option<usize>,
    /// `socket.send.buffer.bytes` / `socket.receive.buffer.bytes`: SO_SNDBUF
    /// and SO_RCVBUF of every client connection (`None`: the OS's own,
    /// Kafka's -1). The send buffer defaults to Kafka's 100 KiB: a catch-up
    /// read of 1 GiB over loopback took 0.38-0.47 CPU s with it against
    /// 0.58-0.64 with the kernel's autotuning, which let each fetch's
    /// sendfile run megabytes ahead of the reader. The receive buffer is
    /// left to the kernel (Kafka: 100 KiB), which holds a producer's 5
    /// requests of ~90 KiB in flight: with 100 KiB, max-rate produce made
    /// 168-204 MiB/s against 206-214 autotuned (strata-bench, three pairs).
    pub socket_send_buffer: Option<usize>,
    pub socket_receive_buffer: Option<usize>,
    /// Broker-level values of topic configs (`log.retention.ms`, ...), by
    /// the topic key they stand for.
    pub topic_defaults: BTreeMap<&'static str, String>,
    pub unknown_keys: Vec<String>,
    /// Every key set in the file or by a flag, as written (`--data-dir`
    /// counts as `log.dirs`): DescribeConfigs' STATIC_BROKER_CONFIG.
    pub static_configs: BTreeMap<String, String>,
}

/// A topic config key: its name, Kafka's default, and the broker key that
/// overrides the default.
#[derive(Debug, Clone, Copy)]
pub struct TopicKey {
    pub name: &'static str,
    pub default: &'static str,
    pub broker_synonym: Option<&'static str>,
}

/// The topic configs this broker understands, with Kafka's defaults.
pub const TOPIC_KEYS: &[TopicKey] = &[
    TopicKey {
        name: "cleanup.policy",
        default: "delete",
        broker_synonym: Some("log.cleanup.policy"),
    },
    TopicKey {
        name: "compression.type",
        default: "producer",
        broker_synonym: Some("compression.type"),
    },
    TopicKey {
        name: "delete.retention.ms",
        default: "86400000",
        broker_synonym: Some("log.cleaner.delete.retention.ms"),
    },
    TopicKey {
        name: "file.delete.delay.ms",
        default: "60000",
        broker_synonym: Some("log.segment.delete.delay.ms"),
    },
    TopicKey {
        name: "flush.messages",
        default: "9223372036854775807",
        broker_synonym: Some("log.flush.interval.messages"),
    },
    TopicKey {
        name: "flush.ms",
        default: "9223372036854775807",
        broker_synonym: Some("log.flush.interval.ms"),
    },
    TopicKey {
        name: "index.interval.bytes",
        default: "4096",
        broker_synonym: Some("log.index.interval.bytes"),
    },
    TopicKey {
        name: "max.message.bytes",
        default: "1048588",
        broker_synonym: Some("message.max.bytes"),
    },
    TopicKey {
        name: "message.timestamp.after.max.ms",
        default: "3600000",
        broker_synonym: Some("log.message.timestamp.after.max.ms"),
    },
    TopicKey {
        name: "message.timestamp.before.max.ms",
        default: "9223372036854775807",
        broker_synonym: Some("log.message.timestamp.before.max.ms"),
    },
    TopicKey {
        name: "message.timestamp.type",
        default: "CreateTime",
        broker_synonym: Some("log.message.timestamp.type"),
    },
    TopicKey {
        name: "min.insync.replicas",
        default: "1",
        broker_synonym: Some("min.insync.replicas"),
    },
    TopicKey {
        name: "retention.bytes",
        default: "-1",
        broker_synonym: Some("log.retention.bytes"),
    },
    TopicKey {
        name: "retention.ms",
        default: "604800000",
        broker_synonym: Some("log.retention.ms"),
    },
    TopicKey {
        name: "segment.bytes",
        default: "1073741824",
        broker_synonym: Some("log.segment.bytes"),
    },
    TopicKey {
        name: "segment.index.bytes",
        default: "10485760",
        broker_synonym: Some("log.index.size.max.bytes"),
    },
    TopicKey {
        name: "segment.ms",
        default: "604800000",
        broker_synonym: Some("log.roll.ms"),
    },
];

pub fn topic_key(name: &str) -> Option<&'static TopicKey> {
    TOPIC_KEYS.iter().find(|k| k.name == name)
}

/// Broker keys read for themselves (not as topic defaults).
const BROKER_KEYS: &[&str] = &[
    "node.id",
    "broker.id",
    "listeners",
    "advertised.listeners",
    "log.dirs",
    "log.dir",
    "num.partitions",
    "default.replication.factor",
    "auto.create.topics.enable",
    "delete.topic.enable",
    "socket.request.max.bytes",
    "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes",
    "num.io.threads",
    "log.retention.check.interval.ms",
    "log.retention.hours",
    "log.retention.minutes",
    "log.roll.hours",
    "connections.max.idle.ms",
    "max.connections.per.ip",
    "queued.max.request.bytes",
    // Read by the group coordinator (`coordinator::CoordinatorConfig`).
    "offsets.topic.num.partitions",
    "group.min.session.timeout.ms",
    "group.max.session.timeout.ms",
    "group.initial.rebalance.delay.ms",
    "offset.metadata.max.bytes",
    "offsets.retention.minutes",
    "offsets.retention.check.interval.ms",
    "offsets.topic.segment.bytes",
    "group.consumer.heartbeat.interval.ms",
    "group.consumer.session.timeout.ms",
    "group.consumer.max.size",
];

impl BrokerConfig {
    /// Builds the config from `key=value` pairs (file first, flags after).
    pub fn from_pairs(
        pairs: &[(String, String)],
        data_dir: Option<PathBuf>,
    ) -> Result<BrokerConfig, String> {
        let mut map: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in pairs {
            map.insert(k.trim().to_owned(), v.trim().to_owned());
        }
        let get = |k: &str| map.get(k).map(String::as_str);
        let parse_i64 = |k: &str, default: i64| -> Result<i64, String> {
            get(k).map_or(Ok(default), |v| {
                v.parse().map_err(|_| format!("{k}={v} is not a number"))
            })
        };
        // Kafka's "-1 (or 0): none" sizes.
        let parse_size = |k: &str, default: i64| -> Result<Option<usize>, String> {
            Ok(usize::try_from(parse_i64(k, default)?)
                .ok()
                .filter(|&n| n > 0))
        };
        let parse_bool = |k: &str, default: bool| -> Result<bool, String> {
            get(k).map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| format!("{k}={v} is not true or false"))
            })
        };
        let listener = Listener::parse(get("listeners").unwrap_or("PLAINTEXT://localhost:9092"))?;
        let advertised = match get("advertised.listeners") {
            Some(a) => Listener::parse(a)?,
            None if listener.host.is_empty()
                || listener.host == "0.0.0.0"
                || listener.host == "::" =>
            {
                Listener {
                    host: "localhost".into(),
                    port: listener.port,
                }
            }
            None => listener.clone(),
        };
        let data_dir_flag = data_dir.as_ref().map(|d| d.display().to_string());
        let data_dir = data_dir
            .or_else(|| {
                get("log.dirs")
                    .or(get("log.dir"))
                    .map(|d| PathBuf::from(d.split(',').next().unwrap_or(d)))
            })
            .unwrap_or_else(|| PathBuf::from("strata-data"));

        let mut topic_defaults = BTreeMap::new();
        for key in TOPIC_KEYS {
            if let Some(v) = key.broker_synonym.and_then(&get) {
                topic_defaults.insert(key.name, v.to_owned());
            }
        }
        // Kafka's coarser retention and roll keys, when the ms ones are absent.
        if !topic_defaults.contains_key("retention.ms") {
            if let Some(min) = get("log.retention.minutes") {
                let v: i64 = min
                    .parse()
                    .map_err(|_| format!("log.retention.minutes={min} is not a number"))?;
                topic_defaults.insert("retention.ms", (v * 60_000).to_string());
            } else if let Some(h) = get("log.retention.hours") {
                let v: i64 = h
                    .parse()
                    .map_err(|_| format!("log.retention.hours={h} is not a number"))?;
                topic_defaults.insert("retention.ms", (v * 3_600_000).to_string());
            }
        }
        if !topic_defaults.contains_key("segment.ms") {
            if let Some(h) = get("log.roll.hours") {
                let v: i64 = h
                    .parse()
                    .map_err(|_| format!("log.roll.hours={h} is not a number"))?;
                topic_defaults.insert("segment.ms", (v * 3_600_000).to_string());
            }
        }
        let unknown_keys = map
            .keys()
            .filter(|k| {
                !BROKER_KEYS.contains(&k.as_str())
                    && !TOPIC_KEYS
                        .iter()
                        .any(|t| t.broker_synonym == Some(k.as_str()))
            })
            .cloned()
            .collect();
        Ok(BrokerConfig {
            node_id: parse_i64("node.id", parse_i64("broker.id", 1)?)? as i32,
            listener,
            advertised,
            data_dir,
            num_partitions: parse_i64("num.partitions", 1)? as i32,
            default_replication_factor: parse_i64("default.replication.factor", 1)? as i16,
            auto_create_topics: parse_bool("auto.create.topics.enable", true)?,
            delete_topic_enable: parse_bool("delete.topic.enable", true)?,
            socket_request_max_bytes: parse_i64("socket.request.max.bytes", 104_857_600)? as usize,
            storage_threads: parse_i64("num.io.threads", 2)?.max(1) as usize,
            max_connections_per_ip: parse_i64("max.connections.per.ip", i64::from(i32::MAX))?.max(1)
                as usize,
            queued_max_request_bytes: parse_size("queued.max.request.bytes", -1)?,
            connections_max_idle: Duration::from_millis(
                parse_i64("connections.max.idle.ms", 600_000)?.max(1) as u64,
            ),
            socket_send_buffer: parse_size("socket.send.buffer.bytes", 102_400)?,
            socket_receive_buffer: parse_size("socket.receive.buffer.bytes", -1)?,
            retention_check_interval: Duration::from_millis(
                parse_i64("log.retention.check.interval.ms", 300_000)?.max(1000) as u64,
            ),
            topic_defaults,
            unknown_keys,
            static_configs: {
                let mut m = map.clone();
                if let Some(d) = data_dir_flag {
                    m.insert("log.dirs".to_owned(), d);
                }
                m
            },
        })
    }

    /// Reads `key=value` lines of a Java properties file.
    pub fn parse_properties(text: &str) -> Vec<(String, String)> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
            .filter_map(|l| {
                let i = l.find(['=', ':'])?;
                Some((l[..i].trim().to_owned(), l[i + 1..].trim().to_owned()))
            })
            .collect()
    }

    /// A topic config's value and where it came from.
    pub fn resolve<'a>(
        &'a self,
        topic_configs: &'a BTreeMap<String, String>,
        key: &TopicKey,
    ) -> (&'a str, ConfigSource) {
        if let Some(v) = topic_configs.get(key.name) {
            return (v, ConfigSource::Topic);
        }
        if let Some(v) = self.topic_defaults.get(key.name) {
            return (v, ConfigSource::Broker);
        }
        (key.default, ConfigSource::Default)
    }

    /// The storage settings and durability of a topic with `configs`.
    pub fn log_config(&self, configs: &BTreeMap<String, String>) -> (LogConfig, Durability) {
        let value =
            |name: &str| -> &str { topic_key(name).map_or("", |k| self.resolve(configs, k).0) };
        let num = |name: &str| -> i64 { value(name).parse().unwrap_or(0) };
        let log = LogConfig {
            segment_bytes: num("segment.bytes").max(1024) as u64,
            segment_ms: num("segment.ms"),
            segment: SegmentConfig {
                index_interval_bytes: num("index.interval.bytes").max(0) as u64,
                max_index_bytes: num("segment.index.bytes").max(8) as usize,
            },
            retention_ms: num("retention.ms"),
            retention_bytes: num("retention.bytes"),
            max_message_bytes: num("max.message.bytes").max(0) as usize,
            timestamp_type: if value("message.timestamp.type") == "LogAppendTime" {
                TimestampType::LogAppendTime
            } else {
                TimestampType::CreateTime
            },
            timestamp_before_max_ms: num("message.timestamp.before.max.ms"),
            timestamp_after_max_ms: num("message.timestamp.after.max.ms"),
            compact: value("cleanup.policy")
                .split(',')
                .any(|p| p.trim() == "compact"),
        };
        // Only an explicit flush.* setting opts a topic out of durable acks.
        let explicit = |name: &str| -> Option<i64> {
            configs
                .get(name)
                .or_else(|| self.topic_defaults.get(name))
                .and_then(|v| v.parse().ok())
        };
        (
            log,
            Durability::from_flush_config(explicit("flush.messages"), explicit("flush.ms")),
        )
    }

    /// Checks a topic config value; the reason when it is not acceptable.
    pub fn validate_topic_config(name: &str, value: &str) -> Result<(), String> {
        let Some(key) = topic_key(name) else {
            return Err(format!("unknown topic config {name}"));
        };
        let numeric = key.default.parse::<i64>().is_ok();
        if numeric && value.parse::<i64>().is_err() {
            return Err(format!("{name}={value} is not a number"));
        }
        match name {
            "message.timestamp.type" if value != "CreateTime" && value != "LogAppendTime" => {
                Err(format!("{name} must be CreateTime or LogAppendTime"))
            }
            "cleanup.policy"
                if value
                    .split(',')
                    .any(|p| p.trim() != "delete" && p.trim() != "compact") =>
            {
                Err(format!("{name} must be delete and/or compact"))
            }
            "segment.bytes" if value.parse::<i64>().is_ok_and(|v| v < 14) => {
                Err(format!("{name} must be at least 14"))
            }
            _ => Ok(()),
        }
    }
}

/// Where a config value came from (DescribeConfigs' `config_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    Topic,
    Broker,
    Default,
}

impl ConfigSource {
    /// The wire number: DYNAMIC_TOPIC_CONFIG 1, STATIC_BROKER_CONFIG 4,
    /// DEFAULT_CONFIG 5.
    pub fn code(self) -> i8 {
        match self {
            ConfigSource::Topic => 1,
            ConfigSource::Broker => 4,
            ConfigSource::Default => 5,
        }
    }
}

/// A config's type, as DescribeConfigs v3+ reports it (`config_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Unknown = 0,
    Boolean = 1,
    String = 2,
    Int = 3,
    Long = 5,
    List = 7,
}

impl ConfigType {
    pub fn code(self) -> i8 {
        self as i8
    }
}

/// A topic key's type and documentation. A match, not fields of
/// [`TopicKey`], so a key added to the table without them still builds
/// (and `every_key_has_a_type_and_a_doc` fails).
pub fn topic_key_info(name: &str) -> (ConfigType, &'static str) {
    use ConfigType::*;
    match name {
        "cleanup.policy" => (
            List,
            "How old segments go: delete (by retention.ms and retention.bytes), compact (keep the latest record per key), or both.",
        ),
        "compression.type" => (
            String,
            "The codec batches are stored with; producer keeps the codec each producer chose.",
        ),
        "delete.retention.ms" => (
            Long,
            "How long a compacted topic keeps delete tombstones, so consumers see them.",
        ),
        "file.delete.delay.ms" => (
            Long,
            "How long a deleted segment's files wait before they are removed.",
        ),
        "flush.messages" => (
            Long,
            "Messages between forced flushes. Set with flush.ms, a topic is acknowledged before its data is synced; unset, acknowledgements wait for the sync.",
        ),
        "flush.ms" => (
            Long,
            "Milliseconds between forced flushes; see flush.messages.",
        ),
        "index.interval.bytes" => (Int, "Bytes of log between offset index entries."),
        "max.message.bytes" => (
            Int,
            "The largest record batch the topic accepts, after compression.",
        ),
        "message.timestamp.after.max.ms" => (
            Long,
            "How far a CreateTime timestamp may lie ahead of the broker's clock.",
        ),
        "message.timestamp.before.max.ms" => (
            Long,
            "How far a CreateTime timestamp may lie behind the broker's clock.",
        ),
        "message.timestamp.type" => (
            String,
            "CreateTime (the producer's timestamp) or LogAppendTime (the broker's clock at append).",
        ),
        "min.insync.replicas" => (
            Int,
            "Replicas that must hold an acks=all write; a single broker is one replica.",
        ),
        "retention.bytes" => (
            Long,
            "Size a partition may reach before its oldest segments are deleted; -1: no limit.",
        ),
        "retention.ms" => (
            Long,
            "How long a segment is kept after its last write before it is deleted; -1: forever.",
        ),
        "segment.bytes" => (Int, "Size at which the active segment is rolled."),
        "segment.index.bytes" => (Int, "Largest size of a segment's offset index."),
        "segment.ms" => (
            Long,
            "Age at which the active segment is rolled even when not full.",
        ),
        _ => (Unknown, ""),
    }
}

/// A broker key as DescribeConfigs lists it: Strata's default (Kafka's,
/// except where noted), type and documentation.
#[derive(Debug, Clone, Copy)]
pub struct BrokerKey {
    pub name: &'static str,
    pub default: Option<&'static str>,
    pub config_type: ConfigType,
    pub doc: &'static str,
}

const fn bk(
    name: &'static str,
    default: Option<&'static str>,
    config_type: ConfigType,
    doc: &'static str,
) -> BrokerKey {
    BrokerKey {
        name,
        default,
        config_type,
        doc,
    }
}

/// The broker keys Strata reads: [`BROKER_KEYS`] and the `broker_synonym`
/// of every [`TOPIC_KEYS`] entry.
pub const BROKER_KEY_TABLE: &[BrokerKey] = &[
    bk(
        "advertised.listeners",
        None,
        ConfigType::String,
        "The address clients are told to use; unset, that of listeners.",
    ),
    bk(
        "auto.create.topics.enable",
        Some("true"),
        ConfigType::Boolean,
        "Create a topic when a producer or a Metadata request names one that does not exist.",
    ),
    bk(
        "broker.id",
        Some("-1"),
        ConfigType::Int,
        "The older name of node.id.",
    ),
    bk(
        "compression.type",
        Some("producer"),
        ConfigType::String,
        "Default of the topic key compression.type.",
    ),
    bk(
        "connections.max.idle.ms",
        Some("600000"),
        ConfigType::Long,
        "A connection with no request for this long is closed.",
    ),
    bk(
        "default.replication.factor",
        Some("1"),
        ConfigType::Int,
        "Replication factor of topics created without one; 1 on a single broker.",
    ),
    bk(
        "delete.topic.enable",
        Some("true"),
        ConfigType::Boolean,
        "Whether DeleteTopics may delete topics.",
    ),
    bk(
        "group.consumer.heartbeat.interval.ms",
        Some("5000"),
        ConfigType::Int,
        "How often members of consumer-protocol groups (KIP-848) heartbeat.",
    ),
    bk(
        "group.consumer.max.size",
        Some("2147483647"),
        ConfigType::Int,
        "The most members a consumer-protocol group may have.",
    ),
    bk(
        "group.consumer.session.timeout.ms",
        Some("45000"),
        ConfigType::Int,
        "A consumer-protocol member silent this long is removed.",
    ),
    bk(
        "group.initial.rebalance.delay.ms",
        Some("3000"),
        ConfigType::Int,
        "How long a new group waits for more members before its first rebalance.",
    ),
    bk(
        "group.max.session.timeout.ms",
        Some("1800000"),
        ConfigType::Int,
        "The longest session timeout a consumer may ask for.",
    ),
    bk(
        "group.min.session.timeout.ms",
        Some("6000"),
        ConfigType::Int,
        "The shortest session timeout a consumer may ask for.",
    ),
    bk(
        "listeners",
        Some("PLAINTEXT://localhost:9092"),
        ConfigType::String,
        "The address the broker listens on (Strata: the first listener).",
    ),
    bk(
        "log.cleaner.delete.retention.ms",
        Some("86400000"),
        ConfigType::Long,
        "Default of the topic key delete.retention.ms.",
    ),
    bk(
        "log.cleanup.policy",
        Some("delete"),
        ConfigType::List,
        "Default of the topic key cleanup.policy.",
    ),
    bk(
        "log.dir",
        None,
        ConfigType::String,
        "The data directory, when log.dirs is not set.",
    ),
    bk(
        "log.dirs",
        Some("strata-data"),
        ConfigType::String,
        "The data directory (Strata uses the first one listed).",
    ),
    bk(
        "log.flush.interval.messages",
        Some("9223372036854775807"),
        ConfigType::Long,
        "Default of the topic key flush.messages.",
    ),
    bk(
        "log.flush.interval.ms",
        None,
        ConfigType::Long,
        "Default of the topic key flush.ms.",
    ),
    bk(
        "log.index.interval.bytes",
        Some("4096"),
        ConfigType::Int,
        "Default of the topic key index.interval.bytes.",
    ),
    bk(
        "log.index.size.max.bytes",
        Some("10485760"),
        ConfigType::Int,
        "Default of the topic key segment.index.bytes.",
    ),
    bk(
        "log.message.timestamp.after.max.ms",
        Some("3600000"),
        ConfigType::Long,
        "Default of the topic key message.timestamp.after.max.ms.",
    ),
    bk(
        "log.message.timestamp.before.max.ms",
        Some("9223372036854775807"),
        ConfigType::Long,
        "Default of the topic key message.timestamp.before.max.ms.",
    ),
    bk(
        "log.message.timestamp.type",
        Some("CreateTime"),
        ConfigType::String,
        "Default of the topic key message.timestamp.type.",
    ),
    bk(
        "log.retention.bytes",
        Some("-1"),
        ConfigType::Long,
        "Default of the topic key retention.bytes.",
    ),
    bk(
        "log.retention.check.interval.ms",
        Some("300000"),
        ConfigType::Long,
        "How often retention runs (at least every second).",
    ),
    bk(
        "log.retention.hours",
        Some("168"),
        ConfigType::Int,
        "Default of the topic key retention.ms, in hours; log.retention.minutes and log.retention.ms win.",
    ),
    bk(
        "log.retention.minutes",
        None,
        ConfigType::Int,
        "Default of the topic key retention.ms, in minutes; log.retention.ms wins.",
    ),
    bk(
        "log.retention.ms",
        None,
        ConfigType::Long,
        "Default of the topic key retention.ms.",
    ),
    bk(
        "log.roll.hours",
        Some("168"),
        ConfigType::Int,
        "Default of the topic key segment.ms, in hours; log.roll.ms wins.",
    ),
    bk(
        "log.roll.ms",
        None,
        ConfigType::Long,
        "Default of the topic key segment.ms.",
    ),
    bk(
        "log.segment.bytes",
        Some("1073741824"),
        ConfigType::Int,
        "Default of the topic key segment.bytes.",
    ),
    bk(
        "log.segment.delete.delay.ms",
        Some("60000"),
        ConfigType::Long,
        "Default of the topic key file.delete.delay.ms.",
    ),
    bk(
        "max.connections.per.ip",
        Some("2147483647"),
        ConfigType::Int,
        "Connections from one IP address beyond this are closed at once.",
    ),
    bk(
        "message.max.bytes",
        Some("1048588"),
        ConfigType::Int,
        "Default of the topic key max.message.bytes.",
    ),
    bk(
        "min.insync.replicas",
        Some("1"),
        ConfigType::Int,
        "Default of the topic key min.insync.replicas.",
    ),
    bk(
        "node.id",
        Some("1"),
        ConfigType::Int,
        "This broker's id (Strata's default is 1; Kafka requires it).",
    ),
    bk(
        "num.io.threads",
        Some("2"),
        ConfigType::Int,
        "Strata: storage threads doing the disk work (Kafka: request handler threads, default 8).",
    ),
    bk(
        "num.partitions",
        Some("1"),
        ConfigType::Int,
        "Partitions of topics created without a count.",
    ),
    bk(
        "offset.metadata.max.bytes",
        Some("4096"),
        ConfigType::Int,
        "The longest metadata string an offset commit may carry.",
    ),
    bk(
        "offsets.retention.check.interval.ms",
        Some("600000"),
        ConfigType::Long,
        "How often committed offsets are checked for expiry.",
    ),
    bk(
        "offsets.retention.minutes",
        Some("10080"),
        ConfigType::Int,
        "How long committed offsets outlive their group's last member (or their commit).",
    ),
    bk(
        "offsets.topic.num.partitions",
        Some("50"),
        ConfigType::Int,
        "Partitions of __consumer_offsets, fixed when it is first created.",
    ),
    bk(
        "offsets.topic.segment.bytes",
        Some("104857600"),
        ConfigType::Int,
        "segment.bytes of __consumer_offsets, fixed when it is first created.",
    ),
    bk(
        "queued.max.request.bytes",
        Some("-1"),
        ConfigType::Long,
        "Request bytes buffered at once across all connections; -1: no limit.",
    ),
    bk(
        "socket.receive.buffer.bytes",
        Some("-1"),
        ConfigType::Int,
        "SO_RCVBUF of client connections; -1 (Strata's default; Kafka's is 102400): the OS's, autotuned.",
    ),
    bk(
        "socket.request.max.bytes",
        Some("104857600"),
        ConfigType::Int,
        "The largest request frame accepted; larger ones close the connection.",
    ),
    bk(
        "socket.send.buffer.bytes",
        Some("102400"),
        ConfigType::Int,
        "SO_SNDBUF of client connections; -1: the OS's default.",
    ),
];

pub fn broker_key(name: &str) -> Option<&'static BrokerKey> {
    BROKER_KEY_TABLE.iter().find(|k| k.name == name)
}

/// Keys that set the same thing, most precise first (Kafka's
/// `DynamicBrokerConfig.brokerConfigSynonyms`).
fn synonym_group(name: &'static str) -> Vec<&'static str> {
    const RETENTION: &[&str] = &[
        "log.retention.ms",
        "log.retention.minutes",
        "log.retention.hours",
    ];
    const ROLL: &[&str] = &["log.roll.ms", "log.roll.hours"];
    if RETENTION.contains(&name) {
        RETENTION.to_vec()
    } else if ROLL.contains(&name) {
        ROLL.to_vec()
    } else {
        vec![name]
    }
}

/// One entry of DescribeConfigs' `synonyms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synonym {
    pub name: &'static str,
    pub value: Option<String>,
    pub source: ConfigSource,
}

impl BrokerConfig {
    /// Kafka's synonym list for broker key `name`, highest precedence first:
    /// the keys of its group set in the file or by a flag
    /// (STATIC_BROKER_CONFIG), then those with a default (DEFAULT_CONFIG).
    /// Kafka drops the entries before the first one named `name` (so
    /// `log.retention.ms` does not list `log.retention.hours=168`); with
    /// `keep_static`, a group member set in the file is kept, since its
    /// value is the one in force.
    pub fn synonyms(&self, name: &'static str, keep_static: bool) -> Vec<Synonym> {
        let group = synonym_group(name);
        let mut out: Vec<Synonym> = group
            .iter()
            .filter_map(|&k| {
                let v = self.static_configs.get(k)?;
                Some(Synonym {
                    name: k,
                    value: Some(v.clone()),
                    source: ConfigSource::Broker,
                })
            })
            .collect();
        let any_static = !out.is_empty();
        out.extend(group.iter().filter_map(|&k| {
            let d = broker_key(k)?.default?;
            Some(Synonym {
                name: k,
                value: Some(d.to_owned()),
                source: ConfigSource::Default,
            })
        }));
        if !(keep_static && any_static) {
            let first = out.iter().position(|s| s.name == name).unwrap_or(out.len());
            out.drain(..first);
        }
        out
    }

    /// A broker key's value in force and where it came from.
    pub fn broker_value(&self, key: &BrokerKey) -> (Option<String>, ConfigSource) {
        if let Some(v) = self.static_configs.get(key.name) {
            return (Some(v.clone()), ConfigSource::Broker);
        }
        let value = match key.name {
            "node.id" | "broker.id" => Some(self.node_id.to_string()),
            "log.dirs" | "log.dir" => Some(self.data_dir.display().to_string()),
            _ => key.default.map(str::to_owned),
        };
        (value, ConfigSource::Default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_kafkas_with_a_local_data_dir() {
        let c = BrokerConfig::from_pairs(&[], None).unwrap();
        assert_eq!(
            c.listener,
            Listener {
                host: "localhost".into(),
                port: 9092
            }
        );
        assert_eq!(c.data_dir, PathBuf::from("strata-data"));
        assert_eq!(c.num_partitions, 1);
        assert!(c.auto_create_topics);
        let (log, durability) = c.log_config(&BTreeMap::new());
        assert_eq!(log.segment_bytes, 1 << 30);
        assert_eq!(log.retention_ms, 7 * 24 * 3600 * 1000);
        assert_eq!(durability, Durability::Sync);
    }

    #[test]
    fn topic_value_beats_broker_value_beats_default() {
        let c = BrokerConfig::from_pairs(
            &pairs(&[("log.retention.hours", "1"), ("log.segment.bytes", "2048")]),
            None,
        )
        .unwrap();
        let mut topic = BTreeMap::new();
        topic.insert("segment.bytes".to_string(), "4096".to_string());
        let key = topic_key("segment.bytes").unwrap();
        assert_eq!(c.resolve(&topic, key), ("4096", ConfigSource::Topic));
        assert_eq!(
            c.resolve(&BTreeMap::new(), key),
            ("2048", ConfigSource::Broker)
        );
        let key = topic_key("retention.ms").unwrap();
        assert_eq!(
            c.resolve(&BTreeMap::new(), key),
            ("3600000", ConfigSource::Broker)
        );
        let key = topic_key("max.message.bytes").unwrap();
        assert_eq!(
            c.resolve(&BTreeMap::new(), key),
            ("1048588", ConfigSource::Default)
        );
    }

    #[test]
    fn unknown_keys_are_reported() {
        let c = BrokerConfig::from_pairs(
            &pairs(&[("num.partitions", "3"), ("made.up.key", "1")]),
            None,
        )
        .unwrap();
        assert_eq!(c.unknown_keys, vec!["made.up.key".to_string()]);
        assert_eq!(c.num_partitions, 3);
    }

    #[test]
    fn properties_files_parse_like_javas() {
        let p = BrokerConfig::parse_properties(
            "# comment\nlisteners=PLAINTEXT://0.0.0.0:9093\n\nnum.partitions : 4\n",
        );
        let c = BrokerConfig::from_pairs(&p, None).unwrap();
        assert_eq!(c.listener.port, 9093);
        assert_eq!(c.advertised.host, "localhost");
        assert_eq!(c.num_partitions, 4);
    }

    #[test]
    fn explicit_flush_settings_opt_out_of_durable_acks() {
        let c = BrokerConfig::from_pairs(&[], None).unwrap();
        let mut topic = BTreeMap::new();
        topic.insert("flush.messages".to_string(), "1000".to_string());
        topic.insert("flush.ms".to_string(), "1000".to_string());
        assert!(matches!(c.log_config(&topic).1, Durability::Async { .. }));
    }

    #[test]
    fn synonyms_follow_kafkas_order_and_its_drop_rule() {
        let c = BrokerConfig::from_pairs(
            &pairs(&[("log.retention.hours", "1"), ("log.segment.bytes", "2048")]),
            None,
        )
        .unwrap();
        let syn = |name: &'static str, value: &str, source| Synonym {
            name,
            value: Some(value.to_owned()),
            source,
        };
        // Kafka lists nothing before the first log.retention.ms entry...
        assert!(c.synonyms("log.retention.ms", false).is_empty());
        // ...unless asked to keep what the file set.
        assert_eq!(
            c.synonyms("log.retention.ms", true),
            vec![
                syn("log.retention.hours", "1", ConfigSource::Broker),
                syn("log.retention.hours", "168", ConfigSource::Default),
            ]
        );
        assert_eq!(
            c.synonyms("log.segment.bytes", false),
            vec![
                syn("log.segment.bytes", "2048", ConfigSource::Broker),
                syn("log.segment.bytes", "1073741824", ConfigSource::Default),
            ]
        );
        let key = broker_key("log.dirs").unwrap();
        assert_eq!(
            c.broker_value(key),
            (Some("strata-data".to_owned()), ConfigSource::Default)
        );
    }

    #[test]
    fn every_key_has_a_type_a_doc_and_a_broker_entry() {
        for k in TOPIC_KEYS {
            let (config_type, doc) = topic_key_info(k.name);
            assert_ne!(config_type, ConfigType::Unknown, "{}", k.name);
            assert!(!doc.is_empty(), "{}", k.name);
            let synonym = broker_key(k.broker_synonym.unwrap()).unwrap();
            // A broker default, where there is one, is the topic default.
            if let Some(d) = synonym.default {
                assert_eq!(d, k.default, "{}", k.name);
            }
        }
        for k in BROKER_KEYS {
            assert!(broker_key(k).is_some(), "{k}");
        }
        assert!(
            BROKER_KEY_TABLE.windows(2).all(|w| w[0].name < w[1].name),
            "sorted, as DescribeConfigs lists them"
        );
    }

    #[test]
    fn bad_topic_configs_are_refused_with_a_reason() {
        assert!(BrokerConfig::validate_topic_config("retention.ms", "soon").is_err());
        assert!(BrokerConfig::validate_topic_config("no.such.key", "1").is_err());
        assert!(
            BrokerConfig::validate_topic_config("message.timestamp.type", "LogAppendTime").is_ok()
        );
    }
}
