//! The one crash-safe identity lifecycle of a managed cloud object (design.md "Crash safety"): which
//! cloud object a Kubernetes object stands for, found, adopted, recovered or created exactly once, and
//! which one its deletion must remove. A kind implements only its cloud-facing steps ([`CloudSteps`]:
//! get, find by recovery token, create) and keeps its own update, rule and subnet logic.
//!
//! The protocol, in the order [`ensure_identity`] runs it:
//! 1. **Observe by id.** A cloud id in status is read. Gone within the recovery grace of a create →
//!    wait (an eventually consistent list); gone later → `ExternallyDeleted` under ObserveOnly, else a
//!    warning event and a fresh create (drift correction).
//! 2. **Adopt.** `spec.adoptId` names the object to take over: it is read, its id made durable, and an
//!    `Adopted` event published. Nothing else ever adopts.
//! 3. **Recover.** An intent (`status.pendingCreate`) without an id means an earlier pass may have
//!    created the object and lost the answer: the cloud is searched by the intent's token (one match →
//!    `Recovered`, none within the grace → wait, none after it → create, several → `AmbiguousRecovery`).
//! 4. **Create.** Where the cloud keeps names unique, an existing object with the name that this object
//!    never created stalls with `NameConflict` (adopting it would be an accident). Otherwise the intent is
//!    persisted first, the cloud called, and the returned id persisted at once; a definite rejection
//!    ([`ProviderError::created_nothing`]) drops the intent so a fixed spec creates without waiting out
//!    the grace. The intent stays until the object is observed once.
//!
//! [`deletion_target`] resolves what a deletion removes by the same rules (an intent without an id is
//! searched for; within the grace the deletion waits as progress, `DeletionPending`).

use std::fmt::Debug;

use async_trait::async_trait;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::info;

use super::events::EventType;
use super::provider_error_class;
use super::runtime::{
    Context, ErrorClass, HasConditions, Outcome, ReconcileError, StatusWriter, elapsed_since,
};
use super::{NAME_CONFLICT, runtime::now};
use crate::api::common::{DeletionPolicy, ManagedSpec, ManagedStatus, ManagementPolicy, PendingOperation};
use crate::api::condition::reason;
use crate::provider::{ProviderError, ProviderResult};

/// The cloud-facing steps of one kind, for one pass (the implementor holds the API and the desired spec).
#[async_trait]
pub trait CloudSteps: Send + Sync {
    /// What the cloud shows of the object.
    type Observed: Clone + Send + Sync;
    /// The object's name in messages, e.g. "cloud VPC" (plural: with an "s").
    const NOUN: &'static str;
    /// The cloud id of an observed object.
    fn id_of(observed: &Self::Observed) -> &str;
    /// Reads the object by id (NotFound when gone).
    async fn get(&self, id: &str) -> ProviderResult<Self::Observed>;
    /// The cloud objects carrying a create's recovery token (name, ownership marker, client token).
    async fn find(&self, token: &str) -> ProviderResult<Vec<Self::Observed>>;
    /// Objects a fresh create would collide with (clouds keeping names unique); none by default.
    async fn taken(&self) -> ProviderResult<Vec<Self::Observed>> {
        Ok(Vec::new())
    }
    /// Creates the object; returns its cloud id.
    async fn create(&self) -> ProviderResult<String>;
}

/// How the create of this pass can be found again after a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// The identity the cloud object will carry (its unique name, a marker, a client token).
    pub token: String,
    /// Hash of what the create sends.
    pub params_hash: String,
    /// The cloud name, for messages.
    pub name: String,
}

/// Where the identity step left the object.
#[derive(Debug)]
pub enum Identity<O> {
    /// The cloud object, observed.
    Observed(O),
    /// Not observable yet (creating, recovering): end the pass with this outcome.
    Wait(Outcome),
}

/// What a deletion removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeletionTarget {
    /// No cloud object exists for this object (never created, or already gone): nothing to delete.
    Nothing,
    /// The cloud object with this id.
    Id(String),
}

