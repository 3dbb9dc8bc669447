//! Opus through libopus: 20 ms mono frames at 48 kHz in, packets out, and back, with
//! the decoder's packet-loss concealment for frames that never came.

use super::{FRAME_SAMPLES, SAMPLE_RATE};

/// Why the codec failed.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// libopus refused a call (its own message).
    #[error("opus: {0}")]
    Opus(#[from] opus::Error),
    /// A frame of the wrong length was given to the encoder.
    #[error("a frame has {0} samples; the encoder takes {FRAME_SAMPLES}")]
    FrameLength(usize),
}

/// The most bytes one encoded frame takes (libopus's recommended bound).
const MAX_PACKET: usize = 1275;

/// An Opus encoder for speech: mono, 48 kHz, 20 ms frames, 32 kbit/s, in-band FEC
/// against a few percent of loss, and DTX off (every frame is sent, so the listener's
/// jitter buffer sees a steady stream).
pub struct Encoder {
    inner: opus::Encoder,
    out: Vec<u8>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Encoder")
    }
}

impl Encoder {
    /// A speech encoder.
    pub fn new() -> Result<Self, CodecError> {
        Encoder::with_bitrate(32_000)
    }

    /// A speech encoder at `bits` per second.
    pub fn with_bitrate(bits: i32) -> Result<Self, CodecError> {
        let mut inner =
            opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip)?;
        inner.set_bitrate(opus::Bitrate::Bits(bits))?;
        inner.set_inband_fec(true)?;
        inner.set_packet_loss_perc(5)?;
        Ok(Encoder { inner, out: vec![0; MAX_PACKET] })
    }

    /// Encodes one frame of [`FRAME_SAMPLES`] samples in -1..=1.
    pub fn encode(&mut self, frame: &[f32]) -> Result<Vec<u8>, CodecError> {
        if frame.len() != FRAME_SAMPLES {
            return Err(CodecError::FrameLength(frame.len()));
        }
        let n = self.inner.encode_float(frame, &mut self.out)?;
        Ok(self.out[..n].to_vec())
    }
}

/// An Opus decoder to mono 48 kHz.
pub struct Decoder {
    inner: opus::Decoder,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decoder")
    }
}

/// The longest packet Opus has: 120 ms.
pub const MAX_DECODED: usize = FRAME_SAMPLES * 6;

impl Decoder {
    /// A decoder.
    pub fn new() -> Result<Self, CodecError> {
        Ok(Decoder { inner: opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono)? })
    }

    /// Decodes `packet` into `out` (at least [`MAX_DECODED`] long); returns the samples
    /// written (960 for a 20 ms packet).
    pub fn decode(&mut self, packet: &[u8], out: &mut [f32]) -> Result<usize, CodecError> {
        Ok(self.inner.decode_float(packet, out, false)?)
    }

    /// Conceals one lost 20 ms frame into `out[..FRAME_SAMPLES]`.
    pub fn conceal(&mut self, out: &mut [f32]) -> Result<usize, CodecError> {
        Ok(self.inner.decode_float(&[], &mut out[..FRAME_SAMPLES], false)?)
    }

    /// Forgets the last stream (after silence, before a new talk spurt).
    pub fn reset(&mut self) -> Result<(), CodecError> {
        Ok(self.inner.reset_state()?)
    }
}

/// The RFC 6464 level of a frame: its loudness in -dBov (0 the loudest, 127 silence),
/// as the audio-level header extension carries it.
pub fn level(frame: &[f32]) -> i8 {
    if frame.is_empty() {
        return 127;
    }
    let mean_square = frame.iter().map(|s| s * s).sum::<f32>() / frame.len() as f32;
    if mean_square <= 0.0 {
        return 127;
    }
    let dbov = 10.0 * mean_square.log10();
    (-dbov).round().clamp(0.0, 127.0) as i8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f32, amplitude: f32, frames: usize) -> Vec<f32> {
        (0..FRAME_SAMPLES * frames)
            .map(|i| {
                amplitude * (2.0 * std::f32::consts::PI * hz * i as f32 / SAMPLE_RATE as f32).sin()
            })
            .collect()
    }

    #[test]
    fn a_tone_survives_encoding_and_decoding() {
        let input = tone(440.0, 0.5, 25);
        let (mut enc, mut dec) = (Encoder::new().unwrap(), Decoder::new().unwrap());
        let mut out = vec![0.0; MAX_DECODED];
        let mut energy = 0.0;
        for frame in input.chunks(FRAME_SAMPLES) {
            let packet = enc.encode(frame).unwrap();
            assert!(packet.len() < 200, "32 kbit/s is 80 bytes a frame: {}", packet.len());
            let n = dec.decode(&packet, &mut out).unwrap();
            assert_eq!(n, FRAME_SAMPLES);
            energy += out[..n].iter().map(|s| s * s).sum::<f32>();
        }
        let expected = input.iter().map(|s| s * s).sum::<f32>();
        assert!(
            energy > expected * 0.5 && energy < expected * 1.5,
            "energy {energy} against {expected}"
        );
    }

    #[test]
    fn a_lost_frame_is_concealed_with_sound_not_silence() {
        let (mut enc, mut dec) = (Encoder::new().unwrap(), Decoder::new().unwrap());
        let mut out = vec![0.0; MAX_DECODED];
        for frame in tone(300.0, 0.5, 10).chunks(FRAME_SAMPLES) {
            dec.decode(&enc.encode(frame).unwrap(), &mut out).unwrap();
        }
        let n = dec.conceal(&mut out).unwrap();
        assert_eq!(n, FRAME_SAMPLES);
        assert!(level(&out[..n]) < 40, "concealment continues the sound: {}", level(&out[..n]));
    }

    #[test]
    fn levels_follow_loudness() {
        assert_eq!(level(&[0.0; FRAME_SAMPLES]), 127);
        assert_eq!(level(&[1.0; FRAME_SAMPLES]), 0);
        assert_eq!(level(&tone(440.0, 0.1, 1)), 23, "a sine at 0.1 is -23 dBov");
        assert!(matches!(
            Encoder::new().unwrap().encode(&[0.0; 100]),
            Err(CodecError::FrameLength(100))
        ));
    }
}
