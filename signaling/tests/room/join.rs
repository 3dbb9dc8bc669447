//! Joining, identity (initials, colours), resume within the grace period, time-outs and
//! leaving.

use talkstick_signaling::protocol::{
    ClientMsg, FloorState, HandKind, LeaveReason, PROTOCOL_VERSION, Role, ServerMsg, TurnEnd,
};
use talkstick_signaling::room::RESUME_GRACE;
use talkstick_signaling::{Audience, Input, JoinRequest, Output, ResumeToken, RoomError};

use crate::common::*;

#[test]
fn join_sends_a_welcome_to_the_joiner_and_joined_to_the_others() {
    let mut sim = Sim::new();
    let f = sim.facilitator("Aino Virtanen");
    sim.at_ms(1_500);
    let (res, outs) = sim.try_join("Matti", Role::Learner);
    let joined = res.unwrap();
    let m = joined.participant;
    assert!(!joined.resumed);
    assert_ne!(m, f);

    // The joiner gets the snapshot and nothing about their own arrival.
    let mine = inbox(&outs, m, Role::Learner);
    let ServerMsg::Welcome { protocol, you, room } = &mine[0] else {
        panic!("first message to the joiner is a welcome: {mine:?}");
    };
    assert_eq!(*protocol, PROTOCOL_VERSION);
    assert_eq!(you.id, m);
    assert_eq!(you.role, Role::Learner);
    assert!(!you.resumed);
    assert_eq!(you.resume_token, sim.token(m));
    assert_eq!(room.id.as_str(), "test-room");
    assert_eq!(room.now_ms, 1_500);
    assert_eq!(room.settings, *sim.room.settings());
    let ids: Vec<_> = room.participants.iter().map(|p| p.id).collect();
    assert_eq!(ids, [f, m]);
    assert!(room.queue.is_empty());
    assert_eq!(room.floor.state, FloorState::Free);
    assert!(!mine.iter().any(|m| matches!(m, ServerMsg::ParticipantJoined { .. })));

    // Everyone else hears about the joiner, and gets no welcome.
    let theirs = inbox(&outs, f, Role::Facilitator);
    assert!(!theirs.iter().any(|m| matches!(m, ServerMsg::Welcome { .. })));
    let joined_view = theirs
        .iter()
        .find_map(|msg| match msg {
            ServerMsg::ParticipantJoined { participant } => Some(participant.clone()),
            _ => None,
        })
        .expect("participant_joined to the others");
    assert_eq!(joined_view.id, m);
    assert_eq!(joined_view.name, "Matti");
    assert_eq!(joined_view.initials, "M");
    assert!(joined_view.connected);
    assert_eq!(Some(joined_view), sim.room.participant(m));

    // Open mode: the newcomer's audio is forwarded.
    assert_eq!(gates(&outs), [(m, true)]);
}

#[test]
fn the_welcome_carries_the_current_queue_and_floor() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    let b = sim.learner("B");
    sim.give_floor(f, a);
    sim.raise(b, HandKind::Reply);
    let (res, outs) = sim.try_join("C", Role::Learner);
    let c = res.unwrap().participant;
    let Some(ServerMsg::Welcome { room, .. }) =
        msg_to(&outs, c, |m| matches!(m, ServerMsg::Welcome { .. }))
    else {
        panic!("no welcome");
    };
    assert_held_by(&room.floor, a);
    assert_eq!(order(&room.queue), [b]);
    assert_eq!(room.queue[0].position, 1);
    assert_eq!(room.participants.len(), 4);
}

#[test]
fn colours_are_distinct_and_initials_come_from_the_name() {
    let mut sim = Sim::new();
    let names = ["Aino Virtanen", "matti", "Anna-Liisa de Korhonen", "élise ørsted", "   "];
    let ids: Vec<_> = names.iter().map(|n| sim.learner(n)).collect();
    let view = |i: usize| sim.room.participant(ids[i]).unwrap();
    assert_eq!(view(0).initials, "AV");
    assert_eq!(view(1).initials, "M");
    assert_eq!(view(2).initials, "AK");
    assert_eq!(view(3).initials, "ÉØ");
    assert_eq!(view(4).name, "Guest");
    assert_eq!(view(4).initials, "G");
    assert_eq!(
        view(0).colour,
        talkstick_signaling::colour::preferred("test-room", "Aino Virtanen")
    );

    // Beyond the palette colours stay distinct.
    for i in 0..20 {
        sim.learner(&format!("Person {i}"));
    }
    let mut colours: Vec<String> = sim
        .room
        .participant_ids()
        .iter()
        .map(|p| sim.room.participant(*p).unwrap().colour)
        .collect();
    let n = colours.len();
    colours.sort();
    colours.dedup();
    assert_eq!(colours.len(), n, "colours are distinct within the room");
}

