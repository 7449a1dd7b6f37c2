//! Cloud-neutral domain types: what the controllers want (desired specs) and what the cloud has (observed
//! state), with domain enums instead of cloud strings. Each cloud client maps its wire types to these.

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};

use super::settings::SecretString;

// ---------------------------------------------------------------------------------------------------------
// VPC and subnets
// ---------------------------------------------------------------------------------------------------------

/// Who plans the subnets of a VPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VpcMode {
    /// The cloud creates subnets itself as instances need them (IEC `SYSTEM`; required for edge clouds).
    System,
    /// The user creates a subnet per site (IEC `CUSTOMER`).
    Customer,
}

/// A spec field this cloud cannot honour, found before any call: which field, whether the cloud
/// never takes the value or its catalog does not offer it now, and why. The controller reports it as
/// `Stalled InvalidSpec` (or `NotInCatalog`) naming the field; nothing is sent to the cloud. `F` names
/// the field: its path in the Kubernetes object (`spec.subnets`, the default), or a part of a spec that
/// each controller maps to its own path ([`InstanceField`], see [`InstanceFieldError`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError<F = String> {
    /// Which field.
    pub field: F,
    /// Invalid or not in the catalog.
    pub kind: FieldErrorKind,
    /// What is wrong, in the cloud's terms, with its limit and how to fix it (never a secret).
    pub message: String,
}

/// Whether a finding is a spec the cloud never accepts or one its catalog does not offer now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// The cloud's rules reject the value (fix the spec).
    Invalid,
    /// The catalog does not offer it (fix the spec, or wait for the catalog to change).
    NotInCatalog,
}

impl<F> FieldError<F> {
    /// A value the cloud's rules reject.
    pub fn invalid(field: F, message: impl Into<String>) -> Self {
        Self {
            field,
            kind: FieldErrorKind::Invalid,
            message: message.into(),
        }
    }

    /// A value the catalog does not offer.
    pub fn not_in_catalog(field: F, message: impl Into<String>) -> Self {
        Self {
            field,
            kind: FieldErrorKind::NotInCatalog,
            message: message.into(),
        }
    }
}

impl<F: fmt::Display> fmt::Display for FieldError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Desired VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcSpec {
    /// Cloud name (deterministic, unique per account on IEC).
    pub name: String,
    /// Address range, e.g. `10.0.0.0/16`.
    pub cidr: String,
    /// Subnet planning mode.
    pub mode: VpcMode,
    /// Desired subnets (only managed when `mode` is `Customer`).
    pub subnets: Vec<SubnetSpec>,
    /// The cloud's own settings (the CRD's provider section), read only by the cloud they name.
    pub ext: VpcExt,
}

/// Per-cloud settings of a VPC, from the CRD's provider section (`spec.iec`, `spec.veen`). Each cloud's
/// [`VpcApi::validate`](super::VpcApi::validate) rejects a section of another cloud, naming it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum VpcExt {
    /// No provider section.
    #[default]
    None,
    /// `spec.iec` (its mode is [`VpcSpec::mode`]).
    Iec,
    /// `spec.veen`.
    Veen(VeenVpcExt),
}

/// veEN's VPC settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VeenVpcExt {
    /// The edge cluster (node) the VPC lives in; veEN requires it.
    pub cluster_name: Option<String>,
}

/// Desired subnet of a VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetSpec {
    /// Subnet name.
    pub name: String,
    /// Address range within the VPC.
    pub cidr: String,
    /// Gateway address; `None` = first host address of the cidr.
    pub gateway_ip: Option<String>,
    /// Site (IEC subnets are per site); empty where the cloud has none (veEN: the VPC's cluster).
    pub site_id: String,
    /// DHCP on (default true).
    pub dhcp_enable: bool,
    /// Primary DNS server.
    pub primary_dns: Option<String>,
    /// Secondary DNS server.
    pub secondary_dns: Option<String>,
}

impl SubnetSpec {
    /// The immutable identity used to match desired and observed subnets: (site, cidr).
    pub fn key(&self) -> (String, String) {
        (self.site_id.clone(), self.cidr.clone())
    }
}

/// Observed VPC, with its subnets when the call fetched them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedVpc {
    /// Cloud id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Address range.
    pub cidr: String,
    /// Mode, when the cloud reports one.
    pub mode: Option<VpcMode>,
    /// Number of subnets the cloud reports.
    pub subnet_count: u32,
    /// Subnets of this VPC.
    pub subnets: Vec<ObservedSubnet>,
    /// The cloud is still applying a create or change (veEN `modifying`): nothing is changed and
    /// Ready waits until it is done.
    pub busy: bool,
}

/// Lifecycle of a subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubnetState {
    /// Usable.
    Active,
    /// Created but not yet attached (IEC `UNKNOWN`).
    Pending,
    /// Broken.
    Error,
    /// A value this client does not know.
    Other(String),
}

/// Observed subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedSubnet {
    /// Cloud id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Address range.
    pub cidr: String,
    /// Gateway address.
    pub gateway_ip: Option<String>,
    /// Owning VPC.
    pub vpc_id: String,
    /// Site.
    pub site_id: Option<String>,
    /// State.
    pub state: SubnetState,
    /// DHCP on.
    pub dhcp_enable: Option<bool>,
    /// Primary DNS.
    pub primary_dns: Option<String>,
    /// Secondary DNS.
    pub secondary_dns: Option<String>,
}

