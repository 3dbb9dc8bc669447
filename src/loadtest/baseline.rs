//! The baseline generator: the same rooms, speech and measurements as the Talkstick
//! scenario, but each participant is a plain UDP socket talking to the raw relay
//! ([`crate::relay`]). The speaker rotates on the same turn lengths. Sockets are read
//! every few ticks of the room with the kernel's arrival times (`super::polled`), as the
//! scenario reads a connected member's.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::metrics::{Jitter, Metrics};
use super::polled::{self, Clocks};
use super::turns::Turns;
use super::{Ctx, FRAME};
use crate::relay::{AUDIO, JOIN};

/// Runs baseline room `index` against the relay at `relay` until `end`.
pub(super) async fn run(
    ctx: Arc<Ctx>,
    relay: std::net::SocketAddr,
    index: usize,
    end: Instant,
) -> Metrics {
    let mut m = Metrics::default();
    // Read every few ticks with the kernel's arrival times, like a connected member of
    // the Talkstick scenario (`super::polled`): the two servers are driven alike.
    let mut socks = Vec::new();
    for j in 0..ctx.per_room {
        let global = j * ctx.rooms + index;
        tokio::time::sleep_until((ctx.start + ctx.ramp_interval * global as u32).into()).await;
        let sock = match bind(std::net::SocketAddr::new(ctx.bind_ip, 0)) {
            Ok(s) => s,
            Err(_) => {
                m.error("bind_failed");
                continue;
            }
        };
        let mut join = vec![JOIN];
        join.extend((index as u32).to_be_bytes());
        if sock.send_to(&join, relay).is_err() {
            m.error("unreachable");
            continue;
        }
        ctx.joined.fetch_add(1, Ordering::Relaxed);
        socks.push(sock);
    }
    let n = socks.len();
    let mut room = Heard {
        heard: vec![false; n],
        jitter: vec![Jitter::default(); n],
        sent_at: std::collections::HashMap::new(),
        buf: vec![0u8; 2048],
    };
    let mut turns = Turns::new(&ctx, index, n);
    let mut tick = tokio::time::interval(FRAME);
    let mut ticks = 0u32;
    let mut datagram = Vec::with_capacity(1500);
    while Instant::now() < end && n > 1 {
        tick.tick().await;
        ticks += 1;
        if ticks.is_multiple_of(polled::READ_EVERY) {
            room.read(&ctx, &socks, &mut m);
        }
        let now = Instant::now();
        let speaker = turns.speaker(now, &mut m);
        if now + super::scenario::DRAIN >= end {
            continue;
        }
        let frame = turns.next_frame();
        if let Some(packet) = ctx.speech.packet(frame) {
            datagram.clear();
            datagram.push(AUDIO);
            datagram.extend_from_slice(packet);
            if socks[speaker].send_to(&datagram, relay).is_ok() {
                room.sent_at.insert(frame, now);
                m.packets_sent += 1;
                m.packets_expected += (n - 1) as u64;
            }
        }
    }
    room.read(&ctx, &socks, &mut m);
    let jitter = room.jitter;
    for j in &jitter {
        m.jitter_sum_us += j.estimate_us;
        m.jitter_streams += 1;
    }
    m
}

/// A member's socket: non-blocking, stamped by the kernel on arrival.
fn bind(addr: std::net::SocketAddr) -> std::io::Result<UdpSocket> {
    let sock = UdpSocket::bind(addr)?;
    sock.set_nonblocking(true)?;
    polled::enable_timestamps(&sock)?;
    Ok(sock)
}

/// What one baseline room's members heard.
struct Heard {
    heard: Vec<bool>,
    jitter: Vec<Jitter>,
    /// When each frame of the asset was last sent.
    sent_at: std::collections::HashMap<usize, Instant>,
    buf: Vec<u8>,
}

impl Heard {
    /// Reads and times everything the members' sockets received since the last tick.
    fn read(&mut self, ctx: &Ctx, socks: &[UdpSocket], m: &mut Metrics) {
        let clocks = Clocks::now();
        for (k, sock) in socks.iter().enumerate() {
            while let Ok(Some(got)) = polled::try_recv(sock, &mut self.buf, &clocks) {
                m.packets_received += 1;
                ctx.delivered.fetch_add(1, Ordering::Relaxed);
                // No join protocol here, so no join time: only who heard audio.
                if !self.heard[k] {
                    self.heard[k] = true;
                    m.listeners_heard += 1;
                }
                let Some(payload) = self.buf.get(1..got.len) else { continue };
                if let Some(sent) = ctx.frame_of(payload).and_then(|f| self.sent_at.get(&f)) {
                    let took = got.at.saturating_duration_since(*sent);
                    m.forward.add(took);
                    if ctx.steady.load(Ordering::Relaxed) {
                        m.forward_steady.add(took);
                    }
                    self.jitter[k].add(*sent, got.at);
                }
            }
        }
    }
}
