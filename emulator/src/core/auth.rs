//! Authentication, Huawei-Cloud style but cloud-neutral in code:
//!
//! * **AK/SK** `SDK-HMAC-SHA256` signing ([`sign`], [`canonical_request`]) and verification
//!   ([`verify_aksk`]): the verifier re-derives the canonical request from the `SignedHeaders` list
//!   the client sent, so both the SDK form (`host;x-sdk-date`) and the API-gateway form
//!   (`content-type;host;x-sdk-date`) verify. Failures are gateway errors (401 `APIGW.0301`).
//! * **IAM tokens**: `POST /v3/auth/tokens` (password method) issues a token in `X-Subject-Token`,
//!   valid 24 h on the emulator clock; [`TokenStore::check`] classifies presented tokens into
//!   [`TokenError`]s, which each cloud maps to its own codes (IEC: `IEC.000002/3/4/9`).
//! * The credential configuration ([`Account`], [`User`], [`AccessKey`]).

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use axum::http::header;

use crate::core::app::AppState;
use crate::core::error::ApiError;

/// Token lifetime: 24 hours.
pub const TOKEN_TTL_MS: u64 = 24 * 3600 * 1000;
/// Largest accepted distance between `X-Sdk-Date` and the wall clock: 15 minutes.
pub const MAX_SKEW_SECS: i64 = 15 * 60;
/// The signing algorithm name.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// One cloud account (Huawei "domain") with its IAM users and access keys.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Account (domain) id, 32 hex chars in Huawei Cloud.
    pub domain_id: String,
    /// Account (domain) name used in IAM password authentication.
    pub domain_name: String,
    /// IAM users that can obtain tokens.
    #[serde(default)]
    pub users: Vec<User>,
    /// AK/SK pairs accepted for signed requests.
    #[serde(default)]
    pub access_keys: Vec<AccessKey>,
    /// IAM projects (one per region in Huawei Cloud); empty = one project named
    /// [`DEFAULT_PROJECT_NAME`] with an id derived from the domain id (see [`Account::projects`]).
    #[serde(default)]
    pub projects: Vec<Project>,
}

/// The region whose project every account has when its config lists none.
pub const DEFAULT_PROJECT_NAME: &str = "cn-north-4";

/// An IAM project (Huawei: one per region, named after it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Project id, 32 hex chars (derived from the domain id and the name when empty).
    #[serde(default)]
    pub id: String,
    /// Project name, e.g. `cn-north-4`.
    pub name: String,
}

impl Account {
    /// The account's projects with their ids filled in: the configured ones, or the default
    /// [`DEFAULT_PROJECT_NAME`] project. A missing id is `uuid5(OID, "<domain_id>/<name>")` as 32 hex
    /// chars, so it is stable across restarts and equal to what a project-scoped token carries.
    pub fn projects(&self) -> Vec<Project> {
        let configured = if self.projects.is_empty() {
            vec![Project {
                id: String::new(),
                name: DEFAULT_PROJECT_NAME.into(),
            }]
        } else {
            self.projects.clone()
        };
        configured
            .into_iter()
            .map(|p| Project {
                id: if p.id.is_empty() {
                    derived_project_id(&self.domain_id, &p.name)
                } else {
                    p.id
                },
                name: p.name,
            })
            .collect()
    }
}

/// The id of project `name` of domain `domain_id` when the config gives none.
pub fn derived_project_id(domain_id: &str, name: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("{domain_id}/{name}").as_bytes(),
    )
    .simple()
    .to_string()
}

/// An IAM user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// User id (defaults to a value derived from the name when empty).
    #[serde(default)]
    pub id: String,
    /// User name.
    pub name: String,
    /// Password (never logged; redacted from `GET /_emulator/config`).
    pub password: String,
}

/// An access key pair.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    /// The access key id (AK).
    pub access_key: String,
    /// The secret key (SK); never logged; redacted from `GET /_emulator/config`.
    pub secret_key: String,
}

/// Who made a request, attached to the request extensions by the ingress middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Account id; all state access is scoped to it.
    pub domain_id: String,
    /// Account name.
    pub domain_name: String,
    /// User id (AK/SK requests use the access key as user id).
    pub user_id: String,
    /// User name (or the access key).
    pub user_name: String,
}

/// Why a presented token was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No `X-Auth-Token` header.
    #[error("token missing")]
    Missing,
    /// Unknown or malformed token.
    #[error("token invalid")]
    Invalid,
    /// Token past its expiry.
    #[error("token expired")]
    Expired,
    /// Token is not domain-scoped (project-scoped or unscoped).
    #[error("token is not domain-scoped")]
    NotDomainScoped,
}

