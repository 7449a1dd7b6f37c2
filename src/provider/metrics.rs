//! Prometheus metrics of the cloud boundary: calls, errors by category, throttles and latency, labelled by
//! provider, account (ProviderConfig name) and operation, and the tokens left in each account's rate
//! limiter (read live at scrape time). One [`ProviderMetrics`] is shared by all clients.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, Weak};

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use super::ratelimit::RateLimiter;

/// Labels of a call.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// Provider kind (`iec`, ...).
    pub provider: String,
    /// ProviderConfig name.
    pub account: String,
    /// Client operation (`iec.vpc.create`, ...).
    pub operation: String,
}

/// Labels of a failed call.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Provider kind.
    pub provider: String,
    /// ProviderConfig name.
    pub account: String,
    /// Client operation.
    pub operation: String,
    /// [`crate::provider::ProviderError::category`].
    pub category: String,
}

/// Labels of a drift-poll observation.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObservationLabels {
    /// Provider kind.
    pub provider: String,
    /// ProviderConfig name.
    pub account: String,
    /// Object kind (`instance`).
    pub kind: String,
    /// `batch` (answered by a list of the account's objects) or `direct` (read on its own).
    pub source: String,
}

/// How a drift poll was answered: the `source` label of [`ObservationLabels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservationSource {
    /// By a list of the account's objects ([`crate::provider::batch::Snapshots`]).
    Batch,
    /// By a read of the object on its own.
    Direct,
}

impl ObservationSource {
    /// The label value: `batch` or `direct`.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Batch => "batch",
            Self::Direct => "direct",
        }
    }
}

/// Labels of an account's rate limiter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct LimiterLabels {
    /// Provider kind.
    pub provider: String,
    /// ProviderConfig name.
    pub account: String,
}

/// `edgefleet_provider_rate_limiter_tokens`: one gauge per account's limiter, read when scraped (the bucket
/// refills continuously, so a value stored at the last call would be stale). Holds the limiters weakly.
#[derive(Debug, Clone, Default)]
pub struct LimiterTokens {
    limiters: Arc<RwLock<BTreeMap<LimiterLabels, Weak<RateLimiter>>>>,
}

