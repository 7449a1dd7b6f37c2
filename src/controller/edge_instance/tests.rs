//! Unit tests of the EdgeInstance controller's pure parts: observation age, membership, the planning
//! spec, security-group and NIC plans, the intent hash, image-change rules, provider findings as errors
//! naming the field, and error classes.

use std::time::Duration;

use kube::ResourceExt;

use super::day2::check_image_change;
use super::error::{Error, INSTANCE_FAILED};
use super::model::{
    Network, check_spec, is_member, lookup_age, observation_age, params_hash, planning_spec, recovery_age,
    security_group_change,
};
use super::nics::{NicPlan, ipv4_in_cidr, plan_nics};
use crate::api::common::PendingOperation;
use crate::api::condition::reason;
use crate::api::edge_instance::EdgeInstance;
use crate::api::{EDGE_CLOUD_LABEL, REBOOT_REQUEST_ANNOTATION};
use crate::controller::managed::LifecycleError;
use crate::controller::runtime::{ErrorClass, Intervals, ReconcileError, now};
use crate::provider::plan::InstanceAction;
use crate::provider::{
    InstanceField, InstanceFieldError, InstanceState, ObservedInstance, Placement, ProviderError,
};

fn ei(json: serde_json::Value) -> EdgeInstance {
    let mut base = serde_json::json!({
        "apiVersion": "edgefleet.io/v1alpha1",
        "kind": "EdgeInstance",
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {
            "providerConfigRef": {"name": "acct"},
            "flavor": "c6.large.2",
            "image": "img-1",
            "placement": {"siteId": "site-1"},
            "rootVolume": {"type": "SATA", "size": 40},
            "network": {"vpcId": "vpc-1", "subnets": [{"id": "sub-1"}]},
            "adminPasswordSecretRef": {"name": "login", "key": "password"},
        }
    });
    if let (Some(spec), Some(extra)) = (base["spec"].as_object_mut(), json.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(base).unwrap()
}

/// A settled object: Ready for generation 3, its id recorded, nothing in flight.
fn settled() -> EdgeInstance {
    let mut e = ei(serde_json::json!({}));
    e.metadata.generation = Some(3);
    e.status = Some(
        serde_json::from_value(serde_json::json!({
            "observedGeneration": 3,
            "instanceId": "i-1",
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Available", "message": "",
                 "observedGeneration": 3, "lastTransitionTime": "2026-11-23T10:00:00Z"},
                {"type": "Reconciling", "status": "False", "reason": "Available", "message": "",
                 "observedGeneration": 3, "lastTransitionTime": "2026-11-23T10:00:00Z"},
            ],
        }))
        .unwrap(),
    );
    e
}

#[test]
fn only_drift_polls_of_settled_objects_accept_a_batched_observation() {
    let intervals = Intervals {
        poll: Duration::from_secs(300),
        pending: Duration::from_secs(10),
    };
    let half = Duration::from_secs(150);
    assert_eq!(observation_age(&settled(), intervals), half);

    let mut new_generation = settled();
    new_generation.metadata.generation = Some(4);
    let mut reconciling = settled();
    if let Some(st) = reconciling.status.as_mut() {
        st.conditions[1].status = crate::api::condition::ConditionStatus::True;
    }
    let mut not_ready = settled();
    if let Some(st) = not_ready.status.as_mut() {
        st.conditions[0].status = crate::api::condition::ConditionStatus::False;
    }
    let mut creating = settled();
    if let Some(st) = creating.status.as_mut() {
        st.pending_create = Some(PendingOperation {
            token: "web".into(),
            params_hash: String::new(),
            started_at: now(),
            handle: None,
        });
    }
    let mut reboot = settled();
    reboot
        .annotations_mut()
        .insert(REBOOT_REQUEST_ANNOTATION.to_owned(), "now".to_owned());
    let mut deleting = settled();
    deleting.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::now(),
    ));
    let fresh = ei(serde_json::json!({}));
    for (what, e) in [
        ("new generation", new_generation),
        ("reconciling", reconciling),
        ("not ready", not_ready),
        ("create in flight", creating),
        ("reboot requested", reboot),
        ("deleting", deleting),
        ("no status", fresh),
    ] {
        assert_eq!(observation_age(&e, intervals), Duration::ZERO, "{what}");
    }
}

