//! A native Talkstick participant: the WebSocket protocol plus a WebRTC peer on its
//! own UDP socket. Shared by the load tester and the tests; the same core can back a
//! future native client.
//!
//! - [`rtc`]: the client-side WebRTC peer (sans-IO around str0m): one microphone m-line
//!   and N receive slots.
//! - [`session`]: joining over WebSocket, negotiating audio, and the run loop task.
//! - [`janus`]: Janus's WebSocket API and VideoRoom plugin, for measuring a real SFU
//!   with the same peers.

pub mod janus;
pub mod rtc;
pub mod session;

pub use rtc::{ClientRtc, ClientRtcError};
pub use session::{ClientError, ClientEvent, EventSink, Participant};
