//! The forwarder alone: one encrypted Opus packet in, fanned out to every listener's
//! slot (slot selection, SSRC/sequence/timestamp rewrite, SRTP), no sockets. Rooms of 6
//! (fan-out to 5) and 40 (fan-out to 39).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use talkstick::media::MediaOutput;
use talkstick::media::sim::{SERVER, SimRoom};

/// A realistic 20 ms Opus voice packet size.
const PAYLOAD: [u8; 80] = [0x55; 80];

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("forwarder_packet_in");
    g.measurement_time(Duration::from_secs(4));
    for n in [6usize, 40] {
        g.throughput(Throughput::Elements((n - 1) as u64));
        g.bench_with_input(BenchmarkId::new("fan_out", n - 1), &n, |b, &n| {
            let mut room = SimRoom::connected(n, 3);
            // The speaker takes a slot at everyone's.
            for k in 0..5u64 {
                room.speak(0, k * 960, 20, &PAYLOAD);
                room.step(Duration::from_millis(20));
            }
            let (id, generation, addr) =
                (room.clients[0].id, room.clients[0].generation, room.clients[0].addr);
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
                    let start = Instant::now();
                    room.forwarder.handle_datagram(now, id, generation, addr, SERVER, d);
                    if room.forwarder.poll_timeout().is_some_and(|t| t <= now) {
                        room.forwarder.handle_timeout(now);
                    }
                    while let Some(out) = room.forwarder.poll_output() {
                        if let MediaOutput::Transmit { contents, .. } = out {
                            black_box(contents);
                        }
                    }
                    spent += start.elapsed();
                    room.now = now;
                    room.step(Duration::ZERO);
                }
                spent
            });
            assert_eq!(room.forwarder.counters().packets_gated, 0);
        });
    }
    g.finish();
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
