//! Client messages. Each handler checks everything first and mutates only once the
//! action is sure to succeed, so a refusal changes nothing.

use std::time::{Duration, Instant};

use super::{Audience, Room};
use crate::chat::{Author, ChatRefusal};
use crate::error::RoomError;
use crate::floor::Floor;
use crate::ids::ParticipantId;
use crate::protocol::{
    ActionOnYou, ClientMsg, HandKind, LeaveReason, MAX_NOTE_CHARS, Presence, ReactionKind, Role,
    ServerMsg, Settings, SettingsPatch, TurnEnd,
};
use crate::queue::Hand;

impl Room {
    pub(super) fn on_client(
        &mut self,
        now: Instant,
        from: ParticipantId,
        msg: ClientMsg,
    ) -> Result<(), RoomError> {
        let role = self.role(from).ok_or(RoomError::UnknownParticipant(from))?;
        if let Some(what) = facilitator_only(&msg)
            && role != Role::Facilitator
        {
            return Err(RoomError::Forbidden(what));
        }
        // Attempts count, refused ones too: a flood of requests the room refuses costs it
        // as much as one it grants.
        if is_toggle(&msg) {
            let p = self.participants.get_mut(&from).ok_or(RoomError::UnknownParticipant(from))?;
            p.toggles.take(now).map_err(RoomError::TooManyChanges)?;
        }
        if matches!(msg, ClientMsg::ChooseGroup { .. }) {
            let p = self.participants.get_mut(&from).ok_or(RoomError::UnknownParticipant(from))?;
            p.moves.take(now).map_err(RoomError::TooManyMoves)?;
        }
        match msg {
            ClientMsg::Join { .. } => Err(RoomError::AlreadyJoined),
            ClientMsg::Ping => {
                self.tell(from, ServerMsg::Pong);
                Ok(())
            }
            ClientMsg::RaiseHand { kind, note } => self.raise_hand(now, from, kind, note),
            ClientMsg::LowerHand => self.lower_hand(now, from),
            ClientMsg::AcceptFloor => self.accept(now, from),
            ClientMsg::DeclineFloor => self.decline(now, from),
            ClientMsg::DeferFloor => self.defer(now, from),
            ClientMsg::Yield => self.yield_floor(now, from),
            ClientMsg::React { reaction } => self.react(now, from, reaction),
            ClientMsg::Chat { text } => self.post_chat(now, from, &text),
            ClientMsg::DeleteChat { message } => {
                if !self.chat.delete(message) {
                    return Err(RoomError::UnknownMessage(message));
                }
                self.broadcast(Audience::All, ServerMsg::ChatDeleted { message, by: from });
                Ok(())
            }
            ClientMsg::SetMic { on } => self.set_mic(from, on),
            ClientMsg::SetAway { away } => self.set_away(now, from, away),
            ClientMsg::SetPushToTalk { enabled } => self.update(from, |p| p.push_to_talk = enabled),
            ClientMsg::Leave => {
                self.tell(from, ServerMsg::Goodbye { reason: "you left the room".into() });
                self.outputs.push_back(super::Output::Close { participant: from });
                self.remove(now, from, LeaveReason::Left);
                Ok(())
            }
            ClientMsg::Grant { participant } => self.grant(now, participant),
            ClientMsg::Next => self.next(now),
            ClientMsg::Revoke => {
                let had = self.floor.holder().or(self.floor.offered_to());
                self.revoke(now)?;
                self.tell_acted_on(from, had, ActionOnYou::FloorTakenBack, None);
                Ok(())
            }
            ClientMsg::OpenDiscussion => self.open_discussion(now),
            ClientMsg::MoveHand { participant, position } => {
                self.move_hand(participant, position)?;
                let at = self.queue.position(participant).map(|p| p as u32);
                self.tell_acted_on(from, Some(participant), ActionOnYou::HandMoved, at);
                Ok(())
            }
            ClientMsg::RemoveHand { participant } => {
                self.remove_hand(now, participant)?;
                self.tell_acted_on(from, Some(participant), ActionOnYou::HandRemoved, None);
                Ok(())
            }
            ClientMsg::ClearHands => {
                let had = self.queue_order();
                self.clear_hands(now)?;
                for who in had {
                    self.tell_acted_on(from, Some(who), ActionOnYou::HandsCleared, None);
                }
                Ok(())
            }
            ClientMsg::Mute { participant } => {
                self.muting(from, |r| r.force_mute(participant, true))
            }
            ClientMsg::Unmute { participant } => {
                self.muting(from, |r| r.force_mute(participant, false))
            }
            ClientMsg::MuteAll => self.muting(from, Self::mute_all),
            ClientMsg::UnmuteAll => self.muting(from, Self::unmute_all),
            ClientMsg::AskToUnmute => self.ask_to_unmute(from),
            ClientMsg::UpdateSettings { settings } => self.update_settings(now, settings),
            // Audio negotiation belongs to the media plane; the server never passes it here.
            ClientMsg::RtcOffer { .. } => Ok(()),
            ClientMsg::RemoveParticipant { participant } => {
                self.remove_participant(now, from, participant)
            }
            ClientMsg::EndSession => {
                self.end_session(now, from);
                Ok(())
            }
            ClientMsg::GetStats => {
                let stats = self.stats(now);
                self.tell(from, ServerMsg::Stats { stats });
                Ok(())
            }
            ClientMsg::OpenBreakouts { groups, size, assign, names, minutes, manual } => {
                let plan = super::breakout::Plan { groups, size, assign, names, minutes, manual };
                self.open_breakouts(now, from, plan)
            }
            ClientMsg::MoveToGroup { participant, group } => self.move_to_group(participant, group),
            ClientMsg::CloseGroup { group } => self.close_group(now, group),
            ClientMsg::CloseBreakouts { in_s } => self.call_back(now, in_s.unwrap_or(0)),
            ClientMsg::ChooseGroup { group } => self.choose_group(from, group),
            ClientMsg::BreakoutNotice { text } => self.breakout_notice(from, &text),
            ClientMsg::SetGroupLead { participant, lead } => self.set_group_lead(participant, lead),
            ClientMsg::AskForHelp => self.ask_for_help(now, from),
            ClientMsg::WithdrawHelp => self.withdraw_help(from),
            ClientMsg::AnswerHelp { group } => self.answer_help(from, group),
        }
    }

