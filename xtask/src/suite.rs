//! `cargo xtask test`: the project's one test command (README, `.ci/run`). It runs the phases in [`PHASES`]
//! in order — lints, unit/in-process tests, then everything that needs a Kubernetes API against ONE control
//! plane (started here, or the user's cluster with `--use-existing-cluster`) with the CRDs from crds/
//! installed — always tears the control plane down, prints one summary line per phase and reports failure
//! through its exit status. Adding a phase is one function plus one line in [`PHASES`].

use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Args;

use crate::control_plane::{self, ControlPlane};
use crate::process;

/// Flags of `cargo xtask test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Skip the lint phases (rustfmt, clippy).
    #[arg(long)]
    pub no_lint: bool,
    /// Run only the phases that need no Kubernetes API (lints and unit/in-process tests).
    #[arg(long, conflicts_with = "cluster_only")]
    pub unit_only: bool,
    /// Run only the phases that need a Kubernetes API.
    #[arg(long)]
    pub cluster_only: bool,
    /// Leave the control plane running afterwards (see `cargo xtask control-plane env|down`).
    #[arg(long, conflicts_with = "use_existing_cluster")]
    pub keep: bool,
    /// Run the cluster phases against the cluster of the current KUBECONFIG instead of starting a control
    /// plane. The CRDs from crds/ are applied to it.
    #[arg(long, env = "EDGEFLEET_TEST_USE_EXISTING")]
    pub use_existing_cluster: bool,
    /// Extra arguments for the test binaries (after `--`), e.g. a test name filter.
    #[arg(last = true)]
    pub test_args: Vec<String>,
}

/// Which kind of phase: decides which flags select it and whether it needs the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Lint,
    Unit,
    Cluster,
}

/// One step of the suite.
struct Phase {
    name: &'static str,
    stage: Stage,
    run: fn(&Context) -> Result<()>,
}

/// The phases, in order. Cluster phases run after the control plane is up and the CRDs are installed.
const PHASES: &[Phase] = &[
    Phase {
        name: "fmt",
        stage: Stage::Lint,
        run: fmt,
    },
    Phase {
        name: "clippy",
        stage: Stage::Lint,
        run: clippy,
    },
    Phase {
        name: "imports",
        stage: Stage::Lint,
        run: imports,
    },
    Phase {
        name: "sdk contract",
        stage: Stage::Unit,
        run: sdk_contract,
    },
    Phase {
        name: "unit tests",
        stage: Stage::Unit,
        run: unit_tests,
    },
    Phase {
        name: "cluster tests",
        stage: Stage::Cluster,
        run: cluster_tests,
    },
    Phase {
        name: "demo",
        stage: Stage::Cluster,
        run: demo,
    },
    Phase {
        name: "bench smoke",
        stage: Stage::Cluster,
        run: bench_smoke,
    },
    Phase {
        name: "chaos smoke",
        stage: Stage::Cluster,
        run: chaos_smoke,
    },
];

/// What a phase gets: where the repo is, how to call cargo, and the environment that points at the cluster.
pub struct Context {
    root: PathBuf,
    cargo: OsString,
    test_args: Vec<String>,
    cluster_env: Vec<(&'static str, OsString)>,
    kubectl: PathBuf,
}

impl Context {
    /// `cargo <args>` in the repository root. Unless the caller set `RUST_LIB_BACKTRACE`, error values
    /// (anyhow) returned by tests carry no backtrace even under `RUST_BACKTRACE=1`, which keeps failure output
    /// readable; panics still get theirs.
    fn cargo<'a>(&self, args: impl IntoIterator<Item = &'a str>) -> Command {
        let mut cmd = Command::new(&self.cargo);
        cmd.current_dir(&self.root).args(args);
        if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
            cmd.env("RUST_LIB_BACKTRACE", "0");
        }
        cmd
    }

    /// `cargo <args>` with the cluster environment (KUBECONFIG, PATH with kubectl, expected version).
    fn cluster_cargo<'a>(&self, args: impl IntoIterator<Item = &'a str>) -> Command {
        let mut cmd = self.cargo(args);
        cmd.envs(self.cluster_env.iter().map(|(k, v)| (k, v)));
        cmd
    }
}

