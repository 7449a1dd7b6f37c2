//! Fault injection. A [`Faults`] document (YAML/JSON; from the config file, `--faults FILE`, CLI
//! shortcuts, or `PUT /_emulator/faults` at run time) describes what goes wrong:
//!
//! | fault | effect |
//! |---|---|
//! | `latency` | per-operation fixed delay plus uniform jitter before the handler runs |
//! | `errors` | per-operation rate of 500/503 answers (the handler does not run) |
//! | `throttle` | per-account requests/second limit → 429 + `Retry-After` (the cloud's throttling code) |
//! | `lost_responses` | per-operation rate: the mutation happens, then the client gets a 500 or a broken connection |
//! | `eventual_consistency` | objects of the listed kinds are invisible to GET/list for `delay_ms` after creation |
//! | `stuck` | record kinds whose async jobs never finish (e.g. instances stay `BUILD`) |
//! | `capacity_exhausted_sites` | sites where creating instances fails for lack of capacity |
//! | `instance_failure_rate` | share of new instances (and edge-cloud members) that end `FAILED` |
//! | `slow_builds` | new instances whose name matches stay `BUILD` for a given time (then build as usual) |
//! | `token_ttl_ms` | session tokens issued meanwhile expire after this many ms (Luchen login) |
//!
//! Operations are named `"<METHOD> <route>"`, e.g. `"POST /v1/vpcs"` or `"GET /v1/vpcs/{vpc_id}"`
//! (the route template, not the concrete path). A pattern is an exact name, `"*"`, or a prefix
//! ending in `*` (`"POST /v1/*"`). Decisions use a seeded RNG (`seed`), and rates 0.0/1.0 are exact.

use serde::{Deserialize, Serialize};

/// The complete fault configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// RNG seed for all random decisions (re-seeded whenever faults are replaced).
    pub seed: u64,
    /// Added latency rules (first match wins).
    pub latency: Vec<LatencyFault>,
    /// Error-rate rules (first match wins).
    pub errors: Vec<ErrorFault>,
    /// Per-account throttling rules (first match wins).
    pub throttle: Vec<ThrottleFault>,
    /// Lost-response rules for mutations (first match wins).
    pub lost_responses: Vec<LostResponseFault>,
    /// Eventual-consistency rules per record kind.
    pub eventual_consistency: Vec<ConsistencyFault>,
    /// Record kinds whose asynchronous transitions never complete (`"iec.instance"`, `"iec.edgecloud"`).
    pub stuck: Vec<String>,
    /// Site ids where capacity is exhausted.
    pub capacity_exhausted_sites: Vec<String>,
    /// Probability that a newly built instance ends in `FAILED` instead of `ACTIVE`.
    pub instance_failure_rate: f64,
    /// Builds slower than the configured `instance_build` delay, by instance name (first match wins).
    pub slow_builds: Vec<SlowBuildFault>,
    /// Session tokens issued while this is set live this many milliseconds of emulator time instead
    /// of the cloud's lifetime (clouds that honour it: `luchen` login). Tests shorten token expiry
    /// with it at run time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_ttl_ms: Option<u64>,
}

/// New instances whose name matches `name` stay `BUILD` for `delay_ms` instead of the configured
/// `instance_build` delay, then end `ACTIVE` (or `FAILED`) as usual. The edge cloud of such a member
/// stays `creating`/`updating` meanwhile, as for any member still building.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowBuildFault {
    /// Instance name pattern (exact, `*`, or `prefix*`), matched against the name the emulator gives
    /// the instance (e.g. `web-0003`, `IEC-CS01-web-0001`).
    pub name: String,
    /// How long the build takes, in milliseconds of emulator time.
    pub delay_ms: u64,
}

/// Latency for matching operations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyFault {
    /// Operation pattern.
    pub operation: String,
    /// Fixed delay in milliseconds.
    #[serde(default)]
    pub fixed_ms: u64,
    /// Additional uniform random delay in `[0, jitter_ms]`.
    #[serde(default)]
    pub jitter_ms: u64,
}

/// Server errors for matching operations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorFault {
    /// Operation pattern.
    pub operation: String,
    /// Probability 0.0..=1.0.
    pub rate: f64,
    /// HTTP status: 500 (default) or 503.
    #[serde(default = "default_error_status")]
    pub status: u16,
}

fn default_error_status() -> u16 {
    500
}

/// A requests-per-second limit for matching accounts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleFault {
    /// Account (domain id) or `"*"` for every account (each account has its own budget).
    #[serde(default = "star")]
    pub account: String,
    /// Requests allowed per one-second window.
    pub limit_per_second: u32,
    /// Value of the `Retry-After` header.
    #[serde(default = "one")]
    pub retry_after_secs: u64,
}

fn star() -> String {
    "*".into()
}
fn one() -> u64 {
    1
}

/// How a lost response looks to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LostMode {
    /// The cloud's 500 error body (its `Profile::server_error`).
    #[default]
    Error500,
    /// Headers are sent, then the connection breaks while the body streams.
    Drop,
}

/// Lost responses for matching mutating operations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LostResponseFault {
    /// Operation pattern.
    pub operation: String,
    /// Probability 0.0..=1.0.
    pub rate: f64,
    /// What the client sees.
    #[serde(default)]
    pub mode: LostMode,
}

