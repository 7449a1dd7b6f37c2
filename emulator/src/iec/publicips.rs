//! Elastic public IPs (digest §2.14): `GET/POST /v1/publicips`,
//! `GET/PUT/DELETE /v1/publicips/{publicip_id}`.
//!
//! Create answers 200 at once with status `PENDING_CREATE`; after the `publicip_create` delay
//! (default 1000 ms) the EIP is `DOWN` (unbound) — binding makes it `ACTIVE`, unbinding `DOWN`
//! again (Huawei's EIP statuses; the doc only shows `PENDING_CREATE` and `ACTIVE`). `site_id` must
//! be a catalog site (400 `IEC.020403`); `ip_version` must be absent or 4 (string or number; else
//! 400 `IEC.020714`); `type` must be a line of the site (400 `IEC.020711`; default the site's first
//! line, none → 400 `IEC.020713`); the `publicIp` quota is enforced (400 `IEC.020401`). Without a
//! `bandwidth` object the EIP has no bandwidth (`bandwidth_size` 0, as in the doc's example);
//! `bandwidth.id` joins that bandwidth (same site, else 400 `IEC.020707`; same line, else 400
//! `IEC.020702`); `bandwidth.bandwidth_type` (allowed by the line, else 400 `IEC.020702`) joins
//! the newest bandwidth of that type or creates one. Addresses come from `188.0.0.0/8`, sharing the
//! counter of the instances' floating addresses so they never collide.
//!
//! Update binds to a port (`port_id`) or unbinds (`""`): still `PENDING_CREATE` → 400
//! `IEC.020708`; port id malformed/unknown → 400 `IEC.020609` / 404 `IEC.020607`; another site →
//! 400 `IEC.020707`; an IPv6 port → 400 `IEC.020715`; a port that already has an EIP → 400
//! `IEC.020601`. Delete of a bound EIP → 400 `IEC.020712`. When the bound port disappears (VIP
//! deleted, NIC removed) the EIP reads as unbound; an EIP bound to an instance that is deleted is
//! deleted with it (doc §2.2.5). Ids that are not UUIDs → 400
//! `IEC.020718`; unknown → 404 `IEC.020706`. Lists: item offset, limit 0..1000 (default 1000),
//! filters `port_id` and `site_id`.

use std::net::Ipv4Addr;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::cloud::Family;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::paging::{PageRule, QueryParams};
use crate::core::state::{Record, StateError, Store, Timer};
use crate::iec::bandwidths::{Bandwidth, find_or_create, get_bandwidth, operator_json, pool_of};
use crate::iec::common::{Json, page};
use crate::iec::errors::Code;
use crate::iec::instances::Instance;
use crate::iec::kinds;
use crate::iec::netutil::{check_id, site_info, time_plain};
use crate::iec::ports::{Port, get_port, nic_exists};

/// A stored EIP.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PublicIp {
    /// EIP id.
    pub id: String,
    /// `PENDING_CREATE`, `DOWN` or `ACTIVE`.
    pub status: String,
    /// Bound port, empty when unbound.
    #[serde(default)]
    pub port_id: String,
    /// Instance id when the bound port is an instance NIC.
    #[serde(default)]
    pub device_id: String,
    /// The bound port's private address.
    #[serde(default)]
    pub private_ip_address: String,
    /// The public address.
    pub public_ip_address: String,
    /// Created (epoch ms).
    pub created_ms: u64,
    /// Bandwidth id, empty when none.
    #[serde(default)]
    pub bandwidth_id: String,
    /// Site id.
    pub site_id: String,
    /// Line (pool) id = the EIP `type`.
    pub pool_id: String,
}

impl Record for PublicIp {
    const KIND: &'static str = kinds::PUBLIC_IP;
    fn id(&self) -> &str {
        &self.id
    }
}

