//! Why the room refused an action. Every refusal leaves the room exactly as it was.

use std::time::Duration;

use crate::ids::{ChatId, ParticipantId};
use crate::protocol::{ErrorCode, MAX_CHAT_CHARS, MAX_NOTE_CHARS};

/// A refused action, with the reason a person can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    /// Only facilitators may do this.
    #[error("only a facilitator can {0}")]
    Forbidden(&'static str),
    /// A facilitator cannot remove themselves (`leave` does that).
    #[error("you cannot remove yourself; leave instead")]
    RemoveSelf,
    /// A facilitator removed the person with this link from the room.
    #[error("a facilitator removed you from this room")]
    Removed,
    /// No such participant in this room.
    #[error("{0} is not in this room")]
    UnknownParticipant(ParticipantId),
    /// The room is at capacity.
    #[error("the room is full ({0} participants)")]
    RoomFull(usize),
    /// Your hand is already up.
    #[error("your hand is already raised")]
    HandAlreadyRaised,
    /// That hand is not in the queue.
    #[error("{0} has no raised hand")]
    NoHand(ParticipantId),
    /// The private note is too long.
    #[error("the note has {0} characters; the limit is {MAX_NOTE_CHARS}")]
    NoteTooLong(usize),
    /// You hold the floor; a hand makes no sense.
    #[error("you already hold the floor")]
    AlreadyHoldingFloor,
    /// Only the holder can do this.
    #[error("you do not hold the floor")]
    NotHolder,
    /// There is no offer for you to answer.
    #[error("the floor is not being offered to you")]
    NoOffer,
    /// Someone holds the floor; revoke or use next first.
    #[error("the floor is held by {0}; revoke it or use next")]
    FloorBusy(ParticipantId),
    /// Nothing to revoke.
    #[error("nobody holds or is offered the floor")]
    FloorFree,
    /// "Later" with nobody else waiting to be offered the floor.
    #[error("nobody else is waiting; accept the floor or pass")]
    NobodyElseWaiting,
    /// Nobody to hand the floor to.
    #[error("the queue is empty")]
    QueueEmpty,
    /// Position outside 1..=n.
    #[error("position {0} is outside the queue (1..={1})")]
    InvalidPosition(u32, usize),
    /// Too many reactions too fast.
    #[error("too many reactions; try again in {} ms", .0.as_millis())]
    RateLimited(Duration),
    /// Too many hand, microphone, away or push-to-talk changes too fast.
    #[error("too many changes of hand, microphone or presence; try again in {} ms", .0.as_millis())]
    TooManyChanges(Duration),
    /// A setting outside its range.
    #[error("invalid setting {0}: {1}")]
    InvalidSetting(&'static str, String),
    /// A facilitator muted you; only they can lift it.
    #[error("a facilitator muted you; ask them to unmute you")]
    ForceMuted,
    /// Asked to be unmuted without being muted.
    #[error("nobody has muted you")]
    NotMuted,
    /// A chat message with nothing in it.
    #[error("the message is empty")]
    EmptyMessage,
    /// A chat message that is too long.
    #[error("the message has {0} characters; the limit is {MAX_CHAT_CHARS}")]
    MessageTooLong(usize),
    /// No such chat message (never written, deleted, or too old to be kept).
    #[error("chat message {0} is not in this room")]
    UnknownMessage(ChatId),
    /// Too many chat messages too fast.
    #[error("too many chat messages; try again in {} ms", .0.as_millis())]
    TooManyMessages(Duration),
    /// Too many changes of one's own breakout group too fast.
    #[error("too many group changes; try again in {} ms", .0.as_millis())]
    TooManyMoves(Duration),
    /// Join sent twice on one connection.
    #[error("already joined")]
    AlreadyJoined,
    /// Breakout groups are open already (call everyone back first).
    #[error("breakout groups are already open; call everyone back first")]
    BreakoutsOpen,
    /// No breakout groups are open.
    #[error("no breakout groups are open")]
    NoBreakouts,
    /// A breakout plan that cannot be carried out.
    #[error("cannot open breakout groups: {0}")]
    InvalidBreakouts(String),
    /// No such open group.
    #[error("there is no open group {0}")]
    UnknownGroup(u32),
    /// A group action on someone in no group.
    #[error("{0} is in no breakout group")]
    NotInGroup(ParticipantId),
    /// `choose_group` in a round where the facilitators place people.
    #[error("in this round a facilitator places people; ask one to move you")]
    GroupsPlaced,
}

impl RoomError {
    /// For [`RoomError::RateLimited`]: milliseconds until the action is allowed again.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            RoomError::RateLimited(d)
            | RoomError::TooManyChanges(d)
            | RoomError::TooManyMessages(d)
            | RoomError::TooManyMoves(d) => Some(d.as_millis().max(1) as u64),
            _ => None,
        }
    }

    /// The wire code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            RoomError::Forbidden(_) | RoomError::RemoveSelf | RoomError::Removed => {
                ErrorCode::Forbidden
            }
            RoomError::UnknownParticipant(_) => ErrorCode::UnknownParticipant,
            RoomError::RoomFull(_) => ErrorCode::RoomFull,
            RoomError::HandAlreadyRaised => ErrorCode::HandAlreadyRaised,
            RoomError::NoHand(_) => ErrorCode::NoHand,
            RoomError::NoteTooLong(_) => ErrorCode::NoteTooLong,
            RoomError::AlreadyHoldingFloor => ErrorCode::AlreadyHoldingFloor,
            RoomError::NotHolder => ErrorCode::NotHolder,
            RoomError::NoOffer => ErrorCode::NoOffer,
            RoomError::FloorBusy(_) => ErrorCode::FloorBusy,
            RoomError::FloorFree => ErrorCode::FloorFree,
            RoomError::QueueEmpty | RoomError::NobodyElseWaiting => ErrorCode::QueueEmpty,
            RoomError::InvalidPosition(..) => ErrorCode::InvalidPosition,
            RoomError::RateLimited(_)
            | RoomError::TooManyChanges(_)
            | RoomError::TooManyMessages(_)
            | RoomError::TooManyMoves(_) => ErrorCode::RateLimited,
            RoomError::InvalidSetting(..) => ErrorCode::InvalidSetting,
            RoomError::ForceMuted => ErrorCode::ForceMuted,
            RoomError::NotMuted => ErrorCode::NotMuted,
            RoomError::EmptyMessage => ErrorCode::EmptyMessage,
            RoomError::MessageTooLong(_) => ErrorCode::MessageTooLong,
            RoomError::UnknownMessage(_) => ErrorCode::UnknownMessage,
            RoomError::AlreadyJoined => ErrorCode::AlreadyJoined,
            RoomError::BreakoutsOpen => ErrorCode::BreakoutsOpen,
            RoomError::NoBreakouts => ErrorCode::NoBreakouts,
            RoomError::InvalidBreakouts(_) => ErrorCode::InvalidBreakouts,
            RoomError::UnknownGroup(_) => ErrorCode::UnknownGroup,
            RoomError::NotInGroup(_) => ErrorCode::NotInGroup,
            RoomError::GroupsPlaced => ErrorCode::GroupsPlaced,
        }
    }
}
