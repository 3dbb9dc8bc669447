//! Breakout groups in the plenary: opening (by count, by size, random, balanced, by
//! hand), moving, closing one group, calling everyone back, the round's warning and end,
//! late joiners, leads, and every refusal leaving the room as it was.

use talkstick_signaling::breakouts::BreakoutsView;
use talkstick_signaling::protocol::{
    Assignment, ClientMsg, FloorState, HandKind, NoticeKind, Role, ServerMsg,
};
use talkstick_signaling::{
    Audience, JoinRequest, LinkId, Output, ParticipantId, ResumeToken, RoomError,
};

use crate::common::{Sim, any_msg, sends};

/// A person with a link of their own (group rooms admit links).
fn linked(sim: &mut Sim, name: &str, role: Role) -> ParticipantId {
    let mut req = JoinRequest::new(name, role, ResumeToken(format!("r-{name}")));
    req.link = Some(LinkId(format!("link-{name}")));
    sim.join_req(req).0.expect("join").participant
}

/// A plenary with a facilitator and `n` learners.
fn plenary(n: usize) -> (Sim, ParticipantId, Vec<ParticipantId>) {
    let mut sim = Sim::new();
    let fac = linked(&mut sim, "Fran", Role::Facilitator);
    let learners = (0..n).map(|i| linked(&mut sim, &format!("L{i}"), Role::Learner)).collect();
    (sim, fac, learners)
}

fn open(groups: Option<u32>, size: Option<u32>, assign: Assignment) -> ClientMsg {
    ClientMsg::OpenBreakouts { groups, size, assign, names: vec![], minutes: None, manual: vec![] }
}

/// Two random groups for five minutes.
fn five_minutes() -> ClientMsg {
    ClientMsg::OpenBreakouts {
        groups: Some(2),
        size: None,
        assign: Assignment::Random,
        names: vec![],
        minutes: Some(5),
        manual: vec![],
    }
}

fn view(sim: &Sim) -> BreakoutsView {
    sim.room.breakouts().expect("breakouts are open")
}

/// Everyone placed is in exactly one open group.
fn placed(b: &BreakoutsView) -> Vec<ParticipantId> {
    let mut all: Vec<ParticipantId> =
        b.groups.iter().filter(|g| g.open).flat_map(|g| g.members.iter().copied()).collect();
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "someone is in two groups: {b:?}");
    all
}

fn access(outs: &[Output]) -> Vec<talkstick_signaling::breakouts::GroupAccess> {
    outs.iter()
        .rev()
        .find_map(|o| match o {
            Output::Breakouts { groups } => Some(groups.clone()),
            _ => None,
        })
        .expect("the server's directory was told")
}

#[test]
fn open_by_count_puts_every_learner_in_exactly_one_group_and_tells_everyone() {
    let (mut sim, fac, learners) = plenary(12);
    let outs = sim.ok(fac, open(Some(2), None, Assignment::Random));
    let b = view(&sim);
    assert_eq!(b.round, 1);
    assert_eq!(b.groups.len(), 2);
    assert_eq!(placed(&b), learners, "every learner, and not the facilitator who opened");
    for g in &b.groups {
        assert_eq!(g.members.len(), 6);
        assert!(g.name.starts_with("Group "), "{}", g.name);
        assert_eq!(g.room.as_str(), format!("test-room.1.{}", g.no));
    }
    let told = sends(&outs).into_iter().any(|(to, m)| {
        to == Audience::All && matches!(m, ServerMsg::Breakouts { breakouts: Some(_) })
    });
    assert!(told, "everyone hears of the groups");
    // The directory: each group's learners as learners, the facilitator in every group.
    let groups = access(&outs);
    assert_eq!(groups.len(), 2);
    for (g, a) in b.groups.iter().zip(&groups) {
        assert_eq!(a.room, g.room);
        assert_eq!(a.people.len(), 7);
        let facs: Vec<_> = a.people.iter().filter(|(_, r, _)| *r == Role::Facilitator).collect();
        assert_eq!(facs.len(), 1);
        assert_eq!(facs[0].0, LinkId("link-Fran".into()));
        // Each keeps their plenary colour.
        for (link, _, colour) in &a.people {
            let name = link.0.trim_start_matches("link-");
            let id = sim
                .room
                .participant_ids()
                .into_iter()
                .find(|p| sim.room.participant(*p).is_some_and(|v| v.name == name));
            assert_eq!(&sim.room.participant(id.unwrap()).unwrap().colour, colour);
        }
    }
    // The snapshot a late or returning page gets carries them too.
    assert_eq!(sim.room.snapshot(learners[0], sim.now).breakouts, Some(b));
}

