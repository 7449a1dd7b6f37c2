//! DevServers (`/v1/{project_id}/dev-servers…`): the stored [`DevServer`] record, its rendering as the
//! HW-SDK `ServerResponse`, and the routes — create (POST_PAID at once; PRE_PAID opens a BSS order and
//! the servers appear when it is paid, see `super::bss`), show, list (`offset` counts items, `limit`
//! 0–1024 default 10, sort by `createTime`/`updateTime`; no name or status filter, as the real API),
//! list all, sync (the list, as statuses are always in sync), batch action, rename, delete (PRE_PAID only once expired, failed or in ERROR), start, stop, reboot,
//! change OS, reinstall OS, flavors and images of the catalog. Transitions run on timers with the
//! delays `modelarts_create`, `modelarts_start`, `modelarts_stop`, `modelarts_reboot`,
//! `modelarts_changeos`, `modelarts_delete`; [`on_timer`] also serves the admin knobs `expire`, `renew`
//! and `error` (`POST /_emulator/records/modelarts.dev_server/{id}/{action}`).

use std::net::Ipv4Addr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::Uri;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::cloud::Family;
use crate::core::error::ApiError;
use crate::core::net::Ipv4Cidr;
use crate::core::paging::QueryParams;
use crate::core::state::{Record, StateError, Store, Timer};
use crate::modelarts::create::{Billing, Disk, Plan, check_password, check_user_data, is_name, period_ms};
use crate::modelarts::errors;
use crate::modelarts::{Scope, kinds, segment};

/// Default delay of CREATING → RUNNING (ms).
pub const CREATE_MS: u64 = 3_000;
/// Default delay of the power transitions (ms).
pub const POWER_MS: u64 = 1_000;
/// Default delay of CHANGINGOS / REINSTALLINGOS → RUNNING (ms).
pub const OS_MS: u64 = 2_000;
/// Default delay of DELETING → gone (ms).
pub const DELETE_MS: u64 = 1_000;

/// A disk of a server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    /// GiB.
    pub size: u32,
    /// `ROOT` or `DATA`.
    pub kind: String,
    /// EVS type.
    pub evs_type: String,
    /// EVS id.
    pub evs_id: String,
}

/// Yearly/monthly billing of a server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrePaid {
    /// The order that bought it.
    pub order_id: String,
    /// Period unit.
    pub period_type: String,
    /// Periods bought.
    pub period_num: u32,
    /// Renews at expiry.
    pub auto_renew: bool,
    /// When the paid period ends (epoch ms); 0 until paid.
    pub expire_ms: u64,
    /// Unsubscribed through BSS (deleting).
    #[serde(default)]
    pub unsubscribed: bool,
}

impl PrePaid {
    /// The length of the bought period (ms).
    pub fn term_ms(&self) -> u64 {
        period_ms(&self.period_type).saturating_mul(u64::from(self.period_num))
    }
}

/// A stored DevServer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevServer {
    /// Server id (UUID).
    pub id: String,
    /// Project the server lives in.
    pub project_id: String,
    /// Name.
    pub name: String,
    /// Status (the HW-SDK `ServerResponseStatus` enum).
    pub status: String,
    /// Flavor name.
    pub flavor: String,
    /// True when created with `resource_flavor`.
    pub resource_flavor: bool,
    /// `BMS`, `ECS` or `HPS`.
    pub server_type: String,
    /// `X86` or `ARM`.
    pub arch: String,
    /// Image id.
    pub image_id: String,
    /// Image name.
    pub image_name: String,
    /// VPC.
    pub vpc_id: String,
    /// Subnet.
    pub subnet_id: String,
    /// The subnet's CIDR (for the address).
    pub cidr: String,
    /// Security group.
    pub security_group_id: String,
    /// Zone.
    pub availability_zone: String,
    /// Key pair login.
    pub key_pair_name: Option<String>,
    /// Base64 user data.
    pub user_data: Option<String>,
    /// Enterprise project.
    pub enterprise_project_id: Option<String>,
    /// Private address (empty until provisioned).
    pub ip: String,
    /// The ECS/BMS id behind it.
    pub cloud_server_id: String,
    /// Disks (root first).
    pub volumes: Vec<Volume>,
    /// Created (epoch ms).
    pub create_at: u64,
    /// Updated (epoch ms).
    pub update_at: u64,
    /// The create ends CREATE_FAILED (fault `instance_failure_rate`).
    pub fails: bool,
    /// How long the create takes (ms).
    pub build_ms: u64,
    /// The create never finishes (fault `stuck`).
    pub stuck: bool,
    /// Yearly/monthly billing; `None` = POST_PAID.
    pub prepaid: Option<PrePaid>,
}

