//! Workspace (WorkspaceApp / appstream) wire shapes, in the API's own spelling (seed 004, HW-SDK
//! `services/workspaceapp/v1/model`): server groups, app servers, the v2 job, list envelopes and the
//! catalog (products, volume types, quota check). Every response field is optional and unknown fields
//! are ignored, so a newer server does not break the client; request bodies carry only what is set.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A tag (`TmsTag`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// `route_policy` of a server group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutePolicy {
    /// Sessions per server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session: Option<u32>,
    /// CPU threshold in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_threshold: Option<u32>,
    /// Memory threshold in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_threshold: Option<u32>,
}

/// `CreateServerGroupReq` (seed 004).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CreateServerGroup {
    /// Group name.
    pub name: String,
    /// Image id.
    pub image_id: String,
    /// `gold|public|private|shared|other`.
    pub image_type: String,
    /// Marketplace image product id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_product_id: Option<String>,
    /// `Windows|Linux|Other`.
    pub os_type: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Route policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_policy: Option<RoutePolicy>,
    /// Product id (the template's flavor).
    pub product_id: String,
    /// Flavor id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flavor_id: Option<String>,
    /// VPC id.
    pub vpc_id: String,
    /// Subnet id.
    pub subnet_id: String,
    /// System disk type.
    pub system_disk_type: String,
    /// System disk size (GB).
    pub system_disk_size: u32,
    /// Organisational unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ou_name: Option<String>,
    /// Availability zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// VDI single-session mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_vdi: Option<bool>,
    /// `SESSION_DESKTOP_APP|COMMON_APP`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_type: Option<String>,
    /// Tags (≤ 20).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// `product_info` of a group or server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ProductInfo {
    /// Product id.
    #[serde(default)]
    pub product_id: Option<String>,
    /// Flavor id.
    #[serde(default)]
    pub flavor_id: Option<String>,
    /// CPU.
    #[serde(default)]
    pub cpu: Option<String>,
    /// Memory (MB).
    #[serde(default)]
    pub memory: Option<String>,
    /// Description.
    #[serde(default)]
    pub descriptions: Option<String>,
    /// Sale status (`normal` when absent).
    #[serde(default)]
    pub status: Option<String>,
}

/// A server group.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ServerGroup {
    /// Id.
    #[serde(default)]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Image id (new servers).
    #[serde(default)]
    pub image_id: Option<String>,
    /// OS type.
    #[serde(default)]
    pub os_type: Option<String>,
    /// Product id.
    #[serde(default)]
    pub product_id: Option<String>,
    /// Subnet id.
    #[serde(default)]
    pub subnet_id: Option<String>,
    /// System disk type.
    #[serde(default)]
    pub system_disk_type: Option<String>,
    /// System disk size.
    #[serde(default)]
    pub system_disk_size: Option<u32>,
    /// Availability zone (where the API shows it).
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// Enabled.
    #[serde(default)]
    pub server_group_status: Option<bool>,
    /// Servers in the group.
    #[serde(default)]
    pub app_server_count: Option<u32>,
    /// Product details.
    #[serde(default)]
    pub product_info: Option<ProductInfo>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Created.
    #[serde(default)]
    pub create_time: Option<String>,
}

/// `{count, items}` of a list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Page<T> {
    /// Total matching.
    #[serde(default)]
    pub count: Option<u64>,
    /// This page.
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
}

/// One address of a server (`EcsNetWork`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Address {
    /// IP address.
    #[serde(default)]
    pub addr: Option<String>,
    /// `fixed` or `floating`.
    #[serde(default, rename = "OS-EXT-IPS:type")]
    pub kind: Option<String>,
    /// MAC address.
    #[serde(default, rename = "OS-EXT-IPS-MAC:mac_addr")]
    pub mac: Option<String>,
    /// Port id.
    #[serde(default, rename = "OS-EXT-IPS:port_id")]
    pub port_id: Option<String>,
    /// VPC id.
    #[serde(default)]
    pub vpc_id: Option<String>,
    /// Subnet id.
    #[serde(default)]
    pub subnet_id: Option<String>,
}

/// `flavor` of a server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct FlavorRef {
    /// Flavor id.
    #[serde(default)]
    pub id: Option<String>,
}

