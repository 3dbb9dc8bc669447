//! What a client that hears every broadcast believes about the room. After each input it
//! must match the room itself: every change a client can see is told, and in full.

use std::collections::BTreeMap;
use std::time::Instant;

use talkstick_signaling::protocol::{
    FloorView, HandView, ParticipantView, Role, ServerMsg, Settings,
};
use talkstick_signaling::{Audience, Output, ParticipantId, Room};

/// Room state rebuilt from the outputs alone.
pub(crate) struct Mirror {
    participants: BTreeMap<ParticipantId, ParticipantView>,
    floor: FloorView,
    /// The queue as facilitators see it (with notes).
    queue: Vec<HandView>,
    settings: Settings,
}

impl Mirror {
    /// What clients know of an empty room: its settings and a free floor.
    pub(crate) fn new(room: &Room, now: Instant) -> Self {
        Mirror {
            participants: BTreeMap::new(),
            floor: room.floor_view(now),
            queue: Vec::new(),
            settings: room.settings().clone(),
        }
    }

    /// Takes in one output.
    pub(crate) fn apply(&mut self, out: &Output) {
        let Output::Send { to, msg, .. } = out else { return };
        match msg {
            ServerMsg::ParticipantJoined { participant }
            | ServerMsg::ParticipantUpdated { participant } => {
                self.participants.insert(participant.id, participant.clone());
            }
            ServerMsg::ParticipantLeft { participant, .. } => {
                assert!(self.participants.remove(participant).is_some(), "{participant}");
            }
            ServerMsg::Speaking { participant, speaking } => {
                let p = self.participants.get_mut(participant).expect("speaker is known");
                p.speaking = *speaking;
            }
            ServerMsg::Queue { hands } if *to == Audience::Facilitators => {
                self.queue = hands.clone();
            }
            ServerMsg::Floor { floor } => self.floor = floor.clone(),
            ServerMsg::Reaction { turn, tally, .. } => {
                assert_eq!(*turn, self.floor.turn, "a reaction counts toward the current turn");
                if let Some(tally) = tally {
                    self.floor.tally = *tally;
                }
            }
            ServerMsg::Settings { settings } => self.settings = settings.clone(),
            _ => {}
        }
    }

    /// The mirror agrees with the room at `now`.
    #[track_caller]
    pub(crate) fn assert_matches(&self, room: &Room, now: Instant) {
        let views: BTreeMap<ParticipantId, ParticipantView> =
            room.participant_ids().into_iter().map(|p| (p, room.participant(p).unwrap())).collect();
        assert_eq!(self.participants, views, "participants as told");
        let mut floor = room.floor_view(now);
        floor.now_ms = self.floor.now_ms;
        assert_eq!(self.floor, floor, "floor as told");
        let facilitator = views.values().find(|v| v.role == Role::Facilitator).map(|v| v.id);
        let queue = match facilitator {
            Some(f) => room.queue_view(Some(f)),
            // Nobody sees notes without a facilitator here; compare the rest.
            None => {
                let mut q = self.queue.clone();
                q.iter_mut().for_each(|h| h.note = None);
                assert_eq!(q, room.queue_view(None), "queue as told");
                return self.assert_settings(room);
            }
        };
        assert_eq!(self.queue, queue, "queue as told");
        self.assert_settings(room);
    }

    fn assert_settings(&self, room: &Room) {
        assert_eq!(&self.settings, room.settings(), "settings as told");
    }
}
