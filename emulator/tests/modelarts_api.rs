//! ModelArts DevServer contract tests over real HTTP with AK/SK-signed requests: create (every
//! validation error), show, list paging, rename, delete, power and OS transitions, quota, and the
//! gateway answers (signature, token, project, throttling).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod modelarts_support;

use edgefleet_emulator::core::faults::{Faults, ThrottleFault};
use edgefleet_emulator::modelarts::catalog::{DEFAULT_KEY_PAIR, DEFAULT_VPC};
use modelarts_support::{Ma, start, start_with, test_config, valid_body};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn with(mut body: Value, path: &str, value: Value) -> Value {
    let mut cur = &mut body;
    let parts: Vec<&str> = path.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        cur = &mut cur[*p];
    }
    let last = parts[parts.len() - 1];
    if value.is_null() {
        cur.as_object_mut().unwrap().remove(last);
    } else {
        cur[last] = value;
    }
    body
}

#[tokio::test]
async fn modelarts_create_post_paid_runs_after_the_create_delay() {
    let ma = start().await;
    let a = ma.post(&ma.servers(""), valid_body("EI-evs-1107")).await;
    let s = a.ok();
    assert_eq!(s["status"], "CREATING");
    assert_eq!(s["charging_mode"], "POST_PAID");
    assert_eq!(s["flavor"], "Si2.large.4");
    assert_eq!(s["image"]["image_id"], "c90fb553-2cdb-4b81-b56a-ef68812c6cf7");
    assert_eq!(s["image"]["server_type"], "ECS");
    assert_eq!(s["cloud_server"]["type"], "ECS");
    assert_eq!(s["vpc_id"], DEFAULT_VPC);
    assert!(s.get("order_id").is_none());
    assert!(
        s["endpoints"][0]["uri"]
            .as_str()
            .unwrap()
            .starts_with("192.168.0.")
    );
    assert_eq!(s["volumes"][0]["type"], "ROOT");
    let id = s["id"].as_str().unwrap().to_string();
    assert_eq!(ma.status(&id).await, "CREATING");
    ma.advance_ms(3_000);
    assert_eq!(ma.status(&id).await, "RUNNING");
}

