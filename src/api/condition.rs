//! Status conditions: the condition types and reasons every edgefleet kind reports, the [`Condition`]
//! struct (wire-compatible with `metav1.Condition`, so kubectl, kstatus, Argo CD and Flux read it), and
//! [`set_condition`], which keeps `lastTransitionTime` unless `status` flips.
//!
//! The contract (design.md "Condition contract"): `Ready` is never `True` while `Synced` is `False`;
//! `Reconciling` and `Stalled` are abnormal-true; every condition carries `observedGeneration`; the
//! controller skips its status patch when only timestamps would change ([`conditions_equal_ignoring_time`]).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition type: the cloud object exists and is usable as specified. Never `True` while `Synced` is `False`.
pub const READY: &str = "Ready";
/// Condition type: the last reconcile pass observed and acted without error (message: the error chain).
pub const SYNCED: &str = "Synced";
/// Condition type (abnormal-true): work is in progress (creating, scaling, waiting for a job or a dependency).
pub const RECONCILING: &str = "Reconciling";
/// Condition type (abnormal-true): the object cannot progress without a human; the reason says what to fix.
pub const STALLED: &str = "Stalled";
/// Condition type (EdgeCloud): at least the required number of members are ready (like a Deployment).
pub const AVAILABLE: &str = "Available";
/// Condition type (EdgeCloud, abnormal-true): the fleet cannot reach `spec.replicas` right now.
pub const SCALING_BLOCKED: &str = "ScalingBlocked";
/// Condition type (ProviderConfig): the credentials Secret exists, has the keys the credential type needs,
/// and the cloud accepted them.
pub const CREDENTIALS_VALID: &str = "CredentialsValid";

/// Every condition type defined here, in the order controllers should report them.
pub const ALL_TYPES: &[&str] = &[
    READY,
    SYNCED,
    RECONCILING,
    STALLED,
    AVAILABLE,
    SCALING_BLOCKED,
    CREDENTIALS_VALID,
];

/// Condition reasons (PascalCase, no abbreviations). Controllers may add reasons; each one must be listed
/// in docs/conditions.md.
pub mod reason {
    // ----- Ready -----
    /// Ready=True: the cloud object exists and matches the spec.
    pub const AVAILABLE: &str = "Available";
    /// Ready=False: the cloud object is being created.
    pub const CREATING: &str = "Creating";
    /// Ready=False: the cloud object is being changed to match the spec.
    pub const UPDATING: &str = "Updating";
    /// Ready=False: the object is being deleted (cloud deletion in progress).
    pub const DELETING: &str = "Deleting";
    /// Ready=False: the cloud object exists but is not usable (failed, error state, stopped unexpectedly).
    pub const UNAVAILABLE: &str = "Unavailable";
    /// Ready=False / Reconciling=True: a referenced object (ProviderConfig, Vpc, SecurityGroup, Secret) is
    /// missing or not Ready yet; the message names it.
    pub const WAITING_FOR_DEPENDENCY: &str = "WaitingForDependency";
    /// Ready=Unknown: the controller has not observed the cloud object yet.
    pub const PENDING: &str = "Pending";
    /// Ready=True with managementPolicy ObserveOnly: the cloud object was observed; nothing is changed.
    pub const OBSERVED: &str = "Observed";

    // ----- Synced -----
    /// Synced=True: the last reconcile pass succeeded.
    pub const RECONCILE_SUCCESS: &str = "ReconcileSuccess";
    /// Synced=False: the last reconcile pass failed; the message carries the error chain.
    pub const RECONCILE_ERROR: &str = "ReconcileError";
    /// Synced=False: the cloud API asked us to slow down (HTTP 429 / throttling error); retried after
    /// the advertised delay.
    pub const THROTTLED: &str = "Throttled";

    // ----- Reconciling -----
    /// Reconciling=True: a cloud operation was submitted and is still running (job, BUILD state, ...).
    pub const IN_PROGRESS: &str = "InProgress";
    /// Reconciling=True (EdgeCloud): members are being added or removed.
    pub const SCALING: &str = "Scaling";
    /// Reconciling=True (EdgeCloud): members with an outdated template are being replaced.
    pub const ROLLING_UPDATE: &str = "RollingUpdate";
    /// Reconciling=True: an intent recorded before a crash is being recovered by looking the cloud up.
    pub const RECOVERING: &str = "Recovering";
    /// Reconciling=False: nothing is in progress.
    pub const IDLE: &str = "Idle";

