//! Comparing the cloud with Kubernetes: the audit after convergence ([`audit`]), and the crash-relevant
//! step each object was at when the operator was killed ([`steps_at_kill`]).
//!
//! A kill point is read from what a restarted operator has to recover from: the state persisted in
//! Kubernetes and in the cloud at the moment of the kill (the operator is dead, so neither changes
//! under it except by the cloud's own transitions). "Created, id not recorded" covers both a create
//! whose answer was lost with the process and an answer received but not yet written down.

use std::collections::{BTreeMap, BTreeSet};

use edgefleet::api::{CREATE_INTENT_ANNOTATION, EDGE_CLOUD_LABEL, FINALIZER};
use kube::api::DynamicObject;

use super::family::{CloudObject, CloudWorkload, Key, Model};
use crate::workload::is_ready;

/// What the audit found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Findings {
    /// Cloud objects compared.
    pub cloud_objects: usize,
    /// Cloud objects no Kubernetes object owns and no deleted object explains.
    pub leaks: Vec<String>,
    /// Two or more cloud objects for one intent (same kind and name), or a fleet with more members in
    /// the cloud than its replicas.
    pub duplicates: Vec<String>,
    /// Objects deleted from Kubernetes whose cloud object remains, or that are still held by the
    /// finalizer.
    pub lost_deletions: Vec<String>,
    /// Fleet members in the cloud that no member EdgeInstance mirrors.
    pub unmirrored_members: Vec<String>,
    /// Objects that still carry a crash-safety intent (create, expansion, member removals) after
    /// convergence.
    pub stale_intents: Vec<String>,
}

fn finalizer(object: &DynamicObject) -> bool {
    object
        .metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == FINALIZER)
}

/// Compares the cloud inventory with the Kubernetes objects (`objects`: every object of the managed
/// kinds in the namespace, members included) and what the user deleted (`model.deleted`).
pub fn audit(
    workload: &dyn CloudWorkload,
    model: &Model,
    objects: &[DynamicObject],
    inventory: &[CloudObject],
) -> Findings {
    let mut findings = Findings {
        cloud_objects: inventory.len(),
        ..Findings::default()
    };
    let owned: BTreeSet<(String, String)> = objects.iter().flat_map(|o| workload.owned(o)).collect();
    let present: BTreeMap<Key, &DynamicObject> =
        objects.iter().filter_map(|o| Some((Key::of(o)?, o))).collect();
    for key in &model.deleted {
        if let Some(o) = present.get(key) {
            let held = if finalizer(o) {
                " (held by the finalizer)"
            } else {
                ""
            };
            findings
                .lost_deletions
                .push(format!("{key} still in Kubernetes{held}"));
        }
    }
    for o in objects.iter().filter(|o| o.metadata.deletion_timestamp.is_none()) {
        let main_id = workload.owned(o).into_iter().next().map(|(_, id)| id);
        let stale = if intent_pending(o, main_id.as_deref()) {
            Some("create intent pending")
        } else {
            workload.extra_step(o)
        };
        if let (Some(what), Some(key)) = (stale, Key::of(o)) {
            findings.stale_intents.push(format!("{key}: {what}"));
        }
    }
    let owned_fleets: BTreeSet<&str> = inventory
        .iter()
        .filter(|c| c.kind == "edgecloud" && owned.contains(&(c.kind.clone(), c.id.clone())))
        .map(|c| c.id.as_str())
        .collect();
    for c in inventory {
        let describe = || format!("{} {} ({}) for {}", c.kind, c.name, c.id, c.intent);
        if owned.contains(&(c.kind.clone(), c.id.clone())) {
            continue;
        }
        if let Some(fleet) = &c.fleet
            && owned_fleets.contains(fleet.as_str())
        {
            findings.unmirrored_members.push(describe());
            continue;
        }
        if model.deleted.contains(&c.intent) {
            findings
                .lost_deletions
                .push(format!("{} remains in the cloud", describe()));
        } else {
            findings.leaks.push(describe());
        }
    }
    // One cloud object per intent and kind (subnets: per VPC and subnet name). Fleet members are
    // counted against replicas below.
    let mut by_intent: BTreeMap<(&str, &Key, Option<&str>), Vec<&str>> = BTreeMap::new();
    for c in inventory.iter().filter(|c| c.fleet.is_none()) {
        let scope = (c.kind == "subnet").then_some(c.name.as_str());
        by_intent
            .entry((c.kind.as_str(), &c.intent, scope))
            .or_default()
            .push(c.id.as_str());
    }
    for ((kind, intent, scope), ids) in by_intent {
        if ids.len() > 1 {
            let scope = scope.map(|s| format!(" named {s}")).unwrap_or_default();
            findings.duplicates.push(format!(
                "{} cloud {kind}s{scope} for {intent}: {ids:?}",
                ids.len()
            ));
        }
    }
    for o in objects {
        let (Some(replicas), Some(key)) = (workload.fleet_replicas(o), Key::of(o)) else {
            continue;
        };
        for (_, fleet_id) in workload.owned(o) {
            let members = inventory
                .iter()
                .filter(|c| c.fleet.as_deref() == Some(fleet_id.as_str()))
                .count() as u64;
            if members > replicas {
                findings.duplicates.push(format!(
                    "{key}: {members} members in the cloud for {replicas} replicas"
                ));
            }
        }
    }
    findings
}

