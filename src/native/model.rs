//! The room as a native participant knows it: the `welcome`'s snapshot, kept up to date
//! by every server message after it (sans-IO: arrival times are passed in).
//!
//! The terminal view draws from this and the keys decide from it (whether you are up,
//! hold the floor, have a hand), as the web client's `state.js` does for a page.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use talkstick_signaling::ParticipantId;
use talkstick_signaling::breakouts::{BreakoutsView, GroupView};
use talkstick_signaling::protocol::{
    ActionOnYou, FloorState, FloorView, HandView, ParticipantView, Role, RoomSnapshot, ServerMsg,
    Settings, SlotView, YouView,
};

/// Lines kept for the message area.
const KEPT_LINES: usize = 6;

/// What the room looks like to this participant.
#[derive(Debug, Clone)]
pub struct RoomModel {
    /// Who you are.
    pub you: YouView,
    /// The room's id, as text.
    pub room: String,
    /// Everyone present or within the grace period, in the server's order.
    pub participants: Vec<ParticipantView>,
    /// Raised hands, position 1 first.
    pub queue: Vec<HandView>,
    /// The floor.
    pub floor: FloorView,
    /// The room's settings.
    pub settings: Settings,
    /// Who is heard in each of your receive slots.
    pub slots: Vec<SlotView>,
    /// The offer to you, and when (local time) it lapses.
    pub offer_until: Option<Instant>,
    /// The last lines worth telling (errors, warnings, what a facilitator did), newest
    /// last.
    pub lines: VecDeque<String>,
    /// In a plenary: the breakout groups while they are open.
    pub breakouts: Option<BreakoutsView>,
    /// The note you raised your hand with: the server tells learners' queues without
    /// notes, so this client keeps its own (as a page does).
    pub my_note: Option<String>,
    /// Lines said so far, all told (the message area keeps the last few).
    said_total: u64,
    /// The room clock at `clock_at` (local), for countdowns between messages.
    clock_ms: u64,
    clock_at: Instant,
}

impl RoomModel {
    /// The room as the `welcome` showed it at `at`.
    pub fn new(you: YouView, room: RoomSnapshot, at: Instant) -> Self {
        RoomModel {
            you,
            room: room.id.to_string(),
            participants: room.participants,
            queue: room.queue,
            clock_ms: room.now_ms,
            clock_at: at,
            floor: room.floor,
            settings: room.settings,
            breakouts: room.breakouts,
            slots: Vec::new(),
            offer_until: None,
            lines: VecDeque::new(),
            my_note: None,
            said_total: 0,
        }
    }

