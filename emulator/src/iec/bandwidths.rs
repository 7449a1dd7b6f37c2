//! Shared bandwidths (digest §2.13): `GET /v1/bandwidths`, `GET/PUT/DELETE
//! /v1/bandwidths/{bandwidth_id}`, `GET /v1/share-bandwidth-types`. Synchronous.
//!
//! There is no create API: a bandwidth is created when an EIP is created with
//! `bandwidth.bandwidth_type` and no bandwidth of that type exists yet at the EIP's site and line
//! ([`find_or_create`]; the newest matching one is reused otherwise). New bandwidths are `NORMAL`,
//! `share_type` `WHOLE`, `charge_mode` `95peak_plus`, size 300 Mbit/s, named
//! `bandwidth-<site code>-<NNNN>`; the `shareBandwidth` quota is enforced (400 `IEC.020401`).
//! `publicip_info` lists the EIPs that use the bandwidth. Ids that are not UUIDs → 400
//! `IEC.020804`; unknown → 404 `IEC.020811`. Update: `name` 1..64 (400 `IEC.000007`), `size` an
//! integer 300..2000 (400 `IEC.020809`; an explicit `null` → 400 `IEC.020819`); a `FREEZED`
//! bandwidth cannot be updated (400 `IEC.020810`). Delete is refused while EIPs or ports use the
//! bandwidth (400 `IEC.000007` naming them — the doc documents the rule but no code). Lists take
//! an item offset, limit 0..1000 (default 1000); bandwidths filter by `site_id`; the
//! shared-bandwidth types are derived from the catalog lines' `allow_share_bandwidth_types` and
//! filter by `site_id` and `bandwidth_type`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::cloud::Family;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::paging::{PageRule, QueryParams};
use crate::core::state::{Record, StateError, Store};
use crate::iec::catalog::{Pool, Site};
use crate::iec::common::{Json, page};
use crate::iec::errors::Code;
use crate::iec::kinds;
use crate::iec::netutil::{check_id, site_info, time_micros};

/// Size of an automatically created bandwidth (the smallest documented size).
pub const DEFAULT_SIZE: u32 = 300;

/// A stored shared bandwidth.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Bandwidth {
    /// Bandwidth id.
    pub id: String,
    /// Name (1..64).
    pub name: String,
    /// Shared-bandwidth type, e.g. `share`.
    pub bandwidth_type: String,
    /// Site id.
    pub site_id: String,
    /// Line (pool) id.
    pub pool_id: String,
    /// Size in Mbit/s (300..2000).
    pub size: u32,
    /// `NORMAL` or `FREEZED`.
    pub status: String,
    /// Created (epoch ms).
    pub created_ms: u64,
    /// Updated (epoch ms).
    pub updated_ms: u64,
}

impl Record for Bandwidth {
    const KIND: &'static str = kinds::BANDWIDTH;
    fn id(&self) -> &str {
        &self.id
    }
}

/// The catalog line of a bandwidth or EIP.
pub fn pool_of<'a>(site: Option<&'a Site>, pool_id: &str) -> Option<&'a Pool> {
    site.and_then(|s| s.pools.iter().find(|p| p.pool_id == pool_id))
}

/// The doc's Operator object for a line.
pub fn operator_json(pool: Option<&Pool>) -> Value {
    match pool {
        Some(p) => json!({"id": p.operator.id, "name": p.operator.name,
            "i18n_name": p.operator.i18n_name, "sa": p.operator.sa}),
        None => json!({"id": "", "name": "", "i18n_name": "", "sa": ""}),
    }
}

