//! Monitoring data: `POST /v1/batch-query-metric-data` (the SDK's `BatchListMetricData`). The seed
//! document has no chapter for it; the shapes are those of the API definition the official SDK is
//! generated from (`BatchListMetricDataRequestBody`, `BatchMetricData`, `DatapointForBatchMetric`),
//! whose field docs are Cloud Eye's batch query:
//!
//! * body `{metrics: [{namespace, metric_name, dimensions: [{name, value}]}], period, filter, from, to}`:
//!   `metrics` 1..500 entries, each with a `namespace` (`service.item`, 3..32 chars), a
//!   `metric_name` and 1..4 dimensions; `period` one of `1`, `300`, `1200`, `3600`, `14400`,
//!   `86400` (seconds, `1` = raw data); `filter` one of `max`, `min`, `average`, `sum`,
//!   `variance`; `from` < `to`, UNIX milliseconds. Anything else → 400 `IEC.000007` naming the field.
//! * answer 200 with a JSON **array** (the SDK's response is `Body *[]BatchMetricData`), one entry per
//!   requested metric in request order: `{namespace, metric_name, dimensions, unit, datapoints}`.
//!   `from` is rounded down to the period (as Cloud Eye does), points are one period apart (raw
//!   data: one a minute), and each point carries only the statistic named by `filter` plus its
//!   `timestamp`; at most 1440 points per metric (the latest ones).
//!
//! The emulator runs no workloads, so its data are synthetic: a metric whose dimensions include
//! `instance_id` naming an instance of the caller gets points from the instance's creation to the
//! request's `to` (capped at the emulator's now), with values derived deterministically from the
//! instance id, metric name and timestamp (the same query answers the same numbers). Every other
//! metric answers `datapoints: []`, which is what Cloud Eye answers for a metric without data.
//! `unit` is `%` for `*_util` metrics, `byte/s` for `*_rate*` metrics and `""` otherwise.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::core::cloud::Family;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::state::{StateError, Store};
use crate::iec::common::{Json, bad_field};
use crate::iec::instances::Instance;

/// Most metrics one request may name.
pub const MAX_METRICS: usize = 500;
/// Most datapoints answered per metric.
pub const MAX_POINTS: usize = 1440;
/// Accepted `period` values (seconds; `1` = raw data).
pub const PERIODS: [&str; 6] = ["1", "300", "1200", "3600", "14400", "86400"];
/// Accepted `filter` values.
pub const FILTERS: [&str; 5] = ["max", "min", "average", "sum", "variance"];
/// Interval of raw data points (period `1`).
const RAW_INTERVAL_MS: u64 = 60_000;

#[derive(Debug, Deserialize)]
struct Body {
    metrics: Vec<MetricInfo>,
    period: String,
    filter: String,
    from: i64,
    to: i64,
}

