//! [`Shared`]: an immutable, reference-counted string for ids and names repeated across many
//! records (site, flavor, image, VPC, subnet, edge cloud ids). Cloning is a reference-count bump,
//! so 100,000 instances of one edge cloud share one copy of each such string. Serialises as a plain
//! JSON string.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A shared immutable string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Shared(Arc<str>);

impl Shared {
    /// The string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Shared {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Shared {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Shared {
    fn from(s: &str) -> Self {
        Self(Arc::from(s))
    }
}

impl From<String> for Shared {
    fn from(s: String) -> Self {
        Self(Arc::from(s))
    }
}

impl From<&String> for Shared {
    fn from(s: &String) -> Self {
        Self(Arc::from(s.as_str()))
    }
}

impl PartialEq<str> for Shared {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Shared {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Shared {
    fn eq(&self, other: &String) -> bool {
        &*self.0 == other.as_str()
    }
}

impl Serialize for Shared {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Shared {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Shared::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_serialises_as_a_string() {
        let a = Shared::from("site-1");
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(a, "site-1");
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"site-1\"");
        let c: Shared = serde_json::from_str("\"x\"").unwrap();
        assert_eq!(c.as_str(), "x");
    }
}
