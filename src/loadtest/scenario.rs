//! One simulated room: a facilitator bot and learners who raise hands of both kinds, take
//! the floor when offered, speak real Opus speech from the asset, yield, and react. The
//! room's task reads every member's signaling events from one channel, drives their
//! audio (`peers`), and measures as it goes.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;

use super::metrics::Metrics;
use super::peers::{MemberAudio, RoomPeers};
use super::polled;
use super::{Ctx, FRAME};
use crate::client::ClientRtc;
use crate::client::{ClientError, ClientEvent, EventSink, Participant};
use crate::rtp::DatagramSocket;
use crate::token::{Claims, mint, unix_now};
use talkstick_signaling::protocol::{
    ClientMsg, ErrorCode, FloorView, HandKind, ReactionKind, Role, ServerMsg,
};
use talkstick_signaling::{ParticipantId, ResumeToken, TurnId};

struct Member {
    p: Participant,
    id: ParticipantId,
    /// The link it joined with (a crashed member comes back with it).
    token: String,
    /// Reactions seen, by sender (to pair the n-th sent with the n-th seen).
    reactions_seen: HashMap<ParticipantId, usize>,
}

/// A member whose join succeeded: their signaling, their audio and its SDP offer.
struct Joined {
    member: Member,
    audio: MemberAudio,
    offer: String,
}

/// Member `j`'s join: who joined, or the name of the error. Boxed: a peer is several
/// kilobytes, and the room's `select!` moves its output (sized for its largest branch) on
/// every wake-up.
type JoinOutcome = (usize, Result<Box<Joined>, String>);

/// A reaction on its way to every member.
struct Pending {
    /// When the sender's session wrote it to its socket (set by the session), and when
    /// it was handed to the session, used if the first is not known.
    written: Arc<OnceLock<Instant>>,
    sent: Instant,
    seen: usize,
    last: Instant,
    /// Members present when it was sent.
    expected: usize,
}

/// The room's floor as the driver sees it.
#[derive(Default)]
struct Turn {
    holder: Option<usize>,
    until: Option<Instant>,
    yielded: bool,
    /// The server's turn number, when held.
    id: Option<TurnId>,
    /// Turns begun so far.
    count: u64,
    /// When the last audio packet was sent.
    last_send: Option<Instant>,
}

/// Events handled in one wake-up of a room's task.
const EVENT_BATCH: usize = 32;

/// A pause between two packets longer than this starts a new run of audio.
const SPURT_GAP: Duration = Duration::from_millis(50);

/// Speakers stop this long before the end, so no packet is in flight when counting.
pub(super) const DRAIN: Duration = Duration::from_millis(500);

/// Runs room `index` from `start` until `end`; returns what it measured. With
/// `--session`, one session after another, each in a fresh room: the first ends after a
/// share of a session that grows with `index`, so the rooms end one after another.
pub(super) async fn run(ctx: Arc<Ctx>, index: usize, end: Instant) -> Metrics {
    let Some(session) = ctx.session else {
        return run_session(ctx, Session { index, generation: 0, end }).await;
    };
    let mut metrics = Metrics::default();
    let first = session.mul_f64((index + 1) as f64 / ctx.rooms as f64);
    let mut session_end = ctx.start + ctx.ramp_interval * index as u32 + first;
    for generation in 0.. {
        let this = Session { index, generation, end: session_end.min(end) };
        metrics.merge(run_session(Arc::clone(&ctx), this).await);
        // A session needs a few seconds to be worth starting.
        if session_end + Duration::from_secs(5) >= end {
            break;
        }
        session_end = Instant::now() + session;
    }
    metrics
}

/// One session of a simulated room: which room, which of its sessions, until when.
#[derive(Debug, Clone, Copy)]
struct Session {
    index: usize,
    /// 0 for the first; each later one is a fresh room (`load-INDEX-GENERATION`).
    generation: u32,
    end: Instant,
}

impl Session {
    fn room(&self) -> String {
        match self.generation {
            0 => format!("load-{}", self.index),
            g => format!("load-{}-{g}", self.index),
        }
    }
}

