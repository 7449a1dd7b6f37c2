//! Shared helpers for integration tests that talk to a real Kubernetes API (the control plane started by
//! `cargo xtask test`, or the cluster of `KUBECONFIG`). Include with `mod support;` from a tests/*.rs file
//! and mark every test that needs the API `#[ignore = "needs cluster"]`.
//!
//! Everything is generic over kube [`Resource`]s, and conditions are read from the serialised object, so
//! the helpers work for any kind (built-in, typed custom resource or [`kube::api::DynamicObject`]).
//! Waiting is done by polling every [`POLL_INTERVAL`]; on timeout the error carries the last object seen.
//!
//! The submodules are the rest of the shared test scaffolding, one place for each (a file directly under
//! tests/ is a test binary, so helpers live here and every binary has tests):
//! [`harness`] (the controller tests' `Env`: namespace, emulator, ProviderConfig, in-process controllers),
//! [`quiescence`] (reconcile passes counted per object, and the one "passes with nothing to do are no-ops"
//! check), [`operator`] (the tests that run the real `edgefleet run` binary: `World`, `Operator`, `Proxy`)
//! and [`gitops`] (kstatus and Argo CD health verdicts).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod gitops;
pub mod harness;
pub mod operator;
pub mod quiescence;

use std::fmt::Debug;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How often the `wait_*` helpers poll the API.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Label put on every namespace made by [`TestNamespace`], so leftovers can be found in a shared cluster:
/// `kubectl delete namespace -l edgefleet.io/test=true`.
pub const TEST_LABEL: &str = "edgefleet.io/test";

/// How long [`TestNamespace::cleanup`] waits for the namespace to disappear.
pub const NAMESPACE_DELETE_TIMEOUT: Duration = Duration::from_secs(120);

