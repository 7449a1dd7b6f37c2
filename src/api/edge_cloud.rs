//! EdgeCloud (namespaced): a fleet of instances spread over sites/operators from one instance template,
//! like a Deployment for edge sites. Members appear as EdgeInstances owned by the EdgeCloud and labelled
//! `edgefleet.io/edge-cloud=<name>`. Has the scale subresource, so `kubectl scale` works.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    DURATION_PATTERN, DeletionPolicy, LocalObjectRef, ManagementPolicy, PendingOperation, ProviderConfigRef,
    SecretKeyRef, impl_managed_spec, impl_managed_status, rule_adopt_id_immutable,
    rule_observe_only_needs_adopt_id, rule_provider_config_immutable,
};
use super::condition::Condition;
use super::edge_instance::{
    Bandwidth, DataVolume, EdgeInstanceSpec, IecInstanceSpec, InstanceNetwork, InstancePlacement, PowerState,
    RootVolume,
};
use crate::provider::ProviderKind;

/// Annotation on a member EdgeInstance that makes it the first choice when the fleet scales in (any value).
pub const DELETE_FIRST_ANNOTATION: &str = "edgefleet.io/delete-first";

/// Annotation the EdgeCloud controller sets on a member it replaces because the member stayed
/// building longer than `spec.remediation.buildTimeout` (value: the reason, `BuildTimeout`). Such a
/// member no longer counts towards `spec.replicas` (a replacement is created where it runs) and is
/// deleted as soon as the cloud allows it, once it leaves BUILD.
pub const REPLACE_ANNOTATION: &str = "edgefleet.io/replace";

/// Annotation the EdgeCloud controller sets on each member EdgeInstance: the fingerprint of the
/// template fields the cloud does not report back (root and data volumes, bandwidth, key pair) that the
/// member was created with. A member whose fingerprint differs from the current template's is replaced
/// like one with an outdated flavor.
pub const TEMPLATE_FINGERPRINT_ANNOTATION: &str = "edgefleet.io/template-fingerprint";

/// RE2 pattern of an IEC edge cloud name: letters, digits, Chinese characters, `-`, `_`.
pub const IEC_EDGE_CLOUD_NAME_PATTERN: &str = r"^[-_a-zA-Z0-9\p{Han}]+$";

/// Geographic granularity the placement entries name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum CoverageLevel {
    /// Entries name edge sites by id. IEC cannot expand site-level edge clouds, so scaling out and
    /// replacing members report ScalingBlocked; prefer City.
    Site,
    /// Entries name cities (IEC default).
    #[default]
    City,
    /// Entries name provinces (IEC does not allow a line/pool at this level).
    Province,
    /// Entries name areas (region-level groupings such as `south`).
    Area,
}

/// How instances of one placement entry are spread over the sites of its region.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum CoveragePolicy {
    /// All instances of an entry in the same site (required for level Site).
    #[default]
    Centralize,
    /// Spread instances over different sites of the region where possible.
    Discrete,
}

/// Coverage of the fleet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.level != 'Site' || self.policy == 'Centralize'").message("spec.coverage.policy must be Centralize when spec.coverage.level is Site").field_path(".policy"))]
pub struct Coverage {
    /// Site, City (default), Province or Area. Immutable: IEC expands an edge cloud only at its
    /// original coverage level.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.coverage.level is immutable"))]
    pub level: CoverageLevel,
    /// Centralize (default) or Discrete.
    #[serde(default)]
    pub policy: CoveragePolicy,
}

/// One placement entry: where some of the replicas go.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.count) != has(self.weight)").message("spec.placement[]: exactly one of count and weight must be set"))]
#[x_kube(validation = Rule::new("(has(self.siteId) ? 1 : 0) + (has(self.city) ? 1 : 0) + (has(self.province) ? 1 : 0) + (has(self.area) ? 1 : 0) == 1").message("spec.placement[]: exactly one of siteId, city, province and area must be set"))]
pub struct PlacementEntry {
    /// Edge site id (coverage level Site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub site_id: Option<String>,
    /// City name as the cloud spells it, case-sensitive (coverage level City), e.g. `guangzhou`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub city: Option<String>,
    /// Province name (coverage level Province), e.g. `guangdong`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub province: Option<String>,
    /// Area name (coverage level Area), e.g. `south`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub area: Option<String>,
    /// Carrier / ISP, e.g. chinamobile, chinaunicom, chinatelecom; unset lets the cloud choose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32))]
    pub operator: Option<String>,
    /// IEC line (pool id) for public IPs; not allowed at coverage level Province or Area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub pool_id: Option<String>,
    /// Fixed number of replicas for this entry (0–1000). Exactly one of count and weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub count: Option<i32>,
    /// Relative share of the replicas left after fixed counts (1–1000); remainders go to entries in list
    /// order, so the split is deterministic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub weight: Option<i32>,
}

