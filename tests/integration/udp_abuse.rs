//! Bad input on the media port: garbage, STUN with unknown usernames, RTP from unknown
//! sources, floods (also from a connected peer's own address). Dropped cheaply and
//! counted; audio in the room keeps flowing intact.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use talkstick::client::ClientRtc;
use talkstick::client::{ClientEvent, Participant};
use talkstick::rtp::RtcEvent;
use talkstick_signaling::protocol::{ClientMsg, Role, ServerFrame, ServerMsg, Settings};
use tokio::net::UdpSocket;

use crate::common::{Server, WAIT};
use crate::media::{Listener, opus_packets, speak};

use talkstick::media::demux::binding_request as stun;

/// `speaker` says 60 packets of voice (`seed` picks the voice); `listener` must hear every
/// one, once, in order. Returns how many.
async fn speak_through(speaker: &Listener, listener: &mut Listener, seed: f32) -> usize {
    let packets = opus_packets(60, seed);
    speak(&speaker.p, &packets).await;
    listener.pump_until("every packet", |l| l.audio.len() >= packets.len()).await;
    listener.pump_for(Duration::from_millis(100)).await;
    assert_eq!(listener.audio.len(), packets.len());
    assert!(listener.audio.iter().zip(&packets).all(|(x, y)| &x.data == y));
    packets.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_floods_are_dropped_and_audio_flows_intact() {
    let server = Server::with_media(Settings::default()).await;
    let plane = server.media.clone().unwrap();
    let target = plane.candidates()[0].addr;
    let mut a = Listener::join(&server, "u1", "Aino", Role::Learner).await;
    let mut b = Listener::join(&server, "u1", "Bertil", Role::Learner).await;
    for l in [&mut a, &mut b] {
        l.pump_until("audio connected", |l| l.connected).await;
    }
    let received_before = plane.counters.received.load(Ordering::Relaxed);

    // Attackers on other loopback sockets: a bounded flood of every kind of junk.
    const PER_KIND: usize = 3_000;
    let flood = tokio::spawn(async move {
        let socks = [
            UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        ];
        let mut rtp = vec![0x80u8, 111, 0, 1, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef];
        rtp.extend([0u8; 100]);
        for i in 0..PER_KIND {
            let junk: Vec<u8> = (0..(i % 1200)).map(|k| (k * 31 + i) as u8).collect();
            let _ = socks[0].send_to(&junk, target).await;
            let _ = socks[1].send_to(&stun(&format!("nobody{i}:x")), target).await;
            let _ = socks[2].send_to(&rtp, target).await;
            if i % 200 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });

    // Meanwhile Aino speaks; Bertil must get every packet, once, in order.
    let heard = speak_through(&a, &mut b, 11.0).await;
    flood.await.unwrap();

    // Every junk datagram that reached the socket was dropped at the demux and counted.
    let dropped = plane.counters.dropped_unknown.load(Ordering::Relaxed);
    let received = plane.counters.received.load(Ordering::Relaxed) - received_before;
    assert!(received > heard as u64);
    assert!(dropped >= received - heard as u64 - 200, "dropped {dropped} of {received}");
    assert!(dropped > 0);
    // The server is alive and still serving signaling.
    a.p.send(ClientMsg::Ping).await;
    a.pump_until("pong", |l| l.saw(|m| *m == ServerMsg::Pong).is_some()).await;
}

/// Cecil's audio peer, driven here on a socket the test holds (a normal participant's
/// socket lives inside its session), until ICE and DTLS are up.
pub(crate) struct OwnPeer {
    pub p: Participant,
    pub socket: UdpSocket,
    pub rtc: ClientRtc,
    /// The server's answer.
    pub answer: String,
}

pub(crate) async fn connect_own_peer(server: &Server, room: &str) -> OwnPeer {
    let token = server.token(room, "Cecil", Role::Learner);
    let mut p = Participant::join(&server.base(), &token, None).await.unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (mut rtc, offer) =
        ClientRtc::offer(Instant::now(), socket.local_addr().unwrap(), 3).unwrap();
    p.send(ClientMsg::RtcOffer { sdp: offer }).await;
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    let answer = loop {
        match tokio::time::timeout_at(deadline, p.events.recv()).await {
            Ok(Some(ClientEvent::Signal(
                ServerFrame { msg: ServerMsg::RtcAnswer { sdp }, .. },
                _,
            ))) => {
                rtc.accept_answer(&sdp, &mut out).unwrap();
                break sdp;
            }
            Ok(Some(_)) => {}
            _ => panic!("Cecil got no answer to his offer"),
        }
    };
    let mut buf = vec![0u8; 2048];
    let mut connected = false;
    while !connected {
        assert!(tokio::time::Instant::now() < deadline, "Cecil's audio never connected");
        for t in out.drain(..) {
            let _ = socket.send_to(&t.contents, t.destination).await;
        }
        while let Some(event) = rtc.poll_event() {
            connected |= matches!(event, RtcEvent::Connected);
        }
        let wait = rtc.timeout().saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait.min(Duration::from_millis(20)), socket.recv_from(&mut buf))
            .await
        {
            Ok(Ok((n, from))) => {
                let received = rtc.received(from, &buf[..n], Instant::now());
                let _ = rtc.handle_datagram(Instant::now(), &received, &mut out);
            }
            _ => {
                let _ = rtc.handle_timeout(Instant::now(), &mut out);
            }
        }
    }
    OwnPeer { p, socket, rtc, answer }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_flood_from_a_peers_own_address_the_room_hears_everything() {
    let server = Server::with_media(Settings::default()).await;
    let plane = server.media.clone().unwrap();
    let target = plane.candidates()[0].addr;
    let mut a = Listener::join(&server, "u1", "Aino", Role::Learner).await;
    let mut b = Listener::join(&server, "u1", "Bertil", Role::Learner).await;
    let OwnPeer { socket, .. } = connect_own_peer(&server, "u1").await;
    for l in [&mut a, &mut b] {
        l.pump_until("audio connected", |l| l.connected).await;
    }
    let received_before = plane.counters.received.load(Ordering::Relaxed);

    // From the address the server learned for Cecil's peer (so routed to the room, not
    // dropped as unknown): RTP-looking datagrams as fast as the socket takes them, far
    // over any participant's rate. They fail authentication in the room; if the room
    // falls behind, the demux cuts this address (`media::demux`, unit-tested there).
    const FLOOD: usize = 10_000;
    let flood = tokio::spawn(async move {
        let mut rtp = vec![0x80u8, 111, 0, 1, 0, 0, 0, 1, 0xca, 0xfe, 0xf0, 0x0d];
        rtp.extend([0u8; 100]);
        for i in 0..FLOOD {
            rtp[2..4].copy_from_slice(&(i as u16).to_be_bytes());
            let _ = socket.send_to(&rtp, target).await;
            if i % 200 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });

    // Aino speaks meanwhile; Bertil, in the flooded room, gets every packet once, in order.
    speak_through(&a, &mut b, 13.0).await;
    flood.await.unwrap();

    // The flood reached the server (the kernel may drop some of it on the way).
    let received = plane.counters.received.load(Ordering::Relaxed) - received_before;
    assert!(received > (FLOOD / 10) as u64, "only {received} datagrams reached the server");
}

/// A spoofed-source STUN request naming a real peer (its username fragment travels in the
/// clear), followed by one of that peer's own sealed packets from the same address, never
/// makes the server send audio there: the address was never proved, so nothing from it is
/// routed, and authenticated media does not move a peer's path anyway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_address_is_never_learned_nor_sent_audio() {
    let server = Server::with_media(Settings::default()).await;
    let target = server.media.clone().unwrap().candidates()[0].addr;
    let mut a = Listener::join(&server, "u3", "Aino", Role::Learner).await;
    let OwnPeer { socket, mut rtc, answer, p: _cecil } = connect_own_peer(&server, "u3").await;
    a.pump_until("audio connected", |l| l.connected).await;
    // Cecil speaks a little from his own socket: the server's fast path owns his stream.
    let voice = opus_packets(8, 5.0);
    let mut out = Vec::new();
    for (k, pkt) in voice[..5].iter().enumerate() {
        rtc.send_audio(Instant::now(), 960 * k as u64, 20, pkt, &mut out).unwrap();
        for t in out.drain(..) {
            socket.send_to(&t.contents, t.destination).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The attacker: Cecil's username fragment without his password, then his next sealed
    // packet, both from an address of the attacker's.
    let ufrag = answer.lines().find_map(|l| l.trim().strip_prefix("a=ice-ufrag:")).unwrap();
    let attacker = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    attacker.send_to(&stun(&format!("{ufrag}:evil")), target).await.unwrap();
    rtc.send_audio(Instant::now(), 960 * 5, 20, &voice[5], &mut out).unwrap();
    for t in out.drain(..) {
        attacker.send_to(&t.contents, target).await.unwrap();
    }
    // Aino speaks: Cecil is her listener, and nothing of hers reaches the attacker.
    speak(&a.p, &opus_packets(50, 1.0)).await;
    let mut buf = [0u8; 2048];
    let mut srtp = 0;
    while let Ok(Ok((n, _))) =
        tokio::time::timeout(Duration::from_millis(300), attacker.recv_from(&mut buf)).await
    {
        srtp += usize::from(n > 0 && (128..=191).contains(&buf[0]));
    }
    assert_eq!(srtp, 0, "audio was sent to the spoofed address");
    // Cecil's own socket did get Aino's audio.
    let mut heard = 0;
    while let Ok(Ok((n, _))) =
        tokio::time::timeout(Duration::from_millis(100), socket.recv_from(&mut buf)).await
    {
        heard += usize::from(n > 0 && (128..=191).contains(&buf[0]));
    }
    assert!(heard >= 40, "Cecil heard {heard} packets");
}
