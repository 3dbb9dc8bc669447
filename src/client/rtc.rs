//! The client's WebRTC peer: an [`Endpoint`] that makes the offer (one send-only
//! microphone m-line, then the receive-only slots), sends Opus packets and reports what
//! it receives.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::{Candidate, Rtc};

use crate::rtp::srtp::MAX_STREAMS;
use crate::rtp::{
    Endpoint, Outgoing, Protocol, RTCP_INTERVAL, Received, RtcEvent, RtpError, Transmit,
};

/// Why the client's peer could not negotiate, or refused an input.
#[derive(Debug, thiserror::Error)]
pub enum ClientRtcError {
    /// The offer could not be made or the answer not applied.
    #[error("cannot negotiate audio: {0}")]
    Negotiation(String),
    /// The connection refused an input.
    #[error(transparent)]
    Rtp(#[from] RtpError),
}

/// The client's peer.
pub struct ClientRtc {
    endpoint: Endpoint<MAX_STREAMS>,
    local: SocketAddr,
    mic: Mid,
    slots: Vec<Mid>,
    pending: Option<SdpPendingOffer>,
}

impl std::fmt::Debug for ClientRtc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRtc")
            .field("local", &self.local)
            .field("slots", &self.slots.len())
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl ClientRtc {
    /// A peer bound (logically) to `local`, with `slots` receive slots; returns the SDP
    /// offer to send.
    pub fn offer(
        now: Instant,
        local: SocketAddr,
        slots: usize,
    ) -> Result<(ClientRtc, String), ClientRtcError> {
        let mut endpoint = endpoint(now, local)?;
        let rtc = endpoint.rtc();
        let mut api = rtc.sdp_api();
        let mic = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let slots = (0..slots)
            .map(|_| api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None))
            .collect();
        let (offer, pending) =
            api.apply().ok_or_else(|| ClientRtcError::Negotiation("empty offer".into()))?;
        let peer = ClientRtc { endpoint, local, mic, slots, pending: Some(pending) };
        Ok((peer, offer.to_sdp_string()))
    }

    /// A peer that answers an offer it was sent (a server that offers, as Janus does to
    /// a subscriber): every audio m-line of the offer is received, none sent. Returns the
    /// peer and the SDP answer.
    pub fn answer(
        now: Instant,
        local: SocketAddr,
        offer: &str,
        out: &mut Vec<Transmit>,
    ) -> Result<(ClientRtc, String), ClientRtcError> {
        let negotiation = |e: &dyn std::fmt::Display| ClientRtcError::Negotiation(e.to_string());
        let mut endpoint = endpoint(now, local)?;
        let rtc = endpoint.rtc();
        let parsed = SdpOffer::from_sdp_string(offer).map_err(|e| negotiation(&e))?;
        let answer = rtc.sdp_api().accept_offer(parsed).map_err(|e| negotiation(&e))?;
        let answer = answer.to_sdp_string();
        // The offer's audio m-lines, in order: each is one received stream.
        let slots: Vec<Mid> = offer
            .split("\nm=")
            .skip(1)
            .filter(|section| section.starts_with("audio"))
            .filter_map(|section| {
                section.lines().find_map(|l| l.trim().strip_prefix("a=mid:")).map(Mid::from)
            })
            .collect();
        let mic = Mid::from("none");
        endpoint.negotiated(offer, Vec::new(), slots.clone(), out)?;
        Ok((ClientRtc { endpoint, local, mic, slots, pending: None }, answer))
    }

    /// Applies the server's answer.
    pub fn accept_answer(
        &mut self,
        sdp: &str,
        out: &mut Vec<Transmit>,
    ) -> Result<(), ClientRtcError> {
        let negotiation = |e: &dyn std::fmt::Display| ClientRtcError::Negotiation(e.to_string());
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| negotiation(&e))?;
        let pending = self.pending.take().ok_or_else(|| negotiation(&"no offer pending"))?;
        self.endpoint
            .rtc()
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| negotiation(&e))?;
        Ok(self.endpoint.negotiated(sdp, vec![self.mic], self.slots.clone(), out)?)
    }

    /// When [`ClientRtc::handle_timeout`] is next due.
    pub fn timeout(&self) -> Instant {
        self.endpoint.timeout()
    }

    /// Connected to the server.
    pub fn is_connected(&self) -> bool {
        self.endpoint.is_connected()
    }

    /// Feeds a datagram from the server, handled `now`; audio in it is timed by its
    /// arrival (`d.arrived`).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        d: &Received<'_>,
        out: &mut Vec<Transmit>,
    ) -> Result<(), ClientRtcError> {
        Ok(self.endpoint.handle_datagram(now, d, out)?)
    }

    /// A datagram from `source` that arrived at `arrived` on this peer's socket.
    pub fn received<'a>(
        &self,
        source: SocketAddr,
        contents: &'a [u8],
        arrived: Instant,
    ) -> Received<'a> {
        Received { proto: Protocol::Udp, source, destination: self.local, contents, arrived }
    }

    /// Advances time.
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        out: &mut Vec<Transmit>,
    ) -> Result<(), ClientRtcError> {
        Ok(self.endpoint.handle_timeout(now, out)?)
    }

    /// Sends one Opus packet from the microphone. `level` is RFC 6464 -dBov.
    pub fn send_audio(
        &mut self,
        now: Instant,
        rtp_time: u64,
        level: i8,
        data: &[u8],
        out: &mut Vec<Transmit>,
    ) -> Result<(), ClientRtcError> {
        let packet = Outgoing {
            stream: 0,
            rtp_time,
            talkspurt: false,
            level: Some(level),
            voice: None,
            payload: data,
            wallclock: now,
        };
        Ok(self.endpoint.write_audio(now, &packet, out)?)
    }

    /// The next event: connected, disconnected, or audio on a slot.
    pub fn poll_event(&mut self) -> Option<RtcEvent> {
        self.endpoint.poll_event()
    }
}

/// The client's endpoint, Opus only, with its one host candidate at `local`; for an
/// offer or an answer alike.
fn endpoint(now: Instant, local: SocketAddr) -> Result<Endpoint<MAX_STREAMS>, ClientRtcError> {
    let config = Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .set_reordering_size_audio(0)
        .set_rtcp_report_interval_audio(RTCP_INTERVAL);
    let mut endpoint = Endpoint::new(now, config);
    let candidate =
        Candidate::host(local, "udp").map_err(|e| ClientRtcError::Negotiation(e.to_string()))?;
    endpoint.rtc().add_local_candidate(candidate);
    Ok(endpoint)
}
