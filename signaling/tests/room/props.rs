//! Property tests: random sequences of joins, leaves, disconnects, resumes, every client
//! message from random participants, speech flips and time passing. The checks live in
//! `model`; they run after every input, timeouts included.

use proptest::prelude::*;
use talkstick_signaling::ParticipantId;
use talkstick_signaling::protocol::{
    Assignment, ClientMsg, HandKind, LimitAction, MAX_NOTE_CHARS, Mode, PROTOCOL_VERSION,
    QueuePolicy, ReactionKind, Settings, SettingsPatch,
};

use crate::model::{Op, Who, World, facilitator_only};

/// A participant "index" resolved when the message runs; 7 is nobody.
fn target() -> impl Strategy<Value = ParticipantId> {
    (0u32..8).prop_map(ParticipantId)
}

fn note() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => Just(None),
        3 => Just(Some("my point".to_owned())),
        1 => Just(Some("   ".to_owned())),
        1 => Just(Some("x".repeat(MAX_NOTE_CHARS + 1))),
    ]
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Open), Just(Mode::Moderated)]
}

fn policy() -> impl Strategy<Value = QueuePolicy> {
    prop_oneof![Just(QueuePolicy::Fifo), Just(QueuePolicy::Balanced)]
}

fn limit_action() -> impl Strategy<Value = LimitAction> {
    prop_oneof![Just(LimitAction::Soft), Just(LimitAction::Hard)]
}

/// Patches with mostly valid, sometimes out-of-range values.
fn patch() -> impl Strategy<Value = SettingsPatch> {
    use proptest::option::weighted as maybe;
    (
        maybe(0.3, mode()),
        maybe(0.3, policy()),
        maybe(0.3, any::<bool>()),
        maybe(0.2, prop_oneof![Just(500u64), 1_000u64..15_000]),
        maybe(0.3, maybe(0.8, prop_oneof![Just(1_000u64), 5_000u64..40_000])),
        maybe(0.2, 0u64..20_000),
        maybe(0.2, limit_action()),
        maybe(0.2, prop_oneof![Just(100u64), 300u64..6_000]),
        maybe(0.3, maybe(0.7, prop_oneof![Just(500u64), 1_000u64..20_000])),
        maybe(0.2, 0u32..12),
    )
        .prop_map(
            |(
                mode,
                policy,
                auto_offer,
                offer_timeout_ms,
                time_limit_ms,
                warning_ms,
                limit_action,
                pause_ms,
                auto_advance_ms,
                max_replies,
            )| SettingsPatch {
                mode,
                policy,
                auto_offer,
                offer_timeout_ms,
                time_limit_ms,
                warning_ms,
                limit_action,
                pause_ms,
                auto_advance_ms,
                max_replies,
            },
        )
}

/// Every client message, the floor-moving ones more often.
fn client_msg() -> impl Strategy<Value = ClientMsg> {
    let kind = prop_oneof![Just(HandKind::Reply), Just(HandKind::NewPoint)];
    let reaction = proptest::sample::select(ReactionKind::ALL.to_vec());
    prop_oneof![
        8 => (kind, note()).prop_map(|(kind, note)| ClientMsg::RaiseHand { kind, note }),
        2 => Just(ClientMsg::LowerHand),
        6 => Just(ClientMsg::AcceptFloor),
        2 => Just(ClientMsg::DeclineFloor),
        2 => Just(ClientMsg::DeferFloor),
        4 => Just(ClientMsg::Yield),
        5 => reaction.prop_map(|reaction| ClientMsg::React { reaction }),
        1 => any::<bool>().prop_map(|on| ClientMsg::SetMic { on }),
        1 => any::<bool>().prop_map(|away| ClientMsg::SetAway { away }),
        1 => any::<bool>().prop_map(|enabled| ClientMsg::SetPushToTalk { enabled }),
        1 => Just(ClientMsg::Leave),
        1 => Just(ClientMsg::Ping),
        1 => Just(ClientMsg::Join { v: PROTOCOL_VERSION, token: "t".into(), resume: None, group: None, listen: false }),
        3 => target().prop_map(|participant| ClientMsg::Grant { participant }),
        2 => Just(ClientMsg::Next),
        2 => Just(ClientMsg::Revoke),
        1 => Just(ClientMsg::OpenDiscussion),
        2 => (target(), prop_oneof![3 => 1u32..3, 1 => 0u32..6])
            .prop_map(|(participant, position)| ClientMsg::MoveHand { participant, position }),
        1 => target().prop_map(|participant| ClientMsg::RemoveHand { participant }),
        1 => Just(ClientMsg::ClearHands),
        2 => target().prop_map(|participant| ClientMsg::Mute { participant }),
        2 => target().prop_map(|participant| ClientMsg::Unmute { participant }),
        1 => Just(ClientMsg::MuteAll),
        1 => Just(ClientMsg::UnmuteAll),
        1 => Just(ClientMsg::AskToUnmute),
        2 => patch().prop_map(|settings| ClientMsg::UpdateSettings { settings }),
        1 => Just(ClientMsg::GetStats),
        2 => (1u32..5, 0u8..3, proptest::option::of(1u32..3)).prop_map(|(groups, how, minutes)| {
            let assign = [Assignment::Random, Assignment::Balanced, Assignment::Choose][usize::from(how)];
            ClientMsg::OpenBreakouts { groups: Some(groups), size: None, assign, names: vec![], minutes, manual: vec![] }
        }),
        2 => (target(), 0u32..4).prop_map(|(participant, group)| ClientMsg::MoveToGroup { participant, group }),
        1 => (0u32..4).prop_map(|group| ClientMsg::CloseGroup { group }),
        2 => prop_oneof![Just(None), Just(Some(0)), (1u32..400).prop_map(Some)]
            .prop_map(|in_s| ClientMsg::CloseBreakouts { in_s }),
        2 => (0u32..4).prop_map(|group| ClientMsg::ChooseGroup { group }),
        1 => Just(ClientMsg::BreakoutNotice { text: "two minutes".into() }),
        1 => (target(), any::<bool>()).prop_map(|(participant, lead)| ClientMsg::SetGroupLead { participant, lead }),
        2 => Just(ClientMsg::AskForHelp),
        1 => Just(ClientMsg::WithdrawHelp),
        1 => (0u32..4).prop_map(|group| ClientMsg::AnswerHelp { group }),
    ]
}

