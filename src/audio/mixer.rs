//! The listener's side: one jitter buffer and decoder per receive slot, mixed into one
//! 20 ms frame per tick.

use std::time::Instant;

use str0m::media::Mid;

use super::codec::{CodecError, Decoder, MAX_DECODED};
use super::jitter::{JitterBuffer, JitterStats, Pull};
use super::{FRAME_SAMPLES, fingerprint};
use crate::rtp::Audio;

/// Slots mixed at most; audio for more m-lines than this is dropped (the server fills
/// at most a handful).
pub const MAX_SLOTS: usize = 16;

struct Slot {
    mid: Mid,
    jitter: JitterBuffer,
    decoder: Decoder,
    /// Decoded samples beyond the frame already played (a packet over 20 ms).
    carry: Vec<f32>,
}

/// Mixes the receive slots. See the module documentation.
pub struct Mixer {
    origin: Instant,
    slots: Vec<Slot>,
    scratch: Vec<f32>,
    /// Fingerprints of the packets played in the last [`Mixer::mix`].
    played: Vec<u64>,
}

impl std::fmt::Debug for Mixer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mixer").field("slots", &self.slots.len()).finish()
    }
}

impl Mixer {
    /// A mixer with no slots yet; `origin` is any instant before the first packet.
    pub fn new(origin: Instant) -> Self {
        Mixer { origin, slots: Vec::new(), scratch: vec![0.0; MAX_DECODED], played: Vec::new() }
    }

    /// A packet received on a slot.
    pub fn push(&mut self, audio: Audio) -> Result<(), CodecError> {
        let i = match self.slots.iter().position(|s| s.mid == audio.mid) {
            Some(i) => i,
            None if self.slots.len() < MAX_SLOTS => {
                let slot = Slot {
                    mid: audio.mid,
                    jitter: JitterBuffer::new(self.origin),
                    decoder: Decoder::new()?,
                    carry: Vec::new(),
                };
                self.slots.push(slot);
                self.slots.len() - 1
            }
            None => return Ok(()),
        };
        self.slots[i].jitter.push(audio.at, audio.rtp_time, audio.seq, audio.data);
        Ok(())
    }

    /// Mixes the frame due at `now` into `out` ([`FRAME_SAMPLES`] long), summing the
    /// slots and clipping to -1..=1.
    pub fn mix(&mut self, now: Instant, out: &mut [f32]) -> Result<(), CodecError> {
        let out = &mut out[..FRAME_SAMPLES];
        out.fill(0.0);
        self.played.clear();
        for slot in &mut self.slots {
            if slot.carry.len() >= FRAME_SAMPLES {
                for (o, s) in out.iter_mut().zip(slot.carry.drain(..FRAME_SAMPLES)) {
                    *o += s;
                }
                continue;
            }
            let n = match slot.jitter.pull(now) {
                Pull::Packet(data) => {
                    self.played.push(fingerprint(&data));
                    let n = slot.decoder.decode(&data, &mut self.scratch)?;
                    if n > FRAME_SAMPLES {
                        slot.jitter.advance((n - FRAME_SAMPLES) as u64);
                    }
                    n
                }
                Pull::Lost => slot.decoder.conceal(&mut self.scratch)?,
                Pull::Silence => continue,
            };
            let n = n.min(self.scratch.len());
            for (o, s) in out.iter_mut().zip(&self.scratch[..n.min(FRAME_SAMPLES)]) {
                *o += s;
            }
            if n > FRAME_SAMPLES {
                slot.carry.extend_from_slice(&self.scratch[FRAME_SAMPLES..n]);
            }
        }
        for o in out.iter_mut() {
            *o = o.clamp(-1.0, 1.0);
        }
        Ok(())
    }

    /// Fingerprints ([`fingerprint`]) of the packets the last [`Mixer::mix`] played.
    pub fn played(&self) -> &[u64] {
        &self.played
    }

    /// Each slot's jitter buffer statistics, summed.
    pub fn stats(&self) -> JitterStats {
        let mut total = JitterStats::default();
        for s in &self.slots {
            let st = s.jitter.stats();
            total.played += st.played;
            total.concealed += st.concealed;
            total.late += st.late;
            total.dropped += st.dropped;
            total.spurts += st.spurts;
        }
        total
    }

    /// The largest target delay among the slots, in ms (for the status line).
    pub fn delay_ms(&self) -> u64 {
        self.slots.iter().map(|s| s.jitter.target().as_millis() as u64).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::codec::{Encoder, level};
    use std::time::Duration;

    fn audio(mid: &str, i: u64, data: Vec<u8>, at: Instant) -> Audio {
        Audio { mid: Mid::from(mid), rtp_time: i * 960, seq: i, level: None, voice: None, data, at }
    }

    #[test]
    fn two_slots_are_mixed_and_a_missing_one_is_silence() {
        let t0 = Instant::now();
        let mut mixer = Mixer::new(t0);
        let (mut a, mut b) = (Encoder::new().unwrap(), Encoder::new().unwrap());
        let tone = |hz: f32, i: usize| {
            (0..FRAME_SAMPLES)
                .map(|k| {
                    0.3 * (2.0 * std::f32::consts::PI * hz * (i * FRAME_SAMPLES + k) as f32
                        / 48_000.0)
                        .sin()
                })
                .collect::<Vec<f32>>()
        };
        let mut out = vec![0.0; FRAME_SAMPLES];
        let mut levels = Vec::new();
        for tick in 0..32usize {
            // Packet `tick` arrives at 20 × tick ms; the mix runs 1 ms later.
            let at = t0 + Duration::from_millis(20 * tick as u64);
            if tick < 20 {
                mixer
                    .push(audio("1", tick as u64, a.encode(&tone(300.0, tick)).unwrap(), at))
                    .unwrap();
            }
            if tick < 10 {
                mixer
                    .push(audio("2", tick as u64, b.encode(&tone(700.0, tick)).unwrap(), at))
                    .unwrap();
            }
            mixer.mix(at + Duration::from_millis(1), &mut out).unwrap();
            levels.push(level(&out));
        }
        // Held back 40 ms: packet n plays at tick n + 2.
        assert!(levels[0] == 127 && levels[1] == 127, "buffering first: {levels:?}");
        assert!(levels[7] < levels[17], "two voices are louder than one: {levels:?}");
        assert!(levels[12] < 30 && levels[20] < 30, "sound while slot 1 plays: {levels:?}");
        assert_eq!(levels[31], 127, "silence after both ended: {levels:?}");
        assert_eq!(mixer.stats().played, 30);
    }
}
