//! EdgeInstance on Huawei ModelArts DevServer against the real control plane and the emulator's
//! modelarts listener (which serves IAM and the BSS orders too): a pay-per-use DevServer → Ready,
//! stopped, started, rebooted, adopted by an ObserveOnly view, left by Orphan; spec errors named by
//! field (a ModelArts section on an IEC account, a site, a system disk ModelArts does not take); a
//! prepaid DevServer Reconciling with its order pending payment, Ready once the order is paid, its
//! delete refused until the subscription ends (Stalled DeletionBlocked naming the expiry) and left by
//! Orphan; a cancelled order stalls OrderFailed; the operator killed while an order is pending places
//! no second order; a pay-per-use create whose answer is lost (and the server listed late) is
//! recovered, never repeated, by the same operator and by a restarted one; drift: a server stopped out
//! of band is started again, one deleted out of band is recreated (ExternallyDeleted); a ModelArts
//! ProviderConfig's credentials are probed (accepted, rejected with the cloud's code and no secret
//! shown, accepted again once fixed); throttling converges without a storm.
//!
//! Each test owns a namespace, an emulator and, besides the harness's IEC ProviderConfig, a ModelArts
//! ProviderConfig pointing at the emulator's modelarts listener (no project id: it is looked up from
//! IAM by region).
//!
//! Run: `cargo xtask control-plane up`, `eval "$(cargo xtask control-plane env)"`, `kubectl apply -f crds/`,
//! `cargo test --test modelarts_edge_instance -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use edgefleet::api::condition::{CREDENTIALS_VALID, READY, RECONCILING, STALLED};
use edgefleet::api::edge_instance::{EdgeInstance, EdgeInstanceStatus};
use edgefleet::api::provider_config::{ProviderConfig, ProviderType};
use edgefleet::controller::intent::CreateIntent;
use edgefleet::provider::{
    Credentials, PowerAction, Provider, ProviderKind, ProviderMetrics, ProviderRegistry, ProviderSettings,
    SecretString,
};
use edgefleet_emulator::Faults;
use edgefleet_emulator::config::{DEFAULT_AK, DEFAULT_SK};
use edgefleet_emulator::core::faults::{ConsistencyFault, LostResponseFault};
use k8s_openapi::api::core::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};
use support::harness::*;
use support::*;

const FLAVOR: &str = "Si2.large.4";
const IMAGE: &str = "c90fb553-2cdb-4b81-b56a-ef68812c6cf7";
const VPC: &str = "05982b48-a70f-43a1-a2b0-1fe36a236172";
const SUBNET: &str = "38cf274a-98f9-4f6f-b622-5ed0e4a3db54";
const GROUP: &str = "150a2c76-1334-45f6-b28f-419f9b1d1742";

/// One ModelArts test's world: the harness's and a ModelArts ProviderConfig.
struct ModelArts {
    env: Env,
    api: Api<EdgeInstance>,
    pc: String,
}

async fn start(prefix: &str, faults: Faults) -> ModelArts {
    let env = Env::start(prefix, faults).await;
    let pc = format!("{}-modelarts", env.pc);
    env.create_provider_config_for(ProviderType::ModelArts, &pc, &env.secret)
        .await;
    let api = env.ns.api();
    ModelArts { env, api, pc }
}

impl ModelArts {
    /// A pay-per-use DevServer in the emulator's VPC, subnet and group, logging in with its key pair.
    fn instance(&self, name: &str, model_arts: Value) -> EdgeInstance {
        let mut ei: EdgeInstance = serde_json::from_value(json!({
            "apiVersion": "edgefleet.io/v1alpha1",
            "kind": "EdgeInstance",
            "metadata": {"name": name},
            "spec": {
                "providerConfigRef": {"name": self.pc},
                "flavor": FLAVOR,
                "image": IMAGE,
                "rootVolume": {"type": "SSD", "size": 100},
                "network": {"vpcId": VPC, "subnets": [{"id": SUBNET}], "securityGroupIds": [GROUP]},
                "keyName": "KeyPair-edgefleet",
                "modelArts": model_arts,
            }
        }))
        .unwrap();
        ei.metadata = self.env.meta(name);
        ei
    }

    fn prepaid(&self, name: &str) -> EdgeInstance {
        self.instance(
            name,
            json!({"serverType": "ECS", "arch": "X86", "availabilityZone": "cn-north-4a",
                   "charging": {"mode": "PRE_PAID", "periodType": "MONTH", "periodNum": 1}}),
        )
    }

