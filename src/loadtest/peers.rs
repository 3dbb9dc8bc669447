//! The audio of one simulated room: each member's client-core WebRTC peer
//! ([`ClientRtc`]) on its own UDP socket, all driven by the room's task.
//!
//! While a member's peer connects, its socket is watched by the runtime and each
//! handshake step is answered at once; one wake-up of the room's task reads every socket
//! with news. Driving each member's sockets from its own session task instead cost a
//! task wake-up and an extra poll of every other input per datagram. Once the peer is
//! up, the socket is read every few ticks of the room instead ([`super::polled`]), with
//! the kernel's arrival times: nobody is woken per forwarded packet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use futures_util::task::AtomicWaker;
use str0m::media::Mid;

use super::Ctx;
use super::metrics::{Jitter, Metrics};
use super::polled::{self, Clocks};
use crate::client::ClientRtc;
use crate::rtp::inline::Inline;
use crate::rtp::srtp::MAX_STREAMS;
use crate::rtp::{Audio, DatagramSocket, RtcEvent, Transmit};

/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;
/// Most datagrams read in one wake-up (a few bursts of one room's packets).
const BATCH: usize = 16;

/// When each frame of the speech asset was last sent in this room, and when the current
/// run of audio began.
#[derive(Debug)]
struct Sent {
    /// By frame index of the asset.
    frames: Vec<Option<Instant>>,
    /// The start of the current run of packets without a pause.
    spurt: Option<Instant>,
}

/// A member's socket: watched by the runtime while the peer connects, then polled.
#[derive(Debug)]
enum MemberSocket {
    Watched(DatagramSocket),
    Polled(std::net::UdpSocket),
}

impl MemberSocket {
    /// Sends now or loses the datagram (a full buffer, as on a real network).
    fn send_to(&self, buf: &[u8], to: SocketAddr) {
        let _ = match self {
            MemberSocket::Watched(s) => s.try_send_to(buf, to),
            MemberSocket::Polled(s) => s.send_to(buf, to),
        };
    }
}

/// One member's audio: their peer, socket and what they heard.
pub(super) struct MemberAudio {
    rtc: ClientRtc,
    /// `None` only while it changes from watched to polled.
    socket: Option<MemberSocket>,
    /// When this member started joining (WebSocket open).
    started: Instant,
    /// Someone held the floor as the member started joining: time to first audio is the
    /// server's join path, worth measuring on its own.
    measure_join: bool,
    heard: bool,
    /// Jitter per slot (inline: read for every packet heard).
    jitter: Inline<(Mid, Jitter), MAX_STREAMS>,
}

impl MemberAudio {
    /// A member's audio, not yet connected: `rtc` made the offer, `socket` is bound to
    /// the address it names.
    pub(super) fn new(
        rtc: ClientRtc,
        socket: DatagramSocket,
        started: Instant,
        measure_join: bool,
    ) -> Self {
        let socket = Some(MemberSocket::Watched(socket));
        MemberAudio { rtc, socket, started, measure_join, heard: false, jitter: Inline::default() }
    }
}

/// Every member's audio in one room.
pub(super) struct RoomPeers {
    ctx: Arc<Ctx>,
    /// When the room's speaker sent what (for timing what the listeners receive).
    sent: Sent,
    members: Vec<Option<MemberAudio>>,
    /// Each member's peer's next deadline, copied after every call into the peer: the
    /// room's task asks for the earliest on every wake-up, and the peers are cold then.
    deadlines: Vec<Option<Instant>>,
    /// Whether each member's ICE and DTLS came up (it stays set if they drop later: the
    /// packets the member misses after that count as lost). Kept here, not with the
    /// member: it is counted for every packet sent.
    connected: Vec<bool>,
    /// What the members heard, in one place for the room: a forwarded packet's arrivals
    /// at every listener are timed into the same few cache lines.
    metrics: Metrics,
    /// The datagrams read in one wake-up, back to back.
    arena: Vec<u8>,
    /// Who each was for, where from, where it lies in `arena`, and when it arrived if
    /// the kernel said (a polled socket's).
    batch: Vec<(usize, SocketAddr, std::ops::Range<usize>, Option<Instant>)>,
    out: Vec<Transmit>,
    /// The socket to try first on the next read (rotates, so none is favoured).
    next: usize,
    /// Which sockets may have something to read, and the room task's waker.
    wake: Arc<Marks>,
    /// Each socket's own waker: marks it in `wake`, then wakes the room's task.
    wakers: Vec<Waker>,
}

