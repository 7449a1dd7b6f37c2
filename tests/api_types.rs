//! API type tests that need no cluster: the committed CRDs equal what `all_crds()` renders (golden
//! test), every sample in deploy/samples parses into the Rust types, serialize→deserialize round trips
//! per kind, the condition helpers through the public API, and a structural check that every CEL rule
//! and schema bound the API promises is present in the generated schema.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use edgefleet::api::common::{ManagedSpec, ManagedStatus, PendingOperation};
use edgefleet::api::condition::{
    self, Condition, ConditionStatus, conditions_equal_ignoring_time, reason, set_condition,
};
use edgefleet::api::edge_cloud::{CoverageLevel, EdgeCloud, EdgeCloudStatus, PlacementStatus};
use edgefleet::api::edge_instance::{EdgeInstance, EdgeInstanceStatus};
use edgefleet::api::provider_config::{ProviderConfig, ProviderConfigStatus, ProviderConfigUsage};
use edgefleet::api::security_group::{ObservedRule, SecurityGroup, SecurityGroupStatus};
use edgefleet::api::vpc::{SubnetStatus, Vpc, VpcStatus};
use edgefleet::api::{self, all_crds};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| {
            <Value as serde::Deserialize>::deserialize(doc)
                .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn at(seconds: i64) -> Time {
    Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap())
}

// ---------------------------------------------------------------------------------------------
// Golden test
// ---------------------------------------------------------------------------------------------

#[test]
fn committed_crds_match_all_crds() {
    let hint = "the CRDs in crds/ are stale: run `cargo xtask crds` (or `cargo run -p edgefleet -- crds --out-dir crds`) and commit the result";
    let dir = repo().join("crds");
    let mut expected_files = BTreeSet::new();
    for crd in all_crds() {
        let name = crd.metadata.name.clone().unwrap();
        let file = format!("{name}.yaml");
        let path = dir.join(&file);
        expected_files.insert(file);
        assert!(path.exists(), "{} is missing; {hint}", path.display());
        let committed = yaml_documents(&path);
        assert_eq!(
            committed.len(),
            1,
            "{} must hold exactly one document",
            path.display()
        );
        let rendered = serde_json::to_value(&crd).unwrap();
        assert!(
            committed[0] == rendered,
            "{} differs from all_crds(); {hint}",
            path.display()
        );
    }
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    assert_eq!(present, expected_files, "unexpected files in crds/; {hint}");
}

// ---------------------------------------------------------------------------------------------
// Samples and round trips
// ---------------------------------------------------------------------------------------------

/// Deserialises `value` as `K`, serialises it again and checks the second parse is identical.
fn round_trip<K: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &Value, what: &str) -> K {
    let typed: K = serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let again: K = serde_json::from_value(serde_json::to_value(&typed).unwrap()).unwrap();
    assert_eq!(typed, again, "{what}: serialize→deserialize changed the object");
    typed
}

/// The ProviderConfigs of deploy/samples/ (one per cloud with an emulator family).
const SAMPLE_PROVIDER_CONFIGS: &[&str] = &[
    "iec-emulator",
    "veen-emulator",
    "modelarts-emulator",
    "luchen-emulator",
    "workspace-emulator",
];

