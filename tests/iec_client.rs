//! Contract tests of the IEC client against the in-process emulator over real HTTP: every client
//! operation's happy path, the documented errors the emulator produces mapped to `ProviderError`,
//! throttling (the client waits through Retry-After and succeeds within its retry budget), token expiry
//! and refresh, bad signatures, retries only for idempotent calls, and batched list observation.
//! Time is never asserted; asynchronous cloud transitions are polled with a bounded number of attempts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/poll.rs"]
mod poll;
use poll::eventually;

use std::sync::Arc;
use std::time::Duration;

use edgefleet::provider::huawei::auth::Auth;
use edgefleet::provider::iec::IecProvider;
use edgefleet::provider::metrics::CallLabels;
use edgefleet::provider::plan::{SgAction, plan_security_group};
use edgefleet::provider::*;
use edgefleet_emulator::config as emu_config;
use edgefleet_emulator::{Config, Delays, ServerHandle};
use serde_json::{Value, json};

struct Emu {
    url: String,
    handle: Option<ServerHandle>,
    http: reqwest::Client,
}

impl Emu {
    async fn start() -> Self {
        Self::start_with(Config {
            delays: Delays::zero(),
            ..Config::default()
        })
        .await
    }

    async fn start_with(config: Config) -> Self {
        let (addr, handle) = edgefleet_emulator::serve(config).await.expect("emulator starts");
        Self {
            url: format!("http://{addr}"),
            handle: Some(handle),
            http: reqwest::Client::new(),
        }
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("admin call");
        assert!(resp.status().is_success(), "admin {path}: {}", resp.status());
        resp.json().await.unwrap_or(Value::Null)
    }

    async fn set_faults(&self, faults: Value) {
        self.admin(reqwest::Method::PUT, "/_emulator/faults", Some(faults))
            .await;
    }

    /// Requests the emulator received for `op` (e.g. `POST /v1/vpcs`).
    fn calls_to(&self, op: &str) -> u64 {
        self.handle.as_ref().map_or(0, |h| h.calls().requests(op))
    }

    fn settings(&self, credentials: Credentials) -> ProviderSettings {
        let mut s = ProviderSettings::new(ProviderKind::Iec, "contract", credentials);
        s.endpoints.api = Some(self.url.clone());
        s.endpoints.iam = Some(self.url.clone());
        s.domain_name = Some(emu_config::DEFAULT_DOMAIN_NAME.into());
        s.rate = RateBudget {
            qps: 200.0,
            burst: 50,
        };
        s.retry = RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_secs(2),
        };
        s.request_timeout = Duration::from_secs(10);
        s
    }

    fn aksk(&self) -> ProviderSettings {
        self.settings(Credentials::AkSk {
            access_key: emu_config::DEFAULT_AK.into(),
            secret_key: emu_config::DEFAULT_SK.into(),
            security_token: None,
        })
    }

    fn password(&self) -> ProviderSettings {
        self.settings(Credentials::Password {
            username: emu_config::DEFAULT_USER.into(),
            password: emu_config::DEFAULT_PASSWORD.into(),
            domain: Some(emu_config::DEFAULT_DOMAIN_NAME.into()),
        })
    }
}

impl Drop for Emu {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            // Best effort: the runtime may already be shutting down.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = h.shutdown().await;
                });
            }
        }
    }
}

fn provider(settings: &ProviderSettings, metrics: &ProviderMetrics) -> IecProvider {
    let limiter = Arc::new(RateLimiter::new(settings.rate));
    IecProvider::new(settings, limiter, metrics.clone()).expect("provider builds")
}

fn code(e: &ProviderError) -> &str {
    e.code().unwrap_or("")
}

// -------------------------------------------------------------------------------------------------------
// Auth
// -------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn aksk_signed_calls_probe_and_read_the_catalog() {
    let emu = Emu::start().await;
    let p = provider(&emu.aksk(), &ProviderMetrics::new());
    p.probe().await.expect("probe with valid AK/SK");
    let cat = p.catalog().unwrap();
    let sites = cat.sites(&SiteFilter::default()).await.unwrap();
    assert!(!sites.is_empty(), "emulator catalog has sites");
    assert!(sites.iter().all(|s| !s.id.is_empty()));
    let one = cat
        .sites(&SiteFilter {
            id: Some(sites[0].id.clone()),
            flavor: None,
        })
        .await
        .unwrap();
    assert_eq!(one.len(), 1, "site filter by id");
    let flavors = cat.flavors(&[]).await.unwrap();
    assert!(!flavors.is_empty());
    let images = cat.images(&ImageFilter::default()).await.unwrap();
    assert!(!images.is_empty());
    let by_name = cat
        .images(&ImageFilter {
            name: Some(images[0].name.clone()),
            id: None,
        })
        .await
        .unwrap();
    assert!(
        by_name.iter().any(|i| i.id == images[0].id),
        "image filter by exact name"
    );
    let quotas = cat.quotas().await.unwrap();
    assert!(quotas.iter().any(|q| q.resource == "vpc"), "{quotas:?}");
}

