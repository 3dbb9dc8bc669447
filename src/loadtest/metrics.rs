//! Measurements of one load-test run: latency samples, counts, jitter. Each room keeps its
//! own and they are merged at the end, so the hot path takes no locks.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// Exact below `2 << SUB_BITS` µs (256); above, `1 << SUB_BITS` buckets per power of two.
const SUB_BITS: u32 = 7;
/// Values below this are counted exactly.
const EXACT: u32 = 2 << SUB_BITS;

/// Latency samples in microseconds, counted in a log-linear histogram: exact up to
/// 256 µs, within 0.4 % above (each power of two is cut into 128 buckets, and a bucket
/// reports its middle). Memory is bounded by the largest value seen, not by the length of
/// the run: an hour of 40,000 packets a second takes the same few kilobytes as a minute,
/// and recording a sample is one increment, not a push to an ever-growing list.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    /// Count per bucket; grown up to the largest bucket used.
    counts: Vec<u64>,
    /// Samples in all.
    n: u64,
}

/// The bucket of `v` µs.
fn bucket(v: u32) -> usize {
    if v < EXACT {
        return v as usize;
    }
    let e = 31 - v.leading_zeros();
    let sub = (v >> (e - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    (EXACT + ((e - SUB_BITS - 1) << SUB_BITS) + sub) as usize
}

/// The value a bucket reports: its middle.
fn middle(i: usize) -> u32 {
    let i = i as u32;
    if i < EXACT {
        return i;
    }
    let k = i - EXACT;
    let e = (k >> SUB_BITS) + SUB_BITS + 1;
    let width = 1u32 << (e - SUB_BITS);
    let low = (1u32 << e) | ((k & ((1 << SUB_BITS) - 1)) << (e - SUB_BITS));
    low + (width - 1) / 2
}

impl Samples {
    /// Records one sample.
    pub fn add(&mut self, d: Duration) {
        let i = bucket(d.as_micros().min(u128::from(u32::MAX)) as u32);
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.n += 1;
    }

    /// Takes in another set.
    pub fn merge(&mut self, other: Samples) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
        self.n += other.n;
    }

    /// Number of samples.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The sample of 0-based rank `rank` in ascending order, in µs (to its bucket).
    fn at_rank(&self, rank: u64) -> u32 {
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen > rank {
                return middle(i);
            }
        }
        0
    }

    /// Percentiles in milliseconds: for `p`, the sample of rank `p × (n − 1)` (rounded, from
    /// 0) in ascending order, to its bucket.
    pub fn summary(&self, points: &[f64]) -> BTreeMap<String, f64> {
        points
            .iter()
            .map(|p| {
                let v = if self.n == 0 {
                    0.0
                } else {
                    let rank = ((p / 100.0) * (self.n - 1) as f64).round() as u64;
                    f64::from(self.at_rank(rank)) / 1000.0
                };
                (format!("p{p}"), (v * 1000.0).round() / 1000.0)
            })
            .collect()
    }
}

/// What one room (or the whole run) measured.
#[derive(Debug, Default)]
pub struct Metrics {
    /// WebSocket open → first audio packet received, for participants who joined while
    /// the speaker was sending and went on without a pause until the packet arrived.
    pub join: Samples,
    /// WebSocket open → first audio packet received, for participants who joined while
    /// someone held the floor, pauses in their speech included.
    pub first_audio: Samples,
    /// Participants who received any audio.
    pub listeners_heard: u64,
    /// Send → receive of the same packet.
    pub forward: Samples,
    /// Forwarding latency in the steady state only (from shortly after the last join).
    pub forward_steady: Samples,
    /// Event caused → seen by every room member.
    pub fanout: Samples,
    /// Audio packets sent by speakers.
    pub packets_sent: u64,
    /// Packets listeners should have received.
    pub packets_expected: u64,
    /// Packets listeners received.
    pub packets_received: u64,
    /// Sum of per-stream interarrival jitter estimates (RFC 3550), in µs, and how many.
    pub jitter_sum_us: f64,
    /// Streams contributing to `jitter_sum_us`.
    pub jitter_streams: u64,
    /// Times the floor passed from one turn to the next.
    pub handovers: u64,
    /// Rooms where the floor passed at least once.
    pub rooms_with_handover: u64,
    /// Reactions sent.
    pub reactions: u64,
    /// Room sessions run (more than the rooms with `--session`).
    pub sessions: u64,
    /// Members crashed on purpose (`--crash-every`).
    pub crashes: u64,
    /// Crashed members back with the same identity, colour, queue place and floor.
    pub resumes: u64,
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
}

