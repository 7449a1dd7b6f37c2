//! Request counters per operation (`"<METHOD> <route>"`, or the family's own name such as
//! `veen:ListInstances`): how many requests arrived, how many of them were reads (GET or HEAD: the
//! operation name need not say), how many were successful mutations (non-GET with a 2xx answer, counted even when the response was then lost),
//! and answers per status code. Tests use them to prove "a second reconcile makes no cloud call".

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// A response extension a handler sets when its non-GET request is a read (or changes no resource):
/// the request is then counted in `reads`, never as a mutation, and its answer is never lost by the
/// `lost_responses` fault. Luchen lists by POST (`/api/instance/list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadAnswer;

/// Counters of one operation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpCounters {
    /// Requests received (after routing).
    pub requests: u64,
    /// Of those, reads (GET or HEAD).
    #[serde(default)]
    pub reads: u64,
    /// Mutating requests whose handler succeeded.
    pub mutations: u64,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
}

/// A snapshot of all counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallsSnapshot {
    /// Sum of `requests` over all operations.
    pub total_requests: u64,
    /// Sum of `mutations` over all operations.
    pub total_mutations: u64,
    /// Per-operation counters.
    pub operations: BTreeMap<String, OpCounters>,
}

impl CallsSnapshot {
    /// Requests of one operation (0 if never called).
    pub fn requests(&self, op: &str) -> u64 {
        self.operations.get(op).map_or(0, |c| c.requests)
    }

    /// Mutations of one operation (0 if never called).
    pub fn mutations(&self, op: &str) -> u64 {
        self.operations.get(op).map_or(0, |c| c.mutations)
    }
}

/// The live counters.
#[derive(Debug, Default)]
pub struct Calls {
    inner: Mutex<CallsSnapshot>,
}

impl Calls {
    /// Counts an arriving request (`read`: a GET or HEAD).
    pub fn request(&self, op: &str, read: bool) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.total_requests += 1;
        let c = match g.operations.get_mut(op) {
            Some(c) => c,
            None => g.operations.entry(op.to_string()).or_default(),
        };
        c.requests += 1;
        if read {
            c.reads += 1;
        }
    }

    /// Counts a request that arrived as a mutation method as a read after all ([`ReadAnswer`]).
    pub fn read_after_all(&self, op: &str) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.operations.entry(op.to_string()).or_default().reads += 1;
    }

    /// Counts an answer and, if `mutation`, a successful mutation.
    pub fn finished(&self, op: &str, status: u16, mutation: bool) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if mutation {
            g.total_mutations += 1;
        }
        let c = g.operations.entry(op.to_string()).or_default();
        if mutation {
            c.mutations += 1;
        }
        *c.statuses.entry(status).or_insert(0) += 1;
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> CallsSnapshot {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Resets all counters to zero.
    pub fn reset(&self) {
        *self.inner.lock().unwrap_or_else(|e| e.into_inner()) = CallsSnapshot::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_counted_by_method_whatever_the_operation_is_called() {
        let calls = Calls::default();
        calls.request("veen:ListInstances", true);
        calls.request("veen:ListInstances", true);
        calls.request("veen:CreateInstance", false);
        calls.finished("veen:CreateInstance", 200, true);
        let s = calls.snapshot();
        assert_eq!(s.operations["veen:ListInstances"].reads, 2);
        assert_eq!(s.operations["veen:CreateInstance"].reads, 0);
        assert_eq!((s.total_requests, s.total_mutations), (3, 1));
    }
}
