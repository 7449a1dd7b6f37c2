//! The Huawei IEC (Intelligent EdgeCloud) API, one module per resource family.
//!
//! # Adding a family
//!
//! 1. Create `iec/<family>.rs` starting with a `//!` doc naming the doc sections it implements.
//! 2. Declare the stored record types (`serde` structs) and implement
//!    [`Record`](crate::core::state::Record) with a unique `KIND` from [`kinds`] (add a constant
//!    there if missing). Store exactly what the API returns where possible, so GET can serialise it.
//! 3. Write handlers as `async fn(State<AppState>, Caller, Path/Json/...) -> Result<Response, ApiError>`.
//!    Do all state work inside one `app.tx(&caller.0, |tx| { ... })` closure (synchronous; never
//!    `.await` inside). Use `tx.store.table::<T>()?` for your tables, `tx.insert_new(record)` for
//!    creations (honours the eventual-consistency fault), `get_visible`/`iter_visible(tx.now_ms)`
//!    for client-facing reads, and [`common::page`] with the endpoint's [`PageRule`](crate::core::paging::PageRule)
//!    for lists (see the digest §1.4 table).
//! 4. Bodies: take [`common::Json<T>`] (400 `IEC.000010` / `IEC.000007` on bad JSON); wrap/unwrap
//!    exactly as the digest §1.6 says. Validation errors use [`errors::Code`], e.g.
//!    `Code::E020104.err()` or `Code::E010008.msg(&[name])`.
//! 5. Cross-family rules go through the store, not through another family's Rust types:
//!    `tx.store.get_json(kinds::VPC, id)` reads any object as JSON; `add_ref`/`remove_refs_of`/
//!    `is_referenced_by` record and answer "in use" (instances reference their subnets, security
//!    groups and VPC under kind [`kinds::INSTANCE`]; a subnet should `add_ref(kinds::VPC, vpc_id,
//!    kinds::SUBNET, subnet_id)` so the VPC's `subnet_num` and delete check see it);
//!    `tx.store.allocate_ip(subnet_id, cidr, requested)` hands out fixed IPs (instances use the
//!    subnet id as scope too, so ports and instances never collide).
//! 6. Asynchronous transitions: `tx.schedule_in(tx.delay_ms("<key>", default), KIND, id, "action")`
//!    and register a [`TimerFn`](crate::core::state::TimerFn) for the kind in your `Family`.
//! 7. Expose `pub fn family() -> Family` and add it to [`cloud`]. Routes with fixed segments
//!    (`/v1/cloudservers/flavors`) and parameter segments (`/v1/cloudservers/{server_id}`) may
//!    coexist: axum prefers the static segment, which is the ordering the digest §1.7 asks for.
//! 8. Contract tests over real HTTP go in `emulator/tests/iec_<family>.rs` using `tests/common`.
//!
//! # What the compute side expects from the network, volume and keypair families
//!
//! * Subnet records (kind [`kinds::SUBNET`]) serialise with at least `id`, `vpc_id`, `site_id`,
//!   `cidr` (the doc's Subnet object does); instance creation reads them with `get_json`.
//!   "Subnet in use": `is_referenced_by(kinds::SUBNET, id, kinds::INSTANCE)` → 400 `IEC.020008`.
//! * Security group records (kind [`kinds::SECURITY_GROUP`]) have `id` and `name` (instances show
//!   the name); "in use by an instance": `is_referenced_by(kinds::SECURITY_GROUP, id, kinds::INSTANCE)`.
//! * Keypair records (kind [`kinds::KEYPAIR`]) use the keypair **name** as `Record::id`; instances
//!   reference them by name.
//! * Instance NICs (ports) live inside [`instances::Instance::nics`] (`port_id`, `subnet_id`, `ip`,
//!   `mac`); a port list can include them by reading `store.table::<instances::Instance>()`.
//!   Their IPs are allocated with scope = subnet id, so VIPs must use the same scope.
//! * Disks are [`instances::Volume`] records (kind [`kinds::VOLUME`]); [`instances::render_volume`]
//!   renders the doc's Volume object for `/v1/cloudvolumes*`.

