//! How a controller watches: [`Context::controller`] builds its kube `Controller` over a tracked cache
//! (readiness, the `edgefleet_managed_objects` census every [`CENSUS_INTERVAL`]), the predicates that decide
//! which changes trigger a pass ([`intent_of`], [`intent_of_ignoring_own_metadata`]), and
//! [`provider_config_trigger`], the `watches` mapper from ProviderConfigs to the objects using them.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::TryStreamExt as _;
use kube::api::Api;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{PredicateConfig, WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::caches::mark_synced;
use super::context::Context;
use super::lookup::Lookups;
use super::users::{Touched, UserIndex};
use crate::api::provider_config::ProviderConfig;
use crate::api::{CREATE_INTENT_ANNOTATION, FINALIZER};
use crate::operator::metrics::{ConditionStatus, Metrics};

/// How often a tracked cache is recounted for `edgefleet_managed_objects`.
pub const CENSUS_INTERVAL: Duration = Duration::from_secs(15);

impl Context {
    /// A kube [`Controller`] for `api` and `wc`, like `Controller::new` but caching objects without their
    /// `managedFields`, and whose cache is tracked:
    /// readiness ([`Caches::synced`], behind `/readyz`) waits for its first complete list, and from then on
    /// its objects are counted by their Ready and Synced conditions into `edgefleet_managed_objects` every
    /// [`CENSUS_INTERVAL`].
    ///
    /// Every controller builds its `Controller` with this (in its `run`, before its first `.await`, so
    /// that [`crate::controller::run_all_reporting`] sees it when it starts waiting). Must be called inside a tokio
    /// runtime (it spawns the census task).
    ///
    /// (The cache's own `Store::wait_until_ready` cannot be used for this: it wakes only one waiter, and
    /// the controller's runner already waits on it.)
    pub fn controller<K>(&self, api: Api<K>, wc: watcher::Config) -> Controller<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + Sync + 'static,
    {
        self.controller_triggered_by(api, wc, intent_of)
    }

    /// [`Context::controller`] with another predicate than [`intent_of`] deciding which changes of an
    /// object trigger a pass.
    pub fn controller_triggered_by<K>(
        &self,
        api: Api<K>,
        wc: watcher::Config,
        triggers: fn(&K) -> Option<u64>,
    ) -> Controller<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + Sync + 'static,
    {
        self.tracked_controller(api, wc, triggers, None)
    }

    /// The controller of a kind whose objects use an account (`provider_config_of` reads which): its
    /// cache also answers who uses which account ([`UserIndex`]), and an object that appears or goes
    /// tells the ProviderConfig controller at once ([`UserIndex::touched`]). `triggers` as for
    /// [`Context::controller_triggered_by`] (the EdgeInstance controller:
    /// [`intent_of_ignoring_own_metadata`]; the others [`intent_of`]).
    pub fn user_controller<K>(
        &self,
        api: Api<K>,
        wc: watcher::Config,
        triggers: fn(&K) -> Option<u64>,
        provider_config_of: fn(&K) -> &str,
    ) -> Controller<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + Sync + 'static,
    {
        self.tracked_controller(api, wc, triggers, Some(provider_config_of))
    }

    fn tracked_controller<K>(
        &self,
        api: Api<K>,
        wc: watcher::Config,
        triggers: fn(&K) -> Option<u64>,
        provider_config_of: Option<fn(&K) -> &str>,
    ) -> Controller<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + Sync + 'static,
    {
        let kind = K::kind(&()).to_string();
        self.caches.register(&kind);
        let (reader, writer) = reflector::store::<K>();
        let state = self.caches.state.clone();
        let synced_kind = kind.clone();
        if let Some(of) = provider_config_of {
            self.users.register(reader.clone(), of);
        }
        let users = self.users.clone();
        let known = reader.clone();
        // managedFields are never read by a reconciler and are most of an applied object's size: keep
        // them out of the cache (measured in docs/benchmarks.md).
        let objects = watcher(api, wc)
            .modify(|obj| obj.managed_fields_mut().clear())
            .inspect_ok(move |event| {
                if let Some(of) = provider_config_of {
                    announce_user_change(&users, &known, of, event);
                }
            });
        let stream = reflector(writer, objects)
            .inspect_ok(move |event| {
                if matches!(event, watcher::Event::InitDone) {
                    mark_synced(&state, &synced_kind);
                }
            })
            .applied_objects()
            // The object's own status writes (two per create, from this very controller) would each
            // trigger a pass with nothing to do; passes are requeued explicitly instead.
            .predicate_filter(triggers, PredicateConfig::default());
        let census_state = self.caches.state.subscribe();
        let metrics = self.metrics.clone();
        let store = reader.clone();
        let task = tokio::spawn(async move {
            let mut census_state = census_state;
            // Count only complete caches; end when the registrations are cleared (controllers stopped).
            if census_state
                .wait_for(|synced| synced.get(&kind).is_none_or(|done| *done))
                .await
                .is_err()
            {
                return;
            }
            while census_state.borrow().contains_key(&kind) {
                census(&kind, &store, &metrics);
                tokio::time::sleep(CENSUS_INTERVAL).await;
            }
        });
        crate::locks::lock(&self.caches.tasks).push(task.abort_handle());
        Controller::for_stream(stream, reader)
    }
}

/// Tells the ProviderConfig controller about a user object that appeared (not yet in the cache
/// `known`, which the event has not reached yet) or went, and about a fresh listing (`InitDone`: a
/// re-list after a lost watch may have dropped objects unseen). Status writes of known objects (most
/// events) change no count and tell nothing.
fn announce_user_change<K>(users: &UserIndex, known: &Store<K>, of: fn(&K) -> &str, event: &watcher::Event<K>)
where
    K: Resource<DynamicType = ()> + Clone,
{
    match event {
        watcher::Event::Apply(obj) if known.get(&ObjectRef::from_obj(obj)).is_none() => {
            users.touched(Touched::One(of(obj).to_owned()));
        }
        watcher::Event::Delete(obj) => users.touched(Touched::One(of(obj).to_owned())),
        watcher::Event::InitDone => users.touched(Touched::All),
        watcher::Event::Apply(_) | watcher::Event::Init | watcher::Event::InitApply(_) => {}
    }
}

/// What a change of an object must touch to trigger a reconcile of it: its spec (`generation`, which
/// the apiserver also bumps when a deletion with finalizers starts), labels, annotations (reboot
/// requests, EdgeCloud marks), finalizers, owners and deletion. Status is not in it: a controller's
/// own status writes trigger nothing, and every pass ends with an explicit requeue (the poll interval,
/// or the pending interval while work is in progress). Changes of other objects that matter (Vpcs,
/// SecurityGroups, Secrets, ProviderConfigs, members) trigger through their own watches.
pub fn intent_of<K: Resource>(obj: &K) -> Option<u64> {
    Some(metadata_hash(obj, false))
}

/// [`intent_of`] without edgefleet's own finalizer and create-intent annotation, for a controller whose
/// pass writes them and goes on ([`super::policy::run_finalizer_in_pass`], [`crate::controller::intent`]): its own write must not
/// trigger a second pass (which could read a cache holding the intent but not yet the pass's closing
/// status write). A deletion still triggers (the deletion timestamp and the generation).
pub fn intent_of_ignoring_own_metadata<K: Resource>(obj: &K) -> Option<u64> {
    Some(metadata_hash(obj, true))
}

fn metadata_hash<K: Resource>(obj: &K, ignore_own: bool) -> u64 {
    use std::hash::{Hash, Hasher};
    let meta = obj.meta();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    meta.generation.hash(&mut h);
    meta.labels.hash(&mut h);
    let own_annotation = |k: &String| ignore_own && k == CREATE_INTENT_ANNOTATION;
    for (k, v) in meta.annotations.iter().flatten() {
        if !own_annotation(k) {
            (k, v).hash(&mut h);
        }
    }
    for f in meta.finalizers.iter().flatten() {
        if !(ignore_own && f == FINALIZER) {
            f.hash(&mut h);
        }
    }
    meta.deletion_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .hash(&mut h);
    if let Some(owners) = &meta.owner_references {
        for o in owners {
            (&o.uid, &o.kind, &o.name, o.controller).hash(&mut h);
        }
    }
    h.finish()
}

/// Counts the objects of `store` by their Ready and Synced conditions and sets every combination
/// (zeros included, so stale series drop to 0).
fn census<K>(kind: &str, store: &Store<K>, metrics: &Metrics)
where
    K: Resource<DynamicType = ()> + Serialize + Clone,
{
    const STATUSES: [ConditionStatus; 3] = [
        ConditionStatus::True,
        ConditionStatus::False,
        ConditionStatus::Unknown,
    ];
    let mut counts: HashMap<(ConditionStatus, ConditionStatus), i64> = HashMap::new();
    for obj in store.state() {
        let value = serde_json::to_value(obj.as_ref()).unwrap_or_default();
        let key = (
            condition_status(&value, crate::api::condition::READY),
            condition_status(&value, crate::api::condition::SYNCED),
        );
        *counts.entry(key).or_insert(0) += 1;
    }
    for ready in STATUSES {
        for synced in STATUSES {
            let count = counts.get(&(ready, synced)).copied().unwrap_or(0);
            metrics.set_objects(kind, ready, synced, count);
        }
    }
}

/// The status of condition `type_` in a serialised object's `status.conditions` (absent → Unknown).
fn condition_status(obj: &serde_json::Value, type_: &str) -> ConditionStatus {
    let status = obj
        .pointer("/status/conditions")
        .and_then(serde_json::Value::as_array)
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|c| c.get("type").and_then(serde_json::Value::as_str) == Some(type_))
        })
        .and_then(|c| c.get("status"))
        .and_then(serde_json::Value::as_str);
    match status {
        Some("True") => ConditionStatus::True,
        Some("False") => ConditionStatus::False,
        _ => ConditionStatus::Unknown,
    }
}