#[tokio::test]
async fn modelarts_create_rejects_each_invalid_field_with_the_parameter_code() {
    let ma = start().await;
    let base = valid_body("ok");
    let uuid = "11111111-2222-4333-8444-555555555555";
    let cases: Vec<(Value, &str)> = vec![
        (with(base.clone(), "name", Value::Null), "name is required"),
        (with(base.clone(), "name", json!("bad name")), "name must"),
        (with(base.clone(), "name", json!("x".repeat(65))), "name must"),
        (
            with(base.clone(), "flavor", Value::Null),
            "resource_flavor or flavor",
        ),
        (
            with(base.clone(), "resource_flavor", json!("Si2.large.4")),
            "resource_flavor and flavor",
        ),
        (
            with(base.clone(), "flavor", json!("nope.large")),
            "flavor nope.large does not exist",
        ),
        (
            with(base.clone(), "image_id", Value::Null),
            "image_id is required",
        ),
        (
            with(base.clone(), "image_id", json!("not-a-uuid")),
            "image_id must be a UUID",
        ),
        (with(base.clone(), "image_id", json!(uuid)), "does not exist"),
        (
            with(
                base.clone(),
                "image_id",
                json!("7b2e9c4d-5a6f-4b8c-9d0e-1f2a3b4c5d02"),
            ),
            "does not fit the flavor",
        ),
        (with(base.clone(), "network", Value::Null), "network is required"),
        (
            with(base.clone(), "network.vpc_id", json!(uuid)),
            "network.vpc_id",
        ),
        (
            with(base.clone(), "network.subnet_id", json!(uuid)),
            "network.subnet_id",
        ),
        (
            with(base.clone(), "network.security_group_id", json!(uuid)),
            "network.security_group_id",
        ),
        (
            with(
                base.clone(),
                "network.security_group_id",
                json!(format!("{uuid},{uuid}")),
            ),
            "exactly one security group",
        ),
        (
            with(base.clone(), "network.security_group_id", json!([uuid])),
            "network.security_group_id must be a string",
        ),
        (
            with(base.clone(), "network.roce_id", json!("x")),
            "network.roce_id",
        ),
        (
            with(base.clone(), "admin_pass", Value::Null),
            "admin_pass or key_pair_name",
        ),
        (
            with(base.clone(), "key_pair_name", json!(DEFAULT_KEY_PAIR)),
            "admin_pass and key_pair_name",
        ),
        (
            with(base.clone(), "admin_pass", json!("short")),
            "admin_pass must be 8 to 26",
        ),
        (
            with(base.clone(), "admin_pass", json!("lowercaseonly1")),
            "admin_pass must contain three",
        ),
        (
            with(base.clone(), "admin_pass", json!("Root@12345")),
            "root or administrator",
        ),
        (
            with(
                with(base.clone(), "admin_pass", Value::Null),
                "key_pair_name",
                json!("nokey"),
            ),
            "key_pair_name nokey does not exist",
        ),
        (
            with(base.clone(), "arch", json!("MIPS")),
            "arch must be X86 or ARM",
        ),
        (
            with(base.clone(), "arch", json!("ARM")),
            "arch ARM does not match",
        ),
        (
            with(base.clone(), "server_type", json!("VM")),
            "server_type must be",
        ),
        (
            with(base.clone(), "server_type", json!("BMS")),
            "server_type BMS does not match",
        ),
        (
            with(base.clone(), "hps_cluster_id", json!(uuid)),
            "hps_cluster_id is only for HPS",
        ),
        (
            with(base.clone(), "availability_zone", json!("mars-1a")),
            "availability_zone mars-1a",
        ),
        (
            with(
                with(base.clone(), "flavor", json!("pi2.2xlarge.4")),
                "availability_zone",
                json!("cn-north-4c"),
            ),
            "does not offer the flavor",
        ),
        (with(base.clone(), "count", json!(0)), "count must be 1 to 10"),
        (with(base.clone(), "count", json!(11)), "count must be 1 to 10"),
        (
            with(base.clone(), "enterprise_project_id", json!("a b")),
            "enterprise_project_id",
        ),
        (
            with(base.clone(), "root_volume", json!({"size": 99})),
            "root_volume.size",
        ),
        (
            with(base.clone(), "root_volume", json!({"size": 1025})),
            "root_volume.size",
        ),
        (
            with(base.clone(), "root_volume", json!({"type": "HDD"})),
            "root_volume.type",
        ),
        (
            with(
                base.clone(),
                "data_volume",
                json!({"size": 50, "type": "SSD", "count": 1}),
            ),
            "data_volume.size",
        ),
        (
            with(
                base.clone(),
                "data_volume",
                json!({"size": 100, "type": "SSD", "count": 9}),
            ),
            "data_volume.count",
        ),
        (
            with(base.clone(), "data_volume", json!({"size": 100, "count": 1})),
            "data_volume.type is required",
        ),
        (
            with(base.clone(), "user_data", json!("%%%")),
            "user_data must be base64",
        ),
        (
            with(
                base.clone(),
                "userdata",
                json!(base64_of(&"a".repeat(32 * 1024 + 1))),
            ),
            "userdata must be at most 32 KB",
        ),
        (
            with(
                with(base.clone(), "userdata", json!("YQ==")),
                "user_data",
                json!("Yg=="),
            ),
            "user_data and userdata differ",
        ),
        (
            with(
                base.clone(),
                "charging_info",
                json!({"period_type": "MONTH", "period_num": 1}),
            ),
            "charging_info.charging_mode is required",
        ),
        (
            with(base.clone(), "charging_info", json!({"charging_mode": "FREE"})),
            "charging_info.charging_mode must be",
        ),
        (
            with(
                base.clone(),
                "charging_info",
                json!({"charging_mode": "PRE_PAID", "period_num": 1}),
            ),
            "charging_info.period_type is required",
        ),
        (
            with(
                base.clone(),
                "charging_info",
                json!({"charging_mode": "PRE_PAID", "period_type": "DECADE", "period_num": 1}),
            ),
            "charging_info.period_type must be",
        ),
        (
            with(
                base.clone(),
                "charging_info",
                json!({"charging_mode": "PRE_PAID", "period_type": "MONTH", "period_num": 12}),
            ),
            "charging_info.period_num must be 1 to 11",
        ),
        (
            with(
                base.clone(),
                "charging_info",
                json!({"charging_mode": "PRE_PAID", "period_type": "MONTH", "period_num": 1, "is_auto_pay": "yes"}),
            ),
            "charging_info.is_auto_pay must be a boolean",
        ),
    ];
    for (body, expected) in cases {
        let a = ma.post(&ma.servers(""), body.clone()).await;
        let msg = a.err(400, "ModelArts.0104");
        assert!(msg.contains(expected), "{expected:?} not in {msg:?} for {body}");
    }
    let a = ma.send(Method::POST, &ma.servers(""), None, &[]).await;
    a.err(400, "ModelArts.0104");
    assert!(ma.list().await.is_empty(), "no invalid create made a server");
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn modelarts_create_accepts_both_user_data_spellings_key_pairs_and_post_paid_charging_info() {
    let ma = start().await;
    let mut b = with(valid_body("kp"), "admin_pass", Value::Null);
    b["key_pair_name"] = json!(DEFAULT_KEY_PAIR);
    b["userdata"] = json!(base64_of("#!/bin/sh\necho hi\n"));
    b["charging_info"] = json!({"charging_mode": "POST_PAID", "period_type": "", "period_num": 0});
    b["resource_flavor"] = b["flavor"].take();
    b.as_object_mut().unwrap().remove("flavor");
    b["root_volume"] = json!({"size": 200, "type": "SSD"});
    b["data_volume"] = json!({"size": 500, "type": "SSD", "count": 2});
    b["availability_zone"] = json!("cn-north-4b");
    b["arch"] = json!("X86");
    b["server_type"] = json!("ECS");
    let s = ma.post(&ma.servers(""), b).await.ok().clone();
    assert_eq!(s["key_pair_name"], DEFAULT_KEY_PAIR);
    assert_eq!(s["resource_flavor"], "Si2.large.4");
    assert_eq!(s["volumes"].as_array().unwrap().len(), 3);
    assert_eq!(s["volumes"][0]["size"], 200);
    let mut b = valid_body("sdk-spelling");
    b["user_data"] = json!(base64_of("x"));
    b["count"] = json!(3);
    let first = ma.post(&ma.servers(""), b).await.ok().clone();
    assert_eq!(first["name"], "sdk-spelling-1");
    let names: Vec<String> = ma
        .list()
        .await
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["kp", "sdk-spelling-1", "sdk-spelling-2", "sdk-spelling-3"]
    );
}

