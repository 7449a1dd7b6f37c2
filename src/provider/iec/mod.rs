//! Huawei Cloud IEC: the provider implementation behind the boundary traits. `client` speaks the HTTP API
//! (`types` are its wire shapes, `errors` its error table; signing, IAM login and the error body are the
//! shared [`crate::provider::huawei`] ones); this file holds IEC's [`Capabilities`] and the mapping
//! between domain types and IEC wire types.

pub mod client;
pub mod errors;
pub mod instance;
pub mod types;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;

use self::client::{ClientConfig, IecClient};
use self::types as wire;
use super::batch::{Lookup, Snapshots};
use super::cache::{CATALOG_TTL, TtlCache};
use super::huawei::auth::{Auth, iam_endpoint};
use super::metrics::ObservationSource;
use super::*;

/// Default IEC endpoint (IEC is a global service; Huawei's SDK region table lists this host for cn-north-4).
pub const DEFAULT_ENDPOINT: &str = "https://iecs.myhuaweicloud.com";
/// Region used for the IAM endpoint when none is configured.
pub const DEFAULT_REGION: &str = "cn-north-4";

/// Largest `demand_count` per location in one deployment plan (the API reference: ≤ 10); larger
/// targets are split into several locations.
pub const MAX_DEMAND_COUNT: u32 = 10;

/// IEC's capabilities (from the API reference).
pub fn capabilities() -> Capabilities {
    Capabilities {
        kind: ProviderKind::Iec,
        supports: SupportedKinds {
            vpc: true,
            subnets: true,
            security_groups: true,
            instances: true,
            fleets: true,
        },
        lacks: Lacks::default(),
        vpc_rename: true,
        vpc_cidr_update: true,
        subnets_only_in_customer_vpcs: true,
        security_group_update: false,
        rule_update: false,
        security_group_needs_vpc: false,
        // The reference does not say which rules a new group gets; Huawei clouds add allow-all egress.
        default_rules: vec![
            RuleSpec::allow(Direction::Egress, EtherType::Ipv4),
            RuleSpec::allow(Direction::Egress, EtherType::Ipv6),
        ],
        instance_fields: InstanceFieldPolicy {
            name: FieldChange::InPlace,
            description: FieldChange::InPlace,
            image: FieldChange::InPlaceWhileStopped,
            flavor: FieldChange::Replace,
            site: FieldChange::Replace,
            network: FieldChange::Replace,
            security_groups: FieldChange::InPlace,
            volumes: FieldChange::Replace,
            key_name: FieldChange::InPlaceWhileStopped,
            unobservable: FieldChange::Replace,
        },
        instance: InstanceRules {
            // IEC.010203: an instance cannot be deleted while it is being built.
            delete_while_creating: false,
            // change-OS takes a key pair and user data, no password.
            reimage_sets_password: false,
            // Single instances are created at a site, outside any edge cloud.
            fleet: FleetMembership::Forbidden,
        },
        idempotency_tokens: false,
        tags: false,
        unique_names: UniqueNames {
            vpc: true,
            security_group: false,
            instance: false,
            fleet: true,
        },
        fleet: FleetCapabilities {
            expand: true,
            no_expand_levels: vec![CoverageLevel::Site],
            expand_only_when_ready: true,
        },
        max_security_group_description_len: 64,
    }
}

/// Page size of the lists that answer drift polls ([`InstanceApi::observe`]). Small pages keep the
/// operator's transient memory to one page of wire shapes (a page of 1,000 full instances is megabytes
/// of JSON); at 10,000 instances a list is 100 requests, answering 10,000 polls.
const OBSERVE_PAGE_LIMIT: u32 = 100;

/// An instance of a drift-poll list as (id, compact JSON of its observation); `None` if it cannot be
/// encoded (it is then read directly when polled).
fn compact_instance(i: wire::Instance) -> (String, Option<Box<str>>) {
    let observed = instance_from(i);
    let json = serde_json::to_string(&observed).ok().map(String::into_boxed_str);
    (observed.id, json)
}

/// The IEC provider for one account.
#[derive(Debug)]
pub struct IecProvider {
    client: IecClient,
    caps: Capabilities,
    sites: TtlCache<(Option<String>, Option<String>), Site>,
    flavors: TtlCache<Vec<String>, Flavor>,
    images: TtlCache<(Option<String>, Option<String>), Image>,
    /// Drift-poll snapshot: each instance as the compact JSON of its [`ObservedInstance`] (one
    /// allocation of a few hundred bytes instead of a struct of some 25; decoded on a hit).
    instances: Snapshots<Box<str>>,
}

impl IecProvider {
    /// Builds the client from settings; fails on settings IEC cannot use.
    pub fn new(
        settings: &ProviderSettings,
        limiter: Arc<RateLimiter>,
        metrics: ProviderMetrics,
    ) -> ProviderResult<Self> {
        const OP: &str = "iec.build";
        let base = http::base_url(OP, settings, DEFAULT_ENDPOINT)?;
        let http = http::http_client(OP, settings)?;
        let iam = iam_endpoint(settings, settings.region.as_deref().unwrap_or(DEFAULT_REGION));
        let auth = Auth::from_settings(OP, settings, &http, &iam, errors::from_failure)?;
        let config = ClientConfig {
            base,
            account: settings.account.clone(),
            project_id: settings.project_id.clone(),
            domain_id: settings.domain_id.clone(),
            retry: settings.retry,
        };
        Ok(Self {
            client: IecClient::new(http, config, auth, limiter, metrics),
            caps: capabilities(),
            sites: TtlCache::new(CATALOG_TTL),
            flavors: TtlCache::new(CATALOG_TTL),
            images: TtlCache::new(CATALOG_TTL),
            instances: Snapshots::default(),
        })
    }

    /// The underlying typed client (for operations the traits do not cover).
    pub fn client(&self) -> &IecClient {
        &self.client
    }
}

#[async_trait]
impl Provider for IecProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Iec
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Reads the quotas: cheap, authenticated, and touches no resources.
    async fn probe(&self) -> ProviderResult<()> {
        self.client.quotas().await.map(|_| ())
    }

    fn vpcs(&self) -> ProviderResult<&dyn VpcApi> {
        Ok(self)
    }

    fn security_groups(&self) -> ProviderResult<&dyn SecurityGroupApi> {
        Ok(self)
    }

    fn instances(&self) -> ProviderResult<&dyn InstanceApi> {
        Ok(self)
    }

    fn fleets(&self) -> ProviderResult<&dyn FleetApi> {
        Ok(self)
    }

    fn catalog(&self) -> ProviderResult<&dyn CatalogApi> {
        Ok(self)
    }
}