impl Record for DevServer {
    const KIND: &'static str = kinds::DEV_SERVER;
    fn id(&self) -> &str {
        &self.id
    }
}

impl DevServer {
    /// `POST_PAID` or `PRE_PAID`.
    pub fn charging_mode(&self) -> &'static str {
        if self.prepaid.is_some() {
            "PRE_PAID"
        } else {
            "POST_PAID"
        }
    }
}

/// The HW-SDK `ServerResponse` of a server.
pub fn render(s: &DevServer) -> Value {
    let mut v = json!({
        "id": s.id,
        "name": s.name,
        "status": s.status,
        "charging_mode": s.charging_mode(),
        "flavor": s.flavor,
        "vpc_id": s.vpc_id,
        "subnet_id": s.subnet_id,
        "category": "SERVER",
        "create_at": s.create_at,
        "update_at": s.update_at,
        "image": {
            "arch": s.arch,
            "image_id": s.image_id,
            "name": s.image_name,
            "server_type": s.server_type,
            "status": "ACTIVE",
        },
        "cloud_server": {"id": s.cloud_server_id, "type": s.server_type},
        "volumes": s.volumes.iter().map(|d| json!({
            "size": d.size, "type": d.kind, "evs_type": d.evs_type, "evs_id": d.evs_id,
        })).collect::<Vec<_>>(),
        "endpoints": if s.ip.is_empty() { json!([]) } else { json!([{
            "dev_service": "SSH",
            "service": "SSH",
            "uri": s.ip,
            "key_pair_names": s.key_pair_name.iter().collect::<Vec<_>>(),
        }]) },
    });
    if s.resource_flavor {
        v["resource_flavor"] = json!(s.flavor);
    }
    if let Some(k) = &s.key_pair_name {
        v["key_pair_name"] = json!(k);
    }
    if let Some(p) = &s.prepaid {
        v["order_id"] = json!(p.order_id);
    }
    v
}

fn ok(value: Value) -> Response {
    axum::Json(value).into_response()
}

/// The servers a plan makes, not yet provisioned (no address, not stored): ids, names (`-1..N` when
/// `count > 1`), disks, and the fault decisions (failure, slow build, stuck) taken now.
pub fn servers_of(tx: &mut Tx<'_>, project_id: &str, plan: &Plan, order_id: Option<&str>) -> Vec<DevServer> {
    let default_build = tx.delay_ms("modelarts_create", CREATE_MS);
    let stuck = tx.faults.is_stuck(kinds::DEV_SERVER);
    (1..=plan.count)
        .map(|i| {
            let name = if plan.count > 1 {
                format!("{}-{i}", plan.name)
            } else {
                plan.name.clone()
            };
            let fails = tx.rng.chance(tx.faults.instance_failure_rate);
            let build_ms = tx.faults.build_delay_for(&name).unwrap_or(default_build);
            let disk = |d: &Disk, kind: &str| Volume {
                size: d.size,
                kind: kind.into(),
                evs_type: d.evs_type.clone(),
                evs_id: crate::core::ids::resource_id(),
            };
            let mut volumes = vec![disk(&plan.root_volume, "ROOT")];
            volumes.extend(plan.data_volumes.iter().map(|d| disk(d, "DATA")));
            let prepaid = match (&plan.billing, order_id) {
                (
                    Billing::PrePaid {
                        period_type,
                        period_num,
                        auto_renew,
                        ..
                    },
                    Some(order),
                ) => Some(PrePaid {
                    order_id: order.to_string(),
                    period_type: period_type.clone(),
                    period_num: *period_num,
                    auto_renew: *auto_renew,
                    expire_ms: 0,
                    unsubscribed: false,
                }),
                _ => None,
            };
            DevServer {
                id: crate::core::ids::resource_id(),
                project_id: project_id.to_string(),
                name,
                status: "CREATING".into(),
                flavor: plan.flavor.name.clone(),
                resource_flavor: plan.resource_flavor,
                server_type: plan.flavor.server_type.clone(),
                arch: plan.flavor.arch.clone(),
                image_id: plan.image.id.clone(),
                image_name: plan.image.name.clone(),
                vpc_id: plan.vpc_id.clone(),
                subnet_id: plan.subnet_id.clone(),
                cidr: plan.cidr.clone(),
                security_group_id: plan.security_group_id.clone(),
                availability_zone: plan.availability_zone.clone(),
                key_pair_name: plan.key_pair_name.clone(),
                user_data: plan.user_data.clone(),
                enterprise_project_id: plan.enterprise_project_id.clone(),
                ip: String::new(),
                cloud_server_id: crate::core::ids::resource_id(),
                volumes,
                create_at: tx.now_ms,
                update_at: tx.now_ms,
                fails,
                build_ms,
                stuck,
                prepaid,
            }
        })
        .collect()
}

