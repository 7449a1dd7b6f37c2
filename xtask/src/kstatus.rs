//! The kstatus conformance helper: builds `tests/kstatus` — our small Go program around
//! `sigs.k8s.io/cli-utils/pkg/kstatus/status`, the health library Flux waits with — from the Go module
//! proxy once, into `~/.cache/edgefleet/kstatus-<cli-utils version>/` (`$XDG_CACHE_HOME` honoured),
//! and hands its path to the cluster tests as `EDGEFLEET_KSTATUS` (tests/gitops_health.rs).
//!
//! The binary's file name carries a hash of main.go, go.mod and go.sum, so an edit of the program is
//! rebuilt while an unchanged one is reused. The build uses private module and build caches under the
//! cache directory and deletes them afterwards (only the binary is kept), like the control plane build;
//! the cold build takes about 25 s on 2 cores (docs/testing.md). `cargo xtask kstatus` prints the path.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{control_plane, process};

/// The cli-utils release the program is built against; tests/kstatus/go.mod must require exactly this.
pub const CLI_UTILS_VERSION: &str = "v0.37.2";
/// The Go module whose kstatus package the program calls.
const CLI_UTILS_MODULE: &str = "sigs.k8s.io/cli-utils";
/// The files the binary is built from (all committed, in tests/kstatus).
const SOURCES: [&str; 3] = ["main.go", "go.mod", "go.sum"];

/// The program's source directory.
fn source_dir() -> PathBuf {
    control_plane::repo_root().join("tests").join("kstatus")
}

/// `~/.cache/edgefleet/kstatus-<version>`.
fn cache_dir() -> Result<PathBuf> {
    Ok(control_plane::edgefleet_cache()?.join(format!("kstatus-{CLI_UTILS_VERSION}")))
}

/// FNV-1a (64 bit) over the sources, as 16 hex digits: a cache key, not a security measure.
fn source_hash(dir: &Path) -> Result<String> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for name in SOURCES {
        let path = dir.join(name);
        let bytes = fs::read(&path).with_context(|| format!("failed to read {}", path.display()))?;
        for byte in name.as_bytes().iter().chain(&[0]).chain(&bytes) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    Ok(format!("{hash:016x}"))
}

/// Checks that go.mod requires [`CLI_UTILS_VERSION`] (the cache directory is named after it).
fn check_go_mod(dir: &Path) -> Result<()> {
    let path = dir.join("go.mod");
    let text = fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))?;
    let wanted = format!("{CLI_UTILS_MODULE} {CLI_UTILS_VERSION}");
    if !text.lines().any(|line| line.trim() == wanted) {
        bail!(
            "{} does not require `{wanted}`; keep it in step with CLI_UTILS_VERSION in xtask/src/kstatus.rs",
            path.display()
        );
    }
    Ok(())
}

/// The path of the kstatus binary, built first when the cache has none for the current sources.
pub fn binary() -> Result<PathBuf> {
    let src = source_dir();
    check_go_mod(&src)?;
    let dir = cache_dir()?;
    let bin = dir.join(format!("kstatus-{}", source_hash(&src)?));
    if process::is_executable(&bin) {
        return Ok(bin);
    }
    let Some(go) = process::which("go") else {
        bail!(
            "Go is not installed, and it is needed to build the kstatus conformance program (tests/kstatus, \
             {CLI_UTILS_MODULE} {CLI_UTILS_VERSION}); install Go >= 1.24"
        )
    };
    fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let work = dir.join(format!(".build-{}", std::process::id()));
    let tmp = dir.join(format!(".kstatus.{}.tmp", std::process::id()));
    let log = dir.join("build.log");
    eprintln!(
        "[xtask] building the kstatus conformance program ({CLI_UTILS_MODULE} {CLI_UTILS_VERSION}) with {} into \
         {}; log: {}",
        go.display(),
        dir.display(),
        log.display()
    );
    let started = Instant::now();
    let result = build(&go, &src, &work, &tmp, &log);
    let _ = fs::remove_dir_all(&work);
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        bail!(
            "{e:#}; last lines of {}:\n{}",
            log.display(),
            process::tail(&log, 30)
        );
    }
    let version = process::output(Command::new(&tmp).arg("-version"))?;
    if version.trim() != CLI_UTILS_VERSION {
        let _ = fs::remove_file(&tmp);
        bail!(
            "the built kstatus program reports {CLI_UTILS_MODULE} {}, expected {CLI_UTILS_VERSION}",
            version.trim()
        );
    }
    fs::rename(&tmp, &bin).with_context(|| format!("failed to move the binary to {}", bin.display()))?;
    eprintln!(
        "[xtask] kstatus conformance program built in {}",
        process::human(started.elapsed())
    );
    Ok(bin)
}

/// `go build` of `src` into `out`, with private module/build caches under `work`, output appended to `log`.
fn build(go: &Path, src: &Path, work: &Path, out: &Path, log: &Path) -> Result<()> {
    let log_file = fs::File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("failed to open {}", log.display()))?;
    let err_file = log_file
        .try_clone()
        .context("failed to duplicate the log handle")?;
    let mut cmd = Command::new(go);
    cmd.current_dir(src)
        .args(["build", "-trimpath", "-modcacherw", "-o"])
        .arg(out)
        .arg(".")
        .stdout(log_file)
        .stderr(err_file)
        // Never download a toolchain, a static binary, go.sum as committed, no caller's go.work/GOFLAGS.
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-mod=readonly")
        .env("GOWORK", "off")
        .env("GOMODCACHE", work.join("gomodcache"))
        .env("GOCACHE", work.join("gocache"));
    let status = process::status(&mut cmd)?;
    if !status.success() {
        bail!("`go build` of {} failed ({status})", src.display());
    }
    Ok(())
}

/// `cargo xtask kstatus`: builds (if needed) and prints the binary's path.
pub fn print_path() -> Result<()> {
    println!("{}", binary()?.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_mod_requires_the_pinned_cli_utils() -> Result<()> {
        check_go_mod(&source_dir())
    }

    #[test]
    fn the_hash_covers_every_source() -> Result<()> {
        let hash = source_hash(&source_dir())?;
        assert_eq!(hash.len(), 16);
        assert_eq!(hash, source_hash(&source_dir())?, "stable");
        Ok(())
    }
}
