//! Reading veEN request parameters. GET actions take them from the query, POST actions from a JSON
//! body. Keys are matched after lower-casing and dropping `_`, so the SDK's Go field names
//! (`CloudServerID`, `InstanceIdentities`, `VPCIdentities`) and the docs' snake_case
//! (`cloud_server_id`, `instance_identities`, `vpc_identities`) both work (design memo §1.1). JSON
//! `null` counts as absent (the SDK sends unset lists as `null`). Errors name the field with the
//! docs' spelling and 1-based list positions (`instance_area_nums.1.num`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::core::error::ApiError;
use crate::veen::errors::{invalid, missing};

/// The normal form of a key: lower case without `_`.
pub fn norm(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// A tag filter: key and accepted values (none = any value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    /// Tag key.
    pub key: String,
    /// Accepted values; empty matches any value of the key.
    pub values: Vec<String>,
}

/// A tag filter being read: its key and its numbered values.
type FilterParts = (Option<String>, Vec<(u32, String)>);

/// GET parameters.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// From decoded query pairs (as [`crate::core::paging::QueryParams`] yields them).
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self {
            pairs: pairs.into_iter().map(|(k, v)| (norm(&k), v)).collect(),
        }
    }

    /// The first non-empty value of `key`.
    pub fn str(&self, key: &str) -> Option<&str> {
        let k = norm(key);
        self.pairs
            .iter()
            .find(|(pk, v)| *pk == k && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// A required value.
    pub fn req(&self, key: &str) -> Result<&str, ApiError> {
        self.str(key).ok_or_else(|| missing(key))
    }

    /// A list: a comma-joined value of `key` and/or `key.N` entries.
    pub fn list(&self, key: &str) -> Vec<String> {
        let k = norm(key);
        let prefix = format!("{k}.");
        let mut out = Vec::new();
        for (pk, v) in &self.pairs {
            let numbered = pk
                .strip_prefix(&prefix)
                .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()));
            if *pk == k || numbered {
                out.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                );
            }
        }
        out
    }

    /// An integer.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.str(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| invalid(key, "must be an integer")),
        }
    }

    /// A boolean (`true`/`false`).
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.str(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(invalid(key, "must be true or false")),
        }
    }

    /// `TagFilters.N.Key` / `TagFilters.N.Values.M`, in `N` order.
    pub fn tag_filters(&self) -> Result<Vec<TagFilter>, ApiError> {
        let mut by_n: BTreeMap<u32, FilterParts> = BTreeMap::new();
        for (k, v) in &self.pairs {
            let Some(rest) = k.strip_prefix("tagfilters.") else {
                continue;
            };
            let mut it = rest.split('.');
            let n: u32 = it
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| invalid("TagFilters", format!("bad key {k}")))?;
            let entry = by_n.entry(n).or_default();
            match (it.next(), it.next()) {
                (Some("key"), None) => entry.0 = Some(v.clone()),
                (Some("values"), Some(m)) => {
                    let m: u32 = m
                        .parse()
                        .map_err(|_| invalid("TagFilters", format!("bad key {k}")))?;
                    entry.1.push((m, v.clone()));
                }
                (Some("values"), None) => entry.1.push((0, v.clone())),
                _ => return Err(invalid("TagFilters", format!("bad key {k}"))),
            }
        }
        by_n.into_iter()
            .map(|(n, (key, mut values))| {
                let key = key
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| missing(&format!("TagFilters.{n}.Key")))?;
                values.sort_by_key(|(m, _)| *m);
                Ok(TagFilter {
                    key,
                    values: values.into_iter().map(|(_, v)| v).collect(),
                })
            })
            .collect()
    }
}

/// Normalises every object key of a JSON document ([`norm`]).
pub fn normalise(value: Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (norm(&k), normalise(v))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(normalise).collect()),
        v => v,
    }
}

/// A JSON object of a POST body (keys normalised) and its path for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: &'a str,
}

/// An owned path prefix for nested objects.
#[derive(Debug, Clone)]
pub struct Nested<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Nested<'a> {
    /// The object view.
    pub fn obj(&self) -> Obj<'_> {
        Obj {
            map: self.map,
            path: &self.path,
        }
    }
}

impl<'a> Obj<'a> {
    /// The top-level body.
    pub fn root(map: &'a Map<String, Value>) -> Self {
        Self { map, path: "" }
    }

    /// The full name of field `name` for messages.
    pub fn field(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// The (normalised) keys present.
    pub fn keys(&self) -> Vec<String> {
        self.map.keys().cloned().collect()
    }

    /// The value of `name`, `None` when absent or `null`.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(&norm(name)).filter(|v| !v.is_null())
    }

    /// True when `name` is present and not `null`.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A string field.
    pub fn str(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(invalid(&self.field(name), "must be a string")),
        }
    }

    /// A required, non-empty string field.
    pub fn req(&self, name: &str) -> Result<&'a str, ApiError> {
        self.str(name)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing(&self.field(name)))
    }

    /// An integer field (a JSON number without fraction).
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| invalid(&self.field(name), "must be an integer")),
        }
    }

    /// A boolean field.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(invalid(&self.field(name), "must be true or false")),
        }
    }

    /// A nested object field.
    pub fn obj(&self, name: &str) -> Result<Option<Nested<'a>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Nested {
                map: m,
                path: self.field(name),
            })),
            Some(_) => Err(invalid(&self.field(name), "must be an object")),
        }
    }

    /// A list field (absent or `null` = empty).
    pub fn list(&self, name: &str) -> Result<&'a [Value], ApiError> {
        match self.get(name) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a.as_slice()),
            Some(_) => Err(invalid(&self.field(name), "must be a list")),
        }
    }

    /// A list of strings.
    pub fn str_list(&self, name: &str) -> Result<Vec<String>, ApiError> {
        self.list(name)?
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(invalid(
                    &format!("{}.{}", self.field(name), i + 1),
                    "must be a string",
                )),
            })
            .collect()
    }

    /// A list of objects, each with its path (`name.N`).
    pub fn objs(&self, name: &str) -> Result<Vec<Nested<'a>>, ApiError> {
        self.list(name)?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let path = format!("{}.{}", self.field(name), i + 1);
                match v {
                    Value::Object(m) => Ok(Nested { map: m, path }),
                    _ => Err(invalid(&path, "must be an object")),
                }
            })
            .collect()
    }
}

