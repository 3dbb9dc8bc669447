//! The load-test report: a table for people, JSON for machines, thresholds for CI.

use serde::Serialize;

use super::LoadArgs;
use super::metrics::{Metrics, Percentiles};
use super::sysstat::Reading;

/// The server's resource use during the run.
#[derive(Debug, Serialize)]
pub struct ServerUsage {
    /// Process sampled.
    pub pid: u32,
    /// CPU seconds used during the run.
    pub cpu_seconds: f64,
    /// Average CPU use over the run, in percent of one core.
    pub cpu_percent: f64,
    /// CPU microseconds per packet delivered to a listener, over the whole run (joins
    /// included).
    pub cpu_us_per_forwarded_packet: Option<f64>,
    /// Average CPU use once everyone had joined, in percent of one core.
    pub steady_cpu_percent: Option<f64>,
    /// CPU microseconds per packet delivered to a listener once everyone had joined: the
    /// forwarding cost, without the one-off cost of joins.
    pub steady_cpu_us_per_forwarded_packet: Option<f64>,
    /// Of that, the microseconds in user space (the server's own code); the rest is the
    /// kernel's. Less noisy than the total, whose kernel part follows the machine.
    pub steady_user_us_per_forwarded_packet: Option<f64>,
    /// Steady-state CPU per room, in percent of one core.
    pub steady_cpu_percent_per_room: Option<f64>,
    /// The load generator's own steady-state CPU, in percent of one core: a simulated
    /// participant should cost the generator less than it costs the server.
    pub generator_steady_cpu_percent: Option<f64>,
    /// Resident memory before the run, in MB.
    pub rss_before_mb: f64,
    /// Peak resident memory, in MB.
    pub rss_peak_mb: f64,
    /// Memory added per participant, in KB (at full join, over the start).
    pub rss_per_participant_kb: Option<f64>,
}

/// The `/proc` readings of the server taken during a run.
#[derive(Debug, Default)]
pub struct Readings {
    /// At the start.
    pub before: Option<Reading>,
    /// When everyone had joined.
    pub full: Option<Reading>,
    /// When the steady state began, with the packets delivered from then to the end.
    pub steady: Option<(Reading, u64)>,
    /// At the end.
    pub after: Option<Reading>,
    /// Highest resident memory seen, in bytes.
    pub peak_rss: u64,
    /// The generator itself when the steady state began, and at the end.
    pub generator: Option<(Reading, Reading)>,
}

