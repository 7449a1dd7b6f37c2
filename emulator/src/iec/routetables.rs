//! Route tables and routes (digest §2.12) and the subnet's route table (§2.8.6):
//! `GET/POST /v1/routetables`, `GET/PUT/DELETE /v1/routetables/{routetable_id}`,
//! `POST /v1/routetables/{routetable_id}/associate-subnets` and `/disassociate-subnets`,
//! `GET /v1/routetables/{routetable_id}/routes`, `POST .../add-routes`, `.../update-routes`,
//! `.../delete-routes`, and `GET /v1/subnets/{subnet_id}/routetables`. Synchronous.
//!
//! Every VPC has a default route table (`default: true`, named `rtb-<vpc name>`, id derived from
//! the VPC id). It is materialised on the first route-table request after the VPC appears and
//! dropped when the VPC is gone, so the VPC family needs no hook; it holds every subnet of the VPC
//! that no custom table holds. Custom tables reference their VPC (so deleting the VPC answers 409
//! `IEC.020113` until they are deleted). Associating a subnet with a table moves it away from its
//! previous table (each subnet has exactly one); subnets that are deleted disappear from tables.
//!
//! Routes: each table shows the system (`local`) routes — the VPC cidr, `198.19.128.0/20`,
//! `127.0.0.0/8` and `100.64.0.0/10`, next hop `-` — then its custom routes in creation order.
//! Custom routes are `ecs` (next hop = an instance of the VPC) or `vip` (next hop = the address of a
//! virtual IP in a subnet of the VPC), keyed by `destination`: a destination inside a system route,
//! a duplicate, an unknown destination on update/delete, a `local` type or a bad next hop is
//! refused as a whole request. The doc documents none of these rules' codes, so every one of them
//! (and deleting a table with subnets, deleting the default table, a subnet of another VPC) answers
//! 400 `IEC.000007` naming the problem; bad fields do too. Unknown tables → 404 `IEC.000022`
//! (malformed ids: 400 `IEC.000030`), unknown VPCs → 404 `IEC.020104`, unknown subnets → 404
//! `IEC.020003`. The list takes an item offset, limit 0..1000 (default 1000) and filters `id`,
//! `name` and `vpc_id`; list items carry no `subnets`. `subnets` is omitted when empty and
//! `description` when unset, as in the doc's examples.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::cloud::Family;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::net::Ipv4Cidr;
use crate::core::paging::{PageRule, QueryParams};
use crate::core::state::{Record, StateError, Store};
use crate::iec::common::{Json, bad_field, is_uuid, page, valid_description, valid_name};
use crate::iec::errors::Code;
use crate::iec::instances::Instance;
use crate::iec::kinds;
use crate::iec::ports::Port;
use crate::iec::subnets::{Subnet, get_subnet};
use crate::iec::vpc::{Vpc, get_vpc};

/// System routes every table has besides the VPC cidr.
const SYSTEM_ROUTES: [&str; 3] = ["198.19.128.0/20", "127.0.0.0/8", "100.64.0.0/10"];

const NAME_EXTRA: &[char] = &['_', '-', '.'];

/// A custom route.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Route {
    /// `ecs` or `vip`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Destination CIDR (the key).
    pub destination: String,
    /// Instance id (`ecs`) or virtual IP address (`vip`).
    pub nexthop: String,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// A stored route table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RouteTable {
    /// Table id.
    pub id: String,
    /// Name.
    pub name: String,
    /// VPC id.
    pub vpc_id: String,
    /// Description (empty = unset).
    #[serde(default)]
    pub description: String,
    /// True for the VPC's default table.
    pub default: bool,
    /// Associated subnets (custom tables; the default table's are computed).
    #[serde(default)]
    pub subnets: Vec<String>,
    /// Custom routes.
    #[serde(default)]
    pub routes: Vec<Route>,
}

impl Record for RouteTable {
    const KIND: &'static str = kinds::ROUTE_TABLE;
    fn id(&self) -> &str {
        &self.id
    }
}

fn default_id(vpc_id: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("iec.routetable.default/{vpc_id}").as_bytes(),
    )
    .to_string()
}

