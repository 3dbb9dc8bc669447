//! The receive half of the fast path: opens SRTP-GCM audio packets of known streams
//! (RFC 7714), with the rollover-counter estimate and replay window of RFC 3711 §3.3,
//! and reads the RFC 6464 audio level from the RFC 8285 header extensions.
//!
//! Used by the server for microphones and by the client core for slots. Anything it does
//! not recognise — RTCP, an unknown SSRC, a packet that fails authentication — is left to
//! str0m, which owns the connection.

use str0m::crypto::CryptoProvider;

use super::inline::Inline;
use super::keys::ExportedKeys;
use super::srtp::{ExtIds, Gcm, MAX_STREAMS, SrtpError, TAG_LEN};

/// Size of the replay window (RFC 3711 §3.3.2 asks for at least 64).
const REPLAY_WINDOW: u64 = 64;

/// Why a packet was not opened here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Not an RTP packet (RTCP, STUN, DTLS…).
    #[error("not RTP")]
    NotRtp,
    /// RTP of a stream this opener does not know.
    #[error("unknown SSRC")]
    UnknownSsrc,
    /// Too short or inconsistent header.
    #[error("malformed RTP")]
    Malformed,
    /// Seen before, or older than the replay window.
    #[error("replayed packet")]
    Replayed,
    /// The authentication tag did not match.
    #[error("authentication failed")]
    Auth,
}

/// One opened packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened<'a> {
    /// Stream source.
    pub ssrc: u32,
    /// Sequence number extended with the rollover counter.
    pub seq: u64,
    /// Timestamp extended past its 32-bit wraps.
    pub timestamp: u64,
    /// Marker bit (start of a talk spurt for audio).
    pub marker: bool,
    /// Payload type.
    pub pt: u8,
    /// RFC 6464 level in -dBov and the voice flag, if sent.
    pub level: Option<(u8, bool)>,
    /// The decrypted payload, padding removed.
    pub payload: &'a [u8],
}

#[derive(Debug, Default, Clone, Copy)]
struct RxStream {
    ssrc: u32,
    /// Highest index seen (ROC << 16 | SEQ); None before the first packet.
    highest: Option<u64>,
    /// Bit i set: index `highest - i` was received.
    window: u64,
    /// Last timestamp, extended; None before the first packet opened here.
    timestamp: Option<u64>,
}

/// Opens the SRTP audio of at most `N` streams it was told about (a client's slots; the
/// server's one microphone per peer).
#[derive(Debug)]
pub struct RtpOpener<const N: usize = MAX_STREAMS> {
    gcm: Gcm,
    /// Inline ([`Inline`]): read for every packet opened, when the opener is cold.
    streams: Inline<RxStream, N>,
}

impl<const N: usize> RtpOpener<N> {
    /// The opener for what the other side sends, from a handshake's export.
    pub fn new(crypto: &CryptoProvider, keys: &ExportedKeys) -> Result<Self, SrtpError> {
        // The other side writes with the key we do not.
        let theirs = ExportedKeys { active: !keys.active, ..keys.clone() };
        Ok(RtpOpener { gcm: Gcm::new(crypto, &theirs)?, streams: Inline::default() })
    }

    /// Opens packets of `ssrc` from now on. `highest` is the highest packet index
    /// (rollover counter and sequence number) already seen on the stream, if any, so the
    /// rollover counter carries on from there. At most `N` are; past that,
    /// returns false and [`RtpOpener::knows`] stays false for `ssrc`.
    pub fn add_stream(&mut self, ssrc: u32, highest: Option<u64>) -> bool {
        if self.knows(ssrc) {
            return true;
        }
        let window = u64::from(highest.is_some());
        self.streams.push(RxStream { ssrc, highest, window, timestamp: None }).is_ok()
    }

    /// Whether any stream is known yet.
    pub fn knows_any(&self) -> bool {
        !self.streams.is_empty()
    }

    /// Whether packets of `ssrc` are opened here.
    pub fn knows(&self, ssrc: u32) -> bool {
        self.streams.iter().any(|s| s.ssrc == ssrc)
    }

