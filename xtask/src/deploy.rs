//! `cargo xtask chart render|check|helm`: the deploy/ artefacts that are generated rather than written.
//!
//! - Helm itself: built once from the `helm.sh/helm/v3` Go module (pinned [`HELM_VERSION`]) through a tiny
//!   wrapper module and cached outside the repository, like the control plane binaries, so rendering is
//!   reproducible and needs no pre-installed Helm.
//! - `render`: copies the generated CRDs from crds/ into the chart's crds/ directory (they are never
//!   hand-edited), writes deploy/install.yaml from `helm template` with the CRDs included, and writes
//!   deploy/argocd/argocd-cm.yaml from deploy/argocd/health.lua (one entry per edgefleet kind).
//! - `check`: the same renders into memory, compared with what is committed, plus `helm lint --strict`;
//!   fails naming every stale file and how to fix it.
//! - `helm`: runs the pinned Helm with any arguments (e.g. `cargo xtask chart helm -- template ...`).
//!
//! See docs/install.md.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde::Deserialize;

use crate::control_plane::{self, K8S_VERSION};
use crate::process;

/// The Helm release rendering deploy/install.yaml and checked by `chart check` (latest v3 at the time of
/// writing; `go list -m -versions helm.sh/helm/v3`). Changing it may change the rendered output: run
/// `cargo xtask chart render` afterwards.
pub const HELM_VERSION: &str = "v3.22.0";
/// The chart, relative to the repository root.
pub const CHART_DIR: &str = "deploy/helm/edgefleet";
/// The rendered manifest for `kubectl apply`, relative to the repository root.
pub const INSTALL_YAML: &str = "deploy/install.yaml";
/// The release name deploy/install.yaml is rendered with (gives the ServiceAccount `edgefleet`).
pub const RELEASE: &str = "edgefleet";
/// The namespace deploy/install.yaml installs into.
pub const NAMESPACE: &str = "edgefleet-system";
/// The generated CRDs, relative to the repository root (`cargo xtask crds`).
const CRDS_DIR: &str = "crds";
/// The Argo CD health script, relative to the repository root.
const ARGOCD_HEALTH_LUA: &str = "deploy/argocd/health.lua";
/// The argocd-cm patch generated from the health script.
const ARGOCD_CM: &str = "deploy/argocd/argocd-cm.yaml";
/// Every edgefleet kind, for the Argo CD health customisations.
const KINDS: &[&str] = &[
    "ProviderConfig",
    "Vpc",
    "SecurityGroup",
    "EdgeInstance",
    "EdgeCloud",
];
/// Values deploy/install.yaml is rendered with on top of values.yaml: a plain `kubectl apply -f` on a fresh
/// cluster must create the namespace too.
const INSTALL_VALUES: &[&str] = &["namespace.create=true"];

/// `cargo xtask chart <action>`.
#[derive(Debug, Subcommand)]
pub enum ChartAction {
    /// Copy crds/ into the chart, write deploy/install.yaml and deploy/argocd/argocd-cm.yaml.
    Render,
    /// Fail unless the chart's CRDs, deploy/install.yaml and argocd-cm.yaml are up to date; `helm lint`.
    Check,
    /// Run the pinned Helm (built on first use) with these arguments.
    Helm {
        /// Arguments for helm, after `--`.
        #[arg(last = true)]
        args: Vec<String>,
    },
}

/// Runs a `chart` action.
pub fn run(action: &ChartAction) -> Result<()> {
    let root = control_plane::repo_root();
    match action {
        ChartAction::Render => render(&root),
        ChartAction::Check => check(&root),
        ChartAction::Helm { args } => {
            let helm = helm()?;
            process::run(Command::new(helm).current_dir(&root).args(args))
        }
    }
}

/// `chart render`: brings every generated deploy/ file up to date.
fn render(root: &Path) -> Result<()> {
    let crds = generated_crds(root)?;
    let chart_crds = root.join(CHART_DIR).join("crds");
    fs::create_dir_all(&chart_crds).with_context(|| format!("failed to create {}", chart_crds.display()))?;
    for stale in yaml_files(&chart_crds)? {
        if !crds.iter().any(|(name, _)| *name == stale) {
            let path = chart_crds.join(&stale);
            fs::remove_file(&path).with_context(|| format!("failed to remove {}", path.display()))?;
        }
    }
    for (name, content) in &crds {
        write_if_changed(&chart_crds.join(name), content)?;
    }
    let helm = helm()?;
    write_if_changed(&root.join(INSTALL_YAML), &render_install(root, &helm)?)?;
    write_if_changed(&root.join(ARGOCD_CM), &render_argocd_cm(root)?)?;
    println!(
        "rendered {INSTALL_YAML} and {ARGOCD_CM} ({} CRDs, helm {HELM_VERSION})",
        crds.len()
    );
    Ok(())
}

