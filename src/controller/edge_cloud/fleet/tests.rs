//! Unit tests of the pure fleet functions; each case says why the expected value is right.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;
use crate::api::common::{DeletionPolicy, ManagementPolicy, ProviderConfigRef};
use crate::api::edge_cloud::{Coverage, EdgeCloudSpec, EdgeInstanceTemplate, FleetStrategy, Remediation};
use crate::provider::Placement;

fn spec(level: CrdLevel, placement: Vec<CrdEntry>, replicas: i32) -> EdgeCloudSpec {
    EdgeCloudSpec {
        provider_config_ref: ProviderConfigRef { name: "acct".into() },
        deletion_policy: DeletionPolicy::Delete,
        management_policy: ManagementPolicy::Manage,
        adopt_id: None,
        name: None,
        description: None,
        replicas,
        coverage: Coverage {
            level,
            policy: CrdPolicy::Centralize,
        },
        placement,
        // From JSON, as the API server hands it over: the cloud-specific section stays unset.
        template: serde_json::from_value::<EdgeInstanceTemplate>(serde_json::json!({
            "flavor": "c6.large.2",
            "image": "img-1",
            "rootVolume": {"type": "SATA", "size": 40},
            "network": {"vpcId": "vpc-1", "nicCount": 1},
            "powerState": "Running",
        }))
        .unwrap(),
        delete_policy: FleetDeletePolicy::SiteBalanced,
        strategy: FleetStrategy::default(),
        remediation: Remediation::default(),
        paused: false,
        veen: None,
        workspace: None,
    }
}

fn city(name: &str, operator: Option<&str>, count: Option<i32>, weight: Option<i32>) -> CrdEntry {
    CrdEntry {
        city: Some(name.into()),
        operator: operator.map(str::to_owned),
        count,
        weight,
        ..CrdEntry::default()
    }
}

fn member(id: &str, city: &str, operator: &str, state: InstanceState) -> ObservedInstance {
    ObservedInstance {
        id: id.into(),
        name: format!("X-{id}"),
        description: String::new(),
        state,
        raw_status: String::new(),
        flavor: Some("c6.large.2".into()),
        image: Some("img-1".into()),
        placement: Placement {
            site_id: Some(format!("site-{city}")),
            city: Some(city.into()),
            operator: Some(operator.into()),
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

#[test]
fn targets_follow_the_coverage_level() {
    let s = spec(
        CrdLevel::City,
        vec![
            city("xi'an", None, None, Some(2)),
            city("changsha", None, Some(1), None),
        ],
        5,
    );
    let t = targets(&s).unwrap();
    let counts: Vec<(String, u32)> = t.iter().map(|t| (t.key(), t.count)).collect();
    // Fixed count first (changsha 1), the remaining 4 all to the only weighted entry.
    assert_eq!(counts, [("changsha".to_owned(), 1), ("xi'an".to_owned(), 4)]);
    // An entry naming a province on a city-level fleet names no location at that level.
    let bad = spec(
        CrdLevel::City,
        vec![CrdEntry {
            province: Some("hunan".into()),
            count: Some(1),
            ..CrdEntry::default()
        }],
        1,
    );
    assert!(matches!(
        targets(&bad),
        Err(SpecError::NoLocation { index: 0, .. })
    ));
    assert!(matches!(
        targets(&spec(CrdLevel::City, vec![city("a", None, Some(3), None)], 2)),
        Err(SpecError::Placement(_))
    ));
}

#[test]
fn members_count_towards_the_matching_entry() {
    let s = spec(
        CrdLevel::City,
        vec![
            city("xi'an", Some("chinatelecom"), Some(1), None),
            city("xi'an", None, Some(1), None),
        ],
        2,
    );
    let t = targets(&s).unwrap();
    let level = level(&s);
    // An entry with the member's operator wins (case-insensitive) over the entry without one.
    assert_eq!(
        member_key(
            level,
            &t,
            &member("a", "xi'an", "ChinaTelecom", InstanceState::Running)
        ),
        "xi'an/chinatelecom"
    );
    assert_eq!(
        member_key(
            level,
            &t,
            &member("b", "xi'an", "chinaunicom", InstanceState::Running)
        ),
        "xi'an"
    );
    // A member where no entry points is keyed by its own location (removed first on scale-in).
    assert_eq!(
        member_key(
            level,
            &t,
            &member("c", "wuhan", "chinatelecom", InstanceState::Running)
        ),
        "wuhan/chinatelecom"
    );
}

#[test]
fn counts_and_rows_see_only_live_members() {
    let s = spec(CrdLevel::City, vec![city("xi'an", None, Some(3), None)], 3);
    let t = targets(&s).unwrap();
    let all = [
        member("a", "xi'an", "x", InstanceState::Running),
        member("b", "xi'an", "x", InstanceState::Creating),
        member("c", "xi'an", "x", InstanceState::Failed),
        member("d", "xi'an", "x", InstanceState::Deleting),
        member("e", "xi'an", "x", InstanceState::Running),
    ];
    let pending = vec!["e".to_owned()];
    let live: Vec<&ObservedInstance> = all.iter().filter(|m| is_live(m, &pending)).collect();
    // d is being deleted and e is chosen for removal: neither counts.
    let c = counts(&s, &live, &BTreeSet::new());
    assert_eq!(
        c,
        Counts {
            replicas: 3,
            ready: 1,
            available: 1,
            updated: 3,
            failed: 1
        }
    );
    let rows = placement_rows(&s, &t, &live);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].desired, rows[0].current, rows[0].ready), (3, 3, 1));
    assert_eq!(rows[0].site_ids, ["site-xi'an"]);
}

