//! An adaptive jitter buffer for one receive slot.
//!
//! Why it exists: packets reach a listener unevenly (the network, the server, the
//! sender's own scheduling), but a sound card takes one 20 ms frame at a steady pace.
//! The buffer holds packets back by a delay that follows the measured jitter — at least
//! [`MIN_DELAY`], at most [`MAX_DELAY`] — and hands out one frame per tick.
//!
//! How it decides, on each [`JitterBuffer::pull`]:
//! - **Buffering**: after silence, play starts once the first packet of the talk spurt
//!   has waited the target delay.
//! - **Playing**: the frame at the play cursor (an RTP time) is played. When it is
//!   missing, the sequence numbers tell why: a gap in them is loss (the decoder conceals
//!   it), none is the sender's silence (Opus DTX: nothing to play, nothing lost).
//! - **Running dry**: two concealed frames (none after an Opus DTX frame: the sender
//!   went quiet), then the slot goes quiet and buffers again at the next packet; the
//!   delay adapts at those talk-spurt boundaries, never mid-word.
//! - **Too far behind**: when more packets are held than the target plus [`SLACK`]
//!   covers, the oldest are skipped until it fits (a late burst does not add lasting
//!   delay).
//!
//! Sans-IO: arrival and pull times are passed in; nothing here reads a clock. The store
//! is bounded ([`CAPACITY`] packets).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// RTP ticks in one 20 ms frame at 48 kHz.
pub const FRAME_TICKS: u64 = 960;
/// The least delay the buffer holds packets back by.
pub const MIN_DELAY: Duration = Duration::from_millis(40);
/// The most delay the buffer holds packets back by.
pub const MAX_DELAY: Duration = Duration::from_millis(120);
/// How far the buffered audio may run past the target before frames are skipped.
pub const SLACK: Duration = Duration::from_millis(60);
/// Packets held at most (1.28 s of 20 ms frames); the oldest goes first.
pub const CAPACITY: usize = 64;
/// A packet this far from the cursor (either way) starts a new stream rather than
/// counting as late or as a gap.
const RESYNC_TICKS: u64 = 48_000;
/// Concealed frames in a row before a dry slot goes quiet.
const DRY_FRAMES: u32 = 2;
/// An Opus packet this short is DTX: the encoder's "nothing to send" frame.
const DTX_BYTES: usize = 2;

/// What to play for this tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pull {
    /// Decode and play this Opus packet.
    Packet(Vec<u8>),
    /// A packet was lost: conceal it (the decoder's packet-loss concealment).
    Lost,
    /// Nothing to play: silence (buffering, the sender's DTX, or nobody speaking).
    Silence,
}

/// What the buffer did over its life, for reports and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets played.
    pub played: u64,
    /// Frames concealed (lost or late).
    pub concealed: u64,
    /// Packets that arrived after their time had passed.
    pub late: u64,
    /// Packets dropped to bound the delay or the store.
    pub dropped: u64,
    /// Talk spurts started (each after buffering).
    pub spurts: u64,
}

#[derive(Debug)]
struct Stored {
    seq: u64,
    data: Vec<u8>,
}

/// One slot's jitter buffer. See the module documentation.
#[derive(Debug)]
pub struct JitterBuffer {
    /// Packets by RTP time.
    queue: BTreeMap<u64, Stored>,
    /// The RTP time of the next frame to play; `None` while buffering or quiet.
    cursor: Option<u64>,
    /// The sequence number of the last packet played (or skipped).
    last_seq: Option<u64>,
    /// The last packet played was Opus DTX (at most [`DTX_BYTES`]): the sender went
    /// quiet, so running dry after it is silence, not loss.
    after_dtx: bool,
    /// When the first packet of the talk spurt being buffered arrived.
    buffering_since: Option<Instant>,
    /// Concealed frames in a row.
    dry: u32,
    /// Interarrival jitter (RFC 3550, in ms).
    jitter_ms: f64,
    /// The last packet's transit (arrival ms − RTP ms), for the jitter estimate.
    last_transit: Option<f64>,
    /// Arrival times are counted from here.
    origin: Instant,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer; `origin` is any instant at or before the first arrival.
    pub fn new(origin: Instant) -> Self {
        JitterBuffer {
            queue: BTreeMap::new(),
            cursor: None,
            last_seq: None,
            after_dtx: false,
            buffering_since: None,
            dry: 0,
            jitter_ms: 0.0,
            last_transit: None,
            origin,
            stats: JitterStats::default(),
        }
    }

