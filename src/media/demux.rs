//! Routing of incoming datagrams to the room that owns the peer: by source address, or,
//! for an address not learned, a STUN request by its username fragment. Two hash
//! lookups, no scan.
//!
//! An address is learned only once the peer's ICE agent has accepted a STUN request from
//! it (MESSAGE-INTEGRITY checked: the room calls [`Demux::learn`] when its peer answered
//! the request): a request naming a peer's username fragment is not proof of anything,
//! since the fragment travels in the clear. The first peer to prove an address keeps it;
//! a request for another peer from that address is routed by address, to its owner.
//!
//! Each known address also has a budget of datagrams ([`MAX_RATE`] a second, bursts of
//! [`BURST`]; a browser sends about 50 audio packets a second, a few RTCP and STUN). It is
//! enforced only while the room's inbox is more than half full: then a flood from one
//! known address (a compromised client, or a forged source) is what loses datagrams, not
//! the room's other participants. Enforcing it always would let a flood forged with a
//! participant's address starve that participant's own audio and consent checks, where
//! the forged datagrams alone fail authentication and do no harm but cost CPU.
//!
//! TCP connections (ICE over TCP, [`super::tcp`]) are routed the same way with their own
//! table of proved addresses: a connection's remote address is learned like a UDP
//! source once the peer accepted a request on it, and forgotten when it closes.
//!
//! The demux does not know rooms: a route names a [`DatagramSink`] the room registered
//! (its inbox), and a routed datagram is handed to it as a [`Datagram`].

use std::net::SocketAddr;
use std::time::Instant;

use dashmap::DashMap;
use talkstick_signaling::ParticipantId;

use crate::rtp::Protocol;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

/// A datagram routed to one participant's peer.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// UDP, or a frame from a TCP connection.
    pub proto: Protocol,
    /// Whose peer.
    pub participant: ParticipantId,
    /// Which of their peers (a reconnect makes a new one).
    pub peer: u64,
    /// Sender address.
    pub source: SocketAddr,
    /// Our candidate it was addressed to.
    pub destination: SocketAddr,
    /// The datagram.
    pub data: Vec<u8>,
    /// Arrival time.
    pub at: Instant,
}

/// Why a sink did not take a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undelivered {
    /// Its queue is full: the owner fell behind.
    Busy,
    /// Its owner is gone.
    Gone,
}

/// Where routed datagrams go: the inbox of whoever owns the peer (a room's task). Never
/// blocks; a full inbox refuses.
pub trait DatagramSink: Clone + Send + Sync + std::fmt::Debug + 'static {
    /// Queues `datagram`, or says why not.
    fn deliver(&self, datagram: Datagram) -> Result<(), Undelivered>;
    /// Whether the owner has fallen behind: its queue more than half full. Then known
    /// addresses are held to their budget.
    fn is_behind(&self) -> bool;
}

/// A plain channel of datagrams is a sink.
impl DatagramSink for mpsc::Sender<Datagram> {
    fn deliver(&self, datagram: Datagram) -> Result<(), Undelivered> {
        self.try_send(datagram).map_err(|e| match e {
            TrySendError::Full(_) => Undelivered::Busy,
            TrySendError::Closed(_) => Undelivered::Gone,
        })
    }

    fn is_behind(&self) -> bool {
        self.capacity() < self.max_capacity() / 2
    }
}

/// Where a peer's datagrams go.
#[derive(Debug, Clone)]
pub struct Route<S> {
    /// The owner's inbox.
    pub sink: S,
    /// The participant the peer belongs to.
    pub participant: ParticipantId,
    /// Which of that participant's peers (a reconnect makes a new one).
    pub peer: u64,
}

#[derive(Debug)]
struct Entry<S> {
    route: Route<S>,
    /// Addresses learned for the peer, each with the protocol it was proved over.
    addrs: Vec<(Protocol, SocketAddr)>,
}

/// Datagrams a second one known address may send on average (audio is about 50).
pub const MAX_RATE: f32 = 250.0;
/// Datagrams one known address may send at once (a DTLS flight, RTCP with audio).
pub const BURST: f32 = 100.0;

