//! One participant's WebRTC connection: an [`Endpoint`] (str0m with the SRTP fast path,
//! sans-IO) made from their offer. The rest of the server sees only this type: an SDP
//! offer in, an answer out, datagrams in, transmits and events out.
//!
//! The peer is ICE-lite on the server's host candidates (UDP, and passive TCP when on), DTLS-SRTP, Opus only (in-band
//! FEC and DTX), with the RFC 6464 audio-level header extension. The listener's offer has
//! one send-only audio m-line (their microphone) and receive-only audio m-lines, the
//! audio slots, whose order is the slot order.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::SdpOffer;
use str0m::format::{Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, Mid, Pt};
use str0m::net::TcpType;
use str0m::rtp::Extension;
use str0m::{Candidate, IceCreds, Rtc};

use crate::rtp::srtp::MAX_STREAMS;
use crate::rtp::{
    Endpoint, Outgoing, Protocol, RTCP_INTERVAL, Received, RtcEvent, RtpError, Transmit,
};

/// One of the server's media addresses, as answers advertise it: a UDP socket, or a TCP
/// listener (a passive candidate: the client connects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCandidate {
    /// UDP or TCP.
    pub proto: Protocol,
    /// The address clients reach it at.
    pub addr: SocketAddr,
}

impl HostCandidate {
    /// A UDP candidate.
    pub fn udp(addr: SocketAddr) -> Self {
        HostCandidate { proto: Protocol::Udp, addr }
    }

    /// A passive TCP candidate.
    pub fn tcp(addr: SocketAddr) -> Self {
        HostCandidate { proto: Protocol::Tcp, addr }
    }

    fn to_ice(self) -> Result<Candidate, str0m::error::IceError> {
        match self.proto {
            Protocol::Tcp => {
                Candidate::builder().tcp().host(self.addr).tcptype(TcpType::Passive).build()
            }
            _ => Candidate::host(self.addr, "udp"),
        }
    }
}

impl std::fmt::Display for HostCandidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.proto, self.addr)
    }
}

/// Opus payload type offered by the server.
const OPUS_PT: u8 = 111;

