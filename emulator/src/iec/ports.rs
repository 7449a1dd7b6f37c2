//! Ports (digest §2.9): `GET/POST /v1/ports`, `GET/PUT/DELETE /v1/ports/{port_id}`,
//! `POST /v1/vports/{vport_id}/bandwidth/attach` and `.../detach`. Synchronous.
//!
//! Two kinds of port are served:
//! * **virtual IPs** created here (`device_owner` must be `neutron:VIP_PORT`), stored as [`Port`]
//!   records; each references its subnet (`add_ref(kinds::SUBNET, subnet, kinds::PORT, id)`, so
//!   deleting the subnet answers 400 `IEC.020009`) and its security groups;
//! * **instance NICs**, read from the instance records (never copied): `device_owner`
//!   `compute:<availability zone>`, `device_id` = instance id, status from the instance (`BUILD`,
//!   `ACTIVE`, or `DOWN` when shut off/failed). Their `allowed_address_pairs` and IPv6 bandwidth
//!   live in a [`NicExtra`] record keyed by port id; updating their `security_groups` changes the
//!   instance's security groups (one list per instance in the compute model).
//!
//! Ids that are not UUIDs → 400 `IEC.020609`; unknown ids → 404 `IEC.020607`. Create: `network_id`
//! must be a subnet's `neutron_network_id` (404 `IEC.020003`), at most one `fixed_ips` entry, a
//! requested address must be an IP address (400 `IEC.020608`), inside the subnet (400 `IEC.020618`) and
//! free (400 `IEC.020616`); exhaustion is 400 `IEC.020617`. Update takes only
//! `allowed_address_pairs` (`0.0.0.0/0` or a bad address → 400 `IEC.020608`; a VIP's pair
//! addresses must be NIC addresses of instances in its subnet, or `1.1.1.1/0`; an omitted MAC is
//! filled with the port's own) and `security_groups` (unknown → 404 `IEC.020204`). Delete works on
//! virtual IPs only (an instance NIC → 400 `IEC.020606`), is refused while a bandwidth is attached
//! (400 `IEC.020612`), and disassociates a bound EIP (Neutron behaviour; the doc is silent).
//! IPv6 virtual IPs: on a subnet with IPv6 enabled, `fixed_ips` naming the subnet's
//! `neutron_subnet_id_v6` or an IPv6 `ip_address` gives the port an address of the subnet's `/64`
//! (see `allocate_v6`). Bandwidth attach needs an IPv6 port (400 `IEC.020613`), a known bandwidth
//! (404 `IEC.020811`) and no bandwidth yet (400 `IEC.020612`); detach without one is 400
//! `IEC.020614`.
//! The list takes an item offset, limit 0..1000 (default 1000) and the doc's filters, including the
//! repeated `fixed_ips=ip_address=..`/`fixed_ips=subnet_id=..`; NICs come first (instance order),
//! then virtual IPs (creation order).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::cloud::Family;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::net::Ipv4Cidr;
use crate::core::paging::{PageRule, QueryParams};
use crate::core::state::{IpError, Record, StateError, Store};
use crate::iec::catalog::Catalog;
use crate::iec::common::{Json, bad_field, bad_query, page};
use crate::iec::errors::Code;
use crate::iec::instances::Instance;
use crate::iec::kinds;
use crate::iec::netutil::check_id;
use crate::iec::subnets::{Subnet, get_subnet, ipv6_prefix};

/// The only `device_owner` a client may create.
pub const VIP_OWNER: &str = "neutron:VIP_PORT";

/// An allowed address pair.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AddressPair {
    /// IP address or CIDR.
    pub ip_address: String,
    /// MAC address (the port's own when the client omitted it).
    pub mac_address: String,
}

/// A stored virtual-IP port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Port {
    /// Port id.
    pub id: String,
    /// Name (empty: the create API takes none).
    #[serde(default)]
    pub name: String,
    /// `DOWN` (virtual IPs are never attached to a device here).
    pub status: String,
    /// The subnet's Neutron network id.
    pub network_id: String,
    /// The subnet id.
    pub subnet_id: String,
    /// The fixed address (IPv4; IPv6 only when seeded).
    pub ip_address: String,
    /// MAC address.
    pub mac_address: String,
    /// Security group ids.
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// Allowed address pairs.
    #[serde(default)]
    pub allowed_address_pairs: Vec<AddressPair>,
    /// Site of the subnet.
    pub site_id: String,
    /// Attached (IPv6) bandwidth id, empty when none.
    #[serde(default)]
    pub ipv6_bandwidth_id: String,
}

