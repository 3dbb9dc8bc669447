//! Chat: it never takes the floor, is kept for late joiners, is limited in size and rate,
//! and only facilitators delete.

use talkstick_signaling::chat::{KEPT, MAX_CHAT_CHARS};
use talkstick_signaling::protocol::{ClientMsg, ErrorCode, HandKind, Role, ServerMsg};
use talkstick_signaling::{Audience, ChatId, RoomError};

use crate::common::*;

fn chat(text: &str) -> ClientMsg {
    ClientMsg::Chat { text: text.into() }
}

#[test]
fn a_message_reaches_everyone_and_takes_no_turn() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let [a, b] = ["Aino", "Bo"].map(|n| sim.learner(n));
    sim.give_floor(f, a);
    sim.raise(b, HandKind::NewPoint);
    let before = state(&sim.room, sim.now);
    let outs = sim.ok(b, chat("  see <b>page 4</b>\n  "));
    let sent = sends(&outs);
    assert_eq!(sent.len(), 1, "one message, nothing else: {outs:#?}");
    let (to, ServerMsg::Chat { message }) = sent[0] else { panic!("{sent:?}") };
    assert_eq!(to, Audience::All);
    assert_eq!(message.from, b);
    assert_eq!(message.name, "Bo");
    assert_eq!(message.colour, sim.room.participant(b).unwrap().colour);
    // Trimmed, markup kept as text for the client to show as text.
    assert_eq!(message.text, "see <b>page 4</b>");
    let after = state(&sim.room, sim.now);
    assert_eq!(after.floor, before.floor, "the floor does not move");
    assert_eq!(after.queue_views, before.queue_views, "nor the queue");
    assert_eq!(after.gates, before.gates, "nor anyone's audio");
    assert_eq!(after.chat.len(), 1);
}

#[test]
fn empty_and_too_long_messages_are_refused_and_change_nothing() {
    let mut sim = Sim::new();
    let a = sim.learner("A");
    assert_eq!(sim.refused(a, chat("   \u{7} ")), RoomError::EmptyMessage);
    let long = "x".repeat(MAX_CHAT_CHARS + 1);
    let err = sim.refused(a, chat(&long));
    assert_eq!(err, RoomError::MessageTooLong(MAX_CHAT_CHARS + 1));
    assert_eq!(err.code(), ErrorCode::MessageTooLong);
    assert!(err.to_string().contains("1000"), "{err}");
    sim.ok(a, chat(&"x".repeat(MAX_CHAT_CHARS)));
}

#[test]
fn a_flood_is_rate_limited_like_reactions() {
    let mut sim = Sim::new();
    let a = sim.learner("A");
    for i in 0..5 {
        sim.ok(a, chat(&format!("m{i}")));
    }
    let err = sim.refused(a, chat("one too many"));
    assert!(matches!(err, RoomError::TooManyMessages(_)), "{err:?}");
    assert_eq!(err.code(), ErrorCode::RateLimited);
    assert!(err.retry_after_ms().is_some_and(|ms| ms > 0 && ms <= 1_000));
    sim.run_to_ms(1_000);
    sim.ok(a, chat("later"));
    assert_eq!(sim.room.chat().len(), 6);
}

#[test]
fn facilitators_delete_messages_for_everyone_and_late_joiners_never_see_them() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    sim.ok(a, chat("first"));
    sim.ok(a, chat("regrettable"));
    let id = sim.room.chat()[1].id;
    assert!(matches!(
        sim.refused(a, ClientMsg::DeleteChat { message: id }),
        RoomError::Forbidden(_)
    ));
    let outs = sim.ok(f, ClientMsg::DeleteChat { message: id });
    assert_eq!(sends(&outs), vec![(Audience::All, &ServerMsg::ChatDeleted { message: id, by: f })]);
    assert_eq!(
        sim.refused(f, ClientMsg::DeleteChat { message: id }),
        RoomError::UnknownMessage(id)
    );
    assert_eq!(
        sim.refused(f, ClientMsg::DeleteChat { message: ChatId(99) }),
        RoomError::UnknownMessage(ChatId(99))
    );
    let (_, outs) = sim.try_join("Late", Role::Learner);
    let Some(ServerMsg::Welcome { room, .. }) = sends(&outs).first().map(|(_, m)| (*m).clone())
    else {
        panic!("{outs:#?}")
    };
    let texts: Vec<&str> = room.chat.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["first"]);
}

#[test]
fn late_joiners_get_the_latest_messages_with_authors_who_left() {
    let mut sim = Sim::new();
    let a = sim.learner("Aino");
    let colour = sim.room.participant(a).unwrap().colour;
    for i in 0..(KEPT + 3) {
        sim.at_ms(i as u64 * 1_000);
        sim.ok(a, chat(&format!("m{i}")));
    }
    sim.ok(a, ClientMsg::Leave);
    let (_, outs) = sim.try_join("Late", Role::Learner);
    let Some(ServerMsg::Welcome { room, .. }) = sends(&outs).first().map(|(_, m)| (*m).clone())
    else {
        panic!("{outs:#?}")
    };
    assert_eq!(room.chat.len(), KEPT);
    assert_eq!(room.chat[0].text, "m3");
    assert_eq!(room.chat[KEPT - 1].text, format!("m{}", KEPT + 2));
    assert!(room.chat.iter().all(|m| m.name == "Aino" && m.colour == colour));
}
