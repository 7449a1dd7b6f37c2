//! The crash-and-fault campaign behind `cargo xtask chaos` (docs/reliability.md).
//!
//! Against the control plane named by KUBECONFIG (xtask starts a fresh one), in one run:
//! 0. removes what an interrupted run left (the `chaos` namespace, the bench ProviderConfigs:
//!    [`crate::cleanup`]; the binary removes them again after the run unless `--keep-objects`);
//! 1. installs the CRDs, starts the emulator with its own transition delays and a per-call latency
//!    ([`crate::cloud`]), creates the shared objects and starts `edgefleet run` as a child process — one,
//!    without leader election, or two with a short-timed Lease (`--two-operators`);
//! 2. applies the cloud family's first objects ([`family::CloudWorkload::initial`]) and waits for them;
//! 3. with `--faults`, turns on the family's emulator faults (lost responses, 5xx, throttling with
//!    Retry-After, slow builds) and, in some rounds, a burst of 5xx on every call;
//! 4. for each of `--rounds` rounds: applies `--ops-per-round` random mutations (seeded by `--seed`),
//!    waits a random delay, SIGKILLs the operator (the leader), records the step the kill interrupted
//!    in every object ([`audit::steps_at_kill`]) and restarts it;
//! 5. waits (bounded) for convergence, audits the cloud against Kubernetes ([`audit::audit`]: leaks,
//!    duplicates, lost deletions) and counts the requests sent before a Retry-After;
//! 6. deletes everything and checks that the cloud is empty;
//! 7. reports as markdown and JSON ([`report`]); the binary exits non-zero on any leak, duplicate or
//!    lost deletion.
//!
//! A cloud family plugs in by implementing [`family::CloudWorkload`] (IEC: [`iec`], veEN: [`veen`],
//! Luchen and ModelArts: [`standalone`], Workspace: [`workspace`]).

pub mod audit;
pub mod family;
pub mod iec;
pub mod report;
pub mod standalone;
pub mod veen;
pub mod workspace;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use edgefleet_emulator::core::faults::{Faults, LatencyFault};
use edgefleet_emulator::core::retry_after::RetryAfterReport;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, TypeMeta};

use self::audit::{audit, steps_at_kill};
use self::family::{CloudWorkload, Key, Model, Mutation, Rng, workload_for};
use self::report::{ChaosReport, Cleanup, Convergence, Kill, Parameters, RetryAfter};
use crate::cleanup;
use crate::cloud::{Emulator, EmulatorOptions};
use crate::operator::{LeaderElection, Operator, OperatorOptions};
use crate::report::{Versions, machine};
use crate::setup::install_crds;
use crate::workload::{self, is_ready};

/// Namespace of the campaign's objects (and the operators' Lease).
pub const NAMESPACE: &str = "chaos";
/// The operators' Lease in `--two-operators` mode.
const LEASE: &str = "edgefleet-chaos";
/// Grace after a 429 for requests already in flight when it was sent.
const RETRY_AFTER_GRACE_MS: u64 = 250;
/// Latency of every emulator call: fixed + uniform jitter, ms.
const LATENCY_MS: (u64, u64) = (15, 25);
/// Share of rounds with a burst of 5xx on every call (under `--faults`).
const BURST_SHARE: f64 = 0.15;

