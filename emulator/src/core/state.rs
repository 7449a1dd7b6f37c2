//! The in-memory state store.
//!
//! * [`World`] holds one [`Store`] per account (domain id); accounts never see each other's objects.
//! * A [`Store`] is a type map of [`Table`]s, one per [`Record`] type. A family declares its record
//!   type, implements [`Record`] (a unique `KIND` string such as `"iec.vpc"`) and calls
//!   [`Store::table`]; no central list of tables has to be edited.
//! * Tables keep insertion order (lists are returned oldest first) and support eventual-consistency
//!   faults (a row can be hidden from reads until a time).
//! * Cross-family helpers: a reference index ([`Store::add_ref`], [`Store::is_referenced_by`]) for
//!   "X is in use by Y" checks, IPv4 address allocation per scope ([`Store::allocate_ip`]) and a
//!   timer queue ([`Store::schedule`]) that drives asynchronous state transitions lazily: due timers
//!   run at the start of the next request for that account.
//! * Everything serialises to one JSON snapshot (`--state-file`, `GET /_emulator/state`).

use std::any::{Any, TypeId};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::net::Ipv4Cidr;
use crate::core::shared::Shared;

/// Errors of the state store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Stored JSON for a table does not match its record type.
    #[error("failed to decode table {kind}: {message}")]
    Decode {
        /// The table kind.
        kind: String,
        /// The decoder's message.
        message: String,
    },
    /// Two record types declared the same `KIND`.
    #[error("table kind {kind} is declared by two record types")]
    DuplicateKind {
        /// The table kind.
        kind: String,
    },
    /// The snapshot document itself is malformed.
    #[error("invalid snapshot: {0}")]
    Snapshot(String),
}

/// A stored object type. `KIND` must be unique across the emulator (convention: `"<cloud>.<thing>"`).
pub trait Record: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The table name used in snapshots and in the reference index, e.g. `"iec.vpc"`.
    const KIND: &'static str;
    /// The object's id (the table key).
    fn id(&self) -> &str;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Row<T> {
    seq: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    visible_at_ms: u64,
    value: T,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// One table of records, in insertion order.
#[derive(Debug, Clone)]
pub struct Table<T> {
    rows: BTreeMap<u64, Box<Row<T>>>,
    index: HashMap<String, u64>,
    next_seq: u64,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            rows: BTreeMap::new(),
            index: HashMap::new(),
            next_seq: 1,
        }
    }
}

impl<T: Record> Table<T> {
    /// Number of rows (visible or not).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Inserts (or replaces, keeping its position) a record, visible immediately.
    pub fn insert(&mut self, value: T) {
        self.insert_visible_at(value, 0);
    }

    /// Inserts a record that reads ignore until `visible_at_ms` (eventual consistency).
    pub fn insert_visible_at(&mut self, value: T, visible_at_ms: u64) {
        let id = value.id().to_string();
        if let Some(seq) = self.index.get(&id).copied() {
            self.rows.insert(
                seq,
                Box::new(Row {
                    seq,
                    visible_at_ms,
                    value,
                }),
            );
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.index.insert(id, seq);
        self.rows.insert(
            seq,
            Box::new(Row {
                seq,
                visible_at_ms,
                value,
            }),
        );
    }

    /// The record with this id, visible or not (for internal consistency checks).
    pub fn get(&self, id: &str) -> Option<&T> {
        self.index
            .get(id)
            .and_then(|seq| self.rows.get(seq))
            .map(|r| &r.value)
    }

    /// The record with this id if it is visible at `now_ms` (for client-facing reads).
    pub fn get_visible(&self, id: &str, now_ms: u64) -> Option<&T> {
        self.index
            .get(id)
            .and_then(|seq| self.rows.get(seq))
            .filter(|r| r.visible_at_ms <= now_ms)
            .map(|r| &r.value)
    }

    /// Mutable access to a record, visible or not.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        match self.index.get(id) {
            Some(seq) => self.rows.get_mut(seq).map(|r| &mut r.value),
            None => None,
        }
    }

    /// True when a record with this id exists (visible or not).
    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// Removes and returns a record.
    pub fn remove(&mut self, id: &str) -> Option<T> {
        let seq = self.index.remove(id)?;
        self.rows.remove(&seq).map(|r| r.value)
    }

    /// All records in insertion order, visible or not.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.rows.values().map(|r| &r.value)
    }

    /// Mutable iteration in insertion order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.rows.values_mut().map(|r| &mut r.value)
    }

    /// Records visible at `now_ms`, in insertion order (for client-facing lists).
    pub fn iter_visible(&self, now_ms: u64) -> impl Iterator<Item = &T> {
        self.rows
            .values()
            .filter(move |r| r.visible_at_ms <= now_ms)
            .map(|r| &r.value)
    }

    fn from_rows(rows: Vec<Row<T>>) -> Self {
        let mut t = Self::default();
        for row in rows {
            t.next_seq = t.next_seq.max(row.seq + 1);
            t.index.insert(row.value.id().to_string(), row.seq);
            t.rows.insert(row.seq, Box::new(row));
        }
        t
    }
}

