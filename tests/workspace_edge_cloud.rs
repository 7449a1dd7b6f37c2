//! EdgeCloud on Huawei Workspace against the real control plane and the emulator's workspace listener:
//! a fleet is one server group in one availability zone, its members the group's application servers,
//! created by create-servers jobs and deleted by batch-delete jobs. 0 → 3 → 5 → 1 → 0 (one job per
//! shortfall, the members mirrored as owned EdgeInstances), delete takes the servers first and then
//! the group (the cloud refuses a group delete while servers remain); a failed create job is
//! ScalingBlocked JobFailed with the cloud's code and retried after a backoff, one batch per attempt;
//! a server left in BUILD_FAIL by a failed job is replaced (deleted, another created in the group);
//! a kill while a create job runs ends in one group and no second batch, and so does a create whose
//! answer (the job id) is lost (the servers it made are waited for); a flavor change rolls out
//! within maxSurge; throttled calls converge; a Workspace ProviderConfig with a wrong key is
//! CredentialsValid=False with the cloud's code (IAM's, which refuses the project lookup first).
//!
//! Run: `cargo xtask control-plane up`, `eval "$(cargo xtask control-plane env)"`, `kubectl apply -f crds/`,
//! `cargo test --test workspace_edge_cloud -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use edgefleet::api::common::{DeletionPolicy, ManagementPolicy, ProviderConfigRef};
use edgefleet::api::condition::{CREDENTIALS_VALID, SCALING_BLOCKED, STALLED, SYNCED};
use edgefleet::api::edge_cloud::{
    Coverage, CoverageLevel, CoveragePolicy, EdgeCloud, EdgeCloudSpec, EdgeInstanceTemplate,
    FleetDeletePolicy, FleetStrategy, PlacementEntry, Remediation, TemplateNetwork, WorkspaceEdgeCloudSpec,
    WorkspaceImageType, WorkspaceOsType, WorkspaceRoutePolicy,
};
use edgefleet::api::edge_instance::{EdgeInstance, PowerState, RootVolume};
use edgefleet::api::provider_config::{ProviderConfig, ProviderType};
use edgefleet::provider::OWNER_TAG;
use edgefleet_emulator::config::{DEFAULT_AK, DEFAULT_SK};
use edgefleet_emulator::core::faults::{LostMode, LostResponseFault, ThrottleFault};
use edgefleet_emulator::workspace::jobs::FailureRule;
use edgefleet_emulator::{Config as EmulatorConfig, Faults};
use kube::ResourceExt;
use kube::api::Api;
use support::harness::*;
use support::*;

const PRODUCT: &str = "workspace.appstream.general.xlarge.2";
const BIGGER: &str = "workspace.appstream.general.2xlarge.2";
const IMAGE: &str = "0fd6c925-6349-49d6-8788-48263b129854";
const VPC: &str = "59785ba5-e5d5-4836-b9de-19f22ac15175";
const SUBNET: &str = "a5842cb4-5718-4b0a-8b27-3a3e9c74f977";
const ZONE: &str = "cn-north-4a";
const CREATE_SERVERS: &str = "POST /v1/{project_id}/app-servers/actions/create";
const DELETE_GROUP: &str = "DELETE /v1/{project_id}/app-server-groups/{server_group_id}";

/// A test world whose EdgeClouds use a Workspace ProviderConfig (`<namespace>-ws`) on the emulator's
/// workspace listener, with the emulator configured by `tune`.
async fn workspace_env(prefix: &str, tune: impl FnOnce(&mut EmulatorConfig)) -> (Env, String) {
    let mut config = EmulatorConfig::default();
    tune(&mut config);
    let env = Env::start_with(prefix, config).await;
    let name = format!("{}-ws", env.pc);
    env.create_provider_config_for(ProviderType::Workspace, &name, &env.secret)
        .await;
    (env, name)
}

async fn teardown(env: Env, pc: &str) {
    let pcs: Api<ProviderConfig> = Api::all(env.client.clone());
    let _ = delete(&pcs, pc).await;
    let _ = wait_deleted(&pcs, pc, WAIT).await;
    env.teardown().await;
}

