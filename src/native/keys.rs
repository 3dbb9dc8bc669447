//! What each key does in the terminal, decided from the room as this participant knows
//! it ([`RoomModel`]) and the terminal's own state ([`Ui`]). Pure: a key in, the
//! messages to send and the local changes out, so every key is testable without a
//! terminal. The keys are the web client's shortcuts where it has them.

use std::time::{Duration, Instant};

use talkstick_signaling::protocol::{ClientMsg, HandKind, Presence, ReactionKind};

use super::model::RoomModel;

/// A key as the terminal reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A printable character (with Shift already applied: `M`).
    Char(char),
    /// Enter.
    Enter,
    /// Tab.
    Tab,
    /// Escape.
    Esc,
    /// Backspace.
    Backspace,
    /// Ctrl+C.
    Interrupt,
    /// Space released (only from terminals that report key releases).
    SpaceUp,
}

/// How long one Space press keeps the microphone open under push-to-talk, when the
/// terminal reports no key releases: the key's auto-repeat keeps it open while held.
pub const PTT_HOLD: Duration = Duration::from_millis(600);

/// The most characters of a note (the server's own limit is checked there too).
const NOTE_CHARS: usize = 200;

/// The terminal's own state: what is being typed, and the microphone as this client
/// runs it.
#[derive(Debug, Clone)]
pub struct Ui {
    /// Your microphone is on (what you chose; the server may still mute you).
    pub mic_on: bool,
    /// Push-to-talk: the microphone is heard only while Space is held.
    pub push_to_talk: bool,
    /// Under push-to-talk, the microphone is open until then.
    pub ptt_until: Option<Instant>,
    /// A note being typed for a hand (`Some` while typing).
    pub note: Option<String>,
    /// The help panel is shown.
    pub help: bool,
    /// Q was pressed once: a second Q leaves.
    pub confirm_leave: bool,
}

impl Default for Ui {
    fn default() -> Self {
        Ui {
            mic_on: true,
            push_to_talk: false,
            ptt_until: None,
            note: None,
            help: false,
            confirm_leave: false,
        }
    }
}

/// What a key leads to.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send this to the server.
    Send(ClientMsg),
    /// Ask the plenary's facilitators for help, or cancel the request (it goes to the
    /// plenary wherever we sit: see [`help_request`]).
    Help,
    /// Go into the next breakout group, where people choose theirs (it goes to the
    /// plenary wherever we sit: see [`next_group`]).
    ChangeGroup,
    /// Leave the room and end the program.
    Leave,
}

/// What the help key sends to the plenary, from the plenary's view of us: a request
/// while we sit in a group and have none waiting, its withdrawal while one waits; or
/// why there is nothing to ask.
pub fn help_request(plenary: &RoomModel) -> Result<ClientMsg, &'static str> {
    let group = plenary
        .my_group()
        .ok_or("Help is asked from a breakout group: here, raise your hand instead.")?;
    let waiting = group.help.iter().any(|h| h.participant == plenary.you.id);
    Ok(if waiting { ClientMsg::WithdrawHelp } else { ClientMsg::AskForHelp })
}

/// What the group key sends to the plenary where people choose their group: the next
/// open group after ours (from the plenary, the first; after the last, the plenary); or
/// why there is nothing to choose.
pub fn next_group(plenary: &RoomModel) -> Result<ClientMsg, &'static str> {
    let b = plenary.breakouts.as_ref().ok_or("No breakout groups are open.")?;
    if !b.choose {
        return Err("In this round a facilitator places people: ask one to move you.");
    }
    let mine = plenary.my_group().map_or(0, |g| g.no);
    let next = b.groups.iter().filter(|g| g.open && g.no > mine).map(|g| g.no).min();
    match (next, mine) {
        (None, 0) => Err("No breakout group is open."),
        (next, _) => Ok(ClientMsg::ChooseGroup { group: next.unwrap_or(0) }),
    }
}

impl Ui {
    /// Whether captured sound is sent now.
    pub fn transmitting(&self, now: Instant) -> bool {
        self.mic_on && (!self.push_to_talk || self.ptt_until.is_some_and(|t| now < t))
    }

