//! The typed veEN calls over the shared request pipeline: every call is `/?Action=X&Version=2021-04-30`
//! (GET with the documented snake_case query keys, POST with a JSON body), signed by [`Signer`], its
//! answer read with [`errors::from_body`] (an error body on HTTP 200 still fails) and failures with
//! [`errors::from_failure`]. Creates carrying a `client_token` are retried like idempotent calls
//! (veEN answers a repeated token with the first call's ids). Lists walk `page`/`limit` to the
//! reported `total_count`, bounded by [`MAX_PAGES`]. The request builders and readers are `pub(super)`:
//! the trait mappings beside this file (`instance.rs`, `fleet.rs`, `network.rs`) add their calls in their own
//! `impl VeenClient` blocks.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::errors;
use super::signer::Signer;
use super::types::{CloudServer, CreateCloudServer, Created, Instance, InstanceQuery, Tag};
use crate::provider::error::{ErrorDetail, ProviderError};
use crate::provider::http::{Call, HttpResult, Pipeline, PipelineConfig, decode};
use crate::provider::metrics::{ObservationSource, ProviderMetrics};
use crate::provider::ratelimit::RateLimiter;

/// The API version.
pub const VERSION: &str = "2021-04-30";
/// Items per list page.
pub const PAGE_LIMIT: u32 = 100;
/// Safety bound on pages per listing.
pub const MAX_PAGES: u32 = 10_000;

/// A veEN client for one account.
#[derive(Debug)]
pub struct VeenClient {
    http: Pipeline,
}

pub(super) fn get(op: &'static str, action: &str) -> Call {
    Call::get(op, "/")
        .query("Action", action)
        .query("Version", VERSION)
}

pub(super) fn post(op: &'static str, action: &str, body: Value, idempotent: bool) -> Call {
    let mut c = Call::post(op, "/", Some(body))
        .query("Action", action)
        .query("Version", VERSION);
    c.idempotent = idempotent;
    c
}

pub(super) fn joined(call: Call, key: &str, values: &[String]) -> Call {
    if values.is_empty() {
        call
    } else {
        call.query(key, values.join(","))
    }
}

pub(super) fn with_tags(mut call: Call, tags: &[(String, Vec<String>)]) -> Call {
    for (n, (key, values)) in tags.iter().enumerate() {
        call = call.query(&format!("TagFilters.{}.Key", n + 1), key);
        for (m, v) in values.iter().enumerate() {
            call = call.query(&format!("TagFilters.{}.Values.{}", n + 1, m + 1), v);
        }
    }
    if tags.is_empty() {
        call
    } else {
        call.query("with_tag_info", "true")
    }
}

impl VeenClient {
    /// A client over `http` (which carries the timeout), signing with `signer`.
    pub fn new(
        http: reqwest::Client,
        config: PipelineConfig,
        signer: Signer,
        limiter: Arc<RateLimiter>,
        metrics: ProviderMetrics,
    ) -> Self {
        Self {
            http: Pipeline::new(
                http,
                config,
                Arc::new(signer),
                errors::from_failure,
                limiter,
                metrics,
            ),
        }
    }

    /// Counts one drift-poll observation of an instance answered by `source`.
    pub fn count_observation(&self, source: ObservationSource) {
        self.http.count_observation("instance", source);
    }

    pub(super) async fn result<T: DeserializeOwned>(&self, call: Call) -> HttpResult<T> {
        let op = call.op;
        let reply = self.http.execute(call).await?;
        decode(op, errors::from_body(op, reply.body)?)
    }

    pub(super) async fn done(&self, call: Call) -> HttpResult<()> {
        let op = call.op;
        let reply = self.http.execute(call).await?;
        errors::from_body(op, reply.body).map(|_| ())
    }

