//! Shared harness of the controller tests (`tests/controller_*.rs` and `tests/gitops_health.rs`: `mod
//! support;` then `use support::harness::*;`).
//!
//! [`Env`] gives one test: its own namespace, an in-process emulator on 127.0.0.1:0, a credentials
//! Secret, a uniquely named and labelled ProviderConfig pointing at the emulator, and the controllers
//! (ProviderConfig, Vpc, SecurityGroup) running in-process as a tokio task scoped to that namespace and
//! label — so tests run in parallel in one process without reconciling each other's objects. The
//! controllers can be stopped abruptly ([`Env::crash_controllers`]) and started afresh to test restarts.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use edgefleet::api::common::SecretRef;
use edgefleet::api::provider_config::{
    Credentials, CredentialsType, ProviderConfig, ProviderConfigSpec, ProviderEndpoints, ProviderType,
    RateLimit,
};
use edgefleet::controller::runtime::BackoffConfig;
use edgefleet::controller::{Context, ControllerConfig, run_all};
use edgefleet::operator::Metrics;
use edgefleet::provider::{
    Credentials as ProviderCredentials, Provider, ProviderKind, ProviderMetrics, ProviderRegistry,
    ProviderSettings,
};
use edgefleet_emulator::{Config as EmulatorConfig, Faults, ServerHandle};
use futures::StreamExt as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};

/// Label key selecting one test's objects.
pub const RUN_LABEL: &str = "edgefleet.io/test-run";
/// Generous upper bound for a wait (never asserted as a duration).
pub const WAIT: Duration = Duration::from_secs(90);
/// The emulator account's domain id.
pub const DOMAIN: &str = edgefleet_emulator::config::DEFAULT_DOMAIN_ID;

/// One controller test's world.
pub struct Env {
    /// Kubernetes client.
    pub client: Client,
    /// The test namespace.
    pub ns: TestNamespace,
    /// The emulator.
    pub emulator: Option<ServerHandle>,
    /// ProviderConfig name (= namespace name).
    pub pc: String,
    /// Secret name (in the test namespace).
    pub secret: String,
    /// The controllers' configuration.
    pub config: ControllerConfig,
    /// Metrics shared by the controllers.
    pub metrics: Metrics,
    controllers: Option<(JoinHandle<()>, watch::Sender<bool>)>,
}

fn labels(ns: &str) -> BTreeMap<String, String> {
    [(RUN_LABEL.to_owned(), ns.to_owned())].into()
}

impl Env {
    /// Namespace, emulator (with `faults`), Secret, ProviderConfig; controllers started.
    pub async fn start(prefix: &str, faults: Faults) -> Env {
        let config = EmulatorConfig {
            faults,
            ..EmulatorConfig::default()
        };
        Self::start_with(prefix, config).await
    }

    /// As [`Env::start`], with an emulator of this configuration (catalog, quotas, faults).
    pub async fn start_with(prefix: &str, config: EmulatorConfig) -> Env {
        super::quiescence::install();
        let client = client().await.unwrap();
        let ns = TestNamespace::new(&client, prefix).await.unwrap();
        let (_, emulator) = edgefleet_emulator::serve(config).await.unwrap();
        let pc = ns.name().to_owned();
        let secret = "iec-credentials".to_owned();
        let env_config = ControllerConfig {
            namespace: Some(ns.name().to_owned()),
            label_selector: Some(format!("{RUN_LABEL}={}", ns.name())),
            concurrency: 4,
            poll_interval: Some(Duration::from_secs(3)),
            pending_interval: Some(Duration::from_millis(500)),
            backoff: BackoffConfig {
                base: Duration::from_millis(200),
                max: Duration::from_secs(3),
            },
            recovery_grace: Duration::from_secs(3),
            stalled_recheck: Duration::from_secs(5),
        };
        let mut env = Env {
            client,
            ns,
            emulator: Some(emulator),
            pc,
            secret,
            config: env_config,
            metrics: Metrics::register(&mut prometheus_client::registry::Registry::default()),
            controllers: None,
        };
        env.put_secret(
            edgefleet_emulator::config::DEFAULT_AK,
            edgefleet_emulator::config::DEFAULT_SK,
        )
        .await;
        env.create_provider_config().await;
        env.start_controllers();
        env
    }

    /// The emulator.
    pub fn emu(&self) -> &ServerHandle {
        self.emulator.as_ref().unwrap()
    }

