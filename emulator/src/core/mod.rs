//! The cloud-neutral core of the emulator: state store, clock, ids, errors, request extraction,
//! accounts, principals and the session-token store (how a request proves who it is — Huawei APIG
//! signatures and IAM in `crate::huawei`, Volcengine's in `crate::veen` — is the cloud's), fault injection, call counters, the admin API
//! under `/_emulator/` and the HTTP server plumbing. Nothing in here names a cloud: a cloud is a
//! [`cloud::Cloud`] descriptor (families, open routes, ingress profile) built by its sibling module
//! (`crate::iec`) and picked in `lib.rs`.

pub mod admin;
pub mod app;
pub mod auth;
pub mod calls;
pub mod clock;
pub mod cloud;
pub mod error;
pub mod extract;
pub mod faults;
pub mod ids;
pub mod net;
pub mod paging;
pub mod retry_after;
pub mod server;
pub mod shared;
pub mod state;