/// Network of the members: at most one of vpcRef and vpcId. Whether a VPC is needed is the cloud's
/// rule, checked before anything is created (IEC edge clouds need a SYSTEM-mode VPC, the cloud chooses
/// the subnets: without one the object is Stalled InvalidSpec naming spec.template.network; veEN
/// members need none, and a veEN VPC lives in one cluster, so it suits single-cluster fleets only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.vpcRef) && has(self.vpcId))").message("spec.template.network: at most one of vpcRef and vpcId may be set"))]
pub struct TemplateNetwork {
    /// The Vpc object (same namespace; IEC: mode SYSTEM) the members join.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_ref: Option<LocalObjectRef>,
    /// Literal cloud VPC id (instead of vpcRef).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub vpc_id: Option<String>,
    /// NICs per member (1–8, default 1).
    #[serde(default = "default_nic_count")]
    #[schemars(range(min = 1, max = 8))]
    pub nic_count: i32,
    /// SecurityGroup objects (same namespace) for the members; combined with securityGroupIds; both
    /// empty means the account's default group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub security_group_refs: Vec<LocalObjectRef>,
    /// Literal cloud security group ids for the members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(min = 1, max = 64)))]
    pub security_group_ids: Vec<String>,
}

fn default_nic_count() -> i32 {
    1
}

impl Default for TemplateNetwork {
    fn default() -> Self {
        Self {
            vpc_ref: None,
            vpc_id: None,
            nic_count: default_nic_count(),
            security_group_refs: Vec::new(),
            security_group_ids: Vec::new(),
        }
    }
}

/// The member instance template. Changing fields the cloud cannot change in place (flavor, image,
/// volumes, network, bandwidth, name) replaces members following spec.strategy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EdgeInstanceTemplate {
    /// Base name of the members (1–48: letters, digits, Chinese, `-`, `_`, `.`); the cloud appends a
    /// sequence suffix. Defaults to the edge cloud's cloud name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 48), pattern(r"^[-_.a-zA-Z0-9\p{Han}]+$"))]
    pub name: Option<String>,
    /// Flavor id, e.g. `c6.large.2`.
    #[schemars(length(min = 1, max = 64))]
    pub flavor: String,
    /// Image id.
    #[schemars(length(min = 1, max = 64))]
    pub image: String,
    /// System disk.
    pub root_volume: RootVolume,
    /// Data disks (at most 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 2))]
    pub data_volumes: Vec<DataVolume>,
    /// VPC and security groups of the members (optional where the cloud needs no VPC).
    #[serde(default)]
    pub network: TemplateNetwork,
    /// Public bandwidth for the members; unset: no public IPs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<Bandwidth>,
    /// Key pair name for login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub key_name: Option<String>,
    /// Secret key (same namespace) holding the initial root/Administrator password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password_secret_ref: Option<SecretKeyRef>,
    /// Secret key (same namespace) holding user data (cloud-init).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data_secret_ref: Option<SecretKeyRef>,
    /// Power state of the members: Running (default) or Stopped.
    #[serde(default)]
    pub power_state: PowerState,
    /// IEC-specific member settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iec: Option<IecInstanceSpec>,
}

impl EdgeInstanceTemplate {
    /// Whether the cloud prefixes member names with its site code (the template's cloud section).
    pub fn with_prefix(&self) -> bool {
        self.iec.as_ref().is_some_and(|i| i.with_prefix)
    }

