//! EdgeInstance (namespaced): one edge instance — flavor, image, site, volumes, network references,
//! public bandwidth and power state. Also the building blocks the EdgeCloud template reuses
//! ([`RootVolume`], [`DataVolume`], [`Bandwidth`], [`PowerState`], [`IecInstanceSpec`]). On clouds
//! whose instances live in a fleet (veEN: a cloud server) the instance names the fleet it joins
//! (`spec.fleetRef` / `spec.fleetId`); provider sections (`spec.iec`, `spec.veen`) are checked against
//! the ProviderConfig's cloud by the controller.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    DeletionPolicy, LocalObjectRef, ManagementPolicy, PendingOperation, ProviderConfigRef, SecretKeyRef,
    impl_managed_spec, impl_managed_status, rule_adopt_id_immutable, rule_observe_only_needs_adopt_id,
    rule_provider_config_immutable,
};
use super::condition::Condition;
use crate::provider::{
    Charging, IecInstanceExt, InstanceExt, LuchenInstanceExt, LuchenStorage, ModelArtsInstanceExt,
    PowerModes, ProviderKind, VeenInstanceExt,
};

/// Desired power state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PowerState {
    /// Running (default): a stopped instance is started.
    #[default]
    Running,
    /// Stopped: a running instance is shut down.
    Stopped,
}

/// System disk.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RootVolume {
    /// Disk type offered by the site, e.g. SATA, SAS or SSD.
    #[serde(rename = "type")]
    #[schemars(length(min = 1, max = 32))]
    pub type_: String,
    /// Size in GB (1–32768). The cloud's own range is checked before a create (IEC: 40–100); a size
    /// outside it stalls the object `InvalidSpec` naming `spec.rootVolume.size`.
    #[schemars(range(min = 1, max = 32768))]
    pub size: i32,
}

impl RootVolume {
    /// Whether the spec leaves the system disk unset (clouds whose instance type fixes it: Luchen).
    pub fn is_unset(&self) -> bool {
        self.type_.is_empty() && self.size == 0
    }
}

/// Data disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolume {
    /// Disk type offered by the site, e.g. SATA, SAS or SSD.
    #[serde(rename = "type")]
    #[schemars(length(min = 1, max = 32))]
    pub type_: String,
    /// Size in GB (1–32768). The cloud's own range is checked before a create (IEC: 1–500).
    #[schemars(range(min = 1, max = 32768))]
    pub size: i32,
}

/// How a public bandwidth is shared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum BandwidthShareType {
    /// Shared bandwidth (the only IEC type).
    #[default]
    Whole,
}

impl BandwidthShareType {
    /// The value as the cloud spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Whole => "WHOLE",
        }
    }
}

/// Public (EIP) bandwidth created together with the instance(s).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bandwidth {
    /// Bandwidth name (1–64 characters); the cloud picks one when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub name: Option<String>,
    /// Size in Mbit/s (1–2000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2000))]
    pub size: Option<i32>,
    /// WHOLE (shared bandwidth; default and the only IEC value).
    #[serde(default)]
    pub share_type: BandwidthShareType,
    /// Billing mode, e.g. `95peak_plus` (IEC's only mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32))]
    pub charge_mode: Option<String>,
    /// Shared-bandwidth type to join (IEC bandwidth_type); one is created when none of that type exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 36))]
    pub bandwidth_type: Option<String>,
}

/// Soft or hard power operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum PowerActionType {
    /// Graceful (default).
    #[default]
    Soft,
    /// Forced.
    Hard,
}

/// IEC-specific instance settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IecInstanceSpec {
    /// Whether IEC prefixes the instance name with its site code (e.g. `IEC-ZS01-<name>`). Default
    /// false, so the cloud name stays predictable. Immutable in effect (applies at creation).
    #[serde(default)]
    pub with_prefix: bool,
    /// SOFT (default) or HARD reboot for reboot requests.
    #[serde(default)]
    pub reboot_type: PowerActionType,
    /// SOFT (default) or HARD stop when powerState becomes Stopped.
    #[serde(default)]
    pub stop_type: PowerActionType,
}

