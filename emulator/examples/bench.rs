//! Throughput and memory benchmark of the emulator (in-process server, real HTTP over loopback).
//!
//! ```text
//! cargo run --release -p edgefleet-emulator --example bench -- [SECONDS] [CONCURRENCY] [INSTANCES]
//! ```
//! Defaults: 5 seconds, 16 concurrent keep-alive clients, 100000 instances. Prints requests/s for
//! `GET /v1/vpcs/{id}` and `GET /v1/cloudservers/{id}`, then the process RSS before and after
//! creating the instances (through deployment plans, zero delays), and list/get latencies with
//! that many instances.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use edgefleet_emulator::config::{DEFAULT_DOMAIN_NAME, DEFAULT_PASSWORD, DEFAULT_USER};
use edgefleet_emulator::iec::catalog::QuotaLimit;
use edgefleet_emulator::{Config, Delays};
use serde_json::{Value, json};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

async fn hammer(http: &reqwest::Client, url: String, token: &str, seconds: u64, concurrency: usize) -> f64 {
    let count = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, token, count, errors) = (
            http.clone(),
            url.clone(),
            token.to_string(),
            count.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                match http.get(&url).header("X-Auth-Token", &token).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rate = count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    println!(
        "  {url}: {rate:.0} req/s ({} errors)",
        errors.load(Ordering::Relaxed)
    );
    rate
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(5);
    let concurrency: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(16);
    let instances: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100_000);

    let mut config = Config {
        delays: Delays::zero(),
        ..Config::default()
    };
    for (k, v) in [
        ("instance", 1u64 << 40),
        ("vcpu", 1 << 40),
        ("ram", 1 << 50),
        ("volume", 1 << 40),
        ("gigabyte", 1 << 50),
        ("edgeclouds", 1 << 20),
    ] {
        config
            .catalog
            .quotas
            .insert(k.into(), QuotaLimit { quota: v, max: v });
    }
    for s in &mut config.catalog.sites {
        s.capacity_instances = u64::MAX / 4;
    }
    let rss0 = rss_kib();
    let (addr, handle) = edgefleet_emulator::serve(config).await.unwrap();
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let auth = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": DEFAULT_USER, "password": DEFAULT_PASSWORD, "domain": {"name": DEFAULT_DOMAIN_NAME}}}},
        "scope": {"domain": {"name": DEFAULT_DOMAIN_NAME}}}});
    let r = http
        .post(format!("{base}/v3/auth/tokens"))
        .json(&auth)
        .send()
        .await
        .unwrap();
    let token = r.headers()["x-subject-token"].to_str().unwrap().to_string();
    let post = |path: &str, body: Value| {
        let req = http
            .post(format!("{base}{path}"))
            .header("X-Auth-Token", &token)
            .json(&body);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let vpc = post(
        "/v1/vpcs",
        json!({"vpc": {"name": "bench", "cidr": "10.0.0.0/8", "mode": "SYSTEM"}}),
    )
    .await;
    let vpc_id = vpc["vpc"]["id"].as_str().unwrap().to_string();

    println!("throughput ({seconds}s, {concurrency} clients, in-process server + client on loopback):");
    hammer(
        &http,
        format!("{base}/v1/vpcs/{vpc_id}"),
        &token,
        seconds,
        concurrency,
    )
    .await;

    println!(
        "memory: RSS at start {} MiB, after start-up {} MiB",
        rss0 / 1024,
        rss_kib() / 1024
    );
    let rss1 = rss_kib();
    let per_plan: u64 = 10_000.min(instances.max(1));
    let mut made = 0u64;
    let t0 = Instant::now();
    let mut plan_no = 0;
    while made < instances {
        let n = per_plan.min(instances - made);
        let (demand, count) = if n >= 10 && n.is_multiple_of(10) {
            (10, n / 10)
        } else {
            (1, n)
        };
        plan_no += 1;
        let plan = json!({"edgecloud": {"name": format!("bench{plan_no}"),
            "stack": {"name": "s", "resources": [{"name": "vm", "image_ref": "00000000-0000-0000-0000-000000000002",
                "flavor_ref": "s6.small.1", "net_config": {"vpc_id": vpc_id, "nic_num": 1}, "count": count,
                "root_volume": {"volume_type": "SATA", "size": 40}}]},
            "coverage": {"coverage_level": "area", "coverage_policy": "discrete",
                "coverage_sites": [{"site": "south", "demands": [{"demand_count": demand}]}]}}});
        let p = post("/v1/deployments", plan).await;
        let id = p["id"].as_str().unwrap_or_else(|| panic!("plan failed: {p}"));
        let d = post(&format!("/v1/deployments/{id}/deploy"), json!(null)).await;
        assert_eq!(d["status"], "creating", "{d}");
        made += n;
    }
    let build_secs = t0.elapsed().as_secs_f64();
    let rss2 = rss_kib();
    println!(
        "  created {made} instances in {build_secs:.1}s; RSS {} MiB → {} MiB (+{} MiB, {:.2} KiB/instance incl. its disk and NIC)",
        rss1 / 1024,
        rss2 / 1024,
        (rss2.saturating_sub(rss1)) / 1024,
        (rss2.saturating_sub(rss1)) as f64 / made.max(1) as f64
    );
    let snap = serde_json::to_vec(&handle.state()).unwrap();
    println!("  snapshot JSON: {} MiB", snap.len() / (1024 * 1024));
    drop(snap);
    let t = Instant::now();
    let list: Value = http
        .get(format!("{base}/v1/cloudservers?limit=100&offset=3"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    println!(
        "  GET /v1/cloudservers?limit=100 with {} instances: {:?}",
        list["count"],
        t.elapsed()
    );
    let one = list["servers"][0]["id"].as_str().unwrap().to_string();
    println!("throughput with {made} instances:");
    hammer(
        &http,
        format!("{base}/v1/cloudservers/{one}"),
        &token,
        seconds,
        concurrency,
    )
    .await;
    hammer(
        &http,
        format!("{base}/v1/vpcs/{vpc_id}"),
        &token,
        seconds,
        concurrency,
    )
    .await;
    handle.shutdown().await.unwrap();
}