/// `chart check`: fails, naming each problem, unless everything `render` writes is already up to date and
/// the chart lints clean.
fn check(root: &Path) -> Result<()> {
    let mut problems = Vec::new();

    let crds = generated_crds(root)?;
    let chart_crds = root.join(CHART_DIR).join("crds");
    let in_chart = yaml_files(&chart_crds)?;
    for (name, content) in &crds {
        match fs::read_to_string(chart_crds.join(name)) {
            Ok(existing) if existing == *content => {}
            Ok(_) => problems.push(format!("{CHART_DIR}/crds/{name} differs from {CRDS_DIR}/{name}")),
            Err(_) => problems.push(format!("{CHART_DIR}/crds/{name} is missing")),
        }
    }
    for name in in_chart {
        if !crds.iter().any(|(generated, _)| *generated == name) {
            problems.push(format!("{CHART_DIR}/crds/{name} is not in {CRDS_DIR}/"));
        }
    }

    let helm = helm()?;
    let rendered = render_install(root, &helm)?;
    if !same_as_file(&root.join(INSTALL_YAML), &rendered)? {
        show_diff(&root.join(INSTALL_YAML), &rendered)?;
        problems.push(format!("{INSTALL_YAML} differs from the rendered chart"));
    }
    if !same_as_file(&root.join(ARGOCD_CM), &render_argocd_cm(root)?)? {
        problems.push(format!("{ARGOCD_CM} differs from {ARGOCD_HEALTH_LUA}"));
    }

    // Lint both the defaults and the values install.yaml is rendered with.
    let lint_default = Command::new(&helm)
        .current_dir(root)
        .args([
            "lint",
            "--strict",
            "--kube-version",
            K8S_VERSION,
            "--namespace",
            NAMESPACE,
            CHART_DIR,
        ])
        .output()
        .context("failed to run helm lint")?;
    let mut lint_install = Command::new(&helm);
    lint_install.current_dir(root).args([
        "lint",
        "--strict",
        "--kube-version",
        K8S_VERSION,
        "--namespace",
        NAMESPACE,
        CHART_DIR,
    ]);
    for value in INSTALL_VALUES {
        lint_install.args(["--set", value]);
    }
    let lint_install = lint_install.output().context("failed to run helm lint")?;
    for lint in [lint_default, lint_install] {
        if !lint.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&lint.stdout).trim());
            eprintln!("{}", String::from_utf8_lossy(&lint.stderr).trim());
            problems.push(format!("helm lint --strict {CHART_DIR} failed"));
        }
    }

    if problems.is_empty() {
        println!(
            "chart ok: crds, {INSTALL_YAML}, {ARGOCD_CM} up to date; helm lint clean (helm {HELM_VERSION})"
        );
        Ok(())
    } else {
        bail!(
            "{}\nfix: `cargo xtask crds` (if the Rust types changed), then `cargo xtask chart render`",
            problems.join("\n")
        )
    }
}

/// deploy/install.yaml as the chart renders it now.
fn render_install(root: &Path, helm: &Path) -> Result<String> {
    let mut cmd = Command::new(helm);
    cmd.current_dir(root).args([
        "template",
        RELEASE,
        CHART_DIR,
        "--namespace",
        NAMESPACE,
        "--include-crds",
        "--kube-version",
        K8S_VERSION,
    ]);
    for value in INSTALL_VALUES {
        cmd.args(["--set", value]);
    }
    let body = process::output(&mut cmd)?;
    Ok(format!(
        "# edgefleet: everything `kubectl apply -f deploy/install.yaml` needs (namespace {NAMESPACE}, CRDs, RBAC,\n\
         # operator Deployment). GENERATED by `cargo xtask chart render` from {CHART_DIR} with\n\
         # `helm template {RELEASE} {CHART_DIR} --namespace {NAMESPACE} --include-crds --set {}`\n\
         # (helm {HELM_VERSION}). Do not edit: change the chart and re-render.\n{body}",
        INSTALL_VALUES.join(" --set ")
    ))
}

