//! Encoder for the load tester's speech asset, `src/loadtest/speech.bin`.
//!
//! Not a real test: `scripts/make-speech-asset` synthesises the speech WAV and runs
//! `SPEECH_WAV=… SPEECH_OUT=… cargo test --test make_speech_asset -- --ignored`. The
//! encoding is the library's ([`talkstick::loadtest::speech::encode`]), the same that
//! `loadtest --speak-file` uses.

use std::path::{Path, PathBuf};

use talkstick::audio::wav;
use talkstick::loadtest::speech::encode;

#[test]
#[ignore = "asset generator: run by scripts/make-speech-asset"]
fn make_speech_asset() {
    let input =
        PathBuf::from(std::env::var_os("SPEECH_WAV").expect("set SPEECH_WAV to the input WAV"));
    let out = std::env::var_os("SPEECH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src/loadtest/speech.bin"));
    let samples = wav::read_mono_48k(&input).unwrap_or_else(|e| panic!("{e}"));
    let (bytes, counts) = encode::encode_speech(&samples).expect("libopus encodes");
    std::fs::write(&out, &bytes).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
    eprintln!(
        "wrote {} ({} bytes; {} frames, {} sent)",
        out.display(),
        bytes.len(),
        counts.frames,
        counts.sent
    );
}
