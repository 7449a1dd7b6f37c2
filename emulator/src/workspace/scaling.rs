//! Scaling policies of server groups (`/v1/{project_id}/scaling-policy`): `PUT` creates or replaces a
//! group's policy (SDK `CreateOrUpdateScalingPolicyReq`), `GET ?server_group_id=` shows it, `DELETE
//! ?server_group_id=` removes it; the group shows it as `scaling_policy`. The emulator stores and
//! validates policies but never scales on its own (no sessions to measure), so no server is ever
//! `scaling_auto_create`.

use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::core::app::AppState;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::paging::QueryParams;
use crate::workspace::common::{Json, required};
use crate::workspace::{errors, groups};

/// `scaling_policy_by_session`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BySession {
    /// Total session usage (%) above which the group scales out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_usage_threshold: Option<i64>,
    /// Servers without sessions for this long are released.
    pub shrink_after_session_idle_minutes: i64,
}

/// `scaling_policy_by_resource`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ByResource {
    /// CPU usage threshold, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_usage_threshold: Option<i64>,
    /// Memory usage threshold, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_usage_threshold: Option<i64>,
    /// GPU usage threshold, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_usage_threshold: Option<i64>,
}

/// A stored scaling policy (`ScalingPolicy`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalingPolicy {
    /// Enabled.
    pub enable: bool,
    /// Most servers the policy adds.
    pub max_scaling_amount: i64,
    /// Servers added per expansion.
    pub single_expansion_count: i64,
    /// Session rule.
    pub scaling_policy_by_session: BySession,
    /// Resource rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_policy_by_resource: Option<ByResource>,
}

#[derive(Debug, Default, Deserialize)]
struct PutBody {
    server_group_id: Option<String>,
    enable: Option<bool>,
    max_scaling_amount: Option<i64>,
    single_expansion_count: Option<i64>,
    scaling_policy_by_session: Option<BySession>,
    scaling_policy_by_resource: Option<ByResource>,
}

fn percent(field: &str, v: Option<i64>) -> Result<(), ApiError> {
    match v {
        Some(n) if !(1..=100).contains(&n) => Err(errors::invalid(field, "must be within 1..100")),
        _ => Ok(()),
    }
}

/// Checks the body and builds the policy.
fn policy(b: PutBody) -> Result<ScalingPolicy, ApiError> {
    let max = b
        .max_scaling_amount
        .ok_or_else(|| errors::invalid("max_scaling_amount", "is required"))?;
    if !(1..=100).contains(&max) {
        return Err(errors::invalid("max_scaling_amount", "must be within 1..100"));
    }
    let single = b
        .single_expansion_count
        .ok_or_else(|| errors::invalid("single_expansion_count", "is required"))?;
    if single < 1 || single > max {
        return Err(errors::invalid(
            "single_expansion_count",
            "must be within 1..max_scaling_amount",
        ));
    }
    let session = b
        .scaling_policy_by_session
        .ok_or_else(|| errors::invalid("scaling_policy_by_session", "is required"))?;
    percent(
        "scaling_policy_by_session.session_usage_threshold",
        session.session_usage_threshold,
    )?;
    if !(1..=10_080).contains(&session.shrink_after_session_idle_minutes) {
        return Err(errors::invalid(
            "scaling_policy_by_session.shrink_after_session_idle_minutes",
            "must be within 1..10080",
        ));
    }
    if let Some(r) = &b.scaling_policy_by_resource {
        percent(
            "scaling_policy_by_resource.cpu_usage_threshold",
            r.cpu_usage_threshold,
        )?;
        percent(
            "scaling_policy_by_resource.mem_usage_threshold",
            r.mem_usage_threshold,
        )?;
        percent(
            "scaling_policy_by_resource.gpu_usage_threshold",
            r.gpu_usage_threshold,
        )?;
    }
    Ok(ScalingPolicy {
        enable: b.enable.unwrap_or(true),
        max_scaling_amount: max,
        single_expansion_count: single,
        scaling_policy_by_session: session,
        scaling_policy_by_resource: b.scaling_policy_by_resource,
    })
}

async fn put_policy(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(mut b): Json<PutBody>,
) -> Result<Response, ApiError> {
    let group_id = required("server_group_id", &b.server_group_id)?.to_string();
    b.server_group_id = None;
    let policy = policy(b)?;
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let g = groups::find(tx, &group_id)?;
        g.scaling_policy = Some(policy.clone());
        g.update_ms = now;
        Ok(axum::Json(json!(policy)).into_response())
    })
}

fn group_of(uri: &Uri) -> Result<String, ApiError> {
    QueryParams::from_uri(uri)
        .get("server_group_id")
        .map(str::to_string)
        .ok_or_else(|| errors::invalid("server_group_id", "is required"))
}

async fn show_policy(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let group_id = group_of(&uri)?;
    app.tx(&p, |tx| {
        let g = groups::find(tx, &group_id)?;
        let body = g
            .scaling_policy
            .as_ref()
            .map_or_else(|| json!({}), |sp| json!(sp));
        Ok(axum::Json(body).into_response())
    })
}

async fn delete_policy(
    State(app): State<AppState>,
    Caller(p): Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    let group_id = group_of(&uri)?;
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let g = groups::find(tx, &group_id)?;
        g.scaling_policy = None;
        g.update_ms = now;
        Ok(axum::Json(json!({})).into_response())
    })
}

/// The scaling-policy routes.
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/{project_id}/scaling-policy",
        put(put_policy).get(show_policy).delete(delete_policy),
    )
}
