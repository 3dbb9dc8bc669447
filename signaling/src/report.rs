//! Session reports, built from a room's journal.
//!
//! Why from the journal: the journal is already the one record of everything the room
//! decided (it is what a restart replays), so a report replays it too and watches the
//! room after each change, instead of keeping a second record that could disagree.
//! Hands (who waited how long, and what became of each), balance over time and the
//! turn timeline all fall out of that watch; talk time, turns and reactions are the
//! room's own statistics at the end.
//!
//! A facilitator's report has everyone; a learner's summary ([`SessionReport::summary_for`])
//! has only its holder, and no private notes are in either.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::ids::{ParticipantId, TurnId};
use crate::io::Input;
use crate::journal::{Change, Entry, Origin, ReplayError};
use crate::protocol::{ChatView, ClientMsg, HandKind, PersonStats, Role, Tally, TurnRecord};
use crate::room::Room;

/// What became of a raised hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandOutcome {
    /// Its owner took the floor.
    Served,
    /// Its owner lowered it.
    Lowered,
    /// Its owner passed when offered the floor.
    Declined,
    /// The offer ran out unanswered.
    Lapsed,
    /// A facilitator removed it (or cleared all hands).
    Removed,
    /// Its owner left the room.
    Left,
    /// Still up when the report was made (never served).
    Waiting,
}

/// One raised hand, from raise to outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandRecord {
    /// Whose.
    pub participant: ParticipantId,
    /// Reply or new point.
    pub kind: HandKind,
    /// Raised, ms on the room clock.
    pub raised_ms: u64,
    /// First offered the floor, if it was.
    pub offered_ms: Option<u64>,
    /// Ended, if it has.
    pub ended_ms: Option<u64>,
    /// What became of it.
    pub outcome: HandOutcome,
    /// Waited until offered (or until it ended, or until now), in ms.
    pub wait_ms: u64,
}

/// Talk-time balance at a moment: the Gini coefficient among those present (0 equal).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BalancePoint {
    /// ms on the room clock.
    pub at_ms: u64,
    /// Gini coefficient.
    pub gini: f64,
}

/// Someone who was in the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportPerson {
    /// Their statistics (talk time, turns, reactions, waits).
    #[serde(flatten)]
    pub stats: PersonStats,
    /// Their role.
    pub role: Role,
}

/// A session, as its facilitators see it afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionReport {
    /// Length so far, ms on the room clock.
    pub duration_ms: u64,
    /// Everyone who was there.
    pub people: Vec<ReportPerson>,
    /// Every turn (the timeline), with its reactions.
    pub turns: Vec<TurnRecord>,
    /// Every hand raised.
    pub hands: Vec<HandRecord>,
    /// Talk-time balance after each turn and at the end.
    pub balance: Vec<BalancePoint>,
    /// The chat as it stands (deleted messages are gone).
    pub chat: Vec<ChatView>,
    /// In a plenary: its breakout rounds (closed ones, then one still open), each with
    /// its groups' names, rooms and who was in them when it closed. Each group's own
    /// talk time and turns are in that group room's report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breakouts: Vec<crate::breakouts::BreakoutsView>,
}

/// One person's own view of a session: never anyone else's notes or numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnerSummary {
    /// Their name.
    pub name: String,
    /// Session length, ms.
    pub duration_ms: u64,
    /// Their talk time, ms.
    pub talk_ms: u64,
    /// Their turns.
    pub turns: u32,
    /// Their hands, each with its wait and outcome.
    pub hands: Vec<HandRecord>,
    /// Reactions others gave during their turns, by kind.
    pub reactions_received: Tally,
}

impl SessionReport {
    /// Builds the report of a room from its origin and journal, as at `until` on the
    /// room's clock (the end of the session, or now for one still running).
    pub fn build(
        origin: Origin,
        entries: impl IntoIterator<Item = Entry>,
        until_ns: u64,
    ) -> Result<SessionReport, ReplayError> {
        let epoch = origin.epoch;
        let ms = |t: Instant| t.saturating_duration_since(epoch).as_millis() as u64;
        let mut watch = Watch::default();
        let room = Room::replay_with(origin, entries, |room, change, now| {
            watch.after(room, change, ms(now));
        })?;
        let end = epoch + std::time::Duration::from_nanos(until_ns);
        let end = end.max(room_last(&room, epoch));
        let end_ms = ms(end);
        for (_, mut h) in std::mem::take(&mut watch.open) {
            h.outcome = HandOutcome::Waiting;
            h.wait_ms = h.offered_ms.unwrap_or(end_ms).saturating_sub(h.raised_ms);
            watch.hands.push(h);
        }
        watch.hands.sort_by_key(|h| (h.raised_ms, h.participant));
        let stats = room.stats(end);
        watch.balance.push(BalancePoint { at_ms: end_ms, gini: stats.gini });
        let people = stats
            .people
            .into_iter()
            .map(|p| {
                let role = watch.roles.get(&p.participant).copied().unwrap_or(Role::Learner);
                ReportPerson { stats: p, role }
            })
            .collect();
        Ok(SessionReport {
            duration_ms: end_ms,
            people,
            turns: stats.turns,
            hands: watch.hands,
            balance: watch.balance,
            chat: room.chat(),
            breakouts: room.past_breakouts().iter().cloned().chain(room.breakouts()).collect(),
        })
    }

