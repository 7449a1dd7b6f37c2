//! veEN cloud servers (边缘服务, seed 000; digest §1.4): `CreateCloudServer`, `ListCloudServers`,
//! `GetCloudServer`, `DeleteCloudServer`, and the `client_token` records both create calls share.
//!
//! CreateCloudServer validates every field of the seed (the message names the field):
//! `cloudserver_name` 5–20 characters of letters, digits, Chinese and ``()`~!@#$%^&*-+=_|{}[]:;'<>,.?/``
//! (no `"`, `\`, space, no leading `/`); `image_id` and `spec_name` from the catalog;
//! `storage_config.system_disk` required (`storage_type` CloudBlockHDD|CloudBlockSSD, `capacity` a
//! number string 20–500 GB), `data_disk` / `data_disk_list` (≤ 8, 20–2000 GB);
//! `network_config.bandwidth_peak` required (1–10000 Mbps), `security_group_id_list` of existing
//! groups; `secret_config` (`secret_type` 2 = password with 8–30 characters, 3 = key pair name);
//! `instance_area_nums` (optional; see `instances::area_nums`); `schedule_strategy`
//! (dispersion|concentration, high_priority|low_priority); `custom_data.data` ≤ 16 KiB;
//! `billing_config` (MonthlyPeak|DailyPeak|PrePaid, MonthlyP95|DailyPeak; PrePaid needs
//! `pre_paid_period` Month|Year and `pre_paid_period_number` 1–36 and answers `pre_paid_url`);
//! `advanced_configuration` (`instance_name` 1–50, `instance_desc` ≤ 80, `instance_host_name`);
//! `project` (default `default`); `disable_vga`; `cloud_server_desc` ≤ 80; `create_instance_timeout`
//! ≥ 120; `client_token` ASCII ≤ 64; `Tags` ≤ 50 with unique keys. Quotas: `cloud_server_quota` per
//! account, `instances_per_cloud_server` (400 `QuotaExceeded`). A `client_token` seen before with
//! the same parameters returns the first call's ids and creates nothing; with other parameters it is
//! 400 `IdempotentParameterMismatch`. Tokens are kept for the emulator's lifetime.
//! DeleteCloudServer is refused (400 `ResourceInUse`) while the cloud server holds instances.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::auth::Principal;
use crate::core::error::ApiError;
use crate::core::state::Record;
use crate::veen::errors::{
    IDEMPOTENT_PARAMETER_MISMATCH, QUOTA_EXCEEDED, RESOURCE_IN_USE, invalid, missing, not_found,
};
use crate::veen::instances::{self, Instance, NewInstances};
use crate::veen::kinds;
use crate::veen::params::{Obj, Query, Tag, matches_tags, paginate, tags};

/// `advanced_configuration` as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Advanced {
    /// Instance name base.
    pub instance_name: Option<String>,
    /// Instance description.
    pub instance_desc: Option<String>,
    /// Host name base.
    pub instance_host_name: Option<String>,
    /// Delete protection.
    pub delete_protection: bool,
}

/// A stored cloud server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CloudServer {
    /// `cloud_server_identity`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub desc: String,
    /// Spec name.
    pub spec: String,
    /// Image id.
    pub image_id: String,
    /// `storage_config` as given (normalised keys).
    pub storage: Value,
    /// Bandwidth peak (Mbps string).
    pub bandwidth_peak: String,
    /// `network_config.enable_ipv6`.
    pub enable_ipv6: bool,
    /// `network_config.dns_list`.
    pub dns_list: Vec<String>,
    /// `network_config.security_group_id_list`.
    pub security_group_ids: Vec<String>,
    /// `secret_config.secret_type` (the secret itself is never stored).
    pub secret_type: Option<i64>,
    /// `billing_config` computing method.
    pub computing_billing_method: String,
    /// `billing_config` bandwidth method.
    pub bandwidth_billing_method: String,
    /// `schedule_strategy`.
    pub schedule_strategy: String,
    /// `price_strategy`.
    pub price_strategy: String,
    /// `custom_data.data`.
    pub custom_data: String,
    /// `advanced_configuration`.
    pub advanced: Advanced,
    /// Project.
    pub project: String,
    /// `disable_vga`.
    pub disable_vga: bool,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Creation time (epoch ms).
    pub create_ms: u64,
}

