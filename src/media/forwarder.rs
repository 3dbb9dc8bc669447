//! The selective forwarding core of one room, sans-IO: the room's peers, their audio
//! slots, speech detection and the media gates decided by signaling.
//!
//! Each listener has a fixed number of receive slots. The slots are filled with the floor
//! holder first, then the loudest other speakers; a listener never hears themself. Each
//! slot is one continuous stream: str0m numbers its packets in sequence, and the RTP
//! timestamp is rewritten so that a change of speaker continues the slot's clock instead
//! of jumping to the new speaker's.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use talkstick_signaling::ParticipantId;
use talkstick_signaling::protocol::SlotView;

use super::demux::Datagram;
use super::peer::{HostCandidate, Peer, PeerError};
use super::speech::SpeechDetector;
use crate::rtp::inline::Inline;
use crate::rtp::{Audio, Outgoing, Protocol, Received, RtcEvent, Transmit};

/// RTP ticks per 20 ms Opus frame at 48 kHz.
const FRAME_TICKS: u64 = 960;
/// A peer that has not connected this long after its offer is dropped.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often an active sender who found no free slot tries again.
const PLACEMENT_RETRY: Duration = Duration::from_millis(100);

/// What the forwarder tells the room (the datagrams it sends come apart, from
/// [`Forwarder::drain_transmits`]).
#[derive(Debug)]
pub enum MediaEvent {
    /// Speech detection changed.
    Speaking {
        /// Who.
        participant: ParticipantId,
        /// Speaking now.
        speaking: bool,
    },
    /// A listener's slots changed (also sent once when their audio connects).
    Slots {
        /// The listener.
        participant: ParticipantId,
        /// Their slots.
        slots: Vec<SlotView>,
    },
    /// A participant's peer accepted a STUN request from `remote`: datagrams from there
    /// are theirs (the room tells the demux).
    Verified {
        /// Whose peer.
        participant: ParticipantId,
        /// The peer's ICE username fragment.
        ufrag: String,
        /// The remote address it proved.
        remote: SocketAddr,
        /// Over UDP, or over a TCP connection.
        proto: Protocol,
    },
    /// A participant's audio connection came up or went away.
    Audio {
        /// Who.
        participant: ParticipantId,
        /// Connected now.
        connected: bool,
        /// The ICE username fragment to unregister when it went away.
        ufrag: Option<String>,
    },
}

/// Set by `testkit::arm_fault_injection`: an offer containing `talkstick-inject-panic`
/// then makes [`Forwarder::add_peer`] panic, for tests of failure isolation. Not in
/// builds without the `testkit` feature.
#[cfg(feature = "testkit")]
pub(crate) static FAULT_INJECTION: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Counters of one forwarder.
#[derive(Debug, Default, Clone, Copy)]
pub struct ForwarderCounters {
    /// Opus packets received from microphones.
    pub packets_in: u64,
    /// Packets written to listeners' slots.
    pub packets_forwarded: u64,
    /// Of those, packets sealed by the fast path rather than written through str0m.
    pub packets_sealed: u64,
    /// Microphone packets opened by the fast path rather than by str0m.
    pub packets_opened: u64,
    /// Microphone packets the fast path refused: replays and packets that failed
    /// authentication on a stream it owns.
    pub packets_refused: u64,
    /// Packets not forwarded because the sender's gate is closed.
    pub packets_gated: u64,
    /// Datagrams for a peer that no longer exists.
    pub stale_datagrams: u64,
    /// Peers ended because their code panicked.
    pub peers_failed: u64,
}

/// How many counters [`ForwarderCounters`] has.
const COUNTERS: usize = 8;

impl ForwarderCounters {
    /// Each counter with its name, always in the same order.
    pub fn named(&self) -> [(&'static str, u64); COUNTERS] {
        [
            ("packets_in", self.packets_in),
            ("packets_forwarded", self.packets_forwarded),
            ("packets_sealed", self.packets_sealed),
            ("packets_opened", self.packets_opened),
            ("packets_refused", self.packets_refused),
            ("packets_gated", self.packets_gated),
            ("stale_datagrams", self.stale_datagrams),
            ("peers_failed", self.peers_failed),
        ]
    }
}

/// A room's peers by state: connecting (offer answered, ICE or DTLS not done), or
/// connected over UDP, TCP, or through a TURN relay. The server sees a relayed peer as
/// UDP from the relay's address: it counts as relayed when that address is one of the
/// configured relays' ([`Forwarder::with_relays`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PeerStates {
    /// Not connected yet.
    pub connecting: i64,
    /// Connected over UDP.
    pub udp: i64,
    /// Connected over TCP.
    pub tcp: i64,
    /// Connected through a TURN relay.
    pub relayed: i64,
}

