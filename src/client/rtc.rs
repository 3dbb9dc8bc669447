//! The client's WebRTC peer: it makes the offer (one send-only microphone m-line, then
//! the receive-only slots), sends Opus packets and reports what it receives.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

use super::session::{ClientError, ReceivedAudio};
use crate::media::inline::Inline;
use crate::media::keys::{self, KeyTap};
use crate::media::peer::RTCP_INTERVAL;
use crate::media::srtp::{ExtIds, MAX_STREAMS, RtpSealer, RtpWriter};
use crate::media::srtp_open::{OpenError, RtpOpener};

/// What the peer produced.
#[derive(Debug)]
pub enum RtcOutput {
    /// Send this datagram.
    Transmit {
        /// Where to.
        destination: SocketAddr,
        /// What.
        contents: Vec<u8>,
    },
    /// Audio arrived on a slot.
    Audio(ReceivedAudio),
    /// Connected.
    Connected,
    /// The connection ended.
    Disconnected,
}

/// The client's peer.
pub struct ClientRtc {
    /// Boxed: str0m's state is large and rarely touched per packet, so the fast path's
    /// fields below stay on a few cache lines.
    rtc: Box<Rtc>,
    local: SocketAddr,
    mic: Mid,
    pending: Option<SdpPendingOffer>,
    pt: Option<Pt>,
    timeout: Instant,
    /// Where DTLS leaves the SRTP keys for the receive fast path.
    tap: Arc<KeyTap>,
    /// Header extension ids of the answer.
    ext: ExtIds,
    /// The slots' SRTP opened here rather than by str0m (AEAD profiles), once keyed.
    rx: Option<RtpOpener>,
    /// SSRC → slot media id, for the streams the fast path opens (inline: it is read for
    /// every packet received, and a load generator's thousand peers are cold by then).
    slot_of: Inline<(u32, Mid), MAX_STREAMS>,
    /// The microphone written and sealed here rather than through str0m, once keyed.
    tx: Option<RtpWriter>,
    /// Where str0m sends media (the server's candidate ICE chose).
    media_to: Option<SocketAddr>,
}

impl ClientRtc {
    /// A peer bound (logically) to `local`, with `slots` receive slots; returns the SDP
    /// offer to send.
    pub fn offer(
        now: Instant,
        local: SocketAddr,
        slots: usize,
    ) -> Result<(ClientRtc, String), ClientError> {
        crate::media::install_crypto();
        let tap = Arc::new(KeyTap::default());
        let config = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .set_reordering_size_audio(0)
            .set_rtcp_report_interval_audio(RTCP_INTERVAL)
            .set_crypto_provider(keys::provider());
        let mut rtc = Box::new(keys::build_with_tap(&tap, || config.build(now)));
        let candidate =
            Candidate::host(local, "udp").map_err(|e| ClientError::Rtc(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let mut api = rtc.sdp_api();
        let mic = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        for _ in 0..slots {
            api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        }
        let (offer, pending) = api.apply().ok_or_else(|| ClientError::Rtc("empty offer".into()))?;
        let peer = ClientRtc {
            rtc,
            local,
            mic,
            pending: Some(pending),
            pt: None,
            timeout: now,
            tap,
            ext: ExtIds::default(),
            rx: None,
            slot_of: Inline::default(),
            tx: None,
            media_to: None,
        };
        Ok((peer, offer.to_sdp_string()))
    }

    /// Applies the server's answer.
    pub fn accept_answer(
        &mut self,
        sdp: &str,
        out: &mut Vec<RtcOutput>,
    ) -> Result<(), ClientError> {
        self.ext = ExtIds::from_sdp(sdp);
        let answer =
            SdpAnswer::from_sdp_string(sdp).map_err(|e| ClientError::Rtc(e.to_string()))?;
        let pending =
            self.pending.take().ok_or_else(|| ClientError::Rtc("no offer pending".into()))?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| ClientError::Rtc(e.to_string()))?;
        self.pt = self.rtc.writer(self.mic).and_then(|w| {
            w.payload_params().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt())
        });
        self.drain(out)
    }

    /// When [`ClientRtc::handle_timeout`] is next due.
    pub fn timeout(&self) -> Instant {
        self.timeout
    }

    /// Connected to the server.
    pub fn is_connected(&self) -> bool {
        self.rtc.is_connected()
    }

    /// Feeds a datagram from the server, read `now`, that arrived at `arrived` (the
    /// kernel's receive timestamp, or `now`): audio is timed by its arrival.
    pub fn handle_datagram(
        &mut self,
        (now, arrived): (Instant, Instant),
        source: SocketAddr,
        data: &[u8],
        out: &mut Vec<RtcOutput>,
    ) -> Result<(), ClientError> {
        if let Some(rx) = self.rx.as_mut() {
            // Opened straight into the payload handed out: no copy, and no scratch buffer
            // of this peer's own, which would be cold when a thousand peers take turns.
            let mut payload = Vec::new();
            match rx.open(data, self.ext, &mut payload) {
                Ok(o) => {
                    let Some(&(_, mid)) = self.slot_of.iter().find(|(ssrc, _)| *ssrc == o.ssrc)
                    else {
                        return Ok(());
                    };
                    let (rtp_time, seq, len) = (o.timestamp, o.seq, o.payload.len());
                    let level = o.level.map(|(dbov, _)| dbov as i8);
                    payload.truncate(len);
                    out.push(RtcOutput::Audio(ReceivedAudio {
                        mid,
                        rtp_time,
                        seq,
                        level,
                        data: payload,
                        at: arrived,
                    }));
                    return Ok(());
                }
                Err(OpenError::Replayed) => return Ok(()),
                // Anything else is str0m's: RTCP, STUN, unknown streams, failures.
                Err(_) => {}
            }
        }
        let contents = data.try_into().map_err(|_| ClientError::Rtc("bad datagram".into()))?;
        let input = Input::Receive(
            now,
            Receive { proto: Protocol::Udp, source, destination: self.local, contents },
        );
        let result = if self.rtc.accepts(&input) { self.rtc.handle_input(input) } else { Ok(()) };
        let first = out.len();
        self.drain(out)?;
        // Audio str0m let through (a stream's first packets, before the fast path knows
        // its SSRC) is timed by this datagram's arrival too, not by when it was read.
        for o in &mut out[first..] {
            if let RtcOutput::Audio(audio) = o {
                audio.at = arrived;
            }
        }
        result.map_err(|e| ClientError::Rtc(e.to_string()))
    }

