//! The fleet's decisions, pure: from a [`FleetView`], the spec and the cloud's capabilities to the
//! steps a pass takes, each with its reason — build-timeout remediation (mark, then remove), scale-in
//! within the budget (never below `spec.replicas`, never below `replicas − maxUnavailable` Ready),
//! rolling replacement (surge within `maxSurge`, else removal within `maxUnavailable`), in-place image
//! pacing (at most `max(maxUnavailable, 1)` members changing or not Ready), scale-out (blocked where
//! the cloud cannot expand or is busy), the teardown of a failed or deleted edge cloud, and when a
//! running cloud job is polled again ([`job_poll_after`]). No client, no clock: [`super::execute`] runs
//! the steps; the tables in `decide/tests.rs` pin the rules.

use std::collections::BTreeSet;
use std::time::Duration;

use kube::ResourceExt;

use super::fleet::{self, describe_targets};
use super::members;
use super::observe::FleetView;
use crate::api::condition::{STALLED, find_condition, reason};
use crate::api::edge_cloud::{DELETE_FIRST_ANNOTATION, EdgeCloudSpec};
use crate::provider::plan::plan_fleet_scale;
use crate::provider::{Capabilities, FieldChange, FleetState, InstanceState, ObservedInstance, SiteTarget};

/// A ScalingBlocked reason and its message.
pub(super) type Blocked = (&'static str, String);

/// What the decisions need to know of the cloud, read from its [`Capabilities`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CloudModel {
    /// The edge cloud can grow at the fleet's coverage level ([`Capabilities::fleet_can_expand`]).
    pub can_expand: bool,
    /// The cloud expands an edge cloud only while it is `Ready` (inService).
    pub expand_only_when_ready: bool,
    /// The cloud deletes members that are still building.
    pub delete_building_members: bool,
    /// The cloud cannot change a member's image in place (`Capabilities::instance_fields.image` is
    /// `Replace`): an image change replaces members like a flavor change, within the rolling limits.
    pub image_replaces_members: bool,
}

impl CloudModel {
    /// The model of a fleet of `spec` on a cloud with `caps`.
    pub fn of(caps: &Capabilities, spec: &EdgeCloudSpec) -> Self {
        Self {
            can_expand: caps.fleet_can_expand(fleet::level(spec)),
            expand_only_when_ready: caps.fleet.expand_only_when_ready,
            delete_building_members: caps.instance.delete_while_creating,
            image_replaces_members: caps.instance_fields.image == FieldChange::Replace,
        }
    }
}

/// Why members are removed (the event says it; every removal goes through the same intent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Removal {
    /// They stayed building past buildTimeout and their replacements are under way.
    BuildTimeout,
    /// They failed (remediation replaces them).
    Failed,
    /// They run an outdated template (rolling replacement).
    Rolling,
    /// More members than wanted.
    ScaleIn,
    /// The edge cloud failed and is taken apart to be deployed again.
    FleetFailed,
    /// The EdgeCloud is being deleted.
    FleetDeletion,
}

impl Removal {
    /// The reason as the event states it.
    pub fn why(self) -> &'static str {
        match self {
            Self::BuildTimeout => "they stayed building past spec.remediation.buildTimeout and were replaced",
            Self::Failed => "remediation of failed members",
            Self::Rolling => "rolling replacement",
            Self::ScaleIn => "scale-in",
            Self::FleetFailed => "the edge cloud failed",
            Self::FleetDeletion => "deletion of the edge cloud",
        }
    }

    /// What the pass reports while removing `ids` for this reason.
    pub fn activity(self, ids: &[String]) -> String {
        match self {
            Self::BuildTimeout => format!(
                "removing {} member(s) replaced after a build timeout: {}",
                ids.len(),
                ids.join(", ")
            ),
            _ => format!("removing {} member(s)", ids.len()),
        }
    }
}

