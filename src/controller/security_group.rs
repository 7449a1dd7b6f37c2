//! The SecurityGroup controller: creates the cloud group (crash-safe; in its VPC where the cloud's groups
//! belong to one, `Capabilities::security_group_needs_vpc`: `spec.vpcRef` is resolved like other
//! references, waiting until the Vpc has a cloud id; on other clouds a VPC is rejected naming the
//! field), reconciles its rules as a set of normalised fingerprints (creates missing rules, deletes
//! extra ones; where the cloud cannot change a rule in place, `Capabilities::rule_update` false, a
//! changed rule is a create plus a delete, creates first; where it can, the extra rule is modified into
//! the missing one), checks the rules against the cloud (`SecurityGroupApi::validate`, `Stalled
//! InvalidSpec` naming `spec.rules[i]…`), resolves `remoteGroupRef`s to cloud ids (waiting until the
//! referenced group has one), corrects
//! drift (recreates a group deleted out of band, restores changed rules) under Manage, reports it under
//! ObserveOnly, adopts only by explicit `spec.adoptId`, and deletes the group (waiting while the cloud
//! says it is in use).
//!
//! Crash safety ([`managed`]): security-group names need not be unique and lists need not filter, so
//! the identity is a marker derived from the object's uid (`ef-` + 12 hex digits of its SHA-256),
//! carried in the group's description. Recovery lists the groups and matches the marker: one → adopt,
//! none → create after the eventual-consistency grace, several → Stalled listing the ids. Rules need no
//! intent: a lost rule create is found by fingerprint on the next observation, and duplicates are
//! deleted (Authoritative).
//!
//! Rules the cloud adds to new groups (`Capabilities::default_rules`, e.g. allow-all egress) are deleted
//! under the default `ruleManagement: Authoritative` unless spec.rules lists them; `Additive` never
//! deletes rules edgefleet did not create (it tracks its own in `status.rules[].managed`).

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::controller::events::EventType;
use async_trait::async_trait;
use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Config as RuntimeConfig};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};
use tracing::{debug, info};

use super::managed::{
    self, CloudSteps, CreateCall, Created, DeletionTarget, Identity, InStatus, Intent, LifecycleError,
    keeps_cloud_object, publish_orphaned,
};
use super::provider_error_class;
use super::runtime::{
    Context, ErrorClass, PassError, ReconcileError, error_policy, instrumented, intent_of,
    provider_config_trigger, run_finalizer,
};
use super::runtime::{Intervals, Outcome, StatusWriter};
use super::runtime::{ReferenceError, References, ResolveProviderError, resolve_provider};
use crate::api::common::ManagementPolicy;
use crate::api::condition::reason;
use crate::api::provider_config::ProviderConfig;
use crate::api::security_group::{
    Direction as CrdDirection, EtherType as CrdEtherType, ObservedRule as StatusRule,
    RuleAction as CrdAction, RuleManagement, SecurityGroup, SecurityGroupRule, SecurityGroupStatus,
};
use crate::provider::plan::{SgAction, plan_security_group};
use crate::provider::{
    Capabilities, CreateIdentity, Direction, EtherType, FieldError, ObservedSecurityGroup, ProviderError,
    ProviderResult, RuleAction, RuleMode, RuleRemote, RuleSpec, SecurityGroupApi, SecurityGroupCreate,
    SecurityGroupSpec,
};

