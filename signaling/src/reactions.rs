//! Reaction rate limiting: a token bucket per person on passed-in time.

use std::time::{Duration, Instant};

/// Burst size: reactions allowed back to back.
pub const BURST: u32 = 5;
/// One reaction token comes back this often.
pub const REFILL: Duration = Duration::from_millis(1_000);

/// A token bucket holding up to [`BURST`] reactions, refilled one per [`REFILL`].
#[derive(Debug, Clone)]
pub struct Bucket {
    tokens: u32,
    last: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(now: Instant) -> Self {
        Bucket { tokens: BURST, last: now }
    }

    fn refill(&mut self, now: Instant) {
        let since = now.saturating_duration_since(self.last);
        let earned = (since.as_nanos() / REFILL.as_nanos()) as u32;
        if earned > 0 {
            self.tokens = (self.tokens + earned).min(BURST);
            self.last = if self.tokens == BURST { now } else { self.last + REFILL * earned };
        }
    }

    /// Takes a token, or says how long until one is free. Never changes state on refusal
    /// beyond bringing the refill up to `now`.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens == 0 {
            return Err((self.last + REFILL).saturating_duration_since(now));
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
