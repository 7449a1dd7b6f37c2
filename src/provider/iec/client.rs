//! The IEC HTTP client: one typed method per API the controllers need, over a request pipeline that
//! authenticates (AK/SK signature or token), waits on the shared rate limiter, times out, retries only what
//! is safe (idempotent calls on transient errors; any call the gateway throttled, since a 429 was never
//! processed), refreshes a rejected token once, traces each attempt and records metrics. Pagination follows
//! each list API's own semantics (item offset, page number, bare arrays).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

use super::auth::{Auth, transport_message};
use super::errors::{ErrorBody, TOKEN_REFRESH_CODES, to_provider_error};
use super::signer;
use super::types::*;
use crate::provider::error::{ErrorDetail, ProviderError};
use crate::provider::metrics::{CallLabels, ObservationLabels, ProviderMetrics};
use crate::provider::ratelimit::RateLimiter;
use crate::provider::settings::RetryPolicy;

/// Result of a client call.
pub type IecResult<T> = Result<T, ProviderError>;

/// Largest page size the list APIs accept.
const PAGE_LIMIT: u32 = 1000;
/// Safety bound on pages per listing (a server that keeps returning data must not spin us forever).
const MAX_PAGES: u32 = 10_000;
/// Throttle pause when a 429 carries no Retry-After (the gateway doc says retry after 2–5 s).
const DEFAULT_THROTTLE_PAUSE: Duration = Duration::from_secs(2);

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

/// One API call.
#[derive(Debug)]
struct Call {
    op: &'static str,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
    idempotent: bool,
}

impl Call {
    fn get(op: &'static str, path: impl Into<String>) -> Self {
        Self {
            op,
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotent: true,
        }
    }
    fn delete(op: &'static str, path: impl Into<String>) -> Self {
        Self {
            op,
            method: Method::DELETE,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotent: true,
        }
    }
    fn post(op: &'static str, path: impl Into<String>, body: Option<Value>) -> Self {
        Self {
            op,
            method: Method::POST,
            path: path.into(),
            query: Vec::new(),
            body,
            idempotent: false,
        }
    }
    fn put(op: &'static str, path: impl Into<String>, body: Value) -> Self {
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
    fn query(mut self, k: &str, v: impl ToString) -> Self {
        self.query.push((k.to_owned(), v.to_string()));
        self
    }
    fn query_opt(self, k: &str, v: Option<&str>) -> Self {
        match v {
            Some(v) if !v.is_empty() => self.query(k, v),
            _ => self,
        }
    }
}

/// A successful response.
#[derive(Debug)]
struct Reply {
    body: Value,
}

/// Settings the client needs (a subset of provider settings, resolved).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// API base URL.
    pub base: Url,
    /// ProviderConfig name (metrics label).
    pub account: String,
    /// Project id header for AK/SK.
    pub project_id: Option<String>,
    /// Domain id (image job retry path).
    pub domain_id: Option<String>,
    /// Retry policy.
    pub retry: RetryPolicy,
}

/// The IEC API client.
#[derive(Debug)]
pub struct IecClient {
    http: reqwest::Client,
    config: ClientConfig,
    auth: Arc<Auth>,
    limiter: Arc<RateLimiter>,
    metrics: ProviderMetrics,
}

impl IecClient {
    /// A client over an existing `reqwest::Client` (which carries the timeout and TLS settings).
    pub fn new(
        http: reqwest::Client,
        config: ClientConfig,
        auth: Arc<Auth>,
        limiter: Arc<RateLimiter>,
        metrics: ProviderMetrics,
    ) -> Self {
        Self {
            http,
            config,
            auth,
            limiter,
            metrics,
        }
    }

