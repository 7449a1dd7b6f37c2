//! The Workspace campaign workload: EdgeClouds — application server groups whose servers are created and
//! deleted by cloud jobs — deployed, scaled up and down (0–4 replicas) and deleted, on the benchmark's
//! Workspace ProviderConfig (AK/SK on the emulator's workspace listener; [`crate::workload::create_shared`]
//! with [`crate::workload::Cloud::Workspace`]). A Workspace EdgeInstance exists only as a fleet member,
//! so EdgeClouds are the only kind the driver creates; the member EdgeInstances are the operator's
//! mirrors (listed so that a server with a mirror counts as owned).
//!
//! Cloud side: the emulator's `workspace.server_group` and `workspace.app_server` tables. A group carries
//! its owner in the `edgefleet-owner` tag (the EdgeCloud's uid), named through [`Owners`]; an uid no
//! object of the run had is `unknown owner/<uid>` (a leak). A server is its group's member: its intent is
//! the group's, and a server whose group is gone is a leak.
//!
//! Faults (`--faults`): the campaign's 3 % 503s on every call, 10 % lost answers of the group create and
//! of the create-servers call (a 500 after the cloud acted: the job runs, its id is lost), dropped
//! connections on batch delete and group delete, throttling at 25 requests/s, 5xx bursts.

use std::collections::BTreeMap;

use edgefleet::api::edge_cloud::EdgeCloud;
use edgefleet::api::edge_instance::EdgeInstance;
use edgefleet_emulator::core::faults::{Faults, LostMode};
use edgefleet_emulator::workspace::kinds;
use kube::core::ApiResource;
use serde_json::{Value, json};

use super::family::{
    CloudObject, CloudWorkload, Model, Mutation, Owners, Rng, campaign_faults, draw, key, owner_intent,
    owner_tag, rows, text,
};
use crate::workload::{self, Cloud, ROLE_LABEL, resource};

/// The Workspace family.
pub struct Workspace;

/// Bounds that keep a long run's cloud (and the 2-core machine) small.
const MAX_FLEETS: usize = 3;
const MAX_REPLICAS: u64 = 4;

fn new_fleet(model: &mut Model, namespace: &str, replicas: u32) -> Mutation {
    let index = model.next_index();
    let mut body = workload::fleet(Cloud::Workspace, namespace, index, replicas);
    body["metadata"]["labels"][ROLE_LABEL] = json!("chaos");
    Mutation::Create(body)
}

/// The kinds of mutation, with their weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    CreateFleet,
    Scale,
    DeleteFleet,
}

const OPS: [(Op, u64); 3] = [(Op::CreateFleet, 6), (Op::Scale, 14), (Op::DeleteFleet, 3)];

impl Workspace {
    /// The mutation `op` asks for, if the model allows it now.
    fn try_op(op: Op, model: &mut Model, namespace: &str, rng: &mut Rng) -> Option<Mutation> {
        Some(match op {
            Op::CreateFleet if model.of_kind("EdgeCloud").count() < MAX_FLEETS => {
                let replicas = rng.below(MAX_REPLICAS + 1) as u32;
                new_fleet(model, namespace, replicas)
            }
            Op::Scale => {
                let (key, v) = model.pick("EdgeCloud", rng)?;
                let current = v["spec"]["replicas"].as_u64().unwrap_or(0);
                let mut next = rng.below(MAX_REPLICAS + 1);
                if next == current {
                    next = (current + 1) % (MAX_REPLICAS + 1);
                }
                let what = if next > current { "scale up" } else { "scale down" };
                Mutation::Patch {
                    key,
                    patch: json!({"spec": {"replicas": next}}),
                    what,
                }
            }
            Op::DeleteFleet => Mutation::Delete(model.pick("EdgeCloud", rng)?.0),
            _ => return None,
        })
    }
}

/// The owner-tag value of a row (empty when untagged).
fn owner(row: &Value) -> String {
    owner_tag(row, "key", "value")
}

