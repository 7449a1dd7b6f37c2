//! EdgeInstance on Volcengine veEN against the real control plane and the emulator's veEN listener: an
//! instance created into an existing cloud server (`spec.fleetId`) → Ready with its name, power
//! Stopped / Running, a reboot request, a rename and a delete that leaves nothing (a settled object's
//! passes mutate nothing and write nothing); an instance offlined out of band is recreated; an image change refused as UnsupportedChange; adoption by id with
//! ObserveOnly and Orphan; spec errors named by field (no fleet, a flavor other than the cloud server's,
//! an IEC section, a fleet on an IEC account); a fleetRef waiting for its EdgeCloud to exist and to have
//! an id, then joining that cloud server; and a create whose answer is lost, with a controller crash
//! before the status write, that ends with exactly one instance.
//!
//! Each test owns a namespace, an emulator and, besides the harness's IEC ProviderConfig, a veEN
//! ProviderConfig pointing at the emulator's veEN listener; the cloud server the instances join is made
//! through the veEN client, as a person at the console would.
//!
//! Run: `cargo xtask control-plane up`, `eval "$(cargo xtask control-plane env)"`, `kubectl apply -f crds/`,
//! `cargo test --test veen_edge_instance -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use edgefleet::api::condition::{READY, STALLED};
use edgefleet::api::edge_instance::EdgeInstance;
use edgefleet::api::provider_config::{ProviderConfig, ProviderType};
use edgefleet::controller::intent::CreateIntent;
use edgefleet::provider::veen::VeenProvider;
use edgefleet::provider::veen::client::VeenClient;
use edgefleet::provider::veen::types::CreateCloudServer;
use edgefleet::provider::{
    Credentials as ProviderCredentials, ProviderKind, ProviderMetrics, ProviderSettings, RateBudget,
    RateLimiter,
};
use edgefleet_emulator::Faults;
use edgefleet_emulator::core::faults::{ConsistencyFault, LostResponseFault};
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};
use support::harness::*;
use support::quiescence::assert_quiescent;
use support::*;

const SPEC: &str = "veEN.C1.large";
const IMAGE: &str = "image-ubuntu2004";

/// One veEN test's world: the harness's, a veEN ProviderConfig and an empty cloud server.
struct Veen {
    env: Env,
    api: Api<EdgeInstance>,
    pc: String,
    cloud_server: String,
    client: Arc<VeenProvider>,
}

fn veen_provider(url: &str) -> Arc<VeenProvider> {
    let mut s = ProviderSettings::new(
        ProviderKind::Veen,
        "veen-out-of-band",
        ProviderCredentials::AkSk {
            access_key: edgefleet_emulator::config::DEFAULT_AK.to_owned(),
            secret_key: edgefleet_emulator::config::DEFAULT_SK.into(),
            security_token: None,
        },
    );
    s.endpoints.api = Some(url.to_owned());
    Arc::new(
        VeenProvider::new(
            &s,
            Arc::new(RateLimiter::new(RateBudget {
                qps: 1000.0,
                burst: 1000,
            })),
            ProviderMetrics::new(),
        )
        .unwrap(),
    )
}

async fn start(prefix: &str, faults: Faults) -> Veen {
    let env = Env::start(prefix, faults).await;
    let url = env.emu().url_of("veen").unwrap();
    let pc = format!("{}-veen", env.pc);
    env.create_provider_config_for(ProviderType::Veen, &pc, &env.secret)
        .await;
    let client = veen_provider(&url);
    let cloud_server = client
        .client()
        .create_cloud_server(&CreateCloudServer {
            cloudserver_name: "ef-fleet".into(),
            cloud_server_desc: String::new(),
            image_id: IMAGE.into(),
            spec_name: SPEC.into(),
            storage_config: json!({"system_disk": {"storage_type": "CloudBlockSSD", "capacity": "40"}}),
            network_config: json!({"bandwidth_peak": "10"}),
            secret_config: None,
            instance_area_nums: vec![],
            project: None,
            client_token: None,
            tags: vec![],
        })
        .await
        .unwrap()
        .cloud_server_identity;
    let api = env.ns.api();
    Veen {
        env,
        api,
        pc,
        cloud_server,
        client,
    }
}

impl Veen {
    fn cloud(&self) -> &VeenClient {
        self.client.client()
    }

