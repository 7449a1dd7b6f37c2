//! Edge instances (digest §2.2) and the disks created with them (§2.4 records):
//! `GET/POST /v1/cloudservers`, `GET/PUT /v1/cloudservers/{server_id}`, `POST /v1/cloudservers/delete`,
//! `POST /v1/cloudservers/action` (`os-start` / `os-stop` / `reboot`),
//! `POST /v1/cloudservers/{id}/change-os`, `POST /v1/cloudservers/{id}/nics`,
//! `POST /v1/cloudservers/{id}/nics/delete`.
//!
//! State machine (delays from config keys, defaults in ms): create → `BUILD` (`instance_build`,
//! 3000) → `ACTIVE` or `FAILED` (fault `instance_failure_rate`; fault `stuck: [iec.instance]` keeps
//! `BUILD`; fault `slow_builds` lengthens the build of instances by name); `os-stop` → task
//! `powering-off` → `SHUTOFF` (`instance_power`, 1000); `os-start` → `ACTIVE`; `reboot` →
//! `REBOOT`/`HARD_REBOOT` → `ACTIVE` (`instance_reboot`, 1000); change-os (only from
//! `SHUTOFF`/`FAILED`, else 409 `IEC.010222`) → `REBUILD` → `ACTIVE` (`instance_change_os`, 2000);
//! delete → `DELETED` → gone (`instance_delete`, 1000).
//!
//! Each instance references its VPC, subnets and security groups in the store's reference index
//! (holder kind [`kinds::INSTANCE`]), so `store.is_referenced_by(kinds::SUBNET, id, kinds::INSTANCE)`
//! answers "subnet in use". Private IPs come from `store.allocate_ip(subnet_id, ...)`. Instances of
//! edge clouds in SYSTEM VPCs use a system subnet per (VPC, site) that is not materialised as a
//! `/v1/subnets` object ([`system_subnet`]). Disks are stored as [`Volume`] records (kind
//! `iec.volume`, doc §2.4 shape) for the volumes endpoints.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::clock::{nova_time, rfc3339_seconds};
use crate::core::cloud::Family;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::ids;
use crate::core::net::Ipv4Cidr;
use crate::core::paging::{OffsetKind, PageRule, QueryParams};
use crate::core::shared::Shared;
use crate::core::state::{IpError, Record, StateError, Store, Timer};
use crate::iec::catalog::{Flavor, Site};
use crate::iec::common::{Json, bad_field, is_uuid, page, valid_description, valid_name};
use crate::iec::errors::Code;
use crate::iec::kinds;
use crate::iec::vpc::Vpc;

/// One NIC (port) of an instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Nic {
    /// Port id (`OS-EXT-IPS:port_id`; the id used by `nics/delete`).
    pub port_id: String,
    /// Subnet id (a real subnet, or a system subnet id).
    pub subnet_id: Shared,
    /// Subnet cidr (for releasing the address).
    pub cidr: Shared,
    /// Private IPv4 address.
    pub ip: String,
    /// MAC address.
    pub mac: String,
    /// Floating (EIP) address when the instance was created with a bandwidth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip: Option<String>,
}

/// A stored instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Instance {
    /// Instance id.
    pub id: String,
    /// Name (with prefix/suffix applied).
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// `BUILD`, `ACTIVE`, `SHUTOFF`, `REBOOT`, `HARD_REBOOT`, `REBUILD`, `FAILED`, `DELETED`.
    pub status: Cow<'static, str>,
    /// `OS-EXT-STS:vm_state`.
    pub vm_state: Cow<'static, str>,
    /// `OS-EXT-STS:task_state`.
    pub task_state: Cow<'static, str>,
    /// `OS-EXT-STS:power_state`.
    pub power_state: u8,
    /// Created (epoch ms).
    pub created_ms: u64,
    /// Last update (epoch ms).
    pub updated_ms: u64,
    /// Launch time (epoch ms) once built.
    #[serde(default)]
    pub launched_ms: Option<u64>,
    /// Site id.
    pub site_id: Shared,
    /// Flavor id.
    pub flavor_id: Shared,
    /// Image id.
    pub image_id: Shared,
    /// Keypair name.
    #[serde(default)]
    pub key_name: Shared,
    /// User data (base64 text as given).
    #[serde(default)]
    pub user_data: Shared,
    /// Owning edge cloud id (empty for directly created instances).
    #[serde(default)]
    pub edgecloud_id: Shared,
    /// Owning edge cloud name.
    #[serde(default)]
    pub edgecloud_name: Shared,
    /// VPC id.
    pub vpc_id: Shared,
    /// NICs in order; the first is the primary.
    pub nics: Vec<Nic>,
    /// Security group ids (empty = the default security group).
    #[serde(default)]
    pub security_groups: Vec<Shared>,
    /// Disk ids (system disk first).
    #[serde(default)]
    pub volume_ids: Vec<String>,
    /// `OS-EXT-SRV-ATTR:launch_index`.
    #[serde(default)]
    pub launch_index: u32,
    /// `OS-EXT-SRV-ATTR:reservation_id`.
    #[serde(default)]
    pub reservation_id: Shared,
    /// Number behind `OS-EXT-SRV-ATTR:instance_name` (`instance-%08x`).
    #[serde(default)]
    pub instance_no: u64,
    /// Operator name of the line the instance uses (tag `operator=`).
    #[serde(default)]
    pub operator: Shared,
}

impl Record for Instance {
    const KIND: &'static str = kinds::INSTANCE;
    fn id(&self) -> &str {
        &self.id
    }
}

/// A disk created with an instance. [`render_volume`] gives the doc §2.4 Volume object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Volume {
    /// Volume id.
    pub id: String,
    /// Size in GB.
    pub size: u32,
    /// Disk type, e.g. `SATA`.
    pub volume_type: Shared,
    /// Position on the instance (0 = system disk, `/dev/vda`).
    pub index: u8,
    /// e.g. `IEC-ZS01-web-0001-volume-0000`.
    pub name: String,
    /// Owning instance id.
    pub server_id: String,
    /// Site id (for the availability zone).
    pub site_id: Shared,
}

/// The doc's Volume object (`status` `in-use`, one attachment to the instance).
pub fn render_volume(v: &Volume, catalog: &crate::iec::catalog::Catalog) -> Value {
    let device = format!("/dev/vd{}", (b'a' + v.index.min(25)) as char);
    let az = catalog
        .site(&v.site_id)
        .map(|s| s.availability_zone.clone())
        .unwrap_or_default();
    json!({
        "id": v.id, "status": "in-use", "size": v.size, "availability_zone": az,
        "attachments": [{"attachment_id": v.id, "device": device, "host_name": "", "id": v.id,
            "server_id": v.server_id, "volume_id": v.id}],
        "name": v.name, "description": "", "volume_type": v.volume_type,
        "bootable": if v.index == 0 { "true" } else { "false" },
        "encrypted": false, "multiattach": false,
        "metadata": {"attached_mode": "rw", "readonly": "False"},
    })
}

