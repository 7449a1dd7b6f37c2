//! Shared harness of the tests that run the real `edgefleet run` binary (`tests/operator_*.rs`: `mod
//! support;` then `use support::operator::{..};`).
//!
//! [`World`] gives one test its namespace, an in-process emulator on 127.0.0.1:0, a credentials Secret and a
//! ProviderConfig (named after the namespace, labelled with the test's run label) pointing at the emulator;
//! [`World::samples`] turns deploy/samples/ into objects of this test (namespace, label, ProviderConfig
//! rewritten) for the kinds that have a controller; [`Operator`] runs `edgefleet run` as a child process
//! scoped to the namespace and label, with its /readyz and /metrics at hand; [`Proxy`] puts a recording,
//! optionally impersonating and request-holding proxy between such an operator and the API server.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine as _;
use edgefleet::api::common::SecretRef;
use edgefleet::api::provider_config::{
    Credentials, CredentialsType, ProviderConfig, ProviderConfigSpec, ProviderEndpoints, ProviderType,
    RateLimit,
};
use edgefleet_emulator::{Config as EmulatorConfig, Faults, ServerHandle};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, ObjectMeta, PostParams};
use kube::{Client, Resource};

/// Label key selecting one test's objects (the operator runs with `--label-selector <RUN_LABEL>=<ns>`).
pub const RUN_LABEL: &str = "edgefleet.io/test-run";
/// Generous bound for a wait (never asserted as a duration).
pub const WAIT: Duration = Duration::from_secs(180);

/// One test's world: namespace, emulator, credentials, ProviderConfig.
pub struct World {
    /// Admin client.
    pub client: Client,
    /// The test namespace.
    pub ns: TestNamespace,
    /// The emulator (in this test process; the operators reach it over loopback HTTP).
    pub emulator: ServerHandle,
    /// The ProviderConfig's name (= the namespace name).
    pub pc: String,
}

impl World {
    /// Namespace, emulator (with `faults`), Secret and ProviderConfig.
    pub async fn start(prefix: &str, faults: Faults) -> World {
        let client = client().await.unwrap();
        let ns = TestNamespace::new(&client, prefix).await.unwrap();
        let (_, emulator) = edgefleet_emulator::serve(EmulatorConfig {
            faults,
            ..EmulatorConfig::default()
        })
        .await
        .unwrap();
        let world = World {
            client,
            pc: ns.name().to_owned(),
            ns,
            emulator,
        };
        world.create_credentials().await;
        world
    }

    /// The run label value (the namespace name).
    pub fn label_selector(&self) -> String {
        format!("{RUN_LABEL}={}", self.ns.name())
    }

    fn labels(&self) -> BTreeMap<String, String> {
        [(RUN_LABEL.to_owned(), self.ns.name().to_owned())].into()
    }

