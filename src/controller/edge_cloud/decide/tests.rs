//! Table tests of the fleet's decisions; each row says why its expected steps are right.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::api::condition::{Condition, ConditionStatus};
use crate::api::edge_cloud::{EdgeCloud, EdgeCloudStatus, REPLACE_ANNOTATION};
use crate::api::edge_instance::EdgeInstance;
use crate::controller::edge_cloud::fleet::ResolvedRefs;
use crate::controller::edge_cloud::observe::{Clock, Seen};
use crate::provider::{ObservedFleet, Placement};

/// A cloud like the one the emulator serves: grows every level but Site, only while Ready, and cannot
/// delete building members.
const CLOUD: CloudModel = CloudModel {
    can_expand: true,
    expand_only_when_ready: true,
    delete_building_members: false,
    image_replaces_members: false,
};

/// 2026-12-03T10:00:00Z, when the stuck members were created.
const CREATED_MS: i64 = 1_796_292_000_000;

/// A city-level spec; `extra` overrides top-level fields (strategy, remediation, deletePolicy).
fn spec(replicas: i32, placement: Value, extra: Value) -> EdgeCloudSpec {
    let mut v = json!({
        "providerConfigRef": {"name": "acct"},
        "replicas": replicas,
        "coverage": {"level": "City"},
        "placement": placement,
        "template": {
            "flavor": "c6.large.2",
            "image": "img-1",
            "rootVolume": {"type": "SATA", "size": 40},
            "network": {"vpcId": "vpc-1"},
        },
    });
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            o.insert(k.clone(), x.clone());
        }
    }
    serde_json::from_value(v).unwrap()
}

fn in_a(replicas: i32) -> Value {
    json!([{"city": "a", "count": replicas}])
}

fn member(id: &str, state: InstanceState) -> ObservedInstance {
    ObservedInstance {
        id: id.into(),
        name: format!("web-{id}"),
        description: String::new(),
        state,
        raw_status: String::new(),
        flavor: Some("c6.large.2".into()),
        image: Some("img-1".into()),
        placement: Placement {
            site_id: Some("site-a".into()),
            city: Some("a".into()),
            operator: Some("x".into()),
            ..Placement::default()
        },
        fleet_id: Some("ec-1".into()),
        private_ips: vec![],
        public_ips: vec![],
        nics: vec![],
        security_groups: vec![],
        vpc_id: Some("vpc-1".into()),
        key_name: None,
        created: None,
        tags: BTreeMap::new(),
    }
}

/// Running members `ids`.
fn running(ids: &[&str]) -> Vec<ObservedInstance> {
    ids.iter().map(|id| member(id, InstanceState::Running)).collect()
}

/// A member building since [`CREATED_MS`] (an hour before the view's clock: past the 30m default).
fn stuck(id: &str) -> ObservedInstance {
    ObservedInstance {
        created: Some("2026-12-03T10:00:00Z".into()),
        ..member(id, InstanceState::Creating)
    }
}

fn observed_fleet(state: FleetState) -> ObservedFleet {
    let raw = match state {
        FleetState::Ready => "inService",
        FleetState::Creating => "creating",
        _ => "updating",
    };
    ObservedFleet {
        id: "ec-1".into(),
        name: "web".into(),
        description: String::new(),
        state,
        raw_status: raw.into(),
        success_count: 0,
        failed_count: 0,
        failure: None,
        level: None,
        sites: vec![],
    }
}

/// The mirror of each member, as the fleet creates it.
fn mirrors(spec: &EdgeCloudSpec, all: &[ObservedInstance]) -> Vec<EdgeInstance> {
    let ec = EdgeCloud::new("web", spec.clone());
    let refs = ResolvedRefs {
        vpc_id: "vpc-1".into(),
        ..ResolvedRefs::default()
    };
    let fingerprint = fleet::hidden_fingerprint(spec);
    all.iter()
        .map(|m| members::mirror(&ec, m, &refs, &fingerprint))
        .collect()
}

fn view_with(
    spec: &EdgeCloudSpec,
    all: Vec<ObservedInstance>,
    mirrors: Vec<EdgeInstance>,
    state: FleetState,
) -> FleetView {
    let clock = Clock {
        now_ms: CREATED_MS + 3_600_000,
        build_timeout: spec.remediation.build_timeout().unwrap(),
    };
    let seen = Seen {
        fleet: observed_fleet(state),
        all,
        mirrors,
    };
    FleetView::new(seen, spec, &EdgeCloudStatus::default(), clock)
}

