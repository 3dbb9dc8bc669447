//! The wire contract: JSON messages over WebSocket, documented in `docs/protocol.md`.
//!
//! Client messages are objects tagged by `"type"` (snake_case) with an optional numeric
//! `"id"` that the server echoes as `"re"` in errors. Server messages are tagged the same
//! way and always carry the room's sequence number `"seq"` (see [`encode`]).
//!
//! Both ends of the wire are here:
//!
//! | Side   | Writes                          | Reads                                   |
//! |--------|---------------------------------|-----------------------------------------|
//! | server | [`encode`] a [`ServerMsg`]      | [`decode`] a [`ClientFrame`]            |
//! | client | [`encode_client`] a [`ClientFrame`] | [`decode_server`] a [`ServerFrame`] |

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};

pub use crate::breakouts::{Assignment, BreakoutsView, GroupView, HelpView};
pub use crate::chat::MAX_CHAT_CHARS;
use crate::ids::{ChatId, ParticipantId, ResumeToken, RoomId};
pub use crate::views::*;

/// The protocol version this crate speaks; a `join` with another `v` is refused.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest text frame the server reads; larger frames get [`ErrorCode::TooLarge`].
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
/// Longest private note on a raised hand, in characters.
pub const MAX_NOTE_CHARS: usize = 280;

/// What a participant may do in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the queue: grants, revokes, reorders, mutes, changes settings.
    Facilitator,
    /// Takes part: raises hands, speaks when given the floor, reacts.
    Learner,
}

/// The two kinds of raised hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandKind {
    /// A reply to the current speaker; ordered before new points under `fifo`.
    Reply,
    /// A new point.
    NewPoint,
}

/// Whether someone is at their desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Present and listening.
    Present,
    /// Away or interrupted (an open office, a colleague at the desk).
    Away,
}

/// How the room forwards audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Everyone is forwarded; the queue is advisory.
    Open,
    /// Only the floor holder and facilitators are forwarded (everyone during free
    /// discussion).
    Moderated,
}

/// How new hands are placed in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueuePolicy {
    /// Replies before new points, then by time raised.
    Fifo,
    /// Least talk time first, ties by time raised.
    Balanced,
}

/// What happens when a turn's time limit runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitAction {
    /// Everyone is told the time is up; the holder keeps the floor.
    Soft,
    /// The floor is revoked.
    Hard,
}

/// A reaction: never takes the floor, tallied per turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReactionKind {
    /// 👍 agree
    Agree,
    /// 👎 disagree
    Disagree,
    /// ❓ I have a question
    Question,
    /// 👏 applause
    Applause,
    /// 🐢 slower, please
    Slower,
    /// 🔇 I can't hear you
    CantHear,
}

impl ReactionKind {
    /// Every reaction, in display order.
    pub const ALL: [ReactionKind; 6] = [
        ReactionKind::Agree,
        ReactionKind::Disagree,
        ReactionKind::Question,
        ReactionKind::Applause,
        ReactionKind::Slower,
        ReactionKind::CantHear,
    ];
}

/// Per-turn reaction counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Tally {
    pub agree: u32,
    pub disagree: u32,
    pub question: u32,
    pub applause: u32,
    pub slower: u32,
    pub cant_hear: u32,
}

impl Tally {
    /// Counts one more reaction of `kind`.
    pub fn add(&mut self, kind: ReactionKind) {
        *self.slot(kind) += 1;
    }

    /// Adds another tally's counts to this one.
    pub fn merge(&mut self, other: &Tally) {
        self.agree += other.agree;
        self.disagree += other.disagree;
        self.question += other.question;
        self.applause += other.applause;
        self.slower += other.slower;
        self.cant_hear += other.cant_hear;
    }

    /// Counts one reaction of `kind` fewer (a withdrawn one).
    pub fn remove(&mut self, kind: ReactionKind) {
        let slot = self.slot(kind);
        *slot = slot.saturating_sub(1);
    }