/// Type-erased table operations used for snapshots and cross-family JSON lookups.
trait ErasedTable: Send + Sync {
    fn to_json(&self) -> Value;
    fn get_json(&self, id: &str) -> Option<Value>;
    fn len(&self) -> usize;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn clone_box(&self) -> Box<dyn ErasedTable>;
}

impl<T: Record> ErasedTable for Table<T> {
    fn to_json(&self) -> Value {
        serde_json::to_value(self.rows.values().collect::<Vec<_>>()).unwrap_or(Value::Null)
    }
    fn get_json(&self, id: &str) -> Option<Value> {
        self.get(id).and_then(|v| serde_json::to_value(v).ok())
    }
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn clone_box(&self) -> Box<dyn ErasedTable> {
        Box::new(self.clone())
    }
}

/// A pending state transition: at `due_ms`, the family registered for `kind` gets `(id, action)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Timer {
    /// When the timer fires (epoch ms).
    pub due_ms: u64,
    /// Tie-breaker: insertion order.
    pub seq: u64,
    /// The record kind the timer is about (selects the handler).
    pub kind: String,
    /// The record id.
    pub id: String,
    /// Family-defined action name, e.g. `"build-done"`.
    pub action: String,
}

/// The signature of a timer handler a family registers for its kinds.
pub type TimerFn = fn(&mut Store, &Timer, u64) -> Result<(), StateError>;

/// Why an IP allocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IpError {
    /// The requested address is already allocated in this scope.
    #[error("the IP address is in use")]
    InUse,
    /// The requested address is not a usable host address of the cidr.
    #[error("the IP address is not a valid IP for the specified subnet")]
    OutOfRange,
    /// No free address is left.
    #[error("no more IP addresses available on network")]
    Exhausted,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct IpScope {
    used: BTreeSet<u32>,
    cursor: u32,
}

type Key = (u16, Shared);

/// The reference index: target → holders and holder → targets, with interned kind names.
#[derive(Debug, Clone, Default)]
struct RefIndex {
    kinds: Vec<String>,
    kind_ids: HashMap<String, u16>,
    forward: HashMap<Key, BTreeSet<Key>>,
    reverse: HashMap<Key, Vec<Key>>,
}

impl RefIndex {
    fn intern(&mut self, kind: &str) -> u16 {
        if let Some(k) = self.kind_ids.get(kind) {
            return *k;
        }
        let k = self.kinds.len() as u16;
        self.kinds.push(kind.to_string());
        self.kind_ids.insert(kind.to_string(), k);
        k
    }

    fn key(&self, kind: &str, id: &str) -> Option<Key> {
        self.kind_ids.get(kind).map(|k| (*k, Shared::from(id)))
    }

    fn add(&mut self, tk: &str, ti: &str, hk: &str, hi: &str) {
        let t = (self.intern(tk), Shared::from(ti));
        let h = (self.intern(hk), Shared::from(hi));
        // reuse the stored copies of both keys so each id is held once
        let t = self.forward.get_key_value(&t).map_or(t, |(k, _)| k.clone());
        let h = self.reverse.get_key_value(&h).map_or(h, |(k, _)| k.clone());
        if self.forward.entry(t.clone()).or_default().insert(h.clone()) {
            self.reverse.entry(h).or_default().push(t);
        }
    }