    async fn create_credentials(&self) {
        let secrets: Api<Secret> = self.ns.api();
        let data: BTreeMap<String, ByteString> = [
            ("accessKey", edgefleet_emulator::config::DEFAULT_AK),
            ("secretKey", edgefleet_emulator::config::DEFAULT_SK),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
        .collect();
        secrets
            .create(
                &PostParams::default(),
                &Secret {
                    metadata: ObjectMeta {
                        name: Some("iec-credentials".into()),
                        ..ObjectMeta::default()
                    },
                    data: Some(data),
                    ..Secret::default()
                },
            )
            .await
            .unwrap();
        let mut pc = ProviderConfig::new(
            &self.pc,
            ProviderConfigSpec {
                provider: ProviderType::Iec,
                region: None,
                project_id: None,
                domain_id: Some(edgefleet_emulator::config::DEFAULT_DOMAIN_ID.to_owned()),
                domain_name: None,
                endpoints: Some(ProviderEndpoints {
                    iec: Some(self.emulator.url()),
                    iam: Some(self.emulator.url()),
                    ..ProviderEndpoints::default()
                }),
                credentials: Credentials {
                    secret_ref: SecretRef {
                        name: "iec-credentials".into(),
                        namespace: self.ns.name().to_owned(),
                    },
                    type_: CredentialsType::AkSk,
                },
                rate_limit: RateLimit { qps: 50, burst: 100 },
                poll_interval: "30s".into(),
                pending_poll_interval: "1s".into(),
            },
        );
        pc.metadata.labels = Some(self.labels());
        Api::<ProviderConfig>::all(self.client.clone())
            .create(&PostParams::default(), &pc)
            .await
            .unwrap();
    }

    /// deploy/samples/ as objects of this test, for the kinds in `kinds` (plus the Secrets they use): put
    /// in the test namespace, labelled with the run label, referring to this test's ProviderConfig. The
    /// sample ProviderConfig and its Secret are replaced by the test's own.
    pub fn samples(&self, kinds: &[&str]) -> Vec<(ApiResource, DynamicObject)> {
        let mut objects = Vec::new();
        for file in ["vpc", "securitygroup", "edgeinstance", "edgecloud"] {
            let path = repo_path(&format!("deploy/samples/{file}.yaml"));
            let text = std::fs::read_to_string(&path).unwrap();
            let documents: Vec<serde_json::Value> = serde_yaml_ng::Deserializer::from_str(&text)
                .map(|d| serde::Deserialize::deserialize(d).unwrap())
                .collect();
            let wanted = documents
                .iter()
                .any(|d| kinds.contains(&d["kind"].as_str().unwrap_or_default()));
            if !wanted {
                continue;
            }
            for mut document in documents {
                let kind = document["kind"].as_str().unwrap_or_default().to_owned();
                if kind != "Secret" && !kinds.contains(&kind.as_str()) {
                    continue;
                }
                document["metadata"]["namespace"] = self.ns.name().into();
                document["metadata"]["labels"] = serde_json::to_value(self.labels()).unwrap();
                if document["spec"]["providerConfigRef"].is_object() {
                    document["spec"]["providerConfigRef"]["name"] = self.pc.clone().into();
                }
                let object: DynamicObject = serde_json::from_value(document).unwrap();
                objects.push((api_resource(&kind), object));
            }
        }
        objects
    }

    /// Creates `objects` in order.
    pub async fn create_all(&self, objects: &[(ApiResource, DynamicObject)]) {
        for (resource, object) in objects {
            let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), self.ns.name(), resource);
            api.create(&PostParams::default(), object)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "failed to create {} {}: {e}",
                        resource.kind,
                        object.metadata.name.clone().unwrap_or_default()
                    )
                });
        }
    }

    /// Waits until every edgefleet object of `objects` is Ready=True.
    pub async fn wait_ready(&self, objects: &[(ApiResource, DynamicObject)], timeout: Duration) {
        for (resource, object) in objects.iter().filter(|(r, _)| r.group == "edgefleet.io") {
            let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), self.ns.name(), resource);
            let name = object.metadata.name.clone().unwrap();
            wait_for_condition(&api, &name, "Ready", "True", timeout)
                .await
                .unwrap_or_else(|e| panic!("{} {name} never became Ready: {e}", resource.kind));
        }
    }

    /// Deletes the edgefleet objects of `objects` (newest first) and waits until they are gone (the
    /// operator's finalizers delete the cloud objects first).
    pub async fn delete_all(&self, objects: &[(ApiResource, DynamicObject)], timeout: Duration) {
        let edgefleet: Vec<&(ApiResource, DynamicObject)> = objects
            .iter()
            .filter(|(r, _)| r.group == "edgefleet.io")
            .collect();
        for (resource, object) in edgefleet.iter().rev() {
            let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), self.ns.name(), resource);
            delete(&api, &object.metadata.name.clone().unwrap())
                .await
                .unwrap();
        }
        for (resource, object) in edgefleet.iter().rev() {
            let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), self.ns.name(), resource);
            let name = object.metadata.name.clone().unwrap();
            wait_deleted(&api, &name, timeout)
                .await
                .unwrap_or_else(|e| panic!("{} {name} was not deleted: {e}", resource.kind));
        }
    }

    /// Rows of the emulator's table `kind` (e.g. `iec.vpc`) in the built-in account.
    pub fn cloud_rows(&self, kind: &str) -> Vec<serde_json::Value> {
        let state = self.emulator.state();
        state["accounts"][edgefleet_emulator::config::DEFAULT_DOMAIN_ID]["tables"][kind]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Deletes the ProviderConfig and waits until the operator's finalizer let it go (call while an
    /// operator still leads).
    pub async fn delete_provider_config(&self) {
        let pcs: Api<ProviderConfig> = Api::all(self.client.clone());
        delete(&pcs, &self.pc).await.unwrap();
        wait_deleted(&pcs, &self.pc, WAIT).await.unwrap();
    }

    /// Deletes the namespace (after [`World::delete_provider_config`]).
    pub async fn cleanup(self) {
        self.ns.cleanup().await.unwrap();
    }
}

/// The `ApiResource` of an edgefleet kind or a Secret.
pub fn api_resource(kind: &str) -> ApiResource {
    use edgefleet::api::{
        edge_cloud::EdgeCloud, edge_instance::EdgeInstance, security_group::SecurityGroup, vpc::Vpc,
    };
    match kind {
        "Vpc" => ApiResource::erase::<Vpc>(&()),
        "SecurityGroup" => ApiResource::erase::<SecurityGroup>(&()),
        "EdgeInstance" => ApiResource::erase::<EdgeInstance>(&()),
        "EdgeCloud" => ApiResource::erase::<EdgeCloud>(&()),
        "Secret" => ApiResource::erase::<Secret>(&()),
        other => panic!("no ApiResource for {other}"),
    }
}

