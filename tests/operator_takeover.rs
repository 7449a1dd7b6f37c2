//! Two `edgefleet run` processes (the real binary) against the control plane and one emulator: only the
//! leader reconciles; `kill -9` of the leader while it is creating cloud objects → the standby takes over
//! within the documented bound (lease 15 s + two jittered polls of 2–4 s: 23 s, asserted as 25 s), finishes
//! the work, and the cloud holds exactly one object per Kubernetes object (the crash-safety intents prevent
//! duplicates). Along the way: /readyz of standby and leader, and the leader's /metrics carrying the
//! issue-9 families with real values (reconciles, cloud calls, rate limiter, managed objects, leader).
//!
//! Run with `cargo xtask test`, or `eval "$(cargo xtask control-plane env)" && cargo test --test
//! operator_takeover -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use edgefleet_emulator::Faults;
use edgefleet_emulator::core::faults::LatencyFault;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ApiResource, DynamicObject};
use support::operator::{self, Operator, WAIT, World, metric, samples};

const LEASE: &str = "edgefleet-takeover";
/// issue 9: "kill the leader → the other takes over within 25 s" (docs/operations.md derives 23 s from the
/// default timings the processes run with). A bound of the election protocol, not a performance figure.
const TAKEOVER_BOUND: Duration = Duration::from_secs(25);

