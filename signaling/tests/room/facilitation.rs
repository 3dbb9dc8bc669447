//! Facilitator-only actions, settings validation, refusals that change nothing, and the
//! session statistics.

use talkstick_signaling::protocol::{
    ClientMsg, HandKind, LimitAction, Mode, QueuePolicy, ReactionKind, ServerMsg, Settings,
    SettingsPatch,
};
use talkstick_signaling::stats::gini;
use talkstick_signaling::{Audience, Input, Output, ParticipantId, RoomError, TurnId};

use crate::common::*;

/// Every message only a facilitator may send, aimed at `target`.
pub(crate) fn facilitator_only(target: ParticipantId) -> Vec<ClientMsg> {
    vec![
        ClientMsg::Grant { participant: target },
        ClientMsg::Next,
        ClientMsg::Revoke,
        ClientMsg::OpenDiscussion,
        ClientMsg::MoveHand { participant: target, position: 1 },
        ClientMsg::RemoveHand { participant: target },
        ClientMsg::ClearHands,
        ClientMsg::Mute { participant: target },
        ClientMsg::Unmute { participant: target },
        ClientMsg::MuteAll,
        ClientMsg::UpdateSettings {
            settings: SettingsPatch { mode: Some(Mode::Moderated), ..Default::default() },
        },
        ClientMsg::GetStats,
        ClientMsg::EndSession,
    ]
}

/// A busy room: F facilitates, A holds the floor, B and C have hands up.
fn busy() -> (Sim, [ParticipantId; 4]) {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let [a, b, c] = ["A", "B", "C"].map(|n| sim.learner(n));
    sim.give_floor(f, a);
    sim.ok(b, ClientMsg::RaiseHand { kind: HandKind::NewPoint, note: Some("note".into()) });
    sim.raise(c, HandKind::Reply);
    sim.ok(f, ClientMsg::Mute { participant: c });
    sim.run_to_ms(5_000);
    (sim, [f, a, b, c])
}

#[test]
fn every_facilitator_action_from_a_learner_is_forbidden_and_silent() {
    let (mut sim, [_, a, b, c]) = busy();
    for learner in [a, b, c] {
        for msg in facilitator_only(c) {
            let err = sim.refused(learner, msg.clone());
            assert!(matches!(err, RoomError::Forbidden(_)), "{msg:?}: {err:?}");
            assert_eq!(err.code(), talkstick_signaling::protocol::ErrorCode::Forbidden);
        }
    }
}

#[test]
fn facilitators_may_do_every_facilitator_action() {
    for msg in facilitator_only(ParticipantId(3)) {
        let (mut sim, [f, ..]) = busy();
        let (res, _) = sim.send(f, msg.clone());
        assert!(!matches!(res, Err(RoomError::Forbidden(_))), "{msg:?}: {res:?}");
    }
}

#[test]
fn refused_actions_leave_everything_as_it_was() {
    let (mut sim, [f, a, b, c]) = busy();
    let ghost = ParticipantId(77);
    let cases: Vec<(ParticipantId, ClientMsg, RoomError)> = vec![
        (
            b,
            ClientMsg::RaiseHand { kind: HandKind::Reply, note: None },
            RoomError::HandAlreadyRaised,
        ),
        (
            a,
            ClientMsg::RaiseHand { kind: HandKind::Reply, note: None },
            RoomError::AlreadyHoldingFloor,
        ),
        (
            f,
            ClientMsg::RaiseHand { kind: HandKind::Reply, note: Some("n".repeat(300)) },
            RoomError::NoteTooLong(300),
        ),
        (a, ClientMsg::LowerHand, RoomError::NoHand(a)),
        (b, ClientMsg::AcceptFloor, RoomError::NoOffer),
        (b, ClientMsg::DeclineFloor, RoomError::NoOffer),
        (b, ClientMsg::Yield, RoomError::NotHolder),
        (c, ClientMsg::SetMic { on: true }, RoomError::ForceMuted),
        (f, ClientMsg::Grant { participant: b }, RoomError::FloorBusy(a)),
        (f, ClientMsg::Grant { participant: ghost }, RoomError::UnknownParticipant(ghost)),
        (f, ClientMsg::MoveHand { participant: b, position: 3 }, RoomError::InvalidPosition(3, 2)),
        (f, ClientMsg::MoveHand { participant: a, position: 1 }, RoomError::NoHand(a)),
        (f, ClientMsg::RemoveHand { participant: f }, RoomError::NoHand(f)),
        (f, ClientMsg::Unmute { participant: ghost }, RoomError::UnknownParticipant(ghost)),
        (
            f,
            ClientMsg::Join { v: 1, token: "t".into(), resume: None, group: None, listen: false },
            RoomError::AlreadyJoined,
        ),
        (ghost, ClientMsg::Ping, RoomError::UnknownParticipant(ghost)),
        (ghost, ClientMsg::Leave, RoomError::UnknownParticipant(ghost)),
    ];
    for (from, msg, expected) in cases {
        assert_eq!(sim.refused(from, msg.clone()), expected, "{msg:?} from {from}");
    }
    assert_eq!(
        sim.refused_input(Input::Speaking { participant: ghost, speaking: true }),
        RoomError::UnknownParticipant(ghost)
    );
    assert_eq!(
        sim.refused_input(Input::Disconnected { participant: ghost }),
        RoomError::UnknownParticipant(ghost)
    );
    // Settings out of range, with the room's other settings untouched.
    let err = sim.refused(
        f,
        ClientMsg::UpdateSettings {
            settings: SettingsPatch {
                mode: Some(Mode::Moderated),
                pause_ms: Some(10),
                ..Default::default()
            },
        },
    );
    assert!(matches!(err, RoomError::InvalidSetting("pause_ms", _)));
    assert_eq!(sim.room.settings().mode, Mode::Open);
}

