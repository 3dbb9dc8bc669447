//! The forwarder with in-memory clients on simulated time: real ICE, DTLS and SRTP,
//! deterministic timing.

use std::time::Duration;

use talkstick::media::{Datagram, MediaEvent};
use talkstick::testkit::sim::SimRoom;
use talkstick_signaling::ParticipantId;

use crate::media::opus_packets;

fn speak_for(room: &mut SimRoom, i: usize, packets: &[Vec<u8>], first_ts: u64) {
    for (k, p) in packets.iter().enumerate() {
        room.speak(i, first_ts + k as u64 * 960, 20, p);
        room.step(Duration::from_millis(20));
    }
}

#[test]
fn a_slot_stays_one_continuous_stream_when_the_speaker_changes() {
    // One slot per listener: the second speaker takes over the first one's slot.
    let mut room = SimRoom::connected(3, 1);
    let (a, b) = (opus_packets(20, 0.0), opus_packets(20, 50.0));
    speak_for(&mut room, 0, &a, 7_000_000);
    // Silence until speech detection lets the slot go.
    room.step(Duration::from_millis(600));
    speak_for(&mut room, 1, &b, 123);
    let got = &room.clients[2].received;
    assert_eq!(got.len(), 40, "both speakers heard in full");
    assert!(got.iter().all(|p| p.mid == got[0].mid), "on the one slot");
    let seqs: Vec<u64> = got.iter().map(|p| p.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "sequence numbers continue: {seqs:?}");
    let ts: Vec<u64> = got.iter().map(|p| p.rtp_time).collect();
    for w in ts.windows(2) {
        assert!(w[1] > w[0], "timestamps never go back: {ts:?}");
    }
    // Within a talk spurt, 20 ms apart; across the switch, about the wall-clock gap.
    assert!(ts[..20].windows(2).all(|w| w[1] - w[0] == 960));
    let gap_ms = (ts[20] - ts[19]) / 48;
    assert!((600..=800).contains(&gap_ms), "switch gap {gap_ms} ms follows the silence");
    // Written by the server's own SRTP fast path (str0m peers negotiate AES-GCM), and
    // the listener's str0m could decrypt and parse every packet, levels included.
    let c = room.forwarder.counters();
    assert!(c.packets_forwarded >= 80, "{c:?}");
    assert_eq!(c.packets_sealed, c.packets_forwarded, "{c:?}");
    // The speakers' packets were opened by the fast path too, after str0m saw the first.
    assert!(c.packets_opened + 2 >= c.packets_in && c.packets_opened > 0, "{c:?}");
    assert!(got.iter().all(|p| p.level.is_some()), "audio level extension arrives");
}

#[test]
fn audio_read_late_is_timed_by_its_arrival_the_first_packet_of_a_slot_too() {
    let mut room = SimRoom::connected(3, 1);
    room.read_lag = Duration::from_millis(80);
    let packets = opus_packets(10, 0.0);
    let mut sent = Vec::new();
    for (k, p) in packets.iter().enumerate() {
        sent.push(room.now);
        room.speak(0, 1_000 + k as u64 * 960, 20, p);
        room.step(Duration::from_millis(20));
    }
    for listener in [1, 2] {
        let got = &room.clients[listener].received;
        assert_eq!(got.len(), 10, "listener {listener} heard every packet");
        // The first packet reaches the listener through str0m (the fast path learns the
        // slot's SSRC from it), the rest through the fast path: all timed on arrival,
        // which in memory is the moment the speaker sent it, not 80 ms later.
        for (p, at) in got.iter().zip(&sent) {
            assert_eq!(p.at, *at, "listener {listener}, packet {}", p.seq);
        }
    }
}

#[test]
fn a_vanished_client_is_removed_within_the_consent_window() {
    let mut room = SimRoom::connected(3, 3);
    room.clients[1].online = false;
    let gone = room.run_until(Duration::from_secs(30), |r| {
        r.events.iter().any(|e| {
            matches!(e, MediaEvent::Audio { participant, connected: false, .. } if *participant == ParticipantId(2))
        })
    });
    assert!(gone, "peer 2 removed and reported");
    assert_eq!(room.forwarder.peer_count(), 2);
}

#[test]
fn a_peer_that_never_connects_is_dropped() {
    let mut room = SimRoom::connected(2, 3);
    room.clients[0].online = false;
    // A fresh offer whose datagrams never arrive.
    room.add_client(ParticipantId(9), 3);
    let last = room.clients.len() - 1;
    room.clients[last].online = false;
    let dropped = room.run_until(Duration::from_secs(31), |r| {
        r.events.iter().any(|e| matches!(e, MediaEvent::Audio { participant, connected: false, .. } if participant.0 == 9))
    });
    assert!(dropped);
}

