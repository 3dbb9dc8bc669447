//! The forwarding fast path's packet writer: an RTP header with the audio-level and MID
//! extensions, sealed as SRTP with AEAD AES-GCM. Sans-IO and allocation-free apart from
//! the output buffer.
//!
//! - Keys: the session key and salt are derived from the DTLS export with the AES-CM PRF
//!   of RFC 3711 §4.3.3 (AES-256 per RFC 6188); the layout of the export is RFC 5764
//!   §4.2 (client key, server key, client salt, server salt).
//! - Sealing: RFC 7714 §8–9: the IV is the session salt XOR (0, SSRC, ROC, SEQ), the RTP
//!   header is the associated data, the 16-byte tag follows the ciphertext.
//!
//! Only the send side of RTP, only the AEAD profiles: str0m keeps doing RTCP, receiving,
//! and every other profile (the endpoint then writes through str0m, see [`super::endpoint`]).

use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use str0m::crypto::CryptoProvider;
use str0m::crypto::dtls::SrtpProfile;
use str0m::media::Mid;

use super::Outgoing;
use super::inline::Inline;
use super::keys::ExportedKeys;

/// SRTP-GCM authentication tag length.
pub const TAG_LEN: usize = 16;
/// Session salt length of the AEAD profiles.
pub(crate) const SALT_LEN: usize = 12;
/// The longest header [`Header::write`] writes: 12 fixed bytes, the extension block's 4,
/// a level (2) and a MID of up to 16 (17), padded to words.
const MAX_HEADER: usize = 12 + 4 + 20;
/// KDF labels (RFC 3711 §4.3.2).
const LABEL_RTP_KEY: u8 = 0x00;
const LABEL_RTP_SALT: u8 = 0x02;

/// Why a sealer could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum SrtpError {
    /// The profile is not one the fast path implements.
    #[error("SRTP profile {0:?} is not handled by the fast path")]
    Unsupported(SrtpProfile),
    /// The exported keying material is shorter than the profile needs.
    #[error("DTLS exported {got} bytes of keying material, {need} needed")]
    ShortMaterial {
        /// Bytes exported.
        got: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The cipher refused (should not happen with valid keys).
    #[error("SRTP encryption failed: {0}")]
    Cipher(String),
}

/// The AES-GCM cipher and session salt of one direction's RTP (RFC 7714), shared by the
/// sealer here and the opener in [`super::srtp_open`].
///
/// The cipher is ring's, whose key schedule and GHASH table live inside the key value
/// itself (about 0.5 KB) rather than behind a pointer on the C heap. Sealing is
/// memory-bound on a busy server: each listener's key is cold by the time its next
/// packet comes, 20 ms and a thousand other packets later. Held inline, the key sits
/// in the same few pages as the rest of its peer's fast-path state, next to the other
/// listeners of the room, so the fan-out reads neighbouring memory instead of one
/// scattered heap block per listener (see `docs/design.md`). Key derivation still goes
/// through str0m's provider.
pub(crate) struct Gcm {
    key: LessSafeKey,
    salt: [u8; SALT_LEN],
}

impl std::fmt::Debug for Gcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bits = 8 * self.key.algorithm().key_len();
        f.debug_struct("Gcm").field("aes_bits", &bits).finish_non_exhaustive()
    }
}

impl Gcm {
    /// The cipher of the side that writes with `keys` (the DTLS client's half of the
    /// export when `keys.active`), for sealing or opening.
    pub(crate) fn new(crypto: &CryptoProvider, keys: &ExportedKeys) -> Result<Gcm, SrtpError> {
        let (session_key, salt) = session_keys(crypto, keys)?;
        let (algorithm, len) = if keys.profile == SrtpProfile::AEAD_AES_128_GCM {
            (&AES_128_GCM, 16)
        } else {
            (&AES_256_GCM, 32)
        };
        let key = UnboundKey::new(algorithm, &session_key[..len])
            .map_err(|e| SrtpError::Cipher(e.to_string()))?;
        Ok(Gcm { key: LessSafeKey::new(key), salt })
    }

