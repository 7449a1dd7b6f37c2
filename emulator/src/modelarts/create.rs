//! Validation of a DevServer create body (HW-SDK `ServerCreateRequest`, seed 002) against the rules the
//! SDK models document and the [`ModelArtsCatalog`]: every failure is 400 `ModelArts.0104` naming the
//! wire field. The result is a [`Plan`]: what the servers will be, and how they are billed.
//!
//! Order of the checks (the first failure answers): name, flavor / resource_flavor, image, network,
//! login (admin_pass / key_pair_name), arch, server_type (+ hps_cluster_id), availability_zone, count,
//! enterprise_project_id, root_volume, data_volume, user data (`user_data` or `userdata`), charging_info.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::core::error::ApiError;
use crate::modelarts::catalog::{Flavor, Image, ModelArtsCatalog};
use crate::modelarts::errors::param;

/// Largest user data, before base64 encoding: 32 KiB.
pub const USER_DATA_MAX: usize = 32 * 1024;

/// A disk of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Disk {
    /// GiB.
    pub size: u32,
    /// EVS type.
    pub evs_type: String,
}

/// How a create is billed.
#[derive(Debug, Clone, PartialEq)]
pub enum Billing {
    /// Pay per use (also `COMMON` and no `charging_info`).
    PostPaid,
    /// Yearly/monthly through a BSS order.
    PrePaid {
        /// `ABSOLUTE`, `DAY`, `HOUR`, `MONTH`, `WEEK` or `YEAR`.
        period_type: String,
        /// 1–11.
        period_num: u32,
        /// Pay the order at once.
        auto_pay: bool,
        /// Renew at expiry.
        auto_renew: bool,
    },
}

/// A validated create request.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Server name (suffixed `-1..N` when `count > 1`).
    pub name: String,
    /// The flavor, and whether it was given as `resource_flavor`.
    pub flavor: Flavor,
    /// True when the request named `resource_flavor` (else `flavor`).
    pub resource_flavor: bool,
    /// The image.
    pub image: Image,
    /// Network ids.
    pub vpc_id: String,
    /// Subnet id.
    pub subnet_id: String,
    /// The subnet's CIDR.
    pub cidr: String,
    /// The one security group.
    pub security_group_id: String,
    /// Key pair login, if any.
    pub key_pair_name: Option<String>,
    /// Zone (the flavor's first offering zone when not given).
    pub availability_zone: String,
    /// Servers to create.
    pub count: u32,
    /// Enterprise project.
    pub enterprise_project_id: Option<String>,
    /// System disk.
    pub root_volume: Disk,
    /// Data disks.
    pub data_volumes: Vec<Disk>,
    /// Base64 user data.
    pub user_data: Option<String>,
    /// Billing.
    pub billing: Billing,
}

const VOLUME_TYPES: &[&str] = &["ESSD", "GPSSD", "SAS", "SATA", "SSD"];
const PERIOD_TYPES: &[&str] = &["ABSOLUTE", "DAY", "HOUR", "MONTH", "WEEK", "YEAR"];
const PASSWORD_SPECIALS: &str = "!@%-_=+[{}]:,./?";

/// True for `^[-_.a-zA-Z0-9]{1,max}$`.
pub fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.chars().count() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// True for a dashed UUID (36 characters, 8-4-4-4-12 hex).
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok() && s.as_bytes()[8] == b'-'
}

/// A typed view of one JSON object of the body, naming fields by their wire path.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    prefix: &'static str,
}

impl<'a> Obj<'a> {
    fn path(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn present(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn str(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(param(&self.path(key), "must be a string")),
        }
    }

    fn required_str(&self, key: &str) -> Result<&'a str, ApiError> {
        self.str(key)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| param(&self.path(key), "is required"))
    }

    fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.present(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| param(&self.path(key), "must be an integer")),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(param(&self.path(key), "must be a boolean")),
        }
    }

    fn object(&self, key: &str, prefix: &'static str) -> Result<Option<Obj<'a>>, ApiError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj { map, prefix })),
            Some(_) => Err(param(&self.path(key), "must be an object")),
        }
    }
}

