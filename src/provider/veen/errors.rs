//! veEN error answers read into [`ProviderError`]s: the body `{"ResponseMetadata":{…,"Error":{CodeN,
//! Code,Message}}}` (the SDK treats such a body as an error even on HTTP 200, so [`from_body`] checks
//! successful answers too), classified by code: gateway codes from the Volcengine common table (digest
//! §1.6) and the business codes the emulator gives (docs/emulator.md § veEN; the real veEN business
//! codes are not published), then by HTTP status for codes this table does not know.

use serde::Deserialize;
use serde_json::Value;

use crate::provider::error::{ErrorDetail, ProviderError};
use crate::provider::http::Failure;

/// What a code means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// [`ProviderError::NotFound`].
    NotFound,
    /// [`ProviderError::Conflict`].
    Conflict,
    /// [`ProviderError::InUse`].
    InUse,
    /// [`ProviderError::Throttled`].
    Throttled,
    /// [`ProviderError::QuotaExceeded`].
    Quota,
    /// [`ProviderError::CapacityExhausted`].
    Capacity,
    /// [`ProviderError::Invalid`].
    Invalid,
    /// [`ProviderError::Unauthorized`].
    Unauthorized,
    /// [`ProviderError::Transient`].
    Transient,
    /// [`ProviderError::Unsupported`].
    Unsupported,
}

/// Codes and their class.
pub const CODE_TABLE: &[(&str, Class)] = &[
    ("MissingParameter", Class::Invalid),
    ("InvalidParameter", Class::Invalid),
    ("UnsupportedContentType", Class::Invalid),
    ("RequestEntityTooLarge", Class::Invalid),
    ("MissingRequestInfo", Class::Unauthorized),
    ("InvalidTimestamp", Class::Unauthorized),
    ("InvalidAccessKey", Class::Unauthorized),
    ("SignatureDoesNotMatch", Class::Unauthorized),
    ("AccessDenied", Class::Unauthorized),
    ("ServiceNotFound", Class::Unsupported),
    ("InvalidActionOrVersion", Class::Unsupported),
    ("InternalError", Class::Transient),
    ("InternalServiceError", Class::Transient),
    ("InternalServiceTimeout", Class::Transient),
    ("ServiceUnavailableTemp", Class::Transient),
    ("FlowLimitExceeded", Class::Throttled),
    ("ResourceNotFound", Class::NotFound),
    ("QuotaExceeded", Class::Quota),
    ("InsufficientCapacity", Class::Capacity),
    ("InvalidInstanceStatus", Class::Conflict),
    ("IdempotentParameterMismatch", Class::Conflict),
    ("ResourceInUse", Class::InUse),
];

#[derive(Debug, Default, Deserialize)]
struct Envelope {
    #[serde(rename = "ResponseMetadata", default)]
    metadata: Option<Metadata>,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata {
    #[serde(rename = "RequestId", default)]
    request_id: Option<String>,
    #[serde(rename = "Error", default)]
    error: Option<ErrorBody>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(rename = "Code", default)]
    code: Option<String>,
    #[serde(rename = "Message", default)]
    message: Option<String>,
}

/// The class of a code at an HTTP status.
pub fn classify(status: u16, code: Option<&str>) -> Class {
    if let Some(c) = code
        && let Some((_, class)) = CODE_TABLE.iter().find(|(k, _)| *k == c)
    {
        return *class;
    }
    match status {
        401 | 403 => Class::Unauthorized,
        404 => Class::NotFound,
        409 => Class::Conflict,
        429 => Class::Throttled,
        408 | 500..=599 => Class::Transient,
        _ => Class::Invalid,
    }
}

fn build(class: Class, detail: ErrorDetail, retry_after: Option<std::time::Duration>) -> ProviderError {
    match class {
        Class::NotFound => ProviderError::NotFound { detail },
        Class::Conflict => ProviderError::Conflict { detail },
        Class::InUse => ProviderError::InUse { detail },
        Class::Throttled => ProviderError::Throttled { retry_after, detail },
        Class::Quota => ProviderError::QuotaExceeded { detail },
        Class::Capacity => ProviderError::CapacityExhausted { detail },
        Class::Invalid => ProviderError::Invalid { detail },
        Class::Unauthorized => ProviderError::Unauthorized { detail },
        Class::Transient => ProviderError::Transient { detail },
        Class::Unsupported => ProviderError::Unsupported { detail },
    }
}