fn render(tx: &mut Tx<'_>, e: &PublicIp) -> Result<Value, ApiError> {
    let bw: Option<Bandwidth> = if e.bandwidth_id.is_empty() {
        None
    } else {
        tx.store.table::<Bandwidth>()?.get(&e.bandwidth_id).cloned()
    };
    let site = tx.config.catalog.site(&e.site_id);
    Ok(json!({
        "id": e.id, "status": e.status, "port_id": e.port_id,
        "public_ip_address": e.public_ip_address, "private_ip_address": e.private_ip_address,
        "create_time": time_plain(e.created_ms),
        "bandwidth_id": e.bandwidth_id,
        "bandwidth_name": bw.as_ref().map(|b| b.name.clone()).unwrap_or_default(),
        "bandwidth_share_type": if bw.is_some() { "WHOLE" } else { "" },
        "bandwidth_size": bw.as_ref().map_or(0, |b| b.size),
        "ip_version": 4, "site_id": e.site_id,
        "site_info": site.map(site_info).unwrap_or_default(),
        "operator": operator_json(pool_of(site, &e.pool_id)),
        "type": e.pool_id,
    }))
}

/// What happens to a bound EIP whose port may have changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// The port is still there.
    Keep,
    /// The port is gone (virtual IP deleted, NIC removed): the EIP is unbound.
    Unbind,
    /// The instance is deleted: its EIPs go with it (doc §2.2.5).
    Delete,
}

fn fate(store: &mut Store, e: &PublicIp) -> Result<Fate, StateError> {
    if e.device_id.is_empty() {
        let alive = store.table::<Port>()?.contains(&e.port_id);
        return Ok(if alive { Fate::Keep } else { Fate::Unbind });
    }
    let deleted = store
        .table::<Instance>()?
        .get(&e.device_id)
        .is_none_or(|i| i.status == "DELETED");
    Ok(if deleted {
        Fate::Delete
    } else if nic_exists(store, &e.device_id, &e.port_id)? {
        Fate::Keep
    } else {
        Fate::Unbind
    })
}

/// Unbinds EIPs whose bound port has disappeared and deletes those of deleted instances (run
/// before any read or count of EIPs).
pub fn sweep(tx: &mut Tx<'_>) -> Result<(), ApiError> {
    let bound: Vec<PublicIp> = tx
        .store
        .table::<PublicIp>()?
        .iter()
        .filter(|e| !e.port_id.is_empty())
        .cloned()
        .collect();
    for e in bound {
        match fate(tx.store, &e)? {
            Fate::Keep => {}
            Fate::Unbind => set_binding(tx, &e.id, None)?,
            Fate::Delete => {
                tx.store.remove_refs_of(kinds::PUBLIC_IP, &e.id);
                tx.store.table::<PublicIp>()?.remove(&e.id);
            }
        }
    }
    Ok(())
}

/// Binds (`Some((port_id, device_id, ip))`) or unbinds (`None`) an EIP.
fn set_binding(tx: &mut Tx<'_>, id: &str, to: Option<(&str, &str, &str)>) -> Result<(), ApiError> {
    let table = tx.store.table::<PublicIp>()?;
    let Some(e) = table.get_mut(id) else {
        return Ok(());
    };
    let old = std::mem::take(&mut e.port_id);
    match to {
        Some((port, device, ip)) => {
            e.port_id = port.to_string();
            e.device_id = device.to_string();
            e.private_ip_address = ip.to_string();
            if e.status != "PENDING_CREATE" {
                e.status = "ACTIVE".into();
            }
        }
        None => {
            e.device_id.clear();
            e.private_ip_address.clear();
            if e.status != "PENDING_CREATE" {
                e.status = "DOWN".into();
            }
        }
    }
    if !old.is_empty() {
        tx.store.remove_ref(kinds::PORT, &old, kinds::PUBLIC_IP, id);
    }
    if let Some((port, _, _)) = to {
        tx.store.add_ref(kinds::PORT, port, kinds::PUBLIC_IP, id);
    }
    Ok(())
}

/// Unbinds every EIP bound to `port_id` (called when a virtual IP is deleted).
pub fn unbind_port(tx: &mut Tx<'_>, port_id: &str) -> Result<(), ApiError> {
    for id in tx.store.referrers_by(kinds::PORT, port_id, kinds::PUBLIC_IP) {
        set_binding(tx, &id, None)?;
    }
    Ok(())
}

