//! Audio through the SFU with real clients on loopback: str0m-based participants with
//! real Opus packets.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use talkstick::client::{ClientEvent, Participant};
use talkstick::media::MediaOptions;
use talkstick::rtp::Audio;
use talkstick_signaling::ParticipantId;
use talkstick_signaling::protocol::{
    ClientFrame, ClientMsg, ErrorCode, Mode, Role, ServerMsg, Settings, SettingsPatch,
};

use crate::common::{Server, WAIT};

const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// `n` frames of 20 ms of a voice-like signal (a gliding, amplitude-modulated harmonic
/// tone), encoded with libopus. Every packet is distinct.
pub fn opus_packets(n: usize, seed: f32) -> Vec<Vec<u8>> {
    let mut enc =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    let mut out = Vec::new();
    let mut phase = 0f32;
    for i in 0..n {
        let mut pcm = vec![0i16; 960];
        for (j, s) in pcm.iter_mut().enumerate() {
            let t = (i * 960 + j) as f32 / 48_000.0;
            let f0 = 140.0 + seed + 40.0 * (t * 1.3).sin();
            phase += 2.0 * std::f32::consts::PI * f0 / 48_000.0;
            let am = 0.6 + 0.4 * (2.0 * std::f32::consts::PI * 4.0 * t).sin();
            let v = (phase.sin() + 0.5 * (2.0 * phase).sin() + 0.25 * (3.0 * phase).sin()) * am;
            *s = (v * 9_000.0) as i16;
        }
        out.push(enc.encode_vec(&pcm, 4000).unwrap());
    }
    out
}

pub struct Listener {
    pub p: Participant,
    pub audio: Vec<Audio>,
    /// Server messages and when they arrived.
    pub signals: Vec<(Instant, ServerMsg)>,
    /// Each server message's sequence number, in the order they arrived, starting with
    /// the `welcome`'s.
    pub seqs: Vec<u64>,
    pub connected: bool,
}

impl Listener {
    pub async fn join(server: &Server, room: &str, name: &str, role: Role) -> Listener {
        let token = server.token(room, name, role);
        let p = Participant::join(&server.base(), &token, Some(LOOPBACK)).await.unwrap();
        let seqs = vec![p.welcome_seq];
        Listener { p, audio: Vec::new(), signals: Vec::new(), seqs, connected: false }
    }

    /// Reads events until `done` holds or [`WAIT`] passes.
    pub async fn pump_until(&mut self, what: &str, done: impl Fn(&Listener) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(self) {
            match tokio::time::timeout_at(deadline, self.p.events.recv()).await {
                Ok(Some(ev)) => self.take(ev),
                _ => panic!(
                    "participant {}: never saw {what}; signals: {:?}",
                    self.p.id,
                    self.signals.iter().map(|(_, m)| m).collect::<Vec<_>>()
                ),
            }
        }
    }

    /// Reads whatever arrives within `d`.
    pub async fn pump_for(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, self.p.events.recv()).await {
            self.take(ev);
        }
    }

    fn take(&mut self, ev: ClientEvent) {
        match ev {
            ClientEvent::Audio(a) => self.audio.push(a),
            ClientEvent::Signal(frame, at) => {
                self.seqs.push(frame.seq);
                self.signals.push((at, frame.msg));
            }
            ClientEvent::Undecodable { text, error, .. } => {
                panic!("participant {}: unreadable message {text}: {error}", self.p.id)
            }
            ClientEvent::AudioConnected => self.connected = true,
            ClientEvent::Closed => {}
        }
    }

    /// When the first message matching `pred` arrived.
    pub fn saw(&self, pred: impl Fn(&ServerMsg) -> bool) -> Option<Instant> {
        self.signals.iter().find(|(_, m)| pred(m)).map(|(t, _)| *t)
    }

    /// The mid of the slot that last carried `who`.
    fn slot_of(&self, who: ParticipantId) -> Option<String> {
        self.signals.iter().rev().find_map(|(_, m)| match m {
            ServerMsg::Slots { slots } => {
                slots.iter().find(|s| s.participant == Some(who)).map(|s| s.mid.clone())
            }
            _ => None,
        })
    }
}

pub async fn speak(p: &Participant, packets: &[Vec<u8>]) -> Instant {
    speak_at(p, packets, 20).await
}