#[tokio::test]
async fn modelarts_list_pages_by_item_offset_without_name_or_status_filters() {
    let ma = start().await;
    for i in 0..5 {
        ma.create(&format!("s{i}")).await;
        ma.advance_ms(10);
    }
    let page = ma.get(&ma.servers("?limit=2&offset=2")).await.ok().clone();
    assert_eq!(page["total"], 5);
    assert_eq!(page["size"], 2);
    assert_eq!(page["current"], 2);
    assert_eq!(page["pages"], 3);
    let names: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["s2", "s3"]);
    let default = ma.get(&ma.servers("")).await.ok().clone();
    assert_eq!(default["size"], 10);
    assert_eq!(default["data"].as_array().unwrap().len(), 5);
    let desc = ma.get(&ma.servers("?sort_dir=DESC&limit=1")).await.ok().clone();
    assert_eq!(desc["data"][0]["name"], "s4");
    let filtered = ma.get(&ma.servers("?name=s1&status=STOPPED")).await.ok().clone();
    assert_eq!(
        filtered["total"], 5,
        "name and status are not filters of the real API"
    );
    ma.get(&ma.servers("?limit=1025"))
        .await
        .err(400, "ModelArts.0104");
    ma.get(&ma.servers("?offset=-1")).await.err(400, "ModelArts.0104");
    ma.get(&ma.servers("?sort_dir=UP"))
        .await
        .err(400, "ModelArts.0104");
    ma.get(&ma.servers("?sort_key=name"))
        .await
        .err(400, "ModelArts.6303");
    let all = ma.get(&ma.servers("/all")).await.ok().clone();
    assert_eq!(all["total"], 5);
}

