//! Shared helpers for the Luchen contract tests: start the emulator (all listeners, frozen clock),
//! log in over real HTTP and call `/api/...` with the `AccessToken` cookie, as a Luchen client does.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use edgefleet_emulator::config::{DEFAULT_PASSWORD, DEFAULT_USER};
use edgefleet_emulator::luchen::catalog::{IMAGE_PYTORCH, REGION_EAST, STORAGE_EXAMPLE, TYPE_H100_1};
use edgefleet_emulator::{Config, ServerHandle};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A running emulator, logged in as the built-in user.
pub struct Luchen {
    pub handle: ServerHandle,
    /// Luchen base URL (`/api/...` is appended).
    pub base: String,
    /// The admin API (`/_emulator/...`, on every listener).
    pub admin: String,
    pub http: reqwest::Client,
    pub token: String,
}

/// Frozen clock, default delays (tests advance time to move states).
pub fn test_config() -> Config {
    Config {
        clock: edgefleet_emulator::core::clock::ClockMode::Frozen,
        ..Config::default()
    }
}

pub async fn start() -> Luchen {
    start_with(test_config()).await
}

pub async fn start_with(config: Config) -> Luchen {
    let (_, handle) = edgefleet_emulator::serve(config).await.unwrap();
    let base = handle.url_of("luchen").unwrap();
    let http = reqwest::Client::new();
    let (status, body) = raw(&http, &base, "/api/user/login", None, login_body()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["accessToken"].as_str().unwrap().to_string();
    Luchen {
        admin: base.clone(),
        handle,
        base,
        http,
        token,
    }
}

/// The built-in user's login body.
pub fn login_body() -> Value {
    json!({"username": DEFAULT_USER, "password": DEFAULT_PASSWORD})
}

/// POSTs `body` to `base + path` with an optional `AccessToken` cookie; status and JSON body.
pub async fn raw(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut req = http.post(format!("{base}{path}")).json(&body);
    if let Some(t) = token {
        req = req.header("Cookie", format!("AccessToken={t}"));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// A create body with every documented field (the seed's example, with catalog ids).
pub fn create_body(name: &str) -> Value {
    json!({
        "name": name,
        "imageId": IMAGE_PYTORCH,
        "instanceTypeId": TYPE_H100_1,
        "region": REGION_EAST,
        "billing": {"chargeMode": "perHour", "duration": 1},
        "remoteStorages": [{
            "mountPath": "/root/highspeedstorage/example-volume",
            "remoteStorageName": "example-volume",
            "remoteStorageId": STORAGE_EXAMPLE,
            "type": "highspeedstorage"
        }],
        "instanceConfiguration": {
            "extraDataDiskSizeDB": 0,
            "enableCommonData": false,
            "enableDocker": true,
            "dockerStorageSize": 50,
            "initScript": ""
        },
        "isSpotInstance": false,
        "nodePorts": [7891, 7892]
    })
}

impl Luchen {
    /// POSTs with the session cookie.
    pub async fn call(&self, path: &str, body: Value) -> (StatusCode, Value) {
        raw(&self.http, &self.base, path, Some(&self.token), body).await
    }

    /// POSTs with the session cookie and expects 200.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.call(path, body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {v}");
        v
    }

    /// Creates an instance; its id.
    pub async fn create(&self, name: &str) -> String {
        let v = self.ok("/api/instance/create", create_body(name)).await;
        v["instanceId"].as_str().unwrap().to_string()
    }

    /// One list page.
    pub async fn page(&self, current: u64, size: u64) -> Value {
        self.ok(
            "/api/instance/list",
            json!({"pager": {"currentPage": current, "pageSize": size}}),
        )
        .await
    }

    /// The listed row of `id`, if listed.
    pub async fn row(&self, id: &str) -> Option<Value> {
        let v = self.page(1, 100).await;
        v["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["instanceMetadata"]["instanceId"] == id)
            .cloned()
    }

    /// The listed status of `id` (`None` when not listed).
    pub async fn status(&self, id: &str) -> Option<String> {
        self.row(id)
            .await
            .map(|r| r["instanceRuntimeInfo"]["status"].as_str().unwrap().to_string())
    }

    /// Calls `/api/instance/<what>` on `id` and expects 200 `{"instanceId": id}`.
    pub async fn act(&self, what: &str, id: &str) {
        let v = self
            .ok(&format!("/api/instance/{what}"), json!({"instanceId": id}))
            .await;
        assert_eq!(v, json!({"instanceId": id}));
    }

    /// Moves the emulator clock forward.
    pub async fn advance_ms(&self, ms: u64) {
        let resp = self
            .http
            .post(format!("{}/_emulator/clock/advance", self.admin))
            .json(&json!({"ms": ms}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }

    /// Replaces the faults.
    pub async fn set_faults(&self, faults: Value) {
        let resp = self
            .http
            .put(format!("{}/_emulator/faults", self.admin))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
    }
}

/// Asserts a `{"message"}` answer.
pub fn assert_message(got: &(StatusCode, Value), status: StatusCode, message: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1, json!({ "message": message }));
}

/// The documented not-logged-in answer.
pub fn assert_not_logged_in(got: &(StatusCode, Value)) {
    assert_eq!(got.0, StatusCode::UNAUTHORIZED, "{}", got.1);
    assert_eq!(
        got.1,
        json!({"code": -1, "message": "未登录或登录已过期,请重新登录"})
    );
}