/// A `{Key, Value}` tag as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tag {
    /// Tag key.
    #[serde(rename = "Key")]
    pub key: String,
    /// Tag value.
    #[serde(rename = "Value")]
    pub value: String,
}

/// Reads and validates `Tags` (≤ 50, keys non-empty ≤ 128 characters and unique, values ≤ 256).
pub fn tags(body: Obj<'_>) -> Result<Vec<Tag>, ApiError> {
    let entries = body.objs("Tags")?;
    if entries.len() > 50 {
        return Err(invalid("Tags", "at most 50 tags"));
    }
    let mut out: Vec<Tag> = Vec::new();
    for n in &entries {
        let o = n.obj();
        let key = o.req("Key")?;
        if key.chars().count() > 128 {
            return Err(invalid(&o.field("Key"), "at most 128 characters"));
        }
        let value = o.str("Value")?.unwrap_or_default();
        if value.chars().count() > 256 {
            return Err(invalid(&o.field("Value"), "at most 256 characters"));
        }
        if out.iter().any(|t| t.key == key) {
            return Err(invalid(&o.field("Key"), format!("duplicate tag key {key}")));
        }
        out.push(Tag {
            key: key.to_string(),
            value: value.to_string(),
        });
    }
    Ok(out)
}

/// True when `tags` satisfy every filter (key present and, when values are given, one of them).
pub fn matches_tags(tags: &[Tag], filters: &[TagFilter]) -> bool {
    filters.iter().all(|f| {
        tags.iter()
            .any(|t| t.key == f.key && (f.values.is_empty() || f.values.contains(&t.value)))
    })
}

/// The page of a list: `page` (≥ 1, default 1) and `limit` (1..=`max`, default `default`).
pub fn page(q: &Query, default: i64, max: i64) -> Result<(usize, usize), ApiError> {
    let page = q.int("page")?.unwrap_or(1);
    if page < 1 {
        return Err(invalid("page", "must be at least 1"));
    }
    let limit = q.int("limit")?.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(invalid("limit", format!("must be between 1 and {max}")));
    }
    Ok((page as usize, limit as usize))
}

/// The items of page `(page, limit)` and the total count; `order_by` 1 = newest first, 2 (default) =
/// oldest first.
pub fn paginate<T: Clone>(
    items: Vec<T>,
    q: &Query,
    default: i64,
    max: i64,
) -> Result<(usize, Vec<T>), ApiError> {
    let (page, limit) = page(q, default, max)?;
    let mut items = items;
    match q.int("order_by")? {
        None | Some(2) => {}
        Some(1) => items.reverse(),
        Some(_) => return Err(invalid("order_by", "must be 1 (descending) or 2 (ascending)")),
    }
    let total = items.len();
    let start = (page - 1).saturating_mul(limit);
    Ok((total, items.into_iter().skip(start).take(limit).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Query {
        Query::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn both_spellings_of_a_key_match() {
        let a = q(&[("CloudServerID", "cs-1")]);
        let b = q(&[("cloud_server_id", "cs-1")]);
        assert_eq!(a.str("cloud_server_id"), Some("cs-1"));
        assert_eq!(b.str("CloudServerID"), Some("cs-1"));
        let v = q(&[("VPCIdentities", "a,b"), ("vpc_identities.1", "c")]);
        assert_eq!(v.list("vpc_identities"), vec!["a", "b", "c"]);
    }

    #[test]
    fn tag_filters_parse_in_order() {
        let t = q(&[
            ("TagFilters.2.Key", "b"),
            ("TagFilters.1.Key", "a"),
            ("TagFilters.1.Values.2", "y"),
            ("TagFilters.1.Values.1", "x"),
        ])
        .tag_filters()
        .unwrap();
        assert_eq!(
            t,
            vec![
                TagFilter {
                    key: "a".into(),
                    values: vec!["x".into(), "y".into()]
                },
                TagFilter {
                    key: "b".into(),
                    values: vec![]
                }
            ]
        );
        assert!(q(&[("TagFilters.1.Values.1", "x")]).tag_filters().is_err());
        let tags = vec![Tag {
            key: "a".into(),
            value: "y".into(),
        }];
        assert!(matches_tags(&tags, &t[..1]));
        assert!(!matches_tags(&tags, &t));
    }

    #[test]
    fn body_fields_are_typed_and_named() {
        let v = normalise(
            serde_json::json!({"storage_config": {"system_disk": {"capacity": 5}},
            "instance_area_nums": null, "Tags": [{"Key": "k", "Value": "v"}, {"Key": "k"}]}),
        );
        let m = v.as_object().unwrap();
        let root = Obj::root(m);
        assert!(root.list("instance_area_nums").unwrap().is_empty());
        let sc = root.obj("storage_config").unwrap().unwrap();
        let sd = sc.obj().obj("system_disk").unwrap().unwrap();
        let e = sd.obj().str("capacity").unwrap_err();
        assert!(e.message.contains("storage_config.system_disk.capacity"), "{e}");
        let e = tags(root).unwrap_err();
        assert!(e.message.contains("Tags.2.Key"), "{e}");
    }
}
