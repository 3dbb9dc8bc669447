//! The native participant (`talkstick join`) against real servers: two of them hear
//! each other through the SFU (checked in the WAV files they write), keys reach the
//! room, a server killed and started again is survived as the same person, bad links
//! and files are refused in plain words, and cpal opens ALSA's `null` device.

use std::path::{Path, PathBuf};
use std::time::Duration;

use talkstick::audio::wav::{WavSink, read_mono_48k};
use talkstick::native::app::{self, Input, JoinOptions, Output};
use talkstick::native::keys::Key;
use talkstick_signaling::protocol::{Role, Settings};
use tokio::process::Command;
use tokio::sync::mpsc;

use crate::binary::{Proc, scratch};
use crate::common::{Client, SECRET, Server, WAIT, token_for};

const BIN: &str = env!("CARGO_BIN_EXE_talkstick");

/// Writes `seconds` of a sine at `hz` (amplitude 0.3) to `path`.
fn tone(path: &Path, hz: f32, seconds: f32) {
    let mut w = WavSink::create(path).unwrap();
    let n = (48_000.0 * seconds) as usize;
    let samples: Vec<f32> = (0..n)
        .map(|i| 0.3 * (2.0 * std::f32::consts::PI * hz * i as f32 / 48_000.0).sin())
        .collect();
    w.write(&samples).unwrap();
    w.finish().unwrap();
}