    fn remove(&mut self, tk: &str, ti: &str, hk: &str, hi: &str) {
        let (Some(t), Some(h)) = (self.key(tk, ti), self.key(hk, hi)) else {
            return;
        };
        if let Some(set) = self.forward.get_mut(&t) {
            set.remove(&h);
            if set.is_empty() {
                self.forward.remove(&t);
            }
        }
        if let Some(v) = self.reverse.get_mut(&h) {
            v.retain(|x| x != &t);
            if v.is_empty() {
                self.reverse.remove(&h);
            }
        }
    }

    fn remove_holder(&mut self, hk: &str, hi: &str) {
        let Some(h) = self.key(hk, hi) else { return };
        for t in self.reverse.remove(&h).unwrap_or_default() {
            if let Some(set) = self.forward.get_mut(&t) {
                set.remove(&h);
                if set.is_empty() {
                    self.forward.remove(&t);
                }
            }
        }
    }

    fn name(&self, k: u16) -> String {
        self.kinds.get(usize::from(k)).cloned().unwrap_or_default()
    }

    fn all(&self, tk: &str, ti: &str) -> Vec<(String, String)> {
        self.key(tk, ti)
            .and_then(|t| self.forward.get(&t))
            .map(|s| s.iter().map(|(k, i)| (self.name(*k), i.to_string())).collect())
            .unwrap_or_default()
    }

    fn any(&self, tk: &str, ti: &str) -> bool {
        self.key(tk, ti)
            .and_then(|t| self.forward.get(&t))
            .is_some_and(|s| !s.is_empty())
    }

    fn by_kind<'a>(&'a self, tk: &str, ti: &str, hk: &str) -> impl Iterator<Item = &'a str> + 'a {
        let hk = self.kind_ids.get(hk).copied();
        let set = self.key(tk, ti).and_then(|t| self.forward.get(&t));
        set.into_iter().flat_map(move |s| {
            let start: Key = (hk.unwrap_or(u16::MAX), Shared::default());
            s.range(start..)
                .take_while(move |(k, _)| Some(*k) == hk)
                .map(|(_, i)| &**i)
        })
    }

    fn of_holder(&self, hk: &str, hi: &str) -> Vec<(String, String)> {
        self.key(hk, hi)
            .and_then(|h| self.reverse.get(&h))
            .map(|v| v.iter().map(|(k, i)| (self.name(*k), i.to_string())).collect())
            .unwrap_or_default()
    }

    fn export(&self) -> Vec<(String, String, String, String)> {
        let mut out: Vec<_> = self
            .forward
            .iter()
            .flat_map(|((tk, ti), hs)| {
                hs.iter()
                    .map(move |(hk, hi)| (self.name(*tk), ti.to_string(), self.name(*hk), hi.to_string()))
            })
            .collect();
        out.sort();
        out
    }
}

/// One account's objects.
#[derive(Default)]
pub struct Store {
    tables: HashMap<TypeId, Box<dyn ErasedTable>>,
    kinds: BTreeMap<&'static str, TypeId>,
    raw: BTreeMap<String, Value>,
    timers: BinaryHeap<Reverse<Timer>>,
    timer_seq: u64,
    refs: RefIndex,
    ips: BTreeMap<String, IpScope>,
    counters: BTreeMap<String, u64>,
}

impl Clone for Store {
    fn clone(&self) -> Self {
        Self {
            tables: self.tables.iter().map(|(k, v)| (*k, v.clone_box())).collect(),
            kinds: self.kinds.clone(),
            raw: self.raw.clone(),
            timers: self.timers.clone(),
            timer_seq: self.timer_seq,
            refs: self.refs.clone(),
            ips: self.ips.clone(),
            counters: self.counters.clone(),
        }
    }
}

#[derive(Serialize, Deserialize, Default)]
struct StoreSnapshot {
    #[serde(default)]
    tables: BTreeMap<String, Value>,
    #[serde(default)]
    timers: Vec<Timer>,
    #[serde(default)]
    refs: Vec<(String, String, String, String)>,
    #[serde(default)]
    ips: BTreeMap<String, IpScope>,
    #[serde(default)]
    counters: BTreeMap<String, u64>,
}