#[test]
fn updated_compares_flavor_and_image() {
    let s = spec(CrdLevel::City, vec![city("a", None, Some(1), None)], 1);
    let mut m = member("a", "a", "x", InstanceState::Running);
    assert!(is_updated(&m, &s));
    m.image = Some("img-old".into());
    assert!(!is_updated(&m, &s), "another image is outdated");
    m.image = None;
    assert!(
        is_updated(&m, &s),
        "an image the cloud does not show is not held against it"
    );
}

#[test]
fn scaled_values_round_as_documented() {
    let pct = |s: &str| IntOrString::String(s.into());
    assert_eq!(scaled_value(&IntOrString::Int(2), 10, false), 2);
    assert_eq!(scaled_value(&pct("25%"), 10, false), 2, "2.5 rounds down");
    assert_eq!(scaled_value(&pct("25%"), 10, true), 3, "2.5 rounds up");
    assert_eq!(scaled_value(&pct("junk"), 10, true), 0, "malformed counts 0");
    let mut s = spec(CrdLevel::City, vec![city("a", None, Some(4), None)], 4);
    assert_eq!(min_available(&s), 4, "default maxUnavailable is 0");
    s.strategy.rolling_update.max_unavailable = Some(pct("50%"));
    assert_eq!(min_available(&s), 2);
}

#[test]
fn member_names_are_short_stable_and_valid() {
    let mut ec = EdgeCloud::new(
        "a.very-long-edge-cloud-name-that-goes-on-and-on-and-on",
        spec(CrdLevel::City, vec![], 0),
    );
    ec.metadata.namespace = Some("ns".into());
    let n = member_name(&ec, "instance-1");
    assert!(n.len() <= 48, "{n}");
    assert!(!n.contains('.'), "{n}");
    assert_eq!(n, member_name(&ec, "instance-1"), "deterministic");
    assert_ne!(n, member_name(&ec, "instance-2"));
}

#[test]
fn plan_requests_carry_only_positive_targets_and_hash_without_secrets() {
    let ec = EdgeCloud::new("fleet", spec(CrdLevel::City, vec![], 0));
    let refs = ResolvedRefs {
        vpc_id: "vpc-1".into(),
        admin_password: Some(SecretString::new("Secret-1!")),
        ..ResolvedRefs::default()
    };
    let tpl = instance_template(&ec, &refs);
    assert_eq!(tpl.name, "fleet", "the template name defaults to the cloud name");
    let targets = vec![
        SiteTarget {
            site: "a".into(),
            operator: None,
            pool_id: None,
            count: 0,
        },
        SiteTarget {
            site: "b".into(),
            operator: None,
            pool_id: None,
            count: 2,
        },
    ];
    let r = plan_request(&ec, FleetPlanTarget::New { name: "fleet".into() }, &targets, &tpl);
    assert_eq!(r.targets.len(), 1);
    let h = params_hash(&r);
    assert!(!h.contains("Secret"));
    let mut other = refs.clone();
    other.admin_password = Some(SecretString::new("Other-2!"));
    assert_eq!(
        h,
        params_hash(&plan_request(
            &ec,
            FleetPlanTarget::New { name: "fleet".into() },
            &targets,
            &instance_template(&ec, &other)
        )),
        "secrets enter the hash by presence only"
    );
}

