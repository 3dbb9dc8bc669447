//! `talkstick loadtest`: real participants against a running server, measured.
//!
//! - [`speech`]: the committed Opus speech asset the speakers send.
//! - `scenario`: one simulated room (facilitator bot, learners, floor, reactions).
//! - `peers`: the room's members' WebRTC peers and sockets; `polled`: a connected
//!   member's socket, read every few ticks of its room with the kernel's arrival times.
//! - `baseline`: the same rooms against the raw UDP relay ([`crate::relay`]).
//! - `janus`: the same rooms against Janus's VideoRoom (audio only: Janus has no floor).
//! - `turns`: the one-speaker-at-a-time schedule the baseline and the Janus driver share.
//! - [`metrics`]: samples and counts; [`report`]: the summary, JSON and thresholds.
//! - [`sysstat`]: the server's CPU and memory from `/proc`.
//! - [`health`]: the server's own media counters, from its `/healthz`.

mod baseline;
pub mod health;
mod janus;
pub mod metrics;
mod peers;
mod polled;
pub mod report;
mod scenario;
pub mod speech;
pub mod sysstat;
mod turns;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use talkstick_signaling::protocol::{ClientMsg, ErrorCode};

use self::metrics::Metrics;
use self::report::{Readings, Report, ServerUsage};
use self::speech::Speech;

/// How long after the last join the steady-state CPU measurement starts (audio connects,
/// join traffic settles).
const STEADY_AFTER_JOIN: Duration = Duration::from_secs(2);
/// The joins are over when all are in, or this long after the last was due (some failed).
const JOIN_GRACE: Duration = Duration::from_secs(10);
use crate::token::Secret;

/// One audio frame: 20 ms.
pub const FRAME: Duration = Duration::from_millis(20);

/// `talkstick loadtest` options.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Server to load (its HTTP address).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The server's signing secret (as printed by `talkstick serve`).
    #[arg(long, env = "TALKSTICK_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Rooms to fill.
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    /// Participants per room (one of them is the facilitator bot).
    #[arg(long, default_value_t = 6)]
    pub per_room: usize,
    /// How long to run after the last join starts, e.g. 60s, 2m.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Joins per second.
    #[arg(long, default_value_t = 20.0)]
    pub ramp: f64,
    /// Local address for the participants' UDP sockets.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_ip: IpAddr,
    /// Load the raw UDP relay at this address instead (`talkstick relay`), for a baseline.
    #[arg(long)]
    pub baseline: Option<SocketAddr>,
    /// Load Janus's VideoRoom over its WebSocket API at this URL instead (e.g.
    /// `ws://127.0.0.1:8188`; audio only, no floor control). Janus does not gather ICE
    /// candidates on loopback: give `--bind-ip` the host's own address.
    #[arg(long, conflicts_with = "baseline")]
    pub janus: Option<String>,
    /// Speak this recording (WAV, any rate) instead of the committed speech asset: it
    /// is encoded with libopus at start (needs a build with `--features native`).
    #[arg(long)]
    pub speak_file: Option<std::path::PathBuf>,
    /// Server process to sample CPU and memory of (default: a local `talkstick serve` or
    /// `talkstick relay`, if one is found).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Write the report as JSON here.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    /// Fail (exit 3) when loss exceeds this fraction.
    #[arg(long)]
    pub max_loss: Option<f64>,
    /// Fail (exit 3) when the forwarding latency p99 exceeds this many ms.
    #[arg(long)]
    pub max_p99_latency: Option<f64>,
    /// Fail (exit 3) when the join time p95 exceeds this many ms.
    #[arg(long)]
    pub max_join_p95: Option<f64>,
    /// Turn length range in ms, e.g. 3000-7000: each speaker yields after a random time
    /// in it.
    #[arg(long, default_value = "3000-7000", value_parser = parse_range)]
    pub turn_ms: (u64, u64),
    /// Sessions: each room ends after this long (everyone leaves) and a fresh room of new
    /// participants takes its place, for the whole run: the churn of a day of trainings.
    /// The first sessions are shortened so that rooms end one after another, not at
    /// once.
    #[arg(long, value_parser = parse_duration)]
    pub session: Option<Duration>,
    /// Crash waves: this often, one learner in every room drops without a goodbye (what
    /// the server sees when a client is killed) and comes back a second later with its
    /// resume token. Each must get back the same identity, colour, queue place and floor;
    /// one that does not is counted as the error `state_lost`.
    #[arg(long, value_parser = parse_duration)]
    pub crash_every: Option<Duration>,
    /// No progress bar (for logs and CI).
    #[arg(long)]
    pub quiet: bool,
}

fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s.split_once('-').ok_or_else(|| format!("expected MIN-MAX, got {s}"))?;
    let (a, b) = (a.trim().parse::<u64>(), b.trim().parse::<u64>());
    match (a, b) {
        (Ok(a), Ok(b)) if a <= b && a > 0 => Ok((a, b)),
        _ => Err(format!("expected MIN-MAX in ms with 0 < MIN <= MAX, got {s}")),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) =
        s.split_at(s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len()));
    let v: f64 = num.parse().map_err(|_| format!("not a duration: {s} (try 30s or 2m)"))?;
    let secs = match unit {
        "" | "s" => v,
        "ms" => v / 1000.0,
        "m" => v * 60.0,
        _ => return Err(format!("unknown unit in {s} (use ms, s or m)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

/// Shared by every simulated room.
pub(crate) struct Ctx {
    base: String,
    secret: Secret,
    rooms: usize,
    per_room: usize,
    bind_ip: IpAddr,
    speech: Arc<Speech>,
    /// Opus payload fingerprint → frame index, to match received packets to sends.
    frames: HashMap<u64, usize, BuildHasherDefault<PayloadHasher>>,
    start: Instant,
    ramp_interval: Duration,
    turn_ms: (u64, u64),
    /// See [`LoadArgs::session`].
    session: Option<Duration>,
    /// See [`LoadArgs::crash_every`].
    crash_every: Option<Duration>,
    joined: AtomicUsize,
    /// Audio packets delivered to listeners so far (for the steady-state CPU figure).
    delivered: AtomicU64,
    /// Set [`STEADY_AFTER_JOIN`] after the joins are over: steady-state latency.
    steady: AtomicBool,
}

impl Ctx {
    /// A context for the module's unit tests: `per_room` members, the embedded speech.
    #[cfg(test)]
    fn for_tests(per_room: usize) -> Arc<Ctx> {
        Arc::new(Ctx {
            base: "http://127.0.0.1:1".into(),
            secret: Secret::new("unused"),
            rooms: 1,
            per_room,
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            speech: Arc::new(Speech::load().expect("the embedded speech asset")),
            frames: HashMap::default(),
            start: Instant::now(),
            ramp_interval: Duration::from_millis(10),
            turn_ms: (1000, 2000),
            session: None,
            crash_every: None,
            joined: AtomicUsize::new(0),
            delivered: AtomicU64::new(0),
            steady: AtomicBool::new(false),
        })
    }

    fn frame_of(&self, payload: &[u8]) -> Option<usize> {
        self.frames.get(&fingerprint(payload)).copied()
    }
}

/// A payload's 64-bit fingerprint: received packets are matched to the asset's frames by
/// it, once per received packet, without comparing (and loading) whole payloads. Frames
/// whose fingerprints collide, identical ones included, are not timed.
/// `--speak-file`: the recording encoded at start. The asset lives as long as the run,
/// as the embedded one does (leaked once: simulated members share `'static` packets).
#[cfg(feature = "native")]
fn speech_from(path: &std::path::Path) -> anyhow::Result<Speech> {
    let samples = crate::audio::wav::read_mono_48k(path)?;
    let (bytes, counts) = speech::encode::encode_speech(&samples)?;
    anyhow::ensure!(counts.sent > 0, "{}: nothing in it is loud enough to send", path.display());
    Ok(Speech::parse(Box::leak(bytes.into_boxed_slice()))?)
}

#[cfg(not(feature = "native"))]
fn speech_from(path: &std::path::Path) -> anyhow::Result<Speech> {
    anyhow::bail!(
        "--speak-file {}: this build has no Opus encoder; build with `--features native` \
         (needs libopus-dev and libasound2-dev)",
        path.display()
    )
}

fn fingerprint(payload: &[u8]) -> u64 {
    let mut h = PayloadHasher(payload.len() as u64);
    h.write(payload);
    h.finish()
}

/// A cheap hash (the default SipHash resists flooding, which a table of our own frames
/// does not need): multiply-rotate over eight bytes at a time.
#[derive(Default)]
struct PayloadHasher(u64);

impl Hasher for PayloadHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap_or_default());
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Runs a load test; returns the report (thresholds are checked by the caller).
pub async fn run(args: &LoadArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.rooms > 0 && args.per_room >= 2, "need at least one room of two");
    anyhow::ensure!(args.ramp > 0.0, "--ramp must be positive");
    anyhow::ensure!(
        args.session.is_none_or(|s| s >= Duration::from_secs(10)),
        "--session must be at least 10s: a room needs time to join and talk"
    );
    anyhow::ensure!(
        args.crash_every.is_none_or(|c| c >= Duration::from_secs(2)),
        "--crash-every must be at least 2s: a crashed member comes back after 1s"
    );
    let other = args.baseline.is_some() || args.janus.is_some();
    anyhow::ensure!(
        !other || (args.session.is_none() && args.crash_every.is_none()),
        "--session and --crash-every need a Talkstick server, not the relay or Janus"
    );
    let speech = Arc::new(match &args.speak_file {
        Some(path) => speech_from(path)?,
        None => Speech::load().context("the embedded speech asset")?,
    });
    let mut frames = HashMap::default();
    let mut dup = Vec::new();
    for i in 0..speech.len() {
        if let Some(p) = speech.packet(i)
            && frames.insert(fingerprint(p), i).is_some()
        {
            dup.push(fingerprint(p));
        }
    }
    for d in dup {
        frames.remove(&d); // ambiguous packets are not timed
    }
    let secret = match (&args.secret, other) {
        (Some(s), _) => Secret::new(s.clone()),
        (None, true) => Secret::new("unused"),
        (None, false) => anyhow::bail!(
            "--secret (or TALKSTICK_SECRET) is needed: use the one `talkstick serve` printed"
        ),
    };
    if let Some(url) = &args.janus {
        crate::client::janus::Janus::connect(url)
            .await
            .with_context(|| format!("Janus at {url} is not usable"))?;
    } else if args.baseline.is_none() {
        preflight(&args.url, &secret).await?;
    }
    let pid = args.server_pid.or_else(|| match (args.baseline, &args.janus) {
        (Some(_), _) => sysstat::find(&["talkstick", "relay"]),
        (None, Some(_)) => sysstat::find(&["janus"]),
        (None, None) => sysstat::find(&["talkstick", "serve"]),
    });
    let total = args.rooms * args.per_room;
    let ramp_interval = Duration::from_secs_f64(1.0 / args.ramp);
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + ramp_interval * total as u32 + args.duration;
    let ctx = Arc::new(Ctx {
        base: args.url.trim_end_matches('/').to_owned(),
        secret,
        rooms: args.rooms,
        per_room: args.per_room,
        bind_ip: args.bind_ip,
        speech,
        frames,
        start,
        ramp_interval,
        turn_ms: args.turn_ms,
        session: args.session,
        crash_every: args.crash_every,
        joined: AtomicUsize::new(0),
        delivered: AtomicU64::new(0),
        steady: AtomicBool::new(false),
    });
    let counters_before = match other {
        true => None,
        false => health::media_counters(&ctx.base).await,
    };
    let before = pid.and_then(sysstat::read);
    let mut tasks = Vec::new();
    for i in 0..args.rooms {
        let ctx = Arc::clone(&ctx);
        tasks.push(match (args.baseline, &args.janus) {
            (Some(relay), _) => tokio::spawn(baseline::run(ctx, relay, i, end)),
            (None, Some(url)) => tokio::spawn(janus::run(ctx, url.clone(), i, end)),
            (None, None) => tokio::spawn(scenario::run(ctx, i, end)),
        });
    }
    let bar = (!args.quiet).then(|| progress(end - Instant::now()));
    let mut peak_rss = before.map_or(0, |r| r.rss);
    let mut at_full: Option<sysstat::Reading> = None;
    // Steady state starts a little after the last join, once its audio is connected.
    let mut steady: Option<(sysstat::Reading, u64)> = None;
    let mut generator_steady: Option<sysstat::Reading> = None;
    let mut all_joined: Option<Instant> = None;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let joined = ctx.joined.load(Ordering::Relaxed);
        let joins_over = joined >= total || Instant::now() >= end - args.duration + JOIN_GRACE;
        if joins_over {
            let since = *all_joined.get_or_insert_with(Instant::now);
            if since.elapsed() >= STEADY_AFTER_JOIN {
                ctx.steady.store(true, Ordering::Relaxed);
            }
        }
        if let Some(r) = pid.and_then(sysstat::read) {
            peak_rss = peak_rss.max(r.rss);
            if joins_over && at_full.is_none() {
                at_full = Some(r);
            }
            if steady.is_none() && at_full.is_some_and(|f| r.at >= f.at + STEADY_AFTER_JOIN) {
                steady = Some((r, ctx.delivered.load(Ordering::Relaxed)));
                generator_steady = sysstat::read(std::process::id());
            }
        }
        if let Some(b) = &bar {
            b.set_position(
                (args.duration + ramp_interval * total as u32)
                    .saturating_sub(end - Instant::now())
                    .as_secs(),
            );
            b.set_message(format!("{joined}/{total} joined"));
        }
    }
    let after = pid.and_then(sysstat::read);
    let generator = generator_steady.zip(sysstat::read(std::process::id()));
    let steady = steady.map(|(r, d)| (r, ctx.delivered.load(Ordering::Relaxed) - d));
    let mut metrics = Metrics::default();
    for t in tasks {
        match t.await {
            Ok(m) => metrics.merge(m),
            Err(_) => metrics.error("room_task_failed"),
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let usage = pid.map(|pid| {
        let readings = Readings { before, full: at_full, steady, after, peak_rss, generator };
        ServerUsage::from_readings(pid, readings, total, args.rooms, metrics.packets_received)
    });
    let kind = match (args.baseline, &args.janus) {
        (Some(_), _) => "baseline-relay",
        (None, Some(_)) => "janus",
        (None, None) => "talkstick",
    };
    let target = match (args.baseline, &args.janus) {
        (Some(a), _) => a.to_string(),
        (None, Some(url)) => url.clone(),
        (None, None) => args.url.clone(),
    };
    let mut report =
        Report::new(kind, target, args, ctx.joined.load(Ordering::Relaxed), metrics, usage);
    if let Some(before) = counters_before {
        let after = health::media_counters(&ctx.base).await;
        report.server_media = after.map(|after| health::difference(&before, &after));
    }
    Ok(report)
}

/// Checks the server answers and accepts our tokens before starting anything.
async fn preflight(base: &str, secret: &Secret) -> anyhow::Result<()> {
    let claims = crate::token::Claims {
        room: "loadtest-preflight".parse().expect("valid"),
        name: "preflight".into(),
        role: talkstick_signaling::protocol::Role::Learner,
        exp: crate::token::unix_now() + 60,
    };
    let token = crate::token::mint(secret, &claims);
    match crate::client::Participant::join(base.trim_end_matches('/'), &token, None).await {
        Ok(p) => {
            p.send(ClientMsg::Leave).await;
            Ok(())
        }
        Err(crate::client::ClientError::Refused { code: ErrorCode::BadToken, .. }) => {
            anyhow::bail!(
                "the server refused our token: is --secret the one `talkstick serve` printed?"
            )
        }
        Err(e) => Err(anyhow::anyhow!(e).context(format!("the server at {base} is not usable"))),
    }
}

fn progress(total: Duration) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total.as_secs());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len}s {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}
