//! Operator-level Prometheus metrics: reconcile counts, durations and errors per kind, managed objects by
//! condition, fleet replicas per EdgeCloud and site, time to Ready, and leadership.
//!
//! Per-provider cloud-call metrics (requests, latencies, throttling) belong to `crate::provider`; both
//! register into the same [`Registry`], which `/metrics` encodes. Every family here is prefixed
//! `edgefleet_`; docs/operations.md lists them with their labels.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Prefix of every family registered by [`Metrics::register`].
pub const METRIC_PREFIX: &str = "edgefleet";

/// Buckets of `edgefleet_reconcile_duration_seconds`: 5 ms to 60 s.
const RECONCILE_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Buckets of `edgefleet_time_to_ready_seconds`: 1 s to 1 h (cloud instances take minutes).
const TIME_TO_READY_BUCKETS: [f64; 12] = [
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0,
];

/// A condition's status as a label value: `True`, `False` or `Unknown`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum ConditionStatus {
    /// The condition is True.
    True,
    /// The condition is False.
    False,
    /// The condition is Unknown or absent.
    Unknown,
}

impl From<Option<bool>> for ConditionStatus {
    fn from(value: Option<bool>) -> Self {
        match value {
            Some(true) => Self::True,
            Some(false) => Self::False,
            None => Self::Unknown,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    kind: String,
    category: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ObjectLabels {
    kind: String,
    ready: ConditionStatus,
    synced: ConditionStatus,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FleetLabels {
    namespace: String,
    edge_cloud: String,
    site: String,
}

/// The sites each EdgeCloud (namespace, name) currently has series for.
type FleetSites = HashMap<(String, String), BTreeSet<String>>;

/// Desired and ready replicas of one EdgeCloud at one site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteReplicas {
    /// The site id.
    pub site: String,
    /// Replicas the placement assigns to the site.
    pub desired: i64,
    /// Members at the site whose EdgeInstance is Ready.
    pub ready: i64,
}

/// The operator-level metric families. Cheap to clone; all clones update the same series.
#[derive(Clone, Debug)]
pub struct Metrics {
    reconciles: Family<KindLabels, Counter>,
    reconciles_in_flight: Family<KindLabels, Gauge>,
    reconcile_duration: Family<KindLabels, Histogram>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    managed_objects: Family<ObjectLabels, Gauge>,
    fleet_desired: Family<FleetLabels, Gauge>,
    fleet_ready: Family<FleetLabels, Gauge>,
    fleet_sites: Arc<Mutex<FleetSites>>,
    time_to_ready: Family<KindLabels, Histogram>,
    leader: Gauge,
}

impl Metrics {
    /// Create the families and register them in `registry` under the `edgefleet_` prefix.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            reconciles: Family::default(),
            reconciles_in_flight: Family::default(),
            reconcile_duration: Family::new_with_constructor(|| Histogram::new(RECONCILE_BUCKETS)),
            reconcile_errors: Family::default(),
            managed_objects: Family::default(),
            fleet_desired: Family::default(),
            fleet_ready: Family::default(),
            fleet_sites: Arc::default(),
            time_to_ready: Family::new_with_constructor(|| Histogram::new(TIME_TO_READY_BUCKETS)),
            leader: Gauge::default(),
        };
        let registry = registry.sub_registry_with_prefix(METRIC_PREFIX);
        registry.register(
            "reconciles",
            "Reconcile passes completed, per kind",
            metrics.reconciles.clone(),
        );
        registry.register(
            "reconciles_in_flight",
            "Reconcile passes running now, per kind",
            metrics.reconciles_in_flight.clone(),
        );
        registry.register_with_unit(
            "reconcile_duration",
            "Duration of a reconcile pass, per kind",
            Unit::Seconds,
            metrics.reconcile_duration.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Reconcile passes that failed, per kind and error category",
            metrics.reconcile_errors.clone(),
        );
        registry.register(
            "managed_objects",
            "Objects of a kind by the status of their Ready and Synced conditions",
            metrics.managed_objects.clone(),
        );
        registry.register(
            "fleet_desired_replicas",
            "Replicas an EdgeCloud's placement assigns to a site",
            metrics.fleet_desired.clone(),
        );
        registry.register(
            "fleet_ready_replicas",
            "Ready members of an EdgeCloud at a site",
            metrics.fleet_ready.clone(),
        );
        registry.register_with_unit(
            "time_to_ready",
            "Time from an object's creation to its first Ready=True, per kind",
            Unit::Seconds,
            metrics.time_to_ready.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease and runs the controllers, else 0",
            metrics.leader.clone(),
        );
        metrics
    }

    /// Start timing a reconcile pass of `kind`. Dropping the guard counts the pass and records its duration.
    #[must_use = "the pass is recorded when the guard is dropped"]
    pub fn reconcile_started(&self, kind: &str) -> ReconcileTimer {
        let labels = KindLabels { kind: label(kind) };
        self.reconciles_in_flight.get_or_create(&labels).inc();
        ReconcileTimer {
            metrics: self.clone(),
            labels,
            started: Instant::now(),
        }
    }

    /// Count a failed reconcile pass of `kind`; `category` is the error's PascalCase category.
    pub fn reconcile_error(&self, kind: &str, category: &str) {
        let labels = ErrorLabels {
            kind: label(kind),
            category: label(category),
        };
        self.reconcile_errors.get_or_create(&labels).inc();
    }

    /// Set how many objects of `kind` have the given Ready and Synced statuses. Callers recount from their
    /// cache and set every combination (including zeros) so stale series drop to 0.
    pub fn set_objects(
        &self,
        kind: &str,
        ready: impl Into<ConditionStatus>,
        synced: impl Into<ConditionStatus>,
        count: i64,
    ) {
        let labels = ObjectLabels {
            kind: label(kind),
            ready: ready.into(),
            synced: synced.into(),
        };
        self.managed_objects.get_or_create(&labels).set(count);
    }

    /// Replace the per-site replica gauges of one EdgeCloud; sites not listed any more are removed.
    pub fn set_fleet(&self, namespace: &str, edge_cloud: &str, sites: &[SiteReplicas]) {
        let key = (namespace.to_owned(), edge_cloud.to_owned());
        let mut known = crate::locks::lock(&self.fleet_sites);
        let previous = known.remove(&key).unwrap_or_default();
        let current: BTreeSet<String> = sites.iter().map(|site| site.site.clone()).collect();
        for gone in previous.difference(&current) {
            let labels = fleet_labels(namespace, edge_cloud, gone);
            self.fleet_desired.remove(&labels);
            self.fleet_ready.remove(&labels);
        }
        for site in sites {
            let labels = fleet_labels(namespace, edge_cloud, &site.site);
            self.fleet_desired.get_or_create(&labels).set(site.desired);
            self.fleet_ready.get_or_create(&labels).set(site.ready);
        }
        if !current.is_empty() {
            known.insert(key, current);
        }
    }

    /// Remove every per-site gauge of a deleted EdgeCloud.
    pub fn remove_fleet(&self, namespace: &str, edge_cloud: &str) {
        self.set_fleet(namespace, edge_cloud, &[]);
    }

    /// Record the time from an object's creation to its first `Ready=True`.
    pub fn time_to_ready(&self, kind: &str, seconds: f64) {
        self.time_to_ready
            .get_or_create(&KindLabels { kind: label(kind) })
            .observe(seconds);
    }

    /// Set the leader gauge.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }
}

fn fleet_labels(namespace: &str, edge_cloud: &str, site: &str) -> FleetLabels {
    FleetLabels {
        namespace: label(namespace),
        edge_cloud: label(edge_cloud),
        site: label(site),
    }
}

/// A label value safe to emit: prometheus-client 0.24 writes label values unescaped, so `"`, `\` and line
/// breaks (possible in cloud-provided ids such as site names) are replaced with `_` to keep `/metrics`
/// parseable. Kubernetes names and kinds never contain them.
fn label(value: &str) -> String {
    value.replace(['"', '\\', '\n', '\r'], "_")
}

/// Times one reconcile pass; see [`Metrics::reconcile_started`].
#[derive(Debug)]
pub struct ReconcileTimer {
    metrics: Metrics,
    labels: KindLabels,
    started: Instant,
}

impl ReconcileTimer {
    /// Count this pass as failed with `category` (the pass itself is still counted when the guard drops).
    pub fn error(&self, category: &str) {
        self.metrics.reconcile_error(&self.labels.kind, category);
    }
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.metrics
            .reconciles_in_flight
            .get_or_create(&self.labels)
            .dec();
        self.metrics.reconciles.get_or_create(&self.labels).inc();
        self.metrics
            .reconcile_duration
            .get_or_create(&self.labels)
            .observe(self.started.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    fn render(registry: &Registry) -> String {
        let mut text = String::new();
        encode(&mut text, registry).unwrap();
        text
    }

    #[test]
    fn reconcile_guard_counts_times_and_tracks_in_flight() {
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        let timer = metrics.reconcile_started("Vpc");
        assert!(render(&registry).contains("edgefleet_reconciles_in_flight{kind=\"Vpc\"} 1"));
        timer.error("Throttled");
        drop(timer);
        let text = render(&registry);
        assert!(
            text.contains("edgefleet_reconciles_total{kind=\"Vpc\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("edgefleet_reconciles_in_flight{kind=\"Vpc\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("edgefleet_reconcile_duration_seconds_count{kind=\"Vpc\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("edgefleet_reconcile_errors_total{kind=\"Vpc\",category=\"Throttled\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn objects_are_labelled_by_condition_status() {
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        metrics.set_objects("EdgeInstance", Some(true), ConditionStatus::True, 4);
        metrics.set_objects("EdgeInstance", None, Some(false), 1);
        let text = render(&registry);
        assert!(
            text.contains(
                "edgefleet_managed_objects{kind=\"EdgeInstance\",ready=\"True\",synced=\"True\"} 4"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "edgefleet_managed_objects{kind=\"EdgeInstance\",ready=\"Unknown\",synced=\"False\"} 1"
            ),
            "{text}"
        );
    }

    #[test]
    fn fleet_gauges_follow_the_current_sites() {
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        let site = |site: &str, desired, ready| SiteReplicas {
            site: site.to_owned(),
            desired,
            ready,
        };
        metrics.set_fleet("team-a", "web", &[site("site-1", 3, 2), site("site-2", 2, 2)]);
        metrics.set_fleet("team-a", "web", &[site("site-1", 4, 3)]);
        let text = render(&registry);
        assert!(
            text.contains(
                "edgefleet_fleet_desired_replicas{namespace=\"team-a\",edge_cloud=\"web\",site=\"site-1\"} 4"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "edgefleet_fleet_ready_replicas{namespace=\"team-a\",edge_cloud=\"web\",site=\"site-1\"} 3"
            ),
            "{text}"
        );
        assert!(
            !text.contains("site-2"),
            "a site no longer placed must disappear: {text}"
        );
        metrics.set_fleet("team-a", "odd", &[site("cn \"north\"\\1\n", 1, 1)]);
        assert!(
            render(&registry).contains("site=\"cn _north__1_\"} 1"),
            "{}",
            render(&registry)
        );
        metrics.remove_fleet("team-a", "web");
        assert!(!render(&registry).contains("edge_cloud=\"web\""));
    }

    #[test]
    fn time_to_ready_and_leader() {
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        metrics.time_to_ready("EdgeCloud", 42.0);
        metrics.set_leader(true);
        let text = render(&registry);
        assert!(
            text.contains("edgefleet_time_to_ready_seconds_sum{kind=\"EdgeCloud\"} 42.0"),
            "{text}"
        );
        assert!(text.contains("edgefleet_leader 1"), "{text}");
        metrics.set_leader(false);
        assert!(render(&registry).contains("edgefleet_leader 0"));
    }
}