#[tokio::test]
async fn modelarts_show_rename_and_delete_post_paid_then_not_found_is_400_6404() {
    let ma = start().await;
    let id = ma.create("victim").await;
    let renamed = ma
        .put(&ma.servers(&format!("/{id}")), Some(json!({"name": "renamed"})))
        .await;
    assert_eq!(renamed.ok()["name"], "renamed");
    ma.put(&ma.servers(&format!("/{id}")), Some(json!({"name": "bad name"})))
        .await
        .err(400, "ModelArts.0104");
    let d = ma.delete(&ma.servers(&format!("/{id}"))).await;
    assert_eq!(d.ok()["status"], "DELETING");
    assert_eq!(
        ma.delete(&ma.servers(&format!("/{id}"))).await.ok()["status"],
        "DELETING"
    );
    ma.advance_ms(1_000);
    let msg = ma
        .get(&ma.servers(&format!("/{id}")))
        .await
        .err(400, "ModelArts.6404");
    assert!(msg.contains(&id));
    ma.delete(&ma.servers(&format!("/{id}")))
        .await
        .err(400, "ModelArts.6404");
    ma.put(&ma.servers(&format!("/{id}/stop")), None)
        .await
        .err(400, "ModelArts.6404");
}

#[tokio::test]
async fn modelarts_power_and_os_operations_move_through_their_states() {
    let ma = start().await;
    let id = ma.create("power").await;
    let path = |op: &str| ma.servers(&format!("/{id}/{op}"));
    ma.put(&path("stop"), None).await.err(400, "ModelArts.7000");
    ma.advance_ms(3_000);
    ma.put(&path("start"), Some(json!({})))
        .await
        .err(400, "ModelArts.6305");
    assert_eq!(ma.put(&path("stop"), None).await.ok()["status"], "STOPPING");
    ma.put(&path("start"), Some(json!({})))
        .await
        .err(400, "ModelArts.6308");
    ma.advance_ms(1_000);
    assert_eq!(ma.status(&id).await, "STOPPED");
    ma.put(&path("stop"), None).await.err(400, "ModelArts.6307");
    ma.put(&path("reboot"), None).await.err(400, "ModelArts.7000");
    ma.put(&path("start"), None).await.err(400, "ModelArts.0104");
    ma.put(&path("start"), Some(json!({"arch": "MIPS"})))
        .await
        .err(400, "ModelArts.0104");
    assert_eq!(
        ma.put(&path("start"), Some(json!({}))).await.ok()["status"],
        "STARTING"
    );
    ma.put(&path("stop"), None).await.err(400, "ModelArts.6306");
    ma.advance_ms(1_000);
    assert_eq!(ma.put(&path("reboot"), None).await.ok()["status"], "REBOOTING");
    ma.advance_ms(1_000);
    assert_eq!(ma.status(&id).await, "RUNNING");

    ma.post(&path("changeos"), json!({"admin_pass": "@DevServer1"}))
        .await
        .err(400, "ModelArts.0104");
    ma.post(
        &path("changeos"),
        json!({"admin_pass": "@DevServer1", "image_id": "9d4c1e2f-3a5b-4c6d-8e7f-0a1b2c3d4e03"}),
    )
    .await
    .err(400, "ModelArts.0104");
    let c = ma
        .post(
            &path("changeos"),
            json!({"key_pair_name": DEFAULT_KEY_PAIR, "image_id": "4f7a3b6e-2d1c-4e8f-9a0b-5c6d7e8f9a01"}),
        )
        .await;
    assert_eq!(c.ok()["status"], "CHANGINGOS");
    assert_eq!(c.ok()["image"]["name"], "Ubuntu22.04_x86_64_GPU");
    ma.advance_ms(2_000);
    ma.post(
        &path("reinstallos"),
        json!({"admin_pass": "@DevServer1", "image_id": "c90fb553-2cdb-4b81-b56a-ef68812c6cf7"}),
    )
    .await
    .err(400, "ModelArts.0104");
    let r = ma
        .post(&path("reinstallos"), json!({"admin_pass": "@DevServer1"}))
        .await;
    assert_eq!(r.ok()["status"], "REINSTALLINGOS");
    ma.advance_ms(2_000);
    assert_eq!(ma.status(&id).await, "RUNNING");
}

