//! The deploy/ artefacts: the Helm chart, the rendered deploy/install.yaml and the Argo CD health check.
//!
//! Without a cluster: the chart's CRDs are the generated ones, install.yaml keeps the restricted Pod Security
//! settings, the least-privilege RBAC and the operator's command line, and argocd-cm.yaml embeds
//! health.lua for every kind. In the cluster phase (`cargo xtask test`): the chart renders to exactly
//! install.yaml (`cargo xtask chart check`, which builds the pinned Helm on first use), install.yaml applies
//! to the real API server with `--dry-run=server`, the operator pod is admitted under the enforced
//! restricted profile, and health.lua maps conditions to Argo CD statuses (run with `lua5.4`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod support;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde::Deserialize as _;
use serde_json::{Value, json};

const NAMESPACE: &str = "edgefleet-system";
const KINDS: &[&str] = &[
    "ProviderConfig",
    "Vpc",
    "SecurityGroup",
    "EdgeInstance",
    "EdgeCloud",
];
const PLURALS: &[&str] = &[
    "providerconfigs",
    "vpcs",
    "securitygroups",
    "edgeinstances",
    "edgeclouds",
];

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo(relative)).unwrap_or_else(|e| panic!("read {relative}: {e}"))
}

/// Every non-empty YAML document of a file, as JSON values, in file order.
fn documents(relative: &str) -> Vec<Value> {
    let text = read(relative);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("parse {relative}: {e}")))
        .filter(|doc| !doc.is_null())
        .collect()
}

fn install_objects() -> Vec<Value> {
    documents("deploy/install.yaml")
}

fn find<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found = find(objects, kind);
    assert_eq!(found.len(), 1, "exactly one {kind} in install.yaml");
    found[0]
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected a list, got {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// (apiGroup, resource, verb, resourceNames) for every verb a rule list grants.
fn grants(rules: &Value) -> BTreeSet<(String, String, String, Vec<String>)> {
    let mut out = BTreeSet::new();
    for rule in rules.as_array().unwrap() {
        let names = rule.get("resourceNames").map(strings).unwrap_or_default();
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                for verb in strings(&rule["verbs"]) {
                    out.insert((group.clone(), resource.clone(), verb, names.clone()));
                }
            }
        }
    }
    out
}

fn grant(group: &str, resource: &str, verb: &str) -> (String, String, String, Vec<String>) {
    (group.to_owned(), resource.to_owned(), verb.to_owned(), Vec::new())
}

