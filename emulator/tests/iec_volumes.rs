//! Contract tests for volumes and volume types (digest §2.4) over real HTTP: disks created with
//! an instance, their status through the instance's life, filters, paging, the not-found code and
//! the volume-type availability.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Emu, assert_err, start_with, test_config};
use edgefleet_emulator::Delays;
use reqwest::StatusCode;
use serde_json::{Value, json};

const ZS: &str = "a0272146-f6d8-4e3f-a1dc-196ec4a2f856";
const IMAGE: &str = "00000000-0000-0000-0000-000000000002";

async fn get_ok(emu: &Emu, path: &str) -> Value {
    let (s, v) = emu.get(path).await;
    assert_eq!(s, StatusCode::OK, "{path}: {v}");
    v
}

async fn server_with_disks(emu: &Emu) -> String {
    let (_, v) = emu
        .post(
            "/v1/vpcs",
            json!({"vpc": {"name": "net", "cidr": "192.168.0.0/16", "mode": "CUSTOMER"}}),
        )
        .await;
    let vpc = v["vpc"]["id"].as_str().unwrap().to_string();
    let (_, s) = emu
        .post(
            "/v1/subnets",
            json!({"subnet": {"name": "sub", "cidr": "192.168.1.0/24", "gateway_ip": "192.168.1.1",
                "vpc_id": vpc, "site_id": ZS}}),
        )
        .await;
    let sub = s["subnet"]["id"].as_str().unwrap().to_string();
    let server = json!({"server": {"name": "db", "image_ref": IMAGE, "flavor_ref": "c6.large.2",
        "net_config": {"vpc_id": vpc, "subnets": [{"id": sub}]},
        "root_volume": {"volume_type": "SAS", "size": 40},
        "data_volumes": [{"volume_type": "SATA", "size": 100}], "count": 1,
        "coverage": {"coverage_policy": "centralize", "coverage_level": "site",
            "coverage_sites": [{"site": ZS, "demands": [{"pool_id": "5_unicon_site3"}]}]}}});
    let (s, r) = emu.post("/v1/cloudservers", server).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    r["server_ids"][0].as_str().unwrap().to_string()
}

#[tokio::test]
async fn volumes_follow_their_instance() {
    let config = edgefleet_emulator::Config {
        delays: Delays {
            all_ms: Some(2000),
            per: Default::default(),
        },
        ..test_config()
    };
    let emu = start_with(config).await;
    let l = get_ok(&emu, "/v1/cloudvolumes").await;
    assert_eq!(l, json!({"count": 0, "volumes": []}));
    let server = server_with_disks(&emu).await;

    let l = get_ok(&emu, "/v1/cloudvolumes").await;
    assert_eq!(l["count"], 2);
    let sys = l["volumes"][0].clone();
    let data = l["volumes"][1].clone();
    assert_eq!(sys["status"], "creating");
    assert_eq!(sys["size"], 40);
    assert_eq!(sys["volume_type"], "SAS");
    assert_eq!(sys["bootable"], "true");
    assert_eq!(data["bootable"], "false");
    assert_eq!(data["size"], 100);
    assert_eq!(data["volume_type"], "SATA");
    assert_eq!(sys["attachments"][0]["server_id"], server.as_str());
    assert_eq!(sys["attachments"][0]["device"], "/dev/vda");
    assert_eq!(data["attachments"][0]["device"], "/dev/vdb");
    assert_eq!(sys["encrypted"], false);
    assert_eq!(sys["multiattach"], false);
    assert!(sys["availability_zone"].is_string());
    assert!(sys["name"].as_str().unwrap().ends_with("-volume-0000"), "{sys}");

    // the instance's attached volumes are these ids
    let (_, g) = emu.get(&format!("/v1/cloudservers/{server}")).await;
    let attached: Vec<&Value> = g["server"]["os-extended-volumes:volumes_attached"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["id"])
        .collect();
    assert_eq!(attached, vec![&sys["id"], &data["id"]]);

    emu.advance(3).await;
    let g = get_ok(&emu, &format!("/v1/cloudvolumes/{}", sys["id"].as_str().unwrap())).await;
    assert_eq!(g["volume"]["status"], "in-use");
    assert_eq!(g["volume"]["id"], sys["id"]);

    // filters and paging
    let l = get_ok(&emu, "/v1/cloudvolumes?status=in-use").await;
    assert_eq!(l["count"], 2);
    let l = get_ok(&emu, "/v1/cloudvolumes?status=creating").await;
    assert_eq!(l["count"], 0);
    let name = data["name"].as_str().unwrap();
    let l = get_ok(&emu, &format!("/v1/cloudvolumes?name={name}")).await;
    assert_eq!(l["count"], 1);
    assert_eq!(l["volumes"][0]["id"], data["id"]);
    let l = get_ok(&emu, "/v1/cloudvolumes?limit=1&offset=1").await;
    assert_eq!(l["count"], 2);
    assert_eq!(l["volumes"][0]["id"], data["id"]);
    assert_err(&emu.get("/v1/cloudvolumes?offset=-1").await, 400, "IEC.020916");
    assert_err(&emu.get("/v1/cloudvolumes?limit=ten").await, 400, "IEC.000006");

    // deleting the instance takes its disks with it
    let (s, _) = emu
        .post("/v1/cloudservers/delete", json!({"servers": [{"id": server}]}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let l = get_ok(&emu, "/v1/cloudvolumes").await;
    assert_eq!(l["volumes"][0]["status"], "deleting");
    emu.advance(3).await;
    let l = get_ok(&emu, "/v1/cloudvolumes").await;
    assert_eq!(l["count"], 0);
    let missing = format!("/v1/cloudvolumes/{}", sys["id"].as_str().unwrap());
    let got = emu.get(&missing).await;
    assert_err(&got, 404, "IEC.010560");
    assert!(
        got.1["error_msg"]
            .as_str()
            .unwrap()
            .contains(sys["id"].as_str().unwrap())
    );
}

#[tokio::test]
async fn volume_types_report_availability() {
    let emu = start_with(test_config()).await;
    let t = get_ok(&emu, "/v1/cloudvolumes/volume-types").await;
    let types = t["volume_types"].as_array().unwrap();
    assert_eq!(types.len(), 3, "{t}");
    let status = |name: &str| {
        types.iter().find(|v| v["name"] == name).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status("SATA"), "normal");
    assert_eq!(status("SAS"), "normal");
    assert_eq!(status("SSD"), "sellout", "no default site offers SSD");
    assert!(types.iter().all(|v| v["id"].is_string()));
}
