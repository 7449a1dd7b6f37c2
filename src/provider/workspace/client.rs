//! The typed Workspace calls over the shared request pipeline ([`crate::provider::http`]: limiter,
//! timeout, safe retries, Retry-After, metrics, paging) with Huawei authentication
//! ([`crate::provider::huawei`]: APIG AK/SK signing, IAM token, fixed token) and Workspace's error table
//! ([`super::errors`]). Every path carries the project id: the configured one, else the IAM project
//! named after the region, looked up once on first use. Lists walk `offset`/`limit` (1–100) to the
//! reported `count`.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::errors::{TOKEN_REFRESH_CODES, from_failure};
use super::types::*;
use crate::provider::error::ProviderError;
use crate::provider::http::{
    Call, HttpResult, Pipeline, PipelineConfig, decode_or_default, encode, protocol,
};
use crate::provider::huawei::auth::{Auth, Authenticator};
use crate::provider::huawei::iam::lookup_project_id;
use crate::provider::metrics::{ObservationSource, ProviderMetrics};
use crate::provider::ratelimit::RateLimiter;

/// Largest page the list APIs accept.
pub const PAGE_LIMIT: u32 = 100;
/// Largest batch of one `actions/batch-delete`.
pub const MAX_BATCH_DELETE: usize = 20;

/// Where the project id comes from.
#[derive(Debug)]
pub enum Project {
    /// Configured (`spec.projectId`).
    Fixed(String),
    /// Looked up from IAM (the project named `region`) through this pipeline.
    Lookup {
        /// IAM pipeline (base = the IAM endpoint).
        iam: Box<Pipeline>,
        /// Region = project name.
        region: String,
    },
}

/// A Workspace client for one account.
#[derive(Debug)]
pub struct WorkspaceClient {
    http: Pipeline,
    project: Project,
    resolved: OnceCell<String>,
}

fn seg(s: &str) -> String {
    encode(s)
}

fn to_value<T: Serialize>(op: &str, v: &T) -> HttpResult<Value> {
    serde_json::to_value(v).map_err(|e| ProviderError::configuration(op, format!("encode body: {e}")))
}

impl WorkspaceClient {
    /// A client over `http` (which carries the timeout) calling `config.base`, authenticated by `auth`.
    pub fn new(
        http: reqwest::Client,
        config: PipelineConfig,
        auth: Auth,
        project: ProjectSource,
        limiter: Arc<RateLimiter>,
        metrics: ProviderMetrics,
    ) -> Self {
        let header_project = match &project {
            ProjectSource::Fixed(p) => Some(p.clone()),
            ProjectSource::Lookup { .. } => None,
        };
        let auth = Arc::new(Authenticator::new(auth, header_project, TOKEN_REFRESH_CODES));
        let project = match project {
            ProjectSource::Fixed(p) => Project::Fixed(p),
            ProjectSource::Lookup { iam_base, region } => Project::Lookup {
                iam: Box::new(Pipeline::new(
                    http.clone(),
                    PipelineConfig {
                        provider: config.provider,
                        base: iam_base,
                        account: config.account.clone(),
                        retry: config.retry,
                    },
                    auth.clone(),
                    from_failure,
                    limiter.clone(),
                    metrics.clone(),
                )),
                region,
            },
        };
        Self {
            http: Pipeline::new(http, config, auth, from_failure, limiter, metrics),
            project,
            resolved: OnceCell::new(),
        }
    }

