//! Query-string parsing and pagination helpers. IEC list APIs differ: most take an item `offset`,
//! instances and flavors take a page number, images cap `limit` at 500. Families pick the rule; this
//! module implements them and maps bad values to the caller-chosen error.

use axum::http::Uri;

use crate::core::error::ApiError;

/// Parsed query parameters in request order (repeated keys are kept, e.g. `fixed_ips`).
#[derive(Debug, Clone, Default)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Parses the query string of `uri` (percent-decoding keys and values).
    pub fn from_uri(uri: &Uri) -> Self {
        let pairs = uri
            .query()
            .map(|q| {
                q.split('&')
                    .filter(|s| !s.is_empty())
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        (percent_decode(k), percent_decode(v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self { pairs }
    }

    /// The first value of `key` (an empty value counts as absent).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// All values of `key`.
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Comma-separated multi-values of `key`, trimmed, empty entries dropped.
    pub fn get_list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An integer parameter; not an integer → `bad(key)`.
    pub fn get_i64(&self, key: &str, bad: impl Fn(&str) -> ApiError) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| bad(key)),
        }
    }

    /// A boolean parameter (`true`/`false`, case-insensitive); anything else → `bad(key)`.
    pub fn get_bool(&self, key: &str, bad: impl Fn(&str) -> ApiError) -> Result<Option<bool>, ApiError> {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(bad(key)),
        }
    }
}

/// Decodes `%XX` escapes and `+` (as space); invalid escapes are kept literally.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
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

/// How a list API interprets `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetKind {
    /// `offset` counts items (most IEC lists).
    Items,
    /// `offset` is a page number; 0 and 1 both mean the first page (instances, flavors).
    Pages,
}

/// A pagination rule of one list API.
#[derive(Debug, Clone, Copy)]
pub struct PageRule {
    /// Limit used when `limit` is absent or 0.
    pub default_limit: u64,
    /// Largest accepted `limit`; larger values are clamped.
    pub max_limit: u64,
    /// Offset semantics.
    pub offset: OffsetKind,
}

impl PageRule {
    /// Item offset, limit 0..1000, default 1000 (VPCs, subnets, edge clouds, ...).
    pub const ITEMS_1000: PageRule = PageRule {
        default_limit: 1000,
        max_limit: 1000,
        offset: OffsetKind::Items,
    };
}

/// A resolved page: skip `skip` items, return at most `take`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Items to skip.
    pub skip: usize,
    /// Items to return.
    pub take: usize,
}

impl Page {
    /// Resolves `limit`/`offset` from `q` under `rule`. A non-integer → `bad_query`; a negative
    /// offset → `negative_offset`; a negative limit → `bad_query`.
    pub fn resolve(
        q: &QueryParams,
        rule: PageRule,
        bad_query: impl Fn(&str) -> ApiError,
        negative_offset: impl Fn() -> ApiError,
    ) -> Result<Page, ApiError> {
        let limit = q.get_i64("limit", &bad_query)?;
        let offset = q.get_i64("offset", &bad_query)?;
        let take = match limit {
            None | Some(0) => rule.default_limit,
            Some(l) if l < 0 => return Err(bad_query("limit")),
            Some(l) => (l as u64).min(rule.max_limit),
        };
        let offset = match offset {
            None => 0,
            Some(o) if o < 0 => return Err(negative_offset()),
            Some(o) => o as u64,
        };
        let skip = match rule.offset {
            OffsetKind::Items => offset,
            OffsetKind::Pages => offset.saturating_sub(1).saturating_mul(take),
        };
        Ok(Page {
            skip: usize::try_from(skip).unwrap_or(usize::MAX),
            take: take as usize,
        })
    }

    /// Applies the page to an iterator, returning `(total, page_items)`.
    pub fn apply<T>(&self, items: impl Iterator<Item = T>) -> (usize, Vec<T>) {
        let mut total = 0usize;
        let mut out = Vec::new();
        for item in items {
            if total >= self.skip && out.len() < self.take {
                out.push(item);
            }
            total += 1;
        }
        (total, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> QueryParams {
        QueryParams::from_uri(&format!("/x?{s}").parse().unwrap())
    }

    fn bad(k: &str) -> ApiError {
        ApiError::new(axum::http::StatusCode::BAD_REQUEST, "BAD", k.to_string())
    }
    fn neg() -> ApiError {
        ApiError::new(axum::http::StatusCode::BAD_REQUEST, "NEG", "")
    }

    #[test]
    fn query_decoding_and_multi_values() {
        let p =
            q("name=a%20b&fixed_ips=ip_address%3D1.2.3.4&fixed_ips=subnet_id%3Dx&site_ids=a,%20b,,c&bad=%zz");
        assert_eq!(p.get("name"), Some("a b"));
        assert_eq!(p.get_all("fixed_ips"), ["ip_address=1.2.3.4", "subnet_id=x"]);
        assert_eq!(p.get_list("site_ids"), ["a", "b", "c"]);
        assert_eq!(p.get("bad"), Some("%zz"));
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("a%2"), "a%2");
    }

    #[test]
    fn page_rules() {
        let items = 0..10;
        let p = Page::resolve(&q("limit=3&offset=4"), PageRule::ITEMS_1000, bad, neg).unwrap();
        assert_eq!(p.apply(items.clone()), (10, vec![4, 5, 6]));
        let pages = PageRule {
            default_limit: 25,
            max_limit: 1000,
            offset: OffsetKind::Pages,
        };
        let p0 = Page::resolve(&q("limit=3&offset=0"), pages, bad, neg).unwrap();
        let p1 = Page::resolve(&q("limit=3&offset=1"), pages, bad, neg).unwrap();
        let p2 = Page::resolve(&q("limit=3&offset=2"), pages, bad, neg).unwrap();
        assert_eq!(p0, p1);
        assert_eq!(p2.apply(items.clone()).1, vec![3, 4, 5]);
        assert_eq!(
            Page::resolve(&q("offset=-1"), pages, bad, neg).unwrap_err().code,
            "NEG"
        );
        assert_eq!(
            Page::resolve(&q("limit=x"), pages, bad, neg).unwrap_err().code,
            "BAD"
        );
        assert_eq!(
            Page::resolve(&q("limit=-2"), pages, bad, neg).unwrap_err().code,
            "BAD"
        );
        let huge = Page::resolve(&q("limit=99999&offset=99999999999999"), pages, bad, neg).unwrap();
        assert_eq!(huge.take, 1000);
        assert!(huge.apply(items).1.is_empty());
    }
}
