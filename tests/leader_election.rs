//! Leader election against a real kube-apiserver: one leader among two candidates, a partitioned leader
//! steps down before the standby takes over, a dead leader is replaced, a graceful release hands over at
//! once, and a leader whose Lease is changed or deleted by someone else steps down.
//!
//! Short timings (lease 5 s, renew deadline 2 s, retry 0.5 s) keep the tests quick; assertions are about
//! the order of events (a shared sequence), never about elapsed time. The overall timeouts only catch hangs.
//! Run with `cargo xtask test`, or against a running control plane:
//! `eval "$(cargo xtask control-plane env)" && cargo test --test leader_election -- --ignored`.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use edgefleet::operator::{ElectionOutcome, LeaderElector, LeaderState, LeaseConfig, Shutdown};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Client, Config};
use support::TestNamespace;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const LEASE: &str = "edgefleet-test";
/// Catches hangs only; every step normally takes a few seconds at most.
const TIMEOUT: Duration = Duration::from_secs(90);

fn config(namespace: &str, identity: &str) -> LeaseConfig {
    LeaseConfig::new(namespace, LEASE, identity).with_timings(
        Duration::from_secs(5),
        Duration::from_secs(2),
        Duration::from_millis(500),
    )
}

/// Events from all candidates, in the order they happened (the index is the shared sequence number).
#[derive(Clone)]
struct Log(watch::Sender<Vec<String>>);

impl Log {
    fn new() -> Self {
        Self(watch::Sender::new(Vec::new()))
    }

    fn record(&self, event: String) {
        self.0.send_modify(|events| events.push(event));
    }

    /// Wait for `event` and return its sequence number.
    async fn wait_for(&self, event: &str) -> usize {
        let mut receiver = self.0.subscribe();
        let found = tokio::time::timeout(
            TIMEOUT,
            receiver.wait_for(|events| events.iter().any(|e| e == event)),
        )
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {event:?}; log: {:?}", self.events()));
        drop(found);
        self.position(event).unwrap()
    }

    fn position(&self, event: &str) -> Option<usize> {
        self.0.borrow().iter().position(|e| e == event)
    }

    fn count(&self, prefix: &str) -> usize {
        self.0.borrow().iter().filter(|e| e.starts_with(prefix)).count()
    }

    fn events(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// A candidate running [`LeaderElector::run`] in a task; its controllers just log start and stop.
struct Candidate {
    state: watch::Receiver<LeaderState>,
    shutdown: Shutdown,
    task: JoinHandle<ElectionOutcome>,
}

fn spawn_candidate(client: Client, config: LeaseConfig, log: &Log) -> Candidate {
    let identity = config.identity.clone();
    let elector = LeaderElector::new(client, config).unwrap();
    let state = elector.subscribe();
    let shutdown = Shutdown::new();
    let log = log.clone();
    let task = tokio::spawn(elector.run(
        shutdown.clone(),
        Duration::from_secs(10),
        move |token| async move {
            log.record(format!("acquired {identity}"));
            let reason = token.stopped().await;
            assert!(!token.is_leading());
            log.record(format!("stopped {identity} {reason:?}"));
        },
    ));
    Candidate {
        state,
        shutdown,
        task,
    }
}

impl Candidate {
    async fn wait_state(&mut self, wanted: LeaderState) {
        let reached = matches!(
            tokio::time::timeout(TIMEOUT, self.state.wait_for(|state| *state == wanted)).await,
            Ok(Ok(_))
        );
        assert!(
            reached,
            "timed out waiting for {wanted:?}; now {:?}",
            *self.state.borrow()
        );
    }

    async fn outcome(self) -> ElectionOutcome {
        tokio::time::timeout(TIMEOUT, self.task)
            .await
            .expect("run must end")
            .unwrap()
    }
}

async fn lease(api: &Api<Lease>) -> Lease {
    api.get(LEASE).await.unwrap()
}

fn holder(lease: &Lease) -> Option<String> {
    lease.spec.as_ref().and_then(|spec| spec.holder_identity.clone())
}

fn transitions(lease: &Lease) -> i32 {
    lease
        .spec
        .as_ref()
        .and_then(|spec| spec.lease_transitions)
        .unwrap_or(0)
}

/// A TCP proxy to the apiserver that can be cut: after [`Proxy::cut`] every connection, open or new, is
/// held open but nothing is forwarded (requests hang, as in a network partition).
struct Proxy {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    _task: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = watch::Sender::new(false);
        let cut_signal = cut.subscribe();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let mut cut = cut_signal.clone();
                tokio::spawn(async move {
                    let already_cut = *cut.borrow();
                    if already_cut {
                        std::future::pending::<()>().await;
                    }
                    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let partitioned = async {
                        let _ = cut.wait_for(|cut| *cut).await;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => return,
                        () = partitioned => {}
                    }
                    // Hold both sockets open, forwarding nothing.
                    std::future::pending::<()>().await;
                });
            }
        });
        Self {
            addr,
            cut,
            _task: task,
        }
    }

    fn cut(&self) {
        self.cut.send_replace(true);
    }
}

