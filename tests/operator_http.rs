//! The operator's health/metrics server over real HTTP (no cluster needed): `/healthz`, `/readyz` following
//! the readiness handle, `/metrics` as strictly parsed OpenMetrics text carrying the operator families, and
//! the unelected runtime's shutdown order (controllers drain while probes still answer).

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use edgefleet::operator::{
    self, ConditionStatus, Exit, Metrics, Operator, Readiness, RuntimeConfig, Shutdown, SiteReplicas,
    StopReason,
};
use prometheus_client::registry::Registry;
use tokio::sync::oneshot;

/// Generous bound for things that should happen at once; only a hang reaches it.
const TIMEOUT: Duration = Duration::from_secs(30);

async fn get(addr: SocketAddr, path: &str) -> (u16, String, Option<String>) {
    let response = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap().to_owned());
    (status, response.text().await.unwrap(), content_type)
}

#[tokio::test]
async fn healthz_is_ok_and_readyz_follows_readiness() {
    let readiness = Readiness::new();
    let stop = Shutdown::new();
    let server = operator::serve(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(Registry::default()),
        readiness.clone(),
        stop.clone(),
    )
    .await
    .unwrap();
    let addr = server.local_addr;

    assert_eq!(get(addr, "/healthz").await.0, 200);
    let (status, body, _) = get(addr, "/readyz").await;
    assert_eq!(status, 503, "not ready before the role is known: {body}");
    assert!(body.starts_with("starting"), "{body}");

    readiness.set_standby();
    assert_eq!(get(addr, "/readyz").await.0, 200, "a connected standby is ready");

    readiness.set_leading();
    let (status, body, _) = get(addr, "/readyz").await;
    assert_eq!(
        status, 503,
        "a new leader is ready only with its controllers: {body}"
    );
    readiness.set_controllers_ready(true);
    assert_eq!(get(addr, "/readyz").await.0, 200);

    readiness.set_shutting_down();
    assert_eq!(get(addr, "/readyz").await.0, 503);
    assert_eq!(get(addr, "/healthz").await.0, 200, "alive while shutting down");
    assert_eq!(get(addr, "/nope").await.0, 404);

    stop.trigger();
    tokio::time::timeout(TIMEOUT, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        reqwest::get(format!("http://{addr}/healthz")).await.is_err(),
        "the server has stopped"
    );
}

/// One parsed sample line: metric name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The metric families of an exposition: TYPE per family, and all samples.
#[derive(Debug, Default)]
struct Exposition {
    types: BTreeMap<String, String>,
    helps: BTreeSet<String>,
    samples: Vec<Sample>,
}

impl Exposition {
    fn samples(&self, name: &str) -> Vec<&Sample> {
        self.samples.iter().filter(|sample| sample.name == name).collect()
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        self.samples
            .iter()
            .find(|sample| sample.name == name && sample.labels == wanted)
            .map(|sample| sample.value)
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_' || first == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parse `{k="v",...}` (the braces included) from the start of `text`; return the labels and the rest.
fn parse_labels(text: &str, line: &str) -> (BTreeMap<String, String>, String) {
    let mut labels = BTreeMap::new();
    let mut rest = text
        .strip_prefix('{')
        .unwrap_or_else(|| panic!("expected '{{' in {line:?}"));
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return (labels, after.to_owned());
        }
        let (name, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("expected label=\" in {line:?}"));
        assert!(is_label_name(name), "bad label name {name:?} in {line:?}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, '\\')) => value.push('\\'),
                    other => panic!("bad escape {other:?} in {line:?}"),
                },
                Some((index, '"')) => break index,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {line:?}"),
            }
        };
        assert!(
            labels.insert(name.to_owned(), value).is_none(),
            "duplicate label {name} in {line:?}"
        );
        rest = &after[end + 1..];
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else {
            assert!(
                rest.starts_with('}'),
                "expected ',' or '}}' after a label in {line:?}"
            );
        }
    }
}

