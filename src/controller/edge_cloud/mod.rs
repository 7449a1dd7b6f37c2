//! The EdgeCloud controller: a Deployment-like fleet of edge instances spread over sites and operators.
//!
//! One pass of `apply`, a module per step (each imports only the ones below it):
//! resolve the account → validate and resolve the placement (pure, shown in `status.placements` before
//! anything exists) → resolve the template's references ([`observe`]) → identity ([`identity`]: status
//! id, `spec.adoptId`, recovery of an interrupted create, or a new deployment plan + deploy) → observe
//! the edge cloud and its members once ([`observe::FleetView`]) → settle removals in flight and mirror
//! every member as an owned EdgeInstance ([`members`], [`execute`]) → status counts ([`status`]) →
//! decide ([`decide`], pure: remediation, scale-in within the budget, rolling replacement, image
//! pacing, scale-out) → execute the decided steps ([`execute`]) → status and conditions (Ready,
//! Available, Reconciling, ScalingBlocked, Stalled, Synced). Deletion is [`cleanup`].
//!
//! Crash safety (design.md): every mutating step has an intent in status written before the call —
//! `pendingCreate` (token = the edge cloud's cloud name, which the cloud keeps unique per account;
//! handle = the plan id), `pendingExpand` (handle = the expansion plan id), `pendingDelete` (the member
//! ids chosen for removal). A restarted controller resolves each intent by looking the cloud up (edge
//! cloud by name, open plans by edge cloud name or id, members by id) and never creates a second edge
//! cloud, never runs a second expansion for the same shortfall, never picks new victims while old ones
//! are pending. Plans are deleted as soon as they have been executed (the cloud keeps them otherwise).
//!
//! Replacement without the cloud's help: a member building past `spec.remediation.buildTimeout` is
//! marked (annotation `edgefleet.io/replace` on its EdgeInstance, durable before anything else happens),
//! stops counting towards `spec.replicas` (the scale plan creates its replacement where it runs, through
//! the ordinary expansion intent), and is deleted through the removal intent as soon as the cloud lets
//! it go (where the cloud cannot delete building members — `Capabilities::instance.delete_while_creating`
//! — once it leaves BUILD). Template fields the cloud never shows back (disks, bandwidth, key pair) are
//! compared through a fingerprint recorded on each member's EdgeInstance
//! (`edgefleet.io/template-fingerprint`, taken from `status.membersFingerprint`, which the create and
//! expansion intents set); a member with another fingerprint is replaced like one with another flavor.
//!
//! Where the cloud cannot expand an edge cloud of the fleet's coverage level (`Capabilities::
//! fleet_can_expand`, e.g. site-level ones) the controller does not fall back to direct instance creation
//! (such instances would not be members of the edge cloud, so the cloud's own view — `success_num`,
//! deletion order, `edgecloud_id` — would disagree with the fleet); it reports `ScalingBlocked=True
//! ExpandNotSupported` with the number of missing members instead, and still scales in. See
//! docs/controllers.md "EdgeCloud".
//!
//! Where the cloud runs an expansion as a job (Workspace), the job id is durable in `status.jobId`
//! right after the cloud answered and the expansion stays in flight until the job ends (see
//! [`execute`]); a failed job is `ScalingBlocked=True JobFailed` and the next batch waits a backoff.
//! While the job runs, the pass is requeued sooner than the pending interval: after as long as the job
//! has run so far, from 2 s up to the pending interval ([`decide::job_poll_after`], [`job_intervals`]).

mod cleanup;
mod decide;
mod execute;
pub mod fleet;
mod identity;
pub mod members;
mod observe;
mod status;

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Config as RuntimeConfig};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use tracing::debug;

use self::decide::{CloudModel, ScaleInput, teardown};
use self::execute::{Expansion, FleetPass};
use self::fleet::{ResolvedRefs, SpecError};
use self::identity::{Identity, Want, ensure_identity};
use self::observe::{Clock, FleetView, resolve_refs};
use self::status::{Scaling, Writer, record_counts, record_fleet, set_extra_condition};
use super::runtime::{
    Context, ErrorClass, Intervals, Outcome, PassError, ReconcileError, ReferenceError, ResolveProviderError,
    SecretError, StatusWriter, elapsed_since, error_policy, instrumented, provider_config_trigger,
    resolve_provider, run_finalizer,
};
use super::{NAME_CONFLICT, provider_error_class};
use crate::api::common::ManagementPolicy;
use crate::api::condition::{SCALING_BLOCKED, reason};
use crate::api::edge_cloud::{EdgeCloud, EdgeCloudStatus};
use crate::api::edge_instance::EdgeInstance;
use crate::api::provider_config::ProviderConfig;
use crate::provider::{FleetPlanTarget, FleetState, InstanceTemplate, Provider, ProviderError, SiteTarget};

