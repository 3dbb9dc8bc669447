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
    rtc: Rtc,
    ufrag: String,
    mic: Mid,
    slots: Vec<Mid>,
    pt: Option<Pt>,
    connected: bool,
    next_timeout: Instant,
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
            .set_rtcp_report_interval_audio(Duration::from_secs(1))
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
        let mut rtc = config.build(now);
        for addr in candidates {
            let c =
                Candidate::host(*addr, "udp").map_err(|e| PeerError::BadOffer(e.to_string()))?;
            rtc.add_local_candidate(c);
        }
        let answer =
            rtc.sdp_api().accept_offer(offer).map_err(|e| PeerError::BadOffer(e.to_string()))?;
        let mut peer = Peer {
            rtc,
            ufrag,
            mic: Mid::from("?"),
            slots: Vec::new(),
            pt: None,
            connected: false,
            next_timeout: now,
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
                Direction::SendOnly if peer.slots.len() < max_slots => peer.slots.push(mid),
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
        Ok((peer, answer.to_sdp_string()))
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

    /// Feeds one datagram, then drains outputs into `out`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
        out: &mut Vec<PeerOutput>,
    ) -> Result<(), PeerError> {
        let contents =
            data.try_into().map_err(|_| PeerError::BadOffer("unreadable datagram".into()))?;
        let input =
            Input::Receive(now, Receive { proto: Protocol::Udp, source, destination, contents });
        // Drain even when the input was refused: a failed receive can still move state.
        let result = if self.rtc.accepts(&input) { self.rtc.handle_input(input) } else { Ok(()) };
        self.drain(out)?;
        Ok(result?)
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
        let (Some(mid), Some(pt)) = (self.slots.get(slot).copied(), self.pt) else { return Ok(()) };
        if !self.connected {
            return Ok(());
        }
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
                Output::Transmit(t) => out.push(PeerOutput::Transmit {
                    source: t.source,
                    destination: t.destination,
                    contents: t.contents.into(),
                }),
                Output::Event(e) => self.event(e, out),
            }
        }
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
