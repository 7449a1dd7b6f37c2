//! Luchen instances over real HTTP: create validation (every seed field, the documented message
//! shape), catalog ids, the list pager and row shape, the status machine with its delays, stop /
//! start / restart / terminate and their refusals, and faults (failures, stuck, lost answers,
//! injected errors, throttling, eventual consistency).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod luchen_support;

use edgefleet_emulator::Config;
use edgefleet_emulator::luchen::catalog::{REGION_EAST, REGION_NORTH, TYPE_4090_1};
use luchen_support::{Luchen, assert_message, create_body, start, start_with, test_config};
use reqwest::StatusCode;
use serde_json::{Value, json};

const CREATE: &str = "/api/instance/create";

/// Removes the field at a dotted path (`billing.chargeMode`, `remoteStorages.0.type`).
fn without(mut body: Value, path: &str) -> Value {
    let keys: Vec<&str> = path.split('.').collect();
    let mut at = &mut body;
    for k in &keys[..keys.len() - 1] {
        at = match k.parse::<usize>() {
            Ok(i) => &mut at[i],
            Err(_) => &mut at[*k],
        };
    }
    at.as_object_mut().unwrap().remove(keys[keys.len() - 1]);
    body
}

fn with(mut body: Value, path: &str, value: Value) -> Value {
    let mut at = &mut body;
    for k in path.split('.') {
        at = match k.parse::<usize>() {
            Ok(i) => &mut at[i],
            Err(_) => &mut at[k],
        };
    }
    *at = value;
    body
}

#[tokio::test]
async fn luchen_create_names_every_missing_required_field_in_the_documented_shape() {
    let l = start().await;
    let required = [
        ("name", "name"),
        ("imageId", "imageId"),
        ("instanceTypeId", "instanceTypeId"),
        ("region", "region"),
        ("billing", "billing"),
        ("billing.chargeMode", "billing.chargeMode"),
        ("billing.duration", "billing.duration"),
        ("remoteStorages", "remoteStorages"),
        ("remoteStorages.0.mountPath", "remoteStorages[0].mountPath"),
        (
            "remoteStorages.0.remoteStorageName",
            "remoteStorages[0].remoteStorageName",
        ),
        (
            "remoteStorages.0.remoteStorageId",
            "remoteStorages[0].remoteStorageId",
        ),
        ("remoteStorages.0.type", "remoteStorages[0].type"),
        ("instanceConfiguration", "instanceConfiguration"),
        (
            "instanceConfiguration.enableCommonData",
            "instanceConfiguration.enableCommonData",
        ),
        (
            "instanceConfiguration.enableDocker",
            "instanceConfiguration.enableDocker",
        ),
        (
            "instanceConfiguration.initScript",
            "instanceConfiguration.initScript",
        ),
        ("nodePorts", "nodePorts"),
    ];
    for (path, named) in required {
        let got = l.call(CREATE, without(create_body("v"), path)).await;
        assert_message(&got, StatusCode::BAD_REQUEST, &format!("字段 \"{named}\" 未设置"));
        let null = l.call(CREATE, with(create_body("v"), path, Value::Null)).await;
        assert_message(
            &null,
            StatusCode::BAD_REQUEST,
            &format!("字段 \"{named}\" 未设置"),
        );
    }
    let first = l.call(CREATE, json!({})).await;
    assert_message(&first, StatusCode::BAD_REQUEST, "字段 \"name\" 未设置");
    // The optional ones may be left out; the seed's cURL body (empty arrays, no sizes) is valid.
    let mut minimal = create_body("minimal");
    for path in [
        "isSpotInstance",
        "instanceConfiguration.extraDataDiskSizeDB",
        "instanceConfiguration.dockerStorageSize",
    ] {
        minimal = without(minimal, path);
    }
    minimal = with(minimal, "remoteStorages", json!([]));
    minimal = with(minimal, "nodePorts", json!([]));
    l.ok(CREATE, minimal).await;
    assert_eq!(l.handle.calls().mutations("POST /api/instance/create"), 1);
}