    /// Takes in one server message that arrived at `at`.
    pub fn apply(&mut self, msg: &ServerMsg, at: Instant) {
        match msg {
            ServerMsg::Welcome { you, room, .. } => {
                let (lines, said) = (std::mem::take(&mut self.lines), self.said_total);
                let note = self.my_note.take();
                *self = RoomModel::new(you.clone(), (**room).clone(), at);
                self.lines = lines;
                self.said_total = said;
                self.my_note = note.filter(|_| self.my_hand().is_some());
            }
            ServerMsg::ParticipantJoined { participant } => {
                self.participants.retain(|p| p.id != participant.id);
                self.participants.push(participant.clone());
            }
            ServerMsg::ParticipantUpdated { participant } => {
                if let Some(p) = self.participants.iter_mut().find(|p| p.id == participant.id) {
                    *p = participant.clone();
                }
            }
            ServerMsg::Speaking { participant, speaking } => {
                if let Some(p) = self.participants.iter_mut().find(|p| p.id == *participant) {
                    p.speaking = *speaking;
                }
            }
            ServerMsg::ParticipantLeft { participant, .. } => {
                self.participants.retain(|p| p.id != *participant);
            }
            ServerMsg::Queue { hands } => {
                self.queue = hands.clone();
                if self.my_hand().is_none() {
                    self.my_note = None;
                }
            }
            ServerMsg::Floor { floor } => {
                self.clock_ms = floor.now_ms;
                self.clock_at = at;
                if floor.offered_to != Some(self.you.id) {
                    self.offer_until = None;
                }
                self.floor = floor.clone();
            }
            ServerMsg::YoureUp { expires_in_ms } => {
                self.offer_until = Some(at + Duration::from_millis(*expires_in_ms));
                self.say("You're up: press A to take the floor, Esc for later.");
            }
            ServerMsg::OfferExpired => {
                self.offer_until = None;
                self.say("Your turn lapsed and your hand was lowered.");
            }
            ServerMsg::TimeWarning { remaining_ms, .. } if self.holds_floor() => {
                self.say(format!("{} s left in your turn.", remaining_ms.div_ceil(1000)));
            }
            ServerMsg::TimeUp { .. } if self.holds_floor() => self.say("Your time is up."),
            ServerMsg::Reaction { tally: Some(tally), .. } => self.floor.tally = *tally,
            ServerMsg::Settings { settings } => self.settings = settings.clone(),
            ServerMsg::Breakouts { breakouts } => self.breakouts = breakouts.clone(),
            ServerMsg::Slots { slots } => self.slots = slots.clone(),
            ServerMsg::Error { message, .. } => self.say(message.clone()),
            ServerMsg::Goodbye { reason } => self.say(format!("The server closed: {reason}")),
            ServerMsg::FacilitatorAction { by, action, position } => {
                let who = self.name_of(*by).to_owned();
                let what = match action {
                    ActionOnYou::HandMoved => {
                        format!("{who} moved your hand to place {}.", position.unwrap_or(0))
                    }
                    ActionOnYou::HandRemoved => format!("{who} lowered your hand."),
                    ActionOnYou::HandsCleared => format!("{who} cleared every hand."),
                    ActionOnYou::Muted => format!("{who} muted you."),
                    ActionOnYou::Unmuted => format!("{who} unmuted you."),
                    ActionOnYou::FloorTakenBack => format!("{who} took the floor back."),
                };
                self.say(what);
            }
            ServerMsg::Notice { message, .. } => self.say(message.clone()),
            _ => {}
        }
    }

    /// Adds a line to the message area (the oldest goes past the last six).
    pub fn say(&mut self, line: impl Into<String>) {
        let line = line.into();
        // The same words twice in a row (an offer made again) are said once.
        if self.lines.back() == Some(&line) {
            return;
        }
        self.said_total += 1;
        self.lines.push_back(line);
        while self.lines.len() > KEPT_LINES {
            self.lines.pop_front();
        }
    }

    /// Lines said so far, all told.
    pub fn said_total(&self) -> u64 {
        self.said_total
    }

    /// The room clock at `now`, estimated from the last floor message.
    pub fn room_ms(&self, now: Instant) -> u64 {
        self.clock_ms + now.saturating_duration_since(self.clock_at).as_millis() as u64
    }

    /// A participant's name, or "someone" once they are gone.
    pub fn name_of(&self, id: ParticipantId) -> &str {
        self.participants.iter().find(|p| p.id == id).map_or("someone", |p| p.name.as_str())
    }

    /// Your own entry.
    pub fn me(&self) -> Option<&ParticipantView> {
        self.participants.iter().find(|p| p.id == self.you.id)
    }

    /// A hand's note as this participant may see it: the server's, or for your own
    /// hand the note you raised it with.
    pub fn note_of<'a>(&'a self, h: &'a HandView) -> Option<&'a str> {
        h.note.as_deref().or(if h.participant == self.you.id {
            self.my_note.as_deref()
        } else {
            None
        })
    }

    /// In a plenary with breakout groups open: the group the plenary puts you in.
    pub fn my_group(&self) -> Option<&GroupView> {
        let b = self.breakouts.as_ref()?;
        b.groups.iter().find(|g| g.open && g.members.contains(&self.you.id))
    }