    pub(super) async fn pages<T: DeserializeOwned>(
        &self,
        make: impl Fn() -> Call,
        items_key: &str,
    ) -> HttpResult<Vec<T>> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let call = make().query("page", page).query("limit", PAGE_LIMIT);
            let op = call.op;
            let mut r: Value = self.result(call).await?;
            let total = r.get("total_count").and_then(Value::as_u64);
            let items: Vec<T> = decode(op, r.get_mut(items_key).map(Value::take).unwrap_or(json!([])))?;
            let n = items.len();
            out.extend(items);
            let done = match total {
                Some(t) => out.len() as u64 >= t || n == 0,
                None => n < PAGE_LIMIT as usize,
            };
            if done {
                return Ok(out);
            }
        }
        Err(ProviderError::Protocol {
            detail: ErrorDetail::local("veen.list", format!("more than {MAX_PAGES} pages")),
        })
    }

    /// `CreateCloudServer`.
    pub async fn create_cloud_server(&self, req: &CreateCloudServer) -> HttpResult<Created> {
        let body = serde_json::to_value(req).map_err(|e| ProviderError::Configuration {
            detail: ErrorDetail::local("veen.cloud_server.create", format!("encode: {e}")),
        })?;
        let idempotent = req.client_token.is_some();
        self.result(post(
            "veen.cloud_server.create",
            "CreateCloudServer",
            body,
            idempotent,
        ))
        .await
    }

    /// `GetCloudServer`.
    pub async fn get_cloud_server(&self, id: &str) -> HttpResult<CloudServer> {
        let mut r: Value = self
            .result(get("veen.cloud_server.get", "GetCloudServer").query("cloud_server_id", id))
            .await?;
        decode(
            "veen.cloud_server.get",
            r.get_mut("cloud_server").map(Value::take).unwrap_or_default(),
        )
    }

    /// `ListCloudServers`, every page, optionally by tags.
    pub async fn list_cloud_servers(&self, tags: &[(String, Vec<String>)]) -> HttpResult<Vec<CloudServer>> {
        self.pages(
            || with_tags(get("veen.cloud_server.list", "ListCloudServers"), tags),
            "cloud_servers",
        )
        .await
    }

    /// `ListCloudServers` with `limit=1`: one signed call that touches nothing (the credential probe).
    pub async fn probe(&self) -> HttpResult<()> {
        let call = get("veen.probe", "ListCloudServers")
            .query("page", 1)
            .query("limit", 1);
        self.result::<Value>(call).await.map(|_| ())
    }

    /// `DeleteCloudServer` (the cloud server must be empty).
    pub async fn delete_cloud_server(&self, id: &str) -> HttpResult<()> {
        self.done(post(
            "veen.cloud_server.delete",
            "DeleteCloudServer",
            json!({"cloud_server_id": id}),
            true,
        ))
        .await
    }

    /// `CreateInstance`: more instances in a cloud server.
    pub async fn create_instances(
        &self,
        cloud_server_id: &str,
        areas: &[super::types::AreaNum],
        client_token: Option<&str>,
        tags: &[Tag],
    ) -> HttpResult<Created> {
        let mut body =
            json!({"cloud_server_identity": cloud_server_id, "instance_area_nums": areas, "Tags": tags});
        if let (Some(t), Some(m)) = (client_token, body.as_object_mut()) {
            m.insert("client_token".into(), json!(t));
        }
        self.result(post(
            "veen.instance.create",
            "CreateInstance",
            body,
            client_token.is_some(),
        ))
        .await
    }

    /// `ListInstances`, every page.
    pub async fn list_instances(&self, q: &InstanceQuery) -> HttpResult<Vec<Instance>> {
        self.pages(
            || {
                let c = get("veen.instance.list", "ListInstances");
                let c = joined(c, "cloud_server_identities", &q.cloud_server_ids);
                let c = joined(c, "instance_identities", &q.instance_ids);
                let c = joined(c, "instance_names", &q.names);
                let c = joined(c, "status", &q.statuses);
                with_tags(c, &q.tags)
            },
            "instances",
        )
        .await
    }

    /// `GetInstance`.
    pub async fn get_instance(&self, id: &str) -> HttpResult<Instance> {
        let mut r: Value = self
            .result(get("veen.instance.get", "GetInstance").query("instance_identity", id))
            .await?;
        decode(
            "veen.instance.get",
            r.get_mut("instance").map(Value::take).unwrap_or_default(),
        )
    }

    async fn batch(
        &self,
        op: &'static str,
        action: &str,
        ids: &[String],
        extra: Option<(&str, Value)>,
    ) -> HttpResult<()> {
        let mut body = json!({"instance_identities": ids});
        if let (Some((k, v)), Some(m)) = (extra, body.as_object_mut()) {
            m.insert(k.into(), v);
        }
        self.done(post(op, action, body, false)).await
    }

    /// `StartInstances` (instances must be `stop`).
    pub async fn start(&self, ids: &[String]) -> HttpResult<()> {
        self.batch("veen.instance.start", "StartInstances", ids, None)
            .await
    }

    /// `StopInstances` (instances must be `running`).
    pub async fn stop(&self, ids: &[String]) -> HttpResult<()> {
        self.batch("veen.instance.stop", "StopInstances", ids, None).await
    }

    /// `RebootInstances` (instances must be `running`).
    pub async fn reboot(&self, ids: &[String]) -> HttpResult<()> {
        self.batch("veen.instance.reboot", "RebootInstances", ids, None)
            .await
    }

    /// `OfflineInstances` (= delete); `ignore_running` also deletes running ones.
    pub async fn offline(&self, ids: &[String], ignore_running: bool) -> HttpResult<()> {
        self.batch(
            "veen.instance.offline",
            "OfflineInstances",
            ids,
            Some(("ignore_running", json!(ignore_running))),
        )
        .await
    }

    /// `SetInstanceName`.
    pub async fn rename(&self, id: &str, name: &str) -> HttpResult<()> {
        self.done(post(
            "veen.instance.rename",
            "SetInstanceName",
            json!({"instance_identity": id, "instance_name": name}),
            true,
        ))
        .await
    }

    /// `ListAvailableResourceInfo`: clusters offering `spec` with their free capacity.
    pub async fn available(&self, spec: &str) -> HttpResult<Vec<Value>> {
        let mut r: Value = self
            .result(get("veen.catalog.available", "ListAvailableResourceInfo").query("instance_type", spec))
            .await?;
        decode(
            "veen.catalog.available",
            r.get_mut("regions").map(Value::take).unwrap_or(json!([])),
        )
    }
}