#[test]
fn every_sample_parses_into_the_rust_types() {
    let dir = repo().join("deploy/samples");
    let mut kinds = BTreeSet::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        files += 1;
        for doc in yaml_documents(&path) {
            let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
            let what = format!("{} ({kind} {})", path.display(), doc["metadata"]["name"]);
            match kind.as_str() {
                "Secret" => {
                    let secret: Secret = serde_json::from_value(doc.clone()).unwrap();
                    assert!(
                        secret.string_data.is_some() || secret.data.is_some(),
                        "{what}: empty secret"
                    );
                }
                "ProviderConfig" => {
                    let pc: ProviderConfig = round_trip(&doc, &what);
                    pc.spec.poll_interval().unwrap();
                    pc.spec.pending_poll_interval().unwrap();
                    // the sample's Secret carries every key its credential type needs
                    let secret_doc = yaml_documents(&path)
                        .into_iter()
                        .find(|d| d["kind"] == "Secret")
                        .expect("providerconfig.yaml carries its Secret");
                    let secret: Secret = serde_json::from_value(secret_doc).unwrap();
                    assert_eq!(
                        secret.metadata.name.as_deref(),
                        Some(pc.spec.credentials.secret_ref.name.as_str())
                    );
                    assert_eq!(
                        secret.metadata.namespace.as_deref(),
                        Some(pc.spec.credentials.secret_ref.namespace.as_str())
                    );
                    let data = secret.string_data.unwrap_or_default();
                    for key in pc.spec.required_secret_keys() {
                        assert!(data.contains_key(*key), "{what}: Secret lacks key {key}");
                    }
                }
                "Vpc" => {
                    let vpc: Vpc = round_trip(&doc, &what);
                    assert!(
                        SAMPLE_PROVIDER_CONFIGS.contains(&vpc.spec.provider_config_ref().name.as_str()),
                        "{what}: names a sample ProviderConfig"
                    );
                }
                "SecurityGroup" => {
                    let sg: SecurityGroup = round_trip(&doc, &what);
                    assert!(!sg.spec.rules.is_empty(), "{what}: sample should show rules");
                }
                "EdgeInstance" => {
                    let _: EdgeInstance = round_trip(&doc, &what);
                }
                "EdgeCloud" => {
                    let ec: EdgeCloud = round_trip(&doc, &what);
                    if ec.spec.workspace.is_some() {
                        // A Workspace server group lives in one availability zone.
                        assert_eq!(ec.spec.placement.len(), 1, "{what}: one zone");
                        assert_eq!(ec.spec.coverage.level, CoverageLevel::Site, "{what}");
                    } else {
                        assert!(ec.spec.placement.len() >= 3, "{what}: sample spans 3 sites");
                    }
                    ec.spec.remediation.build_timeout().unwrap();
                }
                other => panic!("{what}: unexpected kind {other:?} in samples"),
            }
            kinds.insert(kind);
        }
    }
    assert!(files >= 5, "expected one sample file per kind");
    for kind in [
        "ProviderConfig",
        "Vpc",
        "SecurityGroup",
        "EdgeInstance",
        "EdgeCloud",
        "Secret",
    ] {
        assert!(kinds.contains(kind), "no sample for {kind}");
    }
}

fn condition(type_: &str) -> Condition {
    let mut c = Condition::new(type_, ConditionStatus::True, reason::AVAILABLE, "ok", Some(3));
    c.last_transition_time = at(1_700_000_000);
    c
}

fn pending() -> PendingOperation {
    PendingOperation {
        token: "edgefleet-3f2a".into(),
        params_hash: "sha256:abcd".into(),
        started_at: at(1_700_000_000),
        handle: Some("27123f2849a711eb8a8afa1640495574".into()),
    }
}

fn sample<K: DeserializeOwned>(file: &str, kind: &str) -> K {
    let doc = yaml_documents(&repo().join("deploy/samples").join(file))
        .into_iter()
        .find(|d| d["kind"] == kind)
        .unwrap();
    serde_json::from_value(doc).unwrap()
}

