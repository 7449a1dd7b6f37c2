//! Application servers (`/v1/{project_id}/app-servers`): batch create into a group
//! (`actions/create`, `type: createApps`, `subscription_num` servers, no names → a create job),
//! list with the group, name, machine name, address, id, maintenance and auto-scaling filters,
//! show, PATCH (name, description, maintenance mode), DELETE and `actions/batch-delete` (→ a delete
//! job), and `actions/batch-start|batch-stop|batch-reboot` (no job; `vm_status` moves after the
//! `workspace_server_power` delay, a timer of kind [`kinds::APP_SERVER`]). The quota
//! (`workspace.quota.instances`) counts every server of the project and those pending in create jobs.

use std::net::Ipv4Addr;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::paging::QueryParams;
use crate::core::state::{Record, StateError, Store, Timer};
use crate::workspace::catalog::WorkspaceCatalog;
use crate::workspace::common::{Json, Page, Tag, optional, query_bool, required, time};
use crate::workspace::groups::{ServerGroup, check_az, check_disk, check_network};
use crate::workspace::jobs::{self, CREATE_SERVER, CreatePlan};
use crate::workspace::{errors, kinds};

/// Most servers one create request may ask for.
pub const MAX_SUBSCRIPTION: i64 = 100;
/// Most servers one batch request may name.
pub const MAX_BATCH: usize = 20;

/// A stored application server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppServer {
    /// Id.
    pub id: String,
    /// Name (= machine name).
    pub name: String,
    /// Description.
    pub description: String,
    /// Group.
    pub server_group_id: String,
    /// Group name at creation.
    pub server_group_name: String,
    /// Product.
    pub product_id: String,
    /// Flavor.
    pub flavor_id: String,
    /// Image.
    pub image_id: String,
    /// AZ.
    pub availability_zone: String,
    /// OU.
    pub ou_name: String,
    /// OS type.
    pub os_type: String,
    /// OS version.
    pub os_version: String,
    /// The ECS instance id.
    pub instance_id: String,
    /// `BUILD`, `ACTIVE`, `SHUTOFF`, `REBOOT`, `DELETING`, `BUILD_FAIL`, ...
    pub vm_status: String,
    /// `scheduling`, `powering-off`, ... (None when idle).
    pub task_status: Option<String>,
    /// `UNREGISTER`, `REGISTERED`, `MAINTAINING`, `STOPPED`, `NONE`, ...
    pub status: String,
    /// Maintenance mode.
    pub maintain_status: bool,
    /// Last job.
    pub job_id: String,
    /// Its type.
    pub job_type: String,
    /// Its status.
    pub job_status: String,
    /// When it touched the server.
    pub job_ms: u64,
    /// A delete job accepted for this server and not finished.
    pub pending_job: Option<String>,
    /// VPC.
    pub vpc_id: String,
    /// Subnet.
    pub subnet_id: String,
    /// Fixed IPv4 address.
    pub ip: Option<Ipv4Addr>,
    /// NIC MAC.
    pub mac: String,
    /// NIC port id.
    pub port_id: String,
    /// Root volume type.
    pub disk_type: String,
    /// Root volume size, GB.
    pub disk_size: u32,
    /// Enterprise project.
    pub enterprise_project_id: String,
    /// Created.
    pub create_ms: u64,
    /// Updated.
    pub update_ms: u64,
}

impl Record for AppServer {
    const KIND: &'static str = kinds::APP_SERVER;
    fn id(&self) -> &str {
        &self.id
    }
}