    /// The shared limiter.
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        self.http.limiter()
    }

    /// Counts one drift-poll observation of `kind` answered by `source`.
    pub fn count_observation(&self, kind: &str, source: ObservationSource) {
        self.http.count_observation(kind, source);
    }

    /// The project id of every path (looked up once when not configured).
    pub async fn project_id(&self) -> HttpResult<&str> {
        self.resolved
            .get_or_try_init(|| async {
                match &self.project {
                    Project::Fixed(p) => Ok(p.clone()),
                    Project::Lookup { iam, region } => lookup_project_id(iam, region).await,
                }
            })
            .await
            .map(String::as_str)
    }

    async fn v1(&self, rest: &str) -> HttpResult<String> {
        Ok(format!("/v1/{}/{rest}", seg(self.project_id().await?)))
    }

    async fn pages<T: serde::de::DeserializeOwned>(&self, make: impl Fn() -> Call) -> HttpResult<Vec<T>> {
        self.http
            .list_item_offset(make, PAGE_LIMIT, |v| {
                serde_json::from_value::<Page<T>>(v).map(|p| (p.items, p.count))
            })
            .await
    }

    // -----------------------------------------------------------------------------------------------------
    // Server groups
    // -----------------------------------------------------------------------------------------------------

    /// `POST /v1/{pid}/app-server-groups` (synchronous: the group).
    pub async fn create_group(&self, req: &CreateServerGroup) -> HttpResult<ServerGroup> {
        const OP: &str = "workspace.group.create";
        let path = self.v1("app-server-groups").await?;
        self.http
            .json(Call::post(OP, path, Some(to_value(OP, req)?)))
            .await
    }

    /// `GET /v1/{pid}/app-server-groups`, every page, by exact name and/or tag value.
    pub async fn list_groups(&self, name: Option<&str>, tag: Option<&str>) -> HttpResult<Vec<ServerGroup>> {
        let path = self.v1("app-server-groups").await?;
        self.pages(|| {
            Call::get("workspace.group.list", path.clone())
                .query_opt("server_group_name", name)
                .query_opt("tags", tag)
        })
        .await
    }

    /// `GET /v1/{pid}/app-server-groups/{id}`.
    pub async fn get_group(&self, id: &str) -> HttpResult<ServerGroup> {
        let path = self.v1(&format!("app-server-groups/{}", seg(id))).await?;
        self.http.json(Call::get("workspace.group.get", path)).await
    }

    /// `PATCH /v1/{pid}/app-server-groups/{id}` (image and disk changes affect new servers only).
    pub async fn update_group(&self, id: &str, patch: &Value) -> HttpResult<()> {
        let path = self.v1(&format!("app-server-groups/{}", seg(id))).await?;
        let mut call = Call::put("workspace.group.update", path, patch.clone());
        call.method = reqwest::Method::PATCH;
        self.http.empty(call).await
    }

    /// `DELETE /v1/{pid}/app-server-groups/{id}` (the group must be empty; an unknown group is 200).
    pub async fn delete_group(&self, id: &str) -> HttpResult<()> {
        let path = self.v1(&format!("app-server-groups/{}", seg(id))).await?;
        self.http
            .empty(Call::delete("workspace.group.delete", path))
            .await
    }

    /// `GET /v1/{pid}/app-server-groups/{id}/state`: `aps_status` histogram.
    pub async fn group_state(&self, id: &str) -> HttpResult<Value> {
        let path = self.v1(&format!("app-server-groups/{}/state", seg(id))).await?;
        let v: Value = self.http.json(Call::get("workspace.group.state", path)).await?;
        Ok(v.get("aps_status").cloned().unwrap_or(Value::Null))
    }

    // -----------------------------------------------------------------------------------------------------
    // App servers
    // -----------------------------------------------------------------------------------------------------

    /// `POST /v1/{pid}/app-servers/actions/create` → a job (on-demand). Not idempotent: never retried.
    pub async fn create_servers(&self, req: &CreateAppServers) -> HttpResult<JobAnswer> {
        const OP: &str = "workspace.server.create";
        let path = self.v1("app-servers/actions/create").await?;
        let answer: JobAnswer = self
            .http
            .json(Call::post(OP, path, Some(to_value(OP, req)?)))
            .await?;
        if answer.job_id.is_none() && answer.order_id.is_none() {
            return Err(protocol(
                OP,
                serde::de::Error::custom("no job_id or order_id in the answer"),
            ));
        }
        Ok(answer)
    }

    /// `GET /v1/{pid}/app-servers`, every page, optionally of one group.
    pub async fn list_servers(&self, group_id: Option<&str>) -> HttpResult<Vec<AppServer>> {
        let path = self.v1("app-servers").await?;
        self.pages(|| Call::get("workspace.server.list", path.clone()).query_opt("server_group_id", group_id))
            .await
    }

    /// `GET /v1/{pid}/app-servers/{id}`.
    pub async fn get_server(&self, id: &str) -> HttpResult<AppServer> {
        let path = self.v1(&format!("app-servers/{}", seg(id))).await?;
        self.http.json(Call::get("workspace.server.get", path)).await
    }

    /// `PATCH /v1/{pid}/app-servers/{id}` (name, description).
    pub async fn update_server(&self, id: &str, patch: &Value) -> HttpResult<()> {
        let path = self.v1(&format!("app-servers/{}", seg(id))).await?;
        let mut call = Call::put("workspace.server.update", path, patch.clone());
        call.method = reqwest::Method::PATCH;
        self.http.empty(call).await
    }

    /// `POST /v1/{pid}/app-servers/actions/batch-delete` (≤ [`MAX_BATCH_DELETE`] ids) → a job.
    pub async fn batch_delete(&self, ids: &[String]) -> HttpResult<JobAnswer> {
        const OP: &str = "workspace.server.batch_delete";
        let path = self.v1("app-servers/actions/batch-delete").await?;
        let reply = self
            .http
            .execute(Call::post(OP, path, Some(json!({"items": ids}))))
            .await?;
        Ok(decode_or_default(OP, reply.body))
    }

    /// `PATCH /v1/{pid}/app-servers/actions/batch-start|batch-stop|batch-reboot` (`type` SOFT|HARD for
    /// stop and reboot).
    pub async fn batch_power(
        &self,
        action: &'static str,
        ids: &[String],
        hard: Option<bool>,
    ) -> HttpResult<JobAnswer> {
        let op = match action {
            "batch-start" => "workspace.server.start",
            "batch-stop" => "workspace.server.stop",
            _ => "workspace.server.reboot",
        };
        let path = self.v1(&format!("app-servers/actions/{action}")).await?;
        let mut body = json!({"items": ids});
        if let (Some(h), Some(m)) = (hard, body.as_object_mut()) {
            m.insert("type".into(), json!(if h { "HARD" } else { "SOFT" }));
        }
        let mut call = Call::put(op, path, body);
        call.method = reqwest::Method::PATCH;
        call.idempotent = false;
        let reply = self.http.execute(call).await?;
        Ok(decode_or_default(op, reply.body))
    }

    // -----------------------------------------------------------------------------------------------------
    // Jobs and catalog
    // -----------------------------------------------------------------------------------------------------

    /// `GET /v2/{pid}/job/{job_id}`.
    pub async fn get_job(&self, id: &str) -> HttpResult<Job> {
        let path = format!("/v2/{}/job/{}", seg(self.project_id().await?), seg(id));
        self.http.json(Call::get("workspace.job.get", path)).await
    }

    /// `GET /v1/{pid}/product`, every page.
    pub async fn products(&self) -> HttpResult<Vec<Product>> {
        let path = self.v1("product").await?;
        self.pages(|| Call::get("workspace.catalog.products", path.clone()))
            .await
    }

    /// `GET /v1/{pid}/volume-type`, every page.
    pub async fn volume_types(&self) -> HttpResult<Vec<VolumeType>> {
        let path = self.v1("volume-type").await?;
        self.pages(|| Call::get("workspace.catalog.volume_types", path.clone()))
            .await
    }

    /// `GET /v1/{pid}/check/quota?product_id=&subscription_num=`: whether `count` more servers of
    /// `product_id` fit the quota (`is_enough`, with the cloud's code and message when not).
    pub async fn check_quota(&self, product_id: &str, count: u32) -> HttpResult<Value> {
        let path = self.v1("check/quota").await?;
        self.http
            .json(
                Call::get("workspace.catalog.quota", path)
                    .query("product_id", product_id)
                    .query("subscription_num", count),
            )
            .await
    }

    /// The credential probe: the first page (1 item) of the account's server groups.
    pub async fn probe(&self) -> HttpResult<()> {
        let path = self.v1("app-server-groups").await?;
        let call = Call::get("workspace.probe", path)
            .query("limit", 1)
            .query("offset", 0);
        self.http.execute(call).await.map(|_| ())
    }
}

/// Where a new client takes the project id from.
#[derive(Debug, Clone)]
pub enum ProjectSource {
    /// Configured.
    Fixed(String),
    /// Looked up at `iam_base` (`/v3/projects?name=<region>`).
    Lookup {
        /// IAM base URL (ends in `/`).
        iam_base: url::Url,
        /// Region = project name.
        region: String,
    },
}
