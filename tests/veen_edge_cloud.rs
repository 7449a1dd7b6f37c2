//! EdgeCloud on Volcengine veEN against the real control plane and the emulator's veEN listener: a
//! fleet is one cloud server whose instances are spread over cities × ISPs by the placement entries.
//! Create → Ready with the members mirrored as owned EdgeInstances; a fleet over three regions and
//! ISPs scaled 3 → 6 → 2 → 0 (one CreateInstance per shortfall, scale-in by the delete policy); a scale
//! beyond the cloud server's instance quota is `ScalingBlocked QuotaExceeded`; an `open_fail` member is
//! replaced; delete takes the members offline first, then the cloud server, and leaves nothing; a lost
//! CreateCloudServer / CreateInstance answer and a kill before the status write end in one cloud server
//! and the wanted members (the `client_token` replays, the owner tag finds the cloud server).
//!
//! Run: `cargo xtask control-plane up`, `eval "$(cargo xtask control-plane env)"`, `kubectl apply -f crds/`,
//! `cargo test --test veen_edge_cloud -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use edgefleet::api::common::{DeletionPolicy, ManagementPolicy, ProviderConfigRef};
use edgefleet::api::condition::reason;
use edgefleet::api::condition::{SCALING_BLOCKED, STALLED, SYNCED};
use edgefleet::api::edge_cloud::{
    Coverage, CoverageLevel, CoveragePolicy, EdgeCloud, EdgeCloudSpec, EdgeInstanceTemplate,
    FleetDeletePolicy, FleetStrategy, PlacementEntry, Remediation, TemplateNetwork,
};
use edgefleet::api::edge_instance::{EdgeInstance, PowerState, RootVolume};
use edgefleet::api::provider_config::{ProviderConfig, ProviderType};
use edgefleet::provider::OWNER_TAG;
use edgefleet_emulator::core::faults::{LostMode, LostResponseFault};
use edgefleet_emulator::{Config as EmulatorConfig, Faults};
use kube::ResourceExt;
use kube::api::Api;
use support::harness::*;
use support::quiescence::assert_quiescent;
use support::*;

const SPEC: &str = "veEN.C1.large";
const IMAGE: &str = "image-ubuntu2004";

/// A test world whose EdgeClouds use a veEN ProviderConfig (`<namespace>-veen`) on the emulator's
/// veEN listener, with the emulator configured by `tune`.
async fn veen_env(prefix: &str, tune: impl FnOnce(&mut EmulatorConfig)) -> (Env, String) {
    let mut config = EmulatorConfig::default();
    tune(&mut config);
    let env = Env::start_with(prefix, config).await;
    let name = format!("{}-veen", env.pc);
    env.create_provider_config_for(ProviderType::Veen, &name, &env.secret)
        .await;
    (env, name)
}

async fn teardown(env: Env, pc: &str) {
    let pcs: Api<ProviderConfig> = Api::all(env.client.clone());
    let _ = delete(&pcs, pc).await;
    let _ = wait_deleted(&pcs, pc, WAIT).await;
    env.teardown().await;
}

fn entry(city: &str, operator: &str, count: Option<i32>, weight: Option<i32>) -> PlacementEntry {
    PlacementEntry {
        city: Some(city.into()),
        operator: Some(operator.into()),
        count,
        weight,
        ..PlacementEntry::default()
    }
}

/// East (Hangzhou, China Mobile), north (Beijing, China Unicom), south (Guangzhou, China Telecom).
fn three_regions() -> Vec<PlacementEntry> {
    vec![
        entry("hangzhou", "chinamobile", None, Some(1)),
        entry("beijing", "chinaunicom", None, Some(1)),
        entry("guangzhou", "chinatelecom", None, Some(1)),
    ]
}

fn fleet(env: &Env, pc: &str, name: &str, replicas: i32, placement: Vec<PlacementEntry>) -> EdgeCloud {
    EdgeCloud {
        metadata: env.meta(name),
        spec: EdgeCloudSpec {
            provider_config_ref: ProviderConfigRef { name: pc.to_owned() },
            deletion_policy: DeletionPolicy::Delete,
            management_policy: ManagementPolicy::Manage,
            adopt_id: None,
            name: None,
            description: Some("veen fleet".into()),
            replicas,
            coverage: Coverage {
                level: CoverageLevel::City,
                policy: CoveragePolicy::Centralize,
            },
            placement,
            template: EdgeInstanceTemplate {
                name: Some("member".into()),
                flavor: SPEC.into(),
                image: IMAGE.into(),
                root_volume: RootVolume {
                    type_: "CloudBlockSSD".into(),
                    size: 40,
                },
                data_volumes: vec![],
                network: TemplateNetwork::default(),
                bandwidth: None,
                key_name: Some("veen-key".into()),
                admin_password_secret_ref: None,
                user_data_secret_ref: None,
                power_state: PowerState::Running,
                iec: None,
            },
            delete_policy: FleetDeletePolicy::SiteBalanced,
            strategy: FleetStrategy::default(),
            remediation: Remediation::default(),
            paused: false,
            veen: None,
            workspace: None,
        },
        status: None,
    }
}

