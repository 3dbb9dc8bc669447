//! Session reports built from a room's journal: what became of every hand, the waits,
//! the balance after each turn, and a learner's summary that holds only their own.

use talkstick_signaling::protocol::{ClientMsg, HandKind, ReactionKind, Role};
use talkstick_signaling::report::{HandOutcome, SessionReport};
use talkstick_signaling::room::{DEFAULT_AUDIO_SLOTS, DEFAULT_CAPACITY};
use talkstick_signaling::{Entry, Origin};

use crate::common::Sim;

fn report(sim: &mut Sim, journal: &mut Vec<Entry>) -> SessionReport {
    journal.extend(sim.room.take_journal());
    // Through JSON, as the store keeps it.
    let text = serde_json::to_string(&journal).unwrap();
    let entries: Vec<Entry> = serde_json::from_str(&text).unwrap();
    let origin = Origin {
        id: sim.room.id().clone(),
        settings: Default::default(),
        epoch: sim.room.epoch(),
        audio_slots: DEFAULT_AUDIO_SLOTS,
        capacity: DEFAULT_CAPACITY,
    };
    let until = sim.now.duration_since(sim.t0).as_nanos() as u64;
    SessionReport::build(origin, entries, until).expect("the journal replays")
}

#[test]
fn every_hand_has_its_wait_and_outcome_and_a_learner_sees_only_their_own() {
    let mut sim = Sim::new().journaled();
    let mut journal = Vec::new();
    let fran = sim.facilitator("Fran");
    let aino = sim.learner("Aino");
    let bertil = sim.learner("Bertil");
    let chen = sim.learner("Chen");
    let dalia = sim.learner("Dalia");
    let emil = sim.learner("Emil");

    // Aino raises a point and takes the floor at once (served, no wait).
    sim.at_ms(1_000);
    sim.raise(aino, HandKind::NewPoint);
    sim.at_ms(2_000);
    sim.ok(aino, ClientMsg::AcceptFloor);
    // Three hands while she speaks; Chen agrees with her.
    sim.at_ms(3_000);
    sim.raise(bertil, HandKind::Reply);
    sim.raise(chen, HandKind::NewPoint);
    sim.raise(dalia, HandKind::NewPoint);
    sim.ok(chen, ClientMsg::React { reaction: ReactionKind::Agree });
    // Emil raises and lowers his.
    sim.at_ms(4_000);
    sim.raise(emil, HandKind::NewPoint);
    sim.at_ms(5_000);
    sim.ok(emil, ClientMsg::LowerHand);
    // Aino is done: Bertil (a reply) is offered the floor and passes.
    sim.at_ms(10_000);
    sim.ok(aino, ClientMsg::Yield);
    sim.at_ms(11_000);
    sim.ok(bertil, ClientMsg::DeclineFloor);
    // Chen is offered the floor and lets the offer run out (10 s).
    sim.run_to_ms(22_000);
    // Dalia takes it; the facilitator removes Emil's second hand; Chen tries again.
    sim.ok(dalia, ClientMsg::AcceptFloor);
    sim.at_ms(23_000);
    sim.raise(emil, HandKind::NewPoint);
    sim.ok(fran, ClientMsg::RemoveHand { participant: emil });
    sim.at_ms(25_000);
    sim.raise(chen, HandKind::NewPoint);
    sim.at_ms(30_000);
    sim.ok(dalia, ClientMsg::Yield);
    sim.at_ms(31_000);
    sim.ok(chen, ClientMsg::Chat { text: "thanks".into() });
    sim.run_to_ms(35_000);

    let r = report(&mut sim, &mut journal);
    let outcomes: Vec<(&str, HandOutcome, u64)> = r
        .hands
        .iter()
        .map(|h| {
            let name = r.people.iter().find(|p| p.stats.participant == h.participant).unwrap();
            (name.stats.name.as_str(), h.outcome, h.wait_ms)
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("Aino", HandOutcome::Served, 0),
            ("Bertil", HandOutcome::Declined, 7_000),
            ("Chen", HandOutcome::Lapsed, 8_000),
            ("Dalia", HandOutcome::Served, 18_000),
            ("Emil", HandOutcome::Lowered, 1_000),
            ("Emil", HandOutcome::Removed, 0),
            // Offered when Dalia yielded at 30 s, and still unanswered at 35 s.
            ("Chen", HandOutcome::Waiting, 5_000),
        ],
        "{:#?}",
        r.hands
    );
    assert_eq!(r.turns.len(), 2);
    assert_eq!(r.turns[0].tally.agree, 1);
    assert_eq!(r.balance.len(), 3, "after each of two turns, and at the end");
    assert!(r.balance.iter().all(|b| (0.0..=1.0).contains(&b.gini)));
    assert_eq!(r.duration_ms, 35_000);
    assert_eq!(r.chat.len(), 1);
    assert_eq!(
        r.people.iter().find(|p| p.stats.participant == fran).unwrap().role,
        Role::Facilitator
    );

    let aino_sees = r.summary_for("Aino").unwrap();
    assert_eq!(aino_sees.turns, 1);
    assert_eq!(aino_sees.talk_ms, 8_000);
    assert_eq!(aino_sees.reactions_received.agree, 1);
    assert!(aino_sees.hands.iter().all(|h| h.participant == aino));
    let chen_sees = r.summary_for("Chen").unwrap();
    assert_eq!(chen_sees.hands.len(), 2);
    assert!(chen_sees.hands.iter().all(|h| h.participant == chen));
    assert_eq!(chen_sees.turns, 0);
    assert!(r.summary_for("Nobody").is_none());
    // A summary names nobody else.
    let text = serde_json::to_string(&chen_sees).unwrap();
    for other in ["Aino", "Bertil", "Dalia", "Emil", "Fran"] {
        assert!(!text.contains(other), "{text}");
    }
}
