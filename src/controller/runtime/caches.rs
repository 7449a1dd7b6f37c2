//! The caches of the controllers built with [`super::context::Context::controller`]: which kinds have
//! completed their first list (behind `/readyz`), and the census tasks counting their objects.

use std::sync::Mutex;

use tokio::sync::watch;
use tokio::task::AbortHandle;
use tracing::debug;

/// The caches of the controllers built with [`Context::controller`]: which have completed their first list.
#[derive(Debug)]
pub struct Caches {
    /// Kind → synced.
    pub(super) state: watch::Sender<std::collections::BTreeMap<String, bool>>,
    /// Census tasks, stopped by [`Caches::stop`] or when the context is dropped.
    pub(super) tasks: Mutex<Vec<AbortHandle>>,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            state: watch::Sender::new(std::collections::BTreeMap::new()),
            tasks: Mutex::new(Vec::new()),
        }
    }
}

impl Caches {
    pub(super) fn register(&self, kind: &str) {
        self.state.send_modify(|synced| {
            synced.entry(kind.to_owned()).or_insert(false);
        });
    }

    /// The kinds registered so far.
    pub fn kinds(&self) -> Vec<String> {
        self.state.borrow().keys().cloned().collect()
    }

    /// Whether every registered cache has completed its first list.
    pub fn all_synced(&self) -> bool {
        self.state.borrow().values().all(|synced| *synced)
    }

    /// Resolves once every cache registered so far has completed its first list.
    pub async fn synced(&self) {
        let mut rx = self.state.subscribe();
        // The sender lives as long as `self`, so this only ends when the condition holds.
        let _ = rx.wait_for(|synced| synced.values().all(|s| *s)).await;
    }

    /// Stops the census tasks and forgets the registrations (the controllers stopped).
    pub fn stop(&self) {
        for task in crate::locks::lock(&self.tasks).drain(..) {
            task.abort();
        }
        self.state.send_modify(std::collections::BTreeMap::clear);
    }
}

impl Drop for Caches {
    fn drop(&mut self) {
        for task in crate::locks::get_mut(&mut self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// Records that the cache of `kind` completed a full list (a no-op after the first time, or when the
/// registrations were cleared because the controllers stopped).
pub(super) fn mark_synced(state: &watch::Sender<std::collections::BTreeMap<String, bool>>, kind: &str) {
    state.send_if_modified(|synced| match synced.get_mut(kind) {
        Some(done) if !*done => {
            *done = true;
            debug!(kind = %kind, "cache synced");
            true
        }
        _ => false,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caches_are_synced_only_when_every_registered_cache_listed() {
        use futures::FutureExt;
        let caches = Caches::default();
        assert!(
            caches.synced().now_or_never().is_some(),
            "nothing registered: nothing to wait for"
        );
        caches.register("Vpc");
        caches.register("SecurityGroup");
        assert_eq!(caches.kinds(), ["SecurityGroup", "Vpc"]);
        let mut waiting = Box::pin(caches.synced());
        assert!(waiting.as_mut().now_or_never().is_none());
        mark_synced(&caches.state, "Vpc");
        assert!(!caches.all_synced());
        assert!(
            waiting.as_mut().now_or_never().is_none(),
            "SecurityGroup has not listed yet"
        );
        mark_synced(&caches.state, "SecurityGroup");
        assert!(caches.all_synced());
        assert!(waiting.as_mut().now_or_never().is_some());
        // A re-list (InitDone again) changes nothing; a cleared registry (controllers stopped) ignores it.
        mark_synced(&caches.state, "Vpc");
        caches.stop();
        assert!(caches.kinds().is_empty());
        mark_synced(&caches.state, "Vpc");
        assert!(caches.kinds().is_empty());
    }
}