impl Record for Volume {
    const KIND: &'static str = kinds::VOLUME;
    fn id(&self) -> &str {
        &self.id
    }
}

/// Statuses from which `GET`-visible "stable" operations are allowed.
fn is_stable(status: &str) -> bool {
    matches!(status, "ACTIVE" | "SHUTOFF")
}

/// The system subnet of a SYSTEM VPC at a site: `(subnet_id, cidr)`. Site slot `i` (catalog
/// order) gets the `i`-th sub-network that is 4 bits longer than the VPC prefix (at most /28).
pub fn system_subnet(vpc: &Vpc, site_index: usize) -> Option<(String, Ipv4Cidr)> {
    let cidr: Ipv4Cidr = vpc.cidr.parse().ok()?;
    let prefix = (cidr.prefix + 4).min(28);
    let slots = 1u32 << (prefix - cidr.prefix);
    let sub = cidr.subnet(prefix, (site_index as u32) % slots)?;
    let id = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("{}/{}", vpc.id, site_index).as_bytes(),
    );
    Some((id.to_string(), sub))
}

fn mac_for(ip: Ipv4Addr, salt: u64) -> String {
    let o = ip.octets();
    format!(
        "fa:16:3e:{:02x}:{:02x}:{:02x}",
        o[2] ^ (salt as u8),
        o[3],
        (salt >> 8) as u8
    )
}

/// Everything needed to create one instance. Shared strings let a batch of instances share one
/// copy of each repeated id.
pub struct NewInstance<'a> {
    /// Final name.
    pub name: String,
    /// Site.
    pub site: &'a Site,
    /// The site id (shared).
    pub site_id: Shared,
    /// Flavor.
    pub flavor: &'a Flavor,
    /// The flavor id (shared).
    pub flavor_id: Shared,
    /// Image id.
    pub image_id: Shared,
    /// Keypair name.
    pub key_name: Shared,
    /// User data.
    pub user_data: Shared,
    /// VPC id.
    pub vpc_id: Shared,
    /// NIC subnets `(subnet_id, cidr, cidr as text)`.
    pub subnets: Vec<(Shared, Ipv4Cidr, Shared)>,
    /// Security group ids.
    pub security_groups: Vec<Shared>,
    /// System disk `(size, type)`.
    pub root: (u32, Shared),
    /// Data disks `(size, type)`.
    pub data: Vec<(u32, Shared)>,
    /// Edge cloud `(id, name)`.
    pub edgecloud: Option<(Shared, Shared)>,
    /// Pools for EIPs (one floating IP each, on successive NICs) when a bandwidth was requested.
    pub eip_pools: Vec<String>,
    /// Operator tag.
    pub operator: Shared,
    /// Batch position.
    pub launch_index: u32,
    /// Batch reservation id.
    pub reservation_id: Shared,
    /// End in `FAILED` instead of `ACTIVE`.
    pub fail: bool,
}

/// Creates one instance (status `BUILD`) with its NICs, disks and references, and schedules the
/// end of the build. On IP exhaustion nothing is left behind.
pub fn provision(tx: &mut Tx<'_>, spec: NewInstance<'_>) -> Result<String, ApiError> {
    let id = ids::resource_id();
    let mut nics = Vec::new();
    for (i, (subnet_id, cidr, cidr_text)) in spec.subnets.iter().enumerate() {
        match tx.store.allocate_ip(subnet_id, *cidr, None) {
            Ok(ip) => {
                let eip = spec.eip_pools.get(i).map(|_| {
                    let n = tx.store.next_counter("iec.eip");
                    Ipv4Addr::from(u32::from(Ipv4Addr::new(188, 0, 0, 0)) + (n as u32 % 0x00ff_fffe) + 1)
                        .to_string()
                });
                nics.push(Nic {
                    port_id: ids::resource_id(),
                    subnet_id: subnet_id.clone(),
                    cidr: cidr_text.clone(),
                    ip: ip.to_string(),
                    mac: mac_for(ip, tx.store.next_counter("iec.mac")),
                    eip,
                });
            }
            Err(e) => {
                for n in &nics {
                    if let Ok(ip) = n.ip.parse() {
                        tx.store.release_ip(&n.subnet_id, ip);
                    }
                }
                return Err(match e {
                    IpError::Exhausted => Code::E020617.err(),
                    IpError::InUse => Code::E020616.err(),
                    IpError::OutOfRange => Code::E020618.err(),
                });
            }
        }
    }
    let now = tx.now_ms;
    let mut volume_ids = Vec::new();
    let disks = std::iter::once(spec.root.clone()).chain(spec.data.iter().cloned());
    for (i, (size, vtype)) in disks.enumerate() {
        let vid = ids::resource_id();
        tx.store.table::<Volume>()?.insert(Volume {
            id: vid.clone(),
            size,
            volume_type: vtype,
            index: i as u8,
            name: format!("{}-volume-{:04}", spec.name, i),
            server_id: id.clone(),
            site_id: spec.site_id.clone(),
        });
        volume_ids.push(vid);
    }
    let (ec_id, ec_name) = spec.edgecloud.clone().unwrap_or_default();
    let build_ms = tx
        .faults
        .build_delay_for(&spec.name)
        .unwrap_or_else(|| tx.delay_ms("instance_build", 3000));
    let n = tx.store.next_counter("iec.instance_name");
    let inst = Instance {
        id: id.clone(),
        name: spec.name,
        description: String::new(),
        status: "BUILD".into(),
        vm_state: "building".into(),
        task_state: "spawning".into(),
        power_state: 0,
        created_ms: now,
        updated_ms: now,
        launched_ms: None,
        site_id: spec.site_id.clone(),
        flavor_id: spec.flavor_id.clone(),
        image_id: spec.image_id,
        key_name: spec.key_name,
        user_data: spec.user_data,
        edgecloud_id: ec_id.clone(),
        edgecloud_name: ec_name,
        vpc_id: spec.vpc_id.clone(),
        nics,
        security_groups: spec.security_groups.clone(),
        volume_ids,
        launch_index: spec.launch_index,
        reservation_id: spec.reservation_id,
        instance_no: n,
        operator: spec.operator,
    };
    tx.store.add_ref(kinds::VPC, &spec.vpc_id, kinds::INSTANCE, &id);
    for nic in &inst.nics {
        tx.store
            .add_ref(kinds::SUBNET, &nic.subnet_id, kinds::INSTANCE, &id);
    }
    for sg in &spec.security_groups {
        tx.store.add_ref(kinds::SECURITY_GROUP, sg, kinds::INSTANCE, &id);
    }
    if !ec_id.is_empty() {
        tx.store.add_ref(kinds::EDGE_CLOUD, &ec_id, kinds::INSTANCE, &id);
    }
    if !inst.key_name.is_empty() {
        tx.store
            .add_ref(kinds::KEYPAIR, &inst.key_name, kinds::INSTANCE, &id);
    }
    tx.insert_new(inst)?;
    tx.schedule_in(
        build_ms,
        kinds::INSTANCE,
        &id,
        if spec.fail { "build-failed" } else { "build-done" },
    );
    Ok(id)
}

