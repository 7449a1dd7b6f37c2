//! Subnets (digest §2.8): `GET/POST /v1/subnets`, `GET/PUT/DELETE /v1/subnets/{subnet_id}`.
//! Synchronous; a new subnet is `ACTIVE` at once (the doc allows an immediate transition). Subnets
//! belong to one VPC and one catalog site (unknown site → 400 `IEC.020403`; unknown VPC → 404
//! `IEC.020104`; SYSTEM VPCs take no manual subnets → 400 `IEC.020107`). The cidr must parse, have a
//! mask of at most /28 and lie inside the VPC cidr, and the gateway must lie inside the subnet
//! (400 `IEC.020013`); a cidr overlapping another subnet of the VPC is 409 `IEC.020007`; the
//! `subnet` quota is enforced (400 `IEC.020401`). Every subnet references its VPC in the store's
//! reference index (`add_ref(kinds::VPC, vpc_id, kinds::SUBNET, id)`), which drives the VPC's
//! `subnet_num` and its delete check. Delete is refused while an instance (400 `IEC.020008`) or a
//! virtual IP port (400 `IEC.020009`) uses the subnet, or while a network ACL is associated with
//! it (400 `IEC.020008`). Update changes only `name`, `dhcp_enable`
//! and the DNS servers and enables IPv6 (`ipv6_enable: true` with `pool_id`, an IPv6 line of the
//! subnet's site — 400 `IEC.000007` without it, 400 `IEC.020012` if it is not one; the subnet gets a
//! `/64` `cidr_v6`, `gateway_ip_v6` and `neutron_subnet_id_v6`; disabling it again is 400
//! `IEC.020409`) and answers the doc's reduced object. Lists use an item offset, limit 0..1000 (default 1000) and filter by exact
//! `vpc_id` and `site_id`.

use std::net::Ipv4Addr;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::core::app::{AppState, Tx};
use crate::core::cloud::Family;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::net::Ipv4Cidr;
use crate::core::paging::{PageRule, QueryParams};
use crate::core::state::{Record, Store};
use crate::iec::common::{Json, bad_field, page, valid_name};
use crate::iec::errors::Code;
use crate::iec::kinds;
use crate::iec::vpc::get_vpc;

/// A stored subnet, in the doc's Subnet form (the IPv6 keys are omitted until IPv6 is enabled).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Subnet {
    /// Subnet id (also its Neutron network and subnet id).
    pub id: String,
    /// Name.
    pub name: String,
    /// CIDR as given.
    pub cidr: String,
    /// All DNS servers (a superset of the primary and secondary ones).
    #[serde(rename = "dnsList")]
    pub dns_list: Vec<String>,
    /// Gateway address inside the cidr.
    pub gateway_ip: String,
    /// Whether DHCP hands out addresses.
    pub dhcp_enable: bool,
    /// Primary DNS server.
    pub primary_dns: Option<String>,
    /// Secondary DNS server.
    pub secondary_dns: Option<String>,
    /// `ACTIVE`, `UNKNOWN` or `ERROR`.
    pub status: String,
    /// Owning VPC.
    pub vpc_id: String,
    /// Catalog site.
    pub site_id: String,
    /// `country/area/province/city` of the site.
    pub site_info: String,
    /// Neutron network id (equals `id`).
    pub neutron_network_id: String,
    /// Neutron subnet id (equals `id`).
    pub neutron_subnet_id: String,
    /// Whether IPv6 is enabled (it cannot be disabled again).
    pub ipv6_enable: bool,
    /// IPv6 cidr (a /64) once IPv6 is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_v6: Option<String>,
    /// IPv6 line id once IPv6 is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_id: Option<String>,
    /// Neutron IPv6 subnet id once IPv6 is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neutron_subnet_id_v6: Option<String>,
    /// IPv6 gateway (`<prefix>::1`) once IPv6 is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_ip_v6: Option<String>,
}

impl Record for Subnet {
    const KIND: &'static str = kinds::SUBNET;
    fn id(&self) -> &str {
        &self.id
    }
}

const NAME_EXTRA: &[char] = &['_', '-', '.'];

#[derive(Deserialize)]
struct CreateBody {
    subnet: CreateSubnet,
}