    // ----- Stalled -----
    /// Stalled=True: the cloud rejected the spec as invalid; fix the spec (message: the cloud's code and text).
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// Stalled=True: a flavor, image, site, volume type or similar is not in the cloud's catalog.
    pub const NOT_IN_CATALOG: &str = "NotInCatalog";
    /// Stalled=True: the cloud refused the credentials or the account lacks permission.
    pub const UNAUTHORIZED: &str = "Unauthorized";
    /// Stalled=True: a cloud quota is exhausted and there is no fallback.
    pub const QUOTA_EXCEEDED: &str = "QuotaExceeded";
    /// Stalled=True (EdgeInstance) / ScalingBlocked=True (EdgeCloud): the cloud has no capacity where the
    /// spec places the object (nothing is wrong with the spec); retried on the stalled-recheck interval
    /// (EdgeInstance) or every pass (EdgeCloud, which falls back to other locations) until capacity returns.
    pub const CAPACITY_EXHAUSTED: &str = "CapacityExhausted";
    /// Stalled=True: recovery found more than one cloud object carrying this object's identity; the message
    /// lists their ids. Delete the extra ones in the cloud (or set spec.adoptId to the right one).
    pub const AMBIGUOUS_RECOVERY: &str = "AmbiguousRecovery";
    /// Stalled=True: spec.adoptId names a cloud object that does not exist.
    pub const ADOPT_TARGET_NOT_FOUND: &str = "AdoptTargetNotFound";
    /// Stalled=True: the spec asks for a change the cloud cannot make (and no CEL rule could catch it).
    pub const UNSUPPORTED_CHANGE: &str = "UnsupportedChange";
    /// Stalled=True: the cloud object was deleted outside edgefleet while managementPolicy is ObserveOnly.
    pub const EXTERNALLY_DELETED: &str = "ExternallyDeleted";
    /// Stalled=True: deletion is blocked (the cloud object is still in use, or the ProviderConfig or its
    /// credentials are missing so the cloud cannot confirm the deletion); the message names the blocker.
    pub const DELETION_BLOCKED: &str = "DeletionBlocked";
    /// Stalled=False: nothing needs a human.
    pub const NOT_STALLED: &str = "NotStalled";

    // ----- Available (EdgeCloud) -----
    /// Available=True: at least `replicas - maxUnavailable` members are ready.
    pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
    /// Available=False: fewer than `replicas - maxUnavailable` members are ready.
    pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

    // ----- ScalingBlocked (EdgeCloud) -----
    /// ScalingBlocked=True: site-level edge clouds cannot be expanded by the cloud.
    pub const EXPAND_NOT_SUPPORTED: &str = "ExpandNotSupported";
    /// ScalingBlocked=True: the edge cloud is not inService, so the cloud refuses to expand it now.
    pub const EDGE_CLOUD_BUSY: &str = "EdgeCloudBusy";
    /// ScalingBlocked=True: spec.paused is true.
    pub const PAUSED: &str = "Paused";
    /// ScalingBlocked=True: more members are unhealthy than remediation.maxUnhealthy allows.
    pub const TOO_MANY_UNHEALTHY: &str = "TooManyUnhealthy";
    /// ScalingBlocked=False: scaling is possible.
    pub const SCALING_POSSIBLE: &str = "ScalingPossible";

    // ----- CredentialsValid (ProviderConfig) -----
    /// CredentialsValid=True: the cloud accepted the credentials.
    pub const CREDENTIALS_ACCEPTED: &str = "CredentialsAccepted";
    /// CredentialsValid=False: the Secret named by spec.credentials.secretRef does not exist.
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    /// CredentialsValid=False: the Secret lacks a key the credential type needs; the message names the key.
    pub const SECRET_KEY_MISSING: &str = "SecretKeyMissing";
    /// CredentialsValid=False: the cloud rejected the credentials.
    pub const CREDENTIALS_REJECTED: &str = "CredentialsRejected";
    /// CredentialsValid=Unknown: the cloud could not be reached to check the credentials.
    pub const CLOUD_UNREACHABLE: &str = "CloudUnreachable";

