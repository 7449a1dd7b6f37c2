//! edgefleet-bench: the scale benchmark driver behind `cargo xtask bench` (docs/benchmarks.md).
//!
//! Against the control plane named by KUBECONFIG (xtask starts a fresh one), in one run:
//! 1. installs the CRDs and starts the emulator with zero delays (`cloud`);
//! 2. runs the physical-limit client (`baseline`) in its own namespace;
//! 3. creates the shared objects, starts `edgefleet run` as its own process (`operator`) and waits for them;
//! 4. creates N EdgeInstances (and M EdgeClouds of K replicas) and waits until all are Ready
//!    (`workload`), sampling the operator's RSS and CPU;
//! 5. watches a few poll intervals with nothing changing;
//! 6. reports Kubernetes writes from kube-apiserver's own counters (`apiserver`), cloud calls from the
//!    emulator's counters, and the targets, as markdown and JSON (`report`);
//! 7. removes its namespaces and ProviderConfigs from the cluster (`cleanup`; before the run too, for
//!    what an interrupted one left), unless told to keep them.
//!
//! A developer tool whose errors are printed, so `anyhow` with context on every step (as in xtask). The
//! pieces live in the `edgefleet_bench` library, which the crash-and-fault campaign (`edgefleet-chaos`)
//! shares.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use clap::Parser;
use edgefleet::api::edge_cloud::EdgeCloud;
use edgefleet::api::edge_instance::EdgeInstance;
use kube::Client;

use edgefleet_bench::apiserver::{self, Requests, is_lease, is_object_traffic};
use edgefleet_bench::baseline::{self, StatusWrite};
use edgefleet_bench::cleanup;
use edgefleet_bench::cloud::{CloudCalls, Emulator, EmulatorOptions};
use edgefleet_bench::operator::{Operator, OperatorOptions};
use edgefleet_bench::report::{self, Baseline, Convergence, Parameters, Report, Steady, Versions};
use edgefleet_bench::setup::{install_crds, interrupted};
use edgefleet_bench::workload::{self, Cloud, ROLE_LABEL, resource};

/// Namespace of the managed objects.
const NAMESPACE: &str = "bench";

/// Measures edgefleet at scale against a real control plane and the emulator.
#[derive(Debug, Parser)]
#[command(name = "edgefleet-bench")]
struct Args {
    /// The `edgefleet` binary (release build).
    #[arg(long)]
    operator_bin: PathBuf,
    /// The `edgefleet-emulator` binary.
    #[arg(long)]
    emulator_bin: PathBuf,
    /// The cloud the objects are created in (its emulator family; see `workload` for each cloud's shapes).
    #[arg(long, value_enum, default_value_t = Cloud::Iec)]
    cloud: Cloud,
    /// Standalone EdgeInstances.
    #[arg(long, default_value_t = 1000)]
    instances: usize,
    /// EdgeClouds.
    #[arg(long, default_value_t = 0)]
    fleets: usize,
    /// Replicas per EdgeCloud.
    #[arg(long, default_value_t = 3)]
    replicas: u32,
    /// `edgefleet run --concurrency`.
    #[arg(long, default_value_t = 64)]
    concurrency: u16,
    /// Requests in flight of the bench's writers.
    #[arg(long, default_value_t = 64)]
    writers: usize,
    /// The ProviderConfig's cloud rate budget, requests/s (1..=1000).
    #[arg(long, default_value_t = 1000)]
    qps: u32,
    /// Drift-detection interval of the operator, seconds.
    #[arg(long, default_value_t = 20)]
    poll_interval: u64,
    /// Poll intervals to observe in steady state.
    #[arg(long, default_value_t = 3)]
    steady_intervals: u32,
    /// Give up converging after this many seconds.
    #[arg(long, default_value_t = 1800)]
    timeout: u64,
    /// Directory for the report (`bench-<N>.json`, `bench-<N>.md`) and the process logs.
    #[arg(long)]
    out_dir: PathBuf,
    /// The functional check CI runs: 200 EdgeInstances and one EdgeCloud of 5 replicas (Workspace, which
    /// has no standalone instances: four EdgeClouds of 5), a 10 s poll interval and 2 steady intervals
    /// (these replace the options above). Fails when not everything
    /// becomes Ready or the steady state writes to Kubernetes or mutates the cloud; never on timing.
    #[arg(long)]
    smoke: bool,
    /// Leave the run's namespaces and ProviderConfig on the cluster afterwards (xtask passes it on a
    /// fresh control plane, which it tears down anyway). By default they are removed.
    #[arg(long)]
    keep_objects: bool,
}