impl Record for CloudServer {
    const KIND: &'static str = kinds::CLOUD_SERVER;
    fn id(&self) -> &str {
        &self.id
    }
}

/// A `client_token` seen by a create call: `"<Action>/<token>"`, the parameters' fingerprint and
/// what the call created.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClientToken {
    /// `"<Action>/<token>"`.
    pub id: String,
    /// Fingerprint of the parameters (without the token).
    pub fingerprint: String,
    /// The cloud server created (or added to).
    pub cloud_server_id: String,
    /// The instances created.
    pub instance_ids: Vec<String>,
}

impl Record for ClientToken {
    const KIND: &'static str = kinds::CLIENT_TOKEN;
    fn id(&self) -> &str {
        &self.id
    }
}

const NAME_SPECIALS: &str = "()`~!@#$%^&*-+=_|{}[]:;'<>,.?/";

/// veEN's name rule (seed 000): `min..=max` characters of letters, digits, Chinese and the listed
/// specials; no `"`, `\` or space; not starting with `/`.
pub fn valid_name(name: &str, min: usize, max: usize) -> bool {
    let n = name.chars().count();
    n >= min
        && n <= max
        && !name.starts_with('/')
        && name.chars().all(|c| {
            c.is_ascii_alphanumeric() || ('\u{4e00}'..='\u{9fa5}').contains(&c) || NAME_SPECIALS.contains(c)
        })
}

/// The fingerprint of a create call's parameters: the normalised body without `client_token`
/// (serde_json maps are sorted, so equal bodies give equal strings).
pub fn fingerprint(body: Obj<'_>) -> String {
    let mut v = serde_json::Map::new();
    for key in body.keys() {
        if key != "clienttoken"
            && let Some(x) = body.get(&key)
        {
            v.insert(key, x.clone());
        }
    }
    Value::Object(v).to_string()
}

/// `client_token`: ASCII, ≤ 64 characters.
pub fn client_token(body: Obj<'_>) -> Result<Option<String>, ApiError> {
    match body.str("client_token")?.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) if t.is_ascii() && t.len() <= 64 => Ok(Some(t.to_string())),
        Some(_) => Err(invalid("client_token", "at most 64 ASCII characters")),
    }
}

/// `create_instance_timeout`: ≥ 120 seconds.
pub fn create_timeout(body: Obj<'_>) -> Result<Option<i64>, ApiError> {
    match body.int("create_instance_timeout")? {
        Some(t) if t < 120 => Err(invalid("create_instance_timeout", "must be at least 120 seconds")),
        t => Ok(t),
    }
}

/// The earlier call with `token`, if any: same fingerprint → its record, other → mismatch error.
pub fn replay(
    tx: &mut Tx<'_>,
    action: &str,
    token: &str,
    print: &str,
) -> Result<Option<ClientToken>, ApiError> {
    match tx.store.table::<ClientToken>()?.get(&format!("{action}/{token}")) {
        None => Ok(None),
        Some(t) if t.fingerprint == print => Ok(Some(t.clone())),
        Some(_) => Err(IDEMPOTENT_PARAMETER_MISMATCH.err(format!(
            "client_token {token} was used by an earlier {action} with other parameters"
        ))),
    }
}

/// The cloud server `id`, or 404.
pub fn get_cloud_server(tx: &mut Tx<'_>, id: &str) -> Result<CloudServer, ApiError> {
    let now = tx.now_ms;
    tx.store
        .table::<CloudServer>()?
        .get_visible(id, now)
        .cloned()
        .ok_or_else(|| not_found("cloud server", id))
}

fn gb(o: Obj<'_>, name: &str, min: u64, max: u64) -> Result<String, ApiError> {
    let v = o.req(name)?;
    match v.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(v.to_string()),
        _ => Err(invalid(
            &o.field(name),
            format!("must be a number string of GB between {min} and {max}"),
        )),
    }
}

fn disk(o: Obj<'_>, min: u64, max: u64) -> Result<(), ApiError> {
    let t = o.req("storage_type")?;
    if !["CloudBlockHDD", "CloudBlockSSD"].contains(&t) {
        return Err(invalid(
            &o.field("storage_type"),
            "must be CloudBlockHDD or CloudBlockSSD",
        ));
    }
    gb(o, "capacity", min, max)?;
    o.bool("delete_with_instance")?;
    Ok(())
}

