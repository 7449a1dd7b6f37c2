//! Deployment plans and edge clouds (digest §2.1) and quotas (§2.16):
//! `POST/GET /v1/deployments`, `DELETE /v1/deployments/{id}`, `POST /v1/deployments/{id}/deploy`,
//! `POST /v1/deployments/{id}/expand`, `GET /v1/edgeclouds`, `GET/DELETE /v1/edgeclouds/{id}`,
//! `GET /v1/edgeclouds/quotas`.
//!
//! Scheduling happens at plan creation (the response lists the chosen `locations`):
//! `centralize` puts every stack of a demand at the first usable matching site (catalog order);
//! `discrete` spreads them round-robin over all usable matching sites. Coverage names are matched
//! case-sensitively against site id (`site`), `city`, `province` (`prov`) or `area`.
//!
//! Naming: an instance is named `IEC-<site code>-<resource name>-NNNN` (`with_prefix: false` drops
//! `IEC-<site code>-`); `NNNN` always counts from 0001 per (edge cloud, site, resource name) and
//! continues across expansions. Stack names gain `-<first 4 chars of the city, ' → _>-NNN`.
//!
//! Edge cloud states: deploy → `creating`, expand → `updating`, then `inService` once no member is
//! `BUILD` (checked `edgecloud_check` ms after the build delay, then every second) or `failed` when
//! every new member failed; delete → `deleting` → gone after `edgecloud_delete` (1000 ms).
//! Deleting an edge cloud with members other than `FAILED` ones → 400 `IEC.010002` (no code is
//! documented; this one tells clients to wait); `FAILED` members are deleted with it.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::clock::rfc3339_micros;
use crate::core::cloud::Family;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::ids;
use crate::core::paging::{PageRule, QueryParams};
use crate::core::shared::Shared;
use crate::core::state::{Record, StateError, Store, Timer};
use crate::iec::catalog::{Catalog, Site};
use crate::iec::common::{Json, page, valid_description, valid_name};
use crate::iec::errors::Code;
use crate::iec::instances::{
    Bandwidth, IdRef, Instance, NewInstance, VolumeSpec, check_quota, check_volumes, delete_instances,
    image_exists, instance_name, provision, site_load, system_subnet, valid_admin_pass,
};
use crate::iec::kinds;
use crate::iec::vpc::Vpc;

// ---- request / stored shapes -------------------------------------------------------------------

/// Coverage as requested (and echoed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Coverage {
    /// `centralize` or `discrete`.
    pub coverage_policy: String,
    /// `area`, `prov`, `city` or `site`.
    pub coverage_level: String,
    /// Sites and their demands.
    pub coverage_sites: Vec<CoverageSite>,
}

/// One coverage site.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CoverageSite {
    /// Site id / city / province / area name, per level.
    pub site: String,
    /// Demands.
    pub demands: Vec<Demand>,
}

/// One demand.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Demand {
    /// Carrier.
    #[serde(default)]
    pub operator: String,
    /// Stacks at this site, 1..10.
    pub demand_count: i64,
    /// Line id.
    #[serde(default)]
    pub pool_id: String,
    /// Bandwidth type.
    #[serde(default)]
    pub bandwidth_type: String,
    /// IPv6 line.
    #[serde(default)]
    pub pool_id_v6: String,
    /// IPv6 public access.
    #[serde(default)]
    pub ipv6_bandwidth_enable: bool,
    /// IPv6 bandwidth type.
    #[serde(default)]
    pub ipv6_bandwidth_type: String,
}

/// A stack (resource group) template.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stack {
    /// Name 1..48.
    pub name: String,
    /// Resources.
    pub resources: Vec<Resource>,
}

/// A resource (instance template) of a stack.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resource {
    /// Name 1..48.
    pub name: String,
    /// Prefix names with `IEC-<site code>-` (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_prefix: Option<bool>,
    /// Image id.
    #[serde(default)]
    pub image_ref: Option<String>,
    /// Flavor id.
    pub flavor_ref: String,
    /// Initial password (masked when echoed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_pass: Option<String>,
    /// Keypair name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// Network.
    pub net_config: NetConfig,
    /// EIP bandwidth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<Bandwidth>,
    /// System disk.
    pub root_volume: VolumeSpec,
    /// Data disks.
    #[serde(default)]
    pub data_volumes: Vec<VolumeSpec>,
    /// Instances per stack (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// Security groups.
    #[serde(default)]
    pub security_groups: Vec<IdRef>,
    /// User data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
}

/// Network of a resource.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetConfig {
    /// SYSTEM VPC id.
    pub vpc_id: String,
    /// NICs 1..8.
    pub nic_num: i64,
    /// Allowed address pairs.
    #[serde(default)]
    pub allowed_address_pairs: Vec<AddressPair>,
}

/// An allowed address pair.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddressPair {
    /// IP or CIDR (`0.0.0.0/0` is rejected).
    pub ip_address: String,
    /// MAC.
    #[serde(default)]
    pub mac_address: Option<String>,
}

