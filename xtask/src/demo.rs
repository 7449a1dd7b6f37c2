//! `cargo xtask demo`: the README's first command. On a fresh machine it builds what is missing, starts a
//! local control plane (its own; a control plane from `control-plane up` is left alone) and the emulator
//! (the IEC and the veEN API, each on its own port) with realistic delays, installs the CRDs, runs
//! `edgefleet run` against them as a separate process, applies deploy/samples/ (each cloud's
//! ProviderConfig rewritten to its emulator address), shows a
//! table of the objects until every one is Ready, prints how to poke at it, and keeps watching until
//! Ctrl-C, which tears everything down by pid (through the control plane's watchdog).
//!
//! The kinds it applies and waits for are the ones the operator has controllers for (`edgefleet
//! controllers`, i.e. `edgefleet::controller::CONTROLLERS`), so the demo grows with the operator.
//!
//! `--exit-when-ready` is the non-interactive mode CI runs (a phase of `cargo xtask test`): it fails after
//! `--timeout`, naming every object that never became Ready with its Ready reason and message, and the
//! tail of the operator's log. With `--use-existing-cluster` (the test phase) it runs against
//! `$KUBECONFIG`, deletes the samples at the end (the operator runs their finalizers) and checks that the
//! emulator is left without VPCs, security groups or instances.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::Value;

use crate::control_plane::{self, Component, ControlPlane};
use crate::process;

/// The samples, in dependency order (a later file refers to objects of earlier ones).
const SAMPLES: &[&str] = &[
    "deploy/samples/providerconfig.yaml",
    "deploy/samples/providerconfig-veen.yaml",
    "deploy/samples/vpc.yaml",
    "deploy/samples/securitygroup.yaml",
    "deploy/samples/edgeinstance.yaml",
    "deploy/samples/edgecloud.yaml",
    "deploy/samples/network-veen.yaml",
    "deploy/samples/edgecloud-veen.yaml",
    "deploy/samples/edgeinstance-veen.yaml",
    "deploy/samples/providerconfig-modelarts.yaml",
    "deploy/samples/edgeinstance-modelarts.yaml",
    "deploy/samples/providerconfig-luchen.yaml",
    "deploy/samples/edgeinstance-luchen.yaml",
    "deploy/samples/providerconfig-workspace.yaml",
    "deploy/samples/edgecloud-workspace.yaml",
];
/// The clouds the demo's emulator serves, each on its own listener: the cloud, the emulator's flag for
/// its listen address, the word the emulator's start-up line names it by, and its address as the samples
/// write it (`endpoints.api` / `endpoints.veen` / ...), replaced by the address the demo's emulator
/// listens on for that cloud. The first is the admin API's listener. A new cloud is one row here.
const CLOUDS: &[EmulatedCloud] = &[
    EmulatedCloud {
        name: "IEC",
        flag: "--iec-addr",
        sample_endpoint: "http://127.0.0.1:18080",
    },
    EmulatedCloud {
        name: "veEN",
        flag: "--veen-addr",
        sample_endpoint: "http://127.0.0.1:18081",
    },
    EmulatedCloud {
        name: "ModelArts",
        flag: "--modelarts-addr",
        sample_endpoint: "http://127.0.0.1:18082",
    },
    EmulatedCloud {
        name: "Luchen",
        flag: "--luchen-addr",
        sample_endpoint: "http://127.0.0.1:18083",
    },
    EmulatedCloud {
        name: "Workspace",
        flag: "--workspace-addr",
        sample_endpoint: "http://127.0.0.1:18084",
    },
];
/// The namespace of the sample objects.
const SAMPLE_NAMESPACE: &str = "default";
/// The namespace of the credentials Secret and the operator's leader Lease.
const SYSTEM_NAMESPACE: &str = "edgefleet-system";
/// Emulator delays (ms) in the demo: slower than the emulator's defaults, so the progress is visible, and
/// far faster than the real cloud (minutes per instance).
const EMULATOR_CONFIG: &str = "\
delays:
  instance_build: 8000
  instance_power: 3000
  instance_reboot: 3000
  instance_change_os: 5000
  instance_delete: 3000
  edgecloud_check: 2000
  edgecloud_delete: 3000
  veen_instance_open: 8000
  veen_instance_power: 3000
  veen_instance_terminate: 3000
  veen_vpc: 2000
";
/// Latency added to every emulated API call (ms).
const EMULATOR_LATENCY_MS: &str = "30";
/// How often the table is refreshed.
const POLL: Duration = Duration::from_secs(2);
/// How long the operator may take to report /readyz (caches synced, leading).
const OPERATOR_READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long cleanup (deleting the samples, in `--use-existing-cluster` mode) may take.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(300);

/// Flags of `cargo xtask demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Exit (0) as soon as everything is Ready instead of watching until Ctrl-C; fail after --timeout.
    #[arg(long)]
    pub exit_when_ready: bool,
    /// With --exit-when-ready: how long to wait for everything to become Ready, in seconds.
    #[arg(long, default_value_t = 420, value_name = "SECONDS")]
    pub timeout: u64,
    /// Use the cluster of the current KUBECONFIG instead of starting a control plane. The CRDs from crds/
    /// are applied to it, and the samples are created in `default` and `edgefleet-system`.
    #[arg(long)]
    pub use_existing_cluster: bool,
}

