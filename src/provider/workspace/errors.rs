//! Workspace error mapping: the Huawei error body (`{error_code,error_msg}`, or the gateway's
//! `{error:{code,message}}`, read by [`crate::provider::huawei::errors`]) classified by its `WKS.*` or
//! `APIG*` code, else by the HTTP status. The documented codes (digest §4.6): `WKS.0001` (400, empty
//! request), `WKS.00211102` (400: a bad parameter, or the server quota when its message says the number "exceeds the limit"), `WKS.00211103` (409: the group still holds servers), `WKS.00211401`
//! (500); the gateway's `APIG.0308`/`APIGW.0308` (429) is throttling, `APIG.03xx` authentication.

use crate::provider::error::{CodeClass, CodeTable, ProviderError};
use crate::provider::http::Failure;
use crate::provider::huawei::errors as huawei;

/// Codes classified explicitly; the rest go by HTTP status ([`CodeClass::for_status`]); the gateway's are
/// [`huawei::GATEWAY_CODES`].
pub const CODE_TABLE: &CodeTable = &[
    ("WKS.0001", CodeClass::Invalid),
    ("WKS.00211102", CodeClass::Invalid),
    ("WKS.00211103", CodeClass::InUse),
    ("WKS.00211401", CodeClass::Transient),
];

/// Codes meaning "the token is bad; log in again and retry once" (gateway: token expired / invalid).
pub const TOKEN_REFRESH_CODES: &[&str] = &["APIG.0307", "APIGW.0307", "APIG.0302", "APIGW.0302"];

/// The [`ProviderError`] of a failed Workspace (or IAM) answer: [`CODE_TABLE`], then the gateway's
/// codes, then the HTTP status. `WKS.00211102` is every invalid parameter and also the server quota,
/// which its message tells apart ("… exceeds the limit").
pub fn from_failure(f: Failure<'_>) -> ProviderError {
    let detail = huawei::detail_of(&f);
    let class = match huawei::class_of(CODE_TABLE, &detail) {
        CodeClass::Invalid
            if detail.code.as_deref() == Some("WKS.00211102")
                && detail.message.to_ascii_lowercase().contains("exceeds the limit") =>
        {
            CodeClass::Quota
        }
        class => class,
    };
    class.error(detail, f.retry_after)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn answer(status: u16, code: Option<&str>, message: &str) -> ProviderError {
        let body = match code {
            Some(code) => serde_json::json!({"error_code": code, "error_msg": message}).to_string(),
            None => String::new(),
        };
        from_failure(Failure {
            operation: "op",
            status,
            request_id: None,
            retry_after: None,
            body: body.as_bytes(),
        })
    }

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
            let e = answer(*status, *code, "m");
            assert_eq!(e.category(), *want, "{status} {code:?}");
        }
    }

    #[test]
    fn the_workspace_server_quota_is_a_quota_error_not_a_bad_parameter() {
        let quota = answer(
            400,
            Some("WKS.00211102"),
            "The number of application servers exceeds the limit, limit:'20'",
        );
        assert_eq!(quota.category(), "QuotaExceeded");
        let bad = answer(
            400,
            Some("WKS.00211102"),
            "The parameter is invalid: subnet_id: unknown",
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
