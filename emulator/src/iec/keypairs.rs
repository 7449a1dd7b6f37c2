//! Keypairs (digest §2.5): `POST/GET /v1/os-keypairs`, `GET/DELETE /v1/os-keypairs/{keypair_name}`.
//! Keypairs are identified by name (`Record::id` is the name). Bodies are not wrapped; the list is
//! a bare JSON array filtered by exact `name`, with an item offset and limit 0..1000 (default 1000).
//! An imported key must be an OpenSSH `ssh-rsa` public key (400 `IEC.000007` otherwise); without
//! `public_key` the emulator makes up key material (not a usable RSA key) and returns the private
//! part once. A taken name is refused with the doc's create/import failure codes (`IEC.010226` /
//! `IEC.010230`, both 500 — the doc has no conflict code). Unknown names → 404 `IEC.010220`.
//! Deleting a keypair still used by an instance is allowed (as in Nova: the instance keeps the key).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::core::app::AppState;
use crate::core::cloud::Family;
use crate::core::error::ApiError;
use crate::core::extract::Caller;
use crate::core::paging::{PageRule, QueryParams};
use crate::core::state::{Record, Store};
use crate::iec::common::{Json, bad_field, page};
use crate::iec::errors::Code;
use crate::iec::kinds;

/// A stored keypair (the private key is never stored).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Keypair {
    /// Name, the keypair's identity.
    pub name: String,
    /// OpenSSH public key.
    pub public_key: String,
    /// `SHA256:<base64>` fingerprint of the key blob.
    pub fingerprint: String,
    /// The creating user.
    pub user_id: String,
}

impl Record for Keypair {
    const KIND: &'static str = kinds::KEYPAIR;
    fn id(&self) -> &str {
        &self.name
    }
}

fn render(k: &Keypair) -> Value {
    json!({"name": k.name, "public_key": k.public_key, "user_id": k.user_id, "fingerprint": k.fingerprint})
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64, with or without `=` padding.
fn b64_encode(data: &[u8], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional); `None` on any invalid character.
fn b64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in text.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The key blob of an OpenSSH `ssh-rsa` public key line.
fn rsa_blob(public_key: &str) -> Option<Vec<u8>> {
    let mut parts = public_key.split_whitespace();
    if parts.next()? != "ssh-rsa" {
        return None;
    }
    let blob = b64_decode(parts.next()?)?;
    // The blob starts with the length-prefixed algorithm name.
    (blob.len() > 11 && blob.get(4..11) == Some(b"ssh-rsa".as_slice())).then_some(blob)
}

fn fingerprint(blob: &[u8]) -> String {
    format!("SHA256:{}", b64_encode(&Sha256::digest(blob), false))
}

/// Made-up key material: an `ssh-rsa` blob of random bytes and a PEM-framed private part.
fn generate() -> (String, Vec<u8>, String) {
    let mut blob = Vec::with_capacity(300);
    blob.extend_from_slice(&7u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-rsa");
    blob.extend_from_slice(&3u32.to_be_bytes());
    blob.extend_from_slice(&[1, 0, 1]);
    let modulus: Vec<u8> = (0..257).map(|_| rand::random::<u8>()).collect();
    blob.extend_from_slice(&257u32.to_be_bytes());
    blob.extend_from_slice(&modulus);
    let public = format!("ssh-rsa {} Generated-by-Nova", b64_encode(&blob, true));
    let secret: Vec<u8> = (0..1190).map(|_| rand::random::<u8>()).collect();
    let body = b64_encode(&secret, true);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    let private = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
        lines.join("\n")
    );
    (public, blob, private)
}

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    #[serde(default)]
    public_key: Option<String>,
}

async fn list(State(app): State<AppState>, Caller(p): Caller, uri: Uri) -> Result<Response, ApiError> {
    let q = QueryParams::from_uri(&uri);
    let pg = page(&q, PageRule::ITEMS_1000)?;
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let name = q.get("name");
        let t = tx.store.table::<Keypair>()?;
        let items = t.iter_visible(now).filter(|k| name.is_none_or(|n| k.name == n));
        let (_, items) = pg.apply(items);
        let out: Vec<Value> = items.into_iter().map(render).collect();
        Ok(axum::Json(Value::Array(out)).into_response())
    })
}

async fn create(
    State(app): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<CreateBody>,
) -> Result<Response, ApiError> {
    let CreateBody { name, public_key } = body;
    let len = name.chars().count();
    if !(1..=64).contains(&len) || name.chars().any(|c| c.is_control() || c == '/') {
        return Err(bad_field("name", "1-64 characters, no '/'"));
    }
    let imported = public_key.is_some();
    let (public_key, blob, private_key) = match public_key {
        Some(k) => {
            let k = k.trim().to_string();
            let blob =
                rsa_blob(&k).ok_or_else(|| bad_field("public_key", "an OpenSSH ssh-rsa public key"))?;
            (k, blob, "******".to_string())
        }
        None => generate(),
    };
    app.tx(&p, |tx| {
        if tx.store.table::<Keypair>()?.contains(&name) {
            let code = if imported { Code::E010230 } else { Code::E010226 };
            return Err(code.detail(format!(
                "{}: key pair name ({name}) already exists",
                code.msg(&[&name]).message
            )));
        }
        let kp = Keypair {
            name,
            public_key,
            fingerprint: fingerprint(&blob),
            user_id: p.user_id.clone(),
        };
        tx.insert_new(kp.clone())?;
        let mut out = render(&kp);
        out["private_key"] = Value::String(private_key);
        Ok((StatusCode::CREATED, axum::Json(out)).into_response())
    })
}

async fn show(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let kp = tx
            .store
            .table::<Keypair>()?
            .get_visible(&name, now)
            .cloned()
            .ok_or_else(|| Code::E010220.msg(&[&name]))?;
        Ok(axum::Json(render(&kp)).into_response())
    })
}

async fn delete(
    State(app): State<AppState>,
    Caller(p): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    app.tx(&p, |tx| {
        let now = tx.now_ms;
        let t = tx.store.table::<Keypair>()?;
        if t.get_visible(&name, now).is_none() {
            return Err(Code::E010220.msg(&[&name]));
        }
        t.remove(&name);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

fn register(store: &mut Store) -> Result<(), crate::core::state::StateError> {
    store.register::<Keypair>()
}

/// The keypair family.
pub fn family() -> Family {
    Family {
        name: "keypairs",
        routes: || {
            Router::new()
                .route("/v1/os-keypairs", get(list).post(create))
                .route("/v1/os-keypairs/{keypair_name}", get(show).delete(delete))
        },
        register,
        timers: &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_and_key_parsing() {
        assert_eq!(b64_encode(b"foobar", true), "Zm9vYmFy");
        assert_eq!(b64_encode(b"fo", true), "Zm8=");
        assert_eq!(b64_encode(b"fo", false), "Zm8");
        assert_eq!(b64_decode("Zm8=").as_deref(), Some(b"fo".as_slice()));
        assert!(b64_decode("Z!8=").is_none());
        let (public, blob, _) = generate();
        assert_eq!(rsa_blob(&public), Some(blob));
        assert!(rsa_blob("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI x").is_none());
        assert!(fingerprint(b"x").starts_with("SHA256:"));
    }
}