#[test]
fn settings_are_validated() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let p = SettingsPatch::default;
    let cases: Vec<(SettingsPatch, &str)> = vec![
        (SettingsPatch { offer_timeout_ms: Some(999), ..p() }, "offer_timeout_ms"),
        (SettingsPatch { offer_timeout_ms: Some(120_001), ..p() }, "offer_timeout_ms"),
        (SettingsPatch { time_limit_ms: Some(Some(4_999)), ..p() }, "time_limit_ms"),
        (SettingsPatch { time_limit_ms: Some(Some(3_600_001)), ..p() }, "time_limit_ms"),
        (SettingsPatch { warning_ms: Some(600_001), ..p() }, "warning_ms"),
        (SettingsPatch { pause_ms: Some(299), ..p() }, "pause_ms"),
        (SettingsPatch { pause_ms: Some(60_001), ..p() }, "pause_ms"),
        (SettingsPatch { auto_advance_ms: Some(Some(999)), ..p() }, "auto_advance_ms"),
        (SettingsPatch { auto_advance_ms: Some(Some(600_001)), ..p() }, "auto_advance_ms"),
        (SettingsPatch { max_replies: Some(11), ..p() }, "max_replies"),
        // Auto-advance must come after the pause cue.
        (SettingsPatch { auto_advance_ms: Some(Some(2_000)), ..p() }, "auto_advance_ms"),
        (
            SettingsPatch { auto_advance_ms: Some(Some(5_000)), pause_ms: Some(6_000), ..p() },
            "auto_advance_ms",
        ),
    ];
    for (patch, field) in cases {
        let err = sim.refused(f, ClientMsg::UpdateSettings { settings: patch.clone() });
        match err {
            RoomError::InvalidSetting(name, _) => assert_eq!(name, field, "{patch:?}"),
            other => panic!("{patch:?}: {other:?}"),
        }
    }
    assert_eq!(*sim.room.settings(), Settings::default());

    // A valid patch changes only what it names and tells everyone.
    let patch = SettingsPatch {
        mode: Some(Mode::Moderated),
        policy: Some(QueuePolicy::Balanced),
        auto_offer: Some(false),
        offer_timeout_ms: Some(1_000),
        time_limit_ms: Some(Some(5_000)),
        warning_ms: Some(0),
        limit_action: Some(LimitAction::Hard),
        pause_ms: Some(300),
        auto_advance_ms: Some(Some(1_000)),
        max_replies: Some(0),
    };
    let outs = sim.patch(f, patch.clone());
    let expected = Settings {
        mode: Mode::Moderated,
        policy: QueuePolicy::Balanced,
        auto_offer: false,
        offer_timeout_ms: 1_000,
        time_limit_ms: Some(5_000),
        warning_ms: 0,
        limit_action: LimitAction::Hard,
        pause_ms: 300,
        auto_advance_ms: Some(1_000),
        max_replies: 0,
    };
    assert_eq!(*sim.room.settings(), expected);
    assert_eq!(
        sends(&outs)
            .into_iter()
            .filter(|(_, m)| matches!(m, ServerMsg::Settings { .. }))
            .collect::<Vec<_>>(),
        [(Audience::All, &ServerMsg::Settings { settings: expected.clone() })]
    );
    // The same patch again changes nothing and says nothing.
    assert!(sim.patch(f, patch).is_empty());
    // Null turns optional settings off.
    sim.patch(f, SettingsPatch { time_limit_ms: Some(None), auto_advance_ms: Some(None), ..p() });
    assert_eq!(sim.room.settings().time_limit_ms, None);
    assert_eq!(sim.room.settings().auto_advance_ms, None);
    // A pause that would come after the auto-advance names pause_ms.
    sim.patch(f, SettingsPatch { auto_advance_ms: Some(Some(5_000)), ..p() });
    let err = sim.refused(
        f,
        ClientMsg::UpdateSettings { settings: SettingsPatch { pause_ms: Some(5_000), ..p() } },
    );
    assert!(matches!(err, RoomError::InvalidSetting("pause_ms", _)), "{err:?}");
}

