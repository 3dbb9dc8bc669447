//! `talkstick join`: one participant's whole session. The loop owns the room model, the
//! keys' state, the mixer and the encoder, and wakes for five things: a 20 ms tick
//! (a file's next frame out, the mix to the speakers), a microphone frame, a server
//! event, a key, and a device failure.
//!
//! A lost connection is not the end: the loop goes on (the view says so) while a
//! background attempt rejoins with the `welcome`'s resume token, so within the server's
//! grace period this participant comes back as themselves, hand and place kept. A
//! refusal (an expired link, a removal) ends the session with the server's words.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use talkstick_signaling::protocol::{ClientMsg, ServerMsg};
use tokio::sync::mpsc;

use crate::audio::FRAME_SAMPLES;
use crate::audio::codec::{self, CodecError, Encoder};
use crate::audio::mixer::Mixer;
use crate::audio::wav::{WavError, WavSink};
use crate::client::{ClientError, ClientEvent, Participant};

use super::device::{AudioDevices, DeviceChannels, DeviceChoice, DeviceError, DeviceEvent};
use super::groups::{self, Seat, SeatEvent};
use super::keys::{self, Effect, Key, Ui};
use super::model::RoomModel;
use super::rejoin::{Attempt, JoinTarget, backoff, refusal};
use super::sound::{Sink, Source, TimingLog};
use super::terminal::Terminal;
use super::view::{Connection, Status};

/// Why a native session could not start or ended badly.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// The link could not be read.
    #[error(transparent)]
    Link(#[from] super::link::LinkError),
    /// A WAV file could not be read or written.
    #[error(transparent)]
    Wav(#[from] WavError),
    /// libopus failed.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The server said no (an expired or revoked link, a full room, a removal).
    #[error("{0}")]
    Refused(String),
    /// The server could not be reached for the first join.
    #[error("{0}")]
    Unreachable(String),
    /// The terminal or a file could not be used.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Where sound comes from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A device (`None`: the default one).
    Device(Option<String>),
    /// A WAV file, played in real time (again and again with `looped`).
    File {
        /// The file.
        path: PathBuf,
        /// Start again at the end.
        looped: bool,
    },
    /// No microphone.
    None,
}

/// Where sound goes.
#[derive(Debug, Clone)]
pub enum Output {
    /// A device (`None`: the default one).
    Device(Option<String>),
    /// A WAV file, 48 kHz mono, written in real time.
    File(PathBuf),
    /// Nowhere.
    None,
}

/// Everything `talkstick join` was asked for.
#[derive(Debug, Clone)]
pub struct JoinOptions {
    /// The server's base URL.
    pub base: String,
    /// The join token.
    pub token: String,
    /// The microphone.
    pub input: Input,
    /// The speakers.
    pub output: Output,
    /// Draw the terminal view (else print what happens, line by line).
    pub tui: bool,
    /// Leave after this long.
    pub duration: Option<Duration>,
    /// Write the timing log here.
    pub timing_log: Option<PathBuf>,
    /// Start with the microphone off.
    pub mic_off: bool,
}

/// How the session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// You left (Q Q, Ctrl+C, or the duration ran out).
    Left,
    /// The server ended it (its words).
    Ended(String),
}

/// What the loop reports at the end, for headless runs and tests.
#[derive(Debug, Clone)]
pub struct Summary {
    /// How it ended.
    pub ending: Ending,
    /// Frames sent.
    pub sent: u64,
    /// The mixer's counts.
    pub jitter: crate::audio::jitter::JitterStats,
    /// Times the connection came back.
    pub reconnects: u32,
    /// Everything the session told its user, in order (the first 200 lines).
    pub said: Vec<String>,
}

/// The local address that routes to the server's host, for the audio socket's
/// candidate.
fn local_ip_towards(base: &str) -> IpAddr {
    let host = base.split("://").nth(1).unwrap_or(base);
    let host = host.split('/').next().unwrap_or(host);
    let with_port = if host.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        host.to_owned()
    } else {
        format!("{host}:443")
    };
    let probe = || -> std::io::Result<IpAddr> {
        use std::net::ToSocketAddrs;
        let addr = with_port.to_socket_addrs()?.next().ok_or(std::io::ErrorKind::NotFound)?;
        let s = std::net::UdpSocket::bind((if addr.is_ipv4() { "0.0.0.0" } else { "::" }, 0))?;
        s.connect(addr)?;
        Ok(s.local_addr()?.ip())
    };
    probe().unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// Runs the session until it ends. Without a terminal view, `script` (when given)
