//! Messages that wait for their change to be committed to the session store.
//!
//! A room's outputs leave in order. With a store, each one waits until the journal
//! entries of the changes before it are committed ([`crate::store::DurableMark`]), so a
//! client never sees a sequence number that a crash could take back. The recipients are
//! fixed when the message is queued (as they would have been had it left at once): a
//! member removed meanwhile still gets the goodbye that was meant for them, and nobody
//! who joins later gets an older event. A join's reply (which carries the welcome and
//! the resume token) waits the same way: a token a client holds is always one a restart
//! knows.

use std::collections::VecDeque;

use talkstick_signaling::{Joined, ParticipantId, RoomError};
use tokio::sync::{mpsc, oneshot};

use super::inbox::{ConnId, Outbound};

/// One message on its way out.
#[derive(Debug)]
pub(super) struct Held {
    /// Journal entries that must be committed first.
    pub(super) upto: u64,
    /// What leaves then.
    pub(super) what: Release,
}

/// What a held message is.
#[derive(Debug)]
pub(super) enum Release {
    /// A message to members.
    Send {
        /// The room sequence number it carries (0 for a close).
        seq: u64,
        /// What to send.
        out: Outbound,
        /// To whom.
        to: Vec<(ParticipantId, ConnId, mpsc::Sender<Outbound>)>,
    },
    /// The outcome of a join, for the connection that asked.
    Join {
        /// Where the outcome goes.
        reply: oneshot::Sender<Result<Joined, RoomError>>,
        /// The outcome.
        result: Result<Joined, RoomError>,
    },
}

/// The queue of held messages, oldest first.
#[derive(Debug, Default)]
pub(super) struct HeldQueue {
    queue: VecDeque<Held>,
}

impl HeldQueue {
    /// Whether anything waits.
    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues a message behind the others.
    pub(super) fn push(&mut self, held: Held) {
        self.queue.push_back(held);
    }

    /// Takes the messages whose entries are committed (`durable` of them), in order.
    pub(super) fn ready(&mut self, durable: u64) -> impl Iterator<Item = Held> + '_ {
        std::iter::from_fn(move || {
            if self.queue.front().is_some_and(|h| h.upto <= durable) {
                self.queue.pop_front()
            } else {
                None
            }
        })
    }
}
