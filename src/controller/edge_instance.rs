//! The EdgeInstance controller: one cloud instance per object, from creation (crash-safe: intent first,
//! then the call, then the id) through day 2 (rename/description, security groups, power state, reboot
//! requests, image change via change-OS) to deletion (batch delete, waiting while the cloud still
//! builds, confirmed only when the cloud reports the instance `DELETED` or gone).
//!
//! The pipeline of `apply`: resolve the account → resolve references (Vpc, subnets, SecurityGroups;
//! waiting until each is Ready, naming the one it waits for) → identity (status id, `spec.adoptId`,
//! recovery of an interrupted create, or a new create after validating site, flavor, image and line
//! against the cloud's catalog) → observe → plan (`provider::plan::plan_instance`, pure) → execute one
//! step → status. Multi-step changes (stop → change OS → start) unfold over successive passes.
//!
//! Crash safety (design.md): IEC has no client tokens and instance names are not unique, so the identity
//! of a create is the deterministic cloud name (spec.name or metadata.name, created without the `IEC-`
//! prefix unless `spec.iec.withPrefix`) at the object's site in its VPC. A fresh create whose name is
//! already used at that site stalls with `NameConflict` (edgefleet never adopts by accident), so a later
//! recovery lookup can only find what this object created. The create response carries the server id;
//! the pass reads the instance once and its closing status write carries the id (written earlier if
//! the pass mutates anything else, at once if the instance cannot be read yet); a crash before that is
//! recovered by the intent's name lookup. The intent is the `edgefleet.io/create-intent` annotation,
//! written with the finalizer in one patch before the call (`super::intent`); the finalizer is added by
//! the pass that first needs it (`run_finalizer_in_pass`), so a create costs one metadata write, the
//! create and the closing status write. A created instance that cannot be read yet keeps the intent in
//! `status.pendingCreate` (with its id as the handle) until it is observed.
//!
//! Members of an EdgeCloud (label `edgefleet.io/edge-cloud`, or an EdgeCloud owner) are adopted by
//! `spec.adoptId` and managed like any other instance, except that a member whose cloud instance has
//! vanished is never recreated here (the EdgeCloud replaces members), and a FAILED instance only reports
//! `Stalled InstanceFailed` (for members, remediation is the EdgeCloud's).
//!
//! Secrets (admin password, user data) are read only when they are sent (create, change-OS) and never
//! enter status, events, logs or error messages.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::controller::events::EventType;
use base64::Engine;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::controller::{Action, Config as RuntimeConfig};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};
use tracing::{debug, info};

use super::intent::{self, CreateIntent};
use super::runtime::{
    Context, ErrorClass, PassError, ReconcileError, error_policy, instrumented,
    intent_of_ignoring_own_metadata, provider_config_trigger, run_finalizer_in_pass,
};
use super::runtime::{Intervals, Outcome, StatusWriter, elapsed_since, now};
use super::runtime::{ResolveProviderError, resolve_provider};
use super::{NAME_CONFLICT, provider_error_class};
use crate::api::common::{DeletionPolicy, ManagementPolicy, PendingOperation, SecretKeyRef};
use crate::api::condition::{Condition, READY, RECONCILING, find_condition, reason};
use crate::api::edge_instance::{EdgeInstance, EdgeInstanceStatus, PowerActionType, PowerState as CrdPower};
use crate::api::provider_config::ProviderConfig;
use crate::api::security_group::SecurityGroup;
use crate::api::vpc::Vpc;
use crate::api::{EDGE_CLOUD_LABEL, REBOOT_REQUEST_ANNOTATION};
use crate::provider::plan::{InstanceAction, InstanceContext, plan_instance};
use crate::provider::{
    AddNics, BandwidthSpec, Capabilities, ChangeOs, CreateIdentity, ImageFilter, InstanceApi, InstanceFilter,
    InstanceSpec, InstanceState, ObservedInstance, PowerAction, PowerState, Provider, ProviderError,
    SecretString, Site, SiteFilter, SiteStatus, VolumeSpec,
};

/// Stalled reason: the cloud reports the instance FAILED; it can only be deleted (for EdgeCloud members
/// the fleet replaces it).
pub const INSTANCE_FAILED: &str = "InstanceFailed";

