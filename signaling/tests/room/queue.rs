//! The hand queue: kinds, order policies, private notes, lowering, and the facilitator's
//! move / remove / clear.

use talkstick_signaling::protocol::{
    ClientMsg, HandKind, MAX_NOTE_CHARS, QueuePolicy, Role, ServerMsg, SettingsPatch,
};
use talkstick_signaling::{Audience, Input, RoomError};

use crate::common::*;

/// A room without auto-offer, so hands stay in the queue.
fn manual() -> Sim {
    Sim::with_settings(|s| s.auto_offer = false)
}

#[test]
fn fifo_puts_replies_before_new_points_then_by_time_raised() {
    let mut sim = manual();
    let f = sim.facilitator("F");
    let [a, b, c, d] = ["A", "B", "C", "D"].map(|n| sim.learner(n));
    sim.at_ms(1_000);
    sim.raise(a, HandKind::NewPoint);
    sim.at_ms(2_000);
    sim.raise(b, HandKind::NewPoint);
    sim.at_ms(3_000);
    sim.raise(c, HandKind::Reply);
    sim.at_ms(4_000);
    let outs = sim.raise(d, HandKind::Reply);

    let learners = last_queue(&outs, Audience::Learners).unwrap();
    let facilitators = last_queue(&outs, Audience::Facilitators).unwrap();
    assert_eq!(order(&learners), [c, d, a, b]);
    assert_eq!(order(&facilitators), [c, d, a, b]);
    let positions: Vec<u32> = learners.iter().map(|h| h.position).collect();
    assert_eq!(positions, [1, 2, 3, 4]);
    assert_eq!(learners[0].kind, HandKind::Reply);
    assert_eq!(learners[2].kind, HandKind::NewPoint);
    assert_eq!(learners[2].raised_ms, 1_000);
    assert_eq!(sim.room.queue_order(), [c, d, a, b]);
    // Raising twice is refused.
    assert_eq!(
        sim.refused(a, ClientMsg::RaiseHand { kind: HandKind::Reply, note: None }),
        RoomError::HandAlreadyRaised
    );
    // Nobody was offered anything: auto-offer is off.
    assert!(sim.floor().offered_to.is_none());
    let _ = f;
}

#[test]
fn balanced_puts_least_talk_time_first() {
    let mut sim = Sim::with_settings(|s| {
        s.auto_offer = false;
        s.policy = QueuePolicy::Balanced;
    });
    let f = sim.facilitator("F");
    let [a, b, c] = ["A", "B", "C"].map(|n| sim.learner(n));
    // A talks 60 s, B talks 10 s, C never.
    sim.give_floor(f, a);
    sim.at_ms(60_000);
    sim.ok(a, ClientMsg::Yield);
    sim.give_floor(f, b);
    sim.at_ms(70_000);
    sim.ok(b, ClientMsg::Yield);

    sim.at_ms(71_000);
    sim.raise(a, HandKind::Reply);
    sim.at_ms(72_000);
    sim.raise(b, HandKind::NewPoint);
    sim.at_ms(73_000);
    let outs = sim.raise(c, HandKind::NewPoint);
    assert_eq!(order(&last_queue(&outs, Audience::Learners).unwrap()), [c, b, a]);

    // Switching to fifo re-sorts everyone: the reply first, then by time.
    let outs =
        sim.patch(f, SettingsPatch { policy: Some(QueuePolicy::Fifo), ..Default::default() });
    assert_eq!(order(&last_queue(&outs, Audience::Learners).unwrap()), [a, b, c]);
    assert!(any_msg(
        &outs,
        |m| matches!(m, ServerMsg::Settings { settings } if settings.policy == QueuePolicy::Fifo)
    ));
}

#[test]
fn balanced_breaks_ties_by_time_raised() {
    let mut sim = Sim::with_settings(|s| {
        s.auto_offer = false;
        s.policy = QueuePolicy::Balanced;
    });
    let [a, b, c] = ["A", "B", "C"].map(|n| sim.learner(n));
    sim.at_ms(1);
    sim.raise(b, HandKind::NewPoint);
    sim.at_ms(2);
    sim.raise(a, HandKind::NewPoint);
    sim.at_ms(3);
    sim.raise(c, HandKind::Reply);
    assert_eq!(sim.room.queue_order(), [b, a, c]);
}