/// `stack` is documented as an object but shown as an array elsewhere; both are accepted.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Stack),
    Many(Vec<Stack>),
}

#[derive(Deserialize)]
struct CreatePlanBody {
    edgecloud: PlanRequest,
}

#[derive(Deserialize)]
struct PlanRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    description: Option<String>,
    coverage: Coverage,
    #[serde(alias = "stacks")]
    stack: OneOrMany,
}

/// A scheduled location.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Location {
    /// Site id.
    pub site_id: String,
    /// Area.
    pub area: String,
    /// Province.
    pub province: String,
    /// City.
    pub city: String,
    /// Operator.
    pub operator: String,
    /// Line id.
    pub pool_id: String,
    /// Stacks to create here.
    pub stack_count: u32,
    /// City short name.
    pub city_short_name: String,
    /// IPv6 enabled.
    pub ipv6_enable: bool,
    /// IPv6 bandwidth enabled.
    pub ipv6_bandwidth_enable: bool,
    /// IPv6 line.
    pub pool_id_v6: String,
}

/// A stored deployment plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deployment {
    /// Plan id.
    pub id: String,
    /// `open` or `closed`.
    pub status: String,
    /// Edge cloud id (set for expansion plans, and after deploy).
    pub edgecloud_id: String,
    /// Edge cloud name.
    pub edgecloud_name: String,
    /// Description.
    pub description: String,
    /// The stack template.
    pub stack: Stack,
    /// Coverage.
    pub coverage: Coverage,
    /// Scheduled locations.
    pub locations: Vec<Location>,
    /// True for expansion plans.
    pub expand: bool,
}

impl Record for Deployment {
    const KIND: &'static str = kinds::DEPLOYMENT;
    fn id(&self) -> &str {
        &self.id
    }
}

/// A stored edge cloud.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EdgeCloud {
    /// Id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Accumulated coverage (expansions append their sites).
    pub coverage: Coverage,
    /// Rendered stacks (with ids).
    pub stacks: Vec<Value>,
    /// Status.
    pub status: String,
    /// Failure reason `(code, message)`.
    #[serde(default)]
    pub fail_reason: Option<(String, String)>,
    /// Created (epoch ms).
    pub created_ms: u64,
    /// Updated (epoch ms).
    pub updated_ms: u64,
    /// Members created by the running deploy/expand.
    #[serde(default)]
    pub pending_members: Vec<String>,
}

impl Record for EdgeCloud {
    const KIND: &'static str = kinds::EDGE_CLOUD;
    fn id(&self) -> &str {
        &self.id
    }
}

// ---- validation and scheduling -----------------------------------------------------------------

fn coverage_err(m: &str) -> ApiError {
    Code::E010800.msg(&[m])
}

fn stack_err(m: String) -> ApiError {
    Code::E010303.msg(&[&m])
}

fn level_matches(level: &str, site: &Site, name: &str) -> bool {
    match level {
        "site" => site.id == name,
        "city" => site.city == name,
        "prov" => site.province == name,
        "area" => site.area == name,
        _ => false,
    }
}

/// Per-stack instance count of a stack template.
fn per_stack(stack: &Stack) -> u64 {
    stack
        .resources
        .iter()
        .map(|r| r.count.unwrap_or(1).max(0) as u64)
        .sum()
}

