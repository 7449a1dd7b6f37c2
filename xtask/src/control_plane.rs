//! The local Kubernetes control plane for tests and the demo: locating or building the pinned binaries
//! (etcd, kube-apiserver, kube-controller-manager, and kubectl when the machine has no suitable one),
//! starting them on free loopback ports with a throw-away PKI and state directory, waiting until they are
//! ready, and stopping them again. `cargo xtask control-plane up|down|env|status` and `cargo xtask test`
//! are built on [`ControlPlane`]. The design and measured timings are in docs/testing.md.

use std::ffi::OsString;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::{pki, process};

/// The Kubernetes release the control plane is built from. Keep the minor in step with the `v1_NN` feature
/// of `k8s-openapi` in the workspace Cargo.toml.
pub const K8S_VERSION: &str = "v1.33.13";
/// The etcd release the control plane is built from.
pub const ETCD_VERSION: &str = "v3.6.14";

/// How long each component may take to become ready after it is started.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How many times a start is retried when a freshly picked port was taken by someone else meanwhile.
const START_ATTEMPTS: usize = 3;
/// The controllers kube-controller-manager runs: enough for ownerReference garbage collection, namespace
/// deletion and default service accounts, nothing that needs nodes.
const CONTROLLERS: &str = "garbagecollector,namespace,serviceaccount,serviceaccount-token";

/// The repository root (the parent of the xtask crate).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// `$XDG_CACHE_HOME/edgefleet` (default `~/.cache/edgefleet`): every heavy output the project caches.
pub fn edgefleet_cache() -> Result<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").context("neither XDG_CACHE_HOME nor HOME is set")?)
            .join(".cache"),
    };
    Ok(base.join("edgefleet"))
}

/// `$XDG_CACHE_HOME/edgefleet/control-plane` (default `~/.cache/...`): binaries and the `current` pointer.
fn cache_root() -> Result<PathBuf> {
    Ok(edgefleet_cache()?.join("control-plane"))
}

/// The per-version binary cache directory, e.g. `~/.cache/edgefleet/control-plane/k8s-v1.33.13-etcd-v3.6.14`.
pub fn bin_cache() -> Result<PathBuf> {
    Ok(cache_root()?.join(format!("k8s-{K8S_VERSION}-etcd-{ETCD_VERSION}")))
}

/// The file naming the state directory of the control plane started by `control-plane up`.
fn current_pointer() -> Result<PathBuf> {
    Ok(cache_root()?.join("current"))
}

/// The binaries a control plane runs with.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// etcd server.
    pub etcd: PathBuf,
    /// kube-apiserver.
    pub kube_apiserver: PathBuf,
    /// kube-controller-manager; absent only when `KUBEBUILDER_ASSETS` does not provide one.
    pub kube_controller_manager: Option<PathBuf>,
    /// A kubectl within one minor of the control plane.
    pub kubectl: PathBuf,
    /// The Kubernetes version the apiserver reports (`gitVersion`).
    pub k8s_version: String,
}

/// Locates (or builds, once, into the per-version cache) every binary. `KUBEBUILDER_ASSETS` wins when set.
pub fn binaries() -> Result<Binaries> {
    if let Some(assets) = std::env::var_os("KUBEBUILDER_ASSETS").filter(|v| !v.is_empty()) {
        let assets = PathBuf::from(assets);
        let need = |name: &str| -> Result<PathBuf> {
            let path = assets.join(name);
            if process::is_executable(&path) {
                Ok(path)
            } else {
                bail!("KUBEBUILDER_ASSETS={} has no executable {name}", assets.display())
            }
        };
        let etcd = need("etcd")?;
        let kube_apiserver = need("kube-apiserver")?;
        let kcm = assets.join("kube-controller-manager");
        let kube_controller_manager = process::is_executable(&kcm).then_some(kcm);
        let k8s_version = binary_version(&kube_apiserver)?;
        let kubectl = match find_kubectl(Some(&assets)) {
            Some(k) => k,
            None => {
                build(true)?;
                bin_cache()?.join("kubectl")
            }
        };
        return Ok(Binaries {
            etcd,
            kube_apiserver,
            kube_controller_manager,
            kubectl,
            k8s_version,
        });
    }

    let dir = bin_cache()?;
    let kubectl = find_kubectl(None);
    let missing = ["etcd", "kube-apiserver", "kube-controller-manager"]
        .iter()
        .any(|b| !process::is_executable(&dir.join(b)));
    if missing || kubectl.is_none() {
        build(kubectl.is_none())?;
    }
    Ok(Binaries {
        etcd: dir.join("etcd"),
        kube_apiserver: dir.join("kube-apiserver"),
        kube_controller_manager: Some(dir.join("kube-controller-manager")),
        kubectl: kubectl.unwrap_or_else(|| dir.join("kubectl")),
        k8s_version: K8S_VERSION.to_string(),
    })
}