// ---------------------------------------------------------------------------------------------------------
// VPC
// ---------------------------------------------------------------------------------------------------------

fn vpc_mode_str(m: VpcMode) -> &'static str {
    match m {
        VpcMode::System => "SYSTEM",
        VpcMode::Customer => "CUSTOMER",
    }
}

fn vpc_from(v: wire::Vpc, subnets: Vec<ObservedSubnet>) -> ObservedVpc {
    let mode = match v.mode.to_ascii_uppercase().as_str() {
        "SYSTEM" => Some(VpcMode::System),
        "CUSTOMER" => Some(VpcMode::Customer),
        _ => None,
    };
    ObservedVpc {
        id: v.id,
        name: v.name,
        cidr: v.cidr,
        mode,
        subnet_count: v.subnet_num,
        subnets,
        busy: false,
    }
}

fn subnet_from(s: wire::Subnet) -> ObservedSubnet {
    let state = match s.status.to_ascii_uppercase().as_str() {
        "ACTIVE" => SubnetState::Active,
        "UNKNOWN" | "BUILD" => SubnetState::Pending,
        "ERROR" => SubnetState::Error,
        _ => SubnetState::Other(s.status.clone()),
    };
    ObservedSubnet {
        id: s.id,
        name: s.name,
        cidr: s.cidr,
        gateway_ip: s.gateway_ip,
        vpc_id: s.vpc_id,
        site_id: s.site_id,
        state,
        dhcp_enable: s.dhcp_enable,
        primary_dns: s.primary_dns,
        secondary_dns: s.secondary_dns,
    }
}

/// First host address of an IPv4 CIDR (the conventional gateway), e.g. `10.0.1.0/24` → `10.0.1.1`.
pub fn first_host(cidr: &str) -> Option<String> {
    let (addr, len) = cidr.split_once('/')?;
    let ip: std::net::Ipv4Addr = addr.trim().parse().ok()?;
    let len: u32 = len.trim().parse().ok()?;
    if len > 30 {
        return None;
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let network = u32::from(ip) & mask;
    Some(std::net::Ipv4Addr::from(network + 1).to_string())
}

/// Whether `name` keeps IEC's network naming rule: 1–64 letters, digits, Chinese characters, `-`, `_`, `.`.
pub fn valid_network_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=64).contains(&n)
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c) || ('\u{4e00}'..='\u{9fff}').contains(&c))
}

fn prefix_len(cidr: &str) -> Option<u8> {
    cidr.split_once('/').and_then(|(_, p)| p.parse().ok())
}

/// IEC's rules for a Vpc that the cloud-neutral schema leaves open: no other cloud's section, the
/// name charset, a VPC prefix of /8–/24, subnets only in CUSTOMER mode, each at a site (`siteId`)
/// with a prefix of at most /28 and a name of the charset.
pub fn vpc_problems(spec: &VpcSpec) -> Vec<FieldError> {
    let mut out = Vec::new();
    let mut problem = |field: String, message: &str| {
        out.push(FieldError::invalid(field, message));
    };
    if let VpcExt::Veen(_) = spec.ext {
        problem(
            "spec.veen".into(),
            "this ProviderConfig is Huawei Cloud IEC; spec.veen is for Volcengine veEN: remove it (IEC settings go in spec.iec)",
        );
    }
    if !valid_network_name(&spec.name) {
        problem(
            "spec.name".into(),
            "IEC VPC names are 1-64 letters, digits, Chinese characters, '-', '_' or '.' (set spec.name when metadata.name does not fit)",
        );
    }
    if !prefix_len(&spec.cidr).is_some_and(|p| (8..=24).contains(&p)) {
        problem(
            "spec.cidr".into(),
            "IEC VPCs take a prefix length between 8 and 24",
        );
    }
    if spec.mode == VpcMode::System && !spec.subnets.is_empty() {
        problem(
            "spec.subnets".into(),
            "IEC plans the subnets of a SYSTEM VPC itself: set spec.iec.mode to CUSTOMER to list subnets (the mode is immutable, so recreate the Vpc)",
        );
        return out;
    }
    for (i, s) in spec.subnets.iter().enumerate() {
        if s.site_id.is_empty() {
            problem(
                format!("spec.subnets[{i}].siteId"),
                "IEC subnets live in a site: set the IEC site id",
            );
        }
        if !valid_network_name(&s.name) {
            problem(
                format!("spec.subnets[{i}].name"),
                "IEC subnet names are 1-64 letters, digits, Chinese characters, '-', '_' or '.'",
            );
        }
        if prefix_len(&s.cidr).is_some_and(|p| p > 28) {
            problem(
                format!("spec.subnets[{i}].cidr"),
                "IEC subnets take a prefix length of at most 28",
            );
        }
    }
    out
}

#[async_trait]
impl VpcApi for IecProvider {
    fn validate(&self, spec: &VpcSpec) -> Vec<FieldError> {
        vpc_problems(spec)
    }

    async fn find_by_name(&self, name: &str) -> ProviderResult<Vec<ObservedVpc>> {
        let vpcs: Vec<wire::Vpc> = self
            .client
            .list_vpcs(Some(name))
            .await?
            .into_iter()
            .filter(|v| v.name == name)
            .collect();
        let mut out = Vec::with_capacity(vpcs.len());
        for v in vpcs {
            let subnets = self
                .client
                .list_subnets(Some(&v.id), None)
                .await?
                .into_iter()
                .map(subnet_from)
                .collect();
            out.push(vpc_from(v, subnets));
        }
        Ok(out)
    }

    async fn get(&self, id: &str) -> ProviderResult<ObservedVpc> {
        let v = self.client.get_vpc(id).await?;
        let subnets = self
            .client
            .list_subnets(Some(id), None)
            .await?
            .into_iter()
            .map(subnet_from)
            .collect();
        Ok(vpc_from(v, subnets))
    }

    async fn list_all(&self) -> ProviderResult<Vec<ObservedVpc>> {
        let vpcs = self.client.list_vpcs(None).await?;
        let mut by_vpc: HashMap<String, Vec<ObservedSubnet>> = HashMap::new();
        for s in self.client.list_subnets(None, None).await? {
            by_vpc.entry(s.vpc_id.clone()).or_default().push(subnet_from(s));
        }
        Ok(vpcs
            .into_iter()
            .map(|v| {
                let subnets = by_vpc.remove(&v.id).unwrap_or_default();
                vpc_from(v, subnets)
            })
            .collect())
    }

    async fn create(&self, spec: &VpcSpec, _identity: &CreateIdentity) -> ProviderResult<ObservedVpc> {
        // IEC has no tags: the unique name is the identity.
        let v = self
            .client
            .create_vpc(&spec.name, &spec.cidr, vpc_mode_str(spec.mode))
            .await?;
        Ok(vpc_from(v, Vec::new()))
    }