#[test]
fn turning_auto_offer_on_offers_the_floor_to_the_waiting_head() {
    let mut sim = Sim::with_settings(|s| s.auto_offer = false);
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    sim.raise(a, HandKind::NewPoint);
    assert!(sim.floor().offered_to.is_none());
    let outs = sim.patch(f, SettingsPatch { auto_offer: Some(true), ..Default::default() });
    assert_offered_to(&last_floor(&outs).unwrap(), a);
    assert!(msg_to(&outs, a, |m| matches!(m, ServerMsg::YoureUp { .. })).is_some());
}

#[test]
fn stats_report_talk_time_turns_reactions_waits_balance_and_history() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let [a, b, c] = ["A", "B", "C"].map(|n| sim.learner(n));

    // A: raised at 0, offered at once, accepts at 1 s, yields at 11 s.
    sim.raise(a, HandKind::NewPoint);
    sim.at_ms(1_000);
    sim.ok(a, ClientMsg::AcceptFloor);
    // B raises at 2 s and waits for A.
    sim.at_ms(2_000);
    sim.raise(b, HandKind::Reply);
    sim.ok(c, ClientMsg::React { reaction: ReactionKind::Agree });
    sim.ok(c, ClientMsg::React { reaction: ReactionKind::Question });
    // C speaks over 3 s outside any turn of theirs; that is talk time too.
    sim.at_ms(4_000);
    sim.speaking(c, true);
    sim.at_ms(7_000);
    sim.speaking(c, false);
    sim.at_ms(11_000);
    sim.ok(a, ClientMsg::Yield);
    // B: offered at 11 s, accepts at 12 s, holds 20 s.
    sim.at_ms(12_000);
    sim.ok(b, ClientMsg::AcceptFloor);
    sim.ok(f, ClientMsg::React { reaction: ReactionKind::Applause });
    sim.ok(b, ClientMsg::React { reaction: ReactionKind::Agree });
    sim.at_ms(32_000);
    sim.ok(b, ClientMsg::Yield);
    sim.at_ms(40_000);

    let outs = sim.ok(f, ClientMsg::GetStats);
    let stats = match sends(&outs).as_slice() {
        [(Audience::One(to), ServerMsg::Stats { stats })] if *to == f => stats.clone(),
        other => panic!("stats go to the asker only: {other:?}"),
    };
    assert_eq!(stats, sim.stats());
    assert_eq!(stats.now_ms, 40_000);
    let person = |p: ParticipantId| stats.people.iter().find(|s| s.participant == p).unwrap();
    let row = |p| {
        let s = person(p);
        (s.talk_ms, s.turns, s.reactions_given, s.reactions_received, s.wait_ms, s.present)
    };
    assert_eq!(row(f), (0, 0, 1, 0, 0, true));
    assert_eq!(row(a), (10_000, 1, 0, 2, 1_000, true));
    assert_eq!(row(b), (20_000, 1, 1, 1, 10_000, true));
    assert_eq!(row(c), (3_000, 0, 2, 0, 0, true));
    assert_eq!(person(a).name, "A");
    assert_eq!(person(a).colour, sim.room.participant(a).unwrap().colour);

    // Gini of [0, 10, 20, 3] seconds, by the textbook formula.
    let want = {
        let mut v = [0.0, 3_000.0, 10_000.0, 20_000.0];
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        let total: f64 = v.iter().sum();
        let weighted: f64 = v.iter().enumerate().map(|(i, x)| (i as f64 + 1.0) * x).sum();
        2.0 * weighted / (n * total) - (n + 1.0) / n
    };
    assert!((stats.gini - want).abs() < 1e-9, "{} vs {want}", stats.gini);
    assert!((gini(&[0, 0, 0]) - 0.0).abs() < 1e-12);

    assert_eq!(stats.turns.len(), 2);
    let t1 = &stats.turns[0];
    assert_eq!((t1.turn, t1.holder, t1.start_ms, t1.end_ms), (TurnId(1), a, 1_000, Some(11_000)));
    assert_eq!(t1.ended, Some(talkstick_signaling::protocol::TurnEnd::Yielded));
    assert_eq!((t1.tally.agree, t1.tally.question), (1, 1));
    let t2 = &stats.turns[1];
    assert_eq!((t2.turn, t2.holder, t2.start_ms, t2.end_ms), (TurnId(2), b, 12_000, Some(32_000)));
    assert_eq!((t2.tally.applause, t2.tally.agree), (1, 1));

    // A turn in progress shows without an end, its talk time running.
    sim.ok(f, ClientMsg::Grant { participant: c });
    sim.ok(c, ClientMsg::AcceptFloor);
    sim.at_ms(45_000);
    let stats = sim.stats();
    let last = stats.turns.last().unwrap();
    assert_eq!((last.holder, last.end_ms, last.ended), (c, None, None));
    let c_row = stats.people.iter().find(|s| s.participant == c).unwrap();
    assert_eq!(c_row.talk_ms, 8_000);

    // Someone who leaves stays in the report, marked absent, out of the balance.
    sim.ok(c, ClientMsg::Yield);
    sim.ok(a, ClientMsg::Leave);
    let stats = sim.stats();
    let gone = stats.people.iter().find(|s| s.participant == a).unwrap();
    assert!(!gone.present);
    assert_eq!(gone.talk_ms, 10_000);
    assert_eq!(stats.people.len(), 4);
    let present_talk: Vec<u64> =
        stats.people.iter().filter(|p| p.present).map(|p| p.talk_ms).collect();
    assert!((stats.gini - gini(&present_talk)).abs() < 1e-12);
}