/// Measures crash and fault safety: mutations, SIGKILLs of the operator, emulator faults, then an
/// audit of the cloud against Kubernetes.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "edgefleet-chaos")]
pub struct ChaosArgs {
    /// The `edgefleet` binary.
    #[arg(long)]
    pub operator_bin: PathBuf,
    /// The `edgefleet-emulator` binary.
    #[arg(long)]
    pub emulator_bin: PathBuf,
    /// Directory for the report (`chaos-<seed>.json`, `chaos-<seed>.md`) and the process logs.
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Cloud family whose workload runs (known: iec, veen, luchen, modelarts, workspace).
    #[arg(long, default_value = "iec")]
    pub cloud: String,
    /// Rounds; each applies --ops-per-round mutations and ends with one kill.
    #[arg(long, default_value_t = 10)]
    pub rounds: u32,
    /// Mutations per round (at least 1).
    #[arg(long, default_value_t = 10)]
    pub ops_per_round: u32,
    /// Seed of every random choice of the driver and of the emulator's faults (same seed, same
    /// mutations, delays and fault decisions; timing still varies).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run two operators with leader election (Lease timings 4 s / 3 s / 1 s) and kill the leader.
    #[arg(long)]
    pub two_operators: bool,
    /// Turn on emulator faults: 3 % 503s, 10 % lost responses of mutations, throttling at 25
    /// requests/s with Retry-After 1 s, 12 s builds of every tenth instance, and 5xx bursts in some rounds.
    #[arg(long)]
    pub faults: bool,
    /// The kill comes uniformly within this many ms after a round's last mutation.
    #[arg(long, default_value_t = 4000)]
    pub max_kill_delay_ms: u64,
    /// Bound, in seconds, for convergence after the last round and for the final cleanup.
    #[arg(long, default_value_t = 600)]
    pub converge_timeout: u64,
    /// `edgefleet run --concurrency`.
    #[arg(long, default_value_t = 8)]
    pub concurrency: u16,
    /// Leave the `chaos` namespace and the ProviderConfig on the cluster afterwards (xtask passes it on
    /// a fresh control plane, which it tears down anyway). By default they are removed, so a second
    /// run on the same cluster starts clean.
    #[arg(long)]
    pub keep_objects: bool,
}

impl ChaosArgs {
    /// Checks the options; the error names the flag.
    pub fn validate(&self) -> Result<()> {
        if self.ops_per_round == 0 {
            bail!("--ops-per-round must be at least 1");
        }
        if self.max_kill_delay_ms == 0 {
            bail!("--max-kill-delay-ms must be at least 1");
        }
        if self.converge_timeout == 0 {
            bail!("--converge-timeout must be at least 1 second");
        }
        if self.concurrency == 0 {
            bail!("--concurrency must be at least 1");
        }
        workload_for(&self.cloud).map(|_| ())
    }
}

/// The namespaces a run creates (and [`crate::cleanup`] removes): [`NAMESPACE`].
pub fn namespaces() -> Vec<String> {
    vec![NAMESPACE.to_owned()]
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The operator processes: one, or two sharing a Lease; each restart is a new incarnation with its
/// own log.
struct Operators<'a> {
    args: &'a ChaosArgs,
    slots: Vec<Option<Operator>>,
    incarnations: Vec<u32>,
    identities: Vec<String>,
}

impl<'a> Operators<'a> {
    async fn start(args: &'a ChaosArgs) -> Result<Self> {
        let count = if args.two_operators { 2 } else { 1 };
        let mut ops = Self {
            args,
            slots: (0..count).map(|_| None).collect(),
            incarnations: vec![0; count],
            identities: vec![String::new(); count],
        };
        for slot in 0..count {
            ops.start_slot(slot).await?;
        }
        Ok(ops)
    }

    fn name(&self, slot: usize) -> String {
        format!("operator-{slot}#{}", self.incarnations[slot])
    }

    /// Each incarnation has an identity of its own, as a restarted pod has a new name: a process
    /// restarted under its predecessor's identity would simply resume its Lease, and no takeover would
    /// happen.
    async fn start_slot(&mut self, slot: usize) -> Result<()> {
        self.incarnations[slot] += 1;
        let log_name = format!("operator-{slot}-{:03}.log", self.incarnations[slot]);
        self.identities[slot] = format!("chaos-operator-{slot}-{}", self.incarnations[slot]);
        let identity = self.identities[slot].clone();
        let leader_election = self.args.two_operators.then_some(LeaderElection {
            namespace: NAMESPACE,
            lease: LEASE,
            identity: &identity,
            lease_duration: Duration::from_secs(4),
            renew_deadline: Duration::from_secs(3),
            retry_period: Duration::from_secs(1),
        });
        let operator = Operator::start(&OperatorOptions {
            namespace: NAMESPACE,
            concurrency: self.args.concurrency,
            poll_interval: Duration::from_secs(10),
            log_name: &log_name,
            log_filter: "info",
            leader_election,
            ..OperatorOptions::defaults(&self.args.operator_bin, &self.args.out_dir)
        })
        .await?;
        self.slots[slot] = Some(operator);
        Ok(())
    }