/// Removes an instance with its disks, addresses and references.
pub fn destroy(store: &mut Store, id: &str) -> Result<(), StateError> {
    let Some(inst) = store.table::<Instance>()?.remove(id) else {
        return Ok(());
    };
    for nic in &inst.nics {
        if let Ok(ip) = nic.ip.parse() {
            store.release_ip(&nic.subnet_id, ip);
        }
    }
    let vols = store.table::<Volume>()?;
    for v in &inst.volume_ids {
        vols.remove(v);
    }
    store.remove_refs_of(kinds::INSTANCE, id);
    Ok(())
}

fn on_timer(store: &mut Store, t: &Timer, now: u64) -> Result<(), StateError> {
    if t.action == "gone" {
        return destroy(store, &t.id);
    }
    let table = store.table::<Instance>()?;
    let Some(inst) = table.get_mut(&t.id) else {
        return Ok(());
    };
    if inst.status == "DELETED" {
        return Ok(());
    }
    let (status, vm, power) = match t.action.as_str() {
        "build-done" if inst.status == "BUILD" => ("ACTIVE", "active", 1),
        "build-failed" if inst.status == "BUILD" => ("FAILED", "error", 0),
        "stopped" => ("SHUTOFF", "stopped", 4),
        "started" | "rebooted" | "rebuilt" => ("ACTIVE", "active", 1),
        _ => return Ok(()),
    };
    if t.action == "build-done" {
        inst.launched_ms = Some(now);
    }
    inst.status = status.into();
    inst.vm_state = vm.into();
    inst.power_state = power;
    inst.task_state = "".into();
    inst.updated_ms = now;
    Ok(())
}

/// The `resourceID` tag of an instance (derived deterministically from its id).
pub fn resource_id(inst: &Instance) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, inst.id.as_bytes()).to_string()
}

/// The doc's Instance object.
pub fn render(inst: &Instance, tx: &Tx<'_>) -> Value {
    let rid = resource_id(inst);
    let cat = &tx.config.catalog;
    let site = cat.site(&inst.site_id);
    let flavor = cat.flavor(&inst.flavor_id);
    let mut addresses = serde_json::Map::new();
    let addrs: Vec<Value> = inst
        .nics
        .iter()
        .flat_map(|n| {
            let mut v = vec![
                json!({"OS-EXT-IPS-MAC:mac_addr": n.mac, "OS-EXT-IPS:port_id": n.port_id,
                "OS-EXT-IPS:type": "fixed", "addr": n.ip, "version": "4"}),
            ];
            if let Some(e) = &n.eip {
                v.push(
                    json!({"OS-EXT-IPS-MAC:mac_addr": n.mac, "OS-EXT-IPS:port_id": n.port_id,
                    "OS-EXT-IPS:type": "floating", "addr": e, "version": "4"}),
                );
            }
            v
        })
        .collect();
    addresses.insert(inst.vpc_id.to_string(), Value::Array(addrs));
    let (area, province, city) = site
        .map(|s| (s.area.as_str(), s.province.as_str(), s.city.as_str()))
        .unwrap_or(("", "", ""));
    let mut tags = vec![
        "__type_iec=__type_iec".to_string(),
        format!("area={area}"),
        format!("city={city}"),
        format!("operator={}", inst.operator),
        format!("province={province}"),
        format!("resourceID={}", rid),
    ];
    if !inst.edgecloud_id.is_empty() {
        tags.push(format!("edgecloud={}", inst.edgecloud_id));
    }
    tags.sort();
    let sgs: Vec<Value> = if inst.security_groups.is_empty() {
        vec![json!({"name": "default", "id": ""})]
    } else {
        inst.security_groups
            .iter()
            .map(|id| {
                let name = tx
                    .store
                    .get_json(kinds::SECURITY_GROUP, id)
                    .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_else(|| id.to_string());
                json!({"name": name, "id": id})
            })
            .collect()
    };
    let volumes: Vec<Value> = inst
        .volume_ids
        .iter()
        .enumerate()
        .map(|(i, v)| {
            json!({"id": v, "bootIndex": i.to_string(), "delete_on_termination": "true",
                "device": format!("/dev/vd{}", (b'a' + i as u8) as char)})
        })
        .collect();
    let image_name = cat
        .image(&inst.image_id)
        .map(|i| i.name.clone())
        .unwrap_or_default();
    json!({
        "id": inst.id,
        "name": inst.name,
        "status": inst.status,
        "updated": rfc3339_seconds(inst.updated_ms),
        "hostId": format!("{:x}", u64::from_str_radix(&rid.replace('-', "")[..12], 16).unwrap_or(0)),
        "addresses": addresses,
        "created": rfc3339_seconds(inst.created_ms),
        "tags": tags,
        "locked": false,
        "description": inst.description,
        "tenant_id": "",
        "sys_tags": [{"key": "_sys_enterprise_project_id", "value": "0"}],
        "flavor": {
            "id": inst.flavor_id,
            "name": flavor.map(|f| f.name.clone()).unwrap_or_default(),
            "disk": "0",
            "ram": flavor.map(|f| f.ram.to_string()).unwrap_or_default(),
            "vcpus": flavor.map(|f| f.vcpus.to_string()).unwrap_or_default(),
        },
        "metadata": {"charging_mode": "0", "vpc_id": inst.vpc_id, "EcmResStatus": "", "image_name": image_name,
            "os_bit": "64", "resource_id": rid,
            "metering.image_id": inst.image_id},
        "security_groups": sgs,
        "progress": if inst.status == "BUILD" { 0 } else { 100 },
        "OS-EXT-STS:power_state": inst.power_state,
        "OS-EXT-STS:vm_state": inst.vm_state,
        "OS-EXT-STS:task_state": inst.task_state,
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": site.map(|s| s.availability_zone.clone()).unwrap_or_default(),
        "OS-SRV-USG:launched_at": inst.launched_ms.map(nova_time).unwrap_or_default(),
        "OS-SRV-USG:terminated_at": "",
        "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
        "OS-EXT-SRV-ATTR:ramdisk_id": "",
        "OS-EXT-SRV-ATTR:kernel_id": "",
        "OS-EXT-SRV-ATTR:launch_index": inst.launch_index,
        "OS-EXT-SRV-ATTR:reservation_id": inst.reservation_id,
        "OS-EXT-SRV-ATTR:hostname": inst.name.to_lowercase().replace('_', "-"),
        "OS-EXT-SRV-ATTR:user_data": inst.user_data,
        "OS-EXT-SRV-ATTR:host": "",
        "OS-EXT-SRV-ATTR:hypervisor_hostname": "",
        "os-extended-volumes:volumes_attached": volumes,
        "geolocation": {
            "id": inst.site_id,
            "area": area, "city": city, "country": site.map(|s| s.country.clone()).unwrap_or_default(),
            "province": province,
            "i18n_area": site.map(|s| s.i18n_area.clone()).unwrap_or_default(),
            "i18n_city": site.map(|s| s.i18n_city.clone()).unwrap_or_default(),
            "i18n_country": site.map(|s| s.i18n_country.clone()).unwrap_or_default(),
            "i18n_province": site.map(|s| s.i18n_province.clone()).unwrap_or_default(),
        },
        "edgecloud_id": inst.edgecloud_id,
        "edgecloud_name": inst.edgecloud_name,
        "domain_id": tx.domain_id,
        "key_name": inst.key_name,
        "OS-EXT-SRV-ATTR:instance_name": format!("instance-{:08x}", inst.instance_no),
    })
}