    async fn update(&self, id: &str, update: &VpcUpdate) -> ProviderResult<ObservedVpc> {
        let option = wire::VpcOption {
            name: update.name.clone(),
            cidr: update.cidr.clone(),
            mode: None,
        };
        let v = self.client.update_vpc(id, &option).await?;
        Ok(vpc_from(v, Vec::new()))
    }

    async fn delete(&self, id: &str) -> ProviderResult<()> {
        self.client.delete_vpc(id).await
    }

    async fn list_subnets(&self, vpc_id: &str) -> ProviderResult<Vec<ObservedSubnet>> {
        Ok(self
            .client
            .list_subnets(Some(vpc_id), None)
            .await?
            .into_iter()
            .map(subnet_from)
            .collect())
    }

    async fn create_subnet(&self, vpc_id: &str, spec: &SubnetSpec) -> ProviderResult<ObservedSubnet> {
        let gateway_ip = match spec.gateway_ip.clone().or_else(|| first_host(&spec.cidr)) {
            Some(g) => g,
            None => {
                return Err(ProviderError::Invalid {
                    detail: ErrorDetail::local(
                        "iec.subnet.create",
                        format!("cannot derive a gateway from cidr {:?}; set gatewayIp", spec.cidr),
                    ),
                });
            }
        };
        let option = wire::CreateSubnetOption {
            name: spec.name.clone(),
            cidr: spec.cidr.clone(),
            gateway_ip,
            dhcp_enable: spec.dhcp_enable,
            primary_dns: spec.primary_dns.clone(),
            secondary_dns: spec.secondary_dns.clone(),
            vpc_id: vpc_id.to_owned(),
            site_id: spec.site_id.clone(),
        };
        Ok(subnet_from(self.client.create_subnet(&option).await?))
    }

    async fn update_subnet(&self, _vpc_id: &str, id: &str, update: &SubnetUpdate) -> ProviderResult<()> {
        let (primary_dns, secondary_dns) = update.dns.clone().unwrap_or((None, None));
        let option = wire::UpdateSubnetOption {
            name: update.name.clone(),
            dhcp_enable: update.dhcp_enable,
            primary_dns,
            secondary_dns,
        };
        self.client.update_subnet(id, &option).await.map(|_| ())
    }

    async fn delete_subnet(&self, _vpc_id: &str, id: &str) -> ProviderResult<()> {
        self.client.delete_subnet(id).await
    }
}

// ---------------------------------------------------------------------------------------------------------
// Security groups
// ---------------------------------------------------------------------------------------------------------

/// IEC rule → domain rule.
pub fn rule_from(r: &wire::SecurityGroupRule) -> ObservedRule {
    let ethertype = if r.ethertype.eq_ignore_ascii_case("ipv6") {
        EtherType::Ipv6
    } else {
        EtherType::Ipv4
    };
    let remote = match (&r.remote_group_id, &r.remote_ip_prefix) {
        (Some(g), _) => RuleRemote::Group(g.clone()),
        (None, Some(p)) => RuleRemote::Cidr(p.clone()),
        (None, None) => RuleRemote::Any,
    };
    ObservedRule {
        id: r.id.clone(),
        rule: RuleSpec {
            direction: if r.direction.eq_ignore_ascii_case("egress") {
                Direction::Egress
            } else {
                Direction::Ingress
            },
            ethertype,
            protocol: (!r.protocol.is_empty()).then(|| r.protocol.to_ascii_lowercase()),
            port_min: r.port_range_min,
            port_max: r.port_range_max,
            remote,
            action: if r
                .action
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case("deny"))
            {
                RuleAction::Deny
            } else {
                RuleAction::Allow
            },
            priority: r.priority.and_then(|p| u8::try_from(p).ok()),
            description: r.description.clone(),
        },
    }
}

/// Domain rule → IEC create body.
pub fn rule_option(group_id: &str, r: &RuleSpec) -> wire::CreateRuleOption {
    let (remote_group_id, remote_ip_prefix) = match &r.remote {
        RuleRemote::Any => (None, None),
        RuleRemote::Cidr(c) => (None, Some(c.clone())),
        RuleRemote::Group(g) => (Some(g.clone()), None),
    };
    wire::CreateRuleOption {
        description: r.description.clone(),
        security_group_id: group_id.to_owned(),
        direction: match r.direction {
            Direction::Ingress => "ingress".into(),
            Direction::Egress => "egress".into(),
        },
        ethertype: match r.ethertype {
            EtherType::Ipv4 => "IPv4".into(),
            EtherType::Ipv6 => "IPv6".into(),
        },
        protocol: r
            .protocol
            .clone()
            .filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("any")),
        port_range_min: r.port_min,
        port_range_max: r.port_max.or(r.port_min),
        remote_group_id,
        remote_ip_prefix,
        action: match r.action {
            RuleAction::Allow => "allow".into(),
            RuleAction::Deny => "deny".into(),
        },
        priority: r.priority,
    }
}

fn group_from(g: wire::SecurityGroup, rules: Option<Vec<wire::SecurityGroupRule>>) -> ObservedSecurityGroup {
    let rules = rules.unwrap_or(g.security_group_rules);
    ObservedSecurityGroup {
        id: g.id,
        name: g.name,
        description: g.description,
        rules: rules.iter().map(rule_from).collect(),
    }
}

#[async_trait]
impl SecurityGroupApi for IecProvider {
    async fn list_all(&self) -> ProviderResult<Vec<ObservedSecurityGroup>> {
        Ok(self
            .client
            .list_security_groups()
            .await?
            .into_iter()
            .map(|g| group_from(g, None))
            .collect())
    }

    async fn find_by_name(&self, name: &str) -> ProviderResult<Vec<ObservedSecurityGroup>> {
        Ok(SecurityGroupApi::list_all(self)
            .await?
            .into_iter()
            .filter(|g| g.name == name)
            .collect())
    }

    async fn get(&self, id: &str) -> ProviderResult<ObservedSecurityGroup> {
        let g = self.client.get_security_group(id).await?;
        let rules = self.client.list_rules(Some(id)).await?;
        Ok(group_from(g, Some(rules)))
    }

    async fn create(&self, create: &SecurityGroupCreate) -> ProviderResult<ObservedSecurityGroup> {
        // Account-wide groups without tags (`security_group_needs_vpc` is false: the controller never
        // sends a VPC here).
        Ok(group_from(
            self.client
                .create_security_group(&create.name, &create.description)
                .await?,
            None,
        ))
    }

    async fn delete(&self, id: &str) -> ProviderResult<()> {
        self.client.delete_security_group(id).await
    }

