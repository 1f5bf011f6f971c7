//! Shared helpers for the benches (workload builders).

pub mod workload;
