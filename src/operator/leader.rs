//! Leader election on a `coordination.k8s.io/v1` Lease: one active replica runs the controllers.
//!
//! The algorithm is client-go's `leaderelection` package, written out here because the maintained Rust crates
//! did not fit (see docs/operations.md): `kube-leader-election` targets kube 4, and `kube-lease-manager`
//! renews with merge patches that carry no `resourceVersion` precondition and judges expiry by comparing the
//! holder's `renewTime` with the local wall clock.
//!
//! - Every write is a `replace` (PUT) carrying the `resourceVersion` that was read, or a `create`; a
//!   concurrent writer makes it fail with 409 Conflict / AlreadyExists. Nothing is ever overwritten blindly.
//! - A candidate judges expiry on its own monotonic clock: a lease held by someone else is expired once its
//!   record has not changed for `leaseDurationSeconds` since this process last saw it change. Clock skew
//!   between nodes therefore never matters, only clock rate.
//! - The leader renews every `retry_period`. If it has not renewed successfully within `renew_deadline` of
//!   the start of its last successful renewal, it gives up leadership, and it does so strictly before any
//!   other candidate may take over (`renew_deadline < lease_duration`). Any sign that someone else changed
//!   the lease (another holder, the holder cleared, the lease deleted) makes it give up at once.
//! - On shutdown the leader first stops its controllers, keeps renewing while they drain, and then releases
//!   the lease (empty holder, `leaseDurationSeconds: 1`) so a standby takes over at its next poll.
//!
//! [`LeaderElector::run`] owns the whole life cycle: it waits to become leader, calls `on_leading` with a
//! [`LeadershipToken`] that fires when the controllers must stop, and returns an [`ElectionOutcome`]. A
//! process that lost leadership is expected to exit (non-zero) and be restarted by its Deployment, as
//! controller-runtime does: the controllers' caches and in-memory state are then rebuilt from scratch rather
//! than trusted across a gap in which another replica was in charge.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;

use super::shutdown::Shutdown;
use super::telemetry::error_chain;

/// Default lease duration: how long a standby waits after the lease last changed before taking over.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
/// Default renew deadline: how long the leader keeps trying to renew before it gives up leadership.
pub const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// Default retry period: the interval between renewals (leader) and between acquisition attempts (standby,
/// jittered up to twice this).
pub const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(2);
/// Default Lease name.
pub const DEFAULT_LEASE_NAME: &str = "edgefleet-operator";

/// Errors from leader election.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The configuration cannot guarantee a single leader.
    #[error("invalid leader election configuration: {reason}")]
    InvalidConfig {
        /// What is wrong, naming the field.
        reason: String,
    },
    /// A Kubernetes API call on the Lease failed.
    #[error("failed to {operation} lease {namespace}/{name}")]
    Kube {
        /// The operation that failed (`read`, `create`, `update`).
        operation: &'static str,
        /// The Lease namespace.
        namespace: String,
        /// The Lease name.
        name: String,
        /// The client error (boxed: `kube::Error` is large).
        #[source]
        source: Box<kube::Error>,
    },
}

