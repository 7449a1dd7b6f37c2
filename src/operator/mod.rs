//! The operator process runtime behind `edgefleet run`: leader election on a Lease, the health/metrics HTTP
//! server, telemetry, and graceful shutdown, tied together by [`run`].
//!
//! `edgefleet run` does, in order:
//! 1. [`telemetry::init`] with the [`LogOptions`];
//! 2. build a kube `Client`, a [`Registry`], [`Metrics::register`] (and the providers' metrics), a
//!    [`Readiness`] and a [`Shutdown`] wired to SIGTERM/SIGINT by [`listen_for_signals`];
//! 3. [`Operator::start`] (binds the health/metrics server, validates the election settings), then
//!    [`Operator::run`] with a closure that starts the controllers, giving them the [`LeadershipToken`]
//!    (stop when it fires, e.g. `Controller::graceful_shutdown_on(token.stopped_owned())`) and calling
//!    `readiness.set_controllers_ready(true)` once their caches are synced ([`run`] does both steps);
//! 4. exit with [`Exit::code`]: 0 after a requested shutdown, 1 after lost leadership (the Deployment
//!    restarts the pod, which rejoins as a standby) or when the controllers ended on their own.
//!
//! docs/operations.md describes the timings, probe semantics, metric families and log format.

pub mod http;
pub mod leader;
pub mod metrics;
pub mod shutdown;
pub mod telemetry;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

pub use http::{HttpError, HttpServer, Readiness, serve};
pub use leader::{
    ElectionOutcome, LeaderElector, LeaderError, LeaderState, LeadershipToken, LeaseConfig, StopReason,
    StopSender,
};
pub use metrics::{ConditionStatus, Metrics, ReconcileTimer, SiteReplicas};
pub use shutdown::{RunOutcome, Shutdown, ShutdownError, listen_for_signals, run_until_shutdown};
pub use telemetry::{LogFormat, LogOptions, Redacted, TelemetryError};

