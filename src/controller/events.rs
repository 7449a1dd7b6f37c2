//! Kubernetes events (`events.k8s.io/v1`) for the controllers.
//!
//! The first occurrence of an event is created; a repeat of the same event (same object, type, reason,
//! action and note) within [`SERIES_WINDOW`] patches the first one's `series` count instead — what kube's
//! `Recorder` does. Unlike it, the memory of recent events is built for fleets: an entry is a hash and
//! the event's name (not a copy of the whole Event), it is swept every [`SWEEP_EVERY`] rather than on
//! every publish (kube's sweep walks the whole cache per event, quadratic across 10,000 objects), and it
//! holds at most [`MAX_REMEMBERED`] events (beyond that a repeat is simply a new event).

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

/// A repeat within this window after the last occurrence counts into the same event (kube's value).
pub const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);
/// How often the memory of recent events drops what left the window.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// The most events remembered for series; about 100 bytes each.
pub const MAX_REMEMBERED: usize = 50_000;

/// Normal or Warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Something happened as intended.
    Normal,
    /// Something needs attention.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// One event to publish about an object.
#[derive(Debug, Clone, Copy)]
pub struct EventSpec<'a> {
    /// Normal or Warning.
    pub type_: EventType,
    /// Why (CamelCase), e.g. `Created`.
    pub reason: &'a str,
    /// What was done (CamelCase), e.g. `Create`.
    pub action: &'a str,
    /// A human-readable note (no secrets).
    pub note: &'a str,
}

/// What to do for one publish.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    /// A new event.
    Create,
    /// Count into the existing event `name` in `namespace`, now at `count` occurrences.
    Repeat {
        name: String,
        namespace: String,
        count: i32,
    },
}

/// A remembered event.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    namespace: String,
    count: i32,
    last: Instant,
}

/// The memory of recent events, keyed by a 64-bit hash of (object, type, reason, action, note).
#[derive(Debug)]
struct SeriesCache {
    entries: HashMap<u64, Entry>,
    last_sweep: Instant,
    window: Duration,
    sweep_every: Duration,
    max: usize,
}

impl SeriesCache {
    fn new(now: Instant) -> Self {
        Self {
            entries: HashMap::new(),
            last_sweep: now,
            window: SERIES_WINDOW,
            sweep_every: SWEEP_EVERY,
            max: MAX_REMEMBERED,
        }
    }

    /// Decides how to publish the event `key` at `now`; a repeat is counted at once.
    fn decide(&mut self, key: u64, now: Instant) -> Decision {
        self.sweep(now);
        match self.entries.get_mut(&key) {
            Some(e) if now.saturating_duration_since(e.last) < self.window => {
                e.count = e.count.saturating_add(1);
                e.last = now;
                Decision::Repeat {
                    name: e.name.clone(),
                    namespace: e.namespace.clone(),
                    count: e.count,
                }
            }
            _ => Decision::Create,
        }
    }

    /// Remembers the event `key`, created as `name` in `namespace` at `now` (unless the memory is full).
    fn created(&mut self, key: u64, name: String, namespace: String, now: Instant) {
        if self.entries.len() >= self.max && !self.entries.contains_key(&key) {
            return;
        }
        self.entries.insert(
            key,
            Entry {
                name,
                namespace,
                count: 1,
                last: now,
            },
        );
    }

    /// Forgets `key` (its event is gone from the cluster).
    fn forget(&mut self, key: u64) {
        self.entries.remove(&key);
    }

    /// Drops what left the window, at most once per `sweep_every` unless the memory is full.
    fn sweep(&mut self, now: Instant) {
        let due = now.saturating_duration_since(self.last_sweep) >= self.sweep_every;
        if !due && self.entries.len() < self.max {
            return;
        }
        let window = self.window;
        self.entries
            .retain(|_, e| now.saturating_duration_since(e.last) < window);
        self.last_sweep = now;
    }
}

/// The identity of an event for series: who it is about and what it says.
fn key_of(regarding: &ObjectReference, ev: &EventSpec<'_>) -> u64 {
    let mut h = DefaultHasher::new();
    regarding.uid.hash(&mut h);
    regarding.kind.hash(&mut h);
    regarding.namespace.hash(&mut h);
    regarding.name.hash(&mut h);
    ev.type_.hash(&mut h);
    ev.reason.hash(&mut h);
    ev.action.hash(&mut h);
    ev.note.hash(&mut h);
    h.finish()
}

/// Publishes events as one reporting controller (and instance).
pub struct EventRecorder {
    client: Client,
    controller: String,
    instance: String,
    cache: Mutex<SeriesCache>,
}

