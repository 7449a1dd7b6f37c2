//! Contract tests for route tables and routes (digest §2.12) and the subnet's route table (§2.8.6)
//! over real HTTP: the VPC's default table, custom tables, (dis)association, the routes API with its
//! system routes and constraints, paging and the not-found answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Emu, assert_err, start};
use edgefleet_emulator::config::DEFAULT_DOMAIN_ID;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ZS: &str = "a0272146-f6d8-4e3f-a1dc-196ec4a2f856";
const IMAGE: &str = "00000000-0000-0000-0000-000000000002";
const MISSING: &str = "b96df94c-0000-4e5f-8852-16646a27ef95";

async fn ok(emu: &Emu, method: Method, path: &str, body: Option<Value>) -> Value {
    let (s, v) = emu.call(method, path, body).await;
    assert_eq!(s, StatusCode::OK, "{path}: {v}");
    v
}

async fn vpc(emu: &Emu, name: &str, cidr: &str) -> String {
    let v = ok(
        emu,
        Method::POST,
        "/v1/vpcs",
        Some(json!({"vpc": {"name": name, "cidr": cidr, "mode": "CUSTOMER"}})),
    )
    .await;
    v["vpc"]["id"].as_str().unwrap().to_string()
}

async fn subnet(emu: &Emu, vpc: &str, third: u8) -> String {
    let s = ok(
        emu,
        Method::POST,
        "/v1/subnets",
        Some(
            json!({"subnet": {"name": format!("s{third}"), "cidr": format!("192.168.{third}.0/24"),
            "gateway_ip": format!("192.168.{third}.1"), "vpc_id": vpc, "site_id": ZS}}),
        ),
    )
    .await;
    s["subnet"]["id"].as_str().unwrap().to_string()
}

async fn table(emu: &Emu, name: &str, vpc: &str) -> Value {
    ok(
        emu,
        Method::POST,
        "/v1/routetables",
        Some(json!({"routetable": {"name": name, "vpc_id": vpc, "description": "custom"}})),
    )
    .await["routetable"]
        .clone()
}