#[test]
fn chart_crds_are_the_generated_crds() {
    let names = |dir: &str| -> BTreeSet<String> {
        std::fs::read_dir(repo(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml"))
            .collect()
    };
    let generated = names("crds");
    assert_eq!(
        generated.len(),
        KINDS.len(),
        "one generated CRD per kind in crds/"
    );
    assert_eq!(
        names("deploy/helm/edgefleet/crds"),
        generated,
        "the chart carries exactly the generated CRDs (cargo xtask chart render)"
    );
    for name in &generated {
        assert_eq!(
            read(&format!("deploy/helm/edgefleet/crds/{name}")),
            read(&format!("crds/{name}")),
            "chart CRD {name} is a byte-for-byte copy of crds/{name}: run `cargo xtask chart render`"
        );
    }
    // install.yaml carries the same CRDs.
    let objects = install_objects();
    let in_install: BTreeSet<String> = find(&objects, "CustomResourceDefinition")
        .iter()
        .map(|crd| format!("{}.yaml", crd["metadata"]["name"].as_str().unwrap()))
        .collect();
    assert_eq!(in_install, generated);
}

#[test]
fn install_yaml_is_namespaced_and_ordered_for_kubectl_apply() {
    let objects = install_objects();
    let cluster_scoped = [
        "CustomResourceDefinition",
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
    ];
    let namespace_index = objects
        .iter()
        .position(|o| o["kind"] == "Namespace")
        .expect("install.yaml creates its namespace");
    assert_eq!(objects[namespace_index]["metadata"]["name"], NAMESPACE);
    assert_eq!(
        objects[namespace_index]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    for (index, object) in objects.iter().enumerate() {
        let kind = object["kind"].as_str().unwrap();
        if cluster_scoped.contains(&kind) {
            assert!(
                object["metadata"].get("namespace").is_none(),
                "{kind} is cluster-scoped"
            );
        } else {
            assert_eq!(
                object["metadata"]["namespace"], NAMESPACE,
                "{kind} {} names its namespace (kubectl apply has no --namespace)",
                object["metadata"]["name"]
            );
            assert!(index > namespace_index, "{kind} comes after the Namespace");
        }
    }
    for kind in [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Deployment",
    ] {
        one(&objects, kind);
    }
    assert!(
        find(&objects, "ServiceMonitor").is_empty(),
        "ServiceMonitor is off by default"
    );
}

#[test]
fn operator_deployment_meets_the_restricted_profile_and_runs_two_replicas() {
    let objects = install_objects();
    let deployment = one(&objects, "Deployment");
    let chart = documents("deploy/helm/edgefleet/Chart.yaml").remove(0);
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 2);
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "edgefleet");
    assert_eq!(one(&objects, "ServiceAccount")["metadata"]["name"], "edgefleet");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    assert!(pod.get("hostNetwork").is_none() && pod.get("hostPID").is_none() && pod.get("volumes").is_none());

    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    let security = &container["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert!(security["capabilities"].get("add").is_none());
    assert!(security.get("privileged").is_none());

    assert_eq!(
        container["image"],
        format!("edgefleet:{}", chart["appVersion"].as_str().unwrap())
    );
    let args = strings(&container["args"]);
    assert_eq!(args[0], "run");
    for expected in [
        "--leader-elect=true",
        "--http-addr=0.0.0.0:8080",
        "--log-format=json",
    ] {
        assert!(args.iter().any(|a| a == expected), "{expected} in {args:?}");
    }
    let env_field = |name: &str| {
        container["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["valueFrom"]["fieldRef"]["fieldPath"].clone())
    };
    assert_eq!(env_field("POD_NAME"), Some(json!("metadata.name")));
    assert_eq!(env_field("POD_NAMESPACE"), Some(json!("metadata.namespace")));
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(
        container["resources"],
        json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}})
    );

    let pdb = one(&objects, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(pdb["spec"]["selector"], spec["selector"]);
}

#[test]
fn rbac_grants_only_what_the_controllers_use() {
    let objects = install_objects();
    let cluster_role = one(&objects, "ClusterRole");
    let mut expected = BTreeSet::new();
    // The set tests/operator_rbac.rs observes the operator use (no refusal, no unused grant).
    for plural in PLURALS {
        for verb in ["list", "watch", "patch"] {
            expected.insert(grant("edgefleet.io", plural, verb));
        }
        expected.insert(grant("edgefleet.io", &format!("{plural}/status"), "patch"));
    }
    for plural in ["providerconfigs", "vpcs", "securitygroups"] {
        expected.insert(grant("edgefleet.io", plural, "get"));
    }
    expected.insert(grant("edgefleet.io", "edgeinstances", "create"));
    expected.insert(grant("edgefleet.io", "edgeinstances", "delete"));
    for verb in ["get", "list", "watch"] {
        expected.insert(grant("", "secrets", verb));
    }
    for verb in ["create", "patch"] {
        expected.insert(grant("events.k8s.io", "events", verb));
    }
    assert_eq!(grants(&cluster_role["rules"]), expected);

    let deployment = one(&objects, "Deployment");
    let args = strings(&deployment["spec"]["template"]["spec"]["containers"][0]["args"]);
    let lease = args
        .iter()
        .find_map(|a| a.strip_prefix("--leader-election-id="))
        .expect("the Deployment names its Lease");
    let role = one(&objects, "Role");
    let lease_grants: BTreeSet<_> = [
        grant("coordination.k8s.io", "leases", "create"),
        (
            "coordination.k8s.io".into(),
            "leases".into(),
            "get".into(),
            vec![lease.to_owned()],
        ),
        (
            "coordination.k8s.io".into(),
            "leases".into(),
            "update".into(),
            vec![lease.to_owned()],
        ),
    ]
    .into();
    assert_eq!(grants(&role["rules"]), lease_grants);
    assert_eq!(role["metadata"]["namespace"], NAMESPACE);

    for (binding, role_kind, role_name) in [
        (
            one(&objects, "ClusterRoleBinding"),
            "ClusterRole",
            &cluster_role["metadata"]["name"],
        ),
        (one(&objects, "RoleBinding"), "Role", &role["metadata"]["name"]),
    ] {
        assert_eq!(binding["roleRef"]["kind"], role_kind);
        assert_eq!(&binding["roleRef"]["name"], role_name);
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "ServiceAccount", "name": "edgefleet", "namespace": NAMESPACE}])
        );
    }
}

