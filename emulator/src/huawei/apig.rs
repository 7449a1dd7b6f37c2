//! Huawei API-gateway (APIG) request signing, `SDK-HMAC-SHA256`, as IEC, ModelArts and Workspace
//! verify it: signing ([`sign`], [`canonical_request`]) and verification ([`verify_aksk`]). The
//! verifier re-derives the canonical request from the `SignedHeaders` list the client sent, so both the
//! SDK form (`host;x-sdk-date`) and the API-gateway form (`content-type;host;x-sdk-date`) verify.
//! Failures are gateway errors (401 `APIGW.0301`). [`authenticate`] is the Huawei clouds' ingress: a
//! signature if the request carries one, else an IAM `X-Auth-Token` (`super::iam`).

use axum::http::header;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::core::app::AppState;
use crate::core::auth::{Account, Principal, TokenError};
use crate::core::error::ApiError;

/// Largest accepted distance between `X-Sdk-Date` and the wall clock: 15 minutes.
pub const MAX_SKEW_SECS: i64 = 15 * 60;
/// The signing algorithm name.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// The parts of an HTTP request that enter the signature.
#[derive(Debug, Clone)]
pub struct SignInput<'a> {
    /// HTTP method, e.g. `GET`.
    pub method: &'a str,
    /// The raw (possibly percent-encoded) path, e.g. `/v1/vpcs`.
    pub path: &'a str,
    /// The raw query string without `?` (may be empty).
    pub query: &'a str,
    /// Request headers as `(name, value)`; names are matched case-insensitively.
    pub headers: &'a [(String, String)],
    /// The exact body bytes.
    pub body: &'a [u8],
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Percent-encodes everything outside `A-Za-z0-9-_.~` with uppercase hex.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Builds the canonical request for `signed_headers` (lowercase names, `;`-joined order is
/// normalised to sorted). Errors name a signed header missing from the request.
pub fn canonical_request(input: &SignInput<'_>, signed_headers: &[String]) -> Result<String, String> {
    let decode = crate::core::paging::percent_decode;
    let mut uri: String = input
        .path
        .split('/')
        .map(|seg| escape(&decode(&seg.replace('+', "%2B"))))
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    let mut pairs: Vec<(String, String)> = input
        .query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (escape(&decode(k)), escape(&decode(v)))
        })
        .collect();
    pairs.sort();
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut names: Vec<String> = signed_headers
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    names.sort();
    let mut canonical_headers = String::new();
    for name in &names {
        let value = header(input.headers, name).ok_or_else(|| format!("signed header {name} is missing"))?;
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(value.trim());
        canonical_headers.push('\n');
    }
    let payload_hash = match header(input.headers, "x-sdk-content-sha256") {
        Some("UNSIGNED-PAYLOAD") => "UNSIGNED-PAYLOAD".to_string(),
        _ => hex::encode(Sha256::digest(input.body)),
    };
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        input.method.to_ascii_uppercase(),
        uri,
        query,
        canonical_headers,
        names.join(";"),
        payload_hash
    ))
}