impl AppServer {
    /// A server a create job has just started building.
    #[allow(clippy::too_many_arguments)]
    pub fn building(
        plan: &CreatePlan,
        job_id: &str,
        group_id: &str,
        group_name: &str,
        name: &str,
        az: &str,
        ip: Option<Ipv4Addr>,
        now_ms: u64,
    ) -> Self {
        let id = crate::core::ids::resource_id();
        let mac_tail = &id.replace('-', "")[..6];
        Self {
            id,
            name: name.into(),
            description: String::new(),
            server_group_id: group_id.into(),
            server_group_name: group_name.into(),
            product_id: plan.product_id.clone(),
            flavor_id: plan.flavor_id.clone(),
            image_id: plan.image_id.clone(),
            availability_zone: az.into(),
            ou_name: plan.ou_name.clone(),
            os_type: plan.os_type.clone(),
            os_version: plan.os_version.clone(),
            instance_id: crate::core::ids::resource_id(),
            vm_status: "BUILD".into(),
            task_status: Some("scheduling".into()),
            status: "UNREGISTER".into(),
            maintain_status: false,
            job_id: job_id.into(),
            job_type: CREATE_SERVER.into(),
            job_status: "RUNNING".into(),
            job_ms: now_ms,
            pending_job: None,
            vpc_id: plan.vpc_id.clone(),
            subnet_id: plan.subnet_id.clone(),
            ip,
            mac: format!(
                "fa:16:3e:{}:{}:{}",
                &mac_tail[0..2],
                &mac_tail[2..4],
                &mac_tail[4..6]
            ),
            port_id: crate::core::ids::resource_id(),
            disk_type: plan.disk_type.clone(),
            disk_size: plan.disk_size,
            enterprise_project_id: plan.enterprise_project_id.clone(),
            create_ms: now_ms,
            update_ms: now_ms,
        }
    }

    /// The create job finished this server.
    pub fn built(&mut self, now_ms: u64) {
        self.vm_status = "ACTIVE".into();
        self.task_status = None;
        self.job_status = "SUCCESS".into();
        self.job_ms = now_ms;
        self.update_ms = now_ms;
    }

    /// The create job failed this server and left it.
    pub fn build_failed(&mut self, now_ms: u64) {
        self.vm_status = "BUILD_FAIL".into();
        self.task_status = None;
        self.status = "NONE".into();
        self.job_status = "FAILED".into();
        self.job_ms = now_ms;
        self.update_ms = now_ms;
    }

    /// The delete job failed for this server: it is back in service.
    pub fn delete_failed(&mut self, now_ms: u64) {
        self.vm_status = "ACTIVE".into();
        self.task_status = None;
        self.pending_job = None;
        self.job_status = "FAILED".into();
        self.job_ms = now_ms;
        self.update_ms = now_ms;
    }

    /// Frees what the server held (its address).
    pub fn release(&self, store: &mut Store) {
        if let Some(ip) = self.ip {
            store.release_ip(&self.subnet_id, ip);
        }
    }

    /// True while a job or power action works on the server.
    pub fn busy(&self) -> bool {
        self.pending_job.is_some()
            || self.task_status.is_some()
            || matches!(self.vm_status.as_str(), "BUILD" | "DELETING" | "REBOOT")
    }
}

/// `product_info` (`ServerProductInfo`) of a product with a system disk.
pub fn product_info(cat: &WorkspaceCatalog, product_id: &str, disk_type: &str, disk_size: u32) -> Value {
    let Some(p) = cat.product(product_id) else {
        return json!({"product_id": product_id});
    };
    json!({
        "product_id": p.product_id,
        "flavor_id": p.flavor_id,
        "type": "BASE",
        "architecture": "x86",
        "cpu": p.cpu.to_string(),
        "cpu_desc": format!("{} vCPUs", p.cpu),
        "memory": p.memory_mb.to_string(),
        "is_gpu": p.is_gpu,
        "system_disk_type": disk_type,
        "system_disk_size": disk_size.to_string(),
        "descriptions": p.descriptions,
        "charge_mode": "0",
        "contain_data_disk": false,
        "resource_type": "hws.resource.type.vm",
        "cloud_service_type": "hws.service.type.ec2",
        "volume_product_type": "workspace",
        "sessions": p.sessions,
        "status": "normal",
        "package_type": "general",
    })
}

