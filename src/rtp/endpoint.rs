//! [`Endpoint`]: one WebRTC audio connection, str0m's `Rtc` with the SRTP fast path
//! around it. The SFU's peer and the native client are both one of these; they differ
//! only in their session description and in which m-lines they send and receive on.
//!
//! str0m owns the connection: ICE, DTLS, RTCP, and every packet the fast path does not
//! take. Once DTLS is up with an AEAD profile, the endpoint writes and seals its outgoing
//! audio itself ([`RtpWriter`]) and opens the incoming audio of the streams it has
//! learned ([`RtpOpener`]): what str0m's media path does for a pre-encoded Opus packet,
//! without its per-packet queueing, pacing and timers, which cost more than the rest of
//! forwarding together (`docs/design.md`, Media).
//!
//! - Arming: on str0m's `Connected`, the keys DTLS exported ([`keys`]) make a sealer and
//!   an opener; a later handshake re-keys the same streams (sequence numbers go on).
//! - Learning: a receive stream is opened here once str0m knows its SSRC (at arming, or
//!   from the first packet str0m delivers on it), carrying on from the sequence number
//!   str0m last saw.
//! - No second chance: RTP of a stream the fast path owns that it refuses (a replay, a
//!   failed authentication, a malformed header) is dropped and counted, never handed to
//!   str0m, whose replay state stopped with the stream's first packet and would take a
//!   recording for live audio. RTCP, STUN, DTLS and streams it does not own are str0m's.
//!
//! The sans-IO rule holds: every input is followed by draining str0m until it names its
//! next timeout. Datagrams to send go to the caller's `Vec<Transmit>`; events wait here
//! for [`Endpoint::poll_event`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::format::Codec;
use str0m::media::{Frequency, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

use super::inline::Inline;
use super::keys::{self, KeyTap};
use super::srtp::{self, ExtIds, RtpSealer, RtpWriter, SrtpError};
use super::srtp_open::{OpenError, RtpOpener};
use super::{Audio, Outgoing, Received, Transmit};

/// Why an endpoint refused an input.
#[derive(Debug, thiserror::Error)]
pub enum RtpError {
    /// str0m refused an input or failed while draining.
    #[error("webrtc: {0}")]
    Rtc(#[from] str0m::RtcError),
    /// The fast path could not seal a packet.
    #[error("srtp: {0}")]
    Srtp(#[from] SrtpError),
    /// A datagram that is neither STUN, DTLS, RTP nor RTCP.
    #[error("a datagram of {0} bytes that is not STUN, DTLS, RTP or RTCP")]
    Unrecognised(usize),
}

/// What an endpoint reports, besides datagrams to send.
#[derive(Debug)]
pub enum RtcEvent {
    /// ICE and DTLS are up: media flows.
    Connected,
    /// The connection failed or lapsed (ICE consent).
    Disconnected,
    /// An Opus packet arrived on one of the receive m-lines.
    Audio(Audio),
    /// The ICE agent accepted a STUN binding request from this remote address (its
    /// MESSAGE-INTEGRITY checked, and answered): the address, over that protocol, is the
    /// other side's.
    Verified(SocketAddr, Protocol),
}

/// A WebRTC audio connection. `N` is how many receive streams the fast path opens (the
/// server's one microphone per peer; a client's slots).
pub struct Endpoint<const N: usize> {
    /// Boxed: str0m's state is large and rarely touched per packet, so the fast path's
    /// fields below stay on a few cache lines.
    rtc: Box<Rtc>,
    /// Where DTLS leaves the SRTP keys.
    tap: Arc<KeyTap>,
    /// Header extension ids negotiated.
    ext: ExtIds,
    /// Opus payload type negotiated for sending.
    pt: Option<Pt>,
    /// The m-lines audio is written on, in stream order.
    send: Vec<Mid>,
    /// The m-lines whose audio is reported; media on any other is dropped.
    recv: Vec<Mid>,
    /// The transport and (local, remote) address pair media goes on: the pair ICE chose,
    /// which str0m sends DTLS and SRTP/SRTCP on. Media from elsewhere, authenticated or
    /// not, does not move it: only ICE does.
    path: Option<(Protocol, SocketAddr, SocketAddr)>,
    /// The send half of the fast path, once keyed.
    writer: Option<RtpWriter>,
    /// The receive half, once keyed.
    opener: Option<RtpOpener<N>>,
    /// SSRC → m-line of the streams the opener knows (inline: read for every packet).
    mid_of: Inline<(u32, Mid), N>,
    connected: bool,
    timeout: Instant,
    events: VecDeque<RtcEvent>,
    /// Packets the fast path opened so far.
    opened: u64,
    /// Packets of its streams the fast path refused so far.
    refused: u64,
}

impl<const N: usize> std::fmt::Debug for Endpoint<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("connected", &self.connected)
            .field("fast_send", &self.fast_send())
            .field("fast_receive", &self.opener.is_some())
            .finish_non_exhaustive()
    }
}

/// A STUN binding request (RFC 5389: class request, method binding, magic cookie).
fn is_binding_request(d: &[u8]) -> bool {
    d.len() >= 20 && d[..2] == [0x00, 0x01] && d[4..8] == [0x21, 0x12, 0xA4, 0x42]
}

/// A STUN binding success response.
fn is_binding_success(d: &[u8]) -> bool {
    d.len() >= 20 && d[..2] == [0x01, 0x01] && d[4..8] == [0x21, 0x12, 0xA4, 0x42]
}

impl<const N: usize> Endpoint<N> {
    /// Builds str0m's `Rtc` from `config`, with the crypto provider that taps the keys.
    pub fn new(now: Instant, config: RtcConfig) -> Self {
        super::install_crypto();
        let tap = Arc::new(KeyTap::default());
        let config = config.set_crypto_provider(keys::provider());
        let rtc = Box::new(keys::build_with_tap(&tap, || config.build(now)));
        Endpoint {
            rtc,
            tap,
            ext: ExtIds::default(),
            pt: None,
            send: Vec::new(),
            recv: Vec::new(),
            path: None,
            writer: None,
            opener: None,
            mid_of: Inline::default(),
            connected: false,
            timeout: now,
            events: VecDeque::new(),
            opened: 0,
            refused: 0,
        }
    }

    /// str0m itself, for the session description API.
    pub fn rtc(&mut self) -> &mut Rtc {
        &mut self.rtc
    }

    /// Records what negotiation settled: the header extensions of the session
    /// description (`sdp`, either side's), the m-lines audio is sent on (in stream order;
    /// the first names the Opus payload type) and those it is received on. Then drains.
    pub fn negotiated(
        &mut self,
        sdp: &str,
        send: Vec<Mid>,
        recv: Vec<Mid>,
        out: &mut Vec<Transmit>,
    ) -> Result<(), RtpError> {
        self.ext = ExtIds::from_sdp(sdp);
        self.pt = send.first().and_then(|mid| {
            let w = self.rtc.writer(*mid)?;
            w.payload_params().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt())
        });
        (self.send, self.recv) = (send, recv);
        self.drain(out)
    }

    // ----- getters ------------------------------------------------------------------

    /// ICE and DTLS are up (and have not failed since).
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Whether the connection is still alive.
    pub fn is_alive(&self) -> bool {
        self.rtc.is_alive()
    }

    /// When [`Endpoint::handle_timeout`] is next due.
    pub fn timeout(&self) -> Instant {
        self.timeout
    }

    /// The transport and remote address of the pair ICE chose, once media has gone on
    /// it.
    pub fn remote(&self) -> Option<(Protocol, SocketAddr)> {
        self.path.map(|(proto, _, remote)| (proto, remote))
    }

    /// Whether written audio bypasses str0m's send path: the SRTP profile allows it and
    /// ICE has chosen the path to send on.
    pub fn fast_send(&self) -> bool {
        self.writer.is_some() && self.path.is_some()
    }

    /// Packets the receive fast path opened so far.
    pub fn opened_fast(&self) -> u64 {
        self.opened
    }

    /// Packets of its own streams the receive fast path refused so far: replays, failed
    /// authentication, malformed headers.
    pub fn refused_fast(&self) -> u64 {
        self.refused
    }

    /// Whether events wait for [`Endpoint::poll_event`].
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    // ----- inputs -------------------------------------------------------------------

    /// Feeds one datagram: opened here when it is audio of a stream the fast path knows,
    /// otherwise handed to str0m and drained.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        d: &Received<'_>,
        out: &mut Vec<Transmit>,
    ) -> Result<(), RtpError> {
        if let Some(opener) = self.opener.as_mut() {
            // Opened straight into the payload handed out: no copy, and no scratch buffer
            // of the endpoint's own, which would be cold when many endpoints take turns.
            let mut data = Vec::new();
            match opener.open(d.contents, self.ext, &mut data) {
                Ok(o) => {
                    self.opened += 1;
                    let (ssrc, rtp_time, seq, level) = (o.ssrc, o.timestamp, o.seq, o.level);
                    let len = o.payload.len();
                    data.truncate(len);
                    let Some(&(_, mid)) = self.mid_of.iter().find(|(s, _)| *s == ssrc) else {
                        return Ok(());
                    };
                    self.events.push_back(RtcEvent::Audio(Audio {
                        mid,
                        rtp_time,
                        seq,
                        level: level.map(|(dbov, _)| dbov as i8),
                        voice: level.map(|(_, voice)| voice),
                        data,
                        at: d.arrived,
                    }));
                    return Ok(());
                }
                // Not RTP, or a stream str0m has not handed over: str0m's to judge.
                Err(OpenError::NotRtp | OpenError::UnknownSsrc) => {}
                // A stream the fast path owns: refused here is refused. Nothing is
                // switched off, so forged packets cannot take an endpoint off the fast
                // path either.
                Err(OpenError::Replayed | OpenError::Auth | OpenError::Malformed) => {
                    self.refused += 1;
                    return Ok(());
                }
            }
        }
        let contents =
            d.contents.try_into().map_err(|_| RtpError::Unrecognised(d.contents.len()))?;
        let receive =
            Receive { proto: d.proto, source: d.source, destination: d.destination, contents };
        let input = Input::Receive(now, receive);
        // Drain even when the input was refused: a failed receive can still move state.
        let result = if self.rtc.accepts(&input) { self.rtc.handle_input(input) } else { Ok(()) };
        let (first, sent) = (self.events.len(), out.len());
        self.drain(out)?;
        // A binding request str0m answered with success passed its integrity check.
        if is_binding_request(d.contents)
            && out[sent..]
                .iter()
                .any(|t| t.destination == d.source && is_binding_success(&t.contents))
        {
            self.events.push_back(RtcEvent::Verified(d.source, d.proto));
        }
        // Audio str0m let through (a stream's first packets, before the fast path knows
        // its SSRC) is timed by this datagram's arrival too, not by when it was handled.
        for e in self.events.range_mut(first..) {
            if let RtcEvent::Audio(audio) = e {
                audio.at = d.arrived;
            }
        }
        Ok(result?)
    }

    /// Advances time, then drains.
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        out: &mut Vec<Transmit>,
    ) -> Result<(), RtpError> {
        let result = self.rtc.handle_input(Input::Timeout(now));
        self.drain(out)?;
        Ok(result?)
    }

    /// Writes one Opus packet, sealed here on the fast path or through str0m otherwise.
    /// Dropped before the connection is up: nothing can be heard before, and the fast
    /// path numbers its streams from connection on, so str0m must not have started them.
    pub fn write_audio(
        &mut self,
        now: Instant,
        packet: &Outgoing<'_>,
        out: &mut Vec<Transmit>,
    ) -> Result<(), RtpError> {
        let Some(pt) = self.pt else { return Ok(()) };
        if !self.connected {
            return Ok(());
        }
        // The fast path knows its streams itself: `self.send` (another cache line) is not
        // read for each packet.
        if let (Some(writer), Some((proto, source, destination))) =
            (self.writer.as_mut(), self.path)
        {
            if let Some(contents) = writer.write(*pt, packet, self.ext)? {
                out.push(Transmit { proto, source, destination, contents });
            }
            return Ok(());
        }
        let Some(mid) = self.send.get(packet.stream).copied() else { return Ok(()) };
        if let Some(mut w) = self.rtc.writer(mid) {
            if let Some((dbov, voice)) = packet.level_ext() {
                // str0m takes the level as negative dB.
                w = w.audio_level(-(dbov as i8), voice);
            }
            let time = MediaTime::new(packet.rtp_time, Frequency::FORTY_EIGHT_KHZ);
            let written = w.start_of_talkspurt(packet.talkspurt).write(
                pt,
                packet.wallclock,
                time,
                packet.payload.to_vec(),
            );
            self.drain(out)?;
            written?;
        }
        // Written media leaves on the next time step; take it now rather than on a timer.
        self.handle_timeout(now, out)
    }

    // ----- polling ------------------------------------------------------------------

    /// The next event, in the order they happened.
    pub fn poll_event(&mut self) -> Option<RtcEvent> {
        self.events.pop_front()
    }

    // ----- internals ----------------------------------------------------------------

    /// Drains str0m's outputs until it names its next timeout.
    fn drain(&mut self, out: &mut Vec<Transmit>) -> Result<(), RtpError> {
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(t) => {
                    self.timeout = t;
                    return Ok(());
                }
                Output::Transmit(t) => {
                    if srtp::on_media_path(&t.contents) {
                        self.path = Some((t.proto, t.source, t.destination));
                    }
                    let (proto, source, destination) = (t.proto, t.source, t.destination);
                    out.push(Transmit { proto, source, destination, contents: t.contents.into() });
                }
                Output::Event(Event::Connected) => {
                    self.arm_fast_path();
                    self.connected = true;
                    self.events.push_back(RtcEvent::Connected);
                }
                Output::Event(Event::IceConnectionStateChange(
                    IceConnectionState::Disconnected,
                )) => {
                    self.connected = false;
                    self.events.push_back(RtcEvent::Disconnected);
                }
                Output::Event(Event::MediaData(d)) if self.recv.contains(&d.mid) => {
                    self.learn(d.mid, Some(**d.seq_range.end()));
                    self.events.push_back(RtcEvent::Audio(Audio {
                        mid: d.mid,
                        rtp_time: d.time.numer(),
                        seq: **d.seq_range.start(),
                        // str0m reports the level as negative dB (-30 for 30 -dBov); the
                        // rest counts RFC 6464 -dBov, 0 loudest to 127 silence.
                        level: d.ext_vals.audio_level.map(i8::saturating_neg),
                        voice: d.ext_vals.voice_activity,
                        data: d.data.to_vec(),
                        at: d.network_time,
                    }));
                }
                Output::Event(_) => {}
            }
        }
    }

    /// Takes the keys DTLS exported and, for an AEAD profile, runs the fast path from now
    /// on; otherwise str0m keeps doing all of the media.
    fn arm_fast_path(&mut self) {
        let Some(keys) = self.tap.take() else { return };
        let crypto = keys::backend();
        let (sealer, opener) = match (RtpSealer::new(crypto, &keys), RtpOpener::new(crypto, &keys))
        {
            (Ok(s), Ok(o)) => (s, o),
            (Err(e), _) | (_, Err(e)) => {
                tracing::debug!(error = %e, "media through str0m");
                (self.writer, self.opener) = (None, None);
                self.mid_of.clear();
                return;
            }
        };
        self.opener = Some(opener);
        self.mid_of.clear();
        // The receive streams str0m already knows (otherwise from their first packet).
        for mid in self.recv.clone() {
            self.learn(mid, None);
        }
        if let Some(writer) = &mut self.writer {
            // New keys for the same streams: sequence numbers go on.
            writer.rekey(sealer);
            return;
        }
        let mut api = self.rtc.direct_api();
        let streams: Option<Vec<(u32, Mid)>> = self
            .send
            .iter()
            .map(|mid| Some((*api.stream_tx_by_mid(*mid, None)?.ssrc(), *mid)))
            .collect();
        self.writer = streams.map(|streams| RtpWriter::new(sealer, streams));
        tracing::debug!(profile = ?keys.profile, armed = self.writer.is_some(), "SRTP fast path");
    }

    /// Hands `mid`'s receive stream to the fast path once str0m knows its SSRC,
    /// continuing from `seq`, the extended sequence number str0m last saw on it. Past `N`
    /// streams, str0m goes on opening them.
    fn learn(&mut self, mid: Mid, seq: Option<u64>) {
        let Some(opener) = self.opener.as_mut() else { return };
        let Some(ssrc) = self.rtc.direct_api().stream_rx_by_mid(mid, None).map(|s| *s.ssrc())
        else {
            return;
        };
        if !opener.knows(ssrc) && self.mid_of.push((ssrc, mid)).is_ok() {
            opener.add_stream(ssrc, seq);
        }
    }
}
