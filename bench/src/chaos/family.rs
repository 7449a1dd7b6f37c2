//! What the campaign needs from one cloud family ([`CloudWorkload`]): its objects and mutations, the
//! faults that make sense for its API, and how to read its cloud objects out of an emulator snapshot
//! and out of the status of the Kubernetes objects that own them. The driver ([`super::run`]) and the
//! audit ([`super::audit`]) know nothing else about a cloud; a new family is one module implementing
//! this trait plus one arm in [`workload_for`].
//!
//! Also the driver's [`Model`] of what the user intends (objects alive with their last-applied JSON,
//! objects deleted), the [`Mutation`]s a workload proposes, and the seeded [`Rng`] that makes a run
//! repeatable.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};
use edgefleet_emulator::core::faults::{ErrorFault, Faults, LostMode, LostResponseFault, ThrottleFault};
use kube::api::DynamicObject;
use kube::core::ApiResource;
use serde_json::Value;

/// A Kubernetes object the driver manages: kind and name (all in one namespace).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Key {
    /// Kind, e.g. `EdgeInstance`.
    pub kind: String,
    /// metadata.name.
    pub name: String,
}

impl Key {
    /// The key of a Kubernetes object.
    pub fn of(object: &DynamicObject) -> Option<Self> {
        Some(Self {
            kind: object.types.as_ref()?.kind.clone(),
            name: object.metadata.name.clone()?,
        })
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// One change a workload asks for.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Create this object (JSON as a user applies it).
    Create(Value),
    /// Apply this JSON merge patch to an existing object.
    Patch {
        /// The object.
        key: Key,
        /// The merge patch.
        patch: Value,
        /// What it does, for the report (`scale`, `roll`, `power`, ...).
        what: &'static str,
    },
    /// Delete the object.
    Delete(Key),
}

impl Mutation {
    /// `"<verb> <Kind>"` for the operation counts of the report.
    pub fn label(&self) -> String {
        match self {
            Self::Create(v) => format!("create {}", v["kind"].as_str().unwrap_or("?")),
            Self::Patch { key, what, .. } => format!("{what} {}", key.kind),
            Self::Delete(key) => format!("delete {}", key.kind),
        }
    }
}

/// Kubernetes objects by metadata.uid: how a family that tags its cloud objects with the owner's uid
/// (veEN's `edgefleet-owner`) tells which object a cloud object belongs to.
pub type Owners = BTreeMap<String, Key>;

/// What the user intends: the objects alive (their last-applied JSON) and the ones deleted.
#[derive(Debug, Default, Clone)]
pub struct Model {
    /// Alive objects and their JSON (creates with every later patch merged in).
    pub alive: BTreeMap<Key, Value>,
    /// Objects the driver deleted (names are never reused).
    pub deleted: BTreeSet<Key>,
    /// Next free index for names.
    pub next: usize,
    /// Every object seen (created by the driver, or listed), by uid, deleted ones included.
    pub owners: Owners,
}

impl Model {
    /// A fresh index for a new object's name.
    pub fn next_index(&mut self) -> usize {
        self.next += 1;
        self.next
    }

    /// Records the uids of listed objects (the shared ones are not created by the driver).
    pub fn learn(&mut self, objects: &[DynamicObject]) {
        for o in objects {
            if let (Some(uid), Some(key)) = (o.metadata.uid.clone(), Key::of(o)) {
                self.owners.insert(uid, key);
            }
        }
    }

    /// A random alive object of `kind`, if any.
    pub fn pick(&self, kind: &str, rng: &mut Rng) -> Option<(Key, Value)> {
        let all: Vec<(Key, Value)> = self.of_kind(kind).map(|(k, v)| (k.clone(), v.clone())).collect();
        rng.pick(&all).cloned()
    }

    /// Alive objects of one kind.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a Key, &'a Value)> + 'a {
        self.alive.iter().filter(move |(k, _)| k.kind == kind)
    }

