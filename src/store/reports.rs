//! Sessions read back as reports: a session's journal (from any backend's
//! [`Records`]) replayed into its report (`talkstick_signaling::report`), and deletion
//! with its rules. No SQL here: what is stored and how is the backend's business.
//! Callers run these on a blocking thread.

use std::time::Instant;

use serde::Serialize;
use talkstick_signaling::report::SessionReport;
use talkstick_signaling::{Origin, RoomId};

use super::{Records, RunId, StoreError, unix_ns};

/// Most sessions listed for a room.
pub const LIST_LIMIT: usize = 100;

/// A session in a room's list.
#[derive(Debug, Clone, Serialize)]
pub struct SessionSummary {
    /// Its id.
    pub run: RunId,
    /// Unix ms it started.
    pub started_ms: i64,
    /// Unix ms it ended; `None` while it runs (or if the server stopped during it).
    pub ended_ms: Option<i64>,
    /// Journal entries (a rough measure of how much happened).
    pub changes: i64,
}

/// A session's report with when it was.
#[derive(Debug, Clone, Serialize)]
pub struct StoredReport {
    /// Its id.
    pub run: RunId,
    /// The room.
    pub room: RoomId,
    /// Unix ms it started.
    pub started_ms: i64,
    /// Unix ms it ended; `None` while it runs.
    pub ended_ms: Option<i64>,
    /// What happened.
    #[serde(flatten)]
    pub report: SessionReport,
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// No such session.
    #[error("no such session")]
    NotFound,
    /// The session is still running (it cannot be deleted).
    #[error("the session is still running")]
    Running,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The journal did not replay.
    #[error("the session's record could not be read: {0}")]
    Replay(#[from] talkstick_signaling::ReplayError),
}

/// One session's report: its journal replayed, up to its end (or now, while it runs).
pub fn report(records: &dyn Records, run: RunId) -> Result<StoredReport, ReportError> {
    let stored = records.load(run)?.ok_or(ReportError::NotFound)?;
    let r = stored.run;
    let origin = Origin {
        id: r.room.clone(),
        settings: r.settings,
        epoch: Instant::now(),
        audio_slots: r.audio_slots,
        capacity: r.capacity,
    };
    let until_ns = match stored.ended_ms {
        Some(end) => end.saturating_mul(1_000_000),
        None => unix_ns(),
    }
    .saturating_sub(r.started_ns)
    .max(0) as u64;
    let report = SessionReport::build(origin, stored.entries, until_ns)?;
    Ok(StoredReport {
        run,
        room: r.room,
        started_ms: r.started_ns / 1_000_000,
        ended_ms: stored.ended_ms,
        report,
    })
}

/// Deletes an ended session and its journal; a running one is refused.
pub fn delete(records: &dyn Records, run: RunId) -> Result<(), ReportError> {
    match records.room_of(run)? {
        None => Err(ReportError::NotFound),
        Some((_, false)) => Err(ReportError::Running),
        Some((_, true)) => {
            records.delete(run)?;
            Ok(())
        }
    }
}
