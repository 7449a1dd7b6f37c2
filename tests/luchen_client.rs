//! The Luchen client over real HTTP against the emulator's Luchen listener, through the provider
//! traits as the controllers use them: the probe logs in (a wrong password is `Unauthorized` with the
//! cloud's message and never the password; a forged or expired ready-made token likewise); an
//! instance is created, found by its name, observed (batched and direct, with its SSH command and node
//! ports), stopped, started, restarted and terminated; each refused call comes back as its category
//! (validation `Invalid`, a catalog id `Invalid`, `ent: instance not found` `NotFound`, the wrong state
//! `Conflict`); a throttled call waits out the Retry-After; and a token that expires mid-run is renewed
//! by exactly one login however many calls find it rejected at once (logins counted by the emulator).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use edgefleet::provider::luchen::LuchenProvider;
use edgefleet::provider::{
    CreateIdentity, Credentials, InstanceApi, InstanceExt, InstanceFilter, InstanceSpec, InstanceState,
    LuchenInstanceExt, LuchenStorage, PowerAction, PowerState, Provider, ProviderKind, ProviderMetrics,
    ProviderRegistry, ProviderSettings, RateBudget, RateLimiter, SecretString, VolumeSpec,
};
use edgefleet_emulator::config::{DEFAULT_PASSWORD, DEFAULT_USER};
use edgefleet_emulator::core::faults::{LostResponseFault, ThrottleFault};
use edgefleet_emulator::luchen::catalog::{IMAGE_PYTORCH, REGION_EAST, STORAGE_EXAMPLE, TYPE_H100_1};
use edgefleet_emulator::{Config, Faults, ServerHandle};

#[path = "support/poll.rs"]
mod poll;
use poll::eventually;

const LOGIN: &str = "POST /api/user/login";

async fn emulator() -> (ServerHandle, String) {
    let (_, handle) = edgefleet_emulator::serve(Config {
        delays: edgefleet_emulator::Delays::zero(),
        ..Config::default()
    })
    .await
    .unwrap();
    let url = handle.url_of("luchen").unwrap();
    (handle, url)
}

fn settings_with(url: &str, credentials: Credentials) -> ProviderSettings {
    let mut s = ProviderSettings::new(ProviderKind::Luchen, "luchen-contract", credentials);
    s.endpoints.api = Some(url.to_owned());
    s.rate = RateBudget {
        qps: 200.0,
        burst: 200,
    };
    s.retry.base_delay = Duration::from_millis(10);
    s
}

fn password(url: &str, password: &str) -> ProviderSettings {
    settings_with(
        url,
        Credentials::Password {
            username: DEFAULT_USER.to_owned(),
            password: SecretString::new(password),
            domain: None,
        },
    )
}

fn provider(s: &ProviderSettings) -> Arc<dyn Provider> {
    ProviderRegistry::new(ProviderMetrics::new())
        .get_or_build(s)
        .unwrap()
}

fn luchen(s: &ProviderSettings) -> LuchenProvider {
    LuchenProvider::new(s, Arc::new(RateLimiter::new(s.rate)), ProviderMetrics::new()).unwrap()
}

fn spec(name: &str) -> InstanceSpec {
    InstanceSpec {
        name: name.into(),
        description: String::new(),
        flavor: TYPE_H100_1.into(),
        image: IMAGE_PYTORCH.into(),
        site: REGION_EAST.into(),
        area: None,
        pool_id: None,
        operator: None,
        vpc_id: String::new(),
        subnet_ids: vec![],
        security_group_ids: vec![],
        root_volume: VolumeSpec {
            size_gb: 0,
            volume_type: String::new(),
        },
        data_volumes: vec![],
        key_name: None,
        admin_password: None,
        user_data: Some(SecretString::new("echo ready")),
        bandwidth: None,
        power: PowerState::Running,
        fleet_id: None,
        ext: InstanceExt::Luchen(LuchenInstanceExt {
            charge_mode: "perHour".into(),
            duration: 1,
            enable_docker: true,
            docker_storage_size_gb: Some(50),
            remote_storages: vec![LuchenStorage {
                mount_path: "/root/highspeedstorage/example-volume".into(),
                name: "example-volume".into(),
                id: STORAGE_EXAMPLE.into(),
                storage_type: "highspeedstorage".into(),
            }],
            node_ports: vec![8888, 6006],
            ..LuchenInstanceExt::default()
        }),
    }
}

fn identity(name: &str) -> CreateIdentity {
    CreateIdentity {
        name: name.into(),
        ..CreateIdentity::default()
    }
}

