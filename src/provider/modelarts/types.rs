//! ModelArts DevServer wire shapes (HW-SDK `services/modelarts/v1/model`: `ServerCreateRequest`,
//! `ServerResponse`, `ListDevServersResponse`). Responses are read leniently (every field defaulted),
//! so a field the cloud adds or leaves out never fails a read; requests send only what is set.

use serde::{Deserialize, Serialize};

/// `ServerCreateRequest` (`POST /v1/{project_id}/dev-servers`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CreateServer {
    /// 1–64 `[-_.a-zA-Z0-9]`.
    pub name: String,
    /// Flavor name (the seed's mandatory `flavor`).
    pub flavor: String,
    /// Image id (UUID).
    pub image_id: String,
    /// VPC, subnet and security group.
    pub network: ServerNetwork,
    /// Password (exactly one of it and `key_pair_name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_pass: Option<String>,
    /// Key pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_pair_name: Option<String>,
    /// `X86` or `ARM`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// `BMS`, `ECS` or `HPS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_type: Option<String>,
    /// Availability zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Servers per call (edgefleet sends 1 or leaves it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Enterprise project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enterprise_project_id: Option<String>,
    /// System disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_volume: Option<Volume>,
    /// Data disks: one size and type, `count` of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_volume: Option<DataVolume>,
    /// Base64 user data (the SDK's `user_data`; the seed spells it `userdata`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// HPS cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hps_cluster_id: Option<String>,
    /// Billing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charging_info: Option<ChargingInfo>,
}

/// `ServerNetwork`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServerNetwork {
    /// VPC id.
    pub vpc_id: String,
    /// Subnet id.
    pub subnet_id: String,
    /// The one security group.
    pub security_group_id: String,
    /// IPv6.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ipv6_enable: bool,
    /// RoCE network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roce_id: Option<String>,
}

/// `EvsVolume`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Volume {
    /// `ESSD`, `GPSSD`, `SAS`, `SATA` or `SSD`.
    #[serde(rename = "type")]
    pub type_: String,
    /// GB.
    pub size: u32,
}

/// `ServerDataVolume`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DataVolume {
    /// Disk type.
    #[serde(rename = "type")]
    pub type_: String,
    /// GB per disk.
    pub size: u32,
    /// How many (1–8).
    pub count: u32,
}

/// `ChargingInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChargingInfo {
    /// `POST_PAID` or `PRE_PAID`.
    pub charging_mode: String,
    /// `HOUR`, `DAY`, `WEEK`, `MONTH`, `YEAR` (prepaid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_type: Option<String>,
    /// 1–11 (prepaid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_num: Option<u32>,
    /// Renew automatically.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_auto_renew: Option<bool>,
    /// Pay the order from the balance at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_auto_pay: Option<bool>,
}

/// `ServerImageResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ServerImage {
    /// Image id.
    pub image_id: String,
    /// Image name.
    pub name: String,
    /// Architecture.
    pub arch: String,
    /// Server type.
    pub server_type: String,
}

/// `EndpointsRes`: one way into the server; `uri` is its private address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Endpoint {
    /// Address.
    pub uri: String,
    /// Service (`SSH`, ...).
    pub service: String,
    /// Dev service.
    pub dev_service: String,
}

/// `CloudServer`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CloudServer {
    /// ECS/BMS id.
    pub id: String,
    /// `ECS`, `BMS`, ...
    #[serde(rename = "type")]
    pub type_: String,
}

/// `ServerResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Server {
    /// Server id (empty in a PRE_PAID create answer, which carries `order_id`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Status (`ServerResponseStatusEnum`).
    pub status: String,
    /// `POST_PAID`, `PRE_PAID` or `COMMON`.
    pub charging_mode: String,
    /// The order of a prepaid server.
    pub order_id: String,
    /// Flavor name.
    pub flavor: String,
    /// VPC id.
    pub vpc_id: String,
    /// Subnet id.
    pub subnet_id: String,
    /// Key pair.
    pub key_pair_name: String,
    /// Image.
    pub image: ServerImage,
    /// Ways in (private addresses).
    pub endpoints: Vec<Endpoint>,
    /// The underlying ECS/BMS.
    pub cloud_server: CloudServer,
    /// `SERVER`, `HPS` or `SPOD`.
    pub category: String,
    /// Availability zone (not in the SDK's response; read when a server reports it).
    pub availability_zone: String,
    /// Creation time, epoch milliseconds.
    pub create_at: i64,
    /// Update time, epoch milliseconds.
    pub update_at: i64,
}

/// `ListDevServersResponse`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ServerList {
    /// This page's servers.
    pub data: Vec<Server>,
    /// All servers.
    pub total: Option<u64>,
}
