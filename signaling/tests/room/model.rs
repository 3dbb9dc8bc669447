//! A driver for random operation sequences that checks the room's invariants after every
//! input. It predicts little itself: who is present, connected and gone, and what each
//! output may mention.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use talkstick_signaling::protocol::{
    ClientMsg, FloorState, LeaveReason, Mode, Presence, ReactionKind, Role, ServerMsg, Settings,
};
use talkstick_signaling::room::RESUME_GRACE;
use talkstick_signaling::{
    Audience, Entry, Input, JoinRequest, Origin, Output, ParticipantId, ResumeToken, Room,
    RoomError,
};

use crate::common::{ms, state};
use crate::mirror::Mirror;
use crate::shapes::{check_floor, check_hands, mentioned};

/// One operation of a random run. Indices pick among the people at the time they run.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// A new participant (name from a small set, so names repeat).
    Join { name: u8, facilitator: bool },
    /// Someone ever admitted presents their resume token again.
    Resume(usize),
    /// Someone ever admitted loses their connection.
    Disconnect(usize),
    /// Speech detection for someone ever admitted.
    Speaking(usize, bool),
    /// The media plane's audio connection for someone ever admitted.
    Audio(usize, bool),
    /// A message from a connected participant; participant ids inside are indices,
    /// 7 meaning an id nobody has.
    Client(Who, ClientMsg),
    /// Several reactions from one connected participant at the same instant.
    Burst(Who, u8),
    /// Time passes; timers fire when due.
    Advance(u64),
}

/// Who sends a client message: steered toward the people whose messages move the floor,
/// falling back to anyone connected.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Who {
    /// Anyone connected.
    Any(usize),
    /// A connected facilitator.
    Facilitator(usize),
    /// Whoever is offered the floor.
    Offeree(usize),
    /// Whoever holds the floor.
    Holder(usize),
}

/// What the model knows about someone.
#[derive(Debug, Clone)]
struct Person {
    name: String,
    role: Role,
    token: ResumeToken,
    joined_at: Instant,
    disconnected_at: Option<Instant>,
    left_at: Option<Instant>,
}

/// Why an input may make someone leave.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cause {
    Leave(ParticipantId),
    Timeout,
    Other,
}

/// The facilitator-only messages, as the protocol documents them.
pub(crate) fn facilitator_only(msg: &ClientMsg) -> bool {
    matches!(
        msg,
        ClientMsg::Grant { .. }
            | ClientMsg::Next
            | ClientMsg::Revoke
            | ClientMsg::OpenDiscussion
            | ClientMsg::MoveHand { .. }
            | ClientMsg::RemoveHand { .. }
            | ClientMsg::ClearHands
            | ClientMsg::Mute { .. }
            | ClientMsg::Unmute { .. }
            | ClientMsg::MuteAll
            | ClientMsg::UnmuteAll
            | ClientMsg::UpdateSettings { .. }
            | ClientMsg::GetStats
            | ClientMsg::EndSession
            | ClientMsg::OpenBreakouts { .. }
            | ClientMsg::MoveToGroup { .. }
            | ClientMsg::CloseGroup { .. }
            | ClientMsg::CloseBreakouts { .. }
            | ClientMsg::BreakoutNotice { .. }
            | ClientMsg::SetGroupLead { .. }
            | ClientMsg::AnswerHelp { .. }
    )
}

/// The room under test and the model beside it.
pub(crate) struct World {
    room: Room,
    now: Instant,
    people: BTreeMap<ParticipantId, Person>,
    last_seq: u64,
    gates: HashMap<ParticipantId, bool>,
    mirror: Mirror,
    /// The offer clients last knew of: who, and until when.
    offer: Option<(ParticipantId, Option<u64>)>,
    /// The round and end of a call-back's countdown last seen.
    closing: Option<(u32, u64)>,
    tokens: u32,
    /// The settings the room started with (for its replay).
    settings: Settings,
}