/// `kube-apiserver --version` prints `Kubernetes v1.33.13`; returns the version word.
fn binary_version(kube_apiserver: &Path) -> Result<String> {
    let out = process::output(Command::new(kube_apiserver).arg("--version"))?;
    out.split_whitespace()
        .last()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("`{} --version` printed nothing", kube_apiserver.display()))
}

/// The minor version of [`K8S_VERSION`] (33 for v1.33.13).
fn k8s_minor() -> u32 {
    K8S_VERSION
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

/// Finds a kubectl within ±1 minor of [`K8S_VERSION`]: `$EDGEFLEET_KUBECTL`, then `<assets>/kubectl`,
/// then a version-suffixed `kubectl.1.NN` beside the `kubectl` on PATH (Google Cloud SDK layout), then the
/// `kubectl` on PATH itself, then one built earlier into the binary cache.
pub fn find_kubectl(assets: Option<&Path>) -> Option<PathBuf> {
    if let Some(explicit) = std::env::var_os("EDGEFLEET_KUBECTL").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(explicit));
    }
    let minor = k8s_minor();
    let mut candidates = Vec::new();
    if let Some(assets) = assets {
        candidates.push(assets.join("kubectl"));
    }
    if let Some(on_path) = process::which("kubectl") {
        let sibling = format!("kubectl.1.{minor}");
        if let Ok(real) = fs::canonicalize(&on_path)
            && let Some(dir) = real.parent()
        {
            candidates.push(dir.join(&sibling));
        }
        if let Some(dir) = on_path.parent() {
            candidates.push(dir.join(&sibling));
        }
        candidates.push(on_path);
    }
    if let Ok(cache) = bin_cache() {
        candidates.push(cache.join("kubectl"));
    }
    candidates
        .into_iter()
        .find(|c| process::is_executable(c) && kubectl_minor(c).is_some_and(|m| m.abs_diff(minor) <= 1))
}

/// The client minor version a kubectl reports, if it runs.
fn kubectl_minor(kubectl: &Path) -> Option<u32> {
    let out = process::output(Command::new(kubectl).args(["version", "--client", "-o", "json"])).ok()?;
    let json: serde_json::Value = serde_json::from_str(&out).ok()?;
    let minor = json.pointer("/clientVersion/minor")?.as_str()?;
    minor.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok()
}

/// Runs xtask/scripts/build-control-plane.sh for the pinned versions, output to `<cache>/build.log`.
fn build(with_kubectl: bool) -> Result<()> {
    let Some(go) = process::which("go") else {
        bail!(
            "Go is not installed, and it is needed to build the control plane binaries ({K8S_VERSION}, etcd \
             {ETCD_VERSION}). Install Go >= 1.24 (https://go.dev/doc/install), or set KUBEBUILDER_ASSETS to a \
             directory containing kube-apiserver and etcd, or use --use-existing-cluster."
        )
    };
    let out = bin_cache()?;
    fs::create_dir_all(&out).with_context(|| format!("failed to create {}", out.display()))?;
    let log = out.join("build.log");
    let script = repo_root().join("xtask/scripts/build-control-plane.sh");
    eprintln!(
        "[xtask] building the control plane binaries with {} (k8s {K8S_VERSION}, etcd {ETCD_VERSION}{}) into \
         {}; a cold build takes ~6-25 min on 2 cores; log: {}",
        go.display(),
        if with_kubectl { ", kubectl" } else { "" },
        out.display(),
        log.display()
    );
    let started = Instant::now();
    let mut child = process::spawn_daemon(
        Path::new("bash"),
        [script.as_os_str()],
        &log,
        &[
            ("K8S_VERSION", K8S_VERSION.as_ref()),
            ("ETCD_VERSION", ETCD_VERSION.as_ref()),
            ("OUT", out.as_os_str()),
            ("WITH_KUBECTL", if with_kubectl { "1" } else { "0" }.as_ref()),
        ],
    )?;
    let mut next_note = Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().context("failed to wait for the build script")? {
            break status;
        }
        if started.elapsed() >= next_note {
            eprintln!(
                "[xtask] still building ({} so far)",
                process::human(started.elapsed())
            );
            next_note += Duration::from_secs(120);
        }
        thread::sleep(Duration::from_millis(500));
    };
    if !status.success() {
        bail!(
            "building the control plane failed ({status}); last lines of {}:\n{}",
            log.display(),
            process::tail(&log, 40)
        );
    }
    eprintln!(
        "[xtask] control plane binaries built in {}",
        process::human(started.elapsed())
    );
    Ok(())
}

