//! The Luchen session of one account: the `AccessToken` cookie every call carries, from a password
//! login (`POST /api/user/login {username,password}` → `{accessToken, accessExpire}`, a JWT valid about
//! a day) or from a ready-made token given in the credentials (copied from the console).
//!
//! A logged-in token is cached until shortly before `accessExpire` runs out and fetched single-flight:
//! the lock is held across the login, so any number of concurrent calls that find no valid token wait
//! for the one login in flight. When the cloud rejects a cached token anyway (its clock, a revoked
//! session), the pipeline asks [`Authenticate::refresh`]: the token is dropped only if it is still the
//! rejected one (another call may have logged in already) and the call is made once more. A ready-made
//! token is used as is; when the cloud rejects it there is nothing to renew, and the call fails as
//! `Unauthorized` with the cloud's message (the credentials must be replaced). The password and the
//! token are [`SecretString`]s: never logged, never in an error.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::RequestBuilder;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::errors;
use super::types::{Login, LoginAnswer};
use crate::provider::error::{ErrorDetail, ProviderError};
use crate::provider::http::{Authenticate, Failure, HttpResult, Outgoing, request_id, transport_message};
use crate::provider::settings::SecretString;

/// The cookie that carries the token.
pub const COOKIE: &str = "AccessToken";
/// The login path below the endpoint.
pub const LOGIN_PATH: &str = "api/user/login";
/// Documented token lifetime, when the login answer does not say.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Log in again this long before the token expires (or at half its life, for short-lived tokens).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(600);

#[derive(Clone)]
struct Cached {
    token: SecretString,
    refresh_at: Instant,
}

/// What the session holds between calls.
#[derive(Default)]
struct State {
    /// The logged-in token, while fresh.
    token: Option<Cached>,
    /// A refused login and until when it is answered again without asking the cloud.
    refused: Option<(Instant, ProviderError)>,
}

/// How long a refused login (wrong user or password) is answered from memory: the credentials do not
/// fix themselves, and a client is rebuilt when its Secret changes, so this bounds the logins of an
/// account with a wrong password to one per period however many objects call.
pub const REFUSED_LOGIN_HOLD: Duration = Duration::from_secs(60);

/// How the session gets its token.
enum Source {
    /// Log in with these.
    Password {
        http: reqwest::Client,
        url: Url,
        username: String,
        password: SecretString,
    },
    /// Use this token as is.
    Token(SecretString),
}

/// The account's session (one per provider client, shared by every controller of the account).
pub struct Session {
    source: Source,
    state: Mutex<State>,
    logins: AtomicU64,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.source {
            Source::Password { .. } => "password login",
            Source::Token(_) => "ready-made token",
        };
        f.debug_struct("Session")
            .field("source", &kind)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session logging in at `{base}api/user/login` as `username`.
    pub fn password(
        http: reqwest::Client,
        base: &Url,
        username: String,
        password: SecretString,
    ) -> HttpResult<Self> {
        let url = base.join(LOGIN_PATH).map_err(|e| {
            ProviderError::configuration("luchen.login", format!("login url below {base}: {e}"))
        })?;
        Ok(Self::with(Source::Password {
            http,
            url,
            username,
            password,
        }))
    }

    /// A session using a ready-made token.
    pub fn token(token: SecretString) -> Self {
        Self::with(Source::Token(token))
    }

    fn with(source: Source) -> Self {
        Self {
            source,
            state: Mutex::new(State::default()),
            logins: AtomicU64::new(0),
        }
    }

    /// Whether the session logs in (Password) rather than using a given token.
    pub fn logs_in(&self) -> bool {
        matches!(self.source, Source::Password { .. })
    }