    fn raise_hand(
        &mut self,
        now: Instant,
        who: ParticipantId,
        kind: HandKind,
        note: Option<String>,
    ) -> Result<(), RoomError> {
        if self.queue.position(who).is_some() {
            return Err(RoomError::HandAlreadyRaised);
        }
        if self.floor.holder() == Some(who) {
            return Err(RoomError::AlreadyHoldingFloor);
        }
        let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        if let Some(n) = &note {
            let chars = n.chars().count();
            if chars > MAX_NOTE_CHARS {
                return Err(RoomError::NoteTooLong(chars));
            }
        }
        let order = self.order();
        let hand =
            Hand { participant: who, kind, note, raised_at: now, answers: order.latest_turn };
        let talk =
            |p: ParticipantId| self.participants.get(&p).map_or(Duration::ZERO, |p| p.talk_at(now));
        let mut queue = std::mem::take(&mut self.queue);
        queue.insert(hand, order, talk);
        self.queue = queue;
        self.queue_dirty = true;
        self.maybe_offer(now);
        Ok(())
    }

    fn lower_hand(&mut self, now: Instant, who: ParticipantId) -> Result<(), RoomError> {
        self.remove_hand(now, who)
    }

    fn remove_hand(&mut self, now: Instant, who: ParticipantId) -> Result<(), RoomError> {
        if !self.drop_hand(now, who) {
            return Err(RoomError::NoHand(who));
        }
        if self.floor.offered_to() == Some(who) {
            self.free_floor(now);
            self.maybe_offer(now);
        }
        Ok(())
    }

