//! Batched list observation (design.md: "poll-based drift detection with batched list observation where
//! the API allows"): one list of an account's objects answers the drift polls of every object it names,
//! instead of one read per object per poll interval.
//!
//! A [`Snapshots`] holds the last list, stamped with the moment the list *started*. A lookup is served
//! from it only when
//! - the caller accepts data of that age (`max_age`; zero means "read directly"),
//! - the list started after the last mutation this process made to the object ([`Snapshots::touch`]),
//!   so a pass never sees its own change undone by an older list, and
//! - the list names the object (an object it does not name is new or gone: the caller reads it directly
//!   and the direct read decides).
//!
//! Otherwise the caller reads the object directly. A stale snapshot is replaced by one new list, made by
//! whichever lookup finds it stale first while the others wait for that list (single flight); a failed
//! list leaves every caller to its direct read. The old snapshot is dropped before the new list is made,
//! so at most one is held.
//!
//! The same list answers queries by something other than the id ([`Snapshots::find`]: a name, on a cloud
//! whose list cannot filter by it), so that a burst of creates, each checking its name first, costs one
//! list per `max_age` instead of one per create. Such a query names a key (the name): a mutation that may
//! make an object match it (a create or a rename to that name) touches the key as well as the object,
//! and a query whose key, or any object it matches, was touched after the list started is read directly.
//! Keys and ids share one record of touches; a key equal to some id only sends a lookup to a direct read.
//!
//! Touches are remembered only while a snapshot could still answer: once the snapshot is older than any
//! caller has accepted (or there is none) and no list is in flight, every later list starts after the
//! touch anyway, so the snapshot and the recorded touches are dropped. Memory stays bounded by the
//! objects changed within one snapshot's lifetime even when no caller ever lists.
//!
//! A cloud whose snapshot holds its instances as observed states states only what differs
//! ([`ListedInstances`]: its snapshot, its list of the account, its observation counter, whether the
//! list answers name lookups): the drift poll ([`Snapshots::observe_instance`], counted by the source
//! that answered) and the name lookup of a create pass ([`Snapshots::find_live_named`]) are the same
//! for every such cloud, and [`InstanceApi`](super::InstanceApi)'s defaults run them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::metrics::ObservationSource;
use super::{ObservedInstance, ProviderResult};
use crate::locks::lock;
use tokio::time::Instant;

/// How a lookup was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<V> {
    /// From the snapshot.
    Hit(V),
    /// Not answerable from a snapshot: read directly.
    Direct,
}

/// One list, stamped with the moment it started.
#[derive(Debug)]
struct Snapshot<V> {
    started: Instant,
    items: HashMap<String, V>,
}

/// The last list of one account's objects of one kind, and the objects this process changed since.
#[derive(Debug)]
pub struct Snapshots<V> {
    current: Mutex<Option<Arc<Snapshot<V>>>>,
    touched: Mutex<HashMap<String, Instant>>,
    refresh: tokio::sync::Mutex<()>,
    /// The largest `max_age` any lookup has passed: a snapshot older than this answers no one.
    widest_age: Mutex<Duration>,
}

impl<V> Default for Snapshots<V> {
    fn default() -> Self {
        Self {
            current: Mutex::new(None),
            touched: Mutex::new(HashMap::new()),
            refresh: tokio::sync::Mutex::new(()),
            widest_age: Mutex::new(Duration::ZERO),
        }
    }
}

