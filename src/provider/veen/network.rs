//! veEN edge networking behind [`VpcApi`] and [`SecurityGroupApi`] (SDK `service/veenedge`
//! `api_*vpc*`, `api_*subnet*`, `api_*security_group*`; design memo §1.1).
//!
//! * **VPCs** are custom VPCs: `CreateCustomVPCInstance{vpc_name, cluster_name, segment, desc,
//!   subnets[{name, cidr, desc}], Tags}` — a VPC lives in one edge cluster (`spec.veen.clusterName`),
//!   its desired subnets go with the create. Names are not unique, so a create carries the owner tag
//!   ([`OWNER_TAG`](crate::provider::OWNER_TAG)) and a lost create is found by it (`ListVPCInstances` `TagFilters`). A VPC is
//!   `modifying` until the cloud has made it: observed as [`ObservedVpc::busy`]. Rename:
//!   `SetVPCInstanceName`; the segment cannot change.
//! * **Subnets** live in the VPC's cluster (no site): `CreateSubnetsForCustomVPC`,
//!   `DeleteSubnetsForCustomVPC` (both name the VPC), `SetSubnetNameAndDesc`; they are read with
//!   the VPC (`sub_nets`). No gateway, DNS or DHCP settings.
//! * **Security groups** belong to a VPC (`CreateSecurityGroup{vpc_identity, name, remark, Tags}`);
//!   one group with its rules is `DescribeSecurityGroup`. Rules are IPv4 address ranges with
//!   `direction ingress|egress`, `protocol TCP|UDP|ICMP|ANY|GRE`, `ports "N"|"N-M"`, `priority` and
//!   `rule allow|reject`, and change in place (`ModifySecurityGroupRule`, same id). [`rule_problems`]
//!   names what a rule asks that veEN cannot do (IPv6, peer groups, other protocols).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::VeenProvider;
use super::client::{VeenClient, get, joined, post, with_tags};
use super::types::Tag;
use crate::provider::error::{ErrorDetail, ProviderError};
use crate::provider::http::{HttpResult, decode};
use crate::provider::{
    CreateIdentity, Direction, EtherType, FieldError, ObservedRule, ObservedSecurityGroup, ObservedSubnet,
    ObservedVpc, ProviderResult, RuleAction, RuleRemote, RuleSpec, SecurityGroupApi, SecurityGroupCreate,
    SecurityGroupSpec, SubnetSpec, SubnetState, SubnetUpdate, VpcApi, VpcExt, VpcSpec, VpcUpdate,
};

// ---------------------------------------------------------------------------------------------------------
// Wire shapes (answers decode leniently: every field defaults)
// ---------------------------------------------------------------------------------------------------------

/// The cluster of a VPC.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Cluster {
    /// Cluster name.
    pub cluster_name: String,
}

/// A subnet as `ListVPCInstances` shows it (`sub_nets[]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Subnet {
    /// `subnet_identity`.
    pub subnet_identity: String,
    /// Name.
    pub name: String,
    /// Network address.
    pub cidr_ip: String,
    /// Prefix length.
    pub cidr_mask: u32,
    /// `available`, `modifying` or `deleting`.
    pub status: String,
}

/// A custom VPC (`vpc_instance`, `vpc_instances[]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct VpcInstance {
    /// `vpc_identity`.
    pub vpc_identity: String,
    /// `vpc_name`.
    pub vpc_name: String,
    /// CIDR.
    pub segment: String,
    /// `available`, `modifying` or `deleting`.
    pub status: String,
    /// Its edge cluster.
    pub cluster: Cluster,
    /// Subnets.
    pub sub_nets: Option<Vec<Subnet>>,
    /// Tags (with `with_tag_info`).
    #[serde(rename = "Tags")]
    pub tags: Option<Vec<Tag>>,
}

/// A security group (`security_group`, `security_groups[]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Group {
    /// `group_identity`.
    pub group_identity: String,
    /// Name.
    pub name: String,
    /// Remark (edgefleet's description).
    pub remark: String,
    /// Its VPC.
    pub vpc_identity: String,
    /// Rules by direction (`DescribeSecurityGroup` only).
    pub ingress_rule: Option<RuleList>,
    /// Rules by direction (`DescribeSecurityGroup` only).
    pub egress_rule: Option<RuleList>,
}