    async fn list_rules(&self, group_id: &str) -> ProviderResult<Vec<ObservedRule>> {
        Ok(self
            .client
            .list_rules(Some(group_id))
            .await?
            .iter()
            .map(rule_from)
            .collect())
    }

    async fn create_rule(&self, group_id: &str, rule: &RuleSpec) -> ProviderResult<ObservedRule> {
        let created = self.client.create_rule(&rule_option(group_id, rule)).await?;
        Ok(rule_from(&created))
    }

    async fn delete_rule(&self, _group_id: &str, rule_id: &str) -> ProviderResult<()> {
        self.client.delete_rule(rule_id).await
    }
}

// ---------------------------------------------------------------------------------------------------------
// Instances
// ---------------------------------------------------------------------------------------------------------

/// IEC status + Nova extension states → domain state.
pub fn instance_state(status: &str, vm_state: &str, task_state: &str) -> InstanceState {
    // IEC keeps deleted instances listed for a while: DELETED is gone, whatever the task says.
    if status.eq_ignore_ascii_case("DELETED") {
        return InstanceState::Deleted;
    }
    let task = task_state.to_ascii_lowercase();
    if task.contains("delet") {
        return InstanceState::Deleting;
    }
    if task.contains("rebuild") {
        return InstanceState::Rebuilding;
    }
    if task.contains("reboot") || task.starts_with("powering") {
        return InstanceState::Transitioning;
    }
    match status.to_ascii_uppercase().as_str() {
        "BUILD" | "BUILDING" => InstanceState::Creating,
        "ACTIVE" if vm_state.eq_ignore_ascii_case("stopped") => InstanceState::Stopped,
        "ACTIVE" => InstanceState::Running,
        "SHUTOFF" | "STOPPED" => InstanceState::Stopped,
        "REBOOT" | "HARD_REBOOT" => InstanceState::Transitioning,
        "REBUILD" => InstanceState::Rebuilding,
        "DELETED" | "SOFT_DELETED" => InstanceState::Deleted,
        "ERROR" | "FAILED" => InstanceState::Failed,
        other => InstanceState::Other(other.to_owned()),
    }
}

fn meta_str(m: &BTreeMap<String, serde_json::Value>, key: &str) -> Option<String> {
    m.get(key)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// IEC instance → domain instance.
pub fn instance_from(i: wire::Instance) -> ObservedInstance {
    let state = instance_state(&i.status, &i.vm_state, &i.task_state);
    let mut private_ips = Vec::new();
    let mut public_ips = Vec::new();
    let mut nics: Vec<ObservedNic> = Vec::new();
    let mut vpc_id = meta_str(&i.metadata, "vpc_id");
    for (vpc, addrs) in &i.addresses {
        if vpc_id.is_none() {
            vpc_id = Some(vpc.clone());
        }
        for a in addrs {
            if a.kind.eq_ignore_ascii_case("floating") {
                public_ips.push(a.addr.clone());
                continue;
            }
            private_ips.push(a.addr.clone());
            if !a.port_id.is_empty() {
                match nics.iter_mut().find(|n| n.id == a.port_id) {
                    Some(n) => n.private_ips.push(a.addr.clone()),
                    None => nics.push(ObservedNic {
                        id: a.port_id.clone(),
                        private_ips: vec![a.addr.clone()],
                        mac: (!a.mac.is_empty()).then(|| a.mac.clone()),
                    }),
                }
            }
        }
    }
    let tags: BTreeMap<String, String> = i
        .tags
        .iter()
        .map(|t| match t.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (t.clone(), String::new()),
        })
        .collect();
    let geo = i.geolocation.clone().unwrap_or_default();
    let image = i
        .image_id
        .clone()
        .or_else(|| meta_str(&i.metadata, "metering.image_id"))
        .or_else(|| meta_str(&i.metadata, "image_id"));
    let fleet_id = i
        .edgecloud_id
        .clone()
        .or_else(|| tags.get("edgecloud").cloned().filter(|s| !s.is_empty()));
    ObservedInstance {
        id: i.id,
        name: i.name,
        description: i.description,
        state,
        raw_status: i.status,
        flavor: (!i.flavor.id.is_empty()).then_some(i.flavor.id),
        image,
        placement: Placement {
            // The doc's Instance has no site id; the geolocation id is the site's.
            site_id: i.site_id.or_else(|| geo.id.clone()),
            zone: i.availability_zone,
            area: geo.area.or_else(|| tags.get("area").cloned()),
            province: geo.province.or_else(|| tags.get("province").cloned()),
            city: geo.city.or_else(|| tags.get("city").cloned()),
            operator: tags.get("operator").cloned(),
            ..Placement::default()
        },
        fleet_id,
        private_ips,
        public_ips,
        nics,
        security_groups: i
            .security_groups
            .into_iter()
            .map(|g| g.id.unwrap_or(g.name))
            .collect(),
        vpc_id,
        key_name: i.key_name,
        created: i.created,
        tags,
    }
}

fn operation(job: Option<String>, ids: Vec<String>) -> Operation {
    Operation {
        job_ids: job.into_iter().filter(|j| !j.is_empty()).collect(),
        resource_ids: ids,
        order_id: None,
    }
}

/// User data as IEC expects it (instances and plan stacks alike): base64 of the text.
fn user_data_b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Whether an instance's security group entry is an id (IEC ids are UUIDs; the account's default
/// group shows by name only, and a name cannot be passed on).
fn is_resource_id(group: &str) -> bool {
    group.len() >= 32 && group.contains('-')
}

/// A bandwidth's `sharetype` as IEC spells it (`WHOLE`, its only type).
fn share_type(sharing: BandwidthSharing) -> String {
    match sharing {
        BandwidthSharing::Shared => "WHOLE".to_owned(),
    }
}

#[async_trait]
impl InstanceApi for IecProvider {
    fn validate(&self, spec: &InstanceSpec, creating: bool) -> Vec<InstanceFieldError> {
        instance::validate(spec, creating)
    }

    async fn prepare_create(&self, spec: &mut InstanceSpec) -> ProviderResult<Vec<InstanceFieldError>> {
        self.prepare_instance(spec).await
    }

    async fn find_by_identity(
        &self,
        identity: &CreateIdentity,
        spec: &InstanceSpec,
    ) -> ProviderResult<Vec<ObservedInstance>> {
        self.find_instances(identity, spec).await
    }

    fn shows_name(&self, observed: &str, spec: &InstanceSpec) -> bool {
        instance::name_matches(observed, &spec.name, instance::with_prefix(spec))
    }