impl<V: Clone> Snapshots<V> {
    /// Records that these objects were just changed (call when the mutating call returns, whatever its
    /// answer): lists that started before now no longer answer for them.
    pub fn touch<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let now = Instant::now();
        // No list in flight (holding the guard keeps one from starting while we decide): if the
        // snapshot can answer no one, nothing needs remembering, since any later list starts after now.
        if let Ok(_no_list) = self.refresh.try_lock()
            && !self.may_still_answer()
        {
            *lock(&self.current) = None;
            lock(&self.touched).clear();
            return;
        }
        let mut touched = lock(&self.touched);
        for id in ids {
            touched.insert(id.to_owned(), now);
        }
    }

    /// Whether the current snapshot is young enough to answer some caller's lookup.
    fn may_still_answer(&self) -> bool {
        let widest = *lock(&self.widest_age);
        lock(&self.current)
            .as_ref()
            .is_some_and(|s| s.started.elapsed() <= widest)
    }

    /// `id` from a list no older than `max_age`, listing anew (once, for all waiting callers) when the
    /// snapshot is older; [`Lookup::Direct`] when a list cannot answer (see the module docs).
    pub async fn lookup<E, F, Fut>(&self, id: &str, max_age: Duration, list: F) -> Lookup<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<(String, V)>, E>>,
        E: std::fmt::Display,
    {
        match self.snapshot(max_age, list).await {
            Some(snapshot) => self.answer(&snapshot, id),
            None => Lookup::Direct,
        }
    }

    /// Every object that `matches` accepts, from a list no older than `max_age` (listing anew as
    /// [`Self::lookup`] does). Unlike a lookup by id, an object the list does not hold is simply not
    /// matched: the answer is the list's as of its start. [`Lookup::Direct`] when `max_age` is zero, the
    /// list failed, `key` was touched after the list started (a create or rename that may have made an
    /// object match), or an object it matches was (a delete, rename or power change since the list).
    pub async fn find<E, F, Fut>(
        &self,
        key: &str,
        max_age: Duration,
        list: F,
        matches: impl Fn(&V) -> bool,
    ) -> Lookup<Vec<V>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<(String, V)>, E>>,
        E: std::fmt::Display,
    {
        let Some(snapshot) = self.snapshot(max_age, list).await else {
            return Lookup::Direct;
        };
        if self.changed_since(&snapshot, key) {
            return Lookup::Direct;
        }
        let mut found = Vec::new();
        for (id, v) in &snapshot.items {
            if matches(v) {
                if self.changed_since(&snapshot, id) {
                    return Lookup::Direct;
                }
                found.push(v.clone());
            }
        }
        Lookup::Hit(found)
    }

    /// A list no older than `max_age`: the current one, or a new one (single flight); `None` for a zero
    /// `max_age` or a failed list.
    async fn snapshot<E, F, Fut>(&self, max_age: Duration, list: F) -> Option<Arc<Snapshot<V>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<(String, V)>, E>>,
        E: std::fmt::Display,
    {
        if max_age.is_zero() {
            return None;
        }
        {
            let mut widest = lock(&self.widest_age);
            *widest = (*widest).max(max_age);
        }
        if let Some(snapshot) = self.fresh(max_age) {
            return Some(snapshot);
        }
        let _single_flight = self.refresh.lock().await;
        if let Some(snapshot) = self.fresh(max_age) {
            return Some(snapshot);
        }
        *lock(&self.current) = None;
        let started = Instant::now();
        let items = match list().await {
            Ok(items) => items,
            Err(e) => {
                tracing::debug!(error = %e, "batched observation: the list failed; reading objects directly");
                return None;
            }
        };
        let snapshot = Arc::new(Snapshot {
            started,
            items: items.into_iter().collect(),
        });
        // Touches before this list started are answered by it from now on.
        lock(&self.touched).retain(|_, at| *at >= started);
        *lock(&self.current) = Some(Arc::clone(&snapshot));
        Some(snapshot)
    }

    /// The snapshot if it is no older than `max_age`.
    fn fresh(&self, max_age: Duration) -> Option<Arc<Snapshot<V>>> {
        lock(&self.current)
            .as_ref()
            .filter(|s| s.started.elapsed() <= max_age)
            .cloned()
    }

    /// Whether `key` (an id, or a [`Self::find`] key) was touched after `snapshot` started.
    fn changed_since(&self, snapshot: &Snapshot<V>, key: &str) -> bool {
        lock(&self.touched)
            .get(key)
            .is_some_and(|at| *at >= snapshot.started)
    }

    fn answer(&self, snapshot: &Snapshot<V>, id: &str) -> Lookup<V> {
        match snapshot.items.get(id) {
            Some(v) if !self.changed_since(snapshot, id) => Lookup::Hit(v.clone()),
            _ => Lookup::Direct,
        }
    }
}

/// A cloud whose instances are observed from one list of the account
/// ([`InstanceApi::listed`](super::InstanceApi::listed)): what the shared drift poll and name lookup
/// need of it.
#[async_trait]
pub trait ListedInstances: Send + Sync {
    /// The snapshot of the account's instances.
    fn snapshots(&self) -> &Snapshots<ObservedInstance>;
    /// Every instance of the account (all pages), as observed.
    async fn list_all(&self) -> ProviderResult<Vec<ObservedInstance>>;
    /// Counts one drift poll of an instance answered by `source` (the observation metric).
    fn count_observation(&self, source: ObservationSource);
    /// Whether the list answers a create pass's name lookups too (a cloud whose list cannot filter by
    /// name, so that each lookup would page the whole account). By default no: the lookup is the
    /// cloud's own filtered call.
    fn answers_names(&self) -> bool {
        false
    }
}