#[test]
fn deployment_args_are_accepted_by_edgefleet_run() {
    // clap parses (and validates) the arguments in order and stops at the trailing --help, so exit 0 means
    // every flag the chart passes exists and its value parses.
    let objects = install_objects();
    let deployment = one(&objects, "Deployment");
    let args = strings(&deployment["spec"]["template"]["spec"]["containers"][0]["args"]);
    let out = Command::new(env!("CARGO_BIN_EXE_edgefleet"))
        .args(&args)
        .arg("--help")
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`edgefleet {}` is rejected: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn edgefleet_crds_ends_quietly_when_the_reader_closes_the_pipe() {
    // `edgefleet crds | head`: the CRDs are far larger than a pipe buffer, so closing the read end after
    // the first bytes makes a later write fail with EPIPE; that must end the output, not fail it.
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgefleet"))
        .arg("crds")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("---\n"));
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn argocd_cm_embeds_the_health_script_for_every_kind() {
    let cm = documents("deploy/argocd/argocd-cm.yaml").remove(0);
    let lua = read("deploy/argocd/health.lua");
    assert_eq!(cm["metadata"]["name"], "argocd-cm");
    let data = cm["data"].as_object().unwrap();
    assert_eq!(data.len(), KINDS.len());
    for kind in KINDS {
        let key = format!("resource.customizations.health.edgefleet.io_{kind}");
        assert_eq!(data[&key], lua, "{key} carries deploy/argocd/health.lua verbatim");
    }
}

#[test]
fn flux_examples_point_at_this_chart() {
    let objects = documents("deploy/flux/operator.yaml");
    let release = one(&objects, "HelmRelease");
    let chart = release["spec"]["chart"]["spec"]["chart"].as_str().unwrap();
    assert!(
        repo(chart.trim_start_matches("./")).join("Chart.yaml").is_file(),
        "HelmRelease chart path {chart} exists"
    );
    assert_eq!(release["spec"]["releaseName"], "edgefleet");
    assert_eq!(release["spec"]["targetNamespace"], NAMESPACE);
    assert_eq!(release["spec"]["upgrade"]["crds"], "CreateReplace");
    let source = one(&objects, "GitRepository");
    assert_eq!(
        release["spec"]["chart"]["spec"]["sourceRef"]["name"],
        source["metadata"]["name"]
    );

    let kustomizations = documents("deploy/flux/kustomizations.yaml");
    assert_eq!(kustomizations.len(), 2);
    assert_eq!(
        kustomizations[1]["spec"]["dependsOn"][0]["name"],
        kustomizations[0]["metadata"]["name"]
    );
    assert!(kustomizations.iter().all(|k| k["spec"]["wait"] == true));
}

// ----- cluster phase -----

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"))
}

fn kubectl(args: &[&str]) -> Output {
    run(Command::new("kubectl").args(args))
}

fn kubectl_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new("kubectl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kubectl");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `cargo xtask chart <args>` from the repository root (builds the pinned Helm on first use).
fn xtask_chart(args: &[&str]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(cargo)
        .current_dir(repo("."))
        .args(["run", "--quiet", "--package", "xtask", "--", "chart"])
        .args(args))
}

#[test]
#[ignore = "needs cluster"]
fn rendered_chart_equals_install_yaml() {
    let out = xtask_chart(&["check"]);
    assert!(
        out.status.success(),
        "cargo xtask chart check failed:\n{}",
        text(&out)
    );
}

#[test]
#[ignore = "needs cluster"]
fn service_monitor_renders_only_with_its_crd() {
    let template = |extra: &[&str]| {
        let mut args = vec![
            "helm",
            "--",
            "template",
            "edgefleet",
            "deploy/helm/edgefleet",
            "--namespace",
            NAMESPACE,
            // helm template assumes Kubernetes v1.20 unless told; the chart needs >= 1.30.
            "--kube-version",
            "v1.33.0",
        ];
        args.extend_from_slice(&["--set", "serviceMonitor.enabled=true"]);
        args.extend_from_slice(extra);
        xtask_chart(&args)
    };
    let without = template(&[]);
    assert!(
        !without.status.success(),
        "rendering must fail without the ServiceMonitor CRD"
    );
    assert!(
        text(&without).contains("monitoring.coreos.com/v1"),
        "{}",
        text(&without)
    );
    let with = template(&["--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"]);
    assert!(with.status.success(), "{}", text(&with));
    assert!(String::from_utf8_lossy(&with.stdout).contains("kind: ServiceMonitor"));
}

