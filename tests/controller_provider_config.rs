//! ProviderConfig controller against the real control plane and the in-process emulator: credential
//! probing and the CredentialsValid reasons, Secret changes taking effect without a restart, usage counts,
//! deletion blocked while in use, objects waiting (not failing silently) on broken credentials, and no
//! secret material in status or events.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use edgefleet::api::common::{DeletionPolicy, ManagementPolicy, ProviderConfigRef};
use edgefleet::api::condition::{CREDENTIALS_VALID, READY, STALLED, SYNCED};
use edgefleet::api::edge_instance::EdgeInstance;
use edgefleet::api::provider_config::ProviderConfig;
use edgefleet::api::vpc::{Vpc, VpcSpec};
use edgefleet_emulator::Faults;
use edgefleet_emulator::config::{DEFAULT_AK, DEFAULT_SK};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use support::harness::*;
use support::*;

const WRONG_SK: &str = "WRONG-SECRET-KEY-must-never-be-shown-0001";

fn vpc(env: &Env, name: &str, pc: &str, cidr: &str) -> Vpc {
    Vpc {
        metadata: env.meta(name),
        spec: VpcSpec {
            provider_config_ref: ProviderConfigRef { name: pc.to_owned() },
            deletion_policy: DeletionPolicy::Delete,
            management_policy: ManagementPolicy::Manage,
            adopt_id: None,
            name: None,
            cidr: cidr.to_owned(),
            iec: None,
            veen: None,
            subnets: vec![],
        },
        status: None,
    }
}

