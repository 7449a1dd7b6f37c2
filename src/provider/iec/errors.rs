//! IEC error mapping: every error code of the API reference (digest §3) and the gateway codes → a
//! [`ProviderError`] variant, with the quirks (conflicts reported as 404/500, "in use" as 400/409/500,
//! throttling as APIG.0308/429). Unknown codes fall back to the HTTP status.

use crate::provider::error::{CodeClass, CodeTable, ProviderError};
use crate::provider::http::Failure;
pub use crate::provider::huawei::errors::ErrorBody;
use crate::provider::huawei::errors::{self as huawei, GATEWAY_CODES};

/// Codes whose meaning is not what their HTTP status suggests, or that we classify explicitly.
/// Anything not listed is classified by HTTP status ([`CodeClass::for_status`]); the gateway's codes are
/// [`GATEWAY_CODES`].
pub const CODE_TABLE: &CodeTable = &[
    // 400 that are really "busy / wrong state": wait and retry, or conflict.
    ("IEC.000000", CodeClass::Transient), // get the quota failed (internal, retry later)
    ("IEC.010002", CodeClass::Conflict),  // edge cloud in intermediate state: wait
    ("IEC.010009", CodeClass::Conflict),  // failed edge cloud can only be deleted
    ("IEC.010203", CodeClass::Conflict),  // instance still creating cannot be deleted
    ("IEC.010406", CodeClass::Conflict),  // resource not running: cannot update
    ("IEC.010910", CodeClass::Quota),     // quota is not enough to deploy
    ("IEC.011018", CodeClass::Capacity),  // no available location
    ("IEC.020008", CodeClass::InUse),     // subnet used by compute / LB
    ("IEC.020009", CodeClass::InUse),     // subnet used by VIP
    ("IEC.020014", CodeClass::InUse),     // subnet used by private IP
    ("IEC.020306", CodeClass::Quota),     // max rules per security group
    ("IEC.020401", CodeClass::Quota),     // edge net quota not enough
    ("IEC.020610", CodeClass::Conflict),  // VIP bound to one server only
    ("IEC.020612", CodeClass::Conflict),  // VIP already bound to bandwidth
    ("IEC.020614", CodeClass::Conflict),  // VIP not bound (cannot unbind)
    ("IEC.020615", CodeClass::Conflict),  // VIP already bound to a port
    ("IEC.020616", CodeClass::Conflict),  // IP address in use
    ("IEC.020617", CodeClass::Quota),     // no more IP addresses
    ("IEC.020708", CodeClass::Conflict),  // EIP still creating
    ("IEC.020712", CodeClass::InUse),     // EIP bound to a port
    ("IEC.020713", CodeClass::Quota),     // no available line
    ("IEC.020716", CodeClass::Conflict),  // EIP address in use
    ("IEC.020717", CodeClass::Quota),     // EIP pool exhausted
    ("IEC.020810", CodeClass::Unauthorized), // bandwidth frozen (arrears)
    ("IEC.020817", CodeClass::Quota),     // bandwidth size quota
    ("IEC.010101", CodeClass::Conflict),  // plan/edge cloud mismatch or too many open plans
    // "contact support" 400s of internal operations are transient server-side failures.
    ("IEC.020000", CodeClass::Transient),
    ("IEC.020004", CodeClass::Transient),
    ("IEC.020006", CodeClass::Transient),
    ("IEC.020012", CodeClass::Transient),
    ("IEC.020100", CodeClass::Transient),
    ("IEC.020102", CodeClass::Transient),
    ("IEC.020103", CodeClass::Transient),
    ("IEC.020108", CodeClass::Transient),
    ("IEC.020111", CodeClass::Transient),
    ("IEC.020112", CodeClass::Transient),
    ("IEC.020200", CodeClass::Transient),
    ("IEC.020201", CodeClass::Transient),
    ("IEC.020202", CodeClass::Transient),
    ("IEC.020203", CodeClass::Transient),
    ("IEC.020300", CodeClass::Transient),
    ("IEC.020301", CodeClass::Transient),
    ("IEC.020302", CodeClass::Transient),
    ("IEC.020303", CodeClass::Transient),
    ("IEC.020405", CodeClass::Transient),
    ("IEC.020600", CodeClass::Transient),
    ("IEC.020601", CodeClass::Transient),
    ("IEC.020602", CodeClass::Transient),
    ("IEC.020603", CodeClass::Transient),
    ("IEC.020604", CodeClass::Transient),
    ("IEC.020605", CodeClass::Transient),
    ("IEC.020606", CodeClass::Transient),
    ("IEC.020700", CodeClass::Transient),
    ("IEC.020701", CodeClass::Transient),
    ("IEC.020703", CodeClass::Transient),
    ("IEC.020704", CodeClass::Transient),
    ("IEC.020705", CodeClass::Transient),
    ("IEC.020801", CodeClass::Transient),
    ("IEC.020803", CodeClass::Transient),
    ("IEC.010227", CodeClass::Transient),
    // 401/403.
    ("IEC.000002", CodeClass::Unauthorized),
    ("IEC.000003", CodeClass::Unauthorized),
    ("IEC.000004", CodeClass::Unauthorized),
    ("IEC.000005", CodeClass::Unauthorized),
    ("IEC.000009", CodeClass::Unauthorized),
    // 404 quirk: deleting the default security group is a conflict, not "gone".
    ("IEC.020311", CodeClass::Conflict),
    // 409 that is a validation error.
    ("IEC.020305", CodeClass::Invalid),
    // 409s: in use vs conflict.
    ("IEC.020113", CodeClass::InUse),    // vpc contains subnets
    ("IEC.010008", CodeClass::Conflict), // edge cloud name exists
    ("IEC.010222", CodeClass::Conflict), // change-OS in wrong state
    ("IEC.020007", CodeClass::Conflict), // subnet cidr conflict
    ("IEC.020105", CodeClass::Conflict), // vpc name exists
    // 500 quirks.
    ("IEC.020913", CodeClass::InUse),    // ACL still bound to subnets
    ("IEC.020914", CodeClass::Conflict), // subnet already bound to another ACL
    ("IEC.010226", CodeClass::Invalid),  // add key pair failed (doc: check params)
];

