//! Process shutdown: a cloneable [`Shutdown`] signal, the SIGTERM/SIGINT listener that triggers it, and
//! [`run_until_shutdown`], which drives a future (the controllers) until shutdown plus a bounded grace period.
//!
//! The signal is a one-way latch (like tokio-util's `CancellationToken`, built on `tokio::sync::watch` so no
//! extra dependency is needed): once triggered it stays triggered, and every clone observes it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Errors from installing the process signal handlers.
#[derive(Debug, thiserror::Error)]
pub enum ShutdownError {
    /// The operating system refused a signal handler.
    #[error("failed to install the {signal} handler")]
    InstallHandler {
        /// The signal whose handler could not be installed.
        signal: &'static str,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A cloneable one-way latch: "the process is shutting down".
///
/// Every clone shares the same state. [`Shutdown::trigger`] is idempotent; [`Shutdown::triggered`] resolves
/// immediately once the latch is set, including for waiters that start after the trigger.
#[derive(Clone, Debug)]
pub struct Shutdown {
    latch: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A new, untriggered signal.
    #[must_use]
    pub fn new() -> Self {
        Self {
            latch: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Set the latch. Every current and future waiter is released.
    pub fn trigger(&self) {
        self.latch.send_replace(true);
    }

    /// Whether the latch is set.
    #[must_use]
    pub fn is_triggered(&self) -> bool {
        *self.latch.borrow()
    }

    /// Resolve once the latch is set.
    pub async fn triggered(&self) {
        let mut receiver = self.latch.subscribe();
        // The sender lives as long as `self`, so `wait_for` can only return once the value is `true`.
        let _ = receiver.wait_for(|set| *set).await;
    }

    /// An owned future resolving once the latch is set: `Send + Sync + 'static`, as kube's
    /// `Controller::graceful_shutdown_on` requires.
    pub fn triggered_owned(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let this = self.clone();
        async move { this.triggered().await }
    }
}

/// Trigger `shutdown` on the first SIGTERM or SIGINT (Ctrl-C). A second signal after that exits the process
/// at once with status 130, for an impatient operator at a terminal; Kubernetes itself follows SIGTERM with
/// SIGKILL after `terminationGracePeriodSeconds`.
///
/// The handlers are installed before this returns, so a signal arriving right after the call is not lost.
///
/// # Errors
/// [`ShutdownError::InstallHandler`] when a handler cannot be installed.
pub fn listen_for_signals(shutdown: Shutdown) -> Result<JoinHandle<()>, ShutdownError> {
    let mut signals = Signals::install()?;
    Ok(tokio::spawn(async move {
        let name = signals.next().await;
        tracing::info!(signal = name, "received signal, shutting down gracefully");
        shutdown.trigger();
        let name = signals.next().await;
        tracing::warn!(signal = name, "received a second signal, exiting immediately");
        std::process::exit(130);
    }))
}

/// The installed SIGTERM and SIGINT streams.
struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn install() -> Result<Self, ShutdownError> {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = signal(SignalKind::terminate()).map_err(|source| ShutdownError::InstallHandler {
            signal: "SIGTERM",
            source,
        })?;
        let interrupt = signal(SignalKind::interrupt()).map_err(|source| ShutdownError::InstallHandler {
            signal: "SIGINT",
            source,
        })?;
        Ok(Self { terminate, interrupt })
    }

    #[cfg(not(unix))]
    fn install() -> Result<Self, ShutdownError> {
        Ok(Self {})
    }

    /// Wait for the next signal and return its name.
    #[cfg(unix)]
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> &'static str {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(_) => std::future::pending().await,
        }
    }
}

/// How a future driven by [`run_until_shutdown`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome<T> {
    /// The future completed on its own (before shutdown, or while draining within the grace period).
    Completed(T),
    /// Shutdown was triggered and the future did not finish within the grace period; it was dropped.
    GraceExpired,
}

/// Drive `work` until it completes. Once `stop` resolves, keep driving it for at most `grace` (it is
/// expected to notice the same signal and wind down, e.g. via kube's `graceful_shutdown_on`), then drop it.
pub async fn run_until_shutdown<T, W, S>(work: W, stop: S, grace: Duration) -> RunOutcome<T>
where
    W: Future<Output = T>,
    S: Future<Output = ()>,
{
    tokio::pin!(work);
    tokio::select! {
        output = &mut work => return RunOutcome::Completed(output),
        () = stop => {}
    }
    match tokio::time::timeout(grace, work).await {
        Ok(output) => RunOutcome::Completed(output),
        Err(_) => RunOutcome::GraceExpired,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trigger_releases_current_and_later_waiters() {
        let shutdown = Shutdown::new();
        assert!(!shutdown.is_triggered());
        let waiter = tokio::spawn(shutdown.triggered_owned());
        shutdown.clone().trigger();
        waiter.await.unwrap();
        assert!(shutdown.is_triggered());
        // A waiter that starts after the trigger resolves at once; triggering again is harmless.
        shutdown.trigger();
        shutdown.triggered().await;
    }

    #[tokio::test]
    async fn untriggered_signal_stays_pending() {
        let shutdown = Shutdown::new();
        let waited = tokio::time::timeout(Duration::from_millis(20), shutdown.triggered()).await;
        assert!(waited.is_err(), "an untriggered shutdown must not resolve");
    }

    #[tokio::test]
    async fn work_that_finishes_in_grace_completes() {
        let shutdown = Shutdown::new();
        shutdown.trigger();
        let work = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            7
        };
        let outcome = run_until_shutdown(work, shutdown.triggered(), Duration::from_secs(60)).await;
        assert_eq!(outcome, RunOutcome::Completed(7));
    }

    #[tokio::test]
    async fn work_that_ignores_shutdown_is_dropped_after_grace() {
        let shutdown = Shutdown::new();
        shutdown.trigger();
        let work = std::future::pending::<()>();
        let outcome = run_until_shutdown(work, shutdown.triggered(), Duration::from_millis(10)).await;
        assert_eq!(outcome, RunOutcome::GraceExpired);
    }

    #[tokio::test]
    async fn work_that_completes_before_shutdown_is_returned() {
        let shutdown = Shutdown::new();
        let outcome = run_until_shutdown(async { "done" }, shutdown.triggered(), Duration::ZERO).await;
        assert_eq!(outcome, RunOutcome::Completed("done"));
    }
}
