//! The health and metrics HTTP server: `/healthz`, `/readyz` and `/metrics`, plus the [`Readiness`] handle
//! that leader election and the controllers flip.
//!
//! - `/healthz` answers 200 while the process serves HTTP at all (liveness: a wedged runtime fails it).
//! - `/readyz` answers 200 when the replica is useful: a standby once it has read the leader Lease (it is
//!   connected and ready to take over), the leader once its controllers report their caches synced.
//!   Otherwise 503 with the reason. Standbys report ready on purpose: a rolling update (`maxUnavailable: 0`)
//!   can only proceed if the new, standby pod becomes ready while the old pod still leads.
//! - `/metrics` encodes the shared [`Registry`] in the OpenMetrics text format, which Prometheus scrapes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::shutdown::Shutdown;

/// Content type of `/metrics`.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Errors from the HTTP server.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The listen address could not be bound.
    #[error("failed to bind the health/metrics server to {addr}")]
    Bind {
        /// The requested address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bound address could not be read back.
    #[error("failed to read the local address of the health/metrics server")]
    LocalAddr(#[source] std::io::Error),
    /// The server stopped with an I/O error.
    #[error("the health/metrics server failed")]
    Serve(#[source] std::io::Error),
}

const PHASE_STARTING: u8 = 0;
const PHASE_STANDBY: u8 = 1;
const PHASE_LEADING: u8 = 2;
const PHASE_LOST: u8 = 3;
const PHASE_SHUTTING_DOWN: u8 = 4;

/// Shared readiness state. Cheap to clone; all clones share the state.
#[derive(Clone, Debug, Default)]
pub struct Readiness {
    inner: Arc<ReadinessInner>,
}

#[derive(Debug, Default)]
struct ReadinessInner {
    phase: AtomicU8,
    controllers_ready: AtomicBool,
}

impl Readiness {
    /// A new handle: not ready (starting).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// This replica is a connected standby (ready).
    pub fn set_standby(&self) {
        self.set_phase(PHASE_STANDBY);
    }

    /// This replica leads; it is ready once [`Readiness::set_controllers_ready`] is called.
    pub fn set_leading(&self) {
        self.set_phase(PHASE_LEADING);
    }

    /// The controllers' caches are synced and they are running (`true`), or they stopped (`false`).
    pub fn set_controllers_ready(&self, ready: bool) {
        self.inner.controllers_ready.store(ready, Ordering::SeqCst);
    }

    /// Leadership was lost; the process is about to exit (not ready).
    pub fn set_lost(&self) {
        self.set_phase(PHASE_LOST);
    }

    /// The process is shutting down (not ready, permanently).
    pub fn set_shutting_down(&self) {
        self.inner.phase.store(PHASE_SHUTTING_DOWN, Ordering::SeqCst);
    }

    fn set_phase(&self, phase: u8) {
        // Shutting down is final; later role changes must not make the replica ready again.
        let _ = self
            .inner
            .phase
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                (current != PHASE_SHUTTING_DOWN).then_some(phase)
            });
    }

    /// Whether `/readyz` answers 200, and the reason it gives.
    #[must_use]
    pub fn status(&self) -> (bool, &'static str) {
        match self.inner.phase.load(Ordering::SeqCst) {
            PHASE_STANDBY => (
                true,
                "standby: another replica leads or the lease is being acquired",
            ),
            PHASE_LEADING if self.inner.controllers_ready.load(Ordering::SeqCst) => {
                (true, "leading: controllers running")
            }
            PHASE_LEADING => (false, "leading: controllers starting, caches not yet synced"),
            PHASE_LOST => (false, "leadership lost: exiting"),
            PHASE_SHUTTING_DOWN => (false, "shutting down"),
            PHASE_STARTING => (false, "starting: the leader lease has not been read yet"),
            _ => (false, "unknown state"),
        }
    }

    /// Whether `/readyz` answers 200.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.status().0
    }
}

/// A running health/metrics server.
#[derive(Debug)]
pub struct HttpServer {
    /// The address actually bound (useful with port 0).
    pub local_addr: SocketAddr,
    /// The server task; it ends after `stop` fires and open requests finish.
    pub task: JoinHandle<Result<(), HttpError>>,
}

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    readiness: Readiness,
}

/// The router, for embedding or testing without a socket.
pub fn router(registry: Arc<Registry>, readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(AppState { registry, readiness })
}

/// Bind `addr` and serve until `stop` fires.
///
/// Pass a signal that fires at the very end of the process (after the controllers drained and the Lease
/// was released), so liveness probes keep succeeding during a graceful shutdown.
///
/// # Errors
/// [`HttpError::Bind`] when the address cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    readiness: Readiness,
    stop: Shutdown,
) -> Result<HttpServer, HttpError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Bind { addr, source })?;
    let local_addr = listener.local_addr().map_err(HttpError::LocalAddr)?;
    tracing::info!(%local_addr, "serving /healthz, /readyz and /metrics");
    let app = router(registry, readiness);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.triggered_owned())
            .await
            .map_err(HttpError::Serve)
    });
    Ok(HttpServer { local_addr, task })
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    let (ready, reason) = state.readiness.status();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, format!("{reason}\n")).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], body).into_response(),
        Err(error) => {
            tracing::error!(%error, "failed to encode metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "failed to encode metrics\n").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_by_role() {
        let readiness = Readiness::new();
        assert!(!readiness.is_ready(), "starting");
        readiness.set_standby();
        assert!(readiness.is_ready(), "a connected standby is ready");
        readiness.set_leading();
        assert!(!readiness.is_ready(), "a new leader waits for its controllers");
        readiness.set_controllers_ready(true);
        assert!(readiness.is_ready(), "leader with synced controllers");
        readiness.set_lost();
        assert!(!readiness.is_ready(), "lost leadership");
        readiness.set_shutting_down();
        readiness.set_standby();
        assert!(!readiness.is_ready(), "shutting down is final");
        assert_eq!(readiness.status().1, "shutting down");
    }
}
