//! Server groups (`/v1/{project_id}/app-server-groups`): create (synchronous, every field of seed 004
//! validated), list with `offset`/`limit` and the name, id, app type, tags, enterprise-project and
//! secondary filters, show, PATCH, DELETE (refused while the group holds servers or a create job is
//! pending for it; 200 for an unknown group, as Terraform notes), the `/state` histogram of its
//! servers' `status`, and the server-group tag routes (`/v1/{project_id}/server-group/...`).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::paging::QueryParams;
use crate::core::state::Record;
use crate::workspace::catalog::WorkspaceCatalog;
use crate::workspace::common::{
    Json, Page, Tag, check_group_name, check_len, check_tags, optional, query_bool, required, time,
};
use crate::workspace::servers::{AppServer, product_info};
use crate::workspace::{errors, jobs, kinds};

// The SDK enums of the create and update bodies.
const IMAGE_TYPES: &[&str] = &["gold", "public", "private", "shared", "other"];
const OS_TYPES: &[&str] = &["Linux", "Windows", "Other"];
const DISK_TYPES: &[&str] = &["ESSD", "SSD", "GPSSD", "SAS", "SATA"];
const APP_TYPES: &[&str] = &["SESSION_DESKTOP_APP", "COMMON_APP"];
const SESSION_TYPES: &[&str] = &["GPU", "CPU"];
const MOUNT_POLICIES: &[&str] = &["USER", "SHARE", "ANY"];
/// The six server statuses of the `/state` histogram.
pub const SERVER_STATUSES: &[&str] = &[
    "UNREGISTER",
    "REGISTERED",
    "MAINTAINING",
    "FREEZE",
    "STOPPED",
    "NONE",
];

/// `route_policy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoutePolicy {
    /// Sessions per server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session: Option<i64>,
    /// CPU threshold, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_threshold: Option<i64>,
    /// Memory threshold, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_threshold: Option<i64>,
    /// GPU threshold, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_threshold: Option<i64>,
}

/// `ip_virtual`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct IpVirtual {
    /// Whether the virtual-IP feature is on.
    #[serde(default)]
    pub enable: bool,
}

/// A stored server group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerGroup {
    /// Id.
    pub id: String,
    /// Name (unique in the project).
    pub name: String,
    /// Description.
    pub description: String,
    /// Image of servers created from now on.
    pub image_id: String,
    /// Image type.
    pub image_type: String,
    /// Marketplace image product id.
    pub image_product_id: Option<String>,
    /// `Windows`.
    pub os_type: String,
    /// Product id.
    pub product_id: String,
    /// Flavor id (the product's).
    pub flavor_id: String,
    /// VPC id.
    pub vpc_id: String,
    /// Subnet id.
    pub subnet_id: String,
    /// System disk type.
    pub system_disk_type: String,
    /// System disk size, GB.
    pub system_disk_size: u32,
    /// Default OU.
    pub ou_name: String,
    /// Storage pool id.
    pub cluster_id: Option<String>,
    /// Availability zone (None = any).
    pub availability_zone: Option<String>,
    /// Virtual-IP option.
    pub ip_virtual: Option<IpVirtual>,
    /// VDI single-session mode.
    pub is_vdi: bool,
    /// App type.
    pub app_type: String,
    /// Paid session type.
    pub extra_session_type: Option<String>,
    /// Paid sessions.
    pub extra_session_size: Option<i64>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Enterprise project.
    pub enterprise_project_id: String,
    /// Primary groups (this group is their standby).
    pub primary_server_group_ids: Vec<String>,
    /// Standby groups of this group.
    pub secondary_server_group_ids: Vec<String>,
    /// Enabled.
    pub server_group_status: bool,
    /// NAS mount policy.
    pub storage_mount_policy: String,
    /// Routing policy.
    pub route_policy: Option<RoutePolicy>,
    /// Scaling policy (`/v1/{project_id}/scaling-policy`).
    #[serde(default)]
    pub scaling_policy: Option<crate::workspace::scaling::ScalingPolicy>,
    /// Created, epoch ms.
    pub create_ms: u64,
    /// Updated, epoch ms.
    pub update_ms: u64,
}

