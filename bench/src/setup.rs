//! What every driver does first: install edgefleet's CRDs (server-side apply, then wait until they are
//! Established), and end cleanly on SIGINT/SIGTERM.

use anyhow::{Context as _, Result};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};

/// Applies every edgefleet CRD and waits until each is Established.
pub async fn install_crds(client: &Client) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply("edgefleet-bench").force();
    for crd in edgefleet::api::all_crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &params, &Patch::Apply(&crd))
            .await
            .with_context(|| format!("installing CRD {name}"))?;
    }
    for crd in edgefleet::api::all_crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let established = kube::runtime::conditions::is_crd_established();
        kube::runtime::wait::await_condition(api.clone(), &name, established)
            .await
            .with_context(|| format!("waiting for CRD {name}"))?;
    }
    Ok(())
}

/// Waits for SIGINT or SIGTERM; names the signal. A driver selects on it so that a signal ends the
/// run through the error path and its child processes (killed when their handles drop) do not
/// outlive it.
pub async fn interrupted() -> &'static str {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