fn schedule(tx: &mut Tx<'_>, coverage: &Coverage, stack: &Stack) -> Result<Vec<Location>, ApiError> {
    if !matches!(coverage.coverage_policy.as_str(), "centralize" | "discrete") {
        return Err(coverage_err("coverage_policy must be centralize or discrete"));
    }
    if !matches!(
        coverage.coverage_level.as_str(),
        "area" | "prov" | "city" | "site"
    ) {
        return Err(coverage_err("coverage_level must be area, prov, city or site"));
    }
    if coverage.coverage_level == "site" && coverage.coverage_policy != "centralize" {
        return Err(coverage_err(
            "site-level coverage requires coverage_policy centralize",
        ));
    }
    if coverage.coverage_sites.is_empty() {
        return Err(coverage_err("coverage_sites must not be empty"));
    }
    let cat: Catalog = tx.config.catalog.clone();
    let per = per_stack(stack);
    let mut planned: BTreeMap<String, u64> = BTreeMap::new();
    let mut out: Vec<Location> = Vec::new();
    for cs in &coverage.coverage_sites {
        if cs.demands.is_empty() {
            return Err(coverage_err("demands must not be empty"));
        }
        let matching: Vec<&Site> = cat
            .sites
            .iter()
            .filter(|s| level_matches(&coverage.coverage_level, s, &cs.site))
            .filter(|s| !matches!(s.status.as_str(), "Offline" | "sellout"))
            .collect();
        if matching.is_empty() {
            return Err(Code::E011010.err());
        }
        for d in &cs.demands {
            if !(1..=10).contains(&d.demand_count) {
                return Err(coverage_err("demand_count must be within 1..10"));
            }
            if !d.pool_id.is_empty() && matches!(coverage.coverage_level.as_str(), "prov" | "area") {
                return Err(coverage_err(
                    "pool_id is not supported for province or area coverage",
                ));
            }
            let cands: Vec<&Site> = matching
                .iter()
                .copied()
                .filter(|s| {
                    d.operator.is_empty()
                        || s.pools
                            .iter()
                            .any(|p| p.operator.name.eq_ignore_ascii_case(&d.operator))
                })
                .filter(|s| d.pool_id.is_empty() || s.pools.iter().any(|p| p.pool_id == d.pool_id))
                .collect();
            if cands.is_empty() {
                return Err(Code::E011010.err());
            }
            let mut usable = Vec::new();
            for s in cands {
                let load = site_load(tx, &s.id)? + planned.get(&s.id).copied().unwrap_or(0);
                if !tx.faults.site_exhausted(&s.id) && load + per <= s.capacity_instances {
                    usable.push(s);
                }
            }
            if usable.is_empty() {
                return Err(Code::E011018.err());
            }
            let mut counts: Vec<(&Site, u32)> = Vec::new();
            if coverage.coverage_policy == "centralize" {
                counts.push((usable[0], d.demand_count as u32));
            } else {
                for k in 0..d.demand_count as usize {
                    let s = usable[k % usable.len()];
                    match counts.iter_mut().find(|(x, _)| x.id == s.id) {
                        Some((_, c)) => *c += 1,
                        None => counts.push((s, 1)),
                    }
                }
            }
            for (s, n) in counts {
                *planned.entry(s.id.clone()).or_insert(0) += per * u64::from(n);
                let pool = s
                    .pools
                    .iter()
                    .find(|p| {
                        (d.pool_id.is_empty() || p.pool_id == d.pool_id)
                            && (d.operator.is_empty() || p.operator.name.eq_ignore_ascii_case(&d.operator))
                    })
                    .or(s.pools.first());
                out.push(Location {
                    site_id: s.id.clone(),
                    area: s.area.clone(),
                    province: s.province.clone(),
                    city: s.city.clone(),
                    operator: pool.map(|p| p.operator.name.clone()).unwrap_or_default(),
                    pool_id: pool.map(|p| p.pool_id.clone()).unwrap_or_default(),
                    stack_count: n,
                    city_short_name: s.city_short_name.clone(),
                    ipv6_enable: false,
                    ipv6_bandwidth_enable: d.ipv6_bandwidth_enable,
                    pool_id_v6: d.pool_id_v6.clone(),
                });
            }
        }
    }
    Ok(out)
}

fn validate_stack(tx: &mut Tx<'_>, stack: &Stack, locations: &[Location]) -> Result<(), ApiError> {
    if !valid_name(&stack.name, 1, 48, &['-', '_']) {
        return Err(stack_err(format!(
            "stack name {} must be 1-48 letters, digits, Chinese, '-' or '_'",
            stack.name
        )));
    }
    if stack.resources.is_empty() {
        return Err(stack_err("stack.resources must not be empty".into()));
    }
    let cat = tx.config.catalog.clone();
    for r in &stack.resources {
        if !valid_name(&r.name, 1, 48, &['-', '_', '.']) {
            return Err(Code::E010401.msg(&["48"]));
        }
        if r.count.is_some_and(|c| c <= 0) {
            return Err(Code::E010700.err());
        }
        let image = r
            .image_ref
            .as_deref()
            .filter(|i| !i.is_empty())
            .ok_or_else(|| Code::E010641.err())?;
        if !image_exists(tx, image) {
            return Err(Code::E010641.err());
        }
        if cat.flavor(&r.flavor_ref).is_none() {
            return Err(Code::E010603.err());
        }
        for loc in locations {
            let Some(site) = cat.site(&loc.site_id) else {
                continue;
            };
            if !cat.site_has_flavor(site, &r.flavor_ref) {
                return Err(Code::E010603.err());
            }
            check_volumes(site, &r.root_volume, &r.data_volumes, stack_err)?;
        }
        if !(1..=8).contains(&r.net_config.nic_num) {
            return Err(stack_err("net_config.nic_num must be within 1..8".into()));
        }
        if r.net_config
            .allowed_address_pairs
            .iter()
            .any(|p| p.ip_address == "0.0.0.0/0")
        {
            return Err(stack_err(
                "allowed_address_pairs ip_address 0.0.0.0/0 is not allowed".into(),
            ));
        }
        let vpc = crate::iec::vpc::get_vpc(tx, &r.net_config.vpc_id)?;
        if vpc.mode != "SYSTEM" {
            return Err(stack_err(format!(
                "vpc {} is not a system-planned (SYSTEM) vpc",
                vpc.id
            )));
        }
        if let Some(pw) = &r.admin_pass
            && !valid_admin_pass(pw)
        {
            return Err(stack_err("admin_pass does not meet the complexity rules".into()));
        }
        if let Some(b) = &r.bandwidth
            && b.sharetype != "WHOLE"
        {
            return Err(stack_err("bandwidth.sharetype must be WHOLE".into()));
        }
        for g in &r.security_groups {
            if let Some(id) = g.id.as_deref().filter(|i| !i.is_empty())
                && tx.store.get_json(kinds::SECURITY_GROUP, id).is_none()
            {
                return Err(Code::E020204.err());
            }
        }
        if let Some(k) = r.key_name.as_deref().filter(|k| !k.is_empty())
            && tx.store.get_json(kinds::KEYPAIR, k).is_none()
        {
            return Err(Code::E010220.msg(&[k]));
        }
    }
    Ok(())
}

