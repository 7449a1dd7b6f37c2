//! The admin API under `/_emulator/` (unauthenticated; the emulator is a local test tool):
//!
//! | method | path | purpose |
//! |---|---|---|
//! | GET | `/_emulator/healthz` | liveness (`ok`) |
//! | GET | `/_emulator/state` | the whole state as a snapshot document |
//! | PUT | `/_emulator/state` | replace the whole state with a snapshot document |
//! | POST | `/_emulator/reset` | delete every object of every account |
//! | GET / DELETE | `/_emulator/calls` | per-operation request/mutation counters / reset them |
//! | GET / PUT | `/_emulator/faults` | read / replace the active faults |
//! | GET / DELETE | `/_emulator/retry-after` | requests sent before a 429's Retry-After had passed / reset |
//! | GET | `/_emulator/config` | the configuration with secrets redacted |
//! | GET | `/_emulator/clock` | emulator time |
//! | POST | `/_emulator/clock/advance` | move time forward: `{"seconds": 30}` or `{"ms": 500}` |
//! | POST | `/_emulator/records/{kind}/{id}/{action}` | a family's admin knob on one record ([`AppState::act`]): 204, or 404 when no such record |

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::core::app::AppState;
use crate::core::clock::rfc3339_micros;
use crate::core::error::ApiError;
use crate::core::extract::parse_json;
use crate::core::faults::Faults;

/// 400 in the neutral error body `{"code": "InvalidRequest", "message": ...}` (the admin API is the
/// emulator's own, not a cloud's).
fn bad(message: impl Into<String>) -> Response {
    ApiError::new(StatusCode::BAD_REQUEST, "InvalidRequest", message).neutral_response()
}

async fn get_state(State(app): State<AppState>) -> Response {
    Json(app.snapshot()).into_response()
}

async fn put_state(State(app): State<AppState>, body: Bytes) -> Response {
    let value: serde_json::Value = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad(format!("invalid snapshot JSON: {e:?}")),
    };
    match app.load_snapshot(value) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => bad(e.to_string()),
    }
}

async fn reset(State(app): State<AppState>) -> Response {
    app.reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_calls(State(app): State<AppState>) -> Response {
    Json(app.calls().snapshot()).into_response()
}

async fn delete_calls(State(app): State<AppState>) -> Response {
    app.calls().reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_retry_after(State(app): State<AppState>) -> Response {
    Json(app.retry_after().report()).into_response()
}

async fn delete_retry_after(State(app): State<AppState>) -> Response {
    app.retry_after().reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_faults(State(app): State<AppState>) -> Response {
    Json(app.faults().as_ref().clone()).into_response()
}

async fn put_faults(State(app): State<AppState>, body: Bytes) -> Response {
    let faults: Faults = match parse_json(&body) {
        Ok(f) => f,
        Err(e) => return bad(format!("invalid faults document: {e:?}")),
    };
    match app.set_faults(faults) {
        Ok(()) => Json(app.faults().as_ref().clone()).into_response(),
        Err(e) => bad(e),
    }
}

async fn get_config(State(app): State<AppState>) -> Response {
    Json(app.config().redacted()).into_response()
}

fn clock_json(app: &AppState) -> serde_json::Value {
    let now = app.clock().now_ms();
    json!({"now_ms": now, "now": rfc3339_micros(now), "mode": app.clock().mode()})
}

async fn get_clock(State(app): State<AppState>) -> Response {
    Json(clock_json(&app)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    #[serde(default)]
    seconds: Option<f64>,
    #[serde(default)]
    ms: Option<u64>,
}

async fn advance_clock(State(app): State<AppState>, body: Bytes) -> Response {
    let adv: Advance = match parse_json(&body) {
        Ok(a) => a,
        Err(e) => return bad(format!("expected {{\"seconds\": n}} or {{\"ms\": n}}: {e:?}")),
    };
    let ms = match (adv.seconds, adv.ms) {
        (Some(s), None) if (0.0..1e12).contains(&s) => (s * 1000.0) as u64,
        (None, Some(ms)) => ms,
        _ => return bad("give exactly one of seconds (non-negative) or ms"),
    };
    app.clock().advance(ms);
    Json(clock_json(&app)).into_response()
}

async fn act(
    State(app): State<AppState>,
    axum::extract::Path((kind, id, action)): axum::extract::Path<(String, String, String)>,
) -> Response {
    match app.act(&kind, &id, &action) {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("no {kind} record {id} (or no family acts on {kind})"),
        )
        .neutral_response(),
        Err(e) => bad(e.to_string()),
    }
}

/// The admin routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_emulator/healthz", get(|| async { "ok" }))
        .route("/_emulator/state", get(get_state).put(put_state))
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/calls", get(get_calls).delete(delete_calls))
        .route("/_emulator/faults", get(get_faults).put(put_faults))
        .route(
            "/_emulator/retry-after",
            get(get_retry_after).delete(delete_retry_after),
        )
        .route("/_emulator/config", get(get_config))
        .route("/_emulator/clock", get(get_clock))
        .route("/_emulator/clock/advance", post(advance_clock))
        .route("/_emulator/records/{kind}/{id}/{action}", post(act))
        .layer(DefaultBodyLimit::max(1 << 30))
}
