//! Join tokens: HS256 JSON Web Tokens naming the room, the person and their role.
//!
//! Minted by `talkstick token` (or by `serve` for its demo links) and verified by the
//! WebSocket edge before anyone reaches a room.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
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
    /// It names a breakout group's room: links admit to a plenary, and the plenary
    /// decides who is in which group.
    #[error("the token names a breakout group's room; links name the plenary room")]
    GroupRoom,
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
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Signs claims into a compact JWT (HS256).
pub fn mint(secret: &Secret, claims: &Claims) -> String {
    let key = EncodingKey::from_secret(&secret.0);
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key)
        .expect("HS256 signing with any key and these claims cannot fail")
}

/// Checks a token with `jsonwebtoken`: HS256 only (any other `alg`, `none` included, is
/// refused), the signature in constant time, then `exp` against `now_unix` with
/// [`LEEWAY_SECS`] (time is passed in, so it is checked here rather than by the library's
/// clock).
pub fn verify(secret: &Secret, token: &str, now_unix: u64) -> Result<Claims, TokenError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let key = DecodingKey::from_secret(&secret.0);
    let data =
        jsonwebtoken::decode::<Claims>(token.trim(), &key, &validation).map_err(|e| {
            match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    TokenError::Malformed("only HS256 is accepted")
                }
                ErrorKind::Json(_) | ErrorKind::MissingRequiredClaim(_) => {
                    TokenError::Malformed("unreadable claims")
                }
                _ => TokenError::Malformed("expected three base64url parts"),
            }
        })?;
    let claims = data.claims;
    // `exp` is the signer's, but any u64 parses: saturate rather than overflow.
    if claims.exp.saturating_add(LEEWAY_SECS) < now_unix {
        return Err(TokenError::Expired);
    }
    if claims.room.is_group() {
        return Err(TokenError::GroupRoom);
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