/// Errors of the test helpers; every variant says what was being done to which object.
#[derive(Debug, thiserror::Error)]
pub enum SupportError {
    /// No client could be built from KUBECONFIG.
    #[error(
        "failed to build a Kubernetes client from KUBECONFIG (run the cluster tests via `cargo xtask test`)"
    )]
    Client(#[source] kube::Error),
    /// An API call failed.
    #[error("failed to {action} {resource} {name:?}")]
    Api {
        /// get, create, delete, ...
        action: &'static str,
        /// The resource URL (e.g. `/api/v1/namespaces/x/configmaps`).
        resource: String,
        /// The object name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A wait ran out of time; `last_seen` is the last object (as JSON) or the last error.
    #[error("timed out after {timeout:?} waiting for {resource} {name:?} to {what}; last seen: {last_seen}")]
    Timeout {
        /// The resource URL.
        resource: String,
        /// The object name.
        name: String,
        /// What was awaited.
        what: String,
        /// The time budget.
        timeout: Duration,
        /// The last object seen (JSON, without managedFields), "absent", or the last API error.
        last_seen: String,
    },
    /// `kubectl` could not be run or exited unsuccessfully.
    #[error("`kubectl {args}` failed: {detail}")]
    Kubectl {
        /// The arguments.
        args: String,
        /// Exit status and stderr, or the spawn error.
        detail: String,
    },
}

/// Result of the helpers.
pub type Result<T, E = SupportError> = std::result::Result<T, E>;

/// A client for the cluster named by `KUBECONFIG` (the test control plane under `cargo xtask test`).
pub async fn client() -> Result<Client> {
    Client::try_default().await.map_err(SupportError::Client)
}

/// A path inside the repository (tests run with the package root as `CARGO_MANIFEST_DIR`).
pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Runs `kubectl <args>` (the one on PATH, i.e. the matching version under `cargo xtask test`) with the
/// inherited KUBECONFIG; returns stdout.
pub async fn kubectl(args: &[&str]) -> Result<String> {
    let joined = args.join(" ");
    let out = tokio::process::Command::new("kubectl")
        .args(args)
        .output()
        .await
        .map_err(|e| SupportError::Kubectl {
            args: joined.clone(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(SupportError::Kubectl {
            args: joined,
            detail: format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A namespace `<prefix>-<random>` for one test, labelled [`TEST_LABEL`]. Call [`TestNamespace::cleanup`] at
/// the end of the test (a namespace left behind by a failed test disappears with the test control plane).
#[derive(Clone)]
pub struct TestNamespace {
    client: Client,
    name: String,
}

impl TestNamespace {
    /// Creates the namespace. `prefix` is lowercased and reduced to `[a-z0-9-]`.
    pub async fn new(client: &Client, prefix: &str) -> Result<Self> {
        let clean: String = prefix
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(50)
            .collect();
        let name = format!("{}-{:08x}", clean.trim_matches('-'), rand::random::<u32>());
        let api: Api<Namespace> = Api::all(client.clone());
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some([(TEST_LABEL.to_string(), "true".to_string())].into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        api.create(&PostParams::default(), &ns)
            .await
            .map_err(|source| SupportError::Api {
                action: "create",
                resource: api.resource_url().to_string(),
                name: name.clone(),
                source,
            })?;
        Ok(Self {
            client: client.clone(),
            name,
        })
    }

    /// The namespace name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client the namespace was made with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// An [`Api`] for a namespaced kind in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Deletes the namespace and waits (up to [`NAMESPACE_DELETE_TIMEOUT`]) until it is gone, which needs
    /// kube-controller-manager's namespace controller (the test control plane runs it).
    pub async fn cleanup(self) -> Result<()> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        delete(&api, &self.name).await?;
        wait_deleted(&api, &self.name, NAMESPACE_DELETE_TIMEOUT).await
    }
}

/// Deletes `name` (background propagation); NotFound counts as success.
pub async fn delete<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(SupportError::Api {
            action: "delete",
            resource: api.resource_url().to_string(),
            name: name.to_string(),
            source,
        }),
    }
}

/// Polls `name` until `predicate` holds and returns that object. Missing objects and transient API errors
/// are retried; on timeout the error names the last object seen (or the last error).
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    predicate: impl Fn(&K) -> bool,
) -> Result<K>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    wait_for_described(api, name, timeout, "satisfy the predicate", predicate).await
}

async fn wait_for_described<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    what: &str,
    predicate: impl Fn(&K) -> bool,
) -> Result<K>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last_seen = match api.get_opt(name).await {
            Ok(Some(obj)) if predicate(&obj) => return Ok(obj),
            Ok(Some(obj)) => describe(&obj),
            Ok(None) => "absent".to_string(),
            Err(e) => format!("API error: {e}"),
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(SupportError::Timeout {
                resource: api.resource_url().to_string(),
                name: name.to_string(),
                what: what.to_string(),
                timeout,
                last_seen,
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Waits until `status.conditions[type == condition_type].status == status` (read from the serialised
/// object, so it works for any kind) and returns the object.
pub async fn wait_for_condition<K>(
    api: &Api<K>,
    name: &str,
    condition_type: &str,
    status: &str,
    timeout: Duration,
) -> Result<K>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let what = format!("have condition {condition_type}={status}");
    wait_for_described(api, name, timeout, &what, |obj| {
        condition_status(obj, condition_type).as_deref() == Some(status)
    })
    .await
}

/// Polls until `name` no longer exists (NotFound).
pub async fn wait_deleted<K>(api: &Api<K>, name: &str, timeout: Duration) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last_seen = match api.get_opt(name).await {
            Ok(None) => return Ok(()),
            Ok(Some(obj)) => describe(&obj),
            Err(e) => format!("API error: {e}"),
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(SupportError::Timeout {
                resource: api.resource_url().to_string(),
                name: name.to_string(),
                what: "be deleted".to_string(),
                timeout,
                last_seen,
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The condition of type `condition_type` in `status.conditions`, as JSON.
pub fn condition<K: Serialize>(obj: &K, condition_type: &str) -> Option<serde_json::Value> {
    let json = serde_json::to_value(obj).ok()?;
    json.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(|t| t.as_str()) == Some(condition_type))
        .cloned()
}

/// The `status` ("True", "False", "Unknown") of the condition of type `condition_type`.
pub fn condition_status<K: Serialize>(obj: &K, condition_type: &str) -> Option<String> {
    condition(obj, condition_type)?
        .get("status")?
        .as_str()
        .map(str::to_string)
}

/// Compact JSON of an object without `metadata.managedFields`, cut at 4000 characters.
fn describe<K: Serialize + Debug>(obj: &K) -> String {
    let text = match serde_json::to_value(obj) {
        Ok(mut json) => {
            if let Some(meta) = json.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                meta.remove("managedFields");
            }
            json.to_string()
        }
        Err(_) => format!("{obj:?}"),
    };
    match text.char_indices().nth(4000) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