impl Record for Port {
    const KIND: &'static str = kinds::PORT;
    fn id(&self) -> &str {
        &self.id
    }
}

/// Port-level settings of an instance NIC (keyed by the NIC's port id).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NicExtra {
    /// The NIC's port id.
    pub id: String,
    /// Allowed address pairs.
    #[serde(default)]
    pub allowed_address_pairs: Vec<AddressPair>,
    /// Attached (IPv6) bandwidth id.
    #[serde(default)]
    pub ipv6_bandwidth_id: String,
}

impl Record for NicExtra {
    const KIND: &'static str = kinds::PORT_NIC;
    fn id(&self) -> &str {
        &self.id
    }
}

/// One port as the API shows it, whichever kind it is.
#[derive(Debug, Clone, PartialEq)]
pub struct PortView {
    /// Port id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `ACTIVE`, `BUILD` or `DOWN`.
    pub status: String,
    /// Network id.
    pub network_id: String,
    /// Subnet id.
    pub subnet_id: String,
    /// Fixed address.
    pub ip_address: String,
    /// MAC address.
    pub mac_address: String,
    /// Instance id for NICs, empty for virtual IPs.
    pub device_id: String,
    /// `neutron:VIP_PORT` or `compute:<az>`.
    pub device_owner: String,
    /// Security group ids.
    pub security_groups: Vec<String>,
    /// Allowed address pairs.
    pub allowed_address_pairs: Vec<AddressPair>,
    /// Site id.
    pub site_id: String,
    /// Attached bandwidth.
    pub ipv6_bandwidth_id: String,
}

impl PortView {
    /// True for a virtual IP (a [`Port`] record).
    pub fn is_vip(&self) -> bool {
        self.device_owner == VIP_OWNER
    }

    /// The doc's Port object.
    pub fn render(&self) -> Value {
        json!({
            "id": self.id, "name": self.name, "status": self.status, "admin_state_up": true,
            "fixed_ips": [{"subnet_id": self.subnet_id, "ip_address": self.ip_address}],
            "mac_address": self.mac_address, "network_id": self.network_id,
            "device_id": self.device_id, "device_owner": self.device_owner,
            "security_groups": self.security_groups, "extra_dhcp_opts": [],
            "allowed_address_pairs": self.allowed_address_pairs, "site_id": self.site_id,
            "dns_assignment": [], "dns_name": "", "ipv6_bandwidth_id": self.ipv6_bandwidth_id,
            "binding:profile": {},
        })
    }
}

fn vip_view(p: &Port) -> PortView {
    PortView {
        id: p.id.clone(),
        name: p.name.clone(),
        status: p.status.clone(),
        network_id: p.network_id.clone(),
        subnet_id: p.subnet_id.clone(),
        ip_address: p.ip_address.clone(),
        mac_address: p.mac_address.clone(),
        device_id: String::new(),
        device_owner: VIP_OWNER.into(),
        security_groups: p.security_groups.clone(),
        allowed_address_pairs: p.allowed_address_pairs.clone(),
        site_id: p.site_id.clone(),
        ipv6_bandwidth_id: p.ipv6_bandwidth_id.clone(),
    }
}

fn nic_status(instance_status: &str) -> &'static str {
    match instance_status {
        "BUILD" => "BUILD",
        "SHUTOFF" | "FAILED" | "DELETED" | "ERROR" => "DOWN",
        _ => "ACTIVE",
    }
}

