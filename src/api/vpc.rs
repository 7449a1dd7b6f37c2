//! Vpc (namespaced): a cloud VPC and, where the provider lets users plan them (IEC `CUSTOMER` mode,
//! every veEN VPC), its subnets. The schema holds the rules every cloud shares (private IPv4 ranges,
//! subnets inside the VPC, immutable CIDRs); each cloud's own rules (IEC names and /8–/24, a site per
//! subnet; veEN's cluster) are checked by its provider (`VpcApi::validate`), which reports
//! `Stalled InvalidSpec` naming the field, because CEL cannot see which cloud the ProviderConfig is.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    DeletionPolicy, ManagementPolicy, PendingOperation, ProviderConfigRef, impl_managed_spec,
    impl_managed_status, rule_adopt_id_immutable, rule_observe_only_needs_adopt_id,
    rule_provider_config_immutable,
};
use super::condition::Condition;

/// How subnets of an IEC VPC are planned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum IecVpcMode {
    /// The cloud creates subnets per site as needed; the only mode IEC edge clouds (EdgeCloud) accept.
    #[default]
    System,
    /// The user plans the subnets per site (spec.subnets); instances must name a subnet.
    Customer,
}

/// IEC-specific VPC settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct IecVpcSpec {
    /// SYSTEM (default; the cloud plans subnets, required for EdgeCloud) or CUSTOMER (you list the
    /// subnets in spec.subnets). Immutable: IEC cannot change a VPC's mode.
    #[serde(default)]
    pub mode: IecVpcMode,
}

/// veEN-specific VPC settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct VeenVpcSpec {
    /// The edge cluster (node) the VPC lives in, e.g. `cn-hangzhou-cmcc-01` (a veEN VPC and its subnets
    /// live in one cluster; required on veEN). Immutable.
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.veen.clusterName is immutable: a veEN VPC lives in one edge cluster"))]
    pub cluster_name: String,
}

/// One subnet of the VPC (on IEC in one site; on veEN in the VPC's cluster).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("string(cidr(self.cidr).masked()) == self.cidr").message("spec.subnets[].cidr must be a network address (host bits zero), e.g. 192.168.1.0/24").field_path(".cidr"))]
#[x_kube(validation = Rule::new("!has(self.gatewayIp) || cidr(self.cidr).containsIP(self.gatewayIp)").message("spec.subnets[].gatewayIp must lie inside spec.subnets[].cidr").field_path(".gatewayIp"))]
#[x_kube(validation = Rule::new("has(self.gatewayIp) == has(oldSelf.gatewayIp) && (!has(self.gatewayIp) || self.gatewayIp == oldSelf.gatewayIp)").message("spec.subnets[].gatewayIp is immutable").field_path(".gatewayIp"))]
#[x_kube(validation = Rule::new("has(self.siteId) == has(oldSelf.siteId) && (!has(self.siteId) || self.siteId == oldSelf.siteId)").message("spec.subnets[].siteId is immutable").field_path(".siteId"))]
pub struct SubnetSpec {
    /// Subnet name in the cloud, unique within this Vpc (1–64 characters; IEC: letters, digits,
    /// Chinese, `-`, `_`, `.`; veEN: at most 60). Renaming a subnet here replaces it (the name is the
    /// list key).
    #[schemars(length(min = 1, max = 64))]
    pub name: String,
    /// IPv4 CIDR inside the VPC's cidr (e.g. 192.168.1.0/24), prefix length at most /29 (IEC: /28).
    /// Immutable.
    #[schemars(length(min = 9, max = 18))]
    #[x_kube(validation = Rule::new("isCIDR(self) && cidr(self).ip().family() == 4 && cidr(self).prefixLength() <= 29").message("spec.subnets[].cidr must be an IPv4 CIDR with a prefix length of at most 29"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.subnets[].cidr is immutable"))]
    pub cidr: String,
    /// Gateway address inside cidr. Defaults to the first host address of cidr. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 7, max = 15))]
    #[x_kube(validation = Rule::new("isIP(self) && ip(self).family() == 4").message("spec.subnets[].gatewayIp must be an IPv4 address"))]
    pub gateway_ip: Option<String>,
    /// Edge site the subnet lives in (IEC site id from the site list; required on IEC, not taken by
    /// veEN, whose subnets live in the VPC's cluster). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub site_id: Option<String>,
    /// IPv4 DNS servers (at most 4); the first two become the primary and secondary DNS (IEC only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4), inner(length(min = 7, max = 15)))]
    #[x_kube(validation = Rule::new("self.all(d, isIP(d) && ip(d).family() == 4)").message("spec.subnets[].dnsList entries must be IPv4 addresses"))]
    pub dns_list: Vec<String>,
    /// Whether DHCP hands out addresses (default true; with false, new instances get no IP and
    /// cloud-init cannot inject passwords; IEC only).
    #[serde(default = "default_true")]
    pub dhcp_enable: bool,
}