impl World {
    /// A room with `settings` and a facilitator and two learners in it.
    pub(crate) fn new(settings: Settings) -> Self {
        let now = Instant::now();
        let room = Room::new("prop".parse().unwrap(), settings.clone(), now).journaled();
        let mirror = Mirror::new(&room, now);
        let mut w = World {
            room,
            mirror,
            offer: None,
            closing: None,
            now,
            people: BTreeMap::new(),
            last_seq: 0,
            gates: HashMap::new(),
            tokens: 0,
            settings,
        };
        w.apply(&Op::Join { name: 100, facilitator: true });
        w.apply(&Op::Join { name: 0, facilitator: false });
        w.apply(&Op::Join { name: 1, facilitator: false });
        w
    }

    /// Rebuilds the room from its journal (through JSON, as it is stored) and checks that
    /// the result is the same room: every participant's snapshot, the statistics, the
    /// sequence number and the next deadline.
    pub(crate) fn check_replay(&mut self) {
        let journal = self.room.take_journal();
        let text = serde_json::to_string(&journal).unwrap();
        let journal: Vec<Entry> = serde_json::from_str(&text).unwrap();
        let origin = Origin {
            id: self.room.id().clone(),
            settings: self.settings.clone(),
            epoch: self.room.epoch(),
            audio_slots: talkstick_signaling::room::DEFAULT_AUDIO_SLOTS,
            capacity: talkstick_signaling::room::DEFAULT_CAPACITY,
        };
        let copy = Room::replay(origin, journal).expect("the journal replays");
        assert_eq!(copy.seq(), self.room.seq(), "sequence number");
        assert_eq!(copy.poll_timeout(), self.room.poll_timeout(), "next deadline");
        assert_eq!(copy.participant_ids(), self.room.participant_ids());
        assert_eq!(copy.stats(self.now), self.room.stats(self.now), "statistics");
        for id in self.room.participant_ids() {
            assert_eq!(
                copy.snapshot(id, self.now),
                self.room.snapshot(id, self.now),
                "as {id} sees it"
            );
        }
    }

    fn all_ids(&self) -> Vec<ParticipantId> {
        self.people.keys().copied().collect()
    }

    fn nth(ids: &[ParticipantId], i: usize) -> Option<ParticipantId> {
        (!ids.is_empty()).then(|| ids[i % ids.len()])
    }

    fn gone(&self) -> BTreeSet<ParticipantId> {
        self.people.iter().filter(|(_, p)| p.left_at.is_some()).map(|(id, _)| *id).collect()
    }

    /// Runs one operation, then fires any timer that is due.
    pub(crate) fn apply(&mut self, op: &Op) {
        match op {
            Op::Join { name, facilitator } => {
                let role = if *facilitator { Role::Facilitator } else { Role::Learner };
                let name = format!("P{}", name % 5);
                self.join(name, role, None, None);
            }
            Op::Resume(i) => {
                let Some(id) = Self::nth(&self.all_ids(), *i) else { return };
                let p = self.people[&id].clone();
                self.join(p.name, p.role, Some(p.token), Some(id));
            }
            Op::Disconnect(i) => {
                let Some(id) = Self::nth(&self.all_ids(), *i) else { return };
                let p = self.people.get_mut(&id).unwrap();
                if p.left_at.is_none() {
                    p.disconnected_at.get_or_insert(self.now);
                }
                let res = self.handle(Input::Disconnected { participant: id }, Cause::Other);
                self.expect_known(id, &res);
            }
            Op::Speaking(i, speaking) => {
                let Some(id) = Self::nth(&self.all_ids(), *i) else { return };
                let input = Input::Speaking { participant: id, speaking: *speaking };
                let res = self.handle(input, Cause::Other);
                self.expect_known(id, &res);
            }
            Op::Audio(i, connected) => {
                let Some(id) = Self::nth(&self.all_ids(), *i) else { return };
                let input = Input::Audio { participant: id, connected: *connected };
                let res = self.handle(input, Cause::Other);
                self.expect_known(id, &res);
            }
            Op::Client(who, msg) => {
                if let Some(from) = self.sender(*who) {
                    self.client(from, msg.clone());
                }
            }
            Op::Burst(who, n) => {
                let Some(from) = self.sender(*who) else { return };
                for k in 0..*n {
                    let reaction = ReactionKind::ALL[k as usize % ReactionKind::ALL.len()];
                    if self.people[&from].left_at.is_none() {
                        self.client(from, ClientMsg::React { reaction });
                    }
                }
            }
            Op::Advance(d) => {
                let target = self.now + ms(*d);
                while let Some(due) = self.room.poll_timeout().filter(|t| *t <= target) {
                    self.now = self.now.max(due);
                    self.fire();
                }
                self.now = target;
            }
        }
        self.settle();
    }

