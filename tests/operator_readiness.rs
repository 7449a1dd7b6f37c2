//! /readyz of a leader waits for the controllers' caches: the real `edgefleet run` talks to the API server
//! through a proxy that holds the first LIST of Vpcs (the Vpc controller's cache cannot complete). The
//! replica wins the Lease and its controllers start, yet /readyz stays 503 ("leading: controllers starting,
//! caches not yet synced") for as long as the list is held; once released, /readyz turns 200. The order of
//! events is asserted, never a duration.
//!
//! Run with `cargo xtask test`, or `eval "$(cargo xtask control-plane env)" && cargo test --test
//! operator_readiness -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use edgefleet_emulator::Faults;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use support::operator::{Operator, Proxy, Recorded, WAIT, World};

const LEASE: &str = "edgefleet-readiness";

/// The Vpc controller's initial list (a GET of the collection without `watch`).
fn vpc_list(request: &Recorded) -> bool {
    request.method == "GET" && request.path.ends_with("/vpcs") && !request.query.contains("watch=")
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_leader_is_ready_only_after_its_caches_synced() {
    let world = World::start("readiness", Faults::default()).await;
    let proxy = Proxy::start(None, Some(vpc_list)).await;
    let kubeconfig = proxy.kubeconfig(world.ns.name());
    let mut op = Operator::spawn(
        &world,
        "replica",
        LEASE,
        &["--kubeconfig", kubeconfig.to_str().unwrap()],
    );

    // The list is held; the replica leads (it holds the Lease) but is not ready.
    let deadline = Instant::now() + WAIT;
    while proxy.held().is_empty() {
        assert!(
            Instant::now() < deadline,
            "no Vpc list seen; log:\n{}",
            op.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let leases: Api<Lease> = world.ns.api();
    loop {
        let holder = leases
            .get_opt(LEASE)
            .await
            .unwrap()
            .and_then(|l| l.spec?.holder_identity);
        if holder.as_deref() == Some("replica") {
            break;
        }
        assert!(Instant::now() < deadline, "never led; log:\n{}", op.log_tail());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = loop {
        let answer = op.get("/readyz").await;
        if let Some((status, body)) = answer
            && body.starts_with("leading")
        {
            break (status, body);
        }
        assert!(
            Instant::now() < deadline,
            "never reported leading; log:\n{}",
            op.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 503, "ready although the Vpc cache has not listed: {body}");
    assert!(body.contains("caches not yet synced"), "{body}");
    // Still held, still not ready (the other caches have synced by now).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(op.get("/readyz").await.unwrap().0, 503);
    assert!(
        proxy.recorded().iter().all(|r| !vpc_list(r)),
        "the held list was answered"
    );

    proxy.release();
    let ready = op.wait_ready(WAIT).await;
    assert!(ready.starts_with("leading: controllers running"), "{ready}");
    assert!(proxy.recorded().iter().any(vpc_list), "the list went through");

    // (Graceful shutdown is covered by operator_takeover.rs, without a proxy in the way.)
    op.kill9();
    // The ProviderConfig carries this operator's finalizer: delete it while another replica leads.
    let mut cleaner = Operator::spawn(&world, "cleaner", LEASE, &[]);
    cleaner.wait_ready(WAIT).await;
    world.delete_provider_config().await;
    cleaner.terminate(Duration::from_secs(60));
    world.cleanup().await;
}
