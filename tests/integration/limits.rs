//! One member cannot take a room down: a learner flooding signaling in a live call with
//! audio is refused, then closed, and comes back to flood again, for ten seconds; the
//! others hear the speaker without loss, keep their connections, and no datagram of
//! theirs is dropped because the room was busy.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use talkstick_signaling::protocol::{Role, ServerMsg, Settings};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{Client, Server};
use crate::media::{Listener, opus_packets, speak};

/// Floods `set_away` on one connection until the server closes it; returns what it saw:
/// whether a `rate_limited` error came, and the close code.
async fn flood_until_closed(c: &mut Client) -> (bool, Option<u16>) {
    let (mut limited, mut code) = (false, None);
    let mut k = 0u32;
    loop {
        let away = json!({"type": "set_away", "away": k.is_multiple_of(2)}).to_string();
        k += 1;
        if c.ws.send(Message::text(away)).await.is_err() {
            break;
        }
        // Read whatever has come, without waiting.
        while let Ok(Some(frame)) = tokio::time::timeout(Duration::ZERO, c.ws.next()).await {
            match frame {
                Ok(Message::Text(t)) => limited |= t.as_str().contains("\"rate_limited\""),
                Ok(Message::Close(f)) => {
                    code = f.map(|f| u16::from(f.code));
                }
                Ok(_) => {}
                Err(_) => return (limited, code),
            }
        }
        if code.is_some() || k > 100_000 {
            break;
        }
    }
    // Whatever is left, up to the close.
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(Duration::from_secs(2), c.ws.next()).await
    {
        match frame {
            Message::Text(t) => limited |= t.as_str().contains("\"rate_limited\""),
            Message::Close(f) => code = code.or(f.map(|f| u16::from(f.code))),
            _ => {}
        }
    }
    (limited, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_flooding_signaling_for_ten_seconds_cannot_disturb_the_call() {
    let server = Server::with_media(Settings::default()).await;
    let plane = server.media.clone().unwrap();
    let mut people = vec![Listener::join(&server, "flood", "Fiona", Role::Facilitator).await];
    for name in ["Aino", "Bertil", "Chen", "Dalia"] {
        people.push(Listener::join(&server, "flood", name, Role::Learner).await);
    }
    for l in people.iter_mut() {
        l.pump_until("audio connected", |l| l.connected).await;
    }
    let busy_before = plane.counters.dropped_busy.load(Ordering::Relaxed);
    let token = server.token("flood", "Eero", Role::Learner);
    let mut eero = Client::join_with(server.addr, &token, "Eero", None).await;

    // Aino speaks for ten seconds while Eero floods, is closed, comes back, floods again.
    let packets = opus_packets(500, 3.0);
    let speaker = people[1].p.id;
    let addr = server.addr;
    let flood = tokio::spawn(async move {
        let until = Instant::now() + Duration::from_secs(10);
        let (mut closes, mut warned) = (Vec::new(), 0);
        while Instant::now() < until {
            let (limited, code) = flood_until_closed(&mut eero).await;
            warned += usize::from(limited);
            closes.push(code);
            let resume = eero.resume.clone();
            eero = Client::join_with(addr, &token, "Eero", Some(&resume)).await;
        }
        (warned, closes)
    });
    speak(&people[1].p, &packets).await;
    let (warned, closes) = flood.await.unwrap();

    eprintln!("flooder: closed {} times in 10 s, warned each time: {}", closes.len(), warned);
    // The flooder was told and then closed, each time, with 1008.
    assert!(!closes.is_empty() && warned == closes.len(), "{warned} warnings, {closes:?}");
    assert!(closes.iter().all(|c| *c == Some(1008)), "{closes:?}");
    // Everyone else heard Aino (under 1 % lost), and nobody else lost their connection.
    for l in people.iter_mut().filter(|l| l.p.id != speaker) {
        l.pump_for(Duration::from_millis(300)).await;
        let lost = packets.len().saturating_sub(l.audio.len());
        eprintln!("{} heard {} of {} packets", l.p.id, l.audio.len(), packets.len());
        assert!(lost * 100 < packets.len(), "{} lost {lost} of {}", l.p.id, packets.len());
    }
    for l in &people {
        let dropped = l.signals.iter().any(|(_, m)| {
            matches!(m, ServerMsg::ParticipantUpdated { participant }
                if !participant.connected && participant.name != "Eero")
        });
        assert!(!dropped, "{}: someone other than the flooder lost their connection", l.p.id);
        assert!(
            !l.signals.iter().any(|(_, m)| matches!(m, ServerMsg::Goodbye { .. })),
            "{} was sent away",
            l.p.id
        );
    }
    // No datagram was dropped because the room was busy.
    assert_eq!(plane.counters.dropped_busy.load(Ordering::Relaxed), busy_before);
}
