//! The same rooms against Janus's VideoRoom ([`crate::client::janus`]): each member
//! publishes with the load tester's own peer and subscribes to everyone else on one
//! multistream subscription (Janus offers it, the peer answers), and the speaker rotates
//! on the same turn lengths and speech as in the Talkstick scenario and the baseline.
//! Janus has no floor control, so only audio is driven: no hands, no offers, no
//! reactions, and no join time (its publishers and subscriptions are set up in phases).
//! A member counts as joined once its subscription has started, so the steady state
//! begins after every room's set-up, as it does after the Talkstick scenario's joins.
//!
//! Janus's ICE does not gather on the loopback interface: its members bind the host's
//! own address (`--bind-ip`), which Janus's candidates are on.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;

use super::metrics::{Jitter, Metrics};
use super::polled::{self, Clocks};
use super::turns::Turns;
use super::{Ctx, FRAME};
use crate::client::ClientRtc;
use crate::client::janus::{Janus, JanusError, create_room};
use crate::rtp::{RtcEvent, Transmit};

/// One member's two peers: what it publishes, and its subscription to the others.
struct Member {
    publisher: Peer,
    subscriber: Option<Peer>,
    feed: u64,
    jitter: Jitter,
    heard: bool,
}

struct Peer {
    rtc: ClientRtc,
    socket: UdpSocket,
    connected: bool,
}

impl Peer {
    fn bind(ip: std::net::IpAddr) -> std::io::Result<(UdpSocket, SocketAddr)> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        socket.set_nonblocking(true)?;
        polled::enable_timestamps(&socket)?;
        let local = socket.local_addr()?;
        Ok((socket, local))
    }

    fn flush(&self, out: &mut Vec<Transmit>) {
        for t in out.drain(..) {
            let _ = self.socket.send_to(&t.contents, t.destination);
        }
    }
}

/// Runs room `index` against the Janus at `url` until `end`.
pub(super) async fn run(ctx: Arc<Ctx>, url: String, index: usize, end: Instant) -> Metrics {
    let mut m = Metrics::default();
    match room(&ctx, &url, index, end, &mut m).await {
        Ok(()) => {}
        Err(e) => {
            tracing::warn!(room = index, error = %e, "a Janus room failed");
            m.error("janus_failed");
        }
    }
    m
}