    /// The object metadata for a test object: name, namespace, the run label.
    pub fn meta(&self, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(self.ns.name().to_owned()),
            labels: Some(labels(self.ns.name())),
            ..ObjectMeta::default()
        }
    }

    /// Creates or replaces the credentials Secret.
    pub async fn put_secret(&self, ak: &str, sk: &str) {
        self.put_secret_named(&self.secret, &[("accessKey", ak), ("secretKey", sk)])
            .await;
    }

    /// Creates or replaces a Secret in the test namespace with exactly these keys.
    pub async fn put_secret_named(&self, name: &str, pairs: &[(&str, &str)]) {
        let api: Api<Secret> = self.ns.api();
        let data: BTreeMap<String, ByteString> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
            .collect();
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..Secret::default()
        };
        api.patch(
            name,
            &PatchParams::apply("edgefleet-test").force(),
            &Patch::Apply(&secret),
        )
        .await
        .unwrap();
    }

    async fn create_provider_config(&self) {
        self.create_extra_provider_config(&self.pc, &self.secret).await;
    }

    /// Creates another ProviderConfig (selected by this test's controllers) for the emulator account,
    /// reading credentials from `secret` in the test namespace.
    pub async fn create_extra_provider_config(&self, name: &str, secret: &str) {
        self.create_provider_config_for(ProviderType::Iec, name, secret)
            .await;
    }

    /// A ProviderConfig `name` of `cloud` on this test's emulator (its listener for that cloud; IEC
    /// with the emulator's domain), credentials from Secret `secret` in the test namespace, labelled
    /// for the run, polling every 10 s (pending: 1 s).
    pub async fn create_provider_config_for(&self, cloud: ProviderType, name: &str, secret: &str) {
        let api: Api<ProviderConfig> = Api::all(self.client.clone());
        let (domain_id, endpoints) = match cloud {
            ProviderType::Veen => (
                None,
                ProviderEndpoints {
                    veen: self.emu().url_of("veen"),
                    ..ProviderEndpoints::default()
                },
            ),
            // ModelArts, its billing (BSS) and IAM (the project lookup) on the modelarts listener.
            ProviderType::ModelArts => (
                None,
                ProviderEndpoints {
                    model_arts: self.emu().url_of("modelarts"),
                    bss: self.emu().url_of("modelarts"),
                    iam: self.emu().url_of("modelarts"),
                    ..ProviderEndpoints::default()
                },
            ),
            // Luchen logs in (Password) on its own listener.
            ProviderType::Luchen => (
                None,
                ProviderEndpoints {
                    luchen: self.emu().url_of("luchen"),
                    ..ProviderEndpoints::default()
                },
            ),
            // Workspace and IAM (the project lookup) on the workspace listener.
            ProviderType::Workspace => (
                None,
                ProviderEndpoints {
                    workspace: self.emu().url_of("workspace"),
                    iam: self.emu().url_of("workspace"),
                    ..ProviderEndpoints::default()
                },
            ),
            _ => (
                Some(DOMAIN.to_owned()),
                ProviderEndpoints {
                    iec: Some(self.emu().url()),
                    iam: Some(self.emu().url()),
                    ..ProviderEndpoints::default()
                },
            ),
        };
        let mut pc = ProviderConfig::new(
            name,
            ProviderConfigSpec {
                provider: cloud,
                // ModelArts and Workspace need the region (endpoint and project); the emulator's is
                // cn-north-4.
                region: matches!(cloud, ProviderType::ModelArts | ProviderType::Workspace)
                    .then(|| "cn-north-4".to_owned()),
                project_id: None,
                domain_id,
                domain_name: None,
                endpoints: Some(endpoints),
                credentials: Credentials {
                    secret_ref: SecretRef {
                        name: secret.to_owned(),
                        namespace: self.ns.name().to_owned(),
                    },
                    // Luchen has no AK/SK: its Secret holds a user name and password.
                    type_: if cloud == ProviderType::Luchen {
                        CredentialsType::Password
                    } else {
                        CredentialsType::AkSk
                    },
                },
                rate_limit: RateLimit { qps: 50, burst: 100 },
                poll_interval: "10s".into(),
                pending_poll_interval: "1s".into(),
            },
        );
        pc.metadata.labels = Some(labels(self.ns.name()));
        api.create(&PostParams::default(), &pc).await.unwrap();
    }

    /// A fresh context (new registry, recorder, backoff: what a restarted operator has).
    pub fn context(&self) -> Arc<Context> {
        let registry = Arc::new(ProviderRegistry::new(ProviderMetrics::new()));
        Arc::new(Context::new(
            self.client.clone(),
            registry,
            self.metrics.clone(),
            self.config.clone(),
            None,
        ))
    }

    /// Starts the controllers as a tokio task.
    pub fn start_controllers(&mut self) {
        assert!(self.controllers.is_none(), "controllers already running");
        let (tx, mut rx) = watch::channel(false);
        let shutdown = async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let task = tokio::spawn(run_all(self.context(), self.config.clone(), shutdown));
        self.controllers = Some((task, tx));
    }

    /// Aborts the controllers mid-flight (a crash: no graceful drain).
    pub async fn crash_controllers(&mut self) {
        if let Some((task, _tx)) = self.controllers.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Stops the controllers gracefully.
    pub async fn stop_controllers(&mut self) {
        if let Some((task, tx)) = self.controllers.take() {
            let _ = tx.send(true);
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
    }

    /// Replaces the emulator's faults.
    pub fn set_faults(&self, faults: Faults) {
        self.emu().app().set_faults(faults).unwrap();
    }

    /// The records of one emulator table (e.g. `iec.vpc`) of the default account, invisible ones included.
    pub fn cloud(&self, kind: &str) -> Vec<serde_json::Value> {
        self.emu().state()["accounts"][DOMAIN]["tables"][kind]
            .as_array()
            .map(|rows| rows.iter().map(|row| row["value"].clone()).collect())
            .unwrap_or_default()
    }

    /// The crash of a create in flight: waits (up to [`WAIT`]) until the emulator's table `kind` holds a
    /// row (the create reached the cloud), then kills the controllers, clears the faults (with `seed`)
    /// and starts fresh ones, which must recover what the dead ones left.
    pub async fn crash_once_created(&mut self, kind: &str, seed: u64) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.cloud(kind).is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the create never reached the cloud ({kind})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.crash_controllers().await;
        self.set_faults(Faults {
            seed,
            ..Faults::default()
        });
        self.start_controllers();
    }

    /// A cloud client of the test account (for out-of-band changes, as a person with console access).
    pub fn cloud_client(&self) -> Arc<dyn Provider> {
        let mut settings = ProviderSettings::new(
            ProviderKind::Iec,
            format!("{}-out-of-band", self.pc),
            ProviderCredentials::AkSk {
                access_key: edgefleet_emulator::config::DEFAULT_AK.to_owned(),
                secret_key: edgefleet_emulator::config::DEFAULT_SK.into(),
                security_token: None,
            },
        );
        settings.endpoints.api = Some(self.emu().url());
        settings.endpoints.iam = Some(self.emu().url());
        settings.domain_id = Some(DOMAIN.to_owned());
        // A person at the console is not held to the operator's budget (tests fill quotas with it).
        settings.rate = edgefleet::provider::RateBudget {
            qps: 1000.0,
            burst: 1000,
        };
        ProviderRegistry::new(ProviderMetrics::new())
            .get_or_build(&settings)
            .unwrap()
    }

    /// Waits until `n` reconcile passes of the `K` named `name` (in the test namespace) that start after
    /// this call have finished: "the controller has looked again `n` times" (see [`super::quiescence`]).
    pub async fn wait_passes<K: Resource<DynamicType = ()>>(&self, name: &str, n: u64) {
        super::quiescence::wait_passes(&K::kind(&()), self.ns.name(), name, n).await;
    }

    /// Successful cloud mutations so far.
    pub fn mutations(&self) -> u64 {
        self.emu().calls().total_mutations
    }

    /// Deletes everything the test made (objects first, so finalizers run while the controllers still
    /// run), then the ProviderConfig, the controllers, the namespace and the emulator.
    pub async fn teardown(mut self) {
        let pcs: Api<ProviderConfig> = Api::all(self.client.clone());
        let _ = delete(&pcs, &self.pc).await;
        let _ = wait_deleted(&pcs, &self.pc, WAIT).await;
        self.stop_controllers().await;
        let _ = self.ns.clone().cleanup().await;
        if let Some(e) = self.emulator.take() {
            let _ = e.shutdown().await;
        }
    }
}