#[derive(Deserialize)]
struct CreateSubnet {
    name: String,
    cidr: String,
    gateway_ip: String,
    #[serde(default)]
    dhcp_enable: Option<bool>,
    #[serde(default)]
    primary_dns: Option<String>,
    #[serde(default)]
    secondary_dns: Option<String>,
    #[serde(default, rename = "dnsList", alias = "dns_list")]
    dns_list: Option<Vec<String>>,
    vpc_id: String,
    site_id: String,
}

#[derive(Deserialize, Default)]
struct UpdateBody {
    #[serde(default)]
    subnet: Option<UpdateSubnet>,
}

#[derive(Deserialize, Default)]
struct UpdateSubnet {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    dhcp_enable: Option<bool>,
    #[serde(default)]
    primary_dns: Option<String>,
    #[serde(default)]
    secondary_dns: Option<String>,
    #[serde(default, rename = "dnsList", alias = "dns_list")]
    dns_list: Option<Vec<String>>,
    #[serde(default)]
    ipv6_enable: Option<bool>,
    #[serde(default)]
    pool_id: Option<String>,
}

/// Parses a subnet cidr: valid CIDR text with a mask of at most /28, else 400 `IEC.020013`.
fn parse_cidr(cidr: &str) -> Result<Ipv4Cidr, ApiError> {
    cidr.parse::<Ipv4Cidr>()
        .ok()
        .filter(|c| c.prefix <= 28)
        .ok_or_else(|| Code::E020013.detail("cidr is invalid: a CIDR with a mask of at most 28 is required"))
}

fn check_dns(field: &str, value: Option<&str>) -> Result<(), ApiError> {
    match value {
        Some(v) if v.parse::<Ipv4Addr>().is_err() => Err(bad_field(field, "must be an IPv4 address")),
        _ => Ok(()),
    }
}

/// Validates the DNS settings and returns the effective `dnsList`.
fn resolve_dns(
    primary: Option<&str>,
    secondary: Option<&str>,
    list: Option<&[String]>,
) -> Result<Vec<String>, ApiError> {
    check_dns("subnet.primary_dns", primary)?;
    check_dns("subnet.secondary_dns", secondary)?;
    match list {
        Some(list) => {
            for d in list {
                check_dns("subnet.dnsList", Some(d))?;
            }
            for d in [primary, secondary].into_iter().flatten() {
                if !list.iter().any(|x| x == d) {
                    return Err(bad_field(
                        "subnet.dnsList",
                        "must contain primary_dns and secondary_dns",
                    ));
                }
            }
            Ok(list.to_vec())
        }
        None => Ok([primary, secondary]
            .into_iter()
            .flatten()
            .map(str::to_string)
            .collect()),
    }
}

/// The `/64` given to a subnet when IPv6 is enabled: `2407:c080:<a>:<b>::/64`, derived from its id.
pub fn ipv6_prefix(subnet_id: &str) -> [u16; 4] {
    let h = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, subnet_id.as_bytes());
    let b = h.as_bytes();
    [
        0x2407,
        0xc080,
        u16::from_be_bytes([b[0], b[1]]),
        u16::from_be_bytes([b[2], b[3]]),
    ]
}

/// Enables IPv6 on `subnet` with the IPv6 line `pool_id` of its site (400 `IEC.000007` when the
/// line is missing, 400 `IEC.020012` when it is not an IPv6 line of the site).
fn enable_ipv6(tx: &mut Tx<'_>, subnet: &mut Subnet, pool_id: Option<&str>) -> Result<(), ApiError> {
    let pool = pool_id
        .filter(|p| !p.is_empty())
        .ok_or_else(|| bad_field("subnet.pool_id", "required when ipv6_enable is true"))?;
    let is_v6_line = tx
        .config
        .catalog
        .site(&subnet.site_id)
        .is_some_and(|s| s.pools.iter().any(|p| p.pool_id == pool && p.ip_version == "6"));
    if !is_v6_line {
        return Err(Code::E020012.detail(format!(
            "subnet enable ipv6 failed: {pool} is not an IPv6 line of site {}",
            subnet.site_id
        )));
    }
    let [a, b, c, d] = ipv6_prefix(&subnet.id);
    subnet.ipv6_enable = true;
    subnet.cidr_v6 = Some(format!("{a:x}:{b:x}:{c:x}:{d:x}::/64"));
    subnet.gateway_ip_v6 = Some(format!("{a:x}:{b:x}:{c:x}:{d:x}::1"));
    subnet.pool_id = Some(pool.to_string());
    subnet.neutron_subnet_id_v6 = Some(
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("{}/v6", subnet.id).as_bytes()).to_string(),
    );
    Ok(())
}

