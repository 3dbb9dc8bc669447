//! The hand queue: one ordered list the server owns; every client sees the same
//! positions 1..n.
//!
//! The order policy sorts the queue whenever a hand is raised (talk times change while
//! people wait, so `balanced` re-sorts everyone) and whenever a turn starts; a
//! facilitator's move pins a hand to its place, and the others sort around it, until the
//! next policy switch clears the pins.
//!
//! Under `fifo`, a reply goes ahead of new points only while it answers the latest turn
//! (the one being held, or the one that just ended), and only while fewer than
//! `max_replies` turns in a row were replies: a back-and-forth between two people cannot
//! keep a new point waiting. A reply whose turn is over stays in the queue, in the order
//! of raising among the new points.

use std::time::{Duration, Instant};

use crate::ids::{ParticipantId, TurnId};
use crate::protocol::{HandKind, HandView, QueuePolicy};

/// One raised hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hand {
    /// Whose hand.
    pub participant: ParticipantId,
    /// Reply or new point.
    pub kind: HandKind,
    /// Private note.
    pub note: Option<String>,
    /// When it was raised.
    pub raised_at: Instant,
    /// The latest turn when it was raised (`None` before the first): what a reply
    /// answers.
    pub answers: Option<TurnId>,
}

/// What decides the order of the hands a facilitator has not placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    /// The room's policy.
    pub policy: QueuePolicy,
    /// The latest turn: held now, or the one that just ended.
    pub latest_turn: Option<TurnId>,
    /// Replies to the latest turn may go first (fewer than `max_replies` turns in a row
    /// were replies).
    pub replies_first: bool,
}

impl Order {
    /// Plain `policy`, before any turn.
    pub fn plain(policy: QueuePolicy) -> Order {
        Order { policy, latest_turn: None, replies_first: true }
    }
}

/// The ordered queue of raised hands.
#[derive(Debug, Clone, Default)]
pub struct Queue {
    hands: Vec<Hand>,
    /// Hands a facilitator placed; sorting leaves them where they are.
    pinned: Vec<ParticipantId>,
}

impl Queue {
    /// Number of hands.
    pub fn len(&self) -> usize {
        self.hands.len()
    }

    /// True when nobody has a hand up.
    pub fn is_empty(&self) -> bool {
        self.hands.is_empty()
    }

    /// The hand at position 1.
    pub fn head(&self) -> Option<&Hand> {
        self.hands.first()
    }

    /// 1-based position of a participant's hand.
    pub fn position(&self, who: ParticipantId) -> Option<usize> {
        self.hands.iter().position(|h| h.participant == who).map(|i| i + 1)
    }

    /// The hand of a participant.
    pub fn get(&self, who: ParticipantId) -> Option<&Hand> {
        self.hands.iter().find(|h| h.participant == who)
    }

    /// Hands in order.
    pub fn iter(&self) -> impl Iterator<Item = &Hand> {
        self.hands.iter()
    }

    /// Adds a hand and sorts the unpinned hands by `order`. `talk` gives a participant's
    /// talk time so far (used by `balanced`). The caller has checked the participant has
    /// no hand.
    pub fn insert(&mut self, hand: Hand, order: Order, talk: impl Fn(ParticipantId) -> Duration) {
        debug_assert!(self.position(hand.participant).is_none());
        self.hands.push(hand);
        self.sort_unpinned(order, &talk);
    }

    /// Sorts the unpinned hands again (a turn started: replies to the turn before lose
    /// their precedence). Returns true when the order changed.
    pub fn reorder(&mut self, order: Order, talk: impl Fn(ParticipantId) -> Duration) -> bool {
        let before: Vec<ParticipantId> = self.hands.iter().map(|h| h.participant).collect();
        self.sort_unpinned(order, &talk);
        !self.hands.iter().map(|h| h.participant).eq(before)
    }

