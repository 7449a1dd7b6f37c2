//! The typed ModelArts DevServer calls over the shared request pipeline, authenticated the Huawei way
//! ([`crate::provider::huawei::auth`]: APIG AK/SK signing with `X-Project-Id`, or an IAM token), failures
//! read by [`super::errors::from_failure`]. Every path carries the project id: the configured one, or
//! the one IAM names for the region (`GET {iam}/v3/projects?name={region}`, as the Huawei SDK resolves
//! it), looked up once on first use and kept (a failed lookup is tried again on the next call). Lists
//! walk `offset`/`limit` (an item offset) to the reported `total`.

use std::sync::Arc;

use reqwest::Method;
use serde_json::json;
use tokio::sync::OnceCell;
use url::Url;

use super::errors::{TOKEN_REFRESH_CODES, from_failure};
use super::types::{CreateServer, Server, ServerList};
use crate::provider::error::ProviderError;
use crate::provider::http::{Authenticate, Call, HttpResult, Pipeline, PipelineConfig, encode};
use crate::provider::huawei::auth::{Auth, Authenticator};
use crate::provider::huawei::iam::lookup_project_id;
use crate::provider::metrics::{ObservationSource, ProviderMetrics};
use crate::provider::ratelimit::RateLimiter;

/// Servers per list page (the API takes up to 1024).
pub const PAGE_LIMIT: u32 = 100;

/// Builds the authentication of one pipeline (called once per pipeline: a password login keeps its
/// own token cache).
pub type MakeAuth = Box<dyn Fn() -> Result<Auth, ProviderError> + Send + Sync>;

/// Where the client calls.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// ModelArts base URL.
    pub api: Url,
    /// IAM base URL (project lookup).
    pub iam: Url,
    /// The region whose project is looked up.
    pub region: String,
    /// The configured project id, if any.
    pub project_id: Option<String>,
}

struct Bound {
    project_id: String,
    http: Pipeline,
}

/// A ModelArts DevServer client for one account.
pub struct ModelArtsClient {
    http: reqwest::Client,
    endpoints: Endpoints,
    config: PipelineConfig,
    make_auth: MakeAuth,
    limiter: Arc<RateLimiter>,
    metrics: ProviderMetrics,
    bound: OnceCell<Bound>,
}

impl std::fmt::Debug for ModelArtsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelArtsClient")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

fn path(project_id: &str, rest: &str) -> String {
    format!("/v1/{}/dev-servers{rest}", encode(project_id))
}

fn server_path(project_id: &str, id: &str, action: &str) -> String {
    path(project_id, &format!("/{}{action}", encode(id)))
}

/// A `PUT` without a body (stop, reboot: the API takes none).
fn bare_put(op: &'static str, path: String) -> Call {
    Call {
        op,
        method: Method::PUT,
        path,
        query: Vec::new(),
        body: None,
        idempotent: true,
    }
}

impl ModelArtsClient {
    /// A client calling `endpoints` over `http` (which carries the timeout), authenticated by what
    /// `make_auth` builds; `config` names the provider and account in metrics (its base is replaced
    /// by the endpoints').
    pub fn new(
        http: reqwest::Client,
        endpoints: Endpoints,
        config: PipelineConfig,
        make_auth: MakeAuth,
        limiter: Arc<RateLimiter>,
        metrics: ProviderMetrics,
    ) -> Self {
        Self {
            http,
            endpoints,
            config,
            make_auth,
            limiter,
            metrics,
            bound: OnceCell::new(),
        }
    }

    fn pipeline(&self, base: Url, auth: Arc<dyn Authenticate>) -> Pipeline {
        let config = PipelineConfig {
            base,
            ..self.config.clone()
        };
        Pipeline::new(
            self.http.clone(),
            config,
            auth,
            from_failure,
            self.limiter.clone(),
            self.metrics.clone(),
        )
    }

    /// The project id and the pipeline that sends it, resolved on first use.
    async fn bound(&self) -> HttpResult<&Bound> {
        self.bound
            .get_or_try_init(|| async {
                let project_id = match &self.endpoints.project_id {
                    Some(p) => p.clone(),
                    None => self.lookup_project().await?,
                };
                let auth =
                    Authenticator::new((self.make_auth)()?, Some(project_id.clone()), TOKEN_REFRESH_CODES);
                Ok(Bound {
                    http: self.pipeline(self.endpoints.api.clone(), Arc::new(auth)),
                    project_id,
                })
            })
            .await
    }

