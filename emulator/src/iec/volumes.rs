//! Volumes and volume types (digest §2.4): `GET /v1/cloudvolumes`,
//! `GET /v1/cloudvolumes/{volume_id}`, `GET /v1/cloudvolumes/volume-types`. Read-only: disks are
//! created and deleted with their instances (the compute family stores them as
//! [`instances::Volume`](crate::iec::instances::Volume) records; this module only renders them).
//!
//! A volume's `status` follows its instance: `creating` while the instance builds, `error` when it
//! failed, `deleting` while it is being deleted, `in-use` otherwise (the doc's example value; it
//! documents no enum). Unknown ids → 404 `IEC.010560` naming the id. The list takes an item
//! offset, limit 0..1000 (default 1000) and filters by exact `name` and `status`. A volume type is
//! `normal` when at least one catalog site offers it and `sellout` otherwise.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::cloud::Family;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::paging::{PageRule, QueryParams};
use crate::core::state::{StateError, Store};
use crate::iec::common::page;
use crate::iec::errors::Code;
use crate::iec::instances::{Instance, Volume, render_volume};

fn status_for(instance: Option<&Instance>) -> &'static str {
    match instance.map(|i| i.status.as_ref()) {
        Some("BUILD") => "creating",
        Some("FAILED") => "error",
        Some("DELETED") | None => "deleting",
        Some(_) => "in-use",
    }
}

/// Volumes in creation order with their instance-derived status.
fn with_status(tx: &mut Tx<'_>) -> Result<Vec<(Volume, &'static str)>, StateError> {
    tx.store.table::<Instance>()?;
    tx.store.table::<Volume>()?;
    let (Some(insts), Some(vols)) = (tx.store.peek::<Instance>(), tx.store.peek::<Volume>()) else {
        return Ok(vec![]);
    };
    Ok(vols
        .iter()
        .map(|v| (v.clone(), status_for(insts.get(&v.server_id))))
        .collect())
}

fn render(tx: &Tx<'_>, v: &Volume, status: &str) -> Value {
    let mut out = render_volume(v, &tx.config.catalog);
    out["status"] = json!(status);
    out
}

async fn list(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(&q, PageRule::ITEMS_1000)?;
    app.tx(&p, |tx| {
        let name = q.get("name");
        let status = q.get("status");
        let all = with_status(tx)?;
        let items = all
            .iter()
            .filter(|(v, st)| name.is_none_or(|n| v.name == n) && status.is_none_or(|s| *st == s));
        let (count, page_items) = pg.apply(items);
        let volumes: Vec<Value> = page_items.into_iter().map(|(v, st)| render(tx, v, st)).collect();
        Ok(axum::Json(json!({"count": count, "volumes": volumes})).into_response())
    })
}

async fn show(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let volume = tx
            .store
            .table::<Volume>()?
            .get(&id)
            .cloned()
            .ok_or_else(|| Code::E010560.msg(&[&id]))?;
        let status = status_for(tx.store.table::<Instance>()?.get(&volume.server_id));
        Ok(axum::Json(json!({"volume": render(tx, &volume, status)})).into_response())
    })
}

async fn types(State(app): State<AppState>, Caller(_p): Caller) -> Result<Response, ApiError> {
    let cat = &app.config().catalog;
    let out: Vec<Value> = cat
        .volume_types
        .iter()
        .map(|t| {
            let offered = cat
                .sites
                .iter()
                .any(|s| s.capacity_instances > 0 && s.volume_types.contains(&t.name));
            json!({"id": t.id, "name": t.name, "status": if offered { "normal" } else { "sellout" }})
        })
        .collect();
    Ok(axum::Json(json!({"volume_types": out})).into_response())
}

fn register(_store: &mut Store) -> Result<(), StateError> {
    Ok(())
}

/// The volumes family.
pub fn family() -> Family {
    Family {
        name: "volumes",
        routes: || {
            Router::new()
                .route("/v1/cloudvolumes", get(list))
                .route("/v1/cloudvolumes/volume-types", get(types))
                .route("/v1/cloudvolumes/{volume_id}", get(show))
        },
        register,
        timers: &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_instance() {
        assert_eq!(status_for(None), "deleting");
    }
}