#[test]
fn talk_time_counts_holding_and_speaking_once_when_they_overlap() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    sim.speaking(a, true);
    sim.at_ms(2_000);
    sim.give_floor(f, a);
    sim.at_ms(5_000);
    sim.speaking(a, false);
    sim.at_ms(9_000);
    sim.ok(a, ClientMsg::Yield);
    sim.at_ms(20_000);
    let talk = sim.stats().people.iter().find(|p| p.participant == a).unwrap().talk_ms;
    assert_eq!(talk, 9_000);
}

/// A facilitator removes someone: they are told and closed, everyone sees them leave as
/// removed, their hand and turn go, and their link is refused from then on; anyone else,
/// and a new link for the same name, still joins.
#[test]
fn a_removed_participant_is_gone_and_their_link_refused() {
    use talkstick_signaling::protocol::{LeaveReason, Role};
    use talkstick_signaling::{JoinRequest, LinkId, ResumeToken};
    let mut sim = Sim::new();
    let f = sim.facilitator("Fiona");
    let join = |sim: &mut Sim, link: &str, k: u32| {
        let req = JoinRequest {
            name: "Aino".into(),
            role: Role::Learner,
            resume: None,
            new_resume: ResumeToken(format!("r{k}")),
            link: Some(LinkId(link.into())),
            listen: false,
            colour: None,
        };
        sim.room.join(sim.now, req)
    };
    let a = join(&mut sim, "aino-link", 1).unwrap().participant;
    sim.ok(a, ClientMsg::RaiseHand { kind: HandKind::NewPoint, note: None });
    sim.drain();
    // A learner may not; a facilitator may not remove themselves.
    assert!(matches!(
        sim.refused(a, ClientMsg::RemoveParticipant { participant: f }),
        RoomError::Forbidden(_)
    ));
    assert_eq!(
        sim.refused(f, ClientMsg::RemoveParticipant { participant: f }),
        RoomError::RemoveSelf
    );
    let outs = sim.ok(f, ClientMsg::RemoveParticipant { participant: a });
    assert!(outs.contains(&Output::Removed { participant: a }));
    assert!(outs.iter().any(|o| matches!(o,
        Output::Send { msg: ServerMsg::ParticipantLeft { participant, reason: LeaveReason::Removed }, .. }
            if *participant == a)));
    assert!(outs.iter().any(|o| matches!(o,
        Output::Send { to: Audience::One(p), msg: ServerMsg::Goodbye { .. }, .. } if *p == a)));
    assert!(sim.room.queue_order().is_empty(), "their hand went with them");
    // The same link again: refused, nothing changes.
    let before = sim.room.participant_ids();
    assert_eq!(join(&mut sim, "aino-link", 2).unwrap_err(), RoomError::Removed);
    assert_eq!(sim.room.participant_ids(), before);
    // A new link is a new person.
    assert!(join(&mut sim, "new-link", 3).is_ok());
}