/// Validates a create body against the catalog.
pub fn plan(body: &Value, catalog: &ModelArtsCatalog) -> Result<Plan, ApiError> {
    let map = body
        .as_object()
        .ok_or_else(|| crate::modelarts::errors::body("must be a JSON object"))?;
    let root = Obj { map, prefix: "" };
    let name = root.required_str("name")?;
    if !is_name(name, 64) {
        return Err(param(
            "name",
            "must be 1 to 64 characters of letters, digits, hyphens, underscores and periods",
        ));
    }
    let (flavor, resource_flavor) = flavor(&root, catalog)?;
    let image = image(&root, catalog)?;
    let net = network(&root, catalog)?;
    let key_pair_name = login(&root, catalog)?;
    server_kind(&root, &flavor, &image)?;
    let availability_zone = zone(&root, catalog, &flavor)?;
    let count = count(&root, &flavor)?;
    let enterprise_project_id = match root.str("enterprise_project_id")? {
        Some(e) if !is_name(e, 36) => {
            return Err(param(
                "enterprise_project_id",
                "must be 1 to 36 characters of letters, digits, hyphens, underscores and periods",
            ));
        }
        e => e.map(str::to_string),
    };
    let root_volume = root_volume(&root)?;
    let data_volumes = data_volumes(&root)?;
    let user_data = user_data(&root)?;
    let billing = billing(&root)?;
    if flavor.server_type == "HPS" && key_pair_name.is_none() {
        return Err(param("key_pair_name", "is required for HPS servers"));
    }
    Ok(Plan {
        name: name.to_string(),
        flavor,
        resource_flavor,
        image,
        vpc_id: net.0,
        subnet_id: net.1,
        cidr: net.2,
        security_group_id: net.3,
        key_pair_name,
        availability_zone,
        count,
        enterprise_project_id,
        root_volume,
        data_volumes,
        user_data,
        billing,
    })
}

fn flavor(root: &Obj<'_>, catalog: &ModelArtsCatalog) -> Result<(Flavor, bool), ApiError> {
    let (field, value) = match (root.str("flavor")?, root.str("resource_flavor")?) {
        (Some(_), Some(_)) => {
            return Err(param("resource_flavor", "and flavor cannot both be specified"));
        }
        (None, None) => return Err(param("resource_flavor", "or flavor must be specified")),
        (Some(f), None) => ("flavor", f),
        (None, Some(f)) => ("resource_flavor", f),
    };
    let well_formed = if field == "flavor" {
        !value.is_empty() && value.chars().count() <= 128
    } else {
        is_name(value, 256)
    };
    if !well_formed {
        return Err(param(field, "is malformed"));
    }
    let found = catalog
        .flavor(value)
        .ok_or_else(|| param(field, format!("{value} does not exist")))?;
    Ok((found.clone(), field == "resource_flavor"))
}

fn image(root: &Obj<'_>, catalog: &ModelArtsCatalog) -> Result<Image, ApiError> {
    let id = root.required_str("image_id")?;
    if !is_uuid(id) {
        return Err(param("image_id", "must be a UUID"));
    }
    catalog
        .image(id)
        .cloned()
        .ok_or_else(|| param("image_id", format!("{id} does not exist")))
}

