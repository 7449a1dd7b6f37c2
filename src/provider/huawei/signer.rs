//! Huawei APIG AK/SK request signing (`SDK-HMAC-SHA256`), as used by IEC, ModelArts and Workspace:
//! canonical request → string to sign → HMAC-SHA256 with the raw secret key. Verified against the three
//! published test vectors (see the tests).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Algorithm name in `Authorization` and the string to sign.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// Header carrying the signing time.
pub const DATE_HEADER: &str = "X-Sdk-Date";
/// `X-Sdk-Date` format (UTC).
pub const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// Percent-encodes per the APIG rules: unreserved `A-Za-z0-9-_.~`, everything else `%XX` upper-case (the
/// pipeline's RFC 3986 encoding, so a wire query and its canonical form agree).
pub use crate::provider::http::encode;

fn decode(s: &str) -> String {
    // Query strings arrive already percent-encoded from `url`; decode so we re-encode canonically.
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Canonical URI: each segment encoded, always ending with `/`.
pub fn canonical_uri(path: &str) -> String {
    let mut out: String = path
        .split('/')
        .map(|seg| encode(&decode(seg)))
        .collect::<Vec<_>>()
        .join("/");
    if !out.starts_with('/') {
        out.insert(0, '/');
    }
    if !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// Canonical query: keys and values encoded, sorted by key then value, joined with `&`.
pub fn canonical_query(query: Option<&str>) -> String {
    let Some(q) = query.filter(|q| !q.is_empty()) else {
        return String::new();
    };
    let mut pairs: Vec<(String, String)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(&decode(k)), encode(&decode(v)))
        })
        .collect();
    pairs.sort();
    pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The parts of a request that are signed. Header names in `headers` may be any case; all listed headers
/// are signed.
#[derive(Debug)]
pub struct SignInput<'a> {
    /// HTTP method, upper-case.
    pub method: &'a str,
    /// URL path (not encoded canonically yet).
    pub path: &'a str,
    /// Raw query string without `?`.
    pub query: Option<&'a str>,
    /// Headers to sign (must include `X-Sdk-Date`; include `host` unless reproducing an SDK vector).
    pub headers: &'a [(&'a str, &'a str)],
    /// Exact body bytes sent.
    pub body: &'a [u8],
}

/// The canonical request string.
pub fn canonical_request(input: &SignInput<'_>) -> (String, String) {
    let mut headers: Vec<(String, String)> = input
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    headers.sort();
    let signed = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let payload = hex::encode(Sha256::digest(input.body));
    let req = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        input.method,
        canonical_uri(input.path),
        canonical_query(input.query),
        canonical_headers,
        signed,
        payload
    );
    (req, signed)
}

type HmacSha256 = Hmac<Sha256>;

/// Signature hex of a request signed at `sdk_date` with `secret_key`; also returns the signed header list.
pub fn signature(input: &SignInput<'_>, sdk_date: &str, secret_key: &str) -> (String, String) {
    let (req, signed) = canonical_request(input);
    let string_to_sign = format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        hex::encode(Sha256::digest(req.as_bytes()))
    );
    let sig = match HmacSha256::new_from_slice(secret_key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(string_to_sign.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC accepts keys of any length; this arm is unreachable in practice.
        Err(_) => String::new(),
    };
    (sig, signed)
}

/// The `Authorization` header value.
pub fn authorization(input: &SignInput<'_>, sdk_date: &str, access_key: &str, secret_key: &str) -> String {
    let (sig, signed) = signature(input, sdk_date, secret_key);
    format!("{ALGORITHM} Access={access_key}, SignedHeaders={signed}, Signature={sig}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_vector() {
        let input = SignInput {
            method: "GET",
            path: "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
            query: Some("limit=2&marker=13551d6b-755d-4757-b956-536f674975c0"),
            headers: &[
                ("Content-Type", "application/json"),
                ("Host", "service.region.example.com"),
                ("X-Sdk-Date", "20191115T033655Z"),
            ],
            body: b"",
        };
        let (req, signed) = canonical_request(&input);
        assert_eq!(signed, "content-type;host;x-sdk-date");
        assert_eq!(
            hex::encode(Sha256::digest(req.as_bytes())),
            "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
        );
        let (sig, _) = signature(
            &input,
            "20191115T033655Z",
            "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
        );
        assert_eq!(
            sig,
            "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
        );
        let auth = authorization(
            &input,
            "20191115T033655Z",
            "QTWAOYTTINDUT2QVKYUC",
            "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
        );
        assert_eq!(
            auth,
            "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, \
             Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
        );
    }

    #[test]
    fn sdk_vector_get() {
        let input = SignInput {
            method: "GET",
            path: "/path",
            query: Some("limit=1"),
            headers: &[("X-Sdk-Date", "20060102T150405Z")],
            body: b"",
        };
        let (sig, signed) = signature(&input, "20060102T150405Z", "SecretKey");
        assert_eq!(signed, "x-sdk-date");
        assert_eq!(
            sig,
            "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"
        );
    }

    #[test]
    fn sdk_vector_post_with_body() {
        let input = SignInput {
            method: "POST",
            path: "/path",
            query: Some("key=value"),
            headers: &[("X-Sdk-Date", "20060102T150405Z")],
            body: b"{\"Name\":\"test\",\"Id\":1}\n",
        };
        let (sig, _) = signature(&input, "20060102T150405Z", "SecretKey");
        assert_eq!(
            sig,
            "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"
        );
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_uri("/v1/vpcs"), "/v1/vpcs/");
        assert_eq!(canonical_uri("/v1/a b"), "/v1/a%20b/");
        assert_eq!(canonical_query(Some("b=2&a=1&a=0")), "a=0&a=1&b=2");
        assert_eq!(canonical_query(Some("name=a%20b")), "name=a%20b");
        assert_eq!(
            canonical_query(Some("fixed_ips=ip_address%3D1.2.3.4")),
            "fixed_ips=ip_address%3D1.2.3.4"
        );
        assert_eq!(canonical_query(None), "");
    }
}