#[derive(Debug, Deserialize)]
struct MetricInfo {
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Option<Vec<Dimension>>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
struct Dimension {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

fn valid_namespace(ns: &str) -> bool {
    let Some((service, item)) = ns.split_once('.') else {
        return false;
    };
    let part = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    (3..=32).contains(&ns.len()) && part(service) && part(item)
}

/// A validated metric: namespace, name and `(name, value)` dimensions.
struct Query {
    namespace: String,
    metric_name: String,
    dimensions: Vec<(String, String)>,
}

fn validate(body: &Body) -> Result<(Vec<Query>, u64), ApiError> {
    if body.metrics.is_empty() || body.metrics.len() > MAX_METRICS {
        return Err(bad_field("metrics", "must have 1 to 500 entries"));
    }
    let period_ms = match body.period.as_str() {
        "1" => RAW_INTERVAL_MS,
        p if PERIODS.contains(&p) => p.parse::<u64>().unwrap_or(300) * 1000,
        _ => {
            return Err(bad_field(
                "period",
                "must be one of 1, 300, 1200, 3600, 14400, 86400",
            ));
        }
    };
    if !FILTERS.contains(&body.filter.as_str()) {
        return Err(bad_field(
            "filter",
            "must be one of max, min, average, sum, variance",
        ));
    }
    if body.from < 0 || body.to < 0 {
        return Err(bad_field(
            "from",
            "from and to are UNIX timestamps in milliseconds",
        ));
    }
    if body.from >= body.to {
        return Err(bad_field("from", "must be less than to"));
    }
    let mut out = Vec::with_capacity(body.metrics.len());
    for (i, m) in body.metrics.iter().enumerate() {
        let namespace = m.namespace.clone().unwrap_or_default();
        if !valid_namespace(&namespace) {
            return Err(bad_field(
                &format!("metrics[{i}].namespace"),
                "must be service.item (letters first, then letters, digits, _), 3 to 32 characters",
            ));
        }
        let metric_name = m.metric_name.clone().unwrap_or_default();
        if metric_name.is_empty() || metric_name.len() > 64 {
            return Err(bad_field(
                &format!("metrics[{i}].metric_name"),
                "must have 1 to 64 characters",
            ));
        }
        let dims = m.dimensions.as_deref().unwrap_or_default();
        if dims.is_empty() || dims.len() > 4 {
            return Err(bad_field(
                &format!("metrics[{i}].dimensions"),
                "must have 1 to 4 entries",
            ));
        }
        let mut dimensions = Vec::with_capacity(dims.len());
        for (j, d) in dims.iter().enumerate() {
            match (d.name.as_deref(), d.value.as_deref()) {
                (Some(n), Some(v)) if !n.is_empty() && !v.is_empty() => {
                    dimensions.push((n.to_string(), v.to_string()));
                }
                _ => {
                    return Err(bad_field(
                        &format!("metrics[{i}].dimensions[{j}]"),
                        "name and value are required",
                    ));
                }
            }
        }
        out.push(Query {
            namespace,
            metric_name,
            dimensions,
        });
    }
    Ok((out, period_ms))
}

fn unit_of(metric_name: &str) -> &'static str {
    if metric_name.ends_with("_util") {
        "%"
    } else if metric_name.contains("_rate") {
        "byte/s"
    } else {
        ""
    }
}

/// FNV-1a over the parts, then SplitMix64 finalisation: a stable 64-bit value per point.
fn mix(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The statistic `filter` of the synthetic samples of one period at `ts`.
fn statistic(instance: &str, metric: &str, ts: u64, period_ms: u64, filter: &str, unit: &str) -> f64 {
    let scale = if unit == "%" { 100.0 } else { 10_000.0 };
    let h = mix(&[instance.as_bytes(), metric.as_bytes(), &ts.to_be_bytes()]);
    let average = ((h % 10_000) as f64 / 10_000.0) * scale * 0.8 + scale * 0.1;
    let spread = (((h >> 20) % 1000) as f64 / 1000.0) * scale * 0.1;
    let samples = (period_ms / RAW_INTERVAL_MS).max(1) as f64;
    let round = |v: f64| (v * 100.0).round() / 100.0;
    round(match filter {
        "max" => average + spread,
        "min" => average - spread,
        "sum" => average * samples,
        "variance" => spread * spread / 3.0,
        _ => average,
    })
}

fn datapoints(
    instance: Option<&Instance>,
    q: &Query,
    body: &Body,
    period_ms: u64,
    now_ms: u64,
) -> Vec<Value> {
    let Some(instance) = instance else {
        return vec![];
    };
    let from = u64::try_from(body.from).unwrap_or(0);
    let to = u64::try_from(body.to).unwrap_or(0).min(now_ms);
    let start = from.max(instance.created_ms) / period_ms * period_ms;
    if start > to {
        return vec![];
    }
    let count = ((to - start) / period_ms + 1) as usize;
    let skip = count.saturating_sub(MAX_POINTS) as u64;
    let unit = unit_of(&q.metric_name);
    (skip..count as u64)
        .map(|i| {
            let ts = start + i * period_ms;
            let mut p = Map::new();
            p.insert(
                body.filter.clone(),
                json!(statistic(
                    &instance.id,
                    &q.metric_name,
                    ts,
                    period_ms,
                    &body.filter,
                    unit
                )),
            );
            p.insert("timestamp".into(), json!(ts));
            Value::Object(p)
        })
        .collect()
}

async fn batch_query(
    State(app): State<crate::core::app::AppState>,
    Caller(p): Caller,
    Json(body): Json<Body>,
) -> Result<Response, ApiError> {
    let (queries, period_ms) = validate(&body)?;
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let instances = tx.store.table::<Instance>()?;
        let out: Vec<Value> = queries
            .iter()
            .map(|q| {
                let instance = q
                    .dimensions
                    .iter()
                    .find(|(n, _)| n == "instance_id")
                    .and_then(|(_, id)| instances.get_visible(id, now));
                json!({
                    "namespace": q.namespace,
                    "metric_name": q.metric_name,
                    "dimensions": q.dimensions.iter()
                        .map(|(n, v)| json!({"name": n, "value": v}))
                        .collect::<Vec<_>>(),
                    "unit": unit_of(&q.metric_name),
                    "datapoints": datapoints(instance, q, &body, period_ms, now),
                })
            })
            .collect();
        Ok(axum::Json(Value::Array(out)).into_response())
    })
}

fn register(_store: &mut Store) -> Result<(), StateError> {
    Ok(())
}

/// The monitoring family.
pub fn family() -> Family {
    Family {
        name: "metrics",
        routes: || Router::new().route("/v1/batch-query-metric-data", post(batch_query)),
        register,
        timers: &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_follow_the_documented_pattern() {
        assert!(valid_namespace("SYS.IEC"));
        assert!(valid_namespace("AGT.ECS"));
        assert!(!valid_namespace("SYS"));
        assert!(!valid_namespace("1YS.IEC"));
        assert!(!valid_namespace("SYS.IE-C"));
        assert!(!valid_namespace(&format!("S.{}", "a".repeat(31))));
    }

    #[test]
    fn statistics_are_deterministic_and_ordered() {
        let s = |f| statistic("i-1", "cpu_util", 600_000, 300_000, f, "%");
        assert_eq!(s("average"), s("average"));
        assert!(s("min") <= s("average") && s("average") <= s("max"));
        assert!((0.0..=100.0).contains(&s("max")));
        assert!((s("sum") - s("average") * 5.0).abs() < 0.05);
    }
}
