//! # talkstick-signaling
//!
//! Talkstick's floor control, with no IO: who is in a room, the ordered hand queue, who
//! holds the floor, reactions and statistics. The server and every test drive the same
//! [`Room`] with passed-in time, so every client sees the same decisions.
//!
//! ```text
//!  edge (WebSocket)  ──Room::join / Room::handle(now, Input)──►  Room
//!  media (speech)    ──Input::Speaking─────────────────────────►   │
//!  timer             ──Input::Timeout at Room::poll_timeout()──►   │
//!                    ◄──Room::poll_output(): Send / Gate / Close───┘
//! ```
//!
//! # Layout
//! - [`protocol`]: the wire contract (client and server messages, error codes), read and
//!   written from both ends: [`protocol::decode`] / [`protocol::encode`] for the server,
//!   [`protocol::encode_client`] / [`protocol::decode_server`] for a Rust client; the
//!   views live in `views`.
//! - [`io`]: the room's inputs and outputs ([`Input`], [`JoinRequest`], [`Output`] to an
//!   [`Audience`]), shared by the room and its journal.
//! - [`room`]: [`Room`]; handlers, floor transitions and the replay from a journal inside.
//! - [`floor`]: floor states, turns and their deadlines.
//! - [`queue`]: the hand queue and its order policies.
//! - [`reactions`]: per-person reaction rate limits.
//! - [`chat`]: the room's text chat (kept messages, what a message may contain).
//! - [`stats`]: talk-time balance (Gini).
//! - [`colour`]: initials and room-distinct colours.
//! - [`journal`]: what a room records of each accepted change ([`Room::replay`] rebuilds
//!   the room from it: how rooms survive a restart).
//! - [`report`]: session reports and learners' summaries, built by replaying a journal.
//! - [`breakouts`]: breakout groups: plans, views and how people are dealt into groups
//!   (the plenary's handlers are in `room/breakout.rs`).
//! - [`ids`]: typed identifiers.
//! - [`error`]: [`RoomError`], why an action was refused.

pub mod breakouts;
pub mod chat;
pub mod colour;
pub mod error;
pub mod floor;
pub mod ids;
pub mod io;
pub mod journal;
mod participant;
pub mod protocol;
pub mod queue;
pub mod reactions;
pub mod report;
pub mod room;
pub mod stats;
mod views;

pub use error::RoomError;
pub use ids::{ChatId, LinkId, ParticipantId, ResumeHash, ResumeToken, RoomId, TurnId};
pub use io::{Audience, Input, JoinRequest, Joined, Output};
pub use journal::{Change, Entry, JoinRecord, Origin, ReplayError};
pub use room::Room;