/// veEN-specific instance settings: what `CreateInstance` takes beyond the common fields (the spec,
/// image, disks, network and login of a veEN instance are its cloud server's).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.createTimeoutSeconds) || self.createTimeoutSeconds >= 120").message("spec.veen.createTimeoutSeconds must be at least 120 (veEN's minimum)"))]
pub struct VeenInstanceSpec {
    /// How long veEN may take to open the instance, in seconds (≥ 120; `create_instance_timeout`,
    /// post-paid only). Exceeded: the instance ends `open_fail` (Stalled InstanceFailed). Unset: veEN's
    /// default. Applies at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 86400))]
    pub create_timeout_seconds: Option<i32>,
    /// The instance's host name (`host_name_list`; 1–64 letters, digits, `-` and `.`). Unset: veEN's
    /// default. Applies at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 64),
        pattern(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
    )]
    pub host_name: Option<String>,
}

impl VeenInstanceSpec {
    /// As the provider's domain value.
    pub fn ext(&self) -> InstanceExt {
        InstanceExt::Veen(VeenInstanceExt {
            create_timeout_seconds: self.create_timeout_seconds.and_then(|t| u32::try_from(t).ok()),
            host_name: self.host_name.clone(),
        })
    }
}

/// ModelArts DevServer server type (`server_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ModelArtsServerType {
    /// Bare-metal server.
    #[serde(rename = "BMS")]
    Bms,
    /// Elastic cloud server.
    #[serde(rename = "ECS")]
    Ecs,
    /// Supernode (logs in with a key pair only).
    #[serde(rename = "HPS")]
    Hps,
}

/// ModelArts DevServer architecture (`arch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ModelArtsArch {
    /// x86-64.
    #[serde(rename = "X86")]
    X86,
    /// ARM (Ascend).
    #[serde(rename = "ARM")]
    Arm,
}

/// How a DevServer is paid for (`charging_info.charging_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ModelArtsChargingMode {
    /// Pay-per-use (default): the create returns the server.
    #[default]
    #[serde(rename = "POST_PAID")]
    PostPaid,
    /// Prepaid for a period: the create returns a billing order; the server exists once it is paid.
    #[serde(rename = "PRE_PAID")]
    PrePaid,
}

/// The unit of a prepaid period (`charging_info.period_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ModelArtsPeriodType {
    /// Hours.
    #[serde(rename = "HOUR")]
    Hour,
    /// Days.
    #[serde(rename = "DAY")]
    Day,
    /// Weeks.
    #[serde(rename = "WEEK")]
    Week,
    /// Months.
    #[serde(rename = "MONTH")]
    Month,
    /// Years.
    #[serde(rename = "YEAR")]
    Year,
}

impl ModelArtsPeriodType {
    /// As the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "HOUR",
            Self::Day => "DAY",
            Self::Week => "WEEK",
            Self::Month => "MONTH",
            Self::Year => "YEAR",
        }
    }
}

/// DevServer billing (`charging_info`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.mode != 'PRE_PAID' || (has(self.periodType) && has(self.periodNum))").message("spec.modelArts.charging: PRE_PAID needs periodType and periodNum"))]
#[x_kube(validation = Rule::new("self.mode != 'POST_PAID' || (!has(self.periodType) && !has(self.periodNum) && !self.autoRenew)").message("spec.modelArts.charging: periodType, periodNum and autoRenew are for PRE_PAID only"))]
pub struct ModelArtsCharging {
    /// POST_PAID (pay-per-use, default) or PRE_PAID (a billing order for a period).
    #[serde(default)]
    pub mode: ModelArtsChargingMode,
    /// HOUR, DAY, WEEK, MONTH or YEAR (PRE_PAID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_type: Option<ModelArtsPeriodType>,
    /// How many periods (1–11; PRE_PAID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 11))]
    pub period_num: Option<i32>,
    /// Renew the subscription automatically when it ends (PRE_PAID; default false).
    #[serde(default)]
    pub auto_renew: bool,
    /// Pay the order from the account balance at once (PRE_PAID; default false: the order waits for
    /// payment in the billing center, and the object is Reconciling with the order's state).
    #[serde(default)]
    pub auto_pay: bool,
}

