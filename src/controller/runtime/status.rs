//! Status writes: the one patch replacing `/status` ([`patch_status`], field manager
//! [`FIELD_MANAGER`]), the [`StatusWriter`] a reconcile pass works through (persist an intent mid-pass,
//! then finish with an [`Outcome`] or an error), and the mapping of outcomes and errors onto the
//! condition contract (Ready, Synced, Reconciling, Stalled) with events on transitions.
//!
//! Rules kept here so no controller can break them: `observedGeneration` is set on every finish;
//! `lastTransitionTime` moves only when a condition's status flips ([`set_condition`]); nothing is written
//! when the status is unchanged (so a pass that changes nothing makes no write and no watch event); no
//! wall-clock value other than transition times and intent start times enters status.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::warn;

use super::config::{Intervals, with_jitter};
use super::context::Context;
use super::error::{ErrorClass, ReconcileError, error_chain};
use crate::api::FIELD_MANAGER;
use crate::api::common::ManagedStatus;
use crate::api::condition::{
    Condition, ConditionStatus, READY, RECONCILING, STALLED, SYNCED, find_condition, reason, set_condition,
};
use crate::api::provider_config::ProviderConfigStatus;
use crate::controller::events::EventType;

/// Status types whose conditions and observedGeneration the runtime maintains.
pub trait HasConditions {
    /// The conditions.
    fn conditions(&self) -> &[Condition];
    /// The conditions, mutably.
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    /// Records the generation acted on.
    fn set_generation(&mut self, generation: Option<i64>);
}

impl<T: ManagedStatus> HasConditions for T {
    fn conditions(&self) -> &[Condition] {
        ManagedStatus::conditions(self)
    }
    fn conditions_mut(&mut self) -> &mut Vec<Condition> {
        ManagedStatus::conditions_mut(self)
    }
    fn set_generation(&mut self, generation: Option<i64>) {
        self.set_observed_generation(generation);
    }
}

impl HasConditions for ProviderConfigStatus {
    fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
    fn conditions_mut(&mut self) -> &mut Vec<Condition> {
        &mut self.conditions
    }
    fn set_generation(&mut self, generation: Option<i64>) {
        self.observed_generation = generation;
    }
}

/// Replaces the `/status` of `name` with `status` (a JSON patch `add /status`, as [`FIELD_MANAGER`]):
/// the controller is the only writer of its kinds' status, so the whole status is written and fields
/// absent from `status` are removed. A plain patch rather than server-side apply: the apiserver's
/// structured merge for an apply costs it measurably more per write (docs/benchmarks.md), for an
/// ownership that nobody shares here.
pub async fn patch_status<K, S>(api: &Api<K>, name: &str, status: &S) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    S: Serialize,
{
    let body = serde_json::json!([{"op": "add", "path": "/status", "value": status}]);
    let patch: json_patch::Patch = serde_json::from_value(body).map_err(kube::Error::SerdeError)?;
    api.patch_status(
        name,
        &PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        },
        &Patch::Json::<()>(patch),
    )
    .await
}

/// The current time as a condition/intent timestamp.
pub fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

/// Milliseconds elapsed since `t` (0 if `t` is in the future).
pub fn elapsed_since(t: &Time) -> Duration {
    let ms = k8s_openapi::jiff::Timestamp::now().as_millisecond() - t.0.as_millisecond();
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// How a successful pass ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The object is usable as specified (Ready=True). Requeued after the poll interval for drift.
    Ready {
        /// Ready reason (`Available`, `Observed`).
        reason: &'static str,
        /// Ready message.
        message: String,
    },
    /// Work is in progress (Ready=False, Reconciling=True). Requeued after the pending interval.
    Progressing {
        /// Ready reason (`Creating`, `Updating`, `Deleting`, `WaitingForDependency`, ...).
        ready_reason: &'static str,
        /// Reconciling reason (`InProgress`, `Recovering`, `WaitingForDependency`).
        reconciling_reason: &'static str,
        /// What is in progress.
        message: String,
    },
}

impl Outcome {
    /// Ready=True with reason `Available`.
    pub fn available(message: impl Into<String>) -> Self {
        Self::Ready {
            reason: reason::AVAILABLE,
            message: message.into(),
        }
    }

    /// Work in progress.
    pub fn progressing(
        ready_reason: &'static str,
        reconciling_reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::Progressing {
            ready_reason,
            reconciling_reason,
            message: message.into(),
        }
    }
}