/// `{rules, total}` of one direction.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RuleList {
    /// The rules.
    pub rules: Option<Vec<Rule>>,
}

/// A rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Rule {
    /// `rule_identity`.
    pub rule_identity: String,
    /// `ingress` or `egress`.
    pub direction: String,
    /// `TCP`, `UDP`, `ICMP`, `ANY` or `GRE`.
    pub protocol: String,
    /// `"N"`, `"N-M"` or empty.
    pub ports: String,
    /// Peer CIDR.
    pub ip_cidr: String,
    /// 1–100.
    pub priority: i64,
    /// `allow` or `reject`.
    pub rule: String,
    /// Remark.
    pub remark: String,
}

fn tag_list(tags: &std::collections::BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

fn tag_filters(tags: &std::collections::BTreeMap<String, String>) -> Vec<(String, Vec<String>)> {
    tags.iter().map(|(k, v)| (k.clone(), vec![v.clone()])).collect()
}

fn field<T: serde::de::DeserializeOwned>(op: &'static str, mut r: Value, key: &str) -> HttpResult<T> {
    decode(op, r.get_mut(key).map(Value::take).unwrap_or_default())
}

fn not_found(op: &'static str, what: &str, id: &str) -> ProviderError {
    ProviderError::NotFound {
        detail: ErrorDetail::local(op, format!("no {what} {id}")),
    }
}

// ---------------------------------------------------------------------------------------------------------
// The calls
// ---------------------------------------------------------------------------------------------------------

impl VeenClient {
    /// `CreateCustomVPCInstance` (no idempotency token: not retried; a lost answer is found by tag).
    pub async fn create_vpc(&self, body: Value) -> HttpResult<VpcInstance> {
        const OP: &str = "veen.vpc.create";
        let r: Value = self
            .result(post(OP, "CreateCustomVPCInstance", body, false))
            .await?;
        field(OP, r, "vpc_instance")
    }

    /// `ListVPCInstances`, every page, by ids and tags.
    pub async fn list_vpcs(
        &self,
        ids: &[String],
        tags: &[(String, Vec<String>)],
    ) -> HttpResult<Vec<VpcInstance>> {
        self.pages(
            || {
                let c = get("veen.vpc.list", "ListVPCInstances").query("with_tag_info", "true");
                with_tags(joined(c, "vpc_identity_list", ids), tags)
            },
            "vpc_instances",
        )
        .await
    }

    /// `DeleteCustomVPCInstances`.
    pub async fn delete_vpcs(&self, ids: &[String]) -> HttpResult<()> {
        self.done(post(
            "veen.vpc.delete",
            "DeleteCustomVPCInstances",
            json!({"vpc_identity_list": ids}),
            true,
        ))
        .await
    }

    /// `SetVPCInstanceName`.
    pub async fn set_vpc_name(&self, id: &str, name: &str) -> HttpResult<()> {
        self.done(post(
            "veen.vpc.rename",
            "SetVPCInstanceName",
            json!({"vpc_identity": id, "vpc_name": name}),
            true,
        ))
        .await
    }

    /// `CreateSubnetsForCustomVPC` → the new subnet ids.
    pub async fn create_subnets(
        &self,
        vpc_id: &str,
        subnets: Value,
        tags: &[Tag],
    ) -> HttpResult<Vec<String>> {
        const OP: &str = "veen.subnet.create";
        let body = json!({"vpc_identity": vpc_id, "subnets": subnets, "Tags": tags});
        let r: Value = self
            .result(post(OP, "CreateSubnetsForCustomVPC", body, false))
            .await?;
        field(OP, r, "subnet_id_list")
    }

    /// `DeleteSubnetsForCustomVPC`.
    pub async fn delete_subnets(&self, vpc_id: &str, ids: &[String]) -> HttpResult<()> {
        self.done(post(
            "veen.subnet.delete",
            "DeleteSubnetsForCustomVPC",
            json!({"vpc_identity": vpc_id, "subnet_identity_list": ids}),
            true,
        ))
        .await
    }

    /// `SetSubnetNameAndDesc`.
    pub async fn set_subnet_name(&self, id: &str, name: &str) -> HttpResult<()> {
        self.done(post(
            "veen.subnet.rename",
            "SetSubnetNameAndDesc",
            json!({"subnet_identity": id, "name": name}),
            true,
        ))
        .await
    }

    /// `CreateSecurityGroup`.
    pub async fn create_security_group(&self, body: Value) -> HttpResult<Group> {
        const OP: &str = "veen.security_group.create";
        let r: Value = self.result(post(OP, "CreateSecurityGroup", body, false)).await?;
        field(OP, r, "security_group")
    }

    /// `DescribeSecurityGroups`, every page, optionally by tags.
    pub async fn list_security_groups(&self, tags: &[(String, Vec<String>)]) -> HttpResult<Vec<Group>> {
        self.pages(
            || with_tags(get("veen.security_group.list", "DescribeSecurityGroups"), tags),
            "security_groups",
        )
        .await
    }

    /// `DescribeSecurityGroup`: one group with its rules.
    pub async fn describe_security_group(&self, id: &str) -> HttpResult<Group> {
        const OP: &str = "veen.security_group.get";
        let r: Value = self
            .result(get(OP, "DescribeSecurityGroup").query("group_identity", id))
            .await?;
        field(OP, r, "security_group")
    }

    /// `DeleteSecurityGroup`.
    pub async fn delete_security_group(&self, id: &str) -> HttpResult<()> {
        self.done(post(
            "veen.security_group.delete",
            "DeleteSecurityGroup",
            json!({"group_identities": [id]}),
            true,
        ))
        .await
    }

    /// `DescribeSecurityGroupRules`, every page.
    pub async fn list_rules(&self, group_id: &str) -> HttpResult<Vec<Rule>> {
        self.pages(
            || get("veen.rule.list", "DescribeSecurityGroupRules").query("group_identity", group_id),
            "rules",
        )
        .await
    }

    /// `CreateSecurityGroupRules` with one rule.
    pub async fn create_rule(&self, group_id: &str, rule: Value) -> HttpResult<Rule> {
        const OP: &str = "veen.rule.create";
        let body = json!({"group_identity": group_id, "rules": [rule]});
        let r: Value = self
            .result(post(OP, "CreateSecurityGroupRules", body, false))
            .await?;
        let rules: Vec<Rule> = field(OP, r, "rules")?;
        rules.into_iter().next().ok_or_else(|| ProviderError::Protocol {
            detail: ErrorDetail::local(OP, "the answer lists no rule"),
        })
    }

    /// `ModifySecurityGroupRule`: the rule becomes `policy`, keeping its id.
    pub async fn modify_rule(&self, group_id: &str, rule_id: &str, policy: Value) -> HttpResult<Rule> {
        const OP: &str = "veen.rule.update";
        let body = json!({"group_identity": group_id, "rule_identity": rule_id, "policy": policy});
        let r: Value = self
            .result(post(OP, "ModifySecurityGroupRule", body, true))
            .await?;
        field(OP, r, "rule")
    }

    /// `DeleteSecurityGroupRules`.
    pub async fn delete_rules(&self, group_id: &str, ids: &[String]) -> HttpResult<()> {
        self.done(post(
            "veen.rule.delete",
            "DeleteSecurityGroupRules",
            json!({"group_identity": group_id, "rule_identities": ids}),
            true,
        ))
        .await
    }
}

// ---------------------------------------------------------------------------------------------------------
// Mapping
// ---------------------------------------------------------------------------------------------------------

/// veEN's name rule (seed 000): `1..=max` letters, digits, Chinese characters and the specials
/// ``()`~!@#$%^&*-+=_|{}[]:;'<>,.?/``; no `"`, `\` or space; not starting with `/`.
pub fn valid_name(name: &str, max: usize) -> bool {
    const SPECIALS: &str = "()`~!@#$%^&*-+=_|{}[]:;'<>,.?/";
    let n = name.chars().count();
    (1..=max).contains(&n)
        && !name.starts_with('/')
        && name.chars().all(|c| {
            c.is_ascii_alphanumeric() || ('\u{4e00}'..='\u{9fa5}').contains(&c) || SPECIALS.contains(c)
        })
}

fn problem(field: String, message: &str) -> FieldError {
    FieldError::invalid(field, message)
}

/// What of a Vpc veEN cannot honour: another cloud's section, no cluster, names outside veEN's
/// charset (at most 60), subnet settings veEN has no field for (site, gateway, DNS, DHCP off).
pub fn vpc_problems(spec: &VpcSpec) -> Vec<FieldError> {
    let mut out = Vec::new();
    match &spec.ext {
        VpcExt::Iec => out.push(problem(
            "spec.iec".into(),
            "this ProviderConfig is Volcengine veEN; spec.iec is for Huawei Cloud IEC: remove it and set spec.veen.clusterName",
        )),
        VpcExt::Veen(v) if v.cluster_name.as_deref().is_some_and(|c| !c.is_empty()) => {}
        _ => out.push(problem(
            "spec.veen.clusterName".into(),
            "a veEN VPC lives in one edge cluster: set spec.veen.clusterName (e.g. cn-hangzhou-cmcc-01)",
        )),
    }
    if !valid_name(&spec.name, 60) {
        out.push(problem(
            "spec.name".into(),
            "veEN VPC names are 1-60 letters, digits, Chinese characters or ()`~!@#$%^&*-+=_|{}[]:;'<>,.?/ (no spaces; set spec.name when metadata.name does not fit)",
        ));
    }
    for (i, s) in spec.subnets.iter().enumerate() {
        if !valid_name(&s.name, 60) {
            out.push(problem(
                format!("spec.subnets[{i}].name"),
                "veEN subnet names are 1-60 letters, digits, Chinese characters or the listed specials",
            ));
        }
        if !s.site_id.is_empty() {
            out.push(problem(
                format!("spec.subnets[{i}].siteId"),
                "veEN subnets live in the VPC's cluster (spec.veen.clusterName): remove siteId",
            ));
        }
        if s.gateway_ip.is_some() {
            out.push(problem(
                format!("spec.subnets[{i}].gatewayIp"),
                "veEN chooses the gateway of a subnet itself: remove gatewayIp",
            ));
        }
        if s.primary_dns.is_some() || s.secondary_dns.is_some() {
            out.push(problem(
                format!("spec.subnets[{i}].dnsList"),
                "veEN subnets have no DNS setting: remove dnsList",
            ));
        }
        if !s.dhcp_enable {
            out.push(problem(
                format!("spec.subnets[{i}].dhcpEnable"),
                "veEN subnets always hand out addresses: remove dhcpEnable: false",
            ));
        }
    }
    out
}

/// The `protocol` veEN sends for a domain protocol (`None` = all), or `None` when veEN has no such
/// protocol.
fn wire_protocol(p: Option<&str>) -> Option<&'static str> {
    match p.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "any" | "all" | "-1") => Some("ANY"),
        Some("tcp" | "6") => Some("TCP"),
        Some("udp" | "17") => Some("UDP"),
        Some("icmp" | "1") => Some("ICMP"),
        Some("gre" | "47") => Some("GRE"),
        Some(_) => None,
    }
}