#[tokio::test]
async fn keypair_list_is_a_bare_array() {
    let emu = Emu::start().await;
    let p = provider(&emu.aksk(), &ProviderMetrics::new());
    let keypairs = p.client().list_keypairs().await.unwrap();
    assert!(
        keypairs.iter().all(|k| !k.name.is_empty()),
        "bare-array keypair list parses"
    );
}

/// Every emulator answer carries an `X-Request-Id` (32 hex chars); the client puts it in its errors
/// and their message (support tickets quote it).
fn assert_request_id(err: &ProviderError) {
    let id = err
        .request_id()
        .unwrap_or_else(|| panic!("no request id in {err}"));
    assert!(
        id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    assert!(err.to_string().contains(id), "{err}");
}

#[tokio::test]
async fn bad_signature_is_rejected_as_unauthorized_and_not_retried() {
    let emu = Emu::start().await;
    let mut s = emu.aksk();
    s.credentials = Credentials::AkSk {
        access_key: emu_config::DEFAULT_AK.into(),
        secret_key: "wrong-secret".into(),
        security_token: None,
    };
    let metrics = ProviderMetrics::new();
    let p = provider(&s, &metrics);
    let err = p.probe().await.expect_err("a wrong secret key must fail");
    assert_eq!(err.category(), "Unauthorized", "{err}");
    assert!(
        code(&err).starts_with("APIGW.03") || code(&err).starts_with("APIG.03"),
        "{err}"
    );
    assert!(
        !err.to_string().contains("wrong-secret"),
        "the error never shows the secret"
    );
    assert_request_id(&err);
    let labels = CallLabels {
        provider: "iec".into(),
        account: "contract".into(),
        operation: "iec.quota.get".into(),
    };
    assert_eq!(metrics.calls(&labels), 1, "auth failures are not retried");
    assert!(emu.calls_to("GET /v1/edgeclouds/quotas") <= 1);
}

#[tokio::test]
async fn password_login_is_cached_single_flight_and_refreshed_after_expiry() {
    let emu = Emu::start().await;
    let p = Arc::new(provider(&emu.password(), &ProviderMetrics::new()));
    // Ten concurrent calls share one login.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let p = p.clone();
        tasks.push(tokio::spawn(async move { p.probe().await }));
    }
    for t in tasks {
        t.await.unwrap().expect("probe with a fresh token");
    }
    let Auth::Password(src) = p.client().auth() else {
        panic!("password auth expected")
    };
    assert_eq!(
        src.logins(),
        1,
        "single-flight: one login for ten concurrent callers"
    );
    // Expire the token on the emulator clock: the next call gets IEC.000004, logs in again, succeeds.
    emu.admin(
        reqwest::Method::POST,
        "/_emulator/clock/advance",
        Some(json!({"seconds": 25 * 3600})),
    )
    .await;
    p.probe().await.expect("refreshed after expiry");
    assert_eq!(src.logins(), 2, "exactly one re-login after expiry");
}

#[tokio::test]
async fn wrong_password_is_unauthorized() {
    let emu = Emu::start().await;
    let mut s = emu.password();
    s.credentials = Credentials::Password {
        username: emu_config::DEFAULT_USER.into(),
        password: "not-the-password".into(),
        domain: Some(emu_config::DEFAULT_DOMAIN_NAME.into()),
    };
    let err = provider(&s, &ProviderMetrics::new())
        .probe()
        .await
        .expect_err("wrong password");
    assert_eq!(err.category(), "Unauthorized", "{err}");
    assert!(!err.to_string().contains("not-the-password"));
    assert_request_id(&err);
}

#[tokio::test]
async fn invalid_fixed_token_is_unauthorized() {
    let emu = Emu::start().await;
    let s = emu.settings(Credentials::Token {
        token: "garbage-token".into(),
    });
    let err = provider(&s, &ProviderMetrics::new())
        .probe()
        .await
        .expect_err("garbage token");
    assert_eq!(err.category(), "Unauthorized");
    assert_eq!(code(&err), "IEC.000003", "{err}");
}

// -------------------------------------------------------------------------------------------------------
// Resilience
// -------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn throttled_calls_wait_for_retry_after_and_succeed_within_budget() {
    let emu = Emu::start().await;
    emu.set_faults(json!({"throttle": [{"account": "*", "limit_per_second": 3, "retry_after_secs": 1}]}))
        .await;
    let mut s = emu.aksk();
    s.retry.max_attempts = 8;
    let metrics = ProviderMetrics::new();
    let p = Arc::new(provider(&s, &metrics));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let p = p.clone();
        tasks.push(tokio::spawn(async move { p.catalog().unwrap().quotas().await }));
    }
    for t in tasks {
        t.await.unwrap().expect("every call succeeds after waiting");
    }
    let labels = CallLabels {
        provider: "iec".into(),
        account: "contract".into(),
        operation: "iec.quota.get".into(),
    };
    assert!(
        metrics.throttles(&labels) > 0,
        "the emulator throttled some calls"
    );
}

