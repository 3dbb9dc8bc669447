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
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::metrics::Metrics;
use super::peers::{MemberAudio, RoomPeers};
use super::polled;
use super::{Ctx, FRAME};
use crate::client::ClientRtc;
use crate::client::{ClientError, ClientEvent, EventSink, Participant};
use crate::rtp::DatagramSocket;
use crate::token::{Claims, mint, unix_now};
use talkstick_signaling::protocol::Role;

struct Member {
    p: Participant,
    id: u64,
    /// Reactions seen, by sender id (to pair the n-th sent with the n-th seen).
    reactions_seen: HashMap<u64, usize>,
}

/// Where a member's join outcome goes: their signaling, their audio and its SDP offer.
/// Boxed: a peer is several kilobytes, and the room's `select!` moves its output (sized
/// for its largest branch) on every wake-up.
type JoinedTx = mpsc::Sender<(usize, Result<Box<(Member, MemberAudio, String)>, String>)>;

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
    id: Option<u64>,
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

/// Runs room `index` from `start` until `end`; returns what it measured.
pub(super) async fn run(ctx: Arc<Ctx>, index: usize, end: Instant) -> Metrics {
    let mut m = Metrics::default();
    let mut rng = StdRng::seed_from_u64(index as u64 + 1);
    let (tx, mut rx) = mpsc::channel::<(usize, ClientEvent)>(65_536);
    let (joins_tx, mut joins) = mpsc::channel(ctx.per_room.max(1));
    // Whether someone speaks in this room: a join that starts then measures its join time
    // (WebSocket open → first audio) on its own, not the wait for a speaker.
    let speaking = Arc::new(AtomicBool::new(false));
    for j in 0..ctx.per_room {
        tokio::spawn(join(
            Arc::clone(&ctx),
            index,
            j,
            (tx.clone(), joins_tx.clone()),
            Arc::clone(&speaking),
        ));
    }
    drop((tx, joins_tx));
    let mut members: Vec<Option<Member>> = (0..ctx.per_room).map(|_| None).collect();
    let mut peers = RoomPeers::new(Arc::clone(&ctx));
    let mut ids: HashMap<u64, usize> = HashMap::new();
    let mut hands: HashSet<u64> = HashSet::new();
    let mut pending: HashMap<u64, Vec<Pending>> = HashMap::new();
    let mut turn = Turn::default();
    let mut cursor = (index * 97) % ctx.speech.len().max(1);
    let mut rtp = 0u64;
    let mut tick = tokio::time::interval(FRAME);
    let mut ticks = 0u32;
    let mut act = tokio::time::interval(Duration::from_millis(500));
    let mut hand_kind = 0usize;
    // One timer for every member's peer, moved only when the earliest deadline changes.
    let timer = tokio::time::sleep_until(tokio::time::Instant::now());
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    while Instant::now() < end {
        let due = peers.timeout();
        if due != armed {
            if let Some(at) = due {
                timer.as_mut().reset(at.into());
            }
            armed = due;
        }
        let rearm = |peers: &RoomPeers| peers.timeout().is_some_and(|t| due.is_none_or(|a| t < a));
        tokio::select! {
            biased;
            _ = tick.tick() => {
                // What the connected members' sockets received since the last read.
                ticks += 1;
                if ticks % polled::READ_EVERY == 0 {
                    peers.read_polled();
                }
                let now = Instant::now();
                rtp += 960;
                let Some(h) = turn.holder.filter(|_| !turn.yielded && now + DRAIN < end) else { continue };
                if turn.until.is_some_and(|u| u <= now) {
                    turn.yielded = true;
                    send(&members, h, json!({"type": "yield"})).await;
                    continue;
                }
                let frame = cursor;
                cursor = (cursor + 1) % ctx.speech.len();
                let spurt = turn.last_send.is_none_or(|t| now.saturating_duration_since(t) > SPURT_GAP);
                if peers.send_audio(h, frame, rtp, (now, spurt)) {
                    turn.last_send = Some(now);
                    m.packets_sent += 1;
                    m.packets_expected += peers.listeners(h) as u64;
                }
            }
            () = &mut timer, if armed.is_some() => {
                armed = None;
                peers.handle_timeout(Instant::now());
            }
            // A forwarded packet wakes the task once for all its listeners. (After the
            // speaker's tick and the peers' timers, which must not wait behind audio.)
            // What arrived is handled here, and the branch stays pending: a wake-up for
            // audio then polls every branch once, not twice. Only a peer deadline moved
            // before the armed timer ends the `select!`, to re-arm it.
            () = std::future::poll_fn(|cx| {
                while peers.poll_recv(cx).is_ready() {
                    peers.handle_batch();
                    if rearm(&peers) {
                        return Poll::Ready(());
                    }
                }
                Poll::Pending
            }) => {}
            joined = joins.recv(), if !joins.is_closed() || !joins.is_empty() => match joined {
                Some((j, Ok(joined))) => {
                    let (mut member, audio, offer) = *joined;
                    // A newcomer sees only reactions sent from now on.
                    for (from, list) in &pending {
                        member.reactions_seen.insert(*from, list.len());
                    }
                    ids.insert(member.id, j);
                    peers.insert(j, audio);
                    // Offered only now that the answer has somewhere to go.
                    member.p.send(json!({"type": "rtc_offer", "sdp": offer})).await;
                    members[j] = Some(member);
                }
                Some((_, Err(kind))) => m.error(kind),
                None => {}
            },
            ev = rx.recv() => {
                let Some(first) = ev else { break };
                // Drain what else is queued before the other branches are polled again.
                let mut next = Some(first);
                let mut handled = 0;
                while let Some((j, ev)) = next {
                    if let ClientEvent::Signal(v, _) = &ev {
                        match v["type"].as_str() {
                            Some("queue") => {
                                hands = v["hands"].as_array().into_iter().flatten().filter_map(|h| h["participant"].as_u64()).collect();
                            }
                            Some("rtc_answer") => {
                                let sdp = v["sdp"].as_str().unwrap_or_default();
                                if !peers.accept_answer(j, sdp) {
                                    m.error("bad_answer");
                                }
                            }
                            _ => {}
                        }
                    }
                    on_event(&ctx, &mut m, &mut members, &ids, j, ev, &mut pending, &mut turn, &mut rng).await;
                    handled += 1;
                    next = if handled < EVENT_BATCH { rx.try_recv().ok() } else { None };
                }
                speaking.store(turn.holder.is_some(), Ordering::Relaxed);
            }
            _ = act.tick() => {
                act_once(&members, &mut m, &mut rng, &turn, &hands, &mut pending, &mut hand_kind).await;
            }
        }
    }
    m.handovers = turn.count.saturating_sub(1);
    m.rooms_with_handover = u64::from(turn.count >= 2);
    // What each listener heard (the last tick's arrivals too), jitter per stream, then
    // leave.
    peers.read_polled();
    peers.collect(&mut m);
    for x in members.iter().flatten() {
        x.p.send(json!({"type": "leave"})).await;
    }
    m
}