/// What of the rules veEN cannot honour: IPv6, a peer group instead of an address range, a protocol
/// other than TCP, UDP, ICMP, GRE (47) or all; and a group name outside veEN's charset.
pub fn rule_problems(spec: &SecurityGroupSpec) -> Vec<FieldError> {
    let mut out = Vec::new();
    if !valid_name(&spec.name, 60) {
        out.push(problem(
            "spec.name".into(),
            "veEN security group names are 1-60 letters, digits, Chinese characters or ()`~!@#$%^&*-+=_|{}[]:;'<>,.?/",
        ));
    }
    for (i, r) in spec.rules.iter().enumerate() {
        if r.ethertype == EtherType::Ipv6 {
            out.push(problem(
                format!("spec.rules[{i}].ethertype"),
                "veEN security group rules are IPv4 only",
            ));
        }
        if let RuleRemote::Group(_) = r.remote {
            out.push(problem(
                format!("spec.rules[{i}].remoteGroupRef"),
                "veEN rules match an address range only: use remoteIpPrefix instead of remoteGroupRef/remoteGroupId",
            ));
        }
        if wire_protocol(r.protocol.as_deref()).is_none() {
            out.push(problem(
                format!("spec.rules[{i}].protocol"),
                "veEN rules take tcp, udp, icmp, 47 (GRE) or any",
            ));
        }
    }
    out
}

