//! The Strata broker.
//!
//! Owns: the network (framing, per-connection request order), dispatch, one
//! handler per Kafka API, the cluster metadata and configuration.
//!
//! Never: holds business logic that storage or the coordinator should own,
//! blocks the async runtime on disk I/O (storage calls run on storage
//! threads or `spawn_blocking`), or panics on what a client sends.
//!
//! A request flows one way: [`net`] (frame) -> `strata_protocol` (decode) ->
//! [`dispatch`] -> [`handlers`] -> `strata_storage` / [`metadata`] ->
//! encode -> [`net`].
//!
//! Modules:
//! - [`config`]: broker and topic configuration in Kafka's keys.
//! - [`metadata`]: topics, ids and configs, as a synced log of records.
//! - [`broker`]: the broker's state; topic creation and deletion.
//! - [`net`], [`dispatch`], [`handlers`]: serving requests.
//! - [`fetch_session`]: incremental fetch sessions (KIP-227).
//! - [`coordinator`]: consumer groups (classic protocol) and committed
//!   offsets, kept in `__consumer_offsets`.
//! - [`zero_copy`]: record sets sent from segment files with `sendfile`.
//! - [`error_code`]: Kafka's error codes; storage errors mapped to them.

pub mod broker;
pub mod config;
pub mod coordinator;
pub mod dispatch;
pub mod error_code;
pub mod fetch_session;
pub mod handlers;
pub mod metadata;
pub mod net;
pub mod zero_copy;
