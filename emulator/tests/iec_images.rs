//! Contract tests for creating a private edge image from an instance (digest §2.15.2) over real
//! HTTP: the unwrapped `{job_id, image_id}` answer, `saving` → `active` through the clock, the image
//! in the private list, and the errors for a bad name or an unknown instance.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{assert_err, start_with, test_config};
use edgefleet_emulator::Delays;
use reqwest::StatusCode;
use serde_json::json;

const ZS: &str = "a0272146-f6d8-4e3f-a1dc-196ec4a2f856";
const IMAGE: &str = "00000000-0000-0000-0000-000000000002";

#[tokio::test]
async fn image_from_instance() {
    let emu = start_with(edgefleet_emulator::Config {
        delays: Delays {
            all_ms: Some(2000),
            per: Default::default(),
        },
        ..test_config()
    })
    .await;
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
    let server = json!({"server": {"name": "golden", "image_ref": IMAGE, "flavor_ref": "c6.large.2",
        "net_config": {"vpc_id": vpc, "subnets": [{"id": sub}]},
        "root_volume": {"volume_type": "SAS", "size": 40}, "count": 1,
        "coverage": {"coverage_policy": "centralize", "coverage_level": "site",
            "coverage_sites": [{"site": ZS, "demands": [{"pool_id": "5_unicon_site3"}]}]}}});
    let (st, r) = emu.post("/v1/cloudservers", server).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{r}");
    let instance = r["server_ids"][0].as_str().unwrap().to_string();
    emu.advance(3).await;

    let (st, c) = emu
        .post(
            "/v1/images/create",
            json!({"name": "golden image", "instance_id": instance}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    let image = c["image_id"].as_str().unwrap().to_string();
    let job = c["job_id"].as_str().unwrap();
    assert!(!job.is_empty());
    assert_eq!(
        c.as_object().unwrap().len(),
        2,
        "unwrapped {{job_id, image_id}}: {c}"
    );
    let (st, g) = emu.get(&format!("/v1/images/{image}")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(g["id"], image.as_str(), "image GET is not wrapped");
    assert_eq!(g["name"], "golden image");
    assert_eq!(g["status"], "saving");
    emu.advance(3).await;
    let (_, g) = emu.get(&format!("/v1/images/{image}")).await;
    assert_eq!(g["status"], "active");
    let (_, l) = emu
        .get(&format!("/v1/images?visibility=private&id={image}"))
        .await;
    assert_eq!(l["total"], 1);

    for (body, status, code) in [
        (json!({"name": "", "instance_id": instance}), 400, "IEC.000007"),
        (
            json!({"name": " padded", "instance_id": instance}),
            400,
            "IEC.000007",
        ),
        (
            json!({"name": "x".repeat(129), "instance_id": instance}),
            400,
            "IEC.000007",
        ),
        (json!({"instance_id": instance}), 400, "IEC.000007"),
        (
            json!({"name": "ok", "instance_id": "d88eb9ef-0000-0000-0000-000000000000"}),
            404,
            "IEC.010200",
        ),
    ] {
        assert_err(&emu.post("/v1/images/create", body).await, status, code);
    }
}
