//! The Strata broker.
//!
//! Owns: the network (framing, per-connection request order), dispatch, one
//! handler per Kafka API, metadata, the group coordinator and configuration.
//!
//! Never: holds business logic that storage or the coordinator should own,
//! blocks the async runtime on disk I/O, or panics on what a client sends.
//!
//! Not yet: the broker is issue #4. Today the crate only carries the
//! `strata` binary's command line.