/// Where the Lease lives, who this replica is, and the election timings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Namespace of the Lease (normally the operator's own namespace).
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This replica's identity, unique per process (see [`LeaseConfig::default_identity`]).
    pub identity: String,
    /// How long a standby waits after the lease last changed before taking over. Whole seconds, as the
    /// Lease stores `leaseDurationSeconds`.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up. Must be shorter than `lease_duration`.
    pub renew_deadline: Duration,
    /// Interval between renewals; standbys poll every `retry_period` to `2 × retry_period`.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// A configuration with the default timings (15 s / 10 s / 2 s).
    pub fn new(namespace: impl Into<String>, name: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: DEFAULT_LEASE_DURATION,
            renew_deadline: DEFAULT_RENEW_DEADLINE,
            retry_period: DEFAULT_RETRY_PERIOD,
        }
    }

    /// Replace the three timings.
    #[must_use]
    pub fn with_timings(
        mut self,
        lease_duration: Duration,
        renew_deadline: Duration,
        retry_period: Duration,
    ) -> Self {
        self.lease_duration = lease_duration;
        self.renew_deadline = renew_deadline;
        self.retry_period = retry_period;
        self
    }

    /// A process-unique identity: the pod name (`POD_NAME`, else `HOSTNAME`, else `edgefleet`) followed by a
    /// random suffix, so a restarted pod with the same name never mistakes its predecessor's lease for its own.
    pub fn default_identity() -> String {
        let base = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "edgefleet".to_owned());
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        format!("{base}_{}", &suffix[..8])
    }

    /// Check that the timings guarantee at most one active leader.
    ///
    /// # Errors
    /// [`LeaderError::InvalidConfig`] naming the offending field.
    pub fn validate(&self) -> Result<(), LeaderError> {
        let invalid = |reason: String| Err(LeaderError::InvalidConfig { reason });
        if self.namespace.is_empty() || self.name.is_empty() {
            return invalid("namespace and name of the lease must not be empty".to_owned());
        }
        if self.identity.is_empty() {
            return invalid("identity must not be empty".to_owned());
        }
        if self.lease_duration.subsec_nanos() != 0 || self.lease_duration.is_zero() {
            return invalid(format!(
                "leaseDuration must be a positive whole number of seconds, got {:?}",
                self.lease_duration
            ));
        }
        if i32::try_from(self.lease_duration.as_secs()).is_err() {
            return invalid(format!("leaseDuration {:?} is too long", self.lease_duration));
        }
        if self.retry_period.is_zero() {
            return invalid("retryPeriod must be positive".to_owned());
        }
        if self.renew_deadline >= self.lease_duration {
            return invalid(format!(
                "renewDeadline ({:?}) must be shorter than leaseDuration ({:?})",
                self.renew_deadline, self.lease_duration
            ));
        }
        if self.retry_period >= self.renew_deadline {
            return invalid(format!(
                "retryPeriod ({:?}) must be shorter than renewDeadline ({:?})",
                self.retry_period, self.renew_deadline
            ));
        }
        Ok(())
    }

    fn lease_duration_seconds(&self) -> i32 {
        // Checked by `validate`; saturate rather than panic.
        i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }
}

/// This replica's role, published on [`LeaderElector::subscribe`] (for readiness and the leader gauge).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaderState {
    /// Not yet able to read the Lease.
    Connecting,
    /// The Lease was read; another replica leads (or nobody does yet) and this one is waiting.
    Standby {
        /// The current holder, if any.
        holder: Option<String>,
    },
    /// This replica holds the Lease and runs the controllers.
    Leading,
    /// This replica stopped leading because it could not renew or someone else took the Lease.
    Lost,
    /// This replica stopped leading on purpose and released the Lease (or shut down as a standby).
    Stopped,
}

/// Why the controllers must stop, as seen through a [`LeadershipToken`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Leadership was lost: stop mutating immediately.
    LeadershipLost,
    /// The process is shutting down: finish in-flight work and stop.
    Shutdown,
}

/// Handed to the controllers while this replica leads; fires when they must stop.
#[derive(Clone, Debug)]
pub struct LeadershipToken {
    stop: watch::Receiver<Option<StopReason>>,
}

impl LeadershipToken {
    /// A token and the sender that fires it. For runtimes that run without election (single replica).
    #[must_use]
    pub fn new() -> (StopSender, Self) {
        let (sender, receiver) = watch::channel(None);
        (StopSender { sender }, Self { stop: receiver })
    }

    /// Whether the controllers may still act (no stop was signalled).
    #[must_use]
    pub fn is_leading(&self) -> bool {
        // `has_changed` fails once the sender is gone, which counts as lost leadership.
        self.stop.borrow().is_none() && self.stop.has_changed().is_ok()
    }

    /// Why the controllers must stop, if they must.
    #[must_use]
    pub fn stop_reason(&self) -> Option<StopReason> {
        *self.stop.borrow()
    }

