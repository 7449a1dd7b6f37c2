//! veEN ingress contract over real HTTP: the envelope, action/version routing, Volcengine signature
//! verification (header and query forms, rejections), both key spellings, faults and counters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod veen_support;

use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use veen_support::{assert_err, encode_query, now_x_date, start};

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn veen_envelope_routing_and_unknown_actions() {
    let v = start().await;
    let r = v.get_ok("ListCloudServers", &[]).await;
    assert_eq!(r, json!({"cloud_servers": [], "total_count": 0}));
    assert_err(
        &v.get("NoSuchThing", &[]).await,
        404,
        "InvalidActionOrVersion",
        "NoSuchThing",
    );
    let (s, _, body) = v
        .send_signed(
            Method::GET,
            pairs(&[("Action", "ListInstances"), ("Version", "2020-01-01")]),
            "application/x-www-form-urlencoded",
            Vec::new(),
            &v.sk,
            &now_x_date(),
        )
        .await;
    assert_err(&(s, body.clone()), 404, "InvalidActionOrVersion", "2020-01-01");
    assert_eq!(body["ResponseMetadata"]["Action"], "ListInstances");
    // a GET action sent as POST, a POST action as GET
    assert_err(
        &v.post("ListInstances", json!({})).await,
        404,
        "InvalidActionOrVersion",
        "GET",
    );
    assert_err(
        &v.get("StartInstances", &[]).await,
        404,
        "InvalidActionOrVersion",
        "POST",
    );
    // POST bodies must be JSON
    let (s, _, body) = v
        .send_signed(
            Method::POST,
            pairs(&[("Action", "StartInstances"), ("Version", "2021-04-30")]),
            "application/x-www-form-urlencoded",
            b"instance_identities=a".to_vec(),
            &v.sk,
            &now_x_date(),
        )
        .await;
    assert_err(&(s, body), 400, "UnsupportedContentType", "application/json");
    let (s, _, body) = v
        .send_signed(
            Method::POST,
            pairs(&[("Action", "StartInstances"), ("Version", "2021-04-30")]),
            "application/json",
            b"[1]".to_vec(),
            &v.sk,
            &now_x_date(),
        )
        .await;
    assert_err(&(s, body), 400, "InvalidParameter", "JSON object");
    // another path on the veEN listener
    let r = v.http.get(format!("{}/v1/vpcs", v.base)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["ResponseMetadata"]["Error"]["Code"],
        "InvalidActionOrVersion"
    );
    v.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn veen_signature_rejections() {
    let v = start().await;
    let list = pairs(&[("Action", "ListInstances"), ("Version", "2021-04-30")]);
    let ct = "application/x-www-form-urlencoded; charset=utf-8";
    // wrong secret key
    let (s, _, b) = v
        .send_signed(
            Method::GET,
            list.clone(),
            ct,
            Vec::new(),
            "not-the-secret",
            &now_x_date(),
        )
        .await;
    assert_err(&(s, b), 401, "SignatureDoesNotMatch", "signature");
    // stale X-Date (20 minutes ago) and a malformed one
    let old = (chrono::Utc::now() - chrono::Duration::minutes(20))
        .format("%Y%m%dT%H%M%SZ")
        .to_string();
    let (s, _, b) = v
        .send_signed(Method::GET, list.clone(), ct, Vec::new(), &v.sk, &old)
        .await;
    assert_err(&(s, b), 400, "InvalidTimestamp", "900");
    // within X-Expires it passes
    let mut longer = list.clone();
    longer.push(("X-Expires".into(), "3600".into()));
    let (s, _, b) = v
        .send_signed(Method::GET, longer, ct, Vec::new(), &v.sk, &old)
        .await;
    assert_eq!(s, 200, "{b}");
    // unknown access key
    let mut other = start().await;
    other.ak = "AKUNKNOWN".into();
    assert_err(
        &other.get("ListInstances", &[]).await,
        401,
        "InvalidAccessKey",
        "AKUNKNOWN",
    );
    // no signature at all
    let r = v
        .http
        .get(format!("{}/?Action=ListInstances&Version=2021-04-30", v.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["ResponseMetadata"]["Error"]["Code"], "MissingRequestInfo");
    assert_eq!(b["ResponseMetadata"]["Action"], "ListInstances");
    // a body that is not the one signed (X-Content-Sha256 mismatch)
    let body = serde_json::to_vec(&json!({"instance_identities": ["veen1"]})).unwrap();
    let s = veen_support::sign4(
        "POST",
        &v.host(),
        &pairs(&[("Action", "StartInstances"), ("Version", "2021-04-30")]),
        "application/json",
        &body,
        &v.ak,
        &v.sk,
        &now_x_date(),
    );
    let mut req = v.http.post(format!("{}/?{}", v.base, s.query));
    for (k, val) in &s.headers {
        req = req.header(k, val);
    }
    let r = req
        .body(b"{\"instance_identities\":[\"veen2\"]}".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["ResponseMetadata"]["Error"]["Code"], "SignatureDoesNotMatch");
    // a tampered query parameter
    let s = veen_support::sign4("GET", &v.host(), &list, ct, b"", &v.ak, &v.sk, &now_x_date());
    let mut req = v.http.get(format!("{}/?{}&limit=5", v.base, s.query));
    for (k, val) in &s.headers {
        req = req.header(k, val);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 401);
    // the wrong service in the scope
    let auth = s
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .unwrap()
        .1
        .replace("/veenedge/", "/iam/");
    let mut req = v.http.get(format!("{}/?{}", v.base, s.query));
    for (k, val) in &s.headers {
        if k != "authorization" {
            req = req.header(k, val);
        }
    }
    let r = req.header("authorization", auth).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let b: serde_json::Value = r.json().await.unwrap();
    assert!(
        b["ResponseMetadata"]["Error"]["Message"]
            .as_str()
            .unwrap()
            .contains("veenedge")
    );
    v.handle.shutdown().await.unwrap();
    other.handle.shutdown().await.unwrap();
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// The SDK's `SignUrl`: the signature in the query, `host` the only signed header, the body unsigned.
#[tokio::test]
async fn veen_query_form_signature_is_accepted() {
    let v = start().await;
    let x_date = now_x_date();
    let date = &x_date[..8];
    let scope = format!("{date}/cn-north-1/veenedge/request");
    let mut q = pairs(&[
        ("Action", "ListCloudServers"),
        ("Version", "2021-04-30"),
        ("X-Date", &x_date),
        ("X-NotSignBody", ""),
        ("X-Credential", &format!("{}/{scope}", v.ak)),
        ("X-Algorithm", "HMAC-SHA256"),
        ("X-SignedHeaders", "host"),
    ]);
    let mut keys: Vec<String> = q.iter().map(|(k, _)| k.clone()).collect();
    keys.push("X-SignedQueries".into());
    keys.sort();
    q.push(("X-SignedQueries".into(), keys.join(";")));
    let canonical = format!(
        "GET\n/\n{}\nhost:{}\n\nhost\n{}",
        encode_query(&q),
        v.host(),
        hex::encode(Sha256::digest(b""))
    );
    let sts = format!(
        "HMAC-SHA256\n{x_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = hmac(
        &hmac(&hmac(&hmac(v.sk.as_bytes(), date), "cn-north-1"), "veenedge"),
        "request",
    );
    let sig = hex::encode(hmac(&key, &sts));
    let mut signed = q.clone();
    signed.push(("X-Signature".into(), sig.clone()));
    let r = v
        .http
        .get(format!("{}/?{}", v.base, encode_query(&signed)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // one changed query value breaks it
    let mut bad = q;
    bad.push(("X-Signature".into(), sig.replace('a', "b")));
    let r = v
        .http
        .get(format!("{}/?{}", v.base, encode_query(&bad)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    v.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn veen_faults_counters_and_key_spellings() {
    let v = start().await;
    // both spellings of a GET key reach the same parameter
    assert_err(
        &v.get("GetCloudServer", &[("CloudServerID", "cloudserver-nope")])
            .await,
        404,
        "ResourceNotFound",
        "cloudserver-nope",
    );
    assert_err(
        &v.get("GetCloudServer", &[("cloud_server_id", "cloudserver-nope")])
            .await,
        404,
        "ResourceNotFound",
        "cloudserver-nope",
    );
    assert_err(
        &v.get("GetCloudServer", &[]).await,
        400,
        "MissingParameter",
        "cloud_server_id",
    );
    // counters are keyed veen:<Action>
    let calls = v.handle.calls();
    assert_eq!(calls.requests("veen:GetCloudServer"), 3);
    // injected 500 and 503 in the veEN body
    v.faults(json!({"errors": [{"operation": "veen:ListInstances", "rate": 1.0, "status": 503}]}))
        .await;
    assert_err(
        &v.get("ListInstances", &[]).await,
        503,
        "ServiceUnavailableTemp",
        "",
    );
    v.get_ok("ListCloudServers", &[]).await;
    v.faults(json!({"errors": [{"operation": "veen:*", "rate": 1.0}]}))
        .await;
    let got = v.get("ListCloudServers", &[]).await;
    assert_err(&got, 500, "InternalError", "");
    assert_eq!(got.1["ResponseMetadata"]["Action"], "ListCloudServers");
    // throttling: 429 FlowLimitExceeded with Retry-After
    v.faults(json!({"throttle": [{"limit_per_second": 1, "retry_after_secs": 3}]}))
        .await;
    let mut throttled = None;
    for _ in 0..5 {
        let (s, h, b) = v
            .send_signed(
                Method::GET,
                pairs(&[("Action", "ListInstances"), ("Version", "2021-04-30")]),
                "application/x-www-form-urlencoded",
                Vec::new(),
                &v.sk,
                &now_x_date(),
            )
            .await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some((h, b));
            break;
        }
    }
    let (h, b) = throttled.expect("a 429 within five calls at 1/s");
    assert_eq!(b["ResponseMetadata"]["Error"]["Code"], "FlowLimitExceeded");
    assert_eq!(b["ResponseMetadata"]["Error"]["CodeN"], 100018);
    assert_eq!(h["retry-after"], "3");
    assert_eq!(
        h["x-request-id"].to_str().unwrap(),
        b["ResponseMetadata"]["RequestId"]
    );
    v.handle.shutdown().await.unwrap();
}
