//! Huawei ModelArts DevServer ("Lite Server"): GPU / bare-metal servers under
//! `/v1/{project_id}/dev-servers`, signed and logged in the Huawei way (the shared
//! [`crate::provider::huawei`] signer and IAM login), billed pay-per-use or prepaid through a BSS order
//! ([`crate::provider::huawei::bss`]). The files: [`errors`] (ModelArts, billing and gateway codes →
//! `ProviderError`), [`types`] (wire shapes), [`client`] (the typed calls and the project id: configured,
//! or looked up from IAM by region), [`instance`] (the [`InstanceApi`]: validation, the create body,
//! states, observation), and this file's [`ModelArtsProvider`]: capabilities, the credential probe, and
//! the [`OperationApi`] over BSS orders (a prepaid create's order: pending → completed, then the server
//! it made, found by its `order_id`; or cancelled).

pub mod client;
pub mod errors;
pub mod instance;
pub mod types;

use std::sync::Arc;

use async_trait::async_trait;
use url::Url;

use self::client::{Endpoints as ClientEndpoints, MakeAuth, ModelArtsClient};
use super::batch::Snapshots;
use super::http::PipelineConfig;
use super::huawei::auth::{Auth, Authenticator, iam_endpoint};
use super::huawei::bss::{self, BssClient, OrderStatus};
use super::*;

/// Region used when the settings name none (the CRD requires one for ModelArts).
pub const DEFAULT_REGION: &str = "cn-north-4";

/// The public ModelArts endpoint of `region`.
pub fn default_endpoint(region: &str) -> String {
    format!("https://modelarts.{region}.myhuaweicloud.com")
}