/// ModelArts DevServer settings: what `POST /v1/{project_id}/dev-servers` takes beyond the common
/// fields (the flavor is its name, the image its UUID, the network one VPC, one subnet and one security
/// group by id). Applied at creation; immutable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.hpsClusterId) || (has(self.serverType) && self.serverType == 'HPS')").message("spec.modelArts.hpsClusterId is for serverType HPS only"))]
pub struct ModelArtsInstanceSpec {
    /// BMS, ECS or HPS (`server_type`). Unset: the flavor's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_type: Option<ModelArtsServerType>,
    /// X86 or ARM (`arch`). Unset: the flavor's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<ModelArtsArch>,
    /// Availability zone, e.g. `cn-north-4a` (where a DevServer is placed; spec.placement stays empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), pattern(r"^[-_.a-zA-Z0-9]+$"))]
    pub availability_zone: Option<String>,
    /// RoCE network id (`network.roce_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub roce_id: Option<String>,
    /// IPv6 on the server's NIC (`network.ipv6_enable`, default false).
    #[serde(default)]
    pub ipv6: bool,
    /// Enterprise project (`enterprise_project_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 36), pattern(r"^[-_.a-zA-Z0-9]+$"))]
    pub enterprise_project_id: Option<String>,
    /// Supernode cluster (`hps_cluster_id`, serverType HPS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub hps_cluster_id: Option<String>,
    /// Billing: pay-per-use (default) or prepaid for a period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charging: Option<ModelArtsCharging>,
}

impl ModelArtsInstanceSpec {
    /// As the provider's domain value.
    pub fn ext(&self) -> InstanceExt {
        let charging = self.charging.as_ref().map(|c| match c.mode {
            ModelArtsChargingMode::PostPaid => Charging::PostPaid,
            ModelArtsChargingMode::PrePaid => Charging::PrePaid {
                period_type: c
                    .period_type
                    .map_or("MONTH", ModelArtsPeriodType::as_str)
                    .to_owned(),
                period_num: c.period_num.and_then(|n| u32::try_from(n).ok()).unwrap_or(1),
                auto_renew: c.auto_renew,
                auto_pay: c.auto_pay,
            },
        });
        let text = |t: Option<&str>| t.map(str::to_owned);
        InstanceExt::ModelArts(ModelArtsInstanceExt {
            server_type: self.server_type.map(|t| {
                match t {
                    ModelArtsServerType::Bms => "BMS",
                    ModelArtsServerType::Ecs => "ECS",
                    ModelArtsServerType::Hps => "HPS",
                }
                .to_owned()
            }),
            arch: self.arch.map(|a| {
                match a {
                    ModelArtsArch::X86 => "X86",
                    ModelArtsArch::Arm => "ARM",
                }
                .to_owned()
            }),
            availability_zone: text(self.availability_zone.as_deref()),
            roce_id: text(self.roce_id.as_deref()),
            ipv6: self.ipv6,
            enterprise_project_id: text(self.enterprise_project_id.as_deref()),
            hps_cluster_id: text(self.hps_cluster_id.as_deref()),
            charging,
        })
    }
}

/// How a Luchen instance is billed (`billing.chargeMode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum LuchenChargeMode {
    /// By the hour at the tide (off-peak) price.
    #[serde(rename = "tidePerHour")]
    TidePerHour,
    /// By the hour (default).
    #[default]
    #[serde(rename = "perHour")]
    PerHour,
    /// Subscribed for `duration` days.
    #[serde(rename = "perDay")]
    PerDay,
    /// Subscribed for `duration` weeks.
    #[serde(rename = "perWeek")]
    PerWeek,
    /// Subscribed for `duration` months.
    #[serde(rename = "perMonth")]
    PerMonth,
}

impl LuchenChargeMode {
    /// As the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TidePerHour => "tidePerHour",
            Self::PerHour => "perHour",
            Self::PerDay => "perDay",
            Self::PerWeek => "perWeek",
            Self::PerMonth => "perMonth",
        }
    }
}

