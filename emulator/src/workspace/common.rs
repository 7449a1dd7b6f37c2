//! Helpers shared by the Workspace routes: the [`Json`] body extractor with Workspace's 400 codes,
//! list paging (`offset` ≥ 0, `limit` 1–100, default 10), the time format of every `*_time` field,
//! tag validation and request-field checks.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::core::error::ApiError;
use crate::core::extract::{BodyError, parse_json};
use crate::core::paging::QueryParams;
use crate::workspace::errors;

/// A JSON request body: empty → 400 `WKS.0001`; not JSON or the wrong shape → 400 `WKS.00211102`.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| errors::empty_body())?;
        decode(&bytes).map(Json)
    }
}

/// Decodes a body with the mapping of [`Json`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    parse_json(bytes).map_err(|e| match e {
        BodyError::Empty => errors::empty_body(),
        BodyError::Malformed(m) => errors::invalid("body", format!("not JSON: {m}")),
        BodyError::Invalid(m) => errors::invalid("body", m),
    })
}

/// A resolved page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Items to skip.
    pub offset: usize,
    /// Items to return.
    pub limit: usize,
}

impl Page {
    /// `offset` (default 0, ≥ 0) and `limit` (default 10, 1–100) from the query; out of range → 400.
    pub fn from_query(q: &QueryParams) -> Result<Page, ApiError> {
        let bad = |k: &str| errors::invalid(k, "must be an integer");
        let offset = q.get_i64("offset", bad)?.unwrap_or(0);
        let limit = q.get_i64("limit", bad)?.unwrap_or(10);
        if offset < 0 {
            return Err(errors::invalid("offset", "must be at least 0"));
        }
        if !(1..=100).contains(&limit) {
            return Err(errors::invalid("limit", "must be within 1..100"));
        }
        Ok(Page {
            offset: usize::try_from(offset).unwrap_or(usize::MAX),
            limit: usize::try_from(limit).unwrap_or(100),
        })
    }

    /// `(count, page)` of `items`.
    pub fn apply<T>(&self, items: impl Iterator<Item = T>) -> (usize, Vec<T>) {
        let mut count = 0usize;
        let mut out = Vec::new();
        for item in items {
            if count >= self.offset && out.len() < self.limit {
                out.push(item);
            }
            count += 1;
        }
        (count, out)
    }
}

/// A boolean query parameter (`true`/`false`); anything else → 400.
pub fn query_bool(q: &QueryParams, key: &str) -> Result<Option<bool>, ApiError> {
    q.get_bool(key, |k| errors::invalid(k, "must be true or false"))
}

/// Epoch milliseconds as `2023-06-06T14:14:36.416Z`, the API's time format.
pub fn time(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(0))
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// A tag (`TmsTag`): `key` 1–128 characters, `value` at most 255.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value (absent = no value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Most tags a server group carries.
pub const MAX_TAGS: usize = 20;

/// Checks a tag list: each key 1–128 characters, value ≤ 255, keys unique, at most [`MAX_TAGS`].
pub fn check_tags(field: &str, tags: &[Tag]) -> Result<(), ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(errors::invalid(field, format!("at most {MAX_TAGS} tags")));
    }
    let mut seen = std::collections::BTreeSet::new();
    for t in tags {
        let n = t.key.chars().count();
        if n == 0 || n > 128 {
            return Err(errors::invalid(field, "a tag key has 1 to 128 characters"));
        }
        if t.value.as_deref().is_some_and(|v| v.chars().count() > 255) {
            return Err(errors::invalid(field, "a tag value has at most 255 characters"));
        }
        if !seen.insert(t.key.as_str()) {
            return Err(errors::invalid(field, format!("duplicate tag key {:?}", t.key)));
        }
    }
    Ok(())
}

/// A required string field: absent or empty → 400 naming it.
pub fn required<'a>(field: &str, v: &'a Option<String>) -> Result<&'a str, ApiError> {
    match v.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(errors::invalid(field, "is required")),
    }
}

/// An optional string field: empty counts as absent.
pub fn optional(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// True for a CJK unified ideograph.
pub fn is_chinese(c: char) -> bool {
    ('\u{4e00}'..='\u{9fa5}').contains(&c)
}

/// A server-group name: 1–64 characters of letters, digits, Chinese, `_` and `-`.
pub fn check_group_name(name: &str) -> Result<(), ApiError> {
    let n = name.chars().count();
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || is_chinese(c) || c == '_' || c == '-');
    if n == 0 || n > 64 || !ok_chars {
        return Err(errors::invalid(
            "name",
            "1 to 64 characters of letters, digits, Chinese characters, '_' and '-'",
        ));
    }
    Ok(())
}

/// At most `max` characters.
pub fn check_len(field: &str, v: &str, max: usize) -> Result<(), ApiError> {
    if v.chars().count() > max {
        return Err(errors::invalid(field, format!("at most {max} characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> QueryParams {
        QueryParams::from_uri(&format!("/x?{s}").parse().unwrap())
    }

    #[test]
    fn paging_bounds_and_time_format() {
        assert_eq!(Page::from_query(&q("")).unwrap(), Page { offset: 0, limit: 10 });
        assert_eq!(
            Page::from_query(&q("offset=3&limit=100")).unwrap(),
            Page {
                offset: 3,
                limit: 100
            }
        );
        for bad in ["limit=0", "limit=101", "offset=-1", "limit=x"] {
            assert_eq!(
                Page::from_query(&q(bad)).unwrap_err().code,
                "WKS.00211102",
                "{bad}"
            );
        }
        let p = Page { offset: 1, limit: 2 };
        assert_eq!(p.apply(0..5), (5, vec![1, 2]));
        assert_eq!(time(1_686_060_876_416), "2023-06-06T14:14:36.416Z");
    }

    #[test]
    fn names_and_tags() {
        assert!(check_group_name("APIExplore测试应用服务器组").is_ok());
        assert!(check_group_name("ApiExpirezSr5_20230606221433888186").is_ok());
        assert!(check_group_name("").is_err());
        assert!(check_group_name("a b").is_err());
        assert!(check_group_name(&"x".repeat(65)).is_err());
        let t = |k: &str| Tag {
            key: k.into(),
            value: Some("v".into()),
        };
        assert!(check_tags("tags", &[t("a"), t("b")]).is_ok());
        assert!(check_tags("tags", &[t("a"), t("a")]).is_err());
        assert!(check_tags("tags", &[t("")]).is_err());
        let many: Vec<Tag> = (0..21).map(|i| t(&format!("k{i}"))).collect();
        assert!(check_tags("tags", &many).is_err());
    }
}