#[test]
fn members_building_past_the_timeout_are_stuck() {
    let t = |s: &str| {
        s.parse::<k8s_openapi::jiff::Timestamp>()
            .unwrap()
            .as_millisecond()
    };
    let mut old = member("old", "a", "x", InstanceState::Creating);
    old.created = Some("2026-01-01T00:00:00Z".into());
    let mut young = member("young", "a", "x", InstanceState::Creating);
    young.created = Some("2026-01-01T00:29:00Z".into());
    let mut built = member("built", "a", "x", InstanceState::Running);
    built.created = Some("2026-01-01T00:00:00Z".into());
    let mut unknown = member("unknown", "a", "x", InstanceState::Creating);
    unknown.created = Some("yesterday".into());
    let live = [&old, &young, &built, &unknown];
    let now = t("2026-01-01T00:31:00Z");
    let stuck: Vec<&str> = stuck_members(&live, now, std::time::Duration::from_secs(30 * 60))
        .iter()
        .map(|m| m.id.as_str())
        .collect();
    // Only a member still building 31 minutes after creation; a built one, a young one and one without a
    // readable creation time are not.
    assert_eq!(stuck, ["old"]);
}

#[test]
fn the_fingerprint_covers_exactly_the_fields_the_cloud_does_not_show() {
    use crate::api::edge_instance::{Bandwidth, DataVolume};
    let base = spec(CrdLevel::City, vec![city("a", None, Some(1), None)], 1);
    let f = hidden_fingerprint(&base);
    assert_eq!(f.len(), 16);
    assert_eq!(f, hidden_fingerprint(&base.clone()), "deterministic");
    // Flavor, image and network are observed on the instances (or changed in place): not in it.
    let mut other = base.clone();
    other.template.flavor = "c6.xlarge.2".into();
    other.template.image = "img-2".into();
    other.replicas = 7;
    assert_eq!(hidden_fingerprint(&other), f);
    // Each field the cloud never shows back changes it.
    type Change = Box<dyn Fn(&mut EdgeCloudSpec)>;
    let changes: Vec<(&str, Change)> = vec![
        ("root volume size", Box::new(|s| s.template.root_volume.size = 80)),
        (
            "root volume type",
            Box::new(|s| s.template.root_volume.type_ = "SAS".into()),
        ),
        (
            "a data volume",
            Box::new(|s| {
                s.template.data_volumes = vec![
                    serde_json::from_value::<DataVolume>(serde_json::json!({"type": "SATA", "size": 100}))
                        .unwrap(),
                ]
            }),
        ),
        (
            "bandwidth",
            Box::new(|s| {
                s.template.bandwidth =
                    Some(serde_json::from_value::<Bandwidth>(serde_json::json!({"size": 10})).unwrap())
            }),
        ),
        ("key pair", Box::new(|s| s.template.key_name = Some("ops".into()))),
    ];
    for (what, change) in changes {
        let mut s = base.clone();
        change(&mut s);
        assert_ne!(hidden_fingerprint(&s), f, "{what} is part of the fingerprint");
    }
}

#[test]
fn stale_members_are_replaced_not_changed_in_place_and_not_up_to_date() {
    let s = spec(CrdLevel::City, vec![city("a", None, Some(3), None)], 3);
    let current = hidden_fingerprint(&s);
    let a = member("a", "a", "x", InstanceState::Running);
    let mut b = member("b", "a", "x", InstanceState::Running);
    b.image = Some("img-old".into());
    let c = member("c", "a", "x", InstanceState::Running);
    let live = [&a, &b, &c];
    // a: recorded with the current fingerprint; b: with an older one; c: no record (not held against).
    let recorded = BTreeMap::from([
        ("a".to_owned(), current.clone()),
        ("b".to_owned(), "0000000000000000".to_owned()),
    ]);
    let stale = stale_members(&live, &recorded, &current);
    assert_eq!(stale, BTreeSet::from(["b".to_owned()]));
    assert_eq!(
        counts(&s, &live, &stale).updated,
        2,
        "a stale member is not up to date"
    );
    assert!(
        !image_outdated(&b, &s, "vpc-1", &stale),
        "a member replaced anyway gets no in-place image change"
    );
    assert!(image_outdated(&b, &s, "vpc-1", &BTreeSet::new()));
}

