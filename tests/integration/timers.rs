//! Deadlines driven by the room task's timer: offer expiry and time limits.

use serde_json::json;
use talkstick_signaling::protocol::{LimitAction, Role, Settings};

use crate::common::{Client, Server};

#[tokio::test]
async fn an_unanswered_offer_expires_and_passes_on() {
    let settings = Settings { offer_timeout_ms: 400, ..Settings::default() };
    let server = Server::with_settings(settings).await;
    let mut f = Client::join(&server, "t1", "Fiona", Role::Facilitator).await;
    let mut a = Client::join(&server, "t1", "Aino", Role::Learner).await;
    let mut b = Client::join(&server, "t1", "Bertil", Role::Learner).await;
    // The floor is free, so Aino's hand is offered the floor at once.
    a.send(json!({"type": "raise_hand", "kind": "new_point"})).await;
    a.next_of("youre_up").await;
    b.send(json!({"type": "raise_hand", "kind": "new_point"})).await;
    b.until("B queued second", |v| v.queue.len() == 2).await;
    // Aino does not answer: her hand drops and Bertil is up.
    a.next_of("offer_expired").await;
    b.next_of("youre_up").await;
    let (aid, bid) = (a.id, b.id);
    f.until("offer moved to B", |v| v.offered_to() == Some(bid) && v.queue == [bid]).await;
    a.until("A's hand gone", |v| !v.queue.contains(&aid)).await;
}

#[tokio::test]
async fn a_hard_time_limit_warns_then_revokes() {
    let settings = Settings {
        time_limit_ms: Some(900),
        warning_ms: 400,
        limit_action: LimitAction::Hard,
        ..Settings::default()
    };
    let server = Server::with_settings(settings).await;
    let mut f = Client::join(&server, "t2", "Fiona", Role::Facilitator).await;
    let mut a = Client::join(&server, "t2", "Aino", Role::Learner).await;
    f.send(json!({"type": "grant", "participant": a.id})).await;
    a.next_of("youre_up").await;
    a.send(json!({"type": "accept_floor"})).await;
    let held = a.next_of("floor").await;
    assert_eq!(held["floor"]["state"], "held");
    let ends = held["floor"]["ends_ms"].as_u64().unwrap();
    let since = held["floor"]["since_ms"].as_u64().unwrap();
    assert_eq!(ends - since, 900, "countdown end is in the floor view");
    let warn = f.next_of("time_warning").await;
    assert!(warn["remaining_ms"].as_u64().unwrap() <= 400);
    let ended = f.next_of("turn_ended").await;
    assert_eq!(ended["turn"]["ended"], "time_limit");
    a.until("floor free", |v| v.floor_state() == "free").await;
}

#[tokio::test]
async fn a_soft_time_limit_tells_everyone_and_keeps_the_holder() {
    let settings = Settings { time_limit_ms: Some(500), warning_ms: 0, ..Settings::default() };
    let server = Server::with_settings(settings).await;
    let mut f = Client::join(&server, "t3", "Fiona", Role::Facilitator).await;
    let mut a = Client::join(&server, "t3", "Aino", Role::Learner).await;
    f.send(json!({"type": "grant", "participant": a.id})).await;
    a.next_of("youre_up").await;
    a.send(json!({"type": "accept_floor"})).await;
    f.next_of("time_up").await;
    let aid = a.id;
    f.until("A still holds", |v| v.holder() == Some(aid)).await;
}
