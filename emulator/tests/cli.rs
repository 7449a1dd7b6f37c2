//! The `edgefleet-emulator` binary: prints its URL as the first stdout line, serves the API, and
//! shuts down gracefully on SIGTERM, writing the state file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn binary_prints_url_serves_and_saves_state_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("emu-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let _ = std::fs::remove_file(&state);
    let config = dir.join("config.yaml");
    std::fs::write(&config, "delays: {all_ms: 0}\nfaults: {seed: 3}\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgefleet-emulator"))
        .args(["--iec-addr", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--state-file")
        .arg(&state)
        .args(["--log", "warn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let http = reqwest::Client::new();
    let health = http.get(format!("{url}/_emulator/healthz")).send().await.unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
    let token = {
        use edgefleet_emulator::config::*;
        let body = serde_json::json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": DEFAULT_USER, "password": DEFAULT_PASSWORD, "domain": {"name": DEFAULT_DOMAIN_NAME}}}},
            "scope": {"domain": {"name": DEFAULT_DOMAIN_NAME}}}});
        let r = http
            .post(format!("{url}/v3/auth/tokens"))
            .json(&body)
            .send()
            .await
            .unwrap();
        r.headers()["x-subject-token"].to_str().unwrap().to_string()
    };
    let r = http
        .post(format!("{url}/v1/vpcs"))
        .header("X-Auth-Token", &token)
        .json(&serde_json::json!({"vpc": {"name": "cli", "cidr": "10.0.0.0/8", "mode": "SYSTEM"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert!(saved.to_string().contains("\"cli\""));
    // a bad config file is reported, not panicked on
    std::fs::write(&config, "nonsense: [").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_edgefleet-emulator"))
        .args(["--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("failed to parse"));
}
