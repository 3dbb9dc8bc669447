//! The floor: "you're up" offers, accept / decline / offer timeout, grant, yield, revoke,
//! next and free discussion.

use talkstick_signaling::protocol::{
    ClientMsg, FloorState, HandKind, LimitAction, Role, ServerMsg, TurnEnd,
};
use talkstick_signaling::{Audience, ParticipantId, RoomError, TurnId};

use crate::common::*;

/// The `turn_ended` records in `outs`.
fn ended(
    outs: &[talkstick_signaling::Output],
) -> Vec<(talkstick_signaling::ParticipantId, TurnEnd)> {
    sends(outs)
        .into_iter()
        .filter_map(|(to, m)| match m {
            ServerMsg::TurnEnded { turn } => {
                assert_eq!(to, Audience::All);
                Some((turn.holder, turn.ended.expect("an ended turn says how")))
            }
            _ => None,
        })
        .collect()
}

fn youre_up(outs: &[talkstick_signaling::Output]) -> Vec<(Audience, u64)> {
    sends(outs)
        .into_iter()
        .filter_map(|(to, m)| match m {
            ServerMsg::YoureUp { expires_in_ms } => Some((to, *expires_in_ms)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_raised_hand_on_a_free_floor_is_offered_at_once_and_accepting_starts_a_turn() {
    let mut sim = Sim::new();
    let a = sim.learner("A");
    let b = sim.learner("B");
    sim.at_ms(500);
    let outs = sim.raise(a, HandKind::NewPoint);
    let floor = last_floor(&outs).unwrap();
    assert_offered_to(&floor, a);
    assert_eq!(floor.offer_expires_ms, Some(10_500));
    assert!(!floor.open);
    assert_eq!(youre_up(&outs), [(Audience::One(a), 10_000)]);
    assert!(inbox(&outs, b, Role::Learner).iter().all(|m| !matches!(m, ServerMsg::YoureUp { .. })));
    assert_eq!(sim.room.queue_order(), [a], "the hand stays up until accepted");

    sim.at_ms(1_500);
    let outs = sim.ok(a, ClientMsg::AcceptFloor);
    let floor = last_floor(&outs).unwrap();
    assert_held_by(&floor, a);
    assert_eq!(floor.turn, Some(TurnId(1)));
    assert_eq!(floor.since_ms, 1_500);
    assert_eq!(last_queue(&outs, Audience::Learners), Some(vec![]));

    // While the floor is held, hands just queue.
    let outs = sim.raise(b, HandKind::Reply);
    assert!(youre_up(&outs).is_empty());
    assert_held_by(&sim.floor(), a);
}

#[test]
fn when_the_floor_frees_the_head_of_the_queue_is_offered() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let [a, b, c] = ["A", "B", "C"].map(|n| sim.learner(n));
    sim.give_floor(f, a);
    sim.at_ms(1);
    sim.raise(b, HandKind::NewPoint);
    sim.at_ms(2);
    sim.raise(c, HandKind::Reply);
    sim.at_ms(3);
    let outs = sim.ok(a, ClientMsg::Yield);
    assert_eq!(ended(&outs), [(a, TurnEnd::Yielded)]);
    assert_offered_to(&last_floor(&outs).unwrap(), c);
    assert_eq!(youre_up(&outs), [(Audience::One(c), 10_000)]);
}

#[test]
fn declining_drops_the_hand_and_offers_the_next() {
    let mut sim = Sim::new();
    let [a, b] = ["A", "B"].map(|n| sim.learner(n));
    sim.raise(a, HandKind::NewPoint);
    sim.raise(b, HandKind::NewPoint);
    let outs = sim.ok(a, ClientMsg::DeclineFloor);
    assert_eq!(order(&last_queue(&outs, Audience::Learners).unwrap()), [b]);
    assert_offered_to(&last_floor(&outs).unwrap(), b);
    assert_eq!(youre_up(&outs), [(Audience::One(b), 10_000)]);
    assert_eq!(sim.refused(a, ClientMsg::DeclineFloor), RoomError::NoOffer);
    // The last one declining leaves the floor free.
    let outs = sim.ok(b, ClientMsg::DeclineFloor);
    assert_eq!(last_floor(&outs).unwrap().state, FloorState::Free);
    assert!(sim.room.queue_order().is_empty());
}

#[test]
fn an_unanswered_offer_expires_after_ten_seconds_and_the_next_is_offered() {
    let mut sim = Sim::new();
    let [a, b] = ["A", "B"].map(|n| sim.learner(n));
    sim.at_ms(1_000);
    sim.raise(a, HandKind::NewPoint);
    sim.raise(b, HandKind::NewPoint);
    assert_eq!(sim.room.poll_timeout(), Some(sim.t0 + ms(11_000)));
    assert!(sim.run_to_ms(10_999).is_empty());
    assert_offered_to(&sim.floor(), a);

    let outs = sim.run_to_ms(11_000);
    assert_eq!(
        sends(&outs)
            .into_iter()
            .filter(|(_, m)| matches!(m, ServerMsg::OfferExpired))
            .map(|(to, _)| to)
            .collect::<Vec<_>>(),
        [Audience::One(a)]
    );
    assert_eq!(order(&last_queue(&outs, Audience::Learners).unwrap()), [b]);
    let floor = last_floor(&outs).unwrap();
    assert_offered_to(&floor, b);
    assert_eq!(floor.offer_expires_ms, Some(21_000));
    assert_eq!(youre_up(&outs), [(Audience::One(b), 10_000)]);
    assert_eq!(sim.refused(a, ClientMsg::AcceptFloor), RoomError::NoOffer);

    // The last offer lapses too; the floor is free and nothing is pending.
    let outs = sim.run_to_ms(21_000);
    assert!(msg_to(&outs, b, |m| matches!(m, ServerMsg::OfferExpired)).is_some());
    assert_eq!(sim.floor().state, FloorState::Free);
    assert_eq!(sim.room.poll_timeout(), None);
}

#[test]
fn accept_and_decline_need_an_offer_and_yield_needs_the_floor() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let [a, b] = ["A", "B"].map(|n| sim.learner(n));
    assert_eq!(sim.refused(a, ClientMsg::AcceptFloor), RoomError::NoOffer);
    assert_eq!(sim.refused(a, ClientMsg::DeclineFloor), RoomError::NoOffer);
    assert_eq!(sim.refused(a, ClientMsg::Yield), RoomError::NotHolder);
    sim.raise(a, HandKind::NewPoint);
    assert_eq!(sim.refused(b, ClientMsg::AcceptFloor), RoomError::NoOffer);
    assert_eq!(sim.refused(a, ClientMsg::Yield), RoomError::NotHolder);
    sim.ok(a, ClientMsg::AcceptFloor);
    assert_eq!(sim.refused(b, ClientMsg::Yield), RoomError::NotHolder);
    assert_eq!(sim.refused(f, ClientMsg::Yield), RoomError::NotHolder);
}

#[test]
fn a_facilitator_grants_the_floor_to_anyone() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let [a, b] = ["A", "B"].map(|n| sim.learner(n));
    let outs = sim.ok(f, ClientMsg::Grant { participant: b });
    assert_offered_to(&last_floor(&outs).unwrap(), b);
    assert_eq!(youre_up(&outs), [(Audience::One(b), 10_000)]);
    let outs = sim.ok(b, ClientMsg::AcceptFloor);
    assert_held_by(&last_floor(&outs).unwrap(), b);

    assert_eq!(sim.refused(f, ClientMsg::Grant { participant: a }), RoomError::FloorBusy(b));
    let ghost = talkstick_signaling::ParticipantId(999);
    sim.ok(b, ClientMsg::Yield);
    assert_eq!(
        sim.refused(f, ClientMsg::Grant { participant: ghost }),
        RoomError::UnknownParticipant(ghost)
    );
}

#[test]
fn revoke_ends_the_turn_or_withdraws_the_offer() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let [a, b, c] = ["A", "B", "C"].map(|n| sim.learner(n));
    assert_eq!(sim.refused(f, ClientMsg::Revoke), RoomError::FloorFree);
    sim.give_floor(f, a);
    sim.raise(b, HandKind::NewPoint);
    sim.raise(c, HandKind::NewPoint);

    let outs = sim.ok(f, ClientMsg::Revoke);
    assert_eq!(ended(&outs), [(a, TurnEnd::Revoked)]);
    assert_offered_to(&last_floor(&outs).unwrap(), b);

    // Revoking an offer drops that hand and offers the next.
    let outs = sim.ok(f, ClientMsg::Revoke);
    assert!(ended(&outs).is_empty());
    assert_offered_to(&last_floor(&outs).unwrap(), c);
    assert_eq!(sim.room.queue_order(), [c]);
}

