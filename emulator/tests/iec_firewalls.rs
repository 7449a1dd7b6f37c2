//! Contract tests for network ACLs (digest §2.11, legacy rule API §2.17) over real HTTP: create,
//! list (fuzzy name, paging), get, update with subnet association, rule add/modify/delete with
//! positions, the legacy path's IPv4-only rule, in-use rules and every documented error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Emu, assert_err, start, start_with, test_config};
use edgefleet_emulator::config::DEFAULT_DOMAIN_ID;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ZS: &str = "a0272146-f6d8-4e3f-a1dc-196ec4a2f856";
const MISSING: &str = "abbd0eb8-0000-4c4e-9b6e-5f1c8f3a2d10";

async fn ok(emu: &Emu, method: Method, path: &str, body: Option<Value>) -> Value {
    let (s, v) = emu.call(method, path, body).await;
    assert_eq!(s, StatusCode::OK, "{path}: {v}");
    v
}

async fn acl(emu: &Emu, name: &str) -> Value {
    ok(
        emu,
        Method::POST,
        "/v1/firewalls",
        Some(json!({"firewall": {"name": name, "description": "test"}})),
    )
    .await["firewall"]
        .clone()
}

/// A CUSTOMER VPC with two subnets; returns (vpc, [subnets]).
async fn network(emu: &Emu) -> (String, Vec<String>) {
    let v = ok(
        emu,
        Method::POST,
        "/v1/vpcs",
        Some(json!({"vpc": {"name": "net", "cidr": "192.168.0.0/16", "mode": "CUSTOMER"}})),
    )
    .await;
    let vpc = v["vpc"]["id"].as_str().unwrap().to_string();
    let mut subnets = Vec::new();
    for i in 1..=2 {
        let s = ok(
            emu,
            Method::POST,
            "/v1/subnets",
            Some(
                json!({"subnet": {"name": format!("s{i}"), "cidr": format!("192.168.{i}.0/24"),
                "gateway_ip": format!("192.168.{i}.1"), "vpc_id": vpc, "site_id": ZS}}),
            ),
        )
        .await;
        subnets.push(s["subnet"]["id"].as_str().unwrap().to_string());
    }
    (vpc, subnets)
}

fn rule(op: &str, id: Option<&str>, action: &str, protocol: &str, version: u8) -> Value {
    let any = if version == 4 { "0.0.0.0/0" } else { "::/0" };
    let mut r = json!({"name": "r", "description": "", "enabled": true, "action": action,
        "protocol": protocol, "ip_version": version, "destination_ip_address": any,
        "destination_port": "", "source_ip_address": any, "source_port": "", "operate_type": op});
    if let Some(id) = id {
        r["id"] = json!(id);
    }
    r
}

fn ingress(policy: &str, rules: Vec<Value>) -> Value {
    json!({"firewall": {"ingress_firewall_policy": {"id": policy, "firewall_rules": rules}}})
}

