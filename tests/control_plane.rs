//! Proves the test control plane is a usable Kubernetes: the pinned version, the CRDs from crds/ installed
//! and Established with their field docs served to `kubectl explain`, the samples accepted by server-side
//! validation, and kube-controller-manager's garbage collector and namespace controller at work.
//! All tests need the API: run them with `cargo xtask test` (or `--cluster-only`).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ObjectMeta, PostParams};
use serde::Deserialize;
use support::{TestNamespace, wait_deleted, wait_for, wait_for_condition};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Names of the CRDs in crds/*.yaml (every YAML document of kind CustomResourceDefinition).
fn repo_crd_names() -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(support::repo_path("crds"))? {
        let path = entry?.path();
        if !path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = serde_json::Value::deserialize(doc)?;
            if value["kind"] == "CustomResourceDefinition"
                && let Some(name) = value.pointer("/metadata/name").and_then(|n| n.as_str())
            {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    Ok(names)
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn version_is_the_pinned_release() -> anyhow::Result<()> {
    let client = support::client().await?;
    let info = client.apiserver_version().await?;
    assert_eq!(info.major, "1", "unexpected /version: {info:?}");
    // Set by `cargo xtask test` when it started the control plane itself (absent for an existing cluster).
    if let Ok(expected) = std::env::var("EDGEFLEET_TEST_K8S_VERSION") {
        assert_eq!(info.git_version, expected, "/version gitVersion");
        assert_eq!(
            format!("v1.{}", info.minor),
            expected.rsplit_once('.').map(|(a, _)| a).unwrap_or("")
        );
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn every_crd_in_the_repo_is_established() -> anyhow::Result<()> {
    let names = repo_crd_names()?;
    assert!(
        names.len() >= 5,
        "expected at least 5 CRDs in crds/, found {names:?}"
    );
    let api: Api<CustomResourceDefinition> = Api::all(support::client().await?);
    for name in &names {
        let crd = wait_for_condition(&api, name, "Established", "True", TIMEOUT).await?;
        assert_eq!(crd.spec.group, "edgefleet.io", "{name}");
        let served: Vec<_> = crd
            .spec
            .versions
            .iter()
            .filter(|v| v.served)
            .map(|v| v.name.as_str())
            .collect();
        assert!(served.contains(&"v1alpha1"), "{name} serves {served:?}");
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn kubectl_explain_shows_the_field_docs() -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(support::client().await?);
    let crd = wait_for_condition(&api, "edgeclouds.edgefleet.io", "Established", "True", TIMEOUT).await?;
    let schema = crd
        .spec
        .versions
        .iter()
        .find(|v| v.storage)
        .and_then(|v| v.schema.as_ref())
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .and_then(|s| s.properties.as_ref())
        .and_then(|p| p.get("spec"))
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("edgeclouds CRD has no spec schema"))?;
    let fields: BTreeMap<String, String> = schema
        .properties
        .unwrap_or_default()
        .into_iter()
        .map(|(name, prop)| (name, prop.description.unwrap_or_default()))
        .collect();
    assert!(!fields.is_empty(), "edgeclouds spec has no fields");
    let undocumented: Vec<_> = fields
        .iter()
        .filter(|(_, d)| d.trim().is_empty())
        .map(|(n, _)| n)
        .collect();
    assert!(
        undocumented.is_empty(),
        "EdgeCloud spec fields without /// docs: {undocumented:?}"
    );

    let explain = support::kubectl(&["explain", "edgeclouds.spec"]).await?;
    // kubectl re-wraps text; compare with whitespace collapsed.
    let flat = explain.split_whitespace().collect::<Vec<_>>().join(" ");
    for (name, description) in &fields {
        assert!(
            flat.contains(name.as_str()),
            "`kubectl explain edgeclouds.spec` lacks field {name}:\n{explain}"
        );
        let opening: String = description
            .split_whitespace()
            .take(6)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            flat.contains(&opening),
            "`kubectl explain` lacks the docs of {name} ({opening:?}):\n{explain}"
        );
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn samples_pass_server_side_dry_run() -> anyhow::Result<()> {
    let dir = support::repo_path("deploy/samples");
    let client = support::client().await?;
    let ns = TestNamespace::new(&client, "samples").await?;
    // The samples name their namespaces (default, edgefleet-system); move every namespaced object into the
    // test namespace so the dry run needs no other namespace to exist.
    let mut docs = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if !path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let mut value = serde_json::Value::deserialize(doc)?;
            if value.is_null() {
                continue;
            }
            if let Some(namespace) = value.pointer_mut("/metadata/namespace") {
                *namespace = ns.name().into();
            }
            docs.push(serde_yaml_ng::to_string(&value)?);
        }
    }
    assert!(
        docs.len() >= 5,
        "expected sample manifests in {}, found {}",
        dir.display(),
        docs.len()
    );
    let file = std::env::temp_dir().join(format!("{}.yaml", ns.name()));
    std::fs::write(&file, docs.join("---\n"))?;
    let path = file.to_string_lossy().into_owned();
    let result =
        support::kubectl(&["apply", "--dry-run=server", "--namespace", ns.name(), "-f", &path]).await;
    std::fs::remove_file(&file)?;
    let out = result?;
    assert_eq!(
        out.matches("(server dry run)").count(),
        docs.len(),
        "every sample object should pass the server dry run:\n{out}"
    );
    ns.cleanup().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn garbage_collector_deletes_dependents_of_a_deleted_owner() -> anyhow::Result<()> {
    let client = support::client().await?;
    let ns = TestNamespace::new(&client, "gc").await?;
    let api: Api<ConfigMap> = ns.api();
    let owner = api
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("owner".into()),
                    ..ObjectMeta::default()
                },
                ..ConfigMap::default()
            },
        )
        .await?;
    let owner_ref = OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "owner".into(),
        uid: owner.metadata.uid.clone().unwrap_or_default(),
        ..OwnerReference::default()
    };
    api.create(
        &PostParams::default(),
        &ConfigMap {
            metadata: ObjectMeta {
                name: Some("dependent".into()),
                owner_references: Some(vec![owner_ref]),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        },
    )
    .await?;
    support::delete(&api, "owner").await?;
    wait_deleted(&api, "owner", TIMEOUT).await?;
    wait_deleted(&api, "dependent", TIMEOUT).await?;
    ns.cleanup().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn namespace_with_content_is_deleted_completely() -> anyhow::Result<()> {
    let client = support::client().await?;
    let ns = TestNamespace::new(&client, "ns-delete").await?;
    // The service-account controller gives every namespace a `default` ServiceAccount.
    let accounts: Api<ServiceAccount> = ns.api();
    wait_for(&accounts, "default", TIMEOUT, |_| true).await?;
    let maps: Api<ConfigMap> = ns.api();
    maps.create(
        &PostParams::default(),
        &ConfigMap {
            metadata: ObjectMeta {
                name: Some("content".into()),
                ..ObjectMeta::default()
            },
            data: Some([("k".to_string(), "v".to_string())].into()),
            ..ConfigMap::default()
        },
    )
    .await?;
    let name = ns.name().to_string();
    ns.cleanup().await?;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    assert!(
        namespaces.get_opt(&name).await?.is_none(),
        "namespace {name} still exists"
    );
    Ok(())
}
