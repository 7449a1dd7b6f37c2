//! veEN edge instances (digest §1.4/§1.5): `CreateInstance` (into a cloud server, at clusters or
//! areas × ISPs with `num`, `client_token`), `ListInstances`, `GetInstance`, `StartInstances`,
//! `StopInstances`, `RebootInstances`, `OfflineInstances` (= delete; `ignore_running`),
//! `SetInstanceName`, `ListAvailableResourceInfo`, and the placement both create calls share.
//!
//! States (the SDK enum): `opening → running` after `veen_instance_open` ms (or `open_fail`: the
//! `instance_failure_rate` fault, or a `create_instance_timeout` shorter than the open delay, which
//! fails at the timeout); `stopping → stop`, `starting → running`, `rebooting → running` after
//! `veen_instance_power` ms; `terminating → gone` after `veen_instance_terminate` ms. The fault
//! `stuck: [veen.instance]` keeps transitions from finishing. Start needs `stop`; stop and reboot
//! need `running`; offline needs `stop` or `open_fail` (also `running` with `ignore_running`);
//! anything else is 400 `InvalidInstanceStatus` and nothing changes.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::auth::Principal;
use crate::core::error::ApiError;
use crate::core::net::Ipv4Cidr;
use crate::core::state::{Record, StateError, Store, Timer};
use crate::veen::catalog::{Cluster, ISPS};
use crate::veen::cloud_servers::{self, ClientToken, CloudServer, fingerprint, valid_name};
use crate::veen::errors::{
    INSUFFICIENT_CAPACITY, INVALID_INSTANCE_STATUS, QUOTA_EXCEEDED, invalid, missing, not_found,
};
use crate::veen::kinds;
use crate::veen::network::{self, Vpc};
use crate::veen::params::{Obj, Query, Tag, matches_tags, paginate, tags};

/// Default open (build) delay in ms.
pub const OPEN_MS: u64 = 3000;
/// Default power transition delay in ms.
pub const POWER_MS: u64 = 2000;
/// Default terminate delay in ms.
pub const TERMINATE_MS: u64 = 2000;

/// A stored instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Instance {
    /// `instance_identity`, `veen` + 20 digits.
    pub id: String,
    /// `instance_uuid`.
    pub uuid: String,
    /// `instance_name`.
    pub name: String,
    /// `instance_desc`.
    pub desc: String,
    /// `host_name`.
    pub host_name: String,
    /// Owning cloud server.
    pub cloud_server_id: String,
    /// Its name at creation.
    pub cloud_server_name: String,
    /// Status (SDK enum).
    pub status: String,
    /// Cluster name.
    pub cluster: String,
    /// Spec name.
    pub spec: String,
    /// Image id.
    pub image_id: String,
    /// Project.
    pub project: String,
    /// Tags (inherited from the cloud server, plus the create call's).
    pub tags: Vec<Tag>,
    /// VPC, if placed in one.
    pub vpc_identity: String,
    /// Subnet, if placed in one.
    pub subnet_identity: String,
    /// Private address.
    pub internal_ip: String,
    /// Public address.
    pub external_ip: String,
    /// Bandwidth peak (Mbps, as a string).
    pub bandwidth_peak: String,
    /// Security groups (from the cloud server's network config).
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    /// Creation time (epoch ms).
    pub create_ms: u64,
    /// Last change (epoch ms).
    pub update_ms: u64,
    /// The open ends in `open_fail`.
    #[serde(default)]
    pub fails: bool,
}

impl Record for Instance {
    const KIND: &'static str = kinds::INSTANCE;
    fn id(&self) -> &str {
        &self.id
    }
}

/// One `instance_area_nums` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaNum {
    /// `area_name` (an area or city, by id or name).
    pub area_name: Option<String>,
    /// `cluster_name`.
    pub cluster_name: Option<String>,
    /// `isp`.
    pub isp: Option<String>,
    /// `num`.
    pub num: u32,
    /// `vpc_identity`.
    pub vpc_identity: Option<String>,
    /// `subnet_identity`.
    pub subnet_identity: Option<String>,
    /// `host_name_list`.
    pub host_names: Vec<String>,
}

