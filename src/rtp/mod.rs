//! The RTP layer both ends of an audio connection share: the SFU's peers ([`crate::media`])
//! and the native participant ([`crate::client`]) are the same WebRTC endpoint with a
//! different offer, so they run the same code for everything below the offer.
//!
//! - [`endpoint`]: str0m's `Rtc` with the SRTP fast path around it ([`Endpoint`]): the
//!   drain loop, arming the fast path when DTLS is up, learning the streams it opens.
//! - [`srtp`]: the fast path's RTP header writer and SRTP-GCM sealer.
//! - [`srtp_open`]: its receive half: SRTP-GCM opening, replay window, audio level.
//! - [`keys`]: the SRTP keys DTLS exports, tapped from str0m's crypto provider.
//! - [`inline`]: short lists kept inline, for the state each packet reads.
//! - [`socket`]: a UDP socket the runtime watches for reads only ([`DatagramSocket`]).
//!
//! Nothing here knows rooms, participants or slots: those are the SFU's.

pub mod endpoint;
pub mod inline;
pub mod keys;
pub mod socket;
pub mod srtp;
pub mod srtp_open;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::media::Mid;
pub use str0m::net::Protocol;

pub use endpoint::{Endpoint, RtcEvent, RtpError};
pub use socket::DatagramSocket;

/// A packet at or above this level (-45 dBov; RFC 6464 counts down from 0, loudest)
/// counts as voice: a level sent without its own voice flag is read with this, and the
/// server's speech detection starts on it.
pub const LOUD_LEVEL: i8 = 45;

/// Interval of RTCP reports on audio streams: RFC 3550's recommended 5 s (str0m's
/// default too). Receiver reports serve statistics only here (no bandwidth estimation),
/// and at 300 peers each second of interval is 300 compound packets a second.
pub const RTCP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs str0m's crypto backend for the process (once; later calls do nothing).
pub fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| str0m::crypto::from_feature_flags().install_process_default());
}

/// A datagram to send: the one output type of every endpoint, the forwarder and the
/// client alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// UDP, or a TCP connection (RFC 4571 framing) when ICE chose one.
    pub proto: Protocol,
    /// The local address to send from (one of our candidates: it picks the socket).
    pub source: SocketAddr,
    /// The remote address.
    pub destination: SocketAddr,
    /// The datagram.
    pub contents: Vec<u8>,
}

/// A datagram that arrived, as an endpoint is fed it.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// UDP, or a frame of a TCP connection.
    pub proto: Protocol,
    /// The remote address it came from.
    pub source: SocketAddr,
    /// Our address it was sent to.
    pub destination: SocketAddr,
    /// The datagram.
    pub contents: &'a [u8],
    /// When it arrived (the kernel's receive stamp, or when it was read): audio is timed
    /// by this, not by when it was handled.
    pub arrived: Instant,
}

/// One Opus packet received on an audio m-line.
#[derive(Debug, Clone)]
pub struct Audio {
    /// The m-line it came on.
    pub mid: Mid,
    /// RTP timestamp, extended to 64 bits (48 kHz).
    pub rtp_time: u64,
    /// Sequence number, extended with the rollover counter.
    pub seq: u64,
    /// RFC 6464 level in -dBov (0 loudest, 127 silence), if sent.
    pub level: Option<i8>,
    /// The V bit of the audio-level extension, if sent.
    pub voice: Option<bool>,
    /// The Opus payload.
    pub data: Vec<u8>,
    /// When the datagram arrived.
    pub at: Instant,
}

/// One Opus packet to send on an outgoing stream of an [`Endpoint`].
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// Which of the endpoint's send m-lines, in the order it was given them.
    pub stream: usize,
    /// RTP timestamp (48 kHz; the low 32 bits go on the wire).
    pub rtp_time: u64,
    /// First packet of a talk spurt (the RTP marker bit).
    pub talkspurt: bool,
    /// RFC 6464 level in -dBov, if known.
    pub level: Option<i8>,
    /// The V bit to send with the level; without it, [`LOUD_LEVEL`] decides.
    pub voice: Option<bool>,
    /// The Opus payload.
    pub payload: &'a [u8],
    /// The wall-clock time str0m stamps the packet with when it writes it.
    pub wallclock: Instant,
}

impl Outgoing<'_> {
    /// The level and voice flag as the audio-level extension carries them.
    pub(crate) fn level_ext(&self) -> Option<(u8, bool)> {
        self.level.map(|l| (l.clamp(0, 127) as u8, self.voice.unwrap_or(l <= LOUD_LEVEL)))
    }
}