/// Errors of the SecurityGroup controller, one variant per step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ProviderConfig (or its credentials) is not usable.
    #[error("{}", if *.deleting { "cannot confirm the deletion of the cloud security group: the account is unavailable" } else { "the account is unavailable" })]
    ProviderUnavailable {
        /// Whether the object is being deleted.
        deleting: bool,
        /// Why.
        #[source]
        source: ResolveProviderError,
    },
    /// The provider offers no security groups.
    #[error("the provider does not manage security groups")]
    Unsupported(#[source] ProviderError),
    /// A remoteGroupRef names a SecurityGroup that does not exist or has no cloud id yet.
    #[error("waiting for SecurityGroup {name:?} (named by spec.rules[].remoteGroupRef) to {what}")]
    WaitingForReference {
        /// The referenced SecurityGroup.
        name: String,
        /// "exist" or "get a cloud id".
        what: &'static str,
    },
    /// spec.vpcRef names a Vpc that does not exist or has no cloud id yet.
    #[error("waiting for Vpc {name:?} (named by spec.vpcRef) to {what}")]
    WaitingForVpc {
        /// The referenced Vpc.
        name: String,
        /// "exist", "get a cloud id" or "become Ready".
        what: &'static str,
    },
    /// Reading the Vpc named by spec.vpcRef failed.
    #[error("failed to read Vpc {name:?}")]
    ReadVpc {
        /// The referenced Vpc.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// A spec field this cloud cannot honour (checked before any call).
    #[error("invalid spec for this cloud: {0}")]
    InvalidSpec(FieldError),
    /// Reading the Kubernetes API failed while resolving references.
    #[error("failed to read SecurityGroup {name:?}")]
    ReadReference {
        /// The referenced SecurityGroup.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The description plus the ownership marker do not fit the cloud's limit.
    #[error(
        "spec.description is too long to carry the ownership marker {marker:?}: at most {max} characters are allowed"
    )]
    DescriptionTooLong {
        /// The marker.
        marker: String,
        /// Longest allowed spec.description.
        max: usize,
    },
    /// Reading the group failed.
    #[error("failed to observe cloud security group {id}")]
    Observe {
        /// Cloud id.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// The identity lifecycle (observe, adopt, recover, create; deletion target) failed.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// A rule operation failed.
    #[error("failed to {action} rule {rule} of cloud security group {id}")]
    Rule {
        /// create or delete.
        action: &'static str,
        /// The rule fingerprint or id.
        rule: String,
        /// Group id.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Deleting the group failed.
    #[error("failed to delete cloud security group {id}")]
    Delete {
        /// Cloud id.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Deletion waits: the cloud says the group is still in use.
    #[error(
        "deletion of cloud security group {id} waits: the cloud says it is still in use (by instances or ports)"
    )]
    InUse {
        /// Cloud id.
        id: String,
        /// What the cloud said.
        #[source]
        source: ProviderError,
    },
    /// Writing status failed.
    #[error("failed to patch the status")]
    PatchStatus(#[source] kube::Error),
}

impl ReconcileError for Error {
    fn category(&self) -> &'static str {
        match self {
            Self::Unsupported(source)
            | Self::Observe { source, .. }
            | Self::Rule { source, .. }
            | Self::Delete { source, .. } => source.category(),
            Self::Lifecycle(e) => e.category(),
            Self::ProviderUnavailable { .. } => "ProviderConfigUnavailable",
            Self::WaitingForReference { .. } | Self::WaitingForVpc { .. } => "WaitingForReference",
            Self::ReadReference { .. } | Self::ReadVpc { .. } => "KubeApi",
            Self::DescriptionTooLong { .. } | Self::InvalidSpec(_) => "InvalidSpec",
            Self::InUse { .. } => "InUse",
            Self::PatchStatus(..) => "PatchStatus",
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            Self::Unsupported(source)
            | Self::Observe { source, .. }
            | Self::Rule { source, .. }
            | Self::Delete { source, .. } => provider_error_class(source).0,
            Self::Lifecycle(e) => e.class(),
            Self::ProviderUnavailable {
                source: ResolveProviderError::Kube { .. },
                ..
            }
            | Self::ReadReference { .. }
            | Self::ReadVpc { .. }
            | Self::PatchStatus(_) => ErrorClass::Transient,
            Self::ProviderUnavailable { .. }
            | Self::WaitingForReference { .. }
            | Self::WaitingForVpc { .. }
            | Self::InUse { .. } => ErrorClass::Waiting,
            Self::DescriptionTooLong { .. } | Self::InvalidSpec(_) => ErrorClass::Stalled { recheck: false },
        }
    }

    fn stalled_reason(&self) -> Option<&'static str> {
        match self {
            Self::ProviderUnavailable { deleting: true, .. } | Self::InUse { .. } => {
                Some(reason::DELETION_BLOCKED)
            }
            Self::Unsupported(source)
            | Self::Observe { source, .. }
            | Self::Rule { source, .. }
            | Self::Delete { source, .. } => provider_error_class(source).1,
            Self::Lifecycle(e) => e.stalled_reason(),
            Self::DescriptionTooLong { .. } | Self::InvalidSpec(_) => Some(reason::INVALID_SPEC),
            Self::ProviderUnavailable { deleting: false, .. }
            | Self::WaitingForReference { .. }
            | Self::WaitingForVpc { .. }
            | Self::ReadReference { .. }
            | Self::ReadVpc { .. }
            | Self::PatchStatus(_) => None,
        }
    }

    fn ready_reason(&self) -> Option<&'static str> {
        match self {
            Self::ProviderUnavailable { deleting: false, .. }
            | Self::WaitingForReference { .. }
            | Self::WaitingForVpc { .. } => Some(reason::WAITING_FOR_DEPENDENCY),
            Self::Lifecycle(e) => e.ready_reason(),
            Self::ProviderUnavailable { deleting: true, .. }
            | Self::Unsupported(_)
            | Self::ReadReference { .. }
            | Self::ReadVpc { .. }
            | Self::DescriptionTooLong { .. }
            | Self::InvalidSpec(_)
            | Self::Observe { .. }
            | Self::Rule { .. }
            | Self::Delete { .. }
            | Self::InUse { .. }
            | Self::PatchStatus(_) => None,
        }
    }
}

