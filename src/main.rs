//! The `talkstick` command: `serve` runs the server, `token` mints join tokens.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use talkstick::config::{IceTransport, LogFormat, ServeConfig};
use talkstick::http::{AppState, serve};
use talkstick::media::plane::local_ipv4s;
use talkstick::media::{MediaOptions, MediaPlane};
use talkstick::room::Registry;
use talkstick::store::Store;
use talkstick::token::{Claims, Secret, mint, unix_now};
use talkstick_signaling::RoomId;
use talkstick_signaling::protocol::{Role, Settings};

#[derive(Debug, Parser)]
#[command(
    name = "talkstick",
    version,
    about = "Voice rooms with turn-taking for small-group learning"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (HTTP, WebSocket signaling, the web client).
    Serve(ServeConfig),
    /// Print a signed join token (and a link when --url is given).
    Token(TokenArgs),
    /// Load a running server with real participants and report what it sustains.
    Loadtest(talkstick::loadtest::LoadArgs),
    /// Run the raw UDP fan-out relay that load tests compare against.
    Relay(RelayArgs),
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Take part in a room from this computer: microphone, speakers and a terminal view
    /// of the floor and the queue (or WAV files in their place).
    #[cfg(feature = "native")]
    Join(talkstick::native::cli::JoinArgs),
    /// List the sound devices `join` can use.
    #[cfg(feature = "native")]
    Devices,
    /// (Not in this build: see `--features native`.)
    #[cfg(not(feature = "native"))]
    #[command(hide = true)]
    Join {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
    /// (Not in this build: see `--features native`.)
    #[cfg(not(feature = "native"))]
    #[command(hide = true)]
    Devices,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check a TOML configuration file as `serve --config FILE` would read it.
    Check {
        /// The file.
        file: std::path::PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct RelayArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:40000")]
    bind: std::net::SocketAddr,
}

#[derive(Debug, clap::Args)]
struct TokenArgs {
    /// Room to join.
    #[arg(long)]
    room: String,
    /// Display name.
    #[arg(long)]
    name: String,
    /// Role in the room.
    #[arg(long, value_enum, default_value = "learner")]
    role: RoleArg,
    /// Hours until the token expires.
    #[arg(long, default_value_t = 24)]
    hours: u64,
    /// The server's signing secret.
    #[arg(long, env = "TALKSTICK_SECRET", hide_env_values = true)]
    secret: String,
    /// Server base URL; prints a ready-to-open link instead of the bare token.
    #[arg(long)]
    url: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Facilitator,
    Learner,
}

fn main() -> anyhow::Result<()> {
    let argv = match talkstick::config::with_config_file(std::env::args_os().collect()) {
        Ok(argv) => argv,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let cli = Cli::parse_from(argv);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,talkstick=info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match &cli.command {
        // One JSON object per line, with the room and participant of the spans around
        // each event, for a log pipeline.
        Command::Serve(cfg) if cfg.log_format == LogFormat::Json => {
            logs.json().with_current_span(true).with_span_list(false).init();
        }
        // The terminal view owns the screen: logs would tear it (warnings still go to
        // stderr without it).
        #[cfg(feature = "native")]
        Command::Join(_) => {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
                .with_writer(std::io::sink)
                .init();
        }
        _ => logs.init(),
    }
    match cli.command {
        Command::Serve(cfg) => runtime()?.block_on(run_server(cfg)),
        Command::Config(ConfigCommand::Check { file }) => match talkstick::config::check(&file) {
            Ok(cfg) => {
                println!(
                    "{}: valid. Listens on {}, audio on {}, sessions in {}{}.",
                    file.display(),
                    cfg.bind,
                    audio_ports(&cfg),
                    if cfg.no_store {
                        "memory only".to_owned()
                    } else {
                        cfg.data_dir.display().to_string()
                    },
                    if cfg.turn_urls.is_empty() {
                        String::new()
                    } else {
                        format!(", {} TURN relay(s)", cfg.turn_urls.len())
                    }
                );
                Ok(())
            }
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        },
        Command::Loadtest(args) => runtime()?.block_on(loadtest(args)),
        #[cfg(feature = "native")]
        Command::Join(args) => {
            let code = runtime()?.block_on(talkstick::native::cli::join(args));
            std::process::exit(code);
        }
        #[cfg(feature = "native")]
        Command::Devices => std::process::exit(talkstick::native::cli::devices()),
        #[cfg(not(feature = "native"))]
        Command::Join { .. } | Command::Devices => {
            eprintln!(
                "error: this build of talkstick has no native client. Build it with \
                 `cargo build --release --features native` (needs libopus-dev and libasound2-dev)."
            );
            std::process::exit(2);
        }
        Command::Relay(args) => runtime()?.block_on(async move {
            let socket = talkstick::rtp::DatagramSocket::bind(args.bind)
                .with_context(|| format!("cannot bind {}", args.bind))?;
            println!("Baseline relay listening on udp://{}", socket.local_addr()?);
            let counters = std::sync::Arc::new(talkstick::relay::RelayCounters::default());
            tokio::select! {
                r = talkstick::relay::run(socket, counters) => r?,
                () = shutdown_signal() => {}
            }
            Ok(())
        }),
        Command::Token(args) => {
            let room: RoomId = args
                .room
                .parse()
                .ok()
                .filter(|r: &RoomId| !r.is_group())
                .context("room names use A-Z a-z 0-9 - _ (1-64)")?;
            let role = match args.role {
                RoleArg::Facilitator => Role::Facilitator,
                RoleArg::Learner => Role::Learner,
            };
            let claims =
                Claims { room, name: args.name, role, exp: unix_now() + args.hours * 3600 };
            let token = mint(&Secret::new(args.secret), &claims);
            match args.url {
                Some(base) => println!("{}/?token={token}", base.trim_end_matches('/')),
                None => println!("{token}"),
            }
            Ok(())
        }
    }
}

/// Exit code when the session store cannot be opened (unreadable, damaged, too new).
const EXIT_STORE: i32 = 4;

/// The relays' addresses, for counting relayed peers in the metrics. A name that does not
/// resolve now is only warned about: the relay may come up later.
async fn relay_ips(turn: &talkstick::turn::TurnConfig) -> Vec<std::net::IpAddr> {
    let mut ips = Vec::new();
    for (host, port) in turn.hosts() {
        match tokio::net::lookup_host((host.as_str(), port)).await {
            Ok(addrs) => ips.extend(addrs.map(|a| a.ip())),
            Err(e) => tracing::warn!(%host, error = %e, "cannot resolve a TURN relay's name"),
        }
    }
    ips.sort();
    ips.dedup();
    ips
}

/// "UDP 50000 and TCP 50000": the audio ports a configuration offers.
fn audio_ports(cfg: &ServeConfig) -> String {
    let tcp = cfg.tcp_port.unwrap_or(cfg.udp_port);
    let ports: Vec<String> = cfg
        .ice_transports
        .iter()
        .map(|t| match t {
            IceTransport::Udp => format!("UDP {}", cfg.udp_port),
            IceTransport::Tcp => format!("TCP {tcp}"),
        })
        .collect();
    ports.join(" and ")
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Runs a load test, prints the summary, writes JSON; exit code 3 when a threshold is
/// crossed.
async fn loadtest(args: talkstick::loadtest::LoadArgs) -> anyhow::Result<()> {
    let report = talkstick::loadtest::run(&args).await?;
    print!("{}", report.table());
    if let Some(path) = &args.json {
        report.write_json(path).with_context(|| format!("cannot write {}", path.display()))?;
        println!("{:>14}  {}", "report", path.display());
    }
    let violations = report.violations(&args);
    if !violations.is_empty() {
        for v in &violations {
            eprintln!("threshold crossed: {v}");
        }
        std::process::exit(3);
    }
    Ok(())
}

/// Where the signing secret came from.
enum SecretSource {
    /// --secret or --secret-file.
    Given,
    /// Kept in the data directory (made on the first start), so links stay valid across
    /// restarts; true when it was made now.
    Kept(std::path::PathBuf, bool),
    /// Random, for this run only (no store); its text.
    Ephemeral(String),
}

/// The signing secret from --secret or --secret-file; else the one kept in the data
/// directory (made on the first start); else, with no store, a random one for this run.
fn secret(cfg: &ServeConfig) -> anyhow::Result<(Secret, SecretSource)> {
    let given = match (&cfg.secret, &cfg.secret_file) {
        (Some(s), _) => Some(s.clone()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --secret-file {}", path.display()))?;
            Some(text.lines().next().unwrap_or_default().trim().to_owned())
        }
        (None, None) => None,
    };
    match given {
        Some(s) if s.chars().count() >= 16 => Ok((Secret::new(s), SecretSource::Given)),
        Some(_) => anyhow::bail!("the signing secret must be at least 16 characters"),
        None if !cfg.no_store => {
            let path = cfg.data_dir.join("secret");
            match std::fs::read_to_string(&path) {
                Ok(text) if text.trim().chars().count() >= 16 => {
                    Ok((Secret::new(text.trim().to_owned()), SecretSource::Kept(path, false)))
                }
                Ok(_) => anyhow::bail!(
                    "{} holds no usable secret (at least 16 characters); remove it to make a new one",
                    path.display()
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let (s, text) = Secret::generate();
                    write_private(&path, &text).with_context(|| {
                        format!("cannot keep the signing secret in {}", path.display())
                    })?;
                    Ok((s, SecretSource::Kept(path, true)))
                }
                Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
            }
        }
        None => {
            let (s, text) = Secret::generate();
            Ok((s, SecretSource::Ephemeral(text)))
        }
    }
}

/// The admin API key from --api-key or --api-key-file, if any (at least 24 characters).
fn api_key(cfg: &ServeConfig) -> anyhow::Result<Option<String>> {
    let key = match (&cfg.api_key, &cfg.api_key_file) {
        (Some(k), _) => k.trim().to_owned(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --api-key-file {}", path.display()))?
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned(),
        (None, None) => return Ok(None),
    };
    anyhow::ensure!(key.chars().count() >= 24, "the admin API key must be at least 24 characters");
    Ok(Some(key))
}

/// Writes `text` to a new file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{text}")?;
    file.sync_all()
}

async fn run_server(cfg: ServeConfig) -> anyhow::Result<()> {
    let mut store = None;
    if !cfg.no_store {
        match Store::open(&cfg.data_dir) {
            Ok(opened) => store = Some(opened),
            Err(e) => {
                eprintln!("error: the session store cannot start: {e}");
                eprintln!(
                    "  (--data-dir {}; fix or move it, or run with --no-store to keep rooms in memory only)",
                    cfg.data_dir.display()
                );
                std::process::exit(EXIT_STORE);
            }
        }
    }
    let restored = store.as_mut().map(|(_, r)| std::mem::take(r)).unwrap_or_default();
    let (secret, source) = secret(&cfg)?;
    let listener = tokio::net::TcpListener::bind(cfg.bind)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.bind))?;
    let addr = listener.local_addr()?;
    let base = cfg.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let room: RoomId = cfg.demo_room.parse().context("--demo-room")?;
    let media = if cfg.no_audio {
        None
    } else {
        let ips = if cfg.media_ips.is_empty() { local_ipv4s() } else { cfg.media_ips.clone() };
        let options = MediaOptions {
            ips,
            udp_port: cfg.udp_port,
            tcp_port: cfg.tcp_port,
            public: cfg.public_ips.clone(),
            udp: cfg.ice_transports.contains(&IceTransport::Udp),
            tcp: cfg.ice_transports.contains(&IceTransport::Tcp),
            slots: cfg.audio_slots.into(),
        };
        let plane = MediaPlane::bind(&options).await?;
        plane.spawn_receivers();
        Some(plane)
    };
    println!("Talkstick is listening on http://{addr}");
    match &media {
        Some(plane) => {
            let list: Vec<String> = plane.candidates().iter().map(ToString::to_string).collect();
            println!("Audio on {}\n", list.join(", "));
        }
        None => println!("Audio is off (--no-audio)\n"),
    }
    let show_links = match &source {
        SecretSource::Given => cfg.demo,
        SecretSource::Kept(path, made) => {
            let verb = if *made { "made and kept" } else { "kept" };
            println!(
                "Signing secret {verb} in {} (links stay valid across restarts).\n",
                path.display()
            );
            true
        }
        SecretSource::Ephemeral(text) => {
            println!("Development signing secret (random, valid until restart):");
            println!("  TALKSTICK_SECRET={text}");
            println!("Set TALKSTICK_SECRET or --secret to keep links valid across restarts.\n");
            true
        }
    };
    if show_links {
        println!("Demo room \"{room}\" — open each link in its own browser tab or window:");
        let links =
            talkstick::demo::links(&secret, &base, &room, cfg.demo_learners, cfg.demo_hours);
        for link in links {
            let role = match link.role {
                Role::Facilitator => "facilitator",
                Role::Learner => "learner",
            };
            println!("  {:<12} {:<11} {}", link.name, role, link.url);
        }
    } else {
        println!("Mint a link for each person with `talkstick token` and the same secret");
        println!("(`talkstick serve --demo` prints demo links).");
    }
    println!();
    let turn = talkstick::turn::TurnConfig::new(
        &cfg.turn_urls,
        cfg.turn_secret.as_deref(),
        cfg.turn_ttl_hours * 3600,
    )
    .context("--turn-url")?;
    let started = std::time::Instant::now();
    let registry = Registry::with_store(Settings::default(), media, store.map(|(s, _)| s));
    if let Some(turn) = turn {
        println!("TURN relays offered to every participant: {}\n", cfg.turn_urls.join(", "));
        if let Some(plane) = registry.media() {
            plane.set_relays(relay_ips(&turn).await);
        }
        registry.set_turn(turn);
    }
    let restored = registry.restore(restored);
    if restored > 0 {
        let ms = started.elapsed().as_millis();
        println!("Restored {restored} room(s) from {} in {ms} ms\n", cfg.data_dir.display());
        tracing::info!(rooms = restored, ms, "rooms restored");
    }
    if let Some(store) = registry.store() {
        forget_old_sessions(store.clone(), cfg.retain_days);
    }
    let metrics = talkstick::http::metrics::install().context("cannot set up metrics")?;
    let stop = drain_then_stop(Arc::clone(&registry), Duration::from_secs(cfg.drain_timeout));
    let mut state = AppState::new(secret, registry).with_metrics(metrics).with_public_url(&base);
    if let Some(key) = api_key(&cfg)? {
        println!(
            "Admin API on: POST {base}/api/rooms/ROOM/links, GET {base}/api/rooms (see docs/api.md)\n"
        );
        state = state.with_api_key(&key);
    }
    serve(listener, state, stop).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
/// How the server was asked to stop.
enum Stop {
    /// Ctrl-C: at once.
    Now,
    /// SIGTERM or `POST /api/admin/drain`: drain first.
    Drain,
}

async fn stop_signal(registry: Option<&Registry>) -> Stop {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    let asked = async {
        match registry {
            Some(r) => r.drain_asked().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ctrl_c => Stop::Now,
        () = term => Stop::Drain,
        () = asked => Stop::Drain,
    }
}

/// Resolves on SIGINT or SIGTERM (the relay and load tester stop at once).
async fn shutdown_signal() {
    let _ = stop_signal(None).await;
    tracing::info!("shutting down");
    // Let rooms say goodbye before the runtime stops.
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// The server's stop: on SIGTERM (or the admin API) it drains — no new rooms, everyone
/// told, up to `limit` for the rooms to end — then stops; rooms still running come back
/// on the next start (with the session store). Ctrl-C stops at once.
async fn drain_then_stop(registry: Arc<Registry>, limit: Duration) {
    match stop_signal(Some(&registry)).await {
        Stop::Now => tracing::info!("shutting down"),
        Stop::Drain => {
            let secs = limit.as_secs();
            tracing::info!(timeout_s = secs, "draining");
            let message = format!(
                "The server restarts within {secs} seconds. Your room comes back after it: this page reconnects by itself."
            );
            let left = registry.drain(&message, limit).await;
            tracing::info!(rooms_left = left, "drained; shutting down");
        }
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// Deletes session records older than `days` now and every hour after.
fn forget_old_sessions(store: talkstick::store::Store, days: u32) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            let store = store.clone();
            match tokio::task::spawn_blocking(move || store.records()?.forget_older_than(days))
                .await
            {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(sessions = n, days, "old session records deleted"),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "old session records could not be deleted")
                }
                Err(e) => tracing::warn!(error = %e, "the retention task failed"),
            }
        }
    });
}
