//! The synchronous heart of a room task: the signaling [`Room`], the media
//! [`Forwarder`], and the connections of the room's members. Every input is handled to
//! completion here — room outputs feed the forwarder (gates, holder), forwarder outputs
//! feed the room (speech, audio state) — with no awaits and no locks.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use talkstick_signaling::protocol::{self, ClientMsg, ErrorCode, NoticeKind, Role, ServerMsg};
use talkstick_signaling::{Input, Output, ParticipantId, Room, RoomId};
use tokio::sync::mpsc;

use super::directory::{Eviction, GroupDirectory};
use super::held::{Held, HeldQueue, Release};
use super::inbox::{Conn, ConnId, Outbound, Plane, RoomCmd};
use crate::media::demux::Route;
use crate::media::forwarder::{ForwarderCounters, PeerStates};
use crate::media::{Datagram, Forwarder, MediaEvent};
use crate::store::{DurableMark, RoomLog};
use crate::turn::TurnConfig;

/// Least time between two audio offers from one participant: each builds a WebRTC peer
/// (and a DTLS certificate) on the room's task, so a client must not flood them.
const OFFER_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Close code for a member whose messages queued up unsent (it does not read).
pub const CLOSE_TOO_SLOW: u16 = 4008;
/// Close code for a member a facilitator removed: they must not reconnect.
pub const CLOSE_REMOVED: u16 = 4003;
/// Close code: a facilitator ended the session.
pub const CLOSE_ENDED: u16 = 4004;
/// Close code when the room itself failed: 1011, internal error (RFC 6455).
pub const CLOSE_ROOM_FAILED: u16 = 1011;
/// Close code for a member that kept sending over its budget: 1008, policy violation.
pub const CLOSE_TOO_MANY: u16 = 1008;
/// Close code in a breakout group's room: the plenary moved you out of this group (to
/// another, or back); your plenary connection says where.
pub const CLOSE_MOVED: u16 = 4005;
/// Close code in a breakout group's room: your role in it changed; join again (resume).
pub const CLOSE_REJOIN: u16 = 4006;

/// Rounds of room ⇄ forwarder exchange per input; each round only follows up on the
/// previous one, so this bounds a bug, not normal work.
const MAX_ROUNDS: usize = 8;

struct Member {
    conn: Conn,
    role: Role,
    /// The `seq` of the latest event queued for this member: what a message to them alone
    /// carries. The room's own number can be ahead of it while events it has produced
    /// wait to be delivered (a `speaking` behind the `slots` it caused), and a client
    /// takes a number ahead of what it has seen for a missed event.
    seq: u64,
}

/// The room's media: the forwarder and what it registered with the shared plane.
struct Media {
    plane: Arc<Plane>,
    forwarder: Forwarder,
    /// This room's datagram inbox, for routes.
    inbox: mpsc::Sender<Datagram>,
    /// Registered ICE username fragments by participant.
    ufrags: HashMap<ParticipantId, String>,
    /// When each participant last offered.
    last_offer: HashMap<ParticipantId, Instant>,
    /// The forwarder's counters as last added to the plane's totals.
    published: ForwarderCounters,
    /// The peers' states as last added to the plane's totals.
    published_states: PeerStates,
}

impl Media {
    /// Adds what the forwarder counted, and how its peers changed, since the last time
    /// to the plane's totals.
    fn publish(&mut self) {
        let now = self.forwarder.counters();
        self.plane.forwarding.add_since(&now, &self.published);
        self.published = now;
        let states = self.forwarder.peer_states();
        self.plane.peer_states.add_since(&states, &self.published_states);
        self.published_states = states;
    }
}

