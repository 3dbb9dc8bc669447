//! Server-to-client messages and the views of room state they carry. Part of the wire
//! contract; re-exported from [`crate::protocol`].

use serde::{Deserialize, Serialize};

use crate::breakouts::BreakoutsView;
use crate::ids::{ChatId, ParticipantId, ResumeToken, RoomId, TurnId};
use crate::protocol::{
    HandKind, LeaveReason, Presence, ReactionKind, Role, Settings, Tally, TurnEnd,
};

/// One participant as everyone sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantView {
    /// Stable id.
    pub id: ParticipantId,
    /// Display name from the token.
    pub name: String,
    /// One or two capital letters from the name (`?` when it has none).
    pub initials: String,
    /// `#RRGGBB` (upper-case hex), distinct within the room.
    pub colour: String,
    /// Facilitator or learner.
    pub role: Role,
    /// Present or away.
    pub presence: Presence,
    /// False while their connection is down (within the grace period).
    pub connected: bool,
    /// Microphone open, as reported by the client.
    pub mic_on: bool,
    /// Muted by a facilitator; never forwarded while set.
    pub force_muted: bool,
    /// Muted and asking to be unmuted (shown to facilitators). Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unmute_requested: bool,
    /// Uses push-to-talk.
    pub push_to_talk: bool,
    /// Currently speaking, from the media plane.
    pub speaking: bool,
    /// Has a live audio connection to the server.
    pub audio: bool,
    /// In a breakout group: a facilitator listening in (never heard). Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub listening: bool,
}

/// One raised hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandView {
    /// Whose hand.
    pub participant: ParticipantId,
    /// 1-based place in the queue; the same for every client.
    pub position: u32,
    /// Reply or new point.
    pub kind: HandKind,
    /// When it was raised, in ms on the room clock.
    pub raised_ms: u64,
    /// The private note; present only for its owner and facilitators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The state of the floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FloorState {
    /// Nobody holds it and nobody is offered it.
    Free,
    /// Offered to someone ("you're up"), waiting for acceptance.
    Offered,
    /// Held by one participant.
    Held,
    /// Free discussion opened by a facilitator: no holder.
    Discussion,
}

/// The floor as everyone sees it. Times are ms on the room clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloorView {
    /// Free, offered, held or discussion.
    pub state: FloorState,
    /// The holder, when held.
    pub holder: Option<ParticipantId>,
    /// Who has the offer, when offered.
    pub offered_to: Option<ParticipantId>,
    /// When the offer lapses.
    pub offer_expires_ms: Option<u64>,
    /// The current turn, when held.
    pub turn: Option<TurnId>,
    /// When the current state began.
    pub since_ms: u64,
    /// When the time limit ends, if one is set and the floor is held.
    pub ends_ms: Option<u64>,
    /// "Floor open": the holder has paused past `pause_ms`, or nobody holds the floor
    /// (free or discussion). False while an offer is pending.
    pub open: bool,
    /// Reactions during the current turn.
    pub tally: Tally,
    /// The room clock when this view was made.
    pub now_ms: u64,
}

/// One turn in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnRecord {
    /// Turn number.
    pub turn: TurnId,
    /// Who held the floor.
    pub holder: ParticipantId,
    /// Start, ms on the room clock.
    pub start_ms: u64,
    /// End, if ended.
    pub end_ms: Option<u64>,
    /// How it ended, if ended.
    pub ended: Option<TurnEnd>,
    /// Reactions during the turn.
    pub tally: Tally,
}

/// One person's statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonStats {
    /// Who.
    pub participant: ParticipantId,
    /// Their name.
    pub name: String,
    /// Their colour.
    pub colour: String,
    /// Still in the room.
    pub present: bool,
    /// Time holding the floor or speaking, in ms.
    pub talk_ms: u64,
    /// Turns taken.
    pub turns: u32,
    /// Reactions sent.
    pub reactions_given: u32,
    /// Reactions received during their turns.
    pub reactions_received: u32,
    /// Total time spent with a raised hand, in ms.
    pub wait_ms: u64,
}

/// The session's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsView {
    /// Room clock now.
    pub now_ms: u64,
    /// Gini coefficient of talk time among present participants: 0 equal, 1 one person.
    pub gini: f64,
    /// Everyone who has been in the room.
    pub people: Vec<PersonStats>,
    /// Every turn so far.
    pub turns: Vec<TurnRecord>,
}