/// The instance with this id visible to the caller, or 404 `IEC.010200`.
pub fn get_instance(tx: &mut Tx<'_>, id: &str) -> Result<Instance, ApiError> {
    let now = tx.now_ms;
    tx.store
        .table::<Instance>()?
        .get_visible(id, now)
        .cloned()
        .ok_or_else(|| Code::E010200.err())
}

// ---- validation shared with deployment plans ---------------------------------------------------

/// Admin password rules: 8..26 chars, at least 3 of {upper, lower, digit, special}, and not
/// containing `root`/`administrator` or their reverse.
pub fn valid_admin_pass(p: &str) -> bool {
    let n = p.chars().count();
    if !(8..=26).contains(&n) {
        return false;
    }
    let special = "!@$%^-_=+[{}]:,./?";
    if p.chars()
        .any(|c| !(c.is_ascii_alphanumeric() || special.contains(c)))
    {
        return false;
    }
    let classes = [
        p.chars().any(|c| c.is_ascii_uppercase()),
        p.chars().any(|c| c.is_ascii_lowercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| special.contains(c)),
    ];
    if classes.iter().filter(|b| **b).count() < 3 {
        return false;
    }
    let lower = p.to_ascii_lowercase();
    !["root", "toor", "administrator", "rotartsinimda"]
        .iter()
        .any(|w| lower.contains(w))
}

/// Image lookup: a catalog image or an `active` private image.
pub fn image_exists(tx: &Tx<'_>, image_id: &str) -> bool {
    tx.config.catalog.image(image_id).is_some()
        || tx
            .store
            .get_json(kinds::IMAGE, image_id)
            .is_some_and(|v| v.get("status").and_then(Value::as_str) == Some("active"))
}

/// Instances of this account at a site that count against capacity.
pub fn site_load(tx: &mut Tx<'_>, site_id: &str) -> Result<u64, ApiError> {
    Ok(tx
        .store
        .table::<Instance>()?
        .iter()
        .filter(|i| i.site_id == site_id && i.status != "DELETED")
        .count() as u64)
}

/// Current usage for quota checks: `(instances, vcpus, ram_mb, volumes, gigabytes)`.
pub fn usage(tx: &mut Tx<'_>) -> Result<(u64, u64, u64, u64, u64), ApiError> {
    let cat = tx.config.catalog.clone();
    let mut r = (0u64, 0u64, 0u64, 0u64, 0u64);
    for i in tx.store.table::<Instance>()?.iter() {
        r.0 += 1;
        if let Some(f) = cat.flavor(&i.flavor_id) {
            r.1 += u64::from(f.vcpus);
            r.2 += f.ram;
        }
    }
    for v in tx.store.table::<Volume>()?.iter() {
        r.3 += 1;
        r.4 += u64::from(v.size);
    }
    Ok(r)
}

/// Checks the compute quotas for `n` more instances of `flavor` with disks `disks_gb`.
pub fn check_quota(tx: &mut Tx<'_>, n: u64, flavor: &Flavor, disks_gb: &[u32]) -> Result<(), ApiError> {
    let (inst, vcpu, ram, vols, gb) = usage(tx)?;
    let cat = &tx.config.catalog;
    let more_gb: u64 = disks_gb.iter().map(|g| u64::from(*g)).sum::<u64>() * n;
    let checks = [
        ("instance", inst + n),
        ("vcpu", vcpu + n * u64::from(flavor.vcpus)),
        ("ram", ram + n * flavor.ram),
        ("volume", vols + n * disks_gb.len() as u64),
        ("gigabyte", gb + more_gb),
    ];
    for (k, want) in checks {
        if want > cat.quota(k) {
            return Err(Code::E010910.msg(&[&format!("{k} quota {} exceeded", cat.quota(k))]));
        }
    }
    Ok(())
}

// ---- create ------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct CreateBody {
    server: CreateServer,
}

#[derive(Deserialize)]
struct CreateServer {
    name: String,
    #[serde(default)]
    with_prefix: Option<bool>,
    #[serde(default)]
    image_ref: Option<String>,
    flavor_ref: String,
    #[serde(default)]
    admin_pass: Option<String>,
    #[serde(default)]
    key_name: Option<String>,
    net_config: NetConfig,
    #[serde(default)]
    bandwidth: Option<Bandwidth>,
    root_volume: VolumeSpec,
    #[serde(default)]
    data_volumes: Vec<VolumeSpec>,
    count: i64,
    #[serde(default)]
    security_groups: Vec<IdRef>,
    #[serde(default)]
    user_data: Option<String>,
    coverage: Coverage,
}

#[derive(Deserialize)]
struct NetConfig {
    vpc_id: String,
    subnets: Vec<IdRef>,
}

/// `{"id": ...}` references (security groups, subnets, servers, NICs).
#[derive(Debug, Deserialize, Serialize, Clone)]
pub struct IdRef {
    /// The id (optional for security groups, where absent means the default group).
    #[serde(default)]
    pub id: Option<String>,
}

/// Bandwidth request (`sharetype` must be `WHOLE`).
#[derive(Debug, Deserialize, Serialize, Clone)]
pub struct Bandwidth {
    /// Share type.
    pub sharetype: String,
    /// Size in Mbit/s.
    #[serde(default)]
    pub size: Option<i64>,
}

/// Disk request.
#[derive(Debug, Deserialize, Clone, Serialize)]
pub struct VolumeSpec {
    /// Size in GB.
    pub size: i64,
    /// Disk type.
    pub volume_type: String,
}

#[derive(Deserialize)]
struct Coverage {
    coverage_policy: String,
    coverage_level: String,
    coverage_sites: Vec<CoverageSite>,
}

#[derive(Deserialize)]
struct CoverageSite {
    site: String,
    demands: Vec<Demand>,
}

#[derive(Deserialize, Default)]
struct Demand {
    #[serde(default)]
    pool_id: Option<String>,
    #[serde(default)]
    pool_ids: Option<Vec<String>>,
}

