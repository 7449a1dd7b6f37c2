//! The IEC HTTP client: one typed method per API the controllers need, over the shared request pipeline
//! ([`crate::provider::http`]: limiter, timeout, safe retries, Retry-After, metrics, paging) with Huawei
//! authentication ([`crate::provider::huawei`]) and IEC's error table. Each list method uses its API's own
//! pagination (item offset, page number, bare arrays).

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

use super::errors::{TOKEN_REFRESH_CODES, from_failure};
use super::types::*;
use crate::provider::error::ProviderError;
use crate::provider::http::{Call, Pipeline, PipelineConfig, Reply, decode_or_default, encode, protocol};
use crate::provider::huawei::auth::{Auth, Authenticator};
use crate::provider::metrics::{ObservationSource, ProviderMetrics};
use crate::provider::ratelimit::RateLimiter;
use crate::provider::settings::RetryPolicy;

/// Result of a client call.
pub type IecResult<T> = Result<T, ProviderError>;

/// Largest page size the list APIs accept.
const PAGE_LIMIT: u32 = 1000;

/// Settings the client needs (a subset of provider settings, resolved).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// API base URL.
    pub base: Url,
    /// ProviderConfig name (metrics label).
    pub account: String,
    /// Project id header for AK/SK.
    pub project_id: Option<String>,
    /// Domain id (image job retry path).
    pub domain_id: Option<String>,
    /// Retry policy.
    pub retry: RetryPolicy,
}

/// The IEC API client.
#[derive(Debug)]
pub struct IecClient {
    http: Pipeline,
    auth: Arc<Authenticator>,
}

impl IecClient {
    /// A client over an existing `reqwest::Client` (which carries the timeout and TLS settings).
    pub fn new(
        http: reqwest::Client,
        config: ClientConfig,
        auth: Auth,
        limiter: Arc<RateLimiter>,
        metrics: ProviderMetrics,
    ) -> Self {
        let auth = Arc::new(Authenticator::new(auth, config.project_id, TOKEN_REFRESH_CODES));
        let pipeline = PipelineConfig {
            provider: "iec",
            base: config.base,
            account: config.account,
            retry: config.retry,
        };
        Self {
            http: Pipeline::new(http, pipeline, auth.clone(), from_failure, limiter, metrics),
            auth,
        }
    }

    /// The authentication in use.
    pub fn auth(&self) -> &Auth {
        self.auth.auth()
    }