#[tokio::test]
async fn luchen_create_checks_values_and_catalog_ids() {
    let l = start().await;
    let invalid = [
        ("name", json!(""), "name"),
        ("name", json!("x".repeat(65)), "name"),
        ("name", json!(7), "name"),
        ("billing.chargeMode", json!("perYear"), "billing.chargeMode"),
        ("billing.duration", json!(0), "billing.duration"),
        ("billing.duration", json!(3), "billing.duration"),
        ("billing.duration", json!(1.5), "billing.duration"),
        ("remoteStorages.0.type", json!("nfs"), "remoteStorages[0].type"),
        (
            "remoteStorages.0.mountPath",
            json!("relative/path"),
            "remoteStorages[0].mountPath",
        ),
        ("remoteStorages", json!({}), "remoteStorages"),
        (
            "instanceConfiguration.enableDocker",
            json!("yes"),
            "instanceConfiguration.enableDocker",
        ),
        (
            "instanceConfiguration.dockerStorageSize",
            json!(-1),
            "instanceConfiguration.dockerStorageSize",
        ),
        (
            "instanceConfiguration.extraDataDiskSizeDB",
            json!("10"),
            "instanceConfiguration.extraDataDiskSizeDB",
        ),
        ("isSpotInstance", json!("no"), "isSpotInstance"),
        ("nodePorts", json!([7891, 7891]), "nodePorts[1]"),
        ("nodePorts", json!([0]), "nodePorts[0]"),
        ("nodePorts", json!([70000]), "nodePorts[0]"),
    ];
    for (path, value, named) in invalid {
        let (status, body) = l.call(CREATE, with(create_body("v"), path, value.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}={value}: {body}");
        let text = body["message"].as_str().unwrap();
        assert!(
            text.starts_with(&format!("字段 \"{named}\" 无效")),
            "{path}={value}: {text}"
        );
    }
    // Hourly modes need duration 1; subscriptions take any period.
    l.ok(
        CREATE,
        with(
            with(create_body("weekly"), "billing.chargeMode", json!("perWeek")),
            "billing.duration",
            json!(3),
        ),
    )
    .await;
    let unknown = [
        ("imageId", "ent: image not found"),
        ("instanceTypeId", "ent: instance type not found"),
        ("region", "ent: region not found"),
        (
            "remoteStorages.0.remoteStorageId",
            "ent: remote storage not found",
        ),
    ];
    for (path, message) in unknown {
        let got = l
            .call(
                CREATE,
                with(
                    create_body("v"),
                    path,
                    json!("00000000-0000-4000-8000-000000000000"),
                ),
            )
            .await;
        assert_message(&got, StatusCode::NOT_FOUND, message);
    }
    let not_offered = with(
        with(create_body("v"), "region", json!(REGION_NORTH)),
        "instanceTypeId",
        json!(TYPE_4090_1),
    );
    assert_message(
        &l.call(CREATE, not_offered).await,
        StatusCode::NOT_FOUND,
        "ent: instance type not found",
    );
    assert_eq!(
        l.handle.calls().mutations("POST /api/instance/create"),
        1,
        "only the weekly one"
    );
}

#[tokio::test]
async fn luchen_create_then_list_shows_the_row_and_names_are_not_unique() {
    let l = start().await;
    let a = l.create("gpu-box").await;
    let b = l.create("gpu-box").await;
    assert_ne!(a, b, "two creates with one name are two instances");
    for id in [&a, &b] {
        let uuid = id.strip_prefix("notebook-").unwrap();
        assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{id}");
    }
    let row = l.row(&a).await.unwrap();
    assert_eq!(row["instanceMetadata"]["name"], "gpu-box");
    assert_eq!(row["instanceMetadata"]["instanceUsername"], "root");
    assert_eq!(row["instanceRuntimeInfo"]["status"], "Initializing");
    let spec = &row["instanceSpecInfo"];
    assert_eq!(spec["regionInfo"]["regionId"], REGION_EAST);
    assert_eq!(spec["regionInfo"]["sshAddress"], "", "no address before Running");
    assert_eq!(spec["gpuType"], "H100");
    assert_eq!(spec["gpuNum"], 1);
    let ports = spec["nodePorts"].as_array().unwrap();
    assert_eq!(
        ports
            .iter()
            .map(|p| p["port"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![7891, 7892]
    );
    for p in ports {
        assert!((30000..=32767).contains(&p["nodePort"].as_u64().unwrap()));
    }
    assert_eq!(spec["billing"], json!({"chargeMode": "perHour", "duration": 1}));
    assert_eq!(spec["instanceConfiguration"]["dockerStorageSize"], 50);
    assert_eq!(spec["remoteStorages"][0]["type"], "highspeedstorage");
    let calls = l.handle.calls();
    let list = &calls.operations["POST /api/instance/list"];
    assert_eq!(
        (list.reads, list.mutations),
        (list.requests, 0),
        "a list is a read"
    );
}

#[tokio::test]
async fn luchen_list_needs_the_pager_and_pages_newest_first() {
    let l = start().await;
    let got = l.call("/api/instance/list", json!({})).await;
    assert_message(&got, StatusCode::INTERNAL_SERVER_ERROR, "字段 \"pager\" 未设置");
    let got = l
        .call(
            "/api/instance/list",
            json!({"pager": {"currentPage": 0, "pageSize": 10}}),
        )
        .await;
    assert_eq!(got.0, StatusCode::BAD_REQUEST);
    let got = l
        .call("/api/instance/list", json!({"pager": {"currentPage": 1}}))
        .await;
    assert_message(&got, StatusCode::BAD_REQUEST, "字段 \"pager.pageSize\" 未设置");
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(l.create(&format!("n{n}")).await);
    }
    ids.reverse();
    let mut seen = Vec::new();
    for page in 1..=3 {
        let v = l.page(page, 2).await;
        assert_eq!(
            v["pager"],
            json!({"currentPage": page, "pageSize": 2, "totalEntries": 5})
        );
        for r in v["instances"].as_array().unwrap() {
            seen.push(r["instanceMetadata"]["instanceId"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(seen, ids, "newest first, every instance once");
    assert_eq!(l.page(4, 2).await["instances"], json!([]));
    assert_eq!(l.page(1, 1000).await["pager"]["pageSize"], 100, "clamped");
}

async fn running(l: &Luchen, name: &str) -> String {
    let id = l.create(name).await;
    l.advance_ms(3_000).await;
    assert_eq!(l.status(&id).await.as_deref(), Some("Running"));
    id
}

#[tokio::test]
async fn luchen_status_moves_through_the_documented_values_with_the_delays() {
    let l = start().await;
    let id = l.create("walk").await;
    let mut seen = vec![l.status(&id).await.unwrap()];
    for _ in 0..3 {
        l.advance_ms(1_000).await;
        seen.push(l.status(&id).await.unwrap());
    }
    assert_eq!(seen, ["Initializing", "PullingImage", "Starting", "Running"]);
    let row = l.row(&id).await.unwrap();
    let ssh = row["instanceSpecInfo"]["regionInfo"]["sshAddress"]
        .as_str()
        .unwrap();
    assert!(ssh.starts_with("ssh root@east1.luchen.emulator -p "), "{ssh}");

    l.act("stop", &id).await;
    assert_eq!(l.status(&id).await.as_deref(), Some("Stopping"));
    l.advance_ms(1_000).await;
    assert_eq!(l.status(&id).await.as_deref(), Some("Stopped"));
    l.act("start", &id).await;
    assert_eq!(l.status(&id).await.as_deref(), Some("Starting"));
    l.advance_ms(1_000).await;
    assert_eq!(l.status(&id).await.as_deref(), Some("Running"));
    l.act("restart", &id).await;
    assert_eq!(l.status(&id).await.as_deref(), Some("Restarting"));
    l.advance_ms(1_000).await;
    assert_eq!(l.status(&id).await.as_deref(), Some("Running"));

    l.act("terminate", &id).await;
    assert_eq!(l.status(&id).await.as_deref(), Some("Released"));
    l.advance_ms(2_000).await;
    assert_eq!(l.status(&id).await, None, "gone after the release delay");
}

#[tokio::test]
async fn luchen_actions_refuse_wrong_states_and_unknown_ids() {
    let l = start().await;
    let id = l.create("early").await;
    for what in ["stop", "start", "restart"] {
        let got = l
            .call(&format!("/api/instance/{what}"), json!({"instanceId": id}))
            .await;
        assert_message(
            &got,
            StatusCode::BAD_REQUEST,
            "实例状态 Initializing 不允许此操作",
        );
    }
    l.advance_ms(3_000).await;
    let got = l.call("/api/instance/start", json!({"instanceId": id})).await;
    assert_message(&got, StatusCode::BAD_REQUEST, "实例状态 Running 不允许此操作");
    l.act("stop", &id).await;
    l.advance_ms(1_000).await;
    let got = l.call("/api/instance/stop", json!({"instanceId": id})).await;
    assert_message(&got, StatusCode::BAD_REQUEST, "实例状态 Stopped 不允许此操作");
    for what in ["stop", "start", "restart", "terminate"] {
        let path = format!("/api/instance/{what}");
        let missing = l
            .call(
                &path,
                json!({"instanceId": "notebook-00000000-0000-4000-8000-000000000000"}),
            )
            .await;
        assert_message(&missing, StatusCode::NOT_FOUND, "ent: instance not found");
        assert_message(
            &l.call(&path, json!({})).await,
            StatusCode::BAD_REQUEST,
            "字段 \"instanceId\" 未设置",
        );
    }
    // Terminate works from a running instance and once only.
    let other = running(&l, "busy").await;
    l.act("terminate", &other).await;
    let again = l
        .call("/api/instance/terminate", json!({"instanceId": other}))
        .await;
    assert_message(&again, StatusCode::NOT_FOUND, "ent: instance not found");
    // Each user sees only their own instances.
    let mut cfg = test_config();
    cfg.luchen
        .users
        .push(edgefleet_emulator::luchen::catalog::LuchenUser {
            id: "0a1b2c3d-0000-4000-8000-000000000002".into(),
            username: "second".into(),
            password: "pw-2".into(),
        });
    let two = start_with(cfg).await;
    let mine = two.create("mine").await;
    let (_, body) = luchen_support::raw(
        &two.http,
        &two.base,
        "/api/user/login",
        None,
        json!({"username": "second", "password": "pw-2"}),
    )
    .await;
    let token = body["accessToken"].as_str().unwrap();
    let theirs = luchen_support::raw(
        &two.http,
        &two.base,
        "/api/instance/stop",
        Some(token),
        json!({"instanceId": mine}),
    )
    .await;
    assert_message(&theirs, StatusCode::NOT_FOUND, "ent: instance not found");
}

#[tokio::test]
async fn luchen_failure_faults_end_in_the_failed_statuses() {
    let l = start().await;
    l.set_faults(json!({"instance_failure_rate": 1.0})).await;
    let id = l.create("doomed").await;
    l.advance_ms(3_000).await;
    assert_eq!(l.status(&id).await.as_deref(), Some("StartingFailed"));
    l.set_faults(json!({})).await;
    l.act("start", &id).await;
    l.advance_ms(1_000).await;
    assert_eq!(
        l.status(&id).await.as_deref(),
        Some("Running"),
        "a retried start succeeds"
    );

    l.set_faults(json!({"capacity_exhausted_sites": [REGION_EAST]}))
        .await;
    let full = l.create("no-stock").await;
    l.advance_ms(1_000).await;
    assert_eq!(l.status(&full).await.as_deref(), Some("InitializationFailed"));
    l.act("terminate", &full).await;

    l.set_faults(json!({"stuck": ["luchen.instance"]})).await;
    let stuck = l.create("stuck").await;
    l.advance_ms(60_000).await;
    assert_eq!(l.status(&stuck).await.as_deref(), Some("Initializing"));

    l.set_faults(json!({"slow_builds": [{"name": "slow-*", "delay_ms": 10_000}]}))
        .await;
    let slow = l.create("slow-1").await;
    l.advance_ms(9_000).await;
    assert_eq!(l.status(&slow).await.as_deref(), Some("Initializing"));
    l.advance_ms(3_000).await;
    assert_eq!(l.status(&slow).await.as_deref(), Some("Running"));
}

#[tokio::test]
async fn luchen_archive_happens_only_when_configured() {
    let mut cfg = test_config();
    cfg.delays.per.insert("luchen_instance_archive".into(), 5_000);
    let l = start_with(cfg).await;
    let id = running(&l, "cold").await;
    l.act("stop", &id).await;
    l.advance_ms(1_000).await;
    assert_eq!(l.status(&id).await.as_deref(), Some("Stopped"));
    l.advance_ms(5_000).await;
    assert_eq!(l.status(&id).await.as_deref(), Some("Archived"));
    l.act("start", &id).await;
    l.advance_ms(1_000).await;
    assert_eq!(l.status(&id).await.as_deref(), Some("Running"));
}

#[tokio::test]
async fn luchen_zero_delays_make_a_create_running_at_once() {
    let l = start_with(Config {
        delays: edgefleet_emulator::Delays::zero(),
        ..test_config()
    })
    .await;
    let id = l.create("quick").await;
    assert_eq!(l.status(&id).await.as_deref(), Some("Running"));
}

#[tokio::test]
async fn luchen_lost_create_answers_still_create_and_errors_do_not() {
    let l = start().await;
    l.set_faults(json!({"lost_responses": [{"operation": "POST /api/instance/create", "rate": 1.0}]}))
        .await;
    let got = l.call(CREATE, create_body("lost")).await;
    assert_message(&got, StatusCode::INTERNAL_SERVER_ERROR, "internal server error");
    let listed = l.page(1, 10).await;
    assert_eq!(listed["pager"]["totalEntries"], 1, "the create happened");
    assert_eq!(listed["instances"][0]["instanceMetadata"]["name"], "lost");

    l.set_faults(json!({"errors": [{"operation": "POST /api/instance/*", "rate": 1.0, "status": 503}]}))
        .await;
    let got = l.call(CREATE, create_body("refused")).await;
    assert_message(&got, StatusCode::SERVICE_UNAVAILABLE, "service unavailable");
    l.set_faults(json!({})).await;
    assert_eq!(
        l.page(1, 10).await["pager"]["totalEntries"],
        1,
        "the refused create did not happen"
    );

    l.set_faults(json!({"eventual_consistency": [{"kind": "luchen.instance", "delay_ms": 5000}]}))
        .await;
    let late = l.create("late").await;
    assert_eq!(l.status(&late).await, None, "not listed yet");
    l.advance_ms(5_000).await;
    assert!(l.status(&late).await.is_some());
}

#[tokio::test]
async fn luchen_throttling_answers_429_with_retry_after() {
    let l = start().await;
    l.set_faults(json!({"throttle": [{"limit_per_second": 2, "retry_after_secs": 3}]}))
        .await;
    let pager = json!({"pager": {"currentPage": 1, "pageSize": 10}});
    l.ok("/api/instance/list", pager.clone()).await;
    l.ok("/api/instance/list", pager.clone()).await;
    let resp = l
        .http
        .post(format!("{}/api/instance/list", l.base))
        .header("Cookie", format!("AccessToken={}", l.token))
        .json(&pager)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "3");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, json!({"message": "too many requests"}));
    // The login is not throttled.
    let (status, _) = luchen_support::raw(
        &l.http,
        &l.base,
        "/api/user/login",
        None,
        luchen_support::login_body(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}