fn one_of(o: Obj<'_>, name: &str, allowed: &[&str]) -> Result<String, ApiError> {
    match o.str(name)? {
        None | Some("") => Ok(String::new()),
        Some(v) if allowed.contains(&v) => Ok(v.to_string()),
        Some(_) => Err(invalid(
            &o.field(name),
            format!("must be one of {}", allowed.join(", ")),
        )),
    }
}

/// Everything CreateCloudServer validates before touching state.
struct Template {
    cs: CloudServer,
    areas: Vec<instances::AreaNum>,
    timeout: Option<i64>,
    prepaid: bool,
}

fn template(body: Obj<'_>) -> Result<Template, ApiError> {
    let name = body.req("cloudserver_name")?;
    if !valid_name(name, 5, 20) {
        return Err(invalid(
            "cloudserver_name",
            "5-20 characters: letters, digits, Chinese and ()`~!@#$%^&*-+=_|{}[]:;'<>,.?/ (no \", \\, space or leading /)",
        ));
    }
    let image_id = body.req("image_id")?;
    let spec = body.req("spec_name")?;
    let desc = body.str("cloud_server_desc")?.unwrap_or_default();
    if desc.chars().count() > 80 {
        return Err(invalid("cloud_server_desc", "at most 80 characters"));
    }
    let storage = body
        .obj("storage_config")?
        .ok_or_else(|| missing("storage_config"))?;
    let so = storage.obj();
    let system = so
        .obj("system_disk")?
        .ok_or_else(|| missing("storage_config.system_disk"))?;
    disk(system.obj(), 20, 500)?;
    if let Some(d) = so.obj("data_disk")? {
        disk(d.obj(), 20, 2000)?;
    }
    let list = so.objs("data_disk_list")?;
    if list.len() > 8 {
        return Err(invalid("storage_config.data_disk_list", "at most 8 data disks"));
    }
    for d in &list {
        disk(d.obj(), 20, 2000)?;
    }
    let network = body
        .obj("network_config")?
        .ok_or_else(|| missing("network_config"))?;
    let no = network.obj();
    let bw = no.req("bandwidth_peak")?;
    if !bw.parse::<u64>().is_ok_and(|n| (1..=10_000).contains(&n)) {
        return Err(invalid(
            "network_config.bandwidth_peak",
            "must be a number string of Mbps between 1 and 10000",
        ));
    }
    let enable_ipv6 = no.bool("enable_ipv6")?.unwrap_or(false);
    let dns_list = no.str_list("dns_list")?;
    for (i, d) in dns_list.iter().enumerate() {
        if d.parse::<std::net::IpAddr>().is_err() {
            return Err(invalid(
                &format!("network_config.dns_list.{}", i + 1),
                "must be an IP address",
            ));
        }
    }
    let security_group_ids = no.str_list("security_group_id_list")?;
    let secret_type = match body.obj("secret_config")? {
        None => None,
        Some(s) => {
            let o = s.obj();
            let t = o
                .int("secret_type")?
                .ok_or_else(|| missing("secret_config.secret_type"))?;
            let data = o.req("secret_data")?;
            match t {
                2 => {
                    let n = data.chars().count();
                    if !(8..=30).contains(&n) {
                        return Err(invalid(
                            "secret_config.secret_data",
                            "a password has 8-30 characters",
                        ));
                    }
                }
                3 => {}
                _ => {
                    return Err(invalid(
                        "secret_config.secret_type",
                        "must be 2 (password) or 3 (key pair)",
                    ));
                }
            }
            Some(t)
        }
    };
    let areas = instances::area_nums(body)?;
    let (schedule_strategy, price_strategy) = match body.obj("schedule_strategy")? {
        None => (String::new(), String::new()),
        Some(s) => (
            one_of(s.obj(), "schedule_strategy", &["dispersion", "concentration"])?,
            one_of(s.obj(), "price_strategy", &["high_priority", "low_priority"])?,
        ),
    };
    let custom_data = match body.obj("custom_data")? {
        None => String::new(),
        Some(c) => {
            let d = c.obj().str("data")?.unwrap_or_default();
            if d.len() > 16 * 1024 {
                return Err(invalid("custom_data.data", "at most 16 KiB"));
            }
            d.to_string()
        }
    };
    let (mut computing, mut bandwidth, mut prepaid) = (String::new(), String::new(), false);
    if let Some(b) = body.obj("billing_config")? {
        let o = b.obj();
        computing = one_of(
            o,
            "computing_billing_method",
            &["MonthlyPeak", "DailyPeak", "PrePaid"],
        )?;
        bandwidth = one_of(o, "bandwidth_billing_method", &["MonthlyP95", "DailyPeak"])?;
        o.bool("auto_renew")?;
        if computing == "PrePaid" {
            prepaid = true;
            one_of(o, "pre_paid_period", &["Month", "Year"])?;
            if o.str("pre_paid_period")?.is_none_or(str::is_empty) {
                return Err(missing("billing_config.pre_paid_period"));
            }
            let n = o
                .int("pre_paid_period_number")?
                .ok_or_else(|| missing("billing_config.pre_paid_period_number"))?;
            if !(1..=36).contains(&n) {
                return Err(invalid(
                    "billing_config.pre_paid_period_number",
                    "must be between 1 and 36",
                ));
            }
        }
    }
    let mut advanced = Advanced::default();
    if let Some(a) = body.obj("advanced_configuration")? {
        let o = a.obj();
        if let Some(n) = o.str("instance_name")?.filter(|s| !s.is_empty()) {
            if !valid_name(n, 1, 50) {
                return Err(invalid(
                    "advanced_configuration.instance_name",
                    "1-50 characters of the name charset",
                ));
            }
            advanced.instance_name = Some(n.to_string());
        }
        if let Some(d) = o.str("instance_desc")?.filter(|s| !s.is_empty()) {
            if d.chars().count() > 80 {
                return Err(invalid(
                    "advanced_configuration.instance_desc",
                    "at most 80 characters",
                ));
            }
            advanced.instance_desc = Some(d.to_string());
        }
        if let Some(h) = o.str("instance_host_name")?.filter(|s| !s.is_empty()) {
            let ok = h.len() <= 50
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !ok || h.starts_with(['-', '.']) {
                return Err(invalid(
                    "advanced_configuration.instance_host_name",
                    "at most 50 characters of letters, digits, '-' and '.'",
                ));
            }
            advanced.instance_host_name = Some(h.to_string());
        }
        advanced.delete_protection = o.bool("delete_protection")?.unwrap_or(false);
    }
    let project = body
        .str("project")?
        .filter(|s| !s.is_empty())
        .unwrap_or("default");
    let disable_vga = body.bool("disable_vga")?.unwrap_or(false);
    let timeout = create_timeout(body)?;
    let tags = tags(body)?;
    Ok(Template {
        cs: CloudServer {
            id: String::new(),
            name: name.to_string(),
            desc: desc.to_string(),
            spec: spec.to_string(),
            image_id: image_id.to_string(),
            storage: Value::Object(so_map(so)),
            bandwidth_peak: bw.to_string(),
            enable_ipv6,
            dns_list,
            security_group_ids,
            secret_type,
            computing_billing_method: computing,
            bandwidth_billing_method: bandwidth,
            schedule_strategy,
            price_strategy,
            custom_data,
            advanced,
            project: project.to_string(),
            disable_vga,
            tags,
            create_ms: 0,
        },
        areas,
        timeout,
        prepaid,
    })
}