fn get_edgecloud(tx: &mut Tx<'_>, id: &str) -> Result<EdgeCloud, ApiError> {
    let now = tx.now_ms;
    tx.store
        .table::<EdgeCloud>()?
        .get_visible(id, now)
        .cloned()
        .ok_or_else(|| Code::E010000.msg(&[id]))
}

fn is_busy(status: &str) -> bool {
    matches!(status, "creating" | "scheduling" | "updating" | "deleting")
}

// ---- plans -------------------------------------------------------------------------------------

async fn create_plan(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<CreatePlanBody>,
) -> Result<Response, ApiError> {
    let req = body.edgecloud;
    let stack = match req.stack {
        OneOrMany::One(s) => s,
        OneOrMany::Many(mut v) if v.len() == 1 => v.remove(0),
        OneOrMany::Many(_) => return Err(stack_err("exactly one stack is required".into())),
    };
    let name = req.name.clone().unwrap_or_default();
    let ec_id = req.id.clone().unwrap_or_default();
    match (name.is_empty(), ec_id.is_empty()) {
        (true, true) => return Err(Code::E010005.err()),
        (false, false) => return Err(Code::E010004.msg(&[&name])),
        _ => {}
    }
    if !name.is_empty() && !valid_name(&name, 1, 32, &['-', '_']) {
        return Err(Code::E010004.msg(&[&name]));
    }
    let description = req.description.clone().unwrap_or_default();
    if !valid_description(&description, 255) {
        return Err(Code::E010010.msg(&["description must be at most 255 characters without '<' or '>'"]));
    }
    app.tx(&p, |tx| {
        let mut ec_name = name.clone();
        if ec_id.is_empty() {
            if tx.store.table::<EdgeCloud>()?.iter().any(|e| e.name == name) {
                return Err(Code::E010008.msg(&[&name]));
            }
        } else {
            let ec = get_edgecloud(tx, &ec_id)?;
            if ec.status == "failed" {
                return Err(Code::E010009.msg(&[&ec.id]));
            }
            if ec.coverage.coverage_level == "site" {
                return Err(coverage_err("site-level edge clouds can not be expanded"));
            }
            if ec.coverage.coverage_level != req.coverage.coverage_level {
                return Err(coverage_err(
                    "coverage_level must equal the edge cloud's coverage_level",
                ));
            }
            ec_name = ec.name;
        }
        let locations = schedule(tx, &req.coverage, &stack)?;
        validate_stack(tx, &stack, &locations)?;
        let plan = Deployment {
            id: ids::resource_id(),
            status: "open".into(),
            edgecloud_id: ec_id.clone(),
            edgecloud_name: ec_name,
            description: description.clone(),
            stack: stack.clone(),
            coverage: req.coverage.clone(),
            locations: locations.clone(),
            expand: !ec_id.is_empty(),
        };
        tx.insert_new(plan.clone())?;
        Ok(axum::Json(json!({"id": plan.id, "locations": locations})).into_response())
    })
}

fn masked_stack(stack: &Stack) -> Value {
    let mut v = serde_json::to_value(stack).unwrap_or(Value::Null);
    if let Some(rs) = v.get_mut("resources").and_then(Value::as_array_mut) {
        for r in rs {
            if r.get("admin_pass").is_some() {
                r["admin_pass"] = json!("******");
            }
        }
    }
    v
}

fn render_plan(d: &Deployment) -> Value {
    json!({
        "id": d.id,
        "distribution": d.locations,
        "edgecloud": {
            "id": d.edgecloud_id,
            "name": d.edgecloud_name,
            "description": d.description,
            "stacks": masked_stack(&d.stack),
            "coverage": d.coverage,
        }
    })
}