/// In-place change of a VPC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VpcUpdate {
    /// New name.
    pub name: Option<String>,
    /// New cidr.
    pub cidr: Option<String>,
}

/// In-place change of a subnet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubnetUpdate {
    /// New name.
    pub name: Option<String>,
    /// New DNS servers (primary, secondary).
    pub dns: Option<(Option<String>, Option<String>)>,
    /// DHCP switch.
    pub dhcp_enable: Option<bool>,
}

// ---------------------------------------------------------------------------------------------------------
// Security groups
// ---------------------------------------------------------------------------------------------------------

/// Traffic direction of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Inbound.
    Ingress,
    /// Outbound.
    Egress,
}

/// IP family of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EtherType {
    /// IPv4 (the default).
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleAction {
    /// Allow matching traffic (the default).
    Allow,
    /// Deny matching traffic (IEC supports prioritised deny rules).
    Deny,
}

/// The peer of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleRemote {
    /// Any address of the rule's family.
    Any,
    /// An address or CIDR.
    Cidr(String),
    /// Members of a security group (by cloud id).
    Group(String),
}

/// One security-group rule (desired or observed). Rules are immutable on IEC: change = delete + create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    /// Direction.
    pub direction: Direction,
    /// Family.
    pub ethertype: EtherType,
    /// Protocol: `None` = all; otherwise lower-case name (`tcp`, `udp`, `icmp`, `icmpv6`) or number.
    pub protocol: Option<String>,
    /// Lowest port, `None` = all ports.
    pub port_min: Option<u16>,
    /// Highest port, `None` = all ports.
    pub port_max: Option<u16>,
    /// Peer.
    pub remote: RuleRemote,
    /// Allow or deny.
    pub action: RuleAction,
    /// Priority 1..100 (1 = highest); `None` = cloud default (1).
    pub priority: Option<u8>,
    /// Free text; not part of the fingerprint.
    pub description: String,
}

impl RuleSpec {
    /// An allow rule with defaults, convenient for tests and defaults tables.
    pub fn allow(direction: Direction, ethertype: EtherType) -> Self {
        Self {
            direction,
            ethertype,
            protocol: None,
            port_min: None,
            port_max: None,
            remote: RuleRemote::Any,
            action: RuleAction::Allow,
            priority: None,
            description: String::new(),
        }
    }

    /// The normalised identity of a rule. Two rules with the same fingerprint filter the same traffic:
    /// protocol is lower-cased (`""`/`any` = all), well-known protocol numbers map to names, a port range
    /// of 1..65535 equals "all ports", a missing max equals min, `0.0.0.0/0` / `::/0` equal "any", a bare
    /// address gets its host mask, and priority defaults to 1. The description is ignored.
    pub fn fingerprint(&self) -> String {
        let protocol = normalise_protocol(self.protocol.as_deref());
        let ports = if matches!(protocol.as_str(), "icmp" | "icmpv6") {
            // For ICMP the "ports" are type/code: keep them as given.
            format!("{:?}-{:?}", self.port_min, self.port_max)
        } else {
            match (self.port_min, self.port_max) {
                (None, None) | (Some(1), Some(65535)) | (None, Some(65535)) => "all".to_owned(),
                (Some(a), None) => format!("{a}-{a}"),
                (None, Some(b)) => format!("1-{b}"),
                (Some(a), Some(b)) => format!("{a}-{b}"),
            }
        };
        let remote = match &self.remote {
            RuleRemote::Any => "any".to_owned(),
            RuleRemote::Group(g) => format!("group:{}", g.trim()),
            RuleRemote::Cidr(c) => normalise_cidr(c, self.ethertype),
        };
        format!(
            "{}|{}|{}|{}|{}|{}|{}",
            match self.direction {
                Direction::Ingress => "ingress",
                Direction::Egress => "egress",
            },
            match self.ethertype {
                EtherType::Ipv4 => "ipv4",
                EtherType::Ipv6 => "ipv6",
            },
            protocol,
            ports,
            remote,
            match self.action {
                RuleAction::Allow => "allow",
                RuleAction::Deny => "deny",
            },
            self.priority.unwrap_or(1),
        )
    }
}

fn normalise_protocol(p: Option<&str>) -> String {
    let p = p.map(|s| s.trim().to_ascii_lowercase()).unwrap_or_default();
    match p.as_str() {
        "" | "any" | "all" | "-1" => "any".to_owned(),
        "1" => "icmp".to_owned(),
        "6" => "tcp".to_owned(),
        "17" => "udp".to_owned(),
        "58" => "icmpv6".to_owned(),
        _ => p,
    }
}

fn normalise_cidr(c: &str, family: EtherType) -> String {
    let c = c.trim();
    if c.is_empty() || c == "0.0.0.0/0" || c == "::/0" {
        return "any".to_owned();
    }
    if c.contains('/') {
        return c.to_ascii_lowercase();
    }
    match family {
        EtherType::Ipv4 if !c.contains(':') => format!("{c}/32"),
        _ => format!("{}/128", c.to_ascii_lowercase()),
    }
}

/// How a security group's rule list is owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleMode {
    /// The spec is the whole truth: rules not in the spec are deleted (the default).
    #[default]
    Authoritative,
    /// The spec's rules are ensured; other rules are left alone.
    Additive,
}

