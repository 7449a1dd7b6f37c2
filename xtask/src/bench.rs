//! `cargo xtask bench`: builds the operator, the emulator and the bench driver in release mode, starts a
//! fresh control plane (so the apiserver's counters and etcd hold only this run), runs
//! `edgefleet-bench` against it and tears it down. Every bench option after `--` (or any unknown flag)
//! goes to the driver: `cargo xtask bench --instances 10000 --fleets 10 --replicas 3`, `--cloud veen`, `--cloud luchen`, `--cloud modelarts`. See
//! docs/benchmarks.md for what is measured and how. `cargo xtask bench --smoke` is the functional check
//! `cargo xtask test` runs as its last phase (dev-profile binaries; fails only on functional problems).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::control_plane;
use crate::process;

/// `cargo xtask bench` arguments.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Use the cluster named by KUBECONFIG instead of starting a fresh control plane.
    #[arg(long)]
    pub use_existing_cluster: bool,
    /// Where the report and the process logs go (default: target/bench/<UTC time>).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// The functional check of CI (driver `--smoke`: 200 EdgeInstances + one EdgeCloud of 5, fails only
    /// when something is not Ready or the steady state writes or mutates). Built in the dev profile,
    /// which the test phases have already built: timing is not judged.
    #[arg(long)]
    pub smoke: bool,
    /// Options for the driver (`--cloud iec|veen|luchen|modelarts|workspace`, `--instances N`, `--fleets M`, `--replicas K`, `--poll-interval S`,
    /// `--steady-intervals I`, `--concurrency C`, `--writers W`, `--qps Q`, `--timeout S`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub driver_args: Vec<OsString>,
}

/// Runs the benchmark.
pub fn run(args: &BenchArgs) -> Result<()> {
    let root = control_plane::repo_root();
    build(&root, !args.smoke)?;
    let release = target_dir(&root).join(if args.smoke { "debug" } else { "release" });
    let out_dir = match &args.out_dir {
        Some(dir) => dir.clone(),
        None => target_dir(&root).join("bench").join(utc_stamp()?),
    };
    let mut driver = Command::new(release.join("edgefleet-bench"));
    driver
        .arg("--operator-bin")
        .arg(release.join("edgefleet"))
        .arg("--emulator-bin")
        .arg(release.join("edgefleet-emulator"))
        .arg("--out-dir")
        .arg(&out_dir)
        .args(&args.driver_args);
    if args.smoke {
        driver.arg("--smoke");
    }
    if args.use_existing_cluster {
        return process::run(&mut driver);
    }
    // The fresh control plane goes with the run: nothing to clean up on it.
    driver.arg("--keep-objects");
    control_plane::run_on_fresh(&mut driver, "bench")
}

pub(crate) fn build(root: &std::path::Path, release: bool) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).arg("build");
    if release {
        cmd.arg("--release");
    }
    cmd.args([
        "-p",
        "edgefleet",
        "-p",
        "edgefleet-emulator",
        "-p",
        "edgefleet-bench",
    ]);
    process::run(&mut cmd).context("building the operator, the emulator and the bench driver")
}

pub(crate) fn target_dir(root: &std::path::Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

pub(crate) fn utc_stamp() -> Result<String> {
    let out = process::output(Command::new("date").args(["-u", "+%Y%m%dT%H%M%SZ"]))?;
    let stamp = out.trim().to_string();
    if stamp.is_empty() {
        bail!("`date` printed nothing");
    }
    Ok(stamp)
}
