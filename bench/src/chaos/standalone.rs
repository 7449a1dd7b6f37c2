//! The campaign workload of the single-instance clouds (Luchen GPU instances, ModelArts DevServers):
//! standalone EdgeInstances created, deleted, powered off and on, on the benchmark's ProviderConfig of the
//! cloud ([`crate::workload::create_shared`]). These clouds have no fleet object, so EdgeInstances are the
//! only kind; what differs between them is data ([`Profile`]): the cloud, the operations its faults hit,
//! the emulator table its instances live in and the statuses that mean "on its way out".
//!
//! Cloud side: an instance is edgefleet's by its name, which is the EdgeInstance's cloud name
//! (metadata.name; Luchen has neither tags nor an idempotency token, and a DevServer is found again by
//! name too), so the inventory names intents by name; two rows of one name are a duplicate create, a row
//! whose name no object of the run had is a leak. Rows in a leaving status (Luchen `Released`, ModelArts
//! `DELETING`) are gone.
//!
//! Faults (`--faults`): the campaign's 3 % 503s on every call of the cloud's API (Luchen's login too),
//! 10 % lost answers of create (a 500 after the instance exists: the lost-create case) and of delete,
//! stop and start (a broken connection), throttling at 25 requests/s, and, where the emulator family
//! has the `slow_builds` fault (Luchen), every tenth instance building for [`SLOW_BUILD_MS`].

use edgefleet::api::edge_instance::EdgeInstance;
use edgefleet_emulator::core::faults::{Faults, LostMode, SlowBuildFault};
use edgefleet_emulator::{luchen, modelarts};
use kube::core::ApiResource;
use serde_json::{Value, json};

use super::family::{
    CloudObject, CloudWorkload, Model, Mutation, Owners, Rng, campaign_faults, draw, key, rows, text,
    toggle_power,
};
use crate::workload::{self, Cloud, ROLE_LABEL, resource};

/// What one single-instance cloud's campaign needs to know about it.
#[derive(Debug)]
pub struct Profile {
    /// Family name (`--cloud`).
    pub name: &'static str,
    /// The bench cloud whose ProviderConfig and instance shape the workload uses.
    pub cloud: Cloud,
    /// Fault pattern of every call of the cloud's API (503 bursts).
    pub errors_on: &'static str,
    /// Operations whose answer is lost, and how.
    pub lost: &'static [(&'static str, LostMode)],
    /// The emulator table of the cloud's instances.
    pub table: &'static str,
    /// Statuses of an instance that is on its way out (not a leak).
    pub leaving: &'static [&'static str],
    /// Whether the emulator family honours the `slow_builds` fault.
    pub slow_builds: bool,
}

/// Luchen Cloud GPU instances.
pub const LUCHEN: Profile = Profile {
    name: "luchen",
    cloud: Cloud::Luchen,
    errors_on: "POST /api/*",
    lost: &[
        ("POST /api/instance/create", LostMode::Error500),
        ("POST /api/instance/terminate", LostMode::Drop),
        ("POST /api/instance/stop", LostMode::Drop),
        ("POST /api/instance/start", LostMode::Drop),
    ],
    table: luchen::kinds::INSTANCE,
    leaving: &["Released"],
    slow_builds: true,
};

/// Huawei ModelArts DevServers (pay-per-use: no orders).
pub const MODELARTS: Profile = Profile {
    name: "modelarts",
    cloud: Cloud::ModelArts,
    errors_on: "*",
    lost: &[
        ("POST /v1/{project_id}/dev-servers", LostMode::Error500),
        ("DELETE /v1/{project_id}/dev-servers/{id}", LostMode::Drop),
        ("PUT /v1/{project_id}/dev-servers/{id}/stop", LostMode::Drop),
        ("PUT /v1/{project_id}/dev-servers/{id}/start", LostMode::Drop),
    ],
    table: modelarts::kinds::DEV_SERVER,
    leaving: &["DELETING", "DELETED"],
    slow_builds: false,
};