/// The power of `hz` in `samples` (Goertzel), per sample.
fn power_at(samples: &[f32], hz: f32) -> f32 {
    let w = 2.0 * std::f32::consts::PI * hz / 48_000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in samples {
        let s = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / samples.len() as f32
}

fn options(
    base: String,
    token: String,
    input: Input,
    output: Output,
    seconds: u64,
    log: Option<PathBuf>,
) -> JoinOptions {
    JoinOptions {
        base,
        token,
        input,
        output,
        tui: false,
        duration: Some(Duration::from_secs(seconds)),
        timing_log: log,
        mic_off: false,
    }
}

/// Fingerprints in a timing log with the given tag.
fn logged(path: &Path, tag: &str) -> std::collections::HashSet<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| {
            l.strip_prefix(tag).and_then(|r| r.split_whitespace().next()).map(str::to_owned)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_native_participants_hear_each_other_and_not_themselves() {
    let server = Server::with_media(Settings::default()).await;
    let dir = scratch("native-pair");
    let (a_in, b_in) = (dir.join("a.wav"), dir.join("b.wav"));
    tone(&a_in, 440.0, 2.0);
    tone(&b_in, 660.0, 2.0);
    let (a_out, b_out) = (dir.join("a-heard.wav"), dir.join("b-heard.wav"));
    let (a_log, b_log) = (dir.join("a.log"), dir.join("b.log"));
    let a = options(
        server.base(),
        server.token("native", "Aino", Role::Learner),
        Input::File { path: a_in, looped: true },
        Output::File(a_out.clone()),
        6,
        Some(a_log.clone()),
    );
    let b = options(
        server.base(),
        server.token("native", "Bertil", Role::Learner),
        Input::File { path: b_in, looped: true },
        Output::File(b_out.clone()),
        6,
        Some(b_log.clone()),
    );
    let (a, b) = tokio::join!(app::run(a, None), app::run(b, None));
    let (a, b) = (a.unwrap(), b.unwrap());
    for (who, s) in [("Aino", &a), ("Bertil", &b)] {
        assert!(s.sent > 150, "{who} sent {} frames in 6 s", s.sent);
        assert!(s.jitter.played > 150, "{who} played {:?}", s.jitter);
        assert_eq!(s.reconnects, 0);
    }
    // Each file holds the other's tone, strongly, and not their own.
    for (file, heard, own) in [(&a_out, 660.0, 440.0), (&b_out, 440.0, 660.0)] {
        let samples = read_mono_48k(file).unwrap();
        assert!(
            samples.len() >= 48_000 * 5,
            "{}: {} samples for 6 s",
            file.display(),
            samples.len()
        );
        let tail = &samples[samples.len() - 48_000 * 2..];
        let (p_heard, p_own) = (power_at(tail, heard), power_at(tail, own));
        assert!(p_heard > 0.01, "{}: {heard} Hz power {p_heard}", file.display());
        assert!(
            p_heard > 100.0 * p_own,
            "{}: {heard} Hz {p_heard} against own {own} Hz {p_own}",
            file.display()
        );
    }
    // The timing logs match each frame sent to its play-out at the other end.
    let (sent, played) = (logged(&b_log, "sent "), logged(&a_log, "played "));
    let matched = sent.intersection(&played).count();
    assert!(
        matched * 10 >= sent.len() * 8,
        "{matched} of {} frames found at the listener",
        sent.len()
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_reach_the_room_and_a_killed_server_is_survived_as_the_same_person() {
    let dir = scratch("native-restart");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let serve = || {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "serve",
            "--secret",
            SECRET,
            "--media-ip",
            "127.0.0.1",
            "--udp-port",
            "0",
            "--demo-learners",
            "0",
        ])
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
        cmd
    };
    let proc = Proc::spawn(serve()).await;
    let base = format!("http://127.0.0.1:{port}");
    let exp = talkstick::token::unix_now() + 3600;
    let token = token_for("kept", "Chen", Role::Learner, exp);
    let (keys, script) = mpsc::channel(8);
    let opts = options(base.clone(), token, Input::None, Output::None, 20, None);
    let session = tokio::spawn(app::run(opts, Some(script)));
    let dana = token_for("kept", "Dana", Role::Facilitator, exp);
    let mut fac = Client::join_with(proc.addr, &dana, "Dana", None).await;
    fac.until("Chen joined", |v| v.participants.values().any(|p| p["name"] == "Chen")).await;
    keys.send(Key::Char('h')).await.unwrap();
    // Chen's hand: in the queue, or offered the floor (the room offers a free floor to
    // the first hand at once).
    let hand = |v: &crate::common::View| {
        let chen = v.participants.iter().find(|(_, p)| p["name"] == "Chen").map(|(id, _)| *id);
        chen.is_some_and(|c| v.queue == vec![c] || v.offered_to() == Some(c))
    };
    fac.until("Chen's hand", hand).await;
    // SIGKILL, then the same server again on the same port and data.
    proc.kill().await;
    let proc = Proc::spawn(serve()).await;
    let mut fac = Client::join_with(proc.addr, &dana, "Dana", Some(&fac.resume.clone())).await;
    tokio::time::timeout(
        WAIT * 3,
        fac.until("Chen back and connected", |v| {
            v.participants.values().any(|p| p["name"] == "Chen" && p["connected"] == true)
        }),
    )
    .await
    .expect("the native client came back");
    fac.until("Chen's hand, kept", hand).await;
    assert_eq!(
        fac.view.participants.values().filter(|p| p["name"] == "Chen").count(),
        1,
        "one Chen, not two"
    );
    // Keys pressed before the client has its new connection do nothing (it says so):
    // press until the hand is down (a bounded wait).
    let lowered = |v: &crate::common::View| v.queue.is_empty() && v.offered_to().is_none();
    press_until(&keys, 'l', &mut fac, "hand lowered", lowered).await;
    keys.send(Key::Char('q')).await.unwrap();
    keys.send(Key::Char('q')).await.unwrap();
    let summary = tokio::time::timeout(WAIT, session).await.expect("Q Q leaves").unwrap().unwrap();
    assert_eq!(summary.ending, app::Ending::Left);
    assert_eq!(summary.reconnects, 1);
    assert!(summary.said.iter().any(|l| l.contains("Connection lost")), "{:?}", summary.said);
    assert!(summary.said.iter().any(|l| l.contains("you kept your place")), "{:?}", summary.said);
    fac.until("Chen left", |v| !v.participants.values().any(|p| p["name"] == "Chen")).await;
    proc.kill().await;
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs the binary; returns its exit code and what it printed to stderr.
async fn join_cli(args: &[&str]) -> (i32, String) {
    let out = tokio::time::timeout(
        WAIT * 2,
        Command::new(BIN).arg("join").args(args).stdin(std::process::Stdio::null()).output(),
    )
    .await
    .expect("join gives up in time")
    .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn bad_links_and_files_are_refused_in_plain_words() {
    let server = Server::start().await;
    let expired = token_for("demo", "Late", Role::Learner, 1_000);
    let link = format!("{}/?token={expired}", server.base());
    let (code, err) = join_cli(&["--no-tui", "--no-input", "--no-output", &link]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("This link has expired"), "{err}");
    let (code, err) = join_cli(&["--no-tui", "aa.bb.cc"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("not a Talkstick link"), "{err}");
    let (code, err) = join_cli(&["--no-tui", &format!("{}/", server.base())]).await;
    assert_eq!(code, 2);
    assert!(err.contains("incomplete"), "{err}");
    let good = format!("{}/?token={}", server.base(), server.token("demo", "Ok", Role::Learner));
    let (code, err) =
        join_cli(&["--no-tui", "--input-file", "/nonexistent/speech.wav", "--no-output", &good])
            .await;
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/speech.wav"), "{err}");
    // Nothing listens on port 9 here.
    let (code, err) =
        join_cli(&["--no-tui", "--no-input", "--no-output", "http://127.0.0.1:9/?token=a.b.c"])
            .await;
    assert_eq!(code, 2);
    assert!(err.contains("cannot reach the server"), "{err}");
}

/// An ALSA configuration whose default device is ALSA's `null` plugin (there is no
/// sound card here): the standard configuration, then `default` replaced.
fn alsa_null_config(dir: &Path) -> PathBuf {
    let path = dir.join("alsa-null.conf");
    std::fs::write(&path, "</usr/share/alsa/alsa.conf>\npcm.!default { type null }\n").unwrap();
    path
}

/// The real cpal path, through the binary: `devices` lists ALSA's default device (the
/// `null` plugin here), and `join` with no files opens it both ways, captures 20 ms
/// frames, sends them and plays what it hears, then leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sound_devices_open_on_alsas_null_device() {
    let dir = scratch("native-alsa");
    let config = alsa_null_config(&dir);
    let out =
        Command::new(BIN).arg("devices").env("ALSA_CONFIG_PATH", &config).output().await.unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{listed} {}", String::from_utf8_lossy(&out.stderr));
    assert!(listed.contains("Inputs (microphones):\n  default (default)"), "{listed}");
    assert!(listed.contains("Outputs (speakers):\n  default (default)"), "{listed}");

    let server = Server::with_media(Settings::default()).await;
    let link = format!("{}/?token={}", server.base(), server.token("alsa", "Eino", Role::Learner));
    let mut listener = Client::join(&server, "alsa", "Dana", Role::Facilitator).await;
    let run = Command::new(BIN)
        .args(["join", "--no-tui", "--seconds", "3", &link])
        .env("ALSA_CONFIG_PATH", &config)
        .stdin(std::process::Stdio::null())
        .output();
    let (out, ()) = tokio::join!(run, async {
        listener
            .until("Eino joined", |v| v.participants.values().any(|p| p["name"] == "Eino"))
            .await;
    });
    let out = out.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let sent: u64 = err
        .split("sent ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(sent > 50, "the null microphone's frames were sent: {err}");
    assert!(!err.contains("could not be opened") && !err.contains("no input device"), "{err}");
    // A device that is not there is said in plain words, and the session goes on.
    let out = Command::new(BIN)
        .args(["join", "--no-tui", "--seconds", "1", "--input-device", "no-such-microphone", &link])
        .env("ALSA_CONFIG_PATH", &config)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("no input device named \"no-such-microphone\"")
            && err.contains("talkstick devices"),
        "{err}"
    );
    assert!(err.contains("You can still follow the room"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Breakout groups: when the plenary puts the native participant in a group, it joins
/// the group's room on a second connection and its keys act there (a hand in the group,
/// not the plenary); called back, it leaves the group and its keys act in the plenary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_participant_follows_its_breakout_group_and_comes_back() {
    use serde_json::json;
    let server = Server::with_media(Settings::default()).await;
    let exp = talkstick::token::unix_now() + 3600;
    let mut fran = Client::join_with(
        server.addr,
        &token_for("course", "Fran", Role::Facilitator, exp),
        "Fran",
        None,
    )
    .await;
    let aino_token = token_for("course", "Aino", Role::Learner, exp);
    let aino = Client::join_with(server.addr, &aino_token, "Aino", None).await;
    let bo =
        Client::join_with(server.addr, &token_for("course", "Bo", Role::Learner, exp), "Bo", None)
            .await;
    let (keys, script) = mpsc::channel(8);
    let opts = options(
        server.base(),
        token_for("course", "Chen", Role::Learner, exp),
        Input::None,
        Output::None,
        30,
        None,
    );
    let session = tokio::spawn(app::run(opts, Some(script)));
    fran.until("Chen joined", |v| v.participants.values().any(|p| p["name"] == "Chen")).await;
    let chen = *fran.view.participants.iter().find(|(_, p)| p["name"] == "Chen").unwrap().0;
    fran.send(json!({"type": "open_breakouts", "groups": 2, "assign": "manual", "manual": [[chen, aino.id], [bo.id]]}))
        .await;
    // Aino follows into group 1 as a page does, and sees Chen arrive there.
    let join = json!({"type": "join", "v": 1, "token": aino_token, "group": "course.1.1"});
    let mut aino_group =
        Client::join_msg(server.addr, "Aino@1", join).await.expect("Aino is admitted");
    aino_group
        .until("Chen in the group", |v| {
            v.participants.values().any(|p| p["name"] == "Chen" && p["connected"] == true)
        })
        .await;
    // A hand raised now is raised in the group, not in the plenary.
    // (With the floor free, the room offers it to the first hand at once.)
    let chen_there = chen_in(&aino_group.view);
    let raised =
        |id: u64| move |v: &crate::common::View| v.queue == vec![id] || v.offered_to() == Some(id);
    // A key pressed while the client is still joining the group is held back (it says
    // so); press until the group shows the hand (a bounded wait).
    press_until(&keys, 'h', &mut aino_group, "Chen's hand in the group", raised(chen_there)).await;
    fran.ping().await;
    assert!(
        fran.view.queue.is_empty() && fran.view.offered_to().is_none(),
        "the plenary's queue stays empty"
    );
    // F asks the plenary's facilitators for help, from the group.
    keys.send(Key::Char('f')).await.unwrap();
    let notice = fran.next_of("notice").await;
    assert_eq!(notice["kind"], "help_asked", "{notice}");
    assert_eq!(notice["message"], "Chen asks for help in Group 1.");
    // Everyone is called back: Chen leaves the group's room, and a hand goes to the plenary.
    // (Everyone's group connection is closed, Aino's too.)
    fran.send(json!({"type": "close_breakouts"})).await;
    drop(aino_group);
    // The native client hears of it when Fran does; a key pressed before that still
    // goes to the group, so press until the plenary shows the hand (a bounded wait).
    press_until(&keys, 'r', &mut fran, "Chen's hand in the plenary", raised(chen)).await;
    keys.send(Key::Char('q')).await.unwrap();
    keys.send(Key::Char('q')).await.unwrap();
    let summary = tokio::time::timeout(WAIT, session).await.expect("Q Q leaves").unwrap().unwrap();
    assert_eq!(summary.ending, app::Ending::Left);
    assert!(summary.said.iter().any(|l| l.contains("you are in group 1")), "{:?}", summary.said);
    assert!(summary.said.iter().any(|l| l.contains("Back in the plenary")), "{:?}", summary.said);
    assert_eq!(summary.reconnects, 0, "the plenary connection stayed up throughout");
    drop((aino, bo));
}

/// Presses `key` every 200 ms until `watcher`'s view shows `what` (at most 25 times,
/// then the usual bounded wait for it): a key pressed while the client is between
/// connections does nothing, as the client says.
async fn press_until(
    keys: &mpsc::Sender<Key>,
    key: char,
    watcher: &mut Client,
    what: &str,
    shown: impl Fn(&crate::common::View) -> bool,
) {
    for _ in 0..25 {
        keys.send(Key::Char(key)).await.unwrap();
        let _ = watcher.try_next(Duration::from_millis(200)).await;
        if shown(&watcher.view) {
            return;
        }
    }
    watcher.until(what, shown).await;
}

/// Chen's id in a group room's view.
fn chen_in(v: &crate::common::View) -> u64 {
    *v.participants.iter().find(|(_, p)| p["name"] == "Chen").expect("Chen is there").0
}
