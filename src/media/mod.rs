//! The media plane: Opus forwarding over one UDP port.
//!
//! - [`udp`]: sockets, the receive loops, counters ([`MediaPlane`]).
//! - [`demux`]: datagram → room routing by STUN ufrag, then source address.
//! - [`peer`]: one participant's WebRTC connection (str0m, ICE-lite, DTLS-SRTP, Opus).
//! - [`forwarder`]: one room's peers, audio slots, rewrite, gates (sans-IO).
//! - [`speech`]: speaking / stopped from RFC 6464 levels (sans-IO).
//! - [`sim`]: clients wired to a forwarder in memory on simulated time (tests, benches).

pub mod demux;
pub mod forwarder;
pub mod peer;
pub mod sim;
pub mod speech;
pub mod udp;

pub use forwarder::{Forwarder, MediaOutput};
pub use udp::MediaPlane;

/// Installs str0m's crypto backend for the process (once; later calls do nothing).
pub fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| str0m::crypto::from_feature_flags().install_process_default());
}
