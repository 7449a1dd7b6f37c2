//! Luchen Cloud (潞晨云, `cloud.luchentech.com`) GPU instances as the emulator serves them, on a
//! listener of its own (`Config.luchen_addr`) over the same world, clock, faults and admin API as the
//! other clouds. Every call is POST + JSON under `/api` (seed 003, digest §3): [`auth`] (login and
//! the `AccessToken` cookie JWT), [`instances`] (create, list, stop, start, restart, terminate),
//! [`catalog`] (`Config.luchen`: users, token lifetime, regions, GPU instance types, images, remote
//! storages), [`errors`] (`{message}` and `{code:-1,message}` bodies), [`body`] (the validator's
//! presence rule). Counter and fault keys are the route names (`POST /api/instance/create`); the list
//! and the login are counted as reads. `docs/emulator.md` § Luchen says which behaviour is documented
//! and which is the emulator's assumption.

pub mod auth;
pub mod body;
pub mod catalog;
pub mod errors;
pub mod instances;

use axum::Router;
use axum::routing::post;

use crate::core::app::AppState;
use crate::core::cloud::{Cloud, Family, Profile, route_operation};
use crate::core::state::{StateError, Store};

/// Record kinds (table names), namespaced `luchen.*`.
pub mod kinds {
    /// GPU instances.
    pub const INSTANCE: &str = "luchen.instance";
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/instance/create", post(instances::create))
        .route("/api/instance/list", post(instances::list))
        .route("/api/instance/stop", post(instances::stop))
        .route("/api/instance/start", post(instances::start))
        .route("/api/instance/restart", post(instances::restart))
        .route("/api/instance/terminate", post(instances::terminate))
}

fn login_routes() -> Router<AppState> {
    Router::new().route("/api/user/login", post(auth::login))
}

fn register(store: &mut Store) -> Result<(), StateError> {
    store.register::<instances::Instance>()
}

/// The one Luchen family: the instance calls.
pub fn family() -> Family {
    Family {
        name: "luchen",
        routes,
        register,
        timers: &[(kinds::INSTANCE, instances::on_timer)],
    }
}

/// Luchen's ingress answers.
pub const PROFILE: Profile = Profile {
    authenticate: auth::authenticate,
    server_error: errors::server_error,
    no_such_api: errors::no_such_api,
    operation: route_operation,
    render: errors::render,
};

/// Luchen as the emulator serves it: the instance family behind the cookie check, the login open.
pub fn cloud() -> Cloud {
    Cloud {
        name: "luchen",
        families: vec![family()],
        open_routes: vec![login_routes],
        profile: PROFILE,
    }
}
