//! The system under test: `edgefleet run` as its own process (without leader election, or with a Lease and
//! chosen timings), and a sampler that reads its resident memory and CPU time from `/proc` (Linux) every
//! few hundred milliseconds.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use tokio::process::{Child, Command};

/// How the operator is started.
pub struct OperatorOptions<'a> {
    /// The `edgefleet` binary.
    pub bin: &'a Path,
    /// Namespace it watches.
    pub namespace: &'a str,
    /// Reconciles in flight per controller.
    pub concurrency: u16,
    /// Drift-detection interval for Ready objects.
    pub poll_interval: Duration,
    /// Directory for its log.
    pub work_dir: &'a Path,
    /// File name of its log in `work_dir` (created anew).
    pub log_name: &'a str,
    /// Its `RUST_LOG`.
    pub log_filter: &'a str,
    /// Leader election; `None` runs with `--leader-elect false`.
    pub leader_election: Option<LeaderElection<'a>>,
}

impl<'a> OperatorOptions<'a> {
    /// The bench's operator: concurrency 64, 20 s poll interval, `operator.log` at level `warn`, no
    /// leader election.
    pub fn defaults(bin: &'a Path, work_dir: &'a Path) -> Self {
        Self {
            bin,
            namespace: "default",
            concurrency: 64,
            poll_interval: Duration::from_secs(20),
            work_dir,
            log_name: "operator.log",
            log_filter: "warn",
            leader_election: None,
        }
    }
}

/// `edgefleet run`'s leader-election flags.
#[derive(Debug, Clone, Copy)]
pub struct LeaderElection<'a> {
    /// Namespace of the Lease.
    pub namespace: &'a str,
    /// Name of the Lease.
    pub lease: &'a str,
    /// This replica's identity (the Lease's holderIdentity while it leads).
    pub identity: &'a str,
    /// `--lease-duration`.
    pub lease_duration: Duration,
    /// `--renew-deadline`.
    pub renew_deadline: Duration,
    /// `--retry-period`.
    pub retry_period: Duration,
}

/// A running operator, killed on drop.
pub struct Operator {
    child: Child,
    pid: u32,
    sampler: Arc<Sampler>,
}

/// Memory and CPU samples of one process.
#[derive(Debug, Default)]
pub struct Sampler {
    /// Largest RSS seen, in KiB (also checked against the kernel's VmHWM at the end).
    peak_rss_kib: AtomicU64,
    /// Latest RSS, in KiB.
    last_rss_kib: AtomicU64,
    /// Latest utime + stime, in clock ticks.
    cpu_ticks: AtomicU64,
    stop: AtomicBool,
}

/// Memory and CPU at one moment.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Usage {
    /// Current resident set, MiB.
    pub rss_mib: f64,
    /// Peak resident set so far (kernel high-water mark), MiB.
    pub peak_rss_mib: f64,
    /// CPU seconds (user + system) so far.
    pub cpu_seconds: f64,
}

impl Operator {
    /// Starts `edgefleet run` scoped to one namespace.
    pub async fn start(options: &OperatorOptions<'_>) -> Result<Self> {
        let log_path = options.work_dir.join(options.log_name);
        let log =
            std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let mut command = Command::new(options.bin);
        command.arg("run");
        match &options.leader_election {
            None => {
                command.args(["--leader-elect", "false"]);
            }
            Some(le) => {
                let secs = |d: Duration| format!("{}ms", d.as_millis());
                command
                    .args(["--leader-elect", "true"])
                    .args(["--leader-election-namespace", le.namespace])
                    .args(["--leader-election-id", le.lease])
                    .args(["--leader-election-identity", le.identity])
                    .args(["--lease-duration", &secs(le.lease_duration)])
                    .args(["--renew-deadline", &secs(le.renew_deadline)])
                    .args(["--retry-period", &secs(le.retry_period)]);
            }
        }
        let child = command
            .args(["--http-addr", "127.0.0.1:0"])
            .args(["--watch-namespace", options.namespace])
            .args(["--concurrency", &options.concurrency.to_string()])
            .args([
                "--poll-interval",
                &format!("{}s", options.poll_interval.as_secs()),
            ])
            .args(["--log-format", "json"])
            .env("RUST_LOG", options.log_filter)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", options.bin.display()))?;
        let Some(pid) = child.id() else {
            bail!("the operator exited at once; see {}", log_path.display());
        };
        let sampler = Arc::new(Sampler::default());
        tokio::spawn(sample(pid, sampler.clone()));
        Ok(Self { child, pid, sampler })
    }

    /// Fails if the process has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => bail!("the operator exited with {status}"),
            Err(e) => Err(e).context("checking the operator process"),
        }
    }

    /// Memory and CPU now.
    pub fn usage(&self) -> Usage {
        let hwm = read_status_kib(self.pid, "VmHWM:").unwrap_or(0);
        let peak = hwm.max(self.sampler.peak_rss_kib.load(Ordering::Relaxed));
        Usage {
            rss_mib: kib_to_mib(self.sampler.last_rss_kib.load(Ordering::Relaxed)),
            peak_rss_mib: kib_to_mib(peak),
            cpu_seconds: self.sampler.cpu_ticks.load(Ordering::Relaxed) as f64 / ticks_per_second(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// SIGKILL, then waits for the exit: no shutdown path runs (what a crash or an OOM kill does).
    pub async fn stop(mut self) -> Result<()> {
        self.sampler.stop.store(true, Ordering::Relaxed);
        self.child.kill().await.context("stopping the operator")
    }
}

fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn sample(pid: u32, sampler: Arc<Sampler>) {
    while !sampler.stop.load(Ordering::Relaxed) {
        let Some(rss) = read_status_kib(pid, "VmRSS:") else {
            return;
        };
        sampler.last_rss_kib.store(rss, Ordering::Relaxed);
        sampler.peak_rss_kib.fetch_max(rss, Ordering::Relaxed);
        if let Some(ticks) = read_cpu_ticks(pid) {
            sampler.cpu_ticks.store(ticks, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A `kB` field of `/proc/<pid>/status`.
fn read_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// utime + stime of `/proc/<pid>/stat` (fields 14 and 15, after the parenthesised command name).
fn read_cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state), so utime (14) is index 11 and stime (15) index 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The kernel's USER_HZ; 100 on every Linux architecture edgefleet targets.
fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_memory_and_cpu() {
        let pid = std::process::id();
        let rss = read_status_kib(pid, "VmRSS:");
        assert!(rss.is_some_and(|kib| kib > 0), "{rss:?}");
        assert!(read_cpu_ticks(pid).is_some());
        assert!(read_status_kib(pid, "NoSuchField:").is_none());
    }
}
