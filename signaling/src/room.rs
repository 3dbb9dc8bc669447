//! The room: everyone's shared truth about who is here, who has a hand up and who holds
//! the floor. Sans-IO: feed it with [`Room::join`] and [`Room::handle`], then drain
//! [`Room::poll_output`] until it returns `None`, and call `handle(now, Input::Timeout)`
//! at [`Room::poll_timeout`].
//!
//! Methods are grouped as: construction, getters, inputs (`join`, `handle`), polling.
//! Handlers for client messages live in `room/handlers.rs`; transitions of the floor in
//! `room/transitions.rs`.

mod breakout;
mod handlers;
mod replay;
mod transitions;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::breakouts::{BreakoutsView, Round};
use crate::chat::ChatLog;
use crate::colour;
use crate::error::RoomError;
use crate::floor::Floor;
use crate::ids::{LinkId, ParticipantId, ResumeToken, RoomId, TurnId};
use crate::io::{Audience, Input, JoinRequest, Joined, Output};
use crate::journal::{Change, Entry, JoinRecord, reads_only};
use crate::participant::Participant;
use crate::protocol::{
    FloorView, HandView, LeaveReason, Mode, PROTOCOL_VERSION, ParticipantView, PersonStats,
    Presence, Role, RoomSnapshot, ServerMsg, Settings, StatsView, TurnRecord, YouView,
};
use crate::queue::{Order, Queue};
use crate::stats::gini;

/// How long a dropped connection keeps its identity, colour and queue place.
pub const RESUME_GRACE: Duration = Duration::from_secs(30);
/// Default most participants in one room (present or within grace).
pub const DEFAULT_CAPACITY: usize = 100;
/// Default number of audio receive slots per listener.
pub const DEFAULT_AUDIO_SLOTS: u8 = 3;
/// Longest display name kept, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Departed people whose statistics a room keeps (by name).
pub const MAX_DEPARTED: usize = 500;
/// Finished turns a room keeps for its report (the latest ones).
pub const MAX_HISTORY: usize = 1_000;
/// Links a room refuses after their people were removed.
pub const MAX_REFUSED_LINKS: usize = 1_000;

/// One room's floor control.
#[derive(Debug)]
pub struct Room {
    id: RoomId,
    epoch: Instant,
    last_now: Instant,
    settings: Settings,
    capacity: usize,
    audio_slots: u8,
    seq: u64,
    next_participant: u32,
    next_turn: u32,
    /// Turns in a row that went to a reply ahead of new points (see `max_replies`).
    reply_streak: u32,
    participants: BTreeMap<ParticipantId, Participant>,
    /// Statistics of those who left, for the session report.
    departed: Vec<PersonStats>,
    /// Links whose people a facilitator removed: refused for the room's lifetime.
    refused_links: Vec<LinkId>,
    /// Colours by name, so someone who leaves and rejoins keeps theirs when it is free.
    remembered_colours: HashMap<String, String>,
    queue: Queue,
    floor: Floor,
    history: Vec<TurnRecord>,
    /// The latest chat messages, for late joiners.
    chat: ChatLog,
    outputs: VecDeque<Output>,
    queue_dirty: bool,
    floor_dirty: bool,
    new_offer: Option<ParticipantId>,
    /// Accepted changes not yet taken by the caller; `None` when not journaled.
    journal: Option<Vec<Entry>>,
    /// Breakout rounds opened so far.
    rounds: u32,
    /// The breakout groups while they are open.
    round: Option<Round>,
    /// Closed rounds, for the report (the latest [`crate::breakouts::MAX_ROUNDS_KEPT`]).
    past_rounds: Vec<BreakoutsView>,
    /// The breakout groups changed: tell everyone and the server's directory.
    breakouts_dirty: bool,
}

impl Room {
    // ----- construction -------------------------------------------------------------

