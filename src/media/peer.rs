//! One participant's WebRTC connection, wrapping str0m's `Rtc` (sans-IO). The rest of the
//! server sees only this type: an SDP offer in, an answer out, datagrams in, transmits
//! and audio out.
//!
//! The peer is ICE-lite on the server's host candidates, DTLS-SRTP, Opus only (in-band
//! FEC and DTX), with the RFC 6464 audio-level header extension. The listener's offer has
//! one send-only audio m-line (their microphone) and receive-only audio m-lines, the
//! audio slots, whose order is the slot order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::format::{Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::Extension;
use str0m::{Candidate, Event, IceConnectionState, IceCreds, Input, Output, Rtc};

use super::keys::{self, KeyTap};
use super::srtp::{ExtIds, MAX_STREAMS, RtpSealer, RtpWriter, SrtpError};
use super::srtp_open::{OpenError, RtpOpener};

/// Interval of RTCP reports on audio streams: RFC 3550's recommended 5 s (str0m's
/// default too). Receiver reports serve statistics only here (no bandwidth estimation),
/// and at 300 peers each second of interval is 300 compound packets a second.
pub const RTCP_INTERVAL: Duration = Duration::from_secs(5);

/// Opus payload type offered by the server.
const OPUS_PT: u8 = 111;

/// Why a peer could not be made or fed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The SDP offer could not be parsed or accepted.
    #[error("the audio offer was refused: {0}")]
    BadOffer(String),
    /// The offer has no usable audio m-line from the participant.
    #[error("the audio offer has no send-only audio m-line for the microphone")]
    NoMicrophone,
    /// The WebRTC stack refused an input.
    #[error("webrtc: {0}")]
    Rtc(#[from] str0m::RtcError),
    /// The fast path could not seal a packet.
    #[error("srtp: {0}")]
    Srtp(#[from] SrtpError),
}

/// What a peer produced while being driven.
#[derive(Debug)]
pub enum PeerOutput {
    /// A datagram to send from `source` (one of our candidates) to `destination`.
    Transmit {
        /// Our local candidate address.
        source: SocketAddr,
        /// The remote address.
        destination: SocketAddr,
        /// The datagram.
        contents: Vec<u8>,
    },
    /// One Opus packet from the participant's microphone.
    Audio(IncomingAudio),
    /// ICE and DTLS are up: media flows.
    Connected,
    /// The connection failed or lapsed (ICE consent); the peer is dead.
    Disconnected,
}

/// One received Opus packet.
#[derive(Debug, Clone)]
pub struct IncomingAudio {
    /// RTP timestamp, extended to 64 bits (48 kHz).
    pub rtp_time: u64,
    /// Arrival time of the packet.
    pub arrived: Instant,
    /// RFC 6464 level in -dBov, if sent.
    pub level: Option<i8>,
    /// The V bit of the audio-level extension, if sent.
    pub voice: Option<bool>,
    /// The Opus payload.
    pub data: Arc<[u8]>,
}

/// A participant's WebRTC connection.
pub struct Peer {
    /// Boxed: str0m's state is large and rarely touched per forwarded packet, so the fast
    /// path's fields below stay on a few cache lines.
    rtc: Box<Rtc>,
    ufrag: String,
    mic: Mid,
    slots: Vec<Mid>,
    pt: Option<Pt>,
    connected: bool,
    next_timeout: Instant,
    /// Where DTLS leaves the SRTP keys for the fast path.
    tap: Arc<KeyTap>,
    /// Header extension ids of the answer.
    ext: ExtIds,
    /// The address pair str0m sends media on (the nominated ICE pair).
    path: Option<(SocketAddr, SocketAddr)>,
    /// Slots written and sealed here rather than through str0m, once keys are known:
    /// what str0m's send path would do for a forwarded Opus packet (RTP header,
    /// sequence numbers, SRTP), without its per-packet queueing, pacing and timers. str0m
    /// still owns the connection and RTCP.
    fast: Option<RtpWriter>,
    /// The receive half of the fast path: the microphone's SRTP (one stream) opened here
    /// rather than by str0m, once its SSRC is known.
    rx: Option<RtpOpener<1>>,
    /// Microphone packets opened by the fast path so far.
    opened: u64,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("ufrag", &self.ufrag)
            .field("slots", &self.slots.len())
            .finish()
    }
}

