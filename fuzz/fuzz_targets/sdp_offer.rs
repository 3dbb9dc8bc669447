//! Audio offers: `media::peer::Peer::accept` on arbitrary text, with one server address
//! and three receive slots (slow: each input builds a WebRTC endpoint with its own DTLS
//! certificate).
//!
//! Beyond not panicking: an offer is either refused with a reason or answered, and an
//! answer is a session description that str0m reads back as an SDP answer.
#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use str0m::change::SdpAnswer;
use talkstick::media::peer::Peer;

fuzz_target!(|offer: &str| {
    talkstick::rtp::install_crypto();
    let addr: SocketAddr = "192.0.2.1:3478".parse().expect("a valid address");
    if let Ok((_peer, answer)) = Peer::accept(Instant::now(), offer, &[addr], 3)
        && let Err(e) = SdpAnswer::from_sdp_string(&answer)
    {
        panic!("the answer to {offer:?} does not parse: {e}\n{answer}");
    }
});
