//! The media plane: Opus forwarding over one UDP port.
//!
//! - [`udp`]: sockets, the receive loops, counters ([`MediaPlane`]).
//! - [`socket`]: a UDP socket the runtime watches for reads only ([`DatagramSocket`]).
//! - [`demux`]: datagram → room routing by STUN ufrag, then source address.
//! - [`peer`]: one participant's WebRTC connection (str0m, ICE-lite, DTLS-SRTP, Opus).
//! - [`srtp`]: the forwarding fast path's RTP header writer and SRTP-GCM sealer.
//! - [`srtp_open`]: its receive half: SRTP-GCM opening, replay window, audio level.
//! - [`keys`]: the SRTP keys DTLS exports, tapped from str0m's crypto provider.
//! - [`forwarder`]: one room's peers, audio slots, rewrite, gates (sans-IO).
//! - [`inline`]: short lists kept inline, for the state each forwarded packet reads.
//! - [`speech`]: speaking / stopped from RFC 6464 levels (sans-IO).
//! - [`sim`]: clients wired to a forwarder in memory on simulated time (tests, benches).

pub mod demux;
pub mod forwarder;
pub mod inline;
pub mod keys;
pub mod peer;
pub mod sim;
pub mod socket;
pub mod speech;
pub mod srtp;
pub mod srtp_open;
pub mod udp;

pub use forwarder::{Forwarder, MediaOutput};
pub use socket::DatagramSocket;
pub use udp::MediaPlane;

/// Installs str0m's crypto backend for the process (once; later calls do nothing).
pub fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| str0m::crypto::from_feature_flags().install_process_default());
}

static FAULT_INJECTION: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Arms fault injection, for tests of failure isolation: from then on, an audio offer
/// containing `talkstick-inject-panic` makes the room's media code panic. The server arms
/// it only when started with `TALKSTICK_FAULT_INJECTION=1`; it is off otherwise.
pub fn arm_fault_injection() {
    FAULT_INJECTION.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether fault injection is armed.
pub fn fault_injection_armed() -> bool {
    FAULT_INJECTION.load(std::sync::atomic::Ordering::Relaxed)
}
