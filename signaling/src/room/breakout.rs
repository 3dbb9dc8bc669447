//! The plenary's breakout handlers (see [`crate::breakouts`] for why the plenary owns
//! the assignment): open, move one person (or oneself, where people choose), close one
//! group, call everyone back (now or after a countdown), a text
//! notice to every group, group leads; the round's warning and end; and what the plenary
//! tells everyone (`breakouts`) and the server (who may enter which group room).
//!
//! As everywhere in the room, each handler checks everything first and changes nothing
//! on refusal.

use std::time::{Duration, Instant};

use super::{Audience, Room};
use crate::breakouts::{
    self, Assignment, BreakoutsView, ENDING_WARNING, Group, GroupAccess, GroupView, HelpView,
    MAX_BREAKOUT_MINUTES, MAX_BREAKOUT_NOTICE_CHARS, MAX_CALL_BACK_SECS, MAX_GROUP_NAME_CHARS,
    MAX_GROUPS, MAX_ROUNDS_KEPT, MIN_GROUPS, Round,
};
use crate::error::RoomError;
use crate::floor::Floor;
use crate::ids::ParticipantId;
use crate::io::Output;
use crate::protocol::{NoticeKind, Role, ServerMsg, TurnEnd};

/// What a facilitator asked for in `open_breakouts`.
pub(super) struct Plan {
    pub groups: Option<u32>,
    pub size: Option<u32>,
    pub assign: Assignment,
    pub names: Vec<String>,
    pub minutes: Option<u32>,
    pub manual: Vec<Vec<ParticipantId>>,
}

impl Room {
    /// The open round as everyone sees it.
    pub fn breakouts(&self) -> Option<BreakoutsView> {
        self.round.as_ref().map(|r| self.round_view(r))
    }

    /// Closed rounds, oldest first (for the report).
    pub fn past_breakouts(&self) -> &[BreakoutsView] {
        &self.past_rounds
    }

    /// The open group `who` is in (1-based), if any.
    pub fn group_of(&self, who: ParticipantId) -> Option<u32> {
        self.round.as_ref()?.group_of(who).map(|i| i as u32 + 1)
    }

    fn round_view(&self, r: &Round) -> BreakoutsView {
        let groups = r
            .groups
            .iter()
            .zip(1..)
            .map(|(g, no)| GroupView {
                no,
                name: g.name.clone(),
                room: breakouts::group_room(&self.id, r.no, no),
                members: g.members.clone(),
                leads: g.leads.clone(),
                open: g.open,
                help: g
                    .help
                    .iter()
                    .map(|(participant, since)| HelpView {
                        participant: *participant,
                        since_ms: self.ms(*since),
                    })
                    .collect(),
            })
            .collect();
        BreakoutsView {
            round: r.no,
            opened_ms: self.ms(r.opened),
            ends_ms: r.ends.map(|t| self.ms(t)),
            closes_ms: r.closing.map(|t| self.ms(t)),
            choose: r.choose,
            groups,
        }
    }

