//! The veEN signer and error mapping over real HTTP against the emulator's veEN listener, whose
//! verifier is separate code: signed GETs (with encoded, repeated and PascalCase keys) and POSTs pass
//! through the shared request pipeline; a wrong secret key, an unknown access key, and the emulator's
//! business errors come back as the right `ProviderError` categories; a throttled call waits out the
//! Retry-After and succeeds. The network calls: a VPC made busy with its subnets and found by its owner
//! tag (names are not unique), subnets added, renamed and removed once it is available; groups in
//! their VPC, rules created, shown in both directions and modified in place.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use edgefleet::provider::http::{Call, Pipeline, PipelineConfig};
use edgefleet::provider::metrics::ProviderMetrics;
use edgefleet::provider::ratelimit::RateLimiter;
use edgefleet::provider::settings::{RateBudget, RetryPolicy, SecretString};
use edgefleet::provider::veen::errors::{from_body, from_failure};
use edgefleet::provider::veen::signer::{DEFAULT_REGION, Signer};
use edgefleet_emulator::config::{DEFAULT_AK, DEFAULT_SK};
use edgefleet_emulator::{Config, ServerHandle};
use serde_json::{Value, json};

#[path = "support/poll.rs"]
mod poll;
use poll::eventually;

async fn emulator() -> (ServerHandle, String) {
    let (_, handle) = edgefleet_emulator::serve(Config {
        delays: edgefleet_emulator::Delays::zero(),
        ..Config::default()
    })
    .await
    .unwrap();
    let url = handle.url_of("veen").unwrap();
    (handle, url)
}

fn pipeline(url: &str, ak: &str, sk: &str) -> Pipeline {
    Pipeline::new(
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        PipelineConfig {
            provider: "veen",
            base: format!("{url}/").parse().unwrap(),
            account: "contract".into(),
            retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_secs(2),
            },
        },
        Arc::new(Signer::new(ak, SecretString::new(sk), None, DEFAULT_REGION)),
        from_failure,
        Arc::new(RateLimiter::new(RateBudget::default())),
        ProviderMetrics::new(),
    )
}

fn get(action: &str) -> Call {
    Call::get("veen.test", "/")
        .query("Action", action)
        .query("Version", "2021-04-30")
}

fn post(action: &str, body: Value) -> Call {
    let mut c = Call::post("veen.test", "/", Some(body));
    c.query = vec![
        ("Action".into(), action.into()),
        ("Version".into(), "2021-04-30".into()),
    ];
    c
}

async fn result(p: &Pipeline, call: Call) -> Result<Value, edgefleet::provider::error::ProviderError> {
    let reply = p.execute(call).await?;
    from_body("veen.test", reply.body)
}

