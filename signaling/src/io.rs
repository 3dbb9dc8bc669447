//! The room's sans-IO interface: what goes in ([`Input`], [`JoinRequest`]) and what
//! comes out ([`Output`] to an [`Audience`], [`Joined`]).
//!
//! Why a module of its own: the journal records inputs and the room consumes them;
//! keeping the vocabulary apart from both lets each depend on it without depending on
//! the other.

use crate::breakouts::GroupAccess;
use crate::ids::{LinkId, ParticipantId, ResumeToken};
use crate::protocol::{ClientMsg, Role, ServerMsg};

/// Something that happened to the room.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// A decoded message from a joined participant.
    Client {
        /// Sender.
        from: ParticipantId,
        /// The message.
        msg: ClientMsg,
    },
    /// A participant's connection dropped; they have [`crate::room::RESUME_GRACE`] to come back.
    Disconnected {
        /// Who.
        participant: ParticipantId,
    },
    /// Speech detection from the media plane.
    Speaking {
        /// Who.
        participant: ParticipantId,
        /// Speaking now.
        speaking: bool,
    },
    /// The media plane's audio connection for a participant came up or went away.
    Audio {
        /// Who.
        participant: ParticipantId,
        /// Connected now.
        connected: bool,
    },
    /// The time from [`crate::Room::poll_timeout`] has come.
    Timeout,
}

/// A request to join, made by the edge after it verified the token.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    /// Display name from the token.
    pub name: String,
    /// Role from the token.
    pub role: Role,
    /// Resume token from an earlier snapshot, if the client has one.
    pub resume: Option<ResumeToken>,
    /// A fresh random token to hand out if this becomes a new participant.
    pub new_resume: ResumeToken,
    /// The link (join token) they came with: joining again with the same link is the
    /// same person, on a new connection, however often it happens.
    pub link: Option<LinkId>,
    /// In a breakout group: a facilitator listening in, never heard.
    pub listen: bool,
    /// In a breakout group: the colour the person has in the plenary, kept where free.
    pub colour: Option<String>,
}

impl JoinRequest {
    /// A plain join: no link, not listening, no colour carried over.
    pub fn new(name: impl Into<String>, role: Role, new_resume: ResumeToken) -> Self {
        JoinRequest {
            name: name.into(),
            role,
            resume: None,
            new_resume,
            link: None,
            listen: false,
            colour: None,
        }
    }
}

/// The outcome of a join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Joined {
    /// The participant's id (the old one when resumed).
    pub participant: ParticipantId,
    /// True when an earlier identity was resumed.
    pub resumed: bool,
}

/// Who a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Everyone connected.
    All,
    /// Everyone connected but one.
    Others(ParticipantId),
    /// Facilitators only.
    Facilitators,
    /// Learners only.
    Learners,
    /// One participant.
    One(ParticipantId),
}

impl Audience {
    /// Whether a participant with this id and role is in the audience.
    pub fn includes(self, who: ParticipantId, role: Role) -> bool {
        match self {
            Audience::All => true,
            Audience::Others(p) => p != who,
            Audience::Facilitators => role == Role::Facilitator,
            Audience::Learners => role == Role::Learner,
            Audience::One(p) => p == who,
        }
    }
}

/// Something the room wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send a message. `seq` is the room's sequence number to stamp it with.
    Send {
        /// Recipients.
        to: Audience,
        /// Room sequence number.
        seq: u64,
        /// The message.
        msg: ServerMsg,
    },
    /// Tell the media plane whether to forward a participant's audio.
    Gate {
        /// Whose audio.
        participant: ParticipantId,
        /// Forward it.
        forward: bool,
    },
    /// Close a participant's connection (after a `goodbye` already sent).
    Close {
        /// Whose.
        participant: ParticipantId,
    },
    /// Close a participant's connection because a facilitator removed them (after a
    /// `goodbye` already sent): their client must not come back.
    Removed {
        /// Whose.
        participant: ParticipantId,
    },
    /// Close a participant's connection because a facilitator ended the session (after
    /// a `goodbye` already sent).
    Ended {
        /// Whose.
        participant: ParticipantId,
    },
    /// A participant is gone for good: release their media.
    Left {
        /// Who.
        participant: ParticipantId,
    },
    /// In a plenary: who may now enter which breakout group's room (all of them; empty
    /// when no groups are open). Whoever is no longer admitted to a group must leave it.
    Breakouts {
        /// Every open group's room and its people.
        groups: Vec<GroupAccess>,
    },
}