/// A domain rule as veEN's rule body (`rules[]` of CreateSecurityGroupRules, `policy` of
/// ModifySecurityGroupRule).
pub fn rule_body(rule: &RuleSpec) -> Value {
    let protocol = wire_protocol(rule.protocol.as_deref()).unwrap_or("ANY");
    let ports = match (protocol, rule.port_min, rule.port_max) {
        ("TCP" | "UDP", None, None) => "1-65535".to_owned(),
        ("TCP" | "UDP", Some(a), Some(b)) if a != b => format!("{a}-{b}"),
        ("TCP" | "UDP", Some(a), _) => a.to_string(),
        ("TCP" | "UDP", None, Some(b)) => format!("1-{b}"),
        _ => String::new(),
    };
    let cidr = match &rule.remote {
        RuleRemote::Cidr(c) if c.contains('/') => c.clone(),
        RuleRemote::Cidr(c) => format!("{c}/32"),
        RuleRemote::Any | RuleRemote::Group(_) => "0.0.0.0/0".to_owned(),
    };
    json!({
        "direction": match rule.direction { Direction::Ingress => "ingress", Direction::Egress => "egress" },
        "protocol": protocol,
        "ports": ports,
        "ip_cidr": cidr,
        "ip_cidrs": null,
        "priority": rule.priority.unwrap_or(1),
        "rule": match rule.action { RuleAction::Allow => "allow", RuleAction::Deny => "reject" },
        "remark": rule.description,
    })
}

