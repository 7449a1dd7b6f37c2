//! SecurityGroup controller against the real control plane and the in-process emulator: create with an
//! authoritative rule set (cloud default rules removed), Additive mode, rule changes, out-of-band rule and
//! group changes, remote group references, ObserveOnly, Orphan, and crash/lost-response recovery by the
//! uid marker (exactly one group per object).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use edgefleet::api::common::{DeletionPolicy, LocalObjectRef, ManagementPolicy, ProviderConfigRef};
use edgefleet::api::condition::{READY, STALLED, SYNCED};
use edgefleet::api::security_group::{
    Direction, EtherType, RuleAction, RuleManagement, SecurityGroup, SecurityGroupRule, SecurityGroupSpec,
};
use edgefleet::provider::{
    Direction as CloudDirection, EtherType as CloudEtherType, RuleRemote, RuleSpec, SecurityGroupCreate,
};
use edgefleet_emulator::Faults;
use edgefleet_emulator::core::faults::{ConsistencyFault, LatencyFault, LostResponseFault};
use kube::api::Api;
use support::harness::*;
use support::quiescence::assert_quiescent;
use support::*;

fn tcp(port: i32, prefix: &str) -> SecurityGroupRule {
    SecurityGroupRule {
        direction: Direction::Ingress,
        ethertype: EtherType::IPv4,
        protocol: "tcp".into(),
        port_range_min: Some(port),
        port_range_max: None,
        remote_ip_prefix: Some(prefix.into()),
        remote_group_ref: None,
        remote_group_id: None,
        action: RuleAction::Allow,
        priority: 1,
        description: None,
    }
}

fn sg(env: &Env, name: &str, rules: Vec<SecurityGroupRule>) -> SecurityGroup {
    SecurityGroup {
        metadata: env.meta(name),
        spec: SecurityGroupSpec {
            provider_config_ref: ProviderConfigRef { name: env.pc.clone() },
            deletion_policy: DeletionPolicy::Delete,
            management_policy: ManagementPolicy::Manage,
            adopt_id: None,
            name: None,
            description: Some("web tier".into()),
            vpc_ref: None,
            vpc_id: None,
            rule_management: RuleManagement::Authoritative,
            rules,
        },
        status: None,
    }
}

fn group_id(g: &SecurityGroup) -> String {
    g.status
        .as_ref()
        .and_then(|s| s.security_group_id.clone())
        .expect("status.securityGroupId")
}

/// The cloud rules of a group, as (direction, protocol, min port, remote) sorted.
fn cloud_rules(env: &Env, id: &str) -> Vec<(String, String, String, String)> {
    let mut rules: Vec<_> = env
        .cloud("iec.security_group_rule")
        .into_iter()
        .filter(|r| r["security_group_id"] == id)
        .map(|r| {
            let s = |k: &str| match &r[k] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.to_ascii_lowercase(),
                other => other.to_string(),
            };
            (
                s("direction"),
                s("protocol"),
                s("port_range_min"),
                format!("{}{}", s("remote_ip_prefix"), s("remote_group_id")),
            )
        })
        .collect();
    rules.sort();
    rules
}