/// Validates disks: system 40..100 GB, at most 2 data disks of 1..500 GB, types offered at the site.
pub fn check_volumes(
    site: &Site,
    root: &VolumeSpec,
    data: &[VolumeSpec],
    err: impl Fn(String) -> ApiError,
) -> Result<(), ApiError> {
    if !(40..=100).contains(&root.size) {
        return Err(err("root_volume.size must be within 40..100".into()));
    }
    if data.len() > 2 {
        return Err(err("at most 2 data_volumes are allowed".into()));
    }
    if let Some(d) = data.iter().find(|d| !(1..=500).contains(&d.size)) {
        return Err(err(format!("data_volumes size {} must be within 1..500", d.size)));
    }
    for v in std::iter::once(root).chain(data) {
        if !site.volume_types.contains(&v.volume_type) {
            return Err(err(format!(
                "volume_type {} is not offered at site {}",
                v.volume_type, site.id
            )));
        }
    }
    Ok(())
}

/// Builds an instance name: `IEC-<site code>-<name>` with the prefix, then `-NNNN` when numbered.
pub fn instance_name(site: &Site, name: &str, with_prefix: bool, number: Option<u64>) -> String {
    let mut s = if with_prefix {
        format!("IEC-{}-{name}", site.code)
    } else {
        name.to_string()
    };
    if let Some(n) = number {
        s.push_str(&format!("-{n:04}"));
    }
    s
}

async fn create(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<CreateBody>,
) -> Result<Response, ApiError> {
    let s = body.server;
    if !valid_name(&s.name, 1, 48, &['-', '_']) {
        return Err(Code::E010401.msg(&["48"]));
    }
    if s.count <= 0 {
        return Err(Code::E010700.err());
    }
    if s.count > 50 {
        return Err(bad_field("server.count", "must be within 1..50"));
    }
    let cov = &s.coverage;
    if cov.coverage_policy != "centralize" || cov.coverage_level != "site" {
        return Err(Code::E010800.msg(&[
            "instances can only be created with coverage_policy centralize and coverage_level site",
        ]));
    }
    let [site_req] = cov.coverage_sites.as_slice() else {
        return Err(Code::E010800.msg(&["exactly one coverage site is required"]));
    };
    let demand = match site_req.demands.as_slice() {
        [d] => d,
        _ => return Err(Code::E010800.msg(&["demands must contain exactly one element"])),
    };
    let image_ref = s
        .image_ref
        .clone()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| Code::E010641.err())?;
    if let Some(pw) = &s.admin_pass
        && !valid_admin_pass(pw)
    {
        return Err(bad_field(
            "server.admin_pass",
            "8-26 characters with at least 3 character classes",
        ));
    }
    if let Some(b) = &s.bandwidth
        && (b.sharetype != "WHOLE" || b.size.is_some_and(|x| x <= 0))
    {
        return Err(bad_field(
            "server.bandwidth",
            "sharetype must be WHOLE and size positive",
        ));
    }
    if s.net_config.subnets.is_empty() || s.net_config.subnets.len() > 8 {
        return Err(bad_field(
            "server.net_config.subnets",
            "1..8 subnets are required",
        ));
    }
    let count = s.count as u64;
    app.tx(&p, |tx| {
        let cat = tx.config.catalog.clone();
        let site = cat.site(&site_req.site).ok_or_else(|| Code::E020403.err())?;
        if matches!(site.status.as_str(), "Offline" | "sellout") {
            return Err(Code::E011018.err());
        }
        let flavor = cat
            .flavor(&s.flavor_ref)
            .filter(|_| cat.site_has_flavor(site, &s.flavor_ref));
        let flavor = flavor.ok_or_else(|| Code::E010603.err())?;
        if !image_exists(tx, &image_ref) {
            return Err(Code::E010641.err());
        }
        check_volumes(site, &s.root_volume, &s.data_volumes, |m| bad_field("server", &m))?;
        let vpc = crate::iec::vpc::get_vpc(tx, &s.net_config.vpc_id)?;
        let mut subnets = Vec::new();
        for sref in &s.net_config.subnets {
            let sid = sref.id.clone().unwrap_or_default();
            let sub = tx
                .store
                .get_json(kinds::SUBNET, &sid)
                .ok_or_else(|| Code::E020003.err())?;
            if sub.get("vpc_id").and_then(Value::as_str) != Some(vpc.id.as_str()) {
                return Err(bad_field(
                    "server.net_config.subnets",
                    &format!("subnet {sid} is not in vpc {}", vpc.id),
                ));
            }
            if sub
                .get("site_id")
                .and_then(Value::as_str)
                .is_some_and(|x| x != site.id)
            {
                return Err(bad_field(
                    "server.net_config.subnets",
                    &format!("subnet {sid} is not at site {}", site.id),
                ));
            }
            let cidr = sub
                .get("cidr")
                .and_then(Value::as_str)
                .and_then(|c| c.parse::<Ipv4Cidr>().ok())
                .ok_or_else(|| Code::E020013.err())?;
            subnets.push((sid, cidr));
        }
        let mut sgs = Vec::new();
        for g in &s.security_groups {
            if let Some(id) = g.id.as_deref().filter(|i| !i.is_empty()) {
                if tx.store.get_json(kinds::SECURITY_GROUP, id).is_none() {
                    return Err(Code::E020204.err());
                }
                sgs.push(id.to_string());
            }
        }
        let key_name = s.key_name.clone().unwrap_or_default();
        if !key_name.is_empty() && tx.store.get_json(kinds::KEYPAIR, &key_name).is_none() {
            return Err(Code::E010220.msg(&[&key_name]));
        }
        let pools: Vec<String> = match (&demand.pool_ids, &demand.pool_id) {
            (Some(ids), _) if !ids.is_empty() => ids.clone(),
            (_, Some(p)) if !p.is_empty() => vec![p.clone()],
            _ => site
                .pools
                .first()
                .map(|p| vec![p.pool_id.clone()])
                .unwrap_or_default(),
        };
        if let Some(bad) = pools
            .iter()
            .find(|p| !site.pools.iter().any(|x| &x.pool_id == *p))
        {
            return Err(Code::E020713.detail(format!("public ip no available pool id: {bad}")));
        }
        if pools.len() > subnets.len() {
            return Err(bad_field("coverage.demands.pool_ids", "more line ids than NICs"));
        }
        if tx.faults.site_exhausted(&site.id) || site_load(tx, &site.id)? + count > site.capacity_instances {
            return Err(Code::E011018.err());
        }
        let mut disks = vec![s.root_volume.size as u32];
        disks.extend(s.data_volumes.iter().map(|d| d.size as u32));
        check_quota(tx, count, flavor, &disks)?;
        let operator = site
            .pools
            .iter()
            .find(|p| pools.first() == Some(&p.pool_id))
            .map(|p| p.operator.name.clone())
            .unwrap_or_default();
        let reservation = Shared::from(format!("r-{}", &ids::job_id()[..8]));
        let (site_id, flavor_id) = (Shared::from(&site.id), Shared::from(&flavor.id));
        let (image_id, key_name, vpc_id) = (
            Shared::from(image_ref.clone()),
            Shared::from(key_name),
            Shared::from(&vpc.id),
        );
        let user_data = Shared::from(s.user_data.clone().unwrap_or_default());
        let operator = Shared::from(operator);
        let subnets: Vec<(Shared, Ipv4Cidr, Shared)> = subnets
            .into_iter()
            .map(|(id, c)| (Shared::from(id), c, Shared::from(c.to_string())))
            .collect();
        let sgs: Vec<Shared> = sgs.into_iter().map(Shared::from).collect();
        let root = (
            s.root_volume.size as u32,
            Shared::from(&s.root_volume.volume_type),
        );
        let data: Vec<(u32, Shared)> = s
            .data_volumes
            .iter()
            .map(|d| (d.size as u32, Shared::from(&d.volume_type)))
            .collect();
        let mut created = Vec::new();
        for i in 0..count {
            let number = (count > 1).then_some(i + 1);
            let fail = tx.rng.chance(tx.faults.instance_failure_rate);
            let spec = NewInstance {
                name: instance_name(site, &s.name, s.with_prefix.unwrap_or(true), number),
                site,
                site_id: site_id.clone(),
                flavor,
                flavor_id: flavor_id.clone(),
                image_id: image_id.clone(),
                key_name: key_name.clone(),
                user_data: user_data.clone(),
                vpc_id: vpc_id.clone(),
                subnets: subnets.clone(),
                security_groups: sgs.clone(),
                root: root.clone(),
                data: data.clone(),
                edgecloud: None,
                eip_pools: if s.bandwidth.is_some() {
                    pools.clone()
                } else {
                    vec![]
                },
                operator: operator.clone(),
                launch_index: i as u32,
                reservation_id: reservation.clone(),
                fail,
            };
            match provision(tx, spec) {
                Ok(id) => created.push(id),
                Err(e) => {
                    for id in &created {
                        destroy(tx.store, id)?;
                    }
                    return Err(e);
                }
            }
        }
        Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({"job_id": ids::job_id(), "server_ids": created})),
        )
            .into_response())
    })
}

