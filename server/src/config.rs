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
    /// Broker-level values of topic configs (`log.retention.ms`, ...), by
    /// the topic key they stand for.
    pub topic_defaults: BTreeMap<&'static str, String>,
    pub unknown_keys: Vec<String>,
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
    "num.io.threads",
    "log.retention.check.interval.ms",
    "log.retention.hours",
    "log.retention.minutes",
    "log.roll.hours",
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
            retention_check_interval: Duration::from_millis(
                parse_i64("log.retention.check.interval.ms", 300_000)?.max(1000) as u64,
            ),
            topic_defaults,
            unknown_keys,
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
    fn bad_topic_configs_are_refused_with_a_reason() {
        assert!(BrokerConfig::validate_topic_config("retention.ms", "soon").is_err());
        assert!(BrokerConfig::validate_topic_config("no.such.key", "1").is_err());
        assert!(
            BrokerConfig::validate_topic_config("message.timestamp.type", "LogAppendTime").is_ok()
        );
    }
}