    /// The region's project id from IAM (the shared Huawei lookup).
    async fn lookup_project(&self) -> HttpResult<String> {
        let auth = Authenticator::new((self.make_auth)()?, None, TOKEN_REFRESH_CODES);
        let iam = self.pipeline(self.endpoints.iam.clone(), Arc::new(auth));
        lookup_project_id(&iam, &self.endpoints.region).await
    }

    /// The project id in use (resolving it if needed).
    pub async fn project_id(&self) -> HttpResult<String> {
        Ok(self.bound().await?.project_id.clone())
    }

    /// Counts one drift-poll observation of an instance answered by `source` (none before the client
    /// is bound: no call has been made).
    pub fn count_observation(&self, source: ObservationSource) {
        if let Some(b) = self.bound.get() {
            b.http.count_observation("instance", source);
        }
    }

    /// `POST /v1/{project_id}/dev-servers`. Not retried on a lost answer (there is no idempotency
    /// token: the caller recovers by name); a throttled call is (the gateway never processed it).
    pub async fn create(&self, req: &CreateServer) -> HttpResult<Server> {
        const OP: &str = "modelarts.server.create";
        let b = self.bound().await?;
        let body = serde_json::to_value(req)
            .map_err(|e| ProviderError::configuration(OP, format!("encode: {e}")))?;
        b.http
            .json(Call::post(OP, path(&b.project_id, ""), Some(body)))
            .await
    }

    /// `GET /v1/{project_id}/dev-servers/{id}` (a missing server is 400 `ModelArts.6404`: NotFound).
    pub async fn get(&self, id: &str) -> HttpResult<Server> {
        let b = self.bound().await?;
        b.http
            .json(Call::get(
                "modelarts.server.get",
                server_path(&b.project_id, id, ""),
            ))
            .await
    }

    /// `GET /v1/{project_id}/dev-servers`, every page.
    pub async fn list(&self) -> HttpResult<Vec<Server>> {
        let b = self.bound().await?;
        let p = path(&b.project_id, "");
        b.http
            .list_item_offset(
                || Call::get("modelarts.server.list", p.clone()),
                PAGE_LIMIT,
                |v| serde_json::from_value::<ServerList>(v).map(|l| (l.data, l.total)),
            )
            .await
    }

    /// One page of one server: the cheapest signed call (the credential probe).
    pub async fn probe(&self) -> HttpResult<()> {
        let b = self.bound().await?;
        b.http
            .empty(
                Call::get("modelarts.probe", path(&b.project_id, ""))
                    .query("limit", 1)
                    .query("offset", 0),
            )
            .await
    }

    /// `DELETE /v1/{project_id}/dev-servers/{id}` (pay-per-use, CREATE_FAILED and ERROR servers only).
    pub async fn delete(&self, id: &str) -> HttpResult<()> {
        let b = self.bound().await?;
        b.http
            .empty(Call::delete(
                "modelarts.server.delete",
                server_path(&b.project_id, id, ""),
            ))
            .await
    }

    /// `PUT …/{id}/start` (the API needs a body, even an empty one).
    pub async fn start(&self, id: &str) -> HttpResult<()> {
        let b = self.bound().await?;
        b.http
            .empty(Call::put(
                "modelarts.server.start",
                server_path(&b.project_id, id, "/start"),
                json!({}),
            ))
            .await
    }

    /// `PUT …/{id}/stop`.
    pub async fn stop(&self, id: &str) -> HttpResult<()> {
        let b = self.bound().await?;
        b.http
            .empty(bare_put(
                "modelarts.server.stop",
                server_path(&b.project_id, id, "/stop"),
            ))
            .await
    }

    /// `PUT …/{id}/reboot`.
    pub async fn reboot(&self, id: &str) -> HttpResult<()> {
        let b = self.bound().await?;
        b.http
            .empty(bare_put(
                "modelarts.server.reboot",
                server_path(&b.project_id, id, "/reboot"),
            ))
            .await
    }

    /// `PUT …/{id}` with the new name (the only field the update takes).
    pub async fn rename(&self, id: &str, name: &str) -> HttpResult<()> {
        let b = self.bound().await?;
        b.http
            .empty(Call::put(
                "modelarts.server.rename",
                server_path(&b.project_id, id, ""),
                json!({ "name": name }),
            ))
            .await
    }
}
