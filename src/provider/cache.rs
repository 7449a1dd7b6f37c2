//! A small time-bounded cache for catalog answers (sites, flavors, images) that every create validates
//! against: they change rarely, and asking the cloud once per object multiplies cloud calls by the fleet
//! size (docs/benchmarks.md). Only non-empty answers are kept, so something that was just added (a
//! private image, a new site) is found at once; an entry is served for at most [`CATALOG_TTL`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How long a catalog answer is reused.
pub const CATALOG_TTL: Duration = Duration::from_secs(60);

/// Answers by request key, each with the time it was fetched.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (Instant, Vec<V>)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// An empty cache whose entries live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The cached answer for `key` if it is fresh, else `fetch`'s answer (kept when non-empty). Errors
    /// are never cached.
    pub async fn get_or_fetch<E, F>(&self, key: K, fetch: F) -> Result<Vec<V>, E>
    where
        F: Future<Output = Result<Vec<V>, E>>,
    {
        if let Some(hit) = self.fresh(&key) {
            return Ok(hit);
        }
        let answer = fetch.await?;
        if !answer.is_empty() {
            let mut entries = self.lock();
            // Drop stale entries so keys that are never asked again do not accumulate.
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            entries.insert(key, (Instant::now(), answer.clone()));
        }
        Ok(answer)
    }

    fn fresh(&self, key: &K) -> Option<Vec<V>> {
        let entries = self.lock();
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (Instant, Vec<V>)>> {
        crate::locks::lock(&self.entries)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    async fn fetch(calls: &AtomicU32, answer: Vec<u32>) -> Result<Vec<u32>, String> {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(answer)
    }

    #[tokio::test(start_paused = true)]
    async fn answers_are_reused_until_they_expire() {
        let cache = TtlCache::new(Duration::from_secs(60));
        let calls = AtomicU32::new(0);
        for _ in 0..3 {
            let v = cache.get_or_fetch("k", fetch(&calls, vec![1, 2])).await.unwrap();
            assert_eq!(v, [1, 2]);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(61)).await;
        cache.get_or_fetch("k", fetch(&calls, vec![3])).await.unwrap();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "expired entries are fetched again"
        );
        let other = cache.get_or_fetch("other", fetch(&calls, vec![4])).await.unwrap();
        assert_eq!(other, [4], "keys are separate");
    }

    #[tokio::test(start_paused = true)]
    async fn empty_answers_and_errors_are_not_cached() {
        let cache: TtlCache<&str, u32> = TtlCache::new(Duration::from_secs(60));
        let calls = AtomicU32::new(0);
        cache.get_or_fetch("k", fetch(&calls, vec![])).await.unwrap();
        cache.get_or_fetch("k", fetch(&calls, vec![])).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "not found is asked again");
        let err = cache
            .get_or_fetch("k", async { Err::<Vec<u32>, _>("boom".to_string()) })
            .await;
        assert_eq!(err, Err("boom".to_string()));
        let v = cache.get_or_fetch("k", fetch(&calls, vec![7])).await.unwrap();
        assert_eq!(v, [7]);
    }
}