fn fmt(ctx: &Context) -> Result<()> {
    process::run(&mut ctx.cargo(["fmt", "--all", "--", "--check"]))
}

fn clippy(ctx: &Context) -> Result<()> {
    process::run(&mut ctx.cargo(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))
}

/// No import circles among the modules of the checked crates ([`crate::imports`]; reads the sources,
/// builds nothing: well under a second).
fn imports(ctx: &Context) -> Result<()> {
    crate::imports::check(&ctx.root, crate::imports::CHECKED)
}

fn unit_tests(ctx: &Context) -> Result<()> {
    let mut cmd = ctx.cargo(["test", "--workspace", "--no-fail-fast"]);
    if !ctx.test_args.is_empty() {
        cmd.arg("--").args(&ctx.test_args);
    }
    // Unit tests must not reach a cluster by accident.
    cmd.env_remove("KUBECONFIG");
    process::run(&mut cmd)
}

/// `cargo xtask sdk-contract`: the emulator driven by the official SDKs (no Kubernetes needed), and the
/// SDK coverage table of docs/emulator.md checked against what the run measured.
fn sdk_contract(_ctx: &Context) -> Result<()> {
    crate::sdk_contract::run(&crate::sdk_contract::SdkArgs { write_docs: false })
}

/// Every `#[ignore = "needs cluster"]` test, several binaries at a time ([`crate::cluster_tests`]).
fn cluster_tests(ctx: &Context) -> Result<()> {
    // The GitOps health conformance test (tests/gitops_health.rs) runs Flux's kstatus through this binary.
    let kstatus = crate::kstatus::binary()?;
    let mut env: Vec<(String, OsString)> = ctx
        .cluster_env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    env.push(("EDGEFLEET_KSTATUS".to_owned(), kstatus.into_os_string()));
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        env.push(("RUST_LIB_BACKTRACE".to_owned(), "0".into()));
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| ctx.root.join("target"));
    let build = ctx.cluster_cargo(["test", "--workspace", "--no-run"]);
    crate::cluster_tests::run(build, &target_dir, &env, &ctx.test_args)
}

/// `cargo xtask demo --exit-when-ready` against the suite's cluster: the operator binary converges the
/// samples of every kind it has a controller for, then the samples are deleted and the emulator is checked
/// empty.
fn demo(ctx: &Context) -> Result<()> {
    let kubeconfig = ctx
        .cluster_env
        .iter()
        .find(|(k, _)| *k == "KUBECONFIG")
        .map(|(_, v)| PathBuf::from(v))
        .or_else(|| std::env::var_os("KUBECONFIG").map(PathBuf::from))
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".kube/config")))
        .context("no KUBECONFIG for the demo")?;
    let args = crate::demo::DemoArgs {
        exit_when_ready: true,
        timeout: 420,
        use_existing_cluster: true,
    };
    crate::demo::run_with(
        &args,
        Some(crate::demo::ExistingCluster {
            kubeconfig,
            kubectl: ctx.kubectl.clone(),
        }),
    )
}

/// `cargo xtask bench --smoke`, once per cloud with an emulator family and EdgeInstances (`--cloud iec`,
/// `--cloud veen`, `--cloud modelarts`, `--cloud luchen`, `--cloud workspace`): 200 EdgeInstances and
/// (where the cloud has them) an EdgeCloud of 5 (Workspace: four EdgeClouds of 5, no standalone instances)
/// on a fresh control plane of its own (the bench reads the
/// apiserver's global counters, which the other phases' leftovers would disturb), failing only when
/// something does not become Ready or the steady state writes or mutates.
fn bench_smoke(_ctx: &Context) -> Result<()> {
    for cloud in ["iec", "veen", "modelarts", "luchen", "workspace"] {
        crate::bench::run(&crate::bench::BenchArgs {
            use_existing_cluster: false,
            out_dir: None,
            smoke: true,
            driver_args: vec!["--cloud".into(), cloud.into()],
        })
        .with_context(|| format!("bench smoke on {cloud}"))?;
    }
    Ok(())
}