    fn clear_hands(&mut self, now: Instant) -> Result<(), RoomError> {
        let everyone: Vec<ParticipantId> = self.queue_order();
        // An offer to someone in the queue goes with their hand; a grant to someone
        // without a hand stands.
        if self.floor.offered_to().is_some_and(|p| everyone.contains(&p)) {
            self.free_floor(now);
        }
        for who in everyone {
            self.drop_hand(now, who);
        }
        Ok(())
    }

    fn move_hand(&mut self, who: ParticipantId, position: u32) -> Result<(), RoomError> {
        let n = self.queue.len();
        if self.queue.position(who).is_none() {
            return Err(RoomError::NoHand(who));
        }
        if position == 0 || position as usize > n {
            return Err(RoomError::InvalidPosition(position, n));
        }
        self.queue.move_to(who, position as usize);
        self.queue_dirty = true;
        Ok(())
    }

    fn accept(&mut self, now: Instant, who: ParticipantId) -> Result<(), RoomError> {
        if self.floor.offered_to() != Some(who) {
            return Err(RoomError::NoOffer);
        }
        self.start_turn(now, who);
        Ok(())
    }

    fn decline(&mut self, now: Instant, who: ParticipantId) -> Result<(), RoomError> {
        if self.floor.offered_to() != Some(who) {
            return Err(RoomError::NoOffer);
        }
        self.drop_hand(now, who);
        self.free_floor(now);
        self.maybe_offer(now);
        Ok(())
    }

    /// "Later": the offer passes to the next hand and `who` keeps theirs, one place
    /// further down (placed there, as a facilitator's move would).
    fn defer(&mut self, now: Instant, who: ParticipantId) -> Result<(), RoomError> {
        if self.floor.offered_to() != Some(who) {
            return Err(RoomError::NoOffer);
        }
        let Some(at) = self.queue.position(who) else {
            return Err(RoomError::NoHand(who));
        };
        if self.queue.len() < 2 {
            return Err(RoomError::NobodyElseWaiting);
        }
        self.queue.move_to(who, at + 1);
        self.queue_dirty = true;
        self.free_floor(now);
        self.maybe_offer(now);
        Ok(())
    }

    fn yield_floor(&mut self, now: Instant, who: ParticipantId) -> Result<(), RoomError> {
        if self.floor.holder() != Some(who) {
            return Err(RoomError::NotHolder);
        }
        self.finish_turn(now, TurnEnd::Yielded);
        Ok(())
    }

    fn grant(&mut self, now: Instant, to: ParticipantId) -> Result<(), RoomError> {
        if !self.participants.contains_key(&to) {
            return Err(RoomError::UnknownParticipant(to));
        }
        if let Some(holder) = self.floor.holder() {
            return Err(RoomError::FloorBusy(holder));
        }
        self.offer(now, to);
        Ok(())
    }

    fn next(&mut self, now: Instant) -> Result<(), RoomError> {
        let skipped = self.floor.offered_to();
        let has_next = self
            .queue
            .iter()
            .any(|h| Some(h.participant) != skipped && !self.is_away(h.participant));
        if matches!(self.floor, Floor::Free { .. } | Floor::Discussion { .. }) && !has_next {
            return Err(RoomError::QueueEmpty);
        }
        if let Some(skipped) = skipped {
            self.drop_hand(now, skipped);
        }
        self.end_turn(now, TurnEnd::Next);
        self.free_floor(now);
        if let Some(head) = self.next_up() {
            self.offer(now, head);
        }
        Ok(())
    }

    /// Away keeps a hand but is skipped by offers: going away passes a pending offer on,
    /// and coming back is offered the floor in one's place when it is free.
    fn set_away(&mut self, now: Instant, who: ParticipantId, away: bool) -> Result<(), RoomError> {
        let presence = if away { Presence::Away } else { Presence::Present };
        self.update(who, |p| p.presence = presence)?;
        if away && self.floor.offered_to() == Some(who) {
            self.free_floor(now);
        }
        self.maybe_offer(now);
        Ok(())
    }

