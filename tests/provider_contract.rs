//! The provider boundary's promises, written once over `&dyn Provider` (the traits of
//! `edgefleet::provider`) and run for every cloud in [`CLOUDS`] against its emulator over real HTTP on
//! 127.0.0.1:0. What a controller relies on whatever the cloud: the probe; each resource API present
//! exactly when `Capabilities::supports` says so, and `Unsupported` otherwise; create → get / find /
//! list → delete for VPCs, security groups (and their rules), instances (observe, power) and fleets
//! (plan, deploy, expand where `fleet_can_expand`, members); `NotFound` for an id that does not exist.
//!
//! Wire-level behaviour of one cloud's client (its error codes, signing, retries, paging) is tested in
//! that client's own file (`tests/iec_client.rs`); this suite never names a cloud's codes or fields. A
//! cloud enters by one line in [`CLOUDS`] and an implementation of [`CloudUnderTest`], which starts its
//! emulator and supplies the inputs its API accepts (the parts of a spec that differ per cloud).
//! Asynchronous transitions are polled a bounded number of times; time is never asserted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/poll.rs"]
mod poll;
use poll::eventually;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use edgefleet::provider::*;
use edgefleet_emulator::{Config, Delays, ServerHandle};

/// Every cloud with a client and an emulator. A new cloud adds its line here.
static CLOUDS: &[&dyn CloudUnderTest] = &[&Iec, &Veen, &Luchen];

/// A cloud's provider talking to its own emulator; the emulator stops when this is dropped.
struct Running {
    provider: Arc<dyn Provider>,
    /// The cloud's listener (for setup a cloud's traits do not cover yet, e.g. veEN cloud servers).
    url: String,
    emulator: Option<ServerHandle>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(h) = self.emulator.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = h.shutdown().await;
            });
        }
    }
}

/// The network a cloud's instances are created in (made by [`CloudUnderTest::network`]).
struct Network {
    vpc_id: String,
    subnet_ids: Vec<String>,
    /// The fleet instances join, where the cloud's instances live in one (veEN: a cloud server).
    fleet_id: Option<String>,
}

/// How to run the contract against one cloud: its emulator and the inputs its API accepts.
#[async_trait]
trait CloudUnderTest: Sync {
    /// For messages.
    fn name(&self) -> &'static str;
    /// Starts the cloud's emulator (zero delays) and a provider for its default account.
    async fn start(&self) -> Running;
    /// A VPC this cloud accepts (when it supports VPCs).
    fn vpc(&self, name: &str, cidr: &str) -> VpcSpec;
    /// The network instances need (a VPC, and subnets where the cloud needs them; the fleet they
    /// join where the cloud's instances live in one).
    async fn network(&self, run: &Running, name: &str) -> Network;
    /// A single instance this cloud accepts in `net`.
    async fn instance(&self, p: &dyn Provider, name: &str, net: &Network) -> InstanceSpec;
    /// A request for a new fleet of `count` members (making the network it needs).
    async fn fleet(&self, p: &dyn Provider, name: &str, count: u32) -> FleetPlanRequest;
    /// A well-formed id that names no object of this cloud.
    fn missing_id(&self) -> &'static str;
}

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

fn category<T: std::fmt::Debug>(r: ProviderResult<T>) -> &'static str {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.category(),
    }
}

/// Whether an instance lookup says the instance is gone (NotFound, or still listed as Deleted).
fn gone(r: &ProviderResult<ObservedInstance>) -> bool {
    match r {
        Err(e) => e.is_not_found(),
        Ok(i) => i.state == InstanceState::Deleted,
    }
}

async fn instance_in(api: &dyn InstanceApi, id: &str, state: InstanceState) -> ObservedInstance {
    eventually(&format!("instance {id} {state}"), 400, || async {
        api.get(id).await.ok().filter(|i| i.state == state)
    })
    .await
}

// ---------------------------------------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_probe_accepts_the_account_and_the_provider_reports_its_own_kind() {
    for cloud in CLOUDS {
        let run = cloud.start().await;
        let p = run.provider.as_ref();
        p.probe()
            .await
            .unwrap_or_else(|e| panic!("{}: probe: {e}", cloud.name()));
        assert_eq!(p.kind(), p.capabilities().kind, "{}", cloud.name());
    }
}

