//! Sound devices through cpal: the microphone in 20 ms frames, the speakers fed from a
//! short queue, and the list of devices.
//!
//! Why a thread of its own: a cpal stream may not move between threads on every
//! platform, so one thread ([`AudioDevices::open`]) opens the streams, owns them and
//! drops them; the rest of the client talks to it through channels. A device that fails
//! or disappears is reported on [`DeviceChannels::events`] and the client carries on
//! without it (and can open it again).
//!
//! Devices run at their own rate and channel count; the microphone is mixed down to mono
//! and resampled to 48 kHz, and the speakers' queue the other way.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample};
use tokio::sync::mpsc;

use crate::audio::{FRAME_SAMPLES, SAMPLE_RATE};

/// Why a device could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// No device of that kind (or of that name).
    #[error("no {kind} device{named}: `talkstick devices` lists what there is")]
    Missing {
        /// "input" or "output".
        kind: &'static str,
        /// `` named "…"`` when a name was asked for.
        named: String,
    },
    /// The device is there but would not open or start.
    #[error("the {kind} device {name:?} could not be opened: {reason}")]
    Open {
        /// "input" or "output".
        kind: &'static str,
        /// The device.
        name: String,
        /// cpal's reason.
        reason: String,
    },
    /// The sound system could not list devices.
    #[error("cannot list sound devices: {0}")]
    List(String),
}

/// Something the devices report while running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceEvent {
    /// A device failed or went away (cpal's words).
    Lost(String),
}

/// The speakers' queue, in 48 kHz mono samples; the most it holds is
/// [`MAX_QUEUED`] (older samples go first).
pub type PlayQueue = Arc<Mutex<VecDeque<f32>>>;

/// The most the speakers' queue holds: 200 ms.
pub const MAX_QUEUED: usize = FRAME_SAMPLES * 10;

/// The devices' names for listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceList {
    /// Inputs (microphones), the default one first.
    pub inputs: Vec<String>,
    /// Outputs (speakers), the default one first.
    pub outputs: Vec<String>,
    /// The default input's name.
    pub default_input: Option<String>,
    /// The default output's name.
    pub default_output: Option<String>,
}

/// Every input and output device the sound system offers.
pub fn list() -> Result<DeviceList, DeviceError> {
    fn names<I: Iterator<Item = cpal::Device>>(
        it: Result<I, cpal::DevicesError>,
    ) -> Result<Vec<String>, DeviceError> {
        Ok(it
            .map_err(|e| DeviceError::List(e.to_string()))?
            .filter_map(|d| d.name().ok())
            .collect())
    }
    let host = cpal::default_host();
    Ok(DeviceList {
        inputs: names(host.input_devices())?,
        outputs: names(host.output_devices())?,
        default_input: host.default_input_device().and_then(|d| d.name().ok()),
        default_output: host.default_output_device().and_then(|d| d.name().ok()),
    })
}

/// What open devices send: microphone frames and failures.
#[derive(Debug)]
pub struct DeviceChannels {
    /// Microphone frames of [`FRAME_SAMPLES`] samples at 48 kHz (with an input).
    pub frames: mpsc::Receiver<Vec<f32>>,
    /// Failures while running.
    pub events: mpsc::Receiver<DeviceEvent>,
}

/// Open devices, owned by their thread; dropping this closes them.
#[derive(Debug)]
pub struct AudioDevices {
    /// What the speakers play (with an output).
    pub play: PlayQueue,
    /// The devices opened, as words for the status line.
    pub description: String,
    stop: std::sync::mpsc::Sender<()>,
}

impl Drop for AudioDevices {
    fn drop(&mut self) {
        let _ = self.stop.send(());
    }
}

/// Which devices to open: `None` for none, `Some(None)` for the default, or a name.
#[derive(Debug, Clone, Default)]
pub struct DeviceChoice {
    /// The microphone.
    pub input: Option<Option<String>>,
    /// The speakers.
    pub output: Option<Option<String>>,
}