/// Errors of the EdgeInstance controller, one variant per step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ProviderConfig (or its credentials) is not usable.
    #[error("{}", if *.deleting { "cannot confirm the deletion of the cloud instance: the account is unavailable" } else { "the account is unavailable" })]
    ProviderUnavailable {
        /// Whether the object is being deleted (the finalizer stays until the cloud confirms).
        deleting: bool,
        /// Why.
        #[source]
        source: ResolveProviderError,
    },
    /// The provider offers no instances (or no catalog).
    #[error("the provider does not manage instances")]
    Unsupported(#[source] ProviderError),
    /// A referenced object does not exist or is not Ready yet.
    #[error("waiting for {kind} {name:?} (named by {field}) to {what}")]
    WaitingForReference {
        /// Vpc or SecurityGroup.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The spec field naming it.
        field: &'static str,
        /// "exist", "become Ready", ...
        what: &'static str,
    },
    /// Reading a referenced object failed.
    #[error("failed to read {kind} {name:?}")]
    ReadReference {
        /// Kind.
        kind: &'static str,
        /// Name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// A Secret named by the spec is missing (or lacks the key); never carries a value.
    #[error("Secret {name:?} (named by {field}) {problem}")]
    SecretUnavailable {
        /// The spec field.
        field: &'static str,
        /// The Secret name.
        name: String,
        /// "does not exist", "has no key \"k\"", ...
        problem: String,
    },
    /// Reading a Secret failed.
    #[error("failed to read Secret {name:?} (named by {field})")]
    ReadSecret {
        /// The spec field.
        field: &'static str,
        /// The Secret name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The spec cannot be satisfied as written (the message names the field).
    #[error("{field}: {message}")]
    InvalidSpec {
        /// The spec field.
        field: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The cloud's catalog does not offer what the spec names.
    #[error("{field}: {message}")]
    NotInCatalog {
        /// The spec field.
        field: &'static str,
        /// What the catalog said.
        message: String,
    },
    /// Reading the catalog failed.
    #[error("failed to read the cloud catalog ({what})")]
    Catalog {
        /// sites, flavors, images, subnets.
        what: &'static str,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Reading the instance failed.
    #[error("failed to observe cloud instance {id}")]
    Observe {
        /// Cloud id.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Looking instances up by name failed.
    #[error("failed to look up cloud instances named {name:?}")]
    Lookup {
        /// Cloud name.
        name: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Creating the instance failed.
    #[error("failed to create cloud instance {name:?}")]
    Create {
        /// Cloud name.
        name: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// A day-2 operation failed.
    #[error("failed to {action} cloud instance {id}")]
    Operate {
        /// What was attempted.
        action: String,
        /// Cloud id.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Deleting the instance failed.
    #[error("failed to delete cloud instance {id}")]
    Delete {
        /// Cloud id.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Deletion waits for the cloud (still building, or deleting): not a failure, retried after the
    /// pending poll interval.
    #[error("deletion of cloud instance {id} waits: {what}")]
    DeletionWaits {
        /// Cloud id.
        id: String,
        /// Why.
        what: String,
        /// The pending poll interval of the object's ProviderConfig.
        after: std::time::Duration,
    },
    /// Deletion waits for a create that may still become visible (not a failure either).
    #[error("deletion waits: the create of cloud instance {name:?} may still become visible")]
    DeletionPending {
        /// Cloud name.
        name: String,
        /// The pending poll interval of the object's ProviderConfig.
        after: std::time::Duration,
    },
    /// An instance with the desired name exists at the site and this object never created it.
    #[error(
        "a cloud instance named {name:?} already exists at site {site} ({ids}) and this object did not create it; set spec.adoptId to adopt it, or choose another spec.name"
    )]
    NameConflict {
        /// Cloud name.
        name: String,
        /// Site id.
        site: String,
        /// Their ids.
        ids: String,
    },
    /// Recovery found several instances with this object's identity.
    #[error(
        "recovery found several cloud instances named {name:?} at site {site}: {ids}; delete the extra ones in the cloud"
    )]
    AmbiguousRecovery {
        /// Cloud name.
        name: String,
        /// Site id.
        site: String,
        /// Their ids.
        ids: String,
    },
    /// spec.adoptId names no instance.
    #[error("spec.adoptId {id} names no cloud instance")]
    AdoptTargetNotFound {
        /// The id.
        id: String,
    },
    /// The instance vanished and this object may not recreate it.
    #[error("cloud instance {id} was deleted outside edgefleet; {why}")]
    ExternallyDeleted {
        /// Cloud id.
        id: String,
        /// Why it is not recreated.
        why: &'static str,
    },
    /// ObserveOnly without an id to observe.
    #[error("managementPolicy ObserveOnly needs spec.adoptId (or a cloud id already in status)")]
    NothingToObserve,
    /// The cloud reports the instance FAILED.
    #[error("cloud instance {id} is {status}: {detail}")]
    InstanceFailed {
        /// Cloud id.
        id: String,
        /// Raw cloud status.
        status: String,
        /// What to do.
        detail: &'static str,
    },
    /// The spec asks for a change the cloud cannot make in place.
    #[error(
        "cloud instance {id} differs in {fields} and the cloud cannot change that in place; recreate the object (or fix the spec)"
    )]
    UnsupportedChange {
        /// Cloud id.
        id: String,
        /// The fields.
        fields: String,
    },
    /// Writing status failed.
    #[error("failed to patch the status")]
    PatchStatus(#[source] kube::Error),
    /// Writing the finalizer or the create intent failed (a conflict: the object changed meanwhile).
    #[error("failed to {what}")]
    PatchMetadata {
        /// "record the create intent", "add the finalizer", ...
        what: &'static str,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

impl Error {
    fn provider_error(&self) -> Option<&ProviderError> {
        match self {
            Self::Unsupported(source)
            | Self::Catalog { source, .. }
            | Self::Observe { source, .. }
            | Self::Lookup { source, .. }
            | Self::Create { source, .. }
            | Self::Operate { source, .. }
            | Self::Delete { source, .. } => Some(source),
            _ => None,
        }
    }

    /// A create the cloud rejected for a referenced object it does not know (key pair, subnet, group).
    fn create_reference_missing(&self) -> bool {
        matches!(self, Self::Create { source, .. } if source.is_not_found())
    }
}

impl ReconcileError for Error {
    fn category(&self) -> &'static str {
        if self.create_reference_missing() {
            return "InvalidSpec";
        }
        match self {
            Self::Unsupported(source)
            | Self::Catalog { source, .. }
            | Self::Observe { source, .. }
            | Self::Lookup { source, .. }
            | Self::Create { source, .. }
            | Self::Operate { source, .. }
            | Self::Delete { source, .. } => source.category(),
            Self::ProviderUnavailable { .. } => "ProviderConfigUnavailable",
            Self::WaitingForReference { .. } => "WaitingForReference",
            Self::ReadReference { .. } | Self::ReadSecret { .. } => "KubernetesApi",
            Self::SecretUnavailable { .. } => "SecretUnavailable",
            Self::InvalidSpec { .. } | Self::NothingToObserve => "InvalidSpec",
            Self::NotInCatalog { .. } => "NotInCatalog",
            Self::DeletionWaits { .. } | Self::DeletionPending { .. } => "DeletionPending",
            Self::NameConflict { .. } => "NameConflict",
            Self::AmbiguousRecovery { .. } => "AmbiguousRecovery",
            Self::AdoptTargetNotFound { .. } => "AdoptTargetNotFound",
            Self::ExternallyDeleted { .. } => "ExternallyDeleted",
            Self::InstanceFailed { .. } => INSTANCE_FAILED,
            Self::UnsupportedChange { .. } => "UnsupportedChange",
            Self::PatchMetadata { .. } => "PatchMetadata",
            Self::PatchStatus(..) => "PatchStatus",
        }
    }

    fn class(&self) -> ErrorClass {
        if self.create_reference_missing() {
            return ErrorClass::Stalled { recheck: true };
        }
        match self {
            Self::Unsupported(source)
            | Self::Catalog { source, .. }
            | Self::Observe { source, .. }
            | Self::Lookup { source, .. }
            | Self::Create { source, .. }
            | Self::Operate { source, .. }
            | Self::Delete { source, .. } => provider_error_class(source).0,
            Self::ProviderUnavailable {
                source: ResolveProviderError::Kube { .. },
                ..
            }
            | Self::ReadReference { .. }
            | Self::ReadSecret { .. }
            | Self::PatchStatus(_)
            | Self::PatchMetadata { .. } => ErrorClass::Transient,
            Self::ProviderUnavailable { .. }
            | Self::WaitingForReference { .. }
            | Self::SecretUnavailable { .. } => ErrorClass::Waiting,
            Self::DeletionWaits { after, .. } | Self::DeletionPending { after, .. } => {
                ErrorClass::Pending(*after)
            }
            Self::ExternallyDeleted { .. } | Self::InstanceFailed { .. } | Self::NotInCatalog { .. } => {
                ErrorClass::Stalled { recheck: true }
            }
            Self::InvalidSpec { .. }
            | Self::NameConflict { .. }
            | Self::AmbiguousRecovery { .. }
            | Self::AdoptTargetNotFound { .. }
            | Self::NothingToObserve
            | Self::UnsupportedChange { .. } => ErrorClass::Stalled { recheck: false },
        }
    }

    fn stalled_reason(&self) -> Option<&'static str> {
        if self.create_reference_missing() {
            return Some(reason::INVALID_SPEC);
        }
        if let Some(p) = self.provider_error() {
            return provider_error_class(p).1;
        }
        match self {
            Self::ProviderUnavailable { deleting: true, .. } => Some(reason::DELETION_BLOCKED),
            Self::InvalidSpec { .. } | Self::NothingToObserve => Some(reason::INVALID_SPEC),
            Self::NotInCatalog { .. } => Some(reason::NOT_IN_CATALOG),
            Self::NameConflict { .. } => Some(NAME_CONFLICT),
            Self::AmbiguousRecovery { .. } => Some(reason::AMBIGUOUS_RECOVERY),
            Self::AdoptTargetNotFound { .. } => Some(reason::ADOPT_TARGET_NOT_FOUND),
            Self::ExternallyDeleted { .. } => Some(reason::EXTERNALLY_DELETED),
            Self::InstanceFailed { .. } => Some(INSTANCE_FAILED),
            Self::UnsupportedChange { .. } => Some(reason::UNSUPPORTED_CHANGE),
            _ => None,
        }
    }

    fn ready_reason(&self) -> Option<&'static str> {
        match self {
            Self::ProviderUnavailable { deleting: false, .. }
            | Self::WaitingForReference { .. }
            | Self::SecretUnavailable { .. } => Some(reason::WAITING_FOR_DEPENDENCY),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------------------------------------

/// Whether the object mirrors a member of an EdgeCloud (label `edgefleet.io/edge-cloud` or an EdgeCloud
/// owner). Members are never recreated here when their cloud instance vanishes.
pub fn is_member(ei: &EdgeInstance) -> bool {
    ei.labels().contains_key(EDGE_CLOUD_LABEL)
        || ei
            .owner_references()
            .iter()
            .any(|o| o.kind == "EdgeCloud" && o.api_version.starts_with("edgefleet.io/"))
}

/// The cloud name edgefleet gives the instance: spec.name or metadata.name.
pub fn cloud_name(ei: &EdgeInstance) -> String {
    ei.spec.name.clone().unwrap_or_else(|| ei.name_any())
}

fn with_prefix(ei: &EdgeInstance) -> bool {
    ei.spec.iec.as_ref().is_some_and(|i| i.with_prefix)
}

/// Whether `observed` is `name` as the cloud shows it: equal, or `IEC-<site code>-<name>` when the
/// instance was created with the IEC prefix.
pub fn name_matches(observed: &str, name: &str, prefixed: bool) -> bool {
    observed == name
        || (prefixed
            && observed.starts_with("IEC-")
            && observed.len() > name.len() + 5
            && observed.ends_with(&format!("-{name}"))
            && !observed["IEC-".len()..observed.len() - name.len() - 1].contains('-'))
}

/// The value of the reboot-request annotation, if any.
pub fn reboot_request(ei: &EdgeInstance) -> Option<String> {
    ei.annotations().get(REBOOT_REQUEST_ANNOTATION).cloned()
}

/// Domain power state of the spec.
fn desired_power(ei: &EdgeInstance) -> PowerState {
    match ei.spec.power_state {
        CrdPower::Running => PowerState::Running,
        CrdPower::Stopped => PowerState::Stopped,
    }
}

/// Hash of the create parameters recorded in the intent. Covers only non-secret fields and the Secret
/// *references* (never their values), so status reveals nothing about a password.
pub fn params_hash(ei: &EdgeInstance, net: &Network) -> String {
    let s = &ei.spec;
    let mut h = Sha256::new();
    h.update(
        format!(
            "{}|{}|{}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            cloud_name(ei),
            s.flavor,
            s.image,
            s.placement,
            net.vpc_id,
            net.subnet_ids,
            net.security_group_ids,
            s.root_volume,
            s.data_volumes,
            s.bandwidth,
            s.key_name,
            (&s.admin_password_secret_ref, &s.user_data_secret_ref),
        )
        .as_bytes(),
    );
    hex::encode(&h.finalize()[..16])
}

fn power_label(state: &InstanceState) -> &'static str {
    match state {
        InstanceState::Running => "Running",
        InstanceState::Stopped => "Stopped",
        _ => "Unknown",
    }
}

/// Copies the observed cloud instance into status.
pub fn record_observed(status: &mut EdgeInstanceStatus, o: &ObservedInstance) {
    status.instance_id = Some(o.id.clone());
    status.name = Some(o.name.clone());
    status.state = Some(o.raw_status.clone());
    status.power_state = Some(power_label(&o.state).to_owned());
    status.site_id = o.placement.site_id.clone();
    status.operator = o.placement.operator.clone().filter(|s| !s.is_empty());
    status.private_ips = o.private_ips.clone();
    status.public_ips = o.public_ips.clone();
    status.flavor = o.flavor.clone();
    status.image = o.image.clone();
    status.edge_cloud_id = o.fleet_id.clone();
}

/// Whether the instance is gone for our purposes: not found, or marked `DELETED` by the cloud (IEC keeps
/// such instances listed for a while and removes them on its own).
fn is_deleted(o: &ObservedInstance) -> bool {
    o.state == InstanceState::Deleted || o.raw_status.eq_ignore_ascii_case("DELETED")
}

/// The resolved network of the spec: cloud ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Network {
    /// VPC id.
    pub vpc_id: String,
    /// Subnet ids (one NIC each); empty = the VPC's subnet at the site, chosen at create.
    pub subnet_ids: Vec<String>,
    /// Security group ids (refs resolved, then literal ids; deduplicated, in order).
    pub security_group_ids: Vec<String>,
}

/// The domain spec used for planning against an observed instance. Fields the spec leaves open take
/// the observed value (an adopted instance without spec.name keeps its name; without a description
/// keeps its description), and key pairs are compared only when the image changes (IEC applies a key
/// only through change-OS; a new key alone does not reinstall the instance).
pub fn planning_spec(ei: &EdgeInstance, net: &Network, observed: &ObservedInstance) -> InstanceSpec {
    let s = &ei.spec;
    let keep_name = s.adopt_id.is_some() && s.name.is_none();
    InstanceSpec {
        name: if keep_name {
            observed.name.clone()
        } else {
            cloud_name(ei)
        },
        description: s
            .description
            .clone()
            .unwrap_or_else(|| observed.description.clone()),
        flavor: s.flavor.clone(),
        image: s.image.clone(),
        site: s
            .placement
            .site_id
            .clone()
            .or_else(|| observed.placement.site_id.clone())
            .unwrap_or_default(),
        pool_id: s.placement.pool_id.clone(),
        vpc_id: net.vpc_id.clone(),
        subnet_ids: net.subnet_ids.clone(),
        security_group_ids: net.security_group_ids.clone(),
        root_volume: VolumeSpec {
            size_gb: u32::try_from(s.root_volume.size).unwrap_or_default(),
            volume_type: s.root_volume.type_.clone(),
        },
        data_volumes: Vec::new(),
        key_name: observed.key_name.clone(),
        admin_password: None,
        user_data: None,
        bandwidth: None,
        power: desired_power(ei),
        with_prefix: with_prefix(ei),
    }
}

/// What the plan would do, in words (ObserveOnly drift reports, events).
pub fn describe_action(a: &InstanceAction) -> String {
    match a {
        InstanceAction::Update(u) => {
            let mut parts = vec![];
            if let Some(n) = &u.name {
                parts.push(format!("name to {n:?}"));
            }
            if let Some(d) = &u.description {
                parts.push(format!("description to {d:?}"));
            }
            format!("change {}", parts.join(" and "))
        }
        InstanceAction::Start => "start the instance".to_owned(),
        InstanceAction::Stop { for_change_os: false } => "stop the instance".to_owned(),
        InstanceAction::Stop { for_change_os: true } => "stop the instance to change its image".to_owned(),
        InstanceAction::ChangeOs(c) => format!("change the image to {}", c.image),
        InstanceAction::Replace { fields } => format!("replace ({})", fields.join(", ")),
        InstanceAction::Wait { state } => format!("wait while the instance is {state}"),
    }
}

/// Security groups that differ between the spec and the cloud: `Some(desired)` when the spec names
/// groups and the instance's set differs (compared only when the cloud reports ids).
pub fn security_group_change(net: &Network, observed: &ObservedInstance) -> Option<Vec<String>> {
    if net.security_group_ids.is_empty() {
        return None;
    }
    let want: BTreeSet<&str> = net.security_group_ids.iter().map(String::as_str).collect();
    let have: BTreeSet<&str> = observed
        .security_groups
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    (want != have).then(|| net.security_group_ids.clone())
}

/// Whether `ip` lies in `cidr` (IPv4 `a.b.c.d/n`; anything unparsable is "no").
pub fn ipv4_in_cidr(ip: &str, cidr: &str) -> bool {
    let Some((net, len)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(ip), Ok(net), Ok(len)) = (
        ip.parse::<std::net::Ipv4Addr>(),
        net.parse::<std::net::Ipv4Addr>(),
        len.parse::<u32>(),
    ) else {
        return false;
    };
    if len > 32 {
        return false;
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(ip) & mask == u32::from(net) & mask
}

/// NIC changes towards the spec's subnet list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NicPlan {
    /// Subnets that need more NICs, with how many (in spec order).
    pub add: Vec<(String, u32)>,
    /// NICs (port ids) to remove.
    pub remove: Vec<String>,
}

impl NicPlan {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// Plans NIC additions/removals: each spec subnet entry is one NIC. `observed` lists the instance's NICs
/// in order as (port id, subnet id when known). The first NIC (primary) is never removed, and a NIC whose
/// subnet is unknown is left alone (never remove what cannot be attributed).
pub fn plan_nics(desired: &[String], observed: &[(String, Option<String>)]) -> NicPlan {
    let mut want: Vec<(String, u32)> = Vec::new();
    for s in desired {
        match want.iter_mut().find(|(x, _)| x == s) {
            Some((_, n)) => *n += 1,
            None => want.push((s.clone(), 1)),
        }
    }
    let mut plan = NicPlan::default();
    for (i, (port, subnet)) in observed.iter().enumerate() {
        let Some(subnet) = subnet else { continue };
        match want.iter_mut().find(|(x, n)| x == subnet && *n > 0) {
            Some((_, n)) => *n -= 1,
            None if i > 0 => plan.remove.push(port.clone()),
            None => {}
        }
    }
    plan.add = want.into_iter().filter(|(_, n)| *n > 0).collect();
    plan
}

// ---------------------------------------------------------------------------------------------------------
// References and Secrets
// ---------------------------------------------------------------------------------------------------------

fn is_ready(conditions: &[Condition]) -> bool {
    find_condition(conditions, READY).is_some_and(Condition::is_true)
}

/// How old the observation of this pass may be (`InstanceApi::observe`, batched list observation):
/// half the poll interval when the pass is a drift poll of a settled object — Ready and not Reconciling
/// for its current generation, no create in flight, no reboot request waiting, not being deleted — so
/// drift is seen within one and a half poll intervals, and one list of the account's instances answers
/// every settled object's poll. Zero (a direct read) for any pass with work to do: its decisions need
/// the cloud's state now.
pub fn observation_age(ei: &EdgeInstance, intervals: Intervals) -> Duration {
    let Some(status) = ei.status.as_ref() else {
        return Duration::ZERO;
    };
    let generation = ei.metadata.generation;
    let settled_condition = |type_: &str, want_true: bool| {
        find_condition(&status.conditions, type_)
            .is_some_and(|c| c.is_true() == want_true && c.observed_generation == generation)
    };
    let settled = ei.metadata.deletion_timestamp.is_none()
        && status.observed_generation == generation
        && status.pending_create.is_none()
        && status.instance_id.is_some()
        && settled_condition(READY, true)
        && !find_condition(&status.conditions, RECONCILING).is_some_and(Condition::is_true)
        && reboot_request(ei) == status.last_reboot_request;
    if settled {
        intervals.poll / 2
    } else {
        Duration::ZERO
    }
}

/// Resolves vpcRef/vpcId, subnets and security groups to cloud ids, waiting for referenced objects to
/// be Ready.
async fn resolve_network(ei: &EdgeInstance, ctx: &Context) -> Result<Network, Error> {
    let ns = ei.namespace().unwrap_or_default();
    let n = &ei.spec.network;
    let mut net = Network::default();
    let vpc_obj = match (&n.vpc_ref, &n.vpc_id) {
        (Some(r), _) => {
            let vpc = ctx
                .lookups
                .get::<Vpc>(&ctx.client, &ns, &r.name)
                .await
                .map_err(|source| Error::ReadReference {
                    kind: "Vpc",
                    name: r.name.clone(),
                    source,
                })?
                .ok_or_else(|| Error::WaitingForReference {
                    kind: "Vpc",
                    name: r.name.clone(),
                    field: "spec.network.vpcRef",
                    what: "exist",
                })?;
            let status = vpc.status.clone().unwrap_or_default();
            if !is_ready(&status.conditions) {
                return Err(Error::WaitingForReference {
                    kind: "Vpc",
                    name: r.name.clone(),
                    field: "spec.network.vpcRef",
                    what: "become Ready",
                });
            }
            net.vpc_id = status.vpc_id.clone().ok_or_else(|| Error::WaitingForReference {
                kind: "Vpc",
                name: r.name.clone(),
                field: "spec.network.vpcRef",
                what: "get a cloud id",
            })?;
            Some((r.name.clone(), status))
        }
        (None, Some(id)) => {
            net.vpc_id = id.clone();
            None
        }
        (None, None) => {
            return Err(Error::InvalidSpec {
                field: "spec.network",
                message: "one of vpcRef and vpcId must be set".to_owned(),
            });
        }
    };
    for (i, s) in n.subnets.iter().enumerate() {
        match (&s.id, &s.name, &vpc_obj) {
            (Some(id), _, _) => net.subnet_ids.push(id.clone()),
            (None, Some(name), Some((vpc_name, status))) => {
                let id = status
                    .subnets
                    .iter()
                    .find(|x| &x.name == name)
                    .and_then(|x| x.id.clone())
                    .ok_or_else(|| Error::InvalidSpec {
                        field: "spec.network.subnets",
                        message: format!(
                            "subnets[{i}].name {name:?}: Vpc {vpc_name:?} has no subnet with that name"
                        ),
                    })?;
                net.subnet_ids.push(id);
            }
            _ => {
                return Err(Error::InvalidSpec {
                    field: "spec.network.subnets",
                    message: format!("subnets[{i}] needs an id (or a name together with vpcRef)"),
                });
            }
        }
    }
    if !n.security_group_refs.is_empty() {
        for r in &n.security_group_refs {
            let sg = ctx
                .lookups
                .get::<SecurityGroup>(&ctx.client, &ns, &r.name)
                .await
                .map_err(|source| Error::ReadReference {
                    kind: "SecurityGroup",
                    name: r.name.clone(),
                    source,
                })?
                .ok_or_else(|| Error::WaitingForReference {
                    kind: "SecurityGroup",
                    name: r.name.clone(),
                    field: "spec.network.securityGroupRefs",
                    what: "exist",
                })?;
            let status = sg.status.clone().unwrap_or_default();
            let id = status
                .security_group_id
                .clone()
                .filter(|_| is_ready(&status.conditions))
                .ok_or_else(|| Error::WaitingForReference {
                    kind: "SecurityGroup",
                    name: r.name.clone(),
                    field: "spec.network.securityGroupRefs",
                    what: "become Ready",
                })?;
            if !net.security_group_ids.contains(&id) {
                net.security_group_ids.push(id);
            }
        }
    }
    for id in &n.security_group_ids {
        if !net.security_group_ids.contains(id) {
            net.security_group_ids.push(id.clone());
        }
    }
    Ok(net)
}

/// Reads one Secret key as text. The value goes only into the cloud request.
async fn read_secret(
    ei: &EdgeInstance,
    ctx: &Context,
    field: &'static str,
    r: &SecretKeyRef,
) -> Result<SecretString, Error> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ei.namespace().unwrap_or_default());
    let secret = api
        .get_opt(&r.name)
        .await
        .map_err(|source| Error::ReadSecret {
            field,
            name: r.name.clone(),
            source,
        })?
        .ok_or_else(|| Error::SecretUnavailable {
            field,
            name: r.name.clone(),
            problem: "does not exist".to_owned(),
        })?;
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&r.key))
        .map(|b| b.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(&r.key))
                .map(|s| s.as_bytes().to_vec())
        })
        .ok_or_else(|| Error::SecretUnavailable {
            field,
            name: r.name.clone(),
            problem: format!("has no key {:?}", r.key),
        })?;
    let text = String::from_utf8(bytes).map_err(|_| Error::SecretUnavailable {
        field,
        name: r.name.clone(),
        problem: format!("key {:?} is not UTF-8 text", r.key),
    })?;
    Ok(SecretString::new(text))
}