#[tokio::test]
async fn veen_signed_calls_pass_the_emulator_verifier() {
    let (handle, url) = emulator().await;
    let p = pipeline(&url, DEFAULT_AK, DEFAULT_SK);
    let r = result(&p, get("ListCloudServers")).await.unwrap();
    assert_eq!(r["total_count"], 0);
    let created = result(
        &p,
        post(
            "CreateCloudServer",
            json!({"cloudserver_name": "signed-边缘", "image_id": "image-ubuntu2004", "spec_name": "veEN.C1.large",
                   "storage_config": {"system_disk": {"storage_type": "CloudBlockSSD", "capacity": "40"}},
                   "network_config": {"bandwidth_peak": "10"},
                   "instance_area_nums": [{"area_name": "华南", "isp": "CTCC", "num": 1}],
                   "Tags": [{"Key": "edgefleet.io/uid", "Value": "a b/c"}]}),
        ),
    )
    .await
    .unwrap();
    let cs = created["cloud_server_identity"].as_str().unwrap().to_string();
    // PascalCase keys, a repeated key, a comma list, an encoded slash and space in a tag filter
    let found = result(
        &p,
        get("ListInstances")
            .query("CloudServerIdentities", format!("{cs},cloudserver-other"))
            .query("TagFilters.1.Key", "edgefleet.io/uid")
            .query("TagFilters.1.Values.1", "a b/c")
            .query("status", "opening")
            .query("status", "running"),
    )
    .await
    .unwrap();
    assert_eq!(found["total_count"], 1, "{found}");
    let g = result(&p, get("GetCloudServer").query("CloudServerID", &cs))
        .await
        .unwrap();
    assert_eq!(g["cloud_server"]["name"], "signed-边缘");
    // business errors map to categories
    let e = result(
        &p,
        get("GetCloudServer").query("cloud_server_id", "cloudserver-nope"),
    )
    .await
    .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    let e = result(&p, post("DeleteCloudServer", json!({"cloud_server_id": cs})))
        .await
        .unwrap_err();
    assert_eq!(e.category(), "InUse", "{e}");
    let e = result(&p, post("CreateCloudServer", json!({"cloudserver_name": "x"})))
        .await
        .unwrap_err();
    assert_eq!(e.category(), "Invalid", "{e}");
    assert!(e.to_string().contains("cloudserver_name"), "{e}");
    // a wrong secret and an unknown key are Unauthorized, and are not retried
    let before = handle.calls().requests("veen:ListCloudServers");
    let e = result(&pipeline(&url, DEFAULT_AK, "wrong"), get("ListCloudServers"))
        .await
        .unwrap_err();
    assert_eq!(e.category(), "Unauthorized", "{e}");
    assert!(e.to_string().contains("SignatureDoesNotMatch"), "{e}");
    let e = result(&pipeline(&url, "AKNOBODY", DEFAULT_SK), get("ListCloudServers"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("InvalidAccessKey"), "{e}");
    assert_eq!(handle.calls().requests("veen:ListCloudServers"), before + 2);
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn veen_throttled_calls_wait_for_retry_after() {
    let (handle, url) = emulator().await;
    handle
        .app()
        .set_faults(
            serde_json::from_value(json!({"throttle": [{"limit_per_second": 2, "retry_after_secs": 1}]}))
                .unwrap(),
        )
        .unwrap();
    let p = pipeline(&url, DEFAULT_AK, DEFAULT_SK);
    for _ in 0..5 {
        result(&p, get("ListInstances")).await.unwrap();
    }
    let calls = handle.calls();
    let ops = &calls.operations["veen:ListInstances"];
    assert!(ops.statuses.get(&429).copied().unwrap_or(0) >= 1, "{ops:?}");
    let report = handle.app().retry_after().report();
    assert!(report.throttled >= 1, "{report:?}");
    assert!(
        report.early.is_empty() && report.unrecorded == 0,
        "requests before Retry-After: {report:?}"
    );
    handle.shutdown().await.unwrap();
}

fn client(url: &str) -> edgefleet::provider::veen::client::VeenClient {
    edgefleet::provider::veen::client::VeenClient::new(
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        PipelineConfig {
            provider: "veen",
            base: format!("{url}/").parse().unwrap(),
            account: "contract".into(),
            retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_secs(2),
            },
        },
        Signer::new(DEFAULT_AK, SecretString::new(DEFAULT_SK), None, DEFAULT_REGION),
        Arc::new(RateLimiter::new(RateBudget::default())),
        ProviderMetrics::new(),
    )
}

#[tokio::test]
async fn veen_typed_client_cloud_server_and_instance_lifecycle() {
    use edgefleet::provider::veen::types::{AreaNum, CreateCloudServer, InstanceQuery, Tag};
    let (handle, url) = emulator().await;
    let c = client(&url);
    let tag = Tag {
        key: "edgefleet.io/uid".into(),
        value: "u-1".into(),
    };
    let area = |cluster: &str, num: u32| AreaNum {
        area_name: None,
        cluster_name: Some(cluster.into()),
        isp: None,
        num,
        vpc_identity: None,
        subnet_identity: None,
    };
    let req = CreateCloudServer {
        cloudserver_name: "typed-fleet".into(),
        cloud_server_desc: "edgefleet".into(),
        image_id: "image-ubuntu2004".into(),
        spec_name: "veEN.C1.large".into(),
        storage_config: json!({"system_disk": {"storage_type": "CloudBlockSSD", "capacity": "40"}}),
        network_config: json!({"bandwidth_peak": "10"}),
        secret_config: None,
        instance_area_nums: vec![area("cn-hangzhou-cmcc-01", 2)],
        project: None,
        client_token: Some("u-1-create".into()),
        tags: vec![tag.clone()],
    };
    let created = c.create_cloud_server(&req).await.unwrap();
    assert_eq!(created.instance_id_list.len(), 2);
    assert_eq!(
        c.create_cloud_server(&req).await.unwrap(),
        created,
        "token replay"
    );
    let cs = c.get_cloud_server(&created.cloud_server_identity).await.unwrap();
    assert_eq!(cs.name, "typed-fleet");
    let found = c
        .list_cloud_servers(&[(tag.key.clone(), vec![tag.value.clone()])])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].tags, vec![tag.clone()]);
    let more = c
        .create_instances(
            &created.cloud_server_identity,
            &[area("cn-nanjing-cmcc-01", 3)],
            Some("u-1-scale"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(more.instance_id_list.len(), 3);
    // paging walks every page: 5 instances at PAGE_LIMIT per page are one page; the filter works
    let all = c
        .list_instances(&InstanceQuery {
            cloud_server_ids: vec![created.cloud_server_identity.clone()],
            tags: vec![(tag.key.clone(), vec![])],
            ..InstanceQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.iter().all(|i| i.tags.contains(&tag)));
    let first = created.instance_id_list[0].clone();
    let i = c.get_instance(&first).await.unwrap();
    assert_eq!(i.status, "running");
    assert_eq!(i.cluster.isp, "CMCC");
    assert!(!i.network.internal_interface.ip_addr.is_empty());
    c.rename(&first, "typed-1").await.unwrap();
    c.stop(std::slice::from_ref(&first)).await.unwrap();
    assert_eq!(c.get_instance(&first).await.unwrap().status, "stop");
    let e = c.reboot(std::slice::from_ref(&first)).await.unwrap_err();
    assert_eq!(e.category(), "Conflict", "{e}");
    c.start(std::slice::from_ref(&first)).await.unwrap();
    c.reboot(std::slice::from_ref(&first)).await.unwrap();
    let named = c
        .list_instances(&InstanceQuery {
            names: vec!["typed-1".into()],
            statuses: vec!["running".into()],
            ..InstanceQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(named.len(), 1);
    let e = c
        .delete_cloud_server(&created.cloud_server_identity)
        .await
        .unwrap_err();
    assert_eq!(e.category(), "InUse", "{e}");
    let ids: Vec<String> = all.iter().map(|i| i.instance_identity.clone()).collect();
    c.offline(&ids, true).await.unwrap();
    assert!(
        c.list_instances(&InstanceQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
    c.delete_cloud_server(&created.cloud_server_identity)
        .await
        .unwrap();
    assert!(
        c.get_cloud_server(&created.cloud_server_identity)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let spots = c.available("veEN.C1.large").await.unwrap();
    assert!(
        spots
            .iter()
            .any(|r| r["cluster"]["name"] == "cn-hangzhou-cmcc-01")
    );
    handle.shutdown().await.unwrap();
}

/// A raw `CreateCloudServer` of Ubuntu C1.large instances in `areas` (`instance_area_nums`); its answer.
async fn cloud_server(p: &Pipeline, name: &str, areas: Value) -> Value {
    result(
        p,
        post(
            "CreateCloudServer",
            json!({"cloudserver_name": name, "image_id": "image-ubuntu2004", "spec_name": "veEN.C1.large",
                   "storage_config": {"system_disk": {"storage_type": "CloudBlockSSD", "capacity": "40"}},
                   "network_config": {"bandwidth_peak": "10"},
                   "instance_area_nums": areas}),
        ),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn veen_typed_client_pages_through_long_lists() {
    use edgefleet::provider::veen::client::PAGE_LIMIT;
    use edgefleet::provider::veen::types::InstanceQuery;
    let mut config = Config {
        delays: edgefleet_emulator::Delays::zero(),
        ..Config::default()
    };
    config.veen.instances_per_cloud_server = 200;
    for cl in &mut config.veen.clusters {
        cl.capacity = 200;
    }
    let (_, handle) = edgefleet_emulator::serve(config).await.unwrap();
    let url = handle.url_of("veen").unwrap();
    let c = client(&url);
    let p = pipeline(&url, DEFAULT_AK, DEFAULT_SK);
    let created = cloud_server(
        &p,
        "long-list",
        json!([{"cluster_name": "cn-beijing-cucc-01", "num": PAGE_LIMIT},
               {"cluster_name": "cn-tianjin-ctcc-01", "num": 30}]),
    )
    .await;
    assert_eq!(
        created["instance_id_list"].as_array().unwrap().len(),
        (PAGE_LIMIT + 30) as usize
    );
    let all = c.list_instances(&InstanceQuery::default()).await.unwrap();
    assert_eq!(all.len(), (PAGE_LIMIT + 30) as usize);
    let mut ids: Vec<&str> = all.iter().map(|i| i.instance_identity.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "no instance twice");
    assert_eq!(handle.calls().requests("veen:ListInstances"), 2);
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn veen_instance_calls_create_into_a_cloud_server_with_owner_tags_and_replay_the_token() {
    use edgefleet::provider::veen::instance::{Inherited, create_body};
    use edgefleet::provider::veen::types::{CreateCloudServer, InstanceQuery, Tag};
    use edgefleet::provider::{CreateIdentity, InstanceExt, InstanceSpec, OWNER_TAG, PowerState, VolumeSpec};
    let (handle, url) = emulator().await;
    let c = client(&url);
    let fleet_tag = Tag {
        key: OWNER_TAG.into(),
        value: "fleet-uid".into(),
    };
    let cs = c
        .create_cloud_server(&CreateCloudServer {
            cloudserver_name: "joined-fleet".into(),
            cloud_server_desc: "edgefleet".into(),
            image_id: "image-ubuntu2004".into(),
            spec_name: "veEN.C1.large".into(),
            storage_config: json!({"system_disk": {"storage_type": "CloudBlockSSD", "capacity": "40"}}),
            network_config: json!({"bandwidth_peak": "10"}),
            secret_config: None,
            instance_area_nums: vec![],
            project: None,
            client_token: None,
            tags: vec![fleet_tag.clone()],
        })
        .await
        .unwrap()
        .cloud_server_identity;
    // What instances inherit, as GetCloudServer shows it.
    let detail = c.cloud_server_detail(&cs).await.unwrap();
    let inherited = Inherited::of(&detail);
    assert_eq!(
        (
            inherited.spec.as_str(),
            inherited.image.as_str(),
            inherited.disk_type.as_str(),
            inherited.disk_gb
        ),
        ("veEN.C1.large", "image-ubuntu2004", "CloudBlockSSD", Some(40))
    );
    assert!(
        c.cloud_server_detail("cloudserver-nope")
            .await
            .unwrap_err()
            .is_not_found()
    );

    let spec = InstanceSpec {
        name: "joined".into(),
        description: String::new(),
        flavor: "veEN.C1.large".into(),
        image: "image-ubuntu2004".into(),
        site: "cn-hangzhou-cmcc-01".into(),
        area: None,
        pool_id: None,
        operator: None,
        vpc_id: String::new(),
        subnet_ids: vec![],
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
        fleet_id: Some(cs.clone()),
        ext: InstanceExt::None,
    };
    let mut identity = CreateIdentity {
        name: "joined".into(),
        client_token: Some("joined-token".into()),
        ..CreateIdentity::default()
    };
    identity.tags.insert(OWNER_TAG.into(), "instance-uid".into());
    let body = create_body(&spec, 1, &identity).unwrap();
    let first = c.create_instance_with(body.clone()).await.unwrap();
    assert_eq!(first.instance_id_list.len(), 1);
    assert_eq!(
        c.create_instance_with(body).await.unwrap().instance_id_list,
        first.instance_id_list,
        "a repeated client_token answers the first create's ids, creating nothing"
    );
    // The call's owner tag wins over the cloud server's for the same key, so the instance is found by
    // its own owner, not the fleet's.
    let mine = c
        .list_instances(&InstanceQuery {
            cloud_server_ids: vec![cs.clone()],
            tags: vec![(OWNER_TAG.into(), vec!["instance-uid".into()])],
            ..InstanceQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        mine.iter().map(|i| &i.instance_identity).collect::<Vec<_>>(),
        first.instance_id_list.iter().collect::<Vec<_>>()
    );
    assert_eq!(mine[0].cloud_server_identity, cs);
    assert_eq!(mine[0].image.image_identity, "image-ubuntu2004");
    let e = c.get_instance("veen00000000000000000000").await.unwrap_err();
    assert!(e.is_not_found(), "{e}");

    // Into a custom VPC and its subnet: veEN places the instance in the VPC's cluster.
    let p = pipeline(&url, DEFAULT_AK, DEFAULT_SK);
    let vpc = result(
        &p,
        post(
            "CreateCustomVPCInstance",
            json!({"vpc_name": "joined-net", "cluster_name": "cn-nanjing-cmcc-01", "segment": "10.8.0.0/16", "desc": "joined",
                   "subnets": [{"name": "s1", "cidr": "10.8.1.0/24", "desc": "joined"}]}),
        ),
    )
    .await
    .unwrap();
    let vpc_id = vpc["vpc_instance"]["vpc_identity"].as_str().unwrap().to_owned();
    let subnet_id = vpc["vpc_instance"]["sub_nets"][0]["subnet_identity"]
        .as_str()
        .unwrap()
        .to_owned();
    let in_vpc = InstanceSpec {
        site: String::new(),
        area: Some("east_china".into()),
        operator: Some("chinamobile".into()),
        vpc_id: vpc_id.clone(),
        subnet_ids: vec![subnet_id.clone()],
        ..spec.clone()
    };
    let made = eventually("the VPC takes instances", 200, || async {
        c.create_instance_with(create_body(&in_vpc, 1, &CreateIdentity::default()).unwrap())
            .await
            .ok()
    })
    .await;
    let i = c.get_instance(&made.instance_id_list[0]).await.unwrap();
    assert_eq!(
        (i.vpc_identity.as_str(), i.cluster.cluster_name.as_str()),
        (vpc_id.as_str(), "cn-nanjing-cmcc-01")
    );
    handle.shutdown().await.unwrap();
}

fn provider(url: &str) -> Arc<dyn edgefleet::provider::Provider> {
    provider_counted(url, ProviderMetrics::new())
}

/// [`provider`] recording into `metrics`.
fn provider_counted(url: &str, metrics: ProviderMetrics) -> Arc<dyn edgefleet::provider::Provider> {
    use edgefleet::provider::{Credentials, ProviderKind, ProviderRegistry, ProviderSettings};
    let mut s = ProviderSettings::new(
        ProviderKind::Veen,
        "network",
        Credentials::AkSk {
            access_key: DEFAULT_AK.into(),
            secret_key: DEFAULT_SK.into(),
            security_token: None,
        },
    );
    s.endpoints.api = Some(url.to_owned());
    s.rate = RateBudget {
        qps: 500.0,
        burst: 100,
    };
    ProviderRegistry::new(metrics).get_or_build(&s).unwrap()
}

#[tokio::test]
async fn veen_drift_polls_share_one_list_and_are_counted_by_source() {
    use edgefleet::provider::metrics::{ObservationLabels, ObservationSource};
    let (handle, url) = emulator().await;
    let p = pipeline(&url, DEFAULT_AK, DEFAULT_SK);
    let created = cloud_server(
        &p,
        "polled",
        json!([{"cluster_name": "cn-beijing-cucc-01", "num": 2}]),
    )
    .await;
    let ids: Vec<String> = created["instance_id_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    let metrics = ProviderMetrics::new();
    let veen = provider_counted(&url, metrics.clone());
    let api = veen.instances().unwrap();
    let lists = handle.calls().requests("veen:ListInstances");
    for id in &ids {
        let o = api.observe(id, Duration::from_secs(60)).await.unwrap();
        assert_eq!(&o.id, id);
    }
    assert_eq!(
        handle.calls().requests("veen:ListInstances"),
        lists + 1,
        "one list answers both polls"
    );
    api.observe(&ids[0], Duration::ZERO).await.unwrap();
    let counted = |source: ObservationSource| {
        metrics.observations(&ObservationLabels {
            provider: "veen".into(),
            account: "network".into(),
            kind: "instance".into(),
            source: source.label().into(),
        })
    };
    assert_eq!(
        (
            counted(ObservationSource::Batch),
            counted(ObservationSource::Direct)
        ),
        (2, 1),
        "the same observation metric as the other clouds"
    );
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn veen_network_calls_make_a_busy_vpc_with_subnets_find_it_by_owner_and_change_subnets() {
    use edgefleet::provider::{
        CreateIdentity, OWNER_TAG, SubnetSpec, SubnetUpdate, VeenVpcExt, VpcExt, VpcMode, VpcSpec, VpcUpdate,
    };
    // The emulator's own delays: a new VPC is `modifying` for a second.
    let (_, handle) = edgefleet_emulator::serve(Config::default()).await.unwrap();
    let p = provider(&handle.url_of("veen").unwrap());
    let api = p.vpcs().unwrap();
    let subnet = |name: &str, cidr: &str| SubnetSpec {
        name: name.into(),
        cidr: cidr.into(),
        gateway_ip: None,
        site_id: String::new(),
        dhcp_enable: true,
        primary_dns: None,
        secondary_dns: None,
    };
    let spec = VpcSpec {
        name: "edge-net".into(),
        cidr: "192.168.0.0/16".into(),
        mode: VpcMode::System,
        subnets: vec![subnet("sn-a", "192.168.1.0/24")],
        ext: VpcExt::Veen(VeenVpcExt {
            cluster_name: Some("cn-hangzhou-cmcc-01".into()),
        }),
    };
    let identity = CreateIdentity {
        name: spec.name.clone(),
        client_token: None,
        tags: [(OWNER_TAG.to_owned(), "uid-1".to_owned())].into(),
    };
    let made = api.create(&spec, &identity).await.unwrap();
    assert!(made.busy, "a new veEN VPC is modifying");
    assert_eq!(made.subnets.len(), 1, "the subnets come with the create");
    assert_eq!(made.subnets[0].cidr, "192.168.1.0/24");
    // Same name, other owner: found by tag, never by name.
    let other = CreateIdentity {
        tags: [(OWNER_TAG.to_owned(), "uid-2".to_owned())].into(),
        ..identity.clone()
    };
    api.create(&spec, &other).await.unwrap();
    let mine = api.find_by_identity(&identity).await.unwrap();
    assert_eq!(mine.iter().map(|v| &v.id).collect::<Vec<_>>(), [&made.id]);
    assert_eq!(
        api.find_by_name(&spec.name).await.unwrap().len(),
        2,
        "names are not unique"
    );
    // Busy VPCs refuse changes with InUse; once available they take them.
    let busy = api
        .create_subnet(&made.id, &subnet("sn-b", "192.168.2.0/24"))
        .await
        .unwrap_err();
    assert_eq!(busy.category(), "InUse", "{busy}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while api.get(&made.id).await.unwrap().busy {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the VPC never became available"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let b = api
        .create_subnet(&made.id, &subnet("sn-b", "192.168.2.0/24"))
        .await
        .unwrap();
    api.update_subnet(
        &made.id,
        &b.id,
        &SubnetUpdate {
            name: Some("sn-b2".into()),
            ..SubnetUpdate::default()
        },
    )
    .await
    .unwrap();
    let dns = api
        .update_subnet(
            &made.id,
            &b.id,
            &SubnetUpdate {
                dns: Some((Some("8.8.8.8".into()), None)),
                ..SubnetUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(dns.category(), "Unsupported");
    let names: Vec<String> = api
        .list_subnets(&made.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["sn-a", "sn-b2"]);
    let first = api.get(&made.id).await.unwrap().subnets[0].id.clone();
    api.delete_subnet(&made.id, &first).await.unwrap();
    assert_eq!(
        api.delete_subnet(&made.id, &first).await.unwrap_err().category(),
        "NotFound"
    );
    let renamed = api
        .update(
            &made.id,
            &VpcUpdate {
                name: Some("edge-net-2".into()),
                cidr: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "edge-net-2");
    assert_eq!(renamed.subnets.len(), 1);
    api.delete_subnet(&made.id, &b.id).await.unwrap();
    api.delete(&made.id).await.unwrap();
    assert_eq!(
        api.get(&made.id).await.unwrap_err().category(),
        "NotFound",
        "deleting is gone"
    );
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn veen_network_calls_put_groups_in_their_vpc_and_modify_rules_in_place() {
    use edgefleet::provider::{
        CreateIdentity, Direction, EtherType, RuleAction, RuleRemote, RuleSpec, SecurityGroupCreate,
        VeenVpcExt, VpcExt, VpcMode, VpcSpec,
    };
    let (handle, url) = emulator().await;
    let p = provider(&url);
    let vpc = p
        .vpcs()
        .unwrap()
        .create(
            &VpcSpec {
                name: "sg-net".into(),
                cidr: "10.8.0.0/16".into(),
                mode: VpcMode::System,
                subnets: vec![],
                ext: VpcExt::Veen(VeenVpcExt {
                    cluster_name: Some("cn-hangzhou-cmcc-01".into()),
                }),
            },
            &CreateIdentity::default(),
        )
        .await
        .unwrap();
    let sgs = p.security_groups().unwrap();
    let no_vpc = sgs
        .create(&SecurityGroupCreate {
            name: "loose".into(),
            ..SecurityGroupCreate::default()
        })
        .await
        .unwrap_err();
    assert_eq!(no_vpc.category(), "Invalid", "{no_vpc}");
    let g = sgs
        .create(&SecurityGroupCreate {
            name: "web".into(),
            description: "web tier [ef-0123]".into(),
            vpc_id: Some(vpc.id.clone()),
            tags: [("edgefleet-owner".to_owned(), "uid".to_owned())].into(),
        })
        .await
        .unwrap();
    assert_eq!(
        g.description, "web tier [ef-0123]",
        "the marker rides in the remark"
    );
    let ssh = RuleSpec {
        protocol: Some("tcp".into()),
        port_min: Some(22),
        port_max: Some(22),
        remote: RuleRemote::Cidr("0.0.0.0/0".into()),
        ..RuleSpec::allow(Direction::Ingress, EtherType::Ipv4)
    };
    let deny_all_out = RuleSpec {
        action: RuleAction::Deny,
        priority: Some(100),
        remote: RuleRemote::Cidr("10.9.0.0/16".into()),
        ..RuleSpec::allow(Direction::Egress, EtherType::Ipv4)
    };
    let r1 = sgs.create_rule(&g.id, &ssh).await.unwrap();
    let r2 = sgs.create_rule(&g.id, &deny_all_out).await.unwrap();
    let got = sgs.get(&g.id).await.unwrap();
    let mut fps: Vec<String> = got.rules.iter().map(|r| r.rule.fingerprint()).collect();
    fps.sort();
    let mut want = vec![ssh.fingerprint(), deny_all_out.fingerprint()];
    want.sort();
    assert_eq!(
        fps, want,
        "DescribeSecurityGroup shows both directions as created"
    );
    let wider = RuleSpec {
        port_min: Some(2200),
        port_max: Some(2299),
        ..ssh.clone()
    };
    let changed = sgs.update_rule(&g.id, &r1.id, &wider).await.unwrap();
    assert_eq!(
        (changed.id.as_str(), changed.rule.fingerprint()),
        (r1.id.as_str(), wider.fingerprint())
    );
    let dup = sgs.update_rule(&g.id, &r1.id, &deny_all_out).await.unwrap_err();
    assert_eq!(dup.category(), "Invalid", "{dup}");
    assert_eq!(sgs.list_rules(&g.id).await.unwrap().len(), 2);
    assert_eq!(sgs.list_all().await.unwrap()[0].rules.len(), 2);
    sgs.delete_rule(&g.id, &r2.id).await.unwrap();
    assert_eq!(sgs.list_rules(&g.id).await.unwrap().len(), 1);
    let in_use = p.vpcs().unwrap().delete(&vpc.id).await.unwrap_err();
    assert_eq!(in_use.category(), "InUse", "a VPC with a group: {in_use}");
    sgs.delete(&g.id).await.unwrap();
    assert_eq!(sgs.get(&g.id).await.unwrap_err().category(), "NotFound");
    p.vpcs().unwrap().delete(&vpc.id).await.unwrap();
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn veen_fleet_calls_offers_token_replay_and_owner_tagged_members() {
    use edgefleet::provider::OWNER_TAG;
    let (handle, url) = emulator().await;
    let c = client(&url);

    // The catalog of a spec: clusters with ids for area and city, ISP and free capacity.
    let offers = c.offers("veEN.C1.large").await.unwrap();
    let hz = offers
        .iter()
        .find(|o| o.cluster == "cn-hangzhou-cmcc-01")
        .expect("hangzhou offers the spec");
    assert_eq!(
        (hz.area.as_str(), hz.city.as_str(), hz.isp.as_str()),
        ("east_china", "hangzhou", "CMCC")
    );
    assert_eq!(hz.city_name, "杭州");
    assert!(hz.available > 0);
    assert!(
        !c.offers("veEN.G1.large")
            .await
            .unwrap()
            .iter()
            .any(|o| o.cluster == "cn-xiamen-ctcc-01"),
        "a cluster without the spec is not offered"
    );
    let unknown = c.offers("veEN.nope").await.unwrap_err();
    assert_eq!(unknown.category(), "Invalid");

    // CreateCloudServer twice with one token: one cloud server, the same ids.
    let body = json!({"cloudserver_name": "fleet-calls", "image_id": "image-ubuntu2004", "spec_name": "veEN.C1.large",
        "storage_config": {"system_disk": {"storage_type": "CloudBlockSSD", "capacity": "40"}},
        "network_config": {"bandwidth_peak": "5"},
        "instance_area_nums": [{"area_name": "hangzhou", "isp": "CMCC", "num": 1}],
        "client_token": "ef-fleet-calls", "Tags": [{"Key": OWNER_TAG, "Value": "uid-1"}]});
    let first = c.create_cloud_server_body(body.clone()).await.unwrap();
    let again = c.create_cloud_server_body(body).await.unwrap();
    assert_eq!(first, again, "the token replays");
    let cs = first.cloud_server_identity.clone();
    assert_eq!(c.list_cloud_servers(&[]).await.unwrap().len(), 1);

    // CreateInstance with a token: replayed too.
    let more = json!({"cloud_server_identity": cs, "client_token": "ef-more",
        "instance_area_nums": [{"cluster_name": "cn-hangzhou-cmcc-01", "isp": "CMCC", "num": 2}],
        "Tags": [{"Key": OWNER_TAG, "Value": "uid-1"}]});
    let added = c.create_instance_body(more.clone()).await.unwrap();
    assert_eq!(added.instance_id_list.len(), 2);
    assert_eq!(c.create_instance_body(more).await.unwrap(), added);

    // A standalone instance of another owner in the same cloud server is not a member.
    let other = json!({"cloud_server_identity": cs, "client_token": "ef-other",
        "instance_area_nums": [{"cluster_name": "cn-hangzhou-cmcc-01", "isp": "CMCC", "num": 1}],
        "Tags": [{"Key": OWNER_TAG, "Value": "uid-2"}]});
    c.create_instance_body(other).await.unwrap();
    assert_eq!(c.members(&cs, None).await.unwrap().len(), 4);
    assert_eq!(c.members(&cs, Some("uid-1")).await.unwrap().len(), 3);
    let tagged = c.cloud_servers_tagged(OWNER_TAG, "uid-1").await.unwrap();
    assert_eq!(
        tagged
            .iter()
            .map(|c| c.cloud_server_identity.as_str())
            .collect::<Vec<_>>(),
        [cs.as_str()]
    );
    assert!(
        c.cloud_servers_tagged(OWNER_TAG, "uid-9")
            .await
            .unwrap()
            .is_empty()
    );
    handle.shutdown().await.unwrap();
}