    /// Inputs about someone ever admitted succeed exactly while they are present.
    fn expect_known(&self, id: ParticipantId, res: &Result<(), RoomError>) {
        if self.people[&id].left_at.is_some() {
            assert_eq!(*res, Err(RoomError::UnknownParticipant(id)));
        } else {
            assert_eq!(*res, Ok(()));
        }
    }

    fn fire(&mut self) {
        let res = self.handle(Input::Timeout, Cause::Timeout);
        assert_eq!(res, Ok(()));
        let next = self.room.poll_timeout();
        assert!(next.is_none_or(|t| t > self.now), "a timeout left a deadline due");
    }

    /// Fires due timers, as a driver does right after every input.
    fn settle(&mut self) {
        while self.room.poll_timeout().is_some_and(|t| t <= self.now) {
            self.fire();
        }
        for (id, p) in &self.people {
            if let (None, Some(d)) = (p.left_at, p.disconnected_at) {
                assert!(self.now < d + RESUME_GRACE, "{id} outlived the grace period");
            }
        }
    }

    fn join(
        &mut self,
        name: String,
        role: Role,
        resume: Option<ResumeToken>,
        old: Option<ParticipantId>,
    ) {
        self.tokens += 1;
        let new_resume = ResumeToken(format!("tok-{}", self.tokens));
        let req = JoinRequest {
            name: name.clone(),
            role,
            resume,
            new_resume: new_resume.clone(),
            link: None,
            listen: false,
            colour: None,
        };
        let before = state(&self.room, self.now);
        let res = self.room.join(self.now, req);
        let outs: Vec<Output> = std::iter::from_fn(|| self.room.poll_output()).collect();
        let joined = match res {
            Ok(j) => j,
            Err(e) => {
                assert_eq!(e, RoomError::RoomFull(talkstick_signaling::room::DEFAULT_CAPACITY));
                assert!(outs.is_empty());
                assert_eq!(before, state(&self.room, self.now));
                return;
            }
        };
        let id = joined.participant;
        match old.filter(|o| self.people[o].left_at.is_none()) {
            Some(o) => {
                assert_eq!((id, joined.resumed), (o, true), "a present identity resumes");
                self.people.get_mut(&o).unwrap().disconnected_at = None;
            }
            None => {
                assert!(!joined.resumed, "a departed identity never resumes");
                assert!(!self.people.contains_key(&id), "ids are never reused");
                let p = Person {
                    name,
                    role,
                    token: new_resume,
                    joined_at: self.now,
                    disconnected_at: None,
                    left_at: None,
                };
                self.people.insert(id, p);
            }
        }
        let welcomes: Vec<_> = outs
            .iter()
            .filter_map(|o| match o {
                Output::Send { to, msg: ServerMsg::Welcome { you, .. }, .. } => Some((*to, you)),
                _ => None,
            })
            .collect();
        assert_eq!(welcomes.len(), 1);
        assert_eq!(welcomes[0].0, Audience::One(id));
        assert_eq!(welcomes[0].1.id, id);
        assert_eq!(welcomes[0].1.resumed, joined.resumed);
        assert_eq!(welcomes[0].1.resume_token, self.people[&id].token);
        self.check_welcome(id, &outs);
        self.check_outputs(&outs, Cause::Other);
        self.check_offer(&outs);
        self.check_state();
    }

    /// A connected sender for `who`, if anyone is connected.
    fn sender(&self, who: Who) -> Option<ParticipantId> {
        let connected: Vec<ParticipantId> = self
            .people
            .iter()
            .filter(|(_, p)| p.left_at.is_none() && p.disconnected_at.is_none())
            .map(|(id, _)| *id)
            .collect();
        let floor = self.room.floor_view(self.now);
        let (preferred, i) = match who {
            Who::Any(i) => (None, i),
            Who::Facilitator(i) => {
                let f: Vec<_> = connected
                    .iter()
                    .copied()
                    .filter(|p| self.people[p].role == Role::Facilitator)
                    .collect();
                (Self::nth(&f, i), i)
            }
            Who::Offeree(i) => (floor.offered_to, i),
            Who::Holder(i) => (floor.holder, i),
        };
        preferred.filter(|p| connected.contains(p)).or_else(|| Self::nth(&connected, i))
    }