    /// The shared limiter.
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        self.http.limiter()
    }

    /// Counts one drift-poll observation of `kind` answered by `source`.
    pub fn count_observation(&self, kind: &str, source: ObservationSource) {
        self.http.count_observation(kind, source);
    }

    async fn execute(&self, call: Call) -> IecResult<Reply> {
        self.http.execute(call).await
    }

    async fn json<T: DeserializeOwned>(&self, call: Call) -> IecResult<T> {
        self.http.json(call).await
    }

    async fn json_key<T: DeserializeOwned>(&self, call: Call, key: &str) -> IecResult<T> {
        let op = call.op;
        let reply = self.execute(call).await?;
        unwrap_key(reply.body, key).map_err(|e| protocol(op, e))
    }

    async fn empty(&self, call: Call) -> IecResult<()> {
        self.http.empty(call).await
    }

    // -----------------------------------------------------------------------------------------------------
    // Deployment plans and edge clouds
    // -----------------------------------------------------------------------------------------------------

    /// `POST /v1/deployments`.
    pub async fn create_deployment(
        &self,
        req: &CreateDeploymentRequest,
    ) -> IecResult<CreateDeploymentResponse> {
        self.json(Call::post(
            "iec.deployment.create",
            "/v1/deployments",
            Some(to_value(req)?),
        ))
        .await
    }

    /// `GET /v1/deployments` (all pages), optionally filtered.
    pub async fn list_deployments(
        &self,
        edgecloud_id: Option<&str>,
        status: Option<&str>,
    ) -> IecResult<Vec<Deployment>> {
        self.http
            .list_item_offset(
                || {
                    Call::get("iec.deployment.list", "/v1/deployments")
                        .query_opt("edgecloud_id", edgecloud_id)
                        .query_opt("status", status)
                },
                PAGE_LIMIT,
                |v| serde_json::from_value::<DeploymentList>(v).map(|l| (l.deployments, l.count)),
            )
            .await
    }

    /// `DELETE /v1/deployments/{id}`.
    pub async fn delete_deployment(&self, id: &str) -> IecResult<()> {
        self.empty(Call::delete(
            "iec.deployment.delete",
            format!("/v1/deployments/{}", seg(id)),
        ))
        .await
    }

    /// `POST /v1/deployments/{id}/deploy`.
    pub async fn deploy(&self, id: &str) -> IecResult<DeployResponse> {
        self.json(Call::post(
            "iec.deployment.deploy",
            format!("/v1/deployments/{}/deploy", seg(id)),
            None,
        ))
        .await
    }

    /// `POST /v1/deployments/{id}/expand`.
    pub async fn expand(&self, id: &str) -> IecResult<DeployResponse> {
        self.json(Call::post(
            "iec.deployment.expand",
            format!("/v1/deployments/{}/expand", seg(id)),
            None,
        ))
        .await
    }

    /// `GET /v1/edgeclouds` (all pages), optionally by exact name or id.
    pub async fn list_edge_clouds(&self, name: Option<&str>, id: Option<&str>) -> IecResult<Vec<EdgeCloud>> {
        self.http
            .list_item_offset(
                || {
                    Call::get("iec.edgecloud.list", "/v1/edgeclouds")
                        .query_opt("name", name)
                        .query_opt("id", id)
                },
                PAGE_LIMIT,
                |v| serde_json::from_value::<EdgeCloudList>(v).map(|l| (l.edgeclouds, l.count)),
            )
            .await
    }

    /// `GET /v1/edgeclouds/{id}` (unwrapped; a wrapped `edgecloud` is tolerated).
    pub async fn get_edge_cloud(&self, id: &str) -> IecResult<EdgeCloud> {
        self.json_key(
            Call::get("iec.edgecloud.get", format!("/v1/edgeclouds/{}", seg(id))),
            "edgecloud",
        )
        .await
    }

    /// `DELETE /v1/edgeclouds/{id}` → job.
    pub async fn delete_edge_cloud(&self, id: &str) -> IecResult<JobResponse> {
        let reply = self
            .execute(Call::delete(
                "iec.edgecloud.delete",
                format!("/v1/edgeclouds/{}", seg(id)),
            ))
            .await?;
        Ok(decode_or_default("iec.edgecloud.delete", reply.body))
    }

    // -----------------------------------------------------------------------------------------------------
    // Instances
    // -----------------------------------------------------------------------------------------------------

    /// `GET /v1/cloudservers` (all pages; page-number offsets), filtered by the given query pairs.
    pub async fn list_instances(&self, filters: &[(&str, &str)]) -> IecResult<Vec<Instance>> {
        self.list_instances_as(filters, PAGE_LIMIT, |i| i, |i| i.id.as_str())
            .await
    }

    /// `GET /v1/cloudservers` in pages of `limit`, each instance turned into a `T` as its page arrives
    /// (a list of every instance of an account then holds one page of wire shapes at a time).
    pub async fn list_instances_as<T>(
        &self,
        filters: &[(&str, &str)],
        limit: u32,
        map: fn(Instance) -> T,
        id: fn(&T) -> &str,
    ) -> IecResult<Vec<T>> {
        let filters: Vec<(String, String)> = filters
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.http.list_page_number(
            || {
                let mut c = Call::get("iec.instance.list", "/v1/cloudservers");
                c.query.extend(filters.iter().cloned());
                c
            },
            limit,
            |v| serde_json::from_value::<InstanceList>(v).map(|l| {
                if !l.err_sites.is_empty() {
                    tracing::warn!(sites = ?l.err_sites, "instance list is partial: some sites did not answer");
                }
                (l.servers.into_iter().map(map).collect(), l.count)
            }),
            id,
        )
        .await
    }

    /// `POST /v1/cloudservers` → job and server ids. Never retried on transient errors.
    pub async fn create_instances(&self, server: &CreateInstanceOption) -> IecResult<CreateInstanceResponse> {
        self.json(Call::post(
            "iec.instance.create",
            "/v1/cloudservers",
            Some(json!({"server": to_value(server)?})),
        ))
        .await
    }

    /// `GET /v1/cloudservers/{id}`.
    pub async fn get_instance(&self, id: &str) -> IecResult<Instance> {
        self.json_key(
            Call::get("iec.instance.get", format!("/v1/cloudservers/{}", seg(id))),
            "server",
        )
        .await
    }

    /// `PUT /v1/cloudservers/{id}` (response unwrapped per the doc; wrapped tolerated).
    pub async fn update_instance(
        &self,
        id: &str,
        name: Option<&str>,
        description: Option<&str>,
    ) -> IecResult<Instance> {
        let mut server = serde_json::Map::new();
        if let Some(n) = name {
            server.insert("name".into(), n.into());
        }
        if let Some(d) = description {
            server.insert("description".into(), d.into());
        }
        self.json_key(
            Call::put(
                "iec.instance.update",
                format!("/v1/cloudservers/{}", seg(id)),
                json!({"server": server}),
            ),
            "server",
        )
        .await
    }

    /// `POST /v1/cloudservers/delete` → job. Deleting is idempotent (a repeat finds nothing to delete), so
    /// it is retried on transient errors.
    pub async fn delete_instances(&self, ids: &[String]) -> IecResult<JobResponse> {
        let servers: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
        let mut call = Call::post(
            "iec.instance.delete",
            "/v1/cloudservers/delete",
            Some(json!({"servers": servers})),
        );
        call.idempotent = true;
        let reply = self.execute(call).await?;
        Ok(decode_or_default("iec.instance.delete", reply.body))
    }

    /// `POST /v1/cloudservers/action` with `os-start` / `os-stop` / `reboot`. Power actions converge to a
    /// state, so they are retried on transient errors.
    pub async fn instance_action(
        &self,
        action: &str,
        ids: &[String],
        kind: Option<&str>,
    ) -> IecResult<JobsResponse> {
        let servers: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
        let mut inner = json!({"servers": servers});
        if let (Some(k), Some(obj)) = (kind, inner.as_object_mut()) {
            obj.insert("type".into(), k.into());
        }
        let op = match action {
            "os-start" => "iec.instance.start",
            "os-stop" => "iec.instance.stop",
            _ => "iec.instance.reboot",
        };
        let mut call = Call::post(op, "/v1/cloudservers/action", Some(json!({ action: inner })));
        call.idempotent = true;
        let reply = self.execute(call).await?;
        Ok(decode_or_default(op, reply.body))
    }

    /// `POST /v1/cloudservers/{id}/change-os`.
    pub async fn change_os(
        &self,
        id: &str,
        image_id: &str,
        key_name: Option<&str>,
        user_data: Option<&str>,
    ) -> IecResult<JobResponse> {
        let mut body = json!({"image_id": image_id});
        if let Some(obj) = body.as_object_mut() {
            if let Some(k) = key_name {
                obj.insert("key_name".into(), k.into());
            }
            if let Some(u) = user_data {
                obj.insert("metadata".into(), json!({"user_data": u}));
            }
        }
        self.json(Call::post(
            "iec.instance.change_os",
            format!("/v1/cloudservers/{}/change-os", seg(id)),
            Some(body),
        ))
        .await
    }

    /// `POST /v1/cloudservers/{id}/nics`.
    pub async fn add_nics(
        &self,
        id: &str,
        vpc_id: &str,
        subnet_id: Option<&str>,
        security_group_ids: &[String],
        count: u32,
    ) -> IecResult<JobResponse> {
        let sgs: Vec<Value> = security_group_ids.iter().map(|s| json!({"id": s})).collect();
        let mut body = json!({"vpc_id": vpc_id, "security_groups": sgs, "nic_num": count});
        if let (Some(s), Some(obj)) = (subnet_id, body.as_object_mut()) {
            obj.insert("subnet_id".into(), s.into());
        }
        self.json(Call::post(
            "iec.instance.add_nics",
            format!("/v1/cloudservers/{}/nics", seg(id)),
            Some(body),
        ))
        .await
    }

    /// `POST /v1/cloudservers/{id}/nics/delete`.
    pub async fn delete_nics(&self, id: &str, nic_ids: &[String]) -> IecResult<JobResponse> {
        let nics: Vec<Value> = nic_ids.iter().map(|n| json!({"id": n})).collect();
        self.json(Call::post(
            "iec.instance.delete_nics",
            format!("/v1/cloudservers/{}/nics/delete", seg(id)),
            Some(json!({"nics": nics})),
        ))
        .await
    }

    /// `PUT /v1/ports/{id}` with `security_groups` only (digest §2.9.5): the security groups of one port
    /// (an instance NIC). Setting a list converges, so it is retried on transient errors.
    pub async fn update_port_security_groups(&self, port_id: &str, group_ids: &[String]) -> IecResult<()> {
        let mut call = Call::put(
            "iec.port.update",
            format!("/v1/ports/{}", seg(port_id)),
            json!({"port": {"security_groups": group_ids}}),
        );
        call.idempotent = true;
        self.execute(call).await.map(|_| ())
    }

    // -----------------------------------------------------------------------------------------------------
    // Catalog
    // -----------------------------------------------------------------------------------------------------

    /// `GET /v1/cloudservers/flavors` (page-number offsets), optionally for sites (comma-separated).
    pub async fn list_flavors(&self, site_ids: &[String]) -> IecResult<Vec<IecFlavor>> {
        let sites = site_ids.join(",");
        self.http
            .list_page_number(
                || {
                    Call::get("iec.flavor.list", "/v1/cloudservers/flavors")
                        .query_opt("site_ids", Some(&sites))
                },
                PAGE_LIMIT,
                |v| serde_json::from_value::<FlavorList>(v).map(|l| (l.flavors, l.count)),
                |f: &IecFlavor| f.id.as_str(),
            )
            .await
    }

    /// `GET /v1/sites`.
    pub async fn list_sites(&self, flavor: Option<&str>, id: Option<&str>) -> IecResult<Vec<IecSite>> {
        self.http
            .list_item_offset(
                || {
                    Call::get("iec.site.list", "/v1/sites")
                        .query_opt("flavor", flavor)
                        .query_opt("id", id)
                },
                PAGE_LIMIT,
                |v| serde_json::from_value::<SiteList>(v).map(|l| (l.sites, l.count)),
            )
            .await
    }

    /// `GET /v1/images` (item offset, `total`, limit ≤ 500).
    pub async fn list_images(&self, id: Option<&str>, name: Option<&str>) -> IecResult<Vec<IecImage>> {
        self.http
            .list_item_offset(
                || {
                    Call::get("iec.image.list", "/v1/images")
                        .query_opt("id", id)
                        .query_opt("name", name)
                },
                500,
                |v| serde_json::from_value::<ImageList>(v).map(|l| (l.images, l.total)),
            )
            .await
    }

    /// `GET /v1/edgeclouds/quotas`.
    pub async fn quotas(&self) -> IecResult<QuotaResponse> {
        self.json(Call::get("iec.quota.get", "/v1/edgeclouds/quotas"))
            .await
    }

    /// `GET /v1/os-keypairs` (bare array).
    pub async fn list_keypairs(&self) -> IecResult<Vec<Keypair>> {
        let reply = self
            .execute(Call::get("iec.keypair.list", "/v1/os-keypairs").query("limit", PAGE_LIMIT))
            .await?;
        parse_keypairs(reply.body).map_err(|e| protocol("iec.keypair.list", e))
    }

    // -----------------------------------------------------------------------------------------------------
    // VPCs and subnets
    // -----------------------------------------------------------------------------------------------------

    /// `GET /v1/vpcs` (all pages), optionally by name.
    pub async fn list_vpcs(&self, name: Option<&str>) -> IecResult<Vec<Vpc>> {
        self.http
            .list_item_offset(
                || Call::get("iec.vpc.list", "/v1/vpcs").query_opt("name", name),
                PAGE_LIMIT,
                |v| serde_json::from_value::<VpcList>(v).map(|l| (l.vpcs, l.count)),
            )
            .await
    }

    /// `POST /v1/vpcs`.
    pub async fn create_vpc(&self, name: &str, cidr: &str, mode: &str) -> IecResult<Vpc> {
        let body = json!({"vpc": {"name": name, "cidr": cidr, "mode": mode}});
        self.json_key(Call::post("iec.vpc.create", "/v1/vpcs", Some(body)), "vpc")
            .await
    }

    /// `GET /v1/vpcs/{id}`.
    pub async fn get_vpc(&self, id: &str) -> IecResult<Vpc> {
        self.json_key(Call::get("iec.vpc.get", format!("/v1/vpcs/{}", seg(id))), "vpc")
            .await
    }

    /// `PUT /v1/vpcs/{id}`.
    pub async fn update_vpc(&self, id: &str, option: &VpcOption) -> IecResult<Vpc> {
        self.json_key(
            Call::put(
                "iec.vpc.update",
                format!("/v1/vpcs/{}", seg(id)),
                json!({"vpc": option}),
            ),
            "vpc",
        )
        .await
    }

    /// `DELETE /v1/vpcs/{id}`.
    pub async fn delete_vpc(&self, id: &str) -> IecResult<()> {
        self.empty(Call::delete("iec.vpc.delete", format!("/v1/vpcs/{}", seg(id))))
            .await
    }

    /// `GET /v1/subnets` (all pages), optionally by VPC and site.
    pub async fn list_subnets(&self, vpc_id: Option<&str>, site_id: Option<&str>) -> IecResult<Vec<Subnet>> {
        self.http
            .list_item_offset(
                || {
                    Call::get("iec.subnet.list", "/v1/subnets")
                        .query_opt("vpc_id", vpc_id)
                        .query_opt("site_id", site_id)
                },
                PAGE_LIMIT,
                |v| serde_json::from_value::<SubnetList>(v).map(|l| (l.subnets, l.count)),
            )
            .await
    }

    /// `POST /v1/subnets`.
    pub async fn create_subnet(&self, option: &CreateSubnetOption) -> IecResult<Subnet> {
        self.json_key(
            Call::post(
                "iec.subnet.create",
                "/v1/subnets",
                Some(json!({"subnet": option})),
            ),
            "subnet",
        )
        .await
    }

    /// `GET /v1/subnets/{id}`.
    pub async fn get_subnet(&self, id: &str) -> IecResult<Subnet> {
        self.json_key(
            Call::get("iec.subnet.get", format!("/v1/subnets/{}", seg(id))),
            "subnet",
        )
        .await
    }

    /// `PUT /v1/subnets/{id}` (reduced response: id and status).
    pub async fn update_subnet(&self, id: &str, option: &UpdateSubnetOption) -> IecResult<Subnet> {
        self.json_key(
            Call::put(
                "iec.subnet.update",
                format!("/v1/subnets/{}", seg(id)),
                json!({"subnet": option}),
            ),
            "subnet",
        )
        .await
    }

    /// `DELETE /v1/subnets/{id}`.
    pub async fn delete_subnet(&self, id: &str) -> IecResult<()> {
        self.empty(Call::delete(
            "iec.subnet.delete",
            format!("/v1/subnets/{}", seg(id)),
        ))
        .await
    }

    // -----------------------------------------------------------------------------------------------------
    // Security groups
    // -----------------------------------------------------------------------------------------------------

    /// `GET /v1/security-groups` (all pages; no server-side filters exist).
    pub async fn list_security_groups(&self) -> IecResult<Vec<SecurityGroup>> {
        self.http
            .list_item_offset(
                || Call::get("iec.security_group.list", "/v1/security-groups"),
                PAGE_LIMIT,
                |v| serde_json::from_value::<SecurityGroupList>(v).map(|l| (l.security_groups, l.count)),
            )
            .await
    }

    /// `POST /v1/security-groups`.
    pub async fn create_security_group(&self, name: &str, description: &str) -> IecResult<SecurityGroup> {
        let body = json!({"security_group": {"name": name, "description": description}});
        self.json_key(
            Call::post("iec.security_group.create", "/v1/security-groups", Some(body)),
            "security_group",
        )
        .await
    }

    /// `GET /v1/security-groups/{id}`.
    pub async fn get_security_group(&self, id: &str) -> IecResult<SecurityGroup> {
        self.json_key(
            Call::get(
                "iec.security_group.get",
                format!("/v1/security-groups/{}", seg(id)),
            ),
            "security_group",
        )
        .await
    }

    /// `DELETE /v1/security-groups/{id}`.
    pub async fn delete_security_group(&self, id: &str) -> IecResult<()> {
        self.empty(Call::delete(
            "iec.security_group.delete",
            format!("/v1/security-groups/{}", seg(id)),
        ))
        .await
    }

    /// `GET /v1/security-group-rules` (all pages), optionally for one group.
    pub async fn list_rules(&self, group_id: Option<&str>) -> IecResult<Vec<SecurityGroupRule>> {
        self.http
            .list_item_offset(
                || {
                    Call::get("iec.security_group_rule.list", "/v1/security-group-rules")
                        .query_opt("security_group_id", group_id)
                },
                PAGE_LIMIT,
                |v| {
                    serde_json::from_value::<SecurityGroupRuleList>(v)
                        .map(|l| (l.security_group_rules, l.count))
                },
            )
            .await
    }

    /// `POST /v1/security-group-rules`.
    pub async fn create_rule(&self, option: &CreateRuleOption) -> IecResult<SecurityGroupRule> {
        self.json_key(
            Call::post(
                "iec.security_group_rule.create",
                "/v1/security-group-rules",
                Some(json!({"security_group_rule": option})),
            ),
            "security_group_rule",
        )
        .await
    }

    /// `GET /v1/security-group-rules/{id}`.
    pub async fn get_rule(&self, id: &str) -> IecResult<SecurityGroupRule> {
        self.json_key(
            Call::get(
                "iec.security_group_rule.get",
                format!("/v1/security-group-rules/{}", seg(id)),
            ),
            "security_group_rule",
        )
        .await
    }

    /// `DELETE /v1/security-group-rules/{id}`.
    pub async fn delete_rule(&self, id: &str) -> IecResult<()> {
        self.empty(Call::delete(
            "iec.security_group_rule.delete",
            format!("/v1/security-group-rules/{}", seg(id)),
        ))
        .await
    }
}