#[test]
fn whoever_a_facilitator_acts_on_is_told_and_nobody_else() {
    use talkstick_signaling::protocol::{ActionOnYou, Role};
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let [a, b, c] = ["A", "B", "C"].map(|n| sim.learner(n));
    let told = |outs: &[talkstick_signaling::Output], who| -> Vec<(ActionOnYou, Option<u32>)> {
        inbox(outs, who, Role::Learner)
            .into_iter()
            .filter_map(|m| match m {
                ServerMsg::FacilitatorAction { by, action, position } => {
                    assert_eq!(by, f);
                    Some((action, position))
                }
                _ => None,
            })
            .collect()
    };
    sim.give_floor(f, a);
    sim.raise(b, HandKind::NewPoint);
    sim.raise(c, HandKind::NewPoint);
    let outs = sim.ok(f, ClientMsg::MoveHand { participant: c, position: 1 });
    assert_eq!(told(&outs, c), [(ActionOnYou::HandMoved, Some(1))]);
    assert!(told(&outs, b).is_empty(), "B's place changed as a consequence; B sees the queue");
    let outs = sim.ok(f, ClientMsg::Mute { participant: b });
    assert_eq!(told(&outs, b), [(ActionOnYou::Muted, None)]);
    let outs = sim.ok(f, ClientMsg::Revoke);
    assert_eq!(told(&outs, a), [(ActionOnYou::FloorTakenBack, None)]);
    let outs = sim.ok(f, ClientMsg::RemoveHand { participant: b });
    assert_eq!(told(&outs, b), [(ActionOnYou::HandRemoved, None)]);
    let outs = sim.ok(f, ClientMsg::UnmuteAll);
    assert_eq!(told(&outs, b), [(ActionOnYou::Unmuted, None)]);
    assert!(told(&outs, c).is_empty(), "nothing done to C");
    let outs = sim.ok(f, ClientMsg::ClearHands);
    let floor = sim.floor();
    let cleared = told(&outs, c);
    // C was offered the floor with the hand at the head: clearing takes the hand.
    assert!(cleared.contains(&(ActionOnYou::HandsCleared, None)), "{cleared:?} {floor:?}");
    // A facilitator acting on themselves is not told about it.
    sim.give_floor(f, f);
    let outs = sim.ok(f, ClientMsg::Revoke);
    assert!(!any_msg(&outs, |m| matches!(m, ServerMsg::FacilitatorAction { .. })));
}

#[test]
fn a_facilitator_ends_the_session_for_everyone_and_a_learner_cannot() {
    let (mut sim, [f, a, b, c]) = busy();
    assert!(matches!(sim.refused(b, ClientMsg::EndSession), RoomError::Forbidden(_)));
    let outs = sim.ok(f, ClientMsg::EndSession);
    for who in [f, a, b, c] {
        assert!(outs.contains(&Output::Ended { participant: who }), "{who} is closed");
        assert!(outs.iter().any(|o| matches!(o,
            Output::Send { to: Audience::One(p), msg: ServerMsg::Goodbye { reason }, .. }
                if *p == who && reason == "F ended the session")));
    }
    assert!(sim.room.is_empty(), "nobody is left, not even in the grace period");
    assert!(sim.room.queue_order().is_empty());
    assert_eq!(sim.floor().holder, None);
    let stats = sim.stats();
    assert_eq!(stats.turns.len(), 1);
    assert!(stats.turns[0].ended.is_some(), "the turn ended with the session");
    assert!(stats.people.iter().all(|p| !p.present), "{stats:?}");
}