pub mod bandwidths;
pub mod catalog;
pub mod common;
pub mod deployments;
pub mod errors;
pub mod firewalls;
pub mod instances;
pub mod keypairs;
pub mod metrics;
pub mod misc;
pub mod netutil;
pub mod ports;
pub mod publicips;
pub mod routetables;
pub mod security_groups;
pub mod subnets;
pub mod volumes;
pub mod vpc;

use crate::core::auth::TokenError;
use crate::core::cloud::{Cloud, Profile};
use crate::core::error::ApiError;
use errors::Code;

/// Record kinds used as table names and in the reference index.
pub mod kinds {
    /// VPCs.
    pub const VPC: &str = "iec.vpc";
    /// Subnets (network family).
    pub const SUBNET: &str = "iec.subnet";
    /// Ports / virtual IPs (network family).
    pub const PORT: &str = "iec.port";
    /// Port-level settings of instance NICs (allowed address pairs, IPv6 bandwidth).
    pub const PORT_NIC: &str = "iec.port_nic";
    /// Security groups (network family).
    pub const SECURITY_GROUP: &str = "iec.security_group";
    /// Security group rules (network family).
    pub const SECURITY_GROUP_RULE: &str = "iec.security_group_rule";
    /// Network ACLs (network family).
    pub const FIREWALL: &str = "iec.firewall";
    /// Route tables (network family).
    pub const ROUTE_TABLE: &str = "iec.routetable";
    /// Bandwidths (network family).
    pub const BANDWIDTH: &str = "iec.bandwidth";
    /// Elastic public IPs (network family).
    pub const PUBLIC_IP: &str = "iec.publicip";
    /// Volumes.
    pub const VOLUME: &str = "iec.volume";
    /// Keypairs (keyed by name).
    pub const KEYPAIR: &str = "iec.keypair";
    /// Deployment plans.
    pub const DEPLOYMENT: &str = "iec.deployment";
    /// Edge clouds.
    pub const EDGE_CLOUD: &str = "iec.edgecloud";
    /// Instances.
    pub const INSTANCE: &str = "iec.instance";
    /// Private edge images.
    pub const IMAGE: &str = "iec.image";
}

fn token_error(e: TokenError) -> ApiError {
    match e {
        TokenError::Missing => Code::E000002.err(),
        TokenError::Invalid => Code::E000003.err(),
        TokenError::Expired => Code::E000004.err(),
        TokenError::NotDomainScoped => Code::E000009.err(),
    }
}

fn server_error(status: u16) -> ApiError {
    if status == 503 {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "IEC.030002",
            "Service Unavailable",
        )
    } else {
        Code::E000001.err()
    }
}

/// Huawei request authentication with IEC's answers for a bad token.
fn authenticate(
    app: &crate::core::app::AppState,
    parts: &axum::http::request::Parts,
    body: &[u8],
) -> Result<crate::core::auth::Principal, ApiError> {
    crate::huawei::apig::authenticate(app, parts, body, token_error)
}

/// IEC's 500 for a failing state store: `IEC.000001` with the failure.
fn internal(detail: &str) -> ApiError {
    Code::E000001.detail(format!("Internal Server Error! ({detail})"))
}

/// What IEC's error answers add to the Huawei body.
const SERVICE: crate::huawei::errors::Service = crate::huawei::errors::Service { internal };

/// Every IEC error answer in the Huawei body, core faults in the API gateway's codes.
fn render(_: &axum::http::request::Parts, err: ApiError) -> axum::response::Response {
    crate::huawei::errors::render(err, SERVICE)
}

/// IEC's answers for the ingress middleware.
pub const PROFILE: Profile = Profile {
    authenticate,
    server_error,
    no_such_api: crate::huawei::errors::no_such_api,
    operation: crate::core::cloud::route_operation,
    render,
};

/// IEC as the emulator serves it: every family below, Huawei IAM beside them (token issue and
/// domain/project discovery, no authentication), IEC's ingress answers.
pub fn cloud() -> Cloud {
    Cloud {
        name: "iec",
        families: vec![
            vpc::family(),
            deployments::family(),
            instances::family(),
            misc::family(),
            security_groups::family(),
            keypairs::family(),
            subnets::family(),
            ports::family(),
            bandwidths::family(),
            publicips::family(),
            volumes::family(),
            firewalls::family(),
            routetables::family(),
            metrics::family(),
        ],
        open_routes: vec![crate::huawei::iam::routes],
        profile: PROFILE,
    }
}
