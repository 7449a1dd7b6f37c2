//! The EdgeInstance controller's error type: one variant per step, and how each maps to a metric
//! category, a requeue class and a Stalled / Ready reason (the tables list every variant).

use super::super::provider_error_class;
use crate::api::condition::reason;
use crate::controller::managed::LifecycleError;
use crate::controller::runtime::{
    ErrorClass, ReconcileError, ReferenceError, ResolveProviderError, SecretError,
};
use crate::provider::ProviderError;

/// the fleet replaces it).
pub const INSTANCE_FAILED: &str = "InstanceFailed";

/// Reconciling reason while the billing order of a prepaid create waits (for payment, or for the cloud
/// to make its instance).
pub const ORDER_PENDING: &str = "OrderPending";

/// Stalled reason: the billing order of a prepaid create ended without an instance (cancelled); a spec
/// change orders again.
pub const ORDER_FAILED: &str = "OrderFailed";

/// Stalled reason: a prepaid create was interrupted before its order was recorded; it is never ordered
/// twice, so a person checks the orders (the instance is found by name once its order is paid).
pub const ORDER_UNKNOWN: &str = "OrderUnknown";

/// Errors of the EdgeInstance controller, one variant per step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ProviderConfig (or its credentials) is not usable.
    #[error("{}", if *.deleting { "cannot confirm the deletion of the cloud instance: the account is unavailable" } else { "the account is unavailable" })]
    ProviderUnavailable {
        /// Whether the object is being deleted (the finalizer stays until the cloud confirms).
        deleting: bool,
        /// Why.
        #[source]
        source: ResolveProviderError,
    },
    /// The provider offers no instances (or no catalog).
    #[error("the provider does not manage instances")]
    Unsupported(#[source] ProviderError),
    /// The identity lifecycle failed (observe, adopt, recover, create, deletion target).
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// A referenced object does not exist or is not Ready yet.
    #[error("waiting for {kind} {name:?} (named by {field}) to {what}")]
    WaitingForReference {
        /// Vpc or SecurityGroup.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The spec field naming it.
        field: &'static str,
        /// "exist", "become Ready", ...
        what: &'static str,
    },
    /// Reading a referenced object failed.
    #[error("failed to read {kind} {name:?}")]
    ReadReference {
        /// Kind.
        kind: &'static str,
        /// Name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// A Secret named by the spec is missing (or lacks the key); never carries a value.
    #[error("Secret {name:?} (named by {field}) {problem}")]
    SecretUnavailable {
        /// The spec field.
        field: &'static str,
        /// The Secret name.
        name: String,
        /// "does not exist", "has no key \"k\"", ...
        problem: String,
    },
    /// Reading a Secret failed.
    #[error("failed to read Secret {name:?} (named by {field})")]
    ReadSecret {
        /// The spec field.
        field: &'static str,
        /// The Secret name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The spec cannot be satisfied as written (the message names the field).
    #[error("{field}: {message}")]
    InvalidSpec {
        /// The spec field.
        field: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The cloud's catalog does not offer what the spec names.
    #[error("{field}: {message}")]
    NotInCatalog {
        /// The spec field.
        field: &'static str,
        /// What the catalog said.
        message: String,
    },
    /// Reading the catalog failed.
    #[error("failed to read the cloud catalog ({what})")]
    Catalog {
        /// sites, flavors, images, subnets.
        what: &'static str,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Reading the instance failed.
    #[error("failed to observe cloud instance {id}")]
    Observe {
        /// Cloud id.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// A day-2 operation failed.
    #[error("failed to {action} cloud instance {id}")]
    Operate {
        /// What was attempted.
        action: String,
        /// Cloud id.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Deleting the instance failed.
    #[error("failed to delete cloud instance {id}")]
    Delete {
        /// Cloud id.
        id: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Deletion waits for the cloud (still building, or deleting): not a failure, retried after the
    /// pending poll interval.
    #[error("deletion of cloud instance {id} waits: {what}")]
    DeletionWaits {
        /// Cloud id.
        id: String,
        /// Why.
        what: String,
        /// The pending poll interval of the object's ProviderConfig.
        after: std::time::Duration,
    },
    /// The cloud reports the instance FAILED.
    #[error("cloud instance {id} is {status}: {detail}")]
    InstanceFailed {
        /// Cloud id.
        id: String,
        /// Raw cloud status.
        status: String,
        /// What to do.
        detail: &'static str,
    },
    /// The spec asks for a change the cloud cannot make in place.
    #[error(
        "cloud instance {id} differs in {fields} and the cloud cannot change that in place; recreate the object (or fix the spec)"
    )]
    UnsupportedChange {
        /// Cloud id.
        id: String,
        /// The fields.
        fields: String,
    },
    /// Reading the billing order of a prepaid create failed.
    #[error("failed to read order {order}")]
    Order {
        /// The order id.
        order: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// The billing order ended without an instance (cancelled); recorded in status, ordered again only
    /// after a spec change.
    #[error(
        "order {order} for cloud instance {name:?} ended without an instance ({code}: {message}); change the spec to order again"
    )]
    OrderFailed {
        /// The order id.
        order: String,
        /// Cloud name.
        name: String,
        /// The cloud's code.
        code: String,
        /// The cloud's message.
        message: String,
    },
    /// A prepaid create was interrupted before its order id was recorded and its instance is not
    /// listed (it is listed only once the order is paid): never ordered twice.
    #[error(
        "a prepaid create of cloud instance {name:?} was interrupted before its order was recorded; it is never ordered twice: once that order is paid the instance is found by its name; if no order was placed, remove the annotation edgefleet.io/create-intent to order again"
    )]
    OrderUnknown {
        /// Cloud name.
        name: String,
    },
    /// The cloud refuses the delete until a date passes or a person acts (a prepaid subscription).
    #[error("deletion of cloud instance {id} is refused by the cloud: {why}")]
    DeletionRefused {
        /// Cloud id.
        id: String,
        /// Why, with the date (the cloud's words).
        why: String,
    },
    /// Writing status failed.
    #[error("failed to patch the status")]
    PatchStatus(#[source] kube::Error),
}

impl From<ReferenceError> for Error {
    fn from(err: ReferenceError) -> Self {
        match err {
            ReferenceError::Waiting {
                kind,
                name,
                field,
                what,
            } => Self::WaitingForReference {
                kind,
                name,
                field,
                what,
            },
            ReferenceError::Read {
                kind, name, source, ..
            } => Self::ReadReference { kind, name, source },
        }
    }
}

impl From<SecretError> for Error {
    fn from(err: SecretError) -> Self {
        match err {
            SecretError::Unavailable { field, name, problem } => {
                Self::SecretUnavailable { field, name, problem }
            }
            SecretError::Read { field, name, source } => Self::ReadSecret { field, name, source },
        }
    }
}

impl Error {
    fn provider_error(&self) -> Option<&ProviderError> {
        match self {
            Self::Unsupported(source)
            | Self::Catalog { source, .. }
            | Self::Observe { source, .. }
            | Self::Operate { source, .. }
            | Self::Delete { source, .. }
            | Self::Order { source, .. } => Some(source),
            Self::OrderFailed { .. } | Self::OrderUnknown { .. } | Self::DeletionRefused { .. } => None,
            Self::Lifecycle(_)
            | Self::ProviderUnavailable { .. }
            | Self::WaitingForReference { .. }
            | Self::ReadReference { .. }
            | Self::ReadSecret { .. }
            | Self::SecretUnavailable { .. }
            | Self::InvalidSpec { .. }
            | Self::NotInCatalog { .. }
            | Self::DeletionWaits { .. }
            | Self::InstanceFailed { .. }
            | Self::UnsupportedChange { .. }
            | Self::PatchStatus(..) => None,
        }
    }
}

impl ReconcileError for Error {
    fn category(&self) -> &'static str {
        match self {
            Self::Lifecycle(e) => e.category(),
            Self::Unsupported(source)
            | Self::Catalog { source, .. }
            | Self::Observe { source, .. }
            | Self::Operate { source, .. }
            | Self::Delete { source, .. }
            | Self::Order { source, .. } => source.category(),
            Self::OrderFailed { .. } => ORDER_FAILED,
            Self::OrderUnknown { .. } => ORDER_UNKNOWN,
            Self::DeletionRefused { .. } => "DeletionRefused",
            Self::ProviderUnavailable { .. } => "ProviderConfigUnavailable",
            Self::WaitingForReference { .. } => "WaitingForReference",
            Self::ReadReference { .. } | Self::ReadSecret { .. } => "KubernetesApi",
            Self::SecretUnavailable { .. } => "SecretUnavailable",
            Self::InvalidSpec { .. } => "InvalidSpec",
            Self::NotInCatalog { .. } => "NotInCatalog",
            Self::DeletionWaits { .. } => "DeletionPending",
            Self::InstanceFailed { .. } => INSTANCE_FAILED,
            Self::UnsupportedChange { .. } => "UnsupportedChange",
            Self::PatchStatus(..) => "PatchStatus",
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            Self::Lifecycle(e) => e.class(),
            Self::Unsupported(source)
            | Self::Catalog { source, .. }
            | Self::Observe { source, .. }
            | Self::Operate { source, .. }
            | Self::Delete { source, .. }
            | Self::Order { source, .. } => provider_error_class(source).0,
            Self::OrderUnknown { .. } | Self::DeletionRefused { .. } => ErrorClass::Stalled { recheck: true },
            Self::OrderFailed { .. } => ErrorClass::Stalled { recheck: false },
            Self::ProviderUnavailable {
                source: ResolveProviderError::Kube { .. },
                ..
            }
            | Self::ReadReference { .. }
            | Self::ReadSecret { .. }
            | Self::PatchStatus(_) => ErrorClass::Transient,
            Self::ProviderUnavailable { .. }
            | Self::WaitingForReference { .. }
            | Self::SecretUnavailable { .. } => ErrorClass::Waiting,
            Self::DeletionWaits { after, .. } => ErrorClass::Pending(*after),
            Self::InstanceFailed { .. } | Self::NotInCatalog { .. } => ErrorClass::Stalled { recheck: true },
            Self::InvalidSpec { .. } | Self::UnsupportedChange { .. } => {
                ErrorClass::Stalled { recheck: false }
            }
        }
    }

    fn stalled_reason(&self) -> Option<&'static str> {
        if let Some(p) = self.provider_error() {
            return provider_error_class(p).1;
        }
        match self {
            Self::Lifecycle(e) => e.stalled_reason(),
            Self::ProviderUnavailable { deleting: true, .. } => Some(reason::DELETION_BLOCKED),
            Self::InvalidSpec { .. } => Some(reason::INVALID_SPEC),
            Self::NotInCatalog { .. } => Some(reason::NOT_IN_CATALOG),
            Self::InstanceFailed { .. } => Some(INSTANCE_FAILED),
            Self::UnsupportedChange { .. } => Some(reason::UNSUPPORTED_CHANGE),
            Self::OrderFailed { .. } => Some(ORDER_FAILED),
            Self::OrderUnknown { .. } => Some(ORDER_UNKNOWN),
            Self::DeletionRefused { .. } => Some(reason::DELETION_BLOCKED),
            // Provider errors were answered above; the rest do not stall.
            Self::ProviderUnavailable { deleting: false, .. }
            | Self::Unsupported(_)
            | Self::Catalog { .. }
            | Self::Observe { .. }
            | Self::Operate { .. }
            | Self::Delete { .. }
            | Self::Order { .. }
            | Self::WaitingForReference { .. }
            | Self::ReadReference { .. }
            | Self::ReadSecret { .. }
            | Self::SecretUnavailable { .. }
            | Self::DeletionWaits { .. }
            | Self::PatchStatus(..) => None,
        }
    }

    fn ready_reason(&self) -> Option<&'static str> {
        match self {
            Self::Lifecycle(e) => e.ready_reason(),
            Self::ProviderUnavailable { deleting: false, .. }
            | Self::WaitingForReference { .. }
            | Self::SecretUnavailable { .. } => Some(reason::WAITING_FOR_DEPENDENCY),
            Self::ProviderUnavailable { deleting: true, .. }
            | Self::Unsupported(_)
            | Self::Catalog { .. }
            | Self::Observe { .. }
            | Self::Operate { .. }
            | Self::Delete { .. }
            | Self::ReadReference { .. }
            | Self::ReadSecret { .. }
            | Self::InvalidSpec { .. }
            | Self::NotInCatalog { .. }
            | Self::DeletionWaits { .. }
            | Self::InstanceFailed { .. }
            | Self::UnsupportedChange { .. }
            | Self::Order { .. }
            | Self::OrderFailed { .. }
            | Self::OrderUnknown { .. }
            | Self::DeletionRefused { .. }
            | Self::PatchStatus(..) => None,
        }
    }
}