impl ServerUsage {
    /// From the readings of a run of `participants` in `rooms` that delivered `delivered`
    /// packets.
    pub fn from_readings(
        pid: u32,
        r: Readings,
        participants: usize,
        rooms: usize,
        delivered: u64,
    ) -> ServerUsage {
        let Readings { before, full, steady, after, peak_rss, generator } = r;
        let generator = generator.filter(|(s, a)| a.at > s.at).map(|(s, a)| {
            round(100.0 * (a.cpu - s.cpu).as_secs_f64() / (a.at - s.at).as_secs_f64(), 1)
        });
        let (cpu_seconds, wall) = match (before, after) {
            (Some(b), Some(a)) => ((a.cpu - b.cpu).as_secs_f64(), (a.at - b.at).as_secs_f64()),
            _ => (0.0, 0.0),
        };
        let mb = |b: u64| (b as f64 / 1_048_576.0 * 10.0).round() / 10.0;
        let per = match (before, full) {
            (Some(b), Some(f)) if participants > 0 => {
                Some(((f.rss.saturating_sub(b.rss)) as f64 / 1024.0 / participants as f64).round())
            }
            _ => None,
        };
        // From the steady-state reading to the end, with the packets delivered meanwhile.
        let steady = match (steady, after) {
            (Some((s, packets)), Some(a)) if a.at > s.at => {
                let cpu = (a.cpu - s.cpu).as_secs_f64();
                let user = a.user.saturating_sub(s.user).as_secs_f64();
                let percent = 100.0 * cpu / (a.at - s.at).as_secs_f64();
                let per_packet = |t: f64| (packets > 0).then(|| round(t * 1e6 / packets as f64, 2));
                Some((percent, per_packet(cpu), per_packet(user)))
            }
            _ => None,
        };
        ServerUsage {
            pid,
            steady_cpu_percent: steady.map(|(p, ..)| round(p, 1)),
            generator_steady_cpu_percent: generator,
            steady_cpu_us_per_forwarded_packet: steady.and_then(|(_, us, _)| us),
            steady_user_us_per_forwarded_packet: steady.and_then(|(.., user)| user),
            steady_cpu_percent_per_room: steady
                .filter(|_| rooms > 0)
                .map(|(p, ..)| round(p / rooms as f64, 3)),
            cpu_seconds: round(cpu_seconds, 2),
            cpu_percent: if wall > 0.0 { round(100.0 * cpu_seconds / wall, 1) } else { 0.0 },
            cpu_us_per_forwarded_packet: (delivered > 0)
                .then(|| round(cpu_seconds * 1e6 / delivered as f64, 2)),
            rss_before_mb: before.map_or(0.0, |r| mb(r.rss)),
            rss_peak_mb: mb(peak_rss),
            rss_per_participant_kb: per,
        }
    }
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// `talkstick` or `baseline-relay`.
    pub kind: &'static str,
    /// What was loaded.
    pub target: String,
    /// Rooms.
    pub rooms: usize,
    /// Participants per room.
    pub per_room: usize,
    /// Seconds of steady load.
    pub duration_s: f64,
    /// Participants that joined.
    pub joined: usize,
    /// Participants that received audio.
    pub listeners_heard: u64,
    /// Join time: WebSocket open → first audio packet, for joins during which the speaker
    /// sent without a pause (the server's join path, not a wait for speech).
    pub join_ms: Percentiles,
    /// WebSocket open → first audio packet, including waits for the speaker's next
    /// packet after a pause (DTX sends one per 400 ms in silence).
    pub first_audio_ms: Percentiles,
    /// Forwarding latency: send → receive of the same packet.
    pub forward_latency_ms: Percentiles,
    /// The same in the steady state, from 2 s after the joins are over: what the server adds
    /// once the burst of joins (a DTLS handshake each) is over.
    pub forward_latency_steady_ms: Percentiles,
    /// Signaling fan-out: reaction sent → seen by every member.
    pub fanout_ms: Percentiles,
    /// Fraction of expected packets lost.
    pub loss: f64,
    /// Mean interarrival jitter per stream, ms.
    pub jitter_ms: f64,
    /// Audio packets sent by speakers.
    pub packets_sent: u64,
    /// Packets delivered to listeners.
    pub packets_received: u64,
    /// Packets listeners should have got.
    pub packets_expected: u64,
    /// Floor hand-overs seen.
    pub handovers: u64,
    /// Rooms where the floor was handed over at least once.
    pub rooms_with_handover: u64,
    /// Reactions sent.
    pub reactions: u64,
    /// Room sessions run: the rooms, or more when each session is followed by a fresh
    /// one (`--session`).
    pub sessions: u64,
    /// Members crashed on purpose (`--crash-every`) and how many came back with the same
    /// identity, colour, queue place and floor (each one that did not is an error
    /// `state_lost`).
    pub crashes: u64,
    /// See `crashes`.
    pub resumes: u64,
    /// Errors by kind.
    pub errors: std::collections::BTreeMap<String, u64>,
    /// Server resource use, when the server runs on this host.
    pub server: Option<ServerUsage>,
    /// The server's media counters over the run (its `/healthz` after, minus before):
    /// datagrams received, sent, dropped and failed, packets forwarded and gated. Each room
    /// adds its forwarding counts on its timers, so the last second or so of a room still
    /// running may be missing.
    pub server_media: Option<serde_json::Value>,
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

impl Report {
    /// Builds the report.
    pub fn new(
        kind: &'static str,
        target: String,
        args: &LoadArgs,
        joined: usize,
        m: Metrics,
        server: Option<ServerUsage>,
    ) -> Report {
        Report {
            kind,
            target,
            rooms: args.rooms,
            per_room: args.per_room,
            duration_s: args.duration.as_secs_f64(),
            joined,
            listeners_heard: m.listeners_heard,
            join_ms: Percentiles::of(&m.join, &[50.0, 95.0, 99.0]),
            first_audio_ms: Percentiles::of(&m.first_audio, &[50.0, 95.0, 99.0]),
            forward_latency_ms: Percentiles::of(&m.forward, &[50.0, 99.0, 99.9]),
            forward_latency_steady_ms: Percentiles::of(&m.forward_steady, &[50.0, 99.0, 99.9]),
            fanout_ms: Percentiles::of(&m.fanout, &[50.0, 99.0]),
            loss: round(m.loss(), 5),
            jitter_ms: if m.jitter_streams > 0 {
                round(m.jitter_sum_us / m.jitter_streams as f64 / 1000.0, 3)
            } else {
                0.0
            },
            packets_sent: m.packets_sent,
            packets_received: m.packets_received,
            packets_expected: m.packets_expected,
            handovers: m.handovers,
            rooms_with_handover: m.rooms_with_handover,
            reactions: m.reactions,
            sessions: m.sessions,
            crashes: m.crashes,
            resumes: m.resumes,
            errors: m.errors,
            server,
            server_media: None,
        }
    }

