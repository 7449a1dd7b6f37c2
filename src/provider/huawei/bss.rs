//! Huawei billing (BSS, `https://bss.myhuaweicloud.com`): the order a prepaid purchase creates, and
//! the unsubscription of a prepaid resource, shared by every Huawei cloud that sells by period
//! (ModelArts DevServer PRE_PAID). The calls (HW-SDK `services/bss/v2/bss_meta.go`):
//!
//! * `GET /v2/orders/customer-orders/details/{order_id}` (`ShowCustomerOrderDetails`): the order
//!   (`order_info.status`: 1 pending approval, 2 pending refund, 3 processing, 4 cancelled,
//!   5 completed, 6 pending payment, 9 pending confirmation; others are read as their number) and its
//!   line items (`effective_time`, `expire_time`: when the subscription ends);
//! * `POST /v2/orders/subscriptions/resources/unsubscribe` (`CancelResourcesSubscription`,
//!   `{resource_ids, unsubscribe_type: 1}`): unsubscribes resources and their renewals, answering the
//!   unsubscription orders.
//!
//! The client goes through the shared pipeline with the caller's authentication and error table (the
//! BSS error body is the Huawei `{error_code, error_msg}`). [`Order::state`] reads an order as an
//! [`OperationState`]; which resources a completed order made is the caller's to find (BSS does not
//! name them).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use crate::provider::OperationState;
use crate::provider::http::{Authenticate, Call, ErrorMapper, HttpResult, Pipeline, PipelineConfig, encode};
use crate::provider::metrics::ProviderMetrics;
use crate::provider::ratelimit::RateLimiter;

/// The public BSS endpoint (a global service).
pub const DEFAULT_ENDPOINT: &str = "https://bss.myhuaweicloud.com";

/// Where an order stands (`order_info.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    /// 1: waiting for approval.
    PendingApproval,
    /// 2: waiting for a refund.
    PendingRefund,
    /// 3: being processed (paid, resources being made).
    Processing,
    /// 4: cancelled (nothing is made).
    Cancelled,
    /// 5: completed (the resources exist).
    Completed,
    /// 6: waiting for payment.
    PendingPayment,
    /// 9: waiting for confirmation.
    PendingConfirmation,
    /// Any other number the documentation lists (delivery states of physical goods) or adds later.
    Other(i64),
}

impl OrderStatus {
    /// The status of the documented number.
    pub fn of(code: i64) -> Self {
        match code {
            1 => Self::PendingApproval,
            2 => Self::PendingRefund,
            3 => Self::Processing,
            4 => Self::Cancelled,
            5 => Self::Completed,
            6 => Self::PendingPayment,
            9 => Self::PendingConfirmation,
            n => Self::Other(n),
        }
    }

    /// In words, for conditions.
    pub fn describe(self) -> String {
        match self {
            Self::PendingApproval => "pending approval".to_owned(),
            Self::PendingRefund => "pending refund".to_owned(),
            Self::Processing => "processing".to_owned(),
            Self::Cancelled => "cancelled".to_owned(),
            Self::Completed => "completed".to_owned(),
            Self::PendingPayment => "pending payment".to_owned(),
            Self::PendingConfirmation => "pending confirmation".to_owned(),
            Self::Other(n) => format!("status {n}"),
        }
    }
}

/// `order_info` of an order.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrderInfo {
    /// Order id.
    #[serde(default)]
    pub order_id: String,
    /// Status number (see [`OrderStatus`]).
    #[serde(default)]
    pub status: i64,
    /// Order type (1 purchase, 2 renewal, 3 change, 4 unsubscription, ...).
    #[serde(default)]
    pub order_type: Option<i64>,
    /// When it was paid (UTC, `yyyy-MM-ddTHH:mm:ssZ`).
    #[serde(default)]
    pub payment_time: Option<String>,
}

/// One line item of an order.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrderLineItem {
    /// When the subscription starts (UTC).
    #[serde(default)]
    pub effective_time: Option<String>,
    /// When the subscription ends (UTC).
    #[serde(default)]
    pub expire_time: Option<String>,
    /// Period type (0 day, 1 week, 2 month, 3 year, 4 hour, ...).
    #[serde(default)]
    pub period_type: Option<i64>,
    /// Number of periods.
    #[serde(default)]
    pub period_num: Option<i64>,
}

