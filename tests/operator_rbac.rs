//! The operator with nothing but the chart's RBAC: the ServiceAccount, ClusterRole/ClusterRoleBinding and
//! Role/RoleBinding of deploy/install.yaml (renamed into the test namespace) are applied, and the real
//! `edgefleet run` binary talks to the API server as that ServiceAccount, through a recording proxy in this
//! test that impersonates it (`Impersonate-User: system:serviceaccount:<ns>:edgefleet`) with the admin
//! credentials. It converges the samples of every kind with a controller and deletes them again.
//!
//! Checked:
//! - sufficient: no request was answered 403, the log has no "forbidden", everything became Ready and was
//!   deleted (finalizers removed), the cloud is empty;
//! - nothing more than used: every (API group, resource, verb) the roles grant was used by the operator
//!   during the run, except the few listed in [`NOT_EXERCISED`] with the reason they cannot show up in this
//!   run, and the rules on resources whose kind has no controller yet;
//! - no other access: the ServiceAccount cannot, for example, write Secrets or read namespaces.
//!
//! Run with `cargo xtask test`, or `eval "$(cargo xtask control-plane env)" && cargo test --test
//! operator_rbac -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use edgefleet_emulator::Faults;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, PostParams};
use support::operator::{self, Operator, Proxy, Recorded, WAIT, World};
use support::{delete, kubectl, repo_path};

/// The chart's ServiceAccount name.
const SERVICE_ACCOUNT: &str = "edgefleet";
/// The chart's Lease name (the Role grants get/update on it only).
const LEASE: &str = "edgefleet-operator";

/// Granted (group, resource, verb) that this run cannot exercise, and why. Each entry must stay justified:
/// the test fails if one of them is used after all (then the entry is stale), so the list cannot rot.
const NOT_EXERCISED: &[(&str, &str, &str, &str)] = &[(
    "events.k8s.io",
    "events",
    "patch",
    "counts a repeat of the same event into its series (controller::events); a clean create → Ready → \
     delete run publishes each event once (tested in controller_provider_config's \
     events_repeat_as_a_series_and_start_again_after_expiry)",
)];

/// A request as (API group, resource[/subresource], verb), following the API server's request info.
fn access(request: &Recorded) -> Option<(String, String, String)> {
    let parts: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", _version, rest @ ..] => (String::new(), rest),
        ["apis", group, _version, rest @ ..] => ((*group).to_owned(), rest),
        _ => return None,
    };
    let rest = match rest {
        ["namespaces", _ns, rest @ ..] if !rest.is_empty() => rest,
        other => other,
    };
    let (resource, named) = match rest {
        [resource] => ((*resource).to_owned(), false),
        [resource, _name] => ((*resource).to_owned(), true),
        [resource, _name, sub] => (format!("{resource}/{sub}"), true),
        _ => return None,
    };
    let watch = request
        .query
        .split('&')
        .any(|p| p == "watch=true" || p == "watch=1");
    let verb = match (request.method.as_str(), named, watch) {
        ("GET", _, true) => "watch",
        ("GET", false, false) => "list",
        ("GET", true, false) => "get",
        ("POST", _, _) => "create",
        ("PUT", _, _) => "update",
        ("PATCH", _, _) => "patch",
        ("DELETE", true, _) => "delete",
        ("DELETE", false, _) => "deletecollection",
        _ => return None,
    };
    Some((group, resource, verb.to_owned()))
}