fn network(root: &Obj<'_>, catalog: &ModelArtsCatalog) -> Result<(String, String, String, String), ApiError> {
    let net = root
        .object("network", "network.")?
        .ok_or_else(|| param("network", "is required"))?;
    let vpc_id = net.required_str("vpc_id")?;
    let subnet_id = net.required_str("subnet_id")?;
    let sg = net.required_str("security_group_id")?;
    for (key, value) in [
        ("vpc_id", vpc_id),
        ("subnet_id", subnet_id),
        ("security_group_id", sg),
    ] {
        if !is_uuid(value) {
            return Err(param(
                &net.path(key),
                "must be one UUID (a DevServer has exactly one security group)",
            ));
        }
    }
    if let Some(roce) = net.str("roce_id")?
        && !is_uuid(roce)
    {
        return Err(param("network.roce_id", "must be a UUID"));
    }
    net.bool("ipv6_enable")?;
    let vpc = catalog
        .vpc(vpc_id)
        .ok_or_else(|| param("network.vpc_id", format!("{vpc_id} does not exist")))?;
    let subnet = vpc.subnets.iter().find(|s| s.id == subnet_id).ok_or_else(|| {
        param(
            "network.subnet_id",
            format!("{subnet_id} does not exist in VPC {vpc_id}"),
        )
    })?;
    if !vpc.security_groups.iter().any(|s| s == sg) {
        return Err(param(
            "network.security_group_id",
            format!("{sg} does not exist in VPC {vpc_id}"),
        ));
    }
    Ok((
        vpc_id.to_string(),
        subnet_id.to_string(),
        subnet.cidr.clone(),
        sg.to_string(),
    ))
}

/// Checks a password against the DevServer rules (8–26 characters, three of four classes, no
/// `root`/`administrator` forwards or backwards); `Err` says why not.
pub fn check_password(pass: &str) -> Result<(), &'static str> {
    let len = pass.chars().count();
    if !(8..=26).contains(&len) {
        return Err("must be 8 to 26 characters");
    }
    if pass
        .chars()
        .any(|c| !c.is_ascii_alphanumeric() && !PASSWORD_SPECIALS.contains(c))
    {
        return Err("may only contain letters, digits and !@%-_=+[{}]:,./?");
    }
    let classes = [
        pass.chars().any(|c| c.is_ascii_uppercase()),
        pass.chars().any(|c| c.is_ascii_lowercase()),
        pass.chars().any(|c| c.is_ascii_digit()),
        pass.chars().any(|c| PASSWORD_SPECIALS.contains(c)),
    ];
    if classes.iter().filter(|c| **c).count() < 3 {
        return Err(
            "must contain three of uppercase letters, lowercase letters, digits and special characters",
        );
    }
    let lower = pass.to_ascii_lowercase();
    let reversed: String = lower.chars().rev().collect();
    for word in ["root", "administrator"] {
        if lower.contains(word) || reversed.contains(word) {
            return Err("must not contain root or administrator, forwards or backwards");
        }
    }
    Ok(())
}

fn login(root: &Obj<'_>, catalog: &ModelArtsCatalog) -> Result<Option<String>, ApiError> {
    match (root.str("admin_pass")?, root.str("key_pair_name")?) {
        (Some(_), Some(_)) => Err(param("admin_pass", "and key_pair_name cannot both be specified")),
        (None, None) => Err(param("admin_pass", "or key_pair_name must be specified")),
        (Some(pass), None) => check_password(pass)
            .map(|()| None)
            .map_err(|why| param("admin_pass", why)),
        (None, Some(key)) => {
            if !is_name(key, 64) {
                return Err(param("key_pair_name", "is malformed"));
            }
            if !catalog.key_pairs.iter().any(|k| k == key) {
                return Err(param("key_pair_name", format!("{key} does not exist")));
            }
            Ok(Some(key.to_string()))
        }
    }
}

