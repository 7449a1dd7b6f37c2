//! What GitOps tools see of edgefleet objects, checked against the real tools' logic: Flux's kstatus (the
//! real `sigs.k8s.io/cli-utils` library, through tests/kstatus) and Argo CD's health check
//! (deploy/argocd/health.lua). The expected answer for every object comes from OUR conditions through one
//! explicit mapping ([`stage`], [`expected_kstatus`], [`expected_argocd`]; docs/conditions.md "What
//! GitOps tools see"):
//!
//! | our conditions (first match)                          | stage         | kstatus      | Argo CD     |
//! |-------------------------------------------------------|---------------|--------------|-------------|
//! | `metadata.deletionTimestamp` set                      | Deleting      | Terminating  | Progressing |
//! | `Stalled=True`                                        | Stalled       | Failed       | Degraded    |
//! | EdgeCloud with `spec.paused`                          | (any other)   | (as below)   | Suspended   |
//! | `status.observedGeneration` ≠ `metadata.generation`   | Unobserved    | InProgress   | Progressing |
//! | `Reconciling=True`                                    | Reconciling   | InProgress   | Progressing |
//! | `Ready=True` computed for an older generation         | StaleReady    | Current (1)  | Progressing |
//! | `Ready` absent or Unknown, or False of an older gen.  | Pending       | InProgress   | Progressing |
//! | `Ready=True`                                          | Ready         | Current      | Healthy     |
//! | `Ready=False`, neither reconciling nor stalled        | NotReady      | InProgress   | Degraded    |
//!
//! (1) kstatus trusts `status.observedGeneration` and ignores a condition's own `observedGeneration`.
//! The operator never writes such a status (every write sets `observedGeneration` and every condition
//! for the same generation); the live test checks that no object version is StaleReady.
//!
//! - `new_objects_read_in_progress_from_the_first_read`: with no operator, every kind's create response,
//!   GET, LIST and watch event carry the CRD's status default (`observedGeneration: -1`), kstatus says
//!   InProgress and Argo CD Progressing; the operator's status write (JSON patch `add /status`) replaces
//!   it; `kubectl wait --for=condition=Ready` waits on a new object and after an unobserved spec change.
//! - `kstatus_and_argocd_agree_with_our_conditions_at_every_stage`: every kind at creation while the
//!   operator is stopped, waiting for a dependency, converging (instance BUILD, fleet scaling, a cloud
//!   that does not answer), Ready, right after a spec change, Stalled (an image not in the catalog, a
//!   ProviderConfig whose Secret is missing, an adoptId that does not exist) and deleting; every object
//!   version the watches delivered plus every object read explicitly goes through both tools.
//! - `synthetic_states_map_the_same`: the states a live run does not reach (paused fleet, Ready=False
//!   while idle, Ready of an older generation) through the same mapping.
//!
//! Run through `cargo xtask test` (it builds the kstatus program once into ~/.cache/edgefleet and sets
//! `EDGEFLEET_KSTATUS`), or `EDGEFLEET_KSTATUS=$(cargo xtask kstatus) cargo test --test gitops_health --
//! --ignored` against a control plane with the CRDs installed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use edgefleet::api::common::UNOBSERVED_GENERATION;
use edgefleet::api::condition::{READY, RECONCILING, STALLED};
use edgefleet::api::edge_cloud::EdgeCloud;
use edgefleet::api::edge_instance::EdgeInstance;
use edgefleet::api::provider_config::ProviderConfig;
use edgefleet::api::security_group::SecurityGroup;
use edgefleet::api::vpc::Vpc;
use edgefleet::provider::{VpcMode, VpcSpec as CloudVpcSpec};
use edgefleet_emulator::Faults;
use edgefleet_emulator::core::faults::ErrorFault;
use futures::{StreamExt as _, TryStreamExt as _};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use kube::{Client, Resource};
use serde_json::{Value, json};
use support::gitops::{Verdict, argocd_health, kstatus};
use support::harness::*;
use support::*;
use tokio::task::JoinHandle;

const IMAGE: &str = "00000000-0000-0000-0000-000000000002";
const MISSING_IMAGE: &str = "00000000-0000-0000-0000-000000000999";
const MISSING_ID: &str = "00000000-0000-4000-8000-0000000000ff";
const FLAVOR: &str = "c6.large.2";

// ----- the mapping from our conditions -----

/// What our conditions say an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// `metadata.deletionTimestamp` is set.
    Deleting,
    /// `Stalled=True`: needs a human.
    Stalled,
    /// `status.observedGeneration` is not `metadata.generation` (a new object reads -1).
    Unobserved,
    /// `Reconciling=True`.
    Reconciling,
    /// `Ready=True` computed for an older generation while `status.observedGeneration` is current.
    StaleReady,
    /// `Ready` absent or Unknown, or False computed for an older generation.
    Pending,
    /// `Ready=True` for the current generation.
    Ready,
    /// `Ready=False` while neither reconciling nor stalled.
    NotReady,
}

fn conditions(obj: &Value) -> BTreeMap<String, Value> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c.get("type")?.as_str()?.to_owned(), c.clone())))
        .collect()
}