/// Parses and checks `instance_area_nums` (shape only; placement checks the catalog).
pub fn area_nums(body: Obj<'_>) -> Result<Vec<AreaNum>, ApiError> {
    let mut out = Vec::new();
    for n in body.objs("instance_area_nums")? {
        let o = n.obj();
        let area_name = o.str("area_name")?.filter(|s| !s.is_empty()).map(str::to_string);
        let cluster_name = o
            .str("cluster_name")?
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        match (&area_name, &cluster_name) {
            (None, None) => return Err(missing(&o.field("cluster_name"))),
            (Some(_), Some(_)) => {
                return Err(invalid(
                    &o.field("area_name"),
                    "give either area_name or cluster_name, not both",
                ));
            }
            _ => {}
        }
        let isp = o.str("isp")?.filter(|s| !s.is_empty()).map(str::to_string);
        if let Some(i) = &isp
            && !ISPS.contains(&i.as_str())
        {
            return Err(invalid(&o.field("isp"), "must be CMCC, CUCC or CTCC"));
        }
        if area_name.is_some() && isp.is_none() {
            return Err(missing(&o.field("isp")));
        }
        let num = o.int("num")?.ok_or_else(|| missing(&o.field("num")))?;
        if !(1..=100).contains(&num) {
            return Err(invalid(&o.field("num"), "must be between 1 and 100"));
        }
        let host_names = o.str_list("host_name_list")?;
        if host_names.len() > num as usize {
            return Err(invalid(&o.field("host_name_list"), "has more names than num"));
        }
        let subnet_identity = o
            .str("subnet_identity")?
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let vpc_identity = o
            .str("vpc_identity")?
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if subnet_identity.is_some() && vpc_identity.is_none() {
            return Err(missing(&o.field("vpc_identity")));
        }
        out.push(AreaNum {
            area_name,
            cluster_name,
            isp,
            num: num as u32,
            vpc_identity,
            subnet_identity,
            host_names,
        });
    }
    Ok(out)
}

/// Instances per cluster that hold capacity (everything but `terminating`).
fn used_by_cluster(store: &mut Store) -> Result<HashMap<String, u32>, ApiError> {
    let mut used: HashMap<String, u32> = HashMap::new();
    for i in store.table::<Instance>()?.iter() {
        if i.status != "terminating" {
            *used.entry(i.cluster.clone()).or_default() += 1;
        }
    }
    Ok(used)
}

/// One placed instance: its cluster and the area entry it came from.
#[derive(Debug, Clone)]
pub struct Placed {
    /// Cluster.
    pub cluster: Cluster,
    /// Index into the area entries.
    pub entry: usize,
}

