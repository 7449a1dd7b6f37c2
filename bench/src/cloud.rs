//! The cloud side of the drivers: an `edgefleet-emulator` process (the IEC, the veEN, the Luchen and the
//! ModelArts API, each on its own loopback port, one state) with quotas large enough for the run
//! (zero delays for the bench, the emulator's own transition delays plus per-call latency for the chaos
//! campaign), and its admin API: per-operation call counters (`GET /_emulator/calls`), the state
//! snapshot, faults, and the requests sent before a Retry-After had passed.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use edgefleet_emulator::config::Config;
use edgefleet_emulator::core::calls::CallsSnapshot;
use edgefleet_emulator::core::faults::Faults;
use edgefleet_emulator::core::retry_after::RetryAfterReport;
use edgefleet_emulator::iec::catalog::{Catalog, QuotaLimit};
use edgefleet_emulator::modelarts::catalog::ModelArtsCatalog;
use edgefleet_emulator::veen::catalog::VeenCatalog;
use edgefleet_emulator::workspace::catalog::WorkspaceCatalog;
use tokio::process::{Child, Command};

/// A running emulator, killed on drop.
pub struct Emulator {
    child: Child,
    /// Base URL of the IEC (and IAM) endpoint; the admin API (`/_emulator/...`) is served here too.
    pub url: String,
    /// Base URL of the veEN endpoint.
    pub veen_url: String,
    /// Base URL of the Luchen endpoint (the host root; calls go to `/api/...`).
    pub luchen_url: String,
    /// Base URL of the ModelArts endpoint (BSS and IAM are served there too).
    pub modelarts_url: String,
    /// Base URL of the Workspace endpoint (IAM is served there too).
    pub workspace_url: String,
    http: reqwest::Client,
}

/// Every quota of the bench account (instances, vCPUs, RAM in MB, disk GB, ...): far beyond any run, so
/// the bench measures edgefleet, not the default tenant limits (RAM alone is 4096 MB per instance).
const BENCH_QUOTA: u64 = 1 << 40;

/// The built-in catalog with [`BENCH_QUOTA`] for every quota and site capacity.
fn bench_catalog() -> Catalog {
    let mut catalog = Catalog::default();
    for limit in catalog.quotas.values_mut() {
        *limit = QuotaLimit {
            quota: BENCH_QUOTA,
            max: BENCH_QUOTA,
        };
    }
    for site in &mut catalog.sites {
        site.capacity_instances = BENCH_QUOTA;
    }
    catalog
}

/// The built-in veEN catalog with [`BENCH_QUOTA`]-sized quotas: cloud servers per account, instances per
/// cloud server and every cluster's capacity (the seed's defaults are 5, 10 and tens).
fn bench_veen_catalog() -> VeenCatalog {
    let big = u32::try_from(BENCH_QUOTA.min(u64::from(u32::MAX))).unwrap_or(u32::MAX);
    let mut catalog = VeenCatalog {
        cloud_server_quota: big,
        instances_per_cloud_server: big,
        ..VeenCatalog::default()
    };
    for cluster in &mut catalog.clusters {
        cluster.capacity = big;
    }
    catalog
}

/// The built-in ModelArts catalog with a [`BENCH_QUOTA`]-sized server quota and a subnet large enough
/// for every server's address (the default is a /24 and 20 servers per project).
fn bench_modelarts_catalog() -> ModelArtsCatalog {
    let mut catalog = ModelArtsCatalog {
        quota: u32::try_from(BENCH_QUOTA.min(u64::from(u32::MAX))).unwrap_or(u32::MAX),
        ..ModelArtsCatalog::default()
    };
    for subnet in catalog.vpcs.iter_mut().flat_map(|v| v.subnets.iter_mut()) {
        subnet.cidr = "10.0.0.0/12".into();
    }
    catalog
}

fn bench_workspace_catalog() -> WorkspaceCatalog {
    let mut catalog = WorkspaceCatalog::default();
    catalog.quota.instances = u32::try_from(BENCH_QUOTA.min(u64::from(u32::MAX))).unwrap_or(u32::MAX);
    for subnet in catalog.vpcs.iter_mut().flat_map(|v| v.subnets.iter_mut()) {
        subnet.cidr = "10.0.0.0/12".into();
    }
    catalog
}

fn free_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    listener.local_addr().context("reading the free port")
}

/// How the emulator runs.
#[derive(Debug, Clone, Default)]
pub struct EmulatorOptions {
    /// Every transition instant (`--zero-delays`); otherwise the emulator's defaults (an instance builds
    /// in 3 s, deletes in 1 s, ...).
    pub zero_delays: bool,
    /// Faults active from the start (a latency rule gives every call a realistic round trip).
    pub faults: Faults,
}

impl EmulatorOptions {
    /// The bench's emulator: no delays, no faults.
    pub fn zero_delays() -> Self {
        Self {
            zero_delays: true,
            faults: Faults::default(),
        }
    }
}

