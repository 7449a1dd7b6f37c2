//! Runs what a pass decided against the cloud and the cluster, each step with its crash-safety intent
//! made durable first (design.md): `pendingCreate`/`pendingExpand` carry the plan id before the plan is
//! executed, `pendingDelete` the chosen members before they are deleted. [`FleetPass`] holds what every
//! step needs (the object, its APIs, the status working copy); [`FleetPass::run`] runs one decided
//! [`Step`]. Also here: resolving the intents an earlier pass left (removals in flight, an expansion in
//! flight, open plans), the member mirror sync, and the teardown of a failed edge cloud.
//!
//! Expansions that the cloud runs as a job ([`FleetOperation::job_id`](crate::provider::FleetOperation),
//! Workspace create-servers jobs): the job id is written to `status.jobId` right after the cloud
//! answered, before anything else, and the expansion stays in flight (no other batch) until the job
//! ends, polled through the cloud's [`OperationApi`]. A failed job is recorded in
//! `status.lastJobFailure` (ScalingBlocked `JobFailed` with the cloud's code and message) and the next
//! batch waits a backoff that doubles with each failure in a row ([`BackoffConfig::delay_after`]).

use std::collections::BTreeSet;

use kube::api::Api;
use tracing::debug;

use super::decide::{Removal, Step, Teardown};
use super::fleet::{self, ResolvedRefs, describe_targets};
use super::members;
use super::observe::FleetView;
use super::status::{self, StepReport, Writer};
use super::{BUILD_TIMEOUT, CAPACITY_EXHAUSTED, Error, JOB_FAILED};
use crate::api::common::PendingOperation;
use crate::api::condition::reason::QUOTA_EXCEEDED;
use crate::api::edge_cloud::{
    EdgeCloud, EdgeCloudStatus, JobFailure, REPLACE_ANNOTATION, TEMPLATE_FINGERPRINT_ANNOTATION,
};
use crate::api::edge_instance::EdgeInstance;
use crate::controller::events::EventType;
use crate::controller::runtime::{BackoffConfig, Context, elapsed_since, now};
use crate::provider::{
    Capabilities, FleetApi, FleetPlan, FleetPlanRequest, FleetPlanTarget, FleetState, InstanceState,
    InstanceTemplate, ObservedFleet, ObservedInstance, OpenPlan, OperationApi, OperationHandle,
    OperationState, ProviderError, SiteTarget,
};

/// One pass over an EdgeCloud: the object, the controller context, the cloud's APIs and capabilities,
/// the member EdgeInstances' API and the status working copy.
pub(super) struct FleetPass<'a> {
    /// The object.
    pub ec: &'a EdgeCloud,
    /// The controller context.
    pub ctx: &'a Context,
    /// Fleets of the account (and the batch delete of their members).
    pub fleets: &'a dyn FleetApi,
    /// The cloud's job polling, where it has jobs ([`crate::provider::Provider::operations`]).
    pub ops: Option<&'a dyn OperationApi>,
    /// What the cloud can do.
    pub caps: &'a Capabilities,
    /// The member EdgeInstances' namespace.
    pub ei_api: Api<EdgeInstance>,
    /// The status working copy.
    pub w: &'a mut Writer,
}

/// The members a removal acts on: the edge cloud's id, every member the cloud lists, and the mirrors.
#[derive(Debug, Clone, Copy)]
pub(super) struct MemberSet<'a> {
    /// Edge cloud id.
    pub fleet_id: &'a str,
    /// Every member the cloud lists.
    pub all: &'a [ObservedInstance],
    /// Their EdgeInstances.
    pub mirrors: &'a [EdgeInstance],
}

impl FleetView {
    /// The members of the view, for removals.
    pub(super) fn members(&self) -> MemberSet<'_> {
        MemberSet {
            fleet_id: &self.fleet.id,
            all: &self.all,
            mirrors: &self.mirrors,
        }
    }
}

/// Where an expansion intent stands after [`FleetPass::progress_expansion`].
pub(super) enum Expansion {
    /// Nothing in flight; planning may continue.
    Idle,
    /// An expansion is in flight or being recovered; the message says which.
    InFlight(String),
    /// The expansion's cloud job failed (the message names the job and the cloud's reason); the next
    /// batch waits for the backoff.
    JobFailed(String),
}

