//! Shared helpers for the benches (workload builders).
