//! WAV files in and out: any PCM or float WAV read as mono 48 kHz (channels averaged,
//! other rates resampled), and 16-bit mono 48 kHz written.

use std::path::{Path, PathBuf};

use super::SAMPLE_RATE;

/// Why a WAV file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// The file could not be opened, read or written as WAV.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: hound::Error,
    },
    /// The file holds no samples.
    #[error("{0}: the recording is empty")]
    Empty(PathBuf),
}

/// Reads `path` as mono samples in -1..=1 at 48 kHz.
pub fn read_mono_48k(path: &Path) -> Result<Vec<f32>, WavError> {
    let file_error = |source| WavError::File { path: path.to_owned(), source };
    let mut reader = hound::WavReader::open(path).map_err(file_error)?;
    let spec = reader.spec();
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.max(1) - 1)) as f32;
            reader.samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect()
        }
    }
    .map_err(file_error)?;
    let channels = usize::from(spec.channels.max(1));
    let mono: Vec<f32> =
        interleaved.chunks(channels).map(|c| c.iter().sum::<f32>() / c.len() as f32).collect();
    if mono.is_empty() {
        return Err(WavError::Empty(path.to_owned()));
    }
    Ok(resample(&mono, spec.sample_rate, SAMPLE_RATE))
}

/// Linear-interpolation resampling from `from` Hz to `to` Hz (enough for speech into
/// a speech codec; the same rate returns the input as it is).
pub fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() || from == 0 {
        return input.to_vec();
    }
    let out_len = (input.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let step = f64::from(from) / f64::from(to);
    (0..out_len)
        .map(|i| {
            let pos = i as f64 * step;
            let k = pos as usize;
            let frac = (pos - k as f64) as f32;
            let a = input[k.min(input.len() - 1)];
            let b = input[(k + 1).min(input.len() - 1)];
            a + (b - a) * frac
        })
        .collect()
}

/// A 16-bit mono 48 kHz WAV being written. The header is brought up to date every
/// [`WavSink::flush`], so a file cut off by a crash still plays up to the last flush.
pub struct WavSink {
    path: PathBuf,
    writer: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
}

impl std::fmt::Debug for WavSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WavSink({})", self.path.display())
    }
}

impl WavSink {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> Result<Self, WavError> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::create(path, spec)
            .map_err(|source| WavError::File { path: path.to_owned(), source })?;
        Ok(WavSink { path: path.to_owned(), writer })
    }

    /// Appends samples in -1..=1 (clipped beyond).
    pub fn write(&mut self, samples: &[f32]) -> Result<(), WavError> {
        for s in samples {
            let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
            self.writer.write_sample(v).map_err(|source| self.error(source))?;
        }
        Ok(())
    }

    /// Writes the header for what is in the file so far.
    pub fn flush(&mut self) -> Result<(), WavError> {
        self.writer.flush().map_err(|source| self.error(source))
    }

    /// Finishes the file.
    pub fn finish(self) -> Result<(), WavError> {
        let path = self.path;
        self.writer.finalize().map_err(|source| WavError::File { path, source })
    }

    fn error(&self, source: hound::Error) -> WavError {
        WavError::File { path: self.path.clone(), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stereo_file_at_another_rate_reads_as_mono_48k() {
        let dir = std::env::temp_dir().join(format!("talkstick-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stereo16k.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for _ in 0..16_000 {
            w.write_sample(16384i16).unwrap(); // left 0.5
            w.write_sample(0i16).unwrap(); // right 0
        }
        w.finalize().unwrap();
        let mono = read_mono_48k(&path).unwrap();
        assert_eq!(mono.len(), 48_000, "one second at 48 kHz");
        assert!(mono.iter().all(|s| (s - 0.25).abs() < 1e-3), "channels averaged");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn written_files_read_back_and_bad_files_say_why() {
        let dir = std::env::temp_dir().join(format!("talkstick-wav2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.wav");
        let mut sink = WavSink::create(&path).unwrap();
        sink.write(&[0.5; 960]).unwrap();
        sink.flush().unwrap();
        sink.write(&[2.0; 960]).unwrap();
        sink.finish().unwrap();
        let back = read_mono_48k(&path).unwrap();
        assert_eq!(back.len(), 1920);
        assert!(
            (back[0] - 0.5).abs() < 1e-3 && (back[1919] - 1.0).abs() < 1e-3,
            "clipped at full scale"
        );
        let junk = dir.join("junk.wav");
        std::fs::write(&junk, b"not a wav").unwrap();
        let err = read_mono_48k(&junk).unwrap_err().to_string();
        assert!(err.contains("junk.wav"), "{err}");
        assert!(read_mono_48k(&dir.join("missing.wav")).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