/// The lifecycle's own failures; each kind's error wraps them (`Error::Lifecycle`).
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// Reading the object failed.
    #[error("failed to observe {noun} {id}")]
    Observe {
        /// What it is.
        noun: &'static str,
        /// Cloud id.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Looking the object up by its recovery token (or name) failed.
    #[error("failed to look up {noun}s by {token:?}")]
    Lookup {
        /// What it is.
        noun: &'static str,
        /// The token or name.
        token: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// The create failed (a definite rejection drops the intent; otherwise the next pass recovers).
    #[error("failed to create {noun} {name:?}")]
    Create {
        /// What it is.
        noun: &'static str,
        /// Cloud name.
        name: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// An object with the desired unique name exists and this object never created it.
    #[error(
        "a {noun} named {name:?} already exists ({ids}) and this object did not create it; set spec.adoptId to adopt it, or choose another spec.name"
    )]
    NameConflict {
        /// What it is.
        noun: &'static str,
        /// Cloud name.
        name: String,
        /// Ids of the objects carrying it.
        ids: String,
    },
    /// Recovery found several objects carrying this object's token.
    #[error("recovery found several {noun}s carrying {token:?}: {ids}; delete the extra ones in the cloud")]
    AmbiguousRecovery {
        /// What it is.
        noun: &'static str,
        /// The token.
        token: String,
        /// Their ids.
        ids: String,
    },
    /// spec.adoptId names nothing.
    #[error("spec.adoptId {id} names no {noun}")]
    AdoptTargetNotFound {
        /// What it is.
        noun: &'static str,
        /// The id.
        id: String,
    },
    /// ObserveOnly and the object disappeared.
    #[error(
        "{noun} {id} was deleted outside edgefleet; managementPolicy is ObserveOnly, so it is not recreated"
    )]
    ExternallyDeleted {
        /// What it is.
        noun: &'static str,
        /// Cloud id.
        id: String,
    },
    /// ObserveOnly without an id to observe.
    #[error("managementPolicy ObserveOnly needs spec.adoptId (or a cloud id already in status)")]
    NothingToObserve,
    /// Deletion waits for a create that may still become visible.
    #[error("deletion waits: the create of {noun} {token:?} may still become visible")]
    DeletionPending {
        /// What it is.
        noun: &'static str,
        /// The intent's token.
        token: String,
    },
    /// Writing status failed.
    #[error("failed to patch the status")]
    PatchStatus(#[source] kube::Error),
}

impl LifecycleError {
    /// The cloud's error behind this one, if any.
    pub fn provider_error(&self) -> Option<&ProviderError> {
        match self {
            Self::Observe { source, .. } | Self::Lookup { source, .. } | Self::Create { source, .. } => {
                Some(source)
            }
            Self::NameConflict { .. }
            | Self::AmbiguousRecovery { .. }
            | Self::AdoptTargetNotFound { .. }
            | Self::ExternallyDeleted { .. }
            | Self::NothingToObserve
            | Self::DeletionPending { .. }
            | Self::PatchStatus(_) => None,
        }
    }
}

impl ReconcileError for LifecycleError {
    fn category(&self) -> &'static str {
        match self {
            Self::Observe { source, .. } | Self::Lookup { source, .. } | Self::Create { source, .. } => {
                source.category()
            }
            Self::NameConflict { .. } => NAME_CONFLICT,
            Self::AmbiguousRecovery { .. } => "AmbiguousRecovery",
            Self::AdoptTargetNotFound { .. } => "AdoptTargetNotFound",
            Self::ExternallyDeleted { .. } => "ExternallyDeleted",
            Self::NothingToObserve => "InvalidSpec",
            Self::DeletionPending { .. } => "DeletionPending",
            Self::PatchStatus(_) => "PatchStatus",
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            Self::Observe { source, .. } | Self::Lookup { source, .. } | Self::Create { source, .. } => {
                provider_error_class(source).0
            }
            Self::PatchStatus(_) => ErrorClass::Transient,
            Self::DeletionPending { .. } => ErrorClass::Waiting,
            Self::ExternallyDeleted { .. } => ErrorClass::Stalled { recheck: true },
            Self::NameConflict { .. }
            | Self::AmbiguousRecovery { .. }
            | Self::AdoptTargetNotFound { .. }
            | Self::NothingToObserve => ErrorClass::Stalled { recheck: false },
        }
    }

    fn stalled_reason(&self) -> Option<&'static str> {
        match self {
            Self::Observe { source, .. } | Self::Lookup { source, .. } | Self::Create { source, .. } => {
                provider_error_class(source).1
            }
            Self::NameConflict { .. } => Some(NAME_CONFLICT),
            Self::AmbiguousRecovery { .. } => Some(reason::AMBIGUOUS_RECOVERY),
            Self::AdoptTargetNotFound { .. } => Some(reason::ADOPT_TARGET_NOT_FOUND),
            Self::ExternallyDeleted { .. } => Some(reason::EXTERNALLY_DELETED),
            Self::NothingToObserve => Some(reason::INVALID_SPEC),
            Self::DeletionPending { .. } | Self::PatchStatus(_) => None,
        }
    }
}