    pub(super) fn open_breakouts(
        &mut self,
        now: Instant,
        by: ParticipantId,
        plan: Plan,
    ) -> Result<(), RoomError> {
        let invalid = |why: String| Err(RoomError::InvalidBreakouts(why));
        if self.id.is_group() {
            return invalid("a breakout group cannot open groups of its own".into());
        }
        if self.round.is_some() {
            return Err(RoomError::BreakoutsOpen);
        }
        // Everyone but the facilitator who opens (they move between the groups).
        let people: Vec<ParticipantId> =
            self.participants.keys().copied().filter(|p| *p != by).collect();
        let manual = plan.assign == Assignment::Manual;
        let choose = plan.assign == Assignment::Choose;
        let n = match (plan.groups, plan.size, manual) {
            (Some(g), None, _) => g,
            (None, None, true) => plan.manual.len() as u32,
            (None, Some(0), _) => return invalid("a group size must be at least 1".into()),
            (None, Some(s), false) => (people.len() as u32).div_ceil(s),
            _ => return invalid("give either a number of groups or a group size".into()),
        };
        if !(MIN_GROUPS..=MAX_GROUPS).contains(&n) {
            return invalid(format!(
                "{n} groups: a plenary opens between {MIN_GROUPS} and {MAX_GROUPS}"
            ));
        }
        if !manual && !choose && (n as usize) > people.len() {
            return invalid(format!("{} people cannot fill {n} groups", people.len()));
        }
        if manual && plan.manual.len() != n as usize {
            return invalid(format!("manual lists {} groups, not {n}", plan.manual.len()));
        }
        if !manual && !plan.manual.is_empty() {
            return invalid("people are placed by hand only with \"assign\": \"manual\"".into());
        }
        if plan.names.len() > n as usize {
            return invalid(format!("{} names for {n} groups", plan.names.len()));
        }
        let mut names = Vec::with_capacity(n as usize);
        for k in 0..n as usize {
            let name = plan.names.get(k).map_or("", |s| s.trim());
            let chars = name.chars().count();
            if chars > MAX_GROUP_NAME_CHARS {
                return invalid(format!(
                    "group {} has a name of {chars} characters; the limit is {MAX_GROUP_NAME_CHARS}",
                    k + 1
                ));
            }
            names.push(if name.is_empty() { format!("Group {}", k + 1) } else { name.to_owned() });
        }
        let ends = match plan.minutes {
            None => None,
            Some(m) if (1..=MAX_BREAKOUT_MINUTES).contains(&m) => {
                Some(now + Duration::from_secs(60 * u64::from(m)))
            }
            Some(m) => {
                return invalid(format!("{m} minutes is outside 1..={MAX_BREAKOUT_MINUTES}"));
            }
        };
        let dealt = if manual {
            let mut seen = Vec::new();
            for who in plan.manual.iter().flatten() {
                if !self.participants.contains_key(who) {
                    return Err(RoomError::UnknownParticipant(*who));
                }
                if seen.contains(who) {
                    return invalid(format!("{who} is placed in two groups"));
                }
                seen.push(*who);
            }
            plan.manual
        } else if choose {
            vec![Vec::new(); n as usize]
        } else {
            let leads: Vec<ParticipantId> = if plan.assign == Assignment::Balanced {
                people
                    .iter()
                    .copied()
                    .filter(|p| self.role(*p) == Some(Role::Facilitator))
                    .collect()
            } else {
                Vec::new()
            };
            let talk = |p: ParticipantId| {
                self.participants.get(&p).map_or(Duration::ZERO, |p| p.talk_at(now))
            };
            let at_ns = now.saturating_duration_since(self.epoch).as_nanos() as u64;
            let seed = breakouts::seed(&self.id, self.seq, at_ns);
            breakouts::deal(&people, &leads, n as usize, plan.assign, talk, seed)
        };
        // Sure to succeed from here. The plenary's floor waits: a turn ends, an offer is
        // withdrawn (the hand stays, for when everyone is back).
        match self.floor {
            Floor::Held(_) => self.end_turn(now, TurnEnd::Revoked),
            Floor::Offered { .. } | Floor::Discussion { .. } => self.free_floor(now),
            Floor::Free { .. } => {}
        }
        self.rounds += 1;
        let groups = names
            .into_iter()
            .zip(dealt)
            .map(|(name, members)| Group {
                name,
                members,
                leads: Vec::new(),
                open: true,
                help: Vec::new(),
            })
            .collect();
        self.round = Some(Round {
            no: self.rounds,
            opened: now,
            ends,
            warned: false,
            closing: None,
            choose,
            groups,
        });
        self.breakouts_dirty = true;
        Ok(())
    }