/// The cloud name of a SecurityGroup: spec.name or metadata.name.
pub fn cloud_name(sg: &SecurityGroup) -> String {
    sg.spec.name.clone().unwrap_or_else(|| sg.name_any())
}

/// The ownership marker of an object: `ef-` + 12 hex digits of SHA-256(uid). Deterministic, unique per
/// object (a recreated object with the same name has a new uid), and short enough for the description.
pub fn marker(uid: &str) -> String {
    let digest = Sha256::digest(uid.as_bytes());
    format!("ef-{}", &hex::encode(digest)[..12])
}

/// The cloud description: spec.description followed by the marker, at most `max` characters (the cloud's
/// limit, `Capabilities::max_security_group_description_len`).
#[allow(clippy::result_large_err)] // the controller's one error type; this is not a hot path
pub fn cloud_description(sg: &SecurityGroup, max: usize) -> Result<String, Error> {
    let marker = marker(&sg.uid().unwrap_or_default());
    let user = sg.spec.description.clone().unwrap_or_default();
    let text = if user.is_empty() {
        marker.clone()
    } else {
        format!("{user} [{marker}]")
    };
    if text.chars().count() > max {
        return Err(Error::DescriptionTooLong {
            max: max.saturating_sub(marker.len() + 3),
            marker,
        });
    }
    Ok(text)
}

/// A spec rule as a domain rule; `remote_group` is the resolved cloud id of a remoteGroupRef.
pub fn rule_spec(rule: &SecurityGroupRule, remote_group: Option<String>) -> RuleSpec {
    let remote = match (
        &rule.remote_ip_prefix,
        remote_group.or_else(|| rule.remote_group_id.clone()),
    ) {
        (Some(prefix), _) => RuleRemote::Cidr(prefix.clone()),
        (None, Some(id)) => RuleRemote::Group(id),
        (None, None) => RuleRemote::Any,
    };
    RuleSpec {
        direction: match rule.direction {
            CrdDirection::Ingress => Direction::Ingress,
            CrdDirection::Egress => Direction::Egress,
        },
        ethertype: match rule.ethertype {
            CrdEtherType::IPv4 => EtherType::Ipv4,
            CrdEtherType::IPv6 => EtherType::Ipv6,
        },
        protocol: Some(rule.protocol.clone()).filter(|p| !p.is_empty() && p != "any"),
        port_min: rule.port_range_min.and_then(|p| u16::try_from(p).ok()),
        port_max: rule
            .port_range_max
            .or(rule.port_range_min)
            .and_then(|p| u16::try_from(p).ok()),
        remote,
        action: match rule.action {
            CrdAction::Allow => RuleAction::Allow,
            CrdAction::Deny => RuleAction::Deny,
        },
        priority: u8::try_from(rule.priority).ok(),
        description: rule.description.clone().unwrap_or_default(),
    }
}

/// Resolves every remoteGroupRef (same namespace) to the referenced group's cloud id. A reference to this
/// object itself resolves to `own_id` (intra-group rules); while the group does not exist yet (`None`)
/// such a rule keeps no remote and only the other references are checked.
async fn resolve_rules(
    sg: &SecurityGroup,
    ctx: &Context,
    own_id: Option<&str>,
) -> Result<Vec<RuleSpec>, Error> {
    let ns = sg.namespace().unwrap_or_default();
    let refs = References::new(ctx, &ns);
    let mut out = Vec::with_capacity(sg.spec.rules.len());
    for rule in &sg.spec.rules {
        let remote = match &rule.remote_group_ref {
            None => None,
            // Before the group exists (`own_id` None) only the other references are checked.
            Some(r) if r.name == sg.name_any() => own_id.map(str::to_owned),
            Some(r) => Some(
                refs.peer_security_group_id("spec.rules[].remoteGroupRef", r)
                    .await
                    .map_err(|err| match err {
                        ReferenceError::Waiting { name, what, .. } => {
                            Error::WaitingForReference { name, what }
                        }
                        ReferenceError::Read { name, source, .. } => Error::ReadReference { name, source },
                    })?,
            ),
        };
        out.push(rule_spec(rule, remote));
    }
    Ok(out)
}

