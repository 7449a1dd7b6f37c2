//! Contract tests for ports (digest §2.9) over real HTTP: virtual IPs, instance NICs as ports,
//! updates, filters and paging, IPv6 subnets and virtual IPs, bandwidth attach/detach, in-use rules
//! and every documented error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Emu, assert_err, start, start_with, test_config};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ZS: &str = "a0272146-f6d8-4e3f-a1dc-196ec4a2f856";
const IMAGE: &str = "00000000-0000-0000-0000-000000000002";
const MISSING: &str = "0ea06f5f-0000-4136-aae9-08a0cf8fc356";

async fn ok(emu: &Emu, method: Method, path: &str, body: Option<Value>) -> Value {
    let (s, v) = emu.call(method, path, body).await;
    assert_eq!(s, StatusCode::OK, "{path}: {v}");
    v
}

/// A CUSTOMER VPC with one subnet at Zhongshan; returns (vpc id, subnet id).
async fn network(emu: &Emu, cidr: &str, gateway: &str) -> (String, String) {
    let v = ok(
        emu,
        Method::POST,
        "/v1/vpcs",
        Some(json!({"vpc": {"name": "net", "cidr": "192.168.0.0/16", "mode": "CUSTOMER"}})),
    )
    .await;
    let vpc = v["vpc"]["id"].as_str().unwrap().to_string();
    let s = ok(
        emu,
        Method::POST,
        "/v1/subnets",
        Some(
            json!({"subnet": {"name": "sub", "cidr": cidr, "gateway_ip": gateway,
            "vpc_id": vpc, "site_id": ZS}}),
        ),
    )
    .await;
    (vpc, s["subnet"]["id"].as_str().unwrap().to_string())
}

async fn security_group(emu: &Emu, name: &str) -> String {
    let v = ok(
        emu,
        Method::POST,
        "/v1/security-groups",
        Some(json!({"security_group": {"name": name}})),
    )
    .await;
    v["security_group"]["id"].as_str().unwrap().to_string()
}

fn vip(network_id: &str, ip: Option<&str>) -> Value {
    match ip {
        Some(ip) => json!({"port": {"device_owner": "neutron:VIP_PORT", "network_id": network_id,
            "fixed_ips": [{"subnet_id": network_id, "ip_address": ip}]}}),
        None => json!({"port": {"device_owner": "neutron:VIP_PORT", "network_id": network_id}}),
    }
}

async fn create_vip(emu: &Emu, network_id: &str, ip: Option<&str>) -> Value {
    ok(emu, Method::POST, "/v1/ports", Some(vip(network_id, ip))).await["port"].clone()
}

/// One instance in the subnet; returns its id.
async fn instance(emu: &Emu, vpc: &str, subnet: &str, sg: &str) -> String {
    let server = json!({"server": {"name": "ecs01", "image_ref": IMAGE, "flavor_ref": "c6.large.2",
        "net_config": {"vpc_id": vpc, "subnets": [{"id": subnet}]},
        "root_volume": {"volume_type": "SAS", "size": 40}, "count": 1, "security_groups": [{"id": sg}],
        "coverage": {"coverage_policy": "centralize", "coverage_level": "site",
            "coverage_sites": [{"site": ZS, "demands": [{"pool_id": "5_unicon_site3"}]}]}}});
    let (s, r) = emu.post("/v1/cloudservers", server).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    r["server_ids"][0].as_str().unwrap().to_string()
}