/// Provisions a server at `now_ms`: takes its address, starts its clock (and its paid period), and
/// schedules the end of CREATING. The caller stores it.
pub fn provision(store: &mut Store, mut server: DevServer, now_ms: u64) -> Result<DevServer, ApiError> {
    let cidr: Ipv4Cidr = server
        .cidr
        .parse()
        .map_err(|_| ApiError::internal(format!("bad catalog CIDR {}", server.cidr)))?;
    let ip = store
        .allocate_ip(&server.subnet_id, cidr, None)
        .map_err(|_| errors::quota())?;
    server.ip = ip.to_string();
    server.create_at = now_ms;
    server.update_at = now_ms;
    if let Some(p) = &mut server.prepaid {
        p.expire_ms = now_ms.saturating_add(p.term_ms());
    }
    if !server.stuck {
        store.schedule(
            now_ms + server.build_ms,
            kinds::DEV_SERVER,
            &server.id,
            "create-done",
        );
    }
    Ok(server)
}

/// Servers of `project_id` counted against the quota (the pending ones of unpaid orders included).
fn in_use(store: &mut Store, project_id: &str) -> Result<usize, ApiError> {
    let live = store
        .table::<DevServer>()?
        .iter()
        .filter(|s| s.project_id == project_id)
        .count();
    let pending = store
        .table::<crate::modelarts::bss::Order>()?
        .iter()
        .filter(|o| o.status == crate::modelarts::bss::PENDING_PAYMENT)
        .flat_map(|o| o.pending.iter())
        .filter(|s| s.project_id == project_id)
        .count();
    Ok(live + pending)
}

fn parse_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(errors::body("the request body is required"));
    }
    serde_json::from_slice(bytes).map_err(|e| errors::body(format!("not JSON: {e}")))
}

async fn create(State(app): State<AppState>, scope: Scope, body: Bytes) -> Result<Response, ApiError> {
    let value = parse_body(&body)?;
    let plan = crate::modelarts::create::plan(&value, &app.config().modelarts)?;
    let quota = app.config().modelarts.quota as usize;
    app.tx(&scope.principal, |tx| {
        if in_use(tx.store, &scope.project_id)? + plan.count as usize > quota {
            return Err(errors::quota());
        }
        match &plan.billing {
            Billing::PostPaid => {
                let mut first = None;
                for server in servers_of(tx, &scope.project_id, &plan, None) {
                    let server = provision(tx.store, server, tx.now_ms)?;
                    first.get_or_insert_with(|| render(&server));
                    tx.insert_new(server)?;
                }
                Ok(ok(first.unwrap_or(Value::Null)))
            }
            Billing::PrePaid { auto_pay, .. } => {
                let order_id = crate::modelarts::bss::order_id(tx.now_ms);
                let pending = servers_of(tx, &scope.project_id, &plan, Some(&order_id));
                crate::modelarts::bss::open(tx, &scope, &order_id, &plan, pending)?;
                if *auto_pay {
                    crate::modelarts::bss::pay(tx.store, &order_id, tx.now_ms)?;
                }
                Ok(ok(json!({
                    "order_id": order_id,
                    "charging_mode": "PRE_PAID",
                    "name": plan.name,
                    "flavor": plan.flavor.name,
                })))
            }
        }
    })
}

/// The DevServer id of a `/v1/{project_id}/dev-servers/{id}[/…]` path.
pub struct ServerId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ServerId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ServerId(segment(parts, 4)))
    }
}

/// The visible server `id` of `scope`'s project, or 400 `ModelArts.6404`.
fn visible<'a>(tx: &'a mut Tx<'_>, scope: &Scope, id: &str) -> Result<&'a mut DevServer, ApiError> {
    let now = tx.now_ms;
    let table = tx.store.table::<DevServer>()?;
    if table
        .get_visible(id, now)
        .is_none_or(|s| s.project_id != scope.project_id)
    {
        return Err(errors::not_found(id));
    }
    table.get_mut(id).ok_or_else(|| errors::not_found(id))
}

