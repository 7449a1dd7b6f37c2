//! Huawei Workspace application streaming (WorkspaceApp, "appstream"): server groups of application
//! servers, the EdgeCloud's fleet. The files: [`types`] (wire shapes), [`errors`] (the `WKS.*` / APIG
//! code table → `ProviderError`), [`client`] (the typed calls over the shared pipeline, Huawei signing
//! and IAM, the project id from settings or IAM), [`jobs`] (v2 jobs as the [`OperationApi`]: one
//! mapping of a job to [`OperationState`]), [`fleet`] (the [`FleetApi`]: EdgeCloud = server group,
//! members = its app servers, created and deleted by jobs), [`instance`] (the [`InstanceApi`] of
//! members: observe, power, delete; the batched drift poll), and this file's [`WorkspaceProvider`]
//! with its [`Capabilities`], the credential probe and the catalog (products as flavors).

pub mod client;
pub mod errors;
pub mod fleet;
pub mod instance;
pub mod jobs;
pub mod types;

use std::sync::Arc;

use async_trait::async_trait;

use self::client::{ProjectSource, WorkspaceClient};
use super::batch::Snapshots;
use super::http::PipelineConfig;
use super::huawei::auth::{Auth, iam_endpoint};
use super::*;

/// Region used for the default endpoints when none is configured.
pub const DEFAULT_REGION: &str = "cn-north-4";

/// The default endpoint of `region`: `appstream.<region>` for the mainland regions, `workspace.<region>`
/// elsewhere (HW-SDK `services/workspaceapp/v1/region/region.go`).
pub fn default_endpoint(region: &str) -> String {
    let service = if region.starts_with("cn-") {
        "appstream"
    } else {
        "workspace"
    };
    format!("https://{service}.{region}.myhuaweicloud.com")
}

/// Workspace's capabilities: fleets (server groups, placed by availability zone, grown by jobs) and
/// their members as instances (observed, powered and deleted; created only by their fleet). Groups
/// carry tags (the owner tag finds a group again after a crash; names are not known to be unique); no
/// create takes an idempotency token.
pub fn capabilities() -> Capabilities {
    Capabilities {
        kind: ProviderKind::Workspace,
        supports: SupportedKinds {
            vpc: false,
            subnets: false,
            security_groups: false,
            instances: true,
            fleets: true,
        },
        lacks: Lacks {
            vpcs: Some(
                "Workspace uses an existing VPC and subnet (spec.template.network.vpcId, spec.workspace.subnetId); it manages none",
            ),
            security_groups: Some("Workspace manages no security groups"),
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
            description: FieldChange::InPlace,
            // PATCH of the group's image affects new servers only: members are replaced.
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
            // A building server is deleted once its create job has ended.
            delete_while_creating: false,
            reimage_sets_password: false,
            // App servers exist only in a server group.
            fleet: FleetMembership::Required,
        },
        idempotency_tokens: false,
        tags: true,
        unique_names: UniqueNames {
            vpc: false,
            security_group: false,
            instance: false,
            fleet: false,
        },
        // Servers are placed by availability zone: the coverage level Site names the zone.
        fleet: FleetCapabilities {
            expand: true,
            no_expand_levels: vec![CoverageLevel::City, CoverageLevel::Province, CoverageLevel::Area],
            expand_only_when_ready: false,
        },
        max_security_group_description_len: 0,
    }
}

/// The Workspace provider for one account.
#[derive(Debug)]
pub struct WorkspaceProvider {
    client: WorkspaceClient,
    caps: Capabilities,
    /// Drift-poll snapshot of the account's app servers ([`InstanceApi::observe`]).
    servers: Snapshots<ObservedInstance>,
}

impl WorkspaceProvider {
    /// Builds the client from settings: the API endpoint (default per region, [`default_endpoint`]),
    /// the credentials (AK/SK signing, IAM password login, or a token) and the project id (configured,
    /// else looked up from IAM by the region's name on first use).
    pub fn new(
        settings: &ProviderSettings,
        limiter: Arc<RateLimiter>,
        metrics: ProviderMetrics,
    ) -> ProviderResult<Self> {
        const OP: &str = "workspace.build";
        let region = settings
            .region
            .clone()
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let base = http::base_url(OP, settings, &default_endpoint(&region))?;
        let http = http::http_client(OP, settings)?;
        let iam = iam_endpoint(settings, &region);
        let auth = Auth::from_settings(OP, settings, &http, &iam, errors::from_failure)?;
        let project = match &settings.project_id {
            Some(p) if !p.is_empty() => ProjectSource::Fixed(p.clone()),
            _ => {
                let mut iam_base = url::Url::parse(&iam).map_err(|e| {
                    ProviderError::configuration(OP, format!("invalid IAM endpoint {iam:?}: {e}"))
                })?;
                if !iam_base.path().ends_with('/') {
                    let p = format!("{}/", iam_base.path());
                    iam_base.set_path(&p);
                }
                ProjectSource::Lookup { iam_base, region }
            }
        };
        let config = PipelineConfig {
            provider: "workspace",
            base,
            account: settings.account.clone(),
            retry: settings.retry,
        };
        Ok(Self {
            client: WorkspaceClient::new(http, config, auth, project, limiter, metrics),
            caps: capabilities(),
            servers: Snapshots::default(),
        })
    }

