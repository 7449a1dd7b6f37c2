//! The veEN campaign workload: standalone EdgeInstances joining the benchmark's pool EdgeCloud's cloud
//! server (created, deleted, powered off and on), EdgeClouds — cloud servers with members over the
//! emulator's cities and carriers — (deployed, scaled up and down, deleted), and Vpcs (in a cluster,
//! with a subnet) and SecurityGroups (in one of those Vpcs; created, rules changed, deleted). The shared
//! objects (credentials, the veEN ProviderConfig on the emulator's veEN listener, the pool EdgeCloud)
//! are the benchmark's ([`crate::workload::create_shared`] with [`crate::workload::Cloud::Veen`]);
//! instances and fleets are the benchmark's objects too ([`crate::workload::instance`],
//! [`crate::workload::fleet`]).
//!
//! Cloud side: the emulator's `veen.cloud_server`, `veen.instance`, `veen.vpc` and
//! `veen.security_group` tables (subnets live inside their VPC's row). A cloud object carries its
//! owner in the `edgefleet-owner` tag, the owning Kubernetes object's uid (members inherit their
//! EdgeCloud's; a standalone instance in the pool's cloud server carries its own), so the inventory
//! names intents through [`Owners`]; an uid no object of the run had is reported as
//! `unknown owner/<uid>` (a leak).

use edgefleet::api::edge_cloud::EdgeCloud;
use edgefleet::api::edge_instance::EdgeInstance;
use edgefleet::api::security_group::SecurityGroup;
use edgefleet::api::vpc::Vpc;
use edgefleet_emulator::core::faults::{Faults, LostMode};
use edgefleet_emulator::veen::kinds;
use kube::core::ApiResource;
use serde_json::{Value, json};

use super::family::{
    CloudObject, CloudWorkload, Key, Model, Mutation, Owners, Rng, campaign_faults, draw, key, owner_intent,
    owner_tag, rows, text, toggle_power,
};
use crate::workload::{self, Cloud, ROLE_LABEL, resource};

/// The veEN family.
pub struct Veen;

/// Cities and carriers of the emulator's built-in veEN catalog that fleets spread over.
const PLACES: [(&str, &str); 3] = [
    ("hangzhou", "chinamobile"),
    ("guangzhou", "chinatelecom"),
    ("shenzhen", "chinamobile"),
];
/// The cluster of the campaign's Vpcs.
const CLUSTER: &str = "cn-hangzhou-cmcc-01";
/// Bounds that keep a long run's cloud (and the 2-core machine) small.
const MAX_INSTANCES: usize = 30;
const MAX_FLEETS: usize = 3;
const MAX_REPLICAS: u64 = 4;
const MAX_VPCS: usize = 3;
const MAX_GROUPS: usize = 3;

fn chaos(mut body: Value) -> Mutation {
    body["metadata"]["labels"][ROLE_LABEL] = json!("chaos");
    Mutation::Create(body)
}

fn new_instance(model: &mut Model, namespace: &str) -> Mutation {
    let index = model.next_index();
    chaos(workload::instance(Cloud::Veen, namespace, index))
}

/// A fleet over one or two of [`PLACES`].
fn new_fleet(model: &mut Model, namespace: &str, replicas: u32, rng: &mut Rng) -> Mutation {
    let index = model.next_index();
    let mut body = workload::fleet(Cloud::Veen, namespace, index, replicas);
    let first = rng.below(PLACES.len() as u64) as usize;
    let count = 1 + rng.below(2) as usize;
    let placement: Vec<Value> = (0..count)
        .map(|i| PLACES[(first + i) % PLACES.len()])
        .map(|(city, operator)| json!({"city": city, "operator": operator, "weight": 1}))
        .collect();
    body["spec"]["placement"] = json!(placement);
    chaos(body)
}

