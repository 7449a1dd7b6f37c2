//! Workspace's error answers: the `WKS.*` codes of the API reference (the OpenAPI examples of the
//! WorkspaceApp definitions: `WKS.00211102` bad request, `WKS.00211103` conflict, `WKS.00211401`
//! internal; `WKS.0001` empty request from the error-code table) and the one we had to choose
//! (`WKS.00000404` not found, by analogy with the documented `WKS.00000405`). Bodies are rendered by
//! the shared Huawei renderer (`crate::huawei::errors`), which also words the core's own answers
//! (throttling `APIG.0308`, body limit `APIGW.0201`, ...).

use axum::http::StatusCode;

use crate::core::auth::TokenError;
use crate::core::error::ApiError;

/// 400 `WKS.0001`: the request body is empty.
pub fn empty_body() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "WKS.0001",
        "The request message input by the interface is empty.",
    )
}

/// 400 `WKS.00211102`: a parameter is missing or invalid; `field` names it.
pub fn invalid(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "WKS.00211102",
        format!("The parameter is invalid: {field}: {why}"),
    )
}

/// 400 `WKS.00211102`: the application-server quota would be exceeded.
pub fn quota_exceeded(limit: u32) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "WKS.00211102",
        format!("The number of application servers exceeds the limit, limit:'{limit}'"),
    )
}

/// 404 `WKS.00000404`: no such `what` (`server group`, `server`, `job`).
pub fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "WKS.00000404",
        format!("The {what} is not found, the id is '{id}'."),
    )
}

/// 409 `WKS.00211103`: the resource's state forbids the request; `why` says how.
pub fn conflict(why: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "WKS.00211103",
        format!("The request could not be completed due to a conflict of the resource: {why}"),
    )
}

/// 500 `WKS.00211401` (internal error), with the failure's detail.
pub fn internal(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "WKS.00211401",
        format!("The requested operation failed. Please try again later. ({detail})"),
    )
}

/// The answer for an injected server error: 500 or 503 `WKS.00211401`.
pub fn server_error(status: u16) -> ApiError {
    if status == 503 {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "WKS.00211401",
            "The service is temporarily unavailable. Please try again later.",
        )
    } else {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "WKS.00211401",
            "The requested operation failed. Please try again later.",
        )
    }
}

/// The API gateway's 401 for a bad IAM token.
pub fn token_error(e: TokenError) -> ApiError {
    match e {
        TokenError::Expired => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "APIGW.0307",
            "The token must be updated.",
        ),
        TokenError::Missing => {
            crate::huawei::errors::aksk("the request carries neither an AK/SK signature nor an X-Auth-Token")
        }
        TokenError::Invalid | TokenError::NotDomainScoped => {
            crate::huawei::errors::aksk("the X-Auth-Token is invalid")
        }
    }
}
