//! The writer thread: group commit; and beside it the syncing thread: one sync per
//! [`SYNC_INTERVAL`] at most.
//!
//! The writer blocks on its queue for the first write, takes whatever else has queued up
//! since, commits all of it in one transaction, and then advances each room's mark (its
//! messages may leave). A commit in WAL mode with `synchronous=NORMAL` reaches the
//! operating system (it survives the process being killed); the sync to disk (which
//! survives a power cut) follows within the interval, as one checkpoint for everything
//! committed since the last.
//!
//! Why the sync has a thread (and a connection) of its own: a checkpoint waits for the
//! disk, which on a busy machine takes hundreds of milliseconds, and every room's
//! messages wait for the next commit. In WAL mode a passive checkpoint and a commit run
//! side by side, so commits (and messages) no longer queue behind the disk.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, atomic::Ordering};
use std::time::Instant;

use super::{DurableMark, Health, Journal, RunId, SYNC_INTERVAL, Write};

/// Writes taken into one transaction at most.
const BATCH: usize = 4_096;

/// What the writer tells the syncing thread.
#[derive(Debug, Default)]
pub(super) struct Commits {
    /// Transactions committed so far.
    count: AtomicU64,
    /// The writer has stopped: one last sync, then the syncing thread stops too.
    done: AtomicBool,
}

pub(super) fn run(mut db: impl Journal, rx: Receiver<Write>, health: &Health, commits: &Commits) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        commit(&mut db, batch, health);
        commits.count.fetch_add(1, Ordering::Release);
    }
    commits.done.store(true, Ordering::Release);
    tracing::debug!("the store's writer stopped");
}

/// Syncs what was committed, at most once per [`SYNC_INTERVAL`], on its own connection.
pub(super) fn sync(mut db: impl Journal, health: &Health, commits: &Commits) {
    let mut synced = 0;
    loop {
        std::thread::sleep(SYNC_INTERVAL);
        let done = commits.done.load(Ordering::Acquire);
        let now = commits.count.load(Ordering::Acquire);
        if now != synced {
            if let Err(e) = db.sync() {
                // What was committed stays in the write-ahead log (it survives a crash);
                // commits fail, and the rooms hear of it, once that log cannot grow.
                health.sync_fault(&e.to_string());
            }
            health.syncs.fetch_add(1, Ordering::Relaxed);
            synced = now;
        }
        if done {
            break;
        }
    }
}

/// Commits one batch; then lets every room it touched send what waited on it (also
/// when the write failed: the rooms go on in memory, and the fault is counted).
fn commit(db: &mut impl Journal, batch: Vec<Write>, health: &Health) {
    let mut marks: HashMap<RunId, (Arc<DurableMark>, u64)> = HashMap::new();
    let mut entries = 0u64;
    let mut oldest: Option<Instant> = None;
    for w in &batch {
        if let Write::Entries { run, first, entries: e, mark, queued } = w {
            oldest = Some(oldest.map_or(*queued, |o| o.min(*queued)));
            entries += e.len() as u64;
            let upto = first + e.len() as u64;
            let slot = marks.entry(*run).or_insert_with(|| (Arc::clone(mark), upto));
            slot.1 = slot.1.max(upto);
        }
    }
    let started = Instant::now();
    match db.write(&batch) {
        Ok(()) => {
            health.commits.fetch_add(1, Ordering::Relaxed);
            health.entries.fetch_add(entries, Ordering::Relaxed);
            health.ok();
        }
        Err(e) => health.fault(&e.to_string()),
    }
    // What an operator watches: how long a commit takes, and how long the oldest change
    // in it waited from its room to the disk (its messages waited as long).
    metrics::histogram!("talkstick_store_commit_seconds").record(started.elapsed().as_secs_f64());
    if let Some(oldest) = oldest {
        metrics::histogram!("talkstick_store_lag_seconds").record(oldest.elapsed().as_secs_f64());
    }
    for (mark, upto) in marks.into_values() {
        mark.advance(upto);
    }
}