/// The account's instances from `list`, each under its id (as a [`Snapshots`] of instances holds them).
async fn by_id<F, Fut>(list: F) -> ProviderResult<Vec<(String, ObservedInstance)>>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ProviderResult<Vec<ObservedInstance>>>,
{
    Ok(list().await?.into_iter().map(|i| (i.id.clone(), i)).collect())
}

impl Snapshots<ObservedInstance> {
    /// The drift poll of instance `id` ([`InstanceApi::observe`](super::InstanceApi::observe)): from a
    /// list of the account's instances (`list`) no older than `max_age` ([`Self::lookup`]), else by
    /// `read` (the direct read of the one instance). `count` is told which answered, once, before a
    /// direct read is made (the observation metric).
    pub async fn observe_instance<L, LFut, R, RFut>(
        &self,
        id: &str,
        max_age: Duration,
        list: L,
        read: R,
        count: impl FnOnce(ObservationSource),
    ) -> ProviderResult<ObservedInstance>
    where
        L: FnOnce() -> LFut,
        LFut: Future<Output = ProviderResult<Vec<ObservedInstance>>>,
        R: FnOnce() -> RFut,
        RFut: Future<Output = ProviderResult<ObservedInstance>>,
    {
        match self.lookup(id, max_age, || by_id(list)).await {
            Lookup::Hit(instance) => {
                count(ObservationSource::Batch);
                Ok(instance)
            }
            Lookup::Direct => {
                count(ObservationSource::Direct);
                read().await
            }
        }
    }