    /// The summary for the person named `name` (as their link names them), or `None`
    /// if nobody of that name was there.
    pub fn summary_for(&self, name: &str) -> Option<LearnerSummary> {
        let ids: Vec<ParticipantId> = self
            .people
            .iter()
            .filter(|p| p.stats.name == name)
            .map(|p| p.stats.participant)
            .collect();
        if ids.is_empty() {
            return None;
        }
        let mine = |p: &ParticipantId| ids.contains(p);
        let mut reactions = Tally::default();
        for t in self.turns.iter().filter(|t| mine(&t.holder)) {
            reactions.merge(&t.tally);
        }
        let (talk_ms, turns) = self
            .people
            .iter()
            .filter(|p| mine(&p.stats.participant))
            .fold((0, 0), |(t, n), p| (t + p.stats.talk_ms, n + p.stats.turns));
        Some(LearnerSummary {
            name: name.to_owned(),
            duration_ms: self.duration_ms,
            talk_ms,
            turns,
            hands: self.hands.iter().filter(|h| mine(&h.participant)).cloned().collect(),
            reactions_received: reactions,
        })
    }
}

/// The latest time the room has seen (a report is never made before it).
fn room_last(room: &Room, epoch: Instant) -> Instant {
    room.last_now().max(epoch)
}

/// What the report follows while the journal replays.
#[derive(Default)]
struct Watch {
    /// Hands up or offered now, by owner.
    open: BTreeMap<ParticipantId, HandRecord>,
    /// Hands that ended.
    hands: Vec<HandRecord>,
    roles: BTreeMap<ParticipantId, Role>,
    last_turn: Option<TurnId>,
    balance: Vec<BalancePoint>,
}

impl Watch {
    fn after(&mut self, room: &Room, change: &Change, now_ms: u64) {
        for id in room.participant_ids() {
            if let Some(p) = room.participant(id) {
                self.roles.entry(id).or_insert(p.role);
            }
        }
        let queue = room.queue_view(None);
        let floor = room.floor_view(room.last_now());
        for h in &queue {
            self.open.entry(h.participant).or_insert(HandRecord {
                participant: h.participant,
                kind: h.kind,
                raised_ms: h.raised_ms,
                offered_ms: None,
                ended_ms: None,
                outcome: HandOutcome::Waiting,
                wait_ms: 0,
            });
        }
        if let Some(h) = floor.offered_to.and_then(|p| self.open.get_mut(&p)) {
            h.offered_ms.get_or_insert(now_ms);
        }
        let ended: Vec<ParticipantId> = self
            .open
            .keys()
            .copied()
            .filter(|p| !queue.iter().any(|h| h.participant == *p) && floor.offered_to != Some(*p))
            .collect();
        for p in ended {
            let Some(mut h) = self.open.remove(&p) else { continue };
            h.outcome = if floor.holder == Some(p) {
                HandOutcome::Served
            } else {
                outcome_of(room, change, p)
            };
            h.ended_ms = Some(now_ms);
            h.wait_ms = h.offered_ms.unwrap_or(now_ms).saturating_sub(h.raised_ms);
            self.hands.push(h);
        }
        let done = room.last_ended_turn();
        if done != self.last_turn {
            self.last_turn = done;
            self.balance
                .push(BalancePoint { at_ms: now_ms, gini: room.stats(room.last_now()).gini });
        }
    }
}

/// Why `p`'s hand ended, from the change that ended it.
fn outcome_of(room: &Room, change: &Change, p: ParticipantId) -> HandOutcome {
    if room.participant(p).is_none() {
        return HandOutcome::Left;
    }
    match change {
        Change::Input(Input::Client { from, msg }) => match msg {
            ClientMsg::LowerHand if *from == p => HandOutcome::Lowered,
            ClientMsg::DeclineFloor if *from == p => HandOutcome::Declined,
            ClientMsg::Leave if *from == p => HandOutcome::Left,
            _ => HandOutcome::Removed,
        },
        Change::Input(Input::Timeout) => HandOutcome::Lapsed,
        Change::Input(Input::Disconnected { .. }) => HandOutcome::Left,
        _ => HandOutcome::Removed,
    }
}
