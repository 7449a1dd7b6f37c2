//! veEN VPCs, security groups and rules over real HTTP: create/list/delete with validation, the
//! `modifying → available` and `deleting → gone` transitions, in-use refusals, instances in a VPC.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod veen_support;

use serde_json::{Value, json};
use veen_support::{Veen, assert_err, seed_body, start};

fn vpc_body(name: &str) -> Value {
    json!({"vpc_name": name, "cluster_name": "cn-hangzhou-cmcc-01", "segment": "192.168.0.0/16",
           "desc": "edge vpc", "subnets": [{"name": "sn-a", "cidr": "192.168.1.0/24", "desc": "a"}],
           "Tags": [{"Key": "edgefleet.io/uid", "Value": "v1"}]})
}

async fn vpcs(v: &Veen, params: &[(&str, &str)]) -> Value {
    v.get_ok("ListVPCInstances", params).await
}

#[tokio::test]
async fn veen_vpc_lifecycle_and_validation() {
    let v = start().await;
    let r = v.post_ok("CreateCustomVPCInstance", vpc_body("vpc-one")).await;
    let vpc = &r["vpc_instance"];
    let id = vpc["vpc_identity"].as_str().unwrap().to_string();
    assert_eq!(vpc["status"], "modifying");
    assert_eq!(vpc["cluster"]["cluster_name"], "cn-hangzhou-cmcc-01");
    assert_eq!(vpc["sub_nets"][0]["cidr_ip"], "192.168.1.0");
    assert_eq!(vpc["sub_nets"][0]["cidr_mask"], 24);
    let subnet = vpc["sub_nets"][0]["subnet_identity"]
        .as_str()
        .unwrap()
        .to_string();
    v.advance(1).await;
    let l = vpcs(&v, &[("VpcIdentityList", &id)]).await;
    assert_eq!(l["count"], 1);
    assert_eq!(l["vpc_instances"][0]["status"], "available");
    assert_eq!(vpcs(&v, &[("vpc_identity_list", "vpc-nope")]).await["count"], 0);
    assert_eq!(
        vpcs(&v, &[("ClusterNames", "cn-beijing-cucc-01")]).await["count"],
        0
    );
    assert_eq!(
        vpcs(
            &v,
            &[("TagFilters.1.Key", "edgefleet.io/uid"), ("WithTagInfo", "true")]
        )
        .await["vpc_instances"][0]["Tags"][0]["Value"],
        "v1"
    );
    for (field, value, code) in [
        ("vpc_name", Value::Null, "MissingParameter"),
        ("vpc_name", json!("has space"), "InvalidParameter"),
        ("cluster_name", json!("cn-nowhere"), "InvalidParameter"),
        ("segment", json!("8.8.0.0/16"), "InvalidParameter"),
        ("segment", json!("10.0.0.0/30"), "InvalidParameter"),
        ("segment", json!("nonsense"), "InvalidParameter"),
        ("desc", Value::Null, "MissingParameter"),
        (
            "subnets",
            json!([{"name": "x", "cidr": "10.0.0.0/24"}]),
            "InvalidParameter",
        ),
        (
            "subnets",
            json!([{"name": "x", "cidr": "192.168.1.0/24"}, {"name": "y", "cidr": "192.168.1.128/25"}]),
            "InvalidParameter",
        ),
        ("subnets", json!([{"cidr": "192.168.1.0/24"}]), "MissingParameter"),
    ] {
        let mut b = vpc_body("vpc-two");
        b[field] = value;
        assert_err(&v.post("CreateCustomVPCInstance", b).await, 400, code, field);
    }
    // an instance in the VPC's subnet; the VPC's cluster only
    let mut body = seed_body(
        "in-vpc",
        json!([{"cluster_name": "cn-hangzhou-cmcc-01", "num": 1, "vpc_identity": id, "subnet_identity": subnet}]),
    );
    let r = v.post_ok("CreateCloudServer", body.clone()).await;
    let inst = r["instance_id_list"][0].as_str().unwrap().to_string();
    let i = v.get_ok("GetInstance", &[("instance_identity", &inst)]).await;
    assert_eq!(i["instance"]["vpc_identity"], id.as_str());
    assert_eq!(i["instance"]["subnet_cidr"], "192.168.1.0/24");
    assert!(
        i["instance"]["network"]["internal_interface"]["ip_addr"]
            .as_str()
            .unwrap()
            .starts_with("192.168.1.")
    );
    body["cloudserver_name"] = json!("wrong-node");
    body["instance_area_nums"][0]["cluster_name"] = json!("cn-beijing-cucc-01");
    assert_err(
        &v.post("CreateCloudServer", body).await,
        400,
        "InsufficientCapacity",
        "VPC",
    );
    let vids = v.get_ok("ListInstances", &[("VPCIdentities", &id)]).await;
    assert_eq!(vids["total_count"], 1);
    // in use → refused; after the instance is gone → deleting → gone
    assert_err(
        &v.post("DeleteCustomVPCInstances", json!({"vpc_identity_list": [id]}))
            .await,
        400,
        "ResourceInUse",
        &id,
    );
    v.advance(3).await;
    v.post_ok(
        "OfflineInstances",
        json!({"instance_identities": [inst], "ignore_running": true}),
    )
    .await;
    v.advance(3).await;
    v.post_ok("DeleteCustomVPCInstances", json!({"vpc_identity_list": [id]}))
        .await;
    assert_eq!(vpcs(&v, &[]).await["vpc_instances"][0]["status"], "deleting");
    v.advance(1).await;
    assert_eq!(vpcs(&v, &[]).await["count"], 0);
    assert_err(
        &v.post("DeleteCustomVPCInstances", json!({"vpc_identity_list": [id]}))
            .await,
        404,
        "ResourceNotFound",
        &id,
    );
    assert_err(
        &v.post("DeleteCustomVPCInstances", json!({"vpc_identity_list": null}))
            .await,
        400,
        "MissingParameter",
        "vpc_identity_list",
    );
    v.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn veen_security_groups_and_rules() {
    let v = start().await;
    let r = v.post_ok("CreateCustomVPCInstance", vpc_body("vpc-sg")).await;
    let vpc = r["vpc_instance"]["vpc_identity"].as_str().unwrap().to_string();
    let sg_body = json!({"vpc_identity": vpc, "name": "web", "remark": "web tier", "Tags": [{"Key": "k", "Value": "v"}]});
    assert_err(
        &v.post("CreateSecurityGroup", sg_body.clone()).await,
        400,
        "InvalidParameter",
        "vpc_identity",
    );
    v.advance(1).await;
    let g = v.post_ok("CreateSecurityGroup", sg_body.clone()).await;
    let sg = g["security_group"]["group_identity"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(g["security_group"]["vpc_identity"], vpc.as_str());
    assert_eq!(g["security_group"]["group_type"], "custom");
    assert_err(
        &v.post("CreateSecurityGroup", sg_body).await,
        400,
        "InvalidParameter",
        "already has",
    );
    assert_err(
        &v.post("CreateSecurityGroup", json!({"vpc_identity": vpc})).await,
        400,
        "MissingParameter",
        "name",
    );
    assert_err(
        &v.post(
            "CreateSecurityGroup",
            json!({"vpc_identity": vpc, "name": "x", "group_type": "odd"}),
        )
        .await,
        400,
        "InvalidParameter",
        "group_type",
    );
    let d = v
        .get_ok(
            "DescribeSecurityGroups",
            &[("TagFilters.1.Key", "k"), ("WithTagInfo", "true")],
        )
        .await;
    assert_eq!(d["total_count"], 1);
    assert_eq!(d["security_groups"][0]["cluster_name"], "cn-hangzhou-cmcc-01");
    assert_eq!(d["security_groups"][0]["Tags"][0]["Key"], "k");
    // rules
    let rules = json!({"group_identity": sg, "rules": [
        {"direction": "ingress", "protocol": "TCP", "ports": "22", "ip_cidr": "0.0.0.0/0", "priority": 1, "rule": "allow", "remark": "ssh"},
        {"direction": "egress", "protocol": "ANY", "ip_cidrs": ["10.0.0.0/8", "172.16.0.0/12"]}]});
    let c = v.post_ok("CreateSecurityGroupRules", rules.clone()).await;
    assert_eq!(c["rules"].as_array().unwrap().len(), 3);
    assert_err(
        &v.post("CreateSecurityGroupRules", rules).await,
        400,
        "InvalidParameter",
        "exists",
    );
    for (rule, code, field) in [
        (
            json!({"protocol": "TCP", "ports": "80", "ip_cidr": "0.0.0.0/0"}),
            "MissingParameter",
            "rules.1.direction",
        ),
        (
            json!({"direction": "in", "protocol": "TCP", "ports": "80", "ip_cidr": "0.0.0.0/0"}),
            "InvalidParameter",
            "rules.1.direction",
        ),
        (
            json!({"direction": "ingress", "protocol": "SCTP", "ip_cidr": "0.0.0.0/0"}),
            "InvalidParameter",
            "rules.1.protocol",
        ),
        (
            json!({"direction": "ingress", "protocol": "TCP", "ports": "0-80", "ip_cidr": "0.0.0.0/0"}),
            "InvalidParameter",
            "rules.1.ports",
        ),
        (
            json!({"direction": "ingress", "protocol": "ICMP", "ports": "80", "ip_cidr": "0.0.0.0/0"}),
            "InvalidParameter",
            "rules.1.ports",
        ),
        (
            json!({"direction": "ingress", "protocol": "TCP", "ports": "80"}),
            "MissingParameter",
            "rules.1.ip_cidr",
        ),
        (
            json!({"direction": "ingress", "protocol": "TCP", "ports": "80", "ip_cidr": "x"}),
            "InvalidParameter",
            "rules.1.ip_cidr",
        ),
        (
            json!({"direction": "ingress", "protocol": "TCP", "ports": "80", "ip_cidr": "0.0.0.0/0", "priority": 101}),
            "InvalidParameter",
            "rules.1.priority",
        ),
        (
            json!({"direction": "ingress", "protocol": "TCP", "ports": "80", "ip_cidr": "0.0.0.0/0", "rule": "drop"}),
            "InvalidParameter",
            "rules.1.rule",
        ),
    ] {
        assert_err(
            &v.post(
                "CreateSecurityGroupRules",
                json!({"group_identity": sg, "rules": [rule]}),
            )
            .await,
            400,
            code,
            field,
        );
    }
    let all = v
        .get_ok("DescribeSecurityGroupRules", &[("GroupIdentity", &sg)])
        .await;
    assert_eq!(all["total_count"], 3);
    let ingress = v
        .get_ok(
            "DescribeSecurityGroupRules",
            &[("group_identity", &sg), ("direction", "ingress")],
        )
        .await;
    assert_eq!(ingress["total_count"], 1);
    assert_eq!(ingress["rules"][0]["ports"], "22");
    let page = v
        .get_ok(
            "DescribeSecurityGroupRules",
            &[("group_identity", &sg), ("limit", "2"), ("page", "2")],
        )
        .await;
    assert_eq!(page["rules"].as_array().unwrap().len(), 1);
    assert_err(
        &v.get("DescribeSecurityGroupRules", &[]).await,
        400,
        "MissingParameter",
        "group_identity",
    );
    let rid = ingress["rules"][0]["rule_identity"].as_str().unwrap().to_string();
    v.post_ok(
        "DeleteSecurityGroupRules",
        json!({"group_identity": sg, "rule_identities": [rid]}),
    )
    .await;
    assert_err(
        &v.post(
            "DeleteSecurityGroupRules",
            json!({"group_identity": sg, "rule_identities": [rid]}),
        )
        .await,
        404,
        "ResourceNotFound",
        &rid,
    );
    // a group used by an instance cannot be deleted; a VPC with a group cannot either
    let mut cs = seed_body(
        "with-sg",
        json!([{"cluster_name": "cn-hangzhou-cmcc-01", "num": 1}]),
    );
    cs["network_config"]["security_group_id_list"] = json!([sg]);
    let r = v.post_ok("CreateCloudServer", cs).await;
    let inst = r["instance_id_list"][0].as_str().unwrap().to_string();
    let bound = v
        .get_ok("DescribeSecurityGroups", &[("BindIdentities", &inst)])
        .await;
    assert_eq!(bound["total_count"], 1);
    assert_err(
        &v.post("DeleteSecurityGroup", json!({"group_identities": [sg]}))
            .await,
        400,
        "ResourceInUse",
        &sg,
    );
    assert_err(
        &v.post("DeleteCustomVPCInstances", json!({"vpc_identity_list": [vpc]}))
            .await,
        400,
        "ResourceInUse",
        "",
    );
    v.advance(3).await;
    v.post_ok(
        "OfflineInstances",
        json!({"instance_identities": [inst], "ignore_running": true}),
    )
    .await;
    v.advance(2).await;
    v.post_ok("DeleteSecurityGroup", json!({"group_identities": [sg]}))
        .await;
    assert_err(
        &v.get("DescribeSecurityGroupRules", &[("group_identity", &sg)])
            .await,
        404,
        "ResourceNotFound",
        &sg,
    );
    assert_eq!(v.get_ok("DescribeSecurityGroups", &[]).await["total_count"], 0);
    v.post_ok("DeleteCustomVPCInstances", json!({"vpc_identity_list": [vpc]}))
        .await;
    v.handle.shutdown().await.unwrap();
}

async fn available_vpc(v: &Veen, name: &str) -> (String, String) {
    let r = v.post_ok("CreateCustomVPCInstance", vpc_body(name)).await;
    let vpc = r["vpc_instance"]["vpc_identity"].as_str().unwrap().to_string();
    let subnet = r["vpc_instance"]["sub_nets"][0]["subnet_identity"]
        .as_str()
        .unwrap()
        .to_string();
    (vpc, subnet)
}

async fn subnets(v: &Veen, params: &[(&str, &str)]) -> Value {
    v.get_ok("ListSubnetInstances", params).await
}

#[tokio::test]
async fn veen_subnets_are_added_listed_renamed_and_removed() {
    let v = start().await;
    let (vpc, first) = available_vpc(&v, "vpc-sn").await;
    let add = json!({"vpc_identity": vpc, "subnets": [{"name": "sn-b", "cidr": "192.168.2.0/24", "desc": "b"}],
                     "Tags": [{"Key": "edgefleet-owner", "Value": "u1"}]});
    assert_err(
        &v.post("CreateSubnetsForCustomVPC", add.clone()).await,
        400,
        "ResourceInUse",
        "modifying",
    );
    v.advance(1).await;
    let made = v.post_ok("CreateSubnetsForCustomVPC", add.clone()).await;
    let second = made["subnet_id_list"][0].as_str().unwrap().to_string();
    for (body, code, needle) in [
        (
            json!({"vpc_identity": vpc, "subnets": [{"name": "x", "cidr": "192.168.2.128/25"}]}),
            "InvalidParameter",
            "subnets.1.cidr",
        ),
        (
            json!({"vpc_identity": vpc, "subnets": [{"name": "x", "cidr": "10.1.0.0/24"}]}),
            "InvalidParameter",
            "subnets.1.cidr",
        ),
        (
            json!({"vpc_identity": vpc, "subnets": [{"name": "x", "cidr": "192.168.9.0/30"}]}),
            "InvalidParameter",
            "subnets.1.cidr",
        ),
        (
            json!({"vpc_identity": vpc, "subnets": [{"name": "has space", "cidr": "192.168.9.0/24"}]}),
            "InvalidParameter",
            "subnets.1.name",
        ),
        (
            json!({"vpc_identity": vpc, "subnets": null}),
            "MissingParameter",
            "subnets",
        ),
        (
            json!({"subnets": [{"name": "x", "cidr": "192.168.9.0/24"}]}),
            "MissingParameter",
            "vpc_identity",
        ),
        (
            json!({"vpc_identity": "vpc-nope", "subnets": [{"name": "x", "cidr": "192.168.9.0/24"}]}),
            "ResourceNotFound",
            "vpc-nope",
        ),
    ] {
        let status = if code == "ResourceNotFound" { 404 } else { 400 };
        assert_err(
            &v.post("CreateSubnetsForCustomVPC", body).await,
            status,
            code,
            needle,
        );
    }
    // both spellings of the filters; the VPC it belongs to; tags on request
    let all = subnets(&v, &[("ClusterNames", "cn-hangzhou-cmcc-01")]).await;
    assert_eq!(all["count"], 2);
    let one = subnets(&v, &[("subnet_identity_list", &second), ("WithTagInfo", "true")]).await;
    assert_eq!(one["count"], 1);
    let s = &one["subnet_instances"][0];
    assert_eq!(
        (s["cidr_ip"].as_str(), s["cidr_mask"].as_u64()),
        (Some("192.168.2.0"), Some(24))
    );
    assert_eq!(s["vpc_info"]["vpc_identity"], vpc.as_str());
    assert_eq!(s["vpc_info"]["cluster"]["cluster_name"], "cn-hangzhou-cmcc-01");
    assert_eq!(s["Tags"][0]["Value"], "u1");
    assert_eq!(
        subnets(
            &v,
            &[
                ("TagFilters.1.Key", "edgefleet-owner"),
                ("TagFilters.1.Values.1", "u1")
            ]
        )
        .await["count"],
        1
    );
    assert_eq!(subnets(&v, &[("StatusList", "deleting")]).await["count"], 0);
    assert_err(
        &v.get("ListSubnetInstances", &[("StatusList", "odd")]).await,
        400,
        "InvalidParameter",
        "StatusList",
    );
    let vpc_now = vpcs(&v, &[("VpcIdentityList", &vpc)]).await;
    assert_eq!(
        vpc_now["vpc_instances"][0]["sub_nets"].as_array().unwrap().len(),
        2
    );
    // rename a subnet and the VPC
    v.post_ok(
        "SetSubnetNameAndDesc",
        json!({"subnet_identity": second, "name": "sn-b2", "desc": "b2"}),
    )
    .await;
    assert_eq!(
        subnets(&v, &[("SubnetIdentityList", &second)]).await["subnet_instances"][0]["name"],
        "sn-b2"
    );
    assert_err(
        &v.post(
            "SetSubnetNameAndDesc",
            json!({"subnet_identity": "subnet-nope", "name": "x"}),
        )
        .await,
        404,
        "ResourceNotFound",
        "subnet-nope",
    );
    v.post_ok(
        "SetVPCInstanceName",
        json!({"vpc_identity": vpc, "vpc_name": "vpc-renamed"}),
    )
    .await;
    v.post_ok("SetVPCInstanceDesc", json!({"vpc_identity": vpc, "desc": "new"}))
        .await;
    let renamed = vpcs(&v, &[("VpcIdentityList", &vpc)]).await;
    assert_eq!(renamed["vpc_instances"][0]["vpc_name"], "vpc-renamed");
    assert_eq!(renamed["vpc_instances"][0]["desc"], "new");
    assert_err(
        &v.post(
            "SetVPCInstanceName",
            json!({"vpc_identity": vpc, "vpc_name": "has space"}),
        )
        .await,
        400,
        "InvalidParameter",
        "vpc_name",
    );
    // a subnet with an instance cannot go; the other can
    let r = v.post_ok("CreateCloudServer", seed_body("in-subnet", json!([{"cluster_name": "cn-hangzhou-cmcc-01", "num": 1, "vpc_identity": vpc, "subnet_identity": second}]))).await;
    let inst = r["instance_id_list"][0].as_str().unwrap().to_string();
    assert_err(
        &v.post(
            "DeleteSubnetsForCustomVPC",
            json!({"vpc_identity": vpc, "subnet_identity_list": [second]}),
        )
        .await,
        400,
        "ResourceInUse",
        &second,
    );
    v.post_ok(
        "DeleteSubnetsForCustomVPC",
        json!({"vpc_identity": vpc, "subnet_identity_list": [first]}),
    )
    .await;
    assert_err(
        &v.post(
            "DeleteSubnetsForCustomVPC",
            json!({"vpc_identity": vpc, "subnet_identity_list": [first]}),
        )
        .await,
        404,
        "ResourceNotFound",
        &first,
    );
    assert_err(
        &v.post(
            "DeleteSubnetsForCustomVPC",
            json!({"vpc_identity": vpc, "subnet_identity_list": null}),
        )
        .await,
        400,
        "MissingParameter",
        "subnet_identity_list",
    );
    v.advance(3).await;
    v.post_ok(
        "OfflineInstances",
        json!({"instance_identities": [inst], "ignore_running": true}),
    )
    .await;
    v.advance(3).await;
    v.post_ok(
        "DeleteSubnetsForCustomVPC",
        json!({"vpc_identity": vpc, "subnet_identity_list": [second]}),
    )
    .await;
    assert_eq!(subnets(&v, &[]).await["count"], 0);
    v.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn veen_rules_are_modified_in_place_and_groups_bind_instances() {
    let v = start().await;
    let (vpc, subnet) = available_vpc(&v, "vpc-mod").await;
    v.advance(1).await;
    let g = v
        .post_ok("CreateSecurityGroup", json!({"vpc_identity": vpc, "name": "app"}))
        .await;
    let sg = g["security_group"]["group_identity"]
        .as_str()
        .unwrap()
        .to_string();
    let c = v
        .post_ok(
            "CreateSecurityGroupRules",
            json!({"group_identity": sg, "rules": [
                {"direction": "ingress", "protocol": "TCP", "ports": "22", "ip_cidr": "0.0.0.0/0"},
                {"direction": "ingress", "protocol": "TCP", "ports": "80", "ip_cidr": "0.0.0.0/0"}]}),
        )
        .await;
    let ssh = c["rules"][0]["rule_identity"].as_str().unwrap().to_string();
    // absent policy fields keep their values; the id stays
    let m = v.post_ok("ModifySecurityGroupRule", json!({"group_identity": sg, "rule_identity": ssh, "policy": {"ip_cidr": "10.0.0.0/8", "priority": 5, "rule": "reject", "ip_cidrs": null}})).await;
    let r = &m["rule"];
    assert_eq!(r["rule_identity"], ssh.as_str());
    assert_eq!(
        (r["protocol"].as_str(), r["ports"].as_str()),
        (Some("TCP"), Some("22"))
    );
    assert_eq!(
        (r["ip_cidr"].as_str(), r["priority"].as_i64(), r["rule"].as_str()),
        (Some("10.0.0.0/8"), Some(5), Some("reject"))
    );
    // a changed protocol does not keep the ports
    let m = v
        .post_ok(
            "ModifySecurityGroupRule",
            json!({"group_identity": sg, "rule_identity": ssh, "policy": {"protocol": "ICMP"}}),
        )
        .await;
    assert_eq!(m["rule"]["ports"], "");
    let listed = v
        .get_ok("DescribeSecurityGroupRules", &[("GroupIdentity", &sg)])
        .await;
    assert_eq!(listed["total_count"], 2, "modified, not added");
    for (policy, status, code, needle) in [
        (
            json!({"protocol": "TCP", "ports": "80", "ip_cidr": "0.0.0.0/0", "priority": 1, "rule": "allow"}),
            400,
            "InvalidParameter",
            "exists",
        ),
        (
            json!({"protocol": "TCP", "ports": "0"}),
            400,
            "InvalidParameter",
            "policy.ports",
        ),
        (
            json!({"direction": "sideways"}),
            400,
            "InvalidParameter",
            "policy.direction",
        ),
        (
            json!({"ip_cidrs": ["10.0.0.0/8", "10.1.0.0/16"]}),
            400,
            "InvalidParameter",
            "policy.ip_cidrs",
        ),
        (json!({"priority": 0}), 400, "InvalidParameter", "policy.priority"),
    ] {
        assert_err(
            &v.post(
                "ModifySecurityGroupRule",
                json!({"group_identity": sg, "rule_identity": ssh, "policy": policy}),
            )
            .await,
            status,
            code,
            needle,
        );
    }
    assert_err(
        &v.post(
            "ModifySecurityGroupRule",
            json!({"group_identity": sg, "rule_identity": "rule-nope", "policy": {}}),
        )
        .await,
        404,
        "ResourceNotFound",
        "rule-nope",
    );
    assert_err(
        &v.post("ModifySecurityGroupRule", json!({"group_identity": sg}))
            .await,
        400,
        "MissingParameter",
        "rule_identity",
    );
    // one group with its rules by direction
    let d = v.get_ok("DescribeSecurityGroup", &[("GroupIdentity", &sg)]).await;
    assert_eq!(d["security_group"]["ingress_rule"]["total"], 2);
    assert_eq!(d["security_group"]["egress_rule"]["total"], 0);
    assert_err(
        &v.get("DescribeSecurityGroup", &[("group_identity", "sg-nope")])
            .await,
        404,
        "ResourceNotFound",
        "sg-nope",
    );
    // name and remark change in place; the name stays unique per VPC
    v.post_ok(
        "CreateSecurityGroup",
        json!({"vpc_identity": vpc, "name": "other"}),
    )
    .await;
    let a = v
        .post_ok(
            "ModifySecurityGroupAttribute",
            json!({"group_identity": sg, "name": "app2", "remark": "renamed"}),
        )
        .await;
    assert_eq!(
        (
            a["security_group"]["name"].as_str(),
            a["security_group"]["remark"].as_str()
        ),
        (Some("app2"), Some("renamed"))
    );
    assert_err(
        &v.post(
            "ModifySecurityGroupAttribute",
            json!({"group_identity": sg, "name": "other"}),
        )
        .await,
        400,
        "InvalidParameter",
        "already has",
    );
    assert_err(
        &v.post("ModifySecurityGroupAttribute", json!({"group_identity": sg}))
            .await,
        400,
        "MissingParameter",
        "name",
    );
    // instances of the group's VPC join and leave; a joined group cannot be deleted
    let r = v.post_ok("CreateCloudServer", seed_body("joiner", json!([{"cluster_name": "cn-hangzhou-cmcc-01", "num": 1, "vpc_identity": vpc, "subnet_identity": subnet}]))).await;
    let inst = r["instance_id_list"][0].as_str().unwrap().to_string();
    let outside = v
        .post_ok(
            "CreateCloudServer",
            seed_body(
                "outsider",
                json!([{"cluster_name": "cn-hangzhou-cmcc-01", "num": 1}]),
            ),
        )
        .await["instance_id_list"][0]
        .as_str()
        .unwrap()
        .to_string();
    v.post_ok(
        "JoinSecurityGroup",
        json!({"group_identity": sg, "instance_identities": [inst]}),
    )
    .await;
    assert_err(
        &v.post(
            "JoinSecurityGroup",
            json!({"group_identity": sg, "instance_identities": [outside]}),
        )
        .await,
        400,
        "InvalidParameter",
        "not in VPC",
    );
    assert_err(
        &v.post(
            "JoinSecurityGroup",
            json!({"group_identity": sg, "instance_identities": null}),
        )
        .await,
        400,
        "MissingParameter",
        "instance_identities",
    );
    let bound = v
        .get_ok("DescribeSecurityGroups", &[("BindIdentities", &inst)])
        .await;
    assert_eq!(bound["total_count"], 1);
    let d = v.get_ok("DescribeSecurityGroup", &[("GroupIdentity", &sg)]).await;
    assert_eq!(
        d["security_group"]["binds"]["binds"][0]["bind_identity"],
        inst.as_str()
    );
    assert_err(
        &v.post("DeleteSecurityGroup", json!({"group_identities": [sg]}))
            .await,
        400,
        "ResourceInUse",
        &sg,
    );
    v.post_ok(
        "LeaveSecurityGroup",
        json!({"group_identity": sg, "instance_identities": [inst]}),
    )
    .await;
    let bound = v
        .get_ok("DescribeSecurityGroups", &[("BindIdentities", &inst)])
        .await;
    assert_eq!(bound["total_count"], 0);
    v.post_ok("DeleteSecurityGroup", json!({"group_identities": [sg]}))
        .await;
    v.handle.shutdown().await.unwrap();
}