fn so_map(o: Obj<'_>) -> serde_json::Map<String, Value> {
    o.keys()
        .into_iter()
        .filter_map(|k| o.get(&k).map(|v| (k, v.clone())))
        .collect()
}

fn new_cloud_server_id() -> String {
    let raw = uuid::Uuid::new_v4().simple().to_string();
    let body: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                char::from(b'g' + (c as u8 - b'0'))
            } else {
                c
            }
        })
        .take(13)
        .collect();
    format!("cloudserver-{body}")
}

/// `CreateCloudServer` (POST).
pub fn create(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let t = template(body)?;
    let token = client_token(body)?;
    let print = fingerprint(body);
    app.tx(p, |tx| {
        if let Some(tok) = &token
            && let Some(prev) = replay(tx, "CreateCloudServer", tok, &print)?
        {
            return Ok(
                json!({"cloud_server_identity": prev.cloud_server_id, "instance_id_list": prev.instance_ids}),
            );
        }
        let catalog = &tx.config.veen;
        if catalog.image(&t.cs.image_id).is_none() {
            return Err(invalid("image_id", format!("no image {}", t.cs.image_id)));
        }
        if catalog.spec(&t.cs.spec).is_none() {
            return Err(invalid("spec_name", format!("no spec {}", t.cs.spec)));
        }
        let quota = catalog.cloud_server_quota;
        let per = catalog.instances_per_cloud_server;
        for (i, sg) in t.cs.security_group_ids.iter().enumerate() {
            if tx.store.get_json(kinds::SECURITY_GROUP, sg).is_none() {
                return Err(invalid(
                    &format!("network_config.security_group_id_list.{}", i + 1),
                    format!("no security group {sg}"),
                ));
            }
        }
        if tx.store.table::<CloudServer>()?.len() as u32 >= quota {
            return Err(QUOTA_EXCEEDED.err(format!("an account holds at most {quota} cloud servers")));
        }
        let total: u32 = t.areas.iter().map(|a| a.num).sum();
        if total > per {
            return Err(QUOTA_EXCEEDED.err(format!(
                "a cloud server holds at most {per} instances ({total} requested)"
            )));
        }
        let placed = instances::place(tx, &t.cs.spec, &t.areas)?;
        let mut cs = t.cs.clone();
        cs.id = new_cloud_server_id();
        cs.create_ms = tx.now_ms;
        tx.insert_new(cs.clone())?;
        let ids = instances::create_placed(
            tx,
            &NewInstances {
                cs: &cs,
                placed: &placed,
                areas: &t.areas,
                tags: &[],
                timeout_secs: t.timeout,
            },
        )?;
        if let Some(tok) = token {
            tx.store.table::<ClientToken>()?.insert(ClientToken {
                id: format!("CreateCloudServer/{tok}"),
                fingerprint: print.clone(),
                cloud_server_id: cs.id.clone(),
                instance_ids: ids.clone(),
            });
        }
        let mut result = json!({"cloud_server_identity": cs.id, "instance_id_list": ids});
        if t.prepaid
            && let Some(m) = result.as_object_mut()
        {
            let order = uuid::Uuid::new_v4().as_u128() % 10_000_000_000_000_000u128;
            m.insert("pre_paid_url".into(), json!(format!("Order{order:016}")));
        }
        Ok(result)
    })
}