impl Peer {
    /// Accepts an SDP offer; returns the peer and the SDP answer. `candidates` are the
    /// server's advertised host addresses; `max_slots` caps the receive slots used.
    pub fn accept(
        now: Instant,
        offer: &str,
        candidates: &[SocketAddr],
        max_slots: usize,
    ) -> Result<(Peer, String), PeerError> {
        super::install_crypto();
        let offer_text = offer;
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| PeerError::BadOffer(e.to_string()))?;
        let ufrag = random_token(12);
        let mut config = Rtc::builder()
            .set_ice_lite(true)
            .set_local_ice_credentials(IceCreds { ufrag: ufrag.clone(), pass: random_token(24) })
            .clear_codecs()
            // An SFU forwards at once; listeners' jitter buffers handle reordering.
            .set_reordering_size_audio(0)
            .set_rtcp_report_interval_audio(RTCP_INTERVAL)
            // Only the header extensions an audio SFU uses. Transport-wide congestion
            // control is left out on purpose: there is no bandwidth estimation for audio,
            // and its feedback would be a datagram every ~100 ms from every listener.
            .clear_extension_map()
            .set_extension(1, Extension::AudioLevel)
            .set_extension(4, Extension::RtpMid);
        config.codec_config().add_config(
            Pt::new_with_value(OPUS_PT),
            None,
            Codec::Opus,
            Frequency::FORTY_EIGHT_KHZ,
            Some(2),
            FormatParams {
                min_p_time: Some(10),
                use_inband_fec: Some(true),
                use_dtx: Some(true),
                ..Default::default()
            },
        );
        let tap = Arc::new(KeyTap::default());
        let config = config.set_crypto_provider(keys::provider());
        let mut rtc = Box::new(keys::build_with_tap(&tap, || config.build(now)));
        for addr in candidates {
            let c =
                Candidate::host(*addr, "udp").map_err(|e| PeerError::BadOffer(e.to_string()))?;
            rtc.add_local_candidate(c);
        }
        let answer =
            rtc.sdp_api().accept_offer(offer).map_err(|e| PeerError::BadOffer(e.to_string()))?;
        let answer = answer.to_sdp_string();
        let mut peer = Peer {
            rtc,
            ufrag,
            mic: Mid::from("?"),
            slots: Vec::new(),
            pt: None,
            connected: false,
            next_timeout: now,
            tap,
            ext: ExtIds::from_sdp(&answer),
            path: None,
            fast: None,
            rx: None,
            opened: 0,
        };
        // The offer's audio m-lines in order: the first we receive on is the microphone,
        // the ones we send on are the slots.
        let mut mic = None;
        for mid in offer_mids(offer_text) {
            let Some(media) = peer.rtc.media(mid) else { continue };
            if media.kind() != MediaKind::Audio {
                continue;
            }
            match media.direction() {
                Direction::RecvOnly | Direction::SendRecv if mic.is_none() => mic = Some(mid),
                Direction::SendOnly if peer.slots.len() < max_slots.min(MAX_STREAMS) => {
                    peer.slots.push(mid)
                }
                _ => {}
            }
        }
        // Nothing can be sent before the listener's first STUN request.
        peer.drain(&mut Vec::new())?;
        peer.mic = mic.ok_or(PeerError::NoMicrophone)?;
        peer.pt = peer.slots.first().and_then(|mid| {
            let w = peer.rtc.writer(*mid)?;
            w.payload_params().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt())
        });
        Ok((peer, answer))
    }

    /// The local ICE username fragment (for routing STUN).
    pub fn ufrag(&self) -> &str {
        &self.ufrag
    }

    /// The receive slots' media ids, in slot order.
    pub fn slot_mids(&self) -> &[Mid] {
        &self.slots
    }

    /// ICE and DTLS are up.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// When the peer next needs [`Peer::handle_timeout`].
    pub fn timeout(&self) -> Instant {
        self.next_timeout
    }

    /// Feeds one datagram, then drains outputs into `out`; a microphone packet the fast
    /// path opens is decrypted into `scratch` first.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
        (out, scratch): (&mut Vec<PeerOutput>, &mut Vec<u8>),
    ) -> Result<(), PeerError> {
        if let Some(audio) = self.open_fast(now, data, scratch) {
            if let Some(audio) = audio {
                // Authenticated media from the participant: the address pair is live, so
                // forwarded audio follows it at once (str0m's own traffic, which also
                // moves it, is only RTCP every few seconds once the fast path runs).
                self.path = Some((destination, source));
                out.push(PeerOutput::Audio(audio));
            }
            return Ok(());
        }
        let contents =
            data.try_into().map_err(|_| PeerError::BadOffer("unreadable datagram".into()))?;
        let input =
            Input::Receive(now, Receive { proto: Protocol::Udp, source, destination, contents });
        // Drain even when the input was refused: a failed receive can still move state.
        let result = if self.rtc.accepts(&input) { self.rtc.handle_input(input) } else { Ok(()) };
        self.drain(out)?;
        Ok(result?)
    }

    /// Opens a microphone packet on the fast path, decrypting into `scratch`:
    /// `Some(Some(audio))` opened, `Some(None)` dropped as a replay, `None` left for str0m.
    fn open_fast(
        &mut self,
        now: Instant,
        data: &[u8],
        scratch: &mut Vec<u8>,
    ) -> Option<Option<IncomingAudio>> {
        let rx = self.rx.as_mut()?;
        match rx.open(data, self.ext, scratch) {
            Ok(o) => {
                self.opened += 1;
                Some(Some(IncomingAudio {
                    rtp_time: o.timestamp,
                    arrived: now,
                    level: o.level.map(|(dbov, _)| dbov as i8),
                    voice: o.level.map(|(_, voice)| voice),
                    data: Arc::from(o.payload),
                }))
            }
            Err(OpenError::Replayed) => Some(None),
            // Anything else is str0m's to judge: RTCP, a stream it has not reported yet,
            // or a packet that failed here (forged, or a rollover counter str0m tracks
            // differently); it authenticates on its own. Nothing is switched off, so
            // forged packets cannot take a peer off the fast path.
            Err(_) => None,
        }
    }

    /// Advances time, then drains outputs into `out`.
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        out: &mut Vec<PeerOutput>,
    ) -> Result<(), PeerError> {
        let result = self.rtc.handle_input(Input::Timeout(now));
        self.drain(out)?;
        Ok(result?)
    }

    /// Sends one Opus packet on receive slot `slot` with the given RTP time (48 kHz),
    /// then drains outputs into `out` (the packet itself included). Dropped silently before the connection is up.
    pub fn write_audio(
        &mut self,
        now: Instant,
        slot: usize,
        rtp_time: u64,
        audio: &IncomingAudio,
        talkspurt: bool,
        out: &mut Vec<PeerOutput>,
    ) -> Result<(), PeerError> {
        let Some(pt) = self.pt else { return Ok(()) };
        if !self.connected {
            return Ok(());
        }
        // The fast path knows its slots itself: `self.slots` (another cache line) is not
        // read for each forwarded packet.
        if let (Some(fast), Some((source, destination))) = (self.fast.as_mut(), self.path) {
            let level = audio.level.map(|l| {
                (l.clamp(0, 127) as u8, audio.voice.unwrap_or(l <= super::speech::LOUD_LEVEL))
            });
            let written =
                fast.write(slot, *pt, rtp_time as u32, talkspurt, level, &audio.data, self.ext)?;
            if let Some(contents) = written {
                out.push(PeerOutput::Transmit { source, destination, contents });
            }
            return Ok(());
        }
        let Some(mid) = self.slots.get(slot).copied() else { return Ok(()) };
        if let Some(mut w) = self.rtc.writer(mid) {
            if let Some(level) = audio.level {
                // str0m takes the level as negative dB (see `Peer::event`).
                w = w.audio_level(
                    level.saturating_neg(),
                    audio.voice.unwrap_or(level <= super::speech::LOUD_LEVEL),
                );
            }
            let time = MediaTime::new(rtp_time, Frequency::FORTY_EIGHT_KHZ);
            let written =
                w.start_of_talkspurt(talkspurt).write(pt, audio.arrived, time, audio.data.clone());
            self.drain(out)?;
            written?;
        }
        // Written media leaves on the next time step; take it now rather than on a timer.
        let result = self.rtc.handle_input(Input::Timeout(now));
        self.drain(out)?;
        Ok(result?)
    }

    fn drain(&mut self, out: &mut Vec<PeerOutput>) -> Result<(), PeerError> {
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(t) => {
                    self.next_timeout = t;
                    return Ok(());
                }
                Output::Transmit(t) => {
                    if super::srtp::on_media_path(&t.contents) {
                        self.path = Some((t.source, t.destination));
                    }
                    out.push(PeerOutput::Transmit {
                        source: t.source,
                        destination: t.destination,
                        contents: t.contents.into(),
                    })
                }
                Output::Event(e) => {
                    if matches!(e, Event::Connected) {
                        self.arm_fast_path();
                    }
                    self.event(e, out)
                }
            }
        }
    }

    /// Takes the keys DTLS exported and, for an AEAD profile, forwards through the fast
    /// path from now on; otherwise str0m keeps writing the slots.
    fn arm_fast_path(&mut self) {
        let Some(keys) = self.tap.take() else { return };
        let crypto = super::keys::backend();
        let (sealer, opener) = match (RtpSealer::new(crypto, &keys), RtpOpener::new(crypto, &keys))
        {
            (Ok(s), Ok(o)) => (s, o),
            (Err(e), _) | (_, Err(e)) => {
                tracing::debug!(ufrag = %self.ufrag, error = %e, "forwarding through str0m");
                self.fast = None;
                self.rx = None;
                return;
            }
        };
        // The microphone's SSRC, if str0m has seen it yet (otherwise on its first packet).
        self.rx = Some(opener);
        self.learn_mic_ssrc(None);
        if let Some(fast) = &mut self.fast {
            // New keys for the same streams: sequence numbers go on.
            fast.rekey(sealer);
            return;
        }
        let mut api = self.rtc.direct_api();
        let streams: Option<Vec<(u32, Mid)>> = self
            .slots
            .iter()
            .map(|mid| Some((*api.stream_tx_by_mid(*mid, None)?.ssrc(), *mid)))
            .collect();
        self.fast = streams.map(|streams| RtpWriter::new(sealer, streams));
        tracing::debug!(ufrag = %self.ufrag, profile = ?keys.profile, armed = self.fast.is_some(), "SRTP fast path");
    }

    /// Hands the microphone's stream to the receive fast path once str0m knows its SSRC,
    /// continuing from `seq`, the extended sequence number str0m last saw on it.
    fn learn_mic_ssrc(&mut self, seq: Option<u64>) {
        let Some(rx) = self.rx.as_mut() else { return };
        if let Some(stream) = self.rtc.direct_api().stream_rx_by_mid(self.mic, None) {
            rx.add_stream(*stream.ssrc(), seq);
        }
    }

    /// Microphone packets the receive fast path opened so far.
    pub fn opened_fast(&self) -> u64 {
        self.opened
    }

    /// Whether forwarded audio bypasses str0m's send path: the SRTP profile allows it and
    /// ICE has chosen the path to send on.
    pub fn fast_path(&self) -> bool {
        self.fast.is_some() && self.path.is_some()
    }

    fn event(&mut self, e: Event, out: &mut Vec<PeerOutput>) {
        match e {
            Event::Connected => {
                self.connected = true;
                out.push(PeerOutput::Connected);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.connected = false;
                out.push(PeerOutput::Disconnected);
            }
            Event::MediaData(d) if d.mid == self.mic => {
                if self.rx.as_ref().is_some_and(|rx| !rx.knows_any()) {
                    self.learn_mic_ssrc(Some(**d.seq_range.end()));
                }
                out.push(PeerOutput::Audio(IncomingAudio {
                    rtp_time: d.time.numer(),
                    arrived: d.network_time,
                    // str0m reports the level as negative dB (-30 for 30 -dBov); the
                    // rest of the server counts RFC 6464 -dBov, 0 loudest to 127 silence.
                    level: d.ext_vals.audio_level.map(i8::saturating_neg),
                    voice: d.ext_vals.voice_activity,
                    data: d.data,
                }))
            }
            _ => {}
        }
    }

    /// Whether the underlying connection is still alive.
    pub fn is_alive(&self) -> bool {
        self.rtc.is_alive()
    }
}

