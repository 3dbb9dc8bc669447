//! The baseline for load tests: a minimal raw UDP fan-out relay. Same runtime, same socket
//! strategy (one socket, `recv_from` then `try_send_to`) and the same table lookup as the
//! SFU (source address → group → members), but no ICE, no DTLS, no SRTP, no WebRTC.
//! Measuring it in the same run as Talkstick shows what the SFU itself adds.
//!
//! Datagrams: `[JOIN, group u32 BE]` registers the sender in a group; `[AUDIO, payload…]`
//! is sent to every other member of the sender's group.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::rtp::DatagramSocket;

/// First byte of a join datagram.
pub const JOIN: u8 = 1;
/// First byte of an audio datagram.
pub const AUDIO: u8 = 2;

/// Relay counters.
#[derive(Debug, Default)]
pub struct RelayCounters {
    /// Datagrams received.
    pub received: AtomicU64,
    /// Datagrams forwarded.
    pub forwarded: AtomicU64,
}

/// Runs the relay on `socket` forever.
pub async fn run(socket: DatagramSocket, counters: Arc<RelayCounters>) -> std::io::Result<()> {
    // (Never returns Ok: it relays until the task is dropped.)
    // The same socket strategy as the media plane.
    if let Err(e) = crate::rtp::socket::enlarge_recv_buffer(&socket) {
        tracing::warn!(error = %e, "cannot enlarge the receive buffer");
    }
    let mut member_of: HashMap<SocketAddr, u32> = HashMap::new();
    let mut groups: HashMap<u32, Vec<SocketAddr>> = HashMap::new();
    let mut buf = vec![0u8; 2048];
    loop {
        // An ICMP error from an earlier send can surface here: keep relaying.
        let Ok((n, from)) = socket.recv_from(&mut buf).await else { continue };
        counters.received.fetch_add(1, Ordering::Relaxed);
        match buf[..n] {
            [JOIN, a, b, c, d] => {
                let group = u32::from_be_bytes([a, b, c, d]);
                if member_of.insert(from, group).is_none() {
                    groups.entry(group).or_default().push(from);
                }
            }
            [AUDIO, ..] => {
                let Some(members) = member_of.get(&from).and_then(|g| groups.get(g)) else {
                    continue;
                };
                for to in members.iter().filter(|m| **m != from) {
                    if socket.try_send_to(&buf[..n], *to).is_ok() {
                        counters.forwarded.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            _ => {}
        }
    }
}