    /// RFC 7714 §8.1: the session salt XOR (0, SSRC, ROC, SEQ).
    pub(crate) fn iv(&self, ssrc: u32, roc: u32, seq: u16) -> [u8; 12] {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[6..10].copy_from_slice(&roc.to_be_bytes());
        iv[10..12].copy_from_slice(&seq.to_be_bytes());
        for (b, s) in iv.iter_mut().zip(self.salt) {
            *b ^= s;
        }
        iv
    }

    /// Encrypts `in_out` in place and returns the tag.
    fn seal(&self, iv: [u8; 12], aad: &[u8], in_out: &mut [u8]) -> Option<[u8; TAG_LEN]> {
        let nonce = Nonce::assume_unique_for_key(iv);
        let tag = self.key.seal_in_place_separate_tag(nonce, Aad::from(aad), in_out).ok()?;
        tag.as_ref().try_into().ok()
    }

    /// Decrypts and authenticates `input` (ciphertext and tag) into `output`; the
    /// plaintext length, or None when the tag does not match or either is too short.
    pub(crate) fn open(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        input: &[u8],
        output: &mut [u8],
    ) -> Option<usize> {
        let len = input.len().checked_sub(TAG_LEN)?;
        let (ciphertext, tag) = input.split_at(len);
        let tag = Tag::from(<[u8; TAG_LEN]>::try_from(tag).ok()?);
        let plain = output.get_mut(..len)?;
        plain.copy_from_slice(ciphertext);
        let nonce = Nonce::assume_unique_for_key(*iv);
        match self.key.open_in_place_separate_tag(nonce, Aad::from(aad), tag, plain, 0..) {
            Ok(_) => Some(len),
            Err(_) => {
                // Leave no unauthenticated plaintext behind.
                plain.fill(0);
                None
            }
        }
    }
}

/// Seals RTP packets for one direction of one DTLS association.
#[derive(Debug)]
pub struct RtpSealer {
    gcm: Gcm,
}

impl RtpSealer {
    /// The sealer for what we send, from a handshake's export.
    pub fn new(crypto: &CryptoProvider, keys: &ExportedKeys) -> Result<Self, SrtpError> {
        Ok(RtpSealer { gcm: Gcm::new(crypto, keys)? })
    }

    /// Seals `packet`, an RTP packet whose header (extensions included) is its first
    /// `header_len` bytes: the payload after it is encrypted in place and the tag
    /// appended. `roc` is the rollover counter of the stream's `seq`.
    pub fn seal(
        &self,
        packet: &mut Vec<u8>,
        header_len: usize,
        ssrc: u32,
        roc: u32,
        seq: u16,
    ) -> Result<(), SrtpError> {
        let iv = self.gcm.iv(ssrc, roc, seq);
        if header_len > packet.len() {
            return Err(SrtpError::Cipher("the header is longer than the packet".into()));
        }
        let (header, body) = packet.split_at_mut(header_len);
        let tag = self
            .gcm
            .seal(iv, header, body)
            .ok_or_else(|| SrtpError::Cipher("AES-GCM refused to seal".into()))?;
        packet.extend_from_slice(&tag);
        Ok(())
    }
}