    /// The emulator's DevServers.
    fn servers(&self) -> Vec<Value> {
        self.env.cloud("modelarts.dev_server")
    }

    /// The emulator's billing orders.
    fn orders(&self) -> Vec<Value> {
        self.env.cloud("bss.order")
    }

    fn act(&self, kind: &str, id: &str, action: &str) {
        assert!(
            self.env.emu().app().act(kind, id, action).unwrap(),
            "{kind} {id} {action}"
        );
    }

    /// Deletes the EdgeInstances (orphaning what the cloud will not delete), then tears down.
    async fn finish(self) {
        for e in self.api.list(&ListParams::default()).await.unwrap().items {
            merge(
                &self.api,
                &e.name_any(),
                json!({"spec": {"deletionPolicy": "Orphan"}}),
            )
            .await;
            delete(&self.api, &e.name_any()).await.unwrap();
            wait_deleted(&self.api, &e.name_any(), WAIT).await.unwrap();
        }
        let pcs: Api<ProviderConfig> = Api::all(self.env.client.clone());
        let _ = delete(&pcs, &self.pc).await;
        let _ = wait_deleted(&pcs, &self.pc, WAIT).await;
        self.env.teardown().await;
    }
}

/// A ModelArts client of the test account, as a person at the console (out-of-band changes).
fn console(m: &ModelArts) -> std::sync::Arc<dyn Provider> {
    let url = m.env.emu().url_of("modelarts").unwrap();
    let mut s = ProviderSettings::new(
        ProviderKind::ModelArts,
        format!("{}-console", m.pc),
        Credentials::AkSk {
            access_key: DEFAULT_AK.to_owned(),
            secret_key: SecretString::new(DEFAULT_SK),
            security_token: None,
        },
    );
    s.region = Some("cn-north-4".into());
    s.endpoints.api = Some(url.clone());
    s.endpoints.iam = Some(url.clone());
    s.endpoints.bss = Some(url);
    ProviderRegistry::new(ProviderMetrics::new())
        .get_or_build(&s)
        .unwrap()
}

async fn reasons(m: &ModelArts) -> Vec<String> {
    let events: Api<Event> = m.env.ns.api();
    events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .collect()
}

fn status_of(ei: &EdgeInstance) -> EdgeInstanceStatus {
    ei.status.clone().unwrap_or_default()
}

fn state(e: &EdgeInstance) -> Option<String> {
    status_of(e).state
}

