//! Reading Luchen request bodies the way the real validator answers (seed 003): a field counts as set
//! when its key is present and not `null` (`""`, `false`, `0` and `[]` are set: the seed's own example
//! sends `"initScript": ""` and `"remoteStorages": []`); the first missing one is 400
//! `字段 "<path>" 未设置`, where `<path>` is dotted (`instanceConfiguration.enableDocker`) and array
//! items are indexed (`remoteStorages[0].mountPath`, the emulator's spelling). A value of the wrong
//! type is 400 `字段 "<path>" 无效: …`.

use serde_json::{Map, Value};

use crate::core::error::ApiError;
use crate::luchen::errors::{invalid, message, unset};

/// Parses a body as a JSON object; an empty body is `{}`, anything else not an object is 400.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(message(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid request body: expected a JSON object",
        )),
        Err(e) => Err(message(
            axum::http::StatusCode::BAD_REQUEST,
            format!("invalid request body: {e}"),
        )),
    }
}

/// The fields of one JSON object at a path.
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Fields<'a> {
    /// The body's top-level object.
    pub fn root(map: &'a Map<String, Value>) -> Self {
        Self { map, prefix: "" }
    }

    /// An object at `prefix` (e.g. `billing`, `remoteStorages[0]`).
    pub fn at(map: &'a Map<String, Value>, prefix: &'a str) -> Self {
        Self { map, prefix }
    }

    /// The full path of `key`.
    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// The value of `key`, if set (present and not null).
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// The value of a required `key`.
    pub fn required(&self, key: &str) -> Result<&'a Value, ApiError> {
        self.get(key).ok_or_else(|| unset(&self.path(key)))
    }

    /// A required string.
    pub fn string(&self, key: &str) -> Result<&'a str, ApiError> {
        self.required(key)?
            .as_str()
            .ok_or_else(|| invalid(&self.path(key), "must be a string"))
    }

    /// A required boolean.
    pub fn boolean(&self, key: &str) -> Result<bool, ApiError> {
        self.required(key)?
            .as_bool()
            .ok_or_else(|| invalid(&self.path(key), "must be a boolean"))
    }

    /// An optional boolean.
    pub fn opt_boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.get(key)
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| invalid(&self.path(key), "must be a boolean"))
            })
            .transpose()
    }

    /// A required non-negative integer (JSON numbers like `50.0` count).
    pub fn count(&self, key: &str) -> Result<u64, ApiError> {
        as_count(self.required(key)?)
            .ok_or_else(|| invalid(&self.path(key), "must be a non-negative integer"))
    }

    /// An optional non-negative integer.
    pub fn opt_count(&self, key: &str) -> Result<Option<u64>, ApiError> {
        self.get(key)
            .map(|v| as_count(v).ok_or_else(|| invalid(&self.path(key), "must be a non-negative integer")))
            .transpose()
    }

    /// A required object.
    pub fn object(&self, key: &str) -> Result<&'a Map<String, Value>, ApiError> {
        self.required(key)?
            .as_object()
            .ok_or_else(|| invalid(&self.path(key), "must be an object"))
    }

    /// A required array.
    pub fn array(&self, key: &str) -> Result<&'a Vec<Value>, ApiError> {
        self.required(key)?
            .as_array()
            .ok_or_else(|| invalid(&self.path(key), "must be an array"))
    }
}

/// A JSON number that is a non-negative integer.
pub fn as_count(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1e15)
            .map(|f| f as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn luchen_presence_not_truthiness_makes_a_field_set() {
        let v = json!({"a": "", "b": false, "c": null, "n": 50.0, "o": {"x": 1}});
        let m = v.as_object().unwrap();
        let f = Fields::root(m);
        assert_eq!(f.string("a").unwrap(), "");
        assert!(!f.boolean("b").unwrap());
        assert_eq!(f.string("c").unwrap_err().message, "字段 \"c\" 未设置");
        assert_eq!(f.count("n").unwrap(), 50);
        let inner = f.object("o").unwrap();
        let g = Fields::at(inner, "o");
        assert_eq!(g.string("y").unwrap_err().message, "字段 \"o.y\" 未设置");
        assert_eq!(
            g.string("x").unwrap_err().message,
            "字段 \"o.x\" 无效: must be a string"
        );
        assert!(parse_object(b"  ").unwrap().is_empty());
        assert!(parse_object(b"[1]").is_err());
        assert!(parse_object(b"{").is_err());
    }
}