/// Desired security group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupSpec {
    /// Cloud name (deterministic; IEC does not enforce uniqueness).
    pub name: String,
    /// Description.
    pub description: String,
    /// Desired rules.
    pub rules: Vec<RuleSpec>,
    /// Ownership of the rule list.
    pub mode: RuleMode,
    /// In authoritative mode, keep the rules the cloud adds to every new group (see
    /// [`Capabilities::default_rules`]) even though the spec does not list them.
    pub keep_cloud_default_rules: bool,
}

/// What a security-group create sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityGroupCreate {
    /// Cloud name.
    pub name: String,
    /// Description (carries edgefleet's ownership marker).
    pub description: String,
    /// The VPC the group belongs to, on clouds whose groups live in a VPC
    /// ([`Capabilities::security_group_needs_vpc`](super::Capabilities::security_group_needs_vpc)).
    pub vpc_id: Option<String>,
    /// Ownership tags, used where the cloud has tags.
    pub tags: BTreeMap<String, String>,
}

/// Observed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedRule {
    /// Cloud id.
    pub id: String,
    /// The rule's content.
    pub rule: RuleSpec,
}

/// Observed security group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedSecurityGroup {
    /// Cloud id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Rules (as embedded in the group or listed separately).
    pub rules: Vec<ObservedRule>,
}

// ---------------------------------------------------------------------------------------------------------
// Instances
// ---------------------------------------------------------------------------------------------------------

/// Desired power state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PowerState {
    /// Running (the default).
    #[default]
    Running,
    /// Stopped.
    Stopped,
}

/// A disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    /// Size in GB.
    pub size_gb: u32,
    /// Disk type offered by the site (e.g. `SATA`, `SAS`).
    pub volume_type: String,
}

/// How a public bandwidth is shared by the public IPs that use it (each cloud spells it its own way).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BandwidthSharing {
    /// One bandwidth shared by the IPs of the instance or fleet (IEC `WHOLE`); the default.
    #[default]
    Shared,
}

/// Public bandwidth for instances that get EIPs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BandwidthSpec {
    /// Size in Mbit/s, `None` = cloud default.
    pub size_mbit: Option<u32>,
    /// How the bandwidth is shared.
    pub share_type: BandwidthSharing,
}

/// Desired single instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    /// Deterministic cloud name (derived from the object's uid by the controller).
    pub name: String,
    /// Description (IEC: used as an ownership marker; ≤85 chars, no `<` `>`).
    pub description: String,
    /// Flavor id.
    pub flavor: String,
    /// Image id.
    pub image: String,
    /// Site id (empty: the spec names none).
    pub site: String,
    /// City, else area (region-level grouping), for clouds that place by them when no site is named
    /// (veEN `area_name`); `None` where the spec names neither.
    pub area: Option<String>,
    /// Line of the public IP (IEC: EIP pool id), if any.
    pub pool_id: Option<String>,
    /// Carrier / ISP the instance should be reachable through, if any.
    pub operator: Option<String>,
    /// VPC id (empty: the spec names no network).
    pub vpc_id: String,
    /// Subnet ids (IEC direct create needs at least one).
    pub subnet_ids: Vec<String>,
    /// Security group ids.
    pub security_group_ids: Vec<String>,
    /// System disk.
    pub root_volume: VolumeSpec,
    /// Data disks.
    pub data_volumes: Vec<VolumeSpec>,
    /// Keypair name.
    pub key_name: Option<String>,
    /// Initial administrator password.
    pub admin_password: Option<SecretString>,
    /// User data (cloud-init) as the user wrote it; the client encodes it the way its cloud expects.
    pub user_data: Option<SecretString>,
    /// Public bandwidth.
    pub bandwidth: Option<BandwidthSpec>,
    /// Desired power state.
    pub power: PowerState,
    /// The fleet (veEN cloud server) the instance joins, for clouds whose instances live in a fleet
    /// ([`crate::provider::FleetMembership`]); `None` where the spec names none.
    pub fleet_id: Option<String>,
    /// The cloud's own settings (the CRD's provider section), passed through to its client.
    pub ext: InstanceExt,
}

/// Per-cloud settings of an instance, from the CRD's provider section. Only the cloud they name reads
/// them; controllers pass them on without looking inside (they compare [`InstanceExt::cloud`] with the
/// account's kind, so a section of another cloud is refused rather than ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum InstanceExt {
    /// None given.
    #[default]
    None,
    /// Huawei Cloud IEC.
    Iec(IecInstanceExt),
    /// Volcengine veEN.
    Veen(VeenInstanceExt),
    /// Huawei ModelArts DevServer.
    ModelArts(ModelArtsInstanceExt),
    /// Luchen Cloud GPU instance.
    Luchen(LuchenInstanceExt),
}

impl InstanceExt {
    /// The cloud the section is for (`None` when no section is given).
    pub fn cloud(&self) -> Option<super::settings::ProviderKind> {
        use super::settings::ProviderKind;
        match self {
            Self::None => None,
            Self::Iec(_) => Some(ProviderKind::Iec),
            Self::Veen(_) => Some(ProviderKind::Veen),
            Self::ModelArts(_) => Some(ProviderKind::ModelArts),
            Self::Luchen(_) => Some(ProviderKind::Luchen),
        }
    }
}