/// `SDK-HMAC-SHA256\n{date}\n{hex(sha256(canonical_request))}`.
pub fn string_to_sign(sdk_date: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// `hex(HMAC-SHA256(sk, string_to_sign))`.
pub fn signature(secret_key: &str, string_to_sign: &str) -> String {
    match Hmac::<Sha256>::new_from_slice(secret_key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(string_to_sign.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Signs a request the way the Huawei SDK does: returns the `Authorization` header value. The
/// `X-Sdk-Date` header must already be in `input.headers`.
pub fn sign(
    access_key: &str,
    secret_key: &str,
    input: &SignInput<'_>,
    signed_headers: &[&str],
) -> Result<String, String> {
    let names: Vec<String> = signed_headers.iter().map(|s| s.to_ascii_lowercase()).collect();
    let date = header(input.headers, "x-sdk-date").ok_or("x-sdk-date header is missing")?;
    let cr = canonical_request(input, &names)?;
    let sig = signature(secret_key, &string_to_sign(date, &cr));
    let mut sorted = names.clone();
    sorted.sort();
    Ok(format!(
        "{ALGORITHM} Access={access_key}, SignedHeaders={}, Signature={sig}",
        sorted.join(";")
    ))
}

/// The fields of an `Authorization: SDK-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// The access key.
    pub access: String,
    /// Lowercase signed header names.
    pub signed_headers: Vec<String>,
    /// Hex signature.
    pub signature: String,
}

/// Parses an `Authorization` header value; `None` when it is not an `SDK-HMAC-SHA256` header.
pub fn parse_authorization(value: &str) -> Option<Result<AuthorizationHeader, String>> {
    let rest = value.trim().strip_prefix(ALGORITHM)?;
    let mut access = None;
    let mut signed = None;
    let mut sig = None;
    for part in rest.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            return Some(Err("malformed Authorization header".into()));
        };
        match k.trim() {
            "Access" => access = Some(v.trim().to_string()),
            "SignedHeaders" => {
                signed = Some(
                    v.trim()
                        .split(';')
                        .map(|s| s.trim().to_ascii_lowercase())
                        .collect::<Vec<_>>(),
                )
            }
            "Signature" => sig = Some(v.trim().to_string()),
            _ => {}
        }
    }
    Some(match (access, signed, sig) {
        (Some(access), Some(signed_headers), Some(signature))
            if !access.is_empty() && !signature.is_empty() =>
        {
            Ok(AuthorizationHeader {
                access,
                signed_headers,
                signature,
            })
        }
        _ => Err("Authorization header lacks Access, SignedHeaders or Signature".into()),
    })
}

/// Verifies an AK/SK-signed request against the configured accounts. `now_unix_secs` is the wall
/// clock used for the `X-Sdk-Date` freshness check (±15 minutes).
pub fn verify_aksk(
    accounts: &[Account],
    auth: &AuthorizationHeader,
    input: &SignInput<'_>,
    now_unix_secs: i64,
) -> Result<Principal, ApiError> {
    let (account, key) = accounts
        .iter()
        .find_map(|a| {
            a.access_keys
                .iter()
                .find(|k| k.access_key == auth.access)
                .map(|k| (a, k))
        })
        .ok_or_else(|| crate::huawei::errors::aksk("the access key does not exist"))?;
    let date = header(input.headers, "x-sdk-date")
        .ok_or_else(|| crate::huawei::errors::aksk("x-sdk-date header is missing"))?;
    let parsed = chrono::NaiveDateTime::parse_from_str(date.trim(), "%Y%m%dT%H%M%SZ")
        .map_err(|_| crate::huawei::errors::aksk("x-sdk-date is not in the format YYYYMMDDTHHMMSSZ"))?;
    let skew = (parsed.and_utc().timestamp() - now_unix_secs).abs();
    if skew > MAX_SKEW_SECS {
        return Err(crate::huawei::errors::aksk(
            "the request has expired: x-sdk-date differs from the server time by more than 15 minutes",
        ));
    }
    let cr = canonical_request(input, &auth.signed_headers).map_err(crate::huawei::errors::aksk)?;
    let expected = signature(&key.secret_key, &string_to_sign(date.trim(), &cr));
    if !constant_time_eq(
        expected.as_bytes(),
        auth.signature.to_ascii_lowercase().as_bytes(),
    ) {
        return Err(crate::huawei::errors::aksk("verify aksk signature fail"));
    }
    Ok(Principal {
        domain_id: account.domain_id.clone(),
        domain_name: account.domain_name.clone(),
        user_id: key.access_key.clone(),
        user_name: key.access_key.clone(),
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn header_pairs(req: &axum::http::request::Parts) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = req
        .headers
        .iter()
        .filter_map(|(k, val)| val.to_str().ok().map(|s| (k.as_str().to_string(), s.to_string())))
        .collect();
    if !v.iter().any(|(k, _)| k == "host")
        && let Some(a) = req.uri.authority()
    {
        v.push(("host".into(), a.to_string()));
    }
    v
}

/// Verifies an AK/SK `SDK-HMAC-SHA256` signature; `None` when the request carries none (no
/// `Authorization` header of that algorithm).
pub fn verify_signature(
    app: &AppState,
    parts: &axum::http::request::Parts,
    body: &[u8],
) -> Option<Result<Principal, ApiError>> {
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let parsed = authorization.and_then(parse_authorization)?;
    Some(parsed.map_err(crate::huawei::errors::aksk).and_then(|parsed| {
        let headers = header_pairs(parts);
        let input = SignInput {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &headers,
            body,
        };
        let now = chrono::Utc::now().timestamp();
        verify_aksk(&app.config().accounts, &parsed, &input, now)
    }))
}

/// Authenticates a Huawei API request (IEC, ModelArts, Workspace): an AK/SK signature if it carries
/// one, else the `X-Auth-Token` from IAM; `token_error` gives the cloud's answer for a bad token.
pub fn authenticate(
    app: &AppState,
    parts: &axum::http::request::Parts,
    body: &[u8],
    token_error: fn(TokenError) -> ApiError,
) -> Result<Principal, ApiError> {
    if let Some(signed) = verify_signature(app, parts, body) {
        return signed;
    }
    let token = parts
        .headers
        .get("x-auth-token")
        .map(|v| v.to_str().unwrap_or("\u{0}invalid"));
    app.tokens()
        .check(token, app.clock().now_ms())
        .map_err(token_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::auth::AccessKey;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn apig_doc_test_vector() {
        let headers = h(&[
            ("Content-Type", "application/json"),
            ("Host", "service.region.example.com"),
            ("X-Sdk-Date", "20191115T033655Z"),
        ]);
        let input = SignInput {
            method: "GET",
            path: "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
            query: "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
            headers: &headers,
            body: b"",
        };
        let names: Vec<String> = ["content-type", "host", "x-sdk-date"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let cr = canonical_request(&input, &names).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(cr.as_bytes())),
            "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
        );
        let auth = sign(
            "QTWAOYTTINDUT2QVKYUC",
            "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
            &input,
            &["content-type", "host", "x-sdk-date"],
        )
        .unwrap();
        assert!(
            auth.ends_with("Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"),
            "{auth}"
        );
        assert!(auth.contains("SignedHeaders=content-type;host;x-sdk-date"));
    }

    #[test]
    fn sdk_test_vectors() {
        let headers = h(&[("X-Sdk-Date", "20060102T150405Z")]);
        let get = SignInput {
            method: "GET",
            path: "/path",
            query: "limit=1",
            headers: &headers,
            body: b"",
        };
        let auth = sign("AccessKey", "SecretKey", &get, &["x-sdk-date"]).unwrap();
        assert!(
            auth.ends_with("Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"),
            "{auth}"
        );
        let headers = h(&[
            ("X-Sdk-Date", "20060102T150405Z"),
            ("Content-Type", "application/json"),
        ]);
        let post = SignInput {
            method: "POST",
            path: "/path",
            query: "key=value",
            headers: &headers,
            body: b"{\"Name\":\"test\",\"Id\":1}\n",
        };
        let auth = sign("AccessKey", "SecretKey", &post, &["x-sdk-date"]).unwrap();
        assert!(
            auth.ends_with("Signature=cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"),
            "{auth}"
        );
    }

    fn account() -> Account {
        Account {
            domain_id: "d1".into(),
            domain_name: "dn".into(),
            users: vec![],
            access_keys: vec![AccessKey {
                access_key: "AK1".into(),
                secret_key: "SK1".into(),
            }],
            projects: vec![],
        }
    }

    #[test]
    fn verify_accepts_good_and_rejects_bad_signatures() {
        let date = "20260101T000000Z";
        let now = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
            .unwrap()
            .and_utc()
            .timestamp();
        let headers = h(&[("Host", "127.0.0.1:1"), ("X-Sdk-Date", date)]);
        let input = SignInput {
            method: "POST",
            path: "/v1/vpcs",
            query: "",
            headers: &headers,
            body: b"{}",
        };
        let value = sign("AK1", "SK1", &input, &["host", "x-sdk-date"]).unwrap();
        let parsed = parse_authorization(&value).unwrap().unwrap();
        let accounts = [account()];
        assert_eq!(
            verify_aksk(&accounts, &parsed, &input, now).unwrap().domain_id,
            "d1"
        );
        // tampered body
        let tampered = SignInput {
            body: b"{ }",
            ..input.clone()
        };
        assert_eq!(
            verify_aksk(&accounts, &parsed, &tampered, now).unwrap_err().code,
            "APIGW.0301"
        );
        // stale date
        assert!(verify_aksk(&accounts, &parsed, &input, now + 16 * 60).is_err());
        assert!(verify_aksk(&accounts, &parsed, &input, now + 14 * 60).is_ok());
        // unknown AK
        let other = AuthorizationHeader {
            access: "NOPE".into(),
            ..parsed.clone()
        };
        assert!(
            verify_aksk(&accounts, &other, &input, now)
                .unwrap_err()
                .message
                .contains("access key")
        );
        // signed header missing from request
        let mut fewer = headers.clone();
        fewer.retain(|(k, _)| k != "Host");
        let no_host = SignInput {
            headers: &fewer,
            ..input.clone()
        };
        assert!(
            verify_aksk(&accounts, &parsed, &no_host, now)
                .unwrap_err()
                .message
                .contains("host")
        );
        // malformed headers
        assert!(parse_authorization("Bearer x").is_none());
        assert!(parse_authorization("SDK-HMAC-SHA256 garbage").unwrap().is_err());
        assert!(
            parse_authorization("SDK-HMAC-SHA256 Access=, SignedHeaders=a, Signature=b")
                .unwrap()
                .is_err()
        );
    }
}