    /// The spec of a member EdgeInstance made from this template: its flavor, image, disks, bandwidth,
    /// key, user data, power state and cloud-specific section; the fleet then sets what it observed and
    /// how the member is managed.
    pub fn member_spec(&self, provider_config_ref: ProviderConfigRef) -> EdgeInstanceSpec {
        EdgeInstanceSpec {
            provider_config_ref,
            deletion_policy: DeletionPolicy::Delete,
            management_policy: ManagementPolicy::Manage,
            adopt_id: None,
            name: None,
            description: None,
            flavor: self.flavor.clone(),
            image: self.image.clone(),
            placement: InstancePlacement::default(),
            root_volume: self.root_volume.clone(),
            data_volumes: self.data_volumes.clone(),
            network: InstanceNetwork::default(),
            // Members are adopted by id: they are in their fleet already.
            fleet_ref: None,
            fleet_id: None,
            bandwidth: self.bandwidth.clone(),
            key_name: self.key_name.clone(),
            admin_password_secret_ref: None,
            user_data_secret_ref: self.user_data_secret_ref.clone(),
            power_state: self.power_state,
            iec: self.iec.clone(),
            veen: None,
            model_arts: None,
            luchen: None,
        }
    }
}

/// veEN `schedule_strategy`: how the cloud spreads the instances of one area entry over its clusters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum VeenScheduleStrategy {
    /// Over as many clusters as possible (`dispersion`).
    Dispersion,
    /// In as few clusters as possible (`concentration`).
    Concentration,
}

/// veEN `price_strategy`: which clusters the scheduler prefers by price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum VeenPriceStrategy {
    /// Higher-priced (better) clusters first (`high_priority`).
    HighPriority,
    /// Lower-priced clusters first (`low_priority`).
    LowPriority,
}

/// veEN `billing_config.computing_billing_method` (post-paid).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum VeenComputingBilling {
    /// Monthly peak.
    MonthlyPeak,
    /// Daily peak.
    DailyPeak,
}

/// veEN `billing_config.bandwidth_billing_method`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum VeenBandwidthBilling {
    /// Monthly 95th percentile.
    #[serde(rename = "MonthlyP95")]
    MonthlyP95,
    /// Daily peak.
    DailyPeak,
}

/// Volcengine veEN settings of the cloud server (only for a ProviderConfig of type Veen): the
/// CreateCloudServer fields the common template has no word for. Unset fields keep veEN's defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.priceStrategy) || has(self.scheduleStrategy)").message("spec.veen.priceStrategy needs spec.veen.scheduleStrategy").field_path(".priceStrategy"))]
pub struct VeenEdgeCloudSpec {
    /// Dispersion or Concentration (veEN ignores it for city-level entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_strategy: Option<VeenScheduleStrategy>,
    /// HighPriority or LowPriority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_strategy: Option<VeenPriceStrategy>,
    /// MonthlyPeak or DailyPeak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computing_billing_method: Option<VeenComputingBilling>,
    /// MonthlyP95 or DailyPeak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_billing_method: Option<VeenBandwidthBilling>,
    /// Seconds a new member may take to open (120–86400); a member not running by then is open_fail
    /// and is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 120 && self <= 86400").message("spec.veen.createInstanceTimeoutSeconds must be between 120 and 86400"))]
    pub create_instance_timeout_seconds: Option<i32>,
    /// Volcengine project of the cloud server (default `default`). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.veen.project is immutable"))]
    pub project: Option<String>,
}

/// Workspace `image_type`: where the group's image comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum WorkspaceImageType {
    /// A Workspace gold image (`gold`).
    Gold,
    /// A public image (`public`).
    Public,
    /// A private image of the account (`private`).
    Private,
    /// An image shared with the account (`shared`).
    Shared,
    /// A marketplace image (`other`; needs spec.workspace.imageProductId).
    Other,
}

/// Workspace `os_type` of the group's servers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum WorkspaceOsType {
    /// Windows (default; the only type the cloud accepts for application servers today).
    #[default]
    Windows,
    /// Linux.
    Linux,
    /// Other.
    Other,
}

/// Workspace `app_type` of the group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum WorkspaceAppType {
    /// Session desktops and applications (`SESSION_DESKTOP_APP`).
    SessionDesktopApp,
    /// Common applications (`COMMON_APP`, the cloud's default).
    CommonApp,
}

