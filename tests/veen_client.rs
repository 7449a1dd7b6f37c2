//! The veEN signer and error mapping over real HTTP against the emulator's veEN listener, whose
//! verifier is separate code: signed GETs (with encoded, repeated and PascalCase keys) and POSTs pass
//! through the shared request pipeline; a wrong secret key, an unknown access key, and the emulator's
//! business errors come back as the right `ProviderError` categories; a throttled call waits out the
//! Retry-After and succeeds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use edgefleet::provider::http::{Call, Pipeline, PipelineConfig};
use edgefleet::provider::metrics::ProviderMetrics;
use edgefleet::provider::ratelimit::RateLimiter;
use edgefleet::provider::settings::{RateBudget, RetryPolicy, SecretString};
use edgefleet::provider::veen::errors::{from_body, from_failure};
use edgefleet::provider::veen::signer::{DEFAULT_REGION, Signer};
use edgefleet_emulator::config::{DEFAULT_AK, DEFAULT_SK};
use edgefleet_emulator::{Config, ServerHandle};
use serde_json::{Value, json};

async fn emulator() -> (ServerHandle, String) {
    let (_, handle) = edgefleet_emulator::serve(Config {
        delays: edgefleet_emulator::Delays::zero(),
        ..Config::default()
    })
    .await
    .unwrap();
    let url = handle.url_of("veen").unwrap();
    (handle, url)
}

fn pipeline(url: &str, ak: &str, sk: &str) -> Pipeline {
    Pipeline::new(
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        PipelineConfig {
            provider: "veen",
            base: format!("{url}/").parse().unwrap(),
            account: "contract".into(),
            retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_secs(2),
            },
        },
        Arc::new(Signer::new(ak, SecretString::new(sk), None, DEFAULT_REGION)),
        from_failure,
        Arc::new(RateLimiter::new(RateBudget::default())),
        ProviderMetrics::new(),
    )
}

fn get(action: &str) -> Call {
    Call::get("veen.test", "/")
        .query("Action", action)
        .query("Version", "2021-04-30")
}

fn post(action: &str, body: Value) -> Call {
    let mut c = Call::post("veen.test", "/", Some(body));
    c.query = vec![
        ("Action".into(), action.into()),
        ("Version".into(), "2021-04-30".into()),
    ];
    c
}

async fn result(p: &Pipeline, call: Call) -> Result<Value, edgefleet::provider::error::ProviderError> {
    let reply = p.execute(call).await?;
    from_body("veen.test", reply.body)
}

#[tokio::test]
async fn veen_signed_calls_pass_the_emulator_verifier() {
    let (handle, url) = emulator().await;
    let p = pipeline(&url, DEFAULT_AK, DEFAULT_SK);
    let r = result(&p, get("ListCloudServers")).await.unwrap();
    assert_eq!(r["total_count"], 0);
    let created = result(
        &p,
        post(
            "CreateCloudServer",
            json!({"cloudserver_name": "signed-边缘", "image_id": "image-ubuntu2004", "spec_name": "veEN.C1.large",
                   "storage_config": {"system_disk": {"storage_type": "CloudBlockSSD", "capacity": "40"}},
                   "network_config": {"bandwidth_peak": "10"},
                   "instance_area_nums": [{"area_name": "华南", "isp": "CTCC", "num": 1}],
                   "Tags": [{"Key": "edgefleet.io/uid", "Value": "a b/c"}]}),
        ),
    )
    .await
    .unwrap();
    let cs = created["cloud_server_identity"].as_str().unwrap().to_string();
    // PascalCase keys, a repeated key, a comma list, an encoded slash and space in a tag filter
    let found = result(
        &p,
        get("ListInstances")
            .query("CloudServerIdentities", format!("{cs},cloudserver-other"))
            .query("TagFilters.1.Key", "edgefleet.io/uid")
            .query("TagFilters.1.Values.1", "a b/c")
            .query("status", "opening")
            .query("status", "running"),
    )
    .await
    .unwrap();
    assert_eq!(found["total_count"], 1, "{found}");
    let g = result(&p, get("GetCloudServer").query("CloudServerID", &cs))
        .await
        .unwrap();
    assert_eq!(g["cloud_server"]["name"], "signed-边缘");
    // business errors map to categories
    let e = result(
        &p,
        get("GetCloudServer").query("cloud_server_id", "cloudserver-nope"),
    )
    .await
    .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    let e = result(&p, post("DeleteCloudServer", json!({"cloud_server_id": cs})))
        .await
        .unwrap_err();
    assert_eq!(e.category(), "InUse", "{e}");
    let e = result(&p, post("CreateCloudServer", json!({"cloudserver_name": "x"})))
        .await
        .unwrap_err();
    assert_eq!(e.category(), "Invalid", "{e}");
    assert!(e.to_string().contains("cloudserver_name"), "{e}");
    // a wrong secret and an unknown key are Unauthorized, and are not retried
    let before = handle.calls().requests("veen:ListCloudServers");
    let e = result(&pipeline(&url, DEFAULT_AK, "wrong"), get("ListCloudServers"))
        .await
        .unwrap_err();
    assert_eq!(e.category(), "Unauthorized", "{e}");
    assert!(e.to_string().contains("SignatureDoesNotMatch"), "{e}");
    let e = result(&pipeline(&url, "AKNOBODY", DEFAULT_SK), get("ListCloudServers"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("InvalidAccessKey"), "{e}");
    assert_eq!(handle.calls().requests("veen:ListCloudServers"), before + 2);
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn veen_throttled_calls_wait_for_retry_after() {
    let (handle, url) = emulator().await;
    handle
        .app()
        .set_faults(
            serde_json::from_value(json!({"throttle": [{"limit_per_second": 2, "retry_after_secs": 1}]}))
                .unwrap(),
        )
        .unwrap();
    let p = pipeline(&url, DEFAULT_AK, DEFAULT_SK);
    for _ in 0..5 {
        result(&p, get("ListInstances")).await.unwrap();
    }
    let calls = handle.calls();
    let ops = &calls.operations["veen:ListInstances"];
    assert!(ops.statuses.get(&429).copied().unwrap_or(0) >= 1, "{ops:?}");
    let report = handle.app().retry_after().report();
    assert!(report.throttled >= 1, "{report:?}");
    assert!(
        report.early.is_empty() && report.unrecorded == 0,
        "requests before Retry-After: {report:?}"
    );
    handle.shutdown().await.unwrap();
}
