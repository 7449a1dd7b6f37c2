//! Workspace server groups over real HTTP with signed requests: create validation (every seed
//! field, the real `WKS.*` codes), the group lifecycle (list filters, show, PATCH, tags, state,
//! delete; 200 for an unknown group) and delete refused while servers remain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod workspace_support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use workspace_support::{assert_err, start};

#[tokio::test]
async fn workspace_create_group_validates_every_seed_field() {
    let ws = start().await;
    let path = ws.v1("app-server-groups");
    let base = ws.group_body("valid");
    let with = |key: &str, v: Value| {
        let mut b = base.clone();
        b[key] = v;
        b
    };
    let without = |key: &str| {
        let mut b = base.clone();
        b.as_object_mut().unwrap().remove(key);
        b
    };
    for required in [
        "name",
        "image_id",
        "image_type",
        "os_type",
        "product_id",
        "vpc_id",
        "subnet_id",
        "system_disk_type",
        "system_disk_size",
    ] {
        let got = ws.post(&path, without(required)).await;
        assert_err(&got, 400, "WKS.00211102");
        assert!(
            got.1["error_msg"].as_str().unwrap().contains(required),
            "{}",
            got.1
        );
    }
    let bad: Vec<(&str, Value, &str)> = vec![
        ("name", json!("has space"), "name"),
        ("name", json!("x".repeat(65)), "name"),
        ("image_id", json!("no-such-image"), "image_id"),
        ("image_type", json!("gold"), "image_type"),
        ("image_type", json!("weird"), "image_type"),
        ("os_type", json!("Linux"), "os_type"),
        ("os_type", json!("Solaris"), "os_type"),
        ("product_id", json!("workspace.appstream.nope"), "product_id"),
        ("flavor_id", json!("s6.large.2"), "flavor_id"),
        ("vpc_id", json!("vpc-unknown"), "vpc_id"),
        ("subnet_id", json!("subnet-unknown"), "subnet_id"),
        ("system_disk_type", json!("NVME"), "system_disk_type"),
        ("system_disk_size", json!(39), "system_disk_size"),
        ("system_disk_size", json!(1025), "system_disk_size"),
        ("system_disk_size", json!("80"), "body"),
        ("availability_zone", json!("mars-1a"), "availability_zone"),
        ("description", json!("d".repeat(256)), "description"),
        (
            "route_policy",
            json!({"max_session": 0}),
            "route_policy.max_session",
        ),
        (
            "route_policy",
            json!({"cpu_threshold": 101}),
            "route_policy.cpu_threshold",
        ),
        (
            "route_policy",
            json!({"mem_threshold": 0}),
            "route_policy.mem_threshold",
        ),
        ("app_type", json!("GAME_APP"), "app_type"),
        ("extra_session_type", json!("TPU"), "extra_session_type"),
        ("extra_session_size", json!(-1), "extra_session_size"),
        ("tags", json!([{"key": "a"}, {"key": "a"}]), "tags"),
        (
            "tags",
            json!(
                (0..21)
                    .map(|i| json!({"key": format!("k{i}")}))
                    .collect::<Vec<_>>()
            ),
            "tags",
        ),
        ("is_vdi", json!("yes"), "body"),
    ];
    for (key, value, field) in bad {
        let got = ws.post(&path, with(key, value.clone())).await;
        assert_err(&got, 400, "WKS.00211102");
        assert!(
            got.1["error_msg"].as_str().unwrap().contains(field),
            "{key}={value}: {}",
            got.1
        );
    }
    // The market image needs its product id; a wrong one is refused too.
    let mut market = with("image_id", json!("b3f0a3f6-1b51-4d7e-9f3c-6a3b0c1d2e4f"));
    market["image_type"] = json!("other");
    assert_err(&ws.post(&path, market.clone()).await, 400, "WKS.00211102");
    market["image_product_id"] = json!("00301-0000000-0--0");
    assert_err(&ws.post(&path, market.clone()).await, 400, "WKS.00211102");
    market["image_product_id"] = json!("00301-2019002-0--0");
    market["name"] = json!("market");
    assert_eq!(ws.post(&path, market).await.0, StatusCode::OK);
    // The gold image needs 60 GB.
    let mut gold = with("image_id", json!("5d1c1d6e-0d2e-4a8a-9c70-0a4bc8a1c2f1"));
    gold["image_type"] = json!("gold");
    gold["system_disk_size"] = json!(50);
    assert_err(&ws.post(&path, gold).await, 400, "WKS.00211102");
    // An unknown primary group is 404; an empty body WKS.0001; not JSON WKS.00211102.
    assert_err(
        &ws.post(&path, with("primary_server_group_id", json!("nope")))
            .await,
        404,
        "WKS.00000404",
    );
    let empty = ws.send(reqwest::Method::POST, &path, None, &ws.sk).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    assert_eq!(empty.json::<Value>().await.unwrap()["error_code"], "WKS.0001");
    // The valid body works once; the same name again is a conflict.
    let (st, created) = ws.post(&path, base.clone()).await;
    assert_eq!(st, StatusCode::OK, "{created}");
    for (k, v) in [
        ("name", json!("valid")),
        ("os_type", json!("Windows")),
        ("image_id", json!(workspace_support::IMAGE)),
        ("product_id", json!(workspace_support::PRODUCT)),
        ("subnet_id", json!(workspace_support::SUBNET)),
        ("system_disk_type", json!("SAS")),
        ("system_disk_size", json!(80)),
        ("app_type", json!("COMMON_APP")),
        ("server_group_status", json!(true)),
        ("app_server_count", json!(0)),
        ("enterprise_project_id", json!("0")),
    ] {
        assert_eq!(created[k], v, "{k}: {created}");
    }
    assert!(created["create_time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(created["product_info"]["flavor_id"], "s6.xlarge.2");
    assert_err(&ws.post(&path, base).await, 409, "WKS.00211103");
}

#[tokio::test]
async fn workspace_group_lifecycle_list_filters_patch_tags_state_delete() {
    let ws = start().await;
    let a = ws.create_group("fleet-a").await;
    let mut body_b = ws.group_body("fleet-b");
    body_b["app_type"] = json!("SESSION_DESKTOP_APP");
    body_b["tags"] = json!([{"key": "env", "value": "prod"}]);
    body_b["primary_server_group_id"] = json!(a);
    let (st, b) = ws.post(&ws.v1("app-server-groups"), body_b).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let b = b["id"].as_str().unwrap().to_string();
    let c = ws.create_group("other").await;

    let list = |q: &str| {
        let path = ws.v1(&format!("app-server-groups?{q}"));
        let ws = &ws;
        async move { ws.get(&path).await }
    };
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, all) = list("").await;
    assert_eq!(all["count"], 3);
    assert_eq!(ids(&all), vec![a.clone(), b.clone(), c.clone()]);
    let (_, page) = list("offset=1&limit=1").await;
    assert_eq!((page["count"].clone(), ids(&page)), (json!(3), vec![b.clone()]));
    assert_eq!(
        ids(&list("server_group_name=fleet").await.1),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(
        ids(&list(&format!("server_group_id={c}")).await.1),
        vec![c.clone()]
    );
    assert_eq!(
        ids(&list("app_type=SESSION_DESKTOP_APP").await.1),
        vec![b.clone()]
    );
    assert_eq!(ids(&list("tags=env%3Dprod").await.1), vec![b.clone()]);
    assert_eq!(
        ids(&list("is_secondary_server_group=true").await.1),
        vec![b.clone()]
    );
    assert_err(&list("limit=0").await, 400, "WKS.00211102");
    assert_err(&list("limit=101").await, 400, "WKS.00211102");
    assert_err(&list("offset=-1").await, 400, "WKS.00211102");

    // The primary names its standby.
    let (_, shown) = ws.get(&ws.v1(&format!("app-server-groups/{a}"))).await;
    assert_eq!(shown["secondary_server_group_ids"], json!([b]));

    // PATCH.
    let (st, _) = ws
        .patch(
            &ws.v1(&format!("app-server-groups/{a}")),
            json!({"description": "new", "system_disk_size": 100, "server_group_status": false,
                   "route_policy": {"max_session": 3}, "storage_mount_policy": "USER"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, shown) = ws.get(&ws.v1(&format!("app-server-groups/{a}"))).await;
    assert_eq!(shown["description"], "new");
    assert_eq!(shown["system_disk_size"], 100);
    assert_eq!(shown["server_group_status"], false);
    assert_eq!(shown["route_policy"]["max_session"], 3);
    assert_eq!(shown["storage_mount_policy"], "USER");
    assert_err(
        &ws.patch(
            &ws.v1(&format!("app-server-groups/{a}")),
            json!({"name": "other"}),
        )
        .await,
        409,
        "WKS.00211103",
    );
    assert_err(
        &ws.patch(
            &ws.v1(&format!("app-server-groups/{a}")),
            json!({"system_disk_size": 2}),
        )
        .await,
        400,
        "WKS.00211102",
    );
    assert_err(
        &ws.patch(&ws.v1("app-server-groups/nope"), json!({"description": "x"}))
            .await,
        404,
        "WKS.00000404",
    );

    // Tags: batch create overwrites by key, batch delete removes by key.
    let (st, _) = ws
        .post(
            &ws.v1("server-group/tags/batch-create"),
            json!({"items": [{"server_group_id": a, "tags": [{"key": "owner", "value": "team"}, {"key": "tier", "value": "1"}]}]}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, tags) = ws.get(&ws.v1(&format!("server-group/{a}/tags"))).await;
    assert_eq!(
        tags["tags"],
        json!([{"key": "owner", "value": "team"}, {"key": "tier", "value": "1"}])
    );
    let (st, _) = ws
        .call(
            reqwest::Method::DELETE,
            &ws.v1("server-group/tags/batch-delete"),
            Some(json!({"items": [{"server_group_id": a, "tags": [{"key": "tier"}]}]})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, tags) = ws.get(&ws.v1(&format!("server-group/{a}/tags"))).await;
    assert_eq!(tags["tags"], json!([{"key": "owner", "value": "team"}]));
    assert_err(
        &ws.post(
            &ws.v1("server-group/tags/batch-create"),
            json!({"items": [{"server_group_id": "nope", "tags": [{"key": "k"}]}]}),
        )
        .await,
        404,
        "WKS.00000404",
    );
    let (_, keys) = ws.get(&ws.v1("server-group/tags")).await;
    assert!(keys["tags"].as_array().unwrap().iter().any(|t| t["key"] == "env"));

    // State histogram: six keys, all zero for an empty group.
    let (st, state) = ws.get(&ws.v1(&format!("app-server-groups/{a}/state"))).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        state,
        json!({"aps_status": {"UNREGISTER": 0, "REGISTERED": 0, "MAINTAINING": 0, "FREEZE": 0, "STOPPED": 0, "NONE": 0}})
    );

    // Delete: the group goes, the primary forgets it; an unknown group is 200.
    let (st, _) = ws.delete(&ws.v1(&format!("app-server-groups/{b}"))).await;
    assert_eq!(st, StatusCode::OK);
    assert_err(
        &ws.get(&ws.v1(&format!("app-server-groups/{b}"))).await,
        404,
        "WKS.00000404",
    );
    let (_, shown) = ws.get(&ws.v1(&format!("app-server-groups/{a}"))).await;
    assert_eq!(shown["secondary_server_group_ids"], json!([]));
    let (st, _) = ws.delete(&ws.v1(&format!("app-server-groups/{b}"))).await;
    assert_eq!(st, StatusCode::OK, "deleting a deleted group is 200");
}

#[tokio::test]
async fn workspace_group_delete_is_refused_while_servers_remain() {
    let ws = start().await;
    let g = ws.create_group("busy").await;
    ws.create_servers(&g, 2).await;
    // Pending (job still WAITING): refused.
    assert_err(
        &ws.delete(&ws.v1(&format!("app-server-groups/{g}"))).await,
        409,
        "WKS.00211103",
    );
    ws.run_create_job().await;
    assert_eq!(ws.servers_of(&g).await.len(), 2);
    let (_, shown) = ws.get(&ws.v1(&format!("app-server-groups/{g}"))).await;
    assert_eq!(shown["app_server_count"], 2);
    let got = ws.delete(&ws.v1(&format!("app-server-groups/{g}"))).await;
    assert_err(&got, 409, "WKS.00211103");
    // Delete the servers, then the group.
    let ids: Vec<Value> = ws.servers_of(&g).await.iter().map(|s| s["id"].clone()).collect();
    let (st, del) = ws
        .post(&ws.v1("app-servers/actions/batch-delete"), json!({"items": ids}))
        .await;
    assert_eq!(st, StatusCode::OK, "{del}");
    assert_err(
        &ws.delete(&ws.v1(&format!("app-server-groups/{g}"))).await,
        409,
        "WKS.00211103",
    );
    ws.advance_ms(3_000).await;
    assert_eq!(ws.job(del["job_id"].as_str().unwrap()).await["status"], "SUCCESS");
    let (st, _) = ws.delete(&ws.v1(&format!("app-server-groups/{g}"))).await;
    assert_eq!(st, StatusCode::OK);
    assert_err(
        &ws.get(&ws.v1(&format!("app-server-groups/{g}"))).await,
        404,
        "WKS.00000404",
    );
}

#[tokio::test]
async fn workspace_scaling_policy_is_stored_validated_and_shown_on_the_group() {
    let ws = start().await;
    let g = ws.create_group("scaled").await;
    let path = ws.v1("scaling-policy");
    let body = json!({"server_group_id": g, "enable": true, "max_scaling_amount": 5, "single_expansion_count": 2,
        "scaling_policy_by_session": {"session_usage_threshold": 80, "shrink_after_session_idle_minutes": 30}});
    let (st, put) = ws.call(reqwest::Method::PUT, &path, Some(body.clone())).await;
    assert_eq!(st, StatusCode::OK, "{put}");
    assert_eq!(put["max_scaling_amount"], 5);
    let (_, shown) = ws
        .get(&ws.v1(&format!("scaling-policy?server_group_id={g}")))
        .await;
    assert_eq!(
        shown["scaling_policy_by_session"]["shrink_after_session_idle_minutes"],
        30
    );
    let (_, group) = ws.get(&ws.v1(&format!("app-server-groups/{g}"))).await;
    assert_eq!(group["scaling_policy"]["single_expansion_count"], 2);
    let mut bad = body.clone();
    bad["single_expansion_count"] = json!(6);
    assert_err(
        &ws.call(reqwest::Method::PUT, &path, Some(bad)).await,
        400,
        "WKS.00211102",
    );
    let mut bad = body.clone();
    bad.as_object_mut().unwrap().remove("scaling_policy_by_session");
    assert_err(
        &ws.call(reqwest::Method::PUT, &path, Some(bad)).await,
        400,
        "WKS.00211102",
    );
    let mut unknown = body;
    unknown["server_group_id"] = json!("nope");
    assert_err(
        &ws.call(reqwest::Method::PUT, &path, Some(unknown)).await,
        404,
        "WKS.00000404",
    );
    let (st, _) = ws
        .delete(&ws.v1(&format!("scaling-policy?server_group_id={g}")))
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, group) = ws.get(&ws.v1(&format!("app-server-groups/{g}"))).await;
    assert!(group.get("scaling_policy").is_none(), "{group}");
    assert_err(&ws.get(&ws.v1("scaling-policy")).await, 400, "WKS.00211102");
}