/// Luchen billing (`billing`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(self.chargeMode in ['perHour', 'tidePerHour']) || self.duration == 1").message("spec.luchen.billing.duration must be 1 for perHour and tidePerHour").field_path(".duration"))]
pub struct LuchenBilling {
    /// tidePerHour, perHour (default), perDay, perWeek or perMonth.
    #[serde(default)]
    pub charge_mode: LuchenChargeMode,
    /// Periods subscribed (1–365; 1 for the hourly modes).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 365))]
    pub duration: i32,
}

fn one() -> i32 {
    1
}

impl Default for LuchenBilling {
    fn default() -> Self {
        Self {
            charge_mode: LuchenChargeMode::PerHour,
            duration: 1,
        }
    }
}

/// The kind of a Luchen remote storage (`remoteStorages[].type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum LuchenStorageType {
    /// High-speed storage.
    #[serde(rename = "highspeedstorage")]
    HighSpeedStorage,
    /// File system.
    #[serde(rename = "filesystem")]
    FileSystem,
}

/// A Luchen remote storage mounted into the instance (`remoteStorages[]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LuchenRemoteStorage {
    /// Absolute path in the instance, e.g. `/root/highspeedstorage/example-volume`.
    #[schemars(length(min = 2, max = 256), pattern(r"^/"))]
    pub mount_path: String,
    /// The storage's name (`remoteStorageName`).
    #[schemars(length(min = 1, max = 128))]
    pub name: String,
    /// The storage's id (`remoteStorageId`).
    #[schemars(length(min = 1, max = 64))]
    pub id: String,
    /// highspeedstorage or filesystem.
    #[serde(rename = "type")]
    pub type_: LuchenStorageType,
}

/// Luchen GPU instance settings: what `POST /api/instance/create` takes beyond the common fields (the
/// instance type id is `spec.flavor`, the image id `spec.image`, the region id
/// `spec.placement.siteId`, the init script the user data; Luchen has no network, disks or login
/// fields, so `spec.rootVolume` stays unset). Applied at creation; immutable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.dockerStorageSizeGb) || self.enableDocker").message("spec.luchen.dockerStorageSizeGb needs spec.luchen.enableDocker: true").field_path(".dockerStorageSizeGb"))]
#[x_kube(validation = Rule::new("!has(self.nodePorts) || self.nodePorts.all(p, self.nodePorts.exists_one(q, q == p))").message("spec.luchen.nodePorts must not list a port twice").field_path(".nodePorts"))]
pub struct LuchenInstanceSpec {
    /// Billing: perHour × 1 by default.
    #[serde(default)]
    pub billing: LuchenBilling,
    /// A spot (preemptible) instance (`isSpotInstance`, default false).
    #[serde(default)]
    pub spot: bool,
    /// Remote storages to mount (at most 16).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub remote_storages: Vec<LuchenRemoteStorage>,
    /// Docker inside the instance (`enableDocker`, default false).
    #[serde(default)]
    pub enable_docker: bool,
    /// Docker storage in GB (1–10240; needs enableDocker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10240))]
    pub docker_storage_size_gb: Option<i32>,
    /// Mount Luchen's public data sets (`enableCommonData`, default false).
    #[serde(default)]
    pub enable_common_data: bool,
    /// An extra data disk in GB (1–65536; `extraDataDiskSizeDB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65536))]
    pub extra_data_disk_size_gb: Option<i32>,
    /// Instance ports to expose on node ports of the region's node (at most 16, each once); status
    /// shows the node port each got.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(range(min = 1, max = 65535)))]
    pub node_ports: Vec<i32>,
}

