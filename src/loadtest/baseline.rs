//! The baseline generator: the same rooms, speech and measurements as the Talkstick
//! scenario, but each participant is a plain UDP socket talking to the raw relay
//! ([`crate::relay`]). The speaker rotates on the same turn lengths.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;

use super::metrics::{Jitter, Metrics};
use super::{Ctx, FRAME};
use crate::media::DatagramSocket;
use crate::relay::{AUDIO, JOIN};

/// Runs baseline room `index` against the relay at `relay` until `end`.
pub(super) async fn run(
    ctx: Arc<Ctx>,
    relay: std::net::SocketAddr,
    index: usize,
    end: Instant,
) -> Metrics {
    let mut m = Metrics::default();
    let mut rng = StdRng::seed_from_u64(index as u64 + 1);
    let (tx, mut rx) = mpsc::channel::<(usize, Vec<u8>, Instant)>(65_536);
    let mut socks = Vec::new();
    for j in 0..ctx.per_room {
        let global = j * ctx.rooms + index;
        tokio::time::sleep_until((ctx.start + ctx.ramp_interval * global as u32).into()).await;
        let sock = match DatagramSocket::bind(std::net::SocketAddr::new(ctx.bind_ip, 0)) {
            Ok(s) => Arc::new(s),
            Err(_) => {
                m.error("bind_failed");
                continue;
            }
        };
        let mut join = vec![JOIN];
        join.extend((index as u32).to_be_bytes());
        if sock.try_send_to(&join, relay).is_err() {
            m.error("unreachable");
            continue;
        }
        ctx.joined.fetch_add(1, Ordering::Relaxed);
        let (rsock, tx) = (Arc::clone(&sock), tx.clone());
        let k = socks.len();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            while let Ok((n, _)) = rsock.recv_from(&mut buf).await {
                let Some(payload) = buf.get(1..n) else { continue };
                if tx.send((k, payload.to_vec(), Instant::now())).await.is_err() {
                    break;
                }
            }
        });
        socks.push(sock);
    }
    drop(tx);
    let n = socks.len();
    let mut heard = vec![false; n];
    let mut jitter = vec![Jitter::default(); n];
    let mut sent_at = std::collections::HashMap::new();
    let mut speaker = 1.min(n.saturating_sub(1));
    let mut until =
        Instant::now() + Duration::from_millis(rng.random_range(ctx.turn_ms.0..=ctx.turn_ms.1));
    let mut cursor = (index * 97) % ctx.speech.len().max(1);
    let mut tick = tokio::time::interval(FRAME);
    let mut datagram = Vec::with_capacity(1500);
    while Instant::now() < end && n > 1 {
        tokio::select! {
            got = rx.recv() => {
                let Some((k, data, at)) = got else { break };
                m.packets_received += 1;
                ctx.delivered.fetch_add(1, Ordering::Relaxed);
                // No join protocol here, so no join time: only who heard audio.
                if !heard[k] {
                    heard[k] = true;
                    m.listeners_heard += 1;
                }
                if let Some(sent) = ctx.frame_of(&data).and_then(|f| sent_at.get(&f)) {
                    let took = at.saturating_duration_since(*sent);
                    m.forward.add(took);
                    if ctx.steady.load(Ordering::Relaxed) {
                        m.forward_steady.add(took);
                    }
                    jitter[k].add(*sent, at);
                }
            }
            _ = tick.tick() => {
                let now = Instant::now();
                if until <= now {
                    speaker = 1 + (speaker % (n - 1));
                    let (lo, hi) = ctx.turn_ms;
                    until = now + Duration::from_millis(rng.random_range(lo..=hi));
                    m.handovers += 1;
                    m.rooms_with_handover = 1;
                }
                if now + super::scenario::DRAIN >= end {
                    continue;
                }
                let frame = cursor;
                cursor = (cursor + 1) % ctx.speech.len();
                if let Some(packet) = ctx.speech.packet(frame) {
                    datagram.clear();
                    datagram.push(AUDIO);
                    datagram.extend_from_slice(packet);
                    if socks[speaker].try_send_to(&datagram, relay).is_ok() {
                        sent_at.insert(frame, now);
                        m.packets_sent += 1;
                        m.packets_expected += (n - 1) as u64;
                    }
                }
            }
        }
    }
    for j in &jitter {
        m.jitter_sum_us += j.estimate_us;
        m.jitter_streams += 1;
    }
    m
}
