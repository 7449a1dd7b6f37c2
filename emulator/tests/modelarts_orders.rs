//! ModelArts PRE_PAID DevServers and the BSS order endpoints over real HTTP with signed requests: the
//! order (pending payment → processing → completed, or cancelled), the server appearing only once paid
//! (by the BSS pay call, the admin knob, or `is_auto_pay`), delete refused before expiry, the expiry
//! knobs, unsubscribe and the yearly/monthly resources query.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod modelarts_support;

use modelarts_support::{Ma, prepaid_body, start};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn order(ma: &Ma, name: &str, auto_pay: bool) -> String {
    let a = ma.post(&ma.servers(""), prepaid_body(name, auto_pay)).await;
    let b = a.ok();
    assert_eq!(b["charging_mode"], "PRE_PAID");
    assert!(
        b.get("id").is_none(),
        "a prepaid create answers no server id: {b}"
    );
    b["order_id"].as_str().unwrap().to_string()
}

fn by_order<'a>(servers: &'a [Value], order_id: &str) -> Vec<&'a Value> {
    servers.iter().filter(|s| s["order_id"] == order_id).collect()
}

#[tokio::test]
async fn modelarts_prepaid_server_appears_only_once_its_order_is_paid() {
    let ma = start().await;
    let order_id = order(&ma, "monthly", false).await;
    assert!(order_id.starts_with("CS") && order_id.chars().all(|c| c.is_ascii_alphanumeric()));
    let details = ma
        .get(&format!("/v2/orders/customer-orders/details/{order_id}"))
        .await
        .ok()
        .clone();
    assert_eq!(details["order_info"]["status"], 6);
    assert_eq!(details["order_info"]["order_type"], 1);
    assert_eq!(details["order_line_items"][0]["period_type"], 2);
    assert_eq!(details["order_line_items"][0]["period_num"], 1);
    assert!(ma.list().await.is_empty(), "no server before payment");
    ma.advance_ms(60_000);
    assert_eq!(ma.order_status(&order_id).await, 6);

    ma.post(
        "/v3/orders/customer-orders/pay",
        json!({"order_id": order_id, "use_coupon": "NO"}),
    )
    .await
    .err(400, "CBC.0100");
    let paid = ma
        .post(
            "/v3/orders/customer-orders/pay",
            json!({"order_id": order_id, "use_coupon": "NO", "use_discount": "NO"}),
        )
        .await;
    assert_eq!(paid.status, StatusCode::NO_CONTENT);
    assert_eq!(ma.order_status(&order_id).await, 3);
    let servers = ma.list().await;
    let mine = by_order(&servers, &order_id);
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["status"], "CREATING");
    assert_eq!(mine[0]["charging_mode"], "PRE_PAID");
    ma.advance_ms(3_000);
    assert_eq!(ma.order_status(&order_id).await, 5);
    let id = mine[0]["id"].as_str().unwrap();
    assert_eq!(ma.status(id).await, "RUNNING");
    ma.post(
        "/v3/orders/customer-orders/pay",
        json!({"order_id": order_id, "use_coupon": "NO", "use_discount": "NO"}),
    )
    .await
    .err(400, "CBC.30000010");
}

