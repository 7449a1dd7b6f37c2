//! Vpc and SecurityGroup on Volcengine veEN against the real control plane and the emulator's veEN
//! listener: a Vpc in an edge cluster → Ready with its subnets, a subnet added and one removed, deleted
//! with nothing left; a Vpc without `spec.veen.clusterName` (or with an IEC section) stalls naming the
//! field and creates nothing; a create whose answer is lost, with a controller crash before the status
//! write, ends with exactly one VPC (found again by the owner tag: veEN names are not unique). A
//! SecurityGroup in that Vpc (`spec.vpcRef`) → Ready with its rules; a changed rule is modified in place
//! (one ModifySecurityGroupRule, no create or delete, same rule id); a group without `spec.vpcRef`
//! stalls naming it; deleted with nothing left. Settled objects make no cloud call that mutates and
//! write no status (`assert_quiescent`).
//!
//! Each test owns a namespace, an emulator and, besides the harness's IEC ProviderConfig, a veEN
//! ProviderConfig pointing at the emulator's veEN listener.
//!
//! Run: `cargo xtask control-plane up`, `eval "$(cargo xtask control-plane env)"`, `kubectl apply -f crds/`,
//! `cargo test --test veen_network_kinds -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use edgefleet::api::condition::{READY, STALLED};
use edgefleet::api::provider_config::{ProviderConfig, ProviderType};
use edgefleet::api::security_group::SecurityGroup;
use edgefleet::api::vpc::Vpc;
use edgefleet::provider::OWNER_TAG;
use edgefleet_emulator::Faults;
use edgefleet_emulator::core::faults::{ConsistencyFault, LostResponseFault};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};
use support::harness::*;
use support::quiescence::assert_quiescent;
use support::*;

const CLUSTER: &str = "cn-hangzhou-cmcc-01";

/// One test's world: the harness's and a veEN ProviderConfig.
struct Veen {
    env: Env,
    vpcs: Api<Vpc>,
    sgs: Api<SecurityGroup>,
    pc: String,
}

async fn start(prefix: &str, faults: Faults) -> Veen {
    let env = Env::start(prefix, faults).await;
    let pc = format!("{}-veen", env.pc);
    env.create_provider_config_for(ProviderType::Veen, &pc, &env.secret)
        .await;
    let vpcs = env.ns.api();
    let sgs = env.ns.api();
    Veen { env, vpcs, sgs, pc }
}

impl Veen {
    /// A Vpc in the Hangzhou China Mobile cluster with these subnets (name, cidr).
    fn vpc(&self, name: &str, subnets: &[(&str, &str)]) -> Vpc {
        let subnets: Vec<Value> = subnets
            .iter()
            .map(|(n, c)| json!({"name": n, "cidr": c}))
            .collect();
        serde_json::from_value(json!({
            "apiVersion": "edgefleet.io/v1alpha1",
            "kind": "Vpc",
            "metadata": {"name": name, "labels": {RUN_LABEL: self.env.ns.name()}},
            "spec": {
                "providerConfigRef": {"name": self.pc},
                "cidr": "192.168.0.0/16",
                "veen": {"clusterName": CLUSTER},
                "subnets": subnets,
            },
        }))
        .unwrap()
    }

    /// A SecurityGroup in Vpc `vpc` allowing ssh from anywhere and 443 from 10/8.
    fn group(&self, name: &str, vpc: Option<&str>) -> SecurityGroup {
        let mut spec = json!({
            "providerConfigRef": {"name": self.pc},
            "description": "web tier",
            "rules": [
                {"direction": "ingress", "protocol": "tcp", "portRangeMin": 22, "remoteIpPrefix": "0.0.0.0/0"},
                {"direction": "ingress", "protocol": "tcp", "portRangeMin": 443, "remoteIpPrefix": "10.0.0.0/8", "action": "deny", "priority": 5},
            ],
        });
        if let Some(v) = vpc {
            spec["vpcRef"] = json!({"name": v});
        }
        serde_json::from_value(json!({
            "apiVersion": "edgefleet.io/v1alpha1",
            "kind": "SecurityGroup",
            "metadata": {"name": name, "labels": {RUN_LABEL: self.env.ns.name()}},
            "spec": spec,
        }))
        .unwrap()
    }