/// Every room's [`PeerStates`] summed: each room adds how its own changed since it last
/// did, and takes all of it back when it ends.
#[derive(Debug, Default)]
pub struct PeerTotals {
    connecting: std::sync::atomic::AtomicI64,
    udp: std::sync::atomic::AtomicI64,
    tcp: std::sync::atomic::AtomicI64,
    relayed: std::sync::atomic::AtomicI64,
}

impl PeerTotals {
    /// Adds one room's `now` minus the `before` it added last time.
    pub fn add_since(&self, now: &PeerStates, before: &PeerStates) {
        self.connecting.fetch_add(now.connecting - before.connecting, Ordering::Relaxed);
        self.udp.fetch_add(now.udp - before.udp, Ordering::Relaxed);
        self.tcp.fetch_add(now.tcp - before.tcp, Ordering::Relaxed);
        self.relayed.fetch_add(now.relayed - before.relayed, Ordering::Relaxed);
    }

    /// The sums now.
    pub fn get(&self) -> PeerStates {
        PeerStates {
            connecting: self.connecting.load(Ordering::Relaxed),
            udp: self.udp.load(Ordering::Relaxed),
            tcp: self.tcp.load(Ordering::Relaxed),
            relayed: self.relayed.load(Ordering::Relaxed),
        }
    }
}

/// Every room's [`ForwarderCounters`] summed, for the server's health report. Each room
/// adds what it counted since it last did ([`ForwardingTotals::add_since`]), so a room
/// that ended still counts.
#[derive(Debug, Default)]
pub struct ForwardingTotals([AtomicU64; COUNTERS]);

impl ForwardingTotals {
    /// Adds one room's `now` minus the `before` it added last time.
    pub fn add_since(&self, now: &ForwarderCounters, before: &ForwarderCounters) {
        for (total, ((_, n), (_, b))) in
            self.0.iter().zip(now.named().into_iter().zip(before.named()))
        {
            if n > b {
                total.fetch_add(n - b, Ordering::Relaxed);
            }
        }
    }

    /// The totals as a JSON object, by counter name.
    pub fn snapshot(&self) -> serde_json::Value {
        let names = ForwarderCounters::default().named().map(|(name, _)| name);
        let pairs = names.iter().zip(&self.0);
        pairs
            .map(|(name, v)| {
                ((*name).to_owned(), serde_json::Value::from(v.load(Ordering::Relaxed)))
            })
            .collect()
    }
}

#[derive(Debug, Default)]
struct Slot {
    source: Option<ParticipantId>,
    /// Added to the source's RTP time to give the slot's.
    offset: u64,
    last_out: Option<(u64, Instant)>,
    /// The source changed: the next packet re-bases the timestamp.
    fresh: bool,
}

/// Runs one participant's peer code, catching a panic (`None`): a bug in one peer ends
/// that peer, not the room's audio.
fn contained<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

/// Most receive slots a listener can have (`--audio-slots` is 1–8): as many streams as a
/// fast-path writer has.
pub const MAX_SLOTS: usize = crate::rtp::srtp::MAX_STREAMS;

/// One participant's peer and everything the forwarder keeps for them. What a packet
/// from them needs (speech, gate) is here rather than in maps of its own: every map
/// read per packet was one more cold cache line, a room's state being 20 ms and a few
/// hundred other rooms' packets old by the time its next packet comes.
#[derive(Debug)]
struct Listener {
    peer: Peer,
    generation: u64,
    /// Inline ([`Inline`]): the fan-out reads them for every packet.
    slots: Inline<Slot, MAX_SLOTS>,
    /// A peer not connected by then is dropped.
    connect_by: Instant,
    /// Their microphone's speech detection.
    speech: SpeechDetector,
    /// Their packets are forwarded: a copy of their entry in [`Forwarder`]'s `gates`.
    forward: bool,
    /// When their loud but unplaced microphone may next trigger a reselection.
    retry_at: Option<Instant>,
}

