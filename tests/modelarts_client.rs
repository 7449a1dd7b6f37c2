//! The ModelArts DevServer client over real HTTP against the emulator's modelarts listener (which also
//! serves IAM and the BSS order endpoints), through the provider traits as the controllers use them:
//! the probe resolves the project from IAM and reports a wrong secret or project with the cloud's code;
//! a pay-per-use server is created, found by name, observed (batched and direct), renamed, stopped,
//! started, rebooted and deleted; each refused call comes back as its category (`ModelArts.0104`
//! Invalid, `ModelArts.6404` NotFound, `ModelArts.7000` Conflict); a prepaid create answers with an
//! order whose state is polled (pending payment → paid → the server found by its order id, or
//! cancelled → failed), whose delete is refused with the expiry named until it is unsubscribed; a
//! throttled call waits out the Retry-After; a burst of creates, each looking its name up first as the
//! controller does, lists the project once, not once per create, and still finds a create whose answer
//! was lost, while a server made elsewhere after that list is found by a list made now.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use edgefleet::provider::{
    Charging, CreateIdentity, Credentials, InstanceExt, InstanceFilter, InstanceSpec, InstanceState,
    ModelArtsInstanceExt, OperationHandle, OperationState, PowerAction, PowerState, Provider, ProviderKind,
    ProviderMetrics, ProviderRegistry, ProviderSettings, RateBudget, SecretString, VolumeSpec,
};
use edgefleet_emulator::Faults;
use edgefleet_emulator::config::{DEFAULT_AK, DEFAULT_SK};
use edgefleet_emulator::core::faults::LostResponseFault;
use edgefleet_emulator::{Config, ServerHandle};

#[path = "support/poll.rs"]
mod poll;
use poll::eventually;

const IMAGE: &str = "c90fb553-2cdb-4b81-b56a-ef68812c6cf7";
const VPC: &str = "05982b48-a70f-43a1-a2b0-1fe36a236172";
const SUBNET: &str = "38cf274a-98f9-4f6f-b622-5ed0e4a3db54";
const GROUP: &str = "150a2c76-1334-45f6-b28f-419f9b1d1742";

async fn emulator() -> (ServerHandle, String) {
    let (_, handle) = edgefleet_emulator::serve(Config {
        delays: edgefleet_emulator::Delays::zero(),
        ..Config::default()
    })
    .await
    .unwrap();
    let url = handle.url_of("modelarts").unwrap();
    (handle, url)
}

fn settings(url: &str, sk: &str) -> ProviderSettings {
    let mut s = ProviderSettings::new(
        ProviderKind::ModelArts,
        format!("modelarts-contract-{sk}"),
        Credentials::AkSk {
            access_key: DEFAULT_AK.to_owned(),
            secret_key: SecretString::new(sk),
            security_token: None,
        },
    );
    s.region = Some("cn-north-4".into());
    s.endpoints.api = Some(url.to_owned());
    s.endpoints.iam = Some(url.to_owned());
    s.endpoints.bss = Some(url.to_owned());
    s.rate = RateBudget {
        qps: 200.0,
        burst: 200,
    };
    s.retry.base_delay = Duration::from_millis(10);
    s
}

fn provider(s: &ProviderSettings) -> Arc<dyn Provider> {
    ProviderRegistry::new(ProviderMetrics::new())
        .get_or_build(s)
        .unwrap()
}

fn spec(name: &str, charging: Option<Charging>) -> InstanceSpec {
    InstanceSpec {
        name: name.into(),
        description: String::new(),
        flavor: "Si2.large.4".into(),
        image: IMAGE.into(),
        site: String::new(),
        area: None,
        pool_id: None,
        operator: None,
        vpc_id: VPC.into(),
        subnet_ids: vec![SUBNET.into()],
        security_group_ids: vec![GROUP.into()],
        root_volume: VolumeSpec {
            size_gb: 100,
            volume_type: "SSD".into(),
        },
        data_volumes: vec![],
        key_name: Some("KeyPair-edgefleet".into()),
        admin_password: None,
        user_data: Some(SecretString::new("#!/bin/sh\necho hi\n")),
        bandwidth: None,
        power: PowerState::Running,
        fleet_id: None,
        ext: InstanceExt::ModelArts(ModelArtsInstanceExt {
            server_type: Some("ECS".into()),
            arch: Some("X86".into()),
            availability_zone: Some("cn-north-4a".into()),
            charging,
            ..ModelArtsInstanceExt::default()
        }),
    }
}

