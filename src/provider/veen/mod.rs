//! Volcengine veEN (service `veenedge`, Version `2021-04-30`): request signing ([`signer`], the
//! pipeline's [`Authenticate`](crate::provider::http::Authenticate) for veEN), the error body read into
//! `ProviderError`s ([`errors`]), the typed calls ([`client`], [`types`]) for cloud servers and
//! instances, placement words ([`placement`]: ISPs ↔ operators, `instance_area_nums` entries), single
//! instances ([`instance`]: the [`InstanceApi`], created into an existing cloud server), edge networking
//! ([`network`]: the [`VpcApi`] over custom VPCs in one cluster with their subnets, the
//! [`SecurityGroupApi`] over VPC-bound groups with rules changed in place), fleets ([`fleet`]: the
//! [`FleetApi`], EdgeCloud = cloud server), the catalog ([`catalog`]: `ListAvailableResourceInfo` as
//! the [`CatalogApi`]), and this file's [`VeenProvider`]: the account's [`Provider`].

pub mod catalog;
pub mod client;
pub mod errors;
pub mod fleet;
pub mod instance;
pub mod network;
pub mod placement;
pub mod signer;
pub mod types;

use std::sync::Arc;

use async_trait::async_trait;

use self::client::VeenClient;
use self::signer::Signer;
use super::batch::Snapshots;
use super::http::PipelineConfig;
use super::*;

/// Default veEN endpoint (the Volcengine OpenAPI gateway).
pub const DEFAULT_ENDPOINT: &str = "https://veenedge.volcengineapi.com";

/// veEN's capabilities as implemented now: single instances (into an existing cloud server), VPCs with
/// subnets and security groups, fleets (cloud servers, expandable at every level, in any state of
/// theirs). The other fields describe the cloud (create calls take a
/// `client_token`, objects carry tags) so they stay right when the kinds arrive.
pub fn capabilities() -> Capabilities {
    Capabilities {
        kind: ProviderKind::Veen,
        supports: SupportedKinds {
            vpc: true,
            subnets: true,
            security_groups: true,
            instances: true,
            // EdgeCloud = cloud server (fleet.rs).
            fleets: true,
        },
        lacks: Lacks::default(),
        // SetVPCInstanceName; the segment is fixed.
        vpc_rename: true,
        vpc_cidr_update: false,
        // Every custom VPC takes subnets (CreateSubnetsForCustomVPC); there are no modes.
        subnets_only_in_customer_vpcs: false,
        // ModifySecurityGroupAttribute exists, but the SecurityGroup CRD keeps name and description
        // immutable, so edgefleet never sends it.
        security_group_update: false,
        // ModifySecurityGroupRule changes a rule in place and keeps its id.
        rule_update: true,
        // CreateSecurityGroup needs vpc_identity.
        security_group_needs_vpc: true,
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
            // OfflineInstances takes `stop`, `open_fail` and (with `ignore_running`) `running`
            // instances, not `opening` ones: a delete waits for the open to end.
            delete_while_creating: false,
            reimage_sets_password: false,
            // CreateInstance needs `cloud_server_identity`: an instance lives in a cloud server.
            fleet: FleetMembership::Required,
        },
        idempotency_tokens: true,
        tags: true,
        unique_names: UniqueNames {
            vpc: false,
            security_group: false,
            instance: false,
            fleet: false,
        },
        // CreateInstance adds members to a cloud server at every level, in any state of it.
        fleet: FleetCapabilities {
            expand: true,
            no_expand_levels: Vec::new(),
            expand_only_when_ready: false,
        },
        max_security_group_description_len: 255,
    }
}

/// The veEN provider for one account.
#[derive(Debug)]
pub struct VeenProvider {
    client: VeenClient,
    caps: Capabilities,
    /// Drift-poll snapshot of the account's instances ([`InstanceApi::observe`]).
    instance_snapshots: Snapshots<ObservedInstance>,
}

