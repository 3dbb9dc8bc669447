//! A deterministic driver for one [`Room`] on passed-in time, and helpers to look into
//! its outputs. Nothing here sleeps: time is `t0 + offset`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use talkstick_signaling::protocol::{
    ChatView, ClientMsg, FloorState, FloorView, HandKind, HandView, ParticipantView, Role,
    ServerMsg, Settings, SettingsPatch, StatsView,
};
use talkstick_signaling::{
    Audience, Input, JoinRequest, Joined, Output, ParticipantId, ResumeToken, Room, RoomError,
    RoomId,
};

/// Milliseconds as a duration.
pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Everything about a room a refusal must leave as it was.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct State {
    pub(crate) participants: Vec<ParticipantView>,
    pub(crate) queue_order: Vec<ParticipantId>,
    /// The queue as each participant sees it (notes differ by viewer).
    pub(crate) queue_views: Vec<Vec<HandView>>,
    pub(crate) floor: FloorView,
    pub(crate) settings: Settings,
    pub(crate) seq: u64,
    pub(crate) gates: Vec<bool>,
    pub(crate) stats: StatsView,
    pub(crate) timeout: Option<Instant>,
    pub(crate) chat: Vec<ChatView>,
}

/// Captures the observable state of `room` at `now`.
pub(crate) fn state(room: &Room, now: Instant) -> State {
    let ids = room.participant_ids();
    State {
        participants: ids.iter().filter_map(|p| room.participant(*p)).collect(),
        queue_order: room.queue_order(),
        queue_views: ids.iter().map(|p| room.queue_view(Some(*p))).collect(),
        floor: room.floor_view(now),
        settings: room.settings().clone(),
        seq: room.seq(),
        gates: ids.iter().map(|p| room.gate(*p)).collect(),
        stats: room.stats(now),
        timeout: room.poll_timeout(),
        chat: room.chat(),
    }
}

/// One room driven on simulated time.
pub(crate) struct Sim {
    pub(crate) room: Room,
    pub(crate) t0: Instant,
    pub(crate) now: Instant,
    tokens: HashMap<ParticipantId, (String, Role, ResumeToken)>,
    next_token: u32,
}

impl Sim {
    /// A room with default settings.
    pub(crate) fn new() -> Self {
        Sim::with(Settings::default())
    }

    /// A room with these settings.
    pub(crate) fn with(settings: Settings) -> Self {
        let t0 = Instant::now();
        let id: RoomId = "test-room".parse().unwrap();
        Sim {
            room: Room::new(id, settings, t0),
            t0,
            now: t0,
            tokens: HashMap::new(),
            next_token: 0,
        }
    }

    /// The same room, recording its journal from now on.
    pub(crate) fn journaled(self) -> Self {
        Sim { room: self.room.journaled(), ..self }
    }

    /// A room with default settings changed by `f`.
    pub(crate) fn with_settings(f: impl FnOnce(&mut Settings)) -> Self {
        let mut s = Settings::default();
        f(&mut s);
        Sim::with(s)
    }

    /// Moves the clock to `t0 + offset` without firing timers.
    pub(crate) fn at_ms(&mut self, offset: u64) -> Instant {
        let t = self.t0 + ms(offset);
        assert!(t >= self.now, "time runs forward in tests");
        self.now = t;
        t
    }

