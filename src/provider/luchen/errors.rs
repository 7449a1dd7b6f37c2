//! Luchen failures as [`ProviderError`]s. The cloud answers `{"message"}` for everything and
//! `{"code":-1,"message":"未登录或登录已过期,请重新登录"}` for a missing, expired or rejected token (seed
//! 003); it has no error codes beyond that `-1`, so failures are read by HTTP status and by the
//! documented message shapes: `ent: instance not found` (the instance is gone), `ent: <x> not found`
//! for a catalog id a create names (image, instance type, region, remote storage: a wrong request),
//! `字段 "<path>" 未设置` / `无效` (validation), `实例状态 <S> 不允许此操作` (wrong state for the action).
//! The statuses are undocumented (docs/emulator.md § Luchen says which are observed and which assumed),
//! so a shape the tables do not know falls back to its status class. The cloud's message is kept in the
//! error; no request ever carries a secret in its body back, so no secret can reach one.

use std::time::Duration;

use serde::Deserialize;

use crate::provider::error::{CodeClass, ErrorDetail, ProviderError};
use crate::provider::http::Failure;

/// The `code` of the not-logged-in answer, as [`ErrorDetail::code`] carries it.
pub const NOT_LOGGED_IN_CODE: &str = "-1";
/// The message of a missing instance.
pub const INSTANCE_NOT_FOUND: &str = "ent: instance not found";
/// The wording of a refusal for the instance's state (`实例状态 <Status> 不允许此操作`).
const WRONG_STATE: &str = "不允许此操作";

#[derive(Deserialize, Default)]
#[serde(default)]
struct Body {
    code: Option<serde_json::Value>,
    message: String,
}

/// The `code` (as text, when there is one) and message of an error body; a body that is not the
/// documented shape is kept as its text (cut to 512 characters).
pub fn parse(body: &[u8]) -> (Option<String>, String) {
    match serde_json::from_slice::<Body>(body) {
        Ok(b) if !b.message.is_empty() || b.code.is_some() => {
            let code = b.code.map(|c| match c {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            });
            (code, b.message)
        }
        _ => (None, String::from_utf8_lossy(body).chars().take(512).collect()),
    }
}

/// The class of a failed Luchen answer: the not-logged-in code or status, then the documented message
/// shapes, then the HTTP status ([`CodeClass::for_status`]; Luchen has no code table).
pub fn class_of(status: u16, code: Option<&str>, message: &str) -> CodeClass {
    if status == 401 || status == 403 || code == Some(NOT_LOGGED_IN_CODE) {
        return CodeClass::Unauthorized;
    }
    match status {
        404 if message == INSTANCE_NOT_FOUND => CodeClass::NotFound,
        // A catalog id the request names (`ent: image not found`): the request is wrong.
        404 if message.starts_with("ent: ") => CodeClass::Invalid,
        400 if message.contains(WRONG_STATE) => CodeClass::Conflict,
        other => CodeClass::for_status(other),
    }
}

/// The error of a failed Luchen response. A 404 that is not an `ent: …` answer (`404 page not found`)
/// means the path does not exist there: the endpoint is not Luchen's API (a configuration error).
pub fn classify(
    status: u16,
    code: Option<&str>,
    detail: ErrorDetail,
    retry_after: Option<Duration>,
) -> ProviderError {
    let class = class_of(status, code, &detail.message);
    if class == CodeClass::NotFound && status == 404 && detail.message != INSTANCE_NOT_FOUND {
        return ProviderError::Configuration { detail };
    }
    class.error(detail, retry_after)
}

/// The [`ProviderError`] of a failed Luchen response (the pipeline's error mapper).
pub fn from_failure(f: Failure<'_>) -> ProviderError {
    let (code, message) = parse(f.body);
    let detail = ErrorDetail {
        operation: f.operation.to_owned(),
        status: Some(f.status),
        code: code.clone(),
        message,
        request_id: f.request_id,
    };
    classify(f.status, code.as_deref(), detail, f.retry_after)
}

/// Whether `err` says the token was not accepted (absent, expired, forged): log in again.
pub fn is_token_rejected(err: &ProviderError) -> bool {
    matches!(err, ProviderError::Unauthorized { detail }
        if detail.code.as_deref() == Some(NOT_LOGGED_IN_CODE) || detail.status == Some(401))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, body: &str) -> ProviderError {
        from_failure(Failure {
            operation: "luchen.instance.stop",
            status,
            request_id: None,
            retry_after: Some(Duration::from_secs(3)),
            body: body.as_bytes(),
        })
    }

    #[test]
    fn luchen_bodies_map_to_categories() {
        let cases = [
            (
                401,
                r#"{"code":-1,"message":"未登录或登录已过期,请重新登录"}"#,
                "Unauthorized",
            ),
            (
                200,
                r#"{"code":-1,"message":"未登录或登录已过期,请重新登录"}"#,
                "Unauthorized",
            ),
            (404, r#"{"message":"ent: instance not found"}"#, "NotFound"),
            (404, r#"{"message":"ent: image not found"}"#, "Invalid"),
            (404, r#"{"message":"404 page not found"}"#, "Configuration"),
            (400, r#"{"message":"实例状态 Stopped 不允许此操作"}"#, "Conflict"),
            (400, r#"{"message":"字段 \"name\" 未设置"}"#, "Invalid"),
            (429, r#"{"message":"too many requests"}"#, "Throttled"),
            (503, r#"{"message":"service unavailable"}"#, "Transient"),
            (500, "<html>oops</html>", "Transient"),
        ];
        for (status, body, want) in cases {
            assert_eq!(failure(status, body).category(), want, "{status} {body}");
        }
        let e = failure(401, r#"{"code":-1,"message":"未登录或登录已过期,请重新登录"}"#);
        assert_eq!(e.code(), Some("-1"));
        assert!(is_token_rejected(&e));
        assert!(e.to_string().contains("未登录"), "{e}");
        assert!(!is_token_rejected(&failure(
            400,
            r#"{"message":"用户名或密码错误"}"#
        )));
        assert_eq!(failure(429, "{}").retry_after(), Some(Duration::from_secs(3)));
    }
}
