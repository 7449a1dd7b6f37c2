//! [`Context`]: everything a reconcile needs, shared by all controllers of one operator (or one test) —
//! the Kubernetes client, the provider registry, the event recorder and metrics, the scope and timing,
//! the per-object backoff, the credential probes, the cache tracker and the lookups — and
//! [`Context::publish`], the one way an event is published.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::{Client, Resource};
use tracing::debug;

use super::caches::Caches;
use super::config::{Backoff, ControllerConfig};
use super::lookup::Lookups;
use super::users::UserIndex;
use crate::controller::events::{EventRecorder, EventSpec, EventType};
use crate::operator::metrics::Metrics;
use crate::provider::ProviderRegistry;

/// The `reportingController` of events.
pub const REPORTING_CONTROLLER: &str = "edgefleet";

/// Everything a reconcile needs, shared by all controllers of one operator (or one test).
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// Cloud clients per ProviderConfig.
    pub providers: Arc<ProviderRegistry>,
    /// Publishes Kubernetes events.
    pub recorder: EventRecorder,
    /// Reconcile metrics per kind (the operator's `/metrics` families).
    pub metrics: Metrics,
    /// Scope and timing.
    pub config: ControllerConfig,
    /// Per-object failure backoff.
    pub backoff: Backoff,
    /// Last successful credential probe per account: (settings fingerprint, when).
    pub(crate) probes: Mutex<HashMap<String, (String, Instant)>>,
    /// The controllers' caches: synced or not, and the census tasks counting their objects.
    pub caches: Caches,
    /// Recently read ProviderConfigs (resolved), Vpcs and SecurityGroups.
    pub lookups: Arc<Lookups>,
    /// Which objects use which account, from the controllers' caches.
    pub users: Arc<UserIndex>,
}

impl Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context with a fresh event recorder (reporting controller `edgefleet`, instance `instance`).
    pub fn new(
        client: Client,
        providers: Arc<ProviderRegistry>,
        metrics: Metrics,
        config: ControllerConfig,
        instance: Option<String>,
    ) -> Self {
        let recorder = EventRecorder::new(client.clone(), REPORTING_CONTROLLER, instance);
        let backoff = Backoff::new(config.backoff);
        Self {
            client,
            providers,
            recorder,
            metrics,
            config,
            backoff,
            probes: Mutex::new(HashMap::new()),
            caches: Caches::default(),
            lookups: Arc::default(),
            users: Arc::default(),
        }
    }

    /// Publishes an event about `obj`; failures are logged, never returned (events are best effort).
    /// `note` must never contain secrets (callers pass cloud ids, names and error chains only).
    pub async fn publish<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        type_: EventType,
        reason: &str,
        action: &str,
        note: impl Into<String>,
    ) {
        let reference: ObjectReference = obj.object_ref(&());
        let mut note: String = note.into();
        if note.len() > 1000 {
            let mut cut = 1000;
            while !note.is_char_boundary(cut) {
                cut -= 1;
            }
            note.truncate(cut);
        }
        let event = EventSpec {
            type_,
            reason,
            action,
            note: &note,
        };
        if let Err(e) = self.recorder.publish(&reference, event).await {
            debug!(error = %e, reason, "failed to publish event");
        }
    }
}
