//! The suite's cluster-test phase: every test binary of the workspace run with `--ignored` against the ONE
//! control plane, several binaries at a time.
//!
//! The cluster tests mostly wait (emulator delays, watches, polls), and every test already lives in its own
//! namespace with its own in-process emulator and label-scoped ProviderConfig, so binaries run side by side
//! without sharing objects. `cargo test` runs binaries one after another; this phase builds them once
//! (`cargo test --no-run`), lists each binary's ignored tests, and runs the binaries with the most tests
//! first on [`jobs`] workers. Each binary's output goes to `target/cluster-tests/<binary>.log`; a finished
//! binary prints one line, a failed one also the tail of its log. `EDGEFLEET_CLUSTER_TEST_JOBS=1` restores
//! one-at-a-time.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use crate::process;

/// Binaries run at once unless `EDGEFLEET_CLUSTER_TEST_JOBS` says otherwise.
const DEFAULT_JOBS: usize = 3;

/// Lines of a failed binary's log printed with its failure.
const FAILURE_TAIL: usize = 150;

/// One test binary with ignored (cluster) tests.
#[derive(Debug, Clone)]
struct Binary {
    /// The target name (`controller_vpc`, `veen_edge_cloud`, ...).
    name: String,
    /// The executable cargo built.
    path: PathBuf,
    /// Its package directory: `cargo test` runs a binary there.
    dir: PathBuf,
    /// How many ignored tests it has.
    tests: usize,
}

/// How one binary ended.
struct Finished {
    binary: Binary,
    ok: bool,
    log: PathBuf,
    took: std::time::Duration,
}

/// How many binaries run at once.
pub fn jobs() -> usize {
    std::env::var("EDGEFLEET_CLUSTER_TEST_JOBS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_JOBS)
}

/// Builds the workspace's test binaries with `build` (a `cargo test --no-run` command), then runs every
/// binary that has ignored tests with `--ignored` and `test_args`, in `env`, on [`jobs`] workers.
pub fn run(
    mut build: Command,
    target_dir: &Path,
    env: &[(String, OsString)],
    test_args: &[String],
) -> Result<()> {
    let binaries = built_binaries(&mut build)?;
    let mut with_tests = Vec::new();
    for b in binaries {
        let tests = ignored_tests(&b, env, test_args)?;
        if tests > 0 {
            with_tests.push(Binary { tests, ..b });
        }
    }
    // The binaries with the most tests take longest: start them first.
    with_tests.sort_by(|a, b| b.tests.cmp(&a.tests).then_with(|| a.name.cmp(&b.name)));
    let logs = target_dir.join("cluster-tests");
    fs::create_dir_all(&logs).with_context(|| format!("failed to create {}", logs.display()))?;
    let workers = jobs().min(with_tests.len().max(1));
    let total: usize = with_tests.iter().map(|b| b.tests).sum();
    eprintln!(
        "[xtask] {} cluster tests in {} binaries, {workers} at a time (logs in {})",
        total,
        with_tests.len(),
        logs.display()
    );
    let queue = Mutex::new(with_tests.into_iter().collect::<VecDeque<_>>());
    let finished = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(binary) = next(&queue) {
                    let done = run_binary(binary, &logs, env, test_args);
                    report(&done);
                    finished.lock().unwrap_or_else(|e| e.into_inner()).push(done);
                }
            });
        }
    });
    let finished = finished.into_inner().unwrap_or_else(|e| e.into_inner());
    let failed: Vec<&str> = finished
        .iter()
        .filter(|f| !f.ok)
        .map(|f| f.binary.name.as_str())
        .collect();
    if !failed.is_empty() {
        bail!("cluster tests failed in {}", failed.join(", "));
    }
    Ok(())
}

fn next(queue: &Mutex<VecDeque<Binary>>) -> Option<Binary> {
    queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
}

/// The test executables `build` produced (`--message-format=json` artifacts with `profile.test`).
fn built_binaries(build: &mut Command) -> Result<Vec<Binary>> {
    build.arg("--message-format=json-render-diagnostics");
    let out = build
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("failed to start `{}`", process::describe(build)))?;
    if !out.status.success() {
        bail!("`{}` failed ({})", process::describe(build), out.status);
    }
    let mut binaries = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let Some(b) = test_binary(&msg) {
            binaries.push(b);
        }
    }
    Ok(binaries)
}

