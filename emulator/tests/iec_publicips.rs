//! Contract tests for EIPs (digest §2.14) and bandwidths (§2.13) over real HTTP: create with and
//! without a bandwidth, the PENDING_CREATE → DOWN → ACTIVE states, binding to virtual IPs and
//! instance NICs, shared bandwidths, shared-bandwidth types, paging and every documented error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::{Emu, assert_err, start, start_with, test_config};
use edgefleet_emulator::Delays;
use edgefleet_emulator::config::DEFAULT_DOMAIN_ID;
use edgefleet_emulator::iec::bandwidths::Bandwidth;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ZS: &str = "a0272146-f6d8-4e3f-a1dc-196ec4a2f856";
const CS: &str = "705da43d-fa20-11ea-9fb2-fa1640495574";
const IMAGE: &str = "00000000-0000-0000-0000-000000000002";
const MISSING: &str = "8bdc72de-0000-4ec6-8304-5ffee39f6054";

async fn ok(emu: &Emu, method: Method, path: &str, body: Option<Value>) -> Value {
    let (s, v) = emu.call(method, path, body).await;
    assert_eq!(s, StatusCode::OK, "{path}: {v}");
    v
}

async fn subnet(emu: &Emu, vpc: &str, cidr: &str, gateway: &str, site: &str) -> String {
    let s = ok(
        emu,
        Method::POST,
        "/v1/subnets",
        Some(
            json!({"subnet": {"name": "sub", "cidr": cidr, "gateway_ip": gateway,
            "vpc_id": vpc, "site_id": site}}),
        ),
    )
    .await;
    s["subnet"]["id"].as_str().unwrap().to_string()
}

async fn vpc(emu: &Emu) -> String {
    let v = ok(
        emu,
        Method::POST,
        "/v1/vpcs",
        Some(json!({"vpc": {"name": "net", "cidr": "192.168.0.0/16", "mode": "CUSTOMER"}})),
    )
    .await;
    v["vpc"]["id"].as_str().unwrap().to_string()
}

async fn vip(emu: &Emu, subnet: &str) -> String {
    let p = ok(
        emu,
        Method::POST,
        "/v1/ports",
        Some(json!({"port": {"device_owner": "neutron:VIP_PORT", "network_id": subnet}})),
    )
    .await;
    p["port"]["id"].as_str().unwrap().to_string()
}

async fn eip(emu: &Emu, body: Value) -> Value {
    ok(emu, Method::POST, "/v1/publicips", Some(body)).await["publicip"].clone()
}

fn slow_eips() -> edgefleet_emulator::Config {
    edgefleet_emulator::Config {
        delays: Delays {
            all_ms: None,
            per: BTreeMap::from([("publicip_create".to_string(), 5000)]),
        },
        ..test_config()
    }
}

