//! Contract tests for the subnets family over real HTTP: lifecycle, cidr rules, in-use delete
//! and not-found answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Emu, assert_err, start};
use edgefleet_emulator::config::DEFAULT_DOMAIN_ID;
use reqwest::StatusCode;
use serde_json::{Value, json};

const ZS: &str = "a0272146-f6d8-4e3f-a1dc-196ec4a2f856";
const IMAGE: &str = "00000000-0000-0000-0000-000000000002";

async fn vpc(emu: &Emu, name: &str, cidr: &str, mode: &str) -> String {
    let (s, v) = emu
        .post(
            "/v1/vpcs",
            json!({"vpc": {"name": name, "cidr": cidr, "mode": mode}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["vpc"]["id"].as_str().unwrap().to_string()
}

fn subnet(name: &str, cidr: &str, gateway: &str, vpc_id: &str) -> Value {
    json!({"subnet": {"name": name, "cidr": cidr, "gateway_ip": gateway, "vpc_id": vpc_id,
        "site_id": ZS, "primary_dns": "8.8.8.8", "dnsList": ["8.8.8.8", "1.1.1.1"]}})
}

#[tokio::test]
async fn subnet_lifecycle() {
    let emu = start().await;
    let v = vpc(&emu, "cust", "172.16.0.0/16", "CUSTOMER").await;
    let (s, b) = emu
        .post("/v1/subnets", subnet("s1", "172.16.1.0/24", "172.16.1.1", &v))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let sub = &b["subnet"];
    let id = sub["id"].as_str().unwrap().to_string();
    assert_eq!(sub["status"], "ACTIVE");
    assert_eq!(sub["vpc_id"], v.as_str());
    assert_eq!(sub["site_id"], ZS);
    assert_eq!(sub["cidr"], "172.16.1.0/24");
    assert_eq!(sub["dhcp_enable"], true);
    assert_eq!(sub["dnsList"], json!(["8.8.8.8", "1.1.1.1"]));
    assert_eq!(sub["neutron_network_id"], id.as_str());
    assert!(sub["site_info"].as_str().unwrap().contains('/'));
    let (_, vv) = emu.get(&format!("/v1/vpcs/{v}")).await;
    assert_eq!(vv["vpc"]["subnet_num"], 1);

    let (s, g) = emu.get(&format!("/v1/subnets/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(g["subnet"], *sub);

    let (s, u) = emu
        .put(
            &format!("/v1/subnets/{id}"),
            json!({"subnet": {"name": "renamed", "dhcp_enable": false, "dnsList": ["8.8.8.8", "9.9.9.9"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["subnet"]["id"], id.as_str());
    assert_eq!(u["subnet"]["status"], "ACTIVE");
    let (_, g) = emu.get(&format!("/v1/subnets/{id}")).await;
    assert_eq!(g["subnet"]["name"], "renamed");
    assert_eq!(g["subnet"]["dhcp_enable"], false);
    assert_eq!(g["subnet"]["dnsList"], json!(["8.8.8.8", "9.9.9.9"]));

    // a second subnet at another range, then filters and paging
    let (s, b2) = emu
        .post("/v1/subnets", subnet("s2", "172.16.2.0/24", "172.16.2.1", &v))
        .await;
    assert_eq!(s, StatusCode::OK, "{b2}");
    let (_, l) = emu.get(&format!("/v1/subnets?vpc_id={v}")).await;
    assert_eq!(l["count"], 2);
    let (_, l) = emu.get(&format!("/v1/subnets?vpc_id={v}&limit=1&offset=1")).await;
    assert_eq!(l["count"], 2);
    assert_eq!(l["subnets"].as_array().unwrap().len(), 1);
    let (_, l) = emu.get("/v1/subnets?vpc_id=other").await;
    assert_eq!(l["count"], 0);
    let (_, l) = emu.get("/v1/subnets?site_id=elsewhere").await;
    assert_eq!(l["count"], 0);

    // the VPC cannot go while it has subnets
    assert_err(&emu.delete(&format!("/v1/vpcs/{v}")).await, 409, "IEC.020113");
    let (s, _) = emu.delete(&format!("/v1/subnets/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let id2 = b2["subnet"]["id"].as_str().unwrap();
    let (s, _) = emu.delete(&format!("/v1/subnets/{id2}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, vv) = emu.get(&format!("/v1/vpcs/{v}")).await;
    assert_eq!(vv["vpc"]["subnet_num"], 0);
    let (s, _) = emu.delete(&format!("/v1/vpcs/{v}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn subnet_validation_and_cidr_conflicts() {
    let emu = start().await;
    let v = vpc(&emu, "cust", "172.16.0.0/16", "CUSTOMER").await;
    let sys = vpc(&emu, "sys", "10.0.0.0/16", "SYSTEM").await;
    let (s, b) = emu
        .post("/v1/subnets", subnet("s1", "172.16.1.0/24", "172.16.1.1", &v))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let cases = [
        // overlapping and identical cidrs within the VPC
        (subnet("s2", "172.16.1.0/25", "172.16.1.1", &v), 409, "IEC.020007"),
        (subnet("s2", "172.16.1.0/24", "172.16.1.1", &v), 409, "IEC.020007"),
        (subnet("s2", "172.16.0.0/20", "172.16.0.1", &v), 409, "IEC.020007"),
        // outside the VPC, mask too long, gateway outside, garbage
        (subnet("s2", "10.9.0.0/24", "10.9.0.1", &v), 400, "IEC.020013"),
        (subnet("s2", "172.16.9.0/29", "172.16.9.1", &v), 400, "IEC.020013"),
        (subnet("s2", "172.16.9.0/24", "172.16.8.1", &v), 400, "IEC.020013"),
        (subnet("s2", "x", "172.16.8.1", &v), 400, "IEC.020013"),
        // unknown VPC, SYSTEM VPC, bad name
        (
            subnet("s2", "172.16.9.0/24", "172.16.9.1", "nope"),
            404,
            "IEC.020104",
        ),
        (subnet("s2", "10.0.1.0/24", "10.0.1.1", &sys), 400, "IEC.020107"),
        (subnet("", "172.16.9.0/24", "172.16.9.1", &v), 400, "IEC.000007"),
        (
            subnet("a b", "172.16.9.0/24", "172.16.9.1", &v),
            400,
            "IEC.000007",
        ),
    ];
    for (body, status, code) in cases {
        assert_err(&emu.post("/v1/subnets", body).await, status, code);
    }
    let mut bad_site = subnet("s2", "172.16.9.0/24", "172.16.9.1", &v);
    bad_site["subnet"]["site_id"] = json!("no-such-site");
    assert_err(&emu.post("/v1/subnets", bad_site).await, 400, "IEC.020403");
    let mut bad_dns = subnet("s2", "172.16.9.0/24", "172.16.9.1", &v);
    bad_dns["subnet"]["dnsList"] = json!(["1.1.1.1"]);
    assert_err(&emu.post("/v1/subnets", bad_dns).await, 400, "IEC.000007");
    assert_err(
        &emu.post("/v1/subnets", json!({"name": "unwrapped"})).await,
        400,
        "IEC.000007",
    );

    // the same cidr is fine in another VPC
    let v2 = vpc(&emu, "cust2", "172.16.0.0/16", "CUSTOMER").await;
    let (s, b) = emu
        .post("/v1/subnets", subnet("s1", "172.16.1.0/24", "172.16.1.1", &v2))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, l) = emu.get("/v1/subnets").await;
    assert_eq!(l["count"], 2);
}

#[tokio::test]
async fn subnet_in_use_by_instance_cannot_be_deleted() {
    let emu = start().await;
    let v = vpc(&emu, "cust", "192.168.0.0/16", "CUSTOMER").await;
    let (s, b) = emu
        .post("/v1/subnets", subnet("s1", "192.168.1.0/24", "192.168.1.1", &v))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let sub = b["subnet"]["id"].as_str().unwrap().to_string();
    let sg = "66666666-7777-8888-9999-000000000000";
    emu.handle.app().with_world(|w| {
        w.account(DEFAULT_DOMAIN_ID)
            .insert_json("iec.security_group", json!({"id": sg, "name": "web-sg"}))
            .unwrap();
    });
    let server = json!({"server": {"name": "ecs01", "image_ref": IMAGE, "flavor_ref": "c6.large.2",
        "net_config": {"vpc_id": v, "subnets": [{"id": sub}]}, "bandwidth": {"sharetype": "WHOLE"},
        "root_volume": {"volume_type": "SAS", "size": 40}, "count": 1, "security_groups": [{"id": sg}],
        "coverage": {"coverage_policy": "centralize", "coverage_level": "site",
            "coverage_sites": [{"site": ZS, "demands": [{"pool_id": "5_unicon_site3"}]}]}}});
    let (s, r) = emu.post("/v1/cloudservers", server).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    let (_, g) = emu
        .get(&format!(
            "/v1/cloudservers/{}",
            r["server_ids"][0].as_str().unwrap()
        ))
        .await;
    let addr = g["server"]["addresses"][&v][0]["addr"].as_str().unwrap();
    assert!(addr.starts_with("192.168.1."), "{addr}");

    assert_err(
        &emu.delete(&format!("/v1/subnets/{sub}")).await,
        400,
        "IEC.020008",
    );
    let (s, _) = emu.get(&format!("/v1/subnets/{sub}")).await;
    assert_eq!(s, StatusCode::OK, "the subnet survives a refused delete");
}

#[tokio::test]
async fn unknown_subnets_are_not_found() {
    let emu = start().await;
    let missing = "/v1/subnets/4c2a7e40-0000-0000-0000-000000000000";
    assert_err(&emu.get(missing).await, 404, "IEC.020003");
    assert_err(
        &emu.put(missing, json!({"subnet": {"name": "x"}})).await,
        404,
        "IEC.020003",
    );
    assert_err(&emu.delete(missing).await, 404, "IEC.020003");
    let (s, l) = emu.get("/v1/subnets").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(l, json!({"count": 0, "subnets": []}));
    assert_err(&emu.get("/v1/subnets?limit=abc").await, 400, "IEC.000006");
}
