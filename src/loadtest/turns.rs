//! One speaker at a time on the scenario's turn lengths, through the speech asset: the
//! schedule the relay baseline and the Janus driver share (the Talkstick scenario runs
//! the floor protocol instead).

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Ctx;
use super::metrics::Metrics;

/// Who speaks, until when, and where in the asset.
pub(super) struct Turns {
    rng: StdRng,
    speaker: usize,
    until: Instant,
    cursor: usize,
    members: usize,
    turn_ms: (u64, u64),
    frames: usize,
}

impl Turns {
    /// Room `index` of `members` people: the second speaks first (the first is the
    /// facilitator's place in the scenario), and each room starts at its own place in
    /// the speech.
    pub(super) fn new(ctx: &Ctx, index: usize, members: usize) -> Turns {
        let mut rng = StdRng::seed_from_u64(index as u64 + 1);
        let until =
            Instant::now() + Duration::from_millis(rng.random_range(ctx.turn_ms.0..=ctx.turn_ms.1));
        Turns {
            rng,
            speaker: 1.min(members.saturating_sub(1)),
            until,
            cursor: (index * 97) % ctx.speech.len().max(1),
            members,
            turn_ms: ctx.turn_ms,
            frames: ctx.speech.len().max(1),
        }
    }

    /// The speaker at `now`, handing over (counted in `m`) when the turn is up.
    pub(super) fn speaker(&mut self, now: Instant, m: &mut Metrics) -> usize {
        if self.until <= now && self.members > 1 {
            self.speaker = 1 + (self.speaker % (self.members - 1));
            let (lo, hi) = self.turn_ms;
            self.until = now + Duration::from_millis(self.rng.random_range(lo..=hi));
            m.handovers += 1;
            m.rooms_with_handover = 1;
        }
        self.speaker
    }

    /// The next frame of the speech asset.
    pub(super) fn next_frame(&mut self) -> usize {
        let frame = self.cursor;
        self.cursor = (self.cursor + 1) % self.frames;
        frame
    }
}
