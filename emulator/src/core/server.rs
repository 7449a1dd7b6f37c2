//! HTTP plumbing: the ingress middleware every cloud route runs through, the IAM token endpoint,
//! [`serve`] (the embed API) and [`ServerHandle`].
//!
//! Ingress order for a cloud request: count the request → read the body (≤ `body_limit_bytes`,
//! else 413) → authenticate (AK/SK signature or IAM token) → throttle (429) → injected latency →
//! injected 500/503 → handler → count the mutation → lost-response fault.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::core::app::AppState;
use crate::core::auth::{self, Principal, SignInput, TokenError};
use crate::core::calls::CallsSnapshot;
use crate::core::clock::rfc3339_micros;
use crate::core::error::{ApiError, Error};
use crate::core::extract::parse_json;
use crate::core::faults::LostMode;
use crate::core::state::{StateError, Store, TimerFn, World};

/// Cloud-specific answers the ingress middleware needs.
#[derive(Clone, Copy)]
pub struct Profile {
    /// Maps a rejected token to the cloud's 401/403 answer.
    pub token_error: fn(TokenError) -> ApiError,
    /// The cloud's answer for an injected server error (500 or 503) or a lost response (500).
    pub server_error: fn(u16) -> ApiError,
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

/// Builds the ingress middleware layer for a cloud router.
pub fn with_ingress(
    router: Router<AppState>,
    app: AppState,
    profile: Profile,
    authenticate: bool,
) -> Router<AppState> {
    router
        .route_layer(middleware::from_fn_with_state(
            (app, profile, authenticate),
            ingress,
        ))
        .layer(DefaultBodyLimit::disable())
}

fn header_pairs(req: &axum::http::request::Parts) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = req
        .headers
        .iter()
        .filter_map(|(k, val)| val.to_str().ok().map(|s| (k.as_str().to_string(), s.to_string())))
        .collect();
    if !v.iter().any(|(k, _)| k == "host")
        && let Some(a) = req.uri.authority()
    {
        v.push(("host".into(), a.to_string()));
    }
    v
}

fn authenticate_request(
    app: &AppState,
    profile: &Profile,
    parts: &axum::http::request::Parts,
    body: &[u8],
) -> Result<Principal, ApiError> {
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(parsed) = authorization.and_then(auth::parse_authorization) {
        let parsed = parsed.map_err(ApiError::aksk)?;
        let headers = header_pairs(parts);
        let input = SignInput {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &headers,
            body,
        };
        let now = chrono::Utc::now().timestamp();
        return auth::verify_aksk(&app.config().accounts, &parsed, &input, now);
    }
    let token = parts
        .headers
        .get("x-auth-token")
        .map(|v| v.to_str().unwrap_or("\u{0}invalid"));
    app.tokens()
        .check(token, app.clock().now_ms())
        .map_err(profile.token_error)
}

async fn ingress(
    State((app, profile, authenticate)): State<(AppState, Profile, bool)>,
    req: Request,
    next: Next,
) -> Response {
    let op = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map_or_else(|| req.uri().path().to_string(), |m| m.as_str().to_string())
    );
    app.calls().request(&op);
    let is_mutation_method = !matches!(*req.method(), Method::GET | Method::HEAD);
    let (mut parts, body) = req.into_parts();
    let limit = app.config().body_limit_bytes;
    let bytes: Bytes = match read_limited(body, limit).await {
        Ok(b) => b,
        Err(resp) => {
            app.calls().finished(&op, resp.status.as_u16(), false);
            return resp.into_response();
        }
    };
    if authenticate {
        match authenticate_request(&app, &profile, &parts, &bytes) {
            Ok(principal) => {
                if let Err(e) = app.throttle(&principal.domain_id) {
                    app.calls().finished(&op, e.status.as_u16(), false);
                    return e.into_response();
                }
                parts.extensions.insert(principal);
            }
            Err(e) => {
                app.calls().finished(&op, e.status.as_u16(), false);
                return e.into_response();
            }
        }
    }
    let faults = app.faults();
    if let Some(l) = faults.latency_for(&op) {
        let jitter = if l.jitter_ms > 0 {
            app.below(l.jitter_ms + 1)
        } else {
            0
        };
        let total = l.fixed_ms + jitter;
        if total > 0 {
            tokio::time::sleep(Duration::from_millis(total)).await;
        }
    }
    if let Some(e) = faults.error_for(&op)
        && app.roll(e.rate)
    {
        let resp = (profile.server_error)(e.status);
        app.calls().finished(&op, resp.status.as_u16(), false);
        return resp.into_response();
    }
    let req = Request::from_parts(parts, Body::from(bytes));
    let resp = next.run(req).await;
    let status = resp.status();
    let mutation = is_mutation_method && status.is_success();
    if mutation
        && let Some(lost) = faults.lost_for(&op)
        && app.roll(lost.rate)
    {
        return match lost.mode {
            LostMode::Error500 => {
                let e = (profile.server_error)(500);
                app.calls().finished(&op, e.status.as_u16(), true);
                e.into_response()
            }
            LostMode::Drop => {
                app.calls().finished(&op, 0, true);
                let stream = futures::stream::once(async {
                    Err::<Bytes, std::io::Error>(std::io::Error::other("response dropped by fault injection"))
                });
                let mut r = Response::new(Body::from_stream(stream));
                *r.status_mut() = StatusCode::OK;
                r
            }
        };
    }
    app.calls().finished(&op, status.as_u16(), mutation);
    resp
}

