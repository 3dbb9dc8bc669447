//! Where a native participant's sound comes from and goes to: a device, a WAV file,
//! or nothing; and the timing log that matches a frame's capture to its play-out.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::audio::wav::{self, WavError, WavSink};
use crate::audio::{FRAME_SAMPLES, fingerprint};

use super::device::{self, PlayQueue};

/// The microphone side.
#[derive(Debug)]
pub enum Source {
    /// A recording, read in real time, one frame per tick (then silence, or again from
    /// the start with `looped`).
    File {
        /// 48 kHz mono samples.
        samples: Vec<f32>,
        /// The next sample.
        pos: usize,
        /// Start again at the end.
        looped: bool,
    },
    /// Frames come from the device thread ([`super::device::DeviceChannels::frames`]).
    Device,
    /// No microphone: listen only.
    None,
}

impl Source {
    /// A recording from `path`.
    pub fn file(path: &Path, looped: bool) -> Result<Source, WavError> {
        Ok(Source::File { samples: wav::read_mono_48k(path)?, pos: 0, looped })
    }

    /// For a file: the next frame (silence past the end unless looped).
    pub fn next_file_frame(&mut self) -> Option<Vec<f32>> {
        let Source::File { samples, pos, looped } = self else { return None };
        let mut frame = Vec::with_capacity(FRAME_SAMPLES);
        while frame.len() < FRAME_SAMPLES {
            if *pos >= samples.len() {
                if !*looped {
                    break;
                }
                *pos = 0;
            }
            let take = (FRAME_SAMPLES - frame.len()).min(samples.len() - *pos);
            frame.extend_from_slice(&samples[*pos..*pos + take]);
            *pos += take;
        }
        frame.resize(FRAME_SAMPLES, 0.0);
        Some(frame)
    }
}

/// The speakers' side.
#[derive(Debug)]
pub enum Sink {
    /// A WAV file written in real time.
    File(WavSink),
    /// The device thread's queue.
    Device(PlayQueue),
    /// Nothing is played.
    None,
}

impl Sink {
    /// Plays one mixed frame; returns how long until its first sample is heard (the
    /// device's queue ahead of it; none for a file).
    pub fn play(&mut self, frame: &[f32]) -> Result<std::time::Duration, WavError> {
        match self {
            Sink::File(w) => {
                w.write(frame)?;
                Ok(std::time::Duration::ZERO)
            }
            Sink::Device(q) => {
                let ahead = device::queue_for_speakers(q, frame);
                Ok(std::time::Duration::from_secs_f64(ahead as f64 / 48_000.0))
            }
            Sink::None => Ok(std::time::Duration::ZERO),
        }
    }

    /// Brings a file's header up to date (so a cut-off run still leaves a playable file).
    pub fn flush(&mut self) -> Result<(), WavError> {
        match self {
            Sink::File(w) => w.flush(),
            _ => Ok(()),
        }
    }

    /// Finishes a file.
    pub fn finish(self) -> Result<(), WavError> {
        match self {
            Sink::File(w) => w.finish(),
            _ => Ok(()),
        }
    }
}

/// `--timing-log`: one line per frame sent (`sent FINGERPRINT NS`) and per packet played
/// (`played FINGERPRINT NS`), NS on the system's monotonic clock, which every process on
/// the machine shares. Two participants' logs together give mouth-to-ear latency per
/// frame (`scripts/bench-latency`).
#[derive(Debug)]
pub struct TimingLog {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    /// The monotonic clock's reading at `base`.
    base_ns: u128,
    base: Instant,
}

impl TimingLog {
    /// Creates `path`.
    pub fn create(path: &Path) -> std::io::Result<TimingLog> {
        let out = std::io::BufWriter::new(std::fs::File::create(path)?);
        let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map_err(std::io::Error::from)?;
        let base_ns = now.tv_sec() as u128 * 1_000_000_000 + now.tv_nsec() as u128;
        Ok(TimingLog { path: path.to_owned(), out, base_ns, base: Instant::now() })
    }

    /// Logs a frame sent or played at `at`.
    pub fn log(&mut self, what: &str, data: &[u8], at: Instant) {
        self.log_fingerprint(what, fingerprint(data), at);
    }

    /// Logs a fingerprint.
    pub fn log_fingerprint(&mut self, what: &str, fp: u64, at: Instant) {
        let ns = self.base_ns as i128 + at.duration_since(self.base).as_nanos() as i128
            - self.base.saturating_duration_since(at).as_nanos() as i128;
        if writeln!(self.out, "{what} {fp:016x} {ns}").is_err() {
            tracing::warn!(path = %self.path.display(), "cannot write the timing log");
        }
    }

    /// Writes what is buffered.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_source_gives_whole_frames_then_silence_or_loops() {
        let mut once = Source::File { samples: vec![0.5; 1500], pos: 0, looped: false };
        assert_eq!(once.next_file_frame().unwrap(), vec![0.5; FRAME_SAMPLES]);
        let second = once.next_file_frame().unwrap();
        assert_eq!(second.len(), FRAME_SAMPLES);
        assert_eq!(second[539], 0.5);
        assert_eq!(second[540], 0.0, "silence past the end");
        let mut looped = Source::File { samples: vec![0.5; 1500], pos: 0, looped: true };
        looped.next_file_frame();
        assert!(looped.next_file_frame().unwrap().iter().all(|&s| s == 0.5));
        assert!(Source::None.next_file_frame().is_none());
    }
}
