//! Running Talkstick as a service, against the real binary: Prometheus metrics and
//! readiness, JSON logs, invite links over HTTP, draining on SIGTERM, configuration files.

use std::time::Duration;

use serde_json::{Value, json};
use talkstick::token::unix_now;
use talkstick_signaling::protocol::Role;

use crate::binary::{Proc, api, api_with, join, json_of, scratch, serve};
use crate::common::{Client, token_for};

#[tokio::test]
async fn an_operator_watches_the_server_in_prometheus_and_readiness() {
    let dir = scratch("metrics");
    let server = Proc::start(&dir, 0).await;
    let addr = server.addr;
    let (status, body) = api(addr, "GET", "/readyz", None).await;
    assert_eq!((status, json_of(&body)["ready"].as_bool()), (200, Some(true)));
    let mut fran = join(addr, "Fran", Role::Facilitator).await;
    let mut aino = join(addr, "Aino", Role::Learner).await;
    aino.send(json!({"type": "raise_hand", "kind": "new_point"})).await;
    fran.until("Aino's hand", |v| v.queue == [aino.id]).await;
    aino.send(json!({"type": "grant", "participant": aino.id})).await;
    assert_eq!(aino.next_of("error").await["code"], "forbidden");
    aino.send_raw("{not json".into()).await;
    aino.next_of("error").await;
    fran.ping().await;

    let (status, text) = api(addr, "GET", "/metrics", None).await;
    assert_eq!(status, 200);
    let value = |line_start: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {line_start} in:\n{text}"))
    };
    assert_eq!(value("talkstick_rooms "), 1.0);
    assert_eq!(value("talkstick_connections "), 2.0);
    assert_eq!(value("talkstick_participants{room=\"plenary\"}"), 2.0);
    assert_eq!(value("talkstick_participants{room=\"group\"}"), 0.0);
    assert_eq!(value("talkstick_breakout_groups "), 0.0);
    assert_eq!(value("talkstick_messages_total{type=\"raise_hand\"}"), 1.0);
    assert_eq!(value("talkstick_messages_total{type=\"grant\"}"), 1.0);
    assert_eq!(value("talkstick_messages_total{type=\"invalid\"}"), 1.0);
    assert_eq!(value("talkstick_errors_total{code=\"forbidden\"}"), 1.0);
    assert_eq!(value("talkstick_join_seconds_count"), 2.0);
    assert!(value("talkstick_store_entries_total") >= 3.0, "two joins and a hand");
    assert!(value("talkstick_store_lag_seconds_count") >= 1.0, "commits timed");
    assert!(value("talkstick_store_lag_seconds_sum") < 5.0, "changes reached the disk promptly");
    assert!(value("process_resident_memory_bytes") > 1e6);
    assert!(text.contains("talkstick_draining 0"));
    server.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn json_logs_name_the_room_and_the_participant() {
    let dir = scratch("logs");
    let mut cmd = serve(&dir, 0);
    cmd.args(["--log-format", "json"]).env("RUST_LOG", "info,talkstick=debug");
    let mut server = Proc::spawn(cmd).await;
    let mut aino = join(server.addr, "Aino", Role::Learner).await;
    aino.send(json!({"type": "leave"})).await;
    aino.next_of("goodbye").await;
    let line = server.printed("room started").await;
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert_eq!(v["fields"]["room"], "crash", "{line}");
    assert_eq!(v["level"], "INFO");
    // An event inside the room's task carries the room's span.
    let line = server.printed("room task ended").await;
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["span"]["room"], "crash", "{line}");
    server.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
}

const API_KEY: &str = "admin-api-key-0123456789abcdef";