/// deploy/argocd/argocd-cm.yaml: a patch for Argo CD's `argocd-cm` with the health script for every kind.
fn render_argocd_cm(root: &Path) -> Result<String> {
    let path = root.join(ARGOCD_HEALTH_LUA);
    let lua = fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))?;
    let mut out = String::from(
        "# Argo CD health checks for the edgefleet.io kinds. GENERATED by `cargo xtask chart render` from\n\
         # deploy/argocd/health.lua; do not edit. Merge it into Argo CD's configuration (it only adds keys):\n\
         #   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file deploy/argocd/argocd-cm.yaml\n\
         # or copy the data keys into your argocd-cm / Helm values (configs.cm). See docs/install.md.\n\
         apiVersion: v1\n\
         kind: ConfigMap\n\
         metadata:\n  name: argocd-cm\n  namespace: argocd\n  labels:\n    app.kubernetes.io/name: argocd-cm\n    \
         app.kubernetes.io/part-of: argocd\n\
         data:\n",
    );
    for kind in KINDS {
        out.push_str(&format!(
            "  resource.customizations.health.edgefleet.io_{kind}: |\n"
        ));
        for line in lua.lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                out.push_str("    ");
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// The generated CRD files (name, content), sorted by name; fails when there are none.
fn generated_crds(root: &Path) -> Result<Vec<(String, String)>> {
    let dir = root.join(CRDS_DIR);
    let mut out = Vec::new();
    for name in yaml_files(&dir)? {
        let path = dir.join(&name);
        let content =
            fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))?;
        out.push((name, content));
    }
    if out.is_empty() {
        bail!("{CRDS_DIR}/ has no CRDs: run `cargo xtask crds` first");
    }
    Ok(out)
}

/// Names of the `*.yaml` files directly in `dir`, sorted; empty when `dir` does not exist.
fn yaml_files(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("failed to list {}", dir.display())),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("failed to list {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".yaml") && entry.file_type().is_ok_and(|t| t.is_file()) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Whether `path` holds exactly `content` (a missing file does not).
fn same_as_file(path: &Path, content: &str) -> Result<bool> {
    match fs::read_to_string(path) {
        Ok(existing) => Ok(existing == content),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("failed to read {}", path.display())),
    }
}

/// Writes `content` to `path` unless it already holds it (keeps mtimes stable for unchanged files).
fn write_if_changed(path: &Path, content: &str) -> Result<()> {
    if same_as_file(path, content)? {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("failed to create {}", parent.display()))?;
    }
    fs::write(path, content).with_context(|| format!("failed to write {}", path.display()))
}

/// Prints `diff -u <path> <rendered>` (best effort: only for the reader).
fn show_diff(path: &Path, rendered: &str) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("edgefleet-chart-check-{}.yaml", std::process::id()));
    fs::write(&tmp, rendered).with_context(|| format!("failed to write {}", tmp.display()))?;
    let result = Command::new("diff").arg("-u").arg(path).arg(&tmp).status();
    let _ = fs::remove_file(&tmp);
    if result.is_err() {
        eprintln!("(no `diff` on PATH to show the difference)");
    }
    Ok(())
}

/// `$XDG_CACHE_HOME/edgefleet/tools/helm-<version>` (default `~/.cache/...`).
fn helm_cache_dir() -> Result<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").context("neither XDG_CACHE_HOME nor HOME is set")?)
            .join(".cache"),
    };
    Ok(base
        .join("edgefleet")
        .join("tools")
        .join(format!("helm-{HELM_VERSION}")))
}

/// The pinned helm binary, built from the Go module on first use.
pub fn helm() -> Result<PathBuf> {
    let dir = helm_cache_dir()?;
    let helm = dir.join("helm");
    if process::is_executable(&helm) {
        return Ok(helm);
    }
    build_helm(&dir)?;
    Ok(helm)
}

/// What `go mod download -json` reports about a module version.
#[derive(Deserialize)]
struct Download {
    #[serde(rename = "GoMod")]
    go_mod: PathBuf,
}

/// Builds `helm` into `dir` from helm.sh/helm/v3@[`HELM_VERSION`] through a generated wrapper module
/// (`go build` of a main package needs a main module; the wrapper pins the version). Concurrent builds each
/// use their own work directory and publish the binary by an atomic rename, so they cannot corrupt it.
fn build_helm(dir: &Path) -> Result<()> {
    let go = process::which("go").context(
        "helm is not cached and Go is not installed: install Go (it builds helm from helm.sh/helm/v3) \
         or put a helm binary at the cached path",
    )?;
    let work = dir.join(format!(".build-{}", std::process::id()));
    fs::create_dir_all(&work).with_context(|| format!("failed to create {}", work.display()))?;
    let result = build_helm_in(&go, dir, &work);
    let _ = fs::remove_dir_all(&work);
    result
}