/// Why a datagram was not routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrouted {
    /// Not STUN for a registered peer and not from a known address.
    Unknown,
    /// From a known address over its budget ([`MAX_RATE`], [`BURST`]) while its room's
    /// inbox is more than half full; or a STUN request from an address not learned, at
    /// such a time.
    OverRate,
}

/// A known address's route and its budget of datagrams.
#[derive(Debug)]
struct AddrRoute<S> {
    route: Route<S>,
    /// The peer's username fragment, to forget the address when its connection closes.
    ufrag: String,
    /// Datagrams it may still send now.
    tokens: f32,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

impl<S> AddrRoute<S> {
    /// Spends one datagram of the budget at `now`; false when there is none left.
    fn spend(&mut self, now: Instant) -> bool {
        // Receive tasks of several sockets may come with their clocks slightly out of
        // order: time only ever moves the budget forward.
        if now > self.at {
            let elapsed = (now - self.at).as_secs_f32();
            self.tokens = (self.tokens + elapsed * MAX_RATE).min(BURST);
            self.at = now;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Routes shared by the UDP drivers (lookups) and the room tasks (registration).
#[derive(Debug)]
pub struct Demux<S> {
    by_ufrag: DashMap<String, Entry<S>>,
    /// UDP source addresses proved.
    by_addr: DashMap<SocketAddr, AddrRoute<S>>,
    /// Remote addresses of TCP connections proved.
    by_tcp: DashMap<SocketAddr, AddrRoute<S>>,
}

impl<S> Default for Demux<S> {
    fn default() -> Self {
        Demux { by_ufrag: DashMap::new(), by_addr: DashMap::new(), by_tcp: DashMap::new() }
    }
}

/// Most source addresses one peer may be reached from (ICE candidates it tries).
pub const MAX_ADDRS_PER_PEER: usize = 8;

impl<S: DatagramSink> Demux<S> {
    /// The table of proved addresses for `proto`.
    fn proved(&self, proto: Protocol) -> &DashMap<SocketAddr, AddrRoute<S>> {
        match proto {
            Protocol::Tcp => &self.by_tcp,
            _ => &self.by_addr,
        }
    }

    /// Registers a peer by its local ICE username fragment. Registering a fragment again
    /// replaces the peer and forgets the addresses learned for the one before.
    pub fn register(&self, ufrag: String, route: Route<S>) {
        if let Some(old) = self.by_ufrag.insert(ufrag, Entry { route, addrs: Vec::new() }) {
            for (proto, addr) in old.addrs {
                self.proved(proto).remove(&addr);
            }
        }
    }

    /// Forgets a peer and every address learned for it.
    pub fn unregister(&self, ufrag: &str) {
        if let Some((_, entry)) = self.by_ufrag.remove(ufrag) {
            for (proto, addr) in entry.addrs {
                self.proved(proto).remove(&addr);
            }
        }
    }

    /// Forgets the address of a TCP connection that closed: a later connection from the
    /// same address and port proves itself again.
    pub fn forget_tcp(&self, remote: SocketAddr) {
        if let Some((_, r)) = self.by_tcp.remove(&remote)
            && let Some(mut entry) = self.by_ufrag.get_mut(&r.ufrag)
        {
            entry.addrs.retain(|a| *a != (Protocol::Tcp, remote));
        }
    }

    /// Finds the route for a datagram from `source` over `proto` arriving at `now`: by
    /// the address, once proved, or a STUN request by the username fragment it names.
    pub fn route(
        &self,
        proto: Protocol,
        source: SocketAddr,
        datagram: &[u8],
        now: Instant,
    ) -> Result<Route<S>, Unrouted> {
        if let Some(mut r) = self.proved(proto).get_mut(&source) {
            // The budget is kept all the time, so a flood has spent it by the time the room
            // falls behind.
            let within = r.spend(now);
            return if within || !r.route.sink.is_behind() {
                Ok(r.route.clone())
            } else {
                Err(Unrouted::OverRate)
            };
        }
        let ufrag = stun_local_ufrag(datagram).ok_or(Unrouted::Unknown)?;
        let entry = self.by_ufrag.get(ufrag).ok_or(Unrouted::Unknown)?;
        // Not learned, so without a budget: requests from addresses nobody has proved get
        // nothing while the room is behind.
        if entry.route.sink.is_behind() { Err(Unrouted::OverRate) } else { Ok(entry.route.clone()) }
    }

    /// Learns `source` (over `proto`) for the peer registered as `ufrag`, whose ICE agent
    /// has just accepted a request from it. An address another peer already proved stays
    /// theirs, and a peer learns at most [`MAX_ADDRS_PER_PEER`]. Returns whether it was
    /// learned.
    pub fn learn(&self, ufrag: &str, proto: Protocol, source: SocketAddr, now: Instant) -> bool {
        let Some(mut entry) = self.by_ufrag.get_mut(ufrag) else { return false };
        if entry.addrs.contains(&(proto, source)) {
            return true;
        }
        if entry.addrs.len() >= MAX_ADDRS_PER_PEER {
            return false;
        }
        // Inserted while the ufrag entry is locked, so an `unregister` in between cannot
        // leave a stale address behind (it never holds both maps at once).
        let route = entry.route.clone();
        let learned = match self.proved(proto).entry(source) {
            dashmap::Entry::Occupied(_) => false,
            dashmap::Entry::Vacant(v) => {
                v.insert(AddrRoute { route, ufrag: ufrag.to_owned(), tokens: BURST, at: now });
                true
            }
        };
        if learned {
            entry.addrs.push((proto, source));
        }
        learned
    }

    /// Peers registered.
    pub fn peers(&self) -> usize {
        self.by_ufrag.len()
    }
}

/// The local (first) part of a STUN binding request's USERNAME (`local:remote`), if the
/// datagram is one.
pub fn stun_local_ufrag(d: &[u8]) -> Option<&str> {
    const MAGIC: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
    const USERNAME: u16 = 0x0006;
    if d.len() < 20 || d[0] & 0xC0 != 0 || d[4..8] != MAGIC {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
    let body = d.get(20..20 + len)?;
    let mut i = 0;
    while i + 4 <= body.len() {
        let kind = u16::from_be_bytes([body[i], body[i + 1]]);
        let alen = usize::from(u16::from_be_bytes([body[i + 2], body[i + 3]]));
        let value = body.get(i + 4..i + 4 + alen)?;
        if kind == USERNAME {
            let user = std::str::from_utf8(value).ok()?;
            return user.split(':').next().filter(|u| !u.is_empty());
        }
        i += 4 + alen.div_ceil(4) * 4;
    }
    None
}

/// A minimal STUN binding request naming `username` (no integrity): what the demux
/// reads. For probes and tests of the media port.
pub fn binding_request(username: &str) -> Vec<u8> {
    let mut attr = vec![0x00, 0x06];
    attr.extend((username.len() as u16).to_be_bytes());
    attr.extend(username.as_bytes());
    attr.resize(attr.len().div_ceil(4) * 4, 0);
    let mut d = vec![0x00, 0x01];
    d.extend((attr.len() as u16).to_be_bytes());
    d.extend([0x21, 0x12, 0xA4, 0x42]);
    d.extend([7u8; 12]);
    d.extend(attr);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    const UDP: Protocol = Protocol::Udp;

    fn stun(username: &str) -> Vec<u8> {
        binding_request(username)
    }

    #[test]
    fn finds_the_local_ufrag() {
        assert_eq!(stun_local_ufrag(&stun("srvfrag:clientfrag")), Some("srvfrag"));
        assert_eq!(stun_local_ufrag(&[0x80, 0, 0, 0]), None, "RTP is not STUN");
        assert_eq!(stun_local_ufrag(&[0u8; 19]), None);
        let mut truncated = stun("abc:def");
        truncated.truncate(26);
        assert_eq!(stun_local_ufrag(&truncated), None);
        assert_eq!(stun_local_ufrag(&stun(":x")), None);
    }

    #[tokio::test]
    async fn routes_by_ufrag_then_address_and_forgets() {
        let demux = Demux::default();
        let (tx, _rx) = mpsc::channel::<Datagram>(1);
        let route = Route { sink: tx, participant: ParticipantId(3), peer: 1 };
        demux.register("frag1".into(), route);
        let src: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let now = Instant::now();
        let rtp = [0x80, 1, 2, 3];
        assert_eq!(demux.route(UDP, src, &rtp, now).unwrap_err(), Unrouted::Unknown, "unknown RTP");
        assert_eq!(demux.route(UDP, src, &stun("other:x"), now).unwrap_err(), Unrouted::Unknown);
        assert_eq!(
            demux.route(UDP, src, &stun("frag1:x"), now).unwrap().participant,
            ParticipantId(3)
        );
        // A request naming the peer teaches nothing: its integrity is the peer's to check.
        assert_eq!(demux.route(UDP, src, &rtp, now).unwrap_err(), Unrouted::Unknown, "not proved");
        assert!(demux.learn("frag1", UDP, src, now), "the peer accepted a request from it");
        assert_eq!(demux.route(UDP, src, &rtp, now).unwrap().peer, 1, "then by address");
        demux.unregister("frag1");
        assert_eq!(demux.route(UDP, src, &rtp, now).unwrap_err(), Unrouted::Unknown);
        assert_eq!(demux.peers(), 0);
    }

    /// An address one peer proved stays theirs: another peer's request from it is routed
    /// to its owner, and another peer's proof does not take it over.
    #[tokio::test]
    async fn the_first_peer_to_prove_an_address_keeps_it() {
        let demux = Demux::default();
        let (tx, _rx) = mpsc::channel::<Datagram>(4);
        for (frag, id) in [("victim", 1), ("attacker", 2)] {
            let route = Route { sink: tx.clone(), participant: ParticipantId(id), peer: 1 };
            demux.register(frag.into(), route);
        }
        let addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let now = Instant::now();
        assert!(demux.learn("victim", UDP, addr, now));
        let to = |d: &[u8]| demux.route(UDP, addr, d, now).unwrap().participant;
        assert_eq!(to(&stun("attacker:x")), ParticipantId(1), "routed by address");
        assert!(!demux.learn("attacker", UDP, addr, now), "not taken over");
        assert_eq!(to(&[0x80, 1, 2, 3]), ParticipantId(1));
        // Proving it again changes nothing; a peer learns at most MAX_ADDRS_PER_PEER.
        assert!(demux.learn("victim", UDP, addr, now));
        for port in 5001..5001 + MAX_ADDRS_PER_PEER as u16 {
            let more = SocketAddr::new(addr.ip(), port);
            assert_eq!(
                demux.learn("victim", UDP, more, now),
                port < 5000 + MAX_ADDRS_PER_PEER as u16
            );
        }
    }

    /// A fragment registered again starts with no addresses: none of the old peer's
    /// stays routed to anyone.
    #[tokio::test]
    async fn registering_a_fragment_again_forgets_its_addresses() {
        let demux = Demux::default();
        let (tx, _rx) = mpsc::channel::<Datagram>(4);
        let route = |id| Route { sink: tx.clone(), participant: ParticipantId(id), peer: 1 };
        demux.register("frag".into(), route(1));
        let addr: SocketAddr = "127.0.0.1:6000".parse().unwrap();
        let now = Instant::now();
        assert!(demux.learn("frag", UDP, addr, now));
        demux.register("frag".into(), route(2));
        assert_eq!(demux.route(UDP, addr, &[0x80, 1, 2, 3], now).unwrap_err(), Unrouted::Unknown);
        demux.unregister("frag");
        assert_eq!(demux.peers(), 0);
    }

    /// A TCP connection's address is a table of its own: proving it says nothing about the
    /// same address over UDP, and once the connection closed it must be proved again.
    #[tokio::test]
    async fn tcp_addresses_are_proved_apart_and_forgotten_when_the_connection_closes() {
        let demux = Demux::default();
        let (tx, _rx) = mpsc::channel::<Datagram>(4);
        let route = |id| Route { sink: tx.clone(), participant: ParticipantId(id), peer: 1 };
        demux.register("frag".into(), route(1));
        let addr: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        let (now, rtp) = (Instant::now(), [0x80, 1, 2, 3]);
        assert!(demux.learn("frag", Protocol::Tcp, addr, now));
        assert_eq!(
            demux.route(Protocol::Tcp, addr, &rtp, now).unwrap().participant,
            ParticipantId(1)
        );
        assert_eq!(
            demux.route(UDP, addr, &rtp, now).unwrap_err(),
            Unrouted::Unknown,
            "not over UDP"
        );
        demux.forget_tcp(addr);
        assert_eq!(demux.route(Protocol::Tcp, addr, &rtp, now).unwrap_err(), Unrouted::Unknown);
        // A new connection from the same address and port belongs to whoever proves it.
        demux.register("other".into(), route(2));
        assert!(demux.learn("other", Protocol::Tcp, addr, now));
        assert_eq!(
            demux.route(Protocol::Tcp, addr, &rtp, now).unwrap().participant,
            ParticipantId(2)
        );
        // The first peer forgetting its old addresses does not take it from the second.
        demux.unregister("frag");
        assert!(demux.route(Protocol::Tcp, addr, &rtp, now).is_ok());
        demux.unregister("other");
        assert_eq!(demux.route(Protocol::Tcp, addr, &rtp, now).unwrap_err(), Unrouted::Unknown);
    }

    /// A datagram for the room's inbox, to fill it.
    fn filler() -> Datagram {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        Datagram {
            proto: UDP,
            participant: ParticipantId(9),
            peer: 1,
            source: addr,
            destination: addr,
            data: Vec::new(),
            at: Instant::now(),
        }
    }

    #[tokio::test]
    async fn over_its_budget_a_known_address_loses_only_while_the_room_is_behind() {
        let demux = Demux::default();
        let (tx, mut rx) = mpsc::channel::<Datagram>(8);
        let route = Route { sink: tx.clone(), participant: ParticipantId(3), peer: 1 };
        demux.register("frag1".into(), route);
        let src: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let other: SocketAddr = "127.0.0.1:4001".parse().unwrap();
        let t0 = Instant::now();
        let rtp = [0x80, 1, 2, 3];
        assert!(demux.learn("frag1", UDP, src, t0) && demux.learn("frag1", UDP, other, t0));
        // A flood while the room keeps up: nothing is refused, the budget runs out.
        assert!((0..1000).all(|_| demux.route(UDP, src, &rtp, t0).is_ok()));
        // The room falls behind (inbox more than half full): now the flood is cut...
        for _ in 0..5 {
            tx.try_send(filler()).unwrap();
        }
        assert_eq!(demux.route(UDP, src, &rtp, t0).unwrap_err(), Unrouted::OverRate);
        // ...but not another address of the same peer, which has a budget of its own.
        assert!(demux.route(UDP, other, &rtp, t0).is_ok());
        // Requests from addresses nobody has proved get nothing while the room is behind.
        let ninth: SocketAddr = "127.0.0.1:4100".parse().unwrap();
        assert_eq!(demux.route(UDP, ninth, &stun("frag1:x"), t0).unwrap_err(), Unrouted::OverRate);
        // Audio's steady 50 packets a second refill the budget faster than they spend it.
        let mut t = t0;
        for _ in 0..200 {
            t += std::time::Duration::from_millis(20);
            assert!(demux.route(UDP, src, &rtp, t).is_ok());
        }
        // Over one second of flood, about the rate plus the burst gets through.
        let start = t;
        let mut passed = 0;
        for k in 1..=10_000u32 {
            let at = start + std::time::Duration::from_micros(100 * u64::from(k));
            passed += usize::from(demux.route(UDP, src, &rtp, at).is_ok());
        }
        let most = (MAX_RATE + BURST) as usize + 1;
        assert!(passed <= most && passed >= MAX_RATE as usize, "{passed} in a second");
        // A clock read out of order does not add to the budget.
        assert_eq!(demux.route(UDP, src, &rtp, start).unwrap_err(), Unrouted::OverRate);
        // Once the room has caught up, the address is served again.
        while rx.try_recv().is_ok() {}
        assert!(demux.route(UDP, src, &rtp, start).is_ok());
        assert!(demux.route(UDP, ninth, &stun("frag1:x"), t0).is_ok());
    }
}
