//! Helpers shared by the IEC families: the [`Json`] body extractor with IEC's 400 codes, the
//! query-error constructors, name/description validators, and list-page rendering.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::core::error::ApiError;
use crate::core::extract::{BodyError, parse_json};
use crate::core::paging::{Page, PageRule, QueryParams};
use crate::iec::errors::Code;

/// A JSON request body. Empty or non-JSON bodies → 400 `IEC.000010`; JSON of the wrong shape
/// (missing field, wrong type, bad enum value) → 400 `IEC.000007` naming the problem.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| Code::E000010.err())?;
        decode(&bytes).map(Json)
    }
}

/// Decodes a body with the IEC error mapping of [`Json`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    parse_json(bytes).map_err(|e| match e {
        BodyError::Empty | BodyError::Malformed(_) => Code::E000010.err(),
        BodyError::Invalid(m) => Code::E000007.msg(&[&m]),
    })
}

/// 400 `IEC.000006` for a bad query parameter.
pub fn bad_query(_key: &str) -> ApiError {
    Code::E000006.err()
}

/// 400 `IEC.020916` for a negative offset.
pub fn negative_offset() -> ApiError {
    Code::E020916.err()
}

/// 400 `IEC.000007` naming a body field.
pub fn bad_field(field: &str, why: &str) -> ApiError {
    Code::E000007.msg(&[&format!("{field}: {why}")])
}

/// Resolves the page of a list request under `rule` with IEC's error codes.
pub fn page(q: &QueryParams, rule: PageRule) -> Result<Page, ApiError> {
    Page::resolve(q, rule, bad_query, negative_offset)
}

/// True for a CJK unified ideograph (the doc's "Chinese" character class).
pub fn is_chinese(c: char) -> bool {
    ('\u{4e00}'..='\u{9fa5}').contains(&c)
}

/// Checks a name: length in characters within `min..=max`, every char a letter/digit/Chinese or
/// one of `extra`.
pub fn valid_name(name: &str, min: usize, max: usize, extra: &[char]) -> bool {
    let n = name.chars().count();
    n >= min
        && n <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || is_chinese(c) || extra.contains(&c))
}

/// Checks a description: at most `max` characters and no `<` or `>`.
pub fn valid_description(d: &str, max: usize) -> bool {
    d.chars().count() <= max && !d.contains(['<', '>'])
}

/// True when `s` is a dashed UUID (any version).
pub fn is_uuid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok() && s.len() == 36
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_descriptions() {
        assert!(valid_name("web_01-边缘", 1, 32, &['-', '_']));
        assert!(!valid_name("", 1, 32, &['-', '_']));
        assert!(!valid_name("a.b", 1, 32, &['-', '_']));
        assert!(valid_name("a.b", 1, 64, &['-', '_', '.']));
        assert!(!valid_name(&"x".repeat(33), 1, 32, &[]));
        assert!(valid_description("ok", 85));
        assert!(!valid_description("<b>", 85));
        assert!(is_uuid("4a6d9663-475f-11eb-aa7c-fa16406a65c4"));
        assert!(!is_uuid("4a6d9663475f11ebaa7cfa16406a65c4"));
        assert!(matches!(
            decode::<u32>(b"{").unwrap_err().code.as_ref(),
            "IEC.000010"
        ));
        assert!(matches!(
            decode::<u32>(b"\"x\"").unwrap_err().code.as_ref(),
            "IEC.000007"
        ));
    }
}