    fn revoke(&mut self, now: Instant) -> Result<(), RoomError> {
        match &self.floor {
            Floor::Free { .. } => return Err(RoomError::FloorFree),
            Floor::Held(_) => self.end_turn(now, TurnEnd::Revoked),
            Floor::Offered { to, .. } => {
                let to = *to;
                self.drop_hand(now, to);
                self.free_floor(now);
            }
            Floor::Discussion { .. } => self.free_floor(now),
        }
        self.maybe_offer(now);
        Ok(())
    }

    fn open_discussion(&mut self, now: Instant) -> Result<(), RoomError> {
        if matches!(self.floor, Floor::Discussion { .. }) {
            return Ok(());
        }
        self.end_turn(now, TurnEnd::Discussion);
        self.floor = Floor::Discussion { since: now };
        self.floor_dirty = true;
        Ok(())
    }

    fn react(
        &mut self,
        now: Instant,
        who: ParticipantId,
        reaction: ReactionKind,
    ) -> Result<(), RoomError> {
        let p = self.participants.get_mut(&who).ok_or(RoomError::UnknownParticipant(who))?;
        p.bucket.take(now).map_err(RoomError::RateLimited)?;
        // During a turn a person counts once per kind: pressing again takes it back.
        // Outside a turn a reaction is a passing gesture, counted each time.
        let (turn, tally, holder, withdrawn) = match self.floor.turn_mut() {
            Some(t) => {
                let withdrawn = t.toggle_reaction(who, reaction);
                (Some(t.id), Some(t.tally), Some(t.holder), withdrawn)
            }
            None => (None, None, None, false),
        };
        let step = |n: &mut u32| {
            *n = if withdrawn { n.saturating_sub(1) } else { n.saturating_add(1) };
        };
        if let Some(p) = self.participants.get_mut(&who) {
            step(&mut p.reactions_given);
        }
        if let Some(h) = holder.filter(|h| *h != who)
            && let Some(hp) = self.participants.get_mut(&h)
        {
            step(&mut hp.reactions_received);
        }
        let msg = ServerMsg::Reaction { from: who, reaction, turn, tally, withdrawn };
        self.broadcast(Audience::All, msg);
        Ok(())
    }

    /// A chat message: rate-limited per person (attempts count), cleaned, kept, sent to
    /// everyone. Never touches the floor or the queue.
    fn post_chat(&mut self, now: Instant, who: ParticipantId, text: &str) -> Result<(), RoomError> {
        let at_ms = self.ms(now);
        let p = self.participants.get_mut(&who).ok_or(RoomError::UnknownParticipant(who))?;
        p.chat.take(now).map_err(RoomError::TooManyMessages)?;
        let text = crate::chat::clean(text).map_err(|r| match r {
            ChatRefusal::Empty => RoomError::EmptyMessage,
            ChatRefusal::TooLong(n) => RoomError::MessageTooLong(n),
        })?;
        let author = Author { id: who, name: &p.name, colour: &p.colour };
        let message = self.chat.post(author, text, at_ms);
        self.broadcast(Audience::All, ServerMsg::Chat { message });
        Ok(())
    }

    pub(super) fn on_audio(
        &mut self,
        who: ParticipantId,
        connected: bool,
    ) -> Result<(), RoomError> {
        self.update(who, |p| p.audio = connected)
    }

    fn set_mic(&mut self, who: ParticipantId, on: bool) -> Result<(), RoomError> {
        if on && self.participants.get(&who).is_some_and(|p| p.force_muted) {
            return Err(RoomError::ForceMuted);
        }
        self.update(who, |p| p.mic_on = on)
    }

    fn force_mute(&mut self, who: ParticipantId, muted: bool) -> Result<(), RoomError> {
        if !self.participants.contains_key(&who) {
            return Err(RoomError::UnknownParticipant(who));
        }
        self.update(who, |p| {
            p.force_muted = muted;
            // A facilitator's own decision replaces the one the turn will restore.
            p.muted_before_turn = false;
            p.unmute_requested = false;
            if muted {
                p.mic_on = false;
            }
        })
    }

    /// Mutes every learner but the one holding the floor: the speaker goes on.
    fn mute_all(&mut self) -> Result<(), RoomError> {
        let holder = self.floor.holder();
        let learners: Vec<ParticipantId> = self
            .participants
            .values()
            .filter(|p| p.role == Role::Learner && !p.force_muted && Some(p.id) != holder)
            .map(|p| p.id)
            .collect();
        for who in learners {
            self.force_mute(who, true)?;
        }
        Ok(())
    }