/// An application server (`AppServer`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AppServer {
    /// Id.
    #[serde(default)]
    pub id: String,
    /// Name (the cloud's; a create takes none).
    #[serde(default)]
    pub name: String,
    /// Machine name.
    #[serde(default)]
    pub machine_name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Group.
    #[serde(default)]
    pub server_group_id: Option<String>,
    /// Flavor.
    #[serde(default)]
    pub flavor: Option<FlavorRef>,
    /// Registration: `UNREGISTER|REGISTERED|MAINTAINING|FREEZE|STOPPED|NONE`.
    #[serde(default)]
    pub status: Option<String>,
    /// VM state: `BUILD|BUILD_FAIL|ACTIVE|SHUTOFF|ERROR|DELETING|REBOOT|…`.
    #[serde(default)]
    pub vm_status: Option<String>,
    /// Task state.
    #[serde(default)]
    pub task_status: Option<String>,
    /// Image id.
    #[serde(default)]
    pub image_id: Option<String>,
    /// Availability zone.
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// The last job on the server.
    #[serde(default)]
    pub job_id: Option<String>,
    /// Its type.
    #[serde(default)]
    pub job_type: Option<String>,
    /// Its status.
    #[serde(default)]
    pub job_status: Option<String>,
    /// Prepaid order.
    #[serde(default)]
    pub order_id: Option<String>,
    /// Made by the cloud's autoscaling.
    #[serde(default)]
    pub scaling_auto_create: Option<bool>,
    /// Product details.
    #[serde(default)]
    pub product_info: Option<ProductInfo>,
    /// Addresses.
    #[serde(default)]
    pub host_address: Vec<Address>,
    /// Metadata (`vpc_id`, charging mode, …).
    #[serde(default)]
    pub metadata: Option<std::collections::BTreeMap<String, String>>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Created.
    #[serde(default)]
    pub create_time: Option<String>,
}

/// `root_volume` of a server create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RootVolume {
    /// Disk type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Size (GB).
    pub size: u32,
}

/// `CreateAppServerReq` (`POST …/app-servers/actions/create`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CreateAppServers {
    /// Always `createApps`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Group.
    pub server_group_id: String,
    /// How many.
    pub subscription_num: u32,
    /// Product id.
    pub product_id: String,
    /// Flavor id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flavor_id: Option<String>,
    /// System disk.
    pub root_volume: RootVolume,
    /// VPC.
    pub vpc_id: String,
    /// Subnet.
    pub subnet_id: String,
    /// Zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// OS type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_type: Option<String>,
    /// Organisational unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ou_name: Option<String>,
}

/// The answer of a server create or delete: a job (on-demand) or an order (prepaid).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct JobAnswer {
    /// Job id.
    #[serde(default)]
    pub job_id: Option<String>,
    /// Order id.
    #[serde(default)]
    pub order_id: Option<String>,
}

/// `job_resource_info` of a sub-job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct JobResource {
    /// The server the sub-job made or acted on.
    #[serde(default)]
    pub resource_id: Option<String>,
    /// Its name.
    #[serde(default)]
    pub resource_name: Option<String>,
}

/// A sub-job of a v2 job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SubJob {
    /// Id.
    #[serde(default)]
    pub id: Option<String>,
    /// `WAITING|RUNNING|SUCCESS|FAILED|ABNORMAL|ROLLBACK|ABORTING`.
    #[serde(default)]
    pub status: Option<String>,
    /// The resource.
    #[serde(default)]
    pub job_resource_info: Option<JobResource>,
    /// Failure code.
    #[serde(default)]
    pub error_code: Option<String>,
    /// Failure text.
    #[serde(default)]
    pub error_message: Option<String>,
}

/// A v2 job (`GET /v2/{project_id}/job/{job_id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Job {
    /// Id.
    #[serde(default)]
    pub id: Option<String>,
    /// `CREATE_SERVER|DELETE_SERVER|…`.
    #[serde(default)]
    pub job_type: Option<String>,
    /// `WAITING|RUNNING|SUCCESS|FAILED`.
    #[serde(default)]
    pub status: Option<String>,
    /// Progress in percent, where the server reports one.
    #[serde(default)]
    pub progress: Option<Value>,
    /// Sub-jobs in total.
    #[serde(default)]
    pub sub_jobs_total: Option<u32>,
    /// Sub-jobs.
    #[serde(default)]
    pub sub_jobs: Vec<SubJob>,
    /// Failure code of the job itself.
    #[serde(default)]
    pub error_code: Option<String>,
    /// Failure text of the job itself.
    #[serde(default, alias = "fail_reason")]
    pub error_message: Option<String>,
}

/// A product (`GET /v1/{project_id}/product`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Product {
    /// Product id.
    #[serde(default)]
    pub product_id: String,
    /// Flavor id.
    #[serde(default)]
    pub flavor_id: Option<String>,
    /// CPU count.
    #[serde(default)]
    pub cpu: Option<String>,
    /// Memory (MB).
    #[serde(default)]
    pub memory: Option<String>,
    /// Description.
    #[serde(default)]
    pub descriptions: Option<String>,
    /// Sale status (`normal` when absent).
    #[serde(default)]
    pub status: Option<String>,
}

/// A volume type (`GET /v1/{project_id}/volume-type`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct VolumeType {
    /// Type code (`SAS`, `SSD`, …).
    #[serde(default, alias = "resource_spec_code")]
    pub volume_type: String,
}