/// A client that reaches the apiserver through `proxy` (same credentials and CA; TLS passes through).
async fn proxied_client(proxy: &Proxy) -> Client {
    let mut config = Config::infer().await.unwrap();
    let original = config.cluster_url.clone();
    config
        .tls_server_name
        .get_or_insert_with(|| original.host().unwrap_or("localhost").to_owned());
    config.cluster_url = format!("https://{}", proxy.addr).parse().unwrap();
    Client::try_from(config).unwrap()
}

async fn apiserver_addr() -> SocketAddr {
    let config = Config::infer().await.unwrap();
    let host = config.cluster_url.host().unwrap().trim_matches(['[', ']']);
    let port = config.cluster_url.port_u16().unwrap_or(443);
    tokio::net::lookup_host((host, port))
        .await
        .unwrap()
        .next()
        .unwrap()
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_partitioned_leader_stops_before_the_standby_takes_over() {
    let client = support::client().await.unwrap();
    let namespace = TestNamespace::new(&client, "leader-partition").await.unwrap();
    let api: Api<Lease> = namespace.api();
    let log = Log::new();

    let proxy = Proxy::start(apiserver_addr().await).await;
    let mut a = spawn_candidate(proxied_client(&proxy).await, config(namespace.name(), "a"), &log);
    log.wait_for("acquired a").await;
    a.wait_state(LeaderState::Leading).await;

    let mut b = spawn_candidate(client.clone(), config(namespace.name(), "b"), &log);
    b.wait_state(LeaderState::Standby {
        holder: Some("a".to_owned()),
    })
    .await;
    assert_eq!(log.count("acquired"), 1, "exactly one leader: {:?}", log.events());
    assert_eq!(holder(&lease(&api).await).as_deref(), Some("a"));

    // A can no longer reach the apiserver: its renewals hang until the renew deadline.
    proxy.cut();
    let lost = log.wait_for("stopped a LeadershipLost").await;
    let acquired = log.wait_for("acquired b").await;
    assert!(
        lost < acquired,
        "the old leader must stop before the new one starts: {:?}",
        log.events()
    );
    assert_eq!(a.outcome().await, ElectionOutcome::LeadershipLost);
    assert_eq!(*b.state.borrow(), LeaderState::Leading);
    let after = lease(&api).await;
    assert_eq!(holder(&after).as_deref(), Some("b"));
    assert_eq!(transitions(&after), 1);

    b.shutdown.trigger();
    assert_eq!(
        b.outcome().await,
        ElectionOutcome::ShutdownAfterLeading {
            drained: true,
            released: true
        }
    );
    namespace.cleanup().await.unwrap();
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_dead_leader_is_replaced_after_its_lease_expires() {
    let client = support::client().await.unwrap();
    let namespace = TestNamespace::new(&client, "leader-death").await.unwrap();
    let api: Api<Lease> = namespace.api();
    let log = Log::new();

    let a = spawn_candidate(client.clone(), config(namespace.name(), "a"), &log);
    log.wait_for("acquired a").await;
    let mut b = spawn_candidate(client.clone(), config(namespace.name(), "b"), &log);
    b.wait_state(LeaderState::Standby {
        holder: Some("a".to_owned()),
    })
    .await;
    assert_eq!(log.count("acquired"), 1, "exactly one leader: {:?}", log.events());

    // Death: the task is gone without releasing anything.
    log.record("killed a".to_owned());
    a.task.abort();
    let killed = log.position("killed a").unwrap();
    let acquired = log.wait_for("acquired b").await;
    assert!(killed < acquired, "{:?}", log.events());
    assert_eq!(log.count("acquired"), 2);
    let after = lease(&api).await;
    assert_eq!(holder(&after).as_deref(), Some("b"));
    assert_eq!(transitions(&after), 1);

    b.shutdown.trigger();
    b.outcome().await;
    namespace.cleanup().await.unwrap();
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_graceful_release_hands_over_without_waiting_for_expiry() {
    let client = support::client().await.unwrap();
    let namespace = TestNamespace::new(&client, "leader-release").await.unwrap();
    let api: Api<Lease> = namespace.api();
    let log = Log::new();
    // A lease far longer than TIMEOUT: b can only take over within the test if a really released it.
    let long = |identity: &str| {
        LeaseConfig::new(namespace.name(), LEASE, identity).with_timings(
            Duration::from_secs(600),
            Duration::from_secs(10),
            Duration::from_millis(500),
        )
    };

    let a = spawn_candidate(client.clone(), long("a"), &log);
    log.wait_for("acquired a").await;
    let mut b = spawn_candidate(client.clone(), long("b"), &log);
    b.wait_state(LeaderState::Standby {
        holder: Some("a".to_owned()),
    })
    .await;

    a.shutdown.trigger();
    let stopped = log.wait_for("stopped a Shutdown").await;
    assert_eq!(
        a.outcome().await,
        ElectionOutcome::ShutdownAfterLeading {
            drained: true,
            released: true
        }
    );
    let acquired = log.wait_for("acquired b").await;
    assert!(stopped < acquired, "{:?}", log.events());
    let after = lease(&api).await;
    assert_eq!(holder(&after).as_deref(), Some("b"));
    assert_eq!(transitions(&after), 1);

    b.shutdown.trigger();
    assert_eq!(
        b.outcome().await,
        ElectionOutcome::ShutdownAfterLeading {
            drained: true,
            released: true
        }
    );
    assert_eq!(holder(&lease(&api).await), None, "released on the way out");
    namespace.cleanup().await.unwrap();
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_leader_whose_lease_is_taken_out_of_band_steps_down() {
    let client = support::client().await.unwrap();
    let namespace = TestNamespace::new(&client, "leader-intruder").await.unwrap();
    let api: Api<Lease> = namespace.api();
    let log = Log::new();

    let a = spawn_candidate(client.clone(), config(namespace.name(), "a"), &log);
    log.wait_for("acquired a").await;

    // Someone else writes the lease (with its resourceVersion, retrying on conflict with a's renewals).
    log.record("intruder takes the lease".to_owned());
    let mut attempts = 0;
    loop {
        let mut current = lease(&api).await;
        if let Some(spec) = current.spec.as_mut() {
            spec.holder_identity = Some("intruder".to_owned());
        }
        match api.replace(LEASE, &PostParams::default(), &current).await {
            Ok(_) => break,
            Err(kube::Error::Api(status)) if status.is_conflict() && attempts < 20 => attempts += 1,
            Err(error) => panic!("failed to take the lease: {error}"),
        }
    }
    let taken = log.position("intruder takes the lease").unwrap();
    let stopped = log.wait_for("stopped a LeadershipLost").await;
    assert!(taken < stopped, "{:?}", log.events());
    assert_eq!(a.outcome().await, ElectionOutcome::LeadershipLost);
    assert_eq!(
        holder(&lease(&api).await).as_deref(),
        Some("intruder"),
        "the old leader never overwrites someone else's lease"
    );
    namespace.cleanup().await.unwrap();
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_leader_whose_lease_is_deleted_steps_down() {
    let client = support::client().await.unwrap();
    let namespace = TestNamespace::new(&client, "leader-deleted").await.unwrap();
    let api: Api<Lease> = namespace.api();
    let log = Log::new();

    let a = spawn_candidate(client.clone(), config(namespace.name(), "a"), &log);
    log.wait_for("acquired a").await;
    log.record("deleting the lease".to_owned());
    api.delete(LEASE, &DeleteParams::default()).await.unwrap();

    let deleted = log.position("deleting the lease").unwrap();
    let stopped = log.wait_for("stopped a LeadershipLost").await;
    assert!(deleted < stopped, "{:?}", log.events());
    assert_eq!(a.outcome().await, ElectionOutcome::LeadershipLost);
    assert!(
        api.get_opt(LEASE).await.unwrap().is_none(),
        "a stepped down instead of recreating the lease"
    );
    namespace.cleanup().await.unwrap();
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_standby_shuts_down_without_touching_the_lease() {
    let client = support::client().await.unwrap();
    let namespace = TestNamespace::new(&client, "leader-standby").await.unwrap();
    let api: Api<Lease> = namespace.api();
    let log = Log::new();

    let mut a = spawn_candidate(client.clone(), config(namespace.name(), "a"), &log);
    log.wait_for("acquired a").await;
    let mut b = spawn_candidate(client.clone(), config(namespace.name(), "b"), &log);
    b.wait_state(LeaderState::Standby {
        holder: Some("a".to_owned()),
    })
    .await;
    let before = lease(&api).await;

    b.shutdown.trigger();
    assert_eq!(b.outcome().await, ElectionOutcome::ShutdownAsStandby);
    a.wait_state(LeaderState::Leading).await;
    let after = lease(&api).await;
    assert_eq!(holder(&after), holder(&before));
    assert_eq!(log.count("acquired"), 1, "{:?}", log.events());

    a.shutdown.trigger();
    a.outcome().await;
    namespace.cleanup().await.unwrap();
}