#[test]
fn round_trip_every_kind_with_full_status() {
    let mut pc: ProviderConfig = sample("providerconfig.yaml", "ProviderConfig");
    pc.status = Some(ProviderConfigStatus {
        observed_generation: Some(3),
        conditions: vec![
            condition(condition::READY),
            condition(condition::CREDENTIALS_VALID),
        ],
        project_id: Some("0a1b2c".into()),
        used_by: Some(ProviderConfigUsage {
            total: 3,
            vpcs: 1,
            security_groups: 1,
            edge_instances: 1,
            edge_clouds: 0,
        }),
    });
    round_trip::<ProviderConfig>(&serde_json::to_value(&pc).unwrap(), "ProviderConfig");

    let mut vpc: Vpc = sample("vpc.yaml", "Vpc");
    vpc.status = Some(VpcStatus {
        observed_generation: Some(1),
        conditions: vec![condition(condition::READY)],
        vpc_id: Some("ab96424b-aba2-4b08-b534-25e2dbd89519".into()),
        name: Some("fleet-vpc".into()),
        cidr: Some("10.10.0.0/16".into()),
        mode: Some("SYSTEM".into()),
        subnets: vec![SubnetStatus {
            name: "zhongshan-a".into(),
            id: Some("4c2a7e40".into()),
            cidr: Some("192.168.1.0/24".into()),
            gateway_ip: Some("192.168.1.1".into()),
            site_id: Some("a0272146-f6d8-4e3f-a1dc-196ec4a2f856".into()),
            status: Some("ACTIVE".into()),
        }],
        pending_create: Some(pending()),
    });
    let back: Vpc = round_trip(&serde_json::to_value(&vpc).unwrap(), "Vpc");
    assert_eq!(
        back.status.as_ref().unwrap().cloud_id(),
        Some("ab96424b-aba2-4b08-b534-25e2dbd89519")
    );

    let mut sg: SecurityGroup = sample("securitygroup.yaml", "SecurityGroup");
    sg.status = Some(SecurityGroupStatus {
        observed_generation: Some(1),
        conditions: vec![condition(condition::SYNCED)],
        security_group_id: Some("99d9d709".into()),
        name: Some("web".into()),
        rules: vec![ObservedRule {
            id: "d5002101".into(),
            direction: "ingress".into(),
            ethertype: Some("IPv4".into()),
            protocol: Some("tcp".into()),
            port_range_min: Some(443),
            port_range_max: Some(443),
            remote_ip_prefix: Some("0.0.0.0/0".into()),
            remote_group_id: None,
            action: Some("allow".into()),
            priority: Some(1),
            description: None,
            managed: true,
        }],
        pending_create: None,
    });
    round_trip::<SecurityGroup>(&serde_json::to_value(&sg).unwrap(), "SecurityGroup");

    let mut ei: EdgeInstance = sample("edgeinstance.yaml", "EdgeInstance");
    ei.status = Some(EdgeInstanceStatus {
        observed_generation: Some(2),
        conditions: vec![condition(condition::READY), condition(condition::SYNCED)],
        instance_id: Some("fbe3076f-6d30-4ae2-9acf-a6d946ef2702".into()),
        name: Some("web-zs-1".into()),
        state: Some("ACTIVE".into()),
        power_state: Some("Running".into()),
        site_id: Some("a0272146-f6d8-4e3f-a1dc-196ec4a2f856".into()),
        operator: Some("chinaunicom".into()),
        private_ips: vec!["192.168.1.10".into()],
        public_ips: vec!["188.181.56.44".into()],
        flavor: Some("c6.large.2".into()),
        image: Some("00000000-0000-0000-0000-000000000002".into()),
        edge_cloud_id: None,
        last_reboot_request: Some("1700000000".into()),
        order_id: Some("CS2612040415ABCDE".into()),
        order_state: Some("pending payment".into()),
        ssh_address: Some("ssh root@east1.luchen.emulator -p 30001".into()),
        node_ports: vec![edgefleet::api::edge_instance::NodePortStatus {
            port: 8888,
            node_port: 30002,
        }],
        pending_create: Some(pending()),
    });
    round_trip::<EdgeInstance>(&serde_json::to_value(&ei).unwrap(), "EdgeInstance");

    let mut ec: EdgeCloud = sample("edgecloud.yaml", "EdgeCloud");
    ec.status = Some(EdgeCloudStatus {
        observed_generation: Some(4),
        conditions: vec![
            condition(condition::AVAILABLE),
            condition(condition::SCALING_BLOCKED),
        ],
        edge_cloud_id: Some("27101e92".into()),
        name: Some("web-fleet".into()),
        cloud_status: Some("inService".into()),
        replicas: 6,
        ready_replicas: 5,
        available_replicas: 5,
        updated_replicas: 6,
        success_count: 6,
        failed_count: 0,
        label_selector: Some(format!("{}=web-fleet", api::EDGE_CLOUD_LABEL)),
        template_hash: Some("5d41402a".into()),
        placements: vec![PlacementStatus {
            location: "changsha".into(),
            operator: Some("chinatelecom".into()),
            desired: 2,
            current: 2,
            ready: 1,
            site_ids: vec!["705da43d-fa20-11ea-9fb2-fa1640495574".into()],
        }],
        deployment_plan_ids: vec!["87b9a88c".into()],
        pending_create: None,
        pending_expand: Some(pending()),
        members_fingerprint: Some("0123abcd".into()),
        pending_delete: vec!["a1b2c3".into()],
        job_id: Some("ff8080828b7cd5f2018b8e0c3a7f0a1b".into()),
        last_job_failure: Some(edgefleet::api::edge_cloud::JobFailure {
            job_id: "ff8080828b7cd5f2018b8e0c3a7f0a0a".into(),
            code: "WKS.00211401".into(),
            message: "no capacity".into(),
            at: at(1_700_000_100),
            attempts: 2,
        }),
    });
    round_trip::<EdgeCloud>(&serde_json::to_value(&ec).unwrap(), "EdgeCloud");
}

#[test]
fn defaults_apply_when_fields_are_omitted() {
    let minimal = serde_json::json!({
        "apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeCloud",
        "metadata": {"name": "m", "namespace": "default"},
        "spec": {
            "providerConfigRef": {"name": "p"},
            "placement": [{"city": "wuhan", "weight": 1}],
            "template": {"flavor": "c6.large.2", "image": "img", "rootVolume": {"type": "SATA", "size": 40},
                         "network": {"vpcId": "v"}}
        }
    });
    let ec: EdgeCloud = serde_json::from_value(minimal).unwrap();
    assert_eq!(ec.spec.replicas, 1);
    assert_eq!(ec.spec.deletion_policy(), api::DeletionPolicy::Delete);
    assert_eq!(ec.spec.management_policy(), api::ManagementPolicy::Manage);
    assert_eq!(ec.spec.template.network.nic_count, 1);
    assert_eq!(ec.spec.remediation.build_timeout().unwrap().as_secs(), 30 * 60);
    assert!(!ec.spec.paused);
}

