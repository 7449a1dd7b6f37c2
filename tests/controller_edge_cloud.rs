//! EdgeCloud controller against the real control plane and the in-process emulator: a 3-city fleet
//! converges (placement in status, members mirrored as owned EdgeInstances), `kubectl scale` out and in
//! keeps the sites balanced, site-level fleets report ScalingBlocked, paused freezes, Orphan keeps
//! everything, deletion leaves nothing in the emulator, and lost responses / restarts in the middle of
//! create, expand and scale-in never duplicate an edge cloud or double-delete a member; remediation
//! (failed members, a member stuck in BUILD past buildTimeout) and rolling replacement (flavor, data
//! disks) end at exactly `replicas` instances.
//!
//! Run: `cargo xtask control-plane up`, `eval "$(cargo xtask control-plane env)"`, `kubectl apply -f crds/`,
//! `cargo test --test controller_edge_cloud -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use edgefleet::api::common::{DeletionPolicy, ManagementPolicy, ProviderConfigRef, SecretKeyRef};
use edgefleet::api::condition::reason;
use edgefleet::api::condition::{AVAILABLE, READY, SCALING_BLOCKED, STALLED, SYNCED};
use edgefleet::api::edge_cloud::{
    Coverage, CoverageLevel, CoveragePolicy, EdgeCloud, EdgeCloudSpec, EdgeInstanceTemplate,
    FleetDeletePolicy, FleetStrategy, PlacementEntry, Remediation, TemplateNetwork,
};
use edgefleet::api::edge_instance::{EdgeInstance, PowerState, RootVolume};
use edgefleet::provider::{VpcMode, VpcSpec as CloudVpcSpec};
use edgefleet_emulator::Faults;
use edgefleet_emulator::core::faults::{LatencyFault, LostMode, LostResponseFault};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use support::harness::*;
use support::quiescence::assert_quiescent;
use support::*;

const IMAGE: &str = "00000000-0000-0000-0000-000000000002";
const XIAN_SITE: &str = "74a75ed3-cfb9-11ea-a0c3-fa1640495574";

async fn system_vpc(env: &Env) -> String {
    env.cloud_client()
        .vpcs()
        .unwrap()
        .create(
            &CloudVpcSpec {
                name: format!("fleet-net-{}", &env.ns.name()[env.ns.name().len() - 8..]),
                cidr: "192.168.0.0/16".into(),
                mode: VpcMode::System,
                subnets: vec![],
                ext: Default::default(),
            },
            &Default::default(),
        )
        .await
        .unwrap()
        .id
}

fn city(name: &str, weight: i32) -> PlacementEntry {
    PlacementEntry {
        city: Some(name.into()),
        weight: Some(weight),
        ..PlacementEntry::default()
    }
}