/// Makes `dir` hold a `kubectl` symlink to the chosen kubectl, to put first on `PATH`; returns `dir`.
pub fn kubectl_path_dir(dir: PathBuf, kubectl: &Path) -> Result<PathBuf> {
    fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let target = fs::canonicalize(kubectl).unwrap_or_else(|_| kubectl.to_path_buf());
    let link = dir.join("kubectl");
    if fs::read_link(&link).ok().as_deref() != Some(target.as_path()) {
        let tmp = dir.join(format!(".kubectl.{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&target, &tmp)
            .with_context(|| format!("failed to link {} to {}", tmp.display(), target.display()))?;
        fs::rename(&tmp, &link).with_context(|| format!("failed to replace {}", link.display()))?;
    }
    Ok(dir)
}

/// `dir` followed by the current `PATH`.
pub fn path_with(dir: &Path) -> OsString {
    let mut paths = vec![dir.to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(paths).unwrap_or_else(|_| dir.as_os_str().to_os_string())
}

/// One started process of the control plane.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Component {
    /// etcd, kube-apiserver or kube-controller-manager.
    pub name: String,
    /// Its process id.
    pub pid: u32,
    /// Its combined stdout/stderr.
    pub log: PathBuf,
}

/// What `down`, `env` and `status` need to find a running control plane; `<state dir>/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// The temporary directory holding everything (PKI, etcd data, logs, kubeconfig).
    pub state_dir: PathBuf,
    /// Admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// Directory to put first on PATH (contains the matching kubectl).
    pub path_dir: PathBuf,
    /// The kubectl binary used.
    pub kubectl: PathBuf,
    /// `https://127.0.0.1:<port>`.
    pub server: String,
    /// Kubernetes version of the apiserver.
    pub k8s_version: String,
    /// etcd client port.
    pub etcd_port: u16,
    /// Started processes, in start order.
    pub components: Vec<Component>,
}

impl State {
    fn file(state_dir: &Path) -> PathBuf {
        state_dir.join("state.json")
    }

    /// Reads `<state_dir>/state.json`; `None` when it does not exist.
    pub fn load(state_dir: &Path) -> Result<Option<Self>> {
        match fs::read(Self::file(state_dir)) {
            Ok(raw) => Ok(Some(serde_json::from_slice(&raw).with_context(|| {
                format!("failed to parse {}", Self::file(state_dir).display())
            })?)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("failed to read {}", Self::file(state_dir).display())),
        }
    }

    fn save(&self) -> Result<()> {
        let file = Self::file(&self.state_dir);
        let tmp = file.with_extension("json.tmp");
        fs::write(&tmp, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("failed to write {}", tmp.display()))?;
        fs::rename(&tmp, &file).with_context(|| format!("failed to write {}", file.display()))
    }

    /// The environment a client of this control plane needs: KUBECONFIG, PATH (kubectl first) and
    /// EDGEFLEET_TEST_K8S_VERSION (the version cluster tests expect `/version` to report).
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        vec![
            ("KUBECONFIG", self.kubeconfig.clone().into_os_string()),
            ("PATH", path_with(&self.path_dir)),
            ("EDGEFLEET_TEST_K8S_VERSION", self.k8s_version.clone().into()),
        ]
    }

    /// A `kubectl` command bound to this control plane's kubeconfig.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(&self.kubectl);
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        cmd
    }

    fn marker(&self) -> String {
        self.state_dir.to_string_lossy().into_owned()
    }
}