    /// Who a facilitator has muted now.
    fn muted(&self) -> Vec<ParticipantId> {
        self.participants.values().filter(|p| p.force_muted).map(|p| p.id).collect()
    }

    /// Runs a facilitator's mute or unmute, then tells each person whose mute it changed.
    fn muting(
        &mut self,
        by: ParticipantId,
        change: impl FnOnce(&mut Self) -> Result<(), RoomError>,
    ) -> Result<(), RoomError> {
        let before = self.muted();
        change(self)?;
        let after = self.muted();
        for who in after.iter().filter(|p| !before.contains(p)) {
            self.tell_acted_on(by, Some(*who), ActionOnYou::Muted, None);
        }
        for who in before.iter().filter(|p| !after.contains(p)) {
            self.tell_acted_on(by, Some(*who), ActionOnYou::Unmuted, None);
        }
        Ok(())
    }

    /// Tells `who` what facilitator `by` did to them (not when they did it themselves).
    fn tell_acted_on(
        &mut self,
        by: ParticipantId,
        who: Option<ParticipantId>,
        action: ActionOnYou,
        position: Option<u32>,
    ) {
        if let Some(who) = who.filter(|w| *w != by && self.participants.contains_key(w)) {
            self.tell(who, ServerMsg::FacilitatorAction { by, action, position });
        }
    }

    fn unmute_all(&mut self) -> Result<(), RoomError> {
        let muted: Vec<ParticipantId> =
            self.participants.values().filter(|p| p.force_muted).map(|p| p.id).collect();
        for who in muted {
            self.force_mute(who, false)?;
        }
        Ok(())
    }

    fn ask_to_unmute(&mut self, who: ParticipantId) -> Result<(), RoomError> {
        let p = self.participants.get(&who).ok_or(RoomError::UnknownParticipant(who))?;
        if !p.force_muted {
            return Err(RoomError::NotMuted);
        }
        self.update(who, |p| p.unmute_requested = true)
    }

    /// Changes one participant and tells everyone, if anything changed.
    fn update(
        &mut self,
        who: ParticipantId,
        change: impl FnOnce(&mut crate::participant::Participant),
    ) -> Result<(), RoomError> {
        let p = self.participants.get_mut(&who).ok_or(RoomError::UnknownParticipant(who))?;
        let before = p.view();
        change(p);
        if p.view() != before {
            self.participant_updated(who);
        }
        Ok(())
    }

    fn update_settings(&mut self, now: Instant, patch: SettingsPatch) -> Result<(), RoomError> {
        let new = apply(&self.settings, &patch)?;
        if new == self.settings {
            return Ok(());
        }
        let resort = new.policy != self.settings.policy;
        let reorder = new.max_replies != self.settings.max_replies;
        let limit_changed = new.time_limit_ms != self.settings.time_limit_ms;
        let auto_offer_on = new.auto_offer && !self.settings.auto_offer;
        self.settings = new;
        if resort || reorder {
            // A policy switch undoes the facilitator's moves; a new `max_replies` keeps them.
            self.sort_queue(now, resort);
        }
        if limit_changed && let Some(turn) = self.floor.turn_mut() {
            turn.warned = false;
            turn.time_up = false;
            // Counted from now: a limit shorter than the turn so far does not end it
            // at once, and the holder gets the warning first.
            turn.limit_from = now;
            self.floor_dirty = true;
        }
        let settings = self.settings.clone();
        self.broadcast(Audience::All, ServerMsg::Settings { settings });
        if auto_offer_on {
            self.maybe_offer(now);
        }
        Ok(())
    }
}