fn server_kind(root: &Obj<'_>, flavor: &Flavor, image: &Image) -> Result<(), ApiError> {
    if let Some(arch) = root.str("arch")? {
        if !matches!(arch, "X86" | "ARM") {
            return Err(param("arch", "must be X86 or ARM"));
        }
        if arch != flavor.arch {
            return Err(param(
                "arch",
                format!("{arch} does not match the {} flavor {}", flavor.arch, flavor.name),
            ));
        }
    }
    if let Some(kind) = root.str("server_type")? {
        if !matches!(kind, "BMS" | "ECS" | "HPS") {
            return Err(param("server_type", "must be BMS, ECS or HPS"));
        }
        if kind != flavor.server_type {
            return Err(param(
                "server_type",
                format!(
                    "{kind} does not match the {} flavor {}",
                    flavor.server_type, flavor.name
                ),
            ));
        }
    }
    if image.arch != flavor.arch || image.server_type != flavor.server_type {
        return Err(param(
            "image_id",
            format!(
                "{} ({} {}) does not fit the flavor {} ({} {})",
                image.id, image.server_type, image.arch, flavor.name, flavor.server_type, flavor.arch
            ),
        ));
    }
    match root.str("hps_cluster_id")? {
        Some(id) if !is_uuid(id) => Err(param("hps_cluster_id", "must be a UUID")),
        Some(_) if flavor.server_type != "HPS" => Err(param("hps_cluster_id", "is only for HPS servers")),
        None if flavor.server_type == "HPS" => Err(param("hps_cluster_id", "is required for HPS servers")),
        _ => Ok(()),
    }
}

fn zone(root: &Obj<'_>, catalog: &ModelArtsCatalog, flavor: &Flavor) -> Result<String, ApiError> {
    match root.str("availability_zone")? {
        Some(z) => {
            if !is_name(z, 256) || !catalog.zones.iter().any(|c| c == z) {
                return Err(param("availability_zone", format!("{z} does not exist")));
            }
            if !flavor.offered_in(z) {
                return Err(param(
                    "availability_zone",
                    format!("{z} does not offer the flavor {}", flavor.name),
                ));
            }
            Ok(z.to_string())
        }
        None => catalog
            .zones
            .iter()
            .find(|z| flavor.offered_in(z))
            .cloned()
            .ok_or_else(|| param("availability_zone", "no zone offers the flavor")),
    }
}

fn count(root: &Obj<'_>, flavor: &Flavor) -> Result<u32, ApiError> {
    match root.int("count")? {
        None => Ok(1),
        Some(_) if flavor.server_type == "HPS" => Err(param("count", "is not supported for HPS servers")),
        Some(n) if (1..=10).contains(&n) => Ok(n as u32),
        Some(_) => Err(param("count", "must be 1 to 10")),
    }
}

fn volume_type(obj: &Obj<'_>, required: bool) -> Result<Option<String>, ApiError> {
    match obj.str("type")? {
        Some(t) if VOLUME_TYPES.contains(&t) => Ok(Some(t.to_string())),
        Some(_) => Err(param(&obj.path("type"), "must be ESSD, GPSSD, SAS, SATA or SSD")),
        None if required => Err(param(&obj.path("type"), "is required")),
        None => Ok(None),
    }
}

fn root_volume(root: &Obj<'_>) -> Result<Disk, ApiError> {
    let default = Disk {
        size: 100,
        evs_type: "GPSSD".into(),
    };
    let Some(v) = root.object("root_volume", "root_volume.")? else {
        return Ok(default);
    };
    let size = match v.int("size")? {
        None => default.size,
        Some(s) if (100..=1024).contains(&s) => s as u32,
        Some(_) => return Err(param("root_volume.size", "must be 100 to 1024 (GB)")),
    };
    let evs_type = volume_type(&v, false)?.unwrap_or(default.evs_type);
    Ok(Disk { size, evs_type })
}

fn data_volumes(root: &Obj<'_>) -> Result<Vec<Disk>, ApiError> {
    let Some(v) = root.object("data_volume", "data_volume.")? else {
        return Ok(Vec::new());
    };
    let size = match v.int("size")? {
        None => return Err(param("data_volume.size", "is required")),
        Some(s) if (100..=32768).contains(&s) => s as u32,
        Some(_) => return Err(param("data_volume.size", "must be 100 to 32768 (GB)")),
    };
    let evs_type = volume_type(&v, true)?.unwrap_or_default();
    let count = match v.int("count")? {
        None => return Err(param("data_volume.count", "is required")),
        Some(c) if (1..=8).contains(&c) => c as usize,
        Some(_) => return Err(param("data_volume.count", "must be 1 to 8")),
    };
    Ok(vec![Disk { size, evs_type }; count])
}

