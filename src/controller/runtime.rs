//! The shared reconcile runtime every controller is built from: [`ControllerConfig`] (scope, concurrency,
//! intervals), [`Context`] (Kubernetes client, provider registry, event recorder, metrics, backoff), the
//! [`ReconcileError`] contract that turns an error into a requeue policy and conditions, the finalizer
//! flow ([`run_finalizer`]), the error policy ([`error_policy`]) with per-object exponential backoff and
//! jitter, the instrumentation wrapper ([`instrumented`]) that records reconcile metrics, and the cache
//! tracker ([`Context::controller`], [`Caches`]) behind readiness and the `edgefleet_managed_objects` census.
//!
//! Nothing here knows a particular kind: the EdgeInstance and EdgeCloud controllers use the same pieces.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt as _;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::controller::Controller;
use kube::runtime::finalizer::{self, Event as FinalizerEvent};
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{PredicateConfig, WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tracing::{Instrument, debug, warn};

use crate::api::CREATE_INTENT_ANNOTATION;
use crate::api::provider_config::ProviderConfig;
pub use crate::api::{FIELD_MANAGER, FINALIZER};
use crate::controller::events::{EventRecorder, EventSpec, EventType};
use crate::controller::lookup::Lookups;
use crate::operator::metrics::{ConditionStatus, Metrics};
use crate::provider::ProviderRegistry;

/// How often a tracked cache is recounted for `edgefleet_managed_objects`.
pub const CENSUS_INTERVAL: Duration = Duration::from_secs(15);

/// The `reportingController` of events.
pub const REPORTING_CONTROLLER: &str = "edgefleet";

/// Scope and timing of the controllers started by one [`super::run_all`] call.
///
/// `namespace` and `label_selector` scope what the controllers watch, so several operators (or several
/// tests in one process) can share a cluster without reconciling each other's objects. The cluster-scoped
/// ProviderConfig is selected by `label_selector` only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerConfig {
    /// Only reconcile namespaced objects in this namespace (`None`: all namespaces).
    pub namespace: Option<String>,
    /// Only reconcile objects whose labels match this selector (e.g. `edgefleet.io/shard=a`).
    pub label_selector: Option<String>,
    /// Reconciles running at once per controller (kube's `Controller` concurrency; 0 = unbounded).
    pub concurrency: u16,
    /// Overrides every ProviderConfig's `spec.pollInterval` (drift detection) when set.
    pub poll_interval: Option<Duration>,
    /// Overrides every ProviderConfig's `spec.pendingPollInterval` (work in progress) when set.
    pub pending_interval: Option<Duration>,
    /// Per-object exponential backoff for failed reconciles.
    pub backoff: BackoffConfig,
    /// How long a create recorded in an intent may stay invisible in the cloud's lists before the
    /// controller concludes it did not happen (eventual consistency grace, crash-safety step 3).
    pub recovery_grace: Duration,
    /// Requeue of objects stalled on something a human can fix outside Kubernetes (credentials,
    /// quota); errors the spec must fix wait for a change instead.
    pub stalled_recheck: Duration,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            namespace: None,
            label_selector: None,
            concurrency: 4,
            poll_interval: None,
            pending_interval: None,
            backoff: BackoffConfig::default(),
            recovery_grace: Duration::from_secs(60),
            stalled_recheck: Duration::from_secs(600),
        }
    }
}

impl ControllerConfig {
    /// The watcher configuration for this scope (label selector applied).
    pub fn watcher_config(&self) -> watcher::Config {
        let wc = watcher::Config::default().any_semantic();
        match &self.label_selector {
            Some(selector) => wc.labels(selector),
            None => wc,
        }
    }

    /// An [`Api`] for a namespaced kind in this scope (one namespace or all).
    pub fn namespaced_api<K>(&self, client: &Client) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        match &self.namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
}

/// Exponential backoff with jitter for failed reconciles of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// Delay after the first failure.
    pub base: Duration,
    /// Upper bound of a delay (before jitter).
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

