//! The `edgefleet` binary: `run` starts the operator, `crds` prints the CRDs, `controllers` lists the kinds
//! that have a controller.
//!
//! Each subcommand is one variant of [`Command`] plus one function; add new subcommands the same way.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "edgefleet",
    version,
    about = "Kubernetes operator for edge-cloud fleets"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator: every controller, leader election, and the /healthz /readyz /metrics server.
    Run(Box<RunArgs>),
    /// Print every edgefleet CRD as one YAML stream, or write one file per CRD with --out-dir.
    Crds(CrdsArgs),
    /// Print the kinds `run` starts a controller for, one per line (what `cargo xtask demo` waits for).
    Controllers,
}

/// Flags of `edgefleet run`.
#[derive(clap::Args)]
struct RunArgs {
    /// Kubeconfig to use instead of the in-cluster config / KUBECONFIG / ~/.kube/config.
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    #[command(flatten)]
    runtime: edgefleet::operator::RuntimeOptions,
    #[command(flatten)]
    logs: edgefleet::operator::LogOptions,
    #[command(flatten)]
    controllers: ControllerArgs,
}

/// Scope and timing of the controllers (`edgefleet run`).
#[derive(clap::Args)]
struct ControllerArgs {
    /// Only reconcile namespaced objects in this namespace (default: all namespaces).
    #[arg(long, env = "EDGEFLEET_WATCH_NAMESPACE")]
    watch_namespace: Option<String>,
    /// Only reconcile objects whose labels match this selector (ProviderConfigs included).
    #[arg(long, env = "EDGEFLEET_LABEL_SELECTOR")]
    label_selector: Option<String>,
    /// Reconciles running at once per controller.
    #[arg(long, default_value_t = 4, env = "EDGEFLEET_CONCURRENCY")]
    concurrency: u16,
    /// Override every ProviderConfig's drift-detection poll interval (e.g. `5m`).
    #[arg(long, value_parser = parse_interval, env = "EDGEFLEET_POLL_INTERVAL")]
    poll_interval: Option<std::time::Duration>,
    /// Override every ProviderConfig's poll interval for work in progress (e.g. `5s`).
    #[arg(long, value_parser = parse_interval, env = "EDGEFLEET_PENDING_POLL_INTERVAL")]
    pending_poll_interval: Option<std::time::Duration>,
}

fn parse_interval(value: &str) -> Result<std::time::Duration, String> {
    edgefleet::operator::parse_duration(value).map_err(|error| error.to_string())
}

#[derive(clap::Args)]
struct CrdsArgs {
    /// Write `<DIR>/<plural>.<group>.yaml` per CRD instead of printing to stdout.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(*args),
        Command::Crds(args) => crds(&args),
        Command::Controllers => controllers(),
    }
}

/// `edgefleet run`: telemetry → client → metrics registry → operator runtime (HTTP + leader election) →
/// controllers while leading. Exits non-zero when leadership is lost, so the Deployment restarts the pod.
fn run(args: RunArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the tokio runtime")?;
    let code = runtime.block_on(run_operator(args))?;
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

async fn run_operator(args: RunArgs) -> anyhow::Result<i32> {
    use edgefleet::controller::{Context, ControllerConfig, run_all_reporting};
    use edgefleet::operator::{Metrics, Operator, Readiness, Shutdown, listen_for_signals, telemetry};
    use edgefleet::provider::{ProviderMetrics, ProviderRegistry};
    use std::sync::Arc;

    telemetry::init(&args.logs).context("failed to set up logging")?;
    let client = kube_client(args.kubeconfig.as_deref()).await?;
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = Metrics::register(&mut registry);
    let providers = Arc::new(ProviderRegistry::new(ProviderMetrics::register(&mut registry)));
    let readiness = Readiness::new();
    let shutdown = Shutdown::new();
    let _signals = listen_for_signals(shutdown.clone()).context("failed to install signal handlers")?;

    let config = ControllerConfig {
        namespace: args.controllers.watch_namespace,
        label_selector: args.controllers.label_selector,
        concurrency: args.controllers.concurrency,
        poll_interval: args.controllers.poll_interval,
        pending_interval: args.controllers.pending_poll_interval,
        ..ControllerConfig::default()
    };
    let identity = std::env::var("POD_NAME").ok();
    let runtime_config = args
        .runtime
        .into_config(client.default_namespace())
        .context("invalid leader election settings")?;
    let operator = Operator::start(
        client.clone(),
        runtime_config,
        registry,
        metrics.clone(),
        readiness.clone(),
        shutdown,
    )
    .await
    .context("failed to start the operator runtime")?;
    tracing::info!(addr = %operator.http_addr(), "health and metrics server listening");
    let exit = operator
        .run(|token| {
            let ctx = Arc::new(Context::new(client, providers, metrics, config.clone(), identity));
            let ready = readiness.clone();
            async move {
                // /readyz of the leader turns 200 once every controller's cache has synced.
                run_all_reporting(
                    ctx,
                    config,
                    async move {
                        token.stopped().await;
                    },
                    {
                        let ready = ready.clone();
                        move || ready.set_controllers_ready(true)
                    },
                )
                .await;
                ready.set_controllers_ready(false);
            }
        })
        .await;
    Ok(exit.code())
}

/// The Kubernetes client: from `--kubeconfig` when given, else inferred (in-cluster, `KUBECONFIG`,
/// `~/.kube/config`).
async fn kube_client(kubeconfig: Option<&Path>) -> anyhow::Result<kube::Client> {
    let Some(path) = kubeconfig else {
        return kube::Client::try_default()
            .await
            .context("failed to build a Kubernetes client (in-cluster config or KUBECONFIG)");
    };
    let file = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("failed to read --kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
        .await
        .with_context(|| format!("invalid --kubeconfig {}", path.display()))?;
    kube::Client::try_from(config).context("failed to build a Kubernetes client from --kubeconfig")
}

/// `edgefleet controllers`: the kinds of [`edgefleet::controller::CONTROLLERS`], one per line.
fn controllers() -> anyhow::Result<()> {
    let mut text = String::new();
    for kind in edgefleet::controller::controlled_kinds() {
        text.push_str(kind);
        text.push('\n');
    }
    write_stdout(text.as_bytes()).context("failed to write to stdout")
}

/// Writes `bytes` to stdout. A reader that closed the pipe early (`| head`) has what it wanted: that
/// ends the output quietly, as for any Unix filter, instead of a panic (`print!`) or an error.
fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// `edgefleet crds`: renders [`edgefleet::api::all_crds`] as YAML.
fn crds(args: &CrdsArgs) -> anyhow::Result<()> {
    let crds = edgefleet::api::all_crds();
    match &args.out_dir {
        None => {
            let mut stream = String::new();
            for crd in &crds {
                stream.push_str("---\n");
                stream.push_str(&serde_yaml_ng::to_string(crd).context("failed to render a CRD as YAML")?);
            }
            write_stdout(stream.as_bytes()).context("failed to write the CRDs to stdout")
        }
        Some(dir) => write_crd_files(dir, &crds),
    }
}

fn write_crd_files(
    dir: &Path,
    crds: &[k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    for crd in crds {
        let name = crd
            .metadata
            .name
            .as_deref()
            .context("CRD without metadata.name")?;
        let path = dir.join(format!("{name}.yaml"));
        let yaml = serde_yaml_ng::to_string(crd).with_context(|| format!("failed to render CRD {name}"))?;
        std::fs::write(&path, yaml).with_context(|| format!("failed to write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
