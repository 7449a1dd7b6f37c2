//! Table-driven tests of the pure planners; every case states why the expected plan is right.

use super::*;
use crate::provider::iec;

fn caps() -> Capabilities {
    iec::capabilities()
}

// ---------------------------------------------------------------------------------------------------------
// VPC
// ---------------------------------------------------------------------------------------------------------

fn subnet(name: &str, site: &str, cidr: &str) -> SubnetSpec {
    SubnetSpec {
        name: name.into(),
        cidr: cidr.into(),
        gateway_ip: None,
        site_id: site.into(),
        dhcp_enable: true,
        primary_dns: None,
        secondary_dns: None,
    }
}

fn observed_subnet(id: &str, s: &SubnetSpec) -> ObservedSubnet {
    ObservedSubnet {
        id: id.into(),
        name: s.name.clone(),
        cidr: s.cidr.clone(),
        gateway_ip: None,
        vpc_id: "v1".into(),
        site_id: Some(s.site_id.clone()),
        state: SubnetState::Active,
        dhcp_enable: Some(s.dhcp_enable),
        primary_dns: None,
        secondary_dns: None,
    }
}

fn vpc(mode: VpcMode, subnets: Vec<SubnetSpec>) -> VpcSpec {
    VpcSpec {
        ext: VpcExt::None,
        name: "net".into(),
        cidr: "10.0.0.0/16".into(),
        mode,
        subnets,
    }
}

fn observed_vpc(spec: &VpcSpec) -> ObservedVpc {
    ObservedVpc {
        id: "v1".into(),
        name: spec.name.clone(),
        cidr: spec.cidr.clone(),
        mode: Some(spec.mode),
        subnet_count: spec.subnets.len() as u32,
        subnets: spec
            .subnets
            .iter()
            .enumerate()
            .map(|(i, s)| observed_subnet(&format!("s{i}"), s))
            .collect(),
        busy: false,
    }
}