// ---- list / show / update ----------------------------------------------------------------------

const STATUS_FILTERS: &[&str] = &[
    "ACTIVE",
    "BUILD",
    "DELETED",
    "ERROR",
    "HARD_REBOOT",
    "MIGRATING",
    "PAUSED",
    "REBOOT",
    "REBUILD",
    "RESIZE",
    "REVERT_RESIZE",
    "SHUTOFF",
    "SHELVED",
    "SHELVED_OFFLOADED",
    "SOFT_DELETED",
    "SUSPENDED",
    "VERIFY_RESIZE",
];

fn status_matches(filter: &str, status: &str) -> bool {
    match filter {
        "ACTIVE" => matches!(
            status,
            "ACTIVE" | "REBOOT" | "HARD_REBOOT" | "REBUILD" | "MIGRATING"
        ),
        "SHUTOFF" => matches!(status, "SHUTOFF" | "RESIZE" | "REBUILD"),
        "ERROR" => matches!(status, "ERROR" | "REBUILD" | "FAILED"),
        "VERIFY_RESIZE" => matches!(status, "VERIFY_RESIZE" | "REVERT_RESIZE"),
        other => other == status,
    }
}

async fn list(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(
        &q,
        PageRule {
            default_limit: 25,
            max_limit: 1000,
            offset: OffsetKind::Pages,
        },
    )?;
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let cat = tx.config.catalog.clone();
        let status = q.get("status");
        if status.is_some_and(|s| !STATUS_FILTERS.contains(&s)) {
            return Ok(axum::Json(json!({"err_sites": [], "count": 0, "servers": []})).into_response());
        }
        let (id, name, ec, site_id) = (
            q.get("id"),
            q.get("name"),
            q.get("edgecloud_id"),
            q.get("site_id"),
        );
        let (area, province, city) = (q.get("area"), q.get("province"), q.get("city"));
        let geo_ok = |i: &Instance| {
            if area.is_none() && province.is_none() && city.is_none() {
                return true;
            }
            let Some(s) = cat.site(&i.site_id) else {
                return false;
            };
            area.is_none_or(|a| s.area.eq_ignore_ascii_case(a))
                && province.is_none_or(|a| s.province.eq_ignore_ascii_case(a))
                && city.is_none_or(|a| s.city.eq_ignore_ascii_case(a))
        };
        let (count, items): (usize, Vec<Instance>) = {
            let t = tx.store.table::<Instance>()?;
            let it = t.iter_visible(now).filter(|i| {
                id.is_none_or(|x| i.id == x)
                    && name.is_none_or(|x| i.name == x)
                    && ec.is_none_or(|x| i.edgecloud_id == x)
                    && site_id.is_none_or(|x| i.site_id == x)
                    && status.is_none_or(|x| status_matches(x, &i.status))
                    && geo_ok(i)
            });
            let (c, v) = pg.apply(it);
            (c, v.into_iter().cloned().collect())
        };
        let servers: Vec<Value> = items.iter().map(|i| render(i, tx)).collect();
        Ok(axum::Json(json!({"err_sites": [], "count": count, "servers": servers})).into_response())
    })
}

async fn show(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let inst = get_instance(tx, &id)?;
        Ok(axum::Json(json!({"server": render(&inst, tx)})).into_response())
    })
}

#[derive(Deserialize)]
struct UpdateBody {
    server: UpdateServer,
}