/// A strict parser for the OpenMetrics text the server emits: every line is `# HELP`, `# TYPE`, `# UNIT`,
/// the final `# EOF`, or `name{labels} value`; every sample belongs to a declared family.
fn parse_exposition(text: &str) -> Exposition {
    let mut exposition = Exposition::default();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "the exposition must end with # EOF");
    for line in &lines[..lines.len() - 1] {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let keyword = parts.next().unwrap();
            let family = parts
                .next()
                .unwrap_or_else(|| panic!("comment without a family: {line:?}"));
            assert!(is_metric_name(family), "bad family name in {line:?}");
            let argument = parts
                .next()
                .unwrap_or_else(|| panic!("comment without text: {line:?}"));
            match keyword {
                "HELP" => assert!(
                    exposition.helps.insert(family.to_owned()),
                    "duplicate HELP: {line:?}"
                ),
                "TYPE" => {
                    let known = [
                        "counter",
                        "gauge",
                        "histogram",
                        "summary",
                        "info",
                        "stateset",
                        "unknown",
                    ];
                    assert!(known.contains(&argument), "unknown type in {line:?}");
                    let previous = exposition.types.insert(family.to_owned(), argument.to_owned());
                    assert!(previous.is_none(), "duplicate TYPE: {line:?}");
                }
                "UNIT" => assert!(
                    family.ends_with(&format!("_{argument}")),
                    "unit not in the name: {line:?}"
                ),
                _ => panic!("unexpected comment {line:?}"),
            }
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        let name = &line[..name_end];
        assert!(is_metric_name(name), "bad metric name in {line:?}");
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..], line)
        } else {
            (BTreeMap::new(), line[name_end..].to_owned())
        };
        let value_text = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("expected ' value' in {line:?}"));
        let value: f64 = match value_text {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            number => number
                .parse()
                .unwrap_or_else(|_| panic!("bad value {number:?} in {line:?}")),
        };
        exposition.samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    for sample in &exposition.samples {
        let family = ["_total", "_bucket", "_count", "_sum", "_created", "_info", ""]
            .iter()
            .find_map(|suffix| {
                let family = sample.name.strip_suffix(suffix)?;
                exposition.types.get(family).map(|kind| (family, kind))
            })
            .unwrap_or_else(|| panic!("sample {} belongs to no declared family", sample.name));
        if family.1 == "counter" {
            assert!(
                sample.name.ends_with("_total") || sample.name.ends_with("_created"),
                "counter sample {} must end in _total",
                sample.name
            );
        }
        if sample.name.ends_with("_bucket") {
            assert!(sample.labels.contains_key("le"), "bucket without le: {sample:?}");
        }
    }
    exposition
}