/// A single-instance cloud family.
pub struct Standalone(pub &'static Profile);

/// Bound that keeps a long run's cloud (and the 2-core machine) small.
const MAX_INSTANCES: usize = 30;
/// Instances whose index ends in 7 stay building this long under `--faults` (where the family can).
pub const SLOW_BUILD_MS: u64 = 12_000;

fn instance_name(index: usize) -> String {
    format!("bench-{index:05}")
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

impl Standalone {
    fn new_instance(&self, model: &mut Model, namespace: &str) -> Mutation {
        let index = model.next_index();
        let mut body = workload::instance(self.0.cloud, namespace, index);
        body["metadata"]["labels"][ROLE_LABEL] = json!("chaos");
        Mutation::Create(body)
    }

    /// The mutation `op` asks for, if the model allows it now.
    fn try_op(&self, op: Op, model: &mut Model, namespace: &str, rng: &mut Rng) -> Option<Mutation> {
        Some(match op {
            Op::CreateInstance if model.of_kind("EdgeInstance").count() < MAX_INSTANCES => {
                self.new_instance(model, namespace)
            }
            Op::DeleteInstance => Mutation::Delete(model.pick("EdgeInstance", rng)?.0),
            Op::Power => toggle_power(model, rng)?,
            _ => return None,
        })
    }
}

impl CloudWorkload for Standalone {
    fn name(&self) -> &'static str {
        self.0.name
    }

    fn shared(&self, _namespace: &str) -> Vec<Value> {
        Vec::new()
    }

    fn kinds(&self) -> Vec<ApiResource> {
        vec![resource::<EdgeInstance>()]
    }

    fn initial(&self, model: &mut Model, namespace: &str) -> Vec<Mutation> {
        (0..6).map(|_| self.new_instance(model, namespace)).collect()
    }

    fn mutate(&self, model: &mut Model, namespace: &str, rng: &mut Rng) -> Mutation {
        draw(&OPS, &[Op::CreateInstance, Op::DeleteInstance], rng, |op, rng| {
            self.try_op(op, model, namespace, rng)
        })
    }

    fn faults(&self, base: &Faults, seed: u64) -> Faults {
        let mut faults = campaign_faults(base, seed, self.0.errors_on, self.0.lost);
        if self.0.slow_builds {
            faults.slow_builds = (0..2000)
                .filter(|i| i % 10 == 7)
                .map(|i| SlowBuildFault {
                    name: instance_name(i),
                    delay_ms: SLOW_BUILD_MS,
                })
                .collect();
        }
        faults
    }

    fn cloud(&self) -> Cloud {
        self.0.cloud
    }

    fn inventory(&self, state: &Value, _owners: &Owners) -> Vec<CloudObject> {
        rows(state, self.0.table)
            .filter(|v| !self.0.leaving.iter().any(|s| v["status"] == *s))
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
    fn standalone_mutations_stay_within_the_bound_and_only_touch_live_instances() {
        for profile in [&LUCHEN, &MODELARTS] {
            let family = Standalone(profile);
            let mut model = Model::default();
            for m in family.initial(&mut model, "ns") {
                model.apply(&m).unwrap();
            }
            let mut rng = Rng::new(7);
            let mut labels = std::collections::BTreeSet::new();
            for _ in 0..2000 {
                let m = family.mutate(&mut model, "ns", &mut rng);
                labels.insert(m.label());
                model.apply(&m).unwrap();
                assert!(model.of_kind("EdgeInstance").count() <= MAX_INSTANCES);
            }
            for expected in ["create EdgeInstance", "delete EdgeInstance", "power EdgeInstance"] {
                assert!(
                    labels.contains(expected),
                    "{}: {expected} never chosen: {labels:?}",
                    profile.name
                );
            }
            let body = workload::instance(profile.cloud, "ns", 3);
            assert_eq!(
                body["spec"]["providerConfigRef"]["name"],
                profile.cloud.provider_config()
            );
            assert_eq!(body["metadata"]["name"], instance_name(3));
        }
    }

    #[test]
    fn the_fault_patterns_name_operations_the_emulator_families_serve() {
        let faults = Standalone(&MODELARTS).faults(&Faults::default(), 1);
        assert!(faults.validate().is_ok());
        assert!(
            faults.slow_builds.is_empty(),
            "the ModelArts family has no slow_builds fault"
        );
        assert_eq!(faults.lost_responses.len(), MODELARTS.lost.len());
        let luchen = Standalone(&LUCHEN).faults(&Faults::default(), 1);
        assert!(luchen.slow_builds.iter().all(|s| s.name.ends_with('7')));
    }

    #[test]
    fn the_inventory_names_intents_by_name_and_skips_leaving_rows() {
        for (profile, leaving) in [(&LUCHEN, "Released"), (&MODELARTS, "DELETING")] {
            let state = json!({"accounts": {"u": {"tables": {
                profile.table: [
                    {"seq": 1, "value": {"id": "i-1", "name": "bench-00001", "status": "Running"}},
                    {"seq": 2, "value": {"id": "i-2", "name": "bench-00001", "status": "Initializing"}},
                    {"seq": 3, "value": {"id": "i-3", "name": "bench-00002", "status": leaving}},
                ],
            }}}});
            let family = Standalone(profile);
            let inv = family.inventory(&state, &Owners::new());
            assert_eq!(inv.len(), 2, "{}", profile.name);
            assert!(inv.iter().all(|c| c.intent == key("EdgeInstance", "bench-00001")));
            let instance: kube::api::DynamicObject = serde_json::from_value(json!({
                "apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeInstance",
                "metadata": {"name": "bench-00001", "uid": "u-1"},
                "spec": {}, "status": {"instanceId": "i-1"},
            }))
            .unwrap();
            let mut model = Model::default();
            model.learn(std::slice::from_ref(&instance));
            let findings = crate::chaos::audit::audit(&family, &model, &[instance], &inv);
            assert_eq!(findings.duplicates.len(), 1, "{findings:?}");
            assert_eq!(
                findings.leaks.len(),
                1,
                "the second create is not the object's: {findings:?}"
            );
        }
    }
}