/// `cargo xtask chaos --smoke --cloud C` for each of [`crate::chaos::SMOKE_CLOUDS`]: seed 1, 10 rounds of
/// 5 mutations with emulator faults, the operator SIGKILLed once per round, on a fresh control plane of
/// its own (the campaign audits the whole cloud and namespace, which other phases' leftovers would
/// disturb); fails on any leak, duplicate or lost deletion.
fn chaos_smoke(_ctx: &Context) -> Result<()> {
    for cloud in crate::chaos::SMOKE_CLOUDS {
        let args = crate::chaos::ChaosArgs {
            cloud: (*cloud).to_owned(),
            ..crate::chaos::ChaosArgs::smoke()
        };
        crate::chaos::run(&args).with_context(|| format!("chaos smoke on {cloud}"))?;
    }
    Ok(())
}

/// How a phase ended.
enum Outcome {
    Pass(Duration),
    Fail(Duration, String),
    Skip(&'static str),
}

/// Runs the selected phases; returns whether everything passed.
pub fn run(args: &TestArgs) -> Result<bool> {
    let selected: Vec<&Phase> = PHASES
        .iter()
        .filter(|p| match p.stage {
            Stage::Lint => !args.no_lint && !args.cluster_only,
            Stage::Unit => !args.cluster_only,
            Stage::Cluster => !args.unit_only,
        })
        .collect();
    let mut ctx = Context {
        root: control_plane::repo_root(),
        cargo: std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
        test_args: args.test_args.clone(),
        cluster_env: Vec::new(),
        kubectl: PathBuf::from("kubectl"),
    };
    let mut results: Vec<(String, Outcome)> = Vec::new();

    for phase in selected.iter().filter(|p| p.stage != Stage::Cluster) {
        results.push((
            phase.name.to_string(),
            run_phase(phase.name, || (phase.run)(&ctx)),
        ));
    }

    let cluster_phases: Vec<&&Phase> = selected.iter().filter(|p| p.stage == Stage::Cluster).collect();
    if !cluster_phases.is_empty() {
        let mut cluster = None;
        let setup = run_phase("control plane", || {
            let (handle, env, kubectl) = start_cluster(args)?;
            cluster = Some(handle);
            ctx.cluster_env = env;
            ctx.kubectl = kubectl;
            Ok(())
        });
        let setup_ok = matches!(setup, Outcome::Pass(_));
        results.push(("control plane".into(), setup));
        let crds_ok = if setup_ok {
            let crds = run_phase("install crds", || install_crds(&ctx));
            let ok = matches!(crds, Outcome::Pass(_));
            results.push(("install crds".into(), crds));
            ok
        } else {
            false
        };
        for phase in cluster_phases {
            let outcome = if crds_ok {
                run_phase(phase.name, || (phase.run)(&ctx))
            } else {
                Outcome::Skip("the control plane or the CRDs could not be set up")
            };
            results.push((phase.name.to_string(), outcome));
        }
        if let Some(handle) = cluster {
            results.push((
                "teardown".into(),
                run_phase("teardown", || handle.finish(args.keep)),
            ));
        }
    }

    eprintln!("\n[xtask] summary:");
    let mut ok = true;
    for (name, outcome) in &results {
        match outcome {
            Outcome::Pass(d) => eprintln!("  PASS  {name:<16} {}", process::human(*d)),
            Outcome::Fail(d, why) => {
                ok = false;
                let first = why.lines().next().unwrap_or_default();
                eprintln!("  FAIL  {name:<16} {}  {first}", process::human(*d));
            }
            Outcome::Skip(why) => {
                ok = false;
                eprintln!("  SKIP  {name:<16} {why}");
            }
        }
    }
    Ok(ok)
}

fn run_phase(name: &str, f: impl FnOnce() -> Result<()>) -> Outcome {
    eprintln!("\n[xtask] ==> {name}");
    let started = Instant::now();
    match f() {
        Ok(()) => {
            eprintln!("[xtask] <== {name}: ok ({})", process::human(started.elapsed()));
            Outcome::Pass(started.elapsed())
        }
        Err(e) => {
            eprintln!("[xtask] <== {name}: FAILED: {e:#}");
            Outcome::Fail(started.elapsed(), format!("{e:#}"))
        }
    }
}

/// The cluster the cluster phases run against.
enum Cluster {
    /// Started by this run; torn down by [`Cluster::finish`] (or on drop, or by its watchdog).
    Owned(Box<ControlPlane>),
    /// The user's cluster (KUBECONFIG); left alone.
    Existing,
}

impl Cluster {
    fn finish(self, keep: bool) -> Result<()> {
        match self {
            Cluster::Owned(cp) if keep => {
                let state = cp.detach()?;
                eprintln!(
                    "[xtask] --keep: the control plane stays up at {}; eval \"$(cargo xtask control-plane env)\" \
                     to use it, `cargo xtask control-plane down` to stop it",
                    state.server
                );
                Ok(())
            }
            Cluster::Owned(cp) => cp.stop(),
            Cluster::Existing => Ok(()),
        }
    }
}

/// The cluster, the environment pointing at it, and the kubectl to use.
type ClusterSetup = (Cluster, Vec<(&'static str, OsString)>, PathBuf);

fn start_cluster(args: &TestArgs) -> Result<ClusterSetup> {
    if args.use_existing_cluster {
        let mut env = Vec::new();
        let kubectl = match control_plane::find_kubectl(None) {
            Some(kubectl) => {
                let dir =
                    control_plane::kubectl_path_dir(control_plane::bin_cache()?.join("path"), &kubectl)?;
                env.push(("PATH", control_plane::path_with(&dir)));
                kubectl
            }
            None => {
                eprintln!(
                    "[xtask] warning: no kubectl within one minor of {} found; using the one on PATH",
                    control_plane::K8S_VERSION
                );
                PathBuf::from("kubectl")
            }
        };
        eprintln!(
            "[xtask] using the existing cluster of KUBECONFIG={}",
            std::env::var("KUBECONFIG").unwrap_or_else(|_| "(unset: ~/.kube/config)".into())
        );
        return Ok((Cluster::Existing, env, kubectl));
    }
    let bins = control_plane::binaries()?;
    let cp = ControlPlane::start(&bins)?;
    let env = cp.state().env();
    let kubectl = cp.state().kubectl.clone();
    eprintln!(
        "[xtask] control plane {} at {}",
        cp.state().k8s_version,
        cp.state().server
    );
    Ok((Cluster::Owned(Box::new(cp)), env, kubectl))
}

/// Applies crds/ (server-side) and waits until every CRD is Established.
fn install_crds(ctx: &Context) -> Result<()> {
    let dir = ctx.root.join("crds");
    let count = fs::read_dir(&dir)
        .with_context(|| format!("failed to read {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .count();
    if count == 0 {
        bail!("{} has no CRD YAML files; run `cargo xtask crds`", dir.display());
    }
    let kubectl = |args: &[&str]| {
        let mut cmd = Command::new(&ctx.kubectl);
        cmd.current_dir(&ctx.root)
            .envs(ctx.cluster_env.iter().map(|(k, v)| (k, v)))
            .args(args);
        process::output(&mut cmd)
    };
    kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=edgefleet-xtask",
        "-f",
        "crds/",
    ])?;
    kubectl(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "-f",
        "crds/",
    ])?;
    eprintln!("[xtask] {count} CRD files applied and Established");
    Ok(())
}
