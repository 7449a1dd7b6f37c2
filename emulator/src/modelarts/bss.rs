//! Huawei BSS (billing) as far as ModelArts' yearly/monthly DevServers need it, on the modelarts
//! listener: an [`Order`] per PRE_PAID create (status 6 pending payment → 3 processing once paid, when
//! its servers appear CREATING → 5 completed once they left CREATING; or 4 cancelled), order details
//! (`GET /v2/orders/customer-orders/details/{order_id}`), pay (`POST /v3/orders/customer-orders/pay`),
//! cancel (`PUT /v2/orders/customer-orders/cancel`), unsubscribe
//! (`POST /v2/orders/subscriptions/resources/unsubscribe`: the server goes DELETING, an unsubscribe
//! order of type 4 is completed at once) and the yearly/monthly resources query
//! (`POST /v2/orders/suscriptions/resources/query`, the path TF-HW uses, sic). [`on_timer`] serves the
//! admin knobs `pay` and `cancel` (`POST /_emulator/records/bss.order/{order_id}/{action}`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::app::{AppState, Tx};
use crate::core::clock::rfc3339_seconds;
use crate::core::cloud::Family;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::state::{Record, StateError, Store, Timer};
use crate::modelarts::create::Plan;
use crate::modelarts::errors;
use crate::modelarts::servers::{DevServer, begin_delete, provision};
use crate::modelarts::{Scope, kinds};

/// Order status: pending payment.
pub const PENDING_PAYMENT: u8 = 6;
/// Order status: processing (paid, resources being provisioned).
pub const PROCESSING: u8 = 3;
/// Order status: cancelled.
pub const CANCELLED: u8 = 4;
/// Order status: completed.
pub const COMPLETED: u8 = 5;
/// Order type: new purchase.
pub const NEW_PURCHASE: u8 = 1;
/// Order type: unsubscription.
pub const UNSUBSCRIBE: u8 = 4;
/// How long an order waits for payment before it can no longer be paid (shown only): 15 days.
const PAYMENT_WINDOW_MS: u64 = 15 * 24 * 3_600_000;
/// The BSS service type code of ModelArts.
const SERVICE_TYPE: &str = "hws.service.type.modelarts";

/// A stored BSS order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Order id, e.g. `CS2612040415ABCDE`.
    pub order_id: String,
    /// The account (BSS customer id).
    pub customer_id: String,
    /// Who ordered.
    pub user_name: String,
    /// Project of the resources.
    pub project_id: String,
    /// Status (6, 3, 5, 4).
    pub status: u8,
    /// Type (1 new purchase, 4 unsubscription).
    pub order_type: u8,
    /// Created (epoch ms).
    pub create_ms: u64,
    /// Paid (epoch ms).
    pub payment_ms: Option<u64>,
    /// Period unit of a purchase.
    pub period_type: Option<String>,
    /// Periods of a purchase.
    pub period_num: Option<u32>,
    /// Flavor bought.
    pub spec: String,
    /// Servers bought.
    pub subscription_num: u32,
    /// Servers of an unpaid purchase, stored once paid.
    pub pending: Vec<DevServer>,
    /// Server ids the order is about (once paid, or unsubscribed).
    pub resource_ids: Vec<String>,
}

impl Record for Order {
    const KIND: &'static str = kinds::ORDER;
    fn id(&self) -> &str {
        &self.order_id
    }
}

/// A new order id: `CS` + `yyMMddHHmm` + five random characters.
pub fn order_id(now_ms: u64) -> String {
    let stamp = chrono::DateTime::from_timestamp_millis(now_ms as i64)
        .map(|t| t.format("%y%m%d%H%M").to_string())
        .unwrap_or_default();
    let tail: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase()
        .chars()
        .take(5)
        .collect();
    format!("CS{stamp}{tail}")
}

/// BSS period type codes: 0 day, 1 week, 2 month, 3 year, 4 hour.
fn period_code(period_type: &str) -> i64 {
    match period_type {
        "WEEK" => 1,
        "MONTH" => 2,
        "YEAR" => 3,
        "HOUR" => 4,
        _ => 0,
    }
}

