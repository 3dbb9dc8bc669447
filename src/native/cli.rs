//! The command line of `talkstick join` and `talkstick devices`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use super::app::{self, Ending, Input, JoinOptions, NativeError, Output};
use super::{device, link};

/// `talkstick join`: take part in a room from this computer.
#[derive(Debug, clap::Args)]
pub struct JoinArgs {
    /// The join link you were sent (http(s)://…/?token=…).
    #[arg(required_unless_present_all = ["url", "token"], conflicts_with_all = ["url", "token"])]
    pub link: Option<String>,
    /// The server's address, with --token, instead of a link.
    #[arg(long, requires = "token")]
    pub url: Option<String>,
    /// The join token, with --url, instead of a link.
    #[arg(long, requires = "url", env = "TALKSTICK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The microphone to use (a name from `talkstick devices`, or part of one); the
    /// default device otherwise.
    #[arg(long, conflicts_with_all = ["input_file", "no_input"])]
    pub input_device: Option<String>,
    /// The speakers to use (a name from `talkstick devices`, or part of one).
    #[arg(long, conflicts_with_all = ["output_file", "no_output"])]
    pub output_device: Option<String>,
    /// Speak a recording (WAV, any rate) instead of the microphone.
    #[arg(long)]
    pub input_file: Option<PathBuf>,
    /// Play the recording again and again (with --input-file).
    #[arg(long = "loop", requires = "input_file")]
    pub looped: bool,
    /// Write what you hear to a WAV file (48 kHz mono) instead of the speakers.
    #[arg(long)]
    pub output_file: Option<PathBuf>,
    /// Join without a microphone (listen only).
    #[arg(long, conflicts_with = "input_file")]
    pub no_input: bool,
    /// Join without speakers.
    #[arg(long, conflicts_with = "output_file")]
    pub no_output: bool,
    /// Start with the microphone off (M turns it on).
    #[arg(long)]
    pub mic_off: bool,
    /// Print what happens line by line instead of the terminal view (the default when
    /// the output is not a terminal).
    #[arg(long)]
    pub no_tui: bool,
    /// Leave after this many seconds.
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Log each frame sent and played with its time, for measuring mouth-to-ear
    /// latency (`scripts/bench-latency`).
    #[arg(long)]
    pub timing_log: Option<PathBuf>,
}

impl JoinArgs {
    /// The session's options.
    pub fn options(&self) -> Result<JoinOptions, NativeError> {
        let (base, token) = match (&self.link, &self.url, &self.token) {
            (Some(l), _, _) => link::parse(l)?,
            (None, Some(u), Some(t)) => (u.trim_end_matches('/').to_owned(), t.clone()),
            _ => return Err(NativeError::Refused("give a link, or --url and --token".into())),
        };
        let input = match (&self.input_file, self.no_input) {
            (Some(p), _) => Input::File { path: p.clone(), looped: self.looped },
            (None, true) => Input::None,
            (None, false) => Input::Device(self.input_device.clone()),
        };
        let output = match (&self.output_file, self.no_output) {
            (Some(p), _) => Output::File(p.clone()),
            (None, true) => Output::None,
            (None, false) => Output::Device(self.output_device.clone()),
        };
        Ok(JoinOptions {
            base,
            token,
            input,
            output,
            tui: !self.no_tui && std::io::stdout().is_terminal() && std::io::stdin().is_terminal(),
            duration: self
                .seconds
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(Duration::from_secs_f64),
            timing_log: self.timing_log.clone(),
            mic_off: self.mic_off,
        })
    }
}

/// Runs `talkstick join`; returns the process's exit code (0 left, 1 ended by the
/// server, 2 could not join).
pub async fn join(args: JoinArgs) -> i32 {
    let opts = match args.options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    match app::run(opts, None).await {
        Ok(summary) => {
            match &summary.ending {
                Ending::Left => eprintln!("You left the room."),
                Ending::Ended(why) => eprintln!("{why}"),
            }
            let j = summary.jitter;
            eprintln!(
                "sent {} frames; played {}, concealed {}, late {}, dropped {}; reconnected {} times",
                summary.sent, j.played, j.concealed, j.late, j.dropped, summary.reconnects
            );
            i32::from(summary.ending != Ending::Left)
        }
        Err(e) => {
            eprintln!("{e}");
            2
        }
    }
}

/// Runs `talkstick devices`: prints the sound devices; 0, or 2 when they cannot be
/// listed.
pub fn devices() -> i32 {
    match device::list() {
        Ok(list) => {
            let mark = |name: &String, default: &Option<String>| {
                if default.as_ref() == Some(name) { " (default)" } else { "" }
            };
            println!("Inputs (microphones):");
            for n in &list.inputs {
                println!("  {n}{}", mark(n, &list.default_input));
            }
            if list.inputs.is_empty() {
                println!("  none");
            }
            println!("Outputs (speakers):");
            for n in &list.outputs {
                println!("  {n}{}", mark(n, &list.default_output));
            }
            if list.outputs.is_empty() {
                println!("  none");
            }
            0
        }
        Err(e) => {
            eprintln!("{e}");
            2
        }
    }
}