async fn list_plans(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(&q, PageRule::ITEMS_1000)?;
    let status = q.get("status");
    if status.is_some_and(|s| s != "open" && s != "closed") {
        return Err(Code::E000006.err());
    }
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let (ec, id) = (q.get("edgecloud_id"), q.get("id"));
        let t = tx.store.table::<Deployment>()?;
        let it = t.iter_visible(now).filter(|d| {
            ec.is_none_or(|x| d.edgecloud_id == x)
                && id.is_none_or(|x| d.id == x)
                && status.is_none_or(|x| d.status == x)
        });
        let (count, items) = pg.apply(it);
        let items: Vec<Value> = items.into_iter().map(render_plan).collect();
        Ok(axum::Json(json!({"count": count, "deployments": items})).into_response())
    })
}

async fn delete_plan(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let t = tx.store.table::<Deployment>()?;
        if t.get_visible(&id, now).is_none() {
            return Err(Code::E010100.msg(&[&id]));
        }
        t.remove(&id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

fn open_plan(tx: &mut Tx<'_>, id: &str) -> Result<Deployment, ApiError> {
    let now = tx.now_ms;
    tx.store
        .table::<Deployment>()?
        .get_visible(id, now)
        .filter(|d| d.status == "open")
        .cloned()
        .ok_or_else(|| Code::E010100.msg(&[id]))
}

/// Creates the members of `plan` in edge cloud `ec`; returns their ids.
fn create_members(
    tx: &mut Tx<'_>,
    plan: &Deployment,
    ec_id: &str,
    ec_name: &str,
) -> Result<(Vec<String>, Vec<Value>), ApiError> {
    let cat = tx.config.catalog.clone();
    let total: u64 = plan
        .locations
        .iter()
        .map(|l| u64::from(l.stack_count))
        .sum::<u64>()
        * per_stack(&plan.stack);
    // quota over all resources of the plan
    for r in &plan.stack.resources {
        let Some(flavor) = cat.flavor(&r.flavor_ref) else {
            return Err(Code::E010603.err());
        };
        let mut disks = vec![r.root_volume.size as u32];
        disks.extend(r.data_volumes.iter().map(|d| d.size as u32));
        let n = plan
            .locations
            .iter()
            .map(|l| u64::from(l.stack_count))
            .sum::<u64>()
            * r.count.unwrap_or(1) as u64;
        check_quota(tx, n.min(total), flavor, &disks)?;
    }
    let mut members = Vec::new();
    let mut stacks = Vec::new();
    let reservation = Shared::from(format!("r-{}", &ids::job_id()[..8]));
    let (ec_shared, ec_name_shared) = (Shared::from(ec_id), Shared::from(ec_name));
    let mut launch = 0u32;
    for loc in &plan.locations {
        let Some(site_index) = cat.sites.iter().position(|s| s.id == loc.site_id) else {
            continue;
        };
        let site = &cat.sites[site_index];
        let exhausted = tx.faults.site_exhausted(&site.id);
        let site_id = Shared::from(&site.id);
        let city4: String = site.city.replace('\'', "_").chars().take(4).collect();
        for k in 0..loc.stack_count {
            let n = tx
                .store
                .next_counter(&format!("stack/{ec_id}/{}/{}", site.id, plan.stack.name));
            let mut sv = masked_stack(&plan.stack);
            sv["id"] = json!(ids::resource_id());
            sv["name"] = json!(format!("{}-{city4}-{:03}", plan.stack.name, n));
            if let Some(rs) = sv.get_mut("resources").and_then(Value::as_array_mut) {
                for r in rs {
                    if let Some(nc) = r.get_mut("net_config") {
                        nc["subnets"] = Value::Null;
                        nc["associate_mode"] = json!("");
                    }
                }
            }
            stacks.push(sv);
            let _ = k;
            for r in &plan.stack.resources {
                let vpc: Vpc = crate::iec::vpc::get_vpc(tx, &r.net_config.vpc_id)?;
                let (subnet_id, cidr) = system_subnet(&vpc, site_index).ok_or_else(|| Code::E020108.err())?;
                let Some(flavor) = cat.flavor(&r.flavor_ref) else {
                    return Err(Code::E010603.err());
                };
                let nic = (Shared::from(subnet_id), cidr, Shared::from(cidr.to_string()));
                let subnets = vec![nic; r.net_config.nic_num.clamp(1, 8) as usize];
                let sgs: Vec<Shared> = r
                    .security_groups
                    .iter()
                    .filter_map(|g| g.id.as_deref())
                    .filter(|g| !g.is_empty())
                    .map(Shared::from)
                    .collect();
                let root = (
                    r.root_volume.size as u32,
                    Shared::from(&r.root_volume.volume_type),
                );
                let data: Vec<(u32, Shared)> = r
                    .data_volumes
                    .iter()
                    .map(|d| (d.size as u32, Shared::from(&d.volume_type)))
                    .collect();
                let image_id = Shared::from(r.image_ref.clone().unwrap_or_default());
                let key_name = Shared::from(r.key_name.clone().unwrap_or_default());
                let user_data = Shared::from(r.user_data.clone().unwrap_or_default());
                let vpc_id = Shared::from(&vpc.id);
                let operator = Shared::from(&loc.operator);
                for _ in 0..r.count.unwrap_or(1) {
                    let num = tx
                        .store
                        .next_counter(&format!("name/{ec_id}/{}/{}", site.id, r.name));
                    let fail = exhausted || tx.rng.chance(tx.faults.instance_failure_rate);
                    let spec = NewInstance {
                        name: instance_name(site, &r.name, r.with_prefix.unwrap_or(true), Some(num)),
                        site,
                        site_id: site_id.clone(),
                        flavor,
                        flavor_id: Shared::from(&flavor.id),
                        image_id: image_id.clone(),
                        key_name: key_name.clone(),
                        user_data: user_data.clone(),
                        vpc_id: vpc_id.clone(),
                        subnets: subnets.clone(),
                        security_groups: sgs.clone(),
                        root: root.clone(),
                        data: data.clone(),
                        edgecloud: Some((ec_shared.clone(), ec_name_shared.clone())),
                        eip_pools: if r.bandwidth.is_some() {
                            vec![loc.pool_id.clone()]
                        } else {
                            vec![]
                        },
                        operator: operator.clone(),
                        launch_index: launch,
                        reservation_id: reservation.clone(),
                        fail,
                    };
                    launch += 1;
                    match provision(tx, spec) {
                        Ok(id) => members.push(id),
                        Err(e) => {
                            for id in &members {
                                crate::iec::instances::destroy(tx.store, id)?;
                            }
                            return Err(e);
                        }
                    }
                }
            }
        }
    }
    Ok((members, stacks))
}

fn schedule_check(tx: &mut Tx<'_>, ec_id: &str) {
    let delay = tx.delay_ms("instance_build", 3000) + tx.delay_ms("edgecloud_check", 500);
    tx.schedule_in(delay, kinds::EDGE_CLOUD, ec_id, "check");
}

async fn deploy(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let plan = open_plan(tx, &id)?;
        if plan.expand {
            return Err(Code::E010101.msg(&[tx.domain_id]));
        }
        if tx
            .store
            .table::<EdgeCloud>()?
            .iter()
            .any(|e| e.name == plan.edgecloud_name)
        {
            return Err(Code::E010008.msg(&[&plan.edgecloud_name]));
        }
        let quota = tx.config.catalog.quota("edgeclouds");
        if tx.store.table::<EdgeCloud>()?.len() as u64 >= quota {
            return Err(Code::E010910.msg(&[&format!("edgeclouds quota {quota} exceeded")]));
        }
        let ec_id = ids::resource_id();
        let (members, stacks) = create_members(tx, &plan, &ec_id, &plan.edgecloud_name)?;
        let now = tx.now_ms;
        let ec = EdgeCloud {
            id: ec_id.clone(),
            name: plan.edgecloud_name.clone(),
            description: plan.description.clone(),
            coverage: plan.coverage.clone(),
            stacks,
            status: "creating".into(),
            fail_reason: None,
            created_ms: now,
            updated_ms: now,
            pending_members: members,
        };
        tx.insert_new(ec)?;
        if let Some(d) = tx.store.table::<Deployment>()?.get_mut(&id) {
            d.status = "closed".into();
            d.edgecloud_id = ec_id.clone();
        }
        schedule_check(tx, &ec_id);
        Ok(axum::Json(
            json!({"id": ec_id, "name": plan.edgecloud_name, "deployment_id": id, "status": "creating",
            "job_id": ids::job_id()}),
        )
        .into_response())
    })
}