fn nic_views(
    inst: &Instance,
    extras: Option<&crate::core::state::Table<NicExtra>>,
    catalog: &Catalog,
) -> Vec<PortView> {
    let az = catalog
        .site(&inst.site_id)
        .map(|s| s.availability_zone.clone())
        .unwrap_or_default();
    inst.nics
        .iter()
        .map(|n| {
            let extra = extras.and_then(|t| t.get(&n.port_id));
            PortView {
                id: n.port_id.clone(),
                name: String::new(),
                status: nic_status(&inst.status).into(),
                network_id: n.subnet_id.to_string(),
                subnet_id: n.subnet_id.to_string(),
                ip_address: n.ip.clone(),
                mac_address: n.mac.clone(),
                device_id: inst.id.clone(),
                device_owner: format!("compute:{az}"),
                security_groups: inst.security_groups.iter().map(|s| s.to_string()).collect(),
                allowed_address_pairs: extra.map(|e| e.allowed_address_pairs.clone()).unwrap_or_default(),
                site_id: inst.site_id.to_string(),
                ipv6_bandwidth_id: extra.map(|e| e.ipv6_bandwidth_id.clone()).unwrap_or_default(),
            }
        })
        .collect()
}

fn load_tables(store: &mut Store) -> Result<(), StateError> {
    store.table::<Instance>()?;
    store.table::<NicExtra>()?;
    store.table::<Port>()?;
    Ok(())
}

/// Every port visible at `now`: instance NICs (instance order), then virtual IPs.
pub fn all_ports(store: &mut Store, now: u64, catalog: &Catalog) -> Result<Vec<PortView>, StateError> {
    load_tables(store)?;
    let extras = store.peek::<NicExtra>();
    let mut out = Vec::new();
    if let Some(insts) = store.peek::<Instance>() {
        for inst in insts.iter_visible(now) {
            out.extend(nic_views(inst, extras, catalog));
        }
    }
    if let Some(vips) = store.peek::<Port>() {
        out.extend(vips.iter_visible(now).map(vip_view));
    }
    Ok(out)
}

/// The port with this id (virtual IP or instance NIC) visible at `now`, if any.
pub fn find_port(
    store: &mut Store,
    now: u64,
    catalog: &Catalog,
    id: &str,
) -> Result<Option<PortView>, StateError> {
    load_tables(store)?;
    if let Some(p) = store.peek::<Port>().and_then(|t| t.get_visible(id, now)) {
        return Ok(Some(vip_view(p)));
    }
    let extras = store.peek::<NicExtra>();
    let found = store.peek::<Instance>().and_then(|insts| {
        insts
            .iter_visible(now)
            .find(|i| i.nics.iter().any(|n| n.port_id == id))
            .and_then(|inst| nic_views(inst, extras, catalog).into_iter().find(|v| v.id == id))
    });
    Ok(found)
}

/// True when the NIC `port_id` of instance `instance_id` still exists (cheap check used by EIPs).
pub fn nic_exists(store: &mut Store, instance_id: &str, port_id: &str) -> Result<bool, StateError> {
    Ok(store
        .table::<Instance>()?
        .get(instance_id)
        .is_some_and(|i| i.nics.iter().any(|n| n.port_id == port_id)))
}

/// The port with this id, checking its format (400 `IEC.020609`) and existence (404 `IEC.020607`).
pub fn get_port(tx: &mut Tx<'_>, id: &str) -> Result<PortView, ApiError> {
    check_id(id, Code::E020609)?;
    let now = tx.now_ms;
    find_port(tx.store, now, &tx.config.catalog, id)?.ok_or_else(|| Code::E020607.err())
}

fn ip_error(e: IpError) -> ApiError {
    match e {
        IpError::InUse => Code::E020616.err(),
        IpError::OutOfRange => Code::E020618.err(),
        IpError::Exhausted => Code::E020617.err(),
    }
}