#[tokio::test]
async fn transient_errors_retry_reads_but_never_creates() {
    let emu = Emu::start().await;
    emu.set_faults(json!({"errors": [
        {"operation": "GET /v1/vpcs", "rate": 1.0, "status": 503},
        {"operation": "POST /v1/vpcs", "rate": 1.0, "status": 500}
    ]}))
    .await;
    let p = provider(&emu.aksk(), &ProviderMetrics::new());
    let err = p.vpcs().unwrap().list_all().await.expect_err("always 503");
    assert_eq!(err.category(), "Transient");
    assert!(err.is_retryable());
    assert_eq!(
        emu.calls_to("GET /v1/vpcs"),
        4,
        "an idempotent read is retried up to max_attempts"
    );
    let spec = VpcSpec {
        name: "no-dup".into(),
        cidr: "10.9.0.0/16".into(),
        mode: VpcMode::System,
        subnets: vec![],
        ext: Default::default(),
    };
    let err = p
        .vpcs()
        .unwrap()
        .create(&spec, &CreateIdentity::default())
        .await
        .expect_err("always 500");
    assert_eq!(err.category(), "Transient");
    assert_eq!(
        emu.calls_to("POST /v1/vpcs"),
        1,
        "a create is never blindly retried"
    );
}

// -------------------------------------------------------------------------------------------------------
// VPC and subnets
// -------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn vpc_lifecycle_with_documented_errors() {
    let emu = Emu::start().await;
    let p = provider(&emu.aksk(), &ProviderMetrics::new());
    let api = p.vpcs().unwrap();
    let c = p.client();
    let system = VpcSpec {
        name: "sys-net".into(),
        cidr: "10.0.0.0/16".into(),
        mode: VpcMode::System,
        subnets: vec![],
        ext: Default::default(),
    };
    let v = api.create(&system, &CreateIdentity::default()).await.unwrap();
    assert_eq!(
        (v.name.as_str(), v.cidr.as_str(), v.mode),
        ("sys-net", "10.0.0.0/16", Some(VpcMode::System))
    );
    let dup = api
        .create(&system, &CreateIdentity::default())
        .await
        .expect_err("names are unique");
    assert_eq!((dup.category(), code(&dup)), ("Conflict", "IEC.020105"), "{dup}");
    let bad = api
        .create(
            &VpcSpec {
                name: "bad-cidr".into(),
                cidr: "300.0.0.0/8".into(),
                ..system.clone()
            },
            &CreateIdentity::default(),
        )
        .await
        .expect_err("bad cidr");
    assert_eq!((bad.category(), code(&bad)), ("Invalid", "IEC.020115"), "{bad}");

    let by_name = c.list_vpcs(Some("sys-net")).await.unwrap();
    assert_eq!(by_name.len(), 1);
    assert_eq!(by_name[0].id, v.id);
    let updated = api
        .update(
            &v.id,
            &VpcUpdate {
                name: Some("sys-net-2".into()),
                cidr: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "sys-net-2");
    assert_eq!(c.get_vpc(&v.id).await.unwrap().name, "sys-net-2");
    // Batched observation: all pages in one listing.
    for i in 0..3 {
        api.create(
            &VpcSpec {
                name: format!("many-{i}"),
                cidr: format!("10.{}.0.0/16", 100 + i),
                ..system.clone()
            },
            &CreateIdentity::default(),
        )
        .await
        .unwrap();
    }
    assert_eq!(c.list_vpcs(None).await.unwrap().len(), 4);

    api.delete(&v.id).await.unwrap();
    let gone = c.get_vpc(&v.id).await.expect_err("deleted");
    assert_eq!(
        (gone.category(), code(&gone)),
        ("NotFound", "IEC.020104"),
        "{gone}"
    );
    assert_request_id(&gone);
    let again = api.delete(&v.id).await.expect_err("second delete");
    assert!(
        again.is_not_found(),
        "delete of a deleted VPC is NotFound (callers treat it as done)"
    );
}

