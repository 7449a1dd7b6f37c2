//! Shared helpers for the veEN contract tests: start the emulator (both listeners, frozen clock),
//! and call veEN over real HTTP signed the way the Volcengine Go SDK signs (`volcengine/base/sign.go`
//! `Sign4`, ported here as test code, separate from the emulator's verifier).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use edgefleet_emulator::config::{DEFAULT_AK, DEFAULT_SK};
use edgefleet_emulator::{Config, ServerHandle};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A running emulator and a veEN client for it.
pub struct Veen {
    pub handle: ServerHandle,
    /// veEN base URL.
    pub base: String,
    /// IEC base URL (admin API lives on both).
    pub admin: String,
    pub http: reqwest::Client,
    pub ak: String,
    pub sk: String,
}

/// Frozen clock, default delays (tests advance time to move states).
pub fn test_config() -> Config {
    Config {
        clock: edgefleet_emulator::core::clock::ClockMode::Frozen,
        ..Config::default()
    }
}

pub async fn start() -> Veen {
    start_with(test_config()).await
}

pub async fn start_with(config: Config) -> Veen {
    let (addr, handle) = edgefleet_emulator::serve(config).await.unwrap();
    let base = handle.url_of("veen").unwrap();
    Veen {
        handle,
        base,
        admin: format!("http://{addr}"),
        http: reqwest::Client::new(),
        ak: DEFAULT_AK.into(),
        sk: DEFAULT_SK.into(),
    }
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// Go's `url.QueryEscape` followed by the SDK's `+` → `%20`.
pub fn escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `url.Values.Encode()`: sorted by key, values of a key in order.
pub fn encode_query(pairs: &[(String, String)]) -> String {
    let mut p: Vec<(String, String)> = pairs.to_vec();
    p.sort_by(|a, b| a.0.cmp(&b.0));
    p.iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A signed request: headers to send (besides the body).
pub struct Signed {
    pub query: String,
    pub headers: Vec<(String, String)>,
}

/// Signs like the SDK's `Sign4` at `x_date` (`YYYYMMDDTHHMMSSZ`).
#[allow(clippy::too_many_arguments)]
pub fn sign4(
    method: &str,
    host: &str,
    pairs: &[(String, String)],
    content_type: &str,
    body: &[u8],
    ak: &str,
    sk: &str,
    x_date: &str,
) -> Signed {
    let query = encode_query(pairs);
    let payload = hex::encode(Sha256::digest(body));
    let mut headers = vec![
        ("content-type".to_string(), content_type.to_string()),
        ("host".to_string(), host.to_string()),
        ("x-content-sha256".to_string(), payload.clone()),
        ("x-date".to_string(), x_date.to_string()),
    ];
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical = format!("{method}\n/\n{query}\n{canonical_headers}\n{signed}\n{payload}");
    let date = &x_date[..8];
    let scope = format!("{date}/cn-north-1/veenedge/request");
    let sts = format!(
        "HMAC-SHA256\n{x_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = hmac(
        &hmac(&hmac(&hmac(sk.as_bytes(), date), "cn-north-1"), "veenedge"),
        "request",
    );
    let sig = hex::encode(hmac(&key, &sts));
    let mut out: Vec<(String, String)> = headers.into_iter().filter(|(k, _)| k != "host").collect();
    out.push((
        "authorization".into(),
        format!("HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={signed}, Signature={sig}"),
    ));
    Signed { query, headers: out }
}

pub fn now_x_date() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()
}

fn action_pairs(action: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut p = vec![
        ("Action".to_string(), action.to_string()),
        ("Version".to_string(), "2021-04-30".to_string()),
    ];
    p.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    p
}

impl Veen {
    pub fn host(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }

    /// Sends a signed request and returns status, headers and JSON body.
    pub async fn send_signed(
        &self,
        method: Method,
        pairs: Vec<(String, String)>,
        content_type: &str,
        body: Vec<u8>,
        sk: &str,
        x_date: &str,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let s = sign4(
            method.as_str(),
            &self.host(),
            &pairs,
            content_type,
            &body,
            &self.ak,
            sk,
            x_date,
        );
        let mut req = self.http.request(method, format!("{}/?{}", self.base, s.query));
        for (k, v) in &s.headers {
            req = req.header(k, v);
        }
        let resp = req.body(body).send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// GET `action` with query parameters.
    pub async fn get(&self, action: &str, params: &[(&str, &str)]) -> (StatusCode, Value) {
        let (s, _, v) = self
            .send_signed(
                Method::GET,
                action_pairs(action, params),
                "application/x-www-form-urlencoded; charset=utf-8",
                Vec::new(),
                &self.sk.clone(),
                &now_x_date(),
            )
            .await;
        (s, v)
    }

    /// POST `action` with a JSON body.
    pub async fn post(&self, action: &str, body: Value) -> (StatusCode, Value) {
        let (s, _, v) = self
            .send_signed(
                Method::POST,
                action_pairs(action, &[]),
                "application/json; charset=utf-8",
                serde_json::to_vec(&body).unwrap(),
                &self.sk.clone(),
                &now_x_date(),
            )
            .await;
        (s, v)
    }

    /// The `Result` of a successful call (asserts 200, the envelope and the action).
    #[track_caller]
    pub fn ok(&self, got: (StatusCode, Value), action: &str) -> Value {
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let meta = &got.1["ResponseMetadata"];
        assert_eq!(meta["Action"], action, "{}", got.1);
        assert_eq!(meta["Version"], "2021-04-30");
        assert_eq!(meta["Service"], "veenedge");
        assert_eq!(meta["Region"], "cn-north-1");
        assert!(
            meta["RequestId"].as_str().is_some_and(|r| r.len() == 32),
            "{}",
            got.1
        );
        assert!(meta.get("Error").is_none(), "{}", got.1);
        got.1["Result"].clone()
    }

    /// POST `action` and return its `Result` (asserts success as [`Veen::ok`] does).
    pub async fn post_ok(&self, action: &str, body: Value) -> Value {
        let got = self.post(action, body).await;
        self.ok(got, action)
    }

    /// GET `action` and return its `Result` (asserts success as [`Veen::ok`] does).
    pub async fn get_ok(&self, action: &str, params: &[(&str, &str)]) -> Value {
        let got = self.get(action, params).await;
        self.ok(got, action)
    }

    pub async fn advance(&self, seconds: u64) {
        let r = self
            .http
            .post(format!("{}/_emulator/clock/advance", self.admin))
            .json(&json!({"seconds": seconds}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    pub async fn faults(&self, faults: Value) {
        let r = self
            .http
            .put(format!("{}/_emulator/faults", self.base))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    }
}

/// Asserts a veEN error answer: status, `Code`, a numeric `CodeN`, a message containing `needle`.
#[track_caller]
pub fn assert_err(got: &(StatusCode, Value), status: u16, code: &str, needle: &str) {
    assert_eq!(got.0.as_u16(), status, "body: {}", got.1);
    let e = &got.1["ResponseMetadata"]["Error"];
    assert_eq!(e["Code"], code, "body: {}", got.1);
    assert!(e["CodeN"].is_i64(), "body: {}", got.1);
    let msg = e["Message"].as_str().unwrap_or_default();
    assert!(msg.contains(needle), "message {msg:?} lacks {needle:?}");
    assert!(got.1.get("Result").is_none(), "body: {}", got.1);
}

/// The seed 000 request body with a name and optional areas.
pub fn seed_body(name: &str, areas: Value) -> Value {
    json!({
        "cloudserver_name": name,
        "image_id": "image-ubuntu2004",
        "spec_name": "veEN.C1.large",
        "cloud_server_desc": "edgefleet test",
        "storage_config": {
            "system_disk": {"storage_type": "CloudBlockSSD", "capacity": "50"},
            "data_disk": {"storage_type": "CloudBlockSSD", "capacity": "20"}
        },
        "network_config": {"bandwidth_peak": "20"},
        "secret_config": {"secret_type": 2, "secret_data": "My_password1"},
        "billing_config": {"computing_billing_method": "MonthlyPeak", "bandwidth_billing_method": "MonthlyP95"},
        "instance_area_nums": areas
    })
}