/// Runs one session of a room until its end; everyone leaves at the end.
async fn run_session(ctx: Arc<Ctx>, session: Session) -> Metrics {
    let end = session.end;
    let Joins { events, events_rx: mut rx, done, done_rx: mut joins, speaking } =
        start_joins(&ctx, session);
    let mut room = RoomDriver::new(ctx, session, events, done);
    let mut tick = tokio::time::interval(FRAME);
    let mut act = tokio::time::interval(Duration::from_millis(500));
    // Crash waves, if asked for: the first a whole period in, once people are in.
    let crash_every = room.ctx.crash_every.unwrap_or(Duration::from_secs(3600));
    let mut crash = tokio::time::interval_at((Instant::now() + crash_every).into(), crash_every);
    // One timer for every member's peer, moved only when the earliest deadline changes.
    let timer = tokio::time::sleep_until(tokio::time::Instant::now());
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    while Instant::now() < end {
        let due = room.peers.timeout();
        if due != armed {
            if let Some(at) = due {
                timer.as_mut().reset(at.into());
            }
            armed = due;
        }
        let rearm = |peers: &RoomPeers| peers.timeout().is_some_and(|t| due.is_none_or(|a| t < a));
        tokio::select! {
            biased;
            _ = tick.tick() => room.tick().await,
            () = &mut timer, if armed.is_some() => {
                armed = None;
                room.peers.handle_timeout(Instant::now());
            }
            // A forwarded packet wakes the task once for all its listeners. (After the
            // speaker's tick and the peers' timers, which must not wait behind audio.)
            // What arrived is handled here, and the branch stays pending: a wake-up for
            // audio then polls every branch once, not twice. Only a peer deadline moved
            // before the armed timer ends the `select!`, to re-arm it.
            () = std::future::poll_fn(|cx| {
                while room.peers.poll_recv(cx).is_ready() {
                    room.peers.handle_batch();
                    if rearm(&room.peers) {
                        return Poll::Ready(());
                    }
                }
                Poll::Pending
            }) => {}
            joined = joins.recv(), if !joins.is_closed() || !joins.is_empty() => match joined {
                Some((j, Ok(joined))) => room.joined(j, *joined).await,
                Some((_, Err(kind))) => room.metrics.error(kind),
                None => {}
            },
            ev = rx.recv() => {
                let Some(first) = ev else { break };
                room.on_events(first, &mut rx).await;
                speaking.store(room.turn.holder.is_some(), Ordering::Relaxed);
            }
            _ = act.tick() => room.act().await,
            _ = crash.tick(), if room.ctx.crash_every.is_some() => room.crash_one().await,
        }
    }
    let leaving = room.members.iter().flatten().count();
    let metrics = room.finish().await;
    // Read on until every member's session has sent its goodbye and closed (bounded): a
    // session dropped with its events unread could end before its `leave` is written,
    // and the server would keep the member for the resume grace period.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let mut closed = 0;
    while closed < leaving {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((_, ClientEvent::Closed))) => closed += 1,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    metrics
}

/// Where a room's members' session events arrive, tagged with the member's index.
type Events = mpsc::Sender<(usize, ClientEvent)>;

/// The channels of a session's joins, and the flag its members read.
struct Joins {
    /// Where members' session events go (kept for members who come back after a crash).
    events: Events,
    events_rx: mpsc::Receiver<(usize, ClientEvent)>,
    /// Where the joins' outcomes go (kept for members who come back after a crash).
    done: mpsc::Sender<JoinOutcome>,
    done_rx: mpsc::Receiver<JoinOutcome>,
    /// Whether someone speaks in this room: a join that starts then measures its join time
    /// (WebSocket open → first audio) on its own, not the wait for a speaker.
    speaking: Arc<AtomicBool>,
}

/// Starts the joins of a session's members.
fn start_joins(ctx: &Arc<Ctx>, session: Session) -> Joins {
    let (tx, rx) = mpsc::channel::<(usize, ClientEvent)>(65_536);
    let (joins_tx, joins) = mpsc::channel(ctx.per_room.max(1));
    let speaking = Arc::new(AtomicBool::new(false));
    for j in 0..ctx.per_room {
        let (ctx, events, done) = (Arc::clone(ctx), tx.clone(), joins_tx.clone());
        tokio::spawn(join(ctx, session, j, events, done, Arc::clone(&speaking)));
    }
    Joins { events: tx, events_rx: rx, done: joins_tx, done_rx: joins, speaking }
}