#[test]
fn the_holder_keeps_a_slot_while_silent_and_gated_senders_are_not_forwarded() {
    let mut room = SimRoom::connected(4, 1);
    room.forwarder.set_holder(Some(ParticipantId(1)));
    room.step(Duration::from_millis(20));
    // Client 2 speaks loudly but the single slot belongs to the holder.
    speak_for(&mut room, 1, &opus_packets(10, 5.0), 0);
    assert!(room.clients[2].received.is_empty());
    // The holder's first packet is heard at once.
    speak_for(&mut room, 0, &opus_packets(3, 9.0), 0);
    assert_eq!(room.clients[2].received.len(), 3);
    // Gate closed: dropped at the server on the next packet.
    room.forwarder.set_gate(ParticipantId(1), false);
    speak_for(&mut room, 0, &opus_packets(5, 9.0), 10_000);
    assert_eq!(room.clients[2].received.len(), 3);
    assert!(room.forwarder.counters().packets_gated >= 5);
}

#[test]
fn a_returning_participant_gets_a_fresh_peer_with_the_same_identity() {
    let mut room = SimRoom::connected(3, 3);
    speak_for(&mut room, 0, &opus_packets(5, 1.0), 0);
    assert_eq!(room.clients[1].received.len(), 5);
    // Participant 2's connection is replaced by a new one (a reload, a network change).
    let replaced = room.reconnect(1, 3);
    assert!(replaced.is_some(), "the old peer was replaced, its ufrag to unregister");
    assert!(room.run_until(Duration::from_secs(5), |r| r.clients[1].rtc.is_connected()));
    assert_eq!(room.forwarder.peer_count(), 3, "still one peer per participant");
    // They hear the speaker on the new peer, and are heard.
    speak_for(&mut room, 0, &opus_packets(5, 2.0), 10_000);
    assert_eq!(room.clients[1].received.len(), 5);
    speak_for(&mut room, 1, &opus_packets(5, 3.0), 0);
    assert!(room.clients[2].received.iter().filter(|p| p.data.len() > 3).count() >= 5);
    assert_eq!(room.forwarder.slots_of(ParticipantId(3)).iter().flatten().count(), 2);
}

#[test]
fn a_participant_whose_audio_dropped_is_heard_again_after_a_new_offer() {
    let mut room = SimRoom::connected(3, 3);
    room.clients[0].online = false;
    let dropped = room.run_until(Duration::from_secs(30), |r| {
        r.events.iter().any(|e| matches!(e, MediaEvent::Audio { participant, connected: false, .. } if participant.0 == 1))
    });
    assert!(dropped);
    // They come back with a new offer; signaling never re-sent their gate, and it holds.
    room.reconnect(0, 3);
    assert!(room.run_until(Duration::from_secs(5), |r| r.clients[0].rtc.is_connected()));
    speak_for(&mut room, 0, &opus_packets(5, 6.0), 0);
    assert_eq!(room.clients[1].received.len(), 5, "forwarded as before the drop");
}

/// A datagram is routine (the room's task then keeps the deadline it armed) only when the
/// fast path opened and forwarded it and nothing else happened; after a routine datagram
/// the forwarder's next deadline is never earlier than before it.
#[test]
fn only_fast_path_audio_that_changes_nothing_is_routine() {
    let mut room = SimRoom::connected(3, 2);
    let packets = opus_packets(30, 0.0);
    let list: Vec<(u64, &[u8])> =
        packets.iter().enumerate().map(|(k, p)| (k as u64 * 960, p.as_slice())).collect();
    let datagrams = room.encrypt_for_server(0, &list);
    let mut routine = Vec::new();
    for d in &datagrams {
        room.now += Duration::from_millis(20);
        let before = room.forwarder.poll_timeout();
        let r = room.forwarder.handle_datagram(&room.datagram_from(0, d.clone()));
        let after = room.forwarder.poll_timeout();
        if r {
            assert!(after >= before, "a routine datagram moved the deadline earlier");
        }
        room.forwarder.drain_transmits();
        while room.forwarder.poll_event().is_some() {}
        routine.push(r);
    }
    // The first packet goes through str0m (the fast path learns the stream from it); the
    // second starts speech (two loud packets). Neither is routine; the rest are.
    assert!(!routine[0], "{routine:?}");
    assert!(!routine[1], "speech starting is not routine: {routine:?}");
    assert!(routine[2..].iter().all(|r| *r), "{routine:?}");
    // Every packet, routine or not, reached both listeners.
    assert_eq!(room.forwarder.counters().packets_forwarded, 2 * datagrams.len() as u64);
    // A stale peer's datagram, a replay and STUN-looking garbage are not routine.
    let stale = Datagram {
        peer: room.clients[0].generation + 9,
        ..room.datagram_from(0, datagrams[5].clone())
    };
    assert!(!room.forwarder.handle_datagram(&stale));
    assert!(!room.forwarder.handle_datagram(&room.datagram_from(0, datagrams[5].clone())));
    assert!(!room.forwarder.handle_datagram(&room.datagram_from(0, vec![0, 1, 0, 0])));
}

