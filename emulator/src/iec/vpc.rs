//! VPCs (digest §2.7): `GET/POST /v1/vpcs`, `GET/PUT/DELETE /v1/vpcs/{vpc_id}`. Synchronous, no
//! status field. Names are unique per account (409 `IEC.020105`); the cidr must be a private range
//! with a mask between the block's own and /24 (400 `IEC.020115`; non-canonical addresses such as
//! the doc's `192.168.2.0/21` are accepted); `mode` is `SYSTEM` or `CUSTOMER` (400 `IEC.020114`);
//! delete is refused while subnets or instances use the VPC (409 `IEC.020113`); the `vpc` quota is
//! enforced (400 `IEC.020401`). `subnet_num` counts subnets that reference the VPC
//! (`add_ref(kinds::VPC, vpc_id, kinds::SUBNET, subnet_id)`). Lists use an item offset, limit 0..1000
//! (default 1000) and filter by exact `id` and `name`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::core::app::{AppState, Tx};
use crate::core::cloud::Family;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::net::Ipv4Cidr;
use crate::core::paging::{PageRule, QueryParams};
use crate::core::state::{Record, Store};
use crate::iec::common::{Json, bad_field, page, valid_name};
use crate::iec::errors::Code;
use crate::iec::kinds;

/// A stored VPC.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Vpc {
    /// VPC id.
    pub id: String,
    /// Name, unique per account.
    pub name: String,
    /// CIDR as given.
    pub cidr: String,
    /// `SYSTEM` or `CUSTOMER`.
    pub mode: String,
}

impl Record for Vpc {
    const KIND: &'static str = kinds::VPC;
    fn id(&self) -> &str {
        &self.id
    }
}

const NAME_EXTRA: &[char] = &['_', '-', '.'];

/// The API form of a VPC (adds `subnet_num`).
pub fn render(store: &Store, vpc: &Vpc) -> serde_json::Value {
    let subnet_num = store.count_referrers_by(kinds::VPC, &vpc.id, kinds::SUBNET);
    json!({"id": vpc.id, "name": vpc.name, "cidr": vpc.cidr, "mode": vpc.mode, "subnet_num": subnet_num})
}

/// Validates a VPC cidr: 10.0.0.0/8..24, 172.16.0.0/12..24 or 192.168.0.0/16..24.
pub fn valid_vpc_cidr(cidr: &str) -> Option<Ipv4Cidr> {
    let c: Ipv4Cidr = cidr.parse().ok()?;
    let blocks: [(Ipv4Cidr, u8); 3] = [
        (
            Ipv4Cidr {
                addr: [10, 0, 0, 0].into(),
                prefix: 8,
            },
            8,
        ),
        (
            Ipv4Cidr {
                addr: [172, 16, 0, 0].into(),
                prefix: 12,
            },
            12,
        ),
        (
            Ipv4Cidr {
                addr: [192, 168, 0, 0].into(),
                prefix: 16,
            },
            16,
        ),
    ];
    blocks
        .iter()
        .any(|(b, min)| c.prefix >= *min && c.prefix <= 24 && b.contains(&c))
        .then_some(c)
}

#[derive(Deserialize)]
struct CreateBody {
    vpc: CreateVpc,
}

#[derive(Deserialize)]
struct CreateVpc {
    name: String,
    cidr: String,
    mode: String,
}

#[derive(Deserialize, Default)]
struct UpdateBody {
    #[serde(default)]
    vpc: Option<UpdateVpc>,
}

#[derive(Deserialize, Default)]
struct UpdateVpc {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    cidr: Option<String>,
}

/// The VPC with this id, visible to the caller, or 404 `IEC.020104`.
pub fn get_vpc(tx: &mut Tx<'_>, id: &str) -> Result<Vpc, ApiError> {
    let now = tx.now_ms;
    tx.store
        .table::<Vpc>()?
        .get_visible(id, now)
        .cloned()
        .ok_or_else(|| Code::E020104.err())
}

async fn list(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(&q, PageRule::ITEMS_1000)?;
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let id = q.get("id");
        let name = q.get("name");
        let (count, page_items): (usize, Vec<Vpc>) = {
            let t = tx.store.table::<Vpc>()?;
            let items = t
                .iter_visible(now)
                .filter(|v| id.is_none_or(|x| v.id == x) && name.is_none_or(|x| v.name == x));
            let (count, items) = pg.apply(items);
            (count, items.into_iter().cloned().collect())
        };
        let vpcs: Vec<_> = page_items.iter().map(|v| render(tx.store, v)).collect();
        Ok(axum::Json(json!({"count": count, "vpcs": vpcs})).into_response())
    })
}