/// Sends `packets` 20 ms apart with RFC 6464 `level` (-dBov: 0 loudest, 127 silence).
pub async fn speak_at(p: &Participant, packets: &[Vec<u8>], level: i8) -> Instant {
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for (i, pkt) in packets.iter().enumerate() {
        tick.tick().await;
        p.send_audio(1_000 + i as u64 * 960, level, pkt.clone()).await;
    }
    start
}

async fn everyone_connected(people: &mut [Listener]) {
    for l in people.iter_mut() {
        l.pump_until("audio connected", |l| l.connected).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_clients_hear_the_speaker_every_packet_once_and_in_order() {
    let server = Server::with_media(Settings::default()).await;
    let mut people = vec![Listener::join(&server, "m1", "Fiona", Role::Facilitator).await];
    for name in ["Aino", "Bertil", "Chen", "Dalia", "Emil"] {
        people.push(Listener::join(&server, "m1", name, Role::Learner).await);
    }
    everyone_connected(&mut people).await;
    let speaker = people[2].p.id;
    let packets = opus_packets(50, 0.0);
    let started = speak(&people[2].p, &packets).await;
    for l in people.iter_mut().filter(|l| l.p.id != speaker) {
        l.pump_until("all packets", |l| l.audio.len() >= packets.len()).await;
        l.pump_for(Duration::from_millis(100)).await;
        let mid = l.slot_of(speaker).expect("the speaker was put in a slot");
        let got: Vec<&Vec<u8>> = l.audio.iter().map(|a| &a.data).collect();
        assert_eq!(got.len(), packets.len(), "each packet exactly once");
        assert!(got.iter().zip(&packets).all(|(a, b)| *a == b), "in order, intact");
        assert!(l.audio.iter().all(|a| *a.mid == *mid), "all on the speaker's slot");
        let seqs: Vec<u64> = l.audio.iter().map(|a| a.seq).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "one continuous stream");
        let onset = l
            .saw(|m| *m == ServerMsg::Speaking { participant: speaker, speaking: true })
            .expect("speaking indicator");
        eprintln!(
            "listener {}: speaking shown {:?} after the first packet",
            l.p.id,
            onset - started
        );
    }
    // Nobody hears themself.
    assert!(people[2].audio.is_empty());
    // Silence: the indicator drops.
    for l in people.iter_mut() {
        l.pump_until("speaking stopped", |l| {
            l.saw(|m| *m == ServerMsg::Speaking { participant: speaker, speaking: false }).is_some()
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderated_mode_forwards_only_the_floor_holder() {
    let server = Server::with_media(Settings::default()).await;
    let mut f = Listener::join(&server, "m2", "Fiona", Role::Facilitator).await;
    let mut a = Listener::join(&server, "m2", "Aino", Role::Learner).await;
    let mut b = Listener::join(&server, "m2", "Bertil", Role::Learner).await;
    for l in [&mut f, &mut a, &mut b] {
        l.pump_until("audio connected", |l| l.connected).await;
    }
    let settings = SettingsPatch { mode: Some(Mode::Moderated), ..SettingsPatch::default() };
    f.p.send(ClientMsg::UpdateSettings { settings }).await;
    b.pump_until("moderated", |l| {
        l.saw(|m| matches!(m, ServerMsg::Settings { settings } if settings.mode == Mode::Moderated))
            .is_some()
    })
    .await;
    // Aino speaks without the floor: the server forwards nothing.
    speak(&a.p, &opus_packets(25, 3.0)).await;
    b.pump_for(Duration::from_millis(300)).await;
    f.pump_for(Duration::from_millis(10)).await;
    assert!(b.audio.is_empty() && f.audio.is_empty(), "a non-holder is not forwarded");
    // Given the floor, she is heard.
    f.p.send(ClientMsg::Grant { participant: a.p.id }).await;
    a.pump_until("offer", |l| l.saw(|m| matches!(m, ServerMsg::YoureUp { .. })).is_some()).await;
    a.p.send(ClientMsg::AcceptFloor).await;
    let aid = a.p.id;
    b.pump_until("A holds", |l| {
        l.saw(|m| matches!(m, ServerMsg::Floor { floor } if floor.holder == Some(aid))).is_some()
    })
    .await;
    let packets = opus_packets(25, 7.0);
    speak(&a.p, &packets).await;
    b.pump_until("holder audio", |l| l.audio.len() >= packets.len()).await;
    assert!(b.audio.iter().zip(&packets).all(|(x, y)| &x.data == y));
    // Muted by the facilitator: never forwarded, whatever the client does.
    f.p.send(ClientMsg::Mute { participant: aid }).await;
    b.pump_until("mute", |l| {
        l.saw(|m| matches!(m, ServerMsg::ParticipantUpdated { participant } if participant.force_muted))
            .is_some()
    })
    .await;
    let before = b.audio.len();
    speak(&a.p, &opus_packets(10, 9.0)).await;
    b.pump_for(Duration::from_millis(300)).await;
    assert_eq!(b.audio.len(), before, "a muted participant is never forwarded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_map_matches_who_is_heard_and_listeners_have_three_slots() {
    let server = Server::with_media(Settings::default()).await;
    let mut people = Vec::new();
    for name in ["Aino", "Bertil", "Chen", "Dalia"] {
        people.push(Listener::join(&server, "m3", name, Role::Learner).await);
    }
    everyone_connected(&mut people).await;
    let (p0, p1) = (people[0].p.id, people[1].p.id);
    // Two speak at once.
    let (x, y) = (opus_packets(30, 1.0), opus_packets(30, 60.0));
    let (s0, s1) = (&people[0].p, &people[1].p);
    tokio::join!(speak(s0, &x), speak(s1, &y));
    let l = &mut people[3];
    l.pump_until("both", |l| l.audio.len() >= 60).await;
    let (m0, m1) = (l.slot_of(p0).unwrap(), l.slot_of(p1).unwrap());
    assert_ne!(m0, m1, "two speakers, two slots");
    let by_mid: BTreeMap<&str, Vec<&Vec<u8>>> = l.audio.iter().fold(BTreeMap::new(), |mut m, a| {
        m.entry(&*a.mid).or_default().push(&a.data);
        m
    });
    assert_eq!(by_mid[m0.as_str()], x.iter().collect::<Vec<_>>());
    assert_eq!(by_mid[m1.as_str()], y.iter().collect::<Vec<_>>());
    let slots = l.signals.iter().rev().find_map(|(_, m)| match m {
        ServerMsg::Slots { slots } => Some(slots),
        _ => None,
    });
    assert_eq!(slots.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_audio_is_neither_speech_nor_forwarded_to_free_slots() {
    let server = Server::with_media(Settings::default()).await;
    let mut a = Listener::join(&server, "m4", "Aino", Role::Learner).await;
    let mut b = Listener::join(&server, "m4", "Bertil", Role::Learner).await;
    for l in [&mut a, &mut b] {
        l.pump_until("audio connected", |l| l.connected).await;
    }
    // Background noise at -80 dBov: no indicator, no slot.
    speak_at(&a.p, &opus_packets(25, 4.0), 80).await;
    b.pump_for(Duration::from_millis(400)).await;
    let aid = a.p.id;
    let speaks =
        |m: &ServerMsg| matches!(m, ServerMsg::Speaking { participant, .. } if *participant == aid);
    assert!(b.saw(speaks).is_none(), "quiet is not speech");
    assert!(b.audio.is_empty(), "quiet senders do not take slots");
    // The same voice at -25 dBov is speech.
    speak_at(&a.p, &opus_packets(10, 4.0), 25).await;
    b.pump_until("speaking", |l| l.saw(speaks).is_some()).await;
    let levels: Vec<Option<i8>> = b.audio.iter().map(|x| x.level).collect();
    assert!(levels.iter().all(|l| *l == Some(25)), "levels reach listeners unchanged: {levels:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nat_the_public_address_is_advertised_and_audio_flows() {
    // Receive on every address, advertise 127.0.0.1 as if it were the public one.
    let any = std::net::IpAddr::from([0, 0, 0, 0]);
    let options = MediaOptions { public: vec![LOOPBACK], ..MediaOptions::new(vec![any]) };
    let plane = talkstick::room::Plane::bind(&options).await.unwrap();
    assert!(plane.candidates().iter().all(|c| c.addr.ip() == LOOPBACK));
    plane.spawn_receivers();
    let server = Server::build(Settings::default(), Some(plane)).await;
    let mut a = Listener::join(&server, "nat", "Aino", Role::Learner).await;
    let mut b = Listener::join(&server, "nat", "Bertil", Role::Learner).await;
    for l in [&mut a, &mut b] {
        l.pump_until("audio connected", |l| l.connected).await;
    }
    let packets = opus_packets(20, 8.0);
    speak(&a.p, &packets).await;
    b.pump_until("audio", |l| l.audio.len() >= packets.len()).await;
    assert!(b.audio.iter().zip(&packets).all(|(x, y)| &x.data == y));
    // A wildcard without a public address is refused with a clear error.
    let err = talkstick::room::Plane::bind(&MediaOptions::new(vec![any])).await.unwrap_err();
    assert!(err.to_string().contains("--public-ip"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_offers_are_rate_limited_and_bad_ones_refused() {
    let server = Server::with_media(Settings::default()).await;
    let mut a = Listener::join(&server, "m5", "Aino", Role::Learner).await;
    a.pump_until("audio connected", |l| l.connected).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let offer =
        |id, sdp: &str| ClientFrame { id: Some(id), msg: ClientMsg::RtcOffer { sdp: sdp.into() } };
    a.p.send_frame(offer(1, "not sdp")).await;
    a.p.send_frame(offer(2, "not sdp either")).await;
    let errors = |l: &Listener| -> Vec<(ErrorCode, String, Option<u32>, Option<u64>)> {
        l.signals
            .iter()
            .filter_map(|(_, m)| match m {
                ServerMsg::Error { code, message, re, retry_after_ms } => {
                    Some((*code, message.clone(), *re, *retry_after_ms))
                }
                _ => None,
            })
            .collect()
    };
    a.pump_until("two errors", |l| errors(l).len() >= 2).await;
    let errors = errors(&a);
    assert!(errors.iter().all(|e| e.0 == ErrorCode::BadOffer), "{errors:?}");
    assert!(errors[0].1.contains("refused"), "{:?}", errors[0]);
    assert_eq!((errors[0].2, errors[1].2), (Some(1), Some(2)), "each names its request");
    assert!(errors[1].3.is_some(), "the second is rate-limited: {:?}", errors[1]);
    // The existing audio connection is untouched by refused offers.
    a.p.send(ClientMsg::Ping).await;
    a.pump_until("pong", |l| l.saw(|m| *m == ServerMsg::Pong).is_some()).await;
}

/// Everyone in `speakers` talks in the same rhythm, from one task so that their packets
/// leave together: `loud` packets, then silence without packets (DTX) long enough for
/// speech to stop, `cycles` times. Their speech then stops at the same moment, and the
/// server handles several `speaking` changes and the slot changes they cause at once.
async fn talk_in_unison(speakers: &[&Participant], loud: usize, cycles: usize) {
    let packets = opus_packets(loud, 0.0);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for i in 0..cycles * (loud + 25) {
        tick.tick().await;
        let Some(pkt) = packets.get(i % (loud + 25)) else { continue };
        for (k, p) in speakers.iter().enumerate() {
            p.send_audio(1_000 + i as u64 * 960, 10 + 8 * k as i8, pkt.clone()).await;
        }
    }
}

/// No message runs ahead of the event stream: with several people speaking in talk
/// spurts, speech starts and stops and the slots change all the time, and every message
/// a client gets carries the `seq` of the last event it has or of the next one, never
/// one it has not been sent yet (which a client takes for a missed event).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_carries_a_seq_the_client_has_reached_while_several_speak() {
    let server = Server::with_media(Settings::default()).await;
    let mut people = vec![Listener::join(&server, "seq", "Fiona", Role::Facilitator).await];
    for name in ["Aino", "Bertil", "Chen", "Dalia"] {
        people.push(Listener::join(&server, "seq", name, Role::Learner).await);
    }
    everyone_connected(&mut people).await;
    let speakers: Vec<&Participant> = people[1..].iter().map(|l| &l.p).collect();
    talk_in_unison(&speakers, 8, 6).await;
    for l in people.iter_mut() {
        l.pump_for(Duration::from_millis(700)).await;
    }
    for l in &people {
        let slots = l.signals.iter().filter(|(_, m)| matches!(m, ServerMsg::Slots { .. })).count();
        let speaking =
            l.signals.iter().filter(|(_, m)| matches!(m, ServerMsg::Speaking { .. })).count();
        assert!(slots >= 5 && speaking >= 10, "{}: {slots} slots, {speaking} speaking", l.p.id);
        for (k, w) in l.seqs.windows(2).enumerate() {
            assert!(
                w[1] == w[0] || w[1] == w[0] + 1,
                "{}: seq {} after {} ({:?})",
                l.p.id,
                w[1],
                w[0],
                l.signals[k].1
            );
        }
    }
}