async fn stalled_naming(api: &Api<EdgeInstance>, name: &str, field: &str) -> EdgeInstance {
    wait_for(api, name, WAIT, |e: &EdgeInstance| {
        has(e, STALLED, "True") && message_of(e, STALLED).contains(field)
    })
    .await
    .unwrap_or_else(|e| panic!("{name}: never Stalled naming {field}: {e}"))
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn modelarts_pay_per_use_devserver_powers_reboots_is_observed_and_orphaned() {
    let m = start("ma-ei-life", Faults::default()).await;
    let spec = json!({"serverType": "ECS", "arch": "X86", "availabilityZone": "cn-north-4a"});
    create(&m.api, &m.instance("gpu", spec.clone())).await;
    let e = ready(&m.api, "gpu").await;
    let s = status_of(&e);
    let id = s.instance_id.clone().unwrap();
    assert_eq!(s.state.as_deref(), Some("RUNNING"));
    assert_eq!(s.order_id, None, "pay-per-use has no order");
    assert!(!s.private_ips.is_empty(), "{s:?}");
    let servers = m.servers();
    assert_eq!(servers.len(), 1, "{servers:?}");

    merge(&m.api, "gpu", json!({"spec": {"powerState": "Stopped"}})).await;
    wait_for(&m.api, "gpu", WAIT, |e: &EdgeInstance| {
        has(e, READY, "True") && state(e).as_deref() == Some("STOPPED")
    })
    .await
    .unwrap();
    merge(&m.api, "gpu", json!({"spec": {"powerState": "Running"}})).await;
    wait_for(&m.api, "gpu", WAIT, |e: &EdgeInstance| {
        has(e, READY, "True") && state(e).as_deref() == Some("RUNNING")
    })
    .await
    .unwrap();
    let reboots = m
        .env
        .emu()
        .calls()
        .mutations("PUT /v1/{project_id}/dev-servers/{id}/reboot");
    merge(
        &m.api,
        "gpu",
        json!({"metadata": {"annotations": {edgefleet::api::REBOOT_REQUEST_ANNOTATION: "r1"}}}),
    )
    .await;
    wait_for(&m.api, "gpu", WAIT, |e: &EdgeInstance| {
        status_of(e).last_reboot_request.as_deref() == Some("r1") && has(e, READY, "True")
    })
    .await
    .unwrap();
    assert_eq!(
        m.env
            .emu()
            .calls()
            .mutations("PUT /v1/{project_id}/dev-servers/{id}/reboot"),
        reboots + 1,
        "one reboot per request"
    );

    // An ObserveOnly view by id reports drift and changes nothing.
    let mut watcher = m.instance("watcher", spec);
    watcher.spec.adopt_id = Some(id.clone());
    watcher.spec.management_policy = edgefleet::api::common::ManagementPolicy::ObserveOnly;
    watcher.spec.power_state = edgefleet::api::edge_instance::PowerState::Stopped;
    create(&m.api, &watcher).await;
    let w = wait_for(&m.api, "watcher", WAIT, |e: &EdgeInstance| {
        has_reason(e, READY, "True", "Observed") && message_of(e, READY).contains("stop the instance")
    })
    .await
    .unwrap();
    assert_eq!(status_of(&w).instance_id.as_deref(), Some(id.as_str()));
    delete(&m.api, "watcher").await.unwrap();
    wait_deleted(&m.api, "watcher", WAIT).await.unwrap();
    assert_eq!(m.servers()[0]["status"], "RUNNING", "ObserveOnly changed nothing");

    // Orphan leaves the server; Delete (the default) of a pay-per-use server removes it.
    merge(&m.api, "gpu", json!({"spec": {"deletionPolicy": "Orphan"}})).await;
    wait_for(&m.api, "gpu", WAIT, |e: &EdgeInstance| observed_current(e))
        .await
        .unwrap();
    delete(&m.api, "gpu").await.unwrap();
    wait_deleted(&m.api, "gpu", WAIT).await.unwrap();
    assert_eq!(m.servers().len(), 1, "Orphan left the server");
    let mut adopt = m.instance("again", json!({}));
    adopt.spec.adopt_id = Some(id.clone());
    create(&m.api, &adopt).await;
    ready(&m.api, "again").await;
    delete(&m.api, "again").await.unwrap();
    wait_deleted(&m.api, "again", WAIT).await.unwrap();
    assert!(m.servers().is_empty(), "deleted: {:?}", m.servers());
    m.finish().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn modelarts_spec_errors_stall_naming_the_field() {
    let m = start("ma-ei-spec", Faults::default()).await;
    let mut on_iec = m.instance("on-iec", json!({}));
    on_iec.spec.provider_config_ref.name = m.env.pc.clone();
    create(&m.api, &on_iec).await;
    stalled_naming(&m.api, "on-iec", "spec.modelArts").await;
    let mut site = m.instance("site", json!({}));
    site.spec.placement.site_id = Some("cn-north-4a".into());
    create(&m.api, &site).await;
    stalled_naming(&m.api, "site", "spec.placement.siteId").await;
    let mut small = m.instance("small", json!({}));
    small.spec.root_volume.size = 40;
    create(&m.api, &small).await;
    let e = stalled_naming(&m.api, "small", "spec.rootVolume.size").await;
    assert!(
        message_of(&e, STALLED).contains("100"),
        "{}",
        message_of(&e, STALLED)
    );
    assert!(m.servers().is_empty(), "no spec error created anything");
    m.finish().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn modelarts_prepaid_order_paid_then_delete_refused_until_orphaned_and_a_cancelled_order_stalls() {
    let m = start("ma-ei-order", Faults::default()).await;
    create(&m.api, &m.prepaid("paid")).await;
    let e = wait_for(&m.api, "paid", WAIT, |e: &EdgeInstance| {
        has_reason(e, RECONCILING, "True", "OrderPending")
            && message_of(e, RECONCILING).contains("pending payment")
    })
    .await
    .unwrap();
    let order = status_of(&e).order_id.expect("the order is in status");
    assert_eq!(status_of(&e).instance_id, None, "no server before payment");
    assert!(m.servers().is_empty());
    m.act("bss.order", &order, "pay");
    let e = ready(&m.api, "paid").await;
    let s = status_of(&e);
    assert_eq!(
        s.order_id.as_deref(),
        Some(order.as_str()),
        "the order stays in status"
    );
    let id = s.instance_id.unwrap();
    assert_eq!(m.orders().len(), 1, "one order");

    delete(&m.api, "paid").await.unwrap();
    let e = wait_for(&m.api, "paid", WAIT, |e: &EdgeInstance| {
        has_reason(e, STALLED, "True", "DeletionBlocked")
    })
    .await
    .unwrap();
    let why = message_of(&e, STALLED);
    assert!(
        why.contains(&id) && why.contains("prepaid until 20") && why.contains("Orphan"),
        "{why}"
    );
    merge(&m.api, "paid", json!({"spec": {"deletionPolicy": "Orphan"}})).await;
    wait_deleted(&m.api, "paid", WAIT).await.unwrap();
    assert_eq!(m.servers().len(), 1, "the prepaid server is left in place");

    create(&m.api, &m.prepaid("cancelled")).await;
    let e = wait_for(&m.api, "cancelled", WAIT, |e: &EdgeInstance| {
        status_of(e).order_id.is_some()
    })
    .await
    .unwrap();
    m.act("bss.order", &status_of(&e).order_id.unwrap(), "cancel");
    let e = wait_for(&m.api, "cancelled", WAIT, |e: &EdgeInstance| {
        has_reason(e, STALLED, "True", "OrderFailed")
    })
    .await
    .unwrap();
    assert!(
        message_of(&e, STALLED).contains("cancelled"),
        "{}",
        message_of(&e, STALLED)
    );
    assert_eq!(
        m.orders().len(),
        2,
        "no order placed again after the cancellation"
    );
    m.act("modelarts.dev_server", &id, "expire");
    m.finish().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn modelarts_operator_killed_while_an_order_is_pending_places_no_second_order() {
    let mut m = start("ma-ei-crash", Faults::default()).await;
    create(&m.api, &m.prepaid("crash")).await;
    m.env.crash_once_created("bss.order", 17).await;
    let e = wait_for(&m.api, "crash", WAIT, |e: &EdgeInstance| {
        has_reason(e, RECONCILING, "True", "OrderPending") || has(e, STALLED, "True")
    })
    .await
    .unwrap();
    let orders = m.orders();
    assert_eq!(orders.len(), 1, "one order after the restart: {orders:?}");
    let order = orders[0]["order_id"]
        .as_str()
        .or_else(|| orders[0]["id"].as_str())
        .unwrap()
        .to_owned();
    if let Some(recorded) = status_of(&e).order_id {
        assert_eq!(recorded, order);
    }
    m.act("bss.order", &order, "pay");
    let e = ready(&m.api, "crash").await;
    assert!(status_of(&e).instance_id.is_some());
    assert_eq!(m.orders().len(), 1, "still one order");
    assert_eq!(m.servers().len(), 1, "one server");
    let id = status_of(&e).instance_id.unwrap();
    m.act("modelarts.dev_server", &id, "expire");
    m.finish().await;
}

const CREATE: &str = "POST /v1/{project_id}/dev-servers";

#[tokio::test]
#[ignore = "needs cluster"]
async fn modelarts_lost_create_answers_are_recovered_never_repeated_also_across_a_restart() {
    // Every create takes effect but its answer is lost, and new servers are listed 1.5 s late.
    let faults = Faults {
        seed: 13,
        lost_responses: vec![LostResponseFault {
            operation: CREATE.into(),
            rate: 1.0,
            mode: Default::default(),
        }],
        eventual_consistency: vec![ConsistencyFault {
            kind: "modelarts.dev_server".into(),
            delay_ms: 1500,
        }],
        ..Faults::default()
    };
    let mut m = start("ma-ei-lost", faults).await;
    let spec = json!({"serverType": "ECS", "arch": "X86", "availabilityZone": "cn-north-4a"});
    create(&m.api, &m.instance("lost", spec.clone())).await;
    let e = ready(&m.api, "lost").await;
    assert_eq!(m.servers().len(), 1, "exactly one server: {:?}", m.servers());
    assert_eq!(m.servers()[0]["id"], status_of(&e).instance_id.unwrap().as_str());
    assert_eq!(m.env.emu().calls().mutations(CREATE), 1, "never repeated");
    let seen = reasons(&m).await;
    assert!(seen.iter().any(|r| r == "Recovered"), "{seen:?}");

    // The operator dies after the create reached the cloud (its answer lost): the new one finds it.
    create(&m.api, &m.instance("crash", spec)).await;
    wait_for(&m.api, "crash", WAIT, |e: &EdgeInstance| {
        CreateIntent::of(e).is_some() && status_of(e).instance_id.is_none()
    })
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while m.servers().len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the create never reached the cloud"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    m.env.crash_controllers().await;
    m.env.set_faults(Faults {
        seed: 13,
        ..Faults::default()
    });
    m.env.start_controllers();
    let e = ready(&m.api, "crash").await;
    let id = status_of(&e).instance_id.unwrap();
    let servers = m.servers();
    assert_eq!(servers.len(), 2, "one server per object: {servers:?}");
    assert!(servers.iter().any(|s| s["id"] == id.as_str()), "{servers:?}");
    assert_eq!(m.env.emu().calls().mutations(CREATE), 2, "never repeated");
    m.finish().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn modelarts_drift_a_server_stopped_out_of_band_is_started_and_one_deleted_is_recreated() {
    let m = start("ma-ei-drift", Faults::default()).await;
    let spec = json!({"serverType": "ECS", "arch": "X86", "availabilityZone": "cn-north-4a"});
    create(&m.api, &m.instance("drift", spec)).await;
    let e = ready(&m.api, "drift").await;
    let first = status_of(&e).instance_id.unwrap();
    let cloud = console(&m);
    let servers = cloud.instances().unwrap();
    let ids = [first.clone()];

    const START: &str = "PUT /v1/{project_id}/dev-servers/{id}/start";
    let starts = m.env.emu().calls().mutations(START);
    servers
        .power(&ids, PowerAction::Stop { force: false })
        .await
        .unwrap();
    wait_for(&m.api, "drift", WAIT, |_: &EdgeInstance| {
        m.env.emu().calls().mutations(START) > starts
    })
    .await
    .expect("the drift poll starts the stopped server");
    wait_for(&m.api, "drift", WAIT, |e: &EdgeInstance| {
        has(e, READY, "True") && state(e).as_deref() == Some("RUNNING")
    })
    .await
    .unwrap();

    servers.delete(&ids).await.unwrap();
    let e = wait_for(&m.api, "drift", WAIT, |e: &EdgeInstance| {
        has(e, READY, "True") && status_of(e).instance_id.is_some_and(|id| id != first)
    })
    .await
    .expect("recreated under a new id");
    let second = status_of(&e).instance_id.unwrap();
    let seen = reasons(&m).await;
    assert!(seen.iter().any(|r| r == "ExternallyDeleted"), "{seen:?}");
    let live: Vec<Value> = m.servers();
    assert_eq!(live.len(), 1, "the deleted one is gone, one recreated: {live:?}");
    assert_eq!(live[0]["id"], second.as_str());
    assert_eq!(m.env.emu().calls().mutations(CREATE), 2, "one create each");
    m.finish().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn modelarts_provider_config_credentials_are_probed_and_a_wrong_secret_is_named_without_it() {
    const WRONG_SK: &str = "WRONG-SECRET-KEY-must-never-be-shown-0017";
    let m = start("ma-pc", Faults::default()).await;
    let pcs: Api<ProviderConfig> = Api::all(m.env.client.clone());
    let accepted = |pc: &ProviderConfig| has_reason(pc, CREDENTIALS_VALID, "True", "CredentialsAccepted");
    wait_for(&pcs, &m.pc, WAIT, accepted).await.unwrap();
    let probes = m.env.emu().calls().requests("GET /v1/{project_id}/dev-servers");
    assert!(probes > 0, "the probe is a signed DevServer call");

    m.env.put_secret(DEFAULT_AK, WRONG_SK).await;
    let pc = wait_for(&pcs, &m.pc, WAIT, |pc: &ProviderConfig| {
        has_reason(pc, CREDENTIALS_VALID, "False", "CredentialsRejected")
    })
    .await
    .unwrap();
    let message = message_of(&pc, CREDENTIALS_VALID);
    assert!(message.contains("IAM.0001"), "the cloud's code: {message}");
    let shown = serde_json::to_string(&pc).unwrap();
    assert!(
        !shown.contains(WRONG_SK) && !shown.contains(DEFAULT_SK),
        "no secret in the object: {shown}"
    );

    m.env.put_secret(DEFAULT_AK, DEFAULT_SK).await;
    wait_for(&pcs, &m.pc, WAIT, accepted).await.unwrap();
    m.finish().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn modelarts_throttling_converges_without_a_storm() {
    let faults: Faults =
        serde_json::from_value(json!({"throttle": [{"limit_per_second": 2, "retry_after_secs": 1}]}))
            .unwrap();
    let m = start("ma-ei-throttle", faults).await;
    create(
        &m.api,
        &m.instance("slow", json!({"availabilityZone": "cn-north-4a"})),
    )
    .await;
    ready(&m.api, "slow").await;
    let calls = m.env.emu().calls();
    let creates = calls.mutations(CREATE);
    assert_eq!(creates, 1, "one create");
    let report = m.env.emu().app().retry_after().report();
    assert!(report.throttled >= 1, "the gateway throttled: {report:?}");
    m.finish().await;
}
