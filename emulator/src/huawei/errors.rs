//! The Huawei error body, shared by the Huawei clouds (IEC now, ModelArts and Workspace later):
//! `{"error_code": "...", "error_msg": "..."}`, plus a `request_id` (equal to the `X-Request-Id`
//! header) on API-gateway errors (`APIGW.*` / `APIG.*` codes). Also the gateway's own answers: no such
//! API (`APIGW.0101`), AK/SK failures (`APIGW.0301`), and the wording of the core's
//! [`CoreFault`]s — body limit and unreadable body (`APIGW.0201`), throttling (`APIG.0308`), no caller
//! (`APIGW.0301`); a state failure is the service's own internal error, which the cloud supplies.

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;

use crate::core::error::{ApiError, CoreFault, json_response};

#[derive(Serialize)]
struct ErrorBody<'a> {
    error_code: &'a str,
    error_msg: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

/// How one Huawei cloud differs in its error answers: its own internal error (IEC `IEC.000001`) for
/// a failing state store, given the failure's detail.
#[derive(Clone, Copy)]
pub struct Service {
    /// The service's 500 for a state failure with `detail`.
    pub internal: fn(&str) -> ApiError,
}

/// Whether `code` is an API-gateway code, whose body carries a `request_id`.
pub fn is_gateway_code(code: &str) -> bool {
    code.starts_with("APIGW.") || code.starts_with("APIG.")
}

/// 404 `APIGW.0101`: no such API (unknown path or method).
pub fn no_such_api() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "APIGW.0101",
        "The API does not exist or has not been published in the environment",
    )
}

/// 401 `APIGW.0301`: AK/SK authentication failed (the gateway's generic IAM-auth error).
pub fn aksk(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "APIGW.0301",
        format!("Incorrect IAM authentication information: {}", message.into()),
    )
}

/// The Huawei wording of an answer the core made itself; other errors are the cloud's already.
pub fn word(err: ApiError, service: Service) -> ApiError {
    let Some(fault) = err.fault else {
        return err;
    };
    let retry_after = err.retry_after;
    let worded = match fault {
        CoreFault::BodyUnreadable => ApiError::new(
            StatusCode::BAD_REQUEST,
            "APIGW.0201",
            "Bad request: the body could not be read",
        ),
        CoreFault::BodyTooLarge { limit } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "APIGW.0201",
            format!("Request entity too large: the body exceeds {limit} bytes"),
        ),
        CoreFault::Throttled { limit } => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "APIG.0308",
            format!(
                "The throttling threshold has been reached: policy user over ratelimit,limit:{limit},time:1 second"
            ),
        ),
        CoreFault::Unauthenticated => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "APIGW.0301",
            "Incorrect IAM authentication information",
        ),
        CoreFault::Internal => (service.internal)(&err.message),
    };
    ApiError {
        retry_after,
        ..worded
    }
}

/// Renders `err` as a Huawei error answer of `service`: [`word`]ed, then `{error_code, error_msg}`
/// (+ `request_id` and the same `X-Request-Id` header for gateway codes) with its status and
/// `Retry-After`.
pub fn render(err: ApiError, service: Service) -> Response {
    let err = word(err, service);
    let request_id = is_gateway_code(&err.code).then(crate::core::ids::request_id);
    let body = ErrorBody {
        error_code: &err.code,
        error_msg: &err.message,
        request_id: request_id.clone(),
    };
    let mut resp = json_response(err.status, serde_json::to_vec(&body).unwrap_or_default());
    // The header and the body's `request_id` name the same request.
    if let Some(v) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        resp.headers_mut().insert(crate::core::ids::REQUEST_ID, v);
    }
    err.put_retry_after(&mut resp);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal(detail: &str) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "X.1",
            format!("boom ({detail})"),
        )
    }

    const SERVICE: Service = Service { internal };

    async fn body(resp: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn core_faults_get_gateway_codes_and_gateway_codes_a_request_id() {
        let resp = render(ApiError::throttled(3, 2), SERVICE);
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()["retry-after"], "2");
        let header_id = resp.headers()[crate::core::ids::REQUEST_ID]
            .to_str()
            .unwrap()
            .to_string();
        let b = body(resp).await;
        assert_eq!(b["error_code"], "APIG.0308");
        assert_eq!(b["request_id"], header_id.as_str());
        assert!(
            b["error_msg"]
                .as_str()
                .unwrap()
                .ends_with("limit:3,time:1 second")
        );

        let b = body(render(ApiError::body_too_large(10), SERVICE)).await;
        assert_eq!(b["error_code"], "APIGW.0201");

        let resp = render(ApiError::internal("bad record"), SERVICE);
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let b = body(resp).await;
        assert_eq!(
            b,
            serde_json::json!({"error_code": "X.1", "error_msg": "boom (bad record)"})
        );

        let service_code = ApiError::new(StatusCode::NOT_FOUND, "IEC.020104", "gone");
        assert_eq!(
            body(render(service_code, SERVICE)).await,
            serde_json::json!({"error_code": "IEC.020104", "error_msg": "gone"})
        );
    }
}
