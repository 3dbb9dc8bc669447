//! # talkstick
//!
//! A voice-conference server with turn-taking for small-group learning. The decisions
//! about who may speak live in the pure `talkstick-signaling` crate; this crate runs
//! them: an axum edge, one tokio task per room, and the embedded browser client.
//!
//! # Layout
//! - [`config`]: command-line and environment configuration.
//! - [`token`]: HS256 join tokens (mint and verify).
//! - [`http`]: the axum edge: `/ws`, `/healthz`, the web client.
//! - [`room`]: the room task (owns one `Room`) and the registry of rooms.
//! - [`demo`]: the links `serve` prints.

pub mod config;
pub mod demo;
pub mod http;
pub mod room;
pub mod token;