/// A recorded microphone packet sent again is never forwarded, however old: the fast
/// path owns the stream, so a packet it refuses (a replay, or one that fails
/// authentication because its age made the rollover counter ambiguous) is dropped and
/// counted, not handed to str0m, whose replay state never saw the stream go on.
#[test]
fn a_replayed_microphone_packet_is_never_forwarded_at_any_distance() {
    let mut room = SimRoom::connected(2, 1);
    let payload = [0x55u8; 60];
    let mut ts = 0u64;
    let mut next = |room: &mut SimRoom| {
        ts += 960;
        room.encrypt_for_server(0, &[(ts, &payload[..])]).remove(0)
    };
    // A few packets through the whole room first: str0m sees the stream's first one, the
    // fast path learns it and opens the rest.
    let mut recorded = Vec::new();
    for _ in 0..20 {
        let d = next(&mut room);
        room.forwarder.handle_datagram(&room.datagram_from(0, d.clone()));
        recorded.push(d);
        room.step(Duration::from_millis(20));
    }
    assert!(room.forwarder.counters().packets_opened >= 18);
    // Replays at several distances behind the newest packet, the stream going on between
    // them: 1, 10, 100, 1 000, 32 000 and 40 000 packets.
    let mut sent = recorded.len();
    for distance in [1usize, 10, 100, 1_000, 32_000, 40_000] {
        while sent < distance + 5 {
            let d = next(&mut room);
            room.forwarder.handle_datagram(&room.datagram_from(0, d));
            room.forwarder.drain_transmits().for_each(drop);
            sent += 1;
        }
        let victim = sent - distance;
        let old = if victim < recorded.len() { recorded[victim].clone() } else { continue };
        let before = room.forwarder.counters();
        room.forwarder.handle_datagram(&room.datagram_from(0, old));
        let after = room.forwarder.counters();
        assert_eq!(after.packets_in, before.packets_in, "a replay {distance} back taken as audio");
        assert_eq!(after.packets_forwarded, before.packets_forwarded, "{distance} back");
        assert_eq!(after.packets_refused, before.packets_refused + 1, "{distance} back counted");
    }
}

/// A sender picks its own RTP timestamps: one that steps back past zero extends to just
/// under u64::MAX, and the slot's clock, continued across a change of speaker, wraps
/// with it as RTP time does instead of overflowing (a panic would stop the room's audio).
#[test]
fn a_timestamp_near_the_top_of_its_range_continues_across_a_speaker_change() {
    let mut room = SimRoom::connected(3, 1);
    let a = opus_packets(10, 0.0);
    // 0 and 960, then a step back to 10 000 ticks before zero: the fast path extends
    // that to u64::MAX - 9 999 and counts on from there, to within 3 300 of the top.
    for (k, p) in a.iter().enumerate() {
        let ts = if k < 2 { k as u32 * 960 } else { u32::MAX - 9_999 + (k as u32 - 2) * 960 };
        room.speak(0, u64::from(ts), 20, p);
        room.step(Duration::from_millis(20));
    }
    // Silence, then the other speaker takes the slot: its clock goes on 600 ms later.
    room.step(Duration::from_millis(600));
    let b = opus_packets(10, 50.0);
    speak_for(&mut room, 1, &b, 5_000);
    let got = &room.clients[2].received;
    assert_eq!(got.len(), a.len() + b.len(), "both speakers heard, the room's audio alive");
    let gap = got[10].rtp_time.wrapping_sub(got[9].rtp_time) as u32;
    assert!((28_000..40_000).contains(&gap), "the slot's clock goes on across the top: {gap}");
}
