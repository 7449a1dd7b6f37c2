//! The typed Luchen calls over the shared request pipeline, authenticated by the account's
//! [`Session`](super::session::Session) (the `AccessToken` cookie; a rejected logged-in token is renewed
//! once by the pipeline), failures read by [`super::errors::from_failure`]. Every call is a POST with
//! a JSON body below the endpoint's `api/`; the list pages by `pager{currentPage,pageSize}` in the body
//! (1-based pages, to the reported `totalEntries`). There is no get-one call: the list is the only read.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use super::errors::{self, NOT_LOGGED_IN_CODE};
use super::types::{CreateInstance, Created, Instance, InstanceList, InstanceRef};
use crate::provider::error::{ErrorDetail, ProviderError};
use crate::provider::http::paging::MAX_PAGES;
use crate::provider::http::{Call, HttpResult, Pipeline, decode};
use crate::provider::metrics::ObservationSource;

/// Rows per list page (the emulator clamps larger pages to 100; the real limit is undocumented).
pub const PAGE_SIZE: u64 = 100;

/// The Luchen client of one account.
#[derive(Debug)]
pub struct LuchenClient {
    http: Pipeline,
    session: Arc<super::session::Session>,
}

fn body<T: Serialize>(op: &str, value: &T) -> HttpResult<Value> {
    serde_json::to_value(value).map_err(|e| ProviderError::configuration(op, format!("encode: {e}")))
}

/// A 2xx answer that is the not-logged-in body (`{"code":-1,...}`) is a refusal, not data: read as
/// data it would be an empty list.
fn refused_in_2xx(op: &str, v: &Value) -> HttpResult<()> {
    let code = v.get("code").map(|c| match c {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    if code.as_deref() == Some(NOT_LOGGED_IN_CODE) {
        return Err(ProviderError::Unauthorized {
            detail: ErrorDetail {
                operation: op.to_owned(),
                status: None,
                code,
                message: v
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                request_id: None,
            },
        });
    }
    Ok(())
}

impl LuchenClient {
    /// A client sending through `http`, whose authenticator is `session`.
    pub fn new(http: Pipeline, session: Arc<super::session::Session>) -> Self {
        Self { http, session }
    }

    /// The account's session (the login counter, whether it logs in).
    pub fn session(&self) -> &super::session::Session {
        &self.session
    }

    /// Counts one drift-poll observation of an instance answered by `source`.
    pub fn count_observation(&self, source: ObservationSource) {
        self.http.count_observation("instance", source);
    }

    async fn post(&self, call: Call) -> HttpResult<Value> {
        let op = call.op;
        let v = self.http.execute(call).await?.body;
        refused_in_2xx(op, &v)?;
        Ok(v)
    }

    /// Logs in now (Password credentials; the cached token is used if still fresh). The credential
    /// probe of a Password account.
    pub async fn login(&self) -> HttpResult<()> {
        self.session.current().await.map(|_| ())
    }

    /// `POST /api/instance/create`. Not retried after a lost answer (no idempotency token exists: the
    /// caller finds the instance by its name); a throttled call is (it was never processed).
    pub async fn create(&self, req: &CreateInstance) -> HttpResult<String> {
        const OP: &str = "luchen.instance.create";
        let v = self
            .post(Call::post(OP, "api/instance/create", Some(body(OP, req)?)))
            .await?;
        let created: Created = decode(OP, v)?;
        if created.instance_id.is_empty() {
            return Err(ProviderError::Protocol {
                detail: ErrorDetail::local(OP, "the create answer has no instanceId"),
            });
        }
        Ok(created.instance_id)
    }

    /// One page of the list (1-based).
    async fn page(&self, op: &'static str, page: u64, size: u64) -> HttpResult<InstanceList> {
        let mut call = Call::post(
            op,
            "api/instance/list",
            Some(json!({"pager": {"currentPage": page, "pageSize": size}})),
        );
        call.idempotent = true;
        decode(op, self.post(call).await?)
    }

    /// `POST /api/instance/list`, every page (stops at `totalEntries`, a short or empty page).
    pub async fn list(&self) -> HttpResult<Vec<Instance>> {
        const OP: &str = "luchen.instance.list";
        let mut out = Vec::new();
        for page in 1..=u64::from(MAX_PAGES) {
            let got = self.page(OP, page, PAGE_SIZE).await?;
            let n = got.instances.len() as u64;
            out.extend(got.instances);
            let done =
                n == 0 || n < PAGE_SIZE || got.pager.total_entries.is_some_and(|t| out.len() as u64 >= t);
            if done {
                break;
            }
        }
        Ok(out)
    }

    /// One row of the list: the cheapest authenticated call (the probe of a Token account).
    pub async fn probe_list(&self) -> HttpResult<()> {
        self.page("luchen.probe", 1, 1).await.map(|_| ())
    }

    async fn act(&self, op: &'static str, path: &'static str, id: &str, idempotent: bool) -> HttpResult<()> {
        let mut call = Call::post(op, path, Some(body(op, &InstanceRef { instance_id: id })?));
        call.idempotent = idempotent;
        self.post(call).await.map(|_| ())
    }

    /// `POST /api/instance/stop` (from Running).
    pub async fn stop(&self, id: &str) -> HttpResult<()> {
        self.act("luchen.instance.stop", "api/instance/stop", id, false)
            .await
    }

    /// `POST /api/instance/start` (from Stopped, StartingFailed or Archived; served like the documented
    /// calls, not documented itself).
    pub async fn start(&self, id: &str) -> HttpResult<()> {
        self.act("luchen.instance.start", "api/instance/start", id, false)
            .await
    }

    /// `POST /api/instance/restart` (from Running; not documented, served like stop).
    pub async fn restart(&self, id: &str) -> HttpResult<()> {
        self.act("luchen.instance.restart", "api/instance/restart", id, false)
            .await
    }

    /// `POST /api/instance/terminate` (= delete). Retried after a transient failure: a repeat of a
    /// terminate that took effect answers `ent: instance not found`, which the caller takes as done.
    pub async fn terminate(&self, id: &str) -> HttpResult<()> {
        self.act("luchen.instance.terminate", "api/instance/terminate", id, true)
            .await
    }
}

/// Whether `err` is the cloud saying the instance does not exist.
pub fn is_gone(err: &ProviderError) -> bool {
    err.is_not_found() && err.detail().message == errors::INSTANCE_NOT_FOUND
}
