//! Routing of incoming datagrams to the room that owns the peer: by STUN username
//! fragment for the first packets, then by source address. Two hash lookups, no scan.

use std::net::SocketAddr;

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

/// Routes shared by the UDP drivers (lookups) and the room tasks (registration).
#[derive(Debug, Default)]
pub struct Demux {
    by_ufrag: DashMap<String, Entry>,
    by_addr: DashMap<SocketAddr, Route>,
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

    /// Finds the route for a datagram from `source`, learning the address from a STUN
    /// request that names a registered username fragment.
    pub fn route(&self, source: SocketAddr, datagram: &[u8]) -> Option<Route> {
        if let Some(r) = self.by_addr.get(&source) {
            return Some(r.clone());
        }
        let ufrag = stun_local_ufrag(datagram)?;
        let mut entry = self.by_ufrag.get_mut(ufrag)?;
        if entry.addrs.len() >= MAX_ADDRS_PER_PEER {
            return Some(entry.route.clone());
        }
        entry.addrs.push(source);
        let route = entry.route.clone();
        // Insert while the ufrag entry is still locked, so an `unregister` in between
        // cannot leave a stale address behind (it never holds both maps at once).
        self.by_addr.insert(source, route.clone());
        drop(entry);
        Some(route)
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
        assert!(demux.route(src, &[0x80, 1, 2, 3]).is_none(), "unknown RTP is dropped");
        assert!(demux.route(src, &stun("other:x")).is_none(), "unknown ufrag is dropped");
        assert_eq!(demux.route(src, &stun("frag1:x")).unwrap().participant, ParticipantId(3));
        assert_eq!(demux.route(src, &[0x80, 1, 2, 3]).unwrap().peer, 1, "then by address");
        demux.unregister("frag1");
        assert!(demux.route(src, &[0x80, 1, 2, 3]).is_none());
        assert_eq!(demux.peers(), 0);
    }
}