impl Record for ServerGroup {
    const KIND: &'static str = kinds::SERVER_GROUP;
    fn id(&self) -> &str {
        &self.id
    }
}

/// The create body (SDK `CreateServerGroupReq`); every field optional here so that a missing one is
/// named in the 400.
#[derive(Debug, Default, Deserialize)]
struct CreateBody {
    name: Option<String>,
    image_id: Option<String>,
    image_product_id: Option<String>,
    image_type: Option<String>,
    os_type: Option<String>,
    description: Option<String>,
    route_policy: Option<RoutePolicy>,
    product_id: Option<String>,
    flavor_id: Option<String>,
    vpc_id: Option<String>,
    subnet_id: Option<String>,
    system_disk_type: Option<String>,
    system_disk_size: Option<i64>,
    ou_name: Option<String>,
    cluster_id: Option<String>,
    availability_zone: Option<String>,
    ip_virtual: Option<IpVirtual>,
    is_vdi: Option<bool>,
    app_type: Option<String>,
    extra_session_type: Option<String>,
    extra_session_size: Option<i64>,
    tags: Option<Vec<Tag>>,
    enterprise_project_id: Option<String>,
    primary_server_group_id: Option<String>,
    server_group_status: Option<bool>,
}

/// The update body (SDK `UpdateServerGroupReq`).
#[derive(Debug, Default, Deserialize)]
struct UpdateBody {
    name: Option<String>,
    description: Option<String>,
    route_policy: Option<RoutePolicy>,
    storage_mount_policy: Option<String>,
    image_id: Option<String>,
    image_product_id: Option<String>,
    image_type: Option<String>,
    system_disk_type: Option<String>,
    system_disk_size: Option<i64>,
    ou_name: Option<String>,
    app_type: Option<String>,
    server_group_status: Option<bool>,
}

fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(errors::invalid(
            field,
            format!("must be one of {}", allowed.join(", ")),
        ))
    }
}

fn check_percent(field: &str, v: Option<i64>) -> Result<(), ApiError> {
    match v {
        Some(n) if !(1..=100).contains(&n) => Err(errors::invalid(field, "must be within 1..100")),
        _ => Ok(()),
    }
}

fn check_route_policy(p: &RoutePolicy) -> Result<(), ApiError> {
    if let Some(m) = p.max_session
        && !(1..=1000).contains(&m)
    {
        return Err(errors::invalid(
            "route_policy.max_session",
            "must be within 1..1000",
        ));
    }
    check_percent("route_policy.cpu_threshold", p.cpu_threshold)?;
    check_percent("route_policy.mem_threshold", p.mem_threshold)?;
    check_percent("route_policy.gpu_threshold", p.gpu_threshold)
}

/// Checks an image reference (`image_id`, `image_type`, `image_product_id`); returns the image's
/// minimum disk.
fn check_image(
    cat: &WorkspaceCatalog,
    image_id: &str,
    image_type: &str,
    image_product_id: Option<&str>,
) -> Result<u32, ApiError> {
    one_of("image_type", image_type, IMAGE_TYPES)?;
    let image = cat
        .image(image_id)
        .ok_or_else(|| errors::invalid("image_id", format!("image {image_id} does not exist")))?;
    if image.image_type != image_type {
        return Err(errors::invalid(
            "image_type",
            format!("image {image_id} is of type {}", image.image_type),
        ));
    }
    match (&image.product_id, image_product_id) {
        (Some(_), None) => Err(errors::invalid(
            "image_product_id",
            "is required for a marketplace image",
        )),
        (Some(p), Some(given)) if p != given => Err(errors::invalid(
            "image_product_id",
            format!("image {image_id} belongs to product {p}"),
        )),
        _ => Ok(image.min_disk_gb),
    }
}

