//! ProviderConfig + credentials Secret → [`ProviderSettings`], and the lookup every cloud-backed controller
//! starts with: "which provider client serves this object" ([`resolve_provider`]). Errors name the missing
//! Secret or key, never a value.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use super::config::Intervals;
use super::context::Context;
use super::lookup::ResolvedProvider;
use crate::api::condition::{CREDENTIALS_VALID, ConditionStatus, find_condition};
use crate::api::provider_config::{
    CredentialsType, InvalidDuration, ProviderConfig, ProviderType, SECRET_KEY_ACCESS_KEY,
    SECRET_KEY_PASSWORD, SECRET_KEY_SECRET_KEY, SECRET_KEY_SECURITY_TOKEN, SECRET_KEY_TOKEN,
    SECRET_KEY_USERNAME,
};
use crate::provider::{Credentials, ProviderError, ProviderKind, ProviderSettings, RateBudget, SecretString};

/// Why settings could not be built from a ProviderConfig and its Secret.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The Secret named by spec.credentials.secretRef does not exist.
    #[error("credentials Secret {namespace}/{name} not found")]
    SecretNotFound {
        /// Secret namespace.
        namespace: String,
        /// Secret name.
        name: String,
    },
    /// The Secret lacks a key the credential type needs.
    #[error(
        "credentials Secret {namespace}/{name} has no key {key:?} (needed for credentials type {credentials_type})"
    )]
    SecretKeyMissing {
        /// Secret namespace.
        namespace: String,
        /// Secret name.
        name: String,
        /// The missing key.
        key: &'static str,
        /// The credential type.
        credentials_type: &'static str,
    },
    /// A Secret value is not UTF-8 text.
    #[error("credentials Secret {namespace}/{name} key {key:?} is not UTF-8 text")]
    SecretKeyNotText {
        /// Secret namespace.
        namespace: String,
        /// Secret name.
        name: String,
        /// The key.
        key: &'static str,
    },
    /// A duration field of the spec does not parse.
    #[error(transparent)]
    Duration(#[from] InvalidDuration),
}

impl SettingsError {
    /// The CredentialsValid reason for this error.
    pub fn reason(&self) -> &'static str {
        use crate::api::condition::reason;
        match self {
            Self::SecretNotFound { .. } => reason::SECRET_NOT_FOUND,
            Self::SecretKeyMissing { .. } | Self::SecretKeyNotText { .. } => reason::SECRET_KEY_MISSING,
            Self::Duration(_) => reason::INVALID_SPEC,
        }
    }
}

/// The provider kind of a ProviderConfig's `spec.provider`.
pub fn provider_kind(provider: ProviderType) -> ProviderKind {
    match provider {
        ProviderType::Iec => ProviderKind::Iec,
        ProviderType::Veen => ProviderKind::Veen,
        ProviderType::ModelArts => ProviderKind::ModelArts,
        ProviderType::Luchen => ProviderKind::Luchen,
        ProviderType::Workspace => ProviderKind::Workspace,
    }
}

/// Builds the settings of `pc` with the credentials read from `secret` (`None`: the Secret is missing).
/// Pure: the caller fetches the Secret.
pub fn settings_from(
    pc: &ProviderConfig,
    secret: Option<&Secret>,
) -> Result<ProviderSettings, SettingsError> {
    let spec = &pc.spec;
    let secret_ref = &spec.credentials.secret_ref;
    let Some(secret) = secret else {
        return Err(SettingsError::SecretNotFound {
            namespace: secret_ref.namespace.clone(),
            name: secret_ref.name.clone(),
        });
    };
    let type_name = match spec.credentials.type_ {
        CredentialsType::AkSk => "AkSk",
        CredentialsType::Password => "Password",
        CredentialsType::Token => "Token",
    };
    let read = |key: &'static str| -> Result<Option<String>, SettingsError> {
        let Some(bytes) = secret.data.as_ref().and_then(|d| d.get(key)) else {
            return Ok(None);
        };
        String::from_utf8(bytes.0.clone())
            .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_owned()))
            .map_err(|_| SettingsError::SecretKeyNotText {
                namespace: secret_ref.namespace.clone(),
                name: secret_ref.name.clone(),
                key,
            })
    };
    let required = |key: &'static str| -> Result<String, SettingsError> {
        match read(key)? {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(SettingsError::SecretKeyMissing {
                namespace: secret_ref.namespace.clone(),
                name: secret_ref.name.clone(),
                key,
                credentials_type: type_name,
            }),
        }
    };
    let credentials = match spec.credentials.type_ {
        CredentialsType::AkSk => Credentials::AkSk {
            access_key: required(SECRET_KEY_ACCESS_KEY)?,
            secret_key: SecretString::new(required(SECRET_KEY_SECRET_KEY)?),
            security_token: read(SECRET_KEY_SECURITY_TOKEN)?
                .filter(|s| !s.is_empty())
                .map(SecretString::new),
        },
        CredentialsType::Password => Credentials::Password {
            username: required(SECRET_KEY_USERNAME)?,
            password: SecretString::new(required(SECRET_KEY_PASSWORD)?),
            domain: spec.domain_name.clone(),
        },
        CredentialsType::Token => Credentials::Token {
            token: SecretString::new(required(SECRET_KEY_TOKEN)?),
        },
    };
    let kind = provider_kind(spec.provider);
    let mut settings = ProviderSettings::new(kind, pc.metadata.name.clone().unwrap_or_default(), credentials);
    if let Some(endpoints) = &spec.endpoints {
        settings.endpoints.api = match kind {
            ProviderKind::Iec => endpoints.iec.clone(),
            ProviderKind::Veen => endpoints.veen.clone(),
            ProviderKind::ModelArts => endpoints.model_arts.clone(),
            ProviderKind::Luchen => endpoints.luchen.clone(),
            ProviderKind::Workspace => endpoints.workspace.clone(),
        };
        settings.endpoints.iam = endpoints.iam.clone();
        settings.endpoints.bss = endpoints.bss.clone();
    }
    settings.region = spec.region.clone();
    settings.project_id = spec.project_id.clone();
    settings.domain_id = spec.domain_id.clone();
    settings.domain_name = spec.domain_name.clone();
    settings.rate = RateBudget {
        qps: f64::from(spec.rate_limit.qps),
        burst: spec.rate_limit.burst,
    };
    Ok(settings)
}

