//! Luchen error answers. Two documented bodies (seed 003): `{"message":"..."}` for everything, and
//! `{"code":-1,"message":"未登录或登录已过期,请重新登录"}` for a missing, expired or forged token. HTTP
//! statuses are undocumented: 400 for validation, 404 for `ent: … not found` and unknown paths, 500
//! for a list without pager are third-party observations; 401, 429, 413 and 503 are the emulator's.
//! Core-made answers (throttling, body limit, internal errors) arrive as [`ApiError`]s naming their
//! [`CoreFault`] and are worded here.

use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde_json::json;

use crate::core::error::{ApiError, CoreFault, json_response};

/// [`ApiError::code`] of an answer rendered `{"code":-1,"message"}`.
pub const UNAUTHENTICATED: &str = "luchen.unauthenticated";
/// [`ApiError::code`] of an answer rendered `{"message"}`.
pub const MESSAGE: &str = "luchen.message";
/// The documented not-logged-in message.
pub const NOT_LOGGED_IN: &str = "未登录或登录已过期,请重新登录";
/// The documented not-found message of an instance.
pub const INSTANCE_NOT_FOUND: &str = "ent: instance not found";

/// A `{"message"}` answer with `status`.
pub fn message(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError::new(status, MESSAGE, message)
}

/// 401 `{"code":-1,"message":"未登录或登录已过期,请重新登录"}`.
pub fn not_logged_in() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, UNAUTHENTICATED, NOT_LOGGED_IN)
}

/// 400 `字段 "<path>" 未设置` (the documented shape).
pub fn unset(path: &str) -> ApiError {
    message(StatusCode::BAD_REQUEST, format!("字段 \"{path}\" 未设置"))
}

/// 400 `字段 "<path>" 无效: <why>` (the emulator's wording).
pub fn invalid(path: &str, why: impl std::fmt::Display) -> ApiError {
    message(StatusCode::BAD_REQUEST, format!("字段 \"{path}\" 无效: {why}"))
}

/// 404 `ent: <what> not found`.
pub fn not_found(what: &str) -> ApiError {
    message(StatusCode::NOT_FOUND, format!("ent: {what} not found"))
}

/// 400: the instance's status does not allow the operation.
pub fn wrong_status(status: &str) -> ApiError {
    message(StatusCode::BAD_REQUEST, format!("实例状态 {status} 不允许此操作"))
}

/// The status and body of `err` as Luchen answers it.
fn shape(err: &ApiError) -> (StatusCode, serde_json::Value) {
    if err.code == UNAUTHENTICATED {
        return (err.status, json!({"code": -1, "message": err.message}));
    }
    if err.code == MESSAGE {
        return (err.status, json!({"message": err.message}));
    }
    let (status, text) = match err.fault {
        Some(CoreFault::Throttled { .. }) => (StatusCode::TOO_MANY_REQUESTS, "too many requests".to_string()),
        Some(CoreFault::BodyTooLarge { limit }) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {limit} bytes"),
        ),
        Some(CoreFault::BodyUnreadable) => (
            StatusCode::BAD_REQUEST,
            "invalid request body: unreadable".to_string(),
        ),
        Some(CoreFault::Unauthenticated) => {
            return (
                StatusCode::UNAUTHORIZED,
                json!({"code": -1, "message": NOT_LOGGED_IN}),
            );
        }
        Some(CoreFault::Internal) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal server error".to_string(),
        ),
        None => (err.status, err.message.clone()),
    };
    (status, json!({ "message": text }))
}

/// Renders `err` as Luchen's body with its status (and `Retry-After` when throttled).
pub fn render(_parts: &Parts, err: ApiError) -> Response {
    let (status, body) = shape(&err);
    let mut resp = json_response(status, serde_json::to_vec(&body).unwrap_or_default());
    err.put_retry_after(&mut resp);
    resp
}

/// The answer for an injected server error (500 or 503) or a lost response (500).
pub fn server_error(status: u16) -> ApiError {
    if status == 503 {
        message(StatusCode::SERVICE_UNAVAILABLE, "service unavailable")
    } else {
        message(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    }
}

/// The answer for a path or method Luchen does not serve.
pub fn no_such_api() -> ApiError {
    message(StatusCode::NOT_FOUND, "404 page not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luchen_bodies_are_message_or_code_minus_one() {
        assert_eq!(
            shape(&unset("instanceConfiguration.enableDocker")),
            (
                StatusCode::BAD_REQUEST,
                json!({"message": "字段 \"instanceConfiguration.enableDocker\" 未设置"})
            )
        );
        assert_eq!(
            shape(&not_logged_in()),
            (
                StatusCode::UNAUTHORIZED,
                json!({"code": -1, "message": "未登录或登录已过期,请重新登录"})
            )
        );
        assert_eq!(shape(&ApiError::throttled(5, 1)).0, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            shape(&not_found("instance")).1,
            json!({"message": INSTANCE_NOT_FOUND})
        );
        assert_eq!(
            shape(&ApiError::internal("boom")).1,
            json!({"message": "internal server error"})
        );
    }
}
