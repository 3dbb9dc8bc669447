//! How many messages one WebSocket connection may send: a budget per connection, sans-IO
//! with time passed in, applied by the connection's reader before anything reaches the
//! room's task.
//!
//! Every frame counts (text, binary, ping), joined or not: a client that sends faster
//! than a person could click costs the room's task for every message it reads, and the
//! room's other members pay for it in delay. The room limits what each kind of message
//! may change on top of this (reactions, hand and microphone toggles).
//!
//! Over budget, a frame is dropped; the sender is told (`rate_limited`, at most once a
//! second) and collects a strike. Strikes fade at [`STRIKE_FADE`] a second; a connection that
//! gathers [`STRIKES_TO_CLOSE`] of them kept flooding after being told, and is closed
//! with [`CLOSE_TOO_MANY`].

use std::time::{Duration, Instant};

/// Messages a second a connection may send on average.
pub const MESSAGE_RATE: f64 = 20.0;
/// Messages a connection may send at once.
pub const MESSAGE_BURST: f64 = 40.0;
/// Strikes (frames over budget) that close the connection.
pub const STRIKES_TO_CLOSE: f64 = 40.0;
/// Strikes that fade a second: a client a little over the rate is refused now and then,
/// never closed; one far over it is closed within seconds.
pub const STRIKE_FADE: f64 = 2.0;
/// Close code of a connection closed for flooding: 1008, policy violation (RFC 6455).
pub use crate::room::core::CLOSE_TOO_MANY;
/// Least time between two `rate_limited` notices to one connection.
const NOTICE_EVERY: Duration = Duration::from_secs(1);

/// What becomes of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within budget: handle it.
    Pass,
    /// Over budget: drop it; `notify` says whether to tell the sender (`rate_limited`
    /// with `retry_after_ms`).
    Refuse {
        /// Tell the sender this time.
        notify: bool,
        /// When one more frame fits.
        retry_after_ms: u64,
    },
    /// Flooding after being told: close the connection.
    Close,
}

/// One connection's budget.
#[derive(Debug, Clone)]
pub struct Budget {
    tokens: f64,
    strikes: f64,
    at: Instant,
    noticed: Option<Instant>,
}

impl Budget {
    /// A full budget at `now`.
    pub fn new(now: Instant) -> Self {
        Budget { tokens: MESSAGE_BURST, strikes: 0.0, at: now, noticed: None }
    }

    /// Counts one frame arriving at `now`.
    pub fn admit(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = self.at.max(now);
        self.tokens = (self.tokens + elapsed * MESSAGE_RATE).min(MESSAGE_BURST);
        self.strikes = (self.strikes - elapsed * STRIKE_FADE).max(0.0);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Pass;
        }
        self.strikes += 1.0;
        if self.strikes >= STRIKES_TO_CLOSE {
            return Verdict::Close;
        }
        let notify = self.noticed.is_none_or(|t| now >= t + NOTICE_EVERY);
        if notify {
            self.noticed = Some(now);
        }
        let retry_after_ms = ((1.0 - self.tokens) / MESSAGE_RATE * 1000.0).ceil().max(1.0) as u64;
        Verdict::Refuse { notify, retry_after_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn a_person_is_never_limited() {
        // Clicking as fast as a person can, for a minute: ten a second.
        let t0 = Instant::now();
        let mut b = Budget::new(t0);
        assert!((0..600).all(|k| b.admit(at(t0, k * 100)) == Verdict::Pass));
    }

    #[test]
    fn a_burst_passes_then_the_rest_is_refused_with_one_notice_a_second() {
        let t0 = Instant::now();
        let mut b = Budget::new(t0);
        assert!((0..MESSAGE_BURST as usize).all(|_| b.admit(t0) == Verdict::Pass));
        assert_eq!(b.admit(t0), Verdict::Refuse { notify: true, retry_after_ms: 50 });
        assert_eq!(b.admit(t0), Verdict::Refuse { notify: false, retry_after_ms: 50 });
        // A token later, one passes again.
        assert_eq!(b.admit(at(t0, 50)), Verdict::Pass);
        assert!(matches!(b.admit(at(t0, 50)), Verdict::Refuse { notify: false, .. }));
        assert!(matches!(b.admit(at(t0, 1_050)), Verdict::Pass));
    }

    #[test]
    fn a_flood_is_closed_but_a_little_over_the_rate_is_not() {
        // Far over the rate (100 a second) for long enough: closed.
        let t0 = Instant::now();
        let mut b = Budget::new(t0);
        assert!((0..1_000).any(|k| b.admit(at(t0, k * 10)) == Verdict::Close));
        // As fast as it can: closed within the strikes it may collect.
        let mut b = Budget::new(t0);
        let closed = (0..1_000).position(|_| b.admit(t0) == Verdict::Close);
        assert_eq!(closed, Some((MESSAGE_BURST + STRIKES_TO_CLOSE) as usize - 1));
        // 21.7 a second for a minute: some refused, never closed.
        let mut b = Budget::new(t0);
        let verdicts: Vec<Verdict> = (0..1_300).map(|k| b.admit(at(t0, k * 46))).collect();
        assert!(verdicts.iter().all(|v| *v != Verdict::Close));
        assert!(verdicts.iter().any(|v| matches!(v, Verdict::Refuse { .. })));
    }

    #[test]
    fn time_read_out_of_order_adds_nothing() {
        let t0 = Instant::now();
        let mut b = Budget::new(at(t0, 1_000));
        assert!((0..MESSAGE_BURST as usize).all(|_| b.admit(at(t0, 1_000)) == Verdict::Pass));
        assert!(matches!(b.admit(t0), Verdict::Refuse { .. }));
    }
}
