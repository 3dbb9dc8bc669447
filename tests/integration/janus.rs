//! The Janus client against a real Janus (Debian's `janus`, started here with
//! `deploy/janus/`, its WebSocket on loopback): a session, VideoRoom handles, an
//! audio-only room, a publisher whose offer (the load tester's own peer) Janus answers
//! and the peer accepts, and Janus's refusals as errors with its words.
//!
//! Only the signaling runs here: Janus's ICE (libnice) never gathers candidates on the
//! loopback interface, and tests keep to loopback, so media through Janus is left to the
//! benchmark, which runs on the host's own address.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use talkstick::client::ClientRtc;
use talkstick::client::janus::{Janus, JanusError, create_room};
use tokio::process::Command;

/// Janus with this repository's configuration, on a free WebSocket port.
struct JanusProc {
    child: tokio::process::Child,
    url: String,
    dir: PathBuf,
}

impl Drop for JanusProc {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start_janus() -> JanusProc {
    assert!(
        std::path::Path::new("/usr/bin/janus").exists(),
        "Janus is missing: apt-get install janus (scripts/test installs it)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("talkstick-janus-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/janus");
    for f in ["janus.jcfg", "janus.transport.websockets.jcfg", "janus.plugin.videoroom.jcfg"] {
        let text = std::fs::read_to_string(src.join(f)).unwrap();
        let text = text
            .replace("@CONFIGS@", dir.to_str().unwrap())
            .replace("ws_port = 8188", &format!("ws_port = {port}"));
        std::fs::write(dir.join(f), text).unwrap();
    }
    let child = Command::new("/usr/bin/janus")
        .arg("-F")
        .arg(&dir)
        .arg("-C")
        .arg(dir.join("janus.jcfg"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("janus starts");
    let url = format!("ws://127.0.0.1:{port}");
    // Ready when its WebSocket answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "Janus did not listen within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    JanusProc { child, url, dir }
}

#[tokio::test]
async fn the_janus_client_makes_a_room_and_publishes_and_our_peer_takes_the_answer() {
    let janus = start_janus().await;
    let client = Janus::connect(&janus.url).await.expect("a Janus session");
    let room = 4242;
    let publisher = client.attach().await.unwrap();
    client.message(publisher, create_room(room, 6), None).await.expect("room created");
    // The same room twice, and a room that does not exist: refused, in Janus's words.
    let again = client.message(publisher, create_room(room, 6), None).await;
    assert!(
        matches!(&again, Err(JanusError::Refused { why, .. }) if why.contains("already exists")),
        "{again:?}"
    );
    let nowhere = json!({"request": "join", "room": 9, "ptype": "publisher"});
    let refused = client.message(publisher, nowhere, None).await;
    assert!(
        matches!(&refused, Err(JanusError::Refused { why, .. }) if why.contains("No such room")),
        "{refused:?}"
    );

    let join = json!({"request": "join", "room": room, "ptype": "publisher", "display": "p1"});
    let joined = client.message(publisher, join, None).await.unwrap();
    assert_eq!(joined["plugindata"]["data"]["videoroom"], "joined", "{joined}");
    assert!(joined["plugindata"]["data"]["id"].as_u64().is_some(), "a publisher id: {joined}");
    let local: SocketAddr = "127.0.0.1:40999".parse().unwrap();
    let (mut rtc, offer) = ClientRtc::offer(Instant::now(), local, 0).unwrap();
    let publish = json!({"request": "publish", "audio": true, "video": false});
    let answer = client
        .message(publisher, publish, Some(json!({"type": "offer", "sdp": offer})))
        .await
        .expect("Janus answers the publisher");
    let sdp = answer["jsep"]["sdp"].as_str().expect("with a session description");
    assert!(sdp.contains("m=audio") && sdp.contains("a=recvonly"), "{sdp}");
    let mut out = Vec::new();
    rtc.accept_answer(sdp, &mut out).expect("our peer takes Janus's answer");
    // A second session sees the room and its publisher.
    let other = Janus::connect(&janus.url).await.unwrap();
    let h = other.attach().await.unwrap();
    let list =
        other.message(h, json!({"request": "listparticipants", "room": room}), None).await.unwrap();
    let people = list["plugindata"]["data"]["participants"].as_array().cloned().unwrap_or_default();
    assert_eq!(people.len(), 1, "{list}");
}

/// The answering side of the peer (Janus offers its subscribers the streams they asked
/// for): it answers an offer of one audio stream, connects over loopback, and receives
/// every packet, payload intact. The offer here is the load tester's own publisher.
#[tokio::test]
async fn our_peer_answers_an_offer_and_receives_its_audio() {
    use talkstick::rtp::{RtcEvent, Transmit};
    use tokio::net::UdpSocket;

    async fn flush(socket: &UdpSocket, out: &mut Vec<Transmit>) {
        for t in out.drain(..) {
            let _ = socket.send_to(&t.contents, t.destination).await;
        }
    }
    async fn pump(rtc: &mut ClientRtc, socket: &UdpSocket, out: &mut Vec<Transmit>) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.try_recv_from(&mut buf) {
            let now = Instant::now();
            let d = rtc.received(from, &buf[..n], now);
            let _ = rtc.handle_datagram(now, &d, out);
        }
        let now = Instant::now();
        if rtc.timeout() <= now {
            let _ = rtc.handle_timeout(now, out);
        }
        flush(socket, out).await;
    }

    let (sa, sb) = (
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
    );
    let mut out = Vec::new();
    let (mut sender, offer) =
        ClientRtc::offer(Instant::now(), sa.local_addr().unwrap(), 0).unwrap();
    let (mut receiver, answer) =
        ClientRtc::answer(Instant::now(), sb.local_addr().unwrap(), &offer, &mut out).unwrap();
    flush(&sb, &mut out).await;
    sender.accept_answer(&answer, &mut out).expect("the answer is accepted");
    flush(&sa, &mut out).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut up, mut sent, mut got, mut intact) = ((false, false), 0u32, 0u32, 0u32);
    let mut next = Instant::now();
    while Instant::now() < deadline && got < 50 {
        pump(&mut sender, &sa, &mut out).await;
        pump(&mut receiver, &sb, &mut out).await;
        while let Some(e) = sender.poll_event() {
            up.0 |= matches!(e, RtcEvent::Connected);
        }
        while let Some(e) = receiver.poll_event() {
            match e {
                RtcEvent::Connected => up.1 = true,
                RtcEvent::Audio(a) => {
                    got += 1;
                    intact += u32::from(a.data.get(..4) == Some(&[0xf8, 0xff, 0xfe, 0x00][..]));
                }
                _ => {}
            }
        }
        if up.0 && Instant::now() >= next {
            let mut payload = vec![0xf8, 0xff, 0xfe, 0x00];
            payload.extend(sent.to_be_bytes());
            sender
                .send_audio(Instant::now(), u64::from(sent) * 960, 30, &payload, &mut out)
                .unwrap();
            flush(&sa, &mut out).await;
            sent += 1;
            next += Duration::from_millis(20);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(up.0 && up.1, "both sides connected: {up:?}");
    assert!(got >= 50, "received {got} of {sent} packets");
    assert_eq!(intact, got, "payloads as sent");
}
