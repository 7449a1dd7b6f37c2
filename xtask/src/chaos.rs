//! `cargo xtask chaos`: the crash-and-fault campaign (docs/reliability.md). Builds the operator, the
//! emulator and the drivers (release, or the dev profile with `--dev`/`--smoke`), starts a fresh control
//! plane, runs `edgefleet-chaos` against it and tears it down. The driver starts the emulator and the
//! operator(s) itself, applies the cloud family's workload, kills the operator once per round, and fails
//! (non-zero exit) on any leak, duplicate or lost deletion. `cargo xtask chaos --smoke` is the fixed-seed
//! run `cargo xtask test` keeps as a phase.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use crate::bench::{build, target_dir, utc_stamp};
use crate::control_plane;
use crate::process;

/// The cloud families `cargo xtask test` runs the smoke campaign on (each on a fresh control plane).
pub const SMOKE_CLOUDS: &[&str] = &["iec", "modelarts", "luchen", "workspace"];

/// `cargo xtask chaos` arguments.
#[derive(Debug, clap::Args)]
pub struct ChaosArgs {
    /// Cloud family whose workload runs (known: iec, veen, luchen, modelarts, workspace).
    #[arg(long, default_value = "iec")]
    pub cloud: String,
    /// Rounds; each applies --ops-per-round mutations, then SIGKILLs the operator (the leader) at a
    /// random delay and restarts it.
    #[arg(long, default_value_t = 10)]
    pub rounds: u32,
    /// Mutations per round: creates, scale up and down, spec changes that roll, deletes.
    #[arg(long, default_value_t = 10)]
    pub ops_per_round: u32,
    /// Seed of every random choice (mutations, delays, the emulator's fault decisions). Repeatable:
    /// the same seed gives the same mutations and delays.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Two operators with leader election (short Lease timings); the leader is killed.
    #[arg(long)]
    pub two_operators: bool,
    /// Emulator faults in the same run: 5xx, lost responses, throttling with Retry-After, slow builds,
    /// 5xx bursts.
    #[arg(long)]
    pub faults: bool,
    /// The kill comes uniformly within this many ms after a round's last mutation.
    #[arg(long, default_value_t = 4000)]
    pub max_kill_delay_ms: u64,
    /// Bound, in seconds, for convergence after the last round and for the final cleanup.
    #[arg(long, default_value_t = 600)]
    pub converge_timeout: u64,
    /// Build and run the dev-profile binaries (what the test phases built) instead of release.
    #[arg(long)]
    pub dev: bool,
    /// The CI check: seed 1, 10 rounds of 5 mutations, faults on, dev profile (replaces the options
    /// above). About three minutes.
    #[arg(long)]
    pub smoke: bool,
    /// Use the cluster named by KUBECONFIG instead of starting a fresh control plane.
    #[arg(long)]
    pub use_existing_cluster: bool,
    /// Where the report and the process logs go (default: target/chaos/<UTC time>).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
}

impl ChaosArgs {
    /// The smoke run (see `--smoke`).
    pub fn smoke() -> Self {
        Self {
            cloud: "iec".into(),
            rounds: 10,
            ops_per_round: 5,
            seed: 1,
            two_operators: false,
            faults: true,
            max_kill_delay_ms: 4000,
            converge_timeout: 300,
            dev: true,
            smoke: true,
            use_existing_cluster: false,
            out_dir: None,
        }
    }
}

/// Runs the campaign.
pub fn run(args: &ChaosArgs) -> Result<()> {
    let smoke;
    let args = if args.smoke {
        smoke = ChaosArgs {
            cloud: args.cloud.clone(),
            use_existing_cluster: args.use_existing_cluster,
            out_dir: args.out_dir.clone(),
            ..ChaosArgs::smoke()
        };
        &smoke
    } else {
        args
    };
    let root = control_plane::repo_root();
    build(&root, !args.dev)?;
    let bin = target_dir(&root).join(if args.dev { "debug" } else { "release" });
    let out_dir = match &args.out_dir {
        Some(dir) => dir.clone(),
        None => target_dir(&root).join("chaos").join(utc_stamp()?),
    };
    let mut driver = Command::new(bin.join("edgefleet-chaos"));
    driver
        .arg("--operator-bin")
        .arg(bin.join("edgefleet"))
        .arg("--emulator-bin")
        .arg(bin.join("edgefleet-emulator"))
        .arg("--out-dir")
        .arg(&out_dir)
        .args(["--cloud", &args.cloud])
        .args(["--rounds", &args.rounds.to_string()])
        .args(["--ops-per-round", &args.ops_per_round.to_string()])
        .args(["--seed", &args.seed.to_string()])
        .args(["--max-kill-delay-ms", &args.max_kill_delay_ms.to_string()])
        .args(["--converge-timeout", &args.converge_timeout.to_string()]);
    if args.two_operators {
        driver.arg("--two-operators");
    }
    if args.faults {
        driver.arg("--faults");
    }
    if args.use_existing_cluster {
        // The driver removes what an earlier run left before its run and its own objects after it.
        return process::run(&mut driver);
    }
    // The fresh control plane goes with the run: nothing to clean up on it.
    driver.arg("--keep-objects");
    control_plane::run_on_fresh(&mut driver, "chaos")
}