/// ModelArts' capabilities: single servers only (no VPC, security group or fleet API: a DevServer joins
/// an existing VPC, subnet and group by id), no tags and no idempotency token (a lost create is found by
/// its name), renamed in place and nothing else (no resize, no disk or network change; the OS change
/// API is not used), deleted only once built.
pub fn capabilities() -> Capabilities {
    Capabilities {
        kind: ProviderKind::ModelArts,
        supports: SupportedKinds {
            vpc: false,
            subnets: false,
            security_groups: false,
            instances: true,
            fleets: false,
        },
        lacks: Lacks {
            vpcs: Some("ModelArts DevServers join an existing VPC by id; it has no VPC API"),
            security_groups: Some(
                "ModelArts DevServers join an existing security group by id; it has no security group API",
            ),
            fleets: Some("ModelArts has no fleet object (a DevServer is a single server)"),
            catalog: Some("the ModelArts client reads no catalog; the create checks flavor and image"),
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
            name: FieldChange::InPlace,
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
            // DELETE takes pay-per-use servers that are built (or CREATE_FAILED / ERROR).
            delete_while_creating: false,
            reimage_sets_password: false,
            fleet: FleetMembership::Forbidden,
        },
        idempotency_tokens: false,
        tags: false,
        unique_names: UniqueNames {
            vpc: false,
            security_group: false,
            // Not documented either way: edgefleet refuses a name already used, so a name lookup
            // finds only its own server.
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

/// The ModelArts provider of one account.
#[derive(Debug)]
pub struct ModelArtsProvider {
    client: ModelArtsClient,
    bss: BssClient,
    caps: Capabilities,
    /// Drift-poll snapshot of the account's servers ([`InstanceApi::observe`]).
    snapshots: Snapshots<ObservedInstance>,
}

fn url(op: &str, what: &str, value: &str) -> ProviderResult<Url> {
    let mut u = Url::parse(value)
        .map_err(|e| ProviderError::configuration(op, format!("invalid {what} endpoint {value:?}: {e}")))?;
    if !u.path().ends_with('/') {
        let p = format!("{}/", u.path());
        u.set_path(&p);
    }
    Ok(u)
}

/// How one pipeline of `settings` authenticates ([`Auth::from_settings`], each pipeline with its own
/// token cache); unusable credentials fail here, once, rather than at the first call.
fn auth_maker(
    op: &'static str,
    settings: &ProviderSettings,
    http: reqwest::Client,
    iam: String,
) -> ProviderResult<MakeAuth> {
    Auth::from_settings(op, settings, &http, &iam, errors::from_failure)?;
    let settings = settings.clone();
    Ok(Box::new(move || {
        Auth::from_settings(op, &settings, &http, &iam, errors::from_failure)
    }))
}

impl ModelArtsProvider {
    /// Builds the clients from settings: the ModelArts endpoint (default of the region), IAM (project
    /// lookup and password login; default `https://iam.{region}.myhuaweicloud.com`), BSS (default
    /// [`bss::DEFAULT_ENDPOINT`]) and the credentials.
    pub fn new(
        settings: &ProviderSettings,
        limiter: Arc<RateLimiter>,
        metrics: ProviderMetrics,
    ) -> ProviderResult<Self> {
        const OP: &str = "modelarts.build";
        let region = settings
            .region
            .clone()
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let api = url(
            OP,
            "ModelArts",
            &settings
                .endpoints
                .api
                .clone()
                .unwrap_or_else(|| default_endpoint(&region)),
        )?;
        let iam_text = iam_endpoint(settings, &region);
        let iam = url(OP, "IAM", &iam_text)?;
        let bss_base = url(
            OP,
            "BSS",
            settings.endpoints.bss.as_deref().unwrap_or(bss::DEFAULT_ENDPOINT),
        )?;
        let http = http::http_client(OP, settings)?;
        let make_auth = auth_maker(OP, settings, http.clone(), iam_text)?;
        let config = PipelineConfig {
            provider: "modelarts",
            base: api.clone(),
            account: settings.account.clone(),
            retry: settings.retry,
        };
        let bss_auth = Authenticator::new(make_auth()?, None, errors::TOKEN_REFRESH_CODES);
        let bss = BssClient::new(
            http.clone(),
            PipelineConfig {
                base: bss_base,
                ..config.clone()
            },
            Arc::new(bss_auth),
            errors::from_failure,
            limiter.clone(),
            metrics.clone(),
        );
        let endpoints = ClientEndpoints {
            api,
            iam,
            region,
            project_id: settings.project_id.clone(),
        };
        Ok(Self {
            client: ModelArtsClient::new(http, endpoints, config, make_auth, limiter, metrics),
            bss,
            caps: capabilities(),
            snapshots: Snapshots::default(),
        })
    }

    /// The typed DevServer client (for calls the traits do not cover).
    pub fn client(&self) -> &ModelArtsClient {
        &self.client
    }

    /// The billing client (orders, unsubscription).
    pub fn bss(&self) -> &BssClient {
        &self.bss
    }
}

#[async_trait]
impl Provider for ModelArtsProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::ModelArts
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Resolves the project (IAM, when not configured) and lists one server: signed, cheap, touches
    /// nothing.
    async fn probe(&self) -> ProviderResult<()> {
        self.client.probe().await
    }

    fn instances(&self) -> ProviderResult<&dyn InstanceApi> {
        Ok(self)
    }

    fn operations(&self) -> ProviderResult<&dyn OperationApi> {
        Ok(self)
    }
}

#[async_trait]
impl OperationApi for ModelArtsProvider {
    /// A BSS order: cancelled → failed; paid (processing or completed) with a server carrying the order
    /// id → succeeded with those servers; otherwise running, with the order's state in words (a
    /// completed order whose server is not listed yet succeeds with no ids).
    async fn poll(&self, handle: &OperationHandle) -> ProviderResult<OperationState> {
        let OperationHandle::Order(order_id) = handle else {
            return Err(ProviderError::unsupported(
                "modelarts.operation.poll",
                format!("ModelArts issues BSS orders only, not {handle:?}"),
            ));
        };
        let order = self.bss.order(order_id).await?;
        let state = order.state();
        // Paid (processing) or completed: the server exists from payment on, carrying the order id.
        let paid = matches!(order.status(), OrderStatus::Processing | OrderStatus::Completed);
        if !paid {
            return Ok(state);
        }
        let resource_ids: Vec<String> = self
            .client
            .list()
            .await?
            .into_iter()
            .filter(|s| &s.order_id == order_id && !s.id.is_empty())
            .map(|s| s.id)
            .collect();
        match state {
            _ if !resource_ids.is_empty() => Ok(OperationState::Succeeded { resource_ids }),
            OperationState::Succeeded { .. } => Ok(OperationState::Succeeded { resource_ids }),
            other => Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(credentials: Credentials) -> ProviderSettings {
        let mut s = ProviderSettings::new(ProviderKind::ModelArts, "acct", credentials);
        s.endpoints.api = Some("http://127.0.0.1:9".into());
        s.region = Some("cn-north-4".into());
        s
    }

    fn aksk() -> Credentials {
        Credentials::AkSk {
            access_key: "AK".into(),
            secret_key: SecretString::new("SK"),
            security_token: None,
        }
    }

    fn build(s: &ProviderSettings) -> ProviderResult<ModelArtsProvider> {
        ModelArtsProvider::new(
            s,
            Arc::new(RateLimiter::new(RateBudget::default())),
            ProviderMetrics::new(),
        )
    }

    #[test]
    fn modelarts_has_instances_and_orders_only() {
        let p = build(&settings(aksk())).unwrap();
        assert_eq!(p.kind(), ProviderKind::ModelArts);
        assert!(p.instances().is_ok() && p.operations().is_ok());
        assert!(p.vpcs().is_err() && p.security_groups().is_err() && p.fleets().is_err());
        let caps = p.capabilities();
        assert!(!caps.tags && !caps.idempotency_tokens, "recovery by name");
        assert!(caps.supports.instances && !caps.supports.fleets);
    }

    #[test]
    fn modelarts_builds_from_every_huawei_credential_and_refuses_bad_settings() {
        assert!(build(&settings(Credentials::Token { token: "t".into() })).is_ok());
        let mut pw = settings(Credentials::Password {
            username: "u".into(),
            password: "p".into(),
            domain: None,
        });
        assert_eq!(build(&pw).unwrap_err().category(), "Configuration", "no domain");
        pw.domain_name = Some("acct".into());
        assert!(build(&pw).is_ok());
        let mut s = settings(aksk());
        s.endpoints.bss = Some("not a url".into());
        assert_eq!(build(&s).unwrap_err().category(), "Configuration");
        let empty = settings(Credentials::AkSk {
            access_key: String::new(),
            secret_key: SecretString::new("SK"),
            security_token: None,
        });
        assert_eq!(build(&empty).unwrap_err().category(), "Configuration");
        assert_eq!(
            default_endpoint("cn-east-3"),
            "https://modelarts.cn-east-3.myhuaweicloud.com"
        );
    }
}