async fn show(
    State(app): State<AppState>,
    scope: Scope,
    ServerId(id): ServerId,
) -> Result<Response, ApiError> {
    app.tx(&scope.principal, |tx| Ok(ok(render(visible(tx, &scope, &id)?))))
}

/// `limit`, `offset`, `sort_dir`, `sort_key` of a list request.
struct ListQuery {
    limit: usize,
    offset: usize,
    descending: bool,
    by_update: bool,
}

fn list_query(uri: &Uri) -> Result<ListQuery, ApiError> {
    let q = QueryParams::from_uri(uri);
    let int = |key: &str, max: i64| -> Result<Option<usize>, ApiError> {
        match q.get(key) {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (0..=max).contains(&n) => Ok(Some(n as usize)),
                _ => Err(errors::param(key, format!("must be an integer from 0 to {max}"))),
            },
        }
    };
    let limit = match int("limit", 1024)? {
        None | Some(0) => 10,
        Some(n) => n,
    };
    let offset = int("offset", i64::from(i32::MAX))?.unwrap_or(0);
    let descending = match q.get("sort_dir") {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(_) => return Err(errors::param("sort_dir", "must be ASC or DESC")),
    };
    let by_update = match q.get("sort_key") {
        None | Some("createTime") => false,
        Some("updateTime") => true,
        Some(other) => return Err(errors::sort_field(other)),
    };
    Ok(ListQuery {
        limit,
        offset,
        descending,
        by_update,
    })
}

/// `{current, data, pages, size, total}` of one page.
fn page_body(data: Vec<Value>, total: usize, limit: usize, offset: usize) -> Value {
    let limit = limit.max(1);
    json!({
        "current": offset / limit + 1,
        "data": data,
        "pages": total.div_ceil(limit).max(1),
        "size": limit,
        "total": total,
    })
}

fn project_servers(tx: &mut Tx<'_>, scope: &Scope) -> Result<Vec<DevServer>, ApiError> {
    let now = tx.now_ms;
    Ok(tx
        .store
        .table::<DevServer>()?
        .iter_visible(now)
        .filter(|s| s.project_id == scope.project_id)
        .cloned()
        .collect())
}

async fn list(State(app): State<AppState>, scope: Scope, uri: Uri) -> Result<Response, ApiError> {
    let q = list_query(&uri)?;
    app.tx(&scope.principal, |tx| {
        let mut servers = project_servers(tx, &scope)?;
        servers.sort_by_key(|s| if q.by_update { s.update_at } else { s.create_at });
        if q.descending {
            servers.reverse();
        }
        let total = servers.len();
        let data = servers.iter().skip(q.offset).take(q.limit).map(render).collect();
        Ok(ok(page_body(data, total, q.limit, q.offset)))
    })
}

async fn list_all(State(app): State<AppState>, scope: Scope) -> Result<Response, ApiError> {
    app.tx(&scope.principal, |tx| {
        let servers = project_servers(tx, &scope)?;
        let total = servers.len();
        let data = servers.iter().map(render).collect();
        Ok(ok(page_body(data, total, total, 0)))
    })
}

async fn rename(
    State(app): State<AppState>,
    scope: Scope,
    ServerId(id): ServerId,
    body: Bytes,
) -> Result<Response, ApiError> {
    let value = parse_body(&body)?;
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| errors::param("name", "is required"))?;
    if !is_name(name, 64) {
        return Err(errors::param(
            "name",
            "must be 1 to 64 characters of letters, digits, hyphens, underscores and periods",
        ));
    }
    app.tx(&scope.principal, |tx| {
        let now = tx.now_ms;
        let s = visible(tx, &scope, &id)?;
        s.name = name.to_string();
        s.update_at = now;
        Ok(ok(render(s)))
    })
}

/// Puts `server` in DELETING and schedules its removal.
pub fn begin_delete(tx: &mut Tx<'_>, id: &str) -> Result<Value, ApiError> {
    let delay = tx.delay_ms("modelarts_delete", DELETE_MS);
    let now = tx.now_ms;
    let table = tx.store.table::<DevServer>()?;
    let s = table.get_mut(id).ok_or_else(|| errors::not_found(id))?;
    if s.status != "DELETING" {
        s.status = "DELETING".into();
        s.update_at = now;
        tx.schedule_in(delay, kinds::DEV_SERVER, id, "delete-done");
    }
    let table = tx.store.table::<DevServer>()?;
    Ok(table.get(id).map(render).unwrap_or(Value::Null))
}

