//! The speech the load tester sends: ~30 s of pre-encoded Opus, embedded in the binary.
//!
//! Simulated participants must send real, speech-like audio (never blank packets) and
//! must be cheap, so nothing is encoded at run time: every participant replays the
//! packets of this asset (looping, each from its own offset), 20 ms apart, with the
//! stored RFC 6464 level in the audio-level header extension.
//!
//! # Provenance
//!
//! `speech.bin` is made by `scripts/make-speech-asset`: espeak-ng speaks eight short
//! sentences a learner might say in a training discussion, separated by 0.5–2 s
//! pauses; sox converts them to 48 kHz mono 16-bit; `tests/make_speech_asset.rs`
//! (an ignored test the script runs) encodes that with [`encode`] (feature `native`,
//! which `loadtest --speak-file` uses for any recording) through libopus: 20 ms frames,
//! `Application::Voip`, in-band FEC (5 % expected loss), 24 kbit/s. Opus DTX is
//! emulated explicitly: in silence (frame RMS below -55 dBov), after a 200 ms hangover
//! of normal packets, only one frame in 20 (one per 400 ms) is sent, as libopus does.
//! Rerun the script to change the asset; do not edit it by hand.
//!
//! # Format
//!
//! ```text
//! "TSPEECH1"                         8 bytes of magic
//! then per 20 ms frame, to the end:
//!   level   u8                       RFC 6464 level, -dBov of the frame's RMS, 0..=127
//!                                    (127 = silence)
//!   length  u16, little-endian       Opus packet length; 0 = nothing sent in this slot
//!   packet  `length` bytes           one Opus packet (960 samples at 48 kHz, mono)
//! ```
//!
//! Every frame, sent or not, advances the RTP timestamp by [`FRAME_SAMPLES`].

use std::ops::Range;
use std::time::Duration;

use thiserror::Error;

use crate::rtp::LOUD_LEVEL;

/// The embedded asset, see the [module docs](self) for its format.
static ASSET: &[u8] = include_bytes!("speech.bin");

/// Magic bytes at the start of the asset (format version 1).
pub const MAGIC: &[u8; 8] = b"TSPEECH1";
/// Duration of one frame (one RTP packet slot).
pub const FRAME_DURATION: Duration = Duration::from_millis(20);
/// Samples per frame at Opus's 48 kHz RTP clock: the RTP timestamp step per frame.
pub const FRAME_SAMPLES: u32 = 960;
/// The largest Opus packet (RFC 6716, 3.2.1).
const MAX_PACKET: usize = 1275;

/// Why the asset could not be parsed. For the embedded asset this means it is corrupt
/// (the unit tests parse it); regenerate it with `scripts/make-speech-asset`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpeechError {
    /// The data does not start with [`MAGIC`].
    #[error("speech asset: missing TSPEECH1 magic")]
    BadMagic,
    /// The data ends inside a frame.
    #[error("speech asset: truncated in frame {frame} (byte {offset})")]
    Truncated {
        /// Index of the incomplete frame.
        frame: usize,
        /// Byte offset at which that frame starts.
        offset: usize,
    },
    /// A level byte is outside RFC 6464's 0..=127.
    #[error("speech asset: frame {frame} has level {level}, outside 0..=127")]
    BadLevel {
        /// Index of the frame.
        frame: usize,
        /// The level byte found.
        level: u8,
    },
    /// A packet is longer than any Opus packet can be.
    #[error("speech asset: frame {frame} has a {len}-byte packet (Opus allows {MAX_PACKET})")]
    Oversized {
        /// Index of the frame.
        frame: usize,
        /// The length found.
        len: usize,
    },
    /// The asset holds no frames.
    #[error("speech asset: no frames")]
    Empty,
}

/// One 20 ms slot of the asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// RFC 6464 level in -dBov: 0 loudest, 127 silence (the convention of
    /// [`crate::media::speech`]).
    pub level: i8,
    /// Byte range of the Opus packet within the asset; `None` when nothing is sent in
    /// this slot (DTX). Use [`Speech::packet`] for the bytes.
    pub packet: Option<Range<usize>>,
}

impl Frame {
    /// Whether a packet is sent in this slot.
    pub fn is_sent(&self) -> bool {
        self.packet.is_some()
    }

