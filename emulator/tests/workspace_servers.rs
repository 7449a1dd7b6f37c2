//! Workspace application servers and jobs over real HTTP with signed requests: a create job builds
//! servers step by step (job WAITING → RUNNING → SUCCESS, servers BUILD → ACTIVE → REGISTERED), the
//! v1 job and sub-job reads, a failed job (the job-failure knob: partial failure, rollback), batch
//! delete (→ job, busy servers refused, unknown ids skipped), DELETE of an unknown server, power
//! actions, the quota and the create-body validation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod workspace_support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use workspace_support::{assert_err, start};

#[tokio::test]
async fn workspace_create_job_builds_servers_step_by_step() {
    let ws = start().await;
    let g = ws.create_group("build").await;
    let job_id = ws.create_servers(&g, 3).await;

    let job = ws.job(&job_id).await;
    assert_eq!(job["status"], "WAITING");
    assert_eq!(job["job_type"], "CREATE_SERVER");
    assert_eq!(job["sub_jobs_total"], 3);
    assert!(
        ws.servers_of(&g).await.is_empty(),
        "no server before the job starts"
    );

    ws.advance_ms(1_000).await;
    let job = ws.job(&job_id).await;
    assert_eq!(job["status"], "RUNNING");
    let servers = ws.servers_of(&g).await;
    assert_eq!(servers.len(), 3);
    for s in &servers {
        assert_eq!(s["vm_status"], "BUILD");
        assert_eq!(s["status"], "UNREGISTER");
        assert_eq!(s["task_status"], "scheduling");
        assert_eq!(s["job_id"], job_id.as_str());
        assert!(s["name"].as_str().unwrap().starts_with("APS-"));
        assert!(
            s["host_address"][0]["addr"]
                .as_str()
                .unwrap()
                .starts_with("192.168.0.")
        );
    }
    let resource_ids: Vec<Value> = job["sub_jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["job_resource_info"]["resource_id"].clone())
        .collect();
    let server_ids: Vec<Value> = servers.iter().map(|s| s["id"].clone()).collect();
    assert_eq!(resource_ids, server_ids);

    ws.advance_ms(3_000).await;
    let job = ws.job(&job_id).await;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert!(job["end_time"].is_string());
    assert!(
        job["sub_jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "SUCCESS")
    );
    assert!(
        ws.servers_of(&g)
            .await
            .iter()
            .all(|s| s["vm_status"] == "ACTIVE" && s["task_status"].is_null())
    );

    ws.advance_ms(1_000).await;
    let servers = ws.servers_of(&g).await;
    assert!(servers.iter().all(|s| s["status"] == "REGISTERED"), "{servers:?}");
    let (_, state) = ws.get(&ws.v1(&format!("app-server-groups/{g}/state"))).await;
    assert_eq!(state["aps_status"]["REGISTERED"], 3);

    // Show one; the other filters.
    let id = servers[0]["id"].as_str().unwrap();
    let (st, one) = ws.get(&ws.v1(&format!("app-servers/{id}"))).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(one["root_volume"]["size"], 80);
    assert_eq!(one["product_info"]["system_disk_size"], "80");
    let name = servers[1]["name"].as_str().unwrap();
    let (_, by_name) = ws.get(&ws.v1(&format!("app-servers?server_name={name}"))).await;
    assert_eq!(by_name["count"], 1);
    let ip = servers[2]["host_address"][0]["addr"].as_str().unwrap();
    let (_, by_ip) = ws.get(&ws.v1(&format!("app-servers?ip_addr={ip}"))).await;
    assert_eq!(by_ip["items"][0]["id"], servers[2]["id"]);
    let (_, paged) = ws
        .get(&ws.v1(&format!("app-servers?server_group_id={g}&offset=2&limit=5")))
        .await;
    assert_eq!(
        (paged["count"].clone(), paged["items"].as_array().unwrap().len()),
        (json!(3), 1)
    );
    assert_err(&ws.get(&ws.v1("app-servers/nope")).await, 404, "WKS.00000404");

    // v1 job and sub-jobs.
    let (st, v1) = ws.get(&ws.v1(&format!("job/{job_id}"))).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v1["job"]["job_status"], 1);
    assert_eq!(v1["job"]["sub_jobs"].as_array().unwrap().len(), 3);
    let (_, subs) = ws
        .get(&ws.v1(&format!(
            "app-server-sub-jobs?job_type=CREATE_SERVER&job_id={job_id}&limit=2"
        )))
        .await;
    assert_eq!(
        (subs["count"].clone(), subs["items"].as_array().unwrap().len()),
        (json!(3), 2)
    );
    assert_err(&ws.get(&ws.v1("app-server-sub-jobs")).await, 400, "WKS.00211102");
    let (_, counted) = ws
        .get(&ws.v1(&format!(
            "app-server-sub-jobs/actions/count?job_id={job_id}&status=SUCCESS"
        )))
        .await;
    assert_eq!(counted, json!({"count": 3}));
    let (_, none) = ws
        .get(&ws.v1("app-server-sub-jobs/actions/count?job_type=DELETE_SERVER"))
        .await;
    assert_eq!(none, json!({"count": 0}));
    assert_err(
        &ws.get(&format!("/v2/{}/job/nope", ws.project)).await,
        404,
        "WKS.00000404",
    );

    // PATCH: maintenance mode shows in the status.
    let (st, _) = ws
        .patch(
            &ws.v1(&format!("app-servers/{id}")),
            json!({"maintain_status": true, "description": "d"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, one) = ws.get(&ws.v1(&format!("app-servers/{id}"))).await;
    assert_eq!(
        (one["status"].clone(), one["maintain_status"].clone()),
        (json!("MAINTAINING"), json!(true))
    );
}

#[tokio::test]
async fn workspace_failed_job_reports_the_error_and_rolls_back() {
    let ws = start().await;
    let g = ws.create_group("flaky").await;
    ws.job_failures(
        json!([{"job_type": "CREATE_SERVER", "server_group": "flaky", "times": 1, "sub_jobs": 1,
        "error_code": "WKS.00211401", "error_message": "no capacity"}]),
    )
    .await;
    let job_id = ws.create_servers(&g, 2).await;
    ws.run_create_job().await;
    let job = ws.job(&job_id).await;
    assert_eq!(job["status"], "FAILED", "{job}");
    let subs = job["sub_jobs"].as_array().unwrap();
    assert_eq!(subs[0]["status"], "FAILED");
    assert_eq!(subs[0]["error_code"], "WKS.00211401");
    assert_eq!(subs[0]["error_message"], "no capacity");
    assert_eq!(subs[1]["status"], "SUCCESS");
    assert!(subs[1].get("error_code").is_none());
    let servers = ws.servers_of(&g).await;
    assert_eq!(servers.len(), 1, "the failed server is rolled back");
    assert_eq!(servers[0]["id"], subs[1]["job_resource_info"]["resource_id"]);
    let (_, v1) = ws.get(&ws.v1(&format!("job/{job_id}"))).await;
    assert_eq!(v1["job"]["job_status"], 0);
    assert_eq!(v1["job"]["execute_code"], "WKS.00211401");

    // `times: 1` is used up: the retry succeeds.
    let retry = ws.create_servers(&g, 1).await;
    ws.run_create_job().await;
    assert_eq!(ws.job(&retry).await["status"], "SUCCESS");
    assert_eq!(ws.servers_of(&g).await.len(), 2);

    // leave_server keeps the failed server in BUILD_FAIL; the knob reads back and clears.
    ws.job_failures(json!([{"server_group": "flaky", "leave_server": true}]))
        .await;
    let left = ws.create_servers(&g, 1).await;
    ws.run_create_job().await;
    assert_eq!(ws.job(&left).await["status"], "FAILED");
    let servers = ws.servers_of(&g).await;
    let failed: Vec<&Value> = servers
        .iter()
        .filter(|s| s["vm_status"] == "BUILD_FAIL")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["status"], "NONE");
    let rules: Value = ws
        .http
        .get(format!("{}/_emulator/workspace/job-failures", ws.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rules["rules"][0]["server_group"], "flaky");
    ws.job_failures(json!([])).await;

    // A failed delete leaves the server in service.
    ws.job_failures(json!([{"job_type": "DELETE_SERVER"}])).await;
    let id = failed[0]["id"].as_str().unwrap().to_string();
    let (_, del) = ws.delete(&ws.v1(&format!("app-servers/{id}"))).await;
    ws.advance_ms(3_000).await;
    assert_eq!(ws.job(del["job_id"].as_str().unwrap()).await["status"], "FAILED");
    let (st, _) = ws.get(&ws.v1(&format!("app-servers/{id}"))).await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test]
async fn workspace_batch_delete_is_a_job_and_refuses_busy_servers() {
    let ws = start().await;
    let g = ws.create_group("scale-in").await;
    let create = ws.create_servers(&g, 3).await;
    ws.advance_ms(1_000).await;
    let building: Vec<Value> = ws.servers_of(&g).await.iter().map(|s| s["id"].clone()).collect();
    // Servers still building are busy.
    assert_err(
        &ws.post(
            &ws.v1("app-servers/actions/batch-delete"),
            json!({"items": [building[0]]}),
        )
        .await,
        409,
        "WKS.00211103",
    );
    ws.advance_ms(4_000).await;
    assert_eq!(ws.job(&create).await["status"], "SUCCESS");
    assert_err(
        &ws.post(&ws.v1("app-servers/actions/batch-delete"), json!({"items": []}))
            .await,
        400,
        "WKS.00211102",
    );
    let too_many: Vec<String> = (0..21).map(|i| format!("s{i}")).collect();
    assert_err(
        &ws.post(
            &ws.v1("app-servers/actions/batch-delete"),
            json!({"items": too_many}),
        )
        .await,
        400,
        "WKS.00211102",
    );

    let (st, del) = ws
        .post(
            &ws.v1("app-servers/actions/batch-delete"),
            json!({"items": [building[0], building[1], "unknown-id"]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{del}");
    let job_id = del["job_id"].as_str().unwrap().to_string();
    let job = ws.job(&job_id).await;
    assert_eq!(
        (job["job_type"].clone(), job["status"].clone()),
        (json!("DELETE_SERVER"), json!("WAITING"))
    );
    assert_eq!(job["sub_jobs_total"], 2, "unknown ids are skipped");
    // A second delete of the same servers while the first is pending is refused (no duplicate batch).
    assert_err(
        &ws.post(
            &ws.v1("app-servers/actions/batch-delete"),
            json!({"items": [building[0]]}),
        )
        .await,
        409,
        "WKS.00211103",
    );
    ws.advance_ms(1_000).await;
    let deleting = ws.servers_of(&g).await;
    assert_eq!(
        deleting.iter().filter(|s| s["vm_status"] == "DELETING").count(),
        2
    );
    ws.advance_ms(2_000).await;
    assert_eq!(ws.job(&job_id).await["status"], "SUCCESS");
    let left = ws.servers_of(&g).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], building[2]);
    assert_err(
        &ws.get(&ws.v1(&format!("app-servers/{}", building[0].as_str().unwrap())))
            .await,
        404,
        "WKS.00000404",
    );

    // DELETE of one server is a job; of an unknown server 200 without a job.
    let (st, one) = ws
        .delete(&ws.v1(&format!("app-servers/{}", building[2].as_str().unwrap())))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(one["job_id"].is_string());
    let (st, none) = ws.delete(&ws.v1("app-servers/unknown-id")).await;
    assert_eq!((st, none), (StatusCode::OK, json!({})));
}

async fn show(ws: &workspace_support::Ws, id: &str) -> Value {
    ws.get(&ws.v1(&format!("app-servers/{id}"))).await.1
}

#[tokio::test]
async fn workspace_power_actions_move_vm_status() {
    let ws = start().await;
    let g = ws.create_group("power").await;
    ws.create_servers(&g, 1).await;
    ws.run_create_job().await;
    let id = ws.servers_of(&g).await[0]["id"].as_str().unwrap().to_string();
    assert_err(
        &ws.patch(&ws.v1("app-servers/actions/batch-stop"), json!({"items": [id]}))
            .await,
        400,
        "WKS.00211102",
    );
    assert_err(
        &ws.patch(&ws.v1("app-servers/actions/batch-start"), json!({"items": [id]}))
            .await,
        409,
        "WKS.00211103",
    );
    let (st, _) = ws
        .patch(
            &ws.v1("app-servers/actions/batch-stop"),
            json!({"items": [id], "type": "SOFT"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(show(&ws, &id).await["task_status"], "powering-off");
    ws.advance_ms(1_000).await;
    let s = show(&ws, &id).await;
    assert_eq!(
        (s["vm_status"].clone(), s["status"].clone()),
        (json!("SHUTOFF"), json!("STOPPED"))
    );
    let (st, _) = ws
        .patch(&ws.v1("app-servers/actions/batch-start"), json!({"items": [id]}))
        .await;
    assert_eq!(st, StatusCode::OK);
    ws.advance_ms(1_000).await;
    let s = show(&ws, &id).await;
    assert_eq!(
        (s["vm_status"].clone(), s["status"].clone()),
        (json!("ACTIVE"), json!("REGISTERED"))
    );
    let (st, _) = ws
        .patch(
            &ws.v1("app-servers/actions/batch-reboot"),
            json!({"items": [id], "type": "HARD"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(show(&ws, &id).await["vm_status"], "REBOOT");
    ws.advance_ms(1_000).await;
    assert_eq!(show(&ws, &id).await["vm_status"], "ACTIVE");
    assert_err(
        &ws.patch(
            &ws.v1("app-servers/actions/batch-start"),
            json!({"items": ["nope"]}),
        )
        .await,
        404,
        "WKS.00000404",
    );
}

#[tokio::test]
async fn workspace_create_servers_validation_and_quota() {
    let ws = start().await;
    let g = ws.create_group("quota").await;
    let path = ws.v1("app-servers/actions/create");
    let base = ws.servers_body(&g, 1);
    let with = |key: &str, v: Value| {
        let mut b = base.clone();
        b[key] = v;
        b
    };
    for (key, value) in [
        ("type", json!("createDesktops")),
        ("subscription_num", json!(0)),
        ("subscription_num", json!(101)),
        ("product_id", json!("nope")),
        ("flavor_id", json!("s6.large.2")),
        ("root_volume", json!({"type": "SAS", "size": 10})),
        ("root_volume", json!({"type": "TAPE", "size": 80})),
        ("root_volume", json!(null)),
        ("vpc_id", json!("nope")),
        ("subnet_id", json!("nope")),
        ("availability_zone", json!("mars-1a")),
        ("os_type", json!("Linux")),
        ("create_server_extend_param", json!({"charging_mode": "prePaid"})),
    ] {
        assert_err(
            &ws.post(&path, with(key, value.clone())).await,
            400,
            "WKS.00211102",
        );
    }
    assert_err(
        &ws.post(&path, with("server_group_id", json!("nope"))).await,
        404,
        "WKS.00000404",
    );

    // Quota 20: 15 + 5 fit, one more does not; check/quota says so.
    let (_, quota) = ws
        .get(&ws.v1(&format!(
            "check/quota?product_id={}&subscription_num=21&disk_size=80&disk_num=1",
            workspace_support::PRODUCT
        )))
        .await;
    assert_eq!(
        quota,
        json!({"is_enough": false, "quota_remainder": [{"type": "INSTANCES", "remainder": 20, "need": 21}]})
    );
    ws.create_servers(&g, 15).await;
    ws.create_servers(&g, 5).await;
    let got = ws.post(&path, base.clone()).await;
    assert_err(&got, 400, "WKS.00211102");
    assert!(
        got.1["error_msg"].as_str().unwrap().contains("limit:'20'"),
        "{}",
        got.1
    );
    assert_err(
        &ws.get(&ws.v1("check/quota?product_id=x")).await,
        400,
        "WKS.00211102",
    );

    // Catalog reads.
    let (_, products) = ws.get(&ws.v1("product")).await;
    assert_eq!(products["products"].as_array().unwrap().len(), 3);
    let (_, vt) = ws.get(&ws.v1("volume-type")).await;
    assert_eq!(vt["volume_types"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn workspace_jobs_survive_a_snapshot_round_trip_and_stuck_keeps_them_waiting() {
    let ws = start().await;
    let g = ws.create_group("snap").await;
    let job_id = ws.create_servers(&g, 2).await;
    ws.advance_ms(1_000).await;
    assert_eq!(ws.job(&job_id).await["status"], "RUNNING");
    let snapshot = ws.handle.state();

    // A second emulator loads the snapshot: the job, its servers and its pending steps come along (its
    // own clock started about when the first one did, 1 s behind it: 5 s reach the registration step).
    let other = start().await;
    other.handle.app().load_snapshot(snapshot).unwrap();
    other.advance_ms(5_000).await;
    assert_eq!(other.job(&job_id).await["status"], "SUCCESS");
    let servers = other.servers_of(&g).await;
    assert_eq!(servers.len(), 2);
    assert!(servers.iter().all(|s| s["status"] == "REGISTERED"), "{servers:?}");

    // `stuck: [workspace.job]` keeps a new job WAITING however long one waits.
    other.faults(json!({"stuck": ["workspace.job"]})).await;
    let stuck = other.create_servers(&g, 1).await;
    other.advance_ms(60_000).await;
    assert_eq!(other.job(&stuck).await["status"], "WAITING");
    assert_eq!(other.servers_of(&g).await.len(), 2);
}