    /// Stable-sorts the unpinned hands into the places pinned hands leave free.
    fn sort_unpinned(&mut self, order: Order, talk: &impl Fn(ParticipantId) -> Duration) {
        let pinned = &self.pinned;
        type Placed = Vec<(usize, Hand)>;
        let (mut free, fixed): (Placed, Placed) = std::mem::take(&mut self.hands)
            .into_iter()
            .enumerate()
            .partition(|(_, h)| !pinned.contains(&h.participant));
        free.sort_by_key(|(_, h)| sort_key(h, order, talk));
        let n = free.len() + fixed.len();
        let mut fixed = fixed.into_iter().peekable();
        let mut free = free.into_iter();
        for i in 0..n {
            let next = match fixed.peek() {
                Some((at, _)) if *at == i => fixed.next(),
                _ => free.next().or_else(|| fixed.next()),
            };
            if let Some((_, h)) = next {
                self.hands.push(h);
            }
        }
    }

    /// Removes and returns a participant's hand.
    pub fn remove(&mut self, who: ParticipantId) -> Option<Hand> {
        let i = self.hands.iter().position(|h| h.participant == who)?;
        self.pinned.retain(|p| *p != who);
        Some(self.hands.remove(i))
    }

    /// Removes every hand.
    pub fn clear(&mut self) -> Vec<Hand> {
        self.pinned.clear();
        std::mem::take(&mut self.hands)
    }

    /// Moves a hand to a 1-based position and pins it there. The caller has validated
    /// both.
    pub fn move_to(&mut self, who: ParticipantId, position: usize) {
        if let Some(hand) = self.remove(who) {
            let at = (position - 1).min(self.hands.len());
            self.hands.insert(at, hand);
            self.pinned.push(who);
        }
    }

    /// Re-sorts the whole queue by `policy` (stable: equal keys keep their order) and
    /// clears every pin.
    pub fn resort(&mut self, order: Order, talk: impl Fn(ParticipantId) -> Duration) {
        self.pinned.clear();
        self.hands.sort_by_key(|h| sort_key(h, order, &talk));
    }

    /// The queue as one recipient sees it: notes only for `reveal_all` or their owner.
    pub fn views(
        &self,
        ms: impl Fn(Instant) -> u64,
        reveal_all: bool,
        viewer: Option<ParticipantId>,
    ) -> Vec<HandView> {
        self.hands
            .iter()
            .enumerate()
            .map(|(i, h)| HandView {
                participant: h.participant,
                position: i as u32 + 1,
                kind: h.kind,
                raised_ms: ms(h.raised_at),
                note: if reveal_all || viewer == Some(h.participant) {
                    h.note.clone()
                } else {
                    None
                },
            })
            .collect()
    }
}