#[tokio::test]
async fn each_resource_api_exists_exactly_when_the_capabilities_say_so() {
    for cloud in CLOUDS {
        let run = cloud.start().await;
        let p = run.provider.as_ref();
        let s = p.capabilities().supports;
        let cases = [
            ("vpcs", s.vpc, p.vpcs().err()),
            ("security groups", s.security_groups, p.security_groups().err()),
            ("instances", s.instances, p.instances().err()),
            ("fleets", s.fleets, p.fleets().err()),
        ];
        for (what, supported, err) in cases {
            match (supported, err) {
                (true, None) => {}
                (false, Some(e)) => assert_eq!(e.category(), "Unsupported", "{}: {what}", cloud.name()),
                (true, Some(e)) => panic!("{}: {what} supported but refused: {e}", cloud.name()),
                (false, None) => panic!("{}: {what} unsupported but offered", cloud.name()),
            }
        }
        if let Err(e) = p.operations() {
            assert_eq!(e.category(), "Unsupported", "{}: operations: {e}", cloud.name());
        }
    }
}

#[tokio::test]
async fn a_missing_id_is_not_found_for_every_supported_kind() {
    for cloud in CLOUDS {
        let run = cloud.start().await;
        let p = run.provider.as_ref();
        let id = cloud.missing_id();
        let name = cloud.name();
        if let Ok(api) = p.vpcs() {
            assert_eq!(category(api.get(id).await), "NotFound", "{name}: vpc");
            assert!(
                api.find_by_name("no-such-vpc").await.unwrap().is_empty(),
                "{name}"
            );
        }
        if let Ok(api) = p.security_groups() {
            assert_eq!(category(api.get(id).await), "NotFound", "{name}: security group");
            assert!(
                api.find_by_name("no-such-group").await.unwrap().is_empty(),
                "{name}"
            );
        }
        if let Ok(api) = p.instances() {
            assert_eq!(category(api.get(id).await), "NotFound", "{name}: instance");
        }
        if let Ok(api) = p.fleets() {
            assert_eq!(category(api.get(id).await), "NotFound", "{name}: fleet");
            assert!(
                api.find_by_name("no-such-fleet").await.unwrap().is_empty(),
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn a_vpc_is_created_then_read_found_listed_and_deleted() {
    for cloud in CLOUDS {
        let run = cloud.start().await;
        let Ok(vpcs) = run.provider.vpcs() else { continue };
        let name = cloud.name();
        let caps = run.provider.capabilities();
        let identity = CreateIdentity::for_create("contract-net", "contract-token", "contract-owner", caps);
        let made = vpcs
            .create(&cloud.vpc("contract-net", "10.60.0.0/16"), &identity)
            .await
            .unwrap();
        assert!(!made.id.is_empty(), "{name}: a created VPC has an id");
        let by_identity = vpcs.find_by_identity(&identity).await.unwrap();
        assert_eq!(
            by_identity.iter().map(|v| &v.id).collect::<Vec<_>>(),
            [&made.id],
            "{name}: a lost create is found by its identity (tags where the cloud has them, else the name)"
        );
        if caps.tags {
            let other = CreateIdentity::for_create("contract-net", "t", "someone-else", caps);
            assert!(
                vpcs.find_by_identity(&other).await.unwrap().is_empty(),
                "{name}: another owner's identity finds nothing"
            );
        }
        let got = vpcs.get(&made.id).await.unwrap();
        assert_eq!(
            (got.name.as_str(), got.cidr.as_str()),
            ("contract-net", "10.60.0.0/16"),
            "{name}"
        );
        let found = vpcs.find_by_name("contract-net").await.unwrap();
        assert_eq!(
            found.iter().map(|v| &v.id).collect::<Vec<_>>(),
            [&made.id],
            "{name}"
        );
        assert!(
            vpcs.list_all().await.unwrap().iter().any(|v| v.id == made.id),
            "{name}"
        );
        vpcs.delete(&made.id).await.unwrap();
        eventually(&format!("{name}: vpc gone"), 200, || async {
            matches!(vpcs.get(&made.id).await, Err(e) if e.is_not_found()).then_some(())
        })
        .await;
        assert!(
            vpcs.find_by_name("contract-net").await.unwrap().is_empty(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_security_group_keeps_the_rules_created_and_is_deleted() {
    for cloud in CLOUDS {
        let run = cloud.start().await;
        let Ok(sgs) = run.provider.security_groups() else {
            continue;
        };
        let name = cloud.name();
        let caps = run.provider.capabilities();
        // Where groups belong to a VPC, the group is made in one.
        let vpc_id = match caps.security_group_needs_vpc {
            true => {
                let vpcs = run.provider.vpcs().unwrap();
                let identity = CreateIdentity::for_create("contract-sg-net", "t", "contract-owner", caps);
                Some(
                    vpcs.create(&cloud.vpc("contract-sg-net", "10.61.0.0/16"), &identity)
                        .await
                        .unwrap()
                        .id,
                )
            }
            false => None,
        };
        let create = SecurityGroupCreate {
            name: "contract-sg".into(),
            description: "contract".into(),
            vpc_id,
            tags: [(OWNER_TAG.to_owned(), "contract-owner".to_owned())].into(),
        };
        let group = sgs.create(&create).await.unwrap();
        assert_eq!(sgs.get(&group.id).await.unwrap().name, "contract-sg", "{name}");
        let found = sgs.find_by_name("contract-sg").await.unwrap();
        assert_eq!(
            found.iter().map(|g| &g.id).collect::<Vec<_>>(),
            [&group.id],
            "{name}"
        );
        assert!(
            sgs.list_all().await.unwrap().iter().any(|g| g.id == group.id),
            "{name}"
        );

        let rule = RuleSpec {
            protocol: Some("tcp".into()),
            port_min: Some(443),
            port_max: Some(443),
            remote: RuleRemote::Cidr("10.0.0.0/8".into()),
            ..RuleSpec::allow(Direction::Ingress, EtherType::Ipv4)
        };
        let made = sgs.create_rule(&group.id, &rule).await.unwrap();
        let rules = sgs.list_rules(&group.id).await.unwrap();
        let listed = rules.iter().find(|r| r.id == made.id);
        let listed = listed.unwrap_or_else(|| panic!("{name}: rule listed: {rules:?}"));
        assert_eq!(
            (listed.rule.direction, listed.rule.port_min, &listed.rule.remote),
            (Direction::Ingress, Some(443), &rule.remote),
            "{name}: the listed rule is the one created"
        );
        let changed = RuleSpec {
            port_min: Some(8443),
            port_max: Some(8443),
            ..rule.clone()
        };
        let made = if caps.rule_update {
            let updated = sgs.update_rule(&group.id, &made.id, &changed).await.unwrap();
            assert_eq!(
                updated.id, made.id,
                "{name}: a rule changed in place keeps its id"
            );
            let rules = sgs.list_rules(&group.id).await.unwrap();
            assert_eq!(
                rules
                    .iter()
                    .map(|r| (r.id.as_str(), r.rule.port_min))
                    .collect::<Vec<_>>(),
                [(made.id.as_str(), Some(8443))],
                "{name}: the rule is changed, not added"
            );
            updated
        } else {
            assert_eq!(
                category(sgs.update_rule(&group.id, &made.id, &changed).await),
                "Unsupported",
                "{name}: rules cannot change in place"
            );
            made
        };
        sgs.delete_rule(&group.id, &made.id).await.unwrap();
        let rules = sgs.list_rules(&group.id).await.unwrap();
        assert!(
            rules.iter().all(|r| r.id != made.id),
            "{name}: rule deleted: {rules:?}"
        );

        sgs.delete(&group.id).await.unwrap();
        assert_eq!(category(sgs.get(&group.id).await), "NotFound", "{name}");
    }
}

#[tokio::test]
async fn an_instance_is_created_then_observed_listed_stopped_started_and_deleted() {
    for cloud in CLOUDS {
        let run = cloud.start().await;
        let p = run.provider.as_ref();
        let Ok(api) = p.instances() else { continue };
        let name = cloud.name();
        let net = cloud.network(&run, "contract-inst-net").await;
        let spec = cloud.instance(p, "contract-inst", &net).await;
        let identity =
            CreateIdentity::for_create(&spec.name, "contract-token", "contract-uid", p.capabilities());
        assert_eq!(
            api.validate(&spec, true),
            vec![],
            "{name}: the contract's spec passes the cloud's rules"
        );
        let mut prepared = spec.clone();
        assert_eq!(
            api.prepare_create(&mut prepared).await.unwrap(),
            vec![],
            "{name}: and its catalog"
        );
        let op = api.create(&spec, 1, &identity).await.unwrap();
        let [id] = op.resource_ids.as_slice() else {
            panic!("{name}: one create, one id at once: {op:?}")
        };
        let running = instance_in(api, id, InstanceState::Running).await;
        assert_eq!(running.id, *id, "{name}");
        assert!(
            api.shows_name(&running.name, &spec),
            "{name}: the instance carries the spec's name: {}",
            running.name
        );
        assert_eq!(running.fleet_id, net.fleet_id, "{name}: in the fleet it joined");
        let found = api.find_by_identity(&identity, &spec).await.unwrap();
        assert_eq!(
            found.iter().map(|i| &i.id).collect::<Vec<_>>(),
            [id],
            "{name}: found by its identity"
        );
        let observed = api.observe(id, Duration::ZERO).await.unwrap();
        assert_eq!(
            observed.state,
            InstanceState::Running,
            "{name}: observe agrees with get"
        );
        let listed = api
            .list(&InstanceFilter {
                ids: vec![id.clone()],
                ..InstanceFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(
            listed.iter().map(|i| &i.id).collect::<Vec<_>>(),
            [id],
            "{name}: list by id"
        );

        api.power(std::slice::from_ref(id), PowerAction::Stop { force: false })
            .await
            .unwrap();
        instance_in(api, id, InstanceState::Stopped).await;
        api.power(std::slice::from_ref(id), PowerAction::Start)
            .await
            .unwrap();
        instance_in(api, id, InstanceState::Running).await;

        api.delete(std::slice::from_ref(id)).await.unwrap();
        eventually(&format!("{name}: instance gone"), 400, || async {
            gone(&api.get(id).await).then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn a_fleet_is_deployed_then_expanded_where_it_can_grow_and_deleted_with_its_members() {
    for cloud in CLOUDS {
        let run = cloud.start().await;
        let p = run.provider.as_ref();
        let Ok(fleets) = p.fleets() else { continue };
        let name = cloud.name();
        let caps = p.capabilities().clone();
        let request = cloud.fleet(p, "contract-fleet", 1).await;
        let plan = fleets.create_plan(&request).await.unwrap();
        let op = fleets.deploy(&plan.id, &request).await.unwrap();
        assert!(!op.fleet_id.is_empty(), "{name}: the fleet id comes back at once");
        let ready = eventually(&format!("{name}: fleet ready"), 400, || async {
            fleets
                .get(&op.fleet_id)
                .await
                .ok()
                .filter(|f| f.state == FleetState::Ready)
        })
        .await;
        let found = fleets.find_by_name(&ready.name).await.unwrap();
        assert_eq!(
            found.iter().map(|f| &f.id).collect::<Vec<_>>(),
            [&op.fleet_id],
            "{name}"
        );
        assert!(
            fleets
                .list_all()
                .await
                .unwrap()
                .iter()
                .any(|f| f.id == op.fleet_id),
            "{name}"
        );
        let members = fleets.list_members(&op.fleet_id).await.unwrap();
        assert_eq!(members.len(), 1, "{name}: one member");
        assert!(
            members
                .iter()
                .all(|m| m.fleet_id.as_deref() == Some(op.fleet_id.as_str())),
            "{name}: members name their fleet"
        );

        if caps.fleet_can_expand(request.level) {
            let more = FleetPlanRequest {
                target: FleetPlanTarget::Expand {
                    fleet_id: op.fleet_id.clone(),
                },
                ..request.clone()
            };
            let plan = fleets.create_plan(&more).await.unwrap();
            fleets.expand(&plan.id, &more).await.unwrap();
            eventually(&format!("{name}: fleet expanded"), 400, || async {
                let f = fleets.get(&op.fleet_id).await.ok()?;
                let n = fleets.list_members(&op.fleet_id).await.ok()?.len();
                (f.state == FleetState::Ready && n == 2).then_some(())
            })
            .await;
        }

        let ids: Vec<String> = fleets
            .list_members(&op.fleet_id)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        fleets.delete_members(&op.fleet_id, &ids).await.unwrap();
        eventually(&format!("{name}: members gone"), 400, || async {
            let left = fleets.list_members(&op.fleet_id).await.ok()?;
            left.iter()
                .all(|m| m.state == InstanceState::Deleted)
                .then_some(())
        })
        .await;
        fleets.delete(&op.fleet_id).await.unwrap();
        eventually(&format!("{name}: fleet gone"), 400, || async {
            matches!(fleets.get(&op.fleet_id).await, Err(e) if e.is_not_found()).then_some(())
        })
        .await;
        for open in fleets.find_open_plans().await.unwrap() {
            fleets.delete_plan(&open.id).await.unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The clouds
// ---------------------------------------------------------------------------------------------------------

/// Huawei IEC against the emulator's IEC listener.
struct Iec;

impl Iec {
    async fn site(p: &dyn Provider) -> Site {
        p.catalog().unwrap().sites(&SiteFilter::default()).await.unwrap()[0].clone()
    }

    async fn flavor_and_image(p: &dyn Provider, site: &str) -> (String, String) {
        let cat = p.catalog().unwrap();
        let flavor = cat.flavors(&[site.to_owned()]).await.unwrap()[0].id.clone();
        let image = cat
            .images(&ImageFilter::default())
            .await
            .unwrap()
            .into_iter()
            .find(|i| i.active)
            .expect("an active image")
            .id;
        (flavor, image)
    }
}

#[async_trait]
impl CloudUnderTest for Iec {
    fn name(&self) -> &'static str {
        "iec"
    }

    async fn start(&self) -> Running {
        use edgefleet_emulator::config as emu;
        let config = Config {
            delays: Delays::zero(),
            ..Config::default()
        };
        let (addr, emulator) = edgefleet_emulator::serve(config).await.expect("emulator starts");
        let mut s = ProviderSettings::new(
            ProviderKind::Iec,
            "contract",
            Credentials::AkSk {
                access_key: emu::DEFAULT_AK.into(),
                secret_key: emu::DEFAULT_SK.into(),
                security_token: None,
            },
        );
        s.endpoints.api = Some(format!("http://{addr}"));
        s.endpoints.iam = Some(format!("http://{addr}"));
        s.domain_id = Some(emu::DEFAULT_DOMAIN_ID.into());
        s.rate = RateBudget {
            qps: 500.0,
            burst: 100,
        };
        let provider = ProviderRegistry::new(ProviderMetrics::new())
            .get_or_build(&s)
            .expect("provider builds");
        Running {
            provider,
            url: format!("http://{addr}"),
            emulator: Some(emulator),
        }
    }

    fn vpc(&self, name: &str, cidr: &str) -> VpcSpec {
        VpcSpec {
            name: name.into(),
            cidr: cidr.into(),
            mode: VpcMode::Customer,
            subnets: vec![],
            ext: Default::default(),
        }
    }

    async fn network(&self, run: &Running, name: &str) -> Network {
        let p = run.provider.as_ref();
        let site = Self::site(p).await;
        let vpcs = p.vpcs().unwrap();
        let vpc = vpcs
            .create(&self.vpc(name, "192.168.0.0/16"), &CreateIdentity::default())
            .await
            .unwrap();
        let subnet = vpcs
            .create_subnet(
                &vpc.id,
                &SubnetSpec {
                    name: format!("{name}-a"),
                    cidr: "192.168.1.0/24".into(),
                    gateway_ip: None,
                    site_id: site.id,
                    dhcp_enable: true,
                    primary_dns: None,
                    secondary_dns: None,
                },
            )
            .await
            .unwrap();
        Network {
            vpc_id: vpc.id,
            subnet_ids: vec![subnet.id],
            fleet_id: None,
        }
    }

    async fn instance(&self, p: &dyn Provider, name: &str, net: &Network) -> InstanceSpec {
        let site = Self::site(p).await;
        let (flavor, image) = Self::flavor_and_image(p, &site.id).await;
        InstanceSpec {
            name: name.into(),
            description: "edgefleet:contract".into(),
            flavor,
            image,
            site: site.id,
            area: None,
            pool_id: None,
            operator: None,
            vpc_id: net.vpc_id.clone(),
            subnet_ids: net.subnet_ids.clone(),
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
            power: PowerState::Running,
            fleet_id: net.fleet_id.clone(),
            ext: InstanceExt::None,
        }
    }

    async fn fleet(&self, p: &dyn Provider, name: &str, count: u32) -> FleetPlanRequest {
        let site = Self::site(p).await;
        // Edge clouds need a SYSTEM VPC (the cloud makes the subnets).
        let vpc = p
            .vpcs()
            .unwrap()
            .create(
                &VpcSpec {
                    name: format!("{name}-net"),
                    cidr: "10.20.0.0/16".into(),
                    mode: VpcMode::System,
                    subnets: vec![],
                    ext: Default::default(),
                },
                &CreateIdentity::default(),
            )
            .await
            .unwrap();
        let (flavor, image) = Self::flavor_and_image(p, &site.id).await;
        FleetPlanRequest {
            target: FleetPlanTarget::New { name: name.into() },
            description: "contract".into(),
            level: CoverageLevel::City,
            policy: CoveragePolicy::Centralize,
            targets: vec![SiteTarget {
                site: site.city.expect("sites have a city"),
                operator: None,
                pool_id: None,
                count,
            }],
            template: InstanceTemplate {
                name: "member".into(),
                flavor,
                image,
                vpc_id: vpc.id,
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
            },
            identity: CreateIdentity::default(),
        }
    }

    fn missing_id(&self) -> &'static str {
        "00000000-0000-0000-0000-00000000dead"
    }
}

/// Volcengine veEN against the emulator's veEN listener. Its single instances live in a cloud server,
/// made here through the client; fleets are cloud servers made through the `FleetApi`.
struct Veen;

impl Veen {
    const SPEC: &str = "veEN.C1.large";
    const IMAGE: &str = "image-ubuntu2004";

    fn settings(url: &str) -> ProviderSettings {
        use edgefleet_emulator::config as emu;
        let mut s = ProviderSettings::new(
            ProviderKind::Veen,
            "contract",
            Credentials::AkSk {
                access_key: emu::DEFAULT_AK.into(),
                secret_key: emu::DEFAULT_SK.into(),
                security_token: None,
            },
        );
        s.endpoints.api = Some(url.to_owned());
        s.rate = RateBudget {
            qps: 500.0,
            burst: 100,
        };
        s
    }
}

#[async_trait]
impl CloudUnderTest for Veen {
    fn name(&self) -> &'static str {
        "veen"
    }

    async fn start(&self) -> Running {
        let config = Config {
            delays: Delays::zero(),
            ..Config::default()
        };
        let (_, emulator) = edgefleet_emulator::serve(config).await.expect("emulator starts");
        let url = emulator.url_of("veen").expect("the veEN listener");
        let provider = ProviderRegistry::new(ProviderMetrics::new())
            .get_or_build(&Self::settings(&url))
            .expect("provider builds");
        Running {
            provider,
            url,
            emulator: Some(emulator),
        }
    }

    fn vpc(&self, name: &str, cidr: &str) -> VpcSpec {
        VpcSpec {
            name: name.into(),
            cidr: cidr.into(),
            mode: VpcMode::System,
            subnets: vec![],
            ext: VpcExt::Veen(VeenVpcExt {
                cluster_name: Some("cn-hangzhou-cmcc-01".into()),
            }),
        }
    }

    /// An empty cloud server (no VPC: its instances get the cluster's network).
    async fn network(&self, run: &Running, name: &str) -> Network {
        use edgefleet::provider::veen::VeenProvider;
        use edgefleet::provider::veen::types::CreateCloudServer;
        let veen = VeenProvider::new(
            &Self::settings(&run.url),
            Arc::new(RateLimiter::new(RateBudget::default())),
            ProviderMetrics::new(),
        )
        .unwrap();
        let created = veen
            .client()
            .create_cloud_server(&CreateCloudServer {
                cloudserver_name: format!("{name}-cs"),
                cloud_server_desc: "contract".into(),
                image_id: Self::IMAGE.into(),
                spec_name: Self::SPEC.into(),
                storage_config: serde_json::json!({"system_disk": {"storage_type": "CloudBlockSSD", "capacity": "40"}}),
                network_config: serde_json::json!({"bandwidth_peak": "10"}),
                secret_config: None,
                instance_area_nums: vec![],
                project: None,
                client_token: None,
                tags: vec![],
            })
            .await
            .unwrap();
        Network {
            vpc_id: String::new(),
            subnet_ids: vec![],
            fleet_id: Some(created.cloud_server_identity),
        }
    }

    async fn instance(&self, _p: &dyn Provider, name: &str, net: &Network) -> InstanceSpec {
        InstanceSpec {
            name: name.into(),
            description: String::new(),
            flavor: Self::SPEC.into(),
            image: Self::IMAGE.into(),
            site: String::new(),
            area: Some("hangzhou".into()),
            pool_id: None,
            operator: Some("chinamobile".into()),
            vpc_id: net.vpc_id.clone(),
            subnet_ids: net.subnet_ids.clone(),
            security_group_ids: vec![],
            root_volume: VolumeSpec {
                size_gb: 40,
                volume_type: "CloudBlockSSD".into(),
            },
            data_volumes: vec![],
            key_name: None,
            admin_password: None,
            user_data: None,
            bandwidth: None,
            power: PowerState::Running,
            fleet_id: net.fleet_id.clone(),
            ext: InstanceExt::None,
        }
    }

    /// A cloud server of the template at a city × ISP.
    async fn fleet(&self, _p: &dyn Provider, name: &str, count: u32) -> FleetPlanRequest {
        FleetPlanRequest {
            target: FleetPlanTarget::New { name: name.into() },
            description: "contract".into(),
            level: CoverageLevel::City,
            policy: CoveragePolicy::Centralize,
            targets: vec![SiteTarget {
                site: "hangzhou".into(),
                operator: Some("chinamobile".into()),
                pool_id: None,
                count,
            }],
            template: InstanceTemplate {
                name: "member".into(),
                flavor: Self::SPEC.into(),
                image: Self::IMAGE.into(),
                vpc_id: String::new(),
                nic_count: 1,
                security_group_ids: vec![],
                root_volume: VolumeSpec {
                    size_gb: 40,
                    volume_type: "CloudBlockSSD".into(),
                },
                data_volumes: vec![],
                key_name: None,
                admin_password: None,
                user_data: None,
                bandwidth: None,
                with_prefix: false,
                ext: FleetExt::None,
            },
            identity: CreateIdentity::default(),
        }
    }

    fn missing_id(&self) -> &'static str {
        "veen00000000000000000000"
    }
}

/// Luchen Cloud against the emulator's Luchen listener (password login): single GPU instances only, no
/// network or fleet of its own.
struct Luchen;

#[async_trait]
impl CloudUnderTest for Luchen {
    fn name(&self) -> &'static str {
        "luchen"
    }

    async fn start(&self) -> Running {
        use edgefleet_emulator::config as emu;
        let config = Config {
            delays: Delays::zero(),
            ..Config::default()
        };
        let (_, emulator) = edgefleet_emulator::serve(config).await.expect("emulator starts");
        let url = emulator.url_of("luchen").expect("the Luchen listener");
        let mut s = ProviderSettings::new(
            ProviderKind::Luchen,
            "contract",
            Credentials::Password {
                username: emu::DEFAULT_USER.into(),
                password: emu::DEFAULT_PASSWORD.into(),
                domain: None,
            },
        );
        s.endpoints.api = Some(url.clone());
        s.rate = RateBudget {
            qps: 500.0,
            burst: 100,
        };
        let provider = ProviderRegistry::new(ProviderMetrics::new())
            .get_or_build(&s)
            .expect("provider builds");
        Running {
            provider,
            url,
            emulator: Some(emulator),
        }
    }

    /// Never asked for (Luchen has no VPC API).
    fn vpc(&self, name: &str, cidr: &str) -> VpcSpec {
        VpcSpec {
            name: name.into(),
            cidr: cidr.into(),
            mode: VpcMode::System,
            subnets: vec![],
            ext: VpcExt::None,
        }
    }

    /// None: Luchen instances have no network of their own.
    async fn network(&self, _run: &Running, _name: &str) -> Network {
        Network {
            vpc_id: String::new(),
            subnet_ids: vec![],
            fleet_id: None,
        }
    }

    /// An H100 × 1 instance in the east region, billed by the hour.
    async fn instance(&self, _p: &dyn Provider, name: &str, _net: &Network) -> InstanceSpec {
        use edgefleet_emulator::luchen::catalog::{IMAGE_PYTORCH, REGION_EAST, TYPE_H100_1};
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
            user_data: None,
            bandwidth: None,
            power: PowerState::Running,
            fleet_id: None,
            ext: InstanceExt::Luchen(LuchenInstanceExt {
                charge_mode: "perHour".into(),
                duration: 1,
                ..LuchenInstanceExt::default()
            }),
        }
    }

    /// Never asked for (Luchen has no fleet object).
    async fn fleet(&self, _p: &dyn Provider, _name: &str, _count: u32) -> FleetPlanRequest {
        panic!("Luchen has no FleetApi: the fleet contract skips it")
    }

    fn missing_id(&self) -> &'static str {
        "notebook-00000000-0000-0000-0000-000000000000"
    }
}