    /// Handles one key at `now`.
    pub fn key(&mut self, room: &RoomModel, key: Key, now: Instant) -> Vec<Effect> {
        if key == Key::Interrupt {
            return vec![Effect::Send(ClientMsg::Leave), Effect::Leave];
        }
        if let Some(note) = self.note.as_mut() {
            return match key {
                Key::Char(c) => {
                    if note.chars().count() < NOTE_CHARS {
                        note.push(c);
                    }
                    vec![]
                }
                Key::Backspace => {
                    note.pop();
                    vec![]
                }
                Key::Esc => {
                    self.note = None;
                    vec![]
                }
                Key::Enter | Key::Tab => {
                    let text = self.note.take().unwrap_or_default();
                    let kind = if key == Key::Tab { HandKind::Reply } else { HandKind::NewPoint };
                    let note = Some(text.trim().to_owned()).filter(|t| !t.is_empty());
                    vec![Effect::Send(ClientMsg::RaiseHand { kind, note })]
                }
                Key::Interrupt | Key::SpaceUp => vec![],
            };
        }
        let leaving = std::mem::take(&mut self.confirm_leave);
        let send = |m: ClientMsg| vec![Effect::Send(m)];
        match key {
            Key::Char('q') | Key::Char('Q') if leaving => {
                vec![Effect::Send(ClientMsg::Leave), Effect::Leave]
            }
            Key::Char('q') | Key::Char('Q') => {
                self.confirm_leave = true;
                vec![]
            }
            Key::Char('h') => send(ClientMsg::RaiseHand { kind: HandKind::NewPoint, note: None }),
            Key::Char('r') => send(ClientMsg::RaiseHand { kind: HandKind::Reply, note: None }),
            Key::Char('e') if room.my_hand().is_none() => {
                self.note = Some(String::new());
                vec![]
            }
            Key::Char('l') if room.my_hand().is_some() => send(ClientMsg::LowerHand),
            // Offered the floor, the hand is no longer in the queue: lowering it is
            // declining the turn.
            Key::Char('l') if room.offered_to_me() => send(ClientMsg::DeclineFloor),
            Key::Char('a') if room.offered_to_me() => send(ClientMsg::AcceptFloor),
            Key::Esc if self.help => {
                self.help = false;
                vec![]
            }
            Key::Esc if room.offered_to_me() => send(ClientMsg::DeferFloor),
            Key::Char('d') if room.holds_floor() => send(ClientMsg::Yield),
            Key::Char(c @ '1'..='6') => {
                let i = c as usize - '1' as usize;
                send(ClientMsg::React { reaction: ReactionKind::ALL[i] })
            }
            Key::Char('m') => {
                self.mic_on = !self.mic_on;
                send(ClientMsg::SetMic { on: self.mic_on })
            }
            Key::Char('p') => {
                self.push_to_talk = !self.push_to_talk;
                self.ptt_until = None;
                send(ClientMsg::SetPushToTalk { enabled: self.push_to_talk })
            }
            Key::Char(' ') if self.push_to_talk => {
                self.ptt_until = Some(now + PTT_HOLD);
                vec![]
            }
            Key::SpaceUp => {
                self.ptt_until = None;
                vec![]
            }
            Key::Char('w') => {
                let away = room.me().is_some_and(|p| p.presence == Presence::Present);
                send(ClientMsg::SetAway { away })
            }
            Key::Char('?') => {
                self.help = !self.help;
                vec![]
            }
            Key::Char('f') => vec![Effect::Help],
            Key::Char('j') => vec![Effect::ChangeGroup],
            // Facilitators.
            Key::Char('g') if room.is_facilitator() => match room.queue.first() {
                Some(h) => send(ClientMsg::Grant { participant: h.participant }),
                None => vec![],
            },
            Key::Char('n') if room.is_facilitator() => send(ClientMsg::Next),
            Key::Char('x') if room.is_facilitator() => send(ClientMsg::Revoke),
            Key::Char('o') if room.is_facilitator() => send(ClientMsg::OpenDiscussion),
            Key::Char('M') if room.is_facilitator() => send(ClientMsg::MuteAll),
            _ => vec![],
        }
    }
}