    /// Whether this frame counts as voice ([`LOUD_LEVEL`] or louder).
    pub fn is_loud(&self) -> bool {
        self.level <= LOUD_LEVEL
    }
}

/// The parsed speech asset: a frame index over the embedded bytes (zero-copy).
///
/// Parse it once and share it (e.g. in an `Arc`): packets are `&'static` slices of the
/// embedded asset, so simulated participants copy nothing to send them.
#[derive(Debug, Clone)]
pub struct Speech {
    data: &'static [u8],
    frames: Vec<Frame>,
}

impl Speech {
    /// Parses the embedded asset. An error means the committed `speech.bin` is corrupt.
    pub fn load() -> Result<Speech, SpeechError> {
        Speech::parse(ASSET)
    }

    /// Parses an asset in the `TSPEECH1` format (see the [module docs](self)).
    pub fn parse(data: &'static [u8]) -> Result<Speech, SpeechError> {
        if !data.starts_with(MAGIC) {
            return Err(SpeechError::BadMagic);
        }
        let mut pos = MAGIC.len();
        let mut frames = Vec::with_capacity((data.len() - pos) / 40);
        while pos < data.len() {
            let frame = frames.len();
            let header =
                data.get(pos..pos + 3).ok_or(SpeechError::Truncated { frame, offset: pos })?;
            let Ok(level) = i8::try_from(header[0]) else {
                return Err(SpeechError::BadLevel { frame, level: header[0] });
            };
            let len = usize::from(u16::from_le_bytes([header[1], header[2]]));
            if len > MAX_PACKET {
                return Err(SpeechError::Oversized { frame, len });
            }
            let body = pos + 3;
            if body + len > data.len() {
                return Err(SpeechError::Truncated { frame, offset: pos });
            }
            let packet = (len > 0).then_some(body..body + len);
            frames.push(Frame { level, packet });
            pos = body + len;
        }
        if frames.is_empty() {
            return Err(SpeechError::Empty);
        }
        Ok(Speech { data, frames })
    }

    /// All frames, one per 20 ms slot, in order.
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// The Opus packet of frame `i`; `None` if nothing is sent in that slot (DTX) or
    /// `i` is out of range.
    pub fn packet(&self, i: usize) -> Option<&'static [u8]> {
        let range = self.frames.get(i)?.packet.clone()?;
        let data: &'static [u8] = self.data;
        Some(&data[range])
    }

    /// The RFC 6464 level (-dBov, 0..=127) of frame `i`; 127 (silence) if `i` is out
    /// of range.
    pub fn level(&self, i: usize) -> i8 {
        self.frames.get(i).map_or(127, |f| f.level)
    }

    /// Number of frames (20 ms slots).
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether there are no frames (never true for a parsed asset).
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Playing time of the whole asset (frames × 20 ms).
    pub fn duration(&self) -> Duration {
        FRAME_DURATION * self.frames.len() as u32
    }

    /// Share of frames that are loud (level ≤ [`LOUD_LEVEL`]), 0.0..=1.0.
    pub fn talk_fraction(&self) -> f64 {
        let loud = self.frames.iter().filter(|f| f.is_loud()).count();
        loud as f64 / self.frames.len().max(1) as f64
    }
}

/// Encoding a recording into this format (`loadtest --speak-file`, and
/// `scripts/make-speech-asset` for the committed asset), with libopus.
#[cfg(feature = "native")]
pub mod encode {
    use super::MAGIC;

    /// The bitrate of the asset: a browser's default for mono voice.
    pub const ASSET_BITRATE: i32 = 24_000;
    /// Frames quieter than this (-dBov) count as silence for the DTX emulation.
    const SILENCE_LEVEL: i8 = 55;
    /// Silent frames sent normally before DTX starts (libopus: 10 frames, 200 ms).
    const DTX_HANGOVER: usize = 10;
    /// In DTX, one frame in this many is sent (libopus: one per 400 ms).
    const DTX_PERIOD: usize = 20;

