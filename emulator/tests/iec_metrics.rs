//! Contract tests for `POST /v1/batch-query-metric-data` (the SDK's `BatchListMetricData`) over real
//! HTTP: the bare-array answer in request order, synthetic datapoints of an instance (one per period,
//! `from` rounded down, only the requested statistic, the same numbers for the same query), no data
//! for unknown resources, and 400 `IEC.000007` naming each invalid field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Emu, assert_err, start};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ZS: &str = "a0272146-f6d8-4e3f-a1dc-196ec4a2f856";
const IMAGE: &str = "00000000-0000-0000-0000-000000000002";

async fn instance(emu: &Emu) -> String {
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
    let (st, r) = emu
        .post(
            "/v1/cloudservers",
            json!({"server": {"name": "vm", "image_ref": IMAGE, "flavor_ref": "c6.large.2",
                "net_config": {"vpc_id": vpc, "subnets": [{"id": sub}]},
                "root_volume": {"volume_type": "SAS", "size": 40}, "count": 1,
                "coverage": {"coverage_policy": "centralize", "coverage_level": "site",
                    "coverage_sites": [{"site": ZS, "demands": [{"pool_id": "5_unicon_site3"}]}]}}}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{r}");
    r["server_ids"][0].as_str().unwrap().to_string()
}

fn query(metrics: Value, period: &str, filter: &str, from: u64, to: u64) -> Value {
    json!({"metrics": metrics, "period": period, "filter": filter, "from": from, "to": to})
}

fn metric(name: &str, dims: Value) -> Value {
    json!({"namespace": "SYS.IEC", "metric_name": name, "dimensions": dims})
}

#[tokio::test]
async fn instance_metrics_are_answered_per_period() {
    let emu = start().await;
    let id = instance(&emu).await;
    let (_, clock) = emu.get("/_emulator/clock").await;
    let created = clock["now_ms"].as_u64().unwrap();
    emu.advance(3 * 3600).await;
    let now = created + 3 * 3600 * 1000;
    let dims = json!([{"name": "instance_id", "value": id}]);
    let body = query(
        json!([
            metric("cpu_util", dims.clone()),
            metric("network_incoming_bytes_rate_inband", dims.clone()),
            metric(
                "cpu_util",
                json!([{"name": "instance_id", "value": "d88eb9ef-0000-4000-8000-000000000000"}])
            )
        ]),
        "300",
        "average",
        created - 7_200_000,
        now + 3_600_000,
    );
    let (s, v) = emu.post("/v1/batch-query-metric-data", body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let all = v.as_array().expect("the answer is a bare array");
    assert_eq!(all.len(), 3, "one entry per requested metric");
    let cpu = &all[0];
    assert_eq!(cpu["metric_name"], "cpu_util");
    assert_eq!(cpu["namespace"], "SYS.IEC");
    assert_eq!(cpu["unit"], "%");
    assert_eq!(cpu["dimensions"], dims);
    assert_eq!(all[1]["unit"], "byte/s");
    assert_eq!(all[2]["datapoints"], json!([]), "no data for an unknown instance");
    let points = cpu["datapoints"].as_array().unwrap();
    // from the creation (rounded down to 5 minutes) to the emulator's now, one point every 5 minutes
    let start = created / 300_000 * 300_000;
    assert_eq!(points.len() as u64, (now - start) / 300_000 + 1);
    for (i, p) in points.iter().enumerate() {
        assert_eq!(p["timestamp"].as_u64().unwrap(), start + i as u64 * 300_000);
        let avg = p["average"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&avg), "{p}");
        assert_eq!(
            p.as_object().unwrap().len(),
            2,
            "only the requested statistic: {p}"
        );
    }
    let (_, again) = emu.post("/v1/batch-query-metric-data", body).await;
    assert_eq!(again[0]["datapoints"], cpu["datapoints"], "deterministic");

    // max ≥ average ≥ min for the same points; raw data is one point a minute
    let one = |filter: &str, period: &str| {
        query(
            json!([metric("cpu_util", dims.clone())]),
            period,
            filter,
            now - 600_000,
            now,
        )
    };
    let (_, max) = emu.post("/v1/batch-query-metric-data", one("max", "300")).await;
    let (_, min) = emu.post("/v1/batch-query-metric-data", one("min", "300")).await;
    let (_, avg) = emu
        .post("/v1/batch-query-metric-data", one("average", "300"))
        .await;
    for i in 0..max[0]["datapoints"].as_array().unwrap().len() {
        let get = |v: &Value, k: &str| v[0]["datapoints"][i][k].as_f64().unwrap();
        assert!(get(&max, "max") >= get(&avg, "average") && get(&avg, "average") >= get(&min, "min"));
    }
    let (_, raw) = emu.post("/v1/batch-query-metric-data", one("sum", "1")).await;
    assert_eq!(raw[0]["datapoints"].as_array().unwrap().len(), 11);
}

#[tokio::test]
async fn invalid_queries_name_the_field() {
    let emu = start().await;
    let dims = json!([{"name": "instance_id", "value": "x"}]);
    let good = metric("cpu_util", dims.clone());
    let many: Vec<Value> = (0..501).map(|_| good.clone()).collect();
    let cases = [
        (query(json!([]), "300", "average", 1, 2), "metrics"),
        (query(json!(many), "300", "average", 1, 2), "metrics"),
        (query(json!([good.clone()]), "60", "average", 1, 2), "period"),
        (query(json!([good.clone()]), "300", "median", 1, 2), "filter"),
        (query(json!([good.clone()]), "300", "max", 2, 2), "from"),
        (
            query(json!([metric("cpu_util", json!([]))]), "300", "max", 1, 2),
            "metrics[0].dimensions",
        ),
        (
            query(
                json!([
                    good.clone(),
                    json!({"namespace": "SYS", "metric_name": "m", "dimensions": dims})
                ]),
                "300",
                "max",
                1,
                2,
            ),
            "metrics[1].namespace",
        ),
        (
            query(
                json!([json!({"namespace": "SYS.IEC", "dimensions": dims})]),
                "300",
                "max",
                1,
                2,
            ),
            "metrics[0].metric_name",
        ),
        (
            query(
                json!([metric("cpu_util", json!([{"name": "instance_id"}]))]),
                "300",
                "max",
                1,
                2,
            ),
            "metrics[0].dimensions[0]",
        ),
    ];
    for (body, field) in cases {
        let got = emu.post("/v1/batch-query-metric-data", body).await;
        assert_err(&got, 400, "IEC.000007");
        assert!(
            got.1["error_msg"].as_str().unwrap().contains(field),
            "{field}: {}",
            got.1
        );
    }
    assert_err(
        &emu.post("/v1/batch-query-metric-data", json!({"metrics": [good]}))
            .await,
        400,
        "IEC.000007",
    );
}
