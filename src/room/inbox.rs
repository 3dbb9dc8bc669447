//! What flows into a room's task and out to its members' connections: the types the
//! registry, the task and the core share, at the bottom of `room/` so that none of them
//! takes its types from another.

use axum::extract::ws::Utf8Bytes;
use talkstick_signaling::protocol::{ClientFrame, DecodeError};
use talkstick_signaling::{JoinRequest, Joined, ParticipantId, RoomError};
use tokio::sync::{mpsc, oneshot};

use super::directory::Eviction;
use crate::media::{Datagram, MediaPlane};

/// Messages queued for one connection before it counts as too slow and is dropped.
pub const CONN_BUFFER: usize = 512;
/// Commands queued for one room.
pub const ROOM_BUFFER: usize = 1024;
/// Datagrams queued for one room, on an inbox of their own: about 80 ms of a 40-person
/// plenary's audio, before the media plane counts them as dropped (`dropped_busy`).
pub const MEDIA_BUFFER: usize = 1024;

/// The media plane as rooms use it: datagrams routed to each room's datagram inbox.
pub type Plane = MediaPlane<mpsc::Sender<Datagram>>;

/// One WebSocket connection's identity, unique in the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(pub u64);

/// What the room task sends to a connection.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A JSON text frame.
    Text(Utf8Bytes),
    /// Close the WebSocket with this code and reason.
    Close(u16, &'static str),
}

/// The room's end of a connection.
#[derive(Debug, Clone)]
pub struct Conn {
    /// Which connection.
    pub id: ConnId,
    /// Its outbound queue.
    pub tx: mpsc::Sender<Outbound>,
}

/// An input for a room task.
#[derive(Debug)]
pub enum RoomCmd {
    /// Admit (or resume) a participant on a connection.
    Join {
        /// From the verified token and the join message.
        req: JoinRequest,
        /// Where their messages go.
        conn: Conn,
        /// The outcome.
        reply: oneshot::Sender<Result<Joined, RoomError>>,
    },
    /// A frame from a joined participant, or why it could not be read.
    Client {
        /// Sender.
        from: ParticipantId,
        /// Their connection.
        conn: ConnId,
        /// The decoded frame.
        frame: Result<ClientFrame, DecodeError>,
    },
    /// A member's connection sent more than its budget allows (counted by the
    /// connection's reader, which dropped the frames): answer `rate_limited`, or close it.
    OverBudget {
        /// Sender.
        from: ParticipantId,
        /// Their connection.
        conn: ConnId,
        /// The `id` of the frame that went over, if it had one.
        re: Option<u32>,
        /// When one more frame fits.
        retry_after_ms: u64,
        /// They went on flooding after being told: close the connection.
        close: bool,
    },
    /// A connection ended.
    Disconnected {
        /// Whose.
        participant: ParticipantId,
        /// Which (a resumed participant may already have a newer one).
        conn: ConnId,
    },
    /// The server will stop soon: tell everyone (the room goes on meanwhile).
    Draining {
        /// In words, with the time left.
        message: String,
    },
    /// In a breakout group's room: its plenary no longer puts these people here (moved,
    /// called back), or gave them a new role here.
    Evict(Eviction),
    /// The server is stopping: say goodbye and end.
    Shutdown,
}

/// A registry's handle on a running room task.
#[derive(Debug, Clone)]
pub struct RoomHandle {
    /// The task's inbox.
    pub tx: mpsc::Sender<RoomCmd>,
    /// Tells this task apart from a later one for the same room id.
    pub generation: u64,
    /// People in the room (present or in their grace period), as the task last saw.
    pub people: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}
