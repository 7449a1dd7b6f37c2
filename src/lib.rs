//! edgefleet: a Kubernetes operator that manages edge-cloud infrastructure declaratively.
//!
//! Modules:
//! - [`api`]: the `edgefleet.io/v1alpha1` custom resource types (no I/O).
//! - [`provider`]: the cloud boundary (domain types, pure plans, errors) and one client per cloud.
//! - [`controller`]: the reconcilers and the shared reconcile runtime.
//! - [`operator`]: the process around them: leader election, HTTP probes and metrics, telemetry, shutdown.
//! - [`locks`]: std lock guards that survive poisoning.

pub mod api;
pub mod controller;
pub mod locks;
pub mod operator;
pub mod provider;