/// Chooses a cluster for every instance of `areas` for `spec` (a cluster by name, or the
/// least-used clusters of an area × ISP); fails without side effects when capacity is short.
pub fn place(tx: &mut Tx<'_>, spec: &str, areas: &[AreaNum]) -> Result<Vec<Placed>, ApiError> {
    let mut used = used_by_cluster(tx.store)?;
    let catalog = &tx.config.veen;
    let mut out = Vec::new();
    for (idx, a) in areas.iter().enumerate() {
        let field = format!("instance_area_nums.{}", idx + 1);
        let vpc_cluster = match &a.vpc_identity {
            Some(v) => Some(network::usable_vpc(
                tx.store,
                tx.now_ms,
                v,
                a.subnet_identity.as_deref(),
                &field,
            )?),
            None => None,
        };
        let candidates: Vec<&Cluster> = match &a.cluster_name {
            Some(name) => {
                let c = catalog
                    .cluster(name)
                    .ok_or_else(|| invalid(&format!("{field}.cluster_name"), format!("no cluster {name}")))?;
                if let Some(isp) = &a.isp
                    && *isp != c.isp
                {
                    return Err(invalid(
                        &format!("{field}.isp"),
                        format!("cluster {name} serves {}", c.isp),
                    ));
                }
                vec![c]
            }
            None => {
                let area = a.area_name.as_deref().unwrap_or_default();
                let isp = a.isp.as_deref().unwrap_or_default();
                let cs: Vec<&Cluster> = catalog
                    .clusters
                    .iter()
                    .filter(|c| c.in_area(area) && c.isp == isp)
                    .collect();
                if cs.is_empty() {
                    return Err(invalid(
                        &format!("{field}.area_name"),
                        format!("no cluster of ISP {isp} in {area}"),
                    ));
                }
                cs
            }
        };
        let candidates: Vec<&Cluster> = candidates
            .into_iter()
            .filter(|c| c.offers(spec))
            .filter(|c| {
                vpc_cluster
                    .as_ref()
                    .is_none_or(|v: &Vpc| v.cluster_name == c.name)
            })
            .collect();
        if candidates.is_empty() {
            return Err(INSUFFICIENT_CAPACITY.err(format!(
                "{field}: no cluster there offers spec {spec}{}",
                if vpc_cluster.is_some() {
                    " in the VPC's cluster"
                } else {
                    ""
                }
            )));
        }
        for _ in 0..a.num {
            let best = candidates
                .iter()
                .filter(|c| used.get(&c.name).copied().unwrap_or(0) < c.capacity)
                .min_by_key(|c| used.get(&c.name).copied().unwrap_or(0));
            let Some(c) = best else {
                return Err(INSUFFICIENT_CAPACITY.err(format!(
                    "{field}: not enough capacity for {} instance(s) of {spec}",
                    a.num
                )));
            };
            *used.entry(c.name.clone()).or_default() += 1;
            out.push(Placed {
                cluster: (*c).clone(),
                entry: idx,
            });
        }
    }
    Ok(out)
}

fn new_instance_id() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 100_000_000_000_000_000_000u128;
    format!("veen{n:020}")
}

fn ip_in(store: &mut Store, scope: &str, cidr: &str) -> String {
    cidr.parse::<Ipv4Cidr>()
        .ok()
        .and_then(|c| store.allocate_ip(scope, c, None).ok())
        .map(|ip| ip.to_string())
        .unwrap_or_default()
}

/// What the new instances of one create call share.
pub struct NewInstances<'a> {
    /// The cloud server.
    pub cs: &'a CloudServer,
    /// Placements.
    pub placed: &'a [Placed],
    /// Area entries (VPC, subnet, host names).
    pub areas: &'a [AreaNum],
    /// Tags of the call (merged over the cloud server's).
    pub tags: &'a [Tag],
    /// `create_instance_timeout` in seconds.
    pub timeout_secs: Option<i64>,
}

