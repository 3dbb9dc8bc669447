//! The SRTP-GCM receive path, `rtp::srtp_open::RtpOpener`, with fixed AES-256-GCM keys
//! and two known streams (SSRC 42, one with a history), opening arbitrary datagrams one
//! after another (the input is split at `0xFF 0xFF 0xFF 0xFF` into several datagrams, so
//! the replay window and rollover estimate see sequences).
//!
//! Beyond not panicking: an opened packet names a known stream, and its payload is no
//! longer than the datagram's body (what follows the 12-byte header, less the tag).
#![no_main]

use libfuzzer_sys::fuzz_target;
use str0m::crypto::dtls::SrtpProfile;
use talkstick::rtp::keys::{ExportedKeys, backend};
use talkstick::rtp::srtp::ExtIds;
use talkstick::rtp::srtp_open::RtpOpener;

fuzz_target!(|data: &[u8]| {
    let material = (0..88u8).map(|i| i.wrapping_mul(37)).collect();
    let keys = ExportedKeys { profile: SrtpProfile::AEAD_AES_256_GCM, material, active: false };
    let mut opener: RtpOpener = RtpOpener::new(backend(), &keys).expect("fixed keys are valid");
    opener.add_stream(42, None);
    opener.add_stream(7, Some(0x1_fff0));
    let ids = ExtIds { audio_level: Some(1), mid: Some(4) };
    let mut buf = Vec::new();
    for packet in split(data) {
        if let Ok(opened) = opener.open(packet, ids, &mut buf) {
            assert!(opened.ssrc == 42 || opened.ssrc == 7, "opened unknown SSRC {}", opened.ssrc);
            assert!(
                opened.payload.len() + 12 + 16 <= packet.len(),
                "payload of {} bytes from a {}-byte datagram",
                opened.payload.len(),
                packet.len()
            );
        }
    }
});

/// The datagrams of one input, separated by four 0xFF bytes.
fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(4).position(|w| w == [0xFF; 4]) {
        out.push(&rest[..at]);
        rest = &rest[at + 4..];
    }
    out.push(rest);
    out
}