/// veEN's instance settings: what `CreateInstance` takes beyond the common fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VeenInstanceExt {
    /// `create_instance_timeout` in seconds (≥ 120; the instance ends `open_fail` when exceeded).
    pub create_timeout_seconds: Option<u32>,
    /// The instance's host name (`host_name_list` of its area entry).
    pub host_name: Option<String>,
}

/// ModelArts DevServer settings: what `POST /v1/{project_id}/dev-servers` takes beyond the common
/// fields, in the API's own spelling where it is an enum (`None` keeps the API default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelArtsInstanceExt {
    /// `server_type`: `BMS`, `ECS` or `HPS`.
    pub server_type: Option<String>,
    /// `arch`: `X86` or `ARM`.
    pub arch: Option<String>,
    /// `availability_zone`.
    pub availability_zone: Option<String>,
    /// `network.roce_id`: the RoCE network of the server.
    pub roce_id: Option<String>,
    /// `network.ipv6_enable`.
    pub ipv6: bool,
    /// `enterprise_project_id`.
    pub enterprise_project_id: Option<String>,
    /// `hps_cluster_id` (HPS servers only).
    pub hps_cluster_id: Option<String>,
    /// `charging_info`; `None` sends none (the cloud's default, pay-per-use).
    pub charging: Option<Charging>,
}

/// Luchen GPU instance settings: what `POST /api/instance/create` takes beyond the common fields (the
/// instance type is the flavor, the image the image, the region the site), in the API's spelling.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LuchenInstanceExt {
    /// `billing.chargeMode`: `tidePerHour`, `perHour`, `perDay`, `perWeek` or `perMonth`.
    pub charge_mode: String,
    /// `billing.duration`: periods subscribed (1 for the hourly modes).
    pub duration: u32,
    /// `isSpotInstance`.
    pub spot: bool,
    /// `remoteStorages`.
    pub remote_storages: Vec<LuchenStorage>,
    /// `instanceConfiguration.enableDocker`.
    pub enable_docker: bool,
    /// `instanceConfiguration.dockerStorageSize` (GB).
    pub docker_storage_size_gb: Option<u32>,
    /// `instanceConfiguration.enableCommonData`.
    pub enable_common_data: bool,
    /// `instanceConfiguration.extraDataDiskSizeDB` (GB).
    pub extra_data_disk_size_gb: Option<u32>,
    /// `nodePorts`: instance ports exposed on the region's node.
    pub node_ports: Vec<u16>,
}

/// One Luchen remote storage mounted into the instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LuchenStorage {
    /// `mountPath` (absolute).
    pub mount_path: String,
    /// `remoteStorageName`.
    pub name: String,
    /// `remoteStorageId`.
    pub id: String,
    /// `type`: `highspeedstorage` or `filesystem`.
    pub storage_type: String,
}

/// How a server is paid for (Huawei `charging_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charging {
    /// Pay-per-use (`POST_PAID`): the create returns the server.
    PostPaid,
    /// Prepaid for a period (`PRE_PAID`): the create returns an order, and the server exists once the
    /// order is paid.
    PrePaid {
        /// `period_type`: `HOUR`, `DAY`, `WEEK`, `MONTH` or `YEAR`.
        period_type: String,
        /// `period_num` (1–11).
        period_num: u32,
        /// `is_auto_renew`.
        auto_renew: bool,
        /// `is_auto_pay`: pay the order from the account balance at once.
        auto_pay: bool,
    },
}

/// IEC's instance settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IecInstanceExt {
    /// IEC prefixes the cloud name with its site code (`IEC-<site>-<name>`).
    pub with_prefix: bool,
}

/// How power operations are done: graceful (default) or forced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PowerModes {
    /// Stop by hard power-off.
    pub hard_stop: bool,
    /// Reboot by hard reset.
    pub hard_reboot: bool,
}

/// The part of an instance spec a validation finding is about; the controller names the field of its
/// own API (an EdgeInstance: `spec.rootVolume.size`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceField {
    /// The cloud name.
    Name,
    /// Where the instance runs (no particular key).
    Placement,
    /// The site of the placement.
    Site,
    /// The line (pool) of the public IP.
    Pool,
    /// The carrier / ISP.
    Operator,
    /// The flavor.
    Flavor,
    /// The image.
    Image,
    /// The size of the system disk.
    RootVolumeSize,
    /// The system disk as a whole (type and size).
    RootVolume,
    /// The data disks.
    DataVolumes,
    /// The network (VPC).
    Network,
    /// The subnets.
    Subnets,
    /// The fleet the instance joins (where the cloud's instances live in one).
    Fleet,
    /// The description.
    Description,
    /// The login key pair.
    KeyName,
    /// The initial password.
    AdminPassword,
    /// The user data.
    UserData,
    /// The public bandwidth.
    Bandwidth,
    /// A field of the provider section, by its path in the object (`spec.modelArts.charging`).
    Section(&'static str),
}

/// One finding of a provider's validation of an instance spec or a fleet's member template; the
/// controller names the field of its own API.
pub type InstanceFieldError = FieldError<InstanceField>;

