//! Huawei ModelArts DevServer ("Lite Server", `/v1/{project_id}/dev-servers`) and the Huawei BSS order
//! endpoints its yearly/monthly servers go through, as the emulator serves them on a listener of their
//! own (`Config.modelarts_addr`), over the same world, clock, faults and admin API as the other clouds.
//! Wire contract: seed 002, digest §2, design memo §1.2/§4.3 and the HW-SDK `services/modelarts/v1` and
//! `services/bss/v2` models; `docs/emulator.md` § ModelArts lists routes, codes, delays and knobs.
//!
//! * Authentication is Huawei's (`crate::huawei`): an AK/SK `SDK-HMAC-SHA256` signature, or an IAM
//!   `X-Auth-Token` of any scope (ModelArts takes project-scoped tokens, which IEC refuses); failures are
//!   the gateway's 401 `APIGW.0301`. IAM itself is served beside (open routes), so the SDK's project
//!   lookup works against this listener.
//! * [`Scope`] checks the `{project_id}` of a DevServer path against the caller's projects and the
//!   `X-Project-Id` header (403 `ModelArts.0204`).
//! * Families: [`servers`] (DevServers: create with [`create`]'s validation, show, list, rename, delete,
//!   power, OS), [`bss`] (orders: details, pay, cancel, unsubscribe, resources query); [`catalog`] holds
//!   the config; [`errors`] the codes. Errors render in the Huawei body through
//!   `crate::huawei::errors::render`.

pub mod bss;
pub mod catalog;
pub mod create;
pub mod errors;
pub mod servers;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::core::app::AppState;
use crate::core::auth::{Principal, TokenError};
use crate::core::cloud::{Cloud, Profile};
use crate::core::error::ApiError;

/// Record kinds (table names).
pub mod kinds {
    /// DevServers.
    pub const DEV_SERVER: &str = "modelarts.dev_server";
    /// BSS orders (new-purchase and unsubscribe orders).
    pub const ORDER: &str = "bss.order";
}

fn token_error(e: TokenError) -> ApiError {
    let why = match e {
        TokenError::Missing => "the request has neither a signature nor an X-Auth-Token",
        TokenError::Invalid => "decrypt token fail",
        TokenError::Expired => "token expired",
        TokenError::NotDomainScoped => "token scope is not allowed",
    };
    crate::huawei::errors::aksk(why)
}

/// A signature if the request carries one, else an IAM token of any scope.
fn authenticate(app: &AppState, parts: &Parts, body: &[u8]) -> Result<Principal, ApiError> {
    if let Some(signed) = crate::huawei::apig::verify_signature(app, parts, body) {
        return signed;
    }
    let token = parts
        .headers
        .get("x-auth-token")
        .map(|v| v.to_str().unwrap_or("\u{0}invalid"));
    app.tokens()
        .check_any(token, app.clock().now_ms())
        .map_err(token_error)
}

fn server_error(status: u16) -> ApiError {
    if status == 503 {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "APIG.0202",
            "Backend unavailable",
        )
    } else {
        errors::internal("injected")
    }
}

const SERVICE: crate::huawei::errors::Service = crate::huawei::errors::Service {
    internal: errors::internal,
};

fn render(_: &Parts, err: ApiError) -> axum::response::Response {
    crate::huawei::errors::render(err, SERVICE)
}

/// ModelArts' (and BSS's) ingress answers.
pub const PROFILE: Profile = Profile {
    authenticate,
    server_error,
    no_such_api: crate::huawei::errors::no_such_api,
    operation: crate::core::cloud::route_operation,
    render,
};

/// ModelArts DevServer + BSS as the emulator serves them: both families behind Huawei authentication,
/// IAM beside them.
pub fn cloud() -> Cloud {
    Cloud {
        name: "modelarts",
        families: vec![servers::family(), bss::family()],
        open_routes: vec![crate::huawei::iam::routes],
        profile: PROFILE,
    }
}

/// The caller of a `/v1/{project_id}/…` request and the project it acts in, checked: the project must
/// be one of the caller's account's projects, and equal `X-Project-Id` when the request sends one.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The authenticated caller.
    pub principal: Principal,
    /// The project of the path.
    pub project_id: String,
}

/// The `n`th `/`-separated segment of the request path (0 is the empty one before the first `/`).
pub fn segment(parts: &Parts, n: usize) -> String {
    crate::core::paging::percent_decode(parts.uri.path().split('/').nth(n).unwrap_or_default())
}

impl FromRequestParts<AppState> for Scope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(ApiError::unauthenticated)?;
        let project_id = segment(parts, 2);
        let owns = app
            .config()
            .accounts
            .iter()
            .filter(|a| a.domain_id == principal.domain_id)
            .flat_map(|a| a.projects())
            .any(|p| p.id == project_id);
        let header_ok = parts
            .headers
            .get("x-project-id")
            .and_then(|v| v.to_str().ok())
            .is_none_or(|h| h.trim() == project_id);
        if !owns || !header_ok {
            return Err(errors::wrong_project(&project_id));
        }
        Ok(Scope {
            principal,
            project_id,
        })
    }
}