/// Stops every process of `state` (newest first, by pid, SIGTERM then SIGKILL) and removes its state
/// directory. Idempotent.
pub fn teardown(state: &State) -> Result<()> {
    let marker = state.marker();
    // Re-read the file: a concurrent start may have recorded more components than this copy knows.
    let latest = State::load(&state.state_dir)
        .ok()
        .flatten()
        .unwrap_or_else(|| state.clone());
    for component in latest.components.iter().rev() {
        process::stop_pid(component.pid, &marker, Duration::from_secs(10));
    }
    match fs::remove_dir_all(&state.state_dir) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("failed to remove {}", state.state_dir.display())),
    }
    if let Ok(pointer) = current_pointer()
        && fs::read_to_string(&pointer).is_ok_and(|p| Path::new(p.trim()) == state.state_dir)
    {
        let _ = fs::remove_file(pointer);
    }
    Ok(())
}

/// A control plane started by this process. Dropping it tears it down unless [`ControlPlane::detach`] was
/// called; a watchdog child process also tears it down if this process dies (Ctrl-C, SIGKILL).
pub struct ControlPlane {
    state: State,
    watchdog: Option<Child>,
    detached: bool,
}

impl ControlPlane {
    /// Starts etcd, kube-apiserver and (when available) kube-controller-manager, and waits until the API
    /// answers `/readyz`, the `default` namespace exists and the `default` service account was created.
    pub fn start(bins: &Binaries) -> Result<Self> {
        pki::check_openssl()?;
        let mut attempt = 1;
        loop {
            match Self::try_start(bins) {
                Ok(cp) => return Ok(cp),
                Err(StartError::PortTaken(e)) if attempt < START_ATTEMPTS => {
                    eprintln!("[xtask] {e:#}; retrying with other ports");
                    attempt += 1;
                }
                Err(StartError::PortTaken(e) | StartError::Other(e)) => return Err(e),
            }
        }
    }