#[test]
fn build_remediation_marks_within_budget_and_removes_once_built() {
    let building = member("building", "a", "x", InstanceState::Creating);
    let stuck_new = member("stuck-new", "a", "x", InstanceState::Creating);
    let left_build = member("left-build", "a", "x", InstanceState::Running);
    let failed_after = member("failed-after", "a", "x", InstanceState::Failed);
    let live = [&building, &stuck_new, &left_build, &failed_after];
    let marked = BTreeSet::from([
        "building".to_owned(),
        "left-build".to_owned(),
        "failed-after".to_owned(),
    ]);
    let stuck = [&building, &stuck_new];
    let r = plan_build_remediation(&live, &marked, &stuck, true, false);
    // Marked members that are no longer building can be deleted now (whatever they became); the one
    // still building waits; the newly stuck one is marked.
    assert_eq!(r.remove, ["failed-after", "left-build"]);
    assert_eq!(r.mark, ["stuck-new"]);
    // Over the maxUnhealthy budget nothing new is marked, but marked members still go once built.
    let r = plan_build_remediation(&live, &marked, &stuck, false, false);
    assert!(r.mark.is_empty());
    assert_eq!(r.remove, ["failed-after", "left-build"]);
    // A cloud that deletes building members lets every marked member go at once.
    let r = plan_build_remediation(&live, &marked, &stuck, true, true);
    assert_eq!(r.remove, ["building", "failed-after", "left-build"]);
}

#[test]
fn members_being_replaced_do_not_count_so_the_plan_adds_their_replacement() {
    use crate::provider::plan::{DeletePolicy, plan_fleet_scale};
    let s = spec(CrdLevel::City, vec![city("a", None, Some(2), None)], 2);
    let t = targets(&s).unwrap();
    let ok = member("ok", "a", "x", InstanceState::Running);
    let stuck = member("stuck", "a", "x", InstanceState::Creating);
    let live = [&ok, &stuck];
    let replacing = BTreeSet::from(["stuck".to_owned()]);
    let views = member_views(&s, &t, &live, &BTreeSet::new(), &replacing);
    let plan = plan_fleet_scale(&t, &views, DeletePolicy::SiteBalanced, true, true);
    assert_eq!(plan.add.len(), 1);
    assert_eq!(
        plan.add[0].count, 1,
        "one replacement where the stuck member runs"
    );
    assert!(
        plan.remove.is_empty(),
        "the stuck member is not chosen by the scale plan"
    );
    // Once the replacement exists, nothing more is added.
    let repl = member("repl", "a", "x", InstanceState::Running);
    let live = [&ok, &stuck, &repl];
    let views = member_views(&s, &t, &live, &BTreeSet::new(), &replacing);
    let plan = plan_fleet_scale(&t, &views, DeletePolicy::SiteBalanced, true, true);
    assert!(plan.add.is_empty() && plan.remove.is_empty(), "{plan:?}");
}

#[test]
fn members_are_created_with_the_finalizer_and_adopt_their_instance() {
    // The EdgeInstance controller would add the finalizer when it adopts the member; carrying it from
    // the create saves a write per member.
    let mut ec = EdgeCloud::new("fleet", spec(CrdLevel::City, vec![], 1));
    ec.metadata.namespace = Some("ns".into());
    ec.metadata.uid = Some("uid-1".into());
    let m = member("i-1", "shanghai", "chinatelecom", InstanceState::Running);
    let refs = ResolvedRefs {
        vpc_id: "vpc-1".into(),
        ..ResolvedRefs::default()
    };
    let ei = crate::controller::edge_cloud::members::mirror(&ec, &m, &refs, "fp");
    assert_eq!(
        ei.metadata.finalizers,
        Some(vec![crate::api::FINALIZER.to_owned()])
    );
    assert_eq!(ei.spec.adopt_id.as_deref(), Some("i-1"));
    assert_eq!(ei.metadata.namespace.as_deref(), Some("ns"));
}

