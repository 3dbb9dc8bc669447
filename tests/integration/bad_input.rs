//! Bad input: the sender gets a clear error, the connection stays open (unless the
//! token is bad), the room keeps its state and other participants notice nothing.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use talkstick::token::unix_now;
use talkstick_signaling::protocol::{MAX_FRAME_BYTES, Role, Settings};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{Client, Server, WAIT, connect, token_for};

/// A server whose pause cue stays out of the way (no media plane here says who speaks).
async fn quiet_server() -> Server {
    Server::with_settings(Settings { pause_ms: 60_000, ..Settings::default() }).await
}

/// A facilitator who has granted the floor, a learner with a hand up, and an observer.
async fn busy_room(server: &Server) -> (Client, Client, Client) {
    let mut f = Client::join(server, "b1", "Fiona", Role::Facilitator).await;
    let mut a = Client::join(server, "b1", "Aino", Role::Learner).await;
    let mut o = Client::join(server, "b1", "Olli", Role::Learner).await;
    f.send(json!({"type": "grant", "participant": o.id})).await;
    o.next_of("youre_up").await;
    o.send(json!({"type": "accept_floor"})).await;
    a.send(json!({"type": "raise_hand", "kind": "new_point"})).await;
    let (aid, oid) = (a.id, o.id);
    for c in [&mut f, &mut a, &mut o] {
        c.until("settled", |v| {
            v.holder() == Some(oid) && v.queue == [aid] && v.participants.len() == 3
        })
        .await;
    }
    (f, a, o)
}

/// Sends `text` as `sender`, expects an error with `code`, then checks nothing changed.
async fn refused(
    sender: &mut Client,
    others: &mut [&mut Client],
    text: String,
    code: &str,
) -> Value {
    let before: Vec<_> = others.iter().map(|c| c.view.clone()).collect();
    let sender_before = sender.view.clone();
    sender.send_raw(text).await;
    let err = sender.next_of("error").await;
    assert_eq!(err["code"], code, "{err}");
    assert!(!err["message"].as_str().unwrap().is_empty());
    sender.ping().await; // still open and served
    assert_eq!(sender.view, sender_before, "the sender's view is unchanged");
    for (c, b) in others.iter_mut().zip(before) {
        c.quiet().await;
        assert_eq!(c.view, b);
    }
    err
}