#[tokio::test]
async fn subnet_lifecycle_with_documented_errors() {
    let emu = Emu::start().await;
    let p = provider(&emu.aksk(), &ProviderMetrics::new());
    let api = p.vpcs().unwrap();
    let site = p.catalog().unwrap().sites(&SiteFilter::default()).await.unwrap()[0]
        .id
        .clone();
    let system = VpcSpec {
        name: "sys-net".into(),
        cidr: "10.0.0.0/16".into(),
        mode: VpcMode::System,
        subnets: vec![],
        ext: Default::default(),
    };
    let v = api.create(&system, &CreateIdentity::default()).await.unwrap();
    let subnet = SubnetSpec {
        name: "s1".into(),
        cidr: "10.0.1.0/24".into(),
        gateway_ip: None,
        site_id: site.clone(),
        dhcp_enable: true,
        primary_dns: None,
        secondary_dns: None,
    };
    let e = api
        .create_subnet(&v.id, &subnet)
        .await
        .expect_err("no manual subnets in SYSTEM VPCs");
    assert_eq!((e.category(), code(&e)), ("Invalid", "IEC.020107"), "{e}");
    let found = api.find_by_name("sys-net").await.unwrap();
    assert_eq!(found.len(), 1);
    assert!(
        api.find_by_name("sys-ne").await.unwrap().is_empty(),
        "exact name match only"
    );

    let customer = VpcSpec {
        name: "cust-net".into(),
        cidr: "172.16.0.0/16".into(),
        mode: VpcMode::Customer,
        subnets: vec![],
        ext: Default::default(),
    };
    let c = api.create(&customer, &CreateIdentity::default()).await.unwrap();
    let s1 = api
        .create_subnet(
            &c.id,
            &SubnetSpec {
                cidr: "172.16.1.0/24".into(),
                ..subnet.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        s1.gateway_ip.as_deref(),
        Some("172.16.1.1"),
        "gateway defaults to the first host"
    );
    let overlap = api
        .create_subnet(
            &c.id,
            &SubnetSpec {
                name: "s2".into(),
                cidr: "172.16.1.0/25".into(),
                ..subnet.clone()
            },
        )
        .await
        .expect_err("overlapping cidr");
    assert_eq!(
        (overlap.category(), code(&overlap)),
        ("Conflict", "IEC.020007"),
        "{overlap}"
    );
    api.update_subnet(
        &c.id,
        &s1.id,
        &SubnetUpdate {
            name: Some("s1-renamed".into()),
            ..SubnetUpdate::default()
        },
    )
    .await
    .unwrap();
    let subs = api.list_subnets(&c.id).await.unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].name, "s1-renamed");
    assert_eq!(api.get(&c.id).await.unwrap().subnets.len(), 1);

    // Batched observation: one listing returns both VPCs with their subnets.
    let all = api.list_all().await.unwrap();
    let cust = all.iter().find(|x| x.id == c.id).expect("customer vpc listed");
    assert_eq!(cust.subnets.len(), 1);
    assert!(all.iter().any(|x| x.id == v.id));

    let busy = api.delete(&c.id).await.expect_err("VPC with subnets");
    assert_eq!((busy.category(), code(&busy)), ("InUse", "IEC.020113"), "{busy}");
    api.delete_subnet(&c.id, &s1.id).await.unwrap();
    api.delete(&c.id).await.unwrap();
    let sub_gone = api
        .delete_subnet(&c.id, &s1.id)
        .await
        .expect_err("second subnet delete");
    assert_eq!(
        (sub_gone.category(), code(&sub_gone)),
        ("NotFound", "IEC.020003"),
        "{sub_gone}"
    );
}

// -------------------------------------------------------------------------------------------------------
// Security groups
// -------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn security_group_rules_converge_and_errors_map() {
    let emu = Emu::start().await;
    let p = provider(&emu.aksk(), &ProviderMetrics::new());
    let api = p.security_groups().unwrap();
    let caps = p.capabilities().clone();
    let ssh = RuleSpec {
        protocol: Some("tcp".into()),
        port_min: Some(22),
        port_max: Some(22),
        remote: RuleRemote::Cidr("10.0.0.0/8".into()),
        ..RuleSpec::allow(Direction::Ingress, EtherType::Ipv4)
    };
    let desired = SecurityGroupSpec {
        name: "web".into(),
        description: "edgefleet test".into(),
        rules: vec![
            ssh.clone(),
            RuleSpec {
                protocol: Some("icmp".into()),
                ..RuleSpec::allow(Direction::Ingress, EtherType::Ipv4)
            },
        ],
        mode: RuleMode::Authoritative,
        keep_cloud_default_rules: false,
    };
    let g = api
        .create(&SecurityGroupCreate {
            name: desired.name.clone(),
            description: desired.description.clone(),
            ..SecurityGroupCreate::default()
        })
        .await
        .unwrap();
    // Execute the plan against the observed group, then a second plan must be empty.
    let observed = api.get(&g.id).await.unwrap();
    for action in plan_security_group(&desired, Some(&observed), &caps) {
        match action {
            SgAction::CreateRule(r) => {
                api.create_rule(&g.id, &r).await.unwrap();
            }
            SgAction::DeleteRule { id, .. } => api.delete_rule(&g.id, &id).await.unwrap(),
            other => panic!("unexpected action {other:?}"),
        }
    }
    let after = api.get(&g.id).await.unwrap();
    assert_eq!(
        plan_security_group(&desired, Some(&after), &caps),
        vec![],
        "second pass makes no change"
    );
    assert_eq!(api.list_rules(&g.id).await.unwrap().len(), 2);
    assert!(
        api.find_by_name("web")
            .await
            .unwrap()
            .iter()
            .any(|x| x.id == g.id)
    );
    let listed = api.list_all().await.unwrap();
    assert!(
        listed.iter().any(|x| x.id == g.id && x.rules.len() == 2),
        "rules embedded in the list"
    );

    let bad_ports = RuleSpec {
        port_min: Some(100),
        port_max: Some(10),
        ..ssh.clone()
    };
    let e = api.create_rule(&g.id, &bad_ports).await.expect_err("min > max");
    assert_eq!(
        (e.category(), code(&e)),
        ("Invalid", "IEC.020305"),
        "409 IEC.020305 is a validation error: {e}"
    );
    let both = edgefleet::provider::iec::types::CreateRuleOption {
        description: String::new(),
        security_group_id: g.id.clone(),
        direction: "ingress".into(),
        ethertype: "IPv4".into(),
        protocol: None,
        port_range_min: None,
        port_range_max: None,
        remote_group_id: Some(g.id.clone()),
        remote_ip_prefix: Some("10.0.0.0/8".into()),
        action: "allow".into(),
        priority: None,
    };
    let e = p.client().create_rule(&both).await.expect_err("both remotes");
    assert_eq!(code(&e), "IEC.020308", "{e}");

    let rule_id = api.list_rules(&g.id).await.unwrap()[0].id.clone();
    api.delete_rule(&g.id, &rule_id).await.unwrap();
    let e = api
        .delete_rule(&g.id, &rule_id)
        .await
        .expect_err("already deleted");
    assert_eq!((e.category(), code(&e)), ("NotFound", "IEC.020304"));
    api.delete(&g.id).await.unwrap();
    let e = api.get(&g.id).await.expect_err("deleted group");
    assert_eq!((e.category(), code(&e)), ("NotFound", "IEC.020204"));
}