/// Cloud servers in the emulator.
fn cloud_servers(env: &Env) -> Vec<serde_json::Value> {
    env.cloud("veen.cloud_server")
}

/// Instances in the emulator that are not being taken offline.
fn live_instances(env: &Env) -> Vec<serde_json::Value> {
    env.cloud("veen.instance")
        .into_iter()
        .filter(|i| i["status"] != "terminating")
        .collect()
}

/// Waits until the emulator holds exactly `n` live instances, all `running`.
async fn running_instances(env: &Env, n: usize) -> Vec<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let live = live_instances(env);
        if live.len() == n && live.iter().all(|i| i["status"] == "running") {
            return live;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} running instances, have {live:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn per_location(ec: &EdgeCloud) -> BTreeMap<String, (i32, i32)> {
    ec.status
        .as_ref()
        .unwrap()
        .placements
        .iter()
        .map(|p| {
            (
                format!("{}/{}", p.location, p.operator.clone().unwrap_or_default()),
                (p.desired, p.current),
            )
        })
        .collect()
}

/// The ISP of each live instance, by the emulator's cluster.
fn isps(env: &Env) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for i in live_instances(env) {
        let cluster = i["cluster"].as_str().unwrap_or_default().to_owned();
        *out.entry(cluster).or_default() += 1;
    }
    out
}