#[tokio::test]
async fn modelarts_create_failures_and_stuck_builds_follow_the_faults() {
    let mut config = test_config();
    config.faults.instance_failure_rate = 1.0;
    let ma = start_with(config).await;
    let id = ma.create("doomed").await;
    ma.advance_ms(3_000);
    assert_eq!(ma.status(&id).await, "CREATE_FAILED");
    assert_eq!(
        ma.delete(&ma.servers(&format!("/{id}"))).await.ok()["status"],
        "DELETING"
    );

    let mut config = test_config();
    config.faults.stuck = vec!["modelarts.dev_server".into()];
    let ma = start_with(config).await;
    let id = ma.create("stuck").await;
    ma.advance_ms(60_000);
    assert_eq!(ma.status(&id).await, "CREATING");
}

#[tokio::test]
async fn modelarts_quota_counts_servers_of_the_project() {
    let mut config = test_config();
    config.modelarts.quota = 2;
    let ma = start_with(config).await;
    ma.create("a").await;
    let mut b = valid_body("b");
    b["count"] = json!(2);
    ma.post(&ma.servers(""), b).await.err(400, "ModelArts.0116");
    ma.create("b").await;
    ma.post(&ma.servers(""), valid_body("c"))
        .await
        .err(400, "ModelArts.0116");
}

#[tokio::test]
async fn modelarts_flavors_and_images_come_from_the_catalog() {
    let ma = start().await;
    let f = ma
        .get(&ma.servers("/flavors?server_type=BMS&arch=ARM"))
        .await
        .ok()
        .clone();
    assert_eq!(f["total"], 1);
    assert_eq!(f["data"][0]["flavor"], "physical.kat2e.48xlarge.8.313t");
    assert_eq!(f["data"][0]["availability_zone"], "cn-north-4b");
    let i = ma
        .get(&ma.servers("/images?flavor_name=pi2.2xlarge.4"))
        .await
        .ok()
        .clone();
    assert_eq!(i["total"], 2);
    let one = ma
        .get(&ma.servers("/images/c90fb553-2cdb-4b81-b56a-ef68812c6cf7"))
        .await
        .ok()
        .clone();
    assert_eq!(one["name"], "Ubuntu18.04_x86_64_CPU");
}

#[tokio::test]
async fn modelarts_rejects_a_bad_signature_a_missing_credential_and_a_foreign_project() {
    let mut ma = start().await;
    ma.sk = "wrong-secret".into();
    ma.get(&ma.servers("")).await.err(401, "APIGW.0301");
    ma.sk = edgefleet_emulator::config::DEFAULT_SK.into();
    let unsigned = ma
        .http
        .get(format!("{}{}", ma.base, ma.servers("")))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    let body: Value = unsigned.json().await.unwrap();
    assert_eq!(body["error_code"], "APIGW.0301");
    assert!(body["request_id"].is_string());

    let other = "0123456789abcdef0123456789abcdef";
    let path = format!("/v1/{other}/dev-servers");
    ma.send(Method::GET, &path, None, &[("x-project-id", other)])
        .await
        .err(403, "ModelArts.0204");
    ma.send(Method::GET, &ma.servers(""), None, &[("x-project-id", other)])
        .await
        .err(403, "ModelArts.0204");
    ma.get("/v1/nope").await.err(404, "APIGW.0101");
}

