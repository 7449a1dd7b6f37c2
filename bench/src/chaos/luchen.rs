//! The Luchen campaign workload: standalone GPU EdgeInstances (created, deleted, powered off and on) on
//! the benchmark's Luchen ProviderConfig (Password login on the emulator's Luchen listener;
//! [`crate::workload::create_shared`] with [`crate::workload::Cloud::Luchen`]). Luchen has no fleet
//! object and no tags, so EdgeInstances are the only kind.
//!
//! Cloud side: the emulator's `luchen.instance` table. Luchen has no tags or idempotency token: an
//! instance is edgefleet's by its name, which is the EdgeInstance's cloud name (metadata.name), so the
//! inventory names intents by name; two rows of one name are a duplicate create, a row whose name no
//! object of the run had is a leak. `Released` rows (terminated, still listed for a moment) are gone.
//!
//! Faults (`--faults`): the campaign's 3 % 503s on every `POST /api/*` call (the login too), 10 % lost
//! answers of create (a 500 after the instance exists: the lost-create case) and of terminate, stop
//! and start (a broken connection), throttling at 25 requests/s, and every tenth instance building
//! for [`SLOW_BUILD_MS`] (`slow_builds`).

use edgefleet::api::edge_instance::EdgeInstance;
use edgefleet_emulator::core::faults::{Faults, LostMode, SlowBuildFault};
use edgefleet_emulator::luchen::kinds;
use kube::core::ApiResource;
use serde_json::{Value, json};

use super::family::{
    CloudObject, CloudWorkload, Model, Mutation, Owners, Rng, campaign_faults, draw, key, rows, text,
    toggle_power,
};
use crate::workload::{self, Cloud, ROLE_LABEL, resource};

/// The Luchen family.
pub struct Luchen;

/// Bound that keeps a long run's cloud (and the 2-core machine) small.
const MAX_INSTANCES: usize = 30;
/// Instances whose index ends in 7 stay Initializing this long under `--faults`.
pub const SLOW_BUILD_MS: u64 = 12_000;

fn instance_name(index: usize) -> String {
    format!("bench-{index:05}")
}

fn new_instance(model: &mut Model, namespace: &str) -> Mutation {
    let index = model.next_index();
    let mut body = workload::instance(Cloud::Luchen, namespace, index);
    body["metadata"]["labels"][ROLE_LABEL] = json!("chaos");
    Mutation::Create(body)
}

/// The kinds of mutation, with their weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    CreateInstance,
    DeleteInstance,
    Power,
}

const OPS: [(Op, u64); 3] = [
    (Op::CreateInstance, 20),
    (Op::DeleteInstance, 12),
    (Op::Power, 10),
];

impl Luchen {
    /// The mutation `op` asks for, if the model allows it now.
    fn try_op(op: Op, model: &mut Model, namespace: &str, rng: &mut Rng) -> Option<Mutation> {
        Some(match op {
            Op::CreateInstance if model.of_kind("EdgeInstance").count() < MAX_INSTANCES => {
                new_instance(model, namespace)
            }
            Op::DeleteInstance => Mutation::Delete(model.pick("EdgeInstance", rng)?.0),
            Op::Power => toggle_power(model, rng)?,
            _ => return None,
        })
    }
}

impl CloudWorkload for Luchen {
    fn name(&self) -> &'static str {
        "luchen"
    }

    fn shared(&self, _namespace: &str) -> Vec<Value> {
        Vec::new()
    }

    fn kinds(&self) -> Vec<ApiResource> {
        vec![resource::<EdgeInstance>()]
    }

    fn initial(&self, model: &mut Model, namespace: &str) -> Vec<Mutation> {
        (0..6).map(|_| new_instance(model, namespace)).collect()
    }

    fn mutate(&self, model: &mut Model, namespace: &str, rng: &mut Rng) -> Mutation {
        draw(&OPS, &[Op::CreateInstance, Op::DeleteInstance], rng, |op, rng| {
            Self::try_op(op, model, namespace, rng)
        })
    }

    fn faults(&self, base: &Faults, seed: u64) -> Faults {
        let lost = [
            ("POST /api/instance/create", LostMode::Error500),
            ("POST /api/instance/terminate", LostMode::Drop),
            ("POST /api/instance/stop", LostMode::Drop),
            ("POST /api/instance/start", LostMode::Drop),
        ];
        let mut faults = campaign_faults(base, seed, "POST /api/*", &lost);
        faults.slow_builds = (0..2000)
            .filter(|i| i % 10 == 7)
            .map(|i| SlowBuildFault {
                name: instance_name(i),
                delay_ms: SLOW_BUILD_MS,
            })
            .collect();
        faults
    }

    fn cloud(&self) -> Cloud {
        Cloud::Luchen
    }

    fn inventory(&self, state: &Value, _owners: &Owners) -> Vec<CloudObject> {
        rows(state, kinds::INSTANCE)
            .filter(|v| v["status"] != "Released")
            .map(|v| CloudObject {
                kind: "instance".into(),
                id: text(&v["id"]),
                name: text(&v["name"]),
                intent: key("EdgeInstance", v["name"].as_str().unwrap_or_default()),
                fleet: None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luchen_mutations_stay_within_the_bound_and_only_touch_live_instances() {
        let mut model = Model::default();
        for m in Luchen.initial(&mut model, "ns") {
            model.apply(&m).unwrap();
        }
        let mut rng = Rng::new(7);
        let mut labels = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let m = Luchen.mutate(&mut model, "ns", &mut rng);
            labels.insert(m.label());
            model.apply(&m).unwrap();
            assert!(model.of_kind("EdgeInstance").count() <= MAX_INSTANCES);
        }
        for expected in ["create EdgeInstance", "delete EdgeInstance", "power EdgeInstance"] {
            assert!(labels.contains(expected), "{expected} never chosen: {labels:?}");
        }
        let body = workload::instance(Cloud::Luchen, "ns", 3);
        assert_eq!(body["spec"]["providerConfigRef"]["name"], "bench-luchen");
        assert_eq!(body["metadata"]["name"], instance_name(3));
    }

    #[test]
    fn the_luchen_inventory_names_intents_by_name_and_skips_released_rows() {
        let state = json!({"accounts": {"u": {"tables": {
            kinds::INSTANCE: [
                {"seq": 1, "value": {"id": "notebook-1", "name": "bench-00001", "status": "Running"}},
                {"seq": 2, "value": {"id": "notebook-2", "name": "bench-00001", "status": "Initializing"}},
                {"seq": 3, "value": {"id": "notebook-3", "name": "bench-00002", "status": "Released"}},
            ],
        }}}});
        let inv = Luchen.inventory(&state, &Owners::new());
        assert_eq!(inv.len(), 2);
        assert!(inv.iter().all(|c| c.intent == key("EdgeInstance", "bench-00001")));
        let instance: kube::api::DynamicObject = serde_json::from_value(json!({
            "apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeInstance",
            "metadata": {"name": "bench-00001", "uid": "u-1"},
            "spec": {}, "status": {"instanceId": "notebook-1"},
        }))
        .unwrap();
        let mut model = Model::default();
        model.learn(std::slice::from_ref(&instance));
        let findings = crate::chaos::audit::audit(&Luchen, &model, &[instance], &inv);
        assert_eq!(findings.duplicates.len(), 1, "{findings:?}");
        assert_eq!(
            findings.leaks.len(),
            1,
            "the second create is not the object's: {findings:?}"
        );
    }
}