/// One step of a pass, as decided; [`super::execute`] runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// Mark member `id` (building past buildTimeout) for replacement: annotation on its EdgeInstance.
    /// From then on it counts as going, so the scale plan creates its replacement.
    MarkForReplacement {
        /// Instance id.
        id: String,
    },
    /// Ask the member EdgeInstance `member` for `image` (its controller changes the OS in place).
    SetImage {
        /// EdgeInstance name.
        member: String,
        /// The template's image.
        image: String,
    },
    /// Remove members: the removal intent is written first, then the batch delete.
    Remove {
        /// Instance ids.
        ids: Vec<String>,
        /// Why.
        why: Removal,
    },
    /// Grow the edge cloud by these targets: expansion intent, plan, expand.
    Expand {
        /// Members to add per target (counts > 0).
        add: Vec<SiteTarget>,
    },
}

// ---------------------------------------------------------------------------------------------------------
// Remediation of members building past buildTimeout
// ---------------------------------------------------------------------------------------------------------

/// The remediation budget: failed members and members building past buildTimeout are unhealthy, and
/// are replaced only while no more than `spec.remediation.maxUnhealthy` are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Health {
    /// Failed live members.
    pub failed: i32,
    /// Members building past buildTimeout.
    pub stuck: usize,
    /// maxUnhealthy, scaled to spec.replicas (rounded down).
    pub max_unhealthy: i32,
}

impl Health {
    /// Of the view, against the spec.
    pub fn of(view: &FleetView, spec: &EdgeCloudSpec) -> Self {
        Self {
            failed: view.counts.failed,
            stuck: view.stuck.len(),
            max_unhealthy: fleet::scaled_value(&spec.remediation.max_unhealthy(), spec.replicas, false),
        }
    }

    /// Unhealthy members.
    pub fn unhealthy(&self) -> i32 {
        self.failed + i32::try_from(self.stuck).unwrap_or(i32::MAX)
    }

    /// Whether unhealthy members are replaced (within maxUnhealthy).
    pub fn remediate(&self) -> bool {
        self.unhealthy() <= self.max_unhealthy
    }

    /// ScalingBlocked `TooManyUnhealthy`, when remediation stops.
    fn blocked(&self) -> Option<Blocked> {
        (!self.remediate()).then(|| {
            (
                reason::TOO_MANY_UNHEALTHY,
                format!(
                    "{} members are unhealthy ({} failed, {} building past spec.remediation.buildTimeout), more than spec.remediation.maxUnhealthy allows ({}); they are not replaced",
                    self.unhealthy(),
                    self.failed,
                    self.stuck,
                    self.max_unhealthy
                ),
            )
        })
    }
}

/// What build-timeout remediation does in a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Remediation {
    /// The budget.
    pub health: Health,
    /// Stuck members to mark now (those with an EdgeInstance; the others are marked in a later pass).
    pub mark: Vec<Step>,
    /// Marked members the cloud lets go now, unless a removal or an expansion is in flight (`busy`).
    pub remove: Option<Step>,
}

/// Build-timeout remediation ([`fleet::plan_build_remediation`]): marks stuck members within the
/// budget, and removes marked members once the cloud can delete them (at once where it deletes
/// building members, else once they left BUILD) when nothing else is in flight.
pub(super) fn remediate(
    view: &FleetView,
    spec: &EdgeCloudSpec,
    cloud: CloudModel,
    busy: bool,
) -> Remediation {
    let health = Health::of(view, spec);
    let remedy = fleet::plan_build_remediation(
        &view.live_refs(),
        &view.replacing,
        &view.stuck_refs(),
        health.remediate(),
        cloud.delete_building_members,
    );
    let mark = remedy
        .mark
        .into_iter()
        .filter(|id| view.mirror_of(id).is_some())
        .map(|id| Step::MarkForReplacement { id })
        .collect();
    let remove = (!busy && !remedy.remove.is_empty()).then_some(Step::Remove {
        ids: remedy.remove,
        why: Removal::BuildTimeout,
    });
    Remediation { health, mark, remove }
}

