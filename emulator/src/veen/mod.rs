//! Volcengine veEN (边缘计算节点, service `veenedge`, Version `2021-04-30`) as the emulator serves it
//! on a listener of its own (`Config.veen_addr`), over the same world, clock, faults and admin API as
//! IEC. RPC style as the real API (digest §1.1, design memo §4.2): `GET|POST /?Action=X&Version=…`,
//! GET parameters in the query, POST parameters in a JSON body (`Content-Type: application/json`);
//! answers in the [`envelope`], errors as [`errors::render`] gives them. Every call is verified
//! with Volcengine HMAC-SHA256 ([`auth`]). Counter and fault keys are `veen:<Action>` (the matched
//! route is always `/`); an unknown action, a wrong version or a wrong method is 404
//! `InvalidActionOrVersion`.
//!
//! Families: [`cloud_servers`], [`instances`], [`network`] (VPCs and subnets, security groups, their
//! rules and instance bindings), the
//! [`catalog`]; [`params`] reads parameters in both spellings (SDK PascalCase, docs snake_case).

pub mod auth;
pub mod catalog;
pub mod cloud_servers;
pub mod envelope;
pub mod errors;
pub mod instances;
pub mod network;
pub mod params;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{Method, Uri};
use axum::response::Response;
use axum::routing::get;
use serde_json::Value;

use crate::core::app::AppState;
use crate::core::auth::Principal;
use crate::core::cloud::{Cloud, Family, Profile};
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::paging::QueryParams;
use crate::core::state::{StateError, Store};
use errors::{INTERNAL_ERROR, INVALID_ACTION_OR_VERSION, SERVICE_UNAVAILABLE_TEMP, UNSUPPORTED_CONTENT_TYPE};
use params::{Obj, Query};

/// Record kinds (table names), namespaced `veen.*`.
pub mod kinds {
    /// Cloud servers.
    pub const CLOUD_SERVER: &str = "veen.cloud_server";
    /// Instances.
    pub const INSTANCE: &str = "veen.instance";
    /// `client_token` records of CreateCloudServer / CreateInstance.
    pub const CLIENT_TOKEN: &str = "veen.client_token";
    /// Custom VPCs.
    pub const VPC: &str = "veen.vpc";
    /// Security groups.
    pub const SECURITY_GROUP: &str = "veen.security_group";
    /// Security group rules.
    pub const SECURITY_GROUP_RULE: &str = "veen.security_group_rule";
}

type GetFn = fn(&AppState, &Principal, &Query) -> Result<Value, ApiError>;
type PostFn = fn(&AppState, &Principal, Obj<'_>) -> Result<Value, ApiError>;

/// How an action is called.
#[derive(Clone, Copy)]
enum Handler {
    Get(GetFn),
    Post(PostFn),
}

/// The actions served, with their method (as in the SDK's `api_*.go`).
const ACTIONS: &[(&str, Handler)] = &[
    ("CreateCloudServer", Handler::Post(cloud_servers::create)),
    ("ListCloudServers", Handler::Get(cloud_servers::list)),
    ("GetCloudServer", Handler::Get(cloud_servers::get)),
    ("DeleteCloudServer", Handler::Post(cloud_servers::delete)),
    ("CreateInstance", Handler::Post(instances::create)),
    ("ListInstances", Handler::Get(instances::list)),
    ("GetInstance", Handler::Get(instances::get)),
    ("StartInstances", Handler::Post(instances::start)),
    ("StopInstances", Handler::Post(instances::stop)),
    ("RebootInstances", Handler::Post(instances::reboot)),
    ("OfflineInstances", Handler::Post(instances::offline)),
    ("SetInstanceName", Handler::Post(instances::set_name)),
    ("ListAvailableResourceInfo", Handler::Get(instances::available)),
    ("CreateCustomVPCInstance", Handler::Post(network::create_vpc)),
    ("ListVPCInstances", Handler::Get(network::list_vpcs)),
    ("DeleteCustomVPCInstances", Handler::Post(network::delete_vpcs)),
    ("SetVPCInstanceName", Handler::Post(network::set_vpc_name)),
    ("SetVPCInstanceDesc", Handler::Post(network::set_vpc_desc)),
    (
        "CreateSubnetsForCustomVPC",
        Handler::Post(network::create_subnets),
    ),
    (
        "DeleteSubnetsForCustomVPC",
        Handler::Post(network::delete_subnets),
    ),
    ("ListSubnetInstances", Handler::Get(network::list_subnets)),
    ("SetSubnetNameAndDesc", Handler::Post(network::set_subnet)),
    ("CreateSecurityGroup", Handler::Post(network::create_sg)),
    ("DescribeSecurityGroups", Handler::Get(network::describe_sgs)),
    ("DescribeSecurityGroup", Handler::Get(network::describe_sg)),
    ("ModifySecurityGroupAttribute", Handler::Post(network::modify_sg)),
    ("DeleteSecurityGroup", Handler::Post(network::delete_sg)),
    ("CreateSecurityGroupRules", Handler::Post(network::create_rules)),
    ("DeleteSecurityGroupRules", Handler::Post(network::delete_rules)),
    ("ModifySecurityGroupRule", Handler::Post(network::modify_rule)),
    ("JoinSecurityGroup", Handler::Post(network::join_sg)),
    ("LeaveSecurityGroup", Handler::Post(network::leave_sg)),
    (
        "DescribeSecurityGroupRules",
        Handler::Get(network::describe_rules),
    ),
];

/// The names of the served actions.
pub fn actions() -> Vec<&'static str> {
    ACTIONS.iter().map(|(n, _)| *n).collect()
}