#[test]
fn someone_who_rejoins_gets_their_colour_back_when_it_is_free() {
    let mut sim = Sim::new();
    let a = sim.learner("Aino");
    let _b = sim.learner("Bea");
    let c = sim.learner("Cai");
    let colour_c = sim.room.participant(c).unwrap().colour;
    sim.ok(a, ClientMsg::Leave);
    sim.ok(c, ClientMsg::Leave);
    // The first free colour is Aino's old one; Cai still gets theirs.
    let c2 = sim.learner("Cai");
    assert_ne!(c2, c, "a left participant comes back as someone new");
    assert_eq!(sim.room.participant(c2).unwrap().colour, colour_c);
}

#[test]
fn initials_are_unique_and_colours_follow_the_person_not_the_join_order() {
    let mut one = Sim::new();
    let a = one.learner("Aino Virtanen");
    let b = one.learner("Anna Virta");
    assert_eq!(one.room.participant(a).unwrap().initials, "AV");
    assert_eq!(one.room.participant(b).unwrap().initials, "AnV");
    // The same people joining in the other order, in a fresh room of the same name
    // (the next session, or after a restart): each keeps their colour where no clash
    // decides otherwise.
    let mut two = Sim::new();
    let b2 = two.learner("Anna Virta");
    let a2 = two.learner("Aino Virtanen");
    let colour = |sim: &Sim, p| sim.room.participant(p).unwrap().colour;
    let want = |name| talkstick_signaling::colour::preferred("test-room", name);
    if want("Aino Virtanen") != want("Anna Virta") {
        assert_eq!(colour(&one, a), colour(&two, a2));
        assert_eq!(colour(&one, b), colour(&two, b2));
    }
    assert_eq!(colour(&two, b2), want("Anna Virta"), "the first to join gets their own");
}

#[test]
fn resume_within_the_grace_period_keeps_id_colour_and_queue_place() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    let b = sim.learner("Bea");
    let c = sim.learner("C");
    sim.give_floor(f, a);
    sim.speaking(a, true); // no pause-cue deadline in the way
    sim.ok(b, ClientMsg::RaiseHand { kind: HandKind::NewPoint, note: Some("my point".into()) });
    sim.raise(c, HandKind::NewPoint);
    let before = sim.room.participant(b).unwrap();

    sim.at_ms(1_000);
    let (res, outs) = sim.input(Input::Disconnected { participant: b });
    res.unwrap();
    let updated = sends(&outs)
        .into_iter()
        .find_map(|(to, m)| match m {
            ServerMsg::ParticipantUpdated { participant } if to == Audience::All => {
                Some(participant.clone())
            }
            _ => None,
        })
        .expect("everyone sees the connection drop");
    assert_eq!(updated.id, b);
    assert!(!updated.connected);
    assert_eq!(sim.room.poll_timeout(), Some(sim.t0 + ms(1_000) + RESUME_GRACE));

    // Just inside the grace period.
    sim.run_to_ms(1_000 + 29_999);
    assert_eq!(sim.room.participant_ids().len(), 4);
    let (res, outs) = sim.resume(b);
    let joined = res.unwrap();
    assert_eq!(joined.participant, b);
    assert!(joined.resumed);

    let Some(ServerMsg::Welcome { you, room, .. }) =
        msg_to(&outs, b, |m| matches!(m, ServerMsg::Welcome { .. }))
    else {
        panic!("a resumed participant gets a new snapshot");
    };
    assert!(you.resumed);
    assert_eq!(you.id, b);
    assert_eq!(you.resume_token, sim.token(b));
    assert_eq!(order(&room.queue), [b, c]);
    assert_eq!(room.queue[0].note.as_deref(), Some("my point"));
    assert_held_by(&room.floor, a);

    // Others see the same person come back, not a newcomer.
    assert!(!any_msg(&outs, |m| matches!(m, ServerMsg::ParticipantJoined { .. })));
    let theirs = inbox(&outs, f, Role::Facilitator);
    let back = theirs
        .iter()
        .find_map(|m| match m {
            ServerMsg::ParticipantUpdated { participant } => Some(participant.clone()),
            _ => None,
        })
        .expect("participant_updated to the others");
    assert!(back.connected);
    assert_eq!(back.colour, before.colour);
    assert_eq!(sim.room.participant(b).unwrap(), before);
    assert_eq!(sim.room.queue_order(), [b, c]);

    // The grace timer is gone: nobody is removed later.
    assert_eq!(sim.room.poll_timeout(), None);
    let outs = sim.run_to_ms(120_000);
    assert!(!any_msg(&outs, |m| matches!(m, ServerMsg::ParticipantLeft { .. })));
    assert_eq!(sim.room.participant_ids().len(), 4);
}