fn build_helm_in(go: &Path, dir: &Path, work: &Path) -> Result<()> {
    let go_cmd = || {
        let mut cmd = Command::new(go);
        // Never download a toolchain, build a static binary, ignore the caller's GOFLAGS/go.work.
        cmd.current_dir(work)
            .env("GOTOOLCHAIN", "local")
            .env("CGO_ENABLED", "0")
            .env("GOFLAGS", "-mod=mod")
            .env("GOWORK", "off");
        cmd
    };
    let module = format!("helm.sh/helm/v3@{HELM_VERSION}");
    let download = process::output(go_cmd().args(["mod", "download", "-json", &module]))
        .with_context(|| format!("cannot download {module} (check GOPROXY)"))?;
    let download: Download =
        serde_json::from_str(&download).context("failed to parse `go mod download -json` output")?;
    let upstream = fs::read_to_string(&download.go_mod)
        .with_context(|| format!("failed to read {}", download.go_mod.display()))?;
    let go_line = upstream
        .lines()
        .find(|line| line.starts_with("go "))
        .context("helm's go.mod has no `go` line")?;
    let installed = process::output(go_cmd().args(["env", "GOVERSION"]))?;
    let need = go_line.trim_start_matches("go ").trim();
    let have = installed.trim().trim_start_matches("go");
    if version_less(have, need) {
        bail!(
            "helm {HELM_VERSION} needs Go >= {need}, but go{have} is installed (GOTOOLCHAIN=local never downloads one)"
        );
    }
    fs::write(
        work.join("go.mod"),
        format!("module local/edgefleet-helm\n\n{go_line}\n\nrequire helm.sh/helm/v3 {HELM_VERSION}\n"),
    )
    .context("failed to write the wrapper go.mod")?;
    fs::write(
        work.join("tools.go"),
        "//go:build tools\n\npackage tools\n\nimport _ \"helm.sh/helm/v3/cmd/helm\"\n",
    )
    .context("failed to write the wrapper tools.go")?;

    eprintln!(
        "building helm {HELM_VERSION} from the Go module (once; cached in {})",
        dir.display()
    );
    let tmp = dir.join(format!("helm.tmp-{}", std::process::id()));
    let ldflags = format!("-s -w -X helm.sh/helm/v3/internal/version.version={HELM_VERSION}");
    process::run(
        go_cmd()
            .args(["build", "-trimpath", "-ldflags", &ldflags, "-o"])
            .arg(&tmp)
            .arg("helm.sh/helm/v3/cmd/helm"),
    )?;
    let reported = process::output(Command::new(&tmp).args(["version", "--template", "{{.Version}}"]))?;
    if reported.trim() != HELM_VERSION {
        let _ = fs::remove_file(&tmp);
        bail!(
            "the built helm reports version {:?}, expected {HELM_VERSION}",
            reported.trim()
        );
    }
    let helm = dir.join("helm");
    fs::rename(&tmp, &helm).with_context(|| format!("failed to move helm into {}", helm.display()))
}

/// Whether dotted version `a` is older than `b` (`1.25.3` < `1.26.0`); non-numeric parts count as 0.
fn version_less(a: &str, b: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> {
        v.split('.')
            .map(|part| {
                part.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .unwrap_or(0)
            })
            .collect()
    };
    let (a, b) = (parse(a), parse(b));
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied().unwrap_or(0), b.get(i).copied().unwrap_or(0));
        if x != y {
            return x < y;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_order() {
        // (installed, required, installed is too old)
        let cases = [
            ("1.26.8", "1.26.0", false),
            ("1.26", "1.26.0", false),
            ("1.25.9", "1.26.0", true),
            ("1.26rc1", "1.26.0", false),
            ("2.0", "1.26.0", false),
            ("1.9", "1.26", true),
        ];
        for (have, need, older) in cases {
            assert_eq!(version_less(have, need), older, "{have} < {need}");
        }
    }

    #[test]
    fn argocd_cm_has_one_entry_per_kind_with_the_script_indented() {
        let root = control_plane::repo_root();
        let cm = render_argocd_cm(&root).unwrap();
        for kind in KINDS {
            assert!(cm.contains(&format!(
                "resource.customizations.health.edgefleet.io_{kind}: |\n"
            )));
        }
        let lua = fs::read_to_string(root.join(ARGOCD_HEALTH_LUA)).unwrap();
        let first = lua.lines().find(|l| !l.is_empty()).unwrap();
        assert_eq!(cm.matches(&format!("    {first}\n")).count(), KINDS.len());
        assert!(
            !cm.lines().any(|l| l.ends_with(' ')),
            "no trailing whitespace in block scalars"
        );
    }
}
