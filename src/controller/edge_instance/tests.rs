//! Unit tests of the EdgeInstance controller's pure parts: observation age, name matching, membership,
//! the planning spec, security-group and NIC plans, the intent hash, image-change rules, error classes
//! and line choice.

use std::time::Duration;

use kube::ResourceExt;

use super::create::line_for;
use super::day2::check_image_change;
use super::error::{Error, INSTANCE_FAILED};
use super::model::{
    Network, is_member, name_matches, observation_age, params_hash, planning_spec, security_group_change,
};
use super::nics::{NicPlan, ipv4_in_cidr, plan_nics};
use crate::api::common::PendingOperation;
use crate::api::condition::reason;
use crate::api::edge_instance::EdgeInstance;
use crate::api::{EDGE_CLOUD_LABEL, REBOOT_REQUEST_ANNOTATION};
use crate::controller::runtime::{ErrorClass, Intervals, ReconcileError, now};
use crate::provider::plan::InstanceAction;
use crate::provider::{InstanceState, ObservedInstance, Placement, ProviderError, Site, SiteStatus};

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
fn names_match_exactly_or_with_the_iec_prefix_only_when_asked() {
    struct Case {
        reason: &'static str,
        observed: &'static str,
        prefixed: bool,
        want: bool,
    }
    let cases = [
        Case {
            reason: "exact",
            observed: "web",
            prefixed: false,
            want: true,
        },
        Case {
            reason: "prefix not asked for",
            observed: "IEC-ZS01-web",
            prefixed: false,
            want: false,
        },
        Case {
            reason: "site prefix",
            observed: "IEC-ZS01-web",
            prefixed: true,
            want: true,
        },
        Case {
            reason: "another name ending in -web",
            observed: "IEC-ZS01-my-web",
            prefixed: true,
            want: false,
        },
        Case {
            reason: "numbered fleet member",
            observed: "IEC-ZS01-web-0001",
            prefixed: true,
            want: false,
        },
    ];
    for c in cases {
        assert_eq!(
            name_matches(c.observed, "web", c.prefixed),
            c.want,
            "{}",
            c.reason
        );
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
    let obs = observed("IEC-ZS01-fleet-0001", &[]);
    let adopted = ei(serde_json::json!({"adoptId": "i-1"}));
    let want = planning_spec(&adopted, &net, &obs);
    assert_eq!(want.name, "IEC-ZS01-fleet-0001");
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
    let err = check_image_change(&ei(serde_json::json!({})), &stop).unwrap_err();
    assert!(err.to_string().starts_with("spec.image:"), "{err}");
    assert_eq!(err.class(), ErrorClass::Stalled { recheck: false });
    assert!(check_image_change(&ei(serde_json::json!({"keyName": "k"})), &stop).is_ok());
    let plain = [InstanceAction::Stop { for_change_os: false }];
    assert!(check_image_change(&ei(serde_json::json!({})), &plain).is_ok());
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
    let missing_key = Error::Create {
        name: "web".into(),
        source: ProviderError::NotFound { detail: detail() },
    };
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
fn the_operator_picks_the_line_when_no_pool_is_given() {
    let site = Site {
        id: "s".into(),
        name: "s".into(),
        area: None,
        province: None,
        city: None,
        status: SiteStatus::Available,
        operators: vec!["chinatelecom".into(), "chinaunicom".into()],
        pool_ids: vec!["l0".into(), "l1".into()],
        pools: vec![
            crate::provider::SitePool {
                id: "l0".into(),
                operator: Some("chinatelecom".into()),
            },
            crate::provider::SitePool {
                id: "l1".into(),
                operator: Some("chinaunicom".into()),
            },
        ],
    };
    assert_eq!(line_for(&site, None, Some("ChinaUnicom")).as_deref(), Some("l1"));
    assert_eq!(
        line_for(&site, Some("l0"), Some("chinaunicom")).as_deref(),
        Some("l0"),
        "poolId wins"
    );
    assert_eq!(line_for(&site, None, None), None, "the cloud's default line");
    assert_eq!(line_for(&site, None, Some("chinamobile")), None);
}
