//! Floor and queue transitions shared by the handlers, and the inputs that do not come
//! from a client: timeouts, disconnects and speech.

use std::time::{Duration, Instant};

use super::{Audience, RESUME_GRACE, Room};
use crate::error::RoomError;
use crate::floor::{Floor, Turn};
use crate::ids::ParticipantId;
use crate::protocol::{HandKind, LeaveReason, LimitAction, ServerMsg, TurnEnd};

/// Most deadline rounds handled in one timeout; each round moves state forward, so this
/// only guards against a bug turning into a busy loop.
const MAX_TIMEOUT_ROUNDS: usize = 32;

impl Room {
    /// Removes a participant's hand (if any), counting the time they waited.
    pub(super) fn drop_hand(&mut self, now: Instant, who: ParticipantId) -> bool {
        let Some(hand) = self.queue.remove(who) else {
            return false;
        };
        if let Some(p) = self.participants.get_mut(&who) {
            p.wait += now.saturating_duration_since(hand.raised_at);
        }
        self.queue_dirty = true;
        true
    }

    /// Ends the current turn, if any, recording how it ended. The floor becomes free.
    pub(super) fn end_turn(&mut self, now: Instant, why: TurnEnd) {
        let Floor::Held(turn) = &self.floor else {
            return;
        };
        let record = turn.record(|t| self.ms(t), Some((now, why)));
        let holder = turn.holder;
        self.floor = Floor::Free { since: now };
        self.floor_dirty = true;
        let mut mic_closed = false;
        if let Some(p) = self.participants.get_mut(&holder) {
            let speaking = p.speaking;
            p.set_talking(speaking, now);
            // A microphone that was off when the turn began goes off again with it.
            if p.mic_before_turn.take() == Some(false) && p.mic_on {
                p.mic_on = false;
                mic_closed = true;
            }
            // A mute lifted for the turn comes back.
            if std::mem::take(&mut p.muted_before_turn) {
                p.force_muted = true;
                p.mic_on = false;
                mic_closed = true;
            }
        }
        if mic_closed {
            self.participant_updated(holder);
        }
        self.history.push(record.clone());
        if self.history.len() > super::MAX_HISTORY {
            // The report keeps the latest turns; everyone's totals stay exact.
            self.history.drain(..self.history.len() - super::MAX_HISTORY);
        }
        self.broadcast(Audience::All, ServerMsg::TurnEnded { turn: record });
    }

    /// Frees the floor (withdrawing an offer or closing discussion) without touching hands.
    pub(super) fn free_floor(&mut self, now: Instant) {
        if !matches!(self.floor, Floor::Free { .. }) {
            self.floor = Floor::Free { since: now };
            self.floor_dirty = true;
        }
    }

    /// When the floor is free and auto-offer is on, offers it to the head of the queue.
    pub(super) fn maybe_offer(&mut self, now: Instant) {
        // While breakout groups are open the plenary's floor waits for everyone.
        if self.settings.auto_offer
            && self.round.is_none()
            && matches!(self.floor, Floor::Free { .. })
            && let Some(head) = self.next_up()
        {
            self.offer(now, head);
        }
    }

    /// Offers the floor: "you're up", with the acceptance window.
    pub(super) fn offer(&mut self, now: Instant, to: ParticipantId) {
        let expires = now + Duration::from_millis(self.settings.offer_timeout_ms);
        self.floor = Floor::Offered { to, since: now, expires };
        self.floor_dirty = true;
        self.new_offer = Some(to);
    }

    /// Gives the floor to `holder`: their hand comes down and a new turn starts.
    pub(super) fn start_turn(&mut self, now: Instant, holder: ParticipantId) {
        // A reply that went ahead because it answered the latest turn extends the run of
        // replies; any other turn ends it.
        let latest = self.order().latest_turn;
        let by_reply = self
            .queue
            .get(holder)
            .is_some_and(|h| h.kind == HandKind::Reply && h.answers == latest);
        self.reply_streak = if by_reply { self.reply_streak.saturating_add(1) } else { 0 };
        self.drop_hand(now, holder);
        let id = self.take_turn_id();
        // Replies to the turn before no longer go ahead.
        self.sort_queue(now, false);
        let speaking = self.participants.get(&holder).is_some_and(|p| p.speaking);
        self.floor = Floor::Held(Turn {
            id,
            holder,
            start: now,
            limit_from: now,
            tally: Default::default(),
            reacted: Vec::new(),
            warned: false,
            time_up: false,
            silent_since: (!speaking).then_some(now),
            paused: false,
        });
        self.floor_dirty = true;
        if let Some(p) = self.participants.get_mut(&holder) {
            p.turns += 1;
            p.set_talking(true, now);
            p.mic_before_turn = Some(p.mic_on);
        }
        // Whoever takes the floor is heard for that turn: a facilitator's mute is lifted
        // until the turn ends.
        if let Some(p) = self.participants.get_mut(&holder).filter(|p| p.force_muted) {
            p.force_muted = false;
            p.unmute_requested = false;
            p.muted_before_turn = true;
            self.participant_updated(holder);
        }
    }