/// Whether `s` may be deleted at `now_ms`: POST_PAID always; PRE_PAID once failed, in ERROR, expired or
/// already deleting.
fn deletable(s: &DevServer, now_ms: u64) -> Result<(), ApiError> {
    if let Some(p) = &s.prepaid {
        let failed = matches!(s.status.as_str(), "CREATE_FAILED" | "ERROR");
        if !failed && p.expire_ms > now_ms && s.status != "DELETING" {
            return Err(errors::unsupported(format!(
                "The yearly/monthly DevServer {} cannot be deleted before it expires at {}; unsubscribe it through BSS.",
                s.id,
                crate::core::clock::rfc3339_seconds(p.expire_ms)
            )));
        }
    }
    Ok(())
}

async fn delete(
    State(app): State<AppState>,
    scope: Scope,
    ServerId(id): ServerId,
) -> Result<Response, ApiError> {
    app.tx(&scope.principal, |tx| {
        let now = tx.now_ms;
        deletable(visible(tx, &scope, &id)?, now)?;
        begin_delete(tx, &id).map(ok)
    })
}

/// A power or OS operation: which statuses it starts from, where it goes, and its timer.
struct Transition {
    from: &'static [&'static str],
    via: &'static str,
    delay_key: &'static str,
    default_ms: u64,
    action: &'static str,
}

const START: Transition = Transition {
    from: &["STOPPED"],
    via: "STARTING",
    delay_key: "modelarts_start",
    default_ms: POWER_MS,
    action: "start-done",
};
const STOP: Transition = Transition {
    from: &["RUNNING"],
    via: "STOPPING",
    delay_key: "modelarts_stop",
    default_ms: POWER_MS,
    action: "stop-done",
};
const REBOOT: Transition = Transition {
    from: &["RUNNING"],
    via: "REBOOTING",
    delay_key: "modelarts_reboot",
    default_ms: POWER_MS,
    action: "reboot-done",
};
const CHANGE_OS: Transition = Transition {
    from: &["RUNNING", "STOPPED"],
    via: "CHANGINGOS",
    delay_key: "modelarts_changeos",
    default_ms: OS_MS,
    action: "os-done",
};
const REINSTALL_OS: Transition = Transition {
    from: &["RUNNING", "STOPPED"],
    via: "REINSTALLINGOS",
    delay_key: "modelarts_changeos",
    default_ms: OS_MS,
    action: "os-done",
};

/// The answer for an operation a status does not allow.
fn refused(t: &Transition, id: &str, status: &str) -> ApiError {
    match (t.via, status) {
        ("STARTING", "RUNNING") => errors::already_running(id),
        ("STOPPING", "STOPPED") => errors::already_stopped(id),
        (_, "STARTING") => errors::starting(id),
        (_, "STOPPING") => errors::stopping(id),
        _ => errors::unsupported(format!(
            "The operation is not allowed: DevServer {id} is {status}."
        )),
    }
}

/// Whether `t` may start from `s`'s status.
fn allowed(t: &Transition, s: &DevServer) -> Result<(), ApiError> {
    if t.from.contains(&s.status.as_str()) {
        Ok(())
    } else {
        Err(refused(t, &s.id, &s.status))
    }
}

fn transition(
    tx: &mut Tx<'_>,
    scope: &Scope,
    id: &str,
    t: &Transition,
    change: impl FnOnce(&mut DevServer),
) -> Result<Response, ApiError> {
    let delay = tx.delay_ms(t.delay_key, t.default_ms);
    let now = tx.now_ms;
    let s = visible(tx, scope, id)?;
    allowed(t, s)?;
    s.status = t.via.into();
    s.update_at = now;
    change(s);
    let answer = render(s);
    tx.schedule_in(delay, kinds::DEV_SERVER, id, t.action);
    Ok(ok(answer))
}

