//! Shared code of the benches: workload builders for the criterion benches
//! ([`workload`]), and the end-to-end load tool behind the `strata-bench`
//! binary ([`load`]).
//!
//! Never: depends on `strata-server`. The load tool speaks to a broker over
//! TCP only, so that the same run can point at Strata or at Apache Kafka.

pub mod load;
pub mod workload;