#[tokio::test]
async fn acl_lifecycle_and_subnet_association() {
    let emu = start().await;
    let a = acl(&emu, "test-acl").await;
    let id = a["id"].as_str().unwrap().to_string();
    assert_eq!(a["status"], "INACTIVE");
    assert_eq!(a["admin_state_up"], true);
    assert_eq!(a["domain_id"], DEFAULT_DOMAIN_ID);
    assert_eq!(a["description"], "test");
    assert_eq!(a["ingress_firewall_rule_count"], 0);
    assert_eq!(a["egress_firewall_rule_count"], 0);
    assert_eq!(a["ingress_firewall_policy"].as_object().unwrap().len(), 1, "{a}");
    assert!(a["egress_firewall_policy"]["id"].is_string());
    let path = format!("/v1/firewalls/{id}");
    let g = ok(&emu, Method::GET, &path, None).await["firewall"].clone();
    assert_eq!(g["ingress_firewall_policy"]["name"], "ingress_firewall_policy");
    assert_eq!(g["egress_firewall_policy"]["name"], "egress_firewall_policy");
    assert_eq!(g["ingress_firewall_policy"]["firewall_rules"], json!([]));
    assert_eq!(
        g["ingress_firewall_policy"]["id"],
        a["ingress_firewall_policy"]["id"]
    );

    // list: fuzzy name, id, paging
    let b = acl(&emu, "other").await;
    let l = ok(&emu, Method::GET, "/v1/firewalls", None).await;
    assert_eq!(l["count"], 2);
    assert_eq!(
        l["firewalls"][0]["ingress_firewall_policy"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
    let l = ok(&emu, Method::GET, "/v1/firewalls?name=TEST", None).await;
    assert_eq!(l["count"], 1);
    assert_eq!(l["firewalls"][0]["id"], id.as_str());
    let l = ok(
        &emu,
        Method::GET,
        &format!("/v1/firewalls?id={}", b["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(l["count"], 1);
    let l = ok(&emu, Method::GET, "/v1/firewalls?limit=1&offset=1", None).await;
    assert_eq!(l["count"], 2);
    assert_eq!(l["firewalls"][0]["id"], b["id"]);
    assert_err(&emu.get("/v1/firewalls?offset=-1").await, 400, "IEC.020916");

    // associate subnets (the set is replaced), other ACLs cannot take them
    let (vpc, subs) = network(&emu).await;
    let u = ok(
        &emu,
        Method::PUT,
        &path,
        Some(
            json!({"firewall": {"name": "test-acl", "admin_state_up": false, "description": "edge",
            "subnets": [{"id": subs[0], "vpc_id": vpc}, {"id": subs[1]}]}}),
        ),
    )
    .await;
    assert_eq!(u, json!({"firewall": {"id": id, "status": "INACTIVE"}}));
    let g = ok(&emu, Method::GET, &path, None).await;
    assert_eq!(g["firewall"]["admin_state_up"], false);
    assert_eq!(g["firewall"]["description"], "edge");
    let other = format!("/v1/firewalls/{}", b["id"].as_str().unwrap());
    assert_err(
        &emu.put(
            &other,
            json!({"firewall": {"name": "other", "subnets": [{"id": subs[1]}]}}),
        )
        .await,
        500,
        "IEC.020914",
    );
    assert_err(&emu.delete(&path).await, 500, "IEC.020913");
    assert_err(
        &emu.delete(&format!("/v1/subnets/{}", subs[0])).await,
        400,
        "IEC.020008",
    );
    ok(
        &emu,
        Method::PUT,
        &path,
        Some(json!({"firewall": {"name": "test-acl", "subnets": [{"id": subs[1]}]}})),
    )
    .await;
    let (s, _) = emu.delete(&format!("/v1/subnets/{}", subs[0])).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "subs[0] is free again");
    // an update without subnets keeps the association
    ok(
        &emu,
        Method::PUT,
        &path,
        Some(json!({"firewall": {"name": "renamed"}})),
    )
    .await;
    assert_err(&emu.delete(&path).await, 500, "IEC.020913");
    ok(
        &emu,
        Method::PUT,
        &path,
        Some(json!({"firewall": {"name": "renamed", "subnets": []}})),
    )
    .await;
    let g = ok(&emu, Method::GET, &path, None).await;
    assert_eq!(g["firewall"]["name"], "renamed");
    let (s, body) = emu.delete(&path).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    assert_err(&emu.get(&path).await, 404, "IEC.020903");
    assert_err(&emu.delete(&path).await, 404, "IEC.020903");

    // update errors
    for (body, status, code) in [
        (json!({"firewall": {"description": "x"}}), 400, "IEC.020909"),
        (json!({"firewall": {"name": ""}}), 400, "IEC.020909"),
        (json!({"firewall": {"name": "a.b"}}), 400, "IEC.020909"),
        (
            json!({"firewall": {"name": "o", "description": "<b>"}}),
            400,
            "IEC.020909",
        ),
        (
            json!({"firewall": {"name": "o", "admin_state_up": "yes"}}),
            400,
            "IEC.020909",
        ),
        (
            json!({"firewall": {"name": "o", "subnets": [{"id": subs[1], "vpc_id": MISSING}]}}),
            400,
            "IEC.020909",
        ),
        (
            json!({"firewall": {"name": "o", "subnets": [{"id": MISSING}]}}),
            404,
            "IEC.020003",
        ),
    ] {
        assert_err(&emu.put(&other, body).await, status, code);
    }
    assert_err(
        &emu.put(
            &format!("/v1/firewalls/{MISSING}"),
            json!({"firewall": {"name": "o"}}),
        )
        .await,
        404,
        "IEC.020903",
    );
}

#[tokio::test]
async fn acl_create_errors_and_quota() {
    let mut config = test_config();
    config.catalog.quotas.get_mut("firewall").unwrap().quota = 1;
    let emu = start_with(config).await;
    for body in [
        json!({"firewall": {"name": ""}}),
        json!({"firewall": {"name": "a.b"}}),
        json!({"firewall": {"name": "x".repeat(65)}}),
        json!({"firewall": {"name": "ok", "description": "d".repeat(65)}}),
        json!({"firewall": {}}),
        json!({"name": "ok"}),
        json!({"firewall": {"name": 7}}),
    ] {
        assert_err(&emu.post("/v1/firewalls", body).await, 400, "IEC.020911");
    }
    assert_err(
        &emu.raw(Method::POST, "/v1/firewalls", b"{\"firewall\":".to_vec())
            .await,
        400,
        "IEC.000010",
    );
    acl(&emu, "边缘_acl-1").await;
    assert_err(
        &emu.post("/v1/firewalls", json!({"firewall": {"name": "second"}}))
            .await,
        400,
        "IEC.020401",
    );
    assert_err(&emu.get("/v1/firewalls/abc").await, 400, "IEC.020915");
    assert_err(&emu.delete("/v1/firewalls/abc").await, 400, "IEC.020915");
    assert_err(
        &emu.get(&format!("/v1/firewalls/{MISSING}")).await,
        404,
        "IEC.020903",
    );
}

#[tokio::test]
async fn acl_rules_add_modify_delete() {
    let emu = start().await;
    let a = acl(&emu, "rules").await;
    let id = a["id"].as_str().unwrap().to_string();
    let ing = a["ingress_firewall_policy"]["id"].as_str().unwrap().to_string();
    let eg = a["egress_firewall_policy"]["id"].as_str().unwrap().to_string();
    let path = format!("/v1/firewalls/{id}/firewall-rules");

    // add (the doc's example rule)
    let r = ok(
        &emu,
        Method::PUT,
        &path,
        Some(ingress(&ing, vec![rule("add", None, "allow", "any", 4)])),
    )
    .await;
    let f = &r["firewall"];
    assert_eq!(f["id"], id.as_str());
    assert_eq!(f["status"], "INACTIVE");
    assert_eq!(f["egress_firewall_policy"], json!({}));
    assert_eq!(f["ingress_firewall_policy"]["id"], ing.as_str());
    let added = f["ingress_firewall_policy"]["firewall_rules"][0].clone();
    let first = added["id"].as_str().unwrap().to_string();
    assert_eq!(added["action"], "allow");
    assert_eq!(added["protocol"], "any");
    assert_eq!(added["ip_version"], 4);
    assert_eq!(added["enabled"], true);
    assert!(added.get("operate_type").is_none(), "{added}");

    // insert a tcp rule before it, one after it
    let mut tcp = rule("add", None, "deny", "tcp", 4);
    tcp["destination_port"] = json!("80-90");
    tcp["source_port"] = json!("1024");
    tcp["destination_ip_address"] = json!("10.0.0.0/8");
    let mut body = ingress(&ing, vec![tcp]);
    body["firewall"]["ingress_firewall_policy"]["insert_before"] = json!(first);
    let r = ok(&emu, Method::PUT, &path, Some(body)).await;
    assert_eq!(
        r["firewall"]["ingress_firewall_policy"]["insert_before"],
        first.as_str()
    );
    let second = r["firewall"]["ingress_firewall_policy"]["firewall_rules"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut body = ingress(&ing, vec![rule("add", None, "reject", "udp", 4)]);
    body["firewall"]["ingress_firewall_policy"]["insert_after"] = json!(first);
    let r = ok(&emu, Method::PUT, &path, Some(body)).await;
    let third = r["firewall"]["ingress_firewall_policy"]["firewall_rules"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let g = ok(&emu, Method::GET, &format!("/v1/firewalls/{id}"), None).await["firewall"].clone();
    let order: Vec<&str> = g["ingress_firewall_policy"]["firewall_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(order, vec![second.as_str(), first.as_str(), third.as_str()]);
    assert_eq!(g["ingress_firewall_rule_count"], 3);
    let shown = &g["ingress_firewall_policy"]["firewall_rules"][0];
    assert_eq!(shown["operate_type"], "normal");
    assert_eq!(shown["destination_port"], "80-90");
    assert_eq!(shown["destination_ip_address"], "10.0.0.0/8");

    // modify keeps the id; delete answers the policy without rules
    let r = ok(
        &emu,
        Method::PUT,
        &path,
        Some(ingress(
            &ing,
            vec![rule("modify", Some(&first), "deny", "icmp", 4)],
        )),
    )
    .await;
    assert_eq!(
        r["firewall"]["ingress_firewall_policy"]["firewall_rules"][0]["id"],
        first.as_str()
    );
    assert_eq!(
        r["firewall"]["ingress_firewall_policy"]["firewall_rules"][0]["action"],
        "deny"
    );
    let r = ok(
        &emu,
        Method::PUT,
        &path,
        Some(ingress(
            &ing,
            vec![json!({"id": third, "operate_type": "delete"})],
        )),
    )
    .await;
    assert!(
        r["firewall"]["ingress_firewall_policy"]
            .get("firewall_rules")
            .is_none(),
        "{r}"
    );
    assert_eq!(r["firewall"]["ingress_firewall_policy"]["id"], ing.as_str());
    // egress and IPv6 on the current API
    let r = ok(
        &emu,
        Method::PUT,
        &path,
        Some(json!({"firewall": {"egress_firewall_policy": {"id": eg,
            "firewall_rules": [rule("add", None, "allow", "icmpv6", 6)]}}})),
    )
    .await;
    assert_eq!(r["firewall"]["ingress_firewall_policy"], json!({}));
    assert_eq!(
        r["firewall"]["egress_firewall_policy"]["firewall_rules"][0]["ip_version"],
        6
    );
    let l = ok(&emu, Method::GET, "/v1/firewalls", None).await;
    assert_eq!(l["firewalls"][0]["ingress_firewall_rule_count"], 2);
    assert_eq!(l["firewalls"][0]["egress_firewall_rule_count"], 1);

    // rule errors
    let mut bad_port = rule("add", None, "allow", "tcp", 4);
    bad_port["destination_port"] = json!("90-80");
    let mut port_on_icmp = rule("add", None, "allow", "icmp", 4);
    port_on_icmp["source_port"] = json!("80");
    let mut v6_in_v4 = rule("add", None, "allow", "tcp", 4);
    v6_in_v4["source_ip_address"] = json!("::/0");
    let mut long_name = rule("add", None, "allow", "tcp", 4);
    long_name["name"] = json!("n".repeat(65));
    let mut no_version = rule("add", None, "allow", "tcp", 4);
    no_version.as_object_mut().unwrap().remove("ip_version");
    let cases = vec![
        json!({"firewall": {"ingress_firewall_policy": {"id": ing, "firewall_rules": []},
            "egress_firewall_policy": {"id": eg, "firewall_rules": []}}}),
        json!({"firewall": {}}),
        json!({}),
        ingress(&eg, vec![rule("add", None, "allow", "any", 4)]),
        ingress(
            &ing,
            vec![
                rule("add", None, "allow", "any", 4),
                rule("add", None, "allow", "any", 4),
            ],
        ),
        ingress(&ing, vec![rule("add", None, "permit", "any", 4)]),
        ingress(&ing, vec![rule("add", None, "allow", "gre", 4)]),
        ingress(&ing, vec![rule("add", None, "allow", "any", 5)]),
        ingress(&ing, vec![rule("add", None, "allow", "icmp", 6)]),
        ingress(&ing, vec![rule("add", None, "allow", "icmpv6", 4)]),
        ingress(&ing, vec![bad_port]),
        ingress(&ing, vec![port_on_icmp]),
        ingress(&ing, vec![v6_in_v4]),
        ingress(&ing, vec![long_name]),
        ingress(&ing, vec![no_version]),
        ingress(&ing, vec![rule("add", Some(&first), "allow", "any", 4)]),
        ingress(&ing, vec![rule("modify", Some(MISSING), "allow", "any", 4)]),
        ingress(&ing, vec![json!({"operate_type": "delete"})]),
        ingress(&ing, vec![json!({"id": first, "operate_type": "replace"})]),
        ingress(&ing, vec![json!({"id": first})]),
        json!({"firewall": {"ingress_firewall_policy": {"id": ing, "insert_after": MISSING,
            "firewall_rules": [rule("add", None, "allow", "any", 4)]}}}),
    ];
    for body in cases {
        let got = emu.put(&path, body.clone()).await;
        assert_err(&got, 400, "IEC.020910");
    }
    let g = ok(&emu, Method::GET, &format!("/v1/firewalls/{id}"), None).await;
    assert_eq!(
        g["firewall"]["ingress_firewall_rule_count"], 2,
        "failed calls change nothing"
    );
    assert_err(
        &emu.put(
            &format!("/v1/firewalls/{MISSING}/firewall-rules"),
            ingress(&ing, vec![]),
        )
        .await,
        404,
        "IEC.020903",
    );
    assert_err(
        &emu.put("/v1/firewalls/x/firewall-rules", ingress(&ing, vec![]))
            .await,
        400,
        "IEC.020915",
    );
    assert_err(
        &emu.raw(Method::PUT, &path, b"[".to_vec()).await,
        400,
        "IEC.000010",
    );
}

#[tokio::test]
async fn legacy_rule_api_is_ipv4_only_and_takes_several_rules() {
    let emu = start().await;
    let a = acl(&emu, "legacy").await;
    let id = a["id"].as_str().unwrap().to_string();
    let ing = a["ingress_firewall_policy"]["id"].as_str().unwrap().to_string();
    let path = format!("/v1/firewalls/{id}/update_firewall_rules");
    let r = ok(
        &emu,
        Method::PUT,
        &path,
        Some(ingress(
            &ing,
            vec![
                rule("add", None, "allow", "tcp", 4),
                rule("add", None, "deny", "any", 4),
            ],
        )),
    )
    .await;
    let rules = r["firewall"]["ingress_firewall_policy"]["firewall_rules"]
        .as_array()
        .unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(r["firewall"]["status"], "INACTIVE");
    assert_err(
        &emu.put(&path, ingress(&ing, vec![rule("add", None, "allow", "tcp", 6)]))
            .await,
        400,
        "IEC.020917",
    );
    assert_err(
        &emu.put(
            &path,
            ingress(&ing, vec![rule("add", None, "allow", "icmpv6", 4)]),
        )
        .await,
        400,
        "IEC.020917",
    );
    // both paths edit the same policy
    let first = rules[0]["id"].as_str().unwrap();
    ok(
        &emu,
        Method::PUT,
        &format!("/v1/firewalls/{id}/firewall-rules"),
        Some(ingress(
            &ing,
            vec![json!({"id": first, "operate_type": "delete"})],
        )),
    )
    .await;
    let g = ok(&emu, Method::GET, &format!("/v1/firewalls/{id}"), None).await;
    assert_eq!(g["firewall"]["ingress_firewall_rule_count"], 1);
    assert_eq!(
        g["firewall"]["ingress_firewall_policy"]["firewall_rules"][0]["action"],
        "deny"
    );
}