#[test]
fn next_ends_the_turn_and_offers_the_head_of_the_queue() {
    let mut sim = Sim::with_settings(|s| s.auto_offer = false);
    let f = sim.facilitator("F");
    let [a, b, c] = ["A", "B", "C"].map(|n| sim.learner(n));
    assert_eq!(sim.refused(f, ClientMsg::Next), RoomError::QueueEmpty);
    sim.give_floor(f, a);
    sim.raise(b, HandKind::NewPoint);
    sim.raise(c, HandKind::NewPoint);

    let outs = sim.ok(f, ClientMsg::Next);
    assert_eq!(ended(&outs), [(a, TurnEnd::Next)]);
    assert_offered_to(&last_floor(&outs).unwrap(), b);
    assert_eq!(youre_up(&outs), [(Audience::One(b), 10_000)]);

    // Next while an offer is pending skips that person.
    let outs = sim.ok(f, ClientMsg::Next);
    assert_offered_to(&last_floor(&outs).unwrap(), c);
    assert_eq!(sim.room.queue_order(), [c]);
    sim.ok(c, ClientMsg::AcceptFloor);

    // Next with an empty queue ends the turn and leaves the floor free.
    let outs = sim.ok(f, ClientMsg::Next);
    assert_eq!(ended(&outs), [(c, TurnEnd::Next)]);
    assert_eq!(last_floor(&outs).unwrap().state, FloorState::Free);
    assert_eq!(sim.refused(f, ClientMsg::Next), RoomError::QueueEmpty);
}

