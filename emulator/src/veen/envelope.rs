//! The veEN response envelope (seed 000): `{"ResponseMetadata":{RequestId,Action,Version,Service,
//! Region},"Result":{…}}`, the request id format (`20230519170908` + 18 upper-case hex characters,
//! also sent as `X-Request-Id`) and the `Action`/`Version` of a request's query.

use axum::http::{HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::core::paging::QueryParams;

/// The only API version veEN serves.
pub const VERSION: &str = "2021-04-30";
/// `ResponseMetadata.Service`.
pub const SERVICE: &str = "veenedge";
/// `ResponseMetadata.Region` (veEN is global; the docs say use `cn-north-1`).
pub const REGION: &str = "cn-north-1";

/// `Action` and `Version` from the query (empty when absent).
pub fn action_version(uri: &Uri) -> (String, String) {
    let q = QueryParams::from_uri(uri);
    (
        q.get("Action").unwrap_or_default().to_string(),
        q.get("Version").unwrap_or_default().to_string(),
    )
}

/// A new request id: UTC time `YYYYMMDDHHMMSS` and 18 upper-case hex characters.
pub fn request_id() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string().to_ascii_uppercase();
    format!("{}{}", chrono::Utc::now().format("%Y%m%d%H%M%S"), &hex[..18])
}

/// Puts `id` in the `X-Request-Id` header (the core adds one to answers without it).
pub fn set_request_id(resp: &mut Response, id: &str) {
    if let Ok(v) = HeaderValue::from_str(id) {
        resp.headers_mut().insert(crate::core::ids::REQUEST_ID, v);
    }
}

/// A 200 answer with `result` in the envelope.
pub fn ok(action: &str, result: Value) -> Response {
    let request_id = request_id();
    let body = serde_json::json!({
        "ResponseMetadata": {
            "RequestId": request_id,
            "Action": action,
            "Version": VERSION,
            "Service": SERVICE,
            "Region": REGION,
        },
        "Result": result,
    });
    let mut resp = axum::Json(body).into_response();
    set_request_id(&mut resp, &request_id);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_the_seed() {
        let id = request_id();
        assert_eq!(id.len(), 32);
        assert!(id[..14].chars().all(|c| c.is_ascii_digit()));
        assert!(
            id[14..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        );
        let uri: Uri = "/?Action=ListInstances&Version=2021-04-30".parse().unwrap();
        assert_eq!(
            action_version(&uri),
            ("ListInstances".to_string(), "2021-04-30".to_string())
        );
    }
}
