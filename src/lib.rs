//! # talkstick
//!
//! A voice-conference server with turn-taking for small-group learning. The decisions
//! about who may speak live in the pure `talkstick-signaling` crate; this crate runs
//! them: an axum edge, one tokio task per room, and the embedded browser client.
//!
//! # Layout
//! From the top down; a module uses only those below it (`docs/architecture.md`).
//!
//! - [`http`]: the axum edge: `/ws`, `/healthz`, the web client.
//! - [`loadtest`]: `talkstick loadtest`, real participants measured against a server.
//! - `native` (feature `native`): `talkstick join`, a participant with a microphone,
//!   speakers and a terminal view.
//! - [`room`]: one task per room (signaling + media + members) and the registry.
//! - [`store`]: the session store: each room's journal in SQLite, written by one thread.
//! - [`client`]: a native participant (WebSocket + WebRTC), for the load tester and tests.
//! - `audio` (feature `native`): jitter buffer, mixer, Opus and WAV files.
//! - [`media`]: the audio SFU: one UDP port, demux, peers, slots, speech.
//! - [`relay`]: the raw UDP relay that load tests use as a baseline.
//! - [`rtp`]: the WebRTC endpoint with the SRTP fast path, shared by SFU and client.
//! - [`demo`]: the links `serve` prints.
//! - [`token`]: HS256 join tokens (mint and verify).
//! - [`turn`]: TURN relay credentials (the REST API convention) for the `welcome`.
//! - [`config`]: command-line and environment configuration.
//! - `testkit` (feature `testkit`): simulated rooms and fault injection, for tests.

#[cfg(feature = "native")]
pub mod audio;
pub mod client;
pub mod config;
pub mod demo;
pub mod http;
pub mod loadtest;
pub mod media;
#[cfg(feature = "native")]
pub mod native;
pub mod relay;
pub mod room;
pub mod rtp;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod token;
pub mod turn;