#[test]
fn identity_lookups_take_a_list_no_older_than_the_pending_interval_and_after_the_grace_a_newer_one() {
    let secs = Duration::from_secs;
    let intervals = Intervals {
        poll: secs(300),
        pending: secs(10),
    };
    let lookup = lookup_age(intervals);
    assert_eq!(lookup, secs(10));
    let quick = Intervals {
        poll: secs(3),
        pending: secs(10),
    };
    assert_eq!(
        lookup_age(quick),
        Duration::from_millis(1500),
        "at most half a poll"
    );
    let grace = secs(60);
    assert_eq!(recovery_age(secs(5), grace, lookup), lookup, "within the grace");
    assert_eq!(
        recovery_age(secs(63), grace, lookup),
        secs(3),
        "only a list that started after the grace ended"
    );
    assert_eq!(recovery_age(secs(600), grace, lookup), lookup);
    assert_eq!(
        recovery_age(grace, grace, lookup),
        Duration::ZERO,
        "at the edge: a list made now"
    );
}

fn observed(name: &str, groups: &[&str]) -> ObservedInstance {
    ObservedInstance {
        id: "i-1".into(),
        name: name.into(),
        description: "legacy".into(),
        state: InstanceState::Running,
        raw_status: "ACTIVE".into(),
        flavor: Some("c6.large.2".into()),
        image: Some("img-1".into()),
        placement: Placement {
            site_id: Some("site-1".into()),
            ..Placement::default()
        },
        fleet_id: None,
        private_ips: vec!["10.0.0.2".into()],
        public_ips: vec![],
        nics: vec![],
        security_groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        vpc_id: Some("vpc-1".into()),
        key_name: Some("k".into()),
        created: None,
        tags: Default::default(),
    }
}

#[test]
fn members_are_recognised_by_label_or_owner() {
    let mut e = ei(serde_json::json!({}));
    assert!(!is_member(&e));
    e.metadata
        .labels
        .get_or_insert_default()
        .insert(EDGE_CLOUD_LABEL.into(), "fleet".into());
    assert!(is_member(&e));
}

#[test]
fn adopted_instances_keep_their_name_and_description_unless_the_spec_sets_them() {
    let net = Network {
        vpc_id: "vpc-1".into(),
        ..Network::default()
    };
    let obs = observed("ZS01-fleet-0001", &[]);
    let adopted = ei(serde_json::json!({"adoptId": "i-1"}));
    let want = planning_spec(&adopted, &net, &obs);
    assert_eq!(want.name, "ZS01-fleet-0001");
    assert_eq!(want.description, "legacy");
    assert_eq!(
        want.key_name.as_deref(),
        Some("k"),
        "a key alone never reinstalls"
    );
    let named = ei(serde_json::json!({"adoptId": "i-1", "name": "edge-1", "description": "d"}));
    let want = planning_spec(&named, &net, &obs);
    assert_eq!((want.name.as_str(), want.description.as_str()), ("edge-1", "d"));
    let created = ei(serde_json::json!({}));
    assert_eq!(
        planning_spec(&created, &net, &obs).name,
        "web",
        "metadata.name by default"
    );
}

#[test]
fn security_groups_are_compared_only_when_the_spec_names_some() {
    let mut net = Network::default();
    assert_eq!(security_group_change(&net, &observed("web", &["a"])), None);
    net.security_group_ids = vec!["a".into(), "b".into()];
    assert_eq!(
        security_group_change(&net, &observed("web", &["b", "a"])),
        None,
        "order does not matter"
    );
    assert_eq!(
        security_group_change(&net, &observed("web", &["a"])),
        Some(vec!["a".into(), "b".into()])
    );
}

#[test]
fn the_intent_hash_covers_secret_references_not_values() {
    let net = Network::default();
    let a = ei(serde_json::json!({}));
    assert_eq!(params_hash(&a, &net), params_hash(&a, &net), "deterministic");
    let b = ei(serde_json::json!({"adminPasswordSecretRef": {"name": "other", "key": "password"}}));
    assert_ne!(params_hash(&a, &net), params_hash(&b, &net));
}