/// Renders a server as `AppServer` (`detail` adds the `ShowServerResponse` fields).
pub fn render(cat: &WorkspaceCatalog, s: &AppServer, detail: bool) -> Value {
    let addresses: Vec<Value> =
        s.ip.map(|ip| {
            json!({
                "addr": ip.to_string(),
                "version": 4,
                "OS-EXT-IPS-MAC:mac_addr": s.mac,
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS:port_id": s.port_id,
                "vpc_id": s.vpc_id,
                "subnet_id": s.subnet_id,
                "tenant_type": "tenant",
            })
        })
        .into_iter()
        .collect();
    let mut v = json!({
        "id": s.id,
        "name": s.name,
        "machine_name": s.name,
        "description": s.description,
        "server_group_id": s.server_group_id,
        "server_group_name": s.server_group_name,
        "flavor": {"id": s.flavor_id, "links": []},
        "status": s.status,
        "create_time": time(s.create_ms),
        "update_time": time(s.update_ms),
        "image_id": s.image_id,
        "availability_zone": s.availability_zone,
        "domain": "",
        "ou_name": s.ou_name,
        "sid": "",
        "instance_id": s.instance_id,
        "os_version": s.os_version,
        "os_type": s.os_type,
        "order_id": "",
        "maintain_status": s.maintain_status,
        "scaling_auto_create": false,
        "job_id": s.job_id,
        "job_type": s.job_type,
        "job_status": s.job_status,
        "job_time": time(s.job_ms),
        "resource_pool_id": "",
        "resource_pool_type": "",
        "host_id": "",
        "product_info": product_info(cat, &s.product_id, &s.disk_type, s.disk_size),
        "metadata": {"charging_mode": "0"},
        "session_count": 0,
        "vm_status": s.vm_status,
        "task_status": s.task_status,
        "freeze": [],
        "host_address": addresses,
        "enterprise_project_id": s.enterprise_project_id,
        "tags": Vec::<Tag>::new(),
    });
    if detail && let Some(obj) = v.as_object_mut() {
        obj.insert(
            "root_volume".into(),
            json!({"type": s.disk_type, "size": s.disk_size, "device": "/dev/vda", "id": s.instance_id}),
        );
    }
    v
}

// ---- create -----------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
struct RootVolume {
    #[serde(rename = "type")]
    kind: Option<String>,
    size: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
struct ExtendParam {
    charging_mode: Option<String>,
}

/// `CreateAppServerReq`.
#[derive(Debug, Default, Deserialize)]
struct CreateBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    server_group_id: Option<String>,
    availability_zone: Option<String>,
    subscription_num: Option<i64>,
    ou_name: Option<String>,
    product_id: Option<String>,
    flavor_id: Option<String>,
    os_type: Option<String>,
    root_volume: Option<RootVolume>,
    subnet_id: Option<String>,
    vpc_id: Option<String>,
    create_server_extend_param: Option<ExtendParam>,
}

/// Checks the body and builds the plan, the server count and the group name.
fn plan_create(tx: &mut Tx<'_>, b: &CreateBody) -> Result<(CreatePlan, ServerGroup, usize), ApiError> {
    if required("type", &b.kind)? != "createApps" {
        return Err(errors::invalid("type", "must be createApps"));
    }
    let group_id = required("server_group_id", &b.server_group_id)?.to_string();
    let n = b
        .subscription_num
        .ok_or_else(|| errors::invalid("subscription_num", "is required"))?;
    if !(1..=MAX_SUBSCRIPTION).contains(&n) {
        return Err(errors::invalid(
            "subscription_num",
            format!("must be within 1..{MAX_SUBSCRIPTION}"),
        ));
    }
    let config = tx.config;
    let cat = &config.workspace;
    let product_id = required("product_id", &b.product_id)?;
    let product = cat
        .product(product_id)
        .ok_or_else(|| errors::invalid("product_id", format!("product {product_id} does not exist")))?;
    if let Some(f) = optional(&b.flavor_id)
        && f != product.flavor_id
    {
        return Err(errors::invalid(
            "flavor_id",
            format!("product {product_id} has flavor {}", product.flavor_id),
        ));
    }
    if let Some(os) = optional(&b.os_type)
        && os != "Windows"
    {
        return Err(errors::invalid("os_type", "only Windows is supported"));
    }
    let vpc_id = required("vpc_id", &b.vpc_id)?;
    let subnet_id = required("subnet_id", &b.subnet_id)?;
    check_network(cat, vpc_id, subnet_id)?;
    check_az(cat, optional(&b.availability_zone))?;
    if b.create_server_extend_param
        .as_ref()
        .and_then(|e| e.charging_mode.as_deref())
        .is_some_and(|m| m.eq_ignore_ascii_case("prePaid"))
    {
        return Err(errors::invalid(
            "create_server_extend_param.charging_mode",
            "prePaid servers are not served by the emulator; use postPaid",
        ));
    }
    let group = crate::workspace::groups::find(tx, &group_id)?.clone();
    let image = cat.image(&group.image_id);
    let root = b
        .root_volume
        .as_ref()
        .ok_or_else(|| errors::invalid("root_volume", "is required"))?;
    let disk_type = required("root_volume.type", &root.kind)?;
    let size = root
        .size
        .ok_or_else(|| errors::invalid("root_volume.size", "is required"))?;
    let disk_size = check_disk(
        cat,
        "root_volume.type",
        disk_type,
        "root_volume.size",
        size,
        image.map_or(0, |i| i.min_disk_gb),
    )?;
    let n = usize::try_from(n).unwrap_or(1);
    let existing = tx.store.table::<AppServer>()?.len() + jobs::pending_creates_in(tx.store, None)?;
    let limit = cat.quota.instances;
    if existing + n > usize::try_from(limit).unwrap_or(usize::MAX) {
        return Err(errors::quota_exceeded(limit));
    }
    let cidr = cat
        .subnet(subnet_id)
        .map(|(_, s)| s.cidr.clone())
        .unwrap_or_default();
    let plan = CreatePlan {
        product_id: product.product_id.clone(),
        flavor_id: product.flavor_id.clone(),
        image_id: group.image_id.clone(),
        os_type: group.os_type.clone(),
        os_version: image.map(|i| i.os_version.clone()).unwrap_or_default(),
        ou_name: b.ou_name.clone().unwrap_or_else(|| group.ou_name.clone()),
        vpc_id: vpc_id.into(),
        subnet_id: subnet_id.into(),
        cidr,
        disk_type: disk_type.into(),
        disk_size,
        enterprise_project_id: group.enterprise_project_id.clone(),
    };
    Ok((plan, group, n))
}