    /// Records a mutation the cluster accepted.
    pub fn apply(&mut self, mutation: &Mutation) -> Result<()> {
        match mutation {
            Mutation::Create(value) => {
                let key = Key {
                    kind: value["kind"].as_str().unwrap_or_default().to_owned(),
                    name: value["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
                };
                if self.alive.contains_key(&key) || self.deleted.contains(&key) {
                    bail!("the workload reused the name {key}");
                }
                self.alive.insert(key, value.clone());
            }
            Mutation::Patch { key, patch, .. } => {
                let Some(value) = self.alive.get_mut(key) else {
                    bail!("the workload patched {key}, which is not alive");
                };
                merge(value, patch);
            }
            Mutation::Delete(key) => {
                if self.alive.remove(key).is_none() {
                    bail!("the workload deleted {key}, which is not alive");
                }
                self.deleted.insert(key.clone());
            }
        }
        Ok(())
    }
}

/// RFC 7386 JSON merge patch.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = target {
        for (k, v) in patch {
            if v.is_null() {
                map.remove(k);
            } else {
                merge(map.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// SplitMix64: small, fast, and the same sequence for a seed on every machine and toolchain.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len() as u64) as usize)
    }

    /// An index chosen with the given weights (0 when every weight is 0).
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut roll = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if roll < *w {
                return i;
            }
            roll -= w;
        }
        0
    }
}

/// A cloud object as the emulator holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CloudObject {
    /// The family's kind name, e.g. `instance`, `vpc`.
    pub kind: String,
    /// Cloud id.
    pub id: String,
    /// Cloud name.
    pub name: String,
    /// The Kubernetes object whose intent this cloud object carries (by kind and metadata.name): the
    /// object its name was derived from, or, for dependents (subnets, edge-cloud members), the parent's.
    pub intent: Key,
    /// Set for members of a fleet: the cloud id of the fleet.
    pub fleet: Option<String>,
}

/// One cloud family's workload and cloud model.
pub trait CloudWorkload: Send + Sync {
    /// The family's name (`--cloud`).
    fn name(&self) -> &'static str;
    /// Objects of its own besides the benchmark's shared ones ([`crate::workload::create_shared`]),
    /// created once before the first objects (Secrets only).
    fn shared(&self, namespace: &str) -> Vec<Value>;
    /// The kinds the driver creates and mutates, in the order the final cleanup deletes them.
    fn kinds(&self) -> Vec<ApiResource>;
    /// The first objects (applied before the rounds start).
    fn initial(&self, model: &mut Model, namespace: &str) -> Vec<Mutation>;
    /// One random mutation of the model.
    fn mutate(&self, model: &mut Model, namespace: &str, rng: &mut Rng) -> Mutation;
    /// The faults of `--faults` that run for the whole campaign (errors, lost responses, throttling,
    /// slow builds), added to `base` (the latency every call has).
    fn faults(&self, base: &Faults, seed: u64) -> Faults;
    /// The benchmark cloud whose shared objects ([`crate::workload::create_shared`]) the campaign uses.
    fn cloud(&self) -> crate::workload::Cloud;
    /// Every cloud object of the emulator snapshot that the campaign's objects can create; `owners`
    /// names the Kubernetes objects by uid (for families that tag cloud objects with it).
    fn inventory(&self, state: &Value, owners: &Owners) -> Vec<CloudObject>;

    /// A burst of server errors on every call, added to `faults`.
    fn burst(&self, faults: &Faults) -> Faults {
        let mut burst = faults.clone();
        burst.errors.insert(
            0,
            ErrorFault {
                operation: "*".into(),
                rate: 1.0,
                status: 503,
            },
        );
        burst
    }

