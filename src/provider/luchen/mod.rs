//! Luchen Cloud (潞晨云, `cloud.luchentech.com`) GPU instances: POST + JSON calls under `/api`,
//! authenticated by the `AccessToken` cookie — a JWT from a password login, or a ready-made token
//! copied from the console (seed 003, digest §3). The files: [`session`] (the account's one login,
//! cached, single-flight, renewed once when the cloud rejects it), [`errors`] (the `{message}` /
//! `{code:-1,message}` bodies → `ProviderError`), [`types`] (wire shapes), [`client`] (the typed calls:
//! create, the paged list, stop, start, restart, terminate), [`instance`] (the [`InstanceApi`]:
//! validation, the create body, states, observation), and this file's [`LuchenProvider`]: capabilities,
//! the credential probe and the rate budget.
//!
//! One provider (so one session) exists per ProviderConfig in the [`ProviderRegistry`]: every
//! controller of the account shares its login.

pub mod client;
pub mod errors;
pub mod instance;
pub mod session;
pub mod types;

use std::sync::Arc;

use async_trait::async_trait;
use url::Url;

use self::client::LuchenClient;
use self::session::Session;
use super::batch::Snapshots;
use super::http::{Pipeline, PipelineConfig};
use super::*;

/// The public endpoint (the host root; calls go below its `api/`).
pub const DEFAULT_ENDPOINT: &str = "https://cloud.luchentech.com";

/// The budget of an account whose ProviderConfig leaves `spec.rateLimit` at the generic default
/// ([`RateBudget::default`]). Luchen documents no rate limit (digest §3.4), and its list is the only
/// read (every lookup pages the account's instances), so edgefleet asks half the generic budget
/// unless the ProviderConfig sets another one.
pub const DEFAULT_RATE: RateBudget = RateBudget { qps: 5.0, burst: 10 };

/// Luchen's capabilities: single instances only (no VPC, security group, fleet, catalog or job API),
/// no tags and no idempotency token (a lost create is found by its name), nothing changed in place (no
/// rename, resize or re-image), terminated in any state.
pub fn capabilities() -> Capabilities {
    Capabilities {
        kind: ProviderKind::Luchen,
        supports: SupportedKinds {
            vpc: false,
            subnets: false,
            security_groups: false,
            instances: true,
            fleets: false,
        },
        lacks: Lacks {
            vpcs: Some("Luchen instances have no VPC"),
            security_groups: Some("Luchen instances have no security groups"),
            fleets: Some("Luchen has no fleet object (an instance is a single GPU instance)"),
            catalog: Some("Luchen documents no catalog API; the create checks the type, image and region"),
            ..Lacks::default()
        },
        vpc_rename: false,
        vpc_cidr_update: false,
        subnets_only_in_customer_vpcs: false,
        security_group_update: false,
        rule_update: false,
        security_group_needs_vpc: false,
        default_rules: Vec::new(),
        instance_fields: InstanceFieldPolicy {
            name: FieldChange::Replace,
            description: FieldChange::Replace,
            image: FieldChange::Replace,
            flavor: FieldChange::Replace,
            site: FieldChange::Replace,
            network: FieldChange::Replace,
            security_groups: FieldChange::Replace,
            volumes: FieldChange::Replace,
            key_name: FieldChange::Replace,
            unobservable: FieldChange::Replace,
        },
        instance: InstanceRules {
            // Terminate is taken in any state but Released.
            delete_while_creating: true,
            reimage_sets_password: false,
            fleet: FleetMembership::Forbidden,
        },
        idempotency_tokens: false,
        tags: false,
        unique_names: UniqueNames {
            vpc: false,
            security_group: false,
            // Names are not unique on Luchen; edgefleet's names are deterministic per object, so a name
            // lookup finds only its own instance.
            instance: false,
            fleet: false,
        },
        fleet: FleetCapabilities {
            expand: false,
            no_expand_levels: Vec::new(),
            expand_only_when_ready: false,
        },
        max_security_group_description_len: 0,
    }
}

/// The endpoint as the base of `api/...` paths: the host root (a configured `…/api` is taken as the
/// same host, since the docs write the base that way).
pub fn base_url(op: &str, configured: Option<&str>) -> ProviderResult<Url> {
    let text = configured.unwrap_or(DEFAULT_ENDPOINT);
    let mut u = Url::parse(text)
        .map_err(|e| ProviderError::configuration(op, format!("invalid Luchen endpoint {text:?}: {e}")))?;
    let trimmed = u.path().trim_end_matches('/');
    let path = trimmed.strip_suffix("/api").unwrap_or(trimmed);
    let path = format!("{path}/");
    u.set_path(&path);
    Ok(u)
}

/// The Luchen provider of one account.
#[derive(Debug)]
pub struct LuchenProvider {
    client: LuchenClient,
    caps: Capabilities,
    /// Drift-poll snapshot of the account's instances ([`InstanceApi::observe`]).
    snapshots: Snapshots<ObservedInstance>,
}