fn view(spec: &EdgeCloudSpec, all: Vec<ObservedInstance>) -> FleetView {
    let m = mirrors(spec, &all);
    view_with(spec, all, m, FleetState::Ready)
}

fn annotate(ei: &mut EdgeInstance, key: &str) {
    ei.metadata
        .annotations
        .get_or_insert_default()
        .insert(key.to_owned(), "true".to_owned());
}

fn decide_scale(view: &FleetView, spec: &EdgeCloudSpec, cloud: CloudModel) -> ScaleDecision {
    let targets = fleet::targets(spec).unwrap();
    scale(&ScaleInput {
        view,
        spec,
        targets: &targets,
        vpc_id: "vpc-1",
        cloud,
        health: Health::of(view, spec),
    })
}

/// The removal a decision makes: ids and why.
fn removal(d: &ScaleDecision) -> Option<(Vec<&str>, Removal)> {
    d.steps.iter().find_map(|s| match s {
        Step::Remove { ids, why } => Some((ids.iter().map(String::as_str).collect(), *why)),
        _ => None,
    })
}

/// The expansion a decision makes: `key +count` per target.
fn expansion(d: &ScaleDecision) -> Vec<String> {
    d.steps
        .iter()
        .filter_map(|s| match s {
            Step::Expand { add } => Some(add.iter().map(|t| format!("{} +{}", t.key(), t.count))),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The EdgeInstances asked for the template's image.
fn image_requests(d: &ScaleDecision) -> Vec<&str> {
    d.steps
        .iter()
        .filter_map(|s| match s {
            Step::SetImage { member, .. } => Some(member.as_str()),
            _ => None,
        })
        .collect()
}

fn blocked_reason(d: &ScaleDecision) -> Option<&'static str> {
    d.blocked.as_ref().map(|(r, _)| *r)
}

#[test]
fn scale_in_stays_within_the_budget() {
    use InstanceState::{Creating, Failed, Running};
    let oldest = json!({"deletePolicy": "Oldest"});
    let oldest_one_unavailable = json!({
        "deletePolicy": "Oldest",
        "strategy": {"rollingUpdate": {"maxUnavailable": 1}},
    });
    // (why, replicas, members (id, state; created in id order), extra spec, removed, why, blocked)
    let cases = [
        (
            "one member above replicas goes, the newest (SiteBalanced)",
            2,
            vec![("a1", Running), ("a2", Running), ("a3", Running)],
            json!({}),
            Some((vec!["a3"], Removal::ScaleIn)),
            None,
        ),
        (
            "the oldest is Ready and replicas - maxUnavailable (2) Ready must stay: nothing goes until a3 is Ready",
            2,
            vec![("a1", Running), ("a2", Running), ("a3", Creating)],
            oldest,
            None,
            None,
        ),
        (
            "with maxUnavailable 1, one Ready member may go while a3 builds",
            2,
            vec![("a1", Running), ("a2", Running), ("a3", Creating)],
            oldest_one_unavailable,
            Some((vec!["a1"], Removal::ScaleIn)),
            None,
        ),
        (
            "a failed member goes although no member is above replicas (the plan replaces it)",
            3,
            vec![("a1", Running), ("a2", Running), ("a3", Failed)],
            json!({}),
            Some((vec!["a3"], Removal::Failed)),
            None,
        ),
        (
            "a failed member is removed but not replaced while it ends the spec's excess",
            3,
            vec![("a1", Running), ("a2", Running), ("a3", Running), ("a4", Failed)],
            json!({}),
            Some((vec!["a4"], Removal::Failed)),
            None,
        ),
        (
            "more unhealthy than maxUnhealthy (50% of 2): no remediation, blocked; the excess member still goes, a failed one (the newer)",
            2,
            vec![("a1", Failed), ("a2", Failed), ("a3", Running)],
            json!({}),
            Some((vec!["a2"], Removal::Failed)),
            Some(reason::TOO_MANY_UNHEALTHY),
        ),
    ];
    for (why, replicas, ms, extra, removed, blocked) in cases {
        let s = spec(replicas, in_a(replicas), extra);
        let all: Vec<ObservedInstance> = ms
            .iter()
            .enumerate()
            .map(|(i, (id, state))| ObservedInstance {
                created: Some(format!("2026-12-03T10:0{i}:00Z")),
                ..member(id, state.clone())
            })
            .collect();
        let d = decide_scale(&view(&s, all), &s, CLOUD);
        assert_eq!(removal(&d), removed, "{why}");
        assert_eq!(blocked_reason(&d), blocked, "{why}");
    }
}

#[test]
fn scale_in_victims_follow_the_delete_policy() {
    // a1 oldest … a3 newest, all Ready; two of three go (replicas 1).
    let cases = [
        (
            "SiteBalanced: newest first",
            "SiteBalanced",
            None,
            None,
            vec!["a3", "a2"],
        ),
        ("Oldest first", "Oldest", None, None, vec!["a1", "a2"]),
        ("Newest first", "Newest", None, None, vec!["a3", "a2"]),
        (
            "UnhealthyFirst: the building a2, then the oldest",
            "UnhealthyFirst",
            Some("a2"),
            None,
            vec!["a2", "a1"],
        ),
        (
            "a member annotated delete-first goes before the policy's choice",
            "SiteBalanced",
            None,
            Some("a1"),
            vec!["a1", "a3"],
        ),
    ];
    for (why, policy, building, delete_first, victims) in cases {
        let s = spec(1, in_a(1), json!({"deletePolicy": policy}));
        let all: Vec<ObservedInstance> = ["a1", "a2", "a3"]
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let state = if building == Some(*id) {
                    InstanceState::Creating
                } else {
                    InstanceState::Running
                };
                ObservedInstance {
                    created: Some(format!("2026-12-03T10:0{i}:00Z")),
                    ..member(id, state)
                }
            })
            .collect();
        let mut m = mirrors(&s, &all);
        for ei in &mut m {
            if delete_first.is_some_and(|d| members::instance_id(ei) == Some(d)) {
                annotate(ei, DELETE_FIRST_ANNOTATION);
            }
        }
        let d = decide_scale(&view_with(&s, all, m, FleetState::Ready), &s, CLOUD);
        assert_eq!(removal(&d), Some((victims, Removal::ScaleIn)), "{why}");
    }
}

