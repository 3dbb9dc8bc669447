//! Bad input on the media port: garbage, STUN with unknown usernames, RTP from unknown
//! sources, floods. Dropped cheaply and counted; audio in the room keeps flowing intact.

use std::sync::atomic::Ordering;
use std::time::Duration;

use talkstick_signaling::protocol::{Role, Settings};
use tokio::net::UdpSocket;

use crate::common::Server;
use crate::media::{Listener, opus_packets, speak};

use talkstick::media::demux::binding_request as stun;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_floods_are_dropped_and_audio_flows_intact() {
    let server = Server::with_media(Settings::default()).await;
    let plane = server.media.clone().unwrap();
    let target = plane.candidates()[0];
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
    let packets = opus_packets(60, 11.0);
    speak(&a.p, &packets).await;
    flood.await.unwrap();
    b.pump_until("every packet", |l| l.audio.len() >= packets.len()).await;
    b.pump_for(Duration::from_millis(100)).await;
    assert_eq!(b.audio.len(), packets.len());
    assert!(b.audio.iter().zip(&packets).all(|(x, y)| &x.data == y));

    // Every junk datagram that reached the socket was dropped at the demux and counted.
    let dropped = plane.counters.dropped_unknown.load(Ordering::Relaxed);
    let received = plane.counters.received.load(Ordering::Relaxed) - received_before;
    assert!(received > packets.len() as u64);
    assert!(dropped >= received - packets.len() as u64 - 200, "dropped {dropped} of {received}");
    assert!(dropped > 0);
    // The server is alive and still serving signaling.
    a.p.send(serde_json::json!({"type": "ping"})).await;
    a.pump_until("pong", |l| l.saw(|v| v["type"] == "pong").is_some()).await;
}