    /// The snapshot is the room as it is: nothing changes after it in a join.
    fn check_welcome(&self, id: ParticipantId, outs: &[Output]) {
        let room = outs
            .iter()
            .find_map(|o| match o {
                Output::Send { msg: ServerMsg::Welcome { room, .. }, .. } => Some(room),
                _ => None,
            })
            .unwrap();
        let views: Vec<_> =
            self.room.participant_ids().iter().filter_map(|p| self.room.participant(*p)).collect();
        assert_eq!(room.participants, views);
        assert_eq!(room.queue, self.room.queue_view(Some(id)));
        assert_eq!(room.floor, self.room.floor_view(self.now));
        assert_eq!(&room.settings, self.room.settings());
    }

    fn client(&mut self, from: ParticipantId, msg: ClientMsg) {
        let msg = self.resolve(msg);
        let role = self.people[&from].role;
        let cause = if msg == ClientMsg::Leave { Cause::Leave(from) } else { Cause::Other };
        let res = self.handle(Input::Client { from, msg: msg.clone() }, cause);
        match (&res, facilitator_only(&msg), role) {
            (Err(RoomError::Forbidden(_)), true, Role::Learner) => {}
            (other, true, Role::Learner) => panic!("learner's {msg:?} gave {other:?}"),
            (Err(RoomError::Forbidden(_)), _, _) => panic!("{msg:?} from {role:?} forbidden"),
            _ => {}
        }
        if matches!(res, Err(RoomError::RateLimited(_))) {
            assert!(matches!(msg, ClientMsg::React { .. }));
        }
        if matches!(res, Err(RoomError::TooManyChanges(_))) {
            assert!(matches!(
                msg,
                ClientMsg::RaiseHand { .. }
                    | ClientMsg::LowerHand
                    | ClientMsg::SetMic { .. }
                    | ClientMsg::SetAway { .. }
                    | ClientMsg::SetPushToTalk { .. }
                    | ClientMsg::AskToUnmute
                    | ClientMsg::AskForHelp
                    | ClientMsg::WithdrawHelp
            ));
        }
        if matches!(res, Err(RoomError::TooManyMoves(_))) {
            assert!(matches!(msg, ClientMsg::ChooseGroup { .. }));
        }
        if res.is_err() {
            return;
        }
        match msg {
            ClientMsg::Join { .. } => panic!("a second join was accepted"),
            ClientMsg::Leave => assert!(self.people[&from].left_at.is_some()),
            ClientMsg::AcceptFloor => assert_eq!(self.room.holder(), Some(from)),
            ClientMsg::Yield => assert_ne!(self.room.holder(), Some(from)),
            ClientMsg::RaiseHand { .. } => assert!(self.room.queue_order().contains(&from)),
            ClientMsg::LowerHand => assert!(!self.room.queue_order().contains(&from)),
            _ => {}
        }
    }

    /// Replaces index-valued participant ids in `msg` by real ones.
    fn resolve(&self, mut msg: ClientMsg) -> ClientMsg {
        let ids = self.all_ids();
        let pick = |p: &mut ParticipantId| {
            *p = if p.0 == 7 { ParticipantId(999) } else { ids[p.0 as usize % ids.len()] };
        };
        match &mut msg {
            ClientMsg::Grant { participant }
            | ClientMsg::MoveHand { participant, .. }
            | ClientMsg::RemoveHand { participant }
            | ClientMsg::Mute { participant }
            | ClientMsg::Unmute { participant } => pick(participant),
            _ => {}
        }
        msg
    }