/// Workspace `route_policy`: how sessions are routed to the group's servers. The cloud never shows it
/// back, so a change applies to the group as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceRoutePolicy {
    /// Sessions per server (1–1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_session: Option<i32>,
    /// CPU usage (percent, 1–100) above which no new session is routed to a server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub cpu_threshold: Option<i32>,
    /// Memory usage (percent, 1–100) above which no new session is routed to a server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub mem_threshold: Option<i32>,
}

/// Huawei Workspace server-group settings (only for a ProviderConfig of type Workspace): the
/// CreateServerGroup fields the common template has no word for. The fleet is a server group in one
/// availability zone (coverage level Site, one placement entry whose siteId names the zone); its
/// members are the group's application servers, created and deleted by cloud jobs. The template's
/// flavor is the Workspace product id (e.g. `workspace.appstream.general.xlarge.2`), its image the
/// group's image, its network.vpcId the servers' VPC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.imageType != 'Other' || has(self.imageProductId)").message("spec.workspace.imageProductId is required when spec.workspace.imageType is Other (a marketplace image)").field_path(".imageProductId"))]
pub struct WorkspaceEdgeCloudSpec {
    /// Subnet (of spec.template.network.vpcId) of the servers' NIC. Immutable.
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.workspace.subnetId is immutable"))]
    pub subnet_id: String,
    /// Gold, Public, Private, Shared or Other: the kind of spec.template.image.
    pub image_type: WorkspaceImageType,
    /// Marketplace product of the image (imageType Other only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub image_product_id: Option<String>,
    /// Windows (default), Linux or Other. Immutable.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.workspace.osType is immutable"))]
    pub os_type: WorkspaceOsType,
    /// Flavor id beside the product id (the product's flavor; optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub flavor_id: Option<String>,
    /// Single-session VDI mode. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.workspace.isVdi is immutable"))]
    pub is_vdi: Option<bool>,
    /// SessionDesktopApp or CommonApp (the cloud's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_type: Option<WorkspaceAppType>,
    /// Session routing of the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_policy: Option<WorkspaceRoutePolicy>,
    /// The AD organisational unit the servers join (at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub ou_name: Option<String>,
}

/// Which members go first when scaling in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FleetDeletePolicy {
    /// Remove from the placement entries furthest above their share first (default), then oldest.
    #[default]
    SiteBalanced,
    /// Oldest members first.
    Oldest,
    /// Newest members first.
    Newest,
    /// Members that are not Ready first, then SiteBalanced.
    UnhealthyFirst,
}

/// Rolling replacement limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.maxSurge) && has(self.maxUnavailable) && string(self.maxSurge) in ['0', '0%'] && string(self.maxUnavailable) in ['0', '0%'])").message("spec.strategy.rollingUpdate: maxSurge and maxUnavailable cannot both be 0"))]
pub struct RollingUpdate {
    /// Members that may exist above spec.replicas during a replacement: a number or a percentage of
    /// replicas, rounded up (default 1).
    #[serde(default = "some_max_surge", skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("type(self) == int ? self >= 0 : self.matches('^(100|[1-9]?[0-9])%$')").message("spec.strategy.rollingUpdate.maxSurge must be a non-negative integer or a percentage 0%-100%"))]
    pub max_surge: Option<IntOrString>,
    /// Members that may be unavailable during a replacement: a number or a percentage of replicas,
    /// rounded down (default 0).
    #[serde(default = "some_max_unavailable", skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("type(self) == int ? self >= 0 : self.matches('^(100|[1-9]?[0-9])%$')").message("spec.strategy.rollingUpdate.maxUnavailable must be a non-negative integer or a percentage 0%-100%"))]
    pub max_unavailable: Option<IntOrString>,
}

impl Default for RollingUpdate {
    fn default() -> Self {
        Self {
            max_surge: some_max_surge(),
            max_unavailable: some_max_unavailable(),
        }
    }
}

fn some_max_surge() -> Option<IntOrString> {
    Some(IntOrString::Int(1))
}
fn some_max_unavailable() -> Option<IntOrString> {
    Some(IntOrString::Int(0))
}

// The int-or-string fields are `Option`s only because kube marks optional int-or-string properties
// `nullable`: an explicit null then reads as "use the default" instead of failing to deserialize.
impl RollingUpdate {
    /// maxSurge in effect (default 1).
    pub fn max_surge(&self) -> IntOrString {
        self.max_surge.clone().unwrap_or(IntOrString::Int(1))
    }