/// Default address of the health/metrics server.
pub const DEFAULT_HTTP_ADDR: &str = "0.0.0.0:8080";
/// Default time the controllers get to finish in-flight work after SIGTERM, below Kubernetes' default
/// `terminationGracePeriodSeconds` of 30 s so the Lease is released before the kubelet sends SIGKILL.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// How long to wait for the HTTP server to finish open requests at the very end.
const HTTP_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors that keep the runtime from starting.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The health/metrics server could not start.
    #[error("failed to start the health/metrics server")]
    Http(#[source] HttpError),
    /// The leader election configuration is invalid.
    #[error("failed to set up leader election")]
    Leader(#[source] LeaderError),
    /// The signal handlers could not be installed.
    #[error("failed to set up shutdown signals")]
    Signals(#[source] ShutdownError),
    /// A command-line duration does not parse.
    #[error("invalid duration {value:?}: use a number with s, ms or m (e.g. 15s, 500ms)")]
    Duration {
        /// The text given.
        value: String,
    },
}

/// Process runtime settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Address of the `/healthz`, `/readyz`, `/metrics` server.
    pub http_addr: SocketAddr,
    /// Leader election; `None` runs the controllers at once (one replica only, e.g. local development).
    pub leader_election: Option<LeaseConfig>,
    /// Time the controllers get to finish in-flight work after shutdown is requested.
    pub shutdown_grace: Duration,
}

/// Command-line options of `edgefleet run` that configure the runtime (`#[command(flatten)]`).
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct RuntimeOptions {
    /// Listen address of the /healthz, /readyz and /metrics server.
    #[arg(long, default_value = DEFAULT_HTTP_ADDR, env = "EDGEFLEET_HTTP_ADDR")]
    pub http_addr: SocketAddr,
    /// Elect a leader on a Lease so only one replica reconciles. Disable only when running one replica.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, env = "EDGEFLEET_LEADER_ELECT")]
    pub leader_elect: bool,
    /// Namespace of the leader Lease (default: POD_NAMESPACE, else the client's default namespace).
    #[arg(long, env = "POD_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// Name of the leader Lease.
    #[arg(long, default_value = leader::DEFAULT_LEASE_NAME)]
    pub leader_election_id: String,
    /// This replica's identity in the Lease (default: POD_NAME/HOSTNAME plus a random suffix).
    #[arg(long)]
    pub leader_election_identity: Option<String>,
    /// How long standbys wait after the Lease last changed before taking over (whole seconds).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it stops reconciling (< lease duration).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub renew_deadline: Duration,
    /// Interval between renewals and acquisition attempts (< renew deadline).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub retry_period: Duration,
    /// Time the controllers get to finish in-flight work after SIGTERM.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
}

impl RuntimeOptions {
    /// The runtime configuration; `default_namespace` is used for the Lease when no namespace was given
    /// (pass `client.default_namespace()`).
    ///
    /// # Errors
    /// [`OperatorError::Leader`] when the election timings are inconsistent.
    pub fn into_config(self, default_namespace: &str) -> Result<RuntimeConfig, OperatorError> {
        let leader_election = if self.leader_elect {
            let namespace = self
                .leader_election_namespace
                .filter(|namespace| !namespace.is_empty())
                .unwrap_or_else(|| default_namespace.to_owned());
            let identity = self
                .leader_election_identity
                .unwrap_or_else(LeaseConfig::default_identity);
            let config = LeaseConfig::new(namespace, self.leader_election_id, identity).with_timings(
                self.lease_duration,
                self.renew_deadline,
                self.retry_period,
            );
            config.validate().map_err(OperatorError::Leader)?;
            Some(config)
        } else {
            None
        };
        Ok(RuntimeConfig {
            http_addr: self.http_addr,
            leader_election,
            shutdown_grace: self.shutdown_grace,
        })
    }
}

/// Parse `15s`, `500ms`, `2m` or a bare number of seconds (`1.5`).
///
/// # Errors
/// [`OperatorError::Duration`] for anything else.
pub fn parse_duration(value: &str) -> Result<Duration, OperatorError> {
    let invalid = || OperatorError::Duration {
        value: value.to_owned(),
    };
    let text = value.trim();
    let (number, scale) = if let Some(number) = text.strip_suffix("ms") {
        (number, 0.001)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1.0)
    } else if let Some(number) = text.strip_suffix('m') {
        (number, 60.0)
    } else {
        (text, 1.0)
    };
    let number: f64 = number.trim().parse().map_err(|_| invalid())?;
    Duration::try_from_secs_f64(number * scale).map_err(|_| invalid())
}

/// How the runtime ended; see [`Exit::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Shutdown was requested and completed.
    Shutdown,
    /// Leadership was lost: exit non-zero so the Deployment restarts the process as a fresh standby.
    LeadershipLost,
    /// The controllers' future returned without being asked to stop.
    ControllersExited,
}

impl Exit {
    /// The process exit status: 0 for [`Exit::Shutdown`], 1 otherwise.
    #[must_use]
    pub fn code(self) -> i32 {
        match self {
            Self::Shutdown => 0,
            Self::LeadershipLost | Self::ControllersExited => 1,
        }
    }
}

/// The operator process runtime, started (HTTP server bound, election configured) but not yet running
/// the controllers. [`Operator::start`] then [`Operator::run`]; [`run`] does both.
#[derive(Debug)]
pub struct Operator {
    elector: Option<LeaderElector>,
    shutdown_grace: Duration,
    metrics: Metrics,
    readiness: Readiness,
    shutdown: Shutdown,
    http_stop: Shutdown,
    http: HttpServer,
}