/// A cluster the demo did not start: its kubeconfig and a matching kubectl.
#[derive(Debug, Clone)]
pub struct ExistingCluster {
    /// Admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// kubectl within one minor of the server.
    pub kubectl: PathBuf,
}

/// `cargo xtask demo`.
pub fn run(args: &DemoArgs) -> Result<()> {
    let existing = if args.use_existing_cluster {
        let kubeconfig = match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
            Some(path) => PathBuf::from(path),
            None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?).join(".kube/config"),
        };
        let kubectl = control_plane::find_kubectl(None).unwrap_or_else(|| PathBuf::from("kubectl"));
        Some(ExistingCluster { kubeconfig, kubectl })
    } else {
        None
    };
    run_with(args, existing)
}

/// The demo against `existing` (or a control plane of its own when `None`).
pub fn run_with(args: &DemoArgs, existing: Option<ExistingCluster>) -> Result<()> {
    let started = Instant::now();
    let root = control_plane::repo_root();
    let bins = build_binaries(&root)?;
    let mut world = World::start(existing)?;
    let result = world.demo(args, &root, &bins, started);
    let stopped = world.stop();
    match (result, stopped) {
        (Ok(()), Ok(())) => {
            world.remove_logs();
            note(&format!("demo done in {}", process::human(started.elapsed())));
            Ok(())
        }
        (Err(e), _) => Err(e),
        (Ok(()), Err(e)) => Err(e),
    }
}

/// A cloud the emulator serves (one row of [`CLOUDS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EmulatedCloud {
    /// How the demo's messages name it.
    name: &'static str,
    /// The emulator's flag for its listen address.
    flag: &'static str,
    /// Its address as the samples write it.
    sample_endpoint: &'static str,
}

/// The demo's emulator: one process, one state, a listener per cloud.
#[derive(Debug, Clone)]
struct Emulator {
    /// The base URL of each of [`CLOUDS`], in its order.
    urls: Vec<String>,
    /// The port of the admin API (`/_emulator/...`, served on every listener).
    admin_port: u16,
}

impl Emulator {
    /// The first cloud's (IEC's) base URL, where the admin API is shown.
    fn admin_url(&self) -> &str {
        self.urls.first().map_or("", String::as_str)
    }
}

/// `text` with every cloud's sample endpoint replaced by the emulator's, and how many it replaced.
fn point_at_emulator(text: &str, emulator: &Emulator) -> (String, usize) {
    let mut out = text.to_owned();
    let mut replaced = 0;
    for (cloud, url) in CLOUDS.iter().zip(&emulator.urls) {
        replaced += out.matches(cloud.sample_endpoint).count();
        out = out.replace(cloud.sample_endpoint, url);
    }
    (out, replaced)
}

/// The operator and emulator binaries.
struct Binaries {
    edgefleet: PathBuf,
    emulator: PathBuf,
}

/// `cargo build` of the operator and the emulator (a no-op when up to date); returns their paths.
fn build_binaries(root: &Path) -> Result<Binaries> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    note("building edgefleet and edgefleet-emulator (cargo build)");
    process::run(Command::new(&cargo).current_dir(root).args([
        "build",
        "--quiet",
        "-p",
        "edgefleet",
        "--bin",
        "edgefleet",
        "-p",
        "edgefleet-emulator",
        "--bin",
        "edgefleet-emulator",
    ]))?;
    let metadata = process::output(Command::new(&cargo).current_dir(root).args([
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
    ]))?;
    let metadata: Value = serde_json::from_str(&metadata).context("failed to parse `cargo metadata`")?;
    let target = metadata["target_directory"]
        .as_str()
        .context("`cargo metadata` has no target_directory")?;
    let debug = Path::new(target).join("debug");
    let bins = Binaries {
        edgefleet: debug.join("edgefleet"),
        emulator: debug.join("edgefleet-emulator"),
    };
    for bin in [&bins.edgefleet, &bins.emulator] {
        if !process::is_executable(bin) {
            bail!("{} was not built", bin.display());
        }
    }
    Ok(bins)
}

/// One sample object the demo applied: how to find it again.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ObjectId {
    kind: String,
    namespace: Option<String>,
    name: String,
}

impl ObjectId {
    fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// One row of the progress table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    id: ObjectId,
    ready: String,
    synced: String,
    reason: String,
    message: String,
    deleting: bool,
}

impl Row {
    fn is_ready(&self) -> bool {
        self.ready == "True" && !self.deleting
    }
}

/// Everything the demo started, for teardown.
struct World {
    control_plane: Option<ControlPlane>,
    kubeconfig: PathBuf,
    kubectl: PathBuf,
    /// Logs and configuration (the control plane's state directory, or a directory of its own).
    dir: PathBuf,
    /// Processes started here that the control plane's watchdog does not know (existing-cluster mode).
    children: Vec<(String, Child)>,
    operator_log: Option<PathBuf>,
}