/// Checks user data: base64 of at most [`USER_DATA_MAX`] bytes.
pub fn check_user_data(field: &str, data: &str) -> Result<(), ApiError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| param(field, "must be base64-encoded"))?;
    if raw.len() > USER_DATA_MAX {
        return Err(param(field, "must be at most 32 KB before encoding"));
    }
    Ok(())
}

fn user_data(root: &Obj<'_>) -> Result<Option<String>, ApiError> {
    let sdk = root.str("user_data")?;
    let doc = root.str("userdata")?;
    let data = match (sdk, doc) {
        (Some(a), Some(b)) if a != b => {
            return Err(param("user_data", "and userdata differ"));
        }
        (Some(a), _) => Some(("user_data", a)),
        (None, Some(b)) => Some(("userdata", b)),
        (None, None) => None,
    };
    match data {
        None => Ok(None),
        Some((field, d)) => check_user_data(field, d).map(|()| Some(d.to_string())),
    }
}

fn billing(root: &Obj<'_>) -> Result<Billing, ApiError> {
    let Some(info) = root.object("charging_info", "charging_info.")? else {
        return Ok(Billing::PostPaid);
    };
    let mode = info.required_str("charging_mode")?;
    let auto_pay = info.bool("is_auto_pay")?.unwrap_or(false);
    let auto_renew = info.bool("is_auto_renew")?.unwrap_or(false);
    match mode {
        "POST_PAID" | "COMMON" => {
            info.int("period_num")?;
            info.str("period_type")?;
            Ok(Billing::PostPaid)
        }
        "PRE_PAID" => {
            let period_type = info.required_str("period_type")?;
            if !PERIOD_TYPES.contains(&period_type) {
                return Err(param(
                    "charging_info.period_type",
                    "must be ABSOLUTE, DAY, HOUR, MONTH, WEEK or YEAR",
                ));
            }
            let period_num = match info.int("period_num")? {
                Some(n) if (1..=11).contains(&n) => n as u32,
                Some(_) => return Err(param("charging_info.period_num", "must be 1 to 11")),
                None => return Err(param("charging_info.period_num", "is required")),
            };
            Ok(Billing::PrePaid {
                period_type: period_type.to_string(),
                period_num,
                auto_pay,
                auto_renew,
            })
        }
        _ => Err(param(
            "charging_info.charging_mode",
            "must be COMMON, POST_PAID or PRE_PAID",
        )),
    }
}

/// One period of `period_type` in milliseconds (ABSOLUTE counted as days).
pub fn period_ms(period_type: &str) -> u64 {
    const HOUR: u64 = 3_600_000;
    match period_type {
        "HOUR" => HOUR,
        "WEEK" => 7 * 24 * HOUR,
        "MONTH" => 30 * 24 * HOUR,
        "YEAR" => 365 * 24 * HOUR,
        _ => 24 * HOUR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_follow_the_devserver_rules() {
        assert!(check_password("@DevServer1").is_ok());
        assert!(check_password("@DevServer").is_ok());
        assert!(check_password("short1A").is_err());
        assert!(check_password("alllowercase1").is_err());
        assert!(check_password("Toor@1234").is_err());
        assert!(check_password("Admin#istrator1").is_err());
        assert!(check_password("Abc$12345").is_err());
    }

    #[test]
    fn names_and_uuids() {
        assert!(is_name("EI-evs-1107", 64));
        assert!(!is_name("bad name", 64));
        assert!(!is_name(&"a".repeat(65), 64));
        assert!(is_uuid("c90fb553-2cdb-4b81-b56a-ef68812c6cf7"));
        assert!(!is_uuid("c90fb5532cdb4b81b56aef68812c6cf7"));
    }
}
