//! The media plane's network side: UDP sockets on one port, a receive task per socket
//! that routes each datagram to its room with two hash lookups at most, the TCP
//! listeners of ICE over TCP ([`super::tcp`]), the candidates answers advertise, and
//! counters.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::demux::{Datagram, DatagramSink, Demux, Undelivered, Unrouted};
use super::forwarder::{ForwardingTotals, PeerTotals};
use super::peer::HostCandidate;
use super::tcp::{self, TcpConnections};
use crate::rtp::socket::{DatagramSocket, enlarge_recv_buffer};
use crate::rtp::{Protocol, Transmit};

/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;

/// Why the media plane could not start.
#[derive(Debug, thiserror::Error)]
pub enum PlaneError {
    /// A socket could not be bound.
    #[error("cannot bind the UDP media port on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Nothing to bind.
    #[error("no media address to bind (see --media-ip)")]
    NoAddress,
    /// A TCP listener could not be bound.
    #[error(
        "cannot listen for media over TCP on {addr}: {source} (see --tcp-port, --ice-transports)"
    )]
    BindTcp {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Neither transport is on.
    #[error("--ice-transports names neither udp nor tcp")]
    NoTransport,
    /// A wildcard address cannot be advertised to clients.
    #[error(
        "--media-ip {0} receives on every address, so clients need --public-ip to know where to send"
    )]
    NeedPublicIp(IpAddr),
}

/// Where and how the media plane listens.
#[derive(Debug, Clone)]
pub struct MediaOptions {
    /// Local addresses (a UDP socket and a TCP listener on each).
    pub ips: Vec<IpAddr>,
    /// UDP port (0 for any).
    pub udp_port: u16,
    /// TCP port; `None`: the UDP port's number (with UDP port 0, any free port too).
    pub tcp_port: Option<u16>,
    /// Addresses clients reach the server at, when they differ from the local ones.
    pub public: Vec<IpAddr>,
    /// Advertise UDP candidates.
    pub udp: bool,
    /// Listen on TCP and advertise passive TCP candidates.
    pub tcp: bool,
    /// Receive slots per listener.
    pub slots: usize,
}

impl MediaOptions {
    /// Both transports on `ips`, any free UDP and TCP ports, three slots: what tests and tools start with.
    pub fn new(ips: Vec<IpAddr>) -> Self {
        MediaOptions {
            ips,
            udp_port: 0,
            tcp_port: None,
            public: Vec::new(),
            udp: true,
            tcp: true,
            slots: 3,
        }
    }
}

/// Datagram counters, shared by every receive task and room. TCP frames count as
/// datagrams.
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
    /// Sends that failed (socket buffer full or unreachable, a TCP connection gone or not
    /// reading).
    pub send_failed: AtomicU64,
    /// TCP media connections accepted.
    pub tcp_accepted: AtomicU64,
    /// TCP media connections refused at once (over [`super::tcp::MAX_CONNECTIONS`] or
    /// [`super::tcp::MAX_PER_IP`]).
    pub tcp_refused: AtomicU64,
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
            "tcp_accepted": g(&self.tcp_accepted),
            "tcp_refused": g(&self.tcp_refused),
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

/// A TCP listener until its accept task takes it, and the addresses it is known by.
#[derive(Debug)]
struct MediaListener {
    listener: std::sync::Mutex<Option<tokio::net::TcpListener>>,
    advertised: Vec<SocketAddr>,
}

/// Every media socket and listener, the demux and the counters. `S` is where routed
/// datagrams go (the rooms' inboxes).
#[derive(Debug)]
pub struct MediaPlane<S> {
    sockets: Vec<MediaSocket>,
    listeners: Vec<MediaListener>,
    /// Advertise the UDP sockets.
    udp: bool,
    /// The live TCP media connections.
    pub tcp: TcpConnections,
    /// The TURN relays' addresses, once resolved ([`MediaPlane::set_relays`]).
    relays: std::sync::OnceLock<Vec<IpAddr>>,
    /// Routes datagrams to their owners.
    pub demux: Demux<S>,
    /// Datagram counters.
    pub counters: UdpCounters,
    /// What the rooms' forwarders counted, summed.
    pub forwarding: ForwardingTotals,
    /// The rooms' peers by state and transport, summed.
    pub peer_states: PeerTotals,
    /// Receive slots per listener.
    pub slots: usize,
}