/// Extra VPCs beyond the samples, so that the leader is mid-way through its work when it is killed.
fn extra_vpcs(world: &World, n: usize) -> Vec<(ApiResource, DynamicObject)> {
    (0..n)
        .map(|i| {
            let object: DynamicObject = serde_json::from_value(serde_json::json!({
                "apiVersion": "edgefleet.io/v1alpha1",
                "kind": "Vpc",
                "metadata": {
                    "name": format!("extra-{i}"),
                    "namespace": world.ns.name(),
                    "labels": {operator::RUN_LABEL: world.ns.name()},
                },
                "spec": {
                    "providerConfigRef": {"name": world.pc},
                    "cidr": format!("10.{}.0.0/16", 100 + i),
                },
            }))
            .unwrap();
            (operator::api_resource("Vpc"), object)
        })
        .collect()
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt(LEASE)
        .await
        .ok()
        .flatten()
        .and_then(|lease| lease.spec?.holder_identity)
        .filter(|h| !h.is_empty())
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn the_standby_takes_over_a_killed_leader_and_finishes_without_duplicates() {
    // Every VPC create waits 1.5 s in the emulator: the leader is still creating when it is killed.
    let faults = Faults {
        latency: vec![LatencyFault {
            operation: "POST /v1/vpcs".into(),
            fixed_ms: 1500,
            jitter_ms: 0,
        }],
        ..Faults::default()
    };
    let world = World::start("takeover", faults).await;
    let leases: Api<Lease> = world.ns.api();

    let mut a = Operator::spawn(&world, "replica-a", LEASE, &[]);
    a.wait_ready(WAIT).await;
    let first = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(h) = holder(&leases).await {
                return h;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("nobody took the Lease");
    assert_eq!(first, "replica-a", "the only replica leads");
    let mut b = Operator::spawn(&world, "replica-b", LEASE, &[]);
    let standby_ready = b.wait_ready(WAIT).await;
    assert!(standby_ready.starts_with("standby"), "{standby_ready}");
    assert!(a.get("/readyz").await.unwrap().1.starts_with("leading"));

    // Work: the samples of every kind with a controller, plus extra VPCs.
    let mut objects = world.samples(&operator::sample_kinds());
    objects.extend(extra_vpcs(&world, 4));
    let vpc_count = objects.iter().filter(|(r, _)| r.kind == "Vpc").count();
    world.create_all(&objects).await;

    // Kill the leader as soon as it has sent its first VPC create.
    let deadline = Instant::now() + WAIT;
    while world.emulator.calls().requests("POST /v1/vpcs") == 0 {
        assert!(
            Instant::now() < deadline,
            "the leader never created a VPC; log:\n{}",
            a.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Only the leader reconciles: the standby has not run a single pass nor made a cloud call.
    let standby = b.metrics().await;
    assert_eq!(metric(&standby, "edgefleet_leader", &[]), Some(0.0), "{standby}");
    assert!(
        samples(&standby, "edgefleet_reconciles_total").is_empty(),
        "{standby}"
    );
    assert!(
        samples(&standby, "edgefleet_provider_calls_total").is_empty(),
        "{standby}"
    );
    let leader = a.metrics().await;
    assert_eq!(metric(&leader, "edgefleet_leader", &[]), Some(1.0), "{leader}");

    a.kill9();
    let killed = Instant::now();
    let new_holder = tokio::time::timeout(WAIT, async {
        loop {
            match holder(&leases).await {
                Some(h) if h != "replica-a" => return h,
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the standby never took over; log:\n{}", b.log_tail()));
    let takeover = killed.elapsed();
    assert_eq!(new_holder, "replica-b");
    assert!(
        takeover <= TAKEOVER_BOUND,
        "takeover took {takeover:?} (bound {TAKEOVER_BOUND:?}); log:\n{}",
        b.log_tail()
    );

    // The new leader finishes the work and turns ready once its caches have synced.
    world.wait_ready(&objects, WAIT).await;
    let ready = b.get("/readyz").await.unwrap();
    assert_eq!(ready.0, 200);
    assert!(ready.1.starts_with("leading"), "{}", ready.1);

    // No duplicate cloud objects: one VPC per Vpc object, each name once, one security group per object.
    let vpcs = world.cloud_rows("iec.vpc");
    let mut names: Vec<String> = vpcs
        .iter()
        .map(|row| {
            row.pointer("/value/name")
                .or_else(|| row.get("name"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    names.sort();
    let unique = {
        let mut u = names.clone();
        u.dedup();
        u
    };
    assert_eq!(vpcs.len(), vpc_count, "cloud VPCs: {names:?}");
    assert_eq!(unique.len(), names.len(), "duplicate cloud VPC names: {names:?}");
    let groups = objects.iter().filter(|(r, _)| r.kind == "SecurityGroup").count();
    assert_eq!(world.cloud_rows("iec.security_group").len(), groups);

    // The leader's /metrics carries the issue-9 families with real values.
    let census_deadline = Instant::now() + WAIT;
    let exposition = loop {
        let text = b.metrics().await;
        let counted = metric(
            &text,
            "edgefleet_managed_objects",
            &[("kind", "Vpc"), ("ready", "True"), ("synced", "True")],
        );
        if counted == Some(vpc_count as f64) {
            break text;
        }
        assert!(
            Instant::now() < census_deadline,
            "managed objects never counted: {text}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(metric(&exposition, "edgefleet_leader", &[]), Some(1.0));
    assert!(metric(&exposition, "edgefleet_reconciles_total", &[("kind", "Vpc")]).unwrap_or(0.0) >= 1.0);
    assert!(
        metric(
            &exposition,
            "edgefleet_reconcile_duration_seconds_count",
            &[("kind", "Vpc")]
        )
        .unwrap_or(0.0)
            >= 1.0
    );
    let create = [
        ("provider", "iec"),
        ("account", world.pc.as_str()),
        ("operation", "iec.vpc.create"),
    ];
    assert!(
        metric(&exposition, "edgefleet_provider_calls_total", &create).unwrap_or(0.0) >= 1.0,
        "{exposition}"
    );
    assert!(
        !samples(&exposition, "edgefleet_provider_call_duration_seconds_bucket").is_empty(),
        "{exposition}"
    );
    assert!(
        metric(
            &exposition,
            "edgefleet_provider_rate_limiter_tokens",
            &[("provider", "iec"), ("account", world.pc.as_str())]
        )
        .is_some(),
        "{exposition}"
    );
    assert!(
        metric(
            &exposition,
            "edgefleet_time_to_ready_seconds_count",
            &[("kind", "Vpc")]
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{exposition}"
    );

    // Cleanup through the new leader: the finalizers delete the cloud objects.
    world.delete_all(&objects, WAIT).await;
    assert!(world.cloud_rows("iec.vpc").is_empty());
    assert!(world.cloud_rows("iec.security_group").is_empty());
    world.delete_provider_config().await;
    let status = b.terminate(Duration::from_secs(60));
    assert!(
        status.success(),
        "graceful shutdown exits 0: {status}; log:\n{}",
        b.log_tail()
    );
    assert_eq!(
        holder(&leases).await,
        None,
        "a graceful shutdown releases the Lease"
    );
    world.cleanup().await;
}
