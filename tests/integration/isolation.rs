//! A panic in one room's media code ends that room's audio, is logged, and leaves the
//! room's signaling and every other room untouched.

use std::time::Duration;

use talkstick_signaling::protocol::{ClientMsg, ErrorCode, HandKind, Role, ServerMsg, Settings};

use crate::common::Server;
use crate::media::{Listener, opus_packets, speak};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_panic_stays_inside_its_room() {
    // Only offers carrying the marker below are affected, so tests running alongside
    // are not.
    talkstick::testkit::arm_fault_injection();
    let server = Server::with_media(Settings::default()).await;
    let mut a1 = Listener::join(&server, "p-a", "Aino", Role::Learner).await;
    let mut a2 = Listener::join(&server, "p-a", "Bertil", Role::Learner).await;
    let mut b1 = Listener::join(&server, "p-b", "Chen", Role::Learner).await;
    let mut b2 = Listener::join(&server, "p-b", "Dalia", Role::Learner).await;
    for l in [&mut a1, &mut a2, &mut b1, &mut b2] {
        l.pump_until("audio connected", |l| l.connected).await;
    }
    // Room A's media code panics. (Offers are limited to one a second per participant.)
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    a1.p.send(ClientMsg::RtcOffer { sdp: "v=0 talkstick-inject-panic".into() }).await;
    a1.pump_until("an error", |l| {
        l.saw(|m| matches!(m, ServerMsg::Error { code: ErrorCode::BadOffer, .. })).is_some()
    })
    .await;
    // Room A: signaling goes on; audio is gone.
    a2.p.send(ClientMsg::RaiseHand { kind: HandKind::NewPoint, note: None }).await;
    a1.pump_until("queue", |l| {
        l.saw(|m| matches!(m, ServerMsg::Queue { hands } if hands.len() == 1)).is_some()
    })
    .await;
    speak(&a1.p, &opus_packets(10, 1.0)).await;
    a2.pump_for(Duration::from_millis(300)).await;
    assert!(a2.audio.is_empty(), "room A's audio stopped");
    // Room B: untouched.
    let packets = opus_packets(30, 2.0);
    speak(&b1.p, &packets).await;
    b2.pump_until("room B audio", |l| l.audio.len() >= packets.len()).await;
    assert!(b2.audio.iter().zip(&packets).all(|(x, y)| &x.data == y));
}
