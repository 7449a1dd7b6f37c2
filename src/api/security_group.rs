//! SecurityGroup (namespaced): a cloud security group and its rule set (authoritative by default).

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    DeletionPolicy, LocalObjectRef, ManagementPolicy, PendingOperation, ProviderConfigRef, impl_managed_spec,
    impl_managed_status, rule_adopt_id_immutable, rule_observe_only_needs_adopt_id,
    rule_provider_config_immutable,
};
use super::condition::Condition;

/// Traffic direction of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Traffic arriving at the instances.
    Ingress,
    /// Traffic leaving the instances.
    Egress,
}

/// IP version a rule applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum EtherType {
    /// IPv4 (default).
    #[default]
    IPv4,
    /// IPv6.
    IPv6,
}

/// What a matching rule does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// Let the traffic through (default).
    #[default]
    Allow,
    /// Drop the traffic.
    Deny,
}

/// How spec.rules relates to the rules the cloud group actually has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum RuleManagement {
    /// The cloud group ends up with exactly spec.rules: any other rule is deleted, including rules the
    /// cloud adds by itself when it creates a group (e.g. a default allow-all egress rule). List such
    /// rules in spec.rules if you want to keep them.
    #[default]
    Authoritative,
    /// Rules in spec.rules are created when missing; rules edgefleet created and that were later removed
    /// from spec.rules are deleted; every other rule (cloud defaults, rules added by hand) is left alone.
    Additive,
}

/// One rule. Where the cloud's rules are immutable (IEC), changing a rule here creates the new one and
/// deletes the old; where it modifies rules in place (veEN), the old rule is changed and keeps its id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.remoteIpPrefix) ? 1 : 0) + (has(self.remoteGroupRef) ? 1 : 0) + (has(self.remoteGroupId) ? 1 : 0) == 1").message("spec.rules[]: exactly one of remoteIpPrefix, remoteGroupRef and remoteGroupId must be set (use remoteIpPrefix 0.0.0.0/0 for any address)"))]
#[x_kube(validation = Rule::new("!has(self.portRangeMin) || !has(self.portRangeMax) || self.portRangeMin <= self.portRangeMax").message("spec.rules[].portRangeMin must be less than or equal to portRangeMax").field_path(".portRangeMin"))]
#[x_kube(validation = Rule::new("!has(self.portRangeMax) || has(self.portRangeMin)").message("spec.rules[].portRangeMax requires portRangeMin").field_path(".portRangeMin"))]
#[x_kube(validation = Rule::new("!has(self.portRangeMin) || self.protocol in ['tcp', 'udp', '6', '17']").message("spec.rules[].portRangeMin/portRangeMax need protocol tcp or udp").field_path(".protocol"))]
#[x_kube(validation = Rule::new("self.protocol != 'icmp' || self.ethertype == 'IPv4'").message("spec.rules[].protocol icmp needs ethertype IPv4 (use icmpv6 for IPv6)").field_path(".protocol"))]
#[x_kube(validation = Rule::new("self.protocol != 'icmpv6' || self.ethertype == 'IPv6'").message("spec.rules[].protocol icmpv6 needs ethertype IPv6").field_path(".protocol"))]
#[x_kube(validation = Rule::new("!has(self.remoteIpPrefix) || !(isCIDR(self.remoteIpPrefix) || isIP(self.remoteIpPrefix)) || (isCIDR(self.remoteIpPrefix) ? cidr(self.remoteIpPrefix).ip().family() : ip(self.remoteIpPrefix).family()) == (self.ethertype == 'IPv6' ? 6 : 4)").message("spec.rules[].remoteIpPrefix must be of the IP version given by ethertype").field_path(".remoteIpPrefix"))]
pub struct SecurityGroupRule {
    /// ingress or egress.
    pub direction: Direction,
    /// IPv4 (default) or IPv6.
    #[serde(default)]
    pub ethertype: EtherType,
    /// tcp, udp, icmp, icmpv6, any (default: all protocols) or an IP protocol number 0–255.
    #[serde(default = "default_protocol")]
    #[schemars(length(min = 1, max = 6))]
    #[x_kube(validation = Rule::new("self in ['tcp', 'udp', 'icmp', 'icmpv6', 'any'] || (self.matches('^[0-9]{1,3}$') && int(self) <= 255)").message("spec.rules[].protocol must be tcp, udp, icmp, icmpv6, any or a protocol number 0-255"))]
    pub protocol: String,
    /// First port of the range (1–65535; tcp/udp only). Unset means all ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port_range_min: Option<i32>,
    /// Last port of the range (1–65535, >= portRangeMin). Defaults to portRangeMin (a single port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port_range_max: Option<i32>,
    /// Peer address or CIDR (source for ingress, destination for egress), e.g. 0.0.0.0/0. Exactly one of
    /// remoteIpPrefix, remoteGroupRef and remoteGroupId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 43))]
    #[x_kube(validation = Rule::new("isCIDR(self) || isIP(self)").message("spec.rules[].remoteIpPrefix must be an IP address or CIDR"))]
    pub remote_ip_prefix: Option<String>,
    /// Peer security group by the name of a SecurityGroup object in this namespace (name this object
    /// itself for intra-group traffic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_group_ref: Option<LocalObjectRef>,
    /// Peer security group by literal cloud id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub remote_group_id: Option<String>,
    /// allow (default) or deny.
    #[serde(default)]
    pub action: RuleAction,
    /// Priority 1–100; 1 (default) is evaluated first.
    #[serde(default = "default_priority")]
    #[schemars(range(min = 1, max = 100))]
    pub priority: i32,
    /// Free text (0–64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub description: Option<String>,
}