/// Checks a system disk (`<prefix>type`, `<prefix>size`) against the catalog and the image's minimum.
pub fn check_disk(
    cat: &WorkspaceCatalog,
    type_field: &str,
    disk_type: &str,
    size_field: &str,
    size: i64,
    image_min_gb: u32,
) -> Result<u32, ApiError> {
    one_of(type_field, disk_type, DISK_TYPES)?;
    if !cat.volume_types.iter().any(|t| t == disk_type) {
        return Err(errors::invalid(
            type_field,
            format!("disk type {disk_type} is not available"),
        ));
    }
    let min = i64::from(cat.system_disk.min_gb.max(image_min_gb));
    let max = i64::from(cat.system_disk.max_gb);
    if size < min || size > max {
        return Err(errors::invalid(
            size_field,
            format!("must be within {min}..{max} GB"),
        ));
    }
    u32::try_from(size).map_err(|_| errors::invalid(size_field, "out of range"))
}

/// Checks a VPC/subnet pair against the catalog.
pub fn check_network(cat: &WorkspaceCatalog, vpc_id: &str, subnet_id: &str) -> Result<(), ApiError> {
    let vpc = cat
        .vpc(vpc_id)
        .ok_or_else(|| errors::invalid("vpc_id", format!("VPC {vpc_id} does not exist")))?;
    if !vpc.subnets.iter().any(|s| s.id == subnet_id) {
        return Err(errors::invalid(
            "subnet_id",
            format!("subnet {subnet_id} does not exist in VPC {vpc_id}"),
        ));
    }
    Ok(())
}

/// Checks an availability zone against the catalog (empty = none).
pub fn check_az(cat: &WorkspaceCatalog, az: Option<&str>) -> Result<(), ApiError> {
    match az {
        Some(a) if !cat.availability_zones.iter().any(|z| z == a) => Err(errors::invalid(
            "availability_zone",
            format!("availability zone {a} does not exist"),
        )),
        _ => Ok(()),
    }
}

/// The group with this id, visible to reads, or 404.
pub fn find<'a>(tx: &'a mut Tx<'_>, id: &str) -> Result<&'a mut ServerGroup, ApiError> {
    let now = tx.now_ms;
    let table = tx.store.table::<ServerGroup>()?;
    if table.get_visible(id, now).is_none() {
        return Err(errors::not_found("server group", id));
    }
    table
        .get_mut(id)
        .ok_or_else(|| errors::not_found("server group", id))
}

fn validate_create(tx: &mut Tx<'_>, b: &CreateBody) -> Result<(), ApiError> {
    let config = tx.config;
    let cat = &config.workspace;
    let name = required("name", &b.name)?;
    check_group_name(name)?;
    let image_id = required("image_id", &b.image_id)?;
    let image_type = required("image_type", &b.image_type)?;
    let os_type = required("os_type", &b.os_type)?;
    one_of("os_type", os_type, OS_TYPES)?;
    if os_type != "Windows" {
        return Err(errors::invalid("os_type", "only Windows is supported"));
    }
    let min_disk = check_image(cat, image_id, image_type, optional(&b.image_product_id))?;
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
    let vpc_id = required("vpc_id", &b.vpc_id)?;
    let subnet_id = required("subnet_id", &b.subnet_id)?;
    check_network(cat, vpc_id, subnet_id)?;
    let disk_type = required("system_disk_type", &b.system_disk_type)?;
    let size = b
        .system_disk_size
        .ok_or_else(|| errors::invalid("system_disk_size", "is required"))?;
    check_disk(
        cat,
        "system_disk_type",
        disk_type,
        "system_disk_size",
        size,
        min_disk,
    )?;
    check_az(cat, optional(&b.availability_zone))?;
    if let Some(d) = &b.description {
        check_len("description", d, 255)?;
    }
    if let Some(o) = &b.ou_name {
        check_len("ou_name", o, 64)?;
    }
    if let Some(p) = &b.route_policy {
        check_route_policy(p)?;
    }
    if let Some(a) = optional(&b.app_type) {
        one_of("app_type", a, APP_TYPES)?;
    }
    if let Some(s) = optional(&b.extra_session_type) {
        one_of("extra_session_type", s, SESSION_TYPES)?;
    }
    if b.extra_session_size.is_some_and(|n| n < 0) {
        return Err(errors::invalid("extra_session_size", "must be at least 0"));
    }
    if let Some(t) = &b.tags {
        check_tags("tags", t)?;
    }
    let now = tx.now_ms;
    let table = tx.store.table::<ServerGroup>()?;
    if table.iter_visible(now).any(|g| g.name == name) {
        return Err(errors::conflict(format!(
            "a server group named {name} already exists"
        )));
    }
    if let Some(p) = optional(&b.primary_server_group_id)
        && table.get_visible(p, now).is_none()
    {
        return Err(errors::not_found("server group", p));
    }
    Ok(())
}