    /// A new empty room; `now` starts the room clock (all `*_ms` fields count from it).
    pub fn new(id: RoomId, settings: Settings, now: Instant) -> Self {
        Room {
            id,
            epoch: now,
            last_now: now,
            settings,
            capacity: DEFAULT_CAPACITY,
            audio_slots: DEFAULT_AUDIO_SLOTS,
            seq: 0,
            next_participant: 1,
            next_turn: 1,
            reply_streak: 0,
            participants: BTreeMap::new(),
            departed: Vec::new(),
            refused_links: Vec::new(),
            remembered_colours: HashMap::new(),
            queue: Queue::default(),
            floor: Floor::Free { since: now },
            history: Vec::new(),
            chat: ChatLog::default(),
            outputs: VecDeque::new(),
            queue_dirty: false,
            floor_dirty: false,
            new_offer: None,
            journal: None,
            rounds: 0,
            round: None,
            past_rounds: Vec::new(),
            breakouts_dirty: false,
        }
    }

    /// Turns the journal on: from now on every accepted change is recorded, for
    /// [`Room::take_journal`] (see [`crate::journal`]).
    pub fn journaled(mut self) -> Self {
        self.journal.get_or_insert_with(Vec::new);
        self
    }

    /// The changes recorded since the last call, in order (empty when not journaled).
    pub fn take_journal(&mut self) -> Vec<Entry> {
        self.journal.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The room's clock zero: journal times count from it.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    fn record(&mut self, now: Instant, change: Change) {
        if let Some(j) = self.journal.as_mut() {
            let at_ns = now.saturating_duration_since(self.epoch).as_nanos() as u64;
            j.push(Entry { at_ns, change });
        }
    }

    /// Sets how many audio receive slots clients are told to offer.
    pub fn set_audio_slots(&mut self, slots: u8) {
        self.audio_slots = slots;
    }