/// The id of the emulator catalog's first site (where the tests place their VPC subnets and instances).
pub fn site() -> String {
    edgefleet_emulator::iec::catalog::Catalog::default().sites[0]
        .id
        .clone()
}

/// Waits until `name` is `Ready=True` for its current spec (`status.observedGeneration` equals
/// `metadata.generation`), and returns it.
pub async fn ready<K>(api: &Api<K>, name: &str) -> K
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    wait_for(api, name, WAIT, |o: &K| {
        has(o, edgefleet::api::condition::READY, "True") && observed_current(o)
    })
    .await
    .unwrap()
}

/// Waits until the EdgeCloud `name` is Ready with `n` members, all ready and updated, for its current
/// generation, and returns it.
pub async fn fleet_converged(
    api: &Api<edgefleet::api::edge_cloud::EdgeCloud>,
    name: &str,
    n: i32,
) -> edgefleet::api::edge_cloud::EdgeCloud {
    wait_for(api, name, WAIT, |ec: &edgefleet::api::edge_cloud::EdgeCloud| {
        ec.status.as_ref().is_some_and(|s| {
            s.observed_generation == ec.metadata.generation
                && s.replicas == n
                && s.ready_replicas == n
                && s.updated_replicas == n
        }) && has(ec, edgefleet::api::condition::READY, "True")
    })
    .await
    .unwrap()
}