/// How long the next batch after `failure` still waits (zero once the backoff has passed).
pub(super) fn job_backoff_left(failure: &JobFailure, backoff: &BackoffConfig) -> std::time::Duration {
    let wait = backoff.delay_after(u32::try_from(failure.attempts).unwrap_or(0));
    wait.saturating_sub(elapsed_since(&failure.at))
}

/// What a failed job says in ScalingBlocked.
fn job_failure_message(fleet_id: &str, f: &JobFailure) -> String {
    format!(
        "create job {} of edge cloud {fleet_id} failed ({}: {}); {} failed job(s) in a row",
        f.job_id, f.code, f.message, f.attempts
    )
}

/// Result of trying to start an expansion.
enum ExpandStart {
    /// Submitted.
    Started,
    /// Submitted for some locations; the others have no capacity (reason, and a message naming them).
    Partial(&'static str, String),
    /// The cloud has no capacity or quota for any of these targets (reason: `QuotaExceeded` when a
    /// quota refused it, else `CapacityExhausted`).
    Blocked(&'static str, String),
}

/// Ids of cloud members that are gone or going (deleted, being deleted, absent from the list).
fn removal_done(all: &[ObservedInstance], id: &str) -> bool {
    all.iter()
        .find(|m| m.id == id)
        .is_none_or(|m| matches!(m.state, InstanceState::Deleted | InstanceState::Deleting))
}

/// Records a plan id (before it is executed, so it is cleaned up whatever happens next).
pub(super) fn remember_plan(status: &mut EdgeCloudStatus, plan_id: &str) {
    if !status.deployment_plan_ids.iter().any(|p| p == plan_id) {
        status.deployment_plan_ids.push(plan_id.to_owned());
    }
}

fn members_error(action: &'static str) -> impl Fn(kube::Error) -> Error {
    move |source| Error::Members { action, source }
}

/// A plan the cloud accepted, with the request it was made from, and the locations it refused.
pub(super) struct PlanAttempt {
    /// The accepted plan and its request, if any location could be served.
    pub plan: Option<(FleetPlan, FleetPlanRequest)>,
    /// `location[/operator]: why` for each location the cloud has no capacity or quota for.
    pub blocked: Vec<String>,
    /// The ScalingBlocked reason of `blocked`: `QuotaExceeded` when a quota refused, else
    /// `CapacityExhausted`.
    pub reason: &'static str,
}

fn blocked_reason(e: &ProviderError) -> &'static str {
    if matches!(e, ProviderError::QuotaExceeded { .. }) {
        QUOTA_EXCEEDED
    } else {
        CAPACITY_EXHAUSTED
    }
}

/// Creates a plan for `request`. When the cloud refuses for lack of capacity or quota and several
/// locations are asked for, tries one location at a time (in key order) until one is accepted, so the
/// locations that can be served progress while the others are reported; at most one plan is created.
pub(super) async fn create_plan_for(
    fleets: &dyn FleetApi,
    request: &FleetPlanRequest,
) -> Result<PlanAttempt, ProviderError> {
    let err = match fleets.create_plan(request).await {
        Ok(plan) => {
            return Ok(PlanAttempt {
                plan: Some((plan, request.clone())),
                blocked: Vec::new(),
                reason: CAPACITY_EXHAUSTED,
            });
        }
        Err(e) if e.is_capacity() => e,
        Err(e) => return Err(e),
    };
    let mut reason = blocked_reason(&err);
    if request.targets.len() < 2 {
        return Ok(PlanAttempt {
            plan: None,
            blocked: request
                .targets
                .iter()
                .map(|t| format!("{}: {err}", t.key()))
                .collect(),
            reason,
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
                    reason,
                });
            }
            Err(e) if e.is_capacity() => {
                if blocked.is_empty() {
                    reason = blocked_reason(&e);
                }
                blocked.push(format!("{}: {e}", t.key()));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(PlanAttempt {
        plan: None,
        blocked,
        reason,
    })
}

impl FleetPass<'_> {
    /// Writes the working copy now (a durable step of the crash-safety protocol).
    pub async fn persist(&mut self) -> Result<(), Error> {
        status::persist(self.w).await
    }

    /// Publishes an event on the object.
    async fn publish(&self, type_: EventType, reason: &str, action: &str, note: String) {
        self.ctx.publish(self.ec, type_, reason, action, note).await;
    }

    /// Runs one decided step; says what is under way afterwards.
    pub async fn run(
        &mut self,
        view: &mut FleetView,
        step: Step,
        template: &InstanceTemplate,
    ) -> Result<StepReport, Error> {
        match step {
            Step::MarkForReplacement { id } => {
                // From now on it counts as going.
                if self.mark_for_replacement(view, &id).await? {
                    view.replacing.insert(id);
                }
                Ok(StepReport::default())
            }
            Step::SetImage { member, image } => {
                members::set_image(&self.ei_api, &member, &image)
                    .await
                    .map_err(members_error("update"))?;
                Ok(StepReport::default())
            }
            Step::Remove { ids, why } => {
                self.remove_members(view.members(), &ids, why).await?;
                Ok(StepReport {
                    activity: Some(why.activity(&ids)),
                    blocked: None,
                })
            }
            Step::Expand { add } => {
                if let Some(report) = self.job_backoff_report(&view.fleet.id) {
                    return Ok(report);
                }
                self.expand_step(&view.fleet.id, &add, template).await
            }
        }
    }

    /// While the backoff after a failed job runs: ScalingBlocked `JobFailed` saying when the next
    /// batch goes.
    fn job_backoff_report(&self, fleet_id: &str) -> Option<StepReport> {
        let failure = self.w.status.last_job_failure.as_ref()?;
        let left = job_backoff_left(failure, &self.ctx.config.backoff);
        if left.is_zero() {
            return None;
        }
        Some(StepReport {
            activity: None,
            blocked: Some((
                JOB_FAILED,
                format!(
                    "{}; the next batch starts in {}s",
                    job_failure_message(fleet_id, failure),
                    left.as_secs_f64().ceil()
                ),
            )),
        })
    }

    /// Starts an expansion by `add` and says what it did.
    async fn expand_step(
        &mut self,
        fleet_id: &str,
        add: &[SiteTarget],
        template: &InstanceTemplate,
    ) -> Result<StepReport, Error> {
        Ok(match self.start_expansion(fleet_id, add, template).await? {
            ExpandStart::Started => StepReport {
                activity: Some(format!("expanding: {}", describe_targets(add))),
                blocked: None,
            },
            ExpandStart::Partial(why, m) => StepReport {
                activity: Some(format!("expanding where the cloud has capacity; {m}")),
                blocked: Some((why, m)),
            },
            ExpandStart::Blocked(why, m) => StepReport {
                activity: None,
                blocked: Some((why, m)),
            },
        })
    }

    // -----------------------------------------------------------------------------------------------------
    // Plans
    // -----------------------------------------------------------------------------------------------------

    /// Looks for open plans matching `wanted` (left by a pass that crashed before recording the plan
    /// id): records the first as the intent's handle and deletes the others.
    pub async fn adopt_open_plan(
        &mut self,
        wanted: impl Fn(&OpenPlan) -> bool,
    ) -> Result<Option<String>, Error> {
        let open = self
            .fleets
            .find_open_plans()
            .await
            .map_err(|source| Error::Lookup {
                what: "open deployment plans".to_owned(),
                source,
            })?;
        let mut mine = open.iter().filter(|p| wanted(p));
        let Some(first) = mine.next() else {
            return Ok(None);
        };
        for extra in mine {
            match self.fleets.delete_plan(&extra.id).await {
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
        remember_plan(&mut self.w.status, &first.id);
        Ok(Some(first.id.clone()))
    }

    /// Deletes recorded plans no intent still needs (executed, or abandoned).
    pub async fn cleanup_plans(&mut self) -> Result<(), Error> {
        let status = &self.w.status;
        let mut keep: Vec<String> = Vec::new();
        if status.edge_cloud_id.is_none()
            && let Some(h) = status.pending_create.as_ref().and_then(|p| p.handle.clone())
        {
            keep.push(h);
        }
        if let Some(h) = status.pending_expand.as_ref().and_then(|p| p.handle.clone()) {
            keep.push(h);
        }
        let ids = status.deployment_plan_ids.clone();
        for plan_id in ids.iter().filter(|p| !keep.contains(p)) {
            match self.fleets.delete_plan(plan_id).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(source) => {
                    return Err(Error::DeletePlan {
                        plan_id: plan_id.clone(),
                        source,
                    });
                }
            }
            self.w.status.deployment_plan_ids.retain(|p| p != plan_id);
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------------------
    // Members: removals in flight, mirror, replacement marks, removal
    // -----------------------------------------------------------------------------------------------------

    /// Carries out the recorded removals: releases their EdgeInstances and batch-deletes the cloud
    /// instances that can be deleted now (not while building, unless the cloud deletes building
    /// members); drops ids the cloud shows gone or going. Returns the ids still pending.
    pub async fn settle_removals(&mut self, set: MemberSet<'_>) -> Result<Vec<String>, Error> {
        if self.w.status.pending_delete.is_empty() {
            return Ok(Vec::new());
        }
        let pending = self.w.status.pending_delete.clone();
        for ei in set.mirrors {
            if members::instance_id(ei).is_some_and(|id| pending.iter().any(|p| p == id)) {
                members::release(&self.ei_api, ei)
                    .await
                    .map_err(members_error("release"))?;
            }
        }
        let delete_building = self.caps.instance.delete_while_creating;
        let deletable: Vec<String> = pending
            .iter()
            .filter(|id| {
                set.all.iter().any(|m| {
                    &m.id == *id
                        && !matches!(m.state, InstanceState::Deleted | InstanceState::Deleting)
                        && (delete_building || m.state != InstanceState::Creating)
                })
            })
            .cloned()
            .collect();
        if !deletable.is_empty() {
            match self.fleets.delete_members(set.fleet_id, &deletable).await {
                Ok(_) => {}
                // A member vanished or is busy since the list: the next observation sorts it out.
                Err(e) if e.is_not_found() || matches!(e, ProviderError::Conflict { .. }) => {
                    debug!(error = %e, "batch delete refused; retrying after the next observation");
                }
                Err(source) => {
                    return Err(Error::DeleteMembers {
                        id: set.fleet_id.to_owned(),
                        ids: deletable.join(", "),
                        source,
                    });
                }
            }
        }
        // Ids just deleted stay recorded until the next observation shows them gone or going.
        let still: Vec<String> = pending
            .into_iter()
            .filter(|id| !removal_done(set.all, id))
            .collect();
        self.w.status.pending_delete = still.clone();
        Ok(still)
    }

    /// Records `victims` as the removal intent (durable first), then carries it out.
    pub async fn remove_members(
        &mut self,
        set: MemberSet<'_>,
        victims: &[String],
        why: Removal,
    ) -> Result<(), Error> {
        for v in victims {
            if !self.w.status.pending_delete.contains(v) {
                self.w.status.pending_delete.push(v.clone());
            }
        }
        self.persist().await?;
        self.settle_removals(set).await?;
        self.persist().await?;
        self.publish(
            EventType::Normal,
            "ScalingIn",
            "Scale",
            format!(
                "removing {} member(s) of edge cloud {} ({}): {}",
                victims.len(),
                set.fleet_id,
                why.why(),
                victims.join(", ")
            ),
        )
        .await;
        Ok(())
    }

    /// Marks member `id` (stuck in BUILD past buildTimeout) for replacement: annotation
    /// `edgefleet.io/replace` on its EdgeInstance. Returns whether it was marked (a member without a
    /// mirror yet is marked in a later pass).
    async fn mark_for_replacement(&mut self, view: &FleetView, id: &str) -> Result<bool, Error> {
        let Some(ei) = view.mirror_of(id) else {
            return Ok(false);
        };
        members::annotate(&self.ei_api, ei, REPLACE_ANNOTATION, BUILD_TIMEOUT)
            .await
            .map_err(members_error("annotate"))?;
        self.publish(
            EventType::Normal,
            "Replacing",
            "Remediate",
            format!(
                "member {id} is still building after spec.remediation.buildTimeout ({}): creating a replacement; it is deleted {}",
                self.ec.spec.remediation.build_timeout,
                if self.caps.instance.delete_while_creating {
                    "at once"
                } else {
                    "once it leaves BUILD"
                }
            ),
        )
        .await;
        Ok(true)
    }

    /// Makes the EdgeInstance mirror match the live members: creates missing mirrors (recording the
    /// fingerprint new members get, see [`fleet::hidden_fingerprint`]), records it on mirrors that have
    /// none (made by an earlier version), releases mirrors whose instance is gone (never while a
    /// person's deletion of the member is in progress, never for members in the removal intent).
    /// Returns how many were created and released.
    pub async fn sync_mirrors(
        &mut self,
        view: &FleetView,
        refs: &ResolvedRefs,
    ) -> Result<(usize, usize), Error> {
        let fingerprint = view.new_members_fingerprint.as_str();
        let mirrored: BTreeSet<&str> = view.mirrors.iter().filter_map(members::instance_id).collect();
        for ei in &view.mirrors {
            if members::fingerprint(ei).is_none() && ei.metadata.deletion_timestamp.is_none() {
                members::annotate(&self.ei_api, ei, TEMPLATE_FINGERPRINT_ANNOTATION, fingerprint)
                    .await
                    .map_err(members_error("annotate"))?;
            }
        }
        let mut created = 0;
        for m in &view.live {
            if !mirrored.contains(m.id.as_str()) {
                let ei = members::mirror(self.ec, m, refs, fingerprint);
                if members::create(&self.ei_api, &ei)
                    .await
                    .map_err(members_error("create"))?
                {
                    created += 1;
                }
            }
        }
        let mut released = 0;
        for ei in &view.mirrors {
            let Some(id) = members::instance_id(ei) else {
                continue;
            };
            if self.w.status.pending_delete.iter().any(|p| p == id)
                || ei.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            let is_live = view.live.iter().any(|m| m.id == id);
            let exists = view.all.iter().any(|m| m.id == id);
            if !is_live && (!exists || removal_done(&view.all, id)) {
                members::release(&self.ei_api, ei)
                    .await
                    .map_err(members_error("release"))?;
                released += 1;
            }
        }
        Ok((created, released))
    }

    // -----------------------------------------------------------------------------------------------------
    // Expansion
    // -----------------------------------------------------------------------------------------------------

    /// Resolves an expansion intent: finds its plan if the id was lost, (re)executes an open plan (once
    /// the edge cloud is inService where the cloud expands only Ready fleets), and clears the intent once
    /// the plan is closed (executed).
    pub async fn progress_expansion(
        &mut self,
        observed: &ObservedFleet,
        template: &InstanceTemplate,
    ) -> Result<Expansion, Error> {
        let Some(pending) = self.w.status.pending_expand.clone() else {
            return Ok(Expansion::Idle);
        };
        let id = observed.id.clone();
        if let Some(job) = self.w.status.job_id.clone() {
            return self.track_job(&id, &job).await;
        }
        let plan_id = match pending.handle.clone() {
            Some(p) => p,
            None => match self
                .adopt_open_plan(|p| p.fleet_id.as_deref() == Some(&id))
                .await?
            {
                Some(p) => {
                    if let Some(x) = self.w.status.pending_expand.as_mut() {
                        x.handle = Some(p.clone());
                    }
                    self.persist().await?;
                    p
                }
                None if elapsed_since(&pending.started_at) < self.ctx.config.recovery_grace => {
                    return Ok(Expansion::InFlight(format!(
                        "an expansion of edge cloud {id} was interrupted; looking for its plan"
                    )));
                }
                None => {
                    self.w.status.pending_expand = None;
                    self.persist().await?;
                    return Ok(Expansion::Idle);
                }
            },
        };
        if self.caps.fleet.expand_only_when_ready && observed.state != FleetState::Ready {
            return Ok(Expansion::InFlight(format!(
                "edge cloud {id} is {} while plan {plan_id} expands it",
                observed.raw_status
            )));
        }
        let open = self
            .fleets
            .find_open_plans()
            .await
            .map_err(|source| Error::Lookup {
                what: "open deployment plans".to_owned(),
                source,
            })?;
        if open.iter().any(|p| p.id == plan_id) {
            // The plan is executed by its id; the request alongside only names the target.
            let request = fleet::plan_request(
                self.ec,
                FleetPlanTarget::Expand { fleet_id: id.clone() },
                &[],
                template,
            );
            return match self.fleets.expand(&plan_id, &request).await {
                Ok(_) => Ok(Expansion::InFlight(format!(
                    "expanding edge cloud {id} with plan {plan_id}"
                ))),
                Err(ProviderError::Conflict { .. } | ProviderError::NotFound { .. }) => Ok(
                    Expansion::InFlight(format!("plan {plan_id} of edge cloud {id} is being executed")),
                ),
                Err(source) => Err(Error::Execute {
                    action: "expand",
                    plan_id,
                    name: fleet::cloud_name(self.ec),
                    source,
                }),
            };
        }
        // Closed: executed. Where the cloud lists the members of an expansion only once its job runs,
        // an expansion interrupted before its job id was recorded waits the recovery grace for them.
        if self.fleets.expansion_lists_members_late()
            && elapsed_since(&pending.started_at) < self.ctx.config.recovery_grace
        {
            return Ok(Expansion::InFlight(format!(
                "an expansion of edge cloud {id} was interrupted before its job was recorded; waiting for the cloud to list its members"
            )));
        }
        // Its members are listed now. Done.
        self.w.status.pending_expand = None;
        self.cleanup_plans().await?;
        self.persist().await?;
        Ok(Expansion::InFlight(format!(
            "edge cloud {id} expanded with plan {plan_id}"
        )))
    }

    /// Starts an expansion: intent, plan (id recorded), expand.
    async fn start_expansion(
        &mut self,
        fleet_id: &str,
        add: &[SiteTarget],
        template: &InstanceTemplate,
    ) -> Result<ExpandStart, Error> {
        let name = fleet::cloud_name(self.ec);
        let mut request = fleet::plan_request(
            self.ec,
            FleetPlanTarget::Expand {
                fleet_id: fleet_id.to_owned(),
            },
            add,
            template,
        );
        let intent = PendingOperation {
            token: format!("expand:{fleet_id}"),
            params_hash: fleet::params_hash(&request),
            started_at: now(),
            handle: None,
        };
        // Where the cloud takes a client token (veEN), the expansion's is made from this intent: an
        // expand retried after a lost answer replays.
        request.identity = fleet::create_identity(self.ec, fleet_id, &intent, self.caps);
        self.w.status.pending_expand = Some(intent);
        // New members are recorded with the fingerprint of the template they are created from.
        self.w.status.members_fingerprint = Some(fleet::hidden_fingerprint(&self.ec.spec));
        self.persist().await?;
        let attempt = match create_plan_for(self.fleets, &request).await {
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
                self.w.status.pending_expand = None;
                self.persist().await?;
                return Err(Error::Plan {
                    purpose: "expansion",
                    name,
                    source,
                });
            }
        };
        let why = attempt.reason;
        let blocked = (!attempt.blocked.is_empty())
            .then(|| format!("no capacity or quota at {}", attempt.blocked.join("; ")));
        let Some((plan, request)) = attempt.plan else {
            self.w.status.pending_expand = None;
            self.persist().await?;
            return Ok(ExpandStart::Blocked(why, blocked.unwrap_or_default()));
        };
        if let Some(p) = self.w.status.pending_expand.as_mut() {
            p.handle = Some(plan.id.clone());
            p.params_hash = fleet::params_hash(&request);
        }
        remember_plan(&mut self.w.status, &plan.id);
        self.persist().await?;
        let add = request.targets.as_slice();
        match self.fleets.expand(&plan.id, &request).await {
            Ok(op) => {
                // Crash safety: the job id is durable before anything else happens.
                if let Some(job) = op.job_id {
                    self.w.status.job_id = Some(job);
                    self.persist().await?;
                }
            }
            // Refused outright for quota or capacity where the plan could not know (veEN: plans are
            // local, CreateInstance checks the quota): nothing was made, the intent goes.
            Err(e) if e.is_capacity() && e.created_nothing() => {
                self.w.status.pending_expand = None;
                self.persist().await?;
                let why = if matches!(e, ProviderError::QuotaExceeded { .. }) {
                    QUOTA_EXCEEDED
                } else {
                    CAPACITY_EXHAUSTED
                };
                let message = format!(
                    "the cloud refused {} more member(s) ({}): {e}",
                    add.iter().map(|t| t.count).sum::<u32>(),
                    describe_targets(add)
                );
                return Ok(ExpandStart::Blocked(why, message));
            }
            Err(source) => {
                return Err(Error::Execute {
                    action: "expand",
                    plan_id: plan.id.clone(),
                    name: name.clone(),
                    source,
                });
            }
        }
        self.publish(
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
            Some(m) => ExpandStart::Partial(why, m),
            None => ExpandStart::Started,
        })
    }

    /// Polls the expansion's cloud job `job`: running → in flight; succeeded → the expansion is done
    /// (intent, job and failure record cleared); failed → recorded in `status.lastJobFailure` (the next
    /// batch waits the backoff) and the intent cleared; a job the cloud no longer knows → done.
    async fn track_job(&mut self, fleet_id: &str, job: &str) -> Result<Expansion, Error> {
        let Some(ops) = self.ops else {
            // A cloud that answers jobs and cannot poll them: its members show the outcome.
            self.finish_job(None).await?;
            return Ok(Expansion::Idle);
        };
        let state = match ops.poll(&OperationHandle::Job(job.to_owned())).await {
            Ok(s) => s,
            Err(e) if e.is_not_found() => OperationState::Succeeded {
                resource_ids: Vec::new(),
            },
            Err(source) => {
                return Err(Error::Observe {
                    id: format!("{fleet_id} (job {job})"),
                    source,
                });
            }
        };
        match state {
            OperationState::Running { progress, state } => {
                let state = state.unwrap_or_else(|| "running".to_owned());
                let progress = progress.map(|p| format!(", {p}%")).unwrap_or_default();
                Ok(Expansion::InFlight(format!(
                    "create job {job} of edge cloud {fleet_id} is {state}{progress}"
                )))
            }
            OperationState::Succeeded { resource_ids } => {
                self.finish_job(None).await?;
                Ok(Expansion::InFlight(format!(
                    "create job {job} of edge cloud {fleet_id} succeeded ({} member(s))",
                    resource_ids.len()
                )))
            }
            OperationState::Failed { code, message } => {
                let attempts = self
                    .w
                    .status
                    .last_job_failure
                    .as_ref()
                    .map_or(0, |f| f.attempts)
                    .saturating_add(1);
                let failure = JobFailure {
                    job_id: job.to_owned(),
                    code,
                    message,
                    at: now(),
                    attempts,
                };
                let text = job_failure_message(fleet_id, &failure);
                self.finish_job(Some(failure)).await?;
                self.publish(EventType::Warning, JOB_FAILED, "Scale", text.clone())
                    .await;
                Ok(Expansion::JobFailed(text))
            }
        }
    }

    /// Ends the expansion whose job finished: the intent and the job id go, `failure` is recorded (or
    /// the record cleared after a success), durably.
    async fn finish_job(&mut self, failure: Option<JobFailure>) -> Result<(), Error> {
        self.w.status.job_id = None;
        self.w.status.pending_expand = None;
        self.w.status.last_job_failure = failure;
        self.cleanup_plans().await?;
        self.persist().await
    }

    // -----------------------------------------------------------------------------------------------------
    // A failed edge cloud
    // -----------------------------------------------------------------------------------------------------

    /// Takes a failed edge cloud apart so it can be deployed again: members first (batch), then the
    /// edge cloud itself. Returns what was done.
    pub async fn redeploy_failed(&mut self, view: &FleetView, teardown: Teardown) -> Result<String, Error> {
        let id = view.fleet.id.as_str();
        if !teardown.new.is_empty() {
            self.remove_members(view.members(), &teardown.new, Removal::FleetFailed)
                .await?;
            return Ok(format!(
                "deleting its {} member(s) to deploy it again",
                teardown.left.len()
            ));
        }
        if !teardown.left.is_empty() {
            return Ok("waiting for its members to be deleted".to_owned());
        }
        match self.fleets.delete(id).await {
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
        self.w.status.pending_expand = None;
        self.w.status.job_id = None;
        self.publish(
            EventType::Warning,
            "Redeploying",
            "Recreate",
            format!("edge cloud {id} failed in the cloud; deleted it to deploy it again"),
        )
        .await;
        Ok("deleted it to deploy it again".to_owned())
    }
}