impl<S: DatagramSink> MediaPlane<S> {
    /// Binds a UDP socket on each address, and a TCP listener when TCP is on. When
    /// `public` is empty each is advertised by its own address; otherwise the public
    /// addresses are advertised (for a server behind NAT) with the bound port.
    pub async fn bind(o: &MediaOptions) -> Result<Arc<Self>, PlaneError> {
        if o.ips.is_empty() {
            return Err(PlaneError::NoAddress);
        }
        if !o.udp && !o.tcp {
            return Err(PlaneError::NoTransport);
        }
        let unspecified = o.ips.iter().find(|ip| ip.is_unspecified());
        if let Some(ip) = unspecified.filter(|_| o.public.is_empty()) {
            return Err(PlaneError::NeedPublicIp(*ip));
        }
        let advertise = |local: SocketAddr| -> Vec<SocketAddr> {
            if o.public.is_empty() {
                vec![local]
            } else {
                o.public.iter().map(|p| SocketAddr::new(*p, local.port())).collect()
            }
        };
        let (mut sockets, mut listeners) = (Vec::new(), Vec::new());
        for ip in &o.ips {
            let addr = SocketAddr::new(*ip, o.udp_port);
            let socket =
                DatagramSocket::bind(addr).map_err(|source| PlaneError::Bind { addr, source })?;
            let local = socket.local_addr().map_err(|source| PlaneError::Bind { addr, source })?;
            match enlarge_recv_buffer(&socket) {
                Ok(size) => tracing::debug!(%local, size, "media socket receive buffer"),
                Err(e) => tracing::warn!(%local, error = %e, "cannot enlarge the receive buffer"),
            }
            sockets.push(MediaSocket { socket: Arc::new(socket), advertised: advertise(local) });
            if o.tcp {
                let addr = SocketAddr::new(*ip, o.tcp_port.unwrap_or(o.udp_port));
                let bound = tokio::net::TcpListener::bind(addr)
                    .await
                    .and_then(|l| l.local_addr().map(|local| (l, local)));
                let (listener, local) =
                    bound.map_err(|source| PlaneError::BindTcp { addr, source })?;
                let listener = std::sync::Mutex::new(Some(listener));
                listeners.push(MediaListener { listener, advertised: advertise(local) });
            }
        }
        Ok(Arc::new(MediaPlane {
            sockets,
            listeners,
            udp: o.udp,
            tcp: TcpConnections::default(),
            relays: std::sync::OnceLock::new(),
            demux: Demux::default(),
            counters: UdpCounters::default(),
            forwarding: ForwardingTotals::default(),
            peer_states: PeerTotals::default(),
            slots: o.slots,
        }))
    }

    /// Names the TURN relays' addresses, for counting relayed peers (once, before rooms
    /// start; later calls change nothing).
    pub fn set_relays(&self, relays: Vec<IpAddr>) {
        let _ = self.relays.set(relays);
    }

    /// The TURN relays' addresses.
    pub fn relays(&self) -> Vec<IpAddr> {
        self.relays.get().cloned().unwrap_or_default()
    }

    /// The host candidates to put in SDP answers: UDP first (browsers prefer UDP host
    /// candidates anyway), then passive TCP.
    pub fn candidates(&self) -> Vec<HostCandidate> {
        let udp = self.sockets.iter().filter(|_| self.udp).flat_map(|s| &s.advertised);
        let tcp = self.listeners.iter().flat_map(|l| &l.advertised);
        udp.map(|a| HostCandidate::udp(*a)).chain(tcp.map(|a| HostCandidate::tcp(*a))).collect()
    }

    /// Starts one receive task per socket and one accept task per TCP listener.
    pub fn spawn_receivers(self: &Arc<Self>) {
        for i in 0..self.sockets.len() {
            let plane = Arc::clone(self);
            tokio::spawn(async move { plane.receive_loop(i).await });
        }
        for l in &self.listeners {
            let taken = l.listener.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(listener) = taken {
                let plane = Arc::clone(self);
                let advertised = l.advertised.clone();
                tokio::spawn(Self::accept_loop(plane, listener, advertised));
            }
        }
    }

