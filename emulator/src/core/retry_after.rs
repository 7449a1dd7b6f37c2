//! Whether clients honour `Retry-After`: every throttled (429) answer opens a window per account until
//! its `Retry-After` has passed, and every request of that account arriving inside the window is
//! recorded with how long after the 429 it came (`GET /_emulator/retry-after`). A client that pauses
//! all its calls to the account, as the header asks, sends none; requests already in flight when the
//! 429 was sent arrive within milliseconds, so readers apply a grace period of their own to `after_ms`.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// At most this many early requests are kept (later ones are only counted).
const MAX_RECORDED: usize = 10_000;

/// One request that arrived while its account was told to wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlyRequest {
    /// Account (domain id).
    pub account: String,
    /// Operation (`"<METHOD> <route>"`).
    pub operation: String,
    /// Arrival, emulator time (epoch ms).
    pub at_ms: u64,
    /// Milliseconds after the 429 that opened the window.
    pub after_ms: u64,
    /// The `Retry-After` of that 429, in milliseconds.
    pub retry_after_ms: u64,
}

/// The record behind `GET /_emulator/retry-after`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryAfterReport {
    /// Throttled (429) answers sent.
    pub throttled: u64,
    /// Requests that arrived inside a window (the first [`MAX_RECORDED`]).
    pub early: Vec<EarlyRequest>,
    /// Early requests beyond [`MAX_RECORDED`], counted only.
    pub unrecorded: u64,
}

/// The open window of one account: when its last 429 was sent and when its Retry-After ends
/// (monotonic milliseconds, [`crate::core::clock::Clock::window_ms`]).
#[derive(Debug, Clone, Copy)]
struct Window {
    sent: u64,
    until: u64,
}

/// The live record.
#[derive(Debug, Default)]
pub struct RetryAfterLog {
    inner: Mutex<(HashMap<String, Window>, RetryAfterReport)>,
}

impl RetryAfterLog {
    /// Notes a request of `account` arriving at `window_ms` (monotonic) / `at_ms` (epoch), before the
    /// throttle decides on it.
    pub fn arrived(&self, account: &str, operation: &str, window_ms: u64, at_ms: u64) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (windows, report) = &mut *g;
        let Some(w) = windows.get(account).copied() else {
            return;
        };
        if window_ms >= w.until {
            windows.remove(account);
            return;
        }
        if report.early.len() >= MAX_RECORDED {
            report.unrecorded += 1;
            return;
        }
        report.early.push(EarlyRequest {
            account: account.to_owned(),
            operation: operation.to_owned(),
            at_ms,
            after_ms: window_ms.saturating_sub(w.sent),
            retry_after_ms: w.until - w.sent,
        });
    }

    /// Notes a 429 sent to `account` at `window_ms` asking it to wait `retry_after_ms`.
    pub fn throttled(&self, account: &str, window_ms: u64, retry_after_ms: u64) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (windows, report) = &mut *g;
        report.throttled += 1;
        let until = window_ms + retry_after_ms;
        let w = windows.entry(account.to_owned()).or_insert(Window {
            sent: window_ms,
            until,
        });
        if until >= w.until {
            *w = Window {
                sent: window_ms,
                until,
            };
        }
    }

    /// A copy of the record.
    pub fn report(&self) -> RetryAfterReport {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).1.clone()
    }

    /// Forgets windows and records.
    pub fn reset(&self) {
        *self.inner.lock().unwrap_or_else(|e| e.into_inner()) = Default::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_inside_the_window_of_their_account_are_early() {
        let log = RetryAfterLog::default();
        log.arrived("a", "GET /v1/vpcs", 0, 1_000);
        log.throttled("a", 100, 2_000);
        log.arrived("a", "GET /v1/vpcs", 150, 1_150);
        log.arrived("b", "GET /v1/vpcs", 150, 1_150);
        log.arrived("a", "POST /v1/vpcs", 2_099, 3_099);
        log.arrived("a", "POST /v1/vpcs", 2_100, 3_100);
        log.arrived("a", "POST /v1/vpcs", 2_200, 3_200);
        let r = log.report();
        assert_eq!(r.throttled, 1);
        let after: Vec<u64> = r.early.iter().map(|e| e.after_ms).collect();
        assert_eq!(after, [50, 1_999], "{r:?}");
        assert!(
            r.early
                .iter()
                .all(|e| e.account == "a" && e.retry_after_ms == 2_000)
        );
        log.reset();
        assert_eq!(log.report(), RetryAfterReport::default());
    }

    #[test]
    fn a_later_429_restarts_the_window_an_earlier_end_never_shortens_it() {
        let log = RetryAfterLog::default();
        log.throttled("a", 0, 5_000);
        log.throttled("a", 1_000, 1_000);
        log.arrived("a", "GET /x", 3_000, 3_000);
        log.throttled("a", 4_000, 2_000);
        log.arrived("a", "GET /x", 5_500, 5_500);
        let after: Vec<u64> = log.report().early.iter().map(|e| e.after_ms).collect();
        assert_eq!(after, [3_000, 1_500]);
    }
}
