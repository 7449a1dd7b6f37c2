//! What a bench run leaves on the cluster, removed: its namespaces (the managed objects' `bench` and the
//! baselines' `bench-warmup`, `bench-baseline`, `bench-baseline-apply`) and its ProviderConfigs
//! (`bench-<cloud>`). On a fresh control plane this is moot (xtask tears it down); on an existing one
//! (`--use-existing-cluster`) the next run would otherwise find them, and a person would have to.
//!
//! The operator has stopped by then, so nothing would ever remove the objects' finalizers (the
//! baselines add edgefleet's finalizer too): they are removed first, then the namespaces and
//! ProviderConfigs deleted and waited for until they are gone. The cloud the objects stand for is the
//! run's own emulator, gone with the run, so dropping the finalizers leaks nothing. Both drivers (the
//! benchmark and the crash-and-fault campaign, whose namespace is `chaos`) run this before a run too,
//! for what an interrupted one left ([`remove_all`]), and after it whatever its outcome
//! ([`after_run`], unless told to keep the objects).

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use edgefleet::api::edge_cloud::EdgeCloud;
use edgefleet::api::edge_instance::EdgeInstance;
use edgefleet::api::provider_config::ProviderConfig;
use edgefleet::api::security_group::SecurityGroup;
use edgefleet::api::vpc::Vpc;
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::ApiResource;
use serde_json::json;

use crate::baseline::StatusWrite;
use crate::setup::interrupted;
use crate::workload::{Cloud, resource};

/// Patches in flight while finalizers are removed.
const CONCURRENCY: usize = 64;
/// How long a cleanup waits for the namespaces and ProviderConfigs to go.
pub const TIMEOUT: Duration = Duration::from_secs(300);

/// The namespaces a run creates: the managed objects' (`namespace`) and the baselines'.
pub fn namespaces(namespace: &str) -> Vec<String> {
    std::iter::once(namespace.to_owned())
        .chain(
            [StatusWrite::WarmUp, StatusWrite::Merge, StatusWrite::Apply]
                .into_iter()
                .map(|s| s.namespace().to_owned()),
        )
        .collect()
}

/// The ProviderConfigs a run of any cloud creates.
pub fn provider_configs() -> Vec<&'static str> {
    <Cloud as clap::ValueEnum>::value_variants()
        .iter()
        .map(|c| c.provider_config())
        .collect()
}

/// Removes `namespaces` (with every edgefleet object in them) and the ProviderConfigs `configs`, and
/// waits up to `timeout` until they are gone. Absent ones are skipped.
pub async fn remove(
    client: &Client,
    namespaces: &[String],
    configs: &[&str],
    timeout: Duration,
) -> Result<()> {
    let ns_api: Api<Namespace> = Api::all(client.clone());
    let mut present = Vec::new();
    for ns in namespaces {
        if ns_api
            .get_opt(ns)
            .await
            .with_context(|| format!("reading namespace {ns}"))?
            .is_some()
        {
            present.push(ns.clone());
        }
    }
    for ns in &present {
        for ar in namespaced_kinds() {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
            drop_finalizers(&api, &ar).await?;
        }
        delete_ignoring_absent(&ns_api, ns).await?;
    }
    let pc = resource::<ProviderConfig>();
    let pc_api: Api<DynamicObject> = Api::all_with(client.clone(), &pc);
    for name in configs {
        if pc_api
            .get_opt(name)
            .await
            .with_context(|| format!("reading ProviderConfig {name}"))?
            .is_some()
        {
            unfinalize(&pc_api, name).await?;
            delete_ignoring_absent(&pc_api, name).await?;
        }
    }
    let deadline = tokio::time::Instant::now() + timeout;
    for ns in &present {
        wait_gone(&ns_api, ns, deadline).await?;
    }
    for name in configs {
        wait_gone(&pc_api, name, deadline).await?;
    }
    if !present.is_empty() {
        eprintln!("[cleanup] removed namespaces {present:?} and the bench ProviderConfigs");
    }
    Ok(())
}

/// [`remove`]s `namespaces` and every bench ProviderConfig from the control plane named by KUBECONFIG,
/// waiting up to [`TIMEOUT`].
pub async fn remove_all(namespaces: &[String]) -> Result<()> {
    let client = Client::try_default()
        .await
        .context("connecting to the control plane (KUBECONFIG)")?;
    remove(&client, namespaces, &provider_configs(), TIMEOUT)
        .await
        .with_context(|| format!("removing the namespaces {namespaces:?} and the bench ProviderConfigs"))
}

/// What a driver runs once its run has ended, whatever the outcome (its operator and emulator are gone
/// by then): [`remove_all`] unless `keep` (a fresh control plane, torn down anyway), ended early by a
/// signal.
pub async fn after_run(keep: bool, namespaces: &[String]) -> Result<()> {
    if keep {
        return Ok(());
    }
    tokio::select! {
        cleaned = remove_all(namespaces) => cleaned,
        signal = interrupted() => Err(anyhow::anyhow!("interrupted by {signal}")),
    }
}

fn namespaced_kinds() -> [ApiResource; 4] {
    [
        resource::<EdgeInstance>(),
        resource::<EdgeCloud>(),
        resource::<SecurityGroup>(),
        resource::<Vpc>(),
    ]
}

/// Removes the finalizers of every object of `api` that has some.
async fn drop_finalizers(api: &Api<DynamicObject>, ar: &ApiResource) -> Result<()> {
    let objects = match api.list_metadata(&ListParams::default()).await {
        Ok(list) => list.items,
        // The CRD is not installed: there is nothing of this kind.
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", ar.kind)),
    };
    let names: Vec<String> = objects
        .into_iter()
        .filter(|o| o.metadata.finalizers.as_ref().is_some_and(|f| !f.is_empty()))
        .filter_map(|o| o.metadata.name)
        .collect();
    stream::iter(names)
        .map(|name| async move { unfinalize(api, &name).await })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<()>()
        .await
}

async fn unfinalize(api: &Api<DynamicObject>, name: &str) -> Result<()> {
    let patch = json!({"metadata": {"finalizers": null}});
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing the finalizers of {name}")),
    }
}

async fn delete_ignoring_absent<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e).with_context(|| format!("deleting {name}")),
    }
}

async fn wait_gone<K>(api: &Api<K>, name: &str, deadline: tokio::time::Instant) -> Result<()>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    loop {
        if api
            .get_opt(name)
            .await
            .with_context(|| format!("reading {name}"))?
            .is_none()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{name} is still there after the cleanup's wait");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cleanup_names_every_namespace_and_provider_config_a_run_creates() {
        assert_eq!(
            namespaces("bench"),
            ["bench", "bench-warmup", "bench-baseline", "bench-baseline-apply"]
        );
        assert_eq!(
            provider_configs(),
            [
                "bench-iec",
                "bench-veen",
                "bench-luchen",
                "bench-modelarts",
                "bench-workspace"
            ]
        );
    }
}