impl Metrics {
    /// Counts one error.
    pub fn error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }

    /// Takes in another room's measurements.
    pub fn merge(&mut self, o: Metrics) {
        self.join.merge(o.join);
        self.first_audio.merge(o.first_audio);
        self.listeners_heard += o.listeners_heard;
        self.forward.merge(o.forward);
        self.forward_steady.merge(o.forward_steady);
        self.fanout.merge(o.fanout);
        self.packets_sent += o.packets_sent;
        self.packets_expected += o.packets_expected;
        self.packets_received += o.packets_received;
        self.jitter_sum_us += o.jitter_sum_us;
        self.jitter_streams += o.jitter_streams;
        self.handovers += o.handovers;
        self.rooms_with_handover += o.rooms_with_handover;
        self.reactions += o.reactions;
        self.sessions += o.sessions;
        self.crashes += o.crashes;
        self.resumes += o.resumes;
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }

    /// Fraction of expected packets not received.
    pub fn loss(&self) -> f64 {
        if self.packets_expected == 0 {
            return 0.0;
        }
        (1.0 - self.packets_received as f64 / self.packets_expected as f64).max(0.0)
    }
}

/// RFC 3550 interarrival jitter of one stream, from send and arrival times.
#[derive(Debug, Default, Clone, Copy)]
pub struct Jitter {
    last: Option<(std::time::Instant, std::time::Instant)>,
    /// Current estimate in µs.
    pub estimate_us: f64,
}

impl Jitter {
    /// Feeds one packet's send and arrival time.
    pub fn add(&mut self, sent: std::time::Instant, arrived: std::time::Instant) {
        if let Some((s0, a0)) = self.last {
            let d = (arrived.saturating_duration_since(a0).as_secs_f64()
                - sent.saturating_duration_since(s0).as_secs_f64())
            .abs()
                * 1e6;
            self.estimate_us += (d - self.estimate_us) / 16.0;
        }
        self.last = Some((sent, arrived));
    }
}

/// Summary numbers for a report.
#[derive(Debug, Serialize)]
pub struct Percentiles {
    /// Milliseconds by percentile name.
    #[serde(flatten)]
    pub values: BTreeMap<String, f64>,
    /// Number of samples.
    pub samples: u64,
}

impl Percentiles {
    /// From samples.
    pub fn of(s: &Samples, points: &[f64]) -> Self {
        Percentiles { samples: s.len(), values: s.summary(points) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_loss() {
        let mut s = Samples::default();
        for us in 1..=100u64 {
            s.add(Duration::from_micros(us));
        }
        let p = s.summary(&[50.0, 99.0]);
        assert_eq!(p["p50"], 0.051);
        assert_eq!(p["p99"], 0.099);
        assert_eq!(s.len(), 100);
        let m = Metrics { packets_expected: 200, packets_received: 198, ..Default::default() };
        assert!((m.loss() - 0.01).abs() < 1e-9);
    }

    /// Every value up to 256 µs is exact; above, each falls in a bucket whose middle is
    /// within 0.4 % of it, and buckets follow the order of their values.
    #[test]
    fn buckets_are_exact_then_within_0_4_percent_and_ordered() {
        for v in 0..EXACT {
            assert_eq!(middle(bucket(v)), v);
        }
        let mut last = 0;
        let mut v = EXACT;
        loop {
            let i = bucket(v);
            assert!(i >= last, "bucket order at {v}");
            last = i;
            let m = f64::from(middle(i));
            assert!((m - f64::from(v)).abs() / f64::from(v) <= 1.0 / 256.0, "{v} reported as {m}");
            match v.checked_add(v / 97 + 1) {
                Some(next) => v = next,
                None => break,
            }
        }
        assert_eq!(bucket(u32::MAX), bucket(u32::MAX - 1));
        assert!(middle(bucket(u32::MAX)) > u32::MAX - (1 << 24));
    }

    /// Merging adds counts, across histograms of different sizes; percentiles then come
    /// from the merged whole.
    #[test]
    fn merged_samples_give_the_percentiles_of_the_whole() {
        let (mut a, mut b) = (Samples::default(), Samples::default());
        for ms in 1..=50u64 {
            a.add(Duration::from_millis(ms));
        }
        for ms in 51..=100u64 {
            b.add(Duration::from_millis(ms));
        }
        b.add(Duration::from_secs(3600));
        a.merge(b);
        assert_eq!(a.len(), 101);
        let p = a.summary(&[0.0, 50.0, 99.0, 100.0]);
        assert!((p["p0"] - 1.0).abs() <= 1.0 / 256.0, "{p:?}");
        assert!((p["p50"] - 51.0).abs() <= 51.0 / 256.0, "{p:?}");
        assert!((p["p99"] - 100.0).abs() <= 100.0 / 256.0, "{p:?}");
        assert!((p["p100"] - 3_600_000.0).abs() <= 3_600_000.0 / 256.0, "{p:?}");
        assert_eq!(Samples::default().summary(&[99.0])["p99"], 0.0);
    }
}