impl LuchenInstanceSpec {
    /// As the provider's domain value.
    pub fn ext(&self) -> InstanceExt {
        let size = |v: Option<i32>| v.and_then(|x| u32::try_from(x).ok());
        InstanceExt::Luchen(LuchenInstanceExt {
            charge_mode: self.billing.charge_mode.as_str().to_owned(),
            duration: u32::try_from(self.billing.duration).unwrap_or_default(),
            spot: self.spot,
            remote_storages: self
                .remote_storages
                .iter()
                .map(|r| LuchenStorage {
                    mount_path: r.mount_path.clone(),
                    name: r.name.clone(),
                    id: r.id.clone(),
                    storage_type: match r.type_ {
                        LuchenStorageType::HighSpeedStorage => "highspeedstorage",
                        LuchenStorageType::FileSystem => "filesystem",
                    }
                    .to_owned(),
                })
                .collect(),
            enable_docker: self.enable_docker,
            docker_storage_size_gb: size(self.docker_storage_size_gb),
            enable_common_data: self.enable_common_data,
            extra_data_disk_size_gb: size(self.extra_data_disk_size_gb),
            // Out-of-range ports become 0, which the provider's validation names.
            node_ports: self
                .node_ports
                .iter()
                .map(|p| u16::try_from(*p).unwrap_or(0))
                .collect(),
        })
    }
}

/// Where a single instance runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstancePlacement {
    /// Edge site id. Clouds that place single instances by site need it (IEC: checked before a create;
    /// `GET /v1/sites` lists them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub site_id: Option<String>,
    /// Area (region-level grouping, e.g. `south`) for providers that place by area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub area: Option<String>,
    /// Province (English name, e.g. `guangdong`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub province: Option<String>,
    /// City (English name, e.g. `guangzhou`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub city: Option<String>,
    /// Carrier / ISP, e.g. chinamobile, chinaunicom, chinatelecom, bgp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32))]
    pub operator: Option<String>,
    /// IEC line (pool id) in which the public IP is created, e.g. `5_bgp_site1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub pool_id: Option<String>,
}

/// One NIC's subnet: by name (a subnet of the referenced Vpc) or by literal cloud id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.name) != has(self.id)").message("spec.network.subnets[]: exactly one of name and id must be set"))]
pub struct SubnetSelector {
    /// Subnet name within the referenced Vpc (needs network.vpcRef).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub name: Option<String>,
    /// Cloud subnet id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub id: Option<String>,
}

/// The instance's network: one VPC, its subnets (one NIC each) and security groups.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.vpcRef) && has(self.vpcId))").message("spec.network: at most one of vpcRef and vpcId may be set"))]
#[x_kube(validation = Rule::new("has(self.vpcRef) || !has(self.subnets) || self.subnets.all(s, has(s.id))").message("spec.network.subnets[].name needs spec.network.vpcRef (with vpcId, give subnet ids)").field_path(".subnets"))]
#[x_kube(validation = Rule::new("has(self.vpcRef) == has(oldSelf.vpcRef) && (!has(self.vpcRef) || self.vpcRef.name == oldSelf.vpcRef.name) && has(self.vpcId) == has(oldSelf.vpcId) && (!has(self.vpcId) || self.vpcId == oldSelf.vpcId)").message("spec.network.vpcRef/vpcId is immutable: an instance cannot move to another VPC"))]
#[x_kube(validation = Rule::new("has(self.subnets) == has(oldSelf.subnets) && (!has(self.subnets) || (size(self.subnets) > 0 && size(oldSelf.subnets) > 0 && self.subnets[0] == oldSelf.subnets[0]))").message("spec.network.subnets[0] (the primary NIC) is immutable, and the list cannot be added or removed as a whole; entries after the first can change (NICs are added or removed)").field_path(".subnets"))]
pub struct InstanceNetwork {
    /// The Vpc object (same namespace) whose cloud VPC the instance joins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_ref: Option<LocalObjectRef>,
    /// Literal cloud VPC id (instead of vpcRef).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub vpc_id: Option<String>,
    /// Subnets, one NIC each (at most 8). Empty: the VPC's subnet at the instance's site. The first entry
    /// (the primary NIC) is immutable; entries after it can be added or removed (NICs are added to or
    /// removed from the running instance).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    pub subnets: Vec<SubnetSelector>,
    /// SecurityGroup objects (same namespace) applied to the NICs. Combined with securityGroupIds; both
    /// empty means the account's default group. Can be changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub security_group_refs: Vec<LocalObjectRef>,
    /// Literal cloud security group ids applied to the NICs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(min = 1, max = 64)))]
    pub security_group_ids: Vec<String>,
}