/// What a joining client learns about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YouView {
    /// Your participant id.
    pub id: ParticipantId,
    /// Your role.
    pub role: Role,
    /// Present this on a new connection within the grace period to resume.
    pub resume_token: ResumeToken,
    /// True when this join resumed an earlier identity.
    pub resumed: bool,
    /// ICE servers (TURN relays with time-limited credentials) the client should use
    /// for its audio; absent when the server has none (it is reached directly).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ice_servers: Vec<IceServer>,
}

/// One ICE server for a client's peer connection, as WebRTC's `RTCIceServer` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `turn:` or `turns:` URLs.
    pub urls: Vec<String>,
    /// The TURN user name (for the REST API convention: `<expiry>:<user>`).
    pub username: String,
    /// The TURN password.
    pub credential: String,
}

/// Everything about a room, sent on join and reconnect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSnapshot {
    /// The room.
    pub id: RoomId,
    /// Room clock now.
    pub now_ms: u64,
    /// Current settings.
    pub settings: Settings,
    /// Everyone present or within the grace period.
    pub participants: Vec<ParticipantView>,
    /// The queue in order (notes as for the recipient).
    pub queue: Vec<HandView>,
    /// The floor.
    pub floor: FloorView,
    /// Receive slots the server fills per listener; offer this many receive-only m-lines.
    pub audio_slots: u8,
    /// The latest chat messages (at most [`crate::chat::KEPT`]), oldest first.
    #[serde(default)]
    pub chat: Vec<ChatView>,
    /// In a plenary: the breakout groups while they are open. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakouts: Option<BreakoutsView>,
}

/// One chat message, with its author as they were when they wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatView {
    /// The message's id in this room.
    pub id: ChatId,
    /// Who wrote it.
    pub from: ParticipantId,
    /// Their display name then.
    pub name: String,
    /// Their colour then.
    pub colour: String,
    /// The text: plain text (never markup), at most [`crate::chat::MAX_CHAT_CHARS`]
    /// characters, line breaks kept.
    pub text: String,
    /// When it was sent, in ms on the room clock.
    pub at_ms: u64,
}

