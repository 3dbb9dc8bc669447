//! ICE over TCP: for learners whose network lets no UDP through to the server (office
//! firewalls often allow only outgoing TCP), the server also listens on TCP and offers
//! passive host candidates (RFC 6544). The browser connects; each side then sends STUN,
//! DTLS and SRTP as frames of a 16-bit length and the datagram (RFC 4571). Browsers rank
//! TCP host candidates below UDP ones, so TCP carries audio only where UDP does not work.
//!
//! A connection is one more way in for an attacker, so it has no second chance:
//! - its first frame must come within [`FIRST_FRAME`] and every frame must route: a STUN
//!   request naming a registered peer, or anything once that peer proved the connection
//!   (its ICE agent answered a request on it, as for a UDP address; see
//!   [`super::demux`]). The first frame that does not is the connection's last;
//! - a frame longer than [`MAX_FRAME`] (a datagram's most), a silent connection
//!   ([`IDLE`]; consent checks come every few seconds) or a listener that stops reading
//!   ([`WRITE_STALL`]) ends it;
//! - at most [`MAX_CONNECTIONS`] connections at once and [`MAX_PER_IP`] from one address
//!   (an office's learners may share one NAT address).
//!
//! Routed frames go to the room's inbox exactly like UDP datagrams (a `Datagram` with
//! `Protocol::Tcp`; the plane's accept and read loops, in `plane.rs`, route them as they
//! route UDP); what a room sends to a TCP path is queued to the connection's writer
//! ([`TcpConnections::send`]), which frames it and writes in batches. This module holds
//! the limits, the framing and the connections' table, and names nothing of the plane.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use dashmap::DashMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Longest frame accepted: the largest datagram the UDP side reads.
pub const MAX_FRAME: usize = 2048;
/// A new connection's first frame must come this soon.
pub const FIRST_FRAME: Duration = Duration::from_secs(5);
/// A connection that sends nothing this long is closed (ICE consent checks every ~5 s).
pub const IDLE: Duration = Duration::from_secs(30);
/// A connection whose peer has not taken a write this long is closed.
pub const WRITE_STALL: Duration = Duration::from_secs(10);
/// Most TCP media connections at once.
pub const MAX_CONNECTIONS: usize = 4096;
/// Most TCP media connections from one IP address.
pub const MAX_PER_IP: usize = 256;
/// Frames queued for one connection's writer (about a second of a listener's audio).
pub(super) const QUEUE: usize = 256;

/// Why a TCP connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The client closed it, or the socket failed.
    Gone,
    /// A frame did not route (not STUN for a registered peer, not a proved connection).
    Refused,
    /// A frame longer than [`MAX_FRAME`], or empty.
    BadFrame,
    /// Nothing came in time ([`FIRST_FRAME`], [`IDLE`]).
    Silent,
}

/// The live TCP media connections: their writers by remote address, and how many come
/// from each IP address.
#[derive(Debug, Default)]
pub struct TcpConnections {
    writers: DashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

impl TcpConnections {
    /// Connections open now.
    pub fn len(&self) -> usize {
        self.writers.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.writers.is_empty()
    }

    /// Queues `contents` for the connection from `remote`; false when there is none or its
    /// queue is full (the client stopped reading).
    pub fn send(&self, remote: SocketAddr, contents: Vec<u8>) -> bool {
        self.writers.get(&remote).is_some_and(|w| w.try_send(contents).is_ok())
    }

    /// Takes a place for a connection from `remote`, if the limits allow one.
    pub(super) fn admit(&self, remote: SocketAddr, writer: mpsc::Sender<Vec<u8>>) -> bool {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let n = per_ip.entry(remote.ip()).or_default();
        if *n >= MAX_PER_IP || self.writers.len() >= MAX_CONNECTIONS {
            if *n == 0 {
                per_ip.remove(&remote.ip());
            }
            return false;
        }
        *n += 1;
        self.writers.insert(remote, writer);
        true
    }

    /// Gives back the place of the connection from `remote`.
    pub(super) fn release(&self, remote: SocketAddr) {
        self.writers.remove(&remote);
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = per_ip.get_mut(&remote.ip()) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&remote.ip());
            }
        }
    }
}

/// Frames and writes what the rooms queued, a batch at a time.
pub(super) async fn write_loop(
    mut write: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::Receiver<Vec<u8>>,
) {
    let mut out = Vec::with_capacity(16 * 1024);
    while let Some(first) = rx.recv().await {
        out.clear();
        frame(&mut out, &first);
        while out.len() < 64 * 1024 {
            let Ok(more) = rx.try_recv() else { break };
            frame(&mut out, &more);
        }
        match tokio::time::timeout(WRITE_STALL, write.write_all(&out)).await {
            Ok(Ok(())) => {}
            // A failed or stalled write ends the connection: the reader sees it closed.
            _ => {
                let _ = write.shutdown().await;
                return;
            }
        }
    }
}

/// Appends one RFC 4571 frame: the length, then the datagram.
pub fn frame(out: &mut Vec<u8>, datagram: &[u8]) {
    debug_assert!(datagram.len() <= usize::from(u16::MAX));
    out.extend_from_slice(&(datagram.len() as u16).to_be_bytes());
    out.extend_from_slice(datagram);
}

/// Reads one RFC 4571 frame from `stream` (for tests and probes).
pub async fn read_frame(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await?;
    let mut data = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut data).await?;
    Ok(data)
}