fn logins(handle: &ServerHandle) -> u64 {
    handle.calls().operations.get(LOGIN).map_or(0, |o| o.requests)
}

/// Answers with HTTP `status`, over every operation.
fn answered(handle: &ServerHandle, status: u16) -> u64 {
    handle
        .calls()
        .operations
        .values()
        .map(|o| o.statuses.get(&status).copied().unwrap_or(0))
        .sum()
}

fn calls_of(handle: &ServerHandle, op: &str) -> u64 {
    handle.calls().operations.get(op).map_or(0, |o| o.requests)
}

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

/// A token from a login of the built-in user (what a person copies from the console).
async fn console_token(url: &str) -> String {
    let v: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/api/user/login"))
        .json(&serde_json::json!({"username": DEFAULT_USER, "password": DEFAULT_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["accessToken"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn luchen_probe_logs_in_and_a_wrong_password_is_refused_with_the_clouds_message() {
    let (handle, url) = emulator().await;
    provider(&password(&url, DEFAULT_PASSWORD)).probe().await.unwrap();
    assert_eq!(logins(&handle), 1);
    let bad = provider(&password(&url, "not-the-password"));
    let e = bad.probe().await.unwrap_err();
    assert_eq!(e.category(), "Unauthorized", "{e}");
    assert!(
        e.to_string().contains("用户名或密码错误"),
        "the cloud's message: {e}"
    );
    assert!(
        !e.to_string().contains("not-the-password"),
        "never the password: {e}"
    );
    // Refused logins are answered from memory for a while: no login per call.
    for _ in 0..5 {
        assert_eq!(bad.probe().await.unwrap_err().category(), "Unauthorized");
        let listed = bad.instances().unwrap().list(&InstanceFilter::default()).await;
        assert_eq!(listed.unwrap_err().category(), "Unauthorized");
    }
    assert_eq!(logins(&handle), 2, "one refused login, however many calls");
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn luchen_ready_made_token_is_used_as_is_and_a_forged_or_expired_one_is_a_credentials_error() {
    let (handle, url) = emulator().await;
    let token = console_token(&url).await;
    let good = provider(&settings_with(
        &url,
        Credentials::Token {
            token: SecretString::new(token.clone()),
        },
    ));
    good.probe().await.unwrap();
    let id = good
        .instances()
        .unwrap()
        .create(&spec("ef-luchen-token"), 1, &identity("ef-luchen-token"))
        .await
        .unwrap()
        .resource_ids[0]
        .clone();
    assert!(id.starts_with("notebook-"), "{id}");
    assert_eq!(logins(&handle), 1, "the client never logs in with a Token");
    let mut forged = token.clone();
    forged.push('x');
    let bad = provider(&settings_with(
        &url,
        Credentials::Token {
            token: SecretString::new(forged.clone()),
        },
    ));
    let e = bad.probe().await.unwrap_err();
    assert_eq!((e.category(), e.code()), ("Unauthorized", Some("-1")), "{e}");
    assert!(e.to_string().contains("未登录或登录已过期"), "{e}");
    assert!(!e.to_string().contains(&forged), "never the token: {e}");
    // Past its day the same token is refused, and nothing renews it.
    handle.app().clock().advance(86_401_000);
    let e = good.probe().await.unwrap_err();
    assert_eq!(e.category(), "Unauthorized", "{e}");
    assert_eq!(logins(&handle), 1);
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn luchen_instance_lifecycle_over_http() {
    let (handle, url) = emulator().await;
    let p = provider(&password(&url, DEFAULT_PASSWORD));
    let api = p.instances().unwrap();
    let s = spec("ef-luchen-life");
    assert_eq!(api.validate(&s, true), vec![]);
    let op = api.create(&s, 1, &identity(&s.name)).await.unwrap();
    let id = op.resource_ids.first().cloned().expect("the instance id");
    until("the instance runs", || async {
        state_of(p.as_ref(), &id).await == InstanceState::Running
    })
    .await;
    let found = api.find_by_identity(&identity(&s.name), &s).await.unwrap();
    assert_eq!(
        found.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        vec![id.as_str()],
        "found again by name (crash recovery)"
    );
    let o = api.observe(&id, Duration::from_secs(60)).await.unwrap();
    assert_eq!(o.placement.site_id.as_deref(), Some(REGION_EAST));
    assert_eq!(
        (o.flavor.as_deref(), o.image.as_deref()),
        (Some(TYPE_H100_1), Some(IMAGE_PYTORCH))
    );
    let ssh = o.placement.ssh_address.clone().unwrap_or_default();
    assert!(ssh.starts_with("ssh root@") && ssh.contains(" -p "), "{ssh:?}");
    assert_eq!(
        o.placement.node_ports.iter().map(|p| p.port).collect::<Vec<_>>(),
        vec![8888, 6006]
    );
    assert!(o.placement.node_ports.iter().all(|p| p.node_port >= 30000));
    // Batched: a second observation inside the age is answered from the same list.
    let lists = calls_of(&handle, "POST /api/instance/list");
    api.observe(&id, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        calls_of(&handle, "POST /api/instance/list"),
        lists,
        "from the snapshot"
    );

    api.power(std::slice::from_ref(&id), PowerAction::Stop { force: false })
        .await
        .unwrap();
    until("stopped", || async {
        state_of(p.as_ref(), &id).await == InstanceState::Stopped
    })
    .await;
    let e = api
        .power(std::slice::from_ref(&id), PowerAction::Stop { force: false })
        .await
        .unwrap_err();
    assert_eq!(e.category(), "Conflict", "stop of a stopped instance: {e}");
    api.power(std::slice::from_ref(&id), PowerAction::Start)
        .await
        .unwrap();
    until("running again", || async {
        state_of(p.as_ref(), &id).await == InstanceState::Running
    })
    .await;
    api.power(std::slice::from_ref(&id), PowerAction::Reboot { force: false })
        .await
        .unwrap();
    assert_eq!(calls_of(&handle, "POST /api/instance/restart"), 1);
    until("running after the restart", || async {
        state_of(p.as_ref(), &id).await == InstanceState::Running
    })
    .await;
    api.delete(std::slice::from_ref(&id)).await.unwrap();
    until("gone", || async {
        match api.get(&id).await {
            Err(e) => e.is_not_found(),
            Ok(o) => o.state == InstanceState::Deleted,
        }
    })
    .await;
    // Terminating again is done, not an error; stopping a gone one is NotFound with the cloud's words.
    api.delete(std::slice::from_ref(&id)).await.unwrap();
    let e = api
        .power(std::slice::from_ref(&id), PowerAction::Start)
        .await
        .unwrap_err();
    assert_eq!(e.category(), "NotFound", "{e}");
    assert!(e.to_string().contains("ent: instance not found"), "{e}");
    assert_eq!(logins(&handle), 1, "one login for the whole run");
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn luchen_refusals_come_back_as_their_categories() {
    let (handle, url) = emulator().await;
    let p = provider(&password(&url, DEFAULT_PASSWORD));
    let api = p.instances().unwrap();
    // A catalog id the cloud does not know.
    let mut unknown = spec("ef-luchen-unknown");
    unknown.image = "7a81788c-9999-4f3e-a1b2-2409e3c8150c".into();
    let e = api
        .create(&unknown, 1, &identity(&unknown.name))
        .await
        .unwrap_err();
    assert_eq!(e.category(), "Invalid", "{e}");
    assert!(e.to_string().contains("ent: image not found"), "{e}");
    assert!(e.created_nothing());
    // A value the cloud's validation refuses (sent unchecked, as a client without validate would).
    let mut hourly = spec("ef-luchen-hourly");
    if let InstanceExt::Luchen(e) = &mut hourly.ext {
        e.duration = 3;
    }
    assert!(!api.validate(&hourly, true).is_empty(), "caught before any call");
    let e = api.create(&hourly, 1, &identity(&hourly.name)).await.unwrap_err();
    assert_eq!(e.category(), "Invalid", "{e}");
    assert!(e.to_string().contains("billing.duration"), "{e}");
    // An id nobody has.
    let e = api
        .get("notebook-00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    let e = api
        .delete(&["notebook-00000000-0000-0000-0000-000000000000".to_owned()])
        .await;
    assert!(e.is_ok(), "terminating a gone instance is done: {e:?}");
    // Nothing was created by the refused calls.
    assert!(api.list(&InstanceFilter::default()).await.unwrap().is_empty());
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn luchen_throttled_calls_wait_out_the_retry_after() {
    let (handle, url) = emulator().await;
    let p = provider(&password(&url, DEFAULT_PASSWORD));
    p.probe().await.unwrap();
    handle
        .app()
        .set_faults(Faults {
            throttle: vec![ThrottleFault {
                account: "*".into(),
                limit_per_second: 2,
                retry_after_secs: 1,
            }],
            ..Faults::default()
        })
        .unwrap();
    let api = p.instances().unwrap();
    for _ in 0..6 {
        api.list(&InstanceFilter::default()).await.unwrap();
    }
    assert!(
        answered(&handle, 429) > 0,
        "the emulator throttled some calls, and each was retried after its Retry-After"
    );
    assert_eq!(logins(&handle), 1, "throttling is not a token problem");
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn luchen_lost_create_answer_is_found_by_name_not_created_again() {
    let (handle, url) = emulator().await;
    let p = provider(&password(&url, DEFAULT_PASSWORD));
    let api = p.instances().unwrap();
    handle
        .app()
        .set_faults(Faults {
            lost_responses: vec![LostResponseFault {
                operation: "POST /api/instance/create".into(),
                rate: 1.0,
                mode: Default::default(),
            }],
            ..Faults::default()
        })
        .unwrap();
    let s = spec("ef-luchen-lost");
    let e = api.create(&s, 1, &identity(&s.name)).await.unwrap_err();
    assert!(!e.created_nothing(), "a lost answer may have created: {e}");
    assert_eq!(
        calls_of(&handle, "POST /api/instance/create"),
        1,
        "a create without an idempotency token is never resent"
    );
    let found = api.find_by_identity(&identity(&s.name), &s).await.unwrap();
    assert_eq!(found.len(), 1, "the instance the lost call made: {found:?}");
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn luchen_token_expiring_mid_run_is_renewed_once_for_many_concurrent_calls() {
    let (handle, url) = emulator().await;
    // One provider, as the registry keeps one per ProviderConfig for every controller.
    let p = Arc::new(luchen(&password(&url, DEFAULT_PASSWORD)));
    let api: &dyn InstanceApi = p.as_ref();
    let id = api
        .create(&spec("ef-luchen-renew"), 1, &identity("ef-luchen-renew"))
        .await
        .unwrap()
        .resource_ids[0]
        .clone();
    assert_eq!(logins(&handle), 1);
    // The cloud's clock passes the token's day: the client still holds it as fresh, so every call
    // presents it and is told to log in again.
    handle.app().clock().advance(86_401_000);
    let rejected_before = answered(&handle, 401);
    let calls = (0..24).map(|_| {
        let p = p.clone();
        let id = id.clone();
        tokio::spawn(async move { InstanceApi::get(p.as_ref(), &id).await })
    });
    for c in futures::future::join_all(calls).await {
        c.unwrap().unwrap();
    }
    let rejected = answered(&handle, 401) - rejected_before;
    assert!(rejected >= 1, "the old token was rejected");
    assert_eq!(
        logins(&handle),
        2,
        "exactly one renewal for {rejected} rejected calls"
    );
    assert_eq!(p.client().session().logins(), 2);
    // A token the cloud issues short-lived (token_ttl_ms) is renewed before it runs out, once.
    handle
        .app()
        .set_faults(Faults {
            token_ttl_ms: Some(2_000),
            ..Faults::default()
        })
        .unwrap();
    handle.app().clock().advance(86_401_000);
    InstanceApi::get(p.as_ref(), &id).await.unwrap();
    assert_eq!(logins(&handle), 3, "the expired token renewed once more");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let calls = (0..16).map(|_| {
        let p = p.clone();
        let id = id.clone();
        tokio::spawn(async move { InstanceApi::get(p.as_ref(), &id).await })
    });
    for c in futures::future::join_all(calls).await {
        c.unwrap().unwrap();
    }
    assert_eq!(
        logins(&handle),
        4,
        "past half its 2 s life the token is renewed by one login for all 16 calls"
    );
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn luchen_create_pass_lookups_share_one_list_and_a_created_name_is_looked_up_anew() {
    let (handle, url) = emulator().await;
    let p = provider(&password(&url, DEFAULT_PASSWORD));
    let api = p.instances().unwrap();
    let lists = || calls_of(&handle, "POST /api/instance/list");
    let age = Duration::from_secs(60);
    for i in 0..10 {
        let name = format!("ef-luchen-burst-{i}");
        let found = api
            .find_by_identity_within(&identity(&name), &spec(&name), age)
            .await
            .unwrap();
        assert!(found.is_empty(), "{name} is free");
    }
    assert_eq!(lists(), 1, "ten lookups of a create pass, one list");
    // A create whose answer is lost touches its name: the next lookup lists anew and finds it.
    handle
        .app()
        .set_faults(Faults {
            lost_responses: vec![LostResponseFault {
                operation: "POST /api/instance/create".into(),
                rate: 1.0,
                mode: Default::default(),
            }],
            ..Faults::default()
        })
        .unwrap();
    let name = "ef-luchen-burst-3";
    assert!(api.create(&spec(name), 1, &identity(name)).await.is_err());
    let found = api
        .find_by_identity_within(&identity(name), &spec(name), age)
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "found in a list made after the create: {found:?}");
    assert_eq!(lists(), 2);
    handle.shutdown().await.unwrap();
}