/// An IPv6 address of an IPv6-enabled subnet's `/64`: the requested one (outside the prefix, the
/// network address or not IPv6-enabled → 400 `IEC.020618`; the gateway `::1` or taken → 400
/// `IEC.020616`) or the next free one.
fn allocate_v6(tx: &mut Tx<'_>, subnet: &Subnet, requested: Option<Ipv6Addr>) -> Result<Ipv6Addr, ApiError> {
    if !subnet.ipv6_enable {
        return Err(Code::E020618.err());
    }
    let prefix = ipv6_prefix(&subnet.id);
    let host = |n: u64| {
        let h = n.to_be_bytes();
        let w = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        Ipv6Addr::new(prefix[0], prefix[1], prefix[2], prefix[3], w(0), w(2), w(4), w(6))
    };
    let taken: Vec<String> = tx
        .store
        .table::<Port>()?
        .iter()
        .filter(|p| p.subnet_id == subnet.id)
        .map(|p| p.ip_address.clone())
        .collect();
    let used = |a: &Ipv6Addr| taken.iter().any(|t| t.parse::<Ipv6Addr>().is_ok_and(|x| x == *a));
    if let Some(a) = requested {
        if a.segments()[..4] != prefix || a == host(0) {
            return Err(Code::E020618.err());
        }
        if a == host(1) || used(&a) {
            return Err(Code::E020616.err());
        }
        return Ok(a);
    }
    for _ in 0..10_000 {
        let n = tx
            .store
            .next_counter(&format!("iec.v6:{}", subnet.id))
            .saturating_add(1);
        let a = host(n);
        if !used(&a) {
            return Ok(a);
        }
    }
    Err(Code::E020617.err())
}

#[derive(Deserialize)]
struct CreateBody {
    port: CreatePort,
}

#[derive(Deserialize)]
struct CreatePort {
    device_owner: String,
    network_id: String,
    #[serde(default)]
    fixed_ips: Option<Vec<FixedIpOption>>,
}

#[derive(Deserialize)]
struct FixedIpOption {
    #[serde(default)]
    subnet_id: Option<String>,
    #[serde(default)]
    ip_address: Option<String>,
}

#[derive(Deserialize)]
struct UpdateBody {
    port: UpdatePort,
}

#[derive(Deserialize)]
struct UpdatePort {
    #[serde(default)]
    allowed_address_pairs: Option<Vec<PairOption>>,
    #[serde(default)]
    security_groups: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct PairOption {
    ip_address: String,
    #[serde(default)]
    mac_address: Option<String>,
}

#[derive(Deserialize)]
struct AttachBody {
    bandwidth_id: String,
}

fn valid_mac(m: &str) -> bool {
    let parts: Vec<&str> = m.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A pair address: an IPv4/IPv6 address or CIDR, never `0.0.0.0/0`.
fn pair_address_ok(a: &str) -> bool {
    if a == "0.0.0.0/0" {
        return false;
    }
    a.parse::<IpAddr>().is_ok()
        || a.parse::<Ipv4Cidr>().is_ok()
        || a.split_once('/').is_some_and(|(ip, p)| {
            ip.parse::<std::net::Ipv6Addr>().is_ok() && p.parse::<u8>().is_ok_and(|p| p <= 128)
        })
}

async fn list(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(&q, PageRule::ITEMS_1000)?;
    let admin = q.get_bool("admin_state_up", bad_query)?;
    if let Some(s) = q.get("status")
        && !matches!(s, "ACTIVE" | "BUILD" | "DOWN")
    {
        return Err(bad_query("status"));
    }
    let mut want_ips = Vec::new();
    let mut want_subnets = Vec::new();
    for f in q.get_all("fixed_ips") {
        match f.split_once('=') {
            Some(("ip_address", v)) => want_ips.push(v.to_string()),
            Some(("subnet_id", v)) => want_subnets.push(v.to_string()),
            _ => return Err(bad_query("fixed_ips")),
        }
    }
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let ports = all_ports(tx.store, now, &tx.config.catalog)?;
        let eq = |key: &str, v: &str| q.get(key).is_none_or(|x| x == v);
        let items = ports.iter().filter(|v| {
            admin != Some(false)
                && eq("id", &v.id)
                && eq("device_id", &v.device_id)
                && eq("device_owner", &v.device_owner)
                && eq("mac_address", &v.mac_address)
                && eq("name", &v.name)
                && eq("network_id", &v.network_id)
                && eq("status", &v.status)
                && q.get("security_groups")
                    .is_none_or(|g| v.security_groups.iter().any(|s| s == g))
                && want_ips.iter().all(|ip| *ip == v.ip_address)
                && want_subnets.iter().all(|s| *s == v.subnet_id)
        });
        let (count, items) = pg.apply(items);
        let ports: Vec<Value> = items.into_iter().map(PortView::render).collect();
        Ok(axum::Json(json!({"ports": ports, "count": count})).into_response())
    })
}