/// Joins member `j` of room `index` at its turn in the ramp: signaling through the client
/// core's session, and a WebRTC peer on its own socket whose offer the room's task sends.
/// The outcome goes to `done`.
async fn join(
    ctx: Arc<Ctx>,
    index: usize,
    j: usize,
    (events, done): (mpsc::Sender<(usize, ClientEvent)>, JoinedTx),
    speaking: Arc<AtomicBool>,
) {
    // Round robin over rooms: every room fills at the same pace, so most joins land in a
    // room where someone already speaks.
    let global = j * ctx.rooms + index;
    tokio::time::sleep_until((ctx.start + ctx.ramp_interval * global as u32).into()).await;
    let role = if j == 0 { Role::Facilitator } else { Role::Learner };
    let name = if j == 0 { "Facilitator bot".to_owned() } else { format!("Learner {j}") };
    let room = format!("load-{index}").parse().expect("valid room id");
    let token = mint(&ctx.secret, &Claims { room, name, role, exp: unix_now() + 3600 });
    let started = Instant::now();
    // Someone holds the floor as this member starts joining: time to first audio is
    // measured.
    let measure_join = speaking.load(Ordering::Relaxed);
    let result = async {
        let p = Participant::join_into(&ctx.base, &token, None, EventSink::Shared(j, events))
            .await
            .map_err(|e| error_kind(&e))?;
        let socket =
            DatagramSocket::bind(SocketAddr::new(ctx.bind_ip, 0)).map_err(|_| "bind_failed")?;
        // As large as the server's: a moment when the generator is busy must delay
        // packets, not drop them and count as loss at the server.
        let _ = crate::rtp::socket::enlarge_recv_buffer(&socket);
        let local = socket.local_addr().map_err(|_| "bind_failed")?;
        let slots = p.welcome["room"]["audio_slots"].as_u64().unwrap_or(3) as usize;
        let (rtc, offer) = ClientRtc::offer(Instant::now(), local, slots)
            .map_err(|e| error_kind(&ClientError::from(e)))?;
        ctx.joined.fetch_add(1, Ordering::Relaxed);
        let member = Member { id: p.id, p, reactions_seen: HashMap::new() };
        Ok(Box::new((member, MemberAudio::new(rtc, socket, started, measure_join), offer)))
    }
    .await;
    let _ = done.send((j, result.map_err(|kind: &'static str| kind.to_owned()))).await;
}

/// Raises hands to keep a short queue, and reacts now and then.
async fn act_once(
    members: &[Option<Member>],
    m: &mut Metrics,
    rng: &mut StdRng,
    turn: &Turn,
    hands: &HashSet<u64>,
    pending: &mut HashMap<u64, Vec<Pending>>,
    hand_kind: &mut usize,
) {
    let present = members.iter().flatten().count();
    let learners: Vec<usize> = (1..members.len()).filter(|j| members[*j].is_some()).collect();
    if learners.is_empty() {
        return;
    }
    // One hand every half second on average keeps a queue of a few.
    if rng.random_bool(0.5) {
        let j = learners[rng.random_range(0..learners.len())];
        let has_hand = members[j].as_ref().is_some_and(|x| hands.contains(&x.id));
        if turn.holder != Some(j) && !has_hand {
            *hand_kind += 1;
            let kind = if *hand_kind % 2 == 0 { "reply" } else { "new_point" };
            send(members, j, json!({"type": "raise_hand", "kind": kind})).await;
        }
    }
    // About one reaction per learner every ten seconds, never by the speaker.
    for &j in &learners {
        if turn.holder != Some(j) && rng.random_bool(0.05) {
            let reaction = ["agree", "disagree", "question", "applause"][rng.random_range(0..4)];
            if let Some(Some(x)) = members.get(j) {
                let now = Instant::now();
                let written =
                    x.p.send_stamped(json!({"type": "react", "reaction": reaction})).await;
                pending.entry(x.id).or_default().push(Pending {
                    written,
                    sent: now,
                    seen: 0,
                    last: now,
                    expected: present,
                });
            }
            m.reactions += 1;
        }
    }
}

async fn send(members: &[Option<Member>], j: usize, msg: Value) {
    if let Some(Some(x)) = members.get(j) {
        x.p.send(msg).await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn on_event(
    ctx: &Ctx,
    m: &mut Metrics,
    members: &mut [Option<Member>],
    ids: &HashMap<u64, usize>,
    j: usize,
    ev: ClientEvent,
    pending: &mut HashMap<u64, Vec<Pending>>,
    turn: &mut Turn,
    rng: &mut StdRng,
) {
    let Some(Some(me)) = members.get_mut(j) else { return };
    match ev {
        // Audio is the room's peers' (see `peers`), not the session's.
        ClientEvent::Audio(_) | ClientEvent::AudioConnected => {}
        ClientEvent::Closed => m.error("connection_closed"),
        ClientEvent::Signal(v, at) => match v["type"].as_str().unwrap_or("") {
            "youre_up" => me.p.send(json!({"type": "accept_floor"})).await,
            "floor" if j == 0 => {
                let holder = v["floor"]["holder"].as_u64().and_then(|id| ids.get(&id).copied());
                let id = v["floor"]["turn"].as_u64();
                if id != turn.id {
                    if holder.is_some() {
                        turn.count += 1;
                    }
                    turn.id = id;
                    turn.holder = holder;
                    turn.yielded = false;
                    let (lo, hi) = ctx.turn_ms;
                    turn.until = holder
                        .map(|_| Instant::now() + Duration::from_millis(rng.random_range(lo..=hi)));
                }
            }
            "reaction" => {
                let Some(from) = v["from"].as_u64() else { return };
                let n = me.reactions_seen.entry(from).or_default();
                let k = *n;
                *n += 1;
                if let Some(p) = pending.get_mut(&from).and_then(|list| list.get_mut(k)) {
                    p.seen += 1;
                    p.last = p.last.max(at);
                    if p.seen == p.expected {
                        let sent = p.written.get().copied().unwrap_or(p.sent);
                        m.fanout.add(p.last.saturating_duration_since(sent));
                    }
                }
            }
            "error" => m.error(v["code"].as_str().unwrap_or("error").to_owned()),
            _ => {}
        },
    }
}

/// A short, stable name for a failed join.
pub(super) fn error_kind(e: &ClientError) -> &'static str {
    match e {
        ClientError::Refused { code, .. } if code == "bad_token" || code == "token_expired" => {
            "bad_token"
        }
        ClientError::Refused { .. } => "refused",
        ClientError::Unreachable { .. } => "unreachable",
        ClientError::Closed(_) | ClientError::Rtc(_) | ClientError::Io(_) => "join_failed",
    }
}
