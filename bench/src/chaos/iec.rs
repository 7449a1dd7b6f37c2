//! The IEC campaign workload: standalone EdgeInstances (created, deleted, powered off and on, their
//! description changed, reinstalled with another image), EdgeClouds (deployed, scaled up and down, rolled
//! by a template flavor change — members replaced — or image change — members' OS changed in place —,
//! deleted), and Vpcs and SecurityGroups of their own (created, rules changed,
//! deleted). The shared objects (credentials, ProviderConfig, the instances' VPC and security group,
//! the fleets' SYSTEM VPC) are the benchmark's ([`crate::workload::create_shared`]); instances and
//! fleets are the benchmark's objects too ([`crate::workload::instance`], [`crate::workload::fleet`]), with
//! user data so that their image can change.
//!
//! Cloud side: the emulator's `iec.vpc`, `iec.subnet`, `iec.security_group`, `iec.instance` and
//! `iec.edgecloud` tables. A cloud object carries its intent by name: edgefleet names a VPC, security
//! group, instance or edge cloud after the object (no `spec.name` is set here), subnets belong to
//! their VPC, members to their edge cloud.

use edgefleet::api::edge_cloud::EdgeCloud;
use edgefleet::api::edge_instance::EdgeInstance;
use edgefleet::api::security_group::SecurityGroup;
use edgefleet::api::vpc::Vpc;
use edgefleet_emulator::core::faults::{Faults, LostMode, SlowBuildFault};
use kube::core::ApiResource;
use serde_json::{Value, json};

use super::family::{
    CloudObject, CloudWorkload, Model, Mutation, Owners, Rng, campaign_faults, draw, key, other, rows, text,
    toggle_power,
};
use crate::workload::{self, PROVIDER_CONFIG, ROLE_LABEL, resource};

/// The IEC family.
pub struct Iec;

/// The Secret with the instances' user data: an image change (reinstall) needs user data or a key
/// pair, since IEC's change-OS cannot set a password.
pub const USER_DATA_SECRET: &str = "chaos-user-data";
/// Flavors a fleet's template switches between (members are replaced).
const FLAVORS: [&str; 2] = ["c6.large.2", "c6.xlarge.2"];
/// Images of the built-in catalog an instance or fleet switches between (a reinstall; in a fleet,
/// members change their OS in place, a few at a time).
const IMAGES: [&str; 2] = [
    "00000000-0000-0000-0000-000000000002",
    "00000000-0000-0000-0000-000000000008",
];
/// The built-in catalog's Zhongshan site (as in the bench workload).
const SITE_ID: &str = "a0272146-f6d8-4e3f-a1dc-196ec4a2f856";
/// Bounds that keep a long run's cloud (and the 2-core machine) small.
const MAX_INSTANCES: usize = 40;
const MAX_FLEETS: usize = 4;
const MAX_REPLICAS: u64 = 4;
const MAX_VPCS: usize = 4;
const MAX_GROUPS: usize = 4;
/// Instances whose index ends in 7 build this long under `--faults` (`slow_builds`).
const SLOW_BUILD_MS: u64 = 12_000;