/// Applies a settings patch, checking every range; the current settings stay as they
/// are on error.
fn apply(current: &Settings, patch: &SettingsPatch) -> Result<Settings, RoomError> {
    fn range(name: &'static str, v: u64, lo: u64, hi: u64) -> Result<u64, RoomError> {
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(RoomError::InvalidSetting(name, format!("{v} is outside {lo}..={hi}")))
        }
    }
    let mut s = current.clone();
    if let Some(m) = patch.mode {
        s.mode = m;
    }
    if let Some(p) = patch.policy {
        s.policy = p;
    }
    if let Some(a) = patch.auto_offer {
        s.auto_offer = a;
    }
    if let Some(v) = patch.offer_timeout_ms {
        s.offer_timeout_ms = range("offer_timeout_ms", v, 1_000, 120_000)?;
    }
    if let Some(v) = patch.time_limit_ms {
        s.time_limit_ms = v.map(|v| range("time_limit_ms", v, 5_000, 3_600_000)).transpose()?;
    }
    if let Some(v) = patch.warning_ms {
        s.warning_ms = range("warning_ms", v, 0, 600_000)?;
    }
    if let Some(a) = patch.limit_action {
        s.limit_action = a;
    }
    if let Some(v) = patch.pause_ms {
        s.pause_ms = range("pause_ms", v, 300, 60_000)?;
    }
    if let Some(v) = patch.auto_advance_ms {
        s.auto_advance_ms = v.map(|v| range("auto_advance_ms", v, 1_000, 600_000)).transpose()?;
    }
    if let Some(v) = patch.max_replies {
        s.max_replies = range("max_replies", v.into(), 0, 10)? as u32;
    }
    if let Some(adv) = s.auto_advance_ms
        && adv <= s.pause_ms
    {
        let name = if patch.auto_advance_ms.is_some() { "auto_advance_ms" } else { "pause_ms" };
        return Err(RoomError::InvalidSetting(
            name,
            format!("auto_advance_ms ({adv}) must be longer than pause_ms ({})", s.pause_ms),
        ));
    }
    Ok(s)
}

/// Whether `msg` is one of the state changes limited by [`crate::reactions::TOGGLES`].
fn is_toggle(msg: &ClientMsg) -> bool {
    matches!(
        msg,
        ClientMsg::RaiseHand { .. }
            | ClientMsg::LowerHand
            | ClientMsg::SetMic { .. }
            | ClientMsg::SetAway { .. }
            | ClientMsg::SetPushToTalk { .. }
            | ClientMsg::AskToUnmute
            | ClientMsg::AskForHelp
            | ClientMsg::WithdrawHelp
    )
}

/// What a facilitator-only message does, for the error text; `None` for everyone's.
fn facilitator_only(msg: &ClientMsg) -> Option<&'static str> {
    Some(match msg {
        ClientMsg::Grant { .. } => "grant the floor",
        ClientMsg::Next => "move to the next speaker",
        ClientMsg::Revoke => "revoke the floor",
        ClientMsg::OpenDiscussion => "open free discussion",
        ClientMsg::MoveHand { .. } => "move hands",
        ClientMsg::RemoveHand { .. } => "remove someone's hand",
        ClientMsg::ClearHands => "clear all hands",
        ClientMsg::Mute { .. } => "mute others",
        ClientMsg::Unmute { .. } => "unmute others",
        ClientMsg::MuteAll => "mute everyone",
        ClientMsg::UnmuteAll => "unmute everyone",
        ClientMsg::UpdateSettings { .. } => "change settings",
        ClientMsg::GetStats => "see the session statistics",
        ClientMsg::DeleteChat { .. } => "delete chat messages",
        ClientMsg::RemoveParticipant { .. } => "remove someone from the room",
        ClientMsg::EndSession => "end the session",
        ClientMsg::OpenBreakouts { .. } => "open breakout groups",
        ClientMsg::MoveToGroup { .. } => "move people between groups",
        ClientMsg::CloseGroup { .. } => "close a group",
        ClientMsg::CloseBreakouts { .. } => "call everyone back",
        ClientMsg::BreakoutNotice { .. } => "send a notice to every group",
        ClientMsg::SetGroupLead { .. } => "make someone a group's facilitator",
        ClientMsg::AnswerHelp { .. } => "answer a group's request for help",
        _ => return None,
    })
}
