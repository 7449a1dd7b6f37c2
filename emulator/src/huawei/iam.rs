//! Huawei IAM as the SDKs and our clients use it, on the emulator's one address:
//!
//! * `POST /v3/auth/tokens` (password method): a token in `X-Subject-Token`, domain-, project- or
//!   un-scoped, valid 24 h of emulator time.
//! * `GET /v3/auth/domains`: the caller's account (Huawei's `KeystoneListAuthDomains`; the Go SDK's
//!   global credentials call it to find the domain id when none is given).
//! * `GET /v3/projects` (`KeystoneListProjects`, filters `name`, `domain_id`, `enabled`, `parent_id`,
//!   `is_domain`) and `GET /v3/auth/projects` (`KeystoneListAuthProjects`): the caller's projects (the
//!   SDK's basic credentials call `GET /v3/projects?name=<region>` to find the project id).
//!
//! The GETs accept an AK/SK signature or an `X-Auth-Token` of any scope, and answer what the IAM API
//! reference documents (`links`, `enabled`, `is_domain`, ...). Errors carry both IAM error shapes:
//! Keystone's `{"error":{"code","message","title"}}` and `{"error_code","error_msg"}`. Every IAM answer
//! carries an `X-IAM-Trace-Id` (the SDK quotes it in its discovery errors) besides the `X-Request-Id`
//! every emulator answer has.

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::core::app::AppState;
use crate::core::auth::{Account, Principal};
use crate::core::clock::rfc3339_micros;
use crate::core::extract::parse_json;
use crate::huawei::apig::verify_signature;

#[derive(Deserialize)]
struct AuthRequest {
    auth: AuthBody,
}
#[derive(Deserialize)]
struct AuthBody {
    identity: Identity,
    #[serde(default)]
    scope: Option<Scope>,
}
#[derive(Deserialize)]
struct Identity {
    methods: Vec<String>,
    #[serde(default)]
    password: Option<PasswordIdentity>,
}
#[derive(Deserialize)]
struct PasswordIdentity {
    user: PasswordUser,
}
#[derive(Deserialize)]
struct PasswordUser {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    id: Option<String>,
    password: String,
    #[serde(default)]
    domain: Option<NameOrId>,
}
#[derive(Deserialize, Default)]
struct NameOrId {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    id: Option<String>,
}
#[derive(Deserialize)]
struct Scope {
    #[serde(default)]
    domain: Option<NameOrId>,
    #[serde(default)]
    project: Option<NameOrId>,
}

fn iam_error(status: StatusCode, code: &str, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let body = json!({
        "error": {"code": status.as_u16(), "message": message, "title": title},
        "error_code": code,
        "error_msg": message,
    });
    traced((status, Json(body)).into_response())
}

/// Adds the `X-IAM-Trace-Id` header IAM puts on its answers.
fn traced(mut resp: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&crate::core::ids::request_id()) {
        resp.headers_mut().insert("x-iam-trace-id", v);
    }
    resp
}

fn matches_ref(r: &NameOrId, id: &str, name: &str) -> bool {
    r.id.as_deref().is_none_or(|x| x == id)
        && r.name.as_deref().is_none_or(|x| x == name)
        && (r.id.is_some() || r.name.is_some())
}

async fn issue_token(State(app): State<AppState>, body: Bytes) -> Response {
    let req: AuthRequest = match parse_json(&body) {
        Ok(r) => r,
        Err(_) => {
            return iam_error(
                StatusCode::BAD_REQUEST,
                "IAM.0001",
                "The request body is invalid.",
            );
        }
    };
    let AuthBody { identity, scope } = req.auth;
    let Some(pw) = identity
        .password
        .filter(|_| identity.methods.iter().any(|m| m == "password"))
    else {
        return iam_error(
            StatusCode::BAD_REQUEST,
            "IAM.0001",
            "Only the password method is supported by the emulator.",
        );
    };
    let user_domain = pw.user.domain.unwrap_or_default();
    let found = app.config().accounts.iter().find_map(|a| {
        if !matches_ref(&user_domain, &a.domain_id, &a.domain_name) {
            return None;
        }
        a.users
            .iter()
            .find(|u| {
                pw.user.name.as_deref().is_some_and(|n| n == u.name)
                    || pw.user.id.as_deref().is_some_and(|i| i == u.id)
            })
            .map(|u| (a, u))
    });
    let Some((account, user)) = found.filter(|(_, u)| u.password == pw.user.password) else {
        return iam_error(
            StatusCode::UNAUTHORIZED,
            "IAM.0007",
            "The username or password is wrong.",
        );
    };
    let principal = Principal {
        domain_id: account.domain_id.clone(),
        domain_name: account.domain_name.clone(),
        user_id: user.id.clone(),
        user_name: user.name.clone(),
    };
    let now = app.clock().now_ms();
    let domain = json!({"id": account.domain_id, "name": account.domain_name});
    let mut token = json!({
        "methods": ["password"],
        "issued_at": rfc3339_micros(now),
        "user": {"id": user.id, "name": user.name, "domain": domain.clone(), "password_expires_at": ""},
        "roles": [{"id": "0", "name": "te_admin"}],
        "catalog": [],
    });
    let domain_scoped = match &scope {
        Some(Scope { domain: Some(d), .. }) => {
            if !matches_ref(d, &account.domain_id, &account.domain_name) {
                return iam_error(
                    StatusCode::UNAUTHORIZED,
                    "IAM.0004",
                    "The domain scope does not match the user's domain.",
                );
            }
            token["domain"] = domain.clone();
            true
        }
        Some(Scope { project: Some(p), .. }) => {
            let Some(project) = account
                .projects()
                .into_iter()
                .find(|x| matches_ref(p, &x.id, &x.name))
            else {
                return iam_error(
                    StatusCode::UNAUTHORIZED,
                    "IAM.0004",
                    "The project scope names no project of the user's domain.",
                );
            };
            token["project"] = json!({"id": project.id, "name": project.name, "domain": domain.clone()});
            false
        }
        _ => false,
    };
    let (value, expires) = app.tokens().issue(principal, domain_scoped, now);
    token["expires_at"] = json!(rfc3339_micros(expires));
    let mut resp = (StatusCode::CREATED, Json(json!({"token": token}))).into_response();
    if let Ok(h) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert("x-subject-token", h);
    }
    traced(resp)
}