fn instance_name(index: usize) -> String {
    workload::iec_instance("x", index)["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn new_instance(model: &mut Model, namespace: &str) -> Mutation {
    let index = model.next_index();
    let mut body = workload::iec_instance(namespace, index);
    body["metadata"]["labels"][ROLE_LABEL] = json!("chaos");
    body["spec"]["userDataSecretRef"] = json!({"name": USER_DATA_SECRET, "key": "userData"});
    Mutation::Create(body)
}

fn new_fleet(model: &mut Model, namespace: &str, replicas: u32) -> Mutation {
    let index = model.next_index();
    let mut body = workload::fleet(workload::Cloud::Iec, namespace, index, replicas);
    body["metadata"]["labels"][ROLE_LABEL] = json!("chaos");
    body["spec"]["template"]["userDataSecretRef"] = json!({"name": USER_DATA_SECRET, "key": "userData"});
    Mutation::Create(body)
}

fn new_vpc(model: &mut Model, namespace: &str, customer: bool) -> Mutation {
    let index = model.next_index();
    let name = format!("chaos-vpc-{index:05}");
    let mut spec = json!({
        "providerConfigRef": {"name": PROVIDER_CONFIG},
        "cidr": "192.168.0.0/16",
        "iec": {"mode": if customer { "CUSTOMER" } else { "SYSTEM" }},
    });
    if customer {
        spec["subnets"] =
            json!([{"name": "s1", "cidr": "192.168.1.0/24", "gatewayIp": "192.168.1.1", "siteId": SITE_ID}]);
    }
    Mutation::Create(json!({
        "apiVersion": "edgefleet.io/v1alpha1", "kind": "Vpc",
        "metadata": {"name": name, "namespace": namespace, "labels": {ROLE_LABEL: "chaos"}},
        "spec": spec,
    }))
}

fn rules(port: u64) -> Value {
    json!([{"direction": "ingress", "protocol": "tcp", "portRangeMin": port, "portRangeMax": port, "remoteIpPrefix": "10.0.0.0/8"}])
}

fn new_group(model: &mut Model, namespace: &str) -> Mutation {
    let index = model.next_index();
    Mutation::Create(json!({
        "apiVersion": "edgefleet.io/v1alpha1", "kind": "SecurityGroup",
        "metadata": {"name": format!("chaos-sg-{index:05}"), "namespace": namespace, "labels": {ROLE_LABEL: "chaos"}},
        "spec": {"providerConfigRef": {"name": PROVIDER_CONFIG}, "description": "edgefleet chaos", "rules": rules(22)},
    }))
}

/// The kinds of mutation, with their weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    CreateInstance,
    DeleteInstance,
    Power,
    Reinstall,
    Describe,
    CreateFleet,
    Scale,
    Roll,
    DeleteFleet,
    CreateVpc,
    DeleteVpc,
    CreateGroup,
    EditRules,
    DeleteGroup,
}

const OPS: [(Op, u64); 14] = [
    (Op::CreateInstance, 20),
    (Op::DeleteInstance, 12),
    (Op::Power, 8),
    (Op::Reinstall, 5),
    (Op::Describe, 6),
    (Op::CreateFleet, 4),
    (Op::Scale, 14),
    (Op::Roll, 5),
    (Op::DeleteFleet, 3),
    (Op::CreateVpc, 4),
    (Op::DeleteVpc, 3),
    (Op::CreateGroup, 4),
    (Op::EditRules, 5),
    (Op::DeleteGroup, 3),
];