    /// The slot whose running process holds the Lease, waiting up to 10 s for one (a takeover takes up
    /// to the lease duration); `None` when none does by then. Always 0 with one operator.
    async fn wait_leader(&self, client: &Client) -> Result<Option<usize>> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let leader = self.leader(client).await?;
            if leader.is_some() || Instant::now() >= deadline {
                return Ok(leader);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The slot holding the Lease (always 0 with one operator); `None` while nobody holds it.
    async fn leader(&self, client: &Client) -> Result<Option<usize>> {
        if !self.args.two_operators {
            return Ok(Some(0));
        }
        let leases: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
        let lease = leases
            .get_opt(LEASE)
            .await
            .context("reading the operators' Lease")?;
        let holder = lease
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity)
            .unwrap_or_default();
        Ok(self.identities.iter().position(|i| *i == holder))
    }

    /// SIGKILLs one slot and waits for the process to be gone.
    async fn kill(&mut self, slot: usize) -> Result<()> {
        if let Some(op) = self.slots.get_mut(slot).and_then(Option::take) {
            op.stop().await?;
        }
        Ok(())
    }

    /// Fails if a running operator has exited by itself.
    fn check_alive(&mut self) -> Result<()> {
        for (slot, op) in self.slots.iter_mut().enumerate() {
            if let Some(op) = op {
                op.check_alive()
                    .with_context(|| format!("operator slot {slot} (see its log in the out dir)"))?;
            }
        }
        Ok(())
    }

    async fn stop_all(&mut self) -> Result<()> {
        for slot in 0..self.slots.len() {
            self.kill(slot).await?;
        }
        Ok(())
    }
}

/// Lists every object of the workload's kinds in the namespace (with their type set).
async fn list_all(client: &Client, kinds: &[ApiResource]) -> Result<Vec<DynamicObject>> {
    let mut all = Vec::new();
    for ar in kinds {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, ar);
        let list = api
            .list(&ListParams::default())
            .await
            .with_context(|| format!("listing {}", ar.plural))?;
        all.extend(list.items.into_iter().map(|o| typed(o, ar)));
    }
    Ok(all)
}

/// The object with its type set (lists and creates return objects without it).
fn typed(mut object: DynamicObject, ar: &ApiResource) -> DynamicObject {
    object.types = Some(TypeMeta {
        api_version: ar.api_version.clone(),
        kind: ar.kind.clone(),
    });
    object
}

fn resource_of(kinds: &[ApiResource], kind: &str) -> Result<ApiResource> {
    kinds
        .iter()
        .find(|ar| ar.kind == kind)
        .cloned()
        .with_context(|| format!("the workload used kind {kind}, which it does not list"))
}

/// Applies one mutation to the cluster and, once accepted, to the model.
async fn apply(client: &Client, kinds: &[ApiResource], model: &mut Model, mutation: &Mutation) -> Result<()> {
    match mutation {
        Mutation::Create(body) => {
            let ar = resource_of(kinds, body["kind"].as_str().unwrap_or_default())?;
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, &ar);
            let object: DynamicObject = serde_json::from_value(body.clone()).context("building an object")?;
            let created = api
                .create(&PostParams::default(), &object)
                .await
                .with_context(|| {
                    format!(
                        "creating {} {}",
                        ar.kind,
                        object.metadata.name.clone().unwrap_or_default()
                    )
                })?;
            model.learn(&[typed(created, &ar)]);
        }
        Mutation::Patch { key, patch, .. } => {
            let ar = resource_of(kinds, &key.kind)?;
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, &ar);
            api.patch(&key.name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .with_context(|| format!("patching {key}"))?;
        }
        Mutation::Delete(key) => {
            let ar = resource_of(kinds, &key.kind)?;
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, &ar);
            match api.delete(&key.name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e).with_context(|| format!("deleting {key}")),
            }
        }
    }
    model.apply(mutation)
}

fn ready_reason(object: &DynamicObject) -> String {
    object.data["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .map(|c| {
            format!(
                "{} {}: {}",
                c["status"].as_str().unwrap_or("?"),
                c["reason"].as_str().unwrap_or("?"),
                c["message"].as_str().unwrap_or("")
            )
        })
        .unwrap_or_else(|| "no Ready condition".into())
}