#[test]
fn calling_everyone_back_empties_every_group_and_keeps_plenary_hands() {
    let (mut sim, fac, learners) = plenary(6);
    sim.ok(
        fac,
        ClientMsg::UpdateSettings {
            settings: talkstick_signaling::protocol::SettingsPatch {
                auto_offer: Some(false),
                ..Default::default()
            },
        },
    );
    sim.raise(learners[2], HandKind::NewPoint);
    sim.give_floor(fac, learners[0]);
    sim.ok(fac, open(Some(3), None, Assignment::Random));
    // The plenary's turn ended; the hand waits for everyone to come back.
    assert_eq!(sim.floor().state, FloorState::Free);
    assert_eq!(sim.room.queue_order(), vec![learners[2]]);
    let outs = sim.ok(fac, ClientMsg::CloseBreakouts { in_s: None });
    assert_eq!(sim.room.breakouts(), None);
    assert!(access(&outs).is_empty(), "no group admits anyone");
    assert!(any_msg(&outs, |m| matches!(m, ServerMsg::Breakouts { breakouts: None })));
    assert_eq!(sim.room.queue_order(), vec![learners[2]], "the plenary hand is kept");
    assert_eq!(sim.room.past_breakouts().len(), 1, "the round is kept for the report");
    // Round two gets new rooms.
    sim.ok(fac, open(Some(2), None, Assignment::Random));
    assert!(view(&sim).groups.iter().all(|g| g.room.as_str().starts_with("test-room.2.")));
}

#[test]
fn open_by_size_rounds_up_and_balanced_keeps_facilitators_and_big_talkers_apart() {
    let (mut sim, fac, learners) = plenary(11);
    sim.ok(fac, open(None, Some(5), Assignment::Random));
    assert_eq!(view(&sim).groups.len(), 3, "11 people in groups of about 5");
    sim.ok(fac, ClientMsg::CloseBreakouts { in_s: None });
    // Two co-facilitators and two big talkers.
    let co1 = linked(&mut sim, "Co1", Role::Facilitator);
    let co2 = linked(&mut sim, "Co2", Role::Facilitator);
    for (who, secs) in [(learners[0], 300), (learners[1], 280)] {
        sim.speaking(who, true);
        let at = sim.now.duration_since(sim.t0).as_millis() as u64 + secs * 1000;
        sim.run_to_ms(at);
        sim.speaking(who, false);
    }
    sim.ok(fac, open(Some(2), None, Assignment::Balanced));
    let b = view(&sim);
    let group_of = |p: ParticipantId| b.groups.iter().position(|g| g.members.contains(&p));
    assert_ne!(group_of(co1), group_of(co2), "co-facilitators apart: {b:?}");
    assert_ne!(group_of(learners[0]), group_of(learners[1]), "big talkers apart: {b:?}");
    assert!(group_of(co1).is_some() && group_of(fac).is_none());
}