impl Iec {
    /// The mutation `op` asks for, if the model allows it now.
    fn try_op(op: Op, model: &mut Model, namespace: &str, rng: &mut Rng) -> Option<Mutation> {
        let count = |m: &Model, kind: &str| m.of_kind(kind).count();
        Some(match op {
            Op::CreateInstance if count(model, "EdgeInstance") < MAX_INSTANCES => {
                new_instance(model, namespace)
            }
            Op::DeleteInstance => Mutation::Delete(model.pick("EdgeInstance", rng)?.0),
            Op::Power => toggle_power(model, rng)?,
            Op::Reinstall => {
                let (key, v) = model.pick("EdgeInstance", rng)?;
                let image = other(&v["spec"]["image"], IMAGES);
                Mutation::Patch {
                    key,
                    patch: json!({"spec": {"image": image}}),
                    what: "reinstall",
                }
            }
            Op::Describe => {
                let (key, _) = model.pick("EdgeInstance", rng)?;
                let text = format!("chaos {}", rng.below(1_000_000));
                Mutation::Patch {
                    key,
                    patch: json!({"spec": {"description": text}}),
                    what: "describe",
                }
            }
            Op::CreateFleet if count(model, "EdgeCloud") < MAX_FLEETS => {
                let replicas = 1 + rng.below(MAX_REPLICAS - 1) as u32;
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
            Op::Roll => {
                let (key, v) = model.pick("EdgeCloud", rng)?;
                let template = &v["spec"]["template"];
                if rng.chance(0.5) {
                    let flavor = other(&template["flavor"], FLAVORS);
                    Mutation::Patch {
                        key,
                        patch: json!({"spec": {"template": {"flavor": flavor}}}),
                        what: "roll (replace)",
                    }
                } else {
                    let image = other(&template["image"], IMAGES);
                    Mutation::Patch {
                        key,
                        patch: json!({"spec": {"template": {"image": image}}}),
                        what: "roll (in place)",
                    }
                }
            }
            Op::DeleteFleet => Mutation::Delete(model.pick("EdgeCloud", rng)?.0),
            Op::CreateVpc if count(model, "Vpc") < MAX_VPCS => {
                let customer = rng.chance(0.5);
                new_vpc(model, namespace, customer)
            }
            Op::DeleteVpc => Mutation::Delete(model.pick("Vpc", rng)?.0),
            Op::CreateGroup if count(model, "SecurityGroup") < MAX_GROUPS => new_group(model, namespace),
            Op::EditRules => {
                let (key, _) = model.pick("SecurityGroup", rng)?;
                let port = 1000 + rng.below(60_000);
                Mutation::Patch {
                    key,
                    patch: json!({"spec": {"rules": rules(port)}}),
                    what: "edit rules",
                }
            }
            Op::DeleteGroup => Mutation::Delete(model.pick("SecurityGroup", rng)?.0),
            _ => return None,
        })
    }
}

impl CloudWorkload for Iec {
    fn name(&self) -> &'static str {
        "iec"
    }