impl World {
    fn start(existing: Option<ExistingCluster>) -> Result<Self> {
        match existing {
            Some(cluster) => {
                let dir = std::env::temp_dir().join(format!("edgefleet-demo-{}", std::process::id()));
                fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
                note(&format!(
                    "using the existing cluster of {}",
                    cluster.kubeconfig.display()
                ));
                Ok(Self {
                    control_plane: None,
                    kubeconfig: cluster.kubeconfig,
                    kubectl: cluster.kubectl,
                    dir,
                    children: Vec::new(),
                    operator_log: None,
                })
            }
            None => {
                if let Ok(Some(up)) = control_plane::find(None)
                    && control_plane::all_alive(&up)
                {
                    note(&format!(
                        "a control plane from `control-plane up` runs at {}; the demo starts its own and leaves \
                         that one alone",
                        up.server
                    ));
                }
                note("starting a local control plane (etcd, kube-apiserver, kube-controller-manager)");
                let bins = control_plane::binaries()?;
                let cp = ControlPlane::start(&bins)?;
                note(&format!(
                    "control plane {} at {}",
                    cp.state().k8s_version,
                    cp.state().server
                ));
                let state = cp.state().clone();
                Ok(Self {
                    control_plane: Some(cp),
                    kubeconfig: state.kubeconfig,
                    kubectl: state.kubectl,
                    dir: state.state_dir,
                    children: Vec::new(),
                    operator_log: None,
                })
            }
        }
    }

    fn kubectl(&self) -> Command {
        let mut cmd = Command::new(&self.kubectl);
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        cmd
    }

    /// Starts a long-running process with its output in `<dir>/<name>.log`. With an own control plane it
    /// joins the control plane's components (stopped by pid on teardown, also by the watchdog after a
    /// Ctrl-C); otherwise it stays in the terminal's process group, so a Ctrl-C stops it as well.
    fn spawn(&mut self, name: &str, program: &Path, args: &[String]) -> Result<(u32, PathBuf)> {
        let log = self.dir.join(format!("{name}.log"));
        if let Some(cp) = self.control_plane.as_mut() {
            let child = process::spawn_daemon(program, args, &log, &[])?;
            let pid = child.id();
            // Liveness is read from /proc; the control plane's teardown stops it by pid.
            drop(child);
            cp.add_component(Component {
                name: name.to_owned(),
                pid,
                log: log.clone(),
            })?;
            Ok((pid, log))
        } else {
            let file = fs::File::options()
                .create(true)
                .append(true)
                .open(&log)
                .with_context(|| format!("failed to open {}", log.display()))?;
            let err = file
                .try_clone()
                .context("failed to duplicate a log file handle")?;
            let child = Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .stdout(file)
                .stderr(err)
                .spawn()
                .with_context(|| format!("failed to start {}", program.display()))?;
            let pid = child.id();
            self.children.push((name.to_owned(), child));
            Ok((pid, log))
        }
    }

    fn demo(&mut self, args: &DemoArgs, root: &Path, bins: &Binaries, started: Instant) -> Result<()> {
        self.install_crds(root)?;
        let emulator = self.start_emulator(bins)?;
        let (operator_pid, operator_port) = self.start_operator(bins)?;
        let kinds = controlled_kinds(bins)?;
        note(&format!("the operator has controllers for: {}", kinds.join(", ")));
        let applied = self.apply_samples(root, &kinds, &emulator)?;
        let deadline = args
            .exit_when_ready
            .then(|| Instant::now() + Duration::from_secs(args.timeout));
        // The table's clock starts when the samples are applied; the total includes building and start-up.
        let applied_at = Instant::now();
        let rows = self.wait_until_ready(&applied, &kinds, operator_pid, deadline, applied_at)?;
        note(&format!(
            "all {} objects Ready {} after the samples were applied ({} since the demo started)",
            rows.len(),
            process::human(applied_at.elapsed()),
            process::human(started.elapsed())
        ));
        if args.exit_when_ready {
            if self.control_plane.is_none() {
                self.cleanup(&applied, &kinds, &emulator)?;
            }
            return Ok(());
        }
        self.print_poke_help(&kinds, &emulator, operator_port);
        self.watch_forever(&applied, &kinds, operator_pid, rows, applied_at)
    }

    /// Applies crds/ (server-side) and waits until they are Established.
    fn install_crds(&self, root: &Path) -> Result<()> {
        note("installing the CRDs from crds/");
        process::output(self.kubectl().current_dir(root).args([
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=edgefleet-xtask",
            "-f",
            "crds/",
        ]))?;
        process::output(self.kubectl().current_dir(root).args([
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "-f",
            "crds/",
        ]))?;
        Ok(())
    }

