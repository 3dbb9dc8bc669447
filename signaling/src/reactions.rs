//! Rate limiting of what one person may repeat: a token bucket per person and kind, on
//! passed-in time. Reactions have theirs ([`REACTIONS`]), and so do the state toggles
//! that each reach everyone in the room — hand up or down, microphone, away,
//! push-to-talk ([`TOGGLES`]) — so one client cannot keep the whole room busy.

use std::time::{Duration, Instant};

/// Burst size: reactions allowed back to back.
pub const BURST: u32 = 5;
/// One reaction token comes back this often.
pub const REFILL: Duration = Duration::from_millis(1_000);

/// How many of one kind of action a person may take at once, and how fast more come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Actions allowed back to back.
    pub burst: u32,
    /// One more comes back this often.
    pub refill: Duration,
}

/// Reactions: [`BURST`] at once, one a second after that.
pub const REACTIONS: Limit = Limit { burst: BURST, refill: REFILL };

/// Raising or lowering a hand, and setting microphone, away or push-to-talk: ten at once
/// (push-to-talk sends two per press), five a second after that.
pub const TOGGLES: Limit = Limit { burst: 10, refill: Duration::from_millis(200) };

/// Chat messages: as reactions, five at once, one a second after that.
pub const CHAT: Limit = REACTIONS;

/// Choosing one's own breakout group: four at once, one every two seconds after that
/// (each change closes a group connection and opens another, with its audio).
pub const GROUP_MOVES: Limit = Limit { burst: 4, refill: Duration::from_secs(2) };

/// A token bucket holding up to `limit.burst` actions, refilled one per `limit.refill`.
#[derive(Debug, Clone)]
pub struct Bucket {
    tokens: u32,
    last: Instant,
    limit: Limit,
}

impl Bucket {
    /// A full bucket of reactions.
    pub fn new(now: Instant) -> Self {
        Bucket::with(now, REACTIONS)
    }

    /// A full bucket for `limit`.
    pub fn with(now: Instant, limit: Limit) -> Self {
        Bucket { tokens: limit.burst, last: now, limit }
    }

    fn refill(&mut self, now: Instant) {
        let Limit { burst, refill } = self.limit;
        let since = now.saturating_duration_since(self.last);
        let earned = (since.as_nanos() / refill.as_nanos()).min(u128::from(burst)) as u32;
        if earned > 0 {
            self.tokens = (self.tokens + earned).min(burst);
            self.last = if self.tokens == burst { now } else { self.last + refill * earned };
        }
    }

    /// Takes a token, or says how long until one is free. Never changes state on refusal
    /// beyond bringing the refill up to `now`.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens == 0 {
            return Err((self.last + self.limit.refill).saturating_duration_since(now));
        }
        self.tokens -= 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let t = Instant::now();
        let mut b = Bucket::new(t);
        for _ in 0..BURST {
            assert!(b.take(t).is_ok());
        }
        let wait = b.take(t).unwrap_err();
        assert!(wait <= REFILL && wait > Duration::ZERO);
        assert!(b.take(t + Duration::from_millis(500)).is_err());
        assert!(b.take(t + REFILL).is_ok());
        assert!(b.take(t + REFILL).is_err());
        for _ in 0..BURST {
            assert!(b.take(t + REFILL * 20).is_ok());
        }
    }
}