    fn slot(&mut self, kind: ReactionKind) -> &mut u32 {
        match kind {
            ReactionKind::Agree => &mut self.agree,
            ReactionKind::Disagree => &mut self.disagree,
            ReactionKind::Question => &mut self.question,
            ReactionKind::Applause => &mut self.applause,
            ReactionKind::Slower => &mut self.slower,
            ReactionKind::CantHear => &mut self.cant_hear,
        }
    }

    /// All reactions counted.
    pub fn total(&self) -> u32 {
        self.agree + self.disagree + self.question + self.applause + self.slower + self.cant_hear
    }
}

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnEnd {
    /// The holder said "I'm done".
    Yielded,
    /// A facilitator revoked the floor.
    Revoked,
    /// A facilitator moved on to the next hand.
    Next,
    /// The hard time limit ran out.
    TimeLimit,
    /// The holder was silent past the auto-advance delay.
    Silence,
    /// The holder left the room.
    Left,
    /// A facilitator opened free discussion.
    Discussion,
}

/// Why a participant left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// They left.
    Left,
    /// Their connection dropped and they did not come back within the grace period.
    TimedOut,
    /// A facilitator removed them.
    Removed,
    /// A facilitator ended the session.
    SessionEnded,
}

/// Room settings; only facilitators change them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Who is forwarded.
    pub mode: Mode,
    /// Where new hands go.
    pub policy: QueuePolicy,
    /// When the floor frees, offer it to the head of the queue at once.
    pub auto_offer: bool,
    /// How long a "you're up" offer waits for acceptance.
    pub offer_timeout_ms: u64,
    /// Speaking-time limit per turn; `null` for none.
    pub time_limit_ms: Option<u64>,
    /// How long before the limit everyone is warned.
    pub warning_ms: u64,
    /// What the end of the limit does.
    pub limit_action: LimitAction,
    /// Holder's silence after which the room shows "floor open".
    pub pause_ms: u64,
    /// Holder's silence after which the floor passes on; `null` for never.
    pub auto_advance_ms: Option<u64>,
    /// Under `fifo`, how many turns in a row may go to replies before the oldest new
    /// point is offered (0: replies never go ahead).
    pub max_replies: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: Mode::Open,
            policy: QueuePolicy::Fifo,
            auto_offer: true,
            offer_timeout_ms: 10_000,
            time_limit_ms: None,
            warning_ms: 15_000,
            limit_action: LimitAction::Soft,
            pause_ms: 2_000,
            auto_advance_ms: None,
            max_replies: 2,
        }
    }
}

/// A partial update of [`Settings`]: absent fields stay as they are; `null` turns an
/// optional setting off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct SettingsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<QueuePolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_offer: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_timeout_ms: Option<u64>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub time_limit_ms: Option<Option<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_action: Option<LimitAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_ms: Option<u64>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub auto_advance_ms: Option<Option<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replies: Option<u32>,
}

/// Tells a present `null` (`Some(None)`) from an absent field (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A message from a client, with its optional request id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientFrame {
    /// Echoed as `re` in an error caused by this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    /// The message itself.
    #[serde(flatten)]
    pub msg: ClientMsg,
}