async fn create(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<CreateBody>,
) -> Result<Response, ApiError> {
    let c = body.port;
    if c.device_owner != VIP_OWNER {
        return Err(bad_field(
            "port.device_owner",
            "only neutron:VIP_PORT is supported",
        ));
    }
    if c.network_id.is_empty() || c.network_id.chars().count() > 36 {
        return Err(bad_field("port.network_id", "1-36 characters required"));
    }
    let fixed = c.fixed_ips.unwrap_or_default();
    if fixed.len() > 1 {
        return Err(bad_field("port.fixed_ips", "at most one fixed IP"));
    }
    let requested: Option<IpAddr> = match fixed.first().and_then(|f| f.ip_address.as_deref()) {
        Some(ip) if !ip.is_empty() => Some(ip.parse().map_err(|_| Code::E020608.err())?),
        _ => None,
    };
    app.tx(&p, |tx| {
        let subnet = get_subnet(tx, &c.network_id)?;
        let sid = fixed
            .first()
            .and_then(|f| f.subnet_id.as_deref())
            .filter(|s| !s.is_empty());
        let v6_subnet = subnet.neutron_subnet_id_v6.as_deref();
        if let Some(sid) = sid
            && sid != subnet.id
            && Some(sid) != v6_subnet
        {
            return Err(bad_field(
                "port.fixed_ips[0].subnet_id",
                "must be the subnet of network_id",
            ));
        }
        let wants_v6 = matches!(requested, Some(IpAddr::V6(_))) || (sid.is_some() && sid == v6_subnet);
        let ip = match (wants_v6, requested) {
            (true, Some(IpAddr::V4(_))) => return Err(Code::E020618.err()),
            (true, Some(IpAddr::V6(v6))) => allocate_v6(tx, &subnet, Some(v6))?.to_string(),
            (true, None) => allocate_v6(tx, &subnet, None)?.to_string(),
            (false, requested) => {
                let requested = match requested {
                    Some(IpAddr::V4(v4)) => Some(v4),
                    _ => None,
                };
                let cidr: Ipv4Cidr = subnet
                    .cidr
                    .parse()
                    .map_err(|_| Code::E020603.detail("create port failed: the subnet cidr is unusable"))?;
                if requested.is_some_and(|ip| ip.to_string() == subnet.gateway_ip) {
                    return Err(Code::E020616.err());
                }
                tx.store
                    .allocate_ip(&subnet.id, cidr, requested)
                    .map_err(ip_error)?
                    .to_string()
            }
        };
        let n = tx.store.next_counter("iec.vip_mac");
        let mac = format!(
            "fa:16:3f:{:02x}:{:02x}:{:02x}",
            (n >> 16) as u8,
            (n >> 8) as u8,
            n as u8
        );
        let port = Port {
            id: crate::core::ids::resource_id(),
            name: String::new(),
            status: "DOWN".into(),
            network_id: subnet.neutron_network_id.clone(),
            subnet_id: subnet.id.clone(),
            ip_address: ip,
            mac_address: mac,
            security_groups: vec![],
            allowed_address_pairs: vec![],
            site_id: subnet.site_id.clone(),
            ipv6_bandwidth_id: String::new(),
        };
        tx.store.add_ref(kinds::SUBNET, &subnet.id, kinds::PORT, &port.id);
        tx.insert_new(port.clone())?;
        Ok(axum::Json(json!({"port": vip_view(&port).render()})).into_response())
    })
}

async fn show(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let port = get_port(tx, &id)?;
        Ok(axum::Json(json!({"port": port.render()})).into_response())
    })
}