    /// The live instances named `name` for a create pass
    /// ([`InstanceApi::find_by_identity_within`](super::InstanceApi::find_by_identity_within)): from a
    /// list of the account's instances (`list`) no older than `max_age` that can answer for the name
    /// ([`Self::find`]: nothing this process did touched it since), else by `direct` (a lookup made
    /// now).
    pub async fn find_live_named<L, LFut, D, DFut>(
        &self,
        name: &str,
        max_age: Duration,
        list: L,
        direct: D,
    ) -> ProviderResult<Vec<ObservedInstance>>
    where
        L: FnOnce() -> LFut,
        LFut: Future<Output = ProviderResult<Vec<ObservedInstance>>>,
        D: FnOnce() -> DFut,
        DFut: Future<Output = ProviderResult<Vec<ObservedInstance>>>,
    {
        let found = self
            .find(name, max_age, || by_id(list), |i| i.is_live_named(name))
            .await;
        match found {
            Lookup::Hit(found) => Ok(found),
            Lookup::Direct => direct().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    const AGE: Duration = Duration::from_secs(15);

    async fn list(calls: &AtomicU32, items: &[(&str, u32)]) -> Result<Vec<(String, u32)>, String> {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(items.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect())
    }

    #[tokio::test(start_paused = true)]
    async fn one_list_answers_every_object_until_it_is_too_old() {
        let s = Snapshots::default();
        let calls = AtomicU32::new(0);
        let items = [("a", 1), ("b", 2)];
        assert_eq!(s.lookup("a", AGE, || list(&calls, &items)).await, Lookup::Hit(1));
        assert_eq!(s.lookup("b", AGE, || list(&calls, &items)).await, Lookup::Hit(2));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(AGE + Duration::from_millis(1)).await;
        let newer = [("a", 10)];
        assert_eq!(s.lookup("a", AGE, || list(&calls, &newer)).await, Lookup::Hit(10));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_age_and_unlisted_objects_are_read_directly() {
        let s = Snapshots::default();
        let calls = AtomicU32::new(0);
        let items = [("a", 1)];
        assert_eq!(
            s.lookup("a", Duration::ZERO, || list(&calls, &items)).await,
            Lookup::Direct
        );
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert_eq!(
            s.lookup("new", AGE, || list(&calls, &items)).await,
            Lookup::Direct
        );
        // The list is fresh: an unlisted object does not make another one.
        assert_eq!(
            s.lookup("new", AGE, || list(&calls, &items)).await,
            Lookup::Direct
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_made_after_the_list_started_is_never_answered_by_it() {
        let s = Snapshots::default();
        let calls = AtomicU32::new(0);
        let items = [("a", 1), ("b", 2)];
        assert_eq!(s.lookup("a", AGE, || list(&calls, &items)).await, Lookup::Hit(1));
        tokio::time::advance(Duration::from_secs(1)).await;
        s.touch(["a"]);
        assert_eq!(s.lookup("a", AGE, || list(&calls, &items)).await, Lookup::Direct);
        assert_eq!(s.lookup("b", AGE, || list(&calls, &items)).await, Lookup::Hit(2));
        // A list that starts after the change answers for it again.
        tokio::time::advance(AGE).await;
        let after = [("a", 3)];
        assert_eq!(s.lookup("a", AGE, || list(&calls, &after)).await, Lookup::Hit(3));
        assert!(
            lock(&s.touched).is_empty(),
            "touches older than the list are forgotten"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn touches_are_not_kept_when_no_snapshot_could_answer_for_them() {
        let s = Snapshots::default();
        s.touch(["a", "b"]);
        assert!(lock(&s.touched).is_empty(), "no snapshot: nothing to remember");
        let calls = AtomicU32::new(0);
        let items = [("a", 1), ("b", 2)];
        assert_eq!(s.lookup("a", AGE, || list(&calls, &items)).await, Lookup::Hit(1));
        s.touch(["a"]);
        assert_eq!(
            lock(&s.touched).len(),
            1,
            "the fresh snapshot must not answer for a"
        );
        assert_eq!(s.lookup("a", AGE, || list(&calls, &items)).await, Lookup::Direct);
        tokio::time::advance(AGE + Duration::from_millis(1)).await;
        s.touch(["b", "c"]);
        assert!(lock(&s.touched).is_empty(), "the stale snapshot answers no one");
        assert!(lock(&s.current).is_none(), "and is dropped");
        // The next list starts after every touch and answers for them.
        assert_eq!(s.lookup("b", AGE, || list(&calls, &items)).await, Lookup::Hit(2));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_list_sends_callers_to_direct_reads_and_is_retried_next_time() {
        let s: Snapshots<u32> = Snapshots::default();
        let failing = || async { Err::<Vec<(String, u32)>, _>("boom".to_owned()) };
        assert_eq!(s.lookup("a", AGE, failing).await, Lookup::Direct);
        let calls = AtomicU32::new(0);
        let items = [("a", 1)];
        assert_eq!(s.lookup("a", AGE, || list(&calls, &items)).await, Lookup::Hit(1));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn finds_share_the_list_and_read_directly_once_their_key_or_a_match_was_touched() {
        let s = Snapshots::default();
        let calls = AtomicU32::new(0);
        let items = [("a", 1), ("b", 2), ("c", 2)];
        let twos = |v: &u32| *v == 2;
        let mut found = match s.find("two", AGE, || list(&calls, &items), twos).await {
            Lookup::Hit(found) => found,
            Lookup::Direct => panic!("a fresh list answers"),
        };
        found.sort_unstable();
        assert_eq!(found, [2, 2]);
        assert_eq!(
            s.find("three", AGE, || list(&calls, &items), |v| *v == 3).await,
            Lookup::Hit(vec![]),
            "nothing matches: an empty answer, not a direct read"
        );
        assert_eq!(s.lookup("a", AGE, || list(&calls, &items)).await, Lookup::Hit(1));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one list for finds and lookups");
        // A create of "three" (its key) and a change of "b" (a match of "two") since the list.
        s.touch(["three", "b"]);
        assert_eq!(
            s.find("three", AGE, || list(&calls, &items), |v| *v == 3).await,
            Lookup::Direct
        );
        assert_eq!(
            s.find("two", AGE, || list(&calls, &items), twos).await,
            Lookup::Direct
        );
        assert_eq!(
            s.find("one", AGE, || list(&calls, &items), |v| *v == 1).await,
            Lookup::Hit(vec![1]),
            "untouched keys and matches are still answered"
        );
        assert_eq!(
            s.find("one", Duration::ZERO, || list(&calls, &items), |v| *v == 1)
                .await,
            Lookup::Direct,
            "zero age reads directly"
        );
        // A list that starts after the touches answers for them.
        tokio::time::advance(AGE + Duration::from_millis(1)).await;
        let after = [("b", 2), ("d", 3)];
        assert_eq!(
            s.find("three", AGE, || list(&calls, &after), |v| *v == 3).await,
            Lookup::Hit(vec![3])
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_find_takes_a_younger_list_when_it_asks_for_one() {
        let s = Snapshots::default();
        let calls = AtomicU32::new(0);
        let items = [("a", 1)];
        assert_eq!(
            s.find("k", AGE, || list(&calls, &items), |_| true).await,
            Lookup::Hit(vec![1])
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        let newer = [("a", 1), ("b", 1)];
        let young = Duration::from_secs(2);
        let got = s.find("k", young, || list(&calls, &newer), |_| true).await;
        assert!(matches!(got, Lookup::Hit(ref v) if v.len() == 2), "{got:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 2, "the 5 s old list was too old");
    }

    fn instance(id: &str, name: &str, state: crate::provider::InstanceState) -> ObservedInstance {
        ObservedInstance {
            id: id.into(),
            name: name.into(),
            description: String::new(),
            state,
            raw_status: String::new(),
            flavor: None,
            image: None,
            placement: crate::provider::Placement::default(),
            fleet_id: None,
            private_ips: vec![],
            public_ips: vec![],
            nics: vec![],
            security_groups: vec![],
            vpc_id: None,
            key_name: None,
            created: None,
            tags: Default::default(),
        }
    }

    fn account() -> Vec<ObservedInstance> {
        use crate::provider::InstanceState::{Deleted, Running};
        vec![
            instance("i-1", "web", Running),
            instance("i-2", "web", Deleted),
            instance("i-3", "db", Running),
        ]
    }

    #[tokio::test(start_paused = true)]
    async fn an_instance_poll_is_answered_by_the_list_by_id_or_read_directly_and_counted() {
        let s = Snapshots::default();
        let (lists, reads) = (AtomicU32::new(0), AtomicU32::new(0));
        let counted = Mutex::new(Vec::new());
        let poll = |id: &'static str, age: Duration| {
            s.observe_instance(
                id,
                age,
                || async {
                    lists.fetch_add(1, Ordering::SeqCst);
                    Ok(account())
                },
                || async {
                    reads.fetch_add(1, Ordering::SeqCst);
                    Ok(instance(id, "direct", crate::provider::InstanceState::Running))
                },
                |source| lock(&counted).push(source),
            )
        };
        assert_eq!(poll("i-3", AGE).await.unwrap().name, "db", "keyed by id");
        assert_eq!(poll("i-1", AGE).await.unwrap().name, "web");
        assert_eq!(poll("i-9", AGE).await.unwrap().name, "direct", "not listed");
        assert_eq!(poll("i-1", Duration::ZERO).await.unwrap().name, "direct");
        assert_eq!(
            (lists.load(Ordering::SeqCst), reads.load(Ordering::SeqCst)),
            (1, 2)
        );
        use ObservationSource::{Batch, Direct};
        assert_eq!(*lock(&counted), [Batch, Batch, Direct, Direct]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_name_lookup_finds_live_instances_in_the_list_until_the_name_is_touched() {
        let s = Snapshots::default();
        let lists = AtomicU32::new(0);
        let find = |name: &'static str| {
            s.find_live_named(
                name,
                AGE,
                || async {
                    lists.fetch_add(1, Ordering::SeqCst);
                    Ok(account())
                },
                || async {
                    Ok(vec![instance(
                        "i-new",
                        name,
                        crate::provider::InstanceState::Running,
                    )])
                },
            )
        };
        let ids = |found: ProviderResult<Vec<ObservedInstance>>| -> Vec<String> {
            found.unwrap().into_iter().map(|i| i.id).collect()
        };
        assert_eq!(ids(find("web").await), ["i-1"], "the deleted one is not live");
        assert_eq!(ids(find("cache").await), Vec::<String>::new());
        s.touch(["cache"]);
        assert_eq!(
            ids(find("cache").await),
            ["i-new"],
            "a touched name is looked up now"
        );
        assert_eq!(lists.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_lookups_share_one_list() {
        let s = Arc::new(Snapshots::default());
        let calls = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for i in 0..20u32 {
            let (s, calls) = (Arc::clone(&s), Arc::clone(&calls));
            tasks.push(tokio::spawn(async move {
                s.lookup(&format!("o{}", i % 4), AGE, || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok::<_, String>((0..4u32).map(|k| (format!("o{k}"), k)).collect())
                })
                .await
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            let want = u32::try_from(i).unwrap() % 4;
            assert_eq!(t.await.unwrap(), Lookup::Hit(want));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
