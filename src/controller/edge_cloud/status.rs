use super::*;

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

pub(super) fn ids_of<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    ids.into_iter().collect::<Vec<_>>().join(", ")
}

pub(super) fn describe_targets(targets: &[SiteTarget]) -> String {
    targets
        .iter()
        .filter(|t| t.count > 0)
        .map(|t| format!("{} +{}", t.key(), t.count))
        .collect::<Vec<_>>()
        .join(", ")
}

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

pub(super) fn record_fleet(status: &mut EdgeCloudStatus, f: &ObservedFleet) {
    status.edge_cloud_id = Some(f.id.clone());
    status.name = Some(f.name.clone());
    status.cloud_status = Some(f.raw_status.clone());
    status.success_count = i32::try_from(f.success_count).unwrap_or(i32::MAX);
    status.failed_count = i32::try_from(f.failed_count).unwrap_or(i32::MAX);
}

/// The scaling situation a pass ends in (for ScalingBlocked and the outcome).
pub(super) struct Scaling {
    /// ScalingBlocked reason and message, if blocked.
    pub(super) blocked: Option<(&'static str, String)>,
    /// What was done or is in flight, if anything.
    pub(super) activity: Option<String>,
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