// ---------------------------------------------------------------------------------------------------------
// Scaling, rolling replacement and image pacing
// ---------------------------------------------------------------------------------------------------------

/// What the scale decision reads.
#[derive(Debug, Clone, Copy)]
pub(super) struct ScaleInput<'a> {
    /// The pass's view (with the members marked in this pass counted as being replaced).
    pub view: &'a FleetView,
    /// The spec.
    pub spec: &'a EdgeCloudSpec,
    /// Resolved placement targets.
    pub targets: &'a [SiteTarget],
    /// The template's VPC id.
    pub vpc_id: &'a str,
    /// What the cloud can do.
    pub cloud: CloudModel,
    /// The remediation budget.
    pub health: Health,
}

/// The scale decision of a pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ScaleDecision {
    /// In order: image changes, one removal, one expansion.
    pub steps: Vec<Step>,
    /// Why scaling is blocked, if it is.
    pub blocked: Option<Blocked>,
    /// What a rollout is doing (the outcome's detail when nothing else is under way).
    pub note: Option<String>,
}

/// How many healthy members may go: members beyond spec.replicas (`live`), and of those Ready ones
/// beyond replicas − maxUnavailable (`ready`). Failed members go regardless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Budget {
    live: i32,
    ready: i32,
}

impl Budget {
    /// Whether a member (Ready or not) may go now; takes it from the budget if so.
    fn take(&mut self, is_ready: bool) -> bool {
        if self.live > 0 && (!is_ready || self.ready > 0) {
            self.live -= 1;
            if is_ready {
                self.ready -= 1;
            }
            return true;
        }
        false
    }
}