/// The AZ of each new server: the request's, the group's, or round-robin over the catalog.
fn zones(tx: &mut Tx<'_>, requested: Option<&str>, group: &ServerGroup, n: usize) -> Vec<String> {
    if let Some(az) = requested.or(group.availability_zone.as_deref()) {
        return vec![az.to_string(); n];
    }
    let all = &tx.config.workspace.availability_zones;
    if all.is_empty() {
        return vec![String::new(); n];
    }
    (0..n)
        .map(|_| {
            let i = tx.store.next_counter("workspace.az") as usize;
            all[i % all.len()].clone()
        })
        .collect()
}

async fn create(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<CreateBody>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let (plan, group, n) = plan_create(tx, &body)?;
        let azs = zones(tx, optional(&body.availability_zone), &group, n);
        let job_id = jobs::accept_create(tx, &group.id, &group.name, plan, &azs)?;
        Ok(axum::Json(json!({"job_id": job_id})).into_response())
    })
}

// ---- reads ------------------------------------------------------------------------------------

fn matches_filters(s: &AppServer, q: &QueryParams) -> Result<bool, ApiError> {
    let exact = |k: &str, v: &str| q.get(k).is_none_or(|x| x == v);
    let contains = |k: &str, v: &str| q.get(k).is_none_or(|x| v.contains(x));
    let ip = s.ip.map(|i| i.to_string()).unwrap_or_default();
    if !(exact("server_group_id", &s.server_group_id)
        && exact("server_id", &s.id)
        && contains("server_name", &s.name)
        && contains("machine_name", &s.name)
        && contains("ip_addr", &ip))
    {
        return Ok(false);
    }
    if query_bool(q, "maintain_status")?.is_some_and(|m| m != s.maintain_status)
        || query_bool(q, "scaling_auto_create")?.is_some_and(|a| a)
    {
        return Ok(false);
    }
    Ok(true)
}

async fn list(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let page = Page::from_query(&q)?;
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let mut found = Vec::new();
        for s in tx.store.table::<AppServer>()?.iter_visible(now) {
            if matches_filters(s, &q)? {
                found.push(s.clone());
            }
        }
        let (count, items) = page.apply(found.into_iter());
        let cat = &tx.config.workspace;
        let items: Vec<Value> = items.iter().map(|s| render(cat, s, false)).collect();
        Ok(axum::Json(json!({"count": count, "items": items})).into_response())
    })
}

fn find<'a>(tx: &'a mut Tx<'_>, id: &str) -> Result<&'a mut AppServer, ApiError> {
    let now = tx.now_ms;
    let table = tx.store.table::<AppServer>()?;
    if table.get_visible(id, now).is_none() {
        return Err(errors::not_found("server", id));
    }
    table.get_mut(id).ok_or_else(|| errors::not_found("server", id))
}