fn groups_named(env: &Env, name: &str) -> usize {
    env.cloud("iec.security_group")
        .iter()
        .filter(|g| g["name"] == name)
        .count()
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_create_the_cloud_rejects_leaves_no_intent_and_creates_once_it_can() {
    let env = Env::start("sg-rejected", Faults::default()).await;
    let cloud = env.cloud_client();
    let groups = cloud.security_groups().unwrap();
    let fillers = fill_quota(400, |i| async move {
        groups
            .create(&SecurityGroupCreate {
                name: format!("filler-{i}"),
                description: "quota filler".into(),
                ..SecurityGroupCreate::default()
            })
            .await
            .map(|g| g.id)
    })
    .await;
    let api: Api<SecurityGroup> = env.ns.api();
    create(&api, &sg(&env, "late", vec![])).await;
    let g = wait_for(&api, "late", WAIT, |g: &SecurityGroup| {
        reason_of(g, STALLED) == "QuotaExceeded"
    })
    .await
    .unwrap();
    // The cloud created nothing, so no intent may stay behind.
    let status = g.status.clone().unwrap();
    assert_eq!(status.pending_create, None);
    assert_eq!(status.security_group_id, None);
    assert_eq!(groups_named(&env, "late"), 0);
    // Quota freed: the stalled recheck creates it, as a first create (nothing to recover).
    groups.delete(&fillers[0]).await.unwrap();
    ready(&api, "late").await;
    assert_eq!(groups_named(&env, "late"), 1);
    for id in &fillers[1..] {
        groups.delete(id).await.unwrap();
    }
    delete(&api, "late").await.unwrap();
    wait_deleted(&api, "late", WAIT).await.unwrap();
    assert_eq!(groups_named(&env, "late"), 0);
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn authoritative_rules_drift_and_idempotence() {
    let env = Env::start("sg-rules", Faults::default()).await;
    let api: Api<SecurityGroup> = env.ns.api();
    create(
        &api,
        &sg(&env, "web", vec![tcp(22, "10.0.0.0/8"), tcp(443, "0.0.0.0/0")]),
    )
    .await;
    let g = ready(&api, "web").await;
    let id = group_id(&g);
    assert_eq!(
        cloud_rules(&env, &id)
            .iter()
            .map(|r| r.2.as_str())
            .collect::<Vec<_>>(),
        ["22", "443"],
        "exactly spec.rules: cloud default rules are removed under Authoritative"
    );
    let cloud_group = env
        .cloud("iec.security_group")
        .into_iter()
        .find(|x| x["id"] == id.as_str())
        .unwrap();
    assert!(
        cloud_group["description"]
            .as_str()
            .unwrap()
            .starts_with("web tier [ef-"),
        "{cloud_group}"
    );

    // Idempotence: nothing to do → no cloud mutation and no status write.
    assert_quiescent(&env, &api, "web").await;

    // Out of band: a rule deleted and a foreign rule added → both corrected on the next poll.
    let cloud = env.cloud_client();
    let sgs = cloud.security_groups().unwrap();
    let observed = sgs.get(&id).await.unwrap();
    let ssh = observed
        .rules
        .iter()
        .find(|r| r.rule.port_min == Some(22))
        .unwrap();
    sgs.delete_rule(&id, &ssh.id).await.unwrap();
    let mut foreign = RuleSpec::allow(CloudDirection::Ingress, CloudEtherType::Ipv4);
    foreign.protocol = Some("udp".into());
    foreign.port_min = Some(53);
    foreign.port_max = Some(53);
    foreign.remote = RuleRemote::Cidr("192.168.0.0/16".into());
    sgs.create_rule(&id, &foreign).await.unwrap();
    wait_for(&api, "web", WAIT, |_| {
        cloud_rules(&env, &id)
            .iter()
            .map(|r| r.2.clone())
            .collect::<Vec<_>>()
            == ["22", "443"]
    })
    .await
    .unwrap();

    // A spec change replaces one rule (create + delete: IEC rules are immutable).
    merge(
        &api,
        "web",
        serde_json::json!({"spec": {"rules": [
            {"direction": "ingress", "protocol": "tcp", "portRangeMin": 2222, "remoteIpPrefix": "10.0.0.0/8"},
            {"direction": "ingress", "protocol": "tcp", "portRangeMin": 443, "remoteIpPrefix": "0.0.0.0/0"},
        ]}}),
    )
    .await;
    ready(&api, "web").await;
    wait_for(&api, "web", WAIT, |_| {
        cloud_rules(&env, &id)
            .iter()
            .map(|r| r.2.clone())
            .collect::<Vec<_>>()
            == ["2222", "443"]
    })
    .await
    .unwrap();

    // Deleted out of band → recreated (a new group carrying the same marker), never duplicated.
    sgs.delete(&id).await.unwrap();
    let g = wait_for(&api, "web", WAIT, |g: &SecurityGroup| {
        g.status
            .as_ref()
            .and_then(|s| s.security_group_id.as_deref())
            .is_some_and(|x| x != id)
            && has(g, READY, "True")
    })
    .await
    .unwrap();
    assert_eq!(groups_named(&env, "web"), 1);
    assert_eq!(cloud_rules(&env, &group_id(&g)).len(), 2);

    delete(&api, "web").await.unwrap();
    wait_deleted(&api, "web", WAIT).await.unwrap();
    assert_eq!(groups_named(&env, "web"), 0);
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn additive_keeps_rules_it_did_not_create() {
    let env = Env::start("sg-additive", Faults::default()).await;
    let api: Api<SecurityGroup> = env.ns.api();
    let mut g = sg(&env, "add", vec![tcp(80, "0.0.0.0/0")]);
    g.spec.rule_management = RuleManagement::Additive;
    create(&api, &g).await;
    let g = ready(&api, "add").await;
    let id = group_id(&g);
    let with_defaults = cloud_rules(&env, &id);
    assert!(with_defaults.iter().any(|r| r.2 == "80"));
    let others = with_defaults.len() - 1;
    // Removing the rule from the spec deletes it (edgefleet created it); the others stay.
    merge(
        &api,
        "add",
        serde_json::json!({"spec": {"rules": [
            {"direction": "ingress", "protocol": "tcp", "portRangeMin": 8080, "remoteIpPrefix": "0.0.0.0/0"}
        ]}}),
    )
    .await;
    wait_for(&api, "add", WAIT, |_| {
        let rules = cloud_rules(&env, &id);
        rules.iter().any(|r| r.2 == "8080") && !rules.iter().any(|r| r.2 == "80")
    })
    .await
    .unwrap();
    assert_eq!(
        cloud_rules(&env, &id).len(),
        others + 1,
        "cloud defaults and foreign rules are kept"
    );
    delete(&api, "add").await.unwrap();
    wait_deleted(&api, "add", WAIT).await.unwrap();
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn remote_group_refs_resolve_to_cloud_ids() {
    let env = Env::start("sg-refs", Faults::default()).await;
    let api: Api<SecurityGroup> = env.ns.api();
    let mut from_app = tcp(5432, "0.0.0.0/0");
    from_app.remote_ip_prefix = None;
    from_app.remote_group_ref = Some(LocalObjectRef { name: "app".into() });
    let mut intra = tcp(7000, "0.0.0.0/0");
    intra.remote_ip_prefix = None;
    intra.remote_group_ref = Some(LocalObjectRef { name: "db".into() });
    // db references app before app exists: it waits, saying so.
    create(&api, &sg(&env, "db", vec![from_app, intra])).await;
    let db = wait_for(&api, "db", WAIT, |g: &SecurityGroup| has(g, SYNCED, "False"))
        .await
        .unwrap();
    assert_eq!(reason_of(&db, READY), "WaitingForDependency");
    assert!(
        message_of(&db, SYNCED).contains("\"app\""),
        "{}",
        message_of(&db, SYNCED)
    );
    assert_eq!(
        groups_named(&env, "db"),
        0,
        "nothing is created with a partial rule set"
    );

    create(&api, &sg(&env, "app", vec![tcp(8080, "0.0.0.0/0")])).await;
    let app_id = group_id(&ready(&api, "app").await);
    let db = ready(&api, "db").await;
    let db_id = group_id(&db);
    assert!(
        message_of(&db, READY).contains("references resolved: app → "),
        "{}",
        message_of(&db, READY)
    );
    let rules = cloud_rules(&env, &db_id);
    assert!(
        rules.contains(&("ingress".into(), "tcp".into(), "5432".into(), app_id.clone())),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("ingress".into(), "tcp".into(), "7000".into(), db_id.clone())),
        "{rules:?}"
    );
    for n in ["db", "app"] {
        delete(&api, n).await.unwrap();
        wait_deleted(&api, n, WAIT).await.unwrap();
    }
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn observe_only_orphan_and_adoption() {
    let env = Env::start("sg-policies", Faults::default()).await;
    let api: Api<SecurityGroup> = env.ns.api();
    let existing = env
        .cloud_client()
        .security_groups()
        .unwrap()
        .create(&SecurityGroupCreate {
            name: "legacy".into(),
            description: "made by hand".into(),
            ..SecurityGroupCreate::default()
        })
        .await
        .unwrap();
    let mutations = env.mutations();
    let mut observed = sg(&env, "legacy", vec![tcp(22, "0.0.0.0/0")]);
    observed.spec.management_policy = ManagementPolicy::ObserveOnly;
    observed.spec.adopt_id = Some(existing.id.clone());
    observed.spec.description = None;
    create(&api, &observed).await;
    let g = wait_for(&api, "legacy", WAIT, |g: &SecurityGroup| {
        has_reason(g, READY, "True", "Observed")
    })
    .await
    .unwrap();
    assert_eq!(group_id(&g), existing.id);
    assert!(
        message_of(&g, READY).contains("drift"),
        "{}",
        message_of(&g, READY)
    );
    env.wait_passes::<SecurityGroup>("legacy", 1).await;
    assert_eq!(env.mutations(), mutations, "ObserveOnly never mutates");
    delete(&api, "legacy").await.unwrap();
    wait_deleted(&api, "legacy", WAIT).await.unwrap();
    assert_eq!(
        groups_named(&env, "legacy"),
        1,
        "ObserveOnly leaves the cloud group"
    );

    // Explicit adoption under Manage takes over the rules too.
    let mut adopt = sg(&env, "adopter", vec![tcp(22, "0.0.0.0/0")]);
    adopt.spec.adopt_id = Some(existing.id.clone());
    adopt.spec.deletion_policy = DeletionPolicy::Orphan;
    create(&api, &adopt).await;
    let g = ready(&api, "adopter").await;
    assert_eq!(group_id(&g), existing.id);
    assert!(has(&g, STALLED, "False"));
    assert_eq!(
        cloud_rules(&env, &existing.id)
            .iter()
            .map(|r| r.2.clone())
            .collect::<Vec<_>>(),
        ["22"]
    );
    delete(&api, "adopter").await.unwrap();
    wait_deleted(&api, "adopter", WAIT).await.unwrap();
    assert_eq!(groups_named(&env, "legacy"), 1, "Orphan keeps the cloud group");
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn lost_responses_consistency_and_restart_create_exactly_one() {
    let faults = Faults {
        seed: 11,
        lost_responses: vec![LostResponseFault {
            operation: "POST /v1/security-groups".into(),
            rate: 1.0,
            mode: Default::default(),
        }],
        eventual_consistency: vec![ConsistencyFault {
            kind: "iec.security_group".into(),
            delay_ms: 1500,
        }],
        ..Faults::default()
    };
    let mut env = Env::start("sg-faults", faults).await;
    let api: Api<SecurityGroup> = env.ns.api();
    for i in 0..3 {
        create(&api, &sg(&env, &format!("g{i}"), vec![tcp(22, "0.0.0.0/0")])).await;
    }
    // Let the three creates happen (their responses are lost), then "crash" — before or after the
    // recovery by marker, whichever comes first — and restart with a fresh controller.
    let deadline = tokio::time::Instant::now() + WAIT;
    while env.emu().calls().mutations("POST /v1/security-groups") < 3
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    env.crash_controllers().await;
    env.set_faults(Faults {
        latency: vec![LatencyFault {
            operation: "POST /v1/security-groups".into(),
            fixed_ms: 300,
            jitter_ms: 0,
        }],
        eventual_consistency: vec![ConsistencyFault {
            kind: "iec.security_group".into(),
            delay_ms: 1000,
        }],
        ..Faults::default()
    });
    env.start_controllers();
    for i in 0..3 {
        let name = format!("g{i}");
        ready(&api, &name).await;
        assert_eq!(groups_named(&env, &name), 1, "exactly one cloud group for {name}");
    }
    env.set_faults(Faults::default());
    for i in 0..3 {
        delete(&api, &format!("g{i}")).await.unwrap();
    }
    for i in 0..3 {
        wait_deleted(&api, &format!("g{i}"), WAIT).await.unwrap();
    }
    assert!(
        env.cloud("iec.security_group")
            .iter()
            .all(|g| !g["name"].as_str().unwrap_or("").starts_with('g'))
    );
    env.teardown().await;
}
