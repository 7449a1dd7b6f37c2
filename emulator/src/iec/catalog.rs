//! The IEC catalog: edge sites (with their IP pools/lines, operators, capacity, flavors and disk
//! types), flavors, public images, volume types and default quotas. Configurable through the
//! `catalog:` section of the config file; [`Catalog::default`] is the built-in catalog documented in
//! `docs/emulator.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Catalog {
    /// Edge sites.
    pub sites: Vec<Site>,
    /// Flavors (offered at every site unless a site lists its own).
    pub flavors: Vec<Flavor>,
    /// Public (gold) images.
    pub images: Vec<Image>,
    /// Disk types.
    pub volume_types: Vec<VolumeType>,
    /// Per-account quotas by quota type (`vpc`, `edgeclouds`, `instance`, ...).
    pub quotas: BTreeMap<String, QuotaLimit>,
}

/// An edge site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Site id.
    pub id: String,
    /// Site name.
    pub name: String,
    /// Area (region-level) English name, e.g. `north`.
    pub area: String,
    /// Localised area name.
    pub i18n_area: String,
    /// Province English name.
    pub province: String,
    /// Localised province name.
    pub i18n_province: String,
    /// City English name (coverage level `city` uses it, case-sensitively).
    pub city: String,
    /// Localised city name.
    pub i18n_city: String,
    /// Country.
    #[serde(default = "china")]
    pub country: String,
    /// Localised country.
    #[serde(default = "china")]
    pub i18n_country: String,
    /// Site status (`Normal`, `Obt`, `Gray`, `Offline`, `Promotion`, `sellout`).
    #[serde(default = "normal")]
    pub status: String,
    /// City short name, e.g. `ZS`.
    pub city_short_name: String,
    /// The site code used in instance name prefixes, e.g. `ZS01` → `IEC-ZS01-<name>`.
    pub code: String,
    /// Availability zone shown on instances and volumes.
    pub availability_zone: String,
    /// IP pools (lines).
    #[serde(default)]
    pub pools: Vec<Pool>,
    /// Flavor ids offered here (empty = every catalog flavor).
    #[serde(default)]
    pub flavors: Vec<String>,
    /// Disk type names offered here.
    #[serde(default = "default_site_volume_types")]
    pub volume_types: Vec<String>,
    /// Maximum number of instances the site can host (all accounts together).
    #[serde(default = "default_capacity")]
    pub capacity_instances: u64,
}

fn china() -> String {
    "China".into()
}
fn normal() -> String {
    "Normal".into()
}
fn default_site_volume_types() -> Vec<String> {
    vec!["SATA".into(), "SAS".into()]
}
fn default_capacity() -> u64 {
    100_000
}

/// An IP pool (line) of a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// Pool record id.
    pub id: String,
    /// Line id, e.g. `5_telcom_xian1`.
    pub pool_id: String,
    /// `"4"` or `"6"`.
    #[serde(default = "four")]
    pub ip_version: String,
    /// Carrier.
    pub operator: Operator,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Bandwidth types this line may use.
    #[serde(default)]
    pub allow_share_bandwidth_types: Vec<String>,
}

fn four() -> String {
    "4".into()
}

/// A carrier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    /// Operator id (a string, e.g. `"1"`).
    pub id: String,
    /// `chinamobile`, `chinaunicom` or `chinatelecom`.
    pub name: String,
    /// Localised name.
    pub i18n_name: String,
    /// Short code (`CTCC`, `CUCC`, `CMCC`).
    pub sa: String,
}

/// A flavor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flavor {
    /// Flavor id, e.g. `c6.large.2`.
    pub id: String,
    /// Flavor name.
    pub name: String,
    /// vCPUs.
    pub vcpus: u32,
    /// RAM in MB.
    pub ram: u64,
    /// Generation, e.g. `c6`.
    #[serde(default)]
    pub generation: String,
    /// Physical host type.
    #[serde(default)]
    pub resource_type: String,
}

/// A public image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Image id.
    pub id: String,
    /// Image name.
    pub name: String,
    /// `Linux`, `Windows` or `Other`.
    pub os_type: String,
    /// Platform, e.g. `CentOS`.
    pub platform: String,
    /// OS version text.
    pub os_version: String,
    /// Minimum system disk in GB.
    #[serde(default = "forty")]
    pub min_disk: u32,
    /// Minimum RAM in MB.
    #[serde(default)]
    pub min_ram: u32,
}

fn forty() -> u32 {
    40
}

/// A disk type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeType {
    /// Type id.
    pub id: String,
    /// Type name, e.g. `SATA`.
    pub name: String,
}

