//! Incremental fetch sessions (KIP-227): a consumer that fetches the same
//! partitions over and over sends, after the first full request, only what
//! changed, and the answer carries only the partitions with something new.
//!
//! Request `(session_id, epoch)`, as the KIP defines them:
//!
//! | session_id | epoch | meaning                                               |
//! |------------|-------|-------------------------------------------------------|
//! | 0          | -1    | full fetch, no session                                |
//! | 0          | 0     | full fetch, open a session (answered with its id)     |
//! | s          | -1    | close session s; full fetch, no session               |
//! | s          | 0     | close session s and open a new one                    |
//! | s          | n > 0 | incremental fetch in session s, which expects epoch n |
//!
//! FETCH_SESSION_ID_NOT_FOUND: s is unknown (evicted, or from before a
//! restart). INVALID_FETCH_SESSION_EPOCH: n is not the epoch s expects.
//! The cache holds `max.incremental.fetch.session.cache.slots` sessions
//! (Kafka's default, 1000); when full, the least recently used is evicted.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use strata_protocol::types::Uuid;

/// A partition in a session: by topic name (before v13) or id (v13+).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionPartition {
    pub topic: String,
    pub topic_id: Uuid,
    pub partition: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachedPartition {
    pub fetch_offset: i64,
    pub max_bytes: i32,
    /// What the last answer told the client, to know what changed since.
    pub high_watermark: i64,
    pub log_start_offset: i64,
}

#[derive(Debug)]
pub struct Session {
    /// The epoch the next request must carry.
    pub next_epoch: i32,
    pub partitions: BTreeMap<SessionPartition, CachedPartition>,
    last_used: Instant,
}

/// How a request relates to the cache.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionRequest {
    /// Full fetch; answer with this session id (0: none).
    Full {
        session_id: i32,
    },
    /// Incremental fetch in this session.
    Incremental {
        session_id: i32,
    },
    NotFound,
    InvalidEpoch,
}

#[derive(Debug)]
pub struct FetchSessionCache {
    sessions: HashMap<i32, Session>,
    capacity: usize,
    next_id: u32,
}

impl FetchSessionCache {
    pub fn new(capacity: usize) -> FetchSessionCache {
        // Ids differ from one broker run to the next, so a client's session
        // from before a restart is not mistaken for a new one.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos() ^ d.as_secs() as u32);
        FetchSessionCache {
            sessions: HashMap::new(),
            capacity,
            next_id: seed,
        }
    }

    fn new_id(&mut self) -> i32 {
        loop {
            // A Weyl sequence: distinct ids until it wraps, positive and non-zero.
            self.next_id = self.next_id.wrapping_add(0x9e37_79b9);
            let id = (self.next_id & 0x7fff_ffff) as i32;
            if id != 0 && !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Classifies a request and opens, closes or checks sessions as it asks.
    /// `full_partitions` are the partitions of a full request (they become
    /// the new session's).
    pub fn begin(
        &mut self,
        session_id: i32,
        epoch: i32,
        full_partitions: &[(SessionPartition, CachedPartition)],
    ) -> SessionRequest {
        if session_id != 0 && epoch <= 0 {
            self.sessions.remove(&session_id);
        }
        if epoch == -1 {
            return SessionRequest::Full { session_id: 0 };
        }
        if epoch == 0 {
            if self.capacity == 0 {
                return SessionRequest::Full { session_id: 0 };
            }
            if self.sessions.len() >= self.capacity {
                if let Some((&lru, _)) = self.sessions.iter().min_by_key(|(_, s)| s.last_used) {
                    self.sessions.remove(&lru);
                }
            }
            let id = self.new_id();
            self.sessions.insert(
                id,
                Session {
                    next_epoch: 1,
                    partitions: full_partitions.iter().cloned().collect(),
                    last_used: Instant::now(),
                },
            );
            return SessionRequest::Full { session_id: id };
        }
        match self.sessions.get_mut(&session_id) {
            None => SessionRequest::NotFound,
            Some(s) if s.next_epoch != epoch => SessionRequest::InvalidEpoch,
            Some(s) => {
                s.last_used = Instant::now();
                s.next_epoch = if epoch == i32::MAX { 1 } else { epoch + 1 };
                SessionRequest::Incremental { session_id }
            }
        }
    }

    pub fn session_mut(&mut self, session_id: i32) -> Option<&mut Session> {
        self.sessions.get_mut(&session_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(topic: &str, partition: i32) -> (SessionPartition, CachedPartition) {
        (
            SessionPartition {
                topic: topic.into(),
                topic_id: Uuid::ZERO,
                partition,
            },
            CachedPartition {
                fetch_offset: 0,
                max_bytes: 1024,
                high_watermark: -1,
                log_start_offset: -1,
            },
        )
    }

    #[test]
    fn sessions_open_advance_and_close_as_the_kip_says() {
        let mut cache = FetchSessionCache::new(10);
        assert_eq!(
            cache.begin(0, -1, &[p("a", 0)]),
            SessionRequest::Full { session_id: 0 }
        );
        assert!(cache.is_empty());
        let SessionRequest::Full { session_id } = cache.begin(0, 0, &[p("a", 0), p("a", 1)]) else {
            panic!()
        };
        assert_ne!(session_id, 0);
        assert_eq!(cache.session_mut(session_id).unwrap().partitions.len(), 2);
        assert_eq!(
            cache.begin(session_id, 1, &[]),
            SessionRequest::Incremental { session_id }
        );
        assert_eq!(
            cache.begin(session_id, 1, &[]),
            SessionRequest::InvalidEpoch,
            "epoch 1 was used"
        );
        assert_eq!(
            cache.begin(session_id, 2, &[]),
            SessionRequest::Incremental { session_id }
        );
        assert_eq!(cache.begin(12345, 1, &[]), SessionRequest::NotFound);
        assert_eq!(
            cache.begin(session_id, -1, &[]),
            SessionRequest::Full { session_id: 0 }
        );
        assert_eq!(
            cache.begin(session_id, 3, &[]),
            SessionRequest::NotFound,
            "closed"
        );
    }

    #[test]
    fn a_full_cache_evicts_the_least_recently_used_session() {
        let mut cache = FetchSessionCache::new(2);
        let SessionRequest::Full { session_id: a } = cache.begin(0, 0, &[p("a", 0)]) else {
            panic!()
        };
        std::thread::sleep(std::time::Duration::from_millis(2));
        let SessionRequest::Full { session_id: b } = cache.begin(0, 0, &[p("b", 0)]) else {
            panic!()
        };
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert_eq!(
            cache.begin(a, 1, &[]),
            SessionRequest::Incremental { session_id: a }
        );
        let SessionRequest::Full { session_id: c } = cache.begin(0, 0, &[p("c", 0)]) else {
            panic!()
        };
        assert_eq!(cache.len(), 2);
        assert_eq!(
            cache.begin(b, 1, &[]),
            SessionRequest::NotFound,
            "b was used least recently"
        );
        assert_eq!(
            cache.begin(c, 1, &[]),
            SessionRequest::Incremental { session_id: c }
        );
    }
}