/// Stalled reason: the cloud reports the edge cloud `failed` (it can only be deleted); the message has
/// the cloud's failure code and text.
pub const EDGE_CLOUD_FAILED: &str = "EdgeCloudFailed";
/// ScalingBlocked reason: members have been building longer than `spec.remediation.buildTimeout`. They
/// are replaced (within maxUnhealthy) and deleted as soon as the cloud lets them go (once they leave
/// BUILD where it cannot delete building members); the condition stays while they wait. Also the value
/// of the `edgefleet.io/replace` annotation.
pub const BUILD_TIMEOUT: &str = "BuildTimeout";
/// ScalingBlocked reason (and Warning event): the cloud job of an expansion ended FAILED; the message
/// names the job and the cloud's code and message, and when the next batch starts (a backoff that
/// doubles with each failed job in a row; `status.lastJobFailure`). Never a second batch while a job runs.
pub const JOB_FAILED: &str = "JobFailed";
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

impl From<ReferenceError> for Error {
    fn from(err: ReferenceError) -> Self {
        match err {
            ReferenceError::Waiting {
                kind,
                name,
                field,
                what,
            } => Self::Dependency {
                what: format!("{kind} {name:?} (named by {field}) to {what}"),
            },
            ReferenceError::Read {
                kind,
                name,
                field,
                source,
            } => Self::ReadDependency {
                what: format!("{kind} {name:?} (named by {field})"),
                source,
            },
        }
    }
}

impl From<SecretError> for Error {
    fn from(err: SecretError) -> Self {
        match err {
            SecretError::Unavailable { field, name, problem } => Self::Dependency {
                what: format!("Secret {name:?} (named by {field}), which {problem}"),
            },
            SecretError::Read { field, name, source } => Self::ReadDependency {
                what: format!("Secret {name:?} (named by {field})"),
                source,
            },
        }
    }
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
            Self::ProviderUnavailable { .. }
            | Self::InvalidSpec(_)
            | Self::NothingToObserve
            | Self::Dependency { .. }
            | Self::ReadDependency { .. }
            | Self::Members { .. }
            | Self::DeletionWaits { .. }
            | Self::NameConflict { .. }
            | Self::AmbiguousRecovery { .. }
            | Self::AdoptTargetNotFound { .. }
            | Self::ExternallyDeleted { .. }
            | Self::EdgeCloudFailed { .. }
            | Self::PatchStatus(..) => None,
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
            // Provider errors were answered above; the rest do not stall.
            Self::Unsupported(_)
            | Self::Observe { .. }
            | Self::Lookup { .. }
            | Self::Plan { .. }
            | Self::Execute { .. }
            | Self::DeleteMembers { .. }
            | Self::Delete { .. }
            | Self::DeletePlan { .. }
            | Self::ProviderUnavailable { deleting: false, .. }
            | Self::Dependency { .. }
            | Self::ReadDependency { .. }
            | Self::Members { .. }
            | Self::DeletionWaits { .. }
            | Self::PatchStatus(..) => None,
        }
    }

    fn ready_reason(&self) -> Option<&'static str> {
        match self {
            Self::ProviderUnavailable { deleting: false, .. } | Self::Dependency { .. } => {
                Some(reason::WAITING_FOR_DEPENDENCY)
            }
            Self::EdgeCloudFailed { .. } => Some(reason::UNAVAILABLE),
            Self::Unsupported(_)
            | Self::Observe { .. }
            | Self::Lookup { .. }
            | Self::Plan { .. }
            | Self::Execute { .. }
            | Self::DeleteMembers { .. }
            | Self::Delete { .. }
            | Self::DeletePlan { .. }
            | Self::ProviderUnavailable { deleting: true, .. }
            | Self::InvalidSpec(_)
            | Self::NothingToObserve
            | Self::ReadDependency { .. }
            | Self::Members { .. }
            | Self::DeletionWaits { .. }
            | Self::NameConflict { .. }
            | Self::AmbiguousRecovery { .. }
            | Self::AdoptTargetNotFound { .. }
            | Self::ExternallyDeleted { .. }
            | Self::PatchStatus(..) => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Apply
// ---------------------------------------------------------------------------------------------------------

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

/// What the acting part of a pass needs besides the view.
struct Act<'a> {
    /// Resolved placement targets.
    targets: &'a [SiteTarget],
    /// The template's references, resolved.
    refs: &'a ResolvedRefs,
    /// The member template.
    template: &'a InstanceTemplate,
}

