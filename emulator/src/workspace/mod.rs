//! Huawei Workspace application streaming ("WorkspaceApp", endpoint `appstream.{region}`) as the
//! emulator serves it on a listener of its own (`Config.workspace_addr`), over the same world,
//! clock, faults and admin API as the other clouds. Paths, bodies and answers are the real API's
//! (seed 004, the HW Go SDK `services/workspaceapp/v1`); `docs/emulator.md` § Workspace lists them.
//!
//! Every API route is authenticated the Huawei way (`crate::huawei::apig`: an AK/SK signature or an
//! IAM token of any scope) and its `{project_id}` must be one of the caller's projects (and equal an
//! `X-Project-Id` header when one is sent). Errors are `{error_code, error_msg}` in the `WKS.*`
//! codes of [`errors`], rendered by `crate::huawei::errors`; throttling is the core's
//! (`APIG.0308`, 429 + `Retry-After`). IAM is served beside the API (open routes), as on IEC.
//!
//! Families: [`groups`] (server groups, their state and tags), [`servers`] (application servers
//! and their power actions), [`jobs`] (create/delete jobs, their reads and the job-failure admin
//! knob), [`scaling`] (scaling policies, stored and shown, never acted on), [`catalog`] (products,
//! disk types, quota check; the `workspace` config section).

pub mod catalog;
pub mod common;
pub mod errors;
pub mod groups;
pub mod jobs;
pub mod scaling;
pub mod servers;

use axum::Router;
use axum::http::request::Parts;

use crate::core::app::AppState;
use crate::core::auth::Principal;
use crate::core::cloud::{Cloud, Family, Profile};
use crate::core::error::ApiError;
use crate::core::state::{StateError, Store};

/// Record kinds (table names), namespaced `workspace.*`.
pub mod kinds {
    /// Server groups.
    pub const SERVER_GROUP: &str = "workspace.server_group";
    /// Application servers.
    pub const APP_SERVER: &str = "workspace.app_server";
    /// Jobs.
    pub const JOB: &str = "workspace.job";
    /// The job-failure rules of the admin knob.
    pub const JOB_FAILURES: &str = "workspace.job_failures";
}

/// The `{project_id}` of an API path (`/v1/{project_id}/...`, `/v2/{project_id}/...`).
fn path_project(path: &str) -> Option<&str> {
    let mut segs = path.trim_start_matches('/').split('/');
    match segs.next() {
        Some("v1" | "v2") => segs.next().filter(|s| !s.is_empty()),
        _ => None,
    }
}

/// Checks that the path's project is the caller's and equals `X-Project-Id` when one is sent.
fn check_project(app: &AppState, parts: &Parts, principal: &Principal) -> Result<(), ApiError> {
    let Some(pid) = path_project(parts.uri.path()) else {
        return Ok(());
    };
    if let Some(header) = parts.headers.get("x-project-id").and_then(|v| v.to_str().ok())
        && header.trim() != pid
    {
        return Err(crate::huawei::errors::aksk(format!(
            "the X-Project-Id {header} does not match the project {pid} of the path"
        )));
    }
    let owns = app
        .config()
        .accounts
        .iter()
        .filter(|a| a.domain_id == principal.domain_id)
        .flat_map(|a| a.projects())
        .any(|p| p.id == pid);
    if !owns {
        return Err(crate::huawei::errors::aksk(format!(
            "the project {pid} is not a project of the caller's account"
        )));
    }
    Ok(())
}

/// Huawei authentication (a signature, else an IAM token of any scope), then the project check.
fn authenticate(app: &AppState, parts: &Parts, body: &[u8]) -> Result<Principal, ApiError> {
    let principal = match crate::huawei::apig::verify_signature(app, parts, body) {
        Some(signed) => signed?,
        None => {
            let token = parts
                .headers
                .get("x-auth-token")
                .map(|v| v.to_str().unwrap_or("\u{0}invalid"));
            app.tokens()
                .check_any(token, app.clock().now_ms())
                .map_err(errors::token_error)?
        }
    };
    check_project(app, parts, &principal)?;
    Ok(principal)
}

/// What Workspace's error answers add to the Huawei body.
const SERVICE: crate::huawei::errors::Service = crate::huawei::errors::Service {
    internal: errors::internal,
};

/// Every Workspace error answer in the Huawei body.
fn render(_: &Parts, err: ApiError) -> axum::response::Response {
    crate::huawei::errors::render(err, SERVICE)
}

/// Workspace's answers for the ingress middleware.
pub const PROFILE: Profile = Profile {
    authenticate,
    server_error: errors::server_error,
    no_such_api: crate::huawei::errors::no_such_api,
    operation: crate::core::cloud::route_operation,
    render,
};

fn register(store: &mut Store) -> Result<(), StateError> {
    store.register::<groups::ServerGroup>()?;
    store.register::<servers::AppServer>()?;
    store.register::<jobs::Job>()?;
    store.register::<jobs::FailureRules>()
}

fn routes() -> Router<AppState> {
    Router::new()
        .merge(groups::routes())
        .merge(servers::routes())
        .merge(jobs::routes())
        .merge(catalog::routes())
        .merge(scaling::routes())
}

/// The one Workspace family.
pub fn family() -> Family {
    Family {
        name: "workspace",
        routes,
        register,
        timers: &[
            (kinds::JOB, jobs::on_timer),
            (kinds::APP_SERVER, servers::on_timer),
        ],
    }
}

/// Workspace as the emulator serves it: the family, IAM and the job-failure admin knob beside it.
pub fn cloud() -> Cloud {
    Cloud {
        name: "workspace",
        families: vec![family()],
        open_routes: vec![crate::huawei::iam::routes, jobs::admin_routes],
        profile: PROFILE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_of_a_path() {
        assert_eq!(path_project("/v1/abc/app-server-groups"), Some("abc"));
        assert_eq!(path_project("/v2/abc/job/1"), Some("abc"));
        assert_eq!(path_project("/v3/projects"), None);
        assert_eq!(path_project("/_emulator/workspace/job-failures"), None);
    }
}