    /// Drains every pending output.
    pub(crate) fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.room.poll_output()).collect()
    }

    fn fresh_token(&mut self) -> ResumeToken {
        self.next_token += 1;
        ResumeToken(format!("resume-{}", self.next_token))
    }

    /// Joins a new participant; returns the outcome and the outputs.
    pub(crate) fn try_join(
        &mut self,
        name: &str,
        role: Role,
    ) -> (Result<Joined, RoomError>, Vec<Output>) {
        let req = JoinRequest {
            name: name.to_owned(),
            role,
            resume: None,
            new_resume: self.fresh_token(),
            link: None,
            listen: false,
            colour: None,
        };
        self.join_req(req)
    }

    /// Joins with a full request; remembers the token handed out.
    pub(crate) fn join_req(
        &mut self,
        req: JoinRequest,
    ) -> (Result<Joined, RoomError>, Vec<Output>) {
        let (name, role) = (req.name.clone(), req.role);
        let res = self.room.join(self.now, req);
        let outs = self.drain();
        if let Ok(j) = res
            && let Some(ServerMsg::Welcome { you, .. }) =
                msg_to(&outs, j.participant, |m| matches!(m, ServerMsg::Welcome { .. }))
        {
            self.tokens.insert(j.participant, (name, role, you.resume_token));
        }
        (res, outs)
    }

    /// Joins a new participant and returns their id.
    pub(crate) fn join(&mut self, name: &str, role: Role) -> ParticipantId {
        let (res, _) = self.try_join(name, role);
        res.expect("join").participant
    }

    /// A learner.
    pub(crate) fn learner(&mut self, name: &str) -> ParticipantId {
        self.join(name, Role::Learner)
    }

    /// A facilitator.
    pub(crate) fn facilitator(&mut self, name: &str) -> ParticipantId {
        self.join(name, Role::Facilitator)
    }

    /// Presents `who`'s resume token (same name and role) on a new connection.
    pub(crate) fn resume(
        &mut self,
        who: ParticipantId,
    ) -> (Result<Joined, RoomError>, Vec<Output>) {
        let (name, role, token) = self.tokens[&who].clone();
        let req = JoinRequest {
            name,
            role,
            resume: Some(token),
            new_resume: self.fresh_token(),
            link: None,
            listen: false,
            colour: None,
        };
        self.join_req(req)
    }

    /// The resume token `who` was given.
    pub(crate) fn token(&self, who: ParticipantId) -> ResumeToken {
        self.tokens[&who].2.clone()
    }

    /// Feeds one input at the current time.
    pub(crate) fn input(&mut self, input: Input) -> (Result<(), RoomError>, Vec<Output>) {
        let res = self.room.handle(self.now, input);
        (res, self.drain())
    }

    /// Sends a client message; returns the outcome and outputs.
    pub(crate) fn send(
        &mut self,
        from: ParticipantId,
        msg: ClientMsg,
    ) -> (Result<(), RoomError>, Vec<Output>) {
        self.input(Input::Client { from, msg })
    }

    /// Sends a client message that must succeed; returns the outputs.
    #[track_caller]
    pub(crate) fn ok(&mut self, from: ParticipantId, msg: ClientMsg) -> Vec<Output> {
        let (res, outs) = self.send(from, msg.clone());
        if let Err(e) = res {
            panic!("{msg:?} from {from} refused: {e:?}");
        }
        outs
    }

    /// Feeds an input that must be refused, checking that nothing was emitted and
    /// nothing observable changed. Returns the error.
    #[track_caller]
    pub(crate) fn refused_input(&mut self, input: Input) -> RoomError {
        let before = state(&self.room, self.now);
        let (res, outs) = self.input(input.clone());
        let err = match res {
            Ok(()) => panic!("{input:?} was accepted"),
            Err(e) => e,
        };
        assert!(outs.is_empty(), "refused {input:?} ({err:?}) emitted {outs:#?}");
        assert_eq!(before, state(&self.room, self.now), "refused {input:?} changed state");
        err
    }

    /// A client message that must be refused without any effect.
    #[track_caller]
    pub(crate) fn refused(&mut self, from: ParticipantId, msg: ClientMsg) -> RoomError {
        self.refused_input(Input::Client { from, msg })
    }

    /// Speech detection for `who`.
    pub(crate) fn speaking(&mut self, who: ParticipantId, speaking: bool) -> Vec<Output> {
        let (res, outs) = self.input(Input::Speaking { participant: who, speaking });
        res.expect("speaking");
        outs
    }

    /// Advances to `t0 + offset`, firing `Input::Timeout` at every deadline on the way,
    /// exactly as a driver would. Returns all outputs.
    pub(crate) fn run_to_ms(&mut self, offset: u64) -> Vec<Output> {
        let target = self.t0 + ms(offset);
        assert!(target >= self.now, "time runs forward in tests");
        let mut outs = Vec::new();
        while let Some(due) = self.room.poll_timeout().filter(|d| *d <= target) {
            self.now = self.now.max(due);
            let (res, more) = self.input(Input::Timeout);
            res.expect("timeouts never fail");
            outs.extend(more);
            let next = self.room.poll_timeout();
            assert!(next.is_none_or(|n| n > self.now), "timeout made no progress");
        }
        self.now = target;
        outs
    }

    /// Raise a hand without a note.
    #[track_caller]
    pub(crate) fn raise(&mut self, who: ParticipantId, kind: HandKind) -> Vec<Output> {
        self.ok(who, ClientMsg::RaiseHand { kind, note: None })
    }

    /// Makes `who` the holder via a facilitator's grant and their acceptance.
    #[track_caller]
    pub(crate) fn give_floor(&mut self, facilitator: ParticipantId, who: ParticipantId) {
        self.ok(facilitator, ClientMsg::Grant { participant: who });
        self.ok(who, ClientMsg::AcceptFloor);
        assert_eq!(self.room.holder(), Some(who));
    }

    /// Applies a settings patch as `facilitator`.
    #[track_caller]
    pub(crate) fn patch(
        &mut self,
        facilitator: ParticipantId,
        settings: SettingsPatch,
    ) -> Vec<Output> {
        self.ok(facilitator, ClientMsg::UpdateSettings { settings })
    }

    /// The floor now.
    pub(crate) fn floor(&self) -> FloorView {
        self.room.floor_view(self.now)
    }

    /// Statistics now.
    pub(crate) fn stats(&self) -> StatsView {
        self.room.stats(self.now)
    }
}