/// Validates new pairs for `port` and fills omitted MACs.
fn resolve_pairs(
    tx: &mut Tx<'_>,
    port: &PortView,
    pairs: Vec<PairOption>,
) -> Result<Vec<AddressPair>, ApiError> {
    let mut out = Vec::new();
    for pr in pairs {
        if !pair_address_ok(&pr.ip_address) {
            return Err(Code::E020608.detail(format!(
                "ip address is illegal: allowed_address_pairs.ip_address {:?}",
                pr.ip_address
            )));
        }
        let mac = match pr.mac_address {
            Some(m) if !m.is_empty() => {
                if !valid_mac(&m) {
                    return Err(bad_field(
                        "port.allowed_address_pairs.mac_address",
                        "must be a MAC address",
                    ));
                }
                m
            }
            _ => port.mac_address.clone(),
        };
        out.push(AddressPair {
            ip_address: pr.ip_address,
            mac_address: mac,
        });
    }
    if port.is_vip() {
        let now = tx.now_ms;
        let nics = all_ports(tx.store, now, &tx.config.catalog)?;
        for pr in &out {
            let backend = pr.ip_address == "1.1.1.1/0"
                || nics
                    .iter()
                    .any(|n| !n.is_vip() && n.subnet_id == port.subnet_id && n.ip_address == pr.ip_address);
            if !backend {
                return Err(Code::E020608.detail(format!(
                    "ip address is illegal: {} is not the address of an instance NIC in the subnet of the virtual IP",
                    pr.ip_address
                )));
            }
        }
    }
    Ok(out)
}

fn check_groups(tx: &mut Tx<'_>, groups: &[String]) -> Result<(), ApiError> {
    for g in groups {
        if tx.store.get_json(kinds::SECURITY_GROUP, g).is_none() {
            return Err(Code::E020204.err());
        }
    }
    Ok(())
}

async fn update(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateBody>,
) -> Result<Response, ApiError> {
    let u = body.port;
    app.tx(&p, |tx| {
        let port = get_port(tx, &id)?;
        let pairs = match u.allowed_address_pairs {
            Some(prs) => Some(resolve_pairs(tx, &port, prs)?),
            None => None,
        };
        if let Some(g) = &u.security_groups {
            check_groups(tx, g)?;
        }
        if port.is_vip() {
            let table = tx.store.table::<Port>()?;
            let Some(rec) = table.get_mut(&id) else {
                return Err(Code::E020607.err());
            };
            if let Some(prs) = pairs {
                rec.allowed_address_pairs = prs;
            }
            let old = match &u.security_groups {
                Some(g) => std::mem::replace(&mut rec.security_groups, g.clone()),
                None => vec![],
            };
            if let Some(g) = &u.security_groups {
                for o in old {
                    tx.store.remove_ref(kinds::SECURITY_GROUP, &o, kinds::PORT, &id);
                }
                for n in g {
                    tx.store.add_ref(kinds::SECURITY_GROUP, n, kinds::PORT, &id);
                }
            }
        } else {
            if let Some(prs) = pairs {
                let t = tx.store.table::<NicExtra>()?;
                let mut extra = t.get(&id).cloned().unwrap_or(NicExtra {
                    id: id.clone(),
                    allowed_address_pairs: vec![],
                    ipv6_bandwidth_id: String::new(),
                });
                extra.allowed_address_pairs = prs;
                t.insert(extra);
            }
            if let Some(g) = &u.security_groups {
                set_instance_groups(tx, &port.device_id, g)?;
            }
        }
        let port = get_port(tx, &id)?;
        Ok(axum::Json(json!({"port": port.render()})).into_response())
    })
}

/// Replaces an instance's security groups (a NIC port update) and its references.
fn set_instance_groups(tx: &mut Tx<'_>, instance_id: &str, groups: &[String]) -> Result<(), ApiError> {
    let table = tx.store.table::<Instance>()?;
    let Some(inst) = table.get_mut(instance_id) else {
        return Err(Code::E020607.err());
    };
    let old: Vec<String> = inst.security_groups.iter().map(|s| s.to_string()).collect();
    inst.security_groups = groups.iter().map(|g| g.as_str().into()).collect();
    for o in old.iter().filter(|o| !groups.contains(o)) {
        tx.store
            .remove_ref(kinds::SECURITY_GROUP, o, kinds::INSTANCE, instance_id);
    }
    for g in groups {
        tx.store
            .add_ref(kinds::SECURITY_GROUP, g, kinds::INSTANCE, instance_id);
    }
    Ok(())
}