    /// Every reason defined here (each must be documented in docs/conditions.md; a test checks it).
    pub const ALL: &[&str] = &[
        AVAILABLE,
        CREATING,
        UPDATING,
        DELETING,
        UNAVAILABLE,
        WAITING_FOR_DEPENDENCY,
        PENDING,
        OBSERVED,
        RECONCILE_SUCCESS,
        RECONCILE_ERROR,
        THROTTLED,
        IN_PROGRESS,
        SCALING,
        ROLLING_UPDATE,
        RECOVERING,
        IDLE,
        INVALID_SPEC,
        NOT_IN_CATALOG,
        UNAUTHORIZED,
        QUOTA_EXCEEDED,
        CAPACITY_EXHAUSTED,
        AMBIGUOUS_RECOVERY,
        ADOPT_TARGET_NOT_FOUND,
        UNSUPPORTED_CHANGE,
        EXTERNALLY_DELETED,
        DELETION_BLOCKED,
        NOT_STALLED,
        MINIMUM_REPLICAS_AVAILABLE,
        MINIMUM_REPLICAS_UNAVAILABLE,
        EXPAND_NOT_SUPPORTED,
        EDGE_CLOUD_BUSY,
        PAUSED,
        TOO_MANY_UNHEALTHY,
        SCALING_POSSIBLE,
        CREDENTIALS_ACCEPTED,
        SECRET_NOT_FOUND,
        SECRET_KEY_MISSING,
        CREDENTIALS_REJECTED,
        CLOUD_UNREACHABLE,
    ];
}

/// The status of a condition, as in `metav1.ConditionStatus`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// The controller cannot tell (yet).
    #[default]
    Unknown,
}

impl ConditionStatus {
    /// `True` for `true`, `False` for `false`.
    pub fn from_bool(value: bool) -> Self {
        if value { Self::True } else { Self::False }
    }

    /// The wire form: `"True"`, `"False"` or `"Unknown"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }
}

/// One status condition; the same wire shape as `metav1.Condition`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type in PascalCase: Ready, Synced, Reconciling, Stalled, Available, ScalingBlocked,
    /// CredentialsValid.
    #[serde(rename = "type")]
    #[schemars(length(min = 1, max = 316))]
    pub type_: String,
    /// True, False or Unknown.
    pub status: ConditionStatus,
    /// Machine-readable PascalCase reason for the last transition (see docs/conditions.md).
    #[schemars(length(min = 1, max = 1024))]
    pub reason: String,
    /// Human-readable details; for Synced=False the error chain. Never contains secrets.
    #[serde(default)]
    #[schemars(length(max = 32768))]
    pub message: String,
    /// The metadata.generation the controller acted on when it set this condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When `status` last changed. Unchanged while only reason or message change.
    pub last_transition_time: Time,
}

impl Condition {
    /// A condition with the given fields. Its `lastTransitionTime` is a placeholder (the Unix epoch):
    /// [`set_condition`] replaces it with the previous transition time or `now`.
    pub fn new(
        type_: &str,
        status: ConditionStatus,
        reason: &str,
        message: impl Into<String>,
        observed_generation: Option<i64>,
    ) -> Self {
        Self {
            type_: type_.to_owned(),
            status,
            reason: reason.to_owned(),
            message: message.into(),
            observed_generation,
            last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
        }
    }

    /// Whether the condition's status is `True`.
    pub fn is_true(&self) -> bool {
        self.status == ConditionStatus::True
    }

    /// Equal in every field except `lastTransitionTime`.
    pub fn same_ignoring_time(&self, other: &Self) -> bool {
        self.type_ == other.type_
            && self.status == other.status
            && self.reason == other.reason
            && self.message == other.message
            && self.observed_generation == other.observed_generation
    }
}

/// Inserts or replaces the condition of `new.type_` in `conditions`.
///
/// `lastTransitionTime` is kept from the existing condition when `status` does not change, and set to
/// `now` when it does (or when the condition is new). The position of an existing condition is kept, new
/// ones are appended, so the list order is stable. Returns whether anything other than timestamps changed.
pub fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition, now: &Time) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(existing) => {
            new.last_transition_time = if existing.status == new.status {
                existing.last_transition_time.clone()
            } else {
                now.clone()
            };
            let changed = !existing.same_ignoring_time(&new);
            *existing = new;
            changed
        }
        None => {
            new.last_transition_time = now.clone();
            conditions.push(new);
            true
        }
    }
}

/// Removes the condition of the given type; returns whether one was removed.
pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    conditions.len() != before
}

/// The condition of the given type, if present.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of the given type is present with status `True`.
pub fn is_condition_true(conditions: &[Condition], type_: &str) -> bool {
    find_condition(conditions, type_).is_some_and(Condition::is_true)
}

