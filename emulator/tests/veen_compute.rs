//! veEN cloud servers and instances over real HTTP: CreateCloudServer (seed 000 body, every
//! validation error, client_token idempotency, quotas, placement capacity), the instance state
//! machine, ListInstances filters and paging, power operations, rename, OfflineInstances and
//! DeleteCloudServer, CreateInstance, ListAvailableResourceInfo.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod veen_support;

use serde_json::{Value, json};
use veen_support::{Veen, assert_err, seed_body, start};

async fn create(v: &Veen, body: Value) -> Value {
    v.post_ok("CreateCloudServer", body).await
}

async fn instance(v: &Veen, id: &str) -> Value {
    v.get_ok("GetInstance", &[("InstanceIdentity", id)]).await["instance"].clone()
}

fn ids(r: &Value) -> Vec<String> {
    r["instance_id_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn veen_create_cloud_server_seed_body_and_states() {
    let v = start().await;
    let r = create(
        &v,
        seed_body(
            "cloud-test",
            json!([{"cluster_name": "cn-hangzhou-cmcc-01", "num": 1},
                   {"area_name": "华北", "isp": "CUCC", "num": 2}]),
        ),
    )
    .await;
    let cs = r["cloud_server_identity"].as_str().unwrap().to_string();
    assert!(cs.starts_with("cloudserver-"), "{r}");
    let members = ids(&r);
    assert_eq!(members.len(), 3);
    assert!(
        members.iter().all(|m| m.starts_with("veen") && m.len() == 24),
        "{members:?}"
    );
    let i = instance(&v, &members[0]).await;
    assert_eq!(i["status"], "opening");
    assert_eq!(i["cluster"]["cluster_name"], "cn-hangzhou-cmcc-01");
    assert_eq!(i["cluster"]["isp"], "CMCC");
    assert_eq!(i["cloud_server_identity"], cs.as_str());
    assert_eq!(
        instance(&v, &members[1]).await["cluster"]["cluster_name"],
        "cn-beijing-cucc-01"
    );
    v.advance(3).await;
    assert_eq!(instance(&v, &members[0]).await["status"], "running");
    // GetCloudServer in both key spellings, with the histogram
    for key in ["CloudServerID", "cloud_server_id"] {
        let g = v.get_ok("GetCloudServer", &[(key, &cs)]).await;
        let c = &g["cloud_server"];
        assert_eq!(c["name"], "cloud-test");
        assert_eq!(c["instance_count"], 3);
        assert_eq!(
            c["instance_status"],
            json!([{"status": "running", "instance_count": 3}])
        );
        assert_eq!(c["spec"], "veEN.C1.large");
        assert_eq!(c["image"]["image_identity"], "image-ubuntu2004");
        assert_eq!(
            c["secret_config"]["secret_data"], "",
            "the password is never returned"
        );
        assert_eq!(c["server_area_count"], 2);
    }
    // power: stop → stop, start → running, reboot → running
    let one = json!({"instance_identities": [members[0]]});
    v.post_ok("StopInstances", one.clone()).await;
    assert_eq!(instance(&v, &members[0]).await["status"], "stopping");
    assert_err(
        &v.post("StopInstances", one.clone()).await,
        400,
        "InvalidInstanceStatus",
        "stopping",
    );
    v.advance(2).await;
    assert_eq!(instance(&v, &members[0]).await["status"], "stop");
    assert_err(
        &v.post("RebootInstances", one.clone()).await,
        400,
        "InvalidInstanceStatus",
        "stop",
    );
    v.post_ok("StartInstances", one.clone()).await;
    assert_eq!(instance(&v, &members[0]).await["status"], "starting");
    v.advance(2).await;
    assert_eq!(instance(&v, &members[0]).await["status"], "running");
    assert_err(
        &v.post("StartInstances", one.clone()).await,
        400,
        "InvalidInstanceStatus",
        "running",
    );
    v.post_ok("RebootInstances", one.clone()).await;
    assert_eq!(instance(&v, &members[0]).await["status"], "rebooting");
    v.advance(2).await;
    assert_eq!(instance(&v, &members[0]).await["status"], "running");
    // an unknown id fails the whole batch, nothing changes
    assert_err(
        &v.post(
            "StopInstances",
            json!({"instance_identities": [members[1], "veen00000000000000000000"]}),
        )
        .await,
        404,
        "ResourceNotFound",
        "veen00000000000000000000",
    );
    assert_eq!(instance(&v, &members[1]).await["status"], "running");
    assert_err(
        &v.post("StopInstances", json!({"instance_identities": null}))
            .await,
        400,
        "MissingParameter",
        "instance_identities",
    );
    // rename
    v.post_ok(
        "SetInstanceName",
        json!({"instance_identity": members[0], "instance_name": "web-东-1"}),
    )
    .await;
    assert_eq!(instance(&v, &members[0]).await["instance_name"], "web-东-1");
    assert_err(
        &v.post(
            "SetInstanceName",
            json!({"instance_identity": members[0], "instance_name": "has space"}),
        )
        .await,
        400,
        "InvalidParameter",
        "instance_name",
    );
    assert_err(
        &v.post("SetInstanceName", json!({"instance_identity": members[0]}))
            .await,
        400,
        "MissingParameter",
        "instance_name",
    );
    // delete: refused while running (unless ignore_running), the cloud server refuses while members exist
    assert_err(
        &v.post("OfflineInstances", one.clone()).await,
        400,
        "InvalidInstanceStatus",
        "running",
    );
    assert_err(
        &v.post("DeleteCloudServer", json!({"cloud_server_id": cs})).await,
        400,
        "ResourceInUse",
        "OfflineInstances",
    );
    v.post_ok(
        "OfflineInstances",
        json!({"instance_identities": members, "ignore_running": true}),
    )
    .await;
    assert_eq!(instance(&v, &members[0]).await["status"], "terminating");
    assert_err(
        &v.post("DeleteCloudServer", json!({"cloud_server_id": cs})).await,
        400,
        "ResourceInUse",
        "",
    );
    v.advance(2).await;
    assert_err(
        &v.get("GetInstance", &[("instance_identity", &members[0])]).await,
        404,
        "ResourceNotFound",
        "",
    );
    v.post_ok("DeleteCloudServer", json!({"cloud_server_id": cs}))
        .await;
    assert_err(
        &v.get("GetCloudServer", &[("CloudServerID", &cs)]).await,
        404,
        "ResourceNotFound",
        &cs,
    );
    v.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn veen_create_cloud_server_validation_errors() {
    let v = start().await;
    let base = seed_body("valid-name", Value::Null);
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "/cloudserver_name",
            Value::Null,
            "MissingParameter",
            "cloudserver_name",
        ),
        (
            "/cloudserver_name",
            json!("abcd"),
            "InvalidParameter",
            "cloudserver_name",
        ),
        (
            "/cloudserver_name",
            json!("a".repeat(21)),
            "InvalidParameter",
            "cloudserver_name",
        ),
        (
            "/cloudserver_name",
            json!("/abcdef"),
            "InvalidParameter",
            "cloudserver_name",
        ),
        (
            "/cloudserver_name",
            json!("abc def"),
            "InvalidParameter",
            "cloudserver_name",
        ),
        (
            "/cloudserver_name",
            json!("abc\"def"),
            "InvalidParameter",
            "cloudserver_name",
        ),
        (
            "/cloudserver_name",
            json!(5),
            "InvalidParameter",
            "cloudserver_name",
        ),
        ("/image_id", Value::Null, "MissingParameter", "image_id"),
        ("/image_id", json!("image-nope"), "InvalidParameter", "image_id"),
        ("/spec_name", Value::Null, "MissingParameter", "spec_name"),
        (
            "/spec_name",
            json!("veEN.X9.huge"),
            "InvalidParameter",
            "spec_name",
        ),
        (
            "/cloud_server_desc",
            json!("d".repeat(81)),
            "InvalidParameter",
            "cloud_server_desc",
        ),
        (
            "/storage_config",
            Value::Null,
            "MissingParameter",
            "storage_config",
        ),
        (
            "/storage_config/system_disk",
            Value::Null,
            "MissingParameter",
            "storage_config.system_disk",
        ),
        (
            "/storage_config/system_disk/storage_type",
            json!("Tape"),
            "InvalidParameter",
            "storage_config.system_disk.storage_type",
        ),
        (
            "/storage_config/system_disk/capacity",
            json!("10"),
            "InvalidParameter",
            "storage_config.system_disk.capacity",
        ),
        (
            "/storage_config/system_disk/capacity",
            json!(50),
            "InvalidParameter",
            "storage_config.system_disk.capacity",
        ),
        (
            "/storage_config/data_disk/capacity",
            json!("abc"),
            "InvalidParameter",
            "storage_config.data_disk.capacity",
        ),
        (
            "/storage_config/data_disk_list",
            json!([{"storage_type": "CloudBlockHDD"}]),
            "MissingParameter",
            "storage_config.data_disk_list.1.capacity",
        ),
        (
            "/network_config",
            Value::Null,
            "MissingParameter",
            "network_config",
        ),
        (
            "/network_config/bandwidth_peak",
            json!("0"),
            "InvalidParameter",
            "network_config.bandwidth_peak",
        ),
        (
            "/network_config/dns_list",
            json!(["8.8.8.8", "dns"]),
            "InvalidParameter",
            "network_config.dns_list.2",
        ),
        (
            "/network_config/security_group_id_list",
            json!(["sg-nope"]),
            "InvalidParameter",
            "network_config.security_group_id_list.1",
        ),
        (
            "/secret_config/secret_type",
            json!(7),
            "InvalidParameter",
            "secret_config.secret_type",
        ),
        (
            "/secret_config/secret_data",
            json!("short"),
            "InvalidParameter",
            "secret_config.secret_data",
        ),
        (
            "/secret_config/secret_data",
            Value::Null,
            "MissingParameter",
            "secret_config.secret_data",
        ),
        (
            "/instance_area_nums",
            json!([{"num": 1}]),
            "MissingParameter",
            "instance_area_nums.1.cluster_name",
        ),
        (
            "/instance_area_nums",
            json!([{"cluster_name": "cn-hangzhou-cmcc-01"}]),
            "MissingParameter",
            "instance_area_nums.1.num",
        ),
        (
            "/instance_area_nums",
            json!([{"cluster_name": "cn-hangzhou-cmcc-01", "num": 0}]),
            "InvalidParameter",
            "instance_area_nums.1.num",
        ),
        (
            "/instance_area_nums",
            json!([{"cluster_name": "cn-nowhere", "num": 1}]),
            "InvalidParameter",
            "instance_area_nums.1.cluster_name",
        ),
        (
            "/instance_area_nums",
            json!([{"cluster_name": "cn-hangzhou-cmcc-01", "isp": "CTCC", "num": 1}]),
            "InvalidParameter",
            "instance_area_nums.1.isp",
        ),
        (
            "/instance_area_nums",
            json!([{"area_name": "华东", "num": 1}]),
            "MissingParameter",
            "instance_area_nums.1.isp",
        ),
        (
            "/instance_area_nums",
            json!([{"area_name": "华东", "isp": "XXX", "num": 1}]),
            "InvalidParameter",
            "instance_area_nums.1.isp",
        ),
        (
            "/instance_area_nums",
            json!([{"area_name": "火星", "isp": "CMCC", "num": 1}]),
            "InvalidParameter",
            "instance_area_nums.1.area_name",
        ),
        (
            "/instance_area_nums",
            json!([{"area_name": "华东", "cluster_name": "cn-hangzhou-cmcc-01", "num": 1}]),
            "InvalidParameter",
            "instance_area_nums.1.area_name",
        ),
        (
            "/instance_area_nums",
            json!([{"cluster_name": "cn-hangzhou-cmcc-01", "num": 1, "host_name_list": ["a", "b"]}]),
            "InvalidParameter",
            "instance_area_nums.1.host_name_list",
        ),
        (
            "/instance_area_nums",
            json!([{"cluster_name": "cn-hangzhou-cmcc-01", "num": 1, "vpc_identity": "vpc-nope"}]),
            "InvalidParameter",
            "instance_area_nums.1.vpc_identity",
        ),
        (
            "/instance_area_nums",
            json!([{"cluster_name": "cn-hangzhou-cmcc-01", "num": 1, "subnet_identity": "subnet-x"}]),
            "MissingParameter",
            "instance_area_nums.1.vpc_identity",
        ),
        (
            "/schedule_strategy",
            json!({"schedule_strategy": "random"}),
            "InvalidParameter",
            "schedule_strategy.schedule_strategy",
        ),
        (
            "/schedule_strategy",
            json!({"price_strategy": "free"}),
            "InvalidParameter",
            "schedule_strategy.price_strategy",
        ),
        (
            "/custom_data",
            json!({"data": "x".repeat(16 * 1024 + 1)}),
            "InvalidParameter",
            "custom_data.data",
        ),
        (
            "/billing_config/computing_billing_method",
            json!("Hourly"),
            "InvalidParameter",
            "billing_config.computing_billing_method",
        ),
        (
            "/billing_config/bandwidth_billing_method",
            json!("Hourly"),
            "InvalidParameter",
            "billing_config.bandwidth_billing_method",
        ),
        (
            "/billing_config/computing_billing_method",
            json!("PrePaid"),
            "MissingParameter",
            "billing_config.pre_paid_period",
        ),
        (
            "/advanced_configuration",
            json!({"instance_name": "bad name"}),
            "InvalidParameter",
            "advanced_configuration.instance_name",
        ),
        (
            "/advanced_configuration",
            json!({"instance_desc": "d".repeat(81)}),
            "InvalidParameter",
            "advanced_configuration.instance_desc",
        ),
        (
            "/advanced_configuration",
            json!({"instance_host_name": "-host"}),
            "InvalidParameter",
            "advanced_configuration.instance_host_name",
        ),
        ("/disable_vga", json!("yes"), "InvalidParameter", "disable_vga"),
        (
            "/create_instance_timeout",
            json!(60),
            "InvalidParameter",
            "create_instance_timeout",
        ),
        (
            "/client_token",
            json!("t".repeat(65)),
            "InvalidParameter",
            "client_token",
        ),
        ("/client_token", json!("tök"), "InvalidParameter", "client_token"),
        (
            "/Tags",
            json!([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]),
            "InvalidParameter",
            "Tags.2.Key",
        ),
        ("/Tags", json!([{"Value": "1"}]), "MissingParameter", "Tags.1.Key"),
        (
            "/Tags",
            json!(
                (0..51)
                    .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
                    .collect::<Vec<_>>()
            ),
            "InvalidParameter",
            "Tags",
        ),
    ];
    for (pointer, value, code, field) in cases {
        let mut body = base.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            &mut body
        } else {
            body.pointer_mut(parent).unwrap_or_else(|| panic!("{parent}"))
        };
        if target.is_null() {
            *target = json!({});
        }
        target.as_object_mut().unwrap().insert(key.to_string(), value);
        assert_err(&v.post("CreateCloudServer", body).await, 400, code, field);
    }
    // nothing was created by the failed calls
    let l = v.get_ok("ListCloudServers", &[]).await;
    assert_eq!(l["total_count"], 0);
    v.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn veen_client_token_idempotency_and_quotas() {
    let v = start().await;
    let mut body = seed_body(
        "token-test",
        json!([{"area_name": "south_china", "isp": "CTCC", "num": 2}]),
    );
    body["client_token"] = json!("uid-1234-create");
    body["Tags"] = json!([{"Key": "edgefleet.io/uid", "Value": "1234"}]);
    let first = create(&v, body.clone()).await;
    let again = create(&v, body.clone()).await;
    assert_eq!(
        first, again,
        "the same token returns the same cloud server and instances"
    );
    let l = v.get_ok("ListInstances", &[]).await;
    assert_eq!(l["total_count"], 2, "no second set of instances");
    let mut changed = body.clone();
    changed["network_config"]["bandwidth_peak"] = json!("30");
    assert_err(
        &v.post("CreateCloudServer", changed).await,
        400,
        "IdempotentParameterMismatch",
        "uid-1234-create",
    );
    // instances inherit the tags; TagFilters find them
    let found = v
        .get_ok(
            "ListInstances",
            &[
                ("TagFilters.1.Key", "edgefleet.io/uid"),
                ("TagFilters.1.Values.1", "1234"),
                ("WithTagInfo", "true"),
            ],
        )
        .await;
    assert_eq!(found["total_count"], 2);
    assert_eq!(
        found["instances"][0]["Tags"],
        json!([{"Key": "edgefleet.io/uid", "Value": "1234"}])
    );
    let none = v
        .get_ok(
            "ListInstances",
            &[
                ("TagFilters.1.Key", "edgefleet.io/uid"),
                ("TagFilters.1.Values.1", "999"),
            ],
        )
        .await;
    assert_eq!(none["total_count"], 0);
    let cs = v
        .get_ok(
            "ListCloudServers",
            &[
                ("TagFilters.1.Key", "edgefleet.io/uid"),
                ("with_tag_info", "true"),
            ],
        )
        .await;
    assert_eq!(cs["total_count"], 1);
    assert_eq!(cs["cloud_servers"][0]["Tags"][0]["Value"], "1234");
    // CreateInstance with a token, replayed, then mismatched
    let cs_id = first["cloud_server_identity"].as_str().unwrap().to_string();
    let add = json!({"cloud_server_identity": cs_id, "client_token": "uid-1234-scale-1",
                     "instance_area_nums": [{"cluster_name": "cn-shenzhen-cmcc-01", "num": 3}]});
    let a1 = v.post_ok("CreateInstance", add.clone()).await;
    let a2 = v.post_ok("CreateInstance", add.clone()).await;
    assert_eq!(ids(&a1).len(), 3);
    assert_eq!(a1, a2);
    let mut other = add.clone();
    other["instance_area_nums"][0]["num"] = json!(4);
    assert_err(
        &v.post("CreateInstance", other).await,
        400,
        "IdempotentParameterMismatch",
        "",
    );
    // 10 instances per cloud server: 5 exist, 6 more is over
    assert_err(
        &v.post(
            "CreateInstance",
            json!({"cloud_server_identity": cs_id, "instance_area_nums": [{"cluster_name": "cn-shenzhen-cmcc-01", "num": 6}]}),
        )
        .await,
        400,
        "QuotaExceeded",
        "10",
    );
    assert_err(
        &v.post("CreateInstance", json!({"cloud_server_identity": "cloudserver-nope", "instance_area_nums": [{"cluster_name": "cn-shenzhen-cmcc-01", "num": 1}]}))
            .await,
        404,
        "ResourceNotFound",
        "cloudserver-nope",
    );
    assert_err(
        &v.post("CreateInstance", json!({"cloud_server_identity": cs_id}))
            .await,
        400,
        "MissingParameter",
        "instance_area_nums",
    );
    assert_err(
        &v.post(
            "CreateCloudServer",
            seed_body(
                "too-many",
                json!([{"cluster_name": "cn-shenzhen-cmcc-01", "num": 11}]),
            ),
        )
        .await,
        400,
        "QuotaExceeded",
        "10",
    );
    // 5 cloud servers per account
    for n in 2..=5 {
        create(&v, seed_body(&format!("group-{n}"), Value::Null)).await;
    }
    assert_err(
        &v.post("CreateCloudServer", seed_body("group-6", Value::Null))
            .await,
        400,
        "QuotaExceeded",
        "5",
    );
    v.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn veen_placement_capacity_and_available_resources() {
    let v = start().await;
    // the Xiamen cluster holds 2 instances and offers only veEN.C1.large
    let avail = v
        .get_ok("ListAvailableResourceInfo", &[("InstanceType", "veEN.C1.large")])
        .await;
    let xiamen = avail["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["cluster"]["name"] == "cn-xiamen-ctcc-01")
        .unwrap()
        .clone();
    assert_eq!(xiamen["available_num"], 2);
    assert_eq!(xiamen["isp"]["id"], "CTCC");
    assert_eq!(xiamen["area"]["name"], "华东");
    let g1 = v
        .get_ok("ListAvailableResourceInfo", &[("instance_type", "veEN.G1.large")])
        .await;
    assert!(
        g1["regions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["cluster"]["name"] != "cn-xiamen-ctcc-01")
    );
    assert_err(
        &v.get("ListAvailableResourceInfo", &[]).await,
        400,
        "MissingParameter",
        "instance_type",
    );
    assert_err(
        &v.get("ListAvailableResourceInfo", &[("InstanceType", "nope")])
            .await,
        400,
        "InvalidParameter",
        "InstanceType",
    );
    assert_err(
        &v.post(
            "CreateCloudServer",
            seed_body(
                "full-xiamen",
                json!([{"cluster_name": "cn-xiamen-ctcc-01", "num": 3}]),
            ),
        )
        .await,
        400,
        "InsufficientCapacity",
        "instance_area_nums.1",
    );
    let mut g = seed_body(
        "gpu-xiamen",
        json!([{"cluster_name": "cn-xiamen-ctcc-01", "num": 1}]),
    );
    g["spec_name"] = json!("veEN.G1.large");
    assert_err(
        &v.post("CreateCloudServer", g).await,
        400,
        "InsufficientCapacity",
        "veEN.G1.large",
    );
    let r = create(
        &v,
        seed_body(
            "fits-xiamen",
            json!([{"cluster_name": "cn-xiamen-ctcc-01", "num": 2}]),
        ),
    )
    .await;
    assert_eq!(ids(&r).len(), 2);
    let avail = v
        .get_ok("ListAvailableResourceInfo", &[("InstanceType", "veEN.C1.large")])
        .await;
    let xiamen = avail["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["cluster"]["name"] == "cn-xiamen-ctcc-01")
        .unwrap()
        .clone();
    assert_eq!(xiamen["available_num"], 0);
    // an area × ISP whose only cluster is full
    assert_err(
        &v.post(
            "CreateCloudServer",
            seed_body(
                "east-ctcc",
                json!([{"area_name": "east_china", "isp": "CTCC", "num": 1}]),
            ),
        )
        .await,
        400,
        "InsufficientCapacity",
        "not enough capacity",
    );
    // an area spreads over its clusters (dispersion: least used first), by area or city name
    let r = create(
        &v,
        seed_body(
            "spread-east",
            json!([{"area_name": "华东", "isp": "CMCC", "num": 2},
                                                        {"area_name": "上海", "isp": "CUCC", "num": 1}]),
        ),
    )
    .await;
    let mut clusters = Vec::new();
    for id in ids(&r) {
        clusters.push(
            instance(&v, &id).await["cluster"]["cluster_name"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    clusters.sort();
    assert_eq!(
        clusters,
        ["cn-hangzhou-cmcc-01", "cn-nanjing-cmcc-01", "cn-shanghai-cucc-01"]
    );
    v.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn veen_list_filters_paging_and_open_fail() {
    let v = start().await;
    let a = create(
        &v,
        seed_body(
            "group-a",
            json!([{"cluster_name": "cn-hangzhou-cmcc-01", "num": 3}]),
        ),
    )
    .await;
    let mut b_body = seed_body(
        "group-b",
        json!([{"cluster_name": "cn-beijing-cucc-01", "num": 2}]),
    );
    b_body["create_instance_timeout"] = json!(120);
    b_body["advanced_configuration"] = json!({"instance_name": "bee", "instance_host_name": "bee-host"});
    b_body["project"] = json!("edge");
    let b = create(&v, b_body).await;
    let a_id = a["cloud_server_identity"].as_str().unwrap();
    let b_id = b["cloud_server_identity"].as_str().unwrap();
    let count = |r: &Value| r["total_count"].as_u64().unwrap();
    let list = |params: Vec<(&'static str, String)>| {
        let v = &v;
        async move {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, x)| (*k, x.as_str())).collect();
            v.get_ok("ListInstances", &p).await
        }
    };
    assert_eq!(count(&list(vec![]).await), 5);
    assert_eq!(
        count(&list(vec![("CloudServerIdentities", a_id.to_string())]).await),
        3
    );
    assert_eq!(
        count(&list(vec![("cloud_server_identities", format!("{a_id},{b_id}"))]).await),
        5
    );
    assert_eq!(count(&list(vec![("isps", "CUCC".into())]).await), 2);
    assert_eq!(count(&list(vec![("regions", "华北".into())]).await), 2);
    assert_eq!(count(&list(vec![("cities", "hangzhou".into())]).await), 3);
    assert_eq!(
        count(&list(vec![("ClusterNames", "cn-beijing-cucc-01".into())]).await),
        2
    );
    assert_eq!(count(&list(vec![("projects", "edge".into())]).await), 2);
    let first = ids(&a)[0].clone();
    assert_eq!(count(&list(vec![("InstanceIdentities", first.clone())]).await), 1);
    let named = list(vec![("instance_names", "bee-1,bee-2".into())]).await;
    assert_eq!(count(&named), 2, "{named}");
    assert_eq!(named["instances"][0]["host_name"], "bee-host-1");
    assert_eq!(count(&list(vec![("status", "opening".into())]).await), 5);
    // paging: page/limit, order_by 1 = newest first
    let p1 = list(vec![("limit", "2".into()), ("page", "1".into())]).await;
    let p3 = list(vec![("limit", "2".into()), ("page", "3".into())]).await;
    assert_eq!(count(&p1), 5);
    assert_eq!(p1["instances"].as_array().unwrap().len(), 2);
    assert_eq!(p3["instances"].as_array().unwrap().len(), 1);
    assert_eq!(p1["instances"][0]["instance_identity"], first.as_str());
    let desc = list(vec![("limit", "1".into()), ("OrderBy", "1".into())]).await;
    assert_eq!(desc["instances"][0]["instance_identity"], ids(&b)[1].as_str());
    assert_err(
        &v.get("ListInstances", &[("limit", "0")]).await,
        400,
        "InvalidParameter",
        "limit",
    );
    assert_err(
        &v.get("ListInstances", &[("page", "0")]).await,
        400,
        "InvalidParameter",
        "page",
    );
    assert_err(
        &v.get("ListInstances", &[("limit", "x")]).await,
        400,
        "InvalidParameter",
        "limit",
    );
    assert_err(
        &v.get("ListInstances", &[("OrderBy", "3")]).await,
        400,
        "InvalidParameter",
        "order_by",
    );
    assert_err(
        &v.get("ListInstances", &[("TagFilters.1.Values.1", "x")]).await,
        400,
        "MissingParameter",
        "TagFilters.1.Key",
    );
    let cs_page = v
        .get_ok("ListCloudServers", &[("limit", "1"), ("page", "2")])
        .await;
    assert_eq!(cs_page["total_count"], 2);
    assert_eq!(cs_page["cloud_servers"][0]["cloud_server_identity"], b_id);
    // open_fail: a create_instance_timeout (120 s) shorter than the open delay
    let mut slow = veen_support::test_config();
    slow.delays.per.insert("veen_instance_open".into(), 200_000);
    let s = veen_support::start_with(slow).await;
    let mut body = seed_body(
        "slow-open",
        json!([{"cluster_name": "cn-hangzhou-cmcc-01", "num": 1}]),
    );
    body["create_instance_timeout"] = json!(120);
    let r = s.post_ok("CreateCloudServer", body).await;
    let id = ids(&r)[0].clone();
    s.advance(119).await;
    assert_eq!(instance(&s, &id).await["status"], "opening");
    s.advance(2).await;
    assert_eq!(instance(&s, &id).await["status"], "open_fail");
    s.post_ok("OfflineInstances", json!({"instance_identities": [id]}))
        .await;
    // the instance_failure_rate fault ends opens in open_fail
    s.faults(json!({"instance_failure_rate": 1.0})).await;
    let r = s
        .post_ok(
            "CreateCloudServer",
            seed_body(
                "fail-open",
                json!([{"cluster_name": "cn-hangzhou-cmcc-01", "num": 1}]),
            ),
        )
        .await;
    s.advance(200).await;
    assert_eq!(instance(&s, &ids(&r)[0]).await["status"], "open_fail");
    s.handle.shutdown().await.unwrap();
    v.handle.shutdown().await.unwrap();
}
