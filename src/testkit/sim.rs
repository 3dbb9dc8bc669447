//! A room of native clients wired to a [`Forwarder`] in memory, on simulated time: no
//! sockets, no clock. Datagrams are handed across directly, so ICE, DTLS and SRTP run for
//! real and deterministically. Used by the forwarder's benchmark and lifecycle tests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use talkstick_signaling::ParticipantId;

use crate::client::rtc::ClientRtc;
use crate::media::peer::HostCandidate;
use crate::media::{Datagram, Forwarder, MediaEvent};
use crate::rtp::{Audio, Protocol, Received, RtcEvent, Transmit};

/// The server's (pretend) address.
pub const SERVER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 50_000);

/// One simulated participant.
pub struct SimClient {
    /// Their id.
    pub id: ParticipantId,
    /// Their peer.
    pub rtc: ClientRtc,
    /// Their (pretend) address.
    pub addr: SocketAddr,
    /// The forwarder's generation for their peer.
    pub generation: u64,
    /// Deliver their datagrams to the server (false simulates a vanished client).
    pub online: bool,
    /// Audio they received.
    pub received: Vec<Audio>,
}

/// A forwarder and its clients.
pub struct SimRoom {
    /// The server side.
    pub forwarder: Forwarder,
    /// The clients.
    pub clients: Vec<SimClient>,
    /// Simulated now.
    pub now: Instant,
    /// Forwarder events, in order.
    pub events: Vec<MediaEvent>,
    /// Datagrams sent by the server so far.
    pub server_datagrams: u64,
    /// How long after arriving the clients read the server's datagrams (as the load
    /// generator reads a connected member's socket every few ticks).
    pub read_lag: Duration,
}

impl SimRoom {
    /// `n` clients with `slots` receive slots each, all gates open, connected.
    pub fn connected(n: usize, slots: usize) -> SimRoom {
        let now = Instant::now();
        let mut room = SimRoom {
            forwarder: Forwarder::new(vec![HostCandidate::udp(SERVER)], slots),
            clients: Vec::new(),
            now,
            events: Vec::new(),
            server_datagrams: 0,
            read_lag: Duration::ZERO,
        };
        for i in 0..n {
            room.add_client(ParticipantId(i as u32 + 1), slots);
        }
        room.run_until(Duration::from_secs(5), |r| r.clients.iter().all(|c| c.rtc.is_connected()));
        room
    }

    /// Adds a client, negotiates, opens its gate.
    pub fn add_client(&mut self, id: ParticipantId, slots: usize) {
        let addr = SocketAddr::new(SERVER.ip(), 40_000 + id.0 as u16);
        let (mut rtc, offer) = ClientRtc::offer(self.now, addr, slots).expect("client offer");
        let acc = self.forwarder.add_peer(self.now, id, &offer).expect("server accepts");
        let mut out = Vec::new();
        rtc.accept_answer(&acc.answer, &mut out).expect("client accepts");
        self.forwarder.set_gate(id, true);
        self.clients.push(SimClient {
            id,
            rtc,
            addr,
            generation: acc.generation,
            online: true,
            received: Vec::new(),
        });
        self.client_outputs(self.clients.len() - 1, out);
    }

    /// Client `i` comes back with a fresh peer (same participant): a new offer replaces
    /// the old peer. Returns the ufrag the forwarder reported as replaced.
    pub fn reconnect(&mut self, i: usize, slots: usize) -> Option<String> {
        let id = self.clients[i].id;
        let addr = SocketAddr::new(SERVER.ip(), self.clients[i].addr.port() + 1_000);
        let (mut rtc, offer) = ClientRtc::offer(self.now, addr, slots).expect("client offer");
        let acc = self.forwarder.add_peer(self.now, id, &offer).expect("server accepts");
        let mut out = Vec::new();
        rtc.accept_answer(&acc.answer, &mut out).expect("client accepts");
        let c = &mut self.clients[i];
        (c.rtc, c.addr, c.generation, c.online) = (rtc, addr, acc.generation, true);
        c.received.clear();
        self.client_outputs(i, out);
        acc.replaced
    }

