//! Shared helpers of the Workspace contract tests: an emulator with a frozen clock and the default
//! Workspace delays (so tests step through job states with `advance_ms`), and a client that signs
//! every request with the default AK/SK (`SDK-HMAC-SHA256`, as the HW SDK does) for the default
//! account's `cn-north-4` project.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use edgefleet_emulator::config::{DEFAULT_AK, DEFAULT_DOMAIN_ID, DEFAULT_SK};
use edgefleet_emulator::core::auth::derived_project_id;
use edgefleet_emulator::huawei::apig::{SignInput, sign};
use edgefleet_emulator::{Config, ServerHandle};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The seed's VPC and subnet, in the default catalog.
pub const VPC: &str = "59785ba5-e5d5-4836-b9de-19f22ac15175";
pub const SUBNET: &str = "a5842cb4-5718-4b0a-8b27-3a3e9c74f977";
pub const IMAGE: &str = "0fd6c925-6349-49d6-8788-48263b129854";
pub const PRODUCT: &str = "workspace.appstream.general.xlarge.2";

/// A running emulator and a signing client of its Workspace listener.
pub struct Ws {
    pub handle: ServerHandle,
    pub base: String,
    pub http: reqwest::Client,
    pub project: String,
    pub ak: String,
    pub sk: String,
}

/// Frozen clock, default delays.
pub fn config() -> Config {
    Config {
        clock: edgefleet_emulator::core::clock::ClockMode::Frozen,
        ..Config::default()
    }
}

pub async fn start() -> Ws {
    start_with(config()).await
}

pub async fn start_with(config: Config) -> Ws {
    let (_, handle) = edgefleet_emulator::serve(config).await.unwrap();
    let base = handle.url_of("workspace").unwrap();
    Ws {
        handle,
        base,
        http: reqwest::Client::new(),
        project: derived_project_id(DEFAULT_DOMAIN_ID, "cn-north-4"),
        ak: DEFAULT_AK.into(),
        sk: DEFAULT_SK.into(),
    }
}

fn parse(text: String) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

impl Ws {
    /// `/v1/{project}/<rest>`.
    pub fn v1(&self, rest: &str) -> String {
        format!("/v1/{}/{rest}", self.project)
    }

    /// Sends a signed request (`path` may carry a query); returns status and JSON body (Null when empty).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let resp = self.send(method, path, body, &self.sk).await;
        let status = resp.status();
        (status, parse(resp.text().await.unwrap()))
    }

    /// Sends a request signed with `sk` and returns the raw response.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>, sk: &str) -> reqwest::Response {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
        let (p, q) = path.split_once('?').unwrap_or((path, ""));
        let host = self.base.trim_start_matches("http://").to_string();
        let date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("Host".to_string(), host),
            ("X-Project-Id".to_string(), self.project.clone()),
            ("X-Sdk-Date".to_string(), date.clone()),
        ];
        let input = SignInput {
            method: method.as_str(),
            path: p,
            query: q,
            headers: &headers,
            body: &bytes,
        };
        let auth = sign(&self.ak, sk, &input, &["host", "x-project-id", "x-sdk-date"]).unwrap();
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .header("X-Project-Id", &self.project)
            .header("X-Sdk-Date", date)
            .header("Authorization", auth)
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Moves the emulator clock forward by `ms`.
    pub async fn advance_ms(&self, ms: u64) {
        let r = self
            .http
            .post(format!("{}/_emulator/clock/advance", self.base))
            .json(&json!({"ms": ms}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    /// Replaces the core faults.
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

    /// Replaces the job-failure rules of the admin knob.
    pub async fn job_failures(&self, rules: Value) {
        let r = self
            .http
            .put(format!("{}/_emulator/workspace/job-failures", self.base))
            .json(&json!({"rules": rules}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}", r.text().await.unwrap());
    }

    /// A valid create-group body named `name`.
    pub fn group_body(&self, name: &str) -> Value {
        json!({
            "name": name,
            "image_id": IMAGE,
            "image_type": "private",
            "os_type": "Windows",
            "product_id": PRODUCT,
            "vpc_id": VPC,
            "subnet_id": SUBNET,
            "system_disk_type": "SAS",
            "system_disk_size": 80,
            "tags": [{"key": "owner", "value": "edgefleet"}],
        })
    }

    /// Creates a group; returns its id.
    pub async fn create_group(&self, name: &str) -> String {
        let (st, body) = self
            .post(&self.v1("app-server-groups"), self.group_body(name))
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// A valid create-servers body.
    pub fn servers_body(&self, group: &str, n: u32) -> Value {
        json!({
            "type": "createApps",
            "server_group_id": group,
            "subscription_num": n,
            "product_id": PRODUCT,
            "root_volume": {"type": "SAS", "size": 80},
            "vpc_id": VPC,
            "subnet_id": SUBNET,
        })
    }

    /// Asks for `n` servers in `group`; returns the job id.
    pub async fn create_servers(&self, group: &str, n: u32) -> String {
        let (st, body) = self
            .post(
                &self.v1("app-servers/actions/create"),
                self.servers_body(group, n),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        body["job_id"].as_str().unwrap().to_string()
    }

    /// The v2 job.
    pub async fn job(&self, id: &str) -> Value {
        let (st, body) = self.get(&format!("/v2/{}/job/{id}", self.project)).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        body
    }

    /// The group's servers.
    pub async fn servers_of(&self, group: &str) -> Vec<Value> {
        let (st, body) = self
            .get(&self.v1(&format!("app-servers?server_group_id={group}&limit=100")))
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        body["items"].as_array().unwrap().clone()
    }

    /// Steps a create job through start (1 s), build (3 s) and registration (1 s).
    pub async fn run_create_job(&self) {
        self.advance_ms(5_000).await;
    }
}

/// Asserts a Workspace error answer.
#[track_caller]
pub fn assert_err(got: &(StatusCode, Value), status: u16, code: &str) {
    assert_eq!(got.0.as_u16(), status, "body: {}", got.1);
    assert_eq!(got.1["error_code"], code, "body: {}", got.1);
    assert!(got.1["error_msg"].is_string(), "body: {}", got.1);
}