fn status_rule(rule: &crate::provider::ObservedRule, managed: bool) -> StatusRule {
    let r = &rule.rule;
    let (remote_ip_prefix, remote_group_id) = match &r.remote {
        RuleRemote::Any => (None, None),
        RuleRemote::Cidr(c) => (Some(c.clone()), None),
        RuleRemote::Group(g) => (None, Some(g.clone())),
    };
    StatusRule {
        id: rule.id.clone(),
        direction: match r.direction {
            Direction::Ingress => "ingress".to_owned(),
            Direction::Egress => "egress".to_owned(),
        },
        ethertype: Some(match r.ethertype {
            EtherType::Ipv4 => "IPv4".to_owned(),
            EtherType::Ipv6 => "IPv6".to_owned(),
        }),
        protocol: Some(
            r.protocol
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "any".to_owned()),
        ),
        port_range_min: r.port_min.map(i32::from),
        port_range_max: r.port_max.map(i32::from),
        remote_ip_prefix,
        remote_group_id,
        action: Some(match r.action {
            RuleAction::Allow => "allow".to_owned(),
            RuleAction::Deny => "deny".to_owned(),
        }),
        priority: r.priority.map(i32::from),
        description: Some(r.description.clone()).filter(|d| !d.is_empty()),
        managed,
    }
}

/// "; references resolved: app → <id>, ..." for the Ready message (empty without remoteGroupRefs).
fn describe_references(sg: &SecurityGroup, rules: &[RuleSpec]) -> String {
    let resolved: BTreeSet<String> = sg
        .spec
        .rules
        .iter()
        .zip(rules)
        .filter_map(|(spec, rule)| match (&spec.remote_group_ref, &rule.remote) {
            (Some(r), RuleRemote::Group(id)) => Some(format!("{} → {id}", r.name)),
            _ => None,
        })
        .collect();
    if resolved.is_empty() {
        String::new()
    } else {
        format!(
            "; references resolved: {}",
            resolved.into_iter().collect::<Vec<_>>().join(", ")
        )
    }
}

/// Copies the observed group into status; a rule is `managed` when it matches a desired rule or was
/// managed before (so Additive mode can later delete rules edgefleet created).
fn record_observed(status: &mut SecurityGroupStatus, observed: &ObservedSecurityGroup, desired: &[RuleSpec]) {
    let desired_fps: BTreeSet<String> = desired.iter().map(RuleSpec::fingerprint).collect();
    let previously_managed: BTreeSet<String> = status
        .rules
        .iter()
        .filter(|r| r.managed)
        .map(|r| r.id.clone())
        .collect();
    status.security_group_id = Some(observed.id.clone());
    status.name = Some(observed.name.clone());
    let mut rules: Vec<StatusRule> = observed
        .rules
        .iter()
        .map(|r| {
            status_rule(
                r,
                desired_fps.contains(&r.rule.fingerprint()) || previously_managed.contains(&r.id),
            )
        })
        .collect();
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    status.rules = rules;
}

type Writer = StatusWriter<SecurityGroup, SecurityGroupStatus>;

/// The cloud-facing identity steps of a SecurityGroup (the lifecycle itself is [`managed`]). Group names
/// need not be unique, so the recovery token is the ownership marker carried in the description.
struct GroupCloud<'a> {
    api: &'a dyn SecurityGroupApi,
    create: SecurityGroupCreate,
}

#[async_trait]
impl CloudSteps for GroupCloud<'_> {
    type Object = SecurityGroup;
    type Status = SecurityGroupStatus;
    type Error = LifecycleError;
    type Prepared = ();
    type Observed = ObservedSecurityGroup;
    const NOUN: &'static str = "cloud security group";

    fn status_of(sg: &SecurityGroup) -> Option<&SecurityGroupStatus> {
        sg.status.as_ref()
    }

    fn id_of(observed: &ObservedSecurityGroup) -> &str {
        &observed.id
    }

    async fn get(&self, id: &str) -> ProviderResult<ObservedSecurityGroup> {
        self.api.get(id).await
    }

    async fn find(&self, marker: &str, _elapsed: Duration) -> ProviderResult<Vec<ObservedSecurityGroup>> {
        let all = self.api.list_all().await?;
        Ok(all
            .into_iter()
            .filter(|g| g.description.contains(marker))
            .collect())
    }

    async fn prepare(&self) -> Result<(), LifecycleError> {
        Ok(())
    }

    async fn create(&self, (): (), _call: CreateCall<'_>) -> ProviderResult<Created> {
        Ok(Created::Id(self.api.create(&self.create).await?.id))
    }
}

