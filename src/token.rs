//! Join tokens: HS256 JSON Web Tokens naming the room, the person and their role.
//!
//! Minted by `talkstick token` (or by `serve` for its demo links) and verified by the
//! WebSocket edge before anyone reaches a room.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use talkstick_signaling::protocol::Role;
use talkstick_signaling::{LinkId, RoomId};

/// Seconds of clock skew tolerated when checking `exp`.
pub const LEEWAY_SECS: u64 = 10;

/// What a token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The room it admits to.
    pub room: RoomId,
    /// Display name.
    pub name: String,
    /// Facilitator or learner.
    pub role: Role,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: u64,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts, bad JSON, or an algorithm other than HS256.
    #[error("the token is not a valid Talkstick token: {0}")]
    Malformed(&'static str),
    /// The signature does not match this server's secret.
    #[error("the token's signature does not match this server")]
    BadSignature,
    /// Past its `exp`.
    #[error("the token expired")]
    Expired,
}

/// The signing secret. Never printed by `Debug`.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret from its bytes (at least 16 are recommended).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }

    /// A fresh random secret, and its printable form.
    pub fn generate() -> (Self, String) {
        let bytes: [u8; 24] = rand::random();
        let text = B64.encode(bytes);
        (Secret(text.clone().into_bytes()), text)
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Signs claims into a compact JWT.
pub fn mint(secret: &Secret, claims: &Claims) -> String {
    let payload = serde_json::to_vec(claims).expect("claims always serialize");
    let signing_input = format!("{}.{}", B64.encode(HEADER), B64.encode(payload));
    let mut mac = secret.mac();
    mac.update(signing_input.as_bytes());
    let sig = mac.finalize().into_bytes();
    format!("{signing_input}.{}", B64.encode(sig))
}

/// Checks a token's signature (in constant time) and expiry against `now_unix`.
pub fn verify(secret: &Secret, token: &str, now_unix: u64) -> Result<Claims, TokenError> {
    let mut parts = token.trim().split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("expected three dot-separated parts"));
    };
    #[derive(Deserialize)]
    struct Header {
        alg: String,
    }
    let header: Header = B64
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed("unreadable header"))?;
    if header.alg != "HS256" {
        return Err(TokenError::Malformed("only HS256 is accepted"));
    }
    let sig = B64.decode(s).map_err(|_| TokenError::Malformed("unreadable signature"))?;
    let mut mac = secret.mac();
    mac.update(h.as_bytes());
    mac.update(b".");
    mac.update(p.as_bytes());
    mac.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
    let claims: Claims = B64
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed("unreadable claims"))?;
    // `exp` is the signer's, but any u64 parses: saturate rather than overflow.
    if claims.exp.saturating_add(LEEWAY_SECS) < now_unix {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// The identity of a link: a digest of its token (already verified), the same for every
/// join with it, from which the token cannot be recovered. One link is one person.
pub fn link_id(token: &str) -> LinkId {
    use sha2::Digest as _;
    let digest = Sha256::digest(token.trim().as_bytes());
    LinkId(digest[..16].iter().map(|b| format!("{b:02x}")).collect())
}

/// Seconds since the Unix epoch, from the system clock.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Claims {
        Claims { room: "demo".parse().unwrap(), name: "Aino".into(), role: Role::Learner, exp }
    }

    #[test]
    fn round_trip() {
        let s = Secret::new("k".repeat(32));
        let t = mint(&s, &claims(1_000));
        assert_eq!(verify(&s, &t, 999).unwrap(), claims(1_000));
    }

    #[test]
    fn refuses_bad_tokens() {
        let s = Secret::new("k".repeat(32));
        let t = mint(&s, &claims(1_000));
        assert_eq!(verify(&s, &t, 1_000 + LEEWAY_SECS + 1), Err(TokenError::Expired));
        assert_eq!(verify(&Secret::new("other"), &t, 0), Err(TokenError::BadSignature));
        assert!(matches!(verify(&s, "a.b", 0), Err(TokenError::Malformed(_))));
        // A forged payload with the original signature.
        let mut forged: Vec<&str> = t.split('.').collect();
        let evil = B64.encode(r#"{"room":"demo","name":"x","role":"facilitator","exp":9999}"#);
        forged[1] = &evil;
        assert_eq!(verify(&s, &forged.join("."), 0), Err(TokenError::BadSignature));
        // alg=none is never accepted.
        let none = format!("{}.{}.", B64.encode(r#"{"alg":"none"}"#), t.split('.').nth(1).unwrap());
        assert!(matches!(verify(&s, &none, 0), Err(TokenError::Malformed(_))));
    }

    /// The largest expiry a token can carry is checked without overflowing.
    #[test]
    fn the_largest_expiry_does_not_overflow() {
        let s = Secret::new("k".repeat(32));
        let t = mint(&s, &claims(u64::MAX));
        assert_eq!(verify(&s, &t, u64::MAX).unwrap(), claims(u64::MAX));
    }
}