impl Emulator {
    /// Starts `bin` with bench quotas and its log in `work_dir`, and waits until it answers.
    pub async fn start(bin: &Path, work_dir: &Path, options: &EmulatorOptions) -> Result<Self> {
        let addr = free_port()?;
        let veen_addr = free_port()?;
        let luchen_addr = free_port()?;
        let modelarts_addr = free_port()?;
        let workspace_addr = free_port()?;
        let config = Config {
            catalog: bench_catalog(),
            veen: bench_veen_catalog(),
            modelarts: bench_modelarts_catalog(),
            workspace: bench_workspace_catalog(),
            faults: options.faults.clone(),
            ..Config::default()
        };
        let config_path = work_dir.join("emulator.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)
            .with_context(|| format!("writing {}", config_path.display()))?;
        let log_path = work_dir.join("emulator.log");
        let log =
            std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let mut command = Command::new(bin);
        command
            .arg("--iec-addr")
            .arg(addr.to_string())
            .arg("--veen-addr")
            .arg(veen_addr.to_string())
            .arg("--luchen-addr")
            .arg(luchen_addr.to_string())
            .arg("--modelarts-addr")
            .arg(modelarts_addr.to_string())
            .arg("--workspace-addr")
            .arg(workspace_addr.to_string())
            .arg("--config")
            .arg(&config_path)
            .args(["--log", "warn"]);
        if options.zero_delays {
            command.arg("--zero-delays");
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let emulator = Self {
            child,
            url: format!("http://{addr}"),
            veen_url: format!("http://{veen_addr}"),
            luchen_url: format!("http://{luchen_addr}"),
            modelarts_url: format!("http://{modelarts_addr}"),
            workspace_url: format!("http://{workspace_addr}"),
            http: reqwest::Client::new(),
        };
        emulator.wait_healthy(&log_path).await?;
        Ok(emulator)
    }

    async fn wait_healthy(&self, log: &Path) -> Result<()> {
        for _ in 0..100 {
            let url = format!("{}/_emulator/healthz", self.url);
            if let Ok(r) = self.http.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the emulator did not answer within 10 s; see {}", log.display())
    }

    /// The call counters now.
    pub async fn calls(&self) -> Result<CallsSnapshot> {
        let url = format!("{}/_emulator/calls", self.url);
        let snapshot = self
            .http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("GET {url}"))?
            .json()
            .await
            .context("parsing the emulator's call counters")?;
        Ok(snapshot)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        let url = format!("{}{path}", self.url);
        self.http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("GET {url}"))?
            .json()
            .await
            .with_context(|| format!("parsing the answer of GET {url}"))
    }

    /// The whole state (`GET /_emulator/state`: `{"accounts": {<domain>: {"tables": {<kind>: [rows]}}}}`).
    pub async fn state(&self) -> Result<serde_json::Value> {
        self.get_json("/_emulator/state").await
    }

    /// Requests that arrived before a 429's Retry-After had passed (`GET /_emulator/retry-after`).
    pub async fn retry_after(&self) -> Result<RetryAfterReport> {
        self.get_json("/_emulator/retry-after").await
    }

    /// Replaces the active faults (`PUT /_emulator/faults`; re-seeds the emulator's RNG).
    pub async fn set_faults(&self, faults: &Faults) -> Result<()> {
        let url = format!("{}/_emulator/faults", self.url);
        self.http
            .put(&url)
            .json(faults)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("PUT {url}"))?;
        Ok(())
    }

    /// Stops the process.
    pub async fn stop(mut self) -> Result<()> {
        self.child.kill().await.context("stopping the emulator")
    }
}

/// Cloud calls between two snapshots.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CloudCalls {
    /// All requests.
    pub requests: u64,
    /// Requests that were reads (GET: the emulator counts them, whatever the operation is called).
    pub reads: u64,
    /// Successful mutations.
    pub mutations: u64,
    /// Requests per operation (`"METHOD /route"`).
    pub by_operation: std::collections::BTreeMap<String, u64>,
}

impl CloudCalls {
    /// `after - before`.
    pub fn between(before: &CallsSnapshot, after: &CallsSnapshot) -> Self {
        let mut calls = CloudCalls::default();
        for (op, counters) in &after.operations {
            let earlier = before.operations.get(op);
            let requests = counters.requests - earlier.map_or(0, |c| c.requests.min(counters.requests));
            let mutations = counters.mutations - earlier.map_or(0, |c| c.mutations.min(counters.mutations));
            let reads = counters.reads - earlier.map_or(0, |c| c.reads.min(counters.reads));
            if requests == 0 && mutations == 0 {
                continue;
            }
            calls.requests += requests;
            calls.mutations += mutations;
            calls.reads += reads;
            calls.by_operation.insert(op.clone(), requests);
        }
        calls
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgefleet_emulator::core::calls::Calls;

    #[test]
    fn reads_between_two_snapshots_come_from_the_emulators_count_not_the_name() {
        let calls = Calls::default();
        let before = calls.snapshot();
        calls.request("veen:ListInstances", true);
        calls.request("GET /v1/cloudservers", true);
        calls.request("veen:StartInstances", false);
        calls.finished("veen:StartInstances", 200, true);
        let d = CloudCalls::between(&before, &calls.snapshot());
        assert_eq!((d.requests, d.reads, d.mutations), (3, 2, 1));
    }
}