/// One quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaLimit {
    /// The account's quota.
    pub quota: u64,
    /// The largest value the quota could be raised to.
    pub max: u64,
}

fn operator(name: &str) -> Operator {
    let (id, i18n, sa) = match name {
        "chinatelecom" => ("1", "中国电信", "CTCC"),
        "chinaunicom" => ("2", "中国联通", "CUCC"),
        _ => ("3", "中国移动", "CMCC"),
    };
    Operator {
        id: id.into(),
        name: name.into(),
        i18n_name: i18n.into(),
        sa: sa.into(),
    }
}

fn pool(id: &str, pool_id: &str, op: &str, display: &str) -> Pool {
    Pool {
        id: id.into(),
        pool_id: pool_id.into(),
        ip_version: "4".into(),
        operator: operator(op),
        display_name: display.into(),
        allow_share_bandwidth_types: vec!["share".into()],
    }
}

#[allow(clippy::too_many_arguments)]
fn site(
    id: &str,
    name: &str,
    (area, i18n_area): (&str, &str),
    (province, i18n_province): (&str, &str),
    (city, i18n_city): (&str, &str),
    short: &str,
    code: &str,
    az: &str,
    pools: Vec<Pool>,
) -> Site {
    Site {
        id: id.into(),
        name: name.into(),
        area: area.into(),
        i18n_area: i18n_area.into(),
        province: province.into(),
        i18n_province: i18n_province.into(),
        city: city.into(),
        i18n_city: i18n_city.into(),
        country: china(),
        i18n_country: china(),
        status: normal(),
        city_short_name: short.into(),
        code: code.into(),
        availability_zone: az.into(),
        pools,
        flavors: vec![],
        volume_types: default_site_volume_types(),
        capacity_instances: default_capacity(),
    }
}

