//! veEN edge networking (digest §1.9; SDK `api_*vpc*`, `api_*security_group*`): a custom VPC lives
//! in one edge cluster and carries subnets; a security group belongs to a VPC and has rules.
//!
//! * `CreateCustomVPCInstance` (POST `vpc_name` 1–60 name characters, `cluster_name` from the
//!   catalog, `segment` a private IPv4 CIDR /8–/28, `desc` ≤ 255, `subnets[{name, cidr inside the
//!   segment, non-overlapping, desc}]`, `project`, `Tags`) → `vpc_instance` with status `modifying`,
//!   `available` after `veen_vpc` ms. `ListVPCInstances` (GET `vpc_identity_list`, `cluster_names`,
//!   `is_custom_vpc`, `is_default_vpc`, `projects`, `TagFilters`, `with_tag_info`, page/limit) →
//!   `{vpc_instances, count}`. `DeleteCustomVPCInstances` (POST `vpc_identity_list[]`) is refused with
//!   400 `ResourceInUse` while instances or security groups use a VPC; otherwise `deleting`, gone
//!   after `veen_vpc` ms. `SetVPCInstanceName` / `SetVPCInstanceDesc` change an available VPC.
//! * Subnets: `CreateSubnetsForCustomVPC` (POST `vpc_identity` of an available VPC, `subnets[]` as
//!   above, also clear of the VPC's subnets, `Tags`) → `subnet_id_list`; `DeleteSubnetsForCustomVPC`
//!   (POST `vpc_identity`, `subnet_identity_list[]`; refused with `ResourceInUse` while an instance is
//!   in one); `ListSubnetInstances` (GET `subnet_identity_list`, `cluster_names`, `status_list`,
//!   `projects`, `TagFilters`, `with_tag_info`, page/limit) → `{subnet_instances, count}`, each with
//!   its `vpc_info`; `SetSubnetNameAndDesc`. A VPC that is not `available` (still `modifying`, or
//!   `deleting`) refuses changes with 400 `ResourceInUse` (emulator choice).
//! * `CreateSecurityGroup` (POST `vpc_identity` of an available VPC, `name` 1–60 unique per VPC,
//!   `group_type` custom|default, `remark` ≤ 255, `project`, `Tags`) → `security_group`.
//!   `DescribeSecurityGroups` (GET page/limit, `bind_identities` (instance ids), `projects`,
//!   `TagFilters`, `with_tag_info`) → `{security_groups, total_count}`. `DeleteSecurityGroup` (POST
//!   `group_identities[]`) is refused while an instance uses a group. `DescribeSecurityGroup` (GET
//!   `group_identity`) → one group with `ingress_rule`/`egress_rule` and `binds`;
//!   `ModifySecurityGroupAttribute` (POST `group_identity`, `name` unique per VPC, `remark`).
//!   `JoinSecurityGroup` / `LeaveSecurityGroup` (POST `group_identity`, `instance_identities[]`; only
//!   instances of the group's VPC join).
//! * `CreateSecurityGroupRules` (POST `group_identity`, `rules[{direction ingress|egress, protocol
//!   TCP|UDP|ICMP|ANY|GRE, ports "N" | "N-M" (1–65535; only TCP/UDP), ip_cidr or ip_cidrs, priority
//!   1–100 (default 1), rule allow|reject (default allow), remark}]`; an identical rule is 400
//!   `InvalidParameter`) → `rules[]` with `rule_identity`. `DeleteSecurityGroupRules` (POST
//!   `group_identity`, `rule_identities[]`). `DescribeSecurityGroupRules` (GET `group_identity`,
//!   `direction`, page/limit) → `{rules, total_count}`. `ModifySecurityGroupRule` (POST
//!   `group_identity`, `rule_identity`, `policy{…}` with the fields of a rule, one CIDR; absent fields
//!   keep their values, a new protocol drops the old ports; the result may not duplicate another
//!   rule) changes a rule in place and keeps its id.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::auth::Principal;
use crate::core::error::ApiError;
use crate::core::net::Ipv4Cidr;
use crate::core::state::{Record, StateError, Store, Timer};
use crate::veen::cloud_servers::valid_name;
use crate::veen::errors::{RESOURCE_IN_USE, invalid, missing, not_found};
use crate::veen::kinds;
use crate::veen::params::{Obj, Query, Tag, matches_tags, paginate, tags};

/// Default VPC create/delete delay in ms.
pub const VPC_MS: u64 = 1000;

/// A subnet of a custom VPC.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Subnet {
    /// `subnet_identity`.
    pub id: String,
    /// Name.
    pub name: String,
    /// CIDR.
    pub cidr: String,
    /// Description.
    pub desc: String,
    /// Tags (`CreateSubnetsForCustomVPC` carries them; subnets made with the VPC have none).
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// A stored custom VPC.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Vpc {
    /// `vpc_identity`.
    pub id: String,
    /// `vpc_name`.
    pub name: String,
    /// The edge cluster it lives in.
    pub cluster_name: String,
    /// CIDR (`segment`).
    pub segment: String,
    /// Description.
    pub desc: String,
    /// Subnets.
    pub subnets: Vec<Subnet>,
    /// Project.
    pub project: String,
    /// Tags.
    pub tags: Vec<Tag>,
    /// `modifying`, `available` or `deleting`.
    pub status: String,
    /// Creation time (epoch ms).
    pub create_ms: u64,
}

impl Record for Vpc {
    const KIND: &'static str = kinds::VPC;
    fn id(&self) -> &str {
        &self.id
    }
}

/// A stored security group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecurityGroup {
    /// `group_identity`.
    pub id: String,
    /// Name.
    pub name: String,
    /// VPC.
    pub vpc_identity: String,
    /// `custom` or `default`.
    pub group_type: String,
    /// Remark.
    pub remark: String,
    /// Project.
    pub project: String,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Creation time (epoch ms).
    pub create_ms: u64,
}

