//! The pieces of edgefleet's measurement drivers, shared by the two binaries of this crate:
//! `edgefleet-bench`, the scale benchmark behind `cargo xtask bench` (docs/benchmarks.md), and
//! `edgefleet-chaos`, the crash-and-fault campaign behind `cargo xtask chaos` (docs/reliability.md).
//!
//! - [`setup`]: CRDs and signals; [`cleanup`]: what a run leaves on the cluster, removed;
//! - [`cloud`]: the `edgefleet-emulator` child process and its admin API;
//! - [`operator`]: `edgefleet run` as a child process (optionally with leader election), its memory and CPU;
//! - [`workload`]: objects as a user applies them, and readiness;
//! - [`apiserver`], [`baseline`], [`report`]: the benchmark's measurements and report;
//! - [`chaos`]: the campaign (one workload per cloud family, kills, faults, the audit and its report).

pub mod apiserver;
pub mod baseline;
pub mod chaos;
pub mod cleanup;
pub mod cloud;
pub mod operator;
pub mod report;
pub mod setup;
pub mod workload;
