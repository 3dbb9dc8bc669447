//! The room's journal: every accepted change, with its time, in order (the replay that
//! rebuilds a room from it is `Room::replay`, in `room/replay.rs`).
//!
//! Why a journal of inputs rather than a copy of the state: the room is deterministic
//! given its inputs and the passed-in time, so the few bytes of each accepted input are
//! enough to rebuild everything it decided (queue and notes, floor and turn, settings,
//! talk time, history, colours), and writing them costs next to nothing per change. A
//! copy of the state after every change would cost a whole room's worth of bytes per
//! hand raised.
//!
//! What is recorded (only when [`crate::Room::journaled`] turned it on):
//! - every join that was admitted, with the resume tokens as digests only ([`JoinRecord`]);
//! - every input that succeeded ([`Change::Input`]), except pure reads (`ping`,
//!   `get_stats`);
//! - a refused input that first applied a deadline which had passed is recorded as
//!   [`Input::Timeout`] at its time, since the deadline did change the room.
//!
//! Times are nanoseconds on the room's clock (since its epoch), so a replay from the
//! same epoch meets every deadline exactly where the original did.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::ids::{LinkId, ResumeHash, RoomId};
use crate::io::{Input, JoinRequest};
use crate::protocol::{ClientMsg, Role, Settings};

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When, in nanoseconds since the room's epoch.
    pub at_ns: u64,
    /// What.
    pub change: Change,
}

/// What changed the room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// An admitted join (new, resumed or taken over).
    Join(JoinRecord),
    /// An input that was accepted.
    Input(Input),
}

/// A join as the journal keeps it: the request with its resume tokens as digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRecord {
    /// Display name from the token.
    pub name: String,
    /// Role from the token.
    pub role: Role,
    /// Digest of the resume token presented, if any.
    pub resume: Option<ResumeHash>,
    /// Digest of the fresh token handed out if this becomes a new participant (or takes
    /// over an identity by its link).
    pub new_resume: ResumeHash,
    /// The link (a digest of the join token).
    pub link: Option<LinkId>,
    /// A facilitator listening in on a breakout group.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub listen: bool,
    /// The plenary colour carried into a breakout group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
}

impl JoinRecord {
    /// The record of a request.
    pub fn of(req: &JoinRequest) -> Self {
        JoinRecord {
            name: req.name.clone(),
            role: req.role,
            resume: req.resume.as_ref().map(|t| t.digest()),
            new_resume: req.new_resume.digest(),
            link: req.link.clone(),
            listen: req.listen,
            colour: req.colour.clone(),
        }
    }
}

/// Why a journal could not be replayed: the room it rebuilt would not be the one that
/// wrote it (a damaged journal, or one written by a version that decided differently).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// An entry that was accepted when recorded was refused on replay.
    #[error("entry {index} of room {room} was refused on replay: {why}")]
    Refused {
        /// The room.
        room: RoomId,
        /// Position in the journal.
        index: usize,
        /// The refusal.
        why: String,
    },
    /// Entries out of time order.
    #[error("entry {index} of room {room} goes back in time")]
    OutOfOrder {
        /// The room.
        room: RoomId,
        /// Position in the journal.
        index: usize,
    },
}

/// How a room was set up before its first entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    /// The room.
    pub id: RoomId,
    /// Settings when it was created.
    pub settings: Settings,
    /// Its clock's zero.
    pub epoch: Instant,
    /// Audio receive slots per listener.
    pub audio_slots: u8,
    /// Most participants.
    pub capacity: usize,
}

/// Whether an input only reads (nothing to record).
pub(crate) fn reads_only(input: &Input) -> bool {
    matches!(input, Input::Client { msg: ClientMsg::Ping | ClientMsg::GetStats, .. })
}