fn default_true() -> bool {
    true
}

/// Desired state of a Vpc.
// The kube attribute repeats `type_ = "string"` per printer column, which clippy mistakes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "edgefleet.io",
    version = "v1alpha1",
    kind = "Vpc",
    namespaced,
    status = "VpcStatus",
    shortname = "efvpc",
    category = "edgefleet",
    derive = "PartialEq",
    selectable = ".spec.providerConfigRef.name",
    doc = "Vpc is a cloud VPC and, where the cloud lets you plan them (IEC CUSTOMER mode, veEN), its subnets.",
    printcolumn(name = "Ready", type_ = "string", json_path = r#".status.conditions[?(@.type=="Ready")].status"#),
    printcolumn(name = "Synced", type_ = "string", json_path = r#".status.conditions[?(@.type=="Synced")].status"#),
    printcolumn(name = "Vpc-Id", type_ = "string", json_path = ".status.vpcId"),
    printcolumn(name = "Cidr", type_ = "string", json_path = ".spec.cidr"),
    printcolumn(name = "Mode", type_ = "string", json_path = ".status.mode"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("has(self.spec.name) || size(self.metadata.name) <= 64").message("metadata.name is longer than 64 characters and cannot be the VPC's cloud name: set spec.name").field_path(".spec.name")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = rule_adopt_id_immutable())]
#[x_kube(validation = rule_observe_only_needs_adopt_id())]
#[x_kube(validation = Rule::new("!has(self.subnets) || size(self.subnets) == 0 || !has(self.iec) || self.iec.mode == 'CUSTOMER'").message("spec.subnets cannot be listed when spec.iec.mode is SYSTEM (SYSTEM VPCs get their subnets from the cloud)").field_path(".subnets"))]
#[x_kube(validation = Rule::new("(has(self.iec) ? self.iec.mode : 'SYSTEM') == (has(oldSelf.iec) ? oldSelf.iec.mode : 'SYSTEM')").message("spec.iec.mode is immutable").field_path(".iec"))]
#[x_kube(validation = Rule::new("!has(self.subnets) || self.subnets.all(s, cidr(self.cidr).containsCIDR(s.cidr))").message("every spec.subnets[].cidr must lie inside spec.cidr").field_path(".subnets"))]
#[x_kube(validation = Rule::new("!(has(self.iec) && has(self.veen))").message("spec.iec and spec.veen cannot both be set: give the section of the ProviderConfig's cloud").field_path(".veen"))]
#[x_kube(validation = Rule::new("!has(oldSelf.veen) || has(self.veen)").message("spec.veen cannot be removed: a veEN VPC lives in its cluster").field_path(".veen"))]
pub struct VpcSpec {
    /// The ProviderConfig (cloud account) that manages this VPC. Immutable.
    #[x_kube(validation = rule_provider_config_immutable())]
    pub provider_config_ref: ProviderConfigRef,
    /// Delete (default) removes the cloud VPC (and its subnets) when this object is deleted; Orphan
    /// leaves it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Manage (default) or ObserveOnly (never change the cloud; needs adoptId at creation).
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// Id of an existing cloud VPC to adopt instead of creating one. Adoption is explicit only: without
    /// it edgefleet never takes over a VPC, even one with the same name. Only settable at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub adopt_id: Option<String>,
    /// Cloud name of the VPC (1–64 characters; IEC: unique per account, letters, digits, Chinese,
    /// `-`, `_`, `.`; veEN: at most 60, not unique). Defaults to metadata.name. Can be changed (the
    /// cloud renames the VPC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub name: Option<String>,
    /// IPv4 CIDR inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 with prefix length 8–28 (IEC:
    /// 8–24), e.g. 192.168.0.0/16. IEC can change it while it still contains every subnet; veEN cannot.
    #[schemars(length(min = 9, max = 18))]
    #[x_kube(validation = Rule::new("isCIDR(self) && cidr(self).ip().family() == 4 && cidr(self).prefixLength() >= 8 && cidr(self).prefixLength() <= 28").message("spec.cidr must be an IPv4 CIDR with a prefix length between 8 and 28"))]
    #[x_kube(validation = Rule::new("cidr('10.0.0.0/8').containsCIDR(self) || cidr('172.16.0.0/12').containsCIDR(self) || cidr('192.168.0.0/16').containsCIDR(self)").message("spec.cidr must lie inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"))]
    #[x_kube(validation = Rule::new("string(cidr(self).masked()) == self").message("spec.cidr must be a network address (host bits zero), e.g. 192.168.0.0/16"))]
    pub cidr: String,
    /// IEC settings (mode). Absent means mode SYSTEM. Only for an IEC ProviderConfig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iec: Option<IecVpcSpec>,
    /// veEN settings (the VPC's edge cluster); required for a veEN ProviderConfig, only for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub veen: Option<VeenVpcSpec>,
    /// Subnets to create, keyed by name; at most 64 (on IEC only in CUSTOMER mode: SYSTEM VPCs get their
    /// subnets from the cloud; on veEN in the VPC's cluster).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub subnets: Vec<SubnetSpec>,
}

impl_managed_spec!(VpcSpec);

impl VpcSpec {
    /// The IEC VPC mode in effect (SYSTEM when spec.iec is absent).
    pub fn iec_mode(&self) -> IecVpcMode {
        self.iec.as_ref().map(|iec| iec.mode).unwrap_or_default()
    }

    /// The cloud-neutral VPC mode the provider section asks for (SYSTEM when no section sets one).
    pub fn cloud_mode(&self) -> crate::provider::VpcMode {
        match self.iec_mode() {
            IecVpcMode::System => crate::provider::VpcMode::System,
            IecVpcMode::Customer => crate::provider::VpcMode::Customer,
        }
    }

    /// The provider section as the provider's domain value (`None` when no section is given).
    pub fn provider_ext(&self) -> crate::provider::VpcExt {
        match (&self.iec, &self.veen) {
            (_, Some(veen)) => crate::provider::VpcExt::Veen(crate::provider::VeenVpcExt {
                cluster_name: Some(veen.cluster_name.clone()),
            }),
            (Some(_), None) => crate::provider::VpcExt::Iec,
            (None, None) => crate::provider::VpcExt::None,
        }
    }
}

/// Observed state of one subnet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubnetStatus {
    /// Subnet name (matches spec.subnets[].name for managed subnets).
    pub name: String,
    /// Cloud subnet id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Observed CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    /// Observed gateway address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_ip: Option<String>,
    /// Site the subnet lives in (IEC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    /// Cloud status: ACTIVE (usable; IEC: attached to the router), UNKNOWN (IEC: not yet attached) or
    /// ERROR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Observed state of a Vpc.
///
/// Reads as `{observedGeneration: -1}` (the schema default) until the operator writes it, so a new
/// object is in progress for GitOps tools from its first read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::api::common::unobserved_status_default)]
pub struct VpcStatus {
    /// The metadata.generation last acted on; -1 until the operator has written status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Synced, Reconciling, Stalled (reasons in docs/conditions.md).
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Cloud VPC id (also what other objects' vpcRef resolves to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Observed cloud name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Observed CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    /// Observed mode (IEC: SYSTEM or CUSTOMER; clouds without modes leave it unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Observed subnets (for SYSTEM VPCs, the ones the cloud created), by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<SubnetStatus>,
    /// Crash-safety intent of an in-flight VPC create (subnets are found again by CIDR, which IEC keeps
    /// unique within a VPC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_create: Option<PendingOperation>,
}

impl_managed_status!(VpcStatus, vpc_id);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_section_sets_the_cloud_mode_and_its_absence_means_system() {
        let mut spec = VpcSpec::default();
        assert_eq!(spec.cloud_mode(), crate::provider::VpcMode::System);
        spec.iec = Some(IecVpcSpec {
            mode: IecVpcMode::Customer,
        });
        assert_eq!(spec.cloud_mode(), crate::provider::VpcMode::Customer);
    }
}