    fn security_group_ids(&self, observed: &ObservedInstance) -> Vec<String> {
        observed
            .security_groups
            .iter()
            .filter(|g| is_resource_id(g))
            .cloned()
            .collect()
    }

    async fn create(
        &self,
        spec: &InstanceSpec,
        count: u32,
        identity: &CreateIdentity,
    ) -> ProviderResult<Operation> {
        let name = if identity.name.is_empty() {
            spec.name.clone()
        } else {
            identity.name.clone()
        };
        let server = wire::CreateInstanceOption {
            name,
            with_prefix: instance::with_prefix(spec),
            image_ref: spec.image.clone(),
            flavor_ref: spec.flavor.clone(),
            admin_pass: spec.admin_password.as_ref().map(|p| p.expose().to_owned()),
            key_name: spec.key_name.clone(),
            net_config: wire::NetConfigInstance {
                vpc_id: spec.vpc_id.clone(),
                subnets: spec
                    .subnet_ids
                    .iter()
                    .map(|id| wire::SubnetConfig { id: id.clone() })
                    .collect(),
            },
            bandwidth: spec.bandwidth.as_ref().map(|b| wire::BandwidthConfig {
                sharetype: share_type(b.share_type),
                size: b.size_mbit.map(u64::from),
            }),
            root_volume: wire::Volume {
                size: spec.root_volume.size_gb,
                volume_type: spec.root_volume.volume_type.clone(),
            },
            data_volumes: spec
                .data_volumes
                .iter()
                .map(|v| wire::Volume {
                    size: v.size_gb,
                    volume_type: v.volume_type.clone(),
                })
                .collect(),
            count,
            security_groups: spec
                .security_group_ids
                .iter()
                .map(|id| wire::IdRef { id: id.clone() })
                .collect(),
            user_data: spec.user_data.as_ref().map(|u| user_data_b64(u.expose())),
            coverage: wire::CoverageInstance {
                coverage_policy: "centralize".into(),
                coverage_level: "site".into(),
                coverage_sites: vec![wire::CoverageSiteInstance {
                    site: spec.site.clone(),
                    demands: vec![wire::DemandInstance {
                        pool_id: spec.pool_id.clone(),
                    }],
                }],
            },
        };
        let resp = self.client.create_instances(&server).await?;
        self.instances.touch(resp.server_ids.iter().map(String::as_str));
        Ok(operation(resp.job_id, resp.server_ids))
    }

    async fn get(&self, id: &str) -> ProviderResult<ObservedInstance> {
        Ok(instance_from(self.client.get_instance(id).await?))
    }

    async fn observe(&self, id: &str, max_age: std::time::Duration) -> ProviderResult<ObservedInstance> {
        let list = || async {
            let all = self
                .client
                .list_instances_as(&[], OBSERVE_PAGE_LIMIT, compact_instance, |(id, _)| id.as_str())
                .await?;
            Ok::<_, ProviderError>(
                all.into_iter()
                    .filter_map(|(id, json)| Some((id, json?)))
                    .collect(),
            )
        };
        let hit = match self.instances.lookup(id, max_age, list).await {
            Lookup::Hit(json) => serde_json::from_str::<ObservedInstance>(&json).ok(),
            Lookup::Direct => None,
        };
        match hit {
            Some(instance) => {
                self.client
                    .count_observation("instance", ObservationSource::Batch);
                Ok(instance)
            }
            None => {
                self.client
                    .count_observation("instance", ObservationSource::Direct);
                InstanceApi::get(self, id).await
            }
        }
    }

    async fn list(&self, filter: &InstanceFilter) -> ProviderResult<Vec<ObservedInstance>> {
        let mut q: Vec<(&str, &str)> = Vec::new();
        if let Some(f) = &filter.fleet_id {
            q.push(("edgecloud_id", f));
        }
        if let Some(n) = &filter.name {
            q.push(("name", n));
        }
        if let Some(s) = &filter.site_id {
            q.push(("site_id", s));
        }
        let all = self
            .client
            .list_instances(&q)
            .await?
            .into_iter()
            .map(instance_from);
        Ok(all
            .filter(|i| filter.ids.is_empty() || filter.ids.contains(&i.id))
            .filter(|i| filter.name.as_ref().is_none_or(|n| &i.name == n))
            .collect())
    }

    async fn update(&self, id: &str, update: &InstanceUpdate) -> ProviderResult<()> {
        let result = self
            .client
            .update_instance(id, update.name.as_deref(), update.description.as_deref())
            .await;
        self.instances.touch([id]);
        result.map(|_| ())
    }

    async fn delete(&self, ids: &[String]) -> ProviderResult<Operation> {
        let result = self.client.delete_instances(ids).await;
        self.instances.touch(ids.iter().map(String::as_str));
        Ok(operation(Some(result?.job_id), Vec::new()))
    }

    async fn power(&self, ids: &[String], action: PowerAction) -> ProviderResult<Operation> {
        let (key, kind) = match action {
            PowerAction::Start => ("os-start", None),
            PowerAction::Stop { force } => ("os-stop", Some(if force { "HARD" } else { "SOFT" })),
            PowerAction::Reboot { force } => ("reboot", Some(if force { "HARD" } else { "SOFT" })),
        };
        let result = self.client.instance_action(key, ids, kind).await;
        self.instances.touch(ids.iter().map(String::as_str));
        let jobs = result?;
        Ok(Operation {
            job_ids: jobs
                .jobs
                .into_iter()
                .map(|j| j.job_id)
                .filter(|j| !j.is_empty())
                .collect(),
            ..Operation::default()
        })
    }

    async fn change_os(&self, id: &str, request: &ChangeOs) -> ProviderResult<Operation> {
        let user_data = request.user_data.as_ref().map(|u| user_data_b64(u.expose()));
        let job = self
            .client
            .change_os(
                id,
                &request.image,
                request.key_name.as_deref(),
                user_data.as_deref(),
            )
            .await;
        self.instances.touch([id]);
        Ok(operation(Some(job?.job_id), Vec::new()))
    }

    async fn set_security_groups(&self, id: &str, group_ids: &[String]) -> ProviderResult<()> {
        let instance = instance_from(self.client.get_instance(id).await?);
        let mut result = Ok(());
        for nic in &instance.nics {
            result = self
                .client
                .update_port_security_groups(&nic.id, group_ids)
                .await
                .map(|_| ());
            if result.is_err() {
                break;
            }
        }
        self.instances.touch([id]);
        result
    }

    async fn add_nics(&self, id: &str, request: &AddNics) -> ProviderResult<Operation> {
        let job = self
            .client
            .add_nics(
                id,
                &request.vpc_id,
                request.subnet_id.as_deref(),
                &request.security_group_ids,
                request.count,
            )
            .await;
        self.instances.touch([id]);
        Ok(operation(Some(job?.job_id), Vec::new()))
    }

