//! One WebSocket session: wait for a valid `join`, then relay frames between the socket
//! and the room task. Generic over the socket's `Sink`/`Stream` halves.
//!
//! What one connection can cost is bounded: frames over the protocol's 16 KiB are refused
//! by the WebSocket layer before they are buffered; every frame is counted against the
//! connection's [`Budget`]; every write has [`WRITE_TIMEOUT`] to finish, so a client
//! that stops reading is closed rather than holding the task; and a connection waiting
//! to join holds a place in the [`super::gate::JoinGate`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use talkstick_signaling::protocol::{
    self, ClientMsg, DecodeError, ErrorCode, PROTOCOL_VERSION, ServerMsg,
};
use talkstick_signaling::{JoinRequest, ParticipantId, ResumeToken, RoomId};
use tokio::sync::mpsc;

use super::AppState;
use super::budget::{Budget, CLOSE_TOO_MANY, Verdict};
use super::gate::Waiting;
use crate::room::{Conn, ConnId, JoinError, Outbound, RoomCmd, RoomHandle};
use crate::token::{self, TokenError};

/// Time a new connection has to send a valid `join`.
pub(crate) const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Time one write (a batch of messages, flushed) has to reach the socket: a client that
/// reads nothing is closed after this, instead of holding a task and a descriptor.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Close code for a refused token.
pub(crate) const CLOSE_BAD_TOKEN: u16 = 4001;
/// Most queued messages written to one member before the writes are flushed.
const WRITE_BATCH: usize = 32;

pub(super) async fn upgrade(
    ws: WebSocketUpgrade,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    State(state): State<AppState>,
) -> Response {
    let Some(waiting) = state.gate.enter(from.ip()) else {
        let why = "too many connections are waiting to join; try again shortly";
        return (StatusCode::SERVICE_UNAVAILABLE, why).into_response();
    };
    // Signaling messages are small: modest buffers keep memory per participant low
    // (the library's defaults are 128 KiB each way), and the library zero-fills the read
    // buffer up to its size on every read. A frame over the protocol's limit ends the
    // connection before it is buffered.
    ws.max_message_size(protocol::MAX_FRAME_BYTES)
        .max_frame_size(protocol::MAX_FRAME_BYTES)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .on_upgrade(move |socket: WebSocket| {
            let (sink, stream) = socket.split();
            session(sink, stream, state, waiting)
        })
}

/// Who the connection became after a successful join.
struct Session {
    room: RoomHandle,
    /// The room's id (for the log span).
    room_id: RoomId,
    participant: ParticipantId,
    conn: ConnId,
    rx: mpsc::Receiver<Outbound>,
}

