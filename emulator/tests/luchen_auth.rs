//! Luchen login and the `AccessToken` cookie over real HTTP: the token and its claims, wrong
//! credentials, absent / forged / expired / foreign tokens, the run-time expiry knob, unknown paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod luchen_support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use edgefleet_emulator::luchen::catalog::DEFAULT_USER_ID;
use hmac::{Hmac, Mac};
use luchen_support::{assert_message, assert_not_logged_in, login_body, raw, start};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

const LIST: &str = "/api/instance/list";

fn pager() -> Value {
    json!({"pager": {"currentPage": 1, "pageSize": 10}})
}

#[tokio::test]
async fn luchen_login_issues_a_day_long_jwt_with_the_real_claims() {
    let l = start().await;
    let (status, body) = raw(&l.http, &l.base, "/api/user/login", None, login_body()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["accessExpire"], 86400);
    let token = body["accessToken"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3);
    let c = claims(token);
    assert_eq!(c["sub"], DEFAULT_USER_ID);
    assert_eq!(c["iss"], "cloud.luchentech.com");
    assert_eq!(c["aud"], json!(["platform.colossalai.com"]));
    assert_eq!(c["group"], json!(["admin"]));
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 86400);
    let (status, listed) = raw(&l.http, &l.base, LIST, Some(token), pager()).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["pager"]["totalEntries"], 0);
    let calls = l.handle.calls();
    assert_eq!(
        calls.mutations("POST /api/user/login"),
        0,
        "a login changes nothing"
    );
}

#[tokio::test]
async fn luchen_login_refuses_wrong_credentials_and_missing_fields() {
    let l = start().await;
    let bad = raw(
        &l.http,
        &l.base,
        "/api/user/login",
        None,
        json!({"username": "edgefleet", "password": "wrong"}),
    )
    .await;
    assert_message(&bad, StatusCode::BAD_REQUEST, "用户名或密码错误");
    let unknown = raw(
        &l.http,
        &l.base,
        "/api/user/login",
        None,
        json!({"username": "nobody", "password": "wrong"}),
    )
    .await;
    assert_message(&unknown, StatusCode::BAD_REQUEST, "用户名或密码错误");
    let missing = raw(
        &l.http,
        &l.base,
        "/api/user/login",
        None,
        json!({"username": "edgefleet"}),
    )
    .await;
    assert_message(&missing, StatusCode::BAD_REQUEST, "字段 \"password\" 未设置");
    let text = serde_json::to_string(&l.handle.app().config().redacted()).unwrap();
    assert!(!text.contains(edgefleet_emulator::config::DEFAULT_PASSWORD));
}

#[tokio::test]
async fn luchen_calls_without_a_valid_cookie_get_the_documented_code_minus_one() {
    let l = start().await;
    assert_not_logged_in(&raw(&l.http, &l.base, LIST, None, pager()).await);
    assert_not_logged_in(&raw(&l.http, &l.base, LIST, Some(""), pager()).await);
    assert_not_logged_in(&raw(&l.http, &l.base, LIST, Some("not-a-jwt"), pager()).await);
    // Same header and signature, claims edited: the signature no longer verifies.
    let parts: Vec<&str> = l.token.split('.').collect();
    let mut c = claims(&l.token);
    c["exp"] = json!(c["exp"].as_u64().unwrap() + 1_000_000);
    let edited = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(c.to_string()),
        parts[2]
    );
    assert_not_logged_in(&raw(&l.http, &l.base, LIST, Some(&edited), pager()).await);
    // Well-formed, current claims, signed with another key.
    let input = format!("{}.{}", parts[0], parts[1]);
    let mut mac = Hmac::<Sha256>::new_from_slice(b"someone else's key").unwrap();
    mac.update(input.as_bytes());
    let foreign = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
    assert_not_logged_in(&raw(&l.http, &l.base, LIST, Some(&foreign), pager()).await);
    // The cookie among others, and the create call too.
    let resp = l
        .http
        .post(format!("{}{LIST}", l.base))
        .header("Cookie", format!("theme=dark; AccessToken={}; lang=zh", l.token))
        .json(&pager())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_not_logged_in(&raw(&l.http, &l.base, "/api/instance/create", None, json!({})).await);
    assert_eq!(
        l.handle.calls().mutations("POST /api/instance/create"),
        0,
        "nothing ran"
    );
}

#[tokio::test]
async fn luchen_tokens_expire_on_the_emulator_clock() {
    let l = start().await;
    l.ok(LIST, pager()).await;
    l.advance_ms(86_399_000).await;
    l.ok(LIST, pager()).await;
    l.advance_ms(1_000).await;
    assert_not_logged_in(&l.call(LIST, pager()).await);
    // A fresh login works again.
    let (status, body) = raw(&l.http, &l.base, "/api/user/login", None, login_body()).await;
    assert_eq!(status, StatusCode::OK);
    let fresh = body["accessToken"].as_str().unwrap();
    assert_eq!(
        raw(&l.http, &l.base, LIST, Some(fresh), pager()).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn luchen_token_ttl_fault_shortens_tokens_issued_while_set() {
    let l = start().await;
    l.set_faults(json!({"token_ttl_ms": 2500})).await;
    let (_, body) = raw(&l.http, &l.base, "/api/user/login", None, login_body()).await;
    assert_eq!(body["accessExpire"], 3, "seconds, rounded up");
    let short = body["accessToken"].as_str().unwrap().to_string();
    l.advance_ms(2_000).await;
    assert_eq!(
        raw(&l.http, &l.base, LIST, Some(&short), pager()).await.0,
        StatusCode::OK
    );
    l.advance_ms(500).await;
    assert_not_logged_in(&raw(&l.http, &l.base, LIST, Some(&short), pager()).await);
    // The token issued before the fault keeps its day.
    l.ok(LIST, pager()).await;
}

#[tokio::test]
async fn luchen_unknown_paths_and_methods_are_404() {
    let l = start().await;
    let delete = l
        .call("/api/instance/delete", json!({"instanceId": "notebook-x"}))
        .await;
    assert_message(&delete, StatusCode::NOT_FOUND, "404 page not found");
    let resp = l
        .http
        .get(format!("{}{LIST}", l.base))
        .header("Cookie", format!("AccessToken={}", l.token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let not_json = l
        .http
        .post(format!("{}{LIST}", l.base))
        .header("Cookie", format!("AccessToken={}", l.token))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let body: Value = not_json.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid request body")
    );
}