fn port_range(ports: &str) -> (Option<u16>, Option<u16>) {
    let num = |s: &str| s.trim().parse::<u16>().ok();
    match ports.split_once('-') {
        Some((a, b)) => (num(a), num(b)),
        None if ports.trim().is_empty() => (None, None),
        None => (num(ports), num(ports)),
    }
}

/// A veEN rule as a domain rule.
pub fn rule_from(r: &Rule) -> ObservedRule {
    let protocol = match r.protocol.to_ascii_uppercase().as_str() {
        "ANY" | "" => None,
        "GRE" => Some("47".to_owned()),
        other => Some(other.to_ascii_lowercase()),
    };
    let (port_min, port_max) = if matches!(protocol.as_deref(), Some("tcp" | "udp")) {
        port_range(&r.ports)
    } else {
        (None, None)
    };
    ObservedRule {
        id: r.rule_identity.clone(),
        rule: RuleSpec {
            direction: if r.direction.eq_ignore_ascii_case("egress") {
                Direction::Egress
            } else {
                Direction::Ingress
            },
            ethertype: EtherType::Ipv4,
            protocol,
            port_min,
            port_max,
            remote: RuleRemote::Cidr(r.ip_cidr.clone()),
            action: if r.rule.eq_ignore_ascii_case("reject") {
                RuleAction::Deny
            } else {
                RuleAction::Allow
            },
            priority: u8::try_from(r.priority).ok().filter(|p| *p > 0),
            description: r.remark.clone(),
        },
    }
}

fn subnet_state(status: &str) -> SubnetState {
    match status {
        "available" => SubnetState::Active,
        "modifying" => SubnetState::Pending,
        other => SubnetState::Other(other.to_owned()),
    }
}

/// A veEN VPC as a domain VPC (veEN has no subnet modes: `mode` is `None`).
pub fn vpc_from(v: VpcInstance) -> ObservedVpc {
    let subnets: Vec<ObservedSubnet> = v
        .sub_nets
        .unwrap_or_default()
        .into_iter()
        .map(|s| ObservedSubnet {
            id: s.subnet_identity,
            name: s.name,
            cidr: format!("{}/{}", s.cidr_ip, s.cidr_mask),
            gateway_ip: None,
            vpc_id: v.vpc_identity.clone(),
            site_id: None,
            state: subnet_state(&s.status),
            dhcp_enable: None,
            primary_dns: None,
            secondary_dns: None,
        })
        .collect();
    ObservedVpc {
        id: v.vpc_identity,
        name: v.vpc_name,
        cidr: v.segment,
        mode: None,
        subnet_count: u32::try_from(subnets.len()).unwrap_or(u32::MAX),
        subnets,
        busy: v.status == "modifying",
    }
}

fn group_from(g: Group) -> ObservedSecurityGroup {
    let rules = [g.ingress_rule, g.egress_rule]
        .into_iter()
        .flatten()
        .flat_map(|l| l.rules.unwrap_or_default())
        .map(|r| rule_from(&r))
        .collect();
    ObservedSecurityGroup {
        id: g.group_identity,
        name: g.name,
        description: g.remark,
        rules,
    }
}

