//! A whole session with six real WebSocket clients: every step, all clients agree on
//! the queue and the floor.

use futures_util::StreamExt;
use serde_json::json;
use talkstick_signaling::protocol::Role;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{Client, Server, WAIT, all_see};

const F: usize = 0; // facilitator
const L1: usize = 1;
const L2: usize = 2;
const L3: usize = 3;
const L4: usize = 4;
const L5: usize = 5;

async fn six(server: &Server) -> Vec<Client> {
    let mut clients = vec![Client::join(server, "s1", "Fiona Facil", Role::Facilitator).await];
    for name in ["Aino", "Bertil", "Chen Li", "Dalia", "Emil"] {
        clients.push(Client::join(server, "s1", name, Role::Learner).await);
    }
    clients
}

#[tokio::test]
async fn six_clients_run_a_whole_session_and_always_agree() {
    let server = Server::start().await;
    let mut c = six(&server).await;
    let ids: Vec<u64> = c.iter().map(|c| c.id).collect();

    // Everyone sees everyone, with distinct colours and initials from names.
    all_see(&mut c, "six participants", |v| v.participants.len() == 6).await;
    let colours: std::collections::BTreeSet<String> =
        c[F].view.participants.values().map(|p| p["colour"].as_str().unwrap().to_owned()).collect();
    assert_eq!(colours.len(), 6, "colours are distinct");
    assert_eq!(c[F].view.participants[&ids[L3]]["initials"], "CL");

    // The facilitator grants L3: "you're up", accept, the floor is held everywhere.
    c[F].send(json!({"type": "grant", "participant": ids[L3]})).await;
    let up = c[L3].next_of("youre_up").await;
    assert_eq!(up["expires_in_ms"], 10_000);
    all_see(&mut c, "offer to L3", |v| v.offered_to() == Some(ids[L3])).await;
    c[L3].send(json!({"type": "accept_floor"})).await;
    all_see(&mut c, "L3 holds", |v| v.holder() == Some(ids[L3])).await;

    // Both kinds of hand: L1 a new point (with a private note), then L2 a reply. Replies
    // go first; the note is seen by its owner's client and the facilitator only.
    c[L1].send(json!({"type": "raise_hand", "kind": "new_point", "note": "ask about GDPR"})).await;
    all_see(&mut c, "L1 queued", |v| v.queue.len() == 1).await;
    c[L2].send(json!({"type": "raise_hand", "kind": "reply"})).await;
    let (q1, q2) = (ids[L1], ids[L2]);
    all_see(&mut c, "reply first", |v| v.queue == [q2, q1]).await;
    assert_eq!(c[F].view.notes.get(&q1).map(String::as_str), Some("ask about GDPR"));
    for i in [L2, L3, L4, L5] {
        assert!(c[i].view.notes.is_empty(), "{} must not see the note", c[i].name);
    }

    // Reactions: broadcast at once, tallied on the turn, the floor and queue untouched.
    c[L4].send(json!({"type": "react", "reaction": "agree"})).await;
    c[L5].send(json!({"type": "react", "reaction": "disagree"})).await;
    all_see(&mut c, "tally 1/1", |v| {
        v.floor["tally"]["agree"] == 1 && v.floor["tally"]["disagree"] == 1
    })
    .await;
    for cl in c.iter() {
        assert_eq!(cl.view.holder(), Some(ids[L3]));
        assert_eq!(cl.view.queue, [q2, q1]);
    }

    // "I'm done": the turn ends and the head of the queue (L2) is offered the floor.
    c[L3].send(json!({"type": "yield"})).await;
    let ended = c[L1].next_of("turn_ended").await;
    assert_eq!(ended["turn"]["ended"], "yielded");
    assert_eq!(ended["turn"]["tally"]["agree"], 1);
    c[L2].next_of("youre_up").await;
    all_see(&mut c, "offer to L2", |v| v.offered_to() == Some(q2)).await;
    c[L2].send(json!({"type": "accept_floor"})).await;
    all_see(&mut c, "L2 holds, L1 waits", |v| v.holder() == Some(q2) && v.queue == [q1]).await;

    // Revoke: the turn ends and L1 is offered, accepts.
    c[F].send(json!({"type": "revoke"})).await;
    c[L1].next_of("youre_up").await;
    c[L1].send(json!({"type": "accept_floor"})).await;
    all_see(&mut c, "L1 holds, queue empty", |v| v.holder() == Some(q1) && v.queue.is_empty())
        .await;

    // Reorder: L4 and L5 raise new points; the facilitator moves L5 first.
    let (q4, q5) = (ids[L4], ids[L5]);
    c[L4].send(json!({"type": "raise_hand", "kind": "new_point"})).await;
    all_see(&mut c, "L4 queued", |v| v.queue == [q4]).await;
    c[L5].send(json!({"type": "raise_hand", "kind": "new_point"})).await;
    all_see(&mut c, "L4, L5", |v| v.queue == [q4, q5]).await;
    c[F].send(json!({"type": "move_hand", "participant": q5, "position": 1})).await;
    all_see(&mut c, "L5, L4", |v| v.queue == [q5, q4]).await;

    // Moderated mode: everyone sees the new settings.
    c[F].send(json!({"type": "update_settings", "settings": {"mode": "moderated"}})).await;
    all_see(&mut c, "moderated", |v| v.settings["mode"] == "moderated").await;

    // L4 leaves: gone from everyone's list and the queue.
    c[L4].send(json!({"type": "leave"})).await;
    let bye = c[L4].next_of("goodbye").await;
    assert!(bye["reason"].as_str().unwrap().contains("left"));
    let mut rest: Vec<Client> = std::mem::take(&mut c);
    let l4 = rest.remove(L4);
    drop(l4);
    all_see(&mut rest, "L4 gone", |v| !v.participants.contains_key(&q4) && v.queue == [q5]).await;

    // L5 loses its connection and comes back with the resume token: same id, colour and
    // queue place; others saw the connection drop.
    let l5 = rest.remove(L5 - 1);
    let (resume, colour) = (l5.resume.clone(), l5.view.participants[&q5]["colour"].clone());
    drop(l5); // TCP closes without a leave
    all_see(&mut rest, "L5 disconnected", |v| v.participants[&q5]["connected"] == false).await;
    let token = server.token("s1", "Emil", Role::Learner);
    let back = Client::join_with(server.addr, &token, "Emil again", Some(&resume)).await;
    assert_eq!(back.id, q5);
    assert_eq!(back.view.participants[&q5]["colour"], colour);
    assert_eq!(back.view.queue, [q5]);
    rest.push(back);
    all_see(&mut rest, "L5 back", |v| v.participants[&q5]["connected"] == true && v.queue == [q5])
        .await;

    // Next: L1's turn ends and L5 is offered the floor.
    rest[0].send(json!({"type": "next"})).await;
    let last = rest.len() - 1;
    rest[last].next_of("youre_up").await;
    all_see(&mut rest, "offer to L5", |v| v.offered_to() == Some(q5)).await;

    // The facilitator's statistics cover every turn so far.
    rest[0].send(json!({"type": "get_stats"})).await;
    let stats = rest[0].next_of("stats").await;
    let turns = stats["stats"]["turns"].as_array().unwrap();
    let ends: Vec<&str> = turns.iter().map(|t| t["ended"].as_str().unwrap()).collect();
    assert_eq!(ends, ["yielded", "revoked", "next"]);
    assert_eq!(stats["stats"]["people"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn a_new_connection_with_the_same_resume_token_replaces_the_old_one() {
    let server = Server::start().await;
    let mut a = Client::join(&server, "r1", "Aino", Role::Learner).await;
    let mut other = Client::join(&server, "r1", "Bertil", Role::Learner).await;
    let token = server.token("r1", "Aino", Role::Learner);
    let mut b = Client::join_with(server.addr, &token, "Aino 2", Some(&a.resume)).await;
    assert_eq!(b.id, a.id);
    let bye = a.next_of("goodbye").await;
    assert!(bye["reason"].as_str().unwrap().contains("another connection"));
    assert!(a.try_next(crate::common::WAIT).await.is_none(), "old connection closed");
    b.ping().await;
    other.until("Aino still connected", |v| v.participants.len() == 2).await;
    assert_eq!(other.view.participants[&b.id]["connected"], true);
}

#[tokio::test]
async fn rooms_are_separate() {
    let server = Server::start().await;
    let mut a = Client::join(&server, "room-a", "Aino", Role::Learner).await;
    let mut b = Client::join(&server, "room-b", "Bertil", Role::Learner).await;
    a.send(json!({"type": "raise_hand", "kind": "new_point"})).await;
    a.until("own hand", |v| v.queue.len() == 1).await;
    b.quiet().await;
    assert!(b.view.queue.is_empty());
    assert_eq!(b.view.participants.len(), 1);
}

/// Stopping the server says goodbye to everyone in every room, and each goodbye reaches
/// its client before the connection closes (1001).
#[tokio::test]
async fn on_shutdown_everyone_is_told_goodbye_before_the_close() {
    let mut server = Server::start().await;
    let mut people = Vec::new();
    for (room, name) in [("s1", "Aino"), ("s1", "Bertil"), ("s2", "Chen")] {
        people.push(Client::join(&server, room, name, Role::Learner).await);
    }
    server.stop();
    for c in &mut people {
        let bye = c.next_of("goodbye").await;
        assert_eq!(bye["reason"], "the server is shutting down", "{}", c.name);
        let close = tokio::time::timeout(WAIT, c.ws.next()).await.expect("a close");
        match close {
            Some(Ok(Message::Close(Some(f)))) => assert_eq!(u16::from(f.code), 1001),
            other => panic!("{}: expected the close frame, got {other:?}", c.name),
        }
    }
}