    /// maxUnavailable in effect (default 0).
    pub fn max_unavailable(&self) -> IntOrString {
        self.max_unavailable.clone().unwrap_or(IntOrString::Int(0))
    }
}
fn default_rolling_update() -> RollingUpdate {
    RollingUpdate::default()
}

/// How members with an outdated template are replaced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetStrategy {
    /// Surge/unavailability limits (default maxSurge 1, maxUnavailable 0).
    #[serde(default = "default_rolling_update")]
    pub rolling_update: RollingUpdate,
}

/// Replacement of failed members.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Remediation {
    /// Remediation stops (ScalingBlocked, reason TooManyUnhealthy) while more members than this are
    /// unhealthy (failed, or building longer than buildTimeout): a number or a percentage of replicas
    /// (default 50%).
    #[serde(default = "some_max_unhealthy", skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("type(self) == int ? self >= 0 : self.matches('^(100|[1-9]?[0-9])%$')").message("spec.remediation.maxUnhealthy must be a non-negative integer or a percentage 0%-100%"))]
    pub max_unhealthy: Option<IntOrString>,
    /// How long a member may stay building (cloud status BUILD, counted from the creation time the
    /// cloud reports) before it is replaced: a replacement is created where it runs, and it is deleted
    /// as soon as it leaves BUILD (IEC cannot delete a building instance). Go duration, 10s–24h,
    /// default 30m.
    #[serde(default = "default_build_timeout")]
    #[schemars(length(max = 32), pattern(DURATION_PATTERN))]
    #[x_kube(validation = Rule::new("duration(self) >= duration('10s') && duration(self) <= duration('24h')").message("spec.remediation.buildTimeout must be between 10s and 24h"))]
    pub build_timeout: String,
}

impl Default for Remediation {
    fn default() -> Self {
        Self {
            max_unhealthy: some_max_unhealthy(),
            build_timeout: default_build_timeout(),
        }
    }
}

impl Remediation {
    /// maxUnhealthy in effect (default 50%).
    pub fn max_unhealthy(&self) -> IntOrString {
        self.max_unhealthy
            .clone()
            .unwrap_or_else(|| IntOrString::String("50%".to_owned()))
    }

    /// spec.remediation.buildTimeout as a duration.
    pub fn build_timeout(&self) -> Result<std::time::Duration, super::provider_config::InvalidDuration> {
        super::provider_config::parse_duration("spec.remediation.buildTimeout", &self.build_timeout)
    }
}

fn some_max_unhealthy() -> Option<IntOrString> {
    Some(IntOrString::String("50%".to_owned()))
}
fn default_build_timeout() -> String {
    "30m".to_owned()
}
fn default_remediation() -> Remediation {
    Remediation::default()
}
fn default_replicas() -> i32 {
    1
}

/// Desired state of an EdgeCloud.
// The kube attribute repeats `type_ = "string"` per printer column, which clippy mistakes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "edgefleet.io",
    version = "v1alpha1",
    kind = "EdgeCloud",
    namespaced,
    status = "EdgeCloudStatus",
    shortname = "ec",
    category = "edgefleet",
    derive = "PartialEq",
    selectable = ".spec.providerConfigRef.name",
    doc = "EdgeCloud is a fleet of edge instances spread over sites and operators from one template; members appear as owned EdgeInstances labelled edgefleet.io/edge-cloud=<name>.",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.labelSelector"
    ),
    printcolumn(name = "Desired", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Current", type_ = "integer", json_path = ".status.replicas"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyReplicas"),
    printcolumn(name = "Up-To-Date", type_ = "integer", json_path = ".status.updatedReplicas"),
    printcolumn(name = "Available", type_ = "integer", json_path = ".status.availableReplicas"),
    printcolumn(name = "Synced", type_ = "string", json_path = r#".status.conditions[?(@.type=="Synced")].status"#, priority = 1),
    printcolumn(name = "Edge-Cloud-Id", type_ = "string", json_path = ".status.edgeCloudId", priority = 1),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("has(self.spec.name) || self.metadata.name.matches('^[-a-z0-9]{1,32}$')").message("metadata.name must be at most 32 characters without '.' to be the edge cloud's cloud name: set spec.name").field_path(".spec.name")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = rule_adopt_id_immutable())]