// ----- looking into outputs ----------------------------------------------------------

/// Every `Send` as (audience, message).
pub(crate) fn sends(outs: &[Output]) -> Vec<(Audience, &ServerMsg)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send { to, msg, .. } => Some((*to, msg)),
            _ => None,
        })
        .collect()
}

/// The messages a participant with `role` receives from `outs`, in order.
pub(crate) fn inbox(outs: &[Output], who: ParticipantId, role: Role) -> Vec<ServerMsg> {
    sends(outs)
        .into_iter()
        .filter(|(to, _)| to.includes(who, role))
        .map(|(_, m)| m.clone())
        .collect()
}

/// The first message sent to exactly `Audience::One(who)` matching `pred`.
pub(crate) fn msg_to(
    outs: &[Output],
    who: ParticipantId,
    pred: impl Fn(&ServerMsg) -> bool,
) -> Option<ServerMsg> {
    sends(outs)
        .into_iter()
        .find(|(to, m)| *to == Audience::One(who) && pred(m))
        .map(|(_, m)| m.clone())
}

/// True when some message matches.
pub(crate) fn any_msg(outs: &[Output], pred: impl Fn(&ServerMsg) -> bool) -> bool {
    sends(outs).into_iter().any(|(_, m)| pred(m))
}

/// Number of messages matching.
pub(crate) fn count_msgs(outs: &[Output], pred: impl Fn(&ServerMsg) -> bool) -> usize {
    sends(outs).into_iter().filter(|(_, m)| pred(m)).count()
}

/// The last floor broadcast.
pub(crate) fn last_floor(outs: &[Output]) -> Option<FloorView> {
    sends(outs).into_iter().rev().find_map(|(to, m)| match m {
        ServerMsg::Floor { floor } => {
            assert_eq!(to, Audience::All, "floor goes to everyone");
            Some(floor.clone())
        }
        _ => None,
    })
}

/// The last queue sent to `audience` (Learners or Facilitators).
pub(crate) fn last_queue(outs: &[Output], audience: Audience) -> Option<Vec<HandView>> {
    sends(outs).into_iter().rev().find_map(|(to, m)| match m {
        ServerMsg::Queue { hands } if to == audience => Some(hands.clone()),
        _ => None,
    })
}

/// The participants of a queue message, in order.
pub(crate) fn order(hands: &[HandView]) -> Vec<ParticipantId> {
    hands.iter().map(|h| h.participant).collect()
}

/// Every gate change, in order.
pub(crate) fn gates(outs: &[Output]) -> Vec<(ParticipantId, bool)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Gate { participant, forward } => Some((*participant, *forward)),
            _ => None,
        })
        .collect()
}

/// The floor is held by `who`.
#[track_caller]
pub(crate) fn assert_held_by(floor: &FloorView, who: ParticipantId) {
    assert_eq!(floor.state, FloorState::Held, "{floor:?}");
    assert_eq!(floor.holder, Some(who), "{floor:?}");
    assert_eq!(floor.offered_to, None);
}

/// The floor is offered to `who`.
#[track_caller]
pub(crate) fn assert_offered_to(floor: &FloorView, who: ParticipantId) {
    assert_eq!(floor.state, FloorState::Offered, "{floor:?}");
    assert_eq!(floor.offered_to, Some(who), "{floor:?}");
    assert_eq!(floor.holder, None);
}