/// The sockets with news since their last read, one bit each.
#[derive(Debug)]
struct Marks {
    bits: Vec<AtomicU64>,
    task: AtomicWaker,
}

impl Marks {
    fn set(&self, j: usize) {
        self.bits[j / 64].fetch_or(1 << (j % 64), Ordering::AcqRel);
    }

    /// Clears `j`'s mark; whether it was set.
    fn take(&self, j: usize) -> bool {
        let bit = 1 << (j % 64);
        self.bits[j / 64].fetch_and(!bit, Ordering::AcqRel) & bit != 0
    }
}

/// The waker a member's socket holds.
struct SocketWaker {
    marks: Arc<Marks>,
    j: usize,
}

impl Wake for SocketWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.marks.set(self.j);
        self.marks.task.wake();
    }
}

impl RoomPeers {
    /// Room for `ctx.per_room` members.
    pub(super) fn new(ctx: Arc<Ctx>) -> Self {
        let n = ctx.per_room;
        let marks = Arc::new(Marks {
            bits: (0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
            task: AtomicWaker::new(),
        });
        RoomPeers {
            sent: Sent { frames: vec![None; ctx.speech.len()], spurt: None },
            ctx,
            members: (0..n).map(|_| None).collect(),
            deadlines: vec![None; n],
            connected: vec![false; n],
            metrics: Metrics::default(),
            arena: vec![0; MAX_DATAGRAM * BATCH],
            batch: Vec::with_capacity(BATCH),
            out: Vec::new(),
            next: 0,
            wake: Arc::clone(&marks),
            wakers: (0..n)
                .map(|j| Waker::from(Arc::new(SocketWaker { marks: Arc::clone(&marks), j })))
                .collect(),
        }
    }

    /// Adds member `j`'s audio.
    pub(super) fn insert(&mut self, j: usize, audio: MemberAudio) {
        if let Some(slot) = self.members.get_mut(j) {
            self.deadlines[j] = Some(audio.rtc.timeout());
            self.connected[j] = false;
            *slot = Some(audio);
            // Read it once, which leaves its waker with it.
            self.wake.set(j);
        }
    }

    /// Drops member `j`'s audio, as when they crash: the socket closes, the packets on
    /// their way to it are no longer expected, and the jitter it measured is kept.
    pub(super) fn remove(&mut self, j: usize) {
        let Some(a) = self.members.get_mut(j).and_then(Option::take) else { return };
        for (_, jitter) in a.jitter.iter() {
            self.metrics.jitter_sum_us += jitter.estimate_us;
            self.metrics.jitter_streams += 1;
        }
        self.deadlines[j] = None;
        self.connected[j] = false;
    }

    /// Whether member `j`'s audio came up.
    pub(super) fn connected(&self, j: usize) -> bool {
        self.connected.get(j).copied().unwrap_or(false)
    }

    /// Members other than `speaker` whose audio came up: who should hear a packet.
    pub(super) fn listeners(&self, speaker: usize) -> usize {
        (0..self.members.len()).filter(|k| *k != speaker && self.connected(*k)).count()
    }

    /// Waits until datagrams arrived on any member's sockets and reads every one that is
    /// there (up to [`BATCH`]); [`RoomPeers::handle_batch`] then handles them. Only the
    /// sockets whose wakers fired are read.
    pub(super) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.wake.task.register(cx.waker());
        let n = self.members.len();
        self.batch.clear();
        let mut used = 0;
        for i in 0..n {
            let j = (self.next + i) % n;
            if !self.wake.take(j) {
                continue;
            }
            let Some(a) = &self.members[j] else { continue };
            let Some(MemberSocket::Watched(socket)) = &a.socket else { continue };
            let mut own = Context::from_waker(&self.wakers[j]);
            loop {
                if self.batch.len() == BATCH {
                    // Not drained: read it first next time.
                    self.wake.set(j);
                    break;
                }
                let buf = &mut self.arena[used..used + MAX_DATAGRAM];
                // Pending leaves the socket's own waker with it: an arrival marks it.
                match socket.poll_recv_from(&mut own, buf) {
                    Poll::Ready(Ok((len, from))) => {
                        self.batch.push((j, from, used..used + len, None));
                        used += len;
                    }
                    // ICMP errors surface here on some systems; the socket stays usable.
                    // Tried again on the next wake-up, not in a loop here.
                    Poll::Ready(Err(e)) => {
                        tracing::debug!(member = j, error = %e, "receive error");
                        self.wake.set(j);
                        break;
                    }
                    Poll::Pending => break,
                }
            }
        }
        // Next time, a different socket goes first, so none is favoured.
        self.next = (self.next + 1) % n.max(1);
        if self.batch.is_empty() { Poll::Pending } else { Poll::Ready(()) }
    }