#[test]
#[ignore = "needs cluster"]
fn install_yaml_applies_with_server_dry_run() {
    // A server-side dry run does not persist the Namespace it creates, so the namespaced objects need it
    // to exist already (a real `kubectl apply -f` creates it first).
    let created = kubectl(&["create", "namespace", NAMESPACE]);
    assert!(
        created.status.success() || text(&created).contains("AlreadyExists"),
        "{}",
        text(&created)
    );
    let path = repo("deploy/install.yaml");
    let out = kubectl(&["apply", "--dry-run=server", "-f", path.to_str().unwrap()]);
    let output = text(&out);
    assert!(
        out.status.success(),
        "kubectl apply --dry-run=server failed:\n{output}"
    );
    for object in install_objects() {
        let kind = object["kind"].as_str().unwrap().to_lowercase();
        let name = object["metadata"]["name"].as_str().unwrap();
        assert!(
            output.contains(&format!("/{name} ")) && output.contains(&kind),
            "{kind}/{name} not in the dry-run output:\n{output}"
        );
    }
}

#[test]
#[ignore = "needs cluster"]
fn operator_pod_is_admitted_under_enforced_restricted_pod_security() {
    let namespace = format!("deploy-psa-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let ns = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest"}}
    });
    let out = kubectl_stdin(&["create", "-f", "-"], &ns.to_string());
    assert!(out.status.success(), "{}", text(&out));
    // The pod names the operator's ServiceAccount, which admission requires to exist.
    let out = kubectl(&["-n", &namespace, "create", "serviceaccount", "edgefleet"]);
    assert!(out.status.success(), "{}", text(&out));

    let objects = install_objects();
    let template = &one(&objects, "Deployment")["spec"]["template"];
    let pod = |spec: &Value| {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "edgefleet-psa", "namespace": namespace, "labels": template["metadata"]["labels"]},
            "spec": spec})
    };
    let admitted = kubectl_stdin(
        &["create", "--dry-run=server", "-f", "-"],
        &pod(&template["spec"]).to_string(),
    );
    // Control: the same pod allowed to escalate privileges is rejected, so the admission check is active.
    let mut escalating = template["spec"].clone();
    escalating["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = json!(true);
    let rejected = kubectl_stdin(
        &["create", "--dry-run=server", "-f", "-"],
        &pod(&escalating).to_string(),
    );
    let _ = kubectl(&["delete", "namespace", &namespace, "--wait=false"]);

    assert!(
        admitted.status.success(),
        "operator pod rejected:\n{}",
        text(&admitted)
    );
    assert!(
        !rejected.status.success(),
        "PodSecurity admission is not enforcing"
    );
    assert!(
        text(&rejected).contains("allowPrivilegeEscalation"),
        "{}",
        text(&rejected)
    );
}

fn cond(type_: &str, status: &str, reason: &str, message: &str, generation: i64) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message, "observedGeneration": generation})
}

fn object(kind: &str, generation: i64, spec: Value, status: Option<Value>) -> Value {
    let mut obj = json!({"apiVersion": "edgefleet.io/v1alpha1", "kind": kind,
        "metadata": {"name": "x", "namespace": "team-a", "generation": generation}, "spec": spec});
    if let Some(status) = status {
        obj["status"] = status;
    }
    obj
}