/// Everything the server sends. Each is wrapped by [`crate::protocol::encode`] with `seq`;
/// a client reads it back with [`crate::protocol::decode_server`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// Full snapshot after join or resume.
    Welcome {
        /// Protocol version.
        protocol: u32,
        /// Who you are.
        you: YouView,
        /// The room (boxed: by far the largest message).
        room: Box<RoomSnapshot>,
    },
    /// Someone joined.
    ParticipantJoined {
        /// Who.
        participant: ParticipantView,
    },
    /// Someone's state changed (mic, presence, connection, mute, push-to-talk). Speech
    /// comes as `speaking` messages.
    ParticipantUpdated {
        /// Their new state.
        participant: ParticipantView,
    },
    /// Someone started or stopped speaking (from the media plane's speech detection).
    Speaking {
        /// Who.
        participant: ParticipantId,
        /// Speaking now.
        speaking: bool,
    },
    /// Someone left.
    ParticipantLeft {
        /// Who.
        participant: ParticipantId,
        /// Why.
        reason: LeaveReason,
    },
    /// The queue changed; the whole queue in order.
    Queue {
        /// Hands, position 1 first.
        hands: Vec<HandView>,
    },
    /// The floor changed.
    Floor {
        /// The new floor.
        floor: FloorView,
    },
    /// To one participant: the floor is offered to you.
    YoureUp {
        /// Time left to accept.
        expires_in_ms: u64,
    },
    /// To one participant: your offer lapsed and your hand was dropped.
    OfferExpired,
    /// The holder's time is nearly up.
    TimeWarning {
        /// Turn concerned.
        turn: TurnId,
        /// Time left.
        remaining_ms: u64,
    },
    /// The holder's time is up (soft limit: they keep the floor).
    TimeUp {
        /// Turn concerned.
        turn: TurnId,
    },
    /// Someone reacted.
    Reaction {
        /// Who reacted.
        from: ParticipantId,
        /// What.
        reaction: ReactionKind,
        /// The turn it counts toward, if the floor is held.
        turn: Option<TurnId>,
        /// That turn's tally after this reaction.
        tally: Option<Tally>,
        /// True when this takes back `from`'s reaction of this kind in this turn (they
        /// pressed it again): the tally went down by one. Absent when false.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        withdrawn: bool,
    },
    /// Settings changed.
    Settings {
        /// All settings.
        settings: Settings,
    },
    /// A turn ended.
    TurnEnded {
        /// The finished turn.
        turn: TurnRecord,
    },
    /// Statistics, to facilitators.
    Stats {
        /// The numbers.
        stats: StatsView,
    },
    /// A request was refused; nothing changed.
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// Human-readable reason.
        message: String,
        /// The `id` of the request, if it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re: Option<u32>,
        /// For `rate_limited`: how long until the action is allowed again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// Answer to `ping`.
    Pong,
    /// To one participant: the SDP answer to their `rtc_offer`.
    RtcAnswer {
        /// The SDP answer.
        sdp: String,
    },
    /// To one participant: who is heard in each of their audio slots.
    Slots {
        /// One entry per receive slot, in m-line order.
        slots: Vec<SlotView>,
    },
    /// The server is closing this connection.
    Goodbye {
        /// Why.
        reason: String,
    },
    /// Someone wrote in the chat.
    Chat {
        /// The message.
        message: ChatView,
    },
    /// A facilitator deleted a chat message: clients drop it.
    ChatDeleted {
        /// Which message.
        message: ChatId,
        /// The facilitator who deleted it.
        by: ParticipantId,
    },
    /// A facilitator did something to you (only you get this): moved, removed or
    /// cleared your hand, muted or unmuted you, or took the floor back from you.
    FacilitatorAction {
        /// Which facilitator.
        by: ParticipantId,
        /// What they did.
        action: ActionOnYou,
        /// Your hand's new place, for `hand_moved`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<u32>,
    },
    /// To facilitators: something about the server they should know (its session store
    /// failing or writing again). Changes nothing in the room.
    Notice {
        /// What.
        kind: NoticeKind,
        /// In words.
        message: String,
    },
    /// In a plenary, to everyone: breakout groups opened, changed (someone moved, a
    /// group closed) or ended (`null`: everyone is back).
    Breakouts {
        /// The groups, or `null` when none are open.
        breakouts: Option<BreakoutsView>,
    },
}

/// What a [`ServerMsg::Notice`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// The session store cannot write: the room goes on in memory, and what happens now
    /// may not survive a restart.
    StoreFailing,
    /// The session store writes again.
    StoreOk,
    /// The server is about to restart (to everyone): the room comes back after it, and
    /// clients reconnect by themselves.
    ServerRestarting,
    /// A facilitator's text to every breakout group.
    Breakout,
    /// The breakout groups end soon (everyone is called back at the end).
    BreakoutEnding,
    /// Someone in a breakout group asks for help (to the plenary's facilitators).
    HelpAsked,
    /// A facilitator answered one's request for help (to those who asked).
    HelpAnswered,
}

/// What a facilitator did to someone, as [`ServerMsg::FacilitatorAction`] tells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionOnYou {
    /// Moved your hand to `position`.
    HandMoved,
    /// Removed your hand.
    HandRemoved,
    /// Cleared every hand, yours among them.
    HandsCleared,
    /// Muted you.
    Muted,
    /// Unmuted you.
    Unmuted,
    /// Took the floor back (or withdrew the offer) from you.
    FloorTakenBack,
}

impl ServerMsg {
    /// The `type` tags a server may send, for telling an unknown type from a bad field
    /// in [`crate::protocol::decode_server`].
    pub const TYPES: &'static [&'static str] = &[
        "welcome",
        "participant_joined",
        "participant_updated",
        "speaking",
        "participant_left",
        "queue",
        "floor",
        "youre_up",
        "offer_expired",
        "time_warning",
        "time_up",
        "reaction",
        "settings",
        "turn_ended",
        "stats",
        "error",
        "pong",
        "rtc_answer",
        "slots",
        "goodbye",
        "facilitator_action",
        "chat",
        "chat_deleted",
        "notice",
        "breakouts",
    ];
}