    /// Reads what the polled sockets (those of connected members) received since the
    /// last time, handling it a batch at a time. Called every few ticks of the room.
    pub(super) fn read_polled(&mut self) {
        let clocks = Clocks::now();
        self.batch.clear();
        let mut used = 0;
        for j in 0..self.members.len() {
            loop {
                if self.batch.len() == BATCH {
                    self.handle_batch();
                    used = 0;
                }
                let Some(Some(MemberSocket::Polled(socket))) =
                    self.members[j].as_ref().map(|a| a.socket.as_ref())
                else {
                    break;
                };
                let buf = &mut self.arena[used..used + MAX_DATAGRAM];
                match polled::try_recv(socket, buf, &clocks) {
                    Ok(Some(got)) => {
                        self.batch.push((j, got.from, used..used + got.len, Some(got.at)));
                        used += got.len;
                    }
                    Ok(None) => break,
                    // ICMP errors surface here on some systems; tried again next tick.
                    Err(e) => {
                        tracing::debug!(member = j, error = %e, "receive error");
                        break;
                    }
                }
            }
        }
        self.handle_batch();
    }

    /// Handles the datagrams the last [`RoomPeers::poll_recv`] or
    /// [`RoomPeers::read_polled`] read.
    pub(super) fn handle_batch(&mut self) {
        let now = Instant::now();
        for k in 0..self.batch.len() {
            let (j, from, ref range, arrived) = self.batch[k];
            let Some(a) = self.members.get_mut(j).and_then(Option::as_mut) else { continue };
            let data = &self.arena[range.clone()];
            let received = a.rtc.received(from, data, arrived.unwrap_or(now));
            if let Err(e) = a.rtc.handle_datagram(now, &received, &mut self.out) {
                tracing::debug!(member = j, error = %e, "client peer error");
            }
            self.flush(j);
        }
        self.batch.clear();
    }

    /// Applies the server's SDP answer for member `j`.
    pub(super) fn accept_answer(&mut self, j: usize, sdp: &str) -> bool {
        let Some(a) = self.members.get_mut(j).and_then(Option::as_mut) else { return false };
        let ok = a.rtc.accept_answer(sdp, &mut self.out).is_ok();
        self.flush(j);
        ok
    }