/// Materialises default tables of new VPCs, drops tables of deleted VPCs and forgets deleted
/// subnets.
fn sync(tx: &mut Tx<'_>) -> Result<(), ApiError> {
    let vpcs: Vec<(String, String)> = tx
        .store
        .table::<Vpc>()?
        .iter()
        .map(|v| (v.id.clone(), v.name.clone()))
        .collect();
    let subnet_ids: std::collections::HashSet<String> =
        tx.store.table::<Subnet>()?.iter().map(|s| s.id.clone()).collect();
    let table = tx.store.table::<RouteTable>()?;
    for (vpc_id, vpc_name) in &vpcs {
        let id = default_id(vpc_id);
        if !table.contains(&id) {
            table.insert(RouteTable {
                id,
                name: format!("rtb-{vpc_name}").chars().take(64).collect(),
                vpc_id: vpc_id.clone(),
                description: String::new(),
                default: true,
                subnets: vec![],
                routes: vec![],
            });
        }
    }
    let orphans: Vec<String> = table
        .iter()
        .filter(|t| !vpcs.iter().any(|(v, _)| *v == t.vpc_id))
        .map(|t| t.id.clone())
        .collect();
    for id in &orphans {
        table.remove(id);
    }
    for t in table.iter_mut() {
        t.subnets.retain(|s| subnet_ids.contains(s));
    }
    for id in &orphans {
        tx.store.remove_refs_of(kinds::ROUTE_TABLE, id);
    }
    Ok(())
}

fn get_table(tx: &mut Tx<'_>, id: &str) -> Result<RouteTable, ApiError> {
    if !is_uuid(id) {
        return Err(Code::E000030.msg(&["routetable_id"]));
    }
    sync(tx)?;
    let now = tx.now_ms;
    tx.store
        .table::<RouteTable>()?
        .get_visible(id, now)
        .cloned()
        .ok_or_else(|| Code::E000022.err())
}

/// The subnets of a table: its own list, or for the default table every subnet of the VPC that no
/// custom table holds (subnet creation order).
fn subnets_of(tx: &mut Tx<'_>, t: &RouteTable) -> Result<Vec<String>, ApiError> {
    if !t.default {
        return Ok(t.subnets.clone());
    }
    let taken: Vec<String> = tx
        .store
        .table::<RouteTable>()?
        .iter()
        .filter(|o| o.vpc_id == t.vpc_id && !o.default)
        .flat_map(|o| o.subnets.clone())
        .collect();
    Ok(tx
        .store
        .table::<Subnet>()?
        .iter()
        .filter(|s| s.vpc_id == t.vpc_id && !taken.contains(&s.id))
        .map(|s| s.id.clone())
        .collect())
}

fn render(tx: &mut Tx<'_>, t: &RouteTable, with_subnets: bool) -> Result<Value, ApiError> {
    let mut v = json!({"id": t.id, "name": t.name, "vpc_id": t.vpc_id, "domain_id": tx.domain_id,
        "default": t.default});
    if !t.description.is_empty() {
        v["description"] = json!(t.description);
    }
    if with_subnets {
        let subs = subnets_of(tx, t)?;
        if !subs.is_empty() {
            v["subnets"] = subs.iter().map(|s| json!({"id": s})).collect();
        }
    }
    Ok(v)
}

/// The system routes of a table's VPC, as CIDRs and as API objects.
fn system_routes(tx: &mut Tx<'_>, vpc_id: &str) -> Result<Vec<(Option<Ipv4Cidr>, Value)>, ApiError> {
    let vpc = get_vpc(tx, vpc_id)?;
    Ok(std::iter::once(vpc.cidr.as_str())
        .chain(SYSTEM_ROUTES)
        .map(|d| {
            (
                d.parse::<Ipv4Cidr>().ok(),
                json!({"type": "local", "destination": d, "nexthop": "-", "description": ""}),
            )
        })
        .collect())
}

#[derive(Deserialize)]
struct CreateBody {
    routetable: CreateTable,
}

#[derive(Deserialize)]
struct CreateTable {
    name: String,
    vpc_id: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize, Default)]
struct UpdateBody {
    #[serde(default)]
    routetable: Option<UpdateTable>,
}