/// The keys, for the help line and the help panel: (key, in a word or two, in full,
/// facilitators only).
pub const KEYS: &[(&str, &str, &str, bool)] = &[
    ("H", "point", "raise your hand: a new point", false),
    ("R", "reply", "raise your hand: a reply to the speaker", false),
    ("E", "note", "write a note, then Enter (new point) or Tab (reply)", false),
    ("L", "lower", "lower your hand (or decline when you're up)", false),
    ("A", "accept", "take the floor when you're up", false),
    ("Esc", "later", "later when you're up (keep your hand)", false),
    ("D", "done", "I'm done: give the floor back", false),
    ("1-6", "react", "agree, disagree, question, applause, slower, can't hear", false),
    ("M", "mic", "microphone on or off", false),
    ("P", "PTT", "push-to-talk on or off", false),
    ("Space", "talk", "talk, under push-to-talk", false),
    ("W", "away", "away / back at my desk", false),
    ("F", "ask help", "in a breakout group: ask a facilitator to come (again: cancel)", false),
    (
        "J",
        "group",
        "where people choose: the next breakout group (after the last: the plenary)",
        false,
    ),
    ("Q Q", "leave", "leave the room", false),
    ("?", "help", "show or hide this help", false),
    ("G", "grant", "give the floor to the first in the queue", true),
    ("N", "next", "next in the queue", true),
    ("X", "take back", "take back the floor (or end discussion)", true),
    ("O", "discuss", "open discussion", true),
    ("Shift+M", "mute all", "mute all learners", true),
];

#[cfg(test)]
mod tests {
    use super::*;
    use talkstick_signaling::protocol::{FloorState, HandView};

    use super::super::model::tests_support::round;

    fn room() -> RoomModel {
        super::super::model::tests_support::room()
    }

    #[test]
    fn hand_keys_send_what_the_web_client_sends() {
        let (mut ui, mut m, now) = (Ui::default(), room(), Instant::now());
        assert_eq!(
            ui.key(&m, Key::Char('h'), now),
            vec![Effect::Send(ClientMsg::RaiseHand { kind: HandKind::NewPoint, note: None })]
        );
        assert_eq!(ui.key(&m, Key::Char('l'), now), vec![], "no hand: nothing to lower");
        m.queue.push(HandView {
            participant: m.you.id,
            position: 1,
            kind: HandKind::Reply,
            raised_ms: 0,
            note: None,
        });
        assert_eq!(ui.key(&m, Key::Char('l'), now), vec![Effect::Send(ClientMsg::LowerHand)]);
        assert_eq!(ui.key(&m, Key::Char('a'), now), vec![], "not offered");
        m.floor.state = FloorState::Offered;
        m.floor.offered_to = Some(m.you.id);
        assert_eq!(ui.key(&m, Key::Char('a'), now), vec![Effect::Send(ClientMsg::AcceptFloor)]);
        m.queue.clear();
        assert_eq!(ui.key(&m, Key::Char('l'), now), vec![Effect::Send(ClientMsg::DeclineFloor)]);
        assert_eq!(ui.key(&m, Key::Esc, now), vec![Effect::Send(ClientMsg::DeferFloor)]);
        m.floor.state = FloorState::Held;
        m.floor.holder = Some(m.you.id);
        assert_eq!(ui.key(&m, Key::Char('d'), now), vec![Effect::Send(ClientMsg::Yield)]);
        assert_eq!(
            ui.key(&m, Key::Char('1'), now),
            vec![Effect::Send(ClientMsg::React { reaction: ReactionKind::Agree })]
        );
        assert_eq!(
            ui.key(&m, Key::Char('6'), now),
            vec![Effect::Send(ClientMsg::React { reaction: ReactionKind::CantHear })]
        );
    }

    #[test]
    fn a_note_is_typed_then_raised_as_a_point_or_a_reply() {
        let (mut ui, m, now) = (Ui::default(), room(), Instant::now());
        ui.key(&m, Key::Char('e'), now);
        for c in "cost h".chars() {
            assert_eq!(ui.key(&m, Key::Char(c), now), vec![], "typing sends nothing, even H");
        }
        ui.key(&m, Key::Backspace, now);
        assert_eq!(
            ui.key(&m, Key::Tab, now),
            vec![Effect::Send(ClientMsg::RaiseHand {
                kind: HandKind::Reply,
                note: Some("cost".into())
            })]
        );
        assert!(ui.note.is_none());
        ui.key(&m, Key::Char('e'), now);
        assert_eq!(ui.key(&m, Key::Esc, now), vec![], "Esc drops the note");
        assert!(ui.note.is_none());
    }