fn is_true(conditions: &BTreeMap<String, Value>, type_: &str) -> bool {
    conditions.get(type_).is_some_and(|c| c["status"] == "True")
}

/// The stage our conditions put `obj` in (the table in the module docs, first match).
fn stage(obj: &Value) -> Stage {
    let conditions = conditions(obj);
    let generation = obj.pointer("/metadata/generation").and_then(Value::as_i64);
    let observed = obj.pointer("/status/observedGeneration").and_then(Value::as_i64);
    if obj
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        return Stage::Deleting;
    }
    if is_true(&conditions, STALLED) {
        return Stage::Stalled;
    }
    if generation.is_some() && observed != generation {
        return Stage::Unobserved;
    }
    if is_true(&conditions, RECONCILING) {
        return Stage::Reconciling;
    }
    match conditions.get(READY) {
        Some(ready) if ready["observedGeneration"].as_i64() != generation && ready["status"] == "True" => {
            Stage::StaleReady
        }
        Some(ready) if ready["observedGeneration"].as_i64() != generation => Stage::Pending,
        Some(ready) if ready["status"] == "True" => Stage::Ready,
        Some(ready) if ready["status"] == "False" => Stage::NotReady,
        _ => Stage::Pending,
    }
}

/// What kstatus must say for a stage.
fn expected_kstatus(stage: Stage) -> &'static str {
    match stage {
        Stage::Deleting => "Terminating",
        Stage::Stalled => "Failed",
        Stage::Ready | Stage::StaleReady => "Current",
        Stage::Unobserved | Stage::Reconciling | Stage::Pending | Stage::NotReady => "InProgress",
    }
}

/// What Argo CD's health check must say for a stage (a paused EdgeCloud is Suspended unless it is being
/// deleted or stalled).
fn expected_argocd(stage: Stage, obj: &Value) -> &'static str {
    let paused = obj["kind"] == "EdgeCloud" && obj.pointer("/spec/paused") == Some(&Value::Bool(true));
    match stage {
        Stage::Deleting => "Progressing",
        Stage::Stalled => "Degraded",
        _ if paused => "Suspended",
        Stage::Ready => "Healthy",
        Stage::NotReady => "Degraded",
        Stage::Unobserved | Stage::Reconciling | Stage::StaleReady | Stage::Pending => "Progressing",
    }
}

/// One object version and where it was seen.
#[derive(Debug, Clone)]
struct Snapshot {
    /// What the test was doing (or `watch`).
    label: String,
    /// The object as the apiserver returned it.
    obj: Value,
}

fn key(obj: &Value) -> (String, String, String) {
    let field = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (
        field("/kind"),
        field("/metadata/name"),
        field("/metadata/resourceVersion"),
    )
}

fn describe(obj: &Value) -> String {
    let conditions = conditions(obj);
    let mut parts = vec![format!(
        "gen={} observed={}",
        obj.pointer("/metadata/generation").unwrap_or(&Value::Null),
        obj.pointer("/status/observedGeneration").unwrap_or(&Value::Null)
    )];
    for (type_, c) in conditions {
        parts.push(format!(
            "{type_}={}/{}",
            c["status"].as_str().unwrap_or("?"),
            c["reason"].as_str().unwrap_or("?")
        ));
    }
    if obj.pointer("/metadata/deletionTimestamp").is_some() {
        parts.push("deleting".into());
    }
    parts.join(" ")
}

/// Runs every snapshot (deduplicated by kind, name and resourceVersion) through kstatus and the Argo CD
/// health check; panics with a table of every disagreement with the mapping. Returns the stages seen per
/// kind, and per kind whether a `new` (observedGeneration -1) and a `changed` (older generation
/// observed) snapshot was among them.
fn check_all(snapshots: &[Snapshot]) -> BTreeMap<String, BTreeSet<String>> {
    let mut seen = BTreeSet::new();
    let unique: Vec<&Snapshot> = snapshots.iter().filter(|s| seen.insert(key(&s.obj))).collect();
    let objects: Vec<Value> = unique.iter().map(|s| s.obj.clone()).collect();
    let flux = kstatus(&objects);
    let argo = argocd_health(&objects);
    let mut mismatches = String::new();
    let mut coverage: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for ((snapshot, ks), hs) in unique.iter().zip(&flux).zip(&argo) {
        let obj = &snapshot.obj;
        let stage = stage(obj);
        let (kind, name, rv) = key(obj);
        let tags = coverage.entry(kind.clone()).or_default();
        tags.insert(format!("{stage:?}"));
        let observed = obj.pointer("/status/observedGeneration").and_then(Value::as_i64);
        if stage == Stage::Unobserved {
            tags.insert(
                if observed == Some(UNOBSERVED_GENERATION) {
                    "New"
                } else {
                    "Changed"
                }
                .into(),
            );
        }
        let want = (expected_kstatus(stage), expected_argocd(stage, obj));
        if (ks.status.as_str(), hs.status.as_str()) != want {
            writeln!(
                mismatches,
                "  {kind} {name} rv={rv} [{}] {}: ours {stage:?} -> want kstatus {} / argo {}, got kstatus {} ({}) / argo {} ({})",
                snapshot.label,
                describe(obj),
                want.0,
                want.1,
                ks.status,
                ks.message,
                hs.status,
                hs.message
            )
            .unwrap();
        }
    }
    assert!(
        mismatches.is_empty(),
        "GitOps tools disagree with our conditions on {} of {} object versions:\n{mismatches}",
        mismatches.lines().count(),
        unique.len()
    );
    eprintln!(
        "{} object versions checked against kstatus and Argo CD: {coverage:?}",
        unique.len()
    );
    coverage
}

