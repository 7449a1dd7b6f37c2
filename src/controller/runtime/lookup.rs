//! Short-lived memory of what a reconcile reads besides its own object: the resolved ProviderConfig (its
//! cloud client, built from the ProviderConfig and its Secret) and referenced Vpcs and SecurityGroups.
//!
//! Reading them from the apiserver on every pass cost four GETs per pass: at 10,000 EdgeInstances polled
//! every 30 s that is ~1,300 GETs/s, more than a small apiserver's whole budget, and it starved the
//! creates (docs/benchmarks.md). An entry is dropped as soon as a watch sees its object change
//! ([`super::watch::provider_config_trigger`] for ProviderConfigs, the EdgeInstance controller's
//! Vpc and SecurityGroup watches), and expires after [`LOOKUP_TTL`] regardless: that bounds what a
//! missed event can leave stale, and how long a rotated credentials Secret that changes nothing on its
//! ProviderConfig takes to be used (the ProviderConfig controller re-probes it at once).

use std::any::Any;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::api::Api;
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use super::config::Intervals;
use crate::api::provider_config::ProviderConfig;
use crate::locks::lock;
use crate::provider::Provider;

/// How long an entry is used without being read again.
pub const LOOKUP_TTL: Duration = Duration::from_secs(30);

/// Beyond this many entries, expired ones are dropped on insert.
const PRUNE_ABOVE: usize = 1_000;

type ObjectKey = (String, String, String);
type Shared = Arc<dyn Any + Send + Sync>;

/// The memory; one per [`super::context::Context`].
#[derive(Default)]
pub struct Lookups {
    providers: Mutex<HashMap<String, (ResolvedProvider, Instant)>>,
    objects: Mutex<HashMap<ObjectKey, (Shared, Instant)>>,
}

impl Debug for Lookups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookups").finish_non_exhaustive()
    }
}

fn key<K: Resource<DynamicType = ()>>(namespace: &str, name: &str) -> ObjectKey {
    (K::kind(&()).into_owned(), namespace.to_owned(), name.to_owned())
}

fn prune<V>(map: &mut HashMap<impl Eq + std::hash::Hash, (V, Instant)>, now: Instant) {
    if map.len() > PRUNE_ABOVE {
        map.retain(|_, (_, at)| now.saturating_duration_since(*at) < LOOKUP_TTL);
    }
}

impl Lookups {
    /// The remembered resolution of ProviderConfig `name`, if fresh.
    pub fn provider(&self, name: &str) -> Option<ResolvedProvider> {
        lock(&self.providers)
            .get(name)
            .filter(|(_, at)| at.elapsed() < LOOKUP_TTL)
            .map(|(r, _)| r.clone())
    }

    /// Remembers a successful resolution of ProviderConfig `name`.
    pub fn remember_provider(&self, name: &str, resolved: &ResolvedProvider) {
        let now = Instant::now();
        let mut map = lock(&self.providers);
        prune(&mut map, now);
        map.insert(name.to_owned(), (resolved.clone(), now));
    }

    /// Drops what is remembered about ProviderConfig `name` (it changed).
    pub fn forget_provider(&self, name: &str) {
        lock(&self.providers).remove(name);
    }

    /// The namespaced object `namespace/name` of kind `K`: remembered if fresh, otherwise read (and
    /// remembered when it exists; absence is never remembered).
    pub async fn get<K>(
        &self,
        client: &Client,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<K>>, kube::Error>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + Sync
            + 'static,
    {
        let k = key::<K>(namespace, name);
        let remembered = lock(&self.objects)
            .get(&k)
            .filter(|(_, at)| at.elapsed() < LOOKUP_TTL)
            .and_then(|(v, _)| v.clone().downcast::<K>().ok());
        if let Some(obj) = remembered {
            return Ok(Some(obj));
        }
        let api: Api<K> = Api::namespaced(client.clone(), namespace);
        let Some(obj) = api.get_opt(name).await? else {
            return Ok(None);
        };
        let obj = Arc::new(obj);
        let now = Instant::now();
        let mut map = lock(&self.objects);
        prune(&mut map, now);
        map.insert(k, (obj.clone() as Shared, now));
        Ok(Some(obj))
    }

    /// Drops what is remembered about `namespace/name` of kind `K` (a watch saw it change).
    pub fn forget<K: Resource<DynamicType = ()>>(&self, namespace: &str, name: &str) {
        lock(&self.objects).remove(&key::<K>(namespace, name));
    }
}

/// The provider client of one object, with its ProviderConfig and requeue intervals.
#[derive(Clone)]
pub struct ResolvedProvider {
    /// The cloud client.
    pub provider: Arc<dyn Provider>,
    /// The ProviderConfig.
    pub config: Arc<ProviderConfig>,
    /// Requeue intervals.
    pub intervals: Intervals,
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    #[test]
    fn forgotten_and_expired_entries_are_not_used() {
        let l = Lookups::default();
        let cm = Arc::new(ConfigMap::default());
        let k = key::<ConfigMap>("ns", "a");
        lock(&l.objects).insert(k.clone(), (cm.clone() as Shared, Instant::now()));
        let fresh = |l: &Lookups| {
            lock(&l.objects)
                .get(&k)
                .filter(|(_, at)| at.elapsed() < LOOKUP_TTL)
                .and_then(|(v, _)| v.clone().downcast::<ConfigMap>().ok())
                .is_some()
        };
        assert!(fresh(&l));
        l.forget::<ConfigMap>("ns", "b");
        assert!(fresh(&l), "another name is another entry");
        l.forget::<ConfigMap>("ns", "a");
        assert!(!fresh(&l));
        let old = Instant::now().checked_sub(LOOKUP_TTL + Duration::from_secs(1));
        if let Some(old) = old {
            lock(&l.objects).insert(k.clone(), (cm as Shared, old));
            assert!(!fresh(&l), "expired");
            // Pruning drops expired entries once the map is large.
            let mut map = lock(&l.objects);
            for i in 0..=PRUNE_ABOVE {
                map.insert(
                    key::<ConfigMap>("ns", &format!("x{i}")),
                    (Arc::new(()) as Shared, Instant::now()),
                );
            }
            prune(&mut map, Instant::now());
            assert!(!map.contains_key(&k));
            assert_eq!(map.len(), PRUNE_ABOVE + 1);
        }
    }
}