    /// The delay packets are held back by now: 20 ms plus four times the jitter, within
    /// [`MIN_DELAY`]..=[`MAX_DELAY`].
    pub fn target(&self) -> Duration {
        let ms = 20.0 + 4.0 * self.jitter_ms;
        Duration::from_secs_f64(ms / 1000.0).clamp(MIN_DELAY, MAX_DELAY)
    }

    /// The jitter estimate, in ms.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter_ms
    }

    /// What the buffer has done so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Packets held now.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when no packet is held.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// A packet that arrived `at`, with its extended RTP time and sequence number.
    pub fn push(&mut self, at: Instant, rtp_time: u64, seq: u64, data: Vec<u8>) {
        let arrival_ms = at.saturating_duration_since(self.origin).as_secs_f64() * 1000.0;
        let transit = arrival_ms - rtp_time as f64 / 48.0;
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs();
            // A jump of seconds is a new stream (another speaker's clock), not jitter.
            if d < 1000.0 {
                self.jitter_ms += (d - self.jitter_ms) / 16.0;
            }
        }
        self.last_transit = Some(transit);
        if let Some(cursor) = self.cursor {
            if rtp_time.abs_diff(cursor) > RESYNC_TICKS {
                // Another clock: start over with this packet.
                self.queue.clear();
                self.cursor = None;
                self.last_seq = None;
                self.buffering_since = None;
            } else if rtp_time < cursor {
                self.stats.late += 1;
                return;
            }
        }
        if self.queue.contains_key(&rtp_time) {
            return; // a duplicate
        }
        self.queue.insert(rtp_time, Stored { seq, data });
        while self.queue.len() > CAPACITY {
            self.queue.pop_first();
            self.stats.dropped += 1;
        }
        if self.cursor.is_none() && self.buffering_since.is_none() {
            self.buffering_since = Some(at);
        }
    }

    /// The frame to play for the tick at `now` (call once per 20 ms).
    pub fn pull(&mut self, now: Instant) -> Pull {
        let cursor = match self.cursor {
            Some(c) => c,
            None => {
                let Some(since) = self.buffering_since else { return Pull::Silence };
                let Some((&first, _)) = self.queue.first_key_value() else {
                    self.buffering_since = None;
                    return Pull::Silence;
                };
                if now.saturating_duration_since(since) < self.target() {
                    return Pull::Silence;
                }
                self.buffering_since = None;
                self.stats.spurts += 1;
                first
            }
        };
        let cursor = self.skip_excess(cursor);
        // The packet due now: at the cursor, or anywhere in this frame's span (a new
        // speaker's clock need not line up with the last one's frames).
        if let Some(entry) = self.queue.first_entry().filter(|e| *e.key() < cursor + FRAME_TICKS) {
            let (at, p) = entry.remove_entry();
            self.cursor = Some(at + FRAME_TICKS);
            self.last_seq = Some(p.seq);
            self.after_dtx = p.data.len() <= DTX_BYTES;
            self.dry = 0;
            self.stats.played += 1;
            return Pull::Packet(p.data);
        }
        self.cursor = Some(cursor + FRAME_TICKS);
        match self.queue.first_key_value() {
            Some((_, next)) if self.last_seq.is_some_and(|s| next.seq == s + 1) => {
                // No sequence number missing: the sender was silent (DTX).
                self.dry = 0;
                Pull::Silence
            }
            Some(_) => {
                self.stats.concealed += 1;
                Pull::Lost
            }
            None if self.dry < DRY_FRAMES && !self.after_dtx => {
                self.dry += 1;
                self.stats.concealed += 1;
                Pull::Lost
            }
            None => {
                // Dry: go quiet and buffer again at the next packet.
                self.cursor = None;
                self.dry = 0;
                Pull::Silence
            }
        }
    }

    /// Moves the play cursor on by `ticks` beyond the frame just played (the packet held
    /// more than 20 ms of audio).
    pub fn advance(&mut self, ticks: u64) {
        if let Some(c) = self.cursor.as_mut() {
            *c += ticks;
        }
    }

    /// Drops the oldest packets while more are held than the target plus [`SLACK`]
    /// covers (counted in packets: a pause in the sender's clock is not audio held
    /// back); returns the cursor to play from.
    fn skip_excess(&mut self, mut cursor: u64) -> u64 {
        let limit = ((self.target() + SLACK).as_millis() / 20).max(1) as usize;
        while self.queue.len() > limit {
            let Some((at, p)) = self.queue.pop_first() else { break };
            self.last_seq = Some(p.seq);
            self.stats.dropped += 1;
            cursor = cursor.max(at + FRAME_TICKS);
        }
        cursor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS20: Duration = Duration::from_millis(20);

    fn packet(n: u64) -> Vec<u8> {
        vec![n as u8; 3]
    }

    /// Pushes packets `0..n` arriving every 20 ms with `jitter(i)` added, pulls every
    /// 20 ms from `start`, and returns what was pulled.
    fn run(n: u64, jitter: impl Fn(u64) -> Duration, ticks: u64) -> (Vec<Pull>, JitterBuffer) {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(t0);
        let mut arrivals: Vec<(Instant, u64)> =
            (0..n).map(|i| (t0 + MS20 * i as u32 + jitter(i), i)).collect();
        arrivals.sort();
        let mut out = Vec::new();
        let mut next = arrivals.into_iter().peekable();
        for tick in 0..ticks {
            let now = t0 + MS20 * tick as u32 + Duration::from_millis(1);
            while let Some(&(at, i)) = next.peek() {
                if at > now {
                    break;
                }
                jb.push(at, 1000 + i * FRAME_TICKS, 50 + i, packet(i));
                next.next();
            }
            out.push(jb.pull(now));
        }
        (out, jb)
    }

    fn played(out: &[Pull]) -> Vec<u8> {
        out.iter()
            .filter_map(|p| match p {
                Pull::Packet(d) => Some(d[0]),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_steady_stream_plays_in_order_after_the_least_delay() {
        let (out, jb) = run(50, |_| Duration::ZERO, 60);
        assert_eq!(played(&out), (0..50).map(|i| i as u8).collect::<Vec<_>>());
        // Held back two ticks (40 ms) before the first frame.
        assert_eq!(out.iter().position(|p| matches!(p, Pull::Packet(_))), Some(2));
        assert_eq!(jb.stats().concealed, 2, "the two frames after the end are concealed");
        assert_eq!(jb.target(), MIN_DELAY);
    }

    #[test]
    fn jitter_within_the_delay_loses_nothing() {
        // Up to 35 ms late, scattered.
        let (out, jb) =
            run(200, |i| Duration::from_millis((i.wrapping_mul(2_654_435_761) >> 16) % 36), 230);
        let got = played(&out);
        assert!(jb.target() > MIN_DELAY, "the target follows the jitter: {:?}", jb.target());
        assert!(got.len() >= 190, "played {} of 200", got.len());
        assert!(got.windows(2).all(|w| w[0] < w[1]), "in order");
    }

    #[test]
    fn a_lost_packet_is_concealed_and_play_goes_on() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(t0);
        for i in [0u64, 1, 3, 4, 5] {
            jb.push(t0, i * FRAME_TICKS, i, packet(i));
        }
        let now = t0 + Duration::from_millis(50);
        let got: Vec<Pull> = (0..5).map(|_| jb.pull(now)).collect();
        assert_eq!(
            got,
            vec![
                Pull::Packet(packet(0)),
                Pull::Packet(packet(1)),
                Pull::Lost,
                Pull::Packet(packet(3)),
                Pull::Packet(packet(4)),
            ]
        );
    }

    #[test]
    fn silence_from_the_sender_is_not_loss() {
        // DTX: the sequence numbers run on while the RTP time jumps 400 ms.
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(t0);
        jb.push(t0, 0, 7, packet(0));
        jb.push(t0, 20 * FRAME_TICKS, 8, packet(1));
        let now = t0 + MAX_DELAY + MS20;
        assert_eq!(jb.pull(now), Pull::Packet(packet(0)));
        for _ in 1..20 {
            assert_eq!(jb.pull(now), Pull::Silence);
        }
        assert_eq!(jb.pull(now), Pull::Packet(packet(1)));
        assert_eq!(jb.stats().concealed, 0);
    }

    #[test]
    fn a_late_burst_does_not_add_lasting_delay() {
        // Packets 10..40 arrive all at once, up to 600 ms late; afterwards the buffer
        // must be back to about the target, not hundreds of ms behind.
        let (out, jb) = run(
            100,
            // Packets 10..40 all arrive at 800 ms.
            |i| {
                if (10..40).contains(&i) {
                    Duration::from_millis(800 - 20 * i)
                } else {
                    Duration::ZERO
                }
            },
            110,
        );
        assert!(jb.stats().dropped > 0, "frames were skipped");
        // From tick 60 on, each frame played is at most the longest delay plus the slack
        // (ten ticks) old.
        for (tick, pull) in out.iter().enumerate().skip(60) {
            if let Pull::Packet(d) = pull {
                assert!(usize::from(d[0]) + 10 >= tick, "tick {tick} played frame {}", d[0]);
            }
        }
    }

    #[test]
    fn running_dry_after_a_dtx_frame_is_silence_not_loss() {
        // The sender's last frame was Opus DTX (a frame of one byte): nothing comes for
        // 400 ms, and that is quiet, not loss.
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(t0);
        jb.push(t0, 0, 7, vec![0xf8]);
        let now = t0 + Duration::from_millis(50);
        assert_eq!(jb.pull(now), Pull::Packet(vec![0xf8]));
        for _ in 0..5 {
            assert_eq!(jb.pull(now), Pull::Silence);
        }
        assert_eq!(jb.stats().concealed, 0);
    }

    #[test]
    fn a_new_clock_starts_over_instead_of_counting_as_late() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(t0);
        jb.push(t0, 10_000_000, 1, packet(1));
        let now = t0 + Duration::from_millis(50);
        assert_eq!(jb.pull(now), Pull::Packet(packet(1)));
        jb.push(now, 5, 2, packet(2));
        assert_eq!(jb.stats().late, 0);
        assert_eq!(jb.pull(now + Duration::from_millis(50)), Pull::Packet(packet(2)));
    }

    #[test]
    fn a_clock_that_does_not_line_up_still_plays() {
        // A new speaker in the slot: the clock goes on, 500 ticks off the frame grid.
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(t0);
        jb.push(t0, 0, 1, packet(0));
        jb.push(t0, FRAME_TICKS + 500, 2, packet(1));
        jb.push(t0, 2 * FRAME_TICKS + 500, 3, packet(2));
        let now = t0 + Duration::from_millis(50);
        let got: Vec<Pull> = (0..3).map(|_| jb.pull(now)).collect();
        assert_eq!(
            got,
            vec![Pull::Packet(packet(0)), Pull::Packet(packet(1)), Pull::Packet(packet(2))]
        );
    }

    #[test]
    fn the_store_is_bounded() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(t0);
        for i in 0..1000 {
            jb.push(t0, i * FRAME_TICKS, i, packet(i));
        }
        assert_eq!(jb.len(), CAPACITY);
        assert_eq!(jb.stats().dropped, 1000 - CAPACITY as u64);
    }
}