/// User data from its Secret, base64-encoded as IEC expects.
async fn read_user_data(ei: &EdgeInstance, ctx: &Context) -> Result<Option<SecretString>, Error> {
    match &ei.spec.user_data_secret_ref {
        None => Ok(None),
        Some(r) => {
            let raw = read_secret(ei, ctx, "spec.userDataSecretRef", r).await?;
            Ok(Some(SecretString::new(
                base64::engine::general_purpose::STANDARD.encode(raw.expose()),
            )))
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Identity: find, adopt, recover or create
// ---------------------------------------------------------------------------------------------------------

type Writer = StatusWriter<EdgeInstance, EdgeInstanceStatus>;

/// Where the identity step left the object.
enum Identity {
    /// The cloud instance, observed.
    Observed(Box<ObservedInstance>),
    /// Not observable yet (creating, recovering); end the pass with this outcome.
    Wait(Outcome),
}

async fn persist(w: &mut Writer) -> Result<(), Error> {
    w.persist().await.map_err(Error::PatchStatus)
}

/// Live instances at `site` carrying `name` (exactly, or with the IEC prefix when `prefixed`).
async fn find_by_identity(
    api: &dyn InstanceApi,
    site: &str,
    name: &str,
    prefixed: bool,
) -> Result<Vec<ObservedInstance>, Error> {
    let filter = InstanceFilter {
        name: (!prefixed).then(|| name.to_owned()),
        site_id: Some(site.to_owned()),
        ..InstanceFilter::default()
    };
    let found = api.list(&filter).await.map_err(|source| Error::Lookup {
        name: name.to_owned(),
        source,
    })?;
    Ok(found
        .into_iter()
        .filter(|i| !is_deleted(i))
        .filter(|i| name_matches(&i.name, name, prefixed))
        // Some clouds do not echo the site; then the name filter alone decides.
        .filter(|i| i.placement.site_id.as_deref().is_none_or(|s| s == site))
        .collect())
}

fn ids_of(found: &[ObservedInstance]) -> String {
    found.iter().map(|i| i.id.as_str()).collect::<Vec<_>>().join(", ")
}

#[allow(clippy::result_large_err)] // the controller's one error type; this is not a hot path
fn site_of(ei: &EdgeInstance) -> Result<String, Error> {
    ei.spec
        .placement
        .site_id
        .clone()
        .ok_or_else(|| Error::InvalidSpec {
            field: "spec.placement.siteId",
            message:
                "IEC creates single instances at a site: set spec.placement.siteId (GET /v1/sites lists them)"
                    .to_owned(),
        })
}

/// Records a freshly found instance id (adopt / recover / create) and the reboot request current at
/// that moment, so the request that existed before the instance does not reboot it.
fn record_identity(ei: &EdgeInstance, w: &mut Writer, id: &str) {
    w.status.instance_id = Some(id.to_owned());
    if w.status.last_reboot_request.is_none() {
        w.status.last_reboot_request = reboot_request(ei);
    }
}

/// Finds, adopts, recovers or creates the cloud instance (the crash-safety protocol).
async fn ensure_identity(
    ei: &EdgeInstance,
    ctx: &Context,
    provider: &dyn Provider,
    net: &Network,
    max_age: Duration,
    w: &mut Writer,
) -> Result<Identity, Error> {
    let api = provider.instances().map_err(Error::Unsupported)?;
    let observe_only = ei.spec.management_policy == ManagementPolicy::ObserveOnly;
    let grace = ctx.config.recovery_grace;
    let mut drifted = false;
    let mut recreating = false;
    if let Some(id) = w.status.instance_id.clone() {
        match api.observe(&id, max_age).await {
            Ok(o) if !is_deleted(&o) => {
                ensure_finalizer(ei, w).await?;
                w.status.pending_create = None;
                return Ok(Identity::Observed(Box::new(o)));
            }
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(source) => return Err(Error::Observe { id, source }),
        }
        if let Some(p) = &w.status.pending_create
            && elapsed_since(&p.started_at) < grace
        {
            return Ok(Identity::Wait(Outcome::progressing(
                reason::CREATING,
                reason::IN_PROGRESS,
                format!("created cloud instance {id}; waiting for the cloud to list it"),
            )));
        }
        // A recreate of this vanished instance already under way (its intent names the id it
        // replaces) is recovered below, not started again.
        recreating = CreateIntent::of(ei).is_some_and(|i| i.replaces.as_deref() == Some(id.as_str()));
        if !recreating {
            drift_away_from(ei, ctx, w, id, observe_only).await?;
            drifted = true;
        }
    }
    if !drifted
        && !recreating
        && let Some(adopt) = ei.spec.adopt_id.clone()
    {
        return match api.get(&adopt).await {
            Ok(o) if !is_deleted(&o) => {
                // The id is already durable in the spec: the closing status write records the
                // adoption (`durable_identity` writes it first if the pass goes on to mutate), and the
                // event merges with the Ready transition when the pass ends Ready.
                ensure_finalizer(ei, w).await?;
                record_identity(ei, w, &o.id);
                w.note(
                    "Adopted",
                    "Adopt",
                    format!("adopted cloud instance {adopt} ({})", o.name),
                );
                Ok(Identity::Observed(Box::new(o)))
            }
            Ok(_) => Err(Error::AdoptTargetNotFound { id: adopt }),
            Err(e) if e.is_not_found() => Err(Error::AdoptTargetNotFound { id: adopt }),
            Err(source) => Err(Error::Observe { id: adopt, source }),
        };
    }
    if observe_only {
        return Err(Error::NothingToObserve);
    }
    let site = site_of(ei)?;
    let name = cloud_name(ei);
    let prefixed = with_prefix(ei);
    // After drift the last intent is the vanished instance's own: a new create is checked by name.
    let pending = (!drifted)
        .then(|| {
            intent::pending_create(
                ei,
                w.status.instance_id.as_deref(),
                w.status.pending_create.as_ref(),
            )
        })
        .flatten();
    if let Some(pending) = pending {
        let found = find_by_identity(api, &site, &pending.token, prefixed).await?;
        match found.as_slice() {
            [one] => {
                ensure_finalizer(ei, w).await?;
                record_identity(ei, w, &one.id);
                w.status.pending_create = None;
                persist(w).await?;
                ctx.publish(
                    ei,
                    EventType::Normal,
                    "Recovered",
                    "Recover",
                    format!("found cloud instance {} created by an interrupted pass", one.id),
                )
                .await;
                return Ok(Identity::Observed(Box::new(one.clone())));
            }
            [] if elapsed_since(&pending.started_at) < grace => {
                return Ok(Identity::Wait(Outcome::progressing(
                    reason::CREATING,
                    reason::RECOVERING,
                    format!(
                        "a create of cloud instance {:?} was interrupted; waiting for the cloud to list it",
                        pending.token
                    ),
                )));
            }
            [] => {}
            many => {
                return Err(Error::AmbiguousRecovery {
                    name: pending.token,
                    site,
                    ids: ids_of(many),
                });
            }
        }
    } else {
        let existing = find_by_identity(api, &site, &name, prefixed).await?;
        if !existing.is_empty() {
            return Err(Error::NameConflict {
                name,
                site,
                ids: ids_of(&existing),
            });
        }
    }
    create(ei, ctx, provider, api, net, &site, w).await
}

/// The recorded instance `id` is gone from the cloud: an error for objects that may not recreate it
/// (ObserveOnly, EdgeCloud members); otherwise a warning event and the id forgotten, so a new instance
/// is created.
async fn drift_away_from(
    ei: &EdgeInstance,
    ctx: &Context,
    w: &mut Writer,
    id: String,
    observe_only: bool,
) -> Result<(), Error> {
    if observe_only {
        return Err(Error::ExternallyDeleted {
            id,
            why: "managementPolicy is ObserveOnly, so it is not recreated",
        });
    }
    if is_member(ei) {
        return Err(Error::ExternallyDeleted {
            id,
            why: "this EdgeInstance is an EdgeCloud member, so the EdgeCloud replaces it (it is not recreated here)",
        });
    }
    ctx.publish(
        ei,
        EventType::Warning,
        "ExternallyDeleted",
        "Recreate",
        format!("cloud instance {id} was deleted outside edgefleet; recreating it"),
    )
    .await;
    w.status.instance_id = None;
    w.status.pending_create = None;
    Ok(())
}

/// Adds the finalizer before this pass records an instance it may have to delete (a create adds it with
/// its intent instead, `intent::record`).
async fn ensure_finalizer(ei: &EdgeInstance, w: &Writer) -> Result<(), Error> {
    intent::ensure_finalizer(w.api(), ei)
        .await
        .map_err(|source| Error::PatchMetadata {
            what: "add the finalizer",
            source,
        })
}

/// The line to create the instance's public IP in: `poolId` when given, otherwise the site's first line
/// of `operator` when given (so the operator is honoured), otherwise the cloud's default (`None`).
pub fn line_for(site: &Site, pool_id: Option<&str>, operator: Option<&str>) -> Option<String> {
    match (pool_id, operator) {
        (Some(p), _) => Some(p.to_owned()),
        (None, Some(op)) => site
            .pools
            .iter()
            .find(|p| p.operator.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(op)))
            .map(|p| p.id.clone()),
        (None, None) => None,
    }
}

/// Checks site, line, operator, flavor and image against the cloud's catalog (before anything is
/// created), naming the field that the catalog does not offer; returns the line to use.
async fn validate_catalog(
    ei: &EdgeInstance,
    provider: &dyn Provider,
    site_id: &str,
) -> Result<Option<String>, Error> {
    let catalog = provider.catalog().map_err(Error::Unsupported)?;
    let placement = &ei.spec.placement;
    let sites = catalog
        .sites(&SiteFilter {
            id: Some(site_id.to_owned()),
            ..SiteFilter::default()
        })
        .await
        .map_err(|source| Error::Catalog {
            what: "sites",
            source,
        })?;
    let site = sites
        .into_iter()
        .find(|s| s.id == site_id)
        .ok_or_else(|| Error::NotInCatalog {
            field: "spec.placement.siteId",
            message: format!("the cloud has no site {site_id:?}"),
        })?;
    if matches!(site.status, SiteStatus::Offline | SiteStatus::SoldOut) {
        return Err(Error::NotInCatalog {
            field: "spec.placement.siteId",
            message: format!(
                "site {site_id} ({}) is {:?} and takes no new instances",
                site.name, site.status
            ),
        });
    }
    if let Some(pool) = &placement.pool_id
        && !site.pool_ids.contains(pool)
    {
        return Err(Error::NotInCatalog {
            field: "spec.placement.poolId",
            message: format!(
                "site {site_id} has no line {pool:?} (it offers {})",
                site.pool_ids.join(", ")
            ),
        });
    }
    if let Some(op) = &placement.operator
        && !site.operators.is_empty()
        && !site.operators.iter().any(|o| o.eq_ignore_ascii_case(op))
    {
        return Err(Error::NotInCatalog {
            field: "spec.placement.operator",
            message: format!(
                "site {site_id} has no operator {op:?} (it offers {})",
                site.operators.join(", ")
            ),
        });
    }
    let flavors = catalog
        .flavors(&[site_id.to_owned()])
        .await
        .map_err(|source| Error::Catalog {
            what: "flavors",
            source,
        })?;
    if !flavors.iter().any(|f| f.id == ei.spec.flavor) {
        return Err(Error::NotInCatalog {
            field: "spec.flavor",
            message: format!("flavor {:?} is not offered at site {site_id}", ei.spec.flavor),
        });
    }
    validate_image(provider, &ei.spec.image).await?;
    Ok(line_for(
        &site,
        placement.pool_id.as_deref(),
        placement.operator.as_deref(),
    ))
}

async fn validate_image(provider: &dyn Provider, image: &str) -> Result<(), Error> {
    let catalog = provider.catalog().map_err(Error::Unsupported)?;
    let images = catalog
        .images(&ImageFilter {
            id: Some(image.to_owned()),
            ..ImageFilter::default()
        })
        .await
        .map_err(|source| Error::Catalog {
            what: "images",
            source,
        })?;
    match images.iter().find(|i| i.id == image) {
        None => Err(Error::NotInCatalog {
            field: "spec.image",
            message: format!("the cloud has no image {image:?}"),
        }),
        Some(i) if !i.active => Err(Error::NotInCatalog {
            field: "spec.image",
            message: format!("image {image} ({}) is not active", i.name),
        }),
        Some(_) => Ok(()),
    }
}

/// The subnets of the create: the spec's, or the VPC's subnet at the site.
async fn create_subnets(provider: &dyn Provider, net: &Network, site: &str) -> Result<Vec<String>, Error> {
    if !net.subnet_ids.is_empty() {
        return Ok(net.subnet_ids.clone());
    }
    let vpcs = provider.vpcs().map_err(Error::Unsupported)?;
    let subnets = vpcs
        .list_subnets(&net.vpc_id)
        .await
        .map_err(|source| Error::Catalog {
            what: "subnets",
            source,
        })?;
    subnets
        .into_iter()
        .find(|s| s.site_id.as_deref() == Some(site))
        .map(|s| vec![s.id])
        .ok_or_else(|| Error::InvalidSpec {
            field: "spec.network.subnets",
            message: format!(
                "VPC {} has no subnet at site {site}; IEC creates single instances only in existing subnets (give a CUSTOMER Vpc a subnet at the site, or list subnet ids)",
                net.vpc_id
            ),
        })
}

/// The full create spec (secrets read here, at the last moment).
async fn create_spec(
    ei: &EdgeInstance,
    ctx: &Context,
    net: &Network,
    site: &str,
    subnet_ids: Vec<String>,
) -> Result<InstanceSpec, Error> {
    let s = &ei.spec;
    let admin_password = match &s.admin_password_secret_ref {
        Some(r) => Some(read_secret(ei, ctx, "spec.adminPasswordSecretRef", r).await?),
        None => None,
    };
    let user_data = read_user_data(ei, ctx).await?;
    let volume = |size: i32, t: &str| VolumeSpec {
        size_gb: u32::try_from(size).unwrap_or_default(),
        volume_type: t.to_owned(),
    };
    Ok(InstanceSpec {
        name: cloud_name(ei),
        description: s.description.clone().unwrap_or_default(),
        flavor: s.flavor.clone(),
        image: s.image.clone(),
        site: site.to_owned(),
        pool_id: s.placement.pool_id.clone(),
        vpc_id: net.vpc_id.clone(),
        subnet_ids,
        security_group_ids: net.security_group_ids.clone(),
        root_volume: volume(s.root_volume.size, &s.root_volume.type_),
        data_volumes: s.data_volumes.iter().map(|d| volume(d.size, &d.type_)).collect(),
        key_name: s.key_name.clone(),
        admin_password,
        user_data,
        bandwidth: s.bandwidth.as_ref().map(|b| BandwidthSpec {
            size_mbit: b.size.and_then(|x| u32::try_from(x).ok()),
            share_type: "WHOLE".to_owned(),
        }),
        power: desired_power(ei),
        with_prefix: with_prefix(ei),
    })
}

/// Validates, records the intent, creates, records the id.
async fn create(
    ei: &EdgeInstance,
    ctx: &Context,
    provider: &dyn Provider,
    api: &dyn InstanceApi,
    net: &Network,
    site: &str,
    w: &mut Writer,
) -> Result<Identity, Error> {
    let line = validate_catalog(ei, provider, site).await?;
    let subnets = create_subnets(provider, net, site).await?;
    let mut spec = create_spec(ei, ctx, net, site, subnets).await?;
    spec.pool_id = line;
    let name = spec.name.clone();
    // Crash-safety step 1: the intent is durable before the cloud call (with the finalizer, one patch).
    let created_intent = CreateIntent {
        token: name.clone(),
        params_hash: params_hash(ei, net),
        started_at: now(),
        uid: ei.uid().unwrap_or_default(),
        replaces: w.written().instance_id.clone(),
    };
    intent::record(w.api(), ei, &created_intent)
        .await
        .map_err(|source| Error::PatchMetadata {
            what: "record the create intent (with the finalizer)",
            source,
        })?;
    let identity = CreateIdentity {
        name: name.clone(),
        ..CreateIdentity::default()
    };
    let op = match api.create(&spec, 1, &identity).await {
        Ok(op) => op,
        Err(source) => {
            // A definite rejection created nothing: drop the intent so a fixed spec creates at once.
            if source.created_nothing() {
                intent::clear(w.api(), ei)
                    .await
                    .map_err(|source| Error::PatchMetadata {
                        what: "clear the create intent",
                        source,
                    })?;
            }
            return Err(Error::Create { name, source });
        }
    };
    // Step 2: the id comes back with the answer (written below, or with the pass's closing write).
    let Some(id) = op.resource_ids.first().cloned() else {
        // No id in the answer: the next pass recovers by name.
        return Ok(Identity::Wait(Outcome::progressing(
            reason::CREATING,
            reason::RECOVERING,
            format!("create of cloud instance {name:?} accepted without an id; looking it up"),
        )));
    };
    record_identity(ei, w, &id);
    info!(instance_id = %id, name = %name, "created cloud instance");
    w.note(
        "Created",
        "Create",
        format!("created cloud instance {id} ({name}) at site {site}"),
    );
    // Observe it at once. The pass then goes on with the instance's first state, and its closing status
    // write carries the id: one write where an id write plus a second pass's write were needed (and none
    // more when the cloud builds fast). The id is made durable before any further cloud mutation
    // (`durable_identity`); a crash before that is recovered by the intent's name lookup.
    match api.get(&id).await {
        Ok(o) if !is_deleted(&o) => {
            w.status.pending_create = None;
            return Ok(Identity::Observed(Box::new(o)));
        }
        Ok(_) => debug!(instance_id = %id, "the new instance is not listed yet"),
        Err(e) => debug!(instance_id = %id, error = %e, "could not observe the new instance yet"),
    }
    // Status names the new id from now on, so the annotation's intent no longer counts as pending; the
    // intent moves into status with the id as its handle, bounding the wait for the cloud to list it.
    w.status.pending_create = Some(PendingOperation {
        handle: Some(id.clone()),
        ..created_intent.to_pending()
    });
    let outcome = Outcome::progressing(
        reason::CREATING,
        reason::IN_PROGRESS,
        format!("created cloud instance {id}; waiting for it to build"),
    );
    // Not observable yet: the id is written now (crash-safety step 2), with this pass's end state, so
    // `finish` writes nothing more.
    w.persist_with_outcome(&outcome)
        .await
        .map_err(Error::PatchStatus)?;
    Ok(Identity::Wait(outcome))
}

/// Writes the instance id now if this pass found or created it and has not written it yet: before a
/// cloud mutation, so that a crash in the middle never leaves a changed instance that status does not
/// name.
async fn durable_identity(w: &mut Writer) -> Result<(), Error> {
    if w.written().instance_id != w.status.instance_id {
        persist(w).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Day 2
// ---------------------------------------------------------------------------------------------------------

fn force(t: Option<PowerActionType>) -> bool {
    t == Some(PowerActionType::Hard)
}

/// Executes the first actionable step of the plan; returns what it did.
async fn execute(
    ei: &EdgeInstance,
    ctx: &Context,
    api: &dyn InstanceApi,
    provider: &dyn Provider,
    observed: &ObservedInstance,
    actions: Vec<InstanceAction>,
) -> Result<Vec<String>, Error> {
    let id = observed.id.clone();
    let ids = std::slice::from_ref(&id);
    let iec = ei.spec.iec.clone().unwrap_or_default();
    let mut done = Vec::new();
    for action in actions {
        let what = describe_action(&action);
        let op = |source| Error::Operate {
            action: what.clone(),
            id: id.clone(),
            source,
        };
        match &action {
            InstanceAction::Wait { .. } | InstanceAction::Replace { .. } => continue,
            InstanceAction::Update(u) => {
                api.update(&id, u).await.map_err(op)?;
            }
            InstanceAction::Start => {
                api.power(ids, PowerAction::Start).await.map_err(op)?;
            }
            InstanceAction::Stop { .. } => {
                api.power(
                    ids,
                    PowerAction::Stop {
                        force: force(Some(iec.stop_type)),
                    },
                )
                .await
                .map_err(op)?;
            }
            InstanceAction::ChangeOs(c) => {
                validate_image(provider, &c.image).await?;
                let request = ChangeOs {
                    image: c.image.clone(),
                    key_name: ei.spec.key_name.clone(),
                    user_data: read_user_data(ei, ctx).await?,
                };
                api.change_os(&id, &request).await.map_err(op)?;
            }
        }
        info!(instance_id = %id, action = %what, "changed cloud instance");
        ctx.publish(
            ei,
            EventType::Normal,
            "Updated",
            "Update",
            format!("cloud instance {id}: {what}"),
        )
        .await;
        done.push(what);
    }
    Ok(done)
}

/// Checks the rules of an image change before the instance is stopped for it: IEC's change-OS takes a
/// key pair and user data but no password, so the new OS needs one of them to be reachable.
#[allow(clippy::result_large_err)] // the controller's one error type; this is not a hot path
fn check_image_change(ei: &EdgeInstance, actions: &[InstanceAction]) -> Result<(), Error> {
    let changes_image = actions.iter().any(|a| {
        matches!(
            a,
            InstanceAction::ChangeOs(_) | InstanceAction::Stop { for_change_os: true }
        )
    });
    if changes_image && ei.spec.key_name.is_none() && ei.spec.user_data_secret_ref.is_none() {
        return Err(Error::InvalidSpec {
            field: "spec.image",
            message: "changing the image reinstalls the system disk and IEC's change-OS cannot set a password: set spec.keyName (or spec.userDataSecretRef) so the new OS can be logged into".to_owned(),
        });
    }
    Ok(())
}

/// Acts on a new reboot request (annotation value ≠ status.lastRebootRequest). The value is recorded
/// before the call (at most one reboot per value, even across restarts) and restored if the cloud
/// refuses, so a failed request is retried.
async fn handle_reboot(
    ei: &EdgeInstance,
    ctx: &Context,
    api: &dyn InstanceApi,
    observed: &ObservedInstance,
    w: &mut Writer,
) -> Result<Option<Outcome>, Error> {
    let Some(requested) = reboot_request(ei) else {
        return Ok(None);
    };
    if w.status.last_reboot_request.as_deref() == Some(requested.as_str()) {
        return Ok(None);
    }
    let id = observed.id.clone();
    if observed.state != InstanceState::Running {
        // A stopped instance has nothing to reboot; the request is recorded as handled.
        w.status.last_reboot_request = Some(requested);
        return Ok(None);
    }
    let previous = w.status.last_reboot_request.replace(requested.clone());
    persist(w).await?;
    let hard = force(ei.spec.iec.as_ref().map(|i| i.reboot_type));
    if let Err(source) = api
        .power(std::slice::from_ref(&id), PowerAction::Reboot { force: hard })
        .await
    {
        w.status.last_reboot_request = previous;
        persist(w).await?;
        return Err(Error::Operate {
            action: "reboot".to_owned(),
            id,
            source,
        });
    }
    info!(instance_id = %id, request = %requested, "rebooted cloud instance");
    ctx.publish(
        ei,
        EventType::Normal,
        "Rebooted",
        "Reboot",
        format!("rebooted cloud instance {id} (request {requested:?})"),
    )
    .await;
    Ok(Some(Outcome::progressing(
        reason::UPDATING,
        reason::IN_PROGRESS,
        format!("rebooting cloud instance {id} (request {requested:?})"),
    )))
}

/// The NIC changes the spec asks for (only when it lists several subnets or the instance has several
/// NICs; a single primary NIC never changes). Observed NICs are attributed to subnets by address.
async fn nic_plan(
    provider: &dyn Provider,
    net: &Network,
    observed: &ObservedInstance,
) -> Result<NicPlan, Error> {
    if net.subnet_ids.is_empty() || (net.subnet_ids.len() <= 1 && observed.nics.len() <= 1) {
        return Ok(NicPlan::default());
    }
    let vpcs = provider.vpcs().map_err(Error::Unsupported)?;
    let subnets = vpcs
        .list_subnets(&net.vpc_id)
        .await
        .map_err(|source| Error::Catalog {
            what: "subnets",
            source,
        })?;
    let attributed: Vec<(String, Option<String>)> = observed
        .nics
        .iter()
        .map(|nic| {
            let subnet = nic.private_ips.first().and_then(|ip| {
                subnets
                    .iter()
                    .find(|s| ipv4_in_cidr(ip, &s.cidr))
                    .map(|s| s.id.clone())
            });
            (nic.id.clone(), subnet)
        })
        .collect();
    Ok(plan_nics(&net.subnet_ids, &attributed))
}

fn describe_nics(plan: &NicPlan) -> Vec<String> {
    let mut out: Vec<String> = plan
        .add
        .iter()
        .map(|(s, n)| format!("add {n} NIC(s) in subnet {s}"))
        .collect();
    if !plan.remove.is_empty() {
        out.push(format!("remove NIC(s) {}", plan.remove.join(", ")));
    }
    out
}

/// Executes one NIC step (adds before removals, so a moved NIC never leaves the instance short).
async fn execute_nics(
    ei: &EdgeInstance,
    ctx: &Context,
    api: &dyn InstanceApi,
    net: &Network,
    observed: &ObservedInstance,
    plan: &NicPlan,
) -> Result<String, Error> {
    let id = observed.id.clone();
    let what = if let Some((subnet, count)) = plan.add.first() {
        let groups = if net.security_group_ids.is_empty() {
            // The account's default group shows by name; only ids can be passed on.
            observed
                .security_groups
                .iter()
                .filter(|g| g.len() >= 32 && g.contains('-'))
                .cloned()
                .collect()
        } else {
            net.security_group_ids.clone()
        };
        let request = AddNics {
            vpc_id: net.vpc_id.clone(),
            subnet_id: Some(subnet.clone()),
            security_group_ids: groups,
            count: *count,
        };
        let what = format!("add {count} NIC(s) in subnet {subnet}");
        api.add_nics(&id, &request)
            .await
            .map_err(|source| Error::Operate {
                action: format!("{what} to"),
                id: id.clone(),
                source,
            })?;
        what
    } else {
        let what = format!("remove NIC(s) {}", plan.remove.join(", "));
        api.remove_nics(&id, &plan.remove)
            .await
            .map_err(|source| Error::Operate {
                action: format!("{what} from"),
                id: id.clone(),
                source,
            })?;
        what
    };
    info!(instance_id = %id, action = %what, "changed cloud instance NICs");
    ctx.publish(
        ei,
        EventType::Normal,
        "Updated",
        "Update",
        format!("cloud instance {id}: {what}"),
    )
    .await;
    Ok(what)
}

fn ready_message(o: &ObservedInstance) -> String {
    let mut m = format!("cloud instance {} is {}", o.id, o.raw_status);
    if let Some(site) = &o.placement.site_id {
        m.push_str(&format!(" at site {site}"));
    }
    if !o.private_ips.is_empty() {
        m.push_str(&format!(" ({})", o.private_ips.join(", ")));
    }
    m
}

async fn apply_steps(
    ei: &EdgeInstance,
    ctx: &Context,
    w: &mut Writer,
) -> Result<(Outcome, Intervals), Error> {
    let resolved = resolve_provider(ctx, &ei.spec.provider_config_ref.name)
        .await
        .map_err(|source| Error::ProviderUnavailable {
            deleting: false,
            source,
        })?;
    let provider = resolved.provider.as_ref();
    let intervals = resolved.intervals;
    let api = provider.instances().map_err(Error::Unsupported)?;
    let caps: &Capabilities = provider.capabilities();
    let net = resolve_network(ei, ctx).await?;
    let max_age = observation_age(ei, intervals);

    let mut observed = match ensure_identity(ei, ctx, provider, &net, max_age, w).await? {
        Identity::Observed(o) => *o,
        Identity::Wait(outcome) => return Ok((outcome, intervals)),
    };
    observed.key_name = observed.key_name.take().filter(|k| !k.is_empty());
    record_observed(&mut w.status, &observed);
    let id = observed.id.clone();
    if observed.state == InstanceState::Failed {
        return Err(Error::InstanceFailed {
            id,
            status: observed.raw_status.clone(),
            detail: if is_member(ei) {
                "the cloud can only delete it; its EdgeCloud replaces failed members"
            } else {
                "the cloud can only delete it; delete this EdgeInstance (or recreate it) to get a new one"
            },
        });
    }
    let want = planning_spec(ei, &net, &observed);
    let expected_name = want.name.clone();
    let shown_name =
        name_matches(&observed.name, &expected_name, want.with_prefix).then(|| observed.name.clone());
    let plan_ctx = InstanceContext {
        observed: &observed,
        applied_unobservable_hash: None,
        expected_cloud_name: shown_name.as_deref(),
    };
    let actions = plan_instance(&want, &plan_ctx, caps);
    let sg_change = security_group_change(&net, &observed);

    if ei.spec.management_policy == ManagementPolicy::ObserveOnly {
        let mut drift: Vec<String> = actions
            .iter()
            .filter(|a| !matches!(a, InstanceAction::Wait { .. }))
            .map(describe_action)
            .collect();
        if let Some(sgs) = &sg_change {
            drift.push(format!("set security groups to {}", sgs.join(", ")));
        }
        if !matches!(observed.state, InstanceState::Creating) {
            drift.extend(describe_nics(&nic_plan(provider, &net, &observed).await?));
        }
        let message = if drift.is_empty() {
            format!("observing {}; it matches the spec", ready_message(&observed))
        } else {
            format!(
                "observing {}; drift (not corrected under ObserveOnly): would {}",
                ready_message(&observed),
                drift.join("; ")
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
    if let Some(InstanceAction::Wait { state }) = actions.first() {
        return Ok((
            Outcome::progressing(
                if observed.state == InstanceState::Creating {
                    reason::CREATING
                } else {
                    reason::UPDATING
                },
                reason::IN_PROGRESS,
                format!("cloud instance {id} is {} ({state})", observed.raw_status),
            ),
            intervals,
        ));
    }
    if let Some(InstanceAction::Replace { fields }) = actions
        .iter()
        .find(|a| matches!(a, InstanceAction::Replace { .. }))
    {
        return Err(Error::UnsupportedChange {
            id,
            fields: fields.join(", "),
        });
    }
    check_image_change(ei, &actions)?;
    let mutates = sg_change.is_some() || actions.iter().any(|a| !matches!(a, InstanceAction::Wait { .. }));
    if mutates {
        durable_identity(w).await?;
    }
    if let Some(sgs) = sg_change {
        api.set_security_groups(&id, &sgs)
            .await
            .map_err(|source| Error::Operate {
                action: "set the security groups of".to_owned(),
                id: id.clone(),
                source,
            })?;
        ctx.publish(
            ei,
            EventType::Normal,
            "Updated",
            "Update",
            format!("cloud instance {id}: security groups set to {}", sgs.join(", ")),
        )
        .await;
        return Ok((
            Outcome::progressing(
                reason::UPDATING,
                reason::IN_PROGRESS,
                format!("set the security groups of cloud instance {id}"),
            ),
            intervals,
        ));
    }
    if actions.is_empty() {
        let nics = nic_plan(provider, &net, &observed).await?;
        if !nics.is_empty() {
            durable_identity(w).await?;
            let what = execute_nics(ei, ctx, api, &net, &observed, &nics).await?;
            return Ok((
                Outcome::progressing(
                    reason::UPDATING,
                    reason::IN_PROGRESS,
                    format!("cloud instance {id}: {what}"),
                ),
                intervals,
            ));
        }
    }
    let done = execute(ei, ctx, api, provider, &observed, actions).await?;
    if !done.is_empty() {
        return Ok((
            Outcome::progressing(
                reason::UPDATING,
                reason::IN_PROGRESS,
                format!("cloud instance {id}: {}", done.join("; ")),
            ),
            intervals,
        ));
    }
    if let Some(outcome) = handle_reboot(ei, ctx, api, &observed, w).await? {
        return Ok((outcome, intervals));
    }
    Ok((Outcome::available(ready_message(&observed)), intervals))
}

async fn apply(ei: Arc<EdgeInstance>, ctx: &Context) -> Result<Action, Error> {
    let mut w = StatusWriter::new(api_for(ctx, &ei), ei.clone(), ei.status.as_ref());
    match apply_steps(&ei, ctx, &mut w).await {
        Ok((outcome, intervals)) => w
            .finish(ctx, outcome, intervals)
            .await
            .map_err(Error::PatchStatus),
        Err(e) => Err(w.finish_error(ctx, e).await),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Deletion
// ---------------------------------------------------------------------------------------------------------

/// Deletes the cloud instance. `Ok` only once the cloud reports it DELETED or gone.
async fn cleanup_steps(ei: &EdgeInstance, ctx: &Context, w: &mut Writer) -> Result<(), Error> {
    let keep = ei.spec.deletion_policy == DeletionPolicy::Orphan
        || ei.spec.management_policy == ManagementPolicy::ObserveOnly;
    if keep {
        if let Some(id) = &w.status.instance_id {
            ctx.publish(
                ei,
                EventType::Normal,
                "Orphaned",
                "Delete",
                format!("left cloud instance {id} in place"),
            )
            .await;
        }
        return Ok(());
    }
    let pending = intent::pending_create(
        ei,
        w.status.instance_id.as_deref(),
        w.status.pending_create.as_ref(),
    );
    if w.status.instance_id.is_none() && pending.is_none() {
        return Ok(());
    }
    let resolved = resolve_provider(ctx, &ei.spec.provider_config_ref.name)
        .await
        .map_err(|source| Error::ProviderUnavailable {
            deleting: true,
            source,
        })?;
    let api = resolved.provider.instances().map_err(Error::Unsupported)?;
    let after = resolved.intervals.pending;
    // A create that may still be in flight (status does not name its instance yet, or names only the
    // vanished instance it replaces) is looked up by its identity first; the id in status otherwise.
    let recorded = w.status.instance_id.clone();
    let id = match (pending, ei.spec.placement.site_id.clone()) {
        (Some(pending), Some(site)) => {
            let found = find_by_identity(api, &site, &pending.token, with_prefix(ei)).await?;
            match found.as_slice() {
                [one] => one.id.clone(),
                [] if elapsed_since(&pending.started_at) < ctx.config.recovery_grace => {
                    return Err(Error::DeletionPending {
                        name: pending.token,
                        after,
                    });
                }
                [] => match recorded {
                    Some(id) => id,
                    None => return Ok(()),
                },
                many => {
                    return Err(Error::AmbiguousRecovery {
                        name: pending.token,
                        site,
                        ids: ids_of(many),
                    });
                }
            }
        }
        (_, _) => match recorded {
            Some(id) => id,
            None => return Ok(()),
        },
    };
    let observed = match api.get(&id).await {
        Ok(o) => o,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(source) => return Err(Error::Observe { id, source }),
    };
    if is_deleted(&observed) {
        info!(instance_id = %id, "cloud instance deleted");
        ctx.publish(
            ei,
            EventType::Normal,
            "Deleted",
            "Delete",
            format!("deleted cloud instance {id}"),
        )
        .await;
        return Ok(());
    }
    match observed.state {
        InstanceState::Creating => {
            return Err(Error::DeletionWaits {
                id,
                what: "the cloud cannot delete an instance while it is being built (IEC.010203); deleting it once the build ends".to_owned(),
                after,
            });
        }
        InstanceState::Deleting => {
            return Err(Error::DeletionWaits {
                id,
                what: "the cloud is deleting it".to_owned(),
                after,
            });
        }
        _ => {}
    }
    match api.delete(std::slice::from_ref(&id)).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(()),
        Err(ProviderError::Conflict { .. }) => {
            return Err(Error::DeletionWaits {
                id,
                what: format!(
                    "the cloud refused while the instance is {}; retrying",
                    observed.raw_status
                ),
                after,
            });
        }
        Err(source) => return Err(Error::Delete { id, source }),
    }
    Err(Error::DeletionWaits {
        id,
        what: "delete requested; waiting for the cloud to report it DELETED".to_owned(),
        after,
    })
}

async fn cleanup(ei: Arc<EdgeInstance>, ctx: &Context) -> Result<Action, Error> {
    let mut w = StatusWriter::new(api_for(ctx, &ei), ei.clone(), ei.status.as_ref());
    match cleanup_steps(&ei, ctx, &mut w).await {
        Ok(()) => Ok(Action::await_change()),
        Err(e) => Err(w.finish_error(ctx, e).await),
    }
}

fn api_for(ctx: &Context, ei: &EdgeInstance) -> Api<EdgeInstance> {
    Api::namespaced(ctx.client.clone(), &ei.namespace().unwrap_or_default())
}

async fn reconcile(ei: Arc<EdgeInstance>, ctx: Arc<Context>) -> Result<Action, PassError<Error>> {
    let api = api_for(&ctx, &ei);
    let pass = run_finalizer_in_pass(&api, ei.clone(), |o| apply(o, &ctx), |o| cleanup(o, &ctx));
    instrumented(ei.as_ref(), &ctx, pass).await
}

fn provider_config_of(ei: &EdgeInstance) -> &str {
    &ei.spec.provider_config_ref.name
}

/// Runs the EdgeInstance controller until `shutdown` resolves. Besides EdgeInstances it watches
/// ProviderConfigs (objects waiting on an account continue when it is fixed), Vpcs and SecurityGroups
/// (an instance waiting for a reference continues as soon as the referenced object changes) and Secrets
/// (an instance that is not Ready continues as soon as a Secret it names appears or changes).
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let client = ctx.client.clone();
    let controller = ctx
        .controller_triggered_by(
            ctx.config.namespaced_api::<EdgeInstance>(&client),
            ctx.config.watcher_config(),
            intent_of_ignoring_own_metadata,
        )
        .with_config(RuntimeConfig::default().concurrency(ctx.config.concurrency));
    let by_vpc = controller.store();
    let vpc_lookups = ctx.lookups.clone();
    let sg_lookups = ctx.lookups.clone();
    let by_sg = controller.store();
    let by_secret = controller.store();
    let trigger = provider_config_trigger(ctx.lookups.clone(), controller.store(), provider_config_of);
    controller
        .watches(
            Api::<ProviderConfig>::all(client.clone()),
            watcher::Config::default(),
            trigger,
        )
        .watches(
            ctx.config.namespaced_api::<Vpc>(&client),
            ctx.config.watcher_config(),
            move |vpc: Vpc| {
                let (ns, name) = (vpc.namespace(), vpc.name_any());
                vpc_lookups.forget::<Vpc>(ns.as_deref().unwrap_or_default(), &name);
                by_vpc
                    .state()
                    .into_iter()
                    .filter(|ei| {
                        ei.namespace() == ns
                            && ei.spec.network.vpc_ref.as_ref().is_some_and(|r| r.name == name)
                    })
                    .map(|ei| ObjectRef::from_obj(ei.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .watches(
            ctx.config.namespaced_api::<SecurityGroup>(&client),
            ctx.config.watcher_config(),
            move |sg: SecurityGroup| {
                let (ns, name) = (sg.namespace(), sg.name_any());
                sg_lookups.forget::<SecurityGroup>(ns.as_deref().unwrap_or_default(), &name);
                by_sg
                    .state()
                    .into_iter()
                    .filter(|ei| {
                        ei.namespace() == ns
                            && ei.spec.network.security_group_refs.iter().any(|r| r.name == name)
                    })
                    .map(|ei| ObjectRef::from_obj(ei.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .watches(
            ctx.config.namespaced_api::<Secret>(&client),
            watcher::Config::default(),
            move |secret: Secret| {
                let (ns, name) = (secret.namespace(), secret.name_any());
                let names_it = |r: &Option<SecretKeyRef>| r.as_ref().is_some_and(|r| r.name == name);
                // Only objects still waiting: a Ready instance has already used its Secrets.
                by_secret
                    .state()
                    .into_iter()
                    .filter(|ei| {
                        ei.namespace() == ns
                            && (names_it(&ei.spec.admin_password_secret_ref)
                                || names_it(&ei.spec.user_data_secret_ref))
                            && !ei.status.as_ref().is_some_and(|s| is_ready(&s.conditions))
                    })
                    .map(|ei| ObjectRef::from_obj(ei.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                debug!(error = %e, kind = EdgeInstance::kind(&()).as_ref(), "controller event");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Placement, ProviderError};

    fn ei(json: serde_json::Value) -> EdgeInstance {
        let mut base = serde_json::json!({
            "apiVersion": "edgefleet.io/v1alpha1",
            "kind": "EdgeInstance",
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {
                "providerConfigRef": {"name": "acct"},
                "flavor": "c6.large.2",
                "image": "img-1",
                "placement": {"siteId": "site-1"},
                "rootVolume": {"type": "SATA", "size": 40},
                "network": {"vpcId": "vpc-1", "subnets": [{"id": "sub-1"}]},
                "adminPasswordSecretRef": {"name": "login", "key": "password"},
            }
        });
        if let (Some(spec), Some(extra)) = (base["spec"].as_object_mut(), json.as_object()) {
            for (k, v) in extra {
                spec.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(base).unwrap()
    }

    /// A settled object: Ready for generation 3, its id recorded, nothing in flight.
    fn settled() -> EdgeInstance {
        let mut e = ei(serde_json::json!({}));
        e.metadata.generation = Some(3);
        e.status = Some(
            serde_json::from_value(serde_json::json!({
                "observedGeneration": 3,
                "instanceId": "i-1",
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "Available", "message": "",
                     "observedGeneration": 3, "lastTransitionTime": "2026-11-23T10:00:00Z"},
                    {"type": "Reconciling", "status": "False", "reason": "Available", "message": "",
                     "observedGeneration": 3, "lastTransitionTime": "2026-11-23T10:00:00Z"},
                ],
            }))
            .unwrap(),
        );
        e
    }

    #[test]
    fn only_drift_polls_of_settled_objects_accept_a_batched_observation() {
        let intervals = Intervals {
            poll: Duration::from_secs(300),
            pending: Duration::from_secs(10),
        };
        let half = Duration::from_secs(150);
        assert_eq!(observation_age(&settled(), intervals), half);

        let mut new_generation = settled();
        new_generation.metadata.generation = Some(4);
        let mut reconciling = settled();
        if let Some(st) = reconciling.status.as_mut() {
            st.conditions[1].status = crate::api::condition::ConditionStatus::True;
        }
        let mut not_ready = settled();
        if let Some(st) = not_ready.status.as_mut() {
            st.conditions[0].status = crate::api::condition::ConditionStatus::False;
        }
        let mut creating = settled();
        if let Some(st) = creating.status.as_mut() {
            st.pending_create = Some(PendingOperation {
                token: "web".into(),
                params_hash: String::new(),
                started_at: now(),
                handle: None,
            });
        }
        let mut reboot = settled();
        reboot
            .annotations_mut()
            .insert(REBOOT_REQUEST_ANNOTATION.to_owned(), "now".to_owned());
        let mut deleting = settled();
        deleting.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::now(),
        ));
        let fresh = ei(serde_json::json!({}));
        for (what, e) in [
            ("new generation", new_generation),
            ("reconciling", reconciling),
            ("not ready", not_ready),
            ("create in flight", creating),
            ("reboot requested", reboot),
            ("deleting", deleting),
            ("no status", fresh),
        ] {
            assert_eq!(observation_age(&e, intervals), Duration::ZERO, "{what}");
        }
    }

    fn observed(name: &str, groups: &[&str]) -> ObservedInstance {
        ObservedInstance {
            id: "i-1".into(),
            name: name.into(),
            description: "legacy".into(),
            state: InstanceState::Running,
            raw_status: "ACTIVE".into(),
            flavor: Some("c6.large.2".into()),
            image: Some("img-1".into()),
            placement: Placement {
                site_id: Some("site-1".into()),
                ..Placement::default()
            },
            fleet_id: None,
            private_ips: vec!["10.0.0.2".into()],
            public_ips: vec![],
            nics: vec![],
            security_groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            vpc_id: Some("vpc-1".into()),
            key_name: Some("k".into()),
            created: None,
            tags: Default::default(),
        }
    }

    #[test]
    fn names_match_exactly_or_with_the_iec_prefix_only_when_asked() {
        struct Case {
            reason: &'static str,
            observed: &'static str,
            prefixed: bool,
            want: bool,
        }
        let cases = [
            Case {
                reason: "exact",
                observed: "web",
                prefixed: false,
                want: true,
            },
            Case {
                reason: "prefix not asked for",
                observed: "IEC-ZS01-web",
                prefixed: false,
                want: false,
            },
            Case {
                reason: "site prefix",
                observed: "IEC-ZS01-web",
                prefixed: true,
                want: true,
            },
            Case {
                reason: "another name ending in -web",
                observed: "IEC-ZS01-my-web",
                prefixed: true,
                want: false,
            },
            Case {
                reason: "numbered fleet member",
                observed: "IEC-ZS01-web-0001",
                prefixed: true,
                want: false,
            },
        ];
        for c in cases {
            assert_eq!(
                name_matches(c.observed, "web", c.prefixed),
                c.want,
                "{}",
                c.reason
            );
        }
    }

    #[test]
    fn members_are_recognised_by_label_or_owner() {
        let mut e = ei(serde_json::json!({}));
        assert!(!is_member(&e));
        e.metadata
            .labels
            .get_or_insert_default()
            .insert(EDGE_CLOUD_LABEL.into(), "fleet".into());
        assert!(is_member(&e));
    }

    #[test]
    fn adopted_instances_keep_their_name_and_description_unless_the_spec_sets_them() {
        let net = Network {
            vpc_id: "vpc-1".into(),
            ..Network::default()
        };
        let obs = observed("IEC-ZS01-fleet-0001", &[]);
        let adopted = ei(serde_json::json!({"adoptId": "i-1"}));
        let want = planning_spec(&adopted, &net, &obs);
        assert_eq!(want.name, "IEC-ZS01-fleet-0001");
        assert_eq!(want.description, "legacy");
        assert_eq!(
            want.key_name.as_deref(),
            Some("k"),
            "a key alone never reinstalls"
        );
        let named = ei(serde_json::json!({"adoptId": "i-1", "name": "edge-1", "description": "d"}));
        let want = planning_spec(&named, &net, &obs);
        assert_eq!((want.name.as_str(), want.description.as_str()), ("edge-1", "d"));
        let created = ei(serde_json::json!({}));
        assert_eq!(
            planning_spec(&created, &net, &obs).name,
            "web",
            "metadata.name by default"
        );
    }

    #[test]
    fn security_groups_are_compared_only_when_the_spec_names_some() {
        let mut net = Network::default();
        assert_eq!(security_group_change(&net, &observed("web", &["a"])), None);
        net.security_group_ids = vec!["a".into(), "b".into()];
        assert_eq!(
            security_group_change(&net, &observed("web", &["b", "a"])),
            None,
            "order does not matter"
        );
        assert_eq!(
            security_group_change(&net, &observed("web", &["a"])),
            Some(vec!["a".into(), "b".into()])
        );
    }

    #[test]
    fn the_intent_hash_covers_secret_references_not_values() {
        let net = Network::default();
        let a = ei(serde_json::json!({}));
        assert_eq!(params_hash(&a, &net), params_hash(&a, &net), "deterministic");
        let b = ei(serde_json::json!({"adminPasswordSecretRef": {"name": "other", "key": "password"}}));
        assert_ne!(params_hash(&a, &net), params_hash(&b, &net));
    }

    #[test]
    fn image_changes_need_a_way_to_log_in() {
        let stop = [InstanceAction::Stop { for_change_os: true }];
        let err = check_image_change(&ei(serde_json::json!({})), &stop).unwrap_err();
        assert!(err.to_string().starts_with("spec.image:"), "{err}");
        assert_eq!(err.class(), ErrorClass::Stalled { recheck: false });
        assert!(check_image_change(&ei(serde_json::json!({"keyName": "k"})), &stop).is_ok());
        let plain = [InstanceAction::Stop { for_change_os: false }];
        assert!(check_image_change(&ei(serde_json::json!({})), &plain).is_ok());
    }

    #[test]
    fn error_classes_follow_the_policy() {
        let detail = || crate::provider::ErrorDetail::local("op", "m");
        let waiting = Error::WaitingForReference {
            kind: "Vpc",
            name: "net".into(),
            field: "spec.network.vpcRef",
            what: "become Ready",
        };
        assert_eq!(waiting.class(), ErrorClass::Waiting);
        assert_eq!(waiting.ready_reason(), Some(reason::WAITING_FOR_DEPENDENCY));
        assert_eq!(waiting.stalled_reason(), None);
        let catalog = Error::NotInCatalog {
            field: "spec.flavor",
            message: "x".into(),
        };
        assert_eq!(catalog.stalled_reason(), Some(reason::NOT_IN_CATALOG));
        let missing_key = Error::Create {
            name: "web".into(),
            source: ProviderError::NotFound { detail: detail() },
        };
        assert_eq!(missing_key.stalled_reason(), Some(reason::INVALID_SPEC));
        let building = Error::DeletionWaits {
            id: "i".into(),
            what: "building".into(),
            after: std::time::Duration::from_secs(10),
        };
        assert_eq!(
            building.class(),
            ErrorClass::Pending(std::time::Duration::from_secs(10)),
            "no error storm (nor error backoff) while the cloud builds"
        );
        assert_eq!(building.stalled_reason(), None);
        let failed = Error::InstanceFailed {
            id: "i".into(),
            status: "FAILED".into(),
            detail: "x",
        };
        assert_eq!(failed.stalled_reason(), Some(INSTANCE_FAILED));
    }

    #[test]
    fn addresses_are_attributed_to_subnets_by_cidr() {
        assert!(ipv4_in_cidr("10.30.1.7", "10.30.1.0/24"));
        assert!(!ipv4_in_cidr("10.30.2.7", "10.30.1.0/24"));
        assert!(ipv4_in_cidr("10.30.2.7", "10.30.0.0/16"));
        assert!(ipv4_in_cidr("1.2.3.4", "0.0.0.0/0"));
        assert!(
            !ipv4_in_cidr("fe80::1", "10.0.0.0/8"),
            "IPv6 is never in an IPv4 range"
        );
        assert!(!ipv4_in_cidr("10.0.0.1", "10.0.0.0/33"));
        assert!(!ipv4_in_cidr("10.0.0.1", "garbage"));
    }

    #[test]
    fn nic_plans_add_and_remove_but_never_the_primary_or_the_unknown() {
        let nic = |port: &str, subnet: Option<&str>| (port.to_owned(), subnet.map(str::to_owned));
        let subnets = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        struct Case {
            reason: &'static str,
            desired: Vec<String>,
            observed: Vec<(String, Option<String>)>,
            want: NicPlan,
        }
        let cases = [
            Case {
                reason: "matches",
                desired: subnets(&["a", "b"]),
                observed: vec![nic("p1", Some("a")), nic("p2", Some("b"))],
                want: NicPlan::default(),
            },
            Case {
                reason: "one more NIC in b, two in c",
                desired: subnets(&["a", "b", "c", "c"]),
                observed: vec![nic("p1", Some("a"))],
                want: NicPlan {
                    add: vec![("b".into(), 1), ("c".into(), 2)],
                    remove: vec![],
                },
            },
            Case {
                reason: "an extra NIC is removed",
                desired: subnets(&["a"]),
                observed: vec![nic("p1", Some("a")), nic("p2", Some("b"))],
                want: NicPlan {
                    add: vec![],
                    remove: vec!["p2".into()],
                },
            },
            Case {
                reason: "the primary NIC stays even if the spec disagrees (CEL keeps subnets[0] fixed)",
                desired: subnets(&["b"]),
                observed: vec![nic("p1", Some("a")), nic("p2", Some("b"))],
                want: NicPlan::default(),
            },
            Case {
                reason: "a NIC that cannot be attributed is left alone",
                desired: subnets(&["a"]),
                observed: vec![nic("p1", Some("a")), nic("p2", None)],
                want: NicPlan::default(),
            },
        ];
        for c in cases {
            assert_eq!(plan_nics(&c.desired, &c.observed), c.want, "{}", c.reason);
        }
    }

    #[test]
    fn the_operator_picks_the_line_when_no_pool_is_given() {
        let site = Site {
            id: "s".into(),
            name: "s".into(),
            area: None,
            province: None,
            city: None,
            status: SiteStatus::Available,
            operators: vec!["chinatelecom".into(), "chinaunicom".into()],
            pool_ids: vec!["l0".into(), "l1".into()],
            pools: vec![
                crate::provider::SitePool {
                    id: "l0".into(),
                    operator: Some("chinatelecom".into()),
                },
                crate::provider::SitePool {
                    id: "l1".into(),
                    operator: Some("chinaunicom".into()),
                },
            ],
        };
        assert_eq!(line_for(&site, None, Some("ChinaUnicom")).as_deref(), Some("l1"));
        assert_eq!(
            line_for(&site, Some("l0"), Some("chinaunicom")).as_deref(),
            Some("l0"),
            "poolId wins"
        );
        assert_eq!(line_for(&site, None, None), None, "the cloud's default line");
        assert_eq!(line_for(&site, None, Some("chinamobile")), None);
    }
}
