//! Routing of incoming datagrams to the room that owns the peer: by STUN username
//! fragment for the first packets, then by source address. Two hash lookups, no scan.
//!
//! Each known address also has a budget of datagrams ([`MAX_RATE`] a second, bursts of
//! [`BURST`]). A browser sends about 50 audio packets a second, a few RTCP and STUN; a
//! flood from a known address (a compromised client, or a forged source) would otherwise
//! fill its room's inbox, and the room's other participants would lose audio.

use std::net::SocketAddr;
use std::time::Instant;

use dashmap::DashMap;
use talkstick_signaling::ParticipantId;
use tokio::sync::mpsc;

use crate::room::RoomCmd;

/// Where a peer's datagrams go.
#[derive(Debug, Clone)]
pub struct Route {
    /// The room task's inbox.
    pub room: mpsc::Sender<RoomCmd>,
    /// The participant the peer belongs to.
    pub participant: ParticipantId,
    /// Which of that participant's peers (a reconnect makes a new one).
    pub peer: u64,
}

#[derive(Debug)]
struct Entry {
    route: Route,
    addrs: Vec<SocketAddr>,
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
    /// From a known address over its budget ([`MAX_RATE`], [`BURST`]).
    OverRate,
}

/// A known address's route and its budget of datagrams.
#[derive(Debug)]
struct AddrRoute {
    route: Route,
    /// Datagrams it may still send now.
    tokens: f32,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

impl AddrRoute {
    /// Spends one datagram of the budget at `now`; false when there is none left.
    fn spend(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f32();
        self.tokens = (self.tokens + elapsed * MAX_RATE).min(BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Routes shared by the UDP drivers (lookups) and the room tasks (registration).
#[derive(Debug, Default)]
pub struct Demux {
    by_ufrag: DashMap<String, Entry>,
    by_addr: DashMap<SocketAddr, AddrRoute>,
}

/// Most source addresses one peer may be reached from (ICE candidates it tries).
const MAX_ADDRS_PER_PEER: usize = 8;

impl Demux {
    /// Registers a peer by its local ICE username fragment.
    pub fn register(&self, ufrag: String, route: Route) {
        self.by_ufrag.insert(ufrag, Entry { route, addrs: Vec::new() });
    }

    /// Forgets a peer and every address learned for it.
    pub fn unregister(&self, ufrag: &str) {
        if let Some((_, entry)) = self.by_ufrag.remove(ufrag) {
            for addr in entry.addrs {
                self.by_addr.remove(&addr);
            }
        }
    }

    /// Finds the route for a datagram from `source` arriving at `now`, learning the
    /// address from a STUN request that names a registered username fragment.
    pub fn route(
        &self,
        source: SocketAddr,
        datagram: &[u8],
        now: Instant,
    ) -> Result<Route, Unrouted> {
        if let Some(mut r) = self.by_addr.get_mut(&source) {
            return if r.spend(now) { Ok(r.route.clone()) } else { Err(Unrouted::OverRate) };
        }
        let ufrag = stun_local_ufrag(datagram).ok_or(Unrouted::Unknown)?;
        let mut entry = self.by_ufrag.get_mut(ufrag).ok_or(Unrouted::Unknown)?;
        if entry.addrs.len() >= MAX_ADDRS_PER_PEER {
            return Ok(entry.route.clone());
        }
        entry.addrs.push(source);
        let route = entry.route.clone();
        // Insert while the ufrag entry is still locked, so an `unregister` in between
        // cannot leave a stale address behind (it never holds both maps at once).
        let mut learned = AddrRoute { route: route.clone(), tokens: BURST, at: now };
        learned.spend(now);
        self.by_addr.insert(source, learned);
        drop(entry);
        Ok(route)
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
        let (tx, _rx) = mpsc::channel(1);
        let route = Route { room: tx, participant: ParticipantId(3), peer: 1 };
        demux.register("frag1".into(), route);
        let src: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let now = Instant::now();
        let rtp = [0x80, 1, 2, 3];
        assert_eq!(demux.route(src, &rtp, now).unwrap_err(), Unrouted::Unknown, "unknown RTP");
        assert_eq!(demux.route(src, &stun("other:x"), now).unwrap_err(), Unrouted::Unknown);
        assert_eq!(demux.route(src, &stun("frag1:x"), now).unwrap().participant, ParticipantId(3));
        assert_eq!(demux.route(src, &rtp, now).unwrap().peer, 1, "then by address");
        demux.unregister("frag1");
        assert_eq!(demux.route(src, &rtp, now).unwrap_err(), Unrouted::Unknown);
        assert_eq!(demux.peers(), 0);
    }

    #[tokio::test]
    async fn a_known_address_gets_a_burst_then_its_rate() {
        let demux = Demux::default();
        let (tx, _rx) = mpsc::channel(1);
        demux.register("frag1".into(), Route { room: tx, participant: ParticipantId(3), peer: 1 });
        let src: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let other: SocketAddr = "127.0.0.1:4001".parse().unwrap();
        let t0 = Instant::now();
        let rtp = [0x80, 1, 2, 3];
        assert!(demux.route(src, &stun("frag1:x"), t0).is_ok());
        assert!(demux.route(other, &stun("frag1:x"), t0).is_ok());
        // The learning STUN request spent one of the burst.
        let passed = (0..1000).filter(|_| demux.route(src, &rtp, t0).is_ok()).count();
        assert_eq!(passed, BURST as usize - 1, "a burst, then nothing at the same instant");
        assert_eq!(demux.route(src, &rtp, t0).unwrap_err(), Unrouted::OverRate);
        // Another address of the same peer has a budget of its own.
        assert!(demux.route(other, &rtp, t0).is_ok());
        // A steady 50 packets a second (audio) always passes after the flood stops...
        let mut t = t0;
        for _ in 0..200 {
            t += std::time::Duration::from_millis(20);
            assert!(demux.route(src, &rtp, t).is_ok());
        }
        // ...and over one second a flood gets through about the rate plus the burst.
        let start = t;
        let mut passed = 0;
        for k in 1..=10_000u32 {
            let at = start + std::time::Duration::from_micros(100 * u64::from(k));
            passed += usize::from(demux.route(src, &rtp, at).is_ok());
        }
        let most = (MAX_RATE + BURST) as usize + 1;
        assert!(passed <= most && passed >= MAX_RATE as usize, "{passed} in a second");
    }
}