/// The RTP session key (the first 16 bytes for AES-128) and salt of the side that
/// writes with `keys` (the DTLS client's half of the export when `keys.active`).
fn session_keys(
    crypto: &CryptoProvider,
    keys: &ExportedKeys,
) -> Result<([u8; 32], [u8; SALT_LEN]), SrtpError> {
    let key_len = match keys.profile {
        SrtpProfile::AEAD_AES_128_GCM => 16,
        SrtpProfile::AEAD_AES_256_GCM => 32,
        other => return Err(SrtpError::Unsupported(other)),
    };
    let m = &keys.material;
    let need = 2 * (key_len + SALT_LEN);
    if m.len() < need {
        return Err(SrtpError::ShortMaterial { got: m.len(), need });
    }
    let (key_at, salt_at) =
        if keys.active { (0, 2 * key_len) } else { (key_len, 2 * key_len + SALT_LEN) };
    let master_key = &m[key_at..key_at + key_len];
    let master_salt = &m[salt_at..salt_at + SALT_LEN];
    let mut session_key = [0u8; 32];
    let mut salt = [0u8; SALT_LEN];
    derive(crypto, master_key, master_salt, LABEL_RTP_KEY, &mut session_key[..key_len]);
    derive(crypto, master_key, master_salt, LABEL_RTP_SALT, &mut salt);
    Ok((session_key, salt))
}

/// The AES-CM PRF of RFC 3711 §4.3.3 with a key derivation rate of zero: the keystream of
/// AES-CTR under the master key, starting at IV = (master salt XOR label at byte 7) · 2^16.
/// A 12-byte (AEAD) master salt is zero-padded to the 14 bytes of the original scheme.
fn derive(
    crypto: &CryptoProvider,
    master_key: &[u8],
    master_salt: &[u8],
    label: u8,
    out: &mut [u8],
) {
    let mut block = [0u8; 16];
    block[..master_salt.len()].copy_from_slice(master_salt);
    block[7] ^= label;
    let mut keystream = [0u8; 16];
    for (i, chunk) in out.chunks_mut(16).enumerate() {
        block[14..16].copy_from_slice(&(i as u16).to_be_bytes());
        if master_key.len() == 32 {
            crypto.srtp_provider.srtp_aes_256_ecb_round(master_key, &block, &mut keystream);
        } else {
            crypto.srtp_provider.srtp_aes_128_ecb_round(master_key, &block, &mut keystream);
        }
        chunk.copy_from_slice(&keystream[..chunk.len()]);
    }
}

/// Writes and seals the RTP packets of a few outgoing streams: what str0m's send path
/// would do for a pre-encoded Opus packet (RTP header, sequence numbers, SRTP), without
/// its per-packet queueing, pacing and timers.
#[derive(Debug)]
pub struct RtpWriter {
    sealer: RtpSealer,
    /// Inline ([`Inline`]): read for every forwarded packet.
    streams: Inline<TxStream, MAX_STREAMS>,
}

/// Most streams one writer writes (a listener's receive slots are at most 8).
pub const MAX_STREAMS: usize = 8;

/// One outgoing stream.
#[derive(Debug, Default, Clone, Copy)]
struct TxStream {
    /// The SSRC the session description announced for the stream's m-line.
    ssrc: u32,
    /// The m-line's MID (str0m's, inline: at most 16 bytes).
    mid: Mid,
    /// Next sequence number.
    seq: u16,
    /// Rollover counter of `seq` (RFC 3711 §3.3.1).
    roc: u32,
}

impl RtpWriter {
    /// A writer for `streams` (SSRC and MID each, at most [`MAX_STREAMS`]; any more are
    /// not written), sequence numbers starting at random.
    pub fn new(sealer: RtpSealer, streams: Vec<(u32, Mid)>) -> Self {
        let streams = streams.into_iter().map(|(ssrc, mid)| TxStream {
            ssrc,
            mid,
            seq: rand::random::<u16>() & 0x7fff,
            roc: 0,
        });
        RtpWriter { sealer, streams: Inline::from_iter_capped(streams) }
    }

    /// New keys for the same streams: sequence numbers go on.
    pub fn rekey(&mut self, sealer: RtpSealer) {
        self.sealer = sealer;
    }