#[tokio::test]
async fn every_kind_of_bad_frame_gets_a_clear_error_and_changes_nothing() {
    let server = quiet_server().await;
    let (mut f, mut a, mut o) = busy_room(&server).await;
    let cases = [
        ("{not json".to_owned(), "malformed"),
        ("[1,2,3]".to_owned(), "malformed"),
        (r#"{"type":7}"#.to_owned(), "malformed"),
        (r#"{"type":"teleport"}"#.to_owned(), "unknown_type"),
        (r#"{"type":"raise_hand","kind":"shout"}"#.to_owned(), "invalid_message"),
        (r#"{"type":"join","v":1,"token":"x"}"#.to_owned(), "already_joined"),
        (r#"{"type":"raise_hand","kind":"reply"}"#.to_owned(), "hand_already_raised"),
        (r#"{"type":"yield"}"#.to_owned(), "not_holder"),
    ];
    for (text, code) in cases {
        refused(&mut a, &mut [&mut f, &mut o], text, code).await;
    }
    let err = refused(
        &mut a,
        &mut [&mut f, &mut o],
        r#"{"type":"accept_floor","id":42}"#.into(),
        "no_offer",
    )
    .await;
    assert_eq!(err["re"], 42, "the request id is echoed");
    let note = "n".repeat(281);
    refused(
        &mut o,
        &mut [&mut f, &mut a],
        json!({"type":"raise_hand","kind":"reply","note":note}).to_string(),
        "already_holding_floor",
    )
    .await;
}

#[tokio::test]
async fn a_learner_cannot_do_what_only_facilitators_do() {
    let server = quiet_server().await;
    let (mut f, mut a, mut o) = busy_room(&server).await;
    let oid = o.id;
    let attempts = [
        json!({"type": "grant", "participant": oid}),
        json!({"type": "revoke"}),
        json!({"type": "next"}),
        json!({"type": "open_discussion"}),
        json!({"type": "move_hand", "participant": a.id, "position": 1}),
        json!({"type": "remove_hand", "participant": a.id}),
        json!({"type": "clear_hands"}),
        json!({"type": "mute", "participant": oid}),
        json!({"type": "unmute", "participant": oid}),
        json!({"type": "mute_all"}),
        json!({"type": "update_settings", "settings": {"mode": "moderated"}}),
        json!({"type": "get_stats"}),
    ];
    for msg in attempts {
        let err = refused(&mut a, &mut [&mut f, &mut o], msg.to_string(), "forbidden").await;
        assert!(err["message"].as_str().unwrap().starts_with("only a facilitator"));
    }
}

#[tokio::test]
async fn a_wrong_protocol_version_is_refused_and_the_connection_stays_open() {
    let server = Server::start().await;
    let mut ws = connect(server.addr).await;
    let token = server.token("v1", "Aino", Role::Learner);
    ws.send(Message::text(json!({"type":"join","v":2,"token":token}).to_string())).await.unwrap();
    let err = read_json(&mut ws).await;
    assert_eq!(err["code"], "unsupported_version");
    // Messages before a join are refused too, and the socket still works.
    ws.send(Message::text(r#"{"type":"raise_hand","kind":"reply"}"#)).await.unwrap();
    assert_eq!(read_json(&mut ws).await["code"], "not_joined");
    ws.send(Message::text(json!({"type":"join","v":1,"token":token}).to_string())).await.unwrap();
    assert_eq!(read_json(&mut ws).await["type"], "welcome");
}

#[tokio::test]
async fn bad_and_expired_tokens_get_an_error_then_the_connection_closes() {
    let server = Server::start().await;
    let mut watcher = Client::join(&server, "k1", "Fiona", Role::Facilitator).await;
    let forged = {
        let good = server.token("k1", "Mallory", Role::Learner);
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        parts[2] = "AAAA".into();
        parts.join(".")
    };
    let expired = token_for("k1", "Late", Role::Learner, unix_now() - 3600);
    for (token, code) in
        [(forged, "bad_token"), ("garbage".to_owned(), "bad_token"), (expired, "token_expired")]
    {
        let mut ws = connect(server.addr).await;
        ws.send(Message::text(json!({"type":"join","v":1,"token":token}).to_string()))
            .await
            .unwrap();
        let err = read_json(&mut ws).await;
        assert_eq!(err["code"], code);
        let close = tokio::time::timeout(WAIT, ws.next()).await.unwrap();
        match close {
            Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 4001),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
    watcher.quiet().await;
    assert_eq!(watcher.view.participants.len(), 1);
}

/// A frame over the protocol's 16 KiB is refused by the WebSocket layer before it is
/// buffered: that connection ends; the room and everyone else go on as before.
#[tokio::test]
async fn a_frame_over_the_limit_ends_only_its_own_connection() {
    let server = quiet_server().await;
    let (mut f, mut a, mut o) = busy_room(&server).await;
    let before = f.view.clone();
    let big = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(MAX_FRAME_BYTES));
    let _ = a.ws.send(Message::text(big)).await;
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match a.ws.next().await {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            }
        }
    });
    ended.await.expect("the connection ended");
    // Aino is now a participant whose connection dropped: within the grace period, hand
    // kept. Everyone else is served as before.
    let aid = a.id;
    f.until("Aino disconnected", |v| v.participants[&aid]["connected"] == false).await;
    assert_eq!((&f.view.queue, f.view.holder()), (&before.queue, before.holder()));
    o.ping().await;
    f.ping().await;
}

/// Connections that never join are capped per address (and in total): two thousand of
/// them from one address leave the server serving everyone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_idle_connections_that_never_join_do_not_crowd_out_a_learner() {
    use talkstick::http::gate::MAX_WAITING_PER_ADDRESS;
    let server = quiet_server().await;
    let mut idle = Vec::new();
    let mut refused = 0;
    for _ in 0..2_000 {
        match tokio_tungstenite::connect_async(format!("ws://{}/ws", server.addr)).await {
            Ok((ws, _)) => idle.push(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                assert_eq!(r.status(), 503);
                refused += 1;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(idle.len(), MAX_WAITING_PER_ADDRESS, "one address holds at most its share");
    assert_eq!(refused, 2_000 - MAX_WAITING_PER_ADDRESS);
    // A learner from another address joins and is served at once.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let tcp = socket.connect(server.addr).await.unwrap();
    let (mut ws, _) =
        tokio_tungstenite::client_async(format!("ws://{}/ws", server.addr), tcp).await.unwrap();
    let token = server.token("idle", "Aino", Role::Learner);
    ws.send(Message::text(json!({"type":"join","v":1,"token":token}).to_string())).await.unwrap();
    assert_eq!(read_json(&mut ws).await["type"], "welcome");
    // Once the idle ones go, their places are free again.
    drop(idle);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if tokio_tungstenite::connect_async(format!("ws://{}/ws", server.addr)).await.is_ok() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "places were never given back");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn binary_frames_are_refused_without_closing() {
    let server = Server::start().await;
    let mut a = Client::join(&server, "x1", "Aino", Role::Learner).await;
    a.ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(a.next_of("error").await["code"], "malformed");
    a.ping().await;
}

#[tokio::test]
async fn health_and_the_web_client_are_served() {
    let server = Server::start().await;
    let mut ws = connect(server.addr).await; // a room exists only after a join
    ws.close(None).await.unwrap();
    let body = http_get(server.addr, "/healthz").await;
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    let page = http_get(server.addr, "/").await;
    assert!(page.contains("200 OK") && page.to_lowercase().contains("<!doctype html"), "{page}");
    assert!(http_get(server.addr, "/nope.js").await.contains("404"));
}

async fn read_json<S>(ws: &mut S) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut out)).await.unwrap().unwrap();
    out
}