/// Desired state of an EdgeInstance.
// The kube attribute repeats `type_ = "string"` per printer column, which clippy mistakes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "edgefleet.io",
    version = "v1alpha1",
    kind = "EdgeInstance",
    namespaced,
    status = "EdgeInstanceStatus",
    shortname = "ei",
    category = "edgefleet",
    derive = "PartialEq",
    selectable = ".spec.providerConfigRef.name",
    doc = "EdgeInstance is one edge instance: flavor, image, site, volumes, network references and power state. Members of an EdgeCloud appear as EdgeInstances it owns.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Synced",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Synced")].status"#
    ),
    printcolumn(name = "Instance-Id", type_ = "string", json_path = ".status.instanceId"),
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "Site", type_ = "string", json_path = ".status.siteId"),
    printcolumn(
        name = "Private-IP",
        type_ = "string",
        json_path = ".status.privateIps[0]",
        priority = 1
    ),
    printcolumn(
        name = "Public-IP",
        type_ = "string",
        json_path = ".status.publicIps[0]",
        priority = 1
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = rule_adopt_id_immutable())]
#[x_kube(validation = rule_observe_only_needs_adopt_id())]
#[x_kube(validation = Rule::new("has(self.dataVolumes) == has(oldSelf.dataVolumes)").message("spec.dataVolumes is immutable").field_path(".dataVolumes"))]
#[x_kube(validation = Rule::new("has(self.bandwidth) == has(oldSelf.bandwidth)").message("spec.bandwidth cannot be added or removed after creation").field_path(".bandwidth"))]
#[x_kube(validation = Rule::new("!(has(self.fleetRef) && has(self.fleetId))").message("spec.fleetRef, spec.fleetId: at most one may be set"))]
#[x_kube(validation = Rule::new("has(self.fleetRef) == has(oldSelf.fleetRef) && (!has(self.fleetRef) || self.fleetRef.name == oldSelf.fleetRef.name) && has(self.fleetId) == has(oldSelf.fleetId) && (!has(self.fleetId) || self.fleetId == oldSelf.fleetId)").message("spec.fleetRef/fleetId is immutable: an instance cannot move to another fleet"))]
#[x_kube(validation = Rule::new("(has(self.iec) ? 1 : 0) + (has(self.veen) ? 1 : 0) + (has(self.modelArts) ? 1 : 0) + (has(self.luchen) ? 1 : 0) <= 1").message("spec.iec, spec.veen, spec.modelArts, spec.luchen: at most one provider section may be set"))]
#[x_kube(validation = Rule::new("has(self.modelArts) == has(oldSelf.modelArts)").message("spec.modelArts cannot be added or removed after creation").field_path(".modelArts"))]
#[x_kube(validation = Rule::new("!has(self.modelArts) || !(has(self.keyName) && has(self.adminPasswordSecretRef))").message("spec.keyName, spec.adminPasswordSecretRef: a ModelArts DevServer logs in with one of them, not both"))]
#[x_kube(validation = Rule::new("has(self.luchen) == has(oldSelf.luchen)").message("spec.luchen cannot be added or removed after creation").field_path(".luchen"))]
#[x_kube(validation = Rule::new("has(self.rootVolume) || has(self.luchen)").message("spec.rootVolume is required (only a Luchen instance, whose instance type fixes its disk, leaves it unset)").field_path(".rootVolume"))]
pub struct EdgeInstanceSpec {
    /// The ProviderConfig (cloud account) that manages this instance. Immutable.
    #[x_kube(validation = rule_provider_config_immutable())]
    pub provider_config_ref: ProviderConfigRef,
    /// Delete (default) deletes the cloud instance (IEC also deletes its EIPs and disks) when this object
    /// is deleted; Orphan leaves it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Manage (default) or ObserveOnly (never change the cloud; needs adoptId at creation).
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// Id of an existing cloud instance to adopt instead of creating one (explicit only). EdgeCloud sets
    /// it on the members it mirrors. Only settable at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub adopt_id: Option<String>,
    /// Cloud instance name (1–128 characters). Defaults to metadata.name. Can be changed (the cloud
    /// renames the instance). The cloud's own name rules are checked before it is sent (IEC: 1–48
    /// letters, digits, Chinese, `-`, `_` on create; up to 64 and `.` on a rename); a name outside them
    /// stalls the object `InvalidSpec` naming `spec.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub name: Option<String>,
    /// Cloud description (0–85 characters, no `<` or `>`). Can be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 85), pattern(r"^[^<>]*$"))]
    pub description: Option<String>,
    /// Flavor id, e.g. `c6.large.2`. A change is applied where the cloud can resize; where it cannot
    /// (IEC) the object stalls `UnsupportedChange` naming the flavor.
    #[schemars(length(min = 1, max = 64))]
    pub flavor: String,
    /// Image id. Changing it reinstalls the system disk (the instance is stopped, its OS changed, and
    /// powerState restored); IPs and data disks are kept.
    #[schemars(length(min = 1, max = 64))]
    pub image: String,
    /// Where the instance runs (what the cloud needs is checked before a create). Immutable.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.placement is immutable: an instance cannot move to another site"))]
    pub placement: InstancePlacement,
    /// System disk. Immutable. Required, except on Luchen (whose instance type fixes the disk: leave
    /// it unset there).
    #[serde(default, skip_serializing_if = "RootVolume::is_unset")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.rootVolume is immutable"))]
    pub root_volume: RootVolume,
    /// Data disks (at most 16; the cloud's own limit is checked before a create, IEC: 2). Immutable: IEC
    /// offers no attach/resize API.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.dataVolumes is immutable"))]
    pub data_volumes: Vec<DataVolume>,
    /// VPC, subnets and security groups. Optional where the cloud needs no network (IEC needs a VPC:
    /// checked before a create; veEN takes a custom VPC and at most one subnet, and the security groups are
    /// the cloud server's).
    #[serde(default)]
    pub network: InstanceNetwork,
    /// The fleet (veEN cloud server, later Workspace server group) the instance joins, for clouds where
    /// instances live in a fleet: an EdgeCloud in the same namespace whose `status.edgeCloudId` is the
    /// fleet (the controller waits until it has one). Clouds that create standalone instances (IEC)
    /// reject it (Stalled InvalidSpec naming spec.fleetRef); clouds that need one stall a create without
    /// it the same way. At most one of fleetRef and fleetId. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_ref: Option<LocalObjectRef>,
    /// Literal cloud fleet id (veEN `cloudserver-…`) instead of fleetRef. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub fleet_id: Option<String>,
    /// Public bandwidth (an EIP per NIC line); unset: no public IP. Cannot be added or removed later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<Bandwidth>,
    /// Key pair name for login (1–64 characters). Applied at creation and when the image changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub key_name: Option<String>,
    /// Secret key holding the initial root/Administrator password (IEC: 8–26 characters, 3 of upper,
    /// lower, digit, special). Applied at creation only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password_secret_ref: Option<SecretKeyRef>,
    /// Secret key holding user data (cloud-init) passed at creation and at image change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data_secret_ref: Option<SecretKeyRef>,
    /// Running (default) or Stopped. To reboot, set the annotation `edgefleet.io/reboot-request` to a
    /// new value.
    #[serde(default)]
    pub power_state: PowerState,
    /// IEC-specific settings (only for a ProviderConfig of provider Iec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iec: Option<IecInstanceSpec>,
    /// veEN-specific settings (only for a ProviderConfig of provider Veen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub veen: Option<VeenInstanceSpec>,
    /// ModelArts DevServer settings (only for a ProviderConfig of provider ModelArts): server type,
    /// architecture, availability zone, billing. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.modelArts is immutable: ModelArts applies it at creation"))]
    pub model_arts: Option<ModelArtsInstanceSpec>,
    /// Luchen GPU instance settings (only for a ProviderConfig of provider Luchen): billing, storages,
    /// Docker, node ports. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.luchen is immutable: Luchen applies it at creation"))]
    pub luchen: Option<LuchenInstanceSpec>,
}