#[test]
fn notes_are_seen_only_by_their_owner_and_facilitators() {
    let mut sim = manual();
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    let b = sim.learner("B");
    let outs = sim.ok(
        a,
        ClientMsg::RaiseHand {
            kind: HandKind::NewPoint,
            note: Some("  the budget slide is wrong  ".into()),
        },
    );
    let note = Some("the budget slide is wrong".to_owned());
    let to_f = last_queue(&outs, Audience::Facilitators).unwrap();
    let to_l = last_queue(&outs, Audience::Learners).unwrap();
    assert_eq!(to_f[0].note, note, "facilitators see notes, trimmed");
    assert_eq!(to_l[0].note, None, "learners' queue has no notes");
    assert!(inbox(&outs, b, Role::Learner).iter().all(|m| match m {
        ServerMsg::Queue { hands } => hands.iter().all(|h| h.note.is_none()),
        _ => true,
    }));

    // Snapshots: the owner and facilitators see it, other learners do not.
    assert_eq!(sim.room.snapshot(a, sim.now).queue[0].note, note);
    assert_eq!(sim.room.snapshot(f, sim.now).queue[0].note, note);
    assert_eq!(sim.room.snapshot(b, sim.now).queue[0].note, None);
    let (res, outs) = sim.try_join("Late", Role::Learner);
    let late = res.unwrap().participant;
    let Some(ServerMsg::Welcome { room, .. }) =
        msg_to(&outs, late, |m| matches!(m, ServerMsg::Welcome { .. }))
    else {
        panic!()
    };
    assert_eq!(room.queue[0].note, None);
    let (res, outs) = sim.try_join("Second facilitator", Role::Facilitator);
    let f2 = res.unwrap().participant;
    let Some(ServerMsg::Welcome { room, .. }) =
        msg_to(&outs, f2, |m| matches!(m, ServerMsg::Welcome { .. }))
    else {
        panic!()
    };
    assert_eq!(room.queue[0].note, note);
    // The owner gets it back in the snapshot after a reconnect.
    sim.input(Input::Disconnected { participant: a }).0.unwrap();
    let (_, outs) = sim.resume(a);
    let Some(ServerMsg::Welcome { room, .. }) =
        msg_to(&outs, a, |m| matches!(m, ServerMsg::Welcome { .. }))
    else {
        panic!()
    };
    assert_eq!(room.queue[0].note, note);
}

#[test]
fn notes_are_limited_in_characters_and_blank_notes_are_dropped() {
    let mut sim = manual();
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    let too_long = "x".repeat(MAX_NOTE_CHARS + 1);
    assert_eq!(
        sim.refused(a, ClientMsg::RaiseHand { kind: HandKind::Reply, note: Some(too_long) }),
        RoomError::NoteTooLong(MAX_NOTE_CHARS + 1)
    );
    // The limit counts characters, not bytes.
    let long_ok = "ä".repeat(MAX_NOTE_CHARS);
    sim.ok(a, ClientMsg::RaiseHand { kind: HandKind::Reply, note: Some(long_ok.clone()) });
    assert_eq!(sim.room.queue_view(Some(f))[0].note, Some(long_ok));
    sim.ok(a, ClientMsg::LowerHand);
    sim.ok(a, ClientMsg::RaiseHand { kind: HandKind::Reply, note: Some("   ".into()) });
    assert_eq!(sim.room.queue_view(Some(f))[0].note, None);
}

#[test]
fn lowering_a_hand_removes_it_and_only_your_own() {
    let mut sim = manual();
    let a = sim.learner("A");
    let b = sim.learner("B");
    sim.raise(a, HandKind::NewPoint);
    sim.raise(b, HandKind::NewPoint);
    let outs = sim.ok(a, ClientMsg::LowerHand);
    let hands = last_queue(&outs, Audience::Learners).unwrap();
    assert_eq!(order(&hands), [b]);
    assert_eq!(hands[0].position, 1);
    assert_eq!(sim.refused(a, ClientMsg::LowerHand), RoomError::NoHand(a));
}

