//! Where a kind keeps the intent of an in-flight create ([`IntentStore`]): in status ([`InStatus`]) or on
//! the object's metadata with the finalizer ([`OnMetadata`]); and the status write the lifecycle's steps
//! share ([`persist`]).

use std::fmt::Debug;

use async_trait::async_trait;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::LifecycleError;
use crate::api::common::{ManagedStatus, PendingOperation};
use crate::controller::intent::{self, CreateIntent};
use crate::controller::runtime::{HasConditions, StatusWriter};

/// What the lifecycle needs of a reconciled object (every kind is one).
pub trait Object: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync {}

impl<T: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync> Object for T {}

/// What the lifecycle needs of a managed object's status (every cloud-backed kind's is one).
pub trait Status:
    HasConditions + ManagedStatus + Serialize + Clone + PartialEq + Default + Debug + Send + Sync
{
}

impl<T> Status for T where
    T: HasConditions + ManagedStatus + Serialize + Clone + PartialEq + Default + Debug + Send + Sync
{
}

/// Where a kind keeps the intent of an in-flight create (crash-safety step 1).
#[async_trait]
pub trait IntentStore<K: Object, S: Status>: Send + Sync {
    /// The create that may have happened without status naming its object: an intent with no id in
    /// status (or, for a recreate, only the id it replaces).
    fn pending(&self, obj: &K, status: &S) -> Option<PendingOperation>;
    /// Whether a create replacing the vanished cloud object `id` is already under way.
    fn replaces(&self, obj: &K, id: &str) -> bool;
    /// Makes `intent` durable before the cloud call.
    async fn record(
        &self,
        obj: &K,
        w: &mut StatusWriter<K, S>,
        intent: &PendingOperation,
        replaces: Option<&str>,
    ) -> Result<(), LifecycleError>;
    /// Drops the intent (the cloud rejected the create outright: nothing was made).
    async fn clear(&self, obj: &K, w: &mut StatusWriter<K, S>) -> Result<(), LifecycleError>;
    /// Makes sure a deletion will clean up before the pass records a cloud id (the finalizer, where the
    /// pass adds it rather than the runtime).
    async fn secure(&self, _obj: &K, _w: &StatusWriter<K, S>) -> Result<(), LifecycleError> {
        Ok(())
    }
}

/// The intent in `status.pendingCreate`, written (with everything else the pass changed) before the call.
#[derive(Debug, Clone, Copy, Default)]
pub struct InStatus;

#[async_trait]
impl<K: Object, S: Status> IntentStore<K, S> for InStatus {
    fn pending(&self, _obj: &K, status: &S) -> Option<PendingOperation> {
        status
            .cloud_id()
            .is_none()
            .then(|| status.pending_create().cloned())
            .flatten()
    }

    fn replaces(&self, _obj: &K, _id: &str) -> bool {
        false
    }

    async fn record(
        &self,
        _obj: &K,
        w: &mut StatusWriter<K, S>,
        intent: &PendingOperation,
        _replaces: Option<&str>,
    ) -> Result<(), LifecycleError> {
        w.status.set_pending_create(Some(intent.clone()));
        persist(w).await
    }

    async fn clear(&self, _obj: &K, w: &mut StatusWriter<K, S>) -> Result<(), LifecycleError> {
        // The pass's closing write drops it.
        w.status.set_pending_create(None);
        Ok(())
    }
}

/// The intent on the object's metadata ([`intent`]: the `edgefleet.io/create-intent` annotation, written
/// with the finalizer in one patch), and the finalizer added by the pass that first needs it.
#[derive(Debug, Clone, Copy, Default)]
pub struct OnMetadata;

#[async_trait]
impl<K: Object, S: Status> IntentStore<K, S> for OnMetadata {
    fn pending(&self, obj: &K, status: &S) -> Option<PendingOperation> {
        intent::pending_create(obj, status.cloud_id(), status.pending_create())
    }

    fn replaces(&self, obj: &K, id: &str) -> bool {
        CreateIntent::of(obj).is_some_and(|i| i.replaces.as_deref() == Some(id))
    }

    async fn record(
        &self,
        obj: &K,
        w: &mut StatusWriter<K, S>,
        pending: &PendingOperation,
        replaces: Option<&str>,
    ) -> Result<(), LifecycleError> {
        let recorded = CreateIntent {
            token: pending.token.clone(),
            params_hash: pending.params_hash.clone(),
            started_at: pending.started_at.clone(),
            uid: obj.uid().unwrap_or_default(),
            replaces: replaces.map(str::to_owned),
        };
        intent::record(w.api(), obj, &recorded)
            .await
            .map_err(|source| LifecycleError::PatchMetadata {
                what: "record the create intent (with the finalizer)",
                source,
            })
    }

    async fn clear(&self, obj: &K, w: &mut StatusWriter<K, S>) -> Result<(), LifecycleError> {
        intent::clear(w.api(), obj)
            .await
            .map_err(|source| LifecycleError::PatchMetadata {
                what: "clear the create intent",
                source,
            })
    }

    async fn secure(&self, obj: &K, w: &StatusWriter<K, S>) -> Result<(), LifecycleError> {
        intent::ensure_finalizer(w.api(), obj)
            .await
            .map_err(|source| LifecycleError::PatchMetadata {
                what: "add the finalizer",
                source,
            })
    }
}

/// Writes the working copy of the status now (a durable step of the protocol).
pub(super) async fn persist<K, S>(w: &mut StatusWriter<K, S>) -> Result<(), LifecycleError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync,
    S: HasConditions + Serialize + Clone + PartialEq + Default + Debug,
{
    w.persist().await.map_err(LifecycleError::PatchStatus)
}