fn fleet(env: &Env, pc: &str, name: &str, replicas: i32) -> EdgeCloud {
    EdgeCloud {
        metadata: env.meta(name),
        spec: EdgeCloudSpec {
            provider_config_ref: ProviderConfigRef { name: pc.to_owned() },
            deletion_policy: DeletionPolicy::Delete,
            management_policy: ManagementPolicy::Manage,
            adopt_id: None,
            name: None,
            description: Some("workspace fleet".into()),
            replicas,
            coverage: Coverage {
                level: CoverageLevel::Site,
                policy: CoveragePolicy::Centralize,
            },
            placement: vec![PlacementEntry {
                site_id: Some(ZONE.into()),
                weight: Some(1),
                ..PlacementEntry::default()
            }],
            template: EdgeInstanceTemplate {
                name: None,
                flavor: PRODUCT.into(),
                image: IMAGE.into(),
                root_volume: RootVolume {
                    type_: "SAS".into(),
                    size: 80,
                },
                data_volumes: vec![],
                network: TemplateNetwork {
                    vpc_id: Some(VPC.into()),
                    ..TemplateNetwork::default()
                },
                bandwidth: None,
                key_name: None,
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
            workspace: Some(WorkspaceEdgeCloudSpec {
                subnet_id: SUBNET.into(),
                image_type: WorkspaceImageType::Private,
                image_product_id: None,
                os_type: WorkspaceOsType::Windows,
                flavor_id: None,
                is_vdi: None,
                app_type: None,
                route_policy: Some(WorkspaceRoutePolicy {
                    max_session: Some(2),
                    ..WorkspaceRoutePolicy::default()
                }),
                ou_name: None,
            }),
        },
        status: None,
    }
}

fn groups(env: &Env) -> Vec<serde_json::Value> {
    env.cloud("workspace.server_group")
}

/// Servers in the emulator (any state).
fn servers(env: &Env) -> Vec<serde_json::Value> {
    env.cloud("workspace.app_server")
}

fn calls(env: &Env, op: &str) -> u64 {
    env.emu().calls().requests(op)
}

/// Waits until the emulator holds exactly `n` servers, all `ACTIVE`.
async fn active_servers(env: &Env, n: usize) -> Vec<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let all = servers(env);
        if all.len() == n && all.iter().all(|s| s["vm_status"] == "ACTIVE") {
            return all;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} ACTIVE servers, have {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn scale(env: &Env, name: &str, n: i32) {
    kubectl(&[
        "scale",
        "-n",
        env.ns.name(),
        &format!("edgecloud/{name}"),
        &format!("--replicas={n}"),
    ])
    .await
    .unwrap();
}

/// Deletes the EdgeCloud and checks nothing is left: the servers went before the group (the group
/// delete was sent once and accepted, never refused for remaining servers).
async fn delete_and_expect_nothing_left(env: &Env, api: &Api<EdgeCloud>, name: &str) {
    let before = calls(env, DELETE_GROUP);
    delete(api, name).await.unwrap();
    wait_deleted(api, name, WAIT).await.unwrap();
    assert!(groups(env).is_empty(), "the group is gone: {:?}", groups(env));
    assert!(
        servers(env).is_empty(),
        "every server is gone: {:?}",
        servers(env)
    );
    assert_eq!(
        calls(env, DELETE_GROUP) - before,
        1,
        "one group delete, after the servers were gone"
    );
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn workspace_fleet_scales_0_3_5_1_0_with_one_job_per_shortfall_and_deletes_servers_first() {
    let (env, pc) = workspace_env("ws-ec-life", |_| {}).await;
    let api: Api<EdgeCloud> = env.ns.api();
    create(&api, &fleet(&env, &pc, "apps", 0)).await;
    fleet_converged(&api, "apps", 0).await;
    assert!(groups(&env).is_empty(), "no group until members are wanted");

    // 0 → 3: the group, then one create job for the shortfall.
    scale(&env, "apps", 3).await;
    let ec = fleet_converged(&api, "apps", 3).await;
    assert!(has(&ec, SYNCED, "True") && has(&ec, STALLED, "False"));
    assert!(has(&ec, SCALING_BLOCKED, "False"));
    let s = ec.status.clone().unwrap();
    assert!(s.pending_create.is_none() && s.pending_expand.is_none() && s.job_id.is_none());
    let gs = groups(&env);
    assert_eq!(gs.len(), 1, "one server group");
    assert_eq!(s.edge_cloud_id.as_deref(), gs[0]["id"].as_str());
    assert_eq!(gs[0]["availability_zone"], ZONE);
    let owner = ec.uid().unwrap();
    assert!(
        gs[0]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == OWNER_TAG && t["value"] == owner.as_str()),
        "the group carries the owner tag: {}",
        gs[0]["tags"]
    );
    assert_eq!(calls(&env, CREATE_SERVERS), 1, "one create job for 3");
    let all = active_servers(&env, 3).await;
    assert!(all.iter().all(|s| s["server_group_id"] == gs[0]["id"]));

    // Members: one owned, labelled EdgeInstance per server, adopted by id and Ready.
    let ms = mirrored(&env, "apps", 3).await;
    let eis: Api<EdgeInstance> = env.ns.api();
    for m in &ms {
        let o = &m.owner_references()[0];
        assert_eq!((o.kind.as_str(), o.name.as_str()), ("EdgeCloud", "apps"));
        let id = m.spec.adopt_id.clone().unwrap();
        assert!(
            all.iter().any(|s| s["id"] == id.as_str()),
            "member adopts a server: {id}"
        );
        let ei = ready(&eis, &m.name_any()).await;
        assert_eq!(ei.status.and_then(|s| s.instance_id), Some(id));
    }

    // 3 → 5: one more job for the two missing.
    scale(&env, "apps", 5).await;
    fleet_converged(&api, "apps", 5).await;
    active_servers(&env, 5).await;
    assert_eq!(calls(&env, CREATE_SERVERS), 2, "the shortfall is one job");
    assert_eq!(groups(&env).len(), 1, "expanded, not a second group");
    mirrored(&env, "apps", 5).await;

    // 5 → 1 → 0: batch deletes; the group stays, empty.
    scale(&env, "apps", 1).await;
    fleet_converged(&api, "apps", 1).await;
    active_servers(&env, 1).await;
    mirrored(&env, "apps", 1).await;
    scale(&env, "apps", 0).await;
    fleet_converged(&api, "apps", 0).await;
    active_servers(&env, 0).await;
    mirrored(&env, "apps", 0).await;
    assert_eq!(groups(&env).len(), 1);
    assert_eq!(calls(&env, CREATE_SERVERS), 2, "scale-in creates nothing");

    delete_and_expect_nothing_left(&env, &api, "apps").await;
    teardown(env, &pc).await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn workspace_delete_removes_running_servers_before_the_group() {
    let (env, pc) = workspace_env("ws-ec-del", |_| {}).await;
    let api: Api<EdgeCloud> = env.ns.api();
    create(&api, &fleet(&env, &pc, "gone", 2)).await;
    fleet_converged(&api, "gone", 2).await;
    active_servers(&env, 2).await;
    delete_and_expect_nothing_left(&env, &api, "gone").await;
    teardown(env, &pc).await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn workspace_failed_create_job_is_reported_and_retried_with_backoff_one_batch_per_attempt() {
    let (env, pc) = workspace_env("ws-ec-jobfail", |c| {
        c.workspace.job_failures = vec![FailureRule {
            job_type: "CREATE_SERVER".into(),
            server_group: "*".into(),
            times: Some(2),
            sub_jobs: None,
            error_code: Some("WKS.00211401".into()),
            error_message: Some("no capacity left in cn-north-4a".into()),
            leave_server: false,
        }];
    })
    .await;
    let api: Api<EdgeCloud> = env.ns.api();
    // Every version the controller writes: the JobFailed window between a failed job and the next batch
    // is one backoff long (200 ms here), too short to catch by polling on a loaded machine.
    let (versions, watching) = record_versions(&api, "flaky");
    create(&api, &fleet(&env, &pc, "flaky", 2)).await;

    // Two failed jobs, then one that succeeds: exactly three batches, never a duplicate.
    let ec = fleet_converged(&api, "flaky", 2).await;
    watching.abort();
    let blocked: Vec<EdgeCloud> = versions
        .lock()
        .unwrap()
        .iter()
        .filter(|ec| has_reason(*ec, SCALING_BLOCKED, "True", "JobFailed"))
        .cloned()
        .collect();
    let first = blocked
        .first()
        .expect("a failed job is reported as ScalingBlocked JobFailed");
    let message = message_of(first, SCALING_BLOCKED);
    assert!(
        message.contains("WKS.00211401") && message.contains("no capacity left"),
        "{message}"
    );
    let failure = first.status.as_ref().unwrap().last_job_failure.clone().unwrap();
    assert_eq!(failure.code, "WKS.00211401");
    assert_eq!(failure.attempts, 1, "the first report is of the first failed job");
    let attempts: Vec<i32> = blocked
        .iter()
        .filter_map(|ec| ec.status.as_ref()?.last_job_failure.as_ref().map(|f| f.attempts))
        .collect();
    assert!(
        attempts.windows(2).all(|w| w[1] == w[0] || w[1] == w[0] + 1) && attempts.iter().all(|a| *a <= 2),
        "failures counted one at a time, two in all: {attempts:?}"
    );

    let s = ec.status.clone().unwrap();
    assert!(s.last_job_failure.is_none(), "a success clears the record");
    assert!(s.job_id.is_none() && s.pending_expand.is_none());
    assert!(has(&ec, SCALING_BLOCKED, "False"));
    assert_eq!(calls(&env, CREATE_SERVERS), 3, "one batch per attempt");
    active_servers(&env, 2).await;

    delete_and_expect_nothing_left(&env, &api, "flaky").await;
    teardown(env, &pc).await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn workspace_a_failed_server_is_replaced_and_the_fleet_converges() {
    // The first create job fails one of its two servers and leaves it behind in BUILD_FAIL.
    let (env, pc) = workspace_env("ws-ec-heal", |c| {
        c.workspace.job_failures = vec![FailureRule {
            job_type: "CREATE_SERVER".into(),
            server_group: "*".into(),
            times: Some(1),
            sub_jobs: Some(1),
            error_code: Some("WKS.00211401".into()),
            error_message: Some("the server failed to build".into()),
            leave_server: true,
        }];
    })
    .await;
    let api: Api<EdgeCloud> = env.ns.api();
    create(&api, &fleet(&env, &pc, "heal", 2)).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let failed = loop {
        if let Some(s) = servers(&env).into_iter().find(|s| s["vm_status"] == "BUILD_FAIL") {
            break s["id"].as_str().unwrap().to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a server fails to build: {:?}",
            servers(&env)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // The failed member is replaced: two ACTIVE servers, the BUILD_FAIL one deleted, one group.
    let ec = fleet_converged(&api, "heal", 2).await;
    assert!(has(&ec, SCALING_BLOCKED, "False"));
    let all = active_servers(&env, 2).await;
    assert!(
        all.iter().all(|s| s["id"] != failed.as_str()),
        "the failed server {failed} is gone: {all:?}"
    );
    assert_eq!(groups(&env).len(), 1, "replaced within the group");
    let ms = mirrored(&env, "heal", 2).await;
    assert!(
        ms.iter()
            .all(|m| m.spec.adopt_id.as_deref() != Some(failed.as_str())),
        "no member mirrors the failed server"
    );
    delete_and_expect_nothing_left(&env, &api, "heal").await;
    teardown(env, &pc).await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn workspace_kill_while_a_create_job_runs_makes_no_second_batch() {
    let (mut env, pc) = workspace_env("ws-ec-crash", |_| {}).await;
    let api: Api<EdgeCloud> = env.ns.api();
    create(&api, &fleet(&env, &pc, "crash", 3)).await;
    // The create job was accepted (its row exists): kill the operator while it runs.
    env.crash_once_created("workspace.job", 19).await;
    let ec = fleet_converged(&api, "crash", 3).await;
    assert!(ec.status.unwrap().job_id.is_none());
    assert_eq!(groups(&env).len(), 1, "one group");
    assert_eq!(
        calls(&env, CREATE_SERVERS),
        1,
        "the restarted operator follows the job instead of a second batch"
    );
    active_servers(&env, 3).await;
    delete_and_expect_nothing_left(&env, &api, "crash").await;
    teardown(env, &pc).await;
}

/// The create-servers call happens but its answer (the job id) is lost, as when the operator dies
/// between the call and the status write: the expansion intent stays without a job, the controller
/// waits the recovery grace for the job's servers to be listed and counts them, so no second batch is
/// sent.
#[tokio::test]
#[ignore = "needs cluster"]
async fn workspace_a_lost_create_answer_waits_for_the_servers_instead_of_a_second_batch() {
    let (env, pc) = workspace_env("ws-ec-lost", |_| {}).await;
    let api: Api<EdgeCloud> = env.ns.api();
    env.set_faults(Faults {
        lost_responses: vec![LostResponseFault {
            operation: CREATE_SERVERS.into(),
            rate: 1.0,
            mode: LostMode::Error500,
        }],
        ..Faults::default()
    });
    create(&api, &fleet(&env, &pc, "lost", 2)).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while calls(&env, CREATE_SERVERS) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the create was sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    env.set_faults(Faults::default());
    let ec = fleet_converged(&api, "lost", 2).await;
    let s = ec.status.unwrap();
    assert!(s.job_id.is_none() && s.pending_expand.is_none());
    assert_eq!(
        calls(&env, CREATE_SERVERS),
        1,
        "the lost batch's servers are counted, never a second batch"
    );
    active_servers(&env, 2).await;
    delete_and_expect_nothing_left(&env, &api, "lost").await;
    teardown(env, &pc).await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn workspace_flavor_change_rolls_out_within_max_surge() {
    let (env, pc) = workspace_env("ws-ec-roll", |_| {}).await;
    let api: Api<EdgeCloud> = env.ns.api();
    create(&api, &fleet(&env, &pc, "roll", 2)).await;
    fleet_converged(&api, "roll", 2).await;
    let (versions, recorder) = record_versions(&api, "roll");
    merge(
        &api,
        "roll",
        serde_json::json!({"spec": {"template": {"flavor": BIGGER}}}),
    )
    .await;
    let ec = fleet_converged(&api, "roll", 2).await;
    recorder.abort();
    assert_eq!(ec.status.unwrap().updated_replicas, 2);
    let all = active_servers(&env, 2).await;
    assert!(
        all.iter().all(|s| s["product_id"] == BIGGER),
        "every server runs the new product: {all:?}"
    );
    let most = versions
        .lock()
        .unwrap()
        .iter()
        .filter_map(|v| v.status.as_ref().map(|s| s.replicas))
        .max()
        .unwrap_or(0);
    assert!(most <= 3, "never more than replicas + maxSurge (1): {most}");
    delete_and_expect_nothing_left(&env, &api, "roll").await;
    teardown(env, &pc).await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn workspace_throttling_converges() {
    let (env, pc) = workspace_env("ws-ec-throttle", |c| {
        c.faults.throttle = vec![ThrottleFault {
            account: "*".into(),
            limit_per_second: 3,
            retry_after_secs: 1,
        }];
    })
    .await;
    let api: Api<EdgeCloud> = env.ns.api();
    create(&api, &fleet(&env, &pc, "slow", 2)).await;
    fleet_converged(&api, "slow", 2).await;
    let throttled: u64 = env
        .emu()
        .calls()
        .operations
        .values()
        .map(|c| c.statuses.get(&429).copied().unwrap_or(0))
        .sum();
    assert!(
        throttled > 0,
        "the fault was active: some requests were throttled"
    );
    assert_eq!(
        calls(&env, CREATE_SERVERS) - throttled_creates(&env),
        1,
        "one accepted batch"
    );
    env.set_faults(Faults::default());
    delete(&api, "slow").await.unwrap();
    wait_deleted(&api, "slow", WAIT).await.unwrap();
    assert!(groups(&env).is_empty() && servers(&env).is_empty());
    teardown(env, &pc).await;
}

/// Create-servers calls the throttle refused (they created nothing).
fn throttled_creates(env: &Env) -> u64 {
    env.emu()
        .calls()
        .operations
        .get(CREATE_SERVERS)
        .and_then(|c| c.statuses.get(&429).copied())
        .unwrap_or(0)
}

/// A Workspace ProviderConfig is probed with a signed call through IAM's project lookup: the
/// emulator's keys are CredentialsValid=True; a wrong secret key is CredentialsValid=False with the
/// cloud's code (IAM.0001 from the project lookup), and fixing the Secret recovers it.
#[tokio::test]
#[ignore = "needs cluster"]
async fn workspace_provider_config_validates_its_credentials() {
    let env = Env::start("ws-pc", Faults::default()).await;
    let pcs: Api<ProviderConfig> = Api::all(env.client.clone());
    let name = format!("{}-ws", env.pc);
    const WRONG_SK: &str = "WRONG-SECRET-KEY-never-shown-0019";
    env.put_secret_named(
        "ws-credentials",
        &[("accessKey", DEFAULT_AK), ("secretKey", WRONG_SK)],
    )
    .await;
    env.create_provider_config_for(ProviderType::Workspace, &name, "ws-credentials")
        .await;
    let pc = wait_for(&pcs, &name, WAIT, |pc: &ProviderConfig| {
        has_reason(pc, CREDENTIALS_VALID, "False", "CredentialsRejected")
    })
    .await
    .unwrap();
    let message = message_of(&pc, CREDENTIALS_VALID);
    // The project lookup (IAM, signed with the same key) is the first call to refuse it.
    assert!(message.contains("IAM.0001"), "{message}");
    let text = serde_json::to_string(&pc).unwrap();
    assert!(!text.contains(WRONG_SK), "no secret in the object");

    env.put_secret_named(
        "ws-credentials",
        &[("accessKey", DEFAULT_AK), ("secretKey", DEFAULT_SK)],
    )
    .await;
    wait_for_condition(&pcs, &name, CREDENTIALS_VALID, "True", WAIT)
        .await
        .unwrap();
    delete(&pcs, &name).await.unwrap();
    wait_deleted(&pcs, &name, WAIT).await.unwrap();
    env.teardown().await;
}
