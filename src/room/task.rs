//! The task that owns one room: a thin async driver around [`RoomCore`]. Inputs arrive on
//! one channel; the core decides and delivers; the task sleeps until the next deadline.
//! No locks.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::core::RoomCore;
use super::inbox::RoomCmd;
use crate::media::Datagram;

/// How long an empty room lingers before its task ends.
pub const EMPTY_ROOM_LINGER: Duration = Duration::from_secs(60);

/// Commands, or datagrams, handled in one wake-up before deadlines are looked at again.
const BATCH: usize = 64;

/// Runs one room until it has been empty for [`EMPTY_ROOM_LINGER`] (with a session store:
/// until its last person has gone) or the server stops; then calls `on_end` (the
/// registry forgets the room).
///
/// Commands (joins, members' messages) and datagrams come on inboxes of their own, so a
/// flood of one cannot fill the other's: whatever a member sends, the room's audio keeps
/// its queue. Each wake-up takes a batch from one of them (`select!` picks at random
/// among those ready, so neither starves the other).
///
/// One timer is kept and only moved when the next deadline changes, and the inboxes are
/// drained in batches: a room forwarding audio wakes for every datagram, so the loop
/// itself must cost next to nothing.
pub async fn run(
    mut core: RoomCore,
    mut rx: mpsc::Receiver<RoomCmd>,
    mut datagrams: mpsc::Receiver<Datagram>,
    people: Arc<AtomicUsize>,
    on_end: impl FnOnce() + Send,
) {
    let mut empty_since: Option<Instant> = Some(Instant::now());
    let sleep = tokio::time::sleep_until(Instant::now());
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    // The last wake-up handled only routine datagrams: the deadline armed can only be
    // earlier than the true one, so it stays (at worst the timer fires early and the
    // deadline is asked for then). Asking after every packet cost a look at every peer
    // and participant, and re-arming the timer for each packet of a speaker.
    let mut routine = false;
    // A room without audio drops its datagram sender at once.
    let mut media = true;
    // With a session store: woken when the writer has committed what messages wait for.
    let durable = core.durable_mark();
    // Whether anyone has been in the room (a restored room has its people in grace).
    let mut had_people = !core.is_empty();
    'run: loop {
        let linger = empty_since.map(|t| t + EMPTY_ROOM_LINGER);
        if !(routine && armed.is_some()) {
            let wake =
                [core.poll_timeout().map(Instant::from_std), linger].into_iter().flatten().min();
            if wake != armed {
                if let Some(at) = wake {
                    sleep.as_mut().reset(at);
                }
                armed = wake;
            }
        }
        routine = true;
        tokio::select! {
            cmd = rx.recv() => {
                routine = false;
                // This command, then up to BATCH - 1 more that are already queued; never
                // take one off the queue that this wake-up will not handle.
                let mut next = cmd;
                for handled in 1.. {
                    match next {
                        None => break 'run,
                        Some(RoomCmd::Shutdown) => {
                            core.goodbye_all("the server is shutting down");
                            break 'run;
                        }
                        Some(cmd) => {
                            if !contained(&mut core, |core| core.apply(cmd)) {
                                break 'run;
                            }
                        }
                    }
                    if handled == BATCH {
                        break;
                    }
                    match rx.try_recv() {
                        Ok(cmd) => next = Some(cmd),
                        Err(_) => break,
                    }
                }
            },
            d = datagrams.recv(), if media => {
                let Some(first) = d else {
                    media = false;
                    continue;
                };
                let mut next = Some(first);
                for handled in 1.. {
                    let Some(d) = next.take() else { break };
                    if !contained(&mut core, |core| routine &= core.datagram(&d)) {
                        break 'run;
                    }
                    if handled < BATCH {
                        next = datagrams.try_recv().ok();
                    }
                }
            },
            () = wait_durable(durable.as_deref()), if core.holding() => {
                routine = false;
                if !contained(&mut core, RoomCore::release) {
                    break 'run;
                }
            },
            () = &mut sleep, if armed.is_some() => {
                armed = None;
                routine = false;
                if linger.is_some_and(|t| t <= Instant::now()) && core.is_empty() {
                    break;
                }
                if !contained(&mut core, |core| core.handle_timeout(Instant::now().into_std())) {
                    break;
                }
            }
        }
        empty_since = if core.is_empty() { empty_since.or(Some(Instant::now())) } else { None };
        had_people |= !core.is_empty();
        people.store(core.len(), Ordering::Relaxed);
        // With a session store the session ends when its last person has gone (its
        // record is kept); a later join starts a new one. Not before everything held
        // for the store has left, the last goodbye included.
        if durable.is_some() && had_people && core.is_empty() && !core.holding() {
            break 'run;
        }
    }
    core.release_media();
    core.ended();
    if core.is_empty() {
        core.end_run();
    }
    on_end();
    tracing::debug!(room = %core.id(), "room task ended");
}

/// Resolves when the store's writer has moved the room's mark.
async fn wait_durable(mark: Option<&crate::store::DurableMark>) {
    match mark {
        Some(m) => m.notify.notified().await,
        None => std::future::pending().await,
    }
}

/// Runs `f` on the core; when it panics (a bug), tells the members the room failed and
/// says to stop: the task ends, its routes are released and the registry forgets it, so
/// the next join starts a new room. Other rooms never notice.
fn contained(core: &mut RoomCore, f: impl FnOnce(&mut RoomCore)) -> bool {
    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(core)));
    if done.is_err() {
        tracing::error!(room = %core.id(), "the room's code panicked; the room ends");
        core.fail_all();
    }
    done.is_ok()
}

#[cfg(test)]
mod tests {
    use talkstick_signaling::protocol::{Role, Settings};
    use talkstick_signaling::{JoinRequest, ResumeToken, Room};
    use tokio::sync::oneshot;

    use super::*;
    use crate::room::inbox::{CONN_BUFFER, Conn, ConnId, MEDIA_BUFFER, ROOM_BUFFER};

    /// More commands queued than one batch holds: every one is handled (each join is
    /// answered, admitted or refused), none is taken off the queue and dropped.
    #[tokio::test]
    async fn a_full_inbox_is_handled_to_the_last_command() {
        let id: talkstick_signaling::RoomId = "batch-test".parse().unwrap();
        let (tx, rx) = mpsc::channel(ROOM_BUFFER);
        let (media_tx, media_rx) = mpsc::channel(MEDIA_BUFFER);
        let room = Room::new(id, Settings::default(), std::time::Instant::now());
        let core = RoomCore::new(room, None, media_tx);
        let mut replies = Vec::new();
        for i in 0..(3 * BATCH + 5) {
            let (reply, answer) = oneshot::channel();
            let (conn_tx, _conn_rx) = mpsc::channel(CONN_BUFFER);
            let req = JoinRequest {
                name: format!("Learner {i}"),
                role: Role::Learner,
                resume: None,
                new_resume: ResumeToken(format!("resume-{i}")),
                link: None,
                listen: false,
                colour: None,
            };
            let conn = Conn { id: ConnId(i as u64), tx: conn_tx };
            tx.try_send(RoomCmd::Join { req, conn, reply }).unwrap();
            replies.push(answer);
        }
        let task = tokio::spawn(run(core, rx, media_rx, Arc::default(), || {}));
        for (i, answer) in replies.into_iter().enumerate() {
            assert!(answer.await.is_ok(), "join {i} was dropped unanswered");
        }
        tx.send(RoomCmd::Shutdown).await.unwrap();
        task.await.unwrap();
    }
}