/// The scale decision: the scale plan ([`plan_fleet_scale`]) filtered by the budget, then rolling
/// replacement once the counts match, in-place image pacing, and the expansion gate.
pub(super) fn scale(input: &ScaleInput<'_>) -> ScaleDecision {
    let ScaleInput {
        view,
        spec,
        targets,
        vpc_id,
        cloud,
        health,
    } = *input;
    let live = view.live_refs();
    let counts = view.counts;
    // Members that need replacing (template changes the cloud cannot apply in place) go first on
    // scale-in, like members annotated delete-first.
    let outdated: Vec<&ObservedInstance> = live
        .iter()
        .copied()
        .filter(|m| !view.replacing.contains(&m.id))
        .filter(|m| {
            fleet::needs_replacement(m, spec, vpc_id)
                || view.stale.contains(&m.id)
                || (cloud.image_replaces_members && !fleet::is_updated(m, spec))
        })
        .collect();
    let mut delete_first: BTreeSet<String> = view
        .mirrors
        .iter()
        .filter(|ei| ei.annotations().contains_key(DELETE_FIRST_ANNOTATION))
        .filter_map(|ei| members::instance_id(ei).map(str::to_owned))
        .collect();
    delete_first.extend(outdated.iter().map(|m| m.id.clone()));
    let views = fleet::member_views(spec, targets, &live, &delete_first, &view.replacing);
    let mut decision = ScaleDecision {
        blocked: health.blocked(),
        ..ScaleDecision::default()
    };
    let can_expand = cloud.can_expand;
    let plan = plan_fleet_scale(
        targets,
        &views,
        fleet::delete_policy(spec.delete_policy),
        health.remediate(),
        can_expand,
    );
    let failed: BTreeSet<&str> = views.iter().filter(|v| v.failed).map(|v| v.id.as_str()).collect();
    let ready: BTreeSet<&str> = views
        .iter()
        .filter(|v| v.healthy)
        .map(|v| v.id.as_str())
        .collect();
    // Never below the spec. Members being replaced after a build timeout are not counted (they go anyway).
    let replacing_live = i32::try_from(view.replacing_live()).unwrap_or(0);
    let mut budget = Budget {
        live: (counts.replicas - counts.failed - replacing_live - spec.replicas).max(0),
        ready: (counts.ready - fleet::min_available(spec)).max(0),
    };
    let mut victims: Vec<String> = plan
        .remove
        .iter()
        .filter(|v| failed.contains(v.as_str()) || budget.take(ready.contains(v.as_str())))
        .cloned()
        .collect();
    // Rolling replacement once the counts match: surge new members where outdated ones run (maxSurge),
    // or, with no surge room left, remove outdated members while enough stay Ready (maxUnavailable); the
    // scale plan then replaces or trims them.
    let surge = fleet::scaled_value(&spec.strategy.rolling_update.max_surge(), spec.replicas, true);
    let mut add = plan.add;
    let rolling = add.is_empty() && plan.remove.is_empty() && !outdated.is_empty();
    if rolling && !can_expand {
        decision.blocked = Some((
            reason::EXPAND_NOT_SUPPORTED,
            format!(
                "{} member(s) need replacing for the new template, but the cloud cannot expand {:?}-level edge clouds",
                outdated.len(),
                spec.coverage.level
            ),
        ));
    } else if rolling && counts.replicas < spec.replicas + surge {
        let room = usize::try_from(spec.replicas + surge - counts.replicas).unwrap_or(0);
        add = fleet::replacement_targets(spec, targets, &outdated, room);
    } else if rolling {
        let mut old: Vec<&&ObservedInstance> = outdated.iter().collect();
        old.sort_by_key(|m| (ready.contains(m.id.as_str()), m.id.clone()));
        for m in old {
            let is_ready = ready.contains(m.id.as_str());
            if is_ready && budget.ready == 0 {
                break;
            }
            if is_ready {
                budget.ready -= 1;
            }
            victims.push(m.id.clone());
        }
    }
    if rolling {
        decision.note = Some(format!(
            "{} member(s) with an outdated template are being replaced",
            outdated.len()
        ));
    }
    let (image_steps, image_note) = if cloud.image_replaces_members {
        (Vec::new(), None)
    } else {
        image_rollout(view, spec, vpc_id)
    };
    decision.steps.extend(image_steps);
    if image_note.is_some() {
        decision.note = image_note;
    }
    if !victims.is_empty() {
        let why = if victims.iter().all(|v| failed.contains(v.as_str())) {
            Removal::Failed
        } else if victims.iter().all(|v| delete_first.contains(v)) && !outdated.is_empty() {
            Removal::Rolling
        } else {
            Removal::ScaleIn
        };
        decision.steps.push(Step::Remove { ids: victims, why });
    }
    if let Some(b) = plan.blocked {
        decision.blocked = Some((
            reason::EXPAND_NOT_SUPPORTED,
            format!(
                "{b}: the cloud cannot expand {:?}-level edge clouds",
                spec.coverage.level
            ),
        ));
    } else if !add.is_empty() {
        match expansion_gate(view, cloud, &add) {
            Some(busy) => decision.blocked = Some(busy),
            None => decision.steps.push(Step::Expand { add }),
        }
    }
    decision
}

/// ScalingBlocked `EdgeCloudBusy` when the cloud expands only `Ready` fleets and this one is not.
fn expansion_gate(view: &FleetView, cloud: CloudModel, add: &[SiteTarget]) -> Option<Blocked> {
    (cloud.expand_only_when_ready && view.fleet.state != FleetState::Ready).then(|| {
        (
            reason::EDGE_CLOUD_BUSY,
            format!(
                "edge cloud {} is {}; {} waits until it is inService",
                view.fleet.id,
                view.fleet.raw_status,
                describe_targets(add)
            ),
        )
    })
}