    /// An EdgeInstance joining the cloud server at a Hangzhou China Mobile cluster.
    fn instance(&self, name: &str) -> EdgeInstance {
        let mut ei: EdgeInstance = serde_json::from_value(json!({
            "apiVersion": "edgefleet.io/v1alpha1",
            "kind": "EdgeInstance",
            "metadata": {"name": name},
            "spec": {
                "providerConfigRef": {"name": self.pc},
                "fleetId": self.cloud_server,
                "flavor": SPEC,
                "image": IMAGE,
                "placement": {"city": "hangzhou", "operator": "chinamobile"},
                "rootVolume": {"type": "CloudBlockSSD", "size": 40},
                "veen": {"hostName": "ef-host", "createTimeoutSeconds": 600},
            }
        }))
        .unwrap();
        ei.metadata = self.env.meta(name);
        ei
    }

    /// The emulator's veEN instances that are not being deleted.
    fn live(&self) -> Vec<Value> {
        self.env
            .cloud("veen.instance")
            .into_iter()
            .filter(|i| i["status"] != "terminating")
            .collect()
    }

    /// Deletes the EdgeInstances, waits for the cloud to let them go, then tears down.
    async fn finish(self) {
        for e in self.api.list(&ListParams::default()).await.unwrap().items {
            delete(&self.api, &e.name_any()).await.unwrap();
            wait_deleted(&self.api, &e.name_any(), WAIT).await.unwrap();
        }
        let pcs: Api<ProviderConfig> = Api::all(self.env.client.clone());
        let _ = delete(&pcs, &self.pc).await;
        let _ = wait_deleted(&pcs, &self.pc, WAIT).await;
        self.env.teardown().await;
    }
}