    /// Resolve when the controllers must stop, with the reason. If the elector is gone without saying why,
    /// that counts as lost leadership.
    pub async fn stopped(&self) -> StopReason {
        let mut receiver = self.stop.clone();
        match receiver.wait_for(Option::is_some).await {
            Ok(reason) => (*reason).unwrap_or(StopReason::LeadershipLost),
            Err(_) => StopReason::LeadershipLost,
        }
    }

    /// An owned future resolving when the controllers must stop: `Send + Sync + 'static`, for kube's
    /// `Controller::graceful_shutdown_on`.
    pub fn stopped_owned(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let token = self.clone();
        async move {
            token.stopped().await;
        }
    }
}

/// The sending half of a [`LeadershipToken`].
#[derive(Debug)]
pub struct StopSender {
    sender: watch::Sender<Option<StopReason>>,
}

impl StopSender {
    /// Fire the token. The first reason wins.
    pub fn stop(&self, reason: StopReason) {
        self.sender.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(reason);
            true
        });
    }
}

/// How [`LeaderElector::run`] ended. [`ElectionOutcome::LeadershipLost`] means the process should exit
/// non-zero so its Deployment restarts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionOutcome {
    /// Shutdown was requested before this replica ever led.
    ShutdownAsStandby,
    /// This replica led, shutdown was requested, the controllers stopped and the Lease was released.
    ShutdownAfterLeading {
        /// Whether the controllers stopped within the grace period (false: they were dropped).
        drained: bool,
        /// Whether the Lease was released (false: the release failed; standbys wait for it to expire).
        released: bool,
    },
    /// The controllers' future returned on its own while leading; the Lease was released.
    ControllersExited {
        /// Whether the Lease was released.
        released: bool,
    },
    /// Leadership was lost; the controllers were told to stop.
    LeadershipLost,
}

/// Why a leader lost its Lease.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LossCause {
    RenewDeadlineExceeded,
    TakenBy(Option<String>),
    Deleted,
}

/// What a candidate or leader should do with the Lease as read, decided without I/O.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// No Lease exists: create it with this replica as holder.
    Create,
    /// This replica holds the Lease: renew it.
    Renew,
    /// The Lease is free (no holder) or its holder let it expire: take it over.
    TakeOver,
    /// Someone else holds a live Lease: wait.
    Wait {
        /// The holder.
        holder: String,
    },
}

/// Decide what to do with `lease` (None: it does not exist), given that this process last saw its record
/// change at `observed_at` and it is now `now` (both on the local monotonic clock).
pub(crate) fn decide(
    lease: Option<&LeaseSpec>,
    identity: &str,
    observed_at: Instant,
    now: Instant,
) -> Decision {
    let Some(spec) = lease else {
        return Decision::Create;
    };
    let holder = spec.holder_identity.as_deref().unwrap_or_default();
    if holder.is_empty() {
        return Decision::TakeOver;
    }
    if holder == identity {
        return Decision::Renew;
    }
    let duration = spec
        .lease_duration_seconds
        .and_then(|seconds| u64::try_from(seconds).ok())
        .map_or(Duration::ZERO, Duration::from_secs);
    if now >= observed_at + duration {
        Decision::TakeOver
    } else {
        Decision::Wait {
            holder: holder.to_owned(),
        }
    }
}

/// The spec this replica writes to create, take over or renew the Lease (`old`: the spec as read).
pub(crate) fn acquired_spec(
    old: Option<&LeaseSpec>,
    identity: &str,
    lease_duration_seconds: i32,
    now: Timestamp,
) -> LeaseSpec {
    let old = old.cloned().unwrap_or_default();
    let already_held = old.holder_identity.as_deref() == Some(identity);
    // A transition is a change of leader: the lease had a leader before (a holder now, or one that released
    // it, which leaves `acquireTime` behind) and it was not us.
    let had_leader = old
        .holder_identity
        .as_deref()
        .is_some_and(|holder| !holder.is_empty())
        || old.acquire_time.is_some();
    let transitions = old.lease_transitions.unwrap_or(0);
    let transitions = if !already_held && had_leader {
        transitions.saturating_add(1)
    } else {
        transitions
    };
    LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(lease_duration_seconds),
        acquire_time: if already_held {
            old.acquire_time
        } else {
            Some(MicroTime(now))
        },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(transitions),
        ..old
    }
}