#[tokio::test]
async fn vip_port_lifecycle() {
    let emu = start().await;
    let (_, sub) = network(&emu, "192.168.1.0/24", "192.168.1.1").await;
    let a = create_vip(&emu, &sub, None).await;
    let id = a["id"].as_str().unwrap().to_string();
    assert_eq!(a["status"], "DOWN");
    assert_eq!(a["admin_state_up"], true);
    assert_eq!(a["device_owner"], "neutron:VIP_PORT");
    assert_eq!(a["device_id"], "");
    assert_eq!(a["network_id"], sub.as_str());
    assert_eq!(a["site_id"], ZS);
    assert_eq!(a["security_groups"], json!([]));
    assert_eq!(a["allowed_address_pairs"], json!([]));
    assert_eq!(a["fixed_ips"][0]["subnet_id"], sub.as_str());
    let ip = a["fixed_ips"][0]["ip_address"].as_str().unwrap();
    assert!(ip.starts_with("192.168.1.") && ip != "192.168.1.1", "{ip}");
    assert!(a["mac_address"].as_str().unwrap().starts_with("fa:16:"));
    let b = create_vip(&emu, &sub, Some("192.168.1.50")).await;
    assert_eq!(b["fixed_ips"][0]["ip_address"], "192.168.1.50");
    let b_id = b["id"].as_str().unwrap().to_string();

    // get is wrapped and equal to the create answer
    let g = ok(&emu, Method::GET, &format!("/v1/ports/{id}"), None).await;
    assert_eq!(g["port"], a);

    // list: count, filters, paging (item offset)
    let l = ok(&emu, Method::GET, "/v1/ports", None).await;
    assert_eq!(l["count"], 2);
    let l = ok(
        &emu,
        Method::GET,
        &format!("/v1/ports?network_id={sub}&limit=1&offset=1"),
        None,
    )
    .await;
    assert_eq!(l["count"], 2);
    assert_eq!(l["ports"].as_array().unwrap().len(), 1);
    assert_eq!(l["ports"][0]["id"], b_id.as_str());
    let l = ok(
        &emu,
        Method::GET,
        &format!("/v1/ports?fixed_ips=ip_address%3D192.168.1.50&fixed_ips=subnet_id%3D{sub}"),
        None,
    )
    .await;
    assert_eq!(l["count"], 1);
    assert_eq!(l["ports"][0]["id"], b_id.as_str());
    for (q, n) in [
        (format!("id={id}"), 1),
        ("device_owner=neutron:VIP_PORT".to_string(), 2),
        ("status=DOWN".to_string(), 2),
        ("status=ACTIVE".to_string(), 0),
        ("admin_state_up=true".to_string(), 2),
        ("admin_state_up=false".to_string(), 0),
        (format!("mac_address={}", a["mac_address"].as_str().unwrap()), 1),
        ("network_id=other".to_string(), 0),
    ] {
        let l = ok(&emu, Method::GET, &format!("/v1/ports?{q}"), None).await;
        assert_eq!(l["count"], n, "{q}: {l}");
    }

    // update: pairs (MAC filled in) and security groups
    let sg = security_group(&emu, "vip-sg").await;
    let u = ok(
        &emu,
        Method::PUT,
        &format!("/v1/ports/{id}"),
        Some(json!({"port": {"allowed_address_pairs": [{"ip_address": "1.1.1.1/0"}], "security_groups": [sg]}})),
    )
    .await;
    assert_eq!(
        u["port"]["allowed_address_pairs"],
        json!([{"ip_address": "1.1.1.1/0", "mac_address": a["mac_address"]}])
    );
    assert_eq!(u["port"]["security_groups"], json!([sg]));
    let l = ok(
        &emu,
        Method::GET,
        &format!("/v1/ports?security_groups={sg}"),
        None,
    )
    .await;
    assert_eq!(l["count"], 1);

    // in use: the subnet (virtual IPs) and the security group
    assert_err(
        &emu.delete(&format!("/v1/subnets/{sub}")).await,
        400,
        "IEC.020009",
    );
    assert_err(
        &emu.delete(&format!("/v1/security-groups/{sg}")).await,
        400,
        "IEC.020202",
    );

    // delete releases the address and the references
    let (s, body) = emu.delete(&format!("/v1/ports/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    assert_err(&emu.get(&format!("/v1/ports/{id}")).await, 404, "IEC.020607");
    assert_err(&emu.delete(&format!("/v1/ports/{id}")).await, 404, "IEC.020607");
    let (s, _) = emu.delete(&format!("/v1/security-groups/{sg}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let again = create_vip(&emu, &sub, Some(ip)).await;
    assert_eq!(again["fixed_ips"][0]["ip_address"], ip);
    for p in [again["id"].as_str().unwrap(), b_id.as_str()] {
        let (s, _) = emu.delete(&format!("/v1/ports/{p}")).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
    let (s, _) = emu.delete(&format!("/v1/subnets/{sub}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn port_errors_follow_the_doc() {
    let emu = start().await;
    let (_, sub) = network(&emu, "192.168.1.0/28", "192.168.1.1").await;
    assert_err(&emu.get("/v1/ports/nope").await, 400, "IEC.020609");
    assert_err(&emu.get(&format!("/v1/ports/{MISSING}")).await, 404, "IEC.020607");
    assert_err(
        &emu.put(&format!("/v1/ports/{MISSING}"), json!({"port": {}}))
            .await,
        404,
        "IEC.020607",
    );
    // create
    assert_err(
        &emu.post(
            "/v1/ports",
            json!({"port": {"device_owner": "compute:nova", "network_id": sub}}),
        )
        .await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.post("/v1/ports", json!({"port": {"network_id": sub}})).await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.post("/v1/ports", vip(MISSING, None)).await,
        404,
        "IEC.020003",
    );
    assert_err(
        &emu.post(
            "/v1/ports",
            json!({"port": {"device_owner": "neutron:VIP_PORT", "network_id": sub,
                "fixed_ips": [{"ip_address": "192.168.1.5"}, {"ip_address": "192.168.1.6"}]}}),
        )
        .await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.post("/v1/ports", vip(&sub, Some("x.y"))).await,
        400,
        "IEC.020608",
    );
    assert_err(
        &emu.post("/v1/ports", vip(&sub, Some("10.0.0.5"))).await,
        400,
        "IEC.020618",
    );
    assert_err(
        &emu.post("/v1/ports", vip(&sub, Some("192.168.1.1"))).await,
        400,
        "IEC.020616",
    );
    create_vip(&emu, &sub, Some("192.168.1.5")).await;
    assert_err(
        &emu.post("/v1/ports", vip(&sub, Some("192.168.1.5"))).await,
        400,
        "IEC.020616",
    );
    let (s, _) = emu.raw(Method::POST, "/v1/ports", b"{".to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_err(
        &emu.raw(Method::POST, "/v1/ports", b"{".to_vec()).await,
        400,
        "IEC.000010",
    );
    // a /28 has 13 usable addresses after network, gateway and broadcast
    for _ in 0..12 {
        create_vip(&emu, &sub, None).await;
    }
    assert_err(&emu.post("/v1/ports", vip(&sub, None)).await, 400, "IEC.020617");

    // update
    let l = ok(&emu, Method::GET, "/v1/ports?limit=1", None).await;
    assert_eq!(l["count"], 13);
    let id = l["ports"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/v1/ports/{id}");
    assert_err(
        &emu.put(
            &path,
            json!({"port": {"allowed_address_pairs": [{"ip_address": "0.0.0.0/0"}]}}),
        )
        .await,
        400,
        "IEC.020608",
    );
    assert_err(
        &emu.put(
            &path,
            json!({"port": {"allowed_address_pairs": [{"ip_address": "192.168.1.9"}]}}),
        )
        .await,
        400,
        "IEC.020608",
    );
    assert_err(
        &emu.put(
            &path,
            json!({"port": {"allowed_address_pairs": [{"ip_address": "1.1.1.1/0", "mac_address": "zz"}]}}),
        )
        .await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.put(&path, json!({"port": {"security_groups": [MISSING]}}))
            .await,
        404,
        "IEC.020204",
    );
    assert_err(&emu.put(&path, json!({})).await, 400, "IEC.000007");

    // list query errors
    assert_err(&emu.get("/v1/ports?status=GONE").await, 400, "IEC.000006");
    assert_err(&emu.get("/v1/ports?fixed_ips=mac%3Dx").await, 400, "IEC.000006");
    assert_err(&emu.get("/v1/ports?offset=-1").await, 400, "IEC.020916");
    assert_err(&emu.get("/v1/ports?limit=x").await, 400, "IEC.000006");
    assert_err(
        &emu.get("/v1/ports?admin_state_up=maybe").await,
        400,
        "IEC.000006",
    );
}

#[tokio::test]
async fn instance_nics_are_ports() {
    let emu = start().await;
    let (vpc, sub) = network(&emu, "192.168.1.0/24", "192.168.1.1").await;
    let sg = security_group(&emu, "web").await;
    let server = instance(&emu, &vpc, &sub, &sg).await;
    let l = ok(&emu, Method::GET, &format!("/v1/ports?device_id={server}"), None).await;
    assert_eq!(l["count"], 1, "{l}");
    let nic = l["ports"][0].clone();
    let nic_id = nic["id"].as_str().unwrap().to_string();
    assert!(
        nic["device_owner"].as_str().unwrap().starts_with("compute:"),
        "{nic}"
    );
    assert_eq!(nic["network_id"], sub.as_str());
    assert_eq!(nic["site_id"], ZS);
    assert_eq!(nic["security_groups"], json!([sg]));
    // the instance view and the port view agree
    let (_, g) = emu.get(&format!("/v1/cloudservers/{server}")).await;
    let addr = &g["server"]["addresses"][&vpc][0];
    assert_eq!(addr["OS-EXT-IPS:port_id"], nic_id.as_str());
    assert_eq!(addr["addr"], nic["fixed_ips"][0]["ip_address"]);
    assert_eq!(addr["OS-EXT-IPS-MAC:mac_addr"], nic["mac_address"]);
    // status follows the instance (zero delays: ACTIVE at the next request)
    let g = ok(&emu, Method::GET, &format!("/v1/ports/{nic_id}"), None).await;
    assert_eq!(g["port"]["status"], "ACTIVE");
    let (s, _) = emu
        .post(
            "/v1/cloudservers/action",
            json!({"os-stop": {"servers": [{"id": server}]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    emu.advance(1).await;
    let g = ok(&emu, Method::GET, &format!("/v1/ports/{nic_id}"), None).await;
    assert_eq!(g["port"]["status"], "DOWN");

    // a VIP whose backend is this NIC, and the NIC's own pair
    let v = create_vip(&emu, &sub, None).await;
    let nic_ip = nic["fixed_ips"][0]["ip_address"].as_str().unwrap();
    let u = ok(
        &emu,
        Method::PUT,
        &format!("/v1/ports/{}", v["id"].as_str().unwrap()),
        Some(json!({"port": {"allowed_address_pairs": [{"ip_address": nic_ip}]}})),
    )
    .await;
    assert_eq!(u["port"]["allowed_address_pairs"][0]["ip_address"], nic_ip);
    let sg2 = security_group(&emu, "other").await;
    let u = ok(
        &emu,
        Method::PUT,
        &format!("/v1/ports/{nic_id}"),
        Some(json!({"port": {"allowed_address_pairs": [{"ip_address": "1.1.1.1/0"}], "security_groups": [sg2]}})),
    )
    .await;
    assert_eq!(
        u["port"]["allowed_address_pairs"][0]["mac_address"],
        nic["mac_address"]
    );
    assert_eq!(u["port"]["security_groups"], json!([sg2]));
    let (_, g) = emu.get(&format!("/v1/cloudservers/{server}")).await;
    assert_eq!(g["server"]["security_groups"][0]["name"], "other");
    // the old group is free now, the new one is in use by the instance
    let (s, _) = emu.delete(&format!("/v1/security-groups/{sg}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_err(
        &emu.delete(&format!("/v1/security-groups/{sg2}")).await,
        400,
        "IEC.020202",
    );
    // NICs are removed through the instance API, not the port API
    assert_err(
        &emu.delete(&format!("/v1/ports/{nic_id}")).await,
        400,
        "IEC.020606",
    );
}

/// The default catalog with an IPv6 line at Zhongshan (the built-in catalog has IPv4 lines only).
fn ipv6_config() -> edgefleet_emulator::Config {
    let mut config = test_config();
    let site = config.catalog.sites.iter_mut().find(|s| s.id == ZS).unwrap();
    site.pools.push(
        serde_json::from_value(
            json!({"id": "zs-v6", "pool_id": "5_ipv6_site3", "ip_version": "6",
            "operator": {"id": "2", "name": "chinaunicom", "i18n_name": "中国联通", "sa": "CUCC"},
            "display_name": "中山联通 IPv6", "allow_share_bandwidth_types": ["share"]}),
        )
        .unwrap(),
    );
    config
}

#[tokio::test]
async fn ipv6_subnets_and_virtual_ips() {
    let emu = start_with(ipv6_config()).await;
    let (_, sub) = network(&emu, "192.168.1.0/24", "192.168.1.1").await;
    let path = format!("/v1/subnets/{sub}");
    // a v6 VIP needs an IPv6 subnet
    assert_err(
        &emu.post("/v1/ports", vip(&sub, Some("2407:c080::5"))).await,
        400,
        "IEC.020618",
    );
    assert_err(
        &emu.put(&path, json!({"subnet": {"ipv6_enable": true}})).await,
        400,
        "IEC.000007",
    );
    assert_err(
        &emu.put(
            &path,
            json!({"subnet": {"ipv6_enable": true, "pool_id": "5_unicon_site3"}}),
        )
        .await,
        400,
        "IEC.020012",
    );
    let u = ok(
        &emu,
        Method::PUT,
        &path,
        Some(json!({"subnet": {"ipv6_enable": true, "pool_id": "5_ipv6_site3"}})),
    )
    .await;
    assert_eq!(u["subnet"]["ipv6_enable"], true);
    let v6_subnet = u["subnet"]["neutron_subnet_id_v6"].as_str().unwrap().to_string();
    assert!(!v6_subnet.is_empty());
    let g = ok(&emu, Method::GET, &path, None).await["subnet"].clone();
    let cidr_v6 = g["cidr_v6"].as_str().unwrap().to_string();
    assert!(
        cidr_v6.starts_with("2407:c080:") && cidr_v6.ends_with("::/64"),
        "{g}"
    );
    assert_eq!(g["pool_id"], "5_ipv6_site3");
    assert_eq!(g["gateway_ip_v6"], cidr_v6.replace("::/64", "::1"));
    assert_eq!(g["neutron_subnet_id_v6"], v6_subnet.as_str());
    assert_err(
        &emu.put(&path, json!({"subnet": {"ipv6_enable": false}})).await,
        400,
        "IEC.020409",
    );
    // v6 VIPs: by the v6 subnet id, or by address
    let a = ok(
        &emu,
        Method::POST,
        "/v1/ports",
        Some(
            json!({"port": {"device_owner": "neutron:VIP_PORT", "network_id": sub,
            "fixed_ips": [{"subnet_id": v6_subnet}]}}),
        ),
    )
    .await["port"]
        .clone();
    let a_ip: std::net::Ipv6Addr = a["fixed_ips"][0]["ip_address"].as_str().unwrap().parse().unwrap();
    assert!(
        a_ip.to_string().starts_with(cidr_v6.trim_end_matches(":/64")),
        "{a_ip}"
    );
    let prefix = cidr_v6.trim_end_matches("::/64");
    let wanted = format!("{prefix}::99");
    let b = create_vip(&emu, &sub, Some(&wanted)).await;
    assert_eq!(b["fixed_ips"][0]["ip_address"], wanted.as_str());
    assert_err(
        &emu.post("/v1/ports", vip(&sub, Some(&wanted))).await,
        400,
        "IEC.020616",
    );
    assert_err(
        &emu.post("/v1/ports", vip(&sub, Some(&format!("{prefix}::1"))))
            .await,
        400,
        "IEC.020616",
    );
    assert_err(
        &emu.post("/v1/ports", vip(&sub, Some("2407:c080:ffff:ffff::5")))
            .await,
        400,
        "IEC.020618",
    );
    assert_err(
        &emu.post(
            "/v1/ports",
            json!({"port": {"device_owner": "neutron:VIP_PORT", "network_id": sub,
                "fixed_ips": [{"subnet_id": v6_subnet, "ip_address": "192.168.1.30"}]}}),
        )
        .await,
        400,
        "IEC.020618",
    );
    // IPv4 VIPs still work on the dual-stack subnet
    let c = create_vip(&emu, &sub, None).await;
    assert!(
        c["fixed_ips"][0]["ip_address"]
            .as_str()
            .unwrap()
            .starts_with("192.168.1.")
    );
    // an EIP (IPv4) cannot be bound to a v6 VIP
    let e = ok(
        &emu,
        Method::POST,
        "/v1/publicips",
        Some(json!({"publicip": {"site_id": ZS}})),
    )
    .await;
    assert_err(
        &emu.put(
            &format!("/v1/publicips/{}", e["publicip"]["id"].as_str().unwrap()),
            json!({"publicip": {"port_id": a["id"]}}),
        )
        .await,
        400,
        "IEC.020715",
    );
}

#[tokio::test]
async fn bandwidth_attach_and_detach() {
    let emu = start_with(ipv6_config()).await;
    let (_, sub) = network(&emu, "192.168.1.0/24", "192.168.1.1").await;
    let v4 = create_vip(&emu, &sub, None).await;
    let v4_id = v4["id"].as_str().unwrap().to_string();
    let e = ok(
        &emu,
        Method::POST,
        "/v1/publicips",
        Some(json!({"publicip": {"site_id": ZS}, "bandwidth": {"bandwidth_type": "share"}})),
    )
    .await;
    let bw = e["publicip"]["bandwidth_id"].as_str().unwrap().to_string();
    // an IPv4 VIP cannot take a bandwidth and has none to detach
    assert_err(
        &emu.post(
            &format!("/v1/vports/{v4_id}/bandwidth/attach"),
            json!({"bandwidth_id": bw}),
        )
        .await,
        400,
        "IEC.020613",
    );
    assert_err(
        &emu.post(&format!("/v1/vports/{v4_id}/bandwidth/detach"), json!(null))
            .await,
        400,
        "IEC.020614",
    );
    assert_err(
        &emu.post("/v1/vports/nope/bandwidth/attach", json!({"bandwidth_id": bw}))
            .await,
        400,
        "IEC.020609",
    );
    assert_err(
        &emu.post(&format!("/v1/vports/{MISSING}/bandwidth/detach"), json!(null))
            .await,
        404,
        "IEC.020607",
    );
    // an IPv6 VIP
    ok(
        &emu,
        Method::PUT,
        &format!("/v1/subnets/{sub}"),
        Some(json!({"subnet": {"ipv6_enable": true, "pool_id": "5_ipv6_site3"}})),
    )
    .await;
    let (_, g) = emu.get(&format!("/v1/subnets/{sub}")).await;
    let v6_subnet = g["subnet"]["neutron_subnet_id_v6"].as_str().unwrap().to_string();
    let v = ok(
        &emu,
        Method::POST,
        "/v1/ports",
        Some(
            json!({"port": {"device_owner": "neutron:VIP_PORT", "network_id": sub,
            "fixed_ips": [{"subnet_id": v6_subnet}]}}),
        ),
    )
    .await;
    let id = v["port"]["id"].as_str().unwrap().to_string();
    let attach = format!("/v1/vports/{id}/bandwidth/attach");
    let detach = format!("/v1/vports/{id}/bandwidth/detach");
    assert_err(&emu.post(&attach, json!({})).await, 400, "IEC.000007");
    assert_err(
        &emu.post(&attach, json!({"bandwidth_id": MISSING})).await,
        404,
        "IEC.020811",
    );
    assert_err(
        &emu.post(&attach, json!({"bandwidth_id": "bw"})).await,
        400,
        "IEC.020804",
    );
    let r = ok(&emu, Method::POST, &attach, Some(json!({"bandwidth_id": bw}))).await;
    assert_eq!(r, json!({"vport": {"port_id": id, "ipv6_bandwidth_id": bw}}));
    let g = ok(&emu, Method::GET, &format!("/v1/ports/{id}"), None).await;
    assert_eq!(g["port"]["ipv6_bandwidth_id"], bw.as_str());
    assert_err(
        &emu.post(&attach, json!({"bandwidth_id": bw})).await,
        400,
        "IEC.020612",
    );
    assert_err(&emu.delete(&format!("/v1/ports/{id}")).await, 400, "IEC.020612");
    // the bandwidth is in use by the EIP and the port
    let eip = e["publicip"]["id"].as_str().unwrap();
    let (s, _) = emu.delete(&format!("/v1/publicips/{eip}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_err(
        &emu.delete(&format!("/v1/bandwidths/{bw}")).await,
        400,
        "IEC.000007",
    );
    let (s, body) = emu.post(&detach, json!(null)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    let g = ok(&emu, Method::GET, &format!("/v1/ports/{id}"), None).await;
    assert_eq!(g["port"]["ipv6_bandwidth_id"], "");
    assert_err(&emu.post(&detach, json!(null)).await, 400, "IEC.020614");
    let (s, _) = emu.delete(&format!("/v1/bandwidths/{bw}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = emu.delete(&format!("/v1/ports/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}