// ---------------------------------------------------------------------------------------------
// Condition helpers through the public API
// ---------------------------------------------------------------------------------------------

#[test]
fn condition_helpers_keep_transition_time_and_detect_timestamp_only_changes() {
    let mut status = VpcStatus::default();
    let c = |s, r: &str| Condition::new(condition::READY, s, r, "", Some(1));
    assert!(set_condition(
        status.conditions_mut(),
        c(ConditionStatus::False, reason::CREATING),
        &at(10)
    ));
    let before = status.conditions().to_vec();
    // same status, new reason: time kept
    assert!(set_condition(
        status.conditions_mut(),
        c(ConditionStatus::False, reason::IN_PROGRESS),
        &at(20)
    ));
    assert_eq!(status.conditions()[0].last_transition_time, at(10));
    // flip: time moves
    assert!(set_condition(
        status.conditions_mut(),
        c(ConditionStatus::True, reason::AVAILABLE),
        &at(30)
    ));
    assert_eq!(status.conditions()[0].last_transition_time, at(30));
    assert!(!conditions_equal_ignoring_time(&before, status.conditions()));
    // only the timestamp differs: equal
    let mut shifted = status.conditions().to_vec();
    shifted[0].last_transition_time = at(99);
    assert!(conditions_equal_ignoring_time(&shifted, status.conditions()));
    // re-setting the same condition changes nothing
    assert!(!set_condition(
        status.conditions_mut(),
        c(ConditionStatus::True, reason::AVAILABLE),
        &at(40)
    ));
    assert_eq!(status.conditions()[0].last_transition_time, at(30));
    assert!(condition::is_condition_true(
        status.conditions(),
        condition::READY
    ));
}

#[test]
fn constants_other_parts_rely_on() {
    assert_eq!(api::FINALIZER, "edgefleet.io/cleanup");
    assert_eq!(api::FIELD_MANAGER, "edgefleet");
    assert_eq!(api::EDGE_CLOUD_LABEL, "edgefleet.io/edge-cloud");
    assert_eq!(api::REBOOT_REQUEST_ANNOTATION, "edgefleet.io/reboot-request");
    assert_eq!((api::GROUP, api::VERSION), ("edgefleet.io", "v1alpha1"));
}

// ---------------------------------------------------------------------------------------------
// Structural checks of the generated schemas
// ---------------------------------------------------------------------------------------------

fn crd(plural: &str) -> CustomResourceDefinition {
    all_crds()
        .into_iter()
        .find(|c| c.spec.names.plural == plural)
        .unwrap_or_else(|| panic!("no CRD {plural}"))
}

fn schema(plural: &str) -> Value {
    let c = crd(plural);
    serde_json::to_value(&c.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema).unwrap()
}

/// The schema node at a dotted path below the root (`spec.subnets[].cidr`).
fn node<'a>(root: &'a Value, path: &str) -> &'a Value {
    let mut cur = root;
    if path.is_empty() {
        return cur;
    }
    for part in path.split('.') {
        let (name, items) = match part.strip_suffix("[]") {
            Some(n) => (n, true),
            None => (part, false),
        };
        cur = &cur["properties"][name];
        assert!(!cur.is_null(), "schema has no {path} (at {name})");
        if items {
            cur = &cur["items"];
        }
    }
    cur
}

