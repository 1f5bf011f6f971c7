//! Shared code of the benches: workload builders for the criterion benches
//! ([`workload`]), the end-to-end load tool behind the `strata-bench`
//! binary ([`load`]), and the soak run behind `strata-soak` ([`soak`]).
//!
//! Never: depends on `strata-server`. The load tool speaks to a broker over
//! TCP only, so that the same run can point at Strata or at Apache Kafka.

pub mod load;
pub mod soak;
pub mod workload;
