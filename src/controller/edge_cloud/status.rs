//! The EdgeCloud's status: the working copy and its durable mid-pass writes ([`persist`], which never
//! lets a stale Ready=True out, see [`withdraw_stale_ready`]), the edge cloud's record, member counts
//! and placement rows, the `Available` and `ScalingBlocked` conditions, and the pass's [`Outcome`].
//! Pure except [`persist`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::decide::{Blocked, CloudModel};
use super::fleet::{self, ids_of};
use super::observe::FleetView;
use super::{BUILD_TIMEOUT, CAPACITY_EXHAUSTED, Error};
use crate::api::common::ManagementPolicy;
use crate::api::condition::{
    AVAILABLE, Condition, ConditionStatus, READY, SCALING_BLOCKED, find_condition, reason, set_condition,
};
use crate::api::edge_cloud::{EdgeCloud, EdgeCloudSpec, EdgeCloudStatus};
use crate::controller::runtime::{Outcome, StatusWriter, conditions_for_outcome, now};
use crate::operator::SiteReplicas;
use crate::provider::{FleetState, ObservedFleet, SiteTarget};

/// The status working copy of a pass.
pub(super) type Writer = StatusWriter<EdgeCloud, EdgeCloudStatus>;

/// Writes the working copy now: a durable step in the middle of a pass (an intent before a cloud call,
/// an id right after it). The working copy already holds this pass's counts but still the previous
/// pass's conditions, so a stale Ready=True is withdrawn first ([`withdraw_stale_ready`]): every status
/// write carries conditions consistent with the counts it writes, also when the operator dies before
/// the pass's closing write.
pub(super) async fn persist(w: &mut Writer) -> Result<(), Error> {
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
pub(super) fn withdraw_stale_ready(
    status: &mut EdgeCloudStatus,
    wanted: i32,
    generation: Option<i64>,
    at: &Time,
) {
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

/// Sets a condition other than Ready/Reconciling/Stalled/Synced (those follow the outcome).
pub(super) fn set_extra_condition(
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

fn set_available(status: &mut EdgeCloudStatus, generation: Option<i64>, available: bool, message: &str) {
    let why = if available {
        reason::MINIMUM_REPLICAS_AVAILABLE
    } else {
        reason::MINIMUM_REPLICAS_UNAVAILABLE
    };
    set_extra_condition(status, generation, AVAILABLE, available, why, message);
}

/// Records what the cloud shows of the edge cloud itself.
pub(super) fn record_fleet(status: &mut EdgeCloudStatus, f: &ObservedFleet) {
    status.edge_cloud_id = Some(f.id.clone());
    status.name = Some(f.name.clone());
    status.cloud_status = Some(f.raw_status.clone());
    status.success_count = i32::try_from(f.success_count).unwrap_or(i32::MAX);
    status.failed_count = i32::try_from(f.failed_count).unwrap_or(i32::MAX);
}

/// Conditions of a pass that ends before the edge cloud can be observed (creating, paused, no
/// capacity yet; `blocked` lists the locations refused for capacity or quota).
pub(super) fn waiting_conditions(
    status: &mut EdgeCloudStatus,
    spec: &EdgeCloudSpec,
    generation: Option<i64>,
    blocked: &[String],
) {
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
    set_extra_condition(status, generation, SCALING_BLOCKED, is_blocked, why, &message);
    set_available(status, generation, spec.replicas == 0, "");
}

/// Member counts, placement rows and `Available` from the view.
pub(super) fn record_counts(
    status: &mut EdgeCloudStatus,
    spec: &EdgeCloudSpec,
    generation: Option<i64>,
    targets: &[SiteTarget],
    view: &FleetView,
) {
    let counts = view.counts;
    status.replicas = counts.replicas;
    status.ready_replicas = counts.ready;
    status.available_replicas = counts.available;
    status.updated_replicas = counts.updated;
    status.placements = fleet::placement_rows(spec, targets, &view.live_refs());
    let min_available = fleet::min_available(spec);
    set_available(
        status,
        generation,
        counts.available >= min_available,
        &format!(
            "{} of {} members available (at least {min_available} required)",
            counts.available, spec.replicas
        ),
    );
}

/// The per-location desired and ready counts, for the fleet metrics.
pub(super) fn site_replicas(status: &EdgeCloudStatus) -> Vec<SiteReplicas> {
    status
        .placements
        .iter()
        .map(|p| SiteReplicas {
            site: crate::provider::placement_key(&p.location, p.operator.as_deref()),
            desired: i64::from(p.desired),
            ready: i64::from(p.ready),
        })
        .collect()
}

/// What running one step reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct StepReport {
    /// What is now under way.
    pub activity: Option<String>,
    /// Why scaling is blocked (found while running it).
    pub blocked: Option<Blocked>,
}

/// The scaling situation a pass ends in (for ScalingBlocked and the outcome).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Scaling {
    /// ScalingBlocked reason and message, if blocked.
    pub blocked: Option<Blocked>,
    /// What was done or is in flight, if anything.
    pub activity: Option<String>,
    /// What a rollout is doing (said when nothing else is).
    pub note: Option<String>,
    /// An expansion is in flight.
    pub expanding: bool,
}

impl Scaling {
    /// At the start of the acting part of a pass: `removing` are the removals still in flight.
    pub fn new(removing: &[String]) -> Self {
        Self {
            activity: (!removing.is_empty()).then(|| format!("removing members {}", removing.join(", "))),
            ..Self::default()
        }
    }

    /// Takes in what a step reported (the latest word wins).
    pub fn fold(&mut self, report: StepReport) {
        if report.activity.is_some() {
            self.activity = report.activity;
        }
        if report.blocked.is_some() {
            self.blocked = report.blocked;
        }
    }

    /// Members building past buildTimeout stay reported while they wait (unless something more
    /// pressing blocks scaling; an edge cloud busy with them says less).
    pub fn report_stuck(
        &mut self,
        view: &FleetView,
        spec: &EdgeCloudSpec,
        cloud: CloudModel,
        observe_only: bool,
    ) {
        let report = self
            .blocked
            .as_ref()
            .is_none_or(|(r, _)| *r == reason::EDGE_CLOUD_BUSY);
        if !report || view.stuck.is_empty() {
            return;
        }
        let replaced: Vec<&str> = view
            .stuck
            .iter()
            .filter(|id| view.replacing.contains(*id))
            .map(String::as_str)
            .collect();
        let what = if observe_only {
            "managementPolicy is ObserveOnly, so they are not replaced".to_owned()
        } else if replaced.is_empty() {
            "they are replaced when the remediation budget allows".to_owned()
        } else {
            let when = if cloud.expand_only_when_ready {
                " once the edge cloud is inService"
            } else {
                ""
            };
            let gone = if cloud.delete_building_members {
                "each is deleted at once"
            } else {
                "the cloud cannot delete a building instance, so each is deleted as soon as it leaves BUILD"
            };
            format!(
                "being replaced: {} (a replacement is created where each runs{when}; {gone})",
                replaced.join(", ")
            )
        };
        self.blocked = Some((
            BUILD_TIMEOUT,
            format!(
                "{} member(s) still building after spec.remediation.buildTimeout ({}): {}; {what}",
                view.stuck.len(),
                spec.remediation.build_timeout,
                ids_of(view.stuck.iter().map(String::as_str))
            ),
        ));
    }

    /// Writes ScalingBlocked. While an expansion runs, a location found without capacity stays
    /// reported until the next plan shows whether it has capacity again (no flapping).
    pub fn write_condition(&self, status: &mut EdgeCloudStatus, generation: Option<i64>) {
        let keep_capacity_report = self.expanding
            && find_condition(&status.conditions, SCALING_BLOCKED)
                .is_some_and(|c| c.is_true() && c.reason == CAPACITY_EXHAUSTED);
        match &self.blocked {
            Some((r, m)) => set_extra_condition(status, generation, SCALING_BLOCKED, true, r, m),
            None if keep_capacity_report => {}
            None => set_extra_condition(
                status,
                generation,
                SCALING_BLOCKED,
                false,
                reason::SCALING_POSSIBLE,
                "",
            ),
        }
    }
}

/// The outcome of a pass that observed the edge cloud.
pub(super) fn outcome(
    view: &FleetView,
    spec: &EdgeCloudSpec,
    status: &EdgeCloudStatus,
    scaling: &Scaling,
    observe_only: bool,
) -> Outcome {
    let (counts, fleet) = (view.counts, &view.fleet);
    let summary = format!(
        "edge cloud {} is {}: {} of {} members ready, {} up to date",
        fleet.id, fleet.raw_status, counts.ready, spec.replicas, counts.updated
    );
    let converged = counts.replicas == spec.replicas
        && counts.ready == spec.replicas
        && counts.updated == spec.replicas
        && fleet.state == FleetState::Ready
        && status.pending_expand.is_none()
        && status.pending_delete.is_empty()
        && view.replacing_live() == 0;
    if observe_only {
        return Outcome::Ready {
            reason: reason::OBSERVED,
            message: format!("observing {summary}"),
        };
    }
    if converged {
        return Outcome::available(summary);
    }
    if fleet.state == FleetState::Creating {
        return Outcome::progressing(reason::CREATING, reason::IN_PROGRESS, summary);
    }
    if let Some((r, m)) = &scaling.blocked
        && scaling.activity.is_none()
    {
        let ready_reason = if *r == reason::PAUSED {
            reason::UPDATING
        } else {
            reason::UNAVAILABLE
        };
        return Outcome::progressing(ready_reason, reason::SCALING, format!("{summary}; {m}"));
    }
    let detail = scaling
        .activity
        .clone()
        .or_else(|| scaling.note.clone())
        .unwrap_or_else(|| "waiting for members".to_owned());
    let reconciling = if counts.updated < counts.replicas && counts.replicas >= spec.replicas {
        reason::ROLLING_UPDATE
    } else {
        reason::SCALING
    };
    Outcome::progressing(reason::UPDATING, reconciling, format!("{summary}; {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::PendingOperation;
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