fn default_protocol() -> String {
    "any".to_owned()
}
fn default_priority() -> i32 {
    1
}

/// Desired state of a SecurityGroup.
// The kube attribute repeats `type_ = "string"` per printer column, which clippy mistakes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "edgefleet.io",
    version = "v1alpha1",
    kind = "SecurityGroup",
    namespaced,
    status = "SecurityGroupStatus",
    shortname = "efsg",
    category = "edgefleet",
    derive = "PartialEq",
    selectable = ".spec.providerConfigRef.name",
    doc = "SecurityGroup is a cloud security group and its full rule set (authoritative by default).",
    printcolumn(name = "Ready", type_ = "string", json_path = r#".status.conditions[?(@.type=="Ready")].status"#),
    printcolumn(name = "Synced", type_ = "string", json_path = r#".status.conditions[?(@.type=="Synced")].status"#),
    printcolumn(name = "Group-Id", type_ = "string", json_path = ".status.securityGroupId"),
    printcolumn(name = "Rules", type_ = "string", json_path = ".spec.ruleManagement", priority = 1),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("has(self.spec.name) || size(self.metadata.name) <= 64").message("metadata.name is longer than 64 characters and cannot be the security group's cloud name: set spec.name").field_path(".spec.name"),
    validation = Rule::new("(has(self.spec.name) ? self.spec.name : self.metadata.name) != 'default'").message("spec.name must not be 'default': the cloud reserves it for the account's default security group").field_path(".spec.name")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = rule_adopt_id_immutable())]
#[x_kube(validation = rule_observe_only_needs_adopt_id())]
#[x_kube(validation = Rule::new("has(self.name) == has(oldSelf.name) && (!has(self.name) || self.name == oldSelf.name)").message("spec.name is immutable: the cloud has no API to rename a security group").field_path(".name"))]
#[x_kube(validation = Rule::new("has(self.description) == has(oldSelf.description) && (!has(self.description) || self.description == oldSelf.description)").message("spec.description is immutable: the cloud has no API to update a security group").field_path(".description"))]
#[x_kube(validation = Rule::new("!(has(self.vpcRef) && has(self.vpcId))").message("spec.vpcRef and spec.vpcId cannot both be set").field_path(".vpcRef"))]
#[x_kube(validation = Rule::new("(!has(oldSelf.vpcRef) || (has(self.vpcRef) && self.vpcRef.name == oldSelf.vpcRef.name)) && (!has(oldSelf.vpcId) || (has(self.vpcId) && self.vpcId == oldSelf.vpcId))").message("spec.vpcRef and spec.vpcId are immutable once set: a security group cannot move to another VPC").field_path(".vpcRef"))]
pub struct SecurityGroupSpec {
    /// The ProviderConfig (cloud account) that manages this group. Immutable.
    #[x_kube(validation = rule_provider_config_immutable())]
    pub provider_config_ref: ProviderConfigRef,
    /// Delete (default) removes the cloud group when this object is deleted; Orphan leaves it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Manage (default) or ObserveOnly (never change the cloud; needs adoptId at creation).
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// Id of an existing cloud security group to adopt instead of creating one (explicit only; never
    /// by name). Only settable at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub adopt_id: Option<String>,
    /// Cloud name (1–64 characters, not `default`). Defaults to metadata.name. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub name: Option<String>,
    /// Cloud description (0–64 characters). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub description: Option<String>,
    /// The Vpc (in this namespace) the group belongs to, on clouds whose security groups live in a VPC
    /// (veEN: required); the controller waits until it has a cloud id. Clouds whose groups belong to the
    /// account (IEC) reject it. At most one of vpcRef and vpcId; immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_ref: Option<LocalObjectRef>,
    /// The VPC by literal cloud id, instead of vpcRef.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub vpc_id: Option<String>,
    /// Authoritative (default): the cloud group gets exactly spec.rules, cloud-created default rules
    /// included. Additive: only rules edgefleet created are ever deleted.
    #[serde(default)]
    pub rule_management: RuleManagement,
    /// The rules (at most 100).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub rules: Vec<SecurityGroupRule>,
}

impl_managed_spec!(SecurityGroupSpec);

/// A rule as observed in the cloud.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObservedRule {
    /// Cloud rule id.
    pub id: String,
    /// ingress or egress.
    pub direction: String,
    /// IPv4 or IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ethertype: Option<String>,
    /// Protocol as normalised by edgefleet (lower case; `any` for all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// First port (unset: all ports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_range_min: Option<i32>,
    /// Last port (unset: all ports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_range_max: Option<i32>,
    /// Peer address or CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip_prefix: Option<String>,
    /// Peer group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_group_id: Option<String>,
    /// allow or deny.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Priority 1–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether edgefleet created this rule (Additive mode deletes only such rules).
    #[serde(default)]
    pub managed: bool,
}

/// Observed state of a SecurityGroup.
///
/// Reads as `{observedGeneration: -1}` (the schema default) until the operator writes it, so a new
/// object is in progress for GitOps tools from its first read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::api::common::unobserved_status_default)]
pub struct SecurityGroupStatus {
    /// The metadata.generation last acted on; -1 until the operator has written status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Synced, Reconciling, Stalled (reasons in docs/conditions.md).
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Cloud security group id (what securityGroupRefs and remoteGroupRef resolve to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_id: Option<String>,
    /// Observed cloud name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The rules the cloud group has, with their ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<ObservedRule>,
    /// Crash-safety intent of an in-flight group create (IEC has no name filter nor uniqueness for
    /// groups: recovery lists all groups and matches the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_create: Option<PendingOperation>,
}

impl_managed_status!(SecurityGroupStatus, security_group_id, forget: rules);