#[test]
#[ignore = "needs cluster"] // runs in the cluster phase, where .ci/run has installed lua5.4
fn argocd_health_script_maps_conditions_to_statuses() {
    let ready = |g| cond("Ready", "True", "Available", "the cloud object is usable", g);
    let not_ready = |g| cond("Ready", "False", "Unavailable", "instance is SHUTOFF", g);
    let mut deleting = object(
        "Vpc",
        1,
        json!({}),
        Some(json!({"observedGeneration": 1, "conditions": [ready(1)]})),
    );
    deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    // (case, object, expected status, text the message must contain)
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "new object without status",
            object("Vpc", 1, json!({}), None),
            "Progressing",
            "generation 1",
        ),
        (
            "ready and current",
            object(
                "SecurityGroup",
                3,
                json!({}),
                Some(json!({"observedGeneration": 3, "conditions": [ready(3)]})),
            ),
            "Healthy",
            "usable",
        ),
        (
            "ready but spec changed since",
            object(
                "EdgeInstance",
                4,
                json!({}),
                Some(json!({"observedGeneration": 3, "conditions": [ready(3)]})),
            ),
            "Progressing",
            "generation 4",
        ),
        (
            "ready condition from an older generation",
            object(
                "EdgeInstance",
                4,
                json!({}),
                Some(json!({"observedGeneration": 4, "conditions": [ready(3)]})),
            ),
            "Progressing",
            "older generation",
        ),
        (
            "creating",
            object(
                "EdgeInstance",
                1,
                json!({}),
                Some(json!({"observedGeneration": 1, "conditions": [
                cond("Ready", "False", "Creating", "waiting for the cloud", 1),
                cond("Reconciling", "True", "Creating", "job 42 running", 1)]})),
            ),
            "Progressing",
            "job 42 running",
        ),
        (
            "stalled wins over reconciling",
            object(
                "EdgeCloud",
                2,
                json!({"paused": false}),
                Some(json!({"observedGeneration": 2, "conditions": [
                cond("Ready", "False", "Unavailable", "", 2),
                cond("Reconciling", "True", "Scaling", "scaling", 2),
                cond("Stalled", "True", "NotInCatalog", "flavor c9.huge is not offered at site cn-x", 2)]})),
            ),
            "Degraded",
            "NotInCatalog: flavor c9.huge is not offered",
        ),
        (
            "paused fleet",
            object(
                "EdgeCloud",
                5,
                json!({"paused": true}),
                Some(json!({"observedGeneration": 4, "conditions": [ready(4)]})),
            ),
            "Suspended",
            "spec.paused",
        ),
        (
            "paused means nothing for other kinds",
            object(
                "Vpc",
                1,
                json!({"paused": true}),
                Some(json!({"observedGeneration": 1, "conditions": [ready(1)]})),
            ),
            "Healthy",
            "",
        ),
        (
            "ready unknown",
            object(
                "ProviderConfig",
                1,
                json!({}),
                Some(json!({"observedGeneration": 1, "conditions": [
                cond("Ready", "Unknown", "Pending", "", 1)]})),
            ),
            "Progressing",
            "Ready",
        ),
        (
            "no ready condition yet",
            object(
                "ProviderConfig",
                1,
                json!({}),
                Some(json!({"observedGeneration": 1, "conditions": [
                cond("Synced", "True", "ReconcileSuccess", "", 1)]})),
            ),
            "Progressing",
            "Ready",
        ),
        (
            "not ready, neither working on it nor stalled",
            object(
                "EdgeInstance",
                1,
                json!({}),
                Some(json!({"observedGeneration": 1, "conditions": [not_ready(1)]})),
            ),
            "Degraded",
            "SHUTOFF",
        ),
        ("being deleted", deleting, "Progressing", "deleted"),
    ];

    let script = repo("deploy/argocd/health.lua");
    let mut harness = format!("local check = assert(loadfile({:?}))\n", script.to_str().unwrap());
    for (_, obj, _, _) in &cases {
        // Argo CD hands the object to the script as the global `obj`.
        harness.push_str(&format!(
            "obj = {}\nlocal hs = check()\nprint(hs.status .. \"\\t\" .. string.gsub(hs.message or \"\", \"\\n\", \" \"))\n",
            support::gitops::lua_literal(obj)
        ));
    }
    let mut child = Command::new("lua5.4")
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lua5.4 is needed for this test (apt-get install lua5.4; .ci/run installs it)");
    child.stdin.take().unwrap().write_all(harness.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "lua failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), cases.len(), "{stdout}");
    for ((case, _, status, message), line) in cases.iter().zip(lines) {
        let (got_status, got_message) = line.split_once('\t').unwrap();
        assert_eq!(got_status, *status, "{case}: {line}");
        assert!(
            got_message.contains(message),
            "{case}: message {got_message:?} lacks {message:?}"
        );
    }
}