impl InstanceSpec {
    /// Hash of the fields the cloud never shows back (password, user data, key name), so a controller can
    /// record it at create time and detect a change later without storing the secrets.
    pub fn unobservable_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(
            self.admin_password
                .as_ref()
                .map(SecretString::expose)
                .unwrap_or("")
                .as_bytes(),
        );
        h.update([0]);
        h.update(
            self.user_data
                .as_ref()
                .map(SecretString::expose)
                .unwrap_or("")
                .as_bytes(),
        );
        h.update([0]);
        h.update(format!("{:?}|{:?}", self.bandwidth, self.data_volumes).as_bytes());
        hex::encode(&h.finalize()[..16])
    }
}

/// Observed instance lifecycle state (domain enum, not cloud strings).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum InstanceState {
    /// Being created.
    Creating,
    /// Running.
    Running,
    /// Stopped.
    Stopped,
    /// Starting, stopping or rebooting.
    Transitioning,
    /// OS being replaced.
    Rebuilding,
    /// Being deleted.
    Deleting,
    /// Gone (some clouds keep deleted instances visible for a while).
    Deleted,
    /// Failed (creation or an operation).
    Failed,
    /// A value this client does not know.
    Other(String),
}

impl InstanceState {
    /// Stable PascalCase label.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Creating => "Creating",
            Self::Running => "Running",
            Self::Stopped => "Stopped",
            Self::Transitioning => "Transitioning",
            Self::Rebuilding => "Rebuilding",
            Self::Deleting => "Deleting",
            Self::Deleted => "Deleted",
            Self::Failed => "Failed",
            Self::Other(s) => s,
        }
    }

    /// True while the cloud is still working on the instance.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Creating | Self::Transitioning | Self::Rebuilding | Self::Deleting
        )
    }
}

impl fmt::Display for InstanceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An instance port reachable on a port of its node (Luchen `nodePorts`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodePort {
    /// The port inside the instance.
    pub port: u16,
    /// The node's port it is reachable on.
    pub node_port: u16,
}

/// Where an instance runs, and where it is reached when the cloud says so per instance (Luchen: the
/// SSH command and the node ports of its region's node).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Placement {
    /// Site id, when known.
    pub site_id: Option<String>,
    /// Availability zone / site code as the cloud names it.
    pub zone: Option<String>,
    /// Area / province / city.
    pub area: Option<String>,
    /// Province.
    pub province: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Operator / ISP.
    pub operator: Option<String>,
    /// How to log in, as the cloud words it (Luchen `sshAddress`: `ssh root@<host> -p <port>`).
    #[serde(default)]
    pub ssh_address: Option<String>,
    /// Instance ports exposed on the node (Luchen `nodePorts`).
    #[serde(default)]
    pub node_ports: Vec<NodePort>,
}

/// A network interface of an observed instance.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObservedNic {
    /// NIC (port) id.
    pub id: String,
    /// Private addresses.
    pub private_ips: Vec<String>,
    /// MAC address.
    pub mac: Option<String>,
}

/// Observed instance.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObservedInstance {
    /// Cloud id.
    pub id: String,
    /// Name as the cloud reports it (may carry cloud prefixes/suffixes).
    pub name: String,
    /// Description.
    pub description: String,
    /// Lifecycle state.
    pub state: InstanceState,
    /// The raw cloud status, for display.
    pub raw_status: String,
    /// Flavor id.
    pub flavor: Option<String>,
    /// Image id, when the cloud reveals it.
    pub image: Option<String>,
    /// Placement.
    pub placement: Placement,
    /// Owning fleet (edge cloud) id.
    pub fleet_id: Option<String>,
    /// Private addresses.
    pub private_ips: Vec<String>,
    /// Public addresses.
    pub public_ips: Vec<String>,
    /// NICs.
    pub nics: Vec<ObservedNic>,
    /// Security groups (ids, or names where the cloud gives only names).
    pub security_groups: Vec<String>,
    /// VPC id.
    pub vpc_id: Option<String>,
    /// Keypair name.
    pub key_name: Option<String>,
    /// Creation time as the cloud reports it (RFC 3339 where possible); sortable for delete policies.
    pub created: Option<String>,
    /// Cloud tags as key/value (IEC `key=value` strings split).
    pub tags: BTreeMap<String, String>,
}

impl ObservedInstance {
    /// Whether this is a live instance (not deleted) named exactly `name`: what a create that named it
    /// so is found as.
    pub fn is_live_named(&self, name: &str) -> bool {
        self.state != InstanceState::Deleted && self.name == name
    }
}

/// Name/description change of an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
}

/// A power operation on a batch of instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerAction {
    /// Start.
    Start,
    /// Stop (`force` = hard power-off).
    Stop {
        /// Hard stop.
        force: bool,
    },
    /// Reboot (`force` = hard reset).
    Reboot {
        /// Hard reboot.
        force: bool,
    },
}

/// Replace the OS of an instance (keeps IPs and data disks on IEC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeOs {
    /// New image id.
    pub image: String,
    /// Keypair to inject.
    pub key_name: Option<String>,
    /// User data for the new OS.
    pub user_data: Option<SecretString>,
}

/// Add NICs to an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddNics {
    /// VPC id.
    pub vpc_id: String,
    /// Subnet id (required for CUSTOMER VPCs on IEC).
    pub subnet_id: Option<String>,
    /// Security groups for the new NICs.
    pub security_group_ids: Vec<String>,
    /// How many.
    pub count: u32,
}