async fn delete_and_expect_nothing_left(env: &Env, api: &Api<EdgeCloud>, name: &str) {
    delete(api, name).await.unwrap();
    wait_deleted(api, name, WAIT).await.unwrap();
    assert!(cloud_servers(env).is_empty(), "the cloud server is gone");
    assert!(
        env.cloud("veen.instance").is_empty(),
        "every member is gone: {:?}",
        env.cloud("veen.instance")
    );
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_fleet_over_three_regions_scales_3_6_2_0_and_deletes_members_first() {
    let (env, pc) = veen_env("veen-ec-life", |_| {}).await;
    let api: Api<EdgeCloud> = env.ns.api();
    create(&api, &fleet(&env, &pc, "web", 3, three_regions())).await;

    let ec = fleet_converged(&api, "web", 3).await;
    assert!(has(&ec, SYNCED, "True") && has(&ec, STALLED, "False"));
    assert!(has(&ec, SCALING_BLOCKED, "False"));
    let s = ec.status.clone().unwrap();
    assert_eq!(s.cloud_status.as_deref(), Some("running:3"));
    assert!(s.pending_create.is_none() && s.pending_expand.is_none());
    assert!(
        per_location(&ec).values().all(|&(d, c)| (d, c) == (1, 1)),
        "{:?}",
        per_location(&ec)
    );
    let servers = cloud_servers(&env);
    assert_eq!(servers.len(), 1, "one cloud server");
    assert_eq!(s.edge_cloud_id.as_deref(), servers[0]["id"].as_str());
    let owner = ec.uid().unwrap();
    assert!(
        servers[0]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["Key"] == OWNER_TAG && t["Value"] == owner.as_str()),
        "the cloud server carries the owner tag: {}",
        servers[0]["tags"]
    );
    let clusters = isps(&env);
    assert_eq!(
        clusters.keys().cloned().collect::<Vec<_>>(),
        [
            "cn-beijing-cucc-01",
            "cn-guangzhou-ctcc-01",
            "cn-hangzhou-cmcc-01"
        ],
        "one member per region and ISP"
    );
    assert_quiescent(&env, &api, "web").await;

    // Members: one owned, labelled EdgeInstance per cloud instance, adopting it by id.
    let ms = mirrored(&env, "web", 3).await;
    let ids: Vec<String> = live_instances(&env)
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    for m in &ms {
        let o = &m.owner_references()[0];
        assert_eq!((o.kind.as_str(), o.name.as_str()), ("EdgeCloud", "web"));
        let id = m.spec.adopt_id.clone().unwrap();
        assert!(ids.contains(&id), "member adopts a cloud member: {id}");
        assert!(m.spec.placement.site_id.is_some());
        assert!(m.spec.placement.operator.is_some());
    }
    // The EdgeInstance controller adopts each member through the veEN InstanceApi.
    let eis: Api<EdgeInstance> = env.ns.api();
    for m in &ms {
        let ei = ready(&eis, &m.name_any()).await;
        assert_eq!(
            ei.status.and_then(|s| s.instance_id),
            m.spec.adopt_id.clone(),
            "member {} adopted",
            m.name_any()
        );
    }

    // 3 → 6: one CreateInstance for the whole shortfall, into the same cloud server.
    let creates = env.emu().calls().requests("veen:CreateInstance");
    kubectl(&["scale", "-n", env.ns.name(), "edgecloud/web", "--replicas=6"])
        .await
        .unwrap();
    let ec = fleet_converged(&api, "web", 6).await;
    assert!(per_location(&ec).values().all(|&(d, c)| (d, c) == (2, 2)));
    assert_eq!(
        cloud_servers(&env).len(),
        1,
        "expanded, not a second cloud server"
    );
    running_instances(&env, 6).await;
    assert_eq!(
        env.emu().calls().requests("veen:CreateInstance") - creates,
        1,
        "the shortfall is one call"
    );
    mirrored(&env, "web", 6).await;

    // 6 → 2: SiteBalanced keeps two locations at one member each.
    kubectl(&["scale", "-n", env.ns.name(), "edgecloud/web", "--replicas=2"])
        .await
        .unwrap();
    let ec = fleet_converged(&api, "web", 2).await;
    let rows = per_location(&ec);
    assert!(rows.values().all(|(d, c)| d == c), "{rows:?}");
    assert_eq!(rows.values().filter(|(d, _)| *d == 1).count(), 2, "{rows:?}");
    running_instances(&env, 2).await;
    mirrored(&env, "web", 2).await;

    // 2 → 0: the cloud server stays, empty.
    kubectl(&["scale", "-n", env.ns.name(), "edgecloud/web", "--replicas=0"])
        .await
        .unwrap();
    fleet_converged(&api, "web", 0).await;
    running_instances(&env, 0).await;
    mirrored(&env, "web", 0).await;
    assert_eq!(cloud_servers(&env).len(), 1);

    delete_and_expect_nothing_left(&env, &api, "web").await;
    teardown(env, &pc).await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_delete_takes_running_members_offline_before_the_cloud_server() {
    let (env, pc) = veen_env("veen-ec-del", |_| {}).await;
    let api: Api<EdgeCloud> = env.ns.api();
    create(&api, &fleet(&env, &pc, "gone", 2, three_regions())).await;
    fleet_converged(&api, "gone", 2).await;
    running_instances(&env, 2).await;
    let offline = env.emu().calls().requests("veen:OfflineInstances");
    delete_and_expect_nothing_left(&env, &api, "gone").await;
    assert!(env.emu().calls().requests("veen:OfflineInstances") > offline);
    teardown(env, &pc).await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_scaling_beyond_the_cloud_server_quota_is_scaling_blocked_quota_exceeded() {
    let (env, pc) = veen_env("veen-ec-quota", |c| c.veen.instances_per_cloud_server = 4).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let one_city = vec![entry("hangzhou", "chinamobile", None, Some(1))];
    create(&api, &fleet(&env, &pc, "full", 3, one_city)).await;
    fleet_converged(&api, "full", 3).await;

    merge(&api, "full", serde_json::json!({"spec": {"replicas": 6}})).await;
    let ec = wait_for(&api, "full", WAIT, |ec: &EdgeCloud| {
        has_reason(ec, SCALING_BLOCKED, "True", reason::QUOTA_EXCEEDED)
    })
    .await
    .unwrap();
    assert!(
        message_of(&ec, SCALING_BLOCKED).contains("3 more member"),
        "{}",
        message_of(&ec, SCALING_BLOCKED)
    );
    assert_eq!(live_instances(&env).len(), 3, "nothing was added");
    assert_eq!(cloud_servers(&env).len(), 1, "no second cloud server");

    // Back within the quota: it converges and the block clears.
    merge(&api, "full", serde_json::json!({"spec": {"replicas": 4}})).await;
    let ec = fleet_converged(&api, "full", 4).await;
    assert!(has(&ec, SCALING_BLOCKED, "False"));
    delete_and_expect_nothing_left(&env, &api, "full").await;
    teardown(env, &pc).await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_an_open_fail_member_is_replaced() {
    let (env, pc) = veen_env("veen-ec-heal", |_| {}).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let one_city = vec![entry("guangzhou", "chinatelecom", None, Some(1))];
    create(&api, &fleet(&env, &pc, "heal", 2, one_city)).await;
    fleet_converged(&api, "heal", 2).await;

    // New members fail to open until the fault is lifted.
    env.set_faults(Faults {
        instance_failure_rate: 1.0,
        ..Faults::default()
    });
    merge(&api, "heal", serde_json::json!({"spec": {"replicas": 3}})).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !env
        .cloud("veen.instance")
        .iter()
        .any(|i| i["status"] == "open_fail")
    {
        assert!(tokio::time::Instant::now() < deadline, "a member fails to open");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    env.set_faults(Faults::default());
    fleet_converged(&api, "heal", 3).await;
    running_instances(&env, 3).await;
    mirrored(&env, "heal", 3).await;
    assert!(
        !env.cloud("veen.instance")
            .iter()
            .any(|i| i["status"] == "open_fail"),
        "the open_fail member was taken offline"
    );
    delete_and_expect_nothing_left(&env, &api, "heal").await;
    teardown(env, &pc).await;
}

fn lost(action: &str) -> LostResponseFault {
    LostResponseFault {
        operation: format!("veen:{action}"),
        rate: 1.0,
        mode: LostMode::Error500,
    }
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_lost_answers_replay_the_client_token_and_never_duplicate() {
    let (env, pc) = veen_env("veen-ec-lost", |_| {}).await;
    let api: Api<EdgeCloud> = env.ns.api();
    // Every CreateCloudServer happens but its answer is lost (each retry too): the id comes back only
    // by recovery, and the retries replay the token instead of making more cloud servers.
    env.set_faults(Faults {
        lost_responses: vec![lost("CreateCloudServer")],
        ..Faults::default()
    });
    create(&api, &fleet(&env, &pc, "tough", 2, three_regions())).await;
    wait_for(&api, "tough", WAIT, |ec: &EdgeCloud| {
        ec.status.as_ref().is_some_and(|s| s.edge_cloud_id.is_some())
    })
    .await
    .unwrap();
    assert!(
        env.emu().calls().requests("veen:CreateCloudServer") > 1,
        "the create was retried"
    );
    env.set_faults(Faults::default());
    fleet_converged(&api, "tough", 2).await;
    assert_eq!(
        cloud_servers(&env).len(),
        1,
        "one cloud server despite the lost answers"
    );
    running_instances(&env, 2).await;

    // An expansion whose answers are lost: replayed by its token, never doubled.
    env.set_faults(Faults {
        lost_responses: vec![lost("CreateInstance")],
        ..Faults::default()
    });
    merge(&api, "tough", serde_json::json!({"spec": {"replicas": 4}})).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while env.emu().calls().requests("veen:CreateInstance") < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the expansion is retried");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    env.set_faults(Faults::default());
    fleet_converged(&api, "tough", 4).await;
    running_instances(&env, 4).await;
    assert_eq!(cloud_servers(&env).len(), 1);
    assert_quiescent(&env, &api, "tough").await;
    assert_eq!(live_instances(&env).len(), 4, "no duplicate members");

    delete_and_expect_nothing_left(&env, &api, "tough").await;
    teardown(env, &pc).await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_a_kill_between_the_create_and_the_status_write_finds_the_cloud_server_by_owner_tag() {
    let (mut env, pc) = veen_env("veen-ec-kill", |_| {}).await;
    let api: Api<EdgeCloud> = env.ns.api();
    env.set_faults(Faults {
        lost_responses: vec![lost("CreateCloudServer")],
        ..Faults::default()
    });
    create(&api, &fleet(&env, &pc, "killed", 2, three_regions())).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while cloud_servers(&env).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the create reaches the cloud"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    env.crash_controllers().await;
    let ec = api.get("killed").await.unwrap();
    assert!(
        ec.status.as_ref().and_then(|s| s.edge_cloud_id.clone()).is_none(),
        "the id never reached status"
    );
    env.set_faults(Faults::default());
    env.start_controllers();
    fleet_converged(&api, "killed", 2).await;
    assert_eq!(
        cloud_servers(&env).len(),
        1,
        "the interrupted create is found, not repeated"
    );
    running_instances(&env, 2).await;
    delete_and_expect_nothing_left(&env, &api, "killed").await;
    teardown(env, &pc).await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_a_veen_section_on_an_iec_account_stalls_naming_spec_veen() {
    let (env, pc) = veen_env("veen-ec-fit", |_| {}).await;
    let api: Api<EdgeCloud> = env.ns.api();
    // The harness's own ProviderConfig is IEC.
    let mut ec = fleet(&env, &env.pc, "misfit", 1, three_regions());
    ec.spec.veen = Some(edgefleet::api::edge_cloud::VeenEdgeCloudSpec::default());
    create(&api, &ec).await;
    let ec = wait_for(&api, "misfit", WAIT, |ec: &EdgeCloud| {
        has_reason(ec, STALLED, "True", reason::INVALID_SPEC)
    })
    .await
    .unwrap();
    let message = message_of(&ec, STALLED);
    assert!(message.contains("spec.veen"), "{message}");
    assert!(env.cloud("iec.deployment").is_empty() && cloud_servers(&env).is_empty());
    delete(&api, "misfit").await.unwrap();
    wait_deleted(&api, "misfit", WAIT).await.unwrap();
    teardown(env, &pc).await;
}