fn ids(v: &Value) -> Vec<String> {
    v["subnets"]
        .as_array()
        .map(|a| a.iter().map(|s| s["id"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn default_and_custom_tables_with_subnets() {
    let emu = start().await;
    let v = vpc(&emu, "net", "192.168.0.0/16").await;
    let l = ok(&emu, Method::GET, &format!("/v1/routetables?vpc_id={v}"), None).await;
    assert_eq!(l["count"], 1);
    let def = l["routetables"][0].clone();
    let def_id = def["id"].as_str().unwrap().to_string();
    assert_eq!(def["default"], true);
    assert_eq!(def["name"], "rtb-net");
    assert_eq!(def["vpc_id"], v.as_str());
    assert_eq!(def["domain_id"], DEFAULT_DOMAIN_ID);
    assert!(def.get("subnets").is_none(), "list items carry no subnets: {def}");

    let s1 = subnet(&emu, &v, 1).await;
    let s2 = subnet(&emu, &v, 2).await;
    let g = ok(&emu, Method::GET, &format!("/v1/subnets/{s1}/routetables"), None).await;
    assert_eq!(g["routetable"]["id"], def_id.as_str());
    assert_eq!(ids(&g["routetable"]), vec![s1.clone(), s2.clone()]);

    // a custom table takes s1 away from the default one
    let c = table(&emu, "rtb-test", &v).await;
    let c_id = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["default"], false);
    assert_eq!(c["description"], "custom");
    assert!(c.get("subnets").is_none());
    let a = ok(
        &emu,
        Method::POST,
        &format!("/v1/routetables/{c_id}/associate-subnets"),
        Some(json!({"subnet_ids": [s1]})),
    )
    .await;
    assert_eq!(ids(&a["routetable"]), vec![s1.clone()]);
    let g = ok(&emu, Method::GET, &format!("/v1/subnets/{s1}/routetables"), None).await;
    assert_eq!(g["routetable"]["id"], c_id.as_str());
    let g = ok(&emu, Method::GET, &format!("/v1/routetables/{def_id}"), None).await;
    assert_eq!(ids(&g["routetable"]), vec![s2.clone()]);

    // moving s1 to a second custom table, then back to the default one
    let c2 = table(&emu, "rtb-2", &v).await;
    let c2_id = c2["id"].as_str().unwrap().to_string();
    ok(
        &emu,
        Method::POST,
        &format!("/v1/routetables/{c2_id}/associate-subnets"),
        Some(json!({"subnet_ids": [s1]})),
    )
    .await;
    let g = ok(&emu, Method::GET, &format!("/v1/routetables/{c_id}"), None).await;
    assert!(g["routetable"].get("subnets").is_none(), "{g}");
    let d = ok(
        &emu,
        Method::POST,
        &format!("/v1/routetables/{c2_id}/disassociate-subnets"),
        Some(json!({"subnet_ids": [s1]})),
    )
    .await;
    assert!(d["routetable"].get("subnets").is_none(), "{d}");
    let g = ok(&emu, Method::GET, &format!("/v1/subnets/{s1}/routetables"), None).await;
    assert_eq!(g["routetable"]["id"], def_id.as_str());

    // update, list paging and filters
    let u = ok(
        &emu,
        Method::PUT,
        &format!("/v1/routetables/{c_id}"),
        Some(json!({"routetable": {"name": "renamed", "description": "d2"}})),
    )
    .await;
    assert_eq!(u["routetable"]["name"], "renamed");
    assert_eq!(u["routetable"]["description"], "d2");
    let l = ok(&emu, Method::GET, "/v1/routetables?limit=1&offset=1", None).await;
    assert_eq!(l["count"], 3);
    assert_eq!(l["routetables"][0]["id"], c_id.as_str());
    let l = ok(&emu, Method::GET, "/v1/routetables?name=renamed", None).await;
    assert_eq!(l["count"], 1);
    let l = ok(&emu, Method::GET, &format!("/v1/routetables?id={def_id}"), None).await;
    assert_eq!(l["count"], 1);

    // errors
    let other = vpc(&emu, "other", "10.0.0.0/8").await;
    let foreign = ok(
        &emu,
        Method::POST,
        "/v1/subnets",
        Some(
            json!({"subnet": {"name": "f", "cidr": "10.1.0.0/16", "gateway_ip": "10.1.0.1",
            "vpc_id": other, "site_id": ZS}}),
        ),
    )
    .await["subnet"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let assoc = format!("/v1/routetables/{c_id}/associate-subnets");
    assert_err(
        &emu.post(&assoc, json!({"subnet_ids": [foreign]})).await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.post(&assoc, json!({"subnet_ids": [MISSING]})).await,
        404,
        "IEC.020003",
    );
    assert_err(&emu.post(&assoc, json!({})).await, 400, "IEC.000007");
    assert_err(
        &emu.post(
            &format!("/v1/routetables/{c_id}/disassociate-subnets"),
            json!({"subnet_ids": [s2]}),
        )
        .await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.post(
            &format!("/v1/routetables/{def_id}/disassociate-subnets"),
            json!({"subnet_ids": [s2]}),
        )
        .await,
        400,
        "IEC.000007",
    );
    for body in [
        json!({"routetable": {"name": "", "vpc_id": v}}),
        json!({"routetable": {"name": "a b", "vpc_id": v}}),
        json!({"routetable": {"name": "ok", "vpc_id": v, "description": "<x>"}}),
        json!({"routetable": {"name": "ok"}}),
    ] {
        assert_err(&emu.post("/v1/routetables", body).await, 400, "IEC.000007");
    }
    assert_err(
        &emu.post(
            "/v1/routetables",
            json!({"routetable": {"name": "ok", "vpc_id": MISSING}}),
        )
        .await,
        404,
        "IEC.020104",
    );
    assert_err(
        &emu.get(&format!("/v1/routetables/{MISSING}")).await,
        404,
        "IEC.000022",
    );
    assert_err(&emu.get("/v1/routetables/rtb-1").await, 400, "IEC.000030");
    assert_err(
        &emu.get(&format!("/v1/subnets/{MISSING}/routetables")).await,
        404,
        "IEC.020003",
    );

    // deletes: not the default table, not with subnets; the VPC waits for its custom tables
    ok(&emu, Method::POST, &assoc, Some(json!({"subnet_ids": [s2]}))).await;
    assert_err(
        &emu.delete(&format!("/v1/routetables/{c_id}")).await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.delete(&format!("/v1/routetables/{def_id}")).await,
        400,
        "IEC.000007",
    );
    for s in [&s1, &s2] {
        let (st, _) = emu.delete(&format!("/v1/subnets/{s}")).await;
        assert_eq!(st, StatusCode::NO_CONTENT);
    }
    let g = ok(&emu, Method::GET, &format!("/v1/routetables/{c_id}"), None).await;
    assert!(
        g["routetable"].get("subnets").is_none(),
        "deleted subnets leave tables: {g}"
    );
    assert_err(&emu.delete(&format!("/v1/vpcs/{v}")).await, 409, "IEC.020113");
    for t in [&c_id, &c2_id] {
        let (st, body) = emu.delete(&format!("/v1/routetables/{t}")).await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        assert_eq!(body, Value::Null);
    }
    assert_err(
        &emu.get(&format!("/v1/routetables/{c_id}")).await,
        404,
        "IEC.000022",
    );
    let (st, _) = emu.delete(&format!("/v1/vpcs/{v}")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let l = ok(&emu, Method::GET, &format!("/v1/routetables?vpc_id={v}"), None).await;
    assert_eq!(l["count"], 0, "the default table goes with its VPC");
}

#[tokio::test]
async fn routes_follow_the_doc_constraints() {
    let emu = start().await;
    let v = vpc(&emu, "net", "192.168.0.0/16").await;
    let s1 = subnet(&emu, &v, 1).await;
    let server = json!({"server": {"name": "gw", "image_ref": IMAGE, "flavor_ref": "c6.large.2",
        "net_config": {"vpc_id": v, "subnets": [{"id": s1}]},
        "root_volume": {"volume_type": "SAS", "size": 40}, "count": 1,
        "coverage": {"coverage_policy": "centralize", "coverage_level": "site",
            "coverage_sites": [{"site": ZS, "demands": [{"pool_id": "5_unicon_site3"}]}]}}});
    let (s, r) = emu.post("/v1/cloudservers", server).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    let ecs = r["server_ids"][0].as_str().unwrap().to_string();
    let p = ok(
        &emu,
        Method::POST,
        "/v1/ports",
        Some(
            json!({"port": {"device_owner": "neutron:VIP_PORT", "network_id": s1,
            "fixed_ips": [{"ip_address": "192.168.1.6"}]}}),
        ),
    )
    .await;
    assert_eq!(p["port"]["fixed_ips"][0]["ip_address"], "192.168.1.6");
    let rt = table(&emu, "rtb", &v).await["id"].as_str().unwrap().to_string();
    let routes = format!("/v1/routetables/{rt}/routes");

    let l = ok(&emu, Method::GET, &routes, None).await;
    let system: Vec<&str> = l["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["type"], "local");
            assert_eq!(r["nexthop"], "-");
            r["destination"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        system,
        vec![
            "192.168.0.0/16",
            "198.19.128.0/20",
            "127.0.0.0/8",
            "100.64.0.0/10"
        ]
    );

    let add = format!("/v1/routetables/{rt}/add-routes");
    let new = json!({"routes": [
        {"type": "ecs", "destination": "10.0.0.0/8", "nexthop": ecs, "description": "to dc"},
        {"type": "vip", "destination": "0.0.0.0/0", "nexthop": "192.168.1.6"}]});
    let a = ok(&emu, Method::POST, &add, Some(new)).await;
    assert_eq!(
        a,
        json!({"routes": [
            {"type": "ecs", "destination": "10.0.0.0/8", "nexthop": ecs, "description": "to dc"},
            {"type": "vip", "destination": "0.0.0.0/0", "nexthop": "192.168.1.6", "description": ""}]})
    );
    let l = ok(&emu, Method::GET, &routes, None).await;
    assert_eq!(l["routes"].as_array().unwrap().len(), 6);
    assert_eq!(l["routes"][4]["destination"], "10.0.0.0/8");

    let route = |t: &str, d: &str, n: &str| json!({"routes": [{"type": t, "destination": d, "nexthop": n}]});
    for body in [
        route("vip", "192.168.5.0/24", "192.168.1.6"),
        route("vip", "100.64.1.0/24", "192.168.1.6"),
        route("vip", "192.168.0.0/16", "192.168.1.6"),
        route("vip", "10.0.0.0/8", "192.168.1.6"),
        json!({"routes": [{"type": "vip", "destination": "20.0.0.0/8", "nexthop": "192.168.1.6"},
            {"type": "vip", "destination": "20.0.0.0/8", "nexthop": "192.168.1.6"}]}),
        route("local", "20.0.0.0/8", "-"),
        route("ecs", "20.0.0.0/8", MISSING),
        route("vip", "20.0.0.0/8", "192.168.1.7"),
        route("vip", "20.0.0.0", "192.168.1.6"),
        json!({"routes": [{"type": "vip", "destination": "20.0.0.0/8", "nexthop": "192.168.1.6",
            "description": "<b>"}]}),
        json!({"routes": [{"type": "vip", "destination": "20.0.0.0/8"}]}),
        json!({}),
    ] {
        assert_err(&emu.post(&add, body).await, 400, "IEC.000007");
    }
    // a batch with one bad route adds nothing
    assert_err(
        &emu.post(
            &add,
            json!({"routes": [{"type": "vip", "destination": "30.0.0.0/8", "nexthop": "192.168.1.6"},
                {"type": "vip", "destination": "127.0.0.0/16", "nexthop": "192.168.1.6"}]}),
        )
        .await,
        400,
        "IEC.000007",
    );
    assert_eq!(
        ok(&emu, Method::GET, &routes, None).await["routes"]
            .as_array()
            .unwrap()
            .len(),
        6
    );

    // update by destination
    let upd = format!("/v1/routetables/{rt}/update-routes");
    let u = ok(
        &emu,
        Method::POST,
        &upd,
        Some(
            json!({"routes": [{"type": "vip", "destination": "10.0.0.0/8", "nexthop": "192.168.1.6",
            "description": "abc"}]}),
        ),
    )
    .await;
    assert_eq!(
        u,
        json!({"routes": [{"type": "vip", "destination": "10.0.0.0/8", "nexthop": "192.168.1.6", "description": "abc"}]})
    );
    assert_err(
        &emu.post(&upd, route("vip", "40.0.0.0/8", "192.168.1.6")).await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.post(&upd, route("vip", "127.0.0.0/8", "192.168.1.6")).await,
        400,
        "IEC.000007",
    );

    // delete by destination
    let del = format!("/v1/routetables/{rt}/delete-routes");
    let d = ok(
        &emu,
        Method::POST,
        &del,
        Some(json!({"routes": [{"destination": "0.0.0.0/0"}]})),
    )
    .await;
    assert_eq!(
        d["routes"].as_array().unwrap().len(),
        1,
        "the remaining custom routes: {d}"
    );
    let d = ok(
        &emu,
        Method::POST,
        &del,
        Some(json!({"routes": [{"destination": "10.0.0.0/8"}]})),
    )
    .await;
    assert_eq!(d, json!({"routes": []}));
    assert_err(
        &emu.post(&del, json!({"routes": [{"destination": "10.0.0.0/8"}]}))
            .await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.post(&del, json!({"routes": [{"destination": "127.0.0.0/8"}]}))
            .await,
        400,
        "IEC.000007",
    );
    assert_eq!(
        ok(&emu, Method::GET, &routes, None).await["routes"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_err(
        &emu.get(&format!("/v1/routetables/{MISSING}/routes")).await,
        404,
        "IEC.000022",
    );
    assert_err(
        &emu.post(
            &format!("/v1/routetables/{MISSING}/add-routes"),
            json!({"routes": []}),
        )
        .await,
        404,
        "IEC.000022",
    );
}