/// Creates the placed instances (status `opening`) and schedules their opening.
pub fn create_placed(tx: &mut Tx<'_>, new: &NewInstances<'_>) -> Result<Vec<String>, ApiError> {
    let mut ids = Vec::new();
    let mut tags = new.cs.tags.clone();
    for t in new.tags {
        match tags.iter_mut().find(|x| x.key == t.key) {
            Some(x) => x.value = t.value.clone(),
            None => tags.push(t.clone()),
        }
    }
    let open_ms = tx.delay_ms("veen_instance_open", OPEN_MS);
    let mut host_index: HashMap<usize, usize> = HashMap::new();
    for p in new.placed {
        let id = new_instance_id();
        let seq = tx.store.next_counter(&format!("veen.instance_seq/{}", new.cs.id));
        let area = &new.areas[p.entry];
        let hi = host_index.entry(p.entry).or_default();
        let host_name = area.host_names.get(*hi).cloned();
        *hi += 1;
        let base_name = new
            .cs
            .advanced
            .instance_name
            .clone()
            .unwrap_or_else(|| new.cs.name.clone());
        let name = format!("{base_name}-{seq}");
        let (internal_ip, vpc, subnet) = match (&area.vpc_identity, &area.subnet_identity) {
            (Some(v), Some(s)) => {
                let cidr = network::subnet_cidr(tx.store, v, s).unwrap_or_default();
                (ip_in(tx.store, s, &cidr), v.clone(), s.clone())
            }
            (Some(v), None) => {
                let cidr = tx
                    .store
                    .table::<Vpc>()?
                    .get(v)
                    .map(|x| x.segment.clone())
                    .unwrap_or_default();
                (ip_in(tx.store, v, &cidr), v.clone(), String::new())
            }
            _ => (
                ip_in(
                    tx.store,
                    &format!("veen-internal/{}", p.cluster.name),
                    "172.16.0.0/12",
                ),
                String::new(),
                String::new(),
            ),
        };
        let external_ip = ip_in(
            tx.store,
            &format!("veen-external/{}", p.cluster.name),
            "100.64.0.0/10",
        );
        let fails = tx.rng.chance(tx.faults.instance_failure_rate);
        let inst = Instance {
            id: id.clone(),
            uuid: uuid::Uuid::new_v4().to_string(),
            name,
            desc: new.cs.advanced.instance_desc.clone().unwrap_or_default(),
            host_name: host_name
                .or_else(|| {
                    new.cs
                        .advanced
                        .instance_host_name
                        .clone()
                        .map(|h| format!("{h}-{seq}"))
                })
                .unwrap_or_else(|| id.clone()),
            cloud_server_id: new.cs.id.clone(),
            cloud_server_name: new.cs.name.clone(),
            status: "opening".into(),
            cluster: p.cluster.name.clone(),
            spec: new.cs.spec.clone(),
            image_id: new.cs.image_id.clone(),
            project: new.cs.project.clone(),
            tags: tags.clone(),
            vpc_identity: vpc,
            subnet_identity: subnet,
            internal_ip,
            external_ip,
            bandwidth_peak: new.cs.bandwidth_peak.clone(),
            security_group_ids: new.cs.security_group_ids.clone(),
            create_ms: tx.now_ms,
            update_ms: tx.now_ms,
            fails,
        };
        for sg in &inst.security_group_ids {
            tx.store.add_ref(kinds::SECURITY_GROUP, sg, kinds::INSTANCE, &id);
        }
        if !inst.vpc_identity.is_empty() {
            tx.store
                .add_ref(kinds::VPC, &inst.vpc_identity, kinds::INSTANCE, &id);
        }
        tx.store
            .add_ref(kinds::CLOUD_SERVER, &new.cs.id, kinds::INSTANCE, &id);
        tx.insert_new(inst)?;
        match new.timeout_secs {
            Some(t) if (t as u64).saturating_mul(1000) < open_ms => {
                tx.schedule_in(
                    (t as u64).saturating_mul(1000),
                    kinds::INSTANCE,
                    &id,
                    "open-timeout",
                );
            }
            _ => tx.schedule_in(open_ms, kinds::INSTANCE, &id, "open-done"),
        }
        ids.push(id);
    }
    Ok(ids)
}

/// Timer handler for instances.
pub fn on_timer(store: &mut Store, timer: &Timer, now_ms: u64) -> Result<(), StateError> {
    let table = store.table::<Instance>()?;
    let Some(inst) = table.get_mut(&timer.id) else {
        return Ok(());
    };
    inst.update_ms = now_ms;
    match (timer.action.as_str(), inst.status.as_str()) {
        ("open-done", "opening") => {
            inst.status = if inst.fails { "open_fail" } else { "running" }.into();
        }
        ("open-timeout", "opening") => inst.status = "open_fail".into(),
        ("power-done", "stopping") => inst.status = "stop".into(),
        ("power-done", "starting" | "rebooting") => inst.status = "running".into(),
        ("terminate-done", "terminating") => {
            let gone = table.remove(&timer.id);
            if let Some(g) = gone {
                release(store, &g);
            }
        }
        _ => {}
    }
    Ok(())
}

fn release(store: &mut Store, inst: &Instance) {
    store.remove_refs_of(kinds::INSTANCE, &inst.id);
    let scope = if !inst.subnet_identity.is_empty() {
        inst.subnet_identity.clone()
    } else if !inst.vpc_identity.is_empty() {
        inst.vpc_identity.clone()
    } else {
        format!("veen-internal/{}", inst.cluster)
    };
    if let Ok(ip) = inst.internal_ip.parse() {
        store.release_ip(&scope, ip);
    }
    if let Ok(ip) = inst.external_ip.parse() {
        store.release_ip(&format!("veen-external/{}", inst.cluster), ip);
    }
}

