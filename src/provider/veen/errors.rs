//! veEN error answers read into [`ProviderError`]s: the body `{"ResponseMetadata":{…,"Error":{CodeN,
//! Code,Message}}}` (the SDK treats such a body as an error even on HTTP 200, so [`from_body`] checks
//! successful answers too), classified by code: gateway codes from the Volcengine common table (digest
//! §1.6) and the business codes the emulator gives (docs/emulator.md § veEN; the real veEN business
//! codes are not published), then by HTTP status for codes this table does not know.

use serde::Deserialize;
use serde_json::Value;

use crate::provider::error::{CodeClass, CodeTable, ErrorDetail, ProviderError};
use crate::provider::http::Failure;

/// Codes and their class; codes not listed go by HTTP status ([`CodeClass::for_status`]).
pub const CODE_TABLE: &CodeTable = &[
    ("MissingParameter", CodeClass::Invalid),
    ("InvalidParameter", CodeClass::Invalid),
    ("UnsupportedContentType", CodeClass::Invalid),
    ("RequestEntityTooLarge", CodeClass::Invalid),
    ("MissingRequestInfo", CodeClass::Unauthorized),
    ("InvalidTimestamp", CodeClass::Unauthorized),
    ("InvalidAccessKey", CodeClass::Unauthorized),
    ("SignatureDoesNotMatch", CodeClass::Unauthorized),
    ("AccessDenied", CodeClass::Unauthorized),
    ("ServiceNotFound", CodeClass::Unsupported),
    ("InvalidActionOrVersion", CodeClass::Unsupported),
    ("InternalError", CodeClass::Transient),
    ("InternalServiceError", CodeClass::Transient),
    ("InternalServiceTimeout", CodeClass::Transient),
    ("ServiceUnavailableTemp", CodeClass::Transient),
    ("FlowLimitExceeded", CodeClass::Throttled),
    ("ResourceNotFound", CodeClass::NotFound),
    ("QuotaExceeded", CodeClass::Quota),
    ("InsufficientCapacity", CodeClass::Capacity),
    ("InvalidInstanceStatus", CodeClass::Conflict),
    ("IdempotentParameterMismatch", CodeClass::Conflict),
    ("ResourceInUse", CodeClass::InUse),
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

/// The class of a code at an HTTP status: [`CODE_TABLE`], then the status.
pub fn classify(status: u16, code: Option<&str>) -> CodeClass {
    crate::provider::error::classify(&[CODE_TABLE], status, code)
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
    classify(f.status, detail.code.as_deref()).error(detail, f.retry_after)
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
        return Err(classify(200, detail.code.as_deref()).error(detail, None));
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
                classify(status, Some(code))
                    .error(ErrorDetail::default(), None)
                    .category(),
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