/// Image changes are applied in place by the members' controller, a few at a time: at most
/// max(maxUnavailable, 1) members changing or not Ready at once. Returns the image requests to make
/// now (in mirror order) and what the rollout is doing.
fn image_rollout(view: &FleetView, spec: &EdgeCloudSpec, vpc_id: &str) -> (Vec<Step>, Option<String>) {
    let image_old: BTreeSet<&str> = view
        .live
        .iter()
        .filter(|m| !view.replacing.contains(&m.id))
        .filter(|m| fleet::image_outdated(m, spec, vpc_id, &view.stale))
        .map(|m| m.id.as_str())
        .collect();
    if image_old.is_empty() {
        return (Vec::new(), None);
    }
    let image = &spec.template.image;
    let old_mirrors: Vec<_> = view
        .mirrors
        .iter()
        .filter(|ei| members::instance_id(ei).is_some_and(|i| image_old.contains(i)))
        .collect();
    let asked = old_mirrors.iter().filter(|ei| &ei.spec.image == image).count();
    let limit = usize::try_from(
        fleet::scaled_value(
            &spec.strategy.rolling_update.max_unavailable(),
            spec.replicas,
            false,
        )
        .max(1),
    )
    .unwrap_or(1);
    let not_ready = usize::try_from(view.counts.replicas - view.counts.ready).unwrap_or(0);
    let room = limit.saturating_sub(asked.max(not_ready));
    let steps = old_mirrors
        .iter()
        .filter(|ei| &ei.spec.image != image)
        .take(room)
        .map(|ei| Step::SetImage {
            member: ei.name_any(),
            image: image.clone(),
        })
        .collect();
    let stalled: Vec<String> = old_mirrors
        .iter()
        .filter_map(|ei| {
            let c = find_condition(&ei.status.as_ref()?.conditions, STALLED)?;
            c.is_true()
                .then(|| format!("member {} is stalled: {}", ei.name_any(), c.message))
        })
        .collect();
    let note = format!(
        "changing the image of {} member(s) in place (their EdgeInstances change the OS){}",
        image_old.len(),
        if stalled.is_empty() {
            String::new()
        } else {
            format!("; {}", stalled.join("; "))
        }
    );
    (steps, Some(note))
}

// ---------------------------------------------------------------------------------------------------------
// Teardown (a failed edge cloud, or the EdgeCloud's deletion)
// ---------------------------------------------------------------------------------------------------------

/// Where the members stand when an edge cloud is taken apart: members first, then the edge cloud.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Teardown {
    /// Members not deleted or being deleted yet.
    pub left: Vec<String>,
    /// Of those, the ones not in the removal intent yet (to remove now).
    pub new: Vec<String>,
    /// Some member is being deleted.
    pub going: bool,
}

/// The teardown of `all` given the removal intent `pending_delete`.
pub(super) fn teardown(all: &[ObservedInstance], pending_delete: &[String]) -> Teardown {
    let left: Vec<String> = all
        .iter()
        .filter(|m| !matches!(m.state, InstanceState::Deleted | InstanceState::Deleting))
        .map(|m| m.id.clone())
        .collect();
    let new = left
        .iter()
        .filter(|m| !pending_delete.contains(m))
        .cloned()
        .collect();
    let going = all.iter().any(|m| matches!(m.state, InstanceState::Deleting));
    Teardown { left, new, going }
}

/// The soonest a cloud job is polled again: the first poll of a job the pass has just sent.
pub(super) const FIRST_JOB_POLL: Duration = Duration::from_secs(2);

/// When to poll a cloud job (`status.jobId`, the expansion's create-servers job) that has run for
/// `running_for` so far: after as long again, at least [`FIRST_JOB_POLL`] and at most `pending` (the
/// pending interval). A job just sent is polled after 2 s, then about 4, 8, … s after it started, until
/// the pending interval caps the wait: a job of a few seconds (the Workspace emulator's take 4–5 s) is
/// seen done within about twice its run time instead of after a whole pending interval, and a long job
/// costs a handful of extra polls at its start.
pub(super) fn job_poll_after(running_for: Duration, pending: Duration) -> Duration {
    running_for.clamp(FIRST_JOB_POLL.min(pending), pending)
}

#[cfg(test)]
mod tests;
