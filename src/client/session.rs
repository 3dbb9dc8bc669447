//! A participant session: join over WebSocket, negotiate audio, then one task runs the
//! WebSocket, the UDP socket and the WebRTC peer together.
//!
//! Messages are the signaling crate's types both ways: a caller sends [`ClientMsg`]s and
//! reads [`ServerFrame`]s, so a change to the protocol breaks the build of every client
//! rather than a run.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use talkstick_signaling::protocol::{
    self, ClientFrame, ClientMsg, DecodeError, ErrorCode, PROTOCOL_VERSION, RoomSnapshot,
    ServerFrame, ServerMsg, YouView,
};
use talkstick_signaling::{ParticipantId, ResumeToken, RoomId};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::rtc::{ClientRtc, ClientRtcError};
use crate::rtp::{Audio, RtcEvent};

/// WebSocket read and write buffer size.
const WS_BUFFER: usize = 4 * 1024;
/// Datagrams a session handles in a row before its other inputs get a turn.
const UDP_STREAK: u32 = 32;

/// Why a session failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached.
    #[error("cannot reach the server at {url}: {reason}")]
    Unreachable {
        /// The WebSocket URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server refused (bad token, full room, …).
    #[error("the server refused: {code}: {message}")]
    Refused {
        /// Error code.
        code: ErrorCode,
        /// Its text.
        message: String,
    },
    /// The connection closed early.
    #[error("the connection closed before {0}")]
    Closed(&'static str),
    /// The server answered the join with a message this client cannot read (another
    /// protocol version, or a bug on one side).
    #[error("unreadable answer to the join: {0}")]
    Undecodable(DecodeError),
    /// WebRTC failed.
    #[error(transparent)]
    Rtc(#[from] ClientRtcError),
    /// Socket error.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// What the session reports.
#[derive(Debug, Clone)]
pub enum ClientEvent {
    /// A server message, and when it arrived (read off the socket).
    Signal(ServerFrame, Instant),
    /// A server text frame that does not decode as a [`ServerFrame`]: reported, not
    /// skipped, so that a test sees a protocol mismatch where it happens and a load test
    /// can count it. The session goes on.
    Undecodable {
        /// The frame as received.
        text: String,
        /// Why it did not decode.
        error: DecodeError,
        /// When it arrived.
        at: Instant,
    },
    /// Audio on a slot.
    Audio(Audio),
    /// Audio connected.
    AudioConnected,
    /// Audio or WebSocket ended.
    Closed,
}

enum Command {
    /// With a cell for the time the message went to the socket, when asked for.
    Send(ClientFrame, Option<Arc<OnceLock<Instant>>>),
    Audio {
        rtp_time: u64,
        level: i8,
        data: Vec<u8>,
    },
    /// End now, as a killed process would: no goodbye, no close frame.
    Crash,
}

/// Events (mostly received audio, for a session with its own peer) dropped because their
/// reader fell behind, across every session in this process: a caller that measures
/// audio can tell a slow reader from loss at the server.
pub static DROPPED_EVENTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Where a session's events go: its own channel, or a channel shared by many sessions
/// with a tag telling them apart (one reader drives a whole simulated room).
pub enum EventSink {
    /// This session's own channel.
    Own(mpsc::Sender<ClientEvent>),
    /// A shared channel; events carry the tag.
    Shared(usize, mpsc::Sender<(usize, ClientEvent)>),
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventSink::Own(_) => f.write_str("EventSink::Own"),
            EventSink::Shared(tag, _) => write!(f, "EventSink::Shared({tag})"),
        }
    }
}

impl EventSink {
    async fn send(&self, ev: ClientEvent) -> bool {
        match self {
            EventSink::Own(tx) => tx.send(ev).await.is_ok(),
            EventSink::Shared(tag, tx) => tx.send((*tag, ev)).await.is_ok(),
        }
    }

    fn try_send(&self, ev: ClientEvent) {
        let sent = match self {
            EventSink::Own(tx) => tx.try_send(ev).is_ok(),
            EventSink::Shared(tag, tx) => tx.try_send((*tag, ev)).is_ok(),
        };
        if !sent {
            DROPPED_EVENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// A joined participant with audio.
#[derive(Debug)]
pub struct Participant {
    /// Participant id (the same as `you.id`).
    pub id: ParticipantId,
    /// Who the `welcome` said this participant is.
    pub you: YouView,
    /// The room as the `welcome` showed it.
    pub room: Box<RoomSnapshot>,
    /// The `welcome`'s sequence number: the events that follow count on from it.
    pub welcome_seq: u64,
    commands: mpsc::Sender<Command>,
    /// Everything the session reports, in order (empty with a shared sink).
    pub events: mpsc::Receiver<ClientEvent>,
}

impl Participant {
    /// Joins `base` (http://host:port) with `token`; with `audio`, negotiates a WebRTC
    /// peer on a UDP socket bound to `bind_ip`.
    pub async fn join(
        base: &str,
        token: &str,
        audio: Option<IpAddr>,
    ) -> Result<Participant, ClientError> {
        Participant::rejoin(base, token, None, None, audio).await
    }

    /// Like [`Participant::join`], presenting `resume` (an earlier `welcome`'s token)
    /// when given, joining the breakout `group` room with the plenary's link when given,
    /// and negotiating a new audio peer: a native client coming back after a lost
    /// connection keeps its identity and place within the grace period.
    pub async fn rejoin(
        base: &str,
        token: &str,
        resume: Option<ResumeToken>,
        group: Option<RoomId>,
        audio: Option<IpAddr>,
    ) -> Result<Participant, ClientError> {
        let (tx, events) = mpsc::channel(4096);
        let mut p =
            Participant::connect(base, token, resume, group, audio, EventSink::Own(tx)).await?;
        p.events = events;
        Ok(p)
    }

    /// Like [`Participant::join`], with events going to `sink`.
    pub async fn join_into(
        base: &str,
        token: &str,
        audio: Option<IpAddr>,
        sink: EventSink,
    ) -> Result<Participant, ClientError> {
        Participant::connect(base, token, None, None, audio, sink).await
    }

    /// Comes back after a lost connection with the `resume` token of an earlier
    /// `welcome`: within the grace period the server gives back the same identity and
    /// queue place (`you.resumed` says whether it did). Events go to `sink`; the caller
    /// negotiates audio.
    pub async fn resume_into(
        base: &str,
        token: &str,
        resume: ResumeToken,
        sink: EventSink,
    ) -> Result<Participant, ClientError> {
        Participant::connect(base, token, Some(resume), None, None, sink).await
    }

    async fn connect(
        base: &str,
        token: &str,
        resume: Option<ResumeToken>,
        group: Option<RoomId>,
        audio: Option<IpAddr>,
        sink: EventSink,
    ) -> Result<Participant, ClientError> {
        let url = format!("{}/ws", base.replacen("http", "ws", 1));
        let unreachable = |e: &dyn std::fmt::Display| ClientError::Unreachable {
            url: url.clone(),
            reason: e.to_string(),
        };
        // The library reads into a buffer it zero-fills up to `read_buffer_size` on every
        // read (128 KiB by default); signaling messages are small.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(WS_BUFFER)
            .write_buffer_size(WS_BUFFER);
        // No Nagle delay on small signaling messages.
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(&url, Some(config), true)
            .await
            .map_err(|e| unreachable(&e))?;
        let join = ClientMsg::Join {
            v: PROTOCOL_VERSION,
            token: token.to_owned(),
            resume,
            group,
            listen: false,
        };
        ws.send(Message::text(protocol::encode_client(&join.into())))
            .await
            .map_err(|e| unreachable(&e))?;
        let (welcome_seq, you, room) = welcome(&mut ws).await?;
        let (_, events) = mpsc::channel(1);
        let (commands, cmd_rx) = mpsc::channel(256);
        let peer = match audio {
            Some(ip) => {
                let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
                let slots = usize::from(room.audio_slots);
                let (rtc, offer) = ClientRtc::offer(Instant::now(), socket.local_addr()?, slots)?;
                let offer = ClientMsg::RtcOffer { sdp: offer };
                ws.send(Message::text(protocol::encode_client(&offer.into())))
                    .await
                    .map_err(|e| unreachable(&e))?;
                Some((rtc, socket))
            }
            None => None,
        };
        tokio::spawn(run(ws, peer, cmd_rx, sink));
        Ok(Participant { id: you.id, you, room, welcome_seq, commands, events })
    }

    /// Sends a protocol message.
    pub async fn send(&self, msg: ClientMsg) {
        self.send_frame(msg.into()).await;
    }

    /// Sends a protocol message with a request id (which the server echoes as `re` in an
    /// error it causes).
    pub async fn send_frame(&self, frame: ClientFrame) {
        let _ = self.commands.send(Command::Send(frame, None)).await;
    }

    /// Sends a protocol message; the returned cell gets the time it was written to the
    /// socket (the counterpart of [`ClientEvent::Signal`]'s time, taken when a message is
    /// read off it), so a measurement leaves out the queueing inside this process.
    pub async fn send_stamped(&self, msg: ClientMsg) -> Arc<OnceLock<Instant>> {
        let at = Arc::new(OnceLock::new());
        let _ = self.commands.send(Command::Send(msg.into(), Some(Arc::clone(&at)))).await;
        at
    }

    /// Ends the session the way a killed process does: the connection drops without a
    /// goodbye or a close frame, so the server keeps this identity for its grace period
    /// (see [`Participant::resume_into`]). Nothing more is reported.
    pub async fn crash(self) {
        let _ = self.commands.send(Command::Crash).await;
    }

    /// Sends one Opus packet from the microphone.
    pub async fn send_audio(&self, rtp_time: u64, level: i8, data: Vec<u8>) {
        let _ = self.commands.send(Command::Audio { rtp_time, level, data }).await;
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads until the `welcome` (or the `error` refusing the join).
async fn welcome(ws: &mut Ws) -> Result<(u64, YouView, Box<RoomSnapshot>), ClientError> {
    while let Some(msg) = ws.next().await {
        let Ok(Message::Text(t)) = msg else { continue };
        let frame = protocol::decode_server(t.as_str()).map_err(ClientError::Undecodable)?;
        match frame.msg {
            ServerMsg::Welcome { you, room, .. } => return Ok((frame.seq, you, room)),
            ServerMsg::Error { code, message, .. } => {
                return Err(ClientError::Refused { code, message });
            }
            _ => {}
        }
    }
    Err(ClientError::Closed("welcome"))
}

/// A text frame from the server as the session reports it.
fn signal(text: &str, at: Instant) -> ClientEvent {
    match protocol::decode_server(text) {
        Ok(frame) => ClientEvent::Signal(frame, at),
        Err(error) => ClientEvent::Undecodable { text: text.to_owned(), error, at },
    }
}

/// The SDP of an `rtc_answer`.
fn answer(ev: &ClientEvent) -> Option<&str> {
    match ev {
        ClientEvent::Signal(ServerFrame { msg: ServerMsg::RtcAnswer { sdp }, .. }, _) => Some(sdp),
        _ => None,
    }
}

/// The session's run loop: WebSocket, UDP and WebRTC together.
async fn run(
    ws: Ws,
    mut peer: Option<(ClientRtc, UdpSocket)>,
    mut commands: mpsc::Receiver<Command>,
    events: EventSink,
) {
    // The WebSocket is read by its own task: polling it costs more than handling a
    // datagram, and the session wakes for every datagram.
    let (mut ws, mut ws_in) = ws.split();
    let (incoming_tx, mut incoming) = mpsc::channel(64);
    let reader = tokio::spawn(async move {
        while let Some(msg) = ws_in.next().await {
            let ok = msg.is_ok();
            // Stamped when read off the socket, before any queueing in this process.
            if incoming_tx.send((msg, Instant::now())).await.is_err() || !ok {
                break;
            }
        }
    });
    let mut buf = vec![0u8; 2048];
    let mut out = Vec::new();
    // One timer, moved only when the peer's deadline changes.
    let sleep = tokio::time::sleep_until(tokio::time::Instant::now());
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    // Datagrams handled in a row; past UDP_STREAK the other inputs get a turn.
    let mut streak = 0u32;
    loop {
        let wake = peer.as_ref().map(|(r, _)| r.timeout());
        if wake != armed {
            if let Some(at) = wake {
                sleep.as_mut().reset(at.into());
            }
            armed = wake;
        }
        // Audio first: it is what wakes the session 50 times a second per slot. The
        // streak bound keeps a datagram flood from starving the other inputs.
        let result = tokio::select! {
            biased;
            got = async {
                match peer.as_ref() {
                    Some((_, s)) => s.recv_from(&mut buf).await,
                    None => std::future::pending().await,
                }
            }, if streak < UDP_STREAK => {
                streak += 1;
                match (got, peer.as_mut()) {
                    (Ok((n, from)), Some((rtc, _))) => {
                        let now = Instant::now();
                        let received = rtc.received(from, &buf[..n], now);
                        rtc.handle_datagram(now, &received, &mut out)
                    }
                    _ => Ok(()),
                }
            }
            () = &mut sleep, if armed.is_some() => {
                armed = None;
                match peer.as_mut() {
                    Some((rtc, _)) => rtc.handle_timeout(Instant::now(), &mut out),
                    None => Ok(()),
                }
            }
            msg = incoming.recv() => {
                streak = 0;
                let Some((Ok(msg), read_at)) = msg else { break };
                let Message::Text(t) = msg else { continue };
                let ev = signal(t.as_str(), read_at);
                // Without a peer of its own, the session hands the answer on with the
                // rest (the caller drives audio itself).
                if let (Some(sdp), Some((rtc, _))) = (answer(&ev), peer.as_mut()) {
                    rtc.accept_answer(sdp, &mut out)
                } else {
                    if !events.send(ev).await { break; }
                    Ok(())
                }
            }
            cmd = commands.recv() => { streak = 0; match cmd {
                None => break,
                Some(Command::Send(frame, stamp)) => {
                    let text = protocol::encode_client(&frame);
                    let at = Instant::now();
                    if ws.send(Message::text(text)).await.is_err() { break; }
                    if let Some(cell) = stamp {
                        let _ = cell.set(at);
                    }
                    Ok(())
                }
                Some(Command::Audio { rtp_time, level, data }) => match peer.as_mut() {
                    Some((rtc, _)) => rtc.send_audio(Instant::now(), rtp_time, level, &data, &mut out),
                    None => Ok(()),
                },
                Some(Command::Crash) => {
                    // Both halves of the WebSocket and the UDP socket drop here, unclosed.
                    reader.abort();
                    return;
                }
            }},
            () = std::future::ready(()), if streak >= UDP_STREAK => {
                streak = 0;
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "client peer error");
        }
        let Some((rtc, socket)) = peer.as_mut() else { continue };
        for t in out.drain(..) {
            let _ = socket.try_send_to(&t.contents, t.destination);
        }
        while let Some(event) = rtc.poll_event() {
            events.try_send(match event {
                RtcEvent::Audio(a) => ClientEvent::Audio(a),
                RtcEvent::Connected => ClientEvent::AudioConnected,
                RtcEvent::Disconnected => ClientEvent::Closed,
                // A client checks the server; the server does not check it (ICE-lite).
                RtcEvent::Verified(..) => continue,
            });
        }
    }
    reader.abort();
    events.send(ClientEvent::Closed).await;
}