    /// The underlying typed client (for calls the traits do not cover).
    pub fn client(&self) -> &WorkspaceClient {
        &self.client
    }
}

#[async_trait]
impl Provider for WorkspaceProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Workspace
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Resolves the project id (IAM, when not configured) and lists one server group: signed, cheap,
    /// touches nothing.
    async fn probe(&self) -> ProviderResult<()> {
        self.client.probe().await
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

    fn operations(&self) -> ProviderResult<&dyn OperationApi> {
        Ok(self)
    }
}

/// The catalog: products as flavors (Workspace lists no sites or images of its own).
#[async_trait]
impl CatalogApi for WorkspaceProvider {
    async fn sites(&self, _filter: &SiteFilter) -> ProviderResult<Vec<Site>> {
        Ok(Vec::new())
    }

    async fn flavors(&self, _site_ids: &[String]) -> ProviderResult<Vec<Flavor>> {
        let products = self.client.products().await?;
        Ok(products
            .into_iter()
            .map(|p| Flavor {
                name: p.descriptions.clone().unwrap_or_else(|| p.product_id.clone()),
                vcpus: p.cpu.as_deref().and_then(|c| c.trim().parse().ok()),
                ram_mb: p.memory.as_deref().and_then(|m| m.trim().parse().ok()),
                available: p
                    .status
                    .as_deref()
                    .is_none_or(|s| s.is_empty() || s.eq_ignore_ascii_case("normal")),
                id: p.product_id,
            })
            .collect())
    }

    async fn images(&self, _filter: &ImageFilter) -> ProviderResult<Vec<Image>> {
        Ok(Vec::new())
    }

    async fn quotas(&self) -> ProviderResult<Vec<Quota>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(credentials: Credentials) -> ProviderSettings {
        let mut s = ProviderSettings::new(ProviderKind::Workspace, "acct", credentials);
        s.endpoints.api = Some("http://127.0.0.1:9".into());
        s.project_id = Some("p1".into());
        s
    }

    fn aksk() -> Credentials {
        Credentials::AkSk {
            access_key: "AK".into(),
            secret_key: SecretString::new("SK"),
            security_token: None,
        }
    }

    fn build(s: &ProviderSettings) -> ProviderResult<WorkspaceProvider> {
        WorkspaceProvider::new(
            s,
            Arc::new(RateLimiter::new(RateBudget::default())),
            ProviderMetrics::new(),
        )
    }

    #[test]
    fn workspace_has_fleets_members_jobs_and_no_networks() {
        let p = build(&settings(aksk())).unwrap();
        assert_eq!(p.kind(), ProviderKind::Workspace);
        assert!(p.fleets().is_ok() && p.instances().is_ok() && p.operations().is_ok());
        assert!(p.vpcs().is_err() && p.security_groups().is_err());
        let caps = p.capabilities();
        assert!(caps.tags && !caps.idempotency_tokens);
        assert!(caps.fleet_can_expand(CoverageLevel::Site));
        assert!(!caps.fleet_can_expand(CoverageLevel::City));
    }

    #[test]
    fn workspace_endpoints_follow_the_region() {
        assert_eq!(
            default_endpoint("cn-north-4"),
            "https://appstream.cn-north-4.myhuaweicloud.com"
        );
        assert_eq!(
            default_endpoint("ap-southeast-1"),
            "https://workspace.ap-southeast-1.myhuaweicloud.com"
        );
    }

    #[test]
    fn workspace_rejects_empty_keys_and_password_without_domain() {
        let e = build(&settings(Credentials::AkSk {
            access_key: String::new(),
            secret_key: SecretString::new("SK"),
            security_token: None,
        }))
        .unwrap_err();
        assert_eq!(e.category(), "Configuration");
        let e = build(&settings(Credentials::Password {
            username: "u".into(),
            password: SecretString::new("p"),
            domain: None,
        }))
        .unwrap_err();
        assert_eq!(e.category(), "Configuration");
    }
}