    /// Feeds one input; a refusal must emit nothing and change nothing.
    fn handle(&mut self, input: Input, cause: Cause) -> Result<(), RoomError> {
        let before = state(&self.room, self.now);
        let res = self.room.handle(self.now, input.clone());
        let outs: Vec<Output> = std::iter::from_fn(|| self.room.poll_output()).collect();
        if let Err(e) = &res {
            assert!(outs.is_empty(), "refused {input:?} ({e:?}) emitted {outs:?}");
            assert_eq!(before, state(&self.room, self.now), "refused {input:?} changed state");
        }
        self.check_outputs(&outs, cause);
        self.check_offer(&outs);
        self.check_state();
        res
    }

    /// Every new offer is announced to its receiver; a free floor with auto-offer on
    /// leaves nobody waiting.
    fn check_offer(&mut self, outs: &[Output]) {
        let floor = self.room.floor_view(self.now);
        let offer = floor.offered_to.map(|p| (p, floor.offer_expires_ms));
        if let Some((p, _)) = offer.filter(|o| Some(*o) != self.offer) {
            let told = outs.iter().any(|o| match o {
                Output::Send { to, msg: ServerMsg::YoureUp { .. }, .. } => *to == Audience::One(p),
                _ => false,
            });
            assert!(told, "{p} was offered the floor without being told");
        }
        self.offer = offer;
        // Breakouts: everyone is in at most one open group, only people in the room are
        // in one, and group leads are their group's learners.
        let present = self.room.participant_ids();
        let view = self.room.breakouts();
        if let Some(b) = &view {
            // Deadlines are applied before anything else: an open round is never past its
            // end, and a call-back's countdown only ever comes sooner.
            for end in [b.ends_ms, b.closes_ms].into_iter().flatten() {
                assert!(end > floor.now_ms, "round {} open past its end {end}", b.round);
            }
            if let Some((round, was)) = self.closing.filter(|(r, _)| *r == b.round) {
                assert!(b.closes_ms.is_some_and(|c| c <= was), "round {round}'s countdown grew");
            }
            self.closing = b.closes_ms.map(|c| (b.round, c));
            let mut placed = BTreeSet::new();
            for g in b.groups.iter().filter(|g| g.open) {
                for who in &g.members {
                    assert!(present.contains(who), "{who} is in group {} but not here", g.no);
                    assert!(placed.insert(*who), "{who} is in two groups");
                }
                for who in &g.leads {
                    assert!(g.members.contains(who), "lead {who} outside group {}", g.no);
                }
                // A request for help comes from the group's own people, once each.
                let mut asking = BTreeSet::new();
                for h in &g.help {
                    assert!(g.members.contains(&h.participant), "help from outside group {}", g.no);
                    assert!(asking.insert(h.participant), "{} asks twice", h.participant);
                }
            }
            for g in b.groups.iter().filter(|g| !g.open) {
                assert!(g.members.is_empty(), "closed group {} keeps people", g.no);
                assert!(g.help.is_empty(), "closed group {} keeps requests for help", g.no);
            }
        } else {
            // Called back (or never opened): no group room admits anyone.
            assert!(self.room.group_access().is_empty(), "groups admit people after call-back");
        }
        if self.room.settings().auto_offer && floor.state == FloorState::Free && view.is_none() {
            let here = |p: &ParticipantId| {
                self.room.participant(*p).is_some_and(|v| v.presence != Presence::Away)
            };
            assert!(!self.room.queue_order().iter().any(here), "a free floor and hands waiting");
        }
    }

