//! Provider settings: which cloud, where, as whom, and how fast — built by the ProviderConfig controller
//! from a `ProviderConfig` object and its credentials `Secret`, never from the CRD types directly.

use std::fmt;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// The clouds edgefleet knows. Only [`ProviderKind::Iec`] has a client today; the boundary is shaped for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderKind {
    /// Huawei Cloud IEC (Intelligent EdgeCloud).
    Iec,
    /// Volcengine veEN edge compute.
    Veen,
    /// Huawei ModelArts DevServer.
    ModelArts,
    /// Luchen Cloud GPU instances.
    Luchen,
    /// Huawei Workspace application server groups.
    Workspace,
}

impl ProviderKind {
    /// Stable lower-case label used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Iec => "iec",
            Self::Veen => "veen",
            Self::ModelArts => "modelarts",
            Self::Luchen => "luchen",
            Self::Workspace => "workspace",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secret string: its `Debug` and `Display` print `***`, so it can sit in any struct that gets logged.
/// Read it only with [`SecretString::expose`], right where it goes on the wire.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value; call only where it is sent to the cloud or hashed.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How the client proves who it is. `Debug` never prints secret material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Access key + secret key request signing (Huawei `SDK-HMAC-SHA256`, Volcengine `HMAC-SHA256`).
    AkSk {
        /// Access key id (not secret, but never needed in logs either).
        access_key: String,
        /// Secret key used as the HMAC key.
        secret_key: SecretString,
        /// Session token for temporary credentials (`X-Security-Token`).
        security_token: Option<SecretString>,
    },
    /// Username + password exchanged for a token (Huawei IAM, Luchen login).
    Password {
        /// IAM user name (or Luchen login name).
        username: String,
        /// The password.
        password: SecretString,
        /// The account (domain) name the user belongs to; also the token scope for IEC.
        domain: Option<String>,
    },
    /// A ready-made token (IAM token, Luchen cookie token, API key) used as is until it fails.
    Token {
        /// The token value.
        token: SecretString,
    },
}

impl Credentials {
    /// Short name of the credential type, for conditions and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AkSk { .. } => "AkSk",
            Self::Password { .. } => "Password",
            Self::Token { .. } => "Token",
        }
    }
}

/// Endpoint overrides; `None` means the provider's default for the region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// Base URL of the service API (e.g. `https://iecs.myhuaweicloud.com` or an emulator URL).
    pub api: Option<String>,
    /// Base URL of the identity service used for password login (e.g. `https://iam.cn-north-4.myhuaweicloud.com`).
    pub iam: Option<String>,
    /// Base URL of the Huawei billing service (BSS: prepaid orders, unsubscribe), default
    /// `https://bss.myhuaweicloud.com`.
    pub bss: Option<String>,
}

/// The per-account API budget shared by every controller talking to one account.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateBudget {
    /// Sustained requests per second.
    pub qps: f64,
    /// Bucket size: how many requests may go out at once after a quiet period.
    pub burst: u32,
}

impl Default for RateBudget {
    fn default() -> Self {
        Self { qps: 10.0, burst: 20 }
    }
}

/// Retry policy for calls that are safe to repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts per call, including the first (1 = no retry).
    pub max_attempts: u32,
    /// First backoff delay; doubled per attempt, with full jitter.
    pub base_delay: Duration,
    /// Upper bound for one backoff delay and for an honoured Retry-After.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// Everything needed to build a provider client for one account (one ProviderConfig).
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSettings {
    /// Which cloud.
    pub kind: ProviderKind,
    /// The account label: the ProviderConfig name. Used as the metrics label and the rate-limiter key.
    pub account: String,
    /// Endpoint overrides.
    pub endpoints: Endpoints,
    /// Region (e.g. `cn-north-4`); used for default endpoints and signing scopes.
    pub region: Option<String>,
    /// Project id, where the cloud needs one (`X-Project-Id`, ModelArts/Workspace paths).
    pub project_id: Option<String>,
    /// Account (domain) id, where a path needs it (IEC image job retry).
    pub domain_id: Option<String>,
    /// Account (domain) name: the token scope for IEC password login when the credentials carry none.
    pub domain_name: Option<String>,
    /// How to authenticate.
    pub credentials: Credentials,
    /// API budget shared by all controllers for this account.
    pub rate: RateBudget,
    /// Timeout of one HTTP request (connect + response).
    pub request_timeout: Duration,
    /// Retries for idempotent calls and throttled calls.
    pub retry: RetryPolicy,
    /// Accept invalid TLS certificates (only for a local emulator with a self-signed certificate).
    pub insecure_skip_tls_verify: bool,
}

