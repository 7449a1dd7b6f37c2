//! Contract tests for the cloud-neutral core over real HTTP: IAM tokens, AK/SK signatures, admin
//! API, faults, body limits, unknown routes and state-file persistence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{assert_err, get_token, start, start_with, test_config};
use edgefleet_emulator::config::{
    DEFAULT_AK, DEFAULT_DOMAIN_NAME, DEFAULT_PASSWORD, DEFAULT_SK, DEFAULT_USER,
};
use edgefleet_emulator::huawei::apig::{SignInput, sign};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn body(resp: reqwest::Response) -> (StatusCode, Value) {
    let s = resp.status();
    let t = resp.text().await.unwrap();
    (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
}

#[tokio::test]
async fn token_auth_errors_follow_the_doc() {
    let emu = start().await;
    let url = format!("{}/v1/vpcs", emu.base);
    assert_err(
        &body(emu.http.get(&url).send().await.unwrap()).await,
        401,
        "IEC.000002",
    );
    assert_err(
        &body(
            emu.http
                .get(&url)
                .header("X-Auth-Token", "bogus")
                .send()
                .await
                .unwrap(),
        )
        .await,
        401,
        "IEC.000003",
    );
    // project-scoped token → IEC.000009
    let proj = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": DEFAULT_USER, "password": DEFAULT_PASSWORD, "domain": {"name": DEFAULT_DOMAIN_NAME}}}},
        "scope": {"project": {"name": "cn-north-4"}}}});
    let r = emu
        .http
        .post(format!("{}/v3/auth/tokens", emu.base))
        .json(&proj)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let ptok = r.headers()["x-subject-token"].to_str().unwrap().to_string();
    assert_err(
        &body(
            emu.http
                .get(&url)
                .header("X-Auth-Token", &ptok)
                .send()
                .await
                .unwrap(),
        )
        .await,
        401,
        "IEC.000009",
    );
    // wrong password → IAM-style 401
    let bad = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": DEFAULT_USER, "password": "nope", "domain": {"name": DEFAULT_DOMAIN_NAME}}}},
        "scope": {"domain": {"name": DEFAULT_DOMAIN_NAME}}}});
    let (s, v) = body(
        emu.http
            .post(format!("{}/v3/auth/tokens", emu.base))
            .json(&bad)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], 401);
    let (s, _) = body(
        emu.http
            .post(format!("{}/v3/auth/tokens", emu.base))
            .body("{")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // valid token works, then expires after 24 h of emulator time
    let (s, v) = emu.get("/v1/vpcs").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["count"], 0);
    emu.advance(24 * 3600 + 1).await;
    assert_err(&emu.get("/v1/vpcs").await, 401, "IEC.000004");
    let fresh = get_token(
        &emu.http,
        &emu.base,
        DEFAULT_USER,
        DEFAULT_PASSWORD,
        DEFAULT_DOMAIN_NAME,
    )
    .await;
    let r = emu
        .http
        .get(&url)
        .header("X-Auth-Token", fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[allow(clippy::too_many_arguments)]
fn signed(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path_q: &str,
    body: &[u8],
    ak: &str,
    sk: &str,
    date: &str,
) -> reqwest::RequestBuilder {
    let host = base.trim_start_matches("http://").to_string();
    let (path, query) = path_q.split_once('?').unwrap_or((path_q, ""));
    let headers = vec![
        ("Host".to_string(), host.clone()),
        ("X-Sdk-Date".to_string(), date.to_string()),
        ("Content-Type".to_string(), "application/json".to_string()),
    ];
    let input = SignInput {
        method,
        path,
        query,
        headers: &headers,
        body,
    };
    let auth = sign(ak, sk, &input, &["host", "x-sdk-date"]).unwrap();
    http.request(method.parse().unwrap(), format!("{base}{path_q}"))
        .header("X-Sdk-Date", date)
        .header("Content-Type", "application/json")
        .header("Authorization", auth)
        .body(body.to_vec())
}

#[tokio::test]
async fn aksk_signatures_are_verified() {
    let emu = start().await;
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let b = br#"{"vpc":{"name":"signed","cidr":"10.0.0.0/8","mode":"SYSTEM"}}"#;
    let (s, v) = body(
        signed(
            &emu.http, &emu.base, "POST", "/v1/vpcs", b, DEFAULT_AK, DEFAULT_SK, &now,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = body(
        signed(
            &emu.http,
            &emu.base,
            "GET",
            "/v1/vpcs?name=signed&limit=10",
            b"",
            DEFAULT_AK,
            DEFAULT_SK,
            &now,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["count"], 1);
    // wrong secret
    let r = signed(
        &emu.http, &emu.base, "GET", "/v1/vpcs", b"", DEFAULT_AK, "wrong", &now,
    )
    .send()
    .await
    .unwrap();
    assert_err(&body(r).await, 401, "APIGW.0301");
    // unknown access key
    let r = signed(
        &emu.http,
        &emu.base,
        "GET",
        "/v1/vpcs",
        b"",
        "UNKNOWNAK",
        DEFAULT_SK,
        &now,
    )
    .send()
    .await
    .unwrap();
    assert_err(&body(r).await, 401, "APIGW.0301");
    // stale date
    let old = (chrono::Utc::now() - chrono::Duration::minutes(20))
        .format("%Y%m%dT%H%M%SZ")
        .to_string();
    let r = signed(
        &emu.http, &emu.base, "GET", "/v1/vpcs", b"", DEFAULT_AK, DEFAULT_SK, &old,
    )
    .send()
    .await
    .unwrap();
    let got = body(r).await;
    assert_err(&got, 401, "APIGW.0301");
    assert!(got.1["error_msg"].as_str().unwrap().contains("expired"));
    // body tampered after signing
    let r = signed(
        &emu.http, &emu.base, "POST", "/v1/vpcs", b, DEFAULT_AK, DEFAULT_SK, &now,
    )
    .body(b"{}".to_vec())
    .send()
    .await
    .unwrap();
    assert_err(&body(r).await, 401, "APIGW.0301");
    // garbage Authorization
    let r = emu
        .http
        .get(format!("{}/v1/vpcs", emu.base))
        .header("Authorization", "SDK-HMAC-SHA256 junk")
        .send()
        .await
        .unwrap();
    assert_err(&body(r).await, 401, "APIGW.0301");
}

#[tokio::test]
async fn unknown_routes_methods_and_big_bodies() {
    let mut cfg = test_config();
    cfg.body_limit_bytes = 1024;
    let emu = start_with(cfg).await;
    assert_err(&emu.get("/v1/nothing").await, 404, "APIGW.0101");
    assert_err(
        &emu.call(reqwest::Method::PATCH, "/v1/vpcs", None).await,
        404,
        "APIGW.0101",
    );
    let big = vec![b' '; 4096];
    assert_err(
        &emu.raw(reqwest::Method::POST, "/v1/vpcs", big).await,
        413,
        "APIGW.0201",
    );
}

#[tokio::test]
async fn admin_api_state_calls_reset_and_config() {
    let emu = start().await;
    emu.post(
        "/v1/vpcs",
        json!({"vpc": {"name": "a", "cidr": "10.0.0.0/8", "mode": "SYSTEM"}}),
    )
    .await;
    let state: Value = emu
        .http
        .get(format!("{}/_emulator/state", emu.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["version"], 1);
    let calls: Value = emu
        .http
        .get(format!("{}/_emulator/calls", emu.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls["operations"]["POST /v1/vpcs"]["mutations"], 1);
    let r = emu
        .http
        .post(format!("{}/_emulator/reset", emu.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(emu.get("/v1/vpcs").await.1["count"], 0);
    // put the old state back
    let r = emu
        .http
        .put(format!("{}/_emulator/state", emu.base))
        .json(&state)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(emu.get("/v1/vpcs").await.1["count"], 1);
    let r = emu
        .http
        .put(format!("{}/_emulator/state", emu.base))
        .body("[1]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let cfg = emu
        .http
        .get(format!("{}/_emulator/config", emu.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!cfg.contains(DEFAULT_SK) && !cfg.contains(DEFAULT_PASSWORD));
    let r = emu
        .http
        .delete(format!("{}/_emulator/calls", emu.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(emu.handle.calls().total_requests, 0);
    let r = emu
        .http
        .put(format!("{}/_emulator/faults", emu.base))
        .body(r#"{"errors":[{"operation":"*","rate":3}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = emu
        .http
        .post(format!("{}/_emulator/clock/advance", emu.base))
        .body(r#"{"seconds":-1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn injected_faults() {
    let emu = start().await;
    let create = |n: &str| json!({"vpc": {"name": n, "cidr": "10.0.0.0/8", "mode": "SYSTEM"}});
    // error rate 1.0 on one operation only
    emu.faults(json!({"errors": [{"operation": "POST /v1/vpcs", "rate": 1.0, "status": 503}]}))
        .await;
    assert_err(&emu.post("/v1/vpcs", create("x")).await, 503, "IEC.030002");
    assert_eq!(emu.get("/v1/vpcs").await.0, StatusCode::OK);
    assert_eq!(emu.get("/v1/vpcs").await.1["count"], 0);
    // lost response: the VPC exists although the client saw a 500
    emu.faults(json!({"lost_responses": [{"operation": "POST /v1/vpcs", "rate": 1.0}]}))
        .await;
    assert_err(&emu.post("/v1/vpcs", create("lost")).await, 500, "IEC.000001");
    emu.faults(json!({})).await;
    assert_eq!(emu.get("/v1/vpcs?name=lost").await.1["count"], 1);
    // dropped connection
    emu.faults(json!({"lost_responses": [{"operation": "POST /v1/vpcs", "rate": 1.0, "mode": "drop"}]}))
        .await;
    let r = emu
        .http
        .post(format!("{}/v1/vpcs", emu.base))
        .header("X-Auth-Token", &emu.token)
        .json(&create("dropped"))
        .send()
        .await;
    let failed = match r {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "the client must see a broken response");
    emu.faults(json!({})).await;
    assert_eq!(emu.get("/v1/vpcs?name=dropped").await.1["count"], 1);
    // throttling per account with Retry-After (windows are one second of real time + advances)
    emu.faults(json!({"throttle": [{"limit_per_second": 3, "retry_after_secs": 2}]}))
        .await;
    let mut saw_429 = false;
    for _ in 0..40 {
        let r = emu
            .http
            .get(format!("{}/v1/vpcs", emu.base))
            .header("X-Auth-Token", &emu.token)
            .send()
            .await
            .unwrap();
        let retry = r
            .headers()
            .get("retry-after")
            .map(|h| h.to_str().unwrap().to_string());
        let (s, v) = body(r).await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(v["error_code"], "APIG.0308");
            assert!(
                v["error_msg"]
                    .as_str()
                    .unwrap()
                    .contains("policy user over ratelimit,limit:3,time:1 second")
            );
            assert_eq!(retry.as_deref(), Some("2"));
            saw_429 = true;
            break;
        }
        assert_eq!(s, StatusCode::OK);
    }
    assert!(saw_429, "more than 3 requests per second must be throttled");
    emu.advance(1).await;
    assert_eq!(emu.get("/v1/vpcs").await.0, StatusCode::OK);
    // that request came 1 s (emulator time) after a 429 that asked for 2: recorded as early
    let (s, early) = emu.get("/_emulator/retry-after").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(early["throttled"], 1, "{early}");
    let last = &early["early"][early["early"].as_array().unwrap().len() - 1];
    assert_eq!(last["operation"], "GET /v1/vpcs", "{early}");
    assert_eq!(last["retry_after_ms"], 2000, "{early}");
    assert!(last["after_ms"].as_u64().unwrap() >= 1000, "{early}");
    // eventual consistency: invisible for 5 s of emulator time
    emu.faults(json!({"eventual_consistency": [{"kind": "iec.vpc", "delay_ms": 5000}]}))
        .await;
    let (s, v) = emu.post("/v1/vpcs", create("slow")).await;
    assert_eq!(s, StatusCode::OK);
    let id = v["vpc"]["id"].as_str().unwrap().to_string();
    assert_err(&emu.get(&format!("/v1/vpcs/{id}")).await, 404, "IEC.020104");
    assert_eq!(emu.get("/v1/vpcs?name=slow").await.1["count"], 0);
    emu.advance(5).await;
    assert_eq!(emu.get(&format!("/v1/vpcs/{id}")).await.0, StatusCode::OK);
    // latency rule is accepted and requests still succeed (timing is not asserted)
    emu.faults(json!({"latency": [{"operation": "GET /v1/vpcs", "fixed_ms": 5, "jitter_ms": 5}]}))
        .await;
    assert_eq!(emu.get("/v1/vpcs").await.0, StatusCode::OK);
}

#[tokio::test]
async fn state_file_survives_restart() {
    let dir = std::env::temp_dir().join(format!("emu-state-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    let mut cfg = test_config();
    cfg.state_file = Some(file.clone());
    let emu = start_with(cfg.clone()).await;
    emu.post(
        "/v1/vpcs",
        json!({"vpc": {"name": "keep", "cidr": "10.0.0.0/8", "mode": "SYSTEM"}}),
    )
    .await;
    emu.handle.shutdown().await.unwrap();
    assert!(file.exists());
    let emu2 = start_with(cfg).await;
    assert_eq!(emu2.get("/v1/vpcs?name=keep").await.1["count"], 1);
    std::fs::write(&file, b"{broken").unwrap();
    let mut bad = test_config();
    bad.state_file = Some(file);
    assert!(edgefleet_emulator::serve(bad).await.is_err());
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test]
async fn accounts_are_isolated() {
    let mut cfg = test_config();
    cfg.accounts.push(edgefleet_emulator::core::auth::Account {
        domain_id: "b".repeat(32),
        domain_name: "other".into(),
        users: vec![edgefleet_emulator::core::auth::User {
            id: "u2".into(),
            name: "bob".into(),
            password: "Secret@123".into(),
        }],
        access_keys: vec![],
        projects: vec![],
    });
    let emu = start_with(cfg).await;
    emu.post(
        "/v1/vpcs",
        json!({"vpc": {"name": "mine", "cidr": "10.0.0.0/8", "mode": "SYSTEM"}}),
    )
    .await;
    let other = get_token(&emu.http, &emu.base, "bob", "Secret@123", "other").await;
    let v: Value = emu
        .http
        .get(format!("{}/v1/vpcs", emu.base))
        .header("X-Auth-Token", other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["count"], 0);
}

/// The IAM calls the official SDKs make before their first API call: `GET /v3/auth/domains` (global
/// credentials without a domain id) and `GET /v3/projects?name=<region>` (basic credentials without a
/// project id), signed with AK/SK or authenticated with a token, in IAM's documented shapes.
#[tokio::test]
async fn iam_domain_and_project_discovery() {
    let emu = start().await;
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let (s, d) = body(
        signed(
            &emu.http,
            &emu.base,
            "GET",
            "/v3/auth/domains",
            b"",
            DEFAULT_AK,
            DEFAULT_SK,
            &now,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["domains"].as_array().unwrap().len(), 1);
    let domain = &d["domains"][0];
    assert_eq!(domain["id"], edgefleet_emulator::config::DEFAULT_DOMAIN_ID);
    assert_eq!(domain["name"], DEFAULT_DOMAIN_NAME);
    assert_eq!(domain["enabled"], true);
    assert!(domain["links"]["self"].as_str().unwrap().ends_with(&format!(
        "/v3/domains/{}",
        edgefleet_emulator::config::DEFAULT_DOMAIN_ID
    )));
    assert!(d["links"]["self"].as_str().unwrap().ends_with("/v3/auth/domains"));

    let path = "/v3/projects?name=cn-north-4";
    let resp = signed(
        &emu.http, &emu.base, "GET", path, b"", DEFAULT_AK, DEFAULT_SK, &now,
    )
    .send()
    .await
    .unwrap();
    assert!(resp.headers().contains_key("x-iam-trace-id"));
    let (s, p) = body(resp).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let projects = p["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 1, "{p}");
    let project = &projects[0];
    assert_eq!(project["name"], "cn-north-4");
    assert_eq!(
        project["domain_id"],
        edgefleet_emulator::config::DEFAULT_DOMAIN_ID
    );
    assert_eq!(
        project["parent_id"],
        edgefleet_emulator::config::DEFAULT_DOMAIN_ID
    );
    assert_eq!(
        (project["enabled"].clone(), project["is_domain"].clone()),
        (json!(true), json!(false))
    );
    let project_id = project["id"].as_str().unwrap().to_string();
    assert_eq!(project_id.len(), 32);
    assert!(p["links"]["next"].is_null());
    // another region's name matches nothing
    let (_, none) = body(
        signed(
            &emu.http,
            &emu.base,
            "GET",
            "/v3/projects?name=ap-southeast-1",
            b"",
            DEFAULT_AK,
            DEFAULT_SK,
            &now,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(none["projects"], json!([]));

    // A token of any scope may list; a project-scoped token names the listed project.
    let proj = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": DEFAULT_USER, "password": DEFAULT_PASSWORD, "domain": {"name": DEFAULT_DOMAIN_NAME}}}},
        "scope": {"project": {"name": "cn-north-4"}}}});
    let (s, t) = body(
        emu.http
            .post(format!("{}/v3/auth/tokens", emu.base))
            .json(&proj)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(t["token"]["project"]["id"], project_id.as_str());
    for path in ["/v3/auth/projects", "/v3/projects"] {
        let (s, l) = body(
            emu.http
                .get(format!("{}{path}", emu.base))
                .header("X-Auth-Token", &emu.token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{l}");
        assert_eq!(l["projects"][0]["id"], project_id.as_str(), "{path}");
    }
    let unknown_project = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": DEFAULT_USER, "password": DEFAULT_PASSWORD, "domain": {"name": DEFAULT_DOMAIN_NAME}}}},
        "scope": {"project": {"name": "ap-southeast-1"}}}});
    let (s, _) = body(
        emu.http
            .post(format!("{}/v3/auth/tokens", emu.base))
            .json(&unknown_project)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a project the account does not have");

    // Without valid credentials: 401 in both IAM error shapes.
    for req in [
        emu.http.get(format!("{}/v3/auth/domains", emu.base)),
        emu.http
            .get(format!("{}/v3/auth/domains", emu.base))
            .header("X-Auth-Token", "bogus"),
        signed(
            &emu.http,
            &emu.base,
            "GET",
            "/v3/auth/domains",
            b"",
            DEFAULT_AK,
            "wrong",
            &now,
        ),
        signed(
            &emu.http,
            &emu.base,
            "GET",
            "/v3/projects",
            b"",
            "UNKNOWNAK",
            DEFAULT_SK,
            &now,
        ),
    ] {
        let (s, e) = body(req.send().await.unwrap()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{e}");
        assert_eq!(e["error"]["code"], 401, "{e}");
        assert_eq!(e["error_code"], "IAM.0001", "{e}");
    }
    let (s, e) = body(
        emu.http
            .get(format!("{}/v3/projects?per_page=0", emu.base))
            .header("X-Auth-Token", &emu.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
}

/// Every answer carries an `X-Request-Id`: successes, IEC errors, gateway errors (where it equals the
/// body's `request_id`), IAM, the admin API and unknown routes; each request gets its own.
#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let emu = start().await;
    let id_of = |r: &reqwest::Response| {
        let id = r
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("no X-Request-Id on {} {}", r.status(), r.url()))
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
        id
    };
    let get = |path: &str, token: bool| {
        let mut req = emu.http.get(format!("{}{path}", emu.base));
        if token {
            req = req.header("X-Auth-Token", &emu.token);
        }
        req
    };
    let mut seen = std::collections::HashSet::new();
    for (req, status) in [
        (get("/v1/vpcs", true), 200),
        (get("/v1/vpcs/d88eb9ef-0000-4000-8000-000000000000", true), 404),
        (get("/v1/vpcs", false), 401),
        (get("/v1/no-such-api", true), 404),
        (get("/_emulator/healthz", false), 200),
        (get("/v3/auth/domains", true), 200),
        (
            emu.http
                .delete(format!("{}/v1/sites", emu.base))
                .header("X-Auth-Token", &emu.token),
            404,
        ),
    ] {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{}", resp.url());
        assert!(seen.insert(id_of(&resp)), "request ids are unique");
    }
    let resp = get("/v1/no-such-api", true).send().await.unwrap();
    let header = id_of(&resp);
    let (_, e) = body(resp).await;
    assert_eq!(e["error_code"], "APIGW.0101");
    assert_eq!(
        e["request_id"],
        header.as_str(),
        "header and body name the same request"
    );
}