#[test]
fn by_hand_places_exactly_who_was_listed() {
    let (mut sim, fac, l) = plenary(5);
    let manual = vec![vec![l[0], l[1]], vec![l[2]], vec![l[3]]];
    let msg = ClientMsg::OpenBreakouts {
        groups: None,
        size: None,
        assign: Assignment::Manual,
        names: vec!["Pricing".into(), "  ".into(), "Onboarding".into()],
        minutes: None,
        manual: manual.clone(),
    };
    sim.ok(fac, msg);
    let b = view(&sim);
    let got: Vec<Vec<ParticipantId>> = b.groups.iter().map(|g| g.members.clone()).collect();
    assert_eq!(got, manual);
    let names: Vec<&str> = b.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["Pricing", "Group 2", "Onboarding"]);
    assert!(!placed(&b).contains(&l[4]), "not listed: stays in the plenary");
}

#[test]
fn moving_closing_and_leads_keep_one_person_in_one_place() {
    let (mut sim, fac, l) = plenary(6);
    let manual = vec![vec![l[0], l[1], l[2]], vec![l[3], l[4], l[5]]];
    let msg = ClientMsg::OpenBreakouts {
        groups: Some(2),
        size: None,
        assign: Assignment::Manual,
        names: vec![],
        minutes: None,
        manual,
    };
    sim.ok(fac, msg);
    let outs = sim.ok(fac, ClientMsg::MoveToGroup { participant: l[0], group: 2 });
    assert_eq!(sim.room.group_of(l[0]), Some(2));
    let g1 = &access(&outs)[0];
    assert!(
        !g1.people.iter().any(|(link, _, _)| link.0 == "link-L0"),
        "group 1 no longer admits L0"
    );
    // Back to the plenary, and a refusal to move someone who is in no group there.
    sim.ok(fac, ClientMsg::MoveToGroup { participant: l[0], group: 0 });
    assert_eq!(sim.room.group_of(l[0]), None);
    assert_eq!(
        sim.refused(fac, ClientMsg::MoveToGroup { participant: l[0], group: 0 }),
        RoomError::NotInGroup(l[0])
    );
    // A lead facilitates their group (and only it).
    let outs = sim.ok(fac, ClientMsg::SetGroupLead { participant: l[3], lead: true });
    let groups = access(&outs);
    let role_in = |g: usize| {
        groups[g].people.iter().find(|(link, _, _)| link.0 == "link-L3").map(|(_, r, _)| *r)
    };
    assert_eq!((role_in(0), role_in(1)), (None, Some(Role::Facilitator)));
    // Closing group 2 brings its people back; closing the last open group ends the round.
    sim.ok(fac, ClientMsg::CloseGroup { group: 2 });
    let b = view(&sim);
    assert!(!b.groups[1].open && b.groups[1].members.is_empty());
    assert_eq!(placed(&b), vec![l[1], l[2]]);
    assert_eq!(
        sim.refused(fac, ClientMsg::MoveToGroup { participant: l[3], group: 2 }),
        RoomError::UnknownGroup(2)
    );
    sim.ok(fac, ClientMsg::CloseGroup { group: 1 });
    assert_eq!(sim.room.breakouts(), None);
}

#[test]
fn the_round_warns_two_minutes_before_its_end_then_calls_everyone_back() {
    let (mut sim, fac, _) = plenary(4);
    sim.ok(fac, five_minutes());
    let b = view(&sim);
    assert_eq!(b.ends_ms, Some(b.opened_ms + 300_000));
    let ending =
        |m: &ServerMsg| matches!(m, ServerMsg::Notice { kind: NoticeKind::BreakoutEnding, .. });
    let outs = sim.run_to_ms(179_000);
    assert!(!any_msg(&outs, ending), "no warning yet");
    let outs = sim.run_to_ms(181_000);
    let warned: Vec<_> = sends(&outs).into_iter().filter(|(_, m)| ending(m)).collect();
    assert_eq!(warned.len(), 1);
    assert_eq!(warned[0].0, Audience::All);
    assert!(
        matches!(warned[0].1, ServerMsg::Notice { message, .. } if message.contains("2 minutes"))
    );
    assert!(sim.room.breakouts().is_some());
    let outs = sim.run_to_ms(300_000);
    assert_eq!(sim.room.breakouts(), None, "called back at the end");
    assert!(any_msg(&outs, ending));
    assert!(access(&outs).is_empty());
}