/// Whether two condition lists are equal when `lastTransitionTime` is ignored (order-insensitive, by type).
/// The controller skips its status patch when this holds and nothing else in status changed.
pub fn conditions_equal_ignoring_time(a: &[Condition], b: &[Condition]) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|x| find_condition(b, &x.type_).is_some_and(|y| x.same_ignoring_time(y)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap())
    }

    fn ready(status: ConditionStatus, reason: &str, message: &str) -> Condition {
        Condition::new(READY, status, reason, message, Some(1))
    }

    #[test]
    fn new_condition_gets_now_and_is_appended() {
        let mut list = vec![];
        assert!(set_condition(
            &mut list,
            ready(ConditionStatus::False, reason::CREATING, "x"),
            &at(10)
        ));
        assert!(set_condition(
            &mut list,
            Condition::new(
                SYNCED,
                ConditionStatus::True,
                reason::RECONCILE_SUCCESS,
                "",
                Some(1)
            ),
            &at(11)
        ));
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].type_, READY);
        assert_eq!(list[0].last_transition_time, at(10));
        assert_eq!(list[1].last_transition_time, at(11));
    }

    #[test]
    fn same_status_keeps_transition_time_even_when_reason_changes() {
        let mut list = vec![];
        set_condition(
            &mut list,
            ready(ConditionStatus::False, reason::CREATING, "a"),
            &at(10),
        );
        let changed = set_condition(
            &mut list,
            ready(ConditionStatus::False, reason::WAITING_FOR_DEPENDENCY, "b"),
            &at(20),
        );
        assert!(changed, "reason and message changed");
        assert_eq!(list[0].last_transition_time, at(10));
        assert_eq!(list[0].reason, reason::WAITING_FOR_DEPENDENCY);
        assert_eq!(list[0].message, "b");
    }

    #[test]
    fn status_flip_sets_now() {
        let mut list = vec![];
        set_condition(
            &mut list,
            ready(ConditionStatus::False, reason::CREATING, ""),
            &at(10),
        );
        set_condition(
            &mut list,
            ready(ConditionStatus::True, reason::AVAILABLE, ""),
            &at(30),
        );
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].last_transition_time, at(30));
        assert!(list[0].is_true());
    }

    #[test]
    fn identical_condition_reports_no_change() {
        let mut list = vec![];
        set_condition(
            &mut list,
            ready(ConditionStatus::True, reason::AVAILABLE, "ok"),
            &at(10),
        );
        let snapshot = list.clone();
        assert!(!set_condition(
            &mut list,
            ready(ConditionStatus::True, reason::AVAILABLE, "ok"),
            &at(99)
        ));
        assert_eq!(list, snapshot, "not even the timestamp moves");
    }

    #[test]
    fn observed_generation_change_is_a_change() {
        let mut list = vec![];
        set_condition(
            &mut list,
            ready(ConditionStatus::True, reason::AVAILABLE, ""),
            &at(10),
        );
        let mut next = ready(ConditionStatus::True, reason::AVAILABLE, "");
        next.observed_generation = Some(2);
        assert!(set_condition(&mut list, next, &at(20)));
        assert_eq!(list[0].last_transition_time, at(10));
    }

    #[test]
    fn comparison_ignores_only_timestamps_and_order() {
        let mut a = ready(ConditionStatus::True, reason::AVAILABLE, "ok");
        a.last_transition_time = at(1);
        let mut b = a.clone();
        b.last_transition_time = at(2);
        let s = Condition::new(
            SYNCED,
            ConditionStatus::True,
            reason::RECONCILE_SUCCESS,
            "",
            Some(1),
        );
        assert!(conditions_equal_ignoring_time(
            &[a.clone(), s.clone()],
            &[s.clone(), b.clone()]
        ));
        let mut c = b.clone();
        c.message = "different".into();
        assert!(!conditions_equal_ignoring_time(&[a.clone()], &[c]));
        assert!(!conditions_equal_ignoring_time(&[a.clone()], &[a.clone(), s]));
        let mut d = b;
        d.status = ConditionStatus::Unknown;
        assert!(!conditions_equal_ignoring_time(&[a], &[d]));
    }

    #[test]
    fn find_remove_and_truth() {
        let mut list = vec![];
        set_condition(
            &mut list,
            ready(ConditionStatus::True, reason::AVAILABLE, ""),
            &at(1),
        );
        assert!(is_condition_true(&list, READY));
        assert!(!is_condition_true(&list, SYNCED));
        assert!(find_condition(&list, READY).is_some());
        assert!(remove_condition(&mut list, READY));
        assert!(!remove_condition(&mut list, READY));
        assert!(list.is_empty());
    }

    #[test]
    fn wire_shape_matches_metav1_condition() {
        let mut c = ready(ConditionStatus::True, reason::AVAILABLE, "ok");
        c.last_transition_time = at(0);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "type": "Ready", "status": "True", "reason": "Available", "message": "ok",
                "observedGeneration": 1, "lastTransitionTime": "1970-01-01T00:00:00Z"
            })
        );
        let back: k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition =
            serde_json::from_value(v).unwrap();
        assert_eq!(back.status, "True");
        assert_eq!(ConditionStatus::from_bool(false).as_str(), "False");
    }
}
