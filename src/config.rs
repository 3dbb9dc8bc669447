//! Server configuration: flags with environment fallbacks and embedded defaults, in one
//! struct.

use std::net::SocketAddr;

use clap::Args;

/// `talkstick serve` options.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on for HTTP and WebSocket.
    #[arg(long, env = "TALKSTICK_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Secret that signs join tokens. Without one, a random development secret is
    /// generated and printed at start-up.
    #[arg(long, env = "TALKSTICK_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
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
}