/// Mostly the natural sender of `msg` (so floors do get accepted and yielded), sometimes
/// anyone at all.
fn sender_of(msg: &ClientMsg) -> impl Strategy<Value = Who> + use<> {
    let natural: fn(usize) -> Who = match msg {
        ClientMsg::AcceptFloor | ClientMsg::DeclineFloor | ClientMsg::DeferFloor => Who::Offeree,
        ClientMsg::Yield => Who::Holder,
        m if facilitator_only(m) => Who::Facilitator,
        _ => Who::Any,
    };
    prop_oneof![3 => any::<usize>().prop_map(natural), 1 => any::<usize>().prop_map(Who::Any)]
}

fn who() -> impl Strategy<Value = Who> {
    let pick = any::<usize>();
    prop_oneof![pick.prop_map(Who::Any), pick.prop_map(Who::Holder)]
}

fn op() -> impl Strategy<Value = Op> {
    let pick = any::<usize>();
    prop_oneof![
        2 => (0u8..8, proptest::bool::weighted(0.25))
            .prop_map(|(name, facilitator)| Op::Join { name, facilitator }),
        1 => pick.prop_map(Op::Resume),
        1 => pick.prop_map(Op::Disconnect),
        3 => (pick, any::<bool>()).prop_map(|(i, s)| Op::Speaking(i, s)),
        1 => (pick, any::<bool>()).prop_map(|(i, c)| Op::Audio(i, c)),
        14 => client_msg().prop_flat_map(|m| (sender_of(&m), Just(m)))
            .prop_map(|(w, m)| Op::Client(w, m)),
        3 => pick.prop_map(|i| Op::Client(Who::Offeree(i), ClientMsg::AcceptFloor)),
        1 => (who(), 1u8..9).prop_map(|(w, n)| Op::Burst(w, n)),
        4 => prop_oneof![Just(0u64), 1u64..1_000, 1_000u64..20_000].prop_map(Op::Advance),
    ]
}

/// Cases to run: 256, or `PROPTEST_CASES` for a longer hunt.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

fn settings() -> impl Strategy<Value = Settings> {
    (mode(), policy(), any::<bool>(), proptest::option::of(5_000u64..40_000), limit_action())
        .prop_map(|(mode, policy, auto_offer, time_limit_ms, limit_action)| Settings {
            mode,
            policy,
            auto_offer,
            time_limit_ms,
            warning_ms: 3_000,
            limit_action,
            ..Settings::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// After every input: at most one holder, and a present one; no duplicate hands;
    /// queue positions 1..n; nobody departed named again; talk time within time in the
    /// room; learners never do facilitator things; refusals emit and change nothing;
    /// sequence numbers never go back; gates follow the mode; timers make progress.
    #[test]
    fn random_sessions_keep_the_room_consistent(
        settings in settings(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let mut world = World::new(settings);
        for op in &ops {
            world.apply(op);
        }
    }

    /// The journal rebuilds the room exactly: after a random session, a room replayed
    /// from the journal (through JSON) shows every participant the same snapshot, with
    /// the same statistics, sequence number and next deadline.
    #[test]
    fn a_room_replayed_from_its_journal_is_the_same_room(
        settings in settings(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let mut world = World::new(settings);
        for op in &ops {
            world.apply(op);
        }
        world.check_replay();
    }
}
