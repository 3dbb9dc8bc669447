//! Speech detection from RFC 6464 audio levels, sans-IO.
//!
//! Each audio packet carries the sender's level in -dBov (0 loudest, 127 silence). A
//! participant starts speaking when two of their last three packets are loud (≈40 ms of
//! 20 ms packets: well within the 100 ms budget) and stops when no loud packet has come
//! for [`HANGOVER`] (≤ 400 ms with packet spacing). Silence is also detected without
//! packets (DTX sends few, a dropped connection none) through [`SpeechDetector::deadline`].

use std::time::{Duration, Instant};

use crate::rtp::LOUD_LEVEL;

/// Time after the last loud packet at which speech counts as stopped.
pub const HANGOVER: Duration = Duration::from_millis(300);

/// One participant's detector.
#[derive(Debug, Clone)]
pub struct SpeechDetector {
    /// Loudness of the last three packets, newest in bit 0.
    recent: u8,
    speaking: bool,
    last_loud: Option<Instant>,
    /// Smoothed loudness (127 − level), for ranking speakers.
    loudness: f32,
}

impl Default for SpeechDetector {
    fn default() -> Self {
        SpeechDetector { recent: 0, speaking: false, last_loud: None, loudness: 0.0 }
    }
}

impl SpeechDetector {
    /// Speaking now.
    pub fn speaking(&self) -> bool {
        self.speaking
    }

    /// Speaking, or the last packet was loud: worth a slot now, so that the first
    /// syllable is forwarded before speech is confirmed.
    pub fn active(&self) -> bool {
        self.speaking || self.recent & 1 == 1
    }

    /// Smoothed loudness: higher is louder.
    pub fn loudness(&self) -> f32 {
        self.loudness
    }

    /// Feeds one packet's level; returns the new state when it changed. Packets without
    /// a level count as silence.
    pub fn on_packet(&mut self, now: Instant, level: Option<i8>) -> Option<bool> {
        let level = level.unwrap_or(127).clamp(0, 127);
        let loud = level <= LOUD_LEVEL;
        self.recent = ((self.recent << 1) | u8::from(loud)) & 0b111;
        self.loudness = 0.8 * self.loudness + 0.2 * f32::from(127 - level);
        if loud {
            self.last_loud = Some(now);
        }
        if !self.speaking && self.recent.count_ones() >= 2 {
            self.speaking = true;
            return Some(true);
        }
        self.on_timeout(now)
    }

    /// When silence would end the current speech, if speaking.
    pub fn deadline(&self) -> Option<Instant> {
        if self.speaking { self.last_loud.map(|t| t + HANGOVER) } else { None }
    }

    /// Checks the silence deadline; returns `Some(false)` when speech just stopped.
    pub fn on_timeout(&mut self, now: Instant) -> Option<bool> {
        if self.deadline().is_some_and(|d| d <= now) {
            self.speaking = false;
            self.recent = 0;
            return Some(false);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKET: Duration = Duration::from_millis(20);

    #[test]
    fn onset_within_100ms_and_stop_within_400ms() {
        let t0 = Instant::now();
        let mut d = SpeechDetector::default();
        // Silence, then speech starting at t0 + 200 ms.
        let mut started = None;
        for i in 0..30u32 {
            let now = t0 + PACKET * i;
            let level = if i >= 10 { 20 } else { 100 };
            if d.on_packet(now, Some(level)) == Some(true) {
                started = Some(now);
            }
        }
        let onset = t0 + PACKET * 10;
        assert!(started.unwrap() - onset <= Duration::from_millis(100));
        // Speech stops at t0 + 600 ms; DTX sends nothing after.
        let last = t0 + PACKET * 29;
        let deadline = d.deadline().unwrap();
        assert!(deadline - last <= Duration::from_millis(400));
        assert_eq!(d.on_timeout(deadline - Duration::from_millis(1)), None);
        assert_eq!(d.on_timeout(deadline), Some(false));
        assert!(!d.speaking());
    }

    #[test]
    fn a_single_click_is_not_speech_and_quiet_packets_end_speech() {
        let t0 = Instant::now();
        let mut d = SpeechDetector::default();
        assert_eq!(d.on_packet(t0, Some(10)), None);
        assert_eq!(d.on_packet(t0 + PACKET, Some(110)), None);
        assert_eq!(d.on_packet(t0 + PACKET * 2, Some(110)), None);
        assert!(!d.speaking());
        d.on_packet(t0 + PACKET * 3, Some(10));
        assert_eq!(d.on_packet(t0 + PACKET * 4, Some(10)), Some(true));
        // Quiet packets keep arriving: stopped once the hangover passes.
        let mut stopped = None;
        for i in 5..40u32 {
            if d.on_packet(t0 + PACKET * i, Some(120)) == Some(false) {
                stopped = Some(PACKET * i);
                break;
            }
        }
        let silence_from = PACKET * 5;
        assert!(stopped.unwrap() - silence_from <= Duration::from_millis(400));
    }

    #[test]
    fn louder_speakers_rank_higher() {
        let t0 = Instant::now();
        let (mut a, mut b) = (SpeechDetector::default(), SpeechDetector::default());
        for i in 0..20u32 {
            a.on_packet(t0 + PACKET * i, Some(10));
            b.on_packet(t0 + PACKET * i, Some(40));
        }
        assert!(a.loudness() > b.loudness());
    }
}
