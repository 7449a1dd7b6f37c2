//! Contract tests for the VPC family over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{assert_err, start};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn vpc_lifecycle_and_errors() {
    let emu = start().await;
    let (s, v) = emu
        .post(
            "/v1/vpcs",
            json!({"vpc": {"name": "dc_vpc_001", "cidr": "192.168.2.0/21", "mode": "SYSTEM"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let id = v["vpc"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["vpc"]["subnet_num"], 0);
    assert_eq!(v["vpc"]["mode"], "SYSTEM");

    assert_err(
        &emu.post(
            "/v1/vpcs",
            json!({"vpc": {"name": "dc_vpc_001", "cidr": "10.0.0.0/8", "mode": "CUSTOMER"}}),
        )
        .await,
        409,
        "IEC.020105",
    );
    assert_err(
        &emu.post(
            "/v1/vpcs",
            json!({"vpc": {"name": "b", "cidr": "11.0.0.0/8", "mode": "SYSTEM"}}),
        )
        .await,
        400,
        "IEC.020115",
    );
    assert_err(
        &emu.post(
            "/v1/vpcs",
            json!({"vpc": {"name": "b", "cidr": "10.0.0.0/8", "mode": "AUTO"}}),
        )
        .await,
        400,
        "IEC.020114",
    );
    assert_err(
        &emu.post(
            "/v1/vpcs",
            json!({"vpc": {"name": "", "cidr": "10.0.0.0/8", "mode": "SYSTEM"}}),
        )
        .await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.post(
            "/v1/vpcs",
            json!({"vpc": {"name": "b c", "cidr": "10.0.0.0/8", "mode": "SYSTEM"}}),
        )
        .await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.post("/v1/vpcs", json!({"vpc": {"name": "b", "mode": "SYSTEM"}}))
            .await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.post(
            "/v1/vpcs",
            json!({"vpc": {"name": 5, "cidr": "10.0.0.0/8", "mode": "SYSTEM"}}),
        )
        .await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.post("/v1/vpcs", json!({"name": "b"})).await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.raw(reqwest::Method::POST, "/v1/vpcs", b"{not json".to_vec())
            .await,
        400,
        "IEC.000010",
    );
    assert_err(
        &emu.raw(reqwest::Method::POST, "/v1/vpcs", vec![]).await,
        400,
        "IEC.000010",
    );

    let (s, v) = emu.get(&format!("/v1/vpcs/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["vpc"]["name"], "dc_vpc_001");
    assert_err(
        &emu.get("/v1/vpcs/00000000-0000-0000-0000-000000000000").await,
        404,
        "IEC.020104",
    );

    let (s, v) = emu
        .put(
            &format!("/v1/vpcs/{id}"),
            json!({"vpc": {"name": "test-001", "cidr": "172.16.0.0/16"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["vpc"]["name"], "test-001");
    assert_eq!(v["vpc"]["cidr"], "172.16.0.0/16");
    let (s, _) = emu.put(&format!("/v1/vpcs/{id}"), json!({})).await;
    assert_eq!(s, StatusCode::OK);

    for i in 0..5 {
        let (s, _) = emu
            .post(
                "/v1/vpcs",
                json!({"vpc": {"name": format!("p{i}"), "cidr": "10.0.0.0/16", "mode": "CUSTOMER"}}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    assert_err(
        &emu.put(&format!("/v1/vpcs/{id}"), json!({"vpc": {"name": "p1"}}))
            .await,
        409,
        "IEC.020105",
    );
    let (_, v) = emu.get("/v1/vpcs?limit=2&offset=1").await;
    assert_eq!(v["count"], 6);
    let names: Vec<_> = v["vpcs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["p0", "p1"]);
    let (_, v) = emu.get("/v1/vpcs?name=p3").await;
    assert_eq!(v["count"], 1);
    assert_err(&emu.get("/v1/vpcs?offset=-1").await, 400, "IEC.020916");
    assert_err(&emu.get("/v1/vpcs?limit=abc").await, 400, "IEC.000006");

    // a subnet referencing the VPC blocks deletion and shows up in subnet_num
    emu.handle.app().with_world(|w| {
        w.account(edgefleet_emulator::config::DEFAULT_DOMAIN_ID)
            .add_ref("iec.vpc", &id, "iec.subnet", "s1")
    });
    let (_, v) = emu.get(&format!("/v1/vpcs/{id}")).await;
    assert_eq!(v["vpc"]["subnet_num"], 1);
    assert_err(&emu.delete(&format!("/v1/vpcs/{id}")).await, 409, "IEC.020113");
    emu.handle.app().with_world(|w| {
        w.account(edgefleet_emulator::config::DEFAULT_DOMAIN_ID)
            .remove_refs_of("iec.subnet", "s1")
    });
    let (s, v) = emu.delete(&format!("/v1/vpcs/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(v, serde_json::Value::Null);
    assert_err(&emu.delete(&format!("/v1/vpcs/{id}")).await, 404, "IEC.020104");

    let calls = emu.handle.calls();
    assert!(calls.mutations("POST /v1/vpcs") >= 6);
    assert_eq!(calls.mutations("DELETE /v1/vpcs/{vpc_id}"), 1);
    emu.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn vpc_quota_is_enforced() {
    let mut cfg = common::test_config();
    cfg.catalog.quotas.insert(
        "vpc".into(),
        edgefleet_emulator::iec::catalog::QuotaLimit { quota: 1, max: 10 },
    );
    let emu = common::start_with(cfg).await;
    let (s, _) = emu
        .post(
            "/v1/vpcs",
            json!({"vpc": {"name": "a", "cidr": "10.0.0.0/8", "mode": "SYSTEM"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_err(
        &emu.post(
            "/v1/vpcs",
            json!({"vpc": {"name": "b", "cidr": "10.0.0.0/8", "mode": "SYSTEM"}}),
        )
        .await,
        400,
        "IEC.020401",
    );
}