impl Store {
    /// The table for record type `T`, created empty (or decoded from a loaded snapshot) on first use.
    pub fn table<T: Record>(&mut self) -> Result<&mut Table<T>, StateError> {
        let tid = TypeId::of::<Table<T>>();
        if !self.tables.contains_key(&tid) {
            if let Some(existing) = self.kinds.get(T::KIND)
                && *existing != tid
            {
                return Err(StateError::DuplicateKind {
                    kind: T::KIND.to_string(),
                });
            }
            let table = match self.raw.remove(T::KIND) {
                Some(raw) => {
                    let rows: Vec<Row<T>> = serde_json::from_value(raw.clone()).map_err(|e| {
                        self.raw.insert(T::KIND.to_string(), raw);
                        StateError::Decode {
                            kind: T::KIND.to_string(),
                            message: e.to_string(),
                        }
                    })?;
                    Table::from_rows(rows)
                }
                None => Table::<T>::default(),
            };
            self.kinds.insert(T::KIND, tid);
            self.tables.insert(tid, Box::new(table));
        }
        self.tables
            .get_mut(&tid)
            .and_then(|b| b.as_any_mut().downcast_mut::<Table<T>>())
            .ok_or_else(|| StateError::DuplicateKind {
                kind: T::KIND.to_string(),
            })
    }

    /// Read-only access to a table if it exists (never decodes; `None` if unused so far).
    pub fn peek<T: Record>(&self) -> Option<&Table<T>> {
        self.tables
            .get(&TypeId::of::<Table<T>>())
            .and_then(|b| b.as_any().downcast_ref::<Table<T>>())
    }

    /// Forces decoding of `T`'s table from a loaded snapshot (used at start-up to report errors early).
    pub fn register<T: Record>(&mut self) -> Result<(), StateError> {
        self.table::<T>().map(|_| ())
    }

    /// The JSON form of a record of any kind, e.g. `get_json("iec.subnet", id)`; lets a family read
    /// another family's objects without depending on its Rust types.
    pub fn get_json(&self, kind: &str, id: &str) -> Option<Value> {
        if let Some(t) = self.kinds.get(kind).and_then(|tid| self.tables.get(tid)) {
            return t.get_json(id);
        }
        self.raw.get(kind).and_then(|rows| {
            rows.as_array()?.iter().find_map(|row| {
                let v = row.get("value")?;
                (v.get("id").and_then(Value::as_str) == Some(id)).then(|| v.clone())
            })
        })
    }

    /// Number of records of a kind (0 for unknown kinds).
    pub fn count(&self, kind: &str) -> usize {
        match self.kinds.get(kind).and_then(|tid| self.tables.get(tid)) {
            Some(t) => t.len(),
            None => self.raw.get(kind).and_then(Value::as_array).map_or(0, Vec::len),
        }
    }