// ----- reading objects as the apiserver returns them -----

/// A dynamic API for the kind of `K` (namespaced in `ns`, or cluster-wide).
fn dynamic<K: Resource<DynamicType = ()>>(client: &Client, ns: Option<&str>) -> Api<DynamicObject> {
    let ar = ApiResource::erase::<K>(&());
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

fn value(obj: &DynamicObject) -> Value {
    serde_json::to_value(obj).unwrap()
}

/// Records every object version the watch of one kind delivers.
fn record(api: Api<DynamicObject>, selector: String, into: Arc<Mutex<Vec<Snapshot>>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut events = watcher::watcher(api, watcher::Config::default().labels(&selector)).boxed();
        while let Some(event) = events.next().await {
            let obj = match event {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o) | watcher::Event::Delete(o)) => o,
                _ => continue,
            };
            into.lock().unwrap().push(Snapshot {
                label: "watch".into(),
                obj: value(&obj),
            });
        }
    })
}

/// The test's world: the harness [`Env`] plus snapshots and dynamic APIs per kind.
struct World {
    env: Env,
    snapshots: Arc<Mutex<Vec<Snapshot>>>,
    recorders: Vec<JoinHandle<()>>,
}

impl World {
    fn api(&self, kind: &str) -> Api<DynamicObject> {
        let (client, ns) = (&self.env.client, Some(self.env.ns.name()));
        match kind {
            "ProviderConfig" => dynamic::<ProviderConfig>(client, None),
            "Vpc" => dynamic::<Vpc>(client, ns),
            "SecurityGroup" => dynamic::<SecurityGroup>(client, ns),
            "EdgeInstance" => dynamic::<EdgeInstance>(client, ns),
            "EdgeCloud" => dynamic::<EdgeCloud>(client, ns),
            other => panic!("unknown kind {other}"),
        }
    }

    fn keep(&self, label: &str, obj: Value) -> Value {
        self.snapshots.lock().unwrap().push(Snapshot {
            label: label.to_owned(),
            obj: obj.clone(),
        });
        obj
    }

    /// Creates `body` (its kind from `body.kind`); keeps the create response.
    async fn create(&self, label: &str, body: Value) -> Value {
        let kind = body["kind"].as_str().unwrap().to_owned();
        let obj: DynamicObject = serde_json::from_value(body).unwrap();
        let created = self
            .api(&kind)
            .create(&PostParams::default(), &obj)
            .await
            .unwrap();
        self.keep(label, value(&created))
    }

    /// Waits until `kind/name` satisfies `predicate`; keeps what was read.
    async fn wait(&self, label: &str, kind: &str, name: &str, predicate: impl Fn(&Value) -> bool) -> Value {
        let obj = wait_for(&self.api(kind), name, WAIT, |o: &DynamicObject| {
            predicate(&value(o))
        })
        .await
        .unwrap_or_else(|e| panic!("{label}: {kind} {name}: {e}"));
        self.keep(label, value(&obj))
    }

    /// Waits until `kind/name` is in `stage`.
    async fn wait_stage(&self, label: &str, kind: &str, name: &str, want: Stage) -> Value {
        self.wait(label, kind, name, |o| stage(o) == want).await
    }

