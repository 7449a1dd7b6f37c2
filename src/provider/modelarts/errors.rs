//! ModelArts (and BSS, IAM) failures as [`ProviderError`]s: the Huawei error body
//! ([`ErrorBody`](huawei::ErrorBody)) read against ModelArts' codes (digest §2.5: `ModelArts.6404` "DevServer does not
//! exist" comes as HTTP 400; `ModelArts.0116` quota), the billing codes of a prepaid purchase (`CBC.*`),
//! and the APIG gateway's (`APIG.0308`/`APIGW.0308` throttling as 429, `APIG.03xx` authentication).
//! A code the tables do not know is classified by its HTTP status.

use crate::provider::error::{CodeClass, CodeTable, ProviderError};
use crate::provider::http::Failure;
use crate::provider::huawei::errors as huawei;

/// Codes classified explicitly; anything else by HTTP status ([`CodeClass::for_status`]); the gateway's are
/// [`huawei::GATEWAY_CODES`].
pub const CODE_TABLE: &CodeTable = &[
    // ModelArts: a missing DevServer is a 400 with this code.
    ("ModelArts.6404", CodeClass::NotFound),
    ("ModelArts.0116", CodeClass::Quota),
    // Not allowed in the server's status (reboot a stopped server, act while CREATING/DELETING, delete
    // a prepaid server before it expires): wrong state, not a wrong request.
    ("ModelArts.7000", CodeClass::Conflict),
    // Start while running, any action while starting, stop while stopped, any action while stopping.
    ("ModelArts.6305", CodeClass::Conflict),
    ("ModelArts.6306", CodeClass::Conflict),
    ("ModelArts.6307", CodeClass::Conflict),
    ("ModelArts.6308", CodeClass::Conflict),
    // The project in the path (or X-Project-Id) is not the caller's.
    ("ModelArts.0204", CodeClass::Unauthorized),
    // Billing: an order that does not exist (or is in no state for the call), a resource already
    // unsubscribed (gone), a resource that is not prepaid (or not provisioned yet).
    ("CBC.30000010", CodeClass::NotFound),
    ("CBC.30000067", CodeClass::NotFound),
    ("CBC.0101", CodeClass::Invalid),
    ("CBC.0100", CodeClass::Invalid),
    ("CBC.0151", CodeClass::Unauthorized),
];

/// Codes meaning "the IAM token is bad; log in again and retry once".
pub const TOKEN_REFRESH_CODES: &[&str] = &["APIG.0301", "APIGW.0301", "APIG.0307", "APIGW.0307"];

/// The [`ProviderError`] of a failed ModelArts, BSS or IAM answer: [`CODE_TABLE`], then the gateway's
/// codes, then the HTTP status.
pub fn from_failure(f: Failure<'_>) -> ProviderError {
    huawei::from_failure(CODE_TABLE, f)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn failure(status: u16, body: &str) -> ProviderError {
        from_failure(Failure {
            operation: "modelarts.server.get",
            status,
            request_id: Some("req-1".into()),
            retry_after: Some(Duration::from_secs(2)),
            body: body.as_bytes(),
        })
    }

    #[test]
    fn modelarts_codes_map_to_categories() {
        let cases = [
            (400, "ModelArts.6404", "NotFound"),
            (400, "ModelArts.0116", "QuotaExceeded"),
            (400, "ModelArts.7000", "Conflict"),
            (400, "ModelArts.6305", "Conflict"),
            (400, "ModelArts.0104", "Invalid"),
            (403, "ModelArts.0204", "Unauthorized"),
            (400, "CBC.30000010", "NotFound"),
            (429, "APIG.0308", "Throttled"),
            (400, "APIGW.0308", "Throttled"),
            (401, "APIG.0301", "Unauthorized"),
            (403, "ModelArts.9999", "Unauthorized"),
            (400, "ModelArts.4101", "Invalid"),
            (409, "ModelArts.6409", "Conflict"),
            (500, "ModelArts.0001", "Transient"),
        ];
        for (status, code, want) in cases {
            let body = format!(r#"{{"error_code":"{code}","error_msg":"m"}}"#);
            let e = failure(status, &body);
            assert_eq!(e.category(), want, "{status} {code}");
            assert_eq!(e.code(), Some(code));
        }
    }

    #[test]
    fn a_throttled_modelarts_call_keeps_the_retry_after_and_the_request_id() {
        let e = failure(429, r#"{"error_code":"APIG.0308","error_msg":"over ratelimit"}"#);
        assert!(
            matches!(&e, ProviderError::Throttled { retry_after: Some(d), detail }
            if *d == Duration::from_secs(2) && detail.request_id.as_deref() == Some("req-1"))
        );
        assert_eq!(failure(429, "").category(), "Throttled", "no body");
    }
}