fn status_of(ei: &EdgeInstance) -> edgefleet::api::edge_instance::EdgeInstanceStatus {
    ei.status.clone().unwrap_or_default()
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
async fn veen_instance_joins_its_cloud_server_then_powers_reboots_renames_and_deletes() {
    let v = start("veen-ei-life", Faults::default()).await;
    create(&v.api, &v.instance("web")).await;
    let e = ready(&v.api, "web").await;
    let s = status_of(&e);
    let id = s.instance_id.clone().unwrap();
    assert_eq!(
        s.edge_cloud_id.as_deref(),
        Some(v.cloud_server.as_str()),
        "in its cloud server"
    );
    assert_eq!(s.name.as_deref(), Some("web"), "named as the spec asks");
    assert_eq!(s.operator.as_deref(), Some("chinamobile"));
    let row = v.live();
    assert_eq!(row.len(), 1, "{row:?}");
    assert_eq!(row[0]["host_name"], "ef-host");
    assert_eq!(row[0]["cloud_server_id"], v.cloud_server.as_str());
    assert_quiescent(&v.env, &v.api, "web").await;

    merge(&v.api, "web", json!({"spec": {"powerState": "Stopped"}})).await;
    wait_for(&v.api, "web", WAIT, |e: &EdgeInstance| {
        has(e, READY, "True") && status_of(e).state.as_deref() == Some("stop")
    })
    .await
    .unwrap();
    merge(&v.api, "web", json!({"spec": {"powerState": "Running"}})).await;
    wait_for(&v.api, "web", WAIT, |e: &EdgeInstance| {
        has(e, READY, "True") && status_of(e).state.as_deref() == Some("running")
    })
    .await
    .unwrap();

    let reboots = v.env.emu().calls().mutations("veen:RebootInstances");
    merge(
        &v.api,
        "web",
        json!({"metadata": {"annotations": {edgefleet::api::REBOOT_REQUEST_ANNOTATION: "r1"}}}),
    )
    .await;
    wait_for(&v.api, "web", WAIT, |e: &EdgeInstance| {
        status_of(e).last_reboot_request.as_deref() == Some("r1") && has(e, READY, "True")
    })
    .await
    .unwrap();
    assert_eq!(
        v.env.emu().calls().mutations("veen:RebootInstances"),
        reboots + 1,
        "one reboot per request"
    );

    merge(&v.api, "web", json!({"spec": {"name": "web-renamed"}})).await;
    wait_for(&v.api, "web", WAIT, |e: &EdgeInstance| {
        status_of(e).name.as_deref() == Some("web-renamed") && has(e, READY, "True")
    })
    .await
    .unwrap();
    assert_eq!(
        v.cloud().get_instance(&id).await.unwrap().instance_name,
        "web-renamed"
    );

    // The image is the cloud server's: a change is refused naming it, and reverting it clears that.
    merge(&v.api, "web", json!({"spec": {"image": "image-centos79"}})).await;
    let e = wait_for(&v.api, "web", WAIT, |e: &EdgeInstance| {
        has_reason(e, STALLED, "True", "UnsupportedChange")
    })
    .await
    .unwrap();
    assert!(
        message_of(&e, STALLED).contains("image"),
        "{}",
        message_of(&e, STALLED)
    );
    merge(&v.api, "web", json!({"spec": {"image": IMAGE}})).await;
    wait_for(&v.api, "web", WAIT, |e: &EdgeInstance| {
        has(e, READY, "True") && has(e, STALLED, "False") && observed_current(e)
    })
    .await
    .unwrap();

    delete(&v.api, "web").await.unwrap();
    wait_deleted(&v.api, "web", WAIT).await.unwrap();
    assert!(v.live().is_empty(), "nothing left: {:?}", v.live());
    v.finish().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_instance_offlined_out_of_band_is_recreated_in_its_cloud_server() {
    let v = start("veen-ei-drift", Faults::default()).await;
    create(&v.api, &v.instance("drift")).await;
    let first = status_of(&ready(&v.api, "drift").await).instance_id.unwrap();
    v.cloud()
        .offline(std::slice::from_ref(&first), true)
        .await
        .unwrap();
    let e = wait_for(&v.api, "drift", WAIT, |e: &EdgeInstance| {
        let s = status_of(e);
        has(e, READY, "True") && s.instance_id.as_deref().is_some_and(|id| id != first)
    })
    .await
    .unwrap();
    let live = v.live();
    assert_eq!(live.len(), 1, "one replacement: {live:?}");
    assert_eq!(live[0]["id"], status_of(&e).instance_id.unwrap().as_str());
    assert_eq!(live[0]["cloud_server_id"], v.cloud_server.as_str());
    v.finish().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_instance_adopted_observe_only_reports_and_orphan_leaves_it() {
    let v = start("veen-ei-adopt", Faults::default()).await;
    create(&v.api, &v.instance("owner")).await;
    let id = status_of(&ready(&v.api, "owner").await).instance_id.unwrap();
    // An ObserveOnly view of it, then Orphan on the owner: deleting both leaves the cloud instance.
    let mut watcher = v.instance("watcher");
    watcher.spec.adopt_id = Some(id.clone());
    watcher.spec.management_policy = edgefleet::api::common::ManagementPolicy::ObserveOnly;
    watcher.spec.fleet_id = None;
    create(&v.api, &watcher).await;
    let w = ready(&v.api, "watcher").await;
    assert_eq!(status_of(&w).instance_id.as_deref(), Some(id.as_str()));
    assert!(has_reason(&w, READY, "True", "Observed"), "{:?}", w.status);
    merge(&v.api, "watcher", json!({"spec": {"powerState": "Stopped"}})).await;
    let w = wait_for(&v.api, "watcher", WAIT, |e: &EdgeInstance| {
        message_of(e, READY).contains("stop the instance")
    })
    .await
    .unwrap();
    assert!(has(&w, READY, "True"));
    assert_eq!(
        v.cloud().get_instance(&id).await.unwrap().status,
        "running",
        "ObserveOnly changes nothing"
    );
    delete(&v.api, "watcher").await.unwrap();
    wait_deleted(&v.api, "watcher", WAIT).await.unwrap();
    merge(&v.api, "owner", json!({"spec": {"deletionPolicy": "Orphan"}})).await;
    wait_for(&v.api, "owner", WAIT, |e: &EdgeInstance| observed_current(e))
        .await
        .unwrap();
    delete(&v.api, "owner").await.unwrap();
    wait_deleted(&v.api, "owner", WAIT).await.unwrap();
    assert_eq!(v.live().len(), 1, "Orphan left the cloud instance");
    v.cloud().offline(&[id], true).await.unwrap();
    v.finish().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_spec_errors_stall_naming_the_field() {
    let v = start("veen-ei-spec", Faults::default()).await;
    let mut no_fleet = v.instance("no-fleet");
    no_fleet.spec.fleet_id = None;
    create(&v.api, &no_fleet).await;
    let e = stalled_naming(&v.api, "no-fleet", "spec.fleetRef").await;
    assert_eq!(reason_of(&e, STALLED), "InvalidSpec");

    let mut flavor = v.instance("flavor");
    flavor.spec.flavor = "veEN.C1.xlarge".into();
    create(&v.api, &flavor).await;
    let e = stalled_naming(&v.api, "flavor", "spec.flavor").await;
    assert!(
        message_of(&e, STALLED).contains(SPEC),
        "names the cloud server's spec: {}",
        message_of(&e, STALLED)
    );

    // The login and the user data are the cloud server's: a key pair, or a password read from its
    // Secret (only then does the controller see it), is named, never silently dropped.
    let mut key = v.instance("key");
    key.spec.key_name = Some("kp-1".into());
    create(&v.api, &key).await;
    stalled_naming(&v.api, "key", "spec.keyName").await;
    let mut password = v.instance("password");
    password.spec.admin_password_secret_ref = Some(edgefleet::api::common::SecretKeyRef {
        name: v.env.secret.clone(),
        key: "secretKey".into(),
    });
    create(&v.api, &password).await;
    let e = stalled_naming(&v.api, "password", "spec.adminPasswordSecretRef").await;
    assert!(
        !message_of(&e, STALLED).contains(edgefleet_emulator::config::DEFAULT_SK),
        "the secret's value never reaches status"
    );

    let mut iec = v.instance("iec-section");
    iec.spec.veen = None;
    iec.spec.iec = Some(Default::default());
    create(&v.api, &iec).await;
    stalled_naming(&v.api, "iec-section", "spec.iec").await;

    // IEC creates instances on their own: a fleet on an IEC account names spec.fleetRef.
    let mut on_iec = v.instance("on-iec");
    on_iec.spec.provider_config_ref.name = v.env.pc.clone();
    on_iec.spec.veen = None;
    create(&v.api, &on_iec).await;
    let e = stalled_naming(&v.api, "on-iec", "spec.fleetRef").await;
    assert_eq!(reason_of(&e, STALLED), "InvalidSpec");

    let mut waiting = v.instance("waiting");
    waiting.spec.fleet_id = None;
    waiting.spec.fleet_ref = Some(edgefleet::api::common::LocalObjectRef {
        name: "no-such-fleet".into(),
    });
    create(&v.api, &waiting).await;
    wait_for(&v.api, "waiting", WAIT, |e: &EdgeInstance| {
        message_of(e, READY).contains("spec.fleetRef") && message_of(e, READY).contains("no-such-fleet")
    })
    .await
    .unwrap();
    assert!(v.live().is_empty(), "no spec error created anything");
    v.finish().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_lost_create_answer_and_a_crash_before_the_status_write_make_exactly_one() {
    let faults = Faults {
        seed: 11,
        lost_responses: vec![LostResponseFault {
            operation: "veen:CreateInstance".into(),
            rate: 1.0,
            mode: Default::default(),
        }],
        // New instances are listed late, so the lost create is not recovered before the crash.
        eventual_consistency: vec![ConsistencyFault {
            kind: "veen.instance".into(),
            delay_ms: 1500,
        }],
        ..Faults::default()
    };
    let mut v = start("veen-ei-crash", faults).await;
    create(&v.api, &v.instance("crash")).await;
    wait_for(&v.api, "crash", WAIT, |e: &EdgeInstance| {
        CreateIntent::of(e).is_some() && e.status.as_ref().is_none_or(|s| s.instance_id.is_none())
    })
    .await
    .unwrap();
    v.env.crash_once_created("veen.instance", 11).await;
    let e = ready(&v.api, "crash").await;
    let live = v.live();
    assert_eq!(live.len(), 1, "exactly one instance: {live:?}");
    assert_eq!(live[0]["id"], status_of(&e).instance_id.unwrap().as_str());
    delete(&v.api, "crash").await.unwrap();
    wait_deleted(&v.api, "crash", WAIT).await.unwrap();
    assert!(v.live().is_empty(), "no leak");
    v.finish().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_fleet_ref_waits_for_the_edge_cloud_and_its_id_then_joins_that_cloud_server() {
    use edgefleet::api::edge_cloud::EdgeCloud;
    let v = start("veen-ei-ref", Faults::default()).await;
    let mut joiner = v.instance("joiner");
    joiner.spec.fleet_id = None;
    joiner.spec.fleet_ref = Some(edgefleet::api::common::LocalObjectRef { name: "fleet".into() });
    create(&v.api, &joiner).await;
    let waits_for = |what: &'static str| {
        move |e: &EdgeInstance| {
            let m = message_of(e, READY);
            m.contains("spec.fleetRef") && m.contains("\"fleet\"") && m.contains(what)
        }
    };
    wait_for(&v.api, "joiner", WAIT, waits_for("exist"))
        .await
        .unwrap();
    // An EdgeCloud outside this test's controllers (no run label), standing for one whose cloud server
    // exists: its status names the cloud server.
    let fleets: Api<EdgeCloud> = v.env.ns.api();
    let ec: EdgeCloud = serde_json::from_value(json!({
        "apiVersion": "edgefleet.io/v1alpha1",
        "kind": "EdgeCloud",
        "metadata": {"name": "fleet", "namespace": v.env.ns.name()},
        "spec": {
            "providerConfigRef": {"name": v.pc},
            "replicas": 0,
            "coverage": {"level": "City", "policy": "Centralize"},
            "placement": [{"city": "hangzhou", "operator": "chinamobile", "count": 0}],
            "template": {
                "name": "member",
                "flavor": SPEC,
                "image": IMAGE,
                "rootVolume": {"type": "CloudBlockSSD", "size": 40},
                "network": {"vpcId": "none", "nicCount": 1},
            },
        }
    }))
    .unwrap();
    fleets.create(&PostParams::default(), &ec).await.unwrap();
    wait_for(&v.api, "joiner", WAIT, waits_for("get a cloud id"))
        .await
        .unwrap();
    fleets
        .patch_status(
            "fleet",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"status": {"edgeCloudId": v.cloud_server}})),
        )
        .await
        .unwrap();
    let e = ready(&v.api, "joiner").await;
    assert_eq!(
        status_of(&e).edge_cloud_id.as_deref(),
        Some(v.cloud_server.as_str()),
        "joined the EdgeCloud's cloud server"
    );
    assert_eq!(v.live().len(), 1);
    delete(&v.api, "joiner").await.unwrap();
    wait_deleted(&v.api, "joiner", WAIT).await.unwrap();
    assert!(v.live().is_empty());
    fleets.delete("fleet", &Default::default()).await.unwrap();
    v.finish().await;
}

/// Under the emulator's throttle (2 requests/s per account, `FlowLimitExceeded` with `Retry-After: 1`)
/// four instances still converge, one cloud instance each, without an error storm: every 429 costs its
/// Retry-After (the account's limiter pauses every caller), so the calls stay bounded instead of
/// hammering the throttled API. (When exactly a paused call arrives is left to the chaos audit, which
/// allows for calls already past the limiter when the 429 came; on a loaded machine that is up to a
/// second, so a test cannot judge it without judging time.)
#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_throttled_instances_converge_without_an_error_storm() {
    use edgefleet_emulator::core::faults::ThrottleFault;
    let v = start("veen-ei-throttle", Faults::default()).await;
    // The harness's IEC ProviderConfig signs in as the same emulator account: its calls, paced by a
    // budget of its own, would land in the veEN answers' windows. Only the veEN account stays.
    let pcs: Api<ProviderConfig> = Api::all(v.env.client.clone());
    delete(&pcs, &v.env.pc).await.unwrap();
    wait_deleted(&pcs, &v.env.pc, WAIT).await.unwrap();
    v.env.set_faults(Faults {
        throttle: vec![ThrottleFault {
            account: "*".into(),
            limit_per_second: 2,
            retry_after_secs: 1,
        }],
        ..Faults::default()
    });
    let before = v.env.emu().calls().total_requests;
    let names: Vec<String> = (0..4).map(|i| format!("t{i}")).collect();
    for name in &names {
        create(&v.api, &v.instance(name)).await;
    }
    for name in &names {
        ready(&v.api, name).await;
    }
    assert_eq!(v.live().len(), 4, "one cloud instance per object");
    let calls = v.env.emu().calls();
    let throttled: u64 = calls
        .operations
        .iter()
        .filter(|(op, _)| op.starts_with("veen:"))
        .map(|(_, c)| c.statuses.get(&429).copied().unwrap_or(0))
        .sum();
    let requests = calls.total_requests - before;
    assert!(throttled > 0, "the throttle was active");
    assert!(
        requests < 150,
        "{throttled} of {requests} requests throttled: a storm"
    );
    v.env.set_faults(Faults::default());
    v.finish().await;
}