/// One room: signaling, media and members.
pub struct RoomCore {
    room: Room,
    members: HashMap<ParticipantId, Member>,
    media: Option<Media>,
    /// Set when the media code panicked: the room goes on without audio.
    media_failed: bool,
    /// Connections whose queue was full when told something directly; dropped as too
    /// slow with the next delivery, like those a broadcast found full (unless the member
    /// has resumed on another connection by then).
    slow: Vec<(ParticipantId, ConnId)>,
    /// The room's journal in the session store, when there is one.
    log: Option<RoomLog>,
    /// Messages waiting for their changes to be committed.
    held: HeldQueue,
    /// Facilitators told that the store is failing (told again when it recovers).
    warned: Vec<ParticipantId>,
    /// TURN relays whose credentials each `welcome` carries.
    turn: Option<Arc<TurnConfig>>,
    /// Where a plenary writes who may enter its breakout groups.
    directory: Option<Arc<GroupDirectory>>,
}

impl RoomCore {
    /// A room, with media when a plane is given.
    pub fn new(room: Room, plane: Option<Arc<Plane>>, inbox: mpsc::Sender<Datagram>) -> Self {
        let media = plane.map(|plane| Media {
            forwarder: Forwarder::new(plane.candidates(), plane.slots).with_relays(plane.relays()),
            plane,
            inbox,
            ufrags: HashMap::new(),
            last_offer: HashMap::new(),
            published: ForwarderCounters::default(),
            published_states: PeerStates::default(),
        });
        RoomCore {
            room,
            members: HashMap::new(),
            media,
            media_failed: false,
            slow: Vec::new(),
            log: None,
            held: HeldQueue::default(),
            warned: Vec::new(),
            turn: None,
            directory: None,
        }
    }

    /// Writes this room's breakout groups (when it is a plenary that opens some) to
    /// `directory`, from now on and at once (a room rebuilt after a restart has its
    /// groups open again).
    pub fn with_directory(mut self, directory: Arc<GroupDirectory>) -> Self {
        if !self.room.id().is_group() {
            directory.update(self.room.id(), self.room.group_access());
        }
        self.directory = Some(directory);
        self
    }

    /// Writes the room's journal to the session store through `log`; from now on each
    /// change's messages leave once it is committed.
    pub fn with_log(mut self, log: RoomLog) -> Self {
        self.log = Some(log);
        self
    }

    /// Gives every `welcome` time-limited credentials for these TURN relays.
    pub fn with_turn(mut self, turn: Arc<TurnConfig>) -> Self {
        self.turn = Some(turn);
        self
    }

    /// What the task waits on while messages are held.
    pub fn durable_mark(&self) -> Option<Arc<DurableMark>> {
        self.log.as_ref().map(RoomLog::mark)
    }

    /// Whether messages wait for the store.
    pub fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// Sends the held messages whose changes are now committed.
    pub fn release(&mut self) {
        let Some(durable) = self.log.as_ref().map(RoomLog::durable) else { return };
        let mut slow = Vec::new();
        for h in self.held.ready(durable) {
            match h.what {
                Release::Send { seq, out, to } => {
                    for (pid, conn, tx) in to {
                        if full(tx.try_send(out.clone())) {
                            slow.push((pid, conn));
                        }
                        if let Some(m) = self.members.get_mut(&pid).filter(|m| m.conn.id == conn) {
                            m.seq = m.seq.max(seq);
                        }
                    }
                }
                Release::Join { reply, result } => {
                    let _ = reply.send(result);
                }
            }
        }
        self.slow.extend(slow);
    }

    /// The room was rebuilt after a restart: nobody is connected and no audio runs, so
    /// everyone present is disconnected now, within their resume grace (the floor holder
    /// keeps the floor for it), and speaks no more.
    pub fn after_restart(&mut self) {
        let now = Instant::now();
        for id in self.room.participant_ids() {
            let Some(p) = self.room.participant(id) else { continue };
            if p.speaking {
                let _ = self.room.handle(now, Input::Speaking { participant: id, speaking: false });
            }
            if p.audio {
                let _ = self.room.handle(now, Input::Audio { participant: id, connected: false });
            }
            if p.connected {
                let _ = self.room.handle(now, Input::Disconnected { participant: id });
            }
            // The room emitted its gates before the restart; this forwarder is new.
            let forward = self.room.gate(id);
            self.with_media(|m| m.forwarder.set_gate(id, forward));
        }
        self.settle(now);
    }