/// 401 for a GET without valid credentials (Keystone's text).
fn unauthenticated(detail: &str) -> Response {
    iam_error(
        StatusCode::UNAUTHORIZED,
        "IAM.0001",
        &format!("The request you have made requires authentication. ({detail})"),
    )
}

/// The caller of an IAM GET (an AK/SK signature or a token of any scope) and the base URL it used.
async fn caller(app: &AppState, req: Request) -> Result<(Principal, String), Response> {
    let (parts, body) = req.into_parts();
    let base = format!(
        "http://{}",
        parts
            .headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
    );
    let body: Bytes = axum::body::to_bytes(body, app.config().body_limit_bytes)
        .await
        .map_err(|_| unauthenticated("unreadable body"))?;
    if let Some(signed) = verify_signature(app, &parts, &body) {
        return signed.map(|p| (p, base)).map_err(|e| unauthenticated(&e.message));
    }
    let token = parts
        .headers
        .get("x-auth-token")
        .map(|v| v.to_str().unwrap_or("\u{0}invalid").to_string());
    app.tokens()
        .check_any(token.as_deref(), app.clock().now_ms())
        .map(|p| (p, base))
        .map_err(|e| unauthenticated(&e.to_string()))
}

fn account_of<'a>(app: &'a AppState, p: &Principal) -> Option<&'a Account> {
    app.config().accounts.iter().find(|a| a.domain_id == p.domain_id)
}

async fn list_auth_domains(State(app): State<AppState>, req: Request) -> Response {
    let (principal, base) = match caller(&app, req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let Some(account) = account_of(&app, &principal) else {
        return unauthenticated("unknown account");
    };
    let domain = json!({
        "enabled": true,
        "id": account.domain_id,
        "name": account.domain_name,
        "description": "",
        "links": {"self": format!("{base}/v3/domains/{}", account.domain_id)},
    });
    traced(
        Json(json!({"domains": [domain], "links": {"self": format!("{base}/v3/auth/domains")}}))
            .into_response(),
    )
}

/// Query filters of `GET /v3/projects` (all optional; `page`/`per_page` as in the IAM reference).
#[derive(Deserialize, Default)]
struct ProjectQuery {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    domain_id: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    is_domain: Option<bool>,
    #[serde(default)]
    page: Option<u32>,
    #[serde(default)]
    per_page: Option<u32>,
}

fn project_json(base: &str, account: &Account, id: &str, name: &str) -> Value {
    json!({
        "is_domain": false,
        "description": "",
        "links": {"self": format!("{base}/v3/projects/{id}")},
        "enabled": true,
        "id": id,
        "parent_id": account.domain_id,
        "domain_id": account.domain_id,
        "name": name,
    })
}

async fn projects_answer(app: AppState, req: Request, path: &str) -> Response {
    let query = match Query::<ProjectQuery>::try_from_uri(req.uri()) {
        Ok(Query(q)) => q,
        Err(e) => {
            return iam_error(
                StatusCode::BAD_REQUEST,
                "IAM.0007",
                &format!("Request parameter is invalid: {e}"),
            );
        }
    };
    if query.page == Some(0) || query.per_page.is_some_and(|p| p == 0 || p > 5000) {
        return iam_error(
            StatusCode::BAD_REQUEST,
            "IAM.0007",
            "Request parameter page/per_page is invalid: page >= 1, per_page 1..5000.",
        );
    }
    let (principal, base) = match caller(&app, req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let Some(account) = account_of(&app, &principal) else {
        return unauthenticated("unknown account");
    };
    let matching: Vec<Value> = account
        .projects()
        .iter()
        .filter(|p| query.name.as_deref().is_none_or(|n| n == p.name))
        .filter(|_| query.domain_id.as_deref().is_none_or(|d| d == account.domain_id))
        .filter(|_| query.parent_id.as_deref().is_none_or(|d| d == account.domain_id))
        .filter(|_| query.enabled.is_none_or(|e| e))
        .filter(|_| query.is_domain.is_none_or(|d| !d))
        .map(|p| project_json(&base, account, &p.id, &p.name))
        .collect();
    let per_page = query.per_page.map_or(usize::MAX, |p| p as usize);
    let start = (query.page.unwrap_or(1) as usize - 1).saturating_mul(per_page);
    let shown: Vec<Value> = matching.into_iter().skip(start).take(per_page).collect();
    traced(
        Json(json!({
            "projects": shown,
            "links": {"self": format!("{base}{path}"), "previous": null, "next": null},
        }))
        .into_response(),
    )
}

async fn list_projects(State(app): State<AppState>, req: Request) -> Response {
    projects_answer(app, req, "/v3/projects").await
}

async fn list_auth_projects(State(app): State<AppState>, req: Request) -> Response {
    projects_answer(app, req, "/v3/auth/projects").await
}

/// The IAM router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/auth/tokens", post(issue_token))
        .route("/v3/auth/domains", get(list_auth_domains))
        .route("/v3/projects", get(list_projects))
        .route("/v3/auth/projects", get(list_auth_projects))
}
