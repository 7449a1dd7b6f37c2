//! Shared helpers for the ModelArts DevServer / BSS contract tests: start the emulator (frozen clock,
//! default delays: tests advance time to move states) and call the modelarts listener over real HTTP,
//! signed with AK/SK `SDK-HMAC-SHA256` as the HW-SDK signs (signed headers `host;x-project-id;x-sdk-date`;
//! the signer's SDK test vectors are checked in `huawei::apig`'s unit tests).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use edgefleet_emulator::config::{DEFAULT_AK, DEFAULT_DOMAIN_ID, DEFAULT_SK};
use edgefleet_emulator::core::auth::{DEFAULT_PROJECT_NAME, derived_project_id};
use edgefleet_emulator::huawei::apig::{SignInput, sign};
use edgefleet_emulator::modelarts::catalog::{
    DEFAULT_FLAVOR, DEFAULT_IMAGE, DEFAULT_SECURITY_GROUP, DEFAULT_SUBNET, DEFAULT_VPC,
};
use edgefleet_emulator::{Config, ServerHandle};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A running emulator and a signing ModelArts client for it.
pub struct Ma {
    pub handle: ServerHandle,
    /// The modelarts listener.
    pub base: String,
    pub http: reqwest::Client,
    /// The default account's `cn-north-4` project.
    pub project: String,
    /// Secret key used to sign (tests change it to break signatures).
    pub sk: String,
}

/// Frozen clock, default delays.
pub fn test_config() -> Config {
    Config {
        clock: edgefleet_emulator::core::clock::ClockMode::Frozen,
        ..Config::default()
    }
}

pub async fn start() -> Ma {
    start_with(test_config()).await
}

pub async fn start_with(config: Config) -> Ma {
    let (_, handle) = edgefleet_emulator::serve(config).await.unwrap();
    let base = handle.url_of("modelarts").unwrap();
    Ma {
        handle,
        base,
        http: reqwest::Client::new(),
        project: derived_project_id(DEFAULT_DOMAIN_ID, DEFAULT_PROJECT_NAME),
        sk: DEFAULT_SK.into(),
    }
}

/// A POST_PAID create body that passes every check (seed 002's example request).
pub fn valid_body(name: &str) -> Value {
    json!({
        "name": name,
        "flavor": DEFAULT_FLAVOR,
        "image_id": DEFAULT_IMAGE,
        "network": {
            "security_group_id": DEFAULT_SECURITY_GROUP,
            "subnet_id": DEFAULT_SUBNET,
            "vpc_id": DEFAULT_VPC,
        },
        "admin_pass": "@DevServer1",
    })
}

/// A PRE_PAID create body: one month, paid by hand unless `auto_pay`.
pub fn prepaid_body(name: &str, auto_pay: bool) -> Value {
    let mut b = valid_body(name);
    b["charging_info"] = json!({
        "charging_mode": "PRE_PAID", "period_type": "MONTH", "period_num": 1,
        "is_auto_pay": auto_pay, "is_auto_renew": false,
    });
    b
}

/// An answer: status, JSON body (Null when empty) and headers.
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// Asserts an error answer with `status` and `code`; returns its message.
    pub fn err(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.body["error_code"], code, "{}", self.body);
        assert!(self.headers.contains_key("x-request-id"));
        self.body["error_msg"].as_str().unwrap_or_default().to_string()
    }

    /// Asserts 200 and returns the body.
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        &self.body
    }
}

impl Ma {
    /// `/v1/{project}/dev-servers{rest}`.
    pub fn servers(&self, rest: &str) -> String {
        format!("/v1/{}/dev-servers{rest}", self.project)
    }

    /// Sends a signed request (`path` may carry a query); `extra` headers are added and signed.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> Answer {
        let url = format!("{}{path}", self.base);
        let parsed = reqwest::Url::parse(&url).unwrap();
        let host = format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap());
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default();
        let date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), host),
            ("x-sdk-date".into(), date),
            ("x-project-id".into(), self.project.clone()),
        ];
        for (k, v) in extra {
            headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
            headers.push(((*k).to_string(), (*v).to_string()));
        }
        let names: Vec<String> = headers.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let input = SignInput {
            method: method.as_str(),
            path: parsed.path(),
            query: parsed.query().unwrap_or(""),
            headers: &headers,
            body: &bytes,
        };
        let authorization = sign(DEFAULT_AK, &self.sk, &input, &name_refs).unwrap();
        let mut req = self
            .http
            .request(method, url)
            .header("Authorization", authorization);
        for (k, v) in &headers {
            if k != "host" {
                req = req.header(k.as_str(), v.as_str());
            }
        }
        if body.is_some() {
            req = req.header("Content-Type", "application/json").body(bytes);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(&body), &[]).await
    }

    pub async fn put(&self, path: &str, body: Option<Value>) -> Answer {
        self.send(Method::PUT, path, body.as_ref(), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None, &[]).await
    }

    /// Creates a POST_PAID server and returns its id.
    pub async fn create(&self, name: &str) -> String {
        let a = self.post(&self.servers(""), valid_body(name)).await;
        a.ok()["id"].as_str().unwrap().to_string()
    }

    /// The status of server `id`.
    pub async fn status(&self, id: &str) -> String {
        let a = self.get(&self.servers(&format!("/{id}"))).await;
        a.ok()["status"].as_str().unwrap().to_string()
    }

    /// BSS order status.
    pub async fn order_status(&self, order_id: &str) -> i64 {
        let a = self
            .get(&format!("/v2/orders/customer-orders/details/{order_id}"))
            .await;
        a.ok()["order_info"]["status"].as_i64().unwrap()
    }

    /// Moves the frozen clock.
    pub fn advance_ms(&self, ms: u64) {
        self.handle.app().clock().advance(ms);
    }

    /// An admin knob over HTTP (unsigned, on this listener).
    pub async fn knob(&self, kind: &str, id: &str, action: &str) -> StatusCode {
        self.http
            .post(format!("{}/_emulator/records/{kind}/{id}/{action}", self.base))
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Servers of the project (first page of 100).
    pub async fn list(&self) -> Vec<Value> {
        let a = self.get(&self.servers("?limit=100")).await;
        a.ok()["data"].as_array().unwrap().clone()
    }
}