impl AudioDevices {
    /// Opens the chosen devices on a thread of their own; returns once they play.
    pub fn open(choice: DeviceChoice) -> Result<(AudioDevices, DeviceChannels), DeviceError> {
        let (frames_tx, frames) = mpsc::channel(50);
        let (events_tx, events) = mpsc::channel(16);
        let play: PlayQueue = Arc::new(Mutex::new(VecDeque::with_capacity(MAX_QUEUED)));
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let queue = Arc::clone(&play);
        std::thread::Builder::new()
            .name("audio-devices".into())
            .spawn(move || {
                let opened = open_streams(&choice, frames_tx, events_tx, queue);
                match opened {
                    Ok((streams, description)) => {
                        let _ = ready_tx.send(Ok(description));
                        // Holds the streams until told to stop (or the client is gone).
                        let _ = stopped.recv();
                        drop(streams);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| DeviceError::List(e.to_string()))?;
        let description = ready.recv().map_err(|e| DeviceError::List(e.to_string()))??;
        Ok((AudioDevices { play, description, stop }, DeviceChannels { frames, events }))
    }
}

fn find(input: bool, name: Option<&str>) -> Result<cpal::Device, DeviceError> {
    let host = cpal::default_host();
    let kind = if input { "input" } else { "output" };
    let missing = || DeviceError::Missing {
        kind,
        named: name.map_or(String::new(), |n| format!(" named {n:?}")),
    };
    match name {
        None => if input { host.default_input_device() } else { host.default_output_device() }
            .ok_or_else(missing),
        Some(n) => {
            let devices = if input { host.input_devices() } else { host.output_devices() }
                .map_err(|e| DeviceError::List(e.to_string()))?;
            let mut devices: Vec<cpal::Device> = devices.collect();
            // An exact name first, else the first that contains it.
            let exact = devices.iter().position(|d| d.name().is_ok_and(|x| x == n));
            let partial = || devices.iter().position(|d| d.name().is_ok_and(|x| x.contains(n)));
            exact.or_else(partial).map(|i| devices.swap_remove(i)).ok_or_else(missing)
        }
    }
}

/// A stream config at 48 kHz when the device has one, else its default.
fn config(device: &cpal::Device, input: bool) -> Result<cpal::SupportedStreamConfig, String> {
    let want = cpal::SampleRate(SAMPLE_RATE);
    let ranges: Vec<cpal::SupportedStreamConfigRange> = if input {
        device.supported_input_configs().map_err(|e| e.to_string())?.collect()
    } else {
        device.supported_output_configs().map_err(|e| e.to_string())?.collect()
    };
    let usable = |r: &cpal::SupportedStreamConfigRange| {
        matches!(
            r.sample_format(),
            SampleFormat::F32 | SampleFormat::I16 | SampleFormat::I32 | SampleFormat::U16
        )
    };
    let fewest_channels = ranges
        .iter()
        .filter(|r| usable(r) && r.min_sample_rate() <= want && want <= r.max_sample_rate())
        .min_by_key(|r| (r.channels(), r.sample_format() != SampleFormat::F32));
    if let Some(r) = fewest_channels {
        return Ok((*r).with_sample_rate(want));
    }
    if input { device.default_input_config() } else { device.default_output_config() }
        .map_err(|e| e.to_string())
}

type Opened = (Vec<cpal::Stream>, String);

fn open_streams(
    choice: &DeviceChoice,
    frames: mpsc::Sender<Vec<f32>>,
    events: mpsc::Sender<DeviceEvent>,
    play: PlayQueue,
) -> Result<Opened, DeviceError> {
    let mut streams = Vec::new();
    let mut words = Vec::new();
    if let Some(name) = &choice.input {
        let device = find(true, name.as_deref())?;
        let dname = device.name().unwrap_or_else(|_| "input".into());
        let open_err =
            |reason: String| DeviceError::Open { kind: "input", name: dname.clone(), reason };
        let cfg = config(&device, true).map_err(open_err)?;
        let stream = match cfg.sample_format() {
            SampleFormat::I16 => input_stream::<i16>(&device, &cfg, frames, events.clone()),
            SampleFormat::I32 => input_stream::<i32>(&device, &cfg, frames, events.clone()),
            SampleFormat::U16 => input_stream::<u16>(&device, &cfg, frames, events.clone()),
            _ => input_stream::<f32>(&device, &cfg, frames, events.clone()),
        }
        .map_err(open_err)?;
        stream.play().map_err(|e| open_err(e.to_string()))?;
        words.push(format!("mic {dname} ({} Hz)", cfg.sample_rate().0));
        streams.push(stream);
    }
    if let Some(name) = &choice.output {
        let device = find(false, name.as_deref())?;
        let dname = device.name().unwrap_or_else(|_| "output".into());
        let open_err =
            |reason: String| DeviceError::Open { kind: "output", name: dname.clone(), reason };
        let cfg = config(&device, false).map_err(open_err)?;
        let stream = match cfg.sample_format() {
            SampleFormat::I16 => output_stream::<i16>(&device, &cfg, play, events),
            SampleFormat::I32 => output_stream::<i32>(&device, &cfg, play, events),
            SampleFormat::U16 => output_stream::<u16>(&device, &cfg, play, events),
            _ => output_stream::<f32>(&device, &cfg, play, events),
        }
        .map_err(open_err)?;
        stream.play().map_err(|e| open_err(e.to_string()))?;
        words.push(format!("speakers {dname} ({} Hz)", cfg.sample_rate().0));
        streams.push(stream);
    }
    Ok((streams, words.join(", ")))
}

fn lost(events: &mpsc::Sender<DeviceEvent>) -> impl FnMut(cpal::StreamError) + Send + 'static {
    let events = events.clone();
    move |e| {
        let _ = events.try_send(DeviceEvent::Lost(e.to_string()));
    }
}

fn input_stream<T>(
    device: &cpal::Device,
    cfg: &cpal::SupportedStreamConfig,
    frames: mpsc::Sender<Vec<f32>>,
    events: mpsc::Sender<DeviceEvent>,
) -> Result<cpal::Stream, String>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let channels = usize::from(cfg.channels().max(1));
    let mut resampler = Resampler::new(cfg.sample_rate().0, SAMPLE_RATE);
    let mut frame = Vec::with_capacity(FRAME_SAMPLES);
    let mut mono = Vec::new();
    let data = move |data: &[T], _: &cpal::InputCallbackInfo| {
        mono.clear();
        mono.extend(
            data.chunks(channels)
                .map(|c| c.iter().map(|&s| f32::from_sample(s)).sum::<f32>() / c.len() as f32),
        );
        resampler.process(&mono, |s| {
            frame.push(s);
            if frame.len() == FRAME_SAMPLES {
                // A full channel means the client fell behind: that frame is dropped.
                let _ = frames
                    .try_send(std::mem::replace(&mut frame, Vec::with_capacity(FRAME_SAMPLES)));
            }
        });
    };
    device
        .build_input_stream::<T, _, _>(&cfg.config(), data, lost(&events), None)
        .map_err(|e| e.to_string())
}

fn output_stream<T>(
    device: &cpal::Device,
    cfg: &cpal::SupportedStreamConfig,
    play: PlayQueue,
    events: mpsc::Sender<DeviceEvent>,
) -> Result<cpal::Stream, String>
where
    T: SizedSample + FromSample<f32>,
{
    let channels = usize::from(cfg.channels().max(1));
    let mut resampler = Resampler::new(SAMPLE_RATE, cfg.sample_rate().0);
    let mut pending: VecDeque<f32> = VecDeque::new();
    // Reused on every callback: the device's thread allocates nothing once warm.
    let mut taken: Vec<f32> = Vec::with_capacity(MAX_QUEUED);
    let data = move |out: &mut [T], _: &cpal::OutputCallbackInfo| {
        let needed = out.len() / channels;
        if pending.len() < needed {
            taken.clear();
            taken.extend(play.lock().unwrap_or_else(|p| p.into_inner()).drain(..));
            resampler.process(&taken, |s| pending.push_back(s));
        }
        for chunk in out.chunks_mut(channels) {
            // An empty queue plays silence (nothing came in time).
            let s = pending.pop_front().unwrap_or(0.0);
            for o in chunk {
                *o = T::from_sample(s);
            }
        }
    };
    device
        .build_output_stream::<T, _, _>(&cfg.config(), data, lost(&events), None)
        .map_err(|e| e.to_string())
}

/// Adds a mixed frame to the speakers' queue, dropping the oldest samples past
/// [`MAX_QUEUED`] (the device is slower than the network's clock); returns how many
/// samples were queued ahead of it (one lock for both).
pub fn queue_for_speakers(play: &PlayQueue, frame: &[f32]) -> usize {
    let mut q = play.lock().unwrap_or_else(|p| p.into_inner());
    let ahead = q.len();
    q.extend(frame.iter().copied());
    let excess = q.len().saturating_sub(MAX_QUEUED);
    q.drain(..excess);
    ahead.saturating_sub(excess)
}

/// A streaming linear resampler (state carried between calls).
#[derive(Debug, Clone)]
pub struct Resampler {
    step: f64,
    pos: f64,
    last: f32,
}

impl Resampler {
    /// From `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Self {
        Resampler { step: f64::from(from.max(1)) / f64::from(to.max(1)), pos: 0.0, last: 0.0 }
    }

