//! The reconcilers, one file per kind, and the shared reconcile runtime.
//!
//! - [`runtime`]: the shared runtime, modules importing downward only — [`runtime::config`]
//!   ([`ControllerConfig`]: namespace/label scope, concurrency, intervals, backoff), [`runtime::error`]
//!   (the [`ReconcileError`] contract), [`runtime::context`] ([`Context`]: client, provider registry, event
//!   recorder, metrics, per-object backoff), [`runtime::status`] (the one status write, the per-pass
//!   [`runtime::StatusWriter`], outcomes → conditions, events on transitions), [`runtime::account`]
//!   (ProviderConfig + Secret → provider settings; [`runtime::resolve_provider`]), [`runtime::watch`]
//!   (the controller builder, trigger predicates, census) and [`runtime::policy`] (the finalizer flow
//!   [`runtime::run_finalizer`], [`runtime::instrumented`], [`runtime::error_policy`]).
//! - [`managed`]: the one crash-safe identity lifecycle (observe by id, adopt `spec.adoptId`, poll a
//!   create's order or job handle, recover an interrupted create by its token, refuse a taken unique
//!   name, create with the intent first and the answer durable at once, the deletion target) of Vpc,
//!   SecurityGroup and EdgeInstance; a kind implements only [`managed::CloudSteps`] (get, find, prepare,
//!   create and the rules of its cloud) and picks a [`managed::IntentStore`] (status, or metadata).
//! - [`intent`]: a create's crash-safety intent as an annotation, written with the finalizer in one
//!   patch ([`managed::OnMetadata`], the EdgeInstance controller, [`runtime::run_finalizer_in_pass`]).
//! - [`provider_config`], [`vpc`], [`security_group`], [`edge_instance`], [`edge_cloud`]: the controllers.
//!
//! [`run_all`] starts every controller listed in [`CONTROLLERS`]; the operator (`edgefleet run`) calls
//! [`run_all_reporting`] once it leads (readiness follows the controllers' caches), tests call [`run_all`]
//! scoped to their namespace and label.
//!
//! # How to add a controller (EdgeInstance, EdgeCloud, ...)
//!
//! 1. Define `enum Error` (thiserror, one variant per step, with context and `#[source]`) and implement
//!    [`ReconcileError`]: `category()` (metric label and warning-event reason), `class()` (Transient,
//!    Throttled, Waiting, Stalled → requeue policy), optionally `stalled_reason()` / `ready_reason()`.
//!    [`provider_error_class`] maps a `ProviderError` to a class and a Stalled reason.
//! 2. `reconcile(obj, ctx)` is only
//!    `instrumented(&obj, &ctx, run_finalizer(&api, obj, |o| apply(o, &ctx), |o| cleanup(o, &ctx)))`.
//! 3. `apply` makes a [`runtime::StatusWriter`] from the object's status, runs the named pipeline
//!    (resolve provider and references → validate → observe → plan → execute) on `writer.status`, and
//!    ends with `writer.finish(&ctx, outcome, intervals)` or `Err(writer.finish_error(&ctx, err).await)`.
//!    Call `writer.persist()` before a create (crash-safety intent) and right after it (the cloud id).
//! 4. `cleanup` confirms the cloud deletion (NotFound = done) or returns an error naming the blocker;
//!    `deletionPolicy: Orphan` and `managementPolicy: ObserveOnly` return `Ok` at once.
//! 5. `run(ctx, shutdown)` builds its kube `Controller` with `ctx.controller(api, watcher_config)`
//!    (not `Controller::new`: `/readyz` waits for the caches built this way, and `edgefleet_managed_objects`
//!    counts their objects) from `ctx.config.namespaced_api()` and `ctx.config.watcher_config()`, sets
//!    `concurrency`, adds `watches` for what it depends on, and calls
//!    `.run(reconcile, runtime::error_policy, ctx)`.
//!    Add a [`ControllerEntry`] to [`CONTROLLERS`] (`cargo xtask demo` then waits for its samples too).
//! 6. Metrics: reconcile counts, durations, errors, `edgefleet_managed_objects` and time to Ready come from
//!    the runtime; a controller with per-object gauges feeds them through `ctx.metrics` (the EdgeCloud
//!    controller: `ctx.metrics.set_fleet(ns, name, &[SiteReplicas { .. }])` after each pass,
//!    `ctx.metrics.remove_fleet(ns, name)` once deleted). docs/operations.md lists the families.

pub mod edge_cloud;
pub mod edge_instance;
pub mod events;
pub mod intent;
pub mod managed;
pub mod provider_config;
pub mod runtime;
pub mod security_group;
pub mod vpc;

use std::future::Future;
use std::sync::Arc;

pub use runtime::{Context, ControllerConfig, ErrorClass, PassError, ReconcileError};

use crate::api::condition::reason;
use crate::provider::ProviderError;

/// Stalled reason: a cloud object with the desired unique name exists and this object never created it;
/// edgefleet does not adopt by accident — set `spec.adoptId` to adopt it, or pick another name.
pub const NAME_CONFLICT: &str = "NameConflict";