/// The API form of an instance (ListInstances / GetInstance).
pub fn render(tx: &Tx<'_>, i: &Instance, with_tags: bool) -> Value {
    let catalog = &tx.config.veen;
    let cluster = catalog.cluster(&i.cluster);
    let spec = catalog.spec(&i.spec);
    let image = catalog.image(&i.image_id);
    let mut v = json!({
        "instance_identity": i.id,
        "instance_uuid": i.uuid,
        "instance_name": i.name,
        "instance_desc": i.desc,
        "host_name": i.host_name,
        "cloud_server_identity": i.cloud_server_id,
        "cloud_server_name": i.cloud_server_name,
        "status": i.status,
        "spec": i.spec,
        "spec_display": spec.map(|s| s.display.clone()).unwrap_or_default(),
        "cpu": spec.map(|s| s.cpu.to_string()).unwrap_or_default(),
        "mem": spec.map(|s| format!("{}Gi", s.mem_gb)).unwrap_or_default(),
        "project": i.project,
        "vpc_identity": i.vpc_identity,
        "subnet_cidr": network::subnet_cidr_of(tx.store, &i.vpc_identity, &i.subnet_identity),
        "cluster": {
            "cluster_name": i.cluster,
            "alias": i.cluster,
            "country": "中国",
            "region": cluster.map(|c| c.area_name.clone()).unwrap_or_default(),
            "province": cluster.map(|c| c.province.clone()).unwrap_or_default(),
            "city": cluster.map(|c| c.city_name.clone()).unwrap_or_default(),
            "isp": cluster.map(|c| c.isp.clone()).unwrap_or_default(),
            "level": "city",
        },
        "image": {
            "image_identity": i.image_id,
            "image_name": image.map(|x| x.name.clone()).unwrap_or_default(),
            "system_type": image.map(|x| x.system_type.clone()).unwrap_or_default(),
            "system_version": image.map(|x| x.system_version.clone()).unwrap_or_default(),
        },
        "network": {
            "internal_interface": {"ip_addr": i.internal_ip, "bandwidth_peak": i.bandwidth_peak},
            "external_interface": {"ip_addr": i.external_ip, "bandwidth_peak": i.bandwidth_peak},
            "default_isp": cluster.map(|c| c.isp.clone()).unwrap_or_default(),
            "enable_ipv6": false,
        },
        "create_time": i.create_ms / 1000,
        "update_time": i.update_ms / 1000,
    });
    if with_tags && let Some(m) = v.as_object_mut() {
        m.insert("Tags".into(), json!(i.tags));
    }
    v
}

fn get_instance(tx: &mut Tx<'_>, id: &str) -> Result<Instance, ApiError> {
    let now = tx.now_ms;
    tx.store
        .table::<Instance>()?
        .get_visible(id, now)
        .cloned()
        .ok_or_else(|| not_found("instance", id))
}

/// `CreateInstance` (POST): more instances in a cloud server.
pub fn create(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let cs_id = body.req("cloud_server_identity")?.to_string();
    let areas = area_nums(body)?;
    if areas.is_empty() {
        return Err(missing("instance_area_nums"));
    }
    let token = cloud_servers::client_token(body)?;
    let call_tags = tags(body)?;
    let timeout = cloud_servers::create_timeout(body)?;
    body.str("limit_mode")?;
    let print = fingerprint(body);
    app.tx(p, |tx| {
        if let Some(t) = &token
            && let Some(prev) = cloud_servers::replay(tx, "CreateInstance", t, &print)?
        {
            return Ok(json!({"instance_id_list": prev.instance_ids}));
        }
        let cs = cloud_servers::get_cloud_server(tx, &cs_id)?;
        let total: u32 = areas.iter().map(|a| a.num).sum();
        let existing = tx
            .store
            .table::<Instance>()?
            .iter()
            .filter(|i| i.cloud_server_id == cs.id && i.status != "terminating")
            .count() as u32;
        let quota = tx.config.veen.instances_per_cloud_server;
        if existing + total > quota {
            return Err(QUOTA_EXCEEDED.err(format!(
                "a cloud server holds at most {quota} instances ({existing} exist, {total} requested)"
            )));
        }
        let placed = place(tx, &cs.spec, &areas)?;
        let ids = create_placed(
            tx,
            &NewInstances {
                cs: &cs,
                placed: &placed,
                areas: &areas,
                tags: &call_tags,
                timeout_secs: timeout,
            },
        )?;
        if let Some(t) = token {
            tx.store.table::<ClientToken>()?.insert(ClientToken {
                id: format!("CreateInstance/{t}"),
                fingerprint: print.clone(),
                cloud_server_id: cs.id.clone(),
                instance_ids: ids.clone(),
            });
        }
        Ok(json!({"instance_id_list": ids}))
    })
}