fn get_eip(tx: &mut Tx<'_>, id: &str) -> Result<PublicIp, ApiError> {
    check_id(id, Code::E020718)?;
    sweep(tx)?;
    let now = tx.now_ms;
    tx.store
        .table::<PublicIp>()?
        .get_visible(id, now)
        .cloned()
        .ok_or_else(|| Code::E020706.err())
}

#[derive(Deserialize)]
struct CreateBody {
    publicip: CreatePublicIp,
    #[serde(default)]
    bandwidth: Option<CreateBandwidth>,
}

#[derive(Deserialize)]
struct CreatePublicIp {
    site_id: String,
    #[serde(default)]
    ip_version: Option<Value>,
    #[serde(default, rename = "type")]
    pool: Option<String>,
}

#[derive(Deserialize)]
struct CreateBandwidth {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    bandwidth_type: Option<String>,
}

#[derive(Deserialize)]
struct UpdateBody {
    publicip: UpdatePublicIp,
}

#[derive(Deserialize)]
struct UpdatePublicIp {
    #[serde(default)]
    port_id: Option<String>,
}

fn ip_version_ok(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s == "4" || s.is_empty(),
        Some(Value::Number(n)) => n.as_u64() == Some(4),
        Some(_) => false,
    }
}

async fn list(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(&q, PageRule::ITEMS_1000)?;
    app.tx(&p, |tx| {
        sweep(tx)?;
        let now = tx.now_ms;
        let port = q.get("port_id");
        let site = q.get("site_id");
        let items: Vec<PublicIp> = tx
            .store
            .table::<PublicIp>()?
            .iter_visible(now)
            .filter(|e| port.is_none_or(|x| e.port_id == x) && site.is_none_or(|x| e.site_id == x))
            .cloned()
            .collect();
        let (count, items) = pg.apply(items.iter());
        let mut out = Vec::new();
        for e in items {
            out.push(render(tx, e)?);
        }
        Ok(axum::Json(json!({"count": count, "publicips": out})).into_response())
    })
}

async fn create(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<CreateBody>,
) -> Result<Response, ApiError> {
    let c = body.publicip;
    if !ip_version_ok(c.ip_version.as_ref()) {
        return Err(Code::E020714.err());
    }
    app.tx(&p, |tx| {
        sweep(tx)?;
        let site = tx
            .config
            .catalog
            .site(&c.site_id)
            .cloned()
            .ok_or_else(|| Code::E020403.err())?;
        let pool = match c.pool.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => site
                .pools
                .iter()
                .find(|p| p.pool_id == t)
                .cloned()
                .ok_or_else(|| Code::E020711.err())?,
            None => site.pools.first().cloned().ok_or_else(|| Code::E020713.err())?,
        };
        let quota = tx.config.catalog.quota("publicIp");
        if tx.store.table::<PublicIp>()?.len() as u64 >= quota {
            return Err(Code::E020401.detail(format!(
                "the edge net quota is not enough: publicIp quota {quota} reached"
            )));
        }
        let bandwidth_id = match &body.bandwidth {
            None => String::new(),
            Some(b) => match (b.id.as_deref().filter(|s| !s.is_empty()), b.bandwidth_type.as_deref()) {
                (Some(id), _) => {
                    let bw = get_bandwidth(tx, id)?;
                    if bw.site_id != site.id {
                        return Err(Code::E020707.err());
                    }
                    if bw.pool_id != pool.pool_id {
                        return Err(Code::E020702.detail(format!(
                            "the request body is not right,please check: bandwidth {id} belongs to line {}, not {}",
                            bw.pool_id, pool.pool_id
                        )));
                    }
                    bw.id
                }
                (None, Some(t)) if !t.is_empty() => {
                    if !pool.allow_share_bandwidth_types.iter().any(|a| a == t) {
                        return Err(Code::E020702.detail(format!(
                            "the request body is not right,please check: line {} does not allow bandwidth type {t:?}",
                            pool.pool_id
                        )));
                    }
                    find_or_create(tx, &site, &pool.pool_id, t)?.id
                }
                _ => {
                    return Err(Code::E020702.detail(
                        "the request body is not right,please check: bandwidth needs id or bandwidth_type",
                    ));
                }
            },
        };
        let n = tx.store.next_counter("iec.eip");
        let address = Ipv4Addr::from(u32::from(Ipv4Addr::new(188, 0, 0, 0)) + (n as u32 % 0x00ff_fffe) + 1);
        let e = PublicIp {
            id: crate::core::ids::resource_id(),
            status: "PENDING_CREATE".into(),
            port_id: String::new(),
            device_id: String::new(),
            private_ip_address: String::new(),
            public_ip_address: address.to_string(),
            created_ms: tx.now_ms,
            bandwidth_id: bandwidth_id.clone(),
            site_id: site.id.clone(),
            pool_id: pool.pool_id.clone(),
        };
        if !bandwidth_id.is_empty() {
            tx.store
                .add_ref(kinds::BANDWIDTH, &bandwidth_id, kinds::PUBLIC_IP, &e.id);
        }
        tx.insert_new(e.clone())?;
        let delay = tx.delay_ms("publicip_create", 1000);
        tx.schedule_in(delay, kinds::PUBLIC_IP, &e.id, "created");
        Ok(axum::Json(json!({"publicip": render(tx, &e)?})).into_response())
    })
}