    /// Starts `edgefleet-emulator` on a free loopback port per cloud with the demo delays.
    fn start_emulator(&mut self, bins: &Binaries) -> Result<Emulator> {
        let config = self.dir.join("emulator.yaml");
        fs::write(&config, EMULATOR_CONFIG)
            .with_context(|| format!("failed to write {}", config.display()))?;
        let ports = process::free_ports(CLOUDS.len())?;
        let port = ports[0];
        let emulator = Emulator {
            urls: ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect(),
            admin_port: port,
        };
        let mut args = Vec::new();
        for (cloud, p) in CLOUDS.iter().zip(&ports) {
            args.push(cloud.flag.to_owned());
            args.push(format!("127.0.0.1:{p}"));
        }
        args.extend([
            "--config".to_owned(),
            config.to_string_lossy().into_owned(),
            "--latency-ms".to_owned(),
            EMULATOR_LATENCY_MS.to_owned(),
        ]);
        let (pid, log) = self.spawn("edgefleet-emulator", &bins.emulator, &args)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answer = process::http_get(port, "/_emulator/healthz", Duration::from_secs(2));
            if answer.is_ok_and(|r| http_status(&r) == Some(200)) {
                break;
            }
            if !process::is_alive(pid) || Instant::now() > deadline {
                bail!(
                    "the emulator did not start; last lines of {}:\n{}",
                    log.display(),
                    process::tail(&log, 30)
                );
            }
            thread::sleep(Duration::from_millis(200));
        }
        let listeners: Vec<String> = CLOUDS
            .iter()
            .zip(&emulator.urls)
            .map(|(cloud, url)| format!("{} at {url}", cloud.name))
            .collect();
        note(&format!(
            "emulator: {} (delays: instance build 8 s, power 3 s, delete 3 s; \
             +{EMULATOR_LATENCY_MS} ms per call; log {})",
            listeners.join(", "),
            log.display()
        ));
        Ok(emulator)
    }

    /// Starts `edgefleet run` and waits until its /readyz answers 200 (leading, caches synced).
    fn start_operator(&mut self, bins: &Binaries) -> Result<(u32, u16)> {
        self.apply_stdin(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {SYSTEM_NAMESPACE}\n"
        ))?;
        let port = process::free_ports(1)?[0];
        let mut args = vec![
            "run".to_owned(),
            "--kubeconfig".to_owned(),
            self.kubeconfig.to_string_lossy().into_owned(),
            "--http-addr".to_owned(),
            format!("127.0.0.1:{port}"),
            "--leader-election-namespace".to_owned(),
            SYSTEM_NAMESPACE.to_owned(),
            "--leader-election-id".to_owned(),
            "edgefleet-demo".to_owned(),
            "--pending-poll-interval".to_owned(),
            "3s".to_owned(),
            "--log-level".to_owned(),
            "info,kube=warn".to_owned(),
        ];
        if self.control_plane.is_none() {
            // Someone else's cluster: leave namespaced objects outside the samples' namespace alone.
            args.extend(["--watch-namespace".to_owned(), SAMPLE_NAMESPACE.to_owned()]);
        }
        let (pid, log) = self.spawn("edgefleet", &bins.edgefleet, &args)?;
        self.operator_log = Some(log.clone());
        let deadline = Instant::now() + OPERATOR_READY_TIMEOUT;
        loop {
            let answer = process::http_get(port, "/readyz", Duration::from_secs(2));
            if answer.as_ref().is_ok_and(|r| http_status(r) == Some(200)) {
                break;
            }
            if !process::is_alive(pid) {
                bail!(
                    "`edgefleet run` exited; last lines of {}:\n{}",
                    log.display(),
                    process::tail(&log, 40)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "`edgefleet run` did not become ready within {} (last /readyz: {}); last lines of {}:\n{}",
                    process::human(OPERATOR_READY_TIMEOUT),
                    answer.map_or_else(
                        |e| e.to_string(),
                        |r| r.lines().last().unwrap_or_default().to_owned()
                    ),
                    log.display(),
                    process::tail(&log, 40)
                );
            }
            thread::sleep(Duration::from_millis(250));
        }
        note(&format!(
            "operator `edgefleet run` (pid {pid}) leads and is ready; /metrics at http://127.0.0.1:{port}/metrics; \
             log {}",
            log.display()
        ));
        Ok((pid, port))
    }

    /// `kubectl apply -f -` of `yaml`.
    fn apply_stdin(&self, yaml: &str) -> Result<String> {
        let mut child = self
            .kubectl()
            .args(["apply", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("failed to start kubectl")?;
        child
            .stdin
            .take()
            .context("kubectl has no stdin")?
            .write_all(yaml.as_bytes())
            .context("failed to write to kubectl")?;
        let out = child.wait_with_output().context("failed to wait for kubectl")?;
        if !out.status.success() {
            bail!(
                "`kubectl apply` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Applies the sample documents whose kind has a controller (plus the Secrets they use); returns the
    /// edgefleet objects applied.
    fn apply_samples(&self, root: &Path, kinds: &[String], emulator: &Emulator) -> Result<Vec<ObjectId>> {
        let mut applied = Vec::new();
        for sample in SAMPLES {
            let path = root.join(sample);
            let original =
                fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))?;
            let (text, replaced) = point_at_emulator(&original, emulator);
            if is_provider_config_sample(sample) && replaced == 0 {
                bail!(
                    "{sample} no longer names an emulator endpoint ({}); update xtask/src/demo.rs",
                    CLOUDS
                        .iter()
                        .map(|c| c.sample_endpoint)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let documents = split_documents(&text);
            let objects: Vec<ObjectId> = documents.iter().filter_map(|d| object_id(d)).collect();
            let edgefleet: Vec<&ObjectId> = objects.iter().filter(|o| is_edgefleet_kind(&o.kind)).collect();
            let wanted: Vec<&ObjectId> = edgefleet
                .iter()
                .copied()
                .filter(|o| kinds.contains(&o.kind))
                .collect();
            if wanted.is_empty() {
                let skipped: Vec<String> = edgefleet.iter().map(|o| o.kind.clone()).collect();
                note(&format!(
                    "skipping {sample}: no controller yet for {}",
                    skipped.join(", ")
                ));
                continue;
            }
            let keep: Vec<&str> = documents
                .iter()
                .filter(|d| {
                    object_id(d).is_some_and(|o| !is_edgefleet_kind(&o.kind) || kinds.contains(&o.kind))
                })
                .map(String::as_str)
                .collect();
            let out = self.apply_stdin(&keep.join("\n---\n"))?;
            for line in out.lines() {
                note(&format!("  {line}"));
            }
            applied.extend(wanted.into_iter().cloned());
        }
        if applied.is_empty() {
            bail!("no sample was applied: the operator reports no controller for any sample kind");
        }
        Ok(applied)
    }

    /// The current rows: every edgefleet object of the controlled kinds in the sample namespace, plus the
    /// applied cluster-scoped ones (members an EdgeCloud creates are included).
    fn rows(&self, applied: &[ObjectId], kinds: &[String], report_missing: bool) -> Result<Vec<Row>> {
        let resources: Vec<String> = kinds.iter().map(|k| plural(k)).collect();
        let list = process::output(self.kubectl().args([
            "get",
            &resources.join(","),
            "--all-namespaces",
            "-o",
            "json",
        ]))?;
        let list: Value = serde_json::from_str(&list).context("failed to parse `kubectl get -o json`")?;
        let mut rows: Vec<Row> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(row)
            .filter(|r| r.id.namespace.as_deref() == Some(SAMPLE_NAMESPACE) || applied.contains(&r.id))
            .collect();
        let missing: Vec<ObjectId> = applied
            .iter()
            .filter(|a| report_missing && !rows.iter().any(|r| r.id == **a))
            .cloned()
            .collect();
        for missing in missing {
            rows.push(Row {
                id: missing,
                ready: "-".into(),
                synced: "-".into(),
                reason: "NotFound".into(),
                message: "the object does not exist".into(),
                deleting: false,
            });
        }
        rows.sort_by(|a, b| {
            kind_rank(&a.id.kind, kinds)
                .cmp(&kind_rank(&b.id.kind, kinds))
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(rows)
    }

    fn wait_until_ready(
        &self,
        applied: &[ObjectId],
        kinds: &[String],
        operator_pid: u32,
        deadline: Option<Instant>,
        started: Instant,
    ) -> Result<Vec<Row>> {
        note("waiting until every object is Ready (the table is printed when something changes)");
        let mut last: Option<Vec<Row>> = None;
        loop {
            let rows = self.rows(applied, kinds, true)?;
            if last.as_ref() != Some(&rows) {
                print_table(&rows, started);
            }
            if rows.iter().all(Row::is_ready) {
                return Ok(rows);
            }
            if !process::is_alive(operator_pid) {
                bail!("the operator exited; {}", self.operator_tail());
            }
            if let Some(deadline) = deadline
                && Instant::now() > deadline
            {
                let stuck: Vec<String> = rows
                    .iter()
                    .filter(|r| !r.is_ready())
                    .map(|r| {
                        format!(
                            "{} (Ready={} {}: {})",
                            r.id.display(),
                            r.ready,
                            r.reason,
                            r.message
                        )
                    })
                    .collect();
                bail!(
                    "not Ready {} after the samples were applied: {}\n{}",
                    process::human(started.elapsed()),
                    stuck.join("; "),
                    self.operator_tail()
                );
            }
            last = Some(rows);
            thread::sleep(POLL);
        }
    }

    fn operator_tail(&self) -> String {
        match &self.operator_log {
            Some(log) => format!("last lines of {}:\n{}", log.display(), process::tail(log, 30)),
            None => String::new(),
        }
    }

    fn print_poke_help(&self, kinds: &[String], emulator: &Emulator, operator_port: u16) {
        let has = |kind: &str| kinds.iter().any(|k| k == kind);
        let mut help = String::from("\nEverything is Ready. Poke at it from another terminal:\n\n");
        help.push_str(&format!("  export KUBECONFIG={}\n", self.kubeconfig.display()));
        if let Some(cp) = &self.control_plane {
            help.push_str(&format!(
                "  export PATH={}:\"$PATH\"     # a kubectl matching the server\n",
                cp.state().path_dir.display()
            ));
        }
        let resources: Vec<String> = kinds
            .iter()
            .map(|k| format!("{}s", k.to_ascii_lowercase()))
            .collect();
        help.push_str(&format!("  kubectl get {} -A\n", resources.join(",")));
        if has("EdgeCloud") {
            help.push_str(
                "\n  # scale the fleet (members are EdgeInstances labelled edgefleet.io/edge-cloud=web-fleet)\n\
                 \x20 kubectl scale edgecloud web-fleet --replicas=8\n\
                 \n  # delete a fleet member: the fleet replaces it\n\
                 \x20 kubectl delete $(kubectl get edgeinstance -l edgefleet.io/edge-cloud=web-fleet -o name | head -1)\n",
            );
        }
        if has("EdgeInstance") {
            help.push_str(
                "\n  # stop an instance, then start it again\n\
                 \x20 kubectl patch edgeinstance web-zs-1 --type merge -p '{\"spec\":{\"powerState\":\"Stopped\"}}'\n\
                 \x20 kubectl patch edgeinstance web-zs-1 --type merge -p '{\"spec\":{\"powerState\":\"Running\"}}'\n\
                 \n  # delete it: the operator deletes the cloud instance, then the object goes\n\
                 \x20 kubectl delete edgeinstance web-zs-1\n",
            );
        }
        if has("SecurityGroup") {
            help.push_str(
                "\n  # edit the rules: the cloud group follows the spec exactly (ruleManagement: Authoritative)\n\
                 \x20 kubectl patch securitygroup web --type json -p '[{\"op\":\"remove\",\"path\":\"/spec/rules/2\"}]'\n",
            );
        }
        if has("Vpc") {
            help.push_str(
                "\n  # delete a VPC (blocked while something in the cloud still uses it)\n\
                 \x20 kubectl delete vpc app-vpc --wait=false\n",
            );
        }
        help.push_str(&format!(
            "\n  # what the cloud holds, and the operator's view\n\
             \x20 curl -s {}/_emulator/state | head -c 2000\n\
             \x20 curl -s http://127.0.0.1:{operator_port}/metrics | grep ^edgefleet_\n\
             \n  logs: {}\n\nThe table below follows every change. Ctrl-C stops the operator, the emulator and the \
             control plane.\n",
            emulator.admin_url(),
            self.dir.display()
        ));
        eprintln!("{help}");
    }

    fn watch_forever(
        &self,
        applied: &[ObjectId],
        kinds: &[String],
        operator_pid: u32,
        mut last: Vec<Row>,
        started: Instant,
    ) -> Result<()> {
        loop {
            thread::sleep(POLL);
            if !process::is_alive(operator_pid) {
                bail!("the operator exited; {}", self.operator_tail());
            }
            // Objects the user deleted on purpose are not reported as missing.
            let rows = self.rows(applied, kinds, false)?;
            if rows != last {
                print_table(&rows, started);
                last = rows;
            }
        }
    }

    /// Deletes the applied samples (newest first) and waits until they are gone, so the operator's
    /// finalizers delete the cloud objects; then checks the emulator holds none of them.
    fn cleanup(&self, applied: &[ObjectId], kinds: &[String], emulator: &Emulator) -> Result<()> {
        note("cleaning up: deleting the samples (the operator deletes the cloud objects)");
        for id in applied.iter().rev() {
            let mut cmd = self.kubectl();
            cmd.args([
                "delete",
                &plural(&id.kind),
                &id.name,
                "--ignore-not-found",
                "--wait=false",
            ]);
            if let Some(ns) = &id.namespace {
                cmd.args(["-n", ns]);
            }
            process::output(&mut cmd)?;
        }
        let deadline = Instant::now() + CLEANUP_TIMEOUT;
        loop {
            let rows = self.rows(applied, kinds, true)?;
            let left: Vec<String> = rows
                .iter()
                .filter(|r| r.reason != "NotFound")
                .map(|r| format!("{} ({}: {})", r.id.display(), r.reason, r.message))
                .collect();
            if left.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                bail!("still present after deletion: {}", left.join("; "));
            }
            thread::sleep(POLL);
        }
        let state = process::http_get(emulator.admin_port, "/_emulator/state", Duration::from_secs(5))?;
        let body = state.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let state: Value = serde_json::from_str(body).context("failed to parse the emulator state")?;
        let leaked = leaked_cloud_objects(&state);
        if !leaked.is_empty() {
            bail!("the emulator still holds cloud objects after the samples were deleted: {leaked:?}");
        }
        note("samples deleted; the emulator holds no VPC, security group, instance or fleet of any cloud");
        // The Secret and the namespace stay: harmless, and the namespace may be someone else's.
        Ok(())
    }

    /// Stops what the demo started: its own processes, then (own control plane) everything by pid.
    fn stop(&mut self) -> Result<()> {
        for (name, mut child) in self.children.drain(..).rev() {
            process::stop_pid(child.id(), "", Duration::from_secs(20));
            let _ = child.wait();
            note(&format!("{name} stopped"));
        }
        match self.control_plane.take() {
            Some(cp) => {
                note("stopping the operator, the emulator and the control plane");
                cp.stop()
            }
            None => Ok(()),
        }
    }

    /// Removes the directory of logs (existing-cluster mode, after a success; on failure it is kept).
    fn remove_logs(&self) {
        if self.control_plane.is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// `edgefleet controllers`: the kinds the operator runs controllers for.
fn controlled_kinds(bins: &Binaries) -> Result<Vec<String>> {
    let out = process::output(Command::new(&bins.edgefleet).arg("controllers"))?;
    let kinds: Vec<String> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if kinds.is_empty() {
        bail!("`edgefleet controllers` listed no controller");
    }
    Ok(kinds)
}

/// Splits a YAML stream into its documents (on `---` lines), dropping empty ones.
fn split_documents(text: &str) -> Vec<String> {
    let mut documents = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            documents.push(String::new());
        } else if let Some(current) = documents.last_mut() {
            current.push_str(line);
            current.push('\n');
        }
    }
    documents
        .into_iter()
        .filter(|d| d.lines().any(|l| l.starts_with("kind:")))
        .collect()
}

/// Kind, namespace and name of a YAML document, read from its top-level `kind:` and `metadata:` block.
fn object_id(document: &str) -> Option<ObjectId> {
    let mut kind = None;
    let mut name = None;
    let mut namespace = None;
    let mut in_metadata = false;
    for line in document.lines() {
        let value = |l: &str, key: &str| {
            l.strip_prefix(key)
                .map(|v| v.split('#').next().unwrap_or_default().trim().to_owned())
        };
        if !line.starts_with(' ') {
            in_metadata = line.starts_with("metadata:");
            if let Some(k) = value(line, "kind:") {
                kind = Some(k);
            }
        } else if in_metadata {
            if let Some(n) = value(line, "  name:") {
                name = Some(n);
            } else if let Some(n) = value(line, "  namespace:") {
                namespace = Some(n);
            }
        }
    }
    Some(ObjectId {
        kind: kind?,
        namespace,
        name: name?,
    })
}

fn is_edgefleet_kind(kind: &str) -> bool {
    [
        "ProviderConfig",
        "Vpc",
        "SecurityGroup",
        "EdgeInstance",
        "EdgeCloud",
    ]
    .contains(&kind)
}

/// `Vpc` → `vpcs.edgefleet.io`.
fn plural(kind: &str) -> String {
    format!("{}s.edgefleet.io", kind.to_ascii_lowercase())
}

fn kind_rank(kind: &str, kinds: &[String]) -> usize {
    kinds.iter().position(|k| k == kind).unwrap_or(kinds.len())
}

/// A table row from an object of `kubectl get -o json`.
fn row(obj: &Value) -> Row {
    let condition = |type_: &str| {
        obj.pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let ready = condition("Ready");
    let synced = condition("Synced");
    let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
    Row {
        id: ObjectId {
            kind: text(obj, "kind"),
            namespace: obj["metadata"]["namespace"].as_str().map(str::to_owned),
            name: text(&obj["metadata"], "name"),
        },
        ready: ready["status"].as_str().unwrap_or("-").to_owned(),
        synced: synced["status"].as_str().unwrap_or("-").to_owned(),
        reason: text(&ready, "reason"),
        message: text(&ready, "message"),
        deleting: obj["metadata"]["deletionTimestamp"].is_string(),
    }
}

fn print_table(rows: &[Row], started: Instant) {
    let ready = rows.iter().filter(|r| r.is_ready()).count();
    let mut out = format!(
        "\n[{}] {ready}/{} Ready\n",
        process::human(started.elapsed()),
        rows.len()
    );
    let widths = (
        rows.iter().map(|r| r.id.kind.len()).max().unwrap_or(4).max(4),
        rows.iter()
            .map(|r| r.id.namespace.as_deref().map_or(1, str::len) + r.id.name.len() + 1)
            .max()
            .unwrap_or(4)
            .max(4),
    );
    out.push_str(&format!(
        "  {:<k$}  {:<n$}  {:<5}  {:<6}  {}\n",
        "KIND",
        "NAME",
        "READY",
        "SYNCED",
        "REASON: MESSAGE",
        k = widths.0,
        n = widths.1
    ));
    for r in rows {
        let name = match &r.id.namespace {
            Some(ns) => format!("{ns}/{}", r.id.name),
            None => r.id.name.clone(),
        };
        let mut detail = if r.message.is_empty() {
            r.reason.clone()
        } else {
            format!("{}: {}", r.reason, r.message)
        };
        if r.deleting {
            detail = format!("(deleting) {detail}");
        }
        if detail.len() > 90 {
            let mut cut = 90;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
            detail.push('…');
        }
        out.push_str(&format!(
            "  {:<k$}  {:<n$}  {:<5}  {:<6}  {detail}\n",
            r.id.kind,
            name,
            r.ready,
            r.synced,
            k = widths.0,
            n = widths.1
        ));
    }
    eprint!("{out}");
}

/// Whether `sample` is a ProviderConfig sample (which must name an emulator endpoint).
fn is_provider_config_sample(sample: &str) -> bool {
    sample
        .rsplit('/')
        .next()
        .is_some_and(|f| f.starts_with("providerconfig"))
}

/// The emulator tables (record kinds) that must be empty once the samples are deleted.
const CLOUD_TABLES: &[&str] = &[
    "iec.vpc",
    "iec.subnet",
    "iec.security_group",
    "iec.instance",
    "iec.edgecloud",
    "veen.cloud_server",
    "veen.instance",
    "veen.vpc",
    "veen.security_group",
    "workspace.server_group",
    "workspace.app_server",
];

/// Cloud objects still present in an emulator state snapshot (`GET /_emulator/state`:
/// `{"accounts": {<domain>: {"tables": {<kind>: [rows]}}}}`), as `<domain>: <n> <kind>`.
fn leaked_cloud_objects(state: &Value) -> Vec<String> {
    let mut leaked = Vec::new();
    for (account, store) in state["accounts"].as_object().into_iter().flatten() {
        for table in CLOUD_TABLES {
            let rows = store["tables"][*table].as_array().map_or(0, Vec::len);
            if rows > 0 {
                leaked.push(format!("{account}: {rows} {table}"));
            }
        }
    }
    leaked
}

/// The status code of a raw HTTP response (`HTTP/1.x 200 OK`).
fn http_status(response: &str) -> Option<u16> {
    response.split_whitespace().nth(1)?.parse().ok()
}

fn note(message: &str) {
    eprintln!("[demo] {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_and_their_ids() {
        let text = "# comment\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s   # the secret\n  \
                    namespace: edgefleet-system\nstringData:\n  name: not-this\n---\napiVersion: x/v1\nkind: \
                    ProviderConfig\nmetadata:\n  name: pc\nspec:\n  name: nope\n";
        let docs = split_documents(text);
        assert_eq!(docs.len(), 2);
        assert_eq!(
            object_id(&docs[0]),
            Some(ObjectId {
                kind: "Secret".into(),
                namespace: Some("edgefleet-system".into()),
                name: "s".into()
            })
        );
        assert_eq!(
            object_id(&docs[1]),
            Some(ObjectId {
                kind: "ProviderConfig".into(),
                namespace: None,
                name: "pc".into()
            })
        );
    }

    #[test]
    fn every_sample_endpoint_is_replaced_by_its_clouds_emulator_address() {
        let emulator = Emulator {
            urls: (0..CLOUDS.len())
                .map(|i| format!("http://127.0.0.1:{}", i + 1))
                .collect(),
            admin_port: 1,
        };
        let sample: String = CLOUDS
            .iter()
            .map(|c| format!("{}: {}\n", c.name, c.sample_endpoint))
            .collect();
        let (text, n) = point_at_emulator(&sample, &emulator);
        assert_eq!(n, CLOUDS.len());
        let want: String = CLOUDS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{}: http://127.0.0.1:{}\n", c.name, i + 1))
            .collect();
        assert_eq!(text, want);
        let mut endpoints: Vec<_> = CLOUDS.iter().map(|c| c.sample_endpoint).collect();
        endpoints.sort_unstable();
        endpoints.dedup();
        assert_eq!(
            endpoints.len(),
            CLOUDS.len(),
            "two clouds share a sample endpoint"
        );
        assert!(is_provider_config_sample(
            "deploy/samples/providerconfig-veen.yaml"
        ));
        assert!(!is_provider_config_sample("deploy/samples/vpc.yaml"));
    }

    #[test]
    fn every_sample_parses_and_the_provider_config_names_the_emulator() {
        let root = control_plane::repo_root();
        let mut kinds = Vec::new();
        for sample in SAMPLES {
            let text = fs::read_to_string(root.join(sample)).unwrap_or_default();
            let docs = split_documents(&text);
            assert!(!docs.is_empty(), "{sample}");
            for doc in docs {
                let id = object_id(&doc);
                assert!(id.is_some(), "{sample}: {doc}");
                kinds.extend(id.map(|i| i.kind));
            }
            if is_provider_config_sample(sample) {
                assert!(
                    CLOUDS.iter().any(|c| text.contains(c.sample_endpoint)),
                    "{sample} names no emulator endpoint"
                );
            }
        }
        for kind in [
            "ProviderConfig",
            "Vpc",
            "SecurityGroup",
            "EdgeInstance",
            "EdgeCloud",
        ] {
            assert!(kinds.iter().any(|k| k == kind), "no sample of {kind}");
        }
    }

    #[test]
    fn rows_read_conditions_and_deletion() {
        let obj = serde_json::json!({
            "kind": "Vpc",
            "metadata": {"name": "a", "namespace": "default", "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"conditions": [
                {"type": "Ready", "status": "True", "reason": "Available", "message": ""},
                {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"}
            ]}
        });
        let r = row(&obj);
        assert_eq!((r.ready.as_str(), r.synced.as_str()), ("True", "True"));
        assert!(!r.is_ready(), "an object being deleted is not Ready");
        let fresh = row(&serde_json::json!({"kind": "Vpc", "metadata": {"name": "b"}}));
        assert_eq!(fresh.ready, "-");
        assert!(fresh.id.namespace.is_none());
        assert_eq!(plural("SecurityGroup"), "securitygroups.edgefleet.io");
    }
}