/// `ListInstances` (GET).
pub fn list(app: &AppState, p: &Principal, q: &Query) -> Result<Value, ApiError> {
    let cs_ids = q.list("cloud_server_identities");
    let ids = q.list("instance_identities");
    let names = q.list("instance_names");
    let status = q.list("status");
    let clusters = q.list("cluster_names");
    let regions = q.list("regions");
    let cities = q.list("cities");
    let isps = q.list("isps");
    let specs = q.list("spec_names");
    let projects = q.list("projects");
    let vpcs = q.list("vpc_identities");
    let ips = q.list("ips");
    let uuids = q.list("instance_uuids");
    let filters = q.tag_filters()?;
    let with_tags = q.bool("with_tag_info")?.unwrap_or(false);
    app.tx(p, |tx| {
        let now = tx.now_ms;
        let catalog = tx.config.veen.clone();
        let any = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
        let items: Vec<Instance> = tx
            .store
            .table::<Instance>()?
            .iter_visible(now)
            .filter(|i| {
                let c = catalog.cluster(&i.cluster);
                any(&cs_ids, &i.cloud_server_id)
                    && any(&ids, &i.id)
                    && any(&names, &i.name)
                    && any(&status, &i.status)
                    && any(&clusters, &i.cluster)
                    && any(&specs, &i.spec)
                    && any(&projects, &i.project)
                    && any(&vpcs, &i.vpc_identity)
                    && any(&uuids, &i.uuid)
                    && (ips.is_empty() || ips.contains(&i.internal_ip) || ips.contains(&i.external_ip))
                    && (regions.is_empty()
                        || c.is_some_and(|c| regions.iter().any(|r| *r == c.area || *r == c.area_name)))
                    && (cities.is_empty()
                        || c.is_some_and(|c| cities.iter().any(|r| *r == c.city || *r == c.city_name)))
                    && (isps.is_empty() || c.is_some_and(|c| isps.contains(&c.isp)))
                    && matches_tags(&i.tags, &filters)
            })
            .cloned()
            .collect();
        let (total, page) = paginate(items, q, 1000, 1000)?;
        let instances: Vec<Value> = page.iter().map(|i| render(tx, i, with_tags)).collect();
        Ok(json!({"instances": instances, "total_count": total}))
    })
}

/// `GetInstance` (GET).
pub fn get(app: &AppState, p: &Principal, q: &Query) -> Result<Value, ApiError> {
    let id = q.req("instance_identity")?.to_string();
    for flag in ["with_all_nics", "with_custom_data", "with_eip_info"] {
        q.bool(flag)?;
    }
    app.tx(p, |tx| {
        let i = get_instance(tx, &id)?;
        Ok(json!({"instance": render(tx, &i, true)}))
    })
}

fn ids_of(body: Obj<'_>) -> Result<Vec<String>, ApiError> {
    let ids = body.str_list("instance_identities")?;
    if ids.is_empty() {
        return Err(missing("instance_identities"));
    }
    if ids.len() > 100 {
        return Err(invalid("instance_identities", "at most 100 instances per call"));
    }
    Ok(ids)
}

