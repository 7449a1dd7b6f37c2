//! Reconcile passes counted per object, so a test can wait for "the controller has looked again" instead
//! of sleeping, and the one check that passes with nothing to do are no-ops ([`assert_quiescent`]).
//!
//! Every pass of every controller runs inside the `reconcile` span of `controller::runtime::instrumented`
//! (fields `kind`, `namespace`, `name`). [`layer`] is a tracing layer (installed by
//! [`super::harness::Env::start`] beside the log output) that counts, per (kind, namespace, name), the
//! spans opened (passes started) and closed (passes finished, successful or not, or aborted by a crash),
//! and wakes waiters through a `tokio::sync::watch` channel. kube-runtime never runs two passes of one
//! object at once, so "the n-th pass started after now has finished" is `finished >= started_now + n`.
//!
//! Why a count and not a duration: a check that nothing happens (no cloud mutation, no status write)
//! needs an observation window, and a window of wall-clock seconds may hold no pass at all on a slow
//! machine (the check could not fail) or several on a fast one. A window of N passes always holds N
//! complete looks at the object; its length in seconds is whatever the poll interval makes it. Each
//! wait is bounded by [`super::harness::WAIT`] and fails naming the object and the counts.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use kube::api::Api;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

use super::harness::{Env, WAIT};

/// The name of the span every reconcile pass runs in (`controller::runtime::instrumented`).
pub const RECONCILE_SPAN: &str = "reconcile";

/// (kind, namespace, name) of one object.
type Key = (String, String, String);

/// Passes started and finished of one object.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Passes {
    /// `reconcile` spans opened.
    pub started: u64,
    /// `reconcile` spans closed.
    pub finished: u64,
}

struct Counts {
    by_object: Mutex<HashMap<Key, Passes>>,
    /// Bumped after every change of `by_object`.
    tick: watch::Sender<u64>,
}

fn counts() -> &'static Counts {
    static COUNTS: OnceLock<Counts> = OnceLock::new();
    COUNTS.get_or_init(|| Counts {
        by_object: Mutex::new(HashMap::new()),
        tick: watch::Sender::new(0),
    })
}

/// Whether [`layer`] is part of the process's global subscriber (set by [`install`]).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Installs the global tracing subscriber of a test process: log lines to the test writer filtered by
/// `RUST_LOG` (default `warn`), and the pass counter (which sees every `reconcile` span whatever
/// `RUST_LOG` says). The first call in a process wins; later calls do nothing.
pub fn install() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let log_filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(log_filter),
        )
        .with(layer());
    if subscriber.try_init().is_ok() {
        INSTALLED.store(true, Ordering::SeqCst);
    }
}

/// The counting layer, filtered to the `reconcile` spans.
pub fn layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    PassCounter.with_filter(ReconcileSpans)
}

/// Lets only the `reconcile` spans through to [`PassCounter`].
struct ReconcileSpans;

impl<S> Filter<S> for ReconcileSpans {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        meta.is_span() && meta.name() == RECONCILE_SPAN
    }
}

/// Counts `reconcile` spans opened and closed per object.
struct PassCounter;

/// Reads `kind`, `namespace` and `name` from the span's fields.
#[derive(Default)]
struct KeyVisitor {
    kind: String,
    namespace: String,
    name: String,
}

impl KeyVisitor {
    fn set(&mut self, field: &Field, value: String) {
        match field.name() {
            "kind" => self.kind = value,
            "namespace" => self.namespace = value,
            "name" => self.name = value,
            _ => {}
        }
    }
}

impl Visit for KeyVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        // `%x` fields arrive here with a Debug that prints their Display.
        self.set(field, format!("{value:?}"));
    }
}

fn bump(key: &Key, f: impl FnOnce(&mut Passes)) {
    let c = counts();
    f(c.by_object
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(key.clone())
        .or_default());
    c.tick.send_modify(|t| *t += 1);
}

impl<S> Layer<S> for PassCounter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut v = KeyVisitor::default();
        attrs.record(&mut v);
        let key: Key = (v.kind, v.namespace, v.name);
        bump(&key, |p| p.started += 1);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(key);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let key = ctx.span(&id).and_then(|s| s.extensions().get::<Key>().cloned());
        if let Some(key) = key {
            bump(&key, |p| p.finished += 1);
        }
    }
}

/// The passes of `kind` `namespace`/`name` so far.
pub fn passes(kind: &str, namespace: &str, name: &str) -> Passes {
    let key: Key = (kind.to_owned(), namespace.to_owned(), name.to_owned());
    counts()
        .by_object
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
        .copied()
        .unwrap_or_default()
}

/// Waits until `n` passes of the object that start after this call have finished (any pass running now
/// finishes first, since passes of one object never overlap). Panics after [`WAIT`], naming the object.
pub async fn wait_passes(kind: &str, namespace: &str, name: &str, n: u64) {
    assert!(
        INSTALLED.load(Ordering::SeqCst),
        "the pass counter is not installed: another tracing subscriber was set first \
         (call support::quiescence::install() before anything else does)"
    );
    // Subscribe before reading, so a pass finishing in between still wakes us.
    let mut tick = counts().tick.subscribe();
    let start = passes(kind, namespace, name);
    let target = start.started + n;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = passes(kind, namespace, name);
        if now.finished >= target {
            return;
        }
        match tokio::time::timeout_at(deadline, tick.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => panic!(
                "{kind} {namespace}/{name}: waited {WAIT:?} for {n} more reconcile passes; \
                 passes at the start {start:?}, now {now:?}"
            ),
        }
    }
}

/// Checks that the passes of a settled object are no-ops: once the pass running now (and the one the last
/// status write triggered) has finished, two further complete passes make no cloud mutation and no write
/// to the object (resourceVersion unchanged), yet they did observe the cloud (drift polling goes on).
pub async fn assert_quiescent<K>(env: &Env, api: &Api<K>, name: &str)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let kind = K::kind(&()).to_string();
    let ns = env.ns.name();
    // Settle: whatever pass is running now finishes, and one more that started after it.
    wait_passes(&kind, ns, name, 1).await;
    let before = api.get(name).await.unwrap();
    let mutations = env.mutations();
    let requests = env.emu().calls().total_requests;
    wait_passes(&kind, ns, name, 2).await;
    let after = api.get(name).await.unwrap();
    assert_eq!(
        env.mutations(),
        mutations,
        "no cloud mutation on passes of {kind} {name} with nothing to do"
    );
    assert_eq!(
        before.resource_version(),
        after.resource_version(),
        "no status write on passes of {kind} {name} with nothing to do"
    );
    assert!(
        env.emu().calls().total_requests > requests,
        "drift polling of {kind} {name} kept observing the cloud"
    );
}