#[tokio::test]
async fn eip_lifecycle_and_binding() {
    let emu = start_with(slow_eips()).await;
    let e = eip(&emu, json!({"publicip": {"site_id": ZS, "ip_version": "4"}})).await;
    let id = e["id"].as_str().unwrap().to_string();
    assert_eq!(e["status"], "PENDING_CREATE");
    assert_eq!(e["type"], "5_unicon_site3", "default = the site's first line");
    assert_eq!(e["site_id"], ZS);
    assert_eq!(e["ip_version"], 4);
    assert_eq!(e["bandwidth_size"], 0);
    assert_eq!(e["bandwidth_id"], "");
    assert_eq!(e["port_id"], "");
    assert_eq!(e["operator"]["sa"], "CUCC");
    assert!(e["public_ip_address"].as_str().unwrap().starts_with("188."));
    let t = e["create_time"].as_str().unwrap();
    assert!(t.len() == 19 && &t[10..11] == " ", "{t}");
    assert!(e["site_info"].as_str().unwrap().contains("guangdong"));

    let v = vpc(&emu).await;
    let sub = subnet(&emu, &v, "192.168.1.0/24", "192.168.1.1", ZS).await;
    let port = vip(&emu, &sub).await;
    let path = format!("/v1/publicips/{id}");
    assert_err(
        &emu.put(&path, json!({"publicip": {"port_id": port}})).await,
        400,
        "IEC.020708",
    );
    emu.advance(5).await;
    let g = ok(&emu, Method::GET, &path, None).await;
    assert_eq!(g["publicip"]["status"], "DOWN");

    // bind to the VIP
    let b = ok(
        &emu,
        Method::PUT,
        &path,
        Some(json!({"publicip": {"port_id": port}})),
    )
    .await;
    assert_eq!(b["publicip"]["status"], "ACTIVE");
    assert_eq!(b["publicip"]["port_id"], port.as_str());
    let (_, p) = emu.get(&format!("/v1/ports/{port}")).await;
    assert_eq!(
        b["publicip"]["private_ip_address"],
        p["port"]["fixed_ips"][0]["ip_address"]
    );
    let l = ok(&emu, Method::GET, &format!("/v1/publicips?port_id={port}"), None).await;
    assert_eq!(l["count"], 1);
    assert_eq!(l["publicips"][0]["id"], id.as_str());
    assert_err(&emu.delete(&path).await, 400, "IEC.020712");

    // a second EIP cannot take the same port; a port at another site is refused
    let e2 = eip(&emu, json!({"publicip": {"site_id": ZS}})).await;
    let id2 = e2["id"].as_str().unwrap().to_string();
    emu.advance(5).await;
    assert_err(
        &emu.put(
            &format!("/v1/publicips/{id2}"),
            json!({"publicip": {"port_id": port}}),
        )
        .await,
        400,
        "IEC.020601",
    );
    let sub_cs = subnet(&emu, &v, "192.168.2.0/24", "192.168.2.1", CS).await;
    let port_cs = vip(&emu, &sub_cs).await;
    assert_err(
        &emu.put(
            &format!("/v1/publicips/{id2}"),
            json!({"publicip": {"port_id": port_cs}}),
        )
        .await,
        400,
        "IEC.020707",
    );
    assert_err(
        &emu.put(
            &format!("/v1/publicips/{id2}"),
            json!({"publicip": {"port_id": MISSING}}),
        )
        .await,
        404,
        "IEC.020607",
    );
    assert_err(
        &emu.put(&format!("/v1/publicips/{id2}"), json!({"publicip": {}}))
            .await,
        400,
        "IEC.000007",
    );

    // unbind, delete
    let u = ok(
        &emu,
        Method::PUT,
        &path,
        Some(json!({"publicip": {"port_id": ""}})),
    )
    .await;
    assert_eq!(u["publicip"]["status"], "DOWN");
    assert_eq!(u["publicip"]["port_id"], "");
    assert_eq!(u["publicip"]["private_ip_address"], "");
    let (s, body) = emu.delete(&path).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    assert_err(&emu.get(&path).await, 404, "IEC.020706");
    assert_err(&emu.get("/v1/publicips/nope").await, 400, "IEC.020718");
    assert_err(&emu.delete(&path).await, 404, "IEC.020706");

    // deleting a VIP unbinds its EIP
    ok(
        &emu,
        Method::PUT,
        &format!("/v1/publicips/{id2}"),
        Some(json!({"publicip": {"port_id": port}})),
    )
    .await;
    let (s, _) = emu.delete(&format!("/v1/ports/{port}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let g = ok(&emu, Method::GET, &format!("/v1/publicips/{id2}"), None).await;
    assert_eq!(g["publicip"]["status"], "DOWN");
    assert_eq!(g["publicip"]["port_id"], "");

    // list: count, site filter, paging
    eip(&emu, json!({"publicip": {"site_id": CS}})).await;
    let l = ok(&emu, Method::GET, "/v1/publicips", None).await;
    assert_eq!(l["count"], 2);
    let l = ok(&emu, Method::GET, &format!("/v1/publicips?site_id={CS}"), None).await;
    assert_eq!(l["count"], 1);
    assert_eq!(l["publicips"][0]["type"], "5_sbgp_site1");
    let l = ok(&emu, Method::GET, "/v1/publicips?limit=1&offset=1", None).await;
    assert_eq!(l["count"], 2);
    assert_eq!(l["publicips"].as_array().unwrap().len(), 1);
    assert_err(&emu.get("/v1/publicips?offset=-3").await, 400, "IEC.020916");
}

#[tokio::test]
async fn eips_on_instance_nics_follow_the_instance() {
    let emu = start().await;
    let v = vpc(&emu).await;
    let sub = subnet(&emu, &v, "192.168.1.0/24", "192.168.1.1", ZS).await;
    let server = json!({"server": {"name": "ecs01", "image_ref": IMAGE, "flavor_ref": "c6.large.2",
        "net_config": {"vpc_id": v, "subnets": [{"id": sub}]},
        "root_volume": {"volume_type": "SAS", "size": 40}, "count": 1,
        "coverage": {"coverage_policy": "centralize", "coverage_level": "site",
            "coverage_sites": [{"site": ZS, "demands": [{"pool_id": "5_unicon_site3"}]}]}}});
    let (s, r) = emu.post("/v1/cloudservers", server).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    let server_id = r["server_ids"][0].as_str().unwrap().to_string();
    let l = ok(
        &emu,
        Method::GET,
        &format!("/v1/ports?device_id={server_id}"),
        None,
    )
    .await;
    let nic = l["ports"][0]["id"].as_str().unwrap().to_string();
    let e = eip(&emu, json!({"publicip": {"site_id": ZS}})).await;
    let path = format!("/v1/publicips/{}", e["id"].as_str().unwrap());
    let b = ok(
        &emu,
        Method::PUT,
        &path,
        Some(json!({"publicip": {"port_id": nic}})),
    )
    .await;
    assert_eq!(b["publicip"]["status"], "ACTIVE");
    assert_eq!(
        b["publicip"]["private_ip_address"],
        l["ports"][0]["fixed_ips"][0]["ip_address"]
    );
    // a second NIC with its own EIP: removing the NIC unbinds that EIP
    let (s, r) = emu
        .post(
            &format!("/v1/cloudservers/{server_id}/nics"),
            json!({"vpc_id": v, "security_groups": [], "subnet_id": sub, "nic_num": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let l = ok(
        &emu,
        Method::GET,
        &format!("/v1/ports?device_id={server_id}"),
        None,
    )
    .await;
    assert_eq!(l["count"], 2, "{l}");
    let nic2 = l["ports"][1]["id"].as_str().unwrap().to_string();
    let e2 = eip(
        &emu,
        json!({"publicip": {"site_id": ZS}, "bandwidth": {"bandwidth_type": "share"}}),
    )
    .await;
    let bw = e2["bandwidth_id"].as_str().unwrap().to_string();
    let path2 = format!("/v1/publicips/{}", e2["id"].as_str().unwrap());
    ok(
        &emu,
        Method::PUT,
        &path2,
        Some(json!({"publicip": {"port_id": nic2}})),
    )
    .await;
    let (s, _) = emu
        .post(
            &format!("/v1/cloudservers/{server_id}/nics/delete"),
            json!({"nics": [{"id": nic2}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let g = ok(&emu, Method::GET, &path2, None).await;
    assert_eq!(g["publicip"]["status"], "DOWN", "{g}");
    assert_eq!(g["publicip"]["port_id"], "");
    // deleting the instance deletes the EIP bound to it (doc §2.2.5), not the unbound one
    let (s, _) = emu
        .post("/v1/cloudservers/delete", json!({"servers": [{"id": server_id}]}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_err(&emu.get(&path).await, 404, "IEC.020706");
    emu.advance(2).await;
    let (s, _) = emu.get(&format!("/v1/cloudservers/{server_id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_err(&emu.get(&path).await, 404, "IEC.020706");
    let g = ok(&emu, Method::GET, &path2, None).await;
    assert_eq!(g["publicip"]["status"], "DOWN");
    let b = ok(&emu, Method::GET, &format!("/v1/bandwidths/{bw}"), None).await;
    assert_eq!(b["bandwidth"]["publicip_info"].as_array().unwrap().len(), 1);
    let l = ok(&emu, Method::GET, "/v1/publicips", None).await;
    assert_eq!(l["count"], 1);
}

#[tokio::test]
async fn eip_create_errors() {
    let mut config = test_config();
    config.catalog.quotas.get_mut("publicIp").unwrap().quota = 2;
    let emu = start_with(config).await;
    let cases = [
        (json!({"publicip": {"site_id": "nowhere"}}), 400, "IEC.020403"),
        (
            json!({"publicip": {"site_id": ZS, "ip_version": "6"}}),
            400,
            "IEC.020714",
        ),
        (
            json!({"publicip": {"site_id": ZS, "ip_version": 6}}),
            400,
            "IEC.020714",
        ),
        (
            json!({"publicip": {"site_id": ZS, "type": "5_mobile_site1"}}),
            400,
            "IEC.020711",
        ),
        (
            json!({"publicip": {"site_id": ZS}, "bandwidth": {}}),
            400,
            "IEC.020702",
        ),
        (
            json!({"publicip": {"site_id": ZS}, "bandwidth": {"bandwidth_type": "dedicated"}}),
            400,
            "IEC.020702",
        ),
        (
            json!({"publicip": {"site_id": ZS}, "bandwidth": {"id": MISSING}}),
            404,
            "IEC.020811",
        ),
        (
            json!({"publicip": {"site_id": ZS}, "bandwidth": {"id": "bw-1"}}),
            400,
            "IEC.020804",
        ),
        (json!({"publicip": {}}), 400, "IEC.000007"),
        (json!({"bandwidth": {}}), 400, "IEC.000007"),
        (json!({"publicip": {"site_id": 5}}), 400, "IEC.000007"),
    ];
    for (body, status, code) in cases {
        assert_err(&emu.post("/v1/publicips", body.clone()).await, status, code);
    }
    assert_err(
        &emu.raw(Method::POST, "/v1/publicips", b"not json".to_vec()).await,
        400,
        "IEC.000010",
    );
    // a bandwidth of another site or line
    let zs = eip(
        &emu,
        json!({"publicip": {"site_id": ZS}, "bandwidth": {"bandwidth_type": "share"}}),
    )
    .await;
    let bw = zs["bandwidth_id"].as_str().unwrap();
    assert_err(
        &emu.post(
            "/v1/publicips",
            json!({"publicip": {"site_id": CS}, "bandwidth": {"id": bw}}),
        )
        .await,
        400,
        "IEC.020707",
    );
    assert_err(
        &emu.post(
            "/v1/publicips",
            json!({"publicip": {"site_id": ZS, "type": "5_telcom_site3"}, "bandwidth": {"id": bw}}),
        )
        .await,
        400,
        "IEC.020702",
    );
    // quota (2 here)
    eip(&emu, json!({"publicip": {"site_id": ZS}})).await;
    assert_err(
        &emu.post("/v1/publicips", json!({"publicip": {"site_id": ZS}}))
            .await,
        400,
        "IEC.020401",
    );
    let (_, q) = emu.get("/v1/edgeclouds/quotas").await;
    let used = q["quotas"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "publicIp")
        .unwrap()["used"]
        .clone();
    assert_eq!(used, 2);
}

#[tokio::test]
async fn shared_bandwidths() {
    let emu = start().await;
    let a = eip(
        &emu,
        json!({"publicip": {"site_id": ZS}, "bandwidth": {"bandwidth_type": "share"}}),
    )
    .await;
    let bw = a["bandwidth_id"].as_str().unwrap().to_string();
    assert_eq!(a["bandwidth_size"], 300);
    assert_eq!(a["bandwidth_share_type"], "WHOLE");
    let b = eip(
        &emu,
        json!({"publicip": {"site_id": ZS}, "bandwidth": {"id": bw}}),
    )
    .await;
    assert_eq!(b["bandwidth_id"], bw.as_str());
    let c = eip(
        &emu,
        json!({"publicip": {"site_id": ZS}, "bandwidth": {"bandwidth_type": "share"}}),
    )
    .await;
    assert_eq!(
        c["bandwidth_id"],
        bw.as_str(),
        "the newest bandwidth of the type is reused"
    );
    eip(
        &emu,
        json!({"publicip": {"site_id": CS}, "bandwidth": {"bandwidth_type": "share"}}),
    )
    .await;

    let path = format!("/v1/bandwidths/{bw}");
    let g = ok(&emu, Method::GET, &path, None).await["bandwidth"].clone();
    assert_eq!(g["id"], bw.as_str());
    assert_eq!(g["share_type"], "WHOLE");
    assert_eq!(g["charge_mode"], "95peak_plus");
    assert_eq!(g["bandwidth_type"], "share");
    assert_eq!(g["status"], "NORMAL");
    assert_eq!(g["size"], 300);
    assert_eq!(g["site_id"], ZS);
    assert_eq!(g["pool_id"], "5_unicon_site3");
    assert_eq!(g["operator"]["name"], "chinaunicom");
    assert!(g["create_time"].as_str().unwrap().ends_with('Z'));
    let info = g["publicip_info"].as_array().unwrap();
    assert_eq!(info.len(), 3);
    assert!(info.iter().any(|i| i["publicip_id"] == a["id"]
        && i["publicip_address"] == a["public_ip_address"]
        && i["publicip_type"] == "5_unicon_site3"
        && i["ip_version"] == 4));

    let l = ok(&emu, Method::GET, "/v1/bandwidths", None).await;
    assert_eq!(l["count"], 2);
    let l = ok(&emu, Method::GET, &format!("/v1/bandwidths?site_id={ZS}"), None).await;
    assert_eq!(l["count"], 1);
    let l = ok(&emu, Method::GET, "/v1/bandwidths?limit=1&offset=1", None).await;
    assert_eq!(l["count"], 2);
    assert_eq!(l["bandwidths"][0]["site_id"], CS);

    // update
    let u = ok(
        &emu,
        Method::PUT,
        &path,
        Some(json!({"bandwidth": {"name": "edge-bw", "size": 500}})),
    )
    .await;
    assert_eq!(u["bandwidth"]["name"], "edge-bw");
    assert_eq!(u["bandwidth"]["size"], 500);
    let (_, e) = emu
        .get(&format!("/v1/publicips/{}", a["id"].as_str().unwrap()))
        .await;
    assert_eq!(e["publicip"]["bandwidth_size"], 500);
    assert_eq!(e["publicip"]["bandwidth_name"], "edge-bw");
    for (body, code) in [
        (json!({"bandwidth": {"size": 299}}), "IEC.020809"),
        (json!({"bandwidth": {"size": 2001}}), "IEC.020809"),
        (json!({"bandwidth": {"size": "500"}}), "IEC.020809"),
        (json!({"bandwidth": {"size": null}}), "IEC.020819"),
        (json!({"bandwidth": {"name": ""}}), "IEC.000007"),
        (json!({"size": 500}), "IEC.000007"),
    ] {
        assert_err(&emu.put(&path, body).await, 400, code);
    }
    assert_err(
        &emu.put(
            &format!("/v1/bandwidths/{MISSING}"),
            json!({"bandwidth": {"size": 500}}),
        )
        .await,
        404,
        "IEC.020811",
    );
    assert_err(&emu.get("/v1/bandwidths/bw-1").await, 400, "IEC.020804");

    // delete: refused while EIPs use it
    assert_err(&emu.delete(&path).await, 400, "IEC.000007");
    for e in [&a, &b, &c] {
        let (s, _) = emu
            .delete(&format!("/v1/publicips/{}", e["id"].as_str().unwrap()))
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
    let (s, body) = emu.delete(&path).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    assert_err(&emu.get(&path).await, 404, "IEC.020811");
    assert_err(&emu.delete(&path).await, 404, "IEC.020811");
}

#[tokio::test]
async fn frozen_bandwidths_cannot_be_updated() {
    let emu = start().await;
    let a = eip(
        &emu,
        json!({"publicip": {"site_id": ZS}, "bandwidth": {"bandwidth_type": "share"}}),
    )
    .await;
    let bw = a["bandwidth_id"].as_str().unwrap().to_string();
    emu.handle.app().with_world(|w| {
        let t = w.account(DEFAULT_DOMAIN_ID).table::<Bandwidth>().unwrap();
        t.get_mut(&bw).unwrap().status = "FREEZED".into();
    });
    let path = format!("/v1/bandwidths/{bw}");
    assert_eq!(
        ok(&emu, Method::GET, &path, None).await["bandwidth"]["status"],
        "FREEZED"
    );
    assert_err(
        &emu.put(&path, json!({"bandwidth": {"size": 500}})).await,
        400,
        "IEC.020810",
    );
}

#[tokio::test]
async fn shared_bandwidth_types() {
    let emu = start().await;
    let l = ok(&emu, Method::GET, "/v1/share-bandwidth-types", None).await;
    assert_eq!(l["count"], 5, "one type per catalog site: {l}");
    let t = &l["share_bandwidth_types"][0];
    assert_eq!(t["bandwidth_type"], "share");
    assert!(t["name"].is_string() && t["site_id"].is_string());
    let l = ok(
        &emu,
        Method::GET,
        &format!("/v1/share-bandwidth-types?site_id={ZS}"),
        None,
    )
    .await;
    assert_eq!(l["count"], 1);
    assert_eq!(l["share_bandwidth_types"][0]["site_id"], ZS);
    let l = ok(
        &emu,
        Method::GET,
        "/v1/share-bandwidth-types?bandwidth_type=dedicated",
        None,
    )
    .await;
    assert_eq!(l["count"], 0);
    let l = ok(
        &emu,
        Method::GET,
        "/v1/share-bandwidth-types?limit=2&offset=4",
        None,
    )
    .await;
    assert_eq!(l["count"], 5);
    assert_eq!(l["share_bandwidth_types"].as_array().unwrap().len(), 1);
    assert_err(
        &emu.get("/v1/share-bandwidth-types?limit=x").await,
        400,
        "IEC.000006",
    );
}