    /// Advances simulated time in 10 ms steps until `done` or `limit`; true if done.
    pub fn run_until(&mut self, limit: Duration, done: impl Fn(&SimRoom) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            self.step(Duration::from_millis(10));
        }
        done(self)
    }

    /// Advances time by `d`, running every timeout due.
    pub fn step(&mut self, d: Duration) {
        self.now += d;
        let now = self.now;
        for i in 0..self.clients.len() {
            let mut out = Vec::new();
            if self.clients[i].rtc.timeout() <= now {
                let _ = self.clients[i].rtc.handle_timeout(now, &mut out);
            }
            self.client_outputs(i, out);
        }
        if self.forwarder.poll_timeout().is_some_and(|t| t <= now) {
            self.forwarder.handle_timeout(now);
        }
        self.server_outputs();
    }

    /// Client `i` sends one Opus packet; everything it causes is delivered.
    pub fn speak(&mut self, i: usize, rtp_time: u64, level: i8, data: &[u8]) {
        let mut out = Vec::new();
        let now = self.now;
        let _ = self.clients[i].rtc.send_audio(now, rtp_time, level, data, &mut out);
        self.client_outputs(i, out);
    }

    /// Encrypted datagrams client `i` would send for `packets` (not delivered), for
    /// feeding the forwarder directly.
    pub fn encrypt_for_server(&mut self, i: usize, packets: &[(u64, &[u8])]) -> Vec<Vec<u8>> {
        let mut datagrams = Vec::new();
        for (ts, data) in packets {
            let mut out = Vec::new();
            let _ = self.clients[i].rtc.send_audio(self.now, *ts, 20, data, &mut out);
            datagrams.extend(out.into_iter().map(|t| t.contents));
        }
        datagrams
    }

    /// What client `i` sent, as the server's socket would have routed it.
    pub fn datagram_from(&self, i: usize, data: Vec<u8>) -> Datagram {
        let c = &self.clients[i];
        Datagram {
            proto: Protocol::Udp,
            participant: c.id,
            peer: c.generation,
            source: c.addr,
            destination: SERVER,
            data,
            at: self.now,
        }
    }

    /// Delivers what client `i` sent and keeps what it received.
    fn client_outputs(&mut self, i: usize, out: Vec<Transmit>) {
        while let Some(event) = self.clients[i].rtc.poll_event() {
            if let RtcEvent::Audio(audio) = event {
                self.clients[i].received.push(audio);
            }
        }
        if self.clients[i].online {
            for t in out {
                let d = self.datagram_from(i, t.contents);
                self.forwarder.handle_datagram(&d);
            }
        }
        self.server_outputs();
    }

    /// Delivers the forwarder's transmits to the clients (and whatever they answer).
    fn server_outputs(&mut self) {
        let by_addr: HashMap<SocketAddr, usize> =
            self.clients.iter().enumerate().map(|(i, c)| (c.addr, i)).collect();
        loop {
            while let Some(e) = self.forwarder.poll_event() {
                self.events.push(e);
            }
            let sent: Vec<Transmit> = self.forwarder.drain_transmits().collect();
            if sent.is_empty() {
                return;
            }
            for t in sent {
                self.server_datagrams += 1;
                if let Some(&i) = by_addr.get(&t.destination) {
                    let mut out = Vec::new();
                    let now = self.now;
                    let received = Received {
                        proto: Protocol::Udp,
                        source: SERVER,
                        destination: self.clients[i].addr,
                        contents: &t.contents,
                        arrived: now,
                    };
                    let _ = self.clients[i].rtc.handle_datagram(
                        now + self.read_lag,
                        &received,
                        &mut out,
                    );
                    self.client_outputs(i, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::client::ClientRtc;
    use crate::media::peer::Peer;

    use super::*;

    /// The server's peer takes the native client's offer: a microphone and its slots.
    #[test]
    fn a_peer_accepts_a_client_offer_with_a_microphone_and_slots() {
        let now = Instant::now();
        let (_client, offer) =
            ClientRtc::offer(now, "127.0.0.1:40000".parse().unwrap(), 3).unwrap();
        let (peer, answer) = Peer::accept(now, &offer, &[HostCandidate::udp(SERVER)], 3).unwrap();
        assert_eq!(peer.slot_mids().len(), 3);
        assert!(answer.contains("a=ice-lite"), "{answer}");
        assert!(answer.contains("127.0.0.1 50000"), "host candidate advertised");
        assert!(answer.contains("usedtx=1") && answer.contains("useinbandfec=1"), "{answer}");
        assert!(answer.contains("ssrc-audio-level"), "RFC 6464 negotiated");
        assert!(!answer.to_lowercase().contains("vp8"), "audio only");
    }

    /// The first audio line must be the microphone, sent only: a first line the client
    /// would also receive on, or only receive on, is refused, as the protocol says.
    #[test]
    fn an_offer_whose_first_audio_line_is_not_a_send_only_microphone_is_refused() {
        let now = Instant::now();
        let (_client, offer) =
            ClientRtc::offer(now, "127.0.0.1:40000".parse().unwrap(), 3).unwrap();
        for first in ["a=sendrecv", "a=recvonly"] {
            let changed = offer.replacen("a=sendonly", first, 1);
            assert_ne!(changed, offer);
            let refused = Peer::accept(now, &changed, &[HostCandidate::udp(SERVER)], 3);
            assert!(
                matches!(refused, Err(crate::media::peer::PeerError::NoMicrophone)),
                "{first}: {refused:?}"
            );
        }
    }
}