    /// Merge-patches `kind/name`; keeps the response (the new generation, not yet observed).
    async fn patch(&self, label: &str, kind: &str, name: &str, patch: Value) -> Value {
        let obj = self
            .api(kind)
            .patch(
                name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .unwrap();
        self.keep(label, value(&obj))
    }

    /// Deletes `kind/name` (foreground finalizers run); keeps the object if it is still there.
    async fn delete(&self, label: &str, kind: &str, name: &str) {
        let api = self.api(kind);
        delete(&api, name).await.unwrap();
        if let Some(obj) = api.get_opt(name).await.unwrap() {
            self.keep(label, value(&obj));
        }
    }
}

// ----- objects -----

fn meta(env: &Env, name: &str, namespaced: bool) -> Value {
    let mut meta = json!({"name": name, "labels": {RUN_LABEL: env.ns.name()}});
    if namespaced {
        meta["namespace"] = json!(env.ns.name());
    }
    meta
}

fn provider_config(env: &Env, name: &str, secret: &str) -> Value {
    json!({
        "apiVersion": "edgefleet.io/v1alpha1", "kind": "ProviderConfig", "metadata": meta(env, name, false),
        "spec": {
            "provider": "Iec", "domainId": DOMAIN,
            "endpoints": {"iec": env.emu().url(), "iam": env.emu().url()},
            "credentials": {"type": "AkSk", "secretRef": {"name": secret, "namespace": env.ns.name()}},
            "rateLimit": {"qps": 50, "burst": 100},
            "pollInterval": "10s", "pendingPollInterval": "1s",
        }
    })
}

fn vpc(env: &Env, name: &str, pc: &str, adopt: Option<&str>) -> Value {
    let mut obj = json!({
        "apiVersion": "edgefleet.io/v1alpha1", "kind": "Vpc", "metadata": meta(env, name, true),
        "spec": {
            "providerConfigRef": {"name": pc}, "cidr": "10.40.0.0/16", "iec": {"mode": "CUSTOMER"},
            "subnets": [{"name": "a", "cidr": "10.40.1.0/24", "siteId": site()}],
        }
    });
    if let Some(id) = adopt {
        obj["spec"]["adoptId"] = json!(id);
    }
    obj
}

fn security_group(env: &Env, name: &str, pc: &str, adopt: Option<&str>) -> Value {
    let mut obj = json!({
        "apiVersion": "edgefleet.io/v1alpha1", "kind": "SecurityGroup", "metadata": meta(env, name, true),
        "spec": {
            "providerConfigRef": {"name": pc}, "ruleManagement": "Additive",
            "rules": [{"direction": "ingress", "protocol": "tcp", "portRangeMin": 443, "remoteIpPrefix": "0.0.0.0/0"}],
        }
    });
    if let Some(id) = adopt {
        obj["spec"]["adoptId"] = json!(id);
    }
    obj
}

fn instance(env: &Env, name: &str, pc: &str, image: &str) -> Value {
    json!({
        "apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeInstance", "metadata": meta(env, name, true),
        "spec": {
            "providerConfigRef": {"name": pc}, "flavor": FLAVOR, "image": image,
            "placement": {"siteId": site()}, "rootVolume": {"type": "SATA", "size": 40},
            "network": {"vpcRef": {"name": "net"}, "subnets": [{"name": "a"}], "securityGroupRefs": [{"name": "web"}]},
            "bandwidth": {"size": 5},
            "adminPasswordSecretRef": {"name": "login", "key": "password"},
        }
    })
}

fn fleet(env: &Env, name: &str, pc: &str, vpc_id: &str, adopt: Option<&str>) -> Value {
    let mut obj = json!({
        "apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeCloud", "metadata": meta(env, name, true),
        "spec": {
            "providerConfigRef": {"name": pc}, "replicas": 2,
            "coverage": {"level": "City", "policy": "Centralize"},
            "placement": [{"city": "wuhan", "weight": 1}],
            "template": {
                "name": "web", "flavor": FLAVOR, "image": IMAGE, "rootVolume": {"type": "SATA", "size": 40},
                "network": {"vpcId": vpc_id, "nicCount": 1},
            },
        }
    });
    if let Some(id) = adopt {
        obj["spec"]["adoptId"] = json!(id);
    }
    obj
}

const KINDS: [&str; 5] = [
    "ProviderConfig",
    "Vpc",
    "SecurityGroup",
    "EdgeInstance",
    "EdgeCloud",
];

// ----- tests -----

#[tokio::test]
#[ignore = "needs cluster"]
async fn new_objects_read_in_progress_from_the_first_read() {
    let client = client().await.unwrap();
    let ns = TestNamespace::new(&client, "gitops-new").await.unwrap();
    let selector = format!("{RUN_LABEL}={}", ns.name());
    let apis = [
        dynamic::<ProviderConfig>(&client, None),
        dynamic::<Vpc>(&client, Some(ns.name())),
        dynamic::<SecurityGroup>(&client, Some(ns.name())),
        dynamic::<EdgeInstance>(&client, Some(ns.name())),
        dynamic::<EdgeCloud>(&client, Some(ns.name())),
    ];
    // No operator and no emulator: the objects only need to pass validation.
    let labels = json!({RUN_LABEL: ns.name()});
    let pc_name = ns.name().to_owned();
    let bodies = [
        json!({"apiVersion": "edgefleet.io/v1alpha1", "kind": "ProviderConfig",
            "metadata": {"name": pc_name, "labels": labels},
            "spec": {"provider": "Iec", "credentials": {"type": "AkSk",
                "secretRef": {"name": "missing", "namespace": ns.name()}}}}),
        json!({"apiVersion": "edgefleet.io/v1alpha1", "kind": "Vpc", "metadata": {"name": "net", "labels": labels},
            "spec": {"providerConfigRef": {"name": pc_name}, "cidr": "10.50.0.0/16", "iec": {"mode": "SYSTEM"}},
            // A client-supplied status is dropped on create (status subresource): the default still shows.
            "status": {"observedGeneration": 1, "conditions": []}}),
        json!({"apiVersion": "edgefleet.io/v1alpha1", "kind": "SecurityGroup", "metadata": {"name": "web", "labels": labels},
            "spec": {"providerConfigRef": {"name": pc_name}}}),
        json!({"apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeInstance", "metadata": {"name": "vm", "labels": labels},
            "spec": {"providerConfigRef": {"name": pc_name}, "flavor": FLAVOR, "image": IMAGE,
                "placement": {"siteId": site()}, "rootVolume": {"type": "SATA", "size": 40},
                "network": {"vpcRef": {"name": "net"}, "subnets": [{"name": "a"}]}}}),
        json!({"apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeCloud", "metadata": {"name": "fleet", "labels": labels},
            "spec": {"providerConfigRef": {"name": pc_name}, "replicas": 1,
                "placement": [{"city": "wuhan", "weight": 1}],
                "template": {"flavor": FLAVOR, "image": IMAGE, "rootVolume": {"type": "SATA", "size": 40},
                    "network": {"vpcId": "v-1"}}}}),
    ];

    // Watches opened before the creates: the ADDED events must carry the default too.
    let mut watches = Vec::new();
    for api in &apis {
        let stream = api
            .watch(&WatchParams::default().labels(&selector), "0")
            .await
            .unwrap()
            .boxed();
        watches.push(stream);
    }

    let mut reads: Vec<(String, Value)> = Vec::new();
    for (api, body) in apis.iter().zip(&bodies) {
        let kind = body["kind"].as_str().unwrap();
        let obj: DynamicObject = serde_json::from_value(body.clone()).unwrap();
        let created = api.create(&PostParams::default(), &obj).await.unwrap();
        reads.push((format!("{kind} create response"), value(&created)));
        let name = created.metadata.name.clone().unwrap();
        reads.push((format!("{kind} get"), value(&api.get(&name).await.unwrap())));
        let list = api.list(&ListParams::default().labels(&selector)).await.unwrap();
        assert_eq!(list.items.len(), 1, "{kind}: one object listed");
        reads.push((format!("{kind} list"), value(&list.items[0])));
    }
    for (watch, body) in watches.iter_mut().zip(&bodies) {
        let kind = body["kind"].as_str().unwrap();
        let event = tokio::time::timeout(WAIT, watch.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match event {
            WatchEvent::Added(obj) => reads.push((format!("{kind} watch ADDED"), value(&obj))),
            other => panic!("{kind}: first watch event is {other:?}"),
        }
    }

    for (what, obj) in &reads {
        // (EdgeCloud's status also reads its counters' defaults, replicas: 0 and so on.)
        assert_eq!(
            obj.pointer("/status/observedGeneration"),
            Some(&json!(UNOBSERVED_GENERATION)),
            "{what}: a new object reads with the status default: {obj}"
        );
        assert_eq!(
            obj.pointer("/status/conditions"),
            Some(&json!([])),
            "{what}: {obj}"
        );
    }
    let objects: Vec<Value> = reads.iter().map(|(_, o)| o.clone()).collect();
    for (((what, obj), ks), hs) in reads.iter().zip(kstatus(&objects)).zip(argocd_health(&objects)) {
        assert_eq!(stage(obj), Stage::Unobserved, "{what}");
        assert_eq!(ks.status, "InProgress", "{what}: kstatus {ks:?}");
        assert!(ks.message.contains("observed generation is -1"), "{what}: {ks:?}");
        assert_eq!(hs.status, "Progressing", "{what}: Argo CD {hs:?}");
    }

    // The typed status reads the default; the operator's status write replaces it.
    let vpcs: Api<Vpc> = ns.api();
    let typed = vpcs.get("net").await.unwrap();
    let status = typed.status.clone().expect("the default status");
    assert_eq!(status.observed_generation, Some(UNOBSERVED_GENERATION));
    assert!(status.conditions.is_empty());
    let mut written = status.clone();
    written.observed_generation = typed.metadata.generation;
    written.vpc_id = Some("v-42".into());
    let after = edgefleet::controller::runtime::patch_status(&vpcs, "net", &written)
        .await
        .unwrap();
    assert_eq!(
        after.status.as_ref(),
        Some(&written),
        "the JSON patch replaced the default"
    );
    let read_back = vpcs.get("net").await.unwrap();
    assert_eq!(read_back.status.as_ref(), Some(&written));
    let flux = kstatus(&[value(
        &dynamic::<Vpc>(&client, Some(ns.name())).get("net").await.unwrap(),
    )]);
    // Observed and no conditions is kstatus' fallback, Current: the reason every status write of the
    // operator sets Ready together with observedGeneration.
    assert_eq!(flux[0].status, "Current", "{flux:?}");

    // `kubectl wait --for=condition=Ready` (the kubectl of the control plane's minor): a new object has
    // no Ready, so it waits; Ready=True for the current generation returns; after a spec change that
    // nobody has acted on, the old Ready=True (of generation 1) does not count, so it waits again. No
    // operator runs in this namespace, so each outcome is certain (the timeouts only bound the waits).
    let ready_wait = |name: &'static str, timeout: &'static str| {
        let ns = ns.name().to_owned();
        async move {
            kubectl(&[
                "wait",
                "--for=condition=Ready",
                &format!("--timeout={timeout}"),
                "-n",
                &ns,
                name,
            ])
            .await
        }
    };
    let waited = ready_wait("securitygroup/web", "2s").await;
    assert!(
        waited.is_err_and(|e| e.to_string().contains("timed out")),
        "a new object is not Ready"
    );
    let groups: Api<SecurityGroup> = ns.api();
    let web = groups.get("web").await.unwrap();
    let mut status = web.status.clone().unwrap();
    status.observed_generation = web.metadata.generation;
    status.conditions.push(edgefleet::api::Condition::new(
        READY,
        edgefleet::api::ConditionStatus::True,
        "Available",
        "test",
        web.metadata.generation,
    ));
    edgefleet::controller::runtime::patch_status(&groups, "web", &status)
        .await
        .unwrap();
    ready_wait("securitygroup/web", "30s").await.unwrap();
    groups
        .patch(
            "web",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"rules": [
                {"direction": "ingress", "protocol": "tcp", "portRangeMin": 22, "remoteIpPrefix": "10.0.0.0/8"}]}})),
        )
        .await
        .unwrap();
    let waited = ready_wait("securitygroup/web", "2s").await;
    assert!(
        waited.is_err_and(|e| e.to_string().contains("timed out")),
        "Ready of generation 1 does not satisfy kubectl wait at generation 2"
    );

    let pcs: Api<ProviderConfig> = Api::all(client.clone());
    delete(&pcs, &pc_name).await.unwrap();
    wait_deleted(&pcs, &pc_name, WAIT).await.unwrap();
    ns.cleanup().await.unwrap();
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn kstatus_and_argocd_agree_with_our_conditions_at_every_stage() {
    let env = Env::start("gitops", Faults::default()).await;
    env.put_secret_named("login", &[("password", "Sup3r-Secret-Pw")])
        .await;
    let snapshots = Arc::new(Mutex::new(Vec::new()));
    let selector = format!("{RUN_LABEL}={}", env.ns.name());
    let mut world = World {
        env,
        snapshots: snapshots.clone(),
        recorders: Vec::new(),
    };
    for kind in KINDS {
        let handle = record(world.api(kind), selector.clone(), snapshots.clone());
        world.recorders.push(handle);
    }
    let w = &world;
    let env = &w.env;
    let good = env.pc.clone();
    let pc = format!("{}-gitops", env.ns.name());
    let system_vpc = env
        .cloud_client()
        .vpcs()
        .unwrap()
        .create(
            &CloudVpcSpec {
                name: format!("gitops-{}", &env.ns.name()[env.ns.name().len() - 8..]),
                cidr: "192.168.0.0/16".into(),
                mode: VpcMode::System,
                subnets: vec![],
                ext: Default::default(),
            },
            &Default::default(),
        )
        .await
        .unwrap()
        .id;

    // 1. Created while the operator is stopped. `pc`'s Secret does not exist yet: it will stall, and
    //    the objects using it wait for it.
    world.env.stop_controllers().await;
    let w = &world;
    let env = &w.env;
    let created = "created, operator stopped";
    w.create(created, provider_config(env, &pc, "gitops-credentials"))
        .await;
    w.create(created, vpc(env, "net", &pc, None)).await;
    w.create(created, security_group(env, "web", &pc, None)).await;
    w.create(created, instance(env, "vm", &pc, IMAGE)).await;
    w.create(created, fleet(env, "fleet", &pc, &system_vpc, None))
        .await;
    w.create(created, instance(env, "bad-image", &good, MISSING_IMAGE))
        .await;
    w.create(created, vpc(env, "ghost", &good, Some(MISSING_ID)))
        .await;
    w.create(created, security_group(env, "ghost", &good, Some(MISSING_ID)))
        .await;
    w.create(created, fleet(env, "ghost", &good, &system_vpc, Some(MISSING_ID)))
        .await;
    for kind in KINDS {
        for obj in w
            .api(kind)
            .list(&ListParams::default().labels(&selector))
            .await
            .unwrap()
        {
            let obj = w.keep(created, value(&obj));
            let name = obj["metadata"]["name"].as_str().unwrap();
            if name != good {
                assert_eq!(
                    stage(&obj),
                    Stage::Unobserved,
                    "{kind} {name}: {}",
                    describe(&obj)
                );
            }
        }
    }

    // 2. Operator started: stalled objects, objects waiting for the ProviderConfig.
    world.env.start_controllers();
    let w = &world;
    let env = &w.env;
    let stalled = "stalled";
    let pc_stalled = w.wait_stage(stalled, "ProviderConfig", &pc, Stage::Stalled).await;
    assert_eq!(conditions(&pc_stalled)[STALLED]["reason"], "SecretNotFound");
    for kind in ["Vpc", "SecurityGroup", "EdgeCloud"] {
        let ghost = w.wait_stage(stalled, kind, "ghost", Stage::Stalled).await;
        assert_eq!(
            conditions(&ghost)[STALLED]["reason"],
            "AdoptTargetNotFound",
            "{kind}"
        );
    }
    let waiting = "waiting for the ProviderConfig";
    for (kind, name) in [
        ("Vpc", "net"),
        ("SecurityGroup", "web"),
        ("EdgeInstance", "vm"),
        ("EdgeCloud", "fleet"),
    ] {
        let obj = w.wait_stage(waiting, kind, name, Stage::Reconciling).await;
        assert_eq!(
            conditions(&obj)[READY]["reason"],
            "WaitingForDependency",
            "{kind} {name}"
        );
    }

    // 3. The Secret appears while the cloud does not answer the credential check: the ProviderConfig is
    //    reconciling; then the cloud answers and everything converges (instance BUILD, fleet scaling).
    env.set_faults(Faults {
        errors: vec![ErrorFault {
            operation: "GET /v1/edgeclouds/quotas".into(),
            rate: 1.0,
            status: 503,
        }],
        ..Faults::default()
    });
    env.put_secret_named(
        "gitops-credentials",
        &[
            ("accessKey", edgefleet_emulator::config::DEFAULT_AK),
            ("secretKey", edgefleet_emulator::config::DEFAULT_SK),
        ],
    )
    .await;
    w.wait_stage("cloud unreachable", "ProviderConfig", &pc, Stage::Reconciling)
        .await;
    env.set_faults(Faults::default());
    let ready = "ready";
    for (kind, name) in [
        ("ProviderConfig", pc.as_str()),
        ("Vpc", "net"),
        ("SecurityGroup", "web"),
        ("EdgeInstance", "vm"),
        ("EdgeCloud", "fleet"),
    ] {
        w.wait_stage(ready, kind, name, Stage::Ready).await;
    }
    // The instance with an image the cloud does not have waited for the same Vpc and group.
    let bad = w
        .wait_stage(stalled, "EdgeInstance", "bad-image", Stage::Stalled)
        .await;
    assert_eq!(conditions(&bad)[STALLED]["reason"], "NotInCatalog");

    // 4. A spec change of every kind: the patch response is the new generation, not yet observed.
    let changed = "spec changed";
    let changes = [
        (
            "ProviderConfig",
            pc.as_str(),
            json!({"spec": {"pollInterval": "15s"}}),
        ),
        (
            "Vpc",
            "net",
            json!({"spec": {"subnets": [
                {"name": "a", "cidr": "10.40.1.0/24", "siteId": site()},
                {"name": "b", "cidr": "10.40.2.0/24", "siteId": site()}]}}),
        ),
        (
            "SecurityGroup",
            "web",
            json!({"spec": {"rules": [
                {"direction": "ingress", "protocol": "tcp", "portRangeMin": 443, "remoteIpPrefix": "0.0.0.0/0"},
                {"direction": "ingress", "protocol": "tcp", "portRangeMin": 22, "remoteIpPrefix": "10.0.0.0/8"}]}}),
        ),
        ("EdgeInstance", "vm", json!({"spec": {"powerState": "Stopped"}})),
        ("EdgeCloud", "fleet", json!({"spec": {"replicas": 3}})),
    ];
    for (kind, name, patch) in &changes {
        let obj = w.patch(changed, kind, name, patch.clone()).await;
        assert_eq!(
            stage(&obj),
            Stage::Unobserved,
            "{kind} {name}: {}",
            describe(&obj)
        );
    }
    for (kind, name, _) in &changes {
        w.wait_stage("ready again", kind, name, Stage::Ready).await;
    }

    // 5. Deleting: the ProviderConfig first (it stays while objects use it), then everything.
    let deleting = "deleting";
    w.delete(deleting, "ProviderConfig", &pc).await;
    w.wait_stage(deleting, "ProviderConfig", &pc, Stage::Deleting)
        .await;
    let mut doomed: Vec<(&str, &str)> = vec![
        ("EdgeCloud", "fleet"),
        ("EdgeCloud", "ghost"),
        ("EdgeInstance", "vm"),
        ("EdgeInstance", "bad-image"),
        ("SecurityGroup", "ghost"),
        ("Vpc", "ghost"),
    ];
    for (kind, name) in &doomed {
        w.delete(deleting, kind, name).await;
    }
    // The instance holds the Vpc and the group: they are deleted while it is still there.
    doomed.extend([("SecurityGroup", "web"), ("Vpc", "net")]);
    for (kind, name) in &doomed[6..] {
        w.delete(deleting, kind, name).await;
    }
    for (kind, name) in &doomed {
        wait_deleted(&w.api(kind), name, WAIT).await.unwrap();
    }
    wait_deleted(&w.api("ProviderConfig"), &pc, WAIT).await.unwrap();

    for recorder in &world.recorders {
        recorder.abort();
    }
    let all = snapshots.lock().unwrap().clone();
    let coverage = check_all(&all);
    let required = ["New", "Reconciling", "Ready", "Changed", "Stalled", "Deleting"];
    for (kind, seen) in &coverage {
        assert!(
            !seen.contains("StaleReady"),
            "{kind}: the operator wrote Ready=True for an older generation"
        );
    }
    for kind in KINDS {
        let seen = coverage.get(kind).cloned().unwrap_or_default();
        let missing: Vec<&str> = required.iter().copied().filter(|t| !seen.contains(*t)).collect();
        assert!(
            missing.is_empty(),
            "{kind}: no snapshot in {missing:?} (seen {seen:?})"
        );
    }
    world.env.teardown().await;
}

