//! Who may call the emulator and who is calling, whatever the cloud: the credential configuration of
//! an account ([`Account`] with its [`User`]s, [`AccessKey`]s and regional [`Project`]s), the
//! [`Principal`] an ingress profile attaches to an authenticated request, and the [`TokenStore`] of
//! issued session tokens (classified into [`TokenError`]s that each cloud maps to its own codes). How
//! a request proves its principal is the cloud's: Huawei APIG signing and IAM tokens live in
//! `crate::huawei`, Volcengine's signature in `crate::veen::auth`.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Token lifetime: 24 hours.
pub const TOKEN_TTL_MS: u64 = 24 * 3600 * 1000;

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

    /// Stores a token the cloud made itself (Luchen's JWT) for `principal`, valid until
    /// `expires_ms`; it then checks like an issued one.
    pub fn insert(&self, token: String, principal: Principal, expires_ms: u64, now_ms: u64) {
        let mut map = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, t| t.expires_ms > now_ms);
        map.insert(
            token,
            TokenInfo {
                principal,
                expires_ms,
                domain_scoped: true,
            },
        );
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

#[cfg(test)]
mod tests {
    use super::*;

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