#[derive(Deserialize)]
struct UpdateServer {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

async fn update(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateBody>,
) -> Result<Response, ApiError> {
    let u = body.server;
    if let Some(n) = &u.name
        && !valid_name(n, 1, 64, &['-', '_', '.'])
    {
        return Err(Code::E010401.msg(&["64"]));
    }
    if let Some(d) = &u.description
        && !valid_description(d, 85)
    {
        return Err(Code::E010410.msg(&["85", "description"]));
    }
    app.tx(&p, |tx| {
        let mut inst = get_instance(tx, &id)?;
        if !is_stable(&inst.status) {
            return Err(Code::E010406.msg(&[&inst.id, &inst.status, &inst.vm_state]));
        }
        if let Some(n) = u.name {
            inst.name = n;
        }
        if let Some(d) = u.description {
            inst.description = d;
        }
        inst.updated_ms = tx.now_ms;
        tx.store.table::<Instance>()?.insert(inst.clone());
        // The doc's update response is the Instance object at top level (not wrapped).
        Ok(axum::Json(render(&inst, tx)).into_response())
    })
}

// ---- batch delete / actions --------------------------------------------------------------------

#[derive(Deserialize)]
struct ServersBody {
    servers: Vec<IdRef>,
}

fn server_ids(refs: &[IdRef]) -> Result<Vec<String>, ApiError> {
    if refs.is_empty() {
        return Err(bad_field("servers", "at least one server is required"));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in refs {
        let id =
            r.id.clone()
                .filter(|i| !i.is_empty())
                .ok_or_else(|| bad_field("servers.id", "required"))?;
        if seen.insert(id.clone()) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Marks instances deleted (→ `DELETED`, then gone after `instance_delete`). Instances still in
/// `BUILD` → 400 `IEC.010203`; unknown ids → 404 `IEC.010200`; nothing changes on error.
pub fn delete_instances(tx: &mut Tx<'_>, ids: &[String]) -> Result<(), ApiError> {
    let now = tx.now_ms;
    {
        let t = tx.store.table::<Instance>()?;
        for id in ids {
            let inst = t.get_visible(id, now).ok_or_else(|| Code::E010200.err())?;
            if inst.status == "BUILD" {
                return Err(Code::E010203.msg(&[id]));
            }
        }
    }
    let delay = tx.delay_ms("instance_delete", 1000);
    for id in ids {
        if let Some(inst) = tx.store.table::<Instance>()?.get_mut(id) {
            if inst.status == "DELETED" {
                continue;
            }
            inst.status = "DELETED".into();
            inst.vm_state = "deleted".into();
            inst.task_state = "deleting".into();
            inst.power_state = 0;
            inst.updated_ms = now;
        }
        // deletion completes even under the `stuck` fault (only builds get stuck)
        tx.store.schedule(now + delay, kinds::INSTANCE, id, "gone");
    }
    Ok(())
}

async fn batch_delete(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<ServersBody>,
) -> Result<Response, ApiError> {
    let ids = server_ids(&body.servers)?;
    app.tx(&p, |tx| {
        delete_instances(tx, &ids)?;
        Ok((StatusCode::ACCEPTED, axum::Json(json!({"job_id": ids::job_id()}))).into_response())
    })
}

#[derive(Deserialize)]
struct ActionArgs {
    #[serde(default)]
    servers: Vec<IdRef>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

async fn action(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let Value::Object(map) = body else {
        return Err(Code::E000010.err());
    };
    let mut keys = map.keys();
    let (Some(key), None) = (keys.next(), keys.next()) else {
        let all: Vec<&str> = map.keys().map(String::as_str).collect();
        return Err(Code::E010210.msg(&[&all.join(",")]));
    };
    if !matches!(key.as_str(), "os-start" | "os-stop" | "reboot") {
        return Err(Code::E010210.msg(&[key]));
    }
    let args: ActionArgs = serde_json::from_value(map.get(key).cloned().unwrap_or(Value::Null))
        .map_err(|e| Code::E000007.msg(&[&e.to_string()]))?;
    let ids = server_ids(&args.servers)?;
    let hard = match (key.as_str(), args.kind.as_deref()) {
        (_, None) if key == "reboot" => return Err(bad_field("reboot.type", "SOFT or HARD is required")),
        (_, None | Some("SOFT")) => false,
        (_, Some("HARD")) => true,
        (_, Some(_)) => return Err(bad_field(&format!("{key}.type"), "must be SOFT or HARD")),
    };
    let key = key.clone();
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        {
            let t = tx.store.table::<Instance>()?;
            for id in &ids {
                let inst = t.get_visible(id, now).ok_or_else(|| Code::E010200.err())?;
                if !is_stable(&inst.status) {
                    return Err(Code::E010406.msg(&[&inst.id, &inst.status, &inst.vm_state]));
                }
            }
        }
        let power = tx.delay_ms("instance_power", 1000);
        let reboot = tx.delay_ms("instance_reboot", 1000);
        for id in &ids {
            let Some(inst) = tx.store.table::<Instance>()?.get_mut(id) else {
                continue;
            };
            let (task, status, delay, next) = match (key.as_str(), inst.status.as_ref()) {
                ("os-start", "SHUTOFF") => ("powering-on", "SHUTOFF", power, "started"),
                ("os-stop", "ACTIVE") => ("powering-off", "ACTIVE", power, "stopped"),
                ("reboot", "ACTIVE") => (
                    "rebooting",
                    if hard { "HARD_REBOOT" } else { "REBOOT" },
                    reboot,
                    "rebooted",
                ),
                // starting a running / stopping a stopped instance is accepted and changes nothing
                _ => continue,
            };
            inst.task_state = task.into();
            inst.status = status.into();
            inst.updated_ms = now;
            tx.schedule_in(delay, kinds::INSTANCE, id, next);
        }
        Ok(axum::Json(json!({"jobs": [{"job_id": ids::job_id()}]})).into_response())
    })
}

// ---- change OS / NICs --------------------------------------------------------------------------

#[derive(Deserialize)]
struct ChangeOs {
    image_id: String,
    #[serde(default)]
    metadata: Option<ChangeOsMetadata>,
    #[serde(default)]
    key_name: Option<String>,
}

#[derive(Deserialize)]
struct ChangeOsMetadata {
    #[serde(default)]
    user_data: Option<String>,
}

async fn change_os(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let req: ChangeOs = crate::core::extract::parse_json(&body).map_err(|_| Code::E010224.err())?;
    if !is_uuid(&req.image_id) {
        return Err(Code::E010223.msg(&[&req.image_id]));
    }
    if let Some(k) = &req.key_name
        && (k.is_empty() || k.chars().count() > 64)
    {
        return Err(Code::E010224.err());
    }
    app.tx(&p, |tx| {
        let mut inst = get_instance(tx, &id)?;
        if !matches!(inst.status.as_ref(), "SHUTOFF" | "FAILED")
            || !inst.task_state.is_empty() && inst.status != "FAILED"
        {
            return Err(Code::E010222.err());
        }
        if inst.volume_ids.is_empty() {
            return Err(Code::E010222.err());
        }
        if !image_exists(tx, &req.image_id) {
            return Err(Code::E010641.err());
        }
        if let Some(k) = &req.key_name {
            if tx.store.get_json(kinds::KEYPAIR, k).is_none() {
                return Err(Code::E010220.msg(&[k]));
            }
            tx.store
                .remove_ref(kinds::KEYPAIR, &inst.key_name, kinds::INSTANCE, &id);
            tx.store.add_ref(kinds::KEYPAIR, k, kinds::INSTANCE, &id);
            inst.key_name = k.clone().into();
        }
        if let Some(ud) = req.metadata.and_then(|m| m.user_data) {
            inst.user_data = ud.into();
        }
        inst.image_id = req.image_id.into();
        inst.status = "REBUILD".into();
        inst.task_state = "rebuilding".into();
        inst.vm_state = "stopped".into();
        inst.updated_ms = tx.now_ms;
        tx.store.table::<Instance>()?.insert(inst);
        let delay = tx.delay_ms("instance_change_os", 2000);
        tx.schedule_in(delay, kinds::INSTANCE, &id, "rebuilt");
        Ok(axum::Json(json!({"job_id": ids::job_id()})).into_response())
    })
}

#[derive(Deserialize)]
struct AddNics {
    vpc_id: String,
    security_groups: Vec<IdRef>,
    #[serde(default)]
    subnet_id: Option<String>,
    nic_num: i64,
}

async fn add_nics(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(req): Json<AddNics>,
) -> Result<Response, ApiError> {
    if req.nic_num < 1 {
        return Err(bad_field("nic_num", "must be at least 1"));
    }
    app.tx(&p, |tx| {
        let mut inst = get_instance(tx, &id)?;
        if !is_stable(&inst.status) {
            return Err(Code::E010406.msg(&[&inst.id, &inst.status, &inst.vm_state]));
        }
        if inst.nics.len() as i64 + req.nic_num > 8 {
            return Err(bad_field("nic_num", "an instance has at most 8 NICs"));
        }
        let vpc = crate::iec::vpc::get_vpc(tx, &req.vpc_id)?;
        if inst.vpc_id != vpc.id {
            return Err(bad_field("vpc_id", "must be the instance's VPC"));
        }
        let mut sgs = Vec::new();
        for g in &req.security_groups {
            let gid = g.id.clone().unwrap_or_default();
            if tx.store.get_json(kinds::SECURITY_GROUP, &gid).is_none() {
                return Err(Code::E020204.err());
            }
            sgs.push(gid);
        }
        let (subnet_id, cidr) = match req.subnet_id.as_deref().filter(|s| !s.is_empty()) {
            Some(sid) => {
                let sub = tx
                    .store
                    .get_json(kinds::SUBNET, sid)
                    .ok_or_else(|| Code::E020003.err())?;
                if sub.get("vpc_id").and_then(Value::as_str) != Some(vpc.id.as_str()) {
                    return Err(bad_field("subnet_id", "subnet is not in the VPC"));
                }
                let cidr = sub
                    .get("cidr")
                    .and_then(Value::as_str)
                    .and_then(|c| c.parse().ok());
                (Shared::from(sid), cidr.ok_or_else(|| Code::E020013.err())?)
            }
            None if vpc.mode == "CUSTOMER" => {
                return Err(bad_field("subnet_id", "required for CUSTOMER VPCs"));
            }
            None => match inst.nics.first() {
                Some(n) => (
                    n.subnet_id.clone(),
                    n.cidr.parse().map_err(|_| Code::E020013.err())?,
                ),
                None => return Err(Code::E020013.err()),
            },
        };
        for _ in 0..req.nic_num {
            let ip = tx
                .store
                .allocate_ip(&subnet_id, cidr, None)
                .map_err(|e| match e {
                    IpError::Exhausted => Code::E020617.err(),
                    _ => Code::E020616.err(),
                })?;
            let salt = tx.store.next_counter("iec.mac");
            inst.nics.push(Nic {
                port_id: ids::resource_id(),
                subnet_id: subnet_id.clone(),
                cidr: Shared::from(cidr.to_string()),
                ip: ip.to_string(),
                mac: mac_for(ip, salt),
                eip: None,
            });
        }
        tx.store.add_ref(kinds::SUBNET, &subnet_id, kinds::INSTANCE, &id);
        for g in &sgs {
            tx.store.add_ref(kinds::SECURITY_GROUP, g, kinds::INSTANCE, &id);
            if !inst.security_groups.iter().any(|x| x == g) {
                inst.security_groups.push(g.clone().into());
            }
        }
        inst.updated_ms = tx.now_ms;
        tx.store.table::<Instance>()?.insert(inst);
        Ok(axum::Json(json!({"job_id": ids::job_id()})).into_response())
    })
}

#[derive(Deserialize)]
struct DeleteNics {
    nics: Vec<IdRef>,
}

async fn delete_nics(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(req): Json<DeleteNics>,
) -> Result<Response, ApiError> {
    let ports = server_ids(&req.nics).map_err(|_| bad_field("nics", "at least one NIC id is required"))?;
    app.tx(&p, |tx| {
        let mut inst = get_instance(tx, &id)?;
        if !is_stable(&inst.status) {
            return Err(Code::E010406.msg(&[&inst.id, &inst.status, &inst.vm_state]));
        }
        for port in &ports {
            if !inst.nics.iter().any(|n| &n.port_id == port) {
                return Err(Code::E020611.err());
            }
        }
        if inst.nics.first().is_some_and(|n| ports.contains(&n.port_id)) {
            return Err(bad_field("nics", "the primary NIC cannot be deleted"));
        }
        let removed: Vec<Nic> = inst
            .nics
            .iter()
            .filter(|n| ports.contains(&n.port_id))
            .cloned()
            .collect();
        inst.nics.retain(|n| !ports.contains(&n.port_id));
        for n in &removed {
            if let Ok(ip) = n.ip.parse() {
                tx.store.release_ip(&n.subnet_id, ip);
            }
            if !inst.nics.iter().any(|x| x.subnet_id == n.subnet_id) {
                tx.store
                    .remove_ref(kinds::SUBNET, &n.subnet_id, kinds::INSTANCE, &id);
            }
        }
        inst.updated_ms = tx.now_ms;
        tx.store.table::<Instance>()?.insert(inst);
        Ok(axum::Json(json!({"job_id": ids::job_id()})).into_response())
    })
}

fn register(store: &mut Store) -> Result<(), StateError> {
    store.register::<Instance>()?;
    store.register::<Volume>()
}

/// The instance family.
pub fn family() -> Family {
    Family {
        name: "instances",
        routes: || {
            Router::new()
                .route("/v1/cloudservers", get(list).post(create))
                .route("/v1/cloudservers/delete", post(batch_delete))
                .route("/v1/cloudservers/action", post(action))
                .route("/v1/cloudservers/{server_id}", get(show).put(update))
                .route("/v1/cloudservers/{server_id}/change-os", post(change_os))
                .route("/v1/cloudservers/{server_id}/nics", post(add_nics))
                .route("/v1/cloudservers/{server_id}/nics/delete", post(delete_nics))
        },
        register,
        timers: &[(kinds::INSTANCE, on_timer)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_pass_rules() {
        assert!(valid_admin_pass("NOVAGLANCEI@123"));
        assert!(valid_admin_pass("Abcdefg1"));
        assert!(!valid_admin_pass("abcdefgh"));
        assert!(!valid_admin_pass("Ab1"));
        assert!(!valid_admin_pass("Root@12345"));
        assert!(!valid_admin_pass("Abc 12345"));
        assert!(!valid_admin_pass(&"Ab1!".repeat(7)));
    }

    #[test]
    fn status_filter_mapping() {
        assert!(status_matches("ACTIVE", "REBOOT"));
        assert!(status_matches("SHUTOFF", "REBUILD"));
        assert!(!status_matches("ACTIVE", "SHUTOFF"));
        assert!(status_matches("BUILD", "BUILD"));
    }

    #[test]
    fn system_subnets_fit_the_vpc() {
        let vpc = Vpc {
            id: "v".into(),
            name: "n".into(),
            cidr: "192.168.0.0/16".into(),
            mode: "SYSTEM".into(),
        };
        let (_, c0) = system_subnet(&vpc, 0).unwrap();
        let (_, c1) = system_subnet(&vpc, 1).unwrap();
        assert_eq!(c0.to_string(), "192.168.0.0/20");
        assert_eq!(c1.to_string(), "192.168.16.0/20");
        let small = Vpc {
            cidr: "10.0.0.0/24".into(),
            ..vpc
        };
        assert_eq!(system_subnet(&small, 3).unwrap().1.to_string(), "10.0.0.48/28");
    }
}