/// Filter for batched instance observation. All set fields must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceFilter {
    /// Members of this fleet.
    pub fleet_id: Option<String>,
    /// Exact (cloud-side) name match.
    pub name: Option<String>,
    /// At this site.
    pub site_id: Option<String>,
    /// One of these ids (applied client-side where the cloud has no multi-id filter).
    pub ids: Vec<String>,
}

/// Identity the cloud object will carry, persisted as an intent before a create (crash safety).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateIdentity {
    /// Deterministic name.
    pub name: String,
    /// Idempotency token, used where the cloud has one (veEN `client_token`).
    pub client_token: Option<String>,
    /// Ownership tags, used where the cloud has tags.
    pub tags: BTreeMap<String, String>,
}

/// Handle returned by an asynchronous cloud operation. Persist the ids immediately.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Operation {
    /// Cloud job ids, if the cloud returned any (IEC has no job query API; observe resources instead).
    pub job_ids: Vec<String>,
    /// Ids of objects the operation creates, when known immediately.
    pub resource_ids: Vec<String>,
    /// Billing order id (prepaid clouds).
    pub order_id: Option<String>,
}

// ---------------------------------------------------------------------------------------------------------
// Fleets (IEC edge clouds, veEN cloud servers, Workspace server groups)
// ---------------------------------------------------------------------------------------------------------

/// Granularity of fleet placement targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoverageLevel {
    /// Targets are site ids.
    Site,
    /// Targets are city names.
    City,
    /// Targets are province names.
    Province,
    /// Targets are area (region) names.
    Area,
}

/// Whether a cloud should pack or spread instances within a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CoveragePolicy {
    /// Same site.
    #[default]
    Centralize,
    /// Spread over sites.
    Discrete,
}

/// One resolved placement target: how many instances at a site (and operator/line).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteTarget {
    /// Site id or name per the coverage level.
    pub site: String,
    /// Operator / ISP, if placement distinguishes them.
    pub operator: Option<String>,
    /// EIP pool / line.
    pub pool_id: Option<String>,
    /// Instance count.
    pub count: u32,
}

impl SiteTarget {
    /// The placement key `site` or `site/operator`.
    pub fn key(&self) -> String {
        placement_key(&self.site, self.operator.as_deref())
    }
}

/// `site` or `site/operator`: how placement targets and members are grouped.
pub fn placement_key(site: &str, operator: Option<&str>) -> String {
    match operator {
        Some(op) if !op.is_empty() => format!("{site}/{op}"),
        _ => site.to_owned(),
    }
}

/// The instance template of a fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceTemplate {
    /// Base name of member instances (the cloud adds numbering/prefixes).
    pub name: String,
    /// Flavor id.
    pub flavor: String,
    /// Image id.
    pub image: String,
    /// VPC id (IEC: a SYSTEM VPC).
    pub vpc_id: String,
    /// NICs per instance.
    pub nic_count: u32,
    /// Security group ids.
    pub security_group_ids: Vec<String>,
    /// System disk.
    pub root_volume: VolumeSpec,
    /// Data disks.
    pub data_volumes: Vec<VolumeSpec>,
    /// Keypair name.
    pub key_name: Option<String>,
    /// Initial admin password.
    pub admin_password: Option<SecretString>,
    /// User data (cloud-init) as the user wrote it; the client encodes it the way its cloud expects.
    pub user_data: Option<SecretString>,
    /// Public bandwidth.
    pub bandwidth: Option<BandwidthSpec>,
    /// Whether the cloud may prefix member names.
    pub with_prefix: bool,
    /// The cloud's own fleet settings (the EdgeCloud's provider section), passed through to its client.
    pub ext: FleetExt,
}

/// Per-cloud settings of a fleet, from the EdgeCloud's provider section. Only the cloud they name
/// reads them; controllers pass them on without looking inside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FleetExt {
    /// None given.
    #[default]
    None,
    /// Volcengine veEN (CreateCloudServer fields beyond the common template).
    Veen(VeenFleetExt),
    /// Huawei Workspace (CreateServerGroup fields beyond the common template).
    Workspace(WorkspaceFleetExt),
}

/// Workspace's server-group settings (CreateServerGroup fields the common template has no word for),
/// in the API's own spelling; `None` keeps the API default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkspaceFleetExt {
    /// `image_type`: `gold`, `public`, `private`, `shared` or `other`.
    pub image_type: String,
    /// `image_product_id` (marketplace images).
    pub image_product_id: Option<String>,
    /// `os_type`: `Windows`, `Linux` or `Other`.
    pub os_type: String,
    /// `subnet_id` of the servers' NIC (the group and every create need one).
    pub subnet_id: Option<String>,
    /// `flavor_id` beside the product id.
    pub flavor_id: Option<String>,
    /// `is_vdi`: single-session VDI mode.
    pub is_vdi: Option<bool>,
    /// `app_type`: `SESSION_DESKTOP_APP` or `COMMON_APP`.
    pub app_type: Option<String>,
    /// `route_policy.max_session`.
    pub max_session: Option<u32>,
    /// `route_policy.cpu_threshold` (percent).
    pub cpu_threshold: Option<u32>,
    /// `route_policy.mem_threshold` (percent).
    pub mem_threshold: Option<u32>,
    /// `ou_name`: the AD organisational unit.
    pub ou_name: Option<String>,
}