    /// Sends frame `frame` of the speech asset from member `j`'s microphone, noting when
    /// (at `now`; `spurt`: it begins a run of audio after a pause). False when there is
    /// no such frame or member.
    pub(super) fn send_audio(
        &mut self,
        j: usize,
        frame: usize,
        rtp_time: u64,
        now: Instant,
        spurt: bool,
    ) -> bool {
        let speech = &self.ctx.speech;
        let Some(packet) = speech.packet(frame) else { return false };
        let Some(a) = self.members.get_mut(j).and_then(Option::as_mut) else { return false };
        // Stamped before sending: a listener may hear it before the clock is read again.
        if let Some(slot) = self.sent.frames.get_mut(frame) {
            *slot = Some(now);
        }
        if spurt {
            self.sent.spurt = Some(now);
        }
        if let Err(e) = a.rtc.send_audio(now, rtp_time, speech.level(frame), packet, &mut self.out)
        {
            tracing::debug!(member = j, error = %e, "client peer error");
        }
        self.flush(j);
        true
    }

    /// When [`RoomPeers::handle_timeout`] is next due.
    pub(super) fn timeout(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Advances every peer that is due.
    pub(super) fn handle_timeout(&mut self, now: Instant) {
        for j in 0..self.members.len() {
            // The dense copy says who is due without touching the others' (cold) peers.
            if self.deadlines[j].is_none_or(|t| t > now) {
                continue;
            }
            let Some(a) = self.members[j].as_mut() else { continue };
            if let Err(e) = a.rtc.handle_timeout(now, &mut self.out) {
                tracing::debug!(member = j, error = %e, "client peer error");
            }
            self.flush(j);
        }
    }

    /// What every member heard, folded into `m`.
    pub(super) fn collect(&mut self, m: &mut Metrics) {
        m.merge(std::mem::take(&mut self.metrics));
        for a in self.members.iter_mut().flatten() {
            for (_, j) in a.jitter.iter() {
                m.jitter_sum_us += j.estimate_us;
                m.jitter_streams += 1;
            }
        }
    }

    /// Carries out member `j`'s peer outputs and notes its next deadline.
    fn flush(&mut self, j: usize) {
        let Some(a) = self.members.get_mut(j).and_then(Option::as_mut) else { return };
        self.deadlines[j] = Some(a.rtc.timeout());
        if let Some(s) = &a.socket {
            for t in self.out.drain(..) {
                s.send_to(&t.contents, t.destination);
            }
        }
        self.out.clear();
        while let Some(event) = a.rtc.poll_event() {
            match event {
                RtcEvent::Audio(audio) => {
                    heard(&self.ctx, &self.sent, a, &mut self.metrics, audio);
                }
                RtcEvent::Connected => {
                    self.connected[j] = true;
                    a.socket = a.socket.take().map(to_polled);
                }
                RtcEvent::Disconnected => self.metrics.error("audio_disconnected"),
                RtcEvent::Verified(..) => {}
            }
        }
    }
}

/// The socket of a member whose peer is up: no longer watched, stamped by the kernel.
/// One that cannot be stamped stays watched (its arrivals are then timed when read, at
/// once, as before).
fn to_polled(socket: MemberSocket) -> MemberSocket {
    let MemberSocket::Watched(s) = socket else { return socket };
    match polled::enable_timestamps(&s) {
        Ok(()) => MemberSocket::Polled(s.into_std()),
        Err(e) => {
            tracing::debug!(error = %e, "no receive timestamps; the socket stays watched");
            MemberSocket::Watched(s)
        }
    }
}

/// Measures one received packet: first audio, forwarding latency and jitter.
fn heard(ctx: &Ctx, sent: &Sent, a: &mut MemberAudio, m: &mut Metrics, audio: Audio) {
    m.packets_received += 1;
    ctx.delivered.fetch_add(1, Ordering::Relaxed);
    if !a.heard {
        a.heard = true;
        m.listeners_heard += 1;
        if a.measure_join {
            let took = audio.at.saturating_duration_since(a.started);
            m.first_audio.add(took);
            // The speaker sent without a pause from before this join to now: the time is
            // the server's join path alone, not a wait for speech.
            if sent.spurt.is_some_and(|s| s <= a.started) {
                m.join.add(took);
            }
        }
    }
    let Some(at) = ctx.frame_of(&audio.data).and_then(|f| sent.frames.get(f).copied().flatten())
    else {
        return;
    };
    let took = audio.at.saturating_duration_since(at);
    m.forward.add(took);
    if ctx.steady.load(Ordering::Relaxed) {
        m.forward_steady.add(took);
    }
    let k = a.jitter.iter().position(|(mid, _)| *mid == audio.mid);
    // A listener has at most MAX_STREAMS slots (the server caps them there), so a new
    // slot always finds a place.
    let k = match k {
        Some(k) => k,
        None => match a.jitter.push((audio.mid, Jitter::default())) {
            Ok(()) => a.jitter.len() - 1,
            Err(_) => return,
        },
    };
    a.jitter[k].1.add(at, audio.at);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts its wake-ups.
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    async fn member(now: Instant) -> (MemberAudio, SocketAddr) {
        let socket = DatagramSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let local = socket.local_addr().unwrap();
        let (rtc, _offer) = ClientRtc::offer(now, local, 3).unwrap();
        (MemberAudio::new(rtc, socket, now, false), local)
    }

    /// Polls until `want` datagrams were read (they may take a moment to land).
    async fn read(peers: &mut RoomPeers, cx: &mut Context<'_>, want: usize) -> Vec<usize> {
        let mut got = Vec::new();
        for _ in 0..100 {
            if peers.poll_recv(cx).is_ready() {
                got.extend(peers.batch.iter().map(|(j, ..)| *j));
            }
            if got.len() >= want {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        got
    }

    #[tokio::test]
    async fn one_wake_up_reads_every_socket_with_news_and_only_those() {
        let now = Instant::now();
        let mut peers = RoomPeers::new(Ctx::for_tests(3));
        let mut addrs = Vec::new();
        for j in 0..3 {
            let (audio, addr) = member(now).await;
            peers.insert(j, audio);
            addrs.push(addr);
        }
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&counter));
        let mut cx = Context::from_waker(&waker);
        // Nothing yet: every socket is left holding its waker.
        assert!(peers.poll_recv(&mut cx).is_pending());

        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for (j, n) in [(0, 3), (2, 2)] {
            for _ in 0..n {
                sender.send_to(b"not media", addrs[j]).unwrap();
            }
        }
        let mut got = read(&mut peers, &mut cx, 5).await;
        got.sort_unstable();
        assert_eq!(got, vec![0, 0, 0, 2, 2], "all five, from members 0 and 2");
        assert!(counter.0.load(Ordering::SeqCst) >= 1, "the arrivals woke the task");
        // Read to the end: nothing is left and nobody is marked.
        assert!(peers.poll_recv(&mut cx).is_pending());
        assert!((0..3).all(|j| !peers.wake.take(j)));

        // A later arrival wakes the task again and marks only its socket.
        let before = counter.0.load(Ordering::SeqCst);
        sender.send_to(b"again", addrs[1]).unwrap();
        assert_eq!(read(&mut peers, &mut cx, 1).await, vec![1]);
        assert!(counter.0.load(Ordering::SeqCst) > before);
    }

    #[tokio::test]
    async fn a_burst_larger_than_a_batch_is_read_over_several_polls() {
        let now = Instant::now();
        let mut peers = RoomPeers::new(Ctx::for_tests(1));
        let (audio, addr) = member(now).await;
        peers.insert(0, audio);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..BATCH + 5 {
            sender.send_to(b"burst", addr).unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(peers.poll_recv(&mut cx).is_ready());
        assert_eq!(peers.batch.len(), BATCH);
        // The socket stays marked, so the rest is read without a new arrival.
        assert!(peers.poll_recv(&mut cx).is_ready());
        assert_eq!(peers.batch.len(), 5);
        assert!(peers.poll_recv(&mut cx).is_pending());
    }
}
