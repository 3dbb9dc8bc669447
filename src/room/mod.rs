//! Rooms at run time: [`core`] joins one signaling `Room` with its media `Forwarder` and
//! members' connections; [`task`] drives a core on tokio; the [`registry`] maps room ids
//! to running tasks; [`inbox`] holds the types they share; `held` keeps messages until
//! the session store has committed the changes they tell of; the [`directory`] says who
//! each breakout group's room admits, as its plenary decided.
//!
//! Within `room/`: registry → task → core → held → inbox → directory, and each may use
//! those after it.

pub mod core;
pub mod directory;
mod held;
pub mod inbox;
pub mod registry;
pub mod task;

pub use directory::{Eviction, GroupDirectory};
pub use inbox::{Conn, ConnId, Outbound, Plane, RoomCmd, RoomHandle};
pub use registry::{JoinError, Registry};