    /// Inserts a record of any kind from its JSON row value (used by tests and the admin API to seed
    /// objects of families that are decoded lazily).
    pub fn insert_json(&mut self, kind: &str, value: Value) -> Result<(), StateError> {
        if self.kinds.contains_key(kind) {
            return Err(StateError::Snapshot(format!(
                "table {kind} is already in use; insert through its typed API"
            )));
        }
        let rows = self
            .raw
            .entry(kind.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = rows {
            let seq = a.len() as u64 + 1;
            a.push(serde_json::json!({"seq": seq, "value": value}));
        }
        Ok(())
    }

    // ---- reference index -------------------------------------------------------------------

    /// Records that `holder` uses `target` (e.g. an instance uses a subnet).
    pub fn add_ref(&mut self, target_kind: &str, target_id: &str, holder_kind: &str, holder_id: &str) {
        self.refs.add(target_kind, target_id, holder_kind, holder_id);
    }

    /// Removes one reference.
    pub fn remove_ref(&mut self, target_kind: &str, target_id: &str, holder_kind: &str, holder_id: &str) {
        self.refs.remove(target_kind, target_id, holder_kind, holder_id);
    }

    /// Removes every reference held by `holder` (call when deleting the holder).
    pub fn remove_refs_of(&mut self, holder_kind: &str, holder_id: &str) {
        self.refs.remove_holder(holder_kind, holder_id);
    }

    /// Everything that references `target`, as `(holder_kind, holder_id)` pairs (allocates; prefer
    /// [`Store::referrers_by`] / [`Store::count_referrers_by`] when the holder kind is known).
    pub fn referrers(&self, target_kind: &str, target_id: &str) -> Vec<(String, String)> {
        self.refs.all(target_kind, target_id)
    }

    /// Ids of the `holder_kind` objects that reference `target`.
    pub fn referrers_by(&self, target_kind: &str, target_id: &str, holder_kind: &str) -> Vec<String> {
        self.refs
            .by_kind(target_kind, target_id, holder_kind)
            .map(str::to_string)
            .collect()
    }

    /// Number of `holder_kind` objects that reference `target` (O(log n + answer)).
    pub fn count_referrers_by(&self, target_kind: &str, target_id: &str, holder_kind: &str) -> usize {
        self.refs.by_kind(target_kind, target_id, holder_kind).count()
    }

    /// True when anything references `target`.
    pub fn is_referenced(&self, target_kind: &str, target_id: &str) -> bool {
        self.refs.any(target_kind, target_id)
    }

    /// True when any object of `holder_kind` references `target`; e.g.
    /// `is_referenced_by("iec.subnet", id, "iec.instance")` answers "is this subnet used by an instance".
    pub fn is_referenced_by(&self, target_kind: &str, target_id: &str, holder_kind: &str) -> bool {
        self.refs
            .by_kind(target_kind, target_id, holder_kind)
            .next()
            .is_some()
    }

    /// What `holder` references, as `(target_kind, target_id)` pairs.
    pub fn references_of(&self, holder_kind: &str, holder_id: &str) -> Vec<(String, String)> {
        self.refs.of_holder(holder_kind, holder_id)
    }

    // ---- IPv4 allocation -------------------------------------------------------------------

    /// Allocates a host address of `cidr` in `scope` (usually a subnet id). The network address,
    /// the first host (gateway) and the broadcast address are never handed out. With `requested`,
    /// that exact address is taken or an [`IpError`] explains why not.
    pub fn allocate_ip(
        &mut self,
        scope: &str,
        cidr: Ipv4Cidr,
        requested: Option<std::net::Ipv4Addr>,
    ) -> Result<std::net::Ipv4Addr, IpError> {
        let (first, last) = cidr.usable_range();
        let entry = self.ips.entry(scope.to_string()).or_default();
        if let Some(ip) = requested {
            let v = u32::from(ip);
            if v < first || v > last {
                return Err(IpError::OutOfRange);
            }
            if !entry.used.insert(v) {
                return Err(IpError::InUse);
            }
            return Ok(ip);
        }
        if first > last {
            return Err(IpError::Exhausted);
        }
        let span = u64::from(last - first) + 1;
        if entry.used.len() as u64 >= span {
            return Err(IpError::Exhausted);
        }
        let mut candidate = if entry.cursor >= first && entry.cursor <= last {
            entry.cursor
        } else {
            first
        };
        for _ in 0..span {
            if entry.used.insert(candidate) {
                entry.cursor = if candidate == last { first } else { candidate + 1 };
                return Ok(std::net::Ipv4Addr::from(candidate));
            }
            candidate = if candidate == last { first } else { candidate + 1 };
        }
        Err(IpError::Exhausted)
    }

    /// Releases an address in `scope`.
    pub fn release_ip(&mut self, scope: &str, ip: std::net::Ipv4Addr) {
        if let Some(entry) = self.ips.get_mut(scope) {
            entry.used.remove(&u32::from(ip));
        }
    }

    /// Number of addresses allocated in `scope`.
    pub fn ips_in_use(&self, scope: &str) -> usize {
        self.ips.get(scope).map_or(0, |s| s.used.len())
    }

    // ---- timers ----------------------------------------------------------------------------

    /// Schedules `action` on `(kind, id)` at `due_ms`.
    pub fn schedule(&mut self, due_ms: u64, kind: &str, id: &str, action: &str) {
        self.timer_seq += 1;
        self.timers.push(Reverse(Timer {
            due_ms,
            seq: self.timer_seq,
            kind: kind.to_string(),
            id: id.to_string(),
            action: action.to_string(),
        }));
    }

    /// Removes and returns the earliest timer due at or before `now_ms`.
    pub fn pop_due(&mut self, now_ms: u64) -> Option<Timer> {
        if self.timers.peek().is_some_and(|Reverse(t)| t.due_ms <= now_ms) {
            self.timers.pop().map(|Reverse(t)| t)
        } else {
            None
        }
    }

    /// Number of pending timers.
    pub fn pending_timers(&self) -> usize {
        self.timers.len()
    }

    /// A per-account monotonic counter (e.g. for instance name numbering); returns the new value.
    pub fn next_counter(&mut self, name: &str) -> u64 {
        let c = self.counters.entry(name.to_string()).or_insert(0);
        *c += 1;
        *c
    }

    // ---- snapshots -------------------------------------------------------------------------

    fn to_snapshot(&self) -> StoreSnapshot {
        let mut tables = self.raw.clone();
        for (kind, tid) in &self.kinds {
            if let Some(t) = self.tables.get(tid) {
                tables.insert((*kind).to_string(), t.to_json());
            }
        }
        let mut timers: Vec<Timer> = self.timers.iter().map(|Reverse(t)| t.clone()).collect();
        timers.sort();
        let refs = self.refs.export();
        StoreSnapshot {
            tables,
            timers,
            refs,
            ips: self.ips.clone(),
            counters: self.counters.clone(),
        }
    }

    fn from_snapshot(s: StoreSnapshot) -> Self {
        let mut store = Store {
            raw: s.tables,
            ips: s.ips,
            counters: s.counters,
            ..Default::default()
        };
        for t in s.timers {
            store.timer_seq = store.timer_seq.max(t.seq);
            store.timers.push(Reverse(t));
        }
        for (tk, ti, hk, hi) in s.refs {
            store.add_ref(&tk, &ti, &hk, &hi);
        }
        store
    }
}

/// All accounts' stores.
#[derive(Default, Clone)]
pub struct World {
    accounts: BTreeMap<String, Store>,
}

#[derive(Serialize, Deserialize)]
struct WorldSnapshot {
    version: u32,
    #[serde(default)]
    accounts: BTreeMap<String, StoreSnapshot>,
}

impl World {
    /// The store of one account (created empty on first use).
    pub fn account(&mut self, domain_id: &str) -> &mut Store {
        self.accounts.entry(domain_id.to_string()).or_default()
    }

