//! What one cloud contributes to the emulator, as data: its resource [`Family`]s (routes, tables,
//! timers), the routes it serves without authentication (IAM), and the [`Profile`] of answers its
//! ingress gives (how a request is authenticated, its error bodies for injected faults and unknown
//! routes). Core builds a listener from a [`Cloud`]; each cloud module exposes `pub fn cloud() ->
//! Cloud`, and only `lib.rs` names the clouds. A leaf of `core`: it knows no cloud and no server.

use axum::Router;
use axum::http::request::Parts;
use axum::response::Response;

use crate::core::app::AppState;
use crate::core::auth::Principal;
use crate::core::error::ApiError;
use crate::core::state::{StateError, Store, TimerFn};

/// The cloud-specific answers the ingress middleware needs.
#[derive(Clone, Copy)]
pub struct Profile {
    /// Authenticates a request (its head and body) to the account it acts for, or answers as the
    /// cloud does for a missing, bad or expired credential (Huawei: AK/SK signature or IAM token).
    pub authenticate: fn(&AppState, &Parts, &[u8]) -> Result<Principal, ApiError>,
    /// The cloud's answer for an injected server error (500 or 503) or a lost response (500).
    pub server_error: fn(u16) -> ApiError,
    /// The cloud's answer for a path or method it does not serve.
    pub no_such_api: fn() -> ApiError,
    /// The operation name of a request for counters and fault patterns, when the cloud names
    /// operations otherwise than `"<METHOD> <route>"` (veEN: `veen:<Action>` from the query); `None`
    /// keeps the route name.
    pub operation: fn(&Parts) -> Option<String>,
    /// Renders every error answer of the cloud's router (handler errors, ingress answers —
    /// authentication, throttling, body limit, injected faults — and unknown routes) in the cloud's
    /// error body, wording the core's own [`CoreFault`](crate::core::error::CoreFault)s in the
    /// cloud's codes; it sees the request's head (veEN echoes its `Action`).
    pub render: fn(&Parts, ApiError) -> Response,
}

/// [`Profile::operation`] of clouds that name operations by method and route.
pub fn route_operation(_: &Parts) -> Option<String> {
    None
}

/// A cloud family's contribution to the server (see `crate::iec` for how to write one).
#[derive(Clone, Copy)]
pub struct Family {
    /// Short name for logs and docs.
    pub name: &'static str,
    /// The family's routes.
    pub routes: fn() -> Router<AppState>,
    /// Decodes the family's tables from a loaded snapshot so errors surface at start-up.
    pub register: fn(&mut Store) -> Result<(), StateError>,
    /// Timer handlers by record kind.
    pub timers: &'static [(&'static str, TimerFn)],
}

/// One cloud as the emulator serves it on a listener of its own.
#[derive(Clone)]
pub struct Cloud {
    /// Short name (`iec`), for logs and docs.
    pub name: &'static str,
    /// The resource families, behind the ingress with authentication.
    pub families: Vec<Family>,
    /// Routes served through the ingress without authentication (Huawei IAM token issue and discovery).
    pub open_routes: Vec<fn() -> Router<AppState>>,
    /// The ingress answers.
    pub profile: Profile,
}