/// Everything a client can ask for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// First message on a connection: protocol version, signed token, and optionally the
    /// resume token from an earlier snapshot.
    Join {
        /// Protocol version; must be [`PROTOCOL_VERSION`].
        v: u32,
        /// HS256 JWT naming room, name, role and expiry.
        token: String,
        /// Resume token from an earlier `welcome`, to keep identity and queue place.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<ResumeToken>,
        /// A breakout group's room (from the plenary's `breakouts`) to join instead of
        /// the plenary the token names: admitted only when the plenary put you there
        /// (or you facilitate it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<RoomId>,
        /// With `group`, for a facilitator: listen in without being heard.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        listen: bool,
    },
    /// Raise a hand (a reply to the current speaker or a new point), with a private note.
    RaiseHand {
        /// Reply or new point.
        kind: HandKind,
        /// Seen only by its owner and facilitators; at most [`MAX_NOTE_CHARS`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Lower your own hand.
    LowerHand,
    /// Accept a "you're up" offer.
    AcceptFloor,
    /// Decline a "you're up" offer; your hand is dropped ("pass").
    DeclineFloor,
    /// "Later": let the offer go to the next hand and keep yours, one place down.
    DeferFloor,
    /// "I'm done": give the floor back.
    Yield,
    /// React without taking a turn.
    React {
        /// Which reaction.
        reaction: ReactionKind,
    },
    /// Write in the room's chat (never takes the floor).
    Chat {
        /// Plain text, at most [`MAX_CHAT_CHARS`] characters after trimming.
        text: String,
    },
    /// Facilitator: delete a chat message for everyone.
    DeleteChat {
        /// Which message.
        message: ChatId,
    },
    /// Report your microphone state.
    SetMic {
        /// Microphone open.
        on: bool,
    },
    /// Mark yourself away or back.
    SetAway {
        /// Away or interrupted.
        away: bool,
    },
    /// Report whether you use push-to-talk.
    SetPushToTalk {
        /// Push-to-talk in use.
        enabled: bool,
    },
    /// Leave the room for good (no resume).
    Leave,
    /// Liveness check; answered with `pong`.
    Ping,
    /// Facilitator: offer the floor to a participant.
    Grant {
        /// Who gets the offer.
        participant: ParticipantId,
    },
    /// Facilitator: end the current turn and offer the floor to the head of the queue.
    Next,
    /// Facilitator: take the floor from its holder (or withdraw an offer).
    Revoke,
    /// Facilitator: open free discussion (no holder).
    OpenDiscussion,
    /// Facilitator: move a hand to a 1-based position.
    MoveHand {
        /// Whose hand.
        participant: ParticipantId,
        /// New position, 1..=n.
        position: u32,
    },
    /// Facilitator: remove someone's hand.
    RemoveHand {
        /// Whose hand.
        participant: ParticipantId,
    },
    /// Facilitator: lower every hand.
    ClearHands,
    /// Facilitator: mute someone at the server.
    Mute {
        /// Who.
        participant: ParticipantId,
    },
    /// Facilitator: lift a server mute.
    Unmute {
        /// Who.
        participant: ParticipantId,
    },
    /// Facilitator: mute every learner but the floor holder.
    MuteAll,
    /// Facilitator: lift every server mute.
    UnmuteAll,
    /// A participant a facilitator muted asks to be unmuted (facilitators see it on
    /// their tile; `unmute` allows it).
    AskToUnmute,
    /// Facilitator: change settings.
    UpdateSettings {
        /// Fields to change.
        settings: SettingsPatch,
    },
    /// Facilitator: ask for the session statistics.
    GetStats,
    /// Facilitator: remove someone from the room for good. Their link is refused in this
    /// room from then on.
    RemoveParticipant {
        /// Who.
        participant: ParticipantId,
    },
    /// Facilitator: end the session for everyone. Each person is told goodbye and their
    /// connection closes (4004); the session's record is complete.
    EndSession,
    /// Facilitator, in a plenary: open breakout groups, by number of groups or by group
    /// size, and move everyone into them at once.
    OpenBreakouts {
        /// How many groups ([`crate::breakouts::MIN_GROUPS`]..=[`crate::breakouts::MAX_GROUPS`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        groups: Option<u32>,
        /// Or: about how many people per group.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u32>,
        /// Random, balanced or manual.
        #[serde(default)]
        assign: Assignment,
        /// A name or topic per group (missing ones are "Group k").
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        names: Vec<String>,
        /// Minutes until everyone is called back; none for no limit.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        minutes: Option<u32>,
        /// For `manual`: the people of each group, one list per group.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        manual: Vec<Vec<ParticipantId>>,
    },
    /// Facilitator: move one person to another group (`0`: back to the plenary).
    MoveToGroup {
        /// Who.
        participant: ParticipantId,
        /// The group's number, or 0 for the plenary.
        group: u32,
    },
    /// Facilitator: close one group early; its people come back to the plenary.
    CloseGroup {
        /// The group's number.
        group: u32,
    },
    /// Facilitator: call everyone back to the plenary, at once or after a countdown
    /// that lets the groups finish their sentence.
    CloseBreakouts {
        /// Seconds until everyone is back (1..=[`crate::breakouts::MAX_CALL_BACK_SECS`]);
        /// absent or 0: now. A countdown already running is only ever shortened.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_s: Option<u32>,
    },
    /// Anyone, while groups opened with `"assign": "choose"` run: go into group `group`
    /// (`0`: back to the plenary).
    ChooseGroup {
        /// The group's number, or 0 for the plenary.
        group: u32,
    },
    /// Facilitator: a text notice to every group.
    BreakoutNotice {
        /// At most [`crate::breakouts::MAX_BREAKOUT_NOTICE_CHARS`] characters.
        text: String,
    },
    /// Facilitator: make a learner their group's facilitator, or no longer.
    SetGroupLead {
        /// Who (in a group).
        participant: ParticipantId,
        /// Lead or not.
        lead: bool,
    },
    /// Someone in a breakout group (on the plenary's connection): ask the facilitators to
    /// come to the group. Asking again while the request waits changes nothing.
    AskForHelp,
    /// Take back one's own request for help (nothing to take back: nothing changes).
    WithdrawHelp,
    /// Facilitator: answer a group's requests for help (on the way there, or seen); the
    /// askers are told who has seen it.
    AnswerHelp {
        /// The group's number.
        group: u32,
    },
    /// Start (or restart) audio: a WebRTC SDP offer with one send-only audio m-line (the
    /// microphone) followed by receive-only audio m-lines (the audio slots). Answered with
    /// `rtc_answer`. Handled by the media plane, not the room.
    RtcOffer {
        /// The SDP offer.
        sdp: String,
    },
}

