//! Rooms at run time: [`core`] joins one signaling `Room` with its media `Forwarder` and
//! members' connections; [`task`] drives a core on tokio; the [`registry`] maps room ids
//! to running tasks.

pub mod core;
pub mod registry;
pub mod task;

pub use registry::{JoinError, Registry};
pub use task::{Conn, ConnId, Outbound, RoomCmd, RoomHandle};