    /// Sets the most participants the room admits.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
    }

    // ----- getters ------------------------------------------------------------------

    /// The room's id.
    pub fn id(&self) -> &RoomId {
        &self.id
    }

    /// Current settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The last sequence number used.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Participants present or within the grace period.
    pub fn len(&self) -> usize {
        self.participants.len()
    }

    /// True when nobody is in the room, not even within the grace period.
    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    /// A participant as everyone sees them.
    pub fn participant(&self, who: ParticipantId) -> Option<ParticipantView> {
        self.participants.get(&who).map(Participant::view)
    }

    /// Every participant's id, in id order.
    pub fn participant_ids(&self) -> Vec<ParticipantId> {
        self.participants.keys().copied().collect()
    }

    /// The participant who joined with `link`, if they are here (or within grace).
    pub fn participant_by_link(&self, link: &LinkId) -> Option<ParticipantId> {
        self.participants.values().find(|p| p.link.as_ref() == Some(link)).map(|p| p.id)
    }

    /// The role of a participant.
    pub fn role(&self, who: ParticipantId) -> Option<Role> {
        self.participants.get(&who).map(|p| p.role)
    }

    /// Whose hands are up, in queue order.
    pub fn queue_order(&self) -> Vec<ParticipantId> {
        self.queue.iter().map(|h| h.participant).collect()
    }

    /// The queue as a recipient sees it (notes for facilitators and their owners).
    pub fn queue_view(&self, viewer: Option<ParticipantId>) -> Vec<HandView> {
        let reveal = viewer.and_then(|v| self.role(v)) == Some(Role::Facilitator);
        self.queue.views(|t| self.ms(t), reveal, viewer)
    }

    /// The floor holder.
    pub fn holder(&self) -> Option<ParticipantId> {
        self.floor.holder()
    }

    /// The floor as clients see it at `now`.
    pub fn floor_view(&self, now: Instant) -> FloorView {
        self.floor.view(&self.settings, |t| self.ms(t), now)
    }

    /// Whether the media plane should forward a participant (the last gate emitted).
    pub fn gate(&self, who: ParticipantId) -> bool {
        self.participants.get(&who).is_some_and(|p| p.gate)
    }

    /// The chat messages kept for late joiners, oldest first.
    pub fn chat(&self) -> Vec<crate::protocol::ChatView> {
        self.chat.views()
    }

    /// The latest time the room was given.
    pub fn last_now(&self) -> Instant {
        self.last_now
    }

    /// The latest turn that ended (among those the history keeps).
    pub fn last_ended_turn(&self) -> Option<TurnId> {
        self.history.last().map(|t| t.turn)
    }

    /// Session statistics at `now`: present and departed participants, every turn.
    pub fn stats(&self, now: Instant) -> StatsView {
        let mut people: Vec<PersonStats> = self
            .participants
            .values()
            .map(|p| {
                let mut s = p.stats(now, true);
                // A hand still up counts its wait so far.
                if let Some(h) = self.queue.get(p.id) {
                    s.wait_ms += now.saturating_duration_since(h.raised_at).as_millis() as u64;
                }
                s
            })
            .collect();
        let talk: Vec<u64> = people.iter().map(|p| p.talk_ms).collect();
        people.extend(self.departed.iter().cloned());
        let mut turns = self.history.clone();
        if let Some(t) = self.floor.turn() {
            turns.push(t.record(|i| self.ms(i), None));
        }
        StatsView { now_ms: self.ms(now), gini: gini(&talk), people, turns }
    }

    /// The full snapshot a participant gets on join or resume.
    pub fn snapshot(&self, viewer: ParticipantId, now: Instant) -> RoomSnapshot {
        RoomSnapshot {
            id: self.id.clone(),
            now_ms: self.ms(now),
            settings: self.settings.clone(),
            participants: self.participants.values().map(Participant::view).collect(),
            queue: self.queue_view(Some(viewer)),
            floor: self.floor_view(now),
            audio_slots: self.audio_slots,
            chat: self.chat.views(),
            breakouts: self.breakouts(),
        }
    }

    /// Milliseconds on the room clock.
    fn ms(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_millis() as u64
    }

    // ----- inputs -------------------------------------------------------------------

    /// Admits a participant, or resumes one whose resume token matches (same name and
    /// role) within the grace period, or takes over the one who joined with the same link
    /// (present, or within the grace period): one link, one person. An unknown or lapsed
    /// resume token joins afresh.
    pub fn join(&mut self, now: Instant, req: JoinRequest) -> Result<Joined, RoomError> {
        let rec = JoinRecord::of(&req);
        self.join_record(now, rec, Some(req))
    }

    /// A join as recorded; `plain` carries the tokens in clear when there is somebody to
    /// hand one to (a live join), and is `None` on replay.
    pub(crate) fn join_record(
        &mut self,
        now: Instant,
        rec: JoinRecord,
        plain: Option<JoinRequest>,
    ) -> Result<Joined, RoomError> {
        let now = self.clock(now);
        let req = JoinRecord { name: display_name(&rec.name), ..rec.clone() };
        // A token whose grace period has run out joins afresh, even if the timeout that
        // removes its old identity has not been handled yet.
        if req.link.as_ref().is_some_and(|l| self.refused_links.contains(l)) {
            return Err(RoomError::Removed);
        }
        let within_grace =
            |p: &Participant| p.disconnected_at.is_none_or(|t| now < t + RESUME_GRACE);
        let by_token = |p: &Participant| req.resume.as_ref().is_some_and(|h| &p.resume == h);
        // One link is one person. Its role is the same on every join to a plenary (the
        // token says it), but a breakout group's directory may change it (a learner made
        // the group's facilitator): the link still names the same person.
        let same_person = |p: &Participant| {
            let same_link = req.link.is_some() && p.link == req.link;
            (same_link || (by_token(p) && p.role == req.role))
                && p.name == req.name
                && within_grace(p)
        };
        let found =
            self.participants.values().find(|p| same_person(p)).map(|p| (p.id, by_token(p)));
        // The token handed back: the one presented when it resumed; otherwise a fresh one
        // (a new participant, or a link taking over its identity: the old device's token
        // stops working).
        let (clear_resume, clear_new) = match plain {
            Some(p) => (p.resume, p.new_resume),
            None => (None, ResumeToken(String::new())),
        };
        let (joined, token) = match found {
            Some((id, true)) => {
                if let Some(p) = self.participants.get_mut(&id) {
                    p.disconnected_at = None;
                    (p.role, p.listening) = (req.role, req.listen);
                }
                (Joined { participant: id, resumed: true }, clear_resume.unwrap_or(clear_new))
            }
            Some((id, false)) => {
                if let Some(p) = self.participants.get_mut(&id) {
                    p.disconnected_at = None;
                    p.resume = req.new_resume.clone();
                    (p.role, p.listening) = (req.role, req.listen);
                }
                (Joined { participant: id, resumed: true }, clear_new)
            }
            None => (self.admit(now, req)?, clear_new),
        };
        let id = joined.participant;
        if !joined.resumed {
            self.late_joiner(id);
        }
        let view = self.participants[&id].view();
        let seq = self.next_seq();
        let you = YouView {
            id,
            role: self.participants[&id].role,
            resume_token: token,
            resumed: joined.resumed,
            ice_servers: Vec::new(),
        };
        let room = Box::new(self.snapshot(id, now));
        self.push(
            Audience::One(id),
            seq,
            ServerMsg::Welcome { protocol: PROTOCOL_VERSION, you, room },
        );
        let msg = if joined.resumed {
            ServerMsg::ParticipantUpdated { participant: view }
        } else {
            ServerMsg::ParticipantJoined { participant: view }
        };
        self.push(Audience::Others(id), seq, msg);
        self.finish(now);
        self.record(now, Change::Join(rec));
        Ok(joined)
    }

    fn admit(&mut self, now: Instant, req: JoinRecord) -> Result<Joined, RoomError> {
        if self.participants.len() >= self.capacity {
            return Err(RoomError::RoomFull(self.capacity));
        }
        let name = req.name;
        let taken: Vec<&str> = self.participants.values().map(|p| p.colour.as_str()).collect();
        // A colour carried from the plenary comes first (one person, one colour in every
        // room of a course), then the one they had here before.
        let first = req.colour.as_deref().filter(|c| colour::is_colour(c)).unwrap_or_else(|| {
            self.remembered_colours
                .get(&name)
                .map_or_else(|| colour::preferred(self.id.as_str(), &name), String::as_str)
        });
        let colour = colour::pick(&taken, Some(first));
        let initials: Vec<&str> = self.participants.values().map(|p| p.initials.as_str()).collect();
        let initials = colour::unique_initials(&name, &initials);
        let id = ParticipantId(self.next_participant);
        self.next_participant += 1;
        let mut p = Participant::new(id, name, colour, req.role, req.new_resume, now);
        p.initials = initials;
        p.link = req.link;
        p.listening = req.listen;
        self.participants.insert(id, p);
        Ok(Joined { participant: id, resumed: false })
    }

    /// Handles one input. On `Err` nothing in the room changed; the caller tells the
    /// sender (the error's [`RoomError::code`] and text).
    pub fn handle(&mut self, now: Instant, input: Input) -> Result<(), RoomError> {
        let now = self.clock(now);
        // Deadlines that passed before this input take effect first (an offer that has
        // lapsed cannot be accepted, whatever the driver's timer did).
        let due = !matches!(input, Input::Timeout) && self.poll_timeout().is_some_and(|t| t <= now);
        if due {
            self.on_timeout(now);
        }
        let recorded = (self.journal.is_some() && !reads_only(&input)).then(|| input.clone());
        let result = match input {
            Input::Client { from, msg } => self.on_client(now, from, msg),
            Input::Disconnected { participant } => self.on_disconnected(now, participant),
            Input::Speaking { participant, speaking } => {
                self.on_speaking(now, participant, speaking)
            }
            Input::Audio { participant, connected } => self.on_audio(participant, connected),
            Input::Timeout => {
                self.on_timeout(now);
                Ok(())
            }
        };
        self.finish(now);
        match (&result, recorded) {
            (Ok(()), Some(input)) => self.record(now, Change::Input(input)),
            (Err(_), _) if due => self.record(now, Change::Input(Input::Timeout)),
            _ => {}
        }
        result
    }

    fn clock(&mut self, now: Instant) -> Instant {
        self.last_now = self.last_now.max(now);
        self.last_now
    }

    // ----- polling ------------------------------------------------------------------

    /// The next output, in order. Drain until `None` after every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When the room next needs `handle(now, Input::Timeout)`, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let grace = self
            .participants
            .values()
            .filter_map(|p| p.disconnected_at.map(|t| t + RESUME_GRACE))
            .min();
        let round = self.round.as_ref().and_then(Round::deadline);
        [grace, self.floor.next_deadline(&self.settings), round].into_iter().flatten().min()
    }

    // ----- output helpers -----------------------------------------------------------

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn push(&mut self, to: Audience, seq: u64, msg: ServerMsg) {
        self.outputs.push_back(Output::Send { to, seq, msg });
    }

    /// Sends an event that changes what clients show: it takes a new sequence number.
    fn broadcast(&mut self, to: Audience, msg: ServerMsg) {
        let seq = self.next_seq();
        self.push(to, seq, msg);
    }

    /// Sends a reply or notice to one participant under the current sequence number.
    fn tell(&mut self, who: ParticipantId, msg: ServerMsg) {
        self.push(Audience::One(who), self.seq, msg);
    }

    fn participant_updated(&mut self, who: ParticipantId) {
        if let Some(view) = self.participant(who) {
            self.broadcast(Audience::All, ServerMsg::ParticipantUpdated { participant: view });
        }
    }

    /// Emits what an input left dirty: the queue (notes for facilitators only), the
    /// floor, a new offer, and changed media gates.
    fn finish(&mut self, now: Instant) {
        if std::mem::take(&mut self.queue_dirty) {
            let seq = self.next_seq();
            let learners = self.queue.views(|t| self.ms(t), false, None);
            let facilitators = self.queue.views(|t| self.ms(t), true, None);
            self.push(Audience::Learners, seq, ServerMsg::Queue { hands: learners });
            self.push(Audience::Facilitators, seq, ServerMsg::Queue { hands: facilitators });
        }
        if std::mem::take(&mut self.floor_dirty) {
            let floor = self.floor_view(now);
            self.broadcast(Audience::All, ServerMsg::Floor { floor });
        }
        if std::mem::take(&mut self.breakouts_dirty) {
            self.emit_breakouts();
        }
        if let Some(who) = self.new_offer.take()
            && self.floor.offered_to() == Some(who)
        {
            let expires_in_ms = self.settings.offer_timeout_ms;
            self.tell(who, ServerMsg::YoureUp { expires_in_ms });
        }
        self.update_gates(now);
    }

    /// Forwarding rule: never when force-muted; otherwise in open mode, for
    /// facilitators, for the holder, and for everyone during free discussion.
    fn should_forward(&self, p: &Participant) -> bool {
        !p.force_muted
            && !p.listening
            && (self.settings.mode == Mode::Open
                || p.role == Role::Facilitator
                || self.floor.holder() == Some(p.id)
                || matches!(self.floor, Floor::Discussion { .. }))
    }

    fn update_gates(&mut self, now: Instant) {
        let changes: Vec<(ParticipantId, bool)> = self
            .participants
            .values()
            .filter_map(|p| {
                let want = self.should_forward(p);
                (want != p.gate).then_some((p.id, want))
            })
            .collect();
        for (id, forward) in changes {
            if let Some(p) = self.participants.get_mut(&id) {
                p.gate = forward;
            }
            self.outputs.push_back(Output::Gate { participant: id, forward });
            self.apply_heard(now, id);
        }
    }

    /// Takes a participant out of the room: hand, offer and floor released, statistics
    /// kept for the report, everyone told.
    /// Keeps a departed person's statistics for the report: added to an earlier entry
    /// under the same name (someone who left and came back is one person in the report),
    /// at most [`MAX_DEPARTED`] names, so a room's memory stays bounded however many
    /// joins and leaves it sees.
    fn depart(&mut self, stats: PersonStats) {
        if let Some(d) = self.departed.iter_mut().find(|d| d.name == stats.name) {
            d.participant = stats.participant;
            d.colour = stats.colour;
            d.talk_ms = d.talk_ms.saturating_add(stats.talk_ms);
            d.turns = d.turns.saturating_add(stats.turns);
            d.reactions_given = d.reactions_given.saturating_add(stats.reactions_given);
            d.reactions_received = d.reactions_received.saturating_add(stats.reactions_received);
            d.wait_ms = d.wait_ms.saturating_add(stats.wait_ms);
            return;
        }
        if self.departed.len() == MAX_DEPARTED {
            self.departed.remove(0);
        }
        self.departed.push(stats);
    }

    /// A facilitator removes `who` for good: told, closed, gone, and their link refused
    /// here from now on (at most [`MAX_REFUSED_LINKS`], the oldest forgotten first).
    pub(crate) fn remove_participant(
        &mut self,
        now: Instant,
        by: ParticipantId,
        who: ParticipantId,
    ) -> Result<(), RoomError> {
        if who == by {
            return Err(RoomError::RemoveSelf);
        }
        let p = self.participants.get(&who).ok_or(RoomError::UnknownParticipant(who))?;
        if let Some(link) = p.link.clone() {
            if self.refused_links.len() == MAX_REFUSED_LINKS {
                self.refused_links.remove(0);
            }
            self.refused_links.push(link);
        }
        let reason = "a facilitator removed you from the room".into();
        self.tell(who, ServerMsg::Goodbye { reason });
        self.outputs.push_back(Output::Removed { participant: who });
        self.remove(now, who, LeaveReason::Removed);
        Ok(())
    }

    /// A facilitator ends the session: everyone is told who ended it and leaves.
    pub(crate) fn end_session(&mut self, now: Instant, by: ParticipantId) {
        let name = self.participants.get(&by).map_or_else(String::new, |p| p.name.clone());
        let everyone: Vec<ParticipantId> = self.participants.keys().copied().collect();
        for who in &everyone {
            let reason = format!("{name} ended the session");
            self.tell(*who, ServerMsg::Goodbye { reason });
            self.outputs.push_back(Output::Ended { participant: *who });
        }
        for who in everyone {
            self.remove(now, who, LeaveReason::SessionEnded);
        }
    }

    fn remove(&mut self, now: Instant, who: ParticipantId, reason: LeaveReason) {
        if !self.participants.contains_key(&who) {
            return;
        }
        self.drop_hand(now, who);
        if self.floor.holder() == Some(who) {
            self.end_turn(now, crate::protocol::TurnEnd::Left);
        }
        if self.floor.offered_to() == Some(who) {
            self.free_floor(now);
        }
        let Some(mut p) = self.participants.remove(&who) else {
            return;
        };
        if self.round.as_mut().is_some_and(|r| r.take_out(who)) {
            self.breakouts_dirty = true;
        }
        p.set_talking(false, now);
        self.depart(p.stats(now, false));
        self.remembered_colours.insert(p.name.clone(), p.colour.clone());
        if p.gate {
            self.outputs.push_back(Output::Gate { participant: who, forward: false });
        }
        self.outputs.push_back(Output::Left { participant: who });
        self.broadcast(Audience::All, ServerMsg::ParticipantLeft { participant: who, reason });
        self.maybe_offer(now);
    }

    /// The next turn id.
    /// Whether `who` is away (a hand kept, skipped by offers).
    fn is_away(&self, who: ParticipantId) -> bool {
        self.participants.get(&who).is_some_and(|p| p.presence == Presence::Away)
    }

    /// Who an offer goes to: the first hand whose owner is not away.
    fn next_up(&self) -> Option<ParticipantId> {
        self.queue.iter().map(|h| h.participant).find(|p| !self.is_away(*p))
    }

    /// What orders the queue now: the policy, the latest turn and whether replies to it
    /// may still go ahead.
    fn order(&self) -> Order {
        Order {
            policy: self.settings.policy,
            latest_turn: self.next_turn.checked_sub(1).filter(|n| *n > 0).map(TurnId),
            replies_first: self.reply_streak < self.settings.max_replies,
        }
    }

    /// Sorts the queue again after the order changed (a new turn, a new `max_replies`),
    /// the facilitator's moves kept; with `unpin` (a policy switch), undone.
    fn sort_queue(&mut self, now: Instant, unpin: bool) {
        let talk: Vec<(ParticipantId, Duration)> =
            self.participants.values().map(|p| (p.id, p.talk_at(now))).collect();
        let lookup = |who: ParticipantId| {
            talk.iter().find(|(p, _)| *p == who).map_or(Duration::ZERO, |(_, t)| *t)
        };
        let order = self.order();
        let changed = if unpin {
            self.queue.resort(order, lookup);
            true
        } else {
            self.queue.reorder(order, lookup)
        };
        if changed {
            self.queue_dirty = true;
        }
    }

    fn take_turn_id(&mut self) -> TurnId {
        let id = TurnId(self.next_turn);
        self.next_turn += 1;
        id
    }
}

/// The name as shown: trimmed, at most [`MAX_NAME_CHARS`], "Guest" when empty.
fn display_name(raw: &str) -> String {
    let name: String = raw.trim().chars().take(MAX_NAME_CHARS).collect();
    if name.is_empty() { "Guest".to_owned() } else { name }
}
