//! Luchen wire shapes (seed 003 for the create body, digest §3 for the list row; no SDK exists).
//! Responses are read leniently (every field defaulted), so a field the cloud adds or leaves out never
//! fails a read; requests send every field the seed marks required, optional ones only when set.

use serde::{Deserialize, Serialize};

/// `POST /api/user/login` body.
#[derive(Serialize)]
pub struct Login<'a> {
    /// Login name.
    pub username: &'a str,
    /// Password (exposed only here, on the wire).
    pub password: &'a str,
}

/// The login answer: the JWT and its lifetime in seconds.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LoginAnswer {
    /// The token sent as the `AccessToken` cookie.
    pub access_token: String,
    /// Seconds the token lives (documented: 86400).
    pub access_expire: Option<u64>,
}

/// `billing`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Billing {
    /// `tidePerHour`, `perHour`, `perDay`, `perWeek` or `perMonth`.
    pub charge_mode: String,
    /// Periods subscribed (1 for the hourly modes).
    pub duration: u32,
}

/// One `remoteStorages` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RemoteStorage {
    /// Absolute mount path in the instance.
    pub mount_path: String,
    /// Storage name.
    pub remote_storage_name: String,
    /// Storage id.
    pub remote_storage_id: String,
    /// `highspeedstorage` or `filesystem`.
    #[serde(rename = "type")]
    pub type_: String,
}

/// `instanceConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceConfiguration {
    /// Extra data disk in GB (optional; the API spells it `extraDataDiskSizeDB`).
    #[serde(rename = "extraDataDiskSizeDB", skip_serializing_if = "Option::is_none")]
    pub extra_data_disk_size_gb: Option<u32>,
    /// Public data sets mounted.
    pub enable_common_data: bool,
    /// Docker inside the instance.
    pub enable_docker: bool,
    /// Docker storage in GB (optional).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker_storage_size: Option<u32>,
    /// Script run at start (required, may be empty).
    pub init_script: String,
}

/// `POST /api/instance/create` body (seed 003).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInstance {
    /// Instance name.
    pub name: String,
    /// Image id.
    pub image_id: String,
    /// Instance (GPU) type id.
    pub instance_type_id: String,
    /// Region id.
    pub region: String,
    /// Billing.
    pub billing: Billing,
    /// Remote storages (required, may be empty).
    pub remote_storages: Vec<RemoteStorage>,
    /// Configuration.
    pub instance_configuration: InstanceConfiguration,
    /// Spot instance (optional, default false).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_spot_instance: bool,
    /// Ports inside the instance to expose on node ports (required, may be empty).
    pub node_ports: Vec<u16>,
}

/// The create answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Created {
    /// `notebook-<uuid>`.
    pub instance_id: String,
}

/// `{"instanceId"}`: the body of stop, start, restart and terminate.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceRef<'a> {
    /// The instance.
    pub instance_id: &'a str,
}

/// `instanceMetadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Metadata {
    /// Id.
    pub instance_id: String,
    /// Name.
    pub name: String,
    /// Login user.
    pub instance_username: String,
    /// Creation time (RFC 3339), where shown.
    pub created_at: String,
}

/// `instanceRuntimeInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RuntimeInfo {
    /// Status (`Initializing`, `Running`, `Stopped`, `Released`, ...).
    pub status: String,
}

/// `regionInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RegionInfo {
    /// Region id.
    pub region_id: String,
    /// Region name.
    pub region_name: String,
    /// `ssh root@<host> -p <port>` once the instance has run, empty before.
    pub ssh_address: String,
}

/// One exposed port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodePort {
    /// Port inside the instance.
    pub port: u16,
    /// Port on the region's node.
    pub node_port: u16,
}

/// `instanceSpecInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SpecInfo {
    /// Region and SSH address.
    pub region_info: RegionInfo,
    /// Exposed ports.
    pub node_ports: Vec<NodePort>,
    /// Instance type id, where shown.
    pub instance_type_id: String,
    /// Image id, where shown.
    pub image_id: String,
}

/// One row of the list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Instance {
    /// Id and name.
    pub instance_metadata: Metadata,
    /// Status.
    pub instance_runtime_info: RuntimeInfo,
    /// Region, ports, type, image.
    pub instance_spec_info: SpecInfo,
}

/// `pager` of a list answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Pager {
    /// All instances.
    pub total_entries: Option<u64>,
}

/// `POST /api/instance/list` answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InstanceList {
    /// This page.
    pub instances: Vec<Instance>,
    /// Paging.
    pub pager: Pager,
}