fn render(tx: &mut Tx<'_>, cs: &CloudServer, with_tags: bool) -> Result<Value, ApiError> {
    let members: Vec<Instance> = tx
        .store
        .table::<Instance>()?
        .iter()
        .filter(|i| i.cloud_server_id == cs.id)
        .cloned()
        .collect();
    let mut histogram: Vec<(String, u32)> = Vec::new();
    let mut areas: Vec<(String, String, String, u32)> = Vec::new();
    for i in &members {
        match histogram.iter_mut().find(|(s, _)| *s == i.status) {
            Some(h) => h.1 += 1,
            None => histogram.push((i.status.clone(), 1)),
        }
        let c = tx.config.veen.cluster(&i.cluster);
        let area = c.map(|c| c.area_name.clone()).unwrap_or_default();
        let isp = c.map(|c| c.isp.clone()).unwrap_or_default();
        match areas.iter_mut().find(|a| a.1 == i.cluster) {
            Some(a) => a.3 += 1,
            None => areas.push((area, i.cluster.clone(), isp, 1)),
        }
    }
    let catalog = &tx.config.veen;
    let spec = catalog.spec(&cs.spec);
    let image = catalog.image(&cs.image_id);
    let mut v = json!({
        "cloud_server_identity": cs.id,
        "name": cs.name,
        "desc": cs.desc,
        "spec": cs.spec,
        "spec_display": spec.map(|s| s.display.clone()).unwrap_or_default(),
        "cpu": spec.map(|s| s.cpu.to_string()).unwrap_or_default(),
        "mem": spec.map(|s| format!("{}Gi", s.mem_gb)).unwrap_or_default(),
        "image": {
            "image_identity": cs.image_id,
            "image_name": image.map(|x| x.name.clone()).unwrap_or_default(),
            "system_type": image.map(|x| x.system_type.clone()).unwrap_or_default(),
            "system_version": image.map(|x| x.system_version.clone()).unwrap_or_default(),
            "disable_vga": cs.disable_vga,
        },
        "instance_count": members.len(),
        "instance_status": histogram.iter().map(|(s, n)| json!({"status": s, "instance_count": n})).collect::<Vec<_>>(),
        "server_area_count": areas.len(),
        "server_areas": areas.iter().map(|(a, c, i, n)| json!({"area": a, "cluster_name": c, "cluster_alias": c, "isp": i, "instance_num": n})).collect::<Vec<_>>(),
        "network": {
            "bandwidth_peak": cs.bandwidth_peak,
            "enable_ipv6": cs.enable_ipv6,
            "dns_list": cs.dns_list,
        },
        "storage": cs.storage,
        "billing_config": {
            "computing_billing_method": cs.computing_billing_method,
            "bandwidth_billing_method": cs.bandwidth_billing_method,
        },
        "secret_config": {"secret_type": cs.secret_type, "secret_data": ""},
        "schedule_strategy_configs": {"schedule_strategy": cs.schedule_strategy, "price_strategy": cs.price_strategy},
        "custom_data": {"data": cs.custom_data},
        "advanced_configuration": {
            "instance_name": cs.advanced.instance_name.clone().unwrap_or_default(),
            "instance_desc": cs.advanced.instance_desc.clone().unwrap_or_default(),
            "instance_host_name": cs.advanced.instance_host_name.clone().unwrap_or_default(),
            "delete_protection": cs.advanced.delete_protection,
        },
        "project": cs.project,
        "instance_project": cs.project,
        "create_time": cs.create_ms / 1000,
        "update_time": cs.create_ms / 1000,
    });
    if with_tags && let Some(m) = v.as_object_mut() {
        m.insert("Tags".into(), json!(cs.tags));
    }
    Ok(v)
}