impl From<ClientMsg> for ClientFrame {
    /// A frame without a request id.
    fn from(msg: ClientMsg) -> ClientFrame {
        ClientFrame { id: None, msg }
    }
}

impl ClientMsg {
    /// The `type` tags a client may send, for telling an unknown type from a bad field.
    pub const TYPES: &'static [&'static str] = &[
        "join",
        "raise_hand",
        "lower_hand",
        "accept_floor",
        "decline_floor",
        "defer_floor",
        "yield",
        "react",
        "chat",
        "delete_chat",
        "set_mic",
        "set_away",
        "set_push_to_talk",
        "leave",
        "ping",
        "grant",
        "next",
        "revoke",
        "open_discussion",
        "move_hand",
        "remove_hand",
        "clear_hands",
        "mute",
        "unmute",
        "mute_all",
        "unmute_all",
        "ask_to_unmute",
        "update_settings",
        "get_stats",
        "remove_participant",
        "end_session",
        "rtc_offer",
        "open_breakouts",
        "move_to_group",
        "close_group",
        "close_breakouts",
        "choose_group",
        "breakout_notice",
        "set_group_lead",
        "ask_for_help",
        "withdraw_help",
        "answer_help",
    ];

    /// This message's `type` tag (one of [`ClientMsg::TYPES`]), for counting messages by
    /// type without encoding them.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMsg::Join { .. } => "join",
            ClientMsg::RaiseHand { .. } => "raise_hand",
            ClientMsg::LowerHand => "lower_hand",
            ClientMsg::AcceptFloor => "accept_floor",
            ClientMsg::DeclineFloor => "decline_floor",
            ClientMsg::DeferFloor => "defer_floor",
            ClientMsg::Yield => "yield",
            ClientMsg::React { .. } => "react",
            ClientMsg::Chat { .. } => "chat",
            ClientMsg::DeleteChat { .. } => "delete_chat",
            ClientMsg::SetMic { .. } => "set_mic",
            ClientMsg::SetAway { .. } => "set_away",
            ClientMsg::SetPushToTalk { .. } => "set_push_to_talk",
            ClientMsg::Leave => "leave",
            ClientMsg::Ping => "ping",
            ClientMsg::Grant { .. } => "grant",
            ClientMsg::Next => "next",
            ClientMsg::Revoke => "revoke",
            ClientMsg::OpenDiscussion => "open_discussion",
            ClientMsg::MoveHand { .. } => "move_hand",
            ClientMsg::RemoveHand { .. } => "remove_hand",
            ClientMsg::ClearHands => "clear_hands",
            ClientMsg::Mute { .. } => "mute",
            ClientMsg::Unmute { .. } => "unmute",
            ClientMsg::MuteAll => "mute_all",
            ClientMsg::UnmuteAll => "unmute_all",
            ClientMsg::AskToUnmute => "ask_to_unmute",
            ClientMsg::UpdateSettings { .. } => "update_settings",
            ClientMsg::GetStats => "get_stats",
            ClientMsg::RemoveParticipant { .. } => "remove_participant",
            ClientMsg::EndSession => "end_session",
            ClientMsg::RtcOffer { .. } => "rtc_offer",
            ClientMsg::OpenBreakouts { .. } => "open_breakouts",
            ClientMsg::MoveToGroup { .. } => "move_to_group",
            ClientMsg::CloseGroup { .. } => "close_group",
            ClientMsg::CloseBreakouts { .. } => "close_breakouts",
            ClientMsg::ChooseGroup { .. } => "choose_group",
            ClientMsg::BreakoutNotice { .. } => "breakout_notice",
            ClientMsg::SetGroupLead { .. } => "set_group_lead",
            ClientMsg::AskForHelp => "ask_for_help",
            ClientMsg::WithdrawHelp => "withdraw_help",
            ClientMsg::AnswerHelp { .. } => "answer_help",
        }
    }
}