#[test]
fn template_findings_name_the_template_field_first_and_keep_the_others() {
    assert!(check_template(&[]).is_ok());
    let findings = vec![
        InstanceFieldError::invalid(InstanceField::RootVolumeSize, "200 GB; the cloud takes 40–100 GB"),
        InstanceFieldError::invalid(InstanceField::DataVolumes, "3 data disks; at most 2"),
    ];
    let err = check_template(&findings).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.template.rootVolume.size: 200 GB; the cloud takes 40–100 GB; spec.template.dataVolumes: 3 data disks; at most 2"
    );
}

#[test]
fn a_provider_section_of_another_cloud_is_refused_naming_it() {
    let iec = crate::provider::iec::capabilities();
    let veen = crate::provider::veen::capabilities();
    let mut s = spec(CrdLevel::City, vec![], 1);
    assert!(check_cloud_fit(&s, &iec).is_ok() && check_cloud_fit(&s, &veen).is_ok());
    s.veen = Some(crate::api::edge_cloud::VeenEdgeCloudSpec::default());
    assert!(check_cloud_fit(&s, &veen).is_ok());
    let err = check_cloud_fit(&s, &iec).unwrap_err().to_string();
    assert!(
        err.starts_with("spec.veen: this section is for provider"),
        "{err}"
    );
    assert!(matches!(fleet_ext(&s), FleetExt::Veen(_)));
}

#[test]
fn spec_workspace_is_for_workspace_only_and_goes_out_in_the_api_spelling() {
    use crate::api::edge_cloud::{
        WorkspaceAppType, WorkspaceEdgeCloudSpec, WorkspaceImageType, WorkspaceOsType, WorkspaceRoutePolicy,
    };
    let iec = crate::provider::iec::capabilities();
    let workspace = crate::provider::workspace::capabilities();
    let mut s = spec(CrdLevel::Site, vec![], 1);
    s.workspace = Some(WorkspaceEdgeCloudSpec {
        subnet_id: "subnet-1".into(),
        image_type: WorkspaceImageType::Other,
        image_product_id: Some("00301-2019002-0--0".into()),
        os_type: WorkspaceOsType::Windows,
        flavor_id: None,
        is_vdi: Some(true),
        app_type: Some(WorkspaceAppType::SessionDesktopApp),
        route_policy: Some(WorkspaceRoutePolicy {
            max_session: Some(4),
            cpu_threshold: Some(80),
            mem_threshold: None,
        }),
        ou_name: Some("apps".into()),
    });
    assert!(check_cloud_fit(&s, &workspace).is_ok());
    let err = check_cloud_fit(&s, &iec).unwrap_err().to_string();
    assert!(
        err.starts_with("spec.workspace: this section is for provider"),
        "{err}"
    );
    let FleetExt::Workspace(x) = fleet_ext(&s) else {
        panic!("spec.workspace is the Workspace fleet section");
    };
    assert_eq!(
        (x.image_type.as_str(), x.os_type.as_str(), x.app_type.as_deref()),
        ("other", "Windows", Some("SESSION_DESKTOP_APP")),
        "the API's own words"
    );
    assert_eq!(x.subnet_id.as_deref(), Some("subnet-1"));
    assert_eq!(x.image_product_id.as_deref(), Some("00301-2019002-0--0"));
    assert_eq!(
        (x.max_session, x.cpu_threshold, x.mem_threshold),
        (Some(4), Some(80), None)
    );
    assert_eq!((x.is_vdi, x.ou_name.as_deref()), (Some(true), Some("apps")));
}

#[test]
fn the_fleet_findings_name_the_first_field_and_list_the_rest() {
    use crate::provider::FieldError;
    assert!(check_fleet(&[]).is_ok());
    let err = check_fleet(&[
        FieldError::invalid("spec.coverage.level".to_owned(), "use Site"),
        FieldError::invalid("spec.placement".to_owned(), "one zone"),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.coverage.level: use Site; spec.placement: one zone"
    );
}
