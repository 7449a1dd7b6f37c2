//! Shared helpers for the emulator's contract tests: start an emulator on 127.0.0.1:0, obtain a
//! domain-scoped IAM token, and send JSON requests over real HTTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use edgefleet_emulator::config::{DEFAULT_DOMAIN_NAME, DEFAULT_PASSWORD, DEFAULT_USER};
use edgefleet_emulator::{Config, Delays, ServerHandle};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A running emulator plus an authenticated client.
pub struct Emu {
    pub handle: ServerHandle,
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
}

/// Default config with zero delays and a frozen clock (tests advance time explicitly).
pub fn test_config() -> Config {
    Config {
        delays: Delays::zero(),
        clock: edgefleet_emulator::core::clock::ClockMode::Frozen,
        ..Config::default()
    }
}

pub async fn start() -> Emu {
    start_with(test_config()).await
}

pub async fn start_with(config: Config) -> Emu {
    let (addr, handle) = edgefleet_emulator::serve(config).await.unwrap();
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let token = get_token(&http, &base, DEFAULT_USER, DEFAULT_PASSWORD, DEFAULT_DOMAIN_NAME).await;
    Emu {
        handle,
        base,
        http,
        token,
    }
}

pub async fn get_token(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
    domain: &str,
) -> String {
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "password": password, "domain": {"name": domain}}}},
        "scope": {"domain": {"name": domain}}}});
    let resp = http
        .post(format!("{base}/v3/auth/tokens"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.headers()["x-subject-token"].to_str().unwrap().to_string()
}

impl Emu {
    /// Sends a request with the token; returns status and JSON body (Null when empty).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("X-Auth-Token", &self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// Sends raw bytes as the body.
    pub async fn raw(&self, method: Method, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("X-Auth-Token", &self.token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Moves the emulator clock forward.
    pub async fn advance(&self, seconds: u64) {
        let r = self
            .http
            .post(format!("{}/_emulator/clock/advance", self.base))
            .json(&json!({"seconds": seconds}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    /// Replaces the faults.
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

/// Asserts an IEC error answer.
#[track_caller]
pub fn assert_err(got: &(StatusCode, Value), status: u16, code: &str) {
    assert_eq!(got.0.as_u16(), status, "body: {}", got.1);
    assert_eq!(got.1["error_code"], code, "body: {}", got.1);
    assert!(got.1["error_msg"].is_string(), "body: {}", got.1);
}
