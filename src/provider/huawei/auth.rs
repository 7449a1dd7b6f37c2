//! How a Huawei request is authenticated: signed with AK/SK (`SDK-HMAC-SHA256`, plus the project and
//! session-token headers), or carrying an IAM token (cached and refreshed by [`TokenSource`]) or a fixed
//! token in `X-Auth-Token`. Implements the pipeline's [`Authenticate`]. [`Auth::from_settings`] is the
//! one reading of a ProviderConfig's credentials for every Huawei cloud (IEC, ModelArts, Workspace).

use std::fmt;

use async_trait::async_trait;
use reqwest::RequestBuilder;

use super::iam::TokenSource;
use super::signer;
use crate::provider::error::ProviderError;
use crate::provider::http::{Authenticate, ErrorMapper, HttpResult, Outgoing, host_header};
use crate::provider::settings::{Credentials, ProviderSettings, SecretString};

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

/// The IAM endpoint of `settings`: `spec.endpoints.iam`, else the public one of `region`.
pub fn iam_endpoint(settings: &ProviderSettings, region: &str) -> String {
    settings
        .endpoints
        .iam
        .clone()
        .unwrap_or_else(|| format!("https://iam.{region}.myhuaweicloud.com"))
}

impl Auth {
    /// The authentication `settings.credentials` ask for: AK/SK signing (both keys non-empty), an IAM
    /// password login at `iam` (as the user of the credentials' domain, else `spec.domainName`, scoped to
    /// `spec.domainName`; a refused login read by `errors`), or a fixed token. Each call makes a new token
    /// cache. Fails, naming what is missing, on credentials the cloud cannot use.
    pub fn from_settings(
        op: &str,
        settings: &ProviderSettings,
        http: &reqwest::Client,
        iam: &str,
        errors: ErrorMapper,
    ) -> Result<Self, ProviderError> {
        match &settings.credentials {
            Credentials::AkSk {
                access_key,
                secret_key,
                security_token,
            } => {
                if access_key.is_empty() || secret_key.is_empty() {
                    return Err(ProviderError::configuration(
                        op,
                        "access key and secret key must not be empty",
                    ));
                }
                Ok(Self::AkSk {
                    access_key: access_key.clone(),
                    secret_key: secret_key.clone(),
                    security_token: security_token.clone(),
                })
            }
            Credentials::Password {
                username,
                password,
                domain,
            } => {
                let user_domain = domain
                    .clone()
                    .or_else(|| settings.domain_name.clone())
                    .ok_or_else(|| {
                        ProviderError::configuration(op, "password login needs the account (domain) name")
                    })?;
                let scope = settings
                    .domain_name
                    .clone()
                    .unwrap_or_else(|| user_domain.clone());
                Ok(Self::Password(TokenSource::new(
                    http.clone(),
                    iam,
                    username.clone(),
                    password.clone(),
                    user_domain,
                    scope,
                    errors,
                )))
            }
            Credentials::Token { token } => Ok(Self::Token(token.clone())),
        }
    }
}

/// [`Auth`] for one account of one service.
#[derive(Debug)]
pub struct Authenticator {
    auth: Auth,
    project_id: Option<String>,
    token_refresh_codes: &'static [&'static str],
}

impl Authenticator {
    /// Authenticates with `auth`; AK/SK requests carry `X-Project-Id` when `project_id` is set. A cached
    /// IAM token is dropped and fetched again once when the service answers 401 with one of
    /// `token_refresh_codes` (the service's "token invalid/expired" codes).
    pub fn new(auth: Auth, project_id: Option<String>, token_refresh_codes: &'static [&'static str]) -> Self {
        Self {
            auth,
            project_id,
            token_refresh_codes,
        }
    }

    /// The authentication in use.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }
}

#[async_trait]
impl Authenticate for Authenticator {
    async fn authenticate(
        &self,
        mut req: RequestBuilder,
        out: &Outgoing<'_>,
    ) -> HttpResult<(RequestBuilder, Option<SecretString>)> {
        let mut used_token = None;
        match &self.auth {
            Auth::AkSk {
                access_key,
                secret_key,
                security_token,
            } => {
                let date = chrono::Utc::now().format(signer::DATE_FORMAT).to_string();
                let host = host_header(out.url);
                let mut headers: Vec<(&str, &str)> = vec![("host", &host), ("x-sdk-date", &date)];
                if let Some(p) = &self.project_id {
                    headers.push(("x-project-id", p));
                }
                if let Some(t) = security_token {
                    headers.push(("x-security-token", t.expose()));
                }
                let input = signer::SignInput {
                    method: out.method.as_str(),
                    path: out.url.path(),
                    query: out.url.query(),
                    headers: &headers,
                    body: out.body,
                };
                let authorization = signer::authorization(&input, &date, access_key, secret_key.expose());
                req = req
                    .header(signer::DATE_HEADER, &date)
                    .header("Authorization", authorization);
                if let Some(p) = &self.project_id {
                    req = req.header("X-Project-Id", p);
                }
                if let Some(t) = security_token {
                    req = req.header("X-Security-Token", t.expose());
                }
            }
            Auth::Password(src) => {
                let t = src.token().await?;
                req = req.header("X-Auth-Token", t.expose());
                used_token = Some(t);
            }
            Auth::Token(t) => {
                req = req.header("X-Auth-Token", t.expose());
            }
        }
        Ok((req, used_token))
    }

    async fn refresh(&self, used: &SecretString, err: &ProviderError) -> bool {
        let (Auth::Password(src), ProviderError::Unauthorized { detail }) = (&self.auth, err) else {
            return false;
        };
        if !detail
            .code
            .as_deref()
            .is_some_and(|c| self.token_refresh_codes.contains(&c))
        {
            return false;
        }
        src.invalidate(used).await;
        true
    }
}