impl CloudWorkload for Workspace {
    fn name(&self) -> &'static str {
        "workspace"
    }

    fn shared(&self, _namespace: &str) -> Vec<Value> {
        Vec::new()
    }

    /// EdgeClouds, and EdgeInstances for their members (the mirrors the operator makes).
    fn kinds(&self) -> Vec<ApiResource> {
        vec![resource::<EdgeCloud>(), resource::<EdgeInstance>()]
    }

    fn initial(&self, model: &mut Model, namespace: &str) -> Vec<Mutation> {
        vec![new_fleet(model, namespace, 2), new_fleet(model, namespace, 3)]
    }

    fn mutate(&self, model: &mut Model, namespace: &str, rng: &mut Rng) -> Mutation {
        draw(&OPS, &[Op::CreateFleet, Op::DeleteFleet], rng, |op, rng| {
            Self::try_op(op, model, namespace, rng)
        })
    }

    fn faults(&self, base: &Faults, seed: u64) -> Faults {
        let lost = [
            ("POST /v1/{project_id}/app-server-groups", LostMode::Error500),
            (
                "POST /v1/{project_id}/app-servers/actions/create",
                LostMode::Error500,
            ),
            (
                "POST /v1/{project_id}/app-servers/actions/batch-delete",
                LostMode::Drop,
            ),
            (
                "DELETE /v1/{project_id}/app-server-groups/{server_group_id}",
                LostMode::Drop,
            ),
        ];
        campaign_faults(base, seed, "*", &lost)
    }

    fn cloud(&self) -> Cloud {
        Cloud::Workspace
    }

    fn inventory(&self, state: &Value, owners: &Owners) -> Vec<CloudObject> {
        let mut groups = BTreeMap::new();
        let mut out = Vec::new();
        for v in rows(state, kinds::SERVER_GROUP) {
            let intent = owner_intent(owners, &owner(v));
            groups.insert(text(&v["id"]), intent.clone());
            out.push(CloudObject {
                kind: "edgecloud".into(),
                id: text(&v["id"]),
                name: text(&v["name"]),
                intent,
                fleet: None,
            });
        }
        for v in rows(state, kinds::APP_SERVER) {
            let group = text(&v["server_group_id"]);
            let intent = groups
                .get(&group)
                .cloned()
                .unwrap_or_else(|| key("unknown group", &group));
            out.push(CloudObject {
                kind: "instance".into(),
                id: text(&v["id"]),
                name: text(&v["name"]),
                intent,
                fleet: Some(group),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use edgefleet::provider::OWNER_TAG;

    use super::*;

    #[test]
    fn workspace_mutations_stay_within_the_bounds_and_only_touch_live_fleets() {
        let mut model = Model::default();
        for m in Workspace.initial(&mut model, "ns") {
            model.apply(&m).unwrap();
        }
        let mut rng = Rng::new(42);
        let mut labels = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let m = Workspace.mutate(&mut model, "ns", &mut rng);
            labels.insert(m.label());
            model.apply(&m).unwrap();
            assert!(model.of_kind("EdgeCloud").count() <= MAX_FLEETS);
            assert!(
                model
                    .of_kind("EdgeCloud")
                    .all(|(_, v)| v["spec"]["replicas"].as_u64().unwrap_or(0) <= MAX_REPLICAS)
            );
        }
        for expected in [
            "create EdgeCloud",
            "scale up EdgeCloud",
            "scale down EdgeCloud",
            "delete EdgeCloud",
        ] {
            assert!(labels.contains(expected), "{expected} never chosen: {labels:?}");
        }
        let body = workload::fleet(Cloud::Workspace, "ns", 3, 2);
        assert_eq!(body["spec"]["providerConfigRef"]["name"], "bench-workspace");
        assert_eq!(body["spec"]["replicas"], 2);
    }

    #[test]
    fn the_workspace_inventory_names_groups_by_owner_and_servers_by_their_group() {
        let state = json!({"accounts": {"d": {"tables": {
            kinds::SERVER_GROUP: [
                {"seq": 1, "value": {"id": "g-1", "name": "bench-fleet-001", "tags": [{"key": OWNER_TAG, "value": "u-1"}]}},
                {"seq": 2, "value": {"id": "g-2", "name": "stray", "tags": [{"key": OWNER_TAG, "value": "u-9"}]}},
            ],
            kinds::APP_SERVER: [
                {"seq": 3, "value": {"id": "s-1", "name": "a", "server_group_id": "g-1"}},
                {"seq": 4, "value": {"id": "s-2", "name": "b", "server_group_id": "g-1"}},
                {"seq": 5, "value": {"id": "s-3", "name": "c", "server_group_id": "g-gone"}},
            ],
        }}}});
        let mut owners = Owners::new();
        owners.insert("u-1".into(), key("EdgeCloud", "bench-fleet-001"));
        let inv = Workspace.inventory(&state, &owners);
        assert_eq!(inv.len(), 5);
        let of = |id: &str| inv.iter().find(|c| c.id == id).map(|c| c.intent.clone());
        assert_eq!(of("g-1"), Some(key("EdgeCloud", "bench-fleet-001")));
        assert_eq!(of("g-2"), Some(key("unknown owner", "u-9")));
        assert_eq!(of("s-1"), Some(key("EdgeCloud", "bench-fleet-001")));
        assert_eq!(of("s-3"), Some(key("unknown group", "g-gone")));
        assert!(
            inv.iter()
                .filter(|c| c.kind == "instance")
                .all(|c| c.fleet.is_some())
        );
    }
}