#[test]
fn resume_needs_the_same_name_and_role() {
    let mut sim = Sim::new();
    let a = sim.learner("Aino");
    sim.input(Input::Disconnected { participant: a }).0.unwrap();
    let req = JoinRequest {
        name: "Mallory".into(),
        role: Role::Facilitator,
        resume: Some(sim.token(a)),
        new_resume: ResumeToken("other".into()),
        link: None,
        listen: false,
        colour: None,
    };
    let (res, _) = sim.join_req(req);
    let joined = res.unwrap();
    assert_ne!(joined.participant, a);
    assert!(!joined.resumed);
}

#[test]
fn after_the_grace_period_a_participant_times_out_and_their_hand_leaves_the_queue() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    let b = sim.learner("B");
    let c = sim.learner("C");
    sim.give_floor(f, a);
    sim.speaking(a, true); // no pause-cue deadline in the way
    sim.raise(b, HandKind::NewPoint);
    sim.raise(c, HandKind::NewPoint);

    sim.at_ms(5_000);
    sim.input(Input::Disconnected { participant: b }).0.unwrap();
    let deadline = sim.t0 + ms(5_000) + RESUME_GRACE;
    assert_eq!(sim.room.poll_timeout(), Some(deadline));

    let outs = sim.run_to_ms(34_999);
    assert!(outs.is_empty(), "nothing before the deadline: {outs:?}");
    assert!(sim.room.participant(b).is_some());

    let outs = sim.run_to_ms(35_000);
    let left: Vec<_> = sends(&outs)
        .into_iter()
        .filter_map(|(to, m)| match m {
            ServerMsg::ParticipantLeft { participant, reason } => Some((to, *participant, *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(left, [(Audience::All, b, LeaveReason::TimedOut)]);
    assert_eq!(order(&last_queue(&outs, Audience::Learners).unwrap()), [c]);
    assert_eq!(order(&last_queue(&outs, Audience::Facilitators).unwrap()), [c]);
    assert!(outs.contains(&Output::Gate { participant: b, forward: false }));
    assert_eq!(sim.room.participant(b), None);
    assert_eq!(sim.room.queue_order(), [c]);
    let stats = sim.stats();
    let gone = stats.people.iter().find(|p| p.participant == b).unwrap();
    assert!(!gone.present);

    // The old token no longer resumes anything.
    let (res, _) = sim.resume(b);
    let joined = res.unwrap();
    assert_ne!(joined.participant, b);
    assert!(!joined.resumed);
}

#[test]
fn a_holder_who_times_out_ends_their_turn_and_the_floor_moves_on() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    let b = sim.learner("B");
    sim.give_floor(f, a);
    sim.raise(b, HandKind::Reply);
    sim.input(Input::Disconnected { participant: a }).0.unwrap();
    assert_eq!(sim.room.holder(), Some(a), "the holder keeps the floor in the grace period");
    let outs = sim.run_to_ms(30_000);
    let left_turn = |m: &ServerMsg| match m {
        ServerMsg::TurnEnded { turn } => turn.holder == a && turn.ended == Some(TurnEnd::Left),
        _ => false,
    };
    assert!(any_msg(&outs, left_turn));
    assert_offered_to(&sim.floor(), b);
    assert!(msg_to(&outs, b, |m| matches!(m, ServerMsg::YoureUp { .. })).is_some());
}

#[test]
fn a_lapsed_resume_token_joins_afresh_even_before_the_timer_fires() {
    let mut sim = Sim::new();
    let a = sim.learner("Aino");
    sim.input(Input::Disconnected { participant: a }).0.unwrap();
    // The driver has not delivered the timeout yet when the join arrives.
    sim.at_ms(30_000);
    let (res, _) = sim.resume(a);
    let joined = res.unwrap();
    assert!(!joined.resumed, "a token past its grace period must not resume");
    assert_ne!(joined.participant, a);
}

#[test]
fn leave_says_goodbye_closes_and_tells_everyone() {
    let mut sim = Sim::new();
    let f = sim.facilitator("F");
    let a = sim.learner("A");
    let b = sim.learner("B");
    sim.give_floor(f, b);
    sim.raise(a, HandKind::NewPoint);
    let outs = sim.ok(a, ClientMsg::Leave);
    assert!(msg_to(&outs, a, |m| matches!(m, ServerMsg::Goodbye { .. })).is_some());
    assert!(outs.contains(&Output::Close { participant: a }));
    assert!(any_msg(&outs, |m| matches!(
        m,
        ServerMsg::ParticipantLeft { participant, reason: LeaveReason::Left } if *participant == a
    )));
    assert_eq!(last_queue(&outs, Audience::Learners), Some(vec![]));
    assert!(sim.room.participant(a).is_none());
    // Leaving is for good: the token does not resume.
    let (res, _) = sim.resume(a);
    assert!(!res.unwrap().resumed);
}

#[test]
fn a_full_room_refuses_the_join_without_any_output() {
    let mut sim = Sim::new();
    sim.room.set_capacity(2);
    sim.learner("A");
    sim.learner("B");
    let before = state(&sim.room, sim.now);
    let (res, outs) = sim.try_join("C", Role::Learner);
    assert_eq!(res.unwrap_err(), RoomError::RoomFull(2));
    assert!(outs.is_empty());
    assert_eq!(before, state(&sim.room, sim.now));
}

#[test]
fn join_twice_on_one_connection_is_refused() {
    let mut sim = Sim::new();
    let a = sim.learner("A");
    let err = sim.refused(
        a,
        ClientMsg::Join {
            v: PROTOCOL_VERSION,
            token: "t".into(),
            resume: None,
            group: None,
            listen: false,
        },
    );
    assert_eq!(err, RoomError::AlreadyJoined);
}

#[test]
fn names_that_the_room_tidies_up_still_resume() {
    let long = "L".repeat(100);
    for raw in ["  Aino  ", "   ", long.as_str()] {
        let mut sim = Sim::new();
        let a = sim.learner(raw);
        sim.input(Input::Disconnected { participant: a }).0.unwrap();
        sim.at_ms(1_000);
        // The edge presents the same token claims again: the raw name.
        let (res, _) = sim.resume(a);
        let joined = res.unwrap();
        assert!(joined.resumed, "{raw:?} did not resume");
        assert_eq!(joined.participant, a);
    }
}

/// One link, one person: joining again with the same link takes over the same
/// participant (present or within the grace period), and ten thousand join-and-leave
/// cycles leave the room holding one person's statistics, not ten thousand.
#[test]
fn one_link_is_one_person_and_memory_stays_flat() {
    use talkstick_signaling::LinkId;
    use talkstick_signaling::room::{MAX_DEPARTED, MAX_HISTORY};
    let mut sim = Sim::new();
    let f = sim.facilitator("Fiona");
    let link = Some(LinkId("link-of-aino".into()));
    let req = |k: u32| JoinRequest {
        name: "Aino".into(),
        role: Role::Learner,
        resume: None,
        new_resume: ResumeToken(format!("r{k}")),
        link: link.clone(),
        listen: false,
        colour: None,
    };
    let first = sim.room.join(sim.now, req(0)).unwrap();
    assert!(!first.resumed);
    // The same link again, while connected: the same participant.
    let again = sim.room.join(sim.now, req(1)).unwrap();
    assert_eq!((again.participant, again.resumed), (first.participant, true));
    assert_eq!(sim.room.participant_ids().len(), 2);
    sim.drain();
    // Join, take a turn, leave; ten thousand times.
    for k in 2..10_002u32 {
        let j = sim.room.join(sim.now, req(k)).unwrap();
        sim.ok(f, ClientMsg::Grant { participant: j.participant });
        sim.ok(j.participant, ClientMsg::AcceptFloor);
        sim.at_ms(u64::from(k) * 10);
        sim.ok(j.participant, ClientMsg::Leave);
        sim.drain();
        assert!(sim.room.participant_ids().len() <= 2, "one person at a time");
    }
    let stats = sim.stats();
    let ainos: Vec<_> = stats.people.iter().filter(|p| p.name == "Aino").collect();
    assert_eq!(ainos.len(), 1, "one entry for one person");
    assert_eq!(ainos[0].turns, 10_000, "every turn counted");
    assert!(stats.people.len() <= MAX_DEPARTED + 2);
    assert_eq!(stats.turns.len(), MAX_HISTORY, "the report keeps the latest turns");
}