    /// Checks one input's outputs in order, and notes who left.
    fn check_outputs(&mut self, outs: &[Output], cause: Cause) {
        let mut gone = self.gone();
        for (i, out) in outs.iter().enumerate() {
            self.mirror.apply(out);
            match out {
                Output::Send { to, seq, msg } => {
                    if let (ServerMsg::YoureUp { expires_in_ms }, Audience::One(p)) = (msg, to) {
                        let floor = self.room.floor_view(self.now);
                        assert_eq!(floor.offered_to, Some(*p), "you're up to the offeree");
                        assert_eq!(*expires_in_ms, self.room.settings().offer_timeout_ms);
                    }
                    assert!(*seq >= self.last_seq, "seq went back: {seq} < {}", self.last_seq);
                    self.last_seq = *seq;
                    if let Audience::One(p) | Audience::Others(p) = to {
                        assert!(!gone.contains(p), "{msg:?} addressed to departed {p}");
                    }
                    for id in mentioned(msg) {
                        assert!(self.people.contains_key(&id), "{msg:?} names unknown {id}");
                        assert!(!gone.contains(&id), "{msg:?} names departed {id}");
                    }
                    self.check_msg(*to, msg, &gone);
                    if let ServerMsg::ParticipantLeft { participant, reason } = msg {
                        let released = outs[..i].iter().any(
                            |o| matches!(o, Output::Left { participant: p } if p == participant),
                        );
                        assert!(released, "{participant} left without releasing their media");
                        self.departure(*participant, *reason, cause);
                        gone.insert(*participant);
                        let forwarded = self.gates.remove(participant).unwrap_or(false);
                        assert!(!forwarded, "{participant} left with their audio forwarded");
                    }
                }
                Output::Gate { participant, forward } => {
                    assert!(!gone.contains(participant), "gate for departed {participant}");
                    self.gates.insert(*participant, *forward);
                }
                Output::Left { participant } => {
                    assert!(!gone.contains(participant), "{participant} released twice");
                    let follows = outs[i..].iter().any(|o| match o {
                        Output::Send {
                            msg: ServerMsg::ParticipantLeft { participant: p, .. },
                            ..
                        } => p == participant,
                        _ => false,
                    });
                    assert!(follows, "{participant} released but still in the room");
                }
                Output::Close { participant } => {
                    assert_eq!(cause, Cause::Leave(*participant), "close without a leave");
                }
                Output::Removed { participant } => {
                    panic!("{participant} removed, but the model never removes anyone")
                }
                Output::Ended { participant } => {
                    panic!("{participant}'s session ended, but the model never ends it")
                }
                Output::Breakouts { groups } => {
                    // Every group admits only people in the room, each at most once.
                    for g in groups {
                        let links: std::collections::HashSet<_> =
                            g.people.iter().map(|(l, _, _)| l).collect();
                        assert_eq!(links.len(), g.people.len(), "a link twice in {}", g.room);
                    }
                }
            }
        }
    }

    fn departure(&mut self, who: ParticipantId, reason: LeaveReason, cause: Cause) {
        let now = self.now;
        let p = self.people.get_mut(&who).expect("a known participant left");
        assert!(p.left_at.is_none(), "{who} left twice");
        match reason {
            LeaveReason::Left => assert_eq!(cause, Cause::Leave(who)),
            LeaveReason::TimedOut => {
                assert_eq!(cause, Cause::Timeout);
                let d = p.disconnected_at.expect("only the disconnected time out");
                assert!(d + RESUME_GRACE <= now, "{who} timed out early");
            }
            LeaveReason::Removed => panic!("{who} removed, but the model never removes anyone"),
            LeaveReason::SessionEnded => {
                panic!("{who}'s session ended, but the model never ends it")
            }
        }
        p.left_at = Some(now);
    }

    fn check_msg(&self, to: Audience, msg: &ServerMsg, gone: &BTreeSet<ParticipantId>) {
        match msg {
            ServerMsg::Queue { hands } => {
                assert!(matches!(to, Audience::Learners | Audience::Facilitators), "{to:?}");
                check_hands(hands);
                if to == Audience::Learners {
                    assert!(hands.iter().all(|h| h.note.is_none()), "a note reached learners");
                }
            }
            ServerMsg::Floor { floor } => check_floor(floor),
            ServerMsg::Welcome { you, room, .. } => {
                check_hands(&room.queue);
                check_floor(&room.floor);
                for h in room.queue.iter().filter(|h| h.note.is_some()) {
                    assert!(you.role == Role::Facilitator || h.participant == you.id);
                }
            }
            ServerMsg::YoureUp { .. } | ServerMsg::OfferExpired | ServerMsg::Pong => {
                assert!(matches!(to, Audience::One(_)), "{msg:?} to {to:?}");
            }
            ServerMsg::Stats { stats } => {
                for p in &stats.people {
                    assert_eq!(p.present, !gone.contains(&p.participant), "{p:?}");
                }
            }
            _ => {}
        }
    }