    /// Sends a datagram from the socket that owns its source (one of our candidates), or
    /// on the TCP connection it is addressed to.
    pub fn send(&self, t: &Transmit) {
        if t.proto == Protocol::Tcp {
            let ok = self.tcp.send(t.destination, t.contents.clone());
            let counter = if ok { &self.counters.sent } else { &self.counters.send_failed };
            counter.fetch_add(1, Ordering::Relaxed);
            return;
        }
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
            let route = match self.demux.route(Protocol::Udp, source, data, now) {
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
                proto: Protocol::Udp,
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

/// ICE over TCP ([`super::tcp`]): accepting connections and routing their frames as
/// datagrams are routed.
impl<S: DatagramSink> MediaPlane<S> {
    /// Accepts connections on `listener` for ever; `advertised` are the addresses it is
    /// known by (a frame's destination, as str0m knows the candidate).
    async fn accept_loop(plane: Arc<Self>, listener: TcpListener, advertised: Vec<SocketAddr>) {
        loop {
            let (stream, remote) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken.
                    tracing::debug!(error = %e, "media TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let local = advertised
                .iter()
                .find(|a| a.is_ipv4() == remote.is_ipv4())
                .copied()
                .unwrap_or(advertised[0]);
            let (tx, rx) = mpsc::channel(tcp::QUEUE);
            if !plane.tcp.admit(remote, tx) {
                plane.counters.tcp_refused.fetch_add(1, Ordering::Relaxed);
                continue; // dropped: closed at once
            }
            plane.counters.tcp_accepted.fetch_add(1, Ordering::Relaxed);
            let _ = stream.set_nodelay(true);
            let plane = Arc::clone(&plane);
            tokio::spawn(async move {
                let (read, write) = stream.into_split();
                let mut writer = tokio::spawn(tcp::write_loop(write, rx));
                // Whichever half ends first ends the connection.
                let closed = tokio::select! {
                    closed = plane.tcp_read_loop(read, remote, local) => closed,
                    _ = &mut writer => tcp::Closed::Gone,
                };
                tracing::debug!(%remote, ?closed, "media TCP connection closed");
                plane.tcp.release(remote);
                plane.demux.forget_tcp(remote);
                writer.abort();
            });
        }
    }

    /// Reads frames until the connection ends, routing each.
    async fn tcp_read_loop(
        &self,
        mut read: tokio::net::tcp::OwnedReadHalf,
        remote: SocketAddr,
        local: SocketAddr,
    ) -> tcp::Closed {
        use tcp::Closed;
        let plane = self;
        let mut buf = vec![0u8; tcp::MAX_FRAME];
        let mut wait = tcp::FIRST_FRAME;
        loop {
            let mut len = [0u8; 2];
            match tokio::time::timeout(wait, read.read_exact(&mut len)).await {
                Err(_) => return Closed::Silent,
                Ok(Err(_)) => return Closed::Gone,
                Ok(Ok(_)) => {}
            }
            let n = usize::from(u16::from_be_bytes(len));
            if n == 0 || n > tcp::MAX_FRAME {
                plane.counters.dropped_unknown.fetch_add(1, Ordering::Relaxed);
                return Closed::BadFrame;
            }
            // The rest of a frame follows at once: a sender that stops mid-frame is silent.
            match tokio::time::timeout(tcp::IDLE, read.read_exact(&mut buf[..n])).await {
                Err(_) => return Closed::Silent,
                Ok(Err(_)) => return Closed::Gone,
                Ok(Ok(_)) => {}
            }
            wait = tcp::IDLE;
            plane.counters.received.fetch_add(1, Ordering::Relaxed);
            let data = &buf[..n];
            let now = Instant::now();
            let route = match plane.demux.route(Protocol::Tcp, remote, data, now) {
                Ok(route) => route,
                Err(Unrouted::OverRate) => {
                    plane.counters.dropped_over_rate.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Err(Unrouted::Unknown) => {
                    plane.counters.dropped_unknown.fetch_add(1, Ordering::Relaxed);
                    return Closed::Refused;
                }
            };
            let datagram = Datagram {
                proto: Protocol::Tcp,
                participant: route.participant,
                peer: route.peer,
                source: remote,
                destination: local,
                data: data.to_vec(),
                at: now,
            };
            match route.sink.deliver(datagram) {
                Ok(()) => {}
                Err(Undelivered::Busy) => {
                    plane.counters.dropped_busy.fetch_add(1, Ordering::Relaxed);
                }
                // The peer's room has gone: nothing on this connection can route again.
                Err(Undelivered::Gone) => {
                    plane.counters.dropped_unknown.fetch_add(1, Ordering::Relaxed);
                    return Closed::Refused;
                }
            }
        }
    }
}
