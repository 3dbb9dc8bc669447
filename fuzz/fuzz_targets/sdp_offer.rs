//! Audio offers: `media::peer::Peer::accept` on arbitrary text, with one server address
//! (a UDP and a passive TCP host candidate) and three receive slots (slow: each input builds a WebRTC endpoint with its own DTLS
//! certificate).
//!
//! Beyond not panicking: an offer is either refused with a reason or answered, and an
//! answer is a session description that str0m reads back as an SDP answer.
#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use str0m::change::SdpAnswer;
use talkstick::media::peer::{HostCandidate, Peer};

fuzz_target!(|offer: &str| {
    talkstick::rtp::install_crypto();
    let addr: SocketAddr = "192.0.2.1:3478".parse().expect("a valid address");
    let hosts = [HostCandidate::udp(addr), HostCandidate::tcp(addr)];
    if let Ok((_peer, answer)) = Peer::accept(Instant::now(), offer, &hosts, 3)
        && let Err(e) = SdpAnswer::from_sdp_string(&answer)
    {
        panic!("the answer to {offer:?} does not parse: {e}\n{answer}");
    }
});