#[test]
fn a_template_change_rolls_within_max_surge_and_max_unavailable() {
    let old_flavor = |ids: &[&str]| -> Vec<ObservedInstance> {
        ids.iter()
            .map(|id| ObservedInstance {
                flavor: Some("c6.small".into()),
                ..member(id, InstanceState::Running)
            })
            .collect()
    };
    let rolling = |surge: i32, unavailable: i32| json!({"strategy": {"rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}});
    let mut surged = old_flavor(&["a1", "a2", "a3"]);
    surged.push(member("a4", InstanceState::Running));
    // (why, members, strategy, cloud, expansion, removal, blocked); every case but the surged one is a
    // rollout in progress (the counts match, outdated members remain), which the note says.
    let cases = [
        (
            "maxSurge 1: one replacement is added where an outdated member runs",
            old_flavor(&["a1", "a2", "a3"]),
            rolling(1, 0),
            CLOUD,
            vec!["a +1"],
            None,
            None,
        ),
        (
            "surged: the outdated member goes first on the scale-in that follows",
            surged,
            rolling(1, 0),
            CLOUD,
            vec![],
            Some((vec!["a1"], Removal::Rolling)),
            None,
        ),
        (
            "no surge room: outdated members go while replicas - maxUnavailable stay Ready (one)",
            old_flavor(&["a1", "a2", "a3"]),
            rolling(0, 1),
            CLOUD,
            vec![],
            Some((vec!["a1"], Removal::Rolling)),
            None,
        ),
        (
            "no surge and no unavailability allowed: nothing moves",
            old_flavor(&["a1", "a2", "a3"]),
            rolling(0, 0),
            CLOUD,
            vec![],
            None,
            None,
        ),
        (
            "a cloud that cannot expand this level cannot replace: blocked, nothing removed",
            old_flavor(&["a1", "a2", "a3"]),
            rolling(1, 1),
            CloudModel {
                can_expand: false,
                ..CLOUD
            },
            vec![],
            None,
            Some(reason::EXPAND_NOT_SUPPORTED),
        ),
    ];
    for (why, all, extra, cloud, add, removed, blocked) in cases {
        let s = spec(3, in_a(3), extra);
        let d = decide_scale(&view(&s, all), &s, cloud);
        assert_eq!(expansion(&d), add, "{why}");
        assert_eq!(removal(&d), removed, "{why}");
        assert_eq!(blocked_reason(&d), blocked, "{why}");
        let in_progress = !why.starts_with("surged");
        assert_eq!(
            d.note.as_deref(),
            in_progress.then_some("3 member(s) with an outdated template are being replaced"),
            "{why}"
        );
    }
}

#[test]
fn image_changes_are_paced_by_max_unavailable() {
    // Four members on img-0, the template says img-1: changed in place, a few at a time.
    // (why, maxUnavailable, member a4 building, mirrors already asked, requests)
    let cases = [
        (
            "maxUnavailable 0 still lets one change at a time",
            json!(0),
            false,
            vec![],
            vec!["web-a1"],
        ),
        (
            "one asked and not done yet: no room for another",
            json!(0),
            false,
            vec!["a1"],
            vec![],
        ),
        (
            "50% of 4: two at once",
            json!("50%"),
            false,
            vec![],
            vec!["web-a1", "web-a2"],
        ),
        (
            "a member that is not Ready takes one of the two slots",
            json!(2),
            true,
            vec![],
            vec!["web-a1"],
        ),
        (
            "two asked, two slots: the rest waits",
            json!(2),
            false,
            vec!["a1", "a2"],
            vec![],
        ),
    ];
    for (why, unavailable, building, asked, requests) in cases {
        let asked: Vec<&str> = asked;
        let mut s = spec(
            4,
            in_a(4),
            json!({"strategy": {"rollingUpdate": {"maxUnavailable": unavailable}}}),
        );
        let all: Vec<ObservedInstance> = ["a1", "a2", "a3", "a4"]
            .iter()
            .map(|id| {
                let state = if building && *id == "a4" {
                    InstanceState::Creating
                } else {
                    InstanceState::Running
                };
                ObservedInstance {
                    image: Some("img-0".into()),
                    ..member(id, state)
                }
            })
            .collect();
        s.template.image = "img-0".into();
        let mut m = mirrors(&s, &all);
        s.template.image = "img-1".into();
        for ei in &mut m {
            ei.metadata.name = Some(format!("web-{}", members::instance_id(ei).unwrap()));
            if asked.contains(&members::instance_id(ei).unwrap()) {
                ei.spec.image = "img-1".into();
            }
        }
        let d = decide_scale(&view_with(&s, all, m, FleetState::Ready), &s, CLOUD);
        assert_eq!(image_requests(&d), requests, "{why}");
        assert!(
            d.steps
                .iter()
                .all(|s| matches!(s, Step::SetImage { image, .. } if image == "img-1")),
            "{why}: an image change is never a replacement: {:?}",
            d.steps
        );
        assert!(
            d.note
                .as_deref()
                .is_some_and(|n| n.starts_with("changing the image of 4 member(s) in place")),
            "{why}"
        );
    }
}

#[test]
fn where_the_cloud_cannot_change_images_in_place_members_are_replaced_within_max_surge() {
    // Two members on img-0, the template says img-1, the cloud replaces for an image (Workspace, veEN).
    let replaces = CloudModel {
        image_replaces_members: true,
        ..CLOUD
    };
    let old_image = |ids: &[&str]| -> Vec<ObservedInstance> {
        ids.iter()
            .map(|id| ObservedInstance {
                image: Some("img-0".into()),
                ..member(id, InstanceState::Running)
            })
            .collect()
    };
    // (why, members, expansion, removal)
    let cases = [
        (
            "at the spec: one surge member where an outdated one runs",
            old_image(&["a1", "a2"]),
            vec!["a +1"],
            None,
        ),
        (
            "surged and the new one Ready: an outdated one goes",
            [old_image(&["a1", "a2"]), running(&["a3"])].concat(),
            vec![],
            Some(vec!["a1"]),
        ),
    ];
    for (why, all, add, remove) in cases {
        let s = spec(2, in_a(2), json!({}));
        let v = view(&s, all);
        let d = decide_scale(&v, &s, replaces);
        assert!(image_requests(&d).is_empty(), "{why}: never in place");
        assert_eq!(expansion(&d), add, "{why}");
        assert_eq!(removal(&d).map(|(ids, _)| ids), remove, "{why}");
    }
    // The same fleet on a cloud that changes images in place: no replacement, the members are asked.
    let s = spec(2, in_a(2), json!({}));
    let d = decide_scale(&view(&s, old_image(&["a1", "a2"])), &s, CLOUD);
    assert!(expansion(&d).is_empty() && removal(&d).is_none());
    assert_eq!(image_requests(&d).len(), 1, "one member asked for the new image");
}

#[test]
fn a_stalled_image_change_is_named_in_the_note() {
    let s = spec(1, in_a(1), json!({}));
    let all = vec![ObservedInstance {
        image: Some("img-0".into()),
        ..member("a1", InstanceState::Running)
    }];
    let mut m = mirrors(&s, &all);
    m[0].metadata.name = Some("web-a1".into());
    m[0].status = Some(crate::api::edge_instance::EdgeInstanceStatus {
        conditions: vec![Condition::new(
            STALLED,
            ConditionStatus::True,
            "ChangeOsFailed",
            "image not found",
            None,
        )],
        ..Default::default()
    });
    let d = decide_scale(&view_with(&s, all, m, FleetState::Ready), &s, CLOUD);
    assert_eq!(
        d.note.as_deref(),
        Some(
            "changing the image of 1 member(s) in place (their EdgeInstances change the OS); member web-a1 is stalled: image not found"
        )
    );
}

#[test]
fn scale_out_waits_where_the_cloud_expands_only_ready_edge_clouds() {
    // Three wanted, two run: one is added, unless the cloud cannot or will not expand now.
    let cases = [
        ("inService: expand", FleetState::Ready, CLOUD, vec!["a +1"], None),
        (
            "busy, and the cloud expands only Ready edge clouds: wait",
            FleetState::Updating,
            CLOUD,
            vec![],
            Some(reason::EDGE_CLOUD_BUSY),
        ),
        (
            "busy, but the cloud expands busy edge clouds too: expand",
            FleetState::Updating,
            CloudModel {
                expand_only_when_ready: false,
                ..CLOUD
            },
            vec!["a +1"],
            None,
        ),
        (
            "the cloud cannot expand this level: blocked",
            FleetState::Ready,
            CloudModel {
                can_expand: false,
                ..CLOUD
            },
            vec![],
            Some(reason::EXPAND_NOT_SUPPORTED),
        ),
    ];
    for (why, state, cloud, add, blocked) in cases {
        let s = spec(3, in_a(3), json!({}));
        let all = running(&["a1", "a2"]);
        let m = mirrors(&s, &all);
        let d = decide_scale(&view_with(&s, all, m, state), &s, cloud);
        assert_eq!(expansion(&d), add, "{why}");
        assert_eq!(blocked_reason(&d), blocked, "{why}");
    }
    let s = spec(3, in_a(3), json!({}));
    let d = decide_scale(
        &view(&s, running(&["a1", "a2"])),
        &s,
        CloudModel {
            can_expand: false,
            ..CLOUD
        },
    );
    assert_eq!(
        d.blocked.unwrap().1,
        "1 more instance(s) needed but this fleet cannot be expanded: the cloud cannot expand City-level edge clouds"
    );
}

#[test]
fn members_stuck_building_are_marked_then_removed_once_the_cloud_lets_them_go() {
    let deletes_building = CloudModel {
        delete_building_members: true,
        ..CLOUD
    };
    let left_build = || ObservedInstance {
        created: Some("2026-12-03T10:00:00Z".into()),
        ..member("a3", InstanceState::Running)
    };
    // (why, members, a3 marked, a3 mirrored, busy, cloud, marked now, removed now)
    let cases = [
        (
            "stuck within maxUnhealthy (50% of 3 = 1): marked",
            vec![
                member("a1", InstanceState::Running),
                member("a2", InstanceState::Running),
                stuck("a3"),
            ],
            false,
            true,
            false,
            CLOUD,
            vec!["a3"],
            None,
        ),
        (
            "two stuck, more than maxUnhealthy: neither is marked",
            vec![member("a1", InstanceState::Running), stuck("a2"), stuck("a3")],
            false,
            true,
            false,
            CLOUD,
            vec![],
            None,
        ),
        (
            "stuck but not mirrored yet: marked in a later pass",
            vec![
                member("a1", InstanceState::Running),
                member("a2", InstanceState::Running),
                stuck("a3"),
            ],
            false,
            false,
            false,
            CLOUD,
            vec![],
            None,
        ),
        (
            "marked and still building on a cloud that cannot delete building members: waits",
            vec![
                member("a1", InstanceState::Running),
                member("a2", InstanceState::Running),
                stuck("a3"),
            ],
            true,
            true,
            false,
            CLOUD,
            vec![],
            None,
        ),
        (
            "marked and still building on a cloud that deletes building members: removed",
            vec![
                member("a1", InstanceState::Running),
                member("a2", InstanceState::Running),
                stuck("a3"),
            ],
            true,
            true,
            false,
            deletes_building,
            vec![],
            Some(vec!["a3"]),
        ),
        (
            "marked and out of BUILD: removed",
            vec![
                member("a1", InstanceState::Running),
                member("a2", InstanceState::Running),
                left_build(),
            ],
            true,
            true,
            false,
            CLOUD,
            vec![],
            Some(vec!["a3"]),
        ),
        (
            "marked and out of BUILD, but an expansion or removal is in flight: waits",
            vec![
                member("a1", InstanceState::Running),
                member("a2", InstanceState::Running),
                left_build(),
            ],
            true,
            true,
            true,
            CLOUD,
            vec![],
            None,
        ),
    ];
    for (why, all, marked, mirrored, busy, cloud, mark, remove) in cases {
        let s = spec(3, in_a(3), json!({}));
        let mut m = mirrors(&s, &all);
        m.retain(|ei| mirrored || members::instance_id(ei) != Some("a3"));
        for ei in &mut m {
            if marked && members::instance_id(ei) == Some("a3") {
                annotate(ei, REPLACE_ANNOTATION);
            }
        }
        let v = view_with(&s, all, m, FleetState::Ready);
        let r = remediate(&v, &s, cloud, busy);
        let marks: Vec<&str> = r
            .mark
            .iter()
            .filter_map(|s| match s {
                Step::MarkForReplacement { id } => Some(id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(marks, mark, "{why}");
        let removed = r.remove.as_ref().map(|s| match s {
            Step::Remove { ids, why } => {
                assert_eq!(*why, Removal::BuildTimeout);
                ids.iter().map(String::as_str).collect::<Vec<_>>()
            }
            other => panic!("not a removal: {other:?}"),
        });
        assert_eq!(removed, remove, "{why}");
    }
}

#[test]
fn a_member_being_replaced_is_not_counted_so_its_replacement_is_added() {
    // a3 is marked (building past the timeout): the plan adds one where it runs, and it is not a
    // scale-in victim although four members are listed for three wanted.
    let s = spec(3, in_a(3), json!({}));
    let all = vec![
        member("a1", InstanceState::Running),
        member("a2", InstanceState::Running),
        stuck("a3"),
    ];
    let mut m = mirrors(&s, &all);
    annotate(&mut m[2], REPLACE_ANNOTATION);
    let v = view_with(&s, all, m, FleetState::Ready);
    assert!(v.replacing.contains("a3"));
    let d = decide_scale(&v, &s, CLOUD);
    assert_eq!(expansion(&d), ["a +1"]);
    assert_eq!(removal(&d), None);
}

#[test]
fn teardown_removes_members_first_and_only_new_ones() {
    let all = vec![
        member("a1", InstanceState::Running),
        member("a2", InstanceState::Deleting),
        member("a3", InstanceState::Deleted),
        member("a4", InstanceState::Failed),
    ];
    let t = teardown(&all, &["a4".to_owned()]);
    assert_eq!(t.left, ["a1", "a4"], "deleted and deleting members are not left");
    assert_eq!(t.new, ["a1"], "a4 is in the removal intent already");
    assert!(t.going, "a2 is being deleted");
    let t = teardown(&[member("a2", InstanceState::Deleted)], &[]);
    assert_eq!(
        t,
        Teardown::default(),
        "nothing left: the edge cloud itself goes next"
    );
}

#[test]
fn a_running_job_is_polled_after_as_long_as_it_has_run_between_two_seconds_and_the_pending_interval() {
    let pending = Duration::from_secs(10);
    let secs = Duration::from_secs;
    let rows = [
        (secs(0), secs(2), "just sent: the first poll comes after 2 s"),
        (
            Duration::from_millis(2_100),
            Duration::from_millis(2_100),
            "then after as long again",
        ),
        (secs(4), secs(4), "doubling"),
        (secs(8), secs(8), "doubling"),
        (
            secs(30),
            pending,
            "a long job: never later than the pending interval",
        ),
    ];
    for (running_for, want, why) in rows {
        assert_eq!(job_poll_after(running_for, pending), want, "{why}");
    }
    assert_eq!(
        job_poll_after(secs(0), secs(1)),
        secs(1),
        "a pending interval under 2 s is not lengthened"
    );
}
