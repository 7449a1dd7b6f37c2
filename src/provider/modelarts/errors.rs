//! ModelArts (and BSS, IAM) failures as [`ProviderError`]s: the Huawei error body
//! ([`ErrorBody`]) read against ModelArts' codes (digest §2.5: `ModelArts.6404` "DevServer does not
//! exist" comes as HTTP 400; `ModelArts.0116` quota), the billing codes of a prepaid purchase (`CBC.*`),
//! and the APIG gateway's (`APIG.0308`/`APIGW.0308` throttling as 429, `APIG.03xx` authentication).
//! A code the tables do not know is classified by its HTTP status.

use std::time::Duration;

use crate::provider::error::{ErrorDetail, ProviderError};
use crate::provider::http::Failure;
use crate::provider::huawei::errors::ErrorBody;

/// What a code means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The object is gone.
    NotFound,
    /// Wrong state for the operation (try again once the state changes).
    Conflict,
    /// Rate limited.
    Throttled,
    /// A quota is exhausted.
    Quota,
    /// No capacity for the flavor where it was asked for.
    Capacity,
    /// The request is wrong.
    Invalid,
    /// Credentials missing, wrong or without permission.
    Unauthorized,
    /// Temporary; retry.
    Transient,
}

/// Codes classified explicitly; anything else by HTTP status ([`class_for_status`]).
pub const CODE_TABLE: &[(&str, Class)] = &[
    // ModelArts: a missing DevServer is a 400 with this code.
    ("ModelArts.6404", Class::NotFound),
    ("ModelArts.0116", Class::Quota),
    // Not allowed in the server's status (reboot a stopped server, act while CREATING/DELETING, delete
    // a prepaid server before it expires): wrong state, not a wrong request.
    ("ModelArts.7000", Class::Conflict),
    // Start while running, any action while starting, stop while stopped, any action while stopping.
    ("ModelArts.6305", Class::Conflict),
    ("ModelArts.6306", Class::Conflict),
    ("ModelArts.6307", Class::Conflict),
    ("ModelArts.6308", Class::Conflict),
    // The project in the path (or X-Project-Id) is not the caller's.
    ("ModelArts.0204", Class::Unauthorized),
    // Billing: an order that does not exist (or is in no state for the call), a resource already
    // unsubscribed (gone), a resource that is not prepaid (or not provisioned yet).
    ("CBC.30000010", Class::NotFound),
    ("CBC.30000067", Class::NotFound),
    ("CBC.0101", Class::Invalid),
    ("CBC.0100", Class::Invalid),
    ("CBC.0151", Class::Unauthorized),
    // Gateway.
    ("APIG.0308", Class::Throttled),
    ("APIGW.0308", Class::Throttled),
    ("APIG.0301", Class::Unauthorized),
    ("APIGW.0301", Class::Unauthorized),
    ("APIG.0302", Class::Unauthorized),
    ("APIGW.0302", Class::Unauthorized),
    ("APIG.0303", Class::Unauthorized),
    ("APIGW.0303", Class::Unauthorized),
    ("APIG.0304", Class::Unauthorized),
    ("APIGW.0304", Class::Unauthorized),
    ("APIG.0305", Class::Unauthorized),
    ("APIGW.0305", Class::Unauthorized),
    ("APIG.0306", Class::Unauthorized),
    ("APIGW.0306", Class::Unauthorized),
    ("APIG.0307", Class::Unauthorized),
    ("APIGW.0307", Class::Unauthorized),
    ("APIG.0101", Class::Invalid),
    ("APIGW.0101", Class::Invalid),
    ("APIG.0201", Class::Invalid),
    ("APIGW.0201", Class::Invalid),
];

/// Codes meaning "the IAM token is bad; log in again and retry once".
pub const TOKEN_REFRESH_CODES: &[&str] = &["APIG.0301", "APIGW.0301", "APIG.0307", "APIGW.0307"];

/// Classification by HTTP status.
pub fn class_for_status(status: u16) -> Class {
    match status {
        401 | 403 => Class::Unauthorized,
        404 => Class::NotFound,
        409 => Class::Conflict,
        429 => Class::Throttled,
        408 | 500..=599 => Class::Transient,
        _ => Class::Invalid,
    }
}

/// The class of a failed response: the code table first, then the status (a 429 is always throttling).
pub fn classify(status: u16, code: Option<&str>) -> Class {
    if let Some(code) = code
        && let Some((_, class)) = CODE_TABLE.iter().find(|(c, _)| c.eq_ignore_ascii_case(code))
    {
        return *class;
    }
    if status == 429 {
        return Class::Throttled;
    }
    class_for_status(status)
}

/// The [`ProviderError`] of a class, with what the cloud said.
pub fn error_of(class: Class, detail: ErrorDetail, retry_after: Option<Duration>) -> ProviderError {
    match class {
        Class::NotFound => ProviderError::NotFound { detail },
        Class::Conflict => ProviderError::Conflict { detail },
        Class::Throttled => ProviderError::Throttled { retry_after, detail },
        Class::Quota => ProviderError::QuotaExceeded { detail },
        Class::Capacity => ProviderError::CapacityExhausted { detail },
        Class::Invalid => ProviderError::Invalid { detail },
        Class::Unauthorized => ProviderError::Unauthorized { detail },
        Class::Transient => ProviderError::Transient { detail },
    }
}

/// The [`ProviderError`] of a failed ModelArts, BSS or IAM response.
pub fn from_failure(f: Failure<'_>) -> ProviderError {
    let (code, message) = ErrorBody::parse(f.body);
    let class = classify(f.status, code.as_deref());
    let detail = ErrorDetail {
        operation: f.operation.to_owned(),
        status: Some(f.status),
        code,
        message,
        request_id: f.request_id,
    };
    error_of(class, detail, f.retry_after)
}

#[cfg(test)]
mod tests {
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