impl ProviderSettings {
    /// Settings with defaults for everything but the identity of the account.
    pub fn new(kind: ProviderKind, account: impl Into<String>, credentials: Credentials) -> Self {
        Self {
            kind,
            account: account.into(),
            endpoints: Endpoints::default(),
            region: None,
            project_id: None,
            domain_id: None,
            domain_name: None,
            credentials,
            rate: RateBudget::default(),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            insecure_skip_tls_verify: false,
        }
    }

    /// A digest over every field, secrets included (hashed, never shown): when it changes, the registry
    /// rebuilds the client. The value is a hex SHA-256 and reveals nothing about the secrets.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        let mut put = |label: &str, value: &str| {
            h.update(label.as_bytes());
            h.update([0u8]);
            h.update((value.len() as u64).to_be_bytes());
            h.update(value.as_bytes());
        };
        put("kind", self.kind.as_str());
        put("account", &self.account);
        put("api", self.endpoints.api.as_deref().unwrap_or(""));
        put("iam", self.endpoints.iam.as_deref().unwrap_or(""));
        put("bss", self.endpoints.bss.as_deref().unwrap_or(""));
        put("region", self.region.as_deref().unwrap_or(""));
        put("project", self.project_id.as_deref().unwrap_or(""));
        put("domain_id", self.domain_id.as_deref().unwrap_or(""));
        put("domain_name", self.domain_name.as_deref().unwrap_or(""));
        match &self.credentials {
            Credentials::AkSk {
                access_key,
                secret_key,
                security_token,
            } => {
                put("cred", "aksk");
                put("ak", access_key);
                put("sk", secret_key.expose());
                put(
                    "st",
                    security_token.as_ref().map(SecretString::expose).unwrap_or(""),
                );
            }
            Credentials::Password {
                username,
                password,
                domain,
            } => {
                put("cred", "password");
                put("user", username);
                put("password", password.expose());
                put("domain", domain.as_deref().unwrap_or(""));
            }
            Credentials::Token { token } => {
                put("cred", "token");
                put("token", token.expose());
            }
        }
        put("qps", &self.rate.qps.to_string());
        put("burst", &self.rate.burst.to_string());
        put("timeout", &self.request_timeout.as_millis().to_string());
        put("retry", &format!("{:?}", self.retry));
        put("insecure", if self.insecure_skip_tls_verify { "1" } else { "0" });
        hex::encode(h.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ProviderSettings {
        ProviderSettings::new(
            ProviderKind::Iec,
            "acct",
            Credentials::AkSk {
                access_key: "AK".into(),
                secret_key: "very-secret".into(),
                security_token: None,
            },
        )
    }

    #[test]
    fn secrets_never_print() {
        let s = settings();
        let debug = format!("{s:?}");
        assert!(!debug.contains("very-secret"), "{debug}");
        assert!(debug.contains("***"));
        assert_eq!(SecretString::new("x").to_string(), "***");
        let p = Credentials::Password {
            username: "u".into(),
            password: "pw-123".into(),
            domain: None,
        };
        assert!(!format!("{p:?}").contains("pw-123"));
    }

    #[test]
    fn fingerprint_changes_with_secret_and_endpoint_only_when_they_change() {
        let a = settings();
        assert_eq!(
            a.fingerprint(),
            settings().fingerprint(),
            "same settings, same fingerprint"
        );
        let mut b = settings();
        b.credentials = Credentials::AkSk {
            access_key: "AK".into(),
            secret_key: "rotated".into(),
            security_token: None,
        };
        assert_ne!(
            a.fingerprint(),
            b.fingerprint(),
            "a rotated secret must rebuild the client"
        );
        let mut c = settings();
        c.endpoints.api = Some("http://127.0.0.1:1".into());
        assert_ne!(
            a.fingerprint(),
            c.fingerprint(),
            "an endpoint change must rebuild the client"
        );
        assert!(!a.fingerprint().contains("very-secret"));
    }
}
