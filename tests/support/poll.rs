//! Polling a plain future until a condition holds, for tests that talk to the emulator without a
//! Kubernetes watch to wait on (included by path: `#[path = "support/poll.rs"] mod poll;`).

use std::time::Duration;

/// Polls `f` until it returns `Some`, at most `attempts` times, 50 ms apart.
pub async fn eventually<T, F, Fut>(what: &str, attempts: u32, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..attempts {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: condition not reached after {attempts} polls");
}