/// One room's media.
#[derive(Debug)]
pub struct Forwarder {
    candidates: Vec<HostCandidate>,
    max_slots: usize,
    peers: HashMap<ParticipantId, Listener>,
    /// Whose packets are forwarded, decided by signaling; kept for participants without
    /// a peer too, so that a new peer starts with the right gate.
    gates: HashMap<ParticipantId, bool>,
    holder: Option<ParticipantId>,
    next_generation: u64,
    /// Datagrams to send, in order, until the caller takes them.
    transmits: Vec<Transmit>,
    /// The TURN relays' addresses (for [`Forwarder::peer_states`] only).
    relays: Vec<IpAddr>,
    events: VecDeque<MediaEvent>,
    counters: ForwarderCounters,
    /// Set while handling a datagram when a write went through str0m (which may move its
    /// deadlines); see [`Forwarder::handle_datagram`].
    wrote_through_str0m: bool,
}

/// A new peer's answer and routing facts.
#[derive(Debug)]
pub struct Accepted {
    /// The SDP answer for the client.
    pub answer: String,
    /// The new peer's ICE username fragment (register it for routing).
    pub ufrag: String,
    /// Tells this peer apart from the participant's earlier ones.
    pub generation: u64,
    /// The replaced peer's fragment, to unregister.
    pub replaced: Option<String>,
}

impl Forwarder {
    /// A forwarder advertising `candidates` and giving each listener up to `max_slots`
    /// (at most [`MAX_SLOTS`]).
    pub fn new(candidates: Vec<HostCandidate>, max_slots: usize) -> Self {
        Forwarder {
            candidates,
            max_slots: max_slots.min(MAX_SLOTS),
            peers: HashMap::new(),
            gates: HashMap::new(),
            holder: None,
            next_generation: 1,
            transmits: Vec::new(),
            events: VecDeque::new(),
            counters: ForwarderCounters::default(),
            wrote_through_str0m: false,
            relays: Vec::new(),
        }
    }

    /// The addresses of the TURN relays offered to participants: a peer connected from
    /// one of them counts as relayed in [`Forwarder::peer_states`].
    pub fn with_relays(mut self, relays: Vec<IpAddr>) -> Self {
        self.relays = relays;
        self
    }

    // ----- getters ------------------------------------------------------------------

    /// Counters so far.
    pub fn counters(&self) -> ForwarderCounters {
        self.counters
    }

    /// Peers (connected or connecting).
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// The peers by state and, once connected, by the transport ICE chose.
    pub fn peer_states(&self) -> PeerStates {
        let mut states = PeerStates::default();
        for l in self.peers.values() {
            let n = match (l.peer.is_connected(), l.peer.remote()) {
                (false, _) | (true, None) => &mut states.connecting,
                (true, Some((Protocol::Tcp, _))) => &mut states.tcp,
                (true, Some((_, remote))) if self.relays.contains(&remote.ip()) => {
                    &mut states.relayed
                }
                (true, Some(_)) => &mut states.udp,
            };
            *n += 1;
        }
        states
    }

    /// Who is in a listener's slots.
    pub fn slots_of(&self, listener: ParticipantId) -> Vec<Option<ParticipantId>> {
        self.peers
            .get(&listener)
            .map_or_else(Vec::new, |l| l.slots.iter().map(|s| s.source).collect())
    }

    // ----- inputs -------------------------------------------------------------------

    /// Accepts a participant's SDP offer, replacing any earlier peer of theirs.
    pub fn add_peer(
        &mut self,
        now: Instant,
        who: ParticipantId,
        offer: &str,
    ) -> Result<Accepted, PeerError> {
        let (candidates, max_slots) = (&self.candidates, self.max_slots);
        let accepted = contained(|| {
            #[cfg(feature = "testkit")]
            if FAULT_INJECTION.load(std::sync::atomic::Ordering::Relaxed)
                && offer.contains("talkstick-inject-panic")
            {
                panic!("injected fault in the media code of participant {who}");
            }
            Peer::accept(now, offer, candidates, max_slots)
        });
        let Some(accepted) = accepted else {
            self.peer_failed(who);
            return Err(PeerError::Failed);
        };
        let (peer, answer) = accepted?;
        let ufrag = peer.ufrag().to_owned();
        let generation = self.next_generation;
        self.next_generation += 1;
        let slots = Inline::from_iter_capped(peer.slot_mids().iter().map(|_| Slot::default()));
        // A new peer carries on the old one's speech: whoever was told they speak hears
        // the end of it from this detector.
        let speech = self.peers.get(&who).map(|old| old.speech.clone()).unwrap_or_default();
        let listener = Listener {
            peer,
            generation,
            slots,
            connect_by: now + CONNECT_TIMEOUT,
            speech,
            forward: self.gates.get(&who).copied().unwrap_or(false),
            retry_at: None,
        };
        let replaced = self.peers.insert(who, listener).map(|old| old.peer.ufrag().to_owned());
        self.reselect();
        Ok(Accepted { answer, ufrag, generation, replaced })
    }