/// The kinds of `edgefleet::controller::CONTROLLERS` except the ProviderConfig (the test makes its own).
pub fn sample_kinds() -> Vec<&'static str> {
    edgefleet::controller::controlled_kinds()
        .into_iter()
        .filter(|k| *k != <ProviderConfig as Resource>::kind(&()))
        .collect()
}

/// A running `edgefleet run` process.
pub struct Operator {
    /// Its `--leader-election-identity`.
    pub identity: String,
    /// Port of /healthz, /readyz, /metrics.
    pub port: u16,
    /// stdout+stderr.
    pub log: PathBuf,
    child: Child,
}

/// A free loopback port (bound and released at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Operator {
    /// Starts `edgefleet run` scoped to `world` (namespace, label), electing a leader on the Lease
    /// `lease` in the test namespace with the default timings, plus `extra` arguments.
    pub fn spawn(world: &World, identity: &str, lease: &str, extra: &[&str]) -> Operator {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("edgefleet-{}-{identity}.log", world.ns.name()));
        let file = std::fs::File::create(&log).unwrap();
        let mut args: Vec<String> = [
            "run",
            "--http-addr",
            &format!("127.0.0.1:{port}"),
            "--watch-namespace",
            world.ns.name(),
            "--label-selector",
            &world.label_selector(),
            "--leader-election-namespace",
            world.ns.name(),
            "--leader-election-id",
            lease,
            "--leader-election-identity",
            identity,
            "--pending-poll-interval",
            "1s",
            "--log-level",
            "info,edgefleet=debug,kube=warn",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let child = Command::new(env!("CARGO_BIN_EXE_edgefleet"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Operator {
            identity: identity.to_owned(),
            port,
            log,
            child,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// GET `path` on the health/metrics server: (status, body); `None` while it does not answer.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let response = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    /// Waits until /readyz answers 200 and returns its body (`standby: ...` or `leading: ...`).
    pub async fn wait_ready(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((200, body)) = self.get("/readyz").await {
                return body;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status}; log:\n{}",
                    self.identity,
                    self.log_tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready within {timeout:?}; log:\n{}",
                self.identity,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The current /metrics exposition (empty if it does not answer).
    pub async fn metrics(&self) -> String {
        self.get("/metrics")
            .await
            .map(|(_, body)| body)
            .unwrap_or_default()
    }

    /// SIGKILL, like a node loss: no lease release, no cleanup.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM and wait for the exit status (graceful shutdown releases the Lease).
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit after SIGTERM",
                self.identity
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last 40 lines of the log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// The whole log.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the sample `name{labels}` in a Prometheus/OpenMetrics text exposition (label order as
/// written by prometheus-client, i.e. the label set's field order).
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<&str, &str> = labels.iter().copied().collect();
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (series_name, label_text) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.strip_suffix('}')?),
            None => (series, ""),
        };
        if series_name != name {
            return None;
        }
        let found: BTreeMap<&str, &str> = label_text
            .split(',')
            .filter(|p| !p.is_empty())
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((k, v.trim_matches('"')))
            })
            .collect();
        (found == wanted).then(|| value.parse().ok()).flatten()
    })
}

/// Every sample of `name` in an exposition, with its raw label text.
pub fn samples(text: &str, name: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .map(str::to_owned)
        .collect()
}

/// One request the operator made through a [`Proxy`], and the answer.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Query string.
    pub query: String,
    /// Status of the answer (502 when the upstream could not be reached).
    pub status: u16,
}

/// Decides whether a request waits for [`Proxy::release`].
pub type Hold = fn(&Recorded) -> bool;

/// A plain-HTTP proxy in front of the API server for an operator under test: it forwards every request with
/// the admin credentials of `KUBECONFIG` (optionally impersonating a user and groups), records it, streams
/// the answer (watches included), and can hold chosen requests until released.
#[derive(Clone)]
pub struct Proxy {
    /// Where it listens.
    pub addr: SocketAddr,
    state: ProxyState,
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    impersonate: Option<(String, Vec<String>)>,
    log: Arc<Mutex<Vec<Recorded>>>,
    hold: Option<Hold>,
    held: Arc<Mutex<Vec<Recorded>>>,
    released: tokio::sync::watch::Sender<bool>,
}

