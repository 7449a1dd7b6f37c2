//! The veEN catalog (config key `veen`): instance specs, images, edge clusters (each one ISP in one
//! city of one area, with a capacity in instances per account) and the quotas of seed 000 (5 cloud
//! servers per account, 10 instances per cloud server). `ListAvailableResourceInfo` shows the
//! clusters that offer a spec with their remaining capacity; placement fails with
//! `InsufficientCapacity` when a cluster (or every cluster of an area × ISP) is full.

use serde::{Deserialize, Serialize};

/// The veEN catalog and quotas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VeenCatalog {
    /// Instance specs.
    pub specs: Vec<Spec>,
    /// Public images.
    pub images: Vec<Image>,
    /// Edge clusters (nodes).
    pub clusters: Vec<Cluster>,
    /// Cloud servers per account.
    pub cloud_server_quota: u32,
    /// Instances per cloud server.
    pub instances_per_cloud_server: u32,
}

/// An instance spec, e.g. `veEN.C1.large`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Spec name.
    pub name: String,
    /// Display name.
    pub display: String,
    /// vCPUs.
    pub cpu: u32,
    /// Memory in GiB.
    pub mem_gb: u32,
}

/// A public image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Image id (`image_identity`).
    pub id: String,
    /// Image name.
    pub name: String,
    /// `linux` or `windows`.
    pub system_type: String,
    /// E.g. `ubuntu 20.04`.
    pub system_version: String,
}

/// An edge cluster (node): one ISP in one city.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// `cluster_name`, e.g. `cn-hangzhou-cmcc-01`.
    pub name: String,
    /// Area (大区) id, e.g. `east_china`; `area_name` may name it.
    pub area: String,
    /// Area display name, e.g. `华东`.
    pub area_name: String,
    /// Province.
    pub province: String,
    /// City id, e.g. `hangzhou`; `area_name` may name a city too.
    pub city: String,
    /// City display name.
    pub city_name: String,
    /// `CMCC`, `CUCC` or `CTCC`.
    pub isp: String,
    /// Instances this cluster can hold per account.
    pub capacity: u32,
    /// Specs offered here (empty = every spec).
    #[serde(default)]
    pub specs: Vec<String>,
}

impl Cluster {
    /// True when the cluster offers `spec`.
    pub fn offers(&self, spec: &str) -> bool {
        self.specs.is_empty() || self.specs.iter().any(|s| s == spec)
    }

    /// True when `name` names this cluster's area or city (by id or display name).
    pub fn in_area(&self, name: &str) -> bool {
        [&self.area, &self.area_name, &self.city, &self.city_name]
            .iter()
            .any(|n| n.as_str() == name)
    }
}

/// The ISPs veEN knows.
pub const ISPS: &[&str] = &["CMCC", "CUCC", "CTCC"];

fn spec(name: &str, display: &str, cpu: u32, mem_gb: u32) -> Spec {
    Spec {
        name: name.into(),
        display: display.into(),
        cpu,
        mem_gb,
    }
}

#[allow(clippy::too_many_arguments)]
fn cluster(
    name: &str,
    area: (&str, &str),
    province: &str,
    city: (&str, &str),
    isp: &str,
    capacity: u32,
) -> Cluster {
    Cluster {
        name: name.into(),
        area: area.0.into(),
        area_name: area.1.into(),
        province: province.into(),
        city: city.0.into(),
        city_name: city.1.into(),
        isp: isp.into(),
        capacity,
        specs: Vec::new(),
    }
}

impl Default for VeenCatalog {
    fn default() -> Self {
        let east = ("east_china", "华东");
        let north = ("north_china", "华北");
        let south = ("south_china", "华南");
        let mut small = cluster("cn-xiamen-ctcc-01", east, "福建", ("xiamen", "厦门"), "CTCC", 2);
        small.specs = vec!["veEN.C1.large".into()];
        Self {
            specs: vec![
                spec("veEN.C1.large", "2vCPU 4GiB", 2, 4),
                spec("veEN.C1.xlarge", "4vCPU 8GiB", 4, 8),
                spec("veEN.G1.large", "2vCPU 8GiB", 2, 8),
            ],
            images: vec![
                Image {
                    id: "image-ubuntu2004".into(),
                    name: "Ubuntu 20.04 64位".into(),
                    system_type: "linux".into(),
                    system_version: "ubuntu 20.04".into(),
                },
                Image {
                    id: "image-centos79".into(),
                    name: "CentOS 7.9 64位".into(),
                    system_type: "linux".into(),
                    system_version: "centos 7.9".into(),
                },
            ],
            clusters: vec![
                cluster(
                    "cn-hangzhou-cmcc-01",
                    east,
                    "浙江",
                    ("hangzhou", "杭州"),
                    "CMCC",
                    20,
                ),
                cluster(
                    "cn-nanjing-cmcc-01",
                    east,
                    "江苏",
                    ("nanjing", "南京"),
                    "CMCC",
                    20,
                ),
                cluster(
                    "cn-shanghai-cucc-01",
                    east,
                    "上海",
                    ("shanghai", "上海"),
                    "CUCC",
                    20,
                ),
                cluster(
                    "cn-beijing-cucc-01",
                    north,
                    "北京",
                    ("beijing", "北京"),
                    "CUCC",
                    20,
                ),
                cluster(
                    "cn-tianjin-ctcc-01",
                    north,
                    "天津",
                    ("tianjin", "天津"),
                    "CTCC",
                    20,
                ),
                cluster(
                    "cn-guangzhou-ctcc-01",
                    south,
                    "广东",
                    ("guangzhou", "广州"),
                    "CTCC",
                    20,
                ),
                cluster(
                    "cn-shenzhen-cmcc-01",
                    south,
                    "广东",
                    ("shenzhen", "深圳"),
                    "CMCC",
                    20,
                ),
                small,
            ],
            cloud_server_quota: 5,
            instances_per_cloud_server: 10,
        }
    }
}

impl VeenCatalog {
    /// The spec named `name`.
    pub fn spec(&self, name: &str) -> Option<&Spec> {
        self.specs.iter().find(|s| s.name == name)
    }

    /// The image with id `id`.
    pub fn image(&self, id: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.id == id)
    }

    /// The cluster named `name`.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }
}