#[tokio::test]
async fn links_are_made_over_http_with_the_api_key_or_a_facilitator_token() {
    let dir = scratch("invites");
    let mut cmd = serve(&dir, 0);
    cmd.args(["--api-key", API_KEY]);
    let server = Proc::spawn(cmd).await;
    let addr = server.addr;
    let post = |path: &'static str, key: Option<&'static str>, body: &'static str| {
        api_with(addr, "POST", path, key, Some(body))
    };
    let good = r#"{"learners": ["Aino", "Bertil"], "facilitators": ["Fran"], "hours": 2}"#;
    // Refused, each with a JSON error, and nothing made.
    for (key, body, status, error) in [
        (None, good, 401, "unauthorized"),
        (Some("wrong-key-0123456789abcdefghij"), good, 401, "unauthorized"),
        (Some(API_KEY), "{not json", 400, "bad_request"),
        (Some(API_KEY), r#"{"learners": ["Aino"], "colour": "red"}"#, 400, "bad_request"),
        (Some(API_KEY), r#"{"learners": []}"#, 400, "bad_request"),
        (Some(API_KEY), r#"{"learners": ["  "]}"#, 400, "bad_request"),
        (Some(API_KEY), r#"{"learners": ["Aino"], "hours": 0}"#, 400, "bad_request"),
    ] {
        let (s, b) = post("/api/rooms/team-a/links", key, body).await;
        assert_eq!(
            (s, json_of(&b)["error"].as_str()),
            (status, Some(error)),
            "{key:?} {body}: {b}"
        );
    }
    let (s, b) = post("/api/rooms/no%20spaces/links", Some(API_KEY), good).await;
    assert_eq!((s, json_of(&b)["error"].as_str()), (400, Some("bad_request")), "{b}");

    // Made: three links that admit the people named, with the role asked for.
    let (s, b) = post("/api/rooms/team-a/links", Some(API_KEY), good).await;
    assert_eq!(s, 201, "{b}");
    let made = json_of(&b);
    let links = made["links"].as_array().unwrap();
    assert_eq!(links.len(), 3);
    assert!(made["expires_at"].as_u64().unwrap() > unix_now() + 7000);
    let token_of = |name: &str| {
        let url =
            links.iter().find(|l| l["name"] == name).unwrap()["url"].as_str().unwrap().to_owned();
        assert!(url.starts_with(&format!("http://{addr}/?token=")), "{url}");
        url.split_once("token=").unwrap().1.to_owned()
    };
    let fran_token = token_of("Fran");
    let fran = Client::join_with(addr, &fran_token, "Fran", None).await;
    assert_eq!(fran.log[0]["you"]["role"], "facilitator");
    assert_eq!(fran.log[0]["room"]["id"], "team-a");
    let aino = Client::join_with(addr, &token_of("Aino"), "Aino", None).await;
    assert_eq!(aino.log[0]["you"]["role"], "learner");

    // The live rooms, with the people in each.
    let (s, b) = api(addr, "GET", "/api/rooms", Some(API_KEY)).await;
    assert_eq!(s, 200);
    assert_eq!(json_of(&b)["rooms"], json!([{"room": "team-a", "people": 2}]), "{b}");
    let (s, _) = api(addr, "GET", "/api/rooms", None).await;
    assert_eq!(s, 401);

    // A facilitator's page invites learners to its own room, and only learners.
    let (s, b) = api_with(
        addr,
        "POST",
        "/api/invites",
        Some(&fran_token),
        Some(r#"{"learners": ["Chen"]}"#),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(json_of(&b)["room"], "team-a");
    let chen =
        json_of(&b)["links"][0]["url"].as_str().unwrap().split_once("token=").unwrap().1.to_owned();
    let chen = Client::join_with(addr, &chen, "Chen", None).await;
    assert_eq!(chen.log[0]["room"]["id"], "team-a");
    let (s, b) = api_with(
        addr,
        "POST",
        "/api/invites",
        Some(&fran_token),
        Some(r#"{"facilitators": ["Eve"]}"#),
    )
    .await;
    assert_eq!((s, json_of(&b)["error"].as_str()), (403, Some("forbidden")));
    let (s, b) = api_with(
        addr,
        "POST",
        "/api/invites",
        Some(&token_of("Bertil")),
        Some(r#"{"learners": ["Eve"]}"#),
    )
    .await;
    assert_eq!((s, json_of(&b)["error"].as_str()), (403, Some("forbidden")));
    // Nobody without the key can spend the budget: a flood of wrong keys is refused as
    // such, and the platform holding the key still gets in.
    for _ in 0..60 {
        let (s, _) = api(addr, "GET", "/api/rooms", Some("wrong-key-0123456789abcdefghij")).await;
        assert_eq!(s, 401);
    }
    let (s, _) = api(addr, "GET", "/api/rooms", Some(API_KEY)).await;
    assert_eq!(s, 200, "the key still works after a flood of wrong ones");
    // The API is not a free-for-all: a burst far over its budget is told to slow down.
    let mut limited = 0;
    for _ in 0..40 {
        let (s, _) = api(addr, "GET", "/api/rooms", Some(API_KEY)).await;
        limited += u32::from(s == 429);
    }
    assert!(limited > 0, "a burst of 40 requests meets the rate limit");
    server.kill().await;

    // Without --api-key the admin API is off.
    let server = Proc::start(&dir, 0).await;
    let (s, b) = api(server.addr, "GET", "/api/rooms", Some(API_KEY)).await;
    assert_eq!((s, json_of(&b)["error"].as_str()), (404, Some("not_found")));
    server.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn sigterm(p: &Proc) {
    let pid = p.child.id().expect("running").to_string();
    let ok = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(ok.success());
}

#[tokio::test]
async fn sigterm_drains_tells_everyone_and_the_room_comes_back() {
    let dir = scratch("drain");
    let mut cmd = serve(&dir, 0);
    cmd.args(["--drain-timeout", "2"]);
    let mut server = Proc::spawn(cmd).await;
    let addr = server.addr;
    let mut fran = join(addr, "Fran", Role::Facilitator).await;
    let mut aino = join(addr, "Aino", Role::Learner).await;
    aino.send(json!({"type": "raise_hand", "kind": "new_point"})).await;
    fran.until("Aino's hand", |v| v.queue == [aino.id]).await;

    sigterm(&server);
    // Everyone is told, the room goes on meanwhile, and no new room starts.
    for c in [&mut fran, &mut aino] {
        let n = c.next_of("notice").await;
        assert_eq!(n["kind"], "server_restarting", "{n}");
        assert!(n["message"].as_str().unwrap().contains("comes back"), "{n}");
    }
    aino.ping().await;
    let (status, body) = api(addr, "GET", "/readyz", None).await;
    assert_eq!(status, 503, "{body}");
    let other = token_for("elsewhere", "Olli", Role::Learner, unix_now() + 3600);
    let mut ws = crate::common::connect(addr).await;
    use futures_util::{SinkExt, StreamExt};
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        json!({"type": "join", "v": 1, "token": other}).to_string(),
    ))
    .await
    .unwrap();
    let refused = loop {
        if let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) = ws.next().await {
            break serde_json::from_str::<Value>(t.as_str()).unwrap();
        }
    };
    assert!(refused["message"].as_str().unwrap().contains("restarting"), "{refused}");
    // The room does not end in the 2 s: the server stops, the room kept.
    let stopped = tokio::time::timeout(Duration::from_secs(10), server.child.wait()).await;
    assert!(stopped.is_ok_and(|s| s.is_ok_and(|s| s.success())), "stopped cleanly after the drain");
    let mut server = Proc::start(&dir, addr.port()).await;
    let line = server.printed("Restored").await;
    assert!(line.contains("Restored 1 room(s)"), "{line}");
    let token = token_for("crash", "Aino", Role::Learner, unix_now() + 3600);
    let back = Client::join_with(server.addr, &token, "Aino", Some(&aino.resume)).await;
    assert_eq!(back.view.queue, [aino.id], "her hand kept its place");
    server.kill().await;

    // Asked over the admin API, with no room running: it stops at once.
    let _ = std::fs::remove_dir_all(&dir);
    let mut cmd = serve(&dir, 0);
    cmd.args(["--drain-timeout", "30", "--api-key", API_KEY]);
    let mut server = Proc::spawn(cmd).await;
    let (status, _) = api_with(
        server.addr,
        "POST",
        "/api/admin/drain",
        Some("wrong-key-0123456789abcdefghij"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) =
        api_with(server.addr, "POST", "/api/admin/drain", Some(API_KEY), None).await;
    assert_eq!(status, 202, "{body}");
    let stopped = tokio::time::timeout(Duration::from_secs(10), server.child.wait()).await;
    assert!(stopped.is_ok(), "no room to wait for: stopped well before the 30 s");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The base of the facilitator's demo link a server prints.
async fn printed_base(server: &mut Proc) -> String {
    let line = server.printed("facilitator ").await;
    let url = line.split_whitespace().last().unwrap().to_owned();
    url.split_once("/?token=").unwrap().0.to_owned()
}

#[tokio::test]
async fn a_config_file_sits_below_the_environment_and_the_flags() {
    let dir = scratch("config");
    let file = dir.join("talkstick.toml");
    std::fs::write(
        &file,
        format!(
            "demo = true\ndemo_learners = 1\npublic_url = \"https://from-file.example\"\n\
             retain_days = 7\nturn_url = [\"turn:127.0.0.1:3478?transport=udp\", \"turns:relay.example:5349\"]\n\
             turn_secret = \"turn-secret-0123456789\"\ndata_dir = \"{}\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    // The file alone.
    let mut cmd = serve(&dir, 0);
    cmd.arg("--config").arg(&file).env_remove("TALKSTICK_PUBLIC_URL");
    let mut server = Proc::spawn(cmd).await;
    assert_eq!(printed_base(&mut server).await, "https://from-file.example");
    let turn = server.printed("TURN relays").await;
    assert!(turn.contains("turns:relay.example:5349"), "{turn}");
    server.kill().await;
    // The environment over the file.
    let mut cmd = serve(&dir, 0);
    cmd.arg("--config").arg(&file).env("TALKSTICK_PUBLIC_URL", "https://from-env.example");
    let mut server = Proc::spawn(cmd).await;
    assert_eq!(printed_base(&mut server).await, "https://from-env.example");
    server.kill().await;
    // A flag over both.
    let mut cmd = serve(&dir, 0);
    cmd.arg("--config")
        .arg(&file)
        .args(["--public-url", "https://from-flag.example"])
        .env("TALKSTICK_PUBLIC_URL", "https://from-env.example");
    let mut server = Proc::spawn(cmd).await;
    assert_eq!(printed_base(&mut server).await, "https://from-flag.example");
    server.kill().await;

    // `config check` says what is wrong, with exit code 2, and what a good file sets.
    let check = |path: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_talkstick"))
            .args(["config", "check"])
            .arg(path)
            .output()
            .unwrap()
    };
    let out = check(&file);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 TURN relay(s)"));
    for (text, says) in [
        ("udp_prot = 5\n", "unknown setting \"udp_prot\""),
        ("udp_port = \"many\"\n", "invalid value 'many' for '--udp-port"),
        ("retain_days = 0\n", "--retain-days"),
        ("bind = [1, {}]\n", "must be"),
        ("udp_port = [\n", "TOML parse error"),
    ] {
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, text).unwrap();
        let out = check(&bad);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(says) && !err.contains("panicked"), "{text}: {err}");
    }
    // And `serve` refuses to start on a bad file, with the same words.
    let mut cmd = serve(&dir, 0);
    cmd.arg("--config").arg(dir.join("bad.toml"));
    let out = cmd.output().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TOML parse error"));
    let _ = std::fs::remove_dir_all(&dir);
}