impl_managed_spec!(EdgeInstanceSpec);

impl EdgeInstanceSpec {
    /// The provider section as the provider's domain value (controllers pass it on unread).
    pub fn provider_ext(&self) -> InstanceExt {
        if let Some(model_arts) = &self.model_arts {
            return model_arts.ext();
        }
        if let Some(luchen) = &self.luchen {
            return luchen.ext();
        }
        match (&self.iec, &self.veen) {
            (Some(iec), _) => iec.ext(),
            (None, Some(veen)) => veen.ext(),
            (None, None) => InstanceExt::None,
        }
    }

    /// The provider sections that are set, each with its field path and the cloud it is for (the
    /// controller refuses one that is not the ProviderConfig's cloud).
    pub fn provider_sections(&self) -> Vec<(&'static str, ProviderKind)> {
        let mut out = Vec::new();
        if self.iec.is_some() {
            out.push(("spec.iec", ProviderKind::Iec));
        }
        if self.veen.is_some() {
            out.push(("spec.veen", ProviderKind::Veen));
        }
        if self.model_arts.is_some() {
            out.push(("spec.modelArts", ProviderKind::ModelArts));
        }
        if self.luchen.is_some() {
            out.push(("spec.luchen", ProviderKind::Luchen));
        }
        out
    }

