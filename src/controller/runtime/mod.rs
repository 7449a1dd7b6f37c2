//! The shared reconcile runtime every controller is built from. Its modules import downward only, leaf
//! first (checked by `cargo xtask imports`):
//!
//! | module | owns | imports (runtime) |
//! |---|---|---|
//! | [`config`] | [`ControllerConfig`], [`Backoff`], [`Intervals`], [`with_jitter`] | — |
//! | [`error`] | [`ReconcileError`], [`ErrorClass`], [`PassError`], [`error_chain`] | — |
//! | [`caches`] | [`Caches`]: which caches completed their first list, census tasks | — |
//! | [`lookup`] | [`Lookups`]: resolved ProviderConfigs ([`ResolvedProvider`]) and read objects, 30 s at most | config |
//! | [`users`] | [`UserIndex`]: which objects use which account, from the controllers' caches; the ProviderConfig controller's trigger | caches |
//! | [`context`] | [`Context`] and [`Context::publish`] | config, caches, lookup, users |
//! | [`status`] | the one status write, [`StatusWriter`], outcomes/errors → conditions, events on transitions | config, error, context |
//! | [`account`] | ProviderConfig + Secret → settings, [`resolve_provider`], credential probes | config, lookup, context |
//! | [`references`] | [`References`]: Vpc / SecurityGroup / EdgeCloud references and Secret values, one rule for every kind | context |
//! | [`watch`] | [`Context::controller`], [`Context::user_controller`], the trigger predicates, the census, [`provider_config_trigger`] | caches, lookup, users, context |
//! | [`policy`] | [`run_finalizer`], [`run_finalizer_in_pass`], [`instrumented`], [`error_policy`] | config, error, context |
//!
//! Nothing here knows a particular kind: every controller uses the same pieces, through the names
//! re-exported here.

pub mod account;
pub mod caches;
pub mod config;
pub mod context;
pub mod error;
pub mod lookup;
pub mod policy;
pub mod references;
pub mod status;
pub mod users;
pub mod watch;

pub use self::account::{
    ResolveProviderError, SettingsError, forget_probe, intervals_for, probe_is_fresh, provider_kind,
    read_secret, record_probe, resolve_provider, settings_from,
};
pub use self::caches::Caches;
pub use self::config::{Backoff, BackoffConfig, ControllerConfig, Intervals, with_jitter};
pub use self::context::{Context, REPORTING_CONTROLLER};
pub use self::error::{ErrorClass, PassError, ReconcileError, error_chain};
pub use self::lookup::{LOOKUP_TTL, Lookups, ResolvedProvider};
pub use self::policy::{error_policy, instrumented, object_key, run_finalizer, run_finalizer_in_pass};
pub use self::references::{ReferenceError, References, ResolvedVpc, SecretError};
pub use self::status::{
    HasConditions, Note, Outcome, StatusWriter, announce_transitions, conditions_for_error,
    conditions_for_outcome, elapsed_since, now, patch_status, stable_message,
};
pub use self::users::{Touched, USER_KINDS, UserIndex, Users};
pub use self::watch::{CENSUS_INTERVAL, intent_of, intent_of_ignoring_own_metadata, provider_config_trigger};
pub use crate::api::{FIELD_MANAGER, FINALIZER};
