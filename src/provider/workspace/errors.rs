//! Workspace error mapping: the Huawei error body (`{error_code,error_msg}`, or the gateway's
//! `{error:{code,message}}`, read by [`crate::provider::huawei::errors`]) classified by its `WKS.*` or
//! `APIG*` code, else by the HTTP status. The documented codes (digest §4.6): `WKS.0001` (400, empty
//! request), `WKS.00211102` (400: a bad parameter, or the server quota when its message says the number "exceeds the limit"), `WKS.00211103` (409: the group still holds servers), `WKS.00211401`
//! (500); the gateway's `APIG.0308`/`APIGW.0308` (429) is throttling, `APIG.03xx` authentication.

use std::time::Duration;

use crate::provider::error::{ErrorDetail, ProviderError};
use crate::provider::http::Failure;
use crate::provider::huawei::errors::ErrorBody;

/// Where a code lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Object missing.
    NotFound,
    /// Wrong state / name taken.
    Conflict,
    /// Still holds other objects (a group with servers).
    InUse,
    /// Rate limited.
    Throttled,
    /// Quota exhausted.
    Quota,
    /// Sold out where asked.
    Capacity,
    /// Bad request.
    Invalid,
    /// Authentication or permission.
    Unauthorized,
    /// Retry later.
    Transient,
}

/// Codes classified explicitly; the rest go by HTTP status ([`class_for_status`]).
pub const CODE_TABLE: &[(&str, Class)] = &[
    ("WKS.0001", Class::Invalid),
    ("WKS.00211102", Class::Invalid),
    ("WKS.00211103", Class::InUse),
    ("WKS.00211401", Class::Transient),
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

/// Codes meaning "the token is bad; log in again and retry once" (gateway: token expired / invalid).
pub const TOKEN_REFRESH_CODES: &[&str] = &["APIG.0307", "APIGW.0307", "APIG.0302", "APIGW.0302"];

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

/// Code table first, then status (a 429 is always throttling).
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

/// The [`ProviderError`] of one failed response.
pub fn to_provider_error(
    status: u16,
    code: Option<String>,
    message: String,
    request_id: Option<String>,
    operation: &str,
    retry_after: Option<Duration>,
) -> ProviderError {
    let mut class = classify(status, code.as_deref());
    // WKS.00211102 is every invalid parameter, and also the server quota ("… exceeds the limit").
    if class == Class::Invalid
        && code.as_deref() == Some("WKS.00211102")
        && message.to_ascii_lowercase().contains("exceeds the limit")
    {
        class = Class::Quota;
    }
    let detail = ErrorDetail {
        operation: operation.to_owned(),
        status: Some(status),
        code,
        message,
        request_id,
    };
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
    }
}

/// The pipeline's [`ErrorMapper`](crate::provider::http::ErrorMapper) for Workspace (and its IAM calls).
pub fn from_failure(f: Failure<'_>) -> ProviderError {
    let (code, message) = ErrorBody::parse(f.body);
    to_provider_error(f.status, code, message, f.request_id, f.operation, f.retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_codes_and_statuses_map_to_categories() {
        let cases: &[(u16, Option<&str>, &str)] = &[
            (400, Some("WKS.0001"), "Invalid"),
            (409, Some("WKS.00211103"), "InUse"),
            (500, Some("WKS.00211401"), "Transient"),
            (429, Some("APIG.0308"), "Throttled"),
            (429, None, "Throttled"),
            (401, Some("APIG.0301"), "Unauthorized"),
            (403, None, "Unauthorized"),
            (404, Some("WKS.99999999"), "NotFound"),
            (409, None, "Conflict"),
            (503, None, "Transient"),
            (400, None, "Invalid"),
            (404, Some("WKS.00000404"), "NotFound"),
        ];
        for (status, code, want) in cases {
            let e = to_provider_error(*status, code.map(str::to_owned), "m".into(), None, "op", None);
            assert_eq!(e.category(), *want, "{status} {code:?}");
        }
    }

    #[test]
    fn the_workspace_server_quota_is_a_quota_error_not_a_bad_parameter() {
        let quota = to_provider_error(
            400,
            Some("WKS.00211102".into()),
            "The number of application servers exceeds the limit, limit:'20'".into(),
            None,
            "workspace.server.create",
            None,
        );
        assert_eq!(quota.category(), "QuotaExceeded");
        let bad = to_provider_error(
            400,
            Some("WKS.00211102".into()),
            "The parameter is invalid: subnet_id: unknown".into(),
            None,
            "workspace.group.create",
            None,
        );
        assert_eq!(bad.category(), "Invalid");
    }

    #[test]
    fn a_workspace_throttle_keeps_its_retry_after() {
        let e = from_failure(Failure {
            operation: "workspace.server.list",
            status: 429,
            request_id: Some("r1".into()),
            retry_after: Some(Duration::from_secs(2)),
            body: br#"{"error_code":"APIG.0308","error_msg":"The throttling threshold has been reached"}"#,
        });
        match e {
            ProviderError::Throttled { retry_after, detail } => {
                assert_eq!(retry_after, Some(Duration::from_secs(2)));
                assert_eq!(detail.code.as_deref(), Some("APIG.0308"));
                assert_eq!(detail.request_id.as_deref(), Some("r1"));
            }
            other => panic!("not throttled: {other:?}"),
        }
    }
}