    /// Ends the turn and passes the floor on (to the head of the queue, if auto-offer).
    pub(super) fn finish_turn(&mut self, now: Instant, why: TurnEnd) {
        self.end_turn(now, why);
        self.maybe_offer(now);
    }

    pub(super) fn on_disconnected(
        &mut self,
        now: Instant,
        who: ParticipantId,
    ) -> Result<(), RoomError> {
        let p = self.participants.get_mut(&who).ok_or(RoomError::UnknownParticipant(who))?;
        if p.disconnected_at.is_some() {
            return Ok(());
        }
        p.disconnected_at = Some(now);
        p.voice = false;
        let was_speaking = std::mem::take(&mut p.speaking);
        if was_speaking {
            self.holder_speech(now, who, false);
        }
        self.refresh_talking(now, who);
        self.participant_updated(who);
        Ok(())
    }

    pub(super) fn on_speaking(
        &mut self,
        now: Instant,
        who: ParticipantId,
        speaking: bool,
    ) -> Result<(), RoomError> {
        let p = self.participants.get_mut(&who).ok_or(RoomError::UnknownParticipant(who))?;
        if speaking && p.disconnected_at.is_some() {
            return Ok(());
        }
        p.voice = speaking;
        self.apply_heard(now, who);
        Ok(())
    }

    /// Shows `who` as speaking only while their voice is heard (forwarded): someone
    /// talking into a microphone that moderated mode or a mute keeps from the others is
    /// not "speaking" to anyone, and their talk time does not run.
    pub(super) fn apply_heard(&mut self, now: Instant, who: ParticipantId) {
        let Some(p) = self.participants.get_mut(&who) else { return };
        let heard = p.voice && p.gate && p.disconnected_at.is_none();
        if heard == p.speaking {
            return;
        }
        p.speaking = heard;
        self.refresh_talking(now, who);
        self.holder_speech(now, who, heard);
        self.broadcast(Audience::All, ServerMsg::Speaking { participant: who, speaking: heard });
    }

    /// Runs the talk clock for whoever holds the floor or speaks.
    fn refresh_talking(&mut self, now: Instant, who: ParticipantId) {
        let holds = self.floor.holder() == Some(who);
        if let Some(p) = self.participants.get_mut(&who) {
            let talking = holds || p.speaking;
            p.set_talking(talking, now);
        }
    }

    /// Tracks the holder's silence for the pause cue and auto-advance.
    fn holder_speech(&mut self, now: Instant, who: ParticipantId, speaking: bool) {
        let Some(turn) = self.floor.turn_mut().filter(|t| t.holder == who) else {
            return;
        };
        if speaking {
            turn.silent_since = None;
            if turn.paused {
                turn.paused = false;
                self.floor_dirty = true;
            }
        } else if turn.silent_since.is_none() {
            turn.silent_since = Some(now);
        }
    }

    pub(super) fn on_timeout(&mut self, now: Instant) {
        let lapsed: Vec<ParticipantId> = self
            .participants
            .values()
            .filter(|p| p.disconnected_at.is_some_and(|t| t + RESUME_GRACE <= now))
            .map(|p| p.id)
            .collect();
        for who in lapsed {
            self.remove(now, who, LeaveReason::TimedOut);
        }
        for _ in 0..MAX_TIMEOUT_ROUNDS {
            if !self.floor_deadline(now) {
                break;
            }
        }
        self.breakout_deadline(now);
    }

    /// Handles the earliest floor deadline that is due; false when none is.
    fn floor_deadline(&mut self, now: Instant) -> bool {
        let settings = self.settings.clone();
        match &mut self.floor {
            Floor::Offered { to, expires, .. } if *expires <= now => {
                let to = *to;
                self.drop_hand(now, to);
                self.tell(to, ServerMsg::OfferExpired);
                self.free_floor(now);
                self.maybe_offer(now);
                true
            }
            Floor::Held(turn) => {
                let id = turn.id;
                if turn.warning_at(&settings).is_some_and(|t| t <= now) {
                    turn.warned = true;
                    let remaining_ms = turn
                        .ends_at(&settings)
                        .map_or(0, |end| end.saturating_duration_since(now).as_millis() as u64);
                    self.broadcast(
                        Audience::All,
                        ServerMsg::TimeWarning { turn: id, remaining_ms },
                    );
                } else if !turn.time_up && turn.ends_at(&settings).is_some_and(|t| t <= now) {
                    turn.time_up = true;
                    match settings.limit_action {
                        LimitAction::Soft => {
                            self.broadcast(Audience::All, ServerMsg::TimeUp { turn: id })
                        }
                        LimitAction::Hard => self.finish_turn(now, TurnEnd::TimeLimit),
                    }
                } else if turn.advance_at(&settings).is_some_and(|t| t <= now) {
                    self.finish_turn(now, TurnEnd::Silence);
                } else if turn.pause_at(&settings).is_some_and(|t| t <= now) {
                    turn.paused = true;
                    self.floor_dirty = true;
                } else {
                    return false;
                }
                true
            }
            _ => false,
        }
    }
}