#[test]
fn open_discussion_has_no_holder_until_revoked() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let [a, b] = ["A", "B"].map(|n| sim.learner(n));
    sim.give_floor(f, a);
    let outs = sim.ok(f, ClientMsg::OpenDiscussion);
    assert_eq!(ended(&outs), [(a, TurnEnd::Discussion)]);
    let floor = last_floor(&outs).unwrap();
    assert_eq!(floor.state, FloorState::Discussion);
    assert_eq!(floor.holder, None);
    assert!(floor.open);

    // Opening it again changes nothing.
    let outs = sim.ok(f, ClientMsg::OpenDiscussion);
    assert!(outs.is_empty());

    // Hands wait during the discussion.
    let outs = sim.raise(b, HandKind::NewPoint);
    assert!(youre_up(&outs).is_empty());
    assert_eq!(sim.floor().state, FloorState::Discussion);
    assert_eq!(sim.refused(b, ClientMsg::Yield), RoomError::NotHolder);

    // Revoke closes it; the head of the queue is offered.
    let outs = sim.ok(f, ClientMsg::Revoke);
    assert_offered_to(&last_floor(&outs).unwrap(), b);

    // Next from a discussion goes straight to the queue.
    sim.ok(f, ClientMsg::OpenDiscussion);
    let outs = sim.ok(f, ClientMsg::Next);
    assert_offered_to(&last_floor(&outs).unwrap(), b);
}

#[test]
fn turns_are_numbered_per_room() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    for n in 1..=3 {
        sim.give_floor(f, a);
        assert_eq!(sim.floor().turn, Some(TurnId(n)));
        sim.ok(a, ClientMsg::Yield);
    }
}