fn intent(sg: &SecurityGroup, create: &SecurityGroupCreate) -> Intent {
    let vpc = create.vpc_id.as_deref().unwrap_or_default();
    Intent {
        token: marker(&sg.uid().unwrap_or_default()),
        params_hash: hex::encode(
            &Sha256::digest(format!("{}|{}|{vpc}", create.name, create.description).as_bytes())[..16],
        ),
        name: create.name.clone(),
    }
}

/// The VPC the group is created in: spec.vpcId, or the cloud id of the Vpc named by spec.vpcRef (same
/// namespace; waits while it is missing, has no id or is not Ready). `None` when neither is set.
async fn resolve_vpc(sg: &SecurityGroup, ctx: &Context) -> Result<Option<String>, Error> {
    let ns = sg.namespace().unwrap_or_default();
    let vpc = References::new(ctx, &ns)
        .vpc("spec.vpcRef", sg.spec.vpc_ref.as_ref(), sg.spec.vpc_id.as_ref())
        .await
        .map_err(|err| match err {
            ReferenceError::Waiting { name, what, .. } => Error::WaitingForVpc { name, what },
            ReferenceError::Read { name, source, .. } => Error::ReadVpc { name, source },
        })?;
    Ok(vpc.map(|v| v.id))
}

/// Whether the spec's VPC fits the cloud: required where groups belong to a VPC, refused where they
/// belong to the account (a VPC there would be silently ignored).
fn vpc_problem(sg: &SecurityGroup, caps: &Capabilities) -> Option<FieldError> {
    let given = sg.spec.vpc_ref.is_some() || sg.spec.vpc_id.is_some();
    let field = if sg.spec.vpc_id.is_some() {
        "spec.vpcId"
    } else {
        "spec.vpcRef"
    };
    match (caps.security_group_needs_vpc, given) {
        (true, false) => Some(FieldError::invalid(
            "spec.vpcRef".to_owned(),
            format!(
                "security groups of provider {} belong to a VPC: name the Vpc in spec.vpcRef (or its cloud id in spec.vpcId)",
                caps.kind
            ),
        )),
        (false, true) => Some(FieldError::invalid(
            field.to_owned(),
            format!(
                "security groups of provider {} belong to the account, not to a VPC: remove {field}",
                caps.kind
            ),
        )),
        _ => None,
    }
}

fn rule_mode(sg: &SecurityGroup) -> RuleMode {
    match sg.spec.rule_management {
        RuleManagement::Authoritative => RuleMode::Authoritative,
        RuleManagement::Additive => RuleMode::Additive,
    }
}

/// The rule actions for this pass: the pure plan, plus (Additive) deletes of rules edgefleet created that
/// left the spec.
fn actions_for(
    sg: &SecurityGroup,
    desired: &SecurityGroupSpec,
    observed: &ObservedSecurityGroup,
    previous: &SecurityGroupStatus,
    caps: &crate::provider::Capabilities,
) -> Vec<SgAction> {
    let mut actions = plan_security_group(desired, Some(observed), caps);
    if sg.spec.rule_management == RuleManagement::Additive {
        let desired_fps: BTreeSet<String> = desired.rules.iter().map(RuleSpec::fingerprint).collect();
        let managed: BTreeSet<&str> = previous
            .rules
            .iter()
            .filter(|r| r.managed)
            .map(|r| r.id.as_str())
            .collect();
        for r in &observed.rules {
            let fp = r.rule.fingerprint();
            if managed.contains(r.id.as_str()) && !desired_fps.contains(&fp) {
                actions.push(SgAction::DeleteRule {
                    id: r.id.clone(),
                    fingerprint: fp,
                });
            }
        }
    }
    actions
}