fn call(
    app: &AppState,
    p: &Principal,
    method: &Method,
    parts_uri: &Uri,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(String, Value), ApiError> {
    let pairs = QueryParams::from_uri(parts_uri);
    let action = pairs.get("Action").unwrap_or_default().to_string();
    let version = pairs.get("Version").unwrap_or_default();
    if version != envelope::VERSION {
        return Err(INVALID_ACTION_OR_VERSION.err(format!(
            "The version {version:?} of action {action:?} does not exist; veenedge serves {}",
            envelope::VERSION
        )));
    }
    let handler = ACTIONS
        .iter()
        .find(|(n, _)| *n == action)
        .map(|(_, h)| *h)
        .ok_or_else(|| INVALID_ACTION_OR_VERSION.err(format!("The action {action:?} does not exist")))?;
    let result = match handler {
        Handler::Get(f) => {
            if *method != Method::GET {
                return Err(INVALID_ACTION_OR_VERSION.err(format!("The action {action} is served as GET")));
            }
            let q = Query::new(query_pairs(parts_uri));
            f(app, p, &q)?
        }
        Handler::Post(f) => {
            if *method != Method::POST {
                return Err(INVALID_ACTION_OR_VERSION.err(format!("The action {action} is served as POST")));
            }
            if !content_type.is_some_and(|c| c.trim().to_ascii_lowercase().starts_with("application/json")) {
                return Err(
                    UNSUPPORTED_CONTENT_TYPE.err("POST bodies must be Content-Type: application/json")
                );
            }
            let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
                Value::Object(serde_json::Map::new())
            } else {
                serde_json::from_slice(body).map_err(|e| errors::invalid("body", format!("not JSON: {e}")))?
            };
            let value = params::normalise(value);
            let map = value
                .as_object()
                .ok_or_else(|| errors::invalid("body", "must be a JSON object"))?;
            f(app, p, Obj::root(map))?
        }
    };
    Ok((action, result))
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| {
            q.split('&')
                .filter(|s| !s.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (
                        crate::core::paging::percent_decode(k),
                        crate::core::paging::percent_decode(v),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn rpc(State(app): State<AppState>, Caller(p): Caller, parts: Parts, body: Bytes) -> Response {
    let content_type = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match call(&app, &p, &parts.method, &parts.uri, content_type, &body) {
        Ok((action, result)) => envelope::ok(&action, result),
        Err(e) => errors::render(&parts, e),
    }
}

fn register(store: &mut Store) -> Result<(), StateError> {
    store.register::<cloud_servers::CloudServer>()?;
    store.register::<cloud_servers::ClientToken>()?;
    store.register::<instances::Instance>()?;
    store.register::<network::Vpc>()?;
    store.register::<network::SecurityGroup>()?;
    store.register::<network::SgRule>()
}

/// The one veEN family: every action behind `GET|POST /`.
pub fn family() -> Family {
    Family {
        name: "veen",
        routes: || Router::new().route("/", get(rpc).post(rpc)),
        register,
        timers: &[
            (kinds::INSTANCE, instances::on_timer),
            (kinds::VPC, network::on_timer),
        ],
    }
}

fn server_error(status: u16) -> ApiError {
    if status == 503 {
        SERVICE_UNAVAILABLE_TEMP.err("The service is temporarily unavailable, please retry later")
    } else {
        INTERNAL_ERROR.err("The request processing has failed due to some unknown error")
    }
}

fn no_such_api() -> ApiError {
    INVALID_ACTION_OR_VERSION.err("The action or version does not exist")
}

/// `veen:<Action>` for counters and faults.
fn operation(parts: &Parts) -> Option<String> {
    let (action, _) = envelope::action_version(&parts.uri);
    Some(format!("veen:{action}"))
}

/// veEN's ingress answers.
pub const PROFILE: Profile = Profile {
    authenticate: auth::authenticate,
    server_error,
    no_such_api,
    operation,
    render: errors::render,
};

/// veEN as the emulator serves it.
pub fn cloud() -> Cloud {
    Cloud {
        name: "veen",
        families: vec![family()],
        open_routes: vec![],
        profile: PROFILE,
    }
}