    pub(super) fn move_to_group(
        &mut self,
        who: ParticipantId,
        group: u32,
    ) -> Result<(), RoomError> {
        let round = self.round.as_ref().ok_or(RoomError::NoBreakouts)?;
        if !self.participants.contains_key(&who) {
            return Err(RoomError::UnknownParticipant(who));
        }
        let now_in = round.group_of(who);
        if group == 0 {
            now_in.ok_or(RoomError::NotInGroup(who))?;
        } else {
            let open = round.groups.get(group as usize - 1).is_some_and(|g| g.open);
            if !open {
                return Err(RoomError::UnknownGroup(group));
            }
            if now_in == Some(group as usize - 1) {
                return Ok(());
            }
        }
        let round = self.round.as_mut().ok_or(RoomError::NoBreakouts)?;
        round.take_out(who);
        if group > 0 {
            round.groups[group as usize - 1].members.push(who);
        }
        self.breakouts_dirty = true;
        Ok(())
    }

    /// Someone goes into the group of their choice (0: back to the plenary), in a round
    /// where people choose; in any other round the facilitators place people.
    pub(super) fn choose_group(&mut self, who: ParticipantId, group: u32) -> Result<(), RoomError> {
        let round = self.round.as_ref().ok_or(RoomError::NoBreakouts)?;
        if !round.choose {
            return Err(RoomError::GroupsPlaced);
        }
        self.move_to_group(who, group)
    }

    pub(super) fn close_group(&mut self, now: Instant, group: u32) -> Result<(), RoomError> {
        let round = self.round.as_mut().ok_or(RoomError::NoBreakouts)?;
        let g = round.open_group_mut(group).ok_or(RoomError::UnknownGroup(group))?;
        g.open = false;
        g.members.clear();
        g.leads.clear();
        g.help.clear();
        self.breakouts_dirty = true;
        if round.groups.iter().all(|g| !g.open) {
            self.close_breakouts(now)?;
        }
        Ok(())
    }

    /// "Call everyone back": at once (`in_s` 0), or when a countdown of `in_s` seconds
    /// ends, so the groups can finish their sentence. Everyone is told how long they have.
    /// A countdown already running is only ever shortened (asking for a later end
    /// changes nothing): what people were told stays true or comes sooner.
    pub(super) fn call_back(&mut self, now: Instant, in_s: u32) -> Result<(), RoomError> {
        let round = self.round.as_ref().ok_or(RoomError::NoBreakouts)?;
        if in_s > MAX_CALL_BACK_SECS {
            return Err(RoomError::InvalidBreakouts(format!(
                "a call-back in {in_s} s is outside 0..={MAX_CALL_BACK_SECS}"
            )));
        }
        if in_s == 0 {
            return self.close_breakouts(now);
        }
        let at = now + Duration::from_secs(u64::from(in_s));
        if round.end().is_some_and(|end| end <= at) {
            return Ok(());
        }
        let round = self.round.as_mut().ok_or(RoomError::NoBreakouts)?;
        round.closing = Some(at);
        self.breakouts_dirty = true;
        let message = format!("Back to the plenary in {}: please finish up.", countdown(in_s));
        let kind = NoticeKind::BreakoutEnding;
        self.broadcast(Audience::All, ServerMsg::Notice { kind, message });
        Ok(())
    }

    /// Everyone back to the plenary: every group closes, the round is kept for the
    /// report, and the plenary's floor goes on.
    pub(super) fn close_breakouts(&mut self, now: Instant) -> Result<(), RoomError> {
        let round = self.round.take().ok_or(RoomError::NoBreakouts)?;
        if self.past_rounds.len() == MAX_ROUNDS_KEPT {
            self.past_rounds.remove(0);
        }
        let mut view = self.round_view(&round);
        // The report keeps who was where, not requests nobody needs to answer now, nor a
        // countdown that may have been cut short.
        view.closes_ms = None;
        for g in &mut view.groups {
            g.help.clear();
        }
        self.past_rounds.push(view);
        self.breakouts_dirty = true;
        self.maybe_offer(now);
        Ok(())
    }