async fn delete(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let port = get_port(tx, &id)?;
        if !port.is_vip() {
            return Err(Code::E020606.detail(
                "delete port failed: the port is an instance NIC; remove it with POST /v1/cloudservers/{id}/nics/delete",
            ));
        }
        if !port.ipv6_bandwidth_id.is_empty() {
            return Err(Code::E020612.err());
        }
        crate::iec::publicips::unbind_port(tx, &id)?;
        if let Ok(ip) = port.ip_address.parse::<Ipv4Addr>() {
            tx.store.release_ip(&port.subnet_id, ip);
        }
        tx.store
            .remove_ref(kinds::SUBNET, &port.subnet_id, kinds::PORT, &id);
        for g in &port.security_groups {
            tx.store.remove_ref(kinds::SECURITY_GROUP, g, kinds::PORT, &id);
        }
        tx.store.remove_refs_of(kinds::PORT, &id);
        tx.store.table::<Port>()?.remove(&id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// Sets a port's attached bandwidth (`None` = detach).
fn set_port_bandwidth(tx: &mut Tx<'_>, port: &PortView, bandwidth: Option<&str>) -> Result<(), ApiError> {
    let value = bandwidth.unwrap_or_default().to_string();
    if port.is_vip() {
        if let Some(rec) = tx.store.table::<Port>()?.get_mut(&port.id) {
            rec.ipv6_bandwidth_id = value;
        }
    } else {
        let t = tx.store.table::<NicExtra>()?;
        let mut extra = t.get(&port.id).cloned().unwrap_or(NicExtra {
            id: port.id.clone(),
            allowed_address_pairs: vec![],
            ipv6_bandwidth_id: String::new(),
        });
        extra.ipv6_bandwidth_id = value;
        t.insert(extra);
    }
    match bandwidth {
        Some(b) => tx.store.add_ref(kinds::BANDWIDTH, b, kinds::PORT, &port.id),
        None => tx
            .store
            .remove_ref(kinds::BANDWIDTH, &port.ipv6_bandwidth_id, kinds::PORT, &port.id),
    }
    Ok(())
}

async fn attach(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<AttachBody>,
) -> Result<Response, ApiError> {
    if body.bandwidth_id.chars().count() > 36 {
        return Err(bad_field("bandwidth_id", "at most 36 characters"));
    }
    app.tx(&p, |tx| {
        let port = get_port(tx, &id)?;
        if port.ip_address.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(Code::E020613.err());
        }
        if !port.ipv6_bandwidth_id.is_empty() {
            return Err(Code::E020612.err());
        }
        crate::iec::bandwidths::get_bandwidth(tx, &body.bandwidth_id)?;
        set_port_bandwidth(tx, &port, Some(&body.bandwidth_id))?;
        Ok(
            axum::Json(json!({"vport": {"port_id": port.id, "ipv6_bandwidth_id": body.bandwidth_id}}))
                .into_response(),
        )
    })
}

async fn detach(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let port = get_port(tx, &id)?;
        if port.ipv6_bandwidth_id.is_empty() {
            return Err(Code::E020614.err());
        }
        set_port_bandwidth(tx, &port, None)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

fn register(store: &mut Store) -> Result<(), StateError> {
    store.register::<Port>()?;
    store.register::<NicExtra>()
}

/// The ports family.
pub fn family() -> Family {
    Family {
        name: "ports",
        routes: || {
            Router::new()
                .route("/v1/ports", get(list).post(create))
                .route("/v1/ports/{port_id}", get(show).put(update).delete(delete))
                .route("/v1/vports/{vport_id}/bandwidth/attach", post(attach))
                .route("/v1/vports/{vport_id}/bandwidth/detach", post(detach))
        },
        register,
        timers: &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_and_mac_rules() {
        assert!(pair_address_ok("1.1.1.1/0"));
        assert!(pair_address_ok("10.0.0.5"));
        assert!(pair_address_ok("10.0.0.0/24"));
        assert!(pair_address_ok("2407:c080::1"));
        assert!(!pair_address_ok("0.0.0.0/0"));
        assert!(!pair_address_ok("nope"));
        assert!(valid_mac("fa:16:3e:00:aa:ff"));
        assert!(!valid_mac("fa:16:3e:00:aa"));
        assert_eq!(nic_status("SHUTOFF"), "DOWN");
        assert_eq!(nic_status("REBOOT"), "ACTIVE");
    }
}
