//! Reactions (broadcast, tallied per turn, rate-limited), media gates in open and
//! moderated mode, and muting.

use std::collections::BTreeMap;

use talkstick_signaling::protocol::{
    ClientMsg, HandKind, Mode, ReactionKind, ServerMsg, SettingsPatch, Tally,
};
use talkstick_signaling::reactions::{BURST, REFILL};
use talkstick_signaling::{Audience, ParticipantId, RoomError, TurnId};

use crate::common::*;

fn react(
    sim: &mut Sim,
    who: ParticipantId,
    reaction: ReactionKind,
) -> Vec<talkstick_signaling::Output> {
    sim.ok(who, ClientMsg::React { reaction })
}

#[test]
fn a_tally_counts_people_not_presses_and_pressing_again_takes_a_reaction_back() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let [a, b, c] = ["A", "B", "C"].map(|n| sim.learner(n));
    sim.give_floor(f, a);
    react(&mut sim, b, ReactionKind::Agree);
    react(&mut sim, c, ReactionKind::Agree);
    let outs = react(&mut sim, b, ReactionKind::Agree);
    let once = Tally { agree: 1, ..Tally::default() };
    assert_eq!(
        sends(&outs),
        [(
            Audience::All,
            &ServerMsg::Reaction {
                from: b,
                reaction: ReactionKind::Agree,
                turn: Some(TurnId(1)),
                tally: Some(once),
                withdrawn: true,
            }
        )],
        "B's second press takes B's agreement back"
    );
    assert_eq!(sim.floor().tally, once);
    // Pressing once more counts B again, once.
    react(&mut sim, b, ReactionKind::Agree);
    react(&mut sim, b, ReactionKind::Question);
    assert_eq!(sim.floor().tally, Tally { agree: 2, question: 1, ..Tally::default() });
    let stats = sim.stats();
    let person = |id| stats.people.iter().find(|p| p.participant == id).unwrap().clone();
    assert_eq!(person(a).reactions_received, 3, "the speaker's count follows the tally");
    assert_eq!(person(b).reactions_given, 2);
    // A new turn starts afresh: B can agree again.
    sim.ok(a, ClientMsg::Yield);
    sim.give_floor(f, c);
    let outs = react(&mut sim, b, ReactionKind::Agree);
    assert!(any_msg(&outs, |m| matches!(m, ServerMsg::Reaction { withdrawn: false, .. })));
    assert_eq!(sim.floor().tally, once);
}

#[test]
fn reactions_are_broadcast_at_once_and_tallied_per_turn_without_touching_floor_or_queue() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let [a, b, c] = ["A", "B", "C"].map(|n| sim.learner(n));
    sim.give_floor(f, a);
    sim.raise(c, HandKind::NewPoint);
    let floor_before = sim.floor();
    let queue_before = sim.room.queue_order();

    react(&mut sim, b, ReactionKind::Agree);
    react(&mut sim, c, ReactionKind::Agree);
    let outs = react(&mut sim, b, ReactionKind::Disagree);
    let expected = Tally { agree: 2, disagree: 1, ..Tally::default() };
    assert_eq!(
        sends(&outs),
        [(
            Audience::All,
            &ServerMsg::Reaction {
                from: b,
                reaction: ReactionKind::Disagree,
                turn: Some(TurnId(1)),
                tally: Some(expected),
                withdrawn: false,
            }
        )],
        "just the reaction: no floor, no queue"
    );
    let floor = sim.floor();
    assert_eq!(floor.holder, floor_before.holder);
    assert_eq!(floor.state, floor_before.state);
    assert_eq!(floor.turn, floor_before.turn);
    assert_eq!(floor.tally, expected);
    assert_eq!(sim.room.queue_order(), queue_before);

    // A new turn starts a new tally.
    sim.ok(a, ClientMsg::Yield);
    sim.ok(c, ClientMsg::AcceptFloor);
    let outs = react(&mut sim, a, ReactionKind::Applause);
    assert!(sends(&outs).iter().any(|(_, m)| matches!(
        m,
        ServerMsg::Reaction { turn: Some(TurnId(2)), tally: Some(t), .. }
            if *t == Tally { applause: 1, ..Tally::default() }
    )));
    assert_eq!(sim.room.holder(), Some(c));

    // With nobody on the floor a reaction counts toward no turn.
    sim.ok(c, ClientMsg::Yield);
    let outs = react(&mut sim, b, ReactionKind::Question);
    assert!(
        sends(&outs)
            .iter()
            .any(|(_, m)| matches!(m, ServerMsg::Reaction { turn: None, tally: None, .. }))
    );

    // The history keeps each turn's tally.
    let stats = sim.stats();
    assert_eq!(stats.turns[0].tally, expected);
    assert_eq!(stats.turns[1].tally.applause, 1);
}

