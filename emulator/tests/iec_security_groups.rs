//! Contract tests for the security group, rule and keypair families over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{assert_err, start};
use edgefleet_emulator::config::DEFAULT_DOMAIN_ID;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn security_group_lifecycle_with_default_rules() {
    let emu = start().await;
    let (s, v) = emu
        .post(
            "/v1/security-groups",
            json!({"security_group": {"name": "sg002", "description": "用于test"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let sg = v["security_group"]["id"].as_str().unwrap().to_string();
    let rules = v["security_group"]["security_group_rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "default egress rules: {v}");
    let mut families: Vec<&str> = rules
        .iter()
        .map(|r| {
            assert_eq!(r["direction"], "egress");
            assert_eq!(r["action"], "allow");
            assert!(r["remote_ip_prefix"].is_null());
            r["ethertype"].as_str().unwrap()
        })
        .collect();
    families.sort_unstable();
    assert_eq!(families, vec!["IPv4", "IPv6"]);

    let (s, v) = emu
        .post(
            "/v1/security-group-rules",
            json!({"security_group_rule": {"security_group_id": sg, "direction": "ingress",
                "protocol": "TCP", "port_range_min": 22, "port_range_max": "22",
                "remote_ip_prefix": "10.0.0.0/8", "priority": 5, "action": "deny"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let rule = v["security_group_rule"].clone();
    assert_eq!(rule["protocol"], "tcp");
    assert_eq!(rule["ethertype"], "IPv4", "ethertype defaults to IPv4");
    // The response tables type the ports as String (doc §4.10); the SDK's model is *string.
    assert_eq!(rule["port_range_min"], "22");
    assert_eq!(rule["port_range_max"], "22");
    assert_eq!(rule["priority"], 5);
    assert_eq!(rule["action"], "deny");
    let rule_id = rule["id"].as_str().unwrap().to_string();

    // A rule that references its own group (the doc's example).
    let (s, v) = emu
        .post(
            "/v1/security-group-rules",
            json!({"security_group_rule": {"direction": "ingress", "remote_group_id": sg,
                "security_group_id": sg}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["security_group_rule"]["action"], "allow");
    assert_eq!(v["security_group_rule"]["priority"], 1);
    assert_eq!(
        v["security_group_rule"]["port_range_min"], "",
        "empty = all ports"
    );
    assert_eq!(v["security_group_rule"]["port_range_max"], "");

    let (s, v) = emu.get(&format!("/v1/security-groups/{sg}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["security_group"]["security_group_rules"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let (_, v) = emu
        .get(&format!(
            "/v1/security-group-rules?security_group_id={sg}&limit=1"
        ))
        .await;
    assert_eq!(v["count"], 4);
    assert_eq!(v["security_group_rules"].as_array().unwrap().len(), 1);
    let (_, v) = emu.get("/v1/security-groups?offset=1").await;
    assert_eq!(v["count"], 1, "count is the total, not the page length");
    assert_eq!(v["security_groups"].as_array().unwrap().len(), 0);
    let (_, v) = emu.get("/v1/security-groups").await;
    assert_eq!(
        v["security_groups"][0]["security_group_rules"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let (s, v) = emu.get(&format!("/v1/security-group-rules/{rule_id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["security_group_rule"]["remote_ip_prefix"], "10.0.0.0/8");
    assert_eq!(v["security_group_rule"]["port_range_min"], "22");
    // Every rendering of a rule (group GET, group list, rule list) types the ports as strings.
    let (_, group) = emu.get(&format!("/v1/security-groups/{sg}")).await;
    let (_, groups) = emu.get("/v1/security-groups").await;
    let (_, rules) = emu.get("/v1/security-group-rules").await;
    for listed in [
        &group["security_group"]["security_group_rules"],
        &groups["security_groups"][0]["security_group_rules"],
        &rules["security_group_rules"],
    ] {
        for r in listed.as_array().unwrap() {
            assert!(
                r["port_range_min"].is_string() && r["port_range_max"].is_string(),
                "{r}"
            );
        }
    }

    let (s, _) = emu.delete(&format!("/v1/security-group-rules/{rule_id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_err(
        &emu.delete(&format!("/v1/security-group-rules/{rule_id}")).await,
        404,
        "IEC.020304",
    );
    let (s, _) = emu.delete(&format!("/v1/security-groups/{sg}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_err(
        &emu.get(&format!("/v1/security-groups/{sg}")).await,
        404,
        "IEC.020204",
    );
    let (_, v) = emu.get("/v1/security-group-rules").await;
    assert_eq!(v["count"], 0, "rules go with their group: {v}");
}

#[tokio::test]
async fn rule_validation_errors() {
    let emu = start().await;
    let (_, v) = emu
        .post("/v1/security-groups", json!({"security_group": {"name": "web"}}))
        .await;
    let sg = v["security_group"]["id"].as_str().unwrap().to_string();
    let rule = |extra: serde_json::Value| {
        let mut r = json!({"security_group_id": sg, "direction": "ingress"});
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        json!({"security_group_rule": r})
    };
    let cases = [
        (
            json!({"port_range_min": 100, "port_range_max": 10}),
            409,
            "IEC.020305",
        ),
        (json!({"port_range_min": 0}), 409, "IEC.020305"),
        (json!({"port_range_max": 65536}), 409, "IEC.020305"),
        (
            json!({"remote_group_id": sg, "remote_ip_prefix": "10.0.0.0/8"}),
            400,
            "IEC.020308",
        ),
        (
            json!({"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"}),
            400,
            "IEC.020307",
        ),
        (json!({"remote_ip_prefix": "not-an-ip"}), 400, "IEC.000007"),
        (json!({"direction": "sideways"}), 400, "IEC.000007"),
        (json!({"priority": 101}), 400, "IEC.000007"),
        (json!({"action": "reject"}), 400, "IEC.000007"),
        (json!({"protocol": "icmpv6"}), 400, "IEC.000007"),
        (
            json!({"security_group_id": "00000000-0000-0000-0000-000000000000"}),
            404,
            "IEC.020204",
        ),
    ];
    for (extra, status, code) in cases {
        let got = emu.post("/v1/security-group-rules", rule(extra.clone())).await;
        assert_err(&got, status, code);
    }
    let ok = rule(json!({"protocol": "udp", "port_range_min": 53, "port_range_max": 53}));
    let (s, v) = emu.post("/v1/security-group-rules", ok.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_err(&emu.post("/v1/security-group-rules", ok).await, 400, "IEC.020300");
    assert_err(
        &emu.post(
            "/v1/security-groups",
            json!({"security_group": {"name": "default"}}),
        )
        .await,
        400,
        "IEC.020310",
    );
    assert_err(
        &emu.post("/v1/security-groups", json!({"security_group": {"name": ""}}))
            .await,
        400,
        "IEC.000007",
    );
}

#[tokio::test]
async fn group_referenced_by_another_groups_rule_cannot_be_deleted() {
    let emu = start().await;
    let mut ids = Vec::new();
    for name in ["a", "b"] {
        let (_, v) = emu
            .post("/v1/security-groups", json!({"security_group": {"name": name}}))
            .await;
        ids.push(v["security_group"]["id"].as_str().unwrap().to_string());
    }
    let (s, v) = emu
        .post(
            "/v1/security-group-rules",
            json!({"security_group_rule": {"security_group_id": ids[0], "direction": "ingress",
                "remote_group_id": ids[1]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_err(
        &emu.delete(&format!("/v1/security-groups/{}", ids[1])).await,
        400,
        "IEC.020202",
    );
    let (s, _) = emu.delete(&format!("/v1/security-groups/{}", ids[0])).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = emu.delete(&format!("/v1/security-groups/{}", ids[1])).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn group_in_use_by_an_instance_cannot_be_deleted() {
    let emu = start().await;
    let (_, v) = emu
        .post("/v1/security-groups", json!({"security_group": {"name": "busy"}}))
        .await;
    let sg = v["security_group"]["id"].as_str().unwrap().to_string();
    let instance = "0a0a0a0a-0000-0000-0000-000000000001";
    // The instances family records this reference when an instance is created with the group.
    emu.handle.app().with_world(|w| {
        w.account(DEFAULT_DOMAIN_ID)
            .add_ref("iec.security_group", &sg, "iec.instance", instance);
    });
    assert_err(
        &emu.delete(&format!("/v1/security-groups/{sg}")).await,
        400,
        "IEC.020202",
    );
    emu.handle.app().with_world(|w| {
        w.account(DEFAULT_DOMAIN_ID)
            .remove_refs_of("iec.instance", instance);
    });
    let (s, _) = emu.delete(&format!("/v1/security-groups/{sg}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_err(
        &emu.delete(&format!("/v1/security-groups/{sg}")).await,
        404,
        "IEC.020204",
    );
}

#[tokio::test]
async fn keypair_lifecycle() {
    let emu = start().await;
    let (s, v) = emu.post("/v1/os-keypairs", json!({"name": "gen"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(v["private_key"].as_str().unwrap().contains("PRIVATE KEY"));
    assert!(v["fingerprint"].as_str().unwrap().starts_with("SHA256:"));
    let public = v["public_key"].as_str().unwrap().to_string();
    assert!(public.ends_with("Generated-by-Nova"));

    let (s, v) = emu
        .post(
            "/v1/os-keypairs",
            json!({"name": "imported", "public_key": public}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["private_key"], "******");
    assert_err(
        &emu.post(
            "/v1/os-keypairs",
            json!({"name": "bad", "public_key": "ssh-rsa !!!"}),
        )
        .await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.post("/v1/os-keypairs", json!({"name": "gen"})).await,
        500,
        "IEC.010226",
    );

    let (s, v) = emu.get("/v1/os-keypairs").await;
    assert_eq!(s, StatusCode::OK);
    let list = v.as_array().expect("bare array");
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|k| k.get("private_key").is_none()));
    let (_, v) = emu.get("/v1/os-keypairs?name=gen").await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    let (s, v) = emu.get("/v1/os-keypairs/imported").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["name"], "imported");
    let (s, _) = emu.delete("/v1/os-keypairs/imported").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_err(&emu.get("/v1/os-keypairs/imported").await, 404, "IEC.010220");
    assert_err(&emu.delete("/v1/os-keypairs/imported").await, 404, "IEC.010220");
}