fn build_group(tx: &Tx<'_>, b: CreateBody) -> ServerGroup {
    let cat = &tx.config.workspace;
    let product_id = b.product_id.unwrap_or_default().trim().to_string();
    let flavor_id = cat
        .product(&product_id)
        .map(|p| p.flavor_id.clone())
        .unwrap_or_default();
    let trimmed = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    ServerGroup {
        id: crate::core::ids::resource_id(),
        name: b.name.unwrap_or_default().trim().to_string(),
        description: b.description.unwrap_or_default(),
        image_id: b.image_id.unwrap_or_default().trim().to_string(),
        image_type: b.image_type.unwrap_or_default().trim().to_string(),
        image_product_id: trimmed(b.image_product_id),
        os_type: b.os_type.unwrap_or_default().trim().to_string(),
        product_id,
        flavor_id,
        vpc_id: b.vpc_id.unwrap_or_default().trim().to_string(),
        subnet_id: b.subnet_id.unwrap_or_default().trim().to_string(),
        system_disk_type: b.system_disk_type.unwrap_or_default().trim().to_string(),
        system_disk_size: b
            .system_disk_size
            .and_then(|s| u32::try_from(s).ok())
            .unwrap_or_default(),
        ou_name: b.ou_name.unwrap_or_default(),
        cluster_id: trimmed(b.cluster_id),
        availability_zone: trimmed(b.availability_zone),
        ip_virtual: b.ip_virtual,
        is_vdi: b.is_vdi.unwrap_or(false),
        app_type: trimmed(b.app_type).unwrap_or_else(|| "COMMON_APP".into()),
        extra_session_type: trimmed(b.extra_session_type),
        extra_session_size: b.extra_session_size,
        tags: b.tags.unwrap_or_default(),
        enterprise_project_id: trimmed(b.enterprise_project_id).unwrap_or_else(|| "0".into()),
        primary_server_group_ids: trimmed(b.primary_server_group_id).into_iter().collect(),
        secondary_server_group_ids: Vec::new(),
        server_group_status: b.server_group_status.unwrap_or(true),
        storage_mount_policy: "ANY".into(),
        route_policy: b.route_policy,
        scaling_policy: None,
        create_ms: tx.now_ms,
        update_ms: tx.now_ms,
    }
}

/// The servers of group `id` (any state).
fn server_count(tx: &mut Tx<'_>, id: &str) -> Result<usize, ApiError> {
    Ok(tx
        .store
        .table::<AppServer>()?
        .iter()
        .filter(|s| s.server_group_id == id)
        .count())
}