/// The doc's Bandwidth object.
pub fn render(tx: &Tx<'_>, b: &Bandwidth) -> Value {
    let site = tx.config.catalog.site(&b.site_id);
    let publicips: Vec<Value> = tx
        .store
        .referrers_by(kinds::BANDWIDTH, &b.id, kinds::PUBLIC_IP)
        .iter()
        .filter_map(|id| tx.store.get_json(kinds::PUBLIC_IP, id))
        .map(|e| {
            json!({"ip_version": 4, "publicip_address": e["public_ip_address"],
                "publicip_id": e["id"], "publicip_type": e["pool_id"]})
        })
        .collect();
    json!({
        "bandwidth_type": b.bandwidth_type, "charge_mode": "95peak_plus",
        "create_time": time_micros(b.created_ms), "id": b.id, "name": b.name,
        "operator": operator_json(pool_of(site, &b.pool_id)), "publicip_info": publicips,
        "share_type": "WHOLE", "site_id": b.site_id,
        "site_info": site.map(site_info).unwrap_or_default(), "size": b.size,
        "status": b.status, "update_time": time_micros(b.updated_ms), "pool_id": b.pool_id,
    })
}

/// The bandwidth with this id (400 `IEC.020804` for a malformed id, 404 `IEC.020811` if unknown).
pub fn get_bandwidth(tx: &mut Tx<'_>, id: &str) -> Result<Bandwidth, ApiError> {
    check_id(id, Code::E020804)?;
    let now = tx.now_ms;
    tx.store
        .table::<Bandwidth>()?
        .get_visible(id, now)
        .cloned()
        .ok_or_else(|| Code::E020811.err())
}

/// The newest bandwidth of `bandwidth_type` at `site`/`pool_id`, created if there is none.
pub fn find_or_create(
    tx: &mut Tx<'_>,
    site: &Site,
    pool_id: &str,
    bandwidth_type: &str,
) -> Result<Bandwidth, ApiError> {
    let now = tx.now_ms;
    let quota = tx.config.catalog.quota("shareBandwidth");
    let table = tx.store.table::<Bandwidth>()?;
    let existing = table
        .iter_visible(now)
        .filter(|b| b.site_id == site.id && b.pool_id == pool_id && b.bandwidth_type == bandwidth_type)
        .last()
        .cloned();
    if let Some(b) = existing {
        return Ok(b);
    }
    if table.len() as u64 >= quota {
        return Err(Code::E020401.detail(format!(
            "the edge net quota is not enough: shareBandwidth quota {quota} reached"
        )));
    }
    let n = tx.store.next_counter("iec.bandwidth_name");
    let b = Bandwidth {
        id: crate::core::ids::resource_id(),
        name: format!("bandwidth-{}-{n:04}", site.code.to_lowercase()),
        bandwidth_type: bandwidth_type.to_string(),
        site_id: site.id.clone(),
        pool_id: pool_id.to_string(),
        size: DEFAULT_SIZE,
        status: "NORMAL".into(),
        created_ms: now,
        updated_ms: now,
    };
    tx.insert_new(b.clone())?;
    Ok(b)
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct UpdateBody {
    bandwidth: UpdateBandwidth,
}

#[derive(Deserialize)]
struct UpdateBandwidth {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    size: Option<Value>,
}

async fn list(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(&q, PageRule::ITEMS_1000)?;
    app.tx(&p, |tx| {
        crate::iec::publicips::sweep(tx)?;
        let now = tx.now_ms;
        let site = q.get("site_id");
        let items: Vec<Bandwidth> = tx
            .store
            .table::<Bandwidth>()?
            .iter_visible(now)
            .filter(|b| site.is_none_or(|s| b.site_id == s))
            .cloned()
            .collect();
        let (count, items) = pg.apply(items.iter());
        let out: Vec<Value> = items.into_iter().map(|b| render(tx, b)).collect();
        Ok(axum::Json(json!({"bandwidths": out, "count": count})).into_response())
    })
}

async fn show(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        crate::iec::publicips::sweep(tx)?;
        let b = get_bandwidth(tx, &id)?;
        Ok(axum::Json(json!({"bandwidth": render(tx, &b)})).into_response())
    })
}

