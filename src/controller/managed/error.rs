//! The lifecycle's own failures ([`LifecycleError`]) and how each maps to a metric category, a requeue
//! class and a Stalled reason (the tables list every variant).

use super::super::{NAME_CONFLICT, provider_error_class};
use crate::api::condition::reason;
use crate::controller::runtime::{ErrorClass, ReconcileError};
use crate::provider::ProviderError;

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
        "a {noun} named {name:?} already exists{place} ({ids}) and this object did not create it; set spec.adoptId to adopt it, or choose another spec.name"
    )]
    NameConflict {
        /// What it is.
        noun: &'static str,
        /// Cloud name.
        name: String,
        /// " at site X", or empty.
        place: String,
        /// Ids of the objects carrying it.
        ids: String,
    },
    /// Recovery found several objects carrying this object's token.
    #[error(
        "recovery found several {noun}s carrying {token:?}{place}: {ids}; delete the extra ones in the cloud"
    )]
    AmbiguousRecovery {
        /// What it is.
        noun: &'static str,
        /// The token.
        token: String,
        /// " at site X", or empty.
        place: String,
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
    /// The object disappeared and this object may not recreate it.
    #[error("{noun} {id} was deleted outside edgefleet; {why}")]
    ExternallyDeleted {
        /// What it is.
        noun: &'static str,
        /// Cloud id.
        id: String,
        /// Why it is not recreated.
        why: &'static str,
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
    /// Writing the finalizer or the create intent failed (a conflict: the object changed meanwhile).
    #[error("failed to {what}")]
    PatchMetadata {
        /// "record the create intent", "add the finalizer", ...
        what: &'static str,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Reading the object as stored failed.
    #[error("failed to read the object as stored")]
    ReadStored(#[source] kube::Error),
}

/// Why an ObserveOnly object does not recreate a vanished cloud object.
pub(super) const OBSERVE_ONLY_KEEPS: &str = "managementPolicy is ObserveOnly, so it is not recreated";

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
            | Self::PatchStatus(_)
            | Self::PatchMetadata { .. }
            | Self::ReadStored(_) => None,
        }
    }

    /// A create the cloud rejected for a referenced object it does not know (key pair, subnet, group):
    /// the spec names it, so it stalls as invalid until something changes.
    fn create_reference_missing(&self) -> bool {
        matches!(self, Self::Create { source, .. } if source.is_not_found())
    }
}

impl ReconcileError for LifecycleError {
    fn category(&self) -> &'static str {
        if self.create_reference_missing() {
            return "InvalidSpec";
        }
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
            Self::PatchMetadata { .. } => "PatchMetadata",
            Self::ReadStored(_) => "KubernetesApi",
        }
    }

    fn class(&self) -> ErrorClass {
        if self.create_reference_missing() {
            return ErrorClass::Stalled { recheck: true };
        }
        match self {
            Self::Observe { source, .. } | Self::Lookup { source, .. } | Self::Create { source, .. } => {
                provider_error_class(source).0
            }
            Self::PatchStatus(_) | Self::PatchMetadata { .. } | Self::ReadStored(_) => ErrorClass::Transient,
            Self::DeletionPending { .. } => ErrorClass::Waiting,
            Self::ExternallyDeleted { .. } => ErrorClass::Stalled { recheck: true },
            Self::NameConflict { .. }
            | Self::AmbiguousRecovery { .. }
            | Self::AdoptTargetNotFound { .. }
            | Self::NothingToObserve => ErrorClass::Stalled { recheck: false },
        }
    }

    fn stalled_reason(&self) -> Option<&'static str> {
        if self.create_reference_missing() {
            return Some(reason::INVALID_SPEC);
        }
        match self {
            Self::Observe { source, .. } | Self::Lookup { source, .. } | Self::Create { source, .. } => {
                provider_error_class(source).1
            }
            Self::NameConflict { .. } => Some(NAME_CONFLICT),
            Self::AmbiguousRecovery { .. } => Some(reason::AMBIGUOUS_RECOVERY),
            Self::AdoptTargetNotFound { .. } => Some(reason::ADOPT_TARGET_NOT_FOUND),
            Self::ExternallyDeleted { .. } => Some(reason::EXTERNALLY_DELETED),
            Self::NothingToObserve => Some(reason::INVALID_SPEC),
            Self::DeletionPending { .. }
            | Self::PatchStatus(_)
            | Self::PatchMetadata { .. }
            | Self::ReadStored(_) => None,
        }
    }
}