/// A test executable out of one cargo JSON message.
fn test_binary(msg: &Value) -> Option<Binary> {
    if msg["reason"] != "compiler-artifact" || msg["profile"]["test"] != true {
        return None;
    }
    let path = PathBuf::from(msg["executable"].as_str()?);
    let dir = Path::new(msg["manifest_path"].as_str()?).parent()?.to_path_buf();
    let target = msg["target"]["name"].as_str()?;
    let kind = msg["target"]["kind"][0].as_str().unwrap_or("test");
    // Unit tests of a library and a binary of one package share the target name.
    let name = if kind == "test" {
        target.to_owned()
    } else {
        format!("{target} ({kind})")
    };
    Some(Binary {
        name,
        path,
        dir,
        tests: 0,
    })
}

/// How many ignored tests (matching `test_args`) the binary lists.
fn ignored_tests(b: &Binary, env: &[(String, OsString)], test_args: &[String]) -> Result<usize> {
    let mut cmd = Command::new(&b.path);
    cmd.current_dir(&b.dir)
        .args(["--ignored", "--list", "--format", "terse"])
        .args(test_args)
        .envs(env.iter().map(|(k, v)| (k, v)));
    let listing = process::output(&mut cmd)?;
    Ok(count_tests(&listing))
}

/// The tests in a `--list --format terse` listing (`name: test` lines; benches and headers are not).
fn count_tests(listing: &str) -> usize {
    listing.lines().filter(|l| l.ends_with(": test")).count()
}

fn run_binary(binary: Binary, logs: &Path, env: &[(String, OsString)], test_args: &[String]) -> Finished {
    let log = logs.join(format!("{}.log", binary.name.replace([' ', '(', ')'], "_")));
    let started = Instant::now();
    let ok = File::create(&log)
        .and_then(|out| {
            let err = out.try_clone()?;
            Command::new(&binary.path)
                .current_dir(&binary.dir)
                .arg("--ignored")
                .args(test_args)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .status()
        })
        .is_ok_and(|s| s.success());
    Finished {
        binary,
        ok,
        log,
        took: started.elapsed(),
    }
}

fn report(done: &Finished) {
    let verdict = if done.ok { "ok" } else { "FAILED" };
    let summary = fs::read_to_string(&done.log)
        .ok()
        .and_then(|text| {
            text.lines()
                .rev()
                .find(|l| l.starts_with("test result:"))
                .map(str::to_owned)
        })
        .unwrap_or_default();
    eprintln!(
        "[xtask] cluster tests: {} {verdict} ({} tests, {}) {summary}",
        done.binary.name,
        done.binary.tests,
        process::human(done.took)
    );
    if !done.ok {
        eprintln!(
            "[xtask] --- last lines of {} ---\n{}",
            done.log.display(),
            process::tail(&done.log, FAILURE_TAIL)
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn test_executables_are_taken_from_cargo_messages() {
        let test = json!({
            "reason": "compiler-artifact",
            "profile": {"test": true},
            "executable": "/t/debug/deps/controller_vpc-1234",
            "manifest_path": "/repo/Cargo.toml",
            "target": {"name": "controller_vpc", "kind": ["test"]},
        });
        let b = test_binary(&test).unwrap();
        assert_eq!(b.name, "controller_vpc");
        assert_eq!(b.dir, PathBuf::from("/repo"));
        let lib = json!({
            "reason": "compiler-artifact",
            "profile": {"test": true},
            "executable": "/t/debug/deps/edgefleet-1",
            "manifest_path": "/repo/Cargo.toml",
            "target": {"name": "edgefleet", "kind": ["lib"]},
        });
        assert_eq!(test_binary(&lib).unwrap().name, "edgefleet (lib)");
        let not_a_test = json!({
            "reason": "compiler-artifact",
            "profile": {"test": false},
            "executable": "/t/debug/edgefleet",
            "manifest_path": "/repo/Cargo.toml",
            "target": {"name": "edgefleet", "kind": ["bin"]},
        });
        assert!(test_binary(&not_a_test).is_none());
        let no_executable = json!({
            "reason": "compiler-artifact",
            "profile": {"test": true},
            "executable": null,
            "manifest_path": "/repo/Cargo.toml",
            "target": {"name": "x", "kind": ["test"]},
        });
        assert!(test_binary(&no_executable).is_none());
    }

    #[test]
    fn a_terse_listing_counts_tests_only() {
        let listing = "a::one: test\nb_two: test\nbench_x: bench\n\n";
        assert_eq!(count_tests(listing), 2);
        assert_eq!(count_tests(""), 0);
    }
}