#[x_kube(validation = rule_observe_only_needs_adopt_id())]
#[x_kube(validation = Rule::new("has(self.name) == has(oldSelf.name) && (!has(self.name) || self.name == oldSelf.name)").message("spec.name is immutable: the cloud has no API to rename an edge cloud").field_path(".name"))]
#[x_kube(validation = Rule::new("self.placement.all(p, self.coverage.level == 'Site' ? has(p.siteId) : self.coverage.level == 'City' ? has(p.city) : self.coverage.level == 'Province' ? has(p.province) : has(p.area))").message("spec.placement[] entries must name a siteId, city, province or area matching spec.coverage.level").field_path(".placement"))]
#[x_kube(validation = Rule::new("!(self.coverage.level in ['Province', 'Area']) || self.placement.all(p, !has(p.poolId))").message("spec.placement[].poolId is not allowed when spec.coverage.level is Province or Area").field_path(".placement"))]
#[x_kube(validation = Rule::new("!(has(self.veen) && has(self.template.iec))").message("spec.veen and spec.template.iec name different clouds: set at most one").field_path(".veen"))]
#[x_kube(validation = Rule::new("!has(self.workspace) || !(has(self.veen) || has(self.template.iec))").message("spec.workspace names a different cloud than spec.veen or spec.template.iec: set only one").field_path(".workspace"))]
#[x_kube(validation = Rule::new("self.replicas == 0 || self.placement.filter(p, has(p.count)).map(p, p.count).sum() == self.replicas || (self.placement.filter(p, has(p.count)).map(p, p.count).sum() < self.replicas && self.placement.exists(p, has(p.weight)))").message("spec.placement[].count values must add up to spec.replicas, or to less when some entry has a weight").field_path(".placement"))]
pub struct EdgeCloudSpec {
    /// The ProviderConfig (cloud account) that manages this fleet. Immutable.
    #[x_kube(validation = rule_provider_config_immutable())]
    pub provider_config_ref: ProviderConfigRef,
    /// Delete (default) deletes the members and then the cloud edge cloud when this object is deleted;
    /// Orphan leaves them.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Manage (default) or ObserveOnly (never change the cloud; needs adoptId at creation).
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// Id of an existing cloud edge cloud to adopt instead of deploying one (explicit only). Only
    /// settable at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub adopt_id: Option<String>,
    /// Cloud name of the edge cloud (unique per account; 1–32: letters, digits, Chinese, `-`, `_`).
    /// Defaults to metadata.name. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), pattern(IEC_EDGE_CLOUD_NAME_PATTERN))]
    pub name: Option<String>,
    /// Cloud description (0–255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub description: Option<String>,
    /// Desired number of members (0–1000, default 1). `kubectl scale` sets it.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: i32,
    /// Coverage level and policy. The level is immutable.
    #[serde(default)]
    pub coverage: Coverage,
    /// Where the replicas go (1–64 entries, each naming one location at the coverage level, with a fixed
    /// count or a weight).
    #[schemars(length(min = 1, max = 64))]
    pub placement: Vec<PlacementEntry>,
    /// The member template.
    pub template: EdgeInstanceTemplate,
    /// Which members are removed first when scaling in: SiteBalanced (default), Oldest, Newest,
    /// UnhealthyFirst.
    #[serde(default)]
    pub delete_policy: FleetDeletePolicy,
    /// How members are replaced after template changes the cloud cannot apply in place.
    #[serde(default)]
    pub strategy: FleetStrategy,
    /// Replacement of failed members.
    #[serde(default = "default_remediation")]
    pub remediation: Remediation,
    /// While true, the controller only observes: no scaling, replacement or remediation.
    #[serde(default)]
    pub paused: bool,
    /// Volcengine veEN cloud-server settings (ProviderConfig of type Veen only; not with
    /// spec.template.iec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub veen: Option<VeenEdgeCloudSpec>,
    /// Huawei Workspace server-group settings (ProviderConfig of type Workspace only; required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<WorkspaceEdgeCloudSpec>,
}

impl_managed_spec!(EdgeCloudSpec);