async fn show(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let e = get_eip(tx, &id)?;
        Ok(axum::Json(json!({"publicip": render(tx, &e)?})).into_response())
    })
}

async fn update(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateBody>,
) -> Result<Response, ApiError> {
    let Some(port_id) = body.publicip.port_id else {
        return Err(crate::iec::common::bad_field(
            "publicip.port_id",
            "required (empty string unbinds)",
        ));
    };
    app.tx(&p, |tx| {
        let e = get_eip(tx, &id)?;
        if e.status == "PENDING_CREATE" {
            return Err(Code::E020708.err());
        }
        if port_id.is_empty() {
            set_binding(tx, &id, None)?;
        } else if port_id != e.port_id {
            let port = get_port(tx, &port_id)?;
            if port.site_id != e.site_id {
                return Err(Code::E020707.err());
            }
            if port.ip_address.parse::<Ipv4Addr>().is_err() {
                return Err(Code::E020715.err());
            }
            if let Some(other) = tx
                .store
                .referrers_by(kinds::PORT, &port_id, kinds::PUBLIC_IP)
                .into_iter()
                .find(|o| *o != id)
            {
                return Err(Code::E020601.detail(format!(
                    "bind virtual port failed: port {port_id} is already bound to public IP {other}"
                )));
            }
            set_binding(tx, &id, Some((&port.id, &port.device_id, &port.ip_address)))?;
        }
        let e = get_eip(tx, &id)?;
        Ok(axum::Json(json!({"publicip": render(tx, &e)?})).into_response())
    })
}

async fn delete(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let e = get_eip(tx, &id)?;
        if !e.port_id.is_empty() {
            return Err(Code::E020712.err());
        }
        tx.store.remove_refs_of(kinds::PUBLIC_IP, &id);
        tx.store.table::<PublicIp>()?.remove(&id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

fn on_timer(store: &mut Store, t: &Timer, _now: u64) -> Result<(), StateError> {
    if let Some(e) = store.table::<PublicIp>()?.get_mut(&t.id)
        && t.action == "created"
        && e.status == "PENDING_CREATE"
    {
        e.status = if e.port_id.is_empty() { "DOWN" } else { "ACTIVE" }.into();
    }
    Ok(())
}

fn register(store: &mut Store) -> Result<(), StateError> {
    store.register::<PublicIp>()
}

/// The EIP family.
pub fn family() -> Family {
    Family {
        name: "publicips",
        routes: || {
            Router::new()
                .route("/v1/publicips", get(list).post(create))
                .route(
                    "/v1/publicips/{publicip_id}",
                    get(show).put(update).delete(delete),
                )
        },
        register,
        timers: &[(kinds::PUBLIC_IP, on_timer)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_versions() {
        assert!(ip_version_ok(None));
        assert!(ip_version_ok(Some(&json!("4"))));
        assert!(ip_version_ok(Some(&json!(4))));
        assert!(!ip_version_ok(Some(&json!("6"))));
        assert!(!ip_version_ok(Some(&json!(6))));
        assert!(!ip_version_ok(Some(&json!([4]))));
    }
}