    /// The cloud objects (kind, id) that a Kubernetes object's status names as its own (the status
    /// fields every family shares: instanceId, securityGroupId, edgeCloudId, vpcId and subnet ids).
    fn owned(&self, object: &DynamicObject) -> Vec<(String, String)> {
        let status = &object.data["status"];
        let kind = object.types.as_ref().map(|t| t.kind.as_str()).unwrap_or_default();
        let one = |cloud_kind: &str, field: &str| {
            status[field]
                .as_str()
                .map(|id| (cloud_kind.to_owned(), id.to_owned()))
                .into_iter()
                .collect::<Vec<_>>()
        };
        match kind {
            "EdgeInstance" => one("instance", "instanceId"),
            "SecurityGroup" => one("security_group", "securityGroupId"),
            "EdgeCloud" => one("edgecloud", "edgeCloudId"),
            "Vpc" => {
                let mut ids = one("vpc", "vpcId");
                ids.extend(
                    status["subnets"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|s| s["id"].as_str())
                        .map(|id| ("subnet".to_owned(), id.to_owned())),
                );
                ids
            }
            _ => Vec::new(),
        }
    }

    /// The desired member count of a fleet object (`None` for kinds that are not fleets).
    fn fleet_replicas(&self, object: &DynamicObject) -> Option<u64> {
        let is_fleet = object.types.as_ref().is_some_and(|t| t.kind == "EdgeCloud");
        is_fleet.then(|| object.data["spec"]["replicas"].as_u64().unwrap_or(1))
    }

    /// Crash-relevant persisted state of one object the operator manages, beyond the generic
    /// finalizer/intent/id/Ready steps (an expansion or member removal recorded but unfinished).
    fn extra_step(&self, object: &DynamicObject) -> Option<&'static str> {
        let status = &object.data["status"];
        if status["pendingDelete"].as_array().is_some_and(|a| !a.is_empty()) {
            return Some("fleet: member removals recorded, not confirmed");
        }
        if !status["pendingExpand"].is_null() {
            return Some("fleet: expansion intent recorded");
        }
        None
    }
}

/// A weighted random op that `try_op` allows now; when the drawn one is not possible (nothing to
/// delete, or at a bound), the first of `fallbacks` that is (creating an instance always is, until the
/// bound; at the bound, deleting one is).
pub fn draw<Op: Copy>(
    ops: &[(Op, u64)],
    fallbacks: &[Op],
    rng: &mut Rng,
    mut try_op: impl FnMut(Op, &mut Rng) -> Option<Mutation>,
) -> Mutation {
    let weights: Vec<u64> = ops.iter().map(|(_, w)| *w).collect();
    loop {
        let op = ops[rng.weighted(&weights)].0;
        if let Some(m) = try_op(op, rng) {
            return m;
        }
        for fallback in fallbacks {
            if let Some(m) = try_op(*fallback, rng) {
                return m;
            }
        }
    }
}

/// Powers a random EdgeInstance off, or on when it is off.
pub fn toggle_power(model: &Model, rng: &mut Rng) -> Option<Mutation> {
    let (key, v) = model.pick("EdgeInstance", rng)?;
    let next = if v["spec"]["powerState"] == "Stopped" {
        "Running"
    } else {
        "Stopped"
    };
    Some(Mutation::Patch {
        key,
        patch: serde_json::json!({"spec": {"powerState": next}}),
        what: "power",
    })
}

/// The faults every family's `--faults` has, over `base`: 3 % 503s on `errors_on`, 10 % lost responses
/// of each `lost` operation (with its mode), throttling at 25 requests/s with Retry-After 1 s.
pub fn campaign_faults(base: &Faults, seed: u64, errors_on: &str, lost: &[(&str, LostMode)]) -> Faults {
    let mut faults = base.clone();
    faults.seed = seed;
    faults.errors.push(ErrorFault {
        operation: errors_on.into(),
        rate: 0.03,
        status: 503,
    });
    for (operation, mode) in lost {
        faults.lost_responses.push(LostResponseFault {
            operation: (*operation).into(),
            rate: 0.1,
            mode: *mode,
        });
    }
    faults.throttle.push(ThrottleFault {
        account: "*".into(),
        limit_per_second: 25,
        retry_after_secs: 1,
    });
    faults
}