/// Why a frame could not be read: a client frame by [`decode`], or a server frame by
/// [`decode_server`] (which never reports [`DecodeError::TooLarge`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Larger than [`MAX_FRAME_BYTES`].
    #[error("frame of {0} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
    /// Not a JSON object with a string `type`.
    #[error("not a JSON message object: {0}")]
    Malformed(String),
    /// A `type` this server does not know.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// A known type with missing or wrong fields.
    #[error("invalid {kind} message: {reason}")]
    Invalid {
        /// The message type.
        kind: String,
        /// What was wrong.
        reason: String,
    },
}

impl DecodeError {
    /// The wire code the server answers this error with (meaningful for client frames).
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::TooLarge(_) => ErrorCode::TooLarge,
            DecodeError::Malformed(_) => ErrorCode::Malformed,
            DecodeError::UnknownType(_) => ErrorCode::UnknownType,
            DecodeError::Invalid { .. } => ErrorCode::InvalidMessage,
        }
    }
}

/// Reads one client text frame.
///
/// The `type` is checked on its own first (a cheap borrowed parse), so that a number in
/// `type` is never taken for a variant index and an unknown type is told apart from a
/// known one with bad fields.
pub fn decode(text: &str) -> Result<ClientFrame, DecodeError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(DecodeError::TooLarge(text.len()));
    }
    let kind = peek_type(text, ClientMsg::TYPES)?;
    serde_json::from_str::<ClientFrame>(text)
        .map_err(|e| DecodeError::Invalid { kind: kind.into_owned(), reason: e.to_string() })
}

/// The `type` of a JSON message object, if it is one of `known`.
fn peek_type<'a>(text: &'a str, known: &[&str]) -> Result<Cow<'a, str>, DecodeError> {
    #[derive(Deserialize)]
    struct Peek<'a> {
        #[serde(rename = "type", borrow, default)]
        kind: Option<Cow<'a, str>>,
    }
    let peek: Peek<'_> = peek(text, "\"type\" must be a string")?;
    known_type(peek.kind, known)
}

/// The few fields of a JSON message object that `P` borrows, read without the rest;
/// `wrong_type` says what was expected of them.
fn peek<'a, P: Deserialize<'a>>(text: &'a str, wrong_type: &str) -> Result<P, DecodeError> {
    if !text.trim_start().starts_with('{') {
        return Err(DecodeError::Malformed("expected a JSON object".into()));
    }
    serde_json::from_str(text).map_err(|e| {
        DecodeError::Malformed(if e.is_data() { wrong_type.to_owned() } else { e.to_string() })
    })
}