fn subnet_body(s: &SubnetSpec) -> Value {
    json!({"name": s.name, "cidr": s.cidr, "desc": ""})
}

// ---------------------------------------------------------------------------------------------------------
// The traits
// ---------------------------------------------------------------------------------------------------------

impl VeenProvider {
    async fn vpc_by_id(&self, id: &str) -> ProviderResult<ObservedVpc> {
        let found = self.client.list_vpcs(&[id.to_owned()], &[]).await?;
        found
            .into_iter()
            .find(|v| v.vpc_identity == id && v.status != "deleting")
            .map(vpc_from)
            .ok_or_else(|| not_found("veen.vpc.get", "VPC", id))
    }

    async fn vpcs_where(&self, tags: &[(String, Vec<String>)]) -> ProviderResult<Vec<ObservedVpc>> {
        Ok(self
            .client
            .list_vpcs(&[], tags)
            .await?
            .into_iter()
            .filter(|v| v.status != "deleting")
            .map(vpc_from)
            .collect())
    }
}

#[async_trait]
impl VpcApi for VeenProvider {
    fn validate(&self, spec: &VpcSpec) -> Vec<FieldError> {
        vpc_problems(spec)
    }

    async fn find_by_name(&self, name: &str) -> ProviderResult<Vec<ObservedVpc>> {
        Ok(self
            .vpcs_where(&[])
            .await?
            .into_iter()
            .filter(|v| v.name == name)
            .collect())
    }

    /// By the identity's tags (the owner tag), else by name: veEN VPC names are not unique.
    async fn find_by_identity(&self, identity: &CreateIdentity) -> ProviderResult<Vec<ObservedVpc>> {
        if identity.tags.is_empty() {
            return VpcApi::find_by_name(self, &identity.name).await;
        }
        self.vpcs_where(&tag_filters(&identity.tags)).await
    }

    async fn get(&self, id: &str) -> ProviderResult<ObservedVpc> {
        self.vpc_by_id(id).await
    }

    async fn list_all(&self) -> ProviderResult<Vec<ObservedVpc>> {
        self.vpcs_where(&[]).await
    }

    /// One `CreateCustomVPCInstance` with the desired subnets and the identity's tags.
    async fn create(&self, spec: &VpcSpec, identity: &CreateIdentity) -> ProviderResult<ObservedVpc> {
        let cluster = match &spec.ext {
            VpcExt::Veen(v) => v.cluster_name.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let body = json!({
            "vpc_name": spec.name,
            "cluster_name": cluster,
            "segment": spec.cidr,
            "desc": "edgefleet",
            "subnets": spec.subnets.iter().map(subnet_body).collect::<Vec<_>>(),
            "Tags": tag_list(&identity.tags),
        });
        Ok(vpc_from(self.client.create_vpc(body).await?))
    }

    /// The name changes in place (`SetVPCInstanceName`); the segment cannot.
    async fn update(&self, id: &str, update: &VpcUpdate) -> ProviderResult<ObservedVpc> {
        if update.cidr.is_some() {
            return Err(ProviderError::unsupported(
                "veen.vpc.update",
                "veEN cannot change the segment of a VPC",
            ));
        }
        if let Some(name) = &update.name {
            self.client.set_vpc_name(id, name).await?;
        }
        self.vpc_by_id(id).await
    }

    async fn delete(&self, id: &str) -> ProviderResult<()> {
        self.client.delete_vpcs(&[id.to_owned()]).await
    }

    async fn list_subnets(&self, vpc_id: &str) -> ProviderResult<Vec<ObservedSubnet>> {
        Ok(self.vpc_by_id(vpc_id).await?.subnets)
    }

    async fn create_subnet(&self, vpc_id: &str, spec: &SubnetSpec) -> ProviderResult<ObservedSubnet> {
        let ids = self
            .client
            .create_subnets(vpc_id, json!([subnet_body(spec)]), &[])
            .await?;
        let id = ids.into_iter().next().unwrap_or_default();
        Ok(ObservedSubnet {
            id,
            name: spec.name.clone(),
            cidr: spec.cidr.clone(),
            gateway_ip: None,
            vpc_id: vpc_id.to_owned(),
            site_id: None,
            state: SubnetState::Active,
            dhcp_enable: None,
            primary_dns: None,
            secondary_dns: None,
        })
    }

    /// Only the name changes (`SetSubnetNameAndDesc`); veEN subnets have no DNS or DHCP settings.
    async fn update_subnet(&self, _vpc_id: &str, id: &str, update: &SubnetUpdate) -> ProviderResult<()> {
        if update.dns.is_some() || update.dhcp_enable.is_some() {
            return Err(ProviderError::unsupported(
                "veen.subnet.update",
                "veEN subnets have no DNS or DHCP settings",
            ));
        }
        match &update.name {
            Some(name) => self.client.set_subnet_name(id, name).await,
            None => Ok(()),
        }
    }

    async fn delete_subnet(&self, vpc_id: &str, id: &str) -> ProviderResult<()> {
        self.client.delete_subnets(vpc_id, &[id.to_owned()]).await
    }
}

#[async_trait]
impl SecurityGroupApi for VeenProvider {
    fn validate(&self, spec: &SecurityGroupSpec) -> Vec<FieldError> {
        rule_problems(spec)
    }

