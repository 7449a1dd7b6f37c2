//! Types shared by several kinds: references (to the ProviderConfig, to other edgefleet objects, to
//! Secrets), the deletion and management policies, the crash-safety intent recorded in status
//! ([`PendingOperation`]), and the [`ManagedSpec`] / [`ManagedStatus`] traits that let controller code
//! treat every cloud-backed kind alike.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use kube::core::Rule;

use super::condition::Condition;

/// The `status.observedGeneration` an object reads with before the operator has written its status.
///
/// Every edgefleet CRD gives `status` the structural-schema default `{observedGeneration: -1}`
/// ([`UNOBSERVED_STATUS`]). The apiserver applies it whenever an object without status is read — the
/// create response, get, list and watch, with or without the operator running — so Flux's kstatus and
/// Argo CD see "generation 1, observed -1" (in progress) instead of an object without conditions
/// (which they take as healthy). The operator's first status write replaces it (docs/conditions.md).
pub const UNOBSERVED_GENERATION: i64 = -1;

/// Marks a status struct's schema with the default `{observedGeneration: -1}` (see
/// [`UNOBSERVED_GENERATION`]); a schemars `transform` on every status struct.
pub fn unobserved_status_default(schema: &mut schemars::Schema) {
    schema.insert(
        "default".to_owned(),
        serde_json::json!({ "observedGeneration": UNOBSERVED_GENERATION }),
    );
}

/// RE2 pattern of a Kubernetes object name (DNS-1123 subdomain).
pub const OBJECT_NAME_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// RE2 pattern of a namespace name (DNS-1123 label).
pub const NAMESPACE_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// RE2 pattern of a Secret data key.
pub const SECRET_KEY_PATTERN: &str = r"^[-._a-zA-Z0-9]+$";
/// RE2 pattern of a Go-style duration (`30s`, `5m`, `1h30m`).
pub const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";

/// Names the cluster-scoped ProviderConfig (cloud account) that manages an object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProviderConfigRef {
    /// Name of the ProviderConfig. Immutable: moving an object to another account would orphan its
    /// cloud object.
    #[schemars(length(min = 1, max = 253), pattern(OBJECT_NAME_PATTERN))]
    pub name: String,
}

/// Names another edgefleet object in the same namespace (a Vpc, a SecurityGroup). The controller waits
/// until it is Ready and uses its cloud id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LocalObjectRef {
    /// Name of the object in this namespace.
    #[schemars(length(min = 1, max = 253), pattern(OBJECT_NAME_PATTERN))]
    pub name: String,
}

/// Selects one key of a Secret in the object's own namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretKeyRef {
    /// Name of the Secret in this namespace.
    #[schemars(length(min = 1, max = 253), pattern(OBJECT_NAME_PATTERN))]
    pub name: String,
    /// Key within the Secret's data.
    #[schemars(length(min = 1, max = 253), pattern(SECRET_KEY_PATTERN))]
    pub key: String,
}

/// Names a Secret in a given namespace (used by the cluster-scoped ProviderConfig).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253), pattern(OBJECT_NAME_PATTERN))]
    pub name: String,
    /// Namespace of the Secret (usually the operator's namespace, `edgefleet-system`).
    #[schemars(length(min = 1, max = 63), pattern(NAMESPACE_PATTERN))]
    pub namespace: String,
}

/// What happens to the cloud object when the Kubernetes object is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the cloud object; the finalizer is removed only after the cloud confirms it is gone.
    #[default]
    Delete,
    /// Leave the cloud object in place and only remove the Kubernetes object.
    Orphan,
}

/// Whether edgefleet may change the cloud.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ManagementPolicy {
    /// Create, update and delete the cloud object to match the spec.
    #[default]
    Manage,
    /// Only observe the cloud object named by spec.adoptId (or already recorded in status) and report it
    /// in status; never mutate the cloud (deletion then behaves like deletionPolicy Orphan).
    ObserveOnly,
}

/// Crash-safety intent (design.md "Crash safety"): persisted in status *before* a mutating cloud call, so
/// a controller restarted between the call and recording its result can find the cloud object again by
/// its deterministic identity instead of creating it twice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingOperation {
    /// Deterministic identity the cloud object will carry (a name or marker derived from the object's
    /// uid, or a client token where the API has one). Recovery looks the cloud up by it.
    #[schemars(length(min = 1, max = 256))]
    pub token: String,
    /// Hash of the parameters sent to the cloud; a changed spec under a pending intent is detected by it.
    #[schemars(length(min = 1, max = 128))]
    pub params_hash: String,
    /// When the intent was recorded; bounds the grace period for eventually consistent cloud lists.
    pub started_at: Time,
    /// Handle returned by the cloud call (job id, deployment plan id, order id), persisted immediately
    /// after the call returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub handle: Option<String>,
}

/// Fields every cloud-backed spec shares (providerConfigRef, deletionPolicy, managementPolicy, adoptId).
pub trait ManagedSpec {
    /// The ProviderConfig that manages this object.
    fn provider_config_ref(&self) -> &ProviderConfigRef;
    /// What happens to the cloud object on deletion.
    fn deletion_policy(&self) -> DeletionPolicy;
    /// Whether the cloud may be changed.
    fn management_policy(&self) -> ManagementPolicy;
    /// The cloud id to adopt explicitly, if any.
    fn adopt_id(&self) -> Option<&str>;
}

