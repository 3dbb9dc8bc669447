//! Time on the floor: the speaking-time limit (warning, soft, hard), the pause cue
//! ("floor open") and auto-advance after silence.

use talkstick_signaling::protocol::{
    ClientMsg, FloorState, HandKind, LimitAction, ServerMsg, SettingsPatch, TurnEnd,
};
use talkstick_signaling::{Audience, Output, TurnId};

use crate::common::*;

fn limited(action: LimitAction) -> Sim {
    Sim::with_settings(|s| {
        s.time_limit_ms = Some(60_000);
        s.warning_ms = 15_000;
        s.limit_action = action;
    })
}

fn warnings(outs: &[Output]) -> Vec<(TurnId, u64)> {
    sends(outs)
        .into_iter()
        .filter_map(|(to, m)| match m {
            ServerMsg::TimeWarning { turn, remaining_ms } => {
                assert_eq!(to, Audience::All);
                Some((*turn, *remaining_ms))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn the_time_limit_warns_then_a_soft_limit_says_time_is_up_and_keeps_the_holder() {
    let mut sim = limited(LimitAction::Soft);
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    sim.at_ms(1_000);
    sim.give_floor(f, a);
    sim.speaking(a, true);
    let floor = sim.floor();
    assert_eq!(floor.ends_ms, Some(61_000), "the countdown is visible");
    assert_eq!(sim.room.poll_timeout(), Some(sim.t0 + ms(46_000)));

    assert!(sim.run_to_ms(45_999).is_empty());
    let outs = sim.run_to_ms(46_000);
    assert_eq!(warnings(&outs), [(TurnId(1), 15_000)]);
    assert_held_by(&sim.floor(), a);

    assert!(sim.run_to_ms(60_999).is_empty());
    let outs = sim.run_to_ms(61_000);
    assert_eq!(
        count_msgs(&outs, |m| matches!(m, ServerMsg::TimeUp { turn } if *turn == TurnId(1))),
        1
    );
    assert!(!any_msg(&outs, |m| matches!(m, ServerMsg::TurnEnded { .. })));
    assert_held_by(&sim.floor(), a);
    assert_eq!(sim.room.poll_timeout(), None, "time up is said once");
    let outs = sim.run_to_ms(200_000);
    assert!(outs.is_empty());
    assert_held_by(&sim.floor(), a);
}

#[test]
fn a_hard_limit_revokes_the_floor_and_offers_the_next() {
    let mut sim = limited(LimitAction::Hard);
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    let b = sim.learner("B");
    sim.give_floor(f, a);
    sim.speaking(a, true);
    sim.raise(b, HandKind::NewPoint);
    let outs = sim.run_to_ms(60_000);
    assert_eq!(warnings(&outs), [(TurnId(1), 15_000)]);
    let ends: Vec<_> = sends(&outs)
        .into_iter()
        .filter_map(|(_, m)| match m {
            ServerMsg::TurnEnded { turn } => Some(turn.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].holder, a);
    assert_eq!(ends[0].ended, Some(TurnEnd::TimeLimit));
    assert_eq!(ends[0].end_ms, Some(60_000));
    assert!(!any_msg(&outs, |m| matches!(m, ServerMsg::TimeUp { .. })));
    assert_offered_to(&sim.floor(), b);
    assert!(msg_to(&outs, b, |m| matches!(m, ServerMsg::YoureUp { .. })).is_some());
}

#[test]
fn no_warning_when_the_warning_is_not_shorter_than_the_limit() {
    let mut sim = Sim::with_settings(|s| {
        s.time_limit_ms = Some(10_000);
        s.warning_ms = 15_000;
    });
    let f = sim.facilitator("F");
    sim.give_floor(f, f);
    sim.speaking(f, true);
    let outs = sim.run_to_ms(10_000);
    assert!(warnings(&outs).is_empty());
    assert!(any_msg(&outs, |m| matches!(m, ServerMsg::TimeUp { .. })));
}

#[test]
fn a_limit_set_mid_turn_counts_from_when_it_is_set_and_restarts_the_countdown_messages() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    sim.give_floor(f, a);
    sim.speaking(a, true);
    sim.at_ms(10_000);
    let outs = sim.patch(
        f,
        SettingsPatch {
            time_limit_ms: Some(Some(30_000)),
            warning_ms: Some(5_000),
            ..Default::default()
        },
    );
    assert_eq!(last_floor(&outs).unwrap().ends_ms, Some(40_000), "30 s from when it was set");
    let outs = sim.run_to_ms(39_999);
    assert_eq!(warnings(&outs), [(TurnId(1), 5_000)]);
    assert!(!any_msg(&outs, |m| matches!(m, ServerMsg::TimeUp { .. })));
    let outs = sim.run_to_ms(40_000);
    assert!(any_msg(&outs, |m| matches!(m, ServerMsg::TimeUp { .. })));
    // Turning the limit off clears the countdown.
    let outs = sim.patch(f, SettingsPatch { time_limit_ms: Some(None), ..Default::default() });
    assert_eq!(last_floor(&outs).unwrap().ends_ms, None);
}

#[test]
fn a_hard_limit_shorter_than_the_turn_so_far_warns_first_and_never_ends_the_turn_at_once() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    sim.give_floor(f, a);
    sim.speaking(a, true);
    sim.at_ms(20_000);
    let outs = sim.patch(
        f,
        SettingsPatch {
            time_limit_ms: Some(Some(10_000)),
            warning_ms: Some(3_000),
            limit_action: Some(LimitAction::Hard),
            ..Default::default()
        },
    );
    assert_held_by(&last_floor(&outs).unwrap(), a);
    assert_eq!(sim.room.holder(), Some(a), "still A's turn the moment the limit is set");
    let outs = sim.run_to_ms(29_999);
    assert_eq!(warnings(&outs), [(TurnId(1), 3_000)], "warned 3 s before the end");
    assert_eq!(sim.room.holder(), Some(a));
    let outs = sim.run_to_ms(30_000);
    assert_eq!(sim.room.holder(), None, "the hard limit ends the turn 10 s after it was set");
    assert!(any_msg(&outs, |m| matches!(m, ServerMsg::TurnEnded { .. })));
}

#[test]
fn the_pause_cue_opens_the_floor_after_pause_ms_and_speech_closes_it() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    let b = sim.learner("B");
    sim.give_floor(f, a);
    let outs = sim.speaking(a, true);
    assert!(
        sends(&outs)
            .contains(&(Audience::All, &ServerMsg::Speaking { participant: a, speaking: true }))
    );
    assert!(!sim.floor().open);
    assert_eq!(sim.room.poll_timeout(), None, "no deadline while the holder speaks");

    // Someone else's silence is no pause.
    sim.speaking(b, true);
    sim.at_ms(1_000);
    sim.speaking(b, false);
    assert_eq!(sim.room.poll_timeout(), None);

    sim.at_ms(5_000);
    sim.speaking(a, false);
    assert_eq!(sim.room.poll_timeout(), Some(sim.t0 + ms(7_000)));
    assert!(sim.run_to_ms(6_999).is_empty());
    let outs = sim.run_to_ms(7_000);
    let floor = last_floor(&outs).expect("the floor shows open");
    assert!(floor.open);
    assert_held_by(&floor, a);
    assert_eq!(sim.room.poll_timeout(), None, "no auto-advance by default");

    sim.at_ms(9_000);
    let outs = sim.speaking(a, true);
    let floor = last_floor(&outs).expect("speaking again closes it");
    assert!(!floor.open);
    assert_held_by(&floor, a);
}

#[test]
fn a_silent_new_holder_gets_the_pause_cue_too() {
    let mut sim = Sim::with_settings(|s| s.pause_ms = 3_000);
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    sim.at_ms(1_000);
    sim.give_floor(f, a);
    let outs = sim.run_to_ms(4_000);
    assert!(last_floor(&outs).unwrap().open);
}

#[test]
fn auto_advance_passes_the_floor_on_after_the_configured_silence() {
    let mut sim = Sim::with_settings(|s| s.auto_advance_ms = Some(8_000));
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    let b = sim.learner("B");
    sim.give_floor(f, a);
    sim.speaking(a, true);
    sim.raise(b, HandKind::NewPoint);
    sim.at_ms(10_000);
    sim.speaking(a, false);

    let outs = sim.run_to_ms(12_000);
    assert!(last_floor(&outs).unwrap().open, "the pause cue comes first");
    assert_held_by(&sim.floor(), a);
    // Speaking resets the silence clock.
    sim.at_ms(15_000);
    sim.speaking(a, true);
    sim.at_ms(16_000);
    sim.speaking(a, false);
    assert!(
        sim.run_to_ms(23_999)
            .iter()
            .all(|o| !matches!(o, Output::Send { msg: ServerMsg::TurnEnded { .. }, .. }))
    );
    let outs = sim.run_to_ms(24_000);
    let ends: Vec<_> = sends(&outs)
        .into_iter()
        .filter_map(|(_, m)| match m {
            ServerMsg::TurnEnded { turn } => Some((turn.holder, turn.ended)),
            _ => None,
        })
        .collect();
    assert_eq!(ends, [(a, Some(TurnEnd::Silence))]);
    assert_offered_to(&sim.floor(), b);
}

#[test]
fn auto_advance_with_an_empty_queue_frees_the_floor() {
    let mut sim = Sim::with_settings(|s| s.auto_advance_ms = Some(5_000));
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    sim.give_floor(f, a);
    sim.run_to_ms(5_000);
    assert_eq!(sim.floor().state, FloorState::Free);
    assert_eq!(sim.room.poll_timeout(), None);
    let _ = sim.ok(a, ClientMsg::Ping);
}