/// Whether the object carries its own create intent and status names no cloud object yet.
fn intent_pending(object: &DynamicObject, status_id: Option<&str>) -> bool {
    let status = &object.data["status"];
    if !status["pendingCreate"].is_null() {
        return true;
    }
    let Some(raw) = object
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CREATE_INTENT_ANNOTATION))
    else {
        return false;
    };
    let Ok(intent) = serde_json::from_str::<serde_json::Value>(raw) else {
        return false;
    };
    let own = intent["uid"].as_str() == object.metadata.uid.as_deref();
    own && (status_id.is_none() || status_id == intent["replaces"].as_str())
}

/// The crash-relevant step of one object, read from its persisted state and the cloud's.
pub fn step(workload: &dyn CloudWorkload, object: &DynamicObject, inventory: &[CloudObject]) -> &'static str {
    let owned = workload.owned(object);
    let main_id = owned.first().map(|(_, id)| id.as_str());
    let in_cloud = |kind: &str, id: &str| inventory.iter().any(|c| c.kind == kind && c.id == id);
    let key = Key::of(object);
    let named_in_cloud = || {
        key.as_ref()
            .is_some_and(|k| inventory.iter().any(|c| &c.intent == k && c.fleet.is_none()))
    };
    if object.metadata.deletion_timestamp.is_some() {
        if !finalizer(object) {
            return "deleted, not yet gone";
        }
        return if owned.iter().any(|(k, id)| in_cloud(k, id)) {
            "deleting: cloud object remains"
        } else {
            "deleting: cloud object gone, finalizer remains"
        };
    }
    if intent_pending(object, main_id) {
        return if named_in_cloud() {
            "create sent: in the cloud, id not recorded"
        } else {
            "intent recorded: nothing in the cloud"
        };
    }
    if let Some(extra) = workload.extra_step(object) {
        return extra;
    }
    if main_id.is_none() {
        return if finalizer(object) {
            "finalizer added, no intent"
        } else {
            "not yet seen"
        };
    }
    let generation = object.metadata.generation;
    let observed = object.data["status"]["observedGeneration"].as_i64();
    if generation.is_some() && observed != generation {
        return "spec change not yet acted on";
    }
    if !is_ready(object) {
        return "id recorded: not Ready (building, changing)";
    }
    "settled"
}