impl Proxy {
    /// Starts the proxy on 127.0.0.1:0.
    pub async fn start(impersonate: Option<(String, Vec<String>)>, hold: Option<Hold>) -> Proxy {
        let (client, upstream) = admin_client();
        let state = ProxyState {
            upstream,
            client,
            impersonate,
            log: Arc::default(),
            hold,
            held: Arc::default(),
            released: tokio::sync::watch::Sender::new(false),
        };
        let app = axum::Router::new().fallback(forward).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Proxy { addr, state }
    }

    /// A kubeconfig file pointing at the proxy (no credentials: the proxy adds them).
    pub fn kubeconfig(&self, namespace: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("edgefleet-{namespace}-{}-kubeconfig", self.addr.port()));
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: proxy\n  cluster:\n    server: http://{}\n\
                 users:\n- name: proxy\n  user: {{}}\ncontexts:\n- name: proxy\n  context:\n    cluster: proxy\n    \
                 user: proxy\n    namespace: {namespace}\ncurrent-context: proxy\n",
                self.addr
            ),
        )
        .unwrap();
        path
    }

    /// Every request answered so far.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.state.log.lock().unwrap().clone()
    }

    /// Requests being held now or held before [`Proxy::release`].
    pub fn held(&self) -> Vec<Recorded> {
        self.state.held.lock().unwrap().clone()
    }

    /// Lets held requests (and all later ones) through.
    pub fn release(&self) {
        self.state.released.send_replace(true);
    }
}

/// A reqwest client with the admin kubeconfig's CA and client certificate, and the server URL (the
/// current context of `KUBECONFIG`, with embedded data as `cargo xtask control-plane` writes it).
fn admin_client() -> (reqwest::Client, String) {
    let path = std::env::var("KUBECONFIG").expect("KUBECONFIG");
    let path = std::env::split_paths(&path).next().unwrap();
    let config: serde_json::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let current = config["current-context"].as_str().unwrap();
    let named = |list: &str, name: &str| {
        config[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {list} entry {name}"))
    };
    let context = named("contexts", current)["context"].clone();
    let cluster = named("clusters", context["cluster"].as_str().unwrap())["cluster"].clone();
    let user = named("users", context["user"].as_str().unwrap())["user"].clone();
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("embedded certificate data"))
            .unwrap()
    };
    let mut identity = b64(&user["client-certificate-data"]);
    identity.push(b'\n');
    identity.extend(b64(&user["client-key-data"]));
    // HTTP/1.1: one upstream connection per request, so a long watch never shares (and never stalls)
    // another request's connection.
    let client = reqwest::Client::builder()
        .http1_only()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&b64(&cluster["certificate-authority-data"])).unwrap(),
        )
        .identity(reqwest::Identity::from_pem(&identity).unwrap())
        .build()
        .unwrap();
    let server = cluster["server"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    (client, server)
}

async fn forward(State(proxy): State<ProxyState>, request: Request) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let headers = request.headers().clone();
    let mut record = Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        status: 0,
    };
    if proxy.hold.is_some_and(|hold| hold(&record)) && !*proxy.released.borrow() {
        proxy.held.lock().unwrap().push(record.clone());
        let _ = proxy.released.subscribe().wait_for(|released| *released).await;
    }
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let url = format!(
        "{}{}",
        proxy.upstream,
        uri.path_and_query().map_or("/", |pq| pq.as_str())
    );
    let mut upstream = proxy.client.request(method, url);
    for (name, value) in &headers {
        if ![
            "host",
            "content-length",
            "connection",
            "transfer-encoding",
            "authorization",
        ]
        .contains(&name.as_str())
        {
            upstream = upstream.header(name, value);
        }
    }
    if let Some((user, groups)) = &proxy.impersonate {
        upstream = upstream.header("Impersonate-User", user);
        for group in groups {
            upstream = upstream.header("Impersonate-Group", group);
        }
    }
    let response = match upstream.body(body).send().await {
        Ok(response) => response,
        Err(error) => {
            record.status = 502;
            proxy.log.lock().unwrap().push(record);
            return Response::builder()
                .status(502)
                .body(Body::from(error.to_string()))
                .unwrap();
        }
    };
    record.status = response.status().as_u16();
    proxy.log.lock().unwrap().push(record);
    let mut builder = Response::builder().status(response.status().as_u16());
    for (name, value) in response.headers() {
        if !["content-length", "connection", "transfer-encoding"].contains(&name.as_str()) {
            builder = builder.header(name, value);
        }
    }
    // Stream the body through: watches are long-lived chunked responses.
    let stream = futures::stream::unfold(response, |mut response| async move {
        match response.chunk().await {
            Ok(Some(chunk)) => Some((Ok::<Bytes, reqwest::Error>(chunk), response)),
            Ok(None) => None,
            Err(error) => Some((Err(error), response)),
        }
    });
    builder.body(Body::from_stream(stream)).unwrap()
}

/// Where a path is relative to: the repository.
pub fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}
