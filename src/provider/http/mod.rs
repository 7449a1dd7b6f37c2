//! The cloud-independent request pipeline every cloud client sends its calls through: it authenticates
//! each attempt (the cloud's [`Authenticate`]), waits on the shared rate limiter, times out (the
//! `reqwest::Client` carries the timeout), retries only what is safe (idempotent calls on transient errors;
//! any call the gateway throttled, since a 429 was never processed, after pausing the limiter for the
//! Retry-After), refreshes a rejected cached credential once, traces each attempt and records the call
//! metrics. The cloud supplies how to authenticate and how to read its error bodies ([`ErrorMapper`]);
//! [`paging`] holds the list loops.

pub mod paging;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

use crate::provider::error::{ErrorDetail, ProviderError};
use crate::provider::metrics::{CallLabels, ObservationLabels, ObservationSource, ProviderMetrics};
use crate::provider::ratelimit::RateLimiter;
use crate::provider::settings::{ProviderSettings, RetryPolicy, SecretString};

/// Result of a pipeline call.
pub type HttpResult<T> = Result<T, ProviderError>;

/// The `Content-Type` of every request.
pub const CONTENT_TYPE: &str = "application/json";

/// Throttle pause when a 429 carries no Retry-After (the Huawei gateway doc says retry after 2–5 s).
const DEFAULT_THROTTLE_PAUSE: Duration = Duration::from_secs(2);

/// The API base URL of a cloud client: the configured endpoint (`settings.endpoints.api`) or the
/// cloud's `default`, ending in `/` so that relative operation paths join below it.
pub fn base_url(op: &str, settings: &ProviderSettings, default: &str) -> Result<Url, ProviderError> {
    let configured = settings.endpoints.api.as_deref().unwrap_or(default);
    let mut base = Url::parse(configured)
        .map_err(|e| ProviderError::configuration(op, format!("invalid API endpoint {configured:?}: {e}")))?;
    if !base.path().ends_with('/') {
        let p = format!("{}/", base.path());
        base.set_path(&p);
    }
    Ok(base)
}

/// The HTTP client of a cloud client: the settings' request and connect timeouts, TLS verification and
/// edgefleet's user agent.
pub fn http_client(op: &str, settings: &ProviderSettings) -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .timeout(settings.request_timeout)
        .connect_timeout(settings.request_timeout.min(Duration::from_secs(10)))
        .danger_accept_invalid_certs(settings.insecure_skip_tls_verify)
        .user_agent(concat!("edgefleet/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ProviderError::configuration(op, format!("http client: {e}")))
}

/// The request id header the response carries, if any.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    ["X-Request-Id", "X-Openstack-Request-Id", "X-Compute-Request-Id"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()).map(str::to_owned))
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get("Retry-After")?.to_str().ok()?.trim().to_owned();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(&v).ok()?;
    (when.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

/// Percent-encodes per RFC 3986: unreserved `A-Za-z0-9-_.~` stay, everything else is `%XX` upper-case
/// (spaces as `%20`, never `+`). Query pairs and path segments are encoded with it.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `Host` as the server sees it: host, plus `:port` when the port is not the scheme default.
pub fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

/// A transport error's message without the URL query (which never holds secrets here, but stays short).
pub fn transport_message(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response body error"
    } else {
        "request failed"
    };
    let mut msg = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}

/// One API call.
#[derive(Debug)]
pub struct Call {
    /// Operation name (metrics label, span field, error context), e.g. `iec.vpc.list`.
    pub op: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Path below the base URL.
    pub path: String,
    /// Query pairs, unencoded.
    pub query: Vec<(String, String)>,
    /// JSON body.
    pub body: Option<Value>,
    /// Whether repeating the call is harmless (then it is retried on transient errors).
    pub idempotent: bool,
}

impl Call {
    /// A `GET` (idempotent).
    pub fn get(op: &'static str, path: impl Into<String>) -> Self {
        Self {
            op,
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotent: true,
        }
    }
    /// A `DELETE` (idempotent).
    pub fn delete(op: &'static str, path: impl Into<String>) -> Self {
        Self {
            op,
            method: Method::DELETE,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotent: true,
        }
    }
    /// A `POST` (not idempotent unless the caller says so).
    pub fn post(op: &'static str, path: impl Into<String>, body: Option<Value>) -> Self {
        Self {
            op,
            method: Method::POST,
            path: path.into(),
            query: Vec::new(),
            body,
            idempotent: false,
        }
    }
    /// A `PUT` (idempotent).
    pub fn put(op: &'static str, path: impl Into<String>, body: Value) -> Self {
        // A PUT of a full name/description is idempotent.
        Self {
            op,
            method: Method::PUT,
            path: path.into(),
            query: Vec::new(),
            body: Some(body),
            idempotent: true,
        }
    }
    /// Adds a query pair.
    pub fn query(mut self, k: &str, v: impl ToString) -> Self {
        self.query.push((k.to_owned(), v.to_string()));
        self
    }
    /// Adds a query pair unless the value is missing or empty.
    pub fn query_opt(self, k: &str, v: Option<&str>) -> Self {
        match v {
            Some(v) if !v.is_empty() => self.query(k, v),
            _ => self,
        }
    }
}

/// A successful response.
#[derive(Debug)]
pub struct Reply {
    /// The JSON body (`Null` when the body is empty).
    pub body: Value,
}

/// A request as it goes on the wire, for signing.
#[derive(Debug)]
pub struct Outgoing<'a> {
    /// HTTP method.
    pub method: &'a Method,
    /// Full URL with the encoded query.
    pub url: &'a Url,
    /// The `Content-Type` header the pipeline sends (signers that sign it need its value).
    pub content_type: &'a str,
    /// Exact body bytes sent.
    pub body: &'a [u8],
}