/// Whether a deletion leaves the cloud object in place (`deletionPolicy: Orphan` or ObserveOnly).
pub fn keeps_cloud_object(spec: &impl ManagedSpec) -> bool {
    spec.deletion_policy() == DeletionPolicy::Orphan
        || spec.management_policy() == ManagementPolicy::ObserveOnly
}

/// Announces that a deletion left the cloud object `id` in place.
pub async fn publish_orphaned<K: Resource<DynamicType = ()>>(ctx: &Context, obj: &K, noun: &str, id: &str) {
    ctx.publish(
        obj,
        EventType::Normal,
        "Orphaned",
        "Delete",
        format!("left {noun} {id} in place"),
    )
    .await;
}

type Writer<K, S> = StatusWriter<K, S>;

async fn persist<K, S>(w: &mut Writer<K, S>) -> Result<(), LifecycleError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync,
    S: HasConditions + Serialize + Clone + PartialEq + Default + Debug,
{
    w.persist().await.map_err(LifecycleError::PatchStatus)
}

fn ids_of<C: CloudSteps>(found: &[C::Observed]) -> String {
    found.iter().map(C::id_of).collect::<Vec<_>>().join(", ")
}

fn within_grace(ctx: &Context, started_at: &Time) -> bool {
    elapsed_since(started_at) < ctx.config.recovery_grace
}

/// Finds, adopts, recovers or creates the cloud object of `obj` (the protocol in the module docs).
pub async fn ensure_identity<K, S, C>(
    obj: &K,
    spec: &impl ManagedSpec,
    ctx: &Context,
    cloud: &C,
    intent: &Intent,
    w: &mut Writer<K, S>,
) -> Result<Identity<C::Observed>, LifecycleError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync,
    S: HasConditions + ManagedStatus + Serialize + Clone + PartialEq + Default + Debug,
    C: CloudSteps,
{
    let observe_only = spec.management_policy() == ManagementPolicy::ObserveOnly;
    let mut drifted = false;
    if let Some(id) = w.status.cloud_id().map(str::to_owned) {
        match observe_by_id(obj, ctx, cloud, &id, observe_only, w).await? {
            Some(identity) => return Ok(identity),
            None => drifted = true,
        }
    }
    if !drifted && let Some(adopt) = spec.adopt_id() {
        return adopt_by_id(obj, ctx, cloud, adopt, w).await;
    }
    if observe_only {
        return Err(LifecycleError::NothingToObserve);
    }
    if let Some(pending) = w.status.pending_create().cloned() {
        if let Some(identity) = recover(obj, ctx, cloud, &pending, w).await? {
            return Ok(identity);
        }
    } else {
        refuse_taken_name(cloud, intent).await?;
    }
    create(obj, ctx, cloud, intent, w).await
}

/// Step 1: the id in status. `None` means the object was deleted out of band and is to be recreated.
async fn observe_by_id<K, S, C>(
    obj: &K,
    ctx: &Context,
    cloud: &C,
    id: &str,
    observe_only: bool,
    w: &mut Writer<K, S>,
) -> Result<Option<Identity<C::Observed>>, LifecycleError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync,
    S: HasConditions + ManagedStatus + Serialize + Clone + PartialEq + Default + Debug,
    C: CloudSteps,
{
    match cloud.get(id).await {
        Ok(observed) => {
            w.status.set_pending_create(None);
            Ok(Some(Identity::Observed(observed)))
        }
        Err(e) if e.is_not_found() => {
            if let Some(p) = w.status.pending_create()
                && within_grace(ctx, &p.started_at)
            {
                return Ok(Some(Identity::Wait(Outcome::progressing(
                    reason::CREATING,
                    reason::IN_PROGRESS,
                    format!("created {} {id}; waiting for the cloud to list it", C::NOUN),
                ))));
            }
            if observe_only {
                return Err(LifecycleError::ExternallyDeleted {
                    noun: C::NOUN,
                    id: id.to_owned(),
                });
            }
            ctx.publish(
                obj,
                EventType::Warning,
                "ExternallyDeleted",
                "Recreate",
                format!("{} {id} was deleted outside edgefleet; recreating it", C::NOUN),
            )
            .await;
            w.status.set_cloud_id(None);
            w.status.set_pending_create(None);
            w.status.forget_observed();
            Ok(None)
        }
        Err(source) => Err(LifecycleError::Observe {
            noun: C::NOUN,
            id: id.to_owned(),
            source,
        }),
    }
}