fn identity(name: &str) -> CreateIdentity {
    CreateIdentity {
        name: name.into(),
        ..CreateIdentity::default()
    }
}

fn prepaid() -> Option<Charging> {
    Some(Charging::PrePaid {
        period_type: "MONTH".into(),
        period_num: 1,
        auto_renew: false,
        auto_pay: false,
    })
}

/// Polls `f` until it holds (at most 400 polls).
async fn until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually(what, 400, || {
        let fut = f();
        async move { fut.await.then_some(()) }
    })
    .await
}

async fn state_of(p: &dyn Provider, id: &str) -> InstanceState {
    p.instances().unwrap().get(id).await.unwrap().state
}

#[tokio::test]
async fn modelarts_probe_resolves_the_project_from_iam_and_names_the_clouds_code_when_refused() {
    let (handle, url) = emulator().await;
    let good = provider(&settings(&url, DEFAULT_SK));
    good.probe().await.unwrap();
    let bad = provider(&settings(&url, "not-the-secret"));
    let e = bad.probe().await.unwrap_err();
    assert_eq!(e.category(), "Unauthorized", "{e}");
    assert_eq!(
        e.code(),
        Some("IAM.0001"),
        "the project lookup is refused first: {e}"
    );
    assert!(!e.to_string().contains("not-the-secret"), "never the secret: {e}");
    let mut known_project = settings(&url, "not-the-secret");
    known_project.project_id = Some(edgefleet_emulator::core::auth::derived_project_id(
        edgefleet_emulator::config::DEFAULT_DOMAIN_ID,
        "cn-north-4",
    ));
    let e = provider(&known_project).probe().await.unwrap_err();
    assert_eq!(
        (e.category(), e.code()),
        ("Unauthorized", Some("APIGW.0301")),
        "{e}"
    );
    let mut other_project = settings(&url, DEFAULT_SK);
    other_project.project_id = Some("0123456789abcdef0123456789abcdef".into());
    let e = provider(&other_project).probe().await.unwrap_err();
    assert_eq!(
        (e.category(), e.code()),
        ("Unauthorized", Some("ModelArts.0204")),
        "{e}"
    );
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn modelarts_pay_per_use_server_lifecycle_over_http() {
    let (handle, url) = emulator().await;
    let p = provider(&settings(&url, DEFAULT_SK));
    let api = p.instances().unwrap();
    let s = spec("ef-modelarts-ppu", None);
    assert!(!api.pays_before_create(&s));
    let op = api.create(&s, 1, &identity(&s.name)).await.unwrap();
    assert_eq!(op.order_id, None, "pay-per-use has no order");
    let id = op.resource_ids.first().cloned().expect("the server id");
    until("the server runs", || async {
        state_of(p.as_ref(), &id).await == InstanceState::Running
    })
    .await;
    let found = api.find_by_identity(&identity(&s.name), &s).await.unwrap();
    assert_eq!(
        found.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        vec![id.as_str()]
    );
    let o = api.observe(&id, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        (o.flavor.as_deref(), o.image.as_deref()),
        (Some("Si2.large.4"), Some(IMAGE))
    );
    assert!(!o.private_ips.is_empty(), "{o:?}");
    assert_eq!(o.key_name.as_deref(), Some("KeyPair-edgefleet"));
    assert!(o.created.is_some());
    let all = api.list(&InstanceFilter::default()).await.unwrap();
    assert!(all.iter().any(|i| i.id == id));

    api.update(
        &id,
        &edgefleet::provider::InstanceUpdate {
            name: Some("ef-modelarts-renamed".into()),
            description: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(api.get(&id).await.unwrap().name, "ef-modelarts-renamed");

    let ids = [id.clone()];
    api.power(&ids, PowerAction::Stop { force: false }).await.unwrap();
    until("stopped", || async {
        state_of(p.as_ref(), &id).await == InstanceState::Stopped
    })
    .await;
    let e = api
        .power(&ids, PowerAction::Reboot { force: false })
        .await
        .unwrap_err();
    assert_eq!(e.category(), "Conflict", "reboot of a stopped server: {e}");
    api.power(&ids, PowerAction::Start).await.unwrap();
    until("running again", || async {
        state_of(p.as_ref(), &id).await == InstanceState::Running
    })
    .await;
    api.power(&ids, PowerAction::Reboot { force: false })
        .await
        .unwrap();
    until("rebooted", || async {
        state_of(p.as_ref(), &id).await == InstanceState::Running
    })
    .await;

    assert_eq!(api.deletion_blocker(&id).await.unwrap(), None, "pay-per-use");
    api.delete(&ids).await.unwrap();
    until("gone", || async {
        api.get(&id).await.is_err_and(|e| e.is_not_found())
    })
    .await;
    let e = api.get(&id).await.unwrap_err();
    assert_eq!(e.code(), Some("ModelArts.6404"), "{e}");
    api.delete(&ids).await.unwrap();
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn modelarts_refusals_come_back_as_their_categories() {
    let (handle, url) = emulator().await;
    let p = provider(&settings(&url, DEFAULT_SK));
    let api = p.instances().unwrap();
    let mut s = spec("ef-modelarts-bad", None);
    s.image = "00000000-0000-4000-8000-000000000000".into();
    let e = api.create(&s, 1, &identity(&s.name)).await.unwrap_err();
    assert_eq!(
        (e.category(), e.code()),
        ("Invalid", Some("ModelArts.0104")),
        "{e}"
    );
    assert!(e.created_nothing());
    let e = api.get("00000000-0000-4000-8000-00000000dead").await.unwrap_err();
    assert_eq!(
        (e.category(), e.code()),
        ("NotFound", Some("ModelArts.6404")),
        "{e}"
    );
    let e = p
        .operations()
        .unwrap()
        .poll(&OperationHandle::Order("CS0000NOSUCHORDER".into()))
        .await
        .unwrap_err();
    assert_eq!(e.category(), "NotFound", "{e}");
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn modelarts_prepaid_orders_are_polled_to_their_server_or_cancellation_and_block_the_delete() {
    let (handle, url) = emulator().await;
    let p = provider(&settings(&url, DEFAULT_SK));
    let api = p.instances().unwrap();
    let ops = p.operations().unwrap();
    let s = spec("ef-modelarts-prepaid", prepaid());
    assert!(api.pays_before_create(&s));
    let op = api.create(&s, 1, &identity(&s.name)).await.unwrap();
    assert!(op.resource_ids.is_empty(), "no server before payment: {op:?}");
    let order = op.order_id.clone().expect("an order");
    let handle_of = OperationHandle::Order(order.clone());
    assert_eq!(
        ops.poll(&handle_of).await.unwrap(),
        OperationState::Running {
            progress: None,
            state: Some("pending payment".into())
        }
    );
    assert!(
        api.find_by_identity(&identity(&s.name), &s)
            .await
            .unwrap()
            .is_empty(),
        "the server exists only once paid"
    );
    assert!(handle.app().act("bss.order", &order, "pay").unwrap());
    let id = eventually("the paid order names its server", 400, || async {
        match ops.poll(&handle_of).await.unwrap() {
            OperationState::Succeeded { resource_ids } => resource_ids.first().cloned(),
            _ => None,
        }
    })
    .await;
    until("the server runs", || async {
        state_of(p.as_ref(), &id).await == InstanceState::Running
    })
    .await;

    let e = api.delete(std::slice::from_ref(&id)).await.unwrap_err();
    assert_eq!(
        (e.category(), e.code()),
        ("Conflict", Some("ModelArts.7000")),
        "{e}"
    );
    let why = api
        .deletion_blocker(&id)
        .await
        .unwrap()
        .expect("a prepaid server says why");
    assert!(why.contains(&order) && why.contains("prepaid until 20"), "{why}");
    let provider = p.clone();
    let unsubscribe = edgefleet::provider::modelarts::ModelArtsProvider::new(
        &settings(&url, DEFAULT_SK),
        Arc::new(edgefleet::provider::RateLimiter::new(RateBudget::default())),
        ProviderMetrics::new(),
    )
    .unwrap();
    let done = unsubscribe
        .bss()
        .unsubscribe(std::slice::from_ref(&id))
        .await
        .unwrap();
    assert_eq!(done.order_ids.len(), 1, "{done:?}");
    until("unsubscribed servers go", || async {
        provider
            .instances()
            .unwrap()
            .get(&id)
            .await
            .is_err_and(|e| e.is_not_found())
    })
    .await;

    let cancelled = api
        .create(
            &spec("ef-modelarts-cancelled", prepaid()),
            1,
            &identity("ef-modelarts-cancelled"),
        )
        .await
        .unwrap()
        .order_id
        .unwrap();
    assert!(handle.app().act("bss.order", &cancelled, "cancel").unwrap());
    match ops
        .poll(&OperationHandle::Order(cancelled.clone()))
        .await
        .unwrap()
    {
        OperationState::Failed { code, message } => {
            assert_eq!(code, "BSS.OrderCancelled");
            assert!(message.contains(&cancelled), "{message}");
        }
        other => panic!("a cancelled order fails: {other:?}"),
    }
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn modelarts_throttled_calls_wait_for_retry_after() {
    let (handle, url) = emulator().await;
    let p = provider(&settings(&url, DEFAULT_SK));
    p.probe().await.unwrap();
    handle
        .app()
        .set_faults(
            serde_json::from_value(
                serde_json::json!({"throttle": [{"limit_per_second": 2, "retry_after_secs": 1}]}),
            )
            .unwrap(),
        )
        .unwrap();
    let api = p.instances().unwrap();
    for _ in 0..5 {
        api.list(&InstanceFilter::default()).await.unwrap();
    }
    let report = handle.app().retry_after().report();
    assert!(report.throttled >= 1, "{report:?}");
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn modelarts_a_create_burst_lists_the_project_once_and_still_finds_a_lost_create() {
    const LIST: &str = "GET /v1/{project_id}/dev-servers";
    const CREATE: &str = "POST /v1/{project_id}/dev-servers";
    let (handle, url) = emulator().await;
    let p = provider(&settings(&url, DEFAULT_SK));
    let api = p.instances().unwrap();
    let age = Duration::from_secs(60);
    let lists = || handle.calls().requests(LIST);
    let before = lists();
    // What the controller does per new object: the name check, then the create.
    for i in 0..12 {
        let s = spec(&format!("ef-burst-{i}"), None);
        let taken = api
            .find_by_identity_within(&identity(&s.name), &s, age)
            .await
            .unwrap();
        assert!(taken.is_empty(), "{taken:?}");
        api.create(&s, 1, &identity(&s.name)).await.unwrap();
    }
    assert_eq!(
        lists() - before,
        1,
        "one list for the whole burst, not one per create"
    );
    // A name this process created is looked up in a list made after it (the old one does not answer).
    let third = spec("ef-burst-3", None);
    let found = api
        .find_by_identity_within(&identity(&third.name), &third, age)
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");

    // A create whose answer is lost (it takes effect; the caller sees an error) is found, not missed.
    handle
        .app()
        .set_faults(Faults {
            seed: 3,
            lost_responses: vec![LostResponseFault {
                operation: CREATE.into(),
                rate: 1.0,
                mode: Default::default(),
            }],
            ..Faults::default()
        })
        .unwrap();
    let lost = spec("ef-burst-lost", None);
    api.create(&lost, 1, &identity(&lost.name))
        .await
        .expect_err("the answer is lost");
    handle.app().set_faults(Faults::default()).unwrap();
    assert_eq!(
        handle.calls().mutations(CREATE),
        13,
        "the lost create took effect"
    );
    let found = api
        .find_by_identity_within(&identity(&lost.name), &lost, age)
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "the lost create is found: {found:?}");

    // A server made by another process after this one's list: the list of the burst (still within
    // the allowed age) does not show it, which is what proves the burst was answered from it; a list
    // made now (age zero, as a recovery lookup takes once the grace has passed) does.
    let other = provider(&settings(&url, DEFAULT_SK));
    let elsewhere = spec("ef-burst-elsewhere", None);
    other
        .instances()
        .unwrap()
        .create(&elsewhere, 1, &identity(&elsewhere.name))
        .await
        .unwrap();
    let cached = api
        .find_by_identity_within(&identity(&elsewhere.name), &elsewhere, age)
        .await
        .unwrap();
    assert!(cached.is_empty(), "answered by the burst's list: {cached:?}");
    assert_eq!(lists() - before, 3, "the burst's list and the two direct lookups");
    let now = api
        .find_by_identity_within(&identity(&elsewhere.name), &elsewhere, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(now.len(), 1, "a list made now shows it: {now:?}");
    handle.shutdown().await.unwrap();
}
