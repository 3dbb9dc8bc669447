//! One WebSocket session: wait for a valid `join`, then relay frames between the socket
//! and the room task. Generic over the socket's `Sink`/`Stream` halves.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use talkstick_signaling::protocol::{
    self, ClientMsg, DecodeError, ErrorCode, PROTOCOL_VERSION, ServerMsg,
};
use talkstick_signaling::{JoinRequest, ParticipantId, ResumeToken, RoomId};
use tokio::sync::mpsc;

use super::AppState;
use crate::room::{Conn, ConnId, JoinError, Outbound, RoomCmd, RoomHandle};
use crate::token::{self, TokenError};

/// Time a new connection has to send a valid `join`.
pub(crate) const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Hard cap on a WebSocket message; larger ones close the connection. Frames between
/// [`protocol::MAX_FRAME_BYTES`] and this get a `too_large` error and stay open.
pub(crate) const HARD_MAX_MESSAGE: usize = 1 << 20;
/// Close code for a refused token.
pub(crate) const CLOSE_BAD_TOKEN: u16 = 4001;
/// Most queued messages written to one member before the writes are flushed.
const WRITE_BATCH: usize = 32;

pub(super) async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    // Signaling messages are small: modest buffers keep memory per participant low
    // (the library's defaults are 128 KiB each way), and the library zero-fills the read
    // buffer up to its size on every read.
    ws.max_message_size(HARD_MAX_MESSAGE)
        .max_frame_size(HARD_MAX_MESSAGE)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .on_upgrade(move |socket: WebSocket| {
            let (sink, stream) = socket.split();
            session(sink, stream, state)
        })
}

/// Who the connection became after a successful join.
struct Session {
    room: RoomHandle,
    participant: ParticipantId,
    conn: ConnId,
    rx: mpsc::Receiver<Outbound>,
}

/// Runs one connection to its end.
pub(crate) async fn session<S, R>(mut sink: S, mut stream: R, state: AppState)
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin + Send + 'static,
{
    let joined =
        tokio::time::timeout(JOIN_TIMEOUT, handshake(&mut sink, &mut stream, &state)).await;
    let Ok(Some(mut s)) = joined else {
        if joined.is_err() {
            let msg = error_text(0, ErrorCode::NotJoined, "no join within 10 seconds", None);
            let _ = sink.send(Message::Text(msg.into())).await;
            let _ = sink.send(close(1008, "join timeout")).await;
        }
        return;
    };
    // The socket is read by a task of its own, which hands the member's frames straight
    // to the room: this one wakes for every message the room sends the member (about 15 a
    // second in a busy room), and polling the socket on each of those wake-ups cost more
    // than the write (the library zero-fills its read buffer on every attempt).
    let mut reader = tokio::spawn(read_frames(stream, s.room.tx.clone(), s.participant, s.conn));
    let mut left = false;
    loop {
        tokio::select! {
            out = s.rx.recv() => {
                let Some(first) = out else { break }; // the room dropped this connection
                // Whatever else is already queued for this member (a floor change sends
                // several messages at once) goes out in the same write.
                let mut next = Some(first);
                let (mut closing, mut failed, mut fed) = (None, false, 0);
                while let Some(o) = next.take() {
                    match o {
                        Outbound::Text(t) => failed = sink.feed(Message::Text(t)).await.is_err(),
                        Outbound::Close(code, reason) => closing = Some((code, reason)),
                    }
                    fed += 1;
                    if !failed && closing.is_none() && fed < WRITE_BATCH {
                        next = s.rx.try_recv().ok();
                    }
                }
                if failed || sink.flush().await.is_err() { break; }
                if let Some((code, reason)) = closing {
                    let _ = sink.send(close(code, reason)).await;
                    left = true;
                    break;
                }
            },
            // The member went away, and the reader told the room (unless it panicked).
            read = &mut reader => if read.is_ok() { return } else { break },
        }
    }
    reader.abort();
    if !left {
        let _ = s
            .room
            .tx
            .send(RoomCmd::Disconnected { participant: s.participant, conn: s.conn })
            .await;
    }
}