/// Sort key: smaller goes first.
fn sort_key(
    h: &Hand,
    order: Order,
    talk: &impl Fn(ParticipantId) -> Duration,
) -> (u8, Duration, Instant) {
    match order.policy {
        QueuePolicy::Fifo => {
            let ahead =
                h.kind == HandKind::Reply && order.replies_first && h.answers == order.latest_turn;
            (u8::from(!ahead), Duration::ZERO, h.raised_at)
        }
        QueuePolicy::Balanced => (0, talk(h.participant), h.raised_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hand(p: u32, kind: HandKind, at: Instant) -> Hand {
        Hand { participant: ParticipantId(p), kind, note: None, raised_at: at, answers: None }
    }

    const FIFO: Order = Order { policy: QueuePolicy::Fifo, latest_turn: None, replies_first: true };
    const BALANCED: Order =
        Order { policy: QueuePolicy::Balanced, latest_turn: None, replies_first: true };

    fn order(q: &Queue) -> Vec<u32> {
        q.iter().map(|h| h.participant.0).collect()
    }

    #[test]
    fn fifo_puts_replies_before_new_points() {
        let t = Instant::now();
        let s = Duration::from_secs;
        let mut q = Queue::default();
        let none = |_| Duration::ZERO;
        q.insert(hand(1, HandKind::NewPoint, t), FIFO, none);
        q.insert(hand(2, HandKind::NewPoint, t + s(1)), FIFO, none);
        q.insert(hand(3, HandKind::Reply, t + s(2)), FIFO, none);
        q.insert(hand(4, HandKind::Reply, t + s(3)), FIFO, none);
        assert_eq!(order(&q), [3, 4, 1, 2]);
        assert_eq!(q.position(ParticipantId(1)), Some(3));
    }

    #[test]
    fn balanced_puts_least_talk_first_and_ties_by_time() {
        let t = Instant::now();
        let talk = |p: ParticipantId| {
            Duration::from_secs(match p.0 {
                1 => 60,
                2 => 5,
                _ => 5,
            })
        };
        let mut q = Queue::default();
        q.insert(hand(1, HandKind::Reply, t), BALANCED, talk);
        q.insert(hand(2, HandKind::NewPoint, t), BALANCED, talk);
        q.insert(hand(3, HandKind::NewPoint, t + Duration::from_secs(1)), BALANCED, talk);
        assert_eq!(order(&q), [2, 3, 1]);
        q.resort(FIFO, talk);
        assert_eq!(order(&q), [1, 2, 3]);
    }

    #[test]
    fn balanced_re_sorts_waiting_hands_but_keeps_pinned_ones() {
        let t = Instant::now();
        let talk = std::cell::Cell::new([0u64, 10, 50, 20, 5]);
        let by = |p: ParticipantId| Duration::from_secs(talk.get()[p.0 as usize]);
        let mut q = Queue::default();
        q.insert(hand(1, HandKind::NewPoint, t), BALANCED, by);
        q.insert(hand(2, HandKind::NewPoint, t), BALANCED, by);
        assert_eq!(order(&q), [1, 2]);
        // Participant 1 talked while waiting (open mode).
        talk.set([0, 60, 50, 20, 5]);
        q.insert(hand(3, HandKind::NewPoint, t), BALANCED, by);
        assert_eq!(order(&q), [3, 2, 1], "least talk first, everyone re-sorted");
        q.move_to(ParticipantId(1), 1);
        q.insert(hand(4, HandKind::NewPoint, t), BALANCED, by);
        assert_eq!(order(&q), [1, 4, 3, 2], "the pinned hand stays first");
        q.resort(BALANCED, by);
        assert_eq!(order(&q), [4, 3, 2, 1], "a policy switch clears pins");
    }

    #[test]
    fn a_reply_goes_first_only_while_it_answers_the_latest_turn_and_replies_are_allowed() {
        let t = Instant::now();
        let s = Duration::from_secs;
        let none = |_| Duration::ZERO;
        let turn = |n| Order { latest_turn: Some(TurnId(n)), ..FIFO };
        let mut q = Queue::default();
        q.insert(hand(1, HandKind::NewPoint, t), turn(1), none);
        let mut reply = hand(2, HandKind::Reply, t + s(1));
        reply.answers = Some(TurnId(1));
        q.insert(reply, turn(1), none);
        assert_eq!(order(&q), [2, 1], "a reply to the turn in progress goes first");
        assert!(!q.reorder(turn(1), none));
        assert!(q.reorder(Order { replies_first: false, ..turn(1) }, none));
        assert_eq!(order(&q), [1, 2], "not after max_replies replies in a row");
        assert!(q.reorder(turn(1), none));
        assert!(q.reorder(turn(2), none));
        assert_eq!(order(&q), [1, 2], "a reply to an ended turn waits its turn");
    }

    #[test]
    fn moves_and_notes() {
        let t = Instant::now();
        let mut q = Queue::default();
        for p in 1..=4 {
            let mut h = hand(p, HandKind::NewPoint, t + Duration::from_secs(p.into()));
            h.note = Some(format!("note {p}"));
            q.insert(h, FIFO, |_| Duration::ZERO);
        }
        q.move_to(ParticipantId(4), 1);
        q.move_to(ParticipantId(1), 4);
        assert_eq!(order(&q), [4, 2, 3, 1]);
        let views = q.views(|_| 0, false, Some(ParticipantId(2)));
        assert_eq!(views.iter().map(|v| v.position).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(views[1].note.as_deref(), Some("note 2"));
        assert!(views.iter().filter(|v| v.participant.0 != 2).all(|v| v.note.is_none()));
        assert!(q.views(|_| 0, true, None).iter().all(|v| v.note.is_some()));
    }
}
