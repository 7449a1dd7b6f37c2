//! Who uses which account, answered from the controllers' own caches ([`UserIndex`]): each cloud-backed
//! kind's controller registers its cache ([`Context::user_controller`](super::context::Context)), the
//! ProviderConfig controller counts an account's users from them (no list of the API server per pass,
//! so it can afford to recount on every change), and it is told when an object naming an account appears
//! or goes ([`UserIndex::subscribe`]): `status.usedBy` and the "used by" message follow the objects within
//! a pass, not a poll interval later. Until every user kind's cache has completed its first list (or when
//! a kind's controller does not run in this process) [`UserIndex::count`] answers `None` and the caller
//! lists the API server instead.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures::channel::mpsc;
use kube::Resource;
use kube::ResourceExt;
use kube::runtime::reflector::Store;

use super::caches::Caches;
use crate::api::provider_config::ProviderConfigUsage;

/// The kinds whose objects name a ProviderConfig (`spec.providerConfigRef`), with their plurals.
pub const USER_KINDS: [(&str, &str); 4] = [
    ("Vpc", "vpcs"),
    ("SecurityGroup", "securitygroups"),
    ("EdgeInstance", "edgeinstances"),
    ("EdgeCloud", "edgeclouds"),
];

/// The objects that name one ProviderConfig.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Users {
    /// `Kind namespace/name` of each user, sorted.
    pub objects: Vec<String>,
    /// Counts per kind.
    pub usage: ProviderConfigUsage,
}

impl Users {
    /// A short list for messages: the first ten users and how many more.
    pub fn describe(&self) -> String {
        let mut out = self
            .objects
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if self.objects.len() > 10 {
            out.push_str(&format!(" and {} more", self.objects.len() - 10));
        }
        out
    }

    /// Adds `count` users of `kind` to the counts.
    pub fn add(&mut self, kind: &str, count: i32) {
        match kind {
            "Vpc" => self.usage.vpcs += count,
            "SecurityGroup" => self.usage.security_groups += count,
            "EdgeInstance" => self.usage.edge_instances += count,
            _ => self.usage.edge_clouds += count,
        }
        self.usage.total += count;
    }
}

/// What changed for the ProviderConfig controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touched {
    /// An object naming this ProviderConfig appeared or went.
    One(String),
    /// A user cache was listed anew (objects may have gone unseen): every ProviderConfig.
    All,
}

type UsersOf = Box<dyn Fn(&str) -> Vec<String> + Send + Sync>;

/// The registered user caches and the ProviderConfig controller's trigger.
#[derive(Default)]
pub struct UserIndex {
    kinds: Mutex<BTreeMap<String, UsersOf>>,
    notify: Mutex<Option<mpsc::UnboundedSender<Touched>>>,
}

impl std::fmt::Debug for UserIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserIndex")
            .field(
                "kinds",
                &crate::locks::lock(&self.kinds).keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl UserIndex {
    /// Registers the cache of a user kind; `provider_config_of` reads the account an object names.
    pub fn register<K>(&self, store: Store<K>, provider_config_of: fn(&K) -> &str)
    where
        K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    {
        let kind = K::kind(&()).to_string();
        let users_of: UsersOf = Box::new(move |name: &str| {
            store
                .state()
                .iter()
                .filter(|o| provider_config_of(o) == name)
                .map(|o| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()))
                .collect()
        });
        crate::locks::lock(&self.kinds).insert(kind, users_of);
    }

    /// The users of ProviderConfig `name`, from the caches, or `None` while a user kind's cache is not
    /// registered or has not completed its first list (`caches`).
    pub fn count(&self, caches: &Caches, name: &str) -> Option<Users> {
        let kinds = crate::locks::lock(&self.kinds);
        let synced = caches.state.borrow();
        let ready = USER_KINDS
            .iter()
            .all(|(k, _)| kinds.contains_key(*k) && synced.get(*k).copied().unwrap_or(false));
        if !ready {
            return None;
        }
        let mut users = Users::default();
        for (kind, _) in USER_KINDS {
            let objects = kinds.get(kind).map(|of| of(name)).unwrap_or_default();
            users.add(kind, i32::try_from(objects.len()).unwrap_or(i32::MAX));
            users
                .objects
                .extend(objects.into_iter().map(|o| format!("{kind} {o}")));
        }
        users.objects.sort();
        Some(users)
    }

    /// The stream of changes for the ProviderConfig controller (a later call replaces the earlier one).
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Touched> {
        let (tx, rx) = mpsc::unbounded();
        *crate::locks::lock(&self.notify) = Some(tx);
        rx
    }

    /// Tells the ProviderConfig controller that `touched` changed (nothing when none subscribed).
    pub fn touched(&self, touched: Touched) {
        if let Some(tx) = crate::locks::lock(&self.notify).as_ref() {
            // A closed receiver (the controller stopped) only means nobody listens any more.
            let _ = tx.unbounded_send(touched);
        }
    }

    /// Forgets the registrations and the subscriber (the controllers stopped).
    pub fn clear(&self) {
        crate::locks::lock(&self.kinds).clear();
        *crate::locks::lock(&self.notify) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::ProviderConfigRef;
    use crate::api::vpc::{Vpc, VpcSpec};
    use kube::runtime::watcher;

    fn vpc(name: &str, pc: &str) -> Vpc {
        let mut v = Vpc::new(
            name,
            VpcSpec {
                provider_config_ref: ProviderConfigRef { name: pc.into() },
                ..VpcSpec::default()
            },
        );
        v.metadata.namespace = Some("ns".into());
        v
    }

    #[test]
    fn users_are_counted_from_the_caches_once_every_user_kind_is_synced() {
        let index = UserIndex::default();
        let caches = Caches::default();
        let (store, mut writer) = kube::runtime::reflector::store::<Vpc>();
        writer.apply_watcher_event(&watcher::Event::Apply(vpc("a", "acct")));
        writer.apply_watcher_event(&watcher::Event::Apply(vpc("b", "other")));
        writer.apply_watcher_event(&watcher::Event::Apply(vpc("c", "acct")));
        index.register(store, |v: &Vpc| &v.spec.provider_config_ref.name);
        assert_eq!(index.count(&caches, "acct"), None, "nothing registered as synced");
        for (kind, _) in USER_KINDS {
            caches.register(kind);
            super::super::caches::mark_synced(&caches.state, kind);
        }
        assert_eq!(
            index.count(&caches, "acct"),
            None,
            "the other user kinds' caches are not registered"
        );
        for kind in ["SecurityGroup", "EdgeInstance", "EdgeCloud"] {
            crate::locks::lock(&index.kinds).insert(kind.to_owned(), Box::new(|_: &str| Vec::new()));
        }
        let users = index.count(&caches, "acct").unwrap();
        assert_eq!(users.usage.vpcs, 2);
        assert_eq!(users.usage.total, 2);
        assert_eq!(users.objects, vec!["Vpc ns/a", "Vpc ns/c"]);
        assert_eq!(index.count(&caches, "none").unwrap().usage.total, 0);
    }

    #[test]
    fn changes_reach_the_subscriber_only() {
        let index = UserIndex::default();
        index.touched(Touched::All);
        let mut rx = index.subscribe();
        index.touched(Touched::One("acct".into()));
        assert_eq!(rx.try_recv().ok(), Some(Touched::One("acct".into())));
        assert!(rx.try_recv().is_err(), "nothing sent before the subscription");
        index.clear();
        index.touched(Touched::All);
        assert!(rx.try_recv().is_err(), "closed once the controllers stopped");
    }
}