/// A `watches` mapper from ProviderConfigs to the objects (in `store`) that use them, firing only when
/// something that matters to those objects changed: the ProviderConfig's generation, its CredentialsValid
/// status, or its deletion. (A change of `status.usedBy` alone would otherwise re-reconcile every user.)
pub fn provider_config_trigger<K>(
    lookups: Arc<Lookups>,
    store: Store<K>,
    provider_config_of: fn(&K) -> &str,
) -> impl Fn(ProviderConfig) -> Vec<ObjectRef<K>> + Send + Sync + 'static
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    let seen: Mutex<HashMap<String, String>> = Mutex::new(HashMap::new());
    move |pc: ProviderConfig| {
        let name = pc.name_any();
        // Any change (status included) drops the remembered resolution: the next pass reads it afresh.
        lookups.forget_provider(&name);
        let credentials = pc
            .status
            .as_ref()
            .and_then(|s| {
                crate::api::condition::find_condition(&s.conditions, crate::api::condition::CREDENTIALS_VALID)
            })
            .map(|c| c.status.as_str())
            .unwrap_or("");
        let fingerprint = format!(
            "{}|{}|{}",
            pc.metadata.generation.unwrap_or_default(),
            credentials,
            pc.metadata.deletion_timestamp.is_some()
        );
        let changed = {
            let mut map = crate::locks::lock(&seen);
            map.insert(name.clone(), fingerprint.clone())
                .is_none_or(|old| old != fingerprint)
        };
        if !changed {
            return Vec::new();
        }
        store
            .state()
            .into_iter()
            .filter(|o| provider_config_of(o) == name)
            .map(|o| ObjectRef::from_obj(o.as_ref()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_spec_and_metadata_changes_trigger_a_pass() {
        use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus};
        let mut obj = Deployment::default();
        obj.metadata.generation = Some(1);
        let base = intent_of(&obj);
        // Status and resourceVersion changes (the controller's own writes) do not.
        obj.status = Some(DeploymentStatus {
            ready_replicas: Some(3),
            ..DeploymentStatus::default()
        });
        obj.metadata.resource_version = Some("42".into());
        assert_eq!(intent_of(&obj), base);
        let changed = |f: &dyn Fn(&mut Deployment)| {
            let mut v = obj.clone();
            f(&mut v);
            intent_of(&v)
        };
        assert_ne!(changed(&|v| v.metadata.generation = Some(2)), base);
        assert_ne!(
            changed(&|v| v
                .annotations_mut()
                .insert("edgefleet.io/reboot".into(), "1".into())
                .map_or((), |_| ())),
            base
        );
        assert_ne!(
            changed(&|v| v.labels_mut().insert("a".into(), "b".into()).map_or((), |_| ())),
            base
        );
        assert_ne!(changed(&|v| v.finalizers_mut().push("f".into())), base);
        assert_ne!(
            changed(&|v| v.metadata.deletion_timestamp = Some(super::super::status::now())),
            base
        );
        assert_ne!(
            changed(&|v| {
                v.metadata.owner_references = Some(vec![Default::default()]);
            }),
            base
        );
    }

    #[test]
    fn provider_config_trigger_fires_only_on_relevant_changes() {
        use crate::api::common::{DeletionPolicy, ManagementPolicy, ProviderConfigRef, SecretRef};
        use crate::api::condition::{CREDENTIALS_VALID, Condition, ConditionStatus};
        use crate::api::provider_config::{
            Credentials, CredentialsType, ProviderConfigSpec, ProviderConfigStatus, ProviderConfigUsage,
            ProviderType, RateLimit,
        };
        use crate::api::vpc::{Vpc, VpcSpec};

        let (store, mut writer) = kube::runtime::reflector::store::<Vpc>();
        for (name, pc) in [("a", "acct"), ("b", "other")] {
            let mut v = Vpc::new(
                name,
                VpcSpec {
                    provider_config_ref: ProviderConfigRef { name: pc.into() },
                    deletion_policy: DeletionPolicy::Delete,
                    management_policy: ManagementPolicy::Manage,
                    adopt_id: None,
                    name: None,
                    cidr: "10.0.0.0/16".into(),
                    ..VpcSpec::default()
                },
            );
            v.metadata.namespace = Some("ns".into());
            writer.apply_watcher_event(&watcher::Event::Apply(v));
        }
        let trigger = provider_config_trigger(Arc::default(), store, |v: &Vpc| {
            v.spec.provider_config_ref.name.as_str()
        });
        let mut pc = ProviderConfig::new(
            "acct",
            ProviderConfigSpec {
                provider: ProviderType::Veen,
                region: None,
                project_id: None,
                domain_id: None,
                domain_name: None,
                endpoints: None,
                credentials: Credentials {
                    secret_ref: SecretRef {
                        name: "s".into(),
                        namespace: "ns".into(),
                    },
                    type_: CredentialsType::AkSk,
                },
                rate_limit: RateLimit::default(),
                poll_interval: "5m".into(),
                pending_poll_interval: "10s".into(),
            },
        );
        pc.metadata.generation = Some(1);
        let names = |refs: Vec<ObjectRef<Vpc>>| refs.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(
            names(trigger(pc.clone())),
            ["a"],
            "first sight: the users of this account only"
        );
        pc.status = Some(ProviderConfigStatus {
            used_by: Some(ProviderConfigUsage {
                total: 1,
                vpcs: 1,
                ..Default::default()
            }),
            ..Default::default()
        });
        assert!(
            trigger(pc.clone()).is_empty(),
            "a usage count change alone does not fire"
        );
        let condition = |s| Condition::new(CREDENTIALS_VALID, s, "x", "", Some(1));
        if let Some(st) = pc.status.as_mut() {
            st.conditions.push(condition(ConditionStatus::False));
        }
        assert_eq!(names(trigger(pc.clone())), ["a"], "credentials broke");
        assert!(trigger(pc.clone()).is_empty());
        if let Some(st) = pc.status.as_mut() {
            st.conditions = vec![condition(ConditionStatus::True)];
        }
        assert_eq!(names(trigger(pc.clone())), ["a"], "credentials fixed");
        pc.metadata.generation = Some(2);
        assert_eq!(names(trigger(pc)), ["a"], "spec changed");
    }

    #[test]
    fn condition_status_reads_serialised_conditions() {
        let obj = serde_json::json!({"status": {"conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "Synced", "status": "False"}
        ]}});
        assert_eq!(condition_status(&obj, "Ready"), ConditionStatus::True);
        assert_eq!(condition_status(&obj, "Synced"), ConditionStatus::False);
        assert_eq!(condition_status(&obj, "Stalled"), ConditionStatus::Unknown);
        assert_eq!(
            condition_status(&serde_json::json!({}), "Ready"),
            ConditionStatus::Unknown
        );
    }
}
