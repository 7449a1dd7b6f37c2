//! The veEN SDK wire contract: replays `sdk-contract/veen/wire.json` — the exact query keys and JSON
//! bodies the official Go SDK (`volcengine-go-sdk` `service/veenedge`, read from source; the Go-proxy
//! module lacks the package) sends for each action, with the provenance of each next to it — against
//! the emulator, signed the way the SDK's `Sign4` signs (the SDK's default Content-Type for GETs,
//! `application/json; charset=utf-8` for POSTs). Values `${name}` are taken from earlier answers
//! (`capture`); `"@same"` repeats the previous body. Every action the emulator serves must appear.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod veen_support;

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::Value;
use veen_support::{Veen, now_x_date, start_with};

const WIRE: &str = include_str!("../../sdk-contract/veen/wire.json");

fn substitute(v: &Value, vars: &BTreeMap<String, String>) -> Value {
    match v {
        Value::String(s) => {
            let mut out = s.clone();
            for (k, x) in vars {
                out = out.replace(&format!("${{{k}}}"), x);
            }
            assert!(!out.contains("${"), "unbound variable in {s}");
            Value::String(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, vars)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), substitute(x, vars))).collect()),
        other => other.clone(),
    }
}

async fn replay(v: &Veen, step: &Value, body: Option<&Value>) -> (u16, Value) {
    let action = step["action"].as_str().unwrap();
    let mut pairs = vec![
        ("Action".to_string(), action.to_string()),
        ("Version".to_string(), "2021-04-30".to_string()),
    ];
    let (method, ct, bytes) = match step["method"].as_str().unwrap() {
        "GET" => {
            for kv in step["query"].as_array().unwrap() {
                pairs.push((kv[0].as_str().unwrap().into(), kv[1].as_str().unwrap().into()));
            }
            (
                Method::GET,
                "application/x-www-form-urlencoded; charset=utf-8",
                Vec::new(),
            )
        }
        _ => (
            Method::POST,
            "application/json; charset=utf-8",
            serde_json::to_vec(body.unwrap()).unwrap(),
        ),
    };
    let (s, _, b) = v
        .send_signed(method, pairs, ct, bytes, &v.sk, &now_x_date())
        .await;
    (s.as_u16(), b)
}

#[tokio::test]
async fn veen_sdk_wire_fixtures_replay() {
    let doc: Value = serde_json::from_str(WIRE).unwrap();
    let v = start_with(edgefleet_emulator::Config {
        delays: edgefleet_emulator::Delays::zero(),
        ..veen_support::test_config()
    })
    .await;
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut last_body: Option<Value> = None;
    let mut seen = BTreeSet::new();
    for (n, raw) in doc["steps"].as_array().unwrap().iter().enumerate() {
        assert!(
            raw["provenance"]
                .as_str()
                .is_some_and(|p| p.contains("service/veenedge/")),
            "step {n} has no provenance"
        );
        let step = substitute(raw, &vars);
        let action = step["action"].as_str().unwrap().to_string();
        seen.insert(action.clone());
        let body = match &step["body"] {
            Value::String(s) if s == "@same" => last_body.clone(),
            Value::Null => None,
            b => Some(b.clone()),
        };
        let (status, answer) = replay(&v, &step, body.as_ref()).await;
        let expect = &step["expect"];
        assert_eq!(
            u64::from(status),
            expect["status"].as_u64().unwrap(),
            "step {n} {action}: {answer}"
        );
        assert_eq!(
            answer["ResponseMetadata"]["Action"],
            action.as_str(),
            "step {n}: {answer}"
        );
        if let Some(code) = expect["error"].as_str() {
            assert_eq!(
                answer["ResponseMetadata"]["Error"]["Code"], code,
                "step {n} {action}: {answer}"
            );
        }
        for (ptr, want) in expect["equals"].as_object().into_iter().flatten() {
            assert_eq!(
                answer.pointer(ptr).unwrap_or(&Value::Null),
                want,
                "step {n} {action} {ptr}: {answer}"
            );
        }
        for ptr in expect["present"].as_array().into_iter().flatten() {
            assert!(
                answer.pointer(ptr.as_str().unwrap()).is_some(),
                "step {n} {action} {ptr}: {answer}"
            );
        }
        for (name, ptr) in step["capture"].as_object().into_iter().flatten() {
            let got = answer
                .pointer(ptr.as_str().unwrap())
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("step {n} {action}: nothing at {ptr}: {answer}"));
            vars.insert(name.clone(), got.to_string());
        }
        last_body = body;
    }
    let served: BTreeSet<String> = edgefleet_emulator::veen::actions()
        .into_iter()
        .map(str::to_string)
        .collect();
    let missing: Vec<_> = served.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "actions without an SDK wire fixture: {missing:?}"
    );
    // the whole scenario cleaned up after itself
    for (list, count) in [
        ("ListCloudServers", "/Result/total_count"),
        ("ListInstances", "/Result/total_count"),
        ("ListVPCInstances", "/Result/count"),
    ] {
        let (_, answer) = v.get(list, &[]).await;
        assert_eq!(answer.pointer(count), Some(&Value::from(0)), "{list}: {answer}");
    }
    v.handle.shutdown().await.unwrap();
}
