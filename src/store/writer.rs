//! The writer thread: group commit, one sync per [`SYNC_INTERVAL`] at most.
//!
//! It blocks on its queue for the first write, takes whatever else has queued up since,
//! commits all of it in one transaction, and then advances each room's mark (its
//! messages may leave). A commit in WAL mode with `synchronous=NORMAL` reaches the
//! operating system (it survives the process being killed); the sync to disk (which
//! survives a power cut) follows within the interval, as one checkpoint for everything
//! committed since the last.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, atomic::Ordering};
use std::time::Instant;

use super::{DurableMark, Health, Journal, RunId, SYNC_INTERVAL, Write};

/// Writes taken into one transaction at most.
const BATCH: usize = 4_096;

pub(super) fn run(mut db: impl Journal, rx: Receiver<Write>, health: &Health) {
    let mut last_sync = Instant::now();
    let mut unsynced = false;
    loop {
        let first = if unsynced {
            let left = SYNC_INTERVAL.saturating_sub(last_sync.elapsed());
            match rx.recv_timeout(left) {
                Ok(w) => Some(w),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(w) => Some(w),
                Err(_) => break,
            }
        };
        if let Some(first) = first {
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(w) => batch.push(w),
                    Err(_) => break,
                }
            }
            commit(&mut db, batch, health);
            unsynced = true;
        }
        if unsynced && last_sync.elapsed() >= SYNC_INTERVAL {
            if let Err(e) = db.sync() {
                // What was committed stays in the write-ahead log (it survives a crash);
                // commits fail, and the rooms hear of it, once that log cannot grow.
                health.sync_fault(&e.to_string());
            }
            health.syncs.fetch_add(1, Ordering::Relaxed);
            last_sync = Instant::now();
            unsynced = false;
        }
    }
    let _ = db.sync();
    tracing::debug!("the store's writer stopped");
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
