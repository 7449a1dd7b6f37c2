//! The pure mapping between the EdgeInstance CRD and the provider's domain: the cloud name, membership
//! in an EdgeCloud, the resolved [`Network`], the planning spec, the create-parameter hash of the
//! intent, observed state → status, and how old a pass's observation and identity lookups may be.

use std::collections::BTreeSet;
use std::time::Duration;

use kube::ResourceExt;
use sha2::{Digest, Sha256};

use super::error::Error;
use crate::api::EDGE_CLOUD_LABEL;
use crate::api::REBOOT_REQUEST_ANNOTATION;
use crate::api::condition::{Condition, READY, RECONCILING, find_condition};
use crate::api::edge_instance::{EdgeInstance, EdgeInstanceStatus, NodePortStatus, PowerState as CrdPower};
use crate::controller::runtime::Intervals;
use crate::provider::plan::InstanceAction;
use crate::provider::{
    BandwidthSpec, Capabilities, FieldErrorKind, InstanceField, InstanceFieldError, InstanceSpec,
    InstanceState, ObservedInstance, PowerState, VolumeSpec,
};

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

/// The value of the reboot-request annotation, if any.
pub fn reboot_request(ei: &EdgeInstance) -> Option<String> {
    ei.annotations().get(REBOOT_REQUEST_ANNOTATION).cloned()
}

/// Domain power state of the spec.
pub(super) fn desired_power(ei: &EdgeInstance) -> PowerState {
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
            "{}|{}|{}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
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
            net.fleet_id,
        )
        .as_bytes(),
    );
    hex::encode(&h.finalize()[..16])
}

pub(super) fn power_label(state: &InstanceState) -> &'static str {
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
    status.ssh_address = o.placement.ssh_address.clone();
    status.node_ports = o
        .placement
        .node_ports
        .iter()
        .map(|p| NodePortStatus {
            port: i32::from(p.port),
            node_port: i32::from(p.node_port),
        })
        .collect();
}

/// Whether the instance is gone for our purposes: not found, or reported deleted (some clouds keep
/// deleted instances listed for a while and remove them on their own).
pub(super) fn is_deleted(o: &ObservedInstance) -> bool {
    o.state == InstanceState::Deleted
}

/// The spec's identity part as a domain spec (cloud name, placement, network ids, provider section;
/// no disks' secrets): what a lookup by identity and the provider's validation read. `create_spec`
/// completes it for a create.
pub fn identity_spec(ei: &EdgeInstance, net: &Network) -> InstanceSpec {
    let s = &ei.spec;
    InstanceSpec {
        name: cloud_name(ei),
        description: s.description.clone().unwrap_or_default(),
        flavor: s.flavor.clone(),
        image: s.image.clone(),
        site: s.placement.site_id.clone().unwrap_or_default(),
        area: s.placement.city.clone().or_else(|| s.placement.area.clone()),
        pool_id: s.placement.pool_id.clone(),
        operator: s.placement.operator.clone(),
        vpc_id: net.vpc_id.clone(),
        subnet_ids: net.subnet_ids.clone(),
        security_group_ids: net.security_group_ids.clone(),
        root_volume: volume(s.root_volume.size, &s.root_volume.type_),
        data_volumes: s.data_volumes.iter().map(|d| volume(d.size, &d.type_)).collect(),
        key_name: s.key_name.clone(),
        admin_password: None,
        user_data: None,
        bandwidth: s.bandwidth.as_ref().map(|b| BandwidthSpec {
            size_mbit: b.size.and_then(|x| u32::try_from(x).ok()),
            share_type: match b.share_type {
                crate::api::edge_instance::BandwidthShareType::Whole => {
                    crate::provider::BandwidthSharing::Shared
                }
            },
        }),
        power: desired_power(ei),
        fleet_id: net.fleet_id.clone(),
        ext: s.provider_ext(),
    }
}

fn volume(size: i32, volume_type: &str) -> VolumeSpec {
    VolumeSpec {
        size_gb: u32::try_from(size).unwrap_or_default(),
        volume_type: volume_type.to_owned(),
    }
}

/// The resolved references of the spec (network and fleet): cloud ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Network {
    /// The fleet the instance joins (fleetRef resolved, or fleetId); `None` when the spec names none.
    pub fleet_id: Option<String>,
    /// VPC id.
    pub vpc_id: String,
    /// Subnet ids (one NIC each); empty = the VPC's subnet at the site, chosen at create.
    pub subnet_ids: Vec<String>,
    /// Security group ids (refs resolved, then literal ids; deduplicated, in order).
    pub security_group_ids: Vec<String>,
}