// -------------------------------------------------------------------------------------------------------
// Instances
// -------------------------------------------------------------------------------------------------------

struct World {
    site: String,
    flavor: String,
    image: String,
    image2: String,
    vpc: String,
    subnet: String,
    sg: String,
}

async fn world(p: &IecProvider) -> World {
    let cat = p.catalog().unwrap();
    let site = cat.sites(&SiteFilter::default()).await.unwrap()[0].id.clone();
    let flavor = cat.flavors(std::slice::from_ref(&site)).await.unwrap()[0]
        .id
        .clone();
    let images = cat.images(&ImageFilter::default()).await.unwrap();
    let active: Vec<&Image> = images.iter().filter(|i| i.active).collect();
    assert!(
        active.len() >= 2,
        "the emulator catalog offers at least two active images"
    );
    let vpcs = p.vpcs().unwrap();
    let vpc = vpcs
        .create(
            &VpcSpec {
                name: "inst-net".into(),
                cidr: "192.168.0.0/16".into(),
                mode: VpcMode::Customer,
                subnets: vec![],
                ext: Default::default(),
            },
            &CreateIdentity::default(),
        )
        .await
        .unwrap();
    let subnet = vpcs
        .create_subnet(
            &vpc.id,
            &SubnetSpec {
                name: "inst-sub".into(),
                cidr: "192.168.1.0/24".into(),
                gateway_ip: None,
                site_id: site.clone(),
                dhcp_enable: true,
                primary_dns: None,
                secondary_dns: None,
            },
        )
        .await
        .unwrap();
    let sg = p
        .security_groups()
        .unwrap()
        .create(&SecurityGroupCreate {
            name: "inst-sg".into(),
            ..SecurityGroupCreate::default()
        })
        .await
        .unwrap();
    World {
        site,
        flavor,
        image: active[0].id.clone(),
        image2: active[1].id.clone(),
        vpc: vpc.id,
        subnet: subnet.id,
        sg: sg.id,
    }
}

fn instance_spec(w: &World, name: &str) -> InstanceSpec {
    InstanceSpec {
        name: name.into(),
        description: "edgefleet:test".into(),
        flavor: w.flavor.clone(),
        image: w.image.clone(),
        site: w.site.clone(),
        area: None,
        pool_id: None,
        operator: None,
        vpc_id: w.vpc.clone(),
        subnet_ids: vec![w.subnet.clone()],
        security_group_ids: vec![w.sg.clone()],
        root_volume: VolumeSpec {
            size_gb: 40,
            volume_type: "SAS".into(),
        },
        data_volumes: vec![],
        key_name: None,
        admin_password: Some("Edge@fleet2026".into()),
        user_data: None,
        bandwidth: None,
        power: PowerState::Running,
        fleet_id: None,
        ext: InstanceExt::None,
    }
}