/// A response outside 2xx, for the cloud's error mapping.
#[derive(Debug)]
pub struct Failure<'a> {
    /// Operation name.
    pub operation: &'a str,
    /// HTTP status.
    pub status: u16,
    /// Request id header.
    pub request_id: Option<String>,
    /// Retry-After header.
    pub retry_after: Option<Duration>,
    /// Response body.
    pub body: &'a [u8],
}

/// Turns a failed response into a [`ProviderError`] (the cloud's error body and code table).
pub type ErrorMapper = fn(Failure<'_>) -> ProviderError;

/// How a cloud authenticates requests.
#[async_trait]
pub trait Authenticate: fmt::Debug + Send + Sync {
    /// Adds the authentication of one attempt to `req`, which is about to send `out`. Returns the cached
    /// credential used, if any, so that [`Authenticate::refresh`] can drop it when the cloud rejects it.
    async fn authenticate(
        &self,
        req: RequestBuilder,
        out: &Outgoing<'_>,
    ) -> HttpResult<(RequestBuilder, Option<SecretString>)>;

    /// `err` answered an attempt made with the cached credential `used`: when `err` says the credential
    /// was rejected, drops it and returns `true` (the call is then made once more, not counted as a retry).
    async fn refresh(&self, used: &SecretString, err: &ProviderError) -> bool;
}

/// Where and as whom a pipeline calls.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Provider label of metrics and spans (`iec`).
    pub provider: &'static str,
    /// API base URL (ends in `/`).
    pub base: Url,
    /// ProviderConfig name (metrics label).
    pub account: String,
    /// Retry policy.
    pub retry: RetryPolicy,
}

/// The request pipeline of one account.
#[derive(Debug)]
pub struct Pipeline {
    http: reqwest::Client,
    config: PipelineConfig,
    auth: Arc<dyn Authenticate>,
    errors: ErrorMapper,
    limiter: Arc<RateLimiter>,
    metrics: ProviderMetrics,
}

impl Pipeline {
    /// A pipeline over an existing `reqwest::Client` (which carries the timeout and TLS settings).
    pub fn new(
        http: reqwest::Client,
        config: PipelineConfig,
        auth: Arc<dyn Authenticate>,
        errors: ErrorMapper,
        limiter: Arc<RateLimiter>,
        metrics: ProviderMetrics,
    ) -> Self {
        Self {
            http,
            config,
            auth,
            errors,
            limiter,
            metrics,
        }
    }