fn messages(node: &Value) -> Vec<String> {
    node["x-kubernetes-validations"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|r| r["message"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// (CRD plural, schema path of the node carrying the rule, substring of the rule's message).
const CEL_RULES: &[(&str, &str, &str)] = &[
    // ProviderConfig
    ("providerconfigs", "spec.provider", "spec.provider is immutable"),
    (
        "providerconfigs",
        "spec",
        "spec.credentials.type must be AkSk for provider Veen",
    ),
    (
        "providerconfigs",
        "spec",
        "spec.credentials.type must be Password or Token for provider Luchen",
    ),
    ("providerconfigs", "spec", "spec.domainName is required"),
    (
        "providerconfigs",
        "spec",
        "spec.region is required for providers ModelArts and Workspace",
    ),
    (
        "providerconfigs",
        "spec",
        "spec.pendingPollInterval must not be longer than spec.pollInterval",
    ),
    (
        "providerconfigs",
        "spec.pollInterval",
        "spec.pollInterval must be between 10s and 24h",
    ),
    (
        "providerconfigs",
        "spec.pendingPollInterval",
        "spec.pendingPollInterval must be between 1s and 10m",
    ),
    (
        "providerconfigs",
        "spec.rateLimit",
        "spec.rateLimit.burst must be >= spec.rateLimit.qps",
    ),
    // common fields, on every cloud-backed kind
    ("vpcs", "spec", "spec.adoptId is immutable"),
    (
        "vpcs",
        "spec",
        "spec.adoptId is required when spec.managementPolicy is ObserveOnly",
    ),
    (
        "vpcs",
        "spec.providerConfigRef",
        "spec.providerConfigRef.name is immutable",
    ),
    ("securitygroups", "spec", "spec.adoptId is immutable"),
    (
        "securitygroups",
        "spec",
        "spec.adoptId is required when spec.managementPolicy is ObserveOnly",
    ),
    (
        "securitygroups",
        "spec.providerConfigRef",
        "spec.providerConfigRef.name is immutable",
    ),
    ("edgeinstances", "spec", "spec.adoptId is immutable"),
    (
        "edgeinstances",
        "spec",
        "spec.adoptId is required when spec.managementPolicy is ObserveOnly",
    ),
    (
        "edgeinstances",
        "spec.providerConfigRef",
        "spec.providerConfigRef.name is immutable",
    ),
    ("edgeclouds", "spec", "spec.adoptId is immutable"),
    (
        "edgeclouds",
        "spec",
        "spec.adoptId is required when spec.managementPolicy is ObserveOnly",
    ),
    (
        "edgeclouds",
        "spec.providerConfigRef",
        "spec.providerConfigRef.name is immutable",
    ),
    // Vpc
    ("vpcs", "", "metadata.name is longer than 64 characters"),
    (
        "vpcs",
        "spec.cidr",
        "spec.cidr must be an IPv4 CIDR with a prefix length between 8 and 28",
    ),
    (
        "vpcs",
        "spec.cidr",
        "spec.cidr must lie inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
    ),
    ("vpcs", "spec.cidr", "spec.cidr must be a network address"),
    (
        "vpcs",
        "spec",
        "spec.subnets cannot be listed when spec.iec.mode is SYSTEM",
    ),
    ("vpcs", "spec", "spec.iec.mode is immutable"),
    (
        "vpcs",
        "spec",
        "every spec.subnets[].cidr must lie inside spec.cidr",
    ),
    ("vpcs", "spec.subnets[].cidr", "prefix length of at most 29"),
    ("vpcs", "spec", "spec.iec and spec.veen cannot both be set"),
    ("vpcs", "spec", "spec.veen cannot be removed"),
    (
        "vpcs",
        "spec.veen.clusterName",
        "spec.veen.clusterName is immutable",
    ),
    ("vpcs", "spec.subnets[].cidr", "spec.subnets[].cidr is immutable"),
    ("vpcs", "spec.subnets[]", "spec.subnets[].siteId is immutable"),
    (
        "vpcs",
        "spec.subnets[].gatewayIp",
        "spec.subnets[].gatewayIp must be an IPv4 address",
    ),
    (
        "vpcs",
        "spec.subnets[]",
        "spec.subnets[].gatewayIp must lie inside spec.subnets[].cidr",
    ),
    ("vpcs", "spec.subnets[]", "spec.subnets[].gatewayIp is immutable"),
    (
        "vpcs",
        "spec.subnets[]",
        "spec.subnets[].cidr must be a network address",
    ),
    (
        "vpcs",
        "spec.subnets[].dnsList",
        "spec.subnets[].dnsList entries must be IPv4 addresses",
    ),
    // SecurityGroup
    ("securitygroups", "", "metadata.name is longer than 64 characters"),
    ("securitygroups", "", "spec.name must not be 'default'"),
    ("securitygroups", "spec", "spec.name is immutable"),
    ("securitygroups", "spec", "spec.description is immutable"),
    (
        "securitygroups",
        "spec",
        "spec.vpcRef and spec.vpcId cannot both be set",
    ),
    (
        "securitygroups",
        "spec",
        "spec.vpcRef and spec.vpcId are immutable once set",
    ),
    (
        "securitygroups",
        "spec.rules[]",
        "exactly one of remoteIpPrefix, remoteGroupRef and remoteGroupId",
    ),
    (
        "securitygroups",
        "spec.rules[]",
        "portRangeMin must be less than or equal to portRangeMax",
    ),
    (
        "securitygroups",
        "spec.rules[]",
        "portRangeMax requires portRangeMin",
    ),
    ("securitygroups", "spec.rules[]", "need protocol tcp or udp"),
    (
        "securitygroups",
        "spec.rules[]",
        "protocol icmp needs ethertype IPv4",
    ),
    (
        "securitygroups",
        "spec.rules[]",
        "protocol icmpv6 needs ethertype IPv6",
    ),
    (
        "securitygroups",
        "spec.rules[]",
        "remoteIpPrefix must be of the IP version given by ethertype",
    ),
    (
        "securitygroups",
        "spec.rules[].protocol",
        "must be tcp, udp, icmp, icmpv6, any or a protocol number",
    ),
    (
        "securitygroups",
        "spec.rules[].remoteIpPrefix",
        "must be an IP address or CIDR",
    ),
    // EdgeInstance
    ("edgeinstances", "spec", "spec.dataVolumes is immutable"),
    (
        "edgeinstances",
        "spec",
        "spec.bandwidth cannot be added or removed",
    ),
    ("edgeinstances", "spec.placement", "spec.placement is immutable"),
    ("edgeinstances", "spec.rootVolume", "spec.rootVolume is immutable"),
    (
        "edgeinstances",
        "spec.dataVolumes",
        "spec.dataVolumes is immutable",
    ),
    ("edgeinstances", "spec.network", "at most one of vpcRef and vpcId"),
    (
        "edgeinstances",
        "spec.network",
        "spec.network.vpcRef/vpcId is immutable",
    ),
    (
        "edgeinstances",
        "spec.network",
        "spec.network.subnets[0] (the primary NIC) is immutable",
    ),
    (
        "edgeinstances",
        "spec.network",
        "spec.network.subnets[].name needs spec.network.vpcRef",
    ),
    (
        "edgeinstances",
        "spec.network.subnets[]",
        "exactly one of name and id",
    ),
    // EdgeCloud
    ("edgeclouds", "", "metadata.name must be at most 32 characters"),
    ("edgeclouds", "spec", "spec.name is immutable"),
    (
        "edgeclouds",
        "spec",
        "must name a siteId, city, province or area matching spec.coverage.level",
    ),
    (
        "edgeclouds",
        "spec",
        "poolId is not allowed when spec.coverage.level is Province or Area",
    ),
    ("edgeclouds", "spec", "count values must add up to spec.replicas"),
    (
        "edgeclouds",
        "spec.coverage",
        "policy must be Centralize when spec.coverage.level is Site",
    ),
    (
        "edgeclouds",
        "spec.coverage.level",
        "spec.coverage.level is immutable",
    ),
    (
        "edgeclouds",
        "spec.placement[]",
        "exactly one of count and weight",
    ),
    (
        "edgeclouds",
        "spec.placement[]",
        "exactly one of siteId, city, province and area",
    ),
    (
        "edgeclouds",
        "spec.template.network",
        "at most one of vpcRef and vpcId",
    ),
    (
        "edgeclouds",
        "spec",
        "spec.veen and spec.template.iec name different clouds",
    ),
    (
        "edgeclouds",
        "spec.veen",
        "spec.veen.priceStrategy needs spec.veen.scheduleStrategy",
    ),
    (
        "edgeclouds",
        "spec.veen.createInstanceTimeoutSeconds",
        "createInstanceTimeoutSeconds must be between 120 and 86400",
    ),
    (
        "edgeclouds",
        "spec.strategy.rollingUpdate",
        "maxSurge and maxUnavailable cannot both be 0",
    ),
    (
        "edgeclouds",
        "spec.strategy.rollingUpdate.maxSurge",
        "maxSurge must be a non-negative integer or a percentage",
    ),
    (
        "edgeclouds",
        "spec.strategy.rollingUpdate.maxUnavailable",
        "maxUnavailable must be a non-negative integer",
    ),
    (
        "edgeclouds",
        "spec.remediation.maxUnhealthy",
        "maxUnhealthy must be a non-negative integer",
    ),
    (
        "edgeclouds",
        "spec.remediation.buildTimeout",
        "buildTimeout must be between 10s and 24h",
    ),
];

#[test]
fn every_cel_rule_is_in_the_generated_schema() {
    let mut missing = vec![];
    for (plural, path, message) in CEL_RULES {
        let root = schema(plural);
        let found = messages(node(&root, path));
        if !found.iter().any(|m| m.contains(message)) {
            missing.push(format!("{plural} {path:?}: {message:?} (has {found:?})"));
        }
    }
    assert!(missing.is_empty(), "missing CEL rules:\n{}", missing.join("\n"));
}

#[test]
fn every_message_names_a_field() {
    // Every rule message mentions the field it judges (spec.* or metadata.*), so a user knows what to fix.
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for m in messages(v) {
                    out.push(m);
                }
                map.values().for_each(|c| walk(c, out));
            }
            Value::Array(items) => items.iter().for_each(|c| walk(c, out)),
            _ => {}
        }
    }
    for c in all_crds() {
        let mut all = vec![];
        walk(&schema(&c.spec.names.plural), &mut all);
        assert!(!all.is_empty());
        for m in all {
            assert!(
                m.contains("spec.") || m.contains("metadata."),
                "{}: message {m:?} names no field",
                c.spec.names.plural
            );
        }
    }
}