async fn apply_steps(ec: &EdgeCloud, ctx: &Context, w: &mut Writer) -> Result<(Outcome, Intervals), Error> {
    let resolved = resolve_provider(ctx, &ec.spec.provider_config_ref.name)
        .await
        .map_err(|source| Error::ProviderUnavailable {
            deleting: false,
            source,
        })?;
    let provider: Arc<dyn Provider> = resolved.provider.clone();
    let caps = provider.capabilities().clone();
    let intervals = resolved.intervals;
    let spec = &ec.spec;
    let generation = ec.meta().generation;
    w.status.label_selector = Some(fleet::label_selector(ec));
    w.status.template_hash = Some(fleet::template_hash(spec));

    // Validate (pure) and show the resolution before anything exists.
    fleet::check_cloud_fit(spec, &caps).map_err(Error::InvalidSpec)?;
    let targets = fleet::targets(spec).map_err(Error::InvalidSpec)?;
    let build_timeout = spec
        .remediation
        .build_timeout()
        .map_err(|e| Error::InvalidSpec(SpecError::BuildTimeout(e)))?;
    if w.status.edge_cloud_id.is_none() {
        w.status.placements = fleet::placement_rows(spec, &targets, &[]);
    }
    let refs = resolve_refs(ec, ctx).await?;
    let template = fleet::instance_template(ec, &refs);
    let fleets = provider.fleets().map_err(Error::Unsupported)?;
    fleet::check_template(&fleets.validate_template(&template)).map_err(Error::InvalidSpec)?;
    // The cloud's rules for the fleet as a whole (levels, locations, its provider section).
    let whole = fleet::plan_request(
        ec,
        FleetPlanTarget::New {
            name: fleet::cloud_name(ec),
        },
        &targets,
        &template,
    );
    fleet::check_fleet(&fleets.validate_fleet(&whole)).map_err(Error::InvalidSpec)?;
    let observe_only = spec.management_policy == ManagementPolicy::ObserveOnly;
    let mut pass = FleetPass {
        ec,
        ctx,
        fleets,
        ops: provider.operations().ok(),
        caps: &caps,
        ei_api: Api::namespaced(ctx.client.clone(), &ec.namespace().unwrap_or_default()),
        w,
    };

    let mut blocked: Vec<String> = Vec::new();
    let want = Want {
        targets: &targets,
        template: &template,
        may_create: !observe_only && !spec.paused,
    };
    let observed = match ensure_identity(&mut pass, &want, &mut blocked).await? {
        Identity::Observed(o) => o,
        Identity::Wait(outcome) => {
            pass.cleanup_plans().await?;
            status::waiting_conditions(&mut pass.w.status, spec, generation, &blocked);
            return Ok((outcome, intervals));
        }
    };
    record_fleet(&mut pass.w.status, &observed);
    pass.cleanup_plans().await?;

    // Observe the members and their mirrors, once.
    let seen = observe::gather(pass.fleets, &pass.ei_api, ec, observed).await?;
    let clock = Clock {
        now_ms: k8s_openapi::jiff::Timestamp::now().as_millisecond(),
        build_timeout,
    };
    let mut view = FleetView::new(seen, spec, &pass.w.status, clock);
    let removing = if observe_only {
        Vec::new()
    } else {
        pass.settle_removals(view.members()).await?
    };
    pass.sync_mirrors(&view, &refs).await?;
    record_counts(&mut pass.w.status, spec, generation, &targets, &view);
    ctx.metrics.set_fleet(
        &ec.namespace().unwrap_or_default(),
        &ec.name_any(),
        &status::site_replicas(&pass.w.status),
    );

    let mut scaling = Scaling::new(&removing);
    if observe_only {
        // Nothing is acted on; report what is seen.
    } else if view.fleet.state == FleetState::Failed {
        let id = view.fleet.id.clone();
        let message = view
            .fleet
            .failure
            .as_ref()
            .map(|f| format!("{}: {}", f.code, f.message))
            .unwrap_or_else(|| "no reason given".to_owned());
        if spec.paused {
            return Err(Error::EdgeCloudFailed { id, message });
        }
        // A failed edge cloud can only be deleted: remove its members, delete it, and deploy again (the
        // next passes see it deleting, then gone).
        let plan = teardown(&view.all, &pass.w.status.pending_delete);
        let done = pass.redeploy_failed(&view, plan).await?;
        set_extra_condition(
            &mut pass.w.status,
            generation,
            SCALING_BLOCKED,
            false,
            reason::SCALING_POSSIBLE,
            "",
        );
        let message = format!("edge cloud {id} failed in the cloud ({message}); {done}");
        return Ok((
            Outcome::progressing(reason::UNAVAILABLE, reason::IN_PROGRESS, message),
            intervals,
        ));
    } else if spec.paused {
        scaling.blocked = Some((
            reason::PAUSED,
            "spec.paused is true: no scaling, replacement or remediation".to_owned(),
        ));
    } else {
        let act = Act {
            targets: &targets,
            refs: &refs,
            template: &template,
        };
        act_on(&mut pass, &mut view, &act, &mut scaling).await?;
    }
    scaling.report_stuck(&view, spec, CloudModel::of(&caps, spec), observe_only);
    scaling.write_condition(&mut pass.w.status, generation);
    let outcome = status::outcome(&view, spec, &pass.w.status, &scaling, observe_only);
    Ok((outcome, job_intervals(&pass.w.status, intervals)))
}