#[tokio::test]
async fn instance_direct_create_in_customer_subnet() {
    let emu = Emu::start().await;
    let p = provider(&emu.aksk(), &ProviderMetrics::new());
    let w = world(&p).await;
    let api = p.instances().unwrap();
    let spec = instance_spec(&w, "ef-inst-1");
    let op = api
        .create(
            &spec,
            2,
            &CreateIdentity {
                name: "ef-inst-1".into(),
                ..CreateIdentity::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(op.resource_ids.len(), 2, "server ids come back immediately");
    let id = op.resource_ids[0].clone();
    let running = eventually("instance running", 200, || async {
        api.get(&id)
            .await
            .ok()
            .filter(|i| i.state == InstanceState::Running)
    })
    .await;
    assert!(
        !running.private_ips.is_empty(),
        "a running instance has a private address"
    );

    // Batched observation: one paginated listing, filtered client-side by ids.
    let listed = api
        .list(&InstanceFilter {
            ids: op.resource_ids.clone(),
            ..InstanceFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    let by_site = api
        .list(&InstanceFilter {
            site_id: Some(w.site.clone()),
            ..InstanceFilter::default()
        })
        .await
        .unwrap();
    assert!(by_site.len() >= 2);

    exercise_instance(
        api,
        &id,
        &w.image2,
        &AddNics {
            vpc_id: w.vpc.clone(),
            subnet_id: Some(w.subnet.clone()),
            security_group_ids: vec![w.sg.clone()],
            count: 1,
        },
    )
    .await;
    api.delete(&op.resource_ids).await.unwrap();
    eventually("instances gone", 200, || async {
        match api.get(&id).await {
            Err(e) if e.is_not_found() => Some(()),
            Ok(i) if i.state == InstanceState::Deleted => Some(()),
            _ => None,
        }
    })
    .await;
    let e = api
        .get("00000000-0000-0000-0000-00000000dead")
        .await
        .expect_err("unknown id");
    assert_eq!((e.category(), code(&e)), ("NotFound", "IEC.010200"), "{e}");
}

/// Update, change-OS (refused while running, then stop → change → start), reboot, add and remove a NIC.
async fn exercise_instance(api: &dyn InstanceApi, id: &str, image2: &str, nic: &AddNics) {
    let id = id.to_owned();
    api.update(
        &id,
        &InstanceUpdate {
            name: Some("ef-renamed".into()),
            description: Some("d2".into()),
        },
    )
    .await
    .unwrap();
    let renamed = api.get(&id).await.unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.description.as_str()),
        ("ef-renamed", "d2")
    );

    let e = api
        .change_os(
            &id,
            &ChangeOs {
                image: image2.to_owned(),
                key_name: None,
                user_data: None,
            },
        )
        .await
        .expect_err("change-OS needs a stopped instance");
    assert_eq!((e.category(), code(&e)), ("Conflict", "IEC.010222"), "{e}");

    api.power(std::slice::from_ref(&id), PowerAction::Stop { force: false })
        .await
        .unwrap();
    eventually("instance stopped", 200, || async {
        api.get(&id)
            .await
            .ok()
            .filter(|i| i.state == InstanceState::Stopped)
    })
    .await;
    api.change_os(
        &id,
        &ChangeOs {
            image: image2.to_owned(),
            key_name: None,
            user_data: None,
        },
    )
    .await
    .unwrap();
    eventually("change-OS finished", 200, || async {
        api.get(&id).await.ok().filter(|i| !i.state.is_transient())
    })
    .await;
    api.power(std::slice::from_ref(&id), PowerAction::Start)
        .await
        .unwrap();
    eventually("instance running again", 200, || async {
        api.get(&id)
            .await
            .ok()
            .filter(|i| i.state == InstanceState::Running)
    })
    .await;
    api.power(std::slice::from_ref(&id), PowerAction::Reboot { force: true })
        .await
        .unwrap();

    let nics_before = eventually("reboot finished", 200, || async {
        api.get(&id)
            .await
            .ok()
            .filter(|i| i.state == InstanceState::Running)
    })
    .await
    .nics
    .len();
    api.add_nics(&id, nic).await.unwrap();
    let with_nic = eventually("nic added", 200, || async {
        api.get(&id)
            .await
            .ok()
            .filter(|i| i.nics.len() == nics_before + 1)
    })
    .await;
    let extra = with_nic.nics.last().unwrap().id.clone();
    api.remove_nics(&id, &[extra]).await.unwrap();
    eventually("nic removed", 200, || async {
        api.get(&id).await.ok().filter(|i| i.nics.len() == nics_before)
    })
    .await;
}

// -------------------------------------------------------------------------------------------------------
// Fleets
// -------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn fleet_plan_deploy_expand_members_and_delete() {
    let emu = Emu::start().await;
    let p = provider(&emu.aksk(), &ProviderMetrics::new());
    let cat = p.catalog().unwrap();
    let sites = cat.sites(&SiteFilter::default()).await.unwrap();
    let site = &sites[0];
    let city = site.city.clone().expect("sites have a city");
    let flavor = cat.flavors(std::slice::from_ref(&site.id)).await.unwrap()[0]
        .id
        .clone();
    let image = cat
        .images(&ImageFilter::default())
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.active)
        .unwrap()
        .id;
    let vpc = p
        .vpcs()
        .unwrap()
        .create(
            &VpcSpec {
                name: "fleet-net".into(),
                cidr: "10.20.0.0/16".into(),
                mode: VpcMode::System,
                subnets: vec![],
                ext: Default::default(),
            },
            &CreateIdentity::default(),
        )
        .await
        .unwrap();
    let template = InstanceTemplate {
        name: "web".into(),
        flavor,
        image,
        vpc_id: vpc.id.clone(),
        nic_count: 1,
        security_group_ids: vec![],
        root_volume: VolumeSpec {
            size_gb: 40,
            volume_type: "SAS".into(),
        },
        data_volumes: vec![],
        key_name: None,
        admin_password: Some("Edge@fleet2026".into()),
        user_data: None,
        bandwidth: None,
        with_prefix: false,
        ext: FleetExt::None,
    };
    let request = FleetPlanRequest {
        target: FleetPlanTarget::New {
            name: "ef-fleet-1".into(),
        },
        description: "contract".into(),
        level: CoverageLevel::City,
        policy: CoveragePolicy::Centralize,
        targets: vec![SiteTarget {
            site: city.clone(),
            operator: None,
            pool_id: None,
            count: 2,
        }],
        template: template.clone(),
        identity: CreateIdentity::default(),
    };
    let fleets = p.fleets().unwrap();
    let plan = fleets.create_plan(&request).await.unwrap();
    assert!(!plan.id.is_empty());
    let open = fleets.find_open_plans().await.unwrap();
    assert!(
        open.iter()
            .any(|o| o.id == plan.id && o.fleet_name.as_deref() == Some("ef-fleet-1")),
        "an unexecuted plan is findable by fleet name: {open:?}"
    );
    let op = fleets.deploy(&plan.id, &request).await.unwrap();
    assert_eq!(op.fleet_name, "ef-fleet-1");
    let e = fleets
        .deploy(&plan.id, &request)
        .await
        .expect_err("a plan executes once");
    assert_eq!((e.category(), code(&e)), ("NotFound", "IEC.010100"), "{e}");

    let ready = eventually("edge cloud in service", 400, || async {
        fleets
            .get(&op.fleet_id)
            .await
            .ok()
            .filter(|f| f.state == FleetState::Ready)
    })
    .await;
    assert_eq!(ready.success_count, 2);
    let by_name = fleets.find_by_name("ef-fleet-1").await.unwrap();
    assert_eq!(by_name.len(), 1);
    assert!(
        fleets
            .list_all()
            .await
            .unwrap()
            .iter()
            .any(|f| f.id == op.fleet_id)
    );
    let members = fleets.list_members(&op.fleet_id).await.unwrap();
    assert_eq!(members.len(), 2);
    assert!(
        members
            .iter()
            .all(|m| m.fleet_id.as_deref() == Some(op.fleet_id.as_str()))
    );

    // A second fleet with the same name is a conflict (at plan or deploy time).
    let dup_plan = fleets.create_plan(&request).await;
    let dup = match dup_plan {
        Err(e) => e,
        Ok(plan2) => fleets
            .deploy(&plan2.id, &request)
            .await
            .expect_err("duplicate name"),
    };
    assert_eq!((dup.category(), code(&dup)), ("Conflict", "IEC.010008"), "{dup}");

    // Expand by one.
    let expand = FleetPlanRequest {
        target: FleetPlanTarget::Expand {
            fleet_id: op.fleet_id.clone(),
        },
        targets: vec![SiteTarget {
            site: city.clone(),
            operator: None,
            pool_id: None,
            count: 1,
        }],
        ..request.clone()
    };
    let plan2 = fleets.create_plan(&expand).await.unwrap();
    fleets.expand(&plan2.id, &expand).await.unwrap();
    eventually("expanded", 400, || async {
        let f = fleets.get(&op.fleet_id).await.ok()?;
        let n = fleets.list_members(&op.fleet_id).await.ok()?.len();
        (f.state == FleetState::Ready && n == 3).then_some(())
    })
    .await;

    // Deleting a fleet with members is refused; delete members first.
    let e = fleets
        .delete(&op.fleet_id)
        .await
        .expect_err("members still exist");
    assert!(matches!(e.category(), "InUse" | "Conflict" | "Invalid"), "{e}");
    let ids: Vec<String> = fleets
        .list_members(&op.fleet_id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    p.instances().unwrap().delete(&ids).await.unwrap();
    eventually("members gone", 400, || async {
        fleets
            .list_members(&op.fleet_id)
            .await
            .ok()
            .filter(|m| m.iter().all(|i| i.state == InstanceState::Deleted))
    })
    .await;
    fleets.delete(&op.fleet_id).await.unwrap();
    eventually("edge cloud gone", 400, || async {
        match fleets.get(&op.fleet_id).await {
            Err(e) if e.is_not_found() => Some(()),
            _ => None,
        }
    })
    .await;
    for plan in fleets.find_open_plans().await.unwrap() {
        fleets.delete_plan(&plan.id).await.unwrap();
    }
    assert!(fleets.find_open_plans().await.unwrap().is_empty());
}

#[tokio::test]
async fn registry_rebuilds_on_secret_change_and_keeps_the_account_limiter() {
    let emu = Emu::start().await;
    let registry = ProviderRegistry::new(ProviderMetrics::new());
    let good = emu.aksk();
    let a = registry.get_or_build(&good).unwrap();
    a.probe().await.unwrap();
    let mut bad = good.clone();
    bad.credentials = Credentials::AkSk {
        access_key: emu_config::DEFAULT_AK.into(),
        secret_key: "rotated-wrong".into(),
        security_token: None,
    };
    let b = registry.get_or_build(&bad).unwrap();
    assert!(
        !Arc::ptr_eq(&a, &b),
        "a changed secret rebuilds the client without a restart"
    );
    assert_eq!(b.probe().await.unwrap_err().category(), "Unauthorized");
    let c = registry.get_or_build(&good).unwrap();
    c.probe().await.unwrap();
}

#[tokio::test]
async fn lost_create_response_is_not_retried_and_the_object_is_found_by_name() {
    let emu = Emu::start().await;
    emu.set_faults(json!({"lost_responses": [{"operation": "POST /v1/vpcs", "rate": 1.0}]}))
        .await;
    let p = provider(&emu.aksk(), &ProviderMetrics::new());
    let api = p.vpcs().unwrap();
    let spec = VpcSpec {
        name: "ef-lost".into(),
        cidr: "10.30.0.0/16".into(),
        mode: VpcMode::System,
        subnets: vec![],
        ext: Default::default(),
    };
    let err = api
        .create(&spec, &CreateIdentity::default())
        .await
        .expect_err("the response is lost");
    assert!(err.is_retryable(), "{err}");
    assert_eq!(
        emu.calls_to("POST /v1/vpcs"),
        1,
        "the create was sent exactly once"
    );
    // Crash-safe recovery: the deterministic name finds exactly one object to adopt.
    let found = p.client().list_vpcs(Some("ef-lost")).await.unwrap();
    assert_eq!(
        found.iter().filter(|v| v.name == "ef-lost").count(),
        1,
        "{found:?}"
    );
}

/// Deploys a city-level fleet of `count` members in a SYSTEM VPC and returns (fleet id, member ids, vpc id).
async fn deploy_fleet(p: &IecProvider, name: &str, count: u32) -> (String, Vec<String>, String) {
    let cat = p.catalog().unwrap();
    let site = cat.sites(&SiteFilter::default()).await.unwrap().remove(0);
    let flavor = cat.flavors(std::slice::from_ref(&site.id)).await.unwrap()[0]
        .id
        .clone();
    let image = cat
        .images(&ImageFilter::default())
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.active)
        .unwrap()
        .id;
    let vpc = p
        .vpcs()
        .unwrap()
        .create(
            &VpcSpec {
                name: format!("{name}-net"),
                cidr: "10.40.0.0/16".into(),
                mode: VpcMode::System,
                subnets: vec![],
                ext: Default::default(),
            },
            &CreateIdentity::default(),
        )
        .await
        .unwrap();
    let request = FleetPlanRequest {
        target: FleetPlanTarget::New { name: name.into() },
        description: String::new(),
        level: CoverageLevel::City,
        policy: CoveragePolicy::Centralize,
        targets: vec![SiteTarget {
            site: site.city.clone().unwrap(),
            operator: None,
            pool_id: None,
            count,
        }],
        template: InstanceTemplate {
            name: "member".into(),
            flavor,
            image,
            vpc_id: vpc.id.clone(),
            nic_count: 1,
            security_group_ids: vec![],
            root_volume: VolumeSpec {
                size_gb: 40,
                volume_type: "SAS".into(),
            },
            data_volumes: vec![],
            key_name: None,
            admin_password: Some("Edge@fleet2026".into()),
            user_data: None,
            bandwidth: None,
            with_prefix: true,
            ext: FleetExt::None,
        },
        identity: CreateIdentity::default(),
    };
    let fleets = p.fleets().unwrap();
    let plan = fleets.create_plan(&request).await.unwrap();
    let op = fleets.deploy(&plan.id, &request).await.unwrap();
    let members = eventually("fleet ready", 400, || async {
        let f = fleets.get(&op.fleet_id).await.ok()?;
        if f.state != FleetState::Ready {
            return None;
        }
        let m = fleets.list_members(&op.fleet_id).await.ok()?;
        (m.len() == count as usize && m.iter().all(|i| i.state == InstanceState::Running)).then_some(m)
    })
    .await;
    (op.fleet_id, members.into_iter().map(|m| m.id).collect(), vpc.id)
}