/// The microphone as the room shows it.
fn mic(sim: &Sim, who: ParticipantId) -> bool {
    sim.room.participant(who).expect("present").mic_on
}

#[test]
fn the_end_of_a_turn_closes_the_microphone_opened_for_it_and_only_that_one() {
    let mut sim = Sim::with_settings(|s| {
        s.time_limit_ms = Some(20_000);
        s.limit_action = LimitAction::Hard;
    });
    let f = sim.facilitator("F");
    let [a, b] = ["A", "B"].map(|n| sim.learner(n));

    // "I'm done": A's microphone was off before the turn, the page opened it to speak.
    sim.give_floor(f, a);
    sim.ok(a, ClientMsg::SetMic { on: true });
    let outs = sim.ok(a, ClientMsg::Yield);
    assert!(!mic(&sim, a), "yielding closes the microphone the turn opened");
    assert!(any_msg(&outs, |m| matches!(m,
        ServerMsg::ParticipantUpdated { participant } if participant.id == a && !participant.mic_on)));

    // B's microphone was on already (open discussion): it stays on after the turn.
    sim.ok(b, ClientMsg::SetMic { on: true });
    sim.give_floor(f, b);
    sim.ok(b, ClientMsg::Yield);
    assert!(mic(&sim, b), "a microphone that was on before the turn stays on");

    // Taken back by a facilitator.
    sim.give_floor(f, a);
    sim.ok(a, ClientMsg::SetMic { on: true });
    sim.ok(f, ClientMsg::Revoke);
    assert!(!mic(&sim, a), "a revoked turn closes it too");

    // A hard time limit.
    let start = sim.now;
    sim.give_floor(f, a);
    sim.ok(a, ClientMsg::SetMic { on: true });
    let offset = (start - sim.t0).as_millis() as u64;
    sim.run_to_ms(offset + 20_000);
    assert_eq!(sim.room.holder(), None, "the hard limit ended the turn");
    assert!(!mic(&sim, a), "and closed the microphone");

    // Someone who turned their microphone on and off during the turn ends with it off.
    sim.give_floor(f, a);
    sim.ok(a, ClientMsg::SetMic { on: true });
    sim.ok(a, ClientMsg::SetMic { on: false });
    let outs = sim.ok(a, ClientMsg::Yield);
    assert!(!mic(&sim, a));
    assert!(
        !any_msg(&outs, |m| matches!(m, ServerMsg::ParticipantUpdated { .. })),
        "nothing to change"
    );
}

#[test]
fn later_passes_the_offer_to_the_next_hand_and_keeps_mine_one_place_down() {
    let mut sim = Sim::new();
    let _facilitator = sim.facilitator("F");
    let [a, b, c] = ["A", "B", "C"].map(|n| sim.learner(n));
    sim.raise(a, HandKind::NewPoint);
    assert_offered_to(&sim.floor(), a);
    sim.raise(b, HandKind::NewPoint);
    sim.raise(c, HandKind::NewPoint);
    let outs = sim.ok(a, ClientMsg::DeferFloor);
    assert_offered_to(&sim.floor(), b);
    assert!(msg_to(&outs, b, |m| matches!(m, ServerMsg::YoureUp { .. })).is_some());
    assert_eq!(sim.room.queue_order(), [b, a, c], "A's hand kept, one place down");
    // Only the one offered may say "later", and not when nobody else waits.
    assert_eq!(sim.refused(c, ClientMsg::DeferFloor), RoomError::NoOffer);
    sim.ok(b, ClientMsg::AcceptFloor);
    sim.ok(b, ClientMsg::Yield);
    assert_offered_to(&sim.floor(), a);
    sim.ok(a, ClientMsg::DeclineFloor);
    assert_offered_to(&sim.floor(), c);
    let before = sim.room.queue_order();
    assert_eq!(sim.refused(c, ClientMsg::DeferFloor), RoomError::NobodyElseWaiting);
    assert_eq!(sim.room.queue_order(), before, "a refusal changes nothing");
    assert_offered_to(&sim.floor(), c);
}
