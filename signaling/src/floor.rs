//! Who holds the floor: free, offered ("you're up"), held (a turn), or free discussion.
//! This module keeps the state and its deadlines; the room decides the transitions.

use std::time::{Duration, Instant};

use crate::ids::{ParticipantId, TurnId};
use crate::protocol::{FloorState, FloorView, ReactionKind, Settings, Tally, TurnEnd, TurnRecord};

/// One holding of the floor.
#[derive(Debug, Clone)]
pub struct Turn {
    /// Turn number.
    pub id: TurnId,
    /// The holder.
    pub holder: ParticipantId,
    /// When the holder accepted.
    pub start: Instant,
    /// When the time limit began counting: the turn's start, or the moment the limit
    /// was set or changed during the turn (a new limit never ends a turn at once).
    pub limit_from: Instant,
    /// Reactions so far: people, not presses (see `reacted`).
    pub tally: Tally,
    /// Who reacted with what during this turn: a person counts once per kind, and
    /// pressing the same reaction again withdraws it. At most six entries per person.
    pub reacted: Vec<(ParticipantId, ReactionKind)>,
    /// Warning before the time limit sent.
    pub warned: bool,
    /// Time limit reached (soft limit: notice sent).
    pub time_up: bool,
    /// Since when the holder has been silent (`None` while speaking).
    pub silent_since: Option<Instant>,
    /// The pause cue ("floor open") is showing.
    pub paused: bool,
}

impl Turn {
    /// `who` pressed `kind`: counted if they had not reacted so this turn, withdrawn if
    /// they had. Returns true when it was withdrawn.
    pub fn toggle_reaction(&mut self, who: ParticipantId, kind: ReactionKind) -> bool {
        match self.reacted.iter().position(|&(p, k)| p == who && k == kind) {
            Some(i) => {
                self.reacted.swap_remove(i);
                self.tally.remove(kind);
                true
            }
            None => {
                self.reacted.push((who, kind));
                self.tally.add(kind);
                false
            }
        }
    }

    /// The finished record of this turn.
    pub fn record(
        &self,
        ms: impl Fn(Instant) -> u64,
        end: Option<(Instant, TurnEnd)>,
    ) -> TurnRecord {
        TurnRecord {
            turn: self.id,
            holder: self.holder,
            start_ms: ms(self.start),
            end_ms: end.map(|(at, _)| ms(at)),
            ended: end.map(|(_, why)| why),
            tally: self.tally,
        }
    }

    /// When the time limit ends, if one is set.
    pub fn ends_at(&self, s: &Settings) -> Option<Instant> {
        s.time_limit_ms.map(|l| self.limit_from + Duration::from_millis(l))
    }

    /// When the limit warning is due, if one is set and not yet sent.
    pub fn warning_at(&self, s: &Settings) -> Option<Instant> {
        let end = self.ends_at(s)?;
        let limit = Duration::from_millis(s.time_limit_ms?);
        let warn = Duration::from_millis(s.warning_ms);
        (!self.warned && warn > Duration::ZERO && warn < limit).then(|| end - warn)
    }

    /// When the pause cue is due.
    pub fn pause_at(&self, s: &Settings) -> Option<Instant> {
        let since = self.silent_since?;
        (!self.paused).then(|| since + Duration::from_millis(s.pause_ms))
    }

    /// When silence hands the floor on, if auto-advance is on.
    pub fn advance_at(&self, s: &Settings) -> Option<Instant> {
        Some(self.silent_since? + Duration::from_millis(s.auto_advance_ms?))
    }

    /// The earliest deadline of this turn.
    pub fn next_deadline(&self, s: &Settings) -> Option<Instant> {
        let limit = if self.time_up { None } else { self.ends_at(s) };
        [self.warning_at(s), limit, self.pause_at(s), self.advance_at(s)]
            .into_iter()
            .flatten()
            .min()
    }
}

/// The floor.
#[derive(Debug, Clone)]
pub enum Floor {
    /// Nobody holds or is offered it.
    Free {
        /// Since when.
        since: Instant,
    },
    /// Offered to one participant.
    Offered {
        /// Who.
        to: ParticipantId,
        /// Since when.
        since: Instant,
        /// When the offer lapses.
        expires: Instant,
    },
    /// Held.
    Held(Turn),
    /// Free discussion, no holder.
    Discussion {
        /// Since when.
        since: Instant,
    },
}

impl Floor {
    /// The holder, if held.
    pub fn holder(&self) -> Option<ParticipantId> {
        match self {
            Floor::Held(t) => Some(t.holder),
            _ => None,
        }
    }

    /// Who has the offer, if offered.
    pub fn offered_to(&self) -> Option<ParticipantId> {
        match self {
            Floor::Offered { to, .. } => Some(*to),
            _ => None,
        }
    }

    /// The current turn, if held.
    pub fn turn(&self) -> Option<&Turn> {
        match self {
            Floor::Held(t) => Some(t),
            _ => None,
        }
    }

    /// The current turn, mutably.
    pub fn turn_mut(&mut self) -> Option<&mut Turn> {
        match self {
            Floor::Held(t) => Some(t),
            _ => None,
        }
    }

    /// The earliest deadline of the floor.
    pub fn next_deadline(&self, s: &Settings) -> Option<Instant> {
        match self {
            Floor::Offered { expires, .. } => Some(*expires),
            Floor::Held(t) => t.next_deadline(s),
            Floor::Free { .. } | Floor::Discussion { .. } => None,
        }
    }

    /// The floor as clients see it.
    pub fn view(&self, s: &Settings, ms: impl Fn(Instant) -> u64, now: Instant) -> FloorView {
        let mut v = FloorView {
            state: FloorState::Free,
            holder: None,
            offered_to: None,
            offer_expires_ms: None,
            turn: None,
            since_ms: 0,
            ends_ms: None,
            open: true,
            tally: Tally::default(),
            now_ms: ms(now),
        };
        match self {
            Floor::Free { since } => v.since_ms = ms(*since),
            Floor::Offered { to, since, expires } => {
                v.state = FloorState::Offered;
                v.offered_to = Some(*to);
                v.offer_expires_ms = Some(ms(*expires));
                v.since_ms = ms(*since);
                v.open = false;
            }
            Floor::Held(t) => {
                v.state = FloorState::Held;
                v.holder = Some(t.holder);
                v.turn = Some(t.id);
                v.since_ms = ms(t.start);
                v.ends_ms = t.ends_at(s).map(&ms);
                v.open = t.paused;
                v.tally = t.tally;
            }
            Floor::Discussion { since } => {
                v.state = FloorState::Discussion;
                v.since_ms = ms(*since);
            }
        }
        v
    }
}
