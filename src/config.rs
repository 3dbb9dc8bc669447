//! Server configuration: flags with environment fallbacks and embedded defaults, in one
//! struct.

use std::net::{IpAddr, SocketAddr};

use clap::Args;

/// `talkstick serve` options.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on for HTTP and WebSocket.
    #[arg(long, env = "TALKSTICK_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Secret that signs join tokens. Without one (and without --secret-file), a random
    /// development secret is generated and printed at start-up.
    #[arg(long, env = "TALKSTICK_SECRET", hide_env_values = true, conflicts_with = "secret_file")]
    pub secret: Option<String>,
    /// File holding the signing secret (its first line), so that it appears in no command
    /// line or environment.
    #[arg(long, env = "TALKSTICK_SECRET_FILE")]
    pub secret_file: Option<std::path::PathBuf>,
    /// Print the demo room's links (a facilitator's among them) even though a secret was
    /// given. Without a secret they are always printed; with one, only when asked, so a
    /// production server never shows a facilitator link in its log.
    #[arg(long)]
    pub demo: bool,
    /// Base URL printed in the demo links (defaults to http://BIND).
    #[arg(long, env = "TALKSTICK_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Room for the printed demo links.
    #[arg(long, default_value = "demo")]
    pub demo_room: String,
    /// Number of learner links to print.
    #[arg(long, default_value_t = 5)]
    pub demo_learners: usize,
    /// Hours the printed demo links stay valid.
    #[arg(long, default_value_t = 24)]
    pub demo_hours: u64,
    /// UDP port for all audio (every peer shares it); 0 picks a free port.
    #[arg(long, env = "TALKSTICK_UDP_PORT", default_value_t = 50000)]
    pub udp_port: u16,
    /// Local address to receive audio on (repeatable). Default: every IPv4 address of
    /// this machine, loopback included.
    #[arg(long = "media-ip", env = "TALKSTICK_MEDIA_IP", value_delimiter = ',')]
    pub media_ips: Vec<IpAddr>,
    /// Address clients reach the UDP port at, when it differs from the local one (NAT);
    /// repeatable (e.g. one IPv4 and one IPv6). Bind with --media-ip 0.0.0.0 then.
    #[arg(long = "public-ip", env = "TALKSTICK_PUBLIC_IP", value_delimiter = ',')]
    pub public_ips: Vec<IpAddr>,
    /// Audio receive slots per listener: how many people one hears at once.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub audio_slots: u8,
    /// Run signaling only, without the audio SFU.
    #[arg(long)]
    pub no_audio: bool,
    /// Directory of the session store (an SQLite database, created on first start):
    /// rooms come back after a restart or a crash, and past sessions keep their reports.
    #[arg(long, env = "TALKSTICK_DATA_DIR", default_value = "talkstick-data")]
    pub data_dir: std::path::PathBuf,
    /// Keep rooms in memory only: a restart forgets them.
    #[arg(long, conflicts_with = "data_dir")]
    pub no_store: bool,
    /// Days a session's record is kept after it ended (then deleted, checked at start and
    /// every hour).
    #[arg(long, env = "TALKSTICK_RETAIN_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub retain_days: u32,
    /// Log lines as text for people, or as JSON objects (with room and participant
    /// fields) for a log pipeline.
    #[arg(long, env = "TALKSTICK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// A TURN relay for learners whose network blocks UDP to this server (repeatable):
    /// `turn:HOST:3478?transport=udp`, `turn:HOST:3478?transport=tcp`, `turns:HOST:5349`.
    #[arg(long = "turn-url", env = "TALKSTICK_TURN_URLS", value_delimiter = ',')]
    pub turn_urls: Vec<String>,
    /// The relay's shared secret (coturn's `static-auth-secret` with `use-auth-secret`).
    #[arg(long, env = "TALKSTICK_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,
    /// Key for the admin API (`/api/rooms…`: make links, list rooms), at least 24
    /// characters. Without it (or --api-key-file) the admin API is off.
    #[arg(
        long,
        env = "TALKSTICK_API_KEY",
        hide_env_values = true,
        conflicts_with = "api_key_file"
    )]
    pub api_key: Option<String>,
    /// File holding the admin API key (its first line).
    #[arg(long, env = "TALKSTICK_API_KEY_FILE")]
    pub api_key_file: Option<std::path::PathBuf>,
    /// On SIGTERM (or `POST /api/admin/drain`): seconds to wait for rooms to end after
    /// telling everyone, before stopping (rooms still running come back on the next
    /// start). Ctrl-C stops at once.
    #[arg(long, env = "TALKSTICK_DRAIN_TIMEOUT", default_value_t = 30)]
    pub drain_timeout: u64,
    /// Hours the TURN credentials in a `welcome` stay valid.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u64).range(1..=168))]
    pub turn_ttl_hours: u64,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}