/// Renders a group as the API's `ServerGroup` (+ the detail fields of `ShowServerGroupResponse`).
pub fn render(cat: &WorkspaceCatalog, g: &ServerGroup, servers: usize, project_name: &str) -> Value {
    let image = cat.image(&g.image_id);
    let subnet_name = cat
        .subnet(&g.subnet_id)
        .map(|(_, s)| s.name.clone())
        .unwrap_or_default();
    let mut v = json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "image_id": g.image_id,
        "image_type": g.image_type,
        "image_name": image.map(|i| i.name.clone()).unwrap_or_default(),
        "image_min_disk": image.map_or(0, |i| i.min_disk_gb),
        "os_type": g.os_type,
        "product_id": g.product_id,
        "product_info": product_info(cat, &g.product_id, &g.system_disk_type, g.system_disk_size),
        "flavors": [{"id": g.flavor_id, "links": []}],
        "subnet_id": g.subnet_id,
        "subnet_name": subnet_name,
        "system_disk_type": g.system_disk_type,
        "system_disk_size": g.system_disk_size,
        "is_vdi": g.is_vdi,
        "app_type": g.app_type,
        "create_time": time(g.create_ms),
        "update_time": time(g.update_ms),
        "storage_mount_policy": g.storage_mount_policy,
        "enterprise_project_id": g.enterprise_project_id,
        "primary_server_group_ids": g.primary_server_group_ids,
        "secondary_server_group_ids": g.secondary_server_group_ids,
        "server_group_status": g.server_group_status,
        "site_type": "CENTER",
        "site_id": "",
        "app_server_flavor_count": 1,
        "app_server_count": servers,
        "app_group_count": 0,
        "tags": g.tags,
        "ou_name": g.ou_name,
        "project_name": project_name,
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(p) = &g.image_product_id {
            obj.insert("image_product_id".into(), json!(p));
        }
        if let Some(t) = &g.extra_session_type {
            obj.insert("extra_session_type".into(), json!(t));
        }
        if let Some(n) = g.extra_session_size {
            obj.insert("extra_session_size".into(), json!(n));
        }
        if let Some(p) = &g.route_policy {
            obj.insert("route_policy".into(), json!(p));
        }
        if let Some(ip) = &g.ip_virtual {
            obj.insert("ip_virtual".into(), json!(ip));
        }
        if let Some(sp) = &g.scaling_policy {
            obj.insert("scaling_policy".into(), json!(sp));
        }
    }
    v
}

/// The project name of `project_id` in the caller's account (for `project_name`).
fn project_name(app: &AppState, domain_id: &str, project_id: &str) -> String {
    app.config()
        .accounts
        .iter()
        .filter(|a| a.domain_id == domain_id)
        .flat_map(|a| a.projects())
        .find(|p| p.id == project_id)
        .map(|p| p.name)
        .unwrap_or_default()
}

async fn create(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(pid): Path<String>,
    Json(body): Json<CreateBody>,
) -> Result<Response, ApiError> {
    let project = project_name(&app, &p.domain_id, &pid);
    app.tx(&p, |tx| {
        validate_create(tx, &body)?;
        let group = build_group(tx, body);
        let table = tx.store.table::<ServerGroup>()?;
        for primary in &group.primary_server_group_ids {
            if let Some(pg) = table.get_mut(primary) {
                pg.secondary_server_group_ids.push(group.id.clone());
            }
        }
        let out = render(&tx.config.workspace, &group, 0, &project);
        tx.insert_new(group)?;
        Ok(axum::Json(out).into_response())
    })
}