impl Default for Catalog {
    fn default() -> Self {
        let sites = vec![
            site(
                "74a75ed3-cfb9-11ea-a0c3-fa1640495574",
                "xian-telecom-1",
                ("north", "华北地区"),
                ("shaanxi", "陕西"),
                ("xi'an", "西安市"),
                "XA",
                "XA01",
                "edgecloud-site4",
                vec![
                    pool(
                        "6b7f1a2e-0001-4c6e-9a01-000000000001",
                        "5_bgp_edgecloud-site4_0",
                        "chinatelecom",
                        "西安电信",
                    ),
                    pool(
                        "6b7f1a2e-0001-4c6e-9a01-000000000002",
                        "5_bgp_edgecloud-site4_1",
                        "chinaunicom",
                        "西安联通",
                    ),
                ],
            ),
            site(
                "705da43d-fa20-11ea-9fb2-fa1640495574",
                "changsha",
                ("central", "华中地区"),
                ("hunan", "湖南"),
                ("changsha", "长沙市"),
                "CS",
                "CS01",
                "edgecloud-site1",
                vec![
                    pool(
                        "6b7f1a2e-0002-4c6e-9a01-000000000001",
                        "5_sbgp_site1",
                        "chinatelecom",
                        "长沙电信",
                    ),
                    pool(
                        "6b7f1a2e-0002-4c6e-9a01-000000000002",
                        "5_mobile_site1",
                        "chinamobile",
                        "长沙移动",
                    ),
                ],
            ),
            site(
                "a0272146-f6d8-4e3f-a1dc-196ec4a2f856",
                "zhongshan",
                ("south", "华南地区"),
                ("guangdong", "广东"),
                ("zhongshan", "中山市"),
                "ZS",
                "ZS01",
                "edgecloud-site3",
                vec![
                    pool(
                        "6b7f1a2e-0003-4c6e-9a01-000000000001",
                        "5_unicon_site3",
                        "chinaunicom",
                        "中山联通",
                    ),
                    pool(
                        "6b7f1a2e-0003-4c6e-9a01-000000000002",
                        "5_telcom_site3",
                        "chinatelecom",
                        "中山电信",
                    ),
                ],
            ),
            site(
                "3f6a8e2c-1b4d-4c1e-9a7b-2d5e8f0a1c3b",
                "guangzhou",
                ("south", "华南地区"),
                ("guangdong", "广东"),
                ("guangzhou", "广州市"),
                "GZ",
                "GZ01",
                "edgecloud-site5",
                vec![pool(
                    "6b7f1a2e-0004-4c6e-9a01-000000000001",
                    "5_mobile_site5",
                    "chinamobile",
                    "广州移动",
                )],
            ),
            site(
                "c2d8e4f6-7a9b-4c1d-8e2f-3a4b5c6d7e8f",
                "wuhan",
                ("central", "华中地区"),
                ("hubei", "湖北"),
                ("wuhan", "武汉市"),
                "WH",
                "WH01",
                "edgecloud-site6",
                vec![pool(
                    "6b7f1a2e-0005-4c6e-9a01-000000000001",
                    "5_telcom_site6",
                    "chinatelecom",
                    "武汉电信",
                )],
            ),
        ];
        let flavor = |id: &str, vcpus: u32, ram: u64, generation: &str| Flavor {
            id: id.into(),
            name: id.into(),
            vcpus,
            ram,
            generation: generation.into(),
            resource_type: "IOoptimizedC6".into(),
        };
        let flavors = vec![
            flavor("c6.large.2", 2, 4096, "c6"),
            flavor("c6.xlarge.2", 4, 8192, "c6"),
            flavor("c6.2xlarge.2", 8, 16384, "c6"),
            flavor("s6.small.1", 1, 1024, "s6"),
            flavor("kc1.large.2", 2, 4096, "kc1"),
        ];
        let image = |id: &str, name: &str, os: &str, platform: &str| Image {
            id: id.into(),
            name: name.into(),
            os_type: os.into(),
            platform: platform.into(),
            os_version: name.into(),
            min_disk: 40,
            min_ram: 0,
        };
        let images = vec![
            image(
                "00000000-0000-0000-0000-000000000002",
                "CentOS 7.6 64bit",
                "Linux",
                "CentOS",
            ),
            image(
                "00000000-0000-0000-0000-000000000008",
                "Ubuntu 20.04 server 64bit",
                "Linux",
                "Ubuntu",
            ),
            image(
                "00000000-0000-0000-0000-000000000010",
                "EulerOS 2.2 64bit",
                "Linux",
                "EulerOS",
            ),
            image(
                "00000000-0000-0000-0000-000000000020",
                "Windows Server 2019 Standard 64bit",
                "Windows",
                "Windows",
            ),
        ];
        let volume_types = vec![
            VolumeType {
                id: "a1d587f9-7e1e-4b5f-9f2a-1c0de0a0f001".into(),
                name: "SATA".into(),
            },
            VolumeType {
                id: "1c3b6c4e-5f1a-4e7b-8c2d-2b1ae0a0f002".into(),
                name: "SAS".into(),
            },
            VolumeType {
                id: "7d2e9a1b-3c4d-4e5f-9a8b-3c2be0a0f003".into(),
                name: "SSD".into(),
            },
        ];
        let q = |quota: u64, max: u64| QuotaLimit { quota, max };
        let quotas = BTreeMap::from([
            ("vpn".to_string(), q(10, 100_000)),
            ("vpc".to_string(), q(50, 100_000)),
            ("securityGroup".to_string(), q(250, 100_000)),
            ("subnet".to_string(), q(250, 100_000)),
            ("firewall".to_string(), q(100, 100_000)),
            ("shareBandwidth".to_string(), q(50, 100_000)),
            ("publicIp".to_string(), q(190, 100_000)),
            ("securityGroupRule".to_string(), q(10_000, 100_000)),
            ("image".to_string(), q(100, 500)),
            ("edgeclouds".to_string(), q(10, 10_000)),
            ("gigabyte".to_string(), q(8_000, 4_096_000)),
            ("instance".to_string(), q(120, 20_480)),
            ("volume".to_string(), q(100, 100_000)),
            ("vcpu".to_string(), q(1_024, 204_800)),
            ("ram".to_string(), q(5_120_000, 81_920_000)),
        ]);
        Self {
            sites,
            flavors,
            images,
            volume_types,
            quotas,
        }
    }
}

impl Catalog {
    /// The site with this id.
    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }

    /// The flavor with this id.
    pub fn flavor(&self, id: &str) -> Option<&Flavor> {
        self.flavors.iter().find(|f| f.id == id)
    }

    /// The public image with this id.
    pub fn image(&self, id: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.id == id)
    }

    /// True when `site` offers `flavor_id`.
    pub fn site_has_flavor(&self, site: &Site, flavor_id: &str) -> bool {
        self.flavor(flavor_id).is_some()
            && (site.flavors.is_empty() || site.flavors.iter().any(|f| f == flavor_id))
    }

    /// The quota for a type (`u64::MAX` when the type is not configured).
    pub fn quota(&self, kind: &str) -> u64 {
        self.quotas.get(kind).map_or(u64::MAX, |q| q.quota)
    }
}