async fn create(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<CreateBody>,
) -> Result<Response, ApiError> {
    let CreateVpc { name, cidr, mode } = body.vpc;
    if !valid_name(&name, 1, 64, NAME_EXTRA) {
        return Err(bad_field(
            "vpc.name",
            "1-64 characters: letters, digits, Chinese, '_', '-', '.'",
        ));
    }
    if mode != "SYSTEM" && mode != "CUSTOMER" {
        return Err(Code::E020114.err());
    }
    if valid_vpc_cidr(&cidr).is_none() {
        return Err(Code::E020115.err());
    }
    app.tx(&p, |tx| {
        let quota = tx.config.catalog.quota("vpc");
        let table = tx.store.table::<Vpc>()?;
        if table.iter().any(|v| v.name == name) {
            return Err(Code::E020105.err());
        }
        if table.len() as u64 >= quota {
            return Err(Code::E020401.err());
        }
        let vpc = Vpc {
            id: crate::core::ids::resource_id(),
            name,
            cidr,
            mode,
        };
        tx.insert_new(vpc.clone())?;
        Ok(axum::Json(json!({"vpc": render(tx.store, &vpc)})).into_response())
    })
}

async fn show(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let vpc = get_vpc(tx, &id)?;
        Ok(axum::Json(json!({"vpc": render(tx.store, &vpc)})).into_response())
    })
}

async fn update(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateBody>,
) -> Result<Response, ApiError> {
    let upd = body.vpc.unwrap_or_default();
    if let Some(n) = upd.name.as_deref()
        && !n.is_empty()
        && !valid_name(n, 1, 64, NAME_EXTRA)
    {
        return Err(bad_field(
            "vpc.name",
            "0-64 characters: letters, digits, Chinese, '_', '-', '.'",
        ));
    }
    let new_cidr = match upd.cidr.as_deref() {
        Some(c) => Some(valid_vpc_cidr(c).ok_or_else(|| Code::E020115.err())?),
        None => None,
    };
    app.tx(&p, |tx| {
        let mut vpc = get_vpc(tx, &id)?;
        if let Some(n) = upd.name.as_deref().filter(|n| !n.is_empty()) {
            if tx.store.table::<Vpc>()?.iter().any(|v| v.name == n && v.id != id) {
                return Err(Code::E020105.err());
            }
            vpc.name = n.to_string();
        }
        if let (Some(c), Some(text)) = (new_cidr, upd.cidr.as_deref()) {
            for sid in tx.store.referrers_by(kinds::VPC, &id, kinds::SUBNET) {
                let sub = tx.store.get_json(kinds::SUBNET, &sid);
                let inside = sub
                    .as_ref()
                    .and_then(|s| s.get("cidr")?.as_str()?.parse::<Ipv4Cidr>().ok())
                    .is_none_or(|sc| c.contains(&sc));
                if !inside {
                    return Err(
                        Code::E020115.detail("vpc cidr is illegal: it must contain every subnet of the vpc")
                    );
                }
            }
            vpc.cidr = text.to_string();
        }
        tx.store.table::<Vpc>()?.insert(vpc.clone());
        Ok(axum::Json(json!({"vpc": render(tx.store, &vpc)})).into_response())
    })
}

async fn delete(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        get_vpc(tx, &id)?;
        if tx.store.is_referenced(kinds::VPC, &id) {
            return Err(Code::E020113.err());
        }
        tx.store.table::<Vpc>()?.remove(&id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

fn register(store: &mut Store) -> Result<(), crate::core::state::StateError> {
    store.register::<Vpc>()
}

/// The VPC family.
pub fn family() -> Family {
    Family {
        name: "vpc",
        routes: || {
            Router::new()
                .route("/v1/vpcs", get(list).post(create))
                .route("/v1/vpcs/{vpc_id}", get(show).put(update).delete(delete))
        },
        register,
        timers: &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_rules() {
        for ok in [
            "10.0.0.0/8",
            "10.1.0.0/16",
            "172.16.0.0/12",
            "172.31.0.0/16",
            "192.168.0.0/16",
            "192.168.2.0/21",
            "10.0.0.0/24",
        ] {
            assert!(valid_vpc_cidr(ok).is_some(), "{ok}");
        }
        for bad in [
            "11.0.0.0/8",
            "10.0.0.0/25",
            "172.32.0.0/16",
            "172.16.0.0/11",
            "192.168.0.0/15",
            "8.8.8.8/32",
            "x",
        ] {
            assert!(valid_vpc_cidr(bad).is_none(), "{bad}");
        }
    }
}