/// stands in for the keyboard: a bot's or a test's key presses.
pub async fn run(
    opts: JoinOptions,
    script: Option<mpsc::Receiver<Key>>,
) -> Result<Summary, NativeError> {
    // Sound first: a missing file is an error; a missing device is said and the
    // session goes on without it.
    let mut source = match &opts.input {
        Input::File { path, looped } => Source::file(path, *looped)?,
        Input::Device(_) => Source::Device,
        Input::None => Source::None,
    };
    let mut sink = match &opts.output {
        Output::File(path) => Sink::File(WavSink::create(path)?),
        _ => Sink::None,
    };
    let choice = DeviceChoice {
        input: match &opts.input {
            Input::Device(n) => Some(n.clone()),
            _ => None,
        },
        output: match &opts.output {
            Output::Device(n) => Some(n.clone()),
            _ => None,
        },
    };
    let mut early_lines = Vec::new();
    let (mut devices, channels) =
        open_devices(&choice, &mut source, &mut sink, &mut early_lines).unzip();
    let (mut mic, mut device_events) = channels.map(|c| (c.frames, c.events)).unzip();
    let mut timing = opts.timing_log.as_deref().map(TimingLog::create).transpose()?;

    let ip = local_ip_towards(&opts.base);
    let target = JoinTarget { base: opts.base.clone(), token: opts.token.clone(), ip };
    let first =
        Participant::rejoin(&opts.base, &opts.token, None, None, Some(ip)).await.map_err(|e| {
            match e {
                ClientError::Refused { code, message } => {
                    NativeError::Refused(refusal(code, &message))
                }
                other => NativeError::Unreachable(format!("Cannot join: {other}")),
            }
        })?;
    let started = Instant::now();
    let mut model = RoomModel::new(first.you.clone(), (*first.room).clone(), started);
    for l in early_lines {
        model.say(l);
    }
    // The room shows the microphone as this client runs it (off without one).
    let has_mic = !matches!(opts.input, Input::None);
    let mut ui = Ui { mic_on: has_mic && !opts.mic_off, ..Ui::default() };
    first.send(ClientMsg::SetMic { on: ui.mic_on }).await;
    let mut conn: Option<Participant> = Some(first);
    let mut pending: Option<Attempt> = None;
    // A seat in a breakout group (a second connection) while the plenary puts us in one.
    let mut seat: Option<Seat> = None;
    let mut plenary_audio = false;
    let mut attempts = 0u32;
    let mut reconnects = 0u32;

    let mut terminal = if opts.tui { Some(Terminal::start()?) } else { None };
    let (_keys_stop, mut keys) = match (&terminal, script) {
        (Some(_), _) => super::terminal::keys(),
        (None, Some(rx)) => (mpsc::channel(1).0, rx),
        (None, None) => mpsc::channel(1),
    };
    let mut said = Vec::new();
    let mut status =
        Status { devices: describe(&opts, devices.as_ref()), mic_level: 127, ..Status::default() };
    let mut printed = 0u64;
    let mut mixer = Mixer::new(started);
    let mut encoder = Encoder::new()?;
    let mut rtp_time: u64 = rand::random::<u32>().into();
    let mut sent = 0u64;
    let mut frame = vec![0.0f32; FRAME_SAMPLES];
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut redraw = tokio::time::interval(Duration::from_millis(100));
    let mut reopen = tokio::time::interval(Duration::from_secs(3));
    let deadline = opts.duration.map(|d| tokio::time::Instant::now() + d);
    let ending = loop {
        let now = Instant::now();
        // Sound, keys and the view follow the room we are in: the group's, or the plenary's.
        status.audio = seat.as_ref().map_or(plenary_audio, |s| s.audio);
        tokio::select! {
            _ = tick.tick() => {
                if let Some(f) = source.next_file_frame() {
                    let (active_conn, active_model) = active(&seat, &conn, &model);
                    send_frame(&f, now, &mut encoder, &mut rtp_time, &ui, active_model, active_conn, &mut status, &mut sent, timing.as_mut()).await?;
                }
                mixer.mix(now, &mut frame)?;
                let ahead = sink.play(&frame)?;
                if let Some(t) = timing.as_mut() {
                    for &fp in mixer.played() {
                        t.log_fingerprint("played", fp, now + ahead);
                    }
                }
            }
            Some(f) = async { match mic.as_mut() { Some(m) => m.recv().await, None => std::future::pending().await } } => {
                let (active_conn, active_model) = active(&seat, &conn, &model);
                send_frame(&f, now, &mut encoder, &mut rtp_time, &ui, active_model, active_conn, &mut status, &mut sent, timing.as_mut()).await?;
            }
            Some(DeviceEvent::Lost(why)) = async { match device_events.as_mut() { Some(e) => e.recv().await, None => std::future::pending().await } } => {
                model.say(format!("A sound device stopped ({why}); trying it again every few seconds."));
                devices = None;
                mic = None;
                device_events = None;
                status.devices = "sound device lost".into();
            }
            _ = reopen.tick(), if devices.is_none() && (choice.input.is_some() || choice.output.is_some()) => {
                let mut lines = Vec::new();
                let channels;
                (devices, channels) = open_devices(&choice, &mut source, &mut sink, &mut lines).unzip();
                (mic, device_events) = channels.map(|c| (c.frames, c.events)).unzip();
                if devices.is_some() {
                    model.say("The sound device works again.");
                    status.devices = describe(&opts, devices.as_ref());
                }
            }
            ev = async { match conn.as_mut() { Some(p) => p.events.recv().await, None => std::future::pending().await } } => {
                match ev {
                    Some(ClientEvent::Signal(frame, at)) => {
                        if let ServerMsg::Goodbye { reason } = &frame.msg {
                            break Ending::Ended(reason.clone());
                        }
                        model.apply(&frame.msg, at);
                        // The plenary's notices reach us in a group too.
                        if let (ServerMsg::Notice { message, .. }, Some(m)) = (&frame.msg, seat.as_mut().and_then(|s| s.model.as_mut())) {
                            m.say(message.clone());
                        }
                        let moved;
                        (seat, moved) = groups::follow(seat.take(), &mut model, &target);
                        if moved {
                            mixer = Mixer::new(Instant::now());
                        }
                    }
                    // The plenary's audio is not ours while we sit in a group.
                    Some(ClientEvent::Audio(a)) => if seat.is_none() { mixer.push(a)? },
                    Some(ClientEvent::AudioConnected) => plenary_audio = true,
                    Some(ClientEvent::Closed) => plenary_audio = false,
                    Some(ClientEvent::Undecodable { error, .. }) => model.say(format!("An unreadable message from the server: {error:?}")),
                    None => {
                        // The connection is gone: try again, as the same person.
                        conn = None;
                        plenary_audio = false;
                        attempts = 1;
                        status.connection = Some(Connection::Reconnecting(attempts));
                        model.say("Connection lost — reconnecting.");
                        pending = Some(target.attempt(Some(model.you.resume_token.clone()), None, Duration::from_millis(300)));
                    }
                }
            }
            got = async { match seat.as_mut() { Some(s) => s.next().await, None => std::future::pending().await } } => {
                if let Some(s) = seat.as_mut() {
                    match got {
                        SeatEvent::Event(Some(ClientEvent::Signal(frame, at))) => s.apply(&frame.msg, at),
                        SeatEvent::Event(Some(ClientEvent::Audio(a))) => mixer.push(a)?,
                        SeatEvent::Event(Some(ClientEvent::AudioConnected)) => s.audio = true,
                        SeatEvent::Event(Some(ClientEvent::Closed)) => s.audio = false,
                        SeatEvent::Event(Some(ClientEvent::Undecodable { .. })) => {}
                        SeatEvent::Event(None) => s.lost(&model, &target),
                        SeatEvent::Joined(done) => s.joined(done, &ui, &mut model, &target).await,
                    }
                }
            }
            done = async { match pending.as_mut() { Some(rx) => rx.await, None => std::future::pending().await } } => {
                pending = None;
                match done {
                    Ok(Ok(p)) => {
                        let resumed = p.you.resumed;
                        model.apply(&ServerMsg::Welcome { protocol: 1, you: p.you.clone(), room: p.room.clone() }, Instant::now());
                        model.say(if resumed { "Reconnected: you kept your place." } else { "Reconnected as a new participant: your hand was not kept." });
                        let moved;
                        (seat, moved) = groups::follow(seat.take(), &mut model, &target);
                        if moved {
                            mixer = Mixer::new(Instant::now());
                        }
                        if !resumed {
                            p.send(ClientMsg::SetMic { on: ui.mic_on }).await;
                            if ui.push_to_talk {
                                p.send(ClientMsg::SetPushToTalk { enabled: true }).await;
                            }
                        }
                        conn = Some(p);
                        reconnects += 1;
                        status.connection = None;
                    }
                    Ok(Err(ClientError::Refused { code, message })) => break Ending::Ended(refusal(code, &message)),
                    Ok(Err(_)) | Err(_) => {
                        attempts += 1;
                        status.connection = Some(Connection::Reconnecting(attempts));
                        pending = Some(target.attempt(Some(model.you.resume_token.clone()), None, backoff(attempts)));
                    }
                }
            }
            Some(key) = keys.recv() => {
                let effects = ui.key(active(&seat, &conn, &model).1, key, Instant::now());
                let mut leave = false;
                for e in effects {
                    match e {
                        // Leaving is the plenary's (it takes us out of the group too).
                        Effect::Send(m) if m == ClientMsg::Leave => {
                            if let Some(p) = conn.as_ref() {
                                p.send(m).await;
                            }
                        }
                        // Between rooms (the group's still joining), nothing is sent:
                        // the plenary's floor waits while groups run.
                        Effect::Send(_) if seat.as_ref().is_some_and(|s| s.conn.is_none()) => {
                            model.say("Still joining your group: try again in a moment.");
                        }
                        Effect::Send(m) => {
                            let (to, room) = match seat.as_mut() {
                                Some(Seat { conn: Some(p), model: Some(g), .. }) => (Some(&*p), g),
                                _ => (conn.as_ref(), &mut model),
                            };
                            if let ClientMsg::RaiseHand { note, .. } = &m {
                                room.my_note = note.clone();
                            }
                            match to {
                                Some(p) => p.send(m).await,
                                None => model.say("Reconnecting: that key had no effect yet."),
                            }
                        }
                        // Help is the plenary's to give, wherever we sit.
                        Effect::Help => match (keys::help_request(&model), conn.as_ref()) {
                            (Ok(m), Some(p)) => p.send(m).await,
                            (Ok(_), None) => model.say("Reconnecting: that key had no effect yet."),
                            (Err(why), _) => model.say(why),
                        },
                        // So is the choice of a group.
                        Effect::ChangeGroup => match (keys::next_group(&model), conn.as_ref()) {
                            (Ok(m), Some(p)) => p.send(m).await,
                            (Ok(_), None) => model.say("Reconnecting: that key had no effect yet."),
                            (Err(why), _) => model.say(why),
                        },
                        Effect::Leave => leave = true,
                    }
                }
                if leave {
                    break Ending::Left;
                }
            }
            _ = redraw.tick() => {
                status.delay_ms = mixer.delay_ms();
                status.concealed = mixer.stats().concealed;
                sink.flush()?;
                if let Some(t) = timing.as_mut() {
                    t.flush();
                }
            }
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                if let Some(p) = conn.as_ref() {
                    p.send(ClientMsg::Leave).await;
                }
                break Ending::Left;
            }
            _ = tokio::signal::ctrl_c() => {
                if let Some(p) = conn.as_ref() {
                    p.send(ClientMsg::Leave).await;
                }
                break Ending::Left;
            }
        }
        // New lines (each model keeps the last few): counted by running totals.
        let mut fresh = fresh_lines(&model, &mut printed);
        if let Some(Seat { model: Some(m), printed, .. }) = seat.as_mut() {
            fresh.extend(fresh_lines(m, printed));
        }
        for l in fresh {
            if terminal.is_none() {
                eprintln!("{l}");
            }
            if said.len() < 200 {
                said.push(l);
            }
        }
        let now = Instant::now();
        status.breakout = seat.as_ref().map(|s| s.banner(&model, now));
        if let Some(t) = terminal.as_mut() {
            let shown = seat.as_ref().and_then(|s| s.model.as_ref()).unwrap_or(&model);
            t.draw(shown, &ui, &status, now)?;
        }
    };
    // Let a `leave` reach the server before the connection drops.
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(terminal);
    sink.finish()?;
    if let Some(t) = timing.as_mut() {
        t.flush();
    }
    drop(devices);
    Ok(Summary { ending, sent, jitter: mixer.stats(), reconnects, said })
}

