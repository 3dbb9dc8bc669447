//! Rooms at run time: one tokio task owns each [`talkstick_signaling::Room`]
//! ([`task`]); the [`registry`] maps room ids to those tasks.

pub mod registry;
pub mod task;

pub use registry::{JoinError, Registry};
pub use task::{Conn, ConnId, Outbound, RoomCmd, RoomHandle};