    /// The cloud's VPCs that are not being deleted.
    fn live_vpcs(&self) -> Vec<Value> {
        self.env
            .cloud("veen.vpc")
            .into_iter()
            .filter(|v| v["status"] != "deleting")
            .collect()
    }

    /// Successful calls of one veEN action so far.
    fn mutations_of(&self, action: &str) -> u64 {
        self.env.emu().calls().mutations(&format!("veen:{action}"))
    }

    /// Deletes what is left, waits for the cloud to let it go, then tears down.
    async fn finish(self) {
        for g in self.sgs.list(&ListParams::default()).await.unwrap().items {
            delete(&self.sgs, &g.name_any()).await.unwrap();
            wait_deleted(&self.sgs, &g.name_any(), WAIT).await.unwrap();
        }
        for v in self.vpcs.list(&ListParams::default()).await.unwrap().items {
            delete(&self.vpcs, &v.name_any()).await.unwrap();
            wait_deleted(&self.vpcs, &v.name_any(), WAIT).await.unwrap();
        }
        let pcs: Api<ProviderConfig> = Api::all(self.env.client.clone());
        let _ = delete(&pcs, &self.pc).await;
        let _ = wait_deleted(&pcs, &self.pc, WAIT).await;
        self.env.teardown().await;
    }
}

fn subnet_names(v: &Vpc) -> Vec<String> {
    let mut names: Vec<String> = v
        .status
        .as_ref()
        .map(|s| s.subnets.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn cloud_subnets(vpc: &Value) -> Vec<String> {
    let mut names: Vec<String> = vpc["subnets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            format!(
                "{} {}",
                s["name"].as_str().unwrap_or(""),
                s["cidr"].as_str().unwrap_or("")
            )
        })
        .collect();
    names.sort();
    names
}