impl Record for SecurityGroup {
    const KIND: &'static str = kinds::SECURITY_GROUP;
    fn id(&self) -> &str {
        &self.id
    }
}

/// A stored security-group rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SgRule {
    /// `rule_identity`.
    pub id: String,
    /// Group.
    pub group_identity: String,
    /// `ingress` or `egress`.
    pub direction: String,
    /// Protocol.
    pub protocol: String,
    /// Ports (empty for ICMP/ANY/GRE).
    pub ports: String,
    /// Source/destination CIDR.
    pub ip_cidr: String,
    /// Priority 1–100.
    pub priority: i64,
    /// `allow` or `reject`.
    pub rule: String,
    /// Remark.
    pub remark: String,
    /// Creation time (epoch ms).
    pub create_ms: u64,
}

impl Record for SgRule {
    const KIND: &'static str = kinds::SECURITY_GROUP_RULE;
    fn id(&self) -> &str {
        &self.id
    }
}

fn short_id(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// The VPC `id` if it is available, its subnet `subnet` exists, for instance placement at `field`.
pub fn usable_vpc(
    store: &mut Store,
    now: u64,
    id: &str,
    subnet: Option<&str>,
    field: &str,
) -> Result<Vpc, ApiError> {
    let vpc = store
        .table::<Vpc>()?
        .get_visible(id, now)
        .cloned()
        .ok_or_else(|| invalid(&format!("{field}.vpc_identity"), format!("no VPC {id}")))?;
    if vpc.status != "available" {
        return Err(invalid(
            &format!("{field}.vpc_identity"),
            format!("VPC {id} is {}", vpc.status),
        ));
    }
    if let Some(s) = subnet
        && !vpc.subnets.iter().any(|x| x.id == s)
    {
        return Err(invalid(
            &format!("{field}.subnet_identity"),
            format!("VPC {id} has no subnet {s}"),
        ));
    }
    Ok(vpc)
}

/// The CIDR of subnet `subnet` of VPC `vpc`.
pub fn subnet_cidr(store: &mut Store, vpc: &str, subnet: &str) -> Option<String> {
    let v = store.table::<Vpc>().ok()?.get(vpc)?;
    v.subnets.iter().find(|s| s.id == subnet).map(|s| s.cidr.clone())
}

/// The subnet CIDR an instance shows (empty outside a subnet).
pub fn subnet_cidr_of(store: &Store, vpc: &str, subnet: &str) -> String {
    store
        .peek::<Vpc>()
        .and_then(|t| t.get(vpc))
        .and_then(|v| v.subnets.iter().find(|s| s.id == subnet))
        .map(|s| s.cidr.clone())
        .unwrap_or_default()
}

/// Timer handler for VPCs.
pub fn on_timer(store: &mut Store, timer: &Timer, _now_ms: u64) -> Result<(), StateError> {
    let t = store.table::<Vpc>()?;
    match timer.action.as_str() {
        "created" => {
            if let Some(v) = t.get_mut(&timer.id)
                && v.status == "modifying"
            {
                v.status = "available".into();
            }
        }
        "deleted" => {
            t.remove(&timer.id);
            store.remove_refs_of(kinds::VPC, &timer.id);
        }
        _ => {}
    }
    Ok(())
}

fn private(c: &Ipv4Cidr) -> bool {
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
        .iter()
        .filter_map(|b| b.parse::<Ipv4Cidr>().ok())
        .any(|b| b.contains(c))
}

fn overlaps(a: &Ipv4Cidr, b: &Ipv4Cidr) -> bool {
    a.contains(b) || b.contains(a)
}

/// The `subnets[]` of a create: names of the name charset, CIDRs inside `segment` (mask at most
/// /29), overlapping neither each other nor the `existing` subnets.
fn parse_subnets(
    body: Obj<'_>,
    segment: &Ipv4Cidr,
    existing: &[Subnet],
) -> Result<Vec<(Subnet, Ipv4Cidr)>, ApiError> {
    let mut taken: Vec<Ipv4Cidr> = existing.iter().filter_map(|s| s.cidr.parse().ok()).collect();
    let mut subnets: Vec<(Subnet, Ipv4Cidr)> = Vec::new();
    for n in body.objs("subnets")? {
        let o = n.obj();
        let sname = o.req("name")?;
        if !valid_name(sname, 1, 60) {
            return Err(invalid(&o.field("name"), "1-60 characters of the name charset"));
        }
        let text = o.req("cidr")?;
        let c: Ipv4Cidr = text
            .parse()
            .map_err(|_| invalid(&o.field("cidr"), "must be an IPv4 CIDR"))?;
        if !segment.contains(&c) || c.prefix > 29 {
            return Err(invalid(
                &o.field("cidr"),
                "must lie inside segment with a mask of at most /29",
            ));
        }
        if taken.iter().any(|o2| overlaps(o2, &c)) {
            return Err(invalid(&o.field("cidr"), "overlaps another subnet"));
        }
        let desc = o.str("desc")?.unwrap_or_default();
        if desc.chars().count() > 255 {
            return Err(invalid(&o.field("desc"), "at most 255 characters"));
        }
        taken.push(c);
        subnets.push((
            Subnet {
                id: short_id("subnet"),
                name: sname.to_string(),
                cidr: text.to_string(),
                desc: desc.to_string(),
                tags: Vec::new(),
            },
            c,
        ));
    }
    Ok(subnets)
}

/// `CreateCustomVPCInstance` (POST).
pub fn create_vpc(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let name = body.req("vpc_name")?.to_string();
    if !valid_name(&name, 1, 60) {
        return Err(invalid("vpc_name", "1-60 characters of the name charset"));
    }
    let cluster = body.req("cluster_name")?.to_string();
    let segment_text = body.req("segment")?.to_string();
    let segment: Ipv4Cidr = segment_text
        .parse()
        .map_err(|_| invalid("segment", "must be an IPv4 CIDR"))?;
    if !(8..=28).contains(&segment.prefix) || !private(&segment) {
        return Err(invalid(
            "segment",
            "must be a private range (10/8, 172.16/12, 192.168/16) with a /8-/28 mask",
        ));
    }
    let desc = body.req("desc")?.to_string();
    if desc.chars().count() > 255 {
        return Err(invalid("desc", "at most 255 characters"));
    }
    let subnets = parse_subnets(body, &segment, &[])?;
    let project = body
        .str("project")?
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
        .to_string();
    let tags = tags(body)?;
    app.tx(p, |tx| {
        if tx.config.veen.cluster(&cluster).is_none() {
            return Err(invalid("cluster_name", format!("no cluster {cluster}")));
        }
        let vpc = Vpc {
            id: short_id("vpc"),
            name,
            cluster_name: cluster,
            segment: segment_text,
            desc,
            subnets: subnets.into_iter().map(|(s, _)| s).collect(),
            project,
            tags,
            status: "modifying".into(),
            create_ms: tx.now_ms,
        };
        tx.insert_new(vpc.clone())?;
        let ms = tx.delay_ms("veen_vpc", VPC_MS);
        tx.schedule_in(ms, kinds::VPC, &vpc.id, "created");
        Ok(json!({"vpc_instance": render_vpc(tx, &vpc, true)}))
    })
}

fn render_vpc(tx: &Tx<'_>, v: &Vpc, with_tags: bool) -> Value {
    let c = tx.config.veen.cluster(&v.cluster_name);
    let mut out = json!({
        "vpc_identity": v.id,
        "vpc_name": v.name,
        "segment": v.segment,
        "desc": v.desc,
        "status": v.status,
        "is_custom": true,
        "is_default": false,
        "is_vlan": false,
        "project": v.project,
        "cluster": {
            "cluster_name": v.cluster_name,
            "alias": v.cluster_name,
            "country": "中国",
            "region": c.map(|c| c.area_name.clone()).unwrap_or_default(),
            "province": c.map(|c| c.province.clone()).unwrap_or_default(),
            "city": c.map(|c| c.city_name.clone()).unwrap_or_default(),
            "isp": c.map(|c| c.isp.clone()).unwrap_or_default(),
            "level": "city",
        },
        "sub_nets": v.subnets.iter().map(|s| {
            let (ip, mask) = s.cidr.split_once('/').unwrap_or((&s.cidr, "0"));
            json!({"subnet_identity": s.id, "name": s.name, "desc": s.desc, "cidr_ip": ip,
                   "cidr_mask": mask.parse::<u32>().unwrap_or(0), "status": "available",
                   "create_time": v.create_ms / 1000, "update_time": v.create_ms / 1000})
        }).collect::<Vec<_>>(),
        "create_time": v.create_ms / 1000,
        "update_time": v.create_ms / 1000,
    });
    if with_tags && let Some(m) = out.as_object_mut() {
        m.insert("Tags".into(), json!(v.tags));
    }
    out
}

/// `ListVPCInstances` (GET).
pub fn list_vpcs(app: &AppState, p: &Principal, q: &Query) -> Result<Value, ApiError> {
    let ids = q.list("vpc_identity_list");
    let clusters = q.list("cluster_names");
    let projects = q.list("projects");
    let is_custom = q.bool("is_custom_vpc")?;
    let is_default = q.bool("is_default_vpc")?;
    q.bool("is_vlan_vpc")?;
    q.bool("with_resource_statistic")?;
    let filters = q.tag_filters()?;
    let with_tags = q.bool("with_tag_info")?.unwrap_or(false);
    app.tx(p, |tx| {
        let now = tx.now_ms;
        let items: Vec<Vpc> = tx
            .store
            .table::<Vpc>()?
            .iter_visible(now)
            .filter(|v| ids.is_empty() || ids.contains(&v.id))
            .filter(|v| clusters.is_empty() || clusters.contains(&v.cluster_name))
            .filter(|v| projects.is_empty() || projects.contains(&v.project))
            .filter(|_| is_custom != Some(false) && is_default != Some(true))
            .filter(|v| matches_tags(&v.tags, &filters))
            .cloned()
            .collect();
        let (total, page) = paginate(items, q, 100, 1000)?;
        let vpcs: Vec<Value> = page.iter().map(|v| render_vpc(tx, v, with_tags)).collect();
        Ok(json!({"vpc_instances": vpcs, "count": total}))
    })
}

/// `DeleteCustomVPCInstances` (POST).
pub fn delete_vpcs(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let ids = body.str_list("vpc_identity_list")?;
    if ids.is_empty() {
        return Err(missing("vpc_identity_list"));
    }
    app.tx(p, |tx| {
        let now = tx.now_ms;
        for id in &ids {
            let v = tx
                .store
                .table::<Vpc>()?
                .get_visible(id, now)
                .cloned()
                .ok_or_else(|| not_found("VPC", id))?;
            if v.status == "deleting" {
                continue;
            }
            if tx.store.is_referenced(kinds::VPC, id) {
                return Err(RESOURCE_IN_USE.err(format!("VPC {id} is used by instances or security groups")));
            }
        }
        let ms = tx.delay_ms("veen_vpc", VPC_MS);
        for id in &ids {
            if let Some(v) = tx.store.table::<Vpc>()?.get_mut(id)
                && v.status != "deleting"
            {
                v.status = "deleting".into();
                tx.schedule_in(ms, kinds::VPC, id, "deleted");
            }
        }
        Ok(json!({}))
    })
}

fn visible_vpc(tx: &mut Tx<'_>, id: &str) -> Result<Vpc, ApiError> {
    let now = tx.now_ms;
    tx.store
        .table::<Vpc>()?
        .get_visible(id, now)
        .cloned()
        .ok_or_else(|| not_found("VPC", id))
}

/// A VPC that takes changes: visible and `available` (a `modifying` or `deleting` VPC is busy).
fn available_vpc(tx: &mut Tx<'_>, id: &str) -> Result<Vpc, ApiError> {
    let v = visible_vpc(tx, id)?;
    if v.status != "available" {
        return Err(RESOURCE_IN_USE.err(format!("VPC {id} is {}; retry when it is available", v.status)));
    }
    Ok(v)
}

/// `SetVPCInstanceName` (POST `vpc_identity`, `vpc_name`).
pub fn set_vpc_name(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let id = body.req("vpc_identity")?.to_string();
    let name = body.req("vpc_name")?.to_string();
    if !valid_name(&name, 1, 60) {
        return Err(invalid("vpc_name", "1-60 characters of the name charset"));
    }
    change_vpc(app, p, &id, |v| v.name = name)
}

/// `SetVPCInstanceDesc` (POST `vpc_identity`, `desc`).
pub fn set_vpc_desc(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let id = body.req("vpc_identity")?.to_string();
    let desc = body.req("desc")?.to_string();
    if desc.chars().count() > 255 {
        return Err(invalid("desc", "at most 255 characters"));
    }
    change_vpc(app, p, &id, |v| v.desc = desc)
}

/// Applies `change` to the available VPC `id` (the Set* attribute actions).
fn change_vpc(
    app: &AppState,
    p: &Principal,
    id: &str,
    change: impl FnOnce(&mut Vpc),
) -> Result<Value, ApiError> {
    app.tx(p, |tx| {
        available_vpc(tx, id)?;
        if let Some(v) = tx.store.table::<Vpc>()?.get_mut(id) {
            change(v);
        }
        Ok(json!({}))
    })
}

/// `CreateSubnetsForCustomVPC` (POST `vpc_identity` of an available VPC, `subnets[{name, cidr inside
/// the segment, not overlapping the VPC's subnets, desc}]`, `project`, `Tags`) → `subnet_id_list`.
pub fn create_subnets(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let id = body.req("vpc_identity")?.to_string();
    if body.objs("subnets")?.is_empty() {
        return Err(missing("subnets"));
    }
    let tags = tags(body)?;
    body.str("project")?;
    app.tx(p, |tx| {
        let vpc = available_vpc(tx, &id)?;
        let segment: Ipv4Cidr = vpc
            .segment
            .parse()
            .map_err(|_| invalid("vpc_identity", format!("VPC {id} has no usable segment")))?;
        let mut made = parse_subnets(body, &segment, &vpc.subnets)?;
        for (s, _) in &mut made {
            s.tags = tags.clone();
        }
        let ids: Vec<String> = made.iter().map(|(s, _)| s.id.clone()).collect();
        if let Some(v) = tx.store.table::<Vpc>()?.get_mut(&id) {
            v.subnets.extend(made.into_iter().map(|(s, _)| s));
        }
        Ok(json!({"subnet_id_list": ids}))
    })
}

/// `DeleteSubnetsForCustomVPC` (POST `vpc_identity`, `subnet_identity_list[]`): refused with 400
/// `ResourceInUse` while an instance is placed in one of them.
pub fn delete_subnets(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let id = body.req("vpc_identity")?.to_string();
    let ids = body.str_list("subnet_identity_list")?;
    if ids.is_empty() {
        return Err(missing("subnet_identity_list"));
    }
    app.tx(p, |tx| {
        let vpc = available_vpc(tx, &id)?;
        let now = tx.now_ms;
        for sid in &ids {
            if !vpc.subnets.iter().any(|s| s.id == *sid) {
                return Err(not_found("subnet", sid));
            }
            let used = tx
                .store
                .table::<crate::veen::instances::Instance>()?
                .iter_visible(now)
                .any(|i| i.vpc_identity == id && i.subnet_identity == *sid);
            if used {
                return Err(RESOURCE_IN_USE.err(format!("subnet {sid} is used by instances")));
            }
        }
        if let Some(v) = tx.store.table::<Vpc>()?.get_mut(&id) {
            v.subnets.retain(|s| !ids.contains(&s.id));
        }
        Ok(json!({}))
    })
}

/// `SetSubnetNameAndDesc` (POST `subnet_identity`, `name`, `desc`).
pub fn set_subnet(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let sid = body.req("subnet_identity")?.to_string();
    let name = body.str("name")?.map(str::to_string);
    if let Some(n) = &name
        && !valid_name(n, 1, 60)
    {
        return Err(invalid("name", "1-60 characters of the name charset"));
    }
    let desc = body.str("desc")?.map(str::to_string);
    if desc.as_ref().is_some_and(|d| d.chars().count() > 255) {
        return Err(invalid("desc", "at most 255 characters"));
    }
    app.tx(p, |tx| {
        let now = tx.now_ms;
        let vpc = tx
            .store
            .table::<Vpc>()?
            .iter_visible(now)
            .find(|v| v.subnets.iter().any(|s| s.id == sid))
            .map(|v| v.id.clone())
            .ok_or_else(|| not_found("subnet", &sid))?;
        available_vpc(tx, &vpc)?;
        if let Some(v) = tx.store.table::<Vpc>()?.get_mut(&vpc)
            && let Some(s) = v.subnets.iter_mut().find(|s| s.id == sid)
        {
            if let Some(n) = name {
                s.name = n;
            }
            if let Some(d) = desc {
                s.desc = d;
            }
        }
        Ok(json!({}))
    })
}

fn render_subnet(tx: &Tx<'_>, v: &Vpc, s: &Subnet, with_tags: bool) -> Value {
    let c = tx.config.veen.cluster(&v.cluster_name);
    let (ip, mask) = s.cidr.split_once('/').unwrap_or((&s.cidr, "0"));
    let mut out = json!({
        "subnet_identity": s.id,
        "name": s.name,
        "desc": s.desc,
        "cidr_ip": ip,
        "cidr_mask": mask.parse::<u32>().unwrap_or(0),
        "status": if v.status == "deleting" { "deleting" } else { "available" },
        "project": v.project,
        "create_time": v.create_ms / 1000,
        "update_time": v.create_ms / 1000,
        "vpc_info": {
            "vpc_identity": v.id,
            "vpc_name": v.name,
            "is_custom": true,
            "cluster": {
                "cluster_name": v.cluster_name,
                "alias": v.cluster_name,
                "country": "中国",
                "region": c.map(|c| c.area_name.clone()).unwrap_or_default(),
                "province": c.map(|c| c.province.clone()).unwrap_or_default(),
                "city": c.map(|c| c.city_name.clone()).unwrap_or_default(),
                "isp": c.map(|c| c.isp.clone()).unwrap_or_default(),
                "level": "city",
            },
        },
    });
    if with_tags && let Some(m) = out.as_object_mut() {
        m.insert("Tags".into(), json!(s.tags));
    }
    out
}

/// `ListSubnetInstances` (GET `SubnetIdentityList`, `ClusterNames`, `StatusList`, `projects`,
/// `TagFilters`, `WithTagInfo`, page/limit; the SDK has no VPC filter) → `{subnet_instances, count}`.
pub fn list_subnets(app: &AppState, p: &Principal, q: &Query) -> Result<Value, ApiError> {
    let ids = q.list("subnet_identity_list");
    let clusters = q.list("cluster_names");
    let statuses = q.list("status_list");
    for s in &statuses {
        if !["available", "modifying", "deleting"].contains(&s.as_str()) {
            return Err(invalid("StatusList", "must be available, modifying or deleting"));
        }
    }
    let projects = q.list("projects");
    let filters = q.tag_filters()?;
    let with_tags = q.bool("with_tag_info")?.unwrap_or(false);
    app.tx(p, |tx| {
        let now = tx.now_ms;
        let vpcs: Vec<Vpc> = tx.store.table::<Vpc>()?.iter_visible(now).cloned().collect();
        let items: Vec<(Vpc, Subnet)> = vpcs
            .iter()
            .filter(|v| clusters.is_empty() || clusters.contains(&v.cluster_name))
            .filter(|v| projects.is_empty() || projects.contains(&v.project))
            .flat_map(|v| v.subnets.iter().map(move |s| (v.clone(), s.clone())))
            .filter(|(_, s)| ids.is_empty() || ids.contains(&s.id))
            .filter(|(v, _)| {
                let status = if v.status == "deleting" {
                    "deleting"
                } else {
                    "available"
                };
                statuses.is_empty() || statuses.iter().any(|x| x == status)
            })
            .filter(|(_, s)| matches_tags(&s.tags, &filters))
            .collect();
        let (total, page) = paginate(items, q, 100, 1000)?;
        let out: Vec<Value> = page
            .iter()
            .map(|(v, s)| render_subnet(tx, v, s, with_tags))
            .collect();
        Ok(json!({"subnet_instances": out, "count": total}))
    })
}

fn render_sg(tx: &mut Tx<'_>, g: &SecurityGroup, with_tags: bool) -> Result<Value, ApiError> {
    let vpc = tx.store.table::<Vpc>()?.get(&g.vpc_identity).cloned();
    let c = vpc.as_ref().and_then(|v| tx.config.veen.cluster(&v.cluster_name));
    let mut out = json!({
        "group_identity": g.id,
        "name": g.name,
        "group_type": g.group_type,
        "remark": g.remark,
        "project": g.project,
        "vpc_identity": g.vpc_identity,
        "vpc_name": vpc.as_ref().map(|v| v.name.clone()).unwrap_or_default(),
        "vpc_cidr": vpc.as_ref().map(|v| vec![v.segment.clone()]).unwrap_or_default(),
        "cluster_name": vpc.as_ref().map(|v| v.cluster_name.clone()).unwrap_or_default(),
        "city": c.map(|c| c.city_name.clone()).unwrap_or_default(),
        "region": c.map(|c| c.area_name.clone()).unwrap_or_default(),
        "create_time": g.create_ms / 1000,
        "update_time": g.create_ms / 1000,
    });
    if with_tags && let Some(m) = out.as_object_mut() {
        m.insert("Tags".into(), json!(g.tags));
    }
    Ok(out)
}

/// `CreateSecurityGroup` (POST).
pub fn create_sg(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let vpc_id = body.req("vpc_identity")?.to_string();
    let name = body.req("name")?.to_string();
    if !valid_name(&name, 1, 60) {
        return Err(invalid("name", "1-60 characters of the name charset"));
    }
    let group_type = match body.str("group_type")?.unwrap_or("custom") {
        t @ ("custom" | "default") => t.to_string(),
        _ => return Err(invalid("group_type", "must be custom or default")),
    };
    let remark = body.str("remark")?.unwrap_or_default().to_string();
    if remark.chars().count() > 255 {
        return Err(invalid("remark", "at most 255 characters"));
    }
    let project = body
        .str("project")?
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
        .to_string();
    let tags = tags(body)?;
    app.tx(p, |tx| {
        let now = tx.now_ms;
        usable_vpc(tx.store, now, &vpc_id, None, "security group")
            .map_err(|_| invalid("vpc_identity", format!("no available VPC {vpc_id}")))?;
        if tx
            .store
            .table::<SecurityGroup>()?
            .iter()
            .any(|g| g.vpc_identity == vpc_id && g.name == name)
        {
            return Err(invalid(
                "name",
                format!("VPC {vpc_id} already has a security group {name}"),
            ));
        }
        let g = SecurityGroup {
            id: short_id("sg"),
            name,
            vpc_identity: vpc_id.clone(),
            group_type,
            remark,
            project,
            tags,
            create_ms: now,
        };
        tx.store
            .add_ref(kinds::VPC, &vpc_id, kinds::SECURITY_GROUP, &g.id);
        tx.insert_new(g.clone())?;
        Ok(json!({"security_group": render_sg(tx, &g, true)?}))
    })
}

/// `DescribeSecurityGroups` (GET).
pub fn describe_sgs(app: &AppState, p: &Principal, q: &Query) -> Result<Value, ApiError> {
    let binds = q.list("bind_identities");
    let projects = q.list("projects");
    let filters = q.tag_filters()?;
    let with_tags = q.bool("with_tag_info")?.unwrap_or(false);
    app.tx(p, |tx| {
        let now = tx.now_ms;
        let bound: Vec<String> = binds
            .iter()
            .flat_map(|i| tx.store.references_of(kinds::INSTANCE, i))
            .filter(|(k, _)| k == kinds::SECURITY_GROUP)
            .map(|(_, id)| id)
            .collect();
        let items: Vec<SecurityGroup> = tx
            .store
            .table::<SecurityGroup>()?
            .iter_visible(now)
            .filter(|g| binds.is_empty() || bound.contains(&g.id))
            .filter(|g| projects.is_empty() || projects.contains(&g.project))
            .filter(|g| matches_tags(&g.tags, &filters))
            .cloned()
            .collect();
        let (total, page) = paginate(items, q, 100, 1000)?;
        let mut out = Vec::new();
        for g in &page {
            out.push(render_sg(tx, g, with_tags)?);
        }
        Ok(json!({"security_groups": out, "total_count": total}))
    })
}

fn get_sg(tx: &mut Tx<'_>, id: &str) -> Result<SecurityGroup, ApiError> {
    let now = tx.now_ms;
    tx.store
        .table::<SecurityGroup>()?
        .get_visible(id, now)
        .cloned()
        .ok_or_else(|| not_found("security group", id))
}

/// `DeleteSecurityGroup` (POST).
pub fn delete_sg(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let ids = body.str_list("group_identities")?;
    if ids.is_empty() {
        return Err(missing("group_identities"));
    }
    app.tx(p, |tx| {
        for id in &ids {
            get_sg(tx, id)?;
            if tx
                .store
                .is_referenced_by(kinds::SECURITY_GROUP, id, kinds::INSTANCE)
            {
                return Err(RESOURCE_IN_USE.err(format!("security group {id} is used by instances")));
            }
        }
        for id in &ids {
            tx.store.table::<SecurityGroup>()?.remove(id);
            tx.store.remove_refs_of(kinds::SECURITY_GROUP, id);
            let rules = tx.store.table::<SgRule>()?;
            let gone: Vec<String> = rules
                .iter()
                .filter(|r| r.group_identity == *id)
                .map(|r| r.id.clone())
                .collect();
            for r in gone {
                rules.remove(&r);
            }
        }
        Ok(json!({}))
    })
}

fn render_rule(r: &SgRule) -> Value {
    render_rule_at(r, r.create_ms)
}

fn render_rule_at(r: &SgRule, update_ms: u64) -> Value {
    json!({
        "rule_identity": r.id,
        "group_identity": r.group_identity,
        "direction": r.direction,
        "protocol": r.protocol,
        "ports": r.ports,
        "ip_cidr": r.ip_cidr,
        "ip_type": "ipv4",
        "priority": r.priority,
        "rule": r.rule,
        "remark": r.remark,
        "status": 1,
        "create_time": r.create_ms / 1000,
        "update_time": update_ms / 1000,
    })
}

fn valid_ports(ports: &str) -> bool {
    let num = |s: &str| s.parse::<u32>().ok().filter(|n| (1..=65535).contains(n));
    match ports.split_once('-') {
        Some((a, b)) => matches!((num(a), num(b)), (Some(a), Some(b)) if a <= b),
        None => num(ports).is_some(),
    }
}

/// `CreateSecurityGroupRules` (POST).
pub fn create_rules(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let group = body.req("group_identity")?.to_string();
    let entries = body.objs("rules")?;
    if entries.is_empty() {
        return Err(missing("rules"));
    }
    let mut wanted: Vec<SgRule> = Vec::new();
    for n in &entries {
        wanted.extend(parse_rule(n.obj(), &group, None)?);
    }
    app.tx(p, |tx| {
        get_sg(tx, &group)?;
        let now = tx.now_ms;
        let same = same_rule;
        let table = tx.store.table::<SgRule>()?;
        for (i, w) in wanted.iter().enumerate() {
            if table.iter().any(|r| same(r, w)) || wanted[..i].iter().any(|o| same(o, w)) {
                return Err(invalid(
                    "rules",
                    format!(
                        "the rule {} {} {} {} exists",
                        w.direction, w.protocol, w.ports, w.ip_cidr
                    ),
                ));
            }
        }
        let mut out = Vec::new();
        for mut w in wanted {
            w.id = short_id("rule");
            w.create_ms = now;
            out.push(render_rule(&w));
            table.insert(w);
        }
        Ok(json!({"rules": out}))
    })
}

/// Whether two rules filter the same traffic (the duplicate check of creates and modifies).
fn same_rule(a: &SgRule, b: &SgRule) -> bool {
    a.group_identity == b.group_identity
        && a.direction == b.direction
        && a.protocol == b.protocol
        && a.ports == b.ports
        && a.ip_cidr == b.ip_cidr
        && a.rule == b.rule
        && a.priority == b.priority
}

/// One `rules[]` entry (or, with `base`, a `ModifySecurityGroupRule` policy whose absent fields keep
/// the rule's values) as stored rules, one per CIDR.
fn parse_rule(o: Obj<'_>, group: &str, base: Option<&SgRule>) -> Result<Vec<SgRule>, ApiError> {
    let field = |name: &str, kept: Option<&str>| -> Result<Option<String>, ApiError> {
        Ok(o.str(name)?
            .map(str::to_string)
            .or_else(|| kept.map(str::to_string)))
    };
    let direction = match field("direction", base.map(|b| b.direction.as_str()))?.as_deref() {
        Some(d @ ("ingress" | "egress")) => d.to_string(),
        None => return Err(missing(&o.field("direction"))),
        Some(_) => return Err(invalid(&o.field("direction"), "must be ingress or egress")),
    };
    let protocol = match field("protocol", base.map(|b| b.protocol.as_str()))?.as_deref() {
        Some(x @ ("TCP" | "UDP" | "ICMP" | "ANY" | "GRE")) => x.to_string(),
        None => return Err(missing(&o.field("protocol"))),
        Some(_) => {
            return Err(invalid(
                &o.field("protocol"),
                "must be TCP, UDP, ICMP, ANY or GRE",
            ));
        }
    };
    // A changed protocol does not inherit the old ports.
    let kept_ports = base.filter(|b| b.protocol == protocol).map(|b| b.ports.as_str());
    let ports = field("ports", kept_ports)?.unwrap_or_default();
    if protocol == "TCP" || protocol == "UDP" {
        if !valid_ports(&ports) {
            return Err(invalid(&o.field("ports"), "must be N or N-M within 1-65535"));
        }
    } else if !ports.is_empty() {
        return Err(invalid(
            &o.field("ports"),
            format!("{protocol} rules take no ports"),
        ));
    }
    let mut cidrs = o.str_list("ip_cidrs")?;
    if let Some(c) = o.str("ip_cidr")?.filter(|s| !s.is_empty()) {
        cidrs.insert(0, c.to_string());
    }
    if cidrs.is_empty()
        && let Some(b) = base
    {
        cidrs.push(b.ip_cidr.clone());
    }
    if cidrs.is_empty() {
        return Err(missing(&o.field("ip_cidr")));
    }
    if base.is_some() && cidrs.len() > 1 {
        return Err(invalid(&o.field("ip_cidrs"), "a rule is modified to one CIDR"));
    }
    for c in &cidrs {
        if c.parse::<Ipv4Cidr>().is_err() {
            return Err(invalid(&o.field("ip_cidr"), format!("{c} is not an IPv4 CIDR")));
        }
    }
    let priority = match o.int("priority")? {
        Some(p) => p,
        None => base.map_or(1, |b| b.priority),
    };
    if !(1..=100).contains(&priority) {
        return Err(invalid(&o.field("priority"), "must be between 1 and 100"));
    }
    let rule = match field("rule", base.map(|b| b.rule.as_str()))?
        .as_deref()
        .unwrap_or("allow")
    {
        r @ ("allow" | "reject") => r.to_string(),
        _ => return Err(invalid(&o.field("rule"), "must be allow or reject")),
    };
    let remark = field("remark", base.map(|b| b.remark.as_str()))?.unwrap_or_default();
    if remark.chars().count() > 255 {
        return Err(invalid(&o.field("remark"), "at most 255 characters"));
    }
    Ok(cidrs
        .into_iter()
        .map(|c| SgRule {
            id: base.map(|b| b.id.clone()).unwrap_or_default(),
            group_identity: group.to_string(),
            direction: direction.clone(),
            protocol: protocol.clone(),
            ports: ports.clone(),
            ip_cidr: c,
            priority,
            rule: rule.clone(),
            remark: remark.clone(),
            create_ms: base.map_or(0, |b| b.create_ms),
        })
        .collect())
}

/// `ModifySecurityGroupRule` (POST `group_identity`, `rule_identity`, `policy{direction, protocol,
/// ports, ip_cidr | ip_cidrs (one), priority, rule, remark}`; absent fields keep their values; a
/// result identical to another rule of the group is 400 `InvalidParameter`) → `rule`.
pub fn modify_rule(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let group = body.req("group_identity")?.to_string();
    let rule_id = body.req("rule_identity")?.to_string();
    let empty = serde_json::Map::new();
    let policy = body.obj("policy")?;
    app.tx(p, |tx| {
        get_sg(tx, &group)?;
        let now = tx.now_ms;
        let table = tx.store.table::<SgRule>()?;
        let old = table
            .get(&rule_id)
            .filter(|r| r.group_identity == group)
            .cloned()
            .ok_or_else(|| not_found("security group rule", &rule_id))?;
        let o = policy.as_ref().map_or_else(|| Obj::root(&empty), |n| n.obj());
        let mut new = parse_rule(o, &group, Some(&old))?
            .into_iter()
            .next()
            .ok_or_else(|| missing("policy.ip_cidr"))?;
        if table.iter().any(|r| r.id != old.id && same_rule(r, &new)) {
            return Err(invalid(
                "policy",
                format!(
                    "the rule {} {} {} {} exists",
                    new.direction, new.protocol, new.ports, new.ip_cidr
                ),
            ));
        }
        new.create_ms = old.create_ms;
        let out = render_rule_at(&new, now);
        table.insert(new);
        Ok(json!({"rule": out}))
    })
}

/// `DescribeSecurityGroup` (GET `GroupIdentity`) → `security_group` with its binds and its rules by
/// direction.
pub fn describe_sg(app: &AppState, p: &Principal, q: &Query) -> Result<Value, ApiError> {
    let id = q.req("group_identity")?.to_string();
    app.tx(p, |tx| {
        let g = get_sg(tx, &id)?;
        let mut out = render_sg(tx, &g, true)?;
        let rules: Vec<SgRule> = tx
            .store
            .table::<SgRule>()?
            .iter()
            .filter(|r| r.group_identity == id)
            .cloned()
            .collect();
        let by = |d: &str| -> Vec<Value> {
            rules
                .iter()
                .filter(|r| r.direction == d)
                .map(render_rule)
                .collect()
        };
        let (ingress, egress) = (by("ingress"), by("egress"));
        let binds: Vec<Value> = tx
            .store
            .referrers_by(kinds::SECURITY_GROUP, &id, kinds::INSTANCE)
            .into_iter()
            .map(|i| json!({"bind_identity": i, "bind_type": "instance", "group_identity": id, "status": 1}))
            .collect();
        if let Some(m) = out.as_object_mut() {
            m.insert(
                "ingress_rule".into(),
                json!({"rules": ingress, "total": ingress.len()}),
            );
            m.insert(
                "egress_rule".into(),
                json!({"rules": egress, "total": egress.len()}),
            );
            m.insert("binds".into(), json!({"binds": binds, "total": binds.len()}));
        }
        Ok(json!({"security_group": out}))
    })
}

/// `ModifySecurityGroupAttribute` (POST `group_identity`, `name` (required; unique per VPC),
/// `remark`) → `security_group`.
pub fn modify_sg(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let id = body.req("group_identity")?.to_string();
    let name = body.req("name")?.to_string();
    if !valid_name(&name, 1, 60) {
        return Err(invalid("name", "1-60 characters of the name charset"));
    }
    let remark = body.str("remark")?.map(str::to_string);
    if remark.as_ref().is_some_and(|r| r.chars().count() > 255) {
        return Err(invalid("remark", "at most 255 characters"));
    }
    app.tx(p, |tx| {
        let g = get_sg(tx, &id)?;
        let table = tx.store.table::<SecurityGroup>()?;
        if table
            .iter()
            .any(|o| o.id != id && o.vpc_identity == g.vpc_identity && o.name == name)
        {
            return Err(invalid(
                "name",
                format!("VPC {} already has a security group {name}", g.vpc_identity),
            ));
        }
        let mut changed = g.clone();
        changed.name = name;
        if let Some(r) = remark {
            changed.remark = r;
        }
        table.insert(changed.clone());
        Ok(json!({"security_group": render_sg(tx, &changed, true)?}))
    })
}

/// `JoinSecurityGroup` / `LeaveSecurityGroup` (POST `group_identity`, `instance_identities[]`): an
/// instance joins only a group of its own VPC; leaving a group it is not in is a no-op.
fn bind(app: &AppState, p: &Principal, body: Obj<'_>, join: bool) -> Result<Value, ApiError> {
    let id = body.req("group_identity")?.to_string();
    let instances = body.str_list("instance_identities")?;
    if instances.is_empty() {
        return Err(missing("instance_identities"));
    }
    app.tx(p, |tx| {
        let g = get_sg(tx, &id)?;
        let now = tx.now_ms;
        for i in &instances {
            let inst = tx
                .store
                .table::<crate::veen::instances::Instance>()?
                .get_visible(i, now)
                .cloned()
                .ok_or_else(|| not_found("instance", i))?;
            if join && inst.vpc_identity != g.vpc_identity {
                return Err(invalid(
                    "instance_identities",
                    format!(
                        "instance {i} is not in VPC {} of security group {id}",
                        g.vpc_identity
                    ),
                ));
            }
        }
        for i in &instances {
            if let Some(inst) = tx.store.table::<crate::veen::instances::Instance>()?.get_mut(i) {
                inst.security_group_ids.retain(|x| *x != id);
                if join {
                    inst.security_group_ids.push(id.clone());
                }
            }
            tx.store
                .remove_ref(kinds::SECURITY_GROUP, &id, kinds::INSTANCE, i);
            if join {
                tx.store.add_ref(kinds::SECURITY_GROUP, &id, kinds::INSTANCE, i);
            }
        }
        Ok(json!({}))
    })
}

/// `JoinSecurityGroup` (POST).
pub fn join_sg(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    bind(app, p, body, true)
}

/// `LeaveSecurityGroup` (POST).
pub fn leave_sg(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    bind(app, p, body, false)
}

/// `DeleteSecurityGroupRules` (POST).
pub fn delete_rules(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let group = body.req("group_identity")?.to_string();
    let ids = body.str_list("rule_identities")?;
    if ids.is_empty() {
        return Err(missing("rule_identities"));
    }
    app.tx(p, |tx| {
        get_sg(tx, &group)?;
        let table = tx.store.table::<SgRule>()?;
        for id in &ids {
            if table.get(id).is_none_or(|r| r.group_identity != group) {
                return Err(not_found("security group rule", id));
            }
        }
        for id in &ids {
            table.remove(id);
        }
        Ok(json!({}))
    })
}

/// `DescribeSecurityGroupRules` (GET).
pub fn describe_rules(app: &AppState, p: &Principal, q: &Query) -> Result<Value, ApiError> {
    let group = q.req("group_identity")?.to_string();
    let direction = q.str("direction").map(str::to_string);
    if let Some(d) = &direction
        && d != "ingress"
        && d != "egress"
    {
        return Err(invalid("direction", "must be ingress or egress"));
    }
    app.tx(p, |tx| {
        get_sg(tx, &group)?;
        let items: Vec<SgRule> = tx
            .store
            .table::<SgRule>()?
            .iter()
            .filter(|r| r.group_identity == group)
            .filter(|r| direction.as_ref().is_none_or(|d| *d == r.direction))
            .cloned()
            .collect();
        let (total, page) = paginate(items, q, 100, 1000)?;
        Ok(json!({"rules": page.iter().map(render_rule).collect::<Vec<_>>(), "total_count": total}))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges() {
        for ok in ["22", "1-65535", "80-80"] {
            assert!(valid_ports(ok), "{ok}");
        }
        for bad in ["", "0", "65536", "90-80", "a", "1-"] {
            assert!(!valid_ports(bad), "{bad}");
        }
    }
}
