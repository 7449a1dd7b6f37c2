//! Volcengine `HMAC-SHA256` request signing for veEN (digest §1.2, written from the documented
//! algorithm; the Go SDK's `volcengine/base/sign.go` `Sign4` does the same):
//!
//! 1. headers `X-Date: YYYYMMDD'T'HHMMSS'Z'` (UTC) and `X-Content-Sha256: hex(sha256(body))`;
//! 2. signed headers `content-type;host;x-content-sha256;x-date` (plus `x-security-token` for STS),
//!    lower-case and sorted; `host` as sent (the port only when it is not the scheme's default);
//! 3. canonical request `METHOD\n/\nQUERY\nHEADERS\nSIGNED\nPAYLOAD`: the query's pairs decoded,
//!    RFC 3986-encoded (`%20` for space), sorted by key with the values of one key in request order;
//!    `HEADERS` is `name:trimmed value\n` per signed header, so an empty line precedes `SIGNED`;
//! 4. string to sign `HMAC-SHA256\nX-Date\nYYYYMMDD/region/veenedge/request\nhex(sha256(canonical))`;
//! 5. key `HMAC(HMAC(HMAC(HMAC(SK, YYYYMMDD), region), "veenedge"), "request")` — the raw secret key,
//!    no prefix; signature `hex(HMAC(key, string to sign))`;
//! 6. `Authorization: HMAC-SHA256 Credential=AK/scope, SignedHeaders=…, Signature=…`.
//!
//! The known-answer tests were computed independently (Python `hmac`/`hashlib`) from the steps
//! above; the client tests send signed calls to the emulator, whose verifier is separate code.

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use reqwest::RequestBuilder;
use sha2::{Digest, Sha256};

use crate::provider::error::ProviderError;
use crate::provider::http::{Authenticate, HttpResult, Outgoing, encode, host_header};
use crate::provider::settings::SecretString;

/// Algorithm name.
pub const ALGORITHM: &str = "HMAC-SHA256";
/// Service name in the credential scope.
pub const SERVICE: &str = "veenedge";
/// The region veEN's docs say to sign with (the service is global).
pub const DEFAULT_REGION: &str = "cn-north-1";
/// `X-Date` format (UTC).
pub const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// What the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignInput<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The URL path (veEN: `/`).
    pub path: &'a str,
    /// The encoded query without `?`.
    pub query: Option<&'a str>,
    /// `Host` as sent.
    pub host: &'a str,
    /// `Content-Type` as sent.
    pub content_type: &'a str,
    /// `X-Security-Token` (STS), if any.
    pub security_token: Option<&'a str>,
    /// The exact body bytes.
    pub body: &'a [u8],
}

/// The headers a signed request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// `X-Date`.
    pub x_date: String,
    /// `X-Content-Sha256`.
    pub content_sha256: String,
    /// `Authorization`.
    pub authorization: String,
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The canonical query: pairs decoded, re-encoded, sorted by key (stable).
pub fn canonical_query(query: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(&decode(k)), encode(&decode(v)))
        })
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical URI: each path segment encoded; empty → `/`.
pub fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    path.split('/')
        .map(|s| encode(&decode(s)))
        .collect::<Vec<_>>()
        .join("/")
}

/// The canonical request and the signed-header list for `input` at `x_date`.
pub fn canonical_request(input: &SignInput<'_>, x_date: &str) -> (String, String) {
    let payload = hex::encode(Sha256::digest(input.body));
    let mut headers: Vec<(&str, String)> = vec![
        ("content-type", input.content_type.trim().to_owned()),
        ("host", input.host.trim().to_owned()),
        ("x-content-sha256", payload.clone()),
        ("x-date", x_date.to_owned()),
    ];
    if let Some(t) = input.security_token {
        headers.push(("x-security-token", t.trim().to_owned()));
    }
    headers.sort_by(|a, b| a.0.cmp(b.0));
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed = headers.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(";");
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        input.method.to_ascii_uppercase(),
        canonical_uri(input.path),
        canonical_query(input.query),
        canonical_headers,
        signed,
        payload
    );
    (canonical, signed)
}