/// Objects per step at one kill (members counted as their own EdgeInstances).
pub fn steps_at_kill(
    workload: &dyn CloudWorkload,
    objects: &[DynamicObject],
    inventory: &[CloudObject],
) -> BTreeMap<String, usize> {
    let mut steps = BTreeMap::new();
    for o in objects {
        let member = o
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key(EDGE_CLOUD_LABEL));
        let step = step(workload, o, inventory);
        let name = if member {
            format!("member {step}")
        } else {
            step.to_owned()
        };
        *steps.entry(name).or_insert(0) += 1;
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::iec::Iec;
    use serde_json::json;

    fn object(value: serde_json::Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    fn cloud(kind: &str, id: &str, name: &str, intent: (&str, &str), fleet: Option<&str>) -> CloudObject {
        CloudObject {
            kind: kind.into(),
            id: id.into(),
            name: name.into(),
            intent: Key {
                kind: intent.0.into(),
                name: intent.1.into(),
            },
            fleet: fleet.map(str::to_owned),
        }
    }

    #[test]
    fn leaks_duplicates_and_lost_deletions_are_told_apart() {
        let objects = vec![
            object(
                json!({"apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeInstance",
                "metadata": {"name": "a", "uid": "u"}, "status": {"instanceId": "i1"}}),
            ),
            object(json!({"apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeCloud",
                "metadata": {"name": "f"}, "spec": {"replicas": 1}, "status": {"edgeCloudId": "e1"}})),
            object(json!({"apiVersion": "edgefleet.io/v1alpha1", "kind": "Vpc",
                "metadata": {"name": "gone", "finalizers": [FINALIZER], "deletionTimestamp": "2026-01-01T00:00:00Z"}})),
        ];
        let mut model = Model::default();
        model.deleted.insert(Key {
            kind: "EdgeInstance".into(),
            name: "b".into(),
        });
        model.deleted.insert(Key {
            kind: "Vpc".into(),
            name: "gone".into(),
        });
        let inventory = vec![
            cloud("instance", "i1", "a", ("EdgeInstance", "a"), None),
            cloud("instance", "i2", "a", ("EdgeInstance", "a"), None),
            cloud("instance", "i3", "b", ("EdgeInstance", "b"), None),
            cloud("edgecloud", "e1", "f", ("EdgeCloud", "f"), None),
            cloud("instance", "m1", "f-1", ("EdgeCloud", "f"), Some("e1")),
            cloud("instance", "m2", "f-2", ("EdgeCloud", "f"), Some("e1")),
        ];
        let f = audit(&Iec, &model, &objects, &inventory);
        assert_eq!(f.cloud_objects, 6);
        assert_eq!(f.leaks.len(), 1, "{f:?}");
        assert!(f.leaks[0].contains("i2"), "{f:?}");
        assert_eq!(
            f.duplicates.len(),
            2,
            "the two named a, and 2 members for 1 replica: {f:?}"
        );
        assert_eq!(
            f.lost_deletions.len(),
            2,
            "b remains in the cloud, gone is held: {f:?}"
        );
        assert_eq!(f.unmirrored_members.len(), 2, "{f:?}");
    }

    #[test]
    fn steps_follow_the_persisted_state() {
        let intent =
            json!({"token": "a", "paramsHash": "h", "startedAt": "2026-01-01T00:00:00Z", "uid": "u"})
                .to_string();
        let pending = object(
            json!({"apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeInstance",
            "metadata": {"name": "a", "uid": "u", "finalizers": [FINALIZER], "annotations": {CREATE_INTENT_ANNOTATION: intent}}}),
        );
        assert_eq!(step(&Iec, &pending, &[]), "intent recorded: nothing in the cloud");
        let created = [cloud("instance", "i1", "a", ("EdgeInstance", "a"), None)];
        assert_eq!(
            step(&Iec, &pending, &created),
            "create sent: in the cloud, id not recorded"
        );
        let building = object(
            json!({"apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeInstance",
            "metadata": {"name": "a", "uid": "u", "generation": 1, "finalizers": [FINALIZER], "annotations": {CREATE_INTENT_ANNOTATION: intent}},
            "status": {"instanceId": "i1", "observedGeneration": 1}}),
        );
        assert_eq!(
            step(&Iec, &building, &created),
            "id recorded: not Ready (building, changing)"
        );
        let fresh = object(
            json!({"apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeInstance", "metadata": {"name": "n"}}),
        );
        assert_eq!(step(&Iec, &fresh, &[]), "not yet seen");
    }
}
