//! Breakout groups: a plenary splits into small groups, each a room of its own, and
//! comes back together.
//!
//! Why the plenary keeps the assignment: a person must be in exactly one place at a time,
//! and only one owner can promise that. The plenary already knows everyone (identity,
//! colour, hand, talk time), its journal already survives a restart, and its facilitator
//! already speaks to it; so the plenary's [`crate::Room`] decides who is in which group,
//! and each group is an ordinary room (its own floor, queue, reactions and statistics)
//! that admits only the people the plenary put there ([`GroupAccess`], which the server
//! turns into its directory of group rooms).
//!
//! People keep their plenary connection while in a group: warnings, notices and "call
//! everyone back" reach them there, and coming back needs no new identity: their plenary
//! hand, colour and place wait for them.
//!
//! This module holds the vocabulary (plans, views) and the pure parts (how people are
//! dealt into groups); the handlers are in `room/breakout.rs`.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::ids::{LinkId, ParticipantId, RoomId};
use crate::protocol::Role;

/// Fewest groups a facilitator may open.
pub const MIN_GROUPS: u32 = 2;
/// Most groups a facilitator may open.
pub const MAX_GROUPS: u32 = 20;
/// Longest group name or topic, in characters.
pub const MAX_GROUP_NAME_CHARS: usize = 60;
/// Longest text notice to every group, in characters.
pub const MAX_BREAKOUT_NOTICE_CHARS: usize = 280;
/// Longest breakout duration, in minutes.
pub const MAX_BREAKOUT_MINUTES: u32 = 240;
/// How long before the end every group is warned.
pub const ENDING_WARNING: Duration = Duration::from_secs(120);
/// Longest countdown of a call-back, in seconds.
pub const MAX_CALL_BACK_SECS: u32 = 300;
/// Closed rounds a room keeps for its report.
pub const MAX_ROUNDS_KEPT: usize = 50;

/// How people are dealt into groups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// Shuffled.
    #[default]
    Random,
    /// The plenary's talk time spread evenly (the most talkative dealt first, in a
    /// snake order), and co-facilitators one per group.
    Balanced,
    /// As the facilitator placed them (`manual` in the request).
    Manual,
    /// Nobody is placed: each person chooses a group, and may change it or come back to
    /// the plenary ([`crate::protocol::ClientMsg::ChooseGroup`]).
    Choose,
}

/// One group as everyone sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    /// 1-based number, stable for the round.
    pub no: u32,
    /// Its name or topic.
    pub name: String,
    /// The room that is the group (join it with the plenary link and this as `group`).
    pub room: RoomId,
    /// Who is in it, in the plenary's participant ids.
    pub members: Vec<ParticipantId>,
    /// Learners made this group's facilitators.
    pub leads: Vec<ParticipantId>,
    /// False once closed early: its people are back in the plenary.
    pub open: bool,
    /// Who in it asks for help, first asker first (absent: nobody).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub help: Vec<HelpView>,
}

/// One waiting request for help in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpView {
    /// Who asks (their plenary id).
    pub participant: ParticipantId,
    /// Since when, on the plenary's clock.
    pub since_ms: u64,
}

/// The breakout round as everyone sees it (`breakouts` messages and the snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakoutsView {
    /// 1 for the room's first round of breakouts, then 2, …
    pub round: u32,
    /// When it opened, on the plenary's clock.
    pub opened_ms: u64,
    /// When everyone is called back by themselves, on the plenary's clock; `null` for
    /// no time limit.
    pub ends_ms: Option<u64>,
    /// When everyone will be back after a facilitator's call-back with a countdown, on
    /// the plenary's clock (absent: no countdown runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closes_ms: Option<u64>,
    /// People choose their own group (and may change it or come back).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub choose: bool,
    /// Its groups.
    pub groups: Vec<GroupView>,
}

/// Who may enter one group room and as what: the plenary's word to the server's
/// directory of group rooms ([`crate::Output::Breakouts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupAccess {
    /// The group room.
    pub room: RoomId,
    /// Each admitted link with the role it has in the group and the person's plenary
    /// colour (kept in the group where free).
    pub people: Vec<(LinkId, Role, String)>,
}

/// One group while the round runs.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) name: String,
    pub members: Vec<ParticipantId>,
    pub leads: Vec<ParticipantId>,
    pub open: bool,
    /// Members asking for help, with since when (at most one entry per member).
    pub help: Vec<(ParticipantId, Instant)>,
}

/// A round of breakouts.
#[derive(Debug, Clone)]
pub(crate) struct Round {
    pub no: u32,
    pub opened: Instant,
    pub ends: Option<Instant>,
    pub warned: bool,
    /// When a call-back's countdown brings everyone back.
    pub closing: Option<Instant>,
    /// People choose their own group.
    pub choose: bool,
    pub groups: Vec<Group>,
}

impl Round {
    /// The open group `who` is in (0-based index).
    pub(crate) fn group_of(&self, who: ParticipantId) -> Option<usize> {
        self.groups.iter().position(|g| g.open && g.members.contains(&who))
    }

    /// Group number `no` (1-based), if it is open.
    pub(crate) fn open_group_mut(&mut self, no: u32) -> Option<&mut Group> {
        let i = no.checked_sub(1)? as usize;
        self.groups.get_mut(i).filter(|g| g.open)
    }

    /// The open group with the fewest people (ties: the lowest number).
    pub(crate) fn smallest(&self) -> Option<usize> {
        (0..self.groups.len())
            .filter(|i| self.groups[*i].open)
            .min_by_key(|i| self.groups[*i].members.len())
    }