/// A message's `type`, present and one of `known`.
fn known_type<'a>(kind: Option<Cow<'a, str>>, known: &[&str]) -> Result<Cow<'a, str>, DecodeError> {
    let kind = kind.ok_or_else(|| DecodeError::Malformed("missing \"type\"".into()))?;
    if !known.contains(&kind.as_ref()) {
        return Err(DecodeError::UnknownType(kind.into_owned()));
    }
    Ok(kind)
}

/// Writes one server message as JSON with the room's sequence number first:
/// `{"seq":42,"type":"floor",...}`.
pub fn encode(seq: u64, msg: &ServerMsg) -> String {
    let body = serde_json::to_string(msg).expect("server messages always serialize");
    let mut out = String::with_capacity(body.len() + 24);
    out.push_str("{\"seq\":");
    out.push_str(&seq.to_string());
    out.push(',');
    out.push_str(&body[1..]);
    out
}

/// A server message as a client reads it: the room's sequence number and the message.
///
/// Serializes as [`encode`] writes (`seq` first), so a test server can write one too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerFrame {
    /// The room's sequence number (see `docs/protocol.md`, "Envelope and sequence
    /// numbers"); 0 on errors sent before the join succeeded.
    pub seq: u64,
    /// The message itself.
    #[serde(flatten)]
    pub msg: ServerMsg,
}

/// Reads one server text frame, the client's counterpart of [`decode`].
///
/// As there, an unknown `type` ([`DecodeError::UnknownType`], e.g. from a newer server) is
/// told apart from a known one with missing or wrong fields ([`DecodeError::Invalid`]).
/// There is no size limit: a `welcome` grows with the room.
pub fn decode_server(text: &str) -> Result<ServerFrame, DecodeError> {
    #[derive(Deserialize)]
    struct Peek<'a> {
        #[serde(rename = "type", borrow, default)]
        kind: Option<Cow<'a, str>>,
        #[serde(default)]
        seq: Option<u64>,
    }
    let peek: Peek<'_> = peek(text, "\"type\" must be a string and \"seq\" a number")?;
    let kind = known_type(peek.kind, ServerMsg::TYPES)?;
    let invalid = |reason: String| DecodeError::Invalid { kind: kind.to_string(), reason };
    let seq = peek.seq.ok_or_else(|| invalid("missing field `seq`".into()))?;
    // The message is read on its own (it ignores `seq`): cheaper than through the
    // frame's flattened `Deserialize`, which buffers it twice.
    let msg = serde_json::from_str::<ServerMsg>(text).map_err(|e| invalid(e.to_string()))?;
    Ok(ServerFrame { seq, msg })
}

