//! veEN request and answer shapes the client uses (digest §1.4; SDK `service/veenedge/api_*.go`): the
//! documented snake_case keys, `Tags` with capitalised `Key`/`Value`. Answers decode leniently (every
//! field defaults) so fields the client does not read never fail a call.

use serde::{Deserialize, Serialize};

/// A `{Key, Value}` tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Key.
    #[serde(rename = "Key")]
    pub key: String,
    /// Value.
    #[serde(rename = "Value", default)]
    pub value: String,
}

/// Where instances go: a cluster, or an area / city with an ISP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaNum {
    /// An area or city (id or name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area_name: Option<String>,
    /// An edge cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// `CMCC`, `CUCC` or `CTCC`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isp: Option<String>,
    /// How many.
    pub num: u32,
    /// A custom VPC (in the cluster).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_identity: Option<String>,
    /// A subnet of that VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_identity: Option<String>,
}

/// A disk of `storage_config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disk {
    /// `CloudBlockHDD` or `CloudBlockSSD`.
    pub storage_type: String,
    /// GB, as a number string.
    pub capacity: String,
}

/// The `CreateCloudServer` body edgefleet sends (the fields it sets; the rest keep the API defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateCloudServer {
    /// 5–20 characters.
    pub cloudserver_name: String,
    /// Description (≤ 80).
    pub cloud_server_desc: String,
    /// Image id.
    pub image_id: String,
    /// Spec name.
    pub spec_name: String,
    /// `{system_disk, data_disk_list}`.
    pub storage_config: serde_json::Value,
    /// `{bandwidth_peak, security_group_id_list}`.
    pub network_config: serde_json::Value,
    /// `{secret_type, secret_data}`, if a login is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_config: Option<serde_json::Value>,
    /// Placement of the first instances.
    pub instance_area_nums: Vec<AreaNum>,
    /// Project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Idempotency token (ASCII ≤ 64).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Tags (inherited by the instances).
    #[serde(rename = "Tags")]
    pub tags: Vec<Tag>,
}

/// `CreateCloudServer` / `CreateInstance` results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Created {
    /// The cloud server (CreateCloudServer only).
    pub cloud_server_identity: String,
    /// The new instances.
    pub instance_id_list: Vec<String>,
    /// The prepaid order, if any.
    pub pre_paid_url: Option<String>,
}

/// One `{status, instance_count}` bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StatusCount {
    /// Status.
    pub status: String,
    /// Instances in it.
    pub instance_count: u32,
}

/// A cloud server as read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CloudServer {
    /// Id.
    pub cloud_server_identity: String,
    /// Name.
    pub name: String,
    /// Spec.
    pub spec: String,
    /// Members.
    pub instance_count: u32,
    /// Members by status.
    pub instance_status: Vec<StatusCount>,
    /// Tags (when asked for).
    #[serde(rename = "Tags")]
    pub tags: Vec<Tag>,
}

/// An instance's cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Cluster {
    /// Cluster name.
    pub cluster_name: String,
    /// Area (region) name.
    pub region: String,
    /// City name.
    pub city: String,
    /// ISP.
    pub isp: String,
}

/// One interface address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Interface {
    /// IPv4 address.
    pub ip_addr: String,
}

/// An instance's network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Network {
    /// Private address.
    pub internal_interface: Interface,
    /// Public address.
    pub external_interface: Interface,
}

/// An instance as read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Instance {
    /// Id.
    pub instance_identity: String,
    /// Name.
    pub instance_name: String,
    /// Status (`opening`, `running`, `stop`, …).
    pub status: String,
    /// Owning cloud server.
    pub cloud_server_identity: String,
    /// Where it runs.
    pub cluster: Cluster,
    /// Addresses.
    pub network: Network,
    /// Spec.
    pub spec: String,
    /// VPC, if any.
    pub vpc_identity: String,
    /// Tags (when asked for).
    #[serde(rename = "Tags")]
    pub tags: Vec<Tag>,
    /// Description (from the cloud server's `advanced_configuration`).
    pub instance_desc: String,
    /// Host name.
    pub host_name: String,
    /// Image.
    pub image: ImageRef,
    /// Creation time (epoch seconds).
    pub create_time: i64,
}

/// An instance's image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ImageRef {
    /// Image id.
    pub image_identity: String,
}

/// `ListInstances` filters (empty = no filter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceQuery {
    /// Cloud servers.
    pub cloud_server_ids: Vec<String>,
    /// Instances.
    pub instance_ids: Vec<String>,
    /// Names.
    pub names: Vec<String>,
    /// Statuses.
    pub statuses: Vec<String>,
    /// Tag filters: key and accepted values (empty = any).
    pub tags: Vec<(String, Vec<String>)>,
}