fn synthetic(kind: &str, generation: i64, spec: Value, status: Option<Value>) -> Value {
    let mut obj = json!({"apiVersion": "edgefleet.io/v1alpha1", "kind": kind,
        "metadata": {"name": "x", "namespace": "team-a", "generation": generation}, "spec": spec});
    if let Some(status) = status {
        obj["status"] = status;
    }
    obj
}

fn cond(type_: &str, status: &str, reason: &str, generation: i64) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": format!("{type_} {reason}"),
        "observedGeneration": generation, "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

#[tokio::test]
#[ignore = "needs cluster"] // needs the kstatus program, which the cluster phase builds
async fn synthetic_states_map_the_same() {
    let ready = |g| cond("Ready", "True", "Available", g);
    let idle = |g| cond("Reconciling", "False", "Idle", g);
    let not_stalled = |g| cond("Stalled", "False", "NotStalled", g);
    let mut deleting_stalled = synthetic(
        "ProviderConfig",
        1,
        json!({}),
        Some(json!({"observedGeneration": 1, "conditions": [
            cond("Ready", "False", "Deleting", 1), cond("Stalled", "True", "DeletionBlocked", 1)]})),
    );
    deleting_stalled["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    let cases = [
        (
            "schema default",
            synthetic(
                "Vpc",
                1,
                json!({}),
                Some(json!({"observedGeneration": -1, "conditions": []})),
            ),
            Stage::Unobserved,
        ),
        (
            "ready",
            synthetic(
                "Vpc",
                2,
                json!({}),
                Some(json!({"observedGeneration": 2, "conditions": [ready(2), idle(2), not_stalled(2)]})),
            ),
            Stage::Ready,
        ),
        (
            "spec changed",
            synthetic(
                "SecurityGroup",
                3,
                json!({}),
                Some(json!({"observedGeneration": 2, "conditions": [ready(2), idle(2)]})),
            ),
            Stage::Unobserved,
        ),
        (
            "ready of an older generation",
            synthetic(
                "EdgeInstance",
                3,
                json!({}),
                Some(json!({"observedGeneration": 3, "conditions": [ready(2)]})),
            ),
            Stage::StaleReady,
        ),
        (
            "not ready, of an older generation",
            synthetic(
                "EdgeInstance",
                3,
                json!({}),
                Some(
                    json!({"observedGeneration": 3, "conditions": [cond("Ready", "False", "Unavailable", 2)]}),
                ),
            ),
            Stage::Pending,
        ),
        (
            "ready unknown",
            synthetic(
                "ProviderConfig",
                1,
                json!({}),
                Some(
                    json!({"observedGeneration": 1, "conditions": [cond("Ready", "Unknown", "Pending", 1)]}),
                ),
            ),
            Stage::Pending,
        ),
        (
            "not ready and idle",
            synthetic(
                "EdgeInstance",
                1,
                json!({}),
                Some(
                    json!({"observedGeneration": 1, "conditions": [cond("Ready", "False", "Unavailable", 1), idle(1), not_stalled(1)]}),
                ),
            ),
            Stage::NotReady,
        ),
        (
            "stalled",
            synthetic(
                "EdgeInstance",
                1,
                json!({}),
                Some(
                    json!({"observedGeneration": 1, "conditions": [cond("Ready", "False", "ReconcileError", 1), idle(1), cond("Stalled", "True", "NotInCatalog", 1)]}),
                ),
            ),
            Stage::Stalled,
        ),
        (
            "paused and ready",
            synthetic(
                "EdgeCloud",
                2,
                json!({"paused": true}),
                Some(json!({"observedGeneration": 2, "conditions": [ready(2), idle(2)]})),
            ),
            Stage::Ready,
        ),
        (
            "paused, spec changed",
            synthetic(
                "EdgeCloud",
                3,
                json!({"paused": true}),
                Some(json!({"observedGeneration": 2, "conditions": [ready(2)]})),
            ),
            Stage::Unobserved,
        ),
        ("deleting while stalled", deleting_stalled, Stage::Deleting),
    ];
    let snapshots: Vec<Snapshot> = cases
        .iter()
        .map(|(label, obj, want)| {
            assert_eq!(stage(obj), *want, "{label}");
            Snapshot {
                label: (*label).to_owned(),
                obj: {
                    let mut obj = obj.clone();
                    obj["metadata"]["resourceVersion"] = json!(*label);
                    obj
                },
            }
        })
        .collect();
    check_all(&snapshots);
    // Argo CD tells a paused fleet apart; kstatus has no such state.
    let paused: Vec<Value> = cases
        .iter()
        .filter(|(label, _, _)| *label == "paused and ready")
        .map(|(_, obj, _)| obj.clone())
        .collect();
    assert_eq!(argocd_health(&paused)[0].status, "Suspended");
    assert_eq!(
        kstatus(&paused)[0],
        Verdict {
            status: "Current".into(),
            message: "Resource is Ready".into()
        }
    );
}
