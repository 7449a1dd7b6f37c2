//! veEN error answers: the codes the emulator gives (gateway codes from the Volcengine common error
//! table, digest §1.6; business codes are the emulator's choice, since the veEN error-code page was
//! not retrievable, `docs/emulator.md` lists them) and their rendering as
//! `{"ResponseMetadata":{RequestId,Action,Version,Service,Region,Error:{CodeN,Code,Message}}}` with
//! the HTTP status of the code. Core-made answers (throttling, body limit, state errors) arrive as
//! [`ApiError`]s naming their [`CoreFault`] and get the gateway code of that fault.

use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::core::error::{ApiError, CoreFault};
use crate::veen::envelope;

/// One error code: its name, numeric `CodeN` and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// `Code`.
    pub name: &'static str,
    /// `CodeN`.
    pub number: i64,
    /// HTTP status.
    pub status: u16,
}

macro_rules! codes {
    ($($(#[$doc:meta])* $id:ident = ($name:literal, $n:literal, $status:literal);)*) => {
        $($(#[$doc])* pub const $id: Code = Code { name: $name, number: $n, status: $status };)*
        /// Every code, for lookups by name.
        pub const ALL: &[Code] = &[$($id),*];
    };
}

codes! {
    /// A required parameter is absent (gateway code).
    MISSING_PARAMETER = ("MissingParameter", 100002, 400);
    /// The request carries no signature at all (gateway code).
    MISSING_REQUEST_INFO = ("MissingRequestInfo", 100004, 400);
    /// `X-Date` outside the validity window or malformed (gateway code).
    INVALID_TIMESTAMP = ("InvalidTimestamp", 100006, 400);
    /// Unknown `Action`, or a `Version` other than `2021-04-30` (gateway code).
    INVALID_ACTION_OR_VERSION = ("InvalidActionOrVersion", 100008, 404);
    /// Unknown access key (gateway code).
    INVALID_ACCESS_KEY = ("InvalidAccessKey", 100009, 401);
    /// The signature does not verify (gateway code).
    SIGNATURE_DOES_NOT_MATCH = ("SignatureDoesNotMatch", 100010, 401);
    /// Internal error (gateway code; injected 500s).
    INTERNAL_ERROR = ("InternalError", 100014, 500);
    /// Throttled (gateway code; the `throttle` fault).
    FLOW_LIMIT_EXCEEDED = ("FlowLimitExceeded", 100018, 429);
    /// Temporarily unavailable (gateway code; injected 503s).
    SERVICE_UNAVAILABLE_TEMP = ("ServiceUnavailableTemp", 100019, 503);
    /// Body larger than the emulator's limit (emulator choice).
    REQUEST_ENTITY_TOO_LARGE = ("RequestEntityTooLarge", 100020, 413);
    /// A parameter has a bad value or type; the message names it (emulator choice).
    INVALID_PARAMETER = ("InvalidParameter", 200001, 400);
    /// A named resource does not exist (emulator choice).
    RESOURCE_NOT_FOUND = ("ResourceNotFound", 200002, 404);
    /// Account or cloud-server quota reached (emulator choice).
    QUOTA_EXCEEDED = ("QuotaExceeded", 200003, 400);
    /// Not enough capacity left at the chosen cluster / area × ISP for the spec (emulator choice).
    INSUFFICIENT_CAPACITY = ("InsufficientCapacity", 200004, 400);
    /// An instance is in a state that does not allow the operation (emulator choice).
    INVALID_INSTANCE_STATUS = ("InvalidInstanceStatus", 200005, 400);
    /// The resource is still used (cloud server with instances, VPC with groups, ...) (emulator choice).
    RESOURCE_IN_USE = ("ResourceInUse", 200006, 400);
    /// A `client_token` was reused with different parameters (emulator choice).
    IDEMPOTENT_PARAMETER_MISMATCH = ("IdempotentParameterMismatch", 200007, 400);
    /// The POST body is not `application/json` (emulator choice).
    UNSUPPORTED_CONTENT_TYPE = ("UnsupportedContentType", 200008, 400);
}

impl Code {
    /// An [`ApiError`] of this code with `message`.
    pub fn err(self, message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST),
            self.name,
            message,
        )
    }

    /// The code named `name`, if it is one of [`ALL`].
    pub fn by_name(name: &str) -> Option<Code> {
        ALL.iter().copied().find(|c| c.name == name)
    }
}

/// 400 `MissingParameter` naming `field`.
pub fn missing(field: &str) -> ApiError {
    MISSING_PARAMETER.err(format!("The parameter {field} is required"))
}

/// 400 `InvalidParameter` naming `field`.
pub fn invalid(field: &str, why: impl std::fmt::Display) -> ApiError {
    INVALID_PARAMETER.err(format!("The parameter {field} is invalid: {why}"))
}

/// 404 `ResourceNotFound` for `what` `id`.
pub fn not_found(what: &str, id: &str) -> ApiError {
    RESOURCE_NOT_FOUND.err(format!("The {what} {id} does not exist"))
}

/// The veEN code an [`ApiError`] stands for: its own if it is a veEN code, the gateway code of a
/// core answer ([`CoreFault`]: throttling, body limit, unreadable body, no caller, state errors),
/// else by HTTP status.
pub fn code_of(err: &ApiError) -> Code {
    if let Some(c) = Code::by_name(&err.code) {
        return c;
    }
    if let Some(fault) = err.fault {
        return match fault {
            CoreFault::Throttled { .. } => FLOW_LIMIT_EXCEEDED,
            CoreFault::BodyTooLarge { .. } => REQUEST_ENTITY_TOO_LARGE,
            CoreFault::BodyUnreadable => INVALID_PARAMETER,
            CoreFault::Unauthenticated => SIGNATURE_DOES_NOT_MATCH,
            CoreFault::Internal => INTERNAL_ERROR,
        };
    }
    match err.status.as_u16() {
        429 => FLOW_LIMIT_EXCEEDED,
        413 => REQUEST_ENTITY_TOO_LARGE,
        503 => SERVICE_UNAVAILABLE_TEMP,
        401 => SIGNATURE_DOES_NOT_MATCH,
        s if s >= 500 => INTERNAL_ERROR,
        _ => INVALID_PARAMETER,
    }
}

/// Renders `err` as the veEN error envelope for the request `parts` (its `Action`/`Version` echo in
/// `ResponseMetadata`), with the code's HTTP status and `Retry-After` when throttled.
pub fn render(parts: &Parts, err: ApiError) -> Response {
    let (action, version) = envelope::action_version(&parts.uri);
    render_for(&action, &version, err)
}

/// Renders `err` for a known action and version.
pub fn render_for(action: &str, version: &str, err: ApiError) -> Response {
    let code = code_of(&err);
    let request_id = envelope::request_id();
    let body = serde_json::json!({
        "ResponseMetadata": {
            "RequestId": request_id,
            "Action": action,
            "Version": version,
            "Service": envelope::SERVICE,
            "Region": envelope::REGION,
            "Error": {"CodeN": code.number, "Code": code.name, "Message": err.message},
        }
    });
    let status = StatusCode::from_u16(code.status).unwrap_or(err.status);
    let mut resp = (status, axum::Json(body)).into_response();
    envelope::set_request_id(&mut resp, &request_id);
    if let Some(secs) = err.retry_after {
        resp.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(secs),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veen_core_answers_get_the_gateway_code_of_their_fault() {
        assert_eq!(code_of(&ApiError::throttled(5, 2)).name, "FlowLimitExceeded");
        assert_eq!(
            code_of(&ApiError::body_too_large(10)).name,
            "RequestEntityTooLarge"
        );
        assert_eq!(code_of(&ApiError::internal("x")).name, "InternalError");
        assert_eq!(code_of(&missing("image_id")).name, "MissingParameter");
        assert_eq!(missing("image_id").status, StatusCode::BAD_REQUEST);
        assert_eq!(INVALID_ACTION_OR_VERSION.err("x").status, StatusCode::NOT_FOUND);
        let mut names: Vec<_> = ALL.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "codes are unique");
    }
}
