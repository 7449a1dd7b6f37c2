//! ModelArts' and BSS's error codes as the emulator answers them, in the Huawei body
//! (`crate::huawei::errors`): `ModelArts.0104` for every request validation error (the message names the
//! wire field), `ModelArts.6404` (HTTP 400) for a DevServer that does not exist (TF-HW
//! `devServerNotExistCode`), `ModelArts.0116` for the quota, `ModelArts.63xx` for status conflicts of
//! start/stop, `ModelArts.7000` for an operation the server's status (or billing) does not allow, and the
//! BSS `CBC.*` codes. Codes the public docs do not confirm are marked in `docs/emulator.md` § ModelArts.

use axum::http::StatusCode;

use crate::core::error::ApiError;

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

/// 400 `ModelArts.0104`: a request parameter is missing or invalid; `field` is its wire name.
pub fn param(field: &str, why: impl std::fmt::Display) -> ApiError {
    bad("ModelArts.0104", format!("Parameter error: {field} {why}"))
}

/// 400 `ModelArts.0104` for a body that is empty or not JSON of the expected shape.
pub fn body(why: impl std::fmt::Display) -> ApiError {
    bad(
        "ModelArts.0104",
        format!("Parameter error: invalid request body: {why}"),
    )
}

/// 400 `ModelArts.6303`: the list cannot be sorted by this field.
pub fn sort_field(key: &str) -> ApiError {
    bad(
        "ModelArts.6303",
        format!("The field does not support sorting: {key}"),
    )
}

/// 400 `ModelArts.0116`: creating would exceed the project's DevServer quota.
pub fn quota() -> ApiError {
    bad(
        "ModelArts.0116",
        "The expected dev-servers exceeds the quota limit.",
    )
}

/// 400 `ModelArts.6404`: no DevServer with this id.
pub fn not_found(id: &str) -> ApiError {
    bad("ModelArts.6404", format!("DevServer {id} does not exist."))
}

/// 400 `ModelArts.6305`: start on a running server.
pub fn already_running(id: &str) -> ApiError {
    bad("ModelArts.6305", format!("The instance {id} is already running."))
}

/// 400 `ModelArts.6306`: the server is starting.
pub fn starting(id: &str) -> ApiError {
    bad("ModelArts.6306", format!("The instance {id} is starting."))
}

/// 400 `ModelArts.6307`: stop on a stopped server.
pub fn already_stopped(id: &str) -> ApiError {
    bad(
        "ModelArts.6307",
        format!("The instance {id} has already been stopped."),
    )
}

/// 400 `ModelArts.6308`: the server is stopping.
pub fn stopping(id: &str) -> ApiError {
    bad("ModelArts.6308", format!("The instance {id} is stopping."))
}

/// 400 `ModelArts.7000`: the operation is not allowed now.
pub fn unsupported(message: impl Into<String>) -> ApiError {
    bad("ModelArts.7000", message)
}

/// 403 `ModelArts.0204`: the project in the path is not the caller's (or not the `X-Project-Id`).
pub fn wrong_project(project_id: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "ModelArts.0204",
        format!(
            "The project ID {project_id} in the URL does not match the project of the request's credentials."
        ),
    )
}

/// 500 `ModelArts.0001`: internal error (also the injected 500 and a failing state store).
pub fn internal(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ModelArts.0001",
        format!("Internal server error. ({detail})"),
    )
}

/// 400 `CBC.0100`: a BSS parameter is missing or invalid.
pub fn bss_param(field: &str, why: impl std::fmt::Display) -> ApiError {
    bad("CBC.0100", format!("Invalid parameter: {field} {why}"))
}

/// 400 `CBC.0101`: the parameter names nothing the operation applies to.
pub fn bss_invalid(message: impl Into<String>) -> ApiError {
    bad("CBC.0101", message)
}

/// 400 `CBC.30000010`: the order does not exist or is not in a state for the operation.
pub fn bss_order(order_id: &str, why: &str) -> ApiError {
    bad("CBC.30000010", format!("Invalid order {order_id}: {why}."))
}

/// 400 `CBC.30000067`: the resource has been unsubscribed.
pub fn bss_unsubscribed(resource_id: &str) -> ApiError {
    bad(
        "CBC.30000067",
        format!("The resource {resource_id} has been unsubscribed."),
    )
}