/// Per-object failure counts → the next backoff delay. Reset by a successful reconcile.
#[derive(Debug, Default)]
pub struct Backoff {
    config: BackoffConfig,
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// A tracker with the given bounds.
    pub fn new(config: BackoffConfig) -> Self {
        Self {
            config,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failure of `key` and returns the delay before the next attempt: `base * 2^(n-1)`
    /// capped at `max`, with "equal jitter" (a uniform value in `[d/2, d]`), so retries of many objects
    /// spread out while the delay still grows.
    pub fn next_delay(&self, key: &str) -> Duration {
        let n = {
            let mut map = crate::locks::lock(&self.failures);
            let n = map.entry(key.to_owned()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        let exp = n.saturating_sub(1).min(20);
        let raw = self.config.base.saturating_mul(1u32 << exp).min(self.config.max);
        let half = raw / 2;
        half + jitter_up_to(raw - half)
    }

    /// Failures recorded for `key` since its last success.
    pub fn failures(&self, key: &str) -> u32 {
        crate::locks::lock(&self.failures).get(key).copied().unwrap_or(0)
    }

    /// Forgets the failures of `key` (after a success).
    pub fn reset(&self, key: &str) {
        crate::locks::lock(&self.failures).remove(key);
    }
}

/// A uniform random duration in `[0, max]`.
fn jitter_up_to(max: Duration) -> Duration {
    let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::random_range(0..=ms))
}

/// `interval` plus up to 10% random jitter, so objects polled on the same interval spread out.
pub fn with_jitter(interval: Duration) -> Duration {
    interval + jitter_up_to(interval / 10)
}

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
/// it ([`super::intent`]: with the create intent, in one patch): an object without the finalizer that is
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

/// Everything a reconcile needs, shared by all controllers of one operator (or one test).
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// Cloud clients per ProviderConfig.
    pub providers: Arc<ProviderRegistry>,
    /// Publishes Kubernetes events.
    pub recorder: EventRecorder,
    /// Reconcile metrics per kind (the operator's `/metrics` families).
    pub metrics: Metrics,
    /// Scope and timing.
    pub config: ControllerConfig,
    /// Per-object failure backoff.
    pub backoff: Backoff,
    /// Last successful credential probe per account: (settings fingerprint, when).
    pub(crate) probes: Mutex<HashMap<String, (String, Instant)>>,
    /// The controllers' caches: synced or not, and the census tasks counting their objects.
    pub caches: Caches,
    /// Recently read ProviderConfigs (resolved), Vpcs and SecurityGroups.
    pub lookups: Arc<Lookups>,
}

impl Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context with a fresh event recorder (reporting controller `edgefleet`, instance `instance`).
    pub fn new(
        client: Client,
        providers: Arc<ProviderRegistry>,
        metrics: Metrics,
        config: ControllerConfig,
        instance: Option<String>,
    ) -> Self {
        let recorder = EventRecorder::new(client.clone(), REPORTING_CONTROLLER, instance);
        let backoff = Backoff::new(config.backoff);
        Self {
            client,
            providers,
            recorder,
            metrics,
            config,
            backoff,
            probes: Mutex::new(HashMap::new()),
            caches: Caches::default(),
            lookups: Arc::default(),
        }
    }

    /// A kube [`Controller`] for `api` and `wc`, like `Controller::new` but caching objects without their
    /// `managedFields`, and whose cache is tracked:
    /// readiness ([`Caches::synced`], behind `/readyz`) waits for its first complete list, and from then on
    /// its objects are counted by their Ready and Synced conditions into `edgefleet_managed_objects` every
    /// [`CENSUS_INTERVAL`].
    ///
    /// Every controller builds its `Controller` with this (in its `run`, before its first `.await`, so
    /// that [`super::run_all_reporting`] sees it when it starts waiting). Must be called inside a tokio
    /// runtime (it spawns the census task).
    ///
    /// (The cache's own `Store::wait_until_ready` cannot be used for this: it wakes only one waiter, and
    /// the controller's runner already waits on it.)
    pub fn controller<K>(&self, api: Api<K>, wc: watcher::Config) -> Controller<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + Sync + 'static,
    {
        self.controller_triggered_by(api, wc, intent_of)
    }

    /// [`Context::controller`] with another predicate than [`intent_of`] deciding which changes of an
    /// object trigger a pass (the EdgeInstance controller: [`intent_of_ignoring_own_metadata`]).
    pub fn controller_triggered_by<K>(
        &self,
        api: Api<K>,
        wc: watcher::Config,
        triggers: fn(&K) -> Option<u64>,
    ) -> Controller<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + Sync + 'static,
    {
        let kind = K::kind(&()).to_string();
        self.caches.register(&kind);
        let (reader, writer) = reflector::store::<K>();
        let state = self.caches.state.clone();
        let synced_kind = kind.clone();
        // managedFields are never read by a reconciler and are most of an applied object's size: keep
        // them out of the cache (measured in docs/benchmarks.md).
        let objects = watcher(api, wc).modify(|obj| obj.managed_fields_mut().clear());
        let stream = reflector(writer, objects)
            .inspect_ok(move |event| {
                if matches!(event, watcher::Event::InitDone) {
                    mark_synced(&state, &synced_kind);
                }
            })
            .applied_objects()
            // The object's own status writes (two per create, from this very controller) would each
            // trigger a pass with nothing to do; passes are requeued explicitly instead.
            .predicate_filter(triggers, PredicateConfig::default());
        let census_state = self.caches.state.subscribe();
        let metrics = self.metrics.clone();
        let store = reader.clone();
        let task = tokio::spawn(async move {
            let mut census_state = census_state;
            // Count only complete caches; end when the registrations are cleared (controllers stopped).
            if census_state
                .wait_for(|synced| synced.get(&kind).is_none_or(|done| *done))
                .await
                .is_err()
            {
                return;
            }
            while census_state.borrow().contains_key(&kind) {
                census(&kind, &store, &metrics);
                tokio::time::sleep(CENSUS_INTERVAL).await;
            }
        });
        crate::locks::lock(&self.caches.tasks).push(task.abort_handle());
        Controller::for_stream(stream, reader)
    }

    /// Publishes an event about `obj`; failures are logged, never returned (events are best effort).
    /// `note` must never contain secrets (callers pass cloud ids, names and error chains only).
    pub async fn publish<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        type_: EventType,
        reason: &str,
        action: &str,
        note: impl Into<String>,
    ) {
        let reference: ObjectReference = obj.object_ref(&());
        let mut note: String = note.into();
        if note.len() > 1000 {
            let mut cut = 1000;
            while !note.is_char_boundary(cut) {
                cut -= 1;
            }
            note.truncate(cut);
        }
        let event = EventSpec {
            type_,
            reason,
            action,
            note: &note,
        };
        if let Err(e) = self.recorder.publish(&reference, event).await {
            debug!(error = %e, reason, "failed to publish event");
        }
    }
}