#[tokio::test]
async fn instance_operations_on_fleet_members() {
    let emu = Emu::start().await;
    let p = provider(&emu.aksk(), &ProviderMetrics::new());
    let (fleet_id, ids, vpc) = deploy_fleet(&p, "ef-ops", 2).await;
    let api = p.instances().unwrap();
    let member = api.get(&ids[0]).await.unwrap();
    assert_eq!(member.fleet_id.as_deref(), Some(fleet_id.as_str()));
    assert!(
        !member.private_ips.is_empty(),
        "a running member has a private address"
    );
    assert!(
        member.name.contains("member"),
        "prefixed/numbered name keeps the base: {}",
        member.name
    );
    let listed = api
        .list(&InstanceFilter {
            fleet_id: Some(fleet_id.clone()),
            ..InstanceFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 2, "batched observation of a fleet");
    let images = p
        .catalog()
        .unwrap()
        .images(&ImageFilter::default())
        .await
        .unwrap();
    let other = images
        .iter()
        .filter(|i| i.active)
        .map(|i| i.id.clone())
        .find(|i| Some(i) != member.image.as_ref());
    let image2 = other.expect("a second active image");
    exercise_instance(
        api,
        &ids[0],
        &image2,
        &AddNics {
            vpc_id: vpc,
            subnet_id: None,
            security_group_ids: vec![],
            count: 1,
        },
    )
    .await;
    api.delete(&ids).await.unwrap();
    eventually("members gone", 400, || async {
        let m = api
            .list(&InstanceFilter {
                fleet_id: Some(fleet_id.clone()),
                ..InstanceFilter::default()
            })
            .await
            .ok()?;
        m.iter().all(|i| i.state == InstanceState::Deleted).then_some(())
    })
    .await;
    let e = api
        .get("00000000-0000-0000-0000-00000000dead")
        .await
        .expect_err("unknown id");
    assert_eq!((e.category(), code(&e)), ("NotFound", "IEC.010200"), "{e}");
}
