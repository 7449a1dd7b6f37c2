//! The emulator's clock. Every time-dependent behaviour (token expiry, async transitions, eventual
//! consistency, signature date skew) reads this clock, never the system clock directly, so tests can
//! move time forward with `POST /_emulator/clock/advance` instead of sleeping.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// How the clock moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    /// Wall-clock time plus any manual advances (the default).
    #[default]
    Real,
    /// Time stands still except for manual advances (deterministic tests).
    Frozen,
}

/// A clock in milliseconds since the Unix epoch that can be advanced manually.
#[derive(Debug)]
pub struct Clock {
    start: Instant,
    start_epoch_ms: u64,
    offset_ms: AtomicU64,
    frozen: AtomicBool,
}

impl Clock {
    /// A clock starting at the current wall-clock time.
    pub fn new(mode: ClockMode) -> Self {
        let start_epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Self {
            start: Instant::now(),
            start_epoch_ms,
            offset_ms: AtomicU64::new(0),
            frozen: AtomicBool::new(mode == ClockMode::Frozen),
        }
    }

    /// Milliseconds since the Unix epoch, as the emulator sees it.
    pub fn now_ms(&self) -> u64 {
        let elapsed = if self.frozen.load(Ordering::Relaxed) {
            0
        } else {
            self.start.elapsed().as_millis() as u64
        };
        self.start_epoch_ms + elapsed + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Milliseconds since start-up that always include real elapsed time plus manual advances, even
    /// when the clock is frozen (used for rate windows, which are about real request rates).
    pub fn window_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64 + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves the clock forward by `ms` milliseconds.
    pub fn advance(&self, ms: u64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// The current mode.
    pub fn mode(&self) -> ClockMode {
        if self.frozen.load(Ordering::Relaxed) {
            ClockMode::Frozen
        } else {
            ClockMode::Real
        }
    }
}

/// Formats epoch milliseconds as `2021-04-25T03:21:39Z` (the instance `created`/`updated` style).
pub fn rfc3339_seconds(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Formats epoch milliseconds as `2020-12-29T07:26:22.866644Z` (the edge cloud `create_at` style).
pub fn rfc3339_micros(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default()
}

/// Formats epoch milliseconds as `2019-05-22T03:23:59.000000` (the `OS-SRV-USG:launched_at` style).
pub fn nova_time(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_advanced() {
        let c = Clock::new(ClockMode::Frozen);
        let t0 = c.now_ms();
        assert_eq!(c.now_ms(), t0);
        c.advance(1_500);
        assert_eq!(c.now_ms(), t0 + 1_500);
    }

    #[test]
    fn formats_match_doc_examples() {
        assert_eq!(rfc3339_seconds(1_619_320_899_000), "2021-04-25T03:21:39Z");
        assert_eq!(rfc3339_micros(1_609_226_782_866), "2020-12-29T07:26:22.866000Z");
        assert_eq!(nova_time(1_558_495_439_000), "2019-05-22T03:23:59.000000");
    }
}