#[test]
fn a_call_back_with_a_countdown_tells_everyone_then_brings_them_back_when_it_ends() {
    let (mut sim, fac, l) = plenary(4);
    sim.ok(fac, open(Some(2), None, Assignment::Random));
    let said = |outs: &[Output]| -> Vec<String> {
        sends(outs)
            .into_iter()
            .filter_map(|(to, m)| match m {
                ServerMsg::Notice { kind: NoticeKind::BreakoutEnding, message } => {
                    assert_eq!(to, Audience::All, "every group is told");
                    Some(message.clone())
                }
                _ => None,
            })
            .collect()
    };
    let outs = sim.ok(fac, ClientMsg::CloseBreakouts { in_s: Some(90) });
    assert_eq!(said(&outs), ["Back to the plenary in 1 minute 30 seconds: please finish up."]);
    let b = view(&sim);
    assert_eq!(b.closes_ms, Some(b.opened_ms + 90_000), "the page can count down");
    assert!(any_msg(
        &outs,
        |m| matches!(m, ServerMsg::Breakouts { breakouts: Some(v) } if v.closes_ms.is_some())
    ));
    assert_eq!(placed(&b).len(), 4, "the groups run on meanwhile");
    // Asking for a later end changes nothing and tells nobody; out of range is refused.
    let outs = sim.ok(fac, ClientMsg::CloseBreakouts { in_s: Some(120) });
    assert!(said(&outs).is_empty());
    assert_eq!(view(&sim).closes_ms, b.closes_ms);
    let e = sim.refused(fac, ClientMsg::CloseBreakouts { in_s: Some(301) });
    assert!(matches!(e, RoomError::InvalidBreakouts(ref w) if w.contains("301")), "{e:?}");
    let e = sim.refused(l[0], ClientMsg::CloseBreakouts { in_s: Some(10) });
    assert!(matches!(e, RoomError::Forbidden(_)), "{e:?}");
    // Sooner is kept: 30 s from 10 s on.
    sim.run_to_ms(10_000);
    let outs = sim.ok(fac, ClientMsg::CloseBreakouts { in_s: Some(30) });
    assert_eq!(said(&outs), ["Back to the plenary in 30 seconds: please finish up."]);
    assert_eq!(view(&sim).closes_ms, Some(b.opened_ms + 40_000));
    let outs = sim.run_to_ms(39_999);
    assert!(said(&outs).is_empty() && sim.room.breakouts().is_some(), "not before its end");
    let outs = sim.run_to_ms(40_000);
    assert_eq!(sim.room.breakouts(), None, "everyone is back when it ends");
    assert_eq!(said(&outs), ["Everyone is back in the plenary."]);
    assert!(access(&outs).is_empty(), "no group admits anyone");
    assert_eq!(sim.room.past_breakouts().len(), 1);
    // "Now" during a countdown calls everyone back at once.
    sim.ok(fac, open(Some(2), None, Assignment::Random));
    sim.ok(fac, ClientMsg::CloseBreakouts { in_s: Some(60) });
    sim.ok(fac, ClientMsg::CloseBreakouts { in_s: Some(0) });
    assert_eq!(sim.room.breakouts(), None);
}

