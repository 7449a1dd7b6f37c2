//! [`AppState`]: the shared state behind every handler (config, world, clock, tokens, faults,
//! counters, timer handlers) and [`Tx`], the short synchronous transaction a handler runs against
//! one account's [`Store`]. All state lives behind one mutex; handlers never hold it across `.await`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::Value;

use crate::config::Config;
use crate::core::auth::{Principal, TokenStore};
use crate::core::calls::Calls;
use crate::core::clock::Clock;
use crate::core::error::ApiError;
use crate::core::faults::Faults;
use crate::core::ids::Rng;
use crate::core::retry_after::RetryAfterLog;
use crate::core::state::{Record, StateError, Store, Timer, TimerFn, World, run_due};

struct Locked {
    world: World,
    rng: Rng,
}

struct Inner {
    config: Config,
    locked: Mutex<Locked>,
    faults: RwLock<Arc<Faults>>,
    clock: Clock,
    tokens: TokenStore,
    calls: Calls,
    retry_after: RetryAfterLog,
    throttle: Mutex<HashMap<String, (u64, u32)>>,
    timers: HashMap<String, TimerFn>,
}

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// One account-scoped transaction: the account's store plus what a handler needs to decide.
pub struct Tx<'a> {
    /// The account's objects.
    pub store: &'a mut Store,
    /// Emulator time at the start of the transaction (epoch ms).
    pub now_ms: u64,
    /// The account id.
    pub domain_id: &'a str,
    /// The configuration (catalog, delays, ...).
    pub config: &'a Config,
    /// The active faults.
    pub faults: &'a Faults,
    /// The seeded RNG for fault decisions.
    pub rng: &'a mut Rng,
}

impl Tx<'_> {
    /// Inserts a new record, honouring the eventual-consistency fault for its kind.
    pub fn insert_new<T: Record>(&mut self, value: T) -> Result<(), ApiError> {
        let delay = self.faults.visibility_delay(T::KIND);
        let visible_at = if delay == 0 { 0 } else { self.now_ms + delay };
        self.store.table::<T>()?.insert_visible_at(value, visible_at);
        Ok(())
    }

    /// The configured delay for a transition.
    pub fn delay_ms(&self, key: &str, default_ms: u64) -> u64 {
        self.config.delays.ms(key, default_ms)
    }

    /// Schedules a transition `delay_ms` from now, unless the kind is stuck by a fault.
    pub fn schedule_in(&mut self, delay_ms: u64, kind: &str, id: &str, action: &str) {
        if !self.faults.is_stuck(kind) {
            self.store.schedule(self.now_ms + delay_ms, kind, id, action);
        }
    }
}