    /// One packet on the stream `out.stream` with payload type `pt`, sealed (None when
    /// there is no such stream).
    pub fn write(
        &mut self,
        pt: u8,
        out: &Outgoing<'_>,
        ext: ExtIds,
    ) -> Result<Option<Vec<u8>>, SrtpError> {
        let Some(tx) = self.streams.get_mut(out.stream) else { return Ok(None) };
        let (marker, timestamp, level, payload) =
            (out.talkspurt, out.rtp_time as u32, out.level_ext(), out.payload);
        let header =
            Header { marker, pt, seq: tx.seq, timestamp, ssrc: tx.ssrc, level, mid: &tx.mid };
        // The header goes straight into the packet, which is sealed in place.
        let mut packet = Vec::with_capacity(MAX_HEADER + payload.len() + TAG_LEN);
        header.write(ext, &mut packet);
        let header_len = packet.len();
        packet.extend_from_slice(payload);
        self.sealer.seal(&mut packet, header_len, tx.ssrc, tx.roc, tx.seq)?;
        tx.seq = tx.seq.wrapping_add(1);
        if tx.seq == 0 {
            tx.roc = tx.roc.wrapping_add(1);
        }
        Ok(Some(packet))
    }
}

/// Whether a datagram str0m sends is DTLS (first byte 20–63) or SRTP/SRTCP (128–191), per
/// RFC 7983: those go to the ICE pair in use, so their addresses are where the fast path
/// sends too (STUN answers go wherever their request came from).
pub fn on_media_path(datagram: &[u8]) -> bool {
    matches!(datagram.first(), Some(20..=63 | 128..=191))
}

/// The RTP header extensions the fast path writes, by their negotiated ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtIds {
    /// RFC 6464 client-to-mixer audio level.
    pub audio_level: Option<u8>,
    /// RFC 8843 MID.
    pub mid: Option<u8>,
}

impl ExtIds {
    /// The ids a session description maps the two extensions to (`a=extmap` lines).
    pub fn from_sdp(sdp: &str) -> ExtIds {
        let mut ids = ExtIds::default();
        for line in sdp.lines() {
            let Some(rest) = line.trim().strip_prefix("a=extmap:") else { continue };
            let mut parts = rest.split_whitespace();
            let (Some(id), Some(uri)) = (parts.next(), parts.next()) else { continue };
            // "3/sendonly" names a direction after the id.
            let Ok(id) = id.split('/').next().unwrap_or(id).parse::<u8>() else { continue };
            if !(1..=14).contains(&id) {
                continue;
            }
            match uri {
                "urn:ietf:params:rtp-hdrext:ssrc-audio-level" => ids.audio_level = Some(id),
                "urn:ietf:params:rtp-hdrext:sdes:mid" => ids.mid = Some(id),
                _ => {}
            }
        }
        ids
    }
}

/// One RTP header to write.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    /// First packet of a talk spurt.
    pub marker: bool,
    /// Payload type.
    pub pt: u8,
    /// Sequence number.
    pub seq: u16,
    /// Timestamp (48 kHz).
    pub timestamp: u32,
    /// Stream source.
    pub ssrc: u32,
    /// RFC 6464 level in -dBov (0–127) and the voice flag.
    pub level: Option<(u8, bool)>,
    /// The m-line's MID.
    pub mid: &'a str,
}