#[test]
fn a_countdown_past_the_rounds_end_changes_nothing_and_a_shorter_one_skips_the_warning() {
    let (mut sim, fac, _) = plenary(4);
    sim.ok(fac, five_minutes());
    sim.run_to_ms(250_000);
    let outs = sim.ok(fac, ClientMsg::CloseBreakouts { in_s: Some(60) });
    assert!(!any_msg(&outs, |m| matches!(m, ServerMsg::Notice { .. })), "the round ends first");
    assert_eq!(view(&sim).closes_ms, None);
    sim.run_to_ms(300_000);
    assert_eq!(sim.room.breakouts(), None);
    // A countdown that ends before the 2-minute warning: no warning comes.
    sim.ok(fac, five_minutes());
    sim.ok(fac, ClientMsg::CloseBreakouts { in_s: Some(60) });
    let outs = sim.run_to_ms(360_000);
    let notices: Vec<String> = sends(&outs)
        .into_iter()
        .filter_map(|(_, m)| match m {
            ServerMsg::Notice { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(notices, ["Everyone is back in the plenary."]);
}

#[test]
fn where_people_choose_they_go_where_they_like_change_and_come_back_within_a_budget() {
    let (mut sim, fac, l) = plenary(5);
    sim.ok(fac, open(Some(3), None, Assignment::Choose));
    let b = view(&sim);
    assert!(b.choose);
    assert!(placed(&b).is_empty(), "nobody is placed: {b:?}");
    let outs = sim.ok(l[0], ClientMsg::ChooseGroup { group: 2 });
    assert_eq!(sim.room.group_of(l[0]), Some(2));
    let admits = |outs: &[Output], no: usize| {
        access(outs)[no - 1]
            .people
            .iter()
            .any(|(link, role, _)| link.0 == "link-L0" && *role == Role::Learner)
    };
    assert!(admits(&outs, 2), "group 2's room admits them as a learner");
    assert!(any_msg(&outs, |m| matches!(m, ServerMsg::Breakouts { breakouts: Some(_) })));
    // Changing groups takes them out of the old one; group 0 is the plenary.
    let outs = sim.ok(l[0], ClientMsg::ChooseGroup { group: 3 });
    assert!(admits(&outs, 3) && !admits(&outs, 2));
    assert_eq!(placed(&view(&sim)), vec![l[0]]);
    sim.ok(l[0], ClientMsg::ChooseGroup { group: 0 });
    assert_eq!(sim.room.group_of(l[0]), None);
    // Refusals change nothing.
    assert_eq!(sim.refused(l[1], ClientMsg::ChooseGroup { group: 0 }), RoomError::NotInGroup(l[1]));
    assert_eq!(sim.refused(l[2], ClientMsg::ChooseGroup { group: 4 }), RoomError::UnknownGroup(4));
    sim.ok(fac, ClientMsg::CloseGroup { group: 1 });
    assert_eq!(sim.refused(l[3], ClientMsg::ChooseGroup { group: 1 }), RoomError::UnknownGroup(1));
    // A budget: four changes at once, then one every two seconds (refused ones count).
    for group in [2, 3, 2, 3] {
        sim.ok(l[4], ClientMsg::ChooseGroup { group });
    }
    let e = sim.refused(l[4], ClientMsg::ChooseGroup { group: 2 });
    assert!(matches!(e, RoomError::TooManyMoves(_)), "{e:?}");
    assert_eq!(sim.room.group_of(l[4]), Some(3));
    sim.run_to_ms(2_000);
    sim.ok(l[4], ClientMsg::ChooseGroup { group: 2 });
    // A late joiner chooses too: nobody puts them anywhere.
    let late = linked(&mut sim, "Late", Role::Learner);
    assert_eq!(sim.room.group_of(late), None);
    sim.ok(late, ClientMsg::ChooseGroup { group: 2 });
    assert_eq!(sim.room.group_of(late), Some(2));
    // Where the facilitators place people, nobody moves themselves.
    sim.ok(fac, ClientMsg::CloseBreakouts { in_s: None });
    sim.ok(fac, open(Some(2), None, Assignment::Random));
    let before = view(&sim);
    let mine = sim.room.group_of(l[0]).unwrap();
    let e = sim.refused(l[0], ClientMsg::ChooseGroup { group: 3 - mine });
    assert_eq!(e, RoomError::GroupsPlaced);
    assert_eq!(view(&sim), before);
}

#[test]
fn late_joiners_land_in_the_smallest_group_and_leavers_leave_their_group() {
    let (mut sim, fac, l) = plenary(5);
    sim.ok(fac, open(Some(2), None, Assignment::Random));
    let small = view(&sim).groups.iter().min_by_key(|g| g.members.len()).unwrap().no;
    let late = linked(&mut sim, "Late", Role::Learner);
    assert_eq!(sim.room.group_of(late), Some(small));
    // A late facilitator is in no group, yet admitted to every one.
    let fac2 = linked(&mut sim, "Fac2", Role::Facilitator);
    assert_eq!(sim.room.group_of(fac2), None);
    assert!(
        sim.room.group_access().iter().all(|g| g.people.iter().any(|(l, _, _)| l.0 == "link-Fac2"))
    );
    // Someone who leaves the plenary is in no group any more.
    let leaver = l[0];
    sim.ok(leaver, ClientMsg::Leave);
    assert_eq!(sim.room.group_of(leaver), None);
    assert!(!placed(&view(&sim)).contains(&leaver));
}

#[test]
fn bad_plans_and_learners_are_refused_and_nothing_changes() {
    let (mut sim, fac, l) = plenary(4);
    assert_eq!(
        sim.refused(l[0], open(Some(2), None, Assignment::Random)),
        RoomError::Forbidden("open breakout groups")
    );
    for n in [0, 1, 21] {
        let e = sim.refused(fac, open(Some(n), None, Assignment::Random));
        assert!(matches!(e, RoomError::InvalidBreakouts(_)), "{n}: {e:?}");
    }
    let e = sim.refused(fac, open(Some(5), None, Assignment::Random));
    assert!(matches!(e, RoomError::InvalidBreakouts(ref w) if w.contains("4 people")), "{e:?}");
    for msg in [
        open(Some(2), Some(2), Assignment::Random),
        open(None, None, Assignment::Random),
        open(None, Some(0), Assignment::Random),
        ClientMsg::OpenBreakouts {
            groups: Some(2),
            size: None,
            assign: Assignment::Random,
            names: vec!["x".repeat(61)],
            minutes: None,
            manual: vec![],
        },
        ClientMsg::OpenBreakouts {
            groups: Some(2),
            size: None,
            assign: Assignment::Random,
            names: vec![],
            minutes: Some(0),
            manual: vec![],
        },
        ClientMsg::OpenBreakouts {
            groups: None,
            size: None,
            assign: Assignment::Manual,
            names: vec![],
            minutes: None,
            manual: vec![vec![l[0]], vec![l[0]]],
        },
    ] {
        let e = sim.refused(fac, msg.clone());
        assert!(matches!(e, RoomError::InvalidBreakouts(_)), "{msg:?}: {e:?}");
    }
    let unknown = ClientMsg::OpenBreakouts {
        groups: None,
        size: None,
        assign: Assignment::Manual,
        names: vec![],
        minutes: None,
        manual: vec![vec![l[0]], vec![ParticipantId(99)]],
    };
    assert_eq!(sim.refused(fac, unknown), RoomError::UnknownParticipant(ParticipantId(99)));
    // Nothing to act on before the groups open.
    assert_eq!(sim.refused(fac, ClientMsg::CloseBreakouts { in_s: None }), RoomError::NoBreakouts);
    assert_eq!(sim.refused(fac, ClientMsg::CloseGroup { group: 1 }), RoomError::NoBreakouts);
    let notice = ClientMsg::BreakoutNotice { text: "hello".into() };
    assert_eq!(sim.refused(fac, notice), RoomError::NoBreakouts);
    // Open; then the same refusals of a running round.
    sim.ok(fac, open(Some(2), None, Assignment::Random));
    assert_eq!(sim.refused(fac, open(Some(2), None, Assignment::Random)), RoomError::BreakoutsOpen);
    for group in [0, 3] {
        assert_eq!(
            sim.refused(fac, ClientMsg::CloseGroup { group }),
            RoomError::UnknownGroup(group)
        );
        let mv = ClientMsg::MoveToGroup { participant: l[0], group: group + 3 };
        assert_eq!(sim.refused(fac, mv), RoomError::UnknownGroup(group + 3));
    }
    let mv = ClientMsg::MoveToGroup { participant: ParticipantId(99), group: 1 };
    assert_eq!(sim.refused(fac, mv), RoomError::UnknownParticipant(ParticipantId(99)));
    let empty = ClientMsg::BreakoutNotice { text: "   ".into() };
    assert_eq!(sim.refused(fac, empty), RoomError::EmptyMessage);
    let long = ClientMsg::BreakoutNotice { text: "y".repeat(281) };
    assert!(matches!(sim.refused(fac, long), RoomError::InvalidBreakouts(_)));
    let lead_fac = ClientMsg::SetGroupLead { participant: fac, lead: true };
    assert!(matches!(sim.refused(fac, lead_fac), RoomError::NotInGroup(_)));
    for msg in [
        ClientMsg::MoveToGroup { participant: l[1], group: 1 },
        ClientMsg::CloseGroup { group: 1 },
        ClientMsg::CloseBreakouts { in_s: Some(30) },
        ClientMsg::BreakoutNotice { text: "hi".into() },
        ClientMsg::SetGroupLead { participant: l[1], lead: true },
    ] {
        assert!(matches!(sim.refused(l[0], msg), RoomError::Forbidden(_)));
    }
}

#[test]
fn a_notice_reaches_everyone_in_the_plenary_with_its_author() {
    let (mut sim, fac, _) = plenary(4);
    sim.ok(fac, open(Some(2), None, Assignment::Random));
    let outs = sim.ok(fac, ClientMsg::BreakoutNotice { text: " Five minutes left ".into() });
    let notices: Vec<_> = sends(&outs)
        .into_iter()
        .filter_map(|(to, m)| match m {
            ServerMsg::Notice { kind: NoticeKind::Breakout, message } => {
                Some((to, message.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(notices, vec![(Audience::All, "Fran: Five minutes left".to_owned())]);
}

#[test]
fn a_group_room_cannot_open_groups_and_admits_a_link_under_a_new_role() {
    let t0 = std::time::Instant::now();
    let id = talkstick_signaling::RoomId::group(&"course".parse().unwrap(), 1, 2);
    let mut room = talkstick_signaling::Room::new(id, Default::default(), t0);
    let mut req = JoinRequest::new("Lea", Role::Learner, ResumeToken("a".into()));
    req.link = Some(LinkId("lea".into()));
    req.colour = Some("#CC6677".into());
    let lea = room.join(t0, req.clone()).unwrap().participant;
    assert_eq!(room.participant(lea).unwrap().colour, "#CC6677", "the plenary colour");
    let mut fac_req = JoinRequest::new("Fran", Role::Facilitator, ResumeToken("f".into()));
    fac_req.link = Some(LinkId("fran".into()));
    fac_req.listen = true;
    let fran = room.join(t0, fac_req).unwrap().participant;
    assert!(room.participant(fran).unwrap().listening);
    assert!(!room.gate(fran), "listening in is never heard");
    let e = room.handle(
        t0,
        talkstick_signaling::Input::Client {
            from: fran,
            msg: open(Some(2), None, Assignment::Random),
        },
    );
    assert!(matches!(e, Err(RoomError::InvalidBreakouts(_))), "{e:?}");
    // Made the group's lead: the same link comes back as its facilitator, same person.
    req.role = Role::Facilitator;
    req.new_resume = ResumeToken("b".into());
    let again = room.join(t0, req).unwrap();
    assert_eq!(again.participant, lea);
    assert_eq!(room.role(lea), Some(Role::Facilitator));
}

/// The notices of `kind` in `outs`, with their audiences.
fn notices(outs: &[Output], kind: NoticeKind) -> Vec<(Audience, String)> {
    sends(outs)
        .into_iter()
        .filter_map(|(to, m)| match m {
            ServerMsg::Notice { kind: k, message } if *k == kind => Some((to, message.clone())),
            _ => None,
        })
        .collect()
}

fn asking(sim: &Sim, group: usize) -> Vec<ParticipantId> {
    view(sim).groups[group].help.iter().map(|h| h.participant).collect()
}

#[test]
fn someone_in_a_group_asks_for_help_and_a_facilitator_answers() {
    let (mut sim, fac, l) = plenary(4);
    assert_eq!(sim.refused(l[0], ClientMsg::AskForHelp), RoomError::NoBreakouts);
    sim.ok(
        fac,
        ClientMsg::OpenBreakouts {
            groups: None,
            size: None,
            assign: Assignment::Manual,
            names: vec!["Pricing".into(), "Onboarding".into()],
            minutes: None,
            manual: vec![vec![l[0], l[1]], vec![l[2]]],
        },
    );
    // Someone left in the plenary has no group to be helped in.
    assert_eq!(sim.refused(l[3], ClientMsg::AskForHelp), RoomError::NotInGroup(l[3]));
    sim.at_ms(5_000);
    let outs = sim.ok(l[0], ClientMsg::AskForHelp);
    assert_eq!(
        notices(&outs, NoticeKind::HelpAsked),
        vec![(Audience::Facilitators, "L0 asks for help in Pricing.".to_owned())]
    );
    assert_eq!(asking(&sim, 0), vec![l[0]]);
    assert_eq!(view(&sim).groups[0].help[0].since_ms, 5_000, "since when, on the room's clock");
    // Asking twice is asking once: nothing changes, nobody is told again.
    let outs = sim.ok(l[0], ClientMsg::AskForHelp);
    assert!(sends(&outs).is_empty(), "{outs:?}");
    // A second asker, who then takes it back.
    sim.ok(l[1], ClientMsg::AskForHelp);
    assert_eq!(asking(&sim, 0), vec![l[0], l[1]]);
    sim.ok(l[1], ClientMsg::WithdrawHelp);
    assert_eq!(asking(&sim, 0), vec![l[0]]);
    let outs = sim.ok(l[1], ClientMsg::WithdrawHelp);
    assert!(sends(&outs).is_empty(), "nothing to take back: {outs:?}");
    // Only facilitators answer, and only an open group.
    assert!(matches!(
        sim.refused(l[0], ClientMsg::AnswerHelp { group: 1 }),
        RoomError::Forbidden(_)
    ));
    for group in [0, 3] {
        let answer = ClientMsg::AnswerHelp { group };
        assert_eq!(sim.refused(fac, answer), RoomError::UnknownGroup(group));
    }
    let outs = sim.ok(fac, ClientMsg::AnswerHelp { group: 1 });
    assert_eq!(
        notices(&outs, NoticeKind::HelpAnswered),
        vec![(Audience::One(l[0]), "Fran has seen your request for help.".to_owned())]
    );
    assert!(asking(&sim, 0).is_empty());
    // Moved out of a group: the request goes with the person, not to the new group.
    sim.ok(l[2], ClientMsg::AskForHelp);
    sim.ok(fac, ClientMsg::MoveToGroup { participant: l[2], group: 1 });
    assert!(asking(&sim, 0).is_empty() && asking(&sim, 1).is_empty());
    // Called back: the round's report keeps no request, and there is nobody to ask.
    sim.ok(l[0], ClientMsg::AskForHelp);
    sim.ok(fac, ClientMsg::CloseBreakouts { in_s: None });
    assert!(sim.room.past_breakouts()[0].groups.iter().all(|g| g.help.is_empty()));
    assert_eq!(sim.refused(l[0], ClientMsg::AskForHelp), RoomError::NoBreakouts);
}
