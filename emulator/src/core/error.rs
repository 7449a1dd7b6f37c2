//! Error types. [`ApiError`] is what a handler returns to a client: an HTTP status plus the Huawei
//! error body `{"error_code": "...", "error_msg": "..."}` (optionally a `Retry-After` header, or an
//! instruction to drop the connection). [`Error`] is the embedder-facing error of starting, loading
//! or saving the emulator.

use std::borrow::Cow;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer to an API request, rendered as `{"error_code","error_msg"}` with `status`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// The `error_code` field, e.g. `IEC.020104` or `APIGW.0301`.
    pub code: Cow<'static, str>,
    /// The `error_msg` field.
    pub message: String,
    /// Seconds for a `Retry-After` header (throttling).
    pub retry_after: Option<u64>,
    /// Add a `request_id` field (API-gateway errors carry one).
    pub with_request_id: bool,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error_code: &'a str,
    error_msg: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
            with_request_id: false,
        }
    }

    /// An API-gateway error (`APIGW.*` / `APIG.*` codes), which carries a `request_id`.
    pub fn gateway(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            with_request_id: true,
            ..Self::new(status, code, message)
        }
    }

    /// 404 `APIGW.0101`: no such API (unknown path or method).
    pub fn no_such_api() -> Self {
        Self::gateway(
            StatusCode::NOT_FOUND,
            "APIGW.0101",
            "The API does not exist or has not been published in the environment",
        )
    }

    /// 413 `APIGW.0201`: request body larger than the configured limit.
    pub fn body_too_large(limit: usize) -> Self {
        Self::gateway(
            StatusCode::PAYLOAD_TOO_LARGE,
            "APIGW.0201",
            format!("Request entity too large: the body exceeds {limit} bytes"),
        )
    }

    /// 401 `APIGW.0301`: AK/SK authentication failed (the gateway's generic IAM-auth error).
    pub fn aksk(message: impl Into<String>) -> Self {
        Self::gateway(
            StatusCode::UNAUTHORIZED,
            "APIGW.0301",
            format!("Incorrect IAM authentication information: {}", message.into()),
        )
    }

    /// 429 `APIG.0308` with the gateway's throttling text and a `Retry-After` header.
    pub fn throttled(limit: u32, retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::gateway(
                StatusCode::TOO_MANY_REQUESTS,
                "APIG.0308",
                format!(
                    "The throttling threshold has been reached: policy user over ratelimit,limit:{limit},time:1 second"
                ),
            )
        }
    }

    /// A generic internal error (500 `IEC.000001` style is chosen by the cloud family; this is the
    /// neutral fallback used by the core for state corruption).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "IEC.000001", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = self.with_request_id.then(crate::core::ids::request_id);
        let body = ErrorBody {
            error_code: &self.code,
            error_msg: &self.message,
            request_id: request_id.clone(),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut resp = Response::new(Body::from(bytes));
        // The header and the body's `request_id` name the same request.
        if let Some(v) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
            resp.headers_mut().insert(crate::core::ids::REQUEST_ID, v);
        }
        *resp.status_mut() = self.status;
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

impl From<crate::core::state::StateError> for ApiError {
    fn from(err: crate::core::state::StateError) -> Self {
        Self::internal(format!("Internal Server Error! ({err})"))
    }
}

/// Errors of starting, configuring, loading or saving the emulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Binding the listening socket failed.
    #[error("failed to bind {addr}")]
    Bind {
        /// The address that could not be bound.
        addr: std::net::SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Reading a config, faults or state file failed.
    #[error("failed to read {path}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing the state file failed.
    #[error("failed to write {path}")]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A config or faults file is not valid YAML/JSON for the expected schema.
    #[error("failed to parse {path}: {message}")]
    Parse {
        /// The file.
        path: std::path::PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A state snapshot could not be loaded.
    #[error("failed to load state snapshot")]
    State(#[source] crate::core::state::StateError),
    /// The server task failed.
    #[error("server failed")]
    Serve(#[source] std::io::Error),
}