/// The connection and the room we are in: the group's while we sit in one (no
/// connection while it is joining), else the plenary's.
fn active<'a>(
    seat: &'a Option<Seat>,
    conn: &'a Option<Participant>,
    model: &'a RoomModel,
) -> (Option<&'a Participant>, &'a RoomModel) {
    match seat {
        Some(s) => (s.conn.as_ref(), s.model.as_ref().unwrap_or(model)),
        None => (conn.as_ref(), model),
    }
}

/// The lines a model said since `printed` (its running total), and the new total.
fn fresh_lines(model: &RoomModel, printed: &mut u64) -> Vec<String> {
    let total = model.said_total();
    let fresh = (total - *printed).min(model.lines.len() as u64) as usize;
    *printed = total;
    model.lines.iter().skip(model.lines.len() - fresh).cloned().collect()
}

/// Opens the chosen devices; on failure says why and goes on without them.
fn open_devices(
    choice: &DeviceChoice,
    source: &mut Source,
    sink: &mut Sink,
    lines: &mut Vec<String>,
) -> Option<(AudioDevices, DeviceChannels)> {
    if choice.input.is_none() && choice.output.is_none() {
        return None;
    }
    match AudioDevices::open(choice.clone()) {
        Ok((d, c)) => {
            if choice.output.is_some() {
                *sink = Sink::Device(d.play.clone());
            }
            Some((d, c))
        }
        Err(e) => {
            let what = match e {
                DeviceError::Missing { .. } => e.to_string(),
                _ => format!("{e}"),
            };
            lines.push(format!("{what}. You can still follow the room and use the queue."));
            if choice.input.is_some() {
                *source = Source::Device; // frames come once it opens
            }
            None
        }
    }
}