/// Reads a body of at most `limit` bytes; larger → 413 `APIGW.0201`, unreadable → 400.
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::gateway(
                StatusCode::BAD_REQUEST,
                "APIGW.0201",
                "Bad request: the body could not be read",
            )
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::body_too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

// ---- IAM --------------------------------------------------------------------------------------

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
    (status, Json(body)).into_response()
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
            let name = p.name.clone().unwrap_or_else(|| "cn-north-4".into());
            let id = p.id.clone().unwrap_or_else(|| {
                uuid::Uuid::new_v5(
                    &uuid::Uuid::NAMESPACE_OID,
                    format!("{}/{name}", account.domain_id).as_bytes(),
                )
                .simple()
                .to_string()
            });
            token["project"] = json!({"id": id, "name": name, "domain": domain.clone()});
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
    resp
}

/// The IAM router (`POST /v3/auth/tokens`).
pub fn iam_routes() -> Router<AppState> {
    Router::new().route("/v3/auth/tokens", post(issue_token))
}

// ---- serve ------------------------------------------------------------------------------------

/// A running emulator.
pub struct ServerHandle {
    addr: SocketAddr,
    app: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    join: JoinHandle<std::io::Result<()>>,
}

impl ServerHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The shared application state (faults, clock, counters, state access).
    pub fn app(&self) -> &AppState {
        &self.app
    }

    /// The whole state as a snapshot document (same as `GET /_emulator/state`).
    pub fn state(&self) -> serde_json::Value {
        self.app.snapshot()
    }

    /// The call counters (same as `GET /_emulator/calls`).
    pub fn calls(&self) -> CallsSnapshot {
        self.app.calls().snapshot()
    }

    /// Stops accepting connections, finishes in-flight requests, then writes the state file (if
    /// configured).
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match (&mut self.join).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Serve(e)),
            Err(e) => return Err(Error::Serve(std::io::Error::other(e.to_string()))),
        }
        save_state(&self.app)
    }
}

fn save_state(app: &AppState) -> Result<(), Error> {
    if let Some(path) = &app.config().state_file {
        let json = serde_json::to_vec(&app.snapshot()).unwrap_or_default();
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, json).map_err(|source| Error::Write {
            path: tmp.clone(),
            source,
        })?;
        std::fs::rename(&tmp, path).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

fn load_state(config: &Config) -> Result<World, Error> {
    let Some(path) = &config.state_file else {
        return Ok(World::default());
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| Error::Parse {
                path: path.clone(),
                message: e.to_string(),
            })?;
            World::from_json(value).map_err(Error::State)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(World::default()),
        Err(source) => Err(Error::Read {
            path: path.clone(),
            source,
        }),
    }
}

/// Builds the full router and state without binding (useful for in-process tests).
pub fn build(config: Config) -> Result<(Router, AppState), Error> {
    let mut world = load_state(&config)?;
    let families = crate::iec::families();
    let mut timers: HashMap<String, TimerFn> = HashMap::new();
    for fam in &families {
        for (kind, f) in fam.timers {
            timers.insert((*kind).to_string(), *f);
        }
    }
    for id in world.account_ids() {
        let store = world.account(&id);
        for fam in &families {
            (fam.register)(store).map_err(Error::State)?;
        }
    }
    let app = AppState::new(config, world, timers);
    let mut cloud: Router<AppState> = Router::new();
    for fam in &families {
        cloud = cloud.merge((fam.routes)());
    }
    let cloud = with_ingress(cloud, app.clone(), crate::iec::PROFILE, true);
    let iam = with_ingress(iam_routes(), app.clone(), crate::iec::PROFILE, false);
    let router = Router::new()
        .merge(cloud)
        .merge(iam)
        .merge(crate::core::admin::routes())
        .fallback(|| async { ApiError::no_such_api() })
        .method_not_allowed_fallback(|| async { ApiError::no_such_api() })
        .with_state(app.clone());
    Ok((router, app))
}

/// Starts the emulator on `config.iec_addr` and returns the bound address and a handle.
pub async fn serve(config: Config) -> Result<(SocketAddr, ServerHandle), Error> {
    let addr = config.iec_addr;
    let (router, app) = build(config)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| Error::Bind { addr, source })?;
    let (tx, rx) = oneshot::channel::<()>();
    let join = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    tracing::info!(%bound, "edgefleet emulator listening");
    Ok((
        bound,
        ServerHandle {
            addr: bound,
            app,
            shutdown: Some(tx),
            join,
        },
    ))
}
