//! edgefleet-emulator: a faithful emulator of the Huawei IEC API over real HTTP.
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
//! Modules: [`core`] (cloud-neutral state, clock, auth, faults, admin API, server) and [`iec`]
//! (the IEC resource families). `docs/emulator.md` lists endpoints, quirks, faults and figures.
#![recursion_limit = "512"]

pub mod config;
pub mod core;
pub mod iec;

pub use crate::config::{Config, Delays};
pub use crate::core::app::AppState;
pub use crate::core::calls::CallsSnapshot;
pub use crate::core::error::{ApiError, Error};
pub use crate::core::faults::Faults;
pub use crate::core::server::{ServerHandle, build, serve};