impl Operator {
    /// Validate the election settings and bind the health/metrics server on `config.http_addr` (it answers
    /// from now on: `/readyz` is 503 until the role is known).
    ///
    /// The caller registers every metric family in `registry` first, and keeps clones of `metrics` and
    /// `readiness` for the controllers; the runtime maintains the leader gauge and the role part of
    /// readiness. Wire `shutdown` to process signals with [`listen_for_signals`].
    ///
    /// # Errors
    /// [`OperatorError::Leader`] for an invalid election configuration, [`OperatorError::Http`] when the
    /// address cannot be bound.
    pub async fn start(
        client: Client,
        config: RuntimeConfig,
        registry: Registry,
        metrics: Metrics,
        readiness: Readiness,
        shutdown: Shutdown,
    ) -> Result<Self, OperatorError> {
        let elector = match config.leader_election {
            Some(lease) => Some(LeaderElector::new(client, lease).map_err(OperatorError::Leader)?),
            None => None,
        };
        let http_stop = Shutdown::new();
        let http = serve(
            config.http_addr,
            Arc::new(registry),
            readiness.clone(),
            http_stop.clone(),
        )
        .await
        .map_err(OperatorError::Http)?;
        Ok(Self {
            elector,
            shutdown_grace: config.shutdown_grace,
            metrics,
            readiness,
            shutdown,
            http_stop,
            http,
        })
    }

    /// The address the health/metrics server is bound to.
    #[must_use]
    pub fn http_addr(&self) -> SocketAddr {
        self.http.local_addr
    }

    /// Run until shutdown or lost leadership. `controllers` is called at most once, when this replica
    /// becomes leader, with a token that fires when they must stop (then they get the shutdown grace period
    /// to finish in-flight work). The HTTP server keeps answering until the very end, so liveness probes
    /// pass during a graceful drain.
    pub async fn run<F, Fut>(self, controllers: F) -> Exit
    where
        F: FnOnce(LeadershipToken) -> Fut,
        Fut: Future<Output = ()>,
    {
        let Self {
            elector,
            shutdown_grace,
            metrics,
            readiness,
            shutdown,
            http_stop,
            http,
        } = self;
        let exit = match elector {
            Some(elector) => {
                let mirror = tokio::spawn(mirror_role(
                    elector.subscribe(),
                    shutdown.clone(),
                    readiness.clone(),
                    metrics.clone(),
                ));
                let outcome = elector.run(shutdown.clone(), shutdown_grace, controllers).await;
                mirror.abort();
                match outcome {
                    ElectionOutcome::ShutdownAsStandby | ElectionOutcome::ShutdownAfterLeading { .. } => {
                        Exit::Shutdown
                    }
                    ElectionOutcome::LeadershipLost => Exit::LeadershipLost,
                    ElectionOutcome::ControllersExited { .. } => Exit::ControllersExited,
                }
            }
            None => run_unelected(shutdown, shutdown_grace, &readiness, &metrics, controllers).await,
        };

        match exit {
            Exit::LeadershipLost => readiness.set_lost(),
            Exit::Shutdown | Exit::ControllersExited => readiness.set_shutting_down(),
        }
        metrics.set_leader(false);
        http_stop.trigger();
        if tokio::time::timeout(HTTP_STOP_TIMEOUT, http.task).await.is_err() {
            tracing::warn!("the health/metrics server did not stop in time");
        }
        tracing::info!(?exit, "operator stopped");
        exit
    }
}

/// [`Operator::start`] followed by [`Operator::run`].
///
/// # Errors
/// As [`Operator::start`]; once running, every ending is an [`Exit`].
pub async fn run<F, Fut>(
    client: Client,
    config: RuntimeConfig,
    registry: Registry,
    metrics: Metrics,
    readiness: Readiness,
    shutdown: Shutdown,
    controllers: F,
) -> Result<Exit, OperatorError>
where
    F: FnOnce(LeadershipToken) -> Fut,
    Fut: Future<Output = ()>,
{
    let operator = Operator::start(client, config, registry, metrics, readiness, shutdown).await?;
    Ok(operator.run(controllers).await)
}

