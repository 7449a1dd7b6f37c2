//! The per-account token bucket shared by every controller that talks to one cloud account, plus the
//! "pause until" a 429 / Retry-After imposes on all of them. Callers `acquire().await` before each request.
//!
//! Design: reservation style. Each caller takes a token at once (the balance may go negative) and sleeps
//! for the deficit, so waiters are served in arrival order without a queue, and a burst never exceeds
//! `burst`. A pause set by a throttled response holds every caller — including ones already sleeping on a
//! reservation — until the pause ends. Time comes from `tokio::time`, so tests run on paused time.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::settings::RateBudget;

#[derive(Debug)]
struct State {
    tokens: f64,
    last: Instant,
    qps: f64,
    burst: f64,
    paused_until: Option<Instant>,
}

/// A token bucket with a throttle pause. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<State>,
}

/// Smallest accepted rate; a zero or negative budget would block forever.
const MIN_QPS: f64 = 0.01;

impl RateLimiter {
    /// A full bucket for the given budget.
    pub fn new(budget: RateBudget) -> Self {
        let burst = f64::from(budget.burst.max(1));
        Self {
            state: Mutex::new(State {
                tokens: burst,
                last: Instant::now(),
                qps: budget.qps.max(MIN_QPS),
                burst,
                paused_until: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another task panicked mid-update of plain numbers; keep going.
        crate::locks::lock(&self.state)
    }

    /// Changes the budget (a ProviderConfig edit) without losing the current balance or pause.
    pub fn set_budget(&self, budget: RateBudget) {
        let mut s = self.lock();
        refill(&mut s, Instant::now());
        s.qps = budget.qps.max(MIN_QPS);
        s.burst = f64::from(budget.burst.max(1));
        s.tokens = s.tokens.min(s.burst);
    }

    /// The current budget.
    pub fn budget(&self) -> RateBudget {
        let s = self.lock();
        RateBudget {
            qps: s.qps,
            burst: s.burst as u32,
        }
    }

    /// Holds every caller until `until` (later pauses win; an earlier one never shortens a pause).
    pub fn pause_until(&self, until: Instant) {
        let mut s = self.lock();
        if s.paused_until.is_none_or(|p| p < until) {
            s.paused_until = Some(until);
        }
    }

    /// Holds every caller for `delay` from now.
    pub fn pause_for(&self, delay: Duration) {
        self.pause_until(Instant::now() + delay);
    }

    /// Tokens in the bucket now (refilled up to this instant). Negative while callers wait on reservations:
    /// `-n` means about `n` callers are queued. Read by `edgefleet_provider_rate_limiter_tokens`.
    pub fn available(&self) -> f64 {
        let mut s = self.lock();
        refill(&mut s, Instant::now());
        s.tokens
    }

    /// When the current pause ends, if one is active.
    pub fn paused_until(&self) -> Option<Instant> {
        let s = self.lock();
        s.paused_until.filter(|p| *p > Instant::now())
    }

    /// Waits for a token (and for any pause to end).
    pub async fn acquire(&self) {
        // 1. Wait out an active pause before reserving, so a pause does not drain the bucket.
        self.wait_pause().await;
        // 2. Reserve a token and sleep for the deficit.
        let wait = {
            let mut s = self.lock();
            let now = Instant::now();
            refill(&mut s, now);
            s.tokens -= 1.0;
            if s.tokens >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-s.tokens / s.qps)
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        // 3. A pause may have started while we slept.
        self.wait_pause().await;
    }

    async fn wait_pause(&self) {
        loop {
            let until = {
                let s = self.lock();
                match s.paused_until {
                    Some(p) if p > Instant::now() => p,
                    _ => return,
                }
            };
            tokio::time::sleep_until(until).await;
        }
    }
}

fn refill(s: &mut State, now: Instant) {
    let elapsed = now.saturating_duration_since(s.last).as_secs_f64();
    s.tokens = (s.tokens + elapsed * s.qps).min(s.burst);
    s.last = now;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn limiter(qps: f64, burst: u32) -> Arc<RateLimiter> {
        Arc::new(RateLimiter::new(RateBudget { qps, burst }))
    }

    #[tokio::test(start_paused = true)]
    async fn available_tokens_drain_and_refill() {
        let l = limiter(2.0, 3);
        assert!((l.available() - 3.0).abs() < 1e-9, "a new bucket is full");
        l.acquire().await;
        l.acquire().await;
        assert!((l.available() - 1.0).abs() < 1e-9);
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!((l.available() - 2.0).abs() < 1e-9, "one token per 1/qps");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!((l.available() - 3.0).abs() < 1e-9, "never above the burst");
    }

    #[tokio::test(start_paused = true)]
    async fn burst_is_immediate_then_rate_applies() {
        let l = limiter(2.0, 3);
        let start = Instant::now();
        for _ in 0..3 {
            l.acquire().await;
        }
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "a full bucket serves the burst without waiting"
        );
        l.acquire().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(500),
            "the 4th token arrives after 1/qps"
        );
        l.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(1000));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_waiters_are_spaced_by_the_rate() {
        let l = limiter(10.0, 1);
        let start = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..5 {
            let l = l.clone();
            handles.push(tokio::spawn(async move {
                l.acquire().await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for h in handles {
            times.push(h.await.unwrap_or(start).duration_since(start));
        }
        times.sort();
        let expected: Vec<Duration> = (0..5).map(|i| Duration::from_millis(100 * i)).collect();
        assert_eq!(times, expected, "five callers, one token every 100ms");
    }

    #[tokio::test(start_paused = true)]
    async fn pause_holds_everyone_until_retry_after() {
        let l = limiter(100.0, 10);
        l.pause_for(Duration::from_secs(3));
        let start = Instant::now();
        l.acquire().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(3),
            "a 429 pause delays the next call"
        );
        // A shorter pause never shortens a longer one.
        l.pause_for(Duration::from_secs(5));
        l.pause_for(Duration::from_secs(1));
        let t = Instant::now();
        l.acquire().await;
        assert_eq!(t.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn pause_set_while_sleeping_on_a_reservation_is_honoured() {
        let l = limiter(1.0, 1);
        l.acquire().await; // drains the bucket
        let start = Instant::now();
        let waiter = {
            let l = l.clone();
            tokio::spawn(async move {
                l.acquire().await;
                Instant::now()
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        l.pause_for(Duration::from_secs(4)); // until start + 4.1s, longer than the 1s reservation
        let done = waiter.await.unwrap_or(start);
        assert_eq!(done.duration_since(start), Duration::from_millis(4100));
    }

    #[tokio::test(start_paused = true)]
    async fn budget_change_applies_to_next_reservation() {
        let l = limiter(1.0, 1);
        l.acquire().await;
        l.set_budget(RateBudget { qps: 4.0, burst: 1 });
        let start = Instant::now();
        l.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(250));
        assert_eq!(l.budget().burst, 1);
    }
}