/// True when group `g` passes the list filters of `q`.
fn matches_filters(g: &ServerGroup, q: &QueryParams) -> Result<bool, ApiError> {
    if let Some(n) = q.get("server_group_name")
        && !g.name.contains(n)
    {
        return Ok(false);
    }
    if q.get("server_group_id").is_some_and(|id| id != g.id)
        || q.get("app_type").is_some_and(|t| t != g.app_type)
        || q.get("enterprise_project_id")
            .is_some_and(|e| e != g.enterprise_project_id)
    {
        return Ok(false);
    }
    if let Some(t) = q.get("tags") {
        let hit = g.tags.iter().any(|tag| {
            let rendered = match &tag.value {
                Some(v) => format!("{}={v}", tag.key),
                None => tag.key.clone(),
            };
            rendered.contains(t)
        });
        if !hit {
            return Ok(false);
        }
    }
    if let Some(secondary) = query_bool(q, "is_secondary_server_group")?
        && secondary == g.primary_server_group_ids.is_empty()
    {
        return Ok(false);
    }
    Ok(true)
}

async fn list(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(pid): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let page = Page::from_query(&q)?;
    let project = project_name(&app, &p.domain_id, &pid);
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let mut groups = Vec::new();
        for g in tx.store.table::<ServerGroup>()?.iter_visible(now) {
            if matches_filters(g, &q)? {
                groups.push(g.clone());
            }
        }
        let (count, items) = page.apply(groups.into_iter());
        let mut rendered = Vec::with_capacity(items.len());
        for g in &items {
            let n = server_count(tx, &g.id)?;
            rendered.push(render(&tx.config.workspace, g, n, &project));
        }
        Ok(axum::Json(json!({"count": count, "items": rendered})).into_response())
    })
}

async fn show(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path((pid, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let project = project_name(&app, &p.domain_id, &pid);
    app.tx(&p, |tx| {
        let g = find(tx, &id)?.clone();
        let n = server_count(tx, &id)?;
        Ok(axum::Json(render(&tx.config.workspace, &g, n, &project)).into_response())
    })
}

fn validate_update(tx: &mut Tx<'_>, id: &str, b: &UpdateBody) -> Result<(), ApiError> {
    let current = find(tx, id)?.clone();
    let config = tx.config;
    let cat = &config.workspace;
    if let Some(n) = &b.name {
        check_group_name(n)?;
    }
    if let Some(d) = &b.description {
        check_len("description", d, 255)?;
    }
    if let Some(o) = &b.ou_name {
        check_len("ou_name", o, 64)?;
    }
    if let Some(p) = &b.route_policy {
        check_route_policy(p)?;
    }
    if let Some(m) = &b.storage_mount_policy {
        one_of("storage_mount_policy", m, MOUNT_POLICIES)?;
    }
    if let Some(a) = &b.app_type {
        one_of("app_type", a, APP_TYPES)?;
    }
    let image_changes = b.image_id.is_some() || b.image_type.is_some() || b.image_product_id.is_some();
    let image_id = b.image_id.clone().unwrap_or(current.image_id.clone());
    let image_type = b.image_type.clone().unwrap_or(current.image_type.clone());
    let image_product = if b.image_id.is_some() {
        optional(&b.image_product_id).map(str::to_string)
    } else {
        optional(&b.image_product_id)
            .map(str::to_string)
            .or(current.image_product_id.clone())
    };
    let min_disk = if image_changes {
        check_image(cat, &image_id, &image_type, image_product.as_deref())?
    } else {
        cat.image(&image_id).map_or(0, |i| i.min_disk_gb)
    };
    if b.system_disk_type.is_some() || b.system_disk_size.is_some() || image_changes {
        let t = b
            .system_disk_type
            .clone()
            .unwrap_or(current.system_disk_type.clone());
        let s = b.system_disk_size.unwrap_or(i64::from(current.system_disk_size));
        check_disk(cat, "system_disk_type", &t, "system_disk_size", s, min_disk)?;
    }
    if let Some(n) = &b.name {
        let now = tx.now_ms;
        if tx
            .store
            .table::<ServerGroup>()?
            .iter_visible(now)
            .any(|g| g.name == *n && g.id != id)
        {
            return Err(errors::conflict(format!(
                "a server group named {n} already exists"
            )));
        }
    }
    Ok(())
}

async fn update(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path((_pid, id)): Path<(String, String)>,
    Json(b): Json<UpdateBody>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        validate_update(tx, &id, &b)?;
        let now = tx.now_ms;
        let g = find(tx, &id)?;
        if let Some(v) = b.name {
            g.name = v;
        }
        if let Some(v) = b.description {
            g.description = v;
        }
        if let Some(v) = b.route_policy {
            g.route_policy = Some(v);
        }
        if let Some(v) = b.storage_mount_policy {
            g.storage_mount_policy = v;
        }
        if let Some(v) = b.image_id {
            g.image_id = v;
            g.image_product_id = None;
        }
        if let Some(v) = b.image_type {
            g.image_type = v;
        }
        if let Some(v) = optional(&b.image_product_id) {
            g.image_product_id = Some(v.to_string());
        }
        if let Some(v) = b.system_disk_type {
            g.system_disk_type = v;
        }
        if let Some(v) = b.system_disk_size.and_then(|s| u32::try_from(s).ok()) {
            g.system_disk_size = v;
        }
        if let Some(v) = b.ou_name {
            g.ou_name = v;
        }
        if let Some(v) = b.app_type {
            g.app_type = v;
        }
        if let Some(v) = b.server_group_status {
            g.server_group_status = v;
        }
        g.update_ms = now;
        Ok(axum::Json(json!({})).into_response())
    })
}