    /// Whether the spec names a fleet to join (fleetRef or fleetId).
    pub fn names_fleet(&self) -> bool {
        self.fleet_ref.is_some() || self.fleet_id.is_some()
    }

    /// How stops and reboots are done (graceful unless the provider section asks for HARD).
    pub fn power_modes(&self) -> PowerModes {
        self.iec
            .as_ref()
            .map_or(PowerModes::default(), IecInstanceSpec::power_modes)
    }
}

impl IecInstanceSpec {
    /// As the provider's domain value.
    pub fn ext(&self) -> InstanceExt {
        InstanceExt::Iec(IecInstanceExt {
            with_prefix: self.with_prefix,
        })
    }

    /// SOFT/HARD as power modes.
    pub fn power_modes(&self) -> PowerModes {
        PowerModes {
            hard_stop: self.stop_type == PowerActionType::Hard,
            hard_reboot: self.reboot_type == PowerActionType::Hard,
        }
    }
}

/// An instance port and the node port it is reachable on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodePortStatus {
    /// The port inside the instance.
    pub port: i32,
    /// The node's port.
    pub node_port: i32,
}

/// Observed state of an EdgeInstance.
///
/// Reads as `{observedGeneration: -1}` (the schema default) until the operator writes it, so a new
/// object is in progress for GitOps tools from its first read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::api::common::unobserved_status_default)]
pub struct EdgeInstanceStatus {
    /// The metadata.generation last acted on; -1 until the operator has written status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Synced, Reconciling, Stalled (reasons in docs/conditions.md).
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Cloud instance id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Observed cloud name (IEC may have added a prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Cloud state as reported (IEC: BUILD, ACTIVE, SHUTOFF, FAILED, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Observed power state: Running, Stopped or Unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_state: Option<String>,
    /// Site the instance runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    /// Carrier of the instance's line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Private (fixed) addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub private_ips: Vec<String>,
    /// Public (floating / EIP) addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_ips: Vec<String>,
    /// Observed flavor id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flavor: Option<String>,
    /// Observed image id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Edge cloud the instance belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge_cloud_id: Option<String>,
    /// The value of the `edgefleet.io/reboot-request` annotation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reboot_request: Option<String>,
    /// The billing order of a prepaid create (ModelArts PRE_PAID), recorded before anything else once
    /// the cloud answers with it; the object is Reconciling until the order is paid and its server
    /// found, and no second order is placed for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// The order's state as last read (pending payment, processing, completed, cancelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_state: Option<String>,
    /// How to log in, as the cloud words it (Luchen: `ssh root@<host> -p <port>`, once the instance
    /// has run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_address: Option<String>,
    /// Instance ports exposed on node ports (Luchen `spec.luchen.nodePorts`, with the node port each got).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_ports: Vec<NodePortStatus>,
    /// Crash-safety intent of an in-flight create (IEC returns the server id in the create response;
    /// the intent covers a crash before that id is recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_create: Option<PendingOperation>,
}

impl_managed_status!(EdgeInstanceStatus, instance_id);
