//! The selective forwarding unit: Opus from each participant's microphone to the receive
//! slots of the others, over one UDP port (and ICE over TCP for networks that let no UDP
//! through). It knows participants and peers, not rooms: routed datagrams go to a
//! [`demux::DatagramSink`] the room provides.
//!
//! - [`plane`]: the sockets and listeners, their receive loops, the advertised
//!   candidates and counters ([`MediaPlane`]).
//! - [`tcp`]: ICE over TCP: connections, RFC 4571 framing, their limits.
//! - [`demux`]: datagram → owner routing by STUN ufrag, then source address.
//! - [`peer`]: one participant's WebRTC connection, an [`crate::rtp::Endpoint`] made from
//!   their offer.
//! - [`forwarder`]: one room's peers, audio slots, rewrite, gates (sans-IO).
//! - [`speech`]: speaking / stopped from RFC 6464 levels (sans-IO).
//!
//! Below it, [`crate::rtp`] (the endpoint, SRTP, the socket type), shared with the
//! native client.

pub mod demux;
pub mod forwarder;
pub mod peer;
pub mod plane;
pub mod speech;
pub mod tcp;

pub use demux::{Datagram, DatagramSink};
pub use forwarder::{Forwarder, MediaEvent};
pub use plane::{MediaOptions, MediaPlane};