    /// Invariants of the room between inputs.
    fn check_state(&self) {
        let present: Vec<ParticipantId> =
            self.people.iter().filter(|(_, p)| p.left_at.is_none()).map(|(id, _)| *id).collect();
        assert_eq!(self.room.participant_ids(), present);
        let mut colours = BTreeSet::new();
        for id in &present {
            let v = self.room.participant(*id).unwrap();
            assert_eq!(v.connected, self.people[id].disconnected_at.is_none(), "{id}");
            assert!(colours.insert(v.colour.clone()), "colour {} twice", v.colour);
        }

        let floor = self.room.floor_view(self.now);
        check_floor(&floor);
        assert_eq!(self.room.holder(), floor.holder);
        for id in floor.holder.iter().chain(floor.offered_to.iter()) {
            assert!(present.contains(id), "floor names {id}, who is not here");
        }
        let queue = self.room.queue_order();
        let distinct: BTreeSet<_> = queue.iter().collect();
        assert_eq!(distinct.len(), queue.len(), "a duplicate hand: {queue:?}");
        assert!(queue.iter().all(|p| present.contains(p)), "a departed hand: {queue:?}");
        assert!(floor.holder.is_none_or(|h| !queue.contains(&h)), "the holder has a hand");
        check_hands(&self.room.queue_view(None));

        let settings = self.room.settings();
        for id in &present {
            let v = self.room.participant(*id).unwrap();
            assert!(!v.unmute_requested || v.force_muted, "{id} asks to be unmuted unmuted");
            assert!(!v.speaking || self.room.gate(*id), "{id} shown speaking but not heard");
            let want = !v.force_muted
                && (settings.mode == Mode::Open
                    || v.role == Role::Facilitator
                    || floor.holder == Some(*id)
                    || floor.state == FloorState::Discussion);
            assert_eq!(self.room.gate(*id), want, "gate of {id}");
            assert_eq!(self.gates.get(id).copied().unwrap_or(false), want, "gate sent for {id}");
        }
        self.mirror.assert_matches(&self.room, self.now);
        self.check_stats();
    }

    fn check_stats(&self) {
        let stats = self.room.stats(self.now);
        assert!((0.0..1.0).contains(&stats.gini), "gini {}", stats.gini);
        // Present people one each; departed people one per name (someone who left and
        // came back is one person in the report).
        let present = self.people.values().filter(|p| p.left_at.is_none()).count();
        let departed_names: std::collections::BTreeSet<&str> =
            self.people.values().filter(|p| p.left_at.is_some()).map(|p| p.name.as_str()).collect();
        assert_eq!(stats.people.len(), present + departed_names.len());
        for s in &stats.people {
            assert_eq!(s.present, self.people[&s.participant].left_at.is_none());
            // Whom this entry stands for: the participant, or every departed one of its name.
            let group: Vec<(&ParticipantId, &Person)> = self
                .people
                .iter()
                .filter(|(id, p)| {
                    if s.present {
                        **id == s.participant
                    } else {
                        p.left_at.is_some() && p.name == s.name
                    }
                })
                .collect();
            let in_room: Duration =
                group.iter().map(|(_, p)| p.left_at.unwrap_or(self.now) - p.joined_at).sum();
            assert!(
                Duration::from_millis(s.talk_ms) <= in_room,
                "{} talked {} ms in {in_room:?}",
                s.participant,
                s.talk_ms
            );
            assert!(Duration::from_millis(s.wait_ms) <= in_room, "{s:?} waited too long");
            let turns =
                stats.turns.iter().filter(|t| group.iter().any(|(id, _)| **id == t.holder)).count();
            assert_eq!(s.turns as usize, turns, "turns of {}", s.participant);
        }
        let received: u32 = stats.people.iter().map(|p| p.reactions_received).sum();
        let tallied: u32 = stats.turns.iter().map(|t| t.tally.total()).sum();
        let given: u32 = stats.people.iter().map(|p| p.reactions_given).sum();
        assert!(received <= tallied && tallied <= given, "{received} {tallied} {given}");
        for (i, t) in stats.turns.iter().enumerate() {
            assert_eq!(t.turn.0 as usize, i + 1, "turns are numbered 1, 2, ...");
            let current = self.room.floor_view(self.now).turn == Some(t.turn);
            assert_eq!(t.ended.is_none(), current, "{t:?}");
            assert!(t.end_ms.is_none_or(|e| e >= t.start_ms));
        }
    }
}
