//! Signaling cost: one input handled by a room and every resulting message encoded to
//! JSON (what the room task does per input), for rooms of 6 and 40.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_main};
use talkstick_signaling::protocol::{self, ClientMsg, HandKind, ReactionKind, Role, Settings};
use talkstick_signaling::{Input, JoinRequest, Output, ParticipantId, ResumeToken, Room};

/// A room with one facilitator and `n - 1` learners; learner 2 holds the floor and a
/// third of the others have hands up.
fn room(n: usize, now: Instant) -> (Room, Vec<ParticipantId>) {
    let mut room = Room::new("bench".parse().unwrap(), Settings::default(), now);
    let mut ids = Vec::new();
    for i in 0..n {
        let role = if i == 0 { Role::Facilitator } else { Role::Learner };
        let req = JoinRequest {
            name: format!("Person {i}"),
            role,
            resume: None,
            new_resume: ResumeToken(format!("r{i}")),
            link: None,
            listen: false,
            colour: None,
        };
        ids.push(room.join(now, req).unwrap().participant);
    }
    let client = |from, msg| Input::Client { from, msg };
    room.handle(now, client(ids[0], ClientMsg::Grant { participant: ids[1] })).unwrap();
    room.handle(now, client(ids[1], ClientMsg::AcceptFloor)).unwrap();
    for &id in ids.iter().skip(2).step_by(3) {
        let msg = ClientMsg::RaiseHand { kind: HandKind::NewPoint, note: Some("my point".into()) };
        room.handle(now, client(id, msg)).unwrap();
    }
    drain(&mut room);
    (room, ids)
}

/// Encodes every output, as the room task does; returns bytes written.
fn drain(room: &mut Room) -> usize {
    let mut bytes = 0;
    while let Some(out) = room.poll_output() {
        if let Output::Send { seq, msg, .. } = out {
            bytes += protocol::encode(seq, &msg).len();
        }
    }
    bytes
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("room_input_plus_encode");
    for n in [6usize, 40] {
        g.bench_with_input(BenchmarkId::new("react", n), &n, |b, &n| {
            let t0 = Instant::now();
            let (mut room, ids) = room(n, t0);
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                // Rotate senders and advance time so the rate limit never bites.
                let from = ids[2 + (i as usize % (n - 2))];
                let now = t0 + Duration::from_millis(i * 300);
                let msg = ClientMsg::React { reaction: ReactionKind::Agree };
                room.handle(now, Input::Client { from, msg }).unwrap();
                black_box(drain(&mut room))
            });
        });
        g.bench_with_input(BenchmarkId::new("raise_or_lower_hand", n), &n, |b, &n| {
            let t0 = Instant::now();
            let (mut room, ids) = room(n, t0);
            let who = ids[3];
            let mut up = false;
            b.iter(|| {
                up = !up;
                let msg = if up {
                    ClientMsg::RaiseHand { kind: HandKind::Reply, note: None }
                } else {
                    ClientMsg::LowerHand
                };
                room.handle(t0, Input::Client { from: who, msg }).unwrap();
                black_box(drain(&mut room))
            });
        });
        g.bench_with_input(BenchmarkId::new("speaking_flip", n), &n, |b, &n| {
            let t0 = Instant::now();
            let (mut room, ids) = room(n, t0);
            let mut speaking = false;
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                speaking = !speaking;
                let now = t0 + Duration::from_millis(i * 50);
                room.handle(now, Input::Speaking { participant: ids[1], speaking }).unwrap();
                black_box(drain(&mut room))
            });
        });
    }
    g.finish();

    c.bench_function("decode_client_frame", |b| {
        let text = r#"{"type":"raise_hand","kind":"new_point","note":"about the quiz","id":12}"#;
        b.iter(|| black_box(protocol::decode(black_box(text)).unwrap()));
    });
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