#[test]
fn schema_bounds() {
    let ei = schema("edgeinstances");
    // The shared schema holds what any cloud can take; each cloud's own limits (IEC: system disks
    // 40–100 GB, at most 2 data disks of 1–500 GB, names 1–48) are checked by its provider before a create.
    assert_eq!(node(&ei, "spec.rootVolume.size")["minimum"].as_f64(), Some(1.0));
    assert_eq!(
        node(&ei, "spec.rootVolume.size")["maximum"].as_f64(),
        Some(32768.0)
    );
    assert_eq!(node(&ei, "spec.dataVolumes")["maxItems"], 16);
    assert_eq!(
        node(&ei, "spec.dataVolumes[].size")["minimum"].as_f64(),
        Some(1.0)
    );
    assert_eq!(
        node(&ei, "spec.dataVolumes[].size")["maximum"].as_f64(),
        Some(32768.0)
    );
    assert_eq!(node(&ei, "spec.name")["maxLength"], 128);
    assert!(
        node(&ei, "spec.name").get("pattern").is_none(),
        "no cloud's name pattern"
    );
    let required = ei["properties"]["spec"]["required"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for optional in ["placement", "network"] {
        assert!(
            !required.iter().any(|r| r == optional),
            "spec.{optional} is optional (a cloud without sites or networks needs neither)"
        );
    }
    assert!(
        messages(node(&ei, "spec.flavor")).is_empty(),
        "flavor changes are judged by the cloud's capabilities, not by CEL"
    );
    assert_eq!(node(&ei, "spec.description")["maxLength"], 85);
    assert_eq!(node(&ei, "spec.network.subnets")["maxItems"], 8);
    assert_eq!(
        node(&ei, "spec.powerState")["enum"],
        serde_json::json!(["Running", "Stopped"])
    );
    let sg = schema("securitygroups");
    assert_eq!(node(&sg, "spec.rules[].priority")["minimum"].as_f64(), Some(1.0));
    assert_eq!(
        node(&sg, "spec.rules[].priority")["maximum"].as_f64(),
        Some(100.0)
    );
    assert_eq!(
        node(&sg, "spec.rules[].portRangeMin")["maximum"].as_f64(),
        Some(65535.0)
    );
    assert_eq!(
        node(&sg, "spec.rules[].direction")["enum"],
        serde_json::json!(["ingress", "egress"])
    );
    assert_eq!(node(&sg, "spec.name")["maxLength"], 64);
    assert_eq!(node(&sg, "spec.description")["maxLength"], 64);
    assert_eq!(node(&sg, "spec.ruleManagement")["default"], "Authoritative");
    let vpc = schema("vpcs");
    assert_eq!(node(&vpc, "spec.name")["maxLength"], 64);
    assert_eq!(
        node(&vpc, "spec.iec.mode")["enum"],
        serde_json::json!(["SYSTEM", "CUSTOMER"])
    );
    assert_eq!(node(&vpc, "spec.subnets")["x-kubernetes-list-type"], "map");
    let ec = schema("edgeclouds");
    assert_eq!(node(&ec, "spec.name")["maxLength"], 32);
    assert_eq!(
        node(&ec, "spec.template.network.nicCount")["maximum"].as_f64(),
        Some(8.0)
    );
    assert_eq!(node(&ec, "spec.deletePolicy")["default"], "SiteBalanced");
    assert_eq!(node(&ec, "spec.placement")["minItems"], 1);
    let pc = schema("providerconfigs");
    assert_eq!(node(&pc, "spec.rateLimit.qps")["default"], 10);
    assert_eq!(node(&pc, "spec.rateLimit.burst")["default"], 20);
    assert_eq!(node(&pc, "spec.pollInterval")["default"], "5m");
    assert_eq!(
        node(&pc, "spec.provider")["enum"],
        serde_json::json!(["Iec", "Veen", "ModelArts", "Luchen", "Workspace"])
    );
    for plural in [
        "vpcs",
        "securitygroups",
        "edgeinstances",
        "edgeclouds",
        "providerconfigs",
    ] {
        let s = schema(plural);
        assert_eq!(
            node(&s, "status.conditions")["x-kubernetes-list-type"],
            "map",
            "{plural}"
        );
    }
    for plural in ["vpcs", "securitygroups", "edgeinstances", "edgeclouds"] {
        let s = schema(plural);
        assert_eq!(node(&s, "spec.deletionPolicy")["default"], "Delete", "{plural}");
        assert_eq!(node(&s, "spec.managementPolicy")["default"], "Manage", "{plural}");
    }
}

#[test]
fn names_columns_and_subresources() {
    let expected = [
        ("providerconfigs", "ProviderConfig", "efpc", "Cluster"),
        ("vpcs", "Vpc", "efvpc", "Namespaced"),
        ("securitygroups", "SecurityGroup", "efsg", "Namespaced"),
        ("edgeinstances", "EdgeInstance", "ei", "Namespaced"),
        ("edgeclouds", "EdgeCloud", "ec", "Namespaced"),
    ];
    for (plural, kind, short, scope) in expected {
        let c = crd(plural);
        assert_eq!(c.spec.group, "edgefleet.io");
        assert_eq!(c.spec.names.kind, kind);
        assert_eq!(c.spec.names.short_names.clone().unwrap(), vec![short.to_owned()]);
        assert_eq!(
            c.spec.names.categories.clone().unwrap(),
            vec!["edgefleet".to_owned()]
        );
        assert_eq!(c.spec.scope, scope);
        let v = &c.spec.versions[0];
        assert_eq!(v.name, "v1alpha1");
        assert!(
            v.subresources.as_ref().unwrap().status.is_some(),
            "{plural} has /status"
        );
        let columns: Vec<&str> = v
            .additional_printer_columns
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert!(columns.contains(&"Age"), "{plural}: {columns:?}");
        if plural != "edgeclouds" {
            assert!(columns.contains(&"Ready"), "{plural}: {columns:?}");
        }
    }
    let ec = crd("edgeclouds");
    let v = &ec.spec.versions[0];
    let scale = v.subresources.as_ref().unwrap().scale.as_ref().unwrap();
    assert_eq!(scale.spec_replicas_path, ".spec.replicas");
    assert_eq!(scale.status_replicas_path, ".status.replicas");
    assert_eq!(
        scale.label_selector_path.as_deref(),
        Some(".status.labelSelector")
    );
    let columns: Vec<&str> = v
        .additional_printer_columns
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    for c in ["Desired", "Current", "Ready", "Up-To-Date", "Available"] {
        assert!(columns.contains(&c), "EdgeCloud column {c} missing: {columns:?}");
    }
}

#[test]
fn every_condition_type_and_reason_is_documented() {
    let doc = std::fs::read_to_string(repo().join("docs/conditions.md")).unwrap();
    for name in condition::ALL_TYPES.iter().chain(reason::ALL) {
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs/conditions.md does not document `{name}`"
        );
    }
    let unique: BTreeSet<_> = reason::ALL.iter().collect();
    assert_eq!(unique.len(), reason::ALL.len(), "duplicate reason in reason::ALL");
}