    /// The room ended: closes its run in the store with its report.
    pub fn end_run(&mut self) {
        if let Some(log) = &self.log {
            let report = serde_json::json!({
                "room": self.room.id(),
                "stats": self.room.stats(Instant::now()),
            });
            log.end(report.to_string());
        }
    }

    /// The room's id.
    pub fn id(&self) -> &RoomId {
        self.room.id()
    }

    /// Nobody in the room, not even within the grace period.
    pub fn len(&self) -> usize {
        self.room.len()
    }

    /// Whether nobody is in the room (not even within their resume grace).
    pub fn is_empty(&self) -> bool {
        self.room.is_empty()
    }

    /// The earliest deadline of the room and its media.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let media = self.media.as_ref().and_then(|m| m.forwarder.poll_timeout());
        [self.room.poll_timeout(), media].into_iter().flatten().min()
    }

    /// Handles one datagram to completion. Returns true when it was routine (see
    /// [`Forwarder::handle_datagram`]): [`RoomCore::poll_timeout`] can then only have
    /// moved later.
    pub fn datagram(&mut self, d: &Datagram) -> bool {
        let routine = self.with_media(|m| m.forwarder.handle_datagram(d)).unwrap_or(false);
        self.settle(Instant::now());
        routine
    }

    /// Handles one command to completion.
    pub fn apply(&mut self, cmd: RoomCmd) {
        let now = Instant::now();
        match cmd {
            RoomCmd::Join { req, conn, reply } => {
                let role = req.role;
                let result = self.room.join(now, req);
                if let Ok(joined) = &result
                    && let Some(old) =
                        self.members.insert(joined.participant, Member { conn, role, seq: 0 })
                {
                    Self::replaced(&old);
                }
                // The welcome carries the new seq and resume token: it waits, like
                // any message, until the join is committed.
                match self.journal_out() {
                    Some(upto) if self.must_hold(upto) => {
                        self.held.push(Held { upto, what: Release::Join { reply, result } });
                    }
                    _ => {
                        let _ = reply.send(result);
                    }
                }
            }
            RoomCmd::Client { from, conn, frame } => {
                if self.members.get(&from).is_none_or(|m| m.conn.id != conn) {
                    return; // a frame from a connection that was replaced
                }
                match frame {
                    Ok(f) => match f.msg {
                        ClientMsg::RtcOffer { sdp } => self.offer(now, from, &sdp, f.id),
                        msg => {
                            #[cfg(feature = "testkit")]
                            inject_room_fault(&msg);
                            if let Err(e) = self.room.handle(now, Input::Client { from, msg }) {
                                let (code, text, retry) =
                                    (e.code(), e.to_string(), e.retry_after_ms());
                                self.error(from, code, text, f.id, retry);
                            }
                        }
                    },
                    Err(e) => self.error(from, e.code(), e.to_string(), None, None),
                }
            }
            RoomCmd::OverBudget { from, conn, re, retry_after_ms, close } => {
                if self.members.get(&from).is_none_or(|m| m.conn.id != conn) {
                    return;
                }
                let (code, text) = if close {
                    (ErrorCode::RateLimited, "too many messages after a warning; closing".into())
                } else {
                    (ErrorCode::RateLimited, "too many messages; slow down".into())
                };
                self.error(from, code, text, re, Some(retry_after_ms.max(1)));
                if close {
                    self.close(now, from, CLOSE_TOO_MANY, "too many messages");
                }
            }
            RoomCmd::Disconnected { participant, conn } => {
                if self.members.get(&participant).is_some_and(|m| m.conn.id == conn) {
                    self.members.remove(&participant);
                    let _ = self.room.handle(now, Input::Disconnected { participant });
                }
            }
            RoomCmd::Draining { message } => {
                let msg = ServerMsg::Notice { kind: NoticeKind::ServerRestarting, message };
                let ids: Vec<ParticipantId> = self.members.keys().copied().collect();
                for id in ids {
                    self.tell(id, &msg);
                }
            }
            RoomCmd::Evict(eviction) => self.evict(now, eviction),
            RoomCmd::Shutdown => {}
        }
        self.settle(now);
    }

    /// A group room's plenary moved people out of it (they leave it for good: their
    /// statistics stay in its report), or changed their role in it (they come back).
    fn evict(&mut self, now: Instant, eviction: Eviction) {
        let (links, code, reason) = match eviction {
            Eviction::Leave(links) => (links, CLOSE_MOVED, "moved"),
            Eviction::Rejoin(links) => (links, CLOSE_REJOIN, "role changed"),
        };
        for link in links {
            let Some(who) = self.room.participant_by_link(&link) else { continue };
            if code == CLOSE_REJOIN {
                self.close(now, who, code, reason);
                continue;
            }
            if let Some(m) = self.members.remove(&who) {
                let _ = m.conn.tx.try_send(Outbound::Close(code, reason));
            }
            let _ = self.room.handle(now, Input::Client { from: who, msg: ClientMsg::Leave });
        }
    }

    /// The room's task ends: a plenary's groups close with it.
    pub fn ended(&mut self) {
        if let Some(d) = &self.directory
            && !self.room.id().is_group()
        {
            d.update(self.room.id(), Vec::new());
        }
    }

    /// Advances the room and its media to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.room.poll_timeout().is_some_and(|t| t <= now) {
            let _ = self.room.handle(now, Input::Timeout);
        }
        self.with_media(|m| m.forwarder.handle_timeout(now));
        self.settle(now);
        // The server's totals follow each room's timers (its peers' run every second or
        // so), not each packet.
        if let Some(m) = self.media.as_mut() {
            m.publish();
        }
    }

    /// Says goodbye to every member and closes their connections.
    pub fn goodbye_all(&mut self, reason: &str) {
        let bye = ServerMsg::Goodbye { reason: reason.into() };
        for m in self.members.values() {
            let _ = m.conn.tx.try_send(Outbound::Text(protocol::encode(m.seq, &bye).into()));
            let _ = m.conn.tx.try_send(Outbound::Close(1001, "server shutting down"));
        }
        self.members.clear();
    }

    /// The room's code panicked: tells every member, plainly, and closes their
    /// connections (1011); they may join again, into a new room. Only reads the members,
    /// whatever state the panic left the rest in.
    pub fn fail_all(&mut self) {
        let message = "this room stopped because of an error on the server; join again to continue";
        let error = ServerMsg::Error {
            code: ErrorCode::Internal,
            message: message.into(),
            re: None,
            retry_after_ms: None,
        };
        for m in self.members.values() {
            let _ = m.conn.tx.try_send(Outbound::Text(protocol::encode(m.seq, &error).into()));
            let _ = m.conn.tx.try_send(Outbound::Close(CLOSE_ROOM_FAILED, "room failed"));
        }
        self.members.clear();
    }

    /// Unregisters every peer of this room from the shared demux.
    pub fn release_media(&mut self) {
        if let Some(mut m) = self.media.take() {
            m.publish();
            // Its peers end with it.
            m.plane.peer_states.add_since(&PeerStates::default(), &m.published_states);
            for ufrag in m.ufrags.values() {
                m.plane.demux.unregister(ufrag);
            }
        }
    }

    // ----- media --------------------------------------------------------------------

    fn offer(&mut self, now: Instant, from: ParticipantId, sdp: &str, re: Option<u32>) {
        let Some(m) = self.media.as_mut() else {
            let why = if self.media_failed {
                "audio failed in this room"
            } else {
                "audio is off on this server"
            };
            return self.error(from, ErrorCode::BadOffer, why.into(), re, None);
        };
        if let Some(last) = m.last_offer.get(&from).filter(|t| now < **t + OFFER_INTERVAL) {
            let wait = (*last + OFFER_INTERVAL - now).as_millis() as u64;
            let text = "audio offers come at most once a second; try again shortly".into();
            return self.error(from, ErrorCode::BadOffer, text, re, Some(wait.max(1)));
        }
        m.last_offer.insert(from, now);
        let accepted = self.with_media(|m| {
            let acc = m.forwarder.add_peer(now, from, sdp)?;
            let route = Route { sink: m.inbox.clone(), participant: from, peer: acc.generation };
            m.plane.demux.register(acc.ufrag.clone(), route);
            if let Some(old) = m.ufrags.insert(from, acc.ufrag) {
                m.plane.demux.unregister(&old);
            }
            Ok::<_, crate::media::peer::PeerError>(acc.answer)
        });
        match accepted {
            Some(Ok(sdp)) => self.tell(from, &ServerMsg::RtcAnswer { sdp }),
            Some(Err(e)) => self.error(from, ErrorCode::BadOffer, e.to_string(), re, None),
            None => {
                self.error(from, ErrorCode::BadOffer, "audio failed in this room".into(), re, None)
            }
        }
    }

    /// Runs media code; a panic in it ends this room's media (logged), never the room
    /// or the server.
    fn with_media<T>(&mut self, f: impl FnOnce(&mut Media) -> T) -> Option<T> {
        let m = self.media.as_mut()?;
        match catch_unwind(AssertUnwindSafe(|| f(m))) {
            Ok(v) => Some(v),
            Err(_) => {
                tracing::error!(room = %self.room.id(), "media code panicked; audio stops in this room");
                self.release_media();
                self.media_failed = true;
                None
            }
        }
    }

    // ----- delivery -----------------------------------------------------------------

    /// Exchanges outputs between room and forwarder until both are drained.
    fn settle(&mut self, now: Instant) {
        for _ in 0..MAX_ROUNDS {
            let room_work = self.deliver_room(now);
            let holder = self.room.holder();
            self.with_media(|m| m.forwarder.set_holder(holder));
            let media_work = self.deliver_media(now);
            if !room_work && !media_work {
                return;
            }
        }
    }

    /// Whether a message that needs `upto` entries committed must wait: they are not
    /// yet, or older messages wait (order is kept).
    fn must_hold(&self, upto: u64) -> bool {
        self.holding() || self.log.as_ref().is_some_and(|l| l.durable() < upto)
    }

    /// Hands the room's new journal entries to the store; returns how many must be
    /// committed before the messages produced so far may leave (`None`: no store).
    fn journal_out(&mut self) -> Option<u64> {
        let log = self.log.as_mut()?;
        let upto = log.append(self.room.take_journal());
        self.warn_facilitators();
        Some(upto)
    }

    /// Tells facilitators when the store starts failing (each one once, also those who
    /// join later) and when it writes again.
    fn warn_facilitators(&mut self) {
        let Some(log) = &self.log else { return };
        let (kind, message) = match log.failing() {
            Some(why) => (
                NoticeKind::StoreFailing,
                format!(
                    "The server cannot save this session ({why}). The room goes on, but what happens now may be lost if the server restarts."
                ),
            ),
            None if self.warned.is_empty() => return,
            None => (NoticeKind::StoreOk, "The server saves this session again.".to_owned()),
        };
        // Members whose welcome has left (seq > 0): a notice never goes before it.
        let to: Vec<ParticipantId> = self
            .members
            .iter()
            .filter(|(_, m)| m.role == Role::Facilitator && m.seq > 0)
            .map(|(id, _)| *id)
            .filter(|id| (kind == NoticeKind::StoreOk) == self.warned.contains(id))
            .collect();
        if kind == NoticeKind::StoreOk {
            self.warned.clear();
        }
        let msg = ServerMsg::Notice { kind, message };
        for id in to {
            self.tell(id, &msg);
            if kind == NoticeKind::StoreFailing {
                self.warned.push(id);
            }
        }
    }

    /// Delivers the room's outputs; true if there were any.
    fn deliver_room(&mut self, now: Instant) -> bool {
        let mut any = false;
        let wait = self.journal_out();
        self.release();
        let mut slow = std::mem::take(&mut self.slow);
        // With a store, a message leaves at once only when nothing it follows waits.
        let hold = |core: &Self| wait.is_some_and(|w| core.must_hold(w));
        while let Some(out) = self.room.poll_output() {
            any = true;
            match out {
                Output::Send { to, seq, mut msg } => {
                    if let (ServerMsg::Welcome { you, .. }, Some(turn)) = (&mut msg, &self.turn) {
                        you.ice_servers = vec![turn.credentials(you.id, crate::token::unix_now())];
                    }
                    let text: Utf8Bytes = protocol::encode(seq, &msg).into();
                    if hold(self) {
                        let to = self
                            .members
                            .iter()
                            .filter(|(pid, m)| to.includes(**pid, m.role))
                            .map(|(pid, m)| (*pid, m.conn.id, m.conn.tx.clone()))
                            .collect();
                        let upto = wait.unwrap_or(0);
                        let what = Release::Send { seq, out: Outbound::Text(text), to };
                        self.held.push(Held { upto, what });
                        continue;
                    }
                    for (pid, m) in &mut self.members {
                        if !to.includes(*pid, m.role) {
                            continue;
                        }
                        m.seq = m.seq.max(seq);
                        if full(m.conn.tx.try_send(Outbound::Text(text.clone()))) {
                            slow.push((*pid, m.conn.id));
                        }
                    }
                }
                Output::Gate { participant, forward } => {
                    self.with_media(|m| m.forwarder.set_gate(participant, forward));
                }
                Output::Close { participant }
                | Output::Removed { participant }
                | Output::Ended { participant } => {
                    let close = match out {
                        Output::Close { .. } => Outbound::Close(1000, "left"),
                        Output::Removed { .. } => Outbound::Close(CLOSE_REMOVED, "removed"),
                        _ => Outbound::Close(CLOSE_ENDED, "session ended"),
                    };
                    if let Some(m) = self.members.remove(&participant) {
                        if hold(self) {
                            let to = vec![(participant, m.conn.id, m.conn.tx.clone())];
                            let upto = wait.unwrap_or(0);
                            let what = Release::Send { seq: 0, out: close, to };
                            self.held.push(Held { upto, what });
                        } else {
                            let _ = m.conn.tx.try_send(close);
                        }
                    }
                }
                Output::Breakouts { groups } => {
                    if let Some(d) = &self.directory {
                        d.update(self.room.id(), groups);
                    }
                }
                Output::Left { participant } => {
                    self.with_media(|m| {
                        m.forwarder.remove_peer(participant);
                        if let Some(ufrag) = m.ufrags.remove(&participant) {
                            m.plane.demux.unregister(&ufrag);
                        }
                        m.last_offer.remove(&participant);
                    });
                }
            }
        }
        // A connection whose queue is full cannot keep up: drop it (it can resume).
        for (pid, conn) in slow {
            if self.members.get(&pid).is_some_and(|m| m.conn.id == conn) {
                tracing::warn!(room = %self.room.id(), participant = %pid, "connection too slow; dropped");
                self.close(now, pid, CLOSE_TOO_SLOW, "too slow");
            }
        }
        any
    }

    /// Closes a member's connection from the server's side; they count as disconnected
    /// and may resume within the grace period.
    fn close(&mut self, now: Instant, who: ParticipantId, code: u16, reason: &'static str) {
        if let Some(m) = self.members.remove(&who) {
            let _ = m.conn.tx.try_send(Outbound::Close(code, reason));
            let _ = self.room.handle(now, Input::Disconnected { participant: who });
        }
    }

    /// Delivers the forwarder's events, then sends its datagrams; true if any event fed
    /// the room. Events first: an address a peer has just proved is learned before the
    /// answer that lets the other side send from it leaves.
    fn deliver_media(&mut self, now: Instant) -> bool {
        let mut fed_room = false;
        loop {
            let Some(event) = self.with_media(|m| m.forwarder.poll_event()).flatten() else {
                self.with_media(|m| {
                    for t in m.forwarder.drain_transmits() {
                        m.plane.send(&t);
                    }
                });
                return fed_room;
            };
            match event {
                MediaEvent::Verified { ufrag, remote, proto, .. } => {
                    if let Some(m) = &self.media {
                        m.plane.demux.learn(&ufrag, proto, remote, now);
                    }
                }
                MediaEvent::Speaking { participant, speaking } => {
                    let _ = self.room.handle(now, Input::Speaking { participant, speaking });
                    fed_room = true;
                }
                MediaEvent::Audio { participant, connected, ufrag } => {
                    if let Some(sent) =
                        self.media.as_ref().and_then(|m| m.last_offer.get(&participant))
                        && connected
                    {
                        let secs = now.saturating_duration_since(*sent).as_secs_f64();
                        metrics::histogram!("talkstick_audio_connect_seconds").record(secs);
                    }
                    if let (Some(m), Some(u)) = (self.media.as_mut(), ufrag) {
                        m.plane.demux.unregister(&u);
                        if m.ufrags.get(&participant) == Some(&u) {
                            m.ufrags.remove(&participant);
                        }
                    }
                    let _ = self.room.handle(now, Input::Audio { participant, connected });
                    fed_room = true;
                }
                MediaEvent::Slots { participant, slots } => {
                    self.tell(participant, &ServerMsg::Slots { slots })
                }
            }
        }
    }

    fn tell(&mut self, to: ParticipantId, msg: &ServerMsg) {
        if let Some(m) = self.members.get(&to) {
            let text = protocol::encode(m.seq, msg).into();
            if full(m.conn.tx.try_send(Outbound::Text(text))) {
                self.slow.push((to, m.conn.id));
            }
        }
    }

    fn error(
        &mut self,
        to: ParticipantId,
        code: ErrorCode,
        message: String,
        re: Option<u32>,
        retry_after_ms: Option<u64>,
    ) {
        metrics::counter!("talkstick_errors_total", "code" => code.as_str()).increment(1);
        self.tell(to, &ServerMsg::Error { code, message, re, retry_after_ms });
    }

    /// Tells a connection that a newer one took over its identity, and closes it.
    fn replaced(old: &Member) {
        let bye = ServerMsg::Goodbye { reason: "you joined again from another connection".into() };
        let _ = old.conn.tx.try_send(Outbound::Text(protocol::encode(old.seq, &bye).into()));
        let _ = old.conn.tx.try_send(Outbound::Close(4002, "replaced"));
    }
}

