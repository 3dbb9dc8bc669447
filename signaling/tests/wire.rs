//! The wire contract from both ends: every server message survives `encode` then
//! `decode_server`, every client message `encode_client` then `decode`, and the type
//! lists and error codes agree with what serde writes.

use talkstick_signaling::protocol::{
    self, ActionOnYou, Assignment, BreakoutsView, ChatView, ClientFrame, ClientMsg, ErrorCode,
    FloorState, FloorView, GroupView, HandKind, HandView, HelpView, IceServer, LeaveReason,
    NoticeKind, ParticipantView, PersonStats, Presence, ReactionKind, Role, RoomSnapshot,
    ServerFrame, ServerMsg, Settings, SettingsPatch, SlotView, StatsView, Tally, TurnEnd,
    TurnRecord, YouView,
};
use talkstick_signaling::{ChatId, ParticipantId, ResumeToken, TurnId};

fn person(id: u32) -> ParticipantView {
    ParticipantView {
        id: ParticipantId(id),
        name: format!("Person {id}"),
        initials: "P".into(),
        colour: "#0072B2".into(),
        role: Role::Learner,
        presence: Presence::Away,
        connected: true,
        mic_on: true,
        force_muted: true,
        unmute_requested: true,
        push_to_talk: true,
        speaking: false,
        audio: true,
        listening: id == 2,
    }
}

fn floor() -> FloorView {
    FloorView {
        state: FloorState::Held,
        holder: Some(ParticipantId(2)),
        offered_to: None,
        offer_expires_ms: None,
        turn: Some(TurnId(3)),
        since_ms: 1_000,
        ends_ms: Some(61_000),
        open: false,
        tally: Tally { agree: 2, cant_hear: 1, ..Tally::default() },
        now_ms: 1_500,
    }
}

fn hand(id: u32, note: Option<&str>) -> HandView {
    HandView {
        participant: ParticipantId(id),
        position: id,
        kind: HandKind::Reply,
        raised_ms: 700,
        note: note.map(str::to_owned),
    }
}

fn turn_record() -> TurnRecord {
    TurnRecord {
        turn: TurnId(3),
        holder: ParticipantId(2),
        start_ms: 1_000,
        end_ms: Some(4_000),
        ended: Some(TurnEnd::TimeLimit),
        tally: Tally::default(),
    }
}

fn welcome() -> ServerMsg {
    let you = YouView {
        id: ParticipantId(2),
        role: Role::Facilitator,
        resume_token: ResumeToken("secret".into()),
        resumed: false,
        ice_servers: vec![IceServer {
            urls: vec!["turn:turn.example.org:3478?transport=udp".into()],
            username: "1796290000:7".into(),
            credential: "c2VjcmV0".into(),
        }],
    };
    let room = RoomSnapshot {
        id: "demo".parse().unwrap(),
        now_ms: 1_500,
        settings: Settings { time_limit_ms: Some(60_000), ..Settings::default() },
        participants: vec![person(1), person(2)],
        queue: vec![hand(1, Some("a note")), hand(2, None)],
        floor: floor(),
        audio_slots: 3,
        chat: vec![chat_message()],
        breakouts: Some(breakouts()),
    };
    ServerMsg::Welcome { protocol: protocol::PROTOCOL_VERSION, you, room: Box::new(room) }
}

fn breakouts() -> BreakoutsView {
    BreakoutsView {
        round: 2,
        opened_ms: 1_000,
        ends_ms: Some(601_000),
        closes_ms: Some(541_000),
        choose: true,
        groups: vec![
            GroupView {
                no: 1,
                name: "Pricing".into(),
                room: "demo.2.1".parse().unwrap(),
                members: vec![ParticipantId(1), ParticipantId(3)],
                leads: vec![ParticipantId(3)],
                open: true,
                help: vec![HelpView { participant: ParticipantId(1), since_ms: 90_000 }],
            },
            GroupView {
                no: 2,
                name: "Group 2".into(),
                room: "demo.2.2".parse().unwrap(),
                members: vec![],
                leads: vec![],
                open: false,
                help: vec![],
            },
        ],
    }
}

fn chat_message() -> ChatView {
    ChatView {
        id: ChatId(4),
        from: ParticipantId(1),
        name: "Person 1".into(),
        colour: "#0072B2".into(),
        text: "<b>not bold</b>\nhttps://example.org".into(),
        at_ms: 1_200,
    }
}

