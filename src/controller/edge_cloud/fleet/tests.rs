//! Unit tests of the pure fleet pieces; each case says why the expected value is right.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;
use crate::api::common::{DeletionPolicy, ManagementPolicy, ProviderConfigRef};
use crate::api::edge_cloud::{
    Coverage, EdgeCloudSpec, EdgeInstanceTemplate, FleetStrategy, Remediation, TemplateNetwork,
};
use crate::api::edge_instance::RootVolume;
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
        template: EdgeInstanceTemplate {
            name: None,
            flavor: "c6.large.2".into(),
            image: "img-1".into(),
            root_volume: RootVolume {
                type_: "SATA".into(),
                size: 40,
            },
            data_volumes: vec![],
            network: TemplateNetwork {
                vpc_ref: None,
                vpc_id: Some("vpc-1".into()),
                nic_count: 1,
                security_group_refs: vec![],
                security_group_ids: vec![],
            },
            bandwidth: None,
            key_name: None,
            admin_password_secret_ref: None,
            user_data_secret_ref: None,
            power_state: CrdPower::Running,
            iec: None,
        },
        delete_policy: FleetDeletePolicy::SiteBalanced,
        strategy: FleetStrategy::default(),
        remediation: Remediation::default(),
        paused: false,
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
        name: format!("IEC-X-{id}"),
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
    let c = counts(&s, &live);
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
