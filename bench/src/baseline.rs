//! The physical limit: a client that performs only the minimum Kubernetes writes an operator must make
//! per object — the user's create, adding the finalizer, one status write — as fast as the apiserver
//! accepts them, with the same objects and the same number of requests in flight as the bench's writers.
//! edgefleet's convergence time is reported as a ratio to this. The same client with its status write
//! made by server-side apply (what edgefleet's status helper does) runs too, to tell how much of the
//! gap is the apiserver's price of apply.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use edgefleet::api::edge_instance::EdgeInstance;
use futures::{StreamExt, TryStreamExt, stream};
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::workload::{iec_instance as instance, resource};

/// How the baseline writes its one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusWrite {
    /// Not measured: warms a fresh apiserver and etcd up first (merge patches), so that the measured
    /// baseline does not pay for the first requests of a cold control plane and look slower than it is.
    WarmUp,
    /// A JSON merge patch (the cheapest write the apiserver has).
    Merge,
    /// Server-side apply, forced, as edgefleet's status helper does.
    Apply,
}

impl StatusWrite {
    /// Namespace of this baseline's objects (the operator does not watch it).
    pub fn namespace(self) -> &'static str {
        match self {
            Self::WarmUp => "bench-warmup",
            Self::Merge => "bench-baseline",
            Self::Apply => "bench-baseline-apply",
        }
    }
}

/// Runs the baseline for `count` objects; returns its wall time.
pub async fn run(client: &Client, count: usize, concurrency: usize, style: StatusWrite) -> Result<Duration> {
    let ar = resource::<EdgeInstance>();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), style.namespace(), &ar);
    let started = Instant::now();
    stream::iter(0..count)
        .map(|i| one_object(&api, i, style))
        .buffer_unordered(concurrency.max(1))
        .try_collect::<()>()
        .await?;
    Ok(started.elapsed())
}

async fn one_object(api: &Api<DynamicObject>, index: usize, style: StatusWrite) -> Result<()> {
    let object: DynamicObject = serde_json::from_value(instance(style.namespace(), index))?;
    let created = api
        .create(&PostParams::default(), &object)
        .await
        .with_context(|| format!("baseline: creating object {index}"))?;
    let name = created.metadata.name.unwrap_or_default();
    let finalizer = json!({"metadata": {"finalizers": [edgefleet::api::FINALIZER]}});
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&finalizer))
        .await
        .with_context(|| format!("baseline: adding the finalizer to {name}"))?;
    let status = json!({
        "apiVersion": format!("{}/{}", edgefleet::api::GROUP, edgefleet::api::VERSION),
        "kind": "EdgeInstance",
        "status": {
        "observedGeneration": created.metadata.generation,
        "conditions": [{
            "type": "Ready", "status": "True", "reason": "Available", "message": "baseline",
            "lastTransitionTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "observedGeneration": created.metadata.generation,
        }],
    }});
    let written = match style {
        StatusWrite::Merge | StatusWrite::WarmUp => {
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                .await
        }
        StatusWrite::Apply => {
            let params = PatchParams::apply("bench-baseline").force();
            api.patch_status(&name, &params, &Patch::Apply(&status)).await
        }
    };
    written.with_context(|| format!("baseline: writing the status of {name}"))?;
    Ok(())
}