    /// Opens one datagram into `buf` (reused); header extensions read with `ext`.
    pub fn open<'a>(
        &mut self,
        packet: &[u8],
        ext: ExtIds,
        buf: &'a mut Vec<u8>,
    ) -> Result<Opened<'a>, OpenError> {
        // RTP, not RTCP (RFC 5761 §4: RTCP packet types 192–223 in the second byte).
        if packet.len() < 12 || packet[0] >> 6 != 2 || (192..=223).contains(&packet[1]) {
            return Err(OpenError::NotRtp);
        }
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        let Some(k) = self.streams.iter().position(|s| s.ssrc == ssrc) else {
            return Err(OpenError::UnknownSsrc);
        };
        let header_len = header_len(packet).ok_or(OpenError::Malformed)?;
        if packet.len() < header_len + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let stream = self.streams[k];
        let index = estimate_index(stream.highest, seq);
        if stream.is_replay(index) {
            return Err(OpenError::Replayed);
        }
        let iv = self.gcm.iv(ssrc, (index >> 16) as u32, seq);
        let (header, body) = packet.split_at(header_len);
        buf.clear();
        buf.resize(body.len(), 0);
        let opened = self.gcm.open(&iv, header, body, buf);
        let mut len = opened.ok_or(OpenError::Auth)?;
        if packet[0] & 0x20 != 0 {
            // Padding: the last byte counts the padding bytes, itself included.
            let pad = usize::from(*buf[..len].last().ok_or(OpenError::Malformed)?);
            len = len.checked_sub(pad).ok_or(OpenError::Malformed)?;
        }
        // Authentic: only now does it move the stream's state.
        let timestamp = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let s = &mut self.streams[k];
        s.accept(index);
        let extended = match s.timestamp {
            None => u64::from(timestamp),
            Some(last) => {
                let delta = timestamp.wrapping_sub(last as u32) as i32;
                last.wrapping_add_signed(i64::from(delta))
            }
        };
        s.timestamp = Some(extended);
        Ok(Opened {
            ssrc,
            seq: index,
            timestamp: extended,
            marker: packet[1] & 0x80 != 0,
            pt: packet[1] & 0x7f,
            level: ext.audio_level.and_then(|id| audio_level(packet, id)),
            payload: &buf[..len],
        })
    }
}

impl RxStream {
    fn is_replay(&self, index: u64) -> bool {
        let Some(highest) = self.highest else { return false };
        if index > highest {
            return false;
        }
        let age = highest - index;
        age >= REPLAY_WINDOW || self.window & (1 << age) != 0
    }

    fn accept(&mut self, index: u64) {
        match self.highest {
            Some(h) if index <= h => self.window |= 1 << (h - index),
            Some(h) => {
                let shift = index - h;
                self.window = if shift >= REPLAY_WINDOW { 0 } else { self.window << shift };
                self.window |= 1;
                self.highest = Some(index);
            }
            None => {
                self.window = 1;
                self.highest = Some(index);
            }
        }
    }
}

/// The packet index (ROC << 16 | SEQ) a sequence number most likely has, given the
/// highest seen (RFC 3711 Appendix A).
fn estimate_index(highest: Option<u64>, seq: u16) -> u64 {
    let Some(h) = highest else { return u64::from(seq) };
    let (roc, s_l) = (h >> 16, (h & 0xffff) as u16);
    let seq64 = u64::from(seq);
    let v = if s_l < 0x8000 {
        if u32::from(seq) > u32::from(s_l) + 0x8000 { roc.wrapping_sub(1) } else { roc }
    } else if u32::from(s_l) > u32::from(seq) + 0x8000 {
        roc + 1
    } else {
        roc
    };
    (v << 16) | seq64
}