#[derive(Deserialize, Default)]
struct UpdateTable {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct SubnetIds {
    subnet_ids: Vec<String>,
}

#[derive(Deserialize)]
struct RoutesBody {
    routes: Vec<RouteOption>,
}

#[derive(Deserialize)]
struct RouteOption {
    #[serde(rename = "type")]
    kind: String,
    destination: String,
    nexthop: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct DeleteRoutesBody {
    routes: Vec<DestinationOption>,
}

#[derive(Deserialize)]
struct DestinationOption {
    destination: String,
}

fn check_description(field: &str, d: Option<&str>) -> Result<(), ApiError> {
    match d {
        Some(d) if !valid_description(d, 255) => {
            Err(bad_field(field, "at most 255 characters without '<' or '>'"))
        }
        _ => Ok(()),
    }
}

async fn list(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(&q, PageRule::ITEMS_1000)?;
    app.tx(&p, |tx| {
        sync(tx)?;
        let now = tx.now_ms;
        let (id, name, vpc) = (q.get("id"), q.get("name"), q.get("vpc_id"));
        let all: Vec<RouteTable> = tx
            .store
            .table::<RouteTable>()?
            .iter_visible(now)
            .filter(|t| {
                id.is_none_or(|x| t.id == x)
                    && name.is_none_or(|x| t.name == x)
                    && vpc.is_none_or(|x| t.vpc_id == x)
            })
            .cloned()
            .collect();
        let (count, items) = pg.apply(all.iter());
        let mut out = Vec::new();
        for t in items {
            out.push(render(tx, t, false)?);
        }
        Ok(axum::Json(json!({"routetables": out, "count": count})).into_response())
    })
}

async fn create(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<CreateBody>,
) -> Result<Response, ApiError> {
    let c = body.routetable;
    if !valid_name(&c.name, 1, 64, NAME_EXTRA) {
        return Err(bad_field(
            "routetable.name",
            "1-64 characters: letters, digits, Chinese, '_', '-', '.'",
        ));
    }
    check_description("routetable.description", c.description.as_deref())?;
    app.tx(&p, |tx| {
        sync(tx)?;
        let vpc = get_vpc(tx, &c.vpc_id)?;
        let t = RouteTable {
            id: crate::core::ids::resource_id(),
            name: c.name,
            vpc_id: vpc.id.clone(),
            description: c.description.unwrap_or_default(),
            default: false,
            subnets: vec![],
            routes: vec![],
        };
        tx.store.add_ref(kinds::VPC, &vpc.id, kinds::ROUTE_TABLE, &t.id);
        tx.insert_new(t.clone())?;
        Ok(axum::Json(json!({"routetable": render(tx, &t, true)?})).into_response())
    })
}

async fn show(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let t = get_table(tx, &id)?;
        Ok(axum::Json(json!({"routetable": render(tx, &t, true)?})).into_response())
    })
}

async fn update(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateBody>,
) -> Result<Response, ApiError> {
    let u = body.routetable.unwrap_or_default();
    if let Some(n) = u.name.as_deref()
        && !n.is_empty()
        && !valid_name(n, 1, 64, NAME_EXTRA)
    {
        return Err(bad_field(
            "routetable.name",
            "0-64 characters: letters, digits, Chinese, '_', '-', '.'",
        ));
    }
    check_description("routetable.description", u.description.as_deref())?;
    app.tx(&p, |tx| {
        let mut t = get_table(tx, &id)?;
        if let Some(n) = u.name.filter(|n| !n.is_empty()) {
            t.name = n;
        }
        if let Some(d) = u.description {
            t.description = d;
        }
        tx.store.table::<RouteTable>()?.insert(t.clone());
        Ok(axum::Json(json!({"routetable": render(tx, &t, true)?})).into_response())
    })
}