impl VeenProvider {
    /// Builds the client from settings: the API endpoint (default [`DEFAULT_ENDPOINT`]), the region of
    /// the signing scope (default [`signer::DEFAULT_REGION`]) and AK/SK credentials (the only kind
    /// veEN has; the CRD rejects others for provider Veen, this repeats it for other callers).
    pub fn new(
        settings: &ProviderSettings,
        limiter: Arc<RateLimiter>,
        metrics: ProviderMetrics,
    ) -> ProviderResult<Self> {
        const OP: &str = "veen.build";
        let base = http::base_url(OP, settings, DEFAULT_ENDPOINT)?;
        let signer = match &settings.credentials {
            Credentials::AkSk {
                access_key,
                secret_key,
                security_token,
            } => {
                if access_key.is_empty() || secret_key.is_empty() {
                    return Err(ProviderError::configuration(
                        OP,
                        "access key and secret key must not be empty",
                    ));
                }
                Signer::new(
                    access_key.clone(),
                    secret_key.clone(),
                    security_token.clone(),
                    settings
                        .region
                        .clone()
                        .unwrap_or_else(|| signer::DEFAULT_REGION.to_owned()),
                )
            }
            other => {
                return Err(ProviderError::configuration(
                    OP,
                    format!(
                        "veEN signs with an access key and secret key only; credentials of type {} are not accepted",
                        other.kind()
                    ),
                ));
            }
        };
        let http = http::http_client(OP, settings)?;
        let config = PipelineConfig {
            provider: "veen",
            base,
            account: settings.account.clone(),
            retry: settings.retry,
        };
        Ok(Self {
            client: VeenClient::new(http, config, signer, limiter, metrics),
            caps: capabilities(),
            instance_snapshots: Snapshots::default(),
        })
    }

    /// The underlying typed client (for operations the traits do not cover).
    pub fn client(&self) -> &VeenClient {
        &self.client
    }
}

#[async_trait]
impl Provider for VeenProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Veen
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// `ListCloudServers` with `limit=1`: signed, cheap, and touches no resources.
    async fn probe(&self) -> ProviderResult<()> {
        self.client.probe().await
    }

    fn vpcs(&self) -> ProviderResult<&dyn VpcApi> {
        Ok(self)
    }

    fn security_groups(&self) -> ProviderResult<&dyn SecurityGroupApi> {
        Ok(self)
    }

    fn instances(&self) -> ProviderResult<&dyn InstanceApi> {
        Ok(self)
    }

    fn fleets(&self) -> ProviderResult<&dyn FleetApi> {
        Ok(self)
    }

    fn catalog(&self) -> ProviderResult<&dyn CatalogApi> {
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(credentials: Credentials) -> ProviderSettings {
        let mut s = ProviderSettings::new(ProviderKind::Veen, "acct", credentials);
        s.endpoints.api = Some("http://127.0.0.1:9".into());
        s
    }

    fn build(s: &ProviderSettings) -> ProviderResult<VeenProvider> {
        VeenProvider::new(
            s,
            Arc::new(RateLimiter::new(RateBudget::default())),
            ProviderMetrics::new(),
        )
    }

    #[test]
    fn veen_supports_every_kind_and_has_no_operation_api() {
        let p = build(&settings(Credentials::AkSk {
            access_key: "AK".into(),
            secret_key: SecretString::new("SK"),
            security_token: None,
        }))
        .unwrap();
        assert_eq!(p.kind(), ProviderKind::Veen);
        let s = p.capabilities().supports;
        assert!(s.instances && p.instances().is_ok());
        assert!(s.vpc && s.subnets && s.security_groups && p.vpcs().is_ok() && p.security_groups().is_ok());
        assert!(s.fleets && p.fleets().is_ok() && p.catalog().is_ok());
        assert!(p.operations().is_err(), "no job or order API");
    }

    #[test]
    fn veen_rejects_non_aksk_credentials_and_bad_endpoints() {
        let e = build(&settings(Credentials::Token {
            token: SecretString::new("t"),
        }))
        .unwrap_err();
        assert_eq!(e.category(), "Configuration");
        let mut s = settings(Credentials::AkSk {
            access_key: "AK".into(),
            secret_key: SecretString::new("SK"),
            security_token: None,
        });
        s.endpoints.api = Some("not a url".into());
        assert_eq!(build(&s).unwrap_err().category(), "Configuration");
    }
}
