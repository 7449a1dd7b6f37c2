//! Scope and timing of the controllers: [`ControllerConfig`] (namespace and label scope, concurrency,
//! poll and pending overrides, backoff bounds, recovery grace, stalled recheck), the per-object failure
//! [`Backoff`], an object's requeue [`Intervals`] and [`with_jitter`]. The leaf of the runtime: it imports
//! nothing else of it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::api::Api;
use kube::runtime::watcher;
use kube::{Client, Resource};

/// Scope and timing of the controllers started by one [`crate::controller::run_all`] call.
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

impl BackoffConfig {
    /// The delay after `failures` failures in a row, without jitter: `base * 2^(failures-1)` capped at
    /// `max` (zero failures: no delay). Deterministic, so a delay recorded in status (the retry of a
    /// failed cloud job) reads the same after a restart.
    pub fn delay_after(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let exp = failures.saturating_sub(1).min(20);
        self.base.saturating_mul(1u32 << exp).min(self.max)
    }
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
        let raw = self.config.delay_after(n);
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

/// The requeue intervals of one object (from its ProviderConfig, overridable by the ControllerConfig).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intervals {
    /// Drift-detection poll of Ready objects.
    pub poll: Duration,
    /// Re-check of objects with work in progress.
    pub pending: Duration,
}

impl Default for Intervals {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(300),
            pending: Duration::from_secs(10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_failure_count_gives_the_same_delay_every_time() {
        let c = BackoffConfig {
            base: Duration::from_millis(200),
            max: Duration::from_secs(3),
        };
        let delays: Vec<u64> = (0..7)
            .map(|n| u64::try_from(c.delay_after(n).as_millis()).unwrap())
            .collect();
        assert_eq!(delays, [0, 200, 400, 800, 1600, 3000, 3000]);
        assert_eq!(c.delay_after(u32::MAX), Duration::from_secs(3));
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
}