/// Every (group, resource, verb) a set of policy rules grants (no wildcards in our chart; checked).
fn granted(rules: &[k8s_openapi::api::rbac::v1::PolicyRule]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in rules {
        for group in rule.api_groups.clone().unwrap_or_default() {
            for resource in rule.resources.clone().unwrap_or_default() {
                for verb in &rule.verbs {
                    assert!(
                        group != "*" && resource != "*" && verb != "*",
                        "the chart must not use wildcards: {rule:?}"
                    );
                    out.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    out
}

/// The RBAC documents of deploy/install.yaml, moved into `namespace` (cluster-scoped names suffixed).
struct ChartRbac {
    service_account: ServiceAccount,
    cluster_role: ClusterRole,
    cluster_role_binding: ClusterRoleBinding,
    role: Role,
    role_binding: RoleBinding,
}

fn chart_rbac(namespace: &str) -> ChartRbac {
    let text = std::fs::read_to_string(repo_path("deploy/install.yaml")).unwrap();
    let documents: Vec<serde_json::Value> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|d: &serde_json::Value| d.is_object())
        .collect();
    let find = |kind: &str| {
        let mut found: Vec<serde_json::Value> =
            documents.iter().filter(|d| d["kind"] == kind).cloned().collect();
        assert_eq!(found.len(), 1, "install.yaml has one {kind}");
        let mut doc = found.remove(0);
        if doc["metadata"]["namespace"].is_string() {
            doc["metadata"]["namespace"] = namespace.into();
        }
        if let Some(subjects) = doc["subjects"].as_array_mut() {
            for subject in subjects {
                subject["namespace"] = namespace.into();
            }
        }
        doc
    };
    let cluster_name = format!("edgefleet-{namespace}");
    let mut cluster_role = find("ClusterRole");
    cluster_role["metadata"]["name"] = cluster_name.clone().into();
    let mut cluster_role_binding = find("ClusterRoleBinding");
    cluster_role_binding["metadata"]["name"] = cluster_name.clone().into();
    cluster_role_binding["roleRef"]["name"] = cluster_name.into();
    ChartRbac {
        service_account: serde_json::from_value(find("ServiceAccount")).unwrap(),
        cluster_role: serde_json::from_value(cluster_role).unwrap(),
        cluster_role_binding: serde_json::from_value(cluster_role_binding).unwrap(),
        role: serde_json::from_value(find("Role")).unwrap(),
        role_binding: serde_json::from_value(find("RoleBinding")).unwrap(),
    }
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn the_chart_rbac_is_sufficient_and_grants_nothing_unused() {
    let world = World::start("rbac", Faults::default()).await;
    let ns = world.ns.name().to_owned();
    let rbac = chart_rbac(&ns);
    assert_eq!(
        rbac.service_account.metadata.name.as_deref(),
        Some(SERVICE_ACCOUNT)
    );
    let pp = PostParams::default();
    world
        .ns
        .api::<ServiceAccount>()
        .create(&pp, &rbac.service_account)
        .await
        .unwrap();
    world.ns.api::<Role>().create(&pp, &rbac.role).await.unwrap();
    world
        .ns
        .api::<RoleBinding>()
        .create(&pp, &rbac.role_binding)
        .await
        .unwrap();
    let cluster_roles: Api<ClusterRole> = Api::all(world.client.clone());
    let cluster_bindings: Api<ClusterRoleBinding> = Api::all(world.client.clone());
    cluster_roles.create(&pp, &rbac.cluster_role).await.unwrap();
    cluster_bindings
        .create(&pp, &rbac.cluster_role_binding)
        .await
        .unwrap();

    // The operator's kubeconfig points at the recording proxy, which acts as the ServiceAccount.
    let proxy = Proxy::start(
        Some((
            format!("system:serviceaccount:{ns}:{SERVICE_ACCOUNT}"),
            vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
                "system:authenticated".into(),
            ],
        )),
        None,
    )
    .await;
    let kubeconfig = proxy.kubeconfig(&ns);
    let mut op = Operator::spawn(
        &world,
        "rbac",
        LEASE,
        &["--kubeconfig", kubeconfig.to_str().unwrap()],
    );
    let ready = op.wait_ready(WAIT).await;
    let deadline = std::time::Instant::now() + WAIT;
    let mut ready = ready;
    while !ready.starts_with("leading") {
        assert!(
            std::time::Instant::now() < deadline,
            "never led: {ready}\n{}",
            op.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        ready = op.get("/readyz").await.map(|(_, b)| b).unwrap_or_default();
    }

    let kinds = operator::sample_kinds();
    let objects = world.samples(&kinds);
    world.create_all(&objects).await;
    world.wait_ready(&objects, WAIT).await;
    world.delete_all(&objects, WAIT).await;
    assert!(world.cloud_rows("iec.vpc").is_empty());
    assert!(world.cloud_rows("iec.security_group").is_empty());
    world.delete_provider_config().await;
    let status = op.terminate(Duration::from_secs(60));
    assert!(status.success(), "{status}; log:\n{}", op.log_tail());

    // Sufficient: nothing was refused.
    let recorded = proxy.recorded();
    let refused: Vec<&Recorded> = recorded.iter().filter(|r| r.status == 403).collect();
    assert!(refused.is_empty(), "refused requests: {refused:#?}");
    let text = op.log_text();
    assert!(
        !text.to_lowercase().contains("forbidden"),
        "the operator's log mentions forbidden:\n{}",
        text.lines()
            .filter(|l| l.to_lowercase().contains("forbidden"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Nothing more than used.
    let used: BTreeSet<(String, String, String)> = recorded.iter().filter_map(access).collect();
    let mut grants = granted(&rbac.cluster_role.rules.clone().unwrap_or_default());
    grants.extend(granted(&rbac.role.rules.clone().unwrap_or_default()));
    // (Discovery and other non-resource requests are not resource accesses: `access` skips them.)
    let ungranted: Vec<&(String, String, String)> = used.iter().filter(|u| !grants.contains(*u)).collect();
    assert!(
        ungranted.is_empty(),
        "used but not granted (yet not refused?): {ungranted:?}"
    );
    let all_kinds = edgefleet::controller::controlled_kinds();
    let plural_of_uncontrolled: Vec<String> = [
        "ProviderConfig",
        "Vpc",
        "SecurityGroup",
        "EdgeInstance",
        "EdgeCloud",
    ]
    .iter()
    .filter(|k| !all_kinds.contains(k))
    .map(|k| format!("{}s", k.to_ascii_lowercase()))
    .collect();
    let uncontrolled = |resource: &str| {
        plural_of_uncontrolled
            .iter()
            .any(|p| resource == p || resource.starts_with(&format!("{p}/")))
    };
    let unused: Vec<&(String, String, String)> = grants
        .iter()
        .filter(|g| !used.contains(*g))
        .filter(|(_, resource, _)| !uncontrolled(resource))
        .filter(|(group, resource, verb)| {
            !NOT_EXERCISED
                .iter()
                .any(|(g, r, v, _)| g == group && r == resource && v == verb)
        })
        .collect();
    let stale: Vec<_> = NOT_EXERCISED
        .iter()
        .filter(|(g, r, v, _)| used.contains(&((*g).to_owned(), (*r).to_owned(), (*v).to_owned())))
        .collect();
    assert!(
        stale.is_empty(),
        "NOT_EXERCISED lists grants that were used: {stale:?}"
    );
    assert!(
        unused.is_empty(),
        "granted but never used in a full create → Ready → delete run: {unused:?}\nused: {used:#?}"
    );

    // No other access.
    let subject = format!("--as=system:serviceaccount:{ns}:{SERVICE_ACCOUNT}");
    for (verb, resource) in [
        ("create", "secrets"),
        ("update", "secrets"),
        ("list", "namespaces"),
        ("create", "pods"),
        ("delete", "vpcs.edgefleet.io"),
        ("create", "leases.coordination.k8s.io"),
    ] {
        let namespace = if resource.starts_with("leases") {
            "default"
        } else {
            ns.as_str()
        };
        let answer = kubectl(&["auth", "can-i", verb, resource, "-n", namespace, &subject])
            .await
            .unwrap_or_else(|e| e.to_string());
        assert!(
            answer.trim_end().ends_with("no") || answer.contains("exit status: 1"),
            "{verb} {resource}: {answer}"
        );
    }

    delete(&cluster_bindings, &format!("edgefleet-{ns}"))
        .await
        .unwrap();
    delete(&cluster_roles, &format!("edgefleet-{ns}")).await.unwrap();
    world.cleanup().await;
}