/// The requeue class and Stalled reason (if any) of a provider error: throttling honours Retry-After,
/// transient failures and conflicts back off, and invalid requests, missing permissions and quotas stall.
pub fn provider_error_class(err: &ProviderError) -> (ErrorClass, Option<&'static str>) {
    match err {
        ProviderError::Throttled { retry_after, .. } => (ErrorClass::Throttled(*retry_after), None),
        ProviderError::Transient { .. }
        | ProviderError::Protocol { .. }
        | ProviderError::NotFound { .. }
        | ProviderError::Conflict { .. } => (ErrorClass::Transient, None),
        ProviderError::InUse { .. } => (ErrorClass::Waiting, None),
        ProviderError::Unauthorized { .. } => {
            (ErrorClass::Stalled { recheck: true }, Some(reason::UNAUTHORIZED))
        }
        ProviderError::QuotaExceeded { .. } => (
            ErrorClass::Stalled { recheck: true },
            Some(reason::QUOTA_EXCEEDED),
        ),
        // No capacity is not the spec's fault and returns without a human: recheck slowly, no edit needed.
        ProviderError::CapacityExhausted { .. } => (
            ErrorClass::Stalled { recheck: true },
            Some(reason::CAPACITY_EXHAUSTED),
        ),
        ProviderError::Invalid { .. } | ProviderError::Configuration { .. } => {
            (ErrorClass::Stalled { recheck: false }, Some(reason::INVALID_SPEC))
        }
        ProviderError::Unsupported { .. } => (
            ErrorClass::Stalled { recheck: false },
            Some(reason::UNSUPPORTED_CHANGE),
        ),
    }
}

/// The shutdown signal every controller of one [`run_all`] call shares.
pub type SharedShutdown = futures::future::Shared<futures::future::BoxFuture<'static, ()>>;

/// One controller [`run_all`] starts: the kind it reconciles and its `run` function.
#[derive(Clone, Copy)]
pub struct ControllerEntry {
    /// The Kubernetes kind (`Vpc`, ...), as in the CRD.
    pub kind: &'static str,
    /// Runs the controller until the shutdown signal resolves and its in-flight reconciles drained.
    pub run: fn(Arc<Context>, SharedShutdown) -> futures::future::BoxFuture<'static, ()>,
}

impl std::fmt::Debug for ControllerEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerEntry")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Every controller of the operator, in start order: the one list [`run_all`] starts, `edgefleet
/// controllers` prints (the demo waits for the samples of exactly these kinds) and docs/controllers.md
/// describes. Add a controller here.
pub const CONTROLLERS: &[ControllerEntry] = &[
    ControllerEntry {
        kind: "ProviderConfig",
        run: |ctx, shutdown| Box::pin(provider_config::run(ctx, shutdown)),
    },
    ControllerEntry {
        kind: "Vpc",
        run: |ctx, shutdown| Box::pin(vpc::run(ctx, shutdown)),
    },
    ControllerEntry {
        kind: "SecurityGroup",
        run: |ctx, shutdown| Box::pin(security_group::run(ctx, shutdown)),
    },
    ControllerEntry {
        kind: "EdgeInstance",
        run: |ctx, shutdown| Box::pin(edge_instance::run(ctx, shutdown)),
    },
    ControllerEntry {
        kind: "EdgeCloud",
        run: |ctx, shutdown| Box::pin(edge_cloud::run(ctx, shutdown)),
    },
];

/// The kinds that have a controller ([`CONTROLLERS`]).
pub fn controlled_kinds() -> Vec<&'static str> {
    CONTROLLERS.iter().map(|entry| entry.kind).collect()
}

/// Runs every controller of [`CONTROLLERS`] until `shutdown` resolves, then returns once each has drained
/// its in-flight reconciles.
///
/// ```no_run
/// # async fn f(ctx: std::sync::Arc<edgefleet::controller::Context>) {
/// use edgefleet::controller::{ControllerConfig, run_all};
/// let (tx, mut rx) = tokio::sync::watch::channel(false);
/// let shutdown = async move { let _ = rx.wait_for(|stop| *stop).await; };
/// let task = tokio::spawn(run_all(ctx, ControllerConfig::default(), shutdown));
/// // ...
/// let _ = tx.send(true);
/// # }
/// ```
pub async fn run_all(
    ctx: Arc<Context>,
    config: ControllerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    run_all_reporting(ctx, config, shutdown, || {}).await;
}

/// [`run_all`], calling `ready` once the controllers run and every cache they built with
/// [`Context::controller`] has completed its first list — what `/readyz` of a leader waits for. The caches
/// are forgotten (and the census stops) when the controllers have stopped.
pub async fn run_all_reporting(
    ctx: Arc<Context>,
    config: ControllerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce() + Send,
) {
    use futures::FutureExt;
    let ctx = if ctx.config == config {
        ctx
    } else {
        Arc::new(Context::new(
            ctx.client.clone(),
            ctx.providers.clone(),
            ctx.metrics.clone(),
            config,
            None,
        ))
    };
    let shutdown: SharedShutdown = shutdown.boxed().shared();
    let controllers = futures::future::join_all(
        CONTROLLERS
            .iter()
            .map(|entry| (entry.run)(ctx.clone(), shutdown.clone())),
    );
    // `controllers` is polled first (biased): every controller registers its cache before its first
    // `.await`, so the wait in `report` sees all of them.
    let report = async {
        ctx.caches.synced().await;
        let tracked = ctx.caches.kinds();
        let untracked: Vec<&str> = controlled_kinds()
            .into_iter()
            .filter(|kind| !tracked.iter().any(|t| t == kind))
            .collect();
        if !untracked.is_empty() {
            tracing::warn!(
                ?untracked,
                "controllers without a tracked cache: readiness does not cover them"
            );
        }
        tracing::info!(caches = ?tracked, "controller caches synced");
        ready();
    };
    let mut controllers = std::pin::pin!(controllers);
    tokio::select! {
        biased;
        _ = &mut controllers => {}
        () = report => {
            controllers.await;
        }
    }
    ctx.caches.stop();
    ctx.users.clear();
}
