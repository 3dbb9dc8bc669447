//! # talkstick
//!
//! A voice-conference server with turn-taking for small-group learning. The decisions
//! about who may speak live in the pure `talkstick-signaling` crate; this crate runs
//! them: an axum edge, one tokio task per room, and the embedded browser client.
//!
//! # Layout
//! - [`client`]: a native participant (WebSocket + str0m), for the load tester and tests.
//! - [`config`]: command-line and environment configuration.
//! - [`token`]: HS256 join tokens (mint and verify).
//! - [`http`]: the axum edge: `/ws`, `/healthz`, the web client.
//! - [`media`]: the audio SFU: one UDP port, demux, str0m peers, slots, speech.
//! - [`room`]: one task per room (signaling + media + members) and the registry.
//! - [`demo`]: the links `serve` prints.
//! - [`loadtest`]: `talkstick loadtest`, real participants measured against a server.
//! - [`relay`]: the raw UDP relay that load tests use as a baseline.

pub mod client;
pub mod config;
pub mod demo;
pub mod http;
pub mod loadtest;
pub mod media;
pub mod relay;
pub mod room;
pub mod token;
