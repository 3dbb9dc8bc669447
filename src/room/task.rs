//! The task that owns one room. It is the only place the room's state lives: inputs
//! arrive on one channel, the room decides, and the task delivers the outputs to the
//! connections it keeps. No locks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use talkstick_signaling::protocol::{self, ClientFrame, DecodeError, Role, ServerMsg};
use talkstick_signaling::{Input, JoinRequest, Joined, Output, ParticipantId, Room, RoomError};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::registry::Registry;

/// Messages queued for one connection before it counts as too slow and is dropped.
pub const CONN_BUFFER: usize = 512;
/// Commands queued for one room.
pub const ROOM_BUFFER: usize = 1024;
/// How long an empty room lingers before its task ends.
pub const EMPTY_ROOM_LINGER: Duration = Duration::from_secs(60);

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
    /// A connection ended.
    Disconnected {
        /// Whose.
        participant: ParticipantId,
        /// Which (a resumed participant may already have a newer one).
        conn: ConnId,
    },
    /// Speech detection from the media plane.
    Speaking {
        /// Who.
        participant: ParticipantId,
        /// Speaking now.
        speaking: bool,
    },
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
}

struct Member {
    conn: Conn,
    role: Role,
}

/// Runs one room until it has been empty for [`EMPTY_ROOM_LINGER`] or the server stops.
pub async fn run(
    mut room: Room,
    mut rx: mpsc::Receiver<RoomCmd>,
    registry: Arc<Registry>,
    generation: u64,
) {
    let mut members: HashMap<ParticipantId, Member> = HashMap::new();
    let mut empty_since: Option<Instant> = Some(Instant::now());
    loop {
        let wake = [
            room.poll_timeout().map(Instant::from_std),
            empty_since.map(|t| t + EMPTY_ROOM_LINGER),
        ]
        .into_iter()
        .flatten()
        .min();
        let cmd = tokio::select! {
            cmd = rx.recv() => cmd,
            () = sleep_until(wake) => {
                let now = Instant::now();
                if empty_since.is_some_and(|t| t + EMPTY_ROOM_LINGER <= now) && room.is_empty() {
                    break;
                }
                let _ = room.handle(now.into_std(), Input::Timeout);
                deliver(&mut room, &mut members);
                continue;
            }
        };
        let Some(cmd) = cmd else { break };
        if matches!(cmd, RoomCmd::Shutdown) {
            goodbye_all(&room, &mut members, "the server is shutting down");
            break;
        }
        apply(&mut room, &mut members, cmd);
        deliver(&mut room, &mut members);
        empty_since = if room.is_empty() { empty_since.or(Some(Instant::now())) } else { None };
    }
    registry.forget(room.id(), generation);
    tracing::debug!(room = %room.id(), "room task ended");
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn apply(room: &mut Room, members: &mut HashMap<ParticipantId, Member>, cmd: RoomCmd) {
    let now = Instant::now().into_std();
    match cmd {
        RoomCmd::Join { req, conn, reply } => {
            let role = req.role;
            let result = room.join(now, req);
            if let Ok(joined) = &result {
                let new = Member { conn, role };
                if let Some(old) = members.insert(joined.participant, new) {
                    replaced(room, &old.conn);
                }
            }
            let _ = reply.send(result);
        }
        RoomCmd::Client { from, conn, frame } => {
            if members.get(&from).is_none_or(|m| m.conn.id != conn) {
                return; // a frame from a connection that was replaced
            }
            let (re, outcome) = match frame {
                Ok(frame) => (
                    frame.id,
                    room.handle(now, Input::Client { from, msg: frame.msg })
                        .map_err(|e| (e.code(), e.to_string(), e.retry_after_ms())),
                ),
                Err(e) => (None, Err((e.code(), e.to_string(), None))),
            };
            if let Err((code, message, retry_after_ms)) = outcome {
                let msg = ServerMsg::Error { code, message, re, retry_after_ms };
                send(members, from, &protocol::encode(room.seq(), &msg));
            }
        }
        RoomCmd::Disconnected { participant, conn } => {
            if members.get(&participant).is_some_and(|m| m.conn.id == conn) {
                members.remove(&participant);
                let _ = room.handle(now, Input::Disconnected { participant });
            }
        }
        RoomCmd::Speaking { participant, speaking } => {
            let _ = room.handle(now, Input::Speaking { participant, speaking });
        }
        RoomCmd::Shutdown => {}
    }
}

/// Tells a connection that a newer one took over its identity, and closes it.
fn replaced(room: &Room, old: &Conn) {
    let bye = ServerMsg::Goodbye { reason: "you joined again from another connection".into() };
    let _ = old.tx.try_send(Outbound::Text(protocol::encode(room.seq(), &bye).into()));
    let _ = old.tx.try_send(Outbound::Close(4002, "replaced"));
}

fn goodbye_all(room: &Room, members: &mut HashMap<ParticipantId, Member>, reason: &str) {
    let bye = protocol::encode(room.seq(), &ServerMsg::Goodbye { reason: reason.into() });
    for m in members.values() {
        let _ = m.conn.tx.try_send(Outbound::Text(bye.as_str().into()));
        let _ = m.conn.tx.try_send(Outbound::Close(1001, "server shutting down"));
    }
    members.clear();
}

fn send(members: &mut HashMap<ParticipantId, Member>, to: ParticipantId, text: &str) {
    if let Some(m) = members.get(&to) {
        let _ = m.conn.tx.try_send(Outbound::Text(text.into()));
    }
}

/// Drains the room's outputs: each message is encoded once and shared by every
/// recipient. A connection whose queue is full is too slow to keep up; it is dropped
/// (the participant can resume), and the updates that causes are delivered in turn.
fn deliver(room: &mut Room, members: &mut HashMap<ParticipantId, Member>) {
    loop {
        let mut slow = Vec::new();
        while let Some(out) = room.poll_output() {
            match out {
                Output::Send { to, seq, msg } => {
                    let text: Utf8Bytes = protocol::encode(seq, &msg).into();
                    for (pid, m) in members.iter() {
                        if to.includes(*pid, m.role)
                            && m.conn.tx.try_send(Outbound::Text(text.clone())).is_err()
                        {
                            slow.push(*pid);
                        }
                    }
                }
                Output::Gate { participant, forward } => {
                    tracing::debug!(room = %room.id(), %participant, forward, "media gate");
                }
                Output::Close { participant } => {
                    if let Some(m) = members.remove(&participant) {
                        let _ = m.conn.tx.try_send(Outbound::Close(1000, "left"));
                    }
                }
            }
        }
        if slow.is_empty() {
            return;
        }
        // Bounded: every round removes at least one member.
        for pid in slow {
            if let Some(m) = members.remove(&pid) {
                tracing::warn!(room = %room.id(), participant = %pid, "connection too slow; dropped");
                let _ = m.conn.tx.try_send(Outbound::Close(4008, "too slow"));
                let now = Instant::now().into_std();
                let _ = room.handle(now, Input::Disconnected { participant: pid });
            }
        }
    }
}