#[tokio::test]
async fn modelarts_accepts_a_project_scoped_iam_token() {
    let ma = start().await;
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "edgefleet", "password": "Emulator@2026", "domain": {"name": "edgefleet"}}}},
        "scope": {"project": {"name": "cn-north-4"}}}});
    let resp = ma
        .http
        .post(format!("{}/v3/auth/tokens", ma.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let token = resp.headers()["x-subject-token"].to_str().unwrap().to_string();
    let listed = ma
        .http
        .get(format!("{}{}", ma.base, ma.servers("")))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let bad = ma
        .http
        .get(format!("{}{}", ma.base, ma.servers("")))
        .header("X-Auth-Token", "bogus")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn modelarts_throttles_with_apig_0308_and_retry_after() {
    let mut config = test_config();
    config.faults = Faults {
        throttle: vec![ThrottleFault {
            account: "*".into(),
            limit_per_second: 2,
            retry_after_secs: 3,
        }],
        ..Faults::default()
    };
    let ma: Ma = start_with(config).await;
    ma.get(&ma.servers("")).await.ok();
    ma.get(&ma.servers("")).await.ok();
    let a = ma.get(&ma.servers("")).await;
    let msg = a.err(429, "APIG.0308");
    assert!(msg.contains("limit:2,time:1 second"));
    assert_eq!(a.headers["retry-after"], "3");
    assert_eq!(
        a.body["request_id"].as_str().unwrap(),
        a.headers["x-request-id"].to_str().unwrap()
    );
}

#[tokio::test]
async fn modelarts_batch_action_checks_every_server_before_changing_any() {
    let ma = start().await;
    let a = ma.create("batch-a").await;
    let b = ma.create("batch-b").await;
    ma.advance_ms(3_000);
    let action = ma.servers("/action");
    let stop = ma
        .post(
            &action,
            json!({"type": "STOP", "servers": [{"id": a}, {"id": b}]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(stop["total"], 2);
    assert_eq!(stop["data"][1]["status"], "STOPPING");
    ma.advance_ms(1_000);
    ma.post(&action, json!({"type": "START", "servers": [{"id": a}]}))
        .await
        .ok();
    ma.advance_ms(1_000);
    ma.post(
        &action,
        json!({"type": "STOP", "servers": [{"id": a}, {"id": b}]}),
    )
    .await
    .err(400, "ModelArts.6307");
    assert_eq!(ma.status(&a).await, "RUNNING", "a refused batch changes nothing");
    ma.post(&action, json!({"type": "CHANGEOS", "servers": [{"id": a}]}))
        .await
        .err(400, "ModelArts.0104");
    let os = ma
        .post(
            &action,
            json!({"type": "CHANGEOS", "servers": [{"id": a}, {"id": b}],
                   "extend_param": {"admin_pass": "@DevServer1", "image_id": "4f7a3b6e-2d1c-4e8f-9a0b-5c6d7e8f9a01"}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(os["data"][0]["image"]["name"], "Ubuntu22.04_x86_64_GPU");
    ma.post(&action, json!({"type": "EXPLODE", "servers": [{"id": a}]}))
        .await
        .err(400, "ModelArts.0104");
    ma.post(
        &action,
        json!({"type": "DELETE", "servers": [{"id": a}, {"id": "nope"}]}),
    )
    .await
    .err(400, "ModelArts.6404");
    ma.advance_ms(2_000);
    let del = ma
        .post(
            &action,
            json!({"type": "DELETE", "servers": [{"id": a}, {"id": b}]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(del["data"][0]["status"], "DELETING");
    let synced = ma.put(&ma.servers("/sync?limit=1"), None).await.ok().clone();
    assert_eq!(synced["total"], 2);
    assert_eq!(synced["data"].as_array().unwrap().len(), 1);
}