/// The subnet with this id, visible to the caller, or 404 `IEC.020003`.
pub fn get_subnet(tx: &mut Tx<'_>, id: &str) -> Result<Subnet, ApiError> {
    let now = tx.now_ms;
    tx.store
        .table::<Subnet>()?
        .get_visible(id, now)
        .cloned()
        .ok_or_else(|| Code::E020003.err())
}

async fn list(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(&q, PageRule::ITEMS_1000)?;
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let vpc_id = q.get("vpc_id");
        let site_id = q.get("site_id");
        let t = tx.store.table::<Subnet>()?;
        let items = t
            .iter_visible(now)
            .filter(|s| vpc_id.is_none_or(|x| s.vpc_id == x) && site_id.is_none_or(|x| s.site_id == x));
        let (count, items) = pg.apply(items);
        Ok(axum::Json(json!({"count": count, "subnets": items})).into_response())
    })
}

async fn create(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<CreateBody>,
) -> Result<Response, ApiError> {
    let s = body.subnet;
    if !valid_name(&s.name, 1, 64, NAME_EXTRA) {
        return Err(bad_field(
            "subnet.name",
            "1-64 characters: letters, digits, Chinese, '_', '-', '.'",
        ));
    }
    let cidr = parse_cidr(&s.cidr)?;
    let gateway_ok = s
        .gateway_ip
        .parse::<Ipv4Addr>()
        .is_ok_and(|g| cidr.contains_ip(g));
    if !gateway_ok {
        return Err(Code::E020013.detail("gateway_ip is invalid: it must be an address in the subnet cidr"));
    }
    let dns_list = resolve_dns(
        s.primary_dns.as_deref(),
        s.secondary_dns.as_deref(),
        s.dns_list.as_deref(),
    )?;
    app.tx(&p, |tx| {
        let site = tx
            .config
            .catalog
            .site(&s.site_id)
            .ok_or_else(|| Code::E020403.err())?;
        let site_info = format!("{}/{}/{}/{}", site.country, site.area, site.province, site.city);
        let vpc = get_vpc(tx, &s.vpc_id)?;
        if vpc.mode == "SYSTEM" {
            return Err(Code::E020107.err());
        }
        let inside = vpc.cidr.parse::<Ipv4Cidr>().is_ok_and(|vc| vc.contains(&cidr));
        if !inside {
            return Err(Code::E020013.detail("cidr is invalid: it must lie inside the vpc cidr"));
        }
        let quota = tx.config.catalog.quota("subnet");
        let table = tx.store.table::<Subnet>()?;
        let overlaps = table
            .iter()
            .any(|o| o.vpc_id == vpc.id && o.cidr.parse::<Ipv4Cidr>().is_ok_and(|oc| oc.overlaps(&cidr)));
        if overlaps {
            return Err(Code::E020007.err());
        }
        if table.len() as u64 >= quota {
            return Err(Code::E020401.err());
        }
        let id = crate::core::ids::resource_id();
        let subnet = Subnet {
            id: id.clone(),
            name: s.name,
            cidr: s.cidr,
            dns_list,
            gateway_ip: s.gateway_ip,
            dhcp_enable: s.dhcp_enable.unwrap_or(true),
            primary_dns: s.primary_dns,
            secondary_dns: s.secondary_dns,
            status: "ACTIVE".into(),
            vpc_id: vpc.id.clone(),
            site_id: s.site_id,
            site_info,
            neutron_network_id: id.clone(),
            neutron_subnet_id: id.clone(),
            ipv6_enable: false,
            cidr_v6: None,
            pool_id: None,
            neutron_subnet_id_v6: None,
            gateway_ip_v6: None,
        };
        tx.insert_new(subnet.clone())?;
        tx.store.add_ref(kinds::VPC, &vpc.id, kinds::SUBNET, &id);
        Ok(axum::Json(json!({"subnet": subnet})).into_response())
    })
}

async fn show(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let subnet = get_subnet(tx, &id)?;
        Ok(axum::Json(json!({"subnet": subnet})).into_response())
    })
}

