//! A native participant (feature `native`): `talkstick join` with a microphone and
//! speakers through cpal, Opus through libopus, and a terminal view of the floor; or
//! with WAV files in their place, for tests and bots.
//!
//! From the top down:
//! - [`cli`]: the command lines of `talkstick join` and `talkstick devices`.
//! - [`app`]: the session's loop: sound, server, keys, reconnects.
//! - [`groups`]: following the breakout groups on a second connection.
//! - [`terminal`]: the real terminal (raw mode, keys on their own thread).
//! - [`view`]: drawing the room into the terminal (pure).
//! - [`keys`]: what each key does (pure).
//! - [`model`]: the room as this participant knows it (sans-IO).
//! - [`sound`]: sources and sinks (device, WAV file, none) and the timing log.
//! - [`rejoin`]: joining again in the background (a lost connection, a group's room).
//! - [`device`]: cpal devices on a thread of their own, and their list.
//! - [`link`]: reading a join link.
//!
//! The sound itself (jitter buffer, mixer, codec, WAV) is in [`crate::audio`]; the
//! WebSocket and WebRTC peer are the load tester's, in [`crate::client`].

pub mod app;
pub mod cli;
pub mod device;
pub mod groups;
pub mod keys;
pub mod link;
pub mod model;
pub mod rejoin;
pub mod sound;
pub mod terminal;
pub mod view;