impl EdgeCloudSpec {
    /// The provider sections that are set, each with its field path and the cloud it is for (the
    /// controller refuses one that is not the ProviderConfig's cloud).
    pub fn provider_sections(&self) -> Vec<(&'static str, ProviderKind)> {
        let mut out = Vec::new();
        if self.template.iec.is_some() {
            out.push(("spec.template.iec", ProviderKind::Iec));
        }
        if self.veen.is_some() {
            out.push(("spec.veen", ProviderKind::Veen));
        }
        if self.workspace.is_some() {
            out.push(("spec.workspace", ProviderKind::Workspace));
        }
        out
    }
}

/// Desired and observed members of one placement location.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlacementStatus {
    /// Location as named in spec.placement (site id, city, province or area).
    pub location: String,
    /// Carrier, if the placement entry names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Members this location should have.
    pub desired: i32,
    /// Members that exist.
    pub current: i32,
    /// Members that are Ready.
    pub ready: i32,
    /// Site ids the members of this location run in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub site_ids: Vec<String>,
}

/// Observed state of an EdgeCloud.
///
/// Reads as `{observedGeneration: -1}` (the schema default) until the operator writes it, so a new
/// object is in progress for GitOps tools from its first read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::api::common::unobserved_status_default)]
pub struct EdgeCloudStatus {
    /// The metadata.generation last acted on; -1 until the operator has written status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Available, Reconciling, ScalingBlocked, Stalled, Synced (reasons in docs/conditions.md).
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Cloud edge cloud id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge_cloud_id: Option<String>,
    /// Observed cloud name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Cloud status (IEC: creating, scheduling, updating, inService, failed, deleting, delFailed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_status: Option<String>,
    /// Members that exist (the scale subresource's status.replicas).
    #[serde(default)]
    pub replicas: i32,
    /// Members that are Ready.
    #[serde(default)]
    pub ready_replicas: i32,
    /// Members that are Ready and count towards availability.
    #[serde(default)]
    pub available_replicas: i32,
    /// Members created from the current template.
    #[serde(default)]
    pub updated_replicas: i32,
    /// Members the cloud reports as created successfully (IEC `success_num`).
    #[serde(default)]
    pub success_count: i32,
    /// Members the cloud reports as failed (IEC `failed_num`).
    #[serde(default)]
    pub failed_count: i32,
    /// Label selector of the member EdgeInstances (`edgefleet.io/edge-cloud=<name>`), for the scale
    /// subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
    /// Hash of the template the updated members were created from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_hash: Option<String>,
    /// Desired, current and ready members per placement location.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placements: Vec<PlacementStatus>,
    /// Deployment plan ids created and not yet executed or deleted (they are cleaned up).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deployment_plan_ids: Vec<String>,
    /// Crash-safety intent of an in-flight edge cloud create (deployment plan + deploy); the token is the
    /// deterministic cloud name, which IEC keeps unique per account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_create: Option<PendingOperation>,
    /// Crash-safety intent of an in-flight expansion (expand plan); handle = plan id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_expand: Option<PendingOperation>,
    /// Fingerprint of the template fields the cloud does not report back (volumes, bandwidth, key
    /// pair) that the last deploy or expansion used; members first seen since are recorded with it
    /// (annotation `edgefleet.io/template-fingerprint` on their EdgeInstance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members_fingerprint: Option<String>,
    /// Crash-safety intent of member removals (scale-in, remediation, replacement, deletion): cloud
    /// instance ids chosen for removal and not yet confirmed gone. Recorded before any member is touched,
    /// so a restarted controller finishes these removals instead of choosing other victims.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_delete: Vec<String>,
    /// The cloud job of the expansion in flight (Workspace: the create-servers job), recorded right
    /// after the cloud answered it and before anything else; polled until it ends, and never followed
    /// by another batch for the same shortfall while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The last expansion job that failed, while no later one has succeeded: the next batch waits for
    /// a backoff that grows with `attempts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_job_failure: Option<JobFailure>,
}

/// An expansion job that ended FAILED (the cloud's code and message, safe to show).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobFailure {
    /// The job id.
    pub job_id: String,
    /// The cloud's error code (e.g. `WKS.00211401`).
    pub code: String,
    /// The cloud's message.
    pub message: String,
    /// When the failure was seen.
    pub at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
    /// Failed jobs in a row.
    pub attempts: i32,
}

impl_managed_status!(EdgeCloudStatus, edge_cloud_id);