#[test]
fn vpc_plans() {
    let a = subnet("a", "site1", "10.0.1.0/24");
    let b = subnet("b", "site2", "10.0.2.0/24");
    let customer = vpc(VpcMode::Customer, vec![a.clone(), b.clone()]);
    struct Case {
        reason: &'static str,
        desired: VpcSpec,
        observed: Option<ObservedVpc>,
        want: Vec<VpcAction>,
    }
    let cases = vec![
        Case {
            reason: "no action when observed equals desired",
            desired: customer.clone(),
            observed: Some(observed_vpc(&customer)),
            want: vec![],
        },
        Case {
            reason: "missing VPC is created together with its customer subnets",
            desired: customer.clone(),
            observed: None,
            want: vec![
                VpcAction::Create,
                VpcAction::CreateSubnet(a.clone()),
                VpcAction::CreateSubnet(b.clone()),
            ],
        },
        Case {
            reason: "SYSTEM VPCs never get manual subnets (IEC.020107)",
            desired: vpc(VpcMode::System, vec![a.clone()]),
            observed: None,
            want: vec![VpcAction::Create],
        },
        Case {
            reason: "system-created subnets of a SYSTEM VPC are never deleted",
            desired: vpc(VpcMode::System, vec![]),
            observed: Some(observed_vpc(&vpc(VpcMode::System, vec![a.clone()]))),
            want: vec![],
        },
        Case {
            reason: "name and cidr change in place on IEC",
            desired: VpcSpec {
                name: "renamed".into(),
                cidr: "10.1.0.0/16".into(),
                ..customer.clone()
            },
            observed: Some(observed_vpc(&customer)),
            want: vec![VpcAction::Update(VpcUpdate {
                name: Some("renamed".into()),
                cidr: Some("10.1.0.0/16".into()),
            })],
        },
        Case {
            reason: "mode cannot change: reported, never acted on",
            desired: VpcSpec {
                mode: VpcMode::System,
                subnets: vec![],
                ..customer.clone()
            },
            observed: Some(ObservedVpc {
                subnets: vec![],
                ..observed_vpc(&customer)
            }),
            want: vec![VpcAction::RequiresReplacement { fields: vec!["mode"] }],
        },
        Case {
            reason: "extra customer subnet deleted, missing one created (matched on site+cidr)",
            desired: vpc(VpcMode::Customer, vec![a.clone()]),
            observed: Some(observed_vpc(&vpc(VpcMode::Customer, vec![b.clone()]))),
            want: vec![
                VpcAction::CreateSubnet(a.clone()),
                VpcAction::DeleteSubnet { id: "s0".into() },
            ],
        },
        Case {
            reason: "subnet rename is an in-place update, not a replacement",
            desired: vpc(VpcMode::Customer, vec![subnet("a2", "site1", "10.0.1.0/24")]),
            observed: Some(observed_vpc(&vpc(VpcMode::Customer, vec![a.clone()]))),
            want: vec![VpcAction::UpdateSubnet {
                id: "s0".into(),
                update: SubnetUpdate {
                    name: Some("a2".into()),
                    ..SubnetUpdate::default()
                },
            }],
        },
    ];
    for c in cases {
        assert_eq!(
            plan_vpc(&c.desired, c.observed.as_ref(), &caps()),
            c.want,
            "{}",
            c.reason
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// Security groups
// ---------------------------------------------------------------------------------------------------------

fn tcp(port: u16) -> RuleSpec {
    RuleSpec {
        protocol: Some("tcp".into()),
        port_min: Some(port),
        port_max: Some(port),
        ..RuleSpec::allow(Direction::Ingress, EtherType::Ipv4)
    }
}

fn sg(rules: Vec<RuleSpec>, mode: RuleMode, keep_defaults: bool) -> SecurityGroupSpec {
    SecurityGroupSpec {
        name: "web".into(),
        description: "d".into(),
        rules,
        mode,
        keep_cloud_default_rules: keep_defaults,
    }
}

fn observed_sg(rules: Vec<(&str, RuleSpec)>) -> ObservedSecurityGroup {
    ObservedSecurityGroup {
        id: "g".into(),
        name: "web".into(),
        description: "d".into(),
        rules: rules
            .into_iter()
            .map(|(id, rule)| ObservedRule { id: id.into(), rule })
            .collect(),
    }
}

#[test]
fn security_group_plans() {
    let egress4 = RuleSpec::allow(Direction::Egress, EtherType::Ipv4);
    let upper_tcp22 = RuleSpec {
        protocol: Some("TCP".into()),
        ..tcp(22)
    };
    struct Case {
        reason: &'static str,
        desired: SecurityGroupSpec,
        observed: Option<ObservedSecurityGroup>,
        want: Vec<SgAction>,
    }
    let cases = vec![
        Case {
            reason: "no action when observed equals desired",
            desired: sg(vec![tcp(22)], RuleMode::Authoritative, true),
            observed: Some(observed_sg(vec![("r1", tcp(22)), ("r2", egress4.clone())])),
            want: vec![],
        },
        Case {
            reason: "normalised fingerprints match despite the cloud's upper-case protocol",
            desired: sg(vec![tcp(22)], RuleMode::Authoritative, false),
            observed: Some(observed_sg(vec![("r1", upper_tcp22.clone())])),
            want: vec![],
        },
        Case {
            reason: "missing group: create it, then its rules",
            desired: sg(vec![tcp(22), tcp(22)], RuleMode::Authoritative, true),
            observed: None,
            want: vec![SgAction::Create, SgAction::CreateRule(tcp(22))],
        },
        Case {
            reason: "authoritative: changed port = create new + delete old (rules are immutable); create first",
            desired: sg(vec![tcp(443)], RuleMode::Authoritative, false),
            observed: Some(observed_sg(vec![("r1", tcp(22))])),
            want: vec![
                SgAction::CreateRule(tcp(443)),
                SgAction::DeleteRule {
                    id: "r1".into(),
                    fingerprint: tcp(22).fingerprint(),
                },
            ],
        },
        Case {
            reason: "additive: extra rules are left alone",
            desired: sg(vec![tcp(443)], RuleMode::Additive, false),
            observed: Some(observed_sg(vec![("r1", tcp(22))])),
            want: vec![SgAction::CreateRule(tcp(443))],
        },
        Case {
            reason: "authoritative without keeping defaults deletes the cloud's default egress rule",
            desired: sg(vec![], RuleMode::Authoritative, false),
            observed: Some(observed_sg(vec![("r9", egress4.clone())])),
            want: vec![SgAction::DeleteRule {
                id: "r9".into(),
                fingerprint: egress4.fingerprint(),
            }],
        },
        Case {
            reason: "duplicates left by a crash are deleted, keeping the lowest id",
            desired: sg(vec![tcp(22)], RuleMode::Authoritative, false),
            observed: Some(observed_sg(vec![("rb", tcp(22)), ("ra", tcp(22))])),
            want: vec![SgAction::DeleteRule {
                id: "rb".into(),
                fingerprint: tcp(22).fingerprint(),
            }],
        },
        Case {
            reason: "description drift cannot be fixed on IEC: reported",
            desired: SecurityGroupSpec {
                description: "new".into(),
                ..sg(vec![], RuleMode::Additive, true)
            },
            observed: Some(observed_sg(vec![])),
            want: vec![SgAction::CannotUpdate {
                fields: vec!["description"],
            }],
        },
    ];
    for c in cases {
        assert_eq!(
            plan_security_group(&c.desired, c.observed.as_ref(), &caps()),
            c.want,
            "{}",
            c.reason
        );
    }
}

#[test]
fn where_rules_change_in_place_a_changed_rule_is_one_update_of_the_same_direction() {
    let caps = Capabilities {
        rule_update: true,
        ..caps()
    };
    let egress = RuleSpec::allow(Direction::Egress, EtherType::Ipv4);
    let plan = plan_security_group(
        &sg(vec![tcp(443), tcp(80)], RuleMode::Authoritative, false),
        Some(&observed_sg(vec![("r1", egress.clone()), ("r2", tcp(22))])),
        &caps,
    );
    assert_eq!(
        plan,
        vec![
            SgAction::UpdateRule {
                id: "r2".into(),
                fingerprint: tcp(22).fingerprint(),
                rule: tcp(443),
            },
            SgAction::UpdateRule {
                id: "r1".into(),
                fingerprint: egress.fingerprint(),
                rule: tcp(80),
            },
        ],
        "the ingress rule becomes the first ingress rule; the other takes what is left"
    );
    let plan = plan_security_group(
        &sg(vec![tcp(443), tcp(80)], RuleMode::Authoritative, false),
        Some(&observed_sg(vec![("r2", tcp(22))])),
        &caps,
    );
    assert_eq!(
        plan,
        vec![
            SgAction::UpdateRule {
                id: "r2".into(),
                fingerprint: tcp(22).fingerprint(),
                rule: tcp(443),
            },
            SgAction::CreateRule(tcp(80)),
        ],
        "more missing than extra: the rest are created"
    );
    let plan = plan_security_group(
        &sg(vec![tcp(443)], RuleMode::Additive, false),
        Some(&observed_sg(vec![("r2", tcp(22))])),
        &caps,
    );
    assert_eq!(
        plan,
        vec![SgAction::CreateRule(tcp(443))],
        "additive: no rule is taken over"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Instances
// ---------------------------------------------------------------------------------------------------------

fn spec() -> InstanceSpec {
    InstanceSpec {
        name: "ef-1234".into(),
        description: "edgefleet:uid".into(),
        flavor: "c6.large.2".into(),
        image: "img-a".into(),
        site: "site1".into(),
        area: None,
        pool_id: None,
        operator: None,
        vpc_id: "vpc".into(),
        subnet_ids: vec!["sub".into()],
        security_group_ids: vec!["sg".into()],
        root_volume: VolumeSpec {
            size_gb: 40,
            volume_type: "SAS".into(),
        },
        data_volumes: vec![],
        key_name: Some("key".into()),
        admin_password: None,
        user_data: None,
        bandwidth: None,
        power: PowerState::Running,
        fleet_id: None,
        ext: InstanceExt::None,
    }
}

fn observed(state: InstanceState) -> ObservedInstance {
    let s = spec();
    ObservedInstance {
        id: "i1".into(),
        name: s.name.clone(),
        description: s.description.clone(),
        state,
        raw_status: String::new(),
        flavor: Some(s.flavor.clone()),
        image: Some(s.image.clone()),
        placement: Placement {
            site_id: Some(s.site.clone()),
            ..Placement::default()
        },
        fleet_id: None,
        private_ips: vec![],
        public_ips: vec![],
        nics: vec![],
        security_groups: vec!["sg".into()],
        vpc_id: Some("vpc".into()),
        key_name: s.key_name.clone(),
        created: None,
        tags: BTreeMap::new(),
    }
}

#[test]
fn instance_plans() {
    let hash = spec().unobservable_hash();
    struct Case {
        reason: &'static str,
        desired: InstanceSpec,
        observed: ObservedInstance,
        applied_hash: Option<String>,
        want: Vec<InstanceAction>,
    }
    let change_os = |image: &str| {
        InstanceAction::ChangeOs(ChangeOs {
            image: image.into(),
            key_name: Some("key".into()),
            user_data: None,
        })
    };
    let cases = vec![
        Case {
            reason: "no action when observed equals desired",
            desired: spec(),
            observed: observed(InstanceState::Running),
            applied_hash: Some(hash.clone()),
            want: vec![],
        },
        Case {
            reason: "name and description change in place",
            desired: InstanceSpec {
                name: "ef-new".into(),
                description: "x".into(),
                ..spec()
            },
            observed: observed(InstanceState::Running),
            applied_hash: None,
            want: vec![InstanceAction::Update(InstanceUpdate {
                name: Some("ef-new".into()),
                description: Some("x".into()),
            })],
        },
        Case {
            reason: "flavor cannot change in place on IEC: replace",
            desired: InstanceSpec {
                flavor: "c6.xlarge.2".into(),
                ..spec()
            },
            observed: observed(InstanceState::Running),
            applied_hash: None,
            want: vec![InstanceAction::Replace {
                fields: vec!["flavor"],
            }],
        },
        Case {
            reason: "replace wins over in-place changes in the same pass",
            desired: InstanceSpec {
                site: "site2".into(),
                description: "y".into(),
                ..spec()
            },
            observed: observed(InstanceState::Running),
            applied_hash: None,
            want: vec![InstanceAction::Replace { fields: vec!["site"] }],
        },
        Case {
            reason: "image differs on a running instance: stop first (change-OS needs SHUTOFF)",
            desired: InstanceSpec {
                image: "img-b".into(),
                ..spec()
            },
            observed: observed(InstanceState::Running),
            applied_hash: None,
            want: vec![InstanceAction::Stop { for_change_os: true }],
        },
        Case {
            reason: "image differs on a stopped instance: change OS now, start on a later pass",
            desired: InstanceSpec {
                image: "img-b".into(),
                ..spec()
            },
            observed: observed(InstanceState::Stopped),
            applied_hash: None,
            want: vec![change_os("img-b")],
        },
        Case {
            reason: "keypair change is done by change-OS with the same image",
            desired: InstanceSpec {
                key_name: Some("key".into()),
                ..spec()
            },
            observed: ObservedInstance {
                key_name: Some("old".into()),
                ..observed(InstanceState::Stopped)
            },
            applied_hash: None,
            want: vec![change_os("img-a")],
        },
        Case {
            reason: "password changed since create: IEC cannot set it later, so replace",
            desired: InstanceSpec {
                admin_password: Some("N3w-Passw0rd".into()),
                ..spec()
            },
            observed: observed(InstanceState::Running),
            applied_hash: Some(hash.clone()),
            want: vec![InstanceAction::Replace {
                fields: vec!["unobservable"],
            }],
        },
        Case {
            reason: "unknown applied hash (adopted instance) never forces a replace",
            desired: InstanceSpec {
                admin_password: Some("N3w-Passw0rd".into()),
                ..spec()
            },
            observed: observed(InstanceState::Running),
            applied_hash: None,
            want: vec![],
        },
        Case {
            reason: "desired stopped, observed running: stop",
            desired: InstanceSpec {
                power: PowerState::Stopped,
                ..spec()
            },
            observed: observed(InstanceState::Running),
            applied_hash: None,
            want: vec![InstanceAction::Stop { for_change_os: false }],
        },
        Case {
            reason: "desired running, observed stopped: start",
            desired: spec(),
            observed: observed(InstanceState::Stopped),
            applied_hash: None,
            want: vec![InstanceAction::Start],
        },
        Case {
            reason: "transient cloud state: wait, do nothing",
            desired: InstanceSpec {
                flavor: "other".into(),
                ..spec()
            },
            observed: observed(InstanceState::Creating),
            applied_hash: None,
            want: vec![InstanceAction::Wait {
                state: InstanceState::Creating,
            }],
        },
        Case {
            reason: "failed instance is replaced",
            desired: spec(),
            observed: observed(InstanceState::Failed),
            applied_hash: None,
            want: vec![InstanceAction::Replace {
                fields: vec!["state"],
            }],
        },
        Case {
            reason: "security groups reported by name only are not a difference",
            desired: spec(),
            observed: ObservedInstance {
                security_groups: vec!["stock_sg_x".into()],
                ..observed(InstanceState::Running)
            },
            applied_hash: None,
            want: vec![],
        },
    ];
    for c in cases {
        let ctx = InstanceContext {
            observed: &c.observed,
            applied_unobservable_hash: c.applied_hash.as_deref(),
            expected_cloud_name: None,
        };
        assert_eq!(plan_instance(&c.desired, &ctx, &caps()), c.want, "{}", c.reason);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Placement
// ---------------------------------------------------------------------------------------------------------

fn entry(site: &str, count: Option<u32>, weight: Option<u32>) -> PlacementEntry {
    PlacementEntry {
        site: site.into(),
        operator: None,
        pool_id: None,
        count,
        weight,
    }
}

fn counts(targets: &[SiteTarget]) -> Vec<(String, u32)> {
    targets.iter().map(|t| (t.key(), t.count)).collect()
}

#[test]
fn placement_resolution() {
    struct Case {
        reason: &'static str,
        replicas: u32,
        entries: Vec<PlacementEntry>,
        want: Result<Vec<(&'static str, u32)>, PlacementError>,
    }
    let cases = vec![
        Case {
            reason: "equal weights split evenly; the remainder goes to the smaller key",
            replicas: 5,
            entries: vec![entry("b", None, None), entry("a", None, None)],
            want: Ok(vec![("a", 3), ("b", 2)]),
        },
        Case {
            reason: "fixed counts first, the rest by weight",
            replicas: 10,
            entries: vec![
                entry("a", Some(4), None),
                entry("b", None, Some(1)),
                entry("c", None, Some(2)),
            ],
            want: Ok(vec![("a", 4), ("b", 2), ("c", 4)]),
        },
        Case {
            reason: "largest remainder: 7 over weights 1:1:1 → 3,2,2 (ties by key)",
            replicas: 7,
            entries: vec![
                entry("c", None, Some(1)),
                entry("a", None, Some(1)),
                entry("b", None, Some(1)),
            ],
            want: Ok(vec![("a", 3), ("b", 2), ("c", 2)]),
        },
        Case {
            reason: "largest remainder beats key order: 3 over 1:2 → 1,2",
            replicas: 3,
            entries: vec![entry("a", None, Some(1)), entry("b", None, Some(2))],
            want: Ok(vec![("a", 1), ("b", 2)]),
        },
        Case {
            reason: "zero replicas place nothing but keep every entry",
            replicas: 0,
            entries: vec![entry("a", None, Some(1))],
            want: Ok(vec![("a", 0)]),
        },
        Case {
            reason: "fixed counts above replicas are a spec error",
            replicas: 2,
            entries: vec![entry("a", Some(3), None)],
            want: Err(PlacementError::FixedExceedsReplicas {
                fixed: 3,
                replicas: 2,
            }),
        },
        Case {
            reason: "replicas left but only fixed entries",
            replicas: 4,
            entries: vec![entry("a", Some(3), None)],
            want: Err(PlacementError::NoWeightedEntries { remaining: 1 }),
        },
        Case {
            reason: "duplicate keys are rejected",
            replicas: 1,
            entries: vec![entry("a", None, None), entry("a", None, None)],
            want: Err(PlacementError::DuplicateKey { key: "a".into() }),
        },
        Case {
            reason: "empty placement with replicas is rejected",
            replicas: 1,
            entries: vec![],
            want: Err(PlacementError::Empty { replicas: 1 }),
        },
    ];
    for c in cases {
        let got = resolve_placement(c.replicas, &c.entries).map(|t| counts(&t));
        let want = c
            .want
            .map(|v| v.into_iter().map(|(k, n)| (k.to_owned(), n)).collect::<Vec<_>>());
        assert_eq!(got, want, "{}", c.reason);
    }
    // Operators make distinct keys.
    let mut e = entry("a", None, None);
    e.operator = Some("bgp".into());
    let t = resolve_placement(2, &[e, entry("a", None, None)]).unwrap();
    assert_eq!(counts(&t), vec![("a".into(), 1), ("a/bgp".into(), 1)]);
}

// ---------------------------------------------------------------------------------------------------------
// Fleet scale
// ---------------------------------------------------------------------------------------------------------

fn member(id: &str, key: &str, created: &str, healthy: bool) -> MemberView {
    MemberView {
        id: id.into(),
        key: key.into(),
        created: Some(created.into()),
        healthy,
        failed: false,
        delete_first: false,
        deleting: false,
    }
}

fn target(site: &str, count: u32) -> SiteTarget {
    SiteTarget {
        site: site.into(),
        operator: None,
        pool_id: None,
        count,
    }
}

#[test]
fn fleet_scale_plans() {
    let m = vec![
        member("a1", "a", "2024-01-01T00:00:00Z", true),
        member("a2", "a", "2024-01-02T00:00:00Z", true),
        member("a3", "a", "2024-01-03T00:00:00Z", false),
    ];
    struct Case {
        reason: &'static str,
        targets: Vec<SiteTarget>,
        members: Vec<MemberView>,
        policy: DeletePolicy,
        remediate: bool,
        can_expand: bool,
        want: FleetScalePlan,
    }
    let plan = |add: Vec<SiteTarget>, remove: Vec<&str>| FleetScalePlan {
        add,
        remove: remove.into_iter().map(str::to_owned).collect(),
        blocked: None,
    };
    let mut marked = m.clone();
    marked[0].delete_first = true;
    let mut failed = m.clone();
    failed[1].failed = true;
    let mut deleting = m.clone();
    deleting[2].deleting = true;
    let cases = vec![
        Case {
            reason: "no action when observed equals desired",
            targets: vec![target("a", 3)],
            members: m.clone(),
            policy: DeletePolicy::SiteBalanced,
            remediate: true,
            can_expand: true,
            want: plan(vec![], vec![]),
        },
        Case {
            reason: "scale out adds the difference at the short site",
            targets: vec![target("a", 3), target("b", 2)],
            members: m.clone(),
            policy: DeletePolicy::SiteBalanced,
            remediate: false,
            can_expand: true,
            want: plan(vec![target("b", 2)], vec![]),
        },
        Case {
            reason: "SiteBalanced removes unhealthy first",
            targets: vec![target("a", 2)],
            members: m.clone(),
            policy: DeletePolicy::SiteBalanced,
            remediate: false,
            can_expand: true,
            want: plan(vec![], vec!["a3"]),
        },
        Case {
            reason: "Oldest removes the oldest",
            targets: vec![target("a", 1)],
            members: m.clone(),
            policy: DeletePolicy::Oldest,
            remediate: false,
            can_expand: true,
            want: plan(vec![], vec!["a1", "a2"]),
        },
        Case {
            reason: "Newest removes the newest",
            targets: vec![target("a", 2)],
            members: m.clone(),
            policy: DeletePolicy::Newest,
            remediate: false,
            can_expand: true,
            want: plan(vec![], vec!["a3"]),
        },
        Case {
            reason: "UnhealthyFirst then oldest",
            targets: vec![target("a", 1)],
            members: m.clone(),
            policy: DeletePolicy::UnhealthyFirst,
            remediate: false,
            can_expand: true,
            want: plan(vec![], vec!["a3", "a1"]),
        },
        Case {
            reason: "the delete-first marker beats every policy",
            targets: vec![target("a", 2)],
            members: marked,
            policy: DeletePolicy::Newest,
            remediate: false,
            can_expand: true,
            want: plan(vec![], vec!["a1"]),
        },
        Case {
            reason: "members at a site no longer targeted go first",
            targets: vec![target("a", 3), target("b", 0)],
            members: {
                let mut v = m.clone();
                v.push(member("z1", "z", "2024-01-01T00:00:00Z", true));
                v
            },
            policy: DeletePolicy::SiteBalanced,
            remediate: false,
            can_expand: true,
            want: plan(vec![], vec!["z1"]),
        },
        Case {
            reason: "remediation removes a failed member and replaces it at the same site",
            targets: vec![target("a", 3)],
            members: failed,
            policy: DeletePolicy::SiteBalanced,
            remediate: true,
            can_expand: true,
            want: plan(vec![target("a", 1)], vec!["a2"]),
        },
        Case {
            reason: "members already deleting are neither counted nor chosen again",
            targets: vec![target("a", 3)],
            members: deleting,
            policy: DeletePolicy::SiteBalanced,
            remediate: false,
            can_expand: true,
            want: plan(vec![target("a", 1)], vec![]),
        },
        Case {
            reason: "growth on a fleet that cannot expand is blocked, not attempted",
            targets: vec![target("a", 5)],
            members: m.clone(),
            policy: DeletePolicy::SiteBalanced,
            remediate: false,
            can_expand: false,
            want: FleetScalePlan {
                add: vec![],
                remove: vec![],
                blocked: Some("2 more instance(s) needed but this fleet cannot be expanded".into()),
            },
        },
    ];
    for c in cases {
        assert_eq!(
            plan_fleet_scale(&c.targets, &c.members, c.policy, c.remediate, c.can_expand),
            c.want,
            "{}",
            c.reason
        );
    }
}