/// What still keeps the namespace from having converged (empty: converged): objects not Ready for
/// their generation, fleets without their replicas, objects being deleted, deleted objects present,
/// intended objects missing.
fn unconverged(workload: &dyn CloudWorkload, model: &Model, objects: &[DynamicObject]) -> Vec<String> {
    let mut out = Vec::new();
    let mut present = std::collections::BTreeSet::new();
    for o in objects {
        let Some(key) = Key::of(o) else { continue };
        present.insert(key.clone());
        if model.deleted.contains(&key) {
            out.push(format!("{key} deleted but still present"));
        } else if o.metadata.deletion_timestamp.is_some() {
            out.push(format!("{key} being deleted"));
        } else if !is_ready(o) {
            out.push(format!("{key} not Ready ({})", ready_reason(o)));
        } else if let Some(replicas) = workload.fleet_replicas(o) {
            let status = &o.data["status"];
            let ready = status["readyReplicas"].as_u64().unwrap_or(0);
            let current = status["replicas"].as_u64().unwrap_or(0);
            if ready != replicas || current != replicas {
                out.push(format!(
                    "{key}: {current} members, {ready} Ready, {replicas} wanted"
                ));
            }
        }
    }
    for key in model.alive.keys() {
        if !present.contains(key) {
            out.push(format!("{key} missing from Kubernetes"));
        }
    }
    out
}

