//! Huawei error answers, shared by IEC, ModelArts and Workspace: the bodies (`{"error_code","error_msg"}`
//! from the services, `{"error":{"code","message"}}` from the API gateway), the gateway's codes (APIG,
//! the same for every Huawei service) and [`from_failure`], which reads a failed answer against a
//! cloud's own code table, then the gateway's, then the HTTP status.

use serde::Deserialize;

use crate::provider::error::{CodeClass, CodeTable, ErrorDetail, ProviderError, classify};
use crate::provider::http::Failure;

/// The API gateway's codes (`APIG.*`, older services `APIGW.*`): throttling, authentication and
/// malformed requests, whatever the service behind it.
pub const GATEWAY_CODES: &CodeTable = &[
    ("APIG.0308", CodeClass::Throttled),
    ("APIGW.0308", CodeClass::Throttled),
    ("APIG.0301", CodeClass::Unauthorized),
    ("APIGW.0301", CodeClass::Unauthorized),
    ("APIG.0302", CodeClass::Unauthorized),
    ("APIGW.0302", CodeClass::Unauthorized),
    ("APIG.0303", CodeClass::Unauthorized),
    ("APIGW.0303", CodeClass::Unauthorized),
    ("APIG.0304", CodeClass::Unauthorized),
    ("APIGW.0304", CodeClass::Unauthorized),
    ("APIG.0305", CodeClass::Unauthorized),
    ("APIGW.0305", CodeClass::Unauthorized),
    ("APIG.0306", CodeClass::Unauthorized),
    ("APIGW.0306", CodeClass::Unauthorized),
    ("APIG.0307", CodeClass::Unauthorized),
    ("APIGW.0307", CodeClass::Unauthorized),
    ("APIG.0101", CodeClass::Invalid),
    ("APIGW.0101", CodeClass::Invalid),
    ("APIG.0201", CodeClass::Invalid),
    ("APIGW.0201", CodeClass::Invalid),
];

/// What a failed Huawei answer said: operation, status, request id and the body's code and message.
pub fn detail_of(f: &Failure<'_>) -> ErrorDetail {
    let (code, message) = ErrorBody::parse(f.body);
    ErrorDetail {
        operation: f.operation.to_owned(),
        status: Some(f.status),
        code,
        message,
        request_id: f.request_id.clone(),
    }
}

/// The class of a failed Huawei answer: `cloud`'s table, then [`GATEWAY_CODES`], then the status.
pub fn class_of(cloud: &CodeTable, detail: &ErrorDetail) -> CodeClass {
    classify(
        &[cloud, GATEWAY_CODES],
        detail.status.unwrap_or_default(),
        detail.code.as_deref(),
    )
}

/// The [`ProviderError`] of a failed Huawei answer, classified by [`class_of`].
pub fn from_failure(cloud: &CodeTable, f: Failure<'_>) -> ProviderError {
    let detail = detail_of(&f);
    class_of(cloud, &detail).error(detail, f.retry_after)
}

/// Error body: `{"error_code","error_msg"}`; tolerates `code`/`message` and a nested `error` object.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    /// Code.
    #[serde(default, alias = "code")]
    pub error_code: Option<serde_json::Value>,
    /// Message.
    #[serde(default, alias = "message")]
    pub error_msg: Option<String>,
    /// Nested `{"error": {...}}` form.
    #[serde(default)]
    pub error: Option<Box<ErrorBody>>,
}

impl ErrorBody {
    /// Parses leniently; an unparsable body yields no code and the raw text (truncated) as message.
    pub fn parse(bytes: &[u8]) -> (Option<String>, String) {
        match serde_json::from_slice::<ErrorBody>(bytes) {
            Ok(b) => {
                let b = match b.error {
                    Some(inner) if b.error_code.is_none() => *inner,
                    _ => b,
                };
                let code = b.error_code.and_then(|v| match v {
                    serde_json::Value::String(s) if !s.is_empty() => Some(s),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                });
                (code, b.error_msg.unwrap_or_default())
            }
            Err(_) => {
                let text = String::from_utf8_lossy(bytes);
                (None, text.chars().take(200).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_codes_apply_to_every_cloud_table_and_the_cloud_table_comes_first() {
        const CLOUD: &CodeTable = &[("APIG.0201", CodeClass::Conflict), ("SVC.1", CodeClass::Quota)];
        let fail = |status, body: &'static str| {
            from_failure(
                CLOUD,
                Failure {
                    operation: "svc.op",
                    status,
                    request_id: Some("r-1".into()),
                    retry_after: None,
                    body: body.as_bytes(),
                },
            )
        };
        let e = fail(
            400,
            r#"{"error":{"code":"APIGW.0308","message":"over ratelimit"}}"#,
        );
        assert_eq!(e.category(), "Throttled");
        assert_eq!(e.code(), Some("APIGW.0308"));
        assert_eq!(
            fail(401, r#"{"error_code":"APIG.0301","error_msg":"m"}"#).category(),
            "Unauthorized"
        );
        assert_eq!(
            fail(400, r#"{"error_code":"APIG.0201","error_msg":"m"}"#).category(),
            "Conflict"
        );
        assert_eq!(
            fail(400, r#"{"error_code":"SVC.1","error_msg":"m"}"#).category(),
            "QuotaExceeded"
        );
        assert_eq!(fail(502, "<html>bad gateway</html>").category(), "Transient");
    }

    #[test]
    fn error_body_parsing_is_lenient() {
        assert_eq!(
            ErrorBody::parse(br#"{"error_code":"IEC.020104","error_msg":"the vpc is not found"}"#),
            (Some("IEC.020104".into()), "the vpc is not found".into())
        );
        assert_eq!(
            ErrorBody::parse(
                br#"{"error":{"code":"APIGW.0301","message":"Incorrect IAM authentication information"}}"#
            ),
            (
                Some("APIGW.0301".into()),
                "Incorrect IAM authentication information".into()
            )
        );
        assert_eq!(
            ErrorBody::parse(b"<html>bad gateway</html>"),
            (None, "<html>bad gateway</html>".into())
        );
        assert_eq!(ErrorBody::parse(b""), (None, String::new()));
    }
}
