//! The forwarder alone: one encrypted Opus packet in, fanned out to every listener's
//! slot (slot selection, SSRC/sequence/timestamp rewrite, SRTP), no sockets. Rooms of 6
//! (fan-out to 5) and 40 (fan-out to 39).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use talkstick::testkit::sim::SimRoom;

/// A realistic 20 ms Opus voice packet size.
const PAYLOAD: [u8; 80] = [0x55; 80];

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("forwarder_packet_in");
    g.measurement_time(Duration::from_secs(4));
    for n in [6usize, 40] {
        g.throughput(Throughput::Elements((n - 1) as u64));
        g.bench_with_input(BenchmarkId::new("fan_out", n - 1), &n, |b, &n| {
            let mut room = warmed(n);
            let mut ts = 10 * 960u64;
            b.iter_custom(|iters| {
                let payloads: Vec<(u64, &[u8])> = (0..iters)
                    .map(|_| {
                        ts += 960;
                        (ts, &PAYLOAD[..])
                    })
                    .collect();
                let datagrams = room.encrypt_for_server(0, &payloads);
                // Simulated time advances 20 ms per packet, as in a call, so the peers'
                // timers (RTCP, consent) do their real share of the work; the listeners'
                // own work (keepalives, decrypting) runs between packets, untimed.
                let base = room.now;
                let mut spent = Duration::ZERO;
                for (k, d) in datagrams.iter().enumerate() {
                    let now = base + Duration::from_millis(20 * k as u64);
                    spent += forward_one(&mut room, now, d);
                }
                spent
            });
            assert_eq!(room.forwarder.counters().packets_gated, 0);
        });
    }
    g.finish();

    // The same packet, but each one into the next of many rooms in turn, as a server
    // carrying them sees it: every room's state has gone cold by the time its next packet
    // comes. This is what the load test's figure per forwarded packet pays; the hot case
    // above is the floor.
    let mut g = c.benchmark_group("forwarder_packet_in_many_rooms");
    g.measurement_time(Duration::from_secs(6));
    g.sample_size(20);
    const ROOMS: usize = 200;
    g.throughput(Throughput::Elements(5));
    g.bench_function(BenchmarkId::new("fan_out_5_rooms", ROOMS), |b| {
        let mut rooms: Vec<SimRoom> = (0..ROOMS).map(|_| warmed(6)).collect();
        let mut ts = 10 * 960u64;
        b.iter_custom(|iters| {
            let per_room = (iters as usize).div_ceil(ROOMS);
            let payloads: Vec<(u64, &[u8])> =
                (0..per_room).map(|k| (ts + 960 * (k as u64 + 1), &PAYLOAD[..])).collect();
            ts += 960 * per_room as u64;
            let datagrams: Vec<Vec<Vec<u8>>> =
                rooms.iter_mut().map(|r| r.encrypt_for_server(0, &payloads)).collect();
            assert!(datagrams.iter().all(|d| d.len() == per_room), "a packet for each turn");
            let sealed: u64 = rooms.iter().map(|r| r.forwarder.counters().packets_sealed).sum();
            let bases: Vec<Instant> = rooms.iter().map(|r| r.now).collect();
            let mut spent = Duration::ZERO;
            for i in 0..iters as usize {
                let (r, k) = (i % ROOMS, i / ROOMS);
                let now = bases[r] + Duration::from_millis(20 * k as u64);
                spent += forward_one(&mut rooms[r], now, &datagrams[r][k]);
            }
            let now_sealed: u64 = rooms.iter().map(|r| r.forwarder.counters().packets_sealed).sum();
            assert_eq!(now_sealed - sealed, 5 * iters, "every packet sealed for five");
            spent
        });
    });
    g.finish();
}

/// Feeds the speaker's (client 0's) `datagram` to the forwarder at `now`, with any timers
/// due, and drains the outputs; returns the time that took. Then, untimed, the room's
/// clients do their own work.
fn forward_one(room: &mut SimRoom, now: Instant, datagram: &[u8]) -> Duration {
    room.now = now;
    let datagram = room.datagram_from(0, datagram.to_vec());
    let start = Instant::now();
    room.forwarder.handle_datagram(&datagram);
    if room.forwarder.poll_timeout().is_some_and(|t| t <= now) {
        room.forwarder.handle_timeout(now);
    }
    for t in room.forwarder.drain_transmits() {
        black_box(t);
    }
    while let Some(event) = room.forwarder.poll_event() {
        black_box(event);
    }
    let spent = start.elapsed();
    room.now = now;
    room.step(Duration::ZERO);
    spent
}

/// A connected room of `n` whose speaker (client 0) holds a slot at everyone's.
fn warmed(n: usize) -> SimRoom {
    let mut room = SimRoom::connected(n, 3);
    for k in 0..5u64 {
        room.speak(0, k * 960, 20, &PAYLOAD);
        room.step(Duration::from_millis(20));
    }
    room
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
