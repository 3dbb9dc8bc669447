//! The load tester's smoke run: 2 rooms × 6 real participants against a server started
//! here, for a few seconds.

use std::time::Duration;

use talkstick::loadtest::{LoadArgs, run};
use talkstick_signaling::protocol::Settings;

use crate::common::{SECRET, Server};

fn args(server: &Server, json: std::path::PathBuf) -> LoadArgs {
    LoadArgs {
        url: server.base(),
        secret: Some(SECRET.into()),
        rooms: 2,
        per_room: 6,
        duration: Duration::from_secs(5),
        ramp: 40.0,
        bind_ip: [127, 0, 0, 1].into(),
        baseline: None,
        janus: None,
        speak_file: None,
        server_pid: None,
        json: Some(json),
        max_loss: Some(0.0),
        max_p99_latency: None,
        max_join_p95: None,
        turn_ms: (1_000, 1_500),
        session: None,
        crash_every: None,
        quiet: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rooms_of_six_run_without_loss_and_hand_the_floor_over() {
    let server = Server::with_media(Settings::default()).await;
    let dir = std::env::temp_dir().join(format!("talkstick-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("report.json");
    let a = args(&server, path.clone());
    let report = run(&a).await.unwrap();
    eprint!("{}", report.table());
    assert_eq!(report.joined, 12);
    assert!(report.packets_sent > 100, "speakers spoke");
    assert_eq!(
        report.loss, 0.0,
        "no loss: {} of {}",
        report.packets_received, report.packets_expected
    );
    assert!(
        report.listeners_heard >= 12 - 2,
        "every listener received audio (the speaker may hear nobody)"
    );
    assert_eq!(report.rooms_with_handover, 2, "the floor was handed over in every room");
    assert!(report.fanout_ms.samples > 0 || report.reactions == 0);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.violations(&a).is_empty());
    // The server's own counters over the run, from its /healthz: it got every microphone
    // packet and dropped or failed none, and its rooms' forwarding counts came in.
    let media = report.server_media.as_ref().expect("the server's media counters");
    let udp = |key: &str| media["udp"][key].as_u64().unwrap_or_else(|| panic!("udp.{key}"));
    assert!(udp("received") >= report.packets_sent, "{media}");
    for key in ["dropped_busy", "dropped_over_rate", "send_failed"] {
        assert_eq!(udp(key), 0, "{key}: {media}");
    }
    let forwarded = media["forwarding"]["packets_forwarded"].as_u64().unwrap();
    assert!(forwarded > 0 && forwarded <= udp("sent"), "{media}");
    // A well-formed JSON report, written as the CLI writes it.
    report.write_json(&path).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for key in [
        "join_ms",
        "forward_latency_ms",
        "fanout_ms",
        "loss",
        "jitter_ms",
        "errors",
        "server_media",
    ] {
        assert!(json.get(key).is_some(), "report has {key}");
    }
    assert!(json["forward_latency_ms"]["p99"].as_f64().is_some());
    let _ = std::fs::remove_dir_all(dir);
}

/// Rooms end and fresh ones take their place, and learners crash (no goodbye) and come
/// back with their resume tokens: each gets back the same identity, colour, queue place
/// and floor, and nothing else goes wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_learners_come_back_with_everything_and_rooms_follow_one_another() {
    let server = Server::with_media(Settings::default()).await;
    let mut a = args(&server, std::env::temp_dir().join("unused.json"));
    a.duration = Duration::from_secs(16);
    a.session = Some(Duration::from_secs(10));
    a.crash_every = Some(Duration::from_secs(2));
    a.max_loss = None; // a crash loses what was in flight to it
    let report = run(&a).await.unwrap();
    eprint!("{}", report.table());
    assert!(report.sessions >= 4, "each room ran more than one session: {}", report.sessions);
    assert!(report.joined >= 4 * 6, "every session's members joined: {}", report.joined);
    assert!(report.crashes >= 4, "learners crashed: {}", report.crashes);
    assert_eq!(report.resumes, report.crashes, "every one came back with nothing lost");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.packets_received > 100, "audio went on");
}

#[tokio::test]
async fn a_wrong_secret_or_no_server_gives_a_clear_error() {
    let server = Server::with_media(Settings::default()).await;
    let mut a = args(&server, std::env::temp_dir().join("unused.json"));
    a.secret = Some("not-the-secret-0123456789".into());
    let err = run(&a).await.unwrap_err().to_string();
    assert!(err.contains("--secret"), "{err}");
    a.url = "http://127.0.0.1:9".into();
    let err = format!("{:#}", run(&a).await.unwrap_err());
    assert!(err.contains("not usable") && err.contains("cannot reach"), "{err}");
}
