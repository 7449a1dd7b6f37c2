//! HTTP plumbing: the ingress middleware every cloud route runs through, the `X-Request-Id` every
//! answer carries, [`build`]/[`serve`] of one [`Cloud`](crate::core::cloud::Cloud) and
//! [`ServerHandle`]. Nothing here names a cloud: authentication, error bodies and routes come from the
//! cloud's descriptor (`crate::lib` picks the clouds).
//!
//! Ingress order for a cloud request: count the request → read the body (≤ `body_limit_bytes`,
//! else 413) → authenticate (the cloud's [`Profile::authenticate`]) → throttle (429) → injected latency →
//! injected 500/503 → handler → count the mutation (unless the handler marked its answer a
//! [`ReadAnswer`](crate::core::calls::ReadAnswer)) → lost-response fault. Every error answer on the
//! way (an [`ApiError`] response) is given the cloud's body by the `render_errors` layer around the
//! cloud's routes, through its [`Profile::render`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::core::app::AppState;
use crate::core::calls::{CallsSnapshot, ReadAnswer};
use crate::core::cloud::{Cloud, Profile};
use crate::core::error::{ApiError, Error, Unrendered};
use crate::core::faults::LostMode;
use crate::core::state::{TimerFn, World};

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

/// Puts an `X-Request-Id` on every answer (API, IAM, admin and unknown routes) that has none yet;
/// gateway errors already carry one, equal to the `request_id` in their body.
async fn request_id(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    if !resp.headers().contains_key(REQUEST_ID)
        && let Ok(v) = HeaderValue::from_str(&crate::core::ids::request_id())
    {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// The request id header every answer carries.
pub use crate::core::ids::REQUEST_ID;

async fn ingress(
    State((app, profile, authenticate)): State<(AppState, Profile, bool)>,
    req: Request,
    next: Next,
) -> Response {
    let is_mutation_method = !matches!(*req.method(), Method::GET | Method::HEAD);
    let (mut parts, body) = req.into_parts();
    let op = (profile.operation)(&parts).unwrap_or_else(|| {
        format!(
            "{} {}",
            parts.method,
            parts
                .extensions
                .get::<MatchedPath>()
                .map_or_else(|| parts.uri.path().to_string(), |m| m.as_str().to_string())
        )
    });
    app.calls().request(&op, !is_mutation_method);
    let limit = app.config().body_limit_bytes;
    let bytes: Bytes = match read_limited(body, limit).await {
        Ok(b) => b,
        Err(e) => {
            app.calls().finished(&op, e.status.as_u16(), false);
            return e.into_response();
        }
    };
    if authenticate {
        match (profile.authenticate)(&app, &parts, &bytes) {
            Ok(principal) => {
                if let Err(e) = app.throttle(&principal.domain_id, &op) {
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
        let err = (profile.server_error)(e.status);
        app.calls().finished(&op, err.status.as_u16(), false);
        return err.into_response();
    }
    let req = Request::from_parts(parts, Body::from(bytes));
    let resp = next.run(req).await;
    let status = resp.status();
    let read_answer = resp.extensions().get::<ReadAnswer>().is_some();
    if read_answer && is_mutation_method {
        app.calls().read_after_all(&op);
    }
    let mutation = is_mutation_method && !read_answer && status.is_success();
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

/// Gives every error answer of a cloud's router the cloud's body: an [`ApiError`] response (from a
/// handler, an extractor, the ingress or the unknown-route fallback) still carries the error
/// ([`Unrendered`]), and the cloud's [`Profile::render`] replaces it, seeing the request's head.
async fn render_errors(State(render): State<Render>, req: Request, next: Next) -> Response {
    let head = RequestHead {
        method: req.method().clone(),
        uri: req.uri().clone(),
        headers: req.headers().clone(),
    };
    let mut resp = next.run(req).await;
    match resp.extensions_mut().remove::<Unrendered>() {
        Some(Unrendered(err)) => render(&head.parts(), err),
        None => resp,
    }
}

/// A cloud's [`Profile::render`].
type Render = fn(&axum::http::request::Parts, ApiError) -> Response;

/// The head of a request, kept to render its error answer once the request went to the handler.
struct RequestHead {
    method: Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
}

impl RequestHead {
    fn parts(&self) -> axum::http::request::Parts {
        let mut req = Request::new(());
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req.into_parts().0
    }
}

/// Reads a body of at most `limit` bytes; larger → 413, unreadable → 400 (the cloud words both).
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::body_unreadable())?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::body_too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

// ---- serve ------------------------------------------------------------------------------------

/// A running emulator.
pub struct ServerHandle {
    addrs: Vec<(&'static str, SocketAddr)>,
    app: AppState,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    joins: Vec<JoinHandle<std::io::Result<()>>>,
}

impl ServerHandle {
    /// The bound address of the first cloud (IEC).
    pub fn addr(&self) -> SocketAddr {
        self.addrs
            .first()
            .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |(_, a)| *a)
    }

    /// The bound address of the cloud named `cloud` (`iec`, `veen`), if it is served.
    pub fn addr_of(&self, cloud: &str) -> Option<SocketAddr> {
        self.addrs.iter().find(|(n, _)| *n == cloud).map(|(_, a)| *a)
    }

    /// The base URL of the cloud named `cloud`, e.g. `http://127.0.0.1:41235`.
    pub fn url_of(&self, cloud: &str) -> Option<String> {
        self.addr_of(cloud).map(|a| format!("http://{a}"))
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
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
            let _ = tx.send(true);
        }
        let mut failure = None;
        for join in std::mem::take(&mut self.joins) {
            match join.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failure = failure.or(Some(Error::Serve(e))),
                Err(e) => failure = failure.or(Some(Error::Serve(std::io::Error::other(e.to_string())))),
            }
        }
        if let Some(e) = failure {
            return Err(e);
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

/// Builds the router and state of one cloud without binding (useful for in-process tests): the
/// cloud's families behind the ingress with its [`Profile`], its open routes (no authentication),
/// the admin API, and the cloud's answer for unknown routes.
pub fn build(config: Config, cloud: &Cloud) -> Result<(Router, AppState), Error> {
    let (mut routers, app) = build_many(config, std::slice::from_ref(cloud))?;
    let router = routers.pop().unwrap_or_default();
    Ok((router, app))
}

/// Builds one router per cloud over one shared state (world, clock, faults, counters, admin API):
/// every cloud's families are registered and their timers run whichever listener a request arrives on.
pub fn build_many(config: Config, clouds: &[Cloud]) -> Result<(Vec<Router>, AppState), Error> {
    let mut world = load_state(&config)?;
    let mut timers: HashMap<String, TimerFn> = HashMap::new();
    for fam in clouds.iter().flat_map(|c| &c.families) {
        for (kind, f) in fam.timers {
            timers.insert((*kind).to_string(), *f);
        }
    }
    for id in world.account_ids() {
        let store = world.account(&id);
        for fam in clouds.iter().flat_map(|c| &c.families) {
            (fam.register)(store).map_err(Error::State)?;
        }
    }
    let app = AppState::new(config, world, timers);
    let routers = clouds.iter().map(|cloud| cloud_router(cloud, &app)).collect();
    Ok((routers, app))
}

fn cloud_router(cloud: &Cloud, app: &AppState) -> Router {
    let mut routes: Router<AppState> = Router::new();
    for fam in &cloud.families {
        routes = routes.merge((fam.routes)());
    }
    let mut router = Router::new().merge(with_ingress(routes, app.clone(), cloud.profile, true));
    for open in &cloud.open_routes {
        router = router.merge(with_ingress(open(), app.clone(), cloud.profile, false));
    }
    let unknown = cloud.profile.no_such_api;
    let answer = move || async move { unknown().into_response() };
    let render: Render = cloud.profile.render;
    router
        .fallback(answer)
        .method_not_allowed_fallback(answer)
        .layer(middleware::from_fn_with_state(render, render_errors))
        .merge(crate::core::admin::routes())
        .layer(middleware::from_fn(request_id))
        .with_state(app.clone())
}

/// Starts `cloud` on `addr` and returns the bound address and a handle.
pub async fn serve(
    config: Config,
    cloud: &Cloud,
    addr: SocketAddr,
) -> Result<(SocketAddr, ServerHandle), Error> {
    let handle = serve_many(config, &[(cloud.clone(), addr)]).await?;
    Ok((handle.addr(), handle))
}

/// Starts each cloud on its own address over one shared state; the handle's [`ServerHandle::addr`]
/// is the first cloud's, [`ServerHandle::addr_of`] names the others.
pub async fn serve_many(config: Config, clouds: &[(Cloud, SocketAddr)]) -> Result<ServerHandle, Error> {
    let descriptors: Vec<Cloud> = clouds.iter().map(|(c, _)| c.clone()).collect();
    let (routers, app) = build_many(config, &descriptors)?;
    let mut addrs = Vec::new();
    let mut listeners = Vec::new();
    for ((cloud, addr), router) in clouds.iter().zip(routers) {
        let listener = tokio::net::TcpListener::bind(*addr)
            .await
            .map_err(|source| Error::Bind { addr: *addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr: *addr, source })?;
        tracing::info!(cloud = cloud.name, %bound, "edgefleet emulator listening");
        addrs.push((cloud.name, bound));
        listeners.push((listener, router));
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut joins = Vec::new();
    for (listener, router) in listeners {
        let mut rx = rx.clone();
        joins.push(tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                })
                .await
        }));
    }
    Ok(ServerHandle {
        addrs,
        app,
        shutdown: Some(tx),
        joins,
    })
}