/// Fault injection for tests of failure isolation: a hand raised with this note makes
/// the room's code panic. Only in builds with the `testkit` feature.
#[cfg(feature = "testkit")]
fn inject_room_fault(msg: &ClientMsg) {
    let armed = crate::media::forwarder::FAULT_INJECTION.load(std::sync::atomic::Ordering::Relaxed);
    if armed
        && matches!(msg, ClientMsg::RaiseHand { note: Some(n), .. } if n == "talkstick-inject-room-panic")
    {
        panic!("injected fault in a room's signaling");
    }
}

/// Whether a delivery found the connection's queue full: it cannot keep up. A closed
/// queue is not slowness: the connection has ended and its reader reports that.
fn full<T>(sent: Result<(), mpsc::error::TrySendError<T>>) -> bool {
    matches!(sent, Err(mpsc::error::TrySendError::Full(_)))
}

#[cfg(test)]
mod tests {
    use super::full;
    use tokio::sync::mpsc;

    #[test]
    fn only_a_full_queue_is_slow_not_a_closed_one() {
        let (tx, rx) = mpsc::channel::<u8>(1);
        assert!(!full(tx.try_send(1)), "room for one");
        assert!(full(tx.try_send(2)), "full: the reader is behind");
        drop(rx);
        assert!(!full(tx.try_send(3)), "closed: the connection ended, it is not slow");
    }
}
