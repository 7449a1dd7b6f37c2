//! The API index test: every one of the 90 APIs of the digest's index (§1.7) is routed by the
//! emulator (its answer is never the gateway's 404 `APIGW.0101` for an unknown route), and the five
//! APIs that appear only in the doc's permission table (no request or response documented) are
//! deliberately not served.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::start;
use reqwest::Method;
use serde_json::json;

const ID: &str = "d88eb9ef-0000-4000-8000-000000000001";

/// (method, path with `{}` for every parameter) of the digest's index, in doc order.
const INDEX: [(&str, &str); 88] = [
    ("POST", "/v1/deployments"),
    ("GET", "/v1/deployments"),
    ("DELETE", "/v1/deployments/{}"),
    ("POST", "/v1/deployments/{}/deploy"),
    ("POST", "/v1/deployments/{}/expand"),
    ("GET", "/v1/edgeclouds"),
    ("GET", "/v1/edgeclouds/{}"),
    ("DELETE", "/v1/edgeclouds/{}"),
    ("GET", "/v1/cloudservers"),
    ("POST", "/v1/cloudservers"),
    ("GET", "/v1/cloudservers/{}"),
    ("PUT", "/v1/cloudservers/{}"),
    ("POST", "/v1/cloudservers/delete"),
    ("POST", "/v1/cloudservers/action"),
    ("POST", "/v1/cloudservers/{}/change-os"),
    ("POST", "/v1/cloudservers/{}/nics"),
    ("POST", "/v1/cloudservers/{}/nics/delete"),
    ("GET", "/v1/cloudservers/flavors"),
    ("GET", "/v1/cloudvolumes"),
    ("GET", "/v1/cloudvolumes/{}"),
    ("GET", "/v1/cloudvolumes/volume-types"),
    ("POST", "/v1/os-keypairs"),
    ("GET", "/v1/os-keypairs"),
    ("GET", "/v1/os-keypairs/{}"),
    ("DELETE", "/v1/os-keypairs/{}"),
    ("GET", "/v1/sites"),
    ("GET", "/v1/vpcs"),
    ("POST", "/v1/vpcs"),
    ("GET", "/v1/vpcs/{}"),
    ("PUT", "/v1/vpcs/{}"),
    ("DELETE", "/v1/vpcs/{}"),
    ("GET", "/v1/subnets"),
    ("POST", "/v1/subnets"),
    ("GET", "/v1/subnets/{}"),
    ("PUT", "/v1/subnets/{}"),
    ("DELETE", "/v1/subnets/{}"),
    ("GET", "/v1/subnets/{}/routetables"),
    ("GET", "/v1/ports"),
    ("GET", "/v1/ports/{}"),
    ("POST", "/v1/ports"),
    ("DELETE", "/v1/ports/{}"),
    ("PUT", "/v1/ports/{}"),
    ("POST", "/v1/vports/{}/bandwidth/attach"),
    ("POST", "/v1/vports/{}/bandwidth/detach"),
    ("GET", "/v1/security-groups"),
    ("POST", "/v1/security-groups"),
    ("GET", "/v1/security-groups/{}"),
    ("DELETE", "/v1/security-groups/{}"),
    ("GET", "/v1/security-group-rules"),
    ("POST", "/v1/security-group-rules"),
    ("GET", "/v1/security-group-rules/{}"),
    ("DELETE", "/v1/security-group-rules/{}"),
    ("GET", "/v1/firewalls"),
    ("POST", "/v1/firewalls"),
    ("GET", "/v1/firewalls/{}"),
    ("PUT", "/v1/firewalls/{}"),
    ("DELETE", "/v1/firewalls/{}"),
    ("PUT", "/v1/firewalls/{}/firewall-rules"),
    ("GET", "/v1/routetables"),
    ("GET", "/v1/routetables/{}"),
    ("POST", "/v1/routetables"),
    ("PUT", "/v1/routetables/{}"),
    ("DELETE", "/v1/routetables/{}"),
    ("POST", "/v1/routetables/{}/associate-subnets"),
    ("POST", "/v1/routetables/{}/disassociate-subnets"),
    ("GET", "/v1/routetables/{}/routes"),
    ("POST", "/v1/routetables/{}/add-routes"),
    ("POST", "/v1/routetables/{}/update-routes"),
    ("POST", "/v1/routetables/{}/delete-routes"),
    ("GET", "/v1/bandwidths"),
    ("GET", "/v1/bandwidths/{}"),
    ("PUT", "/v1/bandwidths/{}"),
    ("DELETE", "/v1/bandwidths/{}"),
    ("GET", "/v1/share-bandwidth-types"),
    ("GET", "/v1/publicips"),
    ("POST", "/v1/publicips"),
    ("GET", "/v1/publicips/{}"),
    ("PUT", "/v1/publicips/{}"),
    ("DELETE", "/v1/publicips/{}"),
    ("POST", "/v1/images/register"),
    ("POST", "/v1/images/create"),
    ("GET", "/v1/images"),
    ("GET", "/v1/images/{}"),
    ("DELETE", "/v1/images/{}"),
    ("GET", "/v1/cloudimages/{}"),
    ("POST", "/v1/{}/jobs/{}/action"),
    ("GET", "/v1/edgeclouds/quotas"),
    ("PUT", "/v1/firewalls/{}/update_firewall_rules"),
];

/// In the doc's permission table only (§6): no request or response is documented.
const PERMISSION_ONLY: [(&str, &str); 5] = [
    ("POST", "/v1/cloudservers/{}/detach-volume"),
    ("POST", "/v1/cloudservers/{}/attach-volume"),
    ("POST", "/v1/cloudvolumes"),
    ("DELETE", "/v1/cloudvolumes/{}"),
    ("POST", "/v1/cloudvolumes/{}/actions/extend"),
];

fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).unwrap()
}

#[tokio::test]
async fn every_documented_api_is_routed() {
    let emu = start().await;
    // the three batch actions share one route, so 88 distinct routes cover the 90 index rows
    for (m, p) in INDEX {
        let path = p.replace("{}", ID);
        let body = (m != "GET" && m != "DELETE").then(|| json!({}));
        let (status, v) = emu.call(method(m), &path, body).await;
        assert_ne!(v["error_code"], "APIGW.0101", "{m} {path} is not routed");
        assert!(
            status.is_success() || v["error_code"].as_str().is_some_and(|c| c.starts_with("IEC.")),
            "{m} {path}: {status} {v}"
        );
    }
    for (m, p) in PERMISSION_ONLY {
        let path = p.replace("{}", ID);
        let (status, v) = emu.call(method(m), &path, Some(json!({}))).await;
        assert_eq!(status.as_u16(), 404, "{m} {path}: {v}");
        assert_eq!(v["error_code"], "APIGW.0101", "{m} {path}: {v}");
    }
}