async fn remove(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path((_pid, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        if tx.store.table::<ServerGroup>()?.get_visible(&id, now).is_none() {
            return Ok(axum::Json(json!({})).into_response());
        }
        let servers = server_count(tx, &id)?;
        if servers > 0 {
            return Err(errors::conflict(format!(
                "the server group {id} still has {servers} server(s); delete them first"
            )));
        }
        if jobs::pending_creates(tx.store, &id)? > 0 {
            return Err(errors::conflict(format!(
                "a job creating servers in the server group {id} is in progress"
            )));
        }
        let table = tx.store.table::<ServerGroup>()?;
        if let Some(g) = table.remove(&id) {
            for other in table.iter_mut() {
                other.secondary_server_group_ids.retain(|s| *s != g.id);
                other.primary_server_group_ids.retain(|s| *s != g.id);
            }
        }
        Ok(axum::Json(json!({})).into_response())
    })
}

async fn state(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path((_pid, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        find(tx, &id)?;
        let mut hist = serde_json::Map::new();
        for s in SERVER_STATUSES {
            hist.insert((*s).to_string(), json!(0));
        }
        for s in tx.store.table::<AppServer>()?.iter() {
            if s.server_group_id == id {
                let n = hist.get(&s.status).and_then(Value::as_u64).unwrap_or(0);
                hist.insert(s.status.clone(), json!(n + 1));
            }
        }
        Ok(axum::Json(json!({"aps_status": hist})).into_response())
    })
}

// ---- tags -------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct TagsItem {
    server_group_id: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
struct BatchTags {
    items: Option<Vec<TagsItem>>,
}

#[derive(Debug, Deserialize)]
struct GroupTags {
    #[serde(default)]
    tags: Vec<Tag>,
}

/// Adds (or overwrites by key) `tags` on group `id`; more than 20 in total → 400.
fn add_tags(tx: &mut Tx<'_>, id: &str, tags: &[Tag]) -> Result<(), ApiError> {
    check_tags("tags", tags)?;
    let now = tx.now_ms;
    let g = find(tx, id)?;
    let mut merged = g.tags.clone();
    for t in tags {
        match merged.iter_mut().find(|m| m.key == t.key) {
            Some(m) => m.value = t.value.clone(),
            None => merged.push(t.clone()),
        }
    }
    check_tags("tags", &merged)?;
    g.tags = merged;
    g.update_ms = now;
    Ok(())
}