async fn apply_steps(
    sg: &SecurityGroup,
    ctx: &Context,
    w: &mut Writer,
) -> Result<(Outcome, Intervals), Error> {
    let resolved = resolve_provider(ctx, &sg.spec.provider_config_ref.name)
        .await
        .map_err(|source| Error::ProviderUnavailable {
            deleting: false,
            source,
        })?;
    let api = resolved.provider.security_groups().map_err(Error::Unsupported)?;
    let caps = resolved.provider.capabilities();
    let intervals = resolved.intervals;
    let description = cloud_description(sg, caps.max_security_group_description_len)?;
    if let Some(problem) = vpc_problem(sg, caps) {
        return Err(Error::InvalidSpec(problem));
    }
    // References to other groups are resolved before anything is created, so a group never exists with
    // a partial rule set because of a missing reference. A reference to this group itself stands for
    // its id in the validation.
    let own = w
        .status
        .security_group_id
        .clone()
        .unwrap_or_else(|| cloud_name(sg));
    let early = resolve_rules(sg, ctx, Some(&own)).await?;
    let check = SecurityGroupSpec {
        name: cloud_name(sg),
        description: description.clone(),
        rules: early,
        mode: rule_mode(sg),
        keep_cloud_default_rules: false,
    };
    if let Some(problem) = api.validate(&check).into_iter().next() {
        return Err(Error::InvalidSpec(problem));
    }
    // The VPC matters for a create only: a group that exists does not wait for its Vpc again (a Vpc
    // busy with a subnet change would make it flap), it only takes the id for a recreate.
    let vpc_id = if w.status.security_group_id.is_none() {
        resolve_vpc(sg, ctx).await?
    } else {
        resolve_vpc(sg, ctx).await.ok().flatten()
    };

    let name = cloud_name(sg);
    let uid = sg.uid().unwrap_or_default();
    let identity = CreateIdentity::for_create(&name, &marker(&uid), &uid, caps);
    let cloud = GroupCloud {
        api,
        create: SecurityGroupCreate {
            name: name.clone(),
            description: description.clone(),
            vpc_id,
            tags: identity.tags,
        },
    };
    let intent = intent(sg, &cloud.create);
    let observed = match managed::ensure_identity(sg, &sg.spec, ctx, &cloud, &InStatus, &intent, w).await? {
        Identity::Observed(o) => o,
        Identity::Wait(outcome) => return Ok((outcome, intervals)),
    };
    let rules = resolve_rules(sg, ctx, Some(&observed.id)).await?;
    let references = describe_references(sg, &rules);
    let previous = w.status.clone();
    record_observed(&mut w.status, &observed, &rules);
    let desired = SecurityGroupSpec {
        name: cloud_name(sg),
        description,
        rules,
        mode: rule_mode(sg),
        keep_cloud_default_rules: false,
    };
    let actions = actions_for(sg, &desired, &observed, &previous, caps);
    let id = observed.id.clone();
    let (mut creates, mut deletes, mut updates, mut fixed) = (0usize, 0usize, 0usize, Vec::new());
    for a in &actions {
        match a {
            SgAction::CreateRule(_) => creates += 1,
            SgAction::DeleteRule { .. } => deletes += 1,
            SgAction::UpdateRule { .. } => updates += 1,
            SgAction::CannotUpdate { fields } => fixed.extend(fields.iter().copied()),
            SgAction::Create => {}
        }
    }
    let note = if fixed.is_empty() {
        String::new()
    } else {
        format!(
            "; the cloud group's {} differ(s) from the spec and cannot be changed in place",
            fixed.join(" and ")
        )
    };

    if sg.spec.management_policy == ManagementPolicy::ObserveOnly {
        let message = if creates + deletes + updates == 0 {
            format!("observing cloud security group {id}; its rules match the spec{note}")
        } else {
            format!(
                "observing cloud security group {id}; drift (not corrected under ObserveOnly): {} rule(s) missing, {} extra{note}",
                creates + updates,
                deletes + updates
            )
        };
        return Ok((
            Outcome::Ready {
                reason: reason::OBSERVED,
                message,
            },
            intervals,
        ));
    }
    if creates + deletes + updates == 0 {
        return Ok((
            Outcome::available(format!(
                "cloud security group {id} has the desired rules{references}{note}"
            )),
            intervals,
        ));
    }
    for action in actions {
        match action {
            SgAction::CreateRule(rule) => match api.create_rule(&id, &rule).await {
                Ok(_) => {}
                Err(source) => {
                    return Err(Error::Rule {
                        action: "create",
                        rule: rule.fingerprint(),
                        id,
                        source,
                    });
                }
            },
            SgAction::UpdateRule {
                id: rule_id, rule, ..
            } => match api.update_rule(&id, &rule_id, &rule).await {
                Ok(_) => {}
                Err(source) => {
                    return Err(Error::Rule {
                        action: "update",
                        rule: rule_id,
                        id,
                        source,
                    });
                }
            },
            SgAction::DeleteRule { id: rule_id, .. } => match api.delete_rule(&id, &rule_id).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(source) => {
                    return Err(Error::Rule {
                        action: "delete",
                        rule: rule_id,
                        id,
                        source,
                    });
                }
            },
            SgAction::Create | SgAction::CannotUpdate { .. } => {}
        }
    }
    ctx.publish(
        sg,
        EventType::Normal,
        "Updated",
        "Update",
        format!("cloud security group {id}: created {creates} rule(s), changed {updates}, deleted {deletes}"),
    )
    .await;
    Ok((
        Outcome::progressing(
            reason::UPDATING,
            reason::IN_PROGRESS,
            format!(
                "created {creates}, changed {updates} and deleted {deletes} rule(s) of cloud security group {id}"
            ),
        ),
        intervals,
    ))
}