async fn expand(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let plan = open_plan(tx, &id)?;
        if !plan.expand {
            return Err(Code::E010101.msg(&[tx.domain_id]));
        }
        let ec = get_edgecloud(tx, &plan.edgecloud_id)?;
        if ec.status == "failed" {
            return Err(Code::E010009.msg(&[&ec.id]));
        }
        if is_busy(&ec.status) {
            return Err(Code::E010002.msg(&[&ec.id]));
        }
        if ec.status != "inService" {
            return Err(Code::E010009.msg(&[&ec.id]));
        }
        if ec.coverage.coverage_level == "site" {
            return Err(coverage_err("site-level edge clouds can not be expanded"));
        }
        let (members, stacks) = create_members(tx, &plan, &ec.id, &ec.name)?;
        let now = tx.now_ms;
        if let Some(e) = tx.store.table::<EdgeCloud>()?.get_mut(&ec.id) {
            e.status = "updating".into();
            e.updated_ms = now;
            e.pending_members = members;
            e.stacks.extend(stacks);
            e.coverage
                .coverage_sites
                .extend(plan.coverage.coverage_sites.iter().cloned());
        }
        if let Some(d) = tx.store.table::<Deployment>()?.get_mut(&id) {
            d.status = "closed".into();
        }
        schedule_check(tx, &ec.id);
        Ok(axum::Json(
            json!({"id": ec.id, "name": ec.name, "deployment_id": id, "status": "updating",
            "job_id": ids::job_id()}),
        )
        .into_response())
    })
}