/// Runs one connection to its end. `waiting` is its place among the connections that
/// wait to join, given back once it has joined or ended.
pub(crate) async fn session<S, R>(mut sink: S, mut stream: R, state: AppState, waiting: Waiting)
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin + Send + 'static,
{
    let _running = state.session_started();
    let opened = Instant::now();
    let mut budget = Budget::new(opened);
    let handshake = handshake(&mut sink, &mut stream, &state, &mut budget);
    let joined = tokio::time::timeout(JOIN_TIMEOUT, handshake).await;
    drop(waiting);
    let Ok(Some(mut s)) = joined else {
        if joined.is_err() {
            let msg = error_text(0, ErrorCode::NotJoined, "no join within 10 seconds", None);
            let _ = write_within(&mut sink, Message::Text(msg.into())).await;
            let _ = write_within(&mut sink, close(1008, "join timeout")).await;
        }
        return;
    };
    metrics::histogram!("talkstick_join_seconds").record(opened.elapsed().as_secs_f64());
    // The socket is read by a task of its own, which hands the member's frames straight
    // to the room: this one wakes for every message the room sends the member (about 15 a
    // second in a busy room), and polling the socket on each of those wake-ups cost more
    // than the write (the library zero-fills its read buffer on every attempt). The
    // reader ends with this task, however it ends.
    let member = Member { room: s.room.tx.clone(), participant: s.participant, conn: s.conn };
    let span = tracing::info_span!("participant", room = %s.room_id, participant = %s.participant);
    let reader = tracing::Instrument::instrument(read_frames(stream, member, budget), span);
    let mut reader = AbortOnDrop(tokio::spawn(reader));
    let mut left = false;
    loop {
        tokio::select! {
            out = s.rx.recv() => {
                let Some(first) = out else { break }; // the room dropped this connection
                let batch = write_batch(&mut sink, first, &mut s.rx);
                match tokio::time::timeout(WRITE_TIMEOUT, batch).await {
                    Ok(Ok(None)) => {}
                    Ok(Ok(Some((code, reason)))) => {
                        let _ = write_within(&mut sink, close(code, reason)).await;
                        left = true;
                        break;
                    }
                    // The socket failed, or the client stopped reading.
                    Ok(Err(())) | Err(_) => break,
                }
            },
            // The member went away, and the reader told the room (unless it panicked).
            read = &mut reader.0 => if read.is_ok() { return } else { break },
        }
    }
    drop(reader);
    if !left {
        let _ = s
            .room
            .tx
            .send(RoomCmd::Disconnected { participant: s.participant, conn: s.conn })
            .await;
    }
}

/// A joined member's way to their room.
struct Member {
    room: mpsc::Sender<RoomCmd>,
    participant: ParticipantId,
    conn: ConnId,
}

/// Aborts the task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Writes `first` and whatever else is already queued for the member (a floor change
/// sends several messages at once, up to [`WRITE_BATCH`]), then flushes once. Returns
/// the close the room asked for, if it did; `Err` when the socket failed.
async fn write_batch<S>(
    sink: &mut S,
    first: Outbound,
    rx: &mut mpsc::Receiver<Outbound>,
) -> Result<Option<(u16, &'static str)>, ()>
where
    S: Sink<Message> + Unpin,
{
    let mut next = Some(first);
    let (mut closing, mut fed) = (None, 0);
    while let Some(o) = next.take() {
        match o {
            Outbound::Text(t) => sink.feed(Message::Text(t)).await.map_err(|_| ())?,
            Outbound::Close(code, reason) => closing = Some((code, reason)),
        }
        fed += 1;
        if closing.is_none() && fed < WRITE_BATCH {
            next = rx.try_recv().ok();
        }
    }
    sink.flush().await.map_err(|_| ())?;
    Ok(closing)
}

/// Sends one message within [`WRITE_TIMEOUT`]; `None` when it failed or took too long.
async fn write_within<S: Sink<Message> + Unpin>(sink: &mut S, msg: Message) -> Option<()> {
    tokio::time::timeout(WRITE_TIMEOUT, sink.send(msg)).await.ok()?.ok()
}

/// Hands a joined member's frames to their room until the socket ends, then tells the
/// room they disconnected. Bad frames go to the room as errors, for it to answer; frames
/// over the connection's budget are dropped here, and the room is told to answer or, for
/// a flood, to close the connection.
async fn read_frames<R>(mut stream: R, member: Member, mut budget: Budget)
where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let Member { room, participant, conn } = member;
    loop {
        let frame = match stream.next().await {
            Some(Ok(Message::Text(t))) => {
                let frame = protocol::decode(t.as_str());
                let kind = frame.as_ref().map_or("invalid", |f| f.msg.kind());
                metrics::counter!("talkstick_messages_total", "type" => kind).increment(1);
                Some(frame)
            }
            Some(Ok(Message::Binary(b))) => Some(Err(DecodeError::Malformed(format!(
                "binary frames ({} bytes) are not part of the protocol; send JSON text",
                b.len()
            )))),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
            Some(Ok(Message::Close(_)) | Err(_)) | None => break,
        };
        let cmd = match budget.admit(Instant::now()) {
            Verdict::Pass => match frame {
                Some(frame) => RoomCmd::Client { from: participant, conn, frame },
                None => continue,
            },
            Verdict::Refuse { notify: false, .. } => continue,
            Verdict::Refuse { notify: true, retry_after_ms } => {
                let re = frame.and_then(|f| f.ok()).and_then(|f| f.id);
                RoomCmd::OverBudget { from: participant, conn, re, retry_after_ms, close: false }
            }
            Verdict::Close => {
                let close = RoomCmd::OverBudget {
                    from: participant,
                    conn,
                    re: None,
                    retry_after_ms: 0,
                    close: true,
                };
                // The room closes the connection (and counts the member as gone); reading
                // stops here.
                let _ = room.send(close).await;
                return std::future::pending().await;
            }
        };
        if room.send(cmd).await.is_err() {
            return; // the room is gone
        }
    }
    let _ = room.send(RoomCmd::Disconnected { participant, conn }).await;
}

