//! The campaign's result: one serialisable [`ChaosReport`] (written as JSON) and its markdown rendering
//! (the tables committed to docs/reliability.md), and what makes a run fail ([`ChaosReport::failures`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::audit::Findings;
use crate::report::{Machine, Versions};

/// Everything one campaign measured.
#[derive(Debug, Clone, Serialize)]
pub struct ChaosReport {
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// The machine it ran on.
    pub machine: Machine,
    /// Component versions.
    pub versions: Versions,
    /// What was asked for.
    pub parameters: Parameters,
    /// Mutations applied during the rounds, by kind (`create EdgeInstance`, `scale up EdgeCloud`, ...).
    pub operations: BTreeMap<String, u64>,
    /// The kills.
    pub kills: Vec<Kill>,
    /// Convergence after the last round.
    pub convergence: Convergence,
    /// The audit after convergence.
    pub audit: Findings,
    /// Requests that came before a 429's Retry-After had passed.
    pub retry_after: RetryAfter,
    /// Deleting everything at the end.
    pub cleanup: Cleanup,
    /// Cloud answers by HTTP status over the whole run (faults show here).
    pub cloud_statuses: BTreeMap<u16, u64>,
}

/// Run parameters.
#[derive(Debug, Clone, Serialize)]
pub struct Parameters {
    /// Cloud family.
    pub cloud: String,
    /// Seed.
    pub seed: u64,
    /// Rounds (one kill each).
    pub rounds: u32,
    /// Mutations per round.
    pub ops_per_round: u32,
    /// Two operators with leader election (the leader is killed).
    pub two_operators: bool,
    /// Emulator faults on.
    pub faults: bool,
    /// Kill delay after a round's last mutation: uniform in 0..this, ms.
    pub max_kill_delay_ms: u64,
    /// Bound for convergence and for the final cleanup, s.
    pub converge_timeout_s: u64,
    /// Emulator delays and latency.
    pub emulator: String,
    /// Leader election of the operators.
    pub leader_election: String,
}

/// One kill.
#[derive(Debug, Clone, Serialize)]
pub struct Kill {
    /// Round (from 1).
    pub round: u32,
    /// Seconds since the rounds began.
    pub at_s: f64,
    /// Delay after the round's last mutation, ms.
    pub delay_ms: u64,
    /// Which process: `operator-<slot>#<incarnation>`.
    pub process: String,
    /// Whether it held the Lease (two-operator mode; always true with one operator).
    pub leader: bool,
    /// Objects per crash-relevant step at the kill (see `audit::step`).
    pub steps: BTreeMap<String, usize>,
}

/// Convergence after the last round.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Convergence {
    /// Everything Ready and every deleted object gone within the bound.
    pub converged: bool,
    /// From the last restart until converged (or the bound), s.
    pub seconds: f64,
    /// Objects never Ready (or never gone) within the bound, with their Ready reason.
    pub not_ready: Vec<String>,
}

/// Early requests (`GET /_emulator/retry-after`), after a grace for requests already in flight.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetryAfter {
    /// 429 answers sent.
    pub throttled: u64,
    /// Grace after a 429 for requests already in flight, ms.
    pub grace_ms: u64,
    /// Early requests from the process that received the 429.
    pub early_same_process: u64,
    /// Early requests after a kill in between (the new process or new leader could not know).
    pub early_after_kill: u64,
    /// A few same-process examples (`operation +after_ms/retry_after_ms`).
    pub examples: Vec<String>,
}

/// Deleting everything at the end.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cleanup {
    /// Until every object was gone from Kubernetes (or the bound), s.
    pub seconds: f64,
    /// Objects still in Kubernetes at the bound.
    pub stuck: Vec<String>,
    /// Cloud objects left once Kubernetes was empty (or at the bound).
    pub left_in_cloud: Vec<String>,
}

impl ChaosReport {
    /// Why the run fails: any leak, duplicate or lost deletion (the audit's and the cleanup's).
    pub fn failures(&self) -> Vec<String> {
        let a = &self.audit;
        let c = &self.cleanup;
        let mut failures = Vec::new();
        let mut add = |what: &str, items: &[String]| {
            if !items.is_empty() {
                failures.push(format!("{} {what}: {}", items.len(), items.join("; ")));
            }
        };
        add("leaked cloud objects", &a.leaks);
        add("duplicates", &a.duplicates);
        add("lost deletions", &a.lost_deletions);
        add("objects stuck in Kubernetes after deleting everything", &c.stuck);
        add("cloud objects left after deleting everything", &c.left_in_cloud);
        failures
    }

