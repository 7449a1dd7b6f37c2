//! The EdgeCloud controller: a Deployment-like fleet of edge instances spread over sites and operators.
//!
//! Pipeline of `apply`: resolve the account → validate and resolve the placement (pure, shown in
//! `status.placements` before anything exists) → resolve the template's references (Vpc, SecurityGroups,
//! Secrets) → identity (status id, `spec.adoptId`, recovery of an interrupted create, or a new
//! deployment plan + deploy) → observe the edge cloud and its members → settle removals in flight →
//! mirror every member as an owned EdgeInstance ([`members`]) → status counts → plan
//! (`provider::plan::plan_fleet_scale`, pure) → execute one scaling step (an expansion plan, or a batch
//! delete of chosen members) → status and conditions (Ready, Available, Reconciling, ScalingBlocked,
//! Stalled, Synced).
//!
//! Crash safety (design.md): every mutating step has an intent in status written before the call —
//! `pendingCreate` (token = the edge cloud's cloud name, unique per IEC account; handle = the plan id),
//! `pendingExpand` (handle = the expansion plan id), `pendingDelete` (the member ids chosen for
//! removal). A restarted controller resolves each intent by looking the cloud up (edge cloud by name,
//! open plans by edge cloud name or id, members by id) and never creates a second edge cloud, never runs
//! a second expansion for the same shortfall, never picks new victims while old ones are pending. Plans
//! are deleted as soon as they have been executed (IEC keeps them otherwise).
//!
//! Replacement without the cloud's help: a member building past `spec.remediation.buildTimeout` cannot
//! be deleted on IEC, so it is marked (annotation `edgefleet.io/replace` on its EdgeInstance, durable
//! before anything else happens), stops counting towards `spec.replicas` (the scale plan creates its
//! replacement where it runs, through the ordinary expansion intent), and is deleted through the
//! removal intent as soon as it leaves BUILD. Template fields the cloud never shows back (disks,
//! bandwidth, key pair) are compared through a fingerprint recorded on each member's EdgeInstance
//! (`edgefleet.io/template-fingerprint`, taken from `status.membersFingerprint`, which the create and
//! expansion intents set); a member with another fingerprint is replaced like one with another flavor.
//!
//! Site-level edge clouds cannot be expanded on IEC. The controller does not fall back to direct
//! instance creation (such instances would not be members of the edge cloud, so the cloud's own view —
//! `success_num`, deletion order, `edgecloud_id` — would disagree with the fleet); it reports
//! `ScalingBlocked=True ExpandNotSupported` with the number of missing members instead, and still scales
//! in. See docs/controllers.md "EdgeCloud".

pub mod fleet;
pub mod members;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;

use crate::controller::events::EventType;
use base64::Engine;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::Api;
use kube::runtime::controller::{Action, Config as RuntimeConfig};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use tracing::{debug, info};

use self::fleet::{ResolvedRefs, SpecError};
use super::runtime::{
    Context, ErrorClass, PassError, ReconcileError, error_policy, instrumented, provider_config_trigger,
    run_finalizer,
};
use super::runtime::{Intervals, Outcome, StatusWriter, conditions_for_outcome, elapsed_since, now};
use super::runtime::{ResolveProviderError, resolve_provider};
use super::{NAME_CONFLICT, provider_error_class};
use crate::api::common::{DeletionPolicy, ManagementPolicy, PendingOperation, SecretKeyRef};
use crate::api::condition::{
    AVAILABLE, Condition, ConditionStatus, READY, SCALING_BLOCKED, find_condition, is_condition_true, reason,
    set_condition,
};
use crate::api::edge_cloud::{
    DELETE_FIRST_ANNOTATION, EdgeCloud, EdgeCloudStatus, REPLACE_ANNOTATION, TEMPLATE_FINGERPRINT_ANNOTATION,
};
use crate::api::edge_instance::EdgeInstance;
use crate::api::provider_config::ProviderConfig;
use crate::api::security_group::SecurityGroup;
use crate::api::vpc::Vpc;
use crate::operator::SiteReplicas;
use crate::provider::plan::plan_fleet_scale;
use crate::provider::{
    FleetApi, FleetPlanTarget, FleetState, InstanceApi, InstanceState, InstanceTemplate, ObservedFleet,
    ObservedInstance, Provider, ProviderError, SecretString, SiteTarget,
};

/// Stalled reason: the cloud reports the edge cloud `failed` (it can only be deleted); the message has
/// the cloud's failure code and text.
pub const EDGE_CLOUD_FAILED: &str = "EdgeCloudFailed";
/// ScalingBlocked reason: members have been building longer than `spec.remediation.buildTimeout`. They
/// are replaced (within maxUnhealthy) and deleted once they leave BUILD (IEC refuses to delete a
/// building instance, and to expand an edge cloud that is still busy with building members); the
/// condition stays while they wait. Also the value of the `edgefleet.io/replace` annotation.
pub const BUILD_TIMEOUT: &str = "BuildTimeout";
/// ScalingBlocked reason: a site has no capacity (or a quota is exhausted) for the members it should get.
pub const CAPACITY_EXHAUSTED: &str = reason::CAPACITY_EXHAUSTED;