async fn assert_no_secret_anywhere(env: &Env, pcs: &Api<ProviderConfig>) {
    let all = serde_json::to_string(&pcs.list(&ListParams::default()).await.unwrap().items).unwrap();
    let vpcs: Api<Vpc> = env.ns.api();
    let all_vpcs = serde_json::to_string(&vpcs.list(&ListParams::default()).await.unwrap().items).unwrap();
    let mut events = String::new();
    for ns in [env.ns.name(), "default"] {
        let api: Api<Event> = Api::namespaced(env.client.clone(), ns);
        events.push_str(
            &serde_json::to_string(&api.list(&ListParams::default()).await.unwrap().items).unwrap(),
        );
    }
    for text in [all, all_vpcs, events] {
        assert!(
            !text.contains(WRONG_SK) && !text.contains(DEFAULT_SK),
            "a secret value leaked: {text}"
        );
    }
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn credentials_usage_and_deletion_blocked_while_in_use() {
    let env = Env::start("pc-usage", Faults::default()).await;
    let pcs: Api<ProviderConfig> = Api::all(env.client.clone());
    let pc = wait_for_condition(&pcs, &env.pc, CREDENTIALS_VALID, "True", WAIT)
        .await
        .unwrap();
    assert!(has(&pc, READY, "True") && has(&pc, SYNCED, "True"));
    assert_eq!(reason_of(&pc, CREDENTIALS_VALID), "CredentialsAccepted");
    let finalizers = pc.metadata.finalizers.clone().unwrap_or_default();
    assert!(
        finalizers.iter().any(|f| f == "edgefleet.io/cleanup"),
        "{finalizers:?}"
    );

    // An object using the account (Orphan: its deletion needs no cloud call).
    let vpcs: Api<Vpc> = env.ns.api();
    let mut user = vpc(&env, "user", &env.pc, "10.60.0.0/16");
    user.spec.deletion_policy = DeletionPolicy::Orphan;
    create(&vpcs, &user).await;
    wait_for(&pcs, &env.pc, WAIT, |pc: &ProviderConfig| {
        pc.status
            .as_ref()
            .and_then(|s| s.used_by.as_ref())
            .is_some_and(|u| u.total == 1 && u.vpcs == 1)
    })
    .await
    .unwrap();

    // Deleting the account while it is in use waits, naming the user.
    delete(&pcs, &env.pc).await.unwrap();
    let pc = wait_for(&pcs, &env.pc, WAIT, |pc: &ProviderConfig| {
        has_reason(pc, STALLED, "True", "DeletionBlocked")
    })
    .await
    .unwrap();
    let message = message_of(&pc, STALLED);
    assert!(
        message.contains(&format!("Vpc {}/user", env.ns.name())),
        "{message}"
    );
    assert!(pc.metadata.deletion_timestamp.is_some());

    delete(&vpcs, "user").await.unwrap();
    wait_deleted(&vpcs, "user", WAIT).await.unwrap();
    wait_deleted(&pcs, &env.pc, WAIT).await.unwrap();
    assert_no_secret_anywhere(&env, &pcs).await;
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn missing_secret_and_missing_key_are_named_and_fixed_without_restart() {
    let env = Env::start("pc-secret", Faults::default()).await;
    let pcs: Api<ProviderConfig> = Api::all(env.client.clone());
    let name = format!("{}-second", env.pc);
    env.create_extra_provider_config(&name, "later").await;
    let pc = wait_for(&pcs, &name, WAIT, |pc: &ProviderConfig| {
        has_reason(pc, CREDENTIALS_VALID, "False", "SecretNotFound")
    })
    .await
    .unwrap();
    assert!(message_of(&pc, CREDENTIALS_VALID).contains(&format!("{}/later", env.ns.name())));
    assert!(has(&pc, READY, "False") && has(&pc, STALLED, "True"));

    env.put_secret_named("later", &[("accessKey", DEFAULT_AK)]).await;
    let pc = wait_for(&pcs, &name, WAIT, |pc: &ProviderConfig| {
        has_reason(pc, CREDENTIALS_VALID, "False", "SecretKeyMissing")
    })
    .await
    .unwrap();
    assert!(
        message_of(&pc, CREDENTIALS_VALID).contains("\"secretKey\""),
        "{}",
        message_of(&pc, CREDENTIALS_VALID)
    );

    env.put_secret_named("later", &[("accessKey", DEFAULT_AK), ("secretKey", DEFAULT_SK)])
        .await;
    let pc = wait_for_condition(&pcs, &name, CREDENTIALS_VALID, "True", WAIT)
        .await
        .unwrap();
    assert!(has(&pc, READY, "True") && has(&pc, STALLED, "False"));
    delete(&pcs, &name).await.unwrap();
    wait_deleted(&pcs, &name, WAIT).await.unwrap();
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn bad_credentials_block_objects_loudly_and_recover_when_fixed() {
    let env = Env::start("pc-badcreds", Faults::default()).await;
    let pcs: Api<ProviderConfig> = Api::all(env.client.clone());
    wait_for_condition(&pcs, &env.pc, CREDENTIALS_VALID, "True", WAIT)
        .await
        .unwrap();
    env.put_secret(DEFAULT_AK, WRONG_SK).await;
    let pc = wait_for(&pcs, &env.pc, WAIT, |pc: &ProviderConfig| {
        has_reason(pc, CREDENTIALS_VALID, "False", "CredentialsRejected")
    })
    .await
    .unwrap();
    assert!(has_reason(&pc, STALLED, "True", "Unauthorized"));
    assert!(message_of(&pc, CREDENTIALS_VALID).contains("fix the Secret"));

    // An object created meanwhile waits and says why; nothing reaches the cloud.
    let vpcs: Api<Vpc> = env.ns.api();
    create(&vpcs, &vpc(&env, "waiting", &env.pc, "10.61.0.0/16")).await;
    let v = wait_for(&vpcs, "waiting", WAIT, |v: &Vpc| has(v, SYNCED, "False"))
        .await
        .unwrap();
    assert_eq!(reason_of(&v, READY), "WaitingForDependency");
    let message = message_of(&v, SYNCED);
    assert!(
        message.contains(&env.pc) && message.contains("CredentialsRejected"),
        "{message}"
    );
    assert!(
        env.cloud("iec.vpc").is_empty(),
        "no cloud call with known-bad credentials"
    );

    // The Secret is fixed: the account and the waiting object continue without a restart.
    env.put_secret(DEFAULT_AK, DEFAULT_SK).await;
    wait_for_condition(&pcs, &env.pc, CREDENTIALS_VALID, "True", WAIT)
        .await
        .unwrap();
    let v = wait_for_condition(&vpcs, "waiting", READY, "True", WAIT)
        .await
        .unwrap();
    assert!(has(&v, SYNCED, "True"));
    assert_eq!(env.cloud("iec.vpc").len(), 1);

    // Credentials break again; deletion must wait (finalizer kept, condition names the blocker).
    env.put_secret(DEFAULT_AK, WRONG_SK).await;
    wait_for(&pcs, &env.pc, WAIT, |pc: &ProviderConfig| {
        has(pc, CREDENTIALS_VALID, "False")
    })
    .await
    .unwrap();
    delete(&vpcs, "waiting").await.unwrap();
    let v = wait_for(&vpcs, "waiting", WAIT, |v: &Vpc| {
        has_reason(v, STALLED, "True", "DeletionBlocked")
    })
    .await
    .unwrap();
    assert!(
        message_of(&v, STALLED).contains(&env.pc),
        "{}",
        message_of(&v, STALLED)
    );
    assert_eq!(
        env.cloud("iec.vpc").len(),
        1,
        "nothing lost, nothing deleted blindly"
    );

    env.put_secret(DEFAULT_AK, DEFAULT_SK).await;
    wait_deleted(&vpcs, "waiting", WAIT).await.unwrap();
    assert!(
        env.cloud("iec.vpc").is_empty(),
        "the deletion completes once the account works again"
    );
    assert_no_secret_anywhere(&env, &pcs).await;
    env.teardown().await;
}

/// The operator's event recorder against the real apiserver: a repeat counts into the first event
/// (`series`), a different note is a new event, and an event deleted in the cluster (events expire) is
/// created afresh on the next repeat.
#[tokio::test]
#[ignore = "needs cluster"]
async fn events_repeat_as_a_series_and_start_again_after_expiry() {
    use edgefleet::controller::events::{EventRecorder, EventSpec, EventType};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::Resource;
    use kube::api::{DeleteParams, PostParams};

    let client = client().await.unwrap();
    let ns = TestNamespace::new(&client, "events").await.unwrap();
    let cms: Api<ConfigMap> = ns.api();
    let cm = cms
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: kube::api::ObjectMeta {
                    name: Some("subject".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let regarding = cm.object_ref(&());
    let recorder = EventRecorder::new(client.clone(), "edgefleet-test", None);
    let spec = |note| EventSpec {
        type_: EventType::Warning,
        reason: "Throttled",
        action: "Reconcile",
        note,
    };
    let events: Api<Event> = ns.api();
    let listed = || async {
        let mut items = events.list(&ListParams::default()).await.unwrap().items;
        items.sort_by_key(|e| e.metadata.creation_timestamp.clone());
        items
    };

    recorder.publish(&regarding, spec("slow down")).await.unwrap();
    recorder.publish(&regarding, spec("slow down")).await.unwrap();
    recorder.publish(&regarding, spec("slow down")).await.unwrap();
    let items = listed().await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].series.as_ref().map(|s| s.count), Some(3));
    assert_eq!(items[0].reporting_controller.as_deref(), Some("edgefleet-test"));
    assert_eq!(items[0].type_.as_deref(), Some("Warning"));
    assert_eq!(
        items[0].regarding.as_ref().and_then(|r| r.uid.clone()),
        cm.metadata.uid
    );

    recorder.publish(&regarding, spec("other")).await.unwrap();
    assert_eq!(listed().await.len(), 2);

    // The first event expires (deleted here); its next repeat starts a new one.
    let first = items[0].metadata.name.clone().unwrap();
    events.delete(&first, &DeleteParams::default()).await.unwrap();
    recorder.publish(&regarding, spec("slow down")).await.unwrap();
    let items = listed().await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(
        items
            .iter()
            .all(|e| e.metadata.name.as_deref() != Some(first.as_str()))
    );
    assert!(items.iter().all(|e| e.series.is_none()), "{items:?}");
    ns.cleanup().await.unwrap();
}

/// Usage is counted page by page (so 10,000 users are never held at once): one object per page gives
/// the same answer as one page for all.
/// An EdgeInstance that only observes a cloud id that does not exist (it stalls, and creates nothing).
fn observing_instance(env: &Env, name: &str) -> EdgeInstance {
    let mut ei: EdgeInstance = serde_json::from_value(serde_json::json!({
        "apiVersion": "edgefleet.io/v1alpha1",
        "kind": "EdgeInstance",
        "metadata": {"name": name},
        "spec": {
            "providerConfigRef": {"name": env.pc},
            "managementPolicy": "ObserveOnly",
            "adoptId": "00000000-0000-0000-0000-000000000000",
            "flavor": "c6.large.2",
            "image": "img",
            "placement": {"siteId": site()},
            "rootVolume": {"type": "SATA", "size": 40},
        }
    }))
    .unwrap();
    ei.metadata = env.meta(name);
    ei
}

fn used_by(pc: &ProviderConfig) -> Option<(i32, i32)> {
    pc.status
        .as_ref()
        .and_then(|s| s.used_by.as_ref())
        .map(|u| (u.total, u.edge_instances))
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn used_by_follows_new_and_deleted_users_without_waiting_for_the_poll() {
    let mut env = Env::start("pc-users-now", Faults::default()).await;
    // Every interval an hour: within the test only a user appearing or going can recount.
    env.stop_controllers().await;
    env.config.poll_interval = Some(Duration::from_secs(3600));
    env.config.pending_interval = Some(Duration::from_secs(3600));
    env.start_controllers();
    let pcs: Api<ProviderConfig> = Api::all(env.client.clone());
    wait_for(&pcs, &env.pc, WAIT, |pc: &ProviderConfig| {
        has(pc, READY, "True") && used_by(pc) == Some((0, 0))
    })
    .await
    .unwrap();

    let instances: Api<EdgeInstance> = env.ns.api();
    for name in ["a", "b"] {
        create(&instances, &observing_instance(&env, name)).await;
    }
    let pc = wait_for(&pcs, &env.pc, WAIT, |pc: &ProviderConfig| {
        used_by(pc) == Some((2, 2))
    })
    .await
    .unwrap();
    let message = message_of(&pc, READY);
    assert!(message.contains("used by 2"), "{message}");

    delete(&instances, "a").await.unwrap();
    wait_deleted(&instances, "a", WAIT).await.unwrap();
    wait_for(&pcs, &env.pc, WAIT, |pc: &ProviderConfig| {
        used_by(pc) == Some((1, 1))
    })
    .await
    .unwrap();
    delete(&instances, "b").await.unwrap();
    wait_deleted(&instances, "b", WAIT).await.unwrap();
    env.teardown().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn users_are_counted_across_pages() {
    use edgefleet::controller::provider_config::{users_of, users_of_paged};
    let env = Env::start("pc-pages", Faults::default()).await;
    let vpcs: Api<Vpc> = env.ns.api();
    let names = ["a", "b", "c"];
    for (i, name) in names.iter().enumerate() {
        create(&vpcs, &vpc(&env, name, &env.pc, &format!("10.{i}.0.0/16"))).await;
    }
    let ns = Some(env.ns.name());
    let one_page = users_of(&env.client, ns, &env.pc).await.unwrap();
    let paged = users_of_paged(&env.client, ns, &env.pc, 1).await.unwrap();
    assert_eq!(one_page.usage.vpcs, 3, "{:?}", one_page.objects);
    assert_eq!(paged.usage.vpcs, 3, "{:?}", paged.objects);
    assert_eq!(paged.usage.total, 3);
    assert_eq!(paged.objects, one_page.objects);
    assert_eq!(
        paged.objects[0],
        format!("Vpc {}/a", env.ns.name()),
        "{:?}",
        paged.objects
    );
    for name in names {
        delete(&vpcs, name).await.unwrap();
    }
    for name in names {
        wait_deleted(&vpcs, name, WAIT).await.unwrap();
    }
    env.teardown().await;
}

/// A ProviderConfig of provider Veen in this test's label scope, pointed at the emulator's veEN
/// listener, reading AK/SK from `secret` in the test namespace.
async fn create_veen_provider_config(env: &Env, name: &str, secret: &str) {
    use edgefleet::api::common::SecretRef;
    use edgefleet::api::provider_config::{
        Credentials, CredentialsType, ProviderConfigSpec, ProviderEndpoints, ProviderType, RateLimit,
    };
    let mut pc = ProviderConfig::new(
        name,
        ProviderConfigSpec {
            provider: ProviderType::Veen,
            region: Some("cn-north-1".into()),
            project_id: None,
            domain_id: None,
            domain_name: None,
            endpoints: Some(ProviderEndpoints {
                veen: Some(env.emu().url_of("veen").unwrap()),
                ..ProviderEndpoints::default()
            }),
            credentials: Credentials {
                secret_ref: SecretRef {
                    name: secret.to_owned(),
                    namespace: env.ns.name().to_owned(),
                },
                type_: CredentialsType::AkSk,
            },
            rate_limit: RateLimit { qps: 50, burst: 100 },
            poll_interval: "10s".into(),
            pending_poll_interval: "1s".into(),
        },
    );
    pc.metadata.labels = env.meta(name).labels;
    let pcs: Api<ProviderConfig> = Api::all(env.client.clone());
    pcs.create(&Default::default(), &pc).await.unwrap();
}

/// A Veen ProviderConfig is probed with a signed veEN call: the emulator's default AK/SK make it
/// CredentialsValid=True; a wrong secret key is rejected by the veEN verifier and reported with the
/// cloud's code (SignatureDoesNotMatch) and no secret anywhere; fixing the Secret recovers it.
#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_credentials_are_probed_with_a_signed_call() {
    let env = Env::start("pc-veen", Faults::default()).await;
    let pcs: Api<ProviderConfig> = Api::all(env.client.clone());
    let name = format!("{}-veen", env.pc);
    env.put_secret_named(
        "veen-credentials",
        &[("accessKey", DEFAULT_AK), ("secretKey", DEFAULT_SK)],
    )
    .await;
    create_veen_provider_config(&env, &name, "veen-credentials").await;
    let pc = wait_for_condition(&pcs, &name, CREDENTIALS_VALID, "True", WAIT)
        .await
        .unwrap();
    assert_eq!(reason_of(&pc, CREDENTIALS_VALID), "CredentialsAccepted");
    assert!(has(&pc, READY, "True"), "{:?}", pc.status);
    let probes = env.emu().calls().requests("veen:ListCloudServers");
    assert!(probes > 0, "the probe reached the veEN listener");

    env.put_secret_named(
        "veen-credentials",
        &[("accessKey", DEFAULT_AK), ("secretKey", WRONG_SK)],
    )
    .await;
    let pc = wait_for(&pcs, &name, WAIT, |pc: &ProviderConfig| {
        has_reason(pc, CREDENTIALS_VALID, "False", "CredentialsRejected")
    })
    .await
    .unwrap();
    let message = message_of(&pc, CREDENTIALS_VALID);
    assert!(message.contains("SignatureDoesNotMatch"), "{message}");
    assert!(has_reason(&pc, STALLED, "True", "Unauthorized"));
    assert_no_secret_anywhere(&env, &pcs).await;

    env.put_secret_named(
        "veen-credentials",
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