/// Every error code a client can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum ErrorCode {
    Malformed,
    UnknownType,
    InvalidMessage,
    TooLarge,
    UnsupportedVersion,
    BadToken,
    TokenExpired,
    NotJoined,
    AlreadyJoined,
    RoomFull,
    Forbidden,
    UnknownParticipant,
    HandAlreadyRaised,
    NoHand,
    NoteTooLong,
    AlreadyHoldingFloor,
    NotHolder,
    NoOffer,
    FloorBusy,
    FloorFree,
    QueueEmpty,
    InvalidPosition,
    RateLimited,
    InvalidSetting,
    ForceMuted,
    NotMuted,
    EmptyMessage,
    MessageTooLong,
    UnknownMessage,
    Internal,
    BadOffer,
    BreakoutsOpen,
    NoBreakouts,
    InvalidBreakouts,
    UnknownGroup,
    NotInGroup,
    GroupsPlaced,
}

impl ErrorCode {
    /// Every error code, in declaration order.
    pub const ALL: [ErrorCode; 37] = [
        ErrorCode::Malformed,
        ErrorCode::UnknownType,
        ErrorCode::InvalidMessage,
        ErrorCode::TooLarge,
        ErrorCode::UnsupportedVersion,
        ErrorCode::BadToken,
        ErrorCode::TokenExpired,
        ErrorCode::NotJoined,
        ErrorCode::AlreadyJoined,
        ErrorCode::RoomFull,
        ErrorCode::Forbidden,
        ErrorCode::UnknownParticipant,
        ErrorCode::HandAlreadyRaised,
        ErrorCode::NoHand,
        ErrorCode::NoteTooLong,
        ErrorCode::AlreadyHoldingFloor,
        ErrorCode::NotHolder,
        ErrorCode::NoOffer,
        ErrorCode::FloorBusy,
        ErrorCode::FloorFree,
        ErrorCode::QueueEmpty,
        ErrorCode::InvalidPosition,
        ErrorCode::RateLimited,
        ErrorCode::InvalidSetting,
        ErrorCode::ForceMuted,
        ErrorCode::NotMuted,
        ErrorCode::EmptyMessage,
        ErrorCode::MessageTooLong,
        ErrorCode::UnknownMessage,
        ErrorCode::Internal,
        ErrorCode::BadOffer,
        ErrorCode::BreakoutsOpen,
        ErrorCode::NoBreakouts,
        ErrorCode::InvalidBreakouts,
        ErrorCode::UnknownGroup,
        ErrorCode::NotInGroup,
        ErrorCode::GroupsPlaced,
    ];

    /// The code as it is on the wire, e.g. `"bad_token"` (also its `Display` form).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::BadToken => "bad_token",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::AlreadyJoined => "already_joined",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::UnknownParticipant => "unknown_participant",
            ErrorCode::HandAlreadyRaised => "hand_already_raised",
            ErrorCode::NoHand => "no_hand",
            ErrorCode::NoteTooLong => "note_too_long",
            ErrorCode::AlreadyHoldingFloor => "already_holding_floor",
            ErrorCode::NotHolder => "not_holder",
            ErrorCode::NoOffer => "no_offer",
            ErrorCode::FloorBusy => "floor_busy",
            ErrorCode::FloorFree => "floor_free",
            ErrorCode::QueueEmpty => "queue_empty",
            ErrorCode::InvalidPosition => "invalid_position",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::InvalidSetting => "invalid_setting",
            ErrorCode::ForceMuted => "force_muted",
            ErrorCode::NotMuted => "not_muted",
            ErrorCode::EmptyMessage => "empty_message",
            ErrorCode::MessageTooLong => "message_too_long",
            ErrorCode::UnknownMessage => "unknown_message",
            ErrorCode::Internal => "internal",
            ErrorCode::BadOffer => "bad_offer",
            ErrorCode::BreakoutsOpen => "breakouts_open",
            ErrorCode::NoBreakouts => "no_breakouts",
            ErrorCode::InvalidBreakouts => "invalid_breakouts",
            ErrorCode::UnknownGroup => "unknown_group",
            ErrorCode::NotInGroup => "not_in_group",
            ErrorCode::GroupsPlaced => "groups_placed",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One receive slot of a listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotView {
    /// The slot's media id (`a=mid`) from the listener's offer.
    pub mid: String,
    /// Who is heard in it, if anyone.
    pub participant: Option<ParticipantId>,
}