#[test]
fn the_holder_cannot_raise_a_hand() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    sim.give_floor(f, a);
    assert_eq!(
        sim.refused(a, ClientMsg::RaiseHand { kind: HandKind::Reply, note: None }),
        RoomError::AlreadyHoldingFloor
    );
}

#[test]
fn facilitators_move_remove_and_clear_hands() {
    let mut sim = manual();
    let f = sim.facilitator("F");
    let [a, b, c] = ["A", "B", "C"].map(|n| sim.learner(n));
    let outsider = sim.learner("D");
    for (i, p) in [a, b, c].into_iter().enumerate() {
        sim.at_ms(i as u64 + 1);
        sim.raise(p, HandKind::NewPoint);
    }

    let outs = sim.ok(f, ClientMsg::MoveHand { participant: c, position: 1 });
    let hands = last_queue(&outs, Audience::Learners).unwrap();
    assert_eq!(order(&hands), [c, a, b]);
    assert_eq!(hands.iter().map(|h| h.position).collect::<Vec<_>>(), [1, 2, 3]);
    sim.ok(f, ClientMsg::MoveHand { participant: c, position: 3 });
    assert_eq!(sim.room.queue_order(), [a, b, c]);

    for position in [0, 4] {
        assert_eq!(
            sim.refused(f, ClientMsg::MoveHand { participant: a, position }),
            RoomError::InvalidPosition(position, 3)
        );
    }
    assert_eq!(
        sim.refused(f, ClientMsg::MoveHand { participant: outsider, position: 1 }),
        RoomError::NoHand(outsider)
    );

    // A later hand under fifo goes after the moved ones.
    sim.at_ms(10);
    sim.raise(outsider, HandKind::NewPoint);
    assert_eq!(sim.room.queue_order(), [a, b, c, outsider]);

    let outs = sim.ok(f, ClientMsg::RemoveHand { participant: b });
    assert_eq!(order(&last_queue(&outs, Audience::Learners).unwrap()), [a, c, outsider]);
    assert_eq!(sim.refused(f, ClientMsg::RemoveHand { participant: b }), RoomError::NoHand(b));

    let outs = sim.ok(f, ClientMsg::ClearHands);
    assert_eq!(last_queue(&outs, Audience::Learners), Some(vec![]));
    assert_eq!(last_queue(&outs, Audience::Facilitators), Some(vec![]));
    assert!(sim.room.queue_order().is_empty());
}

#[test]
fn removing_or_clearing_the_offered_hand_withdraws_the_offer() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let [a, b, c] = ["A", "B", "C"].map(|n| sim.learner(n));
    sim.raise(a, HandKind::NewPoint);
    assert_offered_to(&sim.floor(), a);
    sim.raise(b, HandKind::NewPoint);
    let outs = sim.ok(f, ClientMsg::RemoveHand { participant: a });
    assert_offered_to(&sim.floor(), b);
    assert!(msg_to(&outs, b, |m| matches!(m, ServerMsg::YoureUp { .. })).is_some());
    assert_eq!(sim.refused(a, ClientMsg::AcceptFloor), RoomError::NoOffer);

    sim.raise(c, HandKind::NewPoint);
    let outs = sim.ok(f, ClientMsg::ClearHands);
    assert_eq!(last_floor(&outs).unwrap().state, talkstick_signaling::protocol::FloorState::Free);
    assert!(sim.room.queue_order().is_empty());
    assert_eq!(sim.refused(b, ClientMsg::AcceptFloor), RoomError::NoOffer);
}

#[test]
fn lowering_the_offered_hand_offers_the_next() {
    let mut sim = Sim::new();
    let [a, b] = ["A", "B"].map(|n| sim.learner(n));
    sim.raise(a, HandKind::NewPoint);
    sim.raise(b, HandKind::NewPoint);
    assert_offered_to(&sim.floor(), a);
    let outs = sim.ok(a, ClientMsg::LowerHand);
    assert_offered_to(&last_floor(&outs).unwrap(), b);
    assert!(msg_to(&outs, b, |m| matches!(m, ServerMsg::YoureUp { .. })).is_some());
}