/// Removes ` (request id ...)` parts from a message: request ids differ per call and would make every
/// retry of the same failure a status change (and an event).
pub fn stable_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(" (request id ") {
        out.push_str(&rest[..start]);
        match rest[start..].find(')') {
            Some(end) => rest = &rest[start + end + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Sets Ready/Synced/Reconciling/Stalled for a successful pass.
pub fn conditions_for_outcome(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    outcome: &Outcome,
    at: &Time,
) {
    let cond = |t: &str, s: ConditionStatus, r: &str, m: &str| Condition::new(t, s, r, m, generation);
    match outcome {
        Outcome::Ready { reason: r, message } => {
            set_condition(conditions, cond(READY, ConditionStatus::True, r, message), at);
            set_condition(
                conditions,
                cond(RECONCILING, ConditionStatus::False, reason::IDLE, ""),
                at,
            );
        }
        Outcome::Progressing {
            ready_reason,
            reconciling_reason,
            message,
        } => {
            set_condition(
                conditions,
                cond(READY, ConditionStatus::False, ready_reason, message),
                at,
            );
            set_condition(
                conditions,
                cond(RECONCILING, ConditionStatus::True, reconciling_reason, message),
                at,
            );
        }
    }
    set_condition(
        conditions,
        cond(SYNCED, ConditionStatus::True, reason::RECONCILE_SUCCESS, ""),
        at,
    );
    set_condition(
        conditions,
        cond(STALLED, ConditionStatus::False, reason::NOT_STALLED, ""),
        at,
    );
}

/// Sets Ready/Synced/Reconciling/Stalled for a failed pass. Ready is never True while Synced is False.
pub fn conditions_for_error<E: ReconcileError>(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    err: &E,
    deleting: bool,
    at: &Time,
) {
    let message = stable_message(&error_chain(err));
    let cond = |t: &str, s: ConditionStatus, r: &str, m: &str| Condition::new(t, s, r, m, generation);
    let class = err.class();
    if let ErrorClass::Pending(_) = class {
        // Waiting for the cloud is progress, not a failure: Synced stays True.
        let ready_reason = if deleting {
            reason::DELETING
        } else {
            reason::UPDATING
        };
        let outcome = Outcome::progressing(ready_reason, reason::IN_PROGRESS, message);
        conditions_for_outcome(conditions, generation, &outcome, at);
        return;
    }
    let synced_reason = match class {
        ErrorClass::Throttled(_) => reason::THROTTLED,
        _ => reason::RECONCILE_ERROR,
    };
    let ready_reason = if deleting {
        reason::DELETING
    } else {
        err.ready_reason().unwrap_or(synced_reason)
    };
    set_condition(
        conditions,
        cond(SYNCED, ConditionStatus::False, synced_reason, &message),
        at,
    );
    set_condition(
        conditions,
        cond(READY, ConditionStatus::False, ready_reason, &message),
        at,
    );
    let stalled = match (class, err.stalled_reason()) {
        (_, Some(r)) => Some(r),
        (ErrorClass::Stalled { .. }, None) => Some(reason::INVALID_SPEC),
        _ => None,
    };
    match stalled {
        Some(r) => {
            set_condition(conditions, cond(STALLED, ConditionStatus::True, r, &message), at);
            set_condition(
                conditions,
                cond(RECONCILING, ConditionStatus::False, reason::IDLE, ""),
                at,
            );
        }
        None => {
            set_condition(
                conditions,
                cond(STALLED, ConditionStatus::False, reason::NOT_STALLED, ""),
                at,
            );
            let r = match err.ready_reason() {
                Some(reason::WAITING_FOR_DEPENDENCY) => reason::WAITING_FOR_DEPENDENCY,
                _ => reason::IN_PROGRESS,
            };
            set_condition(
                conditions,
                cond(RECONCILING, ConditionStatus::True, r, &message),
                at,
            );
        }
    }
}

/// The status of one object during one reconcile pass: the last written value and the working copy.
///
/// Mutate [`StatusWriter::status`]; call [`StatusWriter::persist`] when a value must be durable before
/// the next step (a crash-safety intent before a create, the returned cloud id right after it); end the
/// pass with [`StatusWriter::finish`] or [`StatusWriter::finish_error`], which set the conditions and
/// write once if anything changed.
pub struct StatusWriter<K, S>
where
    K: Resource<DynamicType = ()>,
{
    api: Api<K>,
    obj: Arc<K>,
    written: S,
    /// The working copy of the status.
    pub status: S,
    deleting: bool,
    note: Option<Note>,
}

/// A Normal event a pass announces with its closing write (see [`StatusWriter::note`]).
#[derive(Debug, Clone)]
pub struct Note {
    /// Event reason, e.g. `Created`.
    pub reason: &'static str,
    /// Event action, e.g. `Create`.
    pub action: &'static str,
    /// What happened.
    pub message: String,
}

impl<K, S> StatusWriter<K, S>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync,
    S: HasConditions + Serialize + Clone + PartialEq + Default + Debug,
{
    /// A writer for `obj` whose current status is `current`.
    pub fn new(api: Api<K>, obj: Arc<K>, current: Option<&S>) -> Self {
        let written = current.cloned().unwrap_or_default();
        let deleting = obj.meta().deletion_timestamp.is_some();
        Self {
            api,
            obj,
            status: written.clone(),
            written,
            deleting,
            note: None,
        }
    }

    /// Announces `note` as a Normal event when the pass ends ([`StatusWriter::finish`] or
    /// [`StatusWriter::finish_error`]). When the same pass makes the object Ready, the note and the Ready
    /// transition are one event (reason of the note, both messages): an instance created and Ready in one
    /// pass costs one event, not two. A crash before the end of the pass loses the note (events are
    /// best-effort; status is the record).
    pub fn note(&mut self, reason: &'static str, action: &'static str, message: String) {
        self.note = Some(Note {
            reason,
            action,
            message,
        });
    }

    /// The API of the object being reconciled (for writes besides status: its finalizer, an intent).
    pub fn api(&self) -> &Api<K> {
        &self.api
    }

    /// The object being reconciled.
    pub fn object(&self) -> &K {
        &self.obj
    }

    /// The status as last written (or as read at the start of the pass).
    pub fn written(&self) -> &S {
        &self.written
    }

    /// Starts over from `current`, the object's status as just read from the API server: for a pass
    /// that finds it began from a cached copy older than the previous pass's writes (the watch had not
    /// delivered them yet), so that its closing write builds on them instead of undoing them.
    pub fn rebase(&mut self, current: Option<&S>) {
        self.written = current.cloned().unwrap_or_default();
        self.status = self.written.clone();
    }

    /// Writes the working copy now if it differs from what was last written.
    pub async fn persist(&mut self) -> Result<(), kube::Error> {
        if self.status != self.written {
            patch_status(&self.api, &self.obj.name_any(), &self.status).await?;
            self.written = self.status.clone();
        }
        Ok(())
    }

    /// Like [`StatusWriter::persist`], with the conditions of `outcome` already set: for a durable step
    /// (a cloud id right after a create) that is also where the pass ends, so that the closing
    /// [`StatusWriter::finish`] with the same outcome has nothing left to write — one status write
    /// instead of two per create (docs/benchmarks.md).
    pub async fn persist_with_outcome(&mut self, outcome: &Outcome) -> Result<(), kube::Error> {
        let generation = self.obj.meta().generation;
        self.status.set_generation(generation);
        conditions_for_outcome(self.status.conditions_mut(), generation, outcome, &now());
        self.persist().await
    }

    async fn write_and_announce(&mut self, ctx: &Context) -> Result<(), kube::Error> {
        let before = self.written.clone();
        let note = self.note.take();
        if let Err(e) = self.persist().await {
            if let Some(note) = note {
                publish_note(ctx, self.obj.as_ref(), note).await;
            }
            return Err(e);
        }
        announce_transitions(
            ctx,
            self.obj.as_ref(),
            before.conditions(),
            self.status.conditions(),
            note,
        )
        .await;
        Ok(())
    }

    /// Ends a successful pass: sets the conditions for `outcome`, writes if changed, publishes transition
    /// events, and returns the requeue (poll interval for Ready, pending interval otherwise, jittered).
    pub async fn finish(
        mut self,
        ctx: &Context,
        outcome: Outcome,
        intervals: Intervals,
    ) -> Result<Action, kube::Error> {
        let generation = self.obj.meta().generation;
        self.status.set_generation(generation);
        conditions_for_outcome(self.status.conditions_mut(), generation, &outcome, &now());
        self.write_and_announce(ctx).await?;
        Ok(match outcome {
            Outcome::Ready { .. } => Action::requeue(with_jitter(intervals.poll)),
            Outcome::Progressing { .. } => Action::requeue(with_jitter(intervals.pending)),
        })
    }

    /// Ends a failed pass: records the error in the conditions (a failure to write is logged: the error
    /// itself is what the runtime must see) and hands the error back for the error policy.
    pub async fn finish_error<E: ReconcileError>(mut self, ctx: &Context, err: E) -> E {
        let generation = self.obj.meta().generation;
        self.status.set_generation(generation);
        conditions_for_error(
            self.status.conditions_mut(),
            generation,
            &err,
            self.deleting,
            &now(),
        );
        if let Err(e) = self.write_and_announce(ctx).await {
            warn!(error = %e, "failed to record the reconcile error in status");
        }
        err
    }
}

async fn publish_note<K: Resource<DynamicType = ()>>(ctx: &Context, obj: &K, note: Note) {
    ctx.publish(obj, EventType::Normal, note.reason, note.action, note.message)
        .await;
}

/// Publishes events for condition transitions: Normal when Ready becomes True, Warning when Synced becomes
/// False or its message changes (so a repeated identical failure is not announced again). A pass's `note`
/// is published too, merged into the Ready event when Ready became True.
pub async fn announce_transitions<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
    before: &[Condition],
    after: &[Condition],
    mut note: Option<Note>,
) {
    let ready_before = find_condition(before, READY).is_some_and(Condition::is_true);
    if let Some(ready) = find_condition(after, READY)
        && ready.is_true()
        && !ready_before
    {
        let first_time = find_condition(before, READY)
            .is_none_or(|c| c.reason == reason::CREATING || c.reason == reason::PENDING);
        if first_time && let Some(created) = &obj.meta().creation_timestamp {
            ctx.metrics
                .time_to_ready(&K::kind(&()), elapsed_since(created).as_secs_f64());
        }
        match note.take() {
            Some(note) => {
                let message = format!("{}; {}", note.message, ready.message);
                ctx.publish(obj, EventType::Normal, note.reason, note.action, message)
                    .await;
            }
            None => {
                ctx.publish(
                    obj,
                    EventType::Normal,
                    &ready.reason,
                    "Reconcile",
                    ready.message.clone(),
                )
                .await;
            }
        }
    }
    if let Some(note) = note {
        publish_note(ctx, obj, note).await;
    }
    if let Some(synced) = find_condition(after, SYNCED)
        && synced.status == ConditionStatus::False
    {
        let changed = find_condition(before, SYNCED).is_none_or(|old| !old.same_ignoring_time(synced));
        if changed {
            let stalled = find_condition(after, STALLED).filter(|c| c.is_true());
            let event_reason = stalled.map_or(synced.reason.as_str(), |c| c.reason.as_str());
            ctx.publish(
                obj,
                EventType::Warning,
                event_reason,
                "Reconcile",
                synced.message.clone(),
            )
            .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("failed to observe vpc v-1: transient failure: vpc.get: HTTP 503 (request id r-9)")]
    struct Flaky;
    impl ReconcileError for Flaky {
        fn category(&self) -> &'static str {
            "Transient"
        }
        fn class(&self) -> ErrorClass {
            ErrorClass::Transient
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("bad spec")]
    struct Bad;
    impl ReconcileError for Bad {
        fn category(&self) -> &'static str {
            "Invalid"
        }
        fn class(&self) -> ErrorClass {
            ErrorClass::Stalled { recheck: false }
        }
    }

    fn at(s: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(s).unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH))
    }

    fn get<'a>(c: &'a [Condition], t: &str) -> &'a Condition {
        find_condition(c, t).unwrap()
    }

    #[test]
    fn request_ids_are_dropped_from_messages() {
        assert_eq!(stable_message("a (request id x) b (request id y)"), "a b");
        assert_eq!(stable_message("no ids"), "no ids");
    }

    #[test]
    fn ready_outcome_sets_the_contract() {
        let mut c = vec![];
        conditions_for_outcome(&mut c, Some(3), &Outcome::available("ok"), &at(1));
        assert!(get(&c, READY).is_true());
        assert!(get(&c, SYNCED).is_true());
        assert_eq!(get(&c, RECONCILING).status, ConditionStatus::False);
        assert_eq!(get(&c, STALLED).status, ConditionStatus::False);
        assert!(c.iter().all(|x| x.observed_generation == Some(3)));
    }

    #[test]
    fn error_never_leaves_ready_true_and_repeats_are_no_change() {
        let mut c = vec![];
        conditions_for_outcome(&mut c, Some(1), &Outcome::available("ok"), &at(1));
        conditions_for_error(&mut c, Some(1), &Flaky, false, &at(2));
        assert_eq!(get(&c, READY).status, ConditionStatus::False);
        assert_eq!(get(&c, SYNCED).reason, reason::RECONCILE_ERROR);
        assert!(!get(&c, SYNCED).message.contains("request id"));
        assert!(get(&c, RECONCILING).is_true());
        let snapshot = c.clone();
        conditions_for_error(&mut c, Some(1), &Flaky, false, &at(3));
        assert_eq!(
            c, snapshot,
            "the same failure again changes nothing, not even timestamps"
        );
    }

    #[test]
    fn permanent_errors_stall() {
        let mut c = vec![];
        conditions_for_error(&mut c, Some(1), &Bad, false, &at(1));
        assert!(get(&c, STALLED).is_true());
        assert_eq!(get(&c, STALLED).reason, reason::INVALID_SPEC);
        assert_eq!(get(&c, RECONCILING).status, ConditionStatus::False);
        conditions_for_error(&mut c, Some(1), &Bad, true, &at(2));
        assert_eq!(get(&c, READY).reason, reason::DELETING);
    }
}