    fn shared(&self, namespace: &str) -> Vec<Value> {
        vec![json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": USER_DATA_SECRET, "namespace": namespace},
            "stringData": {"userData": "#cloud-config\n"},
        })]
    }

    fn kinds(&self) -> Vec<ApiResource> {
        vec![
            resource::<EdgeCloud>(),
            resource::<EdgeInstance>(),
            resource::<SecurityGroup>(),
            resource::<Vpc>(),
        ]
    }

    fn initial(&self, model: &mut Model, namespace: &str) -> Vec<Mutation> {
        let mut out = Vec::new();
        for _ in 0..10 {
            out.push(new_instance(model, namespace));
        }
        out.push(new_fleet(model, namespace, 2));
        out.push(new_vpc(model, namespace, true));
        out.push(new_group(model, namespace));
        out
    }

    fn mutate(&self, model: &mut Model, namespace: &str, rng: &mut Rng) -> Mutation {
        draw(&OPS, &[Op::CreateInstance, Op::DeleteInstance], rng, |op, rng| {
            Self::try_op(op, model, namespace, rng)
        })
    }

    fn faults(&self, base: &Faults, seed: u64) -> Faults {
        let lost = [
            ("POST /v1/*", LostMode::Error500),
            ("DELETE /v1/*", LostMode::Drop),
            ("PUT /v1/*", LostMode::Error500),
        ];
        let mut faults = campaign_faults(base, seed, "*", &lost);
        faults.slow_builds = (0..2000)
            .filter(|i| i % 10 == 7)
            .map(|i| SlowBuildFault {
                name: instance_name(i),
                delay_ms: SLOW_BUILD_MS,
            })
            .collect();
        faults
    }

    fn cloud(&self) -> workload::Cloud {
        workload::Cloud::Iec
    }

    fn inventory(&self, state: &Value, _owners: &Owners) -> Vec<CloudObject> {
        let mut out = Vec::new();
        let mut vpc_names = std::collections::BTreeMap::new();
        for v in rows(state, "iec.vpc") {
            vpc_names.insert(text(&v["id"]), text(&v["name"]));
            out.push(CloudObject {
                kind: "vpc".into(),
                id: text(&v["id"]),
                name: text(&v["name"]),
                intent: key("Vpc", v["name"].as_str().unwrap_or_default()),
                fleet: None,
            });
        }
        for v in rows(state, "iec.subnet") {
            let vpc = vpc_names.get(&text(&v["vpc_id"])).cloned().unwrap_or_default();
            out.push(CloudObject {
                kind: "subnet".into(),
                id: text(&v["id"]),
                name: text(&v["name"]),
                intent: key("Vpc", &vpc),
                fleet: None,
            });
        }
        for v in rows(state, "iec.security_group") {
            out.push(CloudObject {
                kind: "security_group".into(),
                id: text(&v["id"]),
                name: text(&v["name"]),
                intent: key("SecurityGroup", v["name"].as_str().unwrap_or_default()),
                fleet: None,
            });
        }
        for v in rows(state, "iec.edgecloud") {
            out.push(CloudObject {
                kind: "edgecloud".into(),
                id: text(&v["id"]),
                name: text(&v["name"]),
                intent: key("EdgeCloud", v["name"].as_str().unwrap_or_default()),
                fleet: None,
            });
        }
        for v in rows(state, "iec.instance") {
            let fleet = text(&v["edgecloud_id"]);
            let (intent, fleet) = if fleet.is_empty() {
                (key("EdgeInstance", v["name"].as_str().unwrap_or_default()), None)
            } else {
                (
                    key("EdgeCloud", v["edgecloud_name"].as_str().unwrap_or_default()),
                    Some(fleet),
                )
            };
            out.push(CloudObject {
                kind: "instance".into(),
                id: text(&v["id"]),
                name: text(&v["name"]),
                intent,
                fleet,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_within_the_bounds_and_only_touch_live_objects() {
        let mut model = Model::default();
        for m in Iec.initial(&mut model, "ns") {
            model.apply(&m).unwrap();
        }
        let mut rng = Rng::new(42);
        let mut labels = std::collections::BTreeSet::new();
        for _ in 0..3000 {
            let m = Iec.mutate(&mut model, "ns", &mut rng);
            labels.insert(m.label());
            model.apply(&m).unwrap();
            assert!(model.of_kind("EdgeInstance").count() <= MAX_INSTANCES);
            assert!(model.of_kind("EdgeCloud").count() <= MAX_FLEETS);
        }
        for expected in [
            "create EdgeInstance",
            "scale up EdgeCloud",
            "scale down EdgeCloud",
            "roll (replace) EdgeCloud",
            "roll (in place) EdgeCloud",
            "delete EdgeCloud",
            "reinstall EdgeInstance",
            "edit rules SecurityGroup",
            "delete Vpc",
        ] {
            assert!(labels.contains(expected), "{expected} never chosen: {labels:?}");
        }
    }

    #[test]
    fn the_inventory_attributes_members_and_subnets_to_their_parents() {
        let state = json!({"accounts": {"d": {"tables": {
            "iec.vpc": [{"seq": 1, "value": {"id": "v1", "name": "chaos-vpc-00001"}}],
            "iec.subnet": [{"seq": 2, "value": {"id": "s1", "name": "s1", "vpc_id": "v1"}}],
            "iec.instance": [
                {"seq": 3, "value": {"id": "i1", "name": "bench-00003", "edgecloud_id": ""}},
                {"seq": 4, "value": {"id": "i2", "name": "IEC-x-bf001-0001", "edgecloud_id": "e1", "edgecloud_name": "bench-fleet-001"}},
            ],
        }}}});
        let inv = Iec.inventory(&state, &Owners::new());
        assert_eq!(inv.len(), 4);
        assert_eq!(inv[1].intent, key("Vpc", "chaos-vpc-00001"));
        assert_eq!(inv[2].intent, key("EdgeInstance", "bench-00003"));
        assert_eq!(inv[3].intent, key("EdgeCloud", "bench-fleet-001"));
        assert_eq!(inv[3].fleet.as_deref(), Some("e1"));
    }
}