async fn apply(sg: Arc<SecurityGroup>, ctx: &Context) -> Result<Action, Error> {
    let mut w = StatusWriter::new(api_for(ctx, &sg), sg.clone(), sg.status.as_ref());
    match apply_steps(&sg, ctx, &mut w).await {
        Ok((outcome, intervals)) => w
            .finish(ctx, outcome, intervals)
            .await
            .map_err(Error::PatchStatus),
        Err(e) => Err(w.finish_error(ctx, e).await),
    }
}

async fn cleanup_steps(sg: &SecurityGroup, ctx: &Context, w: &mut Writer) -> Result<(), Error> {
    if keeps_cloud_object(&sg.spec) {
        if let Some(id) = &w.status.security_group_id {
            publish_orphaned(ctx, sg, GroupCloud::NOUN, id).await;
        }
        return Ok(());
    }
    if w.status.security_group_id.is_none() && w.status.pending_create.is_none() {
        return Ok(());
    }
    let resolved = resolve_provider(ctx, &sg.spec.provider_config_ref.name)
        .await
        .map_err(|source| Error::ProviderUnavailable {
            deleting: true,
            source,
        })?;
    let api = resolved.provider.security_groups().map_err(Error::Unsupported)?;
    let cloud = GroupCloud {
        api,
        create: SecurityGroupCreate::default(),
    };
    let id = match managed::deletion_target(ctx, &cloud, &InStatus, sg, &w.status).await? {
        DeletionTarget::Id(id) => id,
        DeletionTarget::Nothing => return Ok(()),
    };
    match api.delete(&id).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => return Ok(()),
        Err(source @ (ProviderError::InUse { .. } | ProviderError::Conflict { .. })) => {
            return Err(Error::InUse { id, source });
        }
        Err(source) => return Err(Error::Delete { id, source }),
    }
    info!(security_group_id = %id, "deleted cloud security group");
    ctx.publish(
        sg,
        EventType::Normal,
        "Deleted",
        "Delete",
        format!("deleted cloud security group {id}"),
    )
    .await;
    Ok(())
}

async fn cleanup(sg: Arc<SecurityGroup>, ctx: &Context) -> Result<Action, Error> {
    let mut w = StatusWriter::new(api_for(ctx, &sg), sg.clone(), sg.status.as_ref());
    match cleanup_steps(&sg, ctx, &mut w).await {
        Ok(()) => Ok(Action::await_change()),
        Err(e) => Err(w.finish_error(ctx, e).await),
    }
}

fn api_for(ctx: &Context, sg: &SecurityGroup) -> Api<SecurityGroup> {
    Api::namespaced(ctx.client.clone(), &sg.namespace().unwrap_or_default())
}

async fn reconcile(sg: Arc<SecurityGroup>, ctx: Arc<Context>) -> Result<Action, PassError<Error>> {
    let api = api_for(&ctx, &sg);
    let pass = run_finalizer(&api, sg.clone(), |o| apply(o, &ctx), |o| cleanup(o, &ctx));
    instrumented(sg.as_ref(), &ctx, pass).await
}

fn provider_config_of(sg: &SecurityGroup) -> &str {
    &sg.spec.provider_config_ref.name
}