async fn update(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateBody>,
) -> Result<Response, ApiError> {
    let upd = body.subnet.unwrap_or_default();
    if let Some(n) = upd.name.as_deref()
        && !n.is_empty()
        && !valid_name(n, 1, 64, NAME_EXTRA)
    {
        return Err(bad_field(
            "subnet.name",
            "0-64 characters: letters, digits, Chinese, '_', '-', '.'",
        ));
    }
    app.tx(&p, |tx| {
        let mut subnet = get_subnet(tx, &id)?;
        if let Some(n) = upd.name.as_deref().filter(|n| !n.is_empty()) {
            subnet.name = n.to_string();
        }
        if let Some(d) = upd.dhcp_enable {
            subnet.dhcp_enable = d;
        }
        match upd.ipv6_enable {
            Some(false) if subnet.ipv6_enable => return Err(Code::E020409.err()),
            Some(true) if !subnet.ipv6_enable => enable_ipv6(tx, &mut subnet, upd.pool_id.as_deref())?,
            _ => {}
        }
        let dns_touched = upd.primary_dns.is_some() || upd.secondary_dns.is_some() || upd.dns_list.is_some();
        if dns_touched {
            let primary = upd.primary_dns.clone().or_else(|| subnet.primary_dns.clone());
            let secondary = upd.secondary_dns.clone().or_else(|| subnet.secondary_dns.clone());
            let list = match upd.dns_list.as_deref() {
                Some(l) => resolve_dns(primary.as_deref(), secondary.as_deref(), Some(l))?,
                None => {
                    // Keep extra servers of the old list, replacing the old primary/secondary.
                    let mut l: Vec<String> = [primary.clone(), secondary.clone()]
                        .into_iter()
                        .flatten()
                        .collect();
                    for d in &subnet.dns_list {
                        let old = [&subnet.primary_dns, &subnet.secondary_dns];
                        if !old.iter().any(|o| o.as_deref() == Some(d.as_str())) && !l.contains(d) {
                            l.push(d.clone());
                        }
                    }
                    resolve_dns(primary.as_deref(), secondary.as_deref(), Some(&l))?
                }
            };
            subnet.primary_dns = primary;
            subnet.secondary_dns = secondary;
            subnet.dns_list = list;
        }
        tx.store.table::<Subnet>()?.insert(subnet.clone());
        Ok(axum::Json(json!({"subnet": {
            "id": subnet.id, "status": subnet.status, "ipv6_enable": subnet.ipv6_enable,
            "neutron_subnet_id_v6": subnet.neutron_subnet_id_v6.clone().unwrap_or_default(),
        }}))
        .into_response())
    })
}

async fn delete(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let subnet = get_subnet(tx, &id)?;
        if tx.store.is_referenced_by(kinds::SUBNET, &id, kinds::INSTANCE) {
            return Err(Code::E020008.err());
        }
        if tx.store.is_referenced_by(kinds::SUBNET, &id, kinds::PORT) {
            return Err(Code::E020009.err());
        }
        if crate::iec::firewalls::subnet_has_firewall(tx.store, &id) {
            return Err(Code::E020008
                .detail("subnet is still used ,such as computer,LB: it is associated with a network ACL"));
        }
        tx.store
            .remove_ref(kinds::VPC, &subnet.vpc_id, kinds::SUBNET, &id);
        tx.store.remove_refs_of(kinds::SUBNET, &id);
        tx.store.table::<Subnet>()?.remove(&id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

fn register(store: &mut Store) -> Result<(), crate::core::state::StateError> {
    store.register::<Subnet>()
}

/// The subnets family.
pub fn family() -> Family {
    Family {
        name: "subnets",
        routes: || {
            Router::new()
                .route("/v1/subnets", get(list).post(create))
                .route("/v1/subnets/{subnet_id}", get(show).put(update).delete(delete))
        },
        register,
        timers: &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_and_dns_rules() {
        assert!(parse_cidr("10.0.1.0/24").is_ok());
        assert!(parse_cidr("10.1.0.0/8").is_ok());
        assert!(parse_cidr("10.0.1.0/28").is_ok());
        assert!(parse_cidr("10.0.1.0/29").is_err());
        assert!(parse_cidr("nope").is_err());
        let both = resolve_dns(Some("8.8.8.8"), Some("1.1.1.1"), None).unwrap();
        assert_eq!(both, vec!["8.8.8.8", "1.1.1.1"]);
        assert!(resolve_dns(Some("8.8.8.8"), None, Some(&["1.1.1.1".to_string()])).is_err());
        assert!(resolve_dns(Some("x"), None, None).is_err());
        assert!(resolve_dns(None, None, None).unwrap().is_empty());
    }
}