/// The domain spec used for planning against an observed instance. Fields the spec leaves open take
/// the observed value (an adopted instance without spec.name keeps its name; without a description
/// keeps its description), and key pairs are compared only when the image changes (the cloud applies a
/// key only when it replaces the OS; a new key alone does not reinstall the instance).
pub fn planning_spec(ei: &EdgeInstance, net: &Network, observed: &ObservedInstance) -> InstanceSpec {
    let s = &ei.spec;
    let base = identity_spec(ei, net);
    let keep_name = s.adopt_id.is_some() && s.name.is_none();
    InstanceSpec {
        name: if keep_name {
            observed.name.clone()
        } else {
            base.name.clone()
        },
        description: s
            .description
            .clone()
            .unwrap_or_else(|| observed.description.clone()),
        site: s
            .placement
            .site_id
            .clone()
            .or_else(|| observed.placement.site_id.clone())
            .unwrap_or_default(),
        // A spec without a network leaves the instance's as it is.
        vpc_id: if base.vpc_id.is_empty() {
            observed.vpc_id.clone().unwrap_or_default()
        } else {
            base.vpc_id.clone()
        },
        data_volumes: Vec::new(),
        key_name: observed.key_name.clone(),
        bandwidth: None,
        ..base
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

pub(super) fn is_ready(conditions: &[Condition]) -> bool {
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

/// How old a list of the account's instances may be to answer a create's identity lookup (the name
/// check of a new create, the instance of a paid order; `InstanceApi::find_by_identity_within`): the
/// pending interval, at most half the poll interval. Where the cloud's list cannot filter by name, a
/// burst of creates then costs one list per that age instead of one per create.
pub fn lookup_age(intervals: Intervals) -> Duration {
    intervals.pending.min(intervals.poll / 2)
}

/// How old a list may be to answer the recovery lookup of a create interrupted `elapsed` ago: within
/// the recovery `grace` any list of [`lookup_age`] (finding nothing only waits); after it, only a list
/// that started after the grace ended, so finding nothing means what a list made now would mean (the
/// cloud lists a create within the grace) and the create is not repeated on an older list's word.
/// The caller decides by the same `elapsed`.
pub fn recovery_age(elapsed: Duration, grace: Duration, lookup_age: Duration) -> Duration {
    match elapsed.checked_sub(grace) {
        None => lookup_age,
        Some(past) => past.min(lookup_age),
    }
}

/// " at site X" when the spec names a site, for messages.
pub fn place_of(spec: &InstanceSpec) -> String {
    if spec.site.is_empty() {
        String::new()
    } else {
        format!(" at site {}", spec.site)
    }
}

/// The EdgeInstance field a provider's finding is about.
pub fn field_path(field: InstanceField) -> &'static str {
    match field {
        InstanceField::Name => "spec.name",
        InstanceField::Placement => "spec.placement",
        InstanceField::Site => "spec.placement.siteId",
        InstanceField::Pool => "spec.placement.poolId",
        InstanceField::Operator => "spec.placement.operator",
        InstanceField::Flavor => "spec.flavor",
        InstanceField::Image => "spec.image",
        InstanceField::RootVolumeSize => "spec.rootVolume.size",
        InstanceField::RootVolume => "spec.rootVolume",
        InstanceField::DataVolumes => "spec.dataVolumes",
        InstanceField::Network => "spec.network",
        InstanceField::Subnets => "spec.network.subnets",
        InstanceField::Fleet => "spec.fleetRef",
        InstanceField::Description => "spec.description",
        InstanceField::KeyName => "spec.keyName",
        InstanceField::AdminPassword => "spec.adminPasswordSecretRef",
        InstanceField::UserData => "spec.userDataSecretRef",
        InstanceField::Bandwidth => "spec.bandwidth",
        InstanceField::Section(path) => path,
    }
}

/// The spec's fit with the account's cloud, before any reference is resolved: a provider section of
/// another cloud, or a fleet where the cloud creates instances on their own, is `InvalidSpec` naming
/// the field (the CRD cannot check it: CEL does not see the ProviderConfig).
#[allow(clippy::result_large_err)] // the controller's one error type; this is not a hot path
pub fn check_cloud_fit(ei: &EdgeInstance, caps: &Capabilities) -> Result<(), Error> {
    if let Some((field, cloud)) = ei
        .spec
        .provider_sections()
        .into_iter()
        .find(|(_, cloud)| *cloud != caps.kind)
    {
        return Err(Error::InvalidSpec {
            field,
            message: format!(
                "this section is for provider {cloud}, but ProviderConfig {:?} is provider {}: remove it",
                ei.spec.provider_config_ref.name, caps.kind
            ),
        });
    }
    if let Some(problem) = caps.fleet_problem(ei.spec.names_fleet(), false) {
        check_spec(ei, &[problem])?;
    }
    Ok(())
}

/// The provider's findings as the controller's error: the first names the field (`InvalidSpec`, or
/// `NotInCatalog` for what the catalog does not offer); the others follow in its message.
#[allow(clippy::result_large_err)] // the controller's one error type; this is not a hot path
pub fn check_spec(ei: &EdgeInstance, findings: &[InstanceFieldError]) -> Result<(), Error> {
    let Some((first, rest)) = findings.split_first() else {
        return Ok(());
    };
    let mut message = first.message.clone();
    if first.field == InstanceField::Name && ei.spec.name.is_none() {
        message = format!("the cloud name defaults to metadata.name, so set spec.name: {message}");
    }
    for other in rest {
        message.push_str(&format!("; {}: {}", field_path(other.field), other.message));
    }
    let field = field_path(first.field);
    Err(match first.kind {
        FieldErrorKind::Invalid => Error::InvalidSpec { field, message },
        FieldErrorKind::NotInCatalog => Error::NotInCatalog { field, message },
    })
}