#[test]
fn duration_and_mode_helpers() {
    use edgefleet::api::provider_config::parse_duration;
    assert_eq!(
        parse_duration("spec.pollInterval", "1h30m").unwrap().as_secs(),
        5400
    );
    let err = parse_duration("spec.pollInterval", "soon").unwrap_err();
    assert!(err.to_string().contains("spec.pollInterval"), "{err}");
    let vpc: Vpc = sample("vpc.yaml", "Vpc");
    assert_eq!(vpc.spec.iec_mode(), edgefleet::api::vpc::IecVpcMode::System);
    let mut no_block = vpc.spec.clone();
    no_block.iec = None;
    assert_eq!(no_block.iec_mode(), edgefleet::api::vpc::IecVpcMode::System);
    let pc: ProviderConfig = sample("providerconfig.yaml", "ProviderConfig");
    assert_eq!(pc.spec.required_secret_keys(), &["accessKey", "secretKey"]);
}

#[test]
fn explicit_null_int_or_string_reads_as_default() {
    // kube marks optional int-or-string properties nullable, so the apiserver stores an explicit null
    // (seen on a real apiserver); the object must still deserialize and use the defaults.
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let ec: EdgeCloud = serde_json::from_value(serde_json::json!({
        "apiVersion": "edgefleet.io/v1alpha1", "kind": "EdgeCloud",
        "metadata": {"name": "n", "namespace": "default"},
        "spec": {
            "providerConfigRef": {"name": "p"}, "placement": [{"city": "a", "weight": 1}],
            "template": {"flavor": "f", "image": "i", "rootVolume": {"type": "SATA", "size": 40},
                         "network": {"vpcId": "v"}},
            "strategy": {"rollingUpdate": {"maxSurge": null, "maxUnavailable": "25%"}},
            "remediation": {"maxUnhealthy": null}
        }
    }))
    .unwrap();
    assert_eq!(ec.spec.strategy.rolling_update.max_surge(), IntOrString::Int(1));
    assert_eq!(
        ec.spec.strategy.rolling_update.max_unavailable(),
        IntOrString::String("25%".into())
    );
    assert_eq!(
        ec.spec.remediation.max_unhealthy(),
        IntOrString::String("50%".into())
    );
}