/// One path segment, percent-encoded so ids cannot change the path.
fn seg(s: &str) -> String {
    encode(s)
}

fn to_value<T: Serialize>(v: &T) -> IecResult<Value> {
    serde_json::to_value(v).map_err(|e| ProviderError::configuration("iec.encode", e.to_string()))
}

#[cfg(test)]
mod tests {
    //! One-off pipeline paths the emulator cannot show both ways (the doc's page-number ambiguity),
    //! against a tiny hand-written HTTP server.

    use std::sync::Arc;

    use axum::extract::Query;
    use axum::routing::get;
    use serde_json::json;

    use super::*;
    use crate::provider::settings::{RateBudget, SecretString};

    async fn serve(one_based: bool) -> String {
        let items: Vec<String> = (0..5).map(|i| format!("i{i}")).collect();
        let app = axum::Router::new().route(
            "/v1/cloudservers",
            get(
                move |Query(q): Query<std::collections::HashMap<String, String>>| {
                    let items = items.clone();
                    async move {
                        let offset: usize = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
                        // Page size 2 regardless of `limit`; `count` is the total.
                        let page = if one_based { offset.max(1) - 1 } else { offset };
                        let servers: Vec<_> = items
                            .iter()
                            .skip(page * 2)
                            .take(2)
                            .map(|id| json!({"id": id, "status": "ACTIVE"}))
                            .collect();
                        axum::Json(json!({"count": items.len(), "servers": servers}))
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/")
    }

    fn client(base: &str) -> IecClient {
        IecClient::new(
            reqwest::Client::new(),
            ClientConfig {
                base: Url::parse(base).unwrap(),
                account: "t".into(),
                project_id: None,
                domain_id: None,
                retry: RetryPolicy::default(),
            },
            Auth::Token(SecretString::new("t")),
            Arc::new(RateLimiter::new(RateBudget {
                qps: 1000.0,
                burst: 100,
            })),
            ProviderMetrics::new(),
        )
    }

    #[tokio::test]
    async fn page_number_listing_works_for_zero_and_one_based_servers() {
        for one_based in [false, true] {
            let c = client(&serve(one_based).await);
            let ids: Vec<String> = c
                .list_instances(&[])
                .await
                .unwrap()
                .into_iter()
                .map(|i| i.id)
                .collect();
            assert_eq!(ids, vec!["i0", "i1", "i2", "i3", "i4"], "one_based={one_based}");
        }
    }
}