    /// Drops a participant's peer (they left). Returns its ufrag to unregister.
    pub fn remove_peer(&mut self, who: ParticipantId) -> Option<String> {
        let ufrag = self.drop_peer(who);
        // Gone for good: forget the gate too (a dropped peer keeps it for its return).
        self.gates.remove(&who);
        ufrag
    }

    /// Drops a participant's peer and speech state; their gate stays, so a new offer
    /// from them is forwarded as before. Returns the ufrag to unregister.
    fn drop_peer(&mut self, who: ParticipantId) -> Option<String> {
        let gone = self.peers.remove(&who)?;
        if gone.speech.speaking() {
            self.events.push_back(MediaEvent::Speaking { participant: who, speaking: false });
        }
        self.reselect();
        Some(gone.peer.ufrag().to_owned())
    }

    /// Sends a listener their current slots again (after their connection resumed).
    pub fn resend_slots(&mut self, who: ParticipantId) {
        if self.peers.get(&who).is_some_and(|l| l.peer.is_connected()) {
            self.emit_slots(who);
        }
    }

    /// Opens or closes a participant's gate (from signaling). Takes effect on the next
    /// packet.
    pub fn set_gate(&mut self, who: ParticipantId, forward: bool) {
        if let Some(l) = self.peers.get_mut(&who) {
            l.forward = forward;
        }
        if self.gates.insert(who, forward) != Some(forward) {
            self.reselect();
        }
    }

    /// Tells who holds the floor (they get the first slot).
    pub fn set_holder(&mut self, holder: Option<ParticipantId>) {
        if self.holder != holder {
            self.holder = holder;
            self.reselect();
        }
    }

    /// Feeds a datagram routed to a peer, handled at its arrival time.
    ///
    /// Returns true when it was routine: audio opened and forwarded by the fast path that
    /// produced nothing but datagrams to send. Then [`Forwarder::poll_timeout`] can only
    /// have moved later (a speaker's silence deadline), so a caller may keep the deadline
    /// it has and ask again when that comes, instead of after every packet.
    pub fn handle_datagram(&mut self, d: &Datagram) -> bool {
        let (now, who) = (d.at, d.participant);
        let Some(l) = self.peers.get_mut(&who).filter(|l| l.generation == d.peer) else {
            self.counters.stale_datagrams += 1;
            return false;
        };
        let (opened, refused) = (l.peer.opened_fast(), l.peer.refused_fast());
        let received = Received {
            proto: d.proto,
            source: d.source,
            destination: d.destination,
            contents: &d.data,
            arrived: d.at,
        };
        let Some(result) =
            contained(|| l.peer.handle_datagram(now, &received, &mut self.transmits))
        else {
            self.peer_failed(who);
            return false;
        };
        let Some(l) = self.peers.get_mut(&who) else { return false };
        let fast = l.peer.opened_fast() - opened;
        self.counters.packets_opened += fast;
        self.counters.packets_refused += l.peer.refused_fast() - refused;
        if let Err(e) = result {
            tracing::debug!(participant = %who, error = %e, "datagram refused");
        }
        let before = self.events.len();
        self.wrote_through_str0m = false;
        self.poll_peer(now, who);
        fast == 1 && !self.wrote_through_str0m && self.events.len() == before
    }