    /// Your hand, if raised.
    pub fn my_hand(&self) -> Option<&HandView> {
        self.queue.iter().find(|h| h.participant == self.you.id)
    }

    /// True while you hold the floor.
    pub fn holds_floor(&self) -> bool {
        self.floor.state == FloorState::Held && self.floor.holder == Some(self.you.id)
    }

    /// True while the floor is offered to you.
    pub fn offered_to_me(&self) -> bool {
        self.floor.state == FloorState::Offered && self.floor.offered_to == Some(self.you.id)
    }

    /// True for a facilitator.
    pub fn is_facilitator(&self) -> bool {
        self.you.role == Role::Facilitator
    }

    /// Whether your microphone may be heard now: in an open room always; in a moderated
    /// one while you hold the floor, in a free discussion, or as a facilitator.
    pub fn may_speak(&self) -> bool {
        use talkstick_signaling::protocol::Mode;
        self.settings.mode == Mode::Open
            || self.is_facilitator()
            || self.holds_floor()
            || self.floor.state == FloorState::Discussion
    }
}

/// A room for the tests of this module and its neighbours.
#[cfg(test)]
pub(super) mod tests_support {
    use super::*;
    use talkstick_signaling::protocol;

    /// A room of two as a `welcome` shows it, as this client is Aino (a learner).
    pub(in crate::native) fn room() -> RoomModel {
        let (you, room) = welcome();
        RoomModel::new(you, room, Instant::now())
    }

    /// An untimed round of breakout groups placed by a facilitator, each given as
    /// `(number, open, members)`.
    pub(in crate::native) fn round(
        groups: &[(u32, bool, &[ParticipantId])],
    ) -> talkstick_signaling::breakouts::BreakoutsView {
        use talkstick_signaling::breakouts::{BreakoutsView, GroupView};
        let groups = groups
            .iter()
            .map(|(no, open, members)| GroupView {
                no: *no,
                name: format!("Group {no}"),
                room: format!("demo.1.{no}").parse().unwrap(),
                members: members.to_vec(),
                leads: vec![],
                open: *open,
                help: vec![],
            })
            .collect();
        BreakoutsView {
            round: 1,
            opened_ms: 0,
            ends_ms: None,
            closes_ms: None,
            choose: false,
            groups,
        }
    }