/// Removes `tags` (by key) from group `id`.
fn remove_tags(tx: &mut Tx<'_>, id: &str, tags: &[Tag]) -> Result<(), ApiError> {
    let now = tx.now_ms;
    let g = find(tx, id)?;
    g.tags.retain(|t| !tags.iter().any(|r| r.key == t.key));
    g.update_ms = now;
    Ok(())
}

fn batch_items(b: BatchTags) -> Result<Vec<(String, Vec<Tag>)>, ApiError> {
    let items = b.items.ok_or_else(|| errors::invalid("items", "is required"))?;
    if items.is_empty() {
        return Err(errors::invalid("items", "must not be empty"));
    }
    items
        .into_iter()
        .map(|i| {
            Ok((
                required("items.server_group_id", &i.server_group_id)?.to_string(),
                i.tags,
            ))
        })
        .collect()
}

/// Applies every item or none (validation first, on a copy of the groups' tags).
fn apply_batch(
    tx: &mut Tx<'_>,
    items: &[(String, Vec<Tag>)],
    f: fn(&mut Tx<'_>, &str, &[Tag]) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let before: Vec<ServerGroup> = tx.store.table::<ServerGroup>()?.iter().cloned().collect();
    for (id, tags) in items {
        if let Err(e) = f(tx, id, tags) {
            let table = tx.store.table::<ServerGroup>()?;
            for g in before {
                table.insert(g);
            }
            return Err(e);
        }
    }
    Ok(())
}

async fn batch_create_tags(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<BatchTags>,
) -> Result<Response, ApiError> {
    let items = batch_items(b)?;
    app.tx(&p, |tx| apply_batch(tx, &items, add_tags))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn batch_delete_tags(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<BatchTags>,
) -> Result<Response, ApiError> {
    let items = batch_items(b)?;
    app.tx(&p, |tx| apply_batch(tx, &items, remove_tags))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn create_group_tags(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path((_pid, id)): Path<(String, String)>,
    Json(b): Json<GroupTags>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| add_tags(tx, &id, &b.tags))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete_group_tags(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path((_pid, id)): Path<(String, String)>,
    Json(b): Json<GroupTags>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| remove_tags(tx, &id, &b.tags))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn show_group_tags(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path((_pid, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let g = find(tx, &id)?;
        Ok(axum::Json(json!({"tags": g.tags, "sys_tags": []})).into_response())
    })
}

async fn list_tags(State(app): State<AppState>, Caller(p): Caller) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let mut by_key: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
        for g in tx.store.table::<ServerGroup>()?.iter_visible(now) {
            for t in &g.tags {
                let values = by_key.entry(t.key.clone()).or_default();
                if let Some(v) = &t.value
                    && !values.contains(v)
                {
                    values.push(v.clone());
                }
            }
        }
        let tags: Vec<Value> = by_key
            .into_iter()
            .map(|(key, values)| json!({"key": key, "values": values}))
            .collect();
        Ok(axum::Json(json!({"tags": tags})).into_response())
    })
}

/// The server-group routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/{project_id}/app-server-groups", post(create).get(list))
        .route(
            "/v1/{project_id}/app-server-groups/{server_group_id}",
            get(show).patch(update).delete(remove),
        )
        .route(
            "/v1/{project_id}/app-server-groups/{server_group_id}/state",
            get(state),
        )
        .route(
            "/v1/{project_id}/server-group/tags/batch-create",
            post(batch_create_tags),
        )
        .route(
            "/v1/{project_id}/server-group/tags/batch-delete",
            delete(batch_delete_tags),
        )
        .route("/v1/{project_id}/server-group/tags", get(list_tags))
        .route(
            "/v1/{project_id}/server-group/{server_group_id}/tags",
            get(show_group_tags),
        )
        .route(
            "/v1/{project_id}/server-group/{server_group_id}/tags/create",
            post(create_group_tags),
        )
        .route(
            "/v1/{project_id}/server-group/{server_group_id}/tags/delete",
            delete(delete_group_tags),
        )
}
