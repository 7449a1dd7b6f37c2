//! Request extraction helpers: the authenticated [`Caller`], and JSON body parsing that turns
//! malformed JSON, wrong types and missing fields into caller-chosen error answers (never a panic,
//! never axum's plain-text rejection).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::core::auth::Principal;
use crate::core::error::ApiError;

/// The authenticated principal of the request (set by the ingress middleware).
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(ApiError::unauthenticated)
    }
}

/// What went wrong while decoding a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The body is empty.
    Empty,
    /// The body is not JSON.
    Malformed(String),
    /// The JSON does not fit the expected shape (wrong type, missing field, bad enum value).
    Invalid(String),
}

/// Decodes `bytes` into `T`, classifying failures.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Empty);
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| BodyError::Malformed(e.to_string()))?;
    serde_json::from_value(value).map_err(|e| BodyError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct T {
        a: u32,
    }

    #[test]
    fn classifies_body_errors() {
        assert_eq!(parse_json::<T>(b" ").unwrap_err(), BodyError::Empty);
        assert!(matches!(
            parse_json::<T>(b"{").unwrap_err(),
            BodyError::Malformed(_)
        ));
        assert!(matches!(
            parse_json::<T>(b"{\"a\":\"x\"}").unwrap_err(),
            BodyError::Invalid(_)
        ));
        assert!(matches!(
            parse_json::<T>(b"{}").unwrap_err(),
            BodyError::Invalid(_)
        ));
        assert!(matches!(
            parse_json::<T>(b"{\"a\":-1}").unwrap_err(),
            BodyError::Invalid(_)
        ));
        assert_eq!(parse_json::<T>(b"{\"a\":1,\"extra\":true}").unwrap().a, 1);
    }
}
