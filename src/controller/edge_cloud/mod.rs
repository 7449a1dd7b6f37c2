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

mod cleanup;
mod execute;
pub mod fleet;
mod identity;
pub mod members;
mod observe;
mod status;

use self::cleanup::*;
use self::execute::*;
use self::identity::*;
use self::observe::*;
use self::status::*;

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

// ---------------------------------------------------------------------------------------------------------
// Apply
// ---------------------------------------------------------------------------------------------------------

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
