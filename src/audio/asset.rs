//! Encoding speech into the load tester's `TSPEECH1` format (documented in
//! [`crate::loadtest::speech`]): the committed asset is made this way by
//! `scripts/make-speech-asset`, and `loadtest --speak-file` makes one from any
//! recording at start.

use super::FRAME_SAMPLES;
use super::codec::{CodecError, Encoder, level};

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
pub fn encode_speech(samples: &[f32]) -> Result<(Vec<u8>, AssetCounts), CodecError> {
    let mut enc = Encoder::with_bitrate(ASSET_BITRATE)?;
    let mut out = crate::loadtest::speech::MAGIC.to_vec();
    let mut counts = AssetCounts { frames: 0, sent: 0 };
    let mut silent_run = 0usize;
    for chunk in samples.chunks(FRAME_SAMPLES) {
        let mut frame = [0f32; FRAME_SAMPLES];
        frame[..chunk.len()].copy_from_slice(chunk);
        let lvl = level(&frame);
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
