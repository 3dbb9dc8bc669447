//! Sound for native participants (feature `native`): what a browser does for a page,
//! done here with libopus.
//!
//! - [`jitter`]: the adaptive jitter buffer of one receive slot (sans-IO).
//! - [`mixer`]: one jitter buffer and decoder per slot, mixed into 20 ms frames.
//! - [`codec`]: Opus encoding and decoding (libopus), and RFC 6464 levels.
//! - [`wav`]: WAV files in (any rate, any channels) and out (48 kHz mono).
//!
//! Everything runs at 48 kHz mono in 20 ms frames of [`FRAME_SAMPLES`] samples.

pub mod codec;
pub mod jitter;
pub mod mixer;
pub mod wav;

/// Samples per second.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms frame.
pub const FRAME_SAMPLES: usize = 960;

/// A 64-bit FNV-1a fingerprint of an Opus packet. The server forwards payloads
/// unchanged, so a sender and a listener that log the fingerprints of what they sent
/// and played can match one frame's capture to its play-out.
pub fn fingerprint(data: &[u8]) -> u64 {
    data.iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