/// `GetCloudServer` (GET; SDK key `CloudServerID`, docs `cloud_server_id`).
pub fn get(app: &AppState, p: &Principal, q: &Query) -> Result<Value, ApiError> {
    let id = q.req("cloud_server_id")?.to_string();
    app.tx(p, |tx| {
        let cs = get_cloud_server(tx, &id)?;
        Ok(json!({"cloud_server": render(tx, &cs, true)?}))
    })
}

/// `ListCloudServers` (GET).
pub fn list(app: &AppState, p: &Principal, q: &Query) -> Result<Value, ApiError> {
    let projects = q.list("projects");
    let filters = q.tag_filters()?;
    let with_tags = q.bool("with_tag_info")?.unwrap_or(false);
    app.tx(p, |tx| {
        let now = tx.now_ms;
        let items: Vec<CloudServer> = tx
            .store
            .table::<CloudServer>()?
            .iter_visible(now)
            .filter(|c| projects.is_empty() || projects.contains(&c.project))
            .filter(|c| matches_tags(&c.tags, &filters))
            .cloned()
            .collect();
        let (total, page) = paginate(items, q, 1000, 1000)?;
        let mut out = Vec::new();
        for cs in &page {
            out.push(render(tx, cs, with_tags)?);
        }
        Ok(json!({"cloud_servers": out, "total_count": total}))
    })
}

/// `DeleteCloudServer` (POST).
pub fn delete(app: &AppState, p: &Principal, body: Obj<'_>) -> Result<Value, ApiError> {
    let id = body.req("cloud_server_id")?.to_string();
    app.tx(p, |tx| {
        let cs = get_cloud_server(tx, &id)?;
        let n = tx
            .store
            .count_referrers_by(kinds::CLOUD_SERVER, &id, kinds::INSTANCE);
        if n > 0 {
            return Err(RESOURCE_IN_USE.err(format!(
                "cloud server {id} still holds {n} instance(s); delete them with OfflineInstances first"
            )));
        }
        if cs.advanced.delete_protection {
            return Err(RESOURCE_IN_USE.err(format!("cloud server {id} is delete-protected")));
        }
        tx.store.table::<CloudServer>()?.remove(&id);
        tx.store.remove_refs_of(kinds::CLOUD_SERVER, &id);
        Ok(json!({}))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_name_rules() {
        assert!(valid_name("cloud-test", 5, 20));
        assert!(valid_name("边缘服务测试", 5, 20));
        assert!(valid_name("a(b)[c]{d}", 5, 20));
        assert!(!valid_name("abcd", 5, 20));
        assert!(!valid_name(&"a".repeat(21), 5, 20));
        assert!(!valid_name("/abcde", 5, 20));
        assert!(!valid_name("ab cde", 5, 20));
        assert!(!valid_name("ab\"cde", 5, 20));
        assert!(!valid_name("ab\\cde", 5, 20));
        assert!(new_cloud_server_id().starts_with("cloudserver-"));
        assert_eq!(new_cloud_server_id().len(), "cloudserver-".len() + 13);
    }
}