    /// Advances every peer and speech detector to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<ParticipantId> = self
            .peers
            .iter()
            .filter(|(_, l)| {
                l.peer.timeout() <= now || (!l.peer.is_connected() && l.connect_by <= now)
            })
            .map(|(p, _)| *p)
            .collect();
        for who in due {
            if let Some(l) = self.peers.get_mut(&who) {
                match contained(|| l.peer.handle_timeout(now, &mut self.transmits)) {
                    Some(Err(e)) => {
                        tracing::debug!(participant = %who, error = %e, "peer timeout failed")
                    }
                    Some(Ok(())) => {}
                    None => {
                        self.peer_failed(who);
                        continue;
                    }
                }
                self.poll_peer(now, who);
            }
        }
        let mut changed = false;
        for (who, l) in &mut self.peers {
            if l.speech.on_timeout(now) == Some(false) {
                self.events.push_back(MediaEvent::Speaking { participant: *who, speaking: false });
                changed = true;
            }
        }
        let dead: Vec<ParticipantId> = self
            .peers
            .iter()
            .filter(|(_, l)| !l.peer.is_alive() || (!l.peer.is_connected() && l.connect_by <= now))
            .map(|(p, _)| *p)
            .collect();
        for who in dead {
            self.peer_gone(who);
        }
        if changed {
            self.reselect();
        }
    }

    // ----- polling ------------------------------------------------------------------

    /// The next event for the room.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// The datagrams to send, in order, taken out of the forwarder.
    pub fn drain_transmits(&mut self) -> std::vec::Drain<'_, Transmit> {
        self.transmits.drain(..)
    }

    /// When [`Forwarder::handle_timeout`] is next needed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let peers = self.peers.values().map(|l| {
            let t = l.peer.timeout();
            if l.peer.is_connected() { t } else { t.min(l.connect_by) }
        });
        let speech = self.peers.values().filter_map(|l| l.speech.deadline());
        peers.chain(speech).min()
    }

    // ----- internals ----------------------------------------------------------------

    /// Handles what `who`'s peer reported, in order.
    fn poll_peer(&mut self, now: Instant, who: ParticipantId) {
        loop {
            let Some(event) = self.peers.get_mut(&who).and_then(|l| l.peer.poll_event()) else {
                return;
            };
            match event {
                RtcEvent::Audio(audio) => self.on_audio(now, who, audio),
                RtcEvent::Connected => {
                    self.events.push_back(MediaEvent::Audio {
                        participant: who,
                        connected: true,
                        ufrag: None,
                    });
                    // Place them (a returning holder gets their slot back) and tell them.
                    self.reselect();
                    self.emit_slots(who);
                }
                RtcEvent::Verified(remote, proto) => {
                    let Some(l) = self.peers.get(&who) else { continue };
                    let ufrag = l.peer.ufrag().to_owned();
                    let verified = MediaEvent::Verified { participant: who, ufrag, remote, proto };
                    self.events.push_back(verified);
                }
                // Whatever else the peer held goes with it.
                RtcEvent::Disconnected => return self.peer_gone(who),
            }
        }
    }

    fn peer_gone(&mut self, who: ParticipantId) {
        if let Some(ufrag) = self.drop_peer(who) {
            self.events.push_back(MediaEvent::Audio {
                participant: who,
                connected: false,
                ufrag: Some(ufrag),
            });
        }
    }

    fn on_audio(&mut self, now: Instant, from: ParticipantId, audio: Audio) {
        self.counters.packets_in += 1;
        let Some(sender) = self.peers.get_mut(&from) else { return };
        let change = sender.speech.on_packet(now, audio.level);
        let (active, forward) = (sender.speech.active(), sender.forward);
        let may_retry = sender.retry_at.is_none_or(|t| t <= now);
        if let Some(speaking) = change {
            self.events.push_back(MediaEvent::Speaking { participant: from, speaking });
            self.reselect();
        } else if active && may_retry && !self.placed(from) {
            // A first loud packet: place the sender now (at most every 100 ms while the
            // slots are taken by others).
            if let Some(sender) = self.peers.get_mut(&from) {
                sender.retry_at = Some(now + PLACEMENT_RETRY);
            }
            self.reselect();
        }
        if !forward {
            self.counters.packets_gated += 1;
            return;
        }
        // A listener written through str0m may report its connection state too; that
        // is handled after the fan-out, as any other peer's events.
        let mut reported: Vec<ParticipantId> = Vec::new();
        let mut failed: Vec<ParticipantId> = Vec::new();
        for (who, l) in self.peers.iter_mut().filter(|(who, _)| **who != from) {
            for (k, slot) in l.slots.iter_mut().enumerate() {
                if slot.source != Some(from) {
                    continue;
                }
                let talkspurt = std::mem::take(&mut slot.fresh);
                if talkspurt {
                    // Continue the slot's clock: the new source starts where the slot
                    // left off, plus the wall time since.
                    let next = slot.last_out.map_or(audio.rtp_time, |(ts, at)| {
                        let gap = now.saturating_duration_since(at).as_micros() as u64 * 48 / 1000;
                        // The sender picks its timestamps, up to u64::MAX extended:
                        // RTP time is modular, so is the slot's.
                        ts.wrapping_add(gap.max(FRAME_TICKS))
                    });
                    slot.offset = next.wrapping_sub(audio.rtp_time);
                }
                let rtp_time = audio.rtp_time.wrapping_add(slot.offset);
                slot.last_out = Some((rtp_time, now));
                let fast = l.peer.fast_path();
                // (`fast_path` is also false while the peer has no ICE path yet.)
                self.wrote_through_str0m |= !fast;
                let packet = Outgoing {
                    stream: k,
                    rtp_time,
                    talkspurt,
                    level: audio.level,
                    voice: audio.voice,
                    payload: &audio.data,
                    wallclock: audio.at,
                };
                match contained(|| l.peer.write_audio(now, &packet, &mut self.transmits)) {
                    Some(Ok(())) => {
                        self.counters.packets_forwarded += 1;
                        self.counters.packets_sealed += u64::from(fast);
                    }
                    Some(Err(e)) => tracing::debug!(listener = %who, error = %e, "write failed"),
                    None => {
                        failed.push(*who);
                        break;
                    }
                }
            }
            if l.peer.has_events() {
                reported.push(*who);
            }
        }
        for who in failed {
            self.peer_failed(who);
        }
        for who in reported {
            self.poll_peer(now, who);
        }
    }

    /// Ends a peer whose code panicked: a bug, contained to that participant's audio.
    fn peer_failed(&mut self, who: ParticipantId) {
        tracing::error!(participant = %who, "media code panicked; this participant's audio connection ends");
        self.counters.peers_failed += 1;
        self.peer_gone(who);
    }

    /// Whether anyone hears `who` in a slot.
    fn placed(&self, who: ParticipantId) -> bool {
        self.peers.values().any(|l| l.slots.iter().any(|s| s.source == Some(who)))
    }

    /// Who may fill slots, best first: the holder, then speakers by loudness.
    fn ranking(&self) -> Vec<ParticipantId> {
        let mut eligible: Vec<(ParticipantId, bool, f32)> = self
            .peers
            .iter()
            .filter(|(_, l)| l.peer.is_connected() && l.forward)
            .filter_map(|(who, l)| {
                let holder = self.holder == Some(*who);
                (holder || l.speech.active()).then(|| (*who, holder, l.speech.loudness()))
            })
            .collect();
        eligible.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.total_cmp(&a.2)).then(a.0.cmp(&b.0)));
        eligible.into_iter().map(|(who, ..)| who).collect()
    }

    /// Recomputes every listener's slots, keeping people in the slot they already have.
    fn reselect(&mut self) {
        let ranking = self.ranking();
        let mut changed = Vec::new();
        for (who, l) in &mut self.peers {
            let wanted: Vec<ParticipantId> =
                ranking.iter().copied().filter(|p| p != who).take(l.slots.len()).collect();
            let mut dirty = false;
            for slot in l.slots.iter_mut() {
                if slot.source.is_some_and(|s| !wanted.contains(&s)) {
                    slot.source = None;
                    dirty = true;
                }
            }
            for p in wanted {
                if l.slots.iter().any(|s| s.source == Some(p)) {
                    continue;
                }
                if let Some(free) = l.slots.iter_mut().find(|s| s.source.is_none()) {
                    free.source = Some(p);
                    free.fresh = true;
                    dirty = true;
                }
            }
            if dirty && l.peer.is_connected() {
                changed.push(*who);
            }
        }
        for who in changed {
            self.emit_slots(who);
        }
    }

    fn emit_slots(&mut self, who: ParticipantId) {
        let Some(l) = self.peers.get(&who) else { return };
        let slots = l
            .peer
            .slot_mids()
            .iter()
            .zip(l.slots.iter())
            .map(|(mid, s)| SlotView { mid: mid.to_string(), participant: s.source })
            .collect();
        self.events.push_back(MediaEvent::Slots { participant: who, slots });
    }
}