/// Reads the credentials Secret of `pc` (`Ok(None)` when it does not exist).
pub async fn read_secret(ctx: &Context, pc: &ProviderConfig) -> Result<Option<Secret>, kube::Error> {
    let r = &pc.spec.credentials.secret_ref;
    Api::<Secret>::namespaced(ctx.client.clone(), &r.namespace)
        .get_opt(&r.name)
        .await
}

/// The requeue intervals of objects served by `pc`, with the ControllerConfig overrides applied.
pub fn intervals_for(ctx: &Context, pc: &ProviderConfig) -> Intervals {
    let defaults = Intervals::default();
    Intervals {
        poll: ctx
            .config
            .poll_interval
            .unwrap_or_else(|| pc.spec.poll_interval().unwrap_or(defaults.poll)),
        pending: ctx
            .config
            .pending_interval
            .unwrap_or_else(|| pc.spec.pending_poll_interval().unwrap_or(defaults.pending)),
    }
}

/// Why no provider client could be had for an object.
#[derive(Debug, thiserror::Error)]
pub enum ResolveProviderError {
    /// The named ProviderConfig does not exist.
    #[error("ProviderConfig {0:?} not found")]
    NotFound(String),
    /// The ProviderConfig reports CredentialsValid=False; its reason and message are repeated here.
    #[error("ProviderConfig {name:?} has invalid credentials ({reason}): {message}")]
    CredentialsInvalid {
        /// ProviderConfig name.
        name: String,
        /// Its CredentialsValid reason.
        reason: String,
        /// Its CredentialsValid message.
        message: String,
    },
    /// The settings could not be built.
    #[error("ProviderConfig {name:?} is unusable")]
    Settings {
        /// ProviderConfig name.
        name: String,
        /// Why.
        #[source]
        source: SettingsError,
    },
    /// The client could not be built (unsupported provider, bad endpoint).
    #[error("failed to build the client of ProviderConfig {name:?}")]
    Build {
        /// ProviderConfig name.
        name: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// Reading the ProviderConfig or its Secret failed.
    #[error("failed to read ProviderConfig {name:?} or its Secret")]
    Kube {
        /// ProviderConfig name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// Finds the ProviderConfig `name`, refuses one whose credentials its controller found invalid (no call
/// with known-bad credentials), reads its Secret and returns the (cached or rebuilt) client.
pub async fn resolve_provider(ctx: &Context, name: &str) -> Result<ResolvedProvider, ResolveProviderError> {
    if let Some(resolved) = ctx.lookups.provider(name) {
        return Ok(resolved);
    }
    let resolved = read_provider(ctx, name).await?;
    ctx.lookups.remember_provider(name, &resolved);
    Ok(resolved)
}

/// [`resolve_provider`] from the apiserver.
async fn read_provider(ctx: &Context, name: &str) -> Result<ResolvedProvider, ResolveProviderError> {
    let kube_err = |source| ResolveProviderError::Kube {
        name: name.to_owned(),
        source,
    };
    let pc = Api::<ProviderConfig>::all(ctx.client.clone())
        .get_opt(name)
        .await
        .map_err(kube_err)?
        .ok_or_else(|| ResolveProviderError::NotFound(name.to_owned()))?;
    if let Some(c) = pc
        .status
        .as_ref()
        .and_then(|s| find_condition(&s.conditions, CREDENTIALS_VALID))
        && c.status == ConditionStatus::False
    {
        return Err(ResolveProviderError::CredentialsInvalid {
            name: name.to_owned(),
            reason: c.reason.clone(),
            message: c.message.clone(),
        });
    }
    let secret = read_secret(ctx, &pc).await.map_err(kube_err)?;
    let settings = settings_from(&pc, secret.as_ref()).map_err(|source| ResolveProviderError::Settings {
        name: name.to_owned(),
        source,
    })?;
    let provider = ctx
        .providers
        .get_or_build(&settings)
        .map_err(|source| ResolveProviderError::Build {
            name: name.to_owned(),
            source,
        })?;
    let intervals = intervals_for(ctx, &pc);
    Ok(ResolvedProvider {
        provider,
        config: Arc::new(pc),
        intervals,
    })
}

/// Whether the credentials of `settings` were probed successfully within `max_age` (a fresh probe is
/// needed when the settings changed or the last success is older).
pub fn probe_is_fresh(ctx: &Context, settings: &ProviderSettings, max_age: Duration) -> bool {
    let map = crate::locks::lock(&ctx.probes);
    map.get(&settings.account)
        .is_some_and(|(fp, at)| *fp == settings.fingerprint() && at.elapsed() < max_age)
}

/// Records a successful probe of `settings`.
pub fn record_probe(ctx: &Context, settings: &ProviderSettings) {
    let mut map = crate::locks::lock(&ctx.probes);
    map.insert(settings.account.clone(), (settings.fingerprint(), Instant::now()));
}

/// Forgets the probe of `account` (credentials failed or the ProviderConfig is gone).
pub fn forget_probe(ctx: &Context, account: &str) {
    crate::locks::lock(&ctx.probes).remove(account);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;
    use crate::api::common::SecretRef;
    use crate::api::provider_config::{
        Credentials as CrdCredentials, ProviderConfigSpec, ProviderEndpoints, RateLimit,
    };

    fn pc(type_: CredentialsType) -> ProviderConfig {
        ProviderConfig::new(
            "acct",
            ProviderConfigSpec {
                provider: ProviderType::Iec,
                region: Some("cn-north-4".into()),
                project_id: None,
                domain_id: None,
                domain_name: Some("dom".into()),
                endpoints: Some(ProviderEndpoints {
                    iec: Some("http://127.0.0.1:1".into()),
                    iam: Some("http://127.0.0.1:2".into()),
                    ..ProviderEndpoints::default()
                }),
                credentials: CrdCredentials {
                    secret_ref: SecretRef {
                        name: "creds".into(),
                        namespace: "ns".into(),
                    },
                    type_,
                },
                rate_limit: RateLimit { qps: 5, burst: 7 },
                poll_interval: "1m".into(),
                pending_poll_interval: "5s".into(),
            },
        )
    }

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        let data: BTreeMap<String, ByteString> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
            .collect();
        Secret {
            data: Some(data),
            ..Secret::default()
        }
    }

    #[test]
    fn aksk_settings_carry_everything_but_show_no_secret() {
        let s = settings_from(
            &pc(CredentialsType::AkSk),
            Some(&secret(&[("accessKey", "AK"), ("secretKey", "SK-1\n")])),
        )
        .unwrap();
        assert_eq!(s.account, "acct");
        assert_eq!(s.kind, ProviderKind::Iec);
        assert_eq!(s.endpoints.api.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(s.endpoints.iam.as_deref(), Some("http://127.0.0.1:2"));
        assert_eq!(s.rate.burst, 7);
        match &s.credentials {
            Credentials::AkSk {
                access_key,
                secret_key,
                security_token,
            } => {
                assert_eq!(access_key, "AK");
                assert_eq!(
                    secret_key.expose(),
                    "SK-1",
                    "a trailing newline from `echo` is dropped"
                );
                assert!(security_token.is_none());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(!format!("{s:?}").contains("SK-1"));
    }

    #[test]
    fn missing_secret_and_keys_are_named() {
        let e = settings_from(&pc(CredentialsType::AkSk), None).unwrap_err();
        assert_eq!(e.to_string(), "credentials Secret ns/creds not found");
        assert_eq!(e.reason(), "SecretNotFound");
        let e = settings_from(&pc(CredentialsType::AkSk), Some(&secret(&[("accessKey", "AK")]))).unwrap_err();
        assert!(e.to_string().contains("no key \"secretKey\""), "{e}");
        assert_eq!(e.reason(), "SecretKeyMissing");
        let e = settings_from(
            &pc(CredentialsType::Password),
            Some(&secret(&[("username", "u"), ("password", "")])),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("\"password\""),
            "an empty value counts as missing: {e}"
        );
        let s = settings_from(&pc(CredentialsType::Token), Some(&secret(&[("token", "t")]))).unwrap();
        assert_eq!(s.credentials.kind(), "Token");
    }
}