fn new_vpc(model: &mut Model, namespace: &str) -> Mutation {
    let index = model.next_index();
    chaos(json!({
        "apiVersion": "edgefleet.io/v1alpha1", "kind": "Vpc",
        "metadata": {"name": format!("chaos-vpc-{index:05}"), "namespace": namespace},
        "spec": {
            "providerConfigRef": {"name": Cloud::Veen.provider_config()},
            "cidr": "192.168.0.0/16",
            "veen": {"clusterName": CLUSTER},
            "subnets": [{"name": "s1", "cidr": "192.168.1.0/24"}],
        },
    }))
}

fn rules(port: u64) -> Value {
    json!([{"direction": "ingress", "protocol": "tcp", "portRangeMin": port, "portRangeMax": port, "remoteIpPrefix": "10.0.0.0/8"}])
}

/// A SecurityGroup in `vpc`.
fn new_group(model: &mut Model, namespace: &str, vpc: &Key) -> Mutation {
    let index = model.next_index();
    chaos(json!({
        "apiVersion": "edgefleet.io/v1alpha1", "kind": "SecurityGroup",
        "metadata": {"name": format!("chaos-sg-{index:05}"), "namespace": namespace},
        "spec": {
            "providerConfigRef": {"name": Cloud::Veen.provider_config()},
            "vpcRef": {"name": vpc.name},
            "description": "edgefleet chaos",
            "rules": rules(22),
        },
    }))
}

/// Whether a SecurityGroup of the model is in `vpc`.
fn has_groups(model: &Model, vpc: &Key) -> bool {
    model
        .of_kind("SecurityGroup")
        .any(|(_, v)| v["spec"]["vpcRef"]["name"].as_str() == Some(vpc.name.as_str()))
}

/// The kinds of mutation, with their weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    CreateInstance,
    DeleteInstance,
    Power,
    CreateFleet,
    Scale,
    DeleteFleet,
    CreateVpc,
    DeleteVpc,
    CreateGroup,
    EditRules,
    DeleteGroup,
}

const OPS: [(Op, u64); 11] = [
    (Op::CreateInstance, 20),
    (Op::DeleteInstance, 12),
    (Op::Power, 8),
    (Op::CreateFleet, 4),
    (Op::Scale, 14),
    (Op::DeleteFleet, 3),
    (Op::CreateVpc, 4),
    (Op::DeleteVpc, 3),
    (Op::CreateGroup, 4),
    (Op::EditRules, 5),
    (Op::DeleteGroup, 3),
];