    /// What an encoding made, besides the bytes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct AssetCounts {
        /// 20 ms frames.
        pub frames: usize,
        /// Frames with a packet (the rest are DTX slots).
        pub sent: usize,
    }

    /// Encodes 48 kHz mono samples into a `TSPEECH1` asset: magic, then per 20 ms frame its
    /// level, the packet's length (0: nothing sent in this slot) and the Opus packet. DTX
    /// is emulated as libopus does it: after 200 ms of silence, one frame in 20.
    pub fn encode_speech(
        samples: &[f32],
    ) -> Result<(Vec<u8>, AssetCounts), crate::audio::codec::CodecError> {
        let mut enc = crate::audio::codec::Encoder::with_bitrate(ASSET_BITRATE)?;
        let mut out = MAGIC.to_vec();
        let mut counts = AssetCounts { frames: 0, sent: 0 };
        let mut silent_run = 0usize;
        for chunk in samples.chunks(crate::audio::FRAME_SAMPLES) {
            let mut frame = [0f32; crate::audio::FRAME_SAMPLES];
            frame[..chunk.len()].copy_from_slice(chunk);
            let lvl = crate::audio::codec::level(&frame);
            // Every frame is encoded, even those not sent, to keep the encoder's state.
            let packet = enc.encode(&frame)?;
            let send = if lvl > SILENCE_LEVEL {
                let k = silent_run;
                silent_run += 1;
                k < DTX_HANGOVER || (k - DTX_HANGOVER) % DTX_PERIOD == DTX_PERIOD - 1
            } else {
                silent_run = 0;
                true
            };
            out.push(lvl as u8);
            if send {
                out.extend_from_slice(&(packet.len() as u16).to_le_bytes());
                out.extend_from_slice(&packet);
                counts.sent += 1;
            } else {
                out.extend_from_slice(&0u16.to_le_bytes());
            }
            counts.frames += 1;
        }
        Ok((out, counts))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::loadtest::speech::Speech;

        #[test]
        fn a_recording_becomes_an_asset_the_load_tester_reads() {
            // One second of tone, then two of silence.
            let mut samples: Vec<f32> = (0..48_000)
                .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 220.0 * i as f32 / 48_000.0).sin())
                .collect();
            samples.extend(std::iter::repeat_n(0.0, 96_000));
            let (bytes, counts) = encode_speech(&samples).unwrap();
            assert_eq!(counts.frames, 150);
            // 50 loud + 10 hangover + one in 20 of the remaining 90.
            assert_eq!(counts.sent, 50 + 10 + 4);
            let speech = Speech::parse(Box::leak(bytes.into_boxed_slice())).unwrap();
            assert_eq!(speech.len(), 150);
            assert!(speech.frames()[10].is_loud() && !speech.frames()[100].is_loud());
            assert!(speech.packet(0).is_some() && speech.packet(80).is_none());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speech() -> Speech {
        Speech::load().expect("embedded speech asset parses")
    }

    /// Lengths of the runs of consecutive frames for which `pred` holds.
    fn runs(frames: &[Frame], pred: impl Fn(&Frame) -> bool) -> Vec<usize> {
        let mut out = vec![];
        let mut n = 0;
        for f in frames {
            if pred(f) {
                n += 1;
            } else if n > 0 {
                out.push(n);
                n = 0;
            }
        }
        if n > 0 {
            out.push(n);
        }
        out
    }

    #[test]
    fn asset_parses_and_is_small() {
        let s = speech();
        assert!(ASSET.len() < 150_000, "asset is {} bytes", ASSET.len());
        assert!(!s.is_empty());
        assert_eq!(s.len(), s.frames().len());
        let secs = s.duration().as_secs_f64();
        assert!((25.0..=35.0).contains(&secs), "duration {secs} s");
        assert!(s.frames().iter().all(|f| (0..=127).contains(&f.level)));
        assert_eq!(s.packet(s.len()), None);
        assert_eq!(s.level(s.len()), 127);
    }

    #[test]
    fn has_talk_spurts_and_pauses() {
        let s = speech();
        let talk = s.talk_fraction();
        assert!((0.3..=0.9).contains(&talk), "talk fraction {talk}");
        // Pauses: stretches of ≥ 200 ms with nothing sent (DTX).
        let pauses = runs(s.frames(), |f| !f.is_sent()).into_iter().filter(|&n| n >= 10).count();
        assert!(pauses >= 5, "{pauses} DTX pauses");
        // Talk spurts: ≥ 5 stretches of ≥ 200 ms where every frame is sent, mostly loud.
        let spurts = runs(s.frames(), Frame::is_sent).into_iter().filter(|&n| n >= 50).count();
        assert!(spurts >= 5, "{spurts} talk spurts");
        assert!(runs(s.frames(), Frame::is_loud).into_iter().any(|n| n >= 10));
    }

    #[test]
    fn dtx_only_in_silence_and_keeps_a_packet_every_400ms() {
        let s = speech();
        for (i, f) in s.frames().iter().enumerate() {
            if !f.is_sent() {
                assert!(f.level >= 55, "frame {i} dropped at level {}", f.level);
            }
        }
        let longest = runs(s.frames(), |f| !f.is_sent()).into_iter().max().unwrap_or(0);
        assert!(longest < 20, "{longest} slots in a row without a packet");
    }

    /// Frame duration in µs from an Opus TOC byte (RFC 6716, 3.1).
    fn toc_frame_us(toc: u8) -> u32 {
        let config = toc >> 3;
        match config {
            0..=11 => [10_000, 20_000, 40_000, 60_000][usize::from(config % 4)],
            12..=15 => [10_000, 20_000][usize::from(config % 2)],
            _ => [2_500, 5_000, 10_000, 20_000][usize::from(config % 4)],
        }
    }

    #[test]
    fn packets_are_mono_20ms_opus() {
        let s = speech();
        let mut sent = 0;
        for i in 0..s.len() {
            let Some(p) = s.packet(i) else { continue };
            sent += 1;
            assert!(!p.is_empty());
            let toc = p[0];
            assert_eq!(toc_frame_us(toc), 20_000, "frame {i}: TOC {toc:#04x}");
            assert_eq!(toc & 0x04, 0, "frame {i}: stereo flag set");
            assert_eq!(toc & 0x03, 0, "frame {i}: more than one frame per packet");
            assert_eq!(opus::packet::get_nb_samples(p, 48_000).unwrap(), FRAME_SAMPLES as usize);
        }
        assert!(sent > s.len() / 2, "{sent} of {} frames sent", s.len());
    }

    #[test]
    fn decodes_to_audio() {
        let s = speech();
        let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut pcm = [0i16; FRAME_SAMPLES as usize];
        let (mut loud, mut audible) = (0, 0);
        for (i, f) in s.frames().iter().enumerate() {
            // A missing packet is concealed, as a receiver would.
            let input = s.packet(i).unwrap_or(&[]);
            let n = dec.decode(input, &mut pcm, false).unwrap();
            assert_eq!(n, FRAME_SAMPLES as usize, "frame {i}");
            if f.level <= 30 {
                let energy: f64 = pcm.iter().map(|&x| f64::from(x).powi(2)).sum();
                let dbov = 10.0 * (energy / n as f64).log10() - 20.0 * 32768f64.log10();
                loud += 1;
                audible += usize::from(dbov > -45.0);
            }
        }
        assert!(loud > 100, "{loud} loud frames");
        assert!(audible * 10 >= loud * 9, "only {audible} of {loud} loud frames decode audibly");
    }

    #[test]
    fn rejects_corrupt_assets() {
        assert_eq!(Speech::parse(b"NOTSPEECH").unwrap_err(), SpeechError::BadMagic);
        assert_eq!(Speech::parse(b"TSPEECH1").unwrap_err(), SpeechError::Empty);
        assert_eq!(
            Speech::parse(b"TSPEECH1\x7f\x00").unwrap_err(),
            SpeechError::Truncated { frame: 0, offset: 8 }
        );
        assert_eq!(
            Speech::parse(b"TSPEECH1\x7f\x00\x00\x14\x02\x00\x78").unwrap_err(),
            SpeechError::Truncated { frame: 1, offset: 11 }
        );
        assert_eq!(
            Speech::parse(b"TSPEECH1\x80\x00\x00").unwrap_err(),
            SpeechError::BadLevel { frame: 0, level: 128 }
        );
        assert_eq!(
            Speech::parse(b"TSPEECH1\x10\xff\xff").unwrap_err(),
            SpeechError::Oversized { frame: 0, len: 65535 }
        );
        let s = Speech::parse(b"TSPEECH1\x7f\x00\x00\x14\x01\x00\x78").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.packet(0), None);
        assert_eq!(s.packet(1), Some(&b"\x78"[..]));
        assert_eq!(s.frames()[1], Frame { level: 20, packet: Some(14..15) });
        assert_eq!(s.duration(), Duration::from_millis(40));
        assert_eq!(s.talk_fraction(), 0.5);
    }
}