#[tokio::test]
async fn metrics_are_strict_openmetrics_with_the_operator_families() {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    {
        let timer = metrics.reconcile_started("EdgeCloud");
        timer.error("Throttled");
    }
    drop(metrics.reconcile_started("Vpc"));
    metrics.reconcile_error("Vpc", "Unauthorized");
    metrics.set_objects("EdgeInstance", ConditionStatus::True, ConditionStatus::True, 5);
    metrics.set_objects("EdgeInstance", ConditionStatus::False, ConditionStatus::True, 1);
    metrics.set_fleet(
        "team-a",
        "web",
        &[
            SiteReplicas {
                site: "cn-north-1a".to_owned(),
                desired: 3,
                ready: 2,
            },
            // A cloud-provided id with characters the exposition cannot carry raw.
            SiteReplicas {
                site: "odd \"site\"\n".to_owned(),
                desired: 1,
                ready: 0,
            },
        ],
    );
    metrics.time_to_ready("EdgeInstance", 95.0);
    metrics.set_leader(true);

    let stop = Shutdown::new();
    let server = operator::serve(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(registry),
        Readiness::new(),
        stop.clone(),
    )
    .await
    .unwrap();
    let (status, body, content_type) = get(server.local_addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(content_type.unwrap().starts_with("application/openmetrics-text"));
    let exposition = parse_exposition(&body);

    let expected_families = [
        ("edgefleet_reconciles", "counter"),
        ("edgefleet_reconciles_in_flight", "gauge"),
        ("edgefleet_reconcile_duration_seconds", "histogram"),
        ("edgefleet_reconcile_errors", "counter"),
        ("edgefleet_managed_objects", "gauge"),
        ("edgefleet_fleet_desired_replicas", "gauge"),
        ("edgefleet_fleet_ready_replicas", "gauge"),
        ("edgefleet_time_to_ready_seconds", "histogram"),
        ("edgefleet_leader", "gauge"),
    ];
    for (family, kind) in expected_families {
        assert_eq!(
            exposition.types.get(family).map(String::as_str),
            Some(kind),
            "family {family}"
        );
        assert!(exposition.helps.contains(family), "family {family} has HELP");
    }

    assert_eq!(
        exposition.value("edgefleet_reconciles_total", &[("kind", "EdgeCloud")]),
        Some(1.0)
    );
    assert_eq!(
        exposition.value("edgefleet_reconciles_in_flight", &[("kind", "Vpc")]),
        Some(0.0)
    );
    assert_eq!(
        exposition.value(
            "edgefleet_reconcile_errors_total",
            &[("kind", "EdgeCloud"), ("category", "Throttled")]
        ),
        Some(1.0)
    );
    assert_eq!(
        exposition.value(
            "edgefleet_reconcile_errors_total",
            &[("kind", "Vpc"), ("category", "Unauthorized")]
        ),
        Some(1.0)
    );
    assert_eq!(
        exposition.value("edgefleet_reconcile_duration_seconds_count", &[("kind", "Vpc")]),
        Some(1.0)
    );
    let buckets = exposition.samples("edgefleet_reconcile_duration_seconds_bucket");
    assert!(
        buckets
            .iter()
            .any(|bucket| bucket.labels.get("le").map(String::as_str) == Some("+Inf") && bucket.value == 1.0),
        "{buckets:?}"
    );
    assert_eq!(
        exposition.value(
            "edgefleet_managed_objects",
            &[("kind", "EdgeInstance"), ("ready", "False"), ("synced", "True")]
        ),
        Some(1.0)
    );
    let fleet = [
        ("namespace", "team-a"),
        ("edge_cloud", "web"),
        ("site", "cn-north-1a"),
    ];
    assert_eq!(
        exposition.value("edgefleet_fleet_desired_replicas", &fleet),
        Some(3.0)
    );
    assert_eq!(
        exposition.value("edgefleet_fleet_ready_replicas", &fleet),
        Some(2.0)
    );
    let odd = [
        ("namespace", "team-a"),
        ("edge_cloud", "web"),
        ("site", "odd _site__"),
    ];
    assert_eq!(
        exposition.value("edgefleet_fleet_desired_replicas", &odd),
        Some(1.0)
    );
    assert_eq!(
        exposition.value("edgefleet_time_to_ready_seconds_sum", &[("kind", "EdgeInstance")]),
        Some(95.0)
    );
    assert_eq!(exposition.value("edgefleet_leader", &[]), Some(1.0));

    stop.trigger();
    tokio::time::timeout(TIMEOUT, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// The cloud-boundary families of issue 9 (calls, errors, throttles, latency per provider/account/operation;
/// rate-limiter tokens) share the operator's registry and parse as strict OpenMetrics.
#[tokio::test]
async fn metrics_carry_the_provider_families() {
    use edgefleet::provider::metrics::CallLabels;
    use edgefleet::provider::{
        Credentials, Endpoints, ProviderKind, ProviderMetrics, ProviderRegistry, ProviderSettings,
        RateBudget, SecretString,
    };

    let mut registry = Registry::default();
    let _operator = Metrics::register(&mut registry);
    let provider_metrics = ProviderMetrics::register(&mut registry);
    let providers = ProviderRegistry::new(provider_metrics.clone());
    // Building a client registers the account's rate limiter (no call is made).
    let mut settings = ProviderSettings::new(
        ProviderKind::Iec,
        "acct-a",
        Credentials::AkSk {
            access_key: "AK".into(),
            secret_key: SecretString::new("SK"),
            security_token: None,
        },
    );
    settings.rate = RateBudget { qps: 5.0, burst: 9 };
    settings.endpoints = Endpoints {
        api: Some("http://127.0.0.1:9".into()),
        iam: Some("http://127.0.0.1:9".into()),
        ..Endpoints::default()
    };
    providers.get_or_build(&settings).unwrap();
    let labels = CallLabels {
        provider: "iec".into(),
        account: "acct-a".into(),
        operation: "iec.vpc.create".into(),
    };
    provider_metrics.observe_call(&labels, 0.12);
    provider_metrics.observe_error(&labels, "Throttled");
    provider_metrics.observe_throttle(&labels);
    provider_metrics.observe_retry(&labels);

    let stop = Shutdown::new();
    let server = operator::serve(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(registry),
        Readiness::new(),
        stop.clone(),
    )
    .await
    .unwrap();
    let exposition = parse_exposition(&get(server.local_addr, "/metrics").await.1);
    for (family, kind) in [
        ("edgefleet_provider_calls", "counter"),
        ("edgefleet_provider_errors", "counter"),
        ("edgefleet_provider_throttles", "counter"),
        ("edgefleet_provider_retries", "counter"),
        ("edgefleet_provider_call_duration_seconds", "histogram"),
        ("edgefleet_provider_rate_limiter_tokens", "gauge"),
    ] {
        assert_eq!(
            exposition.types.get(family).map(String::as_str),
            Some(kind),
            "family {family}"
        );
    }
    let call = [
        ("provider", "iec"),
        ("account", "acct-a"),
        ("operation", "iec.vpc.create"),
    ];
    assert_eq!(
        exposition.value("edgefleet_provider_calls_total", &call),
        Some(1.0)
    );
    assert_eq!(
        exposition.value("edgefleet_provider_throttles_total", &call),
        Some(1.0)
    );
    assert_eq!(
        exposition.value("edgefleet_provider_call_duration_seconds_sum", &call),
        Some(0.12)
    );
    assert_eq!(
        exposition.value(
            "edgefleet_provider_errors_total",
            &[
                ("provider", "iec"),
                ("account", "acct-a"),
                ("operation", "iec.vpc.create"),
                ("category", "Throttled")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        exposition.value(
            "edgefleet_provider_rate_limiter_tokens",
            &[("provider", "iec"), ("account", "acct-a")]
        ),
        Some(9.0),
        "a full bucket of the account's burst"
    );
    providers.remove("acct-a");
    let exposition = parse_exposition(&get(server.local_addr, "/metrics").await.1);
    assert!(
        exposition
            .samples("edgefleet_provider_rate_limiter_tokens")
            .is_empty(),
        "a deleted account's limiter is no longer reported"
    );
    stop.trigger();
}

#[test]
fn the_parser_rejects_malformed_lines() {
    let good = "# HELP up Up.\n# TYPE up gauge\nup{job=\"a\"} 1\n# EOF\n";
    assert_eq!(parse_exposition(good).value("up", &[("job", "a")]), Some(1.0));
    let bad = [
        "# TYPE up gauge\nup{job=\"a\"} one\n# EOF\n",
        "# TYPE up gauge\nup{job=\"a} 1\n# EOF\n",
        "# TYPE up gauge\nup 1\n",
        "# TYPE up gauge\ndown 1\n# EOF\n",
        "# TYPE up gauge\nsome free text\n# EOF\n",
        "# TYPE hits counter\nhits 1\n# EOF\n",
    ];
    for text in bad {
        let result = std::panic::catch_unwind(|| parse_exposition(text));
        assert!(result.is_err(), "must be rejected: {text:?}");
    }
}

fn unreachable_client() -> kube::Client {
    // Never contacted: leader election is disabled in these tests.
    kube::Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap())).unwrap()
}

#[tokio::test]
async fn unelected_runtime_drains_controllers_while_probes_answer() {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let readiness = Readiness::new();
    let shutdown = Shutdown::new();
    let config = RuntimeConfig {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        leader_election: None,
        shutdown_grace: TIMEOUT,
    };
    let operator = Operator::start(
        unreachable_client(),
        config,
        registry,
        metrics,
        readiness.clone(),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let addr = operator.http_addr();

    let (started_tx, started_rx) = oneshot::channel();
    let (stopping_tx, stopping_rx) = oneshot::channel();
    let (finish_tx, finish_rx) = oneshot::channel::<()>();
    let controller_readiness = readiness.clone();
    let running = tokio::spawn(operator.run(move |token| async move {
        controller_readiness.set_controllers_ready(true);
        started_tx.send(()).unwrap();
        let reason = token.stopped().await;
        stopping_tx.send(reason).unwrap();
        // Draining: in-flight work finishes when the test says so.
        finish_rx.await.unwrap();
    }));

    tokio::time::timeout(TIMEOUT, started_rx).await.unwrap().unwrap();
    assert_eq!(get(addr, "/readyz").await.0, 200);
    let exposition = parse_exposition(&get(addr, "/metrics").await.1);
    assert_eq!(exposition.value("edgefleet_leader", &[]), Some(1.0));

    shutdown.trigger();
    let reason = tokio::time::timeout(TIMEOUT, stopping_rx).await.unwrap().unwrap();
    assert_eq!(reason, StopReason::Shutdown);
    assert_eq!(
        get(addr, "/healthz").await.0,
        200,
        "liveness holds while draining"
    );
    assert_eq!(
        get(addr, "/readyz").await.0,
        503,
        "not ready once shutdown started"
    );

    finish_tx.send(()).unwrap();
    let exit = tokio::time::timeout(TIMEOUT, running).await.unwrap().unwrap();
    assert_eq!(exit, Exit::Shutdown);
    assert_eq!(exit.code(), 0);
    assert!(
        reqwest::get(format!("http://{addr}/healthz")).await.is_err(),
        "the server stops last"
    );
}

#[tokio::test]
async fn unelected_runtime_reports_controllers_that_exit_on_their_own() {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let config = RuntimeConfig {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        leader_election: None,
        shutdown_grace: TIMEOUT,
    };
    let exit = operator::run(
        unreachable_client(),
        config,
        registry,
        metrics,
        Readiness::new(),
        Shutdown::new(),
        |_token| async {},
    )
    .await
    .unwrap();
    assert_eq!(exit, Exit::ControllersExited);
    assert_eq!(exit.code(), 1);
}

#[tokio::test]
async fn binding_a_taken_address_is_an_error() {
    let stop = Shutdown::new();
    let first = operator::serve(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(Registry::default()),
        Readiness::new(),
        stop.clone(),
    )
    .await
    .unwrap();
    let second = operator::serve(
        first.local_addr,
        Arc::new(Registry::default()),
        Readiness::new(),
        stop.clone(),
    )
    .await;
    assert!(
        matches!(second, Err(operator::HttpError::Bind { .. })),
        "{second:?}"
    );
    stop.trigger();
}