    /// Advances time.
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        out: &mut Vec<RtcOutput>,
    ) -> Result<(), ClientError> {
        self.rtc.handle_input(Input::Timeout(now)).map_err(|e| ClientError::Rtc(e.to_string()))?;
        self.drain(out)
    }

    /// Sends one Opus packet from the microphone. `level` is RFC 6464 -dBov.
    pub fn send_audio(
        &mut self,
        now: Instant,
        rtp_time: u64,
        level: i8,
        data: &[u8],
        out: &mut Vec<RtcOutput>,
    ) -> Result<(), ClientError> {
        let Some(pt) = self.pt else { return Ok(()) };
        if !self.rtc.is_connected() {
            // Nothing can be heard before; and the fast path numbers the stream from
            // connection on, so str0m must not have started it.
            return Ok(());
        }
        if let (Some(tx), Some(destination)) = (self.tx.as_mut(), self.media_to) {
            let level =
                Some((level.clamp(0, 127) as u8, level <= crate::media::speech::LOUD_LEVEL));
            let written = tx
                .write(0, *pt, rtp_time as u32, false, level, data, self.ext)
                .map_err(|e| ClientError::Rtc(e.to_string()))?;
            if let Some(contents) = written {
                out.push(RtcOutput::Transmit { destination, contents });
            }
            return Ok(());
        }
        if let Some(w) = self.rtc.writer(self.mic) {
            let time = MediaTime::new(rtp_time, Frequency::FORTY_EIGHT_KHZ);
            // str0m takes the level as negative dB.
            w.audio_level(level.saturating_neg(), level <= crate::media::speech::LOUD_LEVEL)
                .write(pt, now, time, data.to_vec())
                .map_err(|e| ClientError::Rtc(e.to_string()))?;
        }
        // Written media leaves on the next time step; take it now.
        self.drain(out)?;
        self.rtc.handle_input(Input::Timeout(now)).map_err(|e| ClientError::Rtc(e.to_string()))?;
        self.drain(out)
    }

    fn drain(&mut self, out: &mut Vec<RtcOutput>) -> Result<(), ClientError> {
        loop {
            match self.rtc.poll_output().map_err(|e| ClientError::Rtc(e.to_string()))? {
                Output::Timeout(t) => {
                    self.timeout = t;
                    return Ok(());
                }
                Output::Transmit(t) => {
                    if crate::media::srtp::on_media_path(&t.contents) {
                        self.media_to = Some(t.destination);
                    }
                    out.push(RtcOutput::Transmit {
                        destination: t.destination,
                        contents: t.contents.into(),
                    });
                }
                Output::Event(Event::Connected) => {
                    self.arm_fast_path();
                    out.push(RtcOutput::Connected)
                }
                Output::Event(Event::IceConnectionStateChange(
                    IceConnectionState::Disconnected,
                )) => {
                    out.push(RtcOutput::Disconnected);
                }
                Output::Event(Event::MediaData(d)) => {
                    self.learn_slot(d.mid, **d.seq_range.end());
                    out.push(RtcOutput::Audio(ReceivedAudio {
                        mid: d.mid,
                        rtp_time: d.time.numer(),
                        seq: **d.seq_range.start(),
                        level: d.ext_vals.audio_level.map(i8::saturating_neg),
                        data: d.data.to_vec(),
                        at: d.network_time,
                    }))
                }
                Output::Event(_) => {}
            }
        }
    }

    /// Writes the microphone and opens the slots here from now on, for an AEAD profile.
    fn arm_fast_path(&mut self) {
        let Some(keys) = self.tap.take() else { return };
        let crypto = crate::media::keys::backend();
        self.rx = RtpOpener::new(crypto, &keys).ok();
        self.slot_of.clear();
        let mic = self.mic;
        let ssrc = self.rtc.direct_api().stream_tx_by_mid(mic, None).map(|s| *s.ssrc());
        self.tx = match (RtpSealer::new(crypto, &keys), ssrc) {
            (Ok(sealer), Some(ssrc)) => Some(RtpWriter::new(sealer, vec![(ssrc, mic)])),
            _ => None,
        };
    }

    /// Hands a slot's stream to the fast path once str0m has seen its first packet.
    fn learn_slot(&mut self, mid: Mid, seq: u64) {
        let Some(rx) = self.rx.as_mut() else { return };
        if let Some(stream) = self.rtc.direct_api().stream_rx_by_mid(mid, None) {
            let ssrc = *stream.ssrc();
            // Past MAX_STREAMS slots, str0m goes on opening them.
            if !rx.knows(ssrc) && self.slot_of.push((ssrc, mid)).is_ok() {
                rx.add_stream(ssrc, Some(seq));
            }
        }
    }
}