/// The rows (their values) of one emulator table, over every account of a snapshot.
pub fn rows<'a>(state: &'a Value, table: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    state["accounts"]
        .as_object()
        .into_iter()
        .flat_map(|accounts| accounts.values())
        .flat_map(move |store| store["tables"][table].as_array().into_iter().flatten())
        .map(|row| &row["value"])
}

/// A string field of a row (empty when absent).
pub fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// The other of two values (the first when `current` is neither).
pub fn other(current: &Value, pair: [&'static str; 2]) -> &'static str {
    if current.as_str() == Some(pair[0]) {
        pair[1]
    } else {
        pair[0]
    }
}

/// A key from kind and name.
pub fn key(kind: &str, name: &str) -> Key {
    Key {
        kind: kind.to_owned(),
        name: name.to_owned(),
    }
}

/// The owner-tag value of a cloud row whose `tags` are `[{<key_field>, <value_field>}]` (veEN `Key`/
/// `Value`, Workspace `key`/`value`); empty when untagged.
pub fn owner_tag(row: &Value, key_field: &str, value_field: &str) -> String {
    row["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t[key_field] == edgefleet::provider::OWNER_TAG)
        .map(|t| text(&t[value_field]))
        .unwrap_or_default()
}

/// The Kubernetes object an owner uid names, or `unknown owner/<uid>` (a leak).
pub fn owner_intent(owners: &Owners, uid: &str) -> Key {
    owners
        .get(uid)
        .cloned()
        .unwrap_or_else(|| key("unknown owner", if uid.is_empty() { "(untagged)" } else { uid }))
}

/// The workload of the family named `name`.
pub fn workload_for(name: &str) -> Result<Box<dyn CloudWorkload>> {
    match name {
        "iec" => Ok(Box::new(super::iec::Iec)),
        "veen" => Ok(Box::new(super::veen::Veen)),
        "luchen" => Ok(Box::new(super::standalone::Standalone(
            &super::standalone::LUCHEN,
        ))),
        "modelarts" => Ok(Box::new(super::standalone::Standalone(
            &super::standalone::MODELARTS,
        ))),
        "workspace" => Ok(Box::new(super::workspace::Workspace)),
        other => {
            bail!("--cloud {other}: no such cloud family (known: iec, veen, luchen, modelarts, workspace)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut v = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge(&mut v, &json!({"a": null, "b": {"c": 5}, "e": [1]}));
        assert_eq!(v, json!({"b": {"c": 5, "d": 3}, "e": [1]}));
    }

    #[test]
    fn the_rng_repeats_for_a_seed_and_honours_weights() {
        let a: Vec<u64> = (0..5).scan(Rng::new(7), |r, _| Some(r.next_u64())).collect();
        let b: Vec<u64> = (0..5).scan(Rng::new(7), |r, _| Some(r.next_u64())).collect();
        assert_eq!(a, b);
        let mut r = Rng::new(1);
        assert!((0..100).all(|_| r.weighted(&[0, 3, 0]) == 1));
        assert!(!r.chance(0.0));
        assert!((0..100).all(|_| r.chance(1.0)));
        assert!((0..100).all(|_| r.below(3) < 3));
    }

    #[test]
    fn the_model_refuses_reused_names_and_unknown_objects() {
        let mut m = Model::default();
        let create = Mutation::Create(json!({"kind": "Vpc", "metadata": {"name": "v"}, "spec": {"x": 1}}));
        m.apply(&create).unwrap();
        let key = Key {
            kind: "Vpc".into(),
            name: "v".into(),
        };
        m.apply(&Mutation::Patch {
            key: key.clone(),
            patch: json!({"spec": {"x": 2}}),
            what: "edit",
        })
        .unwrap();
        assert_eq!(m.alive[&key]["spec"]["x"], 2);
        m.apply(&Mutation::Delete(key.clone())).unwrap();
        assert!(m.apply(&create).is_err(), "a deleted name is never reused");
        assert!(m.apply(&Mutation::Delete(key)).is_err());
        assert_eq!(create.label(), "create Vpc");
    }
}