/// Opens the purchase order of a PRE_PAID create (pending payment).
pub fn open(
    tx: &mut Tx<'_>,
    scope: &Scope,
    order_id: &str,
    plan: &Plan,
    pending: Vec<DevServer>,
) -> Result<(), ApiError> {
    let (period_type, period_num) = match &plan.billing {
        crate::modelarts::create::Billing::PrePaid {
            period_type,
            period_num,
            ..
        } => (Some(period_type.clone()), Some(*period_num)),
        crate::modelarts::create::Billing::PostPaid => (None, None),
    };
    let order = Order {
        order_id: order_id.to_string(),
        customer_id: tx.domain_id.to_string(),
        user_name: scope.principal.user_name.clone(),
        project_id: scope.project_id.clone(),
        status: PENDING_PAYMENT,
        order_type: NEW_PURCHASE,
        create_ms: tx.now_ms,
        payment_ms: None,
        period_type,
        period_num,
        spec: plan.flavor.name.clone(),
        subscription_num: plan.count,
        pending,
        resource_ids: Vec::new(),
    };
    tx.store.table::<Order>()?.insert(order);
    Ok(())
}

/// Pays a pending order: its servers are provisioned (CREATING) and the order is processing.
pub fn pay(store: &mut Store, order_id: &str, now_ms: u64) -> Result<(), ApiError> {
    let order = store
        .table::<Order>()?
        .get_mut(order_id)
        .ok_or_else(|| errors::bss_order(order_id, "the order does not exist"))?;
    if order.status != PENDING_PAYMENT || order.order_type != NEW_PURCHASE {
        return Err(errors::bss_order(order_id, "the order is not pending payment"));
    }
    order.status = PROCESSING;
    order.payment_ms = Some(now_ms);
    let pending = std::mem::take(&mut order.pending);
    let mut ids = Vec::new();
    for server in pending {
        let server = provision(store, server, now_ms)?;
        ids.push(server.id.clone());
        store.table::<DevServer>()?.insert(server);
    }
    if let Some(order) = store.table::<Order>()?.get_mut(order_id) {
        order.resource_ids = ids;
    }
    Ok(())
}

/// Cancels a pending order.
pub fn cancel(store: &mut Store, order_id: &str) -> Result<(), ApiError> {
    let order = store
        .table::<Order>()?
        .get_mut(order_id)
        .ok_or_else(|| errors::bss_order(order_id, "the order does not exist"))?;
    if order.status != PENDING_PAYMENT {
        return Err(errors::bss_order(order_id, "the order is not pending payment"));
    }
    order.status = CANCELLED;
    order.pending.clear();
    Ok(())
}

/// A server of `order_id` left CREATING: a processing order is completed.
pub fn provisioned(store: &mut Store, order_id: &str) -> Result<(), StateError> {
    if let Some(order) = store.table::<Order>()?.get_mut(order_id)
        && order.status == PROCESSING
    {
        order.status = COMPLETED;
    }
    Ok(())
}

fn expire_of(o: &Order) -> Option<u64> {
    let paid = o.payment_ms?;
    let term = crate::modelarts::create::period_ms(o.period_type.as_deref()?)
        .saturating_mul(u64::from(o.period_num?));
    Some(paid.saturating_add(term))
}

/// The `ShowCustomerOrderDetails` answer of an order.
fn details(o: &Order) -> Value {
    let time = |ms: Option<u64>| ms.map(rfc3339_seconds);
    let amount = if o.order_type == NEW_PURCHASE {
        f64::from(o.subscription_num) * f64::from(o.period_num.unwrap_or(0)) * 100.0
    } else {
        0.0
    };
    json!({
        "total_count": 1,
        "order_info": {
            "order_id": o.order_id,
            "customer_id": o.customer_id,
            "service_type_code": SERVICE_TYPE,
            "service_type_name": "ModelArts",
            "source_type": 1,
            "status": o.status,
            "order_type": o.order_type,
            "amount_after_discount": amount,
            "official_amount": amount,
            "measure_id": 1,
            "create_time": rfc3339_seconds(o.create_ms),
            "payment_time": time(o.payment_ms),
            "currency": "CNY",
            "user_name": o.user_name,
            "pending_payment_end_time": (o.status == PENDING_PAYMENT)
                .then(|| rfc3339_seconds(o.create_ms + PAYMENT_WINDOW_MS)),
        },
        "order_line_items": [{
            "order_line_item_id": format!("{}-000001", o.order_id),
            "order_id": o.order_id,
            "service_type_code": SERVICE_TYPE,
            "service_type_name": "ModelArts",
            "product_spec_desc": o.spec,
            "period_type": o.period_type.as_deref().map(period_code),
            "period_num": o.period_num,
            "subscription_num": o.subscription_num,
            "effective_time": time(o.payment_ms),
            "expire_time": time(expire_of(o)),
            "amount_after_discount": amount,
            "official_amount": amount,
            "currency": "CNY",
        }],
    })
}