    /// Feeds `input`; calls `out` for each output sample.
    pub fn process(&mut self, input: &[f32], mut out: impl FnMut(f32)) {
        if (self.step - 1.0).abs() < f64::EPSILON {
            input.iter().for_each(|&s| out(s));
            return;
        }
        // `pos` runs from -1 (the last sample of the previous call) to input.len() - 1.
        let at = |i: isize, last: f32| if i < 0 { last } else { input[i as usize] };
        while self.pos < input.len() as f64 - 1.0 {
            let k = self.pos.floor() as isize;
            let frac = (self.pos - k as f64) as f32;
            let (a, b) = (at(k, self.last), at(k + 1, self.last));
            out(a + (b - a) * frac);
            self.pos += self.step;
        }
        if let Some(&l) = input.last() {
            self.last = l;
            self.pos -= input.len() as f64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resampler_keeps_the_rate_across_calls() {
        let mut r = Resampler::new(44_100, 48_000);
        let mut n = 0usize;
        for _ in 0..100 {
            r.process(&[0.5; 441], |s| {
                assert!((s - 0.5).abs() < 1e-6 || n == 0, "{s}");
                n += 1;
            });
        }
        assert!((n as i64 - 48_000).abs() <= 2, "one second in, one second out: {n}");
        let mut down = Resampler::new(48_000, 16_000);
        let mut m = 0;
        down.process(&[0.0; 4800], |_| m += 1);
        assert!((m as i64 - 1600).abs() <= 1, "{m}");
    }

    #[test]
    fn the_speakers_queue_is_bounded() {
        let play: PlayQueue = Arc::new(Mutex::new(VecDeque::new()));
        assert_eq!(queue_for_speakers(&play, &[0.1; FRAME_SAMPLES]), 0, "nothing ahead at first");
        for _ in 0..50 {
            queue_for_speakers(&play, &[0.1; FRAME_SAMPLES]);
        }
        assert_eq!(play.lock().unwrap().len(), MAX_QUEUED);
        assert_eq!(queue_for_speakers(&play, &[0.1; FRAME_SAMPLES]), MAX_QUEUED - FRAME_SAMPLES);
    }
}
