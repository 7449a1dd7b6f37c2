//! A seeded fuzz test over the request bodies of the network families' create and update APIs
//! (ports, EIPs, bandwidths, network ACLs and their rules, route tables and routes): every answer
//! must be a documented status with an IEC/APIGW error body — never an undocumented 500, a panic or
//! a dropped connection — and a state-snapshot round trip that must preserve every network object.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Emu, assert_err, start};
use edgefleet_emulator::core::ids::Rng;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ZS: &str = "a0272146-f6d8-4e3f-a1dc-196ec4a2f856";

async fn ok(emu: &Emu, method: Method, path: &str, body: Value) -> Value {
    let (s, v) = emu.call(method, path, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{path}: {v}");
    v
}

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

#[tokio::test]
async fn fuzzed_network_bodies_never_break_the_emulator() {
    let emu = start().await;
    let vpc = ok(
        &emu,
        Method::POST,
        "/v1/vpcs",
        json!({"vpc": {"name": "fz", "cidr": "192.168.0.0/16", "mode": "CUSTOMER"}}),
    )
    .await["vpc"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let subnet = ok(
        &emu,
        Method::POST,
        "/v1/subnets",
        json!({"subnet": {"name": "fz", "cidr": "192.168.1.0/24", "gateway_ip": "192.168.1.1",
            "vpc_id": vpc, "site_id": ZS}}),
    )
    .await["subnet"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let port = ok(
        &emu,
        Method::POST,
        "/v1/ports",
        json!({"port": {"device_owner": "neutron:VIP_PORT", "network_id": subnet,
            "fixed_ips": [{"ip_address": "192.168.1.9"}]}}),
    )
    .await["port"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let eip = ok(
        &emu,
        Method::POST,
        "/v1/publicips",
        json!({"publicip": {"site_id": ZS}, "bandwidth": {"bandwidth_type": "share"}}),
    )
    .await["publicip"]
        .clone();
    let eip_id = eip["id"].as_str().unwrap().to_string();
    let bw = eip["bandwidth_id"].as_str().unwrap().to_string();
    let fw = ok(
        &emu,
        Method::POST,
        "/v1/firewalls",
        json!({"firewall": {"name": "fz"}}),
    )
    .await["firewall"]
        .clone();
    let fw_id = fw["id"].as_str().unwrap().to_string();
    let ing = fw["ingress_firewall_policy"]["id"].as_str().unwrap().to_string();
    let rt = ok(
        &emu,
        Method::POST,
        "/v1/routetables",
        json!({"routetable": {"name": "fz", "vpc_id": vpc}}),
    )
    .await["routetable"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rule = json!({"name": "r", "description": "", "enabled": true, "action": "allow",
        "protocol": "tcp", "ip_version": 4, "destination_ip_address": "0.0.0.0/0",
        "destination_port": "80", "source_ip_address": "10.0.0.0/8", "source_port": "", "operate_type": "add"});
    let seeds: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            "/v1/ports".into(),
            json!({"port": {"device_owner": "neutron:VIP_PORT", "network_id": subnet,
                "fixed_ips": [{"subnet_id": subnet, "ip_address": "192.168.1.20"}]}}),
        ),
        (
            Method::PUT,
            format!("/v1/ports/{port}"),
            json!({"port": {"allowed_address_pairs": [{"ip_address": "1.1.1.1/0", "mac_address": "fa:16:3e:00:00:01"}],
                "security_groups": []}}),
        ),
        (
            Method::POST,
            format!("/v1/vports/{port}/bandwidth/attach"),
            json!({"bandwidth_id": bw}),
        ),
        (
            Method::POST,
            "/v1/publicips".into(),
            json!({"publicip": {"site_id": ZS, "ip_version": "4", "type": "5_unicon_site3"},
                "bandwidth": {"id": bw, "bandwidth_type": "share"}}),
        ),
        (
            Method::PUT,
            format!("/v1/publicips/{eip_id}"),
            json!({"publicip": {"port_id": port}}),
        ),
        (
            Method::PUT,
            format!("/v1/bandwidths/{bw}"),
            json!({"bandwidth": {"name": "fz", "size": 500}}),
        ),
        (
            Method::POST,
            "/v1/firewalls".into(),
            json!({"firewall": {"name": "fz2", "description": "d"}}),
        ),
        (
            Method::PUT,
            format!("/v1/firewalls/{fw_id}"),
            json!({"firewall": {"name": "fz", "admin_state_up": true, "description": "d",
                "subnets": [{"id": subnet, "vpc_id": vpc}]}}),
        ),
        (
            Method::PUT,
            format!("/v1/firewalls/{fw_id}/firewall-rules"),
            json!({"firewall": {"ingress_firewall_policy": {"id": ing, "firewall_rules": [rule]}}}),
        ),
        (
            Method::PUT,
            format!("/v1/firewalls/{fw_id}/update_firewall_rules"),
            json!({"firewall": {"ingress_firewall_policy": {"id": ing, "firewall_rules": [rule, rule]}}}),
        ),
        (
            Method::POST,
            "/v1/routetables".into(),
            json!({"routetable": {"name": "fz2", "vpc_id": vpc, "description": "d"}}),
        ),
        (
            Method::POST,
            format!("/v1/routetables/{rt}/associate-subnets"),
            json!({"subnet_ids": [subnet]}),
        ),
        (
            Method::POST,
            format!("/v1/routetables/{rt}/add-routes"),
            json!({"routes": [{"type": "vip", "destination": "10.0.0.0/8", "nexthop": "192.168.1.9",
                "description": "d"}]}),
        ),
        (
            Method::POST,
            format!("/v1/routetables/{rt}/update-routes"),
            json!({"routes": [{"type": "vip", "destination": "10.0.0.0/8", "nexthop": "192.168.1.9"}]}),
        ),
        (
            Method::POST,
            format!("/v1/routetables/{rt}/delete-routes"),
            json!({"routes": [{"destination": "10.0.0.0/8"}]}),
        ),
    ];
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
        json!("::/0"),
        json!("0.0.0.0/0"),
        json!("65535-1"),
    ];
    let mut rng = Rng::new(7);
    for round in 0..600 {
        let (method, path, seed) = &seeds[round % seeds.len()];
        let mut body = seed.clone();
        let mut all = Vec::new();
        paths(&body, vec![], &mut all);
        for _ in 0..=rng.below(3) {
            if all.is_empty() {
                break;
            }
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
        let (s, v) = emu.call(method.clone(), path, Some(body.clone())).await;
        let code = v["error_code"].as_str().unwrap_or_default();
        assert!(
            matches!(s.as_u16(), 200 | 204 | 400 | 404 | 409),
            "round {round}: {method} {path} {body} → {s} {v}"
        );
        if !s.is_success() {
            assert!(
                code.starts_with("IEC.") || code.starts_with("APIGW."),
                "round {round}: {v}"
            );
        }
    }
    for raw in [
        b"\xff\xfe".to_vec(),
        b"[[[[[[[[[[".to_vec(),
        b"{\"port\":".to_vec(),
        b"null".to_vec(),
        b"1".to_vec(),
    ] {
        for (method, path, _) in &seeds {
            let (s, v) = emu.raw(method.clone(), path, raw.clone()).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{method} {path} {raw:?}: {v}");
        }
    }
    let calls = emu.handle.calls();
    assert!(
        calls
            .operations
            .values()
            .all(|c| c.statuses.keys().all(|k| *k != 500 && *k != 503)),
        "{calls:?}"
    );
    // the objects are still readable
    for path in [
        format!("/v1/ports/{port}"),
        format!("/v1/publicips/{eip_id}"),
        format!("/v1/bandwidths/{bw}"),
        format!("/v1/firewalls/{fw_id}"),
        format!("/v1/routetables/{rt}"),
        format!("/v1/routetables/{rt}/routes"),
    ] {
        let (s, v) = emu.get(&path).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
    }
}

/// Every network object survives a state snapshot round trip into a fresh emulator unchanged.
#[tokio::test]
async fn network_objects_survive_a_snapshot_round_trip() {
    let emu = start().await;
    let vpc = ok(
        &emu,
        Method::POST,
        "/v1/vpcs",
        json!({"vpc": {"name": "snap", "cidr": "192.168.0.0/16", "mode": "CUSTOMER"}}),
    )
    .await["vpc"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let subnet = ok(
        &emu,
        Method::POST,
        "/v1/subnets",
        json!({"subnet": {"name": "snap", "cidr": "192.168.1.0/24", "gateway_ip": "192.168.1.1",
            "vpc_id": vpc, "site_id": ZS}}),
    )
    .await["subnet"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let port = ok(
        &emu,
        Method::POST,
        "/v1/ports",
        json!({"port": {"device_owner": "neutron:VIP_PORT", "network_id": subnet}}),
    )
    .await["port"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let eip = ok(
        &emu,
        Method::POST,
        "/v1/publicips",
        json!({"publicip": {"site_id": ZS}, "bandwidth": {"bandwidth_type": "share"}}),
    )
    .await["publicip"]
        .clone();
    let eip_id = eip["id"].as_str().unwrap().to_string();
    ok(
        &emu,
        Method::PUT,
        &format!("/v1/publicips/{eip_id}"),
        json!({"publicip": {"port_id": port}}),
    )
    .await;
    let fw = ok(
        &emu,
        Method::POST,
        "/v1/firewalls",
        json!({"firewall": {"name": "snap"}}),
    )
    .await["firewall"]
        .clone();
    let fw_id = fw["id"].as_str().unwrap().to_string();
    ok(
        &emu,
        Method::PUT,
        &format!("/v1/firewalls/{fw_id}/firewall-rules"),
        json!({"firewall": {"egress_firewall_policy": {"id": fw["egress_firewall_policy"]["id"],
            "firewall_rules": [{"action": "deny", "protocol": "udp", "ip_version": 4,
                "destination_port": "53", "operate_type": "add"}]}}}),
    )
    .await;
    ok(
        &emu,
        Method::PUT,
        &format!("/v1/firewalls/{fw_id}"),
        json!({"firewall": {"name": "snap", "subnets": [{"id": subnet}]}}),
    )
    .await;
    let rt = ok(
        &emu,
        Method::POST,
        "/v1/routetables",
        json!({"routetable": {"name": "snap", "vpc_id": vpc}}),
    )
    .await["routetable"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, p) = emu.get(&format!("/v1/ports/{port}")).await;
    let vip_ip = p["port"]["fixed_ips"][0]["ip_address"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &emu,
        Method::POST,
        &format!("/v1/routetables/{rt}/add-routes"),
        json!({"routes": [{"type": "vip", "destination": "0.0.0.0/0", "nexthop": vip_ip}]}),
    )
    .await;
    ok(
        &emu,
        Method::POST,
        &format!("/v1/routetables/{rt}/associate-subnets"),
        json!({"subnet_ids": [subnet]}),
    )
    .await;
    let reads = [
        "/v1/ports".to_string(),
        "/v1/publicips".to_string(),
        "/v1/bandwidths".to_string(),
        format!("/v1/firewalls/{fw_id}"),
        "/v1/routetables".to_string(),
        format!("/v1/routetables/{rt}"),
        format!("/v1/routetables/{rt}/routes"),
        format!("/v1/subnets/{subnet}/routetables"),
    ];
    let mut before = Vec::new();
    for r in &reads {
        before.push(emu.get(r).await);
    }
    let other = start().await;
    let resp = other
        .http
        .put(format!("{}/_emulator/state", other.base))
        .json(&emu.handle.state())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    for (r, b) in reads.iter().zip(before) {
        let a = other.get(r).await;
        assert_eq!(a.0, StatusCode::OK, "{r}: {}", a.1);
        assert_eq!(a, b, "{r}");
    }
    // the restored references still guard deletes
    assert_err(
        &other.delete(&format!("/v1/subnets/{subnet}")).await,
        400,
        "IEC.020009",
    );
    assert_err(
        &other.delete(&format!("/v1/publicips/{eip_id}")).await,
        400,
        "IEC.020712",
    );
    assert_err(
        &other.delete(&format!("/v1/firewalls/{fw_id}")).await,
        500,
        "IEC.020913",
    );
}
