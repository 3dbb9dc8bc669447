//! The UDP side of the media plane: sockets on one port, a receive task per socket that
//! routes each datagram to its room with two hash lookups at most, and counters.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::demux::{Datagram, DatagramSink, Demux, Undelivered, Unrouted};
use super::forwarder::ForwardingTotals;
use crate::rtp::Transmit;
use crate::rtp::socket::{DatagramSocket, enlarge_recv_buffer};

/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;

/// Why the media plane could not start.
#[derive(Debug, thiserror::Error)]
pub enum UdpError {
    /// A socket could not be bound.
    #[error("cannot bind the media port on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Nothing to bind.
    #[error("no media address to bind (see --media-ip)")]
    NoAddress,
    /// A wildcard address cannot be advertised to clients.
    #[error(
        "--media-ip {0} receives on every address, so clients need --public-ip to know where to send"
    )]
    NeedPublicIp(IpAddr),
}

/// Datagram counters, shared by every receive task and room.
#[derive(Debug, Default)]
pub struct UdpCounters {
    /// Datagrams received.
    pub received: AtomicU64,
    /// Datagrams sent.
    pub sent: AtomicU64,
    /// Dropped: not STUN for a known peer and not from a known address (garbage, unknown
    /// usernames, RTP from unknown sources).
    pub dropped_unknown: AtomicU64,
    /// Dropped: from a known address over its budget while its room was behind (a flood
    /// from a peer's address; see [`super::demux`]).
    pub dropped_over_rate: AtomicU64,
    /// Dropped: the room's inbox was full (its task fell behind).
    pub dropped_busy: AtomicU64,
    /// Sends that failed (socket buffer full or unreachable).
    pub send_failed: AtomicU64,
}

impl UdpCounters {
    /// A plain copy of the counters.
    pub fn snapshot(&self) -> serde_json::Value {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        serde_json::json!({
            "received": g(&self.received),
            "sent": g(&self.sent),
            "dropped_unknown": g(&self.dropped_unknown),
            "dropped_over_rate": g(&self.dropped_over_rate),
            "dropped_busy": g(&self.dropped_busy),
            "send_failed": g(&self.send_failed),
        })
    }
}

/// One bound socket and the addresses it is known by.
#[derive(Debug)]
struct MediaSocket {
    socket: Arc<DatagramSocket>,
    /// Host candidates advertised for this socket.
    advertised: Vec<SocketAddr>,
}

/// Every media socket, the demux and the counters. `S` is where routed datagrams go
/// (the rooms' inboxes).
#[derive(Debug)]
pub struct MediaPlane<S> {
    sockets: Vec<MediaSocket>,
    /// Routes datagrams to their owners.
    pub demux: Demux<S>,
    /// Datagram counters.
    pub counters: UdpCounters,
    /// What the rooms' forwarders counted, summed.
    pub forwarding: ForwardingTotals,
    /// Receive slots per listener.
    pub slots: usize,
}

impl<S: DatagramSink> MediaPlane<S> {
    /// Binds `port` (0 for any) on each of `ips`. When `public` is empty each socket is
    /// advertised by its own address; otherwise the public addresses are advertised
    /// (for a server behind NAT) with the bound port.
    pub async fn bind(
        ips: &[IpAddr],
        port: u16,
        public: &[IpAddr],
        slots: usize,
    ) -> Result<Arc<Self>, UdpError> {
        if ips.is_empty() {
            return Err(UdpError::NoAddress);
        }
        if let Some(ip) = ips.iter().find(|ip| ip.is_unspecified()).filter(|_| public.is_empty()) {
            return Err(UdpError::NeedPublicIp(*ip));
        }
        let mut sockets = Vec::new();
        for ip in ips {
            let addr = SocketAddr::new(*ip, port);
            let socket =
                DatagramSocket::bind(addr).map_err(|source| UdpError::Bind { addr, source })?;
            let local = socket.local_addr().map_err(|source| UdpError::Bind { addr, source })?;
            match enlarge_recv_buffer(&socket) {
                Ok(size) => tracing::debug!(%local, size, "media socket receive buffer"),
                Err(e) => tracing::warn!(%local, error = %e, "cannot enlarge the receive buffer"),
            }
            let advertised = if public.is_empty() {
                vec![local]
            } else {
                public.iter().map(|p| SocketAddr::new(*p, local.port())).collect()
            };
            sockets.push(MediaSocket { socket: Arc::new(socket), advertised });
        }
        Ok(Arc::new(MediaPlane {
            sockets,
            demux: Demux::default(),
            counters: UdpCounters::default(),
            forwarding: ForwardingTotals::default(),
            slots,
        }))
    }

    /// The host candidates to put in SDP answers.
    pub fn candidates(&self) -> Vec<SocketAddr> {
        self.sockets.iter().flat_map(|s| s.advertised.iter().copied()).collect()
    }

    /// Starts one receive task per socket.
    pub fn spawn_receivers(self: &Arc<Self>) {
        for i in 0..self.sockets.len() {
            let plane = Arc::clone(self);
            tokio::spawn(async move { plane.receive_loop(i).await });
        }
    }

    /// Sends a datagram from the socket that owns its source (one of our candidates).
    pub fn send(&self, t: &Transmit) {
        let socket = self
            .sockets
            .iter()
            .find(|s| s.advertised.contains(&t.source))
            .or(self.sockets.first())
            .map(|s| &s.socket);
        let ok = socket.is_some_and(|s| s.try_send_to(&t.contents, t.destination).is_ok());
        let counter = if ok { &self.counters.sent } else { &self.counters.send_failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    async fn receive_loop(self: Arc<Self>, index: usize) {
        let MediaSocket { socket, advertised } = &self.sockets[index];
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let (n, source) = match socket.recv_from(&mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    // ICMP errors surface here on some systems; keep serving.
                    tracing::debug!(error = %e, "media socket receive error");
                    continue;
                }
            };
            self.counters.received.fetch_add(1, Ordering::Relaxed);
            let data = &buf[..n];
            let now = Instant::now();
            let route = match self.demux.route(source, data, now) {
                Ok(route) => route,
                Err(why) => {
                    let counter = match why {
                        Unrouted::Unknown => &self.counters.dropped_unknown,
                        Unrouted::OverRate => &self.counters.dropped_over_rate,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            // The candidate the datagram was addressed to: ours, of the sender's family.
            let destination = advertised
                .iter()
                .find(|a| a.is_ipv4() == source.is_ipv4())
                .copied()
                .unwrap_or(advertised[0]);
            let datagram = Datagram {
                participant: route.participant,
                peer: route.peer,
                source,
                destination,
                data: data.to_vec(),
                at: now,
            };
            let dropped = match route.sink.deliver(datagram) {
                Ok(()) => continue,
                Err(Undelivered::Busy) => &self.counters.dropped_busy,
                Err(Undelivered::Gone) => &self.counters.dropped_unknown,
            };
            dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The IPv4 addresses of this machine's interfaces (loopback included), for the default
/// media sockets.
pub fn local_ipv4s() -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|ifs| ifs.into_iter().map(|i| i.ip()).filter(|ip| ip.is_ipv4()).collect())
        .unwrap_or_default();
    ips.sort();
    ips.dedup();
    if ips.is_empty() {
        ips.push(IpAddr::from([127, 0, 0, 1]));
    }
    ips
}
