//! Huawei IAM password login producing a domain-scoped token (`POST {iam}/v3/auth/tokens`, token in
//! `X-Subject-Token`, valid 24 h). The token is cached, refreshed before expiry, fetched single-flight (one
//! login in flight; concurrent callers await it) and invalidated when the cloud rejects it. No credential
//! ever reaches a log line or an error message.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::provider::error::{ErrorDetail, ProviderError};
use crate::provider::http::{ErrorMapper, Failure, request_id, transport_message};
use crate::provider::settings::SecretString;

/// Documented token lifetime when the IAM response carries no `expires_at`.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Refresh this long before expiry (or half the lifetime for short-lived tokens).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(3600);

#[derive(Clone)]
struct Cached {
    token: SecretString,
    refresh_at: Instant,
}

/// IAM password login with a single-flight, refreshed token cache.
pub struct TokenSource {
    http: reqwest::Client,
    url: String,
    username: String,
    password: SecretString,
    user_domain: String,
    scope_domain: String,
    errors: ErrorMapper,
    cached: Mutex<Option<Cached>>,
    logins: AtomicU64,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("url", &self.url)
            .field("user", &"***")
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A token source logging in at `{iam_base}/v3/auth/tokens` as `username@user_domain`, scoped to
    /// `scope_domain`; a refused login is read by `errors` (the cloud's error mapping).
    pub fn new(
        http: reqwest::Client,
        iam_base: &str,
        username: String,
        password: SecretString,
        user_domain: String,
        scope_domain: String,
        errors: ErrorMapper,
    ) -> Self {
        Self {
            http,
            url: format!("{}/v3/auth/tokens", iam_base.trim_end_matches('/')),
            username,
            password,
            user_domain,
            scope_domain,
            errors,
            cached: Mutex::new(None),
            logins: AtomicU64::new(0),
        }
    }

    /// How many logins this source has performed (diagnostics and tests).
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// A valid token: cached, or fetched now. The lock is held across the login, so concurrent callers
    /// wait for the one login in flight instead of starting their own.
    pub async fn token(&self) -> Result<SecretString, ProviderError> {
        let mut guard = self.cached.lock().await;
        if let Some(c) = guard.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let fresh = self.login().await?;
        let token = fresh.token.clone();
        *guard = Some(fresh);
        Ok(token)
    }

    /// Drops the cached token if it is still `stale` (another task may already have refreshed it).
    pub async fn invalidate(&self, stale: &SecretString) {
        let mut guard = self.cached.lock().await;
        if guard.as_ref().is_some_and(|c| &c.token == stale) {
            *guard = None;
        }
    }

    async fn login(&self) -> Result<Cached, ProviderError> {
        const OP: &str = "iam.token.create";
        self.logins.fetch_add(1, Ordering::Relaxed);
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": self.username, "password": self.password.expose(), "domain": {"name": self.user_domain}}}},
            "scope": {"domain": {"name": self.scope_domain}}}});
        let resp =
            self.http
                .post(&self.url)
                .json(&body)
                .send()
                .await
                .map_err(|e| ProviderError::Transient {
                    detail: ErrorDetail::local(OP, transport_message(&e)),
                })?;
        let status = resp.status().as_u16();
        let request_id = request_id(resp.headers());
        let token = resp
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .map(|s| SecretString::new(s.to_owned()));
        let bytes = resp.bytes().await.map_err(|e| ProviderError::Transient {
            detail: ErrorDetail::local(OP, transport_message(&e)),
        })?;
        if !(200..300).contains(&status) {
            let err = (self.errors)(Failure {
                operation: OP,
                status,
                request_id,
                retry_after: None,
                body: &bytes,
            });
            // IAM says 401 for a wrong password and 400 for a malformed identity; both need a human to
            // fix the credentials. Other statuses (404 wrong endpoint, 5xx) keep their own meaning.
            return Err(match err {
                ProviderError::Invalid { detail } if status == 400 => ProviderError::Unauthorized { detail },
                other => other,
            });
        }
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(ProviderError::Protocol {
                detail: ErrorDetail {
                    operation: OP.into(),
                    status: Some(status),
                    message: "IAM response has no X-Subject-Token header".into(),
                    request_id,
                    ..ErrorDetail::default()
                },
            });
        };
        let lifetime = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| {
                v.pointer("/token/expires_at")
                    .and_then(|e| e.as_str().map(str::to_owned))
            })
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
            .and_then(|exp| {
                (exp.with_timezone(&chrono::Utc) - chrono::Utc::now())
                    .to_std()
                    .ok()
            })
            .unwrap_or(DEFAULT_TOKEN_LIFETIME);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        Ok(Cached {
            token,
            refresh_at: Instant::now() + lifetime.saturating_sub(margin),
        })
    }
}

/// The id of the IAM project named `region` (`GET {iam}/v3/projects?name=<region>`, as Huawei's SDK
/// finds the project of basic credentials), through `iam`: a pipeline whose base is the IAM endpoint,
/// authenticated like the service's calls. No such project is a configuration error naming the region.
pub async fn lookup_project_id(
    iam: &crate::provider::http::Pipeline,
    region: &str,
) -> Result<String, ProviderError> {
    const OP: &str = "iam.project.lookup";
    #[derive(serde::Deserialize)]
    struct Project {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
    }
    #[derive(serde::Deserialize)]
    struct Projects {
        #[serde(default)]
        projects: Vec<Project>,
    }
    let call = crate::provider::http::Call::get(OP, "/v3/projects").query("name", region);
    let found: Projects = iam.json(call).await?;
    found
        .projects
        .into_iter()
        .find(|p| p.name == region && !p.id.is_empty())
        .map(|p| p.id)
        .ok_or_else(|| {
            ProviderError::configuration(
                OP,
                format!("IAM lists no project named {region:?}: set spec.projectId or spec.region to a region of the account"),
            )
        })
}
