//! Server configuration: flags, then environment, then a TOML file (`--config`), then
//! embedded defaults, in that order of precedence, in one struct.
//!
//! Why the file becomes arguments: clap already knows every option, its environment
//! variable, its type and its checks. A file's keys are turned into the flags they name
//! ([`file_args`]) — only for options neither given on the command line nor set in the
//! environment — and clap parses them like any other, so a file can say nothing a flag
//! could not, and a bad value gets the same error a bad flag gets.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use clap::{Args, CommandFactory as _, FromArgMatches as _};

/// A transport audio can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IceTransport {
    /// UDP: the usual path.
    Udp,
    /// TCP, for networks that block UDP.
    Tcp,
}

/// `talkstick serve` options.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// A TOML file of settings (keys as the long options: `udp_port = 50000`,
    /// `turn_url = ["turn:…"]`); flags and environment variables override it.
    #[arg(long, env = "TALKSTICK_CONFIG")]
    pub config: Option<std::path::PathBuf>,
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
    /// TCP port for audio from networks that let no UDP through (ICE over TCP, passive
    /// candidates). Default: the UDP port's number (0: any free port).
    #[arg(long, env = "TALKSTICK_TCP_PORT")]
    pub tcp_port: Option<u16>,
    /// Transports offered for audio: `udp`, `tcp`, or both (browsers use UDP when it
    /// works). `tcp` alone is for trying what a learner behind a UDP-blocking firewall
    /// gets.
    #[arg(long, env = "TALKSTICK_ICE_TRANSPORTS", value_delimiter = ',', default_values = ["udp", "tcp"])]
    pub ice_transports: Vec<IceTransport>,
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

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not readable, or not TOML.
    #[error("cannot read the configuration file: {0}")]
    Read(#[from] Box<figment::Error>),
    /// A key no option has.
    #[error("{file}: unknown setting {key:?}; known settings: {known}")]
    UnknownKey {
        /// The file.
        file: String,
        /// The key.
        key: String,
        /// Every key there is.
        known: String,
    },
    /// A value of a kind no option takes (a table, or a list for a single value).
    #[error("{file}: {key:?} must be {want}")]
    BadValue {
        /// The file.
        file: String,
        /// The key.
        key: String,
        /// What it must be.
        want: &'static str,
    },
    /// The settings, as a whole, were refused.
    #[error("{0}")]
    Invalid(String),
}

/// A parser of `serve`'s options alone (for turning a file into them).
#[derive(Debug, clap::Parser)]
#[command(name = "serve")]
struct ServeOnly {
    #[command(flatten)]
    serve: ServeConfig,
}

/// The flags a TOML file's keys stand for, leaving out options that `given` (the
/// command line) names or whose environment variable is set when `respect_env`.
pub fn file_args(
    path: &Path,
    given: &[OsString],
    respect_env: bool,
) -> Result<Vec<OsString>, ConfigError> {
    use figment::providers::{Format as _, Toml};
    let file = path.display().to_string();
    let dict: figment::value::Dict =
        figment::Figment::from(Toml::file_exact(path)).extract().map_err(Box::new)?;
    let cmd = ServeOnly::command();
    let args: Vec<&clap::Arg> = cmd.get_arguments().filter(|a| a.get_long().is_some()).collect();
    let mut out = Vec::new();
    for (key, value) in dict {
        let long = key.replace('_', "-");
        let Some(arg) =
            args.iter().find(|a| a.get_long() == Some(long.as_str()) && long != "config")
        else {
            let known: Vec<String> = args
                .iter()
                .filter_map(|a| a.get_long())
                .filter(|l| *l != "config" && *l != "help")
                .map(|l| l.replace('-', "_"))
                .collect();
            return Err(ConfigError::UnknownKey { file, key, known: known.join(", ") });
        };
        let flag = format!("--{long}");
        let on_command_line = given
            .iter()
            .filter_map(|a| a.to_str())
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")));
        let in_env = respect_env && arg.get_env().is_some_and(|e| std::env::var_os(e).is_some());
        if on_command_line || in_env {
            continue;
        }
        let takes_value = arg.get_action().takes_values();
        let bad = |want| ConfigError::BadValue { file: file.clone(), key: key.clone(), want };
        use figment::value::Value;
        match value {
            Value::Bool(_, b) if !takes_value => {
                if b {
                    out.push(flag.into());
                }
            }
            Value::Array(_, items) => {
                for item in items {
                    let text = scalar(&item).ok_or_else(|| bad("a list of strings or numbers"))?;
                    out.extend([OsString::from(&flag), text.into()]);
                }
            }
            other if takes_value => {
                let text = scalar(&other).ok_or_else(|| bad("a string, a number or a list"))?;
                out.extend([OsString::from(&flag), text.into()]);
            }
            _ => return Err(bad("true or false")),
        }
    }
    Ok(out)
}

fn scalar(v: &figment::value::Value) -> Option<String> {
    use figment::value::Value;
    match v {
        Value::String(_, s) => Some(s.clone()),
        Value::Num(_, n) => n
            .to_i128()
            .map(|n| n.to_string())
            .or_else(|| n.to_u128().map(|n| n.to_string()))
            .or_else(|| n.to_f64().map(|f| f.to_string())),
        Value::Bool(_, b) => Some(b.to_string()),
        _ => None,
    }
}

/// Checks a configuration file as `serve` would read it (ignoring the environment):
/// every key known, every value of its option's kind, the whole accepted.
pub fn check(path: &Path) -> Result<ServeConfig, ConfigError> {
    let args = file_args(path, &[], false)?;
    let argv = std::iter::once(OsString::from("serve")).chain(args);
    let words = |e: clap::Error| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        ConfigError::Invalid(format!("{}: {}", path.display(), first.trim_start_matches("error: ")))
    };
    let matches = ServeOnly::command().try_get_matches_from(argv).map_err(words)?;
    let only = ServeOnly::from_arg_matches(&matches).map_err(words)?;
    Ok(only.serve)
}

/// `argv` with the settings of `serve`'s configuration file (from `--config` or
/// `TALKSTICK_CONFIG`) put in as flags, below the command line and the environment.
pub fn with_config_file(argv: Vec<OsString>) -> Result<Vec<OsString>, ConfigError> {
    if argv.get(1).and_then(|a| a.to_str()) != Some("serve") {
        return Ok(argv);
    }
    let mut path = std::env::var_os("TALKSTICK_CONFIG").map(std::path::PathBuf::from);
    for (i, a) in argv.iter().enumerate() {
        let Some(a) = a.to_str() else { continue };
        if let Some(p) = a.strip_prefix("--config=") {
            path = Some(p.into());
        } else if a == "--config" {
            path = argv.get(i + 1).map(std::path::PathBuf::from);
        }
    }
    let Some(path) = path else { return Ok(argv) };
    let extra = file_args(&path, &argv, true)?;
    let mut out = argv;
    out.splice(2..2, extra);
    Ok(out)
}