/// Reads frames until a valid join. Bad frames get an error and the connection stays
/// open; a bad token closes it. `None` when the connection ended without joining.
async fn handshake<S, R>(
    sink: &mut S,
    stream: &mut R,
    state: &AppState,
    budget: &mut Budget,
) -> Option<Session>
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    loop {
        let message = stream.next().await?;
        match budget.admit(Instant::now()) {
            Verdict::Pass => {}
            Verdict::Refuse { notify, retry_after_ms } => {
                if notify {
                    let e = rate_limited_text(retry_after_ms);
                    write_within(sink, Message::Text(e.into())).await?;
                }
                continue;
            }
            Verdict::Close => {
                let _ = write_within(sink, close(CLOSE_TOO_MANY, "too many messages")).await;
                return None;
            }
        }
        let text = match message {
            Ok(Message::Text(t)) => t,
            Ok(Message::Binary(_)) => {
                let e = error_text(0, ErrorCode::Malformed, "send JSON text frames", None);
                write_within(sink, Message::Text(e.into())).await?;
                continue;
            }
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Close(_)) | Err(_) => return None,
        };
        let refusal = match protocol::decode(text.as_str()) {
            Err(e) => (e.code(), e.to_string(), None),
            Ok(frame) => match frame.msg {
                ClientMsg::Join { v, token, resume, group, listen } if v == PROTOCOL_VERSION => {
                    match try_join(state, &token, resume, group.map(|g| (g, listen))).await {
                        Ok(session) => return Some(session),
                        Err(Refusal { code, message, fatal }) => {
                            let e = error_text(0, code, &message, frame.id);
                            write_within(sink, Message::Text(e.into())).await?;
                            if fatal {
                                let _ =
                                    write_within(sink, close(CLOSE_BAD_TOKEN, "bad token")).await;
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
        write_within(sink, Message::Text(e.into())).await?;
    }
}

struct Refusal {
    code: ErrorCode,
    message: String,
    fatal: bool,
}

/// Verifies the token and joins its room, or, with `group`, the breakout group's room
/// the plenary put this link in (`listen`: a facilitator listening in).
async fn try_join(
    state: &AppState,
    token: &str,
    resume: Option<ResumeToken>,
    group: Option<(RoomId, bool)>,
) -> Result<Session, Refusal> {
    let claims = token::verify(&state.secret, token, token::unix_now()).map_err(|e| Refusal {
        code: match e {
            TokenError::Expired => ErrorCode::TokenExpired,
            _ => ErrorCode::BadToken,
        },
        message: e.to_string(),
        fatal: true,
    })?;
    let link = token::link_id(token);
    let mut req = JoinRequest::new(claims.name, claims.role, ResumeToken(new_resume_token()));
    req.resume = resume;
    let room: RoomId = match group {
        None => claims.room,
        Some((group, listen)) => {
            // Only the plenary's word lets anyone in: the group must be one of this link's
            // plenary, and the plenary must have put this link in it now.
            let not_in =
                |message: String| Refusal { code: ErrorCode::NotInGroup, message, fatal: false };
            if !group.is_group() || group.plenary() != claims.room {
                return Err(not_in(format!("{group} is not a breakout group of {}", claims.room)));
            }
            let (role, colour) =
                state.registry.directory().admits(&group, &link).ok_or_else(|| {
                    not_in(format!("you are not in {group} (a facilitator may have moved you)"))
                })?;
            req.role = role;
            req.colour = Some(colour);
            req.listen = listen && role == talkstick_signaling::protocol::Role::Facilitator;
            group
        }
    };
    req.link = Some(link);
    let conn_id = state.conn_id();
    let (tx, rx) = mpsc::channel(crate::room::inbox::CONN_BUFFER);
    let conn = Conn { id: conn_id, tx };
    match state.registry.join(&room, req, conn).await {
        Ok((joined, handle)) => Ok(Session {
            room: handle,
            room_id: room.clone(),
            participant: joined.participant,
            conn: conn_id,
            rx,
        }),
        Err(JoinError::Room(e)) => {
            Err(Refusal { code: e.code(), message: e.to_string(), fatal: false })
        }
        Err(e @ (JoinError::Unavailable | JoinError::Draining)) => {
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

/// The `rate_limited` error a connection over its budget gets before it has joined.
fn rate_limited_text(retry_after_ms: u64) -> String {
    let message = "too many messages; slow down".to_owned();
    let error = ServerMsg::Error {
        code: ErrorCode::RateLimited,
        message,
        re: None,
        retry_after_ms: Some(retry_after_ms),
    };
    protocol::encode(0, &error)
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

#[cfg(test)]
mod tests {
    //! Sessions driven through channels instead of sockets, on tokio's paused clock.

    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};

    use talkstick_signaling::protocol::{Role, Settings};

    use super::*;
    use crate::room::Registry;
    use crate::token::{Claims, Secret, mint, unix_now};

    const SECRET: &str = "session-tests-secret-0123456789";

    /// A socket's sending half that takes `room` messages, then never another: a client
    /// that stopped reading, once the kernel's buffers are full. Counts what it took.
    struct StopsReading {
        room: usize,
        taken: Arc<AtomicUsize>,
    }

    impl Sink<Message> for StopsReading {
        type Error = axum::Error;

        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            if self.taken.load(Ordering::SeqCst) < self.room {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending // and nothing will ever wake it
            }
        }

        fn start_send(self: Pin<&mut Self>, _: Message) -> Result<(), Self::Error> {
            self.taken.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.poll_ready(cx)
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    fn state() -> AppState {
        AppState::new(Secret::new(SECRET), Registry::new(Settings::default()))
    }

    fn join_frame(name: &str) -> Result<Message, axum::Error> {
        let claims = Claims {
            room: "limits".parse().unwrap(),
            name: name.into(),
            role: Role::Learner,
            exp: unix_now() + 600,
        };
        let token = mint(&Secret::new(SECRET), &claims);
        let join = serde_json::json!({"type": "join", "v": 1, "token": token});
        Ok(Message::Text(join.to_string().into()))
    }

    /// A session on channels: what the test sends it, and what it wrote.
    fn start(
        state: &AppState,
        sink: impl Sink<Message> + Unpin + Send + 'static,
    ) -> (mpsc::Sender<Result<Message, axum::Error>>, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4096);
        let stream = tokio_stream_of(rx);
        let waiting = state.gate.enter("127.0.0.1".parse().unwrap()).unwrap();
        let task = tokio::spawn(session(sink, stream, state.clone(), waiting));
        (tx, task)
    }

    fn tokio_stream_of(
        mut rx: mpsc::Receiver<Result<Message, axum::Error>>,
    ) -> impl Stream<Item = Result<Message, axum::Error>> + Unpin + Send + 'static {
        Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }

    /// A sink that keeps what it is given.
    fn recording() -> (
        impl Sink<Message, Error = std::convert::Infallible> + Unpin + Send + 'static,
        mpsc::UnboundedReceiver<Message>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sink = futures_util::sink::unfold(tx, |tx, m: Message| async move {
            let _ = tx.send(m);
            Ok::<_, std::convert::Infallible>(tx)
        });
        (Box::pin(sink), rx)
    }

    /// Reads what a recording sink got until a text containing `needle`; its JSON.
    async fn wait_for(
        rx: &mut mpsc::UnboundedReceiver<Message>,
        needle: &str,
    ) -> serde_json::Value {
        loop {
            match rx.recv().await.expect("the session wrote nothing more") {
                Message::Text(t) if t.as_str().contains(needle) => {
                    return serde_json::from_str(t.as_str()).unwrap();
                }
                _ => {}
            }
        }
    }

    /// A member that stops reading is closed once a write has waited [`WRITE_TIMEOUT`],
    /// and the room counts them as disconnected (the others are told).
    #[tokio::test(start_paused = true)]
    async fn a_member_that_stops_reading_is_closed_after_the_write_timeout() {
        let state = state();
        let taken = Arc::new(AtomicUsize::new(0));
        let (to_a, a) = start(&state, StopsReading { room: 1, taken: Arc::clone(&taken) });
        to_a.send(join_frame("Aino")).await.unwrap();
        let (sink, mut seen_by_b) = recording();
        let (to_b, _b) = start(&state, sink);
        to_b.send(join_frame("Bertil")).await.unwrap();
        wait_for(&mut seen_by_b, "\"welcome\"").await;
        // Bertil's joining is news for Aino, whose socket takes nothing more.
        let started = tokio::time::Instant::now();
        tokio::time::timeout(WRITE_TIMEOUT * 3, a).await.expect("Aino's session ended").unwrap();
        let took = started.elapsed();
        assert!(took >= WRITE_TIMEOUT && took < WRITE_TIMEOUT * 2, "closed after {took:?}");
        assert_eq!(taken.load(Ordering::SeqCst), 1, "only her welcome was written");
        let gone = wait_for(&mut seen_by_b, "\"connected\":false").await;
        assert_eq!(gone["participant"]["name"], "Aino");
    }

    /// A member who floods is told once, then closed with 1008; the room goes on.
    #[tokio::test(start_paused = true)]
    async fn a_member_that_floods_is_told_then_closed() {
        let state = state();
        let (sink, mut seen) = recording();
        let (to_a, a) = start(&state, sink);
        to_a.send(join_frame("Aino")).await.unwrap();
        wait_for(&mut seen, "\"welcome\"").await;
        let away = |away: bool| {
            let text = serde_json::json!({"type": "set_away", "away": away}).to_string();
            Ok(Message::Text(text.into()))
        };
        for k in 0..500 {
            if to_a.send(away(k % 2 == 0)).await.is_err() {
                break;
            }
        }
        let limited = wait_for(&mut seen, "rate_limited").await;
        assert!(limited["retry_after_ms"].as_u64().unwrap() >= 1, "{limited}");
        let closed = loop {
            match seen.recv().await.expect("a close frame") {
                Message::Close(Some(f)) => break f,
                _ => continue,
            }
        };
        assert_eq!(closed.code, CLOSE_TOO_MANY);
        tokio::time::timeout(Duration::from_secs(1), a).await.expect("the session ended").unwrap();
        // Someone else still joins the room and is served.
        let (sink, mut seen_by_b) = recording();
        let (to_b, _b) = start(&state, sink);
        to_b.send(join_frame("Bertil")).await.unwrap();
        let welcome = wait_for(&mut seen_by_b, "\"welcome\"").await;
        let aino = &welcome["room"]["participants"][0];
        assert_eq!(
            (aino["name"].as_str(), aino["connected"].as_bool()),
            (Some("Aino"), Some(false))
        );
    }
}