fn describe(opts: &JoinOptions, devices: Option<&AudioDevices>) -> String {
    let file = |p: &PathBuf| {
        p.file_name().map_or_else(|| p.display().to_string(), |f| f.to_string_lossy().into_owned())
    };
    let input = match &opts.input {
        Input::File { path, .. } => format!("mic file {}", file(path)),
        Input::None => "no mic".into(),
        Input::Device(_) => String::new(),
    };
    let output = match &opts.output {
        Output::File(path) => format!("speakers file {}", file(path)),
        Output::None => "no speakers".into(),
        Output::Device(_) => String::new(),
    };
    let dev = devices.map_or(String::new(), |d| d.description.clone());
    [input, output, dev].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(", ")
}

/// Encodes and sends one microphone frame (when the microphone is open).
#[allow(clippy::too_many_arguments)]
async fn send_frame(
    f: &[f32],
    now: Instant,
    encoder: &mut Encoder,
    rtp_time: &mut u64,
    ui: &Ui,
    model: &RoomModel,
    conn: Option<&Participant>,
    status: &mut Status,
    sent: &mut u64,
    timing: Option<&mut TimingLog>,
) -> Result<(), NativeError> {
    let level = codec::level(f);
    status.mic_level = if ui.transmitting(now) { level } else { 127 };
    let forced = model.me().is_some_and(|p| p.force_muted);
    let time = *rtp_time;
    // The clock runs on while silent: the listener's buffer sees a pause, not loss.
    *rtp_time += FRAME_SAMPLES as u64;
    let Some(p) = conn else { return Ok(()) };
    if !ui.transmitting(now) || forced || !status.audio {
        return Ok(());
    }
    let packet = encoder.encode(f)?;
    if let Some(t) = timing {
        t.log("sent", &packet, now);
    }
    p.send_audio(time, level, packet).await;
    *sent += 1;
    Ok(())
}