/// Runs the SecurityGroup controller until `shutdown` resolves. Besides SecurityGroups it watches
/// ProviderConfigs (objects waiting on an account continue when it is fixed) and maps every
/// SecurityGroup change to the groups whose rules reference it (`remoteGroupRef`), so a rule waiting for a
/// peer's cloud id is created as soon as the peer has one.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let client = ctx.client.clone();
    let controller = ctx
        .user_controller(
            ctx.config.namespaced_api::<SecurityGroup>(&client),
            ctx.config.watcher_config(),
            intent_of,
            |o: &SecurityGroup| &o.spec.provider_config_ref.name,
        )
        .with_config(RuntimeConfig::default().concurrency(ctx.config.concurrency));
    let store = controller.store();
    let trigger = provider_config_trigger(ctx.lookups.clone(), controller.store(), provider_config_of);
    controller
        .watches(
            Api::<ProviderConfig>::all(client.clone()),
            watcher::Config::default(),
            trigger,
        )
        .watches(
            ctx.config.namespaced_api::<SecurityGroup>(&client),
            ctx.config.watcher_config(),
            move |peer: SecurityGroup| {
                let (ns, name) = (peer.namespace(), peer.name_any());
                store
                    .state()
                    .into_iter()
                    .filter(|sg| {
                        sg.namespace() == ns
                            && sg.name_any() != name
                            && sg
                                .spec
                                .rules
                                .iter()
                                .any(|r| r.remote_group_ref.as_ref().is_some_and(|x| x.name == name))
                    })
                    .map(|sg| ObjectRef::from_obj(sg.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                debug!(error = %e, kind = SecurityGroup::kind(&()).as_ref(), "controller event");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::{DeletionPolicy, ProviderConfigRef};
    use crate::api::security_group::SecurityGroupSpec as CrdSpec;

    fn rule(prefix: Option<&str>) -> SecurityGroupRule {
        SecurityGroupRule {
            direction: CrdDirection::Ingress,
            ethertype: CrdEtherType::IPv4,
            protocol: "tcp".into(),
            port_range_min: Some(22),
            port_range_max: None,
            remote_ip_prefix: prefix.map(str::to_owned),
            remote_group_ref: None,
            remote_group_id: None,
            action: CrdAction::Allow,
            priority: 1,
            description: None,
        }
    }

    fn sg(description: Option<&str>) -> SecurityGroup {
        let mut sg = SecurityGroup::new(
            "web",
            CrdSpec {
                provider_config_ref: ProviderConfigRef { name: "acct".into() },
                deletion_policy: DeletionPolicy::Delete,
                management_policy: ManagementPolicy::Manage,
                adopt_id: None,
                name: None,
                description: description.map(str::to_owned),
                vpc_ref: None,
                vpc_id: None,
                rule_management: RuleManagement::Authoritative,
                rules: vec![rule(Some("0.0.0.0/0"))],
            },
        );
        sg.metadata.uid = Some("0b4c5a8e-uid".into());
        sg
    }

    #[test]
    fn marker_is_deterministic_per_uid_and_rides_in_the_description() {
        assert_eq!(marker("a"), marker("a"));
        assert_ne!(marker("a"), marker("b"));
        assert_eq!(marker("a").len(), 15);
        let m = marker("0b4c5a8e-uid");
        assert_eq!(cloud_description(&sg(None), 64).unwrap(), m);
        assert_eq!(
            cloud_description(&sg(Some("web tier")), 64).unwrap(),
            format!("web tier [{m}]")
        );
        let long = "x".repeat(60);
        let err = cloud_description(&sg(Some(&long)), 64).unwrap_err();
        assert!(err.to_string().contains("at most 46 characters"), "{err}");
        assert_eq!(err.stalled_reason(), Some(reason::INVALID_SPEC));
    }

    #[test]
    fn spec_rules_map_to_fingerprints_the_cloud_form_matches() {
        let r = rule_spec(&rule(Some("0.0.0.0/0")), None);
        assert_eq!(r.port_max, Some(22), "a single port when portRangeMax is unset");
        let mut cloud_form = r.clone();
        cloud_form.remote = RuleRemote::Any;
        cloud_form.protocol = Some("TCP".into());
        assert_eq!(r.fingerprint(), cloud_form.fingerprint());
        let mut any = rule(None);
        any.protocol = "any".into();
        any.port_range_min = None;
        any.remote_group_id = Some("g-1".into());
        let r = rule_spec(&any, None);
        assert_eq!(r.protocol, None);
        assert_eq!(r.remote, RuleRemote::Group("g-1".into()));
        let mut by_ref = rule(None);
        by_ref.port_range_min = None;
        assert_eq!(
            rule_spec(&by_ref, Some("g-2".into())).remote,
            RuleRemote::Group("g-2".into())
        );
    }

    #[test]
    fn a_vpc_is_required_where_groups_live_in_one_and_refused_where_they_do_not() {
        let iec = crate::provider::iec::capabilities();
        let veen = crate::provider::veen::capabilities();
        let mut g = sg(None);
        assert!(vpc_problem(&g, &iec).is_none(), "IEC: account-wide groups");
        let missing = vpc_problem(&g, &veen).map(|p| p.field);
        assert_eq!(missing.as_deref(), Some("spec.vpcRef"), "veEN needs the VPC");
        g.spec.vpc_ref = Some(crate::api::common::LocalObjectRef { name: "net".into() });
        assert!(vpc_problem(&g, &veen).is_none());
        let refused = vpc_problem(&g, &iec).unwrap();
        assert_eq!(refused.field, "spec.vpcRef");
        assert!(
            refused.message.contains("belong to the account"),
            "{}",
            refused.message
        );
        g.spec.vpc_ref = None;
        g.spec.vpc_id = Some("vpc-1".into());
        assert_eq!(
            vpc_problem(&g, &iec).map(|p| p.field).as_deref(),
            Some("spec.vpcId")
        );
    }
}