    /// The authentication in use.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The shared limiter.
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }

    /// Counts one drift-poll observation of `kind` answered by `source` (`batch` or `direct`).
    pub fn count_observation(&self, kind: &str, source: &str) {
        self.metrics.observe_observation(&ObservationLabels {
            provider: "iec".into(),
            account: self.config.account.clone(),
            kind: kind.to_owned(),
            source: source.to_owned(),
        });
    }

    fn labels(&self, op: &str) -> CallLabels {
        CallLabels {
            provider: "iec".into(),
            account: self.config.account.clone(),
            operation: op.to_owned(),
        }
    }

    fn url(&self, call: &Call) -> IecResult<Url> {
        let mut url = self
            .config
            .base
            .join(call.path.trim_start_matches('/'))
            .map_err(|e| ProviderError::configuration(call.op, format!("bad url path {}: {e}", call.path)))?;
        if !call.query.is_empty() {
            // RFC 3986 encoding (spaces as %20, never '+'), so the signed canonical query and the wire
            // query agree however the server decodes '+'.
            let q: Vec<String> = call
                .query
                .iter()
                .map(|(k, v)| format!("{}={}", signer::encode(k), signer::encode(v)))
                .collect();
            url.set_query(Some(&q.join("&")));
        }
        Ok(url)
    }

    async fn execute(&self, call: Call) -> IecResult<Reply> {
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
            match &err {
                ProviderError::Unauthorized { detail }
                    if !refreshed
                        && detail
                            .code
                            .as_deref()
                            .is_some_and(|c| TOKEN_REFRESH_CODES.contains(&c))
                        && token.is_some()
                        && matches!(*self.auth, Auth::Password(_)) =>
                {
                    // IEC rejected a cached token (IEC.000003/000004): drop it, log in once more.
                    if let (Auth::Password(src), Some(tok)) = (&*self.auth, token.as_ref()) {
                        src.invalidate(tok).await;
                    }
                    refreshed = true;
                    attempt -= 1; // a token refresh is not a retry of the call
                    tracing::debug!(operation = call.op, "token rejected; logging in again");
                    continue;
                }
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

    async fn attempt(
        &self,
        call: &Call,
        labels: &CallLabels,
    ) -> (Option<crate::provider::SecretString>, IecResult<Reply>) {
        let span = tracing::info_span!(
            "provider_call",
            provider = "iec",
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
            let mut req = self
                .http
                .request(call.method.clone(), url.clone())
                .header("Content-Type", "application/json");
            let mut used_token = None;
            match &*self.auth {
                Auth::AkSk {
                    access_key,
                    secret_key,
                    security_token,
                } => {
                    let date = chrono::Utc::now().format(signer::DATE_FORMAT).to_string();
                    let host = host_header(&url);
                    let mut headers: Vec<(&str, &str)> = vec![("host", &host), ("x-sdk-date", &date)];
                    if let Some(p) = &self.config.project_id {
                        headers.push(("x-project-id", p));
                    }
                    if let Some(t) = security_token {
                        headers.push(("x-security-token", t.expose()));
                    }
                    let input = signer::SignInput {
                        method: call.method.as_str(),
                        path: url.path(),
                        query: url.query(),
                        headers: &headers,
                        body: &body,
                    };
                    let authorization = signer::authorization(&input, &date, access_key, secret_key.expose());
                    req = req
                        .header(signer::DATE_HEADER, &date)
                        .header("Authorization", authorization);
                    if let Some(p) = &self.config.project_id {
                        req = req.header("X-Project-Id", p);
                    }
                    if let Some(t) = security_token {
                        req = req.header("X-Security-Token", t.expose());
                    }
                }
                Auth::Password(src) => match src.token().await {
                    Ok(t) => {
                        req = req.header("X-Auth-Token", t.expose());
                        used_token = Some(t);
                    }
                    Err(e) => return (None, Err(e)),
                },
                Auth::Token(t) => {
                    req = req.header("X-Auth-Token", t.expose());
                }
            }
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

    async fn read(&self, call: &Call, resp: reqwest::Response) -> IecResult<Reply> {
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
        let (code, message) = ErrorBody::parse(&bytes);
        let err = to_provider_error(status, code, message, rid, call.op, ra);
        tracing::debug!(
            status,
            category = err.category(),
            code = err.code().unwrap_or(""),
            "failed"
        );
        Err(err)
    }

    async fn json<T: DeserializeOwned>(&self, call: Call) -> IecResult<T> {
        let op = call.op;
        let reply = self.execute(call).await?;
        decode(op, reply.body)
    }

    async fn json_key<T: DeserializeOwned>(&self, call: Call, key: &str) -> IecResult<T> {
        let op = call.op;
        let reply = self.execute(call).await?;
        unwrap_key(reply.body, key).map_err(|e| protocol(op, e))
    }

    async fn empty(&self, call: Call) -> IecResult<()> {
        self.execute(call).await.map(|_| ())
    }

    /// Lists with an item offset: `offset` = items to skip; stops at `count`/`total` or a short page.
    async fn list_item_offset<T, F>(&self, make: impl Fn() -> Call, limit: u32, parse: F) -> IecResult<Vec<T>>
    where
        F: Fn(Value) -> Result<(Vec<T>, Option<u64>), serde_json::Error>,
    {
        let mut out = Vec::new();
        let mut offset: u64 = 0;
        for _ in 0..MAX_PAGES {
            let call = make().query("limit", limit).query("offset", offset);
            let op = call.op;
            let reply = self.execute(call).await?;
            let (items, total) = parse(reply.body).map_err(|e| protocol(op, e))?;
            let n = items.len() as u64;
            out.extend(items);
            offset += n;
            let done = match total {
                Some(t) => offset >= t || n == 0,
                None => n < u64::from(limit) || n == 0,
            };
            if done {
                return Ok(out);
            }
        }
        Ok(out)
    }

    /// Lists with a page-number `offset` (instances, flavors). The doc is ambiguous whether pages are
    /// 0- or 1-based ("0 returns page 1", "default 1"), so: fetch offset 0, 1, 2, ... deduplicating by id;
    /// a repeat of page 1 at offset 1 (1-based server) is skipped, not taken as the end.
    async fn list_page_number<T, F>(
        &self,
        make: impl Fn() -> Call,
        limit: u32,
        parse: F,
        id: fn(&T) -> &str,
    ) -> IecResult<Vec<T>>
    where
        F: Fn(Value) -> Result<(Vec<T>, Option<u64>), serde_json::Error>,
    {
        let mut out: Vec<T> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for page in 0..MAX_PAGES {
            let call = make().query("limit", limit).query("offset", page);
            let op = call.op;
            let reply = self.execute(call).await?;
            let (items, total) = parse(reply.body).map_err(|e| protocol(op, e))?;
            let n = items.len();
            let mut new = 0usize;
            for item in items {
                if seen.insert(id(&item).to_owned()) {
                    out.push(item);
                    new += 1;
                }
            }
            let complete = total.is_some_and(|t| out.len() as u64 >= t);
            let short = n < limit as usize;
            if n == 0 || complete || (total.is_none() && short) || (new == 0 && page != 1) {
                return Ok(out);
            }
        }
        Ok(out)
    }

    // -----------------------------------------------------------------------------------------------------
    // Deployment plans and edge clouds
    // -----------------------------------------------------------------------------------------------------

    /// `POST /v1/deployments`.
    pub async fn create_deployment(
        &self,
        req: &CreateDeploymentRequest,
    ) -> IecResult<CreateDeploymentResponse> {
        self.json(Call::post(
            "iec.deployment.create",
            "/v1/deployments",
            Some(to_value(req)?),
        ))
        .await
    }

    /// `GET /v1/deployments` (all pages), optionally filtered.
    pub async fn list_deployments(
        &self,
        edgecloud_id: Option<&str>,
        status: Option<&str>,
    ) -> IecResult<Vec<Deployment>> {
        self.list_item_offset(
            || {
                Call::get("iec.deployment.list", "/v1/deployments")
                    .query_opt("edgecloud_id", edgecloud_id)
                    .query_opt("status", status)
            },
            PAGE_LIMIT,
            |v| serde_json::from_value::<DeploymentList>(v).map(|l| (l.deployments, l.count)),
        )
        .await
    }

    /// `DELETE /v1/deployments/{id}`.
    pub async fn delete_deployment(&self, id: &str) -> IecResult<()> {
        self.empty(Call::delete(
            "iec.deployment.delete",
            format!("/v1/deployments/{}", seg(id)),
        ))
        .await
    }

    /// `POST /v1/deployments/{id}/deploy`.
    pub async fn deploy(&self, id: &str) -> IecResult<DeployResponse> {
        self.json(Call::post(
            "iec.deployment.deploy",
            format!("/v1/deployments/{}/deploy", seg(id)),
            None,
        ))
        .await
    }

    /// `POST /v1/deployments/{id}/expand`.
    pub async fn expand(&self, id: &str) -> IecResult<DeployResponse> {
        self.json(Call::post(
            "iec.deployment.expand",
            format!("/v1/deployments/{}/expand", seg(id)),
            None,
        ))
        .await
    }

    /// `GET /v1/edgeclouds` (all pages), optionally by exact name or id.
    pub async fn list_edge_clouds(&self, name: Option<&str>, id: Option<&str>) -> IecResult<Vec<EdgeCloud>> {
        self.list_item_offset(
            || {
                Call::get("iec.edgecloud.list", "/v1/edgeclouds")
                    .query_opt("name", name)
                    .query_opt("id", id)
            },
            PAGE_LIMIT,
            |v| serde_json::from_value::<EdgeCloudList>(v).map(|l| (l.edgeclouds, l.count)),
        )
        .await
    }

    /// `GET /v1/edgeclouds/{id}` (unwrapped; a wrapped `edgecloud` is tolerated).
    pub async fn get_edge_cloud(&self, id: &str) -> IecResult<EdgeCloud> {
        self.json_key(
            Call::get("iec.edgecloud.get", format!("/v1/edgeclouds/{}", seg(id))),
            "edgecloud",
        )
        .await
    }

    /// `DELETE /v1/edgeclouds/{id}` → job.
    pub async fn delete_edge_cloud(&self, id: &str) -> IecResult<JobResponse> {
        let reply = self
            .execute(Call::delete(
                "iec.edgecloud.delete",
                format!("/v1/edgeclouds/{}", seg(id)),
            ))
            .await?;
        Ok(decode_or_default("iec.edgecloud.delete", reply.body))
    }

    // -----------------------------------------------------------------------------------------------------
    // Instances
    // -----------------------------------------------------------------------------------------------------

    /// `GET /v1/cloudservers` (all pages; page-number offsets), filtered by the given query pairs.
    pub async fn list_instances(&self, filters: &[(&str, &str)]) -> IecResult<Vec<Instance>> {
        self.list_instances_as(filters, PAGE_LIMIT, |i| i, |i| i.id.as_str())
            .await
    }

    /// `GET /v1/cloudservers` in pages of `limit`, each instance turned into a `T` as its page arrives
    /// (a list of every instance of an account then holds one page of wire shapes at a time).
    pub async fn list_instances_as<T>(
        &self,
        filters: &[(&str, &str)],
        limit: u32,
        map: fn(Instance) -> T,
        id: fn(&T) -> &str,
    ) -> IecResult<Vec<T>> {
        let filters: Vec<(String, String)> = filters
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.list_page_number(
            || {
                let mut c = Call::get("iec.instance.list", "/v1/cloudservers");
                c.query.extend(filters.iter().cloned());
                c
            },
            limit,
            |v| serde_json::from_value::<InstanceList>(v).map(|l| {
                if !l.err_sites.is_empty() {
                    tracing::warn!(sites = ?l.err_sites, "instance list is partial: some sites did not answer");
                }
                (l.servers.into_iter().map(map).collect(), l.count)
            }),
            id,
        )
        .await
    }

    /// `POST /v1/cloudservers` → job and server ids. Never retried on transient errors.
    pub async fn create_instances(&self, server: &CreateInstanceOption) -> IecResult<CreateInstanceResponse> {
        self.json(Call::post(
            "iec.instance.create",
            "/v1/cloudservers",
            Some(json!({"server": to_value(server)?})),
        ))
        .await
    }

    /// `GET /v1/cloudservers/{id}`.
    pub async fn get_instance(&self, id: &str) -> IecResult<Instance> {
        self.json_key(
            Call::get("iec.instance.get", format!("/v1/cloudservers/{}", seg(id))),
            "server",
        )
        .await
    }

    /// `PUT /v1/cloudservers/{id}` (response unwrapped per the doc; wrapped tolerated).
    pub async fn update_instance(
        &self,
        id: &str,
        name: Option<&str>,
        description: Option<&str>,
    ) -> IecResult<Instance> {
        let mut server = serde_json::Map::new();
        if let Some(n) = name {
            server.insert("name".into(), n.into());
        }
        if let Some(d) = description {
            server.insert("description".into(), d.into());
        }
        self.json_key(
            Call::put(
                "iec.instance.update",
                format!("/v1/cloudservers/{}", seg(id)),
                json!({"server": server}),
            ),
            "server",
        )
        .await
    }

    /// `POST /v1/cloudservers/delete` → job. Deleting is idempotent (a repeat finds nothing to delete), so
    /// it is retried on transient errors.
    pub async fn delete_instances(&self, ids: &[String]) -> IecResult<JobResponse> {
        let servers: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
        let mut call = Call::post(
            "iec.instance.delete",
            "/v1/cloudservers/delete",
            Some(json!({"servers": servers})),
        );
        call.idempotent = true;
        let reply = self.execute(call).await?;
        Ok(decode_or_default("iec.instance.delete", reply.body))
    }

    /// `POST /v1/cloudservers/action` with `os-start` / `os-stop` / `reboot`. Power actions converge to a
    /// state, so they are retried on transient errors.
    pub async fn instance_action(
        &self,
        action: &str,
        ids: &[String],
        kind: Option<&str>,
    ) -> IecResult<JobsResponse> {
        let servers: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
        let mut inner = json!({"servers": servers});
        if let (Some(k), Some(obj)) = (kind, inner.as_object_mut()) {
            obj.insert("type".into(), k.into());
        }
        let op = match action {
            "os-start" => "iec.instance.start",
            "os-stop" => "iec.instance.stop",
            _ => "iec.instance.reboot",
        };
        let mut call = Call::post(op, "/v1/cloudservers/action", Some(json!({ action: inner })));
        call.idempotent = true;
        let reply = self.execute(call).await?;
        Ok(decode_or_default(op, reply.body))
    }

    /// `POST /v1/cloudservers/{id}/change-os`.
    pub async fn change_os(
        &self,
        id: &str,
        image_id: &str,
        key_name: Option<&str>,
        user_data: Option<&str>,
    ) -> IecResult<JobResponse> {
        let mut body = json!({"image_id": image_id});
        if let Some(obj) = body.as_object_mut() {
            if let Some(k) = key_name {
                obj.insert("key_name".into(), k.into());
            }
            if let Some(u) = user_data {
                obj.insert("metadata".into(), json!({"user_data": u}));
            }
        }
        self.json(Call::post(
            "iec.instance.change_os",
            format!("/v1/cloudservers/{}/change-os", seg(id)),
            Some(body),
        ))
        .await
    }

    /// `POST /v1/cloudservers/{id}/nics`.
    pub async fn add_nics(
        &self,
        id: &str,
        vpc_id: &str,
        subnet_id: Option<&str>,
        security_group_ids: &[String],
        count: u32,
    ) -> IecResult<JobResponse> {
        let sgs: Vec<Value> = security_group_ids.iter().map(|s| json!({"id": s})).collect();
        let mut body = json!({"vpc_id": vpc_id, "security_groups": sgs, "nic_num": count});
        if let (Some(s), Some(obj)) = (subnet_id, body.as_object_mut()) {
            obj.insert("subnet_id".into(), s.into());
        }
        self.json(Call::post(
            "iec.instance.add_nics",
            format!("/v1/cloudservers/{}/nics", seg(id)),
            Some(body),
        ))
        .await
    }

    /// `POST /v1/cloudservers/{id}/nics/delete`.
    pub async fn delete_nics(&self, id: &str, nic_ids: &[String]) -> IecResult<JobResponse> {
        let nics: Vec<Value> = nic_ids.iter().map(|n| json!({"id": n})).collect();
        self.json(Call::post(
            "iec.instance.delete_nics",
            format!("/v1/cloudservers/{}/nics/delete", seg(id)),
            Some(json!({"nics": nics})),
        ))
        .await
    }

    /// `PUT /v1/ports/{id}` with `security_groups` only (digest §2.9.5): the security groups of one port
    /// (an instance NIC). Setting a list converges, so it is retried on transient errors.
    pub async fn update_port_security_groups(&self, port_id: &str, group_ids: &[String]) -> IecResult<()> {
        let mut call = Call::put(
            "iec.port.update",
            format!("/v1/ports/{}", seg(port_id)),
            json!({"port": {"security_groups": group_ids}}),
        );
        call.idempotent = true;
        self.execute(call).await.map(|_| ())
    }

    // -----------------------------------------------------------------------------------------------------
    // Catalog
    // -----------------------------------------------------------------------------------------------------

    /// `GET /v1/cloudservers/flavors` (page-number offsets), optionally for sites (comma-separated).
    pub async fn list_flavors(&self, site_ids: &[String]) -> IecResult<Vec<IecFlavor>> {
        let sites = site_ids.join(",");
        self.list_page_number(
            || Call::get("iec.flavor.list", "/v1/cloudservers/flavors").query_opt("site_ids", Some(&sites)),
            PAGE_LIMIT,
            |v| serde_json::from_value::<FlavorList>(v).map(|l| (l.flavors, l.count)),
            |f: &IecFlavor| f.id.as_str(),
        )
        .await
    }

    /// `GET /v1/sites`.
    pub async fn list_sites(&self, flavor: Option<&str>, id: Option<&str>) -> IecResult<Vec<IecSite>> {
        self.list_item_offset(
            || {
                Call::get("iec.site.list", "/v1/sites")
                    .query_opt("flavor", flavor)
                    .query_opt("id", id)
            },
            PAGE_LIMIT,
            |v| serde_json::from_value::<SiteList>(v).map(|l| (l.sites, l.count)),
        )
        .await
    }

    /// `GET /v1/images` (item offset, `total`, limit ≤ 500).
    pub async fn list_images(&self, id: Option<&str>, name: Option<&str>) -> IecResult<Vec<IecImage>> {
        self.list_item_offset(
            || {
                Call::get("iec.image.list", "/v1/images")
                    .query_opt("id", id)
                    .query_opt("name", name)
            },
            500,
            |v| serde_json::from_value::<ImageList>(v).map(|l| (l.images, l.total)),
        )
        .await
    }

    /// `GET /v1/edgeclouds/quotas`.
    pub async fn quotas(&self) -> IecResult<QuotaResponse> {
        self.json(Call::get("iec.quota.get", "/v1/edgeclouds/quotas"))
            .await
    }

    /// `GET /v1/os-keypairs` (bare array).
    pub async fn list_keypairs(&self) -> IecResult<Vec<Keypair>> {
        let reply = self
            .execute(Call::get("iec.keypair.list", "/v1/os-keypairs").query("limit", PAGE_LIMIT))
            .await?;
        parse_keypairs(reply.body).map_err(|e| protocol("iec.keypair.list", e))
    }

    // -----------------------------------------------------------------------------------------------------
    // VPCs and subnets
    // -----------------------------------------------------------------------------------------------------

    /// `GET /v1/vpcs` (all pages), optionally by name.
    pub async fn list_vpcs(&self, name: Option<&str>) -> IecResult<Vec<Vpc>> {
        self.list_item_offset(
            || Call::get("iec.vpc.list", "/v1/vpcs").query_opt("name", name),
            PAGE_LIMIT,
            |v| serde_json::from_value::<VpcList>(v).map(|l| (l.vpcs, l.count)),
        )
        .await
    }

    /// `POST /v1/vpcs`.
    pub async fn create_vpc(&self, name: &str, cidr: &str, mode: &str) -> IecResult<Vpc> {
        let body = json!({"vpc": {"name": name, "cidr": cidr, "mode": mode}});
        self.json_key(Call::post("iec.vpc.create", "/v1/vpcs", Some(body)), "vpc")
            .await
    }

    /// `GET /v1/vpcs/{id}`.
    pub async fn get_vpc(&self, id: &str) -> IecResult<Vpc> {
        self.json_key(Call::get("iec.vpc.get", format!("/v1/vpcs/{}", seg(id))), "vpc")
            .await
    }

    /// `PUT /v1/vpcs/{id}`.
    pub async fn update_vpc(&self, id: &str, option: &VpcOption) -> IecResult<Vpc> {
        self.json_key(
            Call::put(
                "iec.vpc.update",
                format!("/v1/vpcs/{}", seg(id)),
                json!({"vpc": option}),
            ),
            "vpc",
        )
        .await
    }

    /// `DELETE /v1/vpcs/{id}`.
    pub async fn delete_vpc(&self, id: &str) -> IecResult<()> {
        self.empty(Call::delete("iec.vpc.delete", format!("/v1/vpcs/{}", seg(id))))
            .await
    }

    /// `GET /v1/subnets` (all pages), optionally by VPC and site.
    pub async fn list_subnets(&self, vpc_id: Option<&str>, site_id: Option<&str>) -> IecResult<Vec<Subnet>> {
        self.list_item_offset(
            || {
                Call::get("iec.subnet.list", "/v1/subnets")
                    .query_opt("vpc_id", vpc_id)
                    .query_opt("site_id", site_id)
            },
            PAGE_LIMIT,
            |v| serde_json::from_value::<SubnetList>(v).map(|l| (l.subnets, l.count)),
        )
        .await
    }

    /// `POST /v1/subnets`.
    pub async fn create_subnet(&self, option: &CreateSubnetOption) -> IecResult<Subnet> {
        self.json_key(
            Call::post(
                "iec.subnet.create",
                "/v1/subnets",
                Some(json!({"subnet": option})),
            ),
            "subnet",
        )
        .await
    }

    /// `GET /v1/subnets/{id}`.
    pub async fn get_subnet(&self, id: &str) -> IecResult<Subnet> {
        self.json_key(
            Call::get("iec.subnet.get", format!("/v1/subnets/{}", seg(id))),
            "subnet",
        )
        .await
    }

    /// `PUT /v1/subnets/{id}` (reduced response: id and status).
    pub async fn update_subnet(&self, id: &str, option: &UpdateSubnetOption) -> IecResult<Subnet> {
        self.json_key(
            Call::put(
                "iec.subnet.update",
                format!("/v1/subnets/{}", seg(id)),
                json!({"subnet": option}),
            ),
            "subnet",
        )
        .await
    }

    /// `DELETE /v1/subnets/{id}`.
    pub async fn delete_subnet(&self, id: &str) -> IecResult<()> {
        self.empty(Call::delete(
            "iec.subnet.delete",
            format!("/v1/subnets/{}", seg(id)),
        ))
        .await
    }

    // -----------------------------------------------------------------------------------------------------
    // Security groups
    // -----------------------------------------------------------------------------------------------------

    /// `GET /v1/security-groups` (all pages; no server-side filters exist).
    pub async fn list_security_groups(&self) -> IecResult<Vec<SecurityGroup>> {
        self.list_item_offset(
            || Call::get("iec.security_group.list", "/v1/security-groups"),
            PAGE_LIMIT,
            |v| serde_json::from_value::<SecurityGroupList>(v).map(|l| (l.security_groups, l.count)),
        )
        .await
    }

    /// `POST /v1/security-groups`.
    pub async fn create_security_group(&self, name: &str, description: &str) -> IecResult<SecurityGroup> {
        let body = json!({"security_group": {"name": name, "description": description}});
        self.json_key(
            Call::post("iec.security_group.create", "/v1/security-groups", Some(body)),
            "security_group",
        )
        .await
    }

    /// `GET /v1/security-groups/{id}`.
    pub async fn get_security_group(&self, id: &str) -> IecResult<SecurityGroup> {
        self.json_key(
            Call::get(
                "iec.security_group.get",
                format!("/v1/security-groups/{}", seg(id)),
            ),
            "security_group",
        )
        .await
    }

    /// `DELETE /v1/security-groups/{id}`.
    pub async fn delete_security_group(&self, id: &str) -> IecResult<()> {
        self.empty(Call::delete(
            "iec.security_group.delete",
            format!("/v1/security-groups/{}", seg(id)),
        ))
        .await
    }

    /// `GET /v1/security-group-rules` (all pages), optionally for one group.
    pub async fn list_rules(&self, group_id: Option<&str>) -> IecResult<Vec<SecurityGroupRule>> {
        self.list_item_offset(
            || {
                Call::get("iec.security_group_rule.list", "/v1/security-group-rules")
                    .query_opt("security_group_id", group_id)
            },
            PAGE_LIMIT,
            |v| serde_json::from_value::<SecurityGroupRuleList>(v).map(|l| (l.security_group_rules, l.count)),
        )
        .await
    }

    /// `POST /v1/security-group-rules`.
    pub async fn create_rule(&self, option: &CreateRuleOption) -> IecResult<SecurityGroupRule> {
        self.json_key(
            Call::post(
                "iec.security_group_rule.create",
                "/v1/security-group-rules",
                Some(json!({"security_group_rule": option})),
            ),
            "security_group_rule",
        )
        .await
    }

    /// `GET /v1/security-group-rules/{id}`.
    pub async fn get_rule(&self, id: &str) -> IecResult<SecurityGroupRule> {
        self.json_key(
            Call::get(
                "iec.security_group_rule.get",
                format!("/v1/security-group-rules/{}", seg(id)),
            ),
            "security_group_rule",
        )
        .await
    }

    /// `DELETE /v1/security-group-rules/{id}`.
    pub async fn delete_rule(&self, id: &str) -> IecResult<()> {
        self.empty(Call::delete(
            "iec.security_group_rule.delete",
            format!("/v1/security-group-rules/{}", seg(id)),
        ))
        .await
    }
}

/// `Host` as the server sees it: host, plus `:port` when the port is not the scheme default.
pub fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

/// One path segment, percent-encoded so ids cannot change the path.
fn seg(s: &str) -> String {
    signer::encode(s)
}

fn to_value<T: Serialize>(v: &T) -> IecResult<Value> {
    serde_json::to_value(v).map_err(|e| ProviderError::configuration("iec.encode", e.to_string()))
}

fn protocol(op: &str, e: serde_json::Error) -> ProviderError {
    ProviderError::Protocol {
        detail: ErrorDetail::local(op, format!("unexpected response shape: {e}")),
    }
}

fn decode<T: DeserializeOwned>(op: &str, v: Value) -> IecResult<T> {
    serde_json::from_value(v).map_err(|e| protocol(op, e))
}

/// For responses whose body is informational (job ids): a missing or odd body is not an error.
fn decode_or_default<T: DeserializeOwned + Default>(op: &str, v: Value) -> T {
    if v.is_null() {
        return T::default();
    }
    serde_json::from_value(v).unwrap_or_else(|e| {
        tracing::debug!(operation = op, error = %e, "ignoring unexpected job body");
        T::default()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! One-off pipeline paths the emulator cannot show both ways (the doc's page-number ambiguity),
    //! against a tiny hand-written HTTP server.

    use std::sync::Arc;

    use axum::extract::Query;
    use axum::routing::get;
    use serde_json::json;

    use super::*;
    use crate::provider::settings::{RateBudget, SecretString};

    async fn serve(one_based: bool) -> String {
        let items: Vec<String> = (0..5).map(|i| format!("i{i}")).collect();
        let app = axum::Router::new().route(
            "/v1/cloudservers",
            get(
                move |Query(q): Query<std::collections::HashMap<String, String>>| {
                    let items = items.clone();
                    async move {
                        let offset: usize = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
                        // Page size 2 regardless of `limit`; `count` is the total.
                        let page = if one_based { offset.max(1) - 1 } else { offset };
                        let servers: Vec<_> = items
                            .iter()
                            .skip(page * 2)
                            .take(2)
                            .map(|id| json!({"id": id, "status": "ACTIVE"}))
                            .collect();
                        axum::Json(json!({"count": items.len(), "servers": servers}))
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/")
    }

    fn client(base: &str) -> IecClient {
        IecClient::new(
            reqwest::Client::new(),
            ClientConfig {
                base: Url::parse(base).unwrap(),
                account: "t".into(),
                project_id: None,
                domain_id: None,
                retry: RetryPolicy::default(),
            },
            Arc::new(Auth::Token(SecretString::new("t"))),
            Arc::new(RateLimiter::new(RateBudget {
                qps: 1000.0,
                burst: 100,
            })),
            ProviderMetrics::new(),
        )
    }

    #[tokio::test]
    async fn page_number_listing_works_for_zero_and_one_based_servers() {
        for one_based in [false, true] {
            let c = client(&serve(one_based).await);
            let ids: Vec<String> = c
                .list_instances(&[])
                .await
                .unwrap()
                .into_iter()
                .map(|i| i.id)
                .collect();
            assert_eq!(ids, vec!["i0", "i1", "i2", "i3", "i4"], "one_based={one_based}");
        }
    }

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
}