    fn try_start(bins: &Binaries) -> Result<Self, StartError> {
        let state_dir = new_state_dir()?;
        let path_dir = kubectl_path_dir(state_dir.join("bin"), &bins.kubectl)?;
        let ports = process::free_ports(3)?;
        let (etcd_port, peer_port, api_port) = (ports[0], ports[1], ports[2]);
        let state = State {
            kubeconfig: state_dir.join("kubeconfig"),
            state_dir,
            path_dir,
            kubectl: bins.kubectl.clone(),
            server: format!("https://127.0.0.1:{api_port}"),
            k8s_version: bins.k8s_version.clone(),
            etcd_port,
            components: Vec::new(),
        };
        state.save()?;
        let mut cp = ControlPlane {
            state,
            watchdog: None,
            detached: false,
        };
        cp.watchdog = Some(spawn_watchdog(&cp.state.state_dir)?);

        let dir = cp.state.state_dir.clone();
        let logs = dir.join("logs");
        fs::create_dir_all(&logs).map_err(anyhow::Error::from)?;
        let pki_dir = dir.join("pki");
        let pki = pki::generate(&pki_dir)?;
        fs::set_permissions(&pki_dir, fs::Permissions::from_mode(0o700)).map_err(anyhow::Error::from)?;
        write_kubeconfig(&cp.state.kubeconfig, &cp.state.server, &pki)?;

        // etcd
        let etcd_help = process::output(Command::new(&bins.etcd).arg("--help")).unwrap_or_default();
        let client_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let mut args: Vec<OsString> = vec![
            "--name=edgefleet".into(),
            arg("--data-dir=", dir.join("etcd")),
            format!("--listen-client-urls={client_url}").into(),
            format!("--advertise-client-urls={client_url}").into(),
            format!("--listen-peer-urls={peer_url}").into(),
            format!("--initial-advertise-peer-urls={peer_url}").into(),
            format!("--initial-cluster=edgefleet={peer_url}").into(),
        ];
        if etcd_help.contains("unsafe-no-fsync") {
            args.push("--unsafe-no-fsync".into());
        }
        let etcd = cp.spawn("etcd", &bins.etcd, args, &logs)?;
        cp.wait_until(
            &etcd,
            Duration::from_secs(30),
            "/health to report healthy",
            || {
                let response = process::http_get(etcd_port, "/health", Duration::from_secs(2))?;
                if response.contains("\"health\":\"true\"") {
                    Ok(())
                } else {
                    Err(anyhow!(
                        "unhealthy: {}",
                        response.lines().last().unwrap_or_default()
                    ))
                }
            },
        )?;

        // kube-apiserver
        let mut args: Vec<OsString> = vec![
            format!("--etcd-servers={client_url}").into(),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={api_port}").into(),
            arg("--cert-dir=", pki_dir.clone()),
            arg("--tls-cert-file=", &pki.server_crt),
            arg("--tls-private-key-file=", &pki.server_key),
            arg("--client-ca-file=", &pki.ca_crt),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            format!("--service-account-issuer=https://127.0.0.1:{api_port}/").into(),
            arg("--service-account-key-file=", &pki.sa_pub),
            arg("--service-account-signing-key-file=", &pki.sa_key),
            "--authorization-mode=RBAC".into(),
            "--allow-privileged=true".into(),
            "--endpoint-reconciler-type=none".into(),
        ];
        if bins.kube_controller_manager.is_none() {
            // Without the service-account controller no `default` ServiceAccount appears, and the
            // admission plugin would reject every pod.
            args.push("--disable-admission-plugins=ServiceAccount".into());
        }
        let apiserver = cp.spawn("kube-apiserver", &bins.kube_apiserver, args, &logs)?;
        let client = cp.state.clone();
        let kubectl =
            |args: &[&str]| process::output(client.kubectl().args(args).arg("--request-timeout=5s"));
        cp.wait_until(&apiserver, READY_TIMEOUT, "/readyz to answer ok", || {
            kubectl(&["get", "--raw=/readyz"]).map(|_| ())
        })?;
        cp.wait_until(
            &apiserver,
            READY_TIMEOUT,
            "the default namespace to exist",
            || kubectl(&["get", "namespace", "default", "-o", "name"]).map(|_| ()),
        )?;

        // kube-controller-manager
        if let Some(kcm_bin) = &bins.kube_controller_manager {
            let args: Vec<OsString> = vec![
                arg("--kubeconfig=", &cp.state.kubeconfig),
                format!("--controllers={CONTROLLERS}").into(),
                arg("--service-account-private-key-file=", &pki.sa_key),
                arg("--root-ca-file=", &pki.ca_crt),
                "--use-service-account-credentials=false".into(),
                "--leader-elect=false".into(),
                "--secure-port=0".into(),
            ];
            let kcm = cp.spawn("kube-controller-manager", kcm_bin, args, &logs)?;
            cp.wait_until(
                &kcm,
                READY_TIMEOUT,
                "the default service account to be created",
                || {
                    kubectl(&[
                        "get",
                        "serviceaccount",
                        "default",
                        "--namespace=default",
                        "-o",
                        "name",
                    ])
                    .map(|_| ())
                },
            )?;
        }
        Ok(cp)
    }

    fn spawn(
        &mut self,
        name: &str,
        binary: &Path,
        args: Vec<OsString>,
        logs: &Path,
    ) -> Result<Component, StartError> {
        let log = logs.join(format!("{name}.log"));
        let child = process::spawn_daemon(binary, &args, &log, &[])?;
        let component = Component {
            name: name.to_string(),
            pid: child.id(),
            log,
        };
        // The Child handle is dropped on purpose: the process outlives `control-plane up`. Liveness is read
        // from /proc, where an unreaped child shows as a zombie.
        drop(child);
        self.state.components.push(component.clone());
        self.state.save()?;
        Ok(component)
    }

