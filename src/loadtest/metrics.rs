//! Measurements of one load-test run: latency samples, counts, jitter. Each room keeps its
//! own and they are merged at the end, so the hot path takes no locks.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// Latency samples in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Samples(Vec<u32>);

impl Samples {
    /// Records one sample.
    pub fn add(&mut self, d: Duration) {
        self.0.push(d.as_micros().min(u128::from(u32::MAX)) as u32);
    }

    /// Takes in another set.
    pub fn merge(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Percentiles in milliseconds.
    pub fn summary(&mut self, points: &[f64]) -> BTreeMap<String, f64> {
        self.0.sort_unstable();
        points
            .iter()
            .map(|p| {
                let v = if self.0.is_empty() {
                    0.0
                } else {
                    let i = ((p / 100.0) * (self.0.len() - 1) as f64).round() as usize;
                    f64::from(self.0[i]) / 1000.0
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
    pub samples: usize,
}

impl Percentiles {
    /// From samples.
    pub fn of(s: &mut Samples, points: &[f64]) -> Self {
        Percentiles { samples: s.len(), values: s.summary(points) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_loss() {
        let mut s = Samples::default();
        for ms in 1..=100u64 {
            s.add(Duration::from_millis(ms));
        }
        let p = s.summary(&[50.0, 99.0]);
        assert_eq!(p["p50"], 51.0);
        assert_eq!(p["p99"], 99.0);
        let m = Metrics { packets_expected: 200, packets_received: 198, ..Default::default() };
        assert!((m.loss() - 0.01).abs() < 1e-9);
    }
}
