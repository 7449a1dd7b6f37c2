//! The ModelArts DevServer catalog (config key `modelarts`): availability zones, flavors (server type,
//! architecture, zones offering them), images, the VPC / subnet / security group ids a create may name,
//! key pair names, and the per-project server quota. The defaults are the ids of seed 002's example
//! request plus a few GPU / bare-metal / Arm entries; `docs/emulator.md` § ModelArts lists them.

use serde::{Deserialize, Serialize};

/// The ModelArts catalog and quota.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelArtsCatalog {
    /// Availability zones, e.g. `cn-north-4a`.
    pub zones: Vec<String>,
    /// Server flavors.
    pub flavors: Vec<Flavor>,
    /// Server images.
    pub images: Vec<Image>,
    /// VPCs with their subnets and security groups.
    pub vpcs: Vec<Vpc>,
    /// Key pair names a create may name.
    pub key_pairs: Vec<String>,
    /// DevServers per project (creating more → `ModelArts.0116`).
    pub quota: u32,
}

/// A server flavor, e.g. `Si2.large.4`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flavor {
    /// Flavor name (what `flavor` / `resource_flavor` name).
    pub name: String,
    /// `BMS`, `ECS` or `HPS`.
    pub server_type: String,
    /// `X86` or `ARM`.
    pub arch: String,
    /// Zones offering it (empty = every zone).
    #[serde(default)]
    pub zones: Vec<String>,
    /// Human-readable specification, e.g. `8 vCPUs | 32 GiB | 1 x T4`.
    #[serde(default)]
    pub specification: String,
    /// `CPU`, `GPU` or `NPU`.
    #[serde(default)]
    pub flavor_type: String,
}

impl Flavor {
    /// True when the flavor is offered in `zone`.
    pub fn offered_in(&self, zone: &str) -> bool {
        self.zones.is_empty() || self.zones.iter().any(|z| z == zone)
    }
}

/// A server image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Image id (UUID).
    pub id: String,
    /// Image name.
    pub name: String,
    /// `X86` or `ARM`.
    pub arch: String,
    /// `BMS`, `ECS` or `HPS`.
    pub server_type: String,
}

/// A VPC the emulator accepts, with its subnets and security groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    /// VPC id.
    pub id: String,
    /// Subnets of the VPC.
    pub subnets: Vec<Subnet>,
    /// Security group ids of the VPC.
    pub security_groups: Vec<String>,
}

/// A subnet of a catalog VPC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    /// Subnet id.
    pub id: String,
    /// IPv4 CIDR the servers' private addresses come from.
    pub cidr: String,
}

/// Seed 002's example VPC.
pub const DEFAULT_VPC: &str = "05982b48-a70f-43a1-a2b0-1fe36a236172";
/// Seed 002's example subnet (in [`DEFAULT_VPC`]).
pub const DEFAULT_SUBNET: &str = "38cf274a-98f9-4f6f-b622-5ed0e4a3db54";
/// Seed 002's example security group (in [`DEFAULT_VPC`]).
pub const DEFAULT_SECURITY_GROUP: &str = "150a2c76-1334-45f6-b28f-419f9b1d1742";
/// Seed 002's example image (Ubuntu 18.04 x86, ECS).
pub const DEFAULT_IMAGE: &str = "c90fb553-2cdb-4b81-b56a-ef68812c6cf7";
/// Seed 002's example flavor (ECS, x86).
pub const DEFAULT_FLAVOR: &str = "Si2.large.4";
/// The key pair every default catalog knows.
pub const DEFAULT_KEY_PAIR: &str = "KeyPair-edgefleet";

fn flavor(name: &str, server_type: &str, arch: &str, zones: &[&str], spec: &str, kind: &str) -> Flavor {
    Flavor {
        name: name.into(),
        server_type: server_type.into(),
        arch: arch.into(),
        zones: zones.iter().map(|z| (*z).to_string()).collect(),
        specification: spec.into(),
        flavor_type: kind.into(),
    }
}

fn image(id: &str, name: &str, arch: &str, server_type: &str) -> Image {
    Image {
        id: id.into(),
        name: name.into(),
        arch: arch.into(),
        server_type: server_type.into(),
    }
}

impl Default for ModelArtsCatalog {
    fn default() -> Self {
        Self {
            zones: vec!["cn-north-4a".into(), "cn-north-4b".into(), "cn-north-4c".into()],
            flavors: vec![
                flavor(DEFAULT_FLAVOR, "ECS", "X86", &[], "2 vCPUs | 8 GiB", "CPU"),
                flavor(
                    "pi2.2xlarge.4",
                    "ECS",
                    "X86",
                    &["cn-north-4a", "cn-north-4b"],
                    "8 vCPUs | 32 GiB | 1 x T4",
                    "GPU",
                ),
                flavor(
                    "physical.pi2.8xlarge",
                    "BMS",
                    "X86",
                    &[],
                    "64 vCPUs | 512 GiB | 8 x T4",
                    "GPU",
                ),
                flavor(
                    "physical.kat2e.48xlarge.8.313t",
                    "BMS",
                    "ARM",
                    &["cn-north-4b"],
                    "192 vCPUs | 1536 GiB | 8 x Ascend 313T",
                    "NPU",
                ),
            ],
            images: vec![
                image(DEFAULT_IMAGE, "Ubuntu18.04_x86_64_CPU", "X86", "ECS"),
                image(
                    "4f7a3b6e-2d1c-4e8f-9a0b-5c6d7e8f9a01",
                    "Ubuntu22.04_x86_64_GPU",
                    "X86",
                    "ECS",
                ),
                image(
                    "7b2e9c4d-5a6f-4b8c-9d0e-1f2a3b4c5d02",
                    "Ubuntu20.04_x86_64_BMS",
                    "X86",
                    "BMS",
                ),
                image(
                    "9d4c1e2f-3a5b-4c6d-8e7f-0a1b2c3d4e03",
                    "EulerOS2.10_arm_Ascend",
                    "ARM",
                    "BMS",
                ),
            ],
            vpcs: vec![Vpc {
                id: DEFAULT_VPC.into(),
                subnets: vec![Subnet {
                    id: DEFAULT_SUBNET.into(),
                    cidr: "192.168.0.0/24".into(),
                }],
                security_groups: vec![DEFAULT_SECURITY_GROUP.into()],
            }],
            key_pairs: vec![DEFAULT_KEY_PAIR.into()],
            quota: 20,
        }
    }
}

impl ModelArtsCatalog {
    /// The flavor named `name`.
    pub fn flavor(&self, name: &str) -> Option<&Flavor> {
        self.flavors.iter().find(|f| f.name == name)
    }

    /// The image with id `id`.
    pub fn image(&self, id: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.id == id)
    }

    /// The VPC with id `id`.
    pub fn vpc(&self, id: &str) -> Option<&Vpc> {
        self.vpcs.iter().find(|v| v.id == id)
    }
}