impl LuchenProvider {
    /// Builds the client from settings: the endpoint (default [`DEFAULT_ENDPOINT`]) and Password or
    /// Token credentials (AK/SK is a configuration error: Luchen has none). A limiter still at the
    /// generic default budget is set to [`DEFAULT_RATE`].
    pub fn new(
        settings: &ProviderSettings,
        limiter: Arc<RateLimiter>,
        metrics: ProviderMetrics,
    ) -> ProviderResult<Self> {
        const OP: &str = "luchen.build";
        let base = base_url(OP, settings.endpoints.api.as_deref())?;
        let http = http::http_client(OP, settings)?;
        let session = match &settings.credentials {
            Credentials::Password {
                username, password, ..
            } => {
                if username.is_empty() || password.is_empty() {
                    return Err(ProviderError::configuration(
                        OP,
                        "the Luchen login needs a user name and a password",
                    ));
                }
                Session::password(http.clone(), &base, username.clone(), password.clone())?
            }
            Credentials::Token { token } => {
                if token.is_empty() {
                    return Err(ProviderError::configuration(OP, "the Luchen token is empty"));
                }
                Session::token(token.clone())
            }
            Credentials::AkSk { .. } => {
                return Err(ProviderError::configuration(
                    OP,
                    "Luchen authenticates by login (Password) or a ready-made token (Token), not AK/SK",
                ));
            }
        };
        if settings.rate == RateBudget::default() {
            limiter.set_budget(DEFAULT_RATE);
        }
        let session = Arc::new(session);
        let pipeline = Pipeline::new(
            http,
            PipelineConfig {
                provider: "luchen",
                base,
                account: settings.account.clone(),
                retry: settings.retry,
            },
            session.clone(),
            errors::from_failure,
            limiter,
            metrics,
        );
        Ok(Self {
            client: LuchenClient::new(pipeline, session),
            caps: capabilities(),
            snapshots: Snapshots::default(),
        })
    }

    /// The typed client (for calls the traits do not cover, and the session's login counter).
    pub fn client(&self) -> &LuchenClient {
        &self.client
    }
}

#[async_trait]
impl Provider for LuchenProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Luchen
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Password: the login (a refused one carries the cloud's message, never the password); Token: a
    /// one-row list with the token (a rejected token is `Unauthorized` with the cloud's message).
    async fn probe(&self) -> ProviderResult<()> {
        if self.client.session().logs_in() {
            self.client.login().await
        } else {
            self.client.probe_list().await
        }
    }

    fn instances(&self) -> ProviderResult<&dyn InstanceApi> {
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(credentials: Credentials) -> ProviderSettings {
        let mut s = ProviderSettings::new(ProviderKind::Luchen, "acct", credentials);
        s.endpoints.api = Some("http://127.0.0.1:9".into());
        s
    }

    fn build(s: &ProviderSettings) -> ProviderResult<LuchenProvider> {
        LuchenProvider::new(s, Arc::new(RateLimiter::new(s.rate)), ProviderMetrics::new())
    }

    fn password() -> Credentials {
        Credentials::Password {
            username: "u".into(),
            password: "p".into(),
            domain: None,
        }
    }

    #[test]
    fn luchen_has_instances_only_and_recovers_by_name() {
        let p = build(&settings(password())).unwrap();
        assert_eq!(p.kind(), ProviderKind::Luchen);
        assert!(p.instances().is_ok());
        assert!(p.vpcs().is_err() && p.security_groups().is_err() && p.fleets().is_err());
        assert!(p.operations().is_err() && p.catalog().is_err());
        let caps = p.capabilities();
        assert!(!caps.tags && !caps.idempotency_tokens);
        assert_eq!(caps.instance.fleet, FleetMembership::Forbidden);
    }

    #[test]
    fn luchen_builds_from_password_or_token_and_refuses_aksk_and_empties() {
        assert!(build(&settings(Credentials::Token { token: "t".into() })).is_ok());
        let aksk = settings(Credentials::AkSk {
            access_key: "AK".into(),
            secret_key: "SK".into(),
            security_token: None,
        });
        assert_eq!(build(&aksk).unwrap_err().category(), "Configuration");
        let empty = settings(Credentials::Token { token: "".into() });
        assert_eq!(build(&empty).unwrap_err().category(), "Configuration");
        let mut bad = settings(password());
        bad.endpoints.api = Some("not a url".into());
        assert_eq!(build(&bad).unwrap_err().category(), "Configuration");
    }

    #[test]
    fn luchen_endpoint_is_the_host_root_with_or_without_api() {
        let b = |s: &str| base_url("t", Some(s)).unwrap().to_string();
        assert_eq!(b("https://cloud.luchentech.com"), "https://cloud.luchentech.com/");
        assert_eq!(
            b("https://cloud.luchentech.com/api"),
            "https://cloud.luchentech.com/"
        );
        assert_eq!(b("http://127.0.0.1:8/api/"), "http://127.0.0.1:8/");
        assert_eq!(b("http://127.0.0.1:8/proxy"), "http://127.0.0.1:8/proxy/");
        assert_eq!(
            base_url("t", None).unwrap().as_str(),
            "https://cloud.luchentech.com/"
        );
    }

    #[test]
    fn a_default_budget_becomes_luchens_conservative_one() {
        let s = settings(password());
        let limiter = Arc::new(RateLimiter::new(s.rate));
        LuchenProvider::new(&s, limiter.clone(), ProviderMetrics::new()).unwrap();
        assert_eq!(limiter.budget(), DEFAULT_RATE);
        let mut custom = settings(password());
        custom.rate = RateBudget {
            qps: 50.0,
            burst: 100,
        };
        let limiter = Arc::new(RateLimiter::new(custom.rate));
        LuchenProvider::new(&custom, limiter.clone(), ProviderMetrics::new()).unwrap();
        assert_eq!(limiter.budget(), custom.rate, "an explicit budget is kept");
    }
}