async fn start(
    State(app): State<AppState>,
    scope: Scope,
    ServerId(id): ServerId,
    body: Bytes,
) -> Result<Response, ApiError> {
    let value = parse_body(&body)?;
    for (key, allowed) in [
        ("arch", &["X86", "ARM"][..]),
        ("charging_mode", &["COMMON", "POST_PAID", "PRE_PAID"][..]),
        ("server_type", &["BMS", "ECS", "HPS"][..]),
    ] {
        if let Some(v) = value.get(key).filter(|v| !v.is_null())
            && !v.as_str().is_some_and(|s| allowed.contains(&s))
        {
            return Err(errors::param(
                key,
                format!("must be one of {}", allowed.join(", ")),
            ));
        }
    }
    app.tx(&scope.principal, |tx| transition(tx, &scope, &id, &START, |_| {}))
}

async fn stop(
    State(app): State<AppState>,
    scope: Scope,
    ServerId(id): ServerId,
) -> Result<Response, ApiError> {
    app.tx(&scope.principal, |tx| transition(tx, &scope, &id, &STOP, |_| {}))
}

async fn reboot(
    State(app): State<AppState>,
    scope: Scope,
    ServerId(id): ServerId,
) -> Result<Response, ApiError> {
    app.tx(&scope.principal, |tx| {
        transition(tx, &scope, &id, &REBOOT, |_| {})
    })
}

/// A validated `ServerOsRequest`: the image (for change OS), the login and the user data.
struct OsRequest {
    image_id: Option<String>,
    key_pair_name: Option<String>,
    user_data: Option<String>,
}

fn os_request(bytes: &[u8], app: &AppState) -> Result<OsRequest, ApiError> {
    os_request_of(&parse_body(bytes)?, app)
}

fn os_request_of(value: &Value, app: &AppState) -> Result<OsRequest, ApiError> {
    let str_of = |key: &str| -> Result<Option<String>, ApiError> {
        match value.get(key).filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(errors::param(key, "must be a string")),
        }
    };
    let key_pair_name = match (str_of("admin_pass")?, str_of("key_pair_name")?) {
        (Some(_), Some(_)) => {
            return Err(errors::param(
                "admin_pass",
                "and key_pair_name cannot both be specified",
            ));
        }
        (None, None) => return Err(errors::param("admin_pass", "or key_pair_name must be specified")),
        (Some(pass), None) => {
            check_password(&pass).map_err(|why| errors::param("admin_pass", why))?;
            None
        }
        (None, Some(key)) => {
            if !app.config().modelarts.key_pairs.contains(&key) {
                return Err(errors::param("key_pair_name", format!("{key} does not exist")));
            }
            Some(key)
        }
    };
    let user_data = str_of("user_data")?;
    if let Some(d) = &user_data {
        check_user_data("user_data", d)?;
    }
    Ok(OsRequest {
        image_id: str_of("image_id")?,
        key_pair_name,
        user_data,
    })
}

async fn change_os(
    State(app): State<AppState>,
    scope: Scope,
    ServerId(id): ServerId,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req = os_request(&body, &app)?;
    let image = os_image(&req, &app)?;
    app.tx(&scope.principal, |tx| {
        let s = visible(tx, &scope, &id)?;
        if image.arch != s.arch || image.server_type != s.server_type {
            return Err(errors::param(
                "image_id",
                format!(
                    "{} does not fit the server's {} {}",
                    image.id, s.server_type, s.arch
                ),
            ));
        }
        transition(tx, &scope, &id, &CHANGE_OS, |s| {
            s.image_id = image.id.clone();
            s.image_name = image.name.clone();
            s.key_pair_name = req.key_pair_name;
            s.user_data = req.user_data;
        })
    })
}

async fn reinstall_os(
    State(app): State<AppState>,
    scope: Scope,
    ServerId(id): ServerId,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req = os_request(&body, &app)?;
    app.tx(&scope.principal, |tx| {
        let s = visible(tx, &scope, &id)?;
        if let Some(image) = &req.image_id
            && *image != s.image_id
        {
            return Err(errors::param(
                "image_id",
                "must be the server's current image (use changeos to change it)",
            ));
        }
        transition(tx, &scope, &id, &REINSTALL_OS, |s| {
            s.key_pair_name = req.key_pair_name;
            s.user_data = req.user_data;
        })
    })
}