impl std::fmt::Debug for EventRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRecorder")
            .field("controller", &self.controller)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl EventRecorder {
    /// A recorder reporting as `controller` / `instance` (the controller name when `None`).
    pub fn new(client: Client, controller: &str, instance: Option<String>) -> Self {
        Self {
            client,
            controller: controller.to_owned(),
            instance: instance.unwrap_or_else(|| controller.to_owned()),
            cache: Mutex::new(SeriesCache::new(Instant::now())),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, SeriesCache> {
        crate::locks::lock(&self.cache)
    }

    /// Publishes `ev` about `regarding`: a new event, or a count on the same event published within
    /// [`SERIES_WINDOW`].
    pub async fn publish(&self, regarding: &ObjectReference, ev: EventSpec<'_>) -> Result<(), kube::Error> {
        let key = key_of(regarding, &ev);
        let now = Instant::now();
        let decision = self.cache().decide(key, now);
        if let Decision::Repeat {
            name,
            namespace,
            count,
        } = decision
        {
            let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
            let series = json!({ "series": EventSeries {
                count,
                last_observed_time: MicroTime(k8s_openapi::jiff::Timestamp::now()),
            }});
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&series))
                .await
            {
                Ok(_) => return Ok(()),
                // The event expired in the cluster (events have a TTL): start a new one.
                Err(kube::Error::Api(s)) if s.code == 404 => self.cache().forget(key),
                Err(e) => return Err(e),
            }
        }
        let event = self.new_event(regarding, &ev);
        let namespace = event.metadata.namespace.clone().unwrap_or_default();
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
        let created = api.create(&PostParams::default(), &event).await?;
        if let Some(name) = created.metadata.name {
            self.cache().created(key, name, namespace, now);
        }
        Ok(())
    }

    fn new_event(&self, regarding: &ObjectReference, ev: &EventSpec<'_>) -> K8sEvent {
        let now = k8s_openapi::jiff::Timestamp::now();
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let base = regarding.name.as_deref().unwrap_or(&self.controller);
        K8sEvent {
            action: Some(ev.action.to_owned()),
            reason: Some(ev.reason.to_owned()),
            note: Some(ev.note.to_owned()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            type_: Some(ev.type_.as_str().to_owned()),
            metadata: ObjectMeta {
                namespace: Some(namespace),
                name: Some(format!("{base}.{:x}", now.as_nanosecond())),
                ..ObjectMeta::default()
            },
            ..K8sEvent::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str) -> ObjectReference {
        ObjectReference {
            kind: Some("EdgeInstance".into()),
            namespace: Some("ns".into()),
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            ..ObjectReference::default()
        }
    }

    fn spec(note: &str) -> EventSpec<'_> {
        EventSpec {
            type_: EventType::Warning,
            reason: "Throttled",
            action: "Reconcile",
            note,
        }
    }

    #[test]
    fn a_repeat_within_the_window_counts_into_the_first_event() {
        let t0 = Instant::now();
        let mut c = SeriesCache::new(t0);
        let k = key_of(&reference("a"), &spec("x"));
        assert_eq!(c.decide(k, t0), Decision::Create);
        c.created(k, "a.1".into(), "ns".into(), t0);
        let repeat = |count| Decision::Repeat {
            name: "a.1".into(),
            namespace: "ns".into(),
            count,
        };
        assert_eq!(c.decide(k, t0 + Duration::from_secs(10)), repeat(2));
        // The window runs from the last occurrence.
        assert_eq!(c.decide(k, t0 + Duration::from_secs(300)), repeat(3));
        assert_eq!(c.decide(k, t0 + Duration::from_secs(300 + 359)), repeat(4));
        assert_eq!(
            c.decide(k, t0 + Duration::from_secs(300 + 359 + 361)),
            Decision::Create
        );
    }

    #[test]
    fn the_key_separates_objects_reasons_and_notes() {
        let a = key_of(&reference("a"), &spec("x"));
        assert_ne!(a, key_of(&reference("b"), &spec("x")));
        assert_ne!(a, key_of(&reference("a"), &spec("y")));
        let mut other = spec("x");
        other.reason = "QuotaExceeded";
        assert_ne!(a, key_of(&reference("a"), &other));
        let mut normal = spec("x");
        normal.type_ = EventType::Normal;
        assert_ne!(a, key_of(&reference("a"), &normal));
        assert_eq!(a, key_of(&reference("a"), &spec("x")));
    }

    #[test]
    fn sweeps_are_periodic_and_the_memory_is_bounded() {
        let t0 = Instant::now();
        let mut c = SeriesCache::new(t0);
        c.max = 3;
        for (i, k) in [1u64, 2, 3, 4].into_iter().enumerate() {
            assert_eq!(c.decide(k, t0), Decision::Create);
            c.created(k, format!("e{i}"), "ns".into(), t0);
        }
        assert_eq!(c.entries.len(), 3, "the fourth is not remembered");
        assert_eq!(c.decide(4, t0), Decision::Create);
        // Past the window, the next decision sweeps (the memory is full), so new events fit again.
        let later = t0 + SERIES_WINDOW + Duration::from_secs(1);
        assert_eq!(c.decide(1, later), Decision::Create);
        assert!(c.entries.is_empty());
        c.created(5, "e5".into(), "ns".into(), later);
        // Not full and not due: no sweep even though nothing else is in the window.
        c.max = 100;
        c.created(6, "e6".into(), "ns".into(), t0);
        let _ = c.decide(7, later + Duration::from_secs(1));
        assert_eq!(c.entries.len(), 2);
        let _ = c.decide(7, later + SWEEP_EVERY);
        assert_eq!(
            c.entries.len(),
            1,
            "e6 left the window and was swept: {:?}",
            c.entries
        );
        c.forget(5);
        assert!(c.entries.is_empty());
    }
}