/// veEN's cloud-server settings (CreateCloudServer fields the common template has no word for), in
/// the API's own spelling; `None` keeps the API default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VeenFleetExt {
    /// `schedule_strategy.schedule_strategy`: `dispersion` or `concentration`.
    pub schedule_strategy: Option<String>,
    /// `schedule_strategy.price_strategy`: `high_priority` or `low_priority`.
    pub price_strategy: Option<String>,
    /// `billing_config.computing_billing_method`: `MonthlyPeak` or `DailyPeak`.
    pub computing_billing_method: Option<String>,
    /// `billing_config.bandwidth_billing_method`: `MonthlyP95` or `DailyPeak`.
    pub bandwidth_billing_method: Option<String>,
    /// `create_instance_timeout` in seconds (at least 120; a member not open by then is `open_fail`).
    pub create_instance_timeout_secs: Option<u32>,
    /// The Volcengine project (default `default`).
    pub project: Option<String>,
}

/// What a fleet plan creates: a new fleet, or more members of an existing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetPlanTarget {
    /// A new fleet with this (deterministic, unique) name.
    New {
        /// Fleet name.
        name: String,
    },
    /// Expansion of an existing fleet.
    Expand {
        /// Fleet id.
        fleet_id: String,
    },
}

/// A request to place instances: the content of an IEC deployment plan, a veEN CreateCloudServer/CreateInstance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetPlanRequest {
    /// New fleet or expansion.
    pub target: FleetPlanTarget,
    /// Description of the fleet.
    pub description: String,
    /// Coverage granularity.
    pub level: CoverageLevel,
    /// Pack or spread.
    pub policy: CoveragePolicy,
    /// Instances to add per target (counts > 0).
    pub targets: Vec<SiteTarget>,
    /// Template.
    pub template: InstanceTemplate,
    /// Identity for idempotent creates (client token / tags where the cloud has them).
    pub identity: CreateIdentity,
}

/// A created plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetPlan {
    /// Plan id (IEC deployment id). Persist before executing.
    pub id: String,
    /// Sites the cloud's scheduler chose.
    pub locations: Vec<PlanLocation>,
}

/// A site the cloud chose for a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanLocation {
    /// Site id.
    pub site_id: String,
    /// City.
    pub city: Option<String>,
    /// Operator.
    pub operator: Option<String>,
    /// Line.
    pub pool_id: Option<String>,
    /// Resource groups (stacks) to place there.
    pub stack_count: u32,
}

/// A plan not yet executed (found during crash recovery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenPlan {
    /// Plan id.
    pub id: String,
    /// Name of the fleet the plan would create, if any.
    pub fleet_name: Option<String>,
    /// Id of the fleet the plan would expand, if any.
    pub fleet_id: Option<String>,
}

/// Result of executing a plan (deploy or expand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetOperation {
    /// Fleet id. Persist immediately.
    pub fleet_id: String,
    /// Fleet name.
    pub fleet_name: String,
    /// State right after the call.
    pub state: FleetState,
    /// Job id, if any.
    pub job_id: Option<String>,
}

/// Fleet lifecycle state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetState {
    /// Being created/scheduled.
    Creating,
    /// Being expanded/updated.
    Updating,
    /// Running (IEC `inService`).
    Ready,
    /// Creation failed; can only be deleted.
    Failed,
    /// Being deleted.
    Deleting,
    /// Deletion failed; retry the delete.
    DeleteFailed,
    /// A value this client does not know.
    Other(String),
}

impl FleetState {
    /// True while the cloud is working on the fleet (no expand/delete allowed on IEC).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Creating | Self::Updating | Self::Deleting)
    }
}

/// Failure reported by the cloud for a fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetFailure {
    /// Code.
    pub code: String,
    /// Message.
    pub message: String,
}

/// Observed fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedFleet {
    /// Cloud id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// State.
    pub state: FleetState,
    /// Raw cloud status.
    pub raw_status: String,
    /// Instances created successfully (cloud counter).
    pub success_count: u32,
    /// Instances that failed (cloud counter).
    pub failed_count: u32,
    /// Cloud failure reason.
    pub failure: Option<FleetFailure>,
    /// Coverage level, when reported.
    pub level: Option<CoverageLevel>,
    /// Targets (site names/ids) the cloud reports.
    pub sites: Vec<String>,
}

// ---------------------------------------------------------------------------------------------------------
// Catalog
// ---------------------------------------------------------------------------------------------------------

/// Sale status of a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteStatus {
    /// Sellable (IEC Normal/Promotion/Obt/Gray).
    Available,
    /// Sold out.
    SoldOut,
    /// Offline.
    Offline,
    /// Unknown value.
    Other(String),
}

/// An edge site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Site id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Area.
    pub area: Option<String>,
    /// Province.
    pub province: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Status.
    pub status: SiteStatus,
    /// Operators offered.
    pub operators: Vec<String>,
    /// Line (pool) ids offered.
    pub pool_ids: Vec<String>,
    /// The lines with the operator behind each (in the cloud's order; the first is the cloud's default).
    pub pools: Vec<SitePool>,
}

/// One line (IEC pool) of a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitePool {
    /// Line (pool) id.
    pub id: String,
    /// Operator / ISP behind it, when the cloud says.
    pub operator: Option<String>,
}