    /// `DescribeSecurityGroups`, then each group's rules.
    async fn list_all(&self) -> ProviderResult<Vec<ObservedSecurityGroup>> {
        let groups = self.client.list_security_groups(&[]).await?;
        let mut out = Vec::with_capacity(groups.len());
        for g in groups {
            let rules = self.client.list_rules(&g.group_identity).await?;
            let mut observed = group_from(g);
            observed.rules = rules.iter().map(rule_from).collect();
            out.push(observed);
        }
        Ok(out)
    }

    async fn find_by_name(&self, name: &str) -> ProviderResult<Vec<ObservedSecurityGroup>> {
        Ok(SecurityGroupApi::list_all(self)
            .await?
            .into_iter()
            .filter(|g| g.name == name)
            .collect())
    }

    /// One `DescribeSecurityGroup`: the group with its rules.
    async fn get(&self, id: &str) -> ProviderResult<ObservedSecurityGroup> {
        Ok(group_from(self.client.describe_security_group(id).await?))
    }

    async fn create(&self, create: &SecurityGroupCreate) -> ProviderResult<ObservedSecurityGroup> {
        let Some(vpc) = create.vpc_id.as_deref().filter(|v| !v.is_empty()) else {
            return Err(ProviderError::Invalid {
                detail: ErrorDetail::local(
                    "veen.security_group.create",
                    "a veEN security group belongs to a VPC: vpc_identity is required",
                ),
            });
        };
        let body = json!({
            "vpc_identity": vpc,
            "name": create.name,
            "group_type": "custom",
            "remark": create.description,
            "Tags": tag_list(&create.tags),
        });
        Ok(group_from(self.client.create_security_group(body).await?))
    }

    async fn delete(&self, id: &str) -> ProviderResult<()> {
        self.client.delete_security_group(id).await
    }

    async fn list_rules(&self, group_id: &str) -> ProviderResult<Vec<ObservedRule>> {
        Ok(self
            .client
            .list_rules(group_id)
            .await?
            .iter()
            .map(rule_from)
            .collect())
    }

    async fn create_rule(&self, group_id: &str, rule: &RuleSpec) -> ProviderResult<ObservedRule> {
        Ok(rule_from(
            &self.client.create_rule(group_id, rule_body(rule)).await?,
        ))
    }

    /// `ModifySecurityGroupRule`: the rule keeps its id.
    async fn update_rule(
        &self,
        group_id: &str,
        rule_id: &str,
        rule: &RuleSpec,
    ) -> ProviderResult<ObservedRule> {
        Ok(rule_from(
            &self
                .client
                .modify_rule(group_id, rule_id, rule_body(rule))
                .await?,
        ))
    }

