//! Error types. [`ApiError`] is what a handler returns to a client, cloud-neutral: an HTTP status, a
//! code, a message and an optional `Retry-After`; when the core made the answer itself (body limit,
//! throttling, state corruption) it also says which [`CoreFault`] it is, so that the cloud can word
//! it in its own codes. The error body is the cloud's: a handler's `ApiError` becomes a response that
//! carries the error, and the cloud's [`Profile::render`](crate::core::cloud::Profile::render) turns
//! it into the cloud's body on the way out ([`render_errors`](crate::core::server) layer); without a
//! cloud it reads `{"code","message"}`. [`Error`] is the embedder-facing error of starting, loading or
//! saving the emulator.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An answer the core gives itself, before or around a cloud's handler. Each cloud's renderer picks
/// its own code and wording for it; [`ApiError::code`] and [`ApiError::message`] hold a neutral one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreFault {
    /// The request body could not be read (400).
    BodyUnreadable,
    /// The request body is larger than the configured limit (413).
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The account went over its requests-per-second budget (429, the `throttle` fault).
    Throttled {
        /// The allowed requests per second.
        limit: u32,
    },
    /// A handler that needs the caller ran without an authenticated principal (401).
    Unauthenticated,
    /// The state store failed, e.g. a record that does not decode (500).
    Internal,
}

/// An error answer to an API request: status, code, message, optional `Retry-After`. The cloud's
/// renderer gives it the cloud's body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// The cloud's error code (e.g. `IEC.020104`, `InvalidParameter`), or a neutral one for a
    /// [`CoreFault`].
    pub code: Cow<'static, str>,
    /// The message.
    pub message: String,
    /// Seconds for a `Retry-After` header (throttling).
    pub retry_after: Option<u64>,
    /// Set when the core made this answer itself; the cloud renders it in its own terms.
    pub fault: Option<CoreFault>,
}

/// The neutral body of an [`ApiError`] no cloud rendered.
#[derive(Serialize)]
struct NeutralBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
            fault: None,
        }
    }

    fn core(fault: CoreFault, status: StatusCode, code: &'static str, message: String) -> Self {
        Self {
            fault: Some(fault),
            ..Self::new(status, code, message)
        }
    }

    /// 400: the request body could not be read.
    pub fn body_unreadable() -> Self {
        Self::core(
            CoreFault::BodyUnreadable,
            StatusCode::BAD_REQUEST,
            "BodyUnreadable",
            "the request body could not be read".to_string(),
        )
    }

    /// 413: the request body is larger than `limit` bytes.
    pub fn body_too_large(limit: usize) -> Self {
        Self::core(
            CoreFault::BodyTooLarge { limit },
            StatusCode::PAYLOAD_TOO_LARGE,
            "BodyTooLarge",
            format!("the request body exceeds {limit} bytes"),
        )
    }

    /// 429 with a `Retry-After` header: more than `limit` requests per second.
    pub fn throttled(limit: u32, retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::core(
                CoreFault::Throttled { limit },
                StatusCode::TOO_MANY_REQUESTS,
                "Throttled",
                format!("more than {limit} requests per second"),
            )
        }
    }

    /// 401: the handler needs an authenticated caller and the request has none.
    pub fn unauthenticated() -> Self {
        Self::core(
            CoreFault::Unauthenticated,
            StatusCode::UNAUTHORIZED,
            "Unauthenticated",
            "the request has no authenticated caller".to_string(),
        )
    }

    /// 500: the state store failed; `message` says how (the cloud's renderer may wrap it in its own
    /// internal-error text).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::core(
            CoreFault::Internal,
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            message.into(),
        )
    }

    /// The neutral rendering, `{"code","message"}` with the status and `Retry-After`; what a cloud's
    /// renderer starts from when its body shape is its own.
    pub fn neutral_response(&self) -> Response {
        let body = NeutralBody {
            code: &self.code,
            message: &self.message,
        };
        let mut resp = json_response(self.status, serde_json::to_vec(&body).unwrap_or_default());
        self.put_retry_after(&mut resp);
        resp
    }

    /// Adds the `Retry-After` header to `resp` when the error has one.
    pub fn put_retry_after(&self, resp: &mut Response) {
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
    }
}

/// A JSON answer with `status` and `bytes` as its body.
pub fn json_response(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut resp = Response::new(axum::body::Body::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// The error an [`ApiError`] response still carries for its cloud to render (see
/// [`ApiError::into_response`]).
#[derive(Debug, Clone)]
pub struct Unrendered(pub ApiError);

impl IntoResponse for ApiError {
    /// The neutral rendering, with the error kept in the response's extensions so that the cloud's
    /// renderer (the server's `render_errors` layer) replaces it with the cloud's body.
    fn into_response(self) -> Response {
        let mut resp = self.neutral_response();
        resp.extensions_mut().insert(Unrendered(self));
        resp
    }
}

impl From<crate::core::state::StateError> for ApiError {
    fn from(err: crate::core::state::StateError) -> Self {
        Self::internal(err.to_string())
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