/// Why a peer could not be made or fed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The SDP offer could not be parsed or accepted. The text is for people; what the
    /// WebRTC stack said goes to the debug log.
    #[error("the audio offer was refused: {0}")]
    BadOffer(&'static str),
    /// The offer has no usable audio m-line from the participant.
    #[error("the audio offer has no line for your microphone (a send-only audio line first)")]
    NoMicrophone,
    /// The connection refused an input.
    #[error(transparent)]
    Rtp(#[from] RtpError),
    /// This participant's media code failed (a bug, contained): their audio connection
    /// was closed, and a new offer starts a new one.
    #[error("your audio connection failed on the server; offer again to reconnect")]
    Failed,
}

/// A participant's WebRTC connection: an [`Endpoint`] that receives one microphone and
/// sends the listener's slots.
pub struct Peer {
    endpoint: Endpoint<1>,
    ufrag: String,
    slots: Vec<Mid>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("ufrag", &self.ufrag)
            .field("slots", &self.slots.len())
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Peer {
    /// Accepts an SDP offer; returns the peer and the SDP answer. `candidates` are the
    /// server's advertised host addresses; `max_slots` caps the receive slots used.
    pub fn accept(
        now: Instant,
        offer: &str,
        candidates: &[HostCandidate],
        max_slots: usize,
    ) -> Result<(Peer, String), PeerError> {
        let offer_text = offer;
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| {
            tracing::debug!(error = %e, "unreadable audio offer");
            PeerError::BadOffer("it is not a session description this server can read")
        })?;
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
        let mut endpoint = Endpoint::new(now, config);
        let rtc = endpoint.rtc();
        for candidate in candidates {
            let c = candidate.to_ice().map_err(|e| {
                tracing::warn!(%candidate, error = %e, "cannot advertise a media address");
                PeerError::BadOffer("the server's audio address is not usable")
            })?;
            rtc.add_local_candidate(c);
        }
        let answer = rtc.sdp_api().accept_offer(offer).map_err(|e| {
            tracing::debug!(error = %e, "audio offer not accepted");
            PeerError::BadOffer(
                "it needs audio lines only, with Opus: one for the microphone, then the slots",
            )
        })?;
        let answer = answer.to_sdp_string();
        // The offer's audio m-lines in order: the first is the microphone (the client
        // sends only), the ones after it that the client receives only are the slots.
        let (mut mic, mut slots) = (None, Vec::new());
        for mid in offer_mids(offer_text) {
            let Some(media) = rtc.media(mid) else { continue };
            if media.kind() != MediaKind::Audio {
                continue;
            }
            match (mic, media.direction()) {
                (None, Direction::RecvOnly) => mic = Some(mid),
                (None, _) => return Err(PeerError::NoMicrophone),
                (Some(_), Direction::SendOnly) if slots.len() < max_slots.min(MAX_STREAMS) => {
                    slots.push(mid)
                }
                _ => {}
            }
        }
        let mic = mic.ok_or(PeerError::NoMicrophone)?;
        // Nothing can be sent before the listener's first STUN request.
        endpoint.negotiated(&answer, slots.clone(), vec![mic], &mut Vec::new())?;
        Ok((Peer { endpoint, ufrag, slots }, answer))
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
        self.endpoint.is_connected()
    }

    /// The transport and remote address media goes on, once ICE chose a pair.
    pub fn remote(&self) -> Option<(Protocol, SocketAddr)> {
        self.endpoint.remote()
    }

    /// Whether the underlying connection is still alive.
    pub fn is_alive(&self) -> bool {
        self.endpoint.is_alive()
    }

    /// When the peer next needs [`Peer::handle_timeout`].
    pub fn timeout(&self) -> Instant {
        self.endpoint.timeout()
    }

    /// Microphone packets the receive fast path opened so far.
    pub fn opened_fast(&self) -> u64 {
        self.endpoint.opened_fast()
    }

    /// Microphone packets the receive fast path refused so far (replays, forgeries).
    pub fn refused_fast(&self) -> u64 {
        self.endpoint.refused_fast()
    }

    /// Whether forwarded audio bypasses str0m's send path.
    pub fn fast_path(&self) -> bool {
        self.endpoint.fast_send()
    }

    /// Whether events wait for [`Peer::poll_event`].
    pub fn has_events(&self) -> bool {
        self.endpoint.has_events()
    }

    /// Feeds one datagram; what it sends goes to `out`, what it reports waits for
    /// [`Peer::poll_event`].
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        d: &Received<'_>,
        out: &mut Vec<Transmit>,
    ) -> Result<(), PeerError> {
        Ok(self.endpoint.handle_datagram(now, d, out)?)
    }

    /// Advances time.
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        out: &mut Vec<Transmit>,
    ) -> Result<(), PeerError> {
        Ok(self.endpoint.handle_timeout(now, out)?)
    }

    /// Sends one Opus packet on a receive slot (`packet.stream`). Dropped silently before
    /// the connection is up.
    pub fn write_audio(
        &mut self,
        now: Instant,
        packet: &Outgoing<'_>,
        out: &mut Vec<Transmit>,
    ) -> Result<(), PeerError> {
        Ok(self.endpoint.write_audio(now, packet, out)?)
    }

    /// The next event: connected, disconnected, or a microphone packet.
    pub fn poll_event(&mut self) -> Option<RtcEvent> {
        self.endpoint.poll_event()
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

    #[test]
    fn refuses_garbage_offers() {
        let now = Instant::now();
        assert!(matches!(Peer::accept(now, "v=0 nonsense", &[], 3), Err(PeerError::BadOffer(_))));
    }
}