#[test]
fn image_changes_need_a_way_to_log_in() {
    let stop = [InstanceAction::Stop { for_change_os: true }];
    let err = check_image_change(&ei(serde_json::json!({})), false, &stop).unwrap_err();
    assert!(err.to_string().starts_with("spec.image:"), "{err}");
    assert!(err.to_string().contains("cannot set a password"), "{err}");
    assert_eq!(err.class(), ErrorClass::Stalled { recheck: false });
    assert!(check_image_change(&ei(serde_json::json!({"keyName": "k"})), false, &stop).is_ok());
    let plain = [InstanceAction::Stop { for_change_os: false }];
    assert!(check_image_change(&ei(serde_json::json!({})), false, &plain).is_ok());
    assert!(
        check_image_change(&ei(serde_json::json!({})), true, &stop).is_ok(),
        "where the reimage sets a password, the admin password is a way in"
    );
}

#[test]
fn error_classes_follow_the_policy() {
    let detail = || crate::provider::ErrorDetail::local("op", "m");
    let waiting = Error::WaitingForReference {
        kind: "Vpc",
        name: "net".into(),
        field: "spec.network.vpcRef",
        what: "become Ready",
    };
    assert_eq!(waiting.class(), ErrorClass::Waiting);
    assert_eq!(waiting.ready_reason(), Some(reason::WAITING_FOR_DEPENDENCY));
    assert_eq!(waiting.stalled_reason(), None);
    let catalog = Error::NotInCatalog {
        field: "spec.flavor",
        message: "x".into(),
    };
    assert_eq!(catalog.stalled_reason(), Some(reason::NOT_IN_CATALOG));
    let missing_key = Error::from(LifecycleError::Create {
        noun: "cloud instance",
        name: "web".into(),
        source: ProviderError::NotFound { detail: detail() },
    });
    assert_eq!(missing_key.stalled_reason(), Some(reason::INVALID_SPEC));
    let building = Error::DeletionWaits {
        id: "i".into(),
        what: "building".into(),
        after: std::time::Duration::from_secs(10),
    };
    assert_eq!(
        building.class(),
        ErrorClass::Pending(std::time::Duration::from_secs(10)),
        "no error storm (nor error backoff) while the cloud builds"
    );
    assert_eq!(building.stalled_reason(), None);
    let failed = Error::InstanceFailed {
        id: "i".into(),
        status: "FAILED".into(),
        detail: "x",
    };
    assert_eq!(failed.stalled_reason(), Some(INSTANCE_FAILED));
}

#[test]
fn addresses_are_attributed_to_subnets_by_cidr() {
    assert!(ipv4_in_cidr("10.30.1.7", "10.30.1.0/24"));
    assert!(!ipv4_in_cidr("10.30.2.7", "10.30.1.0/24"));
    assert!(ipv4_in_cidr("10.30.2.7", "10.30.0.0/16"));
    assert!(ipv4_in_cidr("1.2.3.4", "0.0.0.0/0"));
    assert!(
        !ipv4_in_cidr("fe80::1", "10.0.0.0/8"),
        "IPv6 is never in an IPv4 range"
    );
    assert!(!ipv4_in_cidr("10.0.0.1", "10.0.0.0/33"));
    assert!(!ipv4_in_cidr("10.0.0.1", "garbage"));
}

#[test]
fn nic_plans_add_and_remove_but_never_the_primary_or_the_unknown() {
    let nic = |port: &str, subnet: Option<&str>| (port.to_owned(), subnet.map(str::to_owned));
    let subnets = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    struct Case {
        reason: &'static str,
        desired: Vec<String>,
        observed: Vec<(String, Option<String>)>,
        want: NicPlan,
    }
    let cases = [
        Case {
            reason: "matches",
            desired: subnets(&["a", "b"]),
            observed: vec![nic("p1", Some("a")), nic("p2", Some("b"))],
            want: NicPlan::default(),
        },
        Case {
            reason: "one more NIC in b, two in c",
            desired: subnets(&["a", "b", "c", "c"]),
            observed: vec![nic("p1", Some("a"))],
            want: NicPlan {
                add: vec![("b".into(), 1), ("c".into(), 2)],
                remove: vec![],
            },
        },
        Case {
            reason: "an extra NIC is removed",
            desired: subnets(&["a"]),
            observed: vec![nic("p1", Some("a")), nic("p2", Some("b"))],
            want: NicPlan {
                add: vec![],
                remove: vec!["p2".into()],
            },
        },
        Case {
            reason: "the primary NIC stays even if the spec disagrees (CEL keeps subnets[0] fixed)",
            desired: subnets(&["b"]),
            observed: vec![nic("p1", Some("a")), nic("p2", Some("b"))],
            want: NicPlan::default(),
        },
        Case {
            reason: "a NIC that cannot be attributed is left alone",
            desired: subnets(&["a"]),
            observed: vec![nic("p1", Some("a")), nic("p2", None)],
            want: NicPlan::default(),
        },
    ];
    for c in cases {
        assert_eq!(plan_nics(&c.desired, &c.observed), c.want, "{}", c.reason);
    }
}