/// Moves every instance of `ids` from one of `from` to `to`, scheduling `action` after `delay`;
/// checks all before changing any.
fn transition(
    app: &AppState,
    p: &Principal,
    ids: Vec<String>,
    from: &[&str],
    to: &str,
    action: &str,
    delay: (&str, u64),
) -> Result<Value, ApiError> {
    app.tx(p, |tx| {
        for id in &ids {
            let i = get_instance(tx, id)?;
            if !from.contains(&i.status.as_str()) {
                return Err(INVALID_INSTANCE_STATUS.err(format!(
                    "instance {id} is {}; the operation needs {}",
                    i.status,
                    from.join(" or ")
                )));
            }
        }
        let ms = tx.delay_ms(delay.0, delay.1);
        let now = tx.now_ms;
        for id in &ids {
            if let Some(i) = tx.store.table::<Instance>()?.get_mut(id) {
                i.status = to.to_string();
                i.update_ms = now;
            }
            tx.schedule_in(ms, kinds::INSTANCE, id, action);
        }
        Ok(json!({}))
    })
}

/// `StartInstances` (POST).
pub fn start(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let ids = ids_of(body)?;
    transition(
        app,
        p,
        ids,
        &["stop"],
        "starting",
        "power-done",
        ("veen_instance_power", POWER_MS),
    )
}

/// `StopInstances` (POST).
pub fn stop(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let ids = ids_of(body)?;
    transition(
        app,
        p,
        ids,
        &["running"],
        "stopping",
        "power-done",
        ("veen_instance_power", POWER_MS),
    )
}

/// `RebootInstances` (POST).
pub fn reboot(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let ids = ids_of(body)?;
    transition(
        app,
        p,
        ids,
        &["running"],
        "rebooting",
        "power-done",
        ("veen_instance_power", POWER_MS),
    )
}

/// `OfflineInstances` (POST): deletes instances.
pub fn offline(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let ids = ids_of(body)?;
    let from: &[&str] = if body.bool("ignore_running")?.unwrap_or(false) {
        &["stop", "open_fail", "running"]
    } else {
        &["stop", "open_fail"]
    };
    transition(
        app,
        p,
        ids,
        from,
        "terminating",
        "terminate-done",
        ("veen_instance_terminate", TERMINATE_MS),
    )
}

/// `SetInstanceName` (POST).
pub fn set_name(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let id = body.req("instance_identity")?.to_string();
    let name = body.req("instance_name")?.to_string();
    if !valid_name(&name, 1, 60) {
        return Err(invalid(
            "instance_name",
            "1-60 characters: letters, digits, Chinese and ()`~!@#$%^&*-+=_|{}[]:;'<>,.?/ (no \", \\, space or leading /)",
        ));
    }
    app.tx(p, |tx| {
        let i = get_instance(tx, &id)?;
        if i.status == "terminating" {
            return Err(INVALID_INSTANCE_STATUS.err(format!("instance {id} is terminating")));
        }
        let now = tx.now_ms;
        if let Some(i) = tx.store.table::<Instance>()?.get_mut(&id) {
            i.name = name;
            i.update_ms = now;
        }
        Ok(json!({}))
    })
}

/// `ListAvailableResourceInfo` (GET): clusters offering `instance_type` with their free capacity.
pub fn available(app: &AppState, p: &Principal, q: &Query) -> Result<Value, ApiError> {
    let spec = q.req("instance_type")?.to_string();
    if let Some(d) = q.str("cloud_disk_type")
        && !["CloudBlockHDD", "CloudBlockSSD"].contains(&d)
    {
        return Err(invalid("CloudDiskType", "must be CloudBlockHDD or CloudBlockSSD"));
    }
    app.tx(p, |tx| {
        if tx.config.veen.spec(&spec).is_none() {
            return Err(invalid("InstanceType", format!("no spec {spec}")));
        }
        let used = used_by_cluster(tx.store)?;
        let name = |id: &str, n: &str| json!({"id": id, "name": n, "en_name": id});
        let regions: Vec<Value> = tx
            .config
            .veen
            .clusters
            .iter()
            .filter(|c| c.offers(&spec))
            .map(|c| {
                json!({
                    "area": name(&c.area, &c.area_name),
                    "country": name("china", "中国"),
                    "city": name(&c.city, &c.city_name),
                    "cluster": name(&c.name, &c.name),
                    "isp": name(&c.isp, &c.isp),
                    "available_num": c.capacity.saturating_sub(used.get(&c.name).copied().unwrap_or(0)),
                })
            })
            .collect();
        Ok(json!({"regions": regions}))
    })
}