    /// Writes the report as pretty JSON.
    pub fn write_json(&self, path: &std::path::Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }

    /// A table for people.
    pub fn table(&self) -> String {
        let p = |x: &Percentiles| {
            let v: Vec<String> = x.values.iter().map(|(k, v)| format!("{k} {v:.2}")).collect();
            format!("{}  ({} samples)", v.join("  "), x.samples)
        };
        let mut rows = vec![
            ("target", format!("{} ({})", self.target, self.kind)),
            (
                "load",
                format!(
                    "{} rooms × {} = {} joined, {:.0} s",
                    self.rooms, self.per_room, self.joined, self.duration_s
                ),
            ),
            // Which joins each figure counts, in the report itself: a join made while
            // nobody spoke can only be timed up to the next speech, which is not the
            // server's join path.
            (
                "join ms",
                format!(
                    "{}: of {} joins, those made while the speaker sent without a pause (the server's join path alone)",
                    p(&self.join_ms),
                    self.joined
                ),
            ),
            (
                "first audio ms",
                format!(
                    "{}: joins made while someone held the floor, waits for speech included",
                    p(&self.first_audio_ms)
                ),
            ),
            ("forwarding ms", p(&self.forward_latency_ms)),
            ("steady fwd ms", p(&self.forward_latency_steady_ms)),
            ("fan-out ms", p(&self.fanout_ms)),
            (
                "loss",
                format!(
                    "{:.3} %  ({} of {} delivered)",
                    self.loss * 100.0,
                    self.packets_received,
                    self.packets_expected
                ),
            ),
            ("jitter ms", format!("{:.3}", self.jitter_ms)),
            ("floor", format!("{} hand-overs, {} reactions", self.handovers, self.reactions)),
        ];
        if self.sessions > self.rooms as u64 || self.crashes > 0 {
            rows.push((
                "churn",
                format!(
                    "{} room sessions, {} crashes, {} resumed with nothing lost",
                    self.sessions, self.crashes, self.resumes
                ),
            ));
        }
        if !self.errors.is_empty() {
            rows.push(("errors", format!("{:?}", self.errors)));
        }
        if let Some(s) = &self.server {
            rows.push((
                "server cpu",
                format!(
                    "{:.1} % of a core, {} µs per forwarded packet",
                    s.cpu_percent,
                    s.cpu_us_per_forwarded_packet.map_or("-".into(), |v| format!("{v:.2}"))
                ),
            ));
            if let Some(p) = s.steady_cpu_percent {
                rows.push((
                    "steady cpu",
                    format!(
                        "{p:.1} % of a core after the joins, {} µs per forwarded packet ({} in user space), {} % per room (generator: {} %)",
                        s.steady_cpu_us_per_forwarded_packet
                            .map_or("-".into(), |v| format!("{v:.2}")),
                        s.steady_user_us_per_forwarded_packet
                            .map_or("-".into(), |v| format!("{v:.2}")),
                        s.steady_cpu_percent_per_room.map_or("-".into(), |v| format!("{v:.2}")),
                        s.generator_steady_cpu_percent.map_or("-".into(), |v| format!("{v:.1}"))
                    ),
                ));
            }
            rows.push((
                "server memory",
                format!(
                    "{:.1} MB → peak {:.1} MB, {} KB per participant",
                    s.rss_before_mb,
                    s.rss_peak_mb,
                    s.rss_per_participant_kb.map_or("-".into(), |v| format!("{v:.0}"))
                ),
            ));
        }
        if let Some(c) = &self.server_media {
            rows.push(("server media", super::health::summary(c)));
        }
        rows.iter().map(|(k, v)| format!("{k:>14}  {v}\n")).collect()
    }

    /// Thresholds crossed, in words.
    pub fn violations(&self, args: &LoadArgs) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(max) = args.max_loss.filter(|max| self.loss > *max) {
            out.push(format!("loss {:.4} exceeds --max-loss {max}", self.loss));
        }
        let p99 = self.forward_latency_ms.values.get("p99").copied().unwrap_or(0.0);
        if let Some(max) = args.max_p99_latency.filter(|max| p99 > *max) {
            out.push(format!("forwarding p99 {p99} ms exceeds --max-p99-latency {max}"));
        }
        let p95 = self.join_ms.values.get("p95").copied().unwrap_or(0.0);
        if let Some(max) = args.max_join_p95.filter(|max| p95 > *max) {
            out.push(format!("join p95 {p95} ms exceeds --max-join-p95 {max}"));
        }
        if self.joined == 0 {
            out.push("nobody could join".into());
        }
        out
    }
}