    #[test]
    fn leaving_asks_twice_and_push_to_talk_holds_the_mic_open() {
        let (mut ui, m, now) = (Ui::default(), room(), Instant::now());
        assert_eq!(ui.key(&m, Key::Char('q'), now), vec![]);
        assert_eq!(
            ui.key(&m, Key::Char('q'), now),
            vec![Effect::Send(ClientMsg::Leave), Effect::Leave]
        );
        ui.key(&m, Key::Char('q'), now);
        ui.key(&m, Key::Char('1'), now);
        assert_eq!(ui.key(&m, Key::Char('q'), now), vec![], "another key in between cancels");
        assert!(ui.transmitting(now));
        assert_eq!(
            ui.key(&m, Key::Char('p'), now),
            vec![Effect::Send(ClientMsg::SetPushToTalk { enabled: true })]
        );
        assert!(!ui.transmitting(now));
        ui.key(&m, Key::Char(' '), now);
        assert!(ui.transmitting(now + Duration::from_millis(500)));
        assert!(!ui.transmitting(now + PTT_HOLD), "released when the key stops repeating");
        ui.key(&m, Key::Char(' '), now);
        ui.key(&m, Key::SpaceUp, now);
        assert!(!ui.transmitting(now), "or at once, where the terminal reports the release");
        assert_eq!(
            ui.key(&m, Key::Char('m'), now),
            vec![Effect::Send(ClientMsg::SetMic { on: false })]
        );
    }

    #[test]
    fn facilitator_keys_need_a_facilitator() {
        let (mut ui, mut m, now) = (Ui::default(), room(), Instant::now());
        assert_eq!(ui.key(&m, Key::Char('n'), now), vec![]);
        m.you.role = talkstick_signaling::protocol::Role::Facilitator;
        assert_eq!(ui.key(&m, Key::Char('n'), now), vec![Effect::Send(ClientMsg::Next)]);
        assert_eq!(ui.key(&m, Key::Char('g'), now), vec![], "nobody waiting");
        let other = m.participants[1].id;
        m.queue.push(HandView {
            participant: other,
            position: 1,
            kind: HandKind::NewPoint,
            raised_ms: 0,
            note: None,
        });
        assert_eq!(
            ui.key(&m, Key::Char('g'), now),
            vec![Effect::Send(ClientMsg::Grant { participant: other })]
        );
        assert_eq!(ui.key(&m, Key::Char('M'), now), vec![Effect::Send(ClientMsg::MuteAll)]);
    }

    #[test]
    fn the_help_key_asks_from_a_group_and_cancels_a_waiting_request() {
        use talkstick_signaling::protocol::HelpView;
        let mut plenary = room();
        let now = Instant::now();
        assert_eq!(Ui::default().key(&plenary, Key::Char('f'), now), vec![Effect::Help]);
        assert!(help_request(&plenary).is_err(), "nothing to ask in the plenary");
        let me = plenary.you.id;
        plenary.breakouts = Some(round(&[(1, true, &[me])]));
        assert_eq!(help_request(&plenary), Ok(ClientMsg::AskForHelp));
        if let Some(b) = plenary.breakouts.as_mut() {
            b.groups[0].help.push(HelpView { participant: me, since_ms: 10 });
        }
        assert_eq!(help_request(&plenary), Ok(ClientMsg::WithdrawHelp));
    }

    #[test]
    fn the_group_key_walks_the_open_groups_where_people_choose_then_back_to_the_plenary() {
        let mut plenary = room();
        let now = Instant::now();
        assert_eq!(Ui::default().key(&plenary, Key::Char('j'), now), vec![Effect::ChangeGroup]);
        assert_eq!(next_group(&plenary), Err("No breakout groups are open."));
        let me = plenary.you.id;
        plenary.breakouts = Some(round(&[(1, true, &[]), (2, false, &[]), (3, true, &[])]));
        assert!(next_group(&plenary).unwrap_err().contains("a facilitator places people"));
        let choose = |p: &mut RoomModel, mine: Option<usize>| {
            let b = p.breakouts.as_mut().unwrap();
            b.choose = true;
            for (i, g) in b.groups.iter_mut().enumerate() {
                g.members = if Some(i) == mine { vec![me] } else { vec![] };
            }
        };
        choose(&mut plenary, None);
        assert_eq!(next_group(&plenary), Ok(ClientMsg::ChooseGroup { group: 1 }));
        choose(&mut plenary, Some(0));
        assert_eq!(
            next_group(&plenary),
            Ok(ClientMsg::ChooseGroup { group: 3 }),
            "closed 2 skipped"
        );
        choose(&mut plenary, Some(2));
        assert_eq!(
            next_group(&plenary),
            Ok(ClientMsg::ChooseGroup { group: 0 }),
            "then the plenary"
        );
    }
}