#[test]
fn reactions_are_rate_limited_per_person() {
    let mut sim = Sim::new();
    let [a, b] = ["A", "B"].map(|n| sim.learner(n));
    sim.at_ms(100);
    for kind in ReactionKind::ALL.into_iter().take(BURST as usize) {
        react(&mut sim, a, kind);
    }
    let err = sim.refused(a, ClientMsg::React { reaction: ReactionKind::Agree });
    match err {
        RoomError::RateLimited(wait) => assert!(wait > ms(0) && wait <= REFILL, "{wait:?}"),
        other => panic!("expected rate limiting, got {other:?}"),
    }
    // Someone else is not limited.
    react(&mut sim, b, ReactionKind::Agree);
    // Later ones succeed again.
    sim.at_ms(100 + REFILL.as_millis() as u64);
    react(&mut sim, a, ReactionKind::Agree);
    assert!(matches!(
        sim.refused(a, ClientMsg::React { reaction: ReactionKind::Agree }),
        RoomError::RateLimited(_)
    ));
    sim.at_ms(60_000);
    for _ in 0..BURST {
        react(&mut sim, a, ReactionKind::Applause);
    }
    let given = sim.stats().people.iter().find(|p| p.participant == a).unwrap().reactions_given;
    assert_eq!(given, 2 * BURST + 1, "refused reactions are not counted");
}

/// The last gate per participant in `outs`.
fn gate_map(outs: &[talkstick_signaling::Output]) -> BTreeMap<ParticipantId, bool> {
    gates(outs).into_iter().collect()
}

#[test]
fn moderated_mode_forwards_only_the_holder_and_facilitators() {
    let mut sim = Sim::with_settings(|s| s.mode = Mode::Moderated);
    let (res, outs) = sim.try_join("F", talkstick_signaling::protocol::Role::Facilitator);
    let f = res.unwrap().participant;
    assert_eq!(gates(&outs), [(f, true)]);
    let (res, outs) = sim.try_join("A", talkstick_signaling::protocol::Role::Learner);
    let a = res.unwrap().participant;
    assert!(gates(&outs).is_empty(), "a learner joins gated");
    let b = sim.learner("B");
    assert!(!sim.room.gate(a) && !sim.room.gate(b));

    // An offer is not the floor.
    let outs = sim.ok(f, ClientMsg::Grant { participant: a });
    assert!(gates(&outs).is_empty());
    let outs = sim.ok(a, ClientMsg::AcceptFloor);
    assert_eq!(gates(&outs), [(a, true)]);
    let outs = sim.ok(a, ClientMsg::Yield);
    assert_eq!(gates(&outs), [(a, false)]);

    // Free discussion forwards everyone; closing it gates learners again.
    let outs = sim.ok(f, ClientMsg::OpenDiscussion);
    assert_eq!(gate_map(&outs), BTreeMap::from([(a, true), (b, true)]));
    let outs = sim.ok(f, ClientMsg::Revoke);
    assert_eq!(gate_map(&outs), BTreeMap::from([(a, false), (b, false)]));

    // Open mode forwards everyone.
    let outs = sim.patch(f, SettingsPatch { mode: Some(Mode::Open), ..Default::default() });
    assert_eq!(gate_map(&outs), BTreeMap::from([(a, true), (b, true)]));
    assert!(sim.room.gate(f));
}

#[test]
fn open_mode_forwards_everyone_as_they_join() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let (res, outs) = sim.try_join("A", talkstick_signaling::protocol::Role::Learner);
    let a = res.unwrap().participant;
    assert_eq!(gates(&outs), [(a, true)]);
    assert!(sim.room.gate(f) && sim.room.gate(a));
}

