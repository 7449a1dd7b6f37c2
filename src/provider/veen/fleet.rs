//! EdgeCloud on veEN: a fleet is a cloud server (边缘服务), its template the `CreateCloudServer` body,
//! its members the instances in it that carry the fleet's owner tag. The [`FleetApi`] mapping:
//!
//! - **Plans are local.** [`create_plan`](FleetApi::create_plan) resolves the request's targets against
//!   the catalog (`ListAvailableResourceInfo` for the template's spec: [`Offer`]s) into
//!   `instance_area_nums` entries and answers a plan whose id is the idempotency token of the call that
//!   executes it (the request's `client_token`, else a hash of the request); nothing exists in the cloud.
//!   [`find_open_plans`](FleetApi::find_open_plans) is always empty and
//!   [`delete_plan`](FleetApi::delete_plan) a no-op.
//! - **Deploy** is `CreateCloudServer` with that token and the request's tags (`OWNER_TAG`, inherited by
//!   the instances); **expand** is one `CreateInstance` for the whole shortfall (veEN allows 5 calls a
//!   second) with the token of the expansion. A call retried after a crash or a lost answer replays:
//!   veEN answers a repeated token with the first call's ids and creates nothing.
//! - **Recovery** after a crash between the create and the status write: the same token replays, and
//!   [`find_by_identity`](FleetApi::find_by_identity) finds the cloud server by its owner tag
//!   (`ListCloudServers` has no name filter, and names are not unique).
//! - **Targets**: coverage level Site names a cluster (`cluster_name`), City and Area a city or area by
//!   the catalog's id (`hangzhou`, `east_china`; `area_name` × ISP); Province is not a veEN level. An
//!   entry without an operator gets the first ISP (by code) that offers the spec there, so the body of
//!   a replayed call is the same as the first one's. The carrier words map to ISPs in
//!   [`placement`](super::placement).
//! - **State**: a cloud server has no status, only the histogram of its instances' statuses
//!   (`instance_status`). While a bucket is in transition (`opening`, `starting`, `stopping`,
//!   `rebooting`) the fleet is `Creating` (nothing running yet) or `Updating`; otherwise `Ready`.
//!   `open_fail` members count as failed (`failed_count`), `running` ones as successes.
//! - **Members** are the instances of the cloud server carrying its owner tag (a standalone instance
//!   created into the same cloud server by another object is not a member); their placement uses the
//!   catalog's ids, so they meet the spec's entries. Deleting members is `OfflineInstances` with
//!   `ignore_running` (at most 100 per call); building (`opening`) members cannot be deleted.
//! - **Delete** takes the cloud server apart by repeated calls: the members still there are taken
//!   offline first; once none is left, `DeleteCloudServer`. Instances of other owners in it make the
//!   delete `InUse`.
//! - **Names**: a cloud server name has 5–20 characters; the fleet name is cut to 20 (and padded with
//!   `-fleet` when shorter than 5). Members are named `<template name>-<n>` by the cloud.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::VeenProvider;
use super::catalog::Offer;
use super::client::{VeenClient, post};
use super::instance;
use super::placement::{isp_of, operator_of};
use super::types::{CloudServer, Created, Instance, InstanceQuery, Tag};
use crate::provider::error::ErrorDetail;
use crate::provider::http::HttpResult;
use crate::provider::{
    CoverageLevel, FleetApi, FleetExt, FleetOperation, FleetPlan, FleetPlanRequest, FleetPlanTarget,
    FleetState, InstanceField, InstanceFieldError, InstanceState, InstanceTemplate, OWNER_TAG, ObservedFleet,
    ObservedInstance, OpenPlan, Operation, PlanLocation, ProviderError, ProviderResult, SecretString,
    SiteTarget, client_token,
};

/// Shortest and longest cloud server name.
pub const NAME_LEN: (usize, usize) = (5, 20);
/// Instances per `OfflineInstances` call.
pub const MAX_OFFLINE_BATCH: usize = 100;
/// Bandwidth peak (Mbps) when the template sets none: veEN requires one.
pub const DEFAULT_BANDWIDTH_MBPS: u32 = 5;
/// Instance statuses in transition.
const TRANSIENT: &[&str] = &["opening", "starting", "stopping", "rebooting"];