#[derive(Debug, Clone)]
struct TokenInfo {
    principal: Principal,
    expires_ms: u64,
    domain_scoped: bool,
}

/// Issued tokens (in memory only; clients re-authenticate after an emulator restart).
#[derive(Debug, Default)]
pub struct TokenStore {
    tokens: Mutex<HashMap<String, TokenInfo>>,
}

impl TokenStore {
    /// Issues a token for `principal`, returning `(token, expires_ms)`.
    pub fn issue(&self, principal: Principal, domain_scoped: bool, now_ms: u64) -> (String, u64) {
        let token = crate::core::ids::token();
        let expires_ms = now_ms + TOKEN_TTL_MS;
        let mut map = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, t| t.expires_ms > now_ms);
        map.insert(
            token.clone(),
            TokenInfo {
                principal,
                expires_ms,
                domain_scoped,
            },
        );
        (token, expires_ms)
    }

    /// Checks a presented token of any scope (IAM accepts project-scoped and unscoped tokens too).
    pub fn check_any(&self, token: Option<&str>, now_ms: u64) -> Result<Principal, TokenError> {
        self.live(token, now_ms).map(|(principal, _)| principal)
    }

    /// Checks a presented token: it must be domain-scoped (what the IEC API accepts).
    pub fn check(&self, token: Option<&str>, now_ms: u64) -> Result<Principal, TokenError> {
        match self.live(token, now_ms)? {
            (principal, true) => Ok(principal),
            (_, false) => Err(TokenError::NotDomainScoped),
        }
    }

    /// The principal of a presented, known and unexpired token, and whether it is domain-scoped.
    fn live(&self, token: Option<&str>, now_ms: u64) -> Result<(Principal, bool), TokenError> {
        let token = token
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(TokenError::Missing)?;
        let map = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let info = map.get(token).ok_or(TokenError::Invalid)?;
        if info.expires_ms <= now_ms {
            return Err(TokenError::Expired);
        }
        Ok((info.principal.clone(), info.domain_scoped))
    }
}

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
        .ok_or_else(|| ApiError::aksk("the access key does not exist"))?;
    let date =
        header(input.headers, "x-sdk-date").ok_or_else(|| ApiError::aksk("x-sdk-date header is missing"))?;
    let parsed = chrono::NaiveDateTime::parse_from_str(date.trim(), "%Y%m%dT%H%M%SZ")
        .map_err(|_| ApiError::aksk("x-sdk-date is not in the format YYYYMMDDTHHMMSSZ"))?;
    let skew = (parsed.and_utc().timestamp() - now_unix_secs).abs();
    if skew > MAX_SKEW_SECS {
        return Err(ApiError::aksk(
            "the request has expired: x-sdk-date differs from the server time by more than 15 minutes",
        ));
    }
    let cr = canonical_request(input, &auth.signed_headers).map_err(ApiError::aksk)?;
    let expected = signature(&key.secret_key, &string_to_sign(date.trim(), &cr));
    if !constant_time_eq(
        expected.as_bytes(),
        auth.signature.to_ascii_lowercase().as_bytes(),
    ) {
        return Err(ApiError::aksk("verify aksk signature fail"));
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
    Some(parsed.map_err(ApiError::aksk).and_then(|parsed| {
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

    #[test]
    fn tokens_expire_and_need_domain_scope() {
        let store = TokenStore::default();
        let p = Principal {
            domain_id: "d".into(),
            domain_name: "n".into(),
            user_id: "u".into(),
            user_name: "u".into(),
        };
        let (tok, exp) = store.issue(p.clone(), true, 1_000);
        assert_eq!(exp, 1_000 + TOKEN_TTL_MS);
        assert_eq!(store.check(Some(&tok), 2_000), Ok(p.clone()));
        assert_eq!(store.check(Some(&tok), exp), Err(TokenError::Expired));
        assert_eq!(store.check(None, 0), Err(TokenError::Missing));
        assert_eq!(store.check(Some("  "), 0), Err(TokenError::Missing));
        assert_eq!(store.check(Some("bogus"), 0), Err(TokenError::Invalid));
        let (proj, _) = store.issue(p, false, 1_000);
        assert_eq!(store.check(Some(&proj), 2_000), Err(TokenError::NotDomainScoped));
    }
}