/// The `a=mid` values of an SDP's media sections, in order.
fn offer_mids(sdp: &str) -> Vec<Mid> {
    sdp.lines().filter_map(|l| l.trim().strip_prefix("a=mid:")).map(Mid::from).collect()
}

/// A random token of ICE characters.
fn random_token(len: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::rtc::ClientRtc;

    #[test]
    fn accepts_a_client_offer_with_a_microphone_and_slots() {
        let now = Instant::now();
        let (_client, offer) =
            ClientRtc::offer(now, "127.0.0.1:40000".parse().unwrap(), 3).unwrap();
        let (peer, answer) =
            Peer::accept(now, &offer, &["127.0.0.1:50000".parse().unwrap()], 3).unwrap();
        assert_eq!(peer.slot_mids().len(), 3);
        assert!(answer.contains("a=ice-lite"), "{answer}");
        assert!(answer.contains("127.0.0.1 50000"), "host candidate advertised");
        assert!(answer.contains("usedtx=1") && answer.contains("useinbandfec=1"), "{answer}");
        assert!(answer.contains("ssrc-audio-level"), "RFC 6464 negotiated");
        assert!(!answer.to_lowercase().contains("vp8"), "audio only");
    }

    #[test]
    fn refuses_garbage_offers() {
        let now = Instant::now();
        assert!(matches!(Peer::accept(now, "v=0 nonsense", &[], 3), Err(PeerError::BadOffer(_))));
    }
}