/// Without election: lead at once, stop on shutdown.
async fn run_unelected<F, Fut>(
    shutdown: Shutdown,
    grace: Duration,
    readiness: &Readiness,
    metrics: &Metrics,
    controllers: F,
) -> Exit
where
    F: FnOnce(LeadershipToken) -> Fut,
    Fut: Future<Output = ()>,
{
    tracing::warn!("leader election disabled: run only one replica");
    readiness.set_leading();
    metrics.set_leader(true);
    let (stop, token) = LeadershipToken::new();
    let stop_on_shutdown = async {
        shutdown.triggered().await;
        readiness.set_shutting_down();
        stop.stop(StopReason::Shutdown);
    };
    match run_until_shutdown(controllers(token), stop_on_shutdown, grace).await {
        RunOutcome::Completed(()) if shutdown.is_triggered() => Exit::Shutdown,
        RunOutcome::Completed(()) => Exit::ControllersExited,
        RunOutcome::GraceExpired => {
            tracing::warn!(?grace, "controllers did not stop within the grace period");
            Exit::Shutdown
        }
    }
}

/// Reflect the elector's state in readiness and the leader gauge; mark not-ready as soon as shutdown starts.
async fn mirror_role(
    mut state: watch::Receiver<LeaderState>,
    shutdown: Shutdown,
    readiness: Readiness,
    metrics: Metrics,
) {
    loop {
        let current = state.borrow_and_update().clone();
        match current {
            LeaderState::Connecting => {}
            LeaderState::Standby { .. } => {
                readiness.set_standby();
                metrics.set_leader(false);
            }
            LeaderState::Leading => {
                readiness.set_leading();
                metrics.set_leader(true);
            }
            LeaderState::Lost => {
                readiness.set_lost();
                metrics.set_leader(false);
            }
            LeaderState::Stopped => {
                readiness.set_shutting_down();
                metrics.set_leader(false);
            }
        }
        tokio::select! {
            changed = state.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = shutdown.triggered() => {
                readiness.set_shutting_down();
                // Keep following the state (the leader gauge stays 1 while draining).
                if state.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        runtime: RuntimeOptions,
        #[command(flatten)]
        logs: LogOptions,
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("15s").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        for bad in ["", "s", "ten", "-1s", "1h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn defaults_give_the_documented_election() {
        let cli =
            Cli::try_parse_from(["edgefleet", "--leader-election-namespace", "edgefleet-system"]).unwrap();
        let config = cli.runtime.into_config("default").unwrap();
        let lease = config.leader_election.unwrap();
        assert_eq!(lease.namespace, "edgefleet-system");
        assert_eq!(lease.name, "edgefleet-operator");
        assert_eq!(
            (lease.lease_duration, lease.renew_deadline, lease.retry_period),
            (
                Duration::from_secs(15),
                Duration::from_secs(10),
                Duration::from_secs(2)
            )
        );
        assert_eq!(config.http_addr, DEFAULT_HTTP_ADDR.parse().unwrap());
        assert_eq!(cli.logs.log_format, LogFormat::Text);
    }

    #[test]
    fn inconsistent_timings_and_disabled_election() {
        let cli =
            Cli::try_parse_from(["edgefleet", "--lease-duration", "10s", "--renew-deadline", "10s"]).unwrap();
        assert!(matches!(
            cli.runtime.into_config("ns"),
            Err(OperatorError::Leader(_))
        ));
        let cli =
            Cli::try_parse_from(["edgefleet", "--leader-elect", "false", "--log-format", "json"]).unwrap();
        assert_eq!(cli.runtime.into_config("ns").unwrap().leader_election, None);
        assert_eq!(cli.logs.log_format, LogFormat::Json);
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Exit::Shutdown.code(), 0);
        assert_eq!(Exit::LeadershipLost.code(), 1);
        assert_eq!(Exit::ControllersExited.code(), 1);
    }
}
