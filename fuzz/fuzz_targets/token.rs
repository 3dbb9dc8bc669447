//! Join tokens: `token::verify` on arbitrary strings with a fixed secret, and
//! `token::mint` for arbitrary claims.
//!
//! Beyond not panicking: a token minted for any claims (any room id, name, role and
//! expiry) verifies, with the same secret and any time up to its expiry, to the same
//! claims, and does not verify with another secret; an arbitrary string that verifies
//! re-mints to a token that verifies to the same claims.
#![no_main]

use libfuzzer_sys::fuzz_target;
use talkstick::token::{self, Claims, Secret, TokenError};
use talkstick_signaling::RoomId;
use talkstick_signaling::protocol::Role;

fuzz_target!(|data: &[u8]| {
    let secret = Secret::new(b"fuzzing secret, 32 bytes long!!!".to_vec());
    let Some((&head, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);

    // Arbitrary text as a token, at an arbitrary time.
    let now = u64::from(head) << (head % 64);
    if let Ok(claims) = token::verify(&secret, &text, now) {
        assert!(claims.exp.saturating_add(token::LEEWAY_SECS) >= now);
        let again = token::mint(&secret, &claims);
        assert_eq!(token::verify(&secret, &again, now).as_ref(), Ok(&claims));
    }

    // Arbitrary claims: room id, name and expiry from the text, the role from the first byte.
    let mut parts = text.splitn(3, '\n');
    let (room, name, exp) = (parts.next(), parts.next(), parts.next());
    let Some(Ok(room)) = room.map(|r| RoomId::try_from(r.to_string())) else { return };
    let name = name.unwrap_or_default().to_string();
    let exp = exp.map(|e| e.bytes().fold(0u64, |n, b| n.rotate_left(8) ^ u64::from(b)));
    let role = if head & 1 == 0 { Role::Learner } else { Role::Facilitator };
    let claims = Claims { room, name, role, exp: exp.unwrap_or(u64::MAX) };
    let minted = token::mint(&secret, &claims);
    for now in [0, claims.exp / 2, claims.exp] {
        assert_eq!(token::verify(&secret, &minted, now).as_ref(), Ok(&claims), "{minted}");
    }
    let other = Secret::new(b"another secret, also 32 bytes!!!".to_vec());
    assert_eq!(token::verify(&other, &minted, 0), Err(TokenError::BadSignature));
});