#[test]
fn provider_findings_stall_naming_the_field_of_the_edge_instance() {
    let named = ei(serde_json::json!({"name": "web.1"}));
    let root = InstanceFieldError::invalid(
        InstanceField::RootVolumeSize,
        "200 GB; the system disks are 40–100 GB",
    );
    let err = check_spec(&named, std::slice::from_ref(&root)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.rootVolume.size: 200 GB; the system disks are 40–100 GB"
    );
    assert_eq!(err.stalled_reason(), Some(reason::INVALID_SPEC));
    assert_eq!(err.class(), ErrorClass::Stalled { recheck: false });
    let flavor =
        InstanceFieldError::not_in_catalog(InstanceField::Flavor, "flavor \"x\" is not offered at site s");
    let err = check_spec(&named, &[flavor, root]).unwrap_err();
    assert_eq!(err.stalled_reason(), Some(reason::NOT_IN_CATALOG));
    assert!(err.to_string().starts_with("spec.flavor: "), "{err}");
    assert!(
        err.to_string().contains("; spec.rootVolume.size: 200 GB"),
        "{err}"
    );
    let name = InstanceFieldError::invalid(InstanceField::Name, "too long");
    let unnamed = ei(serde_json::json!({}));
    let err = check_spec(&unnamed, std::slice::from_ref(&name)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("spec.name: the cloud name defaults to metadata.name"),
        "{err}"
    );
    assert!(check_spec(&named, &[]).is_ok());
}

#[test]
fn a_provider_section_or_fleet_the_cloud_does_not_take_names_the_field() {
    use super::model::check_cloud_fit;
    use crate::provider::{iec, veen};
    let field = |r: Result<(), Error>| match r {
        Err(Error::InvalidSpec { field, .. }) => Some(field),
        Ok(()) => None,
        Err(e) => panic!("unexpected {e}"),
    };
    let (iec, veen) = (iec::capabilities(), veen::capabilities());
    assert_eq!(field(check_cloud_fit(&ei(serde_json::json!({})), &iec)), None);
    let on_veen = ei(serde_json::json!({"veen": {"hostName": "h"}}));
    assert_eq!(field(check_cloud_fit(&on_veen, &iec)), Some("spec.veen"));
    assert_eq!(field(check_cloud_fit(&on_veen, &veen)), None);
    let on_iec = ei(serde_json::json!({"iec": {"withPrefix": true}}));
    assert_eq!(field(check_cloud_fit(&on_iec, &veen)), Some("spec.iec"));
    let in_fleet = ei(serde_json::json!({"fleetId": "cloudserver-1"}));
    assert_eq!(
        field(check_cloud_fit(&in_fleet, &iec)),
        Some("spec.fleetRef"),
        "IEC creates instances on their own"
    );
    assert_eq!(field(check_cloud_fit(&in_fleet, &veen)), None);
    assert_eq!(
        field(check_cloud_fit(&ei(serde_json::json!({})), &veen)),
        None,
        "a missing fleet is checked only for a create (an adopted instance is in its fleet)"
    );
    assert!(
        veen.fleet_problem(false, true)
            .is_some_and(|p| p.field == InstanceField::Fleet)
    );
}

#[test]
fn a_recreate_after_drift_uses_another_idempotency_token_than_the_first_create() {
    use super::create::idempotency_token;
    assert_eq!(
        idempotency_token("web", "uid-1", None),
        idempotency_token("web", "uid-1", None),
        "a retried create replays"
    );
    assert_ne!(
        idempotency_token("web", "uid-1", None),
        idempotency_token("web", "uid-1", Some("veen1")),
        "a recreate is a new create"
    );
}