/// Fields every cloud-backed status shares.
pub trait ManagedStatus {
    /// The cloud id recorded for this object, if any.
    fn cloud_id(&self) -> Option<&str>;
    /// Records (or clears) the cloud id.
    fn set_cloud_id(&mut self, id: Option<String>);
    /// Forgets what was recorded about a cloud object that disappeared, before it is recreated.
    fn forget_observed(&mut self);
    /// The conditions.
    fn conditions(&self) -> &[Condition];
    /// The conditions, mutably (use [`super::condition::set_condition`]).
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    /// The metadata.generation last acted on.
    fn observed_generation(&self) -> Option<i64>;
    /// Records the metadata.generation acted on.
    fn set_observed_generation(&mut self, generation: Option<i64>);
    /// The crash-safety intent of an in-flight create, if any.
    fn pending_create(&self) -> Option<&PendingOperation>;
    /// Sets or clears the crash-safety intent of an in-flight create.
    fn set_pending_create(&mut self, pending: Option<PendingOperation>);
}

/// Implements [`ManagedSpec`] for a spec struct with the four common fields.
macro_rules! impl_managed_spec {
    ($spec:ty) => {
        impl $crate::api::common::ManagedSpec for $spec {
            fn provider_config_ref(&self) -> &$crate::api::common::ProviderConfigRef {
                &self.provider_config_ref
            }
            fn deletion_policy(&self) -> $crate::api::common::DeletionPolicy {
                self.deletion_policy
            }
            fn management_policy(&self) -> $crate::api::common::ManagementPolicy {
                self.management_policy
            }
            fn adopt_id(&self) -> Option<&str> {
                self.adopt_id.as_deref()
            }
        }
    };
}

/// Implements [`ManagedStatus`] for a status struct with `conditions`, `observed_generation`,
/// `pending_create` and the named cloud-id field; `forget: a, b` names the observed fields (with a
/// `Default`) that are reset when the cloud object disappears.
macro_rules! impl_managed_status {
    ($status:ty, $id:ident) => {
        $crate::api::common::impl_managed_status!($status, $id, forget:);
    };
    ($status:ty, $id:ident, forget: $($observed:ident),*) => {
        impl $crate::api::common::ManagedStatus for $status {
            fn cloud_id(&self) -> Option<&str> {
                self.$id.as_deref()
            }
            fn set_cloud_id(&mut self, id: Option<String>) {
                self.$id = id;
            }
            fn forget_observed(&mut self) {
                $(self.$observed = Default::default();)*
            }
            fn conditions(&self) -> &[$crate::api::condition::Condition] {
                &self.conditions
            }
            fn conditions_mut(&mut self) -> &mut Vec<$crate::api::condition::Condition> {
                &mut self.conditions
            }
            fn observed_generation(&self) -> Option<i64> {
                self.observed_generation
            }
            fn set_observed_generation(&mut self, generation: Option<i64>) {
                self.observed_generation = generation;
            }
            fn pending_create(&self) -> Option<&$crate::api::common::PendingOperation> {
                self.pending_create.as_ref()
            }
            fn set_pending_create(&mut self, pending: Option<$crate::api::common::PendingOperation>) {
                self.pending_create = pending;
            }
        }
    };
}

pub(crate) use impl_managed_spec;
pub(crate) use impl_managed_status;

/// Message of the rule that keeps `spec.providerConfigRef.name` immutable.
pub const MSG_PROVIDER_CONFIG_IMMUTABLE: &str = "spec.providerConfigRef.name is immutable";
/// Message of the rule that keeps `spec.adoptId` immutable.
pub const MSG_ADOPT_ID_IMMUTABLE: &str =
    "spec.adoptId is immutable: it can only be set when the object is created";
/// Message of the rule that requires `spec.adoptId` for ObserveOnly objects at creation.
pub const MSG_OBSERVE_ONLY_NEEDS_ADOPT_ID: &str =
    "spec.adoptId is required when spec.managementPolicy is ObserveOnly at creation";

/// CEL (on spec, transition): `spec.adoptId` can be neither added, changed nor removed after creation.
pub fn rule_adopt_id_immutable() -> Rule {
    Rule::new(
        "has(self.adoptId) == has(oldSelf.adoptId) && (!has(self.adoptId) || self.adoptId == oldSelf.adoptId)",
    )
    .message(MSG_ADOPT_ID_IMMUTABLE)
    .field_path(".adoptId")
}

/// CEL (on spec, create only via optionalOldSelf): an ObserveOnly object must name the cloud object to
/// observe when it is created (later switches to ObserveOnly observe the id already in status).
pub fn rule_observe_only_needs_adopt_id() -> Rule {
    Rule::new("oldSelf.hasValue() || self.managementPolicy != 'ObserveOnly' || has(self.adoptId)")
        .message(MSG_OBSERVE_ONLY_NEEDS_ADOPT_ID)
        .field_path(".adoptId")
        .optional_old_self(true)
}

/// CEL (on spec.providerConfigRef, transition): the account cannot change.
pub fn rule_provider_config_immutable() -> Rule {
    Rule::new("self.name == oldSelf.name").message(MSG_PROVIDER_CONFIG_IMMUTABLE)
}