impl Args {
    /// The smoke run's fixed workload (see `--smoke`).
    fn smoke(mut self) -> Self {
        self.instances = if self.cloud.has_instances() { 200 } else { 0 };
        self.fleets = match (self.cloud.has_instances(), self.cloud.has_fleets()) {
            (_, false) => 0,
            (true, true) => 1,
            (false, true) => 4,
        };
        self.replicas = 5;
        self.poll_interval = 10;
        self.steady_intervals = 2;
        self.timeout = 600;
        self
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let args = if args.smoke { args.smoke() } else { args };
    // A signal ends the run through the error path, so the operator and the emulator (killed when
    // their handles drop) do not outlive the driver.
    let outcome = tokio::select! {
        outcome = run(&args) => outcome,
        signal = interrupted() => Err(anyhow::anyhow!("interrupted by {signal}")),
    };
    // The operator and the emulator are gone by now (stopped, or killed with their handles).
    let cleaned = cleanup::after_run(args.keep_objects, &cleanup::namespaces(NAMESPACE)).await;
    if let Err(e) = &cleaned {
        eprintln!("bench cleanup failed: {e:#}");
    }
    match outcome {
        Ok(report) => {
            println!("{}", report.markdown());
            if cleaned.is_err() {
                return ExitCode::FAILURE;
            }
            let failures = report.functional_failures();
            if args.smoke && !failures.is_empty() {
                eprintln!("bench smoke failed: {}", failures.join("; "));
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<Report> {
    if args.fleets > 0 && !args.cloud.has_fleets() {
        anyhow::bail!(
            "--cloud {} has no EdgeClouds: use --fleets 0",
            args.cloud.as_str()
        );
    }
    if args.instances > 0 && !args.cloud.has_instances() {
        anyhow::bail!(
            "--cloud {} has no standalone EdgeInstances (only fleet members): use --instances 0 --fleets M",
            args.cloud.as_str()
        );
    }
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
    cleanup::remove_all(&cleanup::namespaces(NAMESPACE)).await?;
    let emulator =
        Emulator::start(&args.emulator_bin, &args.out_dir, &EmulatorOptions::zero_delays()).await?;
    eprintln!(
        "[bench] emulator at {} (IEC), {} (veEN), {} (Luchen), {} (ModelArts) and {} (Workspace); objects on {}",
        emulator.url,
        emulator.veen_url,
        emulator.luchen_url,
        emulator.modelarts_url,
        emulator.workspace_url,
        args.cloud.as_str()
    );

    let baseline = measure_baseline(&client, args).await?;
    eprintln!(
        "[bench] baseline: {} objects in {:.1} s",
        baseline.objects, baseline.seconds
    );

    workload::ensure_namespace(&client, NAMESPACE).await?;
    let endpoint = match args.cloud {
        Cloud::Iec => &emulator.url,
        Cloud::Veen => &emulator.veen_url,
        Cloud::Luchen => &emulator.luchen_url,
        Cloud::ModelArts => &emulator.modelarts_url,
        Cloud::Workspace => &emulator.workspace_url,
    };
    workload::create_shared(
        &client,
        NAMESPACE,
        args.cloud,
        endpoint,
        args.qps,
        args.fleets > 0,
    )
    .await?;
    let mut operator = Operator::start(&OperatorOptions {
        bin: &args.operator_bin,
        namespace: NAMESPACE,
        concurrency: args.concurrency,
        poll_interval: Duration::from_secs(args.poll_interval),
        work_dir: &args.out_dir,
        ..OperatorOptions::defaults(&args.operator_bin, &args.out_dir)
    })
    .await?;
    wait_shared(&client, args.cloud, args.fleets > 0).await?;
    eprintln!("[bench] operator up, shared objects Ready");

    let convergence = measure_convergence(&client, &emulator, &mut operator, args, &baseline).await?;
    eprintln!(
        "[bench] converged: {} objects in {:.1} s ({:.2}× baseline)",
        convergence.objects, convergence.seconds, convergence.ratio_to_baseline
    );
    let poll = Duration::from_secs(args.poll_interval);
    workload::wait_users_counted(&client, args.cloud, NAMESPACE, poll * 3).await?;
    let steady = measure_steady(&client, &emulator, &mut operator, args, convergence.objects).await?;
    operator.stop().await?;
    emulator.stop().await?;

    let mut report = Report {
        started_at,
        machine: report::machine(),
        versions: Versions {
            edgefleet: env!("CARGO_PKG_VERSION").into(),
            kubernetes,
        },
        parameters: Parameters {
            cloud: args.cloud.as_str().into(),
            instances: args.instances,
            fleets: args.fleets,
            replicas: args.replicas,
            operator_concurrency: args.concurrency,
            writer_concurrency: args.writers,
            cloud_qps: args.qps,
            poll_interval_s: args.poll_interval,
            steady_intervals: args.steady_intervals,
            emulator_latency: "0 ms (zero delays)".into(),
        },
        baseline,
        convergence,
        steady,
        targets: vec![],
    };
    report.check_targets();
    write_report(&report, args)?;
    Ok(report)
}

async fn measure_baseline(client: &Client, args: &Args) -> Result<Baseline> {
    let objects = args.instances + args.fleets * args.replicas as usize;
    for style in [StatusWrite::WarmUp, StatusWrite::Merge, StatusWrite::Apply] {
        workload::ensure_namespace(client, style.namespace()).await?;
    }
    baseline::run(client, objects.min(500), args.writers, StatusWrite::WarmUp).await?;
    let before = Requests::scrape(client).await?;
    let elapsed = baseline::run(client, objects, args.writers, StatusWrite::Merge).await?;
    let writes = Requests::scrape(client).await?.since(&before);
    let apply = baseline::run(client, objects, args.writers, StatusWrite::Apply).await?;
    let seconds = elapsed.as_secs_f64();
    Ok(Baseline {
        objects,
        seconds,
        objects_per_second: objects as f64 / seconds.max(1e-9),
        writes_per_object: writes.writes(apiserver::is_edgefleet) as f64 / objects.max(1) as f64,
        apply_status_seconds: apply.as_secs_f64(),
    })
}

async fn wait_shared(client: &Client, cloud: Cloud, fleets: bool) -> Result<()> {
    let timeout = Duration::from_secs(120);
    for (ar, name) in workload::shared_objects(cloud, fleets) {
        workload::wait_ready(client, &ar, NAMESPACE, name, timeout).await?;
    }
    Ok(())
}

async fn measure_convergence(
    client: &Client,
    emulator: &Emulator,
    operator: &mut Operator,
    args: &Args,
    baseline: &Baseline,
) -> Result<Convergence> {
    let timeout = Duration::from_secs(args.timeout);
    let kube_before = Requests::scrape(client).await?;
    let cloud_before = emulator.calls().await?;
    let cpu_before = operator.usage().cpu_seconds;
    let started = Instant::now();

    let instances: Vec<_> = (0..args.instances)
        .map(|i| workload::instance(args.cloud, NAMESPACE, i))
        .collect();
    let fleets: Vec<_> = (0..args.fleets)
        .map(|i| workload::fleet(args.cloud, NAMESPACE, i, args.replicas))
        .collect();
    let ei = resource::<EdgeInstance>();
    let ec = resource::<EdgeCloud>();
    let create = async {
        workload::create_all(client, &ei, NAMESPACE, instances, args.writers).await?;
        workload::create_all(client, &ec, NAMESPACE, fleets, args.writers).await
    };
    let instance_selector = format!("{ROLE_LABEL}=instance");
    let fleet_selector = format!("{ROLE_LABEL}=fleet");
    let wait_instances = workload::wait_all_ready(
        client,
        &ei,
        NAMESPACE,
        &instance_selector,
        args.instances,
        timeout,
    );
    let wait_fleets = workload::wait_all_ready(client, &ec, NAMESPACE, &fleet_selector, args.fleets, timeout);
    let members = args.fleets * args.replicas as usize;
    let wait_members = workload::wait_all_ready(
        client,
        &ei,
        NAMESPACE,
        edgefleet::api::EDGE_CLOUD_LABEL,
        members,
        timeout,
    );
    tokio::try_join!(create, wait_instances, wait_fleets, wait_members)?;
    let seconds = started.elapsed().as_secs_f64();
    operator.check_alive()?;

    let kube = Requests::scrape(client).await?.since(&kube_before);
    let cloud = CloudCalls::between(&cloud_before, &emulator.calls().await?);
    let usage = operator.usage();
    let objects = args.instances + members + args.fleets;
    let bench_creates = (args.instances + args.fleets) as u64;
    let operator_writes = kube.writes(is_object_traffic).saturating_sub(bench_creates);
    let per_object = |n: u64| n as f64 / objects.max(1) as f64;
    // The baseline wrote one object per managed instance; scale it to the same object count.
    let baseline_seconds = baseline.seconds * objects as f64 / baseline.objects.max(1) as f64;
    Ok(Convergence {
        objects,
        seconds,
        objects_per_second: objects as f64 / seconds.max(1e-9),
        ratio_to_baseline: seconds / baseline_seconds.max(1e-9),
        ratio_to_apply_baseline: seconds
            / (baseline.apply_status_seconds * objects as f64 / baseline.objects.max(1) as f64).max(1e-9),
        cloud_calls_per_object: per_object(cloud.requests),
        cloud_mutations_per_object: per_object(cloud.mutations),
        kube_writes_per_object: per_object(operator_writes),
        kube_writes: kube.write_breakdown(is_object_traffic),
        cloud_calls: cloud.by_operation,
        cpu_seconds: usage.cpu_seconds - cpu_before,
        peak_rss_mib: usage.peak_rss_mib,
    })
}

async fn measure_steady(
    client: &Client,
    emulator: &Emulator,
    operator: &mut Operator,
    args: &Args,
    objects: usize,
) -> Result<Steady> {
    // Let the last status writes and the first poll after convergence settle before counting.
    tokio::time::sleep(Duration::from_secs(args.poll_interval)).await;
    let kube_before = Requests::scrape(client).await?;
    let cloud_before = emulator.calls().await?;
    let cpu_before = operator.usage().cpu_seconds;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(
        args.poll_interval * u64::from(args.steady_intervals),
    ))
    .await;
    operator.check_alive()?;
    let seconds = started.elapsed().as_secs_f64();
    let kube = Requests::scrape(client).await?.since(&kube_before);
    let cloud = CloudCalls::between(&cloud_before, &emulator.calls().await?);
    let usage = operator.usage();
    let intervals = seconds / args.poll_interval.max(1) as f64;
    Ok(Steady {
        seconds,
        intervals,
        kube_object_writes: kube.writes(is_object_traffic),
        kube_writes: kube.write_breakdown(is_object_traffic),
        lease_writes: kube.writes(is_lease),
        cloud_mutations: cloud.mutations,
        cloud_reads: cloud.reads,
        cloud_reads_per_object_per_interval: cloud.reads as f64
            / (objects.max(1) as f64 * intervals.max(1e-9)),
        cloud_calls: cloud.by_operation,
        rss_mib: usage.rss_mib,
        peak_rss_mib: usage.peak_rss_mib,
        cpu_seconds: usage.cpu_seconds - cpu_before,
    })
}

fn write_report(report: &Report, args: &Args) -> Result<()> {
    let stem = match args.cloud {
        Cloud::Iec => args.out_dir.join(format!("bench-{}", args.instances)),
        Cloud::Veen => args.out_dir.join(format!("bench-veen-{}", args.instances)),
        Cloud::Luchen => args.out_dir.join(format!("bench-luchen-{}", args.instances)),
        Cloud::ModelArts => args.out_dir.join(format!("bench-modelarts-{}", args.instances)),
        Cloud::Workspace => args
            .out_dir
            .join(format!("bench-workspace-{}x{}", args.fleets, args.replicas)),
    };
    let json = stem.with_extension("json");
    std::fs::write(&json, serde_json::to_vec_pretty(report)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let md = stem.with_extension("md");
    std::fs::write(&md, report.markdown()).with_context(|| format!("writing {}", md.display()))?;
    eprintln!("[bench] report: {} and {}", json.display(), md.display());
    Ok(())
}