    async fn remove_nics(&self, id: &str, nic_ids: &[String]) -> ProviderResult<Operation> {
        let job = self.client.delete_nics(id, nic_ids).await;
        self.instances.touch([id]);
        Ok(operation(Some(job?.job_id), Vec::new()))
    }
}

// ---------------------------------------------------------------------------------------------------------
// Fleets (deployment plans + edge clouds)
// ---------------------------------------------------------------------------------------------------------

/// IEC edge cloud status → domain state.
pub fn fleet_state(status: &str) -> FleetState {
    match status.to_ascii_lowercase().as_str() {
        "creating" | "scheduling" | "schedulering" => FleetState::Creating,
        "updating" => FleetState::Updating,
        "inservice" => FleetState::Ready,
        "failed" => FleetState::Failed,
        "deleting" => FleetState::Deleting,
        "delfailed" => FleetState::DeleteFailed,
        _ => FleetState::Other(status.to_owned()),
    }
}

fn level_str(l: CoverageLevel) -> &'static str {
    match l {
        CoverageLevel::Site => "site",
        CoverageLevel::City => "city",
        CoverageLevel::Province => "prov",
        CoverageLevel::Area => "area",
    }
}

fn level_from(s: &str) -> Option<CoverageLevel> {
    match s {
        "site" => Some(CoverageLevel::Site),
        "city" => Some(CoverageLevel::City),
        "prov" | "province" => Some(CoverageLevel::Province),
        "area" => Some(CoverageLevel::Area),
        _ => None,
    }
}

fn fleet_from(e: wire::EdgeCloud) -> ObservedFleet {
    ObservedFleet {
        state: fleet_state(&e.status),
        raw_status: e.status,
        success_count: e.success_num,
        failed_count: e.failed_num,
        failure: e
            .fail_reason
            .filter(|f| !f.fail_code.is_empty() || !f.fail_message.is_empty())
            .map(|f| FleetFailure {
                code: f.fail_code,
                message: f.fail_message,
            }),
        level: level_from(&e.coverage.coverage_level),
        sites: e.coverage.coverage_sites.iter().map(|s| s.site.clone()).collect(),
        id: e.id,
        name: e.name,
        description: e.description,
    }
}

/// Builds the deployment-plan body. Each target becomes demands of at most `max_demand` resource groups
/// (IEC `demand_count` ≤ 10); the single resource has `count: 1`, so instances = demand counts.
pub fn deployment_request(request: &FleetPlanRequest, max_demand: u32) -> wire::CreateDeploymentRequest {
    let mut sites: Vec<wire::CoverageSite> = Vec::new();
    for t in request.targets.iter().filter(|t| t.count > 0) {
        let mut left = t.count;
        let mut demands = Vec::new();
        while left > 0 {
            let n = left.min(max_demand.max(1));
            demands.push(wire::Demand {
                operator: t.operator.clone(),
                demand_count: n,
                pool_id: t.pool_id.clone(),
            });
            left -= n;
        }
        match sites.iter_mut().find(|s| s.site == t.site) {
            Some(s) => s.demands.extend(demands),
            None => sites.push(wire::CoverageSite {
                site: t.site.clone(),
                demands,
            }),
        }
    }
    let tpl = &request.template;
    let (name, id) = match &request.target {
        FleetPlanTarget::New { name } => (Some(name.clone()), None),
        FleetPlanTarget::Expand { fleet_id } => (None, Some(fleet_id.clone())),
    };
    let stack_name: String = tpl.name.chars().take(48).collect();
    wire::CreateDeploymentRequest {
        edgecloud: wire::EdgeCloudOption {
            name,
            id,
            description: (!request.description.is_empty()).then(|| request.description.clone()),
            coverage: wire::Coverage {
                coverage_policy: match request.policy {
                    CoveragePolicy::Centralize => "centralize".into(),
                    CoveragePolicy::Discrete => "discrete".into(),
                },
                coverage_level: level_str(request.level).into(),
                coverage_sites: sites,
            },
            stack: wire::Stack {
                id: None,
                name: stack_name,
                resources: vec![wire::Resource {
                    name: tpl.name.clone(),
                    with_prefix: Some(tpl.with_prefix),
                    image_ref: tpl.image.clone(),
                    flavor_ref: tpl.flavor.clone(),
                    admin_pass: tpl.admin_password.as_ref().map(|p| p.expose().to_owned()),
                    key_name: tpl.key_name.clone(),
                    net_config: wire::NetConfig {
                        vpc_id: tpl.vpc_id.clone(),
                        nic_num: tpl.nic_count.max(1),
                    },
                    bandwidth: tpl.bandwidth.as_ref().map(|b| wire::BandwidthConfig {
                        sharetype: share_type(b.share_type),
                        size: b.size_mbit.map(u64::from),
                    }),
                    root_volume: wire::Volume {
                        size: tpl.root_volume.size_gb,
                        volume_type: tpl.root_volume.volume_type.clone(),
                    },
                    data_volumes: tpl
                        .data_volumes
                        .iter()
                        .map(|v| wire::Volume {
                            size: v.size_gb,
                            volume_type: v.volume_type.clone(),
                        })
                        .collect(),
                    count: 1,
                    security_groups: tpl
                        .security_group_ids
                        .iter()
                        .map(|id| wire::IdRef { id: id.clone() })
                        .collect(),
                    user_data: tpl.user_data.as_ref().map(|u| user_data_b64(u.expose())),
                }],
            },
        },
    }
}

fn fleet_operation(r: wire::DeployResponse) -> FleetOperation {
    FleetOperation {
        state: fleet_state(&r.status),
        fleet_id: r.id,
        fleet_name: r.name,
        job_id: r.job_id,
    }
}

#[async_trait]
impl FleetApi for IecProvider {
    fn validate_template(&self, template: &InstanceTemplate) -> Vec<InstanceFieldError> {
        instance::template_problems(template)
    }

    async fn create_plan(&self, request: &FleetPlanRequest) -> ProviderResult<FleetPlan> {
        let body = deployment_request(request, MAX_DEMAND_COUNT);
        let resp = self.client.create_deployment(&body).await?;
        Ok(FleetPlan {
            id: resp.id,
            locations: resp
                .locations
                .into_iter()
                .map(|l| PlanLocation {
                    site_id: l.site_id,
                    city: l.city,
                    operator: l.operator,
                    pool_id: l.pool_id,
                    stack_count: l.stack_count,
                })
                .collect(),
        })
    }

    async fn deploy(&self, plan_id: &str, _request: &FleetPlanRequest) -> ProviderResult<FleetOperation> {
        Ok(fleet_operation(self.client.deploy(plan_id).await?))
    }

