//! Workspace ingress over real HTTP: AK/SK signatures and IAM tokens (any scope), the project
//! check, throttling (`APIG.0308`, 429 + `Retry-After`), injected 500/503 in `WKS.*` codes and the
//! gateway's answer for an unknown API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod workspace_support;

use edgefleet_emulator::config::{DEFAULT_DOMAIN_NAME, DEFAULT_PASSWORD, DEFAULT_USER};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workspace_support::{assert_err, start};

#[tokio::test]
async fn workspace_bad_signature_wrong_project_and_missing_credentials_are_401() {
    let ws = start().await;
    let path = ws.v1("app-server-groups");
    let resp = ws.send(Method::GET, &path, None, "WRONGSECRET").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error_code"], "APIGW.0301");
    assert!(body["request_id"].is_string());

    let other_project = format!("/v1/{}/app-server-groups", "0".repeat(32));
    let got = ws.get(&other_project).await;
    assert_err(&got, 401, "APIGW.0301");

    let anonymous = ws.http.get(format!("{}{path}", ws.base)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let bogus = ws
        .http
        .get(format!("{}{path}", ws.base))
        .header("X-Auth-Token", "bogus")
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), StatusCode::UNAUTHORIZED);

    // An unknown path is the gateway's 404.
    let (st, body) = ws.get(&ws.v1("no-such-api")).await;
    assert_eq!(
        (st, body["error_code"].clone()),
        (StatusCode::NOT_FOUND, json!("APIGW.0101"))
    );
}

#[tokio::test]
async fn workspace_accepts_a_project_scoped_iam_token_from_its_own_listener() {
    let ws = start().await;
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": DEFAULT_USER, "password": DEFAULT_PASSWORD, "domain": {"name": DEFAULT_DOMAIN_NAME}}}},
        "scope": {"project": {"name": "cn-north-4"}}}});
    let resp = ws
        .http
        .post(format!("{}/v3/auth/tokens", ws.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let token = resp.headers()["x-subject-token"].to_str().unwrap().to_string();
    let resp = ws
        .http
        .get(format!("{}{}", ws.base, ws.v1("app-server-groups")))
        .header("X-Auth-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"count": 0, "items": []})
    );
}

#[tokio::test]
async fn workspace_throttling_is_apig_0308_with_retry_after_and_faults_use_wks_codes() {
    let ws = start().await;
    ws.faults(json!({"throttle": [{"limit_per_second": 2, "retry_after_secs": 3}]}))
        .await;
    let path = ws.v1("app-server-groups");
    let mut throttled = None;
    for _ in 0..5 {
        let resp = ws.send(Method::GET, &path, None, &ws.sk).await;
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(resp);
            break;
        }
    }
    let resp = throttled.expect("the third request in a second is throttled");
    assert_eq!(resp.headers()["retry-after"], "3");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error_code"], "APIG.0308");
    assert!(body["error_msg"].as_str().unwrap().contains("limit:2"));

    ws.faults(json!({"errors": [{"operation": "POST /v1/{project_id}/app-server-groups", "rate": 1.0, "status": 503}]}))
        .await;
    let got = ws.post(&path, ws.group_body("x")).await;
    assert_err(&got, 503, "WKS.00211401");
    ws.faults(json!({})).await;
    let (st, _) = ws.post(&path, ws.group_body("x")).await;
    assert_eq!(st, StatusCode::OK);
}