#[test]
fn a_force_muted_participant_is_never_forwarded() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let [a, b] = ["A", "B"].map(|n| sim.learner(n));
    sim.ok(a, ClientMsg::SetMic { on: true });
    assert!(sim.room.participant(a).unwrap().mic_on);

    let outs = sim.ok(f, ClientMsg::Mute { participant: a });
    assert_eq!(gates(&outs), [(a, false)]);
    let view = sends(&outs)
        .into_iter()
        .find_map(|(_, m)| match m {
            ServerMsg::ParticipantUpdated { participant } => Some(participant.clone()),
            _ => None,
        })
        .unwrap();
    assert!(view.force_muted);
    assert!(!view.mic_on, "a server mute closes the mic");

    // Taking the floor lifts the mute for that turn; its end brings it back: not
    // forwarded in a discussion, nor in moderated mode.
    sim.give_floor(f, a);
    assert!(sim.room.gate(a), "heard for the turn they hold");
    sim.ok(f, ClientMsg::OpenDiscussion);
    assert!(sim.room.participant(a).unwrap().force_muted);
    assert!(!sim.room.gate(a));
    sim.patch(f, SettingsPatch { mode: Some(Mode::Moderated), ..Default::default() });
    assert!(!sim.room.gate(a));
    assert!(sim.room.gate(b), "discussion forwards the others");

    // The muted one cannot open their own mic; closing it is fine.
    assert_eq!(sim.refused(a, ClientMsg::SetMic { on: true }), RoomError::ForceMuted);
    assert!(sim.ok(a, ClientMsg::SetMic { on: false }).is_empty());

    let outs = sim.ok(f, ClientMsg::Unmute { participant: a });
    assert_eq!(gates(&outs), [(a, true)]);
    assert!(!sim.room.participant(a).unwrap().force_muted);
    sim.ok(a, ClientMsg::SetMic { on: true });
    let ghost = ParticipantId(4242);
    assert_eq!(
        sim.refused(f, ClientMsg::Mute { participant: ghost }),
        RoomError::UnknownParticipant(ghost)
    );
}

#[test]
fn mute_all_mutes_every_learner_and_no_facilitator() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let f2 = sim.facilitator("F2");
    let [a, b] = ["A", "B"].map(|n| sim.learner(n));
    sim.ok(f, ClientMsg::Mute { participant: a });
    let outs = sim.ok(f, ClientMsg::MuteAll);
    assert_eq!(gates(&outs), [(b, false)]);
    for p in [a, b] {
        assert!(sim.room.participant(p).unwrap().force_muted);
        assert!(!sim.room.gate(p));
    }
    for p in [f, f2] {
        assert!(!sim.room.participant(p).unwrap().force_muted);
        assert!(sim.room.gate(p));
    }
    // Nothing left to mute: nothing said.
    assert!(sim.ok(f, ClientMsg::MuteAll).is_empty());
    assert_eq!(sim.refused(b, ClientMsg::SetMic { on: true }), RoomError::ForceMuted);
    sim.ok(f, ClientMsg::Unmute { participant: b });
    assert!(sim.room.gate(b));
    assert!(!sim.room.gate(a));
}

#[test]
fn mic_presence_and_push_to_talk_are_shown_to_everyone() {
    let mut sim = Sim::new();
    let a = sim.learner("A");
    let updated = |outs: &[talkstick_signaling::Output]| {
        sends(outs)
            .into_iter()
            .find_map(|(to, m)| match m {
                ServerMsg::ParticipantUpdated { participant } if to == Audience::All => {
                    Some(participant.clone())
                }
                _ => None,
            })
            .expect("participant_updated to all")
    };
    assert!(updated(&sim.ok(a, ClientMsg::SetMic { on: true })).mic_on);
    assert_eq!(
        updated(&sim.ok(a, ClientMsg::SetAway { away: true })).presence,
        talkstick_signaling::protocol::Presence::Away
    );
    assert!(updated(&sim.ok(a, ClientMsg::SetPushToTalk { enabled: true })).push_to_talk);
    // Repeating a state says nothing.
    assert!(sim.ok(a, ClientMsg::SetAway { away: true }).is_empty());
    // Ping gets a pong to the sender only.
    let outs = sim.ok(a, ClientMsg::Ping);
    assert_eq!(sends(&outs), [(Audience::One(a), &ServerMsg::Pong)]);
}

#[test]
fn hand_microphone_and_away_changes_are_rate_limited_per_person() {
    use talkstick_signaling::reactions::TOGGLES;
    let mut sim = Sim::new();
    let [a, b] = ["A", "B"].map(|n| sim.learner(n));
    sim.at_ms(100);
    // A burst of away/back goes through, then the rest is refused with a wait.
    for k in 0..TOGGLES.burst {
        sim.ok(a, ClientMsg::SetAway { away: k % 2 == 0 });
    }
    match sim.refused(a, ClientMsg::SetAway { away: true }) {
        RoomError::TooManyChanges(wait) => {
            assert!(wait > ms(0) && wait <= TOGGLES.refill, "{wait:?}")
        }
        other => panic!("expected rate limiting, got {other:?}"),
    }
    // The other kinds of toggle share the budget; a reaction does not.
    assert!(matches!(sim.refused(a, ClientMsg::SetMic { on: true }), RoomError::TooManyChanges(_)));
    react(&mut sim, a, ReactionKind::Agree);
    // Someone else is not limited.
    sim.ok(b, ClientMsg::SetMic { on: true });
    // One more comes back after the refill interval.
    sim.at_ms(100 + TOGGLES.refill.as_millis() as u64);
    sim.ok(a, ClientMsg::RaiseHand { kind: HandKind::NewPoint, note: None });
    assert!(matches!(sim.refused(a, ClientMsg::LowerHand), RoomError::TooManyChanges(_)));
}