    pub(super) fn breakout_notice(
        &mut self,
        by: ParticipantId,
        text: &str,
    ) -> Result<(), RoomError> {
        if self.round.is_none() {
            return Err(RoomError::NoBreakouts);
        }
        let text = text.trim();
        let chars = text.chars().count();
        if chars == 0 {
            return Err(RoomError::EmptyMessage);
        }
        if chars > MAX_BREAKOUT_NOTICE_CHARS {
            return Err(RoomError::InvalidBreakouts(format!(
                "the notice has {chars} characters; the limit is {MAX_BREAKOUT_NOTICE_CHARS}"
            )));
        }
        let name = self.participants.get(&by).map_or("A facilitator", |p| p.name.as_str());
        let message = format!("{name}: {text}");
        self.broadcast(Audience::All, ServerMsg::Notice { kind: NoticeKind::Breakout, message });
        Ok(())
    }

    pub(super) fn set_group_lead(
        &mut self,
        who: ParticipantId,
        lead: bool,
    ) -> Result<(), RoomError> {
        let round = self.round.as_ref().ok_or(RoomError::NoBreakouts)?;
        let i = round.group_of(who).ok_or(RoomError::NotInGroup(who))?;
        if self.role(who) != Some(Role::Learner) {
            return Err(RoomError::InvalidBreakouts(format!(
                "{who} is a facilitator in every group already"
            )));
        }
        let round = self.round.as_mut().ok_or(RoomError::NoBreakouts)?;
        let leads = &mut round.groups[i].leads;
        if leads.contains(&who) == lead {
            return Ok(());
        }
        if lead {
            leads.push(who);
        } else {
            leads.retain(|p| *p != who);
        }
        self.breakouts_dirty = true;
        Ok(())
    }

    /// Someone in a group asks the plenary's facilitators to come. A request already
    /// waiting stays as it is (asking twice is asking once).
    pub(super) fn ask_for_help(
        &mut self,
        now: Instant,
        who: ParticipantId,
    ) -> Result<(), RoomError> {
        let round = self.round.as_ref().ok_or(RoomError::NoBreakouts)?;
        let i = round.group_of(who).ok_or(RoomError::NotInGroup(who))?;
        if round.groups[i].help.iter().any(|(p, _)| *p == who) {
            return Ok(());
        }
        let name = self.participants.get(&who).map_or("Someone", |p| p.name.as_str());
        let message = format!("{name} asks for help in {}.", round.groups[i].name);
        let round = self.round.as_mut().ok_or(RoomError::NoBreakouts)?;
        round.groups[i].help.push((who, now));
        self.breakouts_dirty = true;
        let kind = NoticeKind::HelpAsked;
        self.broadcast(Audience::Facilitators, ServerMsg::Notice { kind, message });
        Ok(())
    }

    /// Takes back one's own request for help, if one waits.
    pub(super) fn withdraw_help(&mut self, who: ParticipantId) -> Result<(), RoomError> {
        let round = self.round.as_mut().ok_or(RoomError::NoBreakouts)?;
        for g in &mut round.groups {
            let before = g.help.len();
            g.help.retain(|(p, _)| *p != who);
            self.breakouts_dirty |= g.help.len() != before;
        }
        Ok(())
    }

    /// A facilitator answers group `group`'s requests: they are cleared, and each asker
    /// is told who has seen it.
    pub(super) fn answer_help(&mut self, by: ParticipantId, group: u32) -> Result<(), RoomError> {
        let round = self.round.as_mut().ok_or(RoomError::NoBreakouts)?;
        let g = round.open_group_mut(group).ok_or(RoomError::UnknownGroup(group))?;
        let askers: Vec<ParticipantId> = g.help.drain(..).map(|(p, _)| p).collect();
        if askers.is_empty() {
            return Ok(());
        }
        self.breakouts_dirty = true;
        let name = self.participants.get(&by).map_or("A facilitator", |p| p.name.as_str());
        let message = format!("{name} has seen your request for help.");
        for who in askers {
            let msg =
                ServerMsg::Notice { kind: NoticeKind::HelpAnswered, message: message.clone() };
            self.tell(who, msg);
        }
        Ok(())
    }