async fn flavors(State(app): State<AppState>, _scope: Scope, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let catalog = &app.config().modelarts;
    let charging = q.get("charging_mode").unwrap_or("COMMON");
    let data: Vec<Value> = catalog
        .flavors
        .iter()
        .filter(|f| q.get("server_type").is_none_or(|t| t == f.server_type))
        .filter(|f| q.get("arch").is_none_or(|a| a == f.arch))
        .flat_map(|f| {
            let zones: Vec<&String> = catalog.zones.iter().filter(|z| f.offered_in(z)).collect();
            zones.into_iter().map(move |z| {
                json!({
                    "flavor": f.name,
                    "arch": f.arch,
                    "server_type": f.server_type,
                    "availability_zone": z,
                    "charging_mode": charging,
                    "count": 0,
                    "flavor_type": f.flavor_type,
                    "specification": f.specification,
                    "status": "normal",
                    "is_sold_out": false,
                })
            })
        })
        .collect();
    let total = data.len();
    Ok(ok(page_body(data, total, total, 0)))
}

fn image_json(i: &crate::modelarts::catalog::Image) -> Value {
    json!({"image_id": i.id, "name": i.name, "arch": i.arch, "server_type": i.server_type, "status": "ACTIVE"})
}

async fn images(State(app): State<AppState>, _scope: Scope, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let catalog = &app.config().modelarts;
    let flavor = match q.get("flavor_name") {
        Some(name) => Some(
            catalog
                .flavor(name)
                .ok_or_else(|| errors::param("flavor_name", format!("{name} does not exist")))?,
        ),
        None => None,
    };
    let data: Vec<Value> = catalog
        .images
        .iter()
        .filter(|i| q.get("server_type").is_none_or(|t| t == i.server_type))
        .filter(|i| flavor.is_none_or(|f| f.arch == i.arch && f.server_type == i.server_type))
        .map(image_json)
        .collect();
    let total = data.len();
    Ok(ok(page_body(data, total, total, 0)))
}

async fn image(State(app): State<AppState>, _scope: Scope, uri: Uri) -> Result<Response, ApiError> {
    let id = crate::core::paging::percent_decode(uri.path().rsplit('/').next().unwrap_or_default());
    app.config()
        .modelarts
        .image(&id)
        .map(|i| ok(image_json(i)))
        .ok_or_else(|| errors::param("id", format!("image {id} does not exist")))
}

/// The image a change OS names, checked against the catalog.
fn os_image(req: &OsRequest, app: &AppState) -> Result<crate::modelarts::catalog::Image, ApiError> {
    let image_id = req
        .image_id
        .as_deref()
        .ok_or_else(|| errors::param("image_id", "is required"))?;
    app.config()
        .modelarts
        .image(image_id)
        .cloned()
        .ok_or_else(|| errors::param("image_id", format!("{image_id} does not exist")))
}

/// The batch operation named by `type`: a transition, or `None` for DELETE.
fn batch_kind(kind: &str) -> Result<Option<&'static Transition>, ApiError> {
    match kind {
        "START" => Ok(Some(&START)),
        "STOP" => Ok(Some(&STOP)),
        "REBOOT" => Ok(Some(&REBOOT)),
        "CHANGEOS" => Ok(Some(&CHANGE_OS)),
        "REINSTALLOS" => Ok(Some(&REINSTALL_OS)),
        "DELETE" => Ok(None),
        _ => Err(errors::param(
            "type",
            "must be START, STOP, REBOOT, CHANGEOS, REINSTALLOS or DELETE",
        )),
    }
}

fn batch_ids(value: &Value) -> Result<Vec<String>, ApiError> {
    value
        .get("servers")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| errors::param("servers", "must list at least one server"))?
        .iter()
        .map(|s| {
            s.get("id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| errors::param("servers.id", "is required"))
        })
        .collect()
}