async fn show(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path((_pid, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let s = find(tx, &id)?.clone();
        Ok(axum::Json(render(&tx.config.workspace, &s, true)).into_response())
    })
}

#[derive(Debug, Default, Deserialize)]
struct UpdateBody {
    name: Option<String>,
    description: Option<String>,
    maintain_status: Option<bool>,
}

async fn update(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path((_pid, id)): Path<(String, String)>,
    Json(b): Json<UpdateBody>,
) -> Result<Response, ApiError> {
    if let Some(n) = &b.name {
        let len = n.chars().count();
        if len == 0 || len > 64 {
            return Err(errors::invalid("name", "1 to 64 characters"));
        }
    }
    if let Some(d) = &b.description {
        crate::workspace::common::check_len("description", d, 255)?;
    }
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let s = find(tx, &id)?;
        if let Some(n) = b.name {
            s.name = n;
        }
        if let Some(d) = b.description {
            s.description = d;
        }
        if let Some(m) = b.maintain_status {
            s.maintain_status = m;
            if m && s.status == "REGISTERED" {
                s.status = "MAINTAINING".into();
            } else if !m && s.status == "MAINTAINING" {
                s.status = "REGISTERED".into();
            }
        }
        s.update_ms = now;
        Ok(axum::Json(json!({})).into_response())
    })
}

// ---- delete -----------------------------------------------------------------------------------

/// The known servers among `ids` (`(id, name, group)`), refusing busy ones with 409.
fn idle_servers(tx: &mut Tx<'_>, ids: &[String]) -> Result<Vec<(String, String, String)>, ApiError> {
    let now = tx.now_ms;
    let table = tx.store.table::<AppServer>()?;
    let mut out = Vec::new();
    for id in ids {
        let Some(s) = table.get_visible(id, now) else {
            continue;
        };
        if s.busy() {
            return Err(errors::conflict(format!(
                "the server {id} has a task in progress ({})",
                s.task_status.as_deref().unwrap_or(&s.vm_status)
            )));
        }
        if !out.iter().any(|(o, _, _): &(String, String, String)| o == id) {
            out.push((s.id.clone(), s.name.clone(), s.server_group_id.clone()));
        }
    }
    Ok(out)
}

/// One delete job over `servers` (their first server's group names the job).
fn delete_job(tx: &mut Tx<'_>, servers: &[(String, String, String)]) -> Result<String, ApiError> {
    let group_id = servers.first().map(|s| s.2.clone()).unwrap_or_default();
    let group_name = tx
        .store
        .table::<ServerGroup>()?
        .get(&group_id)
        .map(|g| g.name.clone())
        .unwrap_or_default();
    let pairs: Vec<(String, String)> = servers.iter().map(|(i, n, _)| (i.clone(), n.clone())).collect();
    jobs::accept_delete(tx, &group_id, &group_name, &pairs)
}

async fn remove(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path((_pid, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let servers = idle_servers(tx, std::slice::from_ref(&id))?;
        if servers.is_empty() {
            return Ok(axum::Json(json!({})).into_response());
        }
        let job_id = delete_job(tx, &servers)?;
        Ok(axum::Json(json!({"job_id": job_id})).into_response())
    })
}

#[derive(Debug, Default, Deserialize)]
struct ItemsBody {
    items: Option<Vec<String>>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

fn items(b: &ItemsBody) -> Result<Vec<String>, ApiError> {
    let items = b
        .items
        .clone()
        .ok_or_else(|| errors::invalid("items", "is required"))?;
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(errors::invalid("items", format!("1 to {MAX_BATCH} server ids")));
    }
    Ok(items)
}

async fn batch_delete(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<ItemsBody>,
) -> Result<Response, ApiError> {
    let ids = items(&b)?;
    app.tx(&p, |tx| {
        let servers = idle_servers(tx, &ids)?;
        let job_id = delete_job(tx, &servers)?;
        Ok(axum::Json(json!({"job_id": job_id})).into_response())
    })
}

// ---- power ------------------------------------------------------------------------------------

/// A power action: the transitional state and the timer action that ends it.
#[derive(Clone, Copy)]
enum Power {
    Start,
    Stop,
    Reboot,
}

