//! Developer tasks behind `cargo xtask` (alias in .cargo/config.toml):
//! - `control-plane up|down|env|status`: a real kube-apiserver + etcd + kube-controller-manager on loopback
//!   for tests and the demo ([`control_plane`]);
//! - `test`: the project's test command — lints, unit tests, cluster tests against one control plane
//!   ([`suite`]);
//! - `bench`: the scale benchmark ([`bench`], driver in the `edgefleet-bench` crate);
//! - `chaos`: the crash-and-fault campaign ([`chaos`], driver `edgefleet-chaos` in the same crate);
//! - `demo`: control plane + emulator + operator, the samples applied and watched until Ready ([`demo`]);
//! - `sdk-contract [--write-docs]`: the emulator driven by the clouds' official SDKs (Go programs under
//!   sdk-contract/, built from the Go module proxy and cached) ([`sdk_contract`]);
//! - `crds`: regenerate crds/ from the Rust types;
//! - `kstatus`: build (once, cached) the kstatus conformance program and print its path ([`kstatus`]);
//! - `imports`: prove that the crates' modules import each other without circles ([`imports`]; also a lint
//!   phase of `test`);
//! - `chart render|check|helm`: the generated deploy/ files (install.yaml, chart CRDs, Argo CD config) and
//!   the pinned Helm ([`deploy`]).
//!
//! xtask is a developer binary whose errors are only ever printed, so it uses `anyhow` with context on
//! every step rather than typed errors. See docs/testing.md.

mod bench;
mod chaos;
mod cluster_tests;
mod control_plane;
mod demo;
mod deploy;
mod imports;
mod kstatus;
mod pki;
mod process;
mod sdk_contract;
mod suite;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::Result;
use clap::{Parser, Subcommand};

/// edgefleet developer tasks.
#[derive(Parser)]
#[command(name = "cargo xtask", about = "edgefleet developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Manage the local Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager).
    ControlPlane {
        #[command(subcommand)]
        action: ControlPlaneAction,
    },
    /// Run the test suite: fmt, clippy, unit tests, then cluster tests against one control plane.
    Test(suite::TestArgs),
    /// Scale benchmark: release operator + emulator + fresh control plane; see docs/benchmarks.md.
    Bench(bench::BenchArgs),
    /// Crash and fault safety: mutations, SIGKILLs of the operator, emulator faults, then an audit of the
    /// cloud against Kubernetes (leaks, duplicates, lost deletions); see docs/reliability.md.
    Chaos(chaos::ChaosArgs),
    /// Local control plane + emulator + operator; apply the samples and show them until Ready (Ctrl-C stops
    /// everything).
    Demo(demo::DemoArgs),
    /// Drive the emulator with the official SDKs (sdk-contract/) and check docs/emulator.md's coverage table.
    SdkContract(sdk_contract::SdkArgs),
    /// Regenerate crds/ from the Rust types (`edgefleet crds --out-dir crds`).
    Crds,
    /// Build (once, cached) the Go program that runs Flux's kstatus on objects (tests/kstatus) and print
    /// its path, for `EDGEFLEET_KSTATUS=$(cargo xtask kstatus) cargo test --test gitops_health -- --ignored`.
    Kstatus,
    /// Check that the modules of src/ and xtask/src import each other without circles.
    Imports,
    /// Render or check deploy/ (Helm chart CRDs, install.yaml, Argo CD config); run the pinned Helm.
    Chart {
        #[command(subcommand)]
        action: deploy::ChartAction,
    },
}

#[derive(Subcommand)]
enum ControlPlaneAction {
    /// Build (once, cached) and start a control plane that keeps running after this command.
    Up,
    /// Stop the control plane and delete its state directory.
    Down {
        /// Act on this state directory instead of the one `up` recorded.
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// Print `export` lines for `eval "$(cargo xtask control-plane env)"` (KUBECONFIG, PATH with kubectl).
    Env {
        /// Act on this state directory instead of the one `up` recorded.
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// Report each process and the API's readiness; exits non-zero unless all is well.
    Status {
        /// Act on this state directory instead of the one `up` recorded.
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// Internal: tears the control plane in STATE_DIR down when stdin closes without a `keep` line.
    #[command(hide = true)]
    Watchdog {
        #[arg(long)]
        state_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::ControlPlane { action } => match action {
            ControlPlaneAction::Up => control_plane::up(),
            ControlPlaneAction::Down { state_dir } => control_plane::down(state_dir.as_deref()),
            ControlPlaneAction::Env { state_dir } => control_plane::env(state_dir.as_deref()),
            ControlPlaneAction::Status { state_dir } => control_plane::status(state_dir.as_deref()),
            ControlPlaneAction::Watchdog { state_dir } => control_plane::watchdog(&state_dir),
        },
        Task::Test(args) => match suite::run(&args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
        Task::Bench(args) => bench::run(&args),
        Task::Chaos(args) => chaos::run(&args),
        Task::Demo(args) => demo::run(&args),
        Task::SdkContract(args) => sdk_contract::run(&args),
        Task::Crds => crds(),
        Task::Kstatus => kstatus::print_path(),
        Task::Imports => imports::check(&control_plane::repo_root(), imports::CHECKED),
        Task::Chart { action } => deploy::run(&action),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask crds`: runs the operator's own generator so crds/ always matches the Rust types.
fn crds() -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    process::run(Command::new(cargo).current_dir(control_plane::repo_root()).args([
        "run",
        "--quiet",
        "-p",
        "edgefleet",
        "--",
        "crds",
        "--out-dir",
        "crds",
    ]))
}