#[tokio::test]
async fn modelarts_prepaid_order_paid_or_cancelled_by_the_admin_knob() {
    let ma = start().await;
    let paid = order(&ma, "knob-paid", false).await;
    assert_eq!(ma.knob("bss.order", &paid, "pay").await, StatusCode::NO_CONTENT);
    assert_eq!(ma.order_status(&paid).await, 3);
    assert_eq!(by_order(&ma.list().await, &paid).len(), 1);

    let cancelled = order(&ma, "knob-cancelled", false).await;
    assert_eq!(
        ma.knob("bss.order", &cancelled, "cancel").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(ma.order_status(&cancelled).await, 4);
    ma.advance_ms(3_600_000);
    assert!(by_order(&ma.list().await, &cancelled).is_empty());
    assert_eq!(
        ma.knob("bss.order", &cancelled, "pay").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        ma.order_status(&cancelled).await,
        4,
        "a cancelled order cannot be paid"
    );
    assert_eq!(
        ma.knob("bss.order", "CSNOSUCHORDER", "pay").await,
        StatusCode::NOT_FOUND
    );

    let by_api = order(&ma, "api-cancelled", false).await;
    let c = ma
        .send(
            Method::PUT,
            "/v2/orders/customer-orders/cancel",
            Some(&json!({"order_id": by_api})),
            &[],
        )
        .await;
    assert_eq!(c.status, StatusCode::NO_CONTENT);
    assert_eq!(ma.order_status(&by_api).await, 4);
    ma.send(
        Method::PUT,
        "/v2/orders/customer-orders/cancel",
        Some(&json!({"order_id": by_api})),
        &[],
    )
    .await
    .err(400, "CBC.30000010");
    ma.get("/v2/orders/customer-orders/details/CSNOSUCHORDER")
        .await
        .err(400, "CBC.30000010");
}

#[tokio::test]
async fn modelarts_prepaid_auto_pay_creates_the_server_at_once() {
    let ma = start().await;
    let order_id = order(&ma, "auto", true).await;
    assert_eq!(ma.order_status(&order_id).await, 3);
    let servers = ma.list().await;
    assert_eq!(by_order(&servers, &order_id).len(), 1);
}

#[tokio::test]
async fn modelarts_prepaid_delete_is_refused_before_expiry_and_allowed_after() {
    let ma = start().await;
    let order_id = order(&ma, "locked", true).await;
    ma.advance_ms(3_000);
    let servers = ma.list().await;
    let id = by_order(&servers, &order_id)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let msg = ma
        .delete(&ma.servers(&format!("/{id}")))
        .await
        .err(400, "ModelArts.7000");
    assert!(msg.contains("before it expires at 20"), "{msg}");

    let q = ma
        .post(
            "/v2/orders/suscriptions/resources/query",
            json!({"resource_ids": [id]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(q["total_count"], 1);
    assert_eq!(q["data"][0]["resource_id"], id.as_str());
    assert_eq!(q["data"][0]["status"], 2);
    assert!(msg.contains(q["data"][0]["expire_time"].as_str().unwrap()));

    assert_eq!(
        ma.knob("modelarts.dev_server", &id, "expire").await,
        StatusCode::NO_CONTENT
    );
    let q = ma
        .post(
            "/v2/orders/suscriptions/resources/query",
            json!({"order_id": order_id}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(q["data"][0]["status"], 5);
    assert_eq!(
        ma.knob("modelarts.dev_server", &id, "renew").await,
        StatusCode::NO_CONTENT
    );
    ma.delete(&ma.servers(&format!("/{id}")))
        .await
        .err(400, "ModelArts.7000");
    ma.knob("modelarts.dev_server", &id, "expire").await;
    assert_eq!(
        ma.delete(&ma.servers(&format!("/{id}"))).await.ok()["status"],
        "DELETING"
    );
    ma.advance_ms(1_000);
    ma.get(&ma.servers(&format!("/{id}")))
        .await
        .err(400, "ModelArts.6404");
}

#[tokio::test]
async fn modelarts_prepaid_server_is_unsubscribed_through_bss() {
    let ma = start().await;
    let order_id = order(&ma, "unsub", true).await;
    ma.advance_ms(3_000);
    let servers = ma.list().await;
    let id = by_order(&servers, &order_id)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let post_paid = ma.create("hourly").await;
    let path = "/v2/orders/subscriptions/resources/unsubscribe";
    ma.post(path, json!({"resource_ids": [post_paid], "unsubscribe_type": 1}))
        .await
        .err(400, "CBC.0101");
    ma.post(path, json!({"resource_ids": [id]}))
        .await
        .err(400, "CBC.0100");
    let u = ma
        .post(path, json!({"resource_ids": [id], "unsubscribe_type": 1}))
        .await
        .ok()
        .clone();
    let unsub_order = u["order_ids"][0].as_str().unwrap().to_string();
    let details = ma
        .get(&format!("/v2/orders/customer-orders/details/{unsub_order}"))
        .await
        .ok()
        .clone();
    assert_eq!(details["order_info"]["order_type"], 4);
    assert_eq!(details["order_info"]["status"], 5);
    assert_eq!(ma.status(&id).await, "DELETING");
    ma.post(path, json!({"resource_ids": [id], "unsubscribe_type": 1}))
        .await
        .err(400, "CBC.30000067");
    ma.advance_ms(1_000);
    ma.get(&ma.servers(&format!("/{id}")))
        .await
        .err(400, "ModelArts.6404");
    ma.post(path, json!({"resource_ids": [id], "unsubscribe_type": 1}))
        .await
        .err(400, "CBC.30000067");
}