impl Header<'_> {
    /// Writes the header with one-byte extensions (RFC 8285) for `ids` into `out`
    /// (cleared first).
    pub fn write(&self, ids: ExtIds, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&[0x80, self.pt & 0x7f]);
        if self.marker {
            out[1] |= 0x80;
        }
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        let level = ids.audio_level.zip(self.level);
        let mid = ids.mid.filter(|_| (1..=16).contains(&self.mid.len()));
        if level.is_none() && mid.is_none() {
            return;
        }
        out[0] |= 0x10; // X: an extension follows
        out.extend_from_slice(&[0xBE, 0xDE, 0, 0]);
        let ext_start = out.len();
        if let Some((id, (dbov, voice))) = level {
            out.push(id << 4);
            out.push(u8::from(voice) << 7 | (dbov & 0x7f));
        }
        if let Some(id) = mid {
            out.push(id << 4 | (self.mid.len() as u8 - 1));
            out.extend_from_slice(self.mid.as_bytes());
        }
        while !(out.len() - ext_start).is_multiple_of(4) {
            out.push(0);
        }
        let words = ((out.len() - ext_start) / 4) as u16;
        out[ext_start - 2..ext_start].copy_from_slice(&words.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn key_derivation_matches_rfc_3711_appendix_b3() {
        // The test vector of RFC 3711 B.3 (AES-CM PRF, 14-byte master salt).
        let crypto = super::super::keys::backend();
        let key = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
        let salt = hex("0EC675AD498AFEEBB6960B3AABE6");
        let mut session_key = [0u8; 16];
        derive(crypto, &key, &salt, LABEL_RTP_KEY, &mut session_key);
        assert_eq!(session_key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut session_salt = [0u8; 14];
        derive(crypto, &key, &salt, LABEL_RTP_SALT, &mut session_salt);
        assert_eq!(session_salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
    }

    #[test]
    fn header_with_both_extensions_is_padded_to_words() {
        let h = Header {
            marker: true,
            pt: 111,
            seq: 0x1234,
            timestamp: 0xAABBCCDD,
            ssrc: 7,
            level: Some((30, true)),
            mid: "1",
        };
        let mut out = Vec::new();
        h.write(ExtIds { audio_level: Some(1), mid: Some(4) }, &mut out);
        assert_eq!(out[0], 0x90, "version 2 with an extension");
        assert_eq!(out[1], 0x80 | 111, "marker and payload type");
        assert_eq!(&out[2..4], &[0x12, 0x34]);
        assert_eq!(&out[12..16], &[0xBE, 0xDE, 0, 1], "one word of one-byte extensions");
        assert_eq!(&out[16..20], &[0x10, 0x80 | 30, 0x40, b'1']);
        assert_eq!(out.len(), 20);
        // A longer MID needs padding to the next word.
        let h = Header { mid: "slot-2", ..h };
        h.write(ExtIds { audio_level: Some(1), mid: Some(4) }, &mut out);
        assert_eq!(&out[12..16], &[0xBE, 0xDE, 0, 3], "2 + 7 bytes, padded to 12");
        assert_eq!(&out[18..20], &[0x45, b's']);
        assert_eq!(&out[25..28], &[0, 0, 0], "padding");
        assert_eq!(out.len(), 28);
    }

    #[test]
    fn header_without_extensions_is_twelve_bytes() {
        let h =
            Header { marker: false, pt: 111, seq: 1, timestamp: 2, ssrc: 3, level: None, mid: "" };
        let mut out = Vec::new();
        h.write(ExtIds::default(), &mut out);
        assert_eq!(out.len(), 12);
        assert_eq!(out[0], 0x80);
    }

    #[test]
    fn extmap_ids_are_read_with_or_without_a_direction() {
        let sdp = "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
                   a=extmap:9/sendrecv urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
                   a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n";
        assert_eq!(ExtIds::from_sdp(sdp), ExtIds { audio_level: Some(1), mid: Some(9) });
    }

    #[test]
    fn only_the_aead_profiles_are_handled() {
        let keys = ExportedKeys {
            profile: SrtpProfile::AES128_CM_SHA1_80,
            material: vec![0; 60],
            active: false,
        };
        let crypto = super::super::keys::backend();
        assert!(matches!(RtpSealer::new(crypto, &keys), Err(SrtpError::Unsupported(_))));
        let short = ExportedKeys {
            profile: SrtpProfile::AEAD_AES_128_GCM,
            material: vec![0; 10],
            active: true,
        };
        assert!(matches!(RtpSealer::new(crypto, &short), Err(SrtpError::ShortMaterial { .. })));
    }
}