fn on_timer(store: &mut Store, t: &Timer, now: u64) -> Result<(), StateError> {
    if t.action == "gone" {
        let members: Vec<String> = store.referrers_by(kinds::EDGE_CLOUD, &t.id, kinds::INSTANCE);
        for m in members {
            crate::iec::instances::destroy(store, &m)?;
        }
        store.table::<EdgeCloud>()?.remove(&t.id);
        store.remove_refs_of(kinds::EDGE_CLOUD, &t.id);
        return Ok(());
    }
    let Some(ec) = store.table::<EdgeCloud>()?.get(&t.id).cloned() else {
        return Ok(());
    };
    if !matches!(ec.status.as_str(), "creating" | "updating" | "scheduling") {
        return Ok(());
    }
    let (mut building, mut ok, mut failed) = (0, 0, 0);
    {
        let insts = store.table::<Instance>()?;
        for m in &ec.pending_members {
            match insts.get(m).map(|i| i.status.as_ref()) {
                Some("BUILD") => building += 1,
                Some("FAILED") => failed += 1,
                Some(_) => ok += 1,
                None => {}
            }
        }
    }
    if building > 0 {
        store.schedule(now + 1000, kinds::EDGE_CLOUD, &t.id, "check");
        return Ok(());
    }
    if let Some(e) = store.table::<EdgeCloud>()?.get_mut(&t.id) {
        if ok == 0 && failed > 0 && e.status == "creating" {
            e.status = "failed".into();
            e.fail_reason = Some((
                "IEC.010900".into(),
                format!(
                    "Schedule edgecloud failed.Error: {failed} of {failed} edge instances failed to be created."
                ),
            ));
        } else {
            e.status = "inService".into();
            if failed > 0 {
                e.fail_reason = Some((
                    "IEC.010900".into(),
                    format!("{failed} edge instances failed to be created."),
                ));
            }
        }
        e.pending_members.clear();
        e.updated_ms = now;
    }
    Ok(())
}

// ---- edge clouds -------------------------------------------------------------------------------

fn member_counts(tx: &mut Tx<'_>, ec: &EdgeCloud) -> Result<(u64, u64, usize), ApiError> {
    let members = tx.store.referrers_by(kinds::EDGE_CLOUD, &ec.id, kinds::INSTANCE);
    let insts = tx.store.table::<Instance>()?;
    let (mut ok, mut failed) = (0, 0);
    let mut sites = std::collections::BTreeSet::new();
    for id in members {
        if let Some(i) = insts.get(&id) {
            match i.status.as_ref() {
                "FAILED" => failed += 1,
                "BUILD" | "DELETED" => {}
                _ => ok += 1,
            }
            if i.status != "DELETED" {
                sites.insert(i.site_id.clone());
            }
        }
    }
    Ok((ok, failed, sites.len()))
}

fn render_coverage(cat: &Catalog, c: &Coverage) -> Value {
    let sites: Vec<Value> = c
        .coverage_sites
        .iter()
        .map(|s| {
            let i18n = cat
                .sites
                .iter()
                .find(|x| level_matches(&c.coverage_level, x, &s.site))
                .map(|x| match c.coverage_level.as_str() {
                    "prov" => x.i18n_province.clone(),
                    "area" => x.i18n_area.clone(),
                    "site" => x.name.clone(),
                    _ => x.i18n_city.clone(),
                })
                .unwrap_or_default();
            let demands: Vec<Value> = s
                .demands
                .iter()
                .map(|d| {
                    json!({"demand_count": d.demand_count, "pool_id_v6": d.pool_id_v6,
                    "ipv6_bandwidth_enable": d.ipv6_bandwidth_enable})
                })
                .collect();
            json!({"site": s.site, "i18n_site": i18n, "demands": demands})
        })
        .collect();
    json!({"coverage_policy": c.coverage_policy, "coverage_level": c.coverage_level, "coverage_sites": sites})
}

async fn list_edgeclouds(
    State(app): State<AppState>,
    Caller(p): Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(&q, PageRule::ITEMS_1000)?;
    if q.get("name").is_some_and(|n| n.chars().count() > 32) {
        return Err(Code::E000006.err());
    }
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let (id, name) = (q.get("id"), q.get("name"));
        let (count, items): (usize, Vec<EdgeCloud>) = {
            let t = tx.store.table::<EdgeCloud>()?;
            let it = t
                .iter_visible(now)
                .filter(|e| id.is_none_or(|x| e.id == x) && name.is_none_or(|x| e.name == x));
            let (c, v) = pg.apply(it);
            (c, v.into_iter().cloned().collect())
        };
        let cat = tx.config.catalog.clone();
        let mut out = Vec::new();
        for e in &items {
            let (ok, failed, regions) = member_counts(tx, e)?;
            out.push(json!({"id": e.id, "name": e.name, "description": e.description,
                "coverage": render_coverage(&cat, &e.coverage), "failed_num": failed, "status": e.status,
                "success_num": ok, "edge_regions": regions}));
        }
        Ok(axum::Json(json!({"count": count, "edgeclouds": out})).into_response())
    })
}

