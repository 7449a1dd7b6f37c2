//! Kubernetes API traffic, counted by kube-apiserver itself: `apiserver_request_total` from its
//! `/metrics`, summed by (verb, group, resource, subresource). The bench takes a snapshot before and after
//! each phase and reports the difference, so every client (the operator, the bench's own writers, the
//! controller manager) is counted by the one component that sees them all.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use kube::Client;

/// Verbs that write (as kube-apiserver labels them; server-side apply is `APPLY`).
pub const WRITE_VERBS: [&str; 5] = ["POST", "PUT", "PATCH", "APPLY", "DELETE"];

/// One counter key: the request's verb and the resource it addressed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct RequestKey {
    /// HTTP verb as the apiserver reports it (`POST`, `APPLY`, `LIST`, `WATCH`, ...).
    pub verb: String,
    /// API group (`""` for the core group).
    pub group: String,
    /// Plural resource name.
    pub resource: String,
    /// Subresource (`status`, `scale`, or `""`).
    pub subresource: String,
}

impl RequestKey {
    /// Whether this request changed state.
    pub fn is_write(&self) -> bool {
        WRITE_VERBS.contains(&self.verb.as_str())
    }

    /// `resource[/subresource]`.
    pub fn target(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

/// Request counts at one moment.
#[derive(Debug, Clone, Default)]
pub struct Requests(pub BTreeMap<RequestKey, u64>);

impl Requests {
    /// Scrapes kube-apiserver's `/metrics` through the bench's (admin) client.
    pub async fn scrape(client: &Client) -> Result<Self> {
        let request = http::Request::get("/metrics")
            .body(Vec::new())
            .context("building the /metrics request")?;
        let text = client
            .request_text(request)
            .await
            .context("scraping kube-apiserver /metrics")?;
        Ok(Self::parse(&text))
    }

    /// Parses the Prometheus text exposition, keeping only `apiserver_request_total`.
    pub fn parse(text: &str) -> Self {
        let mut counts = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
                continue;
            };
            let Some((labels, value)) = rest.rsplit_once("} ") else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let labels = parse_labels(labels);
            let label = |name: &str| labels.get(name).cloned().unwrap_or_default();
            let key = RequestKey {
                verb: label("verb"),
                group: label("group"),
                resource: label("resource"),
                subresource: label("subresource"),
            };
            // Counters are integral; the float only comes from the text format.
            *counts.entry(key).or_insert(0) += value.round() as u64;
        }
        Self(counts)
    }

    /// `self - earlier`, per key (counters only grow; a missing key counts as 0).
    pub fn since(&self, earlier: &Requests) -> Requests {
        let mut diff = BTreeMap::new();
        for (key, &now) in &self.0 {
            let before = earlier.0.get(key).copied().unwrap_or(0);
            if now > before {
                diff.insert(key.clone(), now - before);
            }
        }
        Requests(diff)
    }

    /// Writes whose group passes `group_filter`.
    pub fn writes(&self, group_filter: impl Fn(&RequestKey) -> bool) -> u64 {
        self.0
            .iter()
            .filter(|(k, _)| k.is_write() && group_filter(k))
            .map(|(_, v)| v)
            .sum()
    }

    /// Writes grouped as `VERB resource[/subresource]` → count, for the report.
    pub fn write_breakdown(&self, group_filter: impl Fn(&RequestKey) -> bool) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for (key, count) in &self.0 {
            if key.is_write() && group_filter(key) {
                *out.entry(format!("{} {}", key.verb, key.target())).or_insert(0) += count;
            }
        }
        out
    }
}

/// Whether a request addressed edgefleet's own kinds.
pub fn is_edgefleet(key: &RequestKey) -> bool {
    key.group == edgefleet::api::GROUP
}

/// Whether a request is one the operator makes on the objects it manages: edgefleet kinds and events.
/// Leases (leader election renewals) are reported separately: they are the price of HA, not of objects.
pub fn is_object_traffic(key: &RequestKey) -> bool {
    is_edgefleet(key) || key.resource == "events"
}

/// Leader-election traffic.
pub fn is_lease(key: &RequestKey) -> bool {
    key.resource == "leases"
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some((name, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(match escaped {
                            'n' => '\n',
                            other => other,
                        });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                other => value.push(other),
            }
        }
        labels.insert(name.trim_start_matches(',').trim().to_string(), value);
        rest = &after[end.min(after.len())..];
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="edgefleet.io",resource="edgeinstances",scope="resource",subresource="",verb="POST",version="v1alpha1"} 10
apiserver_request_total{code="409",component="apiserver",dry_run="",group="edgefleet.io",resource="edgeinstances",scope="resource",subresource="",verb="POST",version="v1alpha1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="edgefleet.io",resource="edgeinstances",scope="resource",subresource="status",verb="APPLY",version="v1alpha1"} 30
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 4
apiserver_request_duration_seconds_bucket{verb="POST",le="0.1"} 99
"#;

    #[test]
    fn parses_and_sums_codes_per_key() {
        let r = Requests::parse(SAMPLE);
        assert_eq!(r.writes(is_edgefleet), 42);
        assert_eq!(r.writes(is_lease), 4);
        assert_eq!(r.writes(|_| true), 46, "LIST is not a write");
        let breakdown = r.write_breakdown(is_edgefleet);
        assert_eq!(breakdown.get("POST edgeinstances"), Some(&12));
        assert_eq!(breakdown.get("APPLY edgeinstances/status"), Some(&30));
    }

    #[test]
    fn difference_drops_unchanged_keys() {
        let before = Requests::parse(SAMPLE);
        let after = Requests::parse(&SAMPLE.replace("} 30", "} 35"));
        let diff = after.since(&before);
        assert_eq!(diff.0.len(), 1);
        assert_eq!(diff.writes(is_edgefleet), 5);
    }

    #[test]
    fn escaped_label_values_do_not_break_parsing() {
        let labels = parse_labels(r#"a="x\"y",b="z""#);
        assert_eq!(labels.get("a").map(String::as_str), Some("x\"y"));
        assert_eq!(labels.get("b").map(String::as_str), Some("z"));
    }
}