    /// Takes `who` out of whatever group they are in (and its leads).
    pub(crate) fn take_out(&mut self, who: ParticipantId) -> bool {
        let mut found = false;
        for g in &mut self.groups {
            let before = g.members.len();
            g.members.retain(|p| *p != who);
            g.leads.retain(|p| *p != who);
            g.help.retain(|(p, _)| *p != who);
            found |= g.members.len() != before;
        }
        found
    }

    /// When everyone comes back: the end of a countdown or of the round's time,
    /// whichever is first.
    pub(crate) fn end(&self) -> Option<Instant> {
        [self.ends, self.closing].into_iter().flatten().min()
    }

    /// When the round next needs the room's attention: the warning, then the end.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let end = self.end()?;
        if let Some(ends) = self.ends
            && !self.warned
            && self.closing.is_none()
            && ends.saturating_duration_since(self.opened) > ENDING_WARNING
        {
            return Some(ends - ENDING_WARNING);
        }
        Some(end)
    }
}

/// The room id of group `no` of `round` in `plenary`.
pub fn group_room(plenary: &RoomId, round: u32, no: u32) -> RoomId {
    RoomId::group(plenary, round, no)
}

/// Deals `people` into `n` groups. `talk` gives each person's plenary talk time (for
/// [`Assignment::Balanced`]); `leads_first` are dealt one per group before anyone else
/// (co-facilitators kept apart); `seed` drives the shuffle, so the same inputs always
/// give the same groups (a room rebuilt from its journal deals as it did).
pub(crate) fn deal(
    people: &[ParticipantId],
    leads_first: &[ParticipantId],
    n: usize,
    how: Assignment,
    talk: impl Fn(ParticipantId) -> Duration,
    seed: u64,
) -> Vec<Vec<ParticipantId>> {
    let mut groups = vec![Vec::new(); n];
    let mut rng = SplitMix(seed);
    let mut first: Vec<ParticipantId> = leads_first.to_vec();
    let mut rest: Vec<ParticipantId> =
        people.iter().copied().filter(|p| !leads_first.contains(p)).collect();
    match how {
        Assignment::Balanced => {
            // Most talk first; ties by id (a stable order).
            rest.sort_by(|a, b| talk(*b).cmp(&talk(*a)).then(a.cmp(b)));
        }
        _ => {
            rng.shuffle(&mut first);
            rng.shuffle(&mut rest);
        }
    }
    // Snake order (1..n, n..1, …): with talk time sorted, each group gets a high and a
    // low talker in turn; with a shuffle it is as random as any other order.
    let order = |k: usize| {
        let lap = k / n;
        let i = k % n;
        if lap.is_multiple_of(2) { i } else { n - 1 - i }
    };
    for (k, p) in first.iter().chain(rest.iter()).enumerate() {
        groups[order(k)].push(*p);
    }
    // Small groups first in the snake leave the last groups a person short; fine.
    groups
}

/// A small deterministic generator (SplitMix64): shuffles must replay identically.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// A seed from values a replay sees again exactly (the room's sequence number, its id
/// and the request's time on the room's clock).
pub(crate) fn seed(room: &RoomId, seq: u64, at_ns: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in room.as_str().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h ^ seq.rotate_left(17) ^ at_ns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u32) -> Vec<ParticipantId> {
        (1..=n).map(ParticipantId).collect()
    }

    #[test]
    fn everyone_is_dealt_once_and_groups_differ_by_at_most_one() {
        for n in 2..=7 {
            for people in [n as u32, 12, 40] {
                let g = deal(&ids(people), &[], n, Assignment::Random, |_| Duration::ZERO, 7);
                let mut all: Vec<ParticipantId> = g.iter().flatten().copied().collect();
                all.sort();
                assert_eq!(all, ids(people));
                let sizes: Vec<usize> = g.iter().map(Vec::len).collect();
                let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(hi - lo <= 1, "{sizes:?}");
            }
        }
    }

    #[test]
    fn the_same_seed_deals_the_same_groups_and_another_seed_another() {
        let a = deal(&ids(12), &[], 3, Assignment::Random, |_| Duration::ZERO, 1);
        let b = deal(&ids(12), &[], 3, Assignment::Random, |_| Duration::ZERO, 1);
        let c = deal(&ids(12), &[], 3, Assignment::Random, |_| Duration::ZERO, 2);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn balanced_spreads_talk_time_and_keeps_leads_apart() {
        // Talk time 12, 11, …, 1 minutes: the two big talkers land in different groups.
        let talk =
            |p: ParticipantId| Duration::from_secs(60 * u64::from(13u32.saturating_sub(p.0)));
        let leads = [ParticipantId(20), ParticipantId(21)];
        let mut people = ids(12);
        people.extend(leads);
        let g = deal(&people, &leads, 2, Assignment::Balanced, talk, 0);
        assert!(g[0].contains(&leads[0]) != g[0].contains(&leads[1]), "{g:?}");
        let a = g.iter().position(|x| x.contains(&ParticipantId(1))).unwrap();
        let b = g.iter().position(|x| x.contains(&ParticipantId(2))).unwrap();
        assert_ne!(a, b, "the two biggest talkers are apart: {g:?}");
        let sums: Vec<u64> = g.iter().map(|x| x.iter().map(|p| talk(*p).as_secs()).sum()).collect();
        assert!(sums[0].abs_diff(sums[1]) <= 60, "{sums:?}");
    }
}