/// `YYYYMMDD/region/veenedge/request`.
pub fn credential_scope(x_date: &str, region: &str) -> String {
    format!("{}/{region}/{SERVICE}/request", x_date.get(..8).unwrap_or(x_date))
}

/// `HMAC-SHA256\nX-Date\nscope\nhex(sha256(canonical))`.
pub fn string_to_sign(x_date: &str, scope: &str, canonical: &str) -> String {
    format!(
        "{ALGORITHM}\n{x_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    )
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The signing key: the HMAC chain over the raw secret key.
pub fn signing_key(secret_key: &str, date: &str, region: &str) -> Vec<u8> {
    let k_date = hmac(secret_key.as_bytes(), date);
    let k_region = hmac(&k_date, region);
    let k_service = hmac(&k_region, SERVICE);
    hmac(&k_service, "request")
}

/// Signs `input` at `x_date` with the credentials.
pub fn sign(
    input: &SignInput<'_>,
    x_date: &str,
    access_key: &str,
    secret_key: &str,
    region: &str,
) -> Signature {
    let (canonical, signed) = canonical_request(input, x_date);
    let scope = credential_scope(x_date, region);
    let sts = string_to_sign(x_date, &scope, &canonical);
    let key = signing_key(secret_key, x_date.get(..8).unwrap_or(x_date), region);
    let signature = hex::encode(hmac(&key, &sts));
    Signature {
        x_date: x_date.to_owned(),
        content_sha256: hex::encode(Sha256::digest(input.body)),
        authorization: format!(
            "{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
        ),
    }
}

/// AK/SK signing of every pipeline attempt (veEN has no tokens to refresh).
pub struct Signer {
    access_key: String,
    secret_key: SecretString,
    security_token: Option<SecretString>,
    region: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("veen::Signer")
            .field("access_key", &self.access_key)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Signs as `access_key` in `region` (veEN: [`DEFAULT_REGION`]).
    pub fn new(
        access_key: impl Into<String>,
        secret_key: SecretString,
        security_token: Option<SecretString>,
        region: impl Into<String>,
    ) -> Self {
        Self {
            access_key: access_key.into(),
            secret_key,
            security_token,
            region: region.into(),
        }
    }
}

#[async_trait]
impl Authenticate for Signer {
    async fn authenticate(
        &self,
        req: RequestBuilder,
        out: &Outgoing<'_>,
    ) -> HttpResult<(RequestBuilder, Option<SecretString>)> {
        let host = host_header(out.url);
        let input = SignInput {
            method: out.method.as_str(),
            path: out.url.path(),
            query: out.url.query(),
            host: &host,
            content_type: out.content_type,
            security_token: self.security_token.as_ref().map(SecretString::expose),
            body: out.body,
        };
        let x_date = chrono::Utc::now().format(DATE_FORMAT).to_string();
        let s = sign(
            &input,
            &x_date,
            &self.access_key,
            self.secret_key.expose(),
            &self.region,
        );
        let mut req = req
            .header("X-Date", s.x_date)
            .header("X-Content-Sha256", s.content_sha256)
            .header("Authorization", s.authorization);
        if let Some(t) = &self.security_token {
            req = req.header("X-Security-Token", t.expose());
        }
        Ok((req, None))
    }

    async fn refresh(&self, _used: &SecretString, _err: &ProviderError) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// Vector A (Python, from the documented steps): a GET with an encoded comma, a slash, a space
    /// and a repeated key whose values keep their order.
    #[test]
    fn known_answer_get() {
        let input = SignInput {
            method: "GET",
            path: "/",
            query: Some(
                "Action=ListInstances&Version=2021-04-30&cloud_server_identities=cloudserver-a%2Ccloudserver-b\
                 &TagFilters.1.Key=edgefleet.io%2Fuid&instance_names=web%201&instance_names=web+0",
            ),
            host: "veenedge.volcengineapi.com",
            content_type: "application/json",
            security_token: None,
            body: b"",
        };
        let (canonical, signed) = canonical_request(&input, "20240101T000000Z");
        assert_eq!(signed, "content-type;host;x-content-sha256;x-date");
        assert_eq!(
            canonical,
            format!(
                "GET\n/\nAction=ListInstances&TagFilters.1.Key=edgefleet.io%2Fuid&Version=2021-04-30\
                 &cloud_server_identities=cloudserver-a%2Ccloudserver-b&instance_names=web%201&instance_names=web%200\n\
                 content-type:application/json\nhost:veenedge.volcengineapi.com\nx-content-sha256:{EMPTY}\n\
                 x-date:20240101T000000Z\n\ncontent-type;host;x-content-sha256;x-date\n{EMPTY}"
            )
        );
        let scope = credential_scope("20240101T000000Z", DEFAULT_REGION);
        assert_eq!(scope, "20240101/cn-north-1/veenedge/request");
        assert_eq!(
            string_to_sign("20240101T000000Z", &scope, &canonical),
            "HMAC-SHA256\n20240101T000000Z\n20240101/cn-north-1/veenedge/request\n\
             fafcee8adbc14800201729e9d78e20dab5e583ecd52d0193d6398fbcf0aa74be"
        );
        assert_eq!(
            hex::encode(signing_key("SKEXAMPLE", "20240101", DEFAULT_REGION)),
            "09424bc19e56ab9a7092577f0090bd0cff4c73f18876ac071dcc48b66e23ef90"
        );
        let s = sign(
            &input,
            "20240101T000000Z",
            "AKEXAMPLE",
            "SKEXAMPLE",
            DEFAULT_REGION,
        );
        assert_eq!(
            s.authorization,
            "HMAC-SHA256 Credential=AKEXAMPLE/20240101/cn-north-1/veenedge/request, \
             SignedHeaders=content-type;host;x-content-sha256;x-date, \
             Signature=320cc480aee21f2ff324680e12d0b57916220c454cf3e6762c1ffabee637b096"
        );
        assert_eq!(s.content_sha256, EMPTY);
    }

    /// Vector B (Python): a POST with a JSON body to a host with a non-default port.
    #[test]
    fn known_answer_post() {
        let body = br#"{"instance_identities":["veen1"]}"#;
        let input = SignInput {
            method: "POST",
            path: "/",
            query: Some("Action=StartInstances&Version=2021-04-30"),
            host: "127.0.0.1:8080",
            content_type: "application/json",
            security_token: None,
            body,
        };
        let s = sign(
            &input,
            "20261203T170000Z",
            "AKEXAMPLE",
            "SKEXAMPLE",
            DEFAULT_REGION,
        );
        assert_eq!(
            s.content_sha256,
            "2d174a36f4bba3bbaa61248fdd5d515dfb09250fa7034a77857bff9233cec3d4"
        );
        assert_eq!(
            hex::encode(signing_key("SKEXAMPLE", "20261203", DEFAULT_REGION)),
            "86c6cd5aff53456171d18e33f17edd1b3c827fb49522edce490f6bd222227fcc"
        );
        assert!(
            s.authorization
                .ends_with("Signature=7486e7e271933a82e9e8cf36f15ad0236478912f85e1f363d93656b4028ba49c"),
            "{}",
            s.authorization
        );
        // any change to the body, the date or the key changes the signature
        let other = sign(
            &SignInput {
                body: br#"{"instance_identities":["veen2"]}"#,
                ..input
            },
            "20261203T170000Z",
            "AKEXAMPLE",
            "SKEXAMPLE",
            DEFAULT_REGION,
        );
        assert_ne!(other.authorization, s.authorization);
        assert_ne!(
            sign(&input, "20261203T170000Z", "AKEXAMPLE", "SKOTHER", DEFAULT_REGION).authorization,
            s.authorization
        );
    }

    #[test]
    fn security_token_is_signed() {
        let input = SignInput {
            method: "GET",
            path: "",
            query: None,
            host: "h",
            content_type: "application/json",
            security_token: Some("sts"),
            body: b"",
        };
        let (canonical, signed) = canonical_request(&input, "20240101T000000Z");
        assert_eq!(
            signed,
            "content-type;host;x-content-sha256;x-date;x-security-token"
        );
        assert!(canonical.starts_with("GET\n/\n\ncontent-type:application/json\nhost:h\n"));
        assert!(canonical.contains("x-security-token:sts\n\n"));
    }
}