fn parse_size(v: &Value) -> Result<u32, ApiError> {
    if v.is_null() {
        return Err(Code::E020819.err());
    }
    v.as_u64()
        .filter(|s| (300..=2000).contains(s))
        .map(|s| s as u32)
        .ok_or_else(|| Code::E020809.detail(format!("bandwidth size is invalid: {v} (300-2000)")))
}

async fn update(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateBody>,
) -> Result<Response, ApiError> {
    let u = body.bandwidth;
    if let Some(n) = &u.name
        && (n.is_empty() || n.chars().count() > 64)
    {
        return Err(crate::iec::common::bad_field("bandwidth.name", "1-64 characters"));
    }
    let size = u.size.as_ref().map(parse_size).transpose()?;
    app.tx(&p, |tx| {
        crate::iec::publicips::sweep(tx)?;
        let mut b = get_bandwidth(tx, &id)?;
        if b.status == "FREEZED" {
            return Err(Code::E020810.err());
        }
        if let Some(n) = u.name {
            b.name = n;
        }
        if let Some(s) = size {
            b.size = s;
        }
        b.updated_ms = tx.now_ms;
        tx.store.table::<Bandwidth>()?.insert(b.clone());
        Ok(axum::Json(json!({"bandwidth": render(tx, &b)})).into_response())
    })
}

async fn delete(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        crate::iec::publicips::sweep(tx)?;
        get_bandwidth(tx, &id)?;
        let eips = tx.store.referrers_by(kinds::BANDWIDTH, &id, kinds::PUBLIC_IP);
        let ports = tx.store.referrers_by(kinds::BANDWIDTH, &id, kinds::PORT);
        if !eips.is_empty() || !ports.is_empty() {
            return Err(Code::E000007.detail(format!(
                "bandwidth {id} still contains public IPs {eips:?} or ports {ports:?}; remove them first"
            )));
        }
        tx.store.remove_refs_of(kinds::BANDWIDTH, &id);
        tx.store.table::<Bandwidth>()?.remove(&id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

async fn types(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(&q, PageRule::ITEMS_1000)?;
    app.tx(&p, |tx| {
        let site_filter = q.get("site_id");
        let type_filter = q.get("bandwidth_type");
        let mut all: Vec<Value> = Vec::new();
        for site in &tx.config.catalog.sites {
            if site_filter.is_some_and(|s| s != site.id) {
                continue;
            }
            let mut seen: Vec<&str> = Vec::new();
            for t in site.pools.iter().flat_map(|p| &p.allow_share_bandwidth_types) {
                if seen.contains(&t.as_str()) || type_filter.is_some_and(|f| f != t) {
                    continue;
                }
                seen.push(t);
                all.push(json!({"name": format!("{t} bandwidth"), "bandwidth_type": t, "site_id": site.id}));
            }
        }
        let (count, items) = pg.apply(all.into_iter());
        Ok(axum::Json(json!({"share_bandwidth_types": items, "count": count})).into_response())
    })
}

fn register(store: &mut Store) -> Result<(), StateError> {
    store.register::<Bandwidth>()
}

/// The bandwidths family.
pub fn family() -> Family {
    Family {
        name: "bandwidths",
        routes: || {
            Router::new()
                .route("/v1/bandwidths", get(list))
                .route(
                    "/v1/bandwidths/{bandwidth_id}",
                    get(show).put(update).delete(delete),
                )
                .route("/v1/share-bandwidth-types", get(types))
        },
        register,
        timers: &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_rules() {
        assert_eq!(parse_size(&json!(300)).unwrap(), 300);
        assert_eq!(parse_size(&json!(2000)).unwrap(), 2000);
        assert_eq!(parse_size(&json!(299)).unwrap_err().code, "IEC.020809");
        assert_eq!(parse_size(&json!("500")).unwrap_err().code, "IEC.020809");
        assert_eq!(parse_size(&Value::Null).unwrap_err().code, "IEC.020819");
    }
}