fn power(tx: &mut Tx<'_>, ids: &[String], action: Power) -> Result<(), ApiError> {
    let now = tx.now_ms;
    {
        let table = tx.store.table::<AppServer>()?;
        for id in ids {
            let s = table
                .get_visible(id, now)
                .ok_or_else(|| errors::not_found("server", id))?;
            if s.busy() {
                return Err(errors::conflict(format!(
                    "the server {id} has a task in progress"
                )));
            }
            let allowed = match action {
                Power::Start => s.vm_status == "SHUTOFF",
                Power::Stop | Power::Reboot => s.vm_status == "ACTIVE",
            };
            if !allowed {
                return Err(errors::conflict(format!(
                    "the server {id} is {} and cannot be {}",
                    s.vm_status,
                    match action {
                        Power::Start => "started",
                        Power::Stop => "stopped",
                        Power::Reboot => "rebooted",
                    }
                )));
            }
        }
    }
    let delay = tx.delay_ms("workspace_server_power", 1000);
    for id in ids {
        if let Some(s) = tx.store.table::<AppServer>()?.get_mut(id) {
            match action {
                Power::Start => s.task_status = Some("powering-on".into()),
                Power::Stop => s.task_status = Some("powering-off".into()),
                Power::Reboot => {
                    s.vm_status = "REBOOT".into();
                    s.task_status = Some("rebooting".into());
                }
            }
            s.update_ms = now;
        }
        let done = match action {
            Power::Start => "start-done",
            Power::Stop => "stop-done",
            Power::Reboot => "reboot-done",
        };
        tx.schedule_in(delay, kinds::APP_SERVER, id, done);
    }
    Ok(())
}

fn halt_type(b: &ItemsBody) -> Result<(), ApiError> {
    match b.kind.as_deref() {
        Some("SOFT" | "HARD") => Ok(()),
        Some(_) => Err(errors::invalid("type", "must be SOFT or HARD")),
        None => Err(errors::invalid("type", "is required")),
    }
}

async fn batch_start(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<ItemsBody>,
) -> Result<Response, ApiError> {
    let ids = items(&b)?;
    app.tx(&p, |tx| power(tx, &ids, Power::Start))?;
    Ok(axum::Json(json!({})).into_response())
}

async fn batch_stop(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<ItemsBody>,
) -> Result<Response, ApiError> {
    let ids = items(&b)?;
    halt_type(&b)?;
    app.tx(&p, |tx| power(tx, &ids, Power::Stop))?;
    Ok(axum::Json(json!({})).into_response())
}

async fn batch_reboot(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<ItemsBody>,
) -> Result<Response, ApiError> {
    let ids = items(&b)?;
    halt_type(&b)?;
    app.tx(&p, |tx| power(tx, &ids, Power::Reboot))?;
    Ok(axum::Json(json!({})).into_response())
}

/// Timer handler for [`kinds::APP_SERVER`]: the end of a power action.
pub fn on_timer(store: &mut Store, timer: &Timer, now_ms: u64) -> Result<(), StateError> {
    let Some(s) = store.table::<AppServer>()?.get_mut(&timer.id) else {
        return Ok(());
    };
    let registered = if s.maintain_status {
        "MAINTAINING"
    } else {
        "REGISTERED"
    };
    match timer.action.as_str() {
        "stop-done" => {
            s.vm_status = "SHUTOFF".into();
            s.status = "STOPPED".into();
        }
        "start-done" | "reboot-done" => {
            s.vm_status = "ACTIVE".into();
            s.status = registered.into();
        }
        _ => return Ok(()),
    }
    s.task_status = None;
    s.update_ms = now_ms;
    Ok(())
}

/// The app-server routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/{project_id}/app-servers/actions/create", post(create))
        .route(
            "/v1/{project_id}/app-servers/actions/batch-delete",
            post(batch_delete),
        )
        .route(
            "/v1/{project_id}/app-servers/actions/batch-start",
            patch(batch_start),
        )
        .route(
            "/v1/{project_id}/app-servers/actions/batch-stop",
            patch(batch_stop),
        )
        .route(
            "/v1/{project_id}/app-servers/actions/batch-reboot",
            patch(batch_reboot),
        )
        .route("/v1/{project_id}/app-servers", get(list))
        .route(
            "/v1/{project_id}/app-servers/{server_id}",
            get(show).patch(update).delete(remove),
        )
}