    async fn delete_rule(&self, group_id: &str, rule_id: &str) -> ProviderResult<()> {
        self.client.delete_rules(group_id, &[rule_id.to_owned()]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{SubnetSpec, VeenVpcExt, VpcMode};

    fn vpc(ext: VpcExt) -> VpcSpec {
        VpcSpec {
            name: "edge-net".into(),
            cidr: "192.168.0.0/16".into(),
            mode: VpcMode::System,
            subnets: vec![SubnetSpec {
                name: "a".into(),
                cidr: "192.168.1.0/24".into(),
                gateway_ip: None,
                site_id: String::new(),
                dhcp_enable: true,
                primary_dns: None,
                secondary_dns: None,
            }],
            ext,
        }
    }

    fn veen(cluster: &str) -> VpcExt {
        VpcExt::Veen(VeenVpcExt {
            cluster_name: Some(cluster.into()),
        })
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_veen_vpc_needs_its_cluster_and_takes_no_iec_settings() {
        assert!(vpc_problems(&vpc(veen("cn-hangzhou-cmcc-01"))).is_empty());
        assert_eq!(
            fields(&vpc_problems(&vpc(VpcExt::None))),
            ["spec.veen.clusterName"]
        );
        assert_eq!(fields(&vpc_problems(&vpc(veen("")))), ["spec.veen.clusterName"]);
        assert_eq!(fields(&vpc_problems(&vpc(VpcExt::Iec))), ["spec.iec"]);
        let mut s = vpc(veen("c"));
        s.name = "has space".into();
        s.subnets[0].site_id = "site-1".into();
        s.subnets[0].gateway_ip = Some("192.168.1.1".into());
        s.subnets[0].primary_dns = Some("8.8.8.8".into());
        s.subnets[0].dhcp_enable = false;
        assert_eq!(
            fields(&vpc_problems(&s)),
            [
                "spec.name",
                "spec.subnets[0].siteId",
                "spec.subnets[0].gatewayIp",
                "spec.subnets[0].dnsList",
                "spec.subnets[0].dhcpEnable"
            ]
        );
    }

    fn tcp(min: Option<u16>, max: Option<u16>) -> RuleSpec {
        RuleSpec {
            protocol: Some("tcp".into()),
            port_min: min,
            port_max: max,
            remote: RuleRemote::Cidr("10.0.0.0/8".into()),
            ..RuleSpec::allow(Direction::Ingress, EtherType::Ipv4)
        }
    }

    #[test]
    fn rules_travel_as_veen_writes_them_and_come_back_with_the_same_fingerprint() {
        let cases = [
            (tcp(Some(22), Some(22)), "TCP", "22"),
            (tcp(Some(8000), Some(8080)), "TCP", "8000-8080"),
            (tcp(None, None), "TCP", "1-65535"),
            (
                RuleSpec {
                    protocol: Some("47".into()),
                    ..tcp(None, None)
                },
                "GRE",
                "",
            ),
            (RuleSpec::allow(Direction::Egress, EtherType::Ipv4), "ANY", ""),
        ];
        for (rule, protocol, ports) in cases {
            let body = rule_body(&rule);
            assert_eq!(
                (body["protocol"].as_str(), body["ports"].as_str()),
                (Some(protocol), Some(ports))
            );
            let wire = Rule {
                rule_identity: "r".into(),
                direction: body["direction"].as_str().unwrap().into(),
                protocol: protocol.into(),
                ports: ports.into(),
                ip_cidr: body["ip_cidr"].as_str().unwrap().into(),
                priority: body["priority"].as_i64().unwrap(),
                rule: body["rule"].as_str().unwrap().into(),
                remark: String::new(),
            };
            assert_eq!(
                rule_from(&wire).rule.fingerprint(),
                rule.fingerprint(),
                "{protocol} {ports}"
            );
        }
        let deny = RuleSpec {
            action: RuleAction::Deny,
            priority: Some(7),
            ..tcp(Some(22), None)
        };
        let body = rule_body(&deny);
        assert_eq!(
            (body["rule"].as_str(), body["priority"].as_i64()),
            (Some("reject"), Some(7))
        );
    }

    #[test]
    fn rules_veen_cannot_express_are_named() {
        let spec = SecurityGroupSpec {
            name: "web".into(),
            description: String::new(),
            rules: vec![
                tcp(Some(22), Some(22)),
                RuleSpec {
                    ethertype: EtherType::Ipv6,
                    remote: RuleRemote::Any,
                    ..tcp(None, None)
                },
                RuleSpec {
                    remote: RuleRemote::Group("sg-1".into()),
                    ..tcp(None, None)
                },
                RuleSpec {
                    protocol: Some("icmpv6".into()),
                    ..tcp(None, None)
                },
            ],
            mode: crate::provider::RuleMode::Authoritative,
            keep_cloud_default_rules: false,
        };
        assert_eq!(
            fields(&rule_problems(&spec)),
            [
                "spec.rules[1].ethertype",
                "spec.rules[2].remoteGroupRef",
                "spec.rules[3].protocol"
            ]
        );
    }
}