/// Writes one client message as JSON, the client's counterpart of [`encode`]:
/// `{"id":4,"type":"react","reaction":"agree"}` (no `id` when it has none). A
/// [`ClientMsg`] converts into a frame without one: `encode_client(&msg.into())`.
pub fn encode_client(frame: &ClientFrame) -> String {
    serde_json::to_string(frame).expect("client messages always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_tells_bad_input_apart() {
        assert_eq!(decode("{\"type\":\"yield\"}").unwrap().msg, ClientMsg::Yield);
        let f = decode("{\"type\":\"react\",\"reaction\":\"agree\",\"id\":4}").unwrap();
        assert_eq!(f.id, Some(4));
        assert_eq!(decode("nope").unwrap_err().code(), ErrorCode::Malformed);
        assert_eq!(decode("[\"ping\"]").unwrap_err().code(), ErrorCode::Malformed);
        assert_eq!(
            decode("{\"type\":\"update_settings\",\"settings\":{\"time_limit\":5}}")
                .unwrap_err()
                .code(),
            ErrorCode::InvalidMessage
        );
        assert_eq!(decode("{\"x\":1}").unwrap_err().code(), ErrorCode::Malformed);
        assert_eq!(decode("{\"type\":3}").unwrap_err().code(), ErrorCode::Malformed);
        assert_eq!(decode("{\"type\":\"dance\"}").unwrap_err().code(), ErrorCode::UnknownType);
        assert_eq!(
            decode("{\"type\":\"react\",\"reaction\":\"boo\"}").unwrap_err().code(),
            ErrorCode::InvalidMessage
        );
        let big = format!("{{\"type\":\"ping\",\"pad\":\"{}\"}}", "x".repeat(MAX_FRAME_BYTES));
        assert_eq!(decode(&big).unwrap_err().code(), ErrorCode::TooLarge);
    }

    #[test]
    fn every_listed_type_is_a_real_variant() {
        for t in ClientMsg::TYPES {
            let err = decode(&format!("{{\"type\":\"{t}\",\"zzz\":1}}")).err();
            assert!(!matches!(err, Some(DecodeError::UnknownType(_))), "{t}");
        }
    }

    #[test]
    fn settings_patch_tells_null_from_absent() {
        let p: SettingsPatch = serde_json::from_str("{\"time_limit_ms\":null}").unwrap();
        assert_eq!(p.time_limit_ms, Some(None));
        assert_eq!(p.auto_advance_ms, None);
        let p: SettingsPatch = serde_json::from_str("{\"time_limit_ms\":60000}").unwrap();
        assert_eq!(p.time_limit_ms, Some(Some(60_000)));
    }

    #[test]
    fn encode_puts_seq_first() {
        assert_eq!(encode(9, &ServerMsg::Pong), "{\"seq\":9,\"type\":\"pong\"}");
        let back: serde_json::Value = serde_json::from_str(&encode(
            3,
            &ServerMsg::Error {
                code: ErrorCode::NoHand,
                message: "x".into(),
                re: Some(2),
                retry_after_ms: None,
            },
        ))
        .unwrap();
        assert_eq!(back["seq"], 3);
        assert_eq!(back["code"], "no_hand");
        assert_eq!(back["re"], 2);
    }

    #[test]
    fn decode_server_reads_what_encode_writes() {
        let frame = decode_server(&encode(9, &ServerMsg::Pong)).unwrap();
        assert_eq!(frame, ServerFrame { seq: 9, msg: ServerMsg::Pong });
        let text = "{\"seq\":2,\"type\":\"speaking\",\"participant\":4,\"speaking\":true}";
        let msg = ServerMsg::Speaking { participant: ParticipantId(4), speaking: true };
        assert_eq!(decode_server(text).unwrap(), ServerFrame { seq: 2, msg });
    }

    #[test]
    fn decode_server_tells_bad_input_apart() {
        let kind = |t: &str| match decode_server(t).unwrap_err() {
            DecodeError::Malformed(_) => "malformed",
            DecodeError::UnknownType(_) => "unknown",
            DecodeError::Invalid { .. } => "invalid",
            DecodeError::TooLarge(_) => "too large",
        };
        assert_eq!(kind("nope"), "malformed");
        assert_eq!(kind("{\"seq\":1}"), "malformed");
        assert_eq!(kind("{\"seq\":1,\"type\":7}"), "malformed");
        assert_eq!(kind("{\"seq\":1,\"type\":\"dance\"}"), "unknown");
        // A client message type is not a server one.
        assert_eq!(kind("{\"seq\":1,\"type\":\"yield\"}"), "unknown");
        assert_eq!(kind("{\"type\":\"pong\"}"), "invalid");
        assert_eq!(kind("{\"seq\":1,\"type\":\"youre_up\"}"), "invalid");
        // Larger than a client may send, still read.
        let reason = "x".repeat(MAX_FRAME_BYTES);
        let big = encode(1, &ServerMsg::Goodbye { reason: reason.clone() });
        assert_eq!(decode_server(&big).unwrap().msg, ServerMsg::Goodbye { reason });
    }

    #[test]
    fn encode_client_writes_what_decode_reads() {
        let msg = ClientMsg::React { reaction: ReactionKind::Agree };
        assert_eq!(
            encode_client(&msg.clone().into()),
            "{\"type\":\"react\",\"reaction\":\"agree\"}"
        );
        let frame = ClientFrame { id: Some(4), msg };
        assert_eq!(encode_client(&frame), "{\"id\":4,\"type\":\"react\",\"reaction\":\"agree\"}");
        assert_eq!(decode(&encode_client(&frame)), Ok(frame));
    }
}