impl EncodeMetric for LimiterTokens {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let live: Vec<(LimiterLabels, f64)> = crate::locks::read(&self.limiters)
            .iter()
            .filter_map(|(labels, limiter)| Some((labels.clone(), limiter.upgrade()?.available())))
            .collect();
        for (labels, tokens) in live {
            encoder.encode_family(&labels)?.encode_gauge(&tokens)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

impl TypedMetric for LimiterTokens {
    const TYPE: MetricType = MetricType::Gauge;
}

type HistogramFamily = Family<CallLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// The boundary's metrics. Cheap to clone (families are reference-counted).
#[derive(Debug, Clone)]
pub struct ProviderMetrics {
    calls: Family<CallLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    throttles: Family<CallLabels, Counter>,
    retries: Family<CallLabels, Counter>,
    latency: HistogramFamily,
    limiter_tokens: LimiterTokens,
    observations: Family<ObservationLabels, Counter>,
}

impl Default for ProviderMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ProviderMetrics {
    /// Unregistered metrics (tests, or when the caller registers later).
    pub fn new() -> Self {
        Self {
            calls: Family::default(),
            errors: Family::default(),
            throttles: Family::default(),
            retries: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            limiter_tokens: LimiterTokens::default(),
            observations: Family::default(),
        }
    }

    /// Creates the metrics and registers them under `edgefleet_provider_*` in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::new();
        let sub = registry.sub_registry_with_prefix("edgefleet_provider");
        sub.register("calls", "Cloud API calls (one per HTTP attempt)", m.calls.clone());
        sub.register(
            "errors",
            "Failed cloud API calls by error category",
            m.errors.clone(),
        );
        sub.register(
            "throttles",
            "Cloud API calls answered with a throttling error",
            m.throttles.clone(),
        );
        sub.register("retries", "Cloud API call retries", m.retries.clone());
        sub.register(
            "call_duration_seconds",
            "Cloud API call latency",
            m.latency.clone(),
        );
        sub.register(
            "rate_limiter_tokens",
            "Tokens left in an account's rate limiter (negative: callers are queued for a token)",
            m.limiter_tokens.clone(),
        );
        sub.register(
            "observations",
            "Drift-poll observations by source: a batched list of the account's objects, or a direct read",
            m.observations.clone(),
        );
        m
    }

    /// Reports `limiter`'s tokens under `edgefleet_provider_rate_limiter_tokens{provider, account}` from now
    /// on (until it is dropped or [`ProviderMetrics::forget_limiter`]).
    pub fn track_limiter(&self, provider: &str, account: &str, limiter: &Arc<RateLimiter>) {
        crate::locks::write(&self.limiter_tokens.limiters).insert(
            LimiterLabels {
                provider: provider.to_owned(),
                account: account.to_owned(),
            },
            Arc::downgrade(limiter),
        );
    }

    /// Stops reporting the limiter of `account` (its ProviderConfig was deleted).
    pub fn forget_limiter(&self, account: &str) {
        crate::locks::write(&self.limiter_tokens.limiters).retain(|labels, _| labels.account != account);
    }

    /// Records one finished HTTP attempt.
    pub fn observe_call(&self, labels: &CallLabels, seconds: f64) {
        self.calls.get_or_create(labels).inc();
        self.latency.get_or_create(labels).observe(seconds);
    }

    /// Records one drift-poll observation.
    pub fn observe_observation(&self, labels: &ObservationLabels) {
        self.observations.get_or_create(labels).inc();
    }

    /// Observations recorded so far for these labels (for tests and diagnostics).
    pub fn observations(&self, labels: &ObservationLabels) -> u64 {
        self.observations.get(labels).map_or(0, |c| c.get())
    }

    /// Records one failed call.
    pub fn observe_error(&self, labels: &CallLabels, category: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                provider: labels.provider.clone(),
                account: labels.account.clone(),
                operation: labels.operation.clone(),
                category: category.to_owned(),
            })
            .inc();
    }

    /// Records one throttled attempt.
    pub fn observe_throttle(&self, labels: &CallLabels) {
        self.throttles.get_or_create(labels).inc();
    }

    /// Records one retry.
    pub fn observe_retry(&self, labels: &CallLabels) {
        self.retries.get_or_create(labels).inc();
    }

    /// Calls recorded so far for these labels (for tests and diagnostics).
    pub fn calls(&self, labels: &CallLabels) -> u64 {
        self.calls.get_or_create(labels).get()
    }

    /// Throttled attempts recorded so far for these labels.
    pub fn throttles(&self, labels: &CallLabels) -> u64 {
        self.throttles.get_or_create(labels).get()
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    #[test]
    fn registers_and_encodes_with_labels() {
        let mut registry = Registry::default();
        let m = ProviderMetrics::register(&mut registry);
        let labels = CallLabels {
            provider: "iec".into(),
            account: "acct".into(),
            operation: "iec.vpc.get".into(),
        };
        m.observe_call(&labels, 0.02);
        m.observe_error(&labels, "NotFound");
        m.observe_throttle(&labels);
        let mut out = String::new();
        assert!(encode(&mut out, &registry).is_ok());
        assert!(out.contains("edgefleet_provider_calls_total{provider=\"iec\",account=\"acct\",operation=\"iec.vpc.get\"} 1"), "{out}");
        assert!(out.contains("category=\"NotFound\""), "{out}");
        assert!(
            out.contains("edgefleet_provider_call_duration_seconds_bucket"),
            "{out}"
        );
        assert_eq!(m.calls(&labels), 1);
        assert_eq!(m.throttles(&labels), 1);
    }

    #[test]
    fn limiter_tokens_are_read_at_scrape_time_and_forgotten() {
        let mut registry = Registry::default();
        let m = ProviderMetrics::register(&mut registry);
        let limiter = Arc::new(RateLimiter::new(crate::provider::RateBudget {
            qps: 5.0,
            burst: 7,
        }));
        m.track_limiter("iec", "acct", &limiter);
        let render = |registry: &Registry| {
            let mut out = String::new();
            assert!(encode(&mut out, registry).is_ok());
            out
        };
        let out = render(&registry);
        assert!(
            out.contains("# TYPE edgefleet_provider_rate_limiter_tokens gauge"),
            "{out}"
        );
        assert!(
            out.contains("edgefleet_provider_rate_limiter_tokens{provider=\"iec\",account=\"acct\"} 7"),
            "{out}"
        );
        m.forget_limiter("acct");
        assert!(!render(&registry).contains("account=\"acct\"} "), "forgotten");
        m.track_limiter("iec", "gone", &limiter);
        drop(limiter);
        assert!(
            !render(&registry).contains("account=\"gone\""),
            "a dropped limiter is not reported"
        );
    }
}
