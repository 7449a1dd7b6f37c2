//! The error contract between a controller and the runtime: a controller's error type implements
//! [`ReconcileError`] (category, [`ErrorClass`], Stalled and Ready reasons), [`PassError`] wraps it with
//! the finalizer bookkeeping of a pass, and [`error_chain`] renders a chain for conditions and events.

use std::error::Error as StdError;
use std::time::Duration;

/// What the runtime should do after an error, from the error's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// A temporary failure (5xx, timeout, API server hiccup, a conflict that resolves itself): retry with
    /// per-object exponential backoff.
    Transient,
    /// The cloud asked us to slow down: retry after its Retry-After (at least), with backoff.
    Throttled(Option<Duration>),
    /// Waiting on something that changes without a human (a dependency not ready, a cloud object still in
    /// use during deletion): retry with backoff; the condition names what is awaited.
    Waiting,
    /// Waiting for a state the cloud reaches by itself and is expected to (an edge cloud the cloud is
    /// deleting): not a failure. Retried after the given pending poll interval, without backoff; logged
    /// at debug, not counted as a reconcile error, and Synced stays True. It is an error only because a
    /// cleanup that returns `Ok` lets the finalizer go.
    Pending(Duration),
    /// Only a human can fix it. `recheck: true` when the fix happens outside Kubernetes (credentials,
    /// quota) and is polled slowly; `false` when the spec must change (the object waits for a change).
    Stalled {
        /// Poll slowly instead of waiting for a change of the object.
        recheck: bool,
    },
}

/// The contract between a controller's error type and the runtime.
pub trait ReconcileError: StdError + Send + Sync + 'static {
    /// PascalCase label for the metric and the warning event's reason.
    fn category(&self) -> &'static str;
    /// How the runtime requeues after it.
    fn class(&self) -> ErrorClass;
    /// The `Stalled` reason when [`ErrorClass::Stalled`] (or a blocked deletion) applies.
    fn stalled_reason(&self) -> Option<&'static str> {
        None
    }
    /// The `Ready` reason while this error holds (default: the Synced reason).
    fn ready_reason(&self) -> Option<&'static str> {
        None
    }
}

/// The full error chain of `err` as one line (`a: b: c`), for condition messages and events.
pub fn error_chain(err: &dyn StdError) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// An error of one reconcile pass: the controller's own error, or the finalizer bookkeeping around it.
#[derive(Debug, thiserror::Error)]
pub enum PassError<E: ReconcileError> {
    /// The controller's apply or cleanup failed.
    #[error(transparent)]
    Reconcile(E),
    /// Adding the finalizer failed.
    #[error("failed to add the finalizer")]
    AddFinalizer(#[source] kube::Error),
    /// Removing the finalizer failed.
    #[error("failed to remove the finalizer")]
    RemoveFinalizer(#[source] kube::Error),
    /// The object has no name (never for objects from the API server).
    #[error("object has no name")]
    Unnamed,
}

impl<E: ReconcileError> PassError<E> {
    /// The metric/event category.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Reconcile(e) => e.category(),
            Self::AddFinalizer(_) | Self::RemoveFinalizer(_) => "Finalizer",
            Self::Unnamed => "Invalid",
        }
    }

    /// The requeue class.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Reconcile(e) => e.class(),
            Self::AddFinalizer(_) | Self::RemoveFinalizer(_) => ErrorClass::Transient,
            Self::Unnamed => ErrorClass::Stalled { recheck: false },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);
    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner;

    #[test]
    fn error_chain_joins_sources() {
        assert_eq!(error_chain(&Outer(Inner)), "outer: inner");
    }
}