/// The cloud server name of fleet `name`: at most 20 characters, at least 5.
pub fn cloud_server_name(name: &str) -> String {
    let mut n: String = name.chars().take(NAME_LEN.1).collect();
    if n.chars().count() < NAME_LEN.0 {
        n = format!("{n}-fleet").chars().take(NAME_LEN.1).collect();
    }
    n
}

/// veEN's storage type for a template disk type: `CloudBlockHDD` / `CloudBlockSSD`, or `HDD` / `SSD`.
pub fn storage_type(volume_type: &str) -> Option<&'static str> {
    match volume_type.to_ascii_uppercase().as_str() {
        "CLOUDBLOCKHDD" | "HDD" => Some("CloudBlockHDD"),
        "CLOUDBLOCKSSD" | "SSD" => Some("CloudBlockSSD"),
        _ => None,
    }
}

/// veEN's rules for the member template that the shared schema leaves open.
pub fn template_problems(t: &InstanceTemplate) -> Vec<InstanceFieldError> {
    let mut out = Vec::new();
    let disk_type = |v: &str| {
        storage_type(v)
            .is_none()
            .then(|| format!("veEN disks are CloudBlockHDD or CloudBlockSSD (or HDD / SSD), not {v:?}"))
    };
    if let Some(m) = disk_type(&t.root_volume.volume_type) {
        out.push(InstanceFieldError::invalid(InstanceField::RootVolume, m));
    }
    if !(20..=500).contains(&t.root_volume.size_gb) {
        out.push(InstanceFieldError::invalid(
            InstanceField::RootVolumeSize,
            format!("veEN system disks have 20-500 GB, not {}", t.root_volume.size_gb),
        ));
    }
    for (i, d) in t.data_volumes.iter().enumerate() {
        if let Some(m) = disk_type(&d.volume_type) {
            out.push(InstanceFieldError::invalid(
                InstanceField::DataVolumes,
                format!("[{i}]: {m}"),
            ));
        }
        if !(20..=2000).contains(&d.size_gb) {
            out.push(InstanceFieldError::invalid(
                InstanceField::DataVolumes,
                format!("[{i}]: veEN data disks have 20-2000 GB, not {}", d.size_gb),
            ));
        }
    }
    if t.nic_count > 1 {
        out.push(InstanceFieldError::invalid(
            InstanceField::Network,
            "veEN members have one NIC: nicCount must be 1",
        ));
    }
    out
}

fn invalid(op: &str, message: String) -> ProviderError {
    ProviderError::Invalid {
        detail: ErrorDetail::local(op, message),
    }
}

/// One resolved `instance_area_nums` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AreaEntry {
    /// `area_name` (city or area id), for coverage levels City and Area.
    pub area_name: Option<String>,
    /// `cluster_name`, for coverage level Site.
    pub cluster_name: Option<String>,
    /// ISP code.
    pub isp: String,
    /// How many.
    pub num: u32,
}

impl AreaEntry {
    fn to_json(&self, vpc_id: &str) -> Value {
        let mut v = json!({"isp": self.isp, "num": self.num});
        if let Some(m) = v.as_object_mut() {
            if let Some(a) = &self.area_name {
                m.insert("area_name".into(), json!(a));
            }
            if let Some(c) = &self.cluster_name {
                m.insert("cluster_name".into(), json!(c));
            }
            if !vpc_id.is_empty() {
                m.insert("vpc_identity".into(), json!(vpc_id));
            }
        }
        v
    }
}