    /// A new learner while groups are open joins the smallest group: a late joiner lands
    /// where the others are, not alone in the plenary. Where people choose, they choose
    /// too.
    pub(super) fn late_joiner(&mut self, who: ParticipantId) {
        if self.role(who) != Some(Role::Learner) {
            return;
        }
        if let Some(round) = self.round.as_mut()
            && !round.choose
            && round.group_of(who).is_none()
            && let Some(i) = round.smallest()
        {
            round.groups[i].members.push(who);
            self.breakouts_dirty = true;
        }
    }

    /// The round's warning ("2 minutes left") and its end (everyone called back), by its
    /// time or by a call-back's countdown.
    pub(super) fn breakout_deadline(&mut self, now: Instant) {
        let Some(round) = self.round.as_mut() else { return };
        let Some(due) = round.deadline().filter(|t| *t <= now) else { return };
        if round.end().is_some_and(|end| end <= now) {
            let counted_down = round.closing.is_some_and(|t| t <= now);
            let _ = self.close_breakouts(now);
            let message = if counted_down {
                "Everyone is back in the plenary.".to_owned()
            } else {
                "Time is up: everyone is back in the plenary.".to_owned()
            };
            let kind = NoticeKind::BreakoutEnding;
            self.broadcast(Audience::All, ServerMsg::Notice { kind, message });
        } else {
            round.warned = true;
            let left = round.ends.map_or(ENDING_WARNING, |end| end.saturating_duration_since(due));
            let minutes = left.as_secs().div_ceil(60);
            let message =
                format!("{minutes} minutes left in the breakout groups; then everyone comes back.");
            let kind = NoticeKind::BreakoutEnding;
            self.broadcast(Audience::All, ServerMsg::Notice { kind, message });
        }
    }

    /// Tells everyone the groups as they are now, and the server who may enter which.
    /// The directory first: a page that hears of its group may knock at once.
    pub(super) fn emit_breakouts(&mut self) {
        let groups = self.group_access();
        self.outputs.push_back(Output::Breakouts { groups });
        let breakouts = self.breakouts();
        self.broadcast(Audience::All, ServerMsg::Breakouts { breakouts });
    }

    /// Each open group's room with the links it admits: its members (learners, or
    /// facilitators when they lead it or facilitate the plenary) and every plenary
    /// facilitator, who may enter any group.
    pub fn group_access(&self) -> Vec<GroupAccess> {
        let Some(round) = self.round.as_ref() else { return Vec::new() };
        let facilitators: Vec<ParticipantId> = self
            .participants
            .values()
            .filter(|p| p.role == Role::Facilitator)
            .map(|p| p.id)
            .collect();
        round
            .groups
            .iter()
            .zip(1..)
            .filter(|(g, _)| g.open)
            .map(|(g, no)| {
                let mut people = Vec::new();
                for who in g.members.iter().chain(facilitators.iter()) {
                    let Some(p) = self.participants.get(who) else { continue };
                    let Some(link) = p.link.clone() else { continue };
                    if people.iter().any(|(l, _, _)| *l == link) {
                        continue;
                    }
                    let role = if p.role == Role::Facilitator || g.leads.contains(who) {
                        Role::Facilitator
                    } else {
                        Role::Learner
                    };
                    people.push((link, role, p.colour.clone()));
                }
                GroupAccess { room: breakouts::group_room(&self.id, round.no, no), people }
            })
            .collect()
    }
}

/// "45 seconds", "1 minute", "1 minute 30 seconds".
fn countdown(secs: u32) -> String {
    let plural = |n: u32, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match (secs / 60, secs % 60) {
        (0, s) => plural(s, "second"),
        (m, 0) => plural(m, "minute"),
        (m, s) => format!("{} {}", plural(m, "minute"), plural(s, "second")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn countdowns_read_as_people_say_them() {
        assert_eq!(super::countdown(1), "1 second");
        assert_eq!(super::countdown(45), "45 seconds");
        assert_eq!(super::countdown(60), "1 minute");
        assert_eq!(super::countdown(90), "1 minute 30 seconds");
        assert_eq!(super::countdown(300), "5 minutes");
    }
}