    /// Ids of accounts that have a store.
    pub fn account_ids(&self) -> Vec<String> {
        self.accounts.keys().cloned().collect()
    }

    /// Runs every due timer of every account through `handlers` (keyed by record kind).
    pub fn run_all_due(
        &mut self,
        now_ms: u64,
        handlers: &HashMap<String, TimerFn>,
    ) -> Result<(), StateError> {
        for store in self.accounts.values_mut() {
            run_due(store, now_ms, handlers)?;
        }
        Ok(())
    }

    /// Serialises all accounts to the snapshot JSON document.
    pub fn to_json(&self) -> Value {
        let snap = WorldSnapshot {
            version: 1,
            accounts: self
                .accounts
                .iter()
                .map(|(k, v)| (k.clone(), v.to_snapshot()))
                .collect(),
        };
        serde_json::to_value(snap).unwrap_or(Value::Null)
    }

    /// Loads a snapshot produced by [`World::to_json`].
    pub fn from_json(value: Value) -> Result<Self, StateError> {
        if !value.is_object() {
            return Err(StateError::Snapshot("a snapshot must be a JSON object".into()));
        }
        let snap: WorldSnapshot =
            serde_json::from_value(value).map_err(|e| StateError::Snapshot(e.to_string()))?;
        if snap.version != 1 {
            return Err(StateError::Snapshot(format!(
                "unsupported snapshot version {}",
                snap.version
            )));
        }
        Ok(World {
            accounts: snap
                .accounts
                .into_iter()
                .map(|(k, v)| (k, Store::from_snapshot(v)))
                .collect(),
        })
    }
}

/// Runs due timers of one store. A timer whose kind has no handler is dropped.
pub fn run_due(
    store: &mut Store,
    now_ms: u64,
    handlers: &HashMap<String, TimerFn>,
) -> Result<(), StateError> {
    while let Some(timer) = store.pop_due(now_ms) {
        if let Some(handler) = handlers.get(&timer.kind) {
            handler(store, &timer, now_ms)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
    struct Thing {
        id: String,
        n: u32,
    }
    impl Record for Thing {
        const KIND: &'static str = "test.thing";
        fn id(&self) -> &str {
            &self.id
        }
    }

    fn thing(id: &str, n: u32) -> Thing {
        Thing { id: id.into(), n }
    }

    #[test]
    fn tables_keep_insertion_order_and_visibility() {
        let mut s = Store::default();
        let t = s.table::<Thing>().unwrap();
        t.insert(thing("b", 1));
        t.insert(thing("a", 2));
        t.insert_visible_at(thing("c", 3), 100);
        let ids: Vec<_> = t.iter_visible(50).map(|x| x.id.clone()).collect();
        assert_eq!(ids, ["b", "a"]);
        assert!(t.get_visible("c", 99).is_none());
        assert!(t.get_visible("c", 100).is_some());
        t.insert(thing("b", 9));
        assert_eq!(t.iter().next().unwrap().n, 9);
        assert_eq!(t.remove("a").unwrap().n, 2);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn snapshot_round_trip_restores_tables_refs_ips_timers() {
        let mut w = World::default();
        let s = w.account("d1");
        s.table::<Thing>().unwrap().insert(thing("x", 1));
        s.add_ref("test.net", "n1", "test.thing", "x");
        let cidr: Ipv4Cidr = "10.0.0.0/30".parse().unwrap();
        let ip = s.allocate_ip("n1", cidr, None).unwrap();
        s.schedule(5, "test.thing", "x", "go");
        let json = w.to_json();
        let mut w2 = World::from_json(json.clone()).unwrap();
        let s2 = w2.account("d1");
        assert_eq!(s2.get_json("test.thing", "x").unwrap()["n"], 1);
        assert_eq!(s2.count("test.thing"), 1);
        assert_eq!(s2.table::<Thing>().unwrap().get("x").unwrap().n, 1);
        assert!(s2.is_referenced_by("test.net", "n1", "test.thing"));
        assert_eq!(s2.allocate_ip("n1", cidr, Some(ip)), Err(IpError::InUse));
        assert_eq!(s2.pop_due(5).unwrap().action, "go");
        assert_eq!(
            w2.to_json()["accounts"]["d1"]["tables"],
            json["accounts"]["d1"]["tables"]
        );
    }

    #[test]
    fn bad_snapshot_rows_are_reported_not_panicked() {
        let mut s = Store::default();
        s.insert_json("test.thing", serde_json::json!({"id": "x", "n": "not a number"}))
            .unwrap();
        assert!(matches!(s.table::<Thing>(), Err(StateError::Decode { .. })));
        assert!(World::from_json(serde_json::json!({"version": 9})).is_err());
        assert!(World::from_json(serde_json::json!([1, 2])).is_err());
    }

    #[test]
    fn ip_allocation_skips_reserved_and_reports_exhaustion() {
        let mut s = Store::default();
        let cidr: Ipv4Cidr = "192.168.0.0/29".parse().unwrap();
        let mut got = Vec::new();
        while let Ok(ip) = s.allocate_ip("sub", cidr, None) {
            got.push(ip.to_string());
        }
        assert_eq!(
            got,
            [
                "192.168.0.2",
                "192.168.0.3",
                "192.168.0.4",
                "192.168.0.5",
                "192.168.0.6"
            ]
        );
        assert_eq!(s.allocate_ip("sub", cidr, None), Err(IpError::Exhausted));
        assert_eq!(
            s.allocate_ip("sub", cidr, Some("192.168.0.7".parse().unwrap())),
            Err(IpError::OutOfRange)
        );
        s.release_ip("sub", "192.168.0.4".parse().unwrap());
        assert_eq!(
            s.allocate_ip("sub", cidr, None).unwrap().to_string(),
            "192.168.0.4"
        );
    }

    #[test]
    fn refs_are_removed_with_their_holder() {
        let mut s = Store::default();
        s.add_ref("k.subnet", "s1", "k.instance", "i1");
        s.add_ref("k.sg", "g1", "k.instance", "i1");
        assert!(s.is_referenced_by("k.subnet", "s1", "k.instance"));
        assert!(!s.is_referenced_by("k.subnet", "s1", "k.port"));
        s.remove_refs_of("k.instance", "i1");
        assert!(s.referrers("k.subnet", "s1").is_empty());
        assert!(s.referrers("k.sg", "g1").is_empty());
    }
}
