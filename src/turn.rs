//! TURN relays for learners whose network blocks UDP to the server: time-limited
//! credentials by the TURN REST API convention (coturn's `use-auth-secret`), so the
//! relay and Talkstick share one secret and no user database.
//!
//! The user name is `<expiry in Unix seconds>:<participant>` and the password is
//! base64(HMAC-SHA1(secret, user name)); the relay recomputes it and refuses a name
//! whose expiry has passed. Each `welcome` carries fresh ones.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use talkstick_signaling::ParticipantId;
use talkstick_signaling::protocol::IceServer;

/// Why a TURN configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TurnError {
    /// A URL that is not `turn:` or `turns:`.
    #[error("{0:?} is not a TURN URL (turn:HOST[:PORT][?transport=udp|tcp] or turns:HOST[:PORT])")]
    BadUrl(String),
    /// URLs without a secret, or a secret too short.
    #[error(
        "TURN URLs need --turn-secret (the relay's static-auth-secret, at least 16 characters)"
    )]
    NoSecret,
}

/// The relays and the secret shared with them.
#[derive(Clone)]
pub struct TurnConfig {
    urls: Vec<String>,
    secret: Vec<u8>,
    /// How long credentials stay valid, in seconds.
    ttl_secs: u64,
}

impl std::fmt::Debug for TurnConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnConfig")
            .field("urls", &self.urls)
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

impl TurnConfig {
    /// Checks the URLs and the secret; `None` when no URL is given.
    pub fn new(
        urls: &[String],
        secret: Option<&str>,
        ttl_secs: u64,
    ) -> Result<Option<Self>, TurnError> {
        if urls.is_empty() {
            return Ok(None);
        }
        for u in urls {
            let rest = u.strip_prefix("turns:").or_else(|| u.strip_prefix("turn:"));
            if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
                return Err(TurnError::BadUrl(u.clone()));
            }
        }
        let secret =
            secret.map(str::trim).filter(|s| s.chars().count() >= 16).ok_or(TurnError::NoSecret)?;
        Ok(Some(TurnConfig { urls: urls.to_vec(), secret: secret.as_bytes().to_vec(), ttl_secs }))
    }

    /// Each relay URL's host and port (3478, or 5349 for `turns:`, when not given).
    pub fn hosts(&self) -> Vec<(String, u16)> {
        self.urls.iter().filter_map(|u| url_host(u)).collect()
    }

    /// Credentials for `who`, valid for the configured time from `now_unix`.
    pub fn credentials(&self, who: ParticipantId, now_unix: u64) -> IceServer {
        let username = format!("{}:{}", now_unix + self.ttl_secs, who.0);
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.secret);
        let credential = B64.encode(ring::hmac::sign(&key, username.as_bytes()).as_ref());
        IceServer { urls: self.urls.clone(), username, credential }
    }
}

/// The host and port of a `turn:` or `turns:` URL (RFC 7065).
fn url_host(url: &str) -> Option<(String, u16)> {
    let (rest, default) = match url.strip_prefix("turns:") {
        Some(rest) => (rest, 5349),
        None => (url.strip_prefix("turn:")?, 3478),
    };
    let hostport = rest.split('?').next()?;
    let (host, port) = match hostport.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        }
        None => match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        },
    };
    let port = port.map_or(Some(default), |p| p.parse().ok())?;
    (!host.is_empty()).then(|| (host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_follow_the_turn_rest_convention() {
        let turn = TurnConfig::new(&["turn:127.0.0.1:3478".into()], Some("0123456789abcdef"), 3600)
            .unwrap()
            .unwrap();
        let c = turn.credentials(ParticipantId(7), 1_000);
        assert_eq!(c.username, "4600:7");
        // base64(HMAC-SHA1("0123456789abcdef", "4600:7")), computed independently (Python's
        // hmac module), as coturn computes it.
        assert_eq!(c.credential, "I8WjLm6Z7E3kR1+EGuFRvzNakR0=");
    }

    #[test]
    fn bad_urls_and_missing_secrets_are_refused() {
        assert_eq!(TurnConfig::new(&[], None, 60).unwrap().map(|_| ()), None);
        assert!(matches!(
            TurnConfig::new(&["stun:x".into()], Some("0123456789abcdef"), 60),
            Err(TurnError::BadUrl(_))
        ));
        assert!(matches!(
            TurnConfig::new(&["turn:".into()], Some("0123456789abcdef"), 60),
            Err(TurnError::BadUrl(_))
        ));
        assert_eq!(
            TurnConfig::new(&["turns:relay.example.org:5349".into()], None, 60).unwrap_err(),
            TurnError::NoSecret
        );
        assert_eq!(
            TurnConfig::new(&["turn:x".into()], Some("short"), 60).unwrap_err(),
            TurnError::NoSecret
        );
    }

    #[test]
    fn relay_hosts_are_read_from_the_urls() {
        let urls: Vec<String> = [
            "turn:relay.example.org?transport=udp",
            "turn:10.0.0.1:3479?transport=tcp",
            "turns:relay.example.org",
            "turn:[2001:db8::1]:3480",
            "turn:[2001:db8::2]",
        ]
        .map(String::from)
        .to_vec();
        let turn = TurnConfig::new(&urls, Some("0123456789abcdef"), 60).unwrap().unwrap();
        let hosts = turn.hosts();
        let hosts: Vec<(&str, u16)> = hosts.iter().map(|(h, p)| (h.as_str(), *p)).collect();
        assert_eq!(
            hosts,
            [
                ("relay.example.org", 3478),
                ("10.0.0.1", 3479),
                ("relay.example.org", 5349),
                ("2001:db8::1", 3480),
                ("2001:db8::2", 3478)
            ]
        );
    }
}