fn stats() -> ServerMsg {
    let who = PersonStats {
        participant: ParticipantId(1),
        name: "Person 1".into(),
        colour: "#0072B2".into(),
        present: true,
        talk_ms: 3_000,
        turns: 1,
        reactions_given: 2,
        reactions_received: 0,
        wait_ms: 900,
    };
    let stats =
        StatsView { now_ms: 9_000, gini: 0.25, people: vec![who], turns: vec![turn_record()] };
    ServerMsg::Stats { stats }
}

/// One message of every kind the server sends.
fn every_server_msg() -> Vec<ServerMsg> {
    let p = ParticipantId(1);
    let slots = vec![
        SlotView { mid: "1".into(), participant: Some(p) },
        SlotView { mid: "2".into(), participant: None },
    ];
    vec![
        welcome(),
        ServerMsg::ParticipantJoined { participant: person(1) },
        ServerMsg::ParticipantUpdated { participant: person(2) },
        ServerMsg::Speaking { participant: p, speaking: true },
        ServerMsg::ParticipantLeft { participant: p, reason: LeaveReason::TimedOut },
        ServerMsg::Queue { hands: vec![hand(1, None), hand(3, Some("later"))] },
        ServerMsg::Floor { floor: floor() },
        ServerMsg::YoureUp { expires_in_ms: 10_000 },
        ServerMsg::OfferExpired,
        ServerMsg::TimeWarning { turn: TurnId(3), remaining_ms: 15_000 },
        ServerMsg::TimeUp { turn: TurnId(3) },
        ServerMsg::Reaction {
            from: p,
            reaction: ReactionKind::CantHear,
            turn: Some(TurnId(3)),
            tally: Some(Tally::default()),
            withdrawn: true,
        },
        ServerMsg::Settings { settings: Settings::default() },
        ServerMsg::TurnEnded { turn: turn_record() },
        stats(),
        ServerMsg::Error {
            code: ErrorCode::RateLimited,
            message: "slow down".into(),
            re: Some(7),
            retry_after_ms: Some(250),
        },
        ServerMsg::Pong,
        ServerMsg::RtcAnswer { sdp: "v=0\r\n".into() },
        ServerMsg::Slots { slots },
        ServerMsg::Goodbye { reason: "replaced".into() },
        ServerMsg::FacilitatorAction {
            by: ParticipantId(1),
            action: ActionOnYou::HandMoved,
            position: Some(2),
        },
        ServerMsg::Chat { message: chat_message() },
        ServerMsg::ChatDeleted { message: ChatId(4), by: ParticipantId(2) },
        ServerMsg::Notice { kind: NoticeKind::StoreFailing, message: "disk full".into() },
        ServerMsg::Breakouts { breakouts: Some(breakouts()) },
    ]
}

/// Which variant `msg` is; exhaustive, so a new message kind must be added to
/// [`every_server_msg`] before this test builds again.
fn variant(msg: &ServerMsg) -> usize {
    match msg {
        ServerMsg::Welcome { .. } => 0,
        ServerMsg::ParticipantJoined { .. } => 1,
        ServerMsg::ParticipantUpdated { .. } => 2,
        ServerMsg::Speaking { .. } => 3,
        ServerMsg::ParticipantLeft { .. } => 4,
        ServerMsg::Queue { .. } => 5,
        ServerMsg::Floor { .. } => 6,
        ServerMsg::YoureUp { .. } => 7,
        ServerMsg::OfferExpired => 8,
        ServerMsg::TimeWarning { .. } => 9,
        ServerMsg::TimeUp { .. } => 10,
        ServerMsg::Reaction { .. } => 11,
        ServerMsg::Settings { .. } => 12,
        ServerMsg::TurnEnded { .. } => 13,
        ServerMsg::Stats { .. } => 14,
        ServerMsg::Error { .. } => 15,
        ServerMsg::Pong => 16,
        ServerMsg::RtcAnswer { .. } => 17,
        ServerMsg::Slots { .. } => 18,
        ServerMsg::Goodbye { .. } => 19,
        ServerMsg::FacilitatorAction { .. } => 20,
        ServerMsg::Chat { .. } => 21,
        ServerMsg::ChatDeleted { .. } => 22,
        ServerMsg::Notice { .. } => 23,
        ServerMsg::Breakouts { .. } => 24,
    }
}

#[test]
fn every_server_message_round_trips_through_encode_and_decode_server() {
    let all = every_server_msg();
    let mut seen: Vec<usize> = all.iter().map(variant).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..25).collect::<Vec<_>>(), "one sample of every variant");
    for (seq, msg) in all.into_iter().enumerate() {
        let seq = seq as u64 * 1_000;
        let text = protocol::encode(seq, &msg);
        let back = protocol::decode_server(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(back, ServerFrame { seq, msg: msg.clone() }, "{text}");
        // A frame serializes exactly as `encode` writes it, and its own `Deserialize`
        // agrees with `decode_server`.
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        assert_eq!(serde_json::from_str::<ServerFrame>(&text).unwrap(), back);
    }
}