/// Codes meaning "the token is bad; log in again and retry once".
pub const TOKEN_REFRESH_CODES: &[&str] = &["IEC.000003", "IEC.000004"];

/// The class of an IEC answer: [`CODE_TABLE`], then the gateway's codes, then the HTTP status. A 5xx is
/// transient unless a table says otherwise (IEC.020913 "ACL bound to subnets" is in use, as a 500).
pub fn classify(status: u16, code: Option<&str>) -> CodeClass {
    crate::provider::error::classify(&[CODE_TABLE, GATEWAY_CODES], status, code)
}

/// The [`ProviderError`] of a failed IEC (or IAM) answer: the Huawei error body read against
/// [`CODE_TABLE`].
pub fn from_failure(f: Failure<'_>) -> ProviderError {
    huawei::from_failure(CODE_TABLE, f)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Every code of the reference's error appendix with its HTTP status and the class we expect.
    const APPENDIX: &[(u16, &str, CodeClass)] = &[
        (400, "IEC.000000", CodeClass::Transient),
        (400, "IEC.000006", CodeClass::Invalid),
        (400, "IEC.000007", CodeClass::Invalid),
        (400, "IEC.000008", CodeClass::Invalid),
        (400, "IEC.000010", CodeClass::Invalid),
        (400, "IEC.000030", CodeClass::Invalid),
        (400, "IEC.000031", CodeClass::Invalid),
        (400, "IEC.010002", CodeClass::Conflict),
        (400, "IEC.010004", CodeClass::Invalid),
        (400, "IEC.010005", CodeClass::Invalid),
        (400, "IEC.010009", CodeClass::Conflict),
        (400, "IEC.010010", CodeClass::Invalid),
        (400, "IEC.010020", CodeClass::Invalid),
        (400, "IEC.010101", CodeClass::Conflict),
        (400, "IEC.010203", CodeClass::Conflict),
        (400, "IEC.010210", CodeClass::Invalid),
        (400, "IEC.010221", CodeClass::Invalid),
        (400, "IEC.010223", CodeClass::Invalid),
        (400, "IEC.010224", CodeClass::Invalid),
        (400, "IEC.010225", CodeClass::Invalid),
        (400, "IEC.010227", CodeClass::Transient),
        (400, "IEC.010229", CodeClass::Invalid),
        (400, "IEC.010303", CodeClass::Invalid),
        (400, "IEC.010401", CodeClass::Invalid),
        (400, "IEC.010406", CodeClass::Conflict),
        (400, "IEC.010410", CodeClass::Invalid),
        (400, "IEC.010603", CodeClass::Invalid),
        (400, "IEC.010641", CodeClass::Invalid),
        (400, "IEC.010700", CodeClass::Invalid),
        (400, "IEC.010800", CodeClass::Invalid),
        (400, "IEC.010900", CodeClass::Invalid),
        (400, "IEC.010910", CodeClass::Quota),
        (400, "IEC.011018", CodeClass::Capacity),
        (400, "IEC.020000", CodeClass::Transient),
        (400, "IEC.020004", CodeClass::Transient),
        (400, "IEC.020006", CodeClass::Transient),
        (400, "IEC.020008", CodeClass::InUse),
        (400, "IEC.020009", CodeClass::InUse),
        (400, "IEC.020010", CodeClass::Invalid),
        (400, "IEC.020012", CodeClass::Transient),
        (400, "IEC.020013", CodeClass::Invalid),
        (400, "IEC.020014", CodeClass::InUse),
        (400, "IEC.020100", CodeClass::Transient),
        (400, "IEC.020102", CodeClass::Transient),
        (400, "IEC.020103", CodeClass::Transient),
        (400, "IEC.020107", CodeClass::Invalid),
        (400, "IEC.020108", CodeClass::Transient),
        (400, "IEC.020111", CodeClass::Transient),
        (400, "IEC.020112", CodeClass::Transient),
        (400, "IEC.020114", CodeClass::Invalid),
        (400, "IEC.020115", CodeClass::Invalid),
        (400, "IEC.020200", CodeClass::Transient),
        (400, "IEC.020201", CodeClass::Transient),
        (400, "IEC.020202", CodeClass::Transient),
        (400, "IEC.020203", CodeClass::Transient),
        (400, "IEC.020300", CodeClass::Transient),
        (400, "IEC.020301", CodeClass::Transient),
        (400, "IEC.020302", CodeClass::Transient),
        (400, "IEC.020303", CodeClass::Transient),
        (400, "IEC.020306", CodeClass::Quota),
        (400, "IEC.020307", CodeClass::Invalid),
        (400, "IEC.020308", CodeClass::Invalid),
        (400, "IEC.020310", CodeClass::Invalid),
        (400, "IEC.020401", CodeClass::Quota),
        (400, "IEC.020403", CodeClass::Invalid),
        (400, "IEC.020405", CodeClass::Transient),
        (400, "IEC.020409", CodeClass::Invalid),
        (400, "IEC.020600", CodeClass::Transient),
        (400, "IEC.020601", CodeClass::Transient),
        (400, "IEC.020602", CodeClass::Transient),
        (400, "IEC.020603", CodeClass::Transient),
        (400, "IEC.020604", CodeClass::Transient),
        (400, "IEC.020605", CodeClass::Transient),
        (400, "IEC.020606", CodeClass::Transient),
        (400, "IEC.020608", CodeClass::Invalid),
        (400, "IEC.020609", CodeClass::Invalid),
        (400, "IEC.020610", CodeClass::Conflict),
        (400, "IEC.020611", CodeClass::Invalid),
        (400, "IEC.020612", CodeClass::Conflict),
        (400, "IEC.020613", CodeClass::Invalid),
        (400, "IEC.020614", CodeClass::Conflict),
        (400, "IEC.020615", CodeClass::Conflict),
        (400, "IEC.020616", CodeClass::Conflict),
        (400, "IEC.020617", CodeClass::Quota),
        (400, "IEC.020618", CodeClass::Invalid),
        (400, "IEC.020700", CodeClass::Transient),
        (400, "IEC.020701", CodeClass::Transient),
        (400, "IEC.020702", CodeClass::Invalid),
        (400, "IEC.020703", CodeClass::Transient),
        (400, "IEC.020704", CodeClass::Transient),
        (400, "IEC.020705", CodeClass::Transient),
        (400, "IEC.020707", CodeClass::Invalid),
        (400, "IEC.020708", CodeClass::Conflict),
        (400, "IEC.020711", CodeClass::Invalid),
        (400, "IEC.020712", CodeClass::InUse),
        (400, "IEC.020713", CodeClass::Quota),
        (400, "IEC.020714", CodeClass::Invalid),
        (400, "IEC.020715", CodeClass::Invalid),
        (400, "IEC.020716", CodeClass::Conflict),
        (400, "IEC.020717", CodeClass::Quota),
        (400, "IEC.020718", CodeClass::Invalid),
        (400, "IEC.020801", CodeClass::Transient),
        (400, "IEC.020803", CodeClass::Transient),
        (400, "IEC.020804", CodeClass::Invalid),
        (400, "IEC.020809", CodeClass::Invalid),
        (400, "IEC.020810", CodeClass::Unauthorized),
        (400, "IEC.020817", CodeClass::Quota),
        (400, "IEC.020819", CodeClass::Invalid),
        (400, "IEC.020909", CodeClass::Invalid),
        (400, "IEC.020910", CodeClass::Invalid),
        (400, "IEC.020911", CodeClass::Invalid),
        (400, "IEC.020915", CodeClass::Invalid),
        (400, "IEC.020916", CodeClass::Invalid),
        (400, "IEC.020917", CodeClass::Invalid),
        (401, "IEC.000002", CodeClass::Unauthorized),
        (401, "IEC.000003", CodeClass::Unauthorized),
        (401, "IEC.000004", CodeClass::Unauthorized),
        (401, "IEC.000009", CodeClass::Unauthorized),
        (403, "IEC.000005", CodeClass::Unauthorized),
        (404, "IEC.000022", CodeClass::NotFound),
        (404, "IEC.010000", CodeClass::NotFound),
        (404, "IEC.010100", CodeClass::NotFound),
        (404, "IEC.010200", CodeClass::NotFound),
        (404, "IEC.010220", CodeClass::NotFound),
        (404, "IEC.010307", CodeClass::NotFound),
        (404, "IEC.010560", CodeClass::NotFound),
        (404, "IEC.011010", CodeClass::NotFound),
        (404, "IEC.020003", CodeClass::NotFound),
        (404, "IEC.020104", CodeClass::NotFound),
        (404, "IEC.020204", CodeClass::NotFound),
        (404, "IEC.020304", CodeClass::NotFound),
        (404, "IEC.020311", CodeClass::Conflict),
        (404, "IEC.020607", CodeClass::NotFound),
        (404, "IEC.020706", CodeClass::NotFound),
        (404, "IEC.020811", CodeClass::NotFound),
        (404, "IEC.020903", CodeClass::NotFound),
        (404, "IEC.030201", CodeClass::NotFound),
        (404, "IEC.030202", CodeClass::NotFound),
        (409, "IEC.010008", CodeClass::Conflict),
        (409, "IEC.010222", CodeClass::Conflict),
        (409, "IEC.020007", CodeClass::Conflict),
        (409, "IEC.020105", CodeClass::Conflict),
        (409, "IEC.020113", CodeClass::InUse),
        (409, "IEC.020305", CodeClass::Invalid),
        (500, "IEC.000001", CodeClass::Transient),
        (500, "IEC.010226", CodeClass::Invalid),
        (500, "IEC.010228", CodeClass::Transient),
        (500, "IEC.010230", CodeClass::Transient),
        (500, "IEC.020001", CodeClass::Transient),
        (500, "IEC.020101", CodeClass::Transient),
        (500, "IEC.020206", CodeClass::Transient),
        (500, "IEC.020901", CodeClass::Transient),
        (500, "IEC.020902", CodeClass::Transient),
        (500, "IEC.020904", CodeClass::Transient),
        (500, "IEC.020905", CodeClass::Transient),
        (500, "IEC.020906", CodeClass::Transient),
        (500, "IEC.020907", CodeClass::Transient),
        (500, "IEC.020912", CodeClass::Transient),
        (500, "IEC.020913", CodeClass::InUse),
        (500, "IEC.020914", CodeClass::Conflict),
        (500, "IEC.030002", CodeClass::Transient),
        (429, "APIG.0308", CodeClass::Throttled),
        (429, "APIGW.0308", CodeClass::Throttled),
        (401, "APIGW.0301", CodeClass::Unauthorized),
        (401, "APIG.0303", CodeClass::Unauthorized),
        (404, "APIGW.0101", CodeClass::Invalid),
        (413, "APIGW.0201", CodeClass::Invalid),
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
            (404, None, CodeClass::NotFound, "plain 404"),
            (
                429,
                Some("SOMETHING"),
                CodeClass::Throttled,
                "any 429 is throttling",
            ),
            (503, None, CodeClass::Transient, "5xx is transient"),
            (
                400,
                Some("IEC.999999"),
                CodeClass::Invalid,
                "unknown 400 is invalid",
            ),
            (401, None, CodeClass::Unauthorized, "401 without body"),
            (409, Some("X"), CodeClass::Conflict, "unknown 409"),
        ];
        for (status, code, want, reason) in cases {
            assert_eq!(classify(status, code), want, "{reason}");
        }
    }

    #[test]
    fn provider_error_carries_everything_but_secrets() {
        let e = from_failure(Failure {
            operation: "iec.vpc.list",
            status: 429,
            request_id: Some("r-1".into()),
            retry_after: Some(Duration::from_secs(2)),
            body: br#"{"error_code":"APIG.0308","error_msg":"The throttling threshold has been reached"}"#,
        });
        assert_eq!(e.category(), "Throttled");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        assert!(
            e.to_string().contains("APIG.0308") && e.to_string().contains("r-1"),
            "{e}"
        );
    }
}