async fn show_edgecloud(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let e = get_edgecloud(tx, &id)?;
        let (ok, failed, regions) = member_counts(tx, &e)?;
        let cat = tx.config.catalog.clone();
        let (code, msg) = e.fail_reason.clone().unwrap_or_default();
        Ok(axum::Json(json!({"id": e.id, "name": e.name, "stacks": e.stacks, "coverage": render_coverage(&cat, &e.coverage),
            "success_num": ok, "failed_num": failed, "status": e.status,
            "fail_reason": {"fail_code": code, "fail_message": msg}, "edge_regions": regions,
            "description": e.description, "create_at": rfc3339_micros(e.created_ms), "update_at": rfc3339_micros(e.updated_ms)}))
        .into_response())
    })
}

async fn delete_edgecloud(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let e = get_edgecloud(tx, &id)?;
        if is_busy(&e.status) {
            return Err(Code::E010002.msg(&[&id]));
        }
        let members: Vec<String> =
            tx.store.referrers_by(kinds::EDGE_CLOUD, &id, kinds::INSTANCE);
        let (mut live, mut failed) = (0usize, Vec::new());
        {
            let t = tx.store.table::<Instance>()?;
            for m in &members {
                match t.get(m).map(|i| i.status.as_ref()) {
                    Some("FAILED") => failed.push(m.clone()),
                    Some("DELETED") | None => {}
                    Some(_) => live += 1,
                }
            }
        }
        if live > 0 {
            return Err(Code::E010002.detail(format!(
                "EdgeCloud ({id}) still has {live} edge instances and can not be deleted. Delete the instances first."
            )));
        }
        delete_instances(tx, &failed)?;
        let now = tx.now_ms;
        if let Some(x) = tx.store.table::<EdgeCloud>()?.get_mut(&id) {
            x.status = "deleting".into();
            x.updated_ms = now;
        }
        let delay = tx.delay_ms("edgecloud_delete", 1000);
        tx.store.schedule(now + delay.max(tx.delay_ms("instance_delete", 1000)), kinds::EDGE_CLOUD, &id, "gone");
        Ok((StatusCode::ACCEPTED, axum::Json(json!({"job_id": ids::job_id()}))).into_response())
    })
}

async fn quotas(State(app): State<AppState>, Caller(p): Caller) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let (inst, vcpu, ram, vols, gb) = crate::iec::instances::usage(tx)?;
        let s = &*tx.store;
        let used = |k: &str| -> u64 {
            match k {
                "vpc" => s.count(kinds::VPC) as u64,
                "subnet" => s.count(kinds::SUBNET) as u64,
                "securityGroup" => s.count(kinds::SECURITY_GROUP) as u64,
                "securityGroupRule" => s.count(kinds::SECURITY_GROUP_RULE) as u64,
                "firewall" => s.count(kinds::FIREWALL) as u64,
                "shareBandwidth" => s.count(kinds::BANDWIDTH) as u64,
                "publicIp" => s.count(kinds::PUBLIC_IP) as u64,
                "image" => s.count(kinds::IMAGE) as u64,
                "edgeclouds" => s.count(kinds::EDGE_CLOUD) as u64,
                "instance" => inst,
                "vcpu" => vcpu,
                "ram" => ram,
                "volume" => vols,
                "gigabyte" => gb,
                _ => 0,
            }
        };
        let resources: Vec<Value> = tx
            .config
            .catalog
            .quotas
            .iter()
            .map(|(k, q)| json!({"type": k, "min": 0, "max": q.max, "quota": q.quota, "used": used(k)}))
            .collect();
        Ok(axum::Json(json!({"quotas": {"resources": resources}})).into_response())
    })
}

fn register(store: &mut Store) -> Result<(), StateError> {
    store.register::<Deployment>()?;
    store.register::<EdgeCloud>()
}

/// The deployment-plan / edge-cloud / quota family.
pub fn family() -> Family {
    Family {
        name: "deployments",
        routes: || {
            Router::new()
                .route("/v1/deployments", get(list_plans).post(create_plan))
                .route("/v1/deployments/{deployment_id}", delete(delete_plan))
                .route("/v1/deployments/{deployment_id}/deploy", post(deploy))
                .route("/v1/deployments/{deployment_id}/expand", post(expand))
                .route("/v1/edgeclouds", get(list_edgeclouds))
                .route("/v1/edgeclouds/quotas", get(quotas))
                .route(
                    "/v1/edgeclouds/{edgecloud_id}",
                    get(show_edgecloud).delete(delete_edgecloud),
                )
        },
        register,
        timers: &[(kinds::EDGE_CLOUD, on_timer)],
    }
}