async fn delete(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let t = get_table(tx, &id)?;
        if t.default {
            return Err(bad_field(
                "routetable_id",
                "the default route table of a VPC cannot be deleted",
            ));
        }
        if !t.subnets.is_empty() {
            return Err(bad_field(
                "routetable_id",
                &format!(
                    "the route table still has associated subnets {:?}; disassociate them first",
                    t.subnets
                ),
            ));
        }
        tx.store.remove_refs_of(kinds::ROUTE_TABLE, &id);
        tx.store.table::<RouteTable>()?.remove(&id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

async fn associate(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<SubnetIds>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let t = get_table(tx, &id)?;
        for sid in &body.subnet_ids {
            let s = get_subnet(tx, sid)?;
            if s.vpc_id != t.vpc_id {
                return Err(bad_field(
                    "subnet_ids",
                    &format!("subnet {sid} is not in the route table's vpc {}", t.vpc_id),
                ));
            }
        }
        let table = tx.store.table::<RouteTable>()?;
        for other in table.iter_mut() {
            if other.id != id {
                other.subnets.retain(|s| !body.subnet_ids.contains(s));
            }
        }
        if let Some(me) = table.get_mut(&id)
            && !me.default
        {
            for sid in &body.subnet_ids {
                if !me.subnets.contains(sid) {
                    me.subnets.push(sid.clone());
                }
            }
        }
        let t = get_table(tx, &id)?;
        Ok(axum::Json(json!({"routetable": render(tx, &t, true)?})).into_response())
    })
}

async fn disassociate(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<SubnetIds>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let t = get_table(tx, &id)?;
        if t.default {
            return Err(bad_field(
                "subnet_ids",
                "subnets leave the default route table by being associated with another one",
            ));
        }
        for sid in &body.subnet_ids {
            get_subnet(tx, sid)?;
            if !t.subnets.contains(sid) {
                return Err(bad_field(
                    "subnet_ids",
                    &format!("subnet {sid} is not associated with this route table"),
                ));
            }
        }
        if let Some(me) = tx.store.table::<RouteTable>()?.get_mut(&id) {
            me.subnets.retain(|s| !body.subnet_ids.contains(s));
        }
        let t = get_table(tx, &id)?;
        Ok(axum::Json(json!({"routetable": render(tx, &t, true)?})).into_response())
    })
}

async fn list_routes(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let t = get_table(tx, &id)?;
        let mut routes: Vec<Value> = system_routes(tx, &t.vpc_id)?
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        routes.extend(t.routes.iter().map(|r| json!(r)));
        Ok(axum::Json(json!({"routes": routes})).into_response())
    })
}

/// Checks the next hop of a route against the table's VPC.
fn check_nexthop(tx: &mut Tx<'_>, vpc_id: &str, o: &RouteOption) -> Result<(), ApiError> {
    let now = tx.now_ms;
    match o.kind.as_str() {
        "ecs" => {
            let ok = tx
                .store
                .table::<Instance>()?
                .get_visible(&o.nexthop, now)
                .is_some_and(|i| &*i.vpc_id == vpc_id);
            if !ok {
                return Err(bad_field(
                    "routes.nexthop",
                    &format!("{} is not an instance of vpc {vpc_id}", o.nexthop),
                ));
            }
        }
        "vip" => {
            let subnets: Vec<String> = tx
                .store
                .table::<Subnet>()?
                .iter()
                .filter(|s| s.vpc_id == vpc_id)
                .map(|s| s.id.clone())
                .collect();
            let ok = tx
                .store
                .table::<Port>()?
                .iter_visible(now)
                .any(|p| p.ip_address == o.nexthop && subnets.contains(&p.subnet_id));
            if !ok {
                return Err(bad_field(
                    "routes.nexthop",
                    &format!("{} is not the address of a virtual IP in vpc {vpc_id}", o.nexthop),
                ));
            }
        }
        other => {
            return Err(bad_field(
                "routes.type",
                &format!("{other:?} must be ecs or vip (local routes are system routes)"),
            ));
        }
    }
    Ok(())
}

/// Validates a batch of routes for add (`adding`) or update.
fn check_routes(tx: &mut Tx<'_>, t: &RouteTable, opts: &[RouteOption], adding: bool) -> Result<(), ApiError> {
    let system = system_routes(tx, &t.vpc_id)?;
    let mut seen: Vec<&str> = Vec::new();
    for o in opts {
        let Ok(dest) = o.destination.parse::<Ipv4Cidr>() else {
            return Err(bad_field(
                "routes.destination",
                &format!("{:?} is not an IPv4 CIDR", o.destination),
            ));
        };
        if system
            .iter()
            .any(|(c, v)| c.is_some_and(|c| c.contains(&dest)) || v["destination"] == o.destination.as_str())
        {
            return Err(bad_field(
                "routes.destination",
                &format!("{} lies inside a system route", o.destination),
            ));
        }
        if seen.contains(&o.destination.as_str()) {
            return Err(bad_field(
                "routes.destination",
                &format!("{} appears twice", o.destination),
            ));
        }
        seen.push(&o.destination);
        let exists = t.routes.iter().any(|r| r.destination == o.destination);
        if adding && exists {
            return Err(bad_field(
                "routes.destination",
                &format!("a route to {} already exists", o.destination),
            ));
        }
        if !adding && !exists {
            return Err(bad_field(
                "routes.destination",
                &format!("no route to {} exists", o.destination),
            ));
        }
        check_description("routes.description", o.description.as_deref())?;
        check_nexthop(tx, &t.vpc_id, o)?;
    }
    Ok(())
}