/// `intervals` with the pending one shortened while the expansion's cloud job runs (`status.jobId`,
/// timed from the expansion intent's start): [`decide::job_poll_after`].
fn job_intervals(status: &EdgeCloudStatus, intervals: Intervals) -> Intervals {
    match (&status.job_id, &status.pending_expand) {
        (Some(_), Some(intent)) => Intervals {
            pending: decide::job_poll_after(elapsed_since(&intent.started_at), intervals.pending),
            ..intervals
        },
        _ => intervals,
    }
}

/// The acting part of a pass on a healthy, unpaused edge cloud: build-timeout remediation, the
/// expansion in flight, then (when nothing is in flight) the scale decision, each decided step run in
/// order.
async fn act_on(
    pass: &mut FleetPass<'_>,
    view: &mut FleetView,
    act: &Act<'_>,
    scaling: &mut Scaling,
) -> Result<(), Error> {
    let spec = &pass.ec.spec;
    // Members building past buildTimeout are marked for replacement, durably, on their EdgeInstance (no
    // cloud call, so also while an expansion is in flight): from now on they count as going, so the
    // scale plan creates their replacements. Marked members go as soon as the cloud lets them, before
    // anything else is planned (never while an expansion runs).
    let busy = pass.w.status.pending_expand.is_some() || scaling.activity.is_some();
    let cloud = CloudModel::of(pass.caps, spec);
    let remedy = decide::remediate(view, spec, cloud, busy);
    let health = remedy.health;
    for step in remedy.mark.into_iter().chain(remedy.remove) {
        let report = pass.run(view, step, act.template).await?;
        scaling.fold(report);
    }
    match pass.progress_expansion(&view.fleet, act.template).await? {
        Expansion::InFlight(m) => {
            scaling.expanding = true;
            scaling.activity = Some(m);
        }
        Expansion::JobFailed(m) => {
            scaling.blocked = Some((JOB_FAILED, m));
        }
        Expansion::Idle if scaling.activity.is_none() => {
            let decision = decide::scale(&ScaleInput {
                view,
                spec,
                targets: act.targets,
                vpc_id: &act.refs.vpc_id,
                cloud,
                health,
            });
            scaling.blocked = decision.blocked;
            scaling.note = decision.note;
            for step in decision.steps {
                let report = pass.run(view, step, act.template).await?;
                scaling.fold(report);
            }
        }
        Expansion::Idle => {}
    }
    Ok(())
}

pub(super) fn api_for(ctx: &Context, ec: &EdgeCloud) -> Api<EdgeCloud> {
    Api::namespaced(ctx.client.clone(), &ec.namespace().unwrap_or_default())
}

async fn reconcile(ec: Arc<EdgeCloud>, ctx: Arc<Context>) -> Result<Action, PassError<Error>> {
    let api = api_for(&ctx, &ec);
    let pass = run_finalizer(
        &api,
        ec.clone(),
        |o| apply(o, &ctx),
        |o| cleanup::cleanup(o, &ctx),
    );
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
        .user_controller(
            ctx.config.namespaced_api::<EdgeCloud>(&client),
            ctx.config.watcher_config(),
            crate::controller::runtime::intent_of,
            |o: &EdgeCloud| &o.spec.provider_config_ref.name,
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
