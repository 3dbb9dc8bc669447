//! Reading sessions back: the list of a room's sessions, one session's report (built by
//! replaying its journal, see `talkstick_signaling::report`), deleting one, and
//! forgetting those older than the retention period.
//!
//! Why a connection per request: the writer thread owns the connection that writes
//! journals, and SQLite in WAL mode lets readers run beside it without blocking it. A
//! report is read rarely (a facilitator opening it), so opening a connection each time
//! costs nothing that matters and shares no state with the writer. Callers run these
//! on a blocking thread.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;
use talkstick_signaling::report::SessionReport;
use talkstick_signaling::{Entry, Origin, RoomId};

use super::{RunId, StoreError, unix_ms, unix_ns};

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

impl From<rusqlite::Error> for ReportError {
    fn from(e: rusqlite::Error) -> Self {
        ReportError::Store(e.into())
    }
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// A room's sessions, newest first.
pub fn list(path: &Path, room: &RoomId) -> Result<Vec<SessionSummary>, StoreError> {
    let conn = open(path)?;
    let mut q = conn.prepare(
        "SELECT r.run_id, r.started_ns, r.ended_ms,
                (SELECT COUNT(*) FROM journal j WHERE j.run_id = r.run_id)
         FROM room_runs r WHERE r.room = ?1 ORDER BY r.started_ns DESC LIMIT ?2",
    )?;
    let rows = q.query_map(params![room.as_str(), LIST_LIMIT as i64], |r| {
        Ok(SessionSummary {
            run: RunId(r.get(0)?),
            started_ms: r.get::<_, i64>(1)? / 1_000_000,
            ended_ms: r.get(2)?,
            changes: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The newest session of `room` (the one a learner leaving has just been in).
pub fn latest(path: &Path, room: &RoomId) -> Result<Option<RunId>, StoreError> {
    let conn = open(path)?;
    Ok(conn
        .query_row(
            "SELECT run_id FROM room_runs WHERE room = ?1 ORDER BY started_ns DESC LIMIT 1",
            params![room.as_str()],
            |r| r.get(0).map(RunId),
        )
        .optional()?)
}

/// One session's report: its journal replayed, up to its end (or now, while it runs).
pub fn report(path: &Path, run: RunId) -> Result<StoredReport, ReportError> {
    let conn = open(path)?;
    let row = conn
        .query_row(
            "SELECT room, started_ns, settings, audio_slots, capacity, ended_ms
             FROM room_runs WHERE run_id = ?1",
            params![run.0],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            },
        )
        .optional()?;
    let Some((room, started_ns, settings, slots, capacity, ended_ms)) = row else {
        return Err(ReportError::NotFound);
    };
    let room: RoomId = room.parse().map_err(|_| ReportError::NotFound)?;
    let mut q = conn.prepare("SELECT entry FROM journal WHERE run_id = ?1 ORDER BY idx")?;
    let mut entries = Vec::new();
    for text in q.query_map(params![run.0], |r| r.get::<_, String>(0))? {
        entries.push(serde_json::from_str::<Entry>(&text?).map_err(StoreError::from)?);
    }
    let origin = Origin {
        id: room.clone(),
        settings: serde_json::from_str(&settings).map_err(StoreError::from)?,
        epoch: Instant::now(),
        audio_slots: slots.clamp(1, 8) as u8,
        capacity: capacity.max(1) as usize,
    };
    let until_ns = match ended_ms {
        Some(end) => end.saturating_mul(1_000_000),
        None => unix_ns(),
    }
    .saturating_sub(started_ns)
    .max(0) as u64;
    let report = SessionReport::build(origin, entries, until_ns)?;
    Ok(StoredReport { run, room, started_ms: started_ns / 1_000_000, ended_ms, report })
}

/// The room a session belongs to, and whether it has ended.
pub fn room_of(path: &Path, run: RunId) -> Result<Option<(RoomId, bool)>, StoreError> {
    let conn = open(path)?;
    let row = conn
        .query_row("SELECT room, ended_ms FROM room_runs WHERE run_id = ?1", params![run.0], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
        })
        .optional()?;
    Ok(row.and_then(|(room, ended)| room.parse().ok().map(|r| (r, ended.is_some()))))
}

/// Deletes an ended session and its journal.
pub fn delete(path: &Path, run: RunId) -> Result<(), ReportError> {
    let conn = open(path)?;
    let ended: Option<Option<i64>> = conn
        .query_row("SELECT ended_ms FROM room_runs WHERE run_id = ?1", params![run.0], |r| r.get(0))
        .optional()?;
    match ended {
        None => Err(ReportError::NotFound),
        Some(None) => Err(ReportError::Running),
        Some(Some(_)) => {
            conn.execute("DELETE FROM journal WHERE run_id = ?1", params![run.0])?;
            conn.execute("DELETE FROM room_runs WHERE run_id = ?1", params![run.0])?;
            Ok(())
        }
    }
}

/// Deletes sessions that ended more than `days` ago; returns how many.
pub fn forget_older_than(path: &Path, days: u32) -> Result<usize, StoreError> {
    let conn = open(path)?;
    let before = unix_ms() - i64::from(days) * 86_400_000;
    conn.execute(
        "DELETE FROM journal WHERE run_id IN
           (SELECT run_id FROM room_runs WHERE ended_ms IS NOT NULL AND ended_ms < ?1)",
        params![before],
    )?;
    let n = conn.execute(
        "DELETE FROM room_runs WHERE ended_ms IS NOT NULL AND ended_ms < ?1",
        params![before],
    )?;
    Ok(n)
}