    async fn expand(&self, plan_id: &str, _request: &FleetPlanRequest) -> ProviderResult<FleetOperation> {
        Ok(fleet_operation(self.client.expand(plan_id).await?))
    }

    async fn find_open_plans(&self) -> ProviderResult<Vec<OpenPlan>> {
        Ok(self
            .client
            .list_deployments(None, Some("open"))
            .await?
            .into_iter()
            .filter(|d| d.status.as_deref().is_none_or(|s| s.eq_ignore_ascii_case("open")))
            .map(|d| OpenPlan {
                id: d.id,
                fleet_name: d.edgecloud.name,
                fleet_id: d.edgecloud.id,
            })
            .collect())
    }

    async fn delete_plan(&self, plan_id: &str) -> ProviderResult<()> {
        self.client.delete_deployment(plan_id).await
    }

    async fn get(&self, id: &str) -> ProviderResult<ObservedFleet> {
        Ok(fleet_from(self.client.get_edge_cloud(id).await?))
    }

    async fn find_by_name(&self, name: &str) -> ProviderResult<Vec<ObservedFleet>> {
        Ok(self
            .client
            .list_edge_clouds(Some(name), None)
            .await?
            .into_iter()
            .filter(|e| e.name == name)
            .map(fleet_from)
            .collect())
    }

    async fn list_all(&self) -> ProviderResult<Vec<ObservedFleet>> {
        Ok(self
            .client
            .list_edge_clouds(None, None)
            .await?
            .into_iter()
            .map(fleet_from)
            .collect())
    }

    async fn list_members(&self, fleet_id: &str) -> ProviderResult<Vec<ObservedInstance>> {
        Ok(self
            .client
            .list_instances(&[("edgecloud_id", fleet_id)])
            .await?
            .into_iter()
            .map(instance_from)
            .filter(|i| i.fleet_id.as_deref().is_none_or(|f| f == fleet_id))
            .collect())
    }

    async fn delete_members(&self, _fleet_id: &str, ids: &[String]) -> ProviderResult<Operation> {
        InstanceApi::delete(self, ids).await
    }

    async fn delete(&self, id: &str) -> ProviderResult<Operation> {
        let job = self.client.delete_edge_cloud(id).await?;
        Ok(operation(Some(job.job_id), Vec::new()))
    }
}

// ---------------------------------------------------------------------------------------------------------
// Catalog
// ---------------------------------------------------------------------------------------------------------

/// A flavor as the domain sees it; sold-out and retired flavors are unavailable.
fn flavor_from(f: wire::IecFlavor) -> Flavor {
    let status = f
        .os_extra_specs
        .get("cond:operation:status")
        .and_then(|v| v.as_str())
        .unwrap_or("normal");
    Flavor {
        available: !matches!(status, "abandon" | "sellout" | "obsolete"),
        vcpus: f.vcpus.and_then(|v| u32::try_from(v).ok()),
        ram_mb: f.ram,
        id: f.id,
        name: f.name,
    }
}

fn site_from(s: wire::IecSite) -> Site {
    let status = match s.status.to_ascii_lowercase().as_str() {
        "normal" | "promotion" | "obt" | "gray" => SiteStatus::Available,
        "sellout" => SiteStatus::SoldOut,
        "offline" => SiteStatus::Offline,
        _ => SiteStatus::Other(s.status.clone()),
    };
    let mut operators: Vec<String> = s
        .pools
        .iter()
        .filter_map(|p| p.operator.as_ref().map(|o| o.name.clone()))
        .filter(|n| !n.is_empty())
        .collect();
    operators.sort();
    operators.dedup();
    let pools: Vec<SitePool> = s
        .pools
        .iter()
        .filter(|p| !p.pool_id.is_empty())
        .map(|p| SitePool {
            id: p.pool_id.clone(),
            operator: p
                .operator
                .as_ref()
                .map(|o| o.name.clone())
                .filter(|n| !n.is_empty()),
        })
        .collect();
    Site {
        id: s.id,
        name: s.name,
        area: s.area,
        province: s.province,
        city: s.city,
        status,
        operators,
        pool_ids: pools.iter().map(|p| p.id.clone()).collect(),
        pools,
    }
}

#[async_trait]
impl CatalogApi for IecProvider {
    async fn sites(&self, filter: &SiteFilter) -> ProviderResult<Vec<Site>> {
        let key = (filter.flavor.clone(), filter.id.clone());
        self.sites
            .get_or_fetch(key, async {
                Ok(self
                    .client
                    .list_sites(filter.flavor.as_deref(), filter.id.as_deref())
                    .await?
                    .into_iter()
                    .map(site_from)
                    .collect())
            })
            .await
    }

    async fn flavors(&self, site_ids: &[String]) -> ProviderResult<Vec<Flavor>> {
        self.flavors
            .get_or_fetch(site_ids.to_vec(), async {
                Ok(self
                    .client
                    .list_flavors(site_ids)
                    .await?
                    .into_iter()
                    .map(flavor_from)
                    .collect())
            })
            .await
    }

    async fn images(&self, filter: &ImageFilter) -> ProviderResult<Vec<Image>> {
        let key = (filter.id.clone(), filter.name.clone());
        self.images
            .get_or_fetch(key, async {
                Ok(self
                    .client
                    .list_images(filter.id.as_deref(), filter.name.as_deref())
                    .await?
                    .into_iter()
                    .map(|i| Image {
                        active: i.status.eq_ignore_ascii_case("active"),
                        min_disk_gb: i.min_disk.and_then(|v| u32::try_from(v).ok()),
                        os_type: i.os_type,
                        id: i.id,
                        name: i.name,
                    })
                    .collect())
            })
            .await
    }

