//! One person in a room: identity, state, and their running statistics.

use std::time::{Duration, Instant};

use crate::ids::{LinkId, ParticipantId, ResumeHash};
use crate::protocol::{ParticipantView, PersonStats, Presence, Role};
use crate::reactions::Bucket;

/// A participant, present or within the reconnect grace period.
#[derive(Debug, Clone)]
pub(crate) struct Participant {
    pub(crate) id: ParticipantId,
    pub(crate) name: String,
    pub(crate) initials: String,
    pub(crate) colour: String,
    pub(crate) role: Role,
    pub(crate) presence: Presence,
    pub(crate) resume: ResumeHash,
    /// The link they joined with, if the caller said.
    pub(crate) link: Option<LinkId>,
    /// `Some` while the connection is down.
    pub(crate) disconnected_at: Option<Instant>,
    pub(crate) mic_on: bool,
    /// Whether the microphone was on when they took the floor, while they hold it: the
    /// turn's end puts it back (a microphone opened to speak is closed by "I'm done").
    pub(crate) mic_before_turn: Option<bool>,
    pub(crate) force_muted: bool,
    /// Muted and asking to be unmuted.
    pub(crate) unmute_requested: bool,
    /// A facilitator's mute lifted for the turn they hold: it comes back when the turn
    /// ends (unless a facilitator unmutes them meanwhile).
    pub(crate) muted_before_turn: bool,
    pub(crate) push_to_talk: bool,
    /// Speaking and heard: `voice` while forwarded (what everyone is shown).
    pub(crate) speaking: bool,
    /// Voice activity as the media plane detects it, heard or not.
    pub(crate) voice: bool,
    /// Has a live audio connection (from the media plane).
    pub(crate) audio: bool,
    /// The media gate last told to the media plane.
    pub(crate) gate: bool,
    /// A facilitator listening in on a breakout group: never forwarded.
    pub(crate) listening: bool,
    pub(crate) bucket: Bucket,
    /// Hand, microphone, away and push-to-talk changes ([`crate::reactions::TOGGLES`]).
    pub(crate) toggles: Bucket,
    /// Chat messages ([`crate::reactions::CHAT`]).
    pub(crate) chat: Bucket,
    /// Choosing one's own breakout group ([`crate::reactions::GROUP_MOVES`]).
    pub(crate) moves: Bucket,
    /// Since when they have been talking (holding the floor or speaking).
    pub(crate) talking_since: Option<Instant>,
    pub(crate) talk: Duration,
    pub(crate) turns: u32,
    pub(crate) reactions_given: u32,
    pub(crate) reactions_received: u32,
    pub(crate) wait: Duration,
}

impl Participant {
    pub(crate) fn new(
        id: ParticipantId,
        name: String,
        colour: String,
        role: Role,
        resume: ResumeHash,
        now: Instant,
    ) -> Self {
        Participant {
            id,
            initials: crate::colour::initials(&name),
            name,
            colour,
            role,
            presence: Presence::Present,
            resume,
            link: None,
            disconnected_at: None,
            mic_on: false,
            mic_before_turn: None,
            force_muted: false,
            unmute_requested: false,
            muted_before_turn: false,
            push_to_talk: false,
            listening: false,
            speaking: false,
            voice: false,
            audio: false,
            gate: false,
            bucket: Bucket::new(now),
            toggles: Bucket::with(now, crate::reactions::TOGGLES),
            chat: Bucket::with(now, crate::reactions::CHAT),
            moves: Bucket::with(now, crate::reactions::GROUP_MOVES),
            talking_since: None,
            talk: Duration::ZERO,
            turns: 0,
            reactions_given: 0,
            reactions_received: 0,
            wait: Duration::ZERO,
        }
    }

    /// Talk time up to `now`.
    pub(crate) fn talk_at(&self, now: Instant) -> Duration {
        self.talk + self.talking_since.map_or(Duration::ZERO, |s| now.saturating_duration_since(s))
    }

    /// Starts or stops the talk clock. Talking means holding the floor or speaking; the
    /// clock runs over the union of both, so it never exceeds time in the room.
    pub(crate) fn set_talking(&mut self, talking: bool, now: Instant) {
        match (talking, self.talking_since) {
            (true, None) => self.talking_since = Some(now),
            (false, Some(since)) => {
                self.talk += now.saturating_duration_since(since);
                self.talking_since = None;
            }
            _ => {}
        }
    }

    pub(crate) fn view(&self) -> ParticipantView {
        ParticipantView {
            id: self.id,
            name: self.name.clone(),
            initials: self.initials.clone(),
            colour: self.colour.clone(),
            role: self.role,
            presence: self.presence,
            connected: self.disconnected_at.is_none(),
            mic_on: self.mic_on,
            force_muted: self.force_muted,
            unmute_requested: self.unmute_requested,
            push_to_talk: self.push_to_talk,
            speaking: self.speaking,
            audio: self.audio,
            listening: self.listening,
        }
    }

    pub(crate) fn stats(&self, now: Instant, present: bool) -> PersonStats {
        PersonStats {
            participant: self.id,
            name: self.name.clone(),
            colour: self.colour.clone(),
            present,
            talk_ms: self.talk_at(now).as_millis() as u64,
            turns: self.turns,
            reactions_given: self.reactions_given,
            reactions_received: self.reactions_received,
            wait_ms: self.wait.as_millis() as u64,
        }
    }
}
