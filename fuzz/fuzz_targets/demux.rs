//! The media demux: `media::demux::stun_local_ufrag` on arbitrary bytes, and a
//! `Demux<mpsc::Sender<Datagram>>` with three registered peers routing, learning and
//! forgetting addresses as the input says (no runtime: `try_send` on a bounded channel, which the
//! sink uses, needs none).
//!
//! Beyond not panicking: a username fragment found lies within the datagram; a datagram
//! from an address nobody learned is routed only if it is a STUN request naming a
//! registered peer, and then to that peer; a learned address routes to the peer that
//! learned it (the first to); forgetting a peer forgets its addresses. UDP addresses and
//! TCP connections (the top bit of an operation) are learned apart: a UDP address never
//! routes a TCP frame from the same address, nor the other way round.
#![no_main]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use talkstick::media::demux::{Demux, Route, Unrouted, stun_local_ufrag};
use talkstick::media::{Datagram, DatagramSink};
use talkstick::rtp::Protocol;
use talkstick_signaling::ParticipantId;
use tokio::sync::mpsc;

const FRAGS: [&str; 3] = ["frag0", "frag1", "frag2"];

fuzz_target!(|data: &[u8]| {
    if let Some(ufrag) = stun_local_ufrag(data) {
        let (start, end) = (data.as_ptr() as usize, data.as_ptr() as usize + data.len());
        let at = ufrag.as_ptr() as usize;
        assert!(!ufrag.is_empty() && at >= start + 20 && at + ufrag.len() <= end);
        assert!(!ufrag.contains(':'));
    }

    let demux = Demux::default();
    let (tx, mut rx) = mpsc::channel::<Datagram>(8);
    let mut registered = [false; 3];
    let mut owner: HashMap<(Protocol, SocketAddr), usize> = HashMap::new();
    let addrs: Vec<SocketAddr> =
        (0..4u16).map(|i| SocketAddr::from(([10, 0, 0, (i % 2) as u8 + 1], 4000 + i))).collect();
    let start = Instant::now();
    let mut now = start;
    // Each step: an operation byte, then (for a datagram) a length byte and that many bytes.
    let mut rest = data;
    while let [op, tail @ ..] = rest {
        rest = tail;
        let peer = usize::from(op >> 2) % 3;
        let addr = addrs[usize::from(op >> 4) % addrs.len()];
        let proto = if op & 0x80 != 0 { Protocol::Tcp } else { Protocol::Udp };
        match op & 3 {
            // A fragment is registered once per peer (the server draws them at random):
            // registering one again would replace its entry and forget its addresses.
            0 if !registered[peer] => {
                demux.register(FRAGS[peer].into(), route(&tx, peer));
                registered[peer] = true;
            }
            0 => {}
            1 => {
                demux.unregister(FRAGS[peer]);
                if registered[peer] {
                    owner.retain(|_, p| *p != peer);
                }
                registered[peer] = false;
            }
            2 => {
                let learned = demux.learn(FRAGS[peer], proto, addr, now);
                if learned {
                    assert!(registered[peer], "learned for a peer never registered");
                    let first = *owner.entry((proto, addr)).or_insert(peer);
                    assert_eq!(first, peer, "{addr} taken over");
                }
            }
            _ => {
                let Some((&len, tail)) = rest.split_first() else { break };
                let len = usize::from(len).min(tail.len());
                let (datagram, tail) = tail.split_at(len);
                rest = tail;
                now += Duration::from_millis((len % 16) as u64);
                let routed = demux.route(proto, addr, datagram, now);
                match (routed, owner.get(&(proto, addr))) {
                    (Ok(r), Some(&p)) => assert_eq!(r.participant, ParticipantId(p as u32)),
                    (Ok(r), None) => {
                        let ufrag = stun_local_ufrag(datagram).expect("routed without STUN");
                        let p = FRAGS.iter().position(|f| *f == ufrag).expect("unknown ufrag");
                        assert!(registered[p]);
                        assert_eq!(r.participant, ParticipantId(p as u32));
                    }
                    (Err(Unrouted::Unknown), Some(_)) => panic!("a learned address went unrouted"),
                    (Err(_), _) => {}
                }
                if let Ok(r) = demux.route(proto, addr, datagram, now) {
                    let d = Datagram {
                        proto,
                        participant: r.participant,
                        peer: r.peer,
                        source: addr,
                        destination: addr,
                        data: datagram.to_vec(),
                        at: now,
                    };
                    let _ = r.sink.deliver(d);
                    // Drain now and then so the inbox is sometimes behind, sometimes not.
                    if len % 3 == 0 {
                        while rx.try_recv().is_ok() {}
                    }
                }
            }
        }
    }
    assert_eq!(demux.peers(), registered.iter().filter(|r| **r).count());
});

fn route(tx: &mpsc::Sender<Datagram>, peer: usize) -> Route<mpsc::Sender<Datagram>> {
    Route { sink: tx.clone(), participant: ParticipantId(peer as u32), peer: 1 }
}