/// Length of the RTP header: fixed part, CSRCs and the extension block.
fn header_len(p: &[u8]) -> Option<usize> {
    let mut len = 12 + 4 * usize::from(p[0] & 0x0f);
    if p[0] & 0x10 != 0 {
        let words = p.get(len + 2..len + 4)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    (len <= p.len()).then_some(len)
}

/// The audio level element `id` of the header's extension block, if present.
fn audio_level(p: &[u8], id: u8) -> Option<(u8, bool)> {
    if p[0] & 0x10 == 0 {
        return None;
    }
    let start = 12 + 4 * usize::from(p[0] & 0x0f);
    let profile = u16::from_be_bytes([*p.get(start)?, *p.get(start + 1)?]);
    let words = usize::from(u16::from_be_bytes([*p.get(start + 2)?, *p.get(start + 3)?]));
    let block = p.get(start + 4..start + 4 + 4 * words)?;
    let mut i = 0;
    while i < block.len() {
        let (elem_id, len, data_at) = if profile == 0xBEDE {
            let b = block[i];
            if b == 0 {
                i += 1; // padding
                continue;
            }
            if b >> 4 == 15 {
                return None; // stop
            }
            (b >> 4, usize::from(b & 0x0f) + 1, i + 1)
        } else if profile & 0xfff0 == 0x1000 {
            if block[i] == 0 {
                i += 1;
                continue;
            }
            (block[i], usize::from(*block.get(i + 1)?), i + 2)
        } else {
            return None;
        };
        if elem_id == id {
            let v = *block.get(data_at)?;
            return Some((v & 0x7f, v & 0x80 != 0));
        }
        i = data_at + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use str0m::crypto::dtls::SrtpProfile;

    use super::*;
    use crate::rtp::srtp::{Header, RtpSealer};

    fn keys(active: bool) -> ExportedKeys {
        let material = (0..88u8).map(|i| i.wrapping_mul(37)).collect();
        ExportedKeys { profile: SrtpProfile::AEAD_AES_256_GCM, material, active }
    }

    fn sealed(sealer: &mut RtpSealer, seq: u16, roc: u32, ts: u32, level: u8) -> Vec<u8> {
        let ids = ExtIds { audio_level: Some(1), mid: Some(4) };
        let h = Header {
            marker: seq == 7,
            pt: 111,
            seq,
            timestamp: ts,
            ssrc: 42,
            level: Some((level, true)),
            mid: "0",
        };
        let mut out = Vec::new();
        h.write(ids, &mut out);
        let header_len = out.len();
        out.extend_from_slice(b"opus frame");
        sealer.seal(&mut out, header_len, 42, roc, seq).unwrap();
        out
    }

    #[test]
    fn knows_at_most_max_streams() {
        let mut opener: RtpOpener =
            RtpOpener::new(crate::rtp::keys::backend(), &keys(false)).unwrap();
        for ssrc in 0..MAX_STREAMS as u32 {
            assert!(opener.add_stream(ssrc, None));
        }
        assert!(opener.add_stream(0, None), "a known stream is still known");
        assert!(!opener.add_stream(99, None));
        assert!(!opener.knows(99));
        assert!((0..MAX_STREAMS as u32).all(|ssrc| opener.knows(ssrc)));
    }

    #[test]
    fn opens_what_the_other_side_sealed_and_refuses_replays_and_forgeries() {
        let crypto = crate::rtp::keys::backend();
        // The DTLS client seals, the server opens.
        let mut sealer = RtpSealer::new(crypto, &keys(true)).unwrap();
        let mut opener: RtpOpener = RtpOpener::new(crypto, &keys(false)).unwrap();
        let ids = ExtIds { audio_level: Some(1), mid: Some(4) };
        let mut buf = Vec::new();
        let p = sealed(&mut sealer, 7, 0, 1000, 33);
        assert_eq!(opener.open(&p, ids, &mut buf), Err(OpenError::UnknownSsrc));
        opener.add_stream(42, None);
        let o = opener.open(&p, ids, &mut buf).unwrap();
        assert_eq!((o.seq, o.timestamp, o.marker, o.pt), (7, 1000, true, 111));
        assert_eq!(o.level, Some((33, true)));
        assert_eq!(o.payload, b"opus frame");
        assert_eq!(opener.open(&p, ids, &mut buf), Err(OpenError::Replayed));
        let mut forged = sealed(&mut sealer, 8, 0, 1960, 33);
        *forged.last_mut().unwrap() ^= 1;
        assert_eq!(opener.open(&forged, ids, &mut buf), Err(OpenError::Auth));
        // The forgery did not burn its sequence number.
        assert!(opener.open(&sealed(&mut sealer, 8, 0, 1960, 33), ids, &mut buf).is_ok());
        // Late but inside the window: accepted once.
        let late = sealed(&mut sealer, 5, 0, 40, 33);
        assert_eq!(opener.open(&late, ids, &mut buf).unwrap().seq, 5);
        assert_eq!(opener.open(&late, ids, &mut buf), Err(OpenError::Replayed));
    }

    #[test]
    fn aes_128_gcm_round_trips_and_keys_are_per_direction() {
        let crypto = crate::rtp::keys::backend();
        let k = |active| ExportedKeys {
            profile: SrtpProfile::AEAD_AES_128_GCM,
            material: (0..56u8).collect(),
            active,
        };
        let mut sealer = RtpSealer::new(crypto, &k(false)).unwrap();
        let ids = ExtIds { audio_level: Some(1), mid: Some(4) };
        let p = sealed(&mut sealer, 100, 0, 5000, 60);
        let mut buf = Vec::new();
        // Our own direction's key does not open what we sealed: the halves differ.
        let mut same_side: RtpOpener = RtpOpener::new(crypto, &k(false)).unwrap();
        same_side.add_stream(42, None);
        assert_eq!(same_side.open(&p, ids, &mut buf), Err(OpenError::Auth));
        let mut opener: RtpOpener = RtpOpener::new(crypto, &k(true)).unwrap();
        opener.add_stream(42, None);
        let o = opener.open(&p, ids, &mut buf).unwrap();
        assert_eq!((o.seq, o.timestamp, o.level), (100, 5000, Some((60, true))));
        assert_eq!(o.payload, b"opus frame");
    }

    #[test]
    fn sequence_and_timestamp_wraps_are_followed() {
        let crypto = crate::rtp::keys::backend();
        let mut sealer = RtpSealer::new(crypto, &keys(false)).unwrap();
        let mut opener: RtpOpener = RtpOpener::new(crypto, &keys(true)).unwrap();
        opener.add_stream(42, None);
        let ids = ExtIds { audio_level: Some(1), mid: Some(4) };
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for (seq, roc, ts) in
            [(65534, 0, u32::MAX - 959), (65535, 0, u32::MAX), (0, 1, 959), (1, 1, 1919)]
        {
            let o = opener.open(&sealed(&mut sealer, seq, roc, ts, 20), ids, &mut buf).unwrap();
            got.push((o.seq, o.timestamp));
        }
        let base = u64::from(u32::MAX);
        assert_eq!(
            got,
            vec![(65534, base - 959), (65535, base), (65536, base + 960), (65537, base + 1920)]
        );
    }

    #[test]
    fn a_stream_handed_over_after_a_wrap_keeps_its_rollover_counter() {
        let crypto = crate::rtp::keys::backend();
        let mut sealer = RtpSealer::new(crypto, &keys(false)).unwrap();
        let mut opener: RtpOpener = RtpOpener::new(crypto, &keys(true)).unwrap();
        // str0m saw up to ROC 1, SEQ 3 before the fast path took the stream.
        opener.add_stream(42, Some((1 << 16) | 3));
        let ids = ExtIds { audio_level: Some(1), mid: Some(4) };
        let mut buf = Vec::new();
        let o = opener.open(&sealed(&mut sealer, 4, 1, 100, 20), ids, &mut buf).unwrap();
        assert_eq!(o.seq, (1 << 16) | 4);
        // The packet str0m already handled is a replay here.
        let seen = sealed(&mut sealer, 3, 1, 80, 20);
        assert_eq!(opener.open(&seen, ids, &mut buf), Err(OpenError::Replayed));
    }

    #[test]
    fn rtcp_and_short_packets_are_not_rtp() {
        let crypto = crate::rtp::keys::backend();
        let mut opener: RtpOpener = RtpOpener::new(crypto, &keys(true)).unwrap();
        let mut buf = Vec::new();
        let ids = ExtIds::default();
        let rtcp = [0x80, 200, 0, 6, 0, 0, 0, 42, 0, 0, 0, 0];
        assert_eq!(opener.open(&rtcp, ids, &mut buf), Err(OpenError::NotRtp));
        assert_eq!(opener.open(&[0x80, 111], ids, &mut buf), Err(OpenError::NotRtp));
        opener.add_stream(42, None);
        let truncated = [0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 42, 0xBE, 0xDE, 0, 9];
        assert_eq!(opener.open(&truncated, ids, &mut buf), Err(OpenError::Malformed));
    }

    #[test]
    fn two_byte_extensions_and_padding_elements_are_read() {
        // Two-byte profile: element id 3, length 1.
        let p = [0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 42, 0x10, 0x00, 0, 1, 3, 1, 0x85, 0];
        assert_eq!(audio_level(&p, 3), Some((5, true)));
        // One-byte profile with a padding byte before the element.
        let p = [0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 42, 0xBE, 0xDE, 0, 1, 0, 0x20, 0x1e, 0];
        assert_eq!(audio_level(&p, 2), Some((30, false)));
        assert_eq!(audio_level(&p, 1), None);
    }
}