#[test]
fn a_reaction_says_withdrawn_only_when_it_is() {
    let counted = ServerMsg::Reaction {
        from: talkstick_signaling::ParticipantId(2),
        reaction: ReactionKind::Agree,
        turn: None,
        tally: None,
        withdrawn: false,
    };
    let text = protocol::encode(4, &counted);
    assert!(!text.contains("withdrawn"), "{text}");
    assert_eq!(protocol::decode_server(&text).unwrap().msg, counted);
}

#[test]
fn the_server_type_list_is_exactly_the_variants() {
    let mut tags: Vec<String> = every_server_msg()
        .iter()
        .map(|m| serde_json::to_value(m).unwrap()["type"].as_str().unwrap().to_owned())
        .collect();
    let mut listed: Vec<String> = ServerMsg::TYPES.iter().map(|t| (*t).to_owned()).collect();
    tags.sort();
    listed.sort();
    assert_eq!(tags, listed);
}

#[test]
fn error_codes_print_as_on_the_wire() {
    for code in ErrorCode::ALL {
        let wire = serde_json::to_value(code).unwrap();
        assert_eq!(wire, code.as_str());
        assert_eq!(code.to_string(), code.as_str());
        assert_eq!(serde_json::from_value::<ErrorCode>(wire).unwrap(), code);
    }
    let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), ErrorCode::ALL.len(), "no code listed twice");
}

#[test]
fn client_messages_round_trip_through_encode_client_and_decode() {
    let p = ParticipantId(5);
    let patch =
        SettingsPatch { time_limit_ms: Some(None), pause_ms: Some(1_500), ..Default::default() };
    let msgs = [
        ClientMsg::Join {
            v: 1,
            token: "t.o.k".into(),
            resume: Some(ResumeToken("r".into())),
            group: Some("demo.1.2".parse().unwrap()),
            listen: true,
        },
        ClientMsg::Join { v: 1, token: "t.o.k".into(), resume: None, group: None, listen: false },
        ClientMsg::RaiseHand { kind: HandKind::NewPoint, note: Some("mine".into()) },
        ClientMsg::RaiseHand { kind: HandKind::Reply, note: None },
        ClientMsg::React { reaction: ReactionKind::Applause },
        ClientMsg::Chat { text: "see https://example.org <i>x</i>".into() },
        ClientMsg::DeleteChat { message: ChatId(3) },
        ClientMsg::Grant { participant: p },
        ClientMsg::MoveHand { participant: p, position: 2 },
        ClientMsg::UpdateSettings { settings: patch },
        ClientMsg::RtcOffer { sdp: "v=0\r\n".into() },
        ClientMsg::AcceptFloor,
        ClientMsg::Yield,
        ClientMsg::Leave,
        ClientMsg::EndSession,
        ClientMsg::OpenBreakouts {
            groups: Some(3),
            size: None,
            assign: Assignment::Balanced,
            names: vec!["Pricing".into()],
            minutes: Some(15),
            manual: vec![],
        },
        ClientMsg::OpenBreakouts {
            groups: None,
            size: None,
            assign: Assignment::Manual,
            names: vec![],
            minutes: None,
            manual: vec![vec![p], vec![ParticipantId(6)]],
        },
        ClientMsg::MoveToGroup { participant: p, group: 0 },
        ClientMsg::CloseGroup { group: 2 },
        ClientMsg::CloseBreakouts { in_s: None },
        ClientMsg::CloseBreakouts { in_s: Some(60) },
        ClientMsg::ChooseGroup { group: 2 },
        ClientMsg::BreakoutNotice { text: "5 minutes".into() },
        ClientMsg::SetGroupLead { participant: p, lead: true },
        ClientMsg::AskForHelp,
        ClientMsg::WithdrawHelp,
        ClientMsg::AnswerHelp { group: 1 },
    ];
    for (i, msg) in msgs.into_iter().enumerate() {
        // `kind` names the message as its `type` tag does.
        let text = protocol::encode_client(&ClientFrame::from(msg.clone()));
        let tag: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(tag["type"], msg.kind(), "{text}");
        for frame in [ClientFrame::from(msg.clone()), ClientFrame { id: Some(i as u32), msg }] {
            let text = protocol::encode_client(&frame);
            assert_eq!(protocol::decode(&text), Ok(frame), "{text}");
        }
    }
}