/// Filter for sites.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteFilter {
    /// Only sites offering this flavor.
    pub flavor: Option<String>,
    /// Only this site.
    pub id: Option<String>,
}

/// A flavor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flavor {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// vCPUs, when numeric.
    pub vcpus: Option<u32>,
    /// Memory MB.
    pub ram_mb: Option<u64>,
    /// False when the cloud marks it abandoned/sold out.
    pub available: bool,
}

/// An image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Usable now.
    pub active: bool,
    /// Minimum system disk GB.
    pub min_disk_gb: Option<u32>,
    /// OS type.
    pub os_type: Option<String>,
}

/// Filter for images.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFilter {
    /// Exact id.
    pub id: Option<String>,
    /// Exact name.
    pub name: Option<String>,
}

/// One quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// Resource type as the cloud names it (e.g. `instance`, `edgeclouds`, `vpc`).
    pub resource: String,
    /// Limit.
    pub limit: i64,
    /// Used.
    pub used: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> RuleSpec {
        RuleSpec::allow(Direction::Ingress, EtherType::Ipv4)
    }

    #[test]
    fn fingerprint_normalises_equivalent_rules() {
        struct Case {
            reason: &'static str,
            a: RuleSpec,
            b: RuleSpec,
            equal: bool,
        }
        let tcp = |min: Option<u16>, max: Option<u16>| RuleSpec {
            protocol: Some("tcp".into()),
            port_min: min,
            port_max: max,
            ..r()
        };
        let cases = [
            Case {
                reason: "upper-case protocol equals lower-case",
                a: RuleSpec {
                    protocol: Some("TCP".into()),
                    ..tcp(Some(22), Some(22))
                },
                b: tcp(Some(22), Some(22)),
                equal: true,
            },
            Case {
                reason: "empty protocol means all",
                a: RuleSpec {
                    protocol: Some(String::new()),
                    ..r()
                },
                b: r(),
                equal: true,
            },
            Case {
                reason: "1-65535 equals all ports",
                a: tcp(Some(1), Some(65535)),
                b: tcp(None, None),
                equal: true,
            },
            Case {
                reason: "missing max equals min",
                a: tcp(Some(80), None),
                b: tcp(Some(80), Some(80)),
                equal: true,
            },
            Case {
                reason: "0.0.0.0/0 equals any",
                a: RuleSpec {
                    remote: RuleRemote::Cidr("0.0.0.0/0".into()),
                    ..r()
                },
                b: r(),
                equal: true,
            },
            Case {
                reason: "bare address gets /32",
                a: RuleSpec {
                    remote: RuleRemote::Cidr("10.0.0.1".into()),
                    ..r()
                },
                b: RuleSpec {
                    remote: RuleRemote::Cidr("10.0.0.1/32".into()),
                    ..r()
                },
                equal: true,
            },
            Case {
                reason: "protocol number 6 is tcp",
                a: RuleSpec {
                    protocol: Some("6".into()),
                    ..tcp(Some(22), Some(22))
                },
                b: tcp(Some(22), Some(22)),
                equal: true,
            },
            Case {
                reason: "description is not identity",
                a: RuleSpec {
                    description: "x".into(),
                    ..r()
                },
                b: r(),
                equal: true,
            },
            Case {
                reason: "default priority is 1",
                a: RuleSpec {
                    priority: Some(1),
                    ..r()
                },
                b: r(),
                equal: true,
            },
            Case {
                reason: "different ports differ",
                a: tcp(Some(22), Some(22)),
                b: tcp(Some(23), Some(23)),
                equal: false,
            },
            Case {
                reason: "direction matters",
                a: r(),
                b: RuleSpec::allow(Direction::Egress, EtherType::Ipv4),
                equal: false,
            },
            Case {
                reason: "deny differs from allow",
                a: RuleSpec {
                    action: RuleAction::Deny,
                    ..r()
                },
                b: r(),
                equal: false,
            },
            Case {
                reason: "group peer differs from any",
                a: RuleSpec {
                    remote: RuleRemote::Group("g".into()),
                    ..r()
                },
                b: r(),
                equal: false,
            },
        ];
        for c in cases {
            assert_eq!(
                c.a.fingerprint() == c.b.fingerprint(),
                c.equal,
                "{}: {} vs {}",
                c.reason,
                c.a.fingerprint(),
                c.b.fingerprint()
            );
        }
    }

    #[test]
    fn unobservable_hash_changes_with_password_but_hides_it() {
        let spec = |pw: &str| InstanceSpec {
            name: "n".into(),
            description: String::new(),
            flavor: "f".into(),
            image: "i".into(),
            site: "s".into(),
            area: None,
            pool_id: None,
            operator: None,
            vpc_id: "v".into(),
            subnet_ids: vec![],
            security_group_ids: vec![],
            root_volume: VolumeSpec {
                size_gb: 40,
                volume_type: "SATA".into(),
            },
            data_volumes: vec![],
            key_name: None,
            admin_password: Some(pw.into()),
            user_data: None,
            bandwidth: None,
            power: PowerState::Running,
            fleet_id: None,
            ext: InstanceExt::None,
        };
        assert_ne!(spec("a").unobservable_hash(), spec("b").unobservable_hash());
        assert!(!spec("Secret-1").unobservable_hash().contains("Secret"));
        assert!(!format!("{:?}", spec("Secret-1")).contains("Secret-1"));
    }
}