/// The pipeline's [`ErrorMapper`](crate::provider::http::ErrorMapper) for veEN.
pub fn from_failure(f: Failure<'_>) -> ProviderError {
    let (code, message, rid) = match serde_json::from_slice::<Envelope>(f.body) {
        Ok(Envelope {
            metadata: Some(Metadata { request_id, error }),
        }) => {
            let e = error.unwrap_or_default();
            (e.code, e.message.unwrap_or_default(), request_id)
        }
        _ => (
            None,
            String::from_utf8_lossy(f.body).chars().take(200).collect(),
            None,
        ),
    };
    let detail = ErrorDetail {
        operation: f.operation.to_owned(),
        status: Some(f.status),
        message,
        request_id: f.request_id.or(rid),
        code,
    };
    build(classify(f.status, detail.code.as_deref()), detail, f.retry_after)
}

/// A successful answer's `Result`, or the error its `ResponseMetadata.Error` carries (HTTP 200 with an
/// error body counts as a failure, as in the SDK).
pub fn from_body(operation: &str, body: Value) -> Result<Value, ProviderError> {
    let error = body
        .pointer("/ResponseMetadata/Error/Code")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    if let Some(code) = error {
        let detail = ErrorDetail {
            operation: operation.to_owned(),
            status: Some(200),
            message: body
                .pointer("/ResponseMetadata/Error/Message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            request_id: body
                .pointer("/ResponseMetadata/RequestId")
                .and_then(Value::as_str)
                .map(str::to_owned),
            code: Some(code),
        };
        return Err(build(classify(200, detail.code.as_deref()), detail, None));
    }
    match body.get("Result") {
        Some(r) => Ok(r.clone()),
        None => Err(ProviderError::Protocol {
            detail: ErrorDetail::local(operation, "the answer has no Result"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_categories() {
        let body = br#"{"ResponseMetadata":{"RequestId":"r1","Action":"GetInstance","Error":{"CodeN":200002,"Code":"ResourceNotFound","Message":"gone"}}}"#;
        let e = from_failure(Failure {
            operation: "veen.instance.get",
            status: 404,
            request_id: None,
            retry_after: None,
            body,
        });
        assert!(e.is_not_found(), "{e}");
        assert!(e.to_string().contains("request id r1"), "{e}");
        for (code, status, category) in [
            ("FlowLimitExceeded", 429, "Throttled"),
            ("SignatureDoesNotMatch", 401, "Unauthorized"),
            ("InsufficientCapacity", 400, "CapacityExhausted"),
            ("QuotaExceeded", 400, "QuotaExceeded"),
            ("ResourceInUse", 400, "InUse"),
            ("InvalidInstanceStatus", 400, "Conflict"),
            ("InvalidParameter", 400, "Invalid"),
            ("InternalError", 500, "Transient"),
            ("InvalidActionOrVersion", 404, "Unsupported"),
            ("SomethingNew", 503, "Transient"),
        ] {
            assert_eq!(
                build(classify(status, Some(code)), ErrorDetail::default(), None).category(),
                category,
                "{code}"
            );
        }
        let e = from_failure(Failure {
            operation: "veen.x",
            status: 502,
            request_id: None,
            retry_after: None,
            body: b"<html>bad gateway</html>",
        });
        assert_eq!(e.category(), "Transient");
        let ok = from_body(
            "op",
            serde_json::json!({"ResponseMetadata": {}, "Result": {"a": 1}}),
        )
        .unwrap();
        assert_eq!(ok["a"], 1);
        let err = from_body(
            "op",
            serde_json::json!({"ResponseMetadata": {"Error": {"Code": "QuotaExceeded", "Message": "m"}}}),
        )
        .unwrap_err();
        assert_eq!(err.category(), "QuotaExceeded");
    }
}