    /// A `welcome` as the server encodes it.
    pub(in crate::native) fn welcome() -> (YouView, RoomSnapshot) {
        let json = r##"{"type":"welcome","seq":1,"protocol":1,
            "you":{"id":1,"role":"learner","resume_token":"r-0123456789abcdef","resumed":false},
            "room":{"id":"demo","now_ms":1000,"settings":{"mode":"moderated","policy":"fifo",
              "auto_offer":true,"offer_timeout_ms":15000,"time_limit_ms":null,"warning_ms":30000,
              "limit_action":"soft","pause_ms":3000,"auto_advance_ms":null,"max_replies":3},
              "participants":[
                {"id":1,"name":"Aino","initials":"A","colour":"#1F77B4","role":"learner","presence":"present",
                 "connected":true,"mic_on":true,"force_muted":false,"push_to_talk":false,"speaking":false,"audio":true},
                {"id":2,"name":"Bertil","initials":"B","colour":"#FF7F0E","role":"facilitator","presence":"present",
                 "connected":true,"mic_on":true,"force_muted":false,"push_to_talk":false,"speaking":false,"audio":true}],
              "queue":[],
              "floor":{"state":"free","holder":null,"offered_to":null,"offer_expires_ms":null,"turn":null,
                "since_ms":0,"ends_ms":null,"open":true,"tally":{"agree":0,"disagree":0,"question":0,
                "applause":0,"slower":0,"cant_hear":0},"now_ms":1000},
              "audio_slots":3}}"##;
        match protocol::decode_server(json) {
            Ok(f) => match f.msg {
                ServerMsg::Welcome { you, room, .. } => (you, *room),
                other => panic!("not a welcome: {other:?}"),
            },
            Err(e) => panic!("the welcome does not decode: {e:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::welcome;
    use super::*;
    use talkstick_signaling::protocol::HandKind;

    #[test]
    fn follows_the_queue_the_offer_and_the_floor() {
        let t0 = Instant::now();
        let (you, room) = welcome();
        let me = you.id;
        let mut m = RoomModel::new(you, room, t0);
        assert!(!m.may_speak(), "moderated, and the floor is free");
        let hand = HandView {
            participant: me,
            position: 1,
            kind: HandKind::NewPoint,
            raised_ms: 1000,
            note: Some("cost".into()),
        };
        m.apply(&ServerMsg::Queue { hands: vec![hand] }, t0);
        assert_eq!(m.my_hand().map(|h| h.position), Some(1));
        let mut floor = m.floor.clone();
        floor.state = FloorState::Offered;
        floor.offered_to = Some(me);
        m.apply(&ServerMsg::Floor { floor: floor.clone() }, t0);
        m.apply(&ServerMsg::YoureUp { expires_in_ms: 15_000 }, t0);
        assert!(m.offered_to_me());
        assert_eq!(m.offer_until, Some(t0 + Duration::from_secs(15)));
        assert!(m.lines.back().unwrap().contains("You're up"));
        floor.state = FloorState::Held;
        floor.holder = Some(me);
        floor.offered_to = None;
        floor.now_ms = 5000;
        m.apply(&ServerMsg::Floor { floor }, t0 + Duration::from_secs(1));
        assert!(m.holds_floor() && m.may_speak() && m.offer_until.is_none());
        assert_eq!(
            m.room_ms(t0 + Duration::from_secs(3)),
            7000,
            "the clock runs on between messages"
        );
    }

    #[test]
    fn your_own_note_is_kept_here_and_an_offer_made_twice_is_said_once() {
        let t0 = Instant::now();
        let (you, room) = welcome();
        let me = you.id;
        let mut m = RoomModel::new(you, room, t0);
        m.my_note = Some("costs".into());
        // Learners' queues come without notes, yours included.
        let hand = HandView {
            participant: me,
            position: 1,
            kind: HandKind::Reply,
            raised_ms: 0,
            note: None,
        };
        m.apply(&ServerMsg::Queue { hands: vec![hand.clone()] }, t0);
        assert_eq!(m.note_of(&hand), Some("costs"));
        let other = HandView { participant: m.participants[1].id, ..hand };
        assert_eq!(m.note_of(&other), None, "nobody else's");
        m.apply(&ServerMsg::YoureUp { expires_in_ms: 1000 }, t0);
        m.apply(&ServerMsg::YoureUp { expires_in_ms: 1000 }, t0);
        assert_eq!(m.lines.len(), 1);
        m.apply(&ServerMsg::Queue { hands: vec![] }, t0);
        assert_eq!(m.my_note, None, "the note goes with the hand");
    }

    #[test]
    fn people_come_go_and_change() {
        let t0 = Instant::now();
        let (you, room) = welcome();
        let mut m = RoomModel::new(you, room, t0);
        let mut bertil = m.participants[1].clone();
        m.apply(&ServerMsg::Speaking { participant: bertil.id, speaking: true }, t0);
        assert!(m.participants[1].speaking);
        bertil.mic_on = false;
        m.apply(&ServerMsg::ParticipantUpdated { participant: bertil.clone() }, t0);
        assert!(!m.participants[1].mic_on);
        m.apply(
            &ServerMsg::ParticipantLeft {
                participant: bertil.id,
                reason: talkstick_signaling::protocol::LeaveReason::Left,
            },
            t0,
        );
        assert_eq!(m.participants.len(), 1);
        assert_eq!(m.name_of(bertil.id), "someone");
        for i in 0..20 {
            m.say(format!("line {i}"));
        }
        assert_eq!(m.lines.len(), KEPT_LINES, "the message area is bounded");
    }
}
