//! The frame of one reconcile pass: the finalizer flows ([`run_finalizer`], [`run_finalizer_in_pass`]),
//! [`instrumented`] (span, reconcile metrics, backoff reset on success) and [`error_policy`] (the requeue
//! chosen by the error's [`ErrorClass`]).

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{self, Event as FinalizerEvent};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{Instrument, debug, warn};

use super::config::with_jitter;
use super::context::Context;
use super::error::{ErrorClass, PassError, ReconcileError, error_chain};
use crate::api::FINALIZER;

/// Dispatches to `apply` or `cleanup` through kube's finalizer helper ([`FINALIZER`]): the finalizer is
/// added before the first apply, and removed only after `cleanup` succeeds.
pub async fn run_finalizer<K, E, A, AF, C, CF>(
    api: &Api<K>,
    obj: Arc<K>,
    apply: A,
    cleanup: C,
) -> Result<Action, PassError<E>>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
    E: ReconcileError,
    A: FnOnce(Arc<K>) -> AF,
    AF: Future<Output = Result<Action, E>>,
    C: FnOnce(Arc<K>) -> CF,
    CF: Future<Output = Result<Action, E>>,
{
    let result = finalizer::finalizer(api, FINALIZER, obj, |event| async move {
        match event {
            FinalizerEvent::Apply(obj) => apply(obj).await,
            FinalizerEvent::Cleanup(obj) => cleanup(obj).await,
        }
    })
    .await;
    if let Err(finalizer::Error::AddFinalizer(kube::Error::Api(status))) = &result
        && (status.code == 409 || status.code == 422)
    {
        // kube adds the finalizer by a JSON patch that tests the finalizers the cached object had; it
        // fails when the server's object is newer than the cache (typically: this very finalizer was
        // added moments ago and another watch triggered a pass first). The newer object's watch event is
        // on its way and triggers the pass that goes on: wait for it rather than report a failure.
        debug!(
            code = status.code,
            "the cached object is older than the server's; waiting for its watch event"
        );
        return Ok(Action::await_change());
    }
    result.map_err(|e| match e {
        finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => PassError::Reconcile(e),
        finalizer::Error::AddFinalizer(e) => PassError::AddFinalizer(e),
        finalizer::Error::RemoveFinalizer(e) => PassError::RemoveFinalizer(e),
        finalizer::Error::UnnamedObject | finalizer::Error::InvalidFinalizer => PassError::Unnamed,
    })
}

/// Like [`run_finalizer`], for a controller that adds the finalizer itself, in the pass that first needs
/// it ([`crate::controller::intent`]: with the create intent, in one patch): an object without the finalizer that is
/// not being deleted goes straight to `apply` (no separate finalizer write and no second pass); deletion
/// goes through kube's helper as usual (cleanup, then the finalizer's removal; nothing to clean up without
/// it).
pub async fn run_finalizer_in_pass<K, E, A, AF, C, CF>(
    api: &Api<K>,
    obj: Arc<K>,
    apply: A,
    cleanup: C,
) -> Result<Action, PassError<E>>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
    E: ReconcileError,
    A: FnOnce(Arc<K>) -> AF,
    AF: Future<Output = Result<Action, E>>,
    C: FnOnce(Arc<K>) -> CF,
    CF: Future<Output = Result<Action, E>>,
{
    let ours = obj.finalizers().iter().any(|f| f == FINALIZER);
    if !ours && obj.meta().deletion_timestamp.is_none() {
        return apply(obj).await.map_err(PassError::Reconcile);
    }
    run_finalizer(api, obj, apply, cleanup).await
}

/// Stable key of an object for the backoff table: `Kind/namespace/name/uid`.
pub fn object_key<K: Resource<DynamicType = ()>>(obj: &K) -> String {
    format!(
        "{}/{}/{}/{}",
        K::kind(&()),
        obj.namespace().unwrap_or_default(),
        obj.name_any(),
        obj.uid().unwrap_or_default()
    )
}

/// Runs one reconcile in a tracing span, records count and duration, and resets the object's backoff on
/// success. Errors are counted by [`error_policy`].
pub async fn instrumented<K, E, F>(obj: &K, ctx: &Context, pass: F) -> Result<Action, PassError<E>>
where
    K: Resource<DynamicType = ()>,
    E: ReconcileError,
    F: Future<Output = Result<Action, PassError<E>>>,
{
    let kind = K::kind(&()).to_string();
    let span = tracing::info_span!(
        "reconcile",
        kind = %kind,
        namespace = obj.namespace().unwrap_or_default(),
        name = %obj.name_any(),
        generation = obj.meta().generation.unwrap_or_default(),
    );
    let _timer = ctx.metrics.reconcile_started(&kind);
    let result = pass.instrument(span).await;
    if result.is_ok() {
        ctx.backoff.reset(&object_key(obj));
    }
    result
}

/// The error policy of every controller: counts the error by category and picks the requeue from its
/// class — exponential backoff with jitter per object, at least Retry-After when throttled, a slow
/// recheck or a wait for a change when a human is needed.
pub fn error_policy<K, E>(obj: Arc<K>, err: &PassError<E>, ctx: Arc<Context>) -> Action
where
    K: Resource<DynamicType = ()>,
    E: ReconcileError,
{
    let kind = K::kind(&());
    let key = object_key(obj.as_ref());
    let action = match err.class() {
        ErrorClass::Pending(after) => {
            // Not a failure: no error count, no backoff, no warning.
            debug!(
                kind = %kind,
                namespace = obj.namespace().unwrap_or_default(),
                name = %obj.name_any(),
                wait = %error_chain(err),
                "waiting for the cloud"
            );
            return Action::requeue(with_jitter(after));
        }
        ErrorClass::Transient | ErrorClass::Waiting => Action::requeue(ctx.backoff.next_delay(&key)),
        ErrorClass::Throttled(retry_after) => {
            let backoff = ctx.backoff.next_delay(&key);
            let wait = retry_after.map_or(backoff, |r| backoff.max(with_jitter(r)));
            Action::requeue(wait)
        }
        ErrorClass::Stalled { recheck: true } => Action::requeue(with_jitter(ctx.config.stalled_recheck)),
        ErrorClass::Stalled { recheck: false } => Action::await_change(),
    };
    ctx.metrics.reconcile_error(&kind, err.category());
    warn!(
        kind = %kind,
        namespace = obj.namespace().unwrap_or_default(),
        name = %obj.name_any(),
        category = err.category(),
        error = %error_chain(err),
        "reconcile failed"
    );
    action
}