/// The entry of one target against the catalog: the location must be offered for the spec (by the
/// catalog's id at levels City and Area), the operator be one veEN has there, and the free capacity
/// cover the count (else `CapacityExhausted`).
pub fn resolve_target(level: CoverageLevel, t: &SiteTarget, offers: &[Offer]) -> ProviderResult<AreaEntry> {
    const OP: &str = "veen.fleet.plan";
    let wanted_isp = match t.operator.as_deref() {
        Some(op) => Some(isp_of(op).map_err(|e| invalid(OP, e.to_string()))?),
        None => None,
    };
    let here: Vec<&Offer> = match level {
        CoverageLevel::Site => offers.iter().filter(|o| o.cluster == t.site).collect(),
        CoverageLevel::City => offers.iter().filter(|o| o.city == t.site).collect(),
        CoverageLevel::Area => offers.iter().filter(|o| o.area == t.site).collect(),
        CoverageLevel::Province => {
            return Err(invalid(
                OP,
                "veEN places by cluster (coverage level Site), city or area; Province is not a veEN level"
                    .to_owned(),
            ));
        }
    };
    if here.is_empty() {
        let by_name = offers.iter().find(|o| o.in_location(&t.site));
        let hint = match (level, by_name) {
            (CoverageLevel::City, Some(o)) => format!("; name the city by its id {:?}", o.city),
            (CoverageLevel::Area, Some(o)) => format!("; name the area by its id {:?}", o.area),
            _ => String::new(),
        };
        return Err(invalid(
            OP,
            format!("veEN offers the spec at no {level:?} {:?}{hint}", t.site),
        ));
    }
    let isp = match wanted_isp {
        Some(isp) => {
            if !here.iter().any(|o| o.isp == isp) {
                return Err(invalid(
                    OP,
                    format!(
                        "veEN offers the spec at {:?} only through {}",
                        t.site,
                        here.iter()
                            .map(|o| operator_of(&o.isp))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            isp.to_owned()
        }
        // Deterministic (not by free capacity), so a replayed call sends the same body.
        None => here.iter().map(|o| o.isp.clone()).min().unwrap_or_default(),
    };
    let free: u32 = here.iter().filter(|o| o.isp == isp).map(|o| o.available).sum();
    if free < t.count {
        return Err(ProviderError::CapacityExhausted {
            detail: ErrorDetail::local(
                OP,
                format!(
                    "{} has room for {free} more instance(s) of the spec through {}, {} wanted",
                    t.site,
                    operator_of(&isp),
                    t.count
                ),
            ),
        });
    }
    Ok(match level {
        CoverageLevel::Site => AreaEntry {
            area_name: None,
            cluster_name: Some(t.site.clone()),
            isp,
            num: t.count,
        },
        _ => AreaEntry {
            area_name: Some(t.site.clone()),
            cluster_name: None,
            isp,
            num: t.count,
        },
    })
}

/// The entries of every target with members to add.
pub fn resolve_targets(request: &FleetPlanRequest, offers: &[Offer]) -> ProviderResult<Vec<AreaEntry>> {
    request
        .targets
        .iter()
        .filter(|t| t.count > 0)
        .map(|t| resolve_target(request.level, t, offers))
        .collect()
}

/// The token of the call executing `request`: its identity's `client_token`, else a stable hash of
/// what it places.
pub fn plan_token(request: &FleetPlanRequest) -> String {
    match &request.identity.client_token {
        Some(t) => t.clone(),
        None => client_token(&format!(
            "plan/{:?}/{:?}/{}/{}/{}",
            request.target,
            request.targets,
            request.template.name,
            request.template.flavor,
            request.template.image
        )),
    }
}

fn tags_of(request: &FleetPlanRequest) -> Vec<Tag> {
    request
        .identity
        .tags
        .iter()
        .map(|(k, v)| Tag {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

fn disk_json(volume_type: &str, size_gb: u32) -> Value {
    json!({"storage_type": storage_type(volume_type).unwrap_or("CloudBlockHDD"), "capacity": size_gb.to_string()})
}

/// The `CreateCloudServer` body for `request` placed at `areas`, with `token`.
pub fn cloud_server_body(request: &FleetPlanRequest, areas: &[AreaEntry], token: &str) -> Value {
    let t = &request.template;
    let name = match &request.target {
        FleetPlanTarget::New { name } => name.clone(),
        FleetPlanTarget::Expand { fleet_id } => fleet_id.clone(),
    };
    let bandwidth = t
        .bandwidth
        .as_ref()
        .and_then(|b| b.size_mbit)
        .unwrap_or(DEFAULT_BANDWIDTH_MBPS);
    let mut body = json!({
        "cloudserver_name": cloud_server_name(&name),
        "cloud_server_desc": request.description.chars().take(80).collect::<String>(),
        "image_id": t.image,
        "spec_name": t.flavor,
        "storage_config": {
            "system_disk": disk_json(&t.root_volume.volume_type, t.root_volume.size_gb),
            "data_disk_list": t.data_volumes.iter().map(|d| disk_json(&d.volume_type, d.size_gb)).collect::<Vec<_>>(),
        },
        "network_config": {
            "bandwidth_peak": bandwidth.to_string(),
            "security_group_id_list": t.security_group_ids,
        },
        "instance_area_nums": areas.iter().map(|a| a.to_json(&t.vpc_id)).collect::<Vec<_>>(),
        "advanced_configuration": {"instance_name": t.name},
        "client_token": token,
        "Tags": tags_of(request),
    });
    let Some(m) = body.as_object_mut() else {
        return body;
    };
    let secret = match (&t.key_name, &t.admin_password) {
        (Some(k), _) => Some(json!({"secret_type": 3, "secret_data": k})),
        (None, Some(p)) => Some(json!({"secret_type": 2, "secret_data": p.expose()})),
        (None, None) => None,
    };
    if let Some(s) = secret {
        m.insert("secret_config".into(), s);
    }
    if let Some(u) = t.user_data.as_ref().map(SecretString::expose) {
        m.insert("custom_data".into(), json!({"data": u}));
    }
    if let FleetExt::Veen(x) = &t.ext {
        insert_ext(m, x, true);
    }
    body
}

fn insert_ext(m: &mut serde_json::Map<String, Value>, x: &crate::provider::VeenFleetExt, create: bool) {
    if create && (x.schedule_strategy.is_some() || x.price_strategy.is_some()) {
        let mut s = serde_json::Map::new();
        if let Some(v) = &x.schedule_strategy {
            s.insert("schedule_strategy".into(), json!(v));
        }
        if let Some(v) = &x.price_strategy {
            s.insert("price_strategy".into(), json!(v));
        }
        m.insert("schedule_strategy".into(), Value::Object(s));
    }
    if x.computing_billing_method.is_some() || x.bandwidth_billing_method.is_some() {
        let mut b = serde_json::Map::new();
        if let Some(v) = &x.computing_billing_method {
            b.insert("computing_billing_method".into(), json!(v));
        }
        if let Some(v) = &x.bandwidth_billing_method {
            b.insert("bandwidth_billing_method".into(), json!(v));
        }
        m.insert("billing_config".into(), Value::Object(b));
    }
    if let Some(secs) = x.create_instance_timeout_secs {
        m.insert("create_instance_timeout".into(), json!(secs));
    }
    if create && let Some(p) = &x.project {
        m.insert("project".into(), json!(p));
    }
}

/// The `CreateInstance` body adding `areas` to cloud server `id`, with `token`.
pub fn expand_body(id: &str, request: &FleetPlanRequest, areas: &[AreaEntry], token: &str) -> Value {
    let mut body = json!({
        "cloud_server_identity": id,
        "instance_area_nums": areas.iter().map(|a| a.to_json(&request.template.vpc_id)).collect::<Vec<_>>(),
        "client_token": token,
        "Tags": tags_of(request),
    });
    if let (FleetExt::Veen(x), Some(m)) = (&request.template.ext, body.as_object_mut()) {
        insert_ext(m, x, false);
    }
    body
}

/// A cloud server's state from its status histogram.
pub fn fleet_state(cs: &CloudServer) -> FleetState {
    let count = |names: &[&str]| -> u32 {
        cs.instance_status
            .iter()
            .filter(|b| names.contains(&b.status.as_str()))
            .map(|b| b.instance_count)
            .sum()
    };
    if count(TRANSIENT) == 0 {
        FleetState::Ready
    } else if count(&["running"]) == 0 && count(&["opening"]) > 0 {
        FleetState::Creating
    } else {
        FleetState::Updating
    }
}

/// `status:n …` of the non-empty buckets, sorted: the cloud status shown in the EdgeCloud's status.
pub fn raw_status(cs: &CloudServer) -> String {
    let mut buckets: Vec<(String, u32)> = cs
        .instance_status
        .iter()
        .filter(|b| b.instance_count > 0)
        .map(|b| (b.status.clone(), b.instance_count))
        .collect();
    buckets.sort();
    if buckets.is_empty() {
        return "empty".to_owned();
    }
    buckets
        .iter()
        .map(|(s, n)| format!("{s}:{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A cloud server as an observed fleet.
pub fn fleet_from(cs: CloudServer) -> ObservedFleet {
    let bucket = |name: &str| -> u32 {
        cs.instance_status
            .iter()
            .filter(|b| b.status == name)
            .map(|b| b.instance_count)
            .sum()
    };
    ObservedFleet {
        state: fleet_state(&cs),
        raw_status: raw_status(&cs),
        success_count: bucket("running"),
        failed_count: bucket("open_fail"),
        failure: None,
        level: None,
        sites: Vec::new(),
        description: String::new(),
        id: cs.cloud_server_identity,
        name: cs.name,
    }
}

/// A member as an observed instance: the instance mapping of [`instance::observed`], with area and
/// city by the catalog's ids where `offers` lists the member's cluster (the instance shows display
/// names such as `杭州`, the spec names `hangzhou`).
pub fn member_from(i: &Instance, offers: &[Offer]) -> ObservedInstance {
    let mut o = instance::observed(i);
    if let Some(offer) = offers.iter().find(|x| x.cluster == i.cluster.cluster_name) {
        o.placement.area = Some(offer.area.clone()).filter(|a| !a.is_empty());
        o.placement.city = Some(offer.city.clone()).filter(|c| !c.is_empty());
    }
    o
}

impl VeenClient {
    /// `CreateCloudServer` with a prepared body (retried like an idempotent call: it has a token).
    pub async fn create_cloud_server_body(&self, body: Value) -> HttpResult<Created> {
        self.result(post("veen.cloud_server.create", "CreateCloudServer", body, true))
            .await
    }

    /// `CreateInstance` with a prepared body (retried like an idempotent call: it has a token).
    pub async fn create_instance_body(&self, body: Value) -> HttpResult<Created> {
        self.result(post("veen.instance.create", "CreateInstance", body, true))
            .await
    }

    /// `ListCloudServers` carrying tag `key` = `value`, with their tags.
    pub async fn cloud_servers_tagged(&self, key: &str, value: &str) -> HttpResult<Vec<CloudServer>> {
        self.list_cloud_servers(&[(key.to_owned(), vec![value.to_owned()])])
            .await
    }

    /// `ListInstances` of cloud server `id` (those tagged `owner` when given).
    pub async fn members(&self, id: &str, owner: Option<&str>) -> HttpResult<Vec<Instance>> {
        let q = InstanceQuery {
            cloud_server_ids: vec![id.to_owned()],
            tags: owner
                .map(|o| vec![(OWNER_TAG.to_owned(), vec![o.to_owned()])])
                .unwrap_or_default(),
            ..InstanceQuery::default()
        };
        self.list_instances(&q).await
    }
}

/// The owner tag of a cloud server, if it has one.
fn owner_of(cs: &CloudServer) -> Option<String> {
    cs.tags
        .iter()
        .find(|t| t.key == OWNER_TAG)
        .map(|t| t.value.clone())
}

impl VeenProvider {
    async fn members_of(&self, id: &str) -> ProviderResult<(CloudServer, Vec<ObservedInstance>)> {
        let cs = self.client().get_cloud_server(id).await?;
        let owner = owner_of(&cs);
        let offers = self.client().offers(&cs.spec).await.unwrap_or_default();
        let members = self
            .client()
            .members(id, owner.as_deref())
            .await?
            .into_iter()
            .filter(|m| m.cloud_server_identity == id)
            .map(|m| member_from(&m, &offers))
            .collect();
        Ok((cs, members))
    }
}

#[async_trait]
impl FleetApi for VeenProvider {
    fn validate_template(&self, template: &InstanceTemplate) -> Vec<InstanceFieldError> {
        template_problems(template)
    }

    async fn create_plan(&self, request: &FleetPlanRequest) -> ProviderResult<FleetPlan> {
        let offers = self.client().offers(&request.template.flavor).await?;
        let areas = resolve_targets(request, &offers)?;
        let locations = request
            .targets
            .iter()
            .filter(|t| t.count > 0)
            .zip(&areas)
            .map(|(t, a)| PlanLocation {
                site_id: t.site.clone(),
                city: (request.level == CoverageLevel::City).then(|| t.site.clone()),
                operator: Some(operator_of(&a.isp)),
                pool_id: None,
                stack_count: a.num,
            })
            .collect();
        Ok(FleetPlan {
            id: plan_token(request),
            locations,
        })
    }

    async fn deploy(&self, plan_id: &str, request: &FleetPlanRequest) -> ProviderResult<FleetOperation> {
        let offers = self.client().offers(&request.template.flavor).await?;
        let areas = resolve_targets(request, &offers)?;
        let body = cloud_server_body(request, &areas, plan_id);
        let name = body["cloudserver_name"].as_str().unwrap_or_default().to_owned();
        let created = self.client().create_cloud_server_body(body).await?;
        Ok(FleetOperation {
            fleet_id: created.cloud_server_identity,
            fleet_name: name,
            state: FleetState::Creating,
            job_id: None,
        })
    }

    async fn expand(&self, plan_id: &str, request: &FleetPlanRequest) -> ProviderResult<FleetOperation> {
        let FleetPlanTarget::Expand { fleet_id } = &request.target else {
            return Err(ProviderError::Configuration {
                detail: ErrorDetail::local(
                    "veen.fleet.expand",
                    "an expansion names the cloud server to grow",
                ),
            });
        };
        let offers = self.client().offers(&request.template.flavor).await?;
        let areas = resolve_targets(request, &offers)?;
        if areas.is_empty() {
            return Ok(FleetOperation {
                fleet_id: fleet_id.clone(),
                fleet_name: String::new(),
                state: FleetState::Ready,
                job_id: None,
            });
        }
        self.client()
            .create_instance_body(expand_body(fleet_id, request, &areas, plan_id))
            .await?;
        Ok(FleetOperation {
            fleet_id: fleet_id.clone(),
            fleet_name: String::new(),
            state: FleetState::Updating,
            job_id: None,
        })
    }

    /// None: veEN plans are local (recovery replays the token and finds the cloud server by tag).
    async fn find_open_plans(&self) -> ProviderResult<Vec<OpenPlan>> {
        Ok(Vec::new())
    }

    async fn delete_plan(&self, _plan_id: &str) -> ProviderResult<()> {
        Ok(())
    }

    async fn get(&self, id: &str) -> ProviderResult<ObservedFleet> {
        Ok(fleet_from(self.client().get_cloud_server(id).await?))
    }

    async fn find_by_name(&self, name: &str) -> ProviderResult<Vec<ObservedFleet>> {
        let wanted = cloud_server_name(name);
        Ok(self
            .client()
            .list_cloud_servers(&[])
            .await?
            .into_iter()
            .filter(|c| c.name == name || c.name == wanted)
            .map(fleet_from)
            .collect())
    }

    /// By the owner tag (names are neither unique nor filterable); by name without one.
    async fn find_by_identity(
        &self,
        identity: &crate::provider::CreateIdentity,
    ) -> ProviderResult<Vec<ObservedFleet>> {
        match identity.tags.get(OWNER_TAG) {
            Some(owner) => Ok(self
                .client()
                .cloud_servers_tagged(OWNER_TAG, owner)
                .await?
                .into_iter()
                .map(fleet_from)
                .collect()),
            None => self.find_by_name(&identity.name).await,
        }
    }

    async fn list_all(&self) -> ProviderResult<Vec<ObservedFleet>> {
        Ok(self
            .client()
            .list_cloud_servers(&[])
            .await?
            .into_iter()
            .map(fleet_from)
            .collect())
    }

    async fn list_members(&self, fleet_id: &str) -> ProviderResult<Vec<ObservedInstance>> {
        Ok(self.members_of(fleet_id).await?.1)
    }

    async fn delete_members(&self, _fleet_id: &str, ids: &[String]) -> ProviderResult<Operation> {
        for chunk in ids.chunks(MAX_OFFLINE_BATCH) {
            self.client().offline(chunk, true).await?;
        }
        Ok(Operation::default())
    }

    /// Members still there go offline first (repeated calls: the controller observes until the cloud
    /// server is gone); once it is empty, `DeleteCloudServer`.
    async fn delete(&self, id: &str) -> ProviderResult<Operation> {
        let (cs, members) = self.members_of(id).await?;
        let going: Vec<String> = members
            .iter()
            .filter(|m| !matches!(m.state, InstanceState::Deleting | InstanceState::Creating))
            .map(|m| m.id.clone())
            .collect();
        if !going.is_empty() {
            self.delete_members(id, &going).await?;
            return Ok(Operation::default());
        }
        if !members.is_empty() {
            // Building or terminating: wait for them.
            return Ok(Operation::default());
        }
        if cs.instance_count > 0 {
            return Err(ProviderError::InUse {
                detail: ErrorDetail::local(
                    "veen.fleet.delete",
                    format!(
                        "cloud server {id} holds {} instance(s) that are not members of this fleet",
                        cs.instance_count
                    ),
                ),
            });
        }
        self.client().delete_cloud_server(id).await?;
        Ok(Operation::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{CoveragePolicy, CreateIdentity, VolumeSpec};

    fn offer(cluster: &str, area: &str, city: &str, isp: &str, available: u32) -> Offer {
        Offer {
            cluster: cluster.into(),
            area: area.into(),
            area_name: format!("{area}-name"),
            city: city.into(),
            city_name: format!("{city}-name"),
            isp: isp.into(),
            available,
        }
    }

    fn offers() -> Vec<Offer> {
        vec![
            offer("hz-cmcc", "east_china", "hangzhou", "CMCC", 3),
            offer("sh-cucc", "east_china", "shanghai", "CUCC", 20),
            offer("gz-ctcc", "south_china", "guangzhou", "CTCC", 20),
        ]
    }

    fn target(site: &str, operator: Option<&str>, count: u32) -> SiteTarget {
        SiteTarget {
            site: site.into(),
            operator: operator.map(str::to_owned),
            pool_id: None,
            count,
        }
    }

    #[test]
    fn veen_targets_resolve_to_area_entries_by_catalog_id_operator_and_capacity() {
        let o = offers();
        let e = resolve_target(
            CoverageLevel::City,
            &target("hangzhou", Some("chinamobile"), 2),
            &o,
        )
        .unwrap();
        assert_eq!(
            (e.area_name.as_deref(), e.isp.as_str(), e.num),
            (Some("hangzhou"), "CMCC", 2)
        );
        let site = resolve_target(CoverageLevel::Site, &target("gz-ctcc", None, 1), &o).unwrap();
        assert_eq!(
            (site.cluster_name.as_deref(), site.isp.as_str()),
            (Some("gz-ctcc"), "CTCC")
        );
        let area = resolve_target(CoverageLevel::Area, &target("east_china", None, 1), &o).unwrap();
        assert_eq!(
            area.isp, "CMCC",
            "no operator: the first ISP by code, not by capacity"
        );
        let full = resolve_target(CoverageLevel::City, &target("hangzhou", None, 4), &o).unwrap_err();
        assert!(full.is_capacity(), "{full}");
        let by_name = resolve_target(CoverageLevel::City, &target("hangzhou-name", None, 1), &o).unwrap_err();
        assert_eq!(by_name.category(), "Invalid");
        assert!(
            by_name.to_string().contains("\"hangzhou\""),
            "names the id: {by_name}"
        );
        let wrong_isp = resolve_target(
            CoverageLevel::City,
            &target("hangzhou", Some("chinatelecom"), 1),
            &o,
        )
        .unwrap_err();
        assert!(wrong_isp.to_string().contains("chinamobile"), "{wrong_isp}");
        let bgp = resolve_target(CoverageLevel::City, &target("hangzhou", Some("bgp"), 1), &o).unwrap_err();
        assert_eq!(bgp.category(), "Invalid");
        let province = resolve_target(CoverageLevel::Province, &target("zhejiang", None, 1), &o).unwrap_err();
        assert_eq!(province.category(), "Invalid");
    }

    fn template() -> InstanceTemplate {
        InstanceTemplate {
            name: "web".into(),
            flavor: "veEN.C1.large".into(),
            image: "image-ubuntu2004".into(),
            vpc_id: String::new(),
            nic_count: 1,
            security_group_ids: vec![],
            root_volume: VolumeSpec {
                size_gb: 40,
                volume_type: "CloudBlockSSD".into(),
            },
            data_volumes: vec![],
            key_name: Some("kp".into()),
            admin_password: None,
            user_data: None,
            bandwidth: None,
            with_prefix: false,
            ext: FleetExt::None,
        }
    }

    #[test]
    fn veen_template_rules_name_the_field() {
        assert!(template_problems(&template()).is_empty());
        let mut t = template();
        t.root_volume = VolumeSpec {
            size_gb: 10,
            volume_type: "SATA".into(),
        };
        t.nic_count = 2;
        let fields: Vec<InstanceField> = template_problems(&t).iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                InstanceField::RootVolume,
                InstanceField::RootVolumeSize,
                InstanceField::Network
            ]
        );
    }

    fn request() -> FleetPlanRequest {
        FleetPlanRequest {
            target: FleetPlanTarget::New {
                name: "a-very-long-edge-cloud-name".into(),
            },
            description: "d".into(),
            level: CoverageLevel::City,
            policy: CoveragePolicy::Centralize,
            targets: vec![target("hangzhou", Some("chinamobile"), 1)],
            template: template(),
            identity: CreateIdentity {
                name: "a-very-long-edge-cloud-name".into(),
                client_token: Some("ef-token".into()),
                tags: [(OWNER_TAG.to_owned(), "uid-1".to_owned())].into(),
            },
        }
    }

    #[test]
    fn a_veen_deploy_body_carries_token_owner_tag_and_the_template() {
        let r = request();
        assert_eq!(plan_token(&r), "ef-token", "the plan id is the call's token");
        let areas = resolve_targets(&r, &offers()).unwrap();
        let b = cloud_server_body(&r, &areas, &plan_token(&r));
        assert_eq!(b["cloudserver_name"], "a-very-long-edge-clo", "cut to 20");
        assert_eq!(b["client_token"], "ef-token");
        assert_eq!(b["Tags"][0]["Key"], OWNER_TAG);
        assert_eq!(b["Tags"][0]["Value"], "uid-1");
        assert_eq!(b["secret_config"]["secret_type"], 3);
        assert_eq!(b["storage_config"]["system_disk"]["capacity"], "40");
        assert_eq!(b["network_config"]["bandwidth_peak"], "5");
        assert_eq!(b["instance_area_nums"][0]["area_name"], "hangzhou");
        assert_eq!(b["instance_area_nums"][0]["isp"], "CMCC");
        assert!(b.get("schedule_strategy").is_none());
        let mut x = r.clone();
        x.template.ext = FleetExt::Veen(crate::provider::VeenFleetExt {
            schedule_strategy: Some("dispersion".into()),
            create_instance_timeout_secs: Some(300),
            project: Some("p".into()),
            ..Default::default()
        });
        let b = cloud_server_body(&x, &areas, "t");
        assert_eq!(b["schedule_strategy"]["schedule_strategy"], "dispersion");
        assert_eq!(b["create_instance_timeout"], 300);
        assert_eq!(b["project"], "p");
        let e = expand_body("cs-1", &x, &areas, "t2");
        assert_eq!(e["cloud_server_identity"], "cs-1");
        assert_eq!(e["create_instance_timeout"], 300);
        assert!(e.get("project").is_none(), "the cloud server's project");
        let mut anonymous = r.clone();
        anonymous.identity = CreateIdentity::default();
        assert_eq!(plan_token(&anonymous), plan_token(&anonymous.clone()), "stable");
        assert!(plan_token(&anonymous).len() <= 64);
        assert_eq!(cloud_server_name("web"), "web-fleet");
    }

    fn cs(buckets: &[(&str, u32)]) -> CloudServer {
        CloudServer {
            instance_status: buckets
                .iter()
                .map(|(s, n)| super::super::types::StatusCount {
                    status: (*s).into(),
                    instance_count: *n,
                })
                .collect(),
            ..CloudServer::default()
        }
    }

    #[test]
    fn a_veen_cloud_server_state_comes_from_its_status_histogram() {
        assert_eq!(fleet_state(&cs(&[])), FleetState::Ready, "empty");
        assert_eq!(
            fleet_state(&cs(&[("running", 2), ("open_fail", 1)])),
            FleetState::Ready
        );
        assert_eq!(fleet_state(&cs(&[("opening", 2)])), FleetState::Creating);
        assert_eq!(
            fleet_state(&cs(&[("running", 1), ("opening", 2)])),
            FleetState::Updating
        );
        assert_eq!(
            fleet_state(&cs(&[("stop", 1), ("starting", 1)])),
            FleetState::Updating
        );
        let f = fleet_from(cs(&[("running", 2), ("open_fail", 1)]));
        assert_eq!((f.success_count, f.failed_count), (2, 1));
        assert_eq!(f.raw_status, "open_fail:1 running:2");
        assert_eq!(instance::state_of("open_fail"), InstanceState::Failed);
    }

    #[test]
    fn a_veen_member_is_placed_by_the_catalog_ids_of_its_cluster() {
        let mut i = Instance::default();
        i.cluster.cluster_name = "hz-cmcc".into();
        i.cluster.city = "杭州".into();
        i.cluster.region = "华东".into();
        i.cluster.isp = "CMCC".into();
        i.create_time = 1_700_000_000;
        let m = member_from(&i, &offers());
        assert_eq!(m.placement.city.as_deref(), Some("hangzhou"));
        assert_eq!(m.placement.area.as_deref(), Some("east_china"));
        assert_eq!(m.placement.operator.as_deref(), Some("chinamobile"));
        assert_eq!(m.created.as_deref(), Some("2023-11-14T22:13:20Z"));
        let unknown = member_from(&i, &[]);
        assert_eq!(
            unknown.placement.city.as_deref(),
            Some("杭州"),
            "as shown without the catalog"
        );
    }
}