/// Joins member `j` of a session at its turn in the ramp (a later session's members at
/// once, a ramp step apart): signaling through the client core's session (its events go
/// to `events`), and a WebRTC peer on its own socket whose offer the room's task sends.
/// The outcome goes to `done`.
async fn join(
    ctx: Arc<Ctx>,
    session: Session,
    j: usize,
    events: Events,
    done: mpsc::Sender<JoinOutcome>,
    speaking: Arc<AtomicBool>,
) {
    // Round robin over rooms: every room fills at the same pace, so most joins land in a
    // room where someone already speaks.
    let at = match session.generation {
        0 => ctx.start + ctx.ramp_interval * (j * ctx.rooms + session.index) as u32,
        _ => Instant::now() + ctx.ramp_interval * j as u32,
    };
    tokio::time::sleep_until(at.into()).await;
    let role = if j == 0 { Role::Facilitator } else { Role::Learner };
    let name = if j == 0 { "Facilitator bot".to_owned() } else { format!("Learner {j}") };
    let room = session.room().parse().expect("valid room id");
    let token = mint(&ctx.secret, &Claims { room, name, role, exp: unix_now() + 3600 });
    // Someone holds the floor as this member starts joining: time to first audio is
    // measured.
    let measure_join = speaking.load(Ordering::Relaxed);
    let result = connect(&ctx, j, token, None, events, measure_join).await;
    if result.is_ok() {
        ctx.joined.fetch_add(1, Ordering::Relaxed);
    }
    let _ = done.send((j, result.map_err(|kind: &'static str| kind.to_owned()))).await;
}

/// Member `j`'s signaling (joined afresh, or resumed with `resume`) and a WebRTC peer on
/// a socket of its own, with the offer for the room's task to send.
async fn connect(
    ctx: &Ctx,
    j: usize,
    token: String,
    resume: Option<ResumeToken>,
    events: Events,
    measure_join: bool,
) -> Result<Box<Joined>, &'static str> {
    let started = Instant::now();
    let sink = EventSink::Shared(j, events);
    let p = match resume {
        None => Participant::join_into(&ctx.base, &token, None, sink).await,
        Some(resume) => Participant::resume_into(&ctx.base, &token, resume, sink).await,
    }
    .map_err(|e| error_kind(&e))?;
    let socket =
        DatagramSocket::bind(SocketAddr::new(ctx.bind_ip, 0)).map_err(|_| "bind_failed")?;
    // As large as the server's: a moment when the generator is busy must delay packets,
    // not drop them and count as loss at the server.
    let _ = crate::rtp::socket::enlarge_recv_buffer(&socket);
    let local = socket.local_addr().map_err(|_| "bind_failed")?;
    let slots = usize::from(p.room.audio_slots);
    let (rtc, offer) = ClientRtc::offer(Instant::now(), local, slots)
        .map_err(|e| error_kind(&ClientError::from(e)))?;
    let member = Member { id: p.id, p, token, reactions_seen: HashMap::new() };
    let audio = MemberAudio::new(rtc, socket, started, measure_join);
    Ok(Box::new(Joined { member, audio, offer }))
}

/// What a member had when they crashed, to compare with what they get back.
struct Crashed {
    id: ParticipantId,
    colour: Option<String>,
    /// They had a hand up.
    hand: bool,
    /// They held the floor.
    held: bool,
}

/// One simulated room as its task sees it: the members, their audio, the floor, and
/// what has been measured. [`run`]'s loop calls a method per input.
struct RoomDriver {
    ctx: Arc<Ctx>,
    end: Instant,
    metrics: Metrics,
    rng: StdRng,
    /// By join index; `None` until joined (or when the join failed).
    members: Vec<Option<Member>>,
    peers: RoomPeers,
    /// Join index by participant id.
    ids: HashMap<ParticipantId, usize>,
    /// Who has a hand up, from the last `queue`.
    hands: HashSet<ParticipantId>,
    /// Reactions sent, by sender, in order.
    pending: HashMap<ParticipantId, Vec<Pending>>,
    turn: Turn,
    /// The next frame of the speech asset to send.
    cursor: usize,
    /// The speaker's RTP time, advanced every tick.
    rtp: u64,
    ticks: u32,
    /// Hands raised so far (their kinds alternate).
    hand_kind: usize,
    /// Members on their way back from a crash, by join index.
    crashed: HashMap<usize, Crashed>,
    /// For a crashed member's new session: where its events go, and where its return
    /// is reported.
    events: Events,
    joins: mpsc::Sender<JoinOutcome>,
}

impl RoomDriver {
    fn new(
        ctx: Arc<Ctx>,
        session: Session,
        events: Events,
        joins: mpsc::Sender<JoinOutcome>,
    ) -> RoomDriver {
        let index = session.index;
        RoomDriver {
            end: session.end,
            metrics: Metrics::default(),
            rng: StdRng::seed_from_u64(index as u64 + 1),
            members: (0..ctx.per_room).map(|_| None).collect(),
            peers: RoomPeers::new(Arc::clone(&ctx)),
            ids: HashMap::new(),
            hands: HashSet::new(),
            pending: HashMap::new(),
            turn: Turn::default(),
            cursor: (index * 97) % ctx.speech.len().max(1),
            rtp: 0,
            ticks: 0,
            hand_kind: 0,
            crashed: HashMap::new(),
            events,
            joins,
            ctx,
        }
    }

    /// Every 20 ms: reads the connected members' sockets now and then, and sends the
    /// holder's next frame (or their yield when their turn is up).
    async fn tick(&mut self) {
        // What the connected members' sockets received since the last read.
        self.ticks += 1;
        if self.ticks.is_multiple_of(polled::READ_EVERY) {
            self.peers.read_polled();
        }
        let now = Instant::now();
        self.rtp += 960;
        let turn = &mut self.turn;
        let Some(h) = turn.holder.filter(|_| !turn.yielded && now + DRAIN < self.end) else {
            return;
        };
        // A holder who crashed, or whose audio is not up yet, neither speaks nor yields:
        // they carry on once back.
        if self.members[h].is_none() || !self.peers.connected(h) {
            return;
        }
        if turn.until.is_some_and(|u| u <= now) {
            turn.yielded = true;
            self.send(h, ClientMsg::Yield).await;
            return;
        }
        let frame = self.cursor;
        self.cursor = (self.cursor + 1) % self.ctx.speech.len();
        let spurt = turn.last_send.is_none_or(|t| now.saturating_duration_since(t) > SPURT_GAP);
        if self.peers.send_audio(h, frame, self.rtp, now, spurt) {
            turn.last_send = Some(now);
            self.metrics.packets_sent += 1;
            self.metrics.packets_expected += self.peers.listeners(h) as u64;
        }
    }

    /// Member `j` joined: their audio joins the room's and their offer goes out.
    async fn joined(&mut self, j: usize, joined: Joined) {
        let Joined { mut member, audio, offer } = joined;
        if let Some(before) = self.crashed.remove(&j) {
            self.check_resumed(j, &before, &member).await;
        }
        // A newcomer sees only reactions sent from now on.
        for (from, list) in &self.pending {
            member.reactions_seen.insert(*from, list.len());
        }
        self.ids.insert(member.id, j);
        self.peers.insert(j, audio);
        // Offered only now that the answer has somewhere to go.
        member.p.send(ClientMsg::RtcOffer { sdp: offer }).await;
        self.members[j] = Some(member);
    }

    /// Handles `first` and what else is queued, up to [`EVENT_BATCH`], before the other
    /// inputs are polled again.
    async fn on_events(
        &mut self,
        first: (usize, ClientEvent),
        rx: &mut mpsc::Receiver<(usize, ClientEvent)>,
    ) {
        let mut next = Some(first);
        let mut handled = 0;
        while let Some((j, ev)) = next {
            self.on_event(j, ev).await;
            handled += 1;
            next = if handled < EVENT_BATCH { rx.try_recv().ok() } else { None };
        }
    }

    /// One event of member `j`'s session. The queue, audio answers and unreadable frames
    /// count even before the member's join reached the room; the rest only after.
    async fn on_event(&mut self, j: usize, ev: ClientEvent) {
        match &ev {
            ClientEvent::Signal(frame, _) => match &frame.msg {
                ServerMsg::Queue { hands } => {
                    self.hands = hands.iter().map(|h| h.participant).collect();
                }
                ServerMsg::RtcAnswer { sdp } => {
                    let accepted = self.peers.accept_answer(j, sdp);
                    if !accepted {
                        self.metrics.error("bad_answer");
                    }
                }
                _ => {}
            },
            ClientEvent::Undecodable { text, error, .. } => {
                tracing::warn!(member = j, %error, text, "unreadable server message");
                self.metrics.error("undecodable");
            }
            _ => {}
        }
        if !matches!(self.members.get(j), Some(Some(_))) {
            return;
        }
        match ev {
            // Audio is the room's peers' (see `peers`), not the session's.
            ClientEvent::Audio(_) | ClientEvent::AudioConnected => {}
            // Counted above.
            ClientEvent::Undecodable { .. } => {}
            ClientEvent::Closed => self.metrics.error("connection_closed"),
            ClientEvent::Signal(frame, at) => match frame.msg {
                ServerMsg::YoureUp { .. } => self.send(j, ClientMsg::AcceptFloor).await,
                ServerMsg::Floor { floor } if j == 0 => self.on_floor(&floor),
                ServerMsg::Reaction { from, .. } => self.on_reaction(j, from, at),
                ServerMsg::Error { code, .. } => self.metrics.error(code.as_str()),
                _ => {}
            },
        }
    }

    /// The floor as the facilitator bot saw it change: a new turn gets a holder and a
    /// length.
    fn on_floor(&mut self, floor: &FloorView) {
        let turn = &mut self.turn;
        let holder = floor.holder.and_then(|id| self.ids.get(&id).copied());
        if floor.turn != turn.id {
            if holder.is_some() {
                turn.count += 1;
            }
            turn.id = floor.turn;
            turn.holder = holder;
            turn.yielded = false;
            let (lo, hi) = self.ctx.turn_ms;
            turn.until = holder
                .map(|_| Instant::now() + Duration::from_millis(self.rng.random_range(lo..=hi)));
        }
    }

    /// Member `j` saw a reaction from `from` at `at`: when every member has seen it, its
    /// fan-out time is measured.
    fn on_reaction(&mut self, j: usize, from: ParticipantId, at: Instant) {
        let Some(Some(me)) = self.members.get_mut(j) else { return };
        let n = me.reactions_seen.entry(from).or_default();
        let k = *n;
        *n += 1;
        if let Some(p) = self.pending.get_mut(&from).and_then(|list| list.get_mut(k)) {
            p.seen += 1;
            p.last = p.last.max(at);
            if p.seen == p.expected {
                let sent = p.written.get().copied().unwrap_or(p.sent);
                self.metrics.fanout.add(p.last.saturating_duration_since(sent));
            }
        }
    }

    /// Raises hands to keep a short queue, and reacts now and then.
    async fn act(&mut self) {
        let learners: Vec<usize> =
            (1..self.members.len()).filter(|j| self.members[*j].is_some()).collect();
        if learners.is_empty() {
            return;
        }
        // One hand every half second on average keeps a queue of a few.
        if self.rng.random_bool(0.5) {
            let j = learners[self.rng.random_range(0..learners.len())];
            let has_hand = self.members[j].as_ref().is_some_and(|x| self.hands.contains(&x.id));
            if self.turn.holder != Some(j) && !has_hand {
                self.hand_kind += 1;
                let kind = if self.hand_kind.is_multiple_of(2) {
                    HandKind::Reply
                } else {
                    HandKind::NewPoint
                };
                self.send(j, ClientMsg::RaiseHand { kind, note: None }).await;
            }
        }
        // About one reaction per learner every ten seconds, never by the speaker.
        for &j in &learners {
            if self.turn.holder != Some(j) && self.rng.random_bool(0.05) {
                let reaction = REACTIONS[self.rng.random_range(0..REACTIONS.len())];
                self.react(j, reaction).await;
                self.metrics.reactions += 1;
            }
        }
    }

    /// Member `j` reacts; the reaction waits in `pending` to be seen by every member.
    async fn react(&mut self, j: usize, reaction: ReactionKind) {
        let present = self.members.iter().flatten().count();
        let Some(Some(x)) = self.members.get(j) else { return };
        let now = Instant::now();
        let written = x.p.send_stamped(ClientMsg::React { reaction }).await;
        let pending = Pending { written, sent: now, seen: 0, last: now, expected: present };
        self.pending.entry(x.id).or_default().push(pending);
    }

    /// A crash wave reaches this room: one learner whose audio is up drops without a
    /// goodbye, and comes back a second later with the resume token of their welcome.
    async fn crash_one(&mut self) {
        if self.end.saturating_duration_since(Instant::now()) < Duration::from_secs(5) {
            return; // too close to the end to come back and be checked
        }
        let ready: Vec<usize> = (1..self.members.len())
            .filter(|&j| self.members[j].is_some() && self.peers.connected(j))
            .collect();
        if ready.is_empty() {
            return;
        }
        let j = ready[self.rng.random_range(0..ready.len())];
        let Some(member) = self.members[j].take() else { return };
        let before = Crashed {
            id: member.id,
            colour: colour_of(&member.p),
            hand: self.hands.contains(&member.id),
            // A holder whose "I'm done" is already on its way gives the floor up.
            held: self.turn.holder == Some(j) && !self.turn.yielded,
        };
        let (token, resume) = (member.token.clone(), member.p.you.resume_token.clone());
        member.p.crash().await;
        self.peers.remove(j);
        self.crashed.insert(j, before);
        self.metrics.crashes += 1;
        let (ctx, events, done) = (Arc::clone(&self.ctx), self.events.clone(), self.joins.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let result = connect(&ctx, j, token, Some(resume), events, false).await;
            let _ = done.send((j, result.map_err(|kind| format!("resume_{kind}")))).await;
        });
    }

    /// Member `j` is back after a crash: the welcome must give back what they had. A
    /// hand may have become an offer (or the floor) meanwhile; an offer to them is taken.
    async fn check_resumed(&mut self, j: usize, before: &Crashed, member: &Member) {
        let (p, me) = (&member.p, member.id);
        let floor = &p.room.floor;
        let offered = floor.offered_to == Some(me);
        let hand =
            p.room.queue.iter().any(|h| h.participant == me) || offered || floor.holder == Some(me);
        let kept = p.you.resumed
            && me == before.id
            && colour_of(p) == before.colour
            && (!before.hand || hand)
            && (!before.held || floor.holder == Some(me));
        if kept {
            self.metrics.resumes += 1;
        } else {
            tracing::warn!(
                member = j,
                resumed = p.you.resumed,
                same_id = me == before.id,
                same_colour = colour_of(p) == before.colour,
                had_hand = before.hand,
                hand_back = hand,
                held = before.held,
                holder = ?floor.holder,
                offered = ?floor.offered_to,
                queue = ?p.room.queue.iter().map(|h| h.participant).collect::<Vec<_>>(),
                "a crashed member lost state"
            );
            self.metrics.error("state_lost");
        }
        if offered {
            p.send(ClientMsg::AcceptFloor).await;
        }
    }

    /// Sends `msg` from member `j`, if they are in.
    async fn send(&self, j: usize, msg: ClientMsg) {
        if let Some(Some(x)) = self.members.get(j) {
            x.p.send(msg).await;
        }
    }

    /// The end: hand-overs counted, what each listener heard (the last tick's arrivals
    /// too) and the jitter per stream collected; then everyone leaves.
    async fn finish(mut self) -> Metrics {
        self.metrics.handovers = self.turn.count.saturating_sub(1);
        self.metrics.rooms_with_handover = u64::from(self.turn.count >= 2);
        self.metrics.sessions = 1;
        self.peers.read_polled();
        self.peers.collect(&mut self.metrics);
        for x in self.members.iter().flatten() {
            x.p.send(ClientMsg::Leave).await;
        }
        self.metrics
    }
}

/// A member's colour, as their welcome showed it.
fn colour_of(p: &Participant) -> Option<String> {
    p.room.participants.iter().find(|x| x.id == p.id).map(|x| x.colour.clone())
}

/// The reactions the learners send, picked at random.
const REACTIONS: [ReactionKind; 4] =
    [ReactionKind::Agree, ReactionKind::Disagree, ReactionKind::Question, ReactionKind::Applause];

/// A short, stable name for a failed join.
pub(super) fn error_kind(e: &ClientError) -> &'static str {
    match e {
        ClientError::Refused { code: ErrorCode::BadToken | ErrorCode::TokenExpired, .. } => {
            "bad_token"
        }
        ClientError::Refused { .. } => "refused",
        ClientError::Unreachable { .. } => "unreachable",
        ClientError::Closed(_)
        | ClientError::Undecodable(_)
        | ClientError::Rtc(_)
        | ClientError::Io(_) => "join_failed",
    }
}