/// Hands a joined member's frames to their room until the socket ends, then tells the
/// room they disconnected. Bad frames go to the room as errors, for it to answer.
async fn read_frames<R>(
    mut stream: R,
    room: mpsc::Sender<RoomCmd>,
    participant: ParticipantId,
    conn: ConnId,
) where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    loop {
        let frame = match stream.next().await {
            Some(Ok(Message::Text(t))) => protocol::decode(t.as_str()),
            Some(Ok(Message::Binary(b))) => Err(DecodeError::Malformed(format!(
                "binary frames ({} bytes) are not part of the protocol; send JSON text",
                b.len()
            ))),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_)) | Err(_)) | None => break,
        };
        if room.send(RoomCmd::Client { from: participant, conn, frame }).await.is_err() {
            return; // the room is gone
        }
    }
    let _ = room.send(RoomCmd::Disconnected { participant, conn }).await;
}

/// Reads frames until a valid join. Bad frames get an error and the connection stays
/// open; a bad token closes it. `None` when the connection ended without joining.
async fn handshake<S, R>(sink: &mut S, stream: &mut R, state: &AppState) -> Option<Session>
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    loop {
        let text = match stream.next().await? {
            Ok(Message::Text(t)) => t,
            Ok(Message::Binary(_)) => {
                let e = error_text(0, ErrorCode::Malformed, "send JSON text frames", None);
                sink.send(Message::Text(e.into())).await.ok()?;
                continue;
            }
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Close(_)) | Err(_) => return None,
        };
        let refusal = match protocol::decode(text.as_str()) {
            Err(e) => (e.code(), e.to_string(), None),
            Ok(frame) => match frame.msg {
                ClientMsg::Join { v, token, resume } if v == PROTOCOL_VERSION => {
                    match try_join(state, &token, resume).await {
                        Ok(session) => return Some(session),
                        Err(Refusal { code, message, fatal }) => {
                            let e = error_text(0, code, &message, frame.id);
                            sink.send(Message::Text(e.into())).await.ok()?;
                            if fatal {
                                let _ = sink.send(close(CLOSE_BAD_TOKEN, "bad token")).await;
                                return None;
                            }
                            continue;
                        }
                    }
                }
                ClientMsg::Join { v, .. } => (
                    ErrorCode::UnsupportedVersion,
                    format!(
                        "protocol version {v} is not supported; this server speaks {PROTOCOL_VERSION}"
                    ),
                    frame.id,
                ),
                _ => (ErrorCode::NotJoined, "send join first".to_owned(), frame.id),
            },
        };
        let e = error_text(0, refusal.0, &refusal.1, refusal.2);
        sink.send(Message::Text(e.into())).await.ok()?;
    }
}

struct Refusal {
    code: ErrorCode,
    message: String,
    fatal: bool,
}

async fn try_join(
    state: &AppState,
    token: &str,
    resume: Option<ResumeToken>,
) -> Result<Session, Refusal> {
    let claims = token::verify(&state.secret, token, token::unix_now()).map_err(|e| Refusal {
        code: match e {
            TokenError::Expired => ErrorCode::TokenExpired,
            _ => ErrorCode::BadToken,
        },
        message: e.to_string(),
        fatal: true,
    })?;
    let room: RoomId = claims.room;
    let conn_id = state.conn_id();
    let (tx, rx) = mpsc::channel(crate::room::inbox::CONN_BUFFER);
    let req = JoinRequest {
        name: claims.name,
        role: claims.role,
        resume,
        new_resume: ResumeToken(new_resume_token()),
    };
    let conn = Conn { id: conn_id, tx };
    match state.registry.join(&room, req, conn).await {
        Ok((joined, handle)) => {
            Ok(Session { room: handle, participant: joined.participant, conn: conn_id, rx })
        }
        Err(JoinError::Room(e)) => {
            Err(Refusal { code: e.code(), message: e.to_string(), fatal: false })
        }
        Err(e @ JoinError::Unavailable) => {
            Err(Refusal { code: ErrorCode::Internal, message: e.to_string(), fatal: false })
        }
    }
}

fn new_resume_token() -> String {
    use base64::Engine as _;
    let bytes: [u8; 18] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn error_text(seq: u64, code: ErrorCode, message: &str, re: Option<u32>) -> String {
    protocol::encode(
        seq,
        &ServerMsg::Error { code, message: message.to_owned(), re, retry_after_ms: None },
    )
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}