/// Step 2: `spec.adoptId`.
async fn adopt_by_id<K, S, C>(
    obj: &K,
    ctx: &Context,
    cloud: &C,
    adopt: &str,
    w: &mut Writer<K, S>,
) -> Result<Identity<C::Observed>, LifecycleError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync,
    S: HasConditions + ManagedStatus + Serialize + Clone + PartialEq + Default + Debug,
    C: CloudSteps,
{
    match cloud.get(adopt).await {
        Ok(observed) => {
            w.status.set_cloud_id(Some(C::id_of(&observed).to_owned()));
            persist(w).await?;
            ctx.publish(
                obj,
                EventType::Normal,
                "Adopted",
                "Adopt",
                format!("adopted {} {adopt}", C::NOUN),
            )
            .await;
            Ok(Identity::Observed(observed))
        }
        Err(e) if e.is_not_found() => Err(LifecycleError::AdoptTargetNotFound {
            noun: C::NOUN,
            id: adopt.to_owned(),
        }),
        Err(source) => Err(LifecycleError::Observe {
            noun: C::NOUN,
            id: adopt.to_owned(),
            source,
        }),
    }
}

/// Step 3: an intent without an id. `None` means nothing was found after the grace: create.
async fn recover<K, S, C>(
    obj: &K,
    ctx: &Context,
    cloud: &C,
    pending: &PendingOperation,
    w: &mut Writer<K, S>,
) -> Result<Option<Identity<C::Observed>>, LifecycleError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync,
    S: HasConditions + ManagedStatus + Serialize + Clone + PartialEq + Default + Debug,
    C: CloudSteps,
{
    let found = find(cloud, &pending.token).await?;
    match found.as_slice() {
        [one] => {
            let id = C::id_of(one).to_owned();
            w.status.set_cloud_id(Some(id.clone()));
            w.status.set_pending_create(None);
            persist(w).await?;
            ctx.publish(
                obj,
                EventType::Normal,
                "Recovered",
                "Recover",
                format!("found {} {id} created by an interrupted pass", C::NOUN),
            )
            .await;
            Ok(Some(Identity::Observed(one.clone())))
        }
        [] if within_grace(ctx, &pending.started_at) => Ok(Some(Identity::Wait(Outcome::progressing(
            reason::CREATING,
            reason::RECOVERING,
            format!(
                "a create of {} {:?} was interrupted; waiting for the cloud to list it",
                C::NOUN,
                pending.token
            ),
        )))),
        [] => Ok(None),
        many => Err(LifecycleError::AmbiguousRecovery {
            noun: C::NOUN,
            token: pending.token.clone(),
            ids: ids_of::<C>(many),
        }),
    }
}

async fn find<C: CloudSteps>(cloud: &C, token: &str) -> Result<Vec<C::Observed>, LifecycleError> {
    cloud.find(token).await.map_err(|source| LifecycleError::Lookup {
        noun: C::NOUN,
        token: token.to_owned(),
        source,
    })
}

/// A fresh create never takes over an object with the same unique name: that needs `spec.adoptId`.
async fn refuse_taken_name<C: CloudSteps>(cloud: &C, intent: &Intent) -> Result<(), LifecycleError> {
    let taken = cloud.taken().await.map_err(|source| LifecycleError::Lookup {
        noun: C::NOUN,
        token: intent.name.clone(),
        source,
    })?;
    if taken.is_empty() {
        return Ok(());
    }
    Err(LifecycleError::NameConflict {
        noun: C::NOUN,
        name: intent.name.clone(),
        ids: ids_of::<C>(&taken),
    })
}