async fn room(
    ctx: &Ctx,
    url: &str,
    index: usize,
    end: Instant,
    m: &mut Metrics,
) -> anyhow::Result<()> {
    let janus = Janus::connect(url).await?;
    let room_id = 10_000 + index as u64;
    let admin = janus.attach().await?;
    // A room left from an earlier run is replaced.
    let _ = janus.message(admin, json!({"request": "destroy", "room": room_id}), None).await;
    janus.message(admin, create_room(room_id, ctx.per_room), None).await?;
    let mut out = Vec::new();
    let mut members: Vec<Member> = Vec::new();
    for j in 0..ctx.per_room {
        let global = j * ctx.rooms + index;
        tokio::time::sleep_until((ctx.start + ctx.ramp_interval * global as u32).into()).await;
        let handle = janus.attach().await?;
        let join = json!({"request": "join", "room": room_id, "ptype": "publisher", "display": format!("m{j}")});
        let joined = janus.message(handle, join, None).await?;
        let feed = joined["plugindata"]["data"]["id"].as_u64().unwrap_or_default();
        let (socket, local) = Peer::bind(ctx.bind_ip)?;
        let (mut rtc, offer) = ClientRtc::offer(Instant::now(), local, 0)?;
        let publish = json!({"request": "publish", "audio": true, "video": false});
        let answer =
            janus.message(handle, publish, Some(json!({"type": "offer", "sdp": offer}))).await?;
        let sdp = answer["jsep"]["sdp"].as_str().unwrap_or_default();
        rtc.accept_answer(sdp, &mut out)?;
        let publisher = Peer { rtc, socket, connected: false };
        publisher.flush(&mut out);
        members.push(Member {
            publisher,
            subscriber: None,
            feed,
            jitter: Jitter::default(),
            heard: false,
        });
    }
    // Janus offers a feed once its publisher is connected: wait for them (10 s at most).
    let connect_by = Instant::now() + Duration::from_secs(10);
    while members.iter().any(|x| !x.publisher.connected) && Instant::now() < connect_by {
        pump(ctx, &mut members, &mut out, m, &Default::default());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for k in 0..members.len() {
        let streams: Vec<_> = members
            .iter()
            .enumerate()
            .filter(|(i, x)| *i != k && x.publisher.connected)
            .map(|(_, x)| json!({"feed": x.feed}))
            .collect();
        if streams.is_empty() {
            continue;
        }
        let handle = janus.attach().await?;
        let join =
            json!({"request": "join", "room": room_id, "ptype": "subscriber", "streams": streams});
        // Janus lists a feed a moment after the publisher's side is connected: a join
        // that comes first is refused ("No such feed") and is tried again.
        let mut tries = 0;
        let offered = loop {
            match janus.message(handle, join.clone(), None).await {
                Err(JanusError::Refused { why, .. })
                    if why.contains("No such feed") && tries < 20 =>
                {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => break other?,
            }
        };
        let offer = offered["jsep"]["sdp"].as_str().unwrap_or_default();
        let (socket, local) = Peer::bind(ctx.bind_ip)?;
        let (rtc, answer) = ClientRtc::answer(Instant::now(), local, offer, &mut out)?;
        let peer = Peer { rtc, socket, connected: false };
        peer.flush(&mut out);
        janus
            .message(
                handle,
                json!({"request": "start"}),
                Some(json!({"type": "answer", "sdp": answer})),
            )
            .await?;
        members[k].subscriber = Some(peer);
        // Joined once it publishes and hears the others: the steady state (and its CPU
        // per packet) starts after every member's subscription, as after every join of
        // the Talkstick scenario.
        ctx.joined.fetch_add(1, Ordering::Relaxed);
    }
    // Speech: one speaker at a time, on the scenario's turn lengths.
    let n = members.len();
    let mut turns = Turns::new(ctx, index, n);
    let mut sent_at = std::collections::HashMap::new();
    let mut tick = tokio::time::interval(FRAME);
    let mut rtp_time = 0u64;
    while Instant::now() < end && n > 1 {
        tick.tick().await;
        pump(ctx, &mut members, &mut out, m, &sent_at);
        let now = Instant::now();
        let speaker = turns.speaker(now, m);
        if now + super::scenario::DRAIN >= end {
            continue;
        }
        let frame = turns.next_frame();
        rtp_time += 960;
        let Some(packet) = ctx.speech.packet(frame) else { continue };
        let p = &mut members[speaker].publisher;
        if p.connected && p.rtc.send_audio(now, rtp_time, 30, packet, &mut out).is_ok() {
            p.flush(&mut out);
            sent_at.insert(frame, now);
            m.packets_sent += 1;
            m.packets_expected += (n - 1) as u64;
        }
    }
    pump(ctx, &mut members, &mut out, m, &sent_at);
    for x in &members {
        m.jitter_sum_us += x.jitter.estimate_us;
        m.jitter_streams += 1;
    }
    Ok(())
}

/// Feeds every peer what its socket received (timed by the kernel), then its timers, and
/// counts what the subscriptions heard.
fn pump(
    ctx: &Ctx,
    members: &mut [Member],
    out: &mut Vec<Transmit>,
    m: &mut Metrics,
    sent_at: &std::collections::HashMap<usize, Instant>,
) {
    let clocks = Clocks::now();
    let mut buf = [0u8; 2048];
    for x in members.iter_mut() {
        for (peer, listens) in [(Some(&mut x.publisher), false), (x.subscriber.as_mut(), true)] {
            let Some(peer) = peer else { continue };
            while let Ok(Some(got)) = polled::try_recv(&peer.socket, &mut buf, &clocks) {
                let d = peer.rtc.received(got.from, &buf[..got.len], got.at);
                let _ = peer.rtc.handle_datagram(Instant::now(), &d, out);
            }
            let now = Instant::now();
            if peer.rtc.timeout() <= now {
                let _ = peer.rtc.handle_timeout(now, out);
            }
            peer.flush(out);
            while let Some(e) = peer.rtc.poll_event() {
                match e {
                    RtcEvent::Connected => peer.connected = true,
                    RtcEvent::Disconnected => m.error("audio_disconnected"),
                    RtcEvent::Audio(a) if listens => {
                        m.packets_received += 1;
                        ctx.delivered.fetch_add(1, Ordering::Relaxed);
                        if !x.heard {
                            x.heard = true;
                            m.listeners_heard += 1;
                        }
                        if let Some(sent) = ctx.frame_of(&a.data).and_then(|f| sent_at.get(&f)) {
                            let took = a.at.saturating_duration_since(*sent);
                            m.forward.add(took);
                            if ctx.steady.load(Ordering::Relaxed) {
                                m.forward_steady.add(took);
                            }
                            x.jitter.add(*sent, a.at);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}