impl Veen {
    /// The mutation `op` asks for, if the model allows it now.
    fn try_op(op: Op, model: &mut Model, namespace: &str, rng: &mut Rng) -> Option<Mutation> {
        let count = |m: &Model, kind: &str| m.of_kind(kind).count();
        Some(match op {
            Op::CreateInstance if count(model, "EdgeInstance") < MAX_INSTANCES => {
                new_instance(model, namespace)
            }
            Op::DeleteInstance => Mutation::Delete(model.pick("EdgeInstance", rng)?.0),
            Op::Power => toggle_power(model, rng)?,
            Op::CreateFleet if count(model, "EdgeCloud") < MAX_FLEETS => {
                let replicas = 1 + rng.below(MAX_REPLICAS - 1) as u32;
                new_fleet(model, namespace, replicas, rng)
            }
            Op::Scale => {
                let (key, v) = model.pick("EdgeCloud", rng)?;
                let current = v["spec"]["replicas"].as_u64().unwrap_or(0);
                // At least one member: a cloud server keeps one instance on veEN.
                let mut next = 1 + rng.below(MAX_REPLICAS);
                if next == current {
                    next = 1 + current % MAX_REPLICAS;
                }
                let what = if next > current { "scale up" } else { "scale down" };
                Mutation::Patch {
                    key,
                    patch: json!({"spec": {"replicas": next}}),
                    what,
                }
            }
            Op::DeleteFleet => Mutation::Delete(model.pick("EdgeCloud", rng)?.0),
            Op::CreateVpc if count(model, "Vpc") < MAX_VPCS => new_vpc(model, namespace),
            Op::DeleteVpc => {
                let (key, _) = model.pick("Vpc", rng)?;
                // A VPC with security groups cannot go first; its groups are deleted on their own.
                (!has_groups(model, &key)).then_some(Mutation::Delete(key))?
            }
            Op::CreateGroup if count(model, "SecurityGroup") < MAX_GROUPS => {
                let (vpc, _) = model.pick("Vpc", rng)?;
                new_group(model, namespace, &vpc)
            }
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

/// The owner-tag value of a row (empty when untagged).
fn owner(row: &Value) -> String {
    owner_tag(row, "Key", "Value")
}

impl CloudWorkload for Veen {
    fn name(&self) -> &'static str {
        "veen"
    }

    fn shared(&self, _namespace: &str) -> Vec<Value> {
        Vec::new()
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
        let mut out: Vec<Mutation> = (0..6).map(|_| new_instance(model, namespace)).collect();
        let mut rng = Rng::new(0);
        out.push(new_fleet(model, namespace, 2, &mut rng));
        let vpc = new_vpc(model, namespace);
        if let Mutation::Create(body) = &vpc {
            let name = body["metadata"]["name"].as_str().unwrap_or_default();
            out.push(new_group(model, namespace, &key("Vpc", name)));
        }
        out.insert(out.len() - 1, vpc);
        out
    }

    fn mutate(&self, model: &mut Model, namespace: &str, rng: &mut Rng) -> Mutation {
        draw(&OPS, &[Op::CreateInstance, Op::DeleteInstance], rng, |op, rng| {
            Self::try_op(op, model, namespace, rng)
        })
    }

    fn faults(&self, base: &Faults, seed: u64) -> Faults {
        let lost = [
            ("veen:CreateCloudServer", LostMode::Error500),
            ("veen:CreateInstance", LostMode::Error500),
            ("veen:CreateCustomVPCInstance", LostMode::Error500),
            ("veen:CreateSecurityGroup", LostMode::Error500),
            ("veen:OfflineInstances", LostMode::Drop),
            ("veen:DeleteCloudServer", LostMode::Drop),
            ("veen:Start*", LostMode::Drop),
            ("veen:Stop*", LostMode::Drop),
        ];
        campaign_faults(base, seed, "veen:*", &lost)
    }

    fn cloud(&self) -> Cloud {
        Cloud::Veen
    }

    fn inventory(&self, state: &Value, owners: &Owners) -> Vec<CloudObject> {
        let mut out = Vec::new();
        let mut plain = |table: &str, kind: &str| {
            for v in rows(state, table) {
                out.push(CloudObject {
                    kind: kind.into(),
                    id: text(&v["id"]),
                    name: text(&v["name"]),
                    intent: owner_intent(owners, &owner(v)),
                    fleet: None,
                });
            }
        };
        plain(kinds::VPC, "vpc");
        plain(kinds::SECURITY_GROUP, "security_group");
        plain(kinds::CLOUD_SERVER, "edgecloud");
        for v in rows(state, kinds::INSTANCE) {
            let intent = owner_intent(owners, &owner(v));
            let member = intent.kind == "EdgeCloud";
            out.push(CloudObject {
                kind: "instance".into(),
                id: text(&v["id"]),
                name: text(&v["name"]),
                fleet: member.then(|| text(&v["cloud_server_id"])),
                intent,
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
    fn veen_mutations_stay_within_the_bounds_and_only_touch_live_objects() {
        let mut model = Model::default();
        for m in Veen.initial(&mut model, "ns") {
            model.apply(&m).unwrap();
        }
        let mut rng = Rng::new(42);
        let mut labels = std::collections::BTreeSet::new();
        for _ in 0..3000 {
            let m = Veen.mutate(&mut model, "ns", &mut rng);
            labels.insert(m.label());
            if let Mutation::Delete(k) = &m
                && k.kind == "Vpc"
            {
                assert!(!has_groups(&model, k), "{k} deleted before its groups");
            }
            model.apply(&m).unwrap();
            assert!(model.of_kind("EdgeInstance").count() <= MAX_INSTANCES);
            assert!(model.of_kind("EdgeCloud").count() <= MAX_FLEETS);
            assert!(
                model
                    .of_kind("EdgeCloud")
                    .all(|(_, v)| v["spec"]["replicas"].as_u64() >= Some(1))
            );
        }
        for expected in [
            "create EdgeInstance",
            "power EdgeInstance",
            "scale up EdgeCloud",
            "scale down EdgeCloud",
            "delete EdgeCloud",
            "create SecurityGroup",
            "edit rules SecurityGroup",
            "delete Vpc",
        ] {
            assert!(labels.contains(expected), "{expected} never chosen: {labels:?}");
        }
    }

    #[test]
    fn the_veen_inventory_names_owners_by_tag_and_tells_members_from_joined_instances() {
        let tag = |uid: &str| json!([{"Key": OWNER_TAG, "Value": uid}]);
        let state = json!({"accounts": {"d": {"tables": {
            kinds::CLOUD_SERVER: [{"seq": 1, "value": {"id": "cs1", "name": "bf001", "tags": tag("u-fleet")}}],
            kinds::INSTANCE: [
                {"seq": 2, "value": {"id": "i1", "name": "bf001-1", "cloud_server_id": "cs1", "tags": tag("u-fleet")}},
                {"seq": 3, "value": {"id": "i2", "name": "bench-00001", "cloud_server_id": "cs1", "tags": tag("u-inst")}},
            ],
            kinds::VPC: [{"seq": 4, "value": {"id": "v1", "name": "x", "tags": tag("u-stranger")}}],
        }}}});
        let owners: Owners = [
            ("u-fleet".to_owned(), key("EdgeCloud", "bench-fleet-001")),
            ("u-inst".to_owned(), key("EdgeInstance", "bench-00001")),
        ]
        .into();
        let inv = Veen.inventory(&state, &owners);
        assert_eq!(inv.len(), 4);
        let by_id = |id: &str| inv.iter().find(|c| c.id == id).unwrap();
        assert_eq!(by_id("cs1").intent, key("EdgeCloud", "bench-fleet-001"));
        assert_eq!(by_id("i1").fleet.as_deref(), Some("cs1"));
        assert_eq!(by_id("i2").fleet, None);
        assert_eq!(by_id("i2").intent, key("EdgeInstance", "bench-00001"));
        assert_eq!(by_id("v1").intent, key("unknown owner", "u-stranger"));
    }

    #[test]
    fn the_audit_reports_a_veen_cloud_server_of_an_unknown_owner_as_a_leak() {
        let fleet: kube::api::DynamicObject = serde_json::from_value(json!({
            "apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeCloud",
            "metadata": {"name": "bench-fleet-001", "uid": "u-fleet"},
            "spec": {"replicas": 1}, "status": {"edgeCloudId": "cs1"},
        }))
        .unwrap();
        let tag = |uid: &str| json!([{"Key": OWNER_TAG, "Value": uid}]);
        let state = json!({"accounts": {"d": {"tables": {
            kinds::CLOUD_SERVER: [
                {"seq": 1, "value": {"id": "cs1", "name": "bf001", "tags": tag("u-fleet")}},
                {"seq": 2, "value": {"id": "cs2", "name": "stray", "tags": tag("u-stranger")}},
            ],
        }}}});
        let mut model = Model::default();
        model.learn(std::slice::from_ref(&fleet));
        let inventory = Veen.inventory(&state, &model.owners);
        let findings = crate::chaos::audit::audit(&Veen, &model, &[fleet], &inventory);
        assert_eq!(findings.leaks.len(), 1, "{findings:?}");
        assert!(findings.leaks[0].contains("cs2"), "{findings:?}");
        assert!(findings.duplicates.is_empty(), "{findings:?}");
    }
}