/// What a change of an object must touch to trigger a reconcile of it: its spec (`generation`, which
/// the apiserver also bumps when a deletion with finalizers starts), labels, annotations (reboot
/// requests, EdgeCloud marks), finalizers, owners and deletion. Status is not in it: a controller's
/// own status writes trigger nothing, and every pass ends with an explicit requeue (the poll interval,
/// or the pending interval while work is in progress). Changes of other objects that matter (Vpcs,
/// SecurityGroups, Secrets, ProviderConfigs, members) trigger through their own watches.
pub fn intent_of<K: Resource>(obj: &K) -> Option<u64> {
    Some(metadata_hash(obj, false))
}

/// [`intent_of`] without edgefleet's own finalizer and create-intent annotation, for a controller whose
/// pass writes them and goes on ([`run_finalizer_in_pass`], [`super::intent`]): its own write must not
/// trigger a second pass (which could read a cache holding the intent but not yet the pass's closing
/// status write). A deletion still triggers (the deletion timestamp and the generation).
pub fn intent_of_ignoring_own_metadata<K: Resource>(obj: &K) -> Option<u64> {
    Some(metadata_hash(obj, true))
}

fn metadata_hash<K: Resource>(obj: &K, ignore_own: bool) -> u64 {
    use std::hash::{Hash, Hasher};
    let meta = obj.meta();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    meta.generation.hash(&mut h);
    meta.labels.hash(&mut h);
    let own_annotation = |k: &String| ignore_own && k == CREATE_INTENT_ANNOTATION;
    for (k, v) in meta.annotations.iter().flatten() {
        if !own_annotation(k) {
            (k, v).hash(&mut h);
        }
    }
    for f in meta.finalizers.iter().flatten() {
        if !(ignore_own && f == FINALIZER) {
            f.hash(&mut h);
        }
    }
    meta.deletion_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .hash(&mut h);
    if let Some(owners) = &meta.owner_references {
        for o in owners {
            (&o.uid, &o.kind, &o.name, o.controller).hash(&mut h);
        }
    }
    h.finish()
}