async fn stalled_naming<K>(api: &Api<K>, name: &str, field: &str) -> K
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let o = wait_for(api, name, WAIT, |o: &K| {
        has_reason(o, STALLED, "True", "InvalidSpec")
    })
    .await
    .unwrap();
    let message = message_of(&o, STALLED);
    assert!(
        message.contains(field),
        "{name}: Stalled names {field}: {message}"
    );
    assert!(!has(&o, READY, "True"), "{name}: a stalled object is not Ready");
    o
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_vpc_becomes_ready_with_subnets_follows_subnet_changes_and_deletes_everything() {
    let v = start("veen-vpc", Faults::default()).await;
    create(
        &v.vpcs,
        &v.vpc("edge", &[("sn-a", "192.168.1.0/24"), ("sn-b", "192.168.2.0/24")]),
    )
    .await;
    let ready_vpc = ready(&v.vpcs, "edge").await;
    let status = ready_vpc.status.clone().unwrap();
    let id = status.vpc_id.clone().unwrap();
    assert_eq!(subnet_names(&ready_vpc), ["sn-a", "sn-b"]);
    let live = v.live_vpcs();
    assert_eq!(live.len(), 1, "one VPC: {live:?}");
    assert_eq!(live[0]["id"], id.as_str());
    assert_eq!(live[0]["cluster_name"], CLUSTER);
    assert_eq!(
        live[0]["status"], "available",
        "Ready waits until the cloud has made it"
    );
    assert_eq!(
        cloud_subnets(&live[0]),
        ["sn-a 192.168.1.0/24", "sn-b 192.168.2.0/24"],
        "the subnets came with the create"
    );
    let owner = live[0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["Key"] == OWNER_TAG)
        .map(|t| t["Value"].clone());
    assert_eq!(
        owner,
        Some(json!(ready_vpc.uid().unwrap())),
        "the owner tag carries the uid"
    );
    // Settled: further passes change nothing in the cloud and write no status.
    assert_quiescent(&v.env, &v.vpcs, "edge").await;

    // One subnet removed, one added: the cloud follows, the VPC stays.
    merge(
        &v.vpcs,
        "edge",
        json!({"spec": {"subnets": [{"name": "sn-a", "cidr": "192.168.1.0/24"}, {"name": "sn-c", "cidr": "192.168.3.0/28"}]}}),
    )
    .await;
    let changed = wait_for(&v.vpcs, "edge", WAIT, |o: &Vpc| {
        observed_current(o) && has(o, READY, "True") && subnet_names(o) == ["sn-a", "sn-c"]
    })
    .await
    .unwrap();
    assert_eq!(changed.status.unwrap().vpc_id.as_deref(), Some(id.as_str()));
    let live = v.live_vpcs();
    assert_eq!(
        cloud_subnets(&live[0]),
        ["sn-a 192.168.1.0/24", "sn-c 192.168.3.0/28"]
    );
    assert_eq!(v.mutations_of("CreateSubnetsForCustomVPC"), 1);
    assert_eq!(v.mutations_of("DeleteSubnetsForCustomVPC"), 1);

    delete(&v.vpcs, "edge").await.unwrap();
    wait_deleted(&v.vpcs, "edge", WAIT).await.unwrap();
    assert!(v.live_vpcs().is_empty(), "nothing left: {:?}", v.live_vpcs());
    v.finish().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_vpc_without_cluster_name_or_with_an_iec_section_stalls_naming_the_field() {
    let v = start("veen-vpc-bad", Faults::default()).await;
    let mut no_cluster = v.vpc("no-cluster", &[]);
    no_cluster.spec.veen = None;
    create(&v.vpcs, &no_cluster).await;
    stalled_naming(&v.vpcs, "no-cluster", "spec.veen.clusterName").await;
    let mut iec = v.vpc("iec-section", &[]);
    iec.spec.veen = None;
    iec.spec.iec = Some(edgefleet::api::vpc::IecVpcSpec::default());
    create(&v.vpcs, &iec).await;
    stalled_naming(&v.vpcs, "iec-section", "spec.iec").await;
    let mut sited = v.vpc("sited", &[("sn-a", "192.168.1.0/24")]);
    sited.spec.subnets[0].site_id = Some("site-1".into());
    create(&v.vpcs, &sited).await;
    stalled_naming(&v.vpcs, "sited", "spec.subnets[0].siteId").await;
    assert!(v.live_vpcs().is_empty(), "no spec error created anything");
    assert_eq!(v.mutations_of("CreateCustomVPCInstance"), 0);

    // Fixing the spec (adding the section is allowed) creates it.
    merge(
        &v.vpcs,
        "no-cluster",
        json!({"spec": {"veen": {"clusterName": CLUSTER}}}),
    )
    .await;
    ready(&v.vpcs, "no-cluster").await;
    assert_eq!(v.live_vpcs().len(), 1);
    v.finish().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_lost_vpc_create_answer_and_a_crash_before_the_status_write_make_exactly_one() {
    let faults = Faults {
        seed: 7,
        lost_responses: vec![LostResponseFault {
            operation: "veen:CreateCustomVPCInstance".into(),
            rate: 1.0,
            mode: Default::default(),
        }],
        // New VPCs are listed late, so the lost create is not recovered before the crash.
        eventual_consistency: vec![ConsistencyFault {
            kind: "veen.vpc".into(),
            delay_ms: 1500,
        }],
        ..Faults::default()
    };
    let mut v = start("veen-vpc-crash", faults).await;
    create(&v.vpcs, &v.vpc("crash", &[("sn-a", "192.168.1.0/24")])).await;
    v.env.crash_once_created("veen.vpc", 7).await;
    let done = ready(&v.vpcs, "crash").await;
    let live = v.live_vpcs();
    assert_eq!(live.len(), 1, "exactly one VPC: {live:?}");
    assert_eq!(live[0]["id"], done.status.unwrap().vpc_id.unwrap().as_str());
    assert_eq!(
        v.mutations_of("CreateCustomVPCInstance"),
        1,
        "one create reached the cloud"
    );
    delete(&v.vpcs, "crash").await.unwrap();
    wait_deleted(&v.vpcs, "crash", WAIT).await.unwrap();
    assert!(v.live_vpcs().is_empty(), "no leak");
    v.finish().await;
}

fn rule_ports(g: &SecurityGroup) -> Vec<(String, Option<i32>)> {
    let mut rules: Vec<(String, Option<i32>)> = g
        .status
        .as_ref()
        .map(|s| s.rules.iter().map(|r| (r.id.clone(), r.port_range_min)).collect())
        .unwrap_or_default();
    rules.sort_by_key(|r| r.1);
    rules
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_security_group_in_a_vpc_is_ready_changes_a_rule_in_place_and_deletes_everything() {
    let v = start("veen-sg", Faults::default()).await;
    // The group waits for its Vpc (created after it) to get a cloud id.
    create(&v.sgs, &v.group("web", Some("net"))).await;
    wait_for(&v.sgs, "web", WAIT, |g: &SecurityGroup| {
        has_reason(g, READY, "False", "WaitingForDependency") && message_of(g, READY).contains("net")
    })
    .await
    .unwrap();
    create(&v.vpcs, &v.vpc("net", &[])).await;
    let vpc_id = ready(&v.vpcs, "net").await.status.unwrap().vpc_id.unwrap();
    let g = ready(&v.sgs, "web").await;
    let group_id = g.status.clone().unwrap().security_group_id.unwrap();
    let groups = v.env.cloud("veen.security_group");
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["vpc_identity"], vpc_id.as_str(), "created in the Vpc");
    let rules = v.env.cloud("veen.security_group_rule");
    assert_eq!(rules.len(), 2, "{rules:?}");
    let deny = rules.iter().find(|r| r["ports"] == "443").unwrap();
    assert_eq!(
        (deny["rule"].as_str(), deny["priority"].as_i64()),
        (Some("reject"), Some(5))
    );
    let before = rule_ports(&g);
    // Settled: the observed rules match the spec's fingerprints, so passes change nothing.
    assert_quiescent(&v.env, &v.sgs, "web").await;
    assert_eq!(
        before.iter().map(|r| r.1).collect::<Vec<_>>(),
        [Some(22), Some(443)]
    );

    // ssh moves to 2222: one modification, the rule keeps its id.
    let (creates, deletes, modifies) = (
        v.mutations_of("CreateSecurityGroupRules"),
        v.mutations_of("DeleteSecurityGroupRules"),
        v.mutations_of("ModifySecurityGroupRule"),
    );
    let mut changed = g.spec.rules.clone();
    changed[0].port_range_min = Some(2222);
    merge(
        &v.sgs,
        "web",
        json!({"spec": {"rules": serde_json::to_value(&changed).unwrap()}}),
    )
    .await;
    let after = wait_for(&v.sgs, "web", WAIT, |o: &SecurityGroup| {
        observed_current(o) && has(o, READY, "True") && rule_ports(o).iter().any(|r| r.1 == Some(2222))
    })
    .await
    .unwrap();
    let after = rule_ports(&after);
    assert_eq!(
        after.iter().map(|r| r.1).collect::<Vec<_>>(),
        [Some(443), Some(2222)]
    );
    assert!(
        after.iter().any(|r| r.1 == Some(2222) && r.0 == before[0].0),
        "the ssh rule kept its id {}: {after:?}",
        before[0].0
    );
    assert_eq!(
        v.mutations_of("ModifySecurityGroupRule"),
        modifies + 1,
        "one modification"
    );
    assert_eq!(
        (
            v.mutations_of("CreateSecurityGroupRules"),
            v.mutations_of("DeleteSecurityGroupRules")
        ),
        (creates, deletes),
        "no delete + create"
    );
    assert_eq!(v.env.cloud("veen.security_group_rule").len(), 2);

    delete(&v.sgs, "web").await.unwrap();
    wait_deleted(&v.sgs, "web", WAIT).await.unwrap();
    assert!(v.env.cloud("veen.security_group").is_empty(), "group gone");
    assert!(v.env.cloud("veen.security_group_rule").is_empty(), "rules gone");
    assert!(!group_id.is_empty());
    v.finish().await;
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn veen_security_group_without_vpc_ref_stalls_naming_it() {
    let v = start("veen-sg-bad", Faults::default()).await;
    create(&v.sgs, &v.group("loose", None)).await;
    stalled_naming(&v.sgs, "loose", "spec.vpcRef").await;
    assert!(v.env.cloud("veen.security_group").is_empty(), "nothing created");
    assert_eq!(v.mutations_of("CreateSecurityGroup"), 0);
    v.finish().await;
}