    /// The shared limiter.
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }

    /// Counts one drift-poll observation of `kind` answered by `source`.
    pub fn count_observation(&self, kind: &str, source: ObservationSource) {
        self.metrics.observe_observation(&ObservationLabels {
            provider: self.config.provider.into(),
            account: self.config.account.clone(),
            kind: kind.to_owned(),
            source: source.label().to_owned(),
        });
    }

    fn labels(&self, op: &str) -> CallLabels {
        CallLabels {
            provider: self.config.provider.into(),
            account: self.config.account.clone(),
            operation: op.to_owned(),
        }
    }

    fn url(&self, call: &Call) -> HttpResult<Url> {
        let mut url = self
            .config
            .base
            .join(call.path.trim_start_matches('/'))
            .map_err(|e| ProviderError::configuration(call.op, format!("bad url path {}: {e}", call.path)))?;
        if !call.query.is_empty() {
            // RFC 3986 encoding (spaces as %20, never '+'), so a signed canonical query and the wire
            // query agree however the server decodes '+'.
            let q: Vec<String> = call
                .query
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            url.set_query(Some(&q.join("&")));
        }
        Ok(url)
    }

    /// Sends `call` through the pipeline.
    pub async fn execute(&self, call: Call) -> HttpResult<Reply> {
        let labels = self.labels(call.op);
        let max_attempts = self.config.retry.max_attempts.max(1);
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            self.limiter.acquire().await;
            let (token, result) = self.attempt(&call, &labels).await;
            let err = match result {
                Ok(reply) => return Ok(reply),
                Err(e) => e,
            };
            if !refreshed
                && let Some(used) = token.as_ref()
                && self.auth.refresh(used, &err).await
            {
                // The cloud rejected a cached token: it was dropped; log in once more.
                refreshed = true;
                attempt -= 1; // a token refresh is not a retry of the call
                tracing::debug!(operation = call.op, "token rejected; logging in again");
                continue;
            }
            match &err {
                ProviderError::Throttled { retry_after, .. } => {
                    self.metrics.observe_throttle(&labels);
                    let pause = retry_after
                        .unwrap_or(DEFAULT_THROTTLE_PAUSE)
                        .min(self.config.retry.max_delay);
                    self.limiter.pause_for(pause);
                    if attempt < max_attempts {
                        self.metrics.observe_retry(&labels);
                        tracing::debug!(
                            operation = call.op,
                            pause_ms = pause.as_millis() as u64,
                            "throttled; waiting"
                        );
                        continue;
                    }
                }
                ProviderError::Transient { .. } if call.idempotent && attempt < max_attempts => {
                    self.metrics.observe_retry(&labels);
                    let delay = self.backoff(attempt);
                    tracing::debug!(operation = call.op, delay_ms = delay.as_millis() as u64, error = %err, "retrying");
                    tokio::time::sleep(delay).await;
                    continue;
                }
                _ => {}
            }
            self.metrics.observe_error(&labels, err.category());
            return Err(err);
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.config.retry.base_delay.as_millis() as u64;
        let cap = self.config.retry.max_delay.as_millis() as u64;
        let exp = base
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20))
            .min(cap)
            .max(1);
        Duration::from_millis(rand::random_range(exp / 2..=exp))
    }

    async fn attempt(&self, call: &Call, labels: &CallLabels) -> (Option<SecretString>, HttpResult<Reply>) {
        let span = tracing::info_span!(
            "provider_call",
            provider = self.config.provider,
            account = %self.config.account,
            operation = call.op,
            method = %call.method,
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
        );
        let fut = async {
            let url = match self.url(call) {
                Ok(u) => u,
                Err(e) => return (None, Err(e)),
            };
            let body = match &call.body {
                Some(v) => match serde_json::to_vec(v) {
                    Ok(b) => b,
                    Err(e) => {
                        return (
                            None,
                            Err(ProviderError::configuration(call.op, format!("encode body: {e}"))),
                        );
                    }
                },
                None => Vec::new(),
            };
            let req = self
                .http
                .request(call.method.clone(), url.clone())
                .header("Content-Type", CONTENT_TYPE);
            let out = Outgoing {
                method: &call.method,
                url: &url,
                content_type: CONTENT_TYPE,
                body: &body,
            };
            let (mut req, used_token) = match self.auth.authenticate(req, &out).await {
                Ok(r) => r,
                Err(e) => return (None, Err(e)),
            };
            if call.body.is_some() {
                req = req.body(body);
            }
            let started = Instant::now();
            let sent = req.send().await;
            let result = match sent {
                Err(e) => Err(ProviderError::Transient {
                    detail: ErrorDetail::local(call.op, transport_message(&e)),
                }),
                Ok(resp) => self.read(call, resp).await,
            };
            self.metrics.observe_call(labels, started.elapsed().as_secs_f64());
            (used_token, result)
        };
        fut.instrument(span).await
    }

    async fn read(&self, call: &Call, resp: reqwest::Response) -> HttpResult<Reply> {
        let status = resp.status().as_u16();
        let rid = request_id(resp.headers());
        let span = tracing::Span::current();
        span.record("status", status);
        if let Some(r) = &rid {
            span.record("request_id", r.as_str());
        }
        let ra = retry_after(resp.headers());
        let bytes = resp.bytes().await.map_err(|e| ProviderError::Transient {
            detail: ErrorDetail {
                operation: call.op.into(),
                status: Some(status),
                message: transport_message(&e),
                request_id: rid.clone(),
                code: None,
            },
        })?;
        if (200..300).contains(&status) {
            let body = if bytes.iter().all(u8::is_ascii_whitespace) {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).map_err(|e| ProviderError::Protocol {
                    detail: ErrorDetail {
                        operation: call.op.into(),
                        status: Some(status),
                        code: None,
                        message: format!("response is not JSON: {e}"),
                        request_id: rid.clone(),
                    },
                })?
            };
            tracing::debug!(status, "ok");
            return Ok(Reply { body });
        }
        let err = (self.errors)(Failure {
            operation: call.op,
            status,
            request_id: rid,
            retry_after: ra,
            body: &bytes,
        });
        tracing::debug!(
            status,
            category = err.category(),
            code = err.code().unwrap_or(""),
            "failed"
        );
        Err(err)
    }

    /// Sends `call` and decodes the body as a `T`.
    pub async fn json<T: DeserializeOwned>(&self, call: Call) -> HttpResult<T> {
        let op = call.op;
        let reply = self.execute(call).await?;
        decode(op, reply.body)
    }

    /// Sends `call`, ignoring the body.
    pub async fn empty(&self, call: Call) -> HttpResult<()> {
        self.execute(call).await.map(|_| ())
    }
}