/// The caches of the controllers built with [`Context::controller`]: which have completed their first list.
#[derive(Debug)]
pub struct Caches {
    /// Kind → synced.
    state: watch::Sender<std::collections::BTreeMap<String, bool>>,
    /// Census tasks, stopped by [`Caches::stop`] or when the context is dropped.
    tasks: Mutex<Vec<AbortHandle>>,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            state: watch::Sender::new(std::collections::BTreeMap::new()),
            tasks: Mutex::new(Vec::new()),
        }
    }
}

impl Caches {
    fn register(&self, kind: &str) {
        self.state.send_modify(|synced| {
            synced.entry(kind.to_owned()).or_insert(false);
        });
    }

    /// The kinds registered so far.
    pub fn kinds(&self) -> Vec<String> {
        self.state.borrow().keys().cloned().collect()
    }

    /// Whether every registered cache has completed its first list.
    pub fn all_synced(&self) -> bool {
        self.state.borrow().values().all(|synced| *synced)
    }

    /// Resolves once every cache registered so far has completed its first list.
    pub async fn synced(&self) {
        let mut rx = self.state.subscribe();
        // The sender lives as long as `self`, so this only ends when the condition holds.
        let _ = rx.wait_for(|synced| synced.values().all(|s| *s)).await;
    }

    /// Stops the census tasks and forgets the registrations (the controllers stopped).
    pub fn stop(&self) {
        for task in crate::locks::lock(&self.tasks).drain(..) {
            task.abort();
        }
        self.state.send_modify(std::collections::BTreeMap::clear);
    }
}

impl Drop for Caches {
    fn drop(&mut self) {
        for task in crate::locks::get_mut(&mut self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// Records that the cache of `kind` completed a full list (a no-op after the first time, or when the
/// registrations were cleared because the controllers stopped).
fn mark_synced(state: &watch::Sender<std::collections::BTreeMap<String, bool>>, kind: &str) {
    state.send_if_modified(|synced| match synced.get_mut(kind) {
        Some(done) if !*done => {
            *done = true;
            debug!(kind = %kind, "cache synced");
            true
        }
        _ => false,
    });
}

/// Counts the objects of `store` by their Ready and Synced conditions and sets every combination
/// (zeros included, so stale series drop to 0).
fn census<K>(kind: &str, store: &Store<K>, metrics: &Metrics)
where
    K: Resource<DynamicType = ()> + Serialize + Clone,
{
    const STATUSES: [ConditionStatus; 3] = [
        ConditionStatus::True,
        ConditionStatus::False,
        ConditionStatus::Unknown,
    ];
    let mut counts: HashMap<(ConditionStatus, ConditionStatus), i64> = HashMap::new();
    for obj in store.state() {
        let value = serde_json::to_value(obj.as_ref()).unwrap_or_default();
        let key = (
            condition_status(&value, crate::api::condition::READY),
            condition_status(&value, crate::api::condition::SYNCED),
        );
        *counts.entry(key).or_insert(0) += 1;
    }
    for ready in STATUSES {
        for synced in STATUSES {
            let count = counts.get(&(ready, synced)).copied().unwrap_or(0);
            metrics.set_objects(kind, ready, synced, count);
        }
    }
}

/// The status of condition `type_` in a serialised object's `status.conditions` (absent → Unknown).
fn condition_status(obj: &serde_json::Value, type_: &str) -> ConditionStatus {
    let status = obj
        .pointer("/status/conditions")
        .and_then(serde_json::Value::as_array)
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|c| c.get("type").and_then(serde_json::Value::as_str) == Some(type_))
        })
        .and_then(|c| c.get("status"))
        .and_then(serde_json::Value::as_str);
    match status {
        Some("True") => ConditionStatus::True,
        Some("False") => ConditionStatus::False,
        _ => ConditionStatus::Unknown,
    }
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

/// A `watches` mapper from ProviderConfigs to the objects (in `store`) that use them, firing only when
/// something that matters to those objects changed: the ProviderConfig's generation, its CredentialsValid
/// status, or its deletion. (A change of `status.usedBy` alone would otherwise re-reconcile every user.)
pub fn provider_config_trigger<K>(
    lookups: Arc<Lookups>,
    store: Store<K>,
    provider_config_of: fn(&K) -> &str,
) -> impl Fn(ProviderConfig) -> Vec<ObjectRef<K>> + Send + Sync + 'static
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    let seen: Mutex<HashMap<String, String>> = Mutex::new(HashMap::new());
    move |pc: ProviderConfig| {
        let name = pc.name_any();
        // Any change (status included) drops the remembered resolution: the next pass reads it afresh.
        lookups.forget_provider(&name);
        let credentials = pc
            .status
            .as_ref()
            .and_then(|s| {
                crate::api::condition::find_condition(&s.conditions, crate::api::condition::CREDENTIALS_VALID)
            })
            .map(|c| c.status.as_str())
            .unwrap_or("");
        let fingerprint = format!(
            "{}|{}|{}",
            pc.metadata.generation.unwrap_or_default(),
            credentials,
            pc.metadata.deletion_timestamp.is_some()
        );
        let changed = {
            let mut map = crate::locks::lock(&seen);
            map.insert(name.clone(), fingerprint.clone())
                .is_none_or(|old| old != fingerprint)
        };
        if !changed {
            return Vec::new();
        }
        store
            .state()
            .into_iter()
            .filter(|o| provider_config_of(o) == name)
            .map(|o| ObjectRef::from_obj(o.as_ref()))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn only_spec_and_metadata_changes_trigger_a_pass() {
        use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus};
        let mut obj = Deployment::default();
        obj.metadata.generation = Some(1);
        let base = intent_of(&obj);
        // Status and resourceVersion changes (the controller's own writes) do not.
        obj.status = Some(DeploymentStatus {
            ready_replicas: Some(3),
            ..DeploymentStatus::default()
        });
        obj.metadata.resource_version = Some("42".into());
        assert_eq!(intent_of(&obj), base);
        let changed = |f: &dyn Fn(&mut Deployment)| {
            let mut v = obj.clone();
            f(&mut v);
            intent_of(&v)
        };
        assert_ne!(changed(&|v| v.metadata.generation = Some(2)), base);
        assert_ne!(
            changed(&|v| v
                .annotations_mut()
                .insert("edgefleet.io/reboot".into(), "1".into())
                .map_or((), |_| ())),
            base
        );
        assert_ne!(
            changed(&|v| v.labels_mut().insert("a".into(), "b".into()).map_or((), |_| ())),
            base
        );
        assert_ne!(changed(&|v| v.finalizers_mut().push("f".into())), base);
        assert_ne!(
            changed(&|v| v.metadata.deletion_timestamp = Some(crate::controller::status::now())),
            base
        );
        assert_ne!(
            changed(&|v| {
                v.metadata.owner_references = Some(vec![Default::default()]);
            }),
            base
        );
    }