/// Waits until [`unconverged`] is empty, or `timeout`; returns the last list (empty when converged).
async fn wait_converged(
    client: &Client,
    workload: &dyn CloudWorkload,
    model: &Model,
    operators: &mut Operators<'_>,
    timeout: Duration,
) -> Result<Vec<String>> {
    let deadline = Instant::now() + timeout;
    loop {
        let objects = list_all(client, &workload.kinds()).await?;
        let pending = unconverged(workload, model, &objects);
        if pending.is_empty() || Instant::now() >= deadline {
            return Ok(pending);
        }
        operators.check_alive()?;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Runs the campaign.
pub async fn run(args: &ChaosArgs) -> Result<ChaosReport> {
    args.validate()?;
    let workload = workload_for(&args.cloud)?;
    let workload = workload.as_ref();
    let kinds = workload.kinds();
    std::fs::create_dir_all(&args.out_dir).with_context(|| format!("creating {}", args.out_dir.display()))?;
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let client = Client::try_default()
        .await
        .context("connecting to the control plane (KUBECONFIG)")?;
    let kubernetes = client
        .apiserver_version()
        .await
        .context("reading /version")?
        .git_version;
    install_crds(&client).await?;
    // What an interrupted run left would fail this one's creates.
    cleanup::remove_all(&namespaces()).await?;

    let base_faults = Faults {
        seed: args.seed,
        latency: vec![LatencyFault {
            operation: "*".into(),
            fixed_ms: LATENCY_MS.0,
            jitter_ms: LATENCY_MS.1,
        }],
        ..Faults::default()
    };
    let emulator = Emulator::start(
        &args.emulator_bin,
        &args.out_dir,
        &EmulatorOptions {
            zero_delays: false,
            faults: base_faults.clone(),
        },
    )
    .await?;
    let endpoint = match workload.cloud() {
        workload::Cloud::Iec => &emulator.url,
        workload::Cloud::Veen => &emulator.veen_url,
        workload::Cloud::Luchen => &emulator.luchen_url,
        workload::Cloud::ModelArts => &emulator.modelarts_url,
        workload::Cloud::Workspace => &emulator.workspace_url,
    };
    eprintln!("[chaos] emulator at {endpoint}");
    workload::ensure_namespace(&client, NAMESPACE).await?;
    workload::create_shared(&client, NAMESPACE, workload.cloud(), endpoint, 100, true).await?;
    let secret = ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&());
    for body in workload.shared(NAMESPACE) {
        workload::create_dynamic(&client, &secret, Some(NAMESPACE), body).await?;
    }
    let mut operators = Operators::start(args).await?;
    let mut model = Model::default();
    let mut rng = Rng::new(args.seed);
    for m in workload.initial(&mut model, NAMESPACE) {
        apply(&client, &kinds, &mut model, &m).await?;
    }
    let timeout = Duration::from_secs(args.converge_timeout);
    let pending = wait_converged(&client, workload, &model, &mut operators, timeout).await?;
    if !pending.is_empty() {
        bail!("the first objects did not converge within {timeout:?}: {pending:?}");
    }
    eprintln!("[chaos] first objects Ready; {} rounds", args.rounds);

    let faults = args.faults.then(|| workload.faults(&base_faults, args.seed));
    if let Some(f) = &faults {
        emulator.set_faults(f).await?;
    }
    let mut operations: BTreeMap<String, u64> = BTreeMap::new();
    let mut kills = Vec::new();
    let mut kill_times = Vec::new();
    let rounds_started = Instant::now();
    let mut last_restart = Instant::now();
    for round in 1..=args.rounds {
        let burst = match &faults {
            Some(f) if rng.chance(BURST_SHARE) => {
                emulator.set_faults(&workload.burst(f)).await?;
                true
            }
            _ => false,
        };
        for _ in 0..args.ops_per_round {
            let m = workload.mutate(&mut model, NAMESPACE, &mut rng);
            apply(&client, &kinds, &mut model, &m).await?;
            *operations.entry(m.label()).or_insert(0) += 1;
            tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
        }
        let delay_ms = rng.below(args.max_kill_delay_ms);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        operators.check_alive()?;
        let (slot, leader) = match operators.wait_leader(&client).await? {
            Some(slot) => (slot, true),
            None => (rng.below(operators.slots.len() as u64) as usize, false),
        };
        let process = operators.name(slot);
        operators.kill(slot).await?;
        kill_times.push(epoch_ms());
        let at_s = rounds_started.elapsed().as_secs_f64();
        let objects = list_all(&client, &kinds).await?;
        model.learn(&objects);
        let inventory = workload.inventory(&emulator.state().await?, &model.owners);
        let steps = steps_at_kill(workload, &objects, &inventory);
        if burst && let Some(f) = &faults {
            emulator.set_faults(f).await?;
        }
        tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
        operators.start_slot(slot).await?;
        last_restart = Instant::now();
        eprintln!(
            "[chaos] round {round}/{}: killed {process} {delay_ms} ms after the last mutation{}; {} objects in flight",
            args.rounds,
            if burst { " (5xx burst)" } else { "" },
            steps
                .iter()
                .filter(|(s, _)| !s.ends_with("settled"))
                .map(|(_, n)| n)
                .sum::<usize>()
        );
        kills.push(Kill {
            round,
            at_s,
            delay_ms,
            process,
            leader,
            steps,
        });
    }

    eprintln!("[chaos] rounds done; waiting for convergence (at most {timeout:?})");
    let not_ready = wait_converged(&client, workload, &model, &mut operators, timeout).await?;
    let convergence = Convergence {
        converged: not_ready.is_empty(),
        seconds: last_restart.elapsed().as_secs_f64(),
        not_ready,
    };
    eprintln!(
        "[chaos] {} after {:.1} s",
        if convergence.converged {
            "converged"
        } else {
            "NOT converged"
        },
        convergence.seconds
    );
    let objects = list_all(&client, &kinds).await?;
    model.learn(&objects);
    let inventory = workload.inventory(&emulator.state().await?, &model.owners);
    let findings = audit(workload, &model, &objects, &inventory);
    let cleanup = delete_everything(&client, workload, &model, &emulator, &mut operators, timeout).await?;
    let retry_after = early_requests(&emulator, &kill_times).await?;
    let cloud_statuses = emulator
        .calls()
        .await?
        .operations
        .values()
        .flat_map(|c| c.statuses.iter())
        .fold(BTreeMap::new(), |mut acc, (status, n)| {
            *acc.entry(*status).or_insert(0) += n;
            acc
        });
    operators.stop_all().await?;
    emulator.stop().await?;

    let report = ChaosReport {
        started_at,
        machine: machine(),
        versions: Versions {
            edgefleet: env!("CARGO_PKG_VERSION").into(),
            kubernetes,
        },
        parameters: Parameters {
            cloud: workload.name().into(),
            seed: args.seed,
            rounds: args.rounds,
            ops_per_round: args.ops_per_round,
            two_operators: args.two_operators,
            faults: args.faults,
            max_kill_delay_ms: args.max_kill_delay_ms,
            converge_timeout_s: args.converge_timeout,
            emulator: format!(
                "default transition delays (instance build 3 s, delete 1 s), +{}–{} ms per call",
                LATENCY_MS.0,
                LATENCY_MS.0 + LATENCY_MS.1
            ),
            leader_election: if args.two_operators {
                "two, Lease 4 s / renew 3 s / retry 1 s, the leader killed".into()
            } else {
                "one, no leader election".into()
            },
        },
        operations,
        kills,
        convergence,
        audit: findings,
        retry_after,
        cleanup,
        cloud_statuses,
    };
    write_report(&report, args)?;
    Ok(report)
}

/// Reads the emulator's early requests and splits them by whether a kill came in between.
async fn early_requests(emulator: &Emulator, kill_times: &[u64]) -> Result<RetryAfter> {
    Ok(classify_early(&emulator.retry_after().await?, kill_times))
}

/// Early requests after the grace, split by whether a kill (at `kill_times`, epoch ms) came between
/// the 429 and the request.
fn classify_early(record: &RetryAfterReport, kill_times: &[u64]) -> RetryAfter {
    let mut out = RetryAfter {
        throttled: record.throttled,
        grace_ms: RETRY_AFTER_GRACE_MS,
        ..RetryAfter::default()
    };
    for e in record.early.iter().filter(|e| e.after_ms >= RETRY_AFTER_GRACE_MS) {
        let sent = e.at_ms.saturating_sub(e.after_ms);
        if kill_times.iter().any(|k| (sent..=e.at_ms).contains(k)) {
            out.early_after_kill += 1;
        } else {
            out.early_same_process += 1;
            if out.examples.len() < 20 {
                out.examples
                    .push(format!("{} +{}/{} ms", e.operation, e.after_ms, e.retry_after_ms));
            }
        }
    }
    out.early_same_process += record.unrecorded;
    out
}

/// Deletes every object of the workload's kinds, waits (bounded) until Kubernetes has none left, then
/// until the cloud is empty (its deletes are asynchronous; 60 s at most).
async fn delete_everything(
    client: &Client,
    workload: &dyn CloudWorkload,
    model: &Model,
    emulator: &Emulator,
    operators: &mut Operators<'_>,
    timeout: Duration,
) -> Result<Cleanup> {
    let started = Instant::now();
    let kinds = workload.kinds();
    for ar in &kinds {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, ar);
        api.delete_collection(&DeleteParams::background(), &ListParams::default())
            .await
            .with_context(|| format!("deleting every {}", ar.kind))?;
    }
    let deadline = Instant::now() + timeout;
    let mut stuck;
    loop {
        let objects = list_all(client, &kinds).await?;
        stuck = objects
            .iter()
            .filter_map(Key::of)
            .map(|k| k.to_string())
            .collect::<Vec<_>>();
        if stuck.is_empty() || Instant::now() >= deadline {
            break;
        }
        operators.check_alive()?;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cloud_deadline = Instant::now() + Duration::from_secs(60);
    let left = loop {
        let inventory = workload.inventory(&emulator.state().await?, &model.owners);
        if inventory.is_empty() || Instant::now() >= cloud_deadline {
            break inventory;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    Ok(Cleanup {
        seconds,
        stuck,
        left_in_cloud: left
            .iter()
            .map(|c| format!("{} {} ({}) for {}", c.kind, c.name, c.id, c.intent))
            .collect(),
    })
}

fn write_report(report: &ChaosReport, args: &ChaosArgs) -> Result<()> {
    let stem = args.out_dir.join(format!("chaos-{}", args.seed));
    let json = stem.with_extension("json");
    std::fs::write(&json, serde_json::to_vec_pretty(report)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let md = stem.with_extension("md");
    std::fs::write(&md, report.markdown()).with_context(|| format!("writing {}", md.display()))?;
    eprintln!("[chaos] report: {} and {}", json.display(), md.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgefleet_emulator::core::retry_after::EarlyRequest;

    fn early(at_ms: u64, after_ms: u64) -> EarlyRequest {
        EarlyRequest {
            account: "a".into(),
            operation: "GET /v1/vpcs".into(),
            at_ms,
            after_ms,
            retry_after_ms: 1000,
        }
    }

    #[test]
    fn early_requests_in_flight_or_after_a_kill_are_not_the_process_s_fault() {
        let record = RetryAfterReport {
            throttled: 3,
            early: vec![early(10_010, 10), early(10_600, 600), early(20_700, 700)],
            unrecorded: 0,
        };
        // A kill at 20_500 lies between the third request's 429 (20_000) and its arrival.
        let r = classify_early(&record, &[5_000, 20_500]);
        assert_eq!(r.throttled, 3);
        assert_eq!((r.early_same_process, r.early_after_kill), (1, 1), "{r:?}");
        assert_eq!(r.examples, ["GET /v1/vpcs +600/1000 ms"]);
    }
}