    /// Logins performed so far (diagnostics and tests).
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// A token to send: the ready-made one, the cached one while it is fresh, or a new login (one at a
    /// time: concurrent callers wait for it and share its token).
    pub async fn current(&self) -> HttpResult<SecretString> {
        let (http, url, username, password) = match &self.source {
            Source::Token(t) => return Ok(t.clone()),
            Source::Password {
                http,
                url,
                username,
                password,
            } => (http, url, username, password),
        };
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if let Some(c) = state.token.as_ref()
            && now < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        if let Some((until, err)) = state.refused.as_ref()
            && now < *until
        {
            return Err(err.clone());
        }
        match self.login(http, url, username, password).await {
            Ok(fresh) => {
                let token = fresh.token.clone();
                state.token = Some(fresh);
                state.refused = None;
                Ok(token)
            }
            Err(err) => {
                if matches!(err, ProviderError::Unauthorized { .. }) {
                    state.refused = Some((now + REFUSED_LOGIN_HOLD, err.clone()));
                }
                state.token = None;
                Err(err)
            }
        }
    }

    /// Drops the cached token if it is still `stale`.
    async fn invalidate(&self, stale: &SecretString) {
        let mut state = self.state.lock().await;
        if state.token.as_ref().is_some_and(|c| &c.token == stale) {
            state.token = None;
        }
    }

    /// One login. A refused login (wrong user or password: the cloud answers 400 with its message) is
    /// `Unauthorized` with that message; a throttled or failing login keeps its own category.
    async fn login(
        &self,
        http: &reqwest::Client,
        url: &Url,
        username: &str,
        password: &SecretString,
    ) -> HttpResult<Cached> {
        const OP: &str = "luchen.login";
        self.logins.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(operation = OP, "logging in");
        let body = Login {
            username,
            password: password.expose(),
        };
        let resp = http
            .post(url.clone())
            .json(&body)
            .send()
            .await
            .map_err(|e| ProviderError::Transient {
                detail: ErrorDetail::local(OP, transport_message(&e)),
            })?;
        let status = resp.status().as_u16();
        let rid = request_id(resp.headers());
        let bytes = resp.bytes().await.map_err(|e| ProviderError::Transient {
            detail: ErrorDetail::local(OP, transport_message(&e)),
        })?;
        if !(200..300).contains(&status) {
            let err = errors::from_failure(Failure {
                operation: OP,
                status,
                request_id: rid,
                retry_after: None,
                body: &bytes,
            });
            // A refused login (400 wrong user or password, a missing field) needs new credentials.
            return Err(match err {
                ProviderError::Invalid { detail } => ProviderError::Unauthorized { detail },
                other => other,
            });
        }
        let answer: LoginAnswer = serde_json::from_slice(&bytes).unwrap_or_default();
        if answer.access_token.is_empty() {
            return Err(ProviderError::Protocol {
                detail: ErrorDetail {
                    operation: OP.into(),
                    status: Some(status),
                    message: "the login answer has no accessToken".into(),
                    request_id: rid,
                    ..ErrorDetail::default()
                },
            });
        }
        let lifetime = answer
            .access_expire
            .filter(|s| *s > 0)
            .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        Ok(Cached {
            token: SecretString::new(answer.access_token),
            refresh_at: Instant::now() + lifetime.saturating_sub(margin),
        })
    }
}

#[async_trait]
impl Authenticate for Session {
    async fn authenticate(
        &self,
        req: RequestBuilder,
        _out: &Outgoing<'_>,
    ) -> HttpResult<(RequestBuilder, Option<SecretString>)> {
        let token = self.current().await?;
        let req = req.header(reqwest::header::COOKIE, format!("{COOKIE}={}", token.expose()));
        // Only a logged-in token can be renewed; a ready-made one is reported as used by nobody.
        Ok((req, self.logs_in().then_some(token)))
    }

    async fn refresh(&self, used: &SecretString, err: &ProviderError) -> bool {
        if !self.logs_in() || !errors::is_token_rejected(err) {
            return false;
        }
        self.invalidate(used).await;
        true
    }
}
