//! Encoder for the load tester's speech asset, `src/loadtest/speech.bin`.
//!
//! Not a real test: `scripts/make-speech-asset` synthesises the speech WAV and runs
//! `SPEECH_WAV=… SPEECH_OUT=… cargo test --test make_speech_asset -- --ignored`. It
//! encodes 48 kHz mono 16-bit PCM to Opus (libopus via the `opus` crate) in 20 ms
//! frames and writes the `TSPEECH1` format documented in `src/loadtest/speech.rs`.

use std::path::{Path, PathBuf};

use opus::{Application, Bitrate, Channels, Encoder};

/// Sample rate of the input and of Opus RTP timestamps.
const SAMPLE_RATE: u32 = 48_000;
/// Samples per 20 ms frame at 48 kHz.
const FRAME: usize = 960;
/// Target bitrate, like a browser's default for mono voice.
const BITRATE: i32 = 24_000;
/// Expected packet loss given to the encoder, so that in-band FEC (LBRR) is present.
const PACKET_LOSS_PERC: i32 = 5;
/// Frames quieter than this (dBov) count as silence for the DTX emulation.
const SILENCE_DBOV: f64 = -55.0;
/// Silent frames sent normally before DTX starts (libopus: 10 frames, 200 ms).
const DTX_HANGOVER: usize = 10;
/// In DTX, one frame in this many is sent (libopus: one per 400 ms).
const DTX_PERIOD: usize = 20;
/// The asset's magic bytes.
const MAGIC: &[u8; 8] = b"TSPEECH1";

#[test]
#[ignore = "asset generator: run by scripts/make-speech-asset"]
fn make_speech_asset() {
    let wav =
        PathBuf::from(std::env::var_os("SPEECH_WAV").expect("set SPEECH_WAV to the input WAV"));
    let out = std::env::var_os("SPEECH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src/loadtest/speech.bin"));
    let pcm = read_wav(&wav);
    let asset = encode(&pcm);
    std::fs::write(&out, &asset).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
    eprintln!("wrote {} ({} bytes)", out.display(), asset.len());
}

/// Reads a 48 kHz mono 16-bit PCM WAV file.
fn read_wav(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE", "not a WAV");
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let mut format = None;
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32_at(pos + 4) as usize;
        let body = pos + 8;
        let end = (body + size).min(bytes.len());
        match id {
            b"fmt " => {
                // Tag 1 = PCM, 0xFFFE = WAVE_FORMAT_EXTENSIBLE (assumed PCM here).
                let tag = u16_at(body);
                format = Some((tag, u16_at(body + 2), u32_at(body + 4), u16_at(body + 14)));
            }
            b"data" => {
                let (tag, channels, rate, bits) = format.expect("fmt chunk before data");
                assert!(tag == 1 || tag == 0xFFFE, "WAV format tag {tag}: want PCM");
                assert_eq!((channels, rate, bits), (1, SAMPLE_RATE, 16), "want 48 kHz mono s16");
                return bytes[body..end]
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect();
            }
            _ => {}
        }
        pos = body + size + (size & 1);
    }
    panic!("{}: no data chunk", path.display());
}

/// RFC 6464 level of a frame: -dBov of its RMS, 0 (loudest) ..= 127 (silence).
fn level(frame: &[i16]) -> (f64, u8) {
    let sum: f64 = frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (sum / frame.len() as f64).sqrt() / 32768.0;
    let dbov = if rms > 0.0 { 20.0 * rms.log10() } else { -127.0 };
    (dbov, (-dbov).round().clamp(0.0, 127.0) as u8)
}

/// Encodes PCM into the asset: magic, then per 20 ms frame u8 level, u16 LE length
/// (0: nothing sent in this slot), Opus bytes.
fn encode(pcm: &[i16]) -> Vec<u8> {
    let mut enc = Encoder::new(SAMPLE_RATE, Channels::Mono, Application::Voip).unwrap();
    enc.set_bitrate(Bitrate::Bits(BITRATE)).unwrap();
    enc.set_inband_fec(true).unwrap();
    enc.set_packet_loss_perc(PACKET_LOSS_PERC).unwrap();
    // DTX is emulated below (explicit slots), so the encoder itself runs without it.
    enc.set_dtx(false).unwrap();

    let mut out = MAGIC.to_vec();
    let (mut frames, mut sent, mut loud, mut silent_run) = (0usize, 0usize, 0usize, 0usize);
    let mut buf = [0u8; 1500];
    for chunk in pcm.chunks(FRAME) {
        let mut frame = [0i16; FRAME];
        frame[..chunk.len()].copy_from_slice(chunk);
        let (dbov, level) = level(&frame);
        // Encode every frame, even dropped ones, to keep the encoder's state continuous.
        let len = enc.encode(&frame, &mut buf).unwrap();
        assert!(len > 0 && len <= 1275, "opus packet of {len} bytes");

        let send = if dbov < SILENCE_DBOV {
            let k = silent_run;
            silent_run += 1;
            k < DTX_HANGOVER || (k - DTX_HANGOVER) % DTX_PERIOD == DTX_PERIOD - 1
        } else {
            silent_run = 0;
            true
        };
        out.push(level);
        if send {
            out.extend_from_slice(&(len as u16).to_le_bytes());
            out.extend_from_slice(&buf[..len]);
            sent += 1;
        } else {
            out.extend_from_slice(&0u16.to_le_bytes());
        }
        frames += 1;
        loud += usize::from(level <= 45);
    }
    eprintln!(
        "{frames} frames ({:.2} s), {sent} sent, {loud} loud (level <= 45)",
        frames as f64 * 0.02
    );
    out
}