/// The member EdgeInstances of the EdgeCloud `name` (labelled with it), deleting ones included.
pub async fn fleet_members(env: &Env, name: &str) -> Vec<edgefleet::api::edge_instance::EdgeInstance> {
    let api: Api<edgefleet::api::edge_instance::EdgeInstance> = env.ns.api();
    let selector = format!("{}={name}", edgefleet::api::EDGE_CLOUD_LABEL);
    api.list(&kube::api::ListParams::default().labels(&selector))
        .await
        .unwrap()
        .items
}

/// Waits until the EdgeCloud `name` has exactly `n` member EdgeInstances not being deleted (the mirrors of
/// its cloud members), and returns them.
pub async fn mirrored(env: &Env, name: &str, n: usize) -> Vec<edgefleet::api::edge_instance::EdgeInstance> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ms: Vec<_> = fleet_members(env, name)
            .await
            .into_iter()
            .filter(|m| m.metadata.deletion_timestamp.is_none())
            .collect();
        if ms.len() == n {
            return ms;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} members of {name}, have {}",
            ms.len()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Whether the status was written for the object's current generation.
pub fn observed_current<K: Resource + Serialize>(obj: &K) -> bool {
    let observed = serde_json::to_value(obj).ok().and_then(|v| {
        v.pointer("/status/observedGeneration")
            .and_then(serde_json::Value::as_i64)
    });
    observed == obj.meta().generation
}

/// Creates `obj` in its namespace.
pub async fn create<K>(api: &Api<K>, obj: &K) -> K
where
    K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    api.create(&PostParams::default(), obj).await.unwrap()
}

/// Merge-patches `patch` into `name`.
pub async fn merge<K>(api: &Api<K>, name: &str, patch: serde_json::Value) -> K
where
    K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap()
}

/// The condition's reason.
pub fn reason_of<K: Serialize>(obj: &K, t: &str) -> String {
    condition(obj, t)
        .and_then(|c| c.get("reason").and_then(|r| r.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

/// The condition's message.
pub fn message_of<K: Serialize>(obj: &K, t: &str) -> String {
    condition(obj, t)
        .and_then(|c| c.get("message").and_then(|r| r.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

/// Whether the condition has this status.
pub fn has<K: Serialize>(obj: &K, t: &str, status: &str) -> bool {
    condition_status(obj, t).as_deref() == Some(status)
}

/// Whether the condition has this status and reason.
pub fn has_reason<K: Serialize>(obj: &K, t: &str, status: &str, reason: &str) -> bool {
    has(obj, t, status) && reason_of(obj, t) == reason
}

/// Every version of `name` the apiserver reports from now on (one per write), until the task is aborted.
pub fn record_versions<K>(api: &Api<K>, name: &str) -> (Arc<Mutex<Vec<K>>>, AbortHandle)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let stream = watcher(api.clone(), config).applied_objects();
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(Ok(o)) = stream.next().await {
            let mut seen = sink.lock().unwrap();
            if seen
                .last()
                .is_none_or(|l: &K| l.resource_version() != o.resource_version())
            {
                seen.push(o);
            }
        }
    });
    (seen, task.abort_handle())
}

/// Fills one of the account's quotas out of band: calls `create(i)` for i = 0, 1, ... until the cloud
/// answers QuotaExceeded, and returns the ids made (to free quota later). At most `limit` creates.
pub async fn fill_quota<F, Fut>(limit: usize, mut create: F) -> Vec<String>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = edgefleet::provider::ProviderResult<String>>,
{
    let mut ids = Vec::new();
    for i in 0..limit {
        match create(i).await {
            Ok(id) => ids.push(id),
            Err(edgefleet::provider::ProviderError::QuotaExceeded { .. }) => return ids,
            Err(e) => panic!("filling the quota: {e}"),
        }
    }
    panic!("the quota was not reached after {limit} creates")
}
