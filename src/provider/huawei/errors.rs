//! Huawei error bodies, shared by IEC, ModelArts and Workspace: `{"error_code","error_msg"}` from the
//! services, `{"error":{"code","message"}}` from the API gateway. Each cloud classifies the code it
//! reads here against its own table.

use serde::Deserialize;

/// Error body: `{"error_code","error_msg"}`; tolerates `code`/`message` and a nested `error` object.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    /// Code.
    #[serde(default, alias = "code")]
    pub error_code: Option<serde_json::Value>,
    /// Message.
    #[serde(default, alias = "message")]
    pub error_msg: Option<String>,
    /// Nested `{"error": {...}}` form.
    #[serde(default)]
    pub error: Option<Box<ErrorBody>>,
}

impl ErrorBody {
    /// Parses leniently; an unparsable body yields no code and the raw text (truncated) as message.
    pub fn parse(bytes: &[u8]) -> (Option<String>, String) {
        match serde_json::from_slice::<ErrorBody>(bytes) {
            Ok(b) => {
                let b = match b.error {
                    Some(inner) if b.error_code.is_none() => *inner,
                    _ => b,
                };
                let code = b.error_code.and_then(|v| match v {
                    serde_json::Value::String(s) if !s.is_empty() => Some(s),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                });
                (code, b.error_msg.unwrap_or_default())
            }
            Err(_) => {
                let text = String::from_utf8_lossy(bytes);
                (None, text.chars().take(200).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_parsing_is_lenient() {
        assert_eq!(
            ErrorBody::parse(br#"{"error_code":"IEC.020104","error_msg":"the vpc is not found"}"#),
            (Some("IEC.020104".into()), "the vpc is not found".into())
        );
        assert_eq!(
            ErrorBody::parse(
                br#"{"error":{"code":"APIGW.0301","message":"Incorrect IAM authentication information"}}"#
            ),
            (
                Some("APIGW.0301".into()),
                "Incorrect IAM authentication information".into()
            )
        );
        assert_eq!(
            ErrorBody::parse(b"<html>bad gateway</html>"),
            (None, "<html>bad gateway</html>".into())
        );
        assert_eq!(ErrorBody::parse(b""), (None, String::new()));
    }
}