    /// Kills per step: how many kills found at least one object at that step, and the objects.
    pub fn kill_points(&self) -> BTreeMap<String, (usize, usize)> {
        let mut points: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for kill in &self.kills {
            for (step, n) in &kill.steps {
                let e = points.entry(step.clone()).or_default();
                e.0 += 1;
                e.1 += n;
            }
        }
        points
    }

    /// The markdown section for docs/reliability.md.
    pub fn markdown(&self) -> String {
        let p = &self.parameters;
        let m = &self.machine;
        let mut out = String::new();
        let ops: u64 = self.operations.values().sum();
        let _ = writeln!(
            out,
            "### {} rounds × {} mutations, seed {}{}{}\n",
            p.rounds,
            p.ops_per_round,
            p.seed,
            if p.faults { ", faults" } else { "" },
            if p.two_operators { ", two operators" } else { "" },
        );
        let _ = writeln!(
            out,
            "Run {} on {} × {} ({:.0} GiB, Linux {}); edgefleet {}, Kubernetes {}; cloud {}; emulator: {}; \
             operators: {}; kill delay 0–{} ms after each round's last mutation.\n",
            self.started_at,
            m.cpus,
            m.cpu_model,
            m.memory_gib,
            m.kernel,
            self.versions.edgefleet,
            self.versions.kubernetes,
            p.cloud,
            p.emulator,
            p.leader_election,
            p.max_kill_delay_ms,
        );
        let a = &self.audit;
        let c = &self.cleanup;
        let r = &self.retry_after;
        let verdict = |n: usize| {
            if n == 0 {
                "0".to_owned()
            } else {
                format!("**{n}**")
            }
        };
        let rows = [
            ("operations (mutations)", ops.to_string()),
            ("operator kills (SIGKILL)", self.kills.len().to_string()),
            (
                "converged",
                if self.convergence.converged {
                    "yes".into()
                } else {
                    "**no**".to_owned()
                },
            ),
            (
                "time to converge after the last restart, s",
                format!("{:.1}", self.convergence.seconds),
            ),
            ("cloud objects audited", a.cloud_objects.to_string()),
            ("leaked cloud objects", verdict(a.leaks.len())),
            ("duplicates", verdict(a.duplicates.len())),
            ("lost deletions", verdict(a.lost_deletions.len())),
            ("objects never Ready", verdict(self.convergence.not_ready.len())),
            ("fleet members not mirrored", verdict(a.unmirrored_members.len())),
            ("intents left after convergence", verdict(a.stale_intents.len())),
            ("429 answers", r.throttled.to_string()),
            (
                "requests before Retry-After (same process, after a grace)",
                verdict(r.early_same_process as usize),
            ),
            (
                "requests before Retry-After after a kill",
                r.early_after_kill.to_string(),
            ),
            ("delete everything: all gone, s", format!("{:.1}", c.seconds)),
            (
                "cloud objects left after deleting everything",
                verdict(c.left_in_cloud.len()),
            ),
        ];
        let _ = writeln!(out, "| measure | value |\n|---|---|");
        for (name, value) in rows {
            let _ = writeln!(out, "| {name} | {value} |");
        }
        let _ = writeln!(
            out,
            "\nKill points (the persisted state each kill left behind):\n"
        );
        let _ = writeln!(
            out,
            "| step | kills that interrupted it | objects |\n|---|---|---|"
        );
        for (step, (kills, objects)) in self.kill_points() {
            let _ = writeln!(out, "| {step} | {kills} | {objects} |");
        }
        let _ = writeln!(out, "\nOperations:\n");
        for (k, v) in &self.operations {
            let _ = writeln!(out, "- {k}: {v}");
        }
        let _ = writeln!(out, "\nCloud answers by status:\n");
        for (k, v) in &self.cloud_statuses {
            let _ = writeln!(out, "- {k}: {v}");
        }
        let lists = [
            ("Leaked", &a.leaks),
            ("Duplicates", &a.duplicates),
            ("Lost deletions", &a.lost_deletions),
            ("Never Ready", &self.convergence.not_ready),
            ("Fleet members not mirrored", &a.unmirrored_members),
            ("Intents left after convergence", &a.stale_intents),
            ("Requests before Retry-After (examples)", &r.examples),
            ("Stuck after deleting everything", &c.stuck),
            ("Left in the cloud after deleting everything", &c.left_in_cloud),
        ];
        for (title, items) in lists {
            if !items.is_empty() {
                let _ = writeln!(out, "\n{title}:\n");
                for i in items.iter().take(20) {
                    let _ = writeln!(out, "- {i}");
                }
                if items.len() > 20 {
                    let _ = writeln!(out, "- … {} more (JSON report)", items.len() - 20);
                }
            }
        }
        out
    }
}