/// Step 4: intent durable, the call, the id durable.
async fn create<K, S, C>(
    obj: &K,
    ctx: &Context,
    cloud: &C,
    intent: &Intent,
    w: &mut Writer<K, S>,
) -> Result<Identity<C::Observed>, LifecycleError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync,
    S: HasConditions + ManagedStatus + Serialize + Clone + PartialEq + Default + Debug,
    C: CloudSteps,
{
    w.status.set_pending_create(Some(PendingOperation {
        token: intent.token.clone(),
        params_hash: intent.params_hash.clone(),
        started_at: now(),
        handle: None,
    }));
    persist(w).await?;
    let id = match cloud.create().await {
        Ok(id) => id,
        Err(source) => {
            // A definite rejection created nothing: the pass's closing write drops the intent, so a fixed
            // spec creates at once instead of waiting out the recovery grace.
            if source.created_nothing() {
                w.status.set_pending_create(None);
            }
            return Err(LifecycleError::Create {
                noun: C::NOUN,
                name: intent.name.clone(),
                source,
            });
        }
    };
    // The intent stays (with the id as its handle) until the object is observed once, so an object not
    // yet listed by an eventually consistent cloud is not mistaken for a deleted one.
    w.status.set_cloud_id(Some(id.clone()));
    if let Some(mut p) = w.status.pending_create().cloned() {
        p.handle = Some(id.clone());
        w.status.set_pending_create(Some(p));
    }
    persist(w).await?;
    info!(cloud_id = %id, name = %intent.name, noun = C::NOUN, "created");
    ctx.publish(
        obj,
        EventType::Normal,
        "Created",
        "Create",
        format!("created {} {id} ({})", C::NOUN, intent.name),
    )
    .await;
    Ok(Identity::Wait(Outcome::progressing(
        reason::CREATING,
        reason::IN_PROGRESS,
        format!("created {} {id}", C::NOUN),
    )))
}

/// The cloud object a deletion must remove: the id in status, or the object an interrupted create
/// made (searched by the intent's token; within the grace the deletion waits for it to become visible).
pub async fn deletion_target<C: CloudSteps>(
    ctx: &Context,
    cloud: &C,
    status: &impl ManagedStatus,
) -> Result<DeletionTarget, LifecycleError> {
    if let Some(id) = status.cloud_id() {
        return Ok(DeletionTarget::Id(id.to_owned()));
    }
    let Some(pending) = status.pending_create() else {
        return Ok(DeletionTarget::Nothing);
    };
    let found = find(cloud, &pending.token).await?;
    match found.as_slice() {
        [one] => Ok(DeletionTarget::Id(C::id_of(one).to_owned())),
        [] if within_grace(ctx, &pending.started_at) => Err(LifecycleError::DeletionPending {
            noun: C::NOUN,
            token: pending.token.clone(),
        }),
        [] => Ok(DeletionTarget::Nothing),
        many => Err(LifecycleError::AmbiguousRecovery {
            noun: C::NOUN,
            token: pending.token.clone(),
            ids: ids_of::<C>(many),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider_err() -> ProviderError {
        ProviderError::Invalid {
            detail: crate::provider::ErrorDetail::local("vpc.create", "bad cidr"),
        }
    }

    #[test]
    fn every_lifecycle_error_has_a_category_class_and_a_stalled_reason_where_it_stalls() {
        let errors = vec![
            LifecycleError::Observe {
                noun: "cloud VPC",
                id: "v".into(),
                source: provider_err(),
            },
            LifecycleError::Create {
                noun: "cloud VPC",
                name: "n".into(),
                source: provider_err(),
            },
            LifecycleError::NameConflict {
                noun: "cloud VPC",
                name: "n".into(),
                ids: "a".into(),
            },
            LifecycleError::AmbiguousRecovery {
                noun: "cloud VPC",
                token: "t".into(),
                ids: "a, b".into(),
            },
            LifecycleError::AdoptTargetNotFound {
                noun: "cloud VPC",
                id: "v".into(),
            },
            LifecycleError::ExternallyDeleted {
                noun: "cloud VPC",
                id: "v".into(),
            },
            LifecycleError::NothingToObserve,
            LifecycleError::DeletionPending {
                noun: "cloud VPC",
                token: "t".into(),
            },
        ];
        for e in &errors {
            assert!(!e.category().is_empty(), "{e}");
            if matches!(e.class(), ErrorClass::Stalled { .. }) {
                assert!(e.stalled_reason().is_some(), "{e} stalls without a reason");
            }
        }
        assert_eq!(errors[2].category(), NAME_CONFLICT);
        assert_eq!(errors[7].class(), ErrorClass::Waiting);
        assert_eq!(errors[5].class(), ErrorClass::Stalled { recheck: true });
    }

    #[test]
    fn messages_name_the_cloud_object_and_what_to_do() {
        let e = LifecycleError::NameConflict {
            noun: "cloud VPC",
            name: "prod".into(),
            ids: "vpc-1".into(),
        };
        let text = e.to_string();
        assert!(
            text.contains("cloud VPC named \"prod\"") && text.contains("spec.adoptId"),
            "{text}"
        );
        let e = LifecycleError::Lookup {
            noun: "cloud security group",
            token: "ef-0123".into(),
            source: provider_err(),
        };
        assert_eq!(
            e.to_string(),
            "failed to look up cloud security groups by \"ef-0123\""
        );
    }
}