/// A response body of an unexpected shape.
pub fn protocol(op: &str, e: serde_json::Error) -> ProviderError {
    ProviderError::Protocol {
        detail: ErrorDetail::local(op, format!("unexpected response shape: {e}")),
    }
}

/// Decodes a response body.
pub fn decode<T: DeserializeOwned>(op: &str, v: Value) -> HttpResult<T> {
    serde_json::from_value(v).map_err(|e| protocol(op, e))
}

/// For responses whose body is informational (job ids): a missing or odd body is not an error.
pub fn decode_or_default<T: DeserializeOwned + Default>(op: &str, v: Value) -> T {
    if v.is_null() {
        return T::default();
    }
    serde_json::from_value(v).unwrap_or_else(|e| {
        tracing::debug!(operation = op, error = %e, "ignoring unexpected job body");
        T::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        let mut h = HeaderMap::new();
        h.insert("Retry-After", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), None, "a date in the past means no wait");
        h.insert("Retry-After", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn host_header_keeps_non_default_ports() {
        assert_eq!(
            host_header(&Url::parse("https://iecs.myhuaweicloud.com/v1").unwrap()),
            "iecs.myhuaweicloud.com"
        );
        assert_eq!(
            host_header(&Url::parse("http://127.0.0.1:8080/").unwrap()),
            "127.0.0.1:8080"
        );
    }

    #[test]
    fn encode_keeps_only_unreserved_characters() {
        assert_eq!(encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(encode("a b+c/d=é"), "a%20b%2Bc%2Fd%3D%C3%A9");
    }
}
