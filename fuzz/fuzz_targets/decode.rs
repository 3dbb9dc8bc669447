//! The signaling decoders on arbitrary UTF-8: `protocol::decode` (what clients send) and
//! `protocol::decode_server` (what a client reads).
//!
//! Beyond not panicking: a client frame that decodes re-encodes with
//! `protocol::encode_client` into text that decodes to the same frame, and a server frame
//! that decodes re-encodes with `protocol::encode` into text that decodes to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use talkstick_signaling::protocol;

fuzz_target!(|text: &str| {
    if let Ok(frame) = protocol::decode(text) {
        let again = protocol::encode_client(&frame);
        let back = protocol::decode(&again)
            .unwrap_or_else(|e| panic!("re-encoded client frame {again:?} does not decode: {e}"));
        assert_eq!(back, frame, "client frame changed through {again:?}");
    }
    if let Ok(frame) = protocol::decode_server(text) {
        let again = protocol::encode(frame.seq, &frame.msg);
        let back = protocol::decode_server(&again)
            .unwrap_or_else(|e| panic!("re-encoded server frame {again:?} does not decode: {e}"));
        assert_eq!(back, frame, "server frame changed through {again:?}");
    }
});
