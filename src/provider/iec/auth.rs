//! IEC authentication: AK/SK signing material, a fixed token, or IAM password login producing a
//! domain-scoped token (`POST {iam}/v3/auth/tokens`, token in `X-Subject-Token`, valid 24 h). The token is
//! cached, refreshed before expiry, fetched single-flight (one login in flight; concurrent callers await
//! it) and invalidated when IEC rejects it. No credential ever reaches a log line or an error message.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::errors::{ErrorBody, to_provider_error};
use crate::provider::error::{ErrorDetail, ProviderError};
use crate::provider::settings::SecretString;

/// Documented token lifetime when the IAM response carries no `expires_at`.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Refresh this long before expiry (or half the lifetime for short-lived tokens).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(3600);

/// How requests are authenticated.
pub enum Auth {
    /// Sign every request with `SDK-HMAC-SHA256`.
    AkSk {
        /// Access key.
        access_key: String,
        /// Secret key.
        secret_key: SecretString,
        /// Temporary-credential session token.
        security_token: Option<SecretString>,
    },
    /// IAM password login with a cached token.
    Password(TokenSource),
    /// A fixed token.
    Token(SecretString),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AkSk { .. } => f.write_str("Auth::AkSk(***)"),
            Self::Password(_) => f.write_str("Auth::Password(***)"),
            Self::Token(_) => f.write_str("Auth::Token(***)"),
        }
    }
}

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
    /// A token source logging in at `{iam_base}/v3/auth/tokens` as `username@user_domain`, scoped to `scope_domain`.
    pub fn new(
        http: reqwest::Client,
        iam_base: &str,
        username: String,
        password: SecretString,
        user_domain: String,
        scope_domain: String,
    ) -> Self {
        Self {
            http,
            url: format!("{}/v3/auth/tokens", iam_base.trim_end_matches('/')),
            username,
            password,
            user_domain,
            scope_domain,
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
        let request_id = super::client::request_id(resp.headers());
        let token = resp
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .map(|s| SecretString::new(s.to_owned()));
        let bytes = resp.bytes().await.map_err(|e| ProviderError::Transient {
            detail: ErrorDetail::local(OP, transport_message(&e)),
        })?;
        if !(200..300).contains(&status) {
            let (code, message) = ErrorBody::parse(&bytes);
            let err = to_provider_error(status, code, message, request_id, OP, None);
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