/// `ShowCustomerOrderDetails`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Order {
    /// The order.
    #[serde(default)]
    pub order_info: OrderInfo,
    /// Its line items.
    #[serde(default)]
    pub order_line_items: Vec<OrderLineItem>,
}

impl Order {
    /// Its status.
    pub fn status(&self) -> OrderStatus {
        OrderStatus::of(self.order_info.status)
    }

    /// The latest expiry of its line items: when the prepaid subscription ends.
    pub fn expires(&self) -> Option<&str> {
        self.order_line_items
            .iter()
            .filter_map(|l| l.expire_time.as_deref())
            .filter(|t| !t.is_empty())
            .max()
    }

    /// As the state of an operation: completed → succeeded (with no resource ids: BSS does not name
    /// them), cancelled → failed (`BSS.OrderCancelled`), anything else → running with the status in
    /// words.
    pub fn state(&self) -> OperationState {
        match self.status() {
            OrderStatus::Completed => OperationState::Succeeded {
                resource_ids: Vec::new(),
            },
            OrderStatus::Cancelled => OperationState::Failed {
                code: "BSS.OrderCancelled".to_owned(),
                message: format!("order {} was cancelled", self.order_info.order_id),
            },
            other => OperationState::Running {
                progress: None,
                state: Some(other.describe()),
            },
        }
    }
}

/// `CancelResourcesSubscription`'s answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Unsubscribed {
    /// The unsubscription orders.
    #[serde(default)]
    pub order_ids: Vec<String>,
}

/// A BSS client for one account.
#[derive(Debug)]
pub struct BssClient {
    http: Pipeline,
}

impl BssClient {
    /// A client over `http` at `config.base`, authenticated by `auth`, its failures read by `errors`.
    pub fn new(
        http: reqwest::Client,
        config: PipelineConfig,
        auth: Arc<dyn Authenticate>,
        errors: ErrorMapper,
        limiter: Arc<RateLimiter>,
        metrics: ProviderMetrics,
    ) -> Self {
        Self {
            http: Pipeline::new(http, config, auth, errors, limiter, metrics),
        }
    }

    /// `GET /v2/orders/customer-orders/details/{order_id}`.
    pub async fn order(&self, order_id: &str) -> HttpResult<Order> {
        self.http
            .json(Call::get(
                "bss.order.get",
                format!("/v2/orders/customer-orders/details/{}", encode(order_id)),
            ))
            .await
    }

    /// `POST /v2/orders/subscriptions/resources/unsubscribe` of `resource_ids` and their renewals
    /// (`unsubscribe_type` 1). Not idempotent on the wire; a repeat of a done unsubscription is refused
    /// by the cloud, not doubled.
    pub async fn unsubscribe(&self, resource_ids: &[String]) -> HttpResult<Unsubscribed> {
        let body = json!({"resource_ids": resource_ids, "unsubscribe_type": 1});
        self.http
            .json(Call::post(
                "bss.resource.unsubscribe",
                "/v2/orders/subscriptions/resources/unsubscribe",
                Some(body),
            ))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(status: i64) -> Order {
        serde_json::from_value(json!({
            "total_count": 1,
            "order_info": {"order_id": "CS2612040001ABCDE", "status": status, "order_type": 1},
            "order_line_items": [
                {"expire_time": "2027-01-04T00:00:00Z", "effective_time": "2026-12-04T00:00:00Z"},
                {"expire_time": "2026-12-31T00:00:00Z"}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn bss_order_states_read_as_operation_states() {
        assert_eq!(
            order(5).state(),
            OperationState::Succeeded { resource_ids: vec![] }
        );
        assert!(
            matches!(order(4).state(), OperationState::Failed { code, .. } if code == "BSS.OrderCancelled")
        );
        for (n, words) in [
            (6, "pending payment"),
            (3, "processing"),
            (2, "pending refund"),
            (42, "status 42"),
        ] {
            assert_eq!(
                order(n).state(),
                OperationState::Running {
                    progress: None,
                    state: Some(words.to_owned())
                },
                "{n}"
            );
        }
    }

    #[test]
    fn bss_order_expiry_is_the_latest_line_item() {
        assert_eq!(order(5).expires(), Some("2027-01-04T00:00:00Z"));
        assert_eq!(Order::default().expires(), None);
    }
}
