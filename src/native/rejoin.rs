//! Joining again in the background: a lost plenary connection (with the resume token)
//! or a breakout group's room (with the plenary link and the group), while the session's
//! loop goes on.

use std::net::IpAddr;
use std::time::Duration;

use talkstick_signaling::protocol::ErrorCode;
use talkstick_signaling::{ResumeToken, RoomId};
use tokio::sync::oneshot;

use crate::client::{ClientError, Participant};

/// A join running in the background; its result arrives once.
pub type Attempt = oneshot::Receiver<Result<Participant, ClientError>>;

/// What to join with.
#[derive(Debug, Clone)]
pub struct JoinTarget {
    /// The server's base URL.
    pub base: String,
    /// The link's token.
    pub token: String,
    /// The local address for the audio socket.
    pub ip: IpAddr,
}

impl JoinTarget {
    /// Joins after `after`: with `resume` to come back as the same person, in `group`
    /// (a breakout group's room) or the plenary.
    pub fn attempt(
        &self,
        resume: Option<ResumeToken>,
        group: Option<RoomId>,
        after: Duration,
    ) -> Attempt {
        let (tx, rx) = oneshot::channel();
        let t = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ =
                tx.send(Participant::rejoin(&t.base, &t.token, resume, group, Some(t.ip)).await);
        });
        rx
    }
}

/// How long to wait before attempt `n` (1-based): 1 s, 2 s, 4 s, then 5 s.
pub fn backoff(n: u32) -> Duration {
    Duration::from_millis(500 * 2u64.pow(n.min(4))).min(Duration::from_secs(5))
}

/// The words for a refusal.
pub fn refusal(code: ErrorCode, message: &str) -> String {
    match code {
        ErrorCode::TokenExpired => {
            "This link has expired: ask your facilitator for a new one.".into()
        }
        ErrorCode::BadToken => {
            "This link is not valid here: check that you copied all of it.".into()
        }
        _ => format!("The server refused: {message}"),
    }
}