/// Errors of the EdgeCloud controller, one variant per step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ProviderConfig (or its credentials) is not usable.
    #[error("{}", if *.deleting { "cannot confirm the deletion of the edge cloud: the account is unavailable" } else { "the account is unavailable" })]
    ProviderUnavailable {
        /// Whether the object is being deleted.
        deleting: bool,
        /// Why.
        #[source]
        source: ResolveProviderError,
    },
    /// The provider offers no fleets (or no instances).
    #[error("the provider does not manage fleets")]
    Unsupported(#[source] ProviderError),
    /// The spec cannot be turned into a placement.
    #[error("invalid spec")]
    InvalidSpec(#[source] SpecError),
    /// A referenced object is missing or not Ready.
    #[error("waiting for {what}")]
    Dependency {
        /// What is awaited (kind, name, why).
        what: String,
    },
    /// Reading a referenced object failed.
    #[error("failed to read {what}")]
    ReadDependency {
        /// What was read.
        what: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Reading the edge cloud or its members failed.
    #[error("failed to observe edge cloud {id}")]
    Observe {
        /// Cloud id.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Looking edge clouds or plans up failed.
    #[error("failed to look up {what}")]
    Lookup {
        /// What.
        what: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Creating a deployment plan failed.
    #[error("failed to create the {purpose} plan of edge cloud {name:?}")]
    Plan {
        /// `deployment` or `expansion`.
        purpose: &'static str,
        /// Edge cloud name.
        name: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Executing a deployment plan failed.
    #[error("failed to {action} plan {plan_id} of edge cloud {name:?}")]
    Execute {
        /// `deploy` or `expand`.
        action: &'static str,
        /// Plan id.
        plan_id: String,
        /// Edge cloud name.
        name: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Deleting members failed.
    #[error("failed to delete members {ids} of edge cloud {id}")]
    DeleteMembers {
        /// Edge cloud id.
        id: String,
        /// Instance ids.
        ids: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Deleting the edge cloud failed.
    #[error("failed to delete edge cloud {id}")]
    Delete {
        /// Cloud id.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Deleting an executed plan failed.
    #[error("failed to delete deployment plan {plan_id}")]
    DeletePlan {
        /// Plan id.
        plan_id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Listing, creating or releasing member EdgeInstances failed.
    #[error("failed to {action} member EdgeInstances")]
    Members {
        /// list, create, release.
        action: &'static str,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Deletion waits for the cloud to reach a state it reaches by itself (not a failure: retried after
    /// the pending poll interval).
    #[error("deletion of edge cloud {id} waits: {what}")]
    DeletionWaits {
        /// Edge cloud id or name.
        id: String,
        /// What it waits for.
        what: String,
        /// The pending poll interval of the object's ProviderConfig.
        after: std::time::Duration,
    },
    /// An edge cloud with the desired name exists and this object never created it.
    #[error(
        "an edge cloud named {name:?} already exists ({ids}) and this object did not create it; set spec.adoptId to adopt it, or choose another spec.name"
    )]
    NameConflict {
        /// Cloud name.
        name: String,
        /// Ids.
        ids: String,
    },
    /// Recovery found several edge clouds with this object's name.
    #[error("recovery found several edge clouds named {name:?}: {ids}; delete the extra ones in the cloud")]
    AmbiguousRecovery {
        /// Cloud name.
        name: String,
        /// Ids.
        ids: String,
    },
    /// spec.adoptId names no edge cloud.
    #[error("spec.adoptId {id} names no edge cloud")]
    AdoptTargetNotFound {
        /// The id.
        id: String,
    },
    /// ObserveOnly and the edge cloud disappeared.
    #[error(
        "edge cloud {id} was deleted outside edgefleet; managementPolicy is ObserveOnly, so it is not recreated"
    )]
    ExternallyDeleted {
        /// Cloud id.
        id: String,
    },
    /// ObserveOnly without an id.
    #[error("managementPolicy ObserveOnly needs spec.adoptId (or a cloud id already in status)")]
    NothingToObserve,
    /// The cloud reports the edge cloud failed.
    #[error(
        "edge cloud {id} failed in the cloud ({message}); a failed edge cloud can only be deleted: delete this object (or fix the cause and recreate it)"
    )]
    EdgeCloudFailed {
        /// Cloud id.
        id: String,
        /// The cloud's failure.
        message: String,
    },
    /// Writing status failed.
    #[error("failed to patch the status")]
    PatchStatus(#[source] kube::Error),
}

impl Error {
    fn provider_error(&self) -> Option<&ProviderError> {
        match self {
            Self::Unsupported(source)
            | Self::Observe { source, .. }
            | Self::Lookup { source, .. }
            | Self::Plan { source, .. }
            | Self::Execute { source, .. }
            | Self::DeleteMembers { source, .. }
            | Self::Delete { source, .. }
            | Self::DeletePlan { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl ReconcileError for Error {
    fn category(&self) -> &'static str {
        match self {
            Self::Unsupported(source)
            | Self::Observe { source, .. }
            | Self::Lookup { source, .. }
            | Self::Plan { source, .. }
            | Self::Execute { source, .. }
            | Self::DeleteMembers { source, .. }
            | Self::Delete { source, .. }
            | Self::DeletePlan { source, .. } => source.category(),
            Self::ProviderUnavailable { .. } => "ProviderConfigUnavailable",
            Self::InvalidSpec(_) | Self::NothingToObserve => "InvalidSpec",
            Self::Dependency { .. } => "WaitingForDependency",
            Self::ReadDependency { .. } | Self::Members { .. } => "KubernetesApi",
            Self::DeletionWaits { .. } => "DeletionPending",
            Self::NameConflict { .. } => "NameConflict",
            Self::AmbiguousRecovery { .. } => "AmbiguousRecovery",
            Self::AdoptTargetNotFound { .. } => "AdoptTargetNotFound",
            Self::ExternallyDeleted { .. } => "ExternallyDeleted",
            Self::EdgeCloudFailed { .. } => EDGE_CLOUD_FAILED,
            Self::PatchStatus(..) => "PatchStatus",
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            Self::Unsupported(source)
            | Self::Observe { source, .. }
            | Self::Lookup { source, .. }
            | Self::Plan { source, .. }
            | Self::Execute { source, .. }
            | Self::DeleteMembers { source, .. }
            | Self::Delete { source, .. }
            | Self::DeletePlan { source, .. } => provider_error_class(source).0,
            Self::ProviderUnavailable {
                source: ResolveProviderError::Kube { .. },
                ..
            }
            | Self::ReadDependency { .. }
            | Self::Members { .. }
            | Self::PatchStatus(_) => ErrorClass::Transient,
            Self::DeletionWaits { after, .. } => ErrorClass::Pending(*after),
            Self::ProviderUnavailable { .. } | Self::Dependency { .. } => ErrorClass::Waiting,
            Self::ExternallyDeleted { .. } | Self::EdgeCloudFailed { .. } => {
                ErrorClass::Stalled { recheck: true }
            }
            Self::InvalidSpec(..)
            | Self::NameConflict { .. }
            | Self::AmbiguousRecovery { .. }
            | Self::AdoptTargetNotFound { .. }
            | Self::NothingToObserve => ErrorClass::Stalled { recheck: false },
        }
    }

    fn stalled_reason(&self) -> Option<&'static str> {
        if let Some(p) = self.provider_error() {
            return provider_error_class(p).1;
        }
        match self {
            Self::ProviderUnavailable { deleting: true, .. } => Some(reason::DELETION_BLOCKED),
            Self::InvalidSpec(_) | Self::NothingToObserve => Some(reason::INVALID_SPEC),
            Self::NameConflict { .. } => Some(NAME_CONFLICT),
            Self::AmbiguousRecovery { .. } => Some(reason::AMBIGUOUS_RECOVERY),
            Self::AdoptTargetNotFound { .. } => Some(reason::ADOPT_TARGET_NOT_FOUND),
            Self::ExternallyDeleted { .. } => Some(reason::EXTERNALLY_DELETED),
            Self::EdgeCloudFailed { .. } => Some(EDGE_CLOUD_FAILED),
            _ => None,
        }
    }

    fn ready_reason(&self) -> Option<&'static str> {
        match self {
            Self::ProviderUnavailable { deleting: false, .. } | Self::Dependency { .. } => {
                Some(reason::WAITING_FOR_DEPENDENCY)
            }
            Self::EdgeCloudFailed { .. } => Some(reason::UNAVAILABLE),
            _ => None,
        }
    }
}

type Writer = StatusWriter<EdgeCloud, EdgeCloudStatus>;

/// Writes the working copy now: a durable step in the middle of a pass (an intent before a cloud call,
/// an id right after it). The working copy already holds this pass's counts but still the previous
/// pass's conditions, so a stale Ready=True is withdrawn first ([`withdraw_stale_ready`]): every status
/// write carries conditions consistent with the counts it writes, also when the operator dies before
/// the pass's closing write.
async fn persist(w: &mut Writer) -> Result<(), Error> {
    let ec = w.object();
    let (wanted, generation) = (ec.spec.replicas, ec.metadata.generation);
    let applies = ec.spec.management_policy != ManagementPolicy::ObserveOnly
        && ec.metadata.deletion_timestamp.is_none();
    if applies {
        withdraw_stale_ready(&mut w.status, wanted, generation, &now());
    }
    w.persist().await.map_err(Error::PatchStatus)
}

/// Withdraws a Ready=True that the counts in `status` contradict: fewer members than `wanted` (or more,
/// while scaling in), members not ready or not up to date, or a scale operation pending. It becomes
/// Ready=False `Updating` with Reconciling=True `Scaling` (or `RollingUpdate`); the pass's closing write
/// sets the final conditions as usual. Conditions that are not Ready=True are left as they are.
fn withdraw_stale_ready(status: &mut EdgeCloudStatus, wanted: i32, generation: Option<i64>, at: &Time) {
    let ready = find_condition(&status.conditions, READY).is_some_and(Condition::is_true);
    let settled = status.replicas == wanted
        && status.ready_replicas == wanted
        && status.updated_replicas == wanted
        && status.pending_expand.is_none()
        && status.pending_delete.is_empty();
    if !ready || settled {
        return;
    }
    let reconciling = if status.updated_replicas < status.replicas && status.replicas >= wanted {
        reason::ROLLING_UPDATE
    } else {
        reason::SCALING
    };
    let message = format!(
        "{} of {wanted} members ready, {} up to date; scaling in progress",
        status.ready_replicas, status.updated_replicas
    );
    conditions_for_outcome(
        &mut status.conditions,
        generation,
        &Outcome::progressing(reason::UPDATING, reconciling, message),
        at,
    );
}

fn ids_of<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    ids.into_iter().collect::<Vec<_>>().join(", ")
}

fn describe_targets(targets: &[SiteTarget]) -> String {
    targets
        .iter()
        .filter(|t| t.count > 0)
        .map(|t| format!("{} +{}", t.key(), t.count))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------------------------

async fn read_secret_key(ctx: &Context, ns: &str, r: &SecretKeyRef) -> Result<SecretString, Error> {
    let what = format!("Secret {ns}/{} key {:?}", r.name, r.key);
    let secret = Api::<Secret>::namespaced(ctx.client.clone(), ns)
        .get_opt(&r.name)
        .await
        .map_err(|source| Error::ReadDependency {
            what: what.clone(),
            source,
        })?;
    let value = secret
        .as_ref()
        .and_then(|s| s.data.as_ref())
        .and_then(|d| d.get(&r.key))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned());
    match value {
        Some(v) if !v.is_empty() => Ok(SecretString::new(v)),
        _ => Err(Error::Dependency {
            what: format!("{what} (missing or empty)"),
        }),
    }
}

/// Resolves the template's Vpc and SecurityGroup references (waiting until each has its cloud id) and
/// reads its Secrets.
async fn resolve_refs(ec: &EdgeCloud, ctx: &Context) -> Result<ResolvedRefs, Error> {
    let ns = ec.namespace().unwrap_or_default();
    let net = &ec.spec.template.network;
    let vpc_id = match (&net.vpc_ref, &net.vpc_id) {
        (_, Some(id)) => id.clone(),
        (Some(r), None) => {
            let what = format!("Vpc {ns}/{}", r.name);
            let vpc = Api::<Vpc>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&r.name)
                .await
                .map_err(|source| Error::ReadDependency {
                    what: what.clone(),
                    source,
                })?;
            let status = vpc.as_ref().and_then(|v| v.status.as_ref());
            match status.and_then(|s| s.vpc_id.clone()) {
                Some(id) if status.is_some_and(|s| is_condition_true(&s.conditions, READY)) => id,
                _ => {
                    return Err(Error::Dependency {
                        what: format!("{what} to be Ready"),
                    });
                }
            }
        }
        (None, None) => {
            return Err(Error::Dependency {
                what: "spec.template.network.vpcRef or vpcId".to_owned(),
            });
        }
    };
    let mut security_group_ids: Vec<String> = Vec::new();
    for r in &net.security_group_refs {
        let what = format!("SecurityGroup {ns}/{}", r.name);
        let sg = Api::<SecurityGroup>::namespaced(ctx.client.clone(), &ns)
            .get_opt(&r.name)
            .await
            .map_err(|source| Error::ReadDependency {
                what: what.clone(),
                source,
            })?;
        match sg.and_then(|g| g.status).and_then(|s| s.security_group_id) {
            Some(id) => {
                if !security_group_ids.contains(&id) {
                    security_group_ids.push(id);
                }
            }
            None => {
                return Err(Error::Dependency {
                    what: format!("{what} to have a cloud id"),
                });
            }
        }
    }
    for id in &net.security_group_ids {
        if !security_group_ids.contains(id) {
            security_group_ids.push(id.clone());
        }
    }
    let t = &ec.spec.template;
    let admin_password = match &t.admin_password_secret_ref {
        Some(r) => Some(read_secret_key(ctx, &ns, r).await?),
        None => None,
    };
    let user_data = match &t.user_data_secret_ref {
        Some(r) => {
            let raw = read_secret_key(ctx, &ns, r).await?;
            Some(SecretString::new(
                base64::engine::general_purpose::STANDARD.encode(raw.expose()),
            ))
        }
        None => None,
    };
    Ok(ResolvedRefs {
        vpc_id,
        security_group_ids,
        admin_password,
        user_data,
    })
}

// ---------------------------------------------------------------------------------------------------------
// Identity: find, adopt, recover or create (deployment plan → deploy)
// ---------------------------------------------------------------------------------------------------------

/// A plan the cloud accepted, with the request it was made from, and the locations it refused.
struct PlanAttempt {
    /// The accepted plan and its request, if any location could be served.
    plan: Option<(crate::provider::FleetPlan, crate::provider::FleetPlanRequest)>,
    /// `location[/operator]: why` for each location the cloud has no capacity or quota for.
    blocked: Vec<String>,
}

/// Creates a plan for `request`. When the cloud refuses for lack of capacity or quota and several
/// locations are asked for, tries one location at a time (in key order) until one is accepted, so the
/// locations that can be served progress while the others are reported; at most one plan is created.
async fn create_plan_for(
    fleets: &dyn FleetApi,
    request: &crate::provider::FleetPlanRequest,
) -> Result<PlanAttempt, ProviderError> {
    let err = match fleets.create_plan(request).await {
        Ok(plan) => {
            return Ok(PlanAttempt {
                plan: Some((plan, request.clone())),
                blocked: Vec::new(),
            });
        }
        Err(e) if e.is_capacity() => e,
        Err(e) => return Err(e),
    };
    if request.targets.len() < 2 {
        return Ok(PlanAttempt {
            plan: None,
            blocked: request
                .targets
                .iter()
                .map(|t| format!("{}: {err}", t.key()))
                .collect(),
        });
    }
    let mut blocked = Vec::new();
    for t in &request.targets {
        let mut one = request.clone();
        one.targets = vec![t.clone()];
        match fleets.create_plan(&one).await {
            Ok(plan) => {
                return Ok(PlanAttempt {
                    plan: Some((plan, one)),
                    blocked,
                });
            }
            Err(e) if e.is_capacity() => blocked.push(format!("{}: {e}", t.key())),
            Err(e) => return Err(e),
        }
    }
    Ok(PlanAttempt { plan: None, blocked })
}

/// Where the identity step left the object.
enum Identity {
    /// The edge cloud, observed.
    Observed(ObservedFleet),
    /// Not observable yet; end the pass with this outcome.
    Wait(Outcome),
}

fn creating(message: String) -> Identity {
    Identity::Wait(Outcome::progressing(
        reason::CREATING,
        reason::IN_PROGRESS,
        message,
    ))
}

fn recovering(message: String) -> Identity {
    Identity::Wait(Outcome::progressing(
        reason::CREATING,
        reason::RECOVERING,
        message,
    ))
}

/// Records a plan id (before it is executed, so it is cleaned up whatever happens next).
fn remember_plan(status: &mut EdgeCloudStatus, plan_id: &str) {
    if !status.deployment_plan_ids.iter().any(|p| p == plan_id) {
        status.deployment_plan_ids.push(plan_id.to_owned());
    }
}

/// Deploys plan `plan_id` (the intent carries it as handle) and records the edge cloud id at once.
async fn deploy(
    ec: &EdgeCloud,
    ctx: &Context,
    fleets: &dyn FleetApi,
    plan_id: &str,
    request: &crate::provider::FleetPlanRequest,
    name: &str,
    w: &mut Writer,
) -> Result<Identity, Error> {
    match fleets.deploy(plan_id, request).await {
        Ok(op) => {
            w.status.edge_cloud_id = Some(op.fleet_id.clone());
            persist(w).await?;
            info!(edge_cloud_id = %op.fleet_id, %name, "deployed edge cloud");
            ctx.publish(
                ec,
                EventType::Normal,
                "Created",
                "Create",
                format!(
                    "deployed edge cloud {} ({name}) from plan {plan_id}: {}",
                    op.fleet_id,
                    describe_targets(&request.targets)
                ),
            )
            .await;
            Ok(creating(format!(
                "deployed edge cloud {} from plan {plan_id}; waiting for it to be inService",
                op.fleet_id
            )))
        }
        // The plan was executed by an interrupted pass (closed) or the name is taken by that execution:
        // the next lookup by name finds the edge cloud.
        Err(e @ (ProviderError::NotFound { .. } | ProviderError::Conflict { .. })) => {
            debug!(error = %e, plan_id, "deploy refused; recovering by name");
            Ok(recovering(format!(
                "plan {plan_id} of edge cloud {name:?} was already executed or is busy; looking the edge cloud up"
            )))
        }
        Err(source) => Err(Error::Execute {
            action: "deploy",
            plan_id: plan_id.to_owned(),
            name: name.to_owned(),
            source,
        }),
    }
}

/// Finds, adopts, recovers or creates the edge cloud (the crash-safety protocol).
#[allow(clippy::too_many_arguments)]
async fn ensure_identity(
    ec: &EdgeCloud,
    ctx: &Context,
    fleets: &dyn FleetApi,
    targets: &[SiteTarget],
    template: &InstanceTemplate,
    may_create: bool,
    blocked: &mut Vec<String>,
    w: &mut Writer,
) -> Result<Identity, Error> {
    let observe_only = ec.spec.management_policy == ManagementPolicy::ObserveOnly;
    let grace = ctx.config.recovery_grace;
    let name = fleet::cloud_name(ec);
    let mut drifted = false;
    if let Some(id) = w.status.edge_cloud_id.clone() {
        match fleets.get(&id).await {
            Ok(observed) => {
                w.status.pending_create = None;
                return Ok(Identity::Observed(observed));
            }
            Err(e) if e.is_not_found() => {
                if let Some(p) = &w.status.pending_create
                    && elapsed_since(&p.started_at) < grace
                {
                    return Ok(creating(format!(
                        "deployed edge cloud {id}; waiting for the cloud to list it"
                    )));
                }
                if observe_only {
                    return Err(Error::ExternallyDeleted { id });
                }
                // A failed edge cloud this controller deleted to deploy again is not drift.
                let ours = matches!(w.status.cloud_status.as_deref(), Some("failed" | "deleting"));
                if ours {
                    ctx.publish(
                        ec,
                        EventType::Normal,
                        "Redeploying",
                        "Recreate",
                        format!("failed edge cloud {id} is gone; deploying it again"),
                    )
                    .await;
                } else {
                    ctx.publish(
                        ec,
                        EventType::Warning,
                        "ExternallyDeleted",
                        "Recreate",
                        format!("edge cloud {id} was deleted outside edgefleet; deploying it again"),
                    )
                    .await;
                }
                w.status.edge_cloud_id = None;
                w.status.cloud_status = None;
                w.status.pending_create = None;
                w.status.pending_expand = None;
                drifted = true;
            }
            Err(source) => return Err(Error::Observe { id, source }),
        }
    }
    if !drifted && let Some(adopt) = ec.spec.adopt_id.clone() {
        return match fleets.get(&adopt).await {
            Ok(observed) => {
                w.status.edge_cloud_id = Some(observed.id.clone());
                persist(w).await?;
                ctx.publish(
                    ec,
                    EventType::Normal,
                    "Adopted",
                    "Adopt",
                    format!("adopted edge cloud {adopt} ({})", observed.name),
                )
                .await;
                Ok(Identity::Observed(observed))
            }
            Err(e) if e.is_not_found() => Err(Error::AdoptTargetNotFound { id: adopt }),
            Err(source) => Err(Error::Observe { id: adopt, source }),
        };
    }
    if observe_only {
        return Err(Error::NothingToObserve);
    }
    let request = fleet::plan_request(ec, FleetPlanTarget::New { name: name.clone() }, targets, template);
    if let Some(pending) = w.status.pending_create.clone() {
        let found = fleets
            .find_by_name(&pending.token)
            .await
            .map_err(|source| Error::Lookup {
                what: format!("edge clouds named {:?}", pending.token),
                source,
            })?;
        match found.as_slice() {
            [one] => {
                w.status.edge_cloud_id = Some(one.id.clone());
                persist(w).await?;
                ctx.publish(
                    ec,
                    EventType::Normal,
                    "Recovered",
                    "Recover",
                    format!("found edge cloud {} deployed by an interrupted pass", one.id),
                )
                .await;
                w.status.pending_create = None;
                return Ok(Identity::Observed(one.clone()));
            }
            [] => {}
            many => {
                return Err(Error::AmbiguousRecovery {
                    name: pending.token,
                    ids: ids_of(many.iter().map(|f| f.id.as_str())),
                });
            }
        }
        // No edge cloud yet: finish the interrupted create with its plan, if it has one.
        let plan_id = match pending.handle.clone() {
            Some(p) => Some(p),
            None => adopt_open_plan(fleets, w, |p| p.fleet_name.as_deref() == Some(&pending.token)).await?,
        };
        if let Some(plan_id) = plan_id {
            if !may_create {
                return Ok(recovering(format!(
                    "the deploy of plan {plan_id} is paused (spec.paused)"
                )));
            }
            if let Some(p) = w.status.pending_create.as_mut() {
                p.handle = Some(plan_id.clone());
            }
            persist(w).await?;
            let outcome = deploy(ec, ctx, fleets, &plan_id, &request, &pending.token, w).await?;
            if w.status.edge_cloud_id.is_some() || elapsed_since(&pending.started_at) < grace {
                return Ok(outcome);
            }
            // The plan is closed or gone and, past the grace, no edge cloud carries the name: start again
            // (a repeated deploy cannot duplicate: IEC keeps edge-cloud names unique).
            w.status.pending_create = None;
        } else if elapsed_since(&pending.started_at) < grace {
            return Ok(recovering(format!(
                "a create of edge cloud {:?} was interrupted; waiting for the cloud to list it",
                pending.token
            )));
        } else {
            w.status.pending_create = None;
        }
    } else {
        let existing = fleets.find_by_name(&name).await.map_err(|source| Error::Lookup {
            what: format!("edge clouds named {name:?}"),
            source,
        })?;
        if !existing.is_empty() {
            return Err(Error::NameConflict {
                name,
                ids: ids_of(existing.iter().map(|f| f.id.as_str())),
            });
        }
    }
    if request.targets.is_empty() {
        persist(w).await?;
        return Ok(Identity::Wait(Outcome::available(
            "spec.replicas is 0: no edge cloud is deployed until members are wanted",
        )));
    }
    if !may_create {
        persist(w).await?;
        return Ok(Identity::Wait(Outcome::progressing(
            reason::CREATING,
            reason::PAUSED,
            "spec.paused is true: the edge cloud is not deployed",
        )));
    }
    // Crash-safety step 1: the intent (token = the unique cloud name) is durable before the plan exists,
    // and so is the fingerprint the members will be recorded with.
    w.status.pending_create = Some(PendingOperation {
        token: name.clone(),
        params_hash: fleet::params_hash(&request),
        started_at: now(),
        handle: None,
    });
    w.status.members_fingerprint = Some(fleet::hidden_fingerprint(&ec.spec));
    persist(w).await?;
    let attempt = create_plan_for(fleets, &request)
        .await
        .map_err(|source| Error::Plan {
            purpose: "deployment",
            name: name.clone(),
            source,
        })?;
    blocked.extend(attempt.blocked);
    let Some((plan, request)) = attempt.plan else {
        // Refused everywhere for capacity/quota: no plan exists, so the intent goes; retried next pass.
        w.status.pending_create = None;
        persist(w).await?;
        return Ok(creating(format!(
            "the cloud has no capacity for edge cloud {name:?} yet: {}",
            blocked.join("; ")
        )));
    };
    // Step 2: the plan id is durable before it is executed; the edge cloud id right after.
    if let Some(p) = w.status.pending_create.as_mut() {
        p.handle = Some(plan.id.clone());
    }
    remember_plan(&mut w.status, &plan.id);
    persist(w).await?;
    deploy(ec, ctx, fleets, &plan.id, &request, &name, w).await
}

/// Looks for open plans matching `wanted` (left by a pass that crashed before recording the plan id):
/// records the first as the intent's handle and deletes the others.
async fn adopt_open_plan(
    fleets: &dyn FleetApi,
    w: &mut Writer,
    wanted: impl Fn(&crate::provider::OpenPlan) -> bool,
) -> Result<Option<String>, Error> {
    let open = fleets.find_open_plans().await.map_err(|source| Error::Lookup {
        what: "open deployment plans".to_owned(),
        source,
    })?;
    let mut mine = open.iter().filter(|p| wanted(p));
    let Some(first) = mine.next() else {
        return Ok(None);
    };
    for extra in mine {
        match fleets.delete_plan(&extra.id).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(source) => {
                return Err(Error::DeletePlan {
                    plan_id: extra.id.clone(),
                    source,
                });
            }
        }
    }
    remember_plan(&mut w.status, &first.id);
    Ok(Some(first.id.clone()))
}

/// Deletes recorded plans no intent still needs (executed, or abandoned).
async fn cleanup_plans(fleets: &dyn FleetApi, w: &mut Writer) -> Result<(), Error> {
    let mut keep: Vec<String> = Vec::new();
    if w.status.edge_cloud_id.is_none()
        && let Some(h) = w.status.pending_create.as_ref().and_then(|p| p.handle.clone())
    {
        keep.push(h);
    }
    if let Some(h) = w.status.pending_expand.as_ref().and_then(|p| p.handle.clone()) {
        keep.push(h);
    }
    let ids = w.status.deployment_plan_ids.clone();
    for plan_id in ids.iter().filter(|p| !keep.contains(p)) {
        match fleets.delete_plan(plan_id).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(source) => {
                return Err(Error::DeletePlan {
                    plan_id: plan_id.clone(),
                    source,
                });
            }
        }
        w.status.deployment_plan_ids.retain(|p| p != plan_id);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Members: removals in flight, mirror, scale-in
// ---------------------------------------------------------------------------------------------------------

/// Ids of cloud members that are gone or going (deleted, being deleted, absent from the list).
fn removal_done(all: &[ObservedInstance], id: &str) -> bool {
    all.iter()
        .find(|m| m.id == id)
        .is_none_or(|m| matches!(m.state, InstanceState::Deleted | InstanceState::Deleting))
}

/// Carries out the recorded removals: releases their EdgeInstances and batch-deletes the cloud
/// instances that can be deleted now (not while building); drops ids the cloud shows gone or going.
/// Returns the ids still pending.
async fn settle_removals(
    instances: &dyn InstanceApi,
    ei_api: &Api<EdgeInstance>,
    mirrors: &[EdgeInstance],
    all: &[ObservedInstance],
    fleet_id: &str,
    w: &mut Writer,
) -> Result<Vec<String>, Error> {
    if w.status.pending_delete.is_empty() {
        return Ok(Vec::new());
    }
    for ei in mirrors {
        if members::instance_id(ei).is_some_and(|id| w.status.pending_delete.iter().any(|p| p == id)) {
            members::release(ei_api, ei)
                .await
                .map_err(|source| Error::Members {
                    action: "release",
                    source,
                })?;
        }
    }
    let deletable: Vec<String> = w
        .status
        .pending_delete
        .iter()
        .filter(|id| {
            all.iter().any(|m| {
                &m.id == *id
                    && !matches!(
                        m.state,
                        InstanceState::Deleted | InstanceState::Deleting | InstanceState::Creating
                    )
            })
        })
        .cloned()
        .collect();
    if !deletable.is_empty() {
        match instances.delete(&deletable).await {
            Ok(_) => {}
            // A member vanished or is busy since the list: the next observation sorts it out.
            Err(e) if e.is_not_found() || matches!(e, ProviderError::Conflict { .. }) => {
                debug!(error = %e, "batch delete refused; retrying after the next observation");
            }
            Err(source) => {
                return Err(Error::DeleteMembers {
                    id: fleet_id.to_owned(),
                    ids: deletable.join(", "),
                    source,
                });
            }
        }
    }
    // Ids just deleted stay recorded until the next observation shows them gone or going.
    let pending: Vec<String> = w
        .status
        .pending_delete
        .iter()
        .filter(|id| !removal_done(all, id))
        .cloned()
        .collect();
    w.status.pending_delete = pending.clone();
    Ok(pending)
}

/// Marks the members `ids` (stuck in BUILD past buildTimeout) for replacement: annotation
/// `edgefleet.io/replace` on their EdgeInstance, added to `replacing`. A member without a mirror yet is
/// marked in a later pass.
async fn mark_for_replacement(
    ec: &EdgeCloud,
    ctx: &Context,
    ei_api: &Api<EdgeInstance>,
    mirrors: &[EdgeInstance],
    ids: &[String],
    replacing: &mut BTreeSet<String>,
) -> Result<(), Error> {
    for stuck_id in ids {
        let Some(ei) = mirrors
            .iter()
            .find(|ei| members::instance_id(ei) == Some(stuck_id.as_str()))
        else {
            continue;
        };
        members::annotate(ei_api, ei, REPLACE_ANNOTATION, BUILD_TIMEOUT)
            .await
            .map_err(|source| Error::Members {
                action: "annotate",
                source,
            })?;
        replacing.insert(stuck_id.clone());
        ctx.publish(
            ec,
            EventType::Normal,
            "Replacing",
            "Remediate",
            format!(
                "member {stuck_id} is still building after spec.remediation.buildTimeout ({}): creating a replacement; it is deleted once it leaves BUILD",
                ec.spec.remediation.build_timeout
            ),
        )
        .await;
    }
    Ok(())
}

/// Records `victims` as the removal intent (durable first), then carries it out.
#[allow(clippy::too_many_arguments)]
async fn remove_members(
    ec: &EdgeCloud,
    ctx: &Context,
    instances: &dyn InstanceApi,
    ei_api: &Api<EdgeInstance>,
    mirrors: &[EdgeInstance],
    all: &[ObservedInstance],
    fleet_id: &str,
    victims: &[String],
    why: &str,
    w: &mut Writer,
) -> Result<(), Error> {
    for v in victims {
        if !w.status.pending_delete.contains(v) {
            w.status.pending_delete.push(v.clone());
        }
    }
    persist(w).await?;
    settle_removals(instances, ei_api, mirrors, all, fleet_id, w).await?;
    persist(w).await?;
    ctx.publish(
        ec,
        EventType::Normal,
        "ScalingIn",
        "Scale",
        format!(
            "removing {} member(s) of edge cloud {fleet_id} ({why}): {}",
            victims.len(),
            victims.join(", ")
        ),
    )
    .await;
    Ok(())
}

/// Makes the EdgeInstance mirror match the live members: creates missing mirrors (recording
/// `fingerprint`, see [`fleet::hidden_fingerprint`]), records `fingerprint` on mirrors that have none (made
/// by an earlier version), releases mirrors whose instance is gone (never while a person's deletion of the
/// member is in progress). Returns how many were created and released.
#[allow(clippy::too_many_arguments)]
async fn sync_mirrors(
    ec: &EdgeCloud,
    ei_api: &Api<EdgeInstance>,
    mirrors: &[EdgeInstance],
    all: &[ObservedInstance],
    live: &[&ObservedInstance],
    refs: &ResolvedRefs,
    pending_delete: &[String],
    fingerprint: &str,
) -> Result<(usize, usize), Error> {
    let mirrored: BTreeSet<&str> = mirrors.iter().filter_map(members::instance_id).collect();
    for ei in mirrors {
        if members::fingerprint(ei).is_none() && ei.metadata.deletion_timestamp.is_none() {
            members::annotate(ei_api, ei, TEMPLATE_FINGERPRINT_ANNOTATION, fingerprint)
                .await
                .map_err(|source| Error::Members {
                    action: "annotate",
                    source,
                })?;
        }
    }
    let mut created = 0;
    for m in live {
        if !mirrored.contains(m.id.as_str()) {
            let ei = members::mirror(ec, m, refs, fingerprint);
            if members::create(ei_api, &ei)
                .await
                .map_err(|source| Error::Members {
                    action: "create",
                    source,
                })?
            {
                created += 1;
            }
        }
    }
    let mut released = 0;
    for ei in mirrors {
        let Some(id) = members::instance_id(ei) else {
            continue;
        };
        if pending_delete.iter().any(|p| p == id) || ei.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let is_live = live.iter().any(|m| m.id == id);
        let exists = all.iter().any(|m| m.id == id);
        if !is_live && (!exists || removal_done(all, id)) {
            members::release(ei_api, ei)
                .await
                .map_err(|source| Error::Members {
                    action: "release",
                    source,
                })?;
            released += 1;
        }
    }
    Ok((created, released))
}

// ---------------------------------------------------------------------------------------------------------
// Expansion
// ---------------------------------------------------------------------------------------------------------

/// What the expansion step decided.
enum Expansion {
    /// Nothing in flight; planning may continue.
    Idle,
    /// An expansion is in flight or being recovered; the message says which.
    InFlight(String),
}

/// Resolves an expansion intent: finds its plan if the id was lost, (re)executes an open plan once the
/// edge cloud is inService, and clears the intent once the plan is closed (executed).
async fn progress_expansion(
    ec: &EdgeCloud,
    ctx: &Context,
    fleets: &dyn FleetApi,
    observed: &ObservedFleet,
    template: &InstanceTemplate,
    w: &mut Writer,
) -> Result<Expansion, Error> {
    let Some(pending) = w.status.pending_expand.clone() else {
        return Ok(Expansion::Idle);
    };
    let id = observed.id.clone();
    let plan_id = match pending.handle.clone() {
        Some(p) => p,
        None => match adopt_open_plan(fleets, w, |p| p.fleet_id.as_deref() == Some(&id)).await? {
            Some(p) => {
                if let Some(x) = w.status.pending_expand.as_mut() {
                    x.handle = Some(p.clone());
                }
                persist(w).await?;
                p
            }
            None if elapsed_since(&pending.started_at) < ctx.config.recovery_grace => {
                return Ok(Expansion::InFlight(format!(
                    "an expansion of edge cloud {id} was interrupted; looking for its plan"
                )));
            }
            None => {
                w.status.pending_expand = None;
                persist(w).await?;
                return Ok(Expansion::Idle);
            }
        },
    };
    if observed.state != FleetState::Ready {
        return Ok(Expansion::InFlight(format!(
            "edge cloud {id} is {} while plan {plan_id} expands it",
            observed.raw_status
        )));
    }
    let open = fleets.find_open_plans().await.map_err(|source| Error::Lookup {
        what: "open deployment plans".to_owned(),
        source,
    })?;
    if open.iter().any(|p| p.id == plan_id) {
        let name = fleet::cloud_name(ec);
        // IEC executes plans by id; the request alongside only names the target.
        let request = fleet::plan_request(
            ec,
            FleetPlanTarget::Expand { fleet_id: id.clone() },
            &[],
            template,
        );
        return match fleets.expand(&plan_id, &request).await {
            Ok(_) => Ok(Expansion::InFlight(format!(
                "expanding edge cloud {id} with plan {plan_id}"
            ))),
            Err(ProviderError::Conflict { .. } | ProviderError::NotFound { .. }) => Ok(Expansion::InFlight(
                format!("plan {plan_id} of edge cloud {id} is being executed"),
            )),
            Err(source) => Err(Error::Execute {
                action: "expand",
                plan_id,
                name,
                source,
            }),
        };
    }
    // Closed: executed (its members are listed now). Done.
    w.status.pending_expand = None;
    cleanup_plans(fleets, w).await?;
    persist(w).await?;
    Ok(Expansion::InFlight(format!(
        "edge cloud {id} expanded with plan {plan_id}"
    )))
}

/// Result of trying to start an expansion.
enum ExpandStart {
    /// Submitted.
    Started,
    /// Submitted for some locations; the others have no capacity (message names them).
    Partial(String),
    /// The cloud has no capacity or quota for any of these targets.
    Blocked(String),
}

/// Starts an expansion: intent, plan (id recorded), expand.
async fn start_expansion(
    ec: &EdgeCloud,
    ctx: &Context,
    fleets: &dyn FleetApi,
    fleet_id: &str,
    add: &[SiteTarget],
    template: &InstanceTemplate,
    w: &mut Writer,
) -> Result<ExpandStart, Error> {
    let name = fleet::cloud_name(ec);
    let request = fleet::plan_request(
        ec,
        FleetPlanTarget::Expand {
            fleet_id: fleet_id.to_owned(),
        },
        add,
        template,
    );
    w.status.pending_expand = Some(PendingOperation {
        token: format!("expand:{fleet_id}"),
        params_hash: fleet::params_hash(&request),
        started_at: now(),
        handle: None,
    });
    // New members are recorded with the fingerprint of the template they are created from.
    w.status.members_fingerprint = Some(fleet::hidden_fingerprint(&ec.spec));
    persist(w).await?;
    let attempt = match create_plan_for(fleets, &request).await {
        Ok(a) => a,
        Err(source) if source.is_retryable() || matches!(source, ProviderError::Protocol { .. }) => {
            // The plan may exist (lost response): the intent stays and recovery finds it.
            return Err(Error::Plan {
                purpose: "expansion",
                name,
                source,
            });
        }
        Err(source) => {
            w.status.pending_expand = None;
            persist(w).await?;
            return Err(Error::Plan {
                purpose: "expansion",
                name,
                source,
            });
        }
    };
    let blocked = (!attempt.blocked.is_empty())
        .then(|| format!("no capacity or quota at {}", attempt.blocked.join("; ")));
    let Some((plan, request)) = attempt.plan else {
        w.status.pending_expand = None;
        persist(w).await?;
        return Ok(ExpandStart::Blocked(blocked.unwrap_or_default()));
    };
    if let Some(p) = w.status.pending_expand.as_mut() {
        p.handle = Some(plan.id.clone());
        p.params_hash = fleet::params_hash(&request);
    }
    remember_plan(&mut w.status, &plan.id);
    persist(w).await?;
    let add = request.targets.as_slice();
    fleets
        .expand(&plan.id, &request)
        .await
        .map_err(|source| Error::Execute {
            action: "expand",
            plan_id: plan.id.clone(),
            name: name.clone(),
            source,
        })?;
    ctx.publish(
        ec,
        EventType::Normal,
        "ScalingOut",
        "Scale",
        format!(
            "expanding edge cloud {fleet_id} by {} member(s) with plan {}: {}",
            add.iter().map(|t| t.count).sum::<u32>(),
            plan.id,
            describe_targets(add)
        ),
    )
    .await;
    Ok(match blocked {
        Some(m) => ExpandStart::Partial(m),
        None => ExpandStart::Started,
    })
}

/// Takes a failed edge cloud apart so it can be deployed again: members first (batch), then the edge
/// cloud itself. Returns what was done.
#[allow(clippy::too_many_arguments)]
async fn redeploy_failed(
    ec: &EdgeCloud,
    ctx: &Context,
    fleets: &dyn FleetApi,
    instances: &dyn InstanceApi,
    ei_api: &Api<EdgeInstance>,
    mirrors: &[EdgeInstance],
    all: &[ObservedInstance],
    id: &str,
    w: &mut Writer,
) -> Result<String, Error> {
    let left: Vec<String> = all
        .iter()
        .filter(|m| !matches!(m.state, InstanceState::Deleted | InstanceState::Deleting))
        .map(|m| m.id.clone())
        .collect();
    let new: Vec<String> = left
        .iter()
        .filter(|m| !w.status.pending_delete.contains(m))
        .cloned()
        .collect();
    if !new.is_empty() {
        remove_members(
            ec,
            ctx,
            instances,
            ei_api,
            mirrors,
            all,
            id,
            &new,
            "the edge cloud failed",
            w,
        )
        .await?;
        return Ok(format!(
            "deleting its {} member(s) to deploy it again",
            left.len()
        ));
    }
    if !left.is_empty() {
        return Ok("waiting for its members to be deleted".to_owned());
    }
    match fleets.delete(id).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => {}
        Err(e @ (ProviderError::Conflict { .. } | ProviderError::InUse { .. })) => {
            return Ok(format!("the cloud refused the delete for now ({e}); retrying"));
        }
        Err(source) => {
            return Err(Error::Delete {
                id: id.to_owned(),
                source,
            });
        }
    }
    w.status.pending_expand = None;
    ctx.publish(
        ec,
        EventType::Warning,
        "Redeploying",
        "Recreate",
        format!("edge cloud {id} failed in the cloud; deleted it to deploy it again"),
    )
    .await;
    Ok("deleted it to deploy it again".to_owned())
}

// ---------------------------------------------------------------------------------------------------------
// Apply
// ---------------------------------------------------------------------------------------------------------

fn set_extra_condition(
    status: &mut EdgeCloudStatus,
    generation: Option<i64>,
    type_: &str,
    value: bool,
    reason: &str,
    message: &str,
) {
    set_condition(
        &mut status.conditions,
        Condition::new(
            type_,
            ConditionStatus::from_bool(value),
            reason,
            message,
            generation,
        ),
        &now(),
    );
}

fn record_fleet(status: &mut EdgeCloudStatus, f: &ObservedFleet) {
    status.edge_cloud_id = Some(f.id.clone());
    status.name = Some(f.name.clone());
    status.cloud_status = Some(f.raw_status.clone());
    status.success_count = i32::try_from(f.success_count).unwrap_or(i32::MAX);
    status.failed_count = i32::try_from(f.failed_count).unwrap_or(i32::MAX);
}

/// The scaling situation a pass ends in (for ScalingBlocked and the outcome).
struct Scaling {
    /// ScalingBlocked reason and message, if blocked.
    blocked: Option<(&'static str, String)>,
    /// What was done or is in flight, if anything.
    activity: Option<String>,
}

#[allow(clippy::too_many_lines)]
async fn apply_steps(ec: &EdgeCloud, ctx: &Context, w: &mut Writer) -> Result<(Outcome, Intervals), Error> {
    let resolved = resolve_provider(ctx, &ec.spec.provider_config_ref.name)
        .await
        .map_err(|source| Error::ProviderUnavailable {
            deleting: false,
            source,
        })?;
    let provider: Arc<dyn Provider> = resolved.provider.clone();
    let fleets = provider.fleets().map_err(Error::Unsupported)?;
    let instances = provider.instances().map_err(Error::Unsupported)?;
    let caps = provider.capabilities().clone();
    let intervals = resolved.intervals;
    let spec = &ec.spec;
    let generation = ec.meta().generation;
    w.status.label_selector = Some(fleet::label_selector(ec));
    w.status.template_hash = Some(fleet::template_hash(spec));

    // Validate (pure) and show the resolution before anything exists.
    let targets = fleet::targets(spec).map_err(Error::InvalidSpec)?;
    if w.status.edge_cloud_id.is_none() {
        w.status.placements = fleet::placement_rows(spec, &targets, &[]);
    }
    let refs = resolve_refs(ec, ctx).await?;
    let template = fleet::instance_template(ec, &refs);
    let observe_only = spec.management_policy == ManagementPolicy::ObserveOnly;
    let act = !observe_only && !spec.paused;

    let mut blocked: Vec<String> = Vec::new();
    let observed = match ensure_identity(ec, ctx, fleets, &targets, &template, act, &mut blocked, w).await? {
        Identity::Observed(o) => o,
        Identity::Wait(outcome) => {
            cleanup_plans(fleets, w).await?;
            let (is_blocked, why, message) = if spec.paused {
                (true, reason::PAUSED, "spec.paused is true".to_owned())
            } else if !blocked.is_empty() {
                (
                    true,
                    CAPACITY_EXHAUSTED,
                    format!("no capacity or quota at {}", blocked.join("; ")),
                )
            } else {
                (false, reason::SCALING_POSSIBLE, String::new())
            };
            set_extra_condition(
                &mut w.status,
                generation,
                SCALING_BLOCKED,
                is_blocked,
                why,
                &message,
            );
            let available = spec.replicas == 0;
            set_extra_condition(
                &mut w.status,
                generation,
                AVAILABLE,
                available,
                if available {
                    reason::MINIMUM_REPLICAS_AVAILABLE
                } else {
                    reason::MINIMUM_REPLICAS_UNAVAILABLE
                },
                "",
            );
            return Ok((outcome, intervals));
        }
    };
    let id = observed.id.clone();
    record_fleet(&mut w.status, &observed);
    cleanup_plans(fleets, w).await?;

    // Observe the members and their mirrors.
    let all = fleets.list_members(&id).await.map_err(|source| Error::Observe {
        id: id.clone(),
        source,
    })?;
    let ei_api: Api<EdgeInstance> = Api::namespaced(ctx.client.clone(), &ec.namespace().unwrap_or_default());
    let mirrors = members::list(&ei_api, ec)
        .await
        .map_err(|source| Error::Members {
            action: "list",
            source,
        })?;
    let removing = if observe_only {
        Vec::new()
    } else {
        settle_removals(instances, &ei_api, &mirrors, &all, &id, w).await?
    };
    let live: Vec<&ObservedInstance> = all
        .iter()
        .filter(|m| fleet::is_live(m, &w.status.pending_delete))
        .collect();
    // Members are recorded with the fingerprint of the template fields the cloud does not show back
    // (the one of the deploy or expansion that created them); a member recorded with another one than the
    // current template's is stale and replaced like one with an outdated flavor.
    let fingerprint = fleet::hidden_fingerprint(spec);
    let new_members_fingerprint = w
        .status
        .members_fingerprint
        .clone()
        .unwrap_or_else(|| fingerprint.clone());
    sync_mirrors(
        ec,
        &ei_api,
        &mirrors,
        &all,
        &live,
        &refs,
        &w.status.pending_delete,
        &new_members_fingerprint,
    )
    .await?;
    let mut recorded: BTreeMap<String, String> = live
        .iter()
        .map(|m| (m.id.clone(), new_members_fingerprint.clone()))
        .collect();
    let mut replacing: BTreeSet<String> = BTreeSet::new();
    for ei in &mirrors {
        let Some(id) = members::instance_id(ei) else {
            continue;
        };
        if let Some(r) = recorded.get_mut(id) {
            if let Some(f) = members::fingerprint(ei) {
                f.clone_into(r);
            }
            if members::is_replacing(ei) {
                replacing.insert(id.to_owned());
            }
        }
    }
    let stale = fleet::stale_members(&live, &recorded, &fingerprint);
    let build_timeout = spec
        .remediation
        .build_timeout()
        .map_err(|e| Error::InvalidSpec(SpecError::BuildTimeout(e)))?;
    let stuck = fleet::stuck_members(
        &live,
        k8s_openapi::jiff::Timestamp::now().as_millisecond(),
        build_timeout,
    );

    // Status counts.
    let counts = fleet::counts(spec, &live, &stale);
    w.status.replicas = counts.replicas;
    w.status.ready_replicas = counts.ready;
    w.status.available_replicas = counts.available;
    w.status.updated_replicas = counts.updated;
    w.status.placements = fleet::placement_rows(spec, &targets, &live);
    ctx.metrics.set_fleet(
        &ec.namespace().unwrap_or_default(),
        &ec.name_any(),
        &w.status
            .placements
            .iter()
            .map(|p| SiteReplicas {
                site: crate::provider::placement_key(&p.location, p.operator.as_deref()),
                desired: i64::from(p.desired),
                ready: i64::from(p.ready),
            })
            .collect::<Vec<_>>(),
    );
    let min_available = fleet::min_available(spec);
    let available = counts.available >= min_available;
    set_extra_condition(
        &mut w.status,
        generation,
        AVAILABLE,
        available,
        if available {
            reason::MINIMUM_REPLICAS_AVAILABLE
        } else {
            reason::MINIMUM_REPLICAS_UNAVAILABLE
        },
        &format!(
            "{} of {} members available (at least {min_available} required)",
            counts.available, spec.replicas
        ),
    );

    let mut expanding = false;
    let mut rolling_note: Option<String> = None;
    let mut scaling = Scaling {
        blocked: None,
        activity: (!removing.is_empty()).then(|| format!("removing members {}", removing.join(", "))),
    };
    if observe_only {
        // Nothing is acted on; report what is seen.
    } else if observed.state == FleetState::Failed {
        let message = observed
            .failure
            .as_ref()
            .map(|f| format!("{}: {}", f.code, f.message))
            .unwrap_or_else(|| "no reason given".to_owned());
        if spec.paused {
            return Err(Error::EdgeCloudFailed { id, message });
        }
        // IEC allows nothing but deletion on a failed edge cloud: remove its members, delete it, and
        // deploy again (the next passes see it deleting, then gone).
        let outcome = redeploy_failed(ec, ctx, fleets, instances, &ei_api, &mirrors, &all, &id, w).await?;
        set_extra_condition(
            &mut w.status,
            generation,
            SCALING_BLOCKED,
            false,
            reason::SCALING_POSSIBLE,
            "",
        );
        return Ok((
            Outcome::progressing(
                reason::UNAVAILABLE,
                reason::IN_PROGRESS,
                format!("edge cloud {id} failed in the cloud ({message}); {outcome}"),
            ),
            intervals,
        ));
    } else if spec.paused {
        scaling.blocked = Some((
            reason::PAUSED,
            "spec.paused is true: no scaling, replacement or remediation".to_owned(),
        ));
    } else {
        // Remediation budget: failed members and members building past buildTimeout are unhealthy.
        let max_unhealthy = fleet::scaled_value(&spec.remediation.max_unhealthy(), spec.replicas, false);
        let unhealthy = counts.failed + i32::try_from(stuck.len()).unwrap_or(i32::MAX);
        let remediate = unhealthy <= max_unhealthy;
        let remedy = fleet::plan_build_remediation(&live, &replacing, &stuck, remediate);
        // Members building past buildTimeout are marked for replacement, durably, on their EdgeInstance
        // (no cloud call, so also while an expansion is in flight — the edge cloud stays busy while they
        // build): from now on they count as going, so the scale plan creates their replacements where
        // they run once the edge cloud is inService.
        mark_for_replacement(ec, ctx, &ei_api, &mirrors, &remedy.mark, &mut replacing).await?;
        // Marked members go as soon as the cloud lets them (they left BUILD), before anything else is
        // planned (never while an expansion runs).
        if w.status.pending_expand.is_none() && scaling.activity.is_none() && !remedy.remove.is_empty() {
            remove_members(
                ec,
                ctx,
                instances,
                &ei_api,
                &mirrors,
                &all,
                &id,
                &remedy.remove,
                "they stayed building past spec.remediation.buildTimeout and were replaced",
                w,
            )
            .await?;
            scaling.activity = Some(format!(
                "removing {} member(s) replaced after a build timeout: {}",
                remedy.remove.len(),
                remedy.remove.join(", ")
            ));
        }
        match progress_expansion(ec, ctx, fleets, &observed, &template, w).await? {
            Expansion::InFlight(m) => {
                expanding = true;
                scaling.activity = Some(m);
            }
            Expansion::Idle if scaling.activity.is_none() => {
                // Members that need replacing (template changes the cloud cannot apply in place) go
                // first on scale-in, like members annotated delete-first.
                let outdated: Vec<&ObservedInstance> = live
                    .iter()
                    .copied()
                    .filter(|m| !replacing.contains(&m.id))
                    .filter(|m| fleet::needs_replacement(m, spec, &refs.vpc_id) || stale.contains(&m.id))
                    .collect();
                let mut delete_first: BTreeSet<String> = mirrors
                    .iter()
                    .filter(|ei| ei.annotations().contains_key(DELETE_FIRST_ANNOTATION))
                    .filter_map(|ei| members::instance_id(ei).map(str::to_owned))
                    .collect();
                delete_first.extend(outdated.iter().map(|m| m.id.clone()));
                let views = fleet::member_views(spec, &targets, &live, &delete_first, &replacing);
                if !remediate {
                    scaling.blocked = Some((
                        reason::TOO_MANY_UNHEALTHY,
                        format!(
                            "{unhealthy} members are unhealthy ({} failed, {} building past spec.remediation.buildTimeout), more than spec.remediation.maxUnhealthy allows ({max_unhealthy}); they are not replaced",
                            counts.failed,
                            stuck.len()
                        ),
                    ));
                }
                let can_expand = caps.fleet_can_expand(fleet::level(spec));
                let plan = plan_fleet_scale(
                    &targets,
                    &views,
                    fleet::delete_policy(spec.delete_policy),
                    remediate,
                    can_expand,
                );
                // Never below the spec: healthy members go only while more than spec.replicas are live,
                // and a Ready member only while more than replicas - maxUnavailable are Ready.
                let failed: BTreeSet<&str> =
                    views.iter().filter(|v| v.failed).map(|v| v.id.as_str()).collect();
                let ready: BTreeSet<&str> = views
                    .iter()
                    .filter(|v| v.healthy)
                    .map(|v| v.id.as_str())
                    .collect();
                // Members being replaced after a build timeout are not counted (they go anyway).
                let replacing_live =
                    i32::try_from(live.iter().filter(|m| replacing.contains(&m.id)).count()).unwrap_or(0);
                let mut budget = (counts.replicas - counts.failed - replacing_live - spec.replicas).max(0);
                let mut ready_budget = (counts.ready - min_available).max(0);
                let mut victims: Vec<String> = plan
                    .remove
                    .iter()
                    .filter(|v| {
                        if failed.contains(v.as_str()) {
                            return true;
                        }
                        let is_ready = ready.contains(v.as_str());
                        if budget > 0 && (!is_ready || ready_budget > 0) {
                            budget -= 1;
                            if is_ready {
                                ready_budget -= 1;
                            }
                            return true;
                        }
                        false
                    })
                    .cloned()
                    .collect();
                // Rolling replacement once the counts match: surge new members where outdated ones
                // run (maxSurge), or, with no surge room left, remove outdated members while enough
                // stay Ready (maxUnavailable); the scale plan then replaces or trims them.
                let surge =
                    fleet::scaled_value(&spec.strategy.rolling_update.max_surge(), spec.replicas, true);
                let mut rolling_add: Vec<SiteTarget> = Vec::new();
                let rolling = plan.add.is_empty() && plan.remove.is_empty() && !outdated.is_empty();
                if rolling && !can_expand {
                    scaling.blocked = Some((
                        reason::EXPAND_NOT_SUPPORTED,
                        format!(
                            "{} member(s) need replacing for the new template, but IEC cannot expand {:?}-level edge clouds",
                            outdated.len(),
                            spec.coverage.level
                        ),
                    ));
                } else if rolling && counts.replicas < spec.replicas + surge {
                    let room = usize::try_from(spec.replicas + surge - counts.replicas).unwrap_or(0);
                    rolling_add = fleet::replacement_targets(spec, &targets, &outdated, room);
                } else if rolling {
                    let mut old: Vec<&&ObservedInstance> = outdated.iter().collect();
                    old.sort_by_key(|m| (ready.contains(m.id.as_str()), m.id.clone()));
                    for m in old {
                        let is_ready = ready.contains(m.id.as_str());
                        if is_ready && ready_budget == 0 {
                            break;
                        }
                        if is_ready {
                            ready_budget -= 1;
                        }
                        victims.push(m.id.clone());
                    }
                }
                if rolling && !outdated.is_empty() {
                    rolling_note = Some(format!(
                        "{} member(s) with an outdated template are being replaced",
                        outdated.len()
                    ));
                }
                // Image changes are applied in place by the members' controller, a few at a time:
                // at most max(maxUnavailable, 1) members changing or not Ready at once.
                let image_old: BTreeSet<&str> = live
                    .iter()
                    .filter(|m| !replacing.contains(&m.id))
                    .filter(|m| fleet::image_outdated(m, spec, &refs.vpc_id, &stale))
                    .map(|m| m.id.as_str())
                    .collect();
                if !image_old.is_empty() {
                    let image = &spec.template.image;
                    let of =
                        |ei: &&EdgeInstance| members::instance_id(ei).is_some_and(|i| image_old.contains(i));
                    let asked = mirrors
                        .iter()
                        .filter(of)
                        .filter(|ei| &ei.spec.image == image)
                        .count();
                    let limit = usize::try_from(
                        fleet::scaled_value(
                            &spec.strategy.rolling_update.max_unavailable(),
                            spec.replicas,
                            false,
                        )
                        .max(1),
                    )
                    .unwrap_or(1);
                    let not_ready = usize::try_from(counts.replicas - counts.ready).unwrap_or(0);
                    let mut room = limit.saturating_sub(asked.max(not_ready));
                    for ei in mirrors.iter().filter(of).filter(|ei| &ei.spec.image != image) {
                        if room == 0 {
                            break;
                        }
                        members::set_image(&ei_api, ei, image)
                            .await
                            .map_err(|source| Error::Members {
                                action: "update",
                                source,
                            })?;
                        room -= 1;
                    }
                    let stalled: Vec<String> = mirrors
                        .iter()
                        .filter(of)
                        .filter_map(|ei| {
                            let c = crate::api::condition::find_condition(
                                &ei.status.as_ref()?.conditions,
                                crate::api::condition::STALLED,
                            )?;
                            c.is_true()
                                .then(|| format!("member {} is stalled: {}", ei.name_any(), c.message))
                        })
                        .collect();
                    rolling_note = Some(format!(
                        "changing the image of {} member(s) in place (their EdgeInstances change the OS){}",
                        image_old.len(),
                        if stalled.is_empty() {
                            String::new()
                        } else {
                            format!("; {}", stalled.join("; "))
                        }
                    ));
                }
                let mut plan = plan;
                plan.add.extend(rolling_add);
                if !victims.is_empty() {
                    let why = if victims.iter().all(|v| failed.contains(v.as_str())) {
                        "remediation of failed members"
                    } else if victims.iter().all(|v| delete_first.contains(v)) && !outdated.is_empty() {
                        "rolling replacement"
                    } else {
                        "scale-in"
                    };
                    remove_members(ec, ctx, instances, &ei_api, &mirrors, &all, &id, &victims, why, w)
                        .await?;
                    scaling.activity = Some(format!("removing {} member(s)", victims.len()));
                }
                if let Some(b) = plan.blocked {
                    scaling.blocked = Some((
                        reason::EXPAND_NOT_SUPPORTED,
                        format!(
                            "{b}: IEC cannot expand {:?}-level edge clouds",
                            spec.coverage.level
                        ),
                    ));
                } else if !plan.add.is_empty() {
                    if observed.state != FleetState::Ready {
                        scaling.blocked = Some((
                            reason::EDGE_CLOUD_BUSY,
                            format!(
                                "edge cloud {id} is {}; {} waits until it is inService",
                                observed.raw_status,
                                describe_targets(&plan.add)
                            ),
                        ));
                    } else {
                        match start_expansion(ec, ctx, fleets, &id, &plan.add, &template, w).await? {
                            ExpandStart::Started => {
                                scaling.activity =
                                    Some(format!("expanding: {}", describe_targets(&plan.add)));
                            }
                            ExpandStart::Partial(m) => {
                                scaling.activity =
                                    Some(format!("expanding where the cloud has capacity; {m}"));
                                scaling.blocked = Some((CAPACITY_EXHAUSTED, m));
                            }
                            ExpandStart::Blocked(m) => scaling.blocked = Some((CAPACITY_EXHAUSTED, m)),
                        }
                    }
                }
            }
            Expansion::Idle => {}
        }
    }
    // Stuck members stay reported while they wait (an edge cloud busy with them says less).
    let report_stuck = scaling
        .blocked
        .as_ref()
        .is_none_or(|(r, _)| *r == reason::EDGE_CLOUD_BUSY);
    if report_stuck && !stuck.is_empty() {
        let replaced: Vec<&str> = stuck
            .iter()
            .filter(|m| replacing.contains(&m.id))
            .map(|m| m.id.as_str())
            .collect();
        let what = if observe_only {
            "managementPolicy is ObserveOnly, so they are not replaced".to_owned()
        } else if replaced.is_empty() {
            "they are replaced when the remediation budget allows".to_owned()
        } else {
            format!(
                "being replaced: {} (a replacement is created where each runs once the edge cloud is inService; IEC cannot delete a building instance, so each is deleted as soon as it leaves BUILD)",
                replaced.join(", ")
            )
        };
        scaling.blocked = Some((
            BUILD_TIMEOUT,
            format!(
                "{} member(s) still building after spec.remediation.buildTimeout ({}): {}; {what}",
                stuck.len(),
                spec.remediation.build_timeout,
                ids_of(stuck.iter().map(|m| m.id.as_str()))
            ),
        ));
    }
    let keep_capacity_report = expanding
        && crate::api::condition::find_condition(&w.status.conditions, SCALING_BLOCKED)
            .is_some_and(|c| c.is_true() && c.reason == CAPACITY_EXHAUSTED);
    match &scaling.blocked {
        Some((r, m)) => set_extra_condition(&mut w.status, generation, SCALING_BLOCKED, true, r, m),
        // While an expansion runs, a location found without capacity stays reported until the next
        // plan shows whether it has capacity again (no flapping).
        None if keep_capacity_report => {}
        None => set_extra_condition(
            &mut w.status,
            generation,
            SCALING_BLOCKED,
            false,
            reason::SCALING_POSSIBLE,
            "",
        ),
    }

    let summary = format!(
        "edge cloud {id} is {}: {} of {} members ready, {} up to date",
        observed.raw_status, counts.ready, spec.replicas, counts.updated
    );
    let converged = counts.replicas == spec.replicas
        && counts.ready == spec.replicas
        && counts.updated == spec.replicas
        && observed.state == FleetState::Ready
        && w.status.pending_expand.is_none()
        && w.status.pending_delete.is_empty()
        && !live.iter().any(|m| replacing.contains(&m.id));
    let outcome = if observe_only {
        Outcome::Ready {
            reason: reason::OBSERVED,
            message: format!("observing {summary}"),
        }
    } else if converged {
        Outcome::available(summary)
    } else if observed.state == FleetState::Creating {
        Outcome::progressing(reason::CREATING, reason::IN_PROGRESS, summary)
    } else if let Some((r, m)) = &scaling.blocked
        && scaling.activity.is_none()
    {
        let ready_reason = if *r == reason::PAUSED {
            reason::UPDATING
        } else {
            reason::UNAVAILABLE
        };
        Outcome::progressing(ready_reason, reason::SCALING, format!("{summary}; {m}"))
    } else {
        let detail = scaling
            .activity
            .clone()
            .or(rolling_note)
            .unwrap_or_else(|| "waiting for members".to_owned());
        let reconciling = if counts.updated < counts.replicas && counts.replicas >= spec.replicas {
            reason::ROLLING_UPDATE
        } else {
            reason::SCALING
        };
        Outcome::progressing(reason::UPDATING, reconciling, format!("{summary}; {detail}"))
    };
    Ok((outcome, intervals))
}

async fn apply(ec: Arc<EdgeCloud>, ctx: &Context) -> Result<Action, Error> {
    let mut w = StatusWriter::new(api_for(ctx, &ec), ec.clone(), ec.status.as_ref());
    match apply_steps(&ec, ctx, &mut w).await {
        Ok((outcome, intervals)) => w
            .finish(ctx, outcome, intervals)
            .await
            .map_err(Error::PatchStatus),
        Err(e) => Err(w.finish_error(ctx, e).await),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Cleanup
// ---------------------------------------------------------------------------------------------------------

/// Deletes the members (batch), then the edge cloud, then leftover plans. `Ok` only once the cloud
/// confirms the edge cloud is gone; `deletionPolicy: Orphan` / ObserveOnly keep everything in the cloud.
#[allow(clippy::too_many_lines)]
async fn cleanup_steps(ec: &EdgeCloud, ctx: &Context, w: &mut Writer) -> Result<(), Error> {
    let ei_api: Api<EdgeInstance> = Api::namespaced(ctx.client.clone(), &ec.namespace().unwrap_or_default());
    let keep = ec.spec.deletion_policy == DeletionPolicy::Orphan
        || ec.spec.management_policy == ManagementPolicy::ObserveOnly;
    if keep {
        let mirrors = members::list(&ei_api, ec)
            .await
            .map_err(|source| Error::Members {
                action: "list",
                source,
            })?;
        for ei in &mirrors {
            members::orphan(&ei_api, ei)
                .await
                .map_err(|source| Error::Members {
                    action: "orphan",
                    source,
                })?;
        }
        if let Some(id) = &w.status.edge_cloud_id {
            ctx.publish(
                ec,
                EventType::Normal,
                "Orphaned",
                "Delete",
                format!(
                    "left edge cloud {id} and its {} member(s) in place",
                    mirrors.len()
                ),
            )
            .await;
        }
        return Ok(());
    }
    let name = fleet::cloud_name(ec);
    if w.status.edge_cloud_id.is_none()
        && w.status.pending_create.is_none()
        && w.status.deployment_plan_ids.is_empty()
    {
        return Ok(());
    }
    let resolved = resolve_provider(ctx, &ec.spec.provider_config_ref.name)
        .await
        .map_err(|source| Error::ProviderUnavailable {
            deleting: true,
            source,
        })?;
    let pending_interval = resolved.intervals.pending;
    let provider = resolved.provider.clone();
    let fleets = provider.fleets().map_err(Error::Unsupported)?;
    let instances = provider.instances().map_err(Error::Unsupported)?;
    let id = match (w.status.edge_cloud_id.clone(), w.status.pending_create.clone()) {
        (Some(id), _) => Some(id),
        (None, Some(pending)) => {
            let found = fleets
                .find_by_name(&pending.token)
                .await
                .map_err(|source| Error::Lookup {
                    what: format!("edge clouds named {:?}", pending.token),
                    source,
                })?;
            match found.as_slice() {
                [one] => Some(one.id.clone()),
                [] if elapsed_since(&pending.started_at) < ctx.config.recovery_grace => {
                    return Err(Error::DeletionWaits {
                        id: name,
                        what: "a create may still become visible".to_owned(),
                        after: pending_interval,
                    });
                }
                [] => None,
                many => {
                    return Err(Error::AmbiguousRecovery {
                        name: pending.token,
                        ids: ids_of(many.iter().map(|f| f.id.as_str())),
                    });
                }
            }
        }
        (None, None) => None,
    };
    if let Some(id) = id {
        let observed = match fleets.get(&id).await {
            Ok(o) => Some(o),
            Err(e) if e.is_not_found() => None,
            Err(source) => return Err(Error::Observe { id, source }),
        };
        if let Some(observed) = observed {
            if matches!(observed.state, FleetState::Creating | FleetState::Updating) {
                return Err(Error::DeletionWaits {
                    id,
                    what: format!("the cloud is still deploying it ({})", observed.raw_status),
                    after: pending_interval,
                });
            }
            if observed.state == FleetState::Deleting {
                return Err(Error::DeletionWaits {
                    id,
                    what: "the cloud is deleting it".to_owned(),
                    after: pending_interval,
                });
            }
            let all = fleets.list_members(&id).await.map_err(|source| Error::Observe {
                id: id.clone(),
                source,
            })?;
            let mirrors = members::list(&ei_api, ec)
                .await
                .map_err(|source| Error::Members {
                    action: "list",
                    source,
                })?;
            let left: Vec<String> = all
                .iter()
                .filter(|m| !matches!(m.state, InstanceState::Deleted | InstanceState::Deleting))
                .map(|m| m.id.clone())
                .collect();
            let going = all.iter().any(|m| matches!(m.state, InstanceState::Deleting));
            if !left.is_empty() {
                let new: Vec<String> = left
                    .iter()
                    .filter(|m| !w.status.pending_delete.contains(m))
                    .cloned()
                    .collect();
                if new.is_empty() {
                    settle_removals(instances, &ei_api, &mirrors, &all, &id, w).await?;
                    persist(w).await?;
                } else {
                    remove_members(
                        ec,
                        ctx,
                        instances,
                        &ei_api,
                        &mirrors,
                        &all,
                        &id,
                        &new,
                        "deletion of the edge cloud",
                        w,
                    )
                    .await?;
                }
                return Err(Error::DeletionWaits {
                    id,
                    what: format!("{} member(s) are being deleted", left.len()),
                    after: pending_interval,
                });
            }
            if going {
                return Err(Error::DeletionWaits {
                    id,
                    what: "members are being deleted".to_owned(),
                    after: pending_interval,
                });
            }
            // Mirrors of deleted members (released already) may still be listed: release again (no-op).
            for ei in &mirrors {
                members::release(&ei_api, ei)
                    .await
                    .map_err(|source| Error::Members {
                        action: "release",
                        source,
                    })?;
            }
            match fleets.delete(&id).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(ProviderError::Conflict { .. } | ProviderError::InUse { .. }) => {
                    return Err(Error::DeletionWaits {
                        id,
                        what: "the cloud refused the delete for now; retrying".to_owned(),
                        after: pending_interval,
                    });
                }
                Err(source) => return Err(Error::Delete { id, source }),
            }
            w.status.pending_delete.clear();
            persist(w).await?;
            ctx.publish(
                ec,
                EventType::Normal,
                "Deleting",
                "Delete",
                format!("deleting edge cloud {id}"),
            )
            .await;
            return Err(Error::DeletionWaits {
                id,
                what: "waiting for the cloud to delete it".to_owned(),
                after: pending_interval,
            });
        }
        info!(edge_cloud_id = %id, "edge cloud deleted");
        ctx.publish(
            ec,
            EventType::Normal,
            "Deleted",
            "Delete",
            format!("deleted edge cloud {id}"),
        )
        .await;
    }
    // The edge cloud is gone: delete every plan that was ours.
    w.status.pending_create = None;
    w.status.pending_expand = None;
    let recorded_id = w.status.edge_cloud_id.clone();
    let open = fleets.find_open_plans().await.map_err(|source| Error::Lookup {
        what: "open deployment plans".to_owned(),
        source,
    })?;
    for p in open {
        let ours = p.fleet_name.as_deref() == Some(name.as_str())
            || (recorded_id.is_some() && p.fleet_id == recorded_id);
        if ours {
            remember_plan(&mut w.status, &p.id);
        }
    }
    cleanup_plans(fleets, w).await?;
    Ok(())
}

async fn cleanup(ec: Arc<EdgeCloud>, ctx: &Context) -> Result<Action, Error> {
    let mut w = StatusWriter::new(api_for(ctx, &ec), ec.clone(), ec.status.as_ref());
    match cleanup_steps(&ec, ctx, &mut w).await {
        Ok(()) => {
            ctx.metrics
                .remove_fleet(&ec.namespace().unwrap_or_default(), &ec.name_any());
            Ok(Action::await_change())
        }
        Err(e) => Err(w.finish_error(ctx, e).await),
    }
}

fn api_for(ctx: &Context, ec: &EdgeCloud) -> Api<EdgeCloud> {
    Api::namespaced(ctx.client.clone(), &ec.namespace().unwrap_or_default())
}

async fn reconcile(ec: Arc<EdgeCloud>, ctx: Arc<Context>) -> Result<Action, PassError<Error>> {
    let api = api_for(&ctx, &ec);
    let pass = run_finalizer(&api, ec.clone(), |o| apply(o, &ctx), |o| cleanup(o, &ctx));
    instrumented(ec.as_ref(), &ctx, pass).await
}

fn provider_config_of(ec: &EdgeCloud) -> &str {
    &ec.spec.provider_config_ref.name
}

/// Runs the EdgeCloud controller until `shutdown` resolves. Besides EdgeClouds (in the configured
/// namespace and label scope) it watches the member EdgeInstances it owns (a member deleted by a person
/// is noticed at once) and ProviderConfigs.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let client = ctx.client.clone();
    let controller = ctx
        .controller(
            ctx.config.namespaced_api::<EdgeCloud>(&client),
            ctx.config.watcher_config(),
        )
        .with_config(RuntimeConfig::default().concurrency(ctx.config.concurrency));
    let trigger = provider_config_trigger(ctx.lookups.clone(), controller.store(), provider_config_of);
    controller
        .owns(
            ctx.config.namespaced_api::<EdgeInstance>(&client),
            ctx.config.watcher_config(),
        )
        .watches(
            Api::<ProviderConfig>::all(client),
            watcher::Config::default(),
            trigger,
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                debug!(error = %e, kind = EdgeCloud::kind(&()).as_ref(), "controller event");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::condition::RECONCILING;

    fn at(s: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(s).unwrap())
    }

    /// A status written by a converged pass of a fleet of `n` (Ready=True), then given new counts.
    fn ready_status(n: i32) -> EdgeCloudStatus {
        let mut status = EdgeCloudStatus {
            replicas: n,
            ready_replicas: n,
            updated_replicas: n,
            ..EdgeCloudStatus::default()
        };
        conditions_for_outcome(
            &mut status.conditions,
            Some(1),
            &Outcome::available("all members ready"),
            &at(100),
        );
        status
    }

    fn ready(status: &EdgeCloudStatus) -> &Condition {
        find_condition(&status.conditions, READY).unwrap()
    }

    #[test]
    fn an_interim_write_never_says_ready_with_counts_that_contradict_it() {
        let expanding = PendingOperation {
            token: "expand:ec-1".into(),
            params_hash: "h".into(),
            started_at: at(150),
            handle: None,
        };
        // (reason, wanted, replicas, ready, updated, pending expand, pending delete, Ready stays True)
        let cases = [
            ("settled: nothing to withdraw", 3, 3, 3, 3, false, false, true),
            (
                "a member was lost: short of replicas",
                3,
                2,
                2,
                2,
                false,
                false,
                false,
            ),
            ("a member is not ready", 3, 3, 2, 3, false, false, false),
            ("an expansion is pending", 3, 3, 3, 3, true, false, false),
            ("members are being removed", 3, 3, 3, 3, false, true, false),
            ("scaling in: more than wanted", 2, 3, 3, 3, false, false, false),
            ("a rollout is under way", 3, 3, 3, 1, false, false, false),
        ];
        for (why, wanted, replicas, ready_n, updated, expand, delete, stays) in cases {
            let mut status = ready_status(3);
            status.replicas = replicas;
            status.ready_replicas = ready_n;
            status.updated_replicas = updated;
            status.pending_expand = expand.then(|| expanding.clone());
            if delete {
                status.pending_delete = vec!["i-1".into()];
            }
            withdraw_stale_ready(&mut status, wanted, Some(2), &at(200));
            assert_eq!(ready(&status).is_true(), stays, "{why}");
            if !stays {
                assert_eq!(ready(&status).reason, reason::UPDATING, "{why}");
                assert_eq!(ready(&status).observed_generation, Some(2), "{why}");
                let reconciling = find_condition(&status.conditions, RECONCILING).unwrap();
                assert!(reconciling.is_true(), "{why}");
            }
        }
    }

    #[test]
    fn a_ready_false_left_by_an_earlier_pass_is_kept() {
        let mut status = ready_status(3);
        conditions_for_outcome(
            &mut status.conditions,
            Some(1),
            &Outcome::progressing(reason::UNAVAILABLE, reason::SCALING, "no capacity at zhongshan"),
            &at(120),
        );
        status.ready_replicas = 2;
        let before = status.conditions.clone();
        withdraw_stale_ready(&mut status, 3, Some(1), &at(200));
        assert_eq!(status.conditions, before);
    }
}