fn to_route(o: RouteOption) -> Route {
    Route {
        kind: o.kind,
        destination: o.destination,
        nexthop: o.nexthop,
        description: o.description.unwrap_or_default(),
    }
}

async fn add_routes(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<RoutesBody>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let mut t = get_table(tx, &id)?;
        check_routes(tx, &t, &body.routes, true)?;
        let added: Vec<Route> = body.routes.into_iter().map(to_route).collect();
        t.routes.extend(added.iter().cloned());
        tx.store.table::<RouteTable>()?.insert(t);
        Ok(axum::Json(json!({"routes": added})).into_response())
    })
}

async fn update_routes(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<RoutesBody>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let mut t = get_table(tx, &id)?;
        check_routes(tx, &t, &body.routes, false)?;
        let updated: Vec<Route> = body.routes.into_iter().map(to_route).collect();
        for u in &updated {
            if let Some(r) = t.routes.iter_mut().find(|r| r.destination == u.destination) {
                *r = u.clone();
            }
        }
        tx.store.table::<RouteTable>()?.insert(t);
        Ok(axum::Json(json!({"routes": updated})).into_response())
    })
}

async fn delete_routes(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<DeleteRoutesBody>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let mut t = get_table(tx, &id)?;
        for d in &body.routes {
            if !t.routes.iter().any(|r| r.destination == d.destination) {
                return Err(bad_field(
                    "routes.destination",
                    &format!(
                        "no custom route to {} exists (system routes cannot be deleted)",
                        d.destination
                    ),
                ));
            }
        }
        t.routes
            .retain(|r| !body.routes.iter().any(|d| d.destination == r.destination));
        let remaining = t.routes.clone();
        tx.store.table::<RouteTable>()?.insert(t);
        Ok(axum::Json(json!({"routes": remaining})).into_response())
    })
}

async fn subnet_table(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(subnet_id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let subnet = get_subnet(tx, &subnet_id)?;
        sync(tx)?;
        let custom = tx
            .store
            .table::<RouteTable>()?
            .iter()
            .find(|t| !t.default && t.subnets.contains(&subnet.id))
            .cloned();
        let t = match custom {
            Some(t) => t,
            None => get_table(tx, &default_id(&subnet.vpc_id))?,
        };
        Ok(axum::Json(json!({"routetable": render(tx, &t, true)?})).into_response())
    })
}

fn register(store: &mut Store) -> Result<(), StateError> {
    store.register::<RouteTable>()
}

/// The route-table family.
pub fn family() -> Family {
    Family {
        name: "routetables",
        routes: || {
            Router::new()
                .route("/v1/routetables", get(list).post(create))
                .route(
                    "/v1/routetables/{routetable_id}",
                    get(show).put(update).delete(delete),
                )
                .route(
                    "/v1/routetables/{routetable_id}/associate-subnets",
                    post(associate),
                )
                .route(
                    "/v1/routetables/{routetable_id}/disassociate-subnets",
                    post(disassociate),
                )
                .route("/v1/routetables/{routetable_id}/routes", get(list_routes))
                .route("/v1/routetables/{routetable_id}/add-routes", post(add_routes))
                .route(
                    "/v1/routetables/{routetable_id}/update-routes",
                    post(update_routes),
                )
                .route(
                    "/v1/routetables/{routetable_id}/delete-routes",
                    post(delete_routes),
                )
                .route("/v1/subnets/{subnet_id}/routetables", get(subnet_table))
        },
        register,
        timers: &[],
    }
}