    #[test]
    fn backoff_grows_caps_and_resets() {
        let b = Backoff::new(BackoffConfig {
            base: Duration::from_secs(1),
            max: Duration::from_secs(8),
        });
        let delays: Vec<Duration> = (0..6).map(|_| b.next_delay("k")).collect();
        let bounds = [1u64, 2, 4, 8, 8, 8];
        for (d, hi) in delays.iter().zip(bounds) {
            let hi = Duration::from_secs(hi);
            assert!(*d >= hi / 2 && *d <= hi, "{d:?} outside [{:?}, {hi:?}]", hi / 2);
        }
        assert_eq!(b.failures("k"), 6);
        assert_eq!(b.failures("other"), 0, "backoff is per object");
        b.reset("k");
        assert_eq!(b.failures("k"), 0);
        assert!(b.next_delay("k") <= Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..100 {
            let d = with_jitter(Duration::from_secs(10));
            assert!(
                d >= Duration::from_secs(10) && d <= Duration::from_secs(11),
                "{d:?}"
            );
        }
        assert_eq!(with_jitter(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn provider_config_trigger_fires_only_on_relevant_changes() {
        use crate::api::common::{DeletionPolicy, ManagementPolicy, ProviderConfigRef, SecretRef};
        use crate::api::condition::{CREDENTIALS_VALID, Condition, ConditionStatus};
        use crate::api::provider_config::{
            Credentials, CredentialsType, ProviderConfigSpec, ProviderConfigStatus, ProviderConfigUsage,
            ProviderType, RateLimit,
        };
        use crate::api::vpc::{Vpc, VpcSpec};

        let (store, mut writer) = kube::runtime::reflector::store::<Vpc>();
        for (name, pc) in [("a", "acct"), ("b", "other")] {
            let mut v = Vpc::new(
                name,
                VpcSpec {
                    provider_config_ref: ProviderConfigRef { name: pc.into() },
                    deletion_policy: DeletionPolicy::Delete,
                    management_policy: ManagementPolicy::Manage,
                    adopt_id: None,
                    name: None,
                    cidr: "10.0.0.0/16".into(),
                    iec: None,
                    subnets: vec![],
                },
            );
            v.metadata.namespace = Some("ns".into());
            writer.apply_watcher_event(&watcher::Event::Apply(v));
        }
        let trigger = provider_config_trigger(Arc::default(), store, |v: &Vpc| {
            v.spec.provider_config_ref.name.as_str()
        });
        let mut pc = ProviderConfig::new(
            "acct",
            ProviderConfigSpec {
                provider: ProviderType::Iec,
                region: None,
                project_id: None,
                domain_id: None,
                domain_name: None,
                endpoints: None,
                credentials: Credentials {
                    secret_ref: SecretRef {
                        name: "s".into(),
                        namespace: "ns".into(),
                    },
                    type_: CredentialsType::AkSk,
                },
                rate_limit: RateLimit::default(),
                poll_interval: "5m".into(),
                pending_poll_interval: "10s".into(),
            },
        );
        pc.metadata.generation = Some(1);
        let names = |refs: Vec<ObjectRef<Vpc>>| refs.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(
            names(trigger(pc.clone())),
            ["a"],
            "first sight: the users of this account only"
        );
        pc.status = Some(ProviderConfigStatus {
            used_by: Some(ProviderConfigUsage {
                total: 1,
                vpcs: 1,
                ..Default::default()
            }),
            ..Default::default()
        });
        assert!(
            trigger(pc.clone()).is_empty(),
            "a usage count change alone does not fire"
        );
        let condition = |s| Condition::new(CREDENTIALS_VALID, s, "x", "", Some(1));
        if let Some(st) = pc.status.as_mut() {
            st.conditions.push(condition(ConditionStatus::False));
        }
        assert_eq!(names(trigger(pc.clone())), ["a"], "credentials broke");
        assert!(trigger(pc.clone()).is_empty());
        if let Some(st) = pc.status.as_mut() {
            st.conditions = vec![condition(ConditionStatus::True)];
        }
        assert_eq!(names(trigger(pc.clone())), ["a"], "credentials fixed");
        pc.metadata.generation = Some(2);
        assert_eq!(names(trigger(pc)), ["a"], "spec changed");
    }

    #[test]
    fn caches_are_synced_only_when_every_registered_cache_listed() {
        use futures::FutureExt;
        let caches = Caches::default();
        assert!(
            caches.synced().now_or_never().is_some(),
            "nothing registered: nothing to wait for"
        );
        caches.register("Vpc");
        caches.register("SecurityGroup");
        assert_eq!(caches.kinds(), ["SecurityGroup", "Vpc"]);
        let mut waiting = Box::pin(caches.synced());
        assert!(waiting.as_mut().now_or_never().is_none());
        mark_synced(&caches.state, "Vpc");
        assert!(!caches.all_synced());
        assert!(
            waiting.as_mut().now_or_never().is_none(),
            "SecurityGroup has not listed yet"
        );
        mark_synced(&caches.state, "SecurityGroup");
        assert!(caches.all_synced());
        assert!(waiting.as_mut().now_or_never().is_some());
        // A re-list (InitDone again) changes nothing; a cleared registry (controllers stopped) ignores it.
        mark_synced(&caches.state, "Vpc");
        caches.stop();
        assert!(caches.kinds().is_empty());
        mark_synced(&caches.state, "Vpc");
        assert!(caches.kinds().is_empty());
    }

    #[test]
    fn condition_status_reads_serialised_conditions() {
        let obj = serde_json::json!({"status": {"conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "Synced", "status": "False"}
        ]}});
        assert_eq!(condition_status(&obj, "Ready"), ConditionStatus::True);
        assert_eq!(condition_status(&obj, "Synced"), ConditionStatus::False);
        assert_eq!(condition_status(&obj, "Stalled"), ConditionStatus::Unknown);
        assert_eq!(
            condition_status(&serde_json::json!({}), "Ready"),
            ConditionStatus::Unknown
        );
    }

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
