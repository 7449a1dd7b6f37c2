//! Luchen authentication (seed 003, digest §3.1): `POST /api/user/login {username,password}` answers
//! `{accessToken, accessExpire}`; every other call carries the token as the cookie `AccessToken=<jwt>`.
//!
//! The token is a JWT with the real claims (`aud`, `exp`, `group`, `iat`, `iss`, `sub` = the user's
//! uuid), signed **HS256** with a random per-process key (the real service signs RS256; clients do
//! not verify it). A token is accepted when its signature verifies, it was issued by this emulator
//! (the core [`TokenStore`](crate::core::auth::TokenStore) knows it) and its `exp` has not passed on
//! the emulator clock. Its lifetime is `luchen.token_ttl_secs` (one day), or the `token_ttl_ms` fault
//! at run time. Anything else is 401 `{"code":-1,"message":"未登录或登录已过期,请重新登录"}`.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::core::app::AppState;
use crate::core::auth::Principal;
use crate::core::calls::ReadAnswer;
use crate::core::error::ApiError;
use crate::luchen::body::{Fields, parse_object};
use crate::luchen::catalog::LuchenUser;
use crate::luchen::errors::{message, not_logged_in};

/// The cookie that carries the token.
pub const COOKIE: &str = "AccessToken";
/// The JWT `iss` (Luchen's; HPC-AI's twin says `hpcaitech.com`).
pub const ISSUER: &str = "cloud.luchentech.com";
/// The JWT `aud`.
pub const AUDIENCE: &str = "platform.colossalai.com";
/// The answer to a wrong user name or password (the emulator's wording).
pub const BAD_CREDENTIALS: &str = "用户名或密码错误";

/// The per-process signing key.
fn key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(rand::random)
}

fn sign(input: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key()) else {
        return String::new();
    };
    mac.update(input.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// A signed token for `user`, issued at `iat` seconds and expiring at `exp` seconds.
pub fn token(user: &LuchenUser, iat: u64, exp: u64) -> String {
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let claims = json!({
        "aud": [AUDIENCE],
        "exp": exp,
        "group": ["admin"],
        "iat": iat,
        "iss": ISSUER,
        "sub": user.id,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = sign(&input);
    format!("{input}.{signature}")
}

/// The claims of a token whose signature verifies.
pub fn verified_claims(token: &str) -> Option<Value> {
    let (input, signature) = token.rsplit_once('.')?;
    let (_, claims) = input.split_once('.')?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key()).ok()?;
    mac.update(input.as_bytes());
    let given = URL_SAFE_NO_PAD.decode(signature).ok()?;
    mac.verify_slice(&given).ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()
}

fn principal(user: &LuchenUser) -> Principal {
    Principal {
        domain_id: user.id.clone(),
        domain_name: user.username.clone(),
        user_id: user.id.clone(),
        user_name: user.username.clone(),
    }
}

/// The `AccessToken` cookie of a request, if any.
pub fn cookie_token(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"').to_string())
}

/// [`Profile::authenticate`](crate::core::cloud::Profile::authenticate): the `AccessToken` cookie.
pub fn authenticate(app: &AppState, parts: &Parts, _body: &[u8]) -> Result<Principal, ApiError> {
    let token = cookie_token(parts).ok_or_else(not_logged_in)?;
    let claims = verified_claims(&token).ok_or_else(not_logged_in)?;
    let principal = app
        .tokens()
        .check_any(Some(&token), app.clock().now_ms())
        .map_err(|_| not_logged_in())?;
    let user_still_exists = claims.get("sub").and_then(Value::as_str) == Some(principal.user_id.as_str())
        && app.config().luchen.user_by_id(&principal.user_id).is_some();
    if !user_still_exists {
        return Err(not_logged_in());
    }
    Ok(principal)
}

/// The token lifetime in ms now: the `token_ttl_ms` fault, else the configured seconds.
fn ttl_ms(app: &AppState) -> u64 {
    app.faults()
        .token_ttl_ms
        .unwrap_or_else(|| app.config().luchen.token_ttl_secs.saturating_mul(1000))
}

fn login_answer(app: &AppState, body: &[u8]) -> Result<Value, ApiError> {
    let map = parse_object(body)?;
    let fields = Fields::root(&map);
    let username = fields.string("username")?;
    let password = fields.string("password")?;
    let user = app
        .config()
        .luchen
        .user(username)
        .filter(|u| u.password == password)
        .ok_or_else(|| message(StatusCode::BAD_REQUEST, BAD_CREDENTIALS))?;
    let now_ms = app.clock().now_ms();
    let ttl = ttl_ms(app);
    let expires_ms = now_ms.saturating_add(ttl);
    let token = token(user, now_ms / 1000, expires_ms / 1000);
    app.tokens()
        .insert(token.clone(), principal(user), expires_ms, now_ms);
    Ok(json!({"accessToken": token, "accessExpire": ttl.div_ceil(1000)}))
}

/// `POST /api/user/login`. Changes no resource, so it is counted as a read.
pub async fn login(State(app): State<AppState>, body: Bytes) -> Response {
    let mut resp = match login_answer(&app, &body) {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    };
    resp.extensions_mut().insert(ReadAnswer);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luchen_tokens_verify_and_forgeries_do_not() {
        let user = LuchenUser {
            id: "u-1".into(),
            username: "a".into(),
            password: "p".into(),
        };
        let t = token(&user, 100, 200);
        let claims = verified_claims(&t).unwrap();
        assert_eq!(claims["sub"], "u-1");
        assert_eq!(claims["exp"], 200);
        assert_eq!(claims["aud"][0], AUDIENCE);
        let (input, _) = t.rsplit_once('.').unwrap();
        assert!(verified_claims(&format!("{input}.AAAA")).is_none());
        let forged_claims = URL_SAFE_NO_PAD.encode(json!({"sub": "u-1", "exp": 999}).to_string());
        let parts: Vec<&str> = t.split('.').collect();
        assert!(verified_claims(&format!("{}.{forged_claims}.{}", parts[0], parts[2])).is_none());
        assert!(verified_claims("not-a-jwt").is_none());
    }
}