fn body_of(bytes: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(errors::bss_param("body", "must be a JSON object")),
    }
}

fn required_str<'a>(m: &'a serde_json::Map<String, Value>, key: &str) -> Result<&'a str, ApiError> {
    m.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| errors::bss_param(key, "is required"))
}

async fn show(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let id = crate::core::paging::percent_decode(uri.path().rsplit('/').next().unwrap_or_default());
    app.tx(&p, |tx| {
        let order = tx
            .store
            .table::<Order>()?
            .get(&id)
            .ok_or_else(|| errors::bss_order(&id, "the order does not exist"))?;
        Ok(axum::Json(details(order)).into_response())
    })
}

async fn pay_order(
    State(app): State<AppState>,
    Caller(p): Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let m = body_of(&body)?;
    let id = required_str(&m, "order_id")?.to_string();
    for key in ["use_coupon", "use_discount"] {
        if !matches!(required_str(&m, key)?, "YES" | "NO") {
            return Err(errors::bss_param(key, "must be YES or NO"));
        }
    }
    app.tx(&p, |tx| pay(tx.store, &id, tx.now_ms))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn cancel_order(
    State(app): State<AppState>,
    Caller(p): Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let m = body_of(&body)?;
    let id = required_str(&m, "order_id")?.to_string();
    app.tx(&p, |tx| cancel(tx.store, &id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn resource_ids(m: &serde_json::Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let ids = m
        .get("resource_ids")
        .and_then(Value::as_array)
        .ok_or_else(|| errors::bss_param("resource_ids", "is required"))?;
    if ids.is_empty() || ids.len() > 10 {
        return Err(errors::bss_param(
            "resource_ids",
            "must list 1 to 10 resource ids",
        ));
    }
    ids.iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| errors::bss_param("resource_ids", "must be strings"))
        })
        .collect()
}

async fn unsubscribe(
    State(app): State<AppState>,
    Caller(p): Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let m = body_of(&body)?;
    let ids = resource_ids(&m)?;
    match m.get("unsubscribe_type").and_then(Value::as_i64) {
        Some(1) => {}
        Some(2) => {
            return Err(errors::bss_invalid(
                "The resources have no renewed period to unsubscribe from.",
            ));
        }
        _ => return Err(errors::bss_param("unsubscribe_type", "must be 1 or 2")),
    }
    app.tx(&p, |tx| {
        let table = tx.store.table::<DevServer>()?;
        let mut project_id = String::new();
        for id in &ids {
            let Some(s) = table.get(id) else {
                return Err(errors::bss_unsubscribed(id));
            };
            let Some(prepaid) = &s.prepaid else {
                return Err(errors::bss_invalid(format!(
                    "The resource {id} is not a yearly/monthly resource."
                )));
            };
            if prepaid.unsubscribed {
                return Err(errors::bss_unsubscribed(id));
            }
            project_id.clone_from(&s.project_id);
        }
        for id in &ids {
            if let Some(Some(prepaid)) = table.get_mut(id).map(|s| s.prepaid.as_mut()) {
                prepaid.unsubscribed = true;
            }
        }
        for id in &ids {
            begin_delete(tx, id)?;
        }
        let order = Order {
            order_id: order_id(tx.now_ms),
            customer_id: tx.domain_id.to_string(),
            user_name: p.user_name.clone(),
            project_id,
            status: COMPLETED,
            order_type: UNSUBSCRIBE,
            create_ms: tx.now_ms,
            payment_ms: Some(tx.now_ms),
            period_type: None,
            period_num: None,
            spec: String::new(),
            subscription_num: ids.len() as u32,
            pending: Vec::new(),
            resource_ids: ids.clone(),
        };
        let id = order.order_id.clone();
        tx.store.table::<Order>()?.insert(order);
        Ok(axum::Json(json!({"order_ids": [id]})).into_response())
    })
}

fn resource_json(s: &DevServer, now_ms: u64, region: &str) -> Value {
    let (expire, auto_renew, order) = s.prepaid.as_ref().map_or((0, false, ""), |p| {
        (p.expire_ms, p.auto_renew, p.order_id.as_str())
    });
    json!({
        "id": format!("{}-{}", order, s.id),
        "resource_id": s.id,
        "resource_name": s.name,
        "region_code": region,
        "service_type_code": SERVICE_TYPE,
        "resource_type_code": "hws.resource.type.modelarts.devserver",
        "resource_spec_code": s.flavor,
        "project_id": s.project_id,
        "is_main_resource": 1,
        "status": if expire <= now_ms { 5 } else { 2 },
        "effective_time": rfc3339_seconds(s.create_at),
        "expire_time": rfc3339_seconds(expire),
        "expire_policy": if auto_renew { 3 } else { 0 },
        "product_spec_desc": s.flavor,
        "update_time": rfc3339_seconds(s.update_at),
    })
}

async fn query_resources(
    State(app): State<AppState>,
    Caller(p): Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let m = body_of(&body)?;
    let ids: Option<Vec<String>> = match m.get("resource_ids") {
        None | Some(Value::Null) => None,
        Some(_) => Some(resource_ids(&m)?),
    };
    let order = m.get("order_id").and_then(Value::as_str).map(str::to_string);
    let statuses: Vec<i64> = m
        .get("status_list")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    let offset = m.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
    let limit = match m.get("limit").and_then(Value::as_u64) {
        None | Some(0) => 10,
        Some(n) => n.min(500) as usize,
    };
    let region = app
        .config()
        .accounts
        .iter()
        .find(|a| a.domain_id == p.domain_id)
        .and_then(|a| a.projects().into_iter().next())
        .map(|pr| pr.name)
        .unwrap_or_default();
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let all: Vec<Value> = tx
            .store
            .table::<DevServer>()?
            .iter()
            .filter(|s| s.prepaid.as_ref().is_some_and(|pp| !pp.unsubscribed))
            .filter(|s| ids.as_ref().is_none_or(|ids| ids.contains(&s.id)))
            .filter(|s| {
                order
                    .as_ref()
                    .is_none_or(|o| s.prepaid.as_ref().is_some_and(|pp| &pp.order_id == o))
            })
            .map(|s| resource_json(s, now, &region))
            .filter(|r| statuses.is_empty() || r["status"].as_i64().is_some_and(|st| statuses.contains(&st)))
            .collect();
        let total = all.len();
        let data: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
        Ok(axum::Json(json!({"total_count": total, "data": data})).into_response())
    })
}

/// Admin actions on an order: `pay`, `cancel` (ignored when the order is not pending).
pub fn on_timer(store: &mut Store, timer: &Timer, now_ms: u64) -> Result<(), StateError> {
    let outcome = match timer.action.as_str() {
        "pay" => pay(store, &timer.id, now_ms),
        "cancel" => cancel(store, &timer.id),
        _ => Ok(()),
    };
    if let Err(e) = outcome {
        tracing::info!(order = %timer.id, action = %timer.action, error = %e, "order action refused");
    }
    Ok(())
}

fn register(store: &mut Store) -> Result<(), StateError> {
    store.register::<Order>()
}

/// The BSS family.
pub fn family() -> Family {
    Family {
        name: "modelarts.bss",
        routes: || {
            Router::new()
                .route("/v2/orders/customer-orders/details/{order_id}", get(show))
                .route("/v3/orders/customer-orders/pay", post(pay_order))
                .route("/v2/orders/customer-orders/cancel", put(cancel_order))
                .route(
                    "/v2/orders/subscriptions/resources/unsubscribe",
                    post(unsubscribe),
                )
                .route("/v2/orders/suscriptions/resources/query", post(query_resources))
        },
        register,
        timers: &[(kinds::ORDER, on_timer)],
    }
}
