//! Rooms at run time: [`core`] joins one signaling `Room` with its media `Forwarder` and
//! members' connections; [`task`] drives a core on tokio; the [`registry`] maps room ids
//! to running tasks; [`inbox`] holds the types they share; `held` keeps messages until
//! the session store has committed the changes they tell of.
//!
//! Within `room/`: registry → task → core → held → inbox, and each may use those after it.

pub mod core;
mod held;
pub mod inbox;
pub mod registry;
pub mod task;

pub use inbox::{Conn, ConnId, Outbound, Plane, RoomCmd, RoomHandle};
pub use registry::{JoinError, Registry};