#[test]
fn mute_all_spares_the_speaker_and_a_muted_person_who_takes_the_floor_is_heard_for_that_turn() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let [a, b, c] = ["A", "B", "C"].map(|n| sim.learner(n));
    sim.give_floor(f, a);
    sim.drain();
    let outs = sim.ok(f, ClientMsg::MuteAll);
    let muted = |sim: &Sim, who| sim.room.participant(who).unwrap().force_muted;
    assert!(!muted(&sim, a) && muted(&sim, b) && muted(&sim, c), "everyone but the speaker");
    assert!(!gates(&outs).contains(&(a, false)), "the speaker is still heard");

    // B asks to be unmuted: facilitators see it on B's tile; C is refused nothing.
    let outs = sim.ok(b, ClientMsg::AskToUnmute);
    assert!(any_msg(&outs, |m| matches!(m,
        ServerMsg::ParticipantUpdated { participant } if participant.id == b && participant.unmute_requested)));
    assert_eq!(sim.refused(a, ClientMsg::AskToUnmute), RoomError::NotMuted);

    // C is offered the floor and accepts: heard for that turn, muted again after it.
    sim.ok(a, ClientMsg::Yield);
    sim.ok(f, ClientMsg::Grant { participant: c });
    let outs = sim.ok(c, ClientMsg::AcceptFloor);
    assert!(!muted(&sim, c), "the mute is lifted for the turn");
    assert!(gates(&outs).contains(&(c, true)), "and C is forwarded");
    sim.ok(c, ClientMsg::SetMic { on: true });
    let outs = sim.ok(c, ClientMsg::Yield);
    assert!(muted(&sim, c), "the mute comes back when the turn ends");
    assert!(!sim.room.participant(c).unwrap().mic_on);
    assert!(gates(&outs).contains(&(c, false)));

    // A facilitator's unmute during a turn is theirs to keep.
    sim.ok(f, ClientMsg::Grant { participant: c });
    sim.ok(c, ClientMsg::AcceptFloor);
    sim.ok(f, ClientMsg::Unmute { participant: c });
    sim.ok(c, ClientMsg::Yield);
    assert!(!muted(&sim, c));

    // Unmute all lifts every mute, B's request with it.
    sim.ok(f, ClientMsg::UnmuteAll);
    assert!(!muted(&sim, b));
    assert!(!sim.room.participant(b).unwrap().unmute_requested);
    assert!(matches!(sim.refused(b, ClientMsg::UnmuteAll), RoomError::Forbidden(_)));
}

#[test]
fn in_moderated_mode_only_those_heard_are_shown_speaking_and_gain_talk_time() {
    let mut sim = Sim::with_settings(|s| s.mode = Mode::Moderated);
    let f = sim.facilitator("F");
    let [a, b] = ["A", "B"].map(|n| sim.learner(n));
    sim.give_floor(f, a);
    let outs = sim.speaking(b, true);
    assert!(
        !any_msg(&outs, |m| matches!(m, ServerMsg::Speaking { .. })),
        "B talks into a microphone nobody hears: nobody is told B speaks"
    );
    assert!(!sim.room.participant(b).unwrap().speaking);
    sim.run_to_ms(10_000);
    let talk =
        |sim: &Sim, who| sim.stats().people.iter().find(|p| p.participant == who).unwrap().talk_ms;
    assert_eq!(talk(&sim, b), 0, "unheard talk is not talk time");
    // B is given the floor while still talking: now heard, and shown speaking.
    sim.ok(a, ClientMsg::Yield);
    sim.ok(f, ClientMsg::Grant { participant: b });
    let outs = sim.ok(b, ClientMsg::AcceptFloor);
    assert!(any_msg(&outs, |m| matches!(m,
        ServerMsg::Speaking { participant, speaking: true } if *participant == b)));
    // The turn ends: B is no longer heard and no longer shown speaking.
    let outs = sim.ok(b, ClientMsg::Yield);
    assert!(any_msg(&outs, |m| matches!(m,
        ServerMsg::Speaking { participant, speaking: false } if *participant == b)));
}
