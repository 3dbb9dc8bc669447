//! A room of native clients wired to a [`Forwarder`] in memory, on simulated time: no
//! sockets, no clock. Datagrams are handed across directly, so ICE, DTLS and SRTP run for
//! real and deterministically. Used by the forwarder's benchmark and lifecycle tests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use talkstick_signaling::ParticipantId;

use super::forwarder::{Forwarder, MediaOutput};
use crate::client::ReceivedAudio;
use crate::client::rtc::{ClientRtc, RtcOutput};

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
    pub received: Vec<ReceivedAudio>,
}

/// A forwarder and its clients.
pub struct SimRoom {
    /// The server side.
    pub forwarder: Forwarder,
    /// The clients.
    pub clients: Vec<SimClient>,
    /// Simulated now.
    pub now: Instant,
    /// Forwarder outputs other than transmits, in order.
    pub events: Vec<MediaOutput>,
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
            forwarder: Forwarder::new(vec![SERVER], slots),
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
            datagrams.extend(out.into_iter().filter_map(|o| match o {
                RtcOutput::Transmit { contents, .. } => Some(contents),
                _ => None,
            }));
        }
        datagrams
    }

    fn client_outputs(&mut self, i: usize, out: Vec<RtcOutput>) {
        let now = self.now;
        for o in out {
            match o {
                RtcOutput::Transmit { contents, .. } if self.clients[i].online => {
                    let c = &self.clients[i];
                    let (id, generation, addr) = (c.id, c.generation, c.addr);
                    self.forwarder.handle_datagram(now, id, generation, addr, SERVER, &contents);
                }
                RtcOutput::Audio(a) => self.clients[i].received.push(a),
                _ => {}
            }
        }
        self.server_outputs();
    }

    /// Delivers the forwarder's transmits to the clients (and whatever they answer).
    fn server_outputs(&mut self) {
        let by_addr: HashMap<SocketAddr, usize> =
            self.clients.iter().enumerate().map(|(i, c)| (c.addr, i)).collect();
        while let Some(o) = self.forwarder.poll_output() {
            match o {
                MediaOutput::Transmit { destination, contents, .. } => {
                    self.server_datagrams += 1;
                    if let Some(&i) = by_addr.get(&destination) {
                        let mut out = Vec::new();
                        let now = self.now;
                        let _ = self.clients[i].rtc.handle_datagram(
                            (now + self.read_lag, now),
                            SERVER,
                            &contents,
                            &mut out,
                        );
                        self.client_outputs(i, out);
                    }
                }
                other => self.events.push(other),
            }
        }
    }
}