    /// Polls `probe` every 250 ms until it succeeds, `component` dies, or `timeout` passes.
    fn wait_until(
        &self,
        component: &Component,
        timeout: Duration,
        what: &str,
        mut probe: impl FnMut() -> Result<()>,
    ) -> Result<(), StartError> {
        let started = Instant::now();
        loop {
            let last = match probe() {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let dead = !process::is_alive(component.pid);
            if dead || started.elapsed() > timeout {
                let tail = process::tail(&component.log, 30);
                let kept = self.keep_logs();
                let headline = if dead {
                    format!("{} exited while waiting for {what}", component.name)
                } else {
                    format!(
                        "timed out after {} waiting for {} {what} (last error: {last:#})",
                        process::human(timeout),
                        component.name
                    )
                };
                let error = anyhow!(
                    "{headline}; all logs copied to {}; last lines of {}.log:\n{tail}",
                    kept.display(),
                    component.name
                );
                return Err(if dead && tail.contains("address already in use") {
                    StartError::PortTaken(error)
                } else {
                    StartError::Other(error)
                });
            }
            thread::sleep(Duration::from_millis(250));
        }
    }

    /// Copies the logs of a failed start to `~/.cache/edgefleet/control-plane/failed-start-logs/` (the state
    /// directory is removed on failure) and returns that directory.
    fn keep_logs(&self) -> PathBuf {
        let dest = cache_root()
            .map(|root| root.join("failed-start-logs"))
            .unwrap_or_else(|_| std::env::temp_dir().join("edgefleet-failed-start-logs"));
        let _ = fs::remove_dir_all(&dest);
        if fs::create_dir_all(&dest).is_ok() {
            for component in &self.state.components {
                let _ = fs::copy(&component.log, dest.join(format!("{}.log", component.name)));
            }
        }
        dest
    }

    /// The recorded state (ports, pids, paths).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Records another process started for this control plane (the demo's emulator and operator), so that
    /// [`ControlPlane::stop`], dropping, and the watchdog stop it too — before the control plane itself
    /// (newest first). Its command line must contain the state directory's path: that is the pid-reuse
    /// guard of [`teardown`].
    pub fn add_component(&mut self, component: Component) -> Result<()> {
        self.state.components.push(component);
        self.state.save()
    }

    /// Leaves the control plane running after this process exits and records it as the current one (what
    /// `control-plane env|status|down` act on).
    pub fn detach(mut self) -> Result<State> {
        self.detached = true;
        if let Some(mut watchdog) = self.watchdog.take() {
            if let Some(mut stdin) = watchdog.stdin.take() {
                stdin
                    .write_all(b"keep\n")
                    .context("failed to disarm the watchdog")?;
            }
            let _ = watchdog.wait();
        }
        let pointer = current_pointer()?;
        if let Some(parent) = pointer.parent() {
            fs::create_dir_all(parent).with_context(|| format!("failed to create {}", parent.display()))?;
        }
        fs::write(&pointer, self.state.state_dir.to_string_lossy().as_bytes())
            .with_context(|| format!("failed to write {}", pointer.display()))?;
        Ok(self.state.clone())
    }

    /// Stops everything and removes the state directory.
    pub fn stop(mut self) -> Result<()> {
        self.detached = true;
        let result = teardown(&self.state);
        self.close_watchdog();
        result
    }

    fn close_watchdog(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            drop(watchdog.stdin.take());
            let _ = watchdog.wait();
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if !self.detached {
            if let Err(e) = teardown(&self.state) {
                eprintln!("[xtask] failed to tear down the control plane: {e:#}");
            }
            self.close_watchdog();
        }
    }
}

/// Why a start attempt failed: a port race (worth retrying with new ports) or anything else.
enum StartError {
    PortTaken(anyhow::Error),
    Other(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for StartError {
    fn from(e: E) -> Self {
        StartError::Other(e.into())
    }
}

fn arg(flag: &str, value: impl AsRef<Path>) -> OsString {
    let mut s = OsString::from(flag);
    s.push(value.as_ref().as_os_str());
    s
}

/// Creates `$XDG_RUNTIME_DIR/edgefleet-cp-<id>` (or under /tmp), mode 0700.
fn new_state_dir() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = base.join(format!("edgefleet-cp-{}-{nanos:08x}", std::process::id()));
    fs::create_dir(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("failed to restrict {}", dir.display()))?;
    Ok(dir)
}

/// Writes an admin kubeconfig (client certificate, embedded data), mode 0600.
fn write_kubeconfig(path: &Path, server: &str, pki: &pki::Pki) -> Result<()> {
    let b64 = |p: &Path| -> Result<String> {
        let raw = fs::read(p).with_context(|| format!("failed to read {}", p.display()))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(raw))
    };
    let text = format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: edgefleet-test\n  \
           cluster:\n    \
             server: {server}\n    \
             certificate-authority-data: {ca}\n\
         users:\n\
         - name: edgefleet-test-admin\n  \
           user:\n    \
             client-certificate-data: {crt}\n    \
             client-key-data: {key}\n\
         contexts:\n\
         - name: edgefleet-test\n  \
           context:\n    \
             cluster: edgefleet-test\n    \
             user: edgefleet-test-admin\n    \
             namespace: default\n\
         current-context: edgefleet-test\n",
        ca = b64(&pki.ca_crt)?,
        crt = b64(&pki.admin_crt)?,
        key = b64(&pki.admin_key)?,
    );
    fs::write(path, text).with_context(|| format!("failed to write {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("failed to restrict {}", path.display()))
}

/// Starts `xtask control-plane watchdog` in its own process group. It tears the control plane down when
/// our end of its stdin closes without a `keep` line, i.e. when this process exits for any reason before
/// calling [`ControlPlane::detach`].
fn spawn_watchdog(state_dir: &Path) -> Result<Child> {
    let exe = std::env::current_exe().context("failed to locate the xtask executable")?;
    Command::new(exe)
        .args(["control-plane", "watchdog", "--state-dir"])
        .arg(state_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        // Inherited, so that after a Ctrl-C the terminal shows what the watchdog stopped.
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .context("failed to start the control plane watchdog")
}

/// Runs `driver` against a control plane of its own (started for it, pointed at by the driver's
/// environment, stopped afterwards whatever the driver's outcome): the bench and chaos drivers read the
/// apiserver's global counters, which other users' leftovers would disturb. `label` names it in the log.
pub fn run_on_fresh(driver: &mut Command, label: &str) -> Result<()> {
    let bins = binaries()?;
    let cp = ControlPlane::start(&bins)?;
    eprintln!(
        "[xtask] {label} control plane {} at {}",
        cp.state().k8s_version,
        cp.state().server
    );
    for (key, value) in cp.state().env() {
        driver.env(key, value);
    }
    let result = process::run(driver);
    cp.stop()?;
    result
}

/// The watchdog's body: waits for stdin to close; unless it read `keep`, tears down `state_dir`.
pub fn watchdog(state_dir: &Path) -> Result<()> {
    let mut input = String::new();
    // An error reading stdin means our parent is gone, which is exactly the teardown case.
    let _ = std::io::stdin().read_to_string(&mut input);
    if input.lines().any(|l| l.trim() == "keep") {
        return Ok(());
    }
    match State::load(state_dir)? {
        Some(state) => {
            eprintln!(
                "[xtask] watchdog: xtask ended; stopping {} process(es) of {}",
                state.components.len(),
                state.state_dir.display()
            );
            teardown(&state)?;
            eprintln!("[xtask] watchdog: everything stopped");
            Ok(())
        }
        None => Ok(()),
    }
}

/// The control plane recorded by `up` (or the one in `state_dir` when given), if its state file exists.
pub fn find(state_dir: Option<&Path>) -> Result<Option<State>> {
    let dir = match state_dir {
        Some(dir) => dir.to_path_buf(),
        None => match fs::read_to_string(current_pointer()?) {
            Ok(p) => PathBuf::from(p.trim()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).context("failed to read the current control plane pointer"),
        },
    };
    State::load(&dir)
}

/// Whether every recorded process of `state` is still running.
pub fn all_alive(state: &State) -> bool {
    !state.components.is_empty() && state.components.iter().all(|c| process::is_alive(c.pid))
}

/// `control-plane up`: starts a control plane that outlives this command, unless one is already running.
pub fn up() -> Result<()> {
    if let Some(state) = find(None)? {
        if all_alive(&state) {
            eprintln!(
                "[xtask] a control plane is already running at {} (state {}); `cargo xtask control-plane down` \
                 stops it",
                state.server,
                state.state_dir.display()
            );
            return Ok(());
        }
        eprintln!(
            "[xtask] cleaning up a dead control plane in {}",
            state.state_dir.display()
        );
        teardown(&state)?;
    }
    let started = Instant::now();
    let bins = binaries()?;
    let cp = ControlPlane::start(&bins)?;
    let state = cp.detach()?;
    eprintln!(
        "[xtask] control plane {} up in {} at {} (state {})\n[xtask] use it with: eval \"$(cargo xtask \
         control-plane env)\"",
        state.k8s_version,
        process::human(started.elapsed()),
        state.server,
        state.state_dir.display()
    );
    Ok(())
}

/// `control-plane down`: stops the current control plane; succeeds when none is running.
pub fn down(state_dir: Option<&Path>) -> Result<()> {
    match find(state_dir)? {
        Some(state) => {
            teardown(&state)?;
            eprintln!("[xtask] control plane in {} stopped", state.state_dir.display());
        }
        None => eprintln!("[xtask] no control plane is running"),
    }
    Ok(())
}

/// `control-plane env`: prints `export` lines for a shell's `eval`.
pub fn env(state_dir: Option<&Path>) -> Result<()> {
    let state = find(state_dir)?
        .context("no control plane is running; start one with `cargo xtask control-plane up`")?;
    for (name, value) in state.env() {
        if name == "PATH" {
            println!(
                "export PATH={}:\"$PATH\"",
                shell_quote(&state.path_dir.to_string_lossy())
            );
        } else {
            println!("export {name}={}", shell_quote(&value.to_string_lossy()));
        }
    }
    Ok(())
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `control-plane status`: reports each process and the API's readiness; fails unless all is well.
pub fn status(state_dir: Option<&Path>) -> Result<()> {
    let Some(state) = find(state_dir)? else {
        bail!("no control plane is running");
    };
    println!("state dir:  {}", state.state_dir.display());
    println!("server:     {}", state.server);
    println!("kubeconfig: {}", state.kubeconfig.display());
    println!("kubectl:    {}", state.kubectl.display());
    let mut healthy = true;
    for c in &state.components {
        let alive = process::is_alive(c.pid);
        healthy &= alive;
        println!(
            "{:<24} pid {:<8} {:<8} log {}",
            c.name,
            c.pid,
            if alive { "running" } else { "DEAD" },
            c.log.display()
        );
    }
    match process::output(
        state
            .kubectl()
            .args(["get", "--raw=/version", "--request-timeout=5s"]),
    ) {
        Ok(version) => {
            let json: serde_json::Value = serde_json::from_str(&version).unwrap_or_default();
            println!("/version:   {}", json["gitVersion"].as_str().unwrap_or("?"));
        }
        Err(e) => {
            healthy = false;
            println!("/version:   unreachable ({e:#})");
        }
    }
    match process::output(
        state
            .kubectl()
            .args(["get", "--raw=/readyz", "--request-timeout=5s"]),
    ) {
        Ok(body) => println!("/readyz:    {}", body.trim()),
        Err(e) => {
            healthy = false;
            println!("/readyz:    failing ({e:#})");
        }
    }
    if !healthy {
        bail!(
            "the control plane in {} is not healthy",
            state.state_dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_survives_single_quotes() {
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn pinned_versions_are_well_formed() {
        assert_eq!(k8s_minor(), 33, "keep in step with k8s-openapi's v1_33 feature");
        assert!(ETCD_VERSION.starts_with("v3."), "{ETCD_VERSION}");
    }

    #[test]
    fn state_round_trips_through_its_file() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("edgefleet-state-test-{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        assert!(State::load(&dir)?.is_none());
        let state = State {
            state_dir: dir.clone(),
            kubeconfig: dir.join("kubeconfig"),
            path_dir: dir.join("bin"),
            kubectl: PathBuf::from("/usr/bin/kubectl"),
            server: "https://127.0.0.1:1".into(),
            k8s_version: K8S_VERSION.into(),
            etcd_port: 2,
            components: vec![Component {
                name: "etcd".into(),
                pid: u32::MAX,
                log: dir.join("etcd.log"),
            }],
        };
        state.save()?;
        let loaded = State::load(&dir)?.ok_or_else(|| anyhow!("state file missing"))?;
        assert_eq!(loaded.server, state.server);
        assert_eq!(loaded.components[0].pid, u32::MAX);
        assert!(!all_alive(&loaded));
        // Teardown of a dead control plane is idempotent and removes the directory.
        teardown(&loaded)?;
        teardown(&loaded)?;
        assert!(!dir.exists());
        Ok(())
    }
}