/// The spec a leader writes to release the Lease: no holder and a one-second duration, so any standby may
/// take it at once; the transition count is kept.
pub(crate) fn released_spec(old: &LeaseSpec, now: Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        renew_time: Some(MicroTime(now)),
        ..old.clone()
    }
}

/// The Lease as last read by this process: its resourceVersion and when (locally) it last changed.
#[derive(Clone, Debug)]
struct Observation {
    resource_version: Option<String>,
    observed_at: Instant,
}

/// The result of one acquisition or renewal attempt.
enum Attempt {
    /// This replica holds the Lease; the attempt started at `started`.
    Held { started: Instant },
    /// Someone else holds a live Lease (or won the race to create it).
    NotHeld { holder: Option<String> },
    /// The Lease changed between reading and writing it (409 Conflict): read it again.
    Conflict,
    /// Leading only: the Lease shows this replica no longer holds it.
    Gone(LossCause),
}

/// Runs leader election for one replica. See the module documentation for the algorithm.
#[derive(Debug)]
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
    state: watch::Sender<LeaderState>,
}

impl LeaderElector {
    /// An elector for `config` (validated).
    ///
    /// # Errors
    /// [`LeaderError::InvalidConfig`] when the timings cannot guarantee a single leader.
    pub fn new(client: Client, config: LeaseConfig) -> Result<Self, LeaderError> {
        config.validate()?;
        Ok(Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            state: watch::Sender::new(LeaderState::Connecting),
        })
    }

    /// The configuration in use.
    #[must_use]
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// Follow this replica's role (for readiness and metrics).
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<LeaderState> {
        self.state.subscribe()
    }

    /// Wait to become leader, run `on_leading` while leading, and return how it ended.
    ///
    /// - Before leading, `shutdown` returns [`ElectionOutcome::ShutdownAsStandby`] at once.
    /// - While leading, losing the Lease fires the token with [`StopReason::LeadershipLost`]; the controllers
    ///   get `lease_duration − renew_deadline` to return before their future is dropped, and the result is
    ///   [`ElectionOutcome::LeadershipLost`] (exit and let the Deployment restart the process).
    /// - While leading, `shutdown` fires the token with [`StopReason::Shutdown`]; renewals continue while the
    ///   controllers drain for up to `grace`, then the Lease is released.
    /// - If the controllers' future returns on its own, the Lease is released.
    pub async fn run<F, Fut>(self, shutdown: Shutdown, grace: Duration, on_leading: F) -> ElectionOutcome
    where
        F: FnOnce(LeadershipToken) -> Fut,
        Fut: Future<Output = ()>,
    {
        let Some(renewed_at) = self.acquire(&shutdown).await else {
            self.state.send_replace(LeaderState::Stopped);
            return ElectionOutcome::ShutdownAsStandby;
        };
        tracing::info!(lease = %self.config.name, identity = %self.config.identity, "became leader");
        self.state.send_replace(LeaderState::Leading);

        let (stop, token) = LeadershipToken::new();
        let controllers = on_leading(token);
        tokio::pin!(controllers);
        let renewer = self.keep_renewing(renewed_at);
        tokio::pin!(renewer);

        enum Event {
            Lost(LossCause),
            ControllersExited,
            Shutdown,
        }
        let event = tokio::select! {
            cause = &mut renewer => Event::Lost(cause),
            () = &mut controllers => Event::ControllersExited,
            () = shutdown.triggered() => Event::Shutdown,
        };

        match event {
            Event::Lost(cause) => {
                self.lost(&stop, &cause);
                self.let_controllers_stop(controllers).await;
                ElectionOutcome::LeadershipLost
            }
            Event::ControllersExited => {
                tracing::warn!("controllers exited while leading; releasing the lease");
                stop.stop(StopReason::Shutdown);
                let released = self.release().await;
                ElectionOutcome::ControllersExited { released }
            }
            Event::Shutdown => {
                tracing::info!("shutting down: stopping controllers before releasing the lease");
                stop.stop(StopReason::Shutdown);
                let drained = tokio::select! {
                    cause = &mut renewer => {
                        self.lost(&stop, &cause);
                        self.let_controllers_stop(controllers).await;
                        return ElectionOutcome::LeadershipLost;
                    }
                    finished = tokio::time::timeout(grace, &mut controllers) => finished.is_ok(),
                };
                if !drained {
                    tracing::warn!(?grace, "controllers did not stop within the grace period");
                }
                let released = self.release().await;
                ElectionOutcome::ShutdownAfterLeading { drained, released }
            }
        }
    }

    /// Record and announce lost leadership. The token fires before anything else happens.
    fn lost(&self, stop: &StopSender, cause: &LossCause) {
        stop.stop(StopReason::LeadershipLost);
        self.state.send_replace(LeaderState::Lost);
        match cause {
            LossCause::RenewDeadlineExceeded => tracing::error!(
                lease = %self.config.name,
                renew_deadline = ?self.config.renew_deadline,
                "leadership lost: could not renew the lease within the renew deadline"
            ),
            LossCause::TakenBy(holder) => tracing::error!(
                lease = %self.config.name,
                holder = holder.as_deref().unwrap_or(""),
                "leadership lost: the lease now names another holder"
            ),
            LossCause::Deleted => {
                tracing::error!(lease = %self.config.name, "leadership lost: the lease was deleted")
            }
        }
    }

    /// After a loss, give the controllers the safety margin (`lease_duration − renew_deadline`) to return.
    async fn let_controllers_stop<Fut: Future<Output = ()>>(&self, controllers: std::pin::Pin<&mut Fut>) {
        let margin = self
            .config
            .lease_duration
            .saturating_sub(self.config.renew_deadline);
        if tokio::time::timeout(margin, controllers).await.is_err() {
            tracing::warn!(
                ?margin,
                "controllers did not stop after leadership was lost; dropping them"
            );
        }
    }

    /// Poll until this replica holds the Lease (returning when its winning attempt started) or shutdown.
    async fn acquire(&self, shutdown: &Shutdown) -> Option<Instant> {
        let mut observation = None;
        loop {
            let attempt = tokio::select! {
                () = shutdown.triggered() => return None,
                attempt = tokio::time::timeout(
                    self.config.renew_deadline,
                    self.try_acquire_or_renew(&mut observation, false),
                ) => attempt,
            };
            match attempt {
                Ok(Ok(Attempt::Held { started })) => return Some(started),
                Ok(Ok(Attempt::NotHeld { holder })) => {
                    self.state.send_if_modified(|state| {
                        let next = LeaderState::Standby {
                            holder: holder.clone(),
                        };
                        if *state == next {
                            return false;
                        }
                        tracing::debug!(holder = holder.as_deref().unwrap_or(""), "waiting for the lease");
                        *state = next;
                        true
                    });
                }
                Ok(Ok(Attempt::Gone(_) | Attempt::Conflict)) => {}
                Ok(Err(error)) => {
                    tracing::warn!(error = %error_chain(&error), "failed to acquire the lease; retrying");
                }
                Err(_) => tracing::warn!("acquiring the lease timed out; retrying"),
            }
            let jitter = self.config.retry_period.mul_f64(rand::random::<f64>());
            tokio::select! {
                () = shutdown.triggered() => return None,
                () = tokio::time::sleep(self.config.retry_period + jitter) => {}
            }
        }
    }

    /// Renew every `retry_period` until leadership is lost; return why. Never returns while leading.
    async fn keep_renewing(&self, mut renewed_at: Instant) -> LossCause {
        let mut observation = None;
        let mut next = renewed_at + self.config.retry_period;
        loop {
            let deadline = renewed_at + self.config.renew_deadline;
            if next >= deadline {
                return LossCause::RenewDeadlineExceeded;
            }
            tokio::time::sleep_until(next).await;
            let started = Instant::now();
            match tokio::time::timeout_at(deadline, self.try_acquire_or_renew(&mut observation, true)).await {
                Err(_) => return LossCause::RenewDeadlineExceeded,
                Ok(Ok(Attempt::Held { started })) => renewed_at = started,
                Ok(Ok(Attempt::Gone(cause))) => return cause,
                Ok(Ok(Attempt::NotHeld { holder })) => return LossCause::TakenBy(holder),
                Ok(Ok(Attempt::Conflict)) => {
                    tracing::warn!("the lease changed while renewing it (conflict); retrying");
                }
                Ok(Err(error)) => {
                    tracing::warn!(error = %error_chain(&error), "failed to renew the lease; retrying");
                }
            }
            next = started + self.config.retry_period;
        }
    }

    /// Read the Lease and create, take over or renew it as [`decide`] says. A leader (`leading`) only ever
    /// renews: any other decision means it lost the Lease.
    async fn try_acquire_or_renew(
        &self,
        observation: &mut Option<Observation>,
        leading: bool,
    ) -> Result<Attempt, LeaderError> {
        let started = Instant::now();
        let current = self
            .api
            .get_opt(&self.config.name)
            .await
            .map_err(|source| self.kube_error("read", source))?;
        let now = Instant::now();
        let resource_version = current
            .as_ref()
            .and_then(|lease| lease.metadata.resource_version.clone());
        let observed_at = match observation {
            Some(seen) if seen.resource_version == resource_version => seen.observed_at,
            _ => now,
        };
        *observation = Some(Observation {
            resource_version: resource_version.clone(),
            observed_at,
        });
        if matches!(*self.state.borrow(), LeaderState::Connecting) {
            self.state.send_replace(LeaderState::Standby { holder: None });
        }

        let spec = current.as_ref().and_then(|lease| lease.spec.as_ref());
        let decision = decide(spec, &self.config.identity, observed_at, now);
        match (decision, leading) {
            (Decision::Wait { holder }, true) => return Ok(Attempt::Gone(LossCause::TakenBy(Some(holder)))),
            (Decision::TakeOver, true) => return Ok(Attempt::Gone(LossCause::TakenBy(None))),
            (Decision::Create, true) => return Ok(Attempt::Gone(LossCause::Deleted)),
            (Decision::Wait { holder }, false) => return Ok(Attempt::NotHeld { holder: Some(holder) }),
            (Decision::Create, false) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(acquired_spec(
                        None,
                        &self.config.identity,
                        self.config.lease_duration_seconds(),
                        Timestamp::now(),
                    )),
                };
                return match self.api.create(&PostParams::default(), &lease).await {
                    Ok(_) => Ok(Attempt::Held { started }),
                    Err(kube::Error::Api(status)) if status.is_already_exists() || status.is_conflict() => {
                        Ok(Attempt::NotHeld { holder: None })
                    }
                    Err(source) => Err(self.kube_error("create", source)),
                };
            }
            (Decision::Renew | Decision::TakeOver, _) => {}
        }

        let Some(mut lease) = current else {
            return Ok(Attempt::NotHeld { holder: None });
        };
        lease.spec = Some(acquired_spec(
            lease.spec.as_ref(),
            &self.config.identity,
            self.config.lease_duration_seconds(),
            Timestamp::now(),
        ));
        // `lease.metadata.resource_version` is the version just read: the PUT fails with 409 Conflict if
        // anyone wrote in between.
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(Attempt::Held { started }),
            Err(kube::Error::Api(status)) if status.is_conflict() => Ok(Attempt::Conflict),
            Err(source) => Err(self.kube_error("update", source)),
        }
    }

    /// Release the Lease if this replica still holds it. Returns whether it was released.
    async fn release(&self) -> bool {
        self.state.send_replace(LeaderState::Stopped);
        for _ in 0..3 {
            match tokio::time::timeout(self.config.renew_deadline, self.try_release()).await {
                Ok(Ok(released)) => {
                    if released {
                        tracing::info!(lease = %self.config.name, "released the lease");
                    }
                    return released;
                }
                Ok(Err(error)) => {
                    tracing::warn!(error = %error_chain(&error), "failed to release the lease");
                }
                Err(_) => tracing::warn!("releasing the lease timed out"),
            }
        }
        false
    }

    async fn try_release(&self) -> Result<bool, LeaderError> {
        let Some(mut lease) = self
            .api
            .get_opt(&self.config.name)
            .await
            .map_err(|source| self.kube_error("read", source))?
        else {
            return Ok(false);
        };
        let Some(spec) = lease.spec.as_ref() else {
            return Ok(false);
        };
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(false);
        }
        lease.spec = Some(released_spec(spec, Timestamp::now()));
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(source) => Err(self.kube_error("update", source)),
        }
    }

    fn kube_error(&self, operation: &'static str, source: kube::Error) -> LeaderError {
        LeaderError::Kube {
            operation,
            namespace: self.config.namespace.clone(),
            name: self.config.name.clone(),
            source: Box::new(source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: Option<&str>, duration: Option<i32>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_owned),
            lease_duration_seconds: duration,
            ..LeaseSpec::default()
        }
    }

    fn at(base: Instant, millis: u64) -> Instant {
        base + Duration::from_millis(millis)
    }

    #[test]
    fn decisions() {
        let t0 = Instant::now();
        let cases: &[(&str, Option<LeaseSpec>, u64, Decision)] = &[
            ("no lease: create it", None, 0, Decision::Create),
            (
                "our own lease: renew",
                Some(spec(Some("me"), Some(15))),
                0,
                Decision::Renew,
            ),
            (
                "our own lease long unchanged: still ours to renew",
                Some(spec(Some("me"), Some(15))),
                60_000,
                Decision::Renew,
            ),
            (
                "released lease (no holder): take over at once",
                Some(spec(None, Some(1))),
                0,
                Decision::TakeOver,
            ),
            (
                "empty holder string counts as released",
                Some(spec(Some(""), Some(15))),
                0,
                Decision::TakeOver,
            ),
            (
                "other holder, changed just now: wait",
                Some(spec(Some("other"), Some(15))),
                0,
                Decision::Wait {
                    holder: "other".to_owned(),
                },
            ),
            (
                "other holder, unchanged for less than its duration: wait",
                Some(spec(Some("other"), Some(15))),
                14_999,
                Decision::Wait {
                    holder: "other".to_owned(),
                },
            ),
            (
                "other holder, unchanged for its full duration: expired, take over",
                Some(spec(Some("other"), Some(15))),
                15_000,
                Decision::TakeOver,
            ),
            (
                "the record's duration counts, not ours",
                Some(spec(Some("other"), Some(3))),
                3_000,
                Decision::TakeOver,
            ),
            (
                "other holder without a duration: expired",
                Some(spec(Some("other"), None)),
                0,
                Decision::TakeOver,
            ),
            (
                "negative duration: expired",
                Some(spec(Some("other"), Some(-5))),
                0,
                Decision::TakeOver,
            ),
        ];
        for (reason, lease, elapsed, expected) in cases {
            let got = decide(lease.as_ref(), "me", t0, at(t0, *elapsed));
            assert_eq!(&got, expected, "{reason}");
        }
    }

    #[test]
    fn creating_a_lease_sets_holder_times_and_zero_transitions() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let created = acquired_spec(None, "me", 15, now);
        assert_eq!(created.holder_identity.as_deref(), Some("me"));
        assert_eq!(created.lease_duration_seconds, Some(15));
        assert_eq!(created.acquire_time, Some(MicroTime(now)));
        assert_eq!(created.renew_time, Some(MicroTime(now)));
        assert_eq!(created.lease_transitions, Some(0));
    }

    #[test]
    fn renewing_keeps_acquire_time_and_transitions() {
        let first = Timestamp::from_second(1_700_000_000).unwrap();
        let later = Timestamp::from_second(1_700_000_002).unwrap();
        let held = acquired_spec(None, "me", 15, first);
        let renewed = acquired_spec(Some(&held), "me", 15, later);
        assert_eq!(renewed.acquire_time, Some(MicroTime(first)));
        assert_eq!(renewed.renew_time, Some(MicroTime(later)));
        assert_eq!(renewed.lease_transitions, Some(0));
    }

    #[test]
    fn taking_over_counts_a_transition_and_resets_acquire_time() {
        let first = Timestamp::from_second(1_700_000_000).unwrap();
        let later = Timestamp::from_second(1_700_000_020).unwrap();
        let theirs = acquired_spec(None, "other", 15, first);
        let ours = acquired_spec(Some(&theirs), "me", 15, later);
        assert_eq!(ours.holder_identity.as_deref(), Some("me"));
        assert_eq!(ours.acquire_time, Some(MicroTime(later)));
        assert_eq!(ours.lease_transitions, Some(1));
    }

    #[test]
    fn releasing_clears_holder_and_taking_a_released_lease_counts_a_transition() {
        let first = Timestamp::from_second(1_700_000_000).unwrap();
        let later = Timestamp::from_second(1_700_000_005).unwrap();
        let held = acquired_spec(None, "other", 15, first);
        let released = released_spec(&held, later);
        assert_eq!(released.holder_identity, None);
        assert_eq!(released.lease_duration_seconds, Some(1));
        assert_eq!(released.lease_transitions, Some(0));
        let t0 = Instant::now();
        assert_eq!(decide(Some(&released), "me", t0, t0), Decision::TakeOver);
        let ours = acquired_spec(Some(&released), "me", 15, later);
        assert_eq!(ours.lease_transitions, Some(1));
    }

    #[test]
    fn validation_rejects_timings_that_allow_two_leaders() {
        let ok = LeaseConfig::new("ns", "lease", "me");
        assert!(ok.validate().is_ok());
        let cases = [
            (
                "renew deadline equal to lease duration",
                ok.clone().with_timings(secs(10), secs(10), secs(2)),
            ),
            (
                "renew deadline longer than lease duration",
                ok.clone().with_timings(secs(10), secs(12), secs(2)),
            ),
            (
                "retry period not shorter than renew deadline",
                ok.clone().with_timings(secs(15), secs(2), secs(2)),
            ),
            (
                "fractional lease duration",
                ok.clone()
                    .with_timings(Duration::from_millis(2500), secs(2), secs(1)),
            ),
            (
                "zero retry period",
                ok.clone().with_timings(secs(15), secs(10), Duration::ZERO),
            ),
            ("empty identity", LeaseConfig::new("ns", "lease", "")),
            ("empty namespace", LeaseConfig::new("", "lease", "me")),
        ];
        for (reason, config) in cases {
            assert!(
                matches!(config.validate(), Err(LeaderError::InvalidConfig { .. })),
                "{reason} must be rejected"
            );
        }
        let short = ok.with_timings(secs(3), secs(2), Duration::from_millis(500));
        assert!(short.validate().is_ok(), "sub-second retry periods are fine");
    }

    fn secs(seconds: u64) -> Duration {
        Duration::from_secs(seconds)
    }

    #[test]
    fn default_identity_is_unique_per_process_start() {
        let first = LeaseConfig::default_identity();
        let second = LeaseConfig::default_identity();
        assert_ne!(first, second);
        assert!(!first.is_empty());
    }

    #[tokio::test]
    async fn token_reports_the_first_stop_reason() {
        let (sender, token) = LeadershipToken::new();
        assert!(token.is_leading());
        let waiter = tokio::spawn(token.stopped_owned());
        sender.stop(StopReason::LeadershipLost);
        sender.stop(StopReason::Shutdown);
        waiter.await.unwrap();
        assert!(!token.is_leading());
        assert_eq!(token.stopped().await, StopReason::LeadershipLost);
        assert_eq!(token.stop_reason(), Some(StopReason::LeadershipLost));
    }

    #[tokio::test]
    async fn token_whose_sender_is_dropped_counts_as_lost() {
        let (sender, token) = LeadershipToken::new();
        drop(sender);
        assert_eq!(token.stopped().await, StopReason::LeadershipLost);
    }
}
