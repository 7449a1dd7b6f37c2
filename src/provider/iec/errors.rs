//! IEC error mapping: every error code of the API reference (digest §3) and the gateway codes → a
//! [`ProviderError`] variant, with the quirks (conflicts reported as 404/500, "in use" as 400/409/500,
//! throttling as APIG.0308/429). Unknown codes fall back to the HTTP status.

use std::time::Duration;

use crate::provider::error::{ErrorDetail, ProviderError};
use crate::provider::http::Failure;
pub use crate::provider::huawei::errors::ErrorBody;

/// Where a code lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Object missing.
    NotFound,
    /// Name taken / wrong state for the operation.
    Conflict,
    /// Still used by other objects.
    InUse,
    /// Rate limited.
    Throttled,
    /// Quota exhausted.
    Quota,
    /// No capacity where the request asked for it (comes back without a human).
    Capacity,
    /// Bad request / bad spec.
    Invalid,
    /// Auth failure (token missing/invalid/expired, no permission, bad signature).
    Unauthorized,
    /// Temporary: retry later.
    Transient,
}

/// Codes whose meaning is not what their HTTP status suggests, or that we classify explicitly.
/// Anything not listed is classified by HTTP status ([`class_for_status`]).
pub const CODE_TABLE: &[(&str, Class)] = &[
    // 400 that are really "busy / wrong state": wait and retry, or conflict.
    ("IEC.000000", Class::Transient), // get the quota failed (internal, retry later)
    ("IEC.010002", Class::Conflict),  // edge cloud in intermediate state: wait
    ("IEC.010009", Class::Conflict),  // failed edge cloud can only be deleted
    ("IEC.010203", Class::Conflict),  // instance still creating cannot be deleted
    ("IEC.010406", Class::Conflict),  // resource not running: cannot update
    ("IEC.010910", Class::Quota),     // quota is not enough to deploy
    ("IEC.011018", Class::Capacity),  // no available location
    ("IEC.020008", Class::InUse),     // subnet used by compute / LB
    ("IEC.020009", Class::InUse),     // subnet used by VIP
    ("IEC.020014", Class::InUse),     // subnet used by private IP
    ("IEC.020306", Class::Quota),     // max rules per security group
    ("IEC.020401", Class::Quota),     // edge net quota not enough
    ("IEC.020610", Class::Conflict),  // VIP bound to one server only
    ("IEC.020612", Class::Conflict),  // VIP already bound to bandwidth
    ("IEC.020614", Class::Conflict),  // VIP not bound (cannot unbind)
    ("IEC.020615", Class::Conflict),  // VIP already bound to a port
    ("IEC.020616", Class::Conflict),  // IP address in use
    ("IEC.020617", Class::Quota),     // no more IP addresses
    ("IEC.020708", Class::Conflict),  // EIP still creating
    ("IEC.020712", Class::InUse),     // EIP bound to a port
    ("IEC.020713", Class::Quota),     // no available line
    ("IEC.020716", Class::Conflict),  // EIP address in use
    ("IEC.020717", Class::Quota),     // EIP pool exhausted
    ("IEC.020810", Class::Unauthorized), // bandwidth frozen (arrears)
    ("IEC.020817", Class::Quota),     // bandwidth size quota
    ("IEC.010101", Class::Conflict),  // plan/edge cloud mismatch or too many open plans
    // "contact support" 400s of internal operations are transient server-side failures.
    ("IEC.020000", Class::Transient),
    ("IEC.020004", Class::Transient),
    ("IEC.020006", Class::Transient),
    ("IEC.020012", Class::Transient),
    ("IEC.020100", Class::Transient),
    ("IEC.020102", Class::Transient),
    ("IEC.020103", Class::Transient),
    ("IEC.020108", Class::Transient),
    ("IEC.020111", Class::Transient),
    ("IEC.020112", Class::Transient),
    ("IEC.020200", Class::Transient),
    ("IEC.020201", Class::Transient),
    ("IEC.020202", Class::Transient),
    ("IEC.020203", Class::Transient),
    ("IEC.020300", Class::Transient),
    ("IEC.020301", Class::Transient),
    ("IEC.020302", Class::Transient),
    ("IEC.020303", Class::Transient),
    ("IEC.020405", Class::Transient),
    ("IEC.020600", Class::Transient),
    ("IEC.020601", Class::Transient),
    ("IEC.020602", Class::Transient),
    ("IEC.020603", Class::Transient),
    ("IEC.020604", Class::Transient),
    ("IEC.020605", Class::Transient),
    ("IEC.020606", Class::Transient),
    ("IEC.020700", Class::Transient),
    ("IEC.020701", Class::Transient),
    ("IEC.020703", Class::Transient),
    ("IEC.020704", Class::Transient),
    ("IEC.020705", Class::Transient),
    ("IEC.020801", Class::Transient),
    ("IEC.020803", Class::Transient),
    ("IEC.010227", Class::Transient),
    // 401/403.
    ("IEC.000002", Class::Unauthorized),
    ("IEC.000003", Class::Unauthorized),
    ("IEC.000004", Class::Unauthorized),
    ("IEC.000005", Class::Unauthorized),
    ("IEC.000009", Class::Unauthorized),
    // 404 quirk: deleting the default security group is a conflict, not "gone".
    ("IEC.020311", Class::Conflict),
    // 409 that is a validation error.
    ("IEC.020305", Class::Invalid),
    // 409s: in use vs conflict.
    ("IEC.020113", Class::InUse),    // vpc contains subnets
    ("IEC.010008", Class::Conflict), // edge cloud name exists
    ("IEC.010222", Class::Conflict), // change-OS in wrong state
    ("IEC.020007", Class::Conflict), // subnet cidr conflict
    ("IEC.020105", Class::Conflict), // vpc name exists
    // 500 quirks.
    ("IEC.020913", Class::InUse),    // ACL still bound to subnets
    ("IEC.020914", Class::Conflict), // subnet already bound to another ACL
    ("IEC.010226", Class::Invalid),  // add key pair failed (doc: check params)
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

/// Codes meaning "the token is bad; log in again and retry once".
pub const TOKEN_REFRESH_CODES: &[&str] = &["IEC.000003", "IEC.000004"];

/// Classification by HTTP status when the code is not in [`CODE_TABLE`].
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

/// Classifies a response: code table first, then status. A 5xx is always transient unless the code table
/// says otherwise (e.g. IEC.020913 "ACL bound to subnets" is an in-use error reported as 500).
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

/// Builds the [`ProviderError`] for a failed response.
pub fn to_provider_error(
    status: u16,
    code: Option<String>,
    message: String,
    request_id: Option<String>,
    operation: &str,
    retry_after: Option<Duration>,
) -> ProviderError {
    let class = classify(status, code.as_deref());
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

/// The [`ProviderError`] for a failed IEC (or IAM) response: the Huawei error body read against
/// [`CODE_TABLE`].
pub fn from_failure(f: Failure<'_>) -> ProviderError {
    let (code, message) = ErrorBody::parse(f.body);
    to_provider_error(f.status, code, message, f.request_id, f.operation, f.retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code of the reference's error appendix with its HTTP status and the class we expect.
    const APPENDIX: &[(u16, &str, Class)] = &[
        (400, "IEC.000000", Class::Transient),
        (400, "IEC.000006", Class::Invalid),
        (400, "IEC.000007", Class::Invalid),
        (400, "IEC.000008", Class::Invalid),
        (400, "IEC.000010", Class::Invalid),
        (400, "IEC.000030", Class::Invalid),
        (400, "IEC.000031", Class::Invalid),
        (400, "IEC.010002", Class::Conflict),
        (400, "IEC.010004", Class::Invalid),
        (400, "IEC.010005", Class::Invalid),
        (400, "IEC.010009", Class::Conflict),
        (400, "IEC.010010", Class::Invalid),
        (400, "IEC.010020", Class::Invalid),
        (400, "IEC.010101", Class::Conflict),
        (400, "IEC.010203", Class::Conflict),
        (400, "IEC.010210", Class::Invalid),
        (400, "IEC.010221", Class::Invalid),
        (400, "IEC.010223", Class::Invalid),
        (400, "IEC.010224", Class::Invalid),
        (400, "IEC.010225", Class::Invalid),
        (400, "IEC.010227", Class::Transient),
        (400, "IEC.010229", Class::Invalid),
        (400, "IEC.010303", Class::Invalid),
        (400, "IEC.010401", Class::Invalid),
        (400, "IEC.010406", Class::Conflict),
        (400, "IEC.010410", Class::Invalid),
        (400, "IEC.010603", Class::Invalid),
        (400, "IEC.010641", Class::Invalid),
        (400, "IEC.010700", Class::Invalid),
        (400, "IEC.010800", Class::Invalid),
        (400, "IEC.010900", Class::Invalid),
        (400, "IEC.010910", Class::Quota),
        (400, "IEC.011018", Class::Capacity),
        (400, "IEC.020000", Class::Transient),
        (400, "IEC.020004", Class::Transient),
        (400, "IEC.020006", Class::Transient),
        (400, "IEC.020008", Class::InUse),
        (400, "IEC.020009", Class::InUse),
        (400, "IEC.020010", Class::Invalid),
        (400, "IEC.020012", Class::Transient),
        (400, "IEC.020013", Class::Invalid),
        (400, "IEC.020014", Class::InUse),
        (400, "IEC.020100", Class::Transient),
        (400, "IEC.020102", Class::Transient),
        (400, "IEC.020103", Class::Transient),
        (400, "IEC.020107", Class::Invalid),
        (400, "IEC.020108", Class::Transient),
        (400, "IEC.020111", Class::Transient),
        (400, "IEC.020112", Class::Transient),
        (400, "IEC.020114", Class::Invalid),
        (400, "IEC.020115", Class::Invalid),
        (400, "IEC.020200", Class::Transient),
        (400, "IEC.020201", Class::Transient),
        (400, "IEC.020202", Class::Transient),
        (400, "IEC.020203", Class::Transient),
        (400, "IEC.020300", Class::Transient),
        (400, "IEC.020301", Class::Transient),
        (400, "IEC.020302", Class::Transient),
        (400, "IEC.020303", Class::Transient),
        (400, "IEC.020306", Class::Quota),
        (400, "IEC.020307", Class::Invalid),
        (400, "IEC.020308", Class::Invalid),
        (400, "IEC.020310", Class::Invalid),
        (400, "IEC.020401", Class::Quota),
        (400, "IEC.020403", Class::Invalid),
        (400, "IEC.020405", Class::Transient),
        (400, "IEC.020409", Class::Invalid),
        (400, "IEC.020600", Class::Transient),
        (400, "IEC.020601", Class::Transient),
        (400, "IEC.020602", Class::Transient),
        (400, "IEC.020603", Class::Transient),
        (400, "IEC.020604", Class::Transient),
        (400, "IEC.020605", Class::Transient),
        (400, "IEC.020606", Class::Transient),
        (400, "IEC.020608", Class::Invalid),
        (400, "IEC.020609", Class::Invalid),
        (400, "IEC.020610", Class::Conflict),
        (400, "IEC.020611", Class::Invalid),
        (400, "IEC.020612", Class::Conflict),
        (400, "IEC.020613", Class::Invalid),
        (400, "IEC.020614", Class::Conflict),
        (400, "IEC.020615", Class::Conflict),
        (400, "IEC.020616", Class::Conflict),
        (400, "IEC.020617", Class::Quota),
        (400, "IEC.020618", Class::Invalid),
        (400, "IEC.020700", Class::Transient),
        (400, "IEC.020701", Class::Transient),
        (400, "IEC.020702", Class::Invalid),
        (400, "IEC.020703", Class::Transient),
        (400, "IEC.020704", Class::Transient),
        (400, "IEC.020705", Class::Transient),
        (400, "IEC.020707", Class::Invalid),
        (400, "IEC.020708", Class::Conflict),
        (400, "IEC.020711", Class::Invalid),
        (400, "IEC.020712", Class::InUse),
        (400, "IEC.020713", Class::Quota),
        (400, "IEC.020714", Class::Invalid),
        (400, "IEC.020715", Class::Invalid),
        (400, "IEC.020716", Class::Conflict),
        (400, "IEC.020717", Class::Quota),
        (400, "IEC.020718", Class::Invalid),
        (400, "IEC.020801", Class::Transient),
        (400, "IEC.020803", Class::Transient),
        (400, "IEC.020804", Class::Invalid),
        (400, "IEC.020809", Class::Invalid),
        (400, "IEC.020810", Class::Unauthorized),
        (400, "IEC.020817", Class::Quota),
        (400, "IEC.020819", Class::Invalid),
        (400, "IEC.020909", Class::Invalid),
        (400, "IEC.020910", Class::Invalid),
        (400, "IEC.020911", Class::Invalid),
        (400, "IEC.020915", Class::Invalid),
        (400, "IEC.020916", Class::Invalid),
        (400, "IEC.020917", Class::Invalid),
        (401, "IEC.000002", Class::Unauthorized),
        (401, "IEC.000003", Class::Unauthorized),
        (401, "IEC.000004", Class::Unauthorized),
        (401, "IEC.000009", Class::Unauthorized),
        (403, "IEC.000005", Class::Unauthorized),
        (404, "IEC.000022", Class::NotFound),
        (404, "IEC.010000", Class::NotFound),
        (404, "IEC.010100", Class::NotFound),
        (404, "IEC.010200", Class::NotFound),
        (404, "IEC.010220", Class::NotFound),
        (404, "IEC.010307", Class::NotFound),
        (404, "IEC.010560", Class::NotFound),
        (404, "IEC.011010", Class::NotFound),
        (404, "IEC.020003", Class::NotFound),
        (404, "IEC.020104", Class::NotFound),
        (404, "IEC.020204", Class::NotFound),
        (404, "IEC.020304", Class::NotFound),
        (404, "IEC.020311", Class::Conflict),
        (404, "IEC.020607", Class::NotFound),
        (404, "IEC.020706", Class::NotFound),
        (404, "IEC.020811", Class::NotFound),
        (404, "IEC.020903", Class::NotFound),
        (404, "IEC.030201", Class::NotFound),
        (404, "IEC.030202", Class::NotFound),
        (409, "IEC.010008", Class::Conflict),
        (409, "IEC.010222", Class::Conflict),
        (409, "IEC.020007", Class::Conflict),
        (409, "IEC.020105", Class::Conflict),
        (409, "IEC.020113", Class::InUse),
        (409, "IEC.020305", Class::Invalid),
        (500, "IEC.000001", Class::Transient),
        (500, "IEC.010226", Class::Invalid),
        (500, "IEC.010228", Class::Transient),
        (500, "IEC.010230", Class::Transient),
        (500, "IEC.020001", Class::Transient),
        (500, "IEC.020101", Class::Transient),
        (500, "IEC.020206", Class::Transient),
        (500, "IEC.020901", Class::Transient),
        (500, "IEC.020902", Class::Transient),
        (500, "IEC.020904", Class::Transient),
        (500, "IEC.020905", Class::Transient),
        (500, "IEC.020906", Class::Transient),
        (500, "IEC.020907", Class::Transient),
        (500, "IEC.020912", Class::Transient),
        (500, "IEC.020913", Class::InUse),
        (500, "IEC.020914", Class::Conflict),
        (500, "IEC.030002", Class::Transient),
        (429, "APIG.0308", Class::Throttled),
        (429, "APIGW.0308", Class::Throttled),
        (401, "APIGW.0301", Class::Unauthorized),
        (401, "APIG.0303", Class::Unauthorized),
        (404, "APIGW.0101", Class::Invalid),
        (413, "APIGW.0201", Class::Invalid),
    ];

    #[test]
    fn every_documented_code_maps_as_expected() {
        for (status, code, want) in APPENDIX {
            assert_eq!(classify(*status, Some(code)), *want, "{status} {code}");
        }
        assert!(
            APPENDIX.len() >= 161,
            "the appendix has 161 IEC codes plus gateway codes: {}",
            APPENDIX.len()
        );
    }

    #[test]
    fn unknown_codes_fall_back_to_status() {
        let cases = [
            (404, None, Class::NotFound, "plain 404"),
            (429, Some("SOMETHING"), Class::Throttled, "any 429 is throttling"),
            (503, None, Class::Transient, "5xx is transient"),
            (400, Some("IEC.999999"), Class::Invalid, "unknown 400 is invalid"),
            (401, None, Class::Unauthorized, "401 without body"),
            (409, Some("X"), Class::Conflict, "unknown 409"),
        ];
        for (status, code, want, reason) in cases {
            assert_eq!(classify(status, code), want, "{reason}");
        }
    }

    #[test]
    fn provider_error_carries_everything_but_secrets() {
        let e = to_provider_error(
            429,
            Some("APIG.0308".into()),
            "The throttling threshold has been reached".into(),
            Some("r-1".into()),
            "iec.vpc.list",
            Some(Duration::from_secs(2)),
        );
        assert_eq!(e.category(), "Throttled");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        assert!(
            e.to_string().contains("APIG.0308") && e.to_string().contains("r-1"),
            "{e}"
        );
    }
}
