//! edgefleet-chaos: the crash-and-fault campaign behind `cargo xtask chaos` (docs/reliability.md; the
//! driver is `edgefleet_bench::chaos`). Prints the report as markdown, writes it as JSON and markdown
//! to the out dir, and exits non-zero on any leak, duplicate or lost deletion. Before the run and after
//! it, whatever its outcome, removes the `chaos` namespace and the bench ProviderConfigs (unless
//! `--keep-objects`), so a second run on the same cluster starts clean.

use std::process::ExitCode;

use clap::Parser;
use edgefleet_bench::chaos::{self, ChaosArgs};
use edgefleet_bench::cleanup;
use edgefleet_bench::setup::interrupted;

#[tokio::main]
async fn main() -> ExitCode {
    let args = ChaosArgs::parse();
    let outcome = tokio::select! {
        outcome = chaos::run(&args) => outcome,
        signal = interrupted() => Err(anyhow::anyhow!("interrupted by {signal}")),
    };
    // The operators and the emulator are gone by now (stopped, or killed with their handles).
    let cleaned = cleanup::after_run(args.keep_objects, &chaos::namespaces()).await;
    if let Err(e) = &cleaned {
        eprintln!("chaos cleanup failed: {e:#}");
    }
    match outcome {
        Ok(report) => {
            println!("{}", report.markdown());
            if cleaned.is_err() {
                return ExitCode::FAILURE;
            }
            let failures = report.failures();
            if failures.is_empty() {
                return ExitCode::SUCCESS;
            }
            for failure in failures {
                eprintln!("chaos failed: {failure}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("chaos failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