fn fleet(env: &Env, name: &str, vpc_id: &str, replicas: i32, placement: Vec<PlacementEntry>) -> EdgeCloud {
    EdgeCloud {
        metadata: env.meta(name),
        spec: EdgeCloudSpec {
            provider_config_ref: ProviderConfigRef { name: env.pc.clone() },
            deletion_policy: DeletionPolicy::Delete,
            management_policy: ManagementPolicy::Manage,
            adopt_id: None,
            name: None,
            description: None,
            replicas,
            coverage: Coverage {
                level: CoverageLevel::City,
                policy: CoveragePolicy::Centralize,
            },
            placement,
            template: EdgeInstanceTemplate {
                name: Some("web".into()),
                flavor: "c6.large.2".into(),
                image: IMAGE.into(),
                root_volume: RootVolume {
                    type_: "SATA".into(),
                    size: 40,
                },
                data_volumes: vec![],
                network: TemplateNetwork {
                    vpc_ref: None,
                    vpc_id: Some(vpc_id.to_owned()),
                    nic_count: 1,
                    security_group_refs: vec![],
                    security_group_ids: vec![],
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
            workspace: None,
        },
        status: None,
    }
}

fn three_cities() -> Vec<PlacementEntry> {
    vec![city("xi'an", 1), city("changsha", 1), city("wuhan", 1)]
}

/// Live (not DELETED) cloud instances, and edge clouds and plans, as the emulator stores them.
fn live_instances(env: &Env) -> Vec<serde_json::Value> {
    env.cloud("iec.instance")
        .into_iter()
        .filter(|i| i["status"] != "DELETED")
        .collect()
}

fn per_city(ec: &EdgeCloud) -> BTreeMap<String, (i32, i32)> {
    ec.status
        .as_ref()
        .unwrap()
        .placements
        .iter()
        .map(|p| (p.location.clone(), (p.desired, p.current)))
        .collect()
}

async fn delete_and_expect_nothing_left(env: &Env, api: &Api<EdgeCloud>, name: &str) {
    delete(api, name).await.unwrap();
    wait_deleted(api, name, WAIT).await.unwrap();
    assert!(env.cloud("iec.edgecloud").is_empty(), "the edge cloud is gone");
    assert!(live_instances(env).is_empty(), "every member is gone");
    assert!(env.cloud("iec.deployment").is_empty(), "no plan is left behind");
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn three_city_fleet_converges_scales_and_deletes() {
    let env = Env::start("ec-life", Faults::default()).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let vpc = system_vpc(&env).await;
    create(&api, &fleet(&env, "web", &vpc, 3, three_cities())).await;

    let ec = fleet_converged(&api, "web", 3).await;
    assert!(has(&ec, SYNCED, "True") && has(&ec, STALLED, "False"));
    assert!(has_reason(
        &ec,
        AVAILABLE,
        "True",
        reason::MINIMUM_REPLICAS_AVAILABLE
    ));
    assert!(has(&ec, SCALING_BLOCKED, "False"));
    let s = ec.status.clone().unwrap();
    assert_eq!(s.available_replicas, 3);
    assert_eq!(s.label_selector.as_deref(), Some("edgefleet.io/edge-cloud=web"));
    assert_eq!(s.cloud_status.as_deref(), Some("inService"));
    assert_eq!(s.success_count, 3);
    assert!(s.pending_create.is_none() && s.pending_expand.is_none() && s.deployment_plan_ids.is_empty());
    assert_eq!(
        per_city(&ec),
        [("changsha", (1, 1)), ("wuhan", (1, 1)), ("xi'an", (1, 1))]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    );
    assert_eq!(env.cloud("iec.edgecloud").len(), 1);
    assert_eq!(live_instances(&env).len(), 3);
    assert!(
        env.cloud("iec.deployment").is_empty(),
        "executed plans are deleted"
    );
    assert_quiescent(&env, &api, "web").await;

    // Members: one owned, labelled EdgeInstance per cloud instance, adopting it by id.
    let ms = mirrored(&env, "web", 3).await;
    let cloud_ids: Vec<String> = live_instances(&env)
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    for m in &ms {
        let owner = &m.owner_references()[0];
        assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("EdgeCloud", "web"));
        assert_eq!(owner.controller, Some(true));
        let id = m.spec.adopt_id.clone().unwrap();
        assert!(cloud_ids.contains(&id), "member adopts a cloud member: {id}");
        assert!(m.spec.placement.site_id.is_some());
        assert!(m.spec.placement.operator.is_some());
        assert_eq!(m.labels().get(RUN_LABEL).map(String::as_str), Some(env.ns.name()));
    }

    // kubectl scale out: balanced over the cities (ties go to the smaller name).
    kubectl(&["scale", "-n", env.ns.name(), "edgecloud/web", "--replicas=5"])
        .await
        .unwrap();
    let ec = fleet_converged(&api, "web", 5).await;
    assert_eq!(
        per_city(&ec),
        [("changsha", (2, 2)), ("wuhan", (2, 2)), ("xi'an", (1, 1))]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    );
    assert_eq!(
        env.cloud("iec.edgecloud").len(),
        1,
        "expanded, not a second edge cloud"
    );
    assert_eq!(live_instances(&env).len(), 5);
    assert!(env.cloud("iec.deployment").is_empty());
    mirrored(&env, "web", 5).await;

    // Scale in: the site balance is kept (xi'an drops to 0, the others to 1).
    kubectl(&["scale", "-n", env.ns.name(), "edgecloud/web", "--replicas=2"])
        .await
        .unwrap();
    let ec = fleet_converged(&api, "web", 2).await;
    assert_eq!(
        per_city(&ec),
        [("changsha", (1, 1)), ("wuhan", (1, 1)), ("xi'an", (0, 0))]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while live_instances(&env).len() != 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "scale-in deletes 3 cloud members"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    mirrored(&env, "web", 2).await;

    delete_and_expect_nothing_left(&env, &api, "web").await;
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn site_level_fleet_cannot_expand_and_reports_it() {
    let env = Env::start("ec-site", Faults::default()).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let vpc = system_vpc(&env).await;
    let mut ec = fleet(
        &env,
        "edge",
        &vpc,
        1,
        vec![PlacementEntry {
            site_id: Some(XIAN_SITE.into()),
            weight: Some(1),
            ..PlacementEntry::default()
        }],
    );
    ec.spec.coverage.level = CoverageLevel::Site;
    create(&api, &ec).await;
    fleet_converged(&api, "edge", 1).await;

    merge(&api, "edge", serde_json::json!({"spec": {"replicas": 2}})).await;
    let ec = wait_for(&api, "edge", WAIT, |ec: &EdgeCloud| {
        has_reason(ec, SCALING_BLOCKED, "True", reason::EXPAND_NOT_SUPPORTED)
    })
    .await
    .unwrap();
    assert!(message_of(&ec, SCALING_BLOCKED).contains("1 more instance"));
    assert!(has(&ec, READY, "False"));
    assert_eq!(
        live_instances(&env).len(),
        1,
        "nothing was created around the cloud's rule"
    );

    // Scaling back in clears the block.
    merge(&api, "edge", serde_json::json!({"spec": {"replicas": 1}})).await;
    let ec = fleet_converged(&api, "edge", 1).await;
    assert!(has(&ec, SCALING_BLOCKED, "False"));
    delete_and_expect_nothing_left(&env, &api, "edge").await;
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_template_the_cloud_cannot_honour_stalls_naming_the_field_before_any_plan() {
    // The shared disk types accept what other clouds offer (up to 32 TiB); IEC's 40–100 GB system disk
    // is the provider's rule on the template, checked before a plan is made, and named in the condition.
    let env = Env::start("ec-template", Faults::default()).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let vpc = system_vpc(&env).await;
    let mut ec = fleet(&env, "big-disk", &vpc, 2, three_cities());
    ec.spec.template.root_volume.size = 200;
    create(&api, &ec).await;
    let ec = wait_for(&api, "big-disk", WAIT, |ec: &EdgeCloud| {
        reason_of(ec, STALLED) == reason::INVALID_SPEC
    })
    .await
    .unwrap();
    let message = message_of(&ec, STALLED);
    assert!(
        message.contains("spec.template.rootVolume.size") && message.contains("40–100 GB"),
        "{message}"
    );
    assert!(live_instances(&env).is_empty(), "nothing was created");
    assert!(env.cloud("iec.deployment").is_empty(), "no plan was made");
    assert!(
        ec.status
            .as_ref()
            .and_then(|s| s.pending_create.as_ref())
            .is_none(),
        "no create intent: no plan was made"
    );
    // Fixed in place: the fleet is created as usual.
    merge(
        &api,
        "big-disk",
        serde_json::json!({"spec": {"template": {"rootVolume": {"size": 40}}}}),
    )
    .await;
    fleet_converged(&api, "big-disk", 2).await;
    delete_and_expect_nothing_left(&env, &api, "big-disk").await;
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn paused_freezes_scaling_and_orphan_keeps_everything() {
    let env = Env::start("ec-paused", Faults::default()).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let vpc = system_vpc(&env).await;
    create(&api, &fleet(&env, "calm", &vpc, 1, vec![city("wuhan", 1)])).await;
    fleet_converged(&api, "calm", 1).await;

    merge(
        &api,
        "calm",
        serde_json::json!({"spec": {"paused": true, "replicas": 2}}),
    )
    .await;
    let ec = wait_for(&api, "calm", WAIT, |ec: &EdgeCloud| {
        has_reason(ec, SCALING_BLOCKED, "True", reason::PAUSED)
            && ec.status.as_ref().and_then(|s| s.observed_generation) == ec.metadata.generation
    })
    .await
    .unwrap();
    assert_eq!(ec.status.as_ref().unwrap().replicas, 1, "status stays fresh");
    env.wait_passes::<EdgeCloud>("calm", 2).await;
    assert_eq!(live_instances(&env).len(), 1, "no scaling while paused");

    merge(&api, "calm", serde_json::json!({"spec": {"paused": false}})).await;
    fleet_converged(&api, "calm", 2).await;

    merge(
        &api,
        "calm",
        serde_json::json!({"spec": {"deletionPolicy": "Orphan"}}),
    )
    .await;
    wait_for(&api, "calm", WAIT, |ec: &EdgeCloud| {
        ec.status.as_ref().and_then(|s| s.observed_generation) == ec.metadata.generation
    })
    .await
    .unwrap();
    delete(&api, "calm").await.unwrap();
    wait_deleted(&api, "calm", WAIT).await.unwrap();
    assert_eq!(env.cloud("iec.edgecloud").len(), 1, "Orphan keeps the edge cloud");
    assert_eq!(live_instances(&env).len(), 2, "Orphan keeps the members");
    env.teardown().await;
}

fn lost(operation: &str) -> Faults {
    Faults {
        lost_responses: vec![LostResponseFault {
            operation: operation.into(),
            rate: 1.0,
            mode: LostMode::Error500,
        }],
        ..Faults::default()
    }
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn lost_responses_and_restarts_never_duplicate_or_double_delete() {
    // Every plan create and deploy "fails" after it happened: the ids come back only by recovery.
    let env = Env::start("ec-crash", Faults::default()).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let vpc = system_vpc(&env).await;
    env.set_faults(Faults {
        lost_responses: vec![
            LostResponseFault {
                operation: "POST /v1/deployments".into(),
                rate: 1.0,
                mode: LostMode::Error500,
            },
            LostResponseFault {
                operation: "POST /v1/deployments/{deployment_id}/deploy".into(),
                rate: 1.0,
                mode: LostMode::Error500,
            },
        ],
        ..Faults::default()
    });
    create(&api, &fleet(&env, "tough", &vpc, 2, vec![city("changsha", 1)])).await;
    wait_for(&api, "tough", WAIT, |ec: &EdgeCloud| {
        ec.status.as_ref().is_some_and(|s| s.edge_cloud_id.is_some())
    })
    .await
    .unwrap();
    env.set_faults(Faults::default());
    fleet_converged(&api, "tough", 2).await;
    assert_eq!(
        env.cloud("iec.edgecloud").len(),
        1,
        "one edge cloud despite lost responses"
    );
    assert_eq!(live_instances(&env).len(), 2);
    assert!(
        env.cloud("iec.deployment").is_empty(),
        "the recovered plan was deleted"
    );

    // Expansion whose response is lost, with a crash right after the scale request.
    env.set_faults(lost("POST /v1/deployments/{deployment_id}/expand"));
    merge(&api, "tough", serde_json::json!({"spec": {"replicas": 4}})).await;
    wait_for(&api, "tough", WAIT, |ec: &EdgeCloud| {
        ec.status.as_ref().is_some_and(|s| s.pending_expand.is_some())
    })
    .await
    .unwrap();
    let mut env = env;
    env.crash_controllers().await;
    env.set_faults(Faults::default());
    env.start_controllers();
    fleet_converged(&api, "tough", 4).await;
    assert_eq!(
        live_instances(&env).len(),
        4,
        "exactly the missing members were added"
    );
    assert_eq!(
        env.emu()
            .calls()
            .mutations("POST /v1/deployments/{deployment_id}/expand"),
        1
    );

    // Scale-in whose delete response is lost, and a crash while it is pending.
    let before: Vec<String> = live_instances(&env)
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    let expansions = env
        .emu()
        .calls()
        .mutations("POST /v1/deployments/{deployment_id}/expand");
    env.set_faults(lost("POST /v1/cloudservers/delete"));
    merge(&api, "tough", serde_json::json!({"spec": {"replicas": 1}})).await;
    wait_for(&api, "tough", WAIT, |ec: &EdgeCloud| {
        ec.status.as_ref().is_some_and(|s| !s.pending_delete.is_empty())
    })
    .await
    .unwrap();
    env.crash_controllers().await;
    env.set_faults(Faults::default());
    env.start_controllers();
    fleet_converged(&api, "tough", 1).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while live_instances(&env).len() != 1 {
        assert!(tokio::time::Instant::now() < deadline, "3 members are deleted");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let survivor = live_instances(&env)[0]["id"].as_str().unwrap().to_owned();
    assert!(
        before.contains(&survivor),
        "one of the original members survives: the victims were not re-chosen and nothing was replaced"
    );
    assert_eq!(
        env.emu()
            .calls()
            .mutations("POST /v1/deployments/{deployment_id}/expand"),
        expansions,
        "no member was deleted by mistake and replaced"
    );
    assert_eq!(
        env.emu().calls().mutations("POST /v1/deployments"),
        2,
        "one deployment plan (its lost response recovered, not repeated) and one expansion plan"
    );
    delete_and_expect_nothing_left(&env, &api, "tough").await;
    env.teardown().await;
}

const ZHONGSHAN_SITE: &str = "a0272146-f6d8-4e3f-a1dc-196ec4a2f856";

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_site_without_capacity_blocks_only_that_site() {
    let env = Env::start(
        "ec-capacity",
        Faults {
            capacity_exhausted_sites: vec![ZHONGSHAN_SITE.into()],
            ..Faults::default()
        },
    )
    .await;
    let api: Api<EdgeCloud> = env.ns.api();
    let vpc = system_vpc(&env).await;
    create(
        &api,
        &fleet(
            &env,
            "spread",
            &vpc,
            3,
            vec![city("xi'an", 1), city("zhongshan", 1), city("wuhan", 1)],
        ),
    )
    .await;
    // The other cities progress; zhongshan is reported by name.
    let ec = wait_for(&api, "spread", WAIT, |ec: &EdgeCloud| {
        has_reason(ec, SCALING_BLOCKED, "True", "CapacityExhausted")
            && ec.status.as_ref().is_some_and(|s| s.ready_replicas == 2)
    })
    .await
    .unwrap();
    assert!(
        message_of(&ec, SCALING_BLOCKED).contains("zhongshan"),
        "{}",
        message_of(&ec, SCALING_BLOCKED)
    );
    assert!(has(&ec, READY, "False"));
    let rows = per_city(&ec);
    assert_eq!(rows["xi'an"], (1, 1));
    assert_eq!(rows["wuhan"], (1, 1));
    assert_eq!(rows["zhongshan"], (1, 0));
    assert_eq!(env.cloud("iec.edgecloud").len(), 1);

    // Capacity comes back: no restart needed.
    env.set_faults(Faults::default());
    let ec = fleet_converged(&api, "spread", 3).await;
    assert!(has(&ec, SCALING_BLOCKED, "False"));
    assert_eq!(per_city(&ec)["zhongshan"], (1, 1));
    delete_and_expect_nothing_left(&env, &api, "spread").await;
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn failed_members_are_replaced() {
    let env = Env::start("ec-remedy", Faults::default()).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let vpc = system_vpc(&env).await;
    create(&api, &fleet(&env, "heal", &vpc, 2, vec![city("changsha", 1)])).await;
    fleet_converged(&api, "heal", 2).await;

    // New members fail in the cloud until the fault is lifted.
    env.set_faults(Faults {
        instance_failure_rate: 1.0,
        ..Faults::default()
    });
    merge(&api, "heal", serde_json::json!({"spec": {"replicas": 3}})).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !env.cloud("iec.instance").iter().any(|i| i["status"] == "FAILED") {
        assert!(tokio::time::Instant::now() < deadline, "a member fails");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    env.set_faults(Faults::default());
    fleet_converged(&api, "heal", 3).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let live = live_instances(&env);
        if live.len() == 3 && live.iter().all(|i| i["status"] == "ACTIVE") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "failed members are deleted and replaced: {live:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    mirrored(&env, "heal", 3).await;
    delete_and_expect_nothing_left(&env, &api, "heal").await;
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_flavor_change_replaces_members_within_max_unavailable() {
    let env = Env::start("ec-roll", Faults::default()).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let vpc = system_vpc(&env).await;
    create(&api, &fleet(&env, "roll", &vpc, 2, vec![city("wuhan", 1)])).await;
    fleet_converged(&api, "roll", 2).await;
    let before: Vec<String> = live_instances(&env)
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();

    merge(
        &api,
        "roll",
        serde_json::json!({"spec": {"template": {"flavor": "c6.xlarge.2"}}}),
    )
    .await;
    // maxSurge 1 / maxUnavailable 0 (defaults): never fewer than 2 Ready members on the way.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut saw_rolling = false;
    loop {
        let ec = api.get("roll").await.unwrap();
        let s = ec.status.clone().unwrap_or_default();
        assert!(s.ready_replicas >= 2, "availability kept: {s:?}");
        assert!(s.replicas <= 3, "at most one surge member: {s:?}");
        saw_rolling |= reason_of(&ec, "Reconciling") == reason::ROLLING_UPDATE;
        if s.observed_generation == ec.metadata.generation
            && s.updated_replicas == 2
            && s.replicas == 2
            && has(&ec, READY, "True")
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "rollout finishes: {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(saw_rolling, "Reconciling said RollingUpdate during the rollout");
    let ms = mirrored(&env, "roll", 2).await;
    for m in &ms {
        assert_eq!(m.spec.flavor, "c6.xlarge.2");
        assert!(
            !before.contains(m.spec.adopt_id.as_ref().unwrap()),
            "every member was replaced"
        );
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while live_instances(&env).len() != 2 {
        assert!(tokio::time::Instant::now() < deadline, "old members are deleted");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    delete_and_expect_nothing_left(&env, &api, "roll").await;
    env.teardown().await;
}

fn ids(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = live_instances(env)
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

/// A fleet `name` of `n` members at xi'an, converged, whose member EdgeInstances the EdgeInstance
/// controller has adopted (each Ready). Returns the members.
async fn fleet_with_ready_members(env: &Env, api: &Api<EdgeCloud>, name: &str, n: i32) -> Vec<EdgeInstance> {
    let vpc = system_vpc(env).await;
    create(api, &fleet(env, name, &vpc, n, vec![city("xi'an", 1)])).await;
    fleet_converged(api, name, n).await;
    let ms = mirrored(env, name, usize::try_from(n).unwrap()).await;
    let eis: Api<EdgeInstance> = env.ns.api();
    for m in &ms {
        wait_for_condition(&eis, &m.name_any(), READY, "True", WAIT)
            .await
            .unwrap();
    }
    ms
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_member_deleted_by_hand_is_replaced() {
    let env = Env::start("ec-member", Faults::default()).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let ms = fleet_with_ready_members(&env, &api, "pool", 2).await;
    let eis: Api<EdgeInstance> = env.ns.api();
    let victim = ms[0].clone();
    let victim_id = victim.spec.adopt_id.clone().unwrap();
    delete(&eis, &victim.name_any()).await.unwrap();
    wait_deleted(&eis, &victim.name_any(), WAIT).await.unwrap();
    // Its cloud instance is deleted (by the member's controller) and the fleet replaces it.
    let ec = wait_for(&api, "pool", WAIT, |ec: &EdgeCloud| {
        ec.status
            .as_ref()
            .is_some_and(|s| s.ready_replicas == 2 && s.replicas == 2)
            && has(ec, READY, "True")
    })
    .await
    .unwrap();
    assert_eq!(ec.status.unwrap().updated_replicas, 2);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = ids(&env);
        if now.len() == 2 && !now.contains(&victim_id) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the victim is gone and replaced: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let ms = mirrored(&env, "pool", 2).await;
    assert!(
        ms.iter()
            .all(|m| m.spec.adopt_id.as_deref() != Some(victim_id.as_str()))
    );
    delete_and_expect_nothing_left(&env, &api, "pool").await;
    env.teardown().await;
}

/// Every version of the fleet that says Ready=True also has every member it wants, ready and up to date.
fn assert_never_ready_while_short(versions: &[EdgeCloud]) {
    for v in versions {
        let s = v.status.clone().unwrap_or_default();
        if has(v, READY, "True") {
            assert!(
                s.replicas == v.spec.replicas
                    && s.ready_replicas == v.spec.replicas
                    && s.pending_expand.is_none(),
                "a write says Ready=True at {} of {} ready members (replicas {}, expansion pending: {}): {}",
                s.ready_replicas,
                v.spec.replicas,
                s.replicas,
                s.pending_expand.is_some(),
                message_of(v, READY)
            );
        }
    }
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_fleet_short_of_a_member_is_never_ready_while_expanding() {
    let env = Env::start("ec-short", Faults::default()).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let ms = fleet_with_ready_members(&env, &api, "short", 3).await;
    let eis: Api<EdgeInstance> = env.ns.api();
    // Plans take 4 s to create, as a slow cloud's do: the pass that starts the expansion writes its
    // intent, with the counts it observed, long before the pass ends.
    env.set_faults(Faults {
        latency: vec![LatencyFault {
            operation: "POST /v1/deployments".into(),
            fixed_ms: 4000,
            jitter_ms: 0,
        }],
        ..Faults::default()
    });
    let (versions, watching) = record_versions(&api, "short");
    let victim = ms[0].name_any();
    delete(&eis, &victim).await.unwrap();
    wait_deleted(&eis, &victim, WAIT).await.unwrap();
    // The fleet dips to 2 members, expands and is whole again.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !versions
        .lock()
        .unwrap()
        .iter()
        .any(|v| v.status.as_ref().is_some_and(|s| s.pending_expand.is_some()))
    {
        assert!(tokio::time::Instant::now() < deadline, "an expansion starts");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fleet_converged(&api, "short", 3).await;
    watching.abort();
    let versions = versions.lock().unwrap().clone();
    assert!(
        versions.iter().any(|v| v
            .status
            .as_ref()
            .is_some_and(|s| s.ready_replicas < 3 && s.pending_expand.is_some())),
        "the expansion intent was written with the short count"
    );
    assert_never_ready_while_short(&versions);
    env.set_faults(Faults::default());
    delete_and_expect_nothing_left(&env, &api, "short").await;
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_fleet_delete_waits_for_the_cloud_as_progress_not_as_an_error() {
    let env = Env::start("ec-delwait", Faults::default()).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let vpc = system_vpc(&env).await;
    create(&api, &fleet(&env, "gone", &vpc, 2, vec![city("xi'an", 1)])).await;
    fleet_converged(&api, "gone", 2).await;
    let (versions, watching) = record_versions(&api, "gone");
    delete_and_expect_nothing_left(&env, &api, "gone").await;
    watching.abort();
    let versions = versions.lock().unwrap().clone();
    let deleting: Vec<&EdgeCloud> = versions
        .iter()
        .filter(|v| v.metadata.deletion_timestamp.is_some() && v.status.is_some())
        .collect();
    assert!(
        deleting.iter().any(|v| reason_of(*v, READY) == reason::DELETING),
        "the deletion is reported while it waits for the cloud"
    );
    for v in deleting {
        // Waiting for members and the edge cloud to go is progress: never a failed pass (which would
        // retry on the error backoff and log a warning).
        assert!(!has(v, SYNCED, "False"), "{}", message_of(v, SYNCED));
        if has(v, READY, "False") {
            assert_eq!(reason_of(v, READY), reason::DELETING);
        }
    }
    let events: Api<k8s_openapi::api::core::v1::Event> = env.ns.api();
    let warnings: Vec<String> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .map(|e| format!("{:?}: {:?}", e.reason, e.message))
        .collect();
    assert!(warnings.is_empty(), "{warnings:?}");
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn an_image_change_is_applied_in_place_one_member_at_a_time() {
    let env = Env::start("ec-image", Faults::default()).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let vpc = system_vpc(&env).await;
    // A new OS must be reachable: IEC's change-OS takes a key pair or user data, not a password.
    env.put_secret_named("init", &[("user-data", "#!/bin/sh\necho ready\n")])
        .await;
    let mut ec = fleet(&env, "os", &vpc, 2, vec![city("changsha", 1)]);
    ec.spec.template.user_data_secret_ref = Some(SecretKeyRef {
        name: "init".into(),
        key: "user-data".into(),
    });
    create(&api, &ec).await;
    fleet_converged(&api, "os", 2).await;
    let before = ids(&env);
    const UBUNTU: &str = "00000000-0000-0000-0000-000000000008";
    merge(
        &api,
        "os",
        serde_json::json!({"spec": {"template": {"image": UBUNTU}}}),
    )
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ec = api.get("os").await.unwrap();
        let s = ec.status.clone().unwrap_or_default();
        // maxUnavailable 0: in-place changes still go one member at a time.
        assert!(s.ready_replicas >= 1, "one member at a time: {s:?}");
        if s.observed_generation == ec.metadata.generation
            && s.updated_replicas == 2
            && s.ready_replicas == 2
            && has(&ec, READY, "True")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the image rollout finishes: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ids(&env), before, "changed in place: the same instances");
    for m in mirrored(&env, "os", 2).await {
        assert_eq!(m.spec.image, UBUNTU);
    }
    delete_and_expect_nothing_left(&env, &api, "os").await;
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_failed_edge_cloud_is_deleted_and_deployed_again() {
    let env = Env::start("ec-failed", Faults::default()).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let vpc = system_vpc(&env).await;
    // Every member of the first deployment fails, so IEC marks the edge cloud failed.
    env.set_faults(Faults {
        instance_failure_rate: 1.0,
        ..Faults::default()
    });
    create(&api, &fleet(&env, "phoenix", &vpc, 2, vec![city("wuhan", 1)])).await;
    let first = wait_for(&api, "phoenix", WAIT, |ec: &EdgeCloud| {
        ec.status
            .as_ref()
            .is_some_and(|s| s.cloud_status.as_deref() == Some("failed"))
    })
    .await
    .unwrap();
    let first_id = first.status.unwrap().edge_cloud_id.unwrap();
    env.set_faults(Faults::default());
    let ec = fleet_converged(&api, "phoenix", 2).await;
    let now_id = ec.status.unwrap().edge_cloud_id.unwrap();
    assert_ne!(now_id, first_id, "deployed again");
    assert_eq!(
        env.cloud("iec.edgecloud").len(),
        1,
        "the failed edge cloud is gone"
    );
    assert_eq!(live_instances(&env).len(), 2);
    assert!(env.cloud("iec.deployment").is_empty());
    delete_and_expect_nothing_left(&env, &api, "phoenix").await;
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn the_sample_shaped_fleet_resolves_references_and_deletion_never_scales_up() {
    use edgefleet::api::security_group::SecurityGroup;
    use edgefleet::api::vpc::Vpc;
    let env = Env::start("ec-sample", Faults::default()).await;
    let labels = serde_json::json!({ RUN_LABEL: env.ns.name() });
    let vpcs: Api<Vpc> = env.ns.api();
    let sgs: Api<SecurityGroup> = env.ns.api();
    let api: Api<EdgeCloud> = env.ns.api();
    let vpc: Vpc = serde_json::from_value(serde_json::json!({
        "apiVersion": "edgefleet.io/v1alpha1", "kind": "Vpc",
        "metadata": {"name": "fleet-vpc", "labels": labels},
        "spec": {"providerConfigRef": {"name": env.pc}, "name": format!("fleet-{}", env.ns.name()),
                 "cidr": "192.168.0.0/16"}
    }))
    .unwrap();
    let sg: SecurityGroup = serde_json::from_value(serde_json::json!({
        "apiVersion": "edgefleet.io/v1alpha1", "kind": "SecurityGroup",
        "metadata": {"name": "web", "labels": labels},
        "spec": {"providerConfigRef": {"name": env.pc}, "description": "web",
                 "rules": [{"direction": "ingress", "protocol": "tcp", "portRangeMin": 443,
                            "portRangeMax": 443, "remoteIpPrefix": "0.0.0.0/0"}]}
    }))
    .unwrap();
    // The fleet is created first: it waits for its references, naming them.
    let mut ec = fleet(
        &env,
        "web-fleet",
        "unused",
        3,
        vec![
            PlacementEntry {
                city: Some("changsha".into()),
                operator: Some("chinatelecom".into()),
                count: Some(1),
                ..PlacementEntry::default()
            },
            PlacementEntry {
                city: Some("wuhan".into()),
                count: Some(1),
                ..PlacementEntry::default()
            },
            PlacementEntry {
                city: Some("zhongshan".into()),
                operator: Some("chinaunicom".into()),
                weight: Some(1),
                ..PlacementEntry::default()
            },
        ],
    );
    ec.spec.template.network = serde_json::from_value(serde_json::json!({
        "vpcRef": {"name": "fleet-vpc"}, "nicCount": 1, "securityGroupRefs": [{"name": "web"}]
    }))
    .unwrap();
    ec.spec.template.bandwidth = serde_json::from_value(serde_json::json!({"size": 5})).unwrap();
    create(&api, &ec).await;
    let waiting = wait_for(&api, "web-fleet", WAIT, |ec: &EdgeCloud| {
        reason_of(ec, READY) == reason::WAITING_FOR_DEPENDENCY
    })
    .await
    .unwrap();
    assert!(
        message_of(&waiting, READY).contains("fleet-vpc"),
        "{}",
        message_of(&waiting, READY)
    );
    assert_eq!(
        waiting.status.unwrap().placements.len(),
        3,
        "the placement is resolved and shown before anything exists"
    );
    create(&vpcs, &vpc).await;
    create(&sgs, &sg).await;
    let ec = fleet_converged(&api, "web-fleet", 3).await;
    let rows: BTreeMap<(String, Option<String>), (i32, i32)> = ec
        .status
        .unwrap()
        .placements
        .iter()
        .map(|p| ((p.location.clone(), p.operator.clone()), (p.desired, p.ready)))
        .collect();
    assert_eq!(
        rows[&("changsha".to_owned(), Some("chinatelecom".to_owned()))],
        (1, 1)
    );
    assert_eq!(
        rows[&("zhongshan".to_owned(), Some("chinaunicom".to_owned()))],
        (1, 1)
    );
    let sg_id = wait_for_condition(&sgs, "web", READY, "True", WAIT)
        .await
        .unwrap()
        .status
        .unwrap()
        .security_group_id
        .unwrap();
    for m in mirrored(&env, "web-fleet", 3).await {
        assert_eq!(m.spec.network.security_group_ids, std::slice::from_ref(&sg_id));
    }

    // Deleting while a scale-out is requested: the deletion never expands.
    let expansions = env
        .emu()
        .calls()
        .mutations("POST /v1/deployments/{deployment_id}/expand");
    merge(&api, "web-fleet", serde_json::json!({"spec": {"replicas": 6}})).await;
    delete(&api, "web-fleet").await.unwrap();
    wait_deleted(&api, "web-fleet", WAIT).await.unwrap();
    assert!(
        env.emu()
            .calls()
            .mutations("POST /v1/deployments/{deployment_id}/expand")
            <= expansions + 1,
        "at most the expansion started before the deletion was seen"
    );
    assert!(env.cloud("iec.edgecloud").is_empty());
    assert!(live_instances(&env).is_empty());
    assert!(env.cloud("iec.deployment").is_empty());
    delete(&sgs, "web").await.unwrap();
    delete(&vpcs, "fleet-vpc").await.unwrap();
    wait_deleted(&sgs, "web", WAIT).await.unwrap();
    wait_deleted(&vpcs, "fleet-vpc", WAIT).await.unwrap();
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn observe_only_adoption_reports_and_never_mutates() {
    let env = Env::start("ec-observe", Faults::default()).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let vpc = system_vpc(&env).await;
    create(&api, &fleet(&env, "owner", &vpc, 2, vec![city("wuhan", 1)])).await;
    let owner = fleet_converged(&api, "owner", 2).await;
    let id = owner.status.unwrap().edge_cloud_id.unwrap();

    let mut watcher = fleet(&env, "watcher", &vpc, 5, vec![city("wuhan", 1)]);
    watcher.spec.management_policy = ManagementPolicy::ObserveOnly;
    watcher.spec.adopt_id = Some(id.clone());
    let mutations = env.mutations();
    create(&api, &watcher).await;
    let seen = wait_for(&api, "watcher", WAIT, |ec: &EdgeCloud| {
        has_reason(ec, READY, "True", reason::OBSERVED) && ec.status.as_ref().is_some_and(|s| s.replicas == 2)
    })
    .await
    .unwrap();
    assert_eq!(seen.status.unwrap().edge_cloud_id.as_deref(), Some(id.as_str()));
    mirrored(&env, "watcher", 2).await;
    delete(&api, "watcher").await.unwrap();
    wait_deleted(&api, "watcher", WAIT).await.unwrap();
    assert_eq!(
        env.mutations(),
        mutations,
        "observing (replicas 5 asked) and deleting the observer changed nothing in the cloud"
    );
    assert_eq!(live_instances(&env).len(), 2);
    delete_and_expect_nothing_left(&env, &api, "owner").await;
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_member_annotated_delete_first_goes_first() {
    use edgefleet::api::edge_cloud::DELETE_FIRST_ANNOTATION;
    let env = Env::start("ec-victim", Faults::default()).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let vpc = system_vpc(&env).await;
    let mut ec = fleet(&env, "pick", &vpc, 3, vec![city("xi'an", 1)]);
    ec.spec.delete_policy = FleetDeletePolicy::Newest;
    create(&api, &ec).await;
    fleet_converged(&api, "pick", 3).await;
    let ms = mirrored(&env, "pick", 3).await;
    // The member Newest would pick last (oldest; among equals the largest id, since ties go to the
    // smallest id) is annotated: it goes anyway.
    let created: BTreeMap<String, u64> = live_instances(&env)
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                i["created_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    let chosen = ms
        .iter()
        .max_by_key(|m| {
            let id = m.spec.adopt_id.clone().unwrap();
            // The cloud shows creation times to the second.
            (std::cmp::Reverse(created[&id] / 1000), id)
        })
        .unwrap()
        .clone();
    let chosen_id = chosen.spec.adopt_id.clone().unwrap();
    let eis: Api<EdgeInstance> = env.ns.api();
    merge(
        &eis,
        &chosen.name_any(),
        serde_json::json!({"metadata": {"annotations": {DELETE_FIRST_ANNOTATION: "true"}}}),
    )
    .await;
    merge(&api, "pick", serde_json::json!({"spec": {"replicas": 2}})).await;
    fleet_converged(&api, "pick", 2).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = ids(&env);
        if now.len() == 2 {
            assert!(!now.contains(&chosen_id), "the annotated member was removed");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "scale-in finishes: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    delete_and_expect_nothing_left(&env, &api, "pick").await;
    env.teardown().await;
}

/// The live cloud instance named `name`, if any.
fn instance_named(env: &Env, name: &str) -> Option<serde_json::Value> {
    live_instances(env).into_iter().find(|i| i["name"] == name)
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_member_stuck_in_build_is_replaced_and_deleted_once_it_leaves_build() {
    use edgefleet::api::edge_cloud::REPLACE_ANNOTATION;
    use edgefleet::controller::edge_cloud::BUILD_TIMEOUT;
    use edgefleet_emulator::core::faults::SlowBuildFault;
    let mut env = Env::start("ec-stuck", Faults::default()).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let vpc = system_vpc(&env).await;
    let mut ec = fleet(&env, "stuck", &vpc, 2, vec![city("changsha", 1)]);
    ec.spec.remediation.build_timeout = "10s".into();
    create(&api, &ec).await;
    fleet_converged(&api, "stuck", 2).await;
    let expand_op = "POST /v1/deployments/{deployment_id}/expand";
    let expansions_before = env.emu().calls().requests(expand_op);

    // The next member (web-0003) builds for 35 s, far past buildTimeout (10 s); the edge cloud stays
    // `updating` meanwhile, as IEC's does while a member builds.
    env.set_faults(Faults {
        slow_builds: vec![SlowBuildFault {
            name: "web-0003".into(),
            delay_ms: 35_000,
        }],
        ..Faults::default()
    });
    merge(&api, "stuck", serde_json::json!({"spec": {"replicas": 3}})).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let stuck_id = loop {
        if let Some(i) = instance_named(&env, "web-0003") {
            break i["id"].as_str().unwrap().to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "web-0003 is created");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Past the timeout it is reported and marked for replacement while it still builds.
    let ec = wait_for(&api, "stuck", WAIT, |ec: &EdgeCloud| {
        has_reason(ec, SCALING_BLOCKED, "True", BUILD_TIMEOUT)
            && message_of(ec, SCALING_BLOCKED).contains("being replaced")
    })
    .await
    .unwrap();
    assert!(
        message_of(&ec, SCALING_BLOCKED).contains(&stuck_id),
        "{}",
        message_of(&ec, SCALING_BLOCKED)
    );
    let marked = fleet_members(&env, "stuck")
        .await
        .into_iter()
        .find(|m| m.spec.adopt_id.as_deref() == Some(stuck_id.as_str()))
        .expect("the stuck member is mirrored");
    assert_eq!(
        marked.annotations().get(REPLACE_ANNOTATION).map(String::as_str),
        Some(BUILD_TIMEOUT),
        "the mark is durable on its EdgeInstance"
    );
    assert_eq!(
        instance_named(&env, "web-0003").unwrap()["status"],
        "BUILD",
        "still building when it is marked"
    );

    // A restart while it waits: the mark is read back, nothing is expanded twice.
    env.crash_controllers().await;
    env.start_controllers();

    // Once it leaves BUILD it is deleted, and exactly one replacement brings the fleet back to 3.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let live = live_instances(&env);
        if live.len() == 3
            && live.iter().all(|i| i["status"] == "ACTIVE")
            && live.iter().all(|i| i["id"] != stuck_id.as_str())
        {
            break;
        }
        let ec = api.get("stuck").await.unwrap();
        if live.iter().any(|i| i["id"] == stuck_id.as_str()) {
            assert!(
                !has(&ec, READY, "True"),
                "not Ready while a member waits to be replaced: {live:?}"
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stuck member is deleted once built and replaced: {live:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    fleet_converged(&api, "stuck", 3).await;
    let mut names: Vec<String> = live_instances(&env)
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["web-0001", "web-0002", "web-0004"],
        "one replacement, no duplicate"
    );
    assert_eq!(
        env.emu().calls().requests(expand_op) - expansions_before,
        2,
        "one expansion for the scale-out, one for the replacement"
    );
    let ms = mirrored(&env, "stuck", 3).await;
    assert!(
        ms.iter()
            .all(|m| !m.annotations().contains_key(REPLACE_ANNOTATION))
    );
    let ec = api.get("stuck").await.unwrap();
    assert!(has(&ec, SCALING_BLOCKED, "False"), "nothing left to report");
    assert_quiescent(&env, &api, "stuck").await;
    delete_and_expect_nothing_left(&env, &api, "stuck").await;
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_data_volume_change_replaces_members_within_max_unavailable() {
    use edgefleet::api::edge_cloud::{RollingUpdate, TEMPLATE_FINGERPRINT_ANNOTATION};
    use edgefleet::api::edge_instance::DataVolume;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let env = Env::start("ec-disk", Faults::default()).await;
    let api: Api<EdgeCloud> = env.ns.api();
    let vpc = system_vpc(&env).await;
    let mut ec = fleet(&env, "disk", &vpc, 2, vec![city("wuhan", 1)]);
    ec.spec.template.data_volumes = vec![DataVolume {
        type_: "SATA".into(),
        size: 50,
    }];
    ec.spec.strategy.rolling_update = RollingUpdate {
        max_surge: Some(IntOrString::Int(0)),
        max_unavailable: Some(IntOrString::Int(1)),
    };
    create(&api, &ec).await;
    fleet_converged(&api, "disk", 2).await;
    let before: Vec<String> = ids(&env);
    let ms = mirrored(&env, "disk", 2).await;
    let old_fingerprint = ms[0].annotations()[TEMPLATE_FINGERPRINT_ANNOTATION].clone();
    assert!(
        ms.iter()
            .all(|m| m.annotations()[TEMPLATE_FINGERPRINT_ANNOTATION] == old_fingerprint),
        "every member records the template it was created from"
    );

    merge(
        &api,
        "disk",
        serde_json::json!({"spec": {"template": {"dataVolumes": [{"type": "SATA", "size": 100}]}}}),
    )
    .await;
    // maxSurge 0 / maxUnavailable 1: never more than 2 members, never fewer than 1 Ready.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut saw_outdated = false;
    loop {
        let ec = api.get("disk").await.unwrap();
        let s = ec.status.clone().unwrap_or_default();
        assert!(s.ready_replicas >= 1, "availability kept: {s:?}");
        assert!(s.replicas <= 2, "no surge member: {s:?}");
        saw_outdated |= s.observed_generation == ec.metadata.generation && s.updated_replicas < 2;
        if s.observed_generation == ec.metadata.generation
            && s.updated_replicas == 2
            && s.replicas == 2
            && has(&ec, READY, "True")
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "rollout finishes: {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(saw_outdated, "the old members were counted as not up to date");
    let deadline = tokio::time::Instant::now() + WAIT;
    while live_instances(&env).len() != 2 {
        assert!(tokio::time::Instant::now() < deadline, "old members are deleted");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let now = ids(&env);
    assert!(
        now.iter().all(|id| !before.contains(id)),
        "every member was replaced: {before:?} → {now:?}"
    );
    // The cloud's disks of the new members have the new size.
    let data_disks: Vec<u64> = env
        .cloud("iec.volume")
        .iter()
        .filter(|v| now.iter().any(|id| v["server_id"] == id.as_str()) && v["index"] != 0)
        .map(|v| v["size"].as_u64().unwrap())
        .collect();
    assert_eq!(data_disks, [100, 100], "new data disks");
    let ms = mirrored(&env, "disk", 2).await;
    assert!(
        ms.iter()
            .all(|m| m.annotations()[TEMPLATE_FINGERPRINT_ANNOTATION] != old_fingerprint),
        "the new members record the new template"
    );
    assert_quiescent(&env, &api, "disk").await;
    delete_and_expect_nothing_left(&env, &api, "disk").await;
    env.teardown().await;
}