impl AppState {
    /// Builds the state from a config, a loaded world and the families' timer handlers.
    pub fn new(config: Config, world: World, timers: HashMap<String, TimerFn>) -> Self {
        let clock = Clock::new(config.clock);
        let faults = Arc::new(config.faults.clone());
        let rng = Rng::new(faults.seed);
        Self {
            inner: Arc::new(Inner {
                config,
                locked: Mutex::new(Locked { world, rng }),
                faults: RwLock::new(faults),
                clock,
                tokens: TokenStore::default(),
                calls: Calls::default(),
                retry_after: RetryAfterLog::default(),
                throttle: Mutex::new(HashMap::new()),
                timers,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Locked> {
        self.inner.locked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` against the caller's account store after applying due timers.
    pub fn tx<R>(
        &self,
        principal: &Principal,
        f: impl FnOnce(&mut Tx<'_>) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        self.tx_domain(&principal.domain_id, f)
    }

    /// Runs `f` against the store of `domain_id` after applying due timers.
    pub fn tx_domain<R>(
        &self,
        domain_id: &str,
        f: impl FnOnce(&mut Tx<'_>) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let faults = self.faults();
        let now_ms = self.inner.clock.now_ms();
        let mut guard = self.lock();
        let Locked { world, rng } = &mut *guard;
        let store = world.account(domain_id);
        run_due(store, now_ms, &self.inner.timers)?;
        let mut tx = Tx {
            store,
            now_ms,
            domain_id,
            config: &self.inner.config,
            faults: &faults,
            rng,
        };
        f(&mut tx)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Issued tokens.
    pub fn tokens(&self) -> &TokenStore {
        &self.inner.tokens
    }

    /// Call counters.
    pub fn calls(&self) -> &Calls {
        &self.inner.calls
    }

    /// Requests that arrived before a 429's Retry-After had passed.
    pub fn retry_after(&self) -> &RetryAfterLog {
        &self.inner.retry_after
    }

    /// The active faults.
    pub fn faults(&self) -> Arc<Faults> {
        self.inner
            .faults
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the faults (after validation) and re-seeds the RNG with `faults.seed`.
    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        let seed = faults.seed;
        *self.inner.faults.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(faults);
        self.lock().rng = Rng::new(seed);
        self.inner
            .throttle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(())
    }

    /// True with probability `p`, from the seeded RNG.
    pub fn roll(&self, p: f64) -> bool {
        self.lock().rng.chance(p)
    }

    /// A uniform integer in `[0, n)` from the seeded RNG.
    pub fn below(&self, n: u64) -> u64 {
        self.lock().rng.below(n)
    }

    /// Counts a request of `operation` against the account's throttle budget; `Err` is the 429 answer.
    /// Requests arriving before an earlier 429's Retry-After has passed are recorded
    /// ([`RetryAfterLog`]).
    pub fn throttle(&self, domain_id: &str, operation: &str) -> Result<(), ApiError> {
        let faults = self.faults();
        let Some(rule) = faults.throttle_for(domain_id) else {
            return Ok(());
        };
        let window_ms = self.inner.clock.window_ms();
        self.inner
            .retry_after
            .arrived(domain_id, operation, window_ms, self.inner.clock.now_ms());
        let second = window_ms / 1000;
        let mut map = self.inner.throttle.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(domain_id.to_string()).or_insert((second, 0));
        if entry.0 != second {
            *entry = (second, 0);
        }
        if entry.1 >= rule.limit_per_second {
            self.inner.retry_after.throttled(
                domain_id,
                window_ms,
                rule.retry_after_secs.saturating_mul(1000),
            );
            return Err(ApiError::throttled(rule.limit_per_second, rule.retry_after_secs));
        }
        entry.1 += 1;
        Ok(())
    }

    /// The whole state as a snapshot document (due timers are applied first).
    pub fn snapshot(&self) -> Value {
        let now = self.inner.clock.now_ms();
        let mut g = self.lock();
        if let Err(err) = g.world.run_all_due(now, &self.inner.timers) {
            tracing::error!(%err, "failed to apply due transitions before a snapshot");
        }
        g.world.to_json()
    }

    /// Replaces the whole state with a snapshot document.
    pub fn load_snapshot(&self, value: Value) -> Result<(), StateError> {
        let world = World::from_json(value)?;
        self.lock().world = world;
        Ok(())
    }

    /// Runs `f` on the world (admin and test helpers).
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let now = self.inner.clock.now_ms();
        let mut g = self.lock();
        if let Err(err) = g.world.run_all_due(now, &self.inner.timers) {
            tracing::error!(%err, "failed to apply due transitions");
        }
        f(&mut g.world)
    }

    /// Runs the timer handler of `kind` with `action` on record `id` now, in the account that holds the
    /// record: the admin knobs of a family (pay or cancel an order, expire a server) are actions of its
    /// timer handler. `Ok(false)` when no handler serves `kind` or no account has the record.
    pub fn act(&self, kind: &str, id: &str, action: &str) -> Result<bool, StateError> {
        let Some(handler) = self.inner.timers.get(kind).copied() else {
            return Ok(false);
        };
        let now = self.inner.clock.now_ms();
        let mut g = self.lock();
        g.world.run_all_due(now, &self.inner.timers)?;
        for domain in g.world.account_ids() {
            let store = g.world.account(&domain);
            if store.get_json(kind, id).is_some() {
                let timer = Timer {
                    due_ms: now,
                    seq: 0,
                    kind: kind.to_string(),
                    id: id.to_string(),
                    action: action.to_string(),
                };
                handler(store, &timer, now)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Deletes every object of every account (config, faults, tokens and counters are kept).
    pub fn reset(&self) {
        self.lock().world = World::default();
    }
}
