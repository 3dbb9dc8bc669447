//! Bad input on the media TCP port (ICE over TCP): a connection that sends anything that
//! does not route — garbage, an empty or oversized frame, STUN for nobody, media before
//! its peer proved the connection — is closed at its first such frame; a silent one is
//! closed too; one address cannot hold more than its share of connections. Audio in the
//! room flows intact meanwhile.

use std::sync::atomic::Ordering;
use std::time::Duration;

use talkstick::media::demux::binding_request as stun;
use talkstick::media::tcp::{FIRST_FRAME, MAX_FRAME, MAX_PER_IP, frame};
use talkstick::rtp::Protocol;
use talkstick_signaling::protocol::{Role, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::Server;
use crate::media::{Listener, opus_packets, speak};
use crate::udp_abuse::connect_own_peer;

/// Whether the server closes `conn` within `within` (reads nothing more from it).
async fn closed_within(conn: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {} // a STUN answer, say: read on
        }
    }
}

async fn send_frame(conn: &mut TcpStream, data: &[u8]) {
    let mut out = Vec::new();
    frame(&mut out, data);
    let _ = conn.write_all(&out).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_what_does_not_route_is_closed_at_once() {
    let server = Server::with_media(Settings::default()).await;
    let plane = server.media.clone().unwrap();
    let target =
        plane.candidates().iter().find(|c| c.proto == Protocol::Tcp).expect("a TCP candidate").addr;
    let mut a = Listener::join(&server, "t1", "Aino", Role::Learner).await;
    let mut b = Listener::join(&server, "t1", "Bertil", Role::Learner).await;
    for l in [&mut a, &mut b] {
        l.pump_until("audio connected", |l| l.connected).await;
    }
    let cecil = connect_own_peer(&server, "t1").await;
    let ufrag = cecil.answer.lines().find_map(|l| l.trim().strip_prefix("a=ice-ufrag:")).unwrap();
    let rtp = {
        let mut p = vec![0x80u8, 111, 0, 1, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef];
        p.extend([0u8; 100]);
        p
    };
    let unknown_before = plane.counters.dropped_unknown.load(Ordering::Relaxed);

    // Each of these is a connection's first and last word.
    let too_long = (MAX_FRAME as u16 + 1).to_be_bytes();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", {
            let mut out = Vec::new();
            frame(&mut out, b"hello, is this the audio port?");
            out
        }),
        ("an empty frame", vec![0, 0]),
        ("an oversized frame", [&too_long[..], &[0u8; 64]].concat()),
        ("STUN for nobody", {
            let mut out = Vec::new();
            frame(&mut out, &stun("nobody:x"));
            out
        }),
        ("media never proved", {
            let mut out = Vec::new();
            frame(&mut out, &rtp);
            out
        }),
    ];
    for (what, bytes) in &cases {
        let mut conn = TcpStream::connect(target).await.unwrap();
        conn.write_all(bytes).await.unwrap();
        assert!(closed_within(&mut conn, Duration::from_secs(2)).await, "{what}: still open");
    }
    // A STUN request naming Cecil's peer is routed (his ICE agent judges it, and refuses
    // it: no password)...
    let mut conn = TcpStream::connect(target).await.unwrap();
    send_frame(&mut conn, &stun(&format!("{ufrag}:evil"))).await;
    assert!(
        !closed_within(&mut conn, Duration::from_millis(300)).await,
        "STUN for a peer is heard"
    );
    // ...but it proved nothing: media on that connection ends it.
    send_frame(&mut conn, &rtp).await;
    assert!(closed_within(&mut conn, Duration::from_secs(2)).await, "unproved media closes it");
    let unknown = plane.counters.dropped_unknown.load(Ordering::Relaxed) - unknown_before;
    assert!(unknown >= cases.len() as u64, "each refusal counted: {unknown}");

    // The room noticed nothing: Aino's voice reaches Bertil whole.
    let packets = opus_packets(40, 3.0);
    speak(&a.p, &packets).await;
    b.pump_until("every packet", |l| l.audio.len() >= packets.len()).await;
    assert!(b.audio.iter().zip(&packets).all(|(x, y)| &x.data == y));
    let mut waited = Duration::ZERO;
    while !plane.tcp.is_empty() && waited < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
    assert!(plane.tcp.is_empty(), "{} connections left", plane.tcp.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_and_one_address_gets_its_share_only() {
    let server = Server::with_media(Settings::default()).await;
    let plane = server.media.clone().unwrap();
    let target = plane.candidates().iter().find(|c| c.proto == Protocol::Tcp).unwrap().addr;
    let mut conns = Vec::new();
    for _ in 0..MAX_PER_IP {
        conns.push(TcpStream::connect(target).await.unwrap());
    }
    // One more from the same address is closed at once.
    let mut extra = TcpStream::connect(target).await.unwrap();
    assert!(closed_within(&mut extra, Duration::from_secs(2)).await, "over the share, kept");
    assert_eq!(plane.counters.tcp_refused.load(Ordering::Relaxed), 1);
    // None of them said anything: all are closed once their first frame is overdue.
    let started = tokio::time::Instant::now();
    for conn in &mut conns {
        assert!(closed_within(conn, FIRST_FRAME + Duration::from_secs(3)).await, "silent, kept");
    }
    assert!(started.elapsed() >= FIRST_FRAME - Duration::from_secs(1), "closed too early");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(plane.tcp.is_empty(), "{} connections left", plane.tcp.len());
    // Places are given back: a new connection is accepted (and waits for its frame).
    let mut again = TcpStream::connect(target).await.unwrap();
    assert!(!closed_within(&mut again, Duration::from_millis(300)).await);
}