    async fn quotas(&self) -> ProviderResult<Vec<Quota>> {
        Ok(self
            .client
            .quotas()
            .await?
            .quotas
            .resources
            .into_iter()
            .map(|q| Quota {
                resource: q.kind,
                limit: q.quota,
                used: q.used,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_poll_snapshot_entries_decode_to_the_same_observation() {
        let wire: wire::Instance = serde_json::from_value(serde_json::json!({
            "id": "i-1", "name": "IEC-site-web", "status": "ACTIVE", "description": "d",
            "flavor": {"id": "c6.large.2"}, "image_id": "img-1", "site_id": "site-1",
            "key_name": "k", "tags": ["edgecloud=ec-1", "plain"],
            "addresses": {"vpc-1": [
                {"addr": "10.0.0.5", "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS:port_id": "p-1",
                 "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"},
                {"addr": "1.2.3.4", "OS-EXT-IPS:type": "floating"}
            ]},
            "security_groups": [{"id": "sg-1"}],
        }))
        .unwrap();
        let direct = instance_from(wire.clone());
        let (id, json) = compact_instance(wire);
        assert_eq!(id, "i-1");
        let decoded: ObservedInstance = serde_json::from_str(&json.unwrap()).unwrap();
        assert_eq!(decoded, direct);
        assert_eq!(decoded.nics.len(), 1, "the fixture exercises NICs");
    }

    #[test]
    fn instance_states_map_from_status_and_nova_fields() {
        let cases = [
            ("BUILD", "", "", InstanceState::Creating, "building"),
            ("ACTIVE", "active", "", InstanceState::Running, "running"),
            (
                "ACTIVE",
                "stopped",
                "",
                InstanceState::Stopped,
                "object enum lacks SHUTOFF; vm_state tells",
            ),
            ("SHUTOFF", "stopped", "", InstanceState::Stopped, "filter value"),
            (
                "ACTIVE",
                "active",
                "deleting",
                InstanceState::Deleting,
                "task state wins",
            ),
            (
                "ACTIVE",
                "active",
                "rebooting",
                InstanceState::Transitioning,
                "reboot in progress",
            ),
            ("REBUILD", "", "", InstanceState::Rebuilding, "change-os"),
            ("FAILED", "", "", InstanceState::Failed, "documented failure"),
            ("ERROR", "error", "", InstanceState::Failed, "nova error"),
            ("DELETED", "", "", InstanceState::Deleted, "gone"),
            (
                "WEIRD",
                "",
                "",
                InstanceState::Other("WEIRD".into()),
                "unknown kept",
            ),
        ];
        for (status, vm, task, want, reason) in cases {
            assert_eq!(instance_state(status, vm, task), want, "{reason}");
        }
    }

    #[test]
    fn fleet_states_include_doc_misspelling() {
        assert_eq!(fleet_state("schedulering"), FleetState::Creating);
        assert_eq!(fleet_state("inService"), FleetState::Ready);
        assert_eq!(fleet_state("delFailed"), FleetState::DeleteFailed);
    }

    #[test]
    fn deployment_request_splits_demands_and_never_logs_secrets() {
        let req = FleetPlanRequest {
            target: FleetPlanTarget::New {
                name: "ef-abc".into(),
            },
            description: String::new(),
            level: CoverageLevel::City,
            policy: CoveragePolicy::Centralize,
            targets: vec![
                SiteTarget {
                    site: "xi'an".into(),
                    operator: Some("bgp".into()),
                    pool_id: None,
                    count: 23,
                },
                SiteTarget {
                    site: "changsha".into(),
                    operator: None,
                    pool_id: None,
                    count: 0,
                },
            ],
            template: InstanceTemplate {
                name: "web".into(),
                flavor: "c6.large.2".into(),
                image: "img".into(),
                vpc_id: "vpc".into(),
                nic_count: 1,
                security_group_ids: vec!["sg".into()],
                root_volume: VolumeSpec {
                    size_gb: 40,
                    volume_type: "SAS".into(),
                },
                data_volumes: vec![],
                key_name: None,
                admin_password: Some("Pa55w0rd!x".into()),
                user_data: Some("#!/bin/sh\n".into()),
                bandwidth: Some(BandwidthSpec {
                    size_mbit: Some(5),
                    share_type: BandwidthSharing::Shared,
                }),
                with_prefix: false,
                ext: FleetExt::None,
            },
            identity: CreateIdentity::default(),
        };
        let body = deployment_request(&req, 10);
        let sites = &body.edgecloud.coverage.coverage_sites;
        assert_eq!(sites.len(), 1, "zero-count targets are dropped");
        let counts: Vec<u32> = sites[0].demands.iter().map(|d| d.demand_count).collect();
        assert_eq!(counts, vec![10, 10, 3]);
        assert_eq!(body.edgecloud.coverage.coverage_level, "city");
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json.pointer("/edgecloud/stack/resources/0/admin_pass")
                .and_then(|v| v.as_str()),
            Some("Pa55w0rd!x")
        );
        let resource = |field: &str| {
            json.pointer(&format!("/edgecloud/stack/resources/0/{field}"))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        assert_eq!(
            resource("user_data").as_deref(),
            Some("IyEvYmluL3NoCg=="),
            "the stack's user data is base64 of the text, as IEC wants it"
        );
        assert_eq!(
            resource("bandwidth/sharetype").as_deref(),
            Some("WHOLE"),
            "a shared bandwidth is IEC's WHOLE"
        );
        assert!(
            json.pointer("/edgecloud/id").is_none(),
            "new fleets carry a name, never an id"
        );
        assert!(
            !format!("{body:?}").contains("Pa55w0rd"),
            "Debug hides the password"
        );
        assert!(instance::template_problems(&req.template).is_empty());
        let mut no_vpc = req.template.clone();
        no_vpc.vpc_id.clear();
        let problems = instance::template_problems(&no_vpc);
        assert_eq!(
            problems.iter().map(|p| p.field).collect::<Vec<_>>(),
            [InstanceField::Network],
            "IEC edge clouds need a VPC: {problems:?}"
        );
    }

    #[test]
    fn rules_round_trip_through_wire_shape() {
        let rule = RuleSpec {
            protocol: Some("tcp".into()),
            port_min: Some(22),
            port_max: Some(22),
            remote: RuleRemote::Cidr("10.0.0.0/8".into()),
            ..RuleSpec::allow(Direction::Ingress, EtherType::Ipv4)
        };
        let opt = rule_option("g", &rule);
        let wire_rule = wire::SecurityGroupRule {
            id: "r".into(),
            direction: opt.direction.clone(),
            ethertype: opt.ethertype.clone(),
            protocol: "TCP".into(),
            port_range_min: opt.port_range_min,
            port_range_max: opt.port_range_max,
            remote_ip_prefix: opt.remote_ip_prefix.clone(),
            ..Default::default()
        };
        assert_eq!(rule_from(&wire_rule).rule.fingerprint(), rule.fingerprint());
    }

    #[test]
    fn only_security_group_ids_are_passed_on_never_the_default_groups_name() {
        assert!(is_resource_id("5e2f0c1a-7b4d-4c3e-9a8f-1d2e3f4a5b6c"));
        assert!(!is_resource_id("default"));
        assert!(!is_resource_id("web-servers"));
    }

    #[test]
    fn gateway_defaults_to_first_host() {
        assert_eq!(first_host("10.0.1.0/24").as_deref(), Some("10.0.1.1"));
        assert_eq!(first_host("10.1.0.5/8").as_deref(), Some("10.0.0.1"));
        assert_eq!(first_host("nonsense"), None);
    }
}
