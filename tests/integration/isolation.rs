//! Failures stay small: a panic in one participant's media code ends that participant's
//! audio connection and nothing else; a panic in a room's code ends that room, with a
//! clear word to its members, its audio routes released, and every other room untouched.

use std::time::Duration;

use talkstick_signaling::protocol::{ClientMsg, ErrorCode, HandKind, Role, ServerMsg, Settings};

use crate::common::{Client, Server};
use crate::media::{Listener, opus_packets, speak};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_panic_ends_only_that_participants_audio() {
    // Only offers carrying the marker below are affected, so tests running alongside
    // are not.
    talkstick::testkit::arm_fault_injection();
    let server = Server::with_media(Settings::default()).await;
    let mut room_a = Vec::new();
    for name in ["Aino", "Bertil", "Cecil"] {
        room_a.push(Listener::join(&server, "p-a", name, Role::Learner).await);
    }
    let mut b1 = Listener::join(&server, "p-b", "Chen", Role::Learner).await;
    let mut b2 = Listener::join(&server, "p-b", "Dalia", Role::Learner).await;
    for l in room_a.iter_mut().chain([&mut b1, &mut b2]) {
        l.pump_until("audio connected", |l| l.connected).await;
    }
    // Aino's media code panics. (Offers are limited to one a second per participant.)
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    room_a[0].p.send(ClientMsg::RtcOffer { sdp: "v=0 talkstick-inject-panic".into() }).await;
    room_a[0]
        .pump_until("an error", |l| {
            l.saw(|m| matches!(m, ServerMsg::Error { code: ErrorCode::BadOffer, .. })).is_some()
        })
        .await;
    // Aino's audio connection is gone, and everyone is told.
    let aino = room_a[0].p.id;
    room_a[1]
        .pump_until("Aino's audio gone", |l| {
            l.saw(|m| {
                matches!(m, ServerMsg::ParticipantUpdated { participant }
                    if participant.id == aino && !participant.audio)
            })
            .is_some()
        })
        .await;
    // The rest of room A still talks: Bertil speaks, Cecil hears every packet.
    let packets = opus_packets(30, 1.0);
    speak(&room_a[1].p, &packets).await;
    room_a[2].pump_until("Bertil's audio", |l| l.audio.len() >= packets.len()).await;
    // Signaling goes on too.
    room_a[1].p.send(ClientMsg::RaiseHand { kind: HandKind::NewPoint, note: None }).await;
    room_a[2]
        .pump_until("queue", |l| {
            l.saw(|m| matches!(m, ServerMsg::Queue { hands } if hands.len() == 1)).is_some()
        })
        .await;
    // Room B: untouched.
    let packets = opus_packets(30, 2.0);
    speak(&b1.p, &packets).await;
    b2.pump_until("room B audio", |l| l.audio.len() >= packets.len()).await;
    assert!(b2.audio.iter().zip(&packets).all(|(x, y)| &x.data == y));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_panic_ends_that_room_with_a_clear_error_and_frees_its_routes() {
    talkstick::testkit::arm_fault_injection();
    let server = Server::with_media(Settings::default()).await;
    let plane = server.media.clone().unwrap();
    let mut a1 = Listener::join(&server, "r-a", "Aino", Role::Learner).await;
    let mut a2 = Client::join(&server, "r-a", "Bertil", Role::Learner).await;
    let mut b1 = Listener::join(&server, "r-b", "Chen", Role::Learner).await;
    let mut b2 = Listener::join(&server, "r-b", "Dalia", Role::Learner).await;
    for l in [&mut a1, &mut b1, &mut b2] {
        l.pump_until("audio connected", |l| l.connected).await;
    }
    assert_eq!(plane.demux.peers(), 3);
    // Room A's code panics.
    let note = Some("talkstick-inject-room-panic".to_owned());
    a1.p.send(ClientMsg::RaiseHand { kind: HandKind::NewPoint, note }).await;
    // Its members are told in plain words, and their connections closed with 1011.
    let error = a2.next_of("error").await;
    assert_eq!(error["code"], "internal");
    assert!(error["message"].as_str().unwrap().contains("join again"), "{error}");
    assert!(a2.try_next(Duration::from_secs(5)).await.is_none(), "closed");
    a1.pump_until("the error", |l| {
        l.saw(|m| matches!(m, ServerMsg::Error { code: ErrorCode::Internal, .. })).is_some()
    })
    .await;
    // Its audio routes are gone; room B's remain, and room B talks on.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while plane.demux.peers() != 2 {
        assert!(tokio::time::Instant::now() < deadline, "{} routes left", plane.demux.peers());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let packets = opus_packets(30, 2.0);
    speak(&b1.p, &packets).await;
    b2.pump_until("room B audio", |l| l.audio.len() >= packets.len()).await;
    // Joining room A again starts a new room.
    let mut again = Client::join(&server, "r-a", "Bertil", Role::Learner).await;
    assert_eq!(again.view.participants.len(), 1, "a fresh room");
    again.ping().await;
}
