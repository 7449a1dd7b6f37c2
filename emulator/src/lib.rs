//! edgefleet-emulator: a faithful emulator of the Huawei IEC and Volcengine veEN APIs over real HTTP.
//!
//! Embed it in tests with [`serve`]:
//!
//! ```no_run
//! # async fn demo() -> Result<(), edgefleet_emulator::Error> {
//! let (addr, handle) = edgefleet_emulator::serve(edgefleet_emulator::Config::default()).await?;
//! // ... point a client at http://{addr} ...
//! let calls = handle.calls();
//! handle.shutdown().await?;
//! # let _ = (addr, calls); Ok(()) }
//! ```
//!
//! Modules: [`core`] (cloud-neutral state, clock, accounts and principals, faults, admin API, server; a
//! cloud is a [`core::cloud::Cloud`] descriptor), [`huawei`] (APIG signing and IAM, shared by the Huawei
//! clouds), [`iec`] (the IEC resource families), [`veen`] (Volcengine veEN, on a listener of its
//! own), [`luchen`] (Luchen GPU instances, on a listener of its own) and [`workspace`] (Huawei
//! Workspace application server groups, likewise), [`modelarts`] (Huawei ModelArts DevServer with the
//! BSS orders, likewise). This file is the only
//! one that names the clouds ([`clouds`]). `docs/emulator.md` lists endpoints, quirks, faults and figures.
#![recursion_limit = "512"]

pub mod config;
pub mod core;
pub mod huawei;
pub mod iec;
pub mod luchen;
pub mod modelarts;
pub mod veen;
pub mod workspace;

pub use crate::config::{Config, Delays};
pub use crate::core::app::AppState;
pub use crate::core::calls::CallsSnapshot;
pub use crate::core::error::{ApiError, Error};
pub use crate::core::faults::Faults;
pub use crate::core::server::ServerHandle;

use std::net::SocketAddr;

use axum::Router;

/// The clouds the emulator serves: the one place that names them. Each gets a listener of its own.
pub fn clouds() -> Vec<core::cloud::Cloud> {
    vec![
        iec::cloud(),
        veen::cloud(),
        luchen::cloud(),
        workspace::cloud(),
        modelarts::cloud(),
    ]
}

/// Builds the IEC router and state without binding (useful for in-process tests).
pub fn build(config: Config) -> Result<(Router, AppState), Error> {
    core::server::build(config, &iec::cloud())
}

/// Starts every cloud over one shared state: IEC on `config.iec_addr`, veEN on `config.veen_addr`,
/// Luchen on `config.luchen_addr`, Workspace on `config.workspace_addr`, ModelArts (+ BSS) on `config.modelarts_addr`. Returns the IEC address and a
/// handle (`handle.addr_of("veen")` / `url_of("veen")` / `url_of("luchen")` / `url_of("workspace")` / `url_of("modelarts")` for
/// the others).
pub async fn serve(config: Config) -> Result<(SocketAddr, ServerHandle), Error> {
    let listeners = vec![
        (iec::cloud(), config.iec_addr),
        (veen::cloud(), config.veen_addr),
        (luchen::cloud(), config.luchen_addr),
        (workspace::cloud(), config.workspace_addr),
        (modelarts::cloud(), config.modelarts_addr),
    ];
    let handle = core::server::serve_many(config, &listeners).await?;
    Ok((handle.addr(), handle))
}
