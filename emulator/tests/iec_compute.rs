//! Contract tests for deployment plans, edge clouds, instances, flavors, sites, images and quotas.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Emu, assert_err, start, start_with, test_config};
use edgefleet_emulator::config::DEFAULT_DOMAIN_ID;
use reqwest::StatusCode;
use serde_json::{Value, json};

const XIAN: &str = "74a75ed3-cfb9-11ea-a0c3-fa1640495574";
const ZS: &str = "a0272146-f6d8-4e3f-a1dc-196ec4a2f856";
const IMAGE: &str = "00000000-0000-0000-0000-000000000002";
const IMAGE2: &str = "00000000-0000-0000-0000-000000000008";

/// Real (non-zero) default delays with a frozen clock: transitions happen only when time advances.
async fn start_slow() -> Emu {
    let mut cfg = test_config();
    cfg.delays = edgefleet_emulator::Delays::default();
    start_with(cfg).await
}

async fn vpc(emu: &Emu, name: &str, mode: &str) -> String {
    let (s, v) = emu
        .post(
            "/v1/vpcs",
            json!({"vpc": {"name": name, "cidr": "192.168.0.0/16", "mode": mode}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["vpc"]["id"].as_str().unwrap().to_string()
}

fn plan(
    name: Option<&str>,
    id: Option<&str>,
    vpc_id: &str,
    level: &str,
    site: &str,
    demand: u32,
    count: u32,
) -> Value {
    let mut ec = json!({
        "stack": {"name": "stack-fo09", "resources": [{
            "name": "web", "image_ref": IMAGE, "flavor_ref": "c6.large.2",
            "net_config": {"vpc_id": vpc_id, "nic_num": 1}, "count": count,
            "root_volume": {"volume_type": "SATA", "size": 40}, "admin_pass": "NOVAGLANCEI@123"}]},
        "coverage": {"coverage_level": level, "coverage_policy": "centralize",
            "coverage_sites": [{"site": site, "demands": [{"demand_count": demand}]}]}
    });
    if let Some(n) = name {
        ec["name"] = json!(n);
    }
    if let Some(i) = id {
        ec["id"] = json!(i);
    }
    json!({"edgecloud": ec})
}

async fn instances(emu: &Emu, query: &str) -> Vec<Value> {
    let (s, v) = emu.get(&format!("/v1/cloudservers?limit=1000&{query}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["servers"].as_array().unwrap().clone()
}

#[tokio::test]
async fn deployment_plan_to_edge_cloud_lifecycle() {
    let emu = start_slow().await;
    let v = vpc(&emu, "sys", "SYSTEM").await;
    // create plan
    let (s, p) = emu
        .post(
            "/v1/deployments",
            plan(Some("edgecloud1"), None, &v, "city", "xi'an", 2, 2),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let plan_id = p["id"].as_str().unwrap().to_string();
    assert_eq!(p["locations"][0]["site_id"], XIAN);
    assert_eq!(p["locations"][0]["stack_count"], 2);
    assert_eq!(p["locations"][0]["city"], "xi'an");
    let (_, l) = emu.get("/v1/deployments?status=open").await;
    assert_eq!(l["count"], 1);
    assert_eq!(
        l["deployments"][0]["edgecloud"]["stacks"]["resources"][0]["admin_pass"],
        "******"
    );
    assert_err(&emu.get("/v1/deployments?status=weird").await, 400, "IEC.000006");
    // deploy
    let (s, d) = emu
        .post(&format!("/v1/deployments/{plan_id}/deploy"), json!(null))
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["status"], "creating");
    assert_eq!(d["name"], "edgecloud1");
    assert_eq!(d["job_id"].as_str().unwrap().len(), 32);
    let ec = d["id"].as_str().unwrap().to_string();
    assert_err(
        &emu.post(&format!("/v1/deployments/{plan_id}/deploy"), json!(null))
            .await,
        404,
        "IEC.010100",
    );
    assert_err(
        &emu.post(
            "/v1/deployments",
            plan(Some("edgecloud1"), None, &v, "city", "xi'an", 1, 1),
        )
        .await,
        409,
        "IEC.010008",
    );
    let (_, e) = emu.get(&format!("/v1/edgeclouds/{ec}")).await;
    assert_eq!(e["status"], "creating");
    let members = instances(&emu, &format!("edgecloud_id={ec}")).await;
    let mut names: Vec<String> = members
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "IEC-XA01-web-0001",
            "IEC-XA01-web-0002",
            "IEC-XA01-web-0003",
            "IEC-XA01-web-0004"
        ]
    );
    assert!(members.iter().all(|i| i["status"] == "BUILD"));
    let first = members[0]["id"].as_str().unwrap().to_string();
    // deleting a building instance / the edge cloud while creating is refused
    assert_err(
        &emu.post("/v1/cloudservers/delete", json!({"servers": [{"id": first}]}))
            .await,
        400,
        "IEC.010203",
    );
    assert_err(
        &emu.delete(&format!("/v1/edgeclouds/{ec}")).await,
        400,
        "IEC.010002",
    );
    // time passes: members ACTIVE, edge cloud inService
    emu.advance(4).await;
    let (_, e) = emu.get(&format!("/v1/edgeclouds/{ec}")).await;
    assert_eq!(e["status"], "inService", "{e}");
    assert_eq!(e["success_num"], 4);
    assert_eq!(e["failed_num"], 0);
    assert_eq!(e["edge_regions"], 1);
    assert!(e["stacks"].is_array());
    assert!(e["stacks"][0]["id"].is_string());
    assert!(
        e["stacks"][0]["name"]
            .as_str()
            .unwrap()
            .starts_with("stack-fo09-xi_a-")
    );
    let (_, list) = emu.get("/v1/edgeclouds?name=edgecloud1").await;
    assert_eq!(list["count"], 1);
    assert_eq!(
        list["edgeclouds"][0]["coverage"]["coverage_sites"][0]["i18n_site"],
        "西安市"
    );
    let inst = &instances(&emu, &format!("edgecloud_id={ec}")).await[0];
    assert_eq!(inst["status"], "ACTIVE");
    assert_eq!(inst["OS-EXT-STS:power_state"], 1);
    assert_eq!(inst["flavor"]["vcpus"], "2");
    assert_eq!(inst["flavor"]["ram"], "4096");
    assert!(
        inst["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == &json!(format!("edgecloud={ec}")))
    );
    let addr = &inst["addresses"][&v][0];
    assert!(addr["addr"].as_str().unwrap().starts_with("192.168."));
    assert_eq!(addr["version"], "4");
    assert_eq!(addr["OS-EXT-IPS:type"], "fixed");
    // VPC in use by instances
    assert_err(&emu.delete(&format!("/v1/vpcs/{v}")).await, 409, "IEC.020113");
    // expand: new plan with the edge cloud id, numbering continues
    let (s, p2) = emu
        .post(
            "/v1/deployments",
            plan(None, Some(&ec), &v, "city", "xi'an", 1, 1),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p2}");
    let p2 = p2["id"].as_str().unwrap().to_string();
    assert_err(
        &emu.post(&format!("/v1/deployments/{p2}/deploy"), json!(null))
            .await,
        400,
        "IEC.010101",
    );
    assert_err(
        &emu.post(&format!("/v1/deployments/{plan_id}/expand"), json!(null))
            .await,
        404,
        "IEC.010100",
    );
    let (s, x) = emu
        .post(&format!("/v1/deployments/{p2}/expand"), json!(null))
        .await;
    assert_eq!(s, StatusCode::OK, "{x}");
    assert_eq!(x["status"], "updating");
    assert!(instances(&emu, "name=IEC-XA01-web-0005").await.len() == 1);
    // expand-by-id with a different coverage level is rejected
    assert_err(
        &emu.post(
            "/v1/deployments",
            plan(None, Some(&ec), &v, "prov", "shaanxi", 1, 1),
        )
        .await,
        400,
        "IEC.010800",
    );
    emu.advance(4).await;
    let (_, e) = emu.get(&format!("/v1/edgeclouds/{ec}")).await;
    assert_eq!(e["status"], "inService");
    assert_eq!(e["success_num"], 5);
    // scale in, then delete everything
    assert_err(
        &emu.delete(&format!("/v1/edgeclouds/{ec}")).await,
        400,
        "IEC.010002",
    );
    let ids: Vec<Value> = instances(&emu, &format!("edgecloud_id={ec}"))
        .await
        .iter()
        .map(|i| json!({"id": i["id"]}))
        .collect();
    let (s, j) = emu.post("/v1/cloudservers/delete", json!({"servers": ids})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{j}");
    assert!(j["job_id"].is_string());
    assert!(
        instances(&emu, &format!("edgecloud_id={ec}"))
            .await
            .iter()
            .all(|i| i["status"] == "DELETED")
    );
    emu.advance(2).await;
    assert!(instances(&emu, &format!("edgecloud_id={ec}")).await.is_empty());
    let (s, j) = emu.delete(&format!("/v1/edgeclouds/{ec}")).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{j}");
    let (_, e) = emu.get(&format!("/v1/edgeclouds/{ec}")).await;
    assert_eq!(e["status"], "deleting");
    emu.advance(2).await;
    assert_err(&emu.get(&format!("/v1/edgeclouds/{ec}")).await, 404, "IEC.010000");
    let (s, _) = emu.delete(&format!("/v1/deployments/{plan_id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_err(
        &emu.delete(&format!("/v1/deployments/{plan_id}")).await,
        404,
        "IEC.010100",
    );
    let (s, _) = emu.delete(&format!("/v1/vpcs/{v}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn plan_validation_errors() {
    let emu = start().await;
    let sys = vpc(&emu, "sys", "SYSTEM").await;
    let cust = vpc(&emu, "cust", "CUSTOMER").await;
    let post = |b: Value| async { emu.post("/v1/deployments", b).await };
    assert_err(
        &post(plan(None, None, &sys, "city", "xi'an", 1, 1)).await,
        400,
        "IEC.010005",
    );
    assert_err(
        &post(plan(Some("a"), Some("b"), &sys, "city", "xi'an", 1, 1)).await,
        400,
        "IEC.010004",
    );
    assert_err(
        &post(plan(Some("bad name!"), None, &sys, "city", "xi'an", 1, 1)).await,
        400,
        "IEC.010004",
    );
    assert_err(
        &post(plan(Some(&"x".repeat(33)), None, &sys, "city", "xi'an", 1, 1)).await,
        400,
        "IEC.010004",
    );
    assert_err(
        &post(plan(Some("a"), None, &sys, "city", "Xi'an", 1, 1)).await,
        404,
        "IEC.011010",
    );
    assert_err(
        &post(plan(Some("a"), None, &sys, "city", "xi'an", 11, 1)).await,
        400,
        "IEC.010800",
    );
    assert_err(
        &post(plan(Some("a"), None, &sys, "town", "xi'an", 1, 1)).await,
        400,
        "IEC.010800",
    );
    assert_err(
        &post(plan(Some("a"), None, &sys, "city", "xi'an", 1, 0)).await,
        400,
        "IEC.010700",
    );
    assert_err(
        &post(plan(Some("a"), None, &cust, "city", "xi'an", 1, 1)).await,
        400,
        "IEC.010303",
    );
    assert_err(
        &post(plan(
            Some("a"),
            Some("nope").filter(|_| false),
            "missing-vpc",
            "city",
            "xi'an",
            1,
            1,
        ))
        .await,
        404,
        "IEC.020104",
    );
    assert_err(
        &post(plan(
            None,
            Some("00000000-0000-0000-0000-00000000dead"),
            &sys,
            "city",
            "xi'an",
            1,
            1,
        ))
        .await,
        404,
        "IEC.010000",
    );
    let mut b = plan(Some("a"), None, &sys, "city", "xi'an", 1, 1);
    b["edgecloud"]["stack"]["resources"][0]["flavor_ref"] = json!("nope");
    assert_err(&post(b.clone()).await, 400, "IEC.010603");
    b["edgecloud"]["stack"]["resources"][0]["flavor_ref"] = json!("c6.large.2");
    b["edgecloud"]["stack"]["resources"][0]["image_ref"] = json!("");
    assert_err(&post(b.clone()).await, 400, "IEC.010641");
    b["edgecloud"]["stack"]["resources"][0]["image_ref"] = json!(IMAGE);
    b["edgecloud"]["stack"]["resources"][0]["root_volume"]["size"] = json!(39);
    assert_err(&post(b.clone()).await, 400, "IEC.010303");
    b["edgecloud"]["stack"]["resources"][0]["root_volume"] = json!({"volume_type": "SSD", "size": 40});
    assert_err(&post(b.clone()).await, 400, "IEC.010303");
    b["edgecloud"]["stack"]["resources"][0]["root_volume"] = json!({"volume_type": "SATA", "size": 40});
    b["edgecloud"]["stack"]["resources"][0]["admin_pass"] = json!("weak");
    assert_err(&post(b.clone()).await, 400, "IEC.010303");
    b["edgecloud"]["stack"]["resources"][0]["admin_pass"] = json!("NOVAGLANCEI@123");
    b["edgecloud"]["stack"]["resources"][0]["name"] = json!("bad name");
    assert_err(&post(b.clone()).await, 400, "IEC.010401");
    b["edgecloud"]["stack"]["resources"][0]["name"] = json!("web");
    b["edgecloud"]["stack"]["resources"][0]["security_groups"] = json!([{"id": "missing"}]);
    assert_err(&post(b.clone()).await, 404, "IEC.020204");
    b["edgecloud"]["stack"]["resources"][0]["security_groups"] = json!([]);
    b["edgecloud"]["stack"]["resources"][0]["key_name"] = json!("nokey");
    assert_err(&post(b.clone()).await, 404, "IEC.010220");
    b["edgecloud"]["stack"]["resources"][0]
        .as_object_mut()
        .unwrap()
        .remove("key_name");
    b["edgecloud"]["coverage"]["coverage_sites"][0]["demands"][0]["operator"] = json!("chinamobile");
    assert_err(&post(b.clone()).await, 404, "IEC.011010");
    b["edgecloud"]["coverage"]["coverage_sites"][0]["demands"][0]["operator"] = json!("chinatelecom");
    b["edgecloud"]["coverage"]["coverage_level"] = json!("site");
    b["edgecloud"]["coverage"]["coverage_sites"][0]["site"] = json!(XIAN);
    b["edgecloud"]["coverage"]["coverage_policy"] = json!("discrete");
    assert_err(&post(b.clone()).await, 400, "IEC.010800");
    // a stack given as an array (doc inconsistency) is accepted
    let mut arr = plan(Some("arr"), None, &sys, "prov", "guangdong", 3, 1);
    arr["edgecloud"]["coverage"]["coverage_policy"] = json!("discrete");
    let st = arr["edgecloud"]["stack"].take();
    arr["edgecloud"]["stack"] = json!([st]);
    let (s, p) = post(arr).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    // discrete over the two guangdong sites: 2 + 1 stacks
    let locs = p["locations"].as_array().unwrap();
    assert_eq!(locs.len(), 2);
    assert_eq!(
        locs.iter()
            .map(|l| l["stack_count"].as_u64().unwrap())
            .sum::<u64>(),
        3
    );
    // a site-level edge cloud cannot be expanded
    let mut site_plan = plan(Some("sitelevel"), None, &sys, "site", ZS, 1, 1);
    site_plan["edgecloud"]["coverage"]["coverage_policy"] = json!("centralize");
    let (s, p) = post(site_plan).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let (_, d) = emu
        .post(
            &format!("/v1/deployments/{}/deploy", p["id"].as_str().unwrap()),
            json!(null),
        )
        .await;
    let ec = d["id"].as_str().unwrap().to_string();
    emu.get("/v1/edgeclouds").await;
    assert_err(
        &post(plan(None, Some(&ec), &sys, "site", ZS, 1, 1)).await,
        400,
        "IEC.010800",
    );
}

#[tokio::test]
async fn edge_cloud_quota_and_failures() {
    let mut cfg = test_config();
    cfg.catalog.quotas.insert(
        "edgeclouds".into(),
        edgefleet_emulator::iec::catalog::QuotaLimit { quota: 1, max: 10 },
    );
    let emu = start_with(cfg).await;
    let v = vpc(&emu, "sys", "SYSTEM").await;
    emu.faults(json!({"instance_failure_rate": 1.0})).await;
    let (_, p) = emu
        .post(
            "/v1/deployments",
            plan(Some("ec1"), None, &v, "city", "xi'an", 1, 1),
        )
        .await;
    let (_, d) = emu
        .post(
            &format!("/v1/deployments/{}/deploy", p["id"].as_str().unwrap()),
            json!(null),
        )
        .await;
    let ec = d["id"].as_str().unwrap().to_string();
    let (_, e) = emu.get(&format!("/v1/edgeclouds/{ec}")).await;
    assert_eq!(e["status"], "failed", "{e}");
    assert_eq!(e["failed_num"], 1);
    assert_eq!(e["fail_reason"]["fail_code"], "IEC.010900");
    assert_err(
        &emu.post(
            "/v1/deployments",
            plan(None, Some(&ec), &v, "city", "xi'an", 1, 1),
        )
        .await,
        400,
        "IEC.010009",
    );
    // quota: a second edge cloud is refused at deploy
    emu.faults(json!({})).await;
    let (_, p) = emu
        .post(
            "/v1/deployments",
            plan(Some("ec2"), None, &v, "city", "xi'an", 1, 1),
        )
        .await;
    assert_err(
        &emu.post(
            &format!("/v1/deployments/{}/deploy", p["id"].as_str().unwrap()),
            json!(null),
        )
        .await,
        400,
        "IEC.010910",
    );
    // a failed edge cloud can be deleted together with its failed members
    let (s, _) = emu.delete(&format!("/v1/edgeclouds/{ec}")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    emu.get("/v1/edgeclouds").await;
    assert_err(&emu.get(&format!("/v1/edgeclouds/{ec}")).await, 404, "IEC.010000");
    assert!(instances(&emu, "").await.is_empty());
    // stuck: members never leave BUILD, the edge cloud stays creating
    emu.faults(json!({"stuck": ["iec.instance"]})).await;
    let (_, d) = emu
        .post(
            &format!("/v1/deployments/{}/deploy", p["id"].as_str().unwrap()),
            json!(null),
        )
        .await;
    let ec2 = d["id"].as_str().unwrap().to_string();
    emu.advance(3600).await;
    let (_, e) = emu.get(&format!("/v1/edgeclouds/{ec2}")).await;
    assert_eq!(e["status"], "creating");
    assert!(instances(&emu, "").await.iter().all(|i| i["status"] == "BUILD"));
    // capacity exhaustion at plan time
    emu.faults(json!({"capacity_exhausted_sites": [XIAN]})).await;
    assert_err(
        &emu.post(
            "/v1/deployments",
            plan(Some("ec3"), None, &v, "city", "xi'an", 1, 1),
        )
        .await,
        400,
        "IEC.011018",
    );
}

fn seed_network(emu: &Emu, vpc_id: &str) -> (String, String) {
    let subnet = "11111111-2222-3333-4444-555555555555".to_string();
    let sg = "66666666-7777-8888-9999-000000000000".to_string();
    emu.handle.app().with_world(|w| {
        let s = w.account(DEFAULT_DOMAIN_ID);
        s.insert_json(
            "iec.subnet",
            json!({"id": subnet, "name": "s", "cidr": "192.168.1.0/24", "vpc_id": vpc_id,
            "site_id": ZS, "gateway_ip": "192.168.1.1"}),
        )
        .unwrap();
        s.insert_json("iec.security_group", json!({"id": sg, "name": "web-sg"}))
            .unwrap();
    });
    (subnet, sg)
}

fn server(vpc_id: &str, subnet: &str, sg: &str, count: i64) -> Value {
    json!({"server": {"name": "ecs01", "image_ref": IMAGE, "flavor_ref": "c6.large.2",
        "net_config": {"vpc_id": vpc_id, "subnets": [{"id": subnet}]}, "bandwidth": {"sharetype": "WHOLE"},
        "root_volume": {"volume_type": "SAS", "size": 40}, "data_volumes": [{"volume_type": "SATA", "size": 100}],
        "count": count, "security_groups": [{"id": sg}],
        "coverage": {"coverage_policy": "centralize", "coverage_level": "site",
            "coverage_sites": [{"site": ZS, "demands": [{"pool_id": "5_unicon_site3"}]}]}}})
}

#[tokio::test]
async fn direct_instances_and_operations() {
    let emu = start_slow().await;
    let v = vpc(&emu, "cust", "CUSTOMER").await;
    let (subnet, sg) = seed_network(&emu, &v);
    let (s, r) = emu.post("/v1/cloudservers", server(&v, &subnet, &sg, 2)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    let ids: Vec<String> = r["server_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    let (_, g) = emu.get(&format!("/v1/cloudservers/{}", ids[0])).await;
    let inst = &g["server"];
    assert_eq!(inst["name"], "IEC-ZS01-ecs01-0001");
    assert_eq!(inst["status"], "BUILD");
    let addrs = inst["addresses"][&v].as_array().unwrap();
    assert_eq!(addrs.len(), 2, "fixed + floating");
    assert!(addrs[0]["addr"].as_str().unwrap().starts_with("192.168.1."));
    assert_eq!(addrs[1]["OS-EXT-IPS:type"], "floating");
    assert_eq!(inst["security_groups"][0]["name"], "web-sg");
    assert_eq!(
        inst["os-extended-volumes:volumes_attached"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(inst["os-extended-volumes:volumes_attached"][0]["bootIndex"], "0");
    // the subnet and SG are in use by instances
    emu.handle.app().with_world(|w| {
        let s = w.account(DEFAULT_DOMAIN_ID);
        assert!(s.is_referenced_by("iec.subnet", &subnet, "iec.instance"));
        assert!(s.is_referenced_by("iec.security_group", &sg, "iec.instance"));
        assert_eq!(s.ips_in_use(&subnet), 2);
    });
    // with_prefix false, single instance: no numbering
    let mut one = server(&v, &subnet, &sg, 1);
    one["server"]["with_prefix"] = json!(false);
    let (_, r1) = emu.post("/v1/cloudservers", one).await;
    let solo = r1["server_ids"][0].as_str().unwrap().to_string();
    assert_eq!(
        emu.get(&format!("/v1/cloudservers/{solo}")).await.1["server"]["name"],
        "ecs01"
    );
    // update during BUILD is refused
    assert_err(
        &emu.put(
            &format!("/v1/cloudservers/{}", ids[0]),
            json!({"server": {"name": "x"}}),
        )
        .await,
        400,
        "IEC.010406",
    );
    emu.advance(4).await;
    // update → top-level Instance
    let (s, u) = emu
        .put(
            &format!("/v1/cloudservers/{}", ids[0]),
            json!({"server": {"name": "renamed.1", "description": "d"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["name"], "renamed.1");
    assert!(u.get("server").is_none());
    assert_err(
        &emu.put(
            &format!("/v1/cloudservers/{}", ids[0]),
            json!({"server": {"description": "<b>"}}),
        )
        .await,
        400,
        "IEC.010410",
    );
    assert_err(
        &emu.put(
            &format!("/v1/cloudservers/{}", ids[0]),
            json!({"server": {"name": ""}}),
        )
        .await,
        400,
        "IEC.010401",
    );
    assert_err(
        &emu.put("/v1/cloudservers/nope", json!({"server": {"name": "a"}}))
            .await,
        404,
        "IEC.010200",
    );
    // stop → SHUTOFF
    let (s, j) = emu
        .post(
            "/v1/cloudservers/action",
            json!({"os-stop": {"servers": [{"id": ids[0]}], "type": "HARD"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{j}");
    assert!(j["jobs"][0]["job_id"].is_string());
    let (_, g) = emu.get(&format!("/v1/cloudservers/{}", ids[0])).await;
    assert_eq!(g["server"]["OS-EXT-STS:task_state"], "powering-off");
    emu.advance(2).await;
    let (_, g) = emu.get(&format!("/v1/cloudservers/{}", ids[0])).await;
    assert_eq!(g["server"]["status"], "SHUTOFF");
    assert_eq!(g["server"]["OS-EXT-STS:power_state"], 4);
    assert_eq!(instances(&emu, "status=SHUTOFF").await.len(), 1);
    assert_eq!(instances(&emu, "status=NOPE").await.len(), 0);
    // change-os only when shut off
    assert_err(
        &emu.post(
            &format!("/v1/cloudservers/{}/change-os", ids[1]),
            json!({"image_id": IMAGE2}),
        )
        .await,
        409,
        "IEC.010222",
    );
    assert_err(
        &emu.post(
            &format!("/v1/cloudservers/{}/change-os", ids[0]),
            json!({"image_id": "not-a-uuid"}),
        )
        .await,
        400,
        "IEC.010223",
    );
    assert_err(
        &emu.post(
            &format!("/v1/cloudservers/{}/change-os", ids[0]),
            json!({"image": 1}),
        )
        .await,
        400,
        "IEC.010224",
    );
    let (s, j) = emu
        .post(
            &format!("/v1/cloudservers/{}/change-os", ids[0]),
            json!({"image_id": IMAGE2, "metadata": {"user_data": "eA=="}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{j}");
    assert!(j["job_id"].is_string());
    assert_eq!(
        instances(&emu, "status=SHUTOFF").await.len(),
        1,
        "REBUILD matches SHUTOFF"
    );
    emu.advance(3).await;
    let (_, g) = emu.get(&format!("/v1/cloudservers/{}", ids[0])).await;
    assert_eq!(g["server"]["status"], "ACTIVE");
    assert_eq!(g["server"]["metadata"]["image_name"], "Ubuntu 20.04 server 64bit");
    // reboot needs a type; bad keys are rejected
    assert_err(
        &emu.post(
            "/v1/cloudservers/action",
            json!({"reboot": {"servers": [{"id": ids[1]}]}}),
        )
        .await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.post(
            "/v1/cloudservers/action",
            json!({"os-pause": {"servers": [{"id": ids[1]}]}}),
        )
        .await,
        400,
        "IEC.010210",
    );
    assert_err(
        &emu.post("/v1/cloudservers/action", json!({})).await,
        400,
        "IEC.010210",
    );
    assert_err(
        &emu.post(
            "/v1/cloudservers/action",
            json!({"os-start": {"servers": [{"id": "nope"}]}}),
        )
        .await,
        404,
        "IEC.010200",
    );
    let (s, _) = emu
        .post(
            "/v1/cloudservers/action",
            json!({"reboot": {"servers": [{"id": ids[1]}], "type": "SOFT"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        emu.get(&format!("/v1/cloudservers/{}", ids[1])).await.1["server"]["status"],
        "REBOOT"
    );
    emu.advance(2).await;
    assert_eq!(
        emu.get(&format!("/v1/cloudservers/{}", ids[1])).await.1["server"]["status"],
        "ACTIVE"
    );
    // NICs
    let (s, _) = emu
        .post(
            &format!("/v1/cloudservers/{}/nics", ids[1]),
            json!({"vpc_id": v, "subnet_id": subnet, "security_groups": [{"id": sg}], "nic_num": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_err(
        &emu.post(
            &format!("/v1/cloudservers/{}/nics", ids[1]),
            json!({"vpc_id": v, "security_groups": [{"id": sg}], "nic_num": 1}),
        )
        .await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.post(
            &format!("/v1/cloudservers/{}/nics", ids[1]),
            json!({"vpc_id": v, "subnet_id": subnet, "security_groups": [{"id": sg}], "nic_num": 6}),
        )
        .await,
        400,
        "IEC.000007",
    );
    let g = emu.get(&format!("/v1/cloudservers/{}", ids[1])).await.1;
    let ports: Vec<String> = g["server"]["addresses"][&v]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["OS-EXT-IPS:type"] == "fixed")
        .map(|a| a["OS-EXT-IPS:port_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ports.len(), 3);
    let (s, _) = emu
        .post(
            &format!("/v1/cloudservers/{}/nics/delete", ids[1]),
            json!({"nics": [{"id": ports[2]}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_err(
        &emu.post(
            &format!("/v1/cloudservers/{}/nics/delete", ids[1]),
            json!({"nics": [{"id": ports[0]}]}),
        )
        .await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.post(
            &format!("/v1/cloudservers/{}/nics/delete", ids[1]),
            json!({"nics": [{"id": "nope"}]}),
        )
        .await,
        400,
        "IEC.020611",
    );
    // delete all; addresses and references are released
    let all: Vec<Value> = ids.iter().chain([&solo]).map(|i| json!({"id": i})).collect();
    assert_eq!(
        emu.post("/v1/cloudservers/delete", json!({"servers": all}))
            .await
            .0,
        StatusCode::ACCEPTED
    );
    emu.advance(2).await;
    assert!(instances(&emu, "").await.is_empty());
    emu.handle.app().with_world(|w| {
        let s = w.account(DEFAULT_DOMAIN_ID);
        assert!(!s.is_referenced_by("iec.subnet", &subnet, "iec.instance"));
        assert_eq!(s.ips_in_use(&subnet), 0);
    });
}

#[tokio::test]
async fn direct_create_validation() {
    let emu = start().await;
    let v = vpc(&emu, "cust", "CUSTOMER").await;
    let (subnet, sg) = seed_network(&emu, &v);
    let base = server(&v, &subnet, &sg, 1);
    let check = |mutate: &dyn Fn(&mut Value), status: u16, code: &'static str| {
        let mut b = base.clone();
        mutate(&mut b);
        (b, status, code)
    };
    let cases: Vec<(Value, u16, &str)> = vec![
        check(&|b| b["server"]["count"] = json!(0), 400, "IEC.010700"),
        check(&|b| b["server"]["count"] = json!(51), 400, "IEC.000007"),
        check(&|b| b["server"]["count"] = json!("1"), 400, "IEC.000007"),
        check(&|b| b["server"]["name"] = json!("a.b"), 400, "IEC.010401"),
        check(
            &|b| b["server"]["coverage"]["coverage_level"] = json!("city"),
            400,
            "IEC.010800",
        ),
        check(
            &|b| b["server"]["coverage"]["coverage_sites"][0]["demands"] = json!([]),
            400,
            "IEC.010800",
        ),
        check(
            &|b| b["server"]["coverage"]["coverage_sites"][0]["site"] = json!("nowhere"),
            400,
            "IEC.020403",
        ),
        check(&|b| b["server"]["flavor_ref"] = json!("huge"), 400, "IEC.010603"),
        check(
            &|b| {
                b["server"].as_object_mut().unwrap().remove("image_ref");
            },
            400,
            "IEC.010641",
        ),
        check(
            &|b| b["server"]["image_ref"] = json!("00000000-0000-0000-0000-0000000000ff"),
            400,
            "IEC.010641",
        ),
        check(
            &|b| b["server"]["root_volume"]["size"] = json!(101),
            400,
            "IEC.000007",
        ),
        check(
            &|b| b["server"]["data_volumes"] = json!([{"volume_type": "SATA", "size": 1}, {"volume_type": "SATA", "size": 1}, {"volume_type": "SATA", "size": 1}]),
            400,
            "IEC.000007",
        ),
        check(
            &|b| b["server"]["admin_pass"] = json!("password"),
            400,
            "IEC.000007",
        ),
        check(
            &|b| b["server"]["bandwidth"]["sharetype"] = json!("PER"),
            400,
            "IEC.000007",
        ),
        check(
            &|b| b["server"]["net_config"]["vpc_id"] = json!("nope"),
            404,
            "IEC.020104",
        ),
        check(
            &|b| b["server"]["net_config"]["subnets"][0]["id"] = json!("nope"),
            404,
            "IEC.020003",
        ),
        check(
            &|b| b["server"]["security_groups"][0]["id"] = json!("nope"),
            404,
            "IEC.020204",
        ),
        check(&|b| b["server"]["key_name"] = json!("nokey"), 404, "IEC.010220"),
        check(
            &|b| b["server"]["coverage"]["coverage_sites"][0]["demands"][0]["pool_id"] = json!("5_elsewhere"),
            400,
            "IEC.020713",
        ),
        check(
            &|b| {
                b["server"].as_object_mut().unwrap().remove("coverage");
            },
            400,
            "IEC.000007",
        ),
    ];
    for (b, status, code) in cases {
        let got = emu.post("/v1/cloudservers", b.clone()).await;
        assert_eq!(got.1["error_code"], code, "body {b}\n→ {}", got.1);
        assert_err(&got, status, code);
    }
    emu.faults(json!({"capacity_exhausted_sites": [ZS]})).await;
    assert_err(
        &emu.post("/v1/cloudservers", base.clone()).await,
        400,
        "IEC.011018",
    );
    emu.faults(json!({})).await;
    let mut cfg_quota = base.clone();
    cfg_quota["server"]["count"] = json!(50);
    cfg_quota["server"]["data_volumes"] = json!([{"volume_type": "SATA", "size": 500}]);
    assert_err(&emu.post("/v1/cloudservers", cfg_quota).await, 400, "IEC.010910");
    assert!(
        instances(&emu, "").await.is_empty(),
        "failed creates leave nothing behind"
    );
}

#[tokio::test]
async fn instance_list_pages_by_page_number() {
    let emu = start().await;
    let v = vpc(&emu, "cust", "CUSTOMER").await;
    let (subnet, sg) = seed_network(&emu, &v);
    let (s, _) = emu.post("/v1/cloudservers", server(&v, &subnet, &sg, 30)).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, p) = emu.get("/v1/cloudservers").await;
    assert_eq!(p["count"], 30);
    assert_eq!(p["servers"].as_array().unwrap().len(), 25, "default limit 25");
    let names = |v: &Value| {
        v["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let p0 = emu.get("/v1/cloudservers?limit=10&offset=0").await.1;
    let p1 = emu.get("/v1/cloudservers?limit=10&offset=1").await.1;
    let p2 = emu.get("/v1/cloudservers?limit=10&offset=2").await.1;
    assert_eq!(names(&p0), names(&p1));
    assert_eq!(names(&p2)[0], "IEC-ZS01-ecs01-0011");
    assert_eq!(
        emu.get("/v1/cloudservers?limit=10&offset=4").await.1["servers"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_err(&emu.get("/v1/cloudservers?offset=-1").await, 400, "IEC.020916");
    assert_eq!(
        instances(&emu, &format!("site_id={ZS}&city=ZHONGSHAN"))
            .await
            .len(),
        30
    );
    assert_eq!(instances(&emu, "province=hunan").await.len(), 0);
}

#[tokio::test]
async fn catalog_images_and_quotas() {
    let emu = start().await;
    let (_, s) = emu.get("/v1/sites").await;
    assert_eq!(s["count"], 5);
    assert_eq!(s["sites"][0]["pools"][0]["operator"]["name"], "chinatelecom");
    assert_eq!(emu.get("/v1/sites?city=XI'AN,changsha").await.1["count"], 2);
    assert_eq!(
        emu.get("/v1/sites?limit=1&offset=1").await.1["sites"][0]["name"],
        "changsha"
    );
    let (_, f) = emu
        .get("/v1/cloudservers/flavors?area=north&limit=2&offset=1")
        .await;
    assert_eq!(f["count"], 5);
    assert_eq!(f["flavors"].as_array().unwrap().len(), 2);
    assert_eq!(f["flavors"][0]["ram"], 4096);
    assert_eq!(f["flavors"][0]["vcpus"], "2");
    assert_eq!(
        emu.get("/v1/cloudservers/flavors?id=c6.xlarge.2").await.1["count"],
        1
    );
    let (_, i) = emu.get("/v1/images?limit=2").await;
    assert_eq!(i["total"], 4);
    assert_eq!(i["images"].as_array().unwrap().len(), 2);
    assert_err(&emu.get("/v1/images?limit=501").await, 400, "IEC.000006");
    assert_err(&emu.get("/v1/images?sort_key=size").await, 400, "IEC.000006");
    let (s, one) = emu.get(&format!("/v1/images/{IMAGE}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one["id"], IMAGE, "image GET is not wrapped");
    assert_err(
        &emu.get("/v1/images/00000000-0000-0000-0000-0000000000ff").await,
        404,
        "IEC.030201",
    );
    let (s, r) = emu
        .post(
            "/v1/images/register",
            json!({"image_id": "940246bd-f7f4-4341-a523-48ecc67e3642", "region_id": "cn-north-4"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let img = r["image_id"].as_str().unwrap().to_string();
    let job = r["job_id"].as_str().unwrap().to_string();
    assert_eq!(
        emu.get(&format!("/v1/images?visibility=private&id={img}"))
            .await
            .1["total"],
        1
    );
    let (s, _) = emu
        .post(
            &format!("/v1/{DEFAULT_DOMAIN_ID}/jobs/{job}/action"),
            json!({"action": "retry"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_err(
        &emu.post(
            &format!("/v1/{DEFAULT_DOMAIN_ID}/jobs/{job}/action"),
            json!({"action": "go"}),
        )
        .await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.post(
            &format!("/v1/{}/jobs/{job}/action", "0".repeat(32)),
            json!({"action": "retry"}),
        )
        .await,
        403,
        "IEC.000005",
    );
    assert_err(
        &emu.post(
            &format!("/v1/{DEFAULT_DOMAIN_ID}/jobs/nope/action"),
            json!({"action": "retry"}),
        )
        .await,
        404,
        "IEC.000022",
    );
    assert_err(
        &emu.post("/v1/images/register", json!({"region_id": "cn-north-4"}))
            .await,
        400,
        "IEC.000007",
    );
    let (s, _) = emu.delete(&format!("/v1/images/{img}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_err(&emu.delete(&format!("/v1/images/{img}")).await, 404, "IEC.030201");
    let (_, c) = emu.get("/v1/cloudimages/cn-north-4?limit=2").await;
    assert_eq!(c["images"].as_array().unwrap().len(), 2);
    let marker = c["images"][1]["id"].as_str().unwrap();
    assert_eq!(
        emu.get(&format!("/v1/cloudimages/cn-north-4?marker={marker}"))
            .await
            .1["images"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (_, q) = emu.get("/v1/edgeclouds/quotas").await;
    let res = q["quotas"]["resources"].as_array().unwrap();
    let ec = res.iter().find(|r| r["type"] == "edgeclouds").unwrap();
    assert_eq!(ec["quota"], 10);
    assert_eq!(ec["used"], 0);
    assert!(res.iter().any(|r| r["type"] == "vpc"));
}

/// A seeded generator of hostile bodies for the create APIs: every answer must be a documented
/// status with an IEC/APIGW error body — never a 500 or a dropped connection.
#[tokio::test]
async fn fuzzed_create_bodies_never_break_the_emulator() {
    let emu = start().await;
    let v = vpc(&emu, "sys", "SYSTEM").await;
    let (subnet, sg) = seed_network(&emu, &v);
    let seeds = [
        (
            "/v1/deployments",
            plan(Some("fz"), None, &v, "city", "xi'an", 1, 1),
        ),
        ("/v1/cloudservers", server(&v, &subnet, &sg, 1)),
        (
            "/v1/vpcs",
            json!({"vpc": {"name": "fz", "cidr": "10.0.0.0/8", "mode": "SYSTEM"}}),
        ),
        (
            "/v1/cloudservers/action",
            json!({"os-stop": {"servers": [{"id": "x"}], "type": "SOFT"}}),
        ),
        ("/v1/cloudservers/delete", json!({"servers": [{"id": "x"}]})),
    ];
    let mut rng = edgefleet_emulator::core::ids::Rng::new(42);
    let weird = [
        json!(null),
        json!(-1),
        json!(0),
        json!(1e308),
        json!(i64::MAX),
        json!(""),
        json!("x".repeat(5000)),
        json!([]),
        json!({}),
        json!(true),
        json!("边缘云"),
        json!([1, "a", null]),
    ];
    fn paths(v: &Value, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let mut p = prefix.clone();
                    p.push(k.clone());
                    out.push(p.clone());
                    paths(x, p, out);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    let mut p = prefix.clone();
                    p.push(i.to_string());
                    out.push(p.clone());
                    paths(x, p, out);
                }
            }
            _ => {}
        }
    }
    fn at<'a>(v: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
        let mut cur = v;
        for k in path {
            cur = match cur {
                Value::Object(m) => m.get_mut(k)?,
                Value::Array(a) => a.get_mut(k.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(cur)
    }
    for round in 0..300 {
        let (path, seed) = &seeds[round % seeds.len()];
        let mut body = seed.clone();
        let mut all = Vec::new();
        paths(&body, vec![], &mut all);
        for _ in 0..=rng.below(3) {
            let p = &all[rng.below(all.len() as u64) as usize];
            if rng.chance(0.3) {
                let (last, parent) = p.split_last().unwrap();
                if let Some(Value::Object(m)) = at(&mut body, parent) {
                    m.remove(last);
                }
            } else if let Some(slot) = at(&mut body, p) {
                *slot = weird[rng.below(weird.len() as u64) as usize].clone();
            }
        }
        let (s, v) = emu.post(path, body.clone()).await;
        assert!(
            matches!(s.as_u16(), 200 | 202 | 400 | 404 | 409),
            "round {round}: {path} {body} → {s} {v}"
        );
        if !s.is_success() {
            let code = v["error_code"].as_str().unwrap_or_default();
            assert!(
                code.starts_with("IEC.") || code.starts_with("APIGW."),
                "round {round}: {v}"
            );
        }
    }
    // raw garbage
    for raw in [
        b"\xff\xfe".to_vec(),
        b"[[[[[[[[[[".to_vec(),
        b"{\"vpc\":".to_vec(),
        b"null".to_vec(),
        b"1".to_vec(),
    ] {
        for path in [
            "/v1/vpcs",
            "/v1/deployments",
            "/v1/cloudservers",
            "/v1/cloudservers/action",
        ] {
            let (s, _) = emu.raw(reqwest::Method::POST, path, raw.clone()).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{path} {raw:?}");
        }
    }
    let calls = emu.handle.calls();
    assert!(
        calls.operations.values().all(|c| !c.statuses.contains_key(&500)),
        "{calls:?}"
    );
}

/// Pending transitions survive a snapshot round trip into a fresh emulator.
#[tokio::test]
async fn snapshot_restores_objects_and_pending_transitions() {
    let emu = start_slow().await;
    let v = vpc(&emu, "sys", "SYSTEM").await;
    let (_, p) = emu
        .post(
            "/v1/deployments",
            plan(Some("snap"), None, &v, "city", "changsha", 1, 3),
        )
        .await;
    let (_, d) = emu
        .post(
            &format!("/v1/deployments/{}/deploy", p["id"].as_str().unwrap()),
            json!(null),
        )
        .await;
    let ec = d["id"].as_str().unwrap().to_string();
    let snapshot = emu.handle.state();
    let other = start_slow().await;
    let r = other
        .http
        .put(format!("{}/_emulator/state", other.base))
        .json(&snapshot)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, e) = other.get(&format!("/v1/edgeclouds/{ec}")).await;
    assert_eq!(e["status"], "creating");
    assert_eq!(instances(&other, "").await.len(), 3);
    other.advance(5).await;
    let (_, e) = other.get(&format!("/v1/edgeclouds/{ec}")).await;
    assert_eq!(e["status"], "inService");
    assert_eq!(e["success_num"], 3);
    let names: Vec<String> = instances(&other, "")
        .await
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.iter().all(|n| n.starts_with("IEC-CS01-web-")), "{names:?}");
    // unknown fields in a body are ignored
    let (s, _) = other
        .post(
            "/v1/vpcs",
            json!({"vpc": {"name": "extra", "cidr": "10.0.0.0/8", "mode": "SYSTEM", "tags": [1]}, "x": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn slow_builds_keep_the_named_member_building_and_its_edge_cloud_busy() {
    let emu = start_slow().await;
    let v = vpc(&emu, "sys", "SYSTEM").await;
    emu.faults(json!({"slow_builds": [{"name": "web-0002", "delay_ms": 60000}]}))
        .await;
    let mut body = plan(Some("slow"), None, &v, "city", "xi'an", 1, 2);
    body["edgecloud"]["stack"]["resources"][0]["with_prefix"] = json!(false);
    let (s, p) = emu.post("/v1/deployments", body).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let (_, d) = emu
        .post(
            &format!("/v1/deployments/{}/deploy", p["id"].as_str().unwrap()),
            json!(null),
        )
        .await;
    let ec = d["id"].as_str().unwrap().to_string();
    let status_of = |all: &[Value], name: &str| {
        all.iter()
            .find(|i| i["name"] == name)
            .map(|i| i["status"].as_str().unwrap().to_owned())
    };
    // Past the usual build time only the named member is still building; the edge cloud waits for it.
    emu.advance(10).await;
    let all = instances(&emu, "").await;
    assert_eq!(status_of(&all, "web-0001").as_deref(), Some("ACTIVE"), "{all:?}");
    assert_eq!(status_of(&all, "web-0002").as_deref(), Some("BUILD"), "{all:?}");
    let (_, e) = emu.get(&format!("/v1/edgeclouds/{ec}")).await;
    assert_eq!(e["status"], "creating", "{e}");
    // After its own delay it builds as usual, and the edge cloud goes inService.
    emu.advance(60).await;
    let all = instances(&emu, "").await;
    assert_eq!(status_of(&all, "web-0002").as_deref(), Some("ACTIVE"), "{all:?}");
    // (the edge cloud re-checks its members every second)
    emu.advance(2).await;
    let (_, e) = emu.get(&format!("/v1/edgeclouds/{ec}")).await;
    assert_eq!(e["status"], "inService", "{e}");
}