/// A ping-pong of replies between two people, with a new point waiting: C's new point
/// is offered after at most `max_replies` reply turns in a row.
fn ping_pong(max_replies: u32) -> (usize, bool) {
    let mut sim = Sim::with_settings(|s| s.max_replies = max_replies);
    let _f = sim.facilitator("F");
    let [a, b, c] = ["A", "B", "C"].map(|n| sim.learner(n));
    sim.raise(a, HandKind::NewPoint);
    sim.ok(a, ClientMsg::AcceptFloor);
    sim.raise(c, HandKind::NewPoint);
    // B answers A, A answers B, … each reply raised during the other's turn.
    let mut replies = 0;
    let mut speaker = a;
    for _ in 0..10 {
        let other = if speaker == a { b } else { a };
        sim.raise(other, HandKind::Reply);
        sim.ok(speaker, ClientMsg::Yield);
        let floor = sim.floor();
        if floor.offered_to == Some(c) {
            return (replies, true);
        }
        assert_offered_to(&floor, other);
        sim.ok(other, ClientMsg::AcceptFloor);
        replies += 1;
        speaker = other;
    }
    (replies, false)
}

#[test]
fn replies_cannot_keep_a_new_point_waiting_for_more_than_max_replies_turns() {
    assert_eq!(ping_pong(2), (2, true), "two replies, then C's new point");
    assert_eq!(ping_pong(0), (0, true), "no reply goes ahead");
    assert_eq!(ping_pong(5), (5, true));
}

#[test]
fn a_reply_to_a_turn_that_is_over_waits_in_the_order_of_raising() {
    let mut sim = Sim::new();
    let _f = sim.facilitator("F");
    let [a, b, c, d] = ["A", "B", "C", "D"].map(|n| sim.learner(n));
    sim.raise(a, HandKind::NewPoint);
    sim.ok(a, ClientMsg::AcceptFloor);
    sim.at_ms(1_000);
    sim.raise(d, HandKind::NewPoint);
    sim.at_ms(2_000);
    sim.raise(b, HandKind::Reply);
    sim.at_ms(3_000);
    let outs = sim.raise(c, HandKind::Reply);
    // Both replies answer A's turn: ahead of D's new point.
    assert_eq!(order(&last_queue(&outs, Audience::Learners).unwrap()), [b, c, d]);
    sim.ok(a, ClientMsg::Yield);
    let outs = sim.ok(b, ClientMsg::AcceptFloor);
    // B's turn began: C's reply to A is over, and waits behind D, who raised earlier.
    assert_eq!(order(&last_queue(&outs, Audience::Learners).unwrap()), [d, c]);
    assert_eq!(sim.room.queue_order(), [d, c]);
}

#[test]
fn away_keeps_the_hand_and_its_place_but_the_offer_goes_to_the_next_until_they_are_back() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let [a, b, c] = ["A", "B", "C"].map(|n| sim.learner(n));
    sim.give_floor(f, f);
    sim.raise(a, HandKind::NewPoint);
    sim.raise(b, HandKind::NewPoint);
    sim.raise(c, HandKind::NewPoint);
    sim.ok(a, ClientMsg::SetAway { away: true });
    sim.ok(f, ClientMsg::Yield);
    assert_offered_to(&sim.floor(), b);
    assert_eq!(sim.room.queue_order(), [a, b, c], "A's hand and place are kept");
    sim.ok(b, ClientMsg::AcceptFloor);
    // Going away while offered passes the offer on, hand kept.
    sim.ok(b, ClientMsg::Yield);
    sim.ok(c, ClientMsg::SetAway { away: true });
    assert!(sim.floor().offered_to.is_none(), "nobody here to offer to");
    assert_eq!(sim.room.queue_order(), [a, c]);
    // Back: offered the floor in their place.
    let outs = sim.ok(a, ClientMsg::SetAway { away: false });
    assert_offered_to(&sim.floor(), a);
    assert!(msg_to(&outs, a, |m| matches!(m, ServerMsg::YoureUp { .. })).is_some());
    // `next` skips an away hand too, and has nobody to offer when all are away.
    sim.ok(a, ClientMsg::SetAway { away: true });
    assert!(sim.floor().offered_to.is_none());
    assert_eq!(sim.refused(f, ClientMsg::Next), RoomError::QueueEmpty);
}