/// New objects of `kind` stay invisible to reads for `delay_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyFault {
    /// Record kind (`"iec.vpc"`, `"iec.instance"`, ...) or `"*"`.
    pub kind: String,
    /// Invisibility window in milliseconds.
    pub delay_ms: u64,
}

/// True when `pattern` matches `name` (exact, `*`, or `prefix*`).
pub fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

impl Faults {
    /// Validates rates and statuses; returns a message naming the first bad field.
    pub fn validate(&self) -> Result<(), String> {
        let rate_ok = |r: f64| (0.0..=1.0).contains(&r);
        for e in &self.errors {
            if !rate_ok(e.rate) {
                return Err(format!("errors[{}].rate must be within 0..1", e.operation));
            }
            if e.status != 500 && e.status != 503 {
                return Err(format!("errors[{}].status must be 500 or 503", e.operation));
            }
        }
        for l in &self.lost_responses {
            if !rate_ok(l.rate) {
                return Err(format!(
                    "lost_responses[{}].rate must be within 0..1",
                    l.operation
                ));
            }
        }
        for t in &self.throttle {
            if t.limit_per_second == 0 {
                return Err("throttle.limit_per_second must be at least 1".into());
            }
        }
        if !rate_ok(self.instance_failure_rate) {
            return Err("instance_failure_rate must be within 0..1".into());
        }
        Ok(())
    }

    /// The latency rule for `op`.
    pub fn latency_for(&self, op: &str) -> Option<&LatencyFault> {
        self.latency.iter().find(|l| matches(&l.operation, op))
    }

    /// The error rule for `op`.
    pub fn error_for(&self, op: &str) -> Option<&ErrorFault> {
        self.errors.iter().find(|l| matches(&l.operation, op))
    }

    /// The throttle rule for an account.
    pub fn throttle_for(&self, account: &str) -> Option<&ThrottleFault> {
        self.throttle.iter().find(|t| matches(&t.account, account))
    }

    /// The lost-response rule for `op`.
    pub fn lost_for(&self, op: &str) -> Option<&LostResponseFault> {
        self.lost_responses.iter().find(|l| matches(&l.operation, op))
    }

    /// The invisibility window for new objects of `kind` (0 = visible at once).
    pub fn visibility_delay(&self, kind: &str) -> u64 {
        self.eventual_consistency
            .iter()
            .find(|c| matches(&c.kind, kind))
            .map_or(0, |c| c.delay_ms)
    }

    /// True when async jobs of `kind` never finish.
    pub fn is_stuck(&self, kind: &str) -> bool {
        self.stuck.iter().any(|k| matches(k, kind))
    }

    /// The build time of a new instance named `name`, when a `slow_builds` rule matches it.
    pub fn build_delay_for(&self, name: &str) -> Option<u64> {
        self.slow_builds
            .iter()
            .find(|b| matches(&b.name, name))
            .map(|b| b.delay_ms)
    }

    /// True when `site_id` has no capacity left.
    pub fn site_exhausted(&self, site_id: &str) -> bool {
        self.capacity_exhausted_sites.iter().any(|s| s == site_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_lookup() {
        assert!(matches("*", "GET /v1/vpcs"));
        assert!(matches("POST /v1/*", "POST /v1/vpcs"));
        assert!(!matches("POST /v1/*", "GET /v1/vpcs"));
        assert!(matches("GET /v1/vpcs", "GET /v1/vpcs"));
        let f: Faults = serde_yaml_ng::from_str(
            "errors: [{operation: 'POST /v1/*', rate: 1.0, status: 503}]\nthrottle: [{limit_per_second: 5}]\neventual_consistency: [{kind: iec.vpc, delay_ms: 10}]",
        )
        .unwrap();
        assert_eq!(f.error_for("POST /v1/vpcs").unwrap().status, 503);
        assert!(f.error_for("GET /v1/vpcs").is_none());
        assert_eq!(f.throttle_for("any").unwrap().retry_after_secs, 1);
        assert_eq!(f.visibility_delay("iec.vpc"), 10);
        assert!(f.validate().is_ok());
        let bad = Faults {
            instance_failure_rate: 2.0,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        assert!(serde_yaml_ng::from_str::<Faults>("nonsense: 1").is_err());
    }

    #[test]
    fn slow_builds_match_by_name_first_rule_wins() {
        let f: Faults = serde_yaml_ng::from_str(
            "slow_builds: [{name: web-0003, delay_ms: 20000}, {name: 'IEC-*', delay_ms: 5000}, {name: '*', delay_ms: 1}]",
        )
        .unwrap();
        assert_eq!(f.build_delay_for("web-0003"), Some(20000));
        assert_eq!(f.build_delay_for("IEC-CS01-web-0001"), Some(5000));
        assert_eq!(f.build_delay_for("other"), Some(1));
        assert_eq!(Faults::default().build_delay_for("web-0003"), None);
        assert!(
            serde_yaml_ng::from_str::<Faults>("slow_builds: [{name: x}]").is_err(),
            "delay_ms is required"
        );
    }
}