/// `POST /dev-servers/action`: one operation on several servers. Every server is checked first (exists,
/// its status allows the operation, a yearly/monthly one may be deleted); the first refusal answers and
/// nothing changes [EMU: the docs do not say whether a batch may be partial]. Answer: the servers after
/// the operation, in the list shape.
async fn batch(State(app): State<AppState>, scope: Scope, body: Bytes) -> Result<Response, ApiError> {
    let value = parse_body(&body)?;
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| errors::param("type", "is required"))?;
    let t = batch_kind(kind)?;
    let ids = batch_ids(&value)?;
    let os = match kind {
        "CHANGEOS" | "REINSTALLOS" => {
            let extend = value
                .get("extend_param")
                .filter(|v| v.is_object())
                .ok_or_else(|| errors::param("extend_param", "is required"))?;
            Some(os_request_of(extend, &app)?)
        }
        _ => None,
    };
    let image = match (kind, &os) {
        ("CHANGEOS", Some(req)) => Some(os_image(req, &app)?),
        _ => None,
    };
    app.tx(&scope.principal, |tx| {
        let now = tx.now_ms;
        for id in &ids {
            let s = visible(tx, &scope, id)?;
            match t {
                Some(t) => allowed(t, s)?,
                None => deletable(s, now)?,
            }
            if let Some(i) = &image
                && (i.arch != s.arch || i.server_type != s.server_type)
            {
                return Err(errors::param(
                    "extend_param.image_id",
                    format!("{} does not fit the server {id}", i.id),
                ));
            }
        }
        let mut data = Vec::new();
        for id in &ids {
            let answer = match t {
                None => begin_delete(tx, id)?,
                Some(t) => {
                    let image = image.clone();
                    transition(tx, &scope, id, t, |s| {
                        if let Some(i) = image {
                            s.image_id = i.id;
                            s.image_name = i.name;
                        }
                        if let Some(req) = &os {
                            s.key_pair_name.clone_from(&req.key_pair_name);
                            s.user_data.clone_from(&req.user_data);
                        }
                    })?;
                    tx.store
                        .table::<DevServer>()?
                        .get(id)
                        .map(render)
                        .unwrap_or(Value::Null)
                }
            };
            data.push(answer);
        }
        let total = data.len();
        Ok(ok(page_body(data, total, total, 0)))
    })
}

/// Timer and admin actions on a server: the ends of the transitions, and the knobs `expire` (paid
/// period over 1 s ago), `renew` (one more term from now) and `error` (status ERROR).
pub fn on_timer(store: &mut Store, timer: &Timer, now_ms: u64) -> Result<(), StateError> {
    let table = store.table::<DevServer>()?;
    let Some(s) = table.get_mut(&timer.id) else {
        return Ok(());
    };
    let before = s.status.clone();
    match (timer.action.as_str(), before.as_str()) {
        ("create-done", "CREATING") => {
            s.status = if s.fails { "CREATE_FAILED" } else { "RUNNING" }.into();
        }
        ("start-done", "STARTING") | ("reboot-done", "REBOOTING") => s.status = "RUNNING".into(),
        ("os-done", "CHANGINGOS" | "REINSTALLINGOS") => s.status = "RUNNING".into(),
        ("stop-done", "STOPPING") => s.status = "STOPPED".into(),
        ("delete-done", "DELETING") => {
            if let Some(gone) = table.remove(&timer.id)
                && let Ok(ip) = gone.ip.parse::<Ipv4Addr>()
            {
                store.release_ip(&gone.subnet_id, ip);
            }
            return Ok(());
        }
        ("expire", _) => {
            if let Some(p) = &mut s.prepaid {
                p.expire_ms = now_ms.saturating_sub(1_000);
            }
        }
        ("renew", _) => {
            if let Some(p) = &mut s.prepaid {
                p.expire_ms = now_ms.saturating_add(p.term_ms());
            }
        }
        ("error", _) => s.status = "ERROR".into(),
        _ => return Ok(()),
    }
    s.update_at = now_ms;
    let order = s.prepaid.as_ref().map(|p| p.order_id.clone());
    if before == "CREATING"
        && s.status != "CREATING"
        && let Some(order) = order
    {
        crate::modelarts::bss::provisioned(store, &order)?;
    }
    Ok(())
}

fn register(store: &mut Store) -> Result<(), StateError> {
    store.register::<DevServer>()
}

/// The DevServer family.
pub fn family() -> Family {
    Family {
        name: "modelarts.dev_servers",
        routes: || {
            let base = "/v1/{project_id}/dev-servers";
            Router::new()
                .route(base, get(list).post(create))
                .route(&format!("{base}/all"), get(list_all))
                .route(&format!("{base}/sync"), put(list))
                .route(&format!("{base}/action"), post(batch))
                .route(&format!("{base}/flavors"), get(flavors))
                .route(&format!("{base}/images"), get(images))
                .route(&format!("{base}/images/{{id}}"), get(image))
                .route(&format!("{base}/{{id}}"), get(show).put(rename).delete(delete))
                .route(&format!("{base}/{{id}}/start"), put(start))
                .route(&format!("{base}/{{id}}/stop"), put(stop))
                .route(&format!("{base}/{{id}}/reboot"), put(reboot))
                .route(&format!("{base}/{{id}}/changeos"), post(change_os))
                .route(&format!("{base}/{{id}}/reinstallos"), post(reinstall_os))
        },
        register,
        timers: &[(kinds::DEV_SERVER, on_timer)],
    }
}
